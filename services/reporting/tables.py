"""What every report is built of: its scope (a period of the grid, one partner or the whole
alliance, as at a published cut-off), the facts it may see, and the table whose smallest cells
are rounded and summed into every published figure."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from services.reporting.facts import SCHEMA
from services.reporting.grid import Period
from services.reporting.suppression import Policy
from shared.config import PARTNERS

# the smallest cell of a count taken at the cut-off (a caseload) rather than over a period
AT_THE_CUTOFF = "at the cut-off"


@dataclass(frozen=True)
class Scope:
    partners: tuple[str, ...]  # empty: the whole alliance; else one partner
    period: Period
    as_at: datetime  # a published cut-off

    @property
    def shown_partners(self) -> tuple[str, ...]:
        return self.partners or tuple(PARTNERS)

    def params(self) -> dict:
        return {
            "as_at": self.as_at,
            "every_partner": not self.partners,
            "partners": list(self.partners),
            "start": self.period.start,
            "end": self.period.end,
        }


# the facts a report may see: held by the hub at the cut-off asked for, of the partners asked
# for (written into each subquery, so the planner sees the table and its statistics)
FACTS = (
    f"{SCHEMA}.facts WHERE cutoff_at <= %(as_at)s"
    " AND (%(every_partner)s OR partner_id = ANY(%(partners)s)) AND"
)


@dataclass
class Table:
    name: str
    title: str
    dimensions: tuple[str, ...]
    categories: tuple[str, ...]
    # every row of the grid, in order: one value per dimension
    rows: list[tuple]
    # row key -> further published values for the row, worked out from the published counts
    extras: Callable[[dict], dict] | None = None
    # counts of people in the period (never a sum over months): rounded to the nearest
    # multiple, the same way every time (Policy.nearest), so nested periods stay in order
    people: bool = False
    # row key -> category -> smallest cell (a month, the period) -> true count
    counts: dict[tuple, dict[str, dict[str, int]]] = field(default_factory=dict)

    def add(self, key: tuple, category: str, count: int, cell: str) -> None:
        if category in self.categories:
            by_cell = self.counts.setdefault(key, {}).setdefault(category, {})
            by_cell[cell] = by_cell.get(cell, 0) + count

    def published_cell(self, key: tuple, category: str, policy: Policy) -> int:
        """The sum of the rounded smallest cells of a row's category."""
        cells = sorted(self.counts.get(key, {}).get(category, {}).items())
        if self.people:
            return sum(policy.nearest(count) for _, count in cells)
        return sum(
            policy.rounded(count, (self.name, *key, category, cell)) for cell, count in cells
        )

    def publish(self, policy: Policy) -> dict:
        rows = []
        column_totals = dict.fromkeys(self.categories, 0)
        for key in self.rows:
            cells = {c: self.published_cell(key, c, policy) for c in self.categories}
            row = dict(zip(self.dimensions, key, strict=True))
            row["counts"] = cells
            row["total"] = sum(cells.values())
            if self.extras:
                row.update(self.extras(row))
            rows.append(row)
            for category, value in cells.items():
                column_totals[category] += value
        totals = {"counts": column_totals, "total": sum(column_totals.values())}
        if self.extras:
            totals.update(self.extras(totals))
        return {
            "name": self.name,
            "title": self.title,
            "dimensions": list(self.dimensions),
            "categories": list(self.categories),
            "rows": rows,
            "totals": totals,
        }


def by_month(scope: Scope) -> list[tuple]:
    return [(p, m) for p in scope.shown_partners for m in scope.period.months()]


def by_partner(scope: Scope) -> list[tuple]:
    return [(p,) for p in scope.shown_partners]


def query(cur, sql: str, scope: Scope, extra: dict | None = None) -> list[tuple]:
    cur.execute(sql.replace("{FACTS}", FACTS), {**scope.params(), **(extra or {})})
    return cur.fetchall()
