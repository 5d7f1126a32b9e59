"""The codes of referrals, people and the workforce as the words workers use, and the choices
the referral and people pages offer. The code lists are the services' own (their domain
modules); only the words are kept here. A code without words of its own is shown by the
`words` filter (`on_hold` -> `On hold`)."""

from __future__ import annotations

import re

from contracts.referrals.codes import (
    CLOSURE_REASONS,
    CONTACT_MODES,
    CORRECTABLE_CODES,
    CORRECTABLE_DATES,
    DECLINE_REASONS,
    DISCHARGE_REASONS,
    ERASURE_REASONS,
    ETHNICITY,
    GENDERS,
    HOLD_REASONS,
    NEED_THEMES,
    OFFER_DECLINE_REASONS,
    OFFER_WITHDRAWAL_REASONS,
    REFERRAL_SOURCES,
    RISK_LEVELS,
    SHAREABLE,
    URGENCIES,
)
from services.web import pages
from services.web.app import words
from shared.config import PARTNERS
from shared.workforce.workers import CASELOAD_ROLES, LEAVING_REASONS

WORDS = {
    # statuses
    "received": "Received",
    "accepted": "Accepted",
    "allocated": "Allocated",
    "active": "Active",
    "on_hold": "On hold",
    "declined": "Declined",
    "discharged": "Discharged",
    "closed_without_contact": "Closed without contact",
    "transferred": "Transferred to a partner",
    "transfer_withdrawn": "Transfer withdrawn by the partner",
    # sources
    "cmht": "Community mental health team",
    "gp": "GP",
    "clinical_step_down": "Step-down from a clinical team",
    "crisis_service": "Crisis service",
    "partner_organisation": "Partner organisation",
    "self": "Self-referral",
    "carer": "Carer",
    # urgency and risk
    "soon": "Soon",
    "none_known": "None known",
    # needs
    "low_mood": "Low mood",
    "self_harm": "Self-harm",
    "suicidal_thoughts": "Suicidal thoughts",
    "money_and_benefits": "Money and benefits",
    "caring_role": "Caring role",
    # contact
    "face_to_face": "Face to face",
    "home_visit": "Home visit",
    "phone": "Phone",
    "text": "Text message",
    "email": "Email",
    # people
    "non_binary": "Non-binary",
    "prefer_not_to_say": "Prefer not to say",
    "not_known": "Not known",
    "not_stated": "Not stated",
    "under_18": "Under 18",
    "65_plus": "65 and over",
    "white": "White",
    "mixed": "Mixed or multiple ethnic groups",
    "asian": "Asian or Asian British",
    "black": "Black, Black British, Caribbean or African",
    # reasons
    "needs_met_elsewhere": "Needs met elsewhere",
    "outside_service_criteria": "Outside the service's criteria",
    "outside_area": "Outside the area",
    "person_declined": "The person declined",
    "unable_to_contact": "Unable to contact",
    "needs_clinical_service": "Needs a clinical service",
    "duplicate_referral": "Duplicate referral",
    "goals_met": "Goals met",
    "disengaged": "Disengaged",
    "moved_away": "Moved away",
    "declined_further_support": "Declined further support",
    "referral_withdrawn": "Referral withdrawn",
    "hospital_admission": "Hospital admission",
    "person_request": "The person asked",
    "worker_absence": "Worker absence",
    "no_capacity": "No capacity",
    "consent_withdrawn": "Consent withdrawn",
    "needs_changed": "Their needs changed",
    "offered_in_error": "Offered in error",
    "recorded_in_error": "Recorded in error",
    "retention_period_ended": "Retention period ended",
    "left_the_organisation": "Left the organisation",
    "changed_role": "Changed role",
    "registered_in_error": "Registered in error",
    # fields a correction names
    "received_on": "Date received",
    "accepted_on": "Date accepted",
    "declined_on": "Date declined",
    "allocated_on": "Date allocated",
    "first_contact_on": "Date of first contact",
    "on_hold_on": "Date put on hold",
    "resumed_on": "Date resumed",
    "discharged_on": "Date discharged",
    "closed_on": "Date closed",
    "source": "Source",
    "needs": "Needs",
    "urgency": "Urgency",
    "risk_level": "Risk level",
    "preferred_contact_mode": "Preferred way of contact",
    "outcome_reason": "Reason it ended",
    # outcome measures
    "swemwbs": "SWEMWBS",
    "wemwbs": "WEMWBS",
    # partners
    "leeds-mind": "Leeds Mind",
    "lslcs": "Leeds Survivor Led Crisis Service",
    "mesmac": "MESMAC",
    # roles
    **{role: pages.role_in_words(role).capitalize() for role in pages.ROLE_WORDS},
}


def say(code) -> str:
    """A code in words (a list of codes as a list in words)."""
    if isinstance(code, list | tuple):
        return ", ".join(say(c) for c in code)
    if code is True:
        return "Yes"
    if code is False:
        return "No"
    if code in (None, ""):
        return ""
    band = _AGE_BAND.match(str(code))
    if band:
        return f"{band.group(1)} to {band.group(2)}"
    return WORDS.get(str(code), words(code))


# an age band as the people API codes it: 18_24
_AGE_BAND = re.compile(r"^(\d+)_(\d+)$")


def event_words(event_type: str) -> str:
    """An event's type as words: `ReferralPutOnHold` -> `Referral put on hold`."""
    spaced = re.sub(r"(?<!^)(?=[A-Z])", " ", event_type).lower()
    return spaced[:1].upper() + spaced[1:]


def options(codes) -> list[tuple[str, str]]:
    """(code, words) pairs for a select, radios or checkboxes."""
    return [(code, say(code)) for code in codes]


SOURCES = options(REFERRAL_SOURCES)
URGENCY = options(URGENCIES)
NEEDS = options(NEED_THEMES)
RISK = options(RISK_LEVELS)
CONTACT = options(CONTACT_MODES)
# what of a person's record an offer may carry to the partner
SHARE_WORDS = {
    "identifiers": "Who they are (name, date of birth, NHS number)",
    "contact": "How to contact them",
    "needs": "Their needs, in the worker's words",
    "risk": "Risk, in the worker's words",
    "history": "The referral's history",
}
SHARES = [(code, SHARE_WORDS.get(code, say(code))) for code in SHAREABLE]
GENDER = options(GENDERS)
ETHNIC_GROUPS = options(ETHNICITY)
REASONS = {
    "decline": options(DECLINE_REASONS),
    "discharge": options(DISCHARGE_REASONS),
    "close": options(CLOSURE_REASONS),
    "hold": options(HOLD_REASONS),
    "offer-decline": options(OFFER_DECLINE_REASONS),
    # an offer is withdrawn for an erased person by the service itself, never by hand
    "offer-withdraw": options(r for r in OFFER_WITHDRAWAL_REASONS if r != "person_erased"),
    "erasure": options(ERASURE_REASONS),
    "leaving": options(LEAVING_REASONS),
}
CORRECTABLE = options(CORRECTABLE_DATES + CORRECTABLE_CODES)
CODED_VALUES = {
    "source": SOURCES,
    "urgency": URGENCY,
    "risk_level": RISK,
    "needs": NEEDS,
    "preferred_contact_mode": CONTACT,
}
DATE_FIELDS = CORRECTABLE_DATES
HOLDS_A_CASELOAD = CASELOAD_ROLES
YES_NO = [("yes", "Yes"), ("no", "No")]


def other_partners(partner_id: str) -> list[tuple[str, str]]:
    return [(p, say(p)) for p in PARTNERS if p != partner_id]


pages.TEMPLATES.filters.update(say=say, event_words=event_words)
