"""The sessions domain: sessions and who attended them, groups with their waiting lists,
recovery and crisis plans, signposting, and the outcome measures a person completes.

Every refusal is a named rule with a message a worker understands. Commands return events;
`apply_*` folds them. No I/O here: whatever lives in another service (a referral's status, a
group's) and the current time are passed in by the service.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal

from contracts.sessions import measures
from contracts.sessions.codes import (
    ATTENDANCE as ATTENDANCE,
)
from contracts.sessions.codes import (
    BOOKED as BOOKED,
)
from contracts.sessions.codes import (
    CANCELLATION_REASONS as CANCELLATION_REASONS,
)
from contracts.sessions.codes import (
    CANCELLED as CANCELLED,
)
from contracts.sessions.codes import (
    CANCELLED_BY as CANCELLED_BY,
)
from contracts.sessions.codes import (
    CARER as CARER,
)
from contracts.sessions.codes import (
    CARER_CRISIS as CARER_CRISIS,
)
from contracts.sessions.codes import (
    CLOSED as CLOSED,
)
from contracts.sessions.codes import (
    CORRECTION_REASONS as CORRECTION_REASONS,
)
from contracts.sessions.codes import (
    CRISIS_SAFETY as CRISIS_SAFETY,
)
from contracts.sessions.codes import (
    DEFAULT_REVIEW_INTERVAL_DAYS as DEFAULT_REVIEW_INTERVAL_DAYS,
)
from contracts.sessions.codes import (
    DIRECT_CONTACT_MEDIA as DIRECT_CONTACT_MEDIA,
)
from contracts.sessions.codes import (
    DROP_IN as DROP_IN,
)
from contracts.sessions.codes import (
    GOAL_STATUSES as GOAL_STATUSES,
)
from contracts.sessions.codes import (
    GROUP as GROUP,
)
from contracts.sessions.codes import (
    GROUP_CLOSING_REASONS as GROUP_CLOSING_REASONS,
)
from contracts.sessions.codes import (
    GROUP_KINDS as GROUP_KINDS,
)
from contracts.sessions.codes import (
    GROUP_KINDS_OF_SESSION as GROUP_KINDS_OF_SESSION,
)
from contracts.sessions.codes import (
    HELD as HELD,
)
from contracts.sessions.codes import (
    LEAVING_REASONS as LEAVING_REASONS,
)
from contracts.sessions.codes import (
    LIFE_AREAS as LIFE_AREAS,
)
from contracts.sessions.codes import (
    LOCATIONS as LOCATIONS,
)
from contracts.sessions.codes import (
    MAX_SESSION_MINUTES as MAX_SESSION_MINUTES,
)
from contracts.sessions.codes import (
    MODES as MODES,
)
from contracts.sessions.codes import (
    NOT_SEEN as NOT_SEEN,
)
from contracts.sessions.codes import (
    NOT_TAKEN_UP as NOT_TAKEN_UP,
)
from contracts.sessions.codes import (
    NOTE_THEMES as NOTE_THEMES,
)
from contracts.sessions.codes import (
    ONE_TO_ONE as ONE_TO_ONE,
)
from contracts.sessions.codes import (
    OPEN as OPEN,
)
from contracts.sessions.codes import (
    PERSON_CONTACTS as PERSON_CONTACTS,
)
from contracts.sessions.codes import (
    PLAN_ACTIONS as PLAN_ACTIONS,
)
from contracts.sessions.codes import (
    PLAN_CLOSING_REASONS as PLAN_CLOSING_REASONS,
)
from contracts.sessions.codes import (
    PLAN_KINDS as PLAN_KINDS,
)
from contracts.sessions.codes import (
    RECORDABLE_OUTCOMES as RECORDABLE_OUTCOMES,
)
from contracts.sessions.codes import (
    RECOVERY_WELLBEING as RECOVERY_WELLBEING,
)
from contracts.sessions.codes import (
    REFERRAL_KINDS as REFERRAL_KINDS,
)
from contracts.sessions.codes import (
    REVIEW_OUTCOMES as REVIEW_OUTCOMES,
)
from contracts.sessions.codes import (
    REVISION_REASONS as REVISION_REASONS,
)
from contracts.sessions.codes import (
    SEEN as SEEN,
)
from contracts.sessions.codes import (
    SERVICE_CONTACTS as SERVICE_CONTACTS,
)
from contracts.sessions.codes import (
    SESSION_ACTIONS as SESSION_ACTIONS,
)
from contracts.sessions.codes import (
    SESSION_KINDS as SESSION_KINDS,
)
from contracts.sessions.codes import (
    SIGNPOSTING_DESTINATIONS as SIGNPOSTING_DESTINATIONS,
)
from contracts.sessions.codes import (
    SIGNPOSTING_OUTCOMES as SIGNPOSTING_OUTCOMES,
)
from contracts.sessions.codes import (
    STEP_STATUSES as STEP_STATUSES,
)
from contracts.sessions.codes import (
    TAKEN_UP as TAKEN_UP,
)
from contracts.sessions.codes import (
    UNKNOWN as UNKNOWN,
)
from contracts.sessions.codes import (
    VOID_REASONS as VOID_REASONS,
)
from contracts.sessions.codes import (
    VOIDED as VOIDED,
)
from contracts.sessions.codes import (
    WARNING_SIGNS as WARNING_SIGNS,
)
from contracts.sessions.codes import (
    WHAT_HELPS as WHAT_HELPS,
)
from shared.aggregate import Aggregate, ReferenceRefused, Rule
from shared.events import NewEvent


def _code_of(table: Mapping[str, str], value: str, name: str) -> str:
    try:
        return table[value]
    except KeyError:
        raise ValueError(f"{name}: '{value}' is not one of {', '.join(table)}") from None


def _readable(code: str | None) -> str:
    return (code or "unknown").replace("_", " ")


# -- sessions: codes ---------------------------------------------------------------------------

# Default for `max_future`: how far past now a session recorded as held may end, allowing for
# clocks that differ between devices and for writing up in a session's closing minutes.
MAX_FUTURE = timedelta(minutes=15)
# Two sessions for one person starting within an hour of each other are most likely one session
# recorded twice (a worker's own and a colleague's record of the same meeting); both may be real,
# so it is a warning, not a refusal.
LIKELY_DUPLICATE_WINDOW = timedelta(hours=1)
# The referral states in which one-to-one support can be booked or recorded (the referrals
# service's names): support has started and is not on hold or ended.
SUPPORTABLE_REFERRAL_STATES = ("active",)


# -- sessions: rules ---------------------------------------------------------------------------


class SessionMustBeNew(Rule):
    pass


class SessionMustExist(Rule):
    pass


class OneToOneNeedsAnActiveReferral(Rule):
    pass


class CarerSupportNeedsAnActiveReferral(Rule):
    pass


class GroupSessionNeedsAnOpenGroup(Rule):
    pass


class SessionLinksMustFitItsKind(Rule):
    pass


class SessionNeedsAWorker(Rule):
    pass


class SessionCannotEndBeforeItStarts(Rule):
    pass


class SessionCannotBeLongerThanTheLimit(Rule):
    pass


class SessionCannotBeRecordedInTheFuture(Rule):
    pass


class SessionIsRecordedOnce(Rule):
    pass


class RecordMustMatchTheBooking(Rule):
    pass


class CancelledSessionCannotChange(Rule):
    pass


class OnlyBookedSessionsCanBeCancelled(Rule):
    pass


class SessionMustBeHeldFirst(Rule):
    pass


class NotAttendingOnlyOnceTheSessionStarts(Rule):
    pass


class AttendanceMustBeForThePersonBooked(Rule):
    pass


class AttendanceIsRecordedOncePerPerson(Rule):
    pass


class OnlyDropInsCountAnonymousAttendees(Rule):
    pass


class AnonymousCountIsRecordedOnce(Rule):
    pass


class CorrectionNeedsAnEarlierRecord(Rule):
    pass


class CorrectionNeedsAReason(Rule):
    pass


class CorrectionMustChangeTheRecord(Rule):
    pass


class NotesMustSaySomething(Rule):
    pass


class NotesAreWrittenOnceTheSessionIsHeld(Rule):
    pass


class NotesAreWrittenOnce(Rule):
    pass


class GroupSessionIsRecordedOncePerStart(Rule):
    pass


class VoidNeedsARecord(Rule):
    pass


class VoidedRecordCannotChange(Rule):
    pass


class DateMustNotPrecedeTheEarliestDate(ReferenceRefused):
    """A date before the earliest the partner records (a mistyped year such as 1900): invalid
    input, answered 422 naming the field."""


class ReferralTimelineRunsForward(Rule):
    """received <= ... <= sessions <= discharge: a session for a referral is dated within the
    referral's own timeline (a conflict with what is recorded: 409)."""


class SessionCannotPrecedeTheReferral(ReferralTimelineRunsForward):
    pass


class SessionCannotPrecedeTheFirstContact(ReferralTimelineRunsForward):
    pass


class SessionCannotFollowTheDischarge(ReferralTimelineRunsForward):
    pass


class MeasureCannotPrecedeTheReferral(ReferralTimelineRunsForward):
    pass


def measure_within_the_referral(taken_on: date, received_on: date | None) -> None:
    """A measure recorded for a referral is taken on or after the day it was received."""
    if received_on is not None and taken_on < received_on:
        raise MeasureCannotPrecedeTheReferral(
            f"taken_on: a measure taken on {taken_on.isoformat()} would come before the referral"
            f" was received on {received_on.isoformat()}"
        )


def not_before_earliest(field_name: str, on: date | None, earliest: date | None) -> date | None:
    """`on`, refused when it is before the earliest date the partner records."""
    if on is not None and earliest is not None and on < earliest:
        raise DateMustNotPrecedeTheEarliestDate(
            field_name,
            f"{on.isoformat()} is before {earliest.isoformat()}, the earliest date this partner"
            " records",
        )
    return on


def within_the_referral(
    kind: str | None,
    field_name: str,
    starts_at: datetime,
    received_on: date | None,
    ended_on: date | None,
    first_contact_on: date | None = None,
) -> None:
    """A one-to-one or carer session is held on or after the day its referral was received and
    the day of its first contact (a session on that day may be the first contact itself) and,
    once the referral is discharged or closed, on or before the day it ended."""
    if kind not in REFERRAL_KINDS:
        return
    on = starts_at.date()
    name = _session_name(kind)
    if received_on is not None and on < received_on:
        raise SessionCannotPrecedeTheReferral(
            f"{field_name}: {name} on {on.isoformat()} would come before the referral was"
            f" received on {received_on.isoformat()}"
        )
    if first_contact_on is not None and on < first_contact_on:
        raise SessionCannotPrecedeTheFirstContact(
            f"{field_name}: {name} on {on.isoformat()} would come before the referral's first"
            f" contact on {first_contact_on.isoformat()}; if this session was the first contact,"
            " correct the referral's first_contact_on"
        )
    if ended_on is not None and on > ended_on:
        raise SessionCannotFollowTheDischarge(
            f"{field_name}: {name} on {on.isoformat()} would come after the referral ended on"
            f" {ended_on.isoformat()}"
        )


def _void_reason(reason: str | None) -> str:
    if not reason:
        raise CorrectionNeedsAReason("say why the record is being voided")
    if reason not in VOID_REASONS:
        raise ValueError(f"reason: '{reason}' is not one of {', '.join(VOID_REASONS)}")
    return reason


def not_a_second_group_session(
    kind: str, group_id: str | None, starts_at: datetime, same_group_and_start: Sequence[str]
) -> None:
    """A group meets once at a time: a second session of the same group starting at the same
    moment is the first one recorded again."""
    if kind in GROUP_KINDS_OF_SESSION and group_id and same_group_and_start:
        raise GroupSessionIsRecordedOncePerStart(
            f"this group already has a session starting at {starts_at.isoformat()}"
            f" ({', '.join(same_group_and_start)}); record attendance on that session, or void"
            f" it first if it was recorded in error"
        )


def likely_duplicates(
    *,
    kind: str,
    person_id: str | None,
    starts_at: datetime,
    others: Sequence[tuple[str, datetime]],
) -> list[dict]:
    """Warnings, not refusals: `others` are the same person's sessions (id, start), not cancelled
    or voided; any starting within the window is likely this one recorded again."""
    if kind not in REFERRAL_KINDS or not person_id:
        return []
    near = [
        session_id
        for session_id, other_start in others
        if abs(other_start - starts_at) < LIKELY_DUPLICATE_WINDOW
    ]
    if not near:
        return []
    minutes = int(LIKELY_DUPLICATE_WINDOW.total_seconds() // 60)
    return [
        {
            "rule": "OneToOneLikelyRecordedTwice",
            "message": f"this person already has {_session_name(kind)} starting within"
            f" {minutes} minutes of this one; if it is the same session, void one of them",
            "session_ids": near,
        }
    ]


def _session_name(kind: str) -> str:
    return {ONE_TO_ONE: "a one-to-one", CARER: "carer support", GROUP: "a group session"}.get(
        kind, "a drop-in"
    )


def _links(
    kind: str,
    verb: str,
    referral_id: str | None,
    referral_status: str | None,
    person_id: str | None,
    group_id: str | None,
    group_status: str | None,
) -> dict:
    """The session's links to a referral, person and group, refused unless they fit its kind."""
    if kind not in SESSION_KINDS:
        raise ValueError(f"kind: '{kind}' is not one of {', '.join(SESSION_KINDS)}")
    name = _session_name(kind)
    if kind in REFERRAL_KINDS:
        rule = {
            ONE_TO_ONE: OneToOneNeedsAnActiveReferral,
            CARER: CarerSupportNeedsAnActiveReferral,
        }[kind]
        if not referral_id:
            raise rule(f"{name} is {verb} for a referral; say which referral it supports")
        if referral_status is None:
            raise rule("no such referral")
        if referral_status not in SUPPORTABLE_REFERRAL_STATES:
            raise rule(
                f"{name} can be {verb} only for an active referral; this referral is"
                f" {_readable(referral_status)}"
            )
        if not person_id:
            raise ValueError("person_id: the referral's person is needed for " + name)
    elif referral_id or person_id:
        raise SessionLinksMustFitItsKind(
            f"{name} is open to several people and is not booked for one person's referral"
        )
    if kind in GROUP_KINDS_OF_SESSION:
        if kind == GROUP and not group_id:
            raise GroupSessionNeedsAnOpenGroup(f"{name} belongs to a group; say which group")
        if group_id and group_status is None:
            raise GroupSessionNeedsAnOpenGroup("no such group")
        if group_id and verb == "booked" and group_status != "open":
            raise GroupSessionNeedsAnOpenGroup(
                f"{name} can be booked only for an open group; this group is"
                f" {_readable(group_status)}"
            )
    elif group_id:
        raise SessionLinksMustFitItsKind(f"{name} does not belong to a group")
    return {
        "kind": kind,
        "referral_id": referral_id,
        "person_id": str(person_id) if person_id else None,
        "group_id": group_id,
    }


def _unique(codes: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(codes))


def _workers(worker_ids: Sequence[str] | None) -> list[str]:
    workers = _unique(worker_ids or ())
    if not workers:
        raise SessionNeedsAWorker("a session needs at least one worker")
    return workers


def _length(minutes: int) -> int:
    if minutes < 1:
        raise SessionCannotEndBeforeItStarts("a session lasts at least one minute")
    if minutes > MAX_SESSION_MINUTES:
        raise SessionCannotBeLongerThanTheLimit(
            f"a session lasts at most {MAX_SESSION_MINUTES} minutes; {minutes} minutes looks like"
            f" a typing error"
        )
    return minutes


class Session(Aggregate):
    """One session: a one-to-one, a group's session, a drop-in or carer support."""

    stream_type = "session"

    def __init__(self, stream_id: str):
        super().__init__(stream_id)
        self.status: str | None = None
        self.kind: str | None = None
        self.mode: str | None = None
        self.location: str | None = None
        self.worker_ids: list[str] = []
        self.referral_id: str | None = None
        self.person_id: str | None = None
        self.group_id: str | None = None
        self.planned_start_at: datetime | None = None
        self.planned_duration_minutes: int | None = None
        self.actual_start_at: datetime | None = None
        self.duration_minutes: int | None = None
        # each person's attendance as it stands, and every record and correction in order
        self.attendance: dict[str, str] = {}
        self.attendance_history: list[dict] = []
        self.anonymous_attendees: int | None = None
        self.notes: dict | None = None
        self.cancellation: dict | None = None
        self.voided: dict | None = None

    # -- commands ----------------------------------------------------------------------------

    def book(
        self,
        *,
        kind: str,
        planned_start_at: datetime,
        planned_duration_minutes: int,
        mode: str,
        location: str,
        worker_ids: Sequence[str],
        by: str,
        referral_id: str | None = None,
        referral_status: str | None = None,
        person_id: str | None = None,
        group_id: str | None = None,
        group_status: str | None = None,
        same_group_and_start: Sequence[str] = (),
        earliest: date | None = None,
        referral_received_on: date | None = None,
        referral_ended_on: date | None = None,
        referral_first_contact_on: date | None = None,
    ) -> list[NewEvent]:
        """`same_group_and_start`: the group's other sessions (not cancelled or voided)
        starting at `planned_start_at`; `earliest`: the earliest date the partner records;
        `referral_received_on`, `referral_first_contact_on` and `referral_ended_on`: the
        referral's timeline, if known."""
        if self.status is not None:
            raise SessionMustBeNew("this session has already been booked or recorded")
        not_before_earliest("planned_start_at", planned_start_at.date(), earliest)
        links = _links(
            kind, "booked", referral_id, referral_status, person_id, group_id, group_status
        )
        within_the_referral(
            kind,
            "planned_start_at",
            planned_start_at,
            referral_received_on,
            referral_ended_on,
            referral_first_contact_on,
        )
        not_a_second_group_session(kind, group_id, planned_start_at, same_group_and_start)
        payload = {
            **links,
            "mode": mode,
            "medium_code": _code_of(MODES, mode, "mode"),
            "location": location,
            "worker_ids": _workers(worker_ids),
            "planned_start_at": planned_start_at.isoformat(),
            "planned_duration_minutes": _length(planned_duration_minutes),
            "booked_by": by,
        }
        return self.decide([NewEvent("SessionBooked", payload)])

    def record(
        self,
        *,
        actual_start_at: datetime,
        duration_minutes: int,
        by: str,
        now: datetime,
        max_future: timedelta = MAX_FUTURE,
        kind: str | None = None,
        mode: str | None = None,
        location: str | None = None,
        worker_ids: Sequence[str] | None = None,
        referral_id: str | None = None,
        referral_status: str | None = None,
        person_id: str | None = None,
        group_id: str | None = None,
        group_status: str | None = None,
        same_group_and_start: Sequence[str] = (),
        earliest: date | None = None,
        referral_received_on: date | None = None,
        referral_ended_on: date | None = None,
        referral_first_contact_on: date | None = None,
    ) -> list[NewEvent]:
        """Record the session as held: a booked one (its details stand unless mode, location or
        workers are given) or one that was never booked (then every detail is needed).
        `same_group_and_start`: the group's other sessions starting at `actual_start_at`;
        `earliest` and the `referral_*` dates as for `book`."""
        self._must_not_be_voided()
        if self.status == CANCELLED:
            raise CancelledSessionCannotChange(
                "this session was cancelled; record the session that took place instead"
            )
        if self.status == HELD:
            raise SessionIsRecordedOnce("this session has already been recorded as held")
        _length(duration_minutes)
        not_before_earliest("actual_start_at", actual_start_at.date(), earliest)
        ends_at = actual_start_at + timedelta(minutes=duration_minutes)
        if ends_at > now + max_future:
            ahead = math.ceil((ends_at - now).total_seconds() / 60)
            allowed = int(max_future.total_seconds() // 60)
            raise SessionCannotBeRecordedInTheFuture(
                f"a session is recorded once it has happened; this one would end {ahead} minutes"
                f" from now, more than the {allowed} minutes allowed"
            )
        if self.status == BOOKED:
            links = self._as_booked(kind, referral_id, person_id, group_id)
        else:
            if kind is None or mode is None or location is None:
                raise ValueError("a session that was not booked needs its kind, mode and location")
            links = _links(
                kind, "recorded", referral_id, referral_status, person_id, group_id, group_status
            )
        within_the_referral(
            links["kind"],
            "actual_start_at",
            actual_start_at,
            referral_received_on,
            referral_ended_on,
            referral_first_contact_on,
        )
        not_a_second_group_session(
            links["kind"], links["group_id"], actual_start_at, same_group_and_start
        )
        mode = mode or self.mode
        payload = {
            **links,
            "mode": mode,
            "medium_code": _code_of(MODES, mode, "mode"),
            "location": location or self.location,
            "worker_ids": _workers(worker_ids or self.worker_ids),
            "planned_start_at": (
                self.planned_start_at.isoformat() if self.planned_start_at else None
            ),
            "actual_start_at": actual_start_at.isoformat(),
            "duration_minutes": duration_minutes,
            "recorded_by": by,
        }
        return self.decide([NewEvent("SessionRecorded", payload)])

    def cancel(self, *, cancelled_by: str, reason: str, by: str) -> list[NewEvent]:
        """`cancelled_by` is "person" or "service": who called the whole session off."""
        self._must_exist()
        self._must_not_be_cancelled()
        if self.status != BOOKED:
            raise OnlyBookedSessionsCanBeCancelled(
                "a session recorded as held cannot be cancelled; correct who attended instead"
            )
        payload = {
            "cancelled_by": cancelled_by,
            "attendance_code": _code_of(CANCELLED_BY, cancelled_by, "cancelled_by"),
            "reason": reason,
            "recorded_by": by,
        }
        return self.decide([NewEvent("SessionCancelled", payload)])

    def record_attendance(
        self, *, person_id: str, status: str, by: str, now: datetime
    ) -> list[NewEvent]:
        self._must_exist()
        self._must_not_be_cancelled()
        person_id = str(person_id)
        if person_id in self.attendance:
            raise AttendanceIsRecordedOncePerPerson(
                f"this person's attendance is already recorded as"
                f" {_readable(self.attendance[person_id])}; correct it, with a reason, instead"
            )
        self._attendance_fits(person_id, status, now)
        payload = {
            "person_id": person_id,
            "status": status,
            "attendance_code": ATTENDANCE[status],
            "recorded_by": by,
        }
        return self.decide([NewEvent("AttendanceRecorded", payload)])

    def correct_attendance(
        self, *, person_id: str, status: str, reason: str | None, by: str, now: datetime
    ) -> list[NewEvent]:
        """A correction keeps the earlier record: it says what it was, who changed it and why."""
        self._must_exist()
        self._must_not_be_cancelled()
        person_id = str(person_id)
        previous = self.attendance.get(person_id)
        if previous is None:
            raise CorrectionNeedsAnEarlierRecord(
                "no attendance is recorded for this person to correct; record it instead"
            )
        if not reason:
            raise CorrectionNeedsAReason("say why the attendance is being corrected")
        if status == previous:
            raise CorrectionMustChangeTheRecord(
                f"this person's attendance is already recorded as {_readable(status)}"
            )
        self._attendance_fits(person_id, status, now)
        payload = {
            "person_id": person_id,
            "status": status,
            "attendance_code": ATTENDANCE[status],
            "previous_status": previous,
            "previous_attendance_code": ATTENDANCE[previous],
            "reason": reason,
            "corrected_by": by,
        }
        return self.decide([NewEvent("AttendanceCorrected", payload)])

    def count_anonymous_attendees(self, *, count: int, by: str) -> list[NewEvent]:
        self._anonymous_count_allowed()
        if self.anonymous_attendees is not None:
            raise AnonymousCountIsRecordedOnce(
                f"{self.anonymous_attendees} anonymous attendees are already counted; correct the"
                f" count, with a reason, instead"
            )
        return self.decide(
            [NewEvent("AnonymousAttendeesCounted", {"count": count, "counted_by": by})]
        )

    def correct_anonymous_attendees(
        self, *, count: int, reason: str | None, by: str
    ) -> list[NewEvent]:
        self._anonymous_count_allowed()
        if self.anonymous_attendees is None:
            raise CorrectionNeedsAnEarlierRecord(
                "no anonymous attendees are counted yet to correct; count them instead"
            )
        if not reason:
            raise CorrectionNeedsAReason("say why the count is being corrected")
        if count == self.anonymous_attendees:
            raise CorrectionMustChangeTheRecord(f"the count is already {count}")
        payload = {
            "count": count,
            "previous_count": self.anonymous_attendees,
            "reason": reason,
            "corrected_by": by,
        }
        return self.decide([NewEvent("AnonymousAttendeesCorrected", payload)])

    def write_notes(
        self,
        *,
        themes: Sequence[str],
        actions: Sequence[str],
        notes_text_id: str | None,
        by: str,
    ) -> list[NewEvent]:
        """Structured notes; the worker's own words are sealed elsewhere, `notes_text_id` points
        at them. Notes are written once, after the session is held; a change is a correction."""
        self._must_exist()
        self._must_not_be_cancelled()
        if self.status != HELD:
            raise NotesAreWrittenOnceTheSessionIsHeld(
                "notes are written once the session has taken place; record it as held first"
            )
        if self.notes is not None:
            raise NotesAreWrittenOnce(
                "this session's notes are already written; correct them, with a reason, instead"
            )
        if not themes and not actions and not notes_text_id:
            raise NotesMustSaySomething("notes need a theme, an action agreed or some words")
        payload = {
            "themes": _unique(themes),
            "actions": _unique(actions),
            "notes_text_id": str(notes_text_id) if notes_text_id else None,
            "written_by": by,
        }
        return self.decide([NewEvent("SessionNotesWritten", payload)])

    def correct_notes(
        self,
        *,
        themes: Sequence[str],
        actions: Sequence[str],
        notes_text_id: str | None,
        reason: str | None,
        by: str,
    ) -> list[NewEvent]:
        """The notes as they should read; new words get a new sealed text (`notes_text_id`),
        none given keeps the words written before. Every version stays in the history."""
        self._must_exist()
        if self.notes is None:
            raise CorrectionNeedsAnEarlierRecord(
                "no notes are written for this session yet to correct; write them instead"
            )
        if not reason:
            raise CorrectionNeedsAReason("say why the notes are being corrected")
        themes, actions = _unique(themes), _unique(actions)
        previous_text = self.notes.get("notes_text_id")
        if (
            themes == self.notes["themes"]
            and actions == self.notes["actions"]
            and not notes_text_id
        ):
            raise CorrectionMustChangeTheRecord(
                "the corrected notes say the same as the notes they correct"
            )
        if not themes and not actions and not (notes_text_id or previous_text):
            raise NotesMustSaySomething("notes need a theme, an action agreed or some words")
        payload = {
            "themes": themes,
            "actions": actions,
            "notes_text_id": str(notes_text_id) if notes_text_id else previous_text,
            "previous_themes": self.notes["themes"],
            "previous_actions": self.notes["actions"],
            "previous_notes_text_id": previous_text,
            "reason": reason,
            "corrected_by": by,
        }
        return self.decide([NewEvent("SessionNotesCorrected", payload)])

    def void(self, *, reason: str | None, by: str) -> list[NewEvent]:
        """Withdraw a session recorded in error: it leaves lists, registers and reports, and
        its events stay, with who voided it and why."""
        if self.status is None:
            raise SessionMustExist("no such session")
        self._must_not_be_voided()
        payload = {"reason": _void_reason(reason), "previous_status": self.status, "voided_by": by}
        return self.decide([NewEvent("SessionVoided", payload)])

    def void_attendance(self, *, person_id: str, reason: str | None, by: str) -> list[NewEvent]:
        """Withdraw one person's attendance recorded in error (someone who was never there);
        a wrong status is corrected instead."""
        self._must_exist()
        person_id = str(person_id)
        previous = self.attendance.get(person_id)
        if previous is None:
            raise VoidNeedsARecord("no attendance is recorded for this person to void")
        payload = {
            "person_id": person_id,
            "previous_status": previous,
            "previous_attendance_code": ATTENDANCE[previous],
            "reason": _void_reason(reason),
            "voided_by": by,
        }
        return self.decide([NewEvent("AttendanceVoided", payload)])

    # -- rules shared by commands --------------------------------------------------------------

    def _must_exist(self) -> None:
        if self.status is None:
            raise SessionMustExist("no such session")
        self._must_not_be_voided()

    def _must_not_be_voided(self) -> None:
        if self.status == VOIDED:
            raise VoidedRecordCannotChange(
                "this session was voided as recorded in error; record the session that took"
                " place instead"
            )

    def _must_not_be_cancelled(self) -> None:
        if self.status == CANCELLED:
            raise CancelledSessionCannotChange("this session was cancelled")

    def _as_booked(self, kind, referral_id, person_id, group_id) -> dict:
        booked = {
            "kind": self.kind,
            "referral_id": self.referral_id,
            "person_id": self.person_id,
            "group_id": self.group_id,
        }
        given = {
            "kind": kind,
            "referral_id": referral_id,
            "person_id": person_id,
            "group_id": group_id,
        }
        for name, value in given.items():
            if value is not None and str(value) != booked[name]:
                raise RecordMustMatchTheBooking(
                    f"this session was booked with another {name.replace('_', ' ')}; book a new"
                    f" session instead"
                )
        return booked

    def _attendance_fits(self, person_id: str, status: str, now: datetime) -> None:
        _code_of(ATTENDANCE, status, "status")
        if self.kind in REFERRAL_KINDS and person_id != self.person_id:
            raise AttendanceMustBeForThePersonBooked(
                f"{_session_name(self.kind)} is for the person it was booked for"
            )
        if status in SEEN and self.status != HELD:
            raise SessionMustBeHeldFirst(
                "record the session as held, with its start and length, before saying who was seen"
            )
        starts_at = self.actual_start_at or self.planned_start_at
        if status in NOT_SEEN and starts_at and starts_at > now:
            raise NotAttendingOnlyOnceTheSessionStarts(
                f"{_readable(status)} can be recorded only once the session has started"
            )

    def _anonymous_count_allowed(self) -> None:
        self._must_exist()
        if self.kind != DROP_IN:
            raise OnlyDropInsCountAnonymousAttendees(
                "only a drop-in counts people who came without giving their details"
            )
        self._must_not_be_cancelled()
        if self.status != HELD:
            raise SessionMustBeHeldFirst("record the drop-in as held before counting who came")

    # -- folding -----------------------------------------------------------------------------

    def _take_details(self, p: dict) -> None:
        self.kind = p["kind"]
        self.mode = p["mode"]
        self.location = p["location"]
        self.worker_ids = list(p["worker_ids"])
        self.referral_id = p["referral_id"]
        self.person_id = p["person_id"]
        self.group_id = p["group_id"]
        if p["planned_start_at"]:
            self.planned_start_at = datetime.fromisoformat(p["planned_start_at"])

    def apply_session_booked(self, p: dict) -> None:
        self.status = BOOKED
        self._take_details(p)
        self.planned_duration_minutes = p["planned_duration_minutes"]

    def apply_session_recorded(self, p: dict) -> None:
        self.status = HELD
        self._take_details(p)
        self.actual_start_at = datetime.fromisoformat(p["actual_start_at"])
        self.duration_minutes = p["duration_minutes"]

    def apply_session_cancelled(self, p: dict) -> None:
        self.status = CANCELLED
        self.cancellation = {"cancelled_by": p["cancelled_by"], "reason": p["reason"]}

    def apply_attendance_recorded(self, p: dict) -> None:
        self.attendance[p["person_id"]] = p["status"]
        self.attendance_history.append(dict(p))

    def apply_attendance_corrected(self, p: dict) -> None:
        self.attendance[p["person_id"]] = p["status"]
        self.attendance_history.append(dict(p))

    def apply_anonymous_attendees_counted(self, p: dict) -> None:
        self.anonymous_attendees = p["count"]

    def apply_anonymous_attendees_corrected(self, p: dict) -> None:
        self.anonymous_attendees = p["count"]

    def apply_session_notes_written(self, p: dict) -> None:
        self.notes = dict(p)

    def apply_session_notes_corrected(self, p: dict) -> None:
        self.notes = {
            "themes": p["themes"],
            "actions": p["actions"],
            "notes_text_id": p["notes_text_id"],
            "written_by": self.notes["written_by"],
            "corrected_by": p["corrected_by"],
            "reason": p["reason"],
        }

    def apply_session_voided(self, p: dict) -> None:
        self.status = VOIDED
        self.voided = {"reason": p["reason"], "previous_status": p["previous_status"]}

    def apply_attendance_voided(self, p: dict) -> None:
        del self.attendance[p["person_id"]]
        self.attendance_history.append(dict(p))

    # -- reading -----------------------------------------------------------------------------

    @property
    def medium_code(self) -> str | None:
        return MODES.get(self.mode) if self.mode else None

    def as_dict(self) -> dict:
        return {
            "session_id": self.id,
            "version": self.version,
            "status": self.status,
            "kind": self.kind,
            "mode": self.mode,
            "medium_code": self.medium_code,
            "location": self.location,
            "worker_ids": self.worker_ids,
            "referral_id": self.referral_id,
            "person_id": self.person_id,
            "group_id": self.group_id,
            "planned_start_at": self.planned_start_at,
            "planned_duration_minutes": self.planned_duration_minutes,
            "actual_start_at": self.actual_start_at,
            "duration_minutes": self.duration_minutes,
            "attendance": [
                {"person_id": person, "status": status, "attendance_code": ATTENDANCE[status]}
                for person, status in self.attendance.items()
            ],
            "anonymous_attendees": self.anonymous_attendees,
            "notes": self.notes,
            "cancellation": self.cancellation,
            "voided": self.voided,
        }


# -- groups ------------------------------------------------------------------------------------


class GroupMustBeNew(Rule):
    pass


class GroupMustBeOpen(Rule):
    pass


class GroupNeedsAFacilitator(Rule):
    pass


class GroupCapacityMustBeAtLeastOne(Rule):
    pass


class ChangeMustChangeSomething(Rule):
    pass


class PersonJoinsAGroupOnce(Rule):
    pass


class OnlyMembersOrWaitingCanLeave(Rule):
    pass


class FacilitatorIsAddedOnce(Rule):
    pass


class OnlyAFacilitatorCanBeRemoved(Rule):
    pass


class Group(Aggregate):
    """A named group or programme: its members, a waiting list when full, its facilitators."""

    stream_type = "group"

    def __init__(self, stream_id: str):
        super().__init__(stream_id)
        self.status: str | None = None
        self.name: str | None = None
        self.kind: str | None = None
        self.capacity = 0
        self.sessions_planned: int | None = None
        self.facilitator_ids: list[str] = []
        self.members: list[str] = []
        self.waiting: list[str] = []

    # -- commands ----------------------------------------------------------------------------

    def create(
        self,
        *,
        name: str,
        kind: str,
        capacity: int,
        facilitator_ids: Sequence[str],
        by: str,
        on: date,
        sessions_planned: int | None = None,
    ) -> list[NewEvent]:
        if self.status is not None:
            raise GroupMustBeNew("this group already exists")
        facilitators = _unique(facilitator_ids)
        if not facilitators:
            raise GroupNeedsAFacilitator("a group needs at least one facilitator")
        self._capacity_allowed(capacity)
        payload = {
            "name": name,
            "kind": kind,
            "capacity": capacity,
            "facilitator_ids": facilitators,
            "sessions_planned": sessions_planned,
            "created_by": by,
            "created_on": on.isoformat(),
        }
        return self.decide([NewEvent("GroupCreated", payload)])

    def join(self, *, person_id: str, by: str, on: date) -> list[NewEvent]:
        """A place if there is one; otherwise a place on the waiting list."""
        self._must_be_open()
        person_id = str(person_id)
        if person_id in self.members:
            raise PersonJoinsAGroupOnce("this person is already a member of the group")
        if person_id in self.waiting:
            raise PersonJoinsAGroupOnce("this person is already on the group's waiting list")
        if len(self.members) < self.capacity:
            event = NewEvent(
                "GroupMemberJoined",
                {"person_id": person_id, "joined_on": on.isoformat(), "recorded_by": by},
            )
        else:
            event = NewEvent(
                "GroupWaitingListJoined",
                {
                    "person_id": person_id,
                    "position": len(self.waiting) + 1,
                    "joined_on": on.isoformat(),
                    "recorded_by": by,
                },
            )
        return self.decide([event])

    def leave(self, *, person_id: str, reason: str, by: str, on: date) -> list[NewEvent]:
        """A member leaving frees a place for the first person waiting."""
        self._must_be_open()
        person_id = str(person_id)
        payload = {
            "person_id": person_id,
            "reason": reason,
            "left_on": on.isoformat(),
            "recorded_by": by,
        }
        if person_id in self.waiting:
            return self.decide([NewEvent("GroupWaitingListLeft", payload)])
        if person_id not in self.members:
            raise OnlyMembersOrWaitingCanLeave(
                "this person is neither a member of the group nor on its waiting list"
            )
        return self.decide([NewEvent("GroupMemberLeft", payload)]) + self._promote(by, on)

    def change_capacity(self, *, capacity: int, by: str, on: date) -> list[NewEvent]:
        """More places promote people waiting; fewer places remove nobody, newcomers wait."""
        self._must_be_open()
        self._capacity_allowed(capacity)
        if capacity == self.capacity:
            raise ChangeMustChangeSomething(f"the group already has {capacity} places")
        payload = {
            "capacity": capacity,
            "previous_capacity": self.capacity,
            "changed_by": by,
            "changed_on": on.isoformat(),
        }
        return self.decide([NewEvent("GroupCapacityChanged", payload)]) + self._promote(by, on)

    def add_facilitator(self, *, worker_id: str, by: str, on: date) -> list[NewEvent]:
        self._must_be_open()
        if worker_id in self.facilitator_ids:
            raise FacilitatorIsAddedOnce("this worker already facilitates the group")
        return self.decide([self._facilitator_event("GroupFacilitatorAdded", worker_id, by, on)])

    def remove_facilitator(self, *, worker_id: str, by: str, on: date) -> list[NewEvent]:
        self._must_be_open()
        if worker_id not in self.facilitator_ids:
            raise OnlyAFacilitatorCanBeRemoved("this worker does not facilitate the group")
        if self.facilitator_ids == [worker_id]:
            raise GroupNeedsAFacilitator(
                "this is the group's only facilitator; add another before removing them"
            )
        return self.decide([self._facilitator_event("GroupFacilitatorRemoved", worker_id, by, on)])

    def close(self, *, reason: str, by: str, on: date) -> list[NewEvent]:
        self._must_be_open()
        payload = {"reason": reason, "closed_by": by, "closed_on": on.isoformat()}
        return self.decide([NewEvent("GroupClosed", payload)])

    def _promote(self, by: str, on: date) -> list[NewEvent]:
        promoted = []
        while self.waiting and len(self.members) < self.capacity:
            payload = {"person_id": self.waiting[0], "promoted_on": on.isoformat(), "by": by}
            promoted += self.decide([NewEvent("GroupMemberPromoted", payload)])
        return promoted

    def _must_be_open(self) -> None:
        if self.status is None:
            raise GroupMustBeOpen("no such group")
        if self.status != OPEN:
            raise GroupMustBeOpen("this group has closed")

    @staticmethod
    def _capacity_allowed(capacity: int) -> None:
        if capacity < 1:
            raise GroupCapacityMustBeAtLeastOne("a group has at least one place")

    @staticmethod
    def _facilitator_event(event_type: str, worker_id: str, by: str, on: date) -> NewEvent:
        payload = {"worker_id": worker_id, "recorded_by": by, "on": on.isoformat()}
        return NewEvent(event_type, payload)

    # -- folding -----------------------------------------------------------------------------

    def apply_group_created(self, p: dict) -> None:
        self.status = OPEN
        self.name = p["name"]
        self.kind = p["kind"]
        self.capacity = p["capacity"]
        self.sessions_planned = p["sessions_planned"]
        self.facilitator_ids = list(p["facilitator_ids"])

    def apply_group_member_joined(self, p: dict) -> None:
        self.members.append(p["person_id"])

    def apply_group_waiting_list_joined(self, p: dict) -> None:
        self.waiting.append(p["person_id"])

    def apply_group_member_left(self, p: dict) -> None:
        self.members.remove(p["person_id"])

    def apply_group_waiting_list_left(self, p: dict) -> None:
        self.waiting.remove(p["person_id"])

    def apply_group_member_promoted(self, p: dict) -> None:
        self.waiting.remove(p["person_id"])
        self.members.append(p["person_id"])

    def apply_group_capacity_changed(self, p: dict) -> None:
        self.capacity = p["capacity"]

    def apply_group_facilitator_added(self, p: dict) -> None:
        self.facilitator_ids.append(p["worker_id"])

    def apply_group_facilitator_removed(self, p: dict) -> None:
        self.facilitator_ids.remove(p["worker_id"])

    def apply_group_closed(self, p: dict) -> None:
        self.status = CLOSED

    # -- reading -----------------------------------------------------------------------------

    @property
    def places_free(self) -> int:
        return max(self.capacity - len(self.members), 0)

    def as_dict(self) -> dict:
        return {
            "group_id": self.id,
            "version": self.version,
            "status": self.status,
            "name": self.name,
            "kind": self.kind,
            "capacity": self.capacity,
            "places_free": self.places_free,
            "sessions_planned": self.sessions_planned,
            "facilitator_ids": self.facilitator_ids,
            "members": self.members,
            "waiting_list": self.waiting,
        }


# -- plans -------------------------------------------------------------------------------------

REVIEW_INTERVAL_DAYS_RANGE = (7, 366)


class PlanMustBeNew(Rule):
    pass


class PlanMustBeOpen(Rule):
    pass


class PlanKindIsFixed(Rule):
    pass


class RecoveryPlanNeedsAGoal(Rule):
    pass


class CrisisPlanNeedsSomeoneToContact(Rule):
    pass


class RevisionMustChangeThePlan(Rule):
    pass


class PlanChangeCannotPrecedeTheDraft(Rule):
    pass


class ReviewedAsRevisedNeedsARevision(Rule):
    pass


class ReviewIntervalMustBeBetweenAWeekAndAYear(Rule):
    pass


class OneOpenCrisisAndSafetyPlanPerPerson(Rule):
    pass


def review_due_on(reviewed_on: date, interval_days: int) -> date:
    """When a plan drafted or last reviewed on `reviewed_on` is next due for review."""
    return reviewed_on + timedelta(days=interval_days)


def _content_fits(kind: str, content: Mapping) -> None:
    if kind == RECOVERY_WELLBEING and not content.get("goals"):
        raise RecoveryPlanNeedsAGoal("a recovery and wellbeing plan needs at least one goal")
    if kind in (CRISIS_SAFETY, CARER_CRISIS) and not (
        content.get("people") or content.get("services")
    ):
        raise CrisisPlanNeedsSomeoneToContact(
            "a crisis plan needs at least one person or service to contact"
        )


def _interval(days: int) -> int:
    shortest, longest = REVIEW_INTERVAL_DAYS_RANGE
    if not shortest <= days <= longest:
        raise ReviewIntervalMustBeBetweenAWeekAndAYear(
            f"a plan is reviewed every {shortest} to {longest} days, not every {days}"
        )
    return days


class Plan(Aggregate):
    """A person's recovery and wellbeing plan, crisis and safety plan or carer's crisis plan.
    Every version is an event: drafted, then revised with its full new content, and reviewed."""

    stream_type = "plan"

    def __init__(self, stream_id: str):
        super().__init__(stream_id)
        self.status: str | None = None
        self.person_id: str | None = None
        self.kind: str | None = None
        self.referral_id: str | None = None
        self.content: dict = {}
        self.revision = 0
        self.drafted_on: date | None = None
        self.last_reviewed_on: date | None = None
        self.review_interval_days = DEFAULT_REVIEW_INTERVAL_DAYS
        self.is_revised_since_review = False

    # -- commands ----------------------------------------------------------------------------

    def draft(
        self,
        *,
        person_id: str,
        kind: str,
        content: Mapping,
        by: str,
        on: date,
        review_interval_days: int = DEFAULT_REVIEW_INTERVAL_DAYS,
        referral_id: str | None = None,
        open_plans: Sequence[tuple[str, str]] = (),
    ) -> list[NewEvent]:
        """`content` is the kind's content as JSON (the PlanDrafted schema checks its shape);
        `open_plans`, the person's open plans as (plan id, kind): a person has one crisis and
        safety plan at a time, so that in a crisis nobody follows an out-of-date one."""
        if self.status is not None:
            raise PlanMustBeNew("this plan has already been drafted")
        if kind == CRISIS_SAFETY:
            current = [plan_id for plan_id, open_kind in open_plans if open_kind == CRISIS_SAFETY]
            if current:
                raise OneOpenCrisisAndSafetyPlanPerPerson(
                    f"this person already has an open crisis and safety plan ({current[0]});"
                    f" revise it, or close it before drafting another"
                )
        _content_fits(kind, content)
        payload = {
            "person_id": str(person_id),
            "kind": kind,
            "content": dict(content),
            "review_interval_days": _interval(review_interval_days),
            "referral_id": referral_id,
            "drafted_by": by,
            "drafted_on": on.isoformat(),
        }
        return self.decide([NewEvent("PlanDrafted", payload)])

    def revise(
        self, *, kind: str, content: Mapping, reason: str, by: str, on: date
    ) -> list[NewEvent]:
        """The full new content; the event names the sections that changed."""
        self._must_be_open()
        if kind != self.kind:
            raise PlanKindIsFixed(
                f"this is a {_readable(self.kind)} plan; draft a new plan for a"
                f" {_readable(kind)} plan"
            )
        self._not_before_draft(on)
        _content_fits(kind, content)
        changed = sorted(
            name
            for name in set(self.content) | set(content)
            if self.content.get(name) != content.get(name)
        )
        if not changed:
            raise RevisionMustChangeThePlan("the revised plan is the same as the current one")
        payload = {
            "kind": kind,
            "content": dict(content),
            "revision": self.revision + 1,
            "changed_sections": changed,
            "reason": reason,
            "revised_by": by,
            "revised_on": on.isoformat(),
        }
        return self.decide([NewEvent("PlanRevised", payload)])

    def review(self, *, outcome: str, by: str, on: date) -> list[NewEvent]:
        """Reviewing restarts the review interval."""
        self._must_be_open()
        self._not_before_draft(on)
        if outcome == "revised" and not self.is_revised_since_review:
            raise ReviewedAsRevisedNeedsARevision(
                "the plan has not been revised since it was last drafted or reviewed; revise it"
                " first, or record that no changes were needed"
            )
        payload = {
            "outcome": outcome,
            "reviewed_by": by,
            "reviewed_on": on.isoformat(),
            "next_review_due_on": review_due_on(on, self.review_interval_days).isoformat(),
        }
        return self.decide([NewEvent("PlanReviewed", payload)])

    def change_review_interval(self, *, days: int, by: str, on: date) -> list[NewEvent]:
        self._must_be_open()
        _interval(days)
        if days == self.review_interval_days:
            raise ChangeMustChangeSomething(f"the plan is already reviewed every {days} days")
        payload = {
            "review_interval_days": days,
            "previous_review_interval_days": self.review_interval_days,
            "changed_by": by,
            "changed_on": on.isoformat(),
        }
        return self.decide([NewEvent("PlanReviewIntervalChanged", payload)])

    def close(self, *, reason: str, by: str, on: date) -> list[NewEvent]:
        self._must_be_open()
        self._not_before_draft(on)
        payload = {"reason": reason, "closed_by": by, "closed_on": on.isoformat()}
        return self.decide([NewEvent("PlanClosed", payload)])

    def _must_be_open(self) -> None:
        if self.status is None:
            raise PlanMustBeOpen("no such plan")
        if self.status != OPEN:
            raise PlanMustBeOpen("this plan has been closed; draft a new plan instead")

    def _not_before_draft(self, on: date) -> None:
        if self.drafted_on and on < self.drafted_on:
            raise PlanChangeCannotPrecedeTheDraft(
                f"the plan was drafted on {self.drafted_on.isoformat()}; a change cannot be dated"
                f" before that"
            )

    # -- folding -----------------------------------------------------------------------------

    def apply_plan_drafted(self, p: dict) -> None:
        self.status = OPEN
        self.person_id = p["person_id"]
        self.kind = p["kind"]
        self.referral_id = p["referral_id"]
        self.content = dict(p["content"])
        self.revision = 1
        self.drafted_on = date.fromisoformat(p["drafted_on"])
        self.review_interval_days = p["review_interval_days"]

    def apply_plan_revised(self, p: dict) -> None:
        self.content = dict(p["content"])
        self.revision = p["revision"]
        self.is_revised_since_review = True

    def apply_plan_reviewed(self, p: dict) -> None:
        self.last_reviewed_on = date.fromisoformat(p["reviewed_on"])
        self.is_revised_since_review = False

    def apply_plan_review_interval_changed(self, p: dict) -> None:
        self.review_interval_days = p["review_interval_days"]

    def apply_plan_closed(self, p: dict) -> None:
        self.status = CLOSED

    # -- reading -----------------------------------------------------------------------------

    @property
    def review_due_on(self) -> date | None:
        """None for a closed plan: it is no longer reviewed."""
        if self.status != OPEN or self.drafted_on is None:
            return None
        return review_due_on(self.last_reviewed_on or self.drafted_on, self.review_interval_days)

    def is_review_overdue(self, today: date) -> bool:
        due = self.review_due_on
        return due is not None and today > due

    def as_dict(self) -> dict:
        return {
            "plan_id": self.id,
            "version": self.version,
            "status": self.status,
            "person_id": self.person_id,
            "kind": self.kind,
            "referral_id": self.referral_id,
            "revision": self.revision,
            "content": self.content,
            "drafted_on": self.drafted_on,
            "last_reviewed_on": self.last_reviewed_on,
            "review_interval_days": self.review_interval_days,
            "review_due_on": self.review_due_on,
        }


# -- signposting -------------------------------------------------------------------------------


class SignpostingMustBeNew(Rule):
    pass


class SignpostingMustExist(Rule):
    pass


class OutcomeIsRecordedOnce(Rule):
    pass


class OutcomeMustBeKnownToRecord(Rule):
    pass


class OutcomeCannotPrecedeTheSignposting(Rule):
    pass


class Signposting(Aggregate):
    """A person signposted to somewhere else, and whether they took it up."""

    stream_type = "signposting"

    def __init__(self, stream_id: str):
        super().__init__(stream_id)
        self.person_id: str | None = None
        self.destination: str | None = None
        self.signposted_on: date | None = None
        self.referral_id: str | None = None
        self.session_id: str | None = None
        self.outcome = UNKNOWN
        self.is_outcome_recorded = False
        self.outcome_history: list[dict] = []
        self.voided: dict | None = None

    def record(
        self,
        *,
        person_id: str,
        destination: str,
        by: str,
        on: date,
        referral_id: str | None = None,
        session_id: str | None = None,
        earliest: date | None = None,
    ) -> list[NewEvent]:
        if self.person_id is not None:
            raise SignpostingMustBeNew("this signposting has already been recorded")
        not_before_earliest("on", on, earliest)
        payload = {
            "person_id": str(person_id),
            "destination": destination,
            "referral_id": referral_id,
            "session_id": session_id,
            "signposted_by": by,
            "signposted_on": on.isoformat(),
        }
        return self.decide([NewEvent("SignpostingRecorded", payload)])

    def record_outcome(self, *, outcome: str, by: str, on: date) -> list[NewEvent]:
        self._outcome_dated(on)
        if self.is_outcome_recorded:
            raise OutcomeIsRecordedOnce(
                f"the outcome is already recorded as {_readable(self.outcome)}; correct it, with"
                f" a reason, instead"
            )
        if outcome == UNKNOWN:
            raise OutcomeMustBeKnownToRecord(
                "the outcome is unknown until one is recorded; record taken up or not taken up"
            )
        payload = {"outcome": outcome, "recorded_by": by, "recorded_on": on.isoformat()}
        return self.decide([NewEvent("SignpostingOutcomeRecorded", payload)])

    def void(self, *, reason: str | None, by: str, on: date) -> list[NewEvent]:
        """Withdraw a signposting recorded in error; it leaves lists and the hub's figures."""
        self._outcome_dated(on)
        payload = {"reason": _void_reason(reason), "voided_by": by, "voided_on": on.isoformat()}
        return self.decide([NewEvent("SignpostingVoided", payload)])

    def correct_outcome(
        self, *, outcome: str, reason: str | None, by: str, on: date
    ) -> list[NewEvent]:
        self._outcome_dated(on)
        if not self.is_outcome_recorded:
            raise CorrectionNeedsAnEarlierRecord(
                "no outcome is recorded yet to correct; record it instead"
            )
        if not reason:
            raise CorrectionNeedsAReason("say why the outcome is being corrected")
        if outcome == self.outcome:
            raise CorrectionMustChangeTheRecord(
                f"the outcome is already recorded as {_readable(outcome)}"
            )
        payload = {
            "outcome": outcome,
            "previous_outcome": self.outcome,
            "reason": reason,
            "corrected_by": by,
            "corrected_on": on.isoformat(),
        }
        return self.decide([NewEvent("SignpostingOutcomeCorrected", payload)])

    def _outcome_dated(self, on: date) -> None:
        if self.person_id is None:
            raise SignpostingMustExist("no such signposting")
        if self.voided is not None:
            raise VoidedRecordCannotChange("this signposting was voided as recorded in error")
        if on < self.signposted_on:
            raise OutcomeCannotPrecedeTheSignposting(
                f"the person was signposted on {self.signposted_on.isoformat()}; the outcome"
                f" cannot be dated before that"
            )

    def apply_signposting_recorded(self, p: dict) -> None:
        self.person_id = p["person_id"]
        self.destination = p["destination"]
        self.referral_id = p["referral_id"]
        self.session_id = p["session_id"]
        self.signposted_on = date.fromisoformat(p["signposted_on"])

    def apply_signposting_outcome_recorded(self, p: dict) -> None:
        self.outcome = p["outcome"]
        self.is_outcome_recorded = True
        self.outcome_history.append(dict(p))

    def apply_signposting_outcome_corrected(self, p: dict) -> None:
        self.outcome = p["outcome"]
        self.outcome_history.append(dict(p))

    def apply_signposting_voided(self, p: dict) -> None:
        self.voided = {"reason": p["reason"], "voided_on": p["voided_on"]}

    def as_dict(self) -> dict:
        return {
            "signposting_id": self.id,
            "version": self.version,
            "person_id": self.person_id,
            "destination": self.destination,
            "referral_id": self.referral_id,
            "session_id": self.session_id,
            "signposted_on": self.signposted_on,
            "outcome": self.outcome,
            "voided": self.voided,
        }


# -- outcome measures --------------------------------------------------------------------------


class MeasureCannotBeTakenInTheFuture(Rule):
    pass


class StartAndDischargeMeasuresAreTakenOnce(Rule):
    pass


class FollowUpMeasureCannotPrecedeTheStart(Rule):
    pass


class MeasureMustExist(Rule):
    pass


class PersonMeasures(Aggregate):
    """Every outcome measure one person completes, on one stream per person (its id is the
    person's id), so their series is read in one go and two workers recording measures for the
    same person at once meet a concurrency check rather than each missing the other's."""

    stream_type = "person_measures"

    def __init__(self, stream_id: str):
        super().__init__(stream_id)
        self.taken: list[measures.Taken] = []
        # (measure, referral, timepoint) -> date taken, for the start and discharge measures
        self._episodes: dict[tuple[str, str | None, str], date] = {}
        # each measure is known by the number of its event in the stream (1 for the first):
        # number -> (the measure as taken, its referral), for the ones standing (not voided)
        self._standing: dict[int, tuple[measures.Taken, str | None]] = {}
        self._applied = 0

    def apply(self, event_type: str, payload: dict) -> None:
        self._applied += 1
        super().apply(event_type, payload)

    def record(
        self,
        *,
        measure: str,
        timepoint: str,
        answers: Mapping[str, int],
        taken_on: date,
        today: date,
        by: str,
        referral_id: str | None = None,
        earliest: date | None = None,
    ) -> list[NewEvent]:
        """Refuses answers that do not fit the measure with ValueError (the request body's
        schema checks them first, as a bad request); `earliest`: the earliest date the partner
        records."""
        not_before_earliest("taken_on", taken_on, earliest)
        scored = measures.measure(measure)
        score = scored.score(answers)
        if timepoint not in measures.TIMEPOINTS:
            raise ValueError(f"timepoint: '{timepoint}' is not one of start, review, discharge")
        if taken_on > today:
            raise MeasureCannotBeTakenInTheFuture(
                "a measure is recorded on or after the day the person completed it"
            )
        if timepoint != measures.REVIEW and (measure, referral_id, timepoint) in self._episodes:
            taken = self._episodes[(measure, referral_id, timepoint)]
            raise StartAndDischargeMeasuresAreTakenOnce(
                f"a {timepoint} {scored.name} was already recorded for this referral on"
                f" {taken.isoformat()}; record a review measure instead"
            )
        started = self._episodes.get((measure, referral_id, measures.START))
        if timepoint != measures.START and started and taken_on < started:
            raise FollowUpMeasureCannotPrecedeTheStart(
                f"the start {scored.name} was taken on {started.isoformat()}; a {timepoint}"
                f" measure cannot be dated before it"
            )
        payload = {
            "person_id": self.id,
            "measure": measure,
            "snomed_ct": scored.snomed_ct,
            "timepoint": timepoint,
            "taken_on": taken_on.isoformat(),
            "answers": {item: answers[item] for item in scored.items},
            "raw_score": score.raw,
            "metric_score": float(score.metric),
            "referral_id": referral_id,
            "recorded_by": by,
        }
        return self.decide([NewEvent("MeasureRecorded", payload)])

    def void(self, *, number: int, reason: str | None, by: str) -> list[NewEvent]:
        """Withdraw a measure recorded in error (the wrong person's, a duplicate): it leaves the
        person's series, their change and the hub's figures; a start or discharge measure may
        then be recorded again."""
        if number not in self._standing:
            raise MeasureMustExist(f"no measure standing as number {number} for this person")
        taken, referral_id = self._standing[number]
        payload = {
            "number": number,
            "measure": taken.measure,
            "timepoint": taken.timepoint,
            "taken_on": taken.taken_on.isoformat(),
            "referral_id": referral_id,
            "reason": _void_reason(reason),
            "voided_by": by,
        }
        return self.decide([NewEvent("MeasureVoided", payload)])

    def is_standing(self, number: int) -> bool:
        return number in self._standing

    def apply_measure_recorded(self, p: dict) -> None:
        taken = measures.Taken.from_payload(p)
        self.taken.append(taken)
        self._standing[self._applied] = (taken, p["referral_id"])
        if taken.timepoint != measures.REVIEW:
            self._episodes[(taken.measure, p["referral_id"], taken.timepoint)] = taken.taken_on

    def apply_measure_voided(self, p: dict) -> None:
        taken, referral_id = self._standing.pop(p["number"])
        self.taken.remove(taken)
        if taken.timepoint != measures.REVIEW:
            self._episodes.pop((taken.measure, referral_id, taken.timepoint), None)

    def change(self, measure: str, threshold: Decimal | None = None) -> measures.Change | None:
        """First against latest of one measure; `threshold` overrides the measure's default."""
        return measures.change_from_first_to_latest(measure, self.taken, threshold)

    def as_dict(self) -> dict:
        return {
            "person_id": self.id,
            "version": self.version,
            "measures": [
                {
                    "number": number,
                    "measure": t.measure,
                    "timepoint": t.timepoint,
                    "taken_on": t.taken_on,
                    "metric_score": float(t.metric),
                }
                for number, (t, _) in sorted(self._standing.items())
            ],
        }
