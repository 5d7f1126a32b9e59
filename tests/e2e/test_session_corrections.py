"""Mistakes withdrawn and refused on the sessions API, end to end: voids with a reason that
leave lists, registers, timelines and the hub's figures; sure duplicates refused and likely ones
warned of; notes written once and corrected with their history; references checked."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta

import psycopg2
import pytest

from services.reporting import reports
from services.reporting.cutoffs import Cutoffs
from services.reporting.grid import MONTH, Period
from services.reporting.suppression import Policy
from tests.conftest import wait_for
from tests.e2e.test_reports import wait_until_hub_has_read_everything
from tests.e2e.test_sessions import (
    Api,
    active_referral,
    ok,
    on_workforce,
    register_person,
    swemwbs,
    wait_until_sessions_sees,
)

pytestmark = pytest.mark.e2e

TODAY = date.today()
NOW = datetime.now(UTC).replace(microsecond=0)
# an hour on a day of its own, a fortnight ago, so the figures asked for are this test's
START = (NOW - timedelta(days=14)).replace(hour=9, minute=0, second=0)


@pytest.fixture(scope="module")
def api(endpoints, auth):
    def make(service="sessions", role="team_lead", user=None, partner="leeds-mind"):
        return Api(endpoints["partners"][partner][service], auth(role, partner, user))

    return make


def hub_figures(stack_state, day: date) -> dict:
    """The hub's sessions, attendance, signposting and wellbeing figures for leeds-mind on one
    day, as at the latest cut-off, unrounded, straight from its facts (a day is off the grid:
    never published)."""
    policy = Policy(up_to=0, round_to=1)
    conn = psycopg2.connect(stack_state["owner_dsn"]["peerlink_hub"])
    try:
        with conn, conn.cursor() as cur:
            day_alone = Period(MONTH, day, day)
            scope = reports.Scope(("leeds-mind",), day_alone, Cutoffs(cur).latest())
            return {
                "sessions": reports.sessions_held(cur, scope, policy)["tables"][0]["totals"],
                "attendance": reports.attendance(cur, scope, policy)["tables"][0]["totals"],
                "signposting": reports.signposting(cur, scope, policy)["tables"][0]["totals"],
                "wellbeing": reports.wellbeing(cur, scope, policy)["tables"][0]["totals"],
            }
    finally:
        conn.close()


def a_group(api, facilitator: str, people: list[str]) -> str:
    on_workforce(api, facilitator)
    lead = api()
    group = ok(
        lead.post(
            "/groups",
            {
                "name": "  Thursday walk  ",
                "kind": "social_activity",
                "capacity": 10,
                "facilitator_ids": [facilitator],
                "on": (TODAY - timedelta(days=30)).isoformat(),
            },
        ),
        201,
    )
    assert group["name"] == "Thursday walk"
    for person in people:
        ok(lead.post(f"/groups/{group['group_id']}/join", {"person_id": person}))
    return group["group_id"]


def group_held(gid: str, worker: str, people: list[str], start: datetime = START) -> dict:
    return {
        "kind": "group",
        "group_id": gid,
        "mode": "community_venue",
        "location": "community_venue",
        "worker_ids": [worker],
        "actual_start_at": start.isoformat(),
        "duration_minutes": 90,
        "attendance": [{"person_id": p, "status": "attended"} for p in people],
    }


def test_voids_leave_the_register_the_timeline_and_the_hubs_figures(
    api, endpoints, auth, stack_state
):
    facilitator = f"pw-void-{uuid.uuid4().hex[:6]}"
    people = [register_person(api) for _ in range(3)]
    gid = a_group(api, facilitator, people)
    lead, pw = api(), api(role="peer_worker", user=facilitator)
    hub = Api(endpoints["hub"]["reporting"], auth("alliance_analyst", "alliance"))
    wait_until_hub_has_read_everything(endpoints, auth, hub)
    before = hub_figures(stack_state, START.date())

    held = ok(pw.post("/sessions/held", group_held(gid, facilitator, people)), 201)
    # the same group at the same start again: a sure duplicate, refused, nothing recorded
    again = pw.post("/sessions/held", group_held(gid, facilitator, people))
    assert again.status_code == 409, again.text
    assert again.json()["rule"] == "GroupSessionIsRecordedOncePerStart"
    sessions = ok(lead.get("/sessions", group_id=gid))
    assert sessions["total"] == 1

    # one person was never there: their attendance is voided, with a reason
    sid = held["session_id"]
    refused = pw.post(f"/sessions/{sid}/attendance/void", {"person_id": people[2]})
    assert refused.status_code == 422 and "reason" in refused.json()["fields"]
    voided = ok(
        pw.post(
            f"/sessions/{sid}/attendance/void",
            {"person_id": people[2], "reason": "wrong_person"},
        )
    )
    assert [a["person_id"] for a in voided["attendance"]] == people[:2]
    register = ok(lead.get(f"/groups/{gid}/register"))
    totals = {row["person_id"]: row["totals"] for row in register["people"]}
    assert totals[people[2]] == {} and totals[people[0]] == {"attended": 1}
    timeline = ok(lead.get(f"/people/{people[2]}/timeline"))
    shown = [i["event_type"] for i in timeline["items"]]
    assert "AttendanceVoided" in shown and "AttendanceRecorded" not in shown

    # a signposting and a measure recorded for the wrong person, then voided
    signposting = ok(
        lead.post(
            "/signposting",
            {
                "person_id": people[0],
                "destination": "housing",
                "session_id": sid,
                "on": START.date().isoformat(),
            },
        ),
        201,
    )
    measure = ok(
        lead.post(
            f"/people/{people[0]}/measures",
            {
                "measure": "swemwbs",
                "timepoint": "start",
                "answers": swemwbs(20),
                "taken_on": START.date().isoformat(),
            },
        ),
        201,
    )
    number = measure["measures"][-1]["number"]
    wait_until_hub_has_read_everything(endpoints, auth, hub)
    during = hub_figures(stack_state, START.date())
    assert during["sessions"]["total"] == before["sessions"]["total"] + 1
    assert during["attendance"]["total"] == before["attendance"]["total"] + 2
    assert during["signposting"]["total"] == before["signposting"]["total"] + 1

    ok(
        lead.post(
            f"/signposting/{signposting['signposting_id']}/void", {"reason": "recorded_in_error"}
        )
    )
    after_measure = ok(
        lead.post(f"/people/{people[0]}/measures/{number}/void", {"reason": "wrong_person"})
    )
    assert number not in [m["number"] for m in after_measure["measures"]]
    listed = ok(lead.get("/signposting", person_id=people[0]))
    assert listed["total"] == 0
    # the whole session was a duplicate of one recorded elsewhere: voided, with who and why
    session = ok(pw.post(f"/sessions/{sid}/void", {"reason": "duplicate"}))
    assert session["status"] == "voided" and session["voided"]["reason"] == "duplicate"
    assert ok(lead.get("/sessions", group_id=gid))["total"] == 0
    assert ok(lead.get("/sessions", group_id=gid, status="voided"))["total"] == 1
    assert ok(lead.get(f"/groups/{gid}/register"))["sessions"] == []
    shown = [i["event_type"] for i in ok(lead.get(f"/people/{people[0]}/timeline"))["items"]]
    assert "AttendanceRecorded" not in shown and "SessionVoided" in shown
    history = ok(lead.get(f"/sessions/{sid}/history"))["events"]
    assert history[-1]["event_type"] == "SessionVoided"
    assert history[-1]["actor"]["user_id"] == facilitator
    refused = pw.post(f"/sessions/{sid}/void", {"reason": "duplicate"})
    assert refused.status_code == 409 and refused.json()["rule"] == "VoidedRecordCannotChange"

    wait_until_hub_has_read_everything(endpoints, auth, hub)
    after = hub_figures(stack_state, START.date())
    assert after == before


def test_a_one_to_one_for_the_same_person_within_the_hour_is_kept_with_a_warning(api, stack_state):
    worker = f"pw-dup-{uuid.uuid4().hex[:6]}"
    person = register_person(api)
    rid = active_referral(api, person, worker)
    wait_until_sessions_sees(stack_state, rid, "active")
    pw = api(role="peer_worker", user=worker)
    body = {
        "kind": "one_to_one",
        "referral_id": rid,
        "mode": "phone",
        "location": "remote",
        "worker_ids": [worker],
        "actual_start_at": (NOW - timedelta(hours=3)).isoformat(),
        "duration_minutes": 30,
    }
    first = ok(pw.post("/sessions/held", body), 201)
    assert first["warnings"] == []
    second = ok(
        pw.post(
            "/sessions/held",
            {**body, "actual_start_at": (NOW - timedelta(hours=2, minutes=30)).isoformat()},
        ),
        201,
    )
    [warning] = second["warnings"]
    assert warning["rule"] == "OneToOneLikelyRecordedTwice"
    assert warning["session_ids"] == [first["session_id"]]


def test_notes_are_written_once_held_and_corrected_with_a_reason_keeping_their_history(
    api, stack_state
):
    worker = f"pw-notes-{uuid.uuid4().hex[:6]}"
    person = register_person(api)
    rid = active_referral(api, person, worker)
    wait_until_sessions_sees(stack_state, rid, "active")
    pw = api(role="peer_worker", user=worker)
    booked = ok(
        pw.post(
            "/sessions",
            {
                "kind": "one_to_one",
                "referral_id": rid,
                "mode": "phone",
                "location": "remote",
                "worker_ids": [worker],
                "planned_start_at": (NOW + timedelta(days=7)).isoformat(),
            },
        ),
        201,
    )
    early = pw.post(f"/sessions/{booked['session_id']}/notes", {"themes": ["sleep"]})
    assert early.status_code == 409
    assert early.json()["rule"] == "NotesAreWrittenOnceTheSessionIsHeld"

    held = ok(
        pw.post(
            "/sessions/held",
            {
                "kind": "one_to_one",
                "referral_id": rid,
                "mode": "phone",
                "location": "remote",
                "worker_ids": [worker],
                "actual_start_at": (NOW - timedelta(days=1)).isoformat(),
                "duration_minutes": 40,
                "attendance": [{"person_id": person, "status": "attended"}],
            },
        ),
        201,
    )
    sid = held["session_id"]
    # what would not be kept is refused: a text id made elsewhere, whom words are about
    # without any words
    for body, field in (
        ({"themes": ["sleep"], "notes_text_id": str(uuid.uuid4())}, "notes_text_id"),
        ({"themes": ["sleep"], "about_person_id": person}, "about_person_id"),
    ):
        answer = pw.post(f"/sessions/{sid}/notes", body)
        assert answer.status_code == 422 and field in answer.json()["fields"], answer.text
    assert ok(pw.get(f"/sessions/{sid}"))["notes"] is None
    ok(pw.post(f"/sessions/{sid}/notes", {"themes": ["sleep"], "text": "Slept badly."}))
    second = pw.post(f"/sessions/{sid}/notes", {"themes": ["anxiety"], "text": "Overwrites?"})
    assert second.status_code == 409 and second.json()["rule"] == "NotesAreWrittenOnce"
    no_reason = pw.post(f"/sessions/{sid}/notes/correct", {"themes": ["anxiety"]})
    assert no_reason.status_code == 422 and "reason" in no_reason.json()["fields"]
    ok(
        pw.post(
            f"/sessions/{sid}/notes/correct",
            {
                "themes": ["anxiety"],
                "text": "Slept badly; anxious about housing.",
                "reason": "new_information",
            },
        )
    )
    notes = ok(pw.get(f"/sessions/{sid}/notes"))["notes"]
    assert notes["themes"] == ["anxiety"] and notes["text"].endswith("housing.")
    history = ok(pw.get(f"/sessions/{sid}/notes/history"))["history"]
    assert [h["event_type"] for h in history] == ["SessionNotesWritten", "SessionNotesCorrected"]
    assert history[0]["text"] == "Slept badly." and history[1]["reason"] == "new_information"
    assert history[1]["by"] == worker
    outsider = api(role="peer_worker", user=f"pw-other-{uuid.uuid4().hex[:6]}")
    assert outsider.get(f"/sessions/{sid}/notes/history").status_code == 403
    audit = ok(api("referrals", "partner_admin").get("/audit", person_id=person, limit=500))
    assert any("notes" in (e.get("fields") or []) for e in audit["entries"])


def test_signposting_names_this_persons_own_session_and_referral(api, stack_state):
    worker = f"pw-sign-{uuid.uuid4().hex[:6]}"
    person, other = register_person(api), register_person(api)
    rid = active_referral(api, person, worker)
    other_rid = active_referral(api, other, worker)
    wait_until_sessions_sees(stack_state, other_rid, "active")
    lead = api()
    base = {"person_id": person, "destination": "housing"}
    unknown = lead.post("/signposting", {**base, "session_id": "bogus-session"})
    assert unknown.status_code == 404, unknown.text
    theirs = lead.post("/signposting", {**base, "referral_id": other_rid})
    assert theirs.status_code == 422 and "referral_id" in theirs.json()["fields"]
    assert lead.post("/signposting", {**base, "referral_id": "no-such"}).status_code == 404
    ok(lead.post("/signposting", {**base, "referral_id": rid}), 201)
    assert ok(lead.get("/signposting", person_id=person))["total"] == 1


def test_one_open_crisis_and_safety_plan_per_person(api):
    person = register_person(api)
    lead = api()
    plan = {
        "person_id": person,
        "kind": "crisis_safety",
        "content": {"services": [{"type": "crisis_line"}]},
    }
    first = ok(lead.post("/plans", plan), 201)
    second = lead.post("/plans", plan)
    assert second.status_code == 409
    assert second.json()["rule"] == "OneOpenCrisisAndSafetyPlanPerPerson"
    ok(lead.post(f"/plans/{first['plan_id']}/close", {"reason": "replaced_by_another_plan"}))
    ok(lead.post("/plans", plan), 201)
    wrong_kind = lead.post(
        "/plans", {**plan, "content": {"goals": [], "services": [{"type": "crisis_line"}]}}
    )
    assert wrong_kind.status_code == 422
    assert "goals is not part of this kind of plan" in wrong_kind.json()["message"]


def test_answers_agree_on_blank_text_future_dates_and_unknown_references(api, stack_state):
    person = register_person(api)
    lead = api()
    blank = lead.post(
        "/groups",
        {"name": "   ", "kind": "social_activity", "capacity": 3, "facilitator_ids": ["   "]},
    )
    assert blank.status_code == 422
    assert set(blank.json()["fields"]) == {"name", "facilitator_ids"}
    future = lead.post(
        f"/people/{person}/measures",
        {
            "measure": "swemwbs",
            "timepoint": "start",
            "answers": swemwbs(20),
            "taken_on": (TODAY + timedelta(days=3)).isoformat(),
        },
    )
    assert future.status_code == 422 and "taken_on" in future.json()["fields"]
    unknown = lead.post(
        "/sessions",
        {
            "kind": "one_to_one",
            "referral_id": "someone-elses",
            "mode": "phone",
            "location": "remote",
            "worker_ids": ["w1"],
            "planned_start_at": (NOW + timedelta(days=1)).isoformat(),
        },
    )
    assert unknown.status_code == 404, unknown.text
    outcome = lead.post(f"/signposting/{uuid.uuid4()}/outcome", {"outcome": "unknown"})
    assert outcome.status_code == 422 and "outcome" in outcome.json()["fields"]
    refused = api(role="partner_admin").get("/diary")
    analyst_refused = api(role="peer_worker", user="pw-x").post("/texts", {})
    for response in (refused, analyst_refused):
        if response.status_code == 403:
            assert " may not " in response.json()["message"]


def test_a_facilitator_reads_their_members_names_on_the_register_audited(api):
    facilitator = f"pw-names-{uuid.uuid4().hex[:6]}"
    people = [register_person(api) for _ in range(2)]
    gid = a_group(api, facilitator, people)
    pw = api(role="peer_worker", user=facilitator)
    register = ok(pw.get(f"/groups/{gid}/register", names="true"))
    names = [row["full_name"] for row in register["people"]]
    assert all(name.startswith("Sam Sessions-") for name in names)
    assert "full_name" not in ok(pw.get(f"/groups/{gid}/register"))["people"][0]
    other = api(role="peer_worker", user=f"pw-notfac-{uuid.uuid4().hex[:6]}")
    refused = other.get(f"/groups/{gid}/register", names="true")
    assert refused.status_code == 403 and "facilitators" in refused.json()["message"]

    def audited():
        admin = api("referrals", "partner_admin")
        trail = ok(admin.get("/audit", person_id=people[0], limit=500))["entries"]
        return any(
            e["action"] == "read"
            and "full_name" in (e.get("fields") or [])
            and e.get("user_id") == facilitator
            for e in trail
        )

    wait_for(audited, timeout=10, message="the facilitator's read of the name to be audited")


def test_a_peer_worker_reads_who_is_in_a_group_only_if_they_facilitate_it(api):
    # given a group facilitated by one peer worker, with two members
    facilitator = f"pw-members-{uuid.uuid4().hex[:6]}"
    people = [register_person(api) for _ in range(2)]
    gid = a_group(api, facilitator, people)
    # when another peer worker of the partner asks who is in it
    other = api(role="peer_worker", user=f"pw-outside-{uuid.uuid4().hex[:6]}")
    for path in (f"/groups/{gid}", f"/groups/{gid}/register"):
        answer = other.get(path)
        # then they are refused, naming the rule, and no person id is in the answer
        assert answer.status_code == 403, answer.text
        assert "PeerWorkerSeesOnlyTheMembersOfGroupsTheyFacilitate" in answer.json()["message"]
        assert not any(person in answer.text for person in people)
    # while the group's own facilitator and the team lead read them
    mine = api(role="peer_worker", user=facilitator)
    assert ok(mine.get(f"/groups/{gid}"))["members"] == people
    assert {r["person_id"] for r in ok(api().get(f"/groups/{gid}/register"))["people"]} == set(
        people
    )
    # and the list of groups shows no one's id to anyone
    listed = ok(other.get("/groups", facilitator_id=facilitator))["items"]
    assert [g["group_id"] for g in listed] == [gid] and listed[0]["members"] == 2


def test_two_requests_for_the_same_group_session_at_once_record_it_once(api):
    facilitator = f"pw-race-{uuid.uuid4().hex[:6]}"
    people = [register_person(api)]
    gid = a_group(api, facilitator, people)
    # two clients of the same worker, each with a connection of its own
    clients = [api(role="peer_worker", user=facilitator) for _ in range(2)]
    for round_ in range(4):
        start = START - timedelta(days=1 + round_)
        body = group_held(gid, facilitator, people, start)
        ready = threading.Barrier(2)

        def send(client, body=body, ready=ready):
            ready.wait(timeout=10)
            return client.post("/sessions/held", body)

        with ThreadPoolExecutor(max_workers=2) as pool:
            answers = list(pool.map(send, clients))
        assert sorted(a.status_code for a in answers) == [201, 409], [a.text for a in answers]
        [refusal] = [a.json() for a in answers if a.status_code == 409]
        assert refusal["rule"] == "GroupSessionIsRecordedOncePerStart"
        at_start = ok(api().get("/sessions", group_id=gid, **{"from": start.date().isoformat()}))
        assert len([s for s in at_start["items"] if s["starts_at"] == start.isoformat()]) == 1
