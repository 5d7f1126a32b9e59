"""The referrals API's request and response bodies (marshmallow): a referral received, its steps,
its reading and listing, and offers between partners. The stored events they become are
contracts.referrals.events."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate, validates_schema
from marshmallow import ValidationError as SchemaError

from contracts.referrals.codes import (
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
from contracts.referrals.events import SharedRecord, TransferOrigin
from services.referrals.api_people import AuditEntry, RegisterPersonBody
from shared.config import PARTNERS
from shared.web import History, Text, instance_of


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


class LinkDifference(Schema):
    field = fields.String()
    here = fields.String(metadata={"description": "What the person's record here holds (kept)"})
    shared = fields.String(metadata={"description": "What the partner's shared record said"})


class LinkOut(Schema):
    """Accepting with `person_id`: what the shared record did to the linked person's record."""

    filled = fields.List(
        fields.String(),
        metadata={"description": "Fields the record here lacked, filled in from the shared one"},
    )
    differing = fields.List(
        fields.Nested(LinkDifference),
        metadata={
            "description": "Fields the two records hold differently: the one here is kept, for"
            " the worker to correct if the shared one is right"
        },
    )


class OfferOut(Schema):
    offer_id = fields.String()
    version = fields.Integer()
    status = fields.String(
        validate=validate.OneOf(("received", "accepted", "declined", "withdrawn")),
        metadata={
            "description": "withdrawn also when the partner had withdrawn it before the"
            " acceptance reached it (person_erased says whether the person was erased here)"
        },
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
    person_erased = fields.Boolean(
        allow_none=True,
        metadata={
            "description": "Withdrawn after it was accepted here: whether the person, registered"
            " only by the acceptance, was erased"
        },
    )
    link = fields.Nested(LinkOut, allow_none=True, metadata={"description": "Linked, at once"})
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


# What a read of a referral discloses, for the audit trail.
REFERRAL_FIELDS = sorted(instance_of(ReferralOut).fields)


def referral_out(referral, **extra) -> dict:
    """A referral as the client sees it (ReferralOut), with what a route adds to it (the words
    opened, its corrections)."""
    out = instance_of(ReferralOut)
    return {**out.dump(referral.as_dict()), **out.dump(extra)}
