"""The safeguarding service's HTTP bodies: what a request may carry (the worker's free text
here, sealed by the service before the domain decides) and what each answer holds. The stored
events are the published contract, in contracts/safeguarding/events.py."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate, validates_schema
from marshmallow import ValidationError as SchemaError

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
    IMMEDIATE,
    IMMEDIATE_ACTIONS,
    NO_FURTHER_ACTION,
    NO_FURTHER_ACTION_REASONS,
    SEVERITIES,
    SIGNALS,
    STATES,
    WITHOUT_CONSENT_REASONS,
)
from contracts.safeguarding.events import ALL_CATEGORIES, code, codes, registry
from shared.web import PageQuery, Text

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

    age_group = code(AGE_GROUPS, required=True)
    categories = codes(ALL_CATEGORIES, minimum=1, required=True)
    severity = code(SEVERITIES, required=True)
    immediate_risk = fields.Boolean(required=True)
    what_happened = _text(required=True, max_length=10000)
    happened_on = fields.Date(load_default=None)
    is_ongoing = fields.Boolean(load_default=None)
    children_at_risk = fields.Boolean(load_default=None)
    alleged_relationship = code(ALLEGED_RELATIONSHIPS, load_default=None)
    actions_taken = codes(IMMEDIATE_ACTIONS, minimum=1, required=True)
    actions_taken_notes = _text()
    informed = codes(AGENCIES, load_default=list)
    consent_given = fields.Boolean(required=True)
    without_consent_reason = code(WITHOUT_CONSENT_REASONS, load_default=None)
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
    signal = code(SIGNALS, required=True)
    # the events that show the signal (e.g. the did-not-attends): the same ones flag one concern
    source_event_ids = fields.List(
        fields.UUID(), load_default=list, validate=validate.Length(max=50)
    )


class ConfirmSuggestionBody(ConcernFormBody, CommandBody):
    pass


class DismissSuggestionBody(CommandBody):
    reason = code(DISMISS_REASONS, required=True)
    notes = _text()


class IdentifyPersonBody(CommandBody):
    person_id = fields.UUID(required=True)


class AcknowledgeConcernBody(CommandBody):
    # a lead may regrade the severity on acknowledging
    severity = code(SEVERITIES, load_default=None)


class DecideConcernBody(CommandBody):
    decision = code(DECISIONS, required=True)
    reason = code(NO_FURTHER_ACTION_REASONS, load_default=None)
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
    kind = code(ACTION_KINDS, required=True)
    owner_id = Text(required=True, validate=validate.Length(min=1, max=200))
    due_on = fields.Date(required=True)
    details = _text()


class CompleteActionBody(CommandBody):
    outcome = code(ACTION_OUTCOMES, load_default="done")
    notes = _text()


class AddNoteBody(CommandBody):
    text = _text(required=True, max_length=10000)


class CloseConcernBody(CommandBody):
    outcome = code(CLOSING_OUTCOMES, required=True)
    desired_outcomes_met = code(DESIRED_OUTCOMES_MET, load_default=None)
    notes = _text()


class ConcernListQuery(PageQuery):
    """The lead's inbox: open concerns by deadline unless a status is asked for."""

    status = fields.String(load_default="open", validate=validate.OneOf(("open", "any", *STATES)))
    severity = code(SEVERITIES)
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
