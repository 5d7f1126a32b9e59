"""Sessions in the browser: one form to record a one-to-one, a group's session (its register
pre-filled with the members), a drop-in or carer support with its notes, in under a minute;
booking one; recording a booked one as held; and a session's page with its attendance and
notes, where it is cancelled, voided, and its attendance and notes corrected."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from contracts.sessions import codes as session_codes
from services.web import pages
from services.web.api import Refused, segment
from services.web.app import CASEWORK, LONDON, Page, signed_in
from services.web.forms import Form, at, date_parts, posted_date_parts
from services.web.views import session_words as say
from services.web.views.caseload import (
    SUPPORTED,
    caseload,
    my_groups,
    names_of,
    people_of,
    quoted,
)
from shared.web import route

pages.TEMPLATES.filters["code_words"] = say.in_words

NEW, BOOK, RECORD = "new", "book", "record"
REFERRAL_KINDS = (session_codes.ONE_TO_ONE, session_codes.CARER)
KINDS = (session_codes.ONE_TO_ONE, session_codes.GROUP, session_codes.DROP_IN, session_codes.CARER)
ANONYMOUS_MOST = 10_000
DEFAULT_MINUTES = 60
# a refused field of the sessions API, shown at the form's field of that name
TIMING = {
    "actual_start_at": "on",
    "planned_start_at": "on",
    "duration_minutes": "minutes",
    "planned_duration_minutes": "minutes",
    "anonymous_attendees": "anonymous",
    "worker_ids": "kind",
}
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
        choices = _choices(page, group_id)
        values = _defaults(mode)
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
    def session_new_post(self, page: Page):
        mode = BOOK if page.form.get("book") else NEW
        kind = page.form.get("kind")
        group_id = _posted_group(page.form, kind)
        choices = _choices(page, group_id)
        values = _posted(page.form)
        if (
            mode == NEW
            and kind == session_codes.GROUP
            and choices["group"]
            and not _register_shown(page.form, group_id)
        ):
            # the register is shown once the group is known; nothing is recorded until then
            for person_id, _ in choices["register"]:
                values[f"attendance-{person_id}"] = "attended"
            prompt = "Mark who came to the group, then save the session."
            return _form(page, mode, choices, values, prompt=prompt)
        entry = _read(page, mode, choices, kind=kind)
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
        choices = _choices(page, session.get("group_id"), session=session)
        values = _defaults(RECORD, session)
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
    def session_record_post(self, page: Page, session_id: str):
        session = page.api.get("sessions", f"/sessions/{segment(session_id)}")
        choices = _choices(page, session.get("group_id"), session=session)
        values = _posted(page.form)
        entry = _read(page, RECORD, choices, session=session)
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
    def session_notes(self, page: Page, session_id: str):
        form = Form(page.form, page.errors)
        body = _notes_of(form)
        path = "notes"
        if page.form.get("written"):
            body["reason"] = form.choice("notes-reason", "why", session_codes.CORRECTION_REASONS)
            path = "notes/correct"
        names = {**NOTES_NAMES, "reason": "notes-reason"}
        return _change(page, session_id, form, path, body, names, "notes-saved")


# -- the recording form ----------------------------------------------------------------------


class Entry:
    """What the recording form said, as the sessions API's bodies."""

    def __init__(self, form: Form, kind: str | None, is_booked: bool = False):
        self.form = form
        self.kind = kind
        self.is_booked = is_booked
        self.referral: dict | None = None
        self.group_id: str | None = None
        self.attendance: list[dict] = []
        self.anonymous: int | None = None
        self.starts_at: str | None = None
        self.minutes: int | None = None
        self.mode: str | None = None
        self.location: str | None = None
        self.notes: dict = {}

    def _links(self) -> dict:
        body = {"kind": self.kind}
        if self.referral:
            body["referral_id"] = self.referral["referral_id"]
        if self.group_id:
            body["group_id"] = self.group_id
        return body

    def _where(self, worker: str) -> dict:
        return {"mode": self.mode, "location": self.location, "worker_ids": [worker]}

    def booking(self, worker: str) -> dict:
        return {
            **self._links(),
            **self._where(worker),
            "planned_start_at": self.starts_at,
            "planned_duration_minutes": self.minutes,
        }

    def _who_came(self) -> dict:
        body: dict = {"attendance": self.attendance}
        if self.anonymous is not None:
            body["anonymous_attendees"] = self.anonymous
        return body

    def held(self, worker: str) -> dict:
        return {
            **self._links(),
            **self._where(worker),
            **self._who_came(),
            "actual_start_at": self.starts_at,
            "duration_minutes": self.minutes,
        }

    def held_as_booked(self) -> dict:
        return {
            "mode": self.mode,
            "location": self.location,
            "actual_start_at": self.starts_at,
            "duration_minutes": self.minutes,
            **self._who_came(),
        }

    def names(self) -> dict[str, str]:
        names = dict(TIMING)
        if self.kind in REFERRAL_KINDS:
            names["referral_id"] = f"referral-{self.kind}"
            names["attendance"] = "seen" if self.is_booked else f"seen-{self.kind}"
        elif self.kind == session_codes.GROUP:
            names["group_id"] = "group"
            names["attendance"] = "register"
        else:
            names["group_id"] = "dropin-group"
            names["attendance"] = "attendees"
        return names


def _defaults(mode: str, session: dict | None = None) -> dict:
    """The form as it first shows: the session just held (or, booking, tomorrow at 10am)."""
    now = datetime.now(LONDON)
    if session is not None:
        starts = datetime.fromisoformat(session["planned_start_at"]).astimezone(LONDON)
        minutes = session.get("planned_duration_minutes") or DEFAULT_MINUTES
        mode_code, location = session["mode"], session["location"]
    else:
        if mode == BOOK:
            starts = (now + timedelta(days=1)).replace(hour=10, minute=0)
        else:
            starts = now - timedelta(minutes=DEFAULT_MINUTES)
            starts = starts.replace(minute=starts.minute - starts.minute % 15)
        minutes = DEFAULT_MINUTES
        mode_code, location = "face_to_face_base", "peer_support_base"
    values = {
        "on": date_parts(starts.date()),
        "at": starts.strftime("%H:%M"),
        "minutes": minutes,
        "mode": mode_code,
        "location": location,
        "kind": None,
    }
    for kind in REFERRAL_KINDS:
        values[f"seen-{kind}"] = "attended"
    values["seen"] = "attended"
    return values


def _posted(data) -> dict:
    values = {name: data.get(name) for name in data}
    for name in ("themes", "actions", "attendees"):
        values[name] = data.getlist(name)
    values["on"] = posted_date_parts(data, "on")
    return values


def _posted_group(data, kind: str | None) -> str | None:
    if kind == session_codes.GROUP:
        return data.get("group") or None
    return None


def _register_shown(data, group_id: str | None) -> bool:
    return bool(group_id) and data.get("register") == group_id


def _groups_for(page: Page) -> list[dict]:
    """The open groups the worker may record a session of: their own for a peer worker."""
    if page.is_role("peer_worker"):
        return my_groups(page)
    return page.api.get("sessions", "/groups", status="open", limit=200)["items"]


def _choices(page: Page, group_id: str | None, session: dict | None = None) -> dict:
    """What the form offers: the worker's people in active support, their groups, and a
    chosen group's register (its members, by name)."""
    referrals = caseload(page, SUPPORTED)
    groups = _groups_for(page)
    choices = {
        "referrals": referrals,
        session_codes.ONE_TO_ONE: [r for r in referrals if not r.get("is_carer_referral")],
        session_codes.CARER: [r for r in referrals if r.get("is_carer_referral")],
        "groups": groups,
        "dropin_groups": [g for g in groups if g["kind"] == "drop_in"],
        "people": people_of(referrals),
        "group": None,
        "register": [],
        "person": None,
    }
    if group_id:
        choices["group"] = page.api.get("sessions", f"/groups/{segment(group_id)}")
        register = page.api.get("sessions", f"/groups/{segment(group_id)}/register", names="true")
        names = {row["person_id"]: row.get("full_name") for row in register["people"]}
        choices["register"] = [
            (person, names.get(person) or "Name not known")
            for person in choices["group"]["members"]
        ]
    choices["options"] = {
        kind: [(r["referral_id"], r.get("full_name") or "Name not known") for r in choices[kind]]
        for kind in REFERRAL_KINDS
    }
    choices["options"][session_codes.DROP_IN] = [
        (g["group_id"], g["name"]) for g in choices["dropin_groups"]
    ]
    choices["about"] = list(dict(choices["register"] + choices["people"]).items())
    if session is not None and session.get("person_id"):
        known = {str(r["person_id"]): r.get("full_name") for r in referrals if r.get("full_name")}
        person = str(session["person_id"])
        choices["person"] = (person, names_of(page, [person], known)[person])
    return choices


def _read(
    page: Page, mode: str, choices: dict, kind: str | None = None, session: dict | None = None
) -> Entry:
    """The posted form, checked for what a form can tell."""
    form = Form(page.form, page.errors)
    if session is not None:
        kind = session["kind"]
    else:
        kind = form.choice("kind", "what kind of session it was", KINDS)
    entry = Entry(form, kind, is_booked=session is not None)
    if session is None and kind in REFERRAL_KINDS:
        offered = {r["referral_id"]: r for r in choices[kind]}
        chosen = form.choice(f"referral-{kind}", "who the session was with", offered)
        entry.referral = offered.get(chosen)
    if session is None and kind == session_codes.GROUP:
        group = choices["group"]
        if group is None:
            form.errors.setdefault("group", "Choose the group")
        else:
            entry.group_id = group["group_id"]
    if session is None and kind == session_codes.DROP_IN:
        offered = [g["group_id"] for g in choices["dropin_groups"]]
        entry.group_id = form.choice("dropin-group", "the drop-in", offered, required=False)
    if mode != BOOK:
        _read_who_came(form, entry, choices, session)
    day = form.date("on", "the date")
    when = form.time("at", "the start time")
    if day and when:
        entry.starts_at = at(day, when)
    label = "how long it is booked for, in minutes" if mode == BOOK else "how long it lasted"
    entry.minutes = form.number("minutes", label, 1, session_codes.MAX_SESSION_MINUTES)
    entry.mode = form.choice("mode", "how it happened", session_codes.MODES)
    entry.location = form.choice("location", "where it happened", session_codes.LOCATIONS)
    if mode != BOOK:
        entry.notes = _notes_of(
            form, about_needed=kind in (session_codes.GROUP, session_codes.DROP_IN)
        )
    return entry


def _read_who_came(form: Form, entry: Entry, choices: dict, session: dict | None) -> None:
    kind = entry.kind
    if kind in REFERRAL_KINDS:
        field = "seen" if session is not None else f"seen-{kind}"
        status = form.choice(field, "whether they came", session_codes.ATTENDANCE)
        person = (
            session["person_id"] if session is not None else (entry.referral or {}).get("person_id")
        )
        if status and person:
            entry.attendance = [{"person_id": str(person), "status": status}]
    elif kind == session_codes.GROUP:
        for person_id, name in choices["register"]:
            status = form.choice(
                f"attendance-{person_id}", f"{name}'s attendance", session_codes.ATTENDANCE, False
            )
            if status:
                entry.attendance.append({"person_id": person_id, "status": status})
    elif kind == session_codes.DROP_IN:
        entry.anonymous = form.number(
            "anonymous", "how many came without giving a name", 0, ANONYMOUS_MOST, False
        )
        people = [p for p, _ in choices["people"]]
        for person_id in form.choices("attendees", "who came", people):
            entry.attendance.append({"person_id": person_id, "status": "attended"})


def _notes_of(form: Form, about_needed: bool | None = None) -> dict:
    """The notes' themes, actions and words; the words about one person (at a group or
    drop-in: the person chosen)."""
    notes = {
        "themes": form.choices("themes", "themes", session_codes.NOTE_THEMES),
        "actions": form.choices("actions", "actions", session_codes.SESSION_ACTIONS),
    }
    text = form.text("notes", "the notes", max_length=20_000)
    about = (form.data.get("about") or "").strip() or None
    if about_needed is None:
        about_needed = bool(form.data.get("about-needed"))
    if text:
        notes["text"] = text
        if about_needed and not about:
            form.errors.setdefault("about", "Choose who the words are about")
        elif about_needed:
            notes["about_person_id"] = about
    return notes


def _has_notes(notes: dict) -> bool:
    return bool(notes.get("themes") or notes.get("actions") or notes.get("text"))


def _after_recording(page: Page, recorded: dict, entry: Entry):
    """The notes written straight after the session; back to My day, or to the session when
    it may be a second record of one already there or its notes were refused."""
    session_id = recorded["session_id"]
    here = f"/sessions/{segment(session_id)}"
    if _has_notes(entry.notes):
        try:
            page.api.post(
                "sessions", f"{here}/notes", entry.notes, version=quoted(recorded["version"])
            )
        except Refused as refusal:
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
    values = _posted(page.form)
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
