"""The caseload rules: whom a worker may record about, given the links the service found."""

import uuid
from datetime import UTC, datetime

import pytest

from services.sessions import caseload
from services.sessions.caseload import PeerWorkerRecordsOnlyTheirCaseload
from services.sessions.domain import Session

pytestmark = pytest.mark.unit

PERSON = str(uuid.uuid4())
OTHER_PERSON = str(uuid.uuid4())
WORKER = "pw-asha"
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def held_drop_in(worker_ids=(WORKER,), attendance=()) -> Session:
    """A drop-in held, with attendance recorded by (person, recorder) pairs."""
    session = Session(str(uuid.uuid4()))
    session.record(
        actual_start_at=datetime(2026, 3, 10, 9, 0, tzinfo=UTC),
        duration_minutes=60,
        by=worker_ids[0],
        now=NOW,
        kind="drop_in",
        mode="face_to_face_base",
        location="peer_support_base",
        worker_ids=list(worker_ids),
    )
    for person, recorder in attendance:
        session.record_attendance(person_id=person, status="attended", by=recorder, now=NOW)
    return session


def booked_one_to_one(worker_ids=(WORKER,)) -> Session:
    session = Session(str(uuid.uuid4()))
    session.book(
        kind="one_to_one",
        planned_start_at=datetime(2026, 3, 10, 9, 0, tzinfo=UTC),
        planned_duration_minutes=50,
        mode="phone",
        location="remote",
        worker_ids=list(worker_ids),
        by="lead-morgan",
        referral_id=str(uuid.uuid4()),
        referral_status="active",
        person_id=PERSON,
    )
    return session


@pytest.mark.parametrize("role", ["team_lead", "partner_admin"])
def test_leads_and_partner_admins_record_about_anyone_of_their_partner(role):
    assert caseload.may_record_about(role, set())
    caseload.must_be_on_caseload(role, set())


@pytest.mark.parametrize("ground", caseload.GROUNDS)
def test_a_peer_worker_records_about_someone_on_their_caseload(ground):
    assert caseload.may_record_about("peer_worker", {ground})


def test_a_peer_worker_with_no_link_to_the_person_is_refused_by_the_named_rule():
    with pytest.raises(PeerWorkerRecordsOnlyTheirCaseload) as refusal:
        caseload.must_be_on_caseload("peer_worker", set())
    assert refusal.value.rule == "PeerWorkerRecordsOnlyTheirCaseload"
    assert "caseload" in refusal.value.message


def test_an_unknown_link_is_no_ground():
    assert not caseload.may_record_about("peer_worker", {"sessions_they_ran"})


@pytest.mark.parametrize("role", ["safeguarding_lead", "alliance_analyst", "operator", "service"])
def test_other_roles_do_not_record_about_people(role):
    assert not caseload.may_record_about(role, set(caseload.GROUNDS))


def test_attendance_a_worker_recorded_themselves_is_no_ground_to_record_more():
    session = held_drop_in(attendance=[(PERSON, WORKER)])
    assert caseload.grounds_at_session(session, PERSON, WORKER) == set()


def test_attendance_someone_else_recorded_at_their_session_is_a_ground():
    session = held_drop_in(attendance=[(PERSON, "lead-morgan")])
    assert caseload.grounds_at_session(session, PERSON, WORKER) == {caseload.RECORDED_BY_ANOTHER}
    assert caseload.grounds_at_session(session, OTHER_PERSON, WORKER) == set()


def test_a_correction_by_someone_else_is_no_ground():
    session = held_drop_in(attendance=[(PERSON, WORKER)])
    session.correct_attendance(
        person_id=PERSON, status="late_seen", reason="other", by="lead-morgan", now=NOW
    )
    assert caseload.grounds_at_session(session, PERSON, WORKER) == set()


def test_a_session_they_do_not_run_gives_no_ground():
    session = held_drop_in(worker_ids=("pw-other",), attendance=[(PERSON, "lead-morgan")])
    assert caseload.grounds_at_session(session, PERSON, WORKER) == set()
    assert caseload.grounds_at_session(booked_one_to_one(("pw-other",)), PERSON, WORKER) == set()


def test_the_person_a_session_they_run_was_booked_for_is_a_ground():
    session = booked_one_to_one()
    assert caseload.grounds_at_session(session, PERSON, WORKER) == {
        caseload.BOOKED_FOR_THEIR_SESSION
    }
    assert caseload.grounds_at_session(session, OTHER_PERSON, WORKER) == set()


# -- a cover for a group's session -------------------------------------------------------------

FACILITATORS = ("pw-facilitator",)


@pytest.mark.parametrize(
    ("by", "role"),
    [
        ("lead-morgan", "team_lead"),
        ("admin-ola", "partner_admin"),
        ("pw-facilitator", "peer_worker"),
    ],
)
def test_a_worker_a_lead_or_a_facilitator_named_runs_the_groups_session(by, role):
    namings = [(by, role, ["pw-facilitator", WORKER])]
    assert caseload.is_named_to_run(WORKER, namings, FACILITATORS)
    # and recording it held, keeping its workers, keeps them on it
    namings.append((WORKER, "peer_worker", ["pw-facilitator", WORKER]))
    assert caseload.is_named_to_run(WORKER, namings, FACILITATORS)


@pytest.mark.parametrize("by", [WORKER, "pw-other"])
def test_a_place_a_peer_worker_who_does_not_facilitate_gave_runs_nothing(by):
    assert not caseload.is_named_to_run(WORKER, [(by, "peer_worker", [by, WORKER])], FACILITATORS)
    # a facilitator recording the session later with the same workers did not name them
    namings = [
        (by, "peer_worker", [by, WORKER]),
        ("pw-facilitator", "peer_worker", [by, WORKER]),
    ]
    assert not caseload.is_named_to_run(WORKER, namings, FACILITATORS)


def test_a_place_taken_away_runs_nothing_and_one_given_again_counts_by_who_gave_it():
    named = ("lead-morgan", "team_lead", [WORKER])
    dropped = ("lead-morgan", "team_lead", ["pw-facilitator"])
    assert not caseload.is_named_to_run(WORKER, [named, dropped], FACILITATORS)
    again_by_themselves = ("pw-other", "peer_worker", ["pw-other", WORKER])
    assert not caseload.is_named_to_run(WORKER, [named, dropped, again_by_themselves], FACILITATORS)
    assert caseload.is_named_to_run(WORKER, [named, dropped, named], FACILITATORS)
    assert not caseload.is_named_to_run(WORKER, [], FACILITATORS)


def test_the_people_of_a_group_whose_session_they_cover_are_on_their_caseload():
    caseload.must_be_on_caseload("peer_worker", {caseload.GROUP_SESSION_THEY_COVER})
