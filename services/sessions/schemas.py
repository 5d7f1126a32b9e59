"""Sessions event payloads and request bodies: sessions and attendance, groups, plans,
signposting and outcome measures.

No free text about a person passes through here: a worker's or a person's own words are sealed
in the people vault first, and payloads and bodies carry only the sealed text's id
(`*_text_id`).
"""

from __future__ import annotations

from decimal import Decimal

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from services.sessions import domain, measures
from shared.events import EventRegistry

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


class Trimmed(fields.String):
    """Text with its surrounding spaces taken off; what is left must say something."""

    default_error_messages = {"blank": "must not be blank"}

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        if not text:
            raise self.make_error("blank")
        return text


def _user(**kwargs) -> fields.String:
    """A worker's user id, as the token names them."""
    return Trimmed(validate=validate.Length(min=1, max=200), **kwargs)


def _stream(**kwargs) -> fields.String:
    """The id of another stream: a referral, session or group."""
    return Trimmed(validate=validate.Length(min=1, max=200), **kwargs)


def _optional(field_class, **kwargs):
    return field_class(load_default=None, allow_none=True, **kwargs)


def _workers(**kwargs) -> fields.List:
    return fields.List(_user(), validate=validate.Length(min=1, max=MAX_WORKERS), **kwargs)


def _minutes(**kwargs) -> fields.Integer:
    return fields.Integer(validate=validate.Range(min=1, max=domain.MAX_SESSION_MINUTES), **kwargs)


def _must_match(data: dict, value: str, table: dict, code: str) -> None:
    if table.get(data[value]) != data[code]:
        raise ValidationError(f"must be the code of {value} '{data[value]}'", code)


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
    name = Trimmed(required=True, validate=validate.Length(min=1, max=120))
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


class PlanContentOfKind(Schema):
    """A plan's kind and its content, checked against that kind's content schema and stored in
    its normal form (so that comparing two versions compares what they say)."""

    kind = _code(domain.PLAN_KINDS, required=True)
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
    notes_text_id = _optional(fields.UUID)


class CreateGroupBody(Schema):
    name = Trimmed(required=True, validate=validate.Length(min=1, max=120))
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
    return Trimmed(validate=validate.Length(min=1, max=MAX_TEXT), **kwargs)


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
    """Coded notes, and the worker's own words, sealed under the person they are about: the
    session's person, or for a group or drop-in `about_person_id`, someone who attended."""

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
