"""Disclosure control for every figure the hub publishes (docs/domain.md, "Publishing figures").

Counts are rounded to a multiple of PEERLINK_ROUND_TO (5, as NHS England publishes), at random
but keyed: a count of 7 becomes 5 with probability 3/5 and 10 with probability 2/5, decided by
an HMAC of the cell and its count under a secret of the hub's own (PEERLINK_ROUNDING_KEY), so
the same cell with the same count always shows the same figure, and nobody without the key can
tell which way it went. A count that is a multiple already, zero included, stays as it is; a
small count shows as 0 or 5 like any other, so a zero reveals nobody either.

Only the smallest cells are rounded: a month's count of one category for one partner, or, for
counts of people (who cannot be summed across periods), the period's. Every other figure is the
sum of the rounded cells it covers (row and column totals, a quarter, a financial year, the
whole alliance), so every published table adds up, and the difference between any two published
figures is a sum of published cells: subtracting overlapping periods, partner groupings or
tables tells nothing that is not published already. Each true count lies within
PEERLINK_ROUND_TO - 1 of its rounded cell, and the rounding is unbiased, so totals stay right on
average (their error grows with the number of cells they sum).

A median, a percentile or a mean is shown only over more than PEERLINK_SUPPRESS_UP_TO (4)
people or records, and rounded; a rate is worked out from the published counts themselves.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field

SUPPRESSED = "*"
KEY_MIN_LENGTH = 32


class RoundingKeyMissing(RuntimeError):
    """Rounding without a secret key could be undone by anyone who reads this code."""


@dataclass(frozen=True)
class Policy:
    # shown counts are multiples of this; 1 publishes exact counts (no protection: tests only)
    round_to: int = 5
    # a median, percentile or mean over this many or fewer is not shown
    up_to: int = 4
    key: bytes = field(default=b"", repr=False)

    def __post_init__(self):
        if self.round_to < 1 or self.up_to < 0:
            raise ValueError("round_to must be >= 1 and up_to >= 0")
        if self.round_to > 1 and len(self.key) < KEY_MIN_LENGTH:
            raise RoundingKeyMissing(
                f"rounding needs a key of at least {KEY_MIN_LENGTH} characters, the hub's own"
                " (services/reporting/settings.py)"
            )

    def rounded(self, count: int, cell: tuple) -> int:
        """`count` rounded to a multiple of round_to, up with probability (remainder /
        round_to), keyed by the cell (what it counts, for whom, when) and the count."""
        base = self.round_to
        remainder = count % base
        if base == 1 or remainder == 0:
            return count
        message = json.dumps([list(map(str, cell)), count]).encode()
        draw = hmac.new(self.key, message, hashlib.sha256).digest()
        uniform = int.from_bytes(draw[:8], "big") / 2**64
        low = count - remainder
        return low + base if uniform < remainder / base else low

    def nearest(self, count: int) -> int:
        """`count` rounded to the nearest multiple of round_to (halves up), the same way every
        time: a larger count never shows as less than a smaller one. Counts of people are
        rounded so, since a period's people include those of every period inside it, and
        rounding them each by its own draw would let a month show more people than its year
        (and so pin a small count between two figures)."""
        base = self.round_to
        return base * ((count + base // 2) // base)

    def percentile(self, value, n: int, share: float, places: int = 0):
        """A percentile (`share` 0.5 for the median) over `n` values: `*` unless more than
        up_to values lie on each side of it, so that it is never one person's own value."""
        if round(min(share, 1 - share) * n, 6) < self.up_to + 1:
            return SUPPRESSED
        return self.statistic(value, n, places)

    def hides(self, n: int) -> bool:
        """Whether a statistic over `n` people or records is too small to show."""
        return n <= self.up_to

    def statistic(self, value, n: int, places: int = 0):
        """A median, percentile or mean over `n`: `*` when n is too small, else rounded."""
        if self.hides(n) or value is None:
            return SUPPRESSED
        rounded = round(float(value), places)
        return int(rounded) if places == 0 else rounded

    def as_dict(self) -> dict:
        return {"round_to": self.round_to, "up_to": self.up_to}


def rate(numerator: int | str, denominator: int | str, places: int = 1) -> float | str | None:
    """A percentage of two published counts; `*` when either is hidden, None over nothing."""
    if SUPPRESSED in (numerator, denominator):
        return SUPPRESSED
    if not denominator:
        return None
    return round(100 * numerator / denominator, places)
