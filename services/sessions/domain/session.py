"""A session: a one-to-one, a group's session, a drop-in or carer support, booked or recorded
as held, with who attended, anonymous attendees at a drop-in, notes, and every correction and
void. Its rules are named in session_rules.py."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, datetime, timedelta

from contracts.sessions.codes import (
    ATTENDANCE,
    BOOKED,
    CANCELLED,
    CANCELLED_BY,
    DROP_IN,
    HELD,
    MODES,
    NOT_SEEN,
    REFERRAL_KINDS,
    SEEN,
    VOIDED,
)
from services.sessions.domain.records import (
    CorrectionMustChangeTheRecord,
    CorrectionNeedsAnEarlierRecord,
    CorrectionNeedsAReason,
    VoidedRecordCannotChange,
    code_of,
    not_before_earliest,
    readable,
    unique,
    void_reason,
)
from services.sessions.domain.session_rules import (
    MAX_FUTURE,
    AnonymousCountIsRecordedOnce,
    AttendanceIsRecordedOncePerPerson,
    AttendanceMustBeForThePersonBooked,
    CancelledSessionCannotChange,
    NotAttendingOnlyOnceTheSessionStarts,
    NotesAreWrittenOnce,
    NotesAreWrittenOnceTheSessionIsHeld,
    NotesMustSaySomething,
    OnlyBookedSessionsCanBeCancelled,
    OnlyDropInsCountAnonymousAttendees,
    RecordMustMatchTheBooking,
    SessionCannotBeRecordedInTheFuture,
    SessionIsRecordedOnce,
    SessionMustBeHeldFirst,
    SessionMustBeNew,
    SessionMustExist,
    VoidNeedsARecord,
    not_a_second_group_session,
    session_length,
    session_links,
    session_name,
    session_workers,
    within_the_referral,
)
from shared.aggregate import Aggregate
from shared.events import NewEvent


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
        links = session_links(
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
            "medium_code": code_of(MODES, mode, "mode"),
            "location": location,
            "worker_ids": session_workers(worker_ids),
            "planned_start_at": planned_start_at.isoformat(),
            "planned_duration_minutes": session_length(planned_duration_minutes),
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
        session_length(duration_minutes)
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
            links = session_links(
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
            "medium_code": code_of(MODES, mode, "mode"),
            "location": location or self.location,
            "worker_ids": session_workers(worker_ids or self.worker_ids),
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
            "attendance_code": code_of(CANCELLED_BY, cancelled_by, "cancelled_by"),
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
                f" {readable(self.attendance[person_id])}; correct it, with a reason, instead"
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
                f"this person's attendance is already recorded as {readable(status)}"
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
            "themes": unique(themes),
            "actions": unique(actions),
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
        themes, actions = unique(themes), unique(actions)
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
        payload = {"reason": void_reason(reason), "previous_status": self.status, "voided_by": by}
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
            "reason": void_reason(reason),
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
        code_of(ATTENDANCE, status, "status")
        if self.kind in REFERRAL_KINDS and person_id != self.person_id:
            raise AttendanceMustBeForThePersonBooked(
                f"{session_name(self.kind)} is for the person it was booked for"
            )
        if status in SEEN and self.status != HELD:
            raise SessionMustBeHeldFirst(
                "record the session as held, with its start and length, before saying who was seen"
            )
        starts_at = self.actual_start_at or self.planned_start_at
        if status in NOT_SEEN and starts_at and starts_at > now:
            raise NotAttendingOnlyOnceTheSessionStarts(
                f"{readable(status)} can be recorded only once the session has started"
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
        written = self.notes or {}  # notes are corrected only once written
        self.notes = {
            "themes": p["themes"],
            "actions": p["actions"],
            "notes_text_id": p["notes_text_id"],
            "written_by": written["written_by"],
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
