"""A person's SWEMWBS scores over time as an SVG chart drawn on the server (no script): the
scores joined in date order, and the band of no meaningful change around the first score (the
threshold is the sessions service's, `changes.swemwbs.threshold`). The page shows the same
scores as a table for those who cannot see the chart."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

# SWEMWBS metric scores run from 7.00 to 35.00 (Warwick Medical School's conversion table)
LOWEST, HIGHEST = 7.0, 35.0
WIDTH, HEIGHT = 640, 320
LEFT, RIGHT, TOP, BOTTOM = 48, 16, 16, 40


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    score: float
    taken_on: date


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    points: list[Point]
    line: str
    band: tuple[float, float] | None  # the band's top and bottom y
    band_scores: tuple[float, float] | None
    y_ticks: list[tuple[float, str]]
    x_ticks: list[tuple[float, str]]
    plot: tuple[float, float, float, float]  # left, top, right, bottom


def swemwbs_chart(measures: list[dict], threshold: float | None) -> Chart | None:
    """The chart of the SWEMWBS scores among `measures` (the API's list), or None if none."""
    taken = sorted(
        (
            (date.fromisoformat(str(m["taken_on"])), float(m["metric_score"]))
            for m in measures
            if m.get("measure") == "swemwbs" and m.get("metric_score") is not None
        ),
        key=lambda pair: pair[0],
    )
    if not taken:
        return None
    left, top, right, bottom = LEFT, TOP, WIDTH - RIGHT, HEIGHT - BOTTOM
    first_day, last_day = taken[0][0], taken[-1][0]
    span = max((last_day - first_day).days, 1)

    def x_of(day: date) -> float:
        if first_day == last_day:
            return round((left + right) / 2, 1)
        return round(left + (right - left) * (day - first_day).days / span, 1)

    def y_of(score: float) -> float:
        score = min(max(score, LOWEST), HIGHEST)
        return round(bottom - (bottom - top) * (score - LOWEST) / (HIGHEST - LOWEST), 1)

    points = [Point(x_of(day), y_of(score), score, day) for day, score in taken]
    band = band_scores = None
    if threshold is not None:
        first = taken[0][1]
        low, high = max(first - threshold, LOWEST), min(first + threshold, HIGHEST)
        band, band_scores = (y_of(high), y_of(low)), (round(low, 2), round(high, 2))
    y_ticks = [(y_of(s), f"{s:g}") for s in (7, 14, 21, 28, 35)]
    x_ticks = [(x_of(first_day), _short(first_day))]
    if last_day != first_day:
        x_ticks.append((x_of(last_day), _short(last_day)))
    return Chart(
        width=WIDTH,
        height=HEIGHT,
        points=points,
        line=" ".join(f"{p.x},{p.y}" for p in points),
        band=band,
        band_scores=band_scores,
        y_ticks=y_ticks,
        x_ticks=x_ticks,
        plot=(left, top, right, bottom),
    )


def _short(day: date) -> str:
    return f"{day.day} {day:%b %Y}"
