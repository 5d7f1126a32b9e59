"""What a transfer carries: of a person's record and their referral, the parts they consented
to share with the partner it is offered to (identifiers, contact, the worker's words about
needs and risk, the referral's coded history), and nothing else."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from services.referrals.domain.referral import Referral
from shared.events import RecordedEvent

# the vault's identifier fields, by what the person consents to share
PERSON_FIELDS = (
    "full_name",
    "preferred_name",
    "pronouns",
    "date_of_birth",
    "nhs_number",
    "gp_practice",
    "communication_needs",
    "interpreter_language",
)
CONTACT_FIELDS = ("address", "postcode", "phone", "email", "emergency_contact")
# of a referral's events, what its shared history keeps: the step, its date, its codes
_HISTORY_CODES = (
    "source",
    "urgency",
    "risk_level",
    "needs",
    "reason",
    "field",
    "value",
    "previous_value",
    "to_partner",
)
_HISTORY_DATES = (
    "received_on",
    "accepted_on",
    "declined_on",
    "allocated_on",
    "contacted_on",
    "on",
    "discharged_on",
    "closed_on",
    "recorded_on",
    "corrected_on",
    "offered_on",
    "withdrawn_on",
    "transferred_on",
)


def history_step(event: RecordedEvent) -> dict:
    p = event.payload
    on = next((p[name] for name in _HISTORY_DATES if p.get(name)), None)
    codes = {name: p[name] for name in _HISTORY_CODES if p.get(name) is not None}
    return {"event": event.event_type, "on": str(on) if on else None, "codes": codes}


def shared_record(
    shares: Iterable[str],
    identifiers: Mapping[str, str],
    coded: Mapping[str, str],
    referral: Referral,
    events: list[RecordedEvent],
    texts: Mapping[str, str],
) -> dict:
    """What is sealed for the partner: of the person's identifiers (`identifiers`, the vault's;
    `coded`, their registration's codes), the referral's words (`texts`, opened) and its
    events, the parts named in `shares`, and nothing else."""
    shares = list(shares)
    record: dict = {"shares": shares}
    if "identifiers" in shares:
        record["identifiers"] = {k: v for k, v in identifiers.items() if k in PERSON_FIELDS}
        record["gender"] = coded.get("gender")
        record["ethnicity"] = coded.get("ethnicity")
    if "contact" in shares:
        consent = referral.consent or {}
        record["contact"] = {k: v for k, v in identifiers.items() if k in CONTACT_FIELDS}
        record["preferred_contact_mode"] = referral.details.get("preferred_contact_mode")
        record["to_contact"] = consent.get("to_contact")
        record["contact_methods"] = consent.get("contact_methods")
        record["contact_times"] = texts.get("contact_times") or consent.get("contact_times")
    if "needs" in shares:
        record["needs_notes"] = texts.get("needs_notes")
    if "risk" in shares:
        record["risk_notes"] = texts.get("risk_notes")
    if "history" in shares:
        record["history"] = [history_step(event) for event in events]
    return record


# a code that says nothing is known: one the shared record may fill in, and never a difference
UNKNOWN_CODES = ("not_known", "not_stated")


def linked_record(
    held: Mapping[str, str], coded: Mapping[str, str], record: Mapping
) -> tuple[dict, dict, list[dict]]:
    """Linking the shared record to someone registered here: (the identifiers it fills in that
    the record here lacks, the codes it fills in likewise, what the two hold differently). What
    the record here holds is never overwritten: a difference is for the worker to settle."""
    shared = {
        **(record.get("identifiers") or {}),
        **(record.get("contact") or {}),
    }
    shared_codes = {
        name: record.get(name)
        for name in ("gender", "ethnicity")
        if record.get(name) not in UNKNOWN_CODES
    }
    kept_codes = {name: code for name, code in coded.items() if code not in UNKNOWN_CODES}
    filled: dict = {}
    filled_codes: dict = {}
    differing: list[dict] = []
    for values, mine, into in ((shared, held, filled), (shared_codes, kept_codes, filled_codes)):
        for name, value in values.items():
            if value in (None, ""):
                continue
            if mine.get(name) in (None, ""):
                into[name] = value
            elif str(mine[name]).strip() != str(value).strip():
                differing.append({"field": name, "here": str(mine[name]), "shared": str(value)})
    return filled, filled_codes, sorted(differing, key=lambda d: d["field"])
