"""The attacks an analyst can run on published tables, as the tests run them.

An attacker writes every published figure as a constraint on the true counts it was made from
(what the publication method says of it) and asks a linear programme, for each true count, how
small and how large it can be: a count whose bounds meet is disclosed. Differencing (subtracting
the figure of one period, grouping or cut-off from another's) is one such combination; the
linear programme finds every combination at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linprog

EPSILON = 1e-6


@dataclass
class Attack:
    """Unknown true counts (non-negative) and what the published figures say of them."""

    names: list = field(default_factory=list)
    index: dict = field(default_factory=dict)
    lower: list[float] = field(default_factory=list)
    upper: list[float] = field(default_factory=list)
    # (the counts summed, their least sum, their greatest sum)
    sums: list[tuple[list[int], float, float]] = field(default_factory=list)

    def count(self, name) -> int:
        """The unknown true count `name` (added when first named)."""
        if name not in self.index:
            self.index[name] = len(self.names)
            self.names.append(name)
            self.lower.append(0.0)
            self.upper.append(math.inf)
        return self.index[name]

    def between(self, name, low: float, high: float) -> None:
        at = self.count(name)
        self.lower[at] = max(self.lower[at], low)
        self.upper[at] = min(self.upper[at], high)

    def sum_between(self, names, low: float, high: float) -> None:
        self.sums.append(([self.count(n) for n in names], low, high))

    def _model(self):
        n = len(self.names)
        rows, limits = [], []
        for members, low, high in self.sums:
            row = np.zeros(n)
            row[members] = 1.0
            if high < math.inf:
                rows.append(row)
                limits.append(high)
            rows.append(-row)
            limits.append(-low)
        a_ub = np.array(rows) if rows else None
        b_ub = np.array(limits) if rows else None
        box = [
            (lo, None if hi == math.inf else hi)
            for lo, hi in zip(self.lower, self.upper, strict=True)
        ]
        return a_ub, b_ub, box

    @staticmethod
    def _solve(objective, model):
        a_ub, b_ub, box = model
        result = linprog(objective, A_ub=a_ub, b_ub=b_ub, bounds=box, method="highs")
        assert result.status in (0, 3), result.message
        return result

    def bounds(self, names=None) -> dict:
        """name -> (least, greatest) value the published figures allow it: two linear
        programmes a count."""
        model, n = self._model(), len(self.names)
        found = {}
        for name in names if names is not None else self.names:
            extremes = []
            for sign in (1.0, -1.0):
                objective = np.zeros(n)
                objective[self.index[name]] = sign
                result = self._solve(objective, model)
                extremes.append(sign * math.inf if result.status == 3 else sign * result.fun)
            found[name] = (extremes[0], extremes[1])
        return found

    def disclosed(self, names=None, probes: int = 6, seed: int = 0) -> dict:
        """The counts pinned to one whole number, with their bounds. Feasible points in a few
        random directions first: a count seen at two whole numbers in them is not pinned (the
        feasible set is convex, so it takes every value between); the bounds of the others are
        then worked out exactly."""
        names = list(names if names is not None else self.names)
        model, n = self._model(), len(self.names)
        rng = np.random.default_rng(seed)
        seen_low = np.full(n, math.inf)
        seen_high = np.full(n, -math.inf)
        for _ in range(probes):
            direction = rng.choice([-1.0, 1.0], size=n)
            for objective in (direction, -direction):
                result = self._solve(objective, model)
                if result.status == 0:
                    seen_low = np.minimum(seen_low, result.x)
                    seen_high = np.maximum(seen_high, result.x)
        undecided = [
            name
            for name in names
            if math.floor(seen_high[self.index[name]] + EPSILON)
            - math.ceil(seen_low[self.index[name]] - EPSILON)
            < 1
        ]
        return pinned(self.bounds(undecided))


def pinned(bounds: dict) -> dict:
    """The counts whose bounds allow one whole number only."""
    return {
        name: (low, high)
        for name, (low, high) in bounds.items()
        if math.ceil(low - EPSILON) >= math.floor(high + EPSILON)
    }


# -- the stack's own keys, as the tests read them ------------------------------------------------


def pseudonyms_of(partner: str):
    """A partner's pseudonyms, made with its own key (the hub never holds it): what the tests
    look for in, or assert absent from, the hub."""
    from contracts.hub import Pseudonyms
    from tests.conftest import ROOT, STACK

    key = (ROOT / "run" / STACK / "secrets" / f"hub-pseudonyms.{partner}.key").read_text()
    return Pseudonyms(key.strip().encode())


def publication_policy(disclosure: dict):
    """The hub's disclosure policy (its rounding key read from the stack's secrets), with the
    settings a report says it was published under."""
    from services.reporting.suppression import Policy
    from tests.conftest import ROOT, STACK

    key = (ROOT / "run" / STACK / "secrets" / "hub.rounding.key").read_text().strip()
    return Policy(round_to=disclosure["round_to"], up_to=disclosure["up_to"], key=key.encode())
