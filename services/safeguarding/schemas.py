"""Safeguarding event payloads, request bodies and responses.

Payloads carry coded fields, people's pseudonymous ids and sealed text ids: never free text.
Request bodies carry the worker's free text, which the service seals before deciding.
"""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate, validates_schema
from marshmallow import ValidationError as SchemaError

from services.safeguarding.deadlines import DEADLINES, IMMEDIATE, SEVERITIES
from services.safeguarding.domain import (
    ACTION_KINDS,
    ACTION_OUTCOMES,
    AGE_GROUPS,
    AGENCIES,
    ALLEGED_RELATIONSHIPS,
    CATEGORIES,
    CLOSING_OUTCOMES,
    DECISIONS,
    DESIRED_OUTCOMES_MET,
    DISMISS_REASONS,
    IMMEDIATE_ACTIONS,
    NO_FURTHER_ACTION,
    NO_FURTHER_ACTION_REASONS,
    NOTIFICATION_CHANNELS,
    SIGNALS,
    STATES,
    WITHOUT_CONSENT_REASONS,
)
from shared.events import EventRegistry
from shared.web import PageQuery, Text

registry = EventRegistry()

ALL_CATEGORIES = tuple(c for group in AGE_GROUPS for c in CATEGORIES[group])


def _code(choices, **kwargs):
    return fields.String(validate=validate.OneOf(choices), **kwargs)


def _optional_code(choices):
    return _code(choices, load_default=None, allow_none=True)


def _codes(choices, minimum: int = 0, **kwargs):
    return fields.List(
        fields.String(validate=validate.OneOf(choices)),
        validate=validate.Length(min=minimum, max=len(choices)),
        **kwargs,
    )


def _text_id():
    return fields.UUID(load_default=None, allow_none=True)


def _who():
    return fields.String(required=True, validate=validate.Length(min=1, max=200))


def _when():
    return fields.AwareDateTime(required=True)


# -- event payloads ---------------------------------------------------------------------------


@registry.event("ConcernSuggested")
class ConcernSuggestedPayload(Schema):
    person_id = fields.UUID(required=True)
    signal = _code(SIGNALS, required=True)
    # the events (e.g. did-not-attends) that made the system suggest it
    source_event_ids = fields.List(fields.UUID(), load_default=list)
    suggested_at = _when()


class ConcernDetailsPayload(Schema):
    person_id = fields.UUID(load_default=None, allow_none=True)
    description_text_id = _text_id()
    age_group = _code(AGE_GROUPS, required=True)
    categories = _codes(ALL_CATEGORIES, minimum=1, required=True)
    severity = _code(SEVERITIES, required=True)
    immediate_risk = fields.Boolean(required=True)
    what_happened_text_id = fields.UUID(required=True)
    happened_on = fields.Date(load_default=None, allow_none=True)
    is_ongoing = fields.Boolean(load_default=None, allow_none=True)
    children_at_risk = fields.Boolean(load_default=None, allow_none=True)
    alleged_relationship = _optional_code(ALLEGED_RELATIONSHIPS)
    actions_taken = _codes(IMMEDIATE_ACTIONS, minimum=1, required=True)
    actions_taken_text_id = _text_id()
    informed = _codes(AGENCIES, load_default=list)
    consent_given = fields.Boolean(required=True)
    without_consent_reason = _optional_code(WITHOUT_CONSENT_REASONS)
    views_text_id = _text_id()


@registry.event("ConcernRaised")
class ConcernRaisedPayload(ConcernDetailsPayload):
    raised_by = _who()
    raised_at = _when()
    was_suggested = fields.Boolean(load_default=False)
    suggested_at = fields.AwareDateTime(load_default=None, allow_none=True)
    signal = _optional_code(SIGNALS)


@registry.event("ConcernSuggestionDismissed")
class ConcernSuggestionDismissedPayload(Schema):
    reason = _code(DISMISS_REASONS, required=True)
    reason_text_id = _text_id()
    dismissed_by = _who()
    dismissed_at = _when()


@registry.event("ConcernPersonIdentified")
class ConcernPersonIdentifiedPayload(Schema):
    person_id = fields.UUID(required=True)
    identified_by = _who()
    identified_at = _when()


@registry.event("ConcernAcknowledged")
class ConcernAcknowledgedPayload(Schema):
    acknowledged_by = _who()
    acknowledged_at = _when()
    severity = _code(SEVERITIES, required=True)
    previous_severity = _code(SEVERITIES, required=True)


@registry.event("ConcernDecided")
class ConcernDecidedPayload(Schema):
    decision = _code(DECISIONS, required=True)
    reason = _optional_code(NO_FURTHER_ACTION_REASONS)
    rationale_text_id = _text_id()
    # the local authority's, children's services' or police's reference for the referral: it
    # identifies the person, so it is sealed in the vault like the lead's words
    agency_reference_text_id = _text_id()
    # kept in decisions recorded before references were sealed; never written now
    agency_reference = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(min=1, max=100)
    )
    previous_decision = _optional_code(DECISIONS)
    decided_by = _who()
    decided_at = _when()


@registry.event("ConcernDecisionRevised")
class ConcernDecisionRevisedPayload(Schema):
    """A lead changes a decided concern's route, saying why (sealed text); the first decision
    stays in the history and its time still meets the decision deadline."""

    decision = _code(DECISIONS, required=True)
    previous_decision = _code(DECISIONS, required=True)
    reason = _optional_code(NO_FURTHER_ACTION_REASONS)
    previous_reason = _optional_code(NO_FURTHER_ACTION_REASONS)
    revision_reason_text_id = fields.UUID(required=True)
    rationale_text_id = _text_id()
    agency_reference_text_id = _text_id()
    # kept in revisions recorded before references were sealed; never written now
    agency_reference = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(min=1, max=100)
    )
    revised_by = _who()
    revised_at = _when()


@registry.event("ConcernActionAdded")
class ConcernActionAddedPayload(Schema):
    action_id = fields.UUID(required=True)
    kind = _code(ACTION_KINDS, required=True)
    owner_id = _who()
    due_on = fields.Date(required=True)
    details_text_id = _text_id()
    added_by = _who()
    added_at = _when()


@registry.event("ConcernActionCompleted")
class ConcernActionCompletedPayload(Schema):
    action_id = fields.UUID(required=True)
    outcome = _code(ACTION_OUTCOMES, required=True)
    note_text_id = _text_id()
    completed_by = _who()
    completed_at = _when()


@registry.event("ConcernNoteAdded")
class ConcernNoteAddedPayload(Schema):
    text_id = fields.UUID(required=True)
    added_by = _who()
    added_at = _when()


@registry.event("ConcernClosed")
class ConcernClosedPayload(Schema):
    outcome = _code(CLOSING_OUTCOMES, required=True)
    desired_outcomes_met = _optional_code(DESIRED_OUTCOMES_MET)
    outcome_text_id = _text_id()
    closed_by = _who()
    closed_at = _when()


class EscalationPayload(Schema):
    deadline = _code(DEADLINES, required=True)
    severity = _code(SEVERITIES, required=True)
    due_at = _when()
    # a rung of the partner's ladder (duty_lead, deputy_lead, head_of_service by default)
    rung = fields.String(required=True, validate=validate.Length(min=1, max=50))


@registry.event("DeadlineMissed")
class DeadlineMissedPayload(EscalationPayload):
    pass


@registry.event("ConcernEscalated")
class ConcernEscalatedPayload(EscalationPayload):
    step = fields.Integer(required=True, validate=validate.Range(min=1))
    escalated_at = _when()


@registry.event("EscalationNotified")
class EscalationNotifiedPayload(Schema):
    deadline = _code(DEADLINES, required=True)
    step = fields.Integer(required=True, validate=validate.Range(min=0))
    rung = fields.String(required=True, validate=validate.Length(min=1, max=50))
    channel = _code(NOTIFICATION_CHANNELS, required=True)
    notified_at = _when()


# -- requests ---------------------------------------------------------------------------------


def _text(required: bool = False, max_length: int = 5000):
    if required:
        return Text(required=True, validate=validate.Length(min=1, max=max_length))
    return Text(load_default=None, validate=validate.Length(min=1, max=max_length))


class StrictBody(Schema):
    """Refuses fields it does not know."""

    class Meta:
        unknown = RAISE


class CommandBody(StrictBody):
    """A command on a concern: `expected_version`, the version the client last saw (or an
    If-Match header)."""

    expected_version = fields.Integer(load_default=None, validate=validate.Range(min=1))


class ConcernFormBody(StrictBody):
    """What a worker records about a concern; free text here is sealed by the service."""

    age_group = _code(AGE_GROUPS, required=True)
    categories = _codes(ALL_CATEGORIES, minimum=1, required=True)
    severity = _code(SEVERITIES, required=True)
    immediate_risk = fields.Boolean(required=True)
    what_happened = _text(required=True, max_length=10000)
    happened_on = fields.Date(load_default=None)
    is_ongoing = fields.Boolean(load_default=None)
    children_at_risk = fields.Boolean(load_default=None)
    alleged_relationship = _code(ALLEGED_RELATIONSHIPS, load_default=None)
    actions_taken = _codes(IMMEDIATE_ACTIONS, minimum=1, required=True)
    actions_taken_notes = _text()
    informed = _codes(AGENCIES, load_default=list)
    consent_given = fields.Boolean(required=True)
    without_consent_reason = _code(WITHOUT_CONSENT_REASONS, load_default=None)
    # the person's views and the outcomes they want (Making Safeguarding Personal)
    views = _text()

    @validates_schema
    def _form_hangs_together(self, data, **kwargs):
        errors: dict[str, list[str]] = {}
        group = data.get("age_group")
        wrong = [c for c in data.get("categories") or () if c not in CATEGORIES.get(group, ())]
        if group and wrong:
            errors["categories"] = [f"{', '.join(wrong)}: not a category for a {group}"]
        if data.get("immediate_risk") and data.get("severity") not in (None, IMMEDIATE):
            errors["severity"] = ["must be immediate when immediate_risk is true"]
        actions = data.get("actions_taken") or ()
        if "none" in actions and len(actions) > 1:
            errors["actions_taken"] = ["'none' cannot be given beside actions taken"]
        if len(set(data.get("categories") or ())) != len(data.get("categories") or ()):
            errors.setdefault("categories", []).append("each category is given once")
        reason = data.get("without_consent_reason")
        if data.get("consent_given") is False and reason is None:
            errors["without_consent_reason"] = ["is required when consent_given is false"]
        if data.get("consent_given") and reason is not None:
            errors["without_consent_reason"] = ["is given only when consent_given is false"]
        if errors:
            raise SchemaError(errors)


class RaiseConcernBody(ConcernFormBody):
    person_id = fields.UUID(load_default=None)
    # who the person at risk is, while they are not yet known to the service
    person_description = _text(max_length=2000)

    @validates_schema
    def _person_or_description(self, data, **kwargs):
        has_person = data.get("person_id") is not None
        has_description = data.get("person_description") is not None
        if has_person == has_description:
            message = "give person_id, or person_description when the person is not yet known"
            raise SchemaError(message, "person_id" if not has_person else "person_description")


class SuggestConcernBody(StrictBody):
    """A possible concern flagged from a signal (a session note, an attendance pattern)."""

    person_id = fields.UUID(required=True)
    signal = _code(SIGNALS, required=True)
    # the events that show the signal (e.g. the did-not-attends): the same ones flag one concern
    source_event_ids = fields.List(
        fields.UUID(), load_default=list, validate=validate.Length(max=50)
    )


class ConfirmSuggestionBody(ConcernFormBody, CommandBody):
    pass


class DismissSuggestionBody(CommandBody):
    reason = _code(DISMISS_REASONS, required=True)
    notes = _text()


class IdentifyPersonBody(CommandBody):
    person_id = fields.UUID(required=True)


class AcknowledgeConcernBody(CommandBody):
    # a lead may regrade the severity on acknowledging
    severity = _code(SEVERITIES, load_default=None)


class DecideConcernBody(CommandBody):
    decision = _code(DECISIONS, required=True)
    reason = _code(NO_FURTHER_ACTION_REASONS, load_default=None)
    rationale = _text()
    agency_reference = Text(load_default=None, validate=validate.Length(min=1, max=100))
    # why a decided concern's route changes: required then, and only then (sealed text)
    revision_reason = _text(max_length=2000)

    @validates_schema
    def _reason_with_no_further_action(self, data, **kwargs):
        is_nfa = data.get("decision") == NO_FURTHER_ACTION
        if is_nfa and data.get("reason") is None:
            raise SchemaError("is required when the decision is no_further_action", "reason")
        if not is_nfa and data.get("reason") is not None:
            raise SchemaError(
                "is given only with no_further_action; use rationale to explain", "reason"
            )


class AddActionBody(CommandBody):
    kind = _code(ACTION_KINDS, required=True)
    owner_id = Text(required=True, validate=validate.Length(min=1, max=200))
    due_on = fields.Date(required=True)
    details = _text()


class CompleteActionBody(CommandBody):
    outcome = _code(ACTION_OUTCOMES, load_default="done")
    notes = _text()


class AddNoteBody(CommandBody):
    text = _text(required=True, max_length=10000)


class CloseConcernBody(CommandBody):
    outcome = _code(CLOSING_OUTCOMES, required=True)
    desired_outcomes_met = _code(DESIRED_OUTCOMES_MET, load_default=None)
    notes = _text()


class ConcernListQuery(PageQuery):
    """The lead's inbox: open concerns by deadline unless a status is asked for."""

    status = fields.String(load_default="open", validate=validate.OneOf(("open", "any", *STATES)))
    severity = _code(SEVERITIES)
    overdue = fields.Boolean()
    raised_by = Text(validate=validate.Length(min=1, max=200))


# -- responses --------------------------------------------------------------------------------


class ActionOut(Schema):
    action_id = fields.String()
    kind = fields.String()
    owner_id = fields.String()
    due_on = fields.Date()
    added_at = fields.AwareDateTime()
    completed_at = fields.AwareDateTime(allow_none=True)
    outcome = fields.String(allow_none=True)


class EscalationOut(Schema):
    deadline = fields.String()
    step = fields.Integer()
    rung = fields.String()
    due_at = fields.AwareDateTime()
    at = fields.AwareDateTime()


class ConcernOut(Schema):
    concern_id = fields.String()
    version = fields.Integer()
    status = fields.String()
    person_id = fields.String(allow_none=True)
    description_text_id = fields.String(allow_none=True)
    age_group = fields.String(allow_none=True)
    categories = fields.List(fields.String())
    severity = fields.String(allow_none=True)
    immediate_risk = fields.Boolean()
    signal = fields.String(allow_none=True)
    suggested_at = fields.AwareDateTime(allow_none=True)
    raised_by = fields.String(allow_none=True)
    raised_at = fields.AwareDateTime(allow_none=True)
    actions_taken = fields.List(fields.String())
    informed = fields.List(fields.String())
    consent_given = fields.Boolean(allow_none=True)
    without_consent_reason = fields.String(allow_none=True)
    acknowledged_by = fields.String(allow_none=True)
    acknowledged_at = fields.AwareDateTime(allow_none=True)
    decision = fields.String(allow_none=True)
    decision_reason = fields.String(allow_none=True)
    decided_at = fields.AwareDateTime(allow_none=True)
    decision_revisions = fields.Integer()
    actions = fields.List(fields.Nested(ActionOut))
    note_count = fields.Integer()
    outcome = fields.String(allow_none=True)
    closed_at = fields.AwareDateTime(allow_none=True)
    dismiss_reason = fields.String(allow_none=True)
    escalations = fields.List(fields.Nested(EscalationOut))
    acknowledge_by = fields.AwareDateTime(allow_none=True)
    decide_by = fields.AwareDateTime(allow_none=True)


class ConcernListItem(Schema):
    concern_id = fields.String()
    status = fields.String(validate=validate.OneOf(STATES))
    age_group = fields.String(allow_none=True, validate=validate.OneOf(AGE_GROUPS))
    categories = fields.List(fields.String(validate=validate.OneOf(ALL_CATEGORIES)))
    severity = fields.String(allow_none=True, validate=validate.OneOf(SEVERITIES))
    immediate_risk = fields.Boolean()
    raised_by = fields.String(allow_none=True)
    raised_at = fields.AwareDateTime(allow_none=True)
    acknowledged_at = fields.AwareDateTime(allow_none=True)
    decision = fields.String(allow_none=True, validate=validate.OneOf(DECISIONS))
    decided_at = fields.AwareDateTime(allow_none=True)
    closed_at = fields.AwareDateTime(allow_none=True)
    outcome = fields.String(allow_none=True, validate=validate.OneOf(CLOSING_OUTCOMES))
    open_deadline = fields.String(allow_none=True, validate=validate.OneOf(DEADLINES))
    due_at = fields.AwareDateTime(allow_none=True)
    escalation_step = fields.Integer(allow_none=True)
    escalated_to = fields.String(allow_none=True)
    deadlines_missed = fields.Integer()
    open_actions = fields.Integer()
    version = fields.Integer()
    is_overdue = fields.Boolean()


class ConcernPage(Schema):
    items = fields.List(fields.Nested(ConcernListItem))
    total = fields.Integer()
    limit = fields.Integer()
    offset = fields.Integer()


class TimelineStep(Schema):
    version = fields.Integer()
    event_type = fields.String(validate=validate.OneOf(tuple(registry.names())))
    occurred_at = fields.AwareDateTime()
    recorded_at = fields.AwareDateTime()
    by = fields.String()
    role = fields.String()
    details = fields.Dict(metadata={"description": "The event's coded fields"})
    texts = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        metadata={"description": 'Its words, opened (name without "_id"); "erased" if erased'},
    )


class ConcernRead(ConcernOut):
    texts = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        metadata={"description": "The words recorded when it was raised, opened (audited)"},
    )
    timeline = fields.List(fields.Nested(TimelineStep))


class ConcernHistory(Schema):
    concern_id = fields.String()
    events = fields.List(fields.Dict(), metadata={"description": "Event envelopes, oldest first"})


class NotificationAttempt(Schema):
    at = fields.AwareDateTime()
    outcome = fields.String()
    error = fields.String(allow_none=True)


class NotificationOut(Schema):
    id = fields.Integer()
    kind = fields.String()
    deadline = fields.String(allow_none=True)
    step = fields.Integer(allow_none=True)
    rung = fields.String(allow_none=True)
    recipient = fields.String()
    status = fields.String()
    attempts = fields.Integer()
    created_at = fields.AwareDateTime()
    sent_at = fields.AwareDateTime(allow_none=True)
    next_attempt_at = fields.AwareDateTime(allow_none=True)
    last_error = fields.String(allow_none=True)
    tries = fields.List(fields.Nested(NotificationAttempt))


class ConcernNotifications(Schema):
    concern_id = fields.String()
    items = fields.List(fields.Nested(NotificationOut))
