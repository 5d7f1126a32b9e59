"""Raising a safeguarding concern from anywhere a person appears (the person's page and the
session form link here with `?person_id=` and `?session_id=`), and the concerns the signed-in
person raised with where each has got to. The safeguarding service decides every rule; its
refusals are shown at the form's fields."""

from __future__ import annotations

from datetime import datetime

from contracts.safeguarding.codes import (
    ADULT,
    ADULT_CATEGORIES,
    AGE_GROUPS,
    AGENCIES,
    ALLEGED_RELATIONSHIPS,
    CHILD_CATEGORIES,
    IMMEDIATE,
    IMMEDIATE_ACTIONS,
    NO_ACTION_TAKEN,
    SEVERITIES,
    WITHOUT_CONSENT_REASONS,
)
from services.web.api import Refused, segment
from services.web.app import ALL_ROLES, LONDON, Page, made_once, path_with, signed_in
from services.web.forms import Form, date_parts, posted_date_parts
from services.web.views.concern_words import CHOICES
from shared.web import route

# anyone signed in may raise a concern (policy.MAY_RAISE_CONCERNS)
RAISERS = ALL_ROLES
PER_PAGE = 20
YES_NO = (("yes", "Yes"), ("no", "No"))
YES_NO_NOT_KNOWN = (("yes", "Yes"), ("no", "No"), ("not_known", "Not known"))
ANSWERS = {"yes": True, "no": False, "not_known": None}
# the safeguarding service's rules that concern one field of the form
RULE_FIELDS = {
    "ConcernNeedsAPerson": "person_description",
    "ConcernNeedsACategory": "categories",
    "CategoriesMustSuitTheAgeGroup": "categories",
    "ImmediateRiskMeansImmediateSeverity": "severity",
    "NoActionTakenStandsAlone": "actions_taken",
    "ActingWithoutConsentNeedsAReason": "without_consent_reason",
}


def show_refusal(
    page: Page,
    refusal: Refused,
    names: dict[str, str] | None = None,
    rules: dict[str, str] | None = None,
) -> None:
    """A service's refusal at the form's fields: those it names, or the field its rule is
    about; otherwise in the error summary, with what to do about a change made meanwhile."""
    page.refused(refusal, names)
    field = (rules or {}).get(refusal.rule or "")
    if field and "_summary" in page.errors:
        page.errors[field] = page.errors.pop("_summary")


def read_concern_form(page: Page, age_group_field: str = "age_group") -> dict | None:
    """The posted concern form as the safeguarding service's body; None (with the page's
    errors set) when something is missing or wrong."""
    form = Form(page.form, page.errors)
    person_id = form.text("person_id", "the person at risk", max_length=100)
    description = form.text("person_description", "who the person is", max_length=2000)
    if person_id is None and description is None:
        form._fail(
            "person_description",
            "Choose the person at risk, or describe them if they are not known to us",
        )
    elif person_id is not None and description is not None:
        form._fail(
            "person_description",
            "Describe the person only when they are not listed: you chose someone already",
        )
    age_group = form.choice(
        age_group_field, "whether the concern is about an adult or a child", AGE_GROUPS
    )
    adult = form.choices("adult_categories", "category", ADULT_CATEGORIES)
    child = form.choices("child_categories", "category", CHILD_CATEGORIES)
    categories = []
    if age_group is not None:
        chosen, other, other_field = (
            (adult, child, "child_categories")
            if age_group == ADULT
            else (child, adult, "adult_categories")
        )
        field = "adult_categories" if age_group == ADULT else "child_categories"
        if other:
            form._fail(
                other_field,
                f"Clear the categories for {'a child' if age_group == ADULT else 'an adult'}: "
                f"this concern is about {'an adult' if age_group == ADULT else 'a child'}",
            )
        if not chosen:
            form._fail(field, "Select at least one category of abuse or neglect")
        categories = chosen
    severity = form.choice("severity", "how serious it is", SEVERITIES)
    risk = form.choice("immediate_risk", "whether someone is at immediate risk", ("yes", "no"))
    if risk == "yes" and severity not in (None, IMMEDIATE):
        form._fail("severity", "Select immediate: someone is at immediate risk")
    what_happened = form.text("what_happened", "what happened", required=True, max_length=10000)
    happened_on = form.date("happened_on", "when it happened", required=False)
    ongoing = form.choice("is_ongoing", "whether it is still going on", ANSWERS, required=False)
    children = form.choice(
        "children_at_risk", "whether children are at risk", ANSWERS, required=False
    )
    relationship = form.choice(
        "alleged_relationship", "who may be causing harm", ALLEGED_RELATIONSHIPS, required=False
    )
    actions = form.choices(
        "actions_taken", "action taken at once", IMMEDIATE_ACTIONS, required=True
    )
    if NO_ACTION_TAKEN in actions and len(actions) > 1:
        form._fail(
            "actions_taken",
            "Select the actions taken, or 'No action taken at once' on its own",
        )
    actions_notes = form.text("actions_taken_notes", "what was done", max_length=5000)
    informed = form.choices("informed", "who else was told", AGENCIES)
    consent = form.choice("consent_given", "whether the person consented", ("yes", "no"))
    reason = form.choice(
        "without_consent_reason",
        "why you are going ahead without consent",
        WITHOUT_CONSENT_REASONS,
        required=consent == "no",
    )
    if consent == "yes" and reason is not None:
        form._fail(
            "without_consent_reason",
            "Leave the reason for going ahead without consent empty: the person consented",
        )
    views = form.text("views", "the person's views", max_length=5000)
    if not form.ok():
        return None
    body = {
        "age_group": age_group,
        "categories": categories,
        "severity": severity,
        "immediate_risk": risk == "yes",
        "what_happened": what_happened,
        "actions_taken": actions,
        "informed": informed,
        "consent_given": consent == "yes",
    }
    optional = {
        "person_id": person_id,
        "person_description": description,
        "happened_on": happened_on.isoformat() if happened_on else None,
        "is_ongoing": ANSWERS.get(ongoing),
        "children_at_risk": ANSWERS.get(children),
        "alleged_relationship": relationship,
        "actions_taken_notes": actions_notes,
        "without_consent_reason": reason,
        "views": views,
    }
    body.update({name: value for name, value in optional.items() if value is not None})
    return body


class RaisingConcerns:
    """Pages for raising a concern and following the concerns one raised."""

    @route(
        "GET",
        "/concerns/new",
        public=True,
        media="text/html",
        summary="The form to raise a safeguarding concern (person and session prefilled)",
    )
    @signed_in(*RAISERS)
    def new_concern(self, page: Page):
        person_id = page.args.get("person_id", "").strip() or None
        session = _session(page, page.args.get("session_id", "").strip())
        if person_id is None and session:
            person_id = session.get("person_id")
        values = {"person_id": person_id or ""}
        if session and session.get("on"):
            values["happened_on"] = date_parts(session["on"])
        return _raise_form(page, values, session)

    @route(
        "POST",
        "/concerns/new",
        public=True,
        media="text/html",
        summary="Raise a safeguarding concern; the lead sees it in their inbox at once",
    )
    @signed_in(*RAISERS)
    @made_once
    def raise_concern(self, page: Page):
        session = _session(page, page.form.get("session_id", "").strip())
        body = read_concern_form(page)
        values = _posted(page)
        if body is None:
            return _raise_form(page, values, session, status=422)
        try:
            concern = page.api.post("safeguarding", "/concerns", body)
        except Refused as refusal:
            if refusal.status not in (409, 422):
                raise
            categories = "adult_categories" if body["age_group"] == ADULT else "child_categories"
            show_refusal(
                page,
                refusal,
                names={"categories": categories, "person_id": "person_id"},
                rules={
                    **RULE_FIELDS,
                    "ConcernNeedsACategory": categories,
                    "CategoriesMustSuitTheAgeGroup": categories,
                },
            )
            return _raise_form(page, values, session, status=422)
        return page.redirect(
            f"/safeguarding/concerns/{segment(concern['concern_id'])}", done="concern-raised"
        )

    @route(
        "GET",
        "/concerns",
        public=True,
        media="text/html",
        summary="The safeguarding concerns the signed-in person raised, with their status",
    )
    @signed_in(*RAISERS)
    def my_concerns(self, page: Page):
        return page.render(
            "safeguarding/mine.html", title="Concerns I raised", **raised_by_me(page)
        )


def raised_by_me(page: Page) -> dict:
    """The signed-in person's own concerns, newest deadline first, a page at a time."""
    offset = _offset(page.args.get("offset"))
    found = page.api.get(
        "safeguarding",
        "/concerns",
        status="any",
        raised_by=page.user_id,
        limit=PER_PAGE,
        offset=offset,
    )
    return {
        "concerns": found["items"],
        "total": found["total"],
        "previous": path_with(page.request.path, offset=max(offset - PER_PAGE, 0) or None)
        if offset
        else None,
        "next": path_with(page.request.path, offset=offset + PER_PAGE)
        if offset + PER_PAGE < found["total"]
        else None,
    }


def _offset(raw: str | None) -> int:
    return int(raw) if raw and raw.isdigit() and int(raw) < 1_000_000 else 0


def _session(page: Page, session_id: str) -> dict | None:
    """The session a concern is raised from: its person and day, when the person may see it."""
    if not session_id:
        return None
    try:
        found = page.api.get("sessions", f"/sessions/{segment(session_id)}")
    except Refused:
        return None
    start = found.get("actual_start_at") or found.get("planned_start_at")
    on = datetime.fromisoformat(start).astimezone(LONDON).date() if start else None
    return {
        "session_id": found["session_id"],
        "person_id": found.get("person_id"),
        "kind": found.get("kind"),
        "on": on,
    }


def _person_name(page: Page, person_id: str | None) -> str | None:
    """The person's name, when the signed-in person may read it (an audited read)."""
    if not person_id:
        return None
    try:
        person = page.api.get("referrals", f"/people/{segment(person_id)}")
    except Refused:
        return None
    identifiers = person.get("identifiers")
    return identifiers.get("full_name") if isinstance(identifiers, dict) else None


def _caseload(page: Page) -> list[tuple[str, str]]:
    """The people on the worker's caseload, to choose the person at risk from."""
    if not page.is_role("peer_worker", "team_lead"):
        return []
    try:
        found = page.api.get(
            "referrals", "/referrals", worker_id=page.user_id, names="true", limit=200
        )
    except Refused:
        return []
    people = {}
    for referral in found["items"]:
        people.setdefault(str(referral["person_id"]), referral.get("full_name") or "Name not known")
    return sorted(people.items(), key=lambda item: item[1])


def _posted(page: Page) -> dict:
    data = page.form
    values = {name: data.get(name, "") for name in data}
    for name in ("adult_categories", "child_categories", "actions_taken", "informed"):
        values[name] = data.getlist(name)
    values["happened_on"] = posted_date_parts(data, "happened_on")
    return values


def _raise_form(page: Page, values: dict, session: dict | None, status: int = 200):
    person_id = values.get("person_id") or ""
    caseload = _caseload(page)
    # a person given by the page that linked here is shown by name; one chosen from the
    # caseload stays a choice
    fixed = bool(person_id) and person_id not in dict(caseload)
    return page.render(
        "safeguarding/raise.html",
        status=status,
        title="Raise a safeguarding concern",
        values=values,
        fixed_person=fixed,
        person_name=_person_name(page, person_id) if fixed else None,
        caseload=caseload,
        from_session=session,
        choices=CHOICES,
        yes_no=YES_NO,
        yes_no_not_known=YES_NO_NOT_KNOWN,
        back={"href": f"/sessions/{segment(session['session_id'])}", "text": "Back to the session"}
        if session
        else {"href": "/", "text": "Back to My day"},
    )
