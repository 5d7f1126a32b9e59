"""A person's outcome measures and signposting in the browser: recording a SWEMWBS (or any other
measure the sessions service scores) statement by statement, and where a person was signposted
with whether they took it up. The person's own page links here and is linked back to."""

from __future__ import annotations

from contracts.sessions import codes as session_codes
from contracts.sessions import measures
from services.web.api import Refused, segment
from services.web.app import CASEWORK, Page, changed_once, made_once, signed_in, today
from services.web.forms import Form, date_parts, posted_date_parts
from services.web.views import session_words as say
from services.web.views.caseload import names_of, quoted
from shared.web import route

ANSWER_CODES = tuple(str(answer) for answer in say.ANSWERS)
SIGNPOSTING_NAMES = {"destination": "destination", "on": "on", "session_id": "destination"}


class OutcomePages:
    """The measure and signposting pages of the web service."""

    @route(
        "GET",
        "/people/<string:person_id>/measures/new",
        public=True,
        media="text/html",
        summary="Record an outcome measure a person completed (SWEMWBS by default)",
    )
    @signed_in(*CASEWORK, "partner_admin")
    def measure_new(self, page: Page, person_id: str):
        code = _measure_code(page.args.get("measure"))
        values = {"taken_on": date_parts(today()), "timepoint": None}
        return _measure_form(page, person_id, code, values)

    @route(
        "POST",
        "/people/<string:person_id>/measures/new",
        public=True,
        media="text/html",
        status=303,
        summary="Record the measure; back to the person's page",
    )
    @signed_in(*CASEWORK, "partner_admin")
    @made_once
    def measure_new_post(self, page: Page, person_id: str):
        code = _measure_code(page.form.get("measure"))
        measure = measures.measure(code)
        form = Form(page.form, page.errors)
        timepoint = form.choice("timepoint", "when in their support it was taken", say.TIMEPOINTS)
        taken_on = form.date("taken_on", "the date it was taken")
        answers = {}
        for number, item in enumerate(measure.items, start=1):
            answer = form.choice(item, f"an answer to statement {number}", ANSWER_CODES)
            if answer:
                answers[item] = int(answer)
        values = {name: page.form.get(name) for name in page.form}
        values["taken_on"] = posted_date_parts(page.form, "taken_on")
        if not form.ok():
            return _measure_form(page, person_id, code, values, status=422)
        body = {
            "measure": code,
            "timepoint": timepoint,
            "taken_on": taken_on.isoformat(),
            "answers": answers,
        }
        try:
            page.api.post(
                "sessions",
                f"/people/{segment(person_id)}/measures",
                body,
                version=quoted(page.form.get("version")),
            )
        except Refused as refusal:
            page.refused(refusal, names={"answers": measure.items[0]})
            return _measure_form(page, person_id, code, values, status=422)
        return page.redirect(f"/people/{segment(person_id)}", "measure-recorded")

    @route(
        "GET",
        "/people/<string:person_id>/signposting/new",
        public=True,
        media="text/html",
        summary="A person's signposting with outcomes, and a form to record where they were sent",
    )
    @signed_in(*CASEWORK, "partner_admin")
    def signposting_new(self, page: Page, person_id: str):
        values = {
            "on": date_parts(today()),
            "session_id": page.args.get("session_id") or "",
        }
        return _signposting_page(page, person_id, values)

    @route(
        "POST",
        "/people/<string:person_id>/signposting/new",
        public=True,
        media="text/html",
        status=303,
        summary="Record where a person was signposted",
    )
    @signed_in(*CASEWORK, "partner_admin")
    @made_once
    def signposting_new_post(self, page: Page, person_id: str):
        form = Form(page.form, page.errors)
        destination = form.choice(
            "destination", "where they were signposted", session_codes.SIGNPOSTING_DESTINATIONS
        )
        on = form.date("on", "the date")
        values = {name: page.form.get(name) for name in page.form}
        values["on"] = posted_date_parts(page.form, "on")
        if not form.ok():
            return _signposting_page(page, person_id, values, status=422)
        body = {"person_id": person_id, "destination": destination, "on": on.isoformat()}
        if page.form.get("session_id"):
            body["session_id"] = page.form["session_id"]
        try:
            page.api.post("sessions", "/signposting", body)
        except Refused as refusal:
            page.refused(refusal, names=SIGNPOSTING_NAMES)
            return _signposting_page(page, person_id, values, status=422)
        here = f"/people/{segment(person_id)}/signposting/new"
        return page.redirect(here, "signposting-recorded")

    @route(
        "POST",
        "/people/<string:person_id>/signposting/<string:signposting_id>/outcome",
        public=True,
        media="text/html",
        status=303,
        summary="Record whether the person took up where they were signposted",
    )
    @signed_in(*CASEWORK, "partner_admin")
    @changed_once
    def signposting_outcome(self, page: Page, person_id: str, signposting_id: str):
        form = Form(page.form, page.errors)
        field = f"outcome-{signposting_id}"
        outcome = form.choice(field, "whether they took it up", session_codes.RECORDABLE_OUTCOMES)
        if not form.ok():
            return _signposting_page(page, person_id, {"on": date_parts(today())}, status=422)
        try:
            page.api.post(
                "sessions",
                f"/signposting/{segment(signposting_id)}/outcome",
                {"outcome": outcome},
                version=quoted(page.form.get("version")),
            )
        except Refused as refusal:
            page.refused(refusal, names={"outcome": field})
            return _signposting_page(page, person_id, {"on": date_parts(today())}, status=422)
        here = f"/people/{segment(person_id)}/signposting/new"
        return page.redirect(here, "signposting-recorded")


def _measure_code(value: str | None) -> str:
    return value if value in measures.MEASURES else measures.SWEMWBS.code


def _measure_form(page: Page, person_id: str, code: str, values: dict, status: int = 200):
    series, version = page.api.get_with_version(
        "sessions", f"/people/{segment(person_id)}/measures"
    )
    name = names_of(page, [person_id])[str(person_id)]
    measure = measures.measure(code)
    statements = [(item, say.in_words(item, "statement")) for item in measure.items]
    known = [m for m in series.get("measures_known", []) if m != code and m in measures.MEASURES]
    return page.render(
        "outcomes/measure.html",
        status=status,
        title=f"Record a {measure.name} for {name}",
        person_id=person_id,
        person_name=name,
        measure=measure,
        statements=statements,
        answers=[(str(k), v) for k, v in say.ANSWERS.items()],
        timepoints=say.options(measures.TIMEPOINTS, "timepoint"),
        others=[measures.measure(m) for m in known],
        series=series,
        version=quoted(version),
        values=values,
        back={"href": f"/people/{segment(person_id)}", "text": f"Back to {name}"},
    )


def _signposting_page(page: Page, person_id: str, values: dict, status: int = 200):
    listed = page.api.get("sessions", "/signposting", person_id=person_id, limit=100)
    name = names_of(page, [person_id])[str(person_id)]
    return page.render(
        "outcomes/signposting.html",
        status=status,
        title=f"Signposting for {name}",
        person_id=person_id,
        person_name=name,
        items=listed["items"],
        destinations=say.options(session_codes.SIGNPOSTING_DESTINATIONS),
        outcomes=say.options(session_codes.RECORDABLE_OUTCOMES, "signposting_outcome"),
        values=values,
        back={"href": f"/people/{segment(person_id)}", "text": f"Back to {name}"},
    )
