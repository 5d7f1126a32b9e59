"""What each route of the sessions service answers: each schema mirrors what its handler returns,
and a coded field lists its codes (the OpenAPI document and the fuzz tests read them)."""

from __future__ import annotations

from marshmallow import Schema, fields

from contracts.sessions import measures
from contracts.sessions.codes import (
    ATTENDANCE,
    BOOKED,
    CANCELLATION_REASONS,
    CANCELLED,
    CANCELLED_BY,
    CLOSED,
    CORRECTION_REASONS,
    GROUP_KINDS,
    HELD,
    LOCATIONS,
    MODES,
    NOTE_THEMES,
    OPEN,
    PLAN_KINDS,
    SESSION_ACTIONS,
    SESSION_KINDS,
    SIGNPOSTING_DESTINATIONS,
    SIGNPOSTING_OUTCOMES,
    VOID_REASONS,
    VOIDED,
)
from contracts.sessions.events import MEDIUM_CODES, code, registry
from services.sessions.api import plan_content_document
from shared.web import History

SESSION_STATUSES = (BOOKED, HELD, CANCELLED, VOIDED)
GROUP_STATUSES = (OPEN, CLOSED)
PLAN_STATUSES = (OPEN, CLOSED)
MEASURE_CODES = tuple(measures.MEASURES)


def _out_codes(choices, **kwargs) -> fields.List:
    """Codes an answer lists (a request's `codes` also limits how many and defaults to none)."""
    return fields.List(code(choices), **kwargs)


class Page(Schema):
    total = fields.Integer(metadata={"description": "How many match, on every page"})
    limit = fields.Integer()
    offset = fields.Integer()


def page_of(name: str, item: type[Schema]) -> type[Schema]:
    """A list route's answer: a page of `item`s, called `name` in the OpenAPI document."""
    return Page.from_dict({"items": fields.List(fields.Nested(item))}, name=name)


class AttendanceOut(Schema):
    person_id = fields.String()
    status = code(ATTENDANCE)
    attendance_code = code(ATTENDANCE.values())


class SessionNotesOut(Schema):
    themes = _out_codes(NOTE_THEMES)
    actions = _out_codes(SESSION_ACTIONS)
    notes_text_id = fields.String(allow_none=True)
    written_by = fields.String()
    corrected_by = fields.String(metadata={"description": "Once corrected"})
    reason = code(CORRECTION_REASONS, metadata={"description": "Once corrected"})


class CancellationOut(Schema):
    cancelled_by = code(CANCELLED_BY)
    reason = code(CANCELLATION_REASONS)


class SessionVoidOut(Schema):
    reason = code(VOID_REASONS)
    previous_status = code((BOOKED, HELD, CANCELLED))


class SessionOut(Schema):
    session_id = fields.String()
    version = fields.Integer()
    status = code(SESSION_STATUSES)
    kind = code(SESSION_KINDS)
    mode = code(MODES)
    medium_code = code(MEDIUM_CODES)
    location = code(LOCATIONS)
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


class SessionListed(Schema):
    """What a list of sessions says of each, before its times."""

    session_id = fields.String()
    kind = code(SESSION_KINDS)
    status = code(SESSION_STATUSES)
    mode = code(MODES)
    location = code(LOCATIONS)
    worker_ids = fields.List(fields.String())
    referral_id = fields.String(allow_none=True)
    person_id = fields.String(allow_none=True)
    group_id = fields.String(allow_none=True)


class SessionListItem(SessionListed):
    starts_at = fields.AwareDateTime()
    duration_minutes = fields.Integer()
    anonymous_attendees = fields.Integer(allow_none=True)
    version = fields.Integer()
    seen = fields.Integer(metadata={"description": "People who attended (seen or late seen)"})


SessionPage = page_of("SessionPage", SessionListItem)


class NotesRead(SessionNotesOut):
    text = fields.String(allow_none=True, metadata={"description": 'The words, or "erased"'})


class SessionNotesRead(Schema):
    session_id = fields.String()
    version = fields.Integer()
    notes = fields.Nested(NotesRead)


class NotesVersion(Schema):
    version = fields.Integer()
    event_type = code(("SessionNotesWritten", "SessionNotesCorrected"))
    recorded_at = fields.AwareDateTime()
    by = fields.String()
    reason = code(CORRECTION_REASONS, allow_none=True)
    themes = _out_codes(NOTE_THEMES)
    actions = _out_codes(SESSION_ACTIONS)
    notes_text_id = fields.String(allow_none=True)
    text = fields.String(allow_none=True, metadata={"description": 'The words, or "erased"'})


class SessionNotesHistory(Schema):
    session_id = fields.String()
    version = fields.Integer()
    history = fields.List(fields.Nested(NotesVersion))


class SessionHistory(History):
    session_id = fields.String()


class DiaryItem(SessionListed):
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
    status = code(GROUP_STATUSES)
    name = fields.String()
    kind = code(GROUP_KINDS)
    capacity = fields.Integer()
    places_free = fields.Integer()
    sessions_planned = fields.Integer(allow_none=True)
    facilitator_ids = fields.List(fields.String())
    members = fields.List(fields.String())
    waiting_list = fields.List(fields.String(), metadata={"description": "First waiting first"})


class GroupListItem(Schema):
    group_id = fields.String()
    name = fields.String()
    kind = code(GROUP_KINDS)
    status = code(GROUP_STATUSES)
    capacity = fields.Integer()
    members = fields.Integer(metadata={"description": "How many are members"})
    waiting = fields.Integer(metadata={"description": "How many are waiting"})
    places_free = fields.Integer()
    facilitator_ids = fields.List(fields.String())
    sessions_planned = fields.Integer(allow_none=True)
    created_on = fields.Date()
    version = fields.Integer()


GroupPage = page_of("GroupPage", GroupListItem)


class RegisterSession(Schema):
    session_id = fields.String()
    status = code(SESSION_STATUSES)
    starts_at = fields.AwareDateTime()
    duration_minutes = fields.Integer()
    anonymous_attendees = fields.Integer(allow_none=True)


class RegisterMark(Schema):
    session_id = fields.String()
    status = code(ATTENDANCE, allow_none=True)
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
        keys=code(ATTENDANCE),
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
    status = code(PLAN_STATUSES)
    person_id = fields.String()
    kind = code(PLAN_KINDS)
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
    kind = code(PLAN_KINDS)
    status = code(PLAN_STATUSES)
    revision = fields.Integer()
    referral_id = fields.String(allow_none=True)
    drafted_on = fields.Date()
    last_reviewed_on = fields.Date(allow_none=True)
    review_interval_days = fields.Integer()
    review_due_on = fields.Date(allow_none=True)
    version = fields.Integer()
    is_review_overdue = fields.Boolean()


PlanPage = page_of("PlanPage", PlanListItem)


class PlanHistory(History):
    plan_id = fields.String()


class SignpostingVoidOut(Schema):
    reason = code(VOID_REASONS)
    voided_on = fields.Date()


class SignpostingOut(Schema):
    signposting_id = fields.String()
    version = fields.Integer()
    person_id = fields.String()
    destination = code(SIGNPOSTING_DESTINATIONS)
    referral_id = fields.String(allow_none=True)
    session_id = fields.String(allow_none=True)
    signposted_on = fields.Date()
    outcome = code(SIGNPOSTING_OUTCOMES)
    voided = fields.Nested(SignpostingVoidOut, allow_none=True)


class SignpostingListItem(Schema):
    signposting_id = fields.String()
    person_id = fields.String()
    destination = code(SIGNPOSTING_DESTINATIONS)
    outcome = code(SIGNPOSTING_OUTCOMES)
    signposted_on = fields.Date()
    referral_id = fields.String(allow_none=True)
    session_id = fields.String(allow_none=True)
    version = fields.Integer()


SignpostingPage = page_of("SignpostingPage", SignpostingListItem)


class MeasureTakenOut(Schema):
    number = fields.Integer(metadata={"description": "The path's number, to void it by"})
    measure = code(measures.MEASURES)
    timepoint = code(measures.TIMEPOINTS)
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
    outcome = code((measures.IMPROVED, measures.NO_RELIABLE_CHANGE, measures.DETERIORATED))
    is_meaningful = fields.Boolean()
    threshold_source = fields.String()


class PersonMeasuresOut(Schema):
    person_id = fields.String()
    version = fields.Integer()
    measures = fields.List(fields.Nested(MeasureTakenOut))
    changes = fields.Dict(
        keys=code(MEASURE_CODES),
        values=fields.Nested(MeasureChange),
        metadata={"description": "Per measure taken twice or more: first to latest"},
    )
    measures_known = _out_codes(MEASURE_CODES)


class TimelineItem(Schema):
    happened_at = fields.AwareDateTime()
    what = fields.String(metadata={"description": "The kind of record: session, group, plan, …"})
    id = fields.String(metadata={"description": "The record's id"})
    event_type = code(tuple(registry.names()))
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
