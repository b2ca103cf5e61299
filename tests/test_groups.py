"""Hierarchies an analyst edited to 2 or 4 groups: 2**n types, strategies, the Dashboard."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd
import pytest

from xlcrm import pipeline, report, schema
from xlcrm.book.settings import settings_from_grids
from xlcrm.demo import make_ledger
from xlcrm.ledger import Ledger
from xlcrm.value.hierarchy import TABLE_COLUMNS, default_hierarchy, hierarchy_to_table
from xlcrm.value.strategies import DEFAULT_TYPES, STRATEGY_COLUMNS, code_number, type_code

STAMP = datetime(2026, 10, 31, 9, 0)

# The analyst's edits: credit matters enough to be a group of its own (4 groups), or the
# indicators are folded into relationship and business (2 groups).
FOUR = {"Credit standing": "Credit", "Payment timeliness": "Credit"}
TWO = {"Operating status": "Relationship", "Company scale": "Business",
       "Equipment value": "Business", "Credit standing": "Relationship",
       "Purchase growth": "Business", "Industry outlook": "Relationship",
       "Wallet headroom": "Business", "Satisfaction": "Relationship",
       "Sales revenue": "Business", "Gross profit": "Business", "Unit profit": "Business",
       "Payment timeliness": "Relationship"}


def indicators_grid(regroup: dict[str, str]) -> list[list[Any]]:
    table = hierarchy_to_table(default_hierarchy())
    table["Group"] = [regroup.get(n, g) for n, g in zip(table["Indicator"], table["Group"],
                                                          strict=True)]
    table = table.sort_values("Group", key=lambda g: g.map(
        {g: i for i, g in enumerate(dict.fromkeys(table["Group"]))}), kind="stable")
    return [list(TABLE_COLUMNS), *table.to_numpy().tolist()]


def block(title: str, items: list[str], first_weight: float = 1.0) -> list[list[Any]]:
    """A Judgments block as the analyst types it: the first item ``first_weight`` times as
    important as each other, the others equal (consistent, CR 0)."""
    rows: list[list[Any]] = [[title], [None, *items]]
    for i, item in enumerate(items):
        row = [1.0 if (i == 0) == (j == 0) else (first_weight if i == 0 else 1 / first_weight)
               for j in range(len(items))]
        rows.append([item, *row])
    return [*rows, []]


def judgments_grid(indicators: list[list[Any]]) -> list[list[Any]]:
    frame = pd.DataFrame(indicators[1:], columns=indicators[0])
    groups = list(dict.fromkeys(frame["Group"]))
    grid = block("Groups", groups, 2.0)
    for g in groups:
        grid += block(g, frame.loc[frame["Group"] == g, "Indicator"].tolist(), 3.0)
    return grid


def strategies_grid(rows: list[tuple[int, str, str, int]]) -> list[list[Any]]:
    return [list(STRATEGY_COLUMNS), *([n, c, name, f"Do {name}", "Sales", days]
                                      for n, c, name, days in rows)]


@pytest.fixture(scope="module")
def ledger() -> Ledger:
    demo = make_ledger(400, seed=11, dirty=False, today=STAMP.date())
    return Ledger(demo.customers, demo.transactions, demo.interactions, demo.survey)


def _run(ledger: Ledger, regroup: dict[str, str], strategies: list[list[Any]]) -> Any:
    indicators = indicators_grid(regroup)
    settings = settings_from_grids(indicators, judgments_grid(indicators), strategies)
    assert not [p for p in settings.problems if p.sheet == schema.JUDGMENTS]
    return pipeline.run(ledger, settings, stamp=STAMP)


def _type_rows(results: Any) -> list[list[Any]]:
    grid = report.blocks_to_rows(report.dashboard_blocks(results))
    top = report.DASH_TYPES_HEADER[0]
    assert grid[top][: len(report.DASH_TYPES_COLUMNS)] == list(report.DASH_TYPES_COLUMNS)
    rows = []
    for r in range(top + 1, report.DASH_ABC_TITLE[0]):
        if grid[r][0] is not None or grid[r][2] is not None:
            rows.append(grid[r][: len(report.DASH_TYPES_COLUMNS)])
    return rows


def test_four_groups_give_sixteen_types_and_say_which_lack_a_strategy(ledger):
    strategies = strategies_grid([(1, "HHHH", "Star", 14), (16, "LLLL", "Low priority", 90)])
    results = _run(ledger, FOUR, strategies)
    groups = list(results.segments.high.columns)
    assert groups == ["Qualification", "Credit", "Potential", "Contribution"]
    types = results.segments.type.dropna().astype(int)
    codes = results.segments.code[types.index]
    assert types.between(1, 16).all() and types.nunique() > 8
    assert [code_number(c) for c in codes] == types.tolist()
    assert all(len(c) == 4 for c in codes)

    present = sorted(set(types) - {1, 16})
    lines = [p for p in results.problems if "but no strategy" in p.message]
    assert len(lines) == min(len(present), pipeline.MISSING_STRATEGIES_SHOWN) + (
        len(present) > pipeline.MISSING_STRATEGIES_SHOWN)
    first = present[0]
    assert lines[0].message.startswith(f"type {first} ({type_code(first, 4)}) has")
    assert f"Type {first}, Code {type_code(first, 4)}" in lines[0].fix
    assert lines[0].sheet == schema.STRATEGIES

    # No silent default interval: those customers get no planned contact.
    activity = results.operations.activity
    without = results.segments.type.isin(present).fillna(False).to_numpy(dtype=bool)
    contacted = activity["LastContact"].notna().to_numpy()
    assert activity["NextContactDue"][without & contacted].isna().all()
    stars = results.segments.type.eq(1).fillna(False).to_numpy(dtype=bool)
    assert activity["NextContactDue"][stars].notna().all()
    seg = results.segments_table
    assert seg["Strategy"][without].str.startswith("No strategy: add type").all()

    # The Dashboard: only types that exist, within its 8 formatted rows, adding up.
    rows = _type_rows(results)
    assert len(rows) == report.N_TYPES
    assert rows[-1][2].startswith("Other types (")
    assert sum(r[3] for r in rows) == results.customers
    assert all(r[3] > 0 for r in rows)
    title = report.blocks_to_rows(report.dashboard_blocks(results))[report.DASH_TYPES_TITLE[0]]
    assert title[0] == "By customer type (Qualification, Credit, Potential, Contribution)"


def test_two_groups_give_four_named_types(ledger):
    names = [(1, "HH", "Core", 14), (2, "HL", "Relationship first", 30),
             (3, "LH", "Business first", 30), (4, "LL", "Maintain", 60)]
    results = _run(ledger, TWO, strategies_grid(names))
    types = results.segments.type.dropna().astype(int)
    assert set(types) <= {1, 2, 3, 4} and types.nunique() >= 3
    assert not [p for p in results.problems if "strategy" in p.message.lower()]
    rows = _type_rows(results)
    by_number = {n: name for n, _, name, _ in names}
    assert [r[0] for r in rows] == sorted(set(types))
    assert [r[2] for r in rows] == [by_number[r[0]] for r in rows]
    assert sum(r[3] for r in rows) == results.customers
    interval = {n: d for n, _, _, d in names}
    at = report.DASH_TYPES_COLUMNS.index("Visit interval (days)")
    assert [r[at] for r in rows] == [interval[r[0]] for r in rows]


def test_a_strategies_sheet_for_three_groups_is_not_read_as_four(ledger):
    from xlcrm.value.strategies import strategies_to_table

    table = strategies_to_table(DEFAULT_TYPES)
    grid = [list(table.columns), *table.to_numpy().tolist()]
    results = _run(ledger, FOUR, grid)
    (line,) = [p for p in results.problems if "another number of groups" in p.message]
    assert line.message.startswith("8 row(s) have codes for another number of groups")
    assert results.types == ()
    assert not (results.segments_table["TypeName"] == "Star").any()


def test_a_four_group_workbook_keeps_the_dashboards_formats(ledger, tmp_path):
    import numpy as np
    from openpyxl import load_workbook

    from xlcrm.book.template import build_workbook
    from xlcrm.book.workbook_file import resegment_file
    from xlcrm.value.hierarchy import hierarchy_from_table

    indicators = indicators_grid(FOUR)
    hierarchy, problems = hierarchy_from_table(pd.DataFrame(indicators[1:],
                                                            columns=indicators[0]))
    assert not problems
    judgments = {"groups": np.ones((4, 4))}
    for g in hierarchy.groups:
        k = len(hierarchy.by_group[g])
        judgments[g] = np.ones((k, k))
    small = Ledger(ledger.customers.iloc[:120], ledger.transactions, ledger.interactions,
                   ledger.survey)
    path = tmp_path / "four.xlsm"
    path.write_bytes(build_workbook(small, hierarchy=hierarchy, judgments=judgments, types=()))
    results = resegment_file(path, backups=0, stamp=STAMP)
    rows = _type_rows(results)
    listed = len(rows)
    assert 4 < listed <= report.N_TYPES
    assert all(r[3] > 0 for r in rows) and sum(r[3] for r in rows) == 120
    sheet = load_workbook(path, read_only=False)[schema.DASHBOARD]
    top = report.DASH_TYPES_HEADER[0] + 2  # first type row, 1-based
    share = 1 + report.DASH_TYPES_COLUMNS.index("Share of customers")
    for row in range(top, top + listed):
        cell = sheet.cell(row=row, column=share)
        assert isinstance(cell.value, float) and "%" in cell.number_format, cell.coordinate
