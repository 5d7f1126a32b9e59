"""The safeguarding service's stored events: each event type's payload schema, registered by
type in `registry` (an append of an unknown type or an invalid payload is refused). Every type
is at its first version; a later version registers its upcaster here. Payloads carry coded
fields, people's pseudonymous ids and sealed text ids: never free text. The node worker and
the hub read them from here."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from contracts.safeguarding.codes import (
    ACTION_KINDS,
    ACTION_OUTCOMES,
    AGE_GROUPS,
    AGENCIES,
    ALLEGED_RELATIONSHIPS,
    CATEGORIES,
    CLOSING_OUTCOMES,
    DEADLINES,
    DECISIONS,
    DESIRED_OUTCOMES_MET,
    DISMISS_REASONS,
    IMMEDIATE_ACTIONS,
    NO_FURTHER_ACTION_REASONS,
    NOTIFICATION_CHANNELS,
    SEVERITIES,
    SIGNALS,
    WITHOUT_CONSENT_REASONS,
)
from shared.events import EventRegistry

registry = EventRegistry()

ALL_CATEGORIES = tuple(c for group in AGE_GROUPS for c in CATEGORIES[group])


def code(choices, **kwargs):
    """One code of a list."""
    return fields.String(validate=validate.OneOf(choices), **kwargs)


def optional_code(choices):
    return code(choices, load_default=None, allow_none=True)


def codes(choices, minimum: int = 0, **kwargs):
    """Codes of a list, each at most once."""
    return fields.List(
        fields.String(validate=validate.OneOf(choices)),
        validate=validate.Length(min=minimum, max=len(choices)),
        **kwargs,
    )


def text_id():
    return fields.UUID(load_default=None, allow_none=True)


def who():
    return fields.String(required=True, validate=validate.Length(min=1, max=200))


def when():
    return fields.AwareDateTime(required=True)


def ladder_rung():
    """A rung of the partner's ladder (duty_lead, deputy_lead, head_of_service by default)."""
    return fields.String(required=True, validate=validate.Length(min=1, max=50))


def unsealed_agency_reference():
    """An agency's reference in the clear: kept in decisions and revisions recorded before
    references were sealed, never written now (agency_reference_text_id instead)."""
    return fields.String(
        load_default=None, allow_none=True, validate=validate.Length(min=1, max=100)
    )


@registry.event("ConcernSuggested")
class ConcernSuggestedPayload(Schema):
    person_id = fields.UUID(required=True)
    signal = code(SIGNALS, required=True)
    # the events (e.g. did-not-attends) that made the system suggest it
    source_event_ids = fields.List(fields.UUID(), load_default=list)
    suggested_at = when()


class ConcernDetailsPayload(Schema):
    person_id = fields.UUID(load_default=None, allow_none=True)
    description_text_id = text_id()
    age_group = code(AGE_GROUPS, required=True)
    categories = codes(ALL_CATEGORIES, minimum=1, required=True)
    severity = code(SEVERITIES, required=True)
    immediate_risk = fields.Boolean(required=True)
    what_happened_text_id = fields.UUID(required=True)
    happened_on = fields.Date(load_default=None, allow_none=True)
    is_ongoing = fields.Boolean(load_default=None, allow_none=True)
    children_at_risk = fields.Boolean(load_default=None, allow_none=True)
    alleged_relationship = optional_code(ALLEGED_RELATIONSHIPS)
    actions_taken = codes(IMMEDIATE_ACTIONS, minimum=1, required=True)
    actions_taken_text_id = text_id()
    informed = codes(AGENCIES, load_default=list)
    consent_given = fields.Boolean(required=True)
    without_consent_reason = optional_code(WITHOUT_CONSENT_REASONS)
    views_text_id = text_id()


@registry.event("ConcernRaised")
class ConcernRaisedPayload(ConcernDetailsPayload):
    raised_by = who()
    raised_at = when()
    was_suggested = fields.Boolean(load_default=False)
    suggested_at = fields.AwareDateTime(load_default=None, allow_none=True)
    signal = optional_code(SIGNALS)


@registry.event("ConcernSuggestionDismissed")
class ConcernSuggestionDismissedPayload(Schema):
    reason = code(DISMISS_REASONS, required=True)
    reason_text_id = text_id()
    dismissed_by = who()
    dismissed_at = when()


@registry.event("ConcernPersonIdentified")
class ConcernPersonIdentifiedPayload(Schema):
    person_id = fields.UUID(required=True)
    identified_by = who()
    identified_at = when()


@registry.event("ConcernAcknowledged")
class ConcernAcknowledgedPayload(Schema):
    acknowledged_by = who()
    acknowledged_at = when()
    severity = code(SEVERITIES, required=True)
    previous_severity = code(SEVERITIES, required=True)


@registry.event("ConcernDecided")
class ConcernDecidedPayload(Schema):
    decision = code(DECISIONS, required=True)
    reason = optional_code(NO_FURTHER_ACTION_REASONS)
    rationale_text_id = text_id()
    # the local authority's, children's services' or police's reference for the referral: it
    # identifies the person, so it is sealed in the vault like the lead's words
    agency_reference_text_id = text_id()
    agency_reference = unsealed_agency_reference()
    previous_decision = optional_code(DECISIONS)
    decided_by = who()
    decided_at = when()


@registry.event("ConcernDecisionRevised")
class ConcernDecisionRevisedPayload(Schema):
    """A lead changes a decided concern's route, saying why (sealed text); the first decision
    stays in the history and its time still meets the decision deadline."""

    decision = code(DECISIONS, required=True)
    previous_decision = code(DECISIONS, required=True)
    reason = optional_code(NO_FURTHER_ACTION_REASONS)
    previous_reason = optional_code(NO_FURTHER_ACTION_REASONS)
    revision_reason_text_id = fields.UUID(required=True)
    rationale_text_id = text_id()
    agency_reference_text_id = text_id()
    agency_reference = unsealed_agency_reference()
    revised_by = who()
    revised_at = when()


@registry.event("ConcernActionAdded")
class ConcernActionAddedPayload(Schema):
    action_id = fields.UUID(required=True)
    kind = code(ACTION_KINDS, required=True)
    owner_id = who()
    due_on = fields.Date(required=True)
    details_text_id = text_id()
    added_by = who()
    added_at = when()


@registry.event("ConcernActionCompleted")
class ConcernActionCompletedPayload(Schema):
    action_id = fields.UUID(required=True)
    outcome = code(ACTION_OUTCOMES, required=True)
    note_text_id = text_id()
    completed_by = who()
    completed_at = when()


@registry.event("ConcernNoteAdded")
class ConcernNoteAddedPayload(Schema):
    text_id = fields.UUID(required=True)
    added_by = who()
    added_at = when()


@registry.event("ConcernClosed")
class ConcernClosedPayload(Schema):
    outcome = code(CLOSING_OUTCOMES, required=True)
    desired_outcomes_met = optional_code(DESIRED_OUTCOMES_MET)
    outcome_text_id = text_id()
    closed_by = who()
    closed_at = when()


class EscalationPayload(Schema):
    deadline = code(DEADLINES, required=True)
    severity = code(SEVERITIES, required=True)
    due_at = when()
    rung = ladder_rung()


@registry.event("DeadlineMissed")
class DeadlineMissedPayload(EscalationPayload):
    pass


@registry.event("ConcernEscalated")
class ConcernEscalatedPayload(EscalationPayload):
    step = fields.Integer(required=True, validate=validate.Range(min=1))
    escalated_at = when()


@registry.event("EscalationNotified")
class EscalationNotifiedPayload(Schema):
    deadline = code(DEADLINES, required=True)
    step = fields.Integer(required=True, validate=validate.Range(min=0))
    rung = ladder_rung()
    channel = code(NOTIFICATION_CHANNELS, required=True)
    notified_at = when()
