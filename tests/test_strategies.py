"""The eight types, their numbering, and the analyst's Strategies sheet."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xlcrm.errors import InputError
from xlcrm.value.strategies import (
    ABC_CLASSES,
    DEFAULT_TYPES,
    STRATEGY_COLUMNS,
    CustomerType,
    strategies_from_table,
    strategies_to_table,
    type_code,
    type_number,
    types_by_number,
)

CODES = ("HHH", "HHL", "HLH", "HLL", "LHH", "LHL", "LLH", "LLL")


# ----------------------------------------------------------------- defaults and numbering


def test_default_types_follow_the_design_order() -> None:
    assert [t.number for t in DEFAULT_TYPES] == list(range(1, 9))
    assert [t.code for t in DEFAULT_TYPES] == list(CODES)
    assert len({t.name for t in DEFAULT_TYPES}) == 8
    for t in DEFAULT_TYPES:
        assert t.name and t.strategy and t.owner
        assert isinstance(t.visit_interval_days, int) and t.visit_interval_days > 0


def test_default_strategies_are_the_design_strategies() -> None:
    # DESIGN.md §2.6: one key phrase per type, in type order.
    phrases = (
        "key-account service team",
        "satisfaction",
        "one-to-one dedicated service",
        "regularly as a key customer",
        "fine detail",
        "promote products and services",
        "tailored sales proposals",
        "low-cost regular contact",
    )
    for t, phrase in zip(DEFAULT_TYPES, phrases, strict=True):
        assert phrase in t.strategy.lower(), (t.number, t.strategy)
    # The best customers are seen most often, the least valuable least often.
    intervals = {t.number: t.visit_interval_days for t in DEFAULT_TYPES}
    assert intervals[1] == min(intervals.values())
    assert intervals[8] == max(intervals.values())


def test_type_number_all_eight_combinations() -> None:
    combos = list(itertools.product([True, False], repeat=3))  # HHH, HHL, ..., LLL
    for expected, (q, p, c) in enumerate(combos, start=1):
        assert int(type_number(q, p, c)) == expected
        assert type_code(expected) == "".join("H" if f else "L" for f in (q, p, c))
    q, p, c = (np.array(col) for col in zip(*combos, strict=True))
    np.testing.assert_array_equal(type_number(q, p, c), np.arange(1, 9))
    # 0/1 numbers are flags too, and scalars broadcast.
    np.testing.assert_array_equal(type_number([1, 0], 1, [0, 0]), [2, 6])


@pytest.mark.parametrize("bad", [[np.nan, 1.0], [2, 0], ["H", "L"]])
def test_type_number_refuses_what_is_not_a_flag(bad: list) -> None:
    with pytest.raises(InputError, match="High/Low flags"):
        type_number(bad, [True, True], [True, True])


def test_type_code() -> None:
    assert [type_code(n) for n in range(1, 9)] == list(CODES)
    assert type_code(np.int64(3)) == "HLH"
    assert type_code(3.0) == "HLH"
    for bad in (0, 9, 2.5, "x", None, True):
        with pytest.raises(InputError, match="1 to 8"):
            type_code(bad)  # type: ignore[arg-type]


def test_abc_class_names() -> None:
    assert dict(ABC_CLASSES) == {"A": "Strategic", "B": "Key", "C": "General"}
    assert pd.Series(["C", "A"]).map(ABC_CLASSES).tolist() == ["General", "Strategic"]


# ----------------------------------------------------------------- the Strategies sheet


def sheet() -> pd.DataFrame:
    """The default Strategies sheet with object cells, as a workbook reader hands it."""
    return strategies_to_table(DEFAULT_TYPES).astype(object)


def test_to_table_columns_and_content() -> None:
    table = strategies_to_table(reversed(DEFAULT_TYPES))
    assert tuple(table.columns) == STRATEGY_COLUMNS
    assert table["Type"].tolist() == list(range(1, 9))
    assert table["Code"].tolist() == list(CODES)
    assert table.loc[0, "Name"] == "Star"
    assert table["VisitIntervalDays"].dtype == np.int64


def test_round_trip_of_the_defaults() -> None:
    types, problems = strategies_from_table(strategies_to_table(DEFAULT_TYPES))
    assert problems == []
    assert types == DEFAULT_TYPES


names = st.text(
    alphabet=st.characters(codec="utf-8", categories=["L", "N", "P", "Zs"]), min_size=1
).filter(lambda s: s.strip() == s and s != "")


@given(
    st.lists(names, min_size=8, max_size=8),
    st.lists(st.integers(min_value=1, max_value=3650), min_size=8, max_size=8),
    st.permutations(range(8)),
)
@settings(max_examples=50, deadline=None)
def test_round_trip_of_edited_types(
    new_names: list[str], intervals: list[int], row_order: list[int]
) -> None:
    edited = tuple(
        CustomerType(t.number, t.code, name, f"Do {name}", f"Team {t.number}", days)
        for t, name, days in zip(DEFAULT_TYPES, new_names, intervals, strict=True)
    )
    table = strategies_to_table(edited).iloc[list(row_order)].reset_index(drop=True)
    types, problems = strategies_from_table(table)
    assert problems == []
    assert types == edited


def test_edited_values_are_taken_and_text_numbers_accepted() -> None:
    df = sheet()
    df.loc[0, "VisitIntervalDays"] = "7"  # typed as text
    df.loc[1, "VisitIntervalDays"] = 60.0  # Excel hands numbers as float
    df.loc[2, "Name"] = "Cash cow"
    df.loc[3, "Code"] = " hll "  # case and spaces do not matter
    df.columns = [" type", "CODE", "Name", "Strategy", "Owner", "visitintervaldays"]
    types, problems = strategies_from_table(df)
    assert problems == []
    assert types[0].visit_interval_days == 7
    assert types[1].visit_interval_days == 60
    assert types[2].name == "Cash cow"


@pytest.mark.parametrize("bad", ["two weeks", 0, -5, 14.5, None, "", True, np.nan])
def test_bad_interval_falls_back_with_its_cell(bad: object) -> None:
    df = sheet()
    df.loc[1, "VisitIntervalDays"] = bad
    df.loc[1, "Name"] = "Sleeper"
    types, problems = strategies_from_table(df)
    assert len(problems) == 1
    (problem,) = problems
    assert problem.severity == "warning"
    assert (problem.sheet, problem.cell) == ("Strategies", "F3")  # type 2 sits in row 3
    assert "positive whole number" in problem.message
    assert types[1].visit_interval_days == DEFAULT_TYPES[1].visit_interval_days
    assert types[1].name == "Sleeper"  # the rest of the row is kept


def test_header_row_moves_the_addresses() -> None:
    df = sheet()
    df.loc[7, "VisitIntervalDays"] = -1
    _, problems = strategies_from_table(df, sheet="Plan", header_row=4)
    assert [(p.sheet, p.cell) for p in problems] == [("Plan", "F12")]


def test_blank_texts_fall_back() -> None:
    df = sheet()
    df.loc[4, "Name"] = "  "
    df.loc[5, "Strategy"] = None
    df.loc[6, "Owner"] = np.nan
    types, problems = strategies_from_table(df)
    assert [p.cell for p in problems] == ["C6", "D7", "E8"]
    assert types[4].name == DEFAULT_TYPES[4].name
    assert types[5].strategy == DEFAULT_TYPES[5].strategy
    assert types[6].owner == DEFAULT_TYPES[6].owner


def test_code_that_does_not_match_the_number() -> None:
    df = sheet()
    df.loc[2, "Code"] = "HLL"
    df.loc[2, "Name"] = "Mine"
    types, problems = strategies_from_table(df)
    assert [p.cell for p in problems] == ["B4"]
    assert "does not match type 3" in problems[0].message
    assert types[2].code == "HLH"  # the number decides
    assert types[2].name == "Mine"


def test_bad_duplicate_and_missing_types() -> None:
    df = sheet()
    df.loc[3, "Type"] = 9  # type 4's row now names no type
    df.loc[5, "Type"] = "five"
    extra = df.iloc[[0]].copy()
    extra["Name"] = "Second star"
    blank = pd.DataFrame([[None] * 6], columns=df.columns)
    df = pd.concat([df, blank, extra], ignore_index=True)  # blank row 10, repeat in row 11
    types, problems = strategies_from_table(df)
    assert [(p.cell, p.severity) for p in problems] == [
        ("A5", "warning"),
        ("A7", "warning"),
        ("A11", "warning"),
        (None, "warning"),
        (None, "warning"),
    ]
    assert "first in row 2" in problems[2].message
    assert "type 4 (HLL) has no row" in problems[3].message
    assert "type 6 (LHL) has no row" in problems[4].message
    assert types[0].name == "Star"  # the first row of a type wins
    assert types[3] == DEFAULT_TYPES[3]
    assert types[5] == DEFAULT_TYPES[5]
    assert [t.number for t in types] == list(range(1, 9))


def test_missing_columns() -> None:
    df = sheet().drop(columns=["Owner"])
    df.loc[0, "Name"] = "Champion"
    types, problems = strategies_from_table(df)
    assert [(p.cell, "'Owner'" in p.message) for p in problems] == [("1:1", True)]
    assert types[0].name == "Champion"
    assert [t.owner for t in types] == [t.owner for t in DEFAULT_TYPES]

    types, problems = strategies_from_table(sheet().drop(columns=["Type"]))
    assert types == DEFAULT_TYPES
    assert len(problems) == 1 and "'Type' is missing" in problems[0].message


def test_empty_sheet_gives_the_defaults_with_warnings() -> None:
    types, problems = strategies_from_table(pd.DataFrame(columns=list(STRATEGY_COLUMNS)))
    assert types == DEFAULT_TYPES
    assert len(problems) == 8


def test_types_by_number() -> None:
    assert types_by_number(DEFAULT_TYPES)[7].code == "LLH"
