"""The referrals service's stored events: each event type's payload schema, registered by type
in `registry` with the people's and the workforce's events its store keeps too (an append of an
unknown type or an invalid payload is refused). Every type is at its first version; a later
version registers its upcaster here. Payloads carry coded fields, pseudonymous ids and sealed
text ids: never a name nor a worker's words. Also here: `SharedRecord`, what one partner seals
for another when it offers a referral. The node worker, the sessions service and the hub read
them from here."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from contracts.referrals.codes import (
    AGE_BANDS,
    CLOSURE_REASONS,
    CONTACT_MODES,
    CORRECTABLE_FIELDS,
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
    TRANSFER_WITHDRAWN_ERASURE,
    URGENCIES,
)
from shared.config import PARTNERS
from shared.events import EventRegistry
from shared.fields import Text
from shared.identifiers import IDENTIFIER_FIELDS
from shared.workforce.events import register_events as register_worker_events

registry = EventRegistry()
register_worker_events(registry)


# -- referrals --------------------------------------------------------------------------------


def _reason(choices) -> fields.String:
    return fields.String(required=True, validate=validate.OneOf(choices))


class ConsentPayload(Schema):
    """Consent as events keep it: the words about when to call are in the vault."""

    to_share = fields.Boolean(required=True)
    to_contact = fields.Boolean(required=True)
    contact_methods = fields.List(
        fields.String(validate=validate.OneOf(CONTACT_MODES)), load_default=list
    )
    contact_times_text_id = fields.UUID(load_default=None, allow_none=True)
    # events written before the words were sealed carry them here
    contact_times = fields.String(load_default=None, allow_none=True)
    recorded_on = fields.Date(required=True)
    # with whom and what may be shared (None: any partner, all of it, as consent recorded
    # before these were named meant)
    share_with = fields.List(fields.String(), load_default=None, allow_none=True)
    shares = fields.List(
        fields.String(validate=validate.OneOf(SHAREABLE)), load_default=None, allow_none=True
    )


class ReferrerSchema(Schema):
    organisation = Text(load_default=None, allow_none=True, validate=validate.Length(max=200))
    # the referring professional's name and contact are sealed in the vault, not in events
    contact_text_id = fields.UUID(load_default=None, allow_none=True)


class HistoryStep(Schema):
    """One step of a referral's history as a partner shares it: what happened, when, and its
    codes (never who did it, nor their words)."""

    event = fields.String(required=True)
    on = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Regexp(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"),
        metadata={"description": "The step's date (YYYY-MM-DD)"},
    )
    codes = fields.Dict(keys=fields.String(), load_default=dict)


class TransferOrigin(Schema):
    from_partner = fields.String(required=True, validate=validate.OneOf(PARTNERS))
    offer_id = fields.UUID(required=True)
    referral_id = fields.String(required=True)
    shares = fields.List(fields.String(validate=validate.OneOf(SHAREABLE)), required=True)
    history = fields.List(fields.Nested(HistoryStep), load_default=list)


@registry.event("ReferralReceived")
class ReferralReceivedPayload(Schema):
    person_id = fields.UUID(required=True)
    source = fields.String(required=True, validate=validate.OneOf(sorted(REFERRAL_SOURCES)))
    source_group = fields.String(required=True)
    received_on = fields.Date(required=True)
    urgency = fields.String(required=True, validate=validate.OneOf(URGENCIES))
    referrer = fields.Nested(ReferrerSchema, load_default=None, allow_none=True)
    needs = fields.List(fields.String(validate=validate.OneOf(NEED_THEMES)), load_default=list)
    needs_text_id = fields.UUID(load_default=None, allow_none=True)
    risk_level = fields.String(load_default="none_known", validate=validate.OneOf(RISK_LEVELS))
    risk_text_id = fields.UUID(load_default=None, allow_none=True)
    consent = fields.Nested(ConsentPayload, load_default=None, allow_none=True)
    preferred_contact_mode = fields.String(
        load_default=None, allow_none=True, validate=validate.OneOf(CONTACT_MODES)
    )
    is_carer_referral = fields.Boolean(load_default=False)
    cared_for_person_id = fields.UUID(load_default=None, allow_none=True)
    transferred_from = fields.String(load_default=None, allow_none=True)
    # a referral accepted from a partner's offer: which offer, and the coded history it had there
    transfer = fields.Nested(TransferOrigin, load_default=None, allow_none=True)


def _decision(name: str, by: str, on: str, reasons=None):
    attrs: dict[str, fields.Field] = {
        by: fields.String(required=True),
        on: fields.Date(required=True),
    }
    if reasons:
        attrs["reason"] = _reason(reasons)
    schema = Schema.from_dict(attrs, name=f"{name}Payload")
    registry.register(name, schema)
    return schema


_decision("ReferralAccepted", "accepted_by", "accepted_on")
_decision("ReferralDeclined", "declined_by", "declined_on", DECLINE_REASONS)
_decision("FirstContactMade", "contacted_by", "contacted_on")
_decision("ReferralPutOnHold", "by", "on", HOLD_REASONS)
_decision("ReferralResumed", "by", "on")
_decision("ReferralClosedWithoutContact", "closed_by", "closed_on", CLOSURE_REASONS)


@registry.event("ReferralDischarged")
class ReferralDischargedPayload(Schema):
    discharged_by = fields.String(required=True)
    discharged_on = fields.Date(required=True)
    reason = _reason(DISCHARGE_REASONS)
    # the worker asked for the referral's booked sessions still to come to be cancelled and its
    # open plans closed: the sessions service does it, as events of its own
    close_open_items = fields.Boolean(load_default=False)


@registry.event("ReferralAllocated")
class ReferralAllocatedPayload(Schema):
    worker_id = fields.String(required=True)
    allocated_by = fields.String(required=True)
    allocated_on = fields.Date(required=True)


@registry.event("ReferralReallocated")
class ReferralReallocatedPayload(ReferralAllocatedPayload):
    previous_worker_id = fields.String(required=True)


class OfferedReferral(Schema):
    """What another partner learns of a referral offered to it: coded fields only. The person's
    identifiers follow only on acceptance, over HTTP, as far as their consent allows."""

    source = fields.String(required=True, validate=validate.OneOf(sorted(REFERRAL_SOURCES)))
    urgency = fields.String(required=True, validate=validate.OneOf(URGENCIES))
    needs = fields.List(fields.String(validate=validate.OneOf(NEED_THEMES)), required=True)
    risk_level = fields.String(required=True, validate=validate.OneOf(RISK_LEVELS))
    is_carer_referral = fields.Boolean(required=True)


@registry.event("ReferralOffered")
class ReferralOfferedPayload(OfferedReferral):
    to_partner = fields.String(required=True, validate=validate.OneOf(PARTNERS))
    offered_by = fields.String(required=True)
    offered_on = fields.Date(required=True)
    offer_id = fields.UUID(required=True)
    # what of the person's record was sealed for the partner (offers before records travelled
    # with them have none)
    shares = fields.List(
        fields.String(validate=validate.OneOf(SHAREABLE)), load_default=None, allow_none=True
    )


@registry.event("OfferReceived")
class OfferReceivedPayload(OfferedReferral):
    offer_id = fields.UUID(required=True)
    from_partner = fields.String(required=True, validate=validate.OneOf(PARTNERS))
    referral_id = fields.String(required=True)
    offered_on = fields.Date(required=True)


class PartnersOffer(Schema):
    """An offer another partner made to this one, as this partner's events about it name it:
    the offer, the partner, and the referral at that partner."""

    offer_id = fields.UUID(required=True)
    from_partner = fields.String(required=True)
    referral_id = fields.String(required=True)


@registry.event("OfferAccepted")
class OfferAcceptedPayload(PartnersOffer):
    new_referral_id = fields.String(required=True)
    accepted_by = fields.String(required=True)
    accepted_on = fields.Date(required=True)
    # the person on this node the referral names: registered with it, or linked to someone
    # registered here before (offers accepted before records travelled have neither)
    person_id = fields.UUID(load_default=None, allow_none=True)
    person = fields.String(
        load_default=None, allow_none=True, validate=validate.OneOf(("registered", "linked"))
    )
    # linked: the identifiers the shared record filled in that the person's record here lacked
    # (their names, never their values)
    filled = fields.List(
        fields.String(validate=validate.OneOf(IDENTIFIER_FIELDS)), load_default=None
    )


@registry.event("OfferWithdrawnAfterAcceptance")
class OfferWithdrawnAfterAcceptancePayload(PartnersOffer):
    """The partner had withdrawn its offer before this node's acceptance reached it, and refused
    the acceptance: the referral made here is closed, and the person registered only by the
    acceptance erased (`person_erased`); someone linked is kept, without what the link filled
    in (docs/decisions/0011)."""

    new_referral_id = fields.String(required=True)
    person_id = fields.UUID(load_default=None, allow_none=True)
    person = fields.String(
        load_default=None, allow_none=True, validate=validate.OneOf(("registered", "linked"))
    )
    withdrawn_on = fields.Date(required=True)
    person_erased = fields.Boolean(required=True)


@registry.event("OfferWithdrawn")
class OfferWithdrawnPayload(PartnersOffer):
    """The partner that made the offer withdrew it before it was answered; the person's record
    sealed for this partner was destroyed with it."""

    withdrawn_on = fields.Date(required=True)
    reason = fields.String(required=True, validate=validate.OneOf(OFFER_WITHDRAWAL_REASONS))


@registry.event("TransferredPersonErased")
class TransferredPersonErasedPayload(Schema):
    """The person of a referral transferred to a partner was erased here: the partner is told
    (it answers for its own copy under its own lawful basis)."""

    to_partner = fields.String(required=True)
    offer_id = fields.UUID(required=True)
    erased_on = fields.Date(required=True)


@registry.event("ErasureNoticeReceived")
class ErasureNoticeReceivedPayload(PartnersOffer):
    """The partner a referral came from erased the person there; this node keeps its own copy
    until a partner admin decides (the notice is what they act on)."""

    new_referral_id = fields.String(required=True)
    person_id = fields.UUID(load_default=None, allow_none=True)
    erased_on = fields.Date(required=True)


@registry.event("OfferDeclined")
class OfferDeclinedPayload(PartnersOffer):
    declined_by = fields.String(required=True)
    declined_on = fields.Date(required=True)
    reason = fields.String(required=True, validate=validate.OneOf(OFFER_DECLINE_REASONS))


@registry.event("ReferralOfferDeclined")
class ReferralOfferDeclinedPayload(Schema):
    to_partner = fields.String(required=True)
    declined_on = fields.Date(required=True)


@registry.event("ReferralOfferWithdrawn")
class ReferralOfferWithdrawnPayload(Schema):
    """An offer still open withdrawn by the partner that made it, with a coded reason (the
    person withdrew their consent, say): an answer to it settles nothing."""

    to_partner = fields.String(required=True)
    offer_id = fields.UUID(required=True)
    withdrawn_by = fields.String(required=True)
    withdrawn_on = fields.Date(required=True)
    reason = fields.String(required=True, validate=validate.OneOf(OFFER_WITHDRAWAL_REASONS))


@registry.event("ReferralTransferred")
class ReferralTransferredPayload(Schema):
    to_partner = fields.String(required=True)
    transferred_on = fields.Date(required=True)


@registry.event("OfferAcceptanceRefused")
class OfferAcceptanceRefusedPayload(Schema):
    """The partner's acceptance reached this node after the offer was withdrawn here: refused,
    and the partner told (it closes what it made of the offer; docs/decisions/0011)."""

    to_partner = fields.String(required=True)
    offer_id = fields.UUID(required=True)
    refused_on = fields.Date(required=True)
    reason = fields.String(required=True, validate=validate.OneOf(("offer_withdrawn",)))


@registry.event("ReferralTransferWithdrawn")
class ReferralTransferWithdrawnPayload(Schema):
    """A referral received from a partner's offer, closed: the partner had withdrawn the offer
    before the acceptance reached it, so the transfer never happened."""

    from_partner = fields.String(required=True)
    offer_id = fields.UUID(required=True)
    withdrawn_on = fields.Date(required=True)


@registry.event("ConsentRecorded")
class ConsentRecordedPayload(ConsentPayload):
    recorded_by = fields.String(required=True)


@registry.event("ConsentWithdrawn")
class ConsentWithdrawnPayload(Schema):
    withdrawn_by = fields.String(required=True)
    withdrawn_on = fields.Date(required=True)


@registry.event("ReferralCorrected")
class ReferralCorrectedPayload(Schema):
    """A date or coded field put right: the old value and the new (ISO dates or codes), who,
    when, and why (the worker's words, sealed in the vault under the person's key)."""

    field = fields.String(required=True, validate=validate.OneOf(CORRECTABLE_FIELDS))
    value = fields.Raw(required=True, allow_none=True)
    previous_value = fields.Raw(required=True, allow_none=True)
    corrected_by = fields.String(required=True)
    corrected_on = fields.Date(required=True)
    reason_text_id = fields.UUID(required=True)


# -- between partners -------------------------------------------------------------------------


class SharedRecord(Schema):
    """What a partner seals for the partner it offers a referral to: the parts of the person's
    record they consented to share (`shares`), each left out when not shared."""

    shares = fields.List(fields.String(validate=validate.OneOf(SHAREABLE)), required=True)
    identifiers = fields.Dict(
        keys=fields.String(), values=fields.String(allow_none=True), load_default=None
    )
    gender = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(GENDERS))
    ethnicity = fields.String(
        load_default=None, allow_none=True, validate=validate.OneOf(ETHNICITY)
    )
    contact = fields.Dict(
        keys=fields.String(), values=fields.String(allow_none=True), load_default=None
    )
    preferred_contact_mode = fields.String(
        load_default=None, allow_none=True, validate=validate.OneOf(CONTACT_MODES)
    )
    to_contact = fields.Boolean(load_default=None, allow_none=True)
    contact_methods = fields.List(
        fields.String(validate=validate.OneOf(CONTACT_MODES)), load_default=None, allow_none=True
    )
    contact_times = fields.String(load_default=None, allow_none=True)
    needs_notes = fields.String(load_default=None, allow_none=True)
    risk_notes = fields.String(load_default=None, allow_none=True)
    history = fields.List(fields.Nested(HistoryStep), load_default=None, allow_none=True)


# -- people -----------------------------------------------------------------------------------


@registry.event("PersonRegistered")
class PersonRegisteredPayload(Schema):
    person_id = fields.UUID(required=True)
    age_band = fields.String(
        required=True, validate=validate.OneOf([band for _, _, band in AGE_BANDS])
    )
    gender = fields.String(required=True, validate=validate.OneOf(GENDERS))
    ethnicity = fields.String(required=True, validate=validate.OneOf(ETHNICITY))
    postcode_district = fields.String(allow_none=True, validate=validate.Length(max=4))


@registry.event("PersonDetailsChanged")
class PersonDetailsChangedPayload(Schema):
    person_id = fields.UUID(required=True)
    # which identifiers changed, never their values
    changed = fields.List(fields.String(validate=validate.OneOf(IDENTIFIER_FIELDS)), required=True)
    age_band = fields.String(allow_none=True)
    gender = fields.String(allow_none=True, validate=validate.OneOf(GENDERS))
    ethnicity = fields.String(allow_none=True, validate=validate.OneOf(ETHNICITY))
    postcode_district = fields.String(allow_none=True, validate=validate.Length(max=4))


@registry.event("PersonErased")
class PersonErasedPayload(Schema):
    person_id = fields.UUID(required=True)
    reason_code = fields.String(
        required=True, validate=validate.OneOf((*ERASURE_REASONS, TRANSFER_WITHDRAWN_ERASURE))
    )


@registry.event("PersonRetentionDue")
class PersonRetentionDuePayload(Schema):
    person_id = fields.UUID(required=True)
    last_contact_on = fields.Date(required=True)
    retention_years = fields.Integer(required=True, validate=validate.Range(min=1, max=100))
    review_as_of = fields.Date(required=True)
