"""Referral request bodies, event payloads and responses."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from shared.events import EventRegistry

registry = EventRegistry()

# Referral source groups follow the NHS Mental Health Services Data Set groups; Peerlink keeps
# a readable code for the workers and maps to the national group in reports.
REFERRAL_SOURCES = {
    "cmht": "local_authority_or_nhs_secondary",
    "gp": "primary_care",
    "clinical_step_down": "internal_nhs",
    "crisis_service": "acute_care",
    "partner_organisation": "independent_or_voluntary",
    "self": "self_referral",
    "carer": "self_referral",
    "other": "other",
}
URGENCIES = ("routine", "soon", "urgent")


@registry.event("ReferralReceived")
class ReferralReceivedPayload(Schema):
    person_id = fields.UUID(required=True)
    source = fields.String(required=True, validate=validate.OneOf(sorted(REFERRAL_SOURCES)))
    received_on = fields.Date(required=True)
    urgency = fields.String(required=True, validate=validate.OneOf(URGENCIES))


class ReceiveReferralBody(Schema):
    person_id = fields.UUID(required=True)
    source = fields.String(required=True, validate=validate.OneOf(sorted(REFERRAL_SOURCES)))
    received_on = fields.Date(required=True)
    urgency = fields.String(load_default="routine", validate=validate.OneOf(URGENCIES))


class ReferralOut(Schema):
    referral_id = fields.UUID()
    version = fields.Integer()
    status = fields.String()
    person_id = fields.UUID()
    source = fields.String()
    received_on = fields.Date()
    urgency = fields.String()
