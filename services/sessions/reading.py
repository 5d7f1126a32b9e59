"""Reading sessions over HTTP: lists, one session with its attendance history, its notes with
the sealed words opened, its history as events, and a worker's diary. Every read of a person's
record is audited."""

from __future__ import annotations

from datetime import timedelta

from services.sessions import access, queries
from services.sessions.api import DiaryQuery, SessionListQuery
from services.sessions.api_answers import (
    Diary,
    SessionHistory,
    SessionNotesHistory,
    SessionNotesRead,
    SessionPage,
    SessionRead,
)
from services.sessions.domain import Session
from services.sessions.routes import READERS, SessionsRoutes, today
from shared.auth import Forbidden
from shared.commands import respond
from shared.service import history_of
from shared.vault import ERASED
from shared.web import route

DIARY_DAYS = 7
NOTES_EVENTS = ("SessionNotesWritten", "SessionNotesCorrected")
MISSING = "no such session"


class SessionReading(SessionsRoutes):
    """Mixed into the sessions service."""

    def _seen_session(self, principal, session_id: str):
        """The session and its history, if the caller may see it."""
        return self.commands.load(
            Session,
            session_id,
            missing=MISSING,
            visible=self._checked(
                lambda cur, session: access.require_session(cur, principal, session)
            ),
        )

    @route(
        "GET",
        "/sessions",
        roles=READERS,
        query=SessionListQuery,
        response=SessionPage,
        summary="List sessions",
    )
    def list_sessions(self, request, principal, query):
        run_by = principal.user_id if principal.role == "peer_worker" else None
        with self.store.db.transaction() as cur:
            if "person_id" in query:
                access.require_person(cur, principal, query["person_id"])
            page = queries.sessions_page(cur, query, run_by)
        self._audit_search(request, principal, "session", query, len(page["items"]))
        return page

    @route(
        "GET",
        "/sessions/<string:session_id>",
        roles=READERS,
        response=SessionRead,
        summary="Read a session",
    )
    def read_session(self, request, principal, session_id):
        session, _ = self._seen_session(principal, session_id)
        self.commands.audit_read(
            request, principal, session, session.person_id, ["session", "attendance"]
        )
        return respond(
            session, {**session.as_dict(), "attendance_history": session.attendance_history}
        )

    @route(
        "GET",
        "/sessions/<string:session_id>/notes",
        roles=READERS,
        response=SessionNotesRead,
        summary="Read a session's notes, the sealed words opened",
    )
    def read_notes(self, request, principal, session_id):
        session, _ = self._seen_session(principal, session_id)
        notes = dict(session.notes or {})
        text_id = notes.get("notes_text_id")
        with self.store.db.transaction() as cur:
            text = self.vault.open_text(cur, text_id) if text_id else None
        self.commands.audit_read(request, principal, session, session.person_id, ["notes", "text"])
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
        session, events = self._seen_session(principal, session_id)
        versions = [e for e in events if e.event_type in NOTES_EVENTS]
        self.commands.audit_read(request, principal, session, session.person_id, ["notes", "text"])
        history = []
        with self.store.db.transaction() as cur:
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
        session, events = self._seen_session(principal, session_id)
        self.commands.audit_read(request, principal, session, session.person_id, ["history"])
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
        with self.store.db.transaction() as cur:
            page = queries.diary_page(cur, worker, start, end, query)
        return {"worker_id": worker, "from": start, "to": end, **page}
