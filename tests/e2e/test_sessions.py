"""The sessions API of the running test alliance, end to end over HTTP: a group over six weeks,
a person's timeline, corrections that keep what was recorded, refusals that change nothing."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, date, datetime, timedelta

import psycopg2
import pytest
import requests

from contracts.sessions.measures import SWEMWBS_ITEMS
from tests.conftest import wait_for

pytestmark = pytest.mark.e2e

TODAY = date.today()
NOW = datetime.now(UTC).replace(microsecond=0)


class Api:
    def __init__(self, base: str, headers: dict):
        self.base = base
        self.session = requests.Session()
        self.session.headers.update(headers)

    def get(self, path, **params):
        return self.session.get(self.base + path, params=params, timeout=15)

    def post(self, path, body=None, **kw):
        return self.session.post(
            self.base + path, json={} if body is None else body, timeout=15, **kw
        )


@pytest.fixture(scope="module")
def api(endpoints, auth):
    def make(service="sessions", role="team_lead", user=None, partner="leeds-mind"):
        return Api(endpoints["partners"][partner][service], auth(role, partner, user))

    return make


def ok(response, status=200) -> dict:
    assert response.status_code == status, response.text
    return response.json()


def register_person(api) -> str:
    body = {
        "full_name": f"Sam Sessions-{uuid.uuid4().hex[:10]}",
        "date_of_birth": "1984-03-12",
        "gender": "woman",
        "ethnicity": "white",
    }
    return ok(api("referrals").post("/people", body), 201)["person_id"]


def on_workforce(api, *workers: str) -> None:
    """The workers on the partner's workforce (registered by its admin), so a lead may name
    them before they first act."""
    admin = api("referrals", "partner_admin")
    for worker in workers:
        response = admin.post("/workers", {"worker_id": worker})
        assert response.status_code in (201, 409), response.text


def active_referral(api, person_id: str, worker: str) -> str:
    on_workforce(api, worker)
    lead = api("referrals")
    received = (TODAY - timedelta(days=60)).isoformat()
    referral = ok(
        lead.post(
            "/referrals",
            {"person_id": person_id, "source": "gp", "received_on": received, "urgency": "soon"},
        ),
        201,
    )
    rid = referral["referral_id"]
    # every step on the day it was received: the sessions that follow may be dated from then on
    ok(lead.post(f"/referrals/{rid}/accept", {"on": received}))
    ok(lead.post(f"/referrals/{rid}/allocate", {"worker_id": worker, "on": received}))
    worker_referrals = api("referrals", "peer_worker", worker)
    ok(worker_referrals.post(f"/referrals/{rid}/first-contact", {"on": received}))
    return rid


def held_one_to_one(referral_id: str, worker: str, start: datetime, person_id=None) -> dict:
    body = {
        "kind": "one_to_one",
        "referral_id": referral_id,
        "mode": "face_to_face_base",
        "location": "peer_support_base",
        "worker_ids": [worker],
        "actual_start_at": start.isoformat(),
        "duration_minutes": 50,
    }
    if person_id:
        body["attendance"] = [{"person_id": person_id, "status": "attended"}]
    return body


def when_sessions_sees(api, worker, body, status=201):
    """The sessions service learns a referral's status from the referrals service's events;
    retry until it has."""
    pw = api(role="peer_worker", user=worker)
    found = {}

    def recorded():
        found["response"] = pw.post("/sessions/held", body)
        return found["response"].status_code == status

    wait_for(recorded, timeout=20, message=lambda: found["response"].text)
    return found["response"].json()


def wait_until_sessions_sees(stack_state, referral_id: str, status: str) -> None:
    """Wait for the referral's status to reach the sessions service's view of it."""
    conn = psycopg2.connect(stack_state["owner_dsn"]["peerlink_leeds_mind"])
    conn.autocommit = True
    try:
        with conn.cursor() as cur:

            def seen():
                cur.execute(
                    "SELECT status FROM sessions.referral_status WHERE referral_id = %s",
                    (referral_id,),
                )
                row = cur.fetchone()
                return row is not None and row[0] == status

            wait_for(seen, timeout=20, message=f"sessions never saw {referral_id} {status}")
    finally:
        conn.close()


def swemwbs(score: int) -> dict:
    """Answers adding up to `score` (7-35)."""
    answers, left = {}, score
    for index, item in enumerate(SWEMWBS_ITEMS):
        remaining = len(SWEMWBS_ITEMS) - index - 1
        answer = max(1, min(5, left - remaining))
        answers[item] = answer
        left -= answer
    return answers


def feed_head(endpoints, auth) -> int:
    """The newest position of the leeds-mind sessions store, read through its event feed."""
    base = endpoints["partners"]["leeds-mind"]["sessions"]
    headers = auth("service", "leeds-mind")
    after = 0
    while True:
        page = requests.get(
            f"{base}/events", params={"after": after, "limit": 5000}, headers=headers, timeout=15
        ).json()
        if not page["events"]:
            return after
        after = page["next_after"]


# -- a group over six weeks --------------------------------------------------------------------

# who came each week, for the ten members: a=attended, d=did not attend, c=cancelled by the
# person, l=late but seen
PATTERN = [
    "aaaaaaaaaa",
    "aadaaaclaa",
    "adaaadaaaa",
    "aaaaaaaaad",
    "acaadaaala",
    "aaaaaaaaaa",
]
CODES = {"a": "attended", "d": "did_not_attend", "c": "cancelled_by_person", "l": "late_seen"}


def test_a_group_of_ten_over_six_weeks_with_its_register_and_a_correction(api):
    facilitator = f"pw-group-{uuid.uuid4().hex[:6]}"
    on_workforce(api, facilitator)
    lead, pw = api(), api(role="peer_worker", user=facilitator)
    people = [register_person(api) for _ in range(12)]
    group = ok(
        lead.post(
            "/groups",
            {
                "name": "Living well, six weeks",
                "kind": "workshop_programme",
                "capacity": 10,
                "facilitator_ids": [facilitator],
                "sessions_planned": 6,
                "on": (TODAY - timedelta(days=50)).isoformat(),
            },
        ),
        201,
    )
    gid = group["group_id"]
    # the lead gives the places: a facilitator does not widen their own caseload
    for person in people:
        group = ok(lead.post(f"/groups/{gid}/join", {"person_id": person}))
    assert group["members"] == people[:10] and group["waiting_list"] == people[10:]
    assert group["places_free"] == 0

    sessions = []
    for week, marks in enumerate(PATTERN):
        start = NOW - timedelta(weeks=6 - week, hours=2)
        body = {
            "kind": "group",
            "group_id": gid,
            "mode": "community_venue",
            "location": "community_venue",
            "worker_ids": [facilitator],
            "actual_start_at": start.isoformat(),
            "duration_minutes": 120,
            "attendance": [
                {"person_id": person, "status": CODES[mark]}
                for person, mark in zip(people, marks, strict=False)
            ],
        }
        session = ok(pw.post("/sessions/held", body), 201)
        assert session["status"] == "held" and len(session["attendance"]) == 10
        sessions.append(session["session_id"])

    # week 3's did-not-attend for the second person was a mistake: they came
    week3 = sessions[2]
    corrected = ok(
        pw.post(
            f"/sessions/{week3}/attendance/correct",
            {
                "person_id": people[1],
                "status": "attended",
                "reason": "recorded_in_error",
                "expected_version": 11,
            },
        )
    )
    assert corrected["version"] == 12
    stale = pw.post(
        f"/sessions/{week3}/attendance/correct",
        {"person_id": people[1], "status": "late_seen", "reason": "other", "expected_version": 11},
    )
    assert stale.status_code == 409 and stale.json()["actual_version"] == 12

    register = ok(pw.get(f"/groups/{gid}/register"))
    assert [s["session_id"] for s in register["sessions"]] == sessions
    rows = {row["person_id"]: row for row in register["people"]}
    assert set(rows) == set(people)
    for index, person in enumerate(people[:10]):
        expected = [CODES[marks[index]] for marks in PATTERN]
        if index == 1:
            expected[2] = "attended"
        assert [cell["status"] for cell in rows[person]["attendance"]] == expected
    assert rows[people[1]]["attendance"][2]["is_corrected"] is True
    assert rows[people[1]]["totals"] == {"attended": 5, "cancelled_by_person": 1}
    assert all(cell["status"] is None for cell in rows[people[11]]["attendance"])

    history = ok(pw.get(f"/sessions/{week3}/history"))["events"]
    correction = history[-1]
    assert correction["event_type"] == "AttendanceCorrected"
    assert correction["payload"]["previous_status"] == "did_not_attend"
    assert correction["payload"]["reason"] == "recorded_in_error"
    assert correction["actor"]["user_id"] == facilitator
    recorded = [e for e in history if e["event_type"] == "AttendanceRecorded"]
    assert {e["payload"]["status"] for e in recorded if e["payload"]["person_id"] == people[1]} == {
        "did_not_attend"
    }

    # a member leaves: the first on the waiting list takes the place
    group = ok(pw.post(f"/groups/{gid}/leave", {"person_id": people[0], "reason": "moved_away"}))
    assert people[10] in group["members"] and group["waiting_list"] == [people[11]]

    listed = ok(lead.get("/sessions", group_id=gid))
    assert listed["total"] == 6
    assert [item["seen"] for item in listed["items"]][0] == 10
    diary = ok(
        pw.get(
            "/diary", **{"from": (TODAY - timedelta(weeks=7)).isoformat(), "to": TODAY.isoformat()}
        )
    )
    assert {item["session_id"] for item in diary["items"]} == set(sessions)
    assert diary["items"][0]["group_name"] == "Living well, six weeks"


# -- a person's timeline -----------------------------------------------------------------------


def test_a_persons_timeline_of_sessions_notes_plans_measures_and_signposting(api):
    worker = f"pw-time-{uuid.uuid4().hex[:6]}"
    person = register_person(api)
    rid = active_referral(api, person, worker)
    pw = api(role="peer_worker", user=worker)

    first = when_sessions_sees(
        api, worker, held_one_to_one(rid, worker, NOW - timedelta(days=20), person)
    )
    assert first["person_id"] == person and first["attendance"][0]["attendance_code"] == "5"
    notes = ok(
        pw.post(
            f"/sessions/{first['session_id']}/notes",
            {
                "themes": ["isolation_and_connection", "sleep"],
                "actions": ["signposted"],
                "text": "Talked about the allotment group; sleeping better since the move.",
            },
        )
    )
    assert notes["notes"]["notes_text_id"]
    opened = ok(pw.get(f"/sessions/{first['session_id']}/notes"))["notes"]
    assert opened["text"].startswith("Talked about the allotment")

    text = ok(pw.post("/texts", {"person_id": person, "text": "Call my sister first"}), 201)
    plan = ok(
        pw.post(
            "/plans",
            {
                "person_id": person,
                "referral_id": rid,
                "kind": "crisis_safety",
                "content": {
                    "warning_signs": ["sleep_changes", "withdrawing_from_people"],
                    "what_helps": ["going_outside_or_walking"],
                    "people": [{"type": "family_member", "contact_text_id": text["text_id"]}],
                    "services": [{"type": "crisis_line"}],
                    "agreed_actions": ["contact_a_named_person"],
                },
                "on": (TODAY - timedelta(days=20)).isoformat(),
            },
        ),
        201,
    )
    read = ok(pw.get(f"/plans/{plan['plan_id']}"))
    assert read["texts"] == {text["text_id"]: "Call my sister first"}
    assert read["review_due_on"] == (TODAY - timedelta(days=20) + timedelta(days=90)).isoformat()

    ok(
        pw.post(
            f"/people/{person}/measures",
            {
                "measure": "swemwbs",
                "timepoint": "start",
                "taken_on": (TODAY - timedelta(days=20)).isoformat(),
                "answers": swemwbs(17),
            },
        ),
        201,
    )
    measures = ok(
        pw.post(
            f"/people/{person}/measures",
            {
                "measure": "swemwbs",
                "timepoint": "review",
                "taken_on": TODAY.isoformat(),
                "answers": swemwbs(24),
            },
        ),
        201,
    )
    change = measures["changes"]["swemwbs"]
    # Warwick's conversion table: raw 17 -> 16.88, raw 24 -> 21.54
    assert change["first"]["score"] == pytest.approx(16.88)
    assert change["latest"]["score"] == pytest.approx(21.54)
    assert change["outcome"] == "improved" and change["is_meaningful"] is True

    signposting = ok(
        pw.post(
            "/signposting",
            {
                "person_id": person,
                "destination": "community_groups",
                "session_id": first["session_id"],
                "on": (TODAY - timedelta(days=20)).isoformat(),
            },
        ),
        201,
    )
    ok(pw.post(f"/signposting/{signposting['signposting_id']}/outcome", {"outcome": "taken_up"}))

    timeline = ok(pw.get(f"/people/{person}/timeline"))
    kinds = [(item["what"], item["event_type"]) for item in timeline["items"]]
    for expected in [
        ("session", "SessionRecorded"),
        ("session", "AttendanceRecorded"),
        ("session", "SessionNotesWritten"),
        ("plan", "PlanDrafted"),
        ("person_measures", "MeasureRecorded"),
        ("signposting", "SignpostingRecorded"),
        ("signposting", "SignpostingOutcomeRecorded"),
    ]:
        assert expected in kinds, expected
    assert timeline["items"][0]["happened_at"] >= timeline["items"][-1]["happened_at"]
    assert "allotment" not in str(timeline)  # free text never in a read model

    # someone else's peer worker may not see the person; another partner does not see them
    stranger = api(role="peer_worker", user="pw-stranger")
    assert stranger.get(f"/people/{person}/timeline").status_code == 403
    assert stranger.get(f"/sessions/{first['session_id']}/notes").status_code == 403
    other = api(partner="mesmac")
    assert other.get(f"/people/{person}/timeline").status_code == 404
    assert other.get(f"/sessions/{first['session_id']}").status_code == 404

    audit = ok(api(service="referrals", role="partner_admin").get("/audit", person_id=person))
    reads = [e for e in audit["entries"] if e["service"] == "sessions" and e["action"] == "read"]
    assert any(e["record_type"] == "session" for e in reads)
    assert any("timeline" in e["fields"] for e in reads)


# -- refusals ----------------------------------------------------------------------------------


def test_a_one_to_one_is_refused_for_a_discharged_referral_and_nothing_is_recorded(
    api, stack_state
):
    worker = f"pw-dis-{uuid.uuid4().hex[:6]}"
    person = register_person(api)
    rid = active_referral(api, person, worker)
    ok(
        api("referrals", "peer_worker", worker).post(
            f"/referrals/{rid}/discharge", {"reason": "goals_met"}
        )
    )
    wait_until_sessions_sees(stack_state, rid, "discharged")
    body = held_one_to_one(rid, worker, NOW - timedelta(days=1), person)
    response = api(role="peer_worker", user=worker).post("/sessions/held", body)
    assert response.status_code == 409, response.text
    refused = response.json()
    assert refused["rule"] == "OneToOneNeedsAnActiveReferral"
    assert "discharged" in refused["message"]
    assert ok(api().get("/sessions", referral_id=rid))["total"] == 0
    assert not [
        i for i in ok(api().get(f"/people/{person}/timeline"))["items"] if i["what"] == "session"
    ]


def test_a_session_in_the_future_or_ending_before_it_starts_is_refused(api):
    worker = f"pw-fut-{uuid.uuid4().hex[:6]}"
    person = register_person(api)
    rid = active_referral(api, person, worker)
    when_sessions_sees(api, worker, held_one_to_one(rid, worker, NOW - timedelta(hours=3)))
    pw = api(role="peer_worker", user=worker)
    future = pw.post("/sessions/held", held_one_to_one(rid, worker, NOW + timedelta(hours=2)))
    assert future.status_code == 409
    assert future.json()["rule"] == "SessionCannotBeRecordedInTheFuture"
    zero = {**held_one_to_one(rid, worker, NOW - timedelta(hours=3)), "duration_minutes": 0}
    response = pw.post("/sessions/held", zero)
    assert response.status_code == 422 and "duration_minutes" in response.json()["fields"]
    assert ok(pw.get("/sessions", referral_id=rid))["total"] == 1


def test_a_booked_session_is_held_or_cancelled_once(api):
    worker = f"pw-book-{uuid.uuid4().hex[:6]}"
    person = register_person(api)
    rid = active_referral(api, person, worker)
    pw = api(role="peer_worker", user=worker)
    body = {
        "kind": "one_to_one",
        "referral_id": rid,
        "mode": "phone",
        "location": "remote",
        "worker_ids": [worker],
        "planned_start_at": (NOW - timedelta(hours=2)).isoformat(),
    }
    booked = {}

    def book():
        booked["r"] = pw.post("/sessions", body)
        return booked["r"].status_code == 201

    wait_for(book, timeout=20, message=lambda: booked["r"].text)
    session = booked["r"].json()
    sid = session["session_id"]
    assert session["status"] == "booked" and session["medium_code"] == "02"
    held = ok(
        pw.post(
            f"/sessions/{sid}/record",
            {
                "actual_start_at": (NOW - timedelta(hours=2)).isoformat(),
                "duration_minutes": 30,
                "attendance": [{"person_id": person, "status": "attended"}],
            },
            headers={"If-Match": '"1"'},
        )
    )
    assert held["status"] == "held" and held["version"] == 3
    again = pw.post(f"/sessions/{sid}/cancel", {"cancelled_by": "person", "reason": "other"})
    assert again.status_code == 409 and again.json()["rule"] == "OnlyBookedSessionsCanBeCancelled"
    someone_else = pw.post(
        f"/sessions/{sid}/attendance", {"person_id": register_person(api), "status": "attended"}
    )
    assert someone_else.json()["rule"] == "AttendanceMustBeForThePersonBooked"


def test_an_if_match_sent_with_a_create_is_ignored(api):
    """A new record has no version a client could have seen: whatever If-Match comes with a
    create, it is neither refused nor recorded at that version."""
    worker = f"pw-create-{uuid.uuid4().hex[:6]}"
    on_workforce(api, worker)
    person = register_person(api)
    lead = api()
    stale = {"If-Match": '"7"'}
    # each create with the version its events bring it to (a session held: and its attendance)
    creates = [
        (
            "/groups",
            1,
            {
                "name": "Thursday peer group",
                "kind": "weekly_peer_group",
                "capacity": 8,
                "facilitator_ids": [worker],
            },
        ),
        (
            "/sessions/held",
            2,
            {
                "kind": "drop_in",
                "mode": "face_to_face_base",
                "location": "peer_support_base",
                "worker_ids": [worker],
                "actual_start_at": (NOW - timedelta(hours=3)).isoformat(),
                "duration_minutes": 60,
                "attendance": [{"person_id": person, "status": "attended"}],
            },
        ),
        (
            "/sessions",
            1,
            {
                "kind": "drop_in",
                "mode": "face_to_face_base",
                "location": "peer_support_base",
                "worker_ids": [worker],
                "planned_start_at": (NOW + timedelta(days=2)).isoformat(),
                "planned_duration_minutes": 60,
            },
        ),
        (
            "/plans",
            1,
            {
                "person_id": person,
                "kind": "recovery_wellbeing",
                "content": {
                    "goals": [
                        {
                            "goal_id": str(uuid.uuid4()),
                            "life_area": "connection_and_community",
                            "text_id": ok(
                                lead.post("/texts", {"person_id": person, "text": "Walk daily"}),
                                201,
                            )["text_id"],
                            "progress": 2,
                        }
                    ]
                },
            },
        ),
        ("/signposting", 1, {"person_id": person, "destination": "housing"}),
    ]
    for path, version, body in creates:
        response = lead.post(path, body, headers=stale)
        assert response.status_code == 201, (path, response.text)
        assert response.json()["version"] == version, path
        assert response.headers["ETag"] == f'"{version}"', path


def test_bad_input_on_every_endpoint_names_the_field_and_changes_nothing(api, endpoints, auth):
    worker = f"pw-bad-{uuid.uuid4().hex[:6]}"
    on_workforce(api, worker)
    person = register_person(api)
    lead = api()
    group = ok(
        lead.post(
            "/groups",
            {
                "name": "Tuesday peer group",
                "kind": "weekly_peer_group",
                "capacity": 8,
                "facilitator_ids": [worker],
            },
        ),
        201,
    )
    gid = group["group_id"]
    session = ok(
        lead.post(
            "/sessions/held",
            {
                "kind": "drop_in",
                "mode": "face_to_face_base",
                "location": "peer_support_base",
                "worker_ids": [worker],
                "actual_start_at": (NOW - timedelta(hours=3)).isoformat(),
                "duration_minutes": 90,
                "attendance": [{"person_id": person, "status": "attended"}],
                "anonymous_attendees": 4,
            },
        ),
        201,
    )
    assert session["anonymous_attendees"] == 4
    sid = session["session_id"]
    plan = ok(
        lead.post(
            "/plans",
            {
                "person_id": person,
                "kind": "recovery_wellbeing",
                "content": {
                    "goals": [
                        {
                            "goal_id": str(uuid.uuid4()),
                            "life_area": "connection_and_community",
                            "text_id": ok(
                                lead.post("/texts", {"person_id": person, "text": "Join a choir"}),
                                201,
                            )["text_id"],
                            "progress": 3,
                        }
                    ]
                },
            },
        ),
        201,
    )
    pid = plan["plan_id"]
    signposting = ok(
        lead.post("/signposting", {"person_id": person, "destination": "housing"}), 201
    )
    spid = signposting["signposting_id"]
    tomorrow = (TODAY + timedelta(days=1)).isoformat()
    cases = [
        (
            "/sessions",
            {
                "kind": "group",
                "mode": "phone",
                "location": "remote",
                "worker_ids": [worker],
                "planned_start_at": "soon",
            },
            "planned_start_at",
        ),
        (
            "/sessions",
            {
                "kind": "one_to_one",
                "mode": "phone",
                "location": "remote",
                "worker_ids": [worker],
                "planned_start_at": NOW.isoformat(),
            },
            "referral_id",
        ),
        (
            "/sessions",
            {
                "kind": "seance",
                "mode": "phone",
                "location": "remote",
                "worker_ids": [worker],
                "planned_start_at": NOW.isoformat(),
            },
            "kind",
        ),
        (
            "/sessions/held",
            {
                "kind": "drop_in",
                "mode": "carrier_pigeon",
                "location": "remote",
                "worker_ids": [worker],
                "actual_start_at": NOW.isoformat(),
                "duration_minutes": 10,
            },
            "mode",
        ),
        (
            "/sessions/held",
            {
                "kind": "drop_in",
                "mode": "phone",
                "location": "remote",
                "worker_ids": [],
                "actual_start_at": NOW.isoformat(),
                "duration_minutes": 10,
            },
            "worker_ids",
        ),
        (
            "/sessions/held",
            {
                "kind": "drop_in",
                "mode": "phone",
                "location": "remote",
                "worker_ids": [worker],
                "actual_start_at": "2026-01-01T10:00:00",
                "duration_minutes": 10,
            },
            "actual_start_at",
        ),
        (
            "/sessions/held",
            {
                "kind": "drop_in",
                "mode": "phone",
                "location": "remote",
                "worker_ids": [worker],
                "actual_start_at": (NOW - timedelta(hours=5)).isoformat(),
                "duration_minutes": 10,
                "attendance": [{"person_id": str(uuid.uuid4()), "status": "attended"}],
            },
            "attendance.0.person_id",
        ),
        (
            "/sessions/held",
            {
                "kind": "drop_in",
                "mode": "phone",
                "location": "remote",
                "worker_ids": [worker],
                "actual_start_at": (NOW - timedelta(hours=5)).isoformat(),
                "duration_minutes": 10,
                "attendance": [
                    {"person_id": person, "status": "attended"},
                    {"person_id": str(uuid.uuid4()), "status": "attended"},
                ],
            },
            "attendance.1.person_id",
        ),
        (f"/sessions/{sid}/record", {"duration_minutes": 5}, "actual_start_at"),
        (f"/sessions/{sid}/cancel", {"cancelled_by": "weather", "reason": "other"}, "cancelled_by"),
        (f"/sessions/{sid}/attendance", {"person_id": "nobody", "status": "attended"}, "person_id"),
        (f"/sessions/{sid}/attendance", {"person_id": person, "status": "asleep"}, "status"),
        (
            f"/sessions/{sid}/attendance/correct",
            {"person_id": person, "status": "attended"},
            "reason",
        ),
        (f"/sessions/{sid}/anonymous-attendees", {"count": -1}, "count"),
        (f"/sessions/{sid}/anonymous-attendees/correct", {"count": 3}, "reason"),
        (f"/sessions/{sid}/notes", {"themes": ["astrology"]}, "themes.0"),
        (f"/sessions/{sid}/notes", {"text": "Came with a friend"}, "about_person_id"),
        (f"/sessions/{sid}/notes", {"text": "x" * 20_001, "about_person_id": person}, "text"),
        (
            "/groups",
            {"name": "", "kind": "weekly_peer_group", "capacity": 5, "facilitator_ids": [worker]},
            "name",
        ),
        (
            "/groups",
            {"name": "G", "kind": "weekly_peer_group", "capacity": 0, "facilitator_ids": [worker]},
            "capacity",
        ),
        (
            "/groups",
            {
                "name": "G",
                "kind": "weekly_peer_group",
                "capacity": 3,
                "facilitator_ids": [worker],
                "on": tomorrow,
            },
            "on",
        ),
        (f"/groups/{gid}/join", {"person_id": str(uuid.uuid4())}, "person_id"),
        (f"/groups/{gid}/leave", {"person_id": person, "reason": "bored"}, "reason"),
        (f"/groups/{gid}/capacity", {"capacity": "many"}, "capacity"),
        (f"/groups/{gid}/facilitators", {}, "worker_id"),
        (f"/groups/{gid}/facilitators/remove", {"worker_id": ""}, "worker_id"),
        (f"/groups/{gid}/close", {"reason": "tired"}, "reason"),
        ("/texts", {"person_id": person, "text": ""}, "text"),
        ("/plans", {"person_id": person, "kind": "recovery_wellbeing", "content": {}}, "content"),
        (
            "/plans",
            {
                "person_id": person,
                "kind": "crisis_safety",
                "content": {
                    "people": [{"type": "family_member", "contact_text_id": str(uuid.uuid4())}]
                },
            },
            "content",
        ),
        ("/plans", {"person_id": person, "kind": "wish_list", "content": {}}, "kind"),
        (
            f"/plans/{pid}/revise",
            {"kind": "recovery_wellbeing", "content": {"goals": []}, "reason": "whim"},
            "reason",
        ),
        (f"/plans/{pid}/review", {"outcome": "great"}, "outcome"),
        (f"/plans/{pid}/review-interval", {"review_interval_days": 1}, "review_interval_days"),
        (f"/plans/{pid}/close", {"reason": "support_ended", "on": tomorrow}, "on"),
        ("/signposting", {"person_id": person, "destination": "moon"}, "destination"),
        (f"/signposting/{spid}/outcome", {"outcome": "maybe"}, "outcome"),
        (f"/signposting/{spid}/outcome/correct", {"outcome": "taken_up"}, "reason"),
        (
            f"/people/{person}/measures",
            {
                "measure": "swemwbs",
                "timepoint": "start",
                "taken_on": TODAY.isoformat(),
                "answers": {**swemwbs(20), "feeling_useful": 6},
            },
            "answers",
        ),
        (
            f"/people/{person}/measures",
            {
                "measure": "swemwbs",
                "timepoint": "start",
                "taken_on": TODAY.isoformat(),
                "answers": {k: v for k, v in swemwbs(20).items() if k != "thinking_clearly"},
            },
            "answers",
        ),
        (
            f"/people/{person}/measures",
            {"measure": "iq", "timepoint": "start", "taken_on": TODAY.isoformat(), "answers": {}},
            "measure",
        ),
        ("/sessions", {"unexpected": 1}, "unexpected"),
    ]
    before = feed_head(endpoints, auth)
    for path, body, field in cases:
        response = lead.post(path, body)
        assert response.status_code == 422, (path, body, response.text)
        fields = response.json()["fields"]
        assert field in fields or field.split(".")[0] in fields, (path, fields)
    missing_item = lead.post(
        f"/people/{person}/measures",
        {
            "measure": "swemwbs",
            "timepoint": "start",
            "taken_on": TODAY.isoformat(),
            "answers": {k: v for k, v in swemwbs(20).items() if k != "thinking_clearly"},
        },
    )
    assert "thinking_clearly" in missing_item.text
    for path, params, field in [
        ("/sessions", {"kind": "seance"}, "kind"),
        ("/sessions", {"from": "yesterday"}, "from"),
        ("/sessions", {"from": TODAY.isoformat(), "to": "2020-01-01"}, "to"),
        ("/sessions", {"limit": 0}, "limit"),
        ("/groups", {"status": "ajar"}, "status"),
        ("/plans", {"review_overdue": "perhaps"}, "review_overdue"),
        ("/signposting", {"outcome": "x"}, "outcome"),
        ("/diary", {"to": "soon"}, "to"),
        (f"/people/{person}/timeline", {"offset": -1}, "offset"),
    ]:
        response = lead.get(path, **params)
        assert response.status_code == 422, (path, response.text)
        assert field in response.json()["fields"], (path, response.text)
    assert feed_head(endpoints, auth) == before
    assert ok(lead.get(f"/sessions/{sid}"))["version"] == session["version"]
    assert ok(lead.get(f"/plans/{pid}"))["version"] == 1


def test_plans_are_versioned_reviewed_and_overdue_reviews_listed(api):
    lead = api()
    person = register_person(api)
    goal = {
        "goal_id": str(uuid.uuid4()),
        "life_area": "housing",
        "text_id": ok(lead.post("/texts", {"person_id": person, "text": "Find a flat"}), 201)[
            "text_id"
        ],
    }
    drafted_on = TODAY - timedelta(days=40)
    plan = ok(
        lead.post(
            "/plans",
            {
                "person_id": person,
                "kind": "recovery_wellbeing",
                "content": {"goals": [goal]},
                "review_interval_days": 30,
                "on": drafted_on.isoformat(),
            },
        ),
        201,
    )
    pid = plan["plan_id"]
    overdue = ok(lead.get("/plans", person_id=person, review_overdue="true"))
    assert [p["plan_id"] for p in overdue["items"]] == [pid]
    revised = ok(
        lead.post(
            f"/plans/{pid}/revise",
            {
                "kind": "recovery_wellbeing",
                "reason": "at_review",
                "content": {"goals": [{**goal, "progress": 6, "status": "working_on"}]},
                "expected_version": 1,
            },
        )
    )
    assert revised["revision"] == 2
    reviewed = ok(lead.post(f"/plans/{pid}/review", {"outcome": "revised"}))
    assert reviewed["review_due_on"] == (TODAY + timedelta(days=30)).isoformat()
    assert ok(lead.get("/plans", person_id=person, review_overdue="true"))["total"] == 0
    history = ok(lead.get(f"/plans/{pid}/history"))["events"]
    assert [e["event_type"] for e in history] == ["PlanDrafted", "PlanRevised", "PlanReviewed"]
    assert history[0]["payload"]["content"]["goals"][0].get("progress") is None
    assert history[1]["payload"]["changed_sections"] == ["goals"]
    same = lead.post(
        f"/plans/{pid}/revise",
        {
            "kind": "recovery_wellbeing",
            "reason": "other",
            "content": {"goals": [{**goal, "progress": 6, "status": "working_on"}]},
        },
    )
    assert same.status_code == 409 and same.json()["rule"] == "RevisionMustChangeThePlan"


def test_subject_access_export_holds_the_persons_sessions_and_notes_and_nobody_elses(api):
    on_workforce(api, "pw-export")
    lead = api()
    me, other = register_person(api), register_person(api)
    session = ok(
        lead.post(
            "/sessions/held",
            {
                "kind": "drop_in",
                "mode": "face_to_face_base",
                "location": "peer_support_base",
                "worker_ids": ["pw-export"],
                "actual_start_at": (NOW - timedelta(hours=4)).isoformat(),
                "duration_minutes": 60,
                "attendance": [
                    {"person_id": me, "status": "attended"},
                    {"person_id": other, "status": "attended"},
                ],
            },
        ),
        201,
    )
    ok(
        lead.post(
            f"/sessions/{session['session_id']}/notes",
            {"themes": ["housing"], "text": "Asked about the housing list", "about_person_id": me},
        )
    )
    export = ok(api("referrals", "partner_admin").get(f"/people/{me}/export"))
    events = export["records"]["sessions"]
    assert {e["event_type"] for e in events} >= {
        "SessionRecorded",
        "AttendanceRecorded",
        "SessionNotesWritten",
    }
    assert other not in str(export)
    assert "Asked about the housing list" in export["texts"].values()


def concerns_about(lead, person: str, status: str) -> list[dict]:
    """The concerns of a status whose first event names the person (lists show no person)."""
    return [
        concern
        for concern in ok(lead.get("/concerns", status=status, limit=500))["items"]
        if ok(lead.get(f"/concerns/{concern['concern_id']}/history"))["events"][0]["payload"].get(
            "person_id"
        )
        == person
    ]


def test_three_did_not_attends_with_a_crisis_plan_suggest_a_safeguarding_concern_once(api):
    worker = f"pw-sig-{uuid.uuid4().hex[:6]}"
    person = register_person(api)
    rid = active_referral(api, person, worker)
    pw = api(role="peer_worker", user=worker)
    first = held_one_to_one(rid, worker, NOW - timedelta(days=30))
    first["attendance"] = [{"person_id": person, "status": "attended"}]
    when_sessions_sees(api, worker, first)
    ok(
        pw.post(
            "/plans",
            {
                "person_id": person,
                "kind": "crisis_safety",
                "content": {
                    "services": [{"type": "crisis_line"}],
                    "warning_signs": ["sleep_changes"],
                },
            },
        ),
        201,
    )
    for days in (21, 14, 7, 3):  # four in a row: the run of three is suggested once
        body = held_one_to_one(rid, worker, NOW - timedelta(days=days))
        body["attendance"] = [{"person_id": person, "status": "did_not_attend"}]
        ok(pw.post("/sessions/held", body), 201)
    lead = api("safeguarding", "safeguarding_lead")
    found = {}

    def suggested():
        found["items"] = concerns_about(lead, person, "suggested")
        return bool(found["items"])

    wait_for(suggested, timeout=20, message="a suggested concern")
    time.sleep(1.0)  # any second suggestion would have arrived by now
    suggested()
    assert len(found["items"]) == 1, found
    history = ok(lead.get(f"/concerns/{found['items'][0]['concern_id']}/history"))["events"]
    assert history[0]["event_type"] == "ConcernSuggested"
    assert history[0]["payload"]["signal"] == "repeated_did_not_attend"


def test_did_not_attends_without_a_crisis_plan_suggest_nothing(api):
    worker = f"pw-nosig-{uuid.uuid4().hex[:6]}"
    person = register_person(api)
    rid = active_referral(api, person, worker)
    pw = api(role="peer_worker", user=worker)
    first = held_one_to_one(rid, worker, NOW - timedelta(days=30))
    first["attendance"] = [{"person_id": person, "status": "did_not_attend"}]
    when_sessions_sees(api, worker, first)
    for days in (14, 7):
        body = held_one_to_one(rid, worker, NOW - timedelta(days=days))
        body["attendance"] = [{"person_id": person, "status": "did_not_attend"}]
        ok(pw.post("/sessions/held", body), 201)
    time.sleep(2.0)
    lead = api("safeguarding", "safeguarding_lead")
    assert concerns_about(lead, person, "any") == []
