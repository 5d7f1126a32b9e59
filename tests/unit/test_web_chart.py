"""The SWEMWBS chart of a person's page, drawn on the server: points in date order, scaled to
the metric range, and the band of no meaningful change around the first score."""

from __future__ import annotations

from datetime import date

import pytest

from services.web.views.chart import HEIGHT, LEFT, WIDTH, swemwbs_chart

pytestmark = pytest.mark.unit


def taken(on: str, score: float, measure: str = "swemwbs") -> dict:
    return {"measure": measure, "taken_on": on, "metric_score": score}


def test_scores_are_drawn_in_date_order_from_left_to_right_and_low_to_high():
    chart = swemwbs_chart(
        [taken("2026-03-01", 23.21), taken("2026-01-01", 15.84), taken("2026-02-01", 17.98)],
        threshold=3.0,
    )
    assert [p.taken_on for p in chart.points] == [
        date(2026, 1, 1),
        date(2026, 2, 1),
        date(2026, 3, 1),
    ]
    xs = [p.x for p in chart.points]
    ys = [p.y for p in chart.points]
    assert xs[0] == LEFT and xs[-1] == WIDTH - 16 and xs == sorted(xs)
    # a higher score is higher on the page: a smaller y
    assert ys == sorted(ys, reverse=True)
    assert chart.line.split()[0] == f"{xs[0]},{ys[0]}"


def test_the_band_spans_the_threshold_either_side_of_the_first_score_within_the_range():
    chart = swemwbs_chart([taken("2026-01-01", 8.5), taken("2026-04-01", 12.0)], threshold=3.0)
    assert chart.band_scores == (7.0, 11.5)
    top, bottom = chart.band
    plot_bottom = chart.plot[3]
    assert bottom == plot_bottom and top < bottom


def test_one_score_is_drawn_alone_without_a_band_until_the_threshold_is_known():
    chart = swemwbs_chart([taken("2026-01-01", 21.0)], threshold=None)
    [point] = chart.points
    assert point.x == (LEFT + WIDTH - 16) / 2 and 0 < point.y < HEIGHT
    assert chart.band is None and len(chart.x_ticks) == 1


def test_no_chart_without_a_swemwbs_score():
    assert swemwbs_chart([taken("2026-01-01", 40.0, measure="wemwbs")], threshold=3.0) is None
    assert swemwbs_chart([], threshold=None) is None
