"""Small-number suppression: primary and secondary, checked on examples and on random tables."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from services.reporting.suppression import SUPPRESSED, Policy, rate, statistic, suppress_table

POLICY = Policy(up_to=4)


def grid_of(cells, row_totals, column_totals, grand):
    return [row + [total] for row, total in zip(cells, row_totals, strict=True)] + [
        column_totals + [grand]
    ]


def test_given_a_small_count_when_published_then_it_and_a_neighbour_are_hidden():
    cells, rows, columns, grand = suppress_table([[3, 10], [20, 30]], POLICY)
    # 3 is hidden; alone in its row and column, so 10 (its row) and 20 (its column) go too,
    # and then 30 so that no row or column shows all but one hidden cell
    assert cells == [[SUPPRESSED, SUPPRESSED], [SUPPRESSED, SUPPRESSED]]
    assert rows == [13, 50] and columns == [23, 40] and grand == 63


def test_given_no_small_counts_when_published_then_everything_shows():
    assert suppress_table([[5, 10], [20, 0]], POLICY) == (
        [[5, 10], [20, 0]],
        [15, 20],
        [25, 10],
        35,
    )


def test_given_zeros_when_published_then_zeros_show_and_are_never_hidden_to_protect():
    cells, rows, _, _ = suppress_table([[0, 2, 9]], POLICY)
    assert cells == [[0, SUPPRESSED, SUPPRESSED]]
    assert rows == [11]


def test_given_a_small_total_when_published_then_the_total_is_hidden():
    cells, rows, columns, grand = suppress_table([[1, 1]], POLICY)
    assert cells == [[SUPPRESSED, SUPPRESSED]] and rows == [SUPPRESSED] and grand == SUPPRESSED


def test_given_rounding_when_published_then_shown_counts_round_to_the_multiple():
    cells, rows, _, _ = suppress_table([[12, 18]], Policy(up_to=4, round_to=5))
    assert cells == [[10, 20]] and rows == [30]


def test_rates_and_statistics_hide_with_their_counts():
    assert rate(SUPPRESSED, 20) == SUPPRESSED
    assert rate(5, 20) == 25.0
    assert rate(0, 0) is None
    assert statistic(3.5, 3, POLICY) == SUPPRESSED
    assert statistic(3.5, 12, POLICY) == 3.5


def test_the_policy_comes_from_the_environment_and_refuses_nonsense():
    assert Policy.from_environment({"PEERLINK_SUPPRESS_UP_TO": "7"}).up_to == 7
    try:
        Policy.from_environment({"PEERLINK_ROUND_TO": "0"})
    except ValueError as error:
        assert "PEERLINK_ROUND_TO" in str(error)
    else:
        raise AssertionError("a rounding of 0 was accepted")


tables = st.integers(1, 5).flatmap(
    lambda width: st.lists(
        st.lists(st.integers(0, 30), min_size=width, max_size=width), min_size=1, max_size=6
    )
)


@given(tables)
def test_no_hidden_count_can_be_recovered_from_its_row_or_column(table):
    grid = [row + [sum(row)] for row in table]
    grid.append([sum(col) for col in zip(*grid, strict=True)])
    published = grid_of(*suppress_table(table, POLICY))
    lines = [list(range(len(grid[0])))]
    for r, row in enumerate(published):
        for c, value in enumerate(row):
            if value == SUPPRESSED:
                continue
            assert value == grid[r][c]  # what shows is true
            assert not POLICY.hides(value)  # and never small
    for line in [[(r, c) for c in lines[0]] for r in range(len(grid))] + [
        [(r, c) for r in range(len(grid))] for c in lines[0]
    ]:
        hidden = [cell for cell in line if published[cell[0]][cell[1]] == SUPPRESSED]
        # a lone hidden cell would be its line's total minus the cells shown
        assert len(hidden) != 1, (table, line)
