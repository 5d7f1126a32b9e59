"""Recording sessions over HTTP: booking one, recording one held (booked or not) with who came,
attendance and its corrections, a drop-in's anonymous count, notes with the worker's words
sealed in the vault, cancelling, and voiding what was recorded in error."""

from __future__ import annotations

import uuid

from services.sessions import access, queries
from services.sessions.api import (
    BookSessionBody,
    CancelSessionBody,
    CorrectAnonymousAttendeesBody,
    CorrectAttendanceBody,
    CorrectSessionNotesBody,
    CountAnonymousAttendeesBody,
    HeldSessionBody,
    RecordAttendanceBody,
    RecordBookedWithAttendanceBody,
    SessionNotesBody,
    VoidAttendanceBody,
    VoidBody,
)
from services.sessions.api_answers import SessionOut, SessionRecorded
from services.sessions.domain import (
    LIKELY_DUPLICATE_WINDOW,
    SUPPORTABLE_REFERRAL_STATES,
    Session,
    likely_duplicates,
)
from services.sessions.routes import (
    WRITERS,
    SessionsRoutes,
    now,
    timeline_of,
)
from shared.auth import Forbidden
from shared.commands import respond, sealing
from shared.web import BadRequest, NotFound, context_of, route

MISSING = "no such session"


class SessionRecording(SessionsRoutes):
    """Mixed into the sessions service."""

    # -- what a session is told before the domain decides --------------------------------------

    def _links(self, cur, principal, body: dict) -> dict:
        """The referral's person and status, or the group's status, for the domain to decide."""
        links = {}
        if body.get("referral_id"):
            referral = queries.referral_status(cur, body["referral_id"])
            if referral is None:
                # another partner's referral looks like one never made
                raise NotFound("no such referral")
            links["referral_id"] = body["referral_id"]
            links["referral_status"] = referral and referral["status"]
            links["person_id"] = referral and str(referral["person_id"])
            links.update(timeline_of(referral))
            if (
                referral
                and referral["status"] in SUPPORTABLE_REFERRAL_STATES
                and principal.role == "peer_worker"
                and referral["worker_id"] != principal.user_id
            ):
                raise Forbidden("this referral is not on your caseload")
        if body.get("group_id"):
            group = queries.group_row(cur, body["group_id"])
            if group is None:
                raise NotFound("no such group")
            links["group_id"] = body["group_id"]
            links["group_status"] = group and group["status"]
            if (
                group
                and principal.role == "peer_worker"
                and principal.user_id not in group["facilitator_ids"]
                and principal.user_id not in body["worker_ids"]
            ):
                raise Forbidden("a peer worker records only groups they facilitate or run")
        if principal.role == "peer_worker" and principal.user_id not in body["worker_ids"]:
            raise BadRequest("worker_ids", "must include you: a peer worker records their own work")
        self.workforce.require_named(cur, principal, "worker_ids", body["worker_ids"])
        return links

    @staticmethod
    def _likely_duplicates(cur, session: Session, starts_at) -> list[dict]:
        if not session.person_id:
            return []
        others = queries.sessions_near(
            cur, session.person_id, session.kind, session.id, starts_at, LIKELY_DUPLICATE_WINDOW
        )
        return likely_duplicates(
            kind=session.kind, person_id=session.person_id, starts_at=starts_at, others=others
        )

    def _attendance_events(
        self, cur, principal, session: Session, body: dict, before: Session | None = None
    ) -> list:
        """Each person's attendance, refused unless they are on the recorder's caseload already
        (`before`: the session when the recorder ran it before this command, whose links count)."""
        events, by = [], principal.user_id
        attendance = body.get("attendance") or []
        self._known_people(
            cur,
            [
                (item["person_id"], f"attendance.{index}.person_id")
                for index, item in enumerate(attendance)
            ],
        )
        for item in attendance:
            events += session.record_attendance(
                person_id=str(item["person_id"]), status=item["status"], by=by, now=now()
            )
        access.require_on_caseload(cur, principal, [i["person_id"] for i in attendance], before)
        if body.get("anonymous_attendees") is not None:
            events += session.count_anonymous_attendees(count=body["anonymous_attendees"], by=by)
        return events

    # -- a new session -------------------------------------------------------------------------

    @route(
        "POST",
        "/sessions",
        roles=WRITERS,
        body=BookSessionBody,
        status=201,
        response=SessionRecorded,
        summary="Book a session",
    )
    def book(self, request, principal, body):
        session, warnings = Session(str(uuid.uuid4())), []
        starts_at = body["planned_start_at"]

        def book(cur, session: Session) -> list:
            links = self._links(cur, principal, body)
            events = session.book(
                kind=body["kind"],
                planned_start_at=starts_at,
                planned_duration_minutes=body["planned_duration_minutes"],
                mode=body["mode"],
                location=body["location"],
                worker_ids=body["worker_ids"],
                by=principal.user_id,
                same_group_and_start=queries.same_group_and_start(
                    cur, body.get("group_id"), starts_at, session.id
                ),
                earliest=self.config.earliest_date,
                **links,
            )
            warnings.extend(self._likely_duplicates(cur, session, starts_at))
            return events

        self.commands.apply(session, self._reading(book), context_of(principal, request))
        return respond(session, {**session.as_dict(), "warnings": warnings}, 201)

    @route(
        "POST",
        "/sessions/held",
        roles=WRITERS,
        body=HeldSessionBody,
        status=201,
        response=SessionRecorded,
        summary="Record a session that took place, with who attended, without booking it first",
    )
    def record_held(self, request, principal, body):
        session, warnings = Session(str(uuid.uuid4())), []
        starts_at = body["actual_start_at"]

        def record(cur, session: Session) -> list:
            links = self._links(cur, principal, body)
            events = session.record(
                actual_start_at=starts_at,
                duration_minutes=body["duration_minutes"],
                by=principal.user_id,
                now=now(),
                max_future=self.config.max_future,
                kind=body["kind"],
                mode=body["mode"],
                location=body["location"],
                worker_ids=body["worker_ids"],
                same_group_and_start=queries.same_group_and_start(
                    cur, body.get("group_id"), starts_at, session.id
                ),
                earliest=self.config.earliest_date,
                **links,
            )
            events += self._attendance_events(cur, principal, session, body)
            warnings.extend(self._likely_duplicates(cur, session, starts_at))
            return events

        self.commands.apply(session, self._reading(record), context_of(principal, request))
        return respond(session, {**session.as_dict(), "warnings": warnings}, 201)

    # -- a session recorded before -------------------------------------------------------------

    def _on_session(self, request, principal, session_id, body, decide, within=None):
        """A command on a session the caller runs (or whose group they facilitate)."""
        session, history = self.commands.load(
            Session,
            session_id,
            missing=MISSING,
            visible=self._checked(
                lambda cur, session: access.require_runs_session(cur, principal, session)
            ),
        )
        self.commands.run(
            request, principal, session, history, body, self._reading(decide), within=within
        )
        return respond(session, session.as_dict())

    @route(
        "POST",
        "/sessions/<string:session_id>/record",
        roles=WRITERS,
        body=RecordBookedWithAttendanceBody,
        response=SessionOut,
        summary="Record a booked session as held, with who attended",
    )
    def record_booked(self, request, principal, session_id, body):
        def record(cur, session: Session) -> list:
            workers_before = list(session.worker_ids or ())
            # who ran it as booked stands; a worker added now must be on the workforce
            added = [w for w in body.get("worker_ids") or () if w not in workers_before]
            self.workforce.require_named(cur, principal, "worker_ids", added)
            events = session.record(
                actual_start_at=body["actual_start_at"],
                duration_minutes=body["duration_minutes"],
                by=principal.user_id,
                now=now(),
                max_future=self.config.max_future,
                mode=body.get("mode"),
                location=body.get("location"),
                worker_ids=body.get("worker_ids"),
                same_group_and_start=queries.same_group_and_start(
                    cur, session.group_id, body["actual_start_at"], session.id
                ),
                earliest=self.config.earliest_date,
                **self._referral_dates(cur, session.referral_id),
            )
            # the session's own links count only for a worker it already named
            before = session if principal.user_id in workers_before else None
            if set(session.worker_ids) - set(workers_before):
                # a worker added now comes to see whoever the session already names
                named = [*session.attendance, *filter(None, [session.person_id])]
                access.require_on_caseload(cur, principal, named, before)
            return events + self._attendance_events(cur, principal, session, body, before)

        return self._on_session(request, principal, session_id, body, record)

    @route(
        "POST",
        "/sessions/<string:session_id>/cancel",
        roles=WRITERS,
        body=CancelSessionBody,
        response=SessionOut,
        summary="Cancel a booked session, saying who called it off and why",
    )
    def cancel(self, request, principal, session_id, body):
        def cancel(cur, session: Session) -> list:
            return session.cancel(
                cancelled_by=body["cancelled_by"], reason=body["reason"], by=principal.user_id
            )

        return self._on_session(request, principal, session_id, body, cancel)

    @route(
        "POST",
        "/sessions/<string:session_id>/attendance",
        roles=WRITERS,
        body=RecordAttendanceBody,
        response=SessionOut,
        summary="Record one person's attendance at a session",
    )
    def record_attendance(self, request, principal, session_id, body):
        def record(cur, session: Session) -> list:
            self._known_person(cur, body["person_id"])
            events = session.record_attendance(
                person_id=str(body["person_id"]),
                status=body["status"],
                by=principal.user_id,
                now=now(),
            )
            access.require_on_caseload(cur, principal, [body["person_id"]], session)
            return events

        return self._on_session(request, principal, session_id, body, record)

    @route(
        "POST",
        "/sessions/<string:session_id>/attendance/correct",
        roles=WRITERS,
        body=CorrectAttendanceBody,
        response=SessionOut,
        summary="Correct a person's attendance, keeping what was recorded before and why",
    )
    def correct_attendance(self, request, principal, session_id, body):
        def correct(cur, session: Session) -> list:
            events = session.correct_attendance(
                person_id=str(body["person_id"]),
                status=body["status"],
                reason=body["reason"],
                by=principal.user_id,
                now=now(),
            )
            access.require_on_caseload(cur, principal, [body["person_id"]], session)
            return events

        return self._on_session(request, principal, session_id, body, correct)

    @route(
        "POST",
        "/sessions/<string:session_id>/anonymous-attendees",
        roles=WRITERS,
        body=CountAnonymousAttendeesBody,
        response=SessionOut,
        summary="Count the people at a drop-in who did not give their details",
    )
    def count_anonymous(self, request, principal, session_id, body):
        def count(cur, session: Session) -> list:
            return session.count_anonymous_attendees(count=body["count"], by=principal.user_id)

        return self._on_session(request, principal, session_id, body, count)

    @route(
        "POST",
        "/sessions/<string:session_id>/anonymous-attendees/correct",
        roles=WRITERS,
        body=CorrectAnonymousAttendeesBody,
        response=SessionOut,
        summary="Correct a drop-in's anonymous count, saying why",
    )
    def correct_anonymous(self, request, principal, session_id, body):
        def correct(cur, session: Session) -> list:
            return session.correct_anonymous_attendees(
                count=body["count"], reason=body["reason"], by=principal.user_id
            )

        return self._on_session(request, principal, session_id, body, correct)

    @route(
        "POST",
        "/sessions/<string:session_id>/notes",
        roles=WRITERS,
        body=SessionNotesBody,
        response=SessionOut,
        summary="Write a session's notes: coded themes and actions, and words sealed in the vault",
    )
    def write_notes(self, request, principal, session_id, body):
        return self._on_notes(request, principal, session_id, body, Session.write_notes)

    @route(
        "POST",
        "/sessions/<string:session_id>/notes/correct",
        roles=WRITERS,
        body=CorrectSessionNotesBody,
        response=SessionOut,
        summary="Correct a session's notes, saying why; every version stays in their history",
    )
    def correct_notes(self, request, principal, session_id, body):
        def correct(session, **notes):
            return session.correct_notes(reason=body["reason"], **notes)

        return self._on_notes(request, principal, session_id, body, correct)

    def _on_notes(self, request, principal, session_id, body, decide_notes):
        """Notes written or corrected; their words sealed, with the events, under the person
        they are about."""
        text_id = uuid.uuid4() if body.get("text") else None
        about = {}

        def decide(cur, session: Session) -> list:
            if text_id is not None:
                about["person"] = self._note_subject(session, body)
                self._known_person(cur, about["person"], "about_person_id")
                access.require_on_caseload(cur, principal, [about["person"]], session)
            elif body.get("about_person_id"):
                raise BadRequest(
                    "about_person_id", "is given with text: it names whom the words are about"
                )
            return decide_notes(
                session,
                themes=body["themes"],
                actions=body["actions"],
                notes_text_id=str(text_id) if text_id else None,
                by=principal.user_id,
            )

        def seal(cur) -> None:
            if text_id is not None:
                words = {text_id: body["text"]}
                sealing(self.vault, about["person"], words, "this session")(cur)

        return self._on_session(request, principal, session_id, body, decide, seal)

    @staticmethod
    def _note_subject(session: Session, body: dict) -> str:
        if session.person_id:
            given = body.get("about_person_id")
            if given and str(given) != session.person_id:
                raise BadRequest("about_person_id", "must be the person this session is for")
            return session.person_id
        given = body.get("about_person_id")
        if not given:
            raise BadRequest(
                "about_person_id",
                "is needed for words about someone at a group session or drop-in: they are"
                " sealed under that person",
            )
        if str(given) not in session.attendance:
            raise BadRequest("about_person_id", "must be someone whose attendance is recorded")
        return str(given)

    @route(
        "POST",
        "/sessions/<string:session_id>/void",
        roles=WRITERS,
        body=VoidBody,
        response=SessionOut,
        summary="Void a session recorded in error, saying why: it leaves lists and reports",
    )
    def void_session(self, request, principal, session_id, body):
        def void(cur, session: Session) -> list:
            return session.void(reason=body["reason"], by=principal.user_id)

        return self._on_session(request, principal, session_id, body, void)

    @route(
        "POST",
        "/sessions/<string:session_id>/attendance/void",
        roles=WRITERS,
        body=VoidAttendanceBody,
        response=SessionOut,
        summary="Void a person's attendance recorded in error, saying why",
    )
    def void_attendance(self, request, principal, session_id, body):
        def void(cur, session: Session) -> list:
            return session.void_attendance(
                person_id=str(body["person_id"]), reason=body["reason"], by=principal.user_id
            )

        return self._on_session(request, principal, session_id, body, void)
