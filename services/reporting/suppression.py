"""Small-number suppression for published counts (DOMAIN.md, "Publishing figures").

NHS publications show small counts as `*`: the mental health monthly statistics suppress
sub-national counts below 5 and round the rest to the nearest 5; the hospital statistics rule
suppresses 1-7. Both the threshold and the rounding are settings here.

Primary suppression hides every count from 1 to the threshold. Secondary suppression then hides
more cells so that no hidden count can be worked out by subtracting the shown cells of its row
or column from the row or column total: wherever a row or column (its total included) has
exactly one hidden cell, the smallest shown non-zero cell beside it is hidden too, until no row
or column has a lone hidden cell. Zeros are published: a zero reveals nobody.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

SUPPRESSED = "*"


@dataclass(frozen=True)
class Policy:
    # counts from 1 up to this are hidden; 0 turns suppression off
    up_to: int = 4
    # shown counts are rounded to the nearest multiple of this; 1 leaves them exact
    round_to: int = 1

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Policy:
        env = os.environ if environ is None else environ
        policy = cls(
            up_to=int(env.get("PEERLINK_SUPPRESS_UP_TO", "4")),
            round_to=int(env.get("PEERLINK_ROUND_TO", "1")),
        )
        if policy.up_to < 0 or policy.round_to < 1:
            raise ValueError("PEERLINK_SUPPRESS_UP_TO must be >= 0 and PEERLINK_ROUND_TO >= 1")
        return policy

    def hides(self, count: int) -> bool:
        return 0 < count <= self.up_to

    def shown(self, count: int) -> int:
        if self.round_to == 1:
            return count
        return int(self.round_to * round(count / self.round_to))


def suppress_table(
    counts: Sequence[Sequence[int]], policy: Policy
) -> tuple[list[list[int | str]], list[int | str], list[int | str], int | str]:
    """A table of counts (rows x columns) with its row totals, column totals and grand total,
    published: hidden cells as `*`, shown ones rounded. Returns (cells, row_totals,
    column_totals, grand_total)."""
    rows = [list(row) for row in counts]
    width = len(rows[0]) if rows else 0
    if any(len(row) != width for row in rows):
        raise ValueError("every row needs the same number of columns")
    # the table with its totals as one grid: the last column and the last row are totals
    grid = [row + [sum(row)] for row in rows]
    grid.append([sum(row[c] for row in rows) for c in range(width)] + [sum(map(sum, rows))])
    hidden = [[policy.hides(value) for value in row] for row in grid]
    lines = [[(r, c) for c in range(width + 1)] for r in range(len(grid))]
    lines += [[(r, c) for r in range(len(grid))] for c in range(width + 1)]
    changed = True
    while changed:
        changed = False
        for line in lines:
            lone = [cell for cell in line if hidden[cell[0]][cell[1]]]
            if len(lone) != 1:
                continue
            candidates = [
                (grid[r][c], r, c) for r, c in line if not hidden[r][c] and grid[r][c] > 0
            ]
            if not candidates:
                continue
            _, r, c = min(candidates)
            hidden[r][c] = True
            changed = True
    published = [
        [SUPPRESSED if hidden[r][c] else policy.shown(grid[r][c]) for c in range(width + 1)]
        for r in range(len(grid))
    ]
    cells = [row[:-1] for row in published[:-1]]
    row_totals = [row[-1] for row in published[:-1]]
    column_totals = published[-1][:-1]
    return cells, row_totals, column_totals, published[-1][-1]


def rate(numerator: int | str, denominator: int | str, places: int = 1) -> float | str | None:
    """A percentage, hidden when either side is hidden; None when there is nothing to divide."""
    if SUPPRESSED in (numerator, denominator):
        return SUPPRESSED
    if not denominator:
        return None
    return round(100 * numerator / denominator, places)


def statistic(value, n: int, policy: Policy):
    """A median or percentile over `n` people or records: hidden when `n` itself would be."""
    if policy.hides(n):
        return SUPPRESSED
    return value
