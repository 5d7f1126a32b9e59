"""Outcome measures: scoring against the published tables, refusals, and change over time."""

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.sessions import measures
from contracts.sessions.measures import SWEMWBS, SWEMWBS_ITEMS, WEMWBS, WEMWBS_ITEMS, Taken

pytestmark = pytest.mark.unit

# Warwick Medical School's SWEMWBS conversion table, written out again here so that a change to
# the table in the code is caught rather than copied.
PUBLISHED = {
    7: "7.00", 8: "9.51", 9: "11.25", 10: "12.40", 11: "13.33", 12: "14.08", 13: "14.75",
    14: "15.32", 15: "15.84", 16: "16.36", 17: "16.88", 18: "17.43", 19: "17.98", 20: "18.59",
    21: "19.25", 22: "19.98", 23: "20.73", 24: "21.54", 25: "22.35", 26: "23.21", 27: "24.11",
    28: "25.03", 29: "26.02", 30: "27.03", 31: "28.13", 32: "29.31", 33: "30.70", 34: "32.55",
    35: "35.00",
}  # fmt: skip


def answers_totalling(raw: int, items=SWEMWBS_ITEMS) -> dict[str, int]:
    """Answers from 1 to 5 that add up to `raw`, filled from the first item on."""
    answers = dict.fromkeys(items, 1)
    extra = raw - len(items)
    for item in items:
        step = min(4, extra)
        answers[item] += step
        extra -= step
    assert extra == 0
    return answers


@pytest.mark.parametrize(("raw", "metric"), PUBLISHED.items())
def test_swemwbs_converts_every_raw_score_as_the_published_table(raw, metric):
    score = SWEMWBS.score(answers_totalling(raw))
    assert score.raw == raw
    assert score.metric == Decimal(metric)


def test_the_table_covers_every_possible_raw_score_and_no_other():
    assert set(measures.SWEMWBS_CONVERSION) == set(range(7, 36)) == set(PUBLISHED)


def test_swemwbs_is_coded_as_snomed_ct_718466001():
    assert measures.measure("swemwbs").snomed_ct == "718466001"
    assert SWEMWBS.meaningful_change == Decimal("3")


@pytest.mark.parametrize(
    ("answers", "problem"),
    [
        (
            {k: 3 for k in SWEMWBS_ITEMS if k != "feeling_relaxed"},
            "item 'feeling_relaxed' is missing: every item needs an answer",
        ),
        (
            {**dict.fromkeys(SWEMWBS_ITEMS, 3), "feeling_loved": 3},
            "item 'feeling_loved' is not part of SWEMWBS",
        ),
        (
            {**dict.fromkeys(SWEMWBS_ITEMS, 3), "thinking_clearly": 6},
            "item 'thinking_clearly' must be from 1 to 5, not 6",
        ),
        (
            {**dict.fromkeys(SWEMWBS_ITEMS, 3), "thinking_clearly": 0},
            "item 'thinking_clearly' must be from 1 to 5, not 0",
        ),
        (
            {**dict.fromkeys(SWEMWBS_ITEMS, 3), "feeling_useful": "4"},
            "item 'feeling_useful' must be a whole number, not '4'",
        ),
        (
            {**dict.fromkeys(SWEMWBS_ITEMS, 3), "feeling_useful": 4.0},
            "item 'feeling_useful' must be a whole number, not 4.0",
        ),
        (
            {**dict.fromkeys(SWEMWBS_ITEMS, 3), "feeling_useful": True},
            "item 'feeling_useful' must be a whole number, not True",
        ),
    ],
    ids=["missing", "extra", "above-range", "below-range", "text", "fraction", "boolean"],
)
def test_answers_that_do_not_fit_the_measure_are_refused_naming_the_item(answers, problem):
    with pytest.raises(ValueError) as refusal:
        SWEMWBS.score(answers)
    assert problem in str(refusal.value)


def test_every_problem_in_one_set_of_answers_is_named_at_once():
    answers = {**dict.fromkeys(SWEMWBS_ITEMS[1:], 3), "feeling_useful": 9, "mood": 2}
    with pytest.raises(ValueError) as refusal:
        SWEMWBS.score(answers)
    message = str(refusal.value)
    for item in ("optimistic_about_the_future", "feeling_useful", "mood"):
        assert f"'{item}'" in message


def test_answers_must_be_given_as_a_mapping():
    with pytest.raises(ValueError, match="must map each item"):
        SWEMWBS.score([3] * 7)


def test_an_unknown_measure_is_refused():
    with pytest.raises(ValueError, match="'phq9' is not a measure"):
        measures.score("phq9", {})


swemwbs_answers = st.fixed_dictionaries({item: st.integers(1, 5) for item in SWEMWBS_ITEMS})


@given(swemwbs_answers)
def test_every_valid_set_of_answers_scores_within_7_to_35(answers):
    score = SWEMWBS.score(answers)
    assert 7 <= score.raw <= 35
    assert Decimal(7) <= score.metric <= Decimal(35)
    assert score.metric == measures.SWEMWBS_CONVERSION[score.raw]


@given(swemwbs_answers, st.sampled_from(SWEMWBS_ITEMS))
def test_a_higher_answer_never_lowers_the_metric_score(answers, item):
    if answers[item] == 5:
        return
    higher = {**answers, item: answers[item] + 1}
    assert SWEMWBS.score(higher).metric > SWEMWBS.score(answers).metric


def test_the_conversion_rises_strictly_with_the_raw_score():
    metrics = [measures.SWEMWBS_CONVERSION[raw] for raw in range(7, 36)]
    assert all(a < b for a, b in zip(metrics, metrics[1:], strict=False))


@given(st.fixed_dictionaries({item: st.integers(1, 5) for item in WEMWBS_ITEMS}))
def test_wemwbs_scores_the_sum_of_its_fourteen_items(answers):
    score = WEMWBS.score(answers)
    assert score.raw == sum(answers.values())
    assert 14 <= score.raw <= 70 and score.metric == Decimal(score.raw)


def test_the_registry_holds_each_measure_by_code_with_its_own_items():
    assert measures.MEASURES == {"swemwbs": SWEMWBS, "wemwbs": WEMWBS}
    assert WEMWBS.snomed_ct == "718426000" and len(WEMWBS.items) == 14
    assert set(SWEMWBS.items) < set(WEMWBS.items)  # SWEMWBS was drawn from WEMWBS
    with pytest.raises(ValueError, match="item 'feeling_loved' is missing"):
        WEMWBS.score(dict.fromkeys(SWEMWBS_ITEMS, 3))
    assert (SWEMWBS.lowest_raw, SWEMWBS.highest_raw) == (7, 35)
    assert (WEMWBS.lowest_raw, WEMWBS.highest_raw) == (14, 70)


# -- change from first to latest -----------------------------------------------------------------


def taken(metric: str, on: date, timepoint: str = "review", measure: str = "swemwbs") -> Taken:
    return Taken(measure, timepoint, on, Decimal(metric))


JAN, APR, JUL = date(2026, 1, 10), date(2026, 4, 10), date(2026, 7, 10)


@pytest.mark.parametrize(
    ("first", "latest", "outcome"),
    [
        ("17.43", "20.73", "improved"),
        ("17.43", "20.43", "improved"),  # exactly the threshold counts
        ("17.43", "20.42", "no_reliable_change"),
        ("20.73", "17.98", "no_reliable_change"),
        ("20.73", "17.73", "deteriorated"),
        ("20.73", "16.88", "deteriorated"),
    ],
)
def test_change_from_first_to_latest_against_the_default_threshold(first, latest, outcome):
    series = [taken(first, JAN, "start"), taken(latest, JUL, "discharge")]
    change = measures.change_from_first_to_latest("swemwbs", series)
    assert change.outcome == outcome
    assert change.change == Decimal(latest) - Decimal(first)
    assert change.threshold == Decimal("3")
    assert change.is_meaningful == (outcome != "no_reliable_change")


def test_the_threshold_can_be_set_lower():
    series = [taken("17.43", JAN, "start"), taken("18.59", JUL)]
    assert measures.change_from_first_to_latest("swemwbs", series).outcome == "no_reliable_change"
    lenient = measures.change_from_first_to_latest("swemwbs", series, threshold=Decimal("1"))
    assert lenient.outcome == "improved" and lenient.threshold == Decimal("1")


def test_a_threshold_of_nothing_is_refused():
    series = [taken("17.43", JAN), taken("18.59", JUL)]
    with pytest.raises(ValueError, match="more than 0"):
        measures.change_from_first_to_latest("swemwbs", series, threshold=0)


def test_first_and_latest_go_by_date_then_timepoint_whatever_the_order_given():
    series = [
        taken("24.11", JUL, "discharge"),
        taken("20.73", APR),
        taken("17.43", JAN, "review"),
        taken("16.88", JAN, "start"),
    ]
    change = measures.change_from_first_to_latest("swemwbs", series)
    assert change.first.metric == Decimal("16.88") and change.latest.metric == Decimal("24.11")


def test_change_needs_two_measures_of_the_same_kind():
    assert measures.change_from_first_to_latest("swemwbs", []) is None
    one = [taken("17.43", JAN, "start"), taken("50", JUL, measure="wemwbs")]
    assert measures.change_from_first_to_latest("swemwbs", one) is None


def test_wemwbs_change_uses_its_own_threshold():
    series = [
        taken("40", JAN, "start", measure="wemwbs"),
        taken("47", JUL, "discharge", measure="wemwbs"),
    ]
    assert measures.change_from_first_to_latest("wemwbs", series).outcome == "no_reliable_change"
    series.append(taken("48", date(2026, 8, 1), measure="wemwbs"))
    assert measures.change_from_first_to_latest("wemwbs", series).outcome == "improved"


def test_a_taken_measure_reads_from_its_event_payload():
    payload = {
        "measure": "swemwbs",
        "timepoint": "start",
        "taken_on": "2026-01-10",
        "metric_score": 17.43,
    }
    assert Taken.from_payload(payload) == taken("17.43", JAN, "start")
