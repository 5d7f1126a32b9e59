"""The steps of a referral's life as pages: a form for each step the signed-in person's role
may take now (accept, decline, allocate, first contact, hold, resume, discharge, close, consent,
offer), and corrections of a date or coded detail with the reason. Each posts with the version
the form was shown at, so a change someone made meanwhile is never overwritten."""

from __future__ import annotations

import re
from dataclasses import dataclass

from services.web.api import Refused, segment
from services.web.app import (
    CASEWORK,
    Page,
    PageRefused,
    changed_once,
    signed_in,
    today,
    uk_date,
    uk_datetime,
)
from services.web.forms import Form, date_parts, posted_date_parts
from services.web.views import people_found
from services.web.views.referral_codes import (
    CODED_VALUES,
    CONTACT,
    CORRECTABLE,
    DATE_FIELDS,
    HOLDS_A_CASELOAD,
    NEEDS,
    REASONS,
    SHARES,
    other_partners,
    say,
)
from shared.web import route

DECIDERS = ("team_lead", "partner_admin")
WORKING = CASEWORK + ("partner_admin",)


@dataclass(frozen=True)
class Step:
    """A step of a referral's life: its page's words, who may take it, in which statuses, the
    referrals API path it posts to, and its form's fields (in order)."""

    title: str
    button: str
    roles: tuple[str, ...]
    states: tuple[str, ...]
    api: str
    fields: tuple[str, ...] = ("on",)
    reasons: str | None = None
    hint: str | None = None
    warning: bool = False
    date_label: str = "Date"
    # taken only while the referral is offered to a partner (True) or only while it is not
    is_for_an_offer: bool = False


OPEN = ("received", "accepted", "allocated", "active", "on_hold")
STEPS = {
    "accept": Step(
        "Accept the referral",
        "Accept referral",
        DECIDERS,
        ("received",),
        "accept",
        date_label="Date accepted",
    ),
    "decline": Step(
        "Decline the referral",
        "Decline referral",
        DECIDERS,
        ("received",),
        "decline",
        ("reason", "on"),
        reasons="decline",
        date_label="Date declined",
        warning=True,
    ),
    "allocate": Step(
        "Allocate the referral",
        "Allocate",
        DECIDERS,
        ("accepted", "allocated", "active", "on_hold"),
        "allocate",
        ("worker_id", "on"),
        date_label="Date allocated",
        hint="Each worker's caseload (allocated, active or on hold) is shown beside their name.",
    ),
    "first-contact": Step(
        "Record first contact",
        "Record first contact",
        WORKING,
        ("allocated",),
        "first-contact",
        date_label="Date of first contact",
        hint="Support becomes active from first contact.",
    ),
    "hold": Step(
        "Put support on hold",
        "Put on hold",
        WORKING,
        ("active",),
        "hold",
        ("reason", "on"),
        reasons="hold",
        date_label="Date put on hold",
    ),
    "resume": Step(
        "Resume support",
        "Resume support",
        WORKING,
        ("on_hold",),
        "resume",
        date_label="Date resumed",
    ),
    "discharge": Step(
        "Discharge from support",
        "Discharge",
        WORKING,
        ("active", "on_hold"),
        "discharge",
        ("reason", "close_open_items", "on"),
        reasons="discharge",
        date_label="Date discharged",
        warning=True,
    ),
    "close": Step(
        "Close without contact",
        "Close referral",
        DECIDERS,
        ("received", "accepted", "allocated"),
        "close",
        ("reason", "on"),
        reasons="close",
        date_label="Date closed",
        warning=True,
    ),
    "consent": Step(
        "Record consent",
        "Record consent",
        WORKING,
        OPEN,
        "consent",
        ("to_contact", "to_share", "contact_methods", "contact_times", "recorded_on"),
        hint="Record what the person has said now; it replaces what was recorded before.",
    ),
    "withdraw-consent": Step(
        "Record consent withdrawn",
        "Record consent withdrawn",
        WORKING,
        OPEN,
        "consent/withdraw",
        date_label="Date withdrawn",
        warning=True,
        hint="The referral can then be offered to no partner until consent is given again.",
    ),
    "offer": Step(
        "Offer to another partner",
        "Offer referral",
        DECIDERS,
        OPEN,
        "offer",
        ("to_partner", "share", "on"),
        date_label="Date offered",
        hint="The person's consent to share must be recorded. Only what it allows is sent.",
    ),
    "withdraw-offer": Step(
        "Withdraw the offer",
        "Withdraw offer",
        DECIDERS,
        OPEN,
        "offer/withdraw",
        ("reason", "on"),
        reasons="offer-withdraw",
        date_label="Date withdrawn",
        warning=True,
        hint="The partner keeps nothing of the person once the offer is withdrawn.",
        is_for_an_offer=True,
    ),
}


# the steps of offering: an offer is made while there is none, withdrawn while there is one
OFFERING = ("offer", "withdraw-offer")


def person_name(page: Page, person_id) -> str | None:
    identifiers = people_found.identifiers_of(page, str(person_id))
    return identifiers.get("full_name") if identifiers else None


def steps_for(page: Page, referral: dict) -> list[tuple[str, str]]:
    """The steps this person may take on the referral now: (key, words)."""
    found = []
    for key, step in STEPS.items():
        if step.is_for_an_offer != bool(referral.get("offered_to")) and key in OFFERING:
            continue
        if page.role in step.roles and referral["status"] in step.states:
            words = step.title
            if key == "allocate" and referral.get("worker_id"):
                words = "Reallocate to another worker"
            found.append((key, words))
    if page.is_role(*WORKING):
        found.append(("correct", "Correct a date or coded detail"))
    return found


def value_words(name: str, value) -> str:
    if value in (None, "", []):
        return "nothing"
    if name in DATE_FIELDS:
        return uk_date(value)
    return say(value)


class ReferralStepPages:
    """Mixed into the web service: a page for each step of a referral, and corrections."""

    @route(
        "GET",
        "/referrals/<string:referral_id>/<string:step>",
        public=True,
        media="text/html",
        summary="The form for one step of a referral (accept, allocate, discharge, ...)",
    )
    @signed_in(*WORKING)
    def referral_step(self, page: Page, referral_id: str, step: str):
        referral, version = self._referral_for(page, referral_id)
        chosen = _step(page, step, referral)
        values = {"on": date_parts(today()), "recorded_on": date_parts(today())}
        if step == "consent" and referral.get("consent"):
            consent = referral["consent"]
            values |= {
                "to_contact": "yes" if consent.get("to_contact") else "no",
                "to_share": "yes" if consent.get("to_share") else "no",
                "contact_methods": consent.get("contact_methods") or [],
            }
        return self._step_form(page, referral, version, step, chosen, values)

    @route(
        "POST",
        "/referrals/<string:referral_id>/<string:step>",
        public=True,
        status=303,
        media="text/html",
        summary="Take one step of a referral (accept, allocate, discharge, ...)",
    )
    @signed_in(*WORKING)
    @changed_once
    def referral_step_taken(self, page: Page, referral_id: str, step: str):
        referral, _ = self._referral_for(page, referral_id)
        chosen = _step(page, step, referral)
        version = page.form.get("version") or None
        form = Form(page.form, page.errors)
        body = _step_body(form, chosen, page.partner_id)
        if form.ok():
            try:
                page.api.post(
                    "referrals", f"/referrals/{segment(referral_id)}/{chosen.api}", body, version
                )
            except Refused as refusal:
                if refusal.status not in (409, 422):
                    raise
                refused(page, refusal, "on")
            else:
                return page.redirect(f"/referrals/{segment(referral_id)}", done="referral-updated")
        values = {name: page.form.get(name, "") for name in chosen.fields}
        values |= {name: posted_date_parts(page.form, name) for name in ("on", "recorded_on")}
        values |= {n: page.form.getlist(n) for n in ("contact_methods", "share")}
        return self._step_form(page, referral, version, step, chosen, values, status=422)

    def _referral_for(self, page: Page, referral_id: str) -> tuple[dict, str | None]:
        return page.api.get_with_version("referrals", f"/referrals/{segment(referral_id)}")

    def _step_form(self, page, referral, version, key, step: Step, values, status=200):
        workers = []
        open_items = None
        if "worker_id" in step.fields:
            workers = _allocatable(page, referral.get("worker_id"))
        if key == "discharge":
            open_items = _open_items(
                page.api.get(
                    "referrals", f"/referrals/{segment(referral['referral_id'])}/open-items"
                ),
                referral["referral_id"],
            )
        return page.render(
            "referrals/step.html",
            status=status,
            title=step.title
            if key != "allocate" or not referral.get("worker_id")
            else "Reallocate the referral",
            step=step,
            key=key,
            referral=referral,
            person_name=person_name(page, referral["person_id"]),
            version=version,
            values=values,
            reasons=REASONS.get(step.reasons or "", []),
            workers=workers,
            open_items=open_items,
            partners=other_partners(page.partner_id),
            shares=SHARES,
            contact=CONTACT,
            yes_no=[("yes", "Yes"), ("no", "No")],
            back={"href": f"/referrals/{referral['referral_id']}", "text": "Back to the referral"},
        )

    # -- corrections -----------------------------------------------------------------------------

    @route(
        "GET",
        "/referrals/<string:referral_id>/correct",
        public=True,
        media="text/html",
        summary="Correct a date or coded detail of a referral, saying why",
    )
    @signed_in(*WORKING)
    def referral_correct(self, page: Page, referral_id: str):
        referral, version = self._referral_for(page, referral_id)
        name = page.args.get("field", "")
        values = {}
        if name in DATE_FIELDS:
            values["value"] = date_parts(referral.get("timeline", {}).get(name))
        elif name in CODED_VALUES or name == "outcome_reason":
            values["value"] = referral.get(name)
        return self._correct_form(page, referral, version, name, values)

    @route(
        "POST",
        "/referrals/<string:referral_id>/correct",
        public=True,
        status=303,
        media="text/html",
        summary="Record the correction of a referral's date or coded detail",
    )
    @signed_in(*WORKING)
    @changed_once
    def referral_corrected(self, page: Page, referral_id: str):
        referral, _ = self._referral_for(page, referral_id)
        version = page.form.get("version") or None
        name = page.form.get("field", "")
        form = Form(page.form, page.errors)
        choices = _correction_choices(referral)
        if name not in dict(choices):
            form.errors["field"] = "Select what to correct"
            return self._correct_form(page, referral, version, "", {}, status=422)
        if name in DATE_FIELDS:
            given = form.date("value", "the correct date")
            value = given.isoformat() if given else None
            shown = posted_date_parts(page.form, "value")
        elif name == "needs":
            value = form.choices("value", "needs", dict(NEEDS))
            shown = value
        else:
            value = form.choice("value", "the correct value", dict(_coded(name, referral)))
            shown = page.form.get("value", "")
        reason = form.text("reason", "why it is being corrected", required=True, max_length=1000)
        if form.ok():
            try:
                page.api.post(
                    "referrals",
                    f"/referrals/{segment(referral_id)}/correct",
                    {"field": name, "value": value, "reason": reason},
                    version,
                )
            except Refused as refusal:
                if refusal.status not in (409, 422):
                    raise
                refused(page, refusal, "value")
            else:
                return page.redirect(f"/referrals/{segment(referral_id)}", done="referral-updated")
        values = {"value": shown, "reason": page.form.get("reason", "")}
        return self._correct_form(page, referral, version, name, values, status=422)

    def _correct_form(self, page, referral, version, name, values, status=200):
        choices = _correction_choices(referral)
        if name not in dict(choices):
            name = ""
        current = None
        if name in DATE_FIELDS:
            current = referral.get("timeline", {}).get(name)
        elif name:
            current = referral.get(name)
        return page.render(
            "referrals/correct.html",
            status=status,
            title="Correct the referral",
            referral=referral,
            version=version,
            field_name=name,
            choices=choices,
            is_date=name in DATE_FIELDS,
            options=_coded(name, referral) if name and name not in DATE_FIELDS else [],
            current=current,
            values=values,
            back={"href": f"/referrals/{referral['referral_id']}", "text": "Back to the referral"},
        )


def refused(page: Page, refusal: Refused, date_field: str) -> None:
    """A refusal shown on a step's form: a timeline that would run backwards is said in words
    at the form's date, the rest where the service's answer names them."""
    if refusal.status == 409 and _TIMELINE_DATE.search(refusal.message):
        words = _TIMELINE_DATE.sub(
            lambda m: f"{say(m.group(1).lower()).lower()} ({uk_date(m.group(2))})", refusal.message
        )
        page.errors[date_field] = words[:1].upper() + words[1:].rstrip(".") + "."
        return
    page.refused(refusal)


# a referral's step and its date as the service names them: "allocated_on 2026-11-30"
_TIMELINE_DATE = re.compile(r"\b([a-z_]+_on) (\d{4}-\d{2}-\d{2})\b", re.IGNORECASE)


def _open_items(found: dict, referral_id: str) -> dict:
    """What is still open for the person, in words, each linked to where it is closed."""
    items = []
    for item in found.get("open_items") or []:
        words = _ISO_INSTANT.sub(lambda m: uk_datetime(m.group(0)), item["summary"])
        pages = {"session": "/sessions/", "plan": "/plans/"}
        items.append(
            {
                "words": words[:1].upper() + words[1:],
                "href": pages.get(item["kind"], "/") + segment(item["id"]),
                "is_this_referral": item.get("referral_id") == referral_id,
            }
        )
    # the warnings that repeat an open item are shown by the item itself
    warnings = [w for w in found.get("warnings") or [] if "still open" not in w]
    return {"items": items, "warnings": warnings}


_ISO_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:\d{2}|Z)?")


def _step(page: Page, key: str, referral: dict) -> Step:
    step = STEPS.get(key)
    if step is None:
        raise PageRefused(404, "Page not found", "There is no such step of a referral.")
    page.require(*step.roles)
    return step


def _allocatable(page: Page, current: str | None) -> list[tuple[str, str]]:
    workers = page.api.get("referrals", "/workers", status="registered", limit=500)["items"]
    loads = {
        w["worker_id"]: w["caseload"]
        for w in page.api.get("referrals", "/caseloads")["workers"]
        if w.get("worker_id")
    }
    options = []
    for worker in workers:
        if worker["worker_id"] == current or not set(worker["roles"]) & set(HOLDS_A_CASELOAD):
            continue
        name = page.name_of(worker["worker_id"])
        load = loads.get(worker["worker_id"], 0)
        options.append((worker["worker_id"], f"{name} ({load} on caseload)"))
    return sorted(options, key=lambda o: o[1].lower())


def _step_body(form: Form, step: Step, partner_id: str) -> dict:
    body: dict = {}
    for name in step.fields:
        if name == "on":
            on = form.date("on", step.date_label.lower())
            body["on"] = on.isoformat() if on else None
        elif name == "recorded_on":
            on = form.date("recorded_on", "the date consent was recorded")
            body["recorded_on"] = on.isoformat() if on else None
        elif name == "reason":
            body["reason"] = form.choice("reason", "a reason", dict(REASONS[step.reasons]))
        elif name == "worker_id":
            body["worker_id"] = form.text("worker_id", "the worker", required=True)
        elif name == "close_open_items":
            answer = form.choice(
                "close_open_items", "whether to cancel and close what is still open", ("yes", "no")
            )
            body["close_open_items"] = answer == "yes"
        elif name in ("to_contact", "to_share"):
            label = (
                "whether they consent to be contacted"
                if name == "to_contact"
                else ("whether they consent to their referral being shared")
            )
            body[name] = form.choice(name, label, ("yes", "no")) == "yes"
        elif name == "contact_methods":
            body[name] = form.choices(name, "ways to contact them", dict(CONTACT))
        elif name == "contact_times":
            body[name] = form.text(name, "when to contact them", max_length=200)
        elif name == "to_partner":
            body[name] = form.choice(name, "the partner", dict(other_partners(partner_id)))
        elif name == "share":
            body[name] = form.choices(name, "what to share", dict(SHARES), required=True)
    return body


def _correction_choices(referral: dict) -> list[tuple[str, str]]:
    recorded = set(referral.get("timeline") or {})
    choices = [
        (code, words) for code, words in CORRECTABLE if code not in DATE_FIELDS or code in recorded
    ]
    if referral.get("outcome_reason"):
        choices.append(("outcome_reason", say("outcome_reason")))
    return choices


def _coded(name: str, referral: dict) -> list[tuple[str, str]]:
    if name == "outcome_reason":
        key = {"declined": "decline", "discharged": "discharge", "closed_without_contact": "close"}
        return REASONS.get(key.get(referral.get("status"), ""), [])
    return CODED_VALUES.get(name, [])
