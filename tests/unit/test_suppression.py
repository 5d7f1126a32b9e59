"""Disclosure control: keyed random rounding of the smallest cells, tables that add up, and
statistics only over enough people; against the attacks an analyst can run on the grid."""

from __future__ import annotations

import itertools
import random
from datetime import date
from statistics import fmean

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.reporting.grid import financial_year_of, periods_of_year
from services.reporting.reports import Table
from services.reporting.suppression import SUPPRESSED, Policy, RoundingKeyMissing, rate
from tests.disclosure import Attack

pytestmark = pytest.mark.unit

KEY = b"a key of the hub's own, 32 bytes or more, for tests"
POLICY = Policy(round_to=5, up_to=4, key=KEY)


@given(st.integers(min_value=0, max_value=10_000), st.text(max_size=20))
def test_a_count_is_rounded_to_an_adjacent_multiple_and_always_the_same_way(count, cell):
    rounded = POLICY.rounded(count, ("referrals", cell))
    assert rounded % 5 == 0 and abs(rounded - count) < 5
    assert rounded == POLICY.rounded(count, ("referrals", cell))
    if count % 5 == 0:
        assert rounded == count


def test_rounding_is_right_on_average_and_cannot_be_redone_without_the_key():
    cells = [("referrals", "lslcs", f"cell-{n}") for n in range(4000)]
    assert abs(fmean(POLICY.rounded(2, cell) for cell in cells) - 2) < 0.15
    assert abs(fmean(POLICY.rounded(13, cell) for cell in cells) - 13) < 0.15
    other = Policy(round_to=5, key=b"another key, as long as the first one is")
    differ = sum(POLICY.rounded(3, cell) != other.rounded(3, cell) for cell in cells)
    assert differ > 1000


def test_rounding_needs_a_key_unless_counts_are_published_exactly():
    with pytest.raises(RoundingKeyMissing):
        Policy(round_to=5)
    assert Policy(round_to=1).rounded(3, ("x",)) == 3


def test_a_statistic_over_too_few_is_hidden_and_others_are_rounded():
    assert POLICY.statistic(12.25, 4) == SUPPRESSED
    assert POLICY.statistic(12.25, 0) == SUPPRESSED
    assert POLICY.statistic(12.25, 5) == 12
    assert POLICY.statistic(1.26, 9, places=1) == 1.3


def test_a_rate_is_worked_out_from_published_counts():
    assert rate(5, 20) == 25.0
    assert rate(0, 0) is None
    assert rate(SUPPRESSED, 20) == SUPPRESSED


def _published(counts: dict, partners, months, categories, policy=POLICY) -> dict:
    """(partner, month) -> category -> published cell, as the hub's tables publish them."""
    table = Table(
        "t", "", ("partner_id", "month"), categories, list(itertools.product(partners, months))
    )
    for (partner, month, category), count in counts.items():
        table.add((partner, month), category, count, month)
    rows = table.publish(policy)["rows"]
    return {(r["partner_id"], r["month"]): r["counts"] for r in rows}


def test_every_table_adds_up_across_categories_months_and_partners():
    partners, categories = ("a", "b"), ("x", "y", "z")
    months = financial_year_of(date(2026, 5, 1)).months()
    rng = random.Random(7)
    counts = {
        (p, m, c): rng.choice([0, 0, 1, 2, 3, 6, 11])
        for p, m, c in itertools.product(partners, months, categories)
    }
    table = Table(
        "t", "", ("partner_id", "month"), categories, list(itertools.product(partners, months))
    )
    for (p, m, c), n in counts.items():
        table.add((p, m), c, n, m)
    published = table.publish(POLICY)
    for row in published["rows"]:
        assert row["total"] == sum(row["counts"].values())
    for category in categories:
        column = sum(row["counts"][category] for row in published["rows"])
        assert published["totals"]["counts"][category] == column

    # a partner's figure for a quarter, counted by month, is the sum of its months' figures
    def by_partner(months_wanted):
        table = Table("q", "", ("partner_id",), categories, [(p,) for p in partners])
        for (p, m, c), n in counts.items():
            if m in months_wanted:
                table.add((p,), c, n, m)
        return {row["partner_id"]: row["counts"] for row in table.publish(POLICY)["rows"]}

    quarter = by_partner(months[:3])
    for partner, category in itertools.product(partners, categories):
        assert quarter[partner][category] == sum(
            by_partner([m])[partner][category] for m in months[:3]
        )


# -- the attacks --------------------------------------------------------------------------------


def _cube(seed: int):
    rng = random.Random(seed)
    partners, categories = ("a", "b", "c"), ("x", "y", "z")
    year = financial_year_of(date(2026, 4, 1))
    months = year.months()
    counts = {
        key: rng.choice([0, 0, 0, 1, 1, 2, 3, 5, 7])
        for key in itertools.product(partners, months, categories)
    }
    return partners, categories, year, counts


def _independently_rounded_attack(partners, categories, year, counts) -> Attack:
    """What an analyst learns from tables published the NHS way, each on its own: small counts
    (1-4) as *, every other figure (cells and totals alike) rounded to the nearest 5, for every
    period of the grid, each partner and the alliance."""
    attack = Attack()
    for period in periods_of_year(year):
        for members in [(p,) for p in partners] + [partners]:
            for category in (*categories, None):
                cells = [
                    (p, m, c)
                    for p in members
                    for m in period.months()
                    for c in ((category,) if category else categories)
                ]
                true = sum(counts[cell] for cell in cells)
                if 0 < true <= 4:
                    attack.sum_between(cells, 1, 4)  # shown as *
                elif true == 0:
                    attack.sum_between(cells, 0, 0)
                else:  # shown rounded: not a small count, so at least 5
                    shown = 5 * round(true / 5)
                    attack.sum_between(cells, max(5, shown - 2), shown + 2)
    return attack


def _rounded_attack(partners, categories, year, counts, policy=POLICY) -> Attack:
    """What an analyst learns from the hub's tables: each month's cell within round_to - 1 of
    its rounded figure; every other figure the sum of the cells it covers."""
    attack = Attack()
    published = _published(counts, partners, year.months(), categories, policy)
    for (partner, month), cells in published.items():
        for category, shown in cells.items():
            attack.between((partner, month, category), max(0, shown - 4), shown + 4)
    for period in periods_of_year(year):
        for members in [(p,) for p in partners] + [partners]:
            cells = [(p, m, c) for p in members for m in period.months() for c in categories]
            shown = sum(published[(p, m)][c] for p, m, c in cells)
            attack.sum_between(cells, max(0, shown - 4 * len(cells)), shown + 4 * len(cells))
    return attack


def test_the_attack_recovers_small_counts_from_tables_rounded_one_by_one():
    """The attack is not idle: on tables rounded and suppressed each on its own, as NHS
    publications round them, one person referred in April and one in June, beside five in May,
    are each given away (the quarter's 7 shows as 5, May's 5 as 5: April and June add up to 2)."""
    partners, categories, year, _ = _cube(seed=3)
    counts = dict.fromkeys(itertools.product(partners, year.months(), categories), 0)
    counts.update({("a", "2026-04", "x"): 1, ("a", "2026-05", "x"): 5, ("a", "2026-06", "x"): 1})
    attack = _independently_rounded_attack(partners, categories, year, counts)
    disclosed = attack.disclosed([cell for cell, n in counts.items() if n])
    assert ("a", "2026-04", "x") in disclosed and ("a", "2026-06", "x") in disclosed
    for cell, (low, _) in disclosed.items():
        assert round(low) == counts[cell]
    # the hub's own tables of the same counts give nothing away
    assert not _rounded_attack(partners, categories, year, counts).disclosed()


@pytest.mark.parametrize("seed", [3, 11])
def test_no_count_is_pinned_by_any_combination_of_the_hubs_published_figures(seed):
    partners, categories, year, counts = _cube(seed)
    attack = _rounded_attack(partners, categories, year, counts)
    assert not attack.disclosed()
    # the attacker's model is sound: every true count is among those it allows
    cells = random.Random(seed).sample(sorted(counts), 12)
    for cell, (low, high) in attack.bounds(cells).items():
        assert low - 1e-6 <= counts[cell] <= high + 1e-6, cell


def test_counts_of_people_round_to_the_nearest_multiple_and_never_fall_as_they_grow():
    shown = [POLICY.nearest(count) for count in range(60)]
    assert shown[:8] == [0, 0, 0, 5, 5, 5, 5, 5]
    assert all(abs(s - c) <= 2 and s % 5 == 0 for c, s in enumerate(shown))
    assert shown == sorted(shown)


def test_a_percentile_is_shown_only_with_more_than_up_to_values_on_each_side():
    assert POLICY.percentile(3.0, 9, 0.5) == SUPPRESSED
    assert POLICY.percentile(3.0, 10, 0.5) == 3
    assert POLICY.percentile(8.4, 49, 0.9) == SUPPRESSED
    assert POLICY.percentile(8.4, 50, 0.9) == 8
