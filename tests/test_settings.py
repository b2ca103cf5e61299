"""Settings sheets parsed from cell grids (as a file reader or xlwings returns them)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from xlcrm.book.settings import (
    find_matrix_blocks,
    grid_to_frame,
    judgments_from_grid,
    options_from_grid,
    options_rows,
    settings_from_grids,
)
from xlcrm.errors import InputError
from xlcrm.pipeline import Options
from xlcrm.value.ahp import parse_matrix
from xlcrm.value.hierarchy import default_hierarchy, default_judgments, hierarchy_to_table
from xlcrm.value.strategies import DEFAULT_TYPES, strategies_to_table


def judgments_grid(groups_upper=("1/2", "1/3", "1/2")):
    """A Judgments sheet laid out like the template: title, header, matrix rows."""
    h = default_hierarchy()
    grid = [["Pairwise judgments ..."], [None]]
    a, b, c = groups_upper
    grid += [
        ["Groups", "first-level groups"],
        [None, *h.groups, None, "Weight"],
        ["Qualification", 1, a, b, None, 0.16],
        ["Potential", None, 1, c, None, 0.3],
        ["Contribution", None, None, 1, None, 0.54],
        [None],
        ["CR", 0.01],
        [None],
    ]
    for g in h.groups:
        items = [i.name for i in h.by_group[g]]
        m = default_judgments()[g]
        grid += [[g, f"indicators of {g}"], [None, *items, None, "Weight"]]
        for i, item in enumerate(items):
            grid.append([item, *[m[i, j] if j >= i else 1 / m[j, i] for j in range(4)]])
        grid += [[None], ["CR", 0.0], [None]]
    return grid


def test_blocks_found_with_positions():
    blocks = find_matrix_blocks(judgments_grid())
    assert list(blocks) == ["Groups", "Qualification", "Potential", "Contribution"]
    groups = blocks["Groups"]
    assert groups.items == ("Qualification", "Potential", "Contribution")
    assert groups.ref == "B5:D7"
    assert groups.values[0] == [1, "1/2", "1/3"]


def test_judgments_follow_hierarchy_order():
    matrices, problems = judgments_from_grid(judgments_grid(), default_hierarchy())
    assert problems == []
    assert matrices["groups"][0][1] == "1/2"
    np.testing.assert_allclose(
        np.array(matrices["Potential"], float), default_judgments()["Potential"]
    )


def test_missing_block_is_an_error_naming_the_group():
    grid = judgments_grid()[:10]  # only the groups block
    matrices, problems = judgments_from_grid(grid, default_hierarchy())
    assert len(problems) == 3
    assert all(p.severity == "error" and p.sheet == "Judgments" for p in problems)
    assert "'Qualification'" in problems[0].message
    assert "sync-judgments" in problems[0].fix
    assert matrices["Qualification"] is None  # never an equal-weight stand-in


def test_renamed_items_are_an_error_naming_block_and_names():
    grid = judgments_grid()
    grid[3][1] = "Quality"
    _, problems = judgments_from_grid(grid, default_hierarchy())
    (p,) = problems
    assert p.severity == "error" and p.cell == "A3"
    assert "Judgments!A3" in p.message
    assert "'Quality' is not on Indicators; 'Qualification' has no judgments" in p.message
    assert '--rename "Quality=Qualification"' in p.fix
    ind = table_grid(hierarchy_to_table(default_hierarchy()))
    with pytest.raises(InputError) as info:
        settings_from_grids(ind, grid, None)
    assert info.value.problems[0].cell == "A3"


def test_same_names_in_another_order_are_matched_by_name():
    h = default_hierarchy()
    grid = judgments_grid()
    # The analyst moved Contribution above Potential on Indicators: judgments are unchanged.
    table = hierarchy_to_table(h)
    moved = pd.concat([table.iloc[:4], table.iloc[8:], table.iloc[4:8]], ignore_index=True)
    settings = settings_from_grids(table_grid(moved), grid, None)
    assert settings.hierarchy.groups == ("Qualification", "Contribution", "Potential")
    m = np.array(parse_matrix(settings.judgments["groups"]))
    # Qualification vs Potential was 1/2, Qualification vs Contribution 1/3.
    np.testing.assert_allclose(m[0], [1, 1 / 3, 1 / 2])
    np.testing.assert_allclose(m[1, 2], 2.0)  # Contribution vs Potential = 1 / (1/2)


def test_blank_judgment_is_flagged_at_its_cell():
    grid = judgments_grid(("1/2", None, "1/2"))
    _, problems = judgments_from_grid(grid, default_hierarchy())
    (p,) = problems
    assert p.severity == "warning" and p.cell == "D5"
    assert "Qualification vs Contribution" in p.message and "Harker" in p.message


def test_options_block_round_trip_and_errors():
    rows = options_rows(Options(missing="zero", abc_cutoffs=(0.7, 0.9)))
    grid = [[None] * 8 + r for r in rows]
    options, problems = options_from_grid(grid)
    assert problems == []
    assert options.missing == "zero" and options.abc_cutoffs == (0.7, 0.9)

    grid[1][9] = "guess"
    grid[4][9] = "80%"
    grid[5][9] = 1.5
    options, problems = options_from_grid(grid)
    assert options.missing == "median"
    cells = {p.cell for p in problems}
    assert {"J2", "J6"} <= cells
    assert options.abc_cutoffs == (0.8, 0.95)


def table_grid(frame):
    return [list(frame.columns)] + [list(r) for r in frame.itertuples(index=False)]


def test_settings_from_grids_defaults_round_trip():
    h = default_hierarchy()
    ind = table_grid(hierarchy_to_table(h))
    strat = table_grid(strategies_to_table(DEFAULT_TYPES))
    settings = settings_from_grids(ind, judgments_grid(), strat)
    assert settings.hierarchy == h
    assert settings.types == DEFAULT_TYPES
    assert [p for p in settings.problems if p.severity == "error"] == []


def test_grid_to_frame_stops_at_blank_header_and_trailing_rows():
    frame = grid_to_frame([["A", "B", None, "x"], [1, 2, 3, 4], [None, None], [None]])
    assert list(frame.columns) == ["A", "B"]
    assert len(frame) == 1


@pytest.mark.parametrize("missing", [None])
def test_missing_sheets_use_defaults(missing):
    settings = settings_from_grids(missing, missing, missing)
    assert settings.hierarchy == default_hierarchy()
    assert {p.sheet for p in settings.problems} == {"Indicators", "Judgments"}


def test_bad_judgment_is_reported_at_its_cell():
    from xlcrm.errors import InputError

    grid = judgments_grid()
    grid[4][2] = "3"  # Qualification vs Potential (sheet C5) = 3 ...
    grid[5][1] = 3  # ... and its mirror (B6) typed 3 as well: not reciprocal
    matrices, problems = judgments_from_grid(grid, default_hierarchy())
    errors = [p for p in problems if p.severity == "error"]
    assert [p.cell for p in errors] == ["C5"]
    assert errors[0].message.startswith("Groups matrix: cell (1,2) is 3 but (2,1) is 3")
    ind = table_grid(hierarchy_to_table(default_hierarchy()))
    with pytest.raises(InputError) as info:
        settings_from_grids(ind, grid, None)
    assert info.value.problems[0].sheet == "Judgments"


def test_importance_block_read_below_the_options():
    from xlcrm.book.settings import IMPORTANCE_HEADER, importance_from_grid

    pad = [None] * 8
    grid = [pad + r for r in options_rows(Options())] + [
        [],
        pad + ["Importance of survey questions"],
        pad + list(IMPORTANCE_HEADER),
        pad + ["Q1", 5, "Quality"],
        pad + ["Q2", None, "Delivery"],  # blank: left out
        pad + ["Q3", "4.5"],
        pad + ["Q4", "very", "Price"],
        pad + ["Q5", -1],
        pad + [None],
        pad + ["Q9", 3],  # after the first blank question: not part of the block
    ]
    pairs, problems = importance_from_grid(grid)
    assert pairs == (("Q1", 5.0), ("Q3", 4.5))
    top = len(options_rows(Options())) + 3  # 1-based row of the header
    assert [p.cell for p in problems] == [f"J{top + 4}", f"J{top + 5}"]
    assert all(p.severity == "error" and p.sheet == "Indicators" for p in problems)
    assert importance_from_grid([pad + ["Option", "Value"]]) == ((), [])
