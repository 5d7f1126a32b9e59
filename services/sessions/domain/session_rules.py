"""The rules a session is recorded by: the named rules its commands refuse with, and the checks
that need only what the service passes in (a kind's links to a referral, person and group, the
referral's timeline, one session per group start, likely duplicates, workers and length)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

from contracts.referrals.codes import ACTIVE
from contracts.sessions.codes import (
    CARER,
    GROUP,
    GROUP_KINDS_OF_SESSION,
    MAX_SESSION_MINUTES,
    ONE_TO_ONE,
    REFERRAL_KINDS,
    SESSION_KINDS,
)
from services.sessions.domain.records import ReferralTimelineRunsForward, readable, unique
from shared.aggregate import Rule

# Default for `max_future`: how far past now a session recorded as held may end, allowing for
# clocks that differ between devices and for writing up in a session's closing minutes.
MAX_FUTURE = timedelta(minutes=15)
# Two sessions for one person starting within an hour of each other are most likely one session
# recorded twice (a worker's own and a colleague's record of the same meeting); both may be real,
# so it is a warning, not a refusal.
LIKELY_DUPLICATE_WINDOW = timedelta(hours=1)
# The referral states in which one-to-one support can be booked or recorded: support has started
# and is not on hold or ended.
SUPPORTABLE_REFERRAL_STATES = (ACTIVE,)


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


class SessionCannotPrecedeTheReferral(ReferralTimelineRunsForward):
    pass


class SessionCannotPrecedeTheFirstContact(ReferralTimelineRunsForward):
    pass


class SessionCannotFollowTheDischarge(ReferralTimelineRunsForward):
    pass


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
    name = session_name(kind)
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
            "message": f"this person already has {session_name(kind)} starting within"
            f" {minutes} minutes of this one; if it is the same session, void one of them",
            "session_ids": near,
        }
    ]


def session_name(kind: str) -> str:
    return {ONE_TO_ONE: "a one-to-one", CARER: "carer support", GROUP: "a group session"}.get(
        kind, "a drop-in"
    )


def session_links(
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
    name = session_name(kind)
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
                f" {readable(referral_status)}"
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
                f" {readable(group_status)}"
            )
    elif group_id:
        raise SessionLinksMustFitItsKind(f"{name} does not belong to a group")
    return {
        "kind": kind,
        "referral_id": referral_id,
        "person_id": str(person_id) if person_id else None,
        "group_id": group_id,
    }


def session_workers(worker_ids: Sequence[str] | None) -> list[str]:
    workers = unique(worker_ids or ())
    if not workers:
        raise SessionNeedsAWorker("a session needs at least one worker")
    return workers


def session_length(minutes: int) -> int:
    if minutes < 1:
        raise SessionCannotEndBeforeItStarts("a session lasts at least one minute")
    if minutes > MAX_SESSION_MINUTES:
        raise SessionCannotBeLongerThanTheLimit(
            f"a session lasts at most {MAX_SESSION_MINUTES} minutes; {minutes} minutes looks like"
            f" a typing error"
        )
    return minutes
