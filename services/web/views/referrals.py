"""The referral pages: the waiting list, recording a referral (the person found first, or
registered with it, possible duplicates shown as a choice), a referral with its timeline and
history. Its steps are in referral_steps.py, offers from partners in referral_offers.py."""

from __future__ import annotations

from datetime import date

from services.web.api import Refused, segment
from services.web.app import Page, made_once, path_with, signed_in, today
from services.web.forms import Form, date_parts, posted_date_parts
from services.web.views import people_found
from services.web.views.referral_codes import (
    CONTACT,
    ETHNIC_GROUPS,
    GENDER,
    NEEDS,
    RISK,
    SOURCES,
    URGENCY,
    say,
)
from services.web.views.referral_offers import OfferPages
from services.web.views.referral_steps import (
    DECIDERS,
    WORKING,
    ReferralStepPages,
    person_name,
    steps_for,
    value_words,
)
from shared.web import route

WAITING = ("received", "accepted", "allocated")
CASELOAD = ("allocated", "active", "on_hold")
STATUSES = WAITING + (
    "active",
    "on_hold",
    "declined",
    "discharged",
    "closed_without_contact",
    "transferred",
    "transfer_withdrawn",
)
PAGE_SIZE = 25
# the person's details a referral may register them with (the fields of POST /people)
PERSON_FIELDS = (
    "full_name",
    "date_of_birth",
    "nhs_number",
    "gender",
    "ethnicity",
    "postcode",
    "phone",
)
CONSENT_ANSWERS = [("yes", "Yes"), ("no", "No"), ("not_asked", "Not asked yet")]
# a refused field of POST /referrals, shown at the form's field of that name
REFERRAL_NAMES = {f"person.{name}": name for name in PERSON_FIELDS} | {
    "consent.to_contact": "to_contact",
    "consent.to_share": "to_share",
    "consent.contact_methods": "contact_methods",
    "consent.contact_times": "contact_times",
    "consent.recorded_on": "to_contact",
}


def worker_names(page: Page) -> dict[str, str]:
    """Worker id -> name, for every worker the node has a name for (app.Page.name_of)."""
    return page.staff_names()


def waited_days(referral: dict, on: date) -> int:
    received = date.fromisoformat(str(referral["received_on"]))
    contacted = referral.get("first_contact_on")
    end = date.fromisoformat(str(contacted)) if contacted else on
    return max((end - received).days, 0)


def history_rows(history: dict, names: dict[str, str]) -> list[dict]:
    """Each event of the referral as a row: when, what, who and the detail in words."""
    texts = history.get("texts") or {}
    rows = []
    for event in history["events"]:
        payload = event.get("payload") or {}
        detail = []
        if payload.get("worker_id"):
            detail.append("To " + names.get(payload["worker_id"], payload["worker_id"]))
        if payload.get("reason"):
            detail.append("Reason: " + say(payload["reason"]))
        if payload.get("to_partner"):
            detail.append("To " + say(payload["to_partner"]))
        if event["event_type"] == "ReferralCorrected":
            old, new = (
                value_words(payload["field"], payload.get(k)) for k in ("previous_value", "value")
            )
            detail.append(f"{say(payload['field'])} from {old} to {new}")
            reason = texts.get(str(payload.get("reason_text_id")))
            if reason:
                detail.append(f"Why: {reason}")
        actor = event.get("actor") or {}
        rows.append(
            {
                "at": event["occurred_at"],
                "what": event["event_type"],
                "by": names.get(actor.get("user_id", ""), actor.get("user_id")),
                "detail": ". ".join(detail),
            }
        )
    return rows


class ReferralPages(ReferralStepPages, OfferPages):
    """Mixed into the web service: the referral pages (the waiting list, recording a referral,
    a referral), its steps and the offers from partners."""

    @route(
        "GET",
        "/referrals",
        public=True,
        media="text/html",
        summary="The waiting list: referrals by status, with waits in days",
    )
    @signed_in(*WORKING)
    def referral_list(self, page: Page):
        status = page.args.get("status", "")
        worker_id = page.args.get("worker_id", "")
        offset = _offset(page.args.get("offset"))
        if status not in STATUSES:
            status = ""
        names = worker_names(page)
        sections = []
        # a worker's referrals are their caseload; everyone's, the waiting list
        for shown in (status,) if status else (CASELOAD if worker_id else WAITING):
            found = page.api.get(
                "referrals",
                "/referrals",
                status=shown,
                worker_id=worker_id,
                names="true",
                limit=PAGE_SIZE,
                offset=offset if status else 0,
            )
            more = None
            if found["total"] > found["offset"] + len(found["items"]):
                more = path_with(
                    "/referrals",
                    status=shown,
                    worker_id=worker_id,
                    offset=(found["offset"] + PAGE_SIZE) if status else None,
                )
            sections.append({"status": shown, **found, "more": more})
        for section in sections:
            for referral in section["items"]:
                referral["waited_days"] = waited_days(referral, today())
                referral["worker_name"] = names.get(referral.get("worker_id") or "")
        return page.render(
            "referrals/list.html",
            title="Referrals" if not status else f"Referrals: {say(status).lower()}",
            sections=sections,
            shown_status=status,
            worker_id=worker_id,
            worker_name=names.get(worker_id),
            statuses=[(s, say(s)) for s in STATUSES],
            may_decide=page.is_role(*DECIDERS),
        )

    # -- recording a referral --------------------------------------------------------------------

    @route(
        "GET",
        "/referrals/new",
        public=True,
        media="text/html",
        summary="Record a referral: find the person first, or register them with it",
    )
    @signed_in(*WORKING)
    def referral_new(self, page: Page):
        person_id = page.args.get("person_id")
        if person_id:
            identifiers = people_found.identifiers_of(page, person_id)
            return self._referral_form(
                page, person={"person_id": person_id, "identifiers": identifiers}
            )
        if page.args.get("person") == "new":
            return self._referral_form(page, person=None)
        return page.render(
            "referrals/find.html",
            title="Who is the referral for?",
            values={},
            back={"href": "/referrals", "text": "Back to referrals"},
        )

    @route(
        "POST",
        "/referrals/new/find",
        public=True,
        media="text/html",
        summary="Find the person a referral is for, before recording it",
    )
    @signed_in(*WORKING)
    def referral_find(self, page: Page):
        criteria, errors = people_found.search_criteria(page)
        values = people_found.search_values(page)
        if errors:
            return page.invalid(
                "referrals/find.html", title="Who is the referral for?", values=values
            )
        found = people_found.find_people(page, criteria)
        if page.errors:
            return page.invalid(
                "referrals/find.html", title="Who is the referral for?", values=values
            )
        # the new person's details start from what was searched for
        start = {
            "nhs_number": values["nhs_number"],
            "full_name": values["full_name"],
            "date_of_birth": values["date_of_birth"],
        }
        return self._referral_form(
            page,
            person=None,
            values=start,
            candidates=people_found.describe(page, found),
            searched=True,
        )

    @route(
        "POST",
        "/referrals/new",
        public=True,
        status=303,
        media="text/html",
        summary="Record the referral (registering the person with it when they are new)",
    )
    @signed_in(*WORKING)
    @made_once
    def referral_record(self, page: Page):
        form = Form(page.form, page.errors)
        person_id = page.form.get("person_id") or None
        person = None
        if person_id is None:
            person = _person_from(form)
        body = _referral_from(form)
        values = _posted(page)
        existing = None
        if person_id:
            existing = {
                "person_id": person_id,
                "identifiers": people_found.identifiers_of(page, person_id),
            }
        if not form.ok():
            return self._referral_form(page, person=existing, values=values, status=422)
        candidates = []
        if person is not None:
            matches = people_found.possible_matches(page, person)
            if matches:
                candidates = people_found.describe(page, matches)
                choice = page.form.get("use_person", "")
                if choice == "new":
                    pass
                elif choice in matches:
                    person_id, person = choice, None
                else:
                    page.errors["use_person"] = (
                        "Select the person already registered, or say that this is someone new"
                        if choice == ""
                        else "Select one of the people listed, or someone new"
                    )
                    return self._referral_form(
                        page, person=None, values=values, candidates=candidates, status=422
                    )
        body["person_id" if person_id else "person"] = person_id or person
        try:
            made = page.api.post("referrals", "/referrals", body)
        except Refused as refusal:
            if refusal.status not in (409, 422):
                raise
            page.refused(refusal, names=REFERRAL_NAMES)
            return self._referral_form(
                page, person=existing, values=values, candidates=candidates, status=422
            )
        return page.redirect(f"/referrals/{segment(made['referral_id'])}", done="referral-recorded")

    def _referral_form(
        self, page: Page, person, values=None, candidates=(), searched=False, status=200
    ):
        values = {
            "received_on": date_parts(today()),
            "urgency": "routine",
            "risk_level": "none_known",
            "to_contact": "not_asked",
            "to_share": "not_asked",
            **(values or {}),
        }
        return page.render(
            "referrals/new.html",
            status=status,
            title="Record a referral",
            person=person,
            values=values,
            candidates=list(candidates),
            searched=searched,
            sources=SOURCES,
            urgency=URGENCY,
            needs=NEEDS,
            risk=RISK,
            contact=CONTACT,
            genders=GENDER,
            ethnic_groups=ETHNIC_GROUPS,
            consent_answers=CONSENT_ANSWERS,
            back={"href": "/referrals/new", "text": "Back"},
        )

    # -- one referral ----------------------------------------------------------------------------

    @route(
        "GET",
        "/referrals/<string:referral_id>",
        public=True,
        media="text/html",
        summary="A referral: its details, timeline, history and the steps to take on it",
    )
    @signed_in(*WORKING, "safeguarding_lead")
    def referral_page(self, page: Page, referral_id: str):
        path = f"/referrals/{segment(referral_id)}"
        referral = page.api.get("referrals", path)
        history = page.api.get("referrals", path + "/history")
        names = worker_names(page)
        for correction in referral.get("corrections") or []:
            for key in ("previous_value", "value"):
                correction[key + "_words"] = value_words(correction["field"], correction.get(key))
        return page.render(
            "referrals/referral.html",
            title="Referral",
            referral=referral,
            history=history_rows(history, names),
            person_name=person_name(page, referral["person_id"]),
            worker_name=names.get(referral.get("worker_id") or "", referral.get("worker_id")),
            names=names,
            steps=steps_for(page, referral),
            waited=waited_days(referral, today()),
            back={"href": "/referrals", "text": "Back to referrals"},
        )


def _offset(raw) -> int:
    return int(raw) if raw and raw.isdigit() else 0


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def _person_from(form: Form) -> dict:
    person = {
        "full_name": form.text("full_name", "their full name", required=True, max_length=200),
        "date_of_birth": _iso(form.date("date_of_birth", "their date of birth")),
        "nhs_number": form.text("nhs_number", "the NHS number", max_length=20),
        "gender": form.choice("gender", "their gender", dict(GENDER), required=False),
        "ethnicity": form.choice(
            "ethnicity", "their ethnic group", dict(ETHNIC_GROUPS), required=False
        ),
        "postcode": form.text("postcode", "their postcode", max_length=10),
        "phone": form.text("phone", "their phone number", max_length=20),
    }
    return {k: v for k, v in person.items() if v is not None}


def _referral_from(form: Form) -> dict:
    body = {
        "source": form.choice("source", "where the referral came from", dict(SOURCES)),
        "received_on": _iso(form.date("received_on", "the date the referral was received")),
        "urgency": form.choice("urgency", "how urgent it is", dict(URGENCY)),
        "needs": form.choices("needs", "need", dict(NEEDS)),
        "needs_notes": form.text("needs_notes", "notes about their needs", max_length=5000),
        "risk_level": form.choice("risk_level", "the level of risk", dict(RISK)),
        "risk_notes": form.text("risk_notes", "notes about risk", max_length=5000),
        "referrer_organisation": form.text(
            "referrer_organisation", "the referrer's organisation", max_length=200
        ),
        "referrer_contact": form.text("referrer_contact", "the referrer's contact", max_length=500),
        "preferred_contact_mode": form.choice(
            "preferred_contact_mode",
            "how they prefer to be contacted",
            dict(CONTACT),
            required=False,
        ),
        "is_carer_referral": form.data.get("is_carer_referral") == "yes",
    }
    to_contact = form.choice(
        "to_contact", "whether they consent to be contacted", dict(CONSENT_ANSWERS)
    )
    to_share = form.choice("to_share", "whether they consent to sharing", dict(CONSENT_ANSWERS))
    if to_contact and to_share and (to_contact, to_share) != ("not_asked", "not_asked"):
        if "not_asked" in (to_contact, to_share):
            name = "to_contact" if to_contact == "not_asked" else "to_share"
            form.errors.setdefault(name, "Answer both consent questions, or neither")
        body["consent"] = {
            "to_contact": to_contact == "yes",
            "to_share": to_share == "yes",
            "contact_methods": form.choices(
                "contact_methods", "ways to contact them", dict(CONTACT)
            ),
            "contact_times": form.text("contact_times", "when to contact them", max_length=200),
            "recorded_on": today().isoformat(),
        }
    return {k: v for k, v in body.items() if v is not None}


def _posted(page: Page) -> dict:
    """The referral form as it was posted, to show it again."""
    values = {name: page.form.get(name, "") for name in page.form}
    for name in ("needs", "contact_methods"):
        values[name] = page.form.getlist(name)
    for name in ("date_of_birth", "received_on"):
        values[name] = posted_date_parts(page.form, name)
    return values
