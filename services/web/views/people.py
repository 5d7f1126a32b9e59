"""The people pages: finding someone, registering them (possible duplicates shown as a choice),
a person's page (identifiers, referrals, timeline, plans, SWEMWBS over time, signposting) and
changing their details without overwriting someone else's change."""

from __future__ import annotations

from services.web.api import Refused, segment
from services.web.app import Page, changed_once, made_once, signed_in, today
from services.web.forms import Form, date_parts, posted_date_parts
from services.web.views import people_found
from services.web.views.chart import swemwbs_chart
from services.web.views.referral_codes import ETHNIC_GROUPS, GENDER, event_words, say
from services.web.views.referral_steps import WORKING
from services.web.views.referrals import waited_days, worker_names
from shared.web import route

# the identifiers a person's details hold (the people API's fields), with their words and
# whether a register form must have them
DETAILS = (
    ("full_name", "Full name", True, 200),
    ("preferred_name", "Preferred name (optional)", False, 200),
    ("pronouns", "Pronouns (optional)", False, 50),
    ("nhs_number", "NHS number (optional)", False, 20),
    ("address", "Address (optional)", False, 500),
    ("postcode", "Postcode (optional)", False, 10),
    ("phone", "Phone number (optional)", False, 20),
    ("email", "Email address (optional)", False, 254),
    ("gp_practice", "GP practice (optional)", False, 200),
    ("emergency_contact", "Emergency contact (optional)", False, 500),
    ("communication_needs", "Communication needs (optional)", False, 1000),
    ("interpreter_language", "Interpreter needed: language (optional)", False, 100),
)
TIMELINE_SIZE = 20
# where a record on a person's timeline is shown, by its kind
RECORD_PAGES = {"session": "/sessions/", "plan": "/plans/", "group": "/groups/"}
# the codes of a timeline entry shown beside it
TIMELINE_CODES = (
    "kind",
    "mode",
    "status",
    "plan_kind",
    "destination",
    "outcome",
    "measure",
    "timepoint",
)


def _details_from(form: Form, registering: bool) -> dict:
    details = {}
    for name, label, required, longest in DETAILS:
        if name == "nhs_number":
            # the date of birth comes before the NHS number on the form
            born = form.date("date_of_birth", "their date of birth", required=registering)
            details["date_of_birth"] = born.isoformat() if born else None
        words = label.replace(" (optional)", "").lower()
        details[name] = form.text(
            name, words, required=required and registering, max_length=longest
        )
    details["gender"] = form.choice("gender", "their gender", dict(GENDER), required=False)
    details["ethnicity"] = form.choice(
        "ethnicity", "their ethnic group", dict(ETHNIC_GROUPS), required=False
    )
    return details


def _posted_details(page: Page) -> dict:
    values = {name: page.form.get(name, "") for name, *_ in DETAILS}
    values["date_of_birth"] = posted_date_parts(page.form, "date_of_birth")
    values["gender"] = page.form.get("gender", "")
    values["ethnicity"] = page.form.get("ethnicity", "")
    values["use_person"] = page.form.get("use_person", "")
    return values


def timeline_rows(items: list[dict]) -> list[dict]:
    rows = []
    for item in items:
        detail = item.get("detail") or {}
        codes = [say(detail[c]) for c in TIMELINE_CODES if detail.get(c) not in (None, "")]
        if detail.get("metric_score") is not None:
            codes.append(f"score {detail['metric_score']:g}")
        base = RECORD_PAGES.get(item.get("what", ""))
        rows.append(
            {
                "at": item.get("happened_at"),
                "what": event_words(item.get("event_type", "")),
                "href": base + segment(item["id"]) if base and item.get("id") else None,
                "detail": ", ".join(codes),
            }
        )
    return rows


class PeoplePages:
    """Mixed into the web service: the people pages."""

    @route(
        "GET",
        "/people",
        public=True,
        media="text/html",
        summary="Find a person by NHS number, or by name and date of birth",
    )
    @signed_in()
    def people_search(self, page: Page):
        return page.render("people/search.html", title="Find a person", values={}, found=None)

    @route(
        "POST",
        "/people/find",
        public=True,
        media="text/html",
        summary="The people found by a search",
    )
    @signed_in(*WORKING)
    def people_find(self, page: Page):
        criteria, errors = people_found.search_criteria(page)
        values = people_found.search_values(page)
        found = None
        if not errors:
            ids = people_found.find_people(page, criteria)
            if not page.errors:
                found = people_found.describe(page, ids)
        status = 422 if page.errors else 200
        return page.render(
            "people/search.html", status=status, title="Find a person", values=values, found=found
        )

    @route(
        "GET",
        "/people/new",
        public=True,
        media="text/html",
        summary="Register a person",
    )
    @signed_in(*WORKING)
    def person_new(self, page: Page):
        return self._details_form(page, None, {}, None)

    @route(
        "POST",
        "/people/new",
        public=True,
        status=303,
        media="text/html",
        summary="Register the person (after checking they are not registered already)",
    )
    @signed_in(*WORKING)
    @made_once
    def person_register(self, page: Page):
        form = Form(page.form, page.errors)
        details = _details_from(form, registering=True)
        values = _posted_details(page)
        if not form.ok():
            return self._details_form(page, None, values, None, status=422)
        body = {k: v for k, v in details.items() if v is not None}
        matches = people_found.possible_matches(page, body)
        candidates = people_found.describe(page, matches) if matches else []
        choice = page.form.get("use_person", "")
        if matches and choice in matches:
            return page.redirect(f"/people/{segment(choice)}")
        if matches and choice != "new":
            page.errors["use_person"] = (
                "Select the person already registered, or say that this is someone new"
            )
            return self._details_form(page, None, values, None, candidates, status=422)
        try:
            person = page.api.post("referrals", "/people", body)
        except Refused as refusal:
            if refusal.status not in (409, 422):
                raise
            page.refused(refusal)
            return self._details_form(page, None, values, None, candidates, status=422)
        return page.redirect(f"/people/{segment(person['person_id'])}", done="person-registered")

    @route(
        "GET",
        "/people/<string:person_id>",
        public=True,
        media="text/html",
        summary="A person: identifiers, referrals, timeline, plans, measures and signposting",
    )
    @signed_in(*WORKING)
    def person_page(self, page: Page, person_id: str):
        segment_id = segment(person_id)
        person = page.api.get("referrals", f"/people/{segment_id}")
        referrals = page.api.get("referrals", "/referrals", person_id=person_id, limit=50)
        timeline = page.api.get("sessions", f"/people/{segment_id}/timeline", limit=TIMELINE_SIZE)
        plans = page.api.get("sessions", "/plans", person_id=person_id, limit=50)
        measures = page.api.get("sessions", f"/people/{segment_id}/measures")
        signposting = page.api.get("sessions", "/signposting", person_id=person_id, limit=50)
        change = (measures.get("changes") or {}).get("swemwbs")
        threshold = change["threshold"] if change else None
        names = worker_names(page)
        for referral in referrals["items"]:
            referral["waited_days"] = waited_days(referral, today())
            referral["worker_name"] = names.get(referral.get("worker_id") or "")
        return page.render(
            "people/person.html",
            title=(person.get("identifiers") or {}).get("full_name") or "A person",
            person=person,
            referrals=referrals["items"],
            timeline=timeline_rows(timeline["items"]),
            timeline_total=timeline["total"],
            plans=plans["items"],
            measures=[m for m in measures.get("measures", []) if m.get("measure") == "swemwbs"],
            other_measures=[
                m for m in measures.get("measures", []) if m.get("measure") != "swemwbs"
            ],
            change=change,
            chart=swemwbs_chart(measures.get("measures", []), threshold),
            signposting=signposting["items"],
        )

    @route(
        "GET",
        "/people/<string:person_id>/edit",
        public=True,
        media="text/html",
        summary="Change a person's details",
    )
    @signed_in(*WORKING)
    def person_edit(self, page: Page, person_id: str):
        person = page.api.get("referrals", f"/people/{segment(person_id)}")
        identifiers = person.get("identifiers")
        if identifiers is None:
            return page.redirect(f"/people/{segment(person_id)}")
        values = {name: identifiers.get(name) or "" for name, *_ in DETAILS}
        values["date_of_birth"] = date_parts(identifiers.get("date_of_birth"))
        values["gender"] = person.get("gender", "")
        values["ethnicity"] = person.get("ethnicity", "")
        return self._details_form(page, person, values, person["version"])

    @route(
        "POST",
        "/people/<string:person_id>/edit",
        public=True,
        status=303,
        media="text/html",
        summary="Save a person's changed details (refused if someone changed them meanwhile)",
    )
    @signed_in(*WORKING)
    @changed_once
    def person_edited(self, page: Page, person_id: str):
        path = f"/people/{segment(person_id)}"
        person = page.api.get("referrals", path)
        identifiers = person.get("identifiers") or {}
        form = Form(page.form, page.errors)
        details = _details_from(form, registering=False)
        version = page.form.get("version", "")
        values = _posted_details(page)
        if not form.errors.get("full_name") and not details["full_name"]:
            form.errors["full_name"] = "Enter their full name"
        if not form.errors.get("date_of_birth") and not details["date_of_birth"]:
            form.errors["date_of_birth"] = "Enter their date of birth"
        if form.ok():
            changes = {
                name: value
                for name, value in details.items()
                if name not in ("gender", "ethnicity") and value != (identifiers.get(name) or None)
            }
            for name in ("gender", "ethnicity"):
                if details[name] and details[name] != person.get(name):
                    changes[name] = details[name]
            if not changes:
                form.errors["full_name"] = "Nothing was changed: change a detail, or go back"
            else:
                body = {**changes}
                if version.isdigit():
                    body["expected_version"] = int(version)
                try:
                    page.api.post("referrals", path, body)
                except Refused as refusal:
                    if refusal.status not in (409, 422):
                        raise
                    page.refused(refusal)
                else:
                    return page.redirect(path, done="person-updated")
        return self._details_form(page, person, values, version, status=422)

    def _details_form(self, page, person, values, version, candidates=(), status=200):
        editing = person is not None
        return page.render(
            "people/details.html",
            status=status,
            title="Change their details" if editing else "Register a person",
            person=person,
            values=values,
            version=version,
            details=DETAILS,
            candidates=list(candidates),
            genders=GENDER,
            ethnic_groups=ETHNIC_GROUPS,
            back={
                "href": f"/people/{person['person_id']}" if editing else "/people",
                "text": "Back",
            },
        )
