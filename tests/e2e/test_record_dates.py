"""Dates a worker gives are within the record's timeline and no earlier than the partner's
earliest date: sessions within their referral's received and discharge dates, measures,
signposting and concerns not before the floor. Each refusal names the field (422) or the rule
(409), and nothing is recorded."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta

import psycopg2
import pytest
import requests

from contracts.sessions.measures import SWEMWBS_ITEMS
from tests.conftest import wait_for

pytestmark = pytest.mark.e2e

TODAY = date.today()
PARTNER = "leeds-mind"


def days_ago(days: int) -> date:
    return TODAY - timedelta(days=days)


def at_ten(day: date) -> str:
    return datetime.combine(day, time(10), tzinfo=UTC).isoformat()


class Api:
    def __init__(self, base: str, headers: dict):
        self.base = base
        self.session = requests.Session()
        self.session.headers.update(headers)

    def get(self, path, **params):
        return self.session.get(self.base + path, params=params, timeout=15)

    def post(self, path, body=None):
        return self.session.post(self.base + path, json={} if body is None else body, timeout=15)


@pytest.fixture(scope="module")
def api(endpoints, auth):
    def make(service="sessions", role="team_lead", user=None):
        return Api(endpoints["partners"][PARTNER][service], auth(role, PARTNER, user))

    return make


def ok(response, status=200) -> dict:
    assert response.status_code == status, response.text
    return response.json()


def refused(response, status: int, rule: str, field: str | None = None) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["rule"] == rule, body
    if field is not None:
        assert field in body["fields"], body
    return body


def register_person(api) -> str:
    body = {"full_name": f"Dana Dates-{uuid.uuid4().hex[:10]}", "date_of_birth": "1980-05-06"}
    return ok(api("referrals").post("/people", body), 201)["person_id"]


def active_referral(api, person: str, worker: str, received: date, contacted: date | None) -> str:
    """A referral received on `received`, accepted and allocated the same day, first contact on
    `contacted` (none recorded when None: it stays allocated)."""
    admin = api("referrals", "partner_admin")
    assert admin.post("/workers", {"worker_id": worker}).status_code in (201, 409)
    lead = api("referrals")
    body = {"person_id": person, "source": "gp", "received_on": received.isoformat()}
    rid = ok(lead.post("/referrals", body), 201)["referral_id"]
    ok(lead.post(f"/referrals/{rid}/accept", {"on": received.isoformat()}))
    ok(lead.post(f"/referrals/{rid}/allocate", {"worker_id": worker, "on": received.isoformat()}))
    if contacted is not None:
        ok(lead.post(f"/referrals/{rid}/first-contact", {"on": contacted.isoformat()}))
    return rid


def sessions_sees(stack_state, referral_id: str, column: str, value) -> None:
    """Wait until the sessions service's view of the referral (fed by the referrals service's
    events) has `column` = `value`."""
    conn = psycopg2.connect(stack_state["owner_dsn"]["peerlink_leeds_mind"])
    conn.autocommit = True
    try:
        with conn.cursor() as cur:

            def seen():
                cur.execute(
                    f"SELECT {column} FROM sessions.referral_status WHERE referral_id = %s",
                    (referral_id,),
                )
                row = cur.fetchone()
                return row is not None and row[0] == value

            wait_for(seen, timeout=20, message=f"sessions never saw {referral_id} {value}")
    finally:
        conn.close()


def one_to_one(referral_id: str, worker: str, day: date) -> dict:
    return {
        "kind": "one_to_one",
        "referral_id": referral_id,
        "mode": "phone",
        "location": "remote",
        "worker_ids": [worker],
        "actual_start_at": at_ten(day),
        "duration_minutes": 50,
    }


def sessions_of(api, referral_id: str) -> int:
    return ok(api().get("/sessions", referral_id=referral_id))["total"]


@pytest.fixture
def referral(api, stack_state):
    """An active referral received 60 days ago, first contact 40 days ago."""
    worker = f"pw-dates-{uuid.uuid4().hex[:6]}"
    person = register_person(api)
    rid = active_referral(api, person, worker, days_ago(60), days_ago(40))
    sessions_sees(stack_state, rid, "status", "active")
    return {"referral_id": rid, "person_id": person, "worker": worker}


def test_a_session_held_in_1990_is_refused_naming_the_field_and_nothing_is_recorded(api, referral):
    rid, worker = referral["referral_id"], referral["worker"]
    pw = api(role="peer_worker", user=worker)
    body = one_to_one(rid, worker, date(1990, 1, 1))
    refused(
        pw.post("/sessions/held", body), 422, "DateMustNotPrecedeTheEarliestDate", "actual_start_at"
    )
    booking = {
        **{k: v for k, v in body.items() if k not in ("actual_start_at", "duration_minutes")},
        "planned_start_at": at_ten(date(1999, 12, 31)),
        "planned_duration_minutes": 50,
    }
    refused(
        pw.post("/sessions", booking), 422, "DateMustNotPrecedeTheEarliestDate", "planned_start_at"
    )
    drop_in = {
        "kind": "drop_in",
        "mode": "community_venue",
        "location": "community_venue",
        "worker_ids": [worker],
        "actual_start_at": at_ten(date(1990, 1, 1)),
        "duration_minutes": 60,
    }
    refused(
        pw.post("/sessions/held", drop_in),
        422,
        "DateMustNotPrecedeTheEarliestDate",
        "actual_start_at",
    )
    assert sessions_of(api, rid) == 0
    assert ok(api().get("/sessions", **{"from": "1989-12-01", "to": "2000-01-01"}))["total"] == 0


def test_a_one_to_one_before_the_referral_was_received_is_a_conflict_and_nothing_is_recorded(
    api, referral
):
    rid, worker = referral["referral_id"], referral["worker"]
    pw = api(role="peer_worker", user=worker)
    body = refused(
        pw.post("/sessions/held", one_to_one(rid, worker, days_ago(61))),
        409,
        "SessionCannotPrecedeTheReferral",
    )
    assert days_ago(60).isoformat() in body["message"]
    assert sessions_of(api, rid) == 0


def test_a_one_to_one_before_the_first_contact_is_a_conflict_unless_it_was_that_contact(
    api, referral
):
    rid, worker = referral["referral_id"], referral["worker"]
    pw = api(role="peer_worker", user=worker)
    # received 60 days ago, first contact 40 days ago: a session 50 days ago contradicts it
    body = refused(
        pw.post("/sessions/held", one_to_one(rid, worker, days_ago(50))),
        409,
        "SessionCannotPrecedeTheFirstContact",
    )
    assert days_ago(40).isoformat() in body["message"] and "first_contact_on" in body["message"]
    booking = {
        **{
            k: v
            for k, v in one_to_one(rid, worker, days_ago(50)).items()
            if k not in ("actual_start_at", "duration_minutes")
        },
        "planned_start_at": at_ten(days_ago(45)),
        "planned_duration_minutes": 50,
    }
    refused(pw.post("/sessions", booking), 409, "SessionCannotPrecedeTheFirstContact")
    assert sessions_of(api, rid) == 0
    # the session on the day of the first contact may be that contact itself
    ok(pw.post("/sessions/held", one_to_one(rid, worker, days_ago(40))), 201)
    assert sessions_of(api, rid) == 1


def test_a_discharge_or_first_contact_is_not_dated_across_a_session_held(api, referral):
    rid, worker = referral["referral_id"], referral["worker"]
    pw = api(role="peer_worker", user=worker)
    ok(pw.post("/sessions/held", one_to_one(rid, worker, days_ago(30))), 201)
    referrals = api("referrals", "peer_worker", worker)
    early = {"reason": "goals_met", "on": days_ago(35).isoformat()}
    body = refused(
        referrals.post(f"/referrals/{rid}/discharge", early),
        409,
        "DischargeCannotPrecedeASessionHeld",
    )
    assert days_ago(30).isoformat() in body["message"]
    late = {"field": "first_contact_on", "value": days_ago(25).isoformat(), "reason": "typo"}
    refused(
        api("referrals").post(f"/referrals/{rid}/correct", late),
        409,
        "FirstContactCannotFollowASessionHeld",
    )
    read = ok(referrals.get(f"/referrals/{rid}"))
    assert read["status"] == "active" and read["corrections"] == []
    # on the day of the last session held it is within the timeline
    on_the_day = {"reason": "goals_met", "on": days_ago(30).isoformat()}
    assert ok(referrals.post(f"/referrals/{rid}/discharge", on_the_day))["status"] == "discharged"


def test_a_corrected_received_date_and_first_contact_are_followed(api, stack_state, referral):
    rid, worker = referral["referral_id"], referral["worker"]
    pw = api(role="peer_worker", user=worker)
    refused(
        pw.post("/sessions/held", one_to_one(rid, worker, days_ago(70))),
        409,
        "SessionCannotPrecedeTheReferral",
    )
    lead = api("referrals")
    correction = {"field": "received_on", "value": days_ago(90).isoformat(), "reason": "typo"}
    ok(lead.post(f"/referrals/{rid}/correct", correction))
    sessions_sees(stack_state, rid, "received_on", days_ago(90))
    # within the corrected received date, but still before the first contact
    refused(
        pw.post("/sessions/held", one_to_one(rid, worker, days_ago(70))),
        409,
        "SessionCannotPrecedeTheFirstContact",
    )
    # the session 70 days ago was the first contact: the worker corrects the referral's date
    for field, value in (("accepted_on", 75), ("allocated_on", 75), ("first_contact_on", 70)):
        change = {"field": field, "value": days_ago(value).isoformat(), "reason": "as it was"}
        ok(lead.post(f"/referrals/{rid}/correct", change))
    sessions_sees(stack_state, rid, "first_contact_on", days_ago(70))
    ok(pw.post("/sessions/held", one_to_one(rid, worker, days_ago(70))), 201)
    assert sessions_of(api, rid) == 1


def test_a_booked_one_to_one_is_not_recorded_as_held_after_the_discharge(
    api, stack_state, referral
):
    rid, worker = referral["referral_id"], referral["worker"]
    pw = api(role="peer_worker", user=worker)
    booking = {
        "kind": "one_to_one",
        "referral_id": rid,
        "mode": "phone",
        "location": "remote",
        "worker_ids": [worker],
        "planned_start_at": at_ten(days_ago(10)),
        "planned_duration_minutes": 50,
    }
    session = ok(pw.post("/sessions", booking), 201)
    discharge = {"reason": "goals_met", "on": days_ago(20).isoformat()}
    ok(api("referrals", "peer_worker", worker).post(f"/referrals/{rid}/discharge", discharge))
    sessions_sees(stack_state, rid, "ended_on", days_ago(20))
    held = {"actual_start_at": at_ten(days_ago(10)), "duration_minutes": 50}
    body = refused(
        pw.post(f"/sessions/{session['session_id']}/record", held),
        409,
        "SessionCannotFollowTheDischarge",
    )
    assert days_ago(20).isoformat() in body["message"]
    assert ok(pw.get(f"/sessions/{session['session_id']}"))["status"] == "booked"
    # on the day of the discharge it is within the timeline
    held["actual_start_at"] = at_ten(days_ago(20))
    assert ok(pw.post(f"/sessions/{session['session_id']}/record", held))["status"] == "held"


def swemwbs_for(referral_id: str, day: date) -> dict:
    return {
        "measure": "swemwbs",
        "timepoint": "start",
        "taken_on": day.isoformat(),
        "answers": dict.fromkeys(SWEMWBS_ITEMS, 3),
        "referral_id": referral_id,
    }


def measures_of(api, person: str) -> list[dict]:
    response = api().get(f"/people/{person}/measures")
    if response.status_code == 404:  # no measure was ever recorded for them
        return []
    return ok(response)["measures"]


def test_a_measure_before_the_first_contact_is_a_conflict_unless_taken_at_it(api, referral):
    rid, person, worker = referral["referral_id"], referral["person_id"], referral["worker"]
    pw = api(role="peer_worker", user=worker)
    # received 60 days ago, first contact 40 days ago: a baseline 50 days ago contradicts it
    body = refused(
        pw.post(f"/people/{person}/measures", swemwbs_for(rid, days_ago(50))),
        409,
        "MeasureCannotPrecedeTheFirstContact",
    )
    assert days_ago(40).isoformat() in body["message"] and "first_contact_on" in body["message"]
    assert measures_of(api, person) == []
    # the baseline on the day of the first contact may have been taken at it
    ok(pw.post(f"/people/{person}/measures", swemwbs_for(rid, days_ago(40))), 201)
    assert [m["taken_on"] for m in measures_of(api, person)] == [days_ago(40).isoformat()]


def test_a_measure_before_any_first_contact_is_recorded_is_kept(api, stack_state):
    worker = f"pw-dates-{uuid.uuid4().hex[:6]}"
    person = register_person(api)
    rid = active_referral(api, person, worker, days_ago(30), None)
    sessions_sees(stack_state, rid, "status", "allocated")
    # the meeting it was taken at may be the first contact, recorded afterwards
    pw = api(role="peer_worker", user=worker)
    ok(pw.post(f"/people/{person}/measures", swemwbs_for(rid, days_ago(20))), 201)
    assert [m["taken_on"] for m in measures_of(api, person)] == [days_ago(20).isoformat()]


def test_first_contact_is_not_corrected_past_a_measure_taken_unless_it_was_voided(api, referral):
    rid, person, worker = referral["referral_id"], referral["person_id"], referral["worker"]
    pw = api(role="peer_worker", user=worker)
    taken = ok(pw.post(f"/people/{person}/measures", swemwbs_for(rid, days_ago(35))), 201)
    lead = api("referrals")
    late = {"field": "first_contact_on", "value": days_ago(30).isoformat(), "reason": "typo"}
    body = refused(
        lead.post(f"/referrals/{rid}/correct", late), 409, "FirstContactCannotFollowAMeasureTaken"
    )
    assert days_ago(35).isoformat() in body["message"]
    read = ok(lead.get(f"/referrals/{rid}"))
    assert read["corrections"] == [] and read["first_contact_on"] == days_ago(40).isoformat()
    # on the day the measure was taken it is within the timeline
    on_the_day = {**late, "value": days_ago(35).isoformat()}
    assert ok(lead.post(f"/referrals/{rid}/correct", on_the_day))["first_contact_on"] == (
        days_ago(35).isoformat()
    )
    # a measure voided as recorded in error bounds nothing
    [number] = [m["number"] for m in taken["measures"]]
    ok(pw.post(f"/people/{person}/measures/{number}/void", {"reason": "recorded_in_error"}))
    moved = ok(lead.post(f"/referrals/{rid}/correct", late))
    assert moved["first_contact_on"] == days_ago(30).isoformat()


def test_measures_recorded_before_their_referral_was_kept_on_the_timeline_are_backfilled(
    api, stack_state, referral
):
    from services.sessions.tables import MEASURE_REFERRALS_BACKFILL

    rid, person, worker = referral["referral_id"], referral["person_id"], referral["worker"]
    pw = api(role="peer_worker", user=worker)
    ok(pw.post(f"/people/{person}/measures", swemwbs_for(rid, days_ago(35))), 201)
    lead = api("referrals")
    late = {"field": "first_contact_on", "value": days_ago(30).isoformat(), "reason": "typo"}
    conn = psycopg2.connect(stack_state["owner_dsn"]["peerlink_leeds_mind"])
    try:
        with conn, conn.cursor() as cur:  # as a row projected before the timeline kept them
            cur.execute(
                "UPDATE sessions.timeline SET detail = detail - 'referral_id' - 'taken_on'"
                " WHERE person_id = %s AND stream_type = 'person_measures'",
                (person,),
            )
        # without them the measure bounds nothing: the correction would be let through
        with conn, conn.cursor() as cur:
            cur.execute(MEASURE_REFERRALS_BACKFILL)
            cur.execute(
                "SELECT detail->>'referral_id', detail->>'taken_on' FROM sessions.timeline"
                " WHERE person_id = %s AND event_type = 'MeasureRecorded'",
                (person,),
            )
            assert cur.fetchall() == [(rid, days_ago(35).isoformat())]
    finally:
        conn.close()
    refused(
        lead.post(f"/referrals/{rid}/correct", late), 409, "FirstContactCannotFollowAMeasureTaken"
    )


def test_a_measure_and_a_signposting_before_the_earliest_date_are_refused(api, referral):
    person, worker = referral["person_id"], referral["worker"]
    pw = api(role="peer_worker", user=worker)
    measure = {
        "measure": "swemwbs",
        "timepoint": "start",
        "taken_on": "1990-01-01",
        "answers": dict.fromkeys(SWEMWBS_ITEMS, 3),
    }
    refused(
        pw.post(f"/people/{person}/measures", measure),
        422,
        "DateMustNotPrecedeTheEarliestDate",
        "taken_on",
    )
    signposting = {"person_id": person, "destination": "housing", "on": "1990-01-01"}
    refused(pw.post("/signposting", signposting), 422, "DateMustNotPrecedeTheEarliestDate", "on")
    measures = pw.get(f"/people/{person}/measures")
    assert measures.status_code == 404 or measures.json()["measures"] == [], measures.text
    assert ok(pw.get("/signposting", person_id=person))["total"] == 0


def test_a_concern_dated_before_1900_is_refused_and_one_long_past_is_raised(api):
    raiser = f"pw-concern-{uuid.uuid4().hex[:6]}"
    worker = api("safeguarding", "peer_worker", raiser)
    form = {
        "age_group": "adult",
        "categories": ["financial_material"],
        "severity": "standard",
        "immediate_risk": False,
        "what_happened": "Said a relative keeps their bank card.",
        "actions_taken": ["none"],
        "consent_given": True,
        "person_description": "Man in his sixties at the Tuesday drop-in.",
        "happened_on": "1899-12-31",
    }
    refused(
        worker.post("/concerns", form),
        422,
        "ConcernDateMustNotPrecedeTheEarliestConcernDate",
        "happened_on",
    )
    lead = api("safeguarding", "safeguarding_lead")
    listed = ok(lead.get("/concerns", raised_by=raiser, status="any"))
    assert listed["total"] == 0
    form["happened_on"] = days_ago(3).isoformat()
    ok(worker.post("/concerns", form), 201)
    assert ok(lead.get("/concerns", raised_by=raiser, status="any"))["total"] == 1
    # a disclosure of abuse in childhood, before the partner's earliest date (2000-01-01)
    form["happened_on"] = "1987-06-01"
    concern_id = ok(worker.post("/concerns", form), 201)["concern_id"]
    held = ok(lead.get(f"/concerns/{concern_id}"))
    raised = next(step for step in held["timeline"] if step["event_type"] == "ConcernRaised")
    assert raised["details"]["happened_on"] == "1987-06-01"
