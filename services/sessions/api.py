"""The sessions service's HTTP bodies: what each route takes (request bodies and queries) and
how the shapes that depend on another field are documented. What each route answers is in
api_answers.py; the stored events are contracts.sessions.events.

No free text about a person is kept from here as it came: a worker's or a person's own words
are sealed in the people vault, and what is stored carries only the sealed text's id.
"""

from __future__ import annotations

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from contracts.sessions import measures
from contracts.sessions.codes import (
    ATTENDANCE,
    BOOKED,
    CANCELLATION_REASONS,
    CANCELLED,
    CANCELLED_BY,
    CLOSED,
    CORRECTION_REASONS,
    DEFAULT_REVIEW_INTERVAL_DAYS,
    GROUP,
    GROUP_CLOSING_REASONS,
    GROUP_KINDS,
    GROUP_KINDS_OF_SESSION,
    HELD,
    LEAVING_REASONS,
    LOCATIONS,
    MODES,
    NOTE_THEMES,
    OPEN,
    PLAN_CLOSING_REASONS,
    PLAN_KINDS,
    RECORDABLE_OUTCOMES,
    REFERRAL_KINDS,
    REVIEW_OUTCOMES,
    REVISION_REASONS,
    SESSION_ACTIONS,
    SESSION_KINDS,
    SIGNPOSTING_DESTINATIONS,
    SIGNPOSTING_OUTCOMES,
    VOID_REASONS,
    VOIDED,
)
from contracts.sessions.events import (
    PLAN_CONTENT,
    MeasureAnswers,
    PlanContentOfKind,
    code,
    codes,
    interval_days,
    minutes,
    optional,
    people_count,
    stream,
    user,
    workers,
)
from shared.fields import Text

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
    for measure_code, measure in measures.MEASURES.items():
        answer = {
            "type": "integer",
            "minimum": measure.lowest_answer,
            "maximum": measure.highest_answer,
        }
        shapes.append(
            {
                "title": measure_code,
                "description": f"{measure.name} (SNOMED CT {measure.snomed_ct}): every item",
                "type": "object",
                "properties": {item: dict(answer) for item in measure.items},
                "required": list(measure.items),
                "additionalProperties": False,
            }
        )
    return {"description": "The answer to each of the measure's items", "anyOf": shapes}


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


class PlanContentBody(PlanContentOfKind):
    """A plan's kind and content as a client sends them, documented one shape per kind."""

    content = fields.Dict(required=True, metadata={"openapi": plan_content_document()})


class MeasureAnswersBody(MeasureAnswers):
    """A measure's code and answers as a client sends them, documented item by item."""

    answers = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(strict=True),
        required=True,
        metadata={"openapi": measure_answers_document()},
    )


# -- request bodies ----------------------------------------------------------------------------


class VersionedBody(Schema):
    """Optimistic concurrency: the version the client last saw (or an If-Match header)."""

    expected_version = optional(fields.Integer, validate=validate.Range(min=1))


class DatedBody(VersionedBody):
    on = optional(fields.Date)  # today when left out


class SessionLinksBody(Schema):
    """What a session is for; the service adds the referral's person and status, or the group's
    status, before the domain decides."""

    kind = code(SESSION_KINDS, required=True)
    referral_id = optional(stream)
    group_id = optional(stream)
    mode = code(MODES, required=True)
    location = code(LOCATIONS, required=True)
    worker_ids = workers(required=True)

    @validates_schema
    def _links_fit_kind(self, data, **kwargs):
        kind = data["kind"]
        if kind in REFERRAL_KINDS and not data.get("referral_id"):
            raise ValidationError("is needed for a one-to-one or carer support", "referral_id")
        if kind not in REFERRAL_KINDS and data.get("referral_id"):
            raise ValidationError("is only for a one-to-one or carer support", "referral_id")
        if kind == GROUP and not data.get("group_id"):
            raise ValidationError("is needed for a group session", "group_id")
        if kind not in GROUP_KINDS_OF_SESSION and data.get("group_id"):
            raise ValidationError("is only for a group session or drop-in", "group_id")


class BookSessionBody(SessionLinksBody):
    planned_start_at = fields.AwareDateTime(required=True)
    planned_duration_minutes = minutes(load_default=60)


class RecordSessionBody(SessionLinksBody):
    """A session that took place without being booked first."""

    actual_start_at = fields.AwareDateTime(required=True)
    duration_minutes = minutes(required=True)


class RecordBookedSessionBody(VersionedBody):
    """A booked session that took place; mode, location and workers stand as booked unless
    given."""

    actual_start_at = fields.AwareDateTime(required=True)
    duration_minutes = minutes(required=True)
    mode = code(MODES, load_default=None, allow_none=True)
    location = code(LOCATIONS, load_default=None, allow_none=True)
    worker_ids = workers(load_default=None, allow_none=True)


class CancelSessionBody(VersionedBody):
    cancelled_by = code(CANCELLED_BY, required=True)
    reason = code(CANCELLATION_REASONS, required=True)


class RecordAttendanceBody(VersionedBody):
    person_id = fields.UUID(required=True)
    status = code(ATTENDANCE, required=True)


class CorrectAttendanceBody(RecordAttendanceBody):
    reason = code(CORRECTION_REASONS, required=True)


class CountAnonymousAttendeesBody(VersionedBody):
    count = people_count(required=True)


class CorrectAnonymousAttendeesBody(CountAnonymousAttendeesBody):
    reason = code(CORRECTION_REASONS, required=True)


class WriteSessionNotesBody(VersionedBody):
    themes = codes(NOTE_THEMES)
    actions = codes(SESSION_ACTIONS)


class CreateGroupBody(Schema):
    name = Text(required=True, validate=validate.Length(min=1, max=120))
    kind = code(GROUP_KINDS, required=True)
    capacity = fields.Integer(required=True, validate=validate.Range(min=1, max=500))
    facilitator_ids = workers(required=True)
    sessions_planned = optional(fields.Integer, validate=validate.Range(min=1, max=520))
    on = optional(fields.Date)


class JoinGroupBody(DatedBody):
    person_id = fields.UUID(required=True)


class LeaveGroupBody(JoinGroupBody):
    reason = code(LEAVING_REASONS, required=True)


class ChangeGroupCapacityBody(DatedBody):
    capacity = fields.Integer(required=True, validate=validate.Range(min=1, max=500))


class AddFacilitatorBody(DatedBody):
    worker_id = user(required=True)


class RemoveFacilitatorBody(AddFacilitatorBody):
    pass


class CloseGroupBody(DatedBody):
    reason = code(GROUP_CLOSING_REASONS, required=True)


class DraftPlanBody(PlanContentBody):
    person_id = fields.UUID(required=True)
    referral_id = optional(stream)
    review_interval_days = interval_days(load_default=DEFAULT_REVIEW_INTERVAL_DAYS)
    on = optional(fields.Date)


class RevisePlanBody(PlanContentBody, DatedBody):
    """The plan's full new content; `kind` must be the plan's own."""

    reason = code(REVISION_REASONS, required=True)


class ReviewPlanBody(DatedBody):
    outcome = code(REVIEW_OUTCOMES, required=True)


class ChangeReviewIntervalBody(DatedBody):
    review_interval_days = interval_days(required=True)


class ClosePlanBody(DatedBody):
    reason = code(PLAN_CLOSING_REASONS, required=True)


class RecordSignpostingBody(Schema):
    person_id = fields.UUID(required=True)
    destination = code(SIGNPOSTING_DESTINATIONS, required=True)
    referral_id = optional(stream)
    session_id = optional(stream)
    on = optional(fields.Date)


class RecordSignpostingOutcomeBody(DatedBody):
    outcome = code(RECORDABLE_OUTCOMES, required=True)


class VoidBody(VersionedBody):
    """Withdraw a record made in error, saying why (coded)."""

    reason = code(VOID_REASONS, required=True)


class VoidAttendanceBody(VoidBody):
    person_id = fields.UUID(required=True)


class VoidSignpostingBody(VoidBody):
    on = optional(fields.Date)  # today when left out


class CorrectSignpostingOutcomeBody(RecordSignpostingOutcomeBody):
    reason = code(CORRECTION_REASONS, required=True)


class RecordMeasureBody(MeasureAnswersBody, VersionedBody):
    """The person is the stream (`/people/<person_id>/measures`); answers map item codes to the
    answer given, and are refused naming the item when one is missing, extra or out of range."""

    timepoint = code(measures.TIMEPOINTS, required=True)
    taken_on = fields.Date(required=True)
    referral_id = optional(stream)


# -- HTTP: bodies that carry free text, lists and queries ----------------------------------------

MAX_TEXT = 20_000


def _text(**kwargs) -> fields.String:
    return Text(validate=validate.Length(min=1, max=MAX_TEXT), **kwargs)


class AttendanceItem(Schema):
    person_id = fields.UUID(required=True)
    status = code(ATTENDANCE, required=True)


def _attendance_list() -> fields.List:
    return fields.List(
        fields.Nested(AttendanceItem), load_default=list, validate=validate.Length(max=500)
    )


class WhoCame(Schema):
    """Who attended, recorded with the session in the same request: the session and its
    attendance are recorded together or not at all."""

    attendance = _attendance_list()
    anonymous_attendees = optional(people_count)

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

    text = optional(_text)
    about_person_id = optional(fields.UUID)


class CorrectSessionNotesBody(SessionNotesBody):
    """The notes as they should read; `text` left out keeps the words written before."""

    reason = code(CORRECTION_REASONS, required=True)


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
    worker_id = user()
    person_id = fields.UUID()
    group_id = stream()
    referral_id = stream()
    kind = code(SESSION_KINDS)
    # voided sessions are listed only when asked for
    status = code((BOOKED, HELD, CANCELLED, VOIDED))


class DiaryQuery(_Window):
    worker_id = user()


class GroupListQuery(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0))
    status = code((OPEN, CLOSED))
    kind = code(GROUP_KINDS)
    facilitator_id = user()


class RegisterQuery(Schema):
    from_ = fields.Date(data_key="from", load_default=None)
    to = fields.Date(load_default=None)
    # one session's register: what a worker named to run that session reads
    session_id = fields.UUID()
    # the members' names, opened from the people vault (audited): for the group's facilitators
    # and those who see the whole partner
    names = fields.Boolean(load_default=False)


class PlanListQuery(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0))
    person_id = fields.UUID()
    kind = code(PLAN_KINDS)
    status = code((OPEN, CLOSED))
    review_overdue = fields.Boolean()


class SignpostingListQuery(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0))
    person_id = fields.UUID()
    destination = code(SIGNPOSTING_DESTINATIONS)
    outcome = code(SIGNPOSTING_OUTCOMES)


class TimelineQuery(_Window):
    pass


class MeasuresDueQuery(Schema):
    """A worker's open caseload (their own for a peer worker) and when each was last measured."""

    worker_id = user()
    measure = code(sorted(measures.MEASURES), load_default="swemwbs")
    # measured less recently than this many days ago (or never) is due
    every_days = fields.Integer(load_default=84, validate=validate.Range(min=7, max=366))
