"""Referral request bodies, event payloads and responses."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate, validates_schema
from marshmallow import ValidationError as SchemaError

from services.referrals.domain import (
    CLOSURE_REASONS,
    CONTACT_MODES,
    CORRECTABLE_FIELDS,
    DECLINE_REASONS,
    DISCHARGE_REASONS,
    ENDED_STATES,
    HOLD_REASONS,
    NEED_THEMES,
    OFFER_DECLINE_REASONS,
    OFFER_WITHDRAWAL_REASONS,
    OPEN_STATES,
    REFERRAL_SOURCES,
    RISK_LEVELS,
    SHAREABLE,
    URGENCIES,
)
from services.referrals.people import (
    ETHNICITY,
    GENDERS,
    AuditEntry,
    RegisterPersonBody,
    Text,
)
from services.referrals.people import register_events as register_people_events
from shared.config import PARTNERS
from shared.events import EventRegistry
from shared.web import History
from shared.workforce.roster import register_events as register_worker_events

registry = EventRegistry()
register_people_events(registry)
register_worker_events(registry)


def _reason(choices):
    return fields.String(required=True, validate=validate.OneOf(choices))


class ConsentSchema(Schema):
    """Consent as a worker records it; `contact_times` is the person's words, sealed."""

    to_share = fields.Boolean(required=True)
    to_contact = fields.Boolean(required=True)
    contact_methods = fields.List(
        fields.String(validate=validate.OneOf(CONTACT_MODES)),
        load_default=list,
        validate=validate.Length(max=len(CONTACT_MODES)),
    )
    contact_times = Text(load_default=None, allow_none=True, validate=validate.Length(max=200))
    recorded_on = fields.Date(required=True)
    share_with = fields.List(
        fields.String(validate=validate.OneOf(PARTNERS)),
        load_default=None,
        allow_none=True,
        metadata={
            "description": "The partners the person's referral may be offered to (left out: any"
            " partner of the alliance)"
        },
    )
    shares = fields.List(
        fields.String(validate=validate.OneOf(SHAREABLE)),
        load_default=None,
        allow_none=True,
        metadata={
            "description": "What of their record may be sealed for that partner: identifiers,"
            " contact (details and preferences), needs and risk (the worker's words), history"
            " (the referral's coded steps); left out: all of it"
        },
    )


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
    attrs = {by: fields.String(required=True), on: fields.Date(required=True)}
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


@registry.event("OfferAccepted")
class OfferAcceptedPayload(Schema):
    offer_id = fields.UUID(required=True)
    from_partner = fields.String(required=True)
    referral_id = fields.String(required=True)
    new_referral_id = fields.String(required=True)
    accepted_by = fields.String(required=True)
    accepted_on = fields.Date(required=True)
    # the person on this node the referral names: registered with it, or linked to someone
    # registered here before (offers accepted before records travelled have neither)
    person_id = fields.UUID(load_default=None, allow_none=True)
    person = fields.String(
        load_default=None, allow_none=True, validate=validate.OneOf(("registered", "linked"))
    )


@registry.event("OfferWithdrawn")
class OfferWithdrawnPayload(Schema):
    """The partner that made the offer withdrew it before it was answered; the person's record
    sealed for this partner was destroyed with it."""

    offer_id = fields.UUID(required=True)
    from_partner = fields.String(required=True)
    referral_id = fields.String(required=True)
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
class ErasureNoticeReceivedPayload(Schema):
    """The partner a referral came from erased the person there; this node keeps its own copy
    until a partner admin decides (the notice is what they act on)."""

    offer_id = fields.UUID(required=True)
    from_partner = fields.String(required=True)
    referral_id = fields.String(required=True)
    new_referral_id = fields.String(required=True)
    person_id = fields.UUID(load_default=None, allow_none=True)
    erased_on = fields.Date(required=True)


@registry.event("OfferDeclined")
class OfferDeclinedPayload(Schema):
    offer_id = fields.UUID(required=True)
    from_partner = fields.String(required=True)
    referral_id = fields.String(required=True)
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


# -- requests ---------------------------------------------------------------------------------


class VersionedBody(Schema):
    """Optimistic concurrency: the version the client last saw (or an If-Match header)."""

    expected_version = fields.Integer(load_default=None, validate=validate.Range(min=1))


class ReceiveReferralBody(Schema):
    """The person referred is one registered on this node (`person_id`), or registered with the
    referral (`person`: the same fields as POST /people), in one transaction; so is a carer
    referral's cared-for person (`cared_for_person_id` or `cared_for_person`)."""

    person_id = fields.UUID(load_default=None)
    person = fields.Nested(RegisterPersonBody, load_default=None)
    source = fields.String(required=True, validate=validate.OneOf(sorted(REFERRAL_SOURCES)))
    received_on = fields.Date(required=True)
    urgency = fields.String(load_default="routine", validate=validate.OneOf(URGENCIES))
    referrer_organisation = Text(load_default=None, validate=validate.Length(min=1, max=200))
    referrer_contact = Text(load_default=None, validate=validate.Length(min=1, max=500))
    needs = fields.List(
        fields.String(validate=validate.OneOf(NEED_THEMES)),
        load_default=list,
        validate=validate.Length(max=len(NEED_THEMES)),
    )
    needs_notes = Text(load_default=None, validate=validate.Length(min=1, max=5000))
    risk_level = fields.String(load_default="none_known", validate=validate.OneOf(RISK_LEVELS))
    risk_notes = Text(load_default=None, validate=validate.Length(min=1, max=5000))
    consent = fields.Nested(ConsentSchema, load_default=None)
    preferred_contact_mode = fields.String(
        load_default=None, validate=validate.OneOf(CONTACT_MODES)
    )
    is_carer_referral = fields.Boolean(load_default=False)
    cared_for_person_id = fields.UUID(load_default=None)
    cared_for_person = fields.Nested(RegisterPersonBody, load_default=None)

    @validates_schema
    def _one_person(self, data, **kwargs):
        if (data.get("person_id") is None) == (data.get("person") is None):
            raise SchemaError(
                "give person_id (someone registered here) or person (to register them now)",
                "person_id",
            )
        if data.get("cared_for_person_id") and data.get("cared_for_person"):
            raise SchemaError(
                "give cared_for_person_id or cared_for_person, not both", "cared_for_person_id"
            )

    @validates_schema
    def _carer_link(self, data, **kwargs):
        for name in ("cared_for_person_id", "cared_for_person"):
            if data.get(name) and not data.get("is_carer_referral"):
                raise SchemaError(
                    "is allowed only on a carer referral (is_carer_referral true)", name
                )


class DatedBody(VersionedBody):
    on = fields.Date(load_default=None)


class DeclineBody(DatedBody):
    reason = _reason(DECLINE_REASONS)


class AllocateBody(DatedBody):
    worker_id = Text(required=True, validate=validate.Length(min=1, max=200))


class HoldBody(DatedBody):
    reason = _reason(HOLD_REASONS)


class DischargeBody(DatedBody):
    reason = _reason(DISCHARGE_REASONS)
    # cancel the referral's sessions booked from today on and close its open plans
    close_open_items = fields.Boolean(load_default=False)


class CloseBody(DatedBody):
    reason = _reason(CLOSURE_REASONS)


class OfferBody(DatedBody):
    to_partner = fields.String(required=True, validate=validate.OneOf(PARTNERS))
    share = fields.List(
        fields.String(validate=validate.OneOf(SHAREABLE)),
        load_default=None,
        validate=validate.Length(min=1),
        metadata={
            "description": "What of the person's record to seal for the partner (left out: all"
            " that their consent allows; identifiers always)"
        },
    )


class OfferWithdrawBody(DatedBody):
    reason = _reason(OFFER_WITHDRAWAL_REASONS)


class OfferDeclineBody(DatedBody):
    reason = _reason(OFFER_DECLINE_REASONS)


class AcceptOfferBody(DatedBody):
    """Accepting registers the person on this node, unless someone registered here may be them
    (the same NHS number, or name and date of birth): then it is 409
    TransferredPersonMayBeRegisteredHere naming the `candidates`, and the worker answers with
    `person_id` (it is them: link the referral to them) or `register_person` (someone else)."""

    person_id = fields.UUID(
        load_default=None,
        metadata={"description": "Link the referral to this person, registered here already"},
    )
    register_person = fields.Boolean(
        load_default=False,
        metadata={"description": "Register the person as new, whoever else is registered here"},
    )

    @validates_schema
    def _one_answer(self, data, **kwargs):
        if data.get("person_id") and data.get("register_person"):
            raise SchemaError("give person_id or register_person, not both", "person_id")


class ConsentBody(ConsentSchema, VersionedBody):
    """Consent recorded after the referral was made (or recorded again)."""


class CorrectBody(DatedBody):
    """`on`: the day the correction is made; `value`: an ISO date for a date field, a code (a
    list of codes for needs) for a coded one; `reason`: why, in the worker's words."""

    field = fields.String(required=True, validate=validate.OneOf(CORRECTABLE_FIELDS))
    value = fields.Raw(required=True)
    reason = Text(required=True, validate=validate.Length(min=1, max=1000))


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


class OfferOut(Schema):
    offer_id = fields.String()
    version = fields.Integer()
    status = fields.String(
        validate=validate.OneOf(("received", "accepted", "declined", "withdrawn"))
    )
    from_partner = fields.String()
    referral_id = fields.String()
    offered_on = fields.String()
    source = fields.String()
    urgency = fields.String()
    needs = fields.List(fields.String())
    risk_level = fields.String()
    is_carer_referral = fields.Boolean()
    new_referral_id = fields.String(allow_none=True)
    person_record = fields.String(
        validate=validate.OneOf(("arrived", "awaited", "destroyed")),
        metadata={
            "description": "The person's record sealed for this partner: arrived (and kept until"
            " the offer is answered), awaited, or destroyed (declined, withdrawn, or accepted:"
            " then it is the person's record here)"
        },
    )
    record = fields.Nested(
        SharedRecord,
        allow_none=True,
        metadata={"description": "GET /offers/{offer_id} while it is open: the record (audited)"},
    )
    person_id = fields.UUID(allow_none=True, metadata={"description": "Once accepted"})
    person = fields.String(
        allow_none=True,
        validate=validate.OneOf(("registered", "linked")),
        metadata={"description": "Once accepted: registered with it, or linked to someone here"},
    )
    withdrawn_on = fields.String(allow_none=True, metadata={"description": "YYYY-MM-DD"})
    erasure_noticed_on = fields.String(
        allow_none=True,
        metadata={
            "description": "The day (YYYY-MM-DD) the partner it came from erased the person there"
        },
    )


class AuditQuery(Schema):
    person_id = fields.UUID(required=True)
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0))


class OfferListQuery(Schema):
    class Meta:
        unknown = EXCLUDE

    status = fields.String(
        validate=validate.OneOf(("received", "accepted", "declined", "withdrawn"))
    )
    erasure_noticed = fields.Boolean(
        metadata={"description": "Only offers whose person the offering partner erased since"}
    )
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0))


class ListQuery(Schema):
    class Meta:
        unknown = EXCLUDE

    status = fields.String(validate=validate.OneOf(OPEN_STATES + ENDED_STATES))
    worker_id = fields.String(validate=validate.Length(min=1, max=200))
    source = fields.String(validate=validate.OneOf(sorted(REFERRAL_SOURCES)))
    person_id = fields.UUID(metadata={"description": "Only the referrals of this person"})
    overdue = fields.Boolean()
    # each listed person's name opened from the vault, every one an audited read of them
    names = fields.Boolean(load_default=False)
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0))


# -- responses --------------------------------------------------------------------------------


class OpenItem(Schema):
    kind = fields.String(validate=validate.OneOf(("session", "plan")))
    id = fields.String()
    summary = fields.String()
    to_close = fields.String()
    referral_id = fields.String(
        allow_none=True, metadata={"description": "The referral it was booked or drafted for"}
    )
    is_closing = fields.Boolean(
        metadata={
            "description": "Cancelled or closed by the sessions service with this discharge"
            " (close_open_items: the referral's own sessions and plans)"
        }
    )


class ReferralOut(Schema):
    referral_id = fields.String()
    version = fields.Integer()
    status = fields.String()
    person_id = fields.UUID()
    source = fields.String()
    source_group = fields.String()
    received_on = fields.Date()
    urgency = fields.String()
    worker_id = fields.String(allow_none=True)
    first_contact_on = fields.Date(allow_none=True)
    needs = fields.List(fields.String())
    risk_level = fields.String()
    preferred_contact_mode = fields.String(allow_none=True)
    is_carer_referral = fields.Boolean()
    cared_for_person_id = fields.UUID(allow_none=True)
    offered_to = fields.String(allow_none=True)
    outcome_reason = fields.String(allow_none=True)
    transferred_from = fields.String(allow_none=True)
    transferred_to = fields.String(allow_none=True)
    transfer = fields.Nested(
        TransferOrigin,
        allow_none=True,
        metadata={"description": "Accepted from a partner's offer: the offer and its history"},
    )
    referrer = fields.Dict(allow_none=True)
    consent = fields.Dict(allow_none=True)
    consent_withdrawn_on = fields.Date(allow_none=True)
    # each step's date (the latest allocation's), corrections applied
    timeline = fields.Dict(keys=fields.String(), values=fields.Date())
    # the free text sealed with the referral, opened for those who may read it (audited)
    texts = fields.Dict(keys=fields.String(), values=fields.String())
    # each correction: field, previous_value, value, corrected_by, corrected_on, reason
    corrections = fields.List(fields.Dict())
    # on discharge: what is still open for the person (future sessions, open plans)
    open_items = fields.List(fields.Nested(OpenItem))
    warnings = fields.List(fields.String())


class ReferralListItem(Schema):
    referral_id = fields.String()
    person_id = fields.UUID()
    status = fields.String(validate=validate.OneOf(OPEN_STATES + ENDED_STATES))
    source = fields.String(validate=validate.OneOf(sorted(REFERRAL_SOURCES)))
    urgency = fields.String(validate=validate.OneOf(URGENCIES))
    worker_id = fields.String(allow_none=True)
    received_on = fields.Date()
    first_contact_due_on = fields.Date()
    first_contact_on = fields.Date(allow_none=True)
    is_carer_referral = fields.Boolean()
    version = fields.Integer()
    is_first_contact_overdue = fields.Boolean()
    # with names=true: the person's name ("erased" once they are)
    full_name = fields.String(allow_none=True)


class ReferralPage(Schema):
    items = fields.List(fields.Nested(ReferralListItem))
    total = fields.Integer()
    limit = fields.Integer()
    offset = fields.Integer()


class ReferralHistory(History):
    referral_id = fields.String()
    texts = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        metadata={"description": 'The sealed words the events name, by text id (or "erased")'},
    )


class WorkerCaseload(Schema):
    worker_id = fields.String(allow_none=True)
    caseload = fields.Integer(metadata={"description": "Referrals allocated, active or on hold"})
    is_over_cap = fields.Boolean(metadata={"description": "At or over the caseload cap"})


class Caseloads(Schema):
    caseload_cap = fields.Integer()
    workers = fields.List(fields.Nested(WorkerCaseload))


class AuditTrail(Schema):
    person_id = fields.UUID()
    entries = fields.List(fields.Nested(AuditEntry))
    total = fields.Integer()
    limit = fields.Integer()
    offset = fields.Integer()


class OfferPage(Schema):
    items = fields.List(fields.Nested(OfferOut))
    total = fields.Integer()
    limit = fields.Integer()
    offset = fields.Integer()
