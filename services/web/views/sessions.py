"""Sessions in the browser: one form to record a one-to-one, a group's session (its register
pre-filled with the members), a drop-in or carer support with its notes, in under a minute;
booking one; recording a booked one as held; and a session's page with its attendance and
notes, where it is cancelled, voided, and its attendance and notes corrected."""

from __future__ import annotations

import uuid

from contracts.sessions import codes as session_codes
from services.web import pages
from services.web.api import Refused, segment
from services.web.app import CASEWORK, Page, changed_once, made_once, signed_in
from services.web.forms import Form
from services.web.views import session_words as say
from services.web.views.caseload import names_of, quoted
from services.web.views.session_form import (
    ANONYMOUS_MOST,
    BOOK,
    KINDS,
    NEW,
    RECORD,
    Entry,
    defaults,
    form_choices,
    has_notes,
    notes_of,
    posted,
    posted_group,
    read_entry,
    register_shown,
)
from shared.web import route

pages.TEMPLATES.filters["code_words"] = say.in_words

NOTES_NAMES = {
    "text": "notes",
    "about_person_id": "about",
    "themes": "themes",
    "actions": "actions",
}


class SessionPages:
    """The session pages of the web service."""

    @route(
        "GET",
        "/sessions/new",
        public=True,
        media="text/html",
        summary="Record a session that took place (or, with book=1, book one)",
    )
    @signed_in(*CASEWORK)
    def session_new(self, page: Page):
        mode = BOOK if page.args.get("book") else NEW
        group_id = page.args.get("group_id") or None
        choices = form_choices(page, group_id)
        values = defaults(mode)
        if choices["group"]:
            values["kind"] = session_codes.GROUP
            # everyone expected is marked as come; the worker changes those who did not
            for person_id, _ in choices["register"]:
                values[f"attendance-{person_id}"] = "attended"
        elif page.args.get("kind") in KINDS:
            values["kind"] = page.args["kind"]
        return _form(page, mode, choices, values)

    @route(
        "POST",
        "/sessions/new",
        public=True,
        media="text/html",
        status=303,
        summary="Record the session (or book it), then its notes; back to My day",
    )
    @signed_in(*CASEWORK)
    @made_once
    def session_new_post(self, page: Page):
        mode = BOOK if page.form.get("book") else NEW
        kind = page.form.get("kind")
        group_id = posted_group(page.form, kind)
        choices = form_choices(page, group_id)
        values = posted(page.form)
        if (
            mode == NEW
            and kind == session_codes.GROUP
            and choices["group"]
            and not register_shown(page.form, group_id)
        ):
            # the register is shown once the group is known; nothing is recorded until then
            for person_id, _ in choices["register"]:
                values[f"attendance-{person_id}"] = "attended"
            prompt = "Mark who came to the group, then save the session."
            return _form(page, mode, choices, values, prompt=prompt)
        entry = read_entry(page, mode, choices, kind=kind)
        if not entry.form.ok():
            return _form(page, mode, choices, values, status=422)
        try:
            if mode == BOOK:
                booked = page.api.post("sessions", "/sessions", entry.booking(page.user_id))
                return page.redirect(f"/sessions/{segment(booked['session_id'])}", "session-booked")
            recorded = page.api.post("sessions", "/sessions/held", entry.held(page.user_id))
        except Refused as refusal:
            page.refused(refusal, names=entry.names())
            return _form(page, mode, choices, values, status=422)
        return _after_recording(page, recorded, entry)

    @route(
        "GET",
        "/sessions/<string:session_id>/record",
        public=True,
        media="text/html",
        summary="Record a booked session as held, with who came and its notes",
    )
    @signed_in(*CASEWORK)
    def session_record(self, page: Page, session_id: str):
        session, version = page.api.get_with_version("sessions", f"/sessions/{segment(session_id)}")
        if session["status"] != session_codes.BOOKED:
            return page.redirect(f"/sessions/{segment(session_id)}")
        choices = form_choices(page, session.get("group_id"), session=session)
        values = defaults(RECORD, session)
        values["version"] = quoted(version)
        for person_id, _ in choices["register"]:
            values[f"attendance-{person_id}"] = "attended"
        return _form(page, RECORD, choices, values, session=session)

    @route(
        "POST",
        "/sessions/<string:session_id>/record",
        public=True,
        media="text/html",
        status=303,
        summary="Record the booked session as held, then its notes; back to My day",
    )
    @signed_in(*CASEWORK)
    @made_once
    def session_record_post(self, page: Page, session_id: str):
        session = page.api.get("sessions", f"/sessions/{segment(session_id)}")
        choices = form_choices(page, session.get("group_id"), session=session)
        values = posted(page.form)
        entry = read_entry(page, RECORD, choices, session=session)
        if not entry.form.ok():
            return _form(page, RECORD, choices, values, session=session, status=422)
        try:
            recorded = page.api.post(
                "sessions",
                f"/sessions/{segment(session_id)}/record",
                entry.held_as_booked(),
                version=quoted(page.form.get("version")),
            )
        except Refused as refusal:
            page.refused(refusal, names=entry.names())
            return _form(page, RECORD, choices, values, session=session, status=422)
        return _after_recording(page, recorded, entry)

    @route(
        "GET",
        "/sessions/<string:session_id>",
        public=True,
        media="text/html",
        summary="A session: when, who came, its notes and their history",
    )
    @signed_in(*CASEWORK, "partner_admin")
    def session_page(self, page: Page, session_id: str):
        return _session_page(page, session_id)

    @route(
        "POST",
        "/sessions/<string:session_id>/cancel",
        public=True,
        media="text/html",
        status=303,
        summary="Cancel a booked session",
    )
    @signed_in(*CASEWORK, "partner_admin")
    @changed_once
    def session_cancel(self, page: Page, session_id: str):
        form = Form(page.form, page.errors)
        body = {
            "cancelled_by": form.choice(
                "cancel-by", "who called it off", session_codes.CANCELLED_BY
            ),
            "reason": form.choice("cancel-reason", "why", session_codes.CANCELLATION_REASONS),
        }
        names = {"cancelled_by": "cancel-by", "reason": "cancel-reason"}
        return _change(page, session_id, form, "cancel", body, names, "session-updated")

    @route(
        "POST",
        "/sessions/<string:session_id>/void",
        public=True,
        media="text/html",
        status=303,
        summary="Void a session recorded in error, saying why",
    )
    @signed_in(*CASEWORK, "partner_admin")
    @changed_once
    def session_void(self, page: Page, session_id: str):
        form = Form(page.form, page.errors)
        body = {
            "reason": form.choice("void-reason", "why it is voided", session_codes.VOID_REASONS)
        }
        return _change(page, session_id, form, "void", body, {"reason": "void-reason"})

    @route(
        "POST",
        "/sessions/<string:session_id>/attendance",
        public=True,
        media="text/html",
        status=303,
        summary="Correct a person's attendance at a session, saying why",
    )
    @signed_in(*CASEWORK, "partner_admin")
    @changed_once
    def session_attendance(self, page: Page, session_id: str):
        form = Form(page.form, page.errors)
        body = {
            "person_id": form.text("correct-person", "whose attendance to correct", True),
            "status": form.choice("correct-status", "their attendance", session_codes.ATTENDANCE),
            "reason": form.choice("correct-reason", "why", session_codes.CORRECTION_REASONS),
        }
        names = {"person_id": "correct-person", "status": "correct-status"}
        names["reason"] = "correct-reason"
        return _change(page, session_id, form, "attendance/correct", body, names)

    @route(
        "POST",
        "/sessions/<string:session_id>/anonymous",
        public=True,
        media="text/html",
        status=303,
        summary="Count, or correct the count of, the people at a drop-in who gave no name",
    )
    @signed_in(*CASEWORK, "partner_admin")
    @changed_once
    def session_anonymous(self, page: Page, session_id: str):
        form = Form(page.form, page.errors)
        body = {"count": form.number("count", "how many came", 0, ANONYMOUS_MOST)}
        path = "anonymous-attendees"
        if page.form.get("counted"):
            body["reason"] = form.choice("count-reason", "why", session_codes.CORRECTION_REASONS)
            path += "/correct"
        names = {"count": "count", "reason": "count-reason"}
        return _change(page, session_id, form, path, body, names)

    @route(
        "POST",
        "/sessions/<string:session_id>/notes",
        public=True,
        media="text/html",
        status=303,
        summary="Write a session's notes, or correct them saying why",
    )
    @signed_in(*CASEWORK, "partner_admin")
    @changed_once
    def session_notes(self, page: Page, session_id: str):
        form = Form(page.form, page.errors)
        body = notes_of(form)
        path = "notes"
        if page.form.get("written"):
            body["reason"] = form.choice("notes-reason", "why", session_codes.CORRECTION_REASONS)
            path = "notes/correct"
        names = {**NOTES_NAMES, "reason": "notes-reason"}
        return _change(page, session_id, form, path, body, names, "notes-saved")


def _after_recording(page: Page, recorded: dict, entry: Entry):
    """The notes written straight after the session; back to My day, or to the session when
    it may be a second record of one already there or its notes were refused."""
    session_id = recorded["session_id"]
    here = f"/sessions/{segment(session_id)}"
    if has_notes(entry.notes):
        try:
            page.api.post(
                "sessions", f"{here}/notes", entry.notes, version=quoted(recorded["version"])
            )
        except Refused as refusal:
            page.made_at(here)
            page.refused(refusal, names=NOTES_NAMES)
            note = "The session has been recorded, but its notes were not saved. Check them below."
            values = {
                "themes": entry.notes.get("themes", []),
                "actions": entry.notes.get("actions", []),
                "notes": entry.notes.get("text", ""),
                "about": entry.notes.get("about_person_id", ""),
            }
            return _session_page(page, session_id, status=422, notice=note, values=values)
    warnings = recorded.get("warnings") or []
    others = [other for w in warnings for other in w.get("session_ids", [])]
    if others:
        return page.redirect(f"{here}?check={segment(others[0])}", "session-recorded")
    return page.redirect("/", "session-recorded")


def _form(
    page: Page,
    mode: str,
    choices: dict,
    values: dict,
    session: dict | None = None,
    status: int = 200,
    prompt: str | None = None,
):
    titles = {
        NEW: "Record a session",
        BOOK: "Book a session",
        RECORD: "Record a booked session as held",
    }
    action = f"/sessions/{segment(session['session_id'])}/record" if session else "/sessions/new"
    return page.render(
        "sessions/form.html",
        status=status,
        title=titles[mode],
        mode=mode,
        action=action,
        choices=choices,
        values=values,
        booked=session,
        prompt=prompt,
        kinds=say.options(KINDS, "session_kind"),
        modes=say.options(session_codes.MODES, "mode"),
        locations=say.options(session_codes.LOCATIONS, "location"),
        attendance=say.options(session_codes.ATTENDANCE, "attendance"),
        themes=say.options(session_codes.NOTE_THEMES),
        actions=say.options(session_codes.SESSION_ACTIONS),
        back={"href": "/", "text": "Back to My day"},
    )


# -- a session's page ------------------------------------------------------------------------


def _change(page, session_id, form, path, body, names, done="session-updated"):
    """One of the session page's forms sent to the sessions API with the version the page
    showed; the page again with its errors when the form or the service refuses."""
    here = f"/sessions/{segment(session_id)}"
    values = posted(page.form)
    if not form.ok():
        return _session_page(page, session_id, status=422, values=values)
    try:
        page.api.post(
            "sessions",
            f"{here}/{path}",
            {k: v for k, v in body.items() if v is not None},
            version=quoted(page.form.get("version")),
        )
    except Refused as refusal:
        page.refused(refusal, names=names)
        return _session_page(page, session_id, status=422, values=values)
    return page.redirect(here, done)


def _session_page(page: Page, session_id: str, status=200, notice=None, values=None):
    here = f"/sessions/{segment(session_id)}"
    session, version = page.api.get_with_version("sessions", here)
    group = None
    if session.get("group_id"):
        try:
            group = page.api.get("sessions", f"/groups/{segment(session['group_id'])}")
        except Refused:
            group = None
    people = [a["person_id"] for a in session["attendance"]]
    if session.get("person_id") and session["person_id"] not in people:
        people.insert(0, session["person_id"])
    names = names_of(page, people, _register_names(page, session))
    notes, history = None, []
    if session.get("notes"):
        notes = page.api.get("sessions", f"{here}/notes")["notes"]
        history = page.api.get("sessions", f"{here}/notes/history")["history"]
    if values is None:
        values = {
            "themes": (notes or {}).get("themes", []),
            "actions": (notes or {}).get("actions", []),
            "notes": (notes or {}).get("text") if (notes or {}).get("text") != "erased" else "",
        }
    values["version"] = quoted(version)
    extra = {"notice": notice} if notice else {}
    return page.render(
        "sessions/session.html",
        status=status,
        **extra,
        title=_title(session, group, names),
        s=session,
        group=group,
        names=names,
        attendees=[(a["person_id"], names.get(a["person_id"])) for a in session["attendance"]],
        notes=notes,
        history=history,
        values=values,
        check=_session_id_or_none(page.args.get("check")),
        attendance=say.options(session_codes.ATTENDANCE, "attendance"),
        cancelled_by=say.options(session_codes.CANCELLED_BY, "cancelled_by"),
        cancel_reasons=say.options(session_codes.CANCELLATION_REASONS),
        correction_reasons=say.options(session_codes.CORRECTION_REASONS, "correction_reason"),
        void_reasons=say.options(session_codes.VOID_REASONS, "void_reason"),
        themes=say.options(session_codes.NOTE_THEMES),
        actions=say.options(session_codes.SESSION_ACTIONS),
        starts_at=session.get("actual_start_at") or session.get("planned_start_at"),
        minutes=session.get("duration_minutes") or session.get("planned_duration_minutes"),
        back={"href": "/", "text": "Back to My day"},
    )


def _register_names(page: Page, session: dict) -> dict[str, str]:
    """The names of a group session's people from the group's register (for its facilitators
    and those who see the partner); none when the worker may not read it."""
    if not session.get("group_id"):
        return {}
    try:
        register = page.api.get(
            "sessions", f"/groups/{segment(session['group_id'])}/register", names="true"
        )
    except Refused:
        return {}
    return {
        row["person_id"]: row["full_name"] for row in register["people"] if row.get("full_name")
    }


def _title(session: dict, group: dict | None, names: dict[str, str]) -> str:
    kind = say.in_words(session["kind"], "session_kind")
    if group:
        return f"{kind}: {group['name']}"
    if session.get("person_id"):
        return f"{kind} with {names[session['person_id']]}"
    return kind


def _session_id_or_none(value: str | None) -> str | None:
    """A session id given in an address, only when it is one (never a path of its own)."""
    try:
        return str(uuid.UUID(value or ""))
    except ValueError:
        return None
