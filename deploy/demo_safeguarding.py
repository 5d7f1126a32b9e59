"""Demo safeguarding concerns for a local alliance, made through the HTTP API as workers and
leads would: one at every step of the lifecycle, one about someone not yet known, and one with
a person at immediate risk (its e-mail lands in the stack's SMTP sink, run/<stack>/mail/)."""

from __future__ import annotations

from datetime import date, timedelta

from deploy.demo import Client
from deploy.signin import Tokens
from shared.config import PARTNERS

WORKERS = ["sam", "priya", "jo", "kwame"]


# (what the worker records, how far the lead takes it)
CONCERNS = [
    (
        {
            "categories": ["financial_material"],
            "severity": "standard",
            "what_happened": "Says her nephew has been taking her pension card each week.",
            "actions_taken": ["none"],
            "views": "Wants it to stop but does not want her nephew in trouble.",
        },
        "raised",
    ),
    (
        {
            "categories": ["self_neglect"],
            "severity": "high",
            "what_happened": "Flat very cold, little food, has stopped opening post.",
            "actions_taken": ["gp_informed"],
            "informed": ["gp"],
        },
        "acknowledged",
    ),
    (
        {
            "categories": ["domestic", "psychological_emotional"],
            "severity": "high",
            "what_happened": "Disclosed that her partner checks her phone and stops her going out.",
            "actions_taken": ["safety_plan_used"],
            "consent_given": False,
            "without_consent_reason": "coercion_or_control",
            "alleged_relationship": "partner_or_former_partner",
        },
        "decided",
    ),
    (
        {
            "categories": ["neglect_acts_of_omission"],
            "severity": "standard",
            "what_happened": "Care worker visits missed three times this month.",
            "actions_taken": ["none"],
            "informed": ["adult_social_care"],
        },
        "closed",
    ),
]


def _form(over: dict) -> dict:
    return {
        "age_group": "adult",
        "immediate_risk": False,
        "consent_given": True,
        "informed": [],
        **over,
    }


def load_safeguarding_demo(state: dict, tokens: Tokens) -> None:
    for partner in PARTNERS:
        _load_partner(state, tokens, partner)


def _load_partner(state: dict, tokens: Tokens, partner: str) -> None:
    node = state["endpoints"]["partners"][partner]
    service = Client(node["safeguarding"], tokens.token("service", partner, "demo"))
    if service.get("/events", limit=1)["events"]:
        print(f"[peerlink] demo safeguarding for {partner} already loaded")
        return
    people_api = Client(node["referrals"], tokens.token("team_lead", partner, "alex"))
    lead = Client(
        node["safeguarding"],
        tokens.token("safeguarding_lead", partner, "chris"),
    )
    raised = 0
    for index, (details, journey) in enumerate(CONCERNS):
        person = people_api.post(
            "/people",
            {
                "full_name": f"Demo Concern {partner} {index + 1}",
                "date_of_birth": f"1948-06-{index + 1:02d}",
            },
        )["person_id"]
        worker = Client(
            node["safeguarding"],
            tokens.token("peer_worker", partner, WORKERS[index % len(WORKERS)]),
        )
        concern = worker.post("/concerns", _form({"person_id": person, **details}))
        _walk(lead, worker, concern["concern_id"], journey, WORKERS[index % len(WORKERS)])
        raised += 1
    worker = Client(node["safeguarding"], tokens.token("peer_worker", partner, "sam"))
    worker.post(
        "/concerns",
        _form(
            {
                "person_description": "A man sleeping in the doorway beside the drop-in",
                "categories": ["self_neglect"],
                "severity": "immediate",
                "immediate_risk": True,
                "what_happened": "Very unwell and confused in the cold; would not come inside.",
                "actions_taken": ["emergency_services_called"],
                "informed": ["ambulance_service"],
                "consent_given": False,
                "without_consent_reason": "vital_interests",
            }
        ),
    )
    print(f"[peerlink] demo safeguarding for {partner}: {raised + 1} concerns")


def _walk(lead: Client, worker: Client, concern_id: str, journey: str, owner: str) -> None:
    if journey == "raised":
        return
    lead.post(f"/concerns/{concern_id}/acknowledge", {})
    if journey == "acknowledged":
        return
    worker.post(
        f"/concerns/{concern_id}/notes", {"text": "Spoke again; she is staying with a friend."}
    )
    if journey == "closed":
        lead.post(
            f"/concerns/{concern_id}/decide",
            {"decision": "section_42_referral", "agency_reference": "ASC-DEMO-0042"},
        )
    else:
        lead.post(
            f"/concerns/{concern_id}/decide",
            {"decision": "internal_action_plan", "rationale": "Support her to make a safety plan."},
        )
    due = (date.today() + timedelta(days=7)).isoformat()
    added = lead.post(
        f"/concerns/{concern_id}/actions",
        {"kind": "follow_up_contact", "owner_id": owner, "due_on": due},
    )
    if journey == "closed":
        action_id = added["actions"][0]["action_id"]
        lead.post(f"/concerns/{concern_id}/actions/{action_id}/complete", {"notes": "Done."})
        lead.post(
            f"/concerns/{concern_id}/close",
            {"outcome": "passed_to_other_agency", "desired_outcomes_met": "partially"},
        )
