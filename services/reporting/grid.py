"""The grid the hub publishes on: whole months, quarters of the financial year and financial
years (April to March), for each partner and for the whole alliance, as at published cut-offs.

Official statistics publish on a fixed grid so that no two published figures differ by a few
records (docs/domain.md, "Publishing figures"): a figure for 1 July to 17 August, or for two
partners of three, would be the difference of two others. A query off the grid is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from shared.config import PARTNERS

# April: the first month of the financial year (HM Treasury; NHS England's returns)
FINANCIAL_YEAR_STARTS = 4
MONTH, QUARTER, FINANCIAL_YEAR = "month", "quarter", "financial_year"
GRID = (
    "one whole month (from its first day to its last), one quarter of the financial year"
    " (April-June, July-September, October-December, January-March) or one financial year"
    " (1 April to 31 March)"
)
ALLIANCE = "alliance"
GROUPINGS = (ALLIANCE, *PARTNERS)


class OffTheGrid(ValueError):
    """A period that is not one of the grid's."""


@dataclass(frozen=True)
class Period:
    kind: str
    start: date
    end: date

    @property
    def label(self) -> str:
        """2026-07, 2026-27 Q2, 2026-27."""
        if self.kind == MONTH:
            return self.start.strftime("%Y-%m")
        year = financial_year_of(self.start).start.year
        name = f"{year}-{(year + 1) % 100:02d}"
        if self.kind == QUARTER:
            return f"{name} Q{(self.start.month - FINANCIAL_YEAR_STARTS) % 12 // 3 + 1}"
        return name

    def months(self) -> list[str]:
        """Each month of the period, as YYYY-MM."""
        months, day = [], self.start
        while day <= self.end:
            months.append(day.strftime("%Y-%m"))
            day = _add_months(day, 1)
        return months

    def as_dict(self) -> dict:
        return {"from": self.start, "to": self.end, "grid": self.kind, "label": self.label}


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _last_day(first: date, months: int) -> date:
    return _add_months(first, months) - timedelta(days=1)


def month_of(day: date) -> Period:
    first = day.replace(day=1)
    return Period(MONTH, first, _last_day(first, 1))


def financial_year_of(day: date) -> Period:
    year = day.year if day.month >= FINANCIAL_YEAR_STARTS else day.year - 1
    first = date(year, FINANCIAL_YEAR_STARTS, 1)
    return Period(FINANCIAL_YEAR, first, _last_day(first, 12))


def quarter_of(day: date) -> Period:
    offset = (day.month - FINANCIAL_YEAR_STARTS) % 3
    first = _add_months(day.replace(day=1), -offset)
    return Period(QUARTER, first, _last_day(first, 3))


def period(start: date, end: date) -> Period:
    """The grid period from `start` to `end`, both inclusive; OffTheGrid otherwise."""
    for candidate in (month_of(start), quarter_of(start), financial_year_of(start)):
        if (candidate.start, candidate.end) == (start, end):
            return candidate
    raise OffTheGrid(f"from {start} to {end} is not on the grid: give {GRID}")


def periods_of_year(year: Period) -> list[Period]:
    """A financial year's grid: its twelve months, its four quarters and itself."""
    months = [month_of(_add_months(year.start, n)) for n in range(12)]
    quarters = [quarter_of(_add_months(year.start, 3 * n)) for n in range(4)]
    return [*months, *quarters, year]
