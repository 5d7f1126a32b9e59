"""The hub's query parameters and the shapes of its answers, as the OpenAPI document shows them.

A report is asked for on the grid (services/reporting/grid.py): one whole month, quarter or
financial year, one partner or the whole alliance, as at a published cut-off. Anything off the
grid is refused, naming the field and the grid.
"""

from __future__ import annotations

from datetime import UTC, datetime

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from services.reporting.grid import GRID, GROUPINGS, OffTheGrid, period
from services.reporting.reports import REPORTS
from shared.config import PARTNERS

REPORT_FORMATS = ("json", "csv")
ONE_GROUPING = (
    "give one partner, or none for the whole alliance: the published groupings are "
    + ", ".join(GROUPINGS)
)


def _partners():
    return fields.List(
        fields.String(validate=validate.OneOf(PARTNERS)),
        load_default=list,
        metadata={
            "description": "The partner to report on (at most one); none: the whole alliance, "
            "every partner's row and their totals"
        },
    )


def _as_at():
    return fields.AwareDateTime(
        load_default=None,
        metadata={
            "description": "A published cut-off (GET /reports/cutoffs lists them): the figures "
            "as they were published then. Default: the latest"
        },
    )


def _checked(data: dict) -> None:
    if len(data.get("partner") or []) > 1:
        raise ValidationError(ONE_GROUPING, "partner")
    if data.get("as_at") and data["as_at"] > datetime.now(UTC):
        raise ValidationError(
            "must not be in the future: a report shows only what has been published", "as_at"
        )


class ReportQuery(Schema):
    partner = _partners()
    from_ = fields.Date(
        data_key="from",
        load_default=None,
        metadata={
            "description": "The period's first day: of a month, of a quarter of the financial "
            "year, or 1 April for a financial year (with `to`; neither: the financial year of "
            "the cut-off)"
        },
    )
    to = fields.Date(
        load_default=None,
        metadata={"description": "The period's last day: of the same month, quarter or year"},
    )
    as_at = _as_at()
    format = fields.String(
        load_default="json",
        validate=validate.OneOf(REPORT_FORMATS),
        metadata={"description": "json, or csv: every table one after another with its totals"},
    )

    @validates_schema
    def _on_the_grid(self, data, **kwargs):
        _checked(data)
        start, end = data.get("from_"), data.get("to")
        if start is None and end is None:
            return
        if start is None:
            raise ValidationError(f"give from with to: {GRID}", "from")
        if end is None:
            raise ValidationError(f"give to with from: {GRID}", "to")
        if start.day != 1:
            raise ValidationError(f"must be the first day of a month: {GRID}", "from")
        try:
            period(start, end)
        except OffTheGrid:
            raise ValidationError(
                f"from {start} the period must end on the last day of its month, quarter or"
                f" financial year: {GRID}",
                "to",
            ) from None

    @post_load
    def _period(self, data, **kwargs):
        start, end = data.get("from_"), data.get("to")
        data["period"] = period(start, end) if start and end else None
        return data


class DashboardQuery(Schema):
    partner = _partners()
    year = fields.Integer(
        load_default=None,
        validate=validate.Range(min=2000, max=2999),
        metadata={
            "description": "The financial year that starts in April of this year (default: "
            "the cut-off's)"
        },
    )
    as_at = _as_at()

    @validates_schema
    def _on_the_grid(self, data, **kwargs):
        _checked(data)


class PeriodQuery(Schema):
    partner = fields.List(
        fields.String(validate=validate.Length(max=100)),
        load_default=list,
        metadata={"description": "A partner to count; give it again for several"},
    )
    start = fields.Date(load_default=None, metadata={"description": "From this day's month"})
    end = fields.Date(load_default=None, metadata={"description": "Months up to this day"})


# -- answers ----------------------------------------------------------------------------------

# a published count: a rounded number; "*" stands for a statistic over too few
COUNT = {"oneOf": [{"type": "integer"}, {"type": "string", "enum": ["*"]}]}


def _count(**metadata):
    """A published figure: a number, or "*" when it is over too few to show."""
    return fields.Raw(metadata={"openapi": COUNT, **metadata})


class ReportRow(Schema):
    class Meta:
        # a row's dimensions (partner_id, month, destination, ...) are named by its table
        unknown = "include"

    counts = fields.Dict(
        keys=fields.String(),
        values=_count(),
        metadata={"description": "Each category of the table: its published (rounded) count"},
    )
    total = _count(description="The sum of the row's published counts")


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
            "description": "Every row the grid has (counted or not): its dimensions, counts by"
            " category and total (ReportRow); other tables: one object per row of named figures"
        },
    )
    totals = fields.Nested(
        ReportRow, metadata={"description": "Column sums of the published counts (count tables)"}
    )


class Disclosure(Schema):
    round_to = fields.Integer(
        metadata={"description": "Counts are rounded (at random, keyed) to multiples of this"}
    )
    up_to = fields.Integer(
        metadata={"description": "A median, percentile or mean over this many or fewer is *"}
    )


class PeriodOut(Schema):
    from_ = fields.Date(data_key="from")
    to = fields.Date()
    grid = fields.String(validate=validate.OneOf(("month", "quarter", "financial_year")))
    label = fields.String(metadata={"description": "2026-07, 2026-27 Q2 or 2026-27"})


def _complete_up_to(description: str):
    return fields.Dict(
        keys=fields.String(validate=validate.OneOf(PARTNERS)),
        values=fields.Date(allow_none=True),
        metadata={"description": description},
    )


class PartnerFreshness(Schema):
    complete_up_to = fields.Date(
        allow_none=True,
        metadata={"description": "The last day the hub holds everything the partner recorded"},
    )


class SourcePosition(Schema):
    position = fields.Integer()
    applied_at = fields.AwareDateTime(allow_none=True)


class Freshness(Schema):
    partners = fields.Dict(
        keys=fields.String(),
        values=fields.Nested(PartnerFreshness),
        metadata={"description": "By partner: how complete the hub's picture is"},
    )
    latest_cutoff = fields.AwareDateTime(allow_none=True)
    sources = fields.Dict(
        keys=fields.String(),
        values=fields.Nested(SourcePosition),
        metadata={"description": "Operators only: by partner store, how far the hub has read"},
    )


class ReportOut(Schema):
    report = fields.String(validate=validate.OneOf(tuple(REPORTS)))
    as_at = fields.AwareDateTime(metadata={"description": "The published cut-off"})
    period = fields.Nested(PeriodOut)
    partners = fields.Raw(metadata={"description": 'The partner asked for, or "all"'})
    disclosure = fields.Nested(Disclosure)
    tables = fields.List(fields.Nested(ReportTable))
    complete_up_to = _complete_up_to(
        "By partner: the last day the hub held everything of when the cut-off was published"
    )


class Cutoff(Schema):
    cutoff_at = fields.AwareDateTime(required=True)
    published_by = fields.String(validate=validate.OneOf(("schedule", "operator")))
    complete_up_to = _complete_up_to("By partner: the last day the hub held everything of")


class CutoffList(Schema):
    cutoffs = fields.List(fields.Nested(Cutoff), metadata={"description": "Latest first"})


class ReportSummary(Schema):
    name = fields.String(validate=validate.OneOf(tuple(REPORTS)))
    summary = fields.String()


class ReportList(Schema):
    reports = fields.List(fields.Nested(ReportSummary))
    query = fields.String(metadata={"description": "The query parameters every report takes"})
    grid = fields.String(metadata={"description": "The periods a report is published for"})
    groupings = fields.List(
        fields.String(), metadata={"description": "The partner groupings published"}
    )


class ReferralsRow(Schema):
    partner_id = fields.String()
    source = fields.String()
    month = fields.Date()
    referrals = fields.Integer()


class ReferralsReport(Schema):
    rows = fields.List(fields.Nested(ReferralsRow))
