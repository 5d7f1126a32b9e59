"""The form that records a session (a one-to-one, a group's session with its register, a
drop-in or carer support, with its notes), books one, or records a booked one as held: what it
offers the worker, how it first shows, and what a posted one says, checked for what a form can
tell, as the sessions API's bodies."""

from __future__ import annotations

from datetime import datetime, timedelta

from contracts.sessions import codes as session_codes
from services.web.api import segment
from services.web.app import LONDON, Page
from services.web.forms import Form, at, date_parts, posted_date_parts
from services.web.views.caseload import SUPPORTED, caseload, my_groups, names_of, people_of

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


def defaults(mode: str, session: dict | None = None) -> dict:
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


def posted(data) -> dict:
    values = {name: data.get(name) for name in data}
    for name in ("themes", "actions", "attendees"):
        values[name] = data.getlist(name)
    values["on"] = posted_date_parts(data, "on")
    return values


def posted_group(data, kind: str | None) -> str | None:
    if kind == session_codes.GROUP:
        return data.get("group") or None
    return None


def register_shown(data, group_id: str | None) -> bool:
    return bool(group_id) and data.get("register") == group_id


def _groups_for(page: Page) -> list[dict]:
    """The open groups the worker may record a session of: their own for a peer worker."""
    if page.is_role("peer_worker"):
        return my_groups(page)
    return page.api.get("sessions", "/groups", status="open", limit=200)["items"]


def form_choices(page: Page, group_id: str | None, session: dict | None = None) -> dict:
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


def read_entry(
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
        entry.notes = notes_of(
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


def notes_of(form: Form, about_needed: bool | None = None) -> dict:
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


def has_notes(notes: dict) -> bool:
    return bool(notes.get("themes") or notes.get("actions") or notes.get("text"))
