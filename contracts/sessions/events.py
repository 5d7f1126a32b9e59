"""The sessions service's stored events: each event type's payload schema, registered by type
in `registry` (an append of an unknown type or an invalid payload is refused), with the plan
content and measure answers they carry. Every type is at its first version; a later version
registers its upcaster here. No free text about a person passes through here: a worker's or a
person's own words are sealed in the people vault first, and payloads carry only the sealed
text's id (`*_text_id`). The node worker and the hub read them from here.
"""

from __future__ import annotations

from decimal import Decimal

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from contracts.sessions import measures
from contracts.sessions.codes import (
    ATTENDANCE,
    BOOKED,
    CANCELLATION_REASONS,
    CANCELLED,
    CANCELLED_BY,
    CARER_CRISIS,
    CORRECTION_REASONS,
    CRISIS_SAFETY,
    GOAL_STATUSES,
    GROUP_CLOSING_REASONS,
    GROUP_KINDS,
    HELD,
    LEAVING_REASONS,
    LIFE_AREAS,
    LOCATIONS,
    MAX_SESSION_MINUTES,
    MODES,
    NOTE_THEMES,
    PERSON_CONTACTS,
    PLAN_ACTIONS,
    PLAN_CLOSING_REASONS,
    PLAN_KINDS,
    RECORDABLE_OUTCOMES,
    RECOVERY_WELLBEING,
    REVIEW_INTERVAL_DAYS_RANGE,
    REVIEW_OUTCOMES,
    REVISION_REASONS,
    SERVICE_CONTACTS,
    SESSION_ACTIONS,
    SESSION_KINDS,
    SIGNPOSTING_DESTINATIONS,
    SIGNPOSTING_OUTCOMES,
    STEP_STATUSES,
    VOID_REASONS,
    WARNING_SIGNS,
    WHAT_HELPS,
)
from shared.events import EventRegistry
from shared.fields import Text

registry = EventRegistry()

MEDIUM_CODES = tuple(sorted(set(MODES.values())))
MAX_WORKERS = 20
MAX_CONTACTS = 20

# -- fields the payloads and the request bodies share -----------------------------------------


def code(choices, **kwargs) -> fields.String:
    return fields.String(validate=validate.OneOf(tuple(choices)), **kwargs)


def codes(choices, **kwargs) -> fields.List:
    if not kwargs.get("required"):
        kwargs.setdefault("load_default", list)
    return fields.List(code(choices), validate=validate.Length(max=len(choices)), **kwargs)


def user(**kwargs) -> fields.String:
    """A worker's user id, as the token names them."""
    return Text(validate=validate.Length(min=1, max=200), **kwargs)


def stream(**kwargs) -> fields.String:
    """The id of another stream: a referral, session or group."""
    return Text(validate=validate.Length(min=1, max=200), **kwargs)


def optional(field_class, **kwargs):
    return field_class(load_default=None, allow_none=True, **kwargs)


def workers(**kwargs) -> fields.List:
    return fields.List(user(), validate=validate.Length(min=1, max=MAX_WORKERS), **kwargs)


def minutes(**kwargs) -> fields.Integer:
    return fields.Integer(validate=validate.Range(min=1, max=MAX_SESSION_MINUTES), **kwargs)


def people_count(**kwargs) -> fields.Integer:
    return fields.Integer(validate=validate.Range(min=0, max=10_000), **kwargs)


def interval_days(**kwargs) -> fields.Integer:
    shortest, longest = REVIEW_INTERVAL_DAYS_RANGE
    return fields.Integer(validate=validate.Range(min=shortest, max=longest), **kwargs)


def _must_match(data: dict, value: str, table: dict, code: str) -> None:
    if table.get(data[value]) != data[code]:
        raise ValidationError(f"must be the code of {value} '{data[value]}'", code)


# -- session events ----------------------------------------------------------------------------


class SessionDetails(Schema):
    kind = code(SESSION_KINDS, required=True)
    referral_id = optional(stream)
    person_id = optional(fields.UUID)
    group_id = optional(stream)
    mode = code(MODES, required=True)
    medium_code = code(MEDIUM_CODES, required=True)
    location = code(LOCATIONS, required=True)
    worker_ids = workers(required=True)

    @validates_schema
    def _medium_of_mode(self, data, **kwargs):
        _must_match(data, "mode", MODES, "medium_code")


@registry.event("SessionBooked")
class SessionBookedPayload(SessionDetails):
    planned_start_at = fields.AwareDateTime(required=True)
    planned_duration_minutes = minutes(required=True)
    booked_by = user(required=True)


@registry.event("SessionRecorded")
class SessionRecordedPayload(SessionDetails):
    planned_start_at = optional(fields.AwareDateTime)  # none when it was never booked
    actual_start_at = fields.AwareDateTime(required=True)
    duration_minutes = minutes(required=True)
    recorded_by = user(required=True)


@registry.event("SessionCancelled")
class SessionCancelledPayload(Schema):
    cancelled_by = code(CANCELLED_BY, required=True)
    attendance_code = code(CANCELLED_BY.values(), required=True)
    reason = code(CANCELLATION_REASONS, required=True)
    recorded_by = user(required=True)

    @validates_schema
    def _code_of_canceller(self, data, **kwargs):
        _must_match(data, "cancelled_by", CANCELLED_BY, "attendance_code")


class PersonAttendance(Schema):
    """A person's attendance at a session: its status and the status's code."""

    person_id = fields.UUID(required=True)
    status = code(ATTENDANCE, required=True)
    attendance_code = code(ATTENDANCE.values(), required=True)


@registry.event("AttendanceRecorded")
class AttendanceRecordedPayload(PersonAttendance):
    recorded_by = user(required=True)

    @validates_schema
    def _code_of_status(self, data, **kwargs):
        _must_match(data, "status", ATTENDANCE, "attendance_code")


@registry.event("AttendanceCorrected")
class AttendanceCorrectedPayload(PersonAttendance):
    previous_status = code(ATTENDANCE, required=True)
    previous_attendance_code = code(ATTENDANCE.values(), required=True)
    reason = code(CORRECTION_REASONS, required=True)
    corrected_by = user(required=True)

    @validates_schema
    def _codes_of_statuses(self, data, **kwargs):
        _must_match(data, "status", ATTENDANCE, "attendance_code")
        _must_match(data, "previous_status", ATTENDANCE, "previous_attendance_code")


@registry.event("AnonymousAttendeesCounted")
class AnonymousAttendeesCountedPayload(Schema):
    count = people_count(required=True)
    counted_by = user(required=True)


@registry.event("AnonymousAttendeesCorrected")
class AnonymousAttendeesCorrectedPayload(Schema):
    count = people_count(required=True)
    previous_count = people_count(required=True)
    reason = code(CORRECTION_REASONS, required=True)
    corrected_by = user(required=True)


class SessionNotes(Schema):
    """A session's notes: coded themes and actions, and the sealed words' id."""

    themes = codes(NOTE_THEMES, required=True)
    actions = codes(SESSION_ACTIONS, required=True)
    notes_text_id = optional(fields.UUID)


@registry.event("SessionNotesWritten")
class SessionNotesWrittenPayload(SessionNotes):
    written_by = user(required=True)


@registry.event("SessionNotesCorrected")
class SessionNotesCorrectedPayload(SessionNotes):
    previous_themes = codes(NOTE_THEMES, required=True)
    previous_actions = codes(SESSION_ACTIONS, required=True)
    previous_notes_text_id = optional(fields.UUID)
    reason = code(CORRECTION_REASONS, required=True)
    corrected_by = user(required=True)


@registry.event("SessionVoided")
class SessionVoidedPayload(Schema):
    reason = code(VOID_REASONS, required=True)
    previous_status = code((BOOKED, HELD, CANCELLED), required=True)
    voided_by = user(required=True)


@registry.event("AttendanceVoided")
class AttendanceVoidedPayload(Schema):
    person_id = fields.UUID(required=True)
    previous_status = code(ATTENDANCE, required=True)
    previous_attendance_code = code(ATTENDANCE.values(), required=True)
    reason = code(VOID_REASONS, required=True)
    voided_by = user(required=True)

    @validates_schema
    def _code_of_status(self, data, **kwargs):
        _must_match(data, "previous_status", ATTENDANCE, "previous_attendance_code")


# -- group events ------------------------------------------------------------------------------


@registry.event("GroupCreated")
class GroupCreatedPayload(Schema):
    # a group's name describes the group ("Tuesday walking group"), never a person in it
    name = Text(required=True, validate=validate.Length(min=1, max=120))
    kind = code(GROUP_KINDS, required=True)
    capacity = fields.Integer(required=True, validate=validate.Range(min=1))
    facilitator_ids = workers(required=True)
    sessions_planned = optional(fields.Integer, validate=validate.Range(min=1, max=520))
    created_by = user(required=True)
    created_on = fields.Date(required=True)


@registry.event("GroupMemberJoined")
class GroupMemberJoinedPayload(Schema):
    person_id = fields.UUID(required=True)
    joined_on = fields.Date(required=True)
    recorded_by = user(required=True)


@registry.event("GroupWaitingListJoined")
class GroupWaitingListJoinedPayload(GroupMemberJoinedPayload):
    position = fields.Integer(required=True, validate=validate.Range(min=1))


class GroupLeaving(Schema):
    person_id = fields.UUID(required=True)
    reason = code(LEAVING_REASONS, required=True)
    left_on = fields.Date(required=True)
    recorded_by = user(required=True)


registry.register("GroupMemberLeft", GroupLeaving)
registry.register("GroupWaitingListLeft", GroupLeaving)


@registry.event("GroupMemberPromoted")
class GroupMemberPromotedPayload(Schema):
    person_id = fields.UUID(required=True)
    promoted_on = fields.Date(required=True)
    by = user(required=True)


@registry.event("GroupCapacityChanged")
class GroupCapacityChangedPayload(Schema):
    capacity = fields.Integer(required=True, validate=validate.Range(min=1))
    previous_capacity = fields.Integer(required=True, validate=validate.Range(min=1))
    changed_by = user(required=True)
    changed_on = fields.Date(required=True)


class GroupFacilitatorChange(Schema):
    worker_id = user(required=True)
    recorded_by = user(required=True)
    on = fields.Date(required=True)


registry.register("GroupFacilitatorAdded", GroupFacilitatorChange)
registry.register("GroupFacilitatorRemoved", GroupFacilitatorChange)


@registry.event("GroupClosed")
class GroupClosedPayload(Schema):
    reason = code(GROUP_CLOSING_REASONS, required=True)
    closed_by = user(required=True)
    closed_on = fields.Date(required=True)


# -- plan content ------------------------------------------------------------------------------


class PlanStep(Schema):
    text_id = fields.UUID(required=True)
    status = code(STEP_STATUSES, load_default="not_started")


class PlanGoal(Schema):
    goal_id = fields.UUID(required=True)  # stable across revisions, so progress can be followed
    life_area = code(LIFE_AREAS, required=True)
    text_id = fields.UUID(required=True)
    progress = optional(fields.Integer, validate=validate.Range(min=1, max=10))
    status = code(GOAL_STATUSES, load_default="working_on")
    steps = fields.List(
        fields.Nested(PlanStep), load_default=list, validate=validate.Length(max=20)
    )


class RecoveryPlanContent(Schema):
    goals = fields.List(fields.Nested(PlanGoal), required=True, validate=validate.Length(max=12))

    @validates_schema
    def _goals_are_distinct(self, data, **kwargs):
        ids = [goal["goal_id"] for goal in data["goals"]]
        if len(ids) != len(set(ids)):
            raise ValidationError("each goal needs its own goal_id", "goals")


class PersonContact(Schema):
    type = code(PERSON_CONTACTS, required=True)
    contact_text_id = optional(fields.UUID)  # name and number, sealed


class ServiceContact(Schema):
    type = code(SERVICE_CONTACTS, required=True)
    contact_text_id = optional(fields.UUID)  # none for a national line such as 999


class CareContact(Schema):
    type = code(PERSON_CONTACTS + SERVICE_CONTACTS, required=True)
    contact_text_id = optional(fields.UUID)


def _contacts(schema) -> fields.List:
    return fields.List(
        fields.Nested(schema), load_default=list, validate=validate.Length(max=MAX_CONTACTS)
    )


class CrisisPlanContent(Schema):
    warning_signs = codes(WARNING_SIGNS)
    warning_signs_text_id = optional(fields.UUID)
    what_helps = codes(WHAT_HELPS)
    what_helps_text_id = optional(fields.UUID)
    people = _contacts(PersonContact)
    services = _contacts(ServiceContact)
    agreed_actions = codes(PLAN_ACTIONS)


class CarerCrisisPlanContent(CrisisPlanContent):
    """A carer's own crisis plan, with who would care for the person they look after."""

    cared_for_person_id = optional(fields.UUID)  # only where the person cared for consents
    cared_for_needs_text_id = optional(fields.UUID)
    replacement_care = _contacts(CareContact)


PLAN_CONTENT: dict[str, type[Schema]] = {
    RECOVERY_WELLBEING: RecoveryPlanContent,
    CRISIS_SAFETY: CrisisPlanContent,
    CARER_CRISIS: CarerCrisisPlanContent,
}


class PlanContentOfKind(Schema):
    """A plan's kind and its content, checked against that kind's content schema and stored in
    its normal form (so that comparing two versions compares what they say)."""

    kind = code(PLAN_KINDS, required=True)
    content = fields.Dict(required=True)

    @validates_schema
    def _content_fits_kind(self, data, **kwargs):
        schema = PLAN_CONTENT[data["kind"]]()
        allowed = [f.data_key or name for name, f in schema.fields.items()]
        foreign = sorted(set(data["content"]) - set(allowed))
        if foreign:
            kind = data["kind"].replace("_", " ")
            raise ValidationError(
                f"a {kind} plan's content holds {', '.join(allowed)}; {', '.join(foreign)}"
                f" {'is' if len(foreign) == 1 else 'are'} not part of this kind of plan",
                "content",
            )
        try:
            schema.load(data["content"])
        except ValidationError as error:
            raise ValidationError(error.messages, "content") from None

    @post_load
    def _normal_content(self, data, **kwargs):
        schema = PLAN_CONTENT[data["kind"]]()
        return {**data, "content": schema.dump(schema.load(data["content"]))}


@registry.event("PlanDrafted")
class PlanDraftedPayload(PlanContentOfKind):
    person_id = fields.UUID(required=True)
    referral_id = optional(stream)
    review_interval_days = interval_days(required=True)
    drafted_by = user(required=True)
    drafted_on = fields.Date(required=True)


@registry.event("PlanRevised")
class PlanRevisedPayload(PlanContentOfKind):
    revision = fields.Integer(required=True, validate=validate.Range(min=2))
    changed_sections = fields.List(fields.String(), required=True)
    reason = code(REVISION_REASONS, required=True)
    revised_by = user(required=True)
    revised_on = fields.Date(required=True)


@registry.event("PlanReviewed")
class PlanReviewedPayload(Schema):
    outcome = code(REVIEW_OUTCOMES, required=True)
    reviewed_by = user(required=True)
    reviewed_on = fields.Date(required=True)
    next_review_due_on = fields.Date(required=True)


@registry.event("PlanReviewIntervalChanged")
class PlanReviewIntervalChangedPayload(Schema):
    review_interval_days = interval_days(required=True)
    previous_review_interval_days = interval_days(required=True)
    changed_by = user(required=True)
    changed_on = fields.Date(required=True)


@registry.event("PlanClosed")
class PlanClosedPayload(Schema):
    reason = code(PLAN_CLOSING_REASONS, required=True)
    closed_by = user(required=True)
    closed_on = fields.Date(required=True)


# -- signposting events ------------------------------------------------------------------------


@registry.event("SignpostingRecorded")
class SignpostingRecordedPayload(Schema):
    person_id = fields.UUID(required=True)
    destination = code(SIGNPOSTING_DESTINATIONS, required=True)
    referral_id = optional(stream)
    session_id = optional(stream)
    signposted_by = user(required=True)
    signposted_on = fields.Date(required=True)


@registry.event("SignpostingOutcomeRecorded")
class SignpostingOutcomeRecordedPayload(Schema):
    outcome = code(RECORDABLE_OUTCOMES, required=True)
    recorded_by = user(required=True)
    recorded_on = fields.Date(required=True)


@registry.event("SignpostingOutcomeCorrected")
class SignpostingOutcomeCorrectedPayload(Schema):
    outcome = code(SIGNPOSTING_OUTCOMES, required=True)
    previous_outcome = code(SIGNPOSTING_OUTCOMES, required=True)
    reason = code(CORRECTION_REASONS, required=True)
    corrected_by = user(required=True)
    corrected_on = fields.Date(required=True)


@registry.event("SignpostingVoided")
class SignpostingVoidedPayload(Schema):
    reason = code(VOID_REASONS, required=True)
    voided_by = user(required=True)
    voided_on = fields.Date(required=True)


# -- measure events ----------------------------------------------------------------------------


class MeasureAnswers(Schema):
    """A measure's code and the person's answer to each item, checked by the measure's scorer."""

    measure = code(measures.MEASURES, required=True)
    answers = fields.Dict(keys=fields.String(), values=fields.Integer(strict=True), required=True)

    @validates_schema
    def _answers_fit_measure(self, data, **kwargs):
        try:
            measures.score(data["measure"], data["answers"])
        except ValueError as error:
            raise ValidationError(str(error), "answers") from None


@registry.event("MeasureRecorded")
class MeasureRecordedPayload(MeasureAnswers):
    person_id = fields.UUID(required=True)
    snomed_ct = fields.String(required=True)
    timepoint = code(measures.TIMEPOINTS, required=True)
    taken_on = fields.Date(required=True)
    raw_score = fields.Integer(required=True)
    metric_score = fields.Float(required=True)
    referral_id = optional(stream)
    recorded_by = user(required=True)

    @validates_schema
    def _scores_follow_from_answers(self, data, **kwargs):
        measure = measures.measure(data["measure"])
        try:
            score = measure.score(data["answers"])
        except ValueError:
            return  # refused above, naming the item
        if data["snomed_ct"] != measure.snomed_ct:
            raise ValidationError(f"must be {measure.snomed_ct} for {measure.name}", "snomed_ct")
        if data["raw_score"] != score.raw:
            raise ValidationError(f"must be {score.raw}, the total of the answers", "raw_score")
        if Decimal(str(data["metric_score"])) != score.metric:
            raise ValidationError(
                f"must be {score.metric} for a raw score of {score.raw}", "metric_score"
            )


@registry.event("MeasureVoided")
class MeasureVoidedPayload(Schema):
    number = fields.Integer(required=True, validate=validate.Range(min=1))
    measure = code(measures.MEASURES, required=True)
    timepoint = code(measures.TIMEPOINTS, required=True)
    taken_on = fields.Date(required=True)
    referral_id = optional(stream)
    reason = code(VOID_REASONS, required=True)
    voided_by = user(required=True)
