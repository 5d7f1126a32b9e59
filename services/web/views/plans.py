"""Plans in the browser: the signed-in worker's plans (overdue reviews first); drafting a recovery
and wellbeing, crisis and safety, or carer's crisis plan with the person's own words sealed in
the vault first; a plan's page, where it is revised (its full new content, against the version
shown), reviewed, its review interval changed and closed; and a print view to take home."""

from __future__ import annotations

import uuid

from contracts.sessions import codes as session_codes
from services.web.api import Refused, segment
from services.web.app import CASEWORK, Page, changed_once, made_once, signed_in
from services.web.forms import Form
from services.web.views import session_words as say
from services.web.views.caseload import caseload, names_of, people_of, quoted
from shared.web import route

ROLES = CASEWORK + ("partner_admin",)
CRISIS_KINDS = (session_codes.CRISIS_SAFETY, session_codes.CARER_CRISIS)
# rows a form offers beyond what the plan holds, for a new goal, step or contact
SPARE_GOALS, SPARE_STEPS, SPARE_CONTACTS = 1, 2, 2
MOST_GOALS, MOST_STEPS, MOST_CONTACTS = 12, 20, 20
MAX_TEXT = 20_000
# (content key, form prefix, the contact types it takes)
CONTACT_LISTS = {
    "people": ("person", session_codes.PERSON_CONTACTS),
    "services": ("service", session_codes.SERVICE_CONTACTS),
    "replacement_care": ("care", session_codes.PERSON_CONTACTS + session_codes.SERVICE_CONTACTS),
}
WORDED = {
    "warning_signs_text_id": "warning_signs_text",
    "what_helps_text_id": "what_helps_text",
    "cared_for_needs_text_id": "cared_for_needs_text",
}


class PlanPages:
    """The plan pages of the web service."""

    @route(
        "GET",
        "/plans",
        public=True,
        media="text/html",
        summary="The signed-in worker's plans, overdue reviews first",
    )
    @signed_in(*ROLES)
    def plans_list(self, page: Page):
        referrals = caseload(page)
        people = dict(people_of(referrals))
        found = page.api.get("sessions", "/plans", status="open", limit=200)["items"]
        mine = [plan for plan in found if str(plan["person_id"]) in people]
        mine.sort(
            key=lambda p: (not p["is_review_overdue"], p.get("review_due_on") or "", p["plan_id"])
        )
        for plan in mine:
            plan["full_name"] = people[str(plan["person_id"])]
        return page.render(
            "plans/list.html", title="Plans", plans=mine, people=list(people.items())
        )

    @route(
        "GET",
        "/plans/new",
        public=True,
        media="text/html",
        summary="Draft a plan for a person: choose its kind, then its content",
    )
    @signed_in(*ROLES)
    def plan_new(self, page: Page):
        person_id = page.args.get("person_id") or ""
        kind = page.args.get("kind")
        if not person_id:
            return page.redirect("/plans")
        name = names_of(page, [person_id])[person_id]
        if kind not in session_codes.PLAN_KINDS:
            return page.render(
                "plans/choose.html",
                title=f"Draft a plan for {name}",
                person_id=person_id,
                person_name=name,
                kinds=say.options(session_codes.PLAN_KINDS, "plan_kind"),
                back={"href": "/plans", "text": "Back to plans"},
            )
        values = {"review_interval_days": session_codes.DEFAULT_REVIEW_INTERVAL_DAYS}
        return _plan_form(page, person_id, name, kind, {}, {}, values)

    @route(
        "POST",
        "/plans/new",
        public=True,
        media="text/html",
        status=303,
        summary="Draft the plan, its words sealed first; then its page",
    )
    @signed_in(*ROLES)
    @made_once
    def plan_new_post(self, page: Page):
        person_id = page.form.get("person_id") or ""
        kind = page.form.get("kind")
        if kind not in session_codes.PLAN_KINDS or not person_id:
            return page.redirect("/plans")
        name = names_of(page, [person_id])[person_id]
        form = Form(page.form, page.errors)
        interval = form.number("review_interval_days", "how often it is reviewed, in days", 7, 366)
        content = PlanContent(kind, form, {})
        values = _posted(page.form)
        if not form.ok():
            return _plan_form(page, person_id, name, kind, {}, {}, values, status=422)
        try:
            body = {
                "person_id": person_id,
                "kind": kind,
                "content": content.sealed(page, person_id),
                "review_interval_days": interval,
            }
            plan = page.api.post("sessions", "/plans", body)
        except Refused as refusal:
            page.refused(refusal, names={"content": "content", "person_id": "content"})
            return _plan_form(page, person_id, name, kind, {}, {}, values, status=422)
        return page.redirect(f"/plans/{segment(plan['plan_id'])}", "plan-saved")

    @route(
        "GET",
        "/plans/<string:plan_id>",
        public=True,
        media="text/html",
        summary="A plan: its content in the person's words, its reviews, and what can be done",
    )
    @signed_in(*ROLES)
    def plan_page(self, page: Page, plan_id: str):
        return _plan_page(page, plan_id)

    @route(
        "GET",
        "/plans/<string:plan_id>/print",
        public=True,
        media="text/html",
        summary="A plan to print for the person to take home",
    )
    @signed_in(*ROLES)
    def plan_print(self, page: Page, plan_id: str):
        plan = page.api.get("sessions", f"/plans/{segment(plan_id)}")
        name = names_of(page, [plan["person_id"]])[str(plan["person_id"])]
        return page.render(
            "plans/print.html",
            title=f"{say.in_words(plan['kind'], 'plan_kind')} for {name}",
            plan=plan,
            person_name=name,
            texts=plan.get("texts") or {},
            back={"href": f"/plans/{segment(plan_id)}", "text": "Back to the plan"},
        )

    @route(
        "GET",
        "/plans/<string:plan_id>/revise",
        public=True,
        media="text/html",
        summary="Revise a plan: its full content as it should now read",
    )
    @signed_in(*ROLES)
    def plan_revise(self, page: Page, plan_id: str):
        plan, version = page.api.get_with_version("sessions", f"/plans/{segment(plan_id)}")
        name = names_of(page, [plan["person_id"]])[str(plan["person_id"])]
        values = {"version": quoted(version), **_values_of(plan)}
        return _plan_form(page, plan["person_id"], name, plan["kind"], plan, plan["texts"], values)

    @route(
        "POST",
        "/plans/<string:plan_id>/revise",
        public=True,
        media="text/html",
        status=303,
        summary="Save the revised plan against the version shown",
    )
    @signed_in(*ROLES)
    @changed_once
    def plan_revise_post(self, page: Page, plan_id: str):
        here = f"/plans/{segment(plan_id)}"
        plan = page.api.get("sessions", here)
        name = names_of(page, [plan["person_id"]])[str(plan["person_id"])]
        form = Form(page.form, page.errors)
        reason = form.choice("reason", "why it is revised", session_codes.REVISION_REASONS)
        content = PlanContent(plan["kind"], form, plan["texts"])
        values = _posted(page.form)
        texts = plan["texts"]
        if not form.ok():
            return _plan_form(page, plan["person_id"], name, plan["kind"], plan, texts, values, 422)
        try:
            body = {
                "kind": plan["kind"],
                "content": content.sealed(page, plan["person_id"]),
                "reason": reason,
            }
            page.api.post("sessions", f"{here}/revise", body, version=quoted(values.get("version")))
        except Refused as refusal:
            page.refused(refusal, names={"content": "content"})
            return _plan_form(page, plan["person_id"], name, plan["kind"], plan, texts, values, 422)
        return page.redirect(here, "plan-saved")

    @route(
        "POST",
        "/plans/<string:plan_id>/review",
        public=True,
        media="text/html",
        status=303,
        summary="Record a plan's review",
    )
    @signed_in(*ROLES)
    @changed_once
    def plan_review(self, page: Page, plan_id: str):
        form = Form(page.form, page.errors)
        body = {
            "outcome": form.choice(
                "outcome", "what the review found", session_codes.REVIEW_OUTCOMES
            )
        }
        return _plan_change(page, plan_id, form, "review", body, "plan-reviewed")

    @route(
        "POST",
        "/plans/<string:plan_id>/interval",
        public=True,
        media="text/html",
        status=303,
        summary="Change how often a plan is reviewed",
    )
    @signed_in(*ROLES)
    @changed_once
    def plan_interval(self, page: Page, plan_id: str):
        form = Form(page.form, page.errors)
        days = form.number("interval", "how often it is reviewed, in days", 7, 366)
        body = {"review_interval_days": days}
        names = {"review_interval_days": "interval"}
        return _plan_change(page, plan_id, form, "review-interval", body, "plan-saved", names)

    @route(
        "POST",
        "/plans/<string:plan_id>/close",
        public=True,
        media="text/html",
        status=303,
        summary="Close a plan",
    )
    @signed_in(*ROLES)
    @changed_once
    def plan_close(self, page: Page, plan_id: str):
        form = Form(page.form, page.errors)
        body = {"reason": form.choice("close-reason", "why", session_codes.PLAN_CLOSING_REASONS)}
        names = {"reason": "close-reason"}
        return _plan_change(page, plan_id, form, "close", body, "plan-saved", names)


class PlanContent:
    """A plan's content as its form posts it: rows left blank are dropped, each piece of the
    person's words is kept as the text the plan already holds when unchanged, or sealed anew."""

    def __init__(self, kind: str, form: Form, texts: dict[str, str]):
        self.kind = kind
        self.form = form
        self.texts = texts
        self.words: dict[str, str] = {}  # a form field -> words to seal
        self.kept: dict[str, str] = {}  # a form field -> the text id its unchanged words have
        self.content = self._read()

    def _words(self, name: str, label: str, required: bool = False):
        text = self.form.text(name, label, required=required, max_length=MAX_TEXT)
        if text:
            previous = (self.form.data.get(f"{name}-id") or "").strip()
            if previous and self.texts.get(previous) == text:
                self.kept[name] = previous
            else:
                self.words[name] = text
        return text

    def _read(self) -> dict:
        if self.kind == session_codes.RECOVERY_WELLBEING:
            return {"goals": self._goals()}
        content = {
            "warning_signs": self.form.choices(
                "warning_signs", "warning signs", session_codes.WARNING_SIGNS
            ),
            "what_helps": self.form.choices("what_helps", "what helps", session_codes.WHAT_HELPS),
            "agreed_actions": self.form.choices(
                "agreed_actions", "agreed actions", session_codes.PLAN_ACTIONS
            ),
        }
        for key, field in WORDED.items():
            if key == "cared_for_needs_text_id" and self.kind != session_codes.CARER_CRISIS:
                continue
            if self._words(field, "the words"):
                content[key] = field
        for key, (prefix, types) in CONTACT_LISTS.items():
            if key == "replacement_care" and self.kind != session_codes.CARER_CRISIS:
                continue
            content[key] = self._contacts(prefix, types)
        if self.kind == session_codes.CARER_CRISIS:
            cared_for = (self.form.data.get("cared_for_person_id") or "").strip()
            content["cared_for_person_id"] = cared_for or None
        return content

    def _contacts(self, prefix: str, types) -> list[dict]:
        contacts = []
        for index in range(_count(self.form.data, prefix, MOST_CONTACTS)):
            type_field = f"{prefix}-type-{index}"
            kind = self.form.choice(type_field, "who this is", types, required=False)
            field = f"{prefix}-contact-{index}"
            text = self._words(field, "their name and number")
            if text and not kind and type_field not in self.form.errors:
                self.form.errors[type_field] = "Choose who this is"
            if kind:
                contacts.append({"type": kind, "contact_text_id": field if text else None})
        return contacts

    def _goals(self) -> list[dict]:
        goals = []
        for index in range(_count(self.form.data, "goal", MOST_GOALS)):
            area_field, text_field = f"goal-area-{index}", f"goal-text-{index}"
            area = self.form.choice(area_field, "the part of life", session_codes.LIFE_AREAS, False)
            text = self._words(text_field, "the goal in the person's words")
            if not area and not text:
                continue
            if not area:
                self.form.errors.setdefault(area_field, "Choose the part of life the goal is about")
            if not text:
                self.form.errors.setdefault(text_field, "Enter the goal in the person's words")
            goal_id = (self.form.data.get(f"goal-id-{index}") or "").strip()
            goals.append(
                {
                    "goal_id": goal_id or str(uuid.uuid4()),
                    "life_area": area,
                    "text_id": text_field,
                    "progress": self.form.number(
                        f"goal-progress-{index}", "progress", 1, 10, required=False
                    ),
                    "status": self.form.choice(
                        f"goal-status-{index}", "where the goal stands", session_codes.GOAL_STATUSES
                    ),
                    "steps": self._steps(index),
                }
            )
        return goals

    def _steps(self, goal: int) -> list[dict]:
        steps = []
        prefix = f"goal-{goal}-step"
        for index in range(_count(self.form.data, prefix, MOST_STEPS)):
            field = f"{prefix}-{index}"
            if self._words(field, "the step"):
                status = self.form.choice(
                    f"{field}-status", "where the step stands", session_codes.STEP_STATUSES
                )
                steps.append({"text_id": field, "status": status or "not_started"})
        return steps

    def sealed(self, page: Page, person_id: str) -> dict:
        """The content with every form field naming words replaced by its sealed text's id."""
        ids = dict(self.kept)
        for field, text in self.words.items():
            sealed = page.api.post("sessions", "/texts", {"person_id": person_id, "text": text})
            ids[field] = sealed["text_id"]

        def swap(node):
            if isinstance(node, dict):
                return {
                    k: (ids.get(v, v) if k.endswith("text_id") else swap(v))
                    for k, v in node.items()
                }
            if isinstance(node, list):
                return [swap(v) for v in node]
            return node

        return swap(self.content)


def _count(data, prefix: str, most: int) -> int:
    """How many rows of a repeated part the form posted."""
    try:
        return max(0, min(int(data.get(f"{prefix}-rows") or 0), most))
    except ValueError:
        return 0


def _posted(data) -> dict:
    values = {name: data.get(name) for name in data}
    for name in ("warning_signs", "what_helps", "agreed_actions"):
        values[name] = data.getlist(name)
    return values


def _values_of(plan: dict) -> dict:
    """A plan's content as its form's fields."""
    content, texts = plan["content"], plan.get("texts") or {}
    values: dict = {}

    def words(field: str, text_id):
        if text_id:
            values[field] = texts.get(str(text_id), "")
            values[f"{field}-id"] = str(text_id)

    for name in ("warning_signs", "what_helps", "agreed_actions"):
        values[name] = content.get(name) or []
    for key, field in WORDED.items():
        words(field, content.get(key))
    for key, (prefix, _) in CONTACT_LISTS.items():
        for index, contact in enumerate(content.get(key) or []):
            values[f"{prefix}-type-{index}"] = contact["type"]
            words(f"{prefix}-contact-{index}", contact.get("contact_text_id"))
    values["cared_for_person_id"] = content.get("cared_for_person_id") or ""
    for index, goal in enumerate(content.get("goals") or []):
        values[f"goal-id-{index}"] = goal["goal_id"]
        values[f"goal-area-{index}"] = goal["life_area"]
        words(f"goal-text-{index}", goal["text_id"])
        values[f"goal-progress-{index}"] = goal.get("progress") or ""
        values[f"goal-status-{index}"] = goal.get("status")
        for step_index, step in enumerate(goal.get("steps") or []):
            words(f"goal-{index}-step-{step_index}", step["text_id"])
            values[f"goal-{index}-step-{step_index}-status"] = step.get("status")
    return values


def _rows(values: dict, prefix: str, suffix: str, spare: int, most: int) -> int:
    """Rows to show: as many as hold something, and a few spare."""
    used = 0
    while any(values.get(f"{prefix}-{name}-{used}") for name in suffix.split()) and used < most:
        used += 1
    return min(used + spare, most)


def _plan_form(page, person_id, name, kind, plan, texts, values, status=200):
    revising = bool(plan)
    rows = {
        key: _rows(values, prefix, "type contact", SPARE_CONTACTS, MOST_CONTACTS)
        for key, (prefix, _) in CONTACT_LISTS.items()
    }
    goals = _rows(values, "goal", "area text", SPARE_GOALS, MOST_GOALS)
    steps = []
    for goal in range(goals):
        used = 0
        while values.get(f"goal-{goal}-step-{used}") and used < MOST_STEPS:
            used += 1
        steps.append(min(used + SPARE_STEPS, MOST_STEPS))
    people = people_of(caseload(page)) if kind == session_codes.CARER_CRISIS else []
    kind_words = say.in_words(kind, "plan_kind")
    return page.render(
        "plans/form.html",
        status=status,
        title=f"{'Revise the' if revising else 'Draft a'} {kind_words.lower()} for {name}",
        kind=kind,
        kind_words=kind_words,
        person_id=person_id,
        person_name=name,
        plan=plan,
        values=values,
        rows=rows,
        goals=goals,
        steps=steps,
        contact_lists=CONTACT_LISTS,
        person_contacts=say.options(session_codes.PERSON_CONTACTS),
        service_contacts=say.options(session_codes.SERVICE_CONTACTS, "service_contact"),
        care_contacts=say.options(
            session_codes.PERSON_CONTACTS + session_codes.SERVICE_CONTACTS, "service_contact"
        ),
        warning_signs=say.options(session_codes.WARNING_SIGNS),
        what_helps=say.options(session_codes.WHAT_HELPS),
        plan_actions=say.options(session_codes.PLAN_ACTIONS),
        life_areas=say.options(session_codes.LIFE_AREAS),
        goal_statuses=say.options(session_codes.GOAL_STATUSES),
        step_statuses=say.options(session_codes.STEP_STATUSES),
        reasons=say.options(session_codes.REVISION_REASONS),
        cared_for=[(p, n) for p, n in people if p != str(person_id)],
        back={
            "href": f"/plans/{segment(plan['plan_id'])}" if revising else "/plans",
            "text": "Back to the plan" if revising else "Back to plans",
        },
    )


def _plan_change(page, plan_id, form, path, body, done, names=None):
    here = f"/plans/{segment(plan_id)}"
    values = _posted(page.form)
    if not form.ok():
        return _plan_page(page, plan_id, status=422, values=values)
    try:
        page.api.post("sessions", f"{here}/{path}", body, version=quoted(page.form.get("version")))
    except Refused as refusal:
        page.refused(refusal, names=names or {})
        return _plan_page(page, plan_id, status=422, values=values)
    return page.redirect(here, done)


def _plan_page(page: Page, plan_id: str, status: int = 200, values: dict | None = None):
    plan, version = page.api.get_with_version("sessions", f"/plans/{segment(plan_id)}")
    name = names_of(page, [plan["person_id"]])[str(plan["person_id"])]
    values = dict(values or {})
    values["version"] = quoted(version)
    return page.render(
        "plans/plan.html",
        status=status,
        title=f"{say.in_words(plan['kind'], 'plan_kind')} for {name}",
        plan=plan,
        person_name=name,
        texts=plan.get("texts") or {},
        values=values,
        outcomes=say.options(session_codes.REVIEW_OUTCOMES, "review_outcome"),
        closing=say.options(session_codes.PLAN_CLOSING_REASONS),
        back={"href": "/plans", "text": "Back to plans"},
    )
