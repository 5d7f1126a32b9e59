"""Given these past events, when this command, then these new events or this refusal.

Past events are folded through an in-memory store, so their payloads are checked by the
registered schemas; new events are appended after them and the stream folded again, so what a
command decides is exactly what a later reader will see.
"""

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from contracts.sessions.events import registry
from contracts.sessions.measures import SWEMWBS_ITEMS
from services.sessions import api as schemas
from services.sessions import domain
from services.sessions.domain import Group, PersonMeasures, Plan, Session, Signposting
from shared.events import SYSTEM, Context, InvalidPayload, NewEvent
from shared.eventstore import InMemoryEventStore

pytestmark = pytest.mark.unit

CONTEXT = Context("leeds-mind", SYSTEM)
PERSON = str(uuid.uuid4())
OTHER_PERSON = str(uuid.uuid4())
REFERRAL = str(uuid.uuid4())
GROUP_ID = str(uuid.uuid4())
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
TODAY = NOW.date()


class Story:
    """One stream: the events given, then each command's events appended and checked."""

    def __init__(self, aggregate_type, events=(), stream_id=None):
        self.type = aggregate_type
        self.store = InMemoryEventStore(registry)
        self.stream = stream_id or str(uuid.uuid4())
        if events:
            self.store.append(
                aggregate_type.stream_type,
                self.stream,
                0,
                [NewEvent(t, p) for t, p in events],
                CONTEXT,
            )
        self.now = self._fold()

    def _fold(self):
        return self.type.fold(
            self.stream, self.store.read_stream(self.type.stream_type, self.stream)
        )

    def then(self, events, *event_types):
        """The decided events are of these types, valid, and fold to the state decided."""
        assert [e.event_type for e in events] == list(event_types)
        self.store.append(self.type.stream_type, self.stream, self.now.version, events, CONTEXT)
        decided = self.now.as_dict()
        self.now = self._fold()
        assert {**self.now.as_dict(), "version": None} == {**decided, "version": None}
        return events


def refused(rule, act, match=None):
    with pytest.raises(rule, match=match) as refusal:
        act()
    assert refusal.value.rule == rule.__name__ and refusal.value.message
    return refusal.value


def at(hour: int, minute: int = 0, day: int = 10) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


# -- sessions ------------------------------------------------------------------------------------

BOOKING = {
    "kind": "one_to_one",
    "referral_id": REFERRAL,
    "person_id": PERSON,
    "group_id": None,
    "mode": "face_to_face_base",
    "medium_code": "01",
    "location": "peer_support_base",
    "worker_ids": ["w1"],
    "planned_start_at": at(10).isoformat(),
    "planned_duration_minutes": 60,
    "booked_by": "w1",
}
HELD = {
    **{k: v for k, v in BOOKING.items() if k not in ("planned_duration_minutes", "booked_by")},
    "actual_start_at": at(10, 5).isoformat(),
    "duration_minutes": 50,
    "recorded_by": "w1",
}
GROUP_BOOKING = {
    **BOOKING,
    "kind": "group",
    "referral_id": None,
    "person_id": None,
    "group_id": GROUP_ID,
    "location": "community_venue",
    "mode": "community_venue",
}
GROUP_HELD = {
    **HELD,
    "kind": "group",
    "referral_id": None,
    "person_id": None,
    "group_id": GROUP_ID,
}
DROP_IN_HELD = {**GROUP_HELD, "kind": "drop_in", "group_id": None, "planned_start_at": None}

SESSIONS = {
    "new": [],
    "booked": [("SessionBooked", BOOKING)],
    "booked_tomorrow": [
        ("SessionBooked", {**BOOKING, "planned_start_at": at(10, day=11).isoformat()})
    ],
    "held": [("SessionBooked", BOOKING), ("SessionRecorded", HELD)],
    "cancelled": [
        ("SessionBooked", BOOKING),
        (
            "SessionCancelled",
            {
                "cancelled_by": "service",
                "attendance_code": "4",
                "reason": "worker_unavailable",
                "recorded_by": "w1",
            },
        ),
    ],
    "voided": [
        ("SessionBooked", BOOKING),
        ("SessionRecorded", HELD),
        (
            "SessionVoided",
            {"reason": "duplicate", "previous_status": "held", "voided_by": "w1"},
        ),
    ],
    "group_booked": [("SessionBooked", GROUP_BOOKING)],
    "group_held": [("SessionBooked", GROUP_BOOKING), ("SessionRecorded", GROUP_HELD)],
    "drop_in_held": [("SessionRecorded", DROP_IN_HELD)],
}


def session(state: str) -> Story:
    return Story(Session, SESSIONS[state])


def book(s: Session, **changes):
    details = {
        "kind": "one_to_one",
        "planned_start_at": at(10, day=11),
        "planned_duration_minutes": 60,
        "mode": "phone",
        "location": "remote",
        "worker_ids": ["w1"],
        "by": "w1",
        "referral_id": REFERRAL,
        "referral_status": "active",
        "person_id": PERSON,
    }
    return s.book(**{**details, **changes})


def record_new(s: Session, **changes):
    details = {
        "actual_start_at": at(10),
        "duration_minutes": 60,
        "by": "w1",
        "now": NOW,
        "kind": "drop_in",
        "mode": "face_to_face_base",
        "location": "peer_support_base",
        "worker_ids": ["w1", "w2"],
    }
    return s.record(**{**details, **changes})


def test_booking_a_one_to_one_for_an_active_referral():
    story = session("new")
    [event] = story.then(book(story.now), "SessionBooked")
    assert event.payload["medium_code"] == "02" and event.payload["person_id"] == PERSON
    assert story.now.status == "booked" and story.now.referral_id == REFERRAL


@pytest.mark.parametrize(
    "status",
    [
        "received",
        "accepted",
        "allocated",
        "on_hold",
        "discharged",
        "closed_without_contact",
        "transferred",
        "declined",
    ],
)
def test_a_one_to_one_is_booked_only_for_an_active_referral(status):
    rule = refused(
        domain.OneToOneNeedsAnActiveReferral,
        lambda: book(session("new").now, referral_status=status),
    )
    assert rule.message == (
        f"a one-to-one can be booked only for an active referral; this referral is"
        f" {status.replace('_', ' ')}"
    )


def test_a_one_to_one_needs_a_referral_that_exists():
    s = session("new").now
    refused(domain.OneToOneNeedsAnActiveReferral, lambda: book(s, referral_id=None), "which")
    refused(domain.OneToOneNeedsAnActiveReferral, lambda: book(s, referral_status=None), "no such")
    rule = refused(
        domain.OneToOneNeedsAnActiveReferral, lambda: book(s, referral_status="discharged")
    )
    assert rule.message == (
        "a one-to-one can be booked only for an active referral; this referral is discharged"
    )


def test_carer_support_needs_the_carers_own_active_referral():
    story = session("new")
    story.then(book(story.now, kind="carer"), "SessionBooked")
    refused(
        domain.CarerSupportNeedsAnActiveReferral,
        lambda: book(session("new").now, kind="carer", referral_status="on_hold"),
        "carer support can be booked only for an active referral; this referral is on hold",
    )


def group_booking(**changes):
    details = {
        "kind": "group",
        "referral_id": None,
        "referral_status": None,
        "person_id": None,
        "group_id": GROUP_ID,
        "group_status": "open",
        "mode": "community_venue",
        "location": "community_venue",
    }
    return {**details, **changes}


def test_a_group_session_is_booked_for_an_open_group():
    story = session("new")
    story.then(book(story.now, **group_booking()), "SessionBooked")
    assert story.now.group_id == GROUP_ID and story.now.person_id is None
    s = session("new").now
    for status, message in [("closed", "this group is closed"), (None, "no such group")]:
        refused(
            domain.GroupSessionNeedsAnOpenGroup,
            lambda status=status: book(s, **group_booking(group_status=status)),
            message,
        )
    refused(
        domain.GroupSessionNeedsAnOpenGroup,
        lambda: book(s, **group_booking(group_id=None)),
        "say which group",
    )


def test_a_drop_in_may_stand_alone_or_belong_to_a_drop_in_group():
    story = session("new")
    story.then(book(story.now, **group_booking(kind="drop_in", group_id=None)), "SessionBooked")
    story = session("new")
    story.then(book(story.now, **group_booking(kind="drop_in")), "SessionBooked")


@pytest.mark.parametrize(
    "changes",
    [
        group_booking(referral_id=REFERRAL, referral_status="active"),
        group_booking(kind="drop_in", group_id=None, person_id=PERSON),
        {"group_id": GROUP_ID, "group_status": "open"},
        {"kind": "carer", "group_id": GROUP_ID, "group_status": "open"},
    ],
    ids=["group-with-referral", "drop-in-for-a-person", "one-to-one-in-group", "carer-in-group"],
)
def test_a_sessions_links_must_fit_its_kind(changes):
    refused(domain.SessionLinksMustFitItsKind, lambda: book(session("new").now, **changes))


def test_a_session_needs_a_worker_and_names_each_once():
    refused(domain.SessionNeedsAWorker, lambda: book(session("new").now, worker_ids=[]))
    story = session("new")
    [event] = story.then(book(story.now, worker_ids=["w1", "w2", "w1"]), "SessionBooked")
    assert event.payload["worker_ids"] == ["w1", "w2"]


MEDIA = {
    "face_to_face_base": "01",
    "home_visit": "01",
    "community_venue": "01",
    "outdoors_walk_and_talk": "01",
    "phone": "02",
    "relay_talk_type": "04",
    "email": "05",
    "text_message": "09",
    "text_chat": "10",
    "video": "11",
    "message_board": "12",
    "chat_room": "13",
    "other": "98",
}


@pytest.mark.parametrize(("mode", "medium"), MEDIA.items())
def test_each_mode_is_recorded_with_its_mhsds_consultation_medium(mode, medium):
    story = session("new")
    [event] = story.then(book(story.now, mode=mode), "SessionBooked")
    assert event.payload["medium_code"] == medium == story.now.medium_code
    assert set(MEDIA) == set(domain.MODES)


def test_an_unknown_mode_is_a_programming_error_not_a_rule():
    with pytest.raises(ValueError, match="mode: 'carrier_pigeon'"):
        book(session("new").now, mode="carrier_pigeon")


@pytest.mark.parametrize("minutes", [1, 45, 600])
def test_a_session_lasts_from_a_minute_to_the_limit(minutes):
    story = session("new")
    story.then(book(story.now, planned_duration_minutes=minutes), "SessionBooked")
    story = session("new")
    story.then(
        record_new(story.now, actual_start_at=at(1), duration_minutes=minutes), "SessionRecorded"
    )


@pytest.mark.parametrize(
    ("minutes", "rule"),
    [
        (0, domain.SessionCannotEndBeforeItStarts),
        (-30, domain.SessionCannotEndBeforeItStarts),
        (601, domain.SessionCannotBeLongerThanTheLimit),
    ],
)
def test_a_session_cannot_end_before_it_starts_nor_last_beyond_the_limit(minutes, rule):
    refused(rule, lambda: book(session("new").now, planned_duration_minutes=minutes))
    refused(rule, lambda: record_new(session("new").now, duration_minutes=minutes))
    booked = session("booked").now
    refused(
        rule,
        lambda: booked.record(actual_start_at=at(10), duration_minutes=minutes, by="w1", now=NOW),
    )


def test_a_session_recorded_as_held_may_end_up_to_max_future_after_now():
    story = session("new")
    end_allowed = NOW + domain.MAX_FUTURE
    story.then(
        record_new(story.now, actual_start_at=end_allowed - timedelta(minutes=60)),
        "SessionRecorded",
    )
    rule = refused(
        domain.SessionCannotBeRecordedInTheFuture,
        lambda: record_new(session("new").now, actual_start_at=end_allowed - timedelta(minutes=59)),
    )
    assert "16 minutes from now, more than the 15 minutes allowed" in rule.message
    rule = refused(
        domain.SessionCannotBeRecordedInTheFuture,
        lambda: record_new(
            session("new").now,
            actual_start_at=end_allowed - timedelta(minutes=60) + timedelta(seconds=1),
        ),
    )
    assert "16 minutes from now" in rule.message


def test_max_future_is_set_by_the_caller():
    strict = timedelta(0)
    story = session("new")
    story.then(
        record_new(story.now, actual_start_at=NOW - timedelta(hours=1), max_future=strict),
        "SessionRecorded",
    )
    refused(
        domain.SessionCannotBeRecordedInTheFuture,
        lambda: record_new(
            session("new").now, actual_start_at=NOW - timedelta(minutes=59), max_future=strict
        ),
    )
    story = session("new")
    story.then(
        record_new(story.now, actual_start_at=NOW, max_future=timedelta(hours=2)),
        "SessionRecorded",
    )


def test_recording_a_booked_session_keeps_what_was_booked_unless_changed():
    story = session("booked")
    [event] = story.then(
        story.now.record(actual_start_at=at(10, 5), duration_minutes=50, by="w1", now=NOW),
        "SessionRecorded",
    )
    assert event.payload["planned_start_at"] == BOOKING["planned_start_at"]
    assert (story.now.mode, story.now.person_id, story.now.status) == (
        "face_to_face_base",
        PERSON,
        "held",
    )
    story = session("booked")
    [event] = story.then(
        story.now.record(
            actual_start_at=at(10),
            duration_minutes=30,
            by="w1",
            now=NOW,
            mode="phone",
            location="remote",
            worker_ids=["w2"],
            kind="one_to_one",
            referral_id=REFERRAL,
        ),
        "SessionRecorded",
    )
    assert event.payload["medium_code"] == "02" and story.now.worker_ids == ["w2"]


@pytest.mark.parametrize(
    "changes",
    [{"kind": "carer"}, {"referral_id": str(uuid.uuid4())}, {"person_id": OTHER_PERSON}],
)
def test_recording_a_booked_session_cannot_change_what_it_was_for(changes):
    s = session("booked").now
    refused(
        domain.RecordMustMatchTheBooking,
        lambda: s.record(actual_start_at=at(10), duration_minutes=30, by="w1", now=NOW, **changes),
    )


def test_a_session_that_was_never_booked_checks_its_referral_when_recorded():
    story = session("new")
    story.then(
        record_new(
            story.now,
            kind="one_to_one",
            referral_id=REFERRAL,
            referral_status="active",
            person_id=PERSON,
        ),
        "SessionRecorded",
    )
    assert story.now.planned_start_at is None
    refused(
        domain.OneToOneNeedsAnActiveReferral,
        lambda: record_new(
            session("new").now,
            kind="one_to_one",
            referral_id=REFERRAL,
            referral_status="discharged",
            person_id=PERSON,
        ),
        "can be recorded only for an active referral",
    )


def test_an_unbooked_session_must_say_what_it_was():
    with pytest.raises(ValueError, match="kind, mode and location"):
        record_new(session("new").now, kind=None)


SESSION_COMMANDS = {
    "book": (lambda s: book(s), "SessionBooked"),
    "record": (
        lambda s: s.record(actual_start_at=at(10), duration_minutes=40, by="w1", now=NOW),
        "SessionRecorded",
    ),
    "cancel": (
        lambda s: s.cancel(cancelled_by="person", reason="person_unwell", by="w1"),
        "SessionCancelled",
    ),
    "attend": (
        lambda s: s.record_attendance(person_id=PERSON, status="did_not_attend", by="w1", now=NOW),
        "AttendanceRecorded",
    ),
    "notes": (
        lambda s: s.write_notes(themes=["sleep"], actions=[], notes_text_id=None, by="w1"),
        "SessionNotesWritten",
    ),
    "void": (lambda s: s.void(reason="recorded_in_error", by="w1"), "SessionVoided"),
}
SESSION_ALLOWED = {
    "book": {"new"},
    "record": {"booked"},
    "cancel": {"booked"},
    "attend": {"booked", "held"},
    "notes": {"held"},
    "void": {"booked", "held", "cancelled"},
}
SESSION_REFUSALS = {
    ("book", "booked"): domain.SessionMustBeNew,
    ("book", "held"): domain.SessionMustBeNew,
    ("book", "cancelled"): domain.SessionMustBeNew,
    ("record", "held"): domain.SessionIsRecordedOnce,
    ("record", "cancelled"): domain.CancelledSessionCannotChange,
    ("cancel", "new"): domain.SessionMustExist,
    ("cancel", "held"): domain.OnlyBookedSessionsCanBeCancelled,
    ("cancel", "cancelled"): domain.CancelledSessionCannotChange,
    ("attend", "new"): domain.SessionMustExist,
    ("attend", "cancelled"): domain.CancelledSessionCannotChange,
    ("notes", "new"): domain.SessionMustExist,
    ("notes", "booked"): domain.NotesAreWrittenOnceTheSessionIsHeld,
    ("notes", "cancelled"): domain.CancelledSessionCannotChange,
    ("void", "new"): domain.SessionMustExist,
    ("book", "voided"): domain.SessionMustBeNew,
    ("record", "voided"): domain.VoidedRecordCannotChange,
    ("cancel", "voided"): domain.VoidedRecordCannotChange,
    ("attend", "voided"): domain.VoidedRecordCannotChange,
    ("notes", "voided"): domain.VoidedRecordCannotChange,
    ("void", "voided"): domain.VoidedRecordCannotChange,
}
STATES = ("new", "booked", "held", "cancelled", "voided")
LIFECYCLE = [(c, s) for c in SESSION_COMMANDS for s in STATES]


@pytest.mark.parametrize(("command", "state"), LIFECYCLE, ids=[f"{c}-{s}" for c, s in LIFECYCLE])
def test_every_session_command_from_every_state(command, state):
    story = session(state)
    act, event_type = SESSION_COMMANDS[command]
    if state in SESSION_ALLOWED[command]:
        story.then(act(story.now), event_type)
    elif command == "record" and state == "new":
        with pytest.raises(ValueError):  # an unbooked session needs its details
            act(story.now)
    else:
        refused(SESSION_REFUSALS[(command, state)], lambda: act(story.now))


@pytest.mark.parametrize(("cancelled_by", "code"), [("person", "2"), ("service", "4")])
def test_a_cancelled_session_carries_the_mhsds_code_of_who_cancelled(cancelled_by, code):
    story = session("booked")
    [event] = story.then(
        story.now.cancel(cancelled_by=cancelled_by, reason="other", by="w1"), "SessionCancelled"
    )
    assert event.payload["attendance_code"] == code
    assert story.now.cancellation == {"cancelled_by": cancelled_by, "reason": "other"}


ATTENDANCE_CODES = {
    "attended": "5",
    "late_seen": "6",
    "late_not_seen": "7",
    "did_not_attend": "3",
    "cancelled_by_person": "2",
    "cancelled_by_service": "4",
}


@pytest.mark.parametrize(("status", "code"), ATTENDANCE_CODES.items())
def test_attendance_at_a_held_session_carries_its_mhsds_code(status, code):
    story = session("held")
    [event] = story.then(
        story.now.record_attendance(person_id=PERSON, status=status, by="w1", now=NOW),
        "AttendanceRecorded",
    )
    assert event.payload["attendance_code"] == code
    assert story.now.attendance == {PERSON: status}
    assert story.now.as_dict()["attendance"][0]["attendance_code"] == code


# when each status can be recorded on a booked session that has not been recorded as held
BEFORE_HELD = {
    "attended": (domain.SessionMustBeHeldFirst, domain.SessionMustBeHeldFirst),
    "late_seen": (domain.SessionMustBeHeldFirst, domain.SessionMustBeHeldFirst),
    "late_not_seen": (domain.NotAttendingOnlyOnceTheSessionStarts, None),
    "did_not_attend": (domain.NotAttendingOnlyOnceTheSessionStarts, None),
    "cancelled_by_person": (None, None),
    "cancelled_by_service": (None, None),
}


@pytest.mark.parametrize("status", BEFORE_HELD)
@pytest.mark.parametrize("when", ["before-start", "after-start"])
def test_attendance_on_a_booked_session_follows_its_start(status, when):
    story = session("booked_tomorrow" if when == "before-start" else "booked")
    rule = BEFORE_HELD[status][0 if when == "before-start" else 1]

    def act():
        return story.now.record_attendance(person_id=PERSON, status=status, by="w1", now=NOW)

    if rule is None:
        story.then(act(), "AttendanceRecorded")
    else:
        refused(rule, act)


def test_a_persons_attendance_is_recorded_once_then_corrected():
    story = session("held")
    story.then(
        story.now.record_attendance(person_id=PERSON, status="did_not_attend", by="w1", now=NOW),
        "AttendanceRecorded",
    )
    refused(
        domain.AttendanceIsRecordedOncePerPerson,
        lambda: story.now.record_attendance(person_id=PERSON, status="attended", by="w2", now=NOW),
        "already recorded as did not attend; correct it",
    )


def test_correcting_attendance_keeps_the_earlier_record():
    story = session("held")
    story.then(
        story.now.record_attendance(person_id=PERSON, status="did_not_attend", by="w1", now=NOW),
        "AttendanceRecorded",
    )
    [correction] = story.then(
        story.now.correct_attendance(
            person_id=PERSON, status="late_seen", reason="recorded_in_error", by="lead", now=NOW
        ),
        "AttendanceCorrected",
    )
    assert correction.payload == {
        "person_id": PERSON,
        "status": "late_seen",
        "attendance_code": "6",
        "previous_status": "did_not_attend",
        "previous_attendance_code": "3",
        "reason": "recorded_in_error",
        "corrected_by": "lead",
    }
    assert story.now.attendance == {PERSON: "late_seen"}
    assert [(h["status"], h.get("previous_status")) for h in story.now.attendance_history] == [
        ("did_not_attend", None),
        ("late_seen", "did_not_attend"),
    ]
    assert [e.event_type for e in story.store.read_stream("session", story.stream)][-2:] == [
        "AttendanceRecorded",
        "AttendanceCorrected",
    ]


def test_a_correction_needs_an_earlier_record_a_reason_and_a_change():
    story = session("held")

    def correct(status="attended", reason="new_information", person=PERSON):
        return story.now.correct_attendance(
            person_id=person, status=status, reason=reason, by="lead", now=NOW
        )

    refused(domain.CorrectionNeedsAnEarlierRecord, correct)
    story.then(
        story.now.record_attendance(person_id=PERSON, status="attended", by="w1", now=NOW),
        "AttendanceRecorded",
    )
    refused(domain.CorrectionNeedsAReason, lambda: correct(status="late_seen", reason=None))
    refused(domain.CorrectionNeedsAReason, lambda: correct(status="late_seen", reason=""))
    refused(domain.CorrectionMustChangeTheRecord, lambda: correct(status="attended"))
    story.then(correct(status="late_seen"), "AttendanceCorrected")


def test_a_correction_obeys_the_same_rules_as_a_record():
    story = session("booked")
    story.then(
        story.now.record_attendance(person_id=PERSON, status="did_not_attend", by="w1", now=NOW),
        "AttendanceRecorded",
    )
    refused(
        domain.SessionMustBeHeldFirst,
        lambda: story.now.correct_attendance(
            person_id=PERSON, status="attended", reason="new_information", by="w1", now=NOW
        ),
    )
    refused(
        domain.CancelledSessionCannotChange,
        lambda: session("cancelled").now.correct_attendance(
            person_id=PERSON, status="attended", reason="new_information", by="w1", now=NOW
        ),
    )


def test_a_one_to_one_records_attendance_only_for_its_person_a_group_for_anyone():
    refused(
        domain.AttendanceMustBeForThePersonBooked,
        lambda: session("held").now.record_attendance(
            person_id=OTHER_PERSON, status="attended", by="w1", now=NOW
        ),
    )
    story = session("group_held")
    for person in (PERSON, OTHER_PERSON):
        story.then(
            story.now.record_attendance(person_id=person, status="attended", by="w1", now=NOW),
            "AttendanceRecorded",
        )
    assert len(story.now.attendance) == 2


def test_an_unknown_attendance_status_is_a_programming_error():
    with pytest.raises(ValueError, match="status: 'came'"):
        session("held").now.record_attendance(person_id=PERSON, status="came", by="w1", now=NOW)


def test_a_held_drop_in_counts_anonymous_attendees_once_then_corrects_the_count():
    story = session("drop_in_held")
    story.then(story.now.count_anonymous_attendees(count=7, by="w1"), "AnonymousAttendeesCounted")
    refused(
        domain.AnonymousCountIsRecordedOnce,
        lambda: story.now.count_anonymous_attendees(count=8, by="w1"),
    )
    refused(
        domain.CorrectionNeedsAReason,
        lambda: story.now.correct_anonymous_attendees(count=8, reason=None, by="w1"),
    )
    refused(
        domain.CorrectionMustChangeTheRecord,
        lambda: story.now.correct_anonymous_attendees(count=7, reason="new_information", by="w1"),
    )
    [event] = story.then(
        story.now.correct_anonymous_attendees(count=9, reason="new_information", by="lead"),
        "AnonymousAttendeesCorrected",
    )
    assert event.payload["previous_count"] == 7 and story.now.anonymous_attendees == 9


def test_only_a_held_drop_in_counts_anonymous_attendees():
    refused(
        domain.CorrectionNeedsAnEarlierRecord,
        lambda: session("drop_in_held").now.correct_anonymous_attendees(
            count=3, reason="new_information", by="w1"
        ),
    )
    refused(
        domain.OnlyDropInsCountAnonymousAttendees,
        lambda: session("group_held").now.count_anonymous_attendees(count=3, by="w1"),
    )
    story = session("new")
    story.then(book(story.now, **group_booking(kind="drop_in", group_id=None)), "SessionBooked")
    refused(
        domain.SessionMustBeHeldFirst,
        lambda: story.now.count_anonymous_attendees(count=3, by="w1"),
    )
    refused(
        domain.SessionMustExist,
        lambda: session("new").now.count_anonymous_attendees(count=3, by="w1"),
    )


def test_structured_notes_carry_codes_and_a_pointer_to_sealed_words():
    story = session("held")
    text_id = str(uuid.uuid4())
    [event] = story.then(
        story.now.write_notes(
            themes=["sleep", "isolation_and_connection", "sleep"],
            actions=["next_session_booked"],
            notes_text_id=text_id,
            by="w1",
        ),
        "SessionNotesWritten",
    )
    assert event.payload["themes"] == ["sleep", "isolation_and_connection"]


def test_notes_say_something():
    refused(
        domain.NotesMustSaySomething,
        lambda: session("held").now.write_notes(themes=[], actions=[], notes_text_id=None, by="w1"),
    )


def test_notes_are_not_written_for_a_session_still_to_come():
    refused(
        domain.NotesAreWrittenOnceTheSessionIsHeld,
        lambda: session("booked_tomorrow").now.write_notes(
            themes=["sleep"], actions=[], notes_text_id=None, by="w1"
        ),
        "record it as held first",
    )


def test_writing_notes_a_second_time_is_refused_and_points_to_a_correction():
    story = session("held")
    story.then(
        story.now.write_notes(themes=["sleep"], actions=[], notes_text_id=None, by="w1"),
        "SessionNotesWritten",
    )
    refused(
        domain.NotesAreWrittenOnce,
        lambda: story.now.write_notes(themes=["anxiety"], actions=[], notes_text_id=None, by="w2"),
        "correct them, with a reason",
    )


def test_correcting_notes_keeps_what_they_said_before_and_why():
    story = session("held")
    first_words = str(uuid.uuid4())
    story.then(
        story.now.write_notes(themes=["sleep"], actions=[], notes_text_id=first_words, by="w1"),
        "SessionNotesWritten",
    )
    [event] = story.then(
        story.now.correct_notes(
            themes=["anxiety"],
            actions=["measure_due"],
            notes_text_id=None,
            reason="wrong_person",
            by="w2",
        ),
        "SessionNotesCorrected",
    )
    assert event.payload["previous_themes"] == ["sleep"]
    assert event.payload["notes_text_id"] == first_words  # no new words: the words stand
    assert story.now.notes["corrected_by"] == "w2" and story.now.notes["written_by"] == "w1"
    new_words = str(uuid.uuid4())
    [event] = story.then(
        story.now.correct_notes(
            themes=["anxiety"],
            actions=["measure_due"],
            notes_text_id=new_words,
            reason="new_information",
            by="w1",
        ),
        "SessionNotesCorrected",
    )
    assert event.payload["previous_notes_text_id"] == first_words
    assert story.now.notes["notes_text_id"] == new_words


def test_a_notes_correction_needs_notes_a_reason_and_a_change():
    held = session("held").now
    refused(
        domain.CorrectionNeedsAnEarlierRecord,
        lambda: held.correct_notes(
            themes=["sleep"], actions=[], notes_text_id=None, reason="other", by="w1"
        ),
    )
    held.write_notes(themes=["sleep"], actions=[], notes_text_id=None, by="w1")
    refused(
        domain.CorrectionNeedsAReason,
        lambda: held.correct_notes(
            themes=["anxiety"], actions=[], notes_text_id=None, reason=None, by="w1"
        ),
    )
    refused(
        domain.CorrectionMustChangeTheRecord,
        lambda: held.correct_notes(
            themes=["sleep"], actions=[], notes_text_id=None, reason="other", by="w1"
        ),
    )


# -- voids, duplicates ---------------------------------------------------------------------------


def test_a_held_session_can_be_voided_with_a_reason_and_then_changes_no_more():
    story = session("held")
    [event] = story.then(story.now.void(reason="duplicate", by="w2"), "SessionVoided")
    assert event.payload == {"reason": "duplicate", "previous_status": "held", "voided_by": "w2"}
    assert story.now.status == "voided" and story.now.voided["reason"] == "duplicate"
    refused(domain.CorrectionNeedsAReason, lambda: session("held").now.void(reason=None, by="w1"))


def test_voiding_one_persons_attendance_withdraws_it_and_it_may_be_recorded_again():
    story = session("group_held")
    story.then(
        story.now.record_attendance(person_id=PERSON, status="attended", by="w1", now=NOW),
        "AttendanceRecorded",
    )
    [event] = story.then(
        story.now.void_attendance(person_id=PERSON, reason="wrong_person", by="w1"),
        "AttendanceVoided",
    )
    assert event.payload["previous_status"] == "attended"
    assert story.now.attendance == {}
    refused(
        domain.VoidNeedsARecord,
        lambda: story.now.void_attendance(person_id=PERSON, reason="other", by="w1"),
    )
    story.then(
        story.now.record_attendance(person_id=OTHER_PERSON, status="attended", by="w1", now=NOW),
        "AttendanceRecorded",
    )


def test_a_second_session_of_the_same_group_at_the_same_start_is_refused():
    refused(
        domain.GroupSessionIsRecordedOncePerStart,
        lambda: record_new(
            session("new").now,
            kind="group",
            group_id=GROUP_ID,
            group_status="open",
            same_group_and_start=["s-1"],
        ),
        "already has a session starting at",
    )
    refused(
        domain.GroupSessionIsRecordedOncePerStart,
        lambda: book(
            session("new").now,
            kind="group",
            referral_id=None,
            referral_status=None,
            person_id=None,
            group_id=GROUP_ID,
            group_status="open",
            same_group_and_start=["s-1"],
        ),
    )


def test_a_booked_group_session_recorded_at_another_sessions_start_is_refused():
    refused(
        domain.GroupSessionIsRecordedOncePerStart,
        lambda: session("group_booked").now.record(
            actual_start_at=at(10),
            duration_minutes=30,
            by="w1",
            now=NOW,
            same_group_and_start=["x"],
        ),
    )


def test_a_one_to_one_for_the_same_person_within_the_hour_is_only_a_warning():
    others = [("s-near", at(10, 40)), ("s-far", at(12))]
    [warning] = domain.likely_duplicates(
        kind="one_to_one", person_id=PERSON, starts_at=at(10), others=others
    )
    assert warning["session_ids"] == ["s-near"]
    assert warning["rule"] == "OneToOneLikelyRecordedTwice"
    assert (
        domain.likely_duplicates(
            kind="one_to_one", person_id=PERSON, starts_at=at(8), others=others
        )
        == []
    )
    assert (
        domain.likely_duplicates(kind="group", person_id=None, starts_at=at(10), others=others)
        == []
    )


def test_a_theme_outside_the_closed_list_is_refused_by_the_payload_schema():
    event = session("held").now.write_notes(
        themes=["what_they_said_about_their_brother"], actions=[], notes_text_id=None, by="w1"
    )[0]
    with pytest.raises(InvalidPayload, match="payload.themes"):
        registry.validate(event)


# -- groups --------------------------------------------------------------------------------------

CREATED = {
    "name": "Tuesday peer group",
    "kind": "weekly_peer_group",
    "capacity": 2,
    "facilitator_ids": ["w1"],
    "sessions_planned": None,
    "created_by": "lead",
    "created_on": "2026-03-01",
}
A, B, C, D = (str(uuid.uuid4()) for _ in range(4))


def joined(person):
    return (
        "GroupMemberJoined",
        {"person_id": person, "joined_on": "2026-03-02", "recorded_by": "w1"},
    )


def waiting(person, position):
    return (
        "GroupWaitingListJoined",
        {"person_id": person, "position": position, "joined_on": "2026-03-03", "recorded_by": "w1"},
    )


def full_group() -> Story:
    """Capacity 2: A and B are members, C then D wait."""
    return Story(
        Group,
        [("GroupCreated", CREATED), joined(A), joined(B), waiting(C, 1), waiting(D, 2)],
    )


def test_creating_a_group():
    story = Story(Group)
    story.then(
        story.now.create(
            name="Living well, six weeks",
            kind="workshop_programme",
            capacity=12,
            facilitator_ids=["w1", "w2"],
            by="lead",
            on=TODAY,
            sessions_planned=6,
        ),
        "GroupCreated",
    )
    assert story.now.status == "open" and story.now.places_free == 12
    refused(
        domain.GroupMustBeNew,
        lambda: story.now.create(
            name="x", kind="drop_in", capacity=5, facilitator_ids=["w1"], by="lead", on=TODAY
        ),
    )


@pytest.mark.parametrize(
    ("capacity", "facilitators", "rule"),
    [
        (0, ["w1"], domain.GroupCapacityMustBeAtLeastOne),
        (10, [], domain.GroupNeedsAFacilitator),
    ],
)
def test_a_group_needs_a_place_and_a_facilitator(capacity, facilitators, rule):
    refused(
        rule,
        lambda: Story(Group).now.create(
            name="Walk",
            kind="social_activity",
            capacity=capacity,
            facilitator_ids=facilitators,
            by="lead",
            on=TODAY,
        ),
    )


def test_joining_a_group_with_room_makes_a_member_and_a_full_one_a_waiting_list():
    story = Story(Group, [("GroupCreated", CREATED), joined(A)])
    story.then(story.now.join(person_id=B, by="w1", on=TODAY), "GroupMemberJoined")
    [event] = story.then(story.now.join(person_id=C, by="w1", on=TODAY), "GroupWaitingListJoined")
    assert event.payload["position"] == 1
    [event] = story.then(story.now.join(person_id=D, by="w1", on=TODAY), "GroupWaitingListJoined")
    assert event.payload["position"] == 2
    assert story.now.members == [A, B] and story.now.waiting == [C, D]


@pytest.mark.parametrize(("person", "where"), [(A, "a member"), (C, "on the group's waiting")])
def test_a_person_joins_a_group_once(person, where):
    refused(
        domain.PersonJoinsAGroupOnce,
        lambda: full_group().now.join(person_id=person, by="w1", on=TODAY),
        where,
    )


def test_a_member_leaving_promotes_the_first_person_waiting():
    story = full_group()
    left, promoted = story.then(
        story.now.leave(person_id=A, reason="completed_programme", by="w1", on=TODAY),
        "GroupMemberLeft",
        "GroupMemberPromoted",
    )
    assert promoted.payload["person_id"] == C
    assert story.now.members == [B, C] and story.now.waiting == [D]


def test_leaving_the_waiting_list_promotes_nobody():
    story = full_group()
    story.then(
        story.now.leave(person_id=C, reason="no_longer_wanted", by="w1", on=TODAY),
        "GroupWaitingListLeft",
    )
    assert story.now.members == [A, B] and story.now.waiting == [D]


def test_a_member_leaving_a_group_nobody_waits_for_frees_a_place():
    story = Story(Group, [("GroupCreated", CREATED), joined(A)])
    story.then(
        story.now.leave(person_id=A, reason="moved_away", by="w1", on=TODAY), "GroupMemberLeft"
    )
    assert story.now.places_free == 2


def test_only_a_member_or_someone_waiting_can_leave():
    refused(
        domain.OnlyMembersOrWaitingCanLeave,
        lambda: full_group().now.leave(person_id=PERSON, reason="other", by="w1", on=TODAY),
    )


def test_more_places_promote_as_many_waiting_and_fewer_remove_nobody():
    story = full_group()
    events = story.then(
        story.now.change_capacity(capacity=5, by="lead", on=TODAY),
        "GroupCapacityChanged",
        "GroupMemberPromoted",
        "GroupMemberPromoted",
    )
    assert [e.payload["person_id"] for e in events[1:]] == [C, D]
    assert story.now.members == [A, B, C, D] and story.now.places_free == 1
    story.then(story.now.change_capacity(capacity=2, by="lead", on=TODAY), "GroupCapacityChanged")
    assert story.now.members == [A, B, C, D] and story.now.places_free == 0
    story.then(story.now.join(person_id=PERSON, by="w1", on=TODAY), "GroupWaitingListJoined")
    refused(
        domain.ChangeMustChangeSomething,
        lambda: story.now.change_capacity(capacity=2, by="lead", on=TODAY),
    )
    refused(
        domain.GroupCapacityMustBeAtLeastOne,
        lambda: story.now.change_capacity(capacity=0, by="lead", on=TODAY),
    )


def test_facilitators_come_and_go_but_one_always_stays():
    story = Story(Group, [("GroupCreated", CREATED)])

    def add(worker):
        return story.now.add_facilitator(worker_id=worker, by="lead", on=TODAY)

    def remove(worker):
        return story.now.remove_facilitator(worker_id=worker, by="lead", on=TODAY)

    story.then(add("w2"), "GroupFacilitatorAdded")
    refused(domain.FacilitatorIsAddedOnce, lambda: add("w2"))
    story.then(remove("w1"), "GroupFacilitatorRemoved")
    refused(domain.OnlyAFacilitatorCanBeRemoved, lambda: remove("w1"))
    refused(domain.GroupNeedsAFacilitator, lambda: remove("w2"), "only facilitator")
    assert story.now.facilitator_ids == ["w2"]


def test_a_closed_group_takes_no_more_changes():
    story = full_group()
    story.then(story.now.close(reason="programme_ended", by="lead", on=TODAY), "GroupClosed")
    g = story.now
    for act in (
        lambda: g.join(person_id=PERSON, by="w1", on=TODAY),
        lambda: g.leave(person_id=A, reason="other", by="w1", on=TODAY),
        lambda: g.change_capacity(capacity=9, by="lead", on=TODAY),
        lambda: g.add_facilitator(worker_id="w9", by="lead", on=TODAY),
        lambda: g.close(reason="other", by="lead", on=TODAY),
    ):
        refused(domain.GroupMustBeOpen, act, "this group has closed")
    refused(
        domain.GroupMustBeOpen,
        lambda: Story(Group).now.join(person_id=A, by="w1", on=TODAY),
        "no such group",
    )


# -- plans ---------------------------------------------------------------------------------------

GOAL = str(uuid.uuid4())
RECOVERY = {
    "goals": [
        {
            "goal_id": GOAL,
            "life_area": "connection_and_community",
            "text_id": str(uuid.uuid4()),
            "progress": 3,
            "status": "working_on",
            "steps": [{"text_id": str(uuid.uuid4()), "status": "in_progress"}],
        }
    ]
}
CRISIS = {
    "warning_signs": ["sleep_changes", "withdrawing_from_people"],
    "warning_signs_text_id": None,
    "what_helps": ["talking_to_someone"],
    "what_helps_text_id": str(uuid.uuid4()),
    "people": [{"type": "friend", "contact_text_id": str(uuid.uuid4())}],
    "services": [{"type": "crisis_line", "contact_text_id": None}],
    "agreed_actions": ["contact_a_named_person"],
}
CARER_CRISIS = {
    **CRISIS,
    "cared_for_person_id": PERSON,
    "cared_for_needs_text_id": str(uuid.uuid4()),
    "replacement_care": [{"type": "carers_service", "contact_text_id": str(uuid.uuid4())}],
}
CONTENT = {"recovery_wellbeing": RECOVERY, "crisis_safety": CRISIS, "carer_crisis": CARER_CRISIS}
DRAFTED_ON = date(2026, 1, 5)


def drafted(kind="recovery_wellbeing", interval=90):
    return (
        "PlanDrafted",
        {
            "person_id": PERSON,
            "kind": kind,
            "content": CONTENT[kind],
            "review_interval_days": interval,
            "referral_id": REFERRAL,
            "drafted_by": "w1",
            "drafted_on": DRAFTED_ON.isoformat(),
        },
    )


def normal(kind, content):
    """Content as a body schema hands it to the domain."""
    return schemas.PLAN_CONTENT[kind]().dump(schemas.PLAN_CONTENT[kind]().load(content))


@pytest.mark.parametrize("kind", domain.PLAN_KINDS)
def test_drafting_each_kind_of_plan(kind):
    story = Story(Plan)
    [event] = story.then(
        story.now.draft(
            person_id=PERSON, kind=kind, content=normal(kind, CONTENT[kind]), by="w1", on=TODAY
        ),
        "PlanDrafted",
    )
    assert event.payload["review_interval_days"] == 90 and story.now.revision == 1
    assert story.now.review_due_on == TODAY + timedelta(days=90)


def test_a_recovery_plan_needs_a_goal_and_a_crisis_plan_someone_to_contact():
    def draft(kind, content, plan=None):
        return (plan or Story(Plan).now).draft(
            person_id=PERSON, kind=kind, content=content, by="w1", on=TODAY
        )

    refused(domain.RecoveryPlanNeedsAGoal, lambda: draft("recovery_wellbeing", {"goals": []}))
    for kind in ("crisis_safety", "carer_crisis"):
        no_one = {**CONTENT[kind], "people": [], "services": []}
        refused(domain.CrisisPlanNeedsSomeoneToContact, lambda k=kind, c=no_one: draft(k, c))
        only_a_service = {**CONTENT[kind], "people": []}
        story = Story(Plan)
        story.then(draft(kind, only_a_service, story.now), "PlanDrafted")


@pytest.mark.parametrize(("days", "allowed"), [(6, False), (7, True), (366, True), (367, False)])
def test_the_review_interval_is_set_per_plan_between_a_week_and_a_year(days, allowed):
    story = Story(Plan)

    def act():
        return story.now.draft(
            person_id=PERSON,
            kind="recovery_wellbeing",
            content=RECOVERY,
            by="w1",
            on=TODAY,
            review_interval_days=days,
        )

    if allowed:
        story.then(act(), "PlanDrafted")
        assert story.now.review_due_on == TODAY + timedelta(days=days)
    else:
        refused(domain.ReviewIntervalMustBeBetweenAWeekAndAYear, act)


def test_a_plan_is_drafted_once():
    refused(
        domain.PlanMustBeNew,
        lambda: Story(Plan, [drafted()]).now.draft(
            person_id=PERSON, kind="recovery_wellbeing", content=RECOVERY, by="w1", on=TODAY
        ),
    )


def test_revising_carries_the_full_new_content_and_names_what_changed():
    story = Story(Plan, [drafted()])
    goal = {**RECOVERY["goals"][0], "progress": 6}
    content = normal("recovery_wellbeing", {"goals": [goal]})
    [event] = story.then(
        story.now.revise(
            kind="recovery_wellbeing", content=content, reason="at_review", by="w1", on=TODAY
        ),
        "PlanRevised",
    )
    assert event.payload["revision"] == 2 and event.payload["changed_sections"] == ["goals"]
    assert event.payload["content"] == content and story.now.revision == 2
    refused(
        domain.RevisionMustChangeThePlan,
        lambda: story.now.revise(
            kind="recovery_wellbeing", content=content, reason="other", by="w1", on=TODAY
        ),
    )


def test_a_revision_names_each_changed_section_of_a_crisis_plan():
    story = Story(Plan, [drafted("crisis_safety")])
    content = normal(
        "crisis_safety",
        {**CRISIS, "what_helps": ["music"], "agreed_actions": [], "warning_signs_text_id": GOAL},
    )
    [event] = story.then(
        story.now.revise(
            kind="crisis_safety", content=content, reason="after_a_crisis", by="w1", on=TODAY
        ),
        "PlanRevised",
    )
    assert event.payload["changed_sections"] == [
        "agreed_actions",
        "warning_signs_text_id",
        "what_helps",
    ]


def test_a_plan_keeps_its_kind_and_its_changes_follow_its_draft():
    p = Story(Plan, [drafted()]).now
    refused(
        domain.PlanKindIsFixed,
        lambda: p.revise(kind="crisis_safety", content=CRISIS, reason="other", by="w1", on=TODAY),
    )
    before = DRAFTED_ON - timedelta(days=1)
    refused(
        domain.PlanChangeCannotPrecedeTheDraft,
        lambda: p.revise(
            kind="recovery_wellbeing", content={"goals": []}, reason="other", by="w1", on=before
        ),
    )
    refused(
        domain.PlanChangeCannotPrecedeTheDraft,
        lambda: p.review(outcome="no_changes_needed", by="w1", on=before),
    )
    refused(
        domain.RecoveryPlanNeedsAGoal,
        lambda: p.revise(
            kind="recovery_wellbeing", content={"goals": []}, reason="other", by="w1", on=TODAY
        ),
    )


def test_a_review_restarts_the_review_interval():
    story = Story(Plan, [drafted()])
    due = DRAFTED_ON + timedelta(days=90)
    assert story.now.review_due_on == due == domain.review_due_on(DRAFTED_ON, 90)
    assert not story.now.is_review_overdue(due)
    assert story.now.is_review_overdue(due + timedelta(days=1))
    reviewed_on = due + timedelta(days=3)
    [event] = story.then(
        story.now.review(outcome="no_changes_needed", by="w1", on=reviewed_on), "PlanReviewed"
    )
    assert event.payload["next_review_due_on"] == (reviewed_on + timedelta(days=90)).isoformat()
    assert story.now.review_due_on == reviewed_on + timedelta(days=90)
    assert not story.now.is_review_overdue(reviewed_on + timedelta(days=30))


def test_a_review_that_says_revised_needs_a_revision_since_the_last_review():
    story = Story(Plan, [drafted()])
    refused(
        domain.ReviewedAsRevisedNeedsARevision,
        lambda: story.now.review(outcome="revised", by="w1", on=TODAY),
    )
    content = normal("recovery_wellbeing", {"goals": [{**RECOVERY["goals"][0], "progress": 7}]})
    story.then(
        story.now.revise(
            kind="recovery_wellbeing", content=content, reason="at_review", by="w1", on=TODAY
        ),
        "PlanRevised",
    )
    story.then(story.now.review(outcome="revised", by="w1", on=TODAY), "PlanReviewed")
    refused(
        domain.ReviewedAsRevisedNeedsARevision,
        lambda: story.now.review(outcome="revised", by="w1", on=TODAY),
    )


def test_changing_the_review_interval_moves_the_next_review():
    story = Story(Plan, [drafted()])
    [event] = story.then(
        story.now.change_review_interval(days=28, by="lead", on=TODAY),
        "PlanReviewIntervalChanged",
    )
    assert event.payload["previous_review_interval_days"] == 90
    assert story.now.review_due_on == DRAFTED_ON + timedelta(days=28)
    refused(
        domain.ChangeMustChangeSomething,
        lambda: story.now.change_review_interval(days=28, by="lead", on=TODAY),
    )
    refused(
        domain.ReviewIntervalMustBeBetweenAWeekAndAYear,
        lambda: story.now.change_review_interval(days=1000, by="lead", on=TODAY),
    )


def test_a_closed_plan_is_no_longer_due_for_review_nor_changed():
    story = Story(Plan, [drafted()])
    story.then(story.now.close(reason="support_ended", by="w1", on=TODAY), "PlanClosed")
    assert story.now.review_due_on is None
    assert not story.now.is_review_overdue(TODAY + timedelta(days=1000))
    p = story.now
    for act in (
        lambda: p.revise(
            kind="recovery_wellbeing", content=RECOVERY, reason="other", by="w1", on=TODAY
        ),
        lambda: p.review(outcome="no_changes_needed", by="w1", on=TODAY),
        lambda: p.change_review_interval(days=30, by="w1", on=TODAY),
        lambda: p.close(reason="other", by="w1", on=TODAY),
    ):
        refused(domain.PlanMustBeOpen, act, "closed")
    refused(
        domain.PlanMustBeOpen,
        lambda: Story(Plan).now.review(outcome="no_changes_needed", by="w1", on=TODAY),
        "no such plan",
    )
    assert Story(Plan).now.review_due_on is None


@pytest.mark.parametrize(
    ("kind", "content", "where"),
    [
        ("recovery_wellbeing", {"goals": [{**RECOVERY["goals"][0], "progress": 11}]}, "progress"),
        ("recovery_wellbeing", {"goals": RECOVERY["goals"] * 2}, "goals"),
        ("recovery_wellbeing", {**RECOVERY, "goal_words": "to feel less alone"}, "goal_words"),
        ("crisis_safety", {**CRISIS, "people": [{"type": "dog"}]}, "people"),
        ("crisis_safety", RECOVERY, "goals"),
        ("carer_crisis", {**CARER_CRISIS, "cared_for_person_id": "Ann"}, "cared_for_person_id"),
    ],
    ids=["progress-11", "same-goal-twice", "free-text", "contact-type", "wrong-kind", "name"],
)
def test_plan_content_is_checked_against_its_kinds_schema(kind, content, where):
    payload = dict(drafted(kind)[1], content=content)
    with pytest.raises(InvalidPayload) as refusal:
        registry.validate(NewEvent("PlanDrafted", payload))
    assert where in str(refusal.value.messages["content"])


# -- signposting ---------------------------------------------------------------------------------

SIGNPOSTED = {
    "person_id": PERSON,
    "destination": "housing",
    "referral_id": REFERRAL,
    "session_id": None,
    "signposted_by": "w1",
    "signposted_on": "2026-03-02",
}


def test_signposting_is_recorded_with_its_outcome_unknown_until_told():
    story = Story(Signposting)
    story.then(
        story.now.record(person_id=PERSON, destination="benefits_and_money", by="w1", on=TODAY),
        "SignpostingRecorded",
    )
    assert story.now.outcome == "unknown"
    refused(
        domain.SignpostingMustBeNew,
        lambda: story.now.record(person_id=PERSON, destination="other", by="w1", on=TODAY),
    )


@pytest.mark.parametrize("destination", domain.SIGNPOSTING_DESTINATIONS)
def test_every_destination_is_a_code_the_schema_knows(destination):
    story = Story(Signposting)
    story.then(
        story.now.record(person_id=PERSON, destination=destination, by="w1", on=TODAY),
        "SignpostingRecorded",
    )


def test_an_outcome_is_recorded_once_and_must_be_known():
    story = Story(Signposting, [("SignpostingRecorded", SIGNPOSTED)])
    refused(
        domain.OutcomeMustBeKnownToRecord,
        lambda: story.now.record_outcome(outcome="unknown", by="w1", on=TODAY),
    )
    story.then(
        story.now.record_outcome(outcome="taken_up", by="w1", on=TODAY),
        "SignpostingOutcomeRecorded",
    )
    assert story.now.outcome == "taken_up"
    refused(
        domain.OutcomeIsRecordedOnce,
        lambda: story.now.record_outcome(outcome="not_taken_up", by="w1", on=TODAY),
        "correct it",
    )


def test_an_outcome_cannot_be_dated_before_the_signposting():
    s = Story(Signposting, [("SignpostingRecorded", SIGNPOSTED)]).now
    refused(
        domain.OutcomeCannotPrecedeTheSignposting,
        lambda: s.record_outcome(outcome="taken_up", by="w1", on=date(2026, 3, 1)),
    )
    refused(
        domain.SignpostingMustExist,
        lambda: Story(Signposting).now.record_outcome(outcome="taken_up", by="w1", on=TODAY),
    )


def test_a_recorded_outcome_is_corrected_with_a_reason_keeping_the_earlier_one():
    story = Story(
        Signposting,
        [
            ("SignpostingRecorded", SIGNPOSTED),
            (
                "SignpostingOutcomeRecorded",
                {"outcome": "taken_up", "recorded_by": "w1", "recorded_on": "2026-03-05"},
            ),
        ],
    )
    s = story.now
    refused(
        domain.CorrectionNeedsAReason,
        lambda: s.correct_outcome(outcome="not_taken_up", reason=None, by="w1", on=TODAY),
    )
    refused(
        domain.CorrectionMustChangeTheRecord,
        lambda: s.correct_outcome(outcome="taken_up", reason="other", by="w1", on=TODAY),
    )
    [event] = story.then(
        s.correct_outcome(outcome="unknown", reason="recorded_in_error", by="lead", on=TODAY),
        "SignpostingOutcomeCorrected",
    )
    assert event.payload["previous_outcome"] == "taken_up" and story.now.outcome == "unknown"
    assert [h["outcome"] for h in story.now.outcome_history] == ["taken_up", "unknown"]
    refused(
        domain.CorrectionNeedsAnEarlierRecord,
        lambda: Story(Signposting, [("SignpostingRecorded", SIGNPOSTED)]).now.correct_outcome(
            outcome="taken_up", reason="other", by="w1", on=TODAY
        ),
    )


# -- outcome measures ----------------------------------------------------------------------------


def swemwbs(raw_per_item: int) -> dict:
    return dict.fromkeys(SWEMWBS_ITEMS, raw_per_item)


def measures_of(person=PERSON) -> Story:
    return Story(PersonMeasures, stream_id=person)


def take(story, timepoint, answers, on, referral=REFERRAL):
    return story.now.record(
        measure="swemwbs",
        timepoint=timepoint,
        answers=answers,
        taken_on=on,
        today=TODAY,
        by="w1",
        referral_id=referral,
    )


def test_a_measure_is_recorded_with_its_scores_on_the_persons_stream():
    story = measures_of()
    [event] = story.then(take(story, "start", swemwbs(3), date(2026, 1, 10)), "MeasureRecorded")
    assert event.payload["raw_score"] == 21 and event.payload["metric_score"] == 19.25
    assert event.payload["snomed_ct"] == "718466001" and event.payload["person_id"] == PERSON
    assert story.now.stream_type == "person_measures" and story.now.id == PERSON


def test_answers_that_do_not_fit_the_measure_are_refused_naming_the_item():
    answers = {**swemwbs(3), "feeling_useful": 7}
    with pytest.raises(ValueError, match="item 'feeling_useful' must be from 1 to 5, not 7"):
        take(measures_of(), "start", answers, TODAY)


def test_a_measure_cannot_be_taken_in_the_future():
    story = measures_of()
    story.then(take(story, "start", swemwbs(3), TODAY), "MeasureRecorded")
    refused(
        domain.MeasureCannotBeTakenInTheFuture,
        lambda: take(measures_of(), "start", swemwbs(3), TODAY + timedelta(days=1)),
    )


def test_start_and_discharge_are_taken_once_per_referral_reviews_as_often_as_needed():
    story = measures_of()
    story.then(take(story, "start", swemwbs(2), date(2026, 1, 10)), "MeasureRecorded")
    refused(
        domain.StartAndDischargeMeasuresAreTakenOnce,
        lambda: take(story, "start", swemwbs(2), date(2026, 1, 11)),
        "record a review measure instead",
    )
    for month in (2, 3):
        story.then(take(story, "review", swemwbs(3), date(2026, month, 10)), "MeasureRecorded")
    story.then(take(story, "discharge", swemwbs(4), date(2026, 3, 10)), "MeasureRecorded")
    refused(
        domain.StartAndDischargeMeasuresAreTakenOnce,
        lambda: take(story, "discharge", swemwbs(4), TODAY),
    )
    story.then(
        take(story, "start", swemwbs(2), TODAY, referral=str(uuid.uuid4())), "MeasureRecorded"
    )


def test_a_follow_up_measure_cannot_precede_the_start():
    story = measures_of()
    story.then(take(story, "start", swemwbs(2), date(2026, 2, 10)), "MeasureRecorded")
    refused(
        domain.FollowUpMeasureCannotPrecedeTheStart,
        lambda: take(story, "review", swemwbs(3), date(2026, 2, 9)),
    )


def test_a_persons_change_runs_from_first_to_latest_measure():
    story = measures_of()
    assert story.now.change("swemwbs") is None
    story.then(take(story, "start", swemwbs(2), date(2026, 1, 10)), "MeasureRecorded")  # 15.32
    story.then(take(story, "review", swemwbs(3), date(2026, 2, 10)), "MeasureRecorded")  # 19.25
    change = story.now.change("swemwbs")
    assert change.outcome == "improved" and change.change == Decimal("3.93")
    assert story.now.change("swemwbs", threshold=Decimal("4")).outcome == "no_reliable_change"
    story.then(take(story, "discharge", swemwbs(2), date(2026, 3, 1)), "MeasureRecorded")
    assert story.now.change("swemwbs").outcome == "no_reliable_change"


@pytest.mark.parametrize(
    ("field", "value"),
    [("raw_score", 22), ("metric_score", 21.0), ("snomed_ct", "718426000")],
)
def test_a_measure_payload_whose_scores_do_not_follow_from_its_answers_is_refused(field, value):
    [event] = take(measures_of(), "start", swemwbs(3), TODAY)
    tampered = NewEvent("MeasureRecorded", {**event.payload, field: value})
    with pytest.raises(InvalidPayload, match=f"payload.{field}"):
        registry.validate(tampered)


# -- every event -------------------------------------------------------------------------------


def test_every_registered_event_type_is_decided_by_some_command():
    seen: set[str] = set()

    def keep(story, events):
        story.then(events, *(e.event_type for e in events))
        seen.update(e.event_type for e in events)

    s = Story(Session)
    keep(s, book(s.now, planned_start_at=at(10)))
    keep(s, s.now.record(actual_start_at=at(10), duration_minutes=45, by="w1", now=NOW))
    keep(s, s.now.record_attendance(person_id=PERSON, status="attended", by="w1", now=NOW))
    keep(
        s,
        s.now.correct_attendance(
            person_id=PERSON, status="late_seen", reason="other", by="w1", now=NOW
        ),
    )
    keep(s, s.now.write_notes(themes=["sleep"], actions=[], notes_text_id=None, by="w1"))
    keep(
        s,
        s.now.correct_notes(
            themes=["anxiety"], actions=[], notes_text_id=None, reason="other", by="w1"
        ),
    )
    keep(s, s.now.void_attendance(person_id=PERSON, reason="recorded_in_error", by="w1"))
    keep(s, s.now.void(reason="duplicate", by="w1"))
    c = session("booked")
    keep(c, c.now.cancel(cancelled_by="service", reason="venue_unavailable", by="w1"))
    d = session("drop_in_held")
    keep(d, d.now.count_anonymous_attendees(count=4, by="w1"))
    keep(d, d.now.correct_anonymous_attendees(count=5, reason="new_information", by="w1"))

    g = Story(Group)
    keep(
        g,
        g.now.create(
            name="Walk",
            kind="social_activity",
            capacity=1,
            facilitator_ids=["w1"],
            by="w1",
            on=TODAY,
        ),
    )
    for person in (A, B, C):
        keep(g, g.now.join(person_id=person, by="w1", on=TODAY))
    keep(g, g.now.leave(person_id=C, reason="other", by="w1", on=TODAY))
    keep(g, g.now.leave(person_id=A, reason="other", by="w1", on=TODAY))
    keep(g, g.now.change_capacity(capacity=3, by="w1", on=TODAY))
    keep(g, g.now.add_facilitator(worker_id="w2", by="w1", on=TODAY))
    keep(g, g.now.remove_facilitator(worker_id="w1", by="w1", on=TODAY))
    keep(g, g.now.close(reason="funding_ended", by="w1", on=TODAY))

    p = Story(Plan)
    keep(p, p.now.draft(person_id=PERSON, kind="crisis_safety", content=CRISIS, by="w1", on=TODAY))
    revised = {**CRISIS, "what_helps": ["music"]}
    keep(p, p.now.revise(kind="crisis_safety", content=revised, reason="other", by="w1", on=TODAY))
    keep(p, p.now.review(outcome="revised", by="w1", on=TODAY))
    keep(p, p.now.change_review_interval(days=30, by="w1", on=TODAY))
    keep(p, p.now.close(reason="support_ended", by="w1", on=TODAY))

    sp = Story(Signposting)
    keep(sp, sp.now.record(person_id=PERSON, destination="housing", by="w1", on=TODAY))
    keep(sp, sp.now.record_outcome(outcome="not_taken_up", by="w1", on=TODAY))
    keep(sp, sp.now.correct_outcome(outcome="taken_up", reason="other", by="w1", on=TODAY))
    keep(sp, sp.now.void(reason="recorded_in_error", by="w1", on=TODAY))
    m = measures_of()
    keep(m, take(m, "start", swemwbs(3), TODAY))
    keep(m, m.now.void(number=1, reason="wrong_person", by="w1"))

    assert seen == set(registry.names())


def test_every_event_payload_refuses_fields_it_does_not_know():
    samples = [
        NewEvent(t, p)
        for events in (SESSIONS["held"], SESSIONS["cancelled"], [drafted()], [joined(A)])
        for t, p in events
    ]
    for event in samples:
        registry.validate(event)
        with pytest.raises(InvalidPayload, match="payload.free_text"):
            registry.validate(NewEvent(event.event_type, {**event.payload, "free_text": "x"}))


# -- request bodies ------------------------------------------------------------------------------


def test_booking_bodies_check_a_sessions_links_before_the_domain_does():
    body = {
        "kind": "one_to_one",
        "planned_start_at": "2026-03-11T10:00:00+00:00",
        "mode": "video",
        "location": "remote",
        "worker_ids": ["w1"],
    }
    with pytest.raises(schemas.ValidationError) as refusal:
        schemas.BookSessionBody().load(body)
    assert "referral_id" in refusal.value.messages
    loaded = schemas.BookSessionBody().load({**body, "referral_id": REFERRAL})
    assert loaded["planned_duration_minutes"] == 60
    with pytest.raises(schemas.ValidationError, match="group_id"):
        schemas.BookSessionBody().load({**body, "kind": "group"})
    with pytest.raises(schemas.ValidationError, match="is only for a one-to-one"):
        schemas.BookSessionBody().load({**body, "kind": "drop_in", "referral_id": REFERRAL})
    with pytest.raises(schemas.ValidationError, match="notes"):
        schemas.BookSessionBody().load({**body, "referral_id": REFERRAL, "notes": "Ann"})


def test_a_measure_body_names_the_item_that_does_not_fit():
    body = {
        "measure": "swemwbs",
        "timepoint": "start",
        "taken_on": "2026-03-01",
        "answers": {**swemwbs(3), "feeling_relaxed": 0},
    }
    with pytest.raises(schemas.ValidationError) as refusal:
        schemas.RecordMeasureBody().load(body)
    assert "feeling_relaxed" in str(refusal.value.messages["answers"])
    assert schemas.RecordMeasureBody().load({**body, "answers": swemwbs(3)})["answers"] == swemwbs(
        3
    )


def test_a_plan_body_hands_the_domain_its_content_in_normal_form():
    body = {"kind": "recovery_wellbeing", "person_id": PERSON, "content": RECOVERY}
    loaded = schemas.DraftPlanBody().load(body)
    assert loaded["review_interval_days"] == 90
    assert loaded["content"] == normal("recovery_wellbeing", RECOVERY)
    with pytest.raises(schemas.ValidationError, match="content"):
        schemas.RevisePlanBody().load(
            {"kind": "crisis_safety", "content": RECOVERY, "reason": "other"}
        )


BODIES = [
    "BookSessionBody",
    "RecordSessionBody",
    "RecordBookedSessionBody",
    "CancelSessionBody",
    "RecordAttendanceBody",
    "CorrectAttendanceBody",
    "CountAnonymousAttendeesBody",
    "CorrectAnonymousAttendeesBody",
    "WriteSessionNotesBody",
    "CreateGroupBody",
    "JoinGroupBody",
    "LeaveGroupBody",
    "ChangeGroupCapacityBody",
    "AddFacilitatorBody",
    "RemoveFacilitatorBody",
    "CloseGroupBody",
    "DraftPlanBody",
    "RevisePlanBody",
    "ReviewPlanBody",
    "ChangeReviewIntervalBody",
    "ClosePlanBody",
    "RecordSignpostingBody",
    "RecordSignpostingOutcomeBody",
    "CorrectSignpostingOutcomeBody",
    "RecordMeasureBody",
    "VoidBody",
    "VoidAttendanceBody",
    "VoidSignpostingBody",
    "CorrectSessionNotesBody",
]


@pytest.mark.parametrize("name", BODIES)
def test_every_body_refuses_what_it_does_not_know(name):
    with pytest.raises(schemas.ValidationError) as refusal:
        getattr(schemas, name)().load({"remarks": "free text"})
    assert "remarks" in refusal.value.messages


def test_correction_reasons_are_required_in_bodies():
    body = {"person_id": PERSON, "status": "attended"}
    schemas.RecordAttendanceBody().load(body)
    with pytest.raises(schemas.ValidationError, match="reason"):
        schemas.CorrectAttendanceBody().load(body)
