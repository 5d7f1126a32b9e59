"""Every field the sessions and safeguarding services accept is kept (in an event, or sealed in
the vault) or is a control (a version to check): none is accepted and thrown away. A field no
route keeps is taken off its schema, which then refuses it (422, unknown field)."""

from __future__ import annotations

import pytest
from marshmallow import RAISE, ValidationError

from contracts.safeguarding.events import registry as safeguarding_events
from contracts.sessions.events import registry as sessions_events
from services.safeguarding.api import RaiseConcernBody, SuggestConcernBody
from services.safeguarding.service import SafeguardingService
from services.sessions.api import SessionNotesBody
from services.sessions.service import SessionsService
from shared.web import routes_of

pytestmark = pytest.mark.unit

VAULT = "vault"  # free text sealed under a person's key, or whom it is sealed under
CONTROL = "control"  # a version to check
VERSIONED = {"expected_version": (CONTROL, "If-Match")}


def dated(event: str, on: str) -> dict:
    return VERSIONED | {"on": (event, on)}


SESSION_LINKS = {
    "kind": "kind",
    "referral_id": "referral_id",
    "group_id": "group_id",
    "mode": "mode",
    "location": "location",
    "worker_ids": "worker_ids",
}
WHO_CAME = {
    "attendance": ("AttendanceRecorded", "status"),  # one event per person, with their status
    "anonymous_attendees": ("AnonymousAttendeesCounted", "count"),
}
HELD = {
    "actual_start_at": ("SessionRecorded", "actual_start_at"),
    "duration_minutes": ("SessionRecorded", "duration_minutes"),
}
NOTES = VERSIONED | {
    "themes": ("SessionNotesWritten", "themes"),
    "actions": ("SessionNotesWritten", "actions"),
    "text": ("SessionNotesWritten", "notes_text_id"),
    "about_person_id": (VAULT, "the person the words are sealed under"),
}
PLAN = {
    "kind": ("PlanDrafted", "kind"),
    "content": ("PlanDrafted", "content"),
}

# route -> accepted field -> where it is found again: (event type, payload field), the vault, or
# a control
SESSIONS = {
    "POST /sessions": {
        **{name: ("SessionBooked", key) for name, key in SESSION_LINKS.items()},
        "planned_start_at": ("SessionBooked", "planned_start_at"),
        "planned_duration_minutes": ("SessionBooked", "planned_duration_minutes"),
    },
    "POST /sessions/held": {
        **{name: ("SessionRecorded", key) for name, key in SESSION_LINKS.items()},
        **HELD,
        **WHO_CAME,
    },
    "POST /sessions/<string:session_id>/record": VERSIONED
    | HELD
    | WHO_CAME
    | {name: ("SessionRecorded", name) for name in ("mode", "location", "worker_ids")},
    "POST /sessions/<string:session_id>/cancel": VERSIONED
    | {
        "cancelled_by": ("SessionCancelled", "cancelled_by"),
        "reason": ("SessionCancelled", "reason"),
    },
    "POST /sessions/<string:session_id>/attendance": VERSIONED
    | {
        "person_id": ("AttendanceRecorded", "person_id"),
        "status": ("AttendanceRecorded", "status"),
    },
    "POST /sessions/<string:session_id>/attendance/correct": VERSIONED
    | {
        "person_id": ("AttendanceCorrected", "person_id"),
        "status": ("AttendanceCorrected", "status"),
        "reason": ("AttendanceCorrected", "reason"),
    },
    "POST /sessions/<string:session_id>/attendance/void": VERSIONED
    | {
        "person_id": ("AttendanceVoided", "person_id"),
        "reason": ("AttendanceVoided", "reason"),
    },
    "POST /sessions/<string:session_id>/anonymous-attendees": VERSIONED
    | {"count": ("AnonymousAttendeesCounted", "count")},
    "POST /sessions/<string:session_id>/anonymous-attendees/correct": VERSIONED
    | {
        "count": ("AnonymousAttendeesCorrected", "count"),
        "reason": ("AnonymousAttendeesCorrected", "reason"),
    },
    "POST /sessions/<string:session_id>/notes": NOTES,
    "POST /sessions/<string:session_id>/notes/correct": NOTES
    | {"reason": ("SessionNotesCorrected", "reason")},
    "POST /sessions/<string:session_id>/void": VERSIONED | {"reason": ("SessionVoided", "reason")},
    "POST /groups": {
        "name": ("GroupCreated", "name"),
        "kind": ("GroupCreated", "kind"),
        "capacity": ("GroupCreated", "capacity"),
        "facilitator_ids": ("GroupCreated", "facilitator_ids"),
        "sessions_planned": ("GroupCreated", "sessions_planned"),
        "on": ("GroupCreated", "created_on"),
    },
    "POST /groups/<string:group_id>/join": dated("GroupMemberJoined", "joined_on")
    | {"person_id": ("GroupMemberJoined", "person_id")},
    "POST /groups/<string:group_id>/leave": dated("GroupMemberLeft", "left_on")
    | {
        "person_id": ("GroupMemberLeft", "person_id"),
        "reason": ("GroupMemberLeft", "reason"),
    },
    "POST /groups/<string:group_id>/capacity": dated("GroupCapacityChanged", "changed_on")
    | {"capacity": ("GroupCapacityChanged", "capacity")},
    "POST /groups/<string:group_id>/facilitators": dated("GroupFacilitatorAdded", "on")
    | {"worker_id": ("GroupFacilitatorAdded", "worker_id")},
    "POST /groups/<string:group_id>/facilitators/remove": dated("GroupFacilitatorRemoved", "on")
    | {"worker_id": ("GroupFacilitatorRemoved", "worker_id")},
    "POST /groups/<string:group_id>/close": dated("GroupClosed", "closed_on")
    | {"reason": ("GroupClosed", "reason")},
    "POST /plans": PLAN
    | {
        "person_id": ("PlanDrafted", "person_id"),
        "referral_id": ("PlanDrafted", "referral_id"),
        "review_interval_days": ("PlanDrafted", "review_interval_days"),
        "on": ("PlanDrafted", "drafted_on"),
    },
    "POST /plans/<string:plan_id>/revise": dated("PlanRevised", "revised_on")
    | {
        "kind": ("PlanRevised", "kind"),
        "content": ("PlanRevised", "content"),
        "reason": ("PlanRevised", "reason"),
    },
    "POST /plans/<string:plan_id>/review": dated("PlanReviewed", "reviewed_on")
    | {"outcome": ("PlanReviewed", "outcome")},
    "POST /plans/<string:plan_id>/review-interval": dated("PlanReviewIntervalChanged", "changed_on")
    | {"review_interval_days": ("PlanReviewIntervalChanged", "review_interval_days")},
    "POST /plans/<string:plan_id>/close": dated("PlanClosed", "closed_on")
    | {"reason": ("PlanClosed", "reason")},
    "POST /signposting": {
        "person_id": ("SignpostingRecorded", "person_id"),
        "destination": ("SignpostingRecorded", "destination"),
        "referral_id": ("SignpostingRecorded", "referral_id"),
        "session_id": ("SignpostingRecorded", "session_id"),
        "on": ("SignpostingRecorded", "signposted_on"),
    },
    "POST /signposting/<string:signposting_id>/outcome": dated(
        "SignpostingOutcomeRecorded", "recorded_on"
    )
    | {"outcome": ("SignpostingOutcomeRecorded", "outcome")},
    "POST /signposting/<string:signposting_id>/outcome/correct": dated(
        "SignpostingOutcomeCorrected", "corrected_on"
    )
    | {
        "outcome": ("SignpostingOutcomeCorrected", "outcome"),
        "reason": ("SignpostingOutcomeCorrected", "reason"),
    },
    "POST /signposting/<string:signposting_id>/void": dated("SignpostingVoided", "voided_on")
    | {"reason": ("SignpostingVoided", "reason")},
    "POST /people/<string:person_id>/measures": VERSIONED
    | {
        name: ("MeasureRecorded", name)
        for name in ("measure", "timepoint", "answers", "taken_on", "referral_id")
    },
    "POST /people/<string:person_id>/measures/<string:number>/void": VERSIONED
    | {"reason": ("MeasureVoided", "reason")},
    "POST /texts": {"person_id": (VAULT, "whom it is sealed under"), "text": (VAULT, "text")},
}

CONCERN_FORM = {
    name: ("ConcernRaised", name)
    for name in (
        "age_group",
        "categories",
        "severity",
        "immediate_risk",
        "happened_on",
        "is_ongoing",
        "children_at_risk",
        "alleged_relationship",
        "actions_taken",
        "informed",
        "consent_given",
        "without_consent_reason",
    )
} | {
    "what_happened": ("ConcernRaised", "what_happened_text_id"),
    "actions_taken_notes": ("ConcernRaised", "actions_taken_text_id"),
    "views": ("ConcernRaised", "views_text_id"),
}
SAFEGUARDING = {
    "POST /concerns": CONCERN_FORM
    | {
        "person_id": ("ConcernRaised", "person_id"),
        "person_description": ("ConcernRaised", "description_text_id"),
    },
    "POST /concerns/suggestions": {
        "person_id": ("ConcernSuggested", "person_id"),
        "signal": ("ConcernSuggested", "signal"),
        "source_event_ids": ("ConcernSuggested", "source_event_ids"),
    },
    "POST /concerns/<string:concern_id>/confirm": CONCERN_FORM | VERSIONED,
    "POST /concerns/<string:concern_id>/dismiss": VERSIONED
    | {
        "reason": ("ConcernSuggestionDismissed", "reason"),
        "notes": ("ConcernSuggestionDismissed", "reason_text_id"),
    },
    "POST /concerns/<string:concern_id>/person": VERSIONED
    | {"person_id": ("ConcernPersonIdentified", "person_id")},
    "POST /concerns/<string:concern_id>/acknowledge": VERSIONED
    | {"severity": ("ConcernAcknowledged", "severity")},
    "POST /concerns/<string:concern_id>/decide": VERSIONED
    | {
        "decision": ("ConcernDecided", "decision"),
        "reason": ("ConcernDecided", "reason"),
        "rationale": ("ConcernDecided", "rationale_text_id"),
        "agency_reference": ("ConcernDecided", "agency_reference_text_id"),
        "revision_reason": ("ConcernDecisionRevised", "revision_reason_text_id"),
    },
    "POST /concerns/<string:concern_id>/actions": VERSIONED
    | {
        "kind": ("ConcernActionAdded", "kind"),
        "owner_id": ("ConcernActionAdded", "owner_id"),
        "due_on": ("ConcernActionAdded", "due_on"),
        "details": ("ConcernActionAdded", "details_text_id"),
    },
    "POST /concerns/<string:concern_id>/actions/<string:action_id>/complete": VERSIONED
    | {
        "outcome": ("ConcernActionCompleted", "outcome"),
        "notes": ("ConcernActionCompleted", "note_text_id"),
    },
    "POST /concerns/<string:concern_id>/notes": VERSIONED
    | {"text": ("ConcernNoteAdded", "text_id")},
    "POST /concerns/<string:concern_id>/close": VERSIONED
    | {
        "outcome": ("ConcernClosed", "outcome"),
        "desired_outcomes_met": ("ConcernClosed", "desired_outcomes_met"),
        "notes": ("ConcernClosed", "outcome_text_id"),
    },
}

SERVICES = {
    "sessions": (SessionsService, SESSIONS, sessions_events),
    "safeguarding": (SafeguardingService, SAFEGUARDING, safeguarding_events),
}


def accepted_fields(service) -> dict[str, set[str]]:
    return {f"{r.method} {r.path}": set(r.body().fields) for r in routes_of(service) if r.body}


@pytest.mark.parametrize("name", SERVICES)
def test_every_field_of_every_request_schema_is_kept_somewhere(name):
    service, kept, _ = SERVICES[name]
    accepted = accepted_fields(service)
    assert set(accepted) == set(kept), "a route's body is not walked here"
    for route, names in accepted.items():
        assert names == set(kept[route]), f"{route}: every accepted field says where it is kept"


@pytest.mark.parametrize("name", SERVICES)
def test_every_field_kept_in_an_event_is_a_field_of_that_events_schema(name):
    _, kept, registry = SERVICES[name]
    for route, fields in kept.items():
        for field_name, (where, key) in fields.items():
            if where in (VAULT, CONTROL):
                continue
            schema = registry.get(where).schema
            assert key in schema().fields, f"{route} {field_name}: {where} has no {key}"


@pytest.mark.parametrize(
    ("schema", "body", "field"),
    [
        # a new concern has no version to check: one given would be thrown away
        (
            RaiseConcernBody,
            {
                "person_id": "6f1c5b9e-3f4e-4b8e-9a57-2f0c1d2e3a4b",
                "age_group": "adult",
                "categories": ["neglect"],
                "severity": "standard",
                "immediate_risk": False,
                "what_happened": "Said nobody has visited for weeks.",
                "actions_taken": ["none"],
                "consent_given": True,
                "expected_version": 1,
            },
            "expected_version",
        ),
        (
            SuggestConcernBody,
            {
                "person_id": "6f1c5b9e-3f4e-4b8e-9a57-2f0c1d2e3a4b",
                "signal": "repeated_did_not_attend",
                "expected_version": 1,
            },
            "expected_version",
        ),
        # notes' words are given as text and sealed here; a text id made elsewhere is not kept
        (
            SessionNotesBody,
            {"themes": ["sleep"], "notes_text_id": "6f1c5b9e-3f4e-4b8e-9a57-2f0c1d2e3a4b"},
            "notes_text_id",
        ),
    ],
)
def test_a_field_no_route_keeps_is_refused_by_its_schema(schema, body, field):
    with pytest.raises(ValidationError) as refusal:
        schema(unknown=RAISE).load(body)
    assert set(refusal.value.messages) == {field}
