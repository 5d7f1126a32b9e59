"""The hub's query parameters and the shapes of its answers, as the OpenAPI document shows them.

A report is "as at" a moment already past: the hub knows only what has been recorded, so a
moment still to come is refused rather than answered with today's figures under its label.
"""

from __future__ import annotations

from datetime import UTC, datetime

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from services.reporting.reports import REPORTS
from shared.config import PARTNERS

REPORT_FORMATS = ("json", "csv")


def _partners():
    return fields.List(
        fields.String(validate=validate.OneOf(PARTNERS)),
        load_default=list,
        metadata={
            "description": "A partner to report on; give it again for several (none: every partner)"
        },
    )


def _as_at():
    return fields.AwareDateTime(
        load_default=None,
        metadata={
            "description": "Count only facts recorded by this moment (with a timezone); not in "
            "the future. Default: now"
        },
    )


def _not_in_the_future(data: dict) -> None:
    if data.get("as_at") and data["as_at"] > datetime.now(UTC):
        raise ValidationError(
            "must not be in the future: a report shows only what has been recorded", "as_at"
        )


class ReportQuery(Schema):
    partner = _partners()
    from_ = fields.Date(
        data_key="from",
        load_default=None,
        metadata={"description": "The period's first day (inclusive)"},
    )
    to = fields.Date(
        load_default=None, metadata={"description": "The period's last day (inclusive)"}
    )
    as_at = _as_at()
    format = fields.String(
        load_default="json",
        validate=validate.OneOf(REPORT_FORMATS),
        metadata={"description": "json, or csv: every table one after another with its totals"},
    )

    @validates_schema
    def _ordered(self, data, **kwargs):
        if data.get("from_") and data.get("to") and data["to"] < data["from_"]:
            raise ValidationError("must not be before from", "to")
        _not_in_the_future(data)


class DashboardQuery(Schema):
    partner = _partners()
    months = fields.Integer(
        load_default=6,
        validate=validate.Range(min=1, max=24),
        metadata={"description": "How many months back from as_at's month"},
    )
    as_at = _as_at()

    @validates_schema
    def _past(self, data, **kwargs):
        _not_in_the_future(data)


class PeriodQuery(Schema):
    partner = fields.List(
        fields.String(validate=validate.Length(max=100)),
        load_default=list,
        metadata={"description": "A partner to count; give it again for several"},
    )
    start = fields.Date(load_default=None, metadata={"description": "From this day's month"})
    end = fields.Date(load_default=None, metadata={"description": "Months up to this day"})


# -- answers ----------------------------------------------------------------------------------

# a published count: a number, or "*" when small-number suppression hides it
COUNT = {"oneOf": [{"type": "integer"}, {"type": "string", "enum": ["*"]}]}


def _count(**metadata):
    """A count as published: an integer, or "*" when suppression hides it."""
    return fields.Raw(metadata={"openapi": COUNT, **metadata})


class ReportRow(Schema):
    class Meta:
        # a row's dimensions (partner_id, month, worker, ...) are named by its table
        unknown = "include"

    counts = fields.Dict(
        keys=fields.String(),
        values=_count(),
        metadata={"description": "Each category of the table: its published count"},
    )
    total = _count(description="The row's total, suppressed with its cells")


class ReportTable(Schema):
    name = fields.String(required=True)
    title = fields.String(required=True)
    dimensions = fields.List(
        fields.String(), metadata={"description": "The fields naming a row (count tables)"}
    )
    categories = fields.List(
        fields.String(), metadata={"description": "The code list counted across (count tables)"}
    )
    rows = fields.List(
        fields.Dict(),
        required=True,
        metadata={
            "description": "A count table's rows: its dimensions, counts by category and total"
            " (ReportRow); other tables: one object per row of named figures"
        },
    )
    totals = fields.Nested(ReportRow, metadata={"description": "Column totals (count tables)"})


class Suppression(Schema):
    up_to = fields.Integer(metadata={"description": "Counts from 1 to this are shown as *"})
    round_to = fields.Integer(metadata={"description": "Shown counts are rounded to this"})


class SourceFreshness(Schema):
    position = fields.Integer()
    applied_at = fields.AwareDateTime(allow_none=True)


class Freshness(Schema):
    sources = fields.Dict(
        keys=fields.String(),
        values=fields.Nested(SourceFreshness),
        metadata={"description": "By partner source: how far the hub has read it"},
    )


class ReportOut(Schema):
    report = fields.String(validate=validate.OneOf(tuple(REPORTS)))
    as_at = fields.AwareDateTime()
    period = fields.Dict(metadata={"description": "from and to, as asked (null: open)"})
    partners = fields.Raw(
        metadata={"description": 'The partners asked for, or "all"'},
    )
    suppression = fields.Nested(Suppression)
    tables = fields.List(fields.Nested(ReportTable))
    sources = fields.Dict(
        keys=fields.String(),
        values=fields.Nested(SourceFreshness),
        metadata={"description": "How far the hub had read each partner source"},
    )


class ReportSummary(Schema):
    name = fields.String(validate=validate.OneOf(tuple(REPORTS)))
    summary = fields.String()


class ReportList(Schema):
    reports = fields.List(fields.Nested(ReportSummary))
    query = fields.String(metadata={"description": "The query parameters every report takes"})


class ReferralsRow(Schema):
    partner_id = fields.String()
    source = fields.String()
    month = fields.Date()
    referrals = fields.Integer()


class ReferralsReport(Schema):
    rows = fields.List(fields.Nested(ReferralsRow))
