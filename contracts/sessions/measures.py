"""Outcome measures as data: their items, how answers are scored, and what change between a
person's first and latest measure counts as meaningful. Partners add a measure by adding data.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

START = "start"
REVIEW = "review"
DISCHARGE = "discharge"
TIMEPOINTS = (START, REVIEW, DISCHARGE)

IMPROVED = "improved"
NO_RELIABLE_CHANGE = "no_reliable_change"
DETERIORATED = "deteriorated"


@dataclass(frozen=True)
class Score:
    raw: int
    # the score to compare over time: the raw total, or its conversion where the measure has one
    metric: Decimal


@dataclass(frozen=True)
class Measure:
    code: str
    name: str
    snomed_ct: str
    items: tuple[str, ...]
    lowest_answer: int
    highest_answer: int
    # the smallest change, in metric points, that counts as meaningful for one person
    meaningful_change: Decimal
    meaningful_change_source: str
    higher_is_better: bool = True
    # raw total -> metric score, for measures whose raw totals are not on an interval scale
    conversion: Mapping[int, Decimal] = field(default_factory=dict)

    def score(self, answers: Mapping[str, int]) -> Score:
        """The raw total and metric score; refuses (ValueError) a missing, extra or out-of-range
        answer, naming the item and the rule."""
        if not isinstance(answers, Mapping):
            raise ValueError(f"{self.name}: answers must map each item to its answer")
        problems = [
            f"item '{item}' is missing: every item needs an answer"
            for item in self.items
            if item not in answers
        ]
        problems += [
            f"item '{item}' is not part of {self.name}"
            for item in answers
            if item not in self.items
        ]
        for item, answer in answers.items():
            if item not in self.items:
                continue
            if isinstance(answer, bool) or not isinstance(answer, int):
                problems.append(f"item '{item}' must be a whole number, not {answer!r}")
            elif not self.lowest_answer <= answer <= self.highest_answer:
                problems.append(
                    f"item '{item}' must be from {self.lowest_answer} to {self.highest_answer},"
                    f" not {answer}"
                )
        if problems:
            raise ValueError(f"{self.name}: " + "; ".join(problems))
        raw = sum(answers[item] for item in self.items)
        metric = self.conversion[raw] if self.conversion else Decimal(raw)
        return Score(raw=raw, metric=metric)

    @property
    def lowest_raw(self) -> int:
        return self.lowest_answer * len(self.items)

    @property
    def highest_raw(self) -> int:
        return self.highest_answer * len(self.items)


def _table(pairs: str) -> dict[int, Decimal]:
    return {
        int(raw): Decimal(metric) for raw, metric in (pair.split(":") for pair in pairs.split())
    }


# Warwick Medical School's SWEMWBS raw score to metric score conversion table (Stewart-Brown S,
# Tennant A, Tennant R, Platt S, Parkinson J, Weich S. Internal construct validity of the
# Warwick-Edinburgh Mental Well-being Scale (WEMWBS): a Rasch analysis using data from the
# Scottish Health Education Population Survey. Health Qual Life Outcomes 2009;7:15; table as
# published by Warwick Medical School). The Rasch conversion puts the seven-item total on an
# interval scale, so metric scores, never raw totals, are compared over time.
SWEMWBS_CONVERSION = _table(
    """
    7:7.00 8:9.51 9:11.25 10:12.40 11:13.33 12:14.08 13:14.75 14:15.32 15:15.84
    16:16.36 17:16.88 18:17.43 19:17.98 20:18.59 21:19.25 22:19.98 23:20.73 24:21.54
    25:22.35 26:23.21 27:24.11 28:25.03 29:26.02 30:27.03 31:28.13 32:29.31 33:30.70
    34:32.55 35:35.00
    """
)

# Shah N, Cader M, Andrews WP, Wijesekera D, Stewart-Brown SL. Responsiveness of the Short
# Warwick Edinburgh Mental Well-Being Scale (SWEMWBS): evaluation a clinical sample. Health Qual
# Life Outcomes 2018;16:239. For one person a change of 1 to 3 metric points is statistically
# important depending on the standard: 1 SEM is 1.03 points, 2.77 SEM is 2.87 points. We take the
# stricter standard, rounded up to 3, because the figure is read about one person at a time and
# an improvement reported to them and to funders should be unlikely to be measurement error.
SWEMWBS_MEANINGFUL_CHANGE = Decimal("3")

# Maheswaran H, Weich S, Powell J, Stewart-Brown S. Evaluating the responsiveness of the
# Warwick Edinburgh Mental Well-Being Scale (WEMWBS): group and individual level analysis.
# Health Qual Life Outcomes 2012;10:156: the SEM was 2.4 to 3.1 points across twelve studies.
# The same stricter standard as for SWEMWBS, 2.77 SEM, comes to 6.6 to 8.6 points over those
# SEMs; we take 8, near the typical SEM of about 3 points.
WEMWBS_MEANINGFUL_CHANGE = Decimal("8")

# Item codes, not the licensed wording: every item is worded positively and answered from
# 1 (none of the time) to 5 (all of the time), so no item is reversed and higher is better.
SWEMWBS_ITEMS = (
    "optimistic_about_the_future",
    "feeling_useful",
    "feeling_relaxed",
    "dealing_with_problems_well",
    "thinking_clearly",
    "feeling_close_to_other_people",
    "able_to_make_up_own_mind",
)
WEMWBS_ITEMS = (
    "optimistic_about_the_future",
    "feeling_useful",
    "feeling_relaxed",
    "interested_in_other_people",
    "energy_to_spare",
    "dealing_with_problems_well",
    "thinking_clearly",
    "feeling_good_about_myself",
    "feeling_close_to_other_people",
    "feeling_confident",
    "able_to_make_up_own_mind",
    "feeling_loved",
    "interested_in_new_things",
    "feeling_cheerful",
)

SWEMWBS = Measure(
    code="swemwbs",
    name="SWEMWBS",
    snomed_ct="718466001",
    items=SWEMWBS_ITEMS,
    lowest_answer=1,
    highest_answer=5,
    meaningful_change=SWEMWBS_MEANINGFUL_CHANGE,
    meaningful_change_source="Shah et al. 2018, Health Qual Life Outcomes 16:239 (2.77 SEM)",
    conversion=SWEMWBS_CONVERSION,
)

# WEMWBS, the fourteen-item scale SWEMWBS was drawn from: its raw total (14-70) is the score
# compared over time (Warwick Medical School's scoring guidance: sum the items, no conversion).
WEMWBS = Measure(
    code="wemwbs",
    name="WEMWBS",
    snomed_ct="718426000",
    items=WEMWBS_ITEMS,
    lowest_answer=1,
    highest_answer=5,
    meaningful_change=WEMWBS_MEANINGFUL_CHANGE,
    meaningful_change_source="Maheswaran et al. 2012, Health Qual Life Outcomes 10:156 (2.77 SEM)",
)

MEASURES: dict[str, Measure] = {measure.code: measure for measure in (SWEMWBS, WEMWBS)}


def measure(code: str) -> Measure:
    try:
        return MEASURES[code]
    except KeyError:
        known = ", ".join(sorted(MEASURES))
        raise ValueError(f"'{code}' is not a measure Peerlink scores (known: {known})") from None


def score(code: str, answers: Mapping[str, int]) -> Score:
    return measure(code).score(answers)


@dataclass(frozen=True)
class Taken:
    """One measure a person completed, as its MeasureRecorded event tells it."""

    measure: str
    timepoint: str
    taken_on: date
    metric: Decimal

    @classmethod
    def from_payload(cls, payload: Mapping) -> Taken:
        taken_on = payload["taken_on"]
        return cls(
            measure=payload["measure"],
            timepoint=payload["timepoint"],
            taken_on=taken_on if isinstance(taken_on, date) else date.fromisoformat(taken_on),
            metric=Decimal(str(payload["metric_score"])),
        )


@dataclass(frozen=True)
class Change:
    measure: str
    first: Taken
    latest: Taken
    change: Decimal  # latest minus first, in metric points
    threshold: Decimal
    outcome: str  # improved, no_reliable_change or deteriorated

    @property
    def is_meaningful(self) -> bool:
        return self.outcome != NO_RELIABLE_CHANGE


def _in_order(taken: Taken) -> tuple:
    return (taken.taken_on, TIMEPOINTS.index(taken.timepoint))


def change_from_first_to_latest(
    code: str, series: Iterable[Taken], threshold: Decimal | None = None
) -> Change | None:
    """First against latest of one measure in a person's series (other measures are ignored);
    None until there are two. A change of at least the threshold, in the measure's better
    direction, is an improvement; as large the other way, a deterioration."""
    scored = measure(code)
    threshold = scored.meaningful_change if threshold is None else Decimal(threshold)
    if threshold <= 0:
        raise ValueError("the meaningful change threshold must be more than 0 points")
    ordered = sorted((t for t in series if t.measure == code), key=_in_order)
    if len(ordered) < 2:
        return None
    first, latest = ordered[0], ordered[-1]
    change = latest.metric - first.metric
    better = change if scored.higher_is_better else -change
    if better >= threshold:
        outcome = IMPROVED
    elif better <= -threshold:
        outcome = DETERIORATED
    else:
        outcome = NO_RELIABLE_CHANGE
    return Change(code, first, latest, change, threshold, outcome)
