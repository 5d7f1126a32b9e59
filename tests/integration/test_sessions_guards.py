"""The sessions service's guards that live in its database, on a fresh node database: one
standing session per group and start even when two requests pass the domain's check at once,
and a discharge that closes the referral's open items once however often it is delivered."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from contracts.referrals.events import registry as referral_events
from contracts.sessions.events import registry as session_events
from deploy.migrations import migrate_node
from services.sessions.discharge import OpenItemsClosing
from services.sessions.domain import Group, GroupSessionIsRecordedOncePerStart, Plan, Session
from services.sessions.projections import sessions_projector
from shared.db import Database
from shared.events import Actor, Context, NewEvent
from shared.eventstore import PostgresEventStore

pytestmark = pytest.mark.integration

PARTNER = "leeds-mind"
WORKER = Actor("pw-sam", "peer_worker")
NOW = datetime.now(UTC).replace(microsecond=0)
START = (NOW - timedelta(days=3)).replace(hour=10, minute=0, second=0)


@pytest.fixture
def node(fresh_database):
    migrate_node(fresh_database, app_role="PUBLIC")
    db = Database(fresh_database, maxconn=8)
    registry = referral_events.merged(session_events)
    sessions = PostgresEventStore(
        db, "sessions", registry, service="sessions", projector=sessions_projector()
    )
    referrals = PostgresEventStore(db, "referrals", registry, service="referrals")
    yield db, sessions, referrals
    db.close()


def context() -> Context:
    return Context(PARTNER, WORKER)


def count(db, sql: str, *params) -> int:
    with db.transaction() as cur:
        cur.execute(sql, params)
        return cur.fetchone()[0]


# -- one session per group and start --------------------------------------------------------------


def a_group(sessions) -> str:
    group_id = str(uuid.uuid4())
    events = Group(group_id).create(
        name="Tuesday peer group",
        kind="weekly_peer_group",
        capacity=10,
        facilitator_ids=[WORKER.user_id],
        by=WORKER.user_id,
        on=START.date() - timedelta(days=30),
    )
    sessions.append("group", group_id, 0, events, context())
    return group_id


def held_at(group_id: str, start: datetime) -> tuple[str, list[NewEvent]]:
    """A group session held at `start`, as the domain decides it when it saw no other."""
    session, events = recorded(group_id, start)
    return session.id, events


def recorded(group_id: str, start: datetime) -> tuple[Session, list[NewEvent]]:
    """`held_at`, with the session as the domain left it (to decide more on)."""
    session = Session(str(uuid.uuid4()))
    events = session.record(
        actual_start_at=start,
        duration_minutes=90,
        by=WORKER.user_id,
        now=NOW,
        kind="group",
        mode="community_venue",
        location="community_venue",
        worker_ids=[WORKER.user_id],
        group_id=group_id,
        group_status="open",
    )
    return session, events


def test_two_sessions_of_a_group_at_one_start_appended_at_once_keep_one(node):
    db, sessions, _ = node
    group_id = a_group(sessions)
    # given two requests that both passed the domain's check (neither saw the other)
    attempts = [held_at(group_id, START) for _ in range(2)]
    ready = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def append(session_id, events):
        ready.wait(timeout=10)
        try:
            sessions.append("session", session_id, 0, events, context())
            outcomes[session_id] = "recorded"
        except GroupSessionIsRecordedOncePerStart as refusal:
            outcomes[session_id] = refusal

    # when both are appended at the same moment
    threads = [threading.Thread(target=append, args=attempt) for attempt in attempts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    # then one is recorded and the other refused by the rule, with nothing of it kept
    assert sorted(str(o) == "recorded" for o in outcomes.values()) == [False, True]
    [kept] = [sid for sid, o in outcomes.items() if o == "recorded"]
    [lost] = [sid for sid, o in outcomes.items() if o != "recorded"]
    assert outcomes[lost].rule == "GroupSessionIsRecordedOncePerStart"
    assert kept in outcomes[lost].message
    assert sessions.read_stream("session", lost) == []
    standing = "SELECT count(*) FROM sessions.session_list WHERE group_id = %s"
    assert count(db, standing, group_id) == 1


def test_a_voided_or_cancelled_session_gives_up_its_start(node):
    db, sessions, _ = node
    group_id = a_group(sessions)
    first, events = held_at(group_id, START)
    sessions.append("session", first, 0, events, context())
    voided = Session.fold(first, sessions.read_stream("session", first))
    void = voided.void(reason="duplicate", by=WORKER.user_id)
    sessions.append("session", first, voided.version, void, context())
    # the start is free again: the session that took place is recorded there
    second, events = held_at(group_id, START)
    sessions.append("session", second, 0, events, context())
    # and a session booked at another start, held at this one, meets it
    third = str(uuid.uuid4())
    booked = Session(third).book(
        kind="group",
        planned_start_at=START + timedelta(hours=2),
        planned_duration_minutes=90,
        mode="community_venue",
        location="community_venue",
        worker_ids=[WORKER.user_id],
        by=WORKER.user_id,
        group_id=group_id,
        group_status="open",
    )
    sessions.append("session", third, 0, booked, context())
    moved = Session.fold(third, sessions.read_stream("session", third))
    held = moved.record(actual_start_at=START, duration_minutes=90, by=WORKER.user_id, now=NOW)
    with pytest.raises(GroupSessionIsRecordedOncePerStart):
        sessions.append("session", third, moved.version, held, context())
    claims = "SELECT session_id FROM sessions.group_session_starts WHERE group_id = %s"
    with db.transaction() as cur:
        cur.execute(claims + " ORDER BY starts_at", (group_id,))
        assert [row[0] for row in cur.fetchall()] == [second, third]


# -- a discharge closes what is open, once --------------------------------------------------------


class CrashingAfter:
    """The sessions store, with the process dying after `appends` appends."""

    def __init__(self, store, appends: int):
        self.store, self.left = store, appends

    def read_stream(self, *args):
        return self.store.read_stream(*args)

    def append(self, *args, **kwargs):
        if self.left == 0:
            raise ConnectionError("the worker died")
        self.left -= 1
        return self.store.append(*args, **kwargs)


def test_a_discharge_delivered_again_after_a_crash_closes_each_item_once(node):
    db, sessions, referrals = node
    referral_id, person = str(uuid.uuid4()), str(uuid.uuid4())
    today = NOW.date()

    def booked(start: datetime) -> str:
        session_id = str(uuid.uuid4())
        events = Session(session_id).book(
            kind="one_to_one",
            planned_start_at=start,
            planned_duration_minutes=50,
            mode="phone",
            location="remote",
            worker_ids=[WORKER.user_id],
            by=WORKER.user_id,
            referral_id=referral_id,
            referral_status="active",
            person_id=person,
        )
        sessions.append("session", session_id, 0, events, context())
        return session_id

    # given the referral's sessions booked ahead, one booked last week and never recorded, and
    # its crisis plan
    ahead = [booked(NOW + timedelta(days=d)) for d in (2, 9, 16)]
    last_week = booked(NOW - timedelta(days=7))
    plan_id = str(uuid.uuid4())
    drafted = Plan(plan_id).draft(
        person_id=person,
        kind="crisis_safety",
        content={"services": [{"type": "crisis_line"}]},
        by=WORKER.user_id,
        on=today,
        referral_id=referral_id,
    )
    sessions.append("plan", plan_id, 0, drafted, context())
    # and the discharge that asks for them to be closed
    discharge = NewEvent(
        "ReferralDischarged",
        {
            "discharged_by": WORKER.user_id,
            "discharged_on": today.isoformat(),
            "reason": "goals_met",
            "close_open_items": True,
        },
    )
    [discharged] = referrals.append("referral", referral_id, 0, [discharge], context())

    # when the worker dies after closing one, and the discharge is delivered again, twice
    with pytest.raises(ConnectionError), db.transaction() as cur:
        OpenItemsClosing(CrashingAfter(sessions, 1), PARTNER).apply(cur, discharged)
    for _ in range(2):
        with db.transaction() as cur:
            OpenItemsClosing(sessions, PARTNER).apply(cur, discharged)

    # then each session ahead is cancelled once, by the discharging worker, caused by it
    for session_id in ahead:
        events = sessions.read_stream("session", session_id)
        assert [e.event_type for e in events] == ["SessionBooked", "SessionCancelled"]
        cancelled = events[-1]
        assert cancelled.payload["reason"] == "support_ended"
        assert cancelled.actor == WORKER and cancelled.causation_id == discharged.event_id
    # the one booked before the day of the discharge stays for the worker to record or cancel
    assert [e.event_type for e in sessions.read_stream("session", last_week)] == ["SessionBooked"]
    plan = sessions.read_stream("plan", plan_id)
    assert [e.event_type for e in plan] == ["PlanDrafted", "PlanClosed"]
    assert plan[-1].payload["closed_on"] == date.today().isoformat()
    status = "SELECT count(*) FROM sessions.session_list WHERE referral_id = %s AND status = %s"
    assert count(db, status, referral_id, "cancelled") == 3
    assert count(db, status, referral_id, "booked") == 1


def test_a_discharge_not_asking_to_close_closes_nothing(node):
    db, sessions, referrals = node
    referral_id = str(uuid.uuid4())
    session_id = str(uuid.uuid4())
    events = Session(session_id).book(
        kind="one_to_one",
        planned_start_at=NOW + timedelta(days=2),
        planned_duration_minutes=50,
        mode="phone",
        location="remote",
        worker_ids=[WORKER.user_id],
        by=WORKER.user_id,
        referral_id=referral_id,
        referral_status="active",
        person_id=str(uuid.uuid4()),
    )
    sessions.append("session", session_id, 0, events, context())
    discharge = NewEvent(
        "ReferralDischarged",
        {
            "discharged_by": WORKER.user_id,
            "discharged_on": NOW.date().isoformat(),
            "reason": "goals_met",
        },
    )
    [discharged] = referrals.append("referral", referral_id, 0, [discharge], context())
    with db.transaction() as cur:
        OpenItemsClosing(sessions, PARTNER).apply(cur, discharged)
    assert [e.event_type for e in sessions.read_stream("session", session_id)] == ["SessionBooked"]


# -- a session recorded with its attendance, in one append --------------------------------------


def test_a_session_appended_with_its_attendance_is_projected_whole(node):
    db, sessions, _ = node
    group_id = a_group(sessions)
    session, events = recorded(group_id, START)
    session_id = session.id
    people = [str(uuid.uuid4()) for _ in range(3)]
    for person in people:
        events += session.record_attendance(
            person_id=person, status="attended", by=WORKER.user_id, now=NOW
        )
    sessions.append("session", session_id, 0, events, context())
    # and one more person, in an append of its own
    late = str(uuid.uuid4())
    more = session.record_attendance(person_id=late, status="attended", by=WORKER.user_id, now=NOW)
    sessions.append("session", session_id, len(events), more, context())

    with db.transaction() as cur:
        cur.execute(
            "SELECT version FROM sessions.session_list WHERE session_id = %s", (session_id,)
        )
        assert cur.fetchone() == (len(events) + 1,)
        cur.execute(
            "SELECT person_id::text FROM sessions.attendance WHERE session_id = %s", (session_id,)
        )
        assert sorted(row[0] for row in cur.fetchall()) == sorted([*people, late])
        cur.execute(
            "SELECT person_id::text, happened_at, detail FROM sessions.timeline"
            " WHERE stream_id = %s AND event_type = 'AttendanceRecorded'",
            (session_id,),
        )
        timeline = {row[0]: row[1:] for row in cur.fetchall()}
    assert sorted(timeline) == sorted([*people, late])
    for happened_at, detail in timeline.values():
        assert happened_at == START
        assert detail == {
            "status": "attended",
            "attendance_code": detail["attendance_code"],
            "session_kind": "group",
            "group_id": group_id,
        }
