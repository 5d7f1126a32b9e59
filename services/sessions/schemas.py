"""Sessions event payloads and request bodies: sessions and attendance, groups, plans,
signposting and outcome measures.

No free text about a person passes through here: a worker's or a person's own words are sealed
in the people vault first, and payloads and bodies carry only the sealed text's id
(`*_text_id`).
"""

from __future__ import annotations

from decimal import Decimal

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from contracts.sessions import measures
from services.sessions import domain
from shared.events import EventRegistry
from shared.web import History, Text

registry = EventRegistry()

MEDIUM_CODES = tuple(sorted(set(domain.MODES.values())))
MAX_WORKERS = 20
MAX_CONTACTS = 20


def _code(choices, **kwargs) -> fields.String:
    return fields.String(validate=validate.OneOf(tuple(choices)), **kwargs)


def _codes(choices, **kwargs) -> fields.List:
    if not kwargs.get("required"):
        kwargs.setdefault("load_default", list)
    return fields.List(_code(choices), validate=validate.Length(max=len(choices)), **kwargs)


def _user(**kwargs) -> fields.String:
    """A worker's user id, as the token names them."""
    return Text(validate=validate.Length(min=1, max=200), **kwargs)


def _stream(**kwargs) -> fields.String:
    """The id of another stream: a referral, session or group."""
    return Text(validate=validate.Length(min=1, max=200), **kwargs)


def _optional(field_class, **kwargs):
    return field_class(load_default=None, allow_none=True, **kwargs)


def _workers(**kwargs) -> fields.List:
    return fields.List(_user(), validate=validate.Length(min=1, max=MAX_WORKERS), **kwargs)


def _minutes(**kwargs) -> fields.Integer:
    return fields.Integer(validate=validate.Range(min=1, max=domain.MAX_SESSION_MINUTES), **kwargs)


def _must_match(data: dict, value: str, table: dict, code: str) -> None:
    if table.get(data[value]) != data[code]:
        raise ValidationError(f"must be the code of {value} '{data[value]}'", code)


# -- documenting shapes that depend on another field ------------------------------------------


def _json_schema(schema_cls: type[Schema]) -> dict:
    """A schema as a JSON schema with its nested schemas written out in place, for a field whose
    shape depends on another field (a plan's content on its kind)."""
    spec = APISpec("content", "1", "3.0.3", plugins=[MarshmallowPlugin()])
    spec.components.schema(schema_cls.__name__, schema=schema_cls)
    components = spec.to_dict()["components"]["schemas"]

    def inline(node):
        if isinstance(node, dict):
            ref = node.get("$ref")
            if ref:
                return inline(components[ref.rsplit("/", 1)[1]])
            return {key: inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(value) for value in node]
        return node

    return inline(components[schema_cls.__name__])


def measure_answers_document() -> dict:
    """Each measure's items: the answer to each, a whole number in the measure's range."""
    shapes = []
    for code, measure in measures.MEASURES.items():
        answer = {
            "type": "integer",
            "minimum": measure.lowest_answer,
            "maximum": measure.highest_answer,
        }
        shapes.append(
            {
                "title": code,
                "description": f"{measure.name} (SNOMED CT {measure.snomed_ct}): every item",
                "type": "object",
                "properties": {item: dict(answer) for item in measure.items},
                "required": list(measure.items),
                "additionalProperties": False,
            }
        )
    return {"description": "The answer to each of the measure's items", "anyOf": shapes}


# -- session events ----------------------------------------------------------------------------


class SessionDetails(Schema):
    kind = _code(domain.SESSION_KINDS, required=True)
    referral_id = _optional(_stream)
    person_id = _optional(fields.UUID)
    group_id = _optional(_stream)
    mode = _code(domain.MODES, required=True)
    medium_code = _code(MEDIUM_CODES, required=True)
    location = _code(domain.LOCATIONS, required=True)
    worker_ids = _workers(required=True)

    @validates_schema
    def _medium_of_mode(self, data, **kwargs):
        _must_match(data, "mode", domain.MODES, "medium_code")


@registry.event("SessionBooked")
class SessionBookedPayload(SessionDetails):
    planned_start_at = fields.AwareDateTime(required=True)
    planned_duration_minutes = _minutes(required=True)
    booked_by = _user(required=True)


@registry.event("SessionRecorded")
class SessionRecordedPayload(SessionDetails):
    planned_start_at = _optional(fields.AwareDateTime)  # none when it was never booked
    actual_start_at = fields.AwareDateTime(required=True)
    duration_minutes = _minutes(required=True)
    recorded_by = _user(required=True)


@registry.event("SessionCancelled")
class SessionCancelledPayload(Schema):
    cancelled_by = _code(domain.CANCELLED_BY, required=True)
    attendance_code = _code(domain.CANCELLED_BY.values(), required=True)
    reason = _code(domain.CANCELLATION_REASONS, required=True)
    recorded_by = _user(required=True)

    @validates_schema
    def _code_of_canceller(self, data, **kwargs):
        _must_match(data, "cancelled_by", domain.CANCELLED_BY, "attendance_code")


@registry.event("AttendanceRecorded")
class AttendanceRecordedPayload(Schema):
    person_id = fields.UUID(required=True)
    status = _code(domain.ATTENDANCE, required=True)
    attendance_code = _code(domain.ATTENDANCE.values(), required=True)
    recorded_by = _user(required=True)

    @validates_schema
    def _code_of_status(self, data, **kwargs):
        _must_match(data, "status", domain.ATTENDANCE, "attendance_code")


@registry.event("AttendanceCorrected")
class AttendanceCorrectedPayload(Schema):
    person_id = fields.UUID(required=True)
    status = _code(domain.ATTENDANCE, required=True)
    attendance_code = _code(domain.ATTENDANCE.values(), required=True)
    previous_status = _code(domain.ATTENDANCE, required=True)
    previous_attendance_code = _code(domain.ATTENDANCE.values(), required=True)
    reason = _code(domain.CORRECTION_REASONS, required=True)
    corrected_by = _user(required=True)

    @validates_schema
    def _codes_of_statuses(self, data, **kwargs):
        _must_match(data, "status", domain.ATTENDANCE, "attendance_code")
        _must_match(data, "previous_status", domain.ATTENDANCE, "previous_attendance_code")


def _count(**kwargs) -> fields.Integer:
    return fields.Integer(validate=validate.Range(min=0, max=10_000), **kwargs)


@registry.event("AnonymousAttendeesCounted")
class AnonymousAttendeesCountedPayload(Schema):
    count = _count(required=True)
    counted_by = _user(required=True)


@registry.event("AnonymousAttendeesCorrected")
class AnonymousAttendeesCorrectedPayload(Schema):
    count = _count(required=True)
    previous_count = _count(required=True)
    reason = _code(domain.CORRECTION_REASONS, required=True)
    corrected_by = _user(required=True)


@registry.event("SessionNotesWritten")
class SessionNotesWrittenPayload(Schema):
    themes = _codes(domain.NOTE_THEMES, required=True)
    actions = _codes(domain.SESSION_ACTIONS, required=True)
    notes_text_id = _optional(fields.UUID)
    written_by = _user(required=True)


@registry.event("SessionNotesCorrected")
class SessionNotesCorrectedPayload(Schema):
    themes = _codes(domain.NOTE_THEMES, required=True)
    actions = _codes(domain.SESSION_ACTIONS, required=True)
    notes_text_id = _optional(fields.UUID)
    previous_themes = _codes(domain.NOTE_THEMES, required=True)
    previous_actions = _codes(domain.SESSION_ACTIONS, required=True)
    previous_notes_text_id = _optional(fields.UUID)
    reason = _code(domain.CORRECTION_REASONS, required=True)
    corrected_by = _user(required=True)


@registry.event("SessionVoided")
class SessionVoidedPayload(Schema):
    reason = _code(domain.VOID_REASONS, required=True)
    previous_status = _code((domain.BOOKED, domain.HELD, domain.CANCELLED), required=True)
    voided_by = _user(required=True)


@registry.event("AttendanceVoided")
class AttendanceVoidedPayload(Schema):
    person_id = fields.UUID(required=True)
    previous_status = _code(domain.ATTENDANCE, required=True)
    previous_attendance_code = _code(domain.ATTENDANCE.values(), required=True)
    reason = _code(domain.VOID_REASONS, required=True)
    voided_by = _user(required=True)

    @validates_schema
    def _code_of_status(self, data, **kwargs):
        _must_match(data, "previous_status", domain.ATTENDANCE, "previous_attendance_code")


# -- group events ------------------------------------------------------------------------------


@registry.event("GroupCreated")
class GroupCreatedPayload(Schema):
    # a group's name describes the group ("Tuesday walking group"), never a person in it
    name = Text(required=True, validate=validate.Length(min=1, max=120))
    kind = _code(domain.GROUP_KINDS, required=True)
    capacity = fields.Integer(required=True, validate=validate.Range(min=1))
    facilitator_ids = _workers(required=True)
    sessions_planned = _optional(fields.Integer, validate=validate.Range(min=1, max=520))
    created_by = _user(required=True)
    created_on = fields.Date(required=True)


@registry.event("GroupMemberJoined")
class GroupMemberJoinedPayload(Schema):
    person_id = fields.UUID(required=True)
    joined_on = fields.Date(required=True)
    recorded_by = _user(required=True)


@registry.event("GroupWaitingListJoined")
class GroupWaitingListJoinedPayload(GroupMemberJoinedPayload):
    position = fields.Integer(required=True, validate=validate.Range(min=1))


class GroupLeaving(Schema):
    person_id = fields.UUID(required=True)
    reason = _code(domain.LEAVING_REASONS, required=True)
    left_on = fields.Date(required=True)
    recorded_by = _user(required=True)


registry.register("GroupMemberLeft", GroupLeaving)
registry.register("GroupWaitingListLeft", GroupLeaving)


@registry.event("GroupMemberPromoted")
class GroupMemberPromotedPayload(Schema):
    person_id = fields.UUID(required=True)
    promoted_on = fields.Date(required=True)
    by = _user(required=True)


@registry.event("GroupCapacityChanged")
class GroupCapacityChangedPayload(Schema):
    capacity = fields.Integer(required=True, validate=validate.Range(min=1))
    previous_capacity = fields.Integer(required=True, validate=validate.Range(min=1))
    changed_by = _user(required=True)
    changed_on = fields.Date(required=True)


class GroupFacilitatorChange(Schema):
    worker_id = _user(required=True)
    recorded_by = _user(required=True)
    on = fields.Date(required=True)


registry.register("GroupFacilitatorAdded", GroupFacilitatorChange)
registry.register("GroupFacilitatorRemoved", GroupFacilitatorChange)


@registry.event("GroupClosed")
class GroupClosedPayload(Schema):
    reason = _code(domain.GROUP_CLOSING_REASONS, required=True)
    closed_by = _user(required=True)
    closed_on = fields.Date(required=True)


# -- plan content ------------------------------------------------------------------------------


class PlanStep(Schema):
    text_id = fields.UUID(required=True)
    status = _code(domain.STEP_STATUSES, load_default="not_started")


class PlanGoal(Schema):
    goal_id = fields.UUID(required=True)  # stable across revisions, so progress can be followed
    life_area = _code(domain.LIFE_AREAS, required=True)
    text_id = fields.UUID(required=True)
    progress = _optional(fields.Integer, validate=validate.Range(min=1, max=10))
    status = _code(domain.GOAL_STATUSES, load_default="working_on")
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
    type = _code(domain.PERSON_CONTACTS, required=True)
    contact_text_id = _optional(fields.UUID)  # name and number, sealed


class ServiceContact(Schema):
    type = _code(domain.SERVICE_CONTACTS, required=True)
    contact_text_id = _optional(fields.UUID)  # none for a national line such as 999


class CareContact(Schema):
    type = _code(domain.PERSON_CONTACTS + domain.SERVICE_CONTACTS, required=True)
    contact_text_id = _optional(fields.UUID)


def _contacts(schema) -> fields.List:
    return fields.List(
        fields.Nested(schema), load_default=list, validate=validate.Length(max=MAX_CONTACTS)
    )


class CrisisPlanContent(Schema):
    warning_signs = _codes(domain.WARNING_SIGNS)
    warning_signs_text_id = _optional(fields.UUID)
    what_helps = _codes(domain.WHAT_HELPS)
    what_helps_text_id = _optional(fields.UUID)
    people = _contacts(PersonContact)
    services = _contacts(ServiceContact)
    agreed_actions = _codes(domain.PLAN_ACTIONS)


class CarerCrisisPlanContent(CrisisPlanContent):
    """A carer's own crisis plan, with who would care for the person they look after."""

    cared_for_person_id = _optional(fields.UUID)  # only where the person cared for consents
    cared_for_needs_text_id = _optional(fields.UUID)
    replacement_care = _contacts(CareContact)


PLAN_CONTENT: dict[str, type[Schema]] = {
    domain.RECOVERY_WELLBEING: RecoveryPlanContent,
    domain.CRISIS_SAFETY: CrisisPlanContent,
    domain.CARER_CRISIS: CarerCrisisPlanContent,
}


def plan_content_document() -> dict:
    """A plan's `content`, one shape per kind (the plan's `kind` says which)."""
    shapes = []
    for kind, schema_cls in PLAN_CONTENT.items():
        shape = _json_schema(schema_cls)
        shapes.append({**shape, "title": kind, "additionalProperties": False})
    kinds = "; ".join(
        f"{kind}: {', '.join(schema_cls().fields)}" for kind, schema_cls in PLAN_CONTENT.items()
    )
    return {"description": f"The plan's content, by its kind ({kinds})", "anyOf": shapes}


class PlanContentOfKind(Schema):
    """A plan's kind and its content, checked against that kind's content schema and stored in
    its normal form (so that comparing two versions compares what they say)."""

    kind = _code(domain.PLAN_KINDS, required=True)
    content = fields.Dict(required=True, metadata={"openapi": plan_content_document()})

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


def _interval_days(**kwargs) -> fields.Integer:
    shortest, longest = domain.REVIEW_INTERVAL_DAYS_RANGE
    return fields.Integer(validate=validate.Range(min=shortest, max=longest), **kwargs)


@registry.event("PlanDrafted")
class PlanDraftedPayload(PlanContentOfKind):
    person_id = fields.UUID(required=True)
    referral_id = _optional(_stream)
    review_interval_days = _interval_days(required=True)
    drafted_by = _user(required=True)
    drafted_on = fields.Date(required=True)


@registry.event("PlanRevised")
class PlanRevisedPayload(PlanContentOfKind):
    revision = fields.Integer(required=True, validate=validate.Range(min=2))
    changed_sections = fields.List(fields.String(), required=True)
    reason = _code(domain.REVISION_REASONS, required=True)
    revised_by = _user(required=True)
    revised_on = fields.Date(required=True)


@registry.event("PlanReviewed")
class PlanReviewedPayload(Schema):
    outcome = _code(domain.REVIEW_OUTCOMES, required=True)
    reviewed_by = _user(required=True)
    reviewed_on = fields.Date(required=True)
    next_review_due_on = fields.Date(required=True)


@registry.event("PlanReviewIntervalChanged")
class PlanReviewIntervalChangedPayload(Schema):
    review_interval_days = _interval_days(required=True)
    previous_review_interval_days = _interval_days(required=True)
    changed_by = _user(required=True)
    changed_on = fields.Date(required=True)


@registry.event("PlanClosed")
class PlanClosedPayload(Schema):
    reason = _code(domain.PLAN_CLOSING_REASONS, required=True)
    closed_by = _user(required=True)
    closed_on = fields.Date(required=True)


# -- signposting events ------------------------------------------------------------------------


@registry.event("SignpostingRecorded")
class SignpostingRecordedPayload(Schema):
    person_id = fields.UUID(required=True)
    destination = _code(domain.SIGNPOSTING_DESTINATIONS, required=True)
    referral_id = _optional(_stream)
    session_id = _optional(_stream)
    signposted_by = _user(required=True)
    signposted_on = fields.Date(required=True)


@registry.event("SignpostingOutcomeRecorded")
class SignpostingOutcomeRecordedPayload(Schema):
    outcome = _code(domain.RECORDABLE_OUTCOMES, required=True)
    recorded_by = _user(required=True)
    recorded_on = fields.Date(required=True)


@registry.event("SignpostingOutcomeCorrected")
class SignpostingOutcomeCorrectedPayload(Schema):
    outcome = _code(domain.SIGNPOSTING_OUTCOMES, required=True)
    previous_outcome = _code(domain.SIGNPOSTING_OUTCOMES, required=True)
    reason = _code(domain.CORRECTION_REASONS, required=True)
    corrected_by = _user(required=True)
    corrected_on = fields.Date(required=True)


@registry.event("SignpostingVoided")
class SignpostingVoidedPayload(Schema):
    reason = _code(domain.VOID_REASONS, required=True)
    voided_by = _user(required=True)
    voided_on = fields.Date(required=True)


# -- measure events ----------------------------------------------------------------------------


class MeasureAnswers(Schema):
    """A measure's code and the person's answer to each item, checked by the measure's scorer."""

    measure = _code(measures.MEASURES, required=True)
    answers = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(strict=True),
        required=True,
        metadata={"openapi": measure_answers_document()},
    )

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
    timepoint = _code(measures.TIMEPOINTS, required=True)
    taken_on = fields.Date(required=True)
    raw_score = fields.Integer(required=True)
    metric_score = fields.Float(required=True)
    referral_id = _optional(_stream)
    recorded_by = _user(required=True)

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
    measure = _code(measures.MEASURES, required=True)
    timepoint = _code(measures.TIMEPOINTS, required=True)
    taken_on = fields.Date(required=True)
    referral_id = _optional(_stream)
    reason = _code(domain.VOID_REASONS, required=True)
    voided_by = _user(required=True)


# -- request bodies ----------------------------------------------------------------------------


class VersionedBody(Schema):
    """Optimistic concurrency: the version the client last saw (or an If-Match header)."""

    expected_version = _optional(fields.Integer, validate=validate.Range(min=1))


class DatedBody(VersionedBody):
    on = _optional(fields.Date)  # today when left out


class SessionLinksBody(Schema):
    """What a session is for; the service adds the referral's person and status, or the group's
    status, before the domain decides."""

    kind = _code(domain.SESSION_KINDS, required=True)
    referral_id = _optional(_stream)
    group_id = _optional(_stream)
    mode = _code(domain.MODES, required=True)
    location = _code(domain.LOCATIONS, required=True)
    worker_ids = _workers(required=True)

    @validates_schema
    def _links_fit_kind(self, data, **kwargs):
        kind = data["kind"]
        if kind in domain.REFERRAL_KINDS and not data.get("referral_id"):
            raise ValidationError("is needed for a one-to-one or carer support", "referral_id")
        if kind not in domain.REFERRAL_KINDS and data.get("referral_id"):
            raise ValidationError("is only for a one-to-one or carer support", "referral_id")
        if kind == domain.GROUP and not data.get("group_id"):
            raise ValidationError("is needed for a group session", "group_id")
        if kind not in domain.GROUP_KINDS_OF_SESSION and data.get("group_id"):
            raise ValidationError("is only for a group session or drop-in", "group_id")


class BookSessionBody(SessionLinksBody):
    planned_start_at = fields.AwareDateTime(required=True)
    planned_duration_minutes = _minutes(load_default=60)


class RecordSessionBody(SessionLinksBody):
    """A session that took place without being booked first."""

    actual_start_at = fields.AwareDateTime(required=True)
    duration_minutes = _minutes(required=True)


class RecordBookedSessionBody(VersionedBody):
    """A booked session that took place; mode, location and workers stand as booked unless
    given."""

    actual_start_at = fields.AwareDateTime(required=True)
    duration_minutes = _minutes(required=True)
    mode = _code(domain.MODES, load_default=None, allow_none=True)
    location = _code(domain.LOCATIONS, load_default=None, allow_none=True)
    worker_ids = _workers(load_default=None, allow_none=True)


class CancelSessionBody(VersionedBody):
    cancelled_by = _code(domain.CANCELLED_BY, required=True)
    reason = _code(domain.CANCELLATION_REASONS, required=True)


class RecordAttendanceBody(VersionedBody):
    person_id = fields.UUID(required=True)
    status = _code(domain.ATTENDANCE, required=True)


class CorrectAttendanceBody(RecordAttendanceBody):
    reason = _code(domain.CORRECTION_REASONS, required=True)


class CountAnonymousAttendeesBody(VersionedBody):
    count = _count(required=True)


class CorrectAnonymousAttendeesBody(CountAnonymousAttendeesBody):
    reason = _code(domain.CORRECTION_REASONS, required=True)


class WriteSessionNotesBody(VersionedBody):
    themes = _codes(domain.NOTE_THEMES)
    actions = _codes(domain.SESSION_ACTIONS)


class CreateGroupBody(Schema):
    name = Text(required=True, validate=validate.Length(min=1, max=120))
    kind = _code(domain.GROUP_KINDS, required=True)
    capacity = fields.Integer(required=True, validate=validate.Range(min=1, max=500))
    facilitator_ids = _workers(required=True)
    sessions_planned = _optional(fields.Integer, validate=validate.Range(min=1, max=520))
    on = _optional(fields.Date)


class JoinGroupBody(DatedBody):
    person_id = fields.UUID(required=True)


class LeaveGroupBody(JoinGroupBody):
    reason = _code(domain.LEAVING_REASONS, required=True)


class ChangeGroupCapacityBody(DatedBody):
    capacity = fields.Integer(required=True, validate=validate.Range(min=1, max=500))


class AddFacilitatorBody(DatedBody):
    worker_id = _user(required=True)


class RemoveFacilitatorBody(AddFacilitatorBody):
    pass


class CloseGroupBody(DatedBody):
    reason = _code(domain.GROUP_CLOSING_REASONS, required=True)


class DraftPlanBody(PlanContentOfKind):
    person_id = fields.UUID(required=True)
    referral_id = _optional(_stream)
    review_interval_days = _interval_days(load_default=domain.DEFAULT_REVIEW_INTERVAL_DAYS)
    on = _optional(fields.Date)


class RevisePlanBody(PlanContentOfKind, DatedBody):
    """The plan's full new content; `kind` must be the plan's own."""

    reason = _code(domain.REVISION_REASONS, required=True)


class ReviewPlanBody(DatedBody):
    outcome = _code(domain.REVIEW_OUTCOMES, required=True)


class ChangeReviewIntervalBody(DatedBody):
    review_interval_days = _interval_days(required=True)


class ClosePlanBody(DatedBody):
    reason = _code(domain.PLAN_CLOSING_REASONS, required=True)


class RecordSignpostingBody(Schema):
    person_id = fields.UUID(required=True)
    destination = _code(domain.SIGNPOSTING_DESTINATIONS, required=True)
    referral_id = _optional(_stream)
    session_id = _optional(_stream)
    on = _optional(fields.Date)


class RecordSignpostingOutcomeBody(DatedBody):
    outcome = _code(domain.RECORDABLE_OUTCOMES, required=True)


class VoidBody(VersionedBody):
    """Withdraw a record made in error, saying why (coded)."""

    reason = _code(domain.VOID_REASONS, required=True)


class VoidAttendanceBody(VoidBody):
    person_id = fields.UUID(required=True)


class VoidSignpostingBody(VoidBody):
    on = _optional(fields.Date)  # today when left out


class CorrectSignpostingOutcomeBody(RecordSignpostingOutcomeBody):
    reason = _code(domain.CORRECTION_REASONS, required=True)


class RecordMeasureBody(MeasureAnswers, VersionedBody):
    """The person is the stream (`/people/<person_id>/measures`); answers map item codes to the
    answer given, and are refused naming the item when one is missing, extra or out of range."""

    timepoint = _code(measures.TIMEPOINTS, required=True)
    taken_on = fields.Date(required=True)
    referral_id = _optional(_stream)


# -- HTTP: bodies that carry free text, lists and queries ----------------------------------------

MAX_TEXT = 20_000


def _text(**kwargs) -> fields.String:
    return Text(validate=validate.Length(min=1, max=MAX_TEXT), **kwargs)


class AttendanceItem(Schema):
    person_id = fields.UUID(required=True)
    status = _code(domain.ATTENDANCE, required=True)


def _attendance_list() -> fields.List:
    return fields.List(
        fields.Nested(AttendanceItem), load_default=list, validate=validate.Length(max=500)
    )


class WhoCame(Schema):
    """Who attended, recorded with the session in the same request: the session and its
    attendance are recorded together or not at all."""

    attendance = _attendance_list()
    anonymous_attendees = _optional(_count)

    @validates_schema
    def _people_once(self, data, **kwargs):
        people = [item["person_id"] for item in data.get("attendance", [])]
        if len(people) != len(set(people)):
            raise ValidationError("lists a person more than once", "attendance")


class HeldSessionBody(RecordSessionBody, WhoCame):
    """A session that took place without being booked first, with who came."""


class RecordBookedWithAttendanceBody(RecordBookedSessionBody, WhoCame):
    """A booked session held, with who came."""


class SessionNotesBody(WriteSessionNotesBody):
    """Coded notes, and the worker's own words (`text`, sealed here: the event names them by
    their text id), sealed under the person they are about: the session's person, or for a
    group or drop-in `about_person_id`, someone who attended (given with `text` only)."""

    text = _optional(_text)
    about_person_id = _optional(fields.UUID)


class CorrectSessionNotesBody(SessionNotesBody):
    """The notes as they should read; `text` left out keeps the words written before."""

    reason = _code(domain.CORRECTION_REASONS, required=True)


class SealTextBody(Schema):
    """Free text about one person (a plan's goal, a crisis contact), sealed in the vault; the
    reply's text_id is what plans carry."""

    person_id = fields.UUID(required=True)
    text = _text(required=True)


class _Window(Schema):
    """`from` and `to` are dates, both included."""

    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0))
    from_ = fields.Date(data_key="from", load_default=None)
    to = fields.Date(load_default=None)

    @validates_schema
    def _ordered(self, data, **kwargs):
        if data.get("from_") and data.get("to") and data["to"] < data["from_"]:
            raise ValidationError("must not be before from", "to")


class SessionListQuery(_Window):
    worker_id = _user()
    person_id = fields.UUID()
    group_id = _stream()
    referral_id = _stream()
    kind = _code(domain.SESSION_KINDS)
    # voided sessions are listed only when asked for
    status = _code((domain.BOOKED, domain.HELD, domain.CANCELLED, domain.VOIDED))


class DiaryQuery(_Window):
    worker_id = _user()


class GroupListQuery(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0))
    status = _code((domain.OPEN, domain.CLOSED))
    kind = _code(domain.GROUP_KINDS)
    facilitator_id = _user()


class RegisterQuery(Schema):
    from_ = fields.Date(data_key="from", load_default=None)
    to = fields.Date(load_default=None)
    # the members' names, opened from the people vault (audited): for the group's facilitators
    # and those who see the whole partner
    names = fields.Boolean(load_default=False)


class PlanListQuery(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0))
    person_id = fields.UUID()
    kind = _code(domain.PLAN_KINDS)
    status = _code((domain.OPEN, domain.CLOSED))
    review_overdue = fields.Boolean()


class SignpostingListQuery(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0))
    person_id = fields.UUID()
    destination = _code(domain.SIGNPOSTING_DESTINATIONS)
    outcome = _code(domain.SIGNPOSTING_OUTCOMES)


class TimelineQuery(_Window):
    pass


class MeasuresDueQuery(Schema):
    """A worker's open caseload (their own for a peer worker) and when each was last measured."""

    worker_id = _user()
    measure = _code(sorted(measures.MEASURES), load_default="swemwbs")
    # measured less recently than this many days ago (or never) is due
    every_days = fields.Integer(load_default=84, validate=validate.Range(min=7, max=366))


# -- HTTP: what each route answers -------------------------------------------------------------
# Each mirrors what its handler returns; a coded field lists its codes.

SESSION_STATUSES = (domain.BOOKED, domain.HELD, domain.CANCELLED, domain.VOIDED)
GROUP_STATUSES = (domain.OPEN, domain.CLOSED)
PLAN_STATUSES = (domain.OPEN, domain.CLOSED)
MEASURE_CODES = tuple(measures.MEASURES)


def _out_code(choices, **kwargs) -> fields.String:
    return fields.String(validate=validate.OneOf(tuple(choices)), **kwargs)


def _out_codes(choices, **kwargs) -> fields.List:
    return fields.List(_out_code(choices), **kwargs)


class Page(Schema):
    total = fields.Integer(metadata={"description": "How many match, on every page"})
    limit = fields.Integer()
    offset = fields.Integer()


class AttendanceOut(Schema):
    person_id = fields.String()
    status = _out_code(domain.ATTENDANCE)
    attendance_code = _out_code(domain.ATTENDANCE.values())


class SessionNotesOut(Schema):
    themes = _out_codes(domain.NOTE_THEMES)
    actions = _out_codes(domain.SESSION_ACTIONS)
    notes_text_id = fields.String(allow_none=True)
    written_by = fields.String()
    corrected_by = fields.String(metadata={"description": "Once corrected"})
    reason = _out_code(domain.CORRECTION_REASONS, metadata={"description": "Once corrected"})


class CancellationOut(Schema):
    cancelled_by = _out_code(domain.CANCELLED_BY)
    reason = _out_code(domain.CANCELLATION_REASONS)


class SessionVoidOut(Schema):
    reason = _out_code(domain.VOID_REASONS)
    previous_status = _out_code((domain.BOOKED, domain.HELD, domain.CANCELLED))


class SessionOut(Schema):
    session_id = fields.String()
    version = fields.Integer()
    status = _out_code(SESSION_STATUSES)
    kind = _out_code(domain.SESSION_KINDS)
    mode = _out_code(domain.MODES)
    medium_code = _out_code(MEDIUM_CODES)
    location = _out_code(domain.LOCATIONS)
    worker_ids = fields.List(fields.String())
    referral_id = fields.String(allow_none=True)
    person_id = fields.String(allow_none=True)
    group_id = fields.String(allow_none=True)
    planned_start_at = fields.AwareDateTime(allow_none=True)
    planned_duration_minutes = fields.Integer(allow_none=True)
    actual_start_at = fields.AwareDateTime(allow_none=True)
    duration_minutes = fields.Integer(allow_none=True)
    attendance = fields.List(fields.Nested(AttendanceOut))
    anonymous_attendees = fields.Integer(allow_none=True)
    notes = fields.Nested(SessionNotesOut, allow_none=True)
    cancellation = fields.Nested(CancellationOut, allow_none=True)
    voided = fields.Nested(SessionVoidOut, allow_none=True)


class DuplicateWarning(Schema):
    """Not a refusal: the record stands, and may be voided if it is a duplicate."""

    rule = fields.String()
    message = fields.String()
    session_ids = fields.List(fields.String())


class SessionRecorded(SessionOut):
    warnings = fields.List(fields.Nested(DuplicateWarning))


class SessionRead(SessionOut):
    attendance_history = fields.List(
        fields.Dict(),
        metadata={"description": "Each attendance recorded, corrected or voided, in order"},
    )


class SessionListItem(Schema):
    session_id = fields.String()
    kind = _out_code(domain.SESSION_KINDS)
    status = _out_code(SESSION_STATUSES)
    mode = _out_code(domain.MODES)
    location = _out_code(domain.LOCATIONS)
    worker_ids = fields.List(fields.String())
    referral_id = fields.String(allow_none=True)
    person_id = fields.String(allow_none=True)
    group_id = fields.String(allow_none=True)
    starts_at = fields.AwareDateTime()
    duration_minutes = fields.Integer()
    anonymous_attendees = fields.Integer(allow_none=True)
    version = fields.Integer()
    seen = fields.Integer(metadata={"description": "People who attended (seen or late seen)"})


class SessionPage(Page):
    items = fields.List(fields.Nested(SessionListItem))


class NotesRead(SessionNotesOut):
    text = fields.String(allow_none=True, metadata={"description": 'The words, or "erased"'})


class SessionNotesRead(Schema):
    session_id = fields.String()
    version = fields.Integer()
    notes = fields.Nested(NotesRead)


class NotesVersion(Schema):
    version = fields.Integer()
    event_type = _out_code(("SessionNotesWritten", "SessionNotesCorrected"))
    recorded_at = fields.AwareDateTime()
    by = fields.String()
    reason = _out_code(domain.CORRECTION_REASONS, allow_none=True)
    themes = _out_codes(domain.NOTE_THEMES)
    actions = _out_codes(domain.SESSION_ACTIONS)
    notes_text_id = fields.String(allow_none=True)
    text = fields.String(allow_none=True, metadata={"description": 'The words, or "erased"'})


class SessionNotesHistory(Schema):
    session_id = fields.String()
    version = fields.Integer()
    history = fields.List(fields.Nested(NotesVersion))


class SessionHistory(History):
    session_id = fields.String()


class DiaryItem(Schema):
    session_id = fields.String()
    kind = _out_code(domain.SESSION_KINDS)
    status = _out_code(SESSION_STATUSES)
    mode = _out_code(domain.MODES)
    location = _out_code(domain.LOCATIONS)
    worker_ids = fields.List(fields.String())
    referral_id = fields.String(allow_none=True)
    person_id = fields.String(allow_none=True)
    group_id = fields.String(allow_none=True)
    group_name = fields.String(allow_none=True)
    starts_at = fields.AwareDateTime()
    duration_minutes = fields.Integer()
    ends_at = fields.AwareDateTime()
    version = fields.Integer()


class Diary(Page):
    worker_id = fields.String()
    from_ = fields.Date(data_key="from")
    to = fields.Date()
    items = fields.List(fields.Nested(DiaryItem))


class GroupOut(Schema):
    group_id = fields.String()
    version = fields.Integer()
    status = _out_code(GROUP_STATUSES)
    name = fields.String()
    kind = _out_code(domain.GROUP_KINDS)
    capacity = fields.Integer()
    places_free = fields.Integer()
    sessions_planned = fields.Integer(allow_none=True)
    facilitator_ids = fields.List(fields.String())
    members = fields.List(fields.String())
    waiting_list = fields.List(fields.String(), metadata={"description": "First waiting first"})


class GroupListItem(Schema):
    group_id = fields.String()
    name = fields.String()
    kind = _out_code(domain.GROUP_KINDS)
    status = _out_code(GROUP_STATUSES)
    capacity = fields.Integer()
    members = fields.Integer(metadata={"description": "How many are members"})
    waiting = fields.Integer(metadata={"description": "How many are waiting"})
    places_free = fields.Integer()
    facilitator_ids = fields.List(fields.String())
    sessions_planned = fields.Integer(allow_none=True)
    created_on = fields.Date()
    version = fields.Integer()


class GroupPage(Page):
    items = fields.List(fields.Nested(GroupListItem))


class RegisterSession(Schema):
    session_id = fields.String()
    status = _out_code(SESSION_STATUSES)
    starts_at = fields.AwareDateTime()
    duration_minutes = fields.Integer()
    anonymous_attendees = fields.Integer(allow_none=True)


class RegisterMark(Schema):
    session_id = fields.String()
    status = _out_code(domain.ATTENDANCE, allow_none=True)
    is_corrected = fields.Boolean()


class RegisterRow(Schema):
    person_id = fields.String()
    is_member = fields.Boolean()
    full_name = fields.String(
        allow_none=True,
        metadata={"description": 'With names=true only: the name, or "erased" (audited)'},
    )
    attendance = fields.List(fields.Nested(RegisterMark))
    totals = fields.Dict(
        keys=_out_code(domain.ATTENDANCE),
        values=fields.Integer(),
        metadata={"description": "Sessions per attendance status"},
    )


class GroupRegister(Schema):
    group_id = fields.String()
    name = fields.String()
    sessions = fields.List(fields.Nested(RegisterSession))
    people = fields.List(fields.Nested(RegisterRow))


class TextSealed(Schema):
    text_id = fields.String()
    person_id = fields.String()


class TextRead(TextSealed):
    text = fields.String(metadata={"description": 'The words, or "erased"'})


class PlanOut(Schema):
    plan_id = fields.String()
    version = fields.Integer()
    status = _out_code(PLAN_STATUSES)
    person_id = fields.String()
    kind = _out_code(domain.PLAN_KINDS)
    referral_id = fields.String(allow_none=True)
    revision = fields.Integer()
    content = fields.Dict(metadata={"openapi": plan_content_document()})
    drafted_on = fields.Date()
    last_reviewed_on = fields.Date(allow_none=True)
    review_interval_days = fields.Integer()
    review_due_on = fields.Date()


class PlanRead(PlanOut):
    texts = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        metadata={"description": 'Each sealed text the content names, opened (or "erased")'},
    )


class PlanListItem(Schema):
    plan_id = fields.String()
    person_id = fields.String()
    kind = _out_code(domain.PLAN_KINDS)
    status = _out_code(PLAN_STATUSES)
    revision = fields.Integer()
    referral_id = fields.String(allow_none=True)
    drafted_on = fields.Date()
    last_reviewed_on = fields.Date(allow_none=True)
    review_interval_days = fields.Integer()
    review_due_on = fields.Date(allow_none=True)
    version = fields.Integer()
    is_review_overdue = fields.Boolean()


class PlanPage(Page):
    items = fields.List(fields.Nested(PlanListItem))


class PlanHistory(History):
    plan_id = fields.String()


class SignpostingVoidOut(Schema):
    reason = _out_code(domain.VOID_REASONS)
    voided_on = fields.Date()


class SignpostingOut(Schema):
    signposting_id = fields.String()
    version = fields.Integer()
    person_id = fields.String()
    destination = _out_code(domain.SIGNPOSTING_DESTINATIONS)
    referral_id = fields.String(allow_none=True)
    session_id = fields.String(allow_none=True)
    signposted_on = fields.Date()
    outcome = _out_code(domain.SIGNPOSTING_OUTCOMES)
    voided = fields.Nested(SignpostingVoidOut, allow_none=True)


class SignpostingListItem(Schema):
    signposting_id = fields.String()
    person_id = fields.String()
    destination = _out_code(domain.SIGNPOSTING_DESTINATIONS)
    outcome = _out_code(domain.SIGNPOSTING_OUTCOMES)
    signposted_on = fields.Date()
    referral_id = fields.String(allow_none=True)
    session_id = fields.String(allow_none=True)
    version = fields.Integer()


class SignpostingPage(Page):
    items = fields.List(fields.Nested(SignpostingListItem))


class MeasureTakenOut(Schema):
    number = fields.Integer(metadata={"description": "The path's number, to void it by"})
    measure = _out_code(measures.MEASURES)
    timepoint = _out_code(measures.TIMEPOINTS)
    taken_on = fields.Date()
    metric_score = fields.Float()


class ScoreOn(Schema):
    taken_on = fields.Date()
    score = fields.Float()


class MeasureChange(Schema):
    first = fields.Nested(ScoreOn)
    latest = fields.Nested(ScoreOn)
    change = fields.Float()
    threshold = fields.Float()
    outcome = _out_code((measures.IMPROVED, measures.NO_RELIABLE_CHANGE, measures.DETERIORATED))
    is_meaningful = fields.Boolean()
    threshold_source = fields.String()


class PersonMeasuresOut(Schema):
    person_id = fields.String()
    version = fields.Integer()
    measures = fields.List(fields.Nested(MeasureTakenOut))
    changes = fields.Dict(
        keys=_out_code(MEASURE_CODES),
        values=fields.Nested(MeasureChange),
        metadata={"description": "Per measure taken twice or more: first to latest"},
    )
    measures_known = _out_codes(MEASURE_CODES)


class TimelineItem(Schema):
    happened_at = fields.AwareDateTime()
    what = fields.String(metadata={"description": "The kind of record: session, group, plan, …"})
    id = fields.String(metadata={"description": "The record's id"})
    event_type = _out_code(tuple(registry.names()))
    detail = fields.Dict()
    position = fields.Integer()


class MeasureDue(Schema):
    person_id = fields.String()
    referral_id = fields.String()
    last_taken_on = fields.Date(allow_none=True)
    is_due = fields.Boolean()


class MeasuresDue(Schema):
    worker_id = fields.String()
    measure = fields.String()
    every_days = fields.Integer()
    items = fields.List(fields.Nested(MeasureDue))


class Timeline(Page):
    person_id = fields.String()
    items = fields.List(fields.Nested(TimelineItem))
