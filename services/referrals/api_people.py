"""The people API's request and response bodies (marshmallow): registering, changing, finding,
erasing and exporting a person, their audit trail, and the retention review."""

from __future__ import annotations

from datetime import UTC, date, datetime

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates

from contracts.referrals.codes import ERASURE_REASONS, ETHNICITY, GENDERS
from shared import vault as people_vault
from shared.web import Text


def _text(max_length: int, **kw):
    return Text(validate=validate.Length(min=1, max=max_length), **kw)


class IdentifiersSchema(Schema):
    class Meta:
        unknown = RAISE

    full_name = _text(200)
    preferred_name = _text(200, allow_none=True)
    pronouns = _text(50, allow_none=True)
    date_of_birth = fields.Date()
    nhs_number = _text(20, allow_none=True)
    address = _text(500, allow_none=True)
    postcode = fields.String(
        allow_none=True,
        validate=validate.Regexp(
            r"^[A-Za-z]{1,2}[0-9][A-Za-z0-9]? ?[0-9][A-Za-z]{2}$",
            error="must be a UK postcode, e.g. LS7 3HB",
        ),
    )
    phone = fields.String(
        allow_none=True,
        validate=validate.Regexp(
            r"^\+?[0-9 ()-]{7,20}$", error="must be a phone number of 7 to 20 digits"
        ),
    )
    email = fields.Email(allow_none=True, validate=validate.Length(max=254))
    gp_practice = _text(200, allow_none=True)
    emergency_contact = _text(500, allow_none=True)
    communication_needs = _text(1000, allow_none=True)
    interpreter_language = _text(100, allow_none=True)

    @validates("nhs_number")
    def _nhs(self, value, **kwargs):
        if value is not None:
            try:
                people_vault.validate_nhs_number(value)
            except ValueError as error:
                raise ValidationError(str(error)) from None

    @validates("date_of_birth")
    def _born(self, value, **kwargs):
        if value > datetime.now(UTC).date():
            raise ValidationError("cannot be in the future")
        if value < date(1900, 1, 1):
            raise ValidationError("must be after 1900-01-01")


class RegisterPersonBody(IdentifiersSchema):
    full_name = _text(200, required=True)
    date_of_birth = fields.Date(required=True)
    gender = fields.String(load_default="not_known", validate=validate.OneOf(GENDERS))
    ethnicity = fields.String(load_default="not_stated", validate=validate.OneOf(ETHNICITY))


class UpdatePersonBody(IdentifiersSchema):
    gender = fields.String(validate=validate.OneOf(GENDERS))
    ethnicity = fields.String(validate=validate.OneOf(ETHNICITY))
    expected_version = fields.Integer(validate=validate.Range(min=1))


class ErasePersonBody(Schema):
    reason_code = fields.String(required=True, validate=validate.OneOf(ERASURE_REASONS))
    reason = _text(500, required=True)


class SearchQuery(Schema):
    nhs_number = fields.String(validate=validate.Length(min=1, max=20))
    full_name = _text(200)
    date_of_birth = fields.Date()


class PersonOut(Schema):
    person_id = fields.String()
    version = fields.Integer()
    status = fields.String()
    identifiers = fields.Dict(allow_none=True)
    age_band = fields.String()
    gender = fields.String()
    ethnicity = fields.String()
    postcode_district = fields.String(allow_none=True)
    possible_duplicates = fields.List(fields.String())


class AuditEntry(Schema):
    """One entry of the audit trail: who read or changed what about a person, when, why."""

    id = fields.Integer()
    at = fields.AwareDateTime()
    service = fields.String()
    user_id = fields.String()
    role = fields.String()
    partner_id = fields.String()
    action = fields.String(
        validate=validate.OneOf(("read", "change", "search", "export", "erase", "break_glass"))
    )
    record_type = fields.String()
    record_id = fields.String(allow_none=True)
    person_id = fields.UUID(allow_none=True)
    fields_ = fields.List(fields.String(), data_key="fields")
    reason = fields.String(allow_none=True)
    request_id = fields.String(allow_none=True)
    detail = fields.Dict(allow_none=True)


class IdentifiersVersion(Schema):
    version = fields.Integer()
    recorded_at = fields.AwareDateTime()
    identifiers = fields.Dict(metadata={"description": "The identifiers as this version held them"})


class PersonHistory(Schema):
    person_id = fields.String()
    status = fields.String(validate=validate.OneOf(("active", "erased")))
    versions = fields.List(
        fields.Nested(IdentifiersVersion), metadata={"description": "Oldest first"}
    )


class PeopleFound(Schema):
    people = fields.List(fields.String(), metadata={"description": "Person ids on this node"})


class ExportedEvent(Schema):
    stream_type = fields.String()
    stream_id = fields.String()
    version = fields.Integer()
    event_type = fields.String()
    occurred_at = fields.AwareDateTime()
    recorded_at = fields.AwareDateTime()
    actor_id = fields.String()
    actor_role = fields.String()
    payload = fields.Dict()


class PersonExport(Schema):
    """Subject access: everything this node holds about a person."""

    person = fields.Nested(PersonOut)
    exported_at = fields.AwareDateTime()
    records = fields.Dict(
        keys=fields.String(validate=validate.OneOf(("referrals", "sessions", "safeguarding"))),
        values=fields.List(fields.Nested(ExportedEvent)),
        metadata={"description": "Each service's events about the person, in order"},
    )
    texts = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        metadata={"description": 'Every sealed text about the person by id, opened (or "erased")'},
    )
    audit = fields.List(fields.Nested(AuditEntry))


# -- retention ---------------------------------------------------------------------------------


class RetentionReviewBody(Schema):
    # a review may look ahead (who will be due by then) but never back
    as_of = fields.Date(load_default=None)


class RetentionDueItem(Schema):
    person_id = fields.String()
    last_contact_on = fields.Date()
    flagged_at = fields.AwareDateTime(
        allow_none=True, metadata={"description": "When flagged for this last contact, if yet"}
    )


class RetentionReview(Schema):
    as_of = fields.Date()
    retention_years = fields.Integer()
    flagged = fields.Integer(metadata={"description": "How many this review flagged"})
    due = fields.List(fields.Nested(RetentionDueItem))
    total = fields.Integer()


class RetentionDuePage(Schema):
    as_of = fields.Date()
    retention_years = fields.Integer()
    items = fields.List(fields.Nested(RetentionDueItem))
    total = fields.Integer()
    limit = fields.Integer()
    offset = fields.Integer()
