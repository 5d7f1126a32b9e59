"""Demo sessions for a local alliance, made through the HTTP API as workers would: people with
active referrals seen one to one over several months, a six-week workshop with a waiting list,
a weekly peer group, a drop-in with anonymous visitors, plans, SWEMWBS and signposting."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, timedelta

from contracts.sessions.measures import SWEMWBS_ITEMS
from deploy.demo import Client
from deploy.signin import Tokens

WORKERS = ["sam", "priya", "jo", "kwame"]
PEOPLE = 24
ONE_TO_ONE_PEOPLE = 8
ATTENDANCE = ["attended"] * 7 + ["did_not_attend", "cancelled_by_person", "late_seen"]
THEMES = [
    "mood_and_wellbeing",
    "anxiety",
    "isolation_and_connection",
    "sleep",
    "housing",
    "money_and_benefits",
    "recovery_goals",
    "coping_strategies",
]
DESTINATIONS = ["housing", "benefits_and_money", "community_groups", "employment_and_education"]


def swemwbs(rng: random.Random, around: int) -> dict:
    return {item: max(1, min(5, around + rng.choice((-1, 0, 0, 1)))) for item in SWEMWBS_ITEMS}


def _at(day: date, hour: int) -> str:
    return datetime(day.year, day.month, day.day, hour, 0, tzinfo=UTC).isoformat()


def load_sessions_demo(state: dict, tokens: Tokens, partner: str, seed: int) -> None:
    node = state["endpoints"]["partners"][partner]
    service = Client(node["sessions"], tokens.token("service", partner, "demo"))
    if service.get("/events", limit=1)["events"]:
        print(f"[peerlink] demo sessions for {partner} already loaded")
        return
    rng = random.Random(seed)
    today = date.today()
    lead_token = tokens.token("team_lead", partner, "alex")
    people_api = Client(node["referrals"], lead_token)
    lead = Client(node["sessions"], lead_token)

    people = [
        people_api.post(
            "/people",
            {
                "full_name": f"Demo Person {partner} {n + 1}",
                "date_of_birth": (
                    date(1950, 1, 1) + timedelta(days=rng.randint(0, 18000))
                ).isoformat(),
                "gender": rng.choice(["woman", "man", "non_binary", "not_known"]),
                "ethnicity": rng.choice(["white", "mixed", "asian", "black", "other"]),
            },
        )["person_id"]
        for n in range(PEOPLE)
    ]
    sessions = 0
    for index, person in enumerate(people[:ONE_TO_ONE_PEOPLE]):
        worker = WORKERS[index % len(WORKERS)]
        sessions += _one_to_one_support(node, tokens, partner, lead, person, worker, rng, today)
    sessions += _group(lead, people[4:16], "Living well, six weeks", "workshop_programme", 6, rng)
    sessions += _group(lead, people[10:22], "Tuesday peer group", "weekly_peer_group", 12, rng)
    sessions += _drop_ins(lead, people[16:], rng, today)
    print(f"[peerlink] demo sessions for {partner}: {PEOPLE} people, {sessions} sessions")


def _one_to_one_support(node, tokens, partner, lead, person, worker, rng, today) -> int:
    referrals = Client(node["referrals"], tokens.token("peer_worker", partner, worker))
    lead_referrals = Client(node["referrals"], tokens.token("team_lead", partner, "alex"))
    start = today - timedelta(days=rng.randint(70, 150))
    referral = lead_referrals.post(
        "/referrals",
        {
            "person_id": person,
            "source": rng.choice(["cmht", "gp", "self", "clinical_step_down"]),
            "received_on": start.isoformat(),
            "needs": ["isolation", "low_mood"],
        },
    )
    rid = referral["referral_id"]
    lead_referrals.post(f"/referrals/{rid}/accept", {"on": start.isoformat()})
    lead_referrals.post(
        f"/referrals/{rid}/allocate", {"on": start.isoformat(), "worker_id": worker}
    )
    first = start + timedelta(days=rng.randint(2, 7))
    referrals.post(f"/referrals/{rid}/first-contact", {"on": first.isoformat()})
    pw = Client(node["sessions"], tokens.token("peer_worker", partner, worker))
    # the first session waits for the referral's new status to reach the sessions service
    count, day = 0, first
    while day < today - timedelta(days=1):
        body = {
            "kind": "one_to_one",
            "referral_id": rid,
            "mode": rng.choice(["face_to_face_base", "phone", "video", "community_venue"]),
            "location": "peer_support_base",
            "worker_ids": [worker],
            "actual_start_at": _at(day, rng.randint(9, 16)),
            "duration_minutes": rng.choice([30, 45, 60]),
            "attendance": [{"person_id": person, "status": rng.choice(ATTENDANCE)}],
        }
        session = pw.post("/sessions/held", body, retry_for=20)
        if body["attendance"][0]["status"] in ("attended", "late_seen"):
            pw.post(
                f"/sessions/{session['session_id']}/notes",
                {"themes": rng.sample(THEMES, 2), "actions": ["next_session_booked"]},
            )
        count += 1
        day += timedelta(days=rng.choice([7, 7, 14]))
    pw.post(
        f"/people/{person}/measures",
        {
            "measure": "swemwbs",
            "timepoint": "start",
            "taken_on": first.isoformat(),
            "answers": swemwbs(rng, 2),
            "referral_id": rid,
        },
    )
    goal_text = pw.post(
        "/texts", {"person_id": person, "text": "Get out of the house twice a week"}
    )
    pw.post(
        "/plans",
        {
            "person_id": person,
            "referral_id": rid,
            "kind": "recovery_wellbeing",
            "on": first.isoformat(),
            "content": {
                "goals": [
                    {
                        "goal_id": str(uuid.uuid4()),
                        "life_area": "connection_and_community",
                        "text_id": goal_text["text_id"],
                        "progress": rng.randint(2, 4),
                    }
                ]
            },
        },
    )
    pw.post(
        "/plans",
        {
            "person_id": person,
            "referral_id": rid,
            "kind": "crisis_safety",
            "on": first.isoformat(),
            "content": {
                "warning_signs": ["sleep_changes", "withdrawing_from_people"],
                "what_helps": ["talking_to_someone", "going_outside_or_walking"],
                "services": [{"type": "crisis_line"}, {"type": "gp"}],
                "agreed_actions": ["contact_a_named_service", "use_coping_strategies"],
            },
        },
    )
    pw.post(
        f"/people/{person}/measures",
        {
            "measure": "swemwbs",
            "timepoint": "review",
            "taken_on": (today - timedelta(days=1)).isoformat(),
            "answers": swemwbs(rng, 3),
            "referral_id": rid,
        },
    )
    signposted = pw.post(
        "/signposting",
        {"person_id": person, "destination": rng.choice(DESTINATIONS), "referral_id": rid},
    )
    if rng.random() < 0.6:
        pw.post(
            f"/signposting/{signposted['signposting_id']}/outcome",
            {"outcome": rng.choice(["taken_up", "taken_up", "not_taken_up"])},
        )
    return count


def _group(lead, people, name, kind, weeks, rng) -> int:
    facilitator = rng.choice(WORKERS)
    began = date.today() - timedelta(weeks=weeks + 1)
    group = lead.post(
        "/groups",
        {
            "name": name,
            "kind": kind,
            "capacity": 10,
            "facilitator_ids": [facilitator],
            "sessions_planned": weeks if kind == "workshop_programme" else None,
            "on": began.isoformat(),
        },
    )
    gid = group["group_id"]
    for person in people:
        group = lead.post(f"/groups/{gid}/join", {"person_id": person, "on": began.isoformat()})
    for week in range(weeks):
        day = began + timedelta(weeks=week, days=1)
        lead.post(
            "/sessions/held",
            {
                "kind": "group",
                "group_id": gid,
                "mode": "community_venue",
                "location": "community_venue",
                "worker_ids": [facilitator],
                "actual_start_at": _at(day, 14),
                "duration_minutes": 120,
                "attendance": [
                    {"person_id": person, "status": rng.choice(ATTENDANCE)}
                    for person in group["members"]
                ],
            },
        )
    return weeks


def _drop_ins(lead, people, rng, today) -> int:
    weeks = 8
    for week in range(weeks):
        day = today - timedelta(weeks=weeks - week, days=-3)
        came = rng.sample(people, rng.randint(1, len(people)))
        lead.post(
            "/sessions/held",
            {
                "kind": "drop_in",
                "mode": "face_to_face_base",
                "location": "peer_support_base",
                "worker_ids": rng.sample(WORKERS, 2),
                "actual_start_at": _at(day, 11),
                "duration_minutes": 180,
                "attendance": [{"person_id": person, "status": "attended"} for person in came],
                "anonymous_attendees": rng.randint(0, 9),
            },
        )
    return weeks
