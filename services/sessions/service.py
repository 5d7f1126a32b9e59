"""The sessions service of a partner node: sessions and attendance, groups and their registers,
plans, signposting, outcome measures, a worker's diary and a person's timeline. HTTP entrypoints
only; rules live in domain.py, who may see what in access.py."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, date, datetime, time, timedelta

from psycogreen.eventlet import patch_psycopg

from contracts.sessions import measures
from services.sessions import access, domain
from services.sessions.domain import Group, PersonMeasures, Plan, Session, Signposting
from services.sessions.projections import SCHEMA, referral_status, sessions_projector
from services.sessions.schemas import (
    AddFacilitatorBody,
    BookSessionBody,
    CancelSessionBody,
    ChangeGroupCapacityBody,
    ChangeReviewIntervalBody,
    CloseGroupBody,
    ClosePlanBody,
    CorrectAnonymousAttendeesBody,
    CorrectAttendanceBody,
    CorrectSessionNotesBody,
    CorrectSignpostingOutcomeBody,
    CountAnonymousAttendeesBody,
    CreateGroupBody,
    Diary,
    DiaryQuery,
    DraftPlanBody,
    GroupListQuery,
    GroupOut,
    GroupPage,
    GroupRegister,
    HeldSessionBody,
    JoinGroupBody,
    LeaveGroupBody,
    MeasuresDue,
    MeasuresDueQuery,
    PersonMeasuresOut,
    PlanHistory,
    PlanListQuery,
    PlanOut,
    PlanPage,
    PlanRead,
    RecordAttendanceBody,
    RecordBookedWithAttendanceBody,
    RecordMeasureBody,
    RecordSignpostingBody,
    RecordSignpostingOutcomeBody,
    RegisterQuery,
    RemoveFacilitatorBody,
    ReviewPlanBody,
    RevisePlanBody,
    SealTextBody,
    SessionHistory,
    SessionListQuery,
    SessionNotesBody,
    SessionNotesHistory,
    SessionNotesRead,
    SessionOut,
    SessionPage,
    SessionRead,
    SessionRecorded,
    SignpostingListQuery,
    SignpostingOut,
    SignpostingPage,
    TextRead,
    TextSealed,
    Timeline,
    TimelineQuery,
    VoidAttendanceBody,
    VoidBody,
    VoidSignpostingBody,
    registry,
)
from shared import policy
from shared.auth import Forbidden
from shared.db import rows, select_page
from shared.eventstore import ConcurrencyError
from shared.service import (
    Audit,
    EventStore,
    NodeSettings,
    Operations,
    PeopleVault,
    history_of,
)
from shared.vault import ERASED
from shared.web import (
    BadRequest,
    NotFound,
    Verifier,
    context_of,
    expected_version,
    json_response,
    route,
)
from shared.workforce.roster import Workforce

patch_psycopg()

READERS = policy.MAY_READ_SESSIONS
WRITERS = policy.MAY_RECORD_SESSIONS
# How far past now a session recorded as held may end; a partner may allow more.
MAX_FUTURE = timedelta(minutes=int(os.environ.get("PEERLINK_SESSION_MAX_FUTURE_MINUTES", "15")))
# No date a worker gives may be earlier than this (as for referrals): a mistyped year such as
# 1990 is refused, not reported. A partner whose records start earlier sets it earlier.
EARLIEST_DATE = date.fromisoformat(os.environ.get("PEERLINK_EARLIEST_DATE", "2000-01-01"))
DIARY_DAYS = 7
NOTES_EVENTS = ("SessionNotesWritten", "SessionNotesCorrected")
# sessions that stand: neither cancelled nor voided
STANDING = (domain.BOOKED, domain.HELD)
# what a missing stream is called in a 404
WHAT = {Session: "session", Group: "group", Plan: "plan", Signposting: "signposting"}


def now() -> datetime:
    return datetime.now(UTC)


def today() -> date:
    return now().date()


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _page(cur, select: str, where: list[str], params: list, order: str, query: dict) -> dict:
    total, items = select_page(cur, select, where, params, order, query["limit"], query["offset"])
    return {"items": items, "total": total, "limit": query["limit"], "offset": query["offset"]}


def _window(query: dict, column: str, where: list[str], params: list) -> None:
    if query.get("from_"):
        where.append(f"{column} >= %s")
        params.append(_start_of(query["from_"]))
    if query.get("to"):
        where.append(f"{column} < %s")
        params.append(_start_of(query["to"] + timedelta(days=1)))


class SessionsService(Operations):
    """Sessions: one-to-ones, groups, drop-ins and carer support with who attended, groups and
    their registers, recovery and crisis plans, signposting, outcome measures, diaries and
    timelines."""

    name = "sessions"
    store = EventStore(SCHEMA, registry, projector=sessions_projector())
    audit = Audit()
    vault = PeopleVault()
    settings = NodeSettings()
    verifier = Verifier()
    workforce = Workforce()

    # -- helpers -----------------------------------------------------------------------------

    def _load(self, cls, stream_id: str, what: str):
        return self._load_with_events(cls, stream_id, what)[0]

    def _load_with_events(self, cls, stream_id: str, what: str):
        events = self.store.read_stream(cls.stream_type, stream_id)
        if not events:
            raise NotFound(f"no such {what}")
        return cls.fold(stream_id, events), events

    def _command(self, request, principal, cls, stream_id, body, may, decide, within=None):
        """Every command on an existing stream: load it, check who may act (`may(cur,
        aggregate)` refuses) and the version the client saw, decide, append."""
        aggregate = self._load(cls, stream_id, WHAT[cls])
        with self.store.db.transaction() as cur:
            may(cur, aggregate)
            self._check_version(request, body, aggregate)
            events = decide(cur, aggregate)
        return self._respond(self._append(request, principal, aggregate, events, within))

    def _dated(self, body: dict, decide):
        """A decision dated by the body's `on` (today when left out, never in the future)."""
        return lambda cur, aggregate: decide(
            cur, aggregate, self._not_in_future(body.get("on"), "on")
        )

    def _append(self, request, principal, aggregate, events, within=None):
        recorded = self.store.append(
            aggregate.stream_type,
            aggregate.id,
            aggregate.version,
            events,
            context_of(principal, request),
            within=within,
        )
        aggregate.version = recorded[-1].version  # the command applied its events already
        return aggregate

    def _check_version(self, request, body: dict, aggregate) -> None:
        expected = expected_version(request, body)
        if expected is not None and expected != aggregate.version:
            raise ConcurrencyError(aggregate.id, expected, aggregate.version)

    @staticmethod
    def _respond(aggregate, status: int = 200, extra: dict | None = None):
        return json_response(
            status,
            {**aggregate.as_dict(), **(extra or {})},
            headers={"ETag": f'"{aggregate.version}"'},
        )

    def _audit_read(self, request, principal, stream_type, stream_id, person_id, fields):
        self.audit.record(
            principal,
            "read",
            stream_type,
            stream_id,
            person_id=str(person_id) if person_id else None,
            fields=fields,
            request_id=request.peerlink_request_id,
        )

    def _known_person(self, cur, person_id, field_name: str = "person_id") -> None:
        standing = self.vault.standing(cur, person_id)
        if standing is None:
            raise BadRequest(field_name, "no such person on this node; register them first")
        if standing == "erased":
            raise BadRequest(field_name, "this person's record was erased")

    def _not_in_future(self, day: date | None, field_name: str) -> date:
        day = day or today()
        if day > today():
            raise BadRequest(field_name, "cannot be in the future")
        return domain.not_before_earliest(field_name, day, EARLIEST_DATE)

    @staticmethod
    def _referral_dates(cur, referral_id: str | None) -> dict:
        """The referral's timeline, for a session dated within it."""
        referral = referral_status(cur, referral_id) if referral_id else None
        return _timeline_of(referral) if referral else {}

    # -- sessions: recording -------------------------------------------------------------------

    def _links(self, cur, principal, body: dict) -> dict:
        """The referral's person and status, or the group's status, for the domain to decide."""
        links = {}
        if body.get("referral_id"):
            referral = referral_status(cur, body["referral_id"])
            if referral is None:
                # another partner's referral looks like one never made
                raise NotFound("no such referral")
            links["referral_id"] = body["referral_id"]
            links["referral_status"] = referral and referral["status"]
            links["person_id"] = referral and str(referral["person_id"])
            links.update(_timeline_of(referral))
            if (
                referral
                and referral["status"] in domain.SUPPORTABLE_REFERRAL_STATES
                and principal.role == "peer_worker"
                and referral["worker_id"] != principal.user_id
            ):
                raise Forbidden("this referral is not on your caseload")
        if body.get("group_id"):
            group = self._group_row(cur, body["group_id"])
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
    def _same_group_and_start(cur, group_id, starts_at, session_id) -> list[str]:
        """The group's other standing sessions starting at that moment."""
        if not group_id:
            return []
        cur.execute(
            f"SELECT session_id FROM {SCHEMA}.session_list WHERE group_id = %s"
            " AND starts_at = %s AND status = ANY(%s) AND session_id <> %s ORDER BY session_id",
            (group_id, starts_at, list(STANDING), session_id),
        )
        return [row[0] for row in cur.fetchall()]

    @staticmethod
    def _likely_duplicates(cur, session: Session, starts_at) -> list[dict]:
        if not session.person_id:
            return []
        window = domain.LIKELY_DUPLICATE_WINDOW
        cur.execute(
            f"SELECT session_id, starts_at FROM {SCHEMA}.session_list WHERE person_id = %s"
            " AND kind = %s AND status = ANY(%s) AND session_id <> %s"
            " AND starts_at > %s AND starts_at < %s ORDER BY starts_at, session_id",
            (
                session.person_id,
                session.kind,
                list(STANDING),
                session.id,
                starts_at - window,
                starts_at + window,
            ),
        )
        return domain.likely_duplicates(
            kind=session.kind,
            person_id=session.person_id,
            starts_at=starts_at,
            others=cur.fetchall(),
        )

    @staticmethod
    def _group_row(cur, group_id: str) -> dict | None:
        cur.execute(
            f"SELECT status, facilitator_ids FROM {SCHEMA}.group_list WHERE group_id = %s",
            (group_id,),
        )
        row = cur.fetchone()
        return None if row is None else {"status": row[0], "facilitator_ids": row[1]}

    def _attendance_events(
        self, cur, principal, session: Session, body: dict, before: Session | None = None
    ) -> list:
        """Each person's attendance, refused unless they are on the recorder's caseload already
        (`before`: the session when the recorder ran it before this command, whose links count)."""
        events, by = [], principal.user_id
        attendance = body.get("attendance") or []
        for index, item in enumerate(attendance):
            self._known_person(cur, item["person_id"], f"attendance.{index}.person_id")
            events += session.record_attendance(
                person_id=str(item["person_id"]), status=item["status"], by=by, now=now()
            )
        access.require_on_caseload(cur, principal, [i["person_id"] for i in attendance], before)
        if body.get("anonymous_attendees") is not None:
            events += session.count_anonymous_attendees(count=body["anonymous_attendees"], by=by)
        return events

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
        session = Session(str(uuid.uuid4()))
        starts_at = body["planned_start_at"]
        with self.store.db.transaction() as cur:
            links = self._links(cur, principal, body)
            events = session.book(
                kind=body["kind"],
                planned_start_at=starts_at,
                planned_duration_minutes=body["planned_duration_minutes"],
                mode=body["mode"],
                location=body["location"],
                worker_ids=body["worker_ids"],
                by=principal.user_id,
                same_group_and_start=self._same_group_and_start(
                    cur, body.get("group_id"), starts_at, session.id
                ),
                earliest=EARLIEST_DATE,
                **links,
            )
            warnings = self._likely_duplicates(cur, session, starts_at)
        session = self._append(request, principal, session, events)
        return self._respond(session, 201, {"warnings": warnings})

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
        session = Session(str(uuid.uuid4()))
        starts_at = body["actual_start_at"]
        with self.store.db.transaction() as cur:
            links = self._links(cur, principal, body)
            events = session.record(
                actual_start_at=starts_at,
                duration_minutes=body["duration_minutes"],
                by=principal.user_id,
                now=now(),
                max_future=MAX_FUTURE,
                kind=body["kind"],
                mode=body["mode"],
                location=body["location"],
                worker_ids=body["worker_ids"],
                same_group_and_start=self._same_group_and_start(
                    cur, body.get("group_id"), starts_at, session.id
                ),
                earliest=EARLIEST_DATE,
                **links,
            )
            events += self._attendance_events(cur, principal, session, body)
            warnings = self._likely_duplicates(cur, session, starts_at)
        session = self._append(request, principal, session, events)
        return self._respond(session, 201, {"warnings": warnings})

    def _session_command(self, request, principal, session_id, body, decide, within=None):
        def may(cur, session):
            access.require_runs_session(cur, principal, session)

        return self._command(request, principal, Session, session_id, body, may, decide, within)

    @route(
        "POST",
        "/sessions/<string:session_id>/record",
        roles=WRITERS,
        body=RecordBookedWithAttendanceBody,
        response=SessionOut,
        summary="Record a booked session as held, with who attended",
    )
    def record_booked(self, request, principal, session_id, body):
        def decide(cur, session):
            workers_before = list(session.worker_ids or ())
            # who ran it as booked stands; a worker added now must be on the workforce
            added = [w for w in body.get("worker_ids") or () if w not in workers_before]
            self.workforce.require_named(cur, principal, "worker_ids", added)
            events = session.record(
                actual_start_at=body["actual_start_at"],
                duration_minutes=body["duration_minutes"],
                by=principal.user_id,
                now=now(),
                max_future=MAX_FUTURE,
                mode=body.get("mode"),
                location=body.get("location"),
                worker_ids=body.get("worker_ids"),
                same_group_and_start=self._same_group_and_start(
                    cur, session.group_id, body["actual_start_at"], session.id
                ),
                earliest=EARLIEST_DATE,
                **self._referral_dates(cur, session.referral_id),
            )
            # the session's own links count only for a worker it already named
            before = session if principal.user_id in workers_before else None
            if set(session.worker_ids) - set(workers_before):
                # a worker added now comes to see whoever the session already names
                named = [*session.attendance, *filter(None, [session.person_id])]
                access.require_on_caseload(cur, principal, named, before)
            return events + self._attendance_events(cur, principal, session, body, before)

        return self._session_command(request, principal, session_id, body, decide)

    @route(
        "POST",
        "/sessions/<string:session_id>/cancel",
        roles=WRITERS,
        body=CancelSessionBody,
        response=SessionOut,
        summary="Cancel a booked session, saying who called it off and why",
    )
    def cancel(self, request, principal, session_id, body):
        def decide(cur, session):
            return session.cancel(
                cancelled_by=body["cancelled_by"], reason=body["reason"], by=principal.user_id
            )

        return self._session_command(request, principal, session_id, body, decide)

    @route(
        "POST",
        "/sessions/<string:session_id>/attendance",
        roles=WRITERS,
        body=RecordAttendanceBody,
        response=SessionOut,
        summary="Record one person's attendance at a session",
    )
    def record_attendance(self, request, principal, session_id, body):
        def decide(cur, session):
            self._known_person(cur, body["person_id"])
            events = session.record_attendance(
                person_id=str(body["person_id"]),
                status=body["status"],
                by=principal.user_id,
                now=now(),
            )
            access.require_on_caseload(cur, principal, [body["person_id"]], session)
            return events

        return self._session_command(request, principal, session_id, body, decide)

    @route(
        "POST",
        "/sessions/<string:session_id>/attendance/correct",
        roles=WRITERS,
        body=CorrectAttendanceBody,
        response=SessionOut,
        summary="Correct a person's attendance, keeping what was recorded before and why",
    )
    def correct_attendance(self, request, principal, session_id, body):
        def decide(cur, session):
            events = session.correct_attendance(
                person_id=str(body["person_id"]),
                status=body["status"],
                reason=body["reason"],
                by=principal.user_id,
                now=now(),
            )
            access.require_on_caseload(cur, principal, [body["person_id"]], session)
            return events

        return self._session_command(request, principal, session_id, body, decide)

    @route(
        "POST",
        "/sessions/<string:session_id>/anonymous-attendees",
        roles=WRITERS,
        body=CountAnonymousAttendeesBody,
        response=SessionOut,
        summary="Count the people at a drop-in who did not give their details",
    )
    def count_anonymous(self, request, principal, session_id, body):
        def decide(cur, session):
            return session.count_anonymous_attendees(count=body["count"], by=principal.user_id)

        return self._session_command(request, principal, session_id, body, decide)

    @route(
        "POST",
        "/sessions/<string:session_id>/anonymous-attendees/correct",
        roles=WRITERS,
        body=CorrectAnonymousAttendeesBody,
        response=SessionOut,
        summary="Correct a drop-in's anonymous count, saying why",
    )
    def correct_anonymous(self, request, principal, session_id, body):
        def decide(cur, session):
            return session.correct_anonymous_attendees(
                count=body["count"], reason=body["reason"], by=principal.user_id
            )

        return self._session_command(request, principal, session_id, body, decide)

    @route(
        "POST",
        "/sessions/<string:session_id>/notes",
        roles=WRITERS,
        body=SessionNotesBody,
        response=SessionOut,
        summary="Write a session's notes: coded themes and actions, and words sealed in the vault",
    )
    def write_notes(self, request, principal, session_id, body):
        return self._notes_command(request, principal, session_id, body, Session.write_notes)

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

        return self._notes_command(request, principal, session_id, body, correct)

    def _notes_command(self, request, principal, session_id, body, decide_notes):
        text_id = uuid.uuid4() if body.get("text") else None
        about = {}

        def decide(cur, session):
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

        def seal(cur):
            if text_id is not None:
                self.vault.seal_text(cur, about["person"], body["text"], text_id)

        return self._session_command(request, principal, session_id, body, decide, seal)

    @route(
        "POST",
        "/sessions/<string:session_id>/void",
        roles=WRITERS,
        body=VoidBody,
        response=SessionOut,
        summary="Void a session recorded in error, saying why: it leaves lists and reports",
    )
    def void_session(self, request, principal, session_id, body):
        def decide(cur, session):
            return session.void(reason=body["reason"], by=principal.user_id)

        return self._session_command(request, principal, session_id, body, decide)

    @route(
        "POST",
        "/sessions/<string:session_id>/attendance/void",
        roles=WRITERS,
        body=VoidAttendanceBody,
        response=SessionOut,
        summary="Void a person's attendance recorded in error, saying why",
    )
    def void_attendance(self, request, principal, session_id, body):
        def decide(cur, session):
            return session.void_attendance(
                person_id=str(body["person_id"]), reason=body["reason"], by=principal.user_id
            )

        return self._session_command(request, principal, session_id, body, decide)

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

    # -- sessions: reading ---------------------------------------------------------------------

    @route(
        "GET",
        "/sessions",
        roles=READERS,
        query=SessionListQuery,
        response=SessionPage,
        summary="List sessions",
    )
    def list_sessions(self, request, principal, query):
        where, params = [], []
        for name in ("group_id", "referral_id", "kind", "status"):
            if name in query:
                where.append(f"s.{name} = %s")
                params.append(query[name])
        if "worker_id" in query:
            where.append("%s = ANY(s.worker_ids)")
            params.append(query["worker_id"])
        if "status" not in query:
            where.append(f"s.status <> '{domain.VOIDED}'")
        if "person_id" in query:
            where.append(
                "(s.person_id = %s OR EXISTS (SELECT 1 FROM sessions.attendance a"
                " WHERE a.session_id = s.session_id AND a.person_id = %s))"
            )
            params += [str(query["person_id"])] * 2
        if principal.role == "peer_worker":
            where.append(
                "(%s = ANY(s.worker_ids) OR EXISTS (SELECT 1 FROM sessions.group_list g"
                " WHERE g.group_id = s.group_id AND %s = ANY(g.facilitator_ids)))"
            )
            params += [principal.user_id] * 2
        _window(query, "s.starts_at", where, params)
        with self.store.db.transaction() as cur:
            if "person_id" in query:
                access.require_person(cur, principal, query["person_id"])
            page = _page(
                cur,
                f"SELECT s.session_id, s.kind, s.status, s.mode, s.location, s.worker_ids,"
                f" s.referral_id, s.person_id, s.group_id, s.starts_at, s.duration_minutes,"
                f" s.anonymous_attendees, s.version,"
                f" (SELECT count(*) FROM {SCHEMA}.attendance a WHERE a.session_id = s.session_id"
                f"  AND a.status IN ('attended', 'late_seen')) AS seen"
                f" FROM {SCHEMA}.session_list s",
                where,
                params,
                "s.starts_at, s.session_id",
                query,
            )
        self._audit_search(request, principal, "session", query, len(page["items"]))
        return page

    def _audit_search(self, request, principal, what: str, query: dict, returned: int) -> None:
        self.audit.record(
            principal,
            "search",
            what,
            person_id=str(query["person_id"]) if query.get("person_id") else None,
            fields=sorted(query),
            request_id=request.peerlink_request_id,
            detail={"filters": {k: str(v) for k, v in query.items()}, "returned": returned},
        )

    @route(
        "GET",
        "/sessions/<string:session_id>",
        roles=READERS,
        response=SessionRead,
        summary="Read a session",
    )
    def read_session(self, request, principal, session_id):
        session = self._load(Session, session_id, "session")
        with self.store.db.transaction() as cur:
            access.require_session(cur, principal, session)
        self._audit_read(
            request, principal, "session", session.id, session.person_id, ["session", "attendance"]
        )
        body = session.as_dict()
        body["attendance_history"] = session.attendance_history
        return json_response(200, body, headers={"ETag": f'"{session.version}"'})

    @route(
        "GET",
        "/sessions/<string:session_id>/notes",
        roles=READERS,
        response=SessionNotesRead,
        summary="Read a session's notes, the sealed words opened",
    )
    def read_notes(self, request, principal, session_id):
        session = self._load(Session, session_id, "session")
        with self.store.db.transaction() as cur:
            access.require_session(cur, principal, session)
            notes = dict(session.notes or {})
            text_id = notes.get("notes_text_id")
            text = self.vault.open_text(cur, text_id) if text_id else None
        self._audit_read(
            request, principal, "session", session.id, session.person_id, ["notes", "text"]
        )
        notes["text"] = "erased" if text is ERASED else text
        return {"session_id": session.id, "version": session.version, "notes": notes}

    @route(
        "GET",
        "/sessions/<string:session_id>/notes/history",
        roles=READERS,
        response=SessionNotesHistory,
        summary="Read every version of a session's notes, who wrote or corrected each and why",
    )
    def notes_history(self, request, principal, session_id):
        session, events = self._load_with_events(Session, session_id, "session")
        versions = [e for e in events if e.event_type in NOTES_EVENTS]
        with self.store.db.transaction() as cur:
            access.require_session(cur, principal, session)
            self._audit_read(
                request, principal, "session", session.id, session.person_id, ["notes", "text"]
            )
            history = []
            for event in versions:
                p = event.payload
                text = self.vault.open_text(cur, p["notes_text_id"]) if p["notes_text_id"] else None
                history.append(
                    {
                        "version": event.version,
                        "event_type": event.event_type,
                        "recorded_at": event.recorded_at,
                        "by": p.get("written_by") or p.get("corrected_by"),
                        "reason": p.get("reason"),
                        "themes": p["themes"],
                        "actions": p["actions"],
                        "notes_text_id": p["notes_text_id"],
                        "text": "erased" if text is ERASED else text,
                    }
                )
        return {"session_id": session.id, "version": session.version, "history": history}

    @route(
        "GET",
        "/sessions/<string:session_id>/history",
        roles=READERS,
        response=SessionHistory,
        summary="Read a session's history as its events",
    )
    def session_history(self, request, principal, session_id):
        session, events = self._load_with_events(Session, session_id, "session")
        with self.store.db.transaction() as cur:
            access.require_session(cur, principal, session)
        self._audit_read(request, principal, "session", session.id, session.person_id, ["history"])
        return {"session_id": session.id, "events": history_of(events)}

    @route(
        "GET",
        "/diary",
        roles=READERS,
        query=DiaryQuery,
        response=Diary,
        summary="A worker's diary: their sessions and the sessions of groups they facilitate",
    )
    def diary(self, request, principal, query):
        worker = query.get("worker_id") or principal.user_id
        if principal.role == "peer_worker" and worker != principal.user_id:
            raise Forbidden("a peer worker reads their own diary")
        start = query.get("from_") or today()
        end = query.get("to") or start + timedelta(days=DIARY_DAYS - 1)
        where = [
            "(%s = ANY(s.worker_ids) OR EXISTS (SELECT 1 FROM sessions.group_list g"
            " WHERE g.group_id = s.group_id AND %s = ANY(g.facilitator_ids)))",
            "s.starts_at >= %s",
            "s.starts_at < %s",
            f"s.status <> '{domain.VOIDED}'",
        ]
        params = [worker, worker, _start_of(start), _start_of(end + timedelta(days=1))]
        with self.store.db.transaction() as cur:
            page = _page(
                cur,
                f"SELECT s.session_id, s.kind, s.status, s.mode, s.location, s.worker_ids,"
                f" s.referral_id, s.person_id, s.group_id, g.name AS group_name, s.starts_at,"
                f" s.duration_minutes, s.version FROM {SCHEMA}.session_list s"
                f" LEFT JOIN {SCHEMA}.group_list g USING (group_id)",
                where,
                params,
                "s.starts_at, s.session_id",
                query,
            )
        for item in page["items"]:
            item["ends_at"] = item["starts_at"] + timedelta(minutes=item["duration_minutes"])
        return {"worker_id": worker, "from": start, "to": end, **page}

    # -- groups --------------------------------------------------------------------------------

    @route(
        "POST",
        "/groups",
        roles=WRITERS,
        body=CreateGroupBody,
        status=201,
        response=GroupOut,
        summary="Create a group",
    )
    def create_group(self, request, principal, body):
        group = Group(str(uuid.uuid4()))
        with self.store.db.transaction() as cur:
            self.workforce.require_named(cur, principal, "facilitator_ids", body["facilitator_ids"])
        events = group.create(
            name=body["name"],
            kind=body["kind"],
            capacity=body["capacity"],
            facilitator_ids=body["facilitator_ids"],
            sessions_planned=body.get("sessions_planned"),
            by=principal.user_id,
            on=self._not_in_future(body.get("on"), "on"),
        )
        return self._respond(self._append(request, principal, group, events), 201)

    @route(
        "GET",
        "/groups",
        roles=READERS,
        query=GroupListQuery,
        response=GroupPage,
        summary="List groups",
    )
    def list_groups(self, request, principal, query):
        where, params = [], []
        for name in ("status", "kind"):
            if name in query:
                where.append(f"{name} = %s")
                params.append(query[name])
        if "facilitator_id" in query:
            where.append("%s = ANY(facilitator_ids)")
            params.append(query["facilitator_id"])
        with self.store.db.transaction() as cur:
            return _page(
                cur,
                f"SELECT group_id, name, kind, status, capacity, members, waiting,"
                f" greatest(capacity - members, 0) AS places_free, facilitator_ids,"
                f" sessions_planned, created_on, version FROM {SCHEMA}.group_list",
                where,
                params,
                "name, group_id",
                query,
            )

    @route(
        "GET",
        "/groups/<string:group_id>",
        roles=READERS,
        response=GroupOut,
        summary="Read a group",
    )
    def read_group(self, request, principal, group_id):
        group = self._load(Group, group_id, "group")
        access.require_sees_members(principal, group, "read who is in it")
        self._audit_read(request, principal, "group", group.id, None, ["members", "waiting_list"])
        return self._respond(group)

    def _group_command(self, request, principal, group_id, body, decide):
        def may(cur, group):
            access.require_facilitates(principal, group)

        return self._command(
            request, principal, Group, group_id, body, may, self._dated(body, decide)
        )

    @route(
        "POST",
        "/groups/<string:group_id>/join",
        roles=WRITERS,
        body=JoinGroupBody,
        response=GroupOut,
        summary="Add a person to a group, or to its waiting list when it is full",
    )
    def join_group(self, request, principal, group_id, body):
        def decide(cur, group, on):
            self._known_person(cur, body["person_id"])
            events = group.join(person_id=str(body["person_id"]), by=principal.user_id, on=on)
            access.require_on_caseload(cur, principal, [body["person_id"]])
            return events

        return self._group_command(request, principal, group_id, body, decide)

    @route(
        "POST",
        "/groups/<string:group_id>/leave",
        roles=WRITERS,
        body=LeaveGroupBody,
        response=GroupOut,
        summary="Take a person off a group or its waiting list; the first waiting takes the place",
    )
    def leave_group(self, request, principal, group_id, body):
        def decide(cur, group, on):
            return group.leave(
                person_id=str(body["person_id"]), reason=body["reason"], by=principal.user_id, on=on
            )

        return self._group_command(request, principal, group_id, body, decide)

    @route(
        "POST",
        "/groups/<string:group_id>/capacity",
        roles=WRITERS,
        body=ChangeGroupCapacityBody,
        response=GroupOut,
        summary="Change a group's number of places",
    )
    def change_capacity(self, request, principal, group_id, body):
        def decide(cur, group, on):
            return group.change_capacity(capacity=body["capacity"], by=principal.user_id, on=on)

        return self._group_command(request, principal, group_id, body, decide)

    @route(
        "POST",
        "/groups/<string:group_id>/facilitators",
        roles=WRITERS,
        body=AddFacilitatorBody,
        response=GroupOut,
        summary="Add a facilitator to a group",
    )
    def add_facilitator(self, request, principal, group_id, body):
        def decide(cur, group, on):
            self.workforce.require_named(cur, principal, "worker_id", [body["worker_id"]])
            return group.add_facilitator(worker_id=body["worker_id"], by=principal.user_id, on=on)

        return self._group_command(request, principal, group_id, body, decide)

    @route(
        "POST",
        "/groups/<string:group_id>/facilitators/remove",
        roles=WRITERS,
        body=RemoveFacilitatorBody,
        response=GroupOut,
        summary="Remove a facilitator from a group",
    )
    def remove_facilitator(self, request, principal, group_id, body):
        def decide(cur, group, on):
            return group.remove_facilitator(
                worker_id=body["worker_id"], by=principal.user_id, on=on
            )

        return self._group_command(request, principal, group_id, body, decide)

    @route(
        "POST",
        "/groups/<string:group_id>/close",
        roles=WRITERS,
        body=CloseGroupBody,
        response=GroupOut,
        summary="Close a group",
    )
    def close_group(self, request, principal, group_id, body):
        def decide(cur, group, on):
            return group.close(reason=body["reason"], by=principal.user_id, on=on)

        return self._group_command(request, principal, group_id, body, decide)

    @route(
        "GET",
        "/groups/<string:group_id>/register",
        roles=READERS,
        query=RegisterQuery,
        response=GroupRegister,
        summary="A group's register: each session and each person's attendance",
    )
    def register(self, request, principal, group_id, query):
        group = self._load(Group, group_id, "group")
        access.require_sees_members(principal, group, "read its register")
        where, params = ["s.group_id = %s", f"s.status <> '{domain.VOIDED}'"], [group_id]
        _window(query, "s.starts_at", where, params)
        with self.store.db.transaction() as cur:
            cur.execute(
                f"SELECT s.session_id, s.status, s.starts_at, s.duration_minutes,"
                f" s.anonymous_attendees FROM {SCHEMA}.session_list s"
                f" WHERE {' AND '.join(where)} ORDER BY s.starts_at, s.session_id",
                params,
            )
            sessions = rows(cur)
            cur.execute(
                f"SELECT a.session_id, a.person_id, a.status, a.is_corrected"
                f" FROM {SCHEMA}.attendance a JOIN {SCHEMA}.session_list s USING (session_id)"
                f" WHERE {' AND '.join(where)}",
                params,
            )
            marks = cur.fetchall()
            self._audit_read(request, principal, "group", group.id, None, ["register"])
            people = list(group.members) + [p for p in group.waiting if p not in group.members]
            seen_people = {str(person) for _, person, _, _ in marks}
            people += sorted(seen_people - set(people))
            names = self._names(request, principal, group, people) if query["names"] else {}
        cell = {(s, str(p)): (status, corrected) for s, p, status, corrected in marks}
        register_rows = []
        for person in people:
            row = {"person_id": person, "is_member": person in group.members, "attendance": []}
            if query["names"]:
                row["full_name"] = names.get(person)
            counts: dict[str, int] = {}
            for s in sessions:
                status, corrected = cell.get((s["session_id"], person), (None, False))
                row["attendance"].append(
                    {"session_id": s["session_id"], "status": status, "is_corrected": corrected}
                )
                if status:
                    counts[status] = counts.get(status, 0) + 1
            row["totals"] = counts
            register_rows.append(row)
        return {
            "group_id": group.id,
            "name": group.name,
            "sessions": sessions,
            "people": register_rows,
        }

    def _names(self, request, principal, group: Group, people: list[str]) -> dict[str, str]:
        """The register's people's names from the vault, each read audited as a read of that
        person's identifiers; whoever may read the register (its facilitators and those who
        see the partner) may read them."""
        names = {}
        with self.store.db.transaction() as cur:
            for person in people:
                identifiers = self.vault.read(cur, person)
                if isinstance(identifiers, dict):
                    names[person] = identifiers.get("full_name")
                    fields = ["full_name"]
                else:
                    names[person] = "erased" if identifiers is ERASED else None
                    fields = []
                self.audit.record(
                    principal,
                    "read",
                    "person",
                    person,
                    person_id=person,
                    fields=fields,
                    request_id=request.peerlink_request_id,
                    detail={"via": "group_register", "group_id": group.id},
                    cur=cur,
                )
        return names

    # -- sealed text ---------------------------------------------------------------------------

    @route(
        "POST",
        "/texts",
        roles=WRITERS,
        body=SealTextBody,
        status=201,
        response=TextSealed,
        summary="Seal free text about a person in the vault, for a plan to refer to",
    )
    def seal_text(self, request, principal, body):
        with self.store.db.transaction() as cur:
            self._known_person(cur, body["person_id"])
            access.require_person(cur, principal, body["person_id"])
            text_id = self.vault.seal_text(cur, body["person_id"], body["text"])
        self.audit.record(
            principal,
            "change",
            "text",
            str(text_id),
            person_id=str(body["person_id"]),
            fields=["text"],
            request_id=request.peerlink_request_id,
        )
        return {"text_id": text_id, "person_id": body["person_id"]}

    @route(
        "GET",
        "/texts/<string:text_id>",
        roles=READERS,
        response=TextRead,
        summary="Read sealed text",
    )
    def read_text(self, request, principal, text_id):
        try:
            text_uuid = uuid.UUID(text_id)
        except ValueError:
            raise NotFound("no such text") from None
        with self.store.db.transaction() as cur:
            owner = self.vault.text_owners(cur, [text_uuid]).get(text_uuid)
            if owner is None:
                raise NotFound("no such text")
            access.require_person(cur, principal, owner)
            text = self.vault.open_text(cur, text_uuid)
        self._audit_read(request, principal, "text", text_id, owner, ["text"])
        text = "erased" if text is ERASED else text
        return {"text_id": text_id, "person_id": owner, "text": text}

    def _texts_belong(self, cur, person_id, content: dict) -> None:
        ids = sorted(_text_ids(content))
        owners = self.vault.text_owners(cur, ids)
        for text_id in ids:
            if owners.get(uuid.UUID(text_id)) != uuid.UUID(str(person_id)):
                raise BadRequest(
                    "content", f"text {text_id} is not sealed text about this plan's person"
                )

    # -- plans ---------------------------------------------------------------------------------

    @route(
        "POST",
        "/plans",
        roles=WRITERS,
        body=DraftPlanBody,
        status=201,
        response=PlanOut,
        summary="Draft a recovery and wellbeing, crisis and safety, or carer's crisis plan",
    )
    def draft_plan(self, request, principal, body):
        plan = Plan(str(uuid.uuid4()))
        with self.store.db.transaction() as cur:
            self._known_person(cur, body["person_id"])
            access.require_person(cur, principal, body["person_id"])
            self._texts_belong(cur, body["person_id"], body["content"])
            cur.execute(
                f"SELECT plan_id, kind FROM {SCHEMA}.plan_list WHERE person_id = %s"
                " AND status = 'open' ORDER BY drafted_on, plan_id",
                (str(body["person_id"]),),
            )
            open_plans = cur.fetchall()
        events = plan.draft(
            open_plans=open_plans,
            person_id=str(body["person_id"]),
            kind=body["kind"],
            content=body["content"],
            review_interval_days=body["review_interval_days"],
            referral_id=body.get("referral_id"),
            by=principal.user_id,
            on=self._not_in_future(body.get("on"), "on"),
        )
        return self._respond(self._append(request, principal, plan, events), 201)

    @route(
        "GET",
        "/plans",
        roles=READERS,
        query=PlanListQuery,
        response=PlanPage,
        summary="List plans",
    )
    def list_plans(self, request, principal, query):
        where, params = [], []
        for name in ("kind", "status"):
            if name in query:
                where.append(f"{name} = %s")
                params.append(query[name])
        if "person_id" in query:
            where.append("person_id = %s")
            params.append(str(query["person_id"]))
        if "review_overdue" in query:
            overdue = "(status = 'open' AND review_due_on < %s)"
            where.append(overdue if query["review_overdue"] else f"NOT {overdue}")
            params.append(today())
        with self.store.db.transaction() as cur:
            if "person_id" in query:
                access.require_person(cur, principal, query["person_id"])
            elif principal.role == "peer_worker":
                where.append(
                    f"(person_id IN (SELECT person_id FROM {SCHEMA}.referral_status"
                    f" WHERE worker_id = %s AND status = ANY(%s)))"
                )
                params += [principal.user_id, list(access.OPEN_REFERRAL_STATES)]
            page = _page(
                cur,
                f"SELECT plan_id, person_id, kind, status, revision, referral_id, drafted_on,"
                f" last_reviewed_on, review_interval_days, review_due_on, version,"
                f" (status = 'open' AND review_due_on < %s) AS is_review_overdue"
                f" FROM {SCHEMA}.plan_list",
                where,
                [today(), *params],
                "review_due_on NULLS LAST, plan_id",
                query,
            )
        self._audit_search(request, principal, "plan", query, len(page["items"]))
        return page

    @route(
        "GET",
        "/plans/<string:plan_id>",
        roles=READERS,
        response=PlanRead,
        summary="Read a plan, texts opened",
    )
    def read_plan(self, request, principal, plan_id):
        plan = self._load(Plan, plan_id, "plan")
        with self.store.db.transaction() as cur:
            access.require_person(cur, principal, plan.person_id)
            texts = {}
            for text_id in sorted(_text_ids(plan.content)):
                text = self.vault.open_text(cur, text_id)
                texts[text_id] = "erased" if text is ERASED else text
        self._audit_read(request, principal, "plan", plan.id, plan.person_id, ["content", "texts"])
        return self._respond(plan, extra={"texts": texts})

    @route(
        "GET",
        "/plans/<string:plan_id>/history",
        roles=READERS,
        response=PlanHistory,
        summary="Read every version of a plan as its events",
    )
    def plan_history(self, request, principal, plan_id):
        plan, events = self._load_with_events(Plan, plan_id, "plan")
        with self.store.db.transaction() as cur:
            access.require_person(cur, principal, plan.person_id)
        self._audit_read(request, principal, "plan", plan.id, plan.person_id, ["history"])
        return {"plan_id": plan.id, "events": history_of(events)}

    def _plan_command(self, request, principal, plan_id, body, decide):
        return self._command(
            request,
            principal,
            Plan,
            plan_id,
            body,
            self._about_person(principal),
            self._dated(body, decide),
        )

    @staticmethod
    def _about_person(principal):
        """Who may act on a plan or a signposting: whoever may see its person."""
        return lambda cur, aggregate: access.require_person(cur, principal, aggregate.person_id)

    @route(
        "POST",
        "/plans/<string:plan_id>/revise",
        roles=WRITERS,
        body=RevisePlanBody,
        response=PlanOut,
        summary="Revise a plan with its full new content",
    )
    def revise_plan(self, request, principal, plan_id, body):
        def decide(cur, plan, on):
            self._texts_belong(cur, plan.person_id, body["content"])
            return plan.revise(
                kind=body["kind"],
                content=body["content"],
                reason=body["reason"],
                by=principal.user_id,
                on=on,
            )

        return self._plan_command(request, principal, plan_id, body, decide)

    @route(
        "POST",
        "/plans/<string:plan_id>/review",
        roles=WRITERS,
        body=ReviewPlanBody,
        response=PlanOut,
        summary="Record a plan's review",
    )
    def review_plan(self, request, principal, plan_id, body):
        def decide(cur, plan, on):
            return plan.review(outcome=body["outcome"], by=principal.user_id, on=on)

        return self._plan_command(request, principal, plan_id, body, decide)

    @route(
        "POST",
        "/plans/<string:plan_id>/review-interval",
        roles=WRITERS,
        body=ChangeReviewIntervalBody,
        response=PlanOut,
        summary="Change how often a plan is reviewed",
    )
    def change_review_interval(self, request, principal, plan_id, body):
        def decide(cur, plan, on):
            return plan.change_review_interval(
                days=body["review_interval_days"], by=principal.user_id, on=on
            )

        return self._plan_command(request, principal, plan_id, body, decide)

    @route(
        "POST",
        "/plans/<string:plan_id>/close",
        roles=WRITERS,
        body=ClosePlanBody,
        response=PlanOut,
        summary="Close a plan",
    )
    def close_plan(self, request, principal, plan_id, body):
        def decide(cur, plan, on):
            return plan.close(reason=body["reason"], by=principal.user_id, on=on)

        return self._plan_command(request, principal, plan_id, body, decide)

    # -- signposting ---------------------------------------------------------------------------

    @route(
        "POST",
        "/signposting",
        roles=WRITERS,
        body=RecordSignpostingBody,
        status=201,
        response=SignpostingOut,
        summary="Record that a person was signposted somewhere",
    )
    def signpost(self, request, principal, body):
        signposting = Signposting(str(uuid.uuid4()))
        with self.store.db.transaction() as cur:
            self._known_person(cur, body["person_id"])
            access.require_person(cur, principal, body["person_id"])
            self._signposting_links(cur, body)
        events = signposting.record(
            person_id=str(body["person_id"]),
            destination=body["destination"],
            referral_id=body.get("referral_id"),
            session_id=body.get("session_id"),
            by=principal.user_id,
            on=self._not_in_future(body.get("on"), "on"),
            earliest=EARLIEST_DATE,
        )
        return self._respond(self._append(request, principal, signposting, events), 201)

    def _signposting_links(self, cur, body: dict) -> None:
        """A signposting's session and referral are this person's: one unknown here is 404,
        someone else's is invalid input naming the field."""
        person = str(body["person_id"])
        if body.get("referral_id"):
            referral = referral_status(cur, body["referral_id"])
            if referral is None:
                raise NotFound("no such referral")
            if str(referral["person_id"]) != person:
                raise BadRequest("referral_id", "must be a referral of this person")
        if body.get("session_id"):
            cur.execute(
                f"SELECT person_id, status, EXISTS (SELECT 1 FROM {SCHEMA}.attendance a"
                "  WHERE a.session_id = s.session_id AND a.person_id = %s)"
                f" FROM {SCHEMA}.session_list s WHERE session_id = %s",
                (person, body["session_id"]),
            )
            row = cur.fetchone()
            if row is None:
                raise NotFound("no such session")
            booked_for, status, attended = row
            if status == domain.VOIDED:
                raise BadRequest("session_id", "this session was voided as recorded in error")
            if str(booked_for) != person and not attended:
                raise BadRequest(
                    "session_id", "must be a session of this person (booked for them or attended)"
                )

    @route(
        "GET",
        "/signposting",
        roles=READERS,
        query=SignpostingListQuery,
        response=SignpostingPage,
        summary="List signposting, with outcomes",
    )
    def list_signposting(self, request, principal, query):
        where, params = [], []
        for name in ("destination", "outcome"):
            if name in query:
                where.append(f"{name} = %s")
                params.append(query[name])
        if "person_id" in query:
            where.append("person_id = %s")
            params.append(str(query["person_id"]))
        where.append("NOT is_voided")
        with self.store.db.transaction() as cur:
            if "person_id" in query:
                access.require_person(cur, principal, query["person_id"])
            elif principal.role == "peer_worker":
                raise BadRequest("person_id", "is needed: a peer worker lists one person's")
            page = _page(
                cur,
                f"SELECT signposting_id, person_id, destination, outcome, signposted_on,"
                f" referral_id, session_id, version FROM {SCHEMA}.signposting_list",
                where,
                params,
                "signposted_on DESC, signposting_id",
                query,
            )
        self._audit_search(request, principal, "signposting", query, len(page["items"]))
        return page

    def _signposting_command(self, request, principal, signposting_id, body, decide):
        return self._command(
            request,
            principal,
            Signposting,
            signposting_id,
            body,
            self._about_person(principal),
            self._dated(body, decide),
        )

    @route(
        "POST",
        "/signposting/<string:signposting_id>/outcome",
        roles=WRITERS,
        body=RecordSignpostingOutcomeBody,
        response=SignpostingOut,
        summary="Record whether a person took up where they were signposted",
    )
    def signposting_outcome(self, request, principal, signposting_id, body):
        def decide(cur, signposting, on):
            return signposting.record_outcome(outcome=body["outcome"], by=principal.user_id, on=on)

        return self._signposting_command(request, principal, signposting_id, body, decide)

    @route(
        "POST",
        "/signposting/<string:signposting_id>/outcome/correct",
        roles=WRITERS,
        body=CorrectSignpostingOutcomeBody,
        response=SignpostingOut,
        summary="Correct a signposting outcome, saying why",
    )
    def correct_signposting_outcome(self, request, principal, signposting_id, body):
        def decide(cur, signposting, on):
            return signposting.correct_outcome(
                outcome=body["outcome"], reason=body["reason"], by=principal.user_id, on=on
            )

        return self._signposting_command(request, principal, signposting_id, body, decide)

    @route(
        "POST",
        "/signposting/<string:signposting_id>/void",
        roles=WRITERS,
        body=VoidSignpostingBody,
        response=SignpostingOut,
        summary="Void a signposting recorded in error, saying why: it leaves lists and reports",
    )
    def void_signposting(self, request, principal, signposting_id, body):
        def decide(cur, signposting, on):
            return signposting.void(reason=body["reason"], by=principal.user_id, on=on)

        return self._signposting_command(request, principal, signposting_id, body, decide)

    # -- outcome measures ----------------------------------------------------------------------

    def _person_path(self, cur, principal, person_id: str, for_change: bool = False) -> str:
        """The person a path names; one this node never registered is 404, and one erased may
        be read (their anonymous history stays) but gets nothing new."""
        try:
            person = str(uuid.UUID(person_id))
        except ValueError:
            raise NotFound("no such person") from None
        standing = self.vault.standing(cur, person)
        if standing is None:
            raise NotFound("no such person")
        access.require_person(cur, principal, person)
        if for_change and standing == "erased":
            raise BadRequest("person_id", "this person's record was erased")
        return person

    @route(
        "POST",
        "/people/<string:person_id>/measures",
        roles=WRITERS,
        body=RecordMeasureBody,
        status=201,
        response=PersonMeasuresOut,
        summary="Record an outcome measure a person completed (e.g. SWEMWBS)",
    )
    def record_measure(self, request, principal, person_id, body):
        self._not_in_future(body["taken_on"], "taken_on")
        with self.store.db.transaction() as cur:
            person = self._person_path(cur, principal, person_id, for_change=True)
            dates = self._referral_dates(cur, body.get("referral_id"))
        domain.measure_within_the_referral(body["taken_on"], dates.get("referral_received_on"))
        series = PersonMeasures.fold(
            person, self.store.read_stream(PersonMeasures.stream_type, person)
        )
        self._check_version(request, body, series)
        events = series.record(
            measure=body["measure"],
            timepoint=body["timepoint"],
            answers=body["answers"],
            taken_on=body["taken_on"],
            today=today(),
            referral_id=body.get("referral_id"),
            by=principal.user_id,
            earliest=EARLIEST_DATE,
        )
        self._append(request, principal, series, events)
        return json_response(201, _measures_body(series), headers={"ETag": f'"{series.version}"'})

    @route(
        "POST",
        "/people/<string:person_id>/measures/<string:number>/void",
        roles=WRITERS,
        body=VoidBody,
        response=PersonMeasuresOut,
        summary="Void an outcome measure recorded in error, saying why: it leaves the series",
    )
    def void_measure(self, request, principal, person_id, number, body):
        with self.store.db.transaction() as cur:
            person = self._person_path(cur, principal, person_id)
        series = PersonMeasures.fold(
            person, self.store.read_stream(PersonMeasures.stream_type, person)
        )
        if not number.isdigit() or not series.is_standing(int(number)):
            raise NotFound("no such measure")
        self._check_version(request, body, series)
        events = series.void(number=int(number), reason=body["reason"], by=principal.user_id)
        self._append(request, principal, series, events)
        return json_response(200, _measures_body(series), headers={"ETag": f'"{series.version}"'})

    @route(
        "GET",
        "/people/<string:person_id>/measures",
        roles=READERS,
        response=PersonMeasuresOut,
        summary="A person's outcome measures, and first-to-latest change against the threshold",
    )
    def read_measures(self, request, principal, person_id):
        with self.store.db.transaction() as cur:
            person = self._person_path(cur, principal, person_id)
        series = PersonMeasures.fold(
            person, self.store.read_stream(PersonMeasures.stream_type, person)
        )
        self._audit_read(request, principal, "person_measures", person, person, ["measures"])
        return json_response(200, _measures_body(series), headers={"ETag": f'"{series.version}"'})

    # -- timeline ------------------------------------------------------------------------------

    @route(
        "GET",
        "/people/<string:person_id>/timeline",
        roles=READERS,
        query=TimelineQuery,
        response=Timeline,
        summary="A person's timeline: sessions, attendance, groups, plans, measures, signposting",
    )
    def timeline(self, request, principal, person_id, query):
        with self.store.db.transaction() as cur:
            person = self._person_path(cur, principal, person_id)
            where, params = ["person_id = %s", "NOT is_voided"], [person]
            _window(query, "happened_at", where, params)
            page = _page(
                cur,
                f"SELECT happened_at, stream_type, stream_id, event_type, detail, position"
                f" FROM {SCHEMA}.timeline",
                where,
                params,
                "happened_at DESC, position DESC",
                query,
            )
        for item in page["items"]:
            item["what"] = item.pop("stream_type")
            item["id"] = item.pop("stream_id")
        self._audit_read(request, principal, "person", person, person, ["timeline"])
        return {"person_id": person, **page}

    @route(
        "GET",
        "/measures/due",
        roles=READERS,
        query=MeasuresDueQuery,
        response=MeasuresDue,
        summary="A worker's open caseload with each person's last measure and whether it is due",
    )
    def measures_due(self, request, principal, query):
        worker = query.get("worker_id") or principal.user_id
        if principal.role == "peer_worker" and worker != principal.user_id:
            raise Forbidden("a peer worker reads the measures due on their own caseload")
        since = today() - timedelta(days=query["every_days"])
        with self.store.db.transaction() as cur:
            cur.execute(
                f"SELECT r.person_id::text, r.referral_id, max(t.happened_at)::date"
                f" FROM {SCHEMA}.referral_status r"
                f" LEFT JOIN {SCHEMA}.timeline t ON t.person_id = r.person_id"
                f" AND t.event_type = 'MeasureRecorded' AND NOT t.is_voided"
                f" AND t.detail->>'measure' = %s"
                f" WHERE r.worker_id = %s AND r.status = ANY(%s)"
                f" GROUP BY r.person_id, r.referral_id ORDER BY 3 NULLS FIRST, 1",
                (query["measure"], worker, list(access.OPEN_REFERRAL_STATES)),
            )
            found = cur.fetchall()
        items = [
            {
                "person_id": person,
                "referral_id": referral,
                "last_taken_on": last,
                "is_due": last is None or last < since,
            }
            for person, referral, last in found
        ]
        self._audit_search(request, principal, "person_measures", query, len(items))
        return {
            "worker_id": worker,
            "measure": query["measure"],
            "every_days": query["every_days"],
            "items": items,
        }


def _timeline_of(referral: dict) -> dict:
    """The dates of a referral (as the sessions service knows it) a session is dated within."""
    return {
        "referral_received_on": referral["received_on"],
        "referral_first_contact_on": referral["first_contact_on"],
        "referral_ended_on": referral["ended_on"],
    }


def _text_ids(content) -> set[str]:
    """Every sealed-text id a plan's content refers to (`*_text_id` and a step's `text_id`)."""
    found: set[str] = set()
    if isinstance(content, dict):
        for key, value in content.items():
            if key.endswith("text_id") and value:
                found.add(str(value))
            else:
                found |= _text_ids(value)
    elif isinstance(content, list):
        for value in content:
            found |= _text_ids(value)
    return found


def _measures_body(series: PersonMeasures) -> dict:
    body = series.as_dict()
    changes = {}
    for code in sorted({t.measure for t in series.taken}):
        change = series.change(code)
        if change is not None:
            changes[code] = {
                "first": {"taken_on": change.first.taken_on, "score": float(change.first.metric)},
                "latest": {
                    "taken_on": change.latest.taken_on,
                    "score": float(change.latest.metric),
                },
                "change": float(change.change),
                "threshold": float(change.threshold),
                "outcome": change.outcome,
                "is_meaningful": change.is_meaningful,
                "threshold_source": measures.measure(code).meaningful_change_source,
            }
    body["changes"] = changes
    body["measures_known"] = sorted(measures.MEASURES)
    return body


__all__ = ["SessionsService", "domain"]
