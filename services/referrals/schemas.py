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
    OPEN_STATES,
    REFERRAL_SOURCES,
    RISK_LEVELS,
    URGENCIES,
)
from services.referrals.people import AuditEntry, RegisterPersonBody, Text
from services.referrals.people import register_events as register_people_events
from services.referrals.workforce import register_events as register_worker_events
from shared.config import PARTNERS
from shared.events import EventRegistry
from shared.web import History

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


class ReferrerSchema(Schema):
    organisation = Text(load_default=None, allow_none=True, validate=validate.Length(max=200))
    # the referring professional's name and contact are sealed in the vault, not in events
    contact_text_id = fields.UUID(load_default=None, allow_none=True)


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
_decision("ReferralDischarged", "discharged_by", "discharged_on", DISCHARGE_REASONS)
_decision("ReferralClosedWithoutContact", "closed_by", "closed_on", CLOSURE_REASONS)


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


class CloseBody(DatedBody):
    reason = _reason(CLOSURE_REASONS)


class OfferBody(DatedBody):
    to_partner = fields.String(required=True, validate=validate.OneOf(PARTNERS))


class OfferDeclineBody(DatedBody):
    reason = _reason(OFFER_DECLINE_REASONS)


class ConsentBody(ConsentSchema, VersionedBody):
    """Consent recorded after the referral was made (or recorded again)."""


class CorrectBody(DatedBody):
    """`on`: the day the correction is made; `value`: an ISO date for a date field, a code (a
    list of codes for needs) for a coded one; `reason`: why, in the worker's words."""

    field = fields.String(required=True, validate=validate.OneOf(CORRECTABLE_FIELDS))
    value = fields.Raw(required=True)
    reason = Text(required=True, validate=validate.Length(min=1, max=1000))


class OfferOut(Schema):
    offer_id = fields.String()
    version = fields.Integer()
    status = fields.String()
    from_partner = fields.String()
    referral_id = fields.String()
    offered_on = fields.String()
    source = fields.String()
    urgency = fields.String()
    needs = fields.List(fields.String())
    risk_level = fields.String()
    is_carer_referral = fields.Boolean()
    new_referral_id = fields.String(allow_none=True)


class AuditQuery(Schema):
    person_id = fields.UUID(required=True)
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0))


class OfferListQuery(Schema):
    class Meta:
        unknown = EXCLUDE

    status = fields.String(validate=validate.OneOf(("received", "accepted", "declined")))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0))


class ListQuery(Schema):
    class Meta:
        unknown = EXCLUDE

    status = fields.String(validate=validate.OneOf(OPEN_STATES + ENDED_STATES))
    worker_id = fields.String(validate=validate.Length(min=1, max=200))
    source = fields.String(validate=validate.OneOf(sorted(REFERRAL_SOURCES)))
    overdue = fields.Boolean()
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0))


# -- responses --------------------------------------------------------------------------------


class OpenItem(Schema):
    kind = fields.String()
    id = fields.String()
    summary = fields.String()
    to_close = fields.String()


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
    referrer = fields.Dict(allow_none=True)
    consent = fields.Dict(allow_none=True)
    consent_withdrawn_on = fields.Date(allow_none=True)
    # each step's date (the latest allocation's), corrections applied
    timeline = fields.Dict(keys=fields.String(), values=fields.Date())
    # the free text sealed with the referral, opened for those who may read it (audited)
    texts = fields.Dict(keys=fields.String(), values=fields.String())
    # on discharge: what is still open for the person (future sessions, open plans)
    # each correction: field, previous_value, value, corrected_by, corrected_on, reason
    corrections = fields.List(fields.Dict())
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
