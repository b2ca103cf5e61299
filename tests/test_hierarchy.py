"""The indicator hierarchy: defaults, validation, and the Indicators sheet table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from xlcrm import schema
from xlcrm.errors import InputError
from xlcrm.value.ahp import ahp, hierarchy_weights
from xlcrm.value.hierarchy import (
    TABLE_COLUMNS,
    Hierarchy,
    Indicator,
    Params,
    default_hierarchy,
    default_judgments,
    format_parameters,
    hierarchy_from_table,
    hierarchy_to_table,
    parse_number,
    parse_parameters,
    quick_indicator,
)

GROUPS = ("Qualification", "Potential", "Contribution")


def ind(group: str, name: str, method: str = "percentile", **kw) -> Indicator:
    kind = "qualitative" if method == "rubric" else "quantitative"
    return Indicator(group, name, kw.pop("column", name), kind, method, **kw)


def small(groups: int = 2, per_group: int = 2) -> Hierarchy:
    return Hierarchy(
        tuple(ind(f"G{g}", f"I{g}_{k}") for g in range(groups) for k in range(per_group))
    )


# --------------------------------------------------------------------------- defaults


def test_default_hierarchy_is_the_design_template() -> None:
    h = default_hierarchy()
    assert h.groups == GROUPS
    assert {g: len(v) for g, v in h.by_group.items()} == dict.fromkeys(GROUPS, 4)
    assert h.columns == schema.DEFAULT_INDICATOR_COLUMNS
    assert h.names == (
        "Operating status",
        "Company scale",
        "Equipment value",
        "Credit standing",
        "Purchase growth",
        "Industry outlook",
        "Wallet headroom",
        "Satisfaction",
        "Sales revenue",
        "Gross profit",
        "Unit profit",
        "Payment timeliness",
    )
    kinds = {i.column: (i.kind, i.method, i.direction) for i in h.indicators}
    assert kinds["OperatingStatus"] == ("qualitative", "rubric", "benefit")
    assert kinds["CreditRating"][1] == "rubric"
    assert kinds["IndustryOutlook"][1] == "rubric"
    assert kinds["DaysToPay"] == ("quantitative", "percentile", "cost")
    assert kinds["Satisfaction"][1] == "minmax"
    assert h.indicator("Satisfaction").lower == 1 and h.indicator("Satisfaction").upper == 5
    assert list(h.indicator("Credit standing").labels) == ["AAA", "AA", "A", "BBB", "BB", "B", "C"]
    nonneg = {i.column for i in h.indicators if i.nonnegative}
    assert {"Employees", "EquipmentValue", "Revenue12m", "DaysToPay"} <= nonneg
    # Profit can be negative for a loss-making account; growth for a shrinking one.
    assert not nonneg & {"GrossProfit12m", "UnitProfit", "PurchaseGrowth"}


def test_default_judgments_are_reciprocal_saaty_and_consistent() -> None:
    judgments = default_judgments()
    assert set(judgments) == {"groups", *GROUPS}
    saaty = {float(v) for v in range(1, 10)} | {1 / v for v in range(2, 10)}
    for name, a in judgments.items():
        n = 3 if name == "groups" else 4
        assert a.shape == (n, n)
        np.testing.assert_allclose(a * a.T, np.ones((n, n)))
        upper = a[np.triu_indices(n, 1)]
        assert all(any(np.isclose(x, s) for s in saaty) for x in upper)
        result = ahp(a)
        assert result.cr < 0.10, name
    group_w = ahp(judgments["groups"]).weights
    # Contribution matters most, then potential, then qualification.
    assert group_w[2] > group_w[1] > group_w[0]
    # The most important indicator of each group, as the docstring argues.
    h = default_hierarchy()
    top = {g: h.by_group[g][int(np.argmax(ahp(judgments[g]).weights))].name for g in GROUPS}
    assert top == {
        "Qualification": "Credit standing",
        "Potential": "Wallet headroom",
        "Contribution": "Gross profit",
    }


def test_default_judgments_give_hierarchy_weights() -> None:
    h = default_hierarchy()
    j = default_judgments()
    w = hierarchy_weights(
        j["groups"],
        h.groups,
        {g: j[g] for g in h.groups},
        {g: [i.name for i in h.by_group[g]] for g in h.groups},
    )
    assert list(w.table["Indicator"]) == list(h.names)
    assert w.table["GlobalWeight"].sum() == pytest.approx(1.0)


# --------------------------------------------------------------------------- validation


def test_indicator_and_params_are_frozen_and_hashable() -> None:
    a = ind("G", "X", "rubric", params={"labels": {"Good": 100, "Bad": 0}})
    b = ind("G", "X", "rubric", params={"labels": {"Good": 100.0, "Bad": 0.0}})
    assert a == b and hash(a) == hash(b)
    assert isinstance(a.params, Params) and isinstance(a.params["labels"], Params)
    with pytest.raises(AttributeError):
        a.name = "Y"  # type: ignore[misc]
    assert len({a, b}) == 1


def test_indicator_names_are_trimmed() -> None:
    assert ind(" G ", "  X ").name == "X"


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        (dict(kind="qualitative", method="minmax"), "cannot use method minmax"),
        (dict(kind="quantitative", method="rubric", params={"labels": {"A": 1}}), "rubric"),
        (dict(method="zscore"), "method 'zscore' is not known"),
        (dict(direction="up"), "direction 'up' is not known"),
        (dict(method="minmax", params={"lower": 5, "upper": 5}), "upper (5) is not above lower"),
        (dict(method="minmax", params={"uper": 5}), "uper does not apply to method minmax"),
        (dict(method="bands", params={"thresholds": (1, 0), "points": (0, 1, 2)}), "increasing"),
        (dict(method="bands", params={"thresholds": (0,), "points": (0,)}), "need 2 points"),
        (dict(method="bands", params={"thresholds": (0,), "points": (0, 120)}), "0 to 100"),
        (
            dict(kind="qualitative", method="rubric", params={"labels": {"Good": 1, "good ": 2}}),
            "listed twice",
        ),
        (dict(kind="qualitative", method="rubric"), "needs its labels"),
        (dict(name=" "), "Indicator is blank"),
    ],
)
def test_invalid_indicator_is_refused_with_reason(kwargs: dict, fragment: str) -> None:
    fields = dict(group="G", name="X", column="C", kind="quantitative", method="percentile")
    fields.update(kwargs)
    with pytest.raises(InputError) as err:
        Indicator(**fields)
    assert fragment in str(err.value)
    assert all(p.fix for p in err.value.problems)


def test_hierarchy_structure_rules() -> None:
    assert small(2, 1).groups == ("G0", "G1")
    small(9, 15)  # the largest allowed
    with pytest.raises(InputError, match="1 group"):
        small(1, 3)
    with pytest.raises(InputError, match="10 group"):
        small(10, 1)
    with pytest.raises(InputError, match="16 indicators"):
        small(2, 16)
    with pytest.raises(InputError, match="used twice"):
        Hierarchy((ind("A", "X"), ind("B", "x")))
    with pytest.raises(InputError, match="clashes"):
        Hierarchy((ind("A", "B"), ind("B", "Y")))
    with pytest.raises(InputError, match="clashes"):
        Hierarchy((ind("A", "Value"), ind("B", "Y")))
    with pytest.raises(InputError, match="differ only in case"):
        Hierarchy((ind("A", "X"), ind("a", "Y"), ind("B", "Z")))


def test_groups_in_first_appearance_order() -> None:
    h = Hierarchy((ind("B", "b1"), ind("A", "a1"), ind("B", "b2")))
    assert h.groups == ("B", "A")
    assert [i.name for i in h.by_group["B"]] == ["b1", "b2"]


# --------------------------------------------------------------------------- parameters


@pytest.mark.parametrize(
    ("text", "method", "expected"),
    [
        ("Excellent=100; Good=75", "rubric", {"labels": {"Excellent": 100, "Good": 75}}),
        ("Excellent: 100\nGood : 75;", "rubric", {"labels": {"Excellent": 100, "Good": 75}}),
        ("lower = 1 ; UPPER=5", "minmax", {"lower": 1, "upper": 5}),
        ("min=1; max=5", "minmax", {"lower": 1, "upper": 5}),
        ("nonnegative=Yes", "percentile", {"nonnegative": True}),
        ("", "percentile", {}),
        (None, "minmax", {}),
        (
            "<0: 0; <5%: 40; <0.15: 70; else: 100",
            "bands",
            {"thresholds": (0, 0.05, 0.15), "points": (0, 40, 70, 100)},
        ),
        (
            "< -10 = 0\n<1,000 = 50\nOtherwise = 100\nnonnegative=no",
            "bands",
            {"thresholds": (-10, 1000), "points": (0, 50, 100), "nonnegative": False},
        ),
    ],
)
def test_parameters_syntax_is_forgiving(text, method: str, expected: dict) -> None:
    params, errors = parse_parameters(text, method)
    assert errors == []
    assert params == Params(expected)


@pytest.mark.parametrize(
    ("text", "method", "fragment"),
    [
        ("uper=5", "minmax", "allowed: lower, upper, nonnegative"),
        ("lower=one", "minmax", "not a number"),
        ("<=0: 10; else: 20", "bands", "a value equal to a threshold falls in the band above"),
        ("<0: 10", "bands", "else: points"),
        (">0: 10; else: 5", "bands", "'<threshold: points' and 'else: points'"),
        ("Good=high", "rubric", "not a number"),
        ("Good", "rubric", "no '='"),
        ("nonnegative=maybe", "percentile", "nonnegative=yes"),
    ],
)
def test_parameters_errors_say_what_to_write(text: str, method: str, fragment: str) -> None:
    _, errors = parse_parameters(text, method)
    assert errors and fragment in " ".join(errors)


def test_format_parameters_canonical_text() -> None:
    h = default_hierarchy()
    assert h.indicator("Operating status").parameters_text == (
        "Excellent=100; Good=75; Fair=50; Poor=20"
    )
    assert h.indicator("Purchase growth").parameters_text == (
        "<-0.1: 0; <0: 25; <0.05: 50; <0.15: 75; else: 100"
    )
    assert h.indicator("Satisfaction").parameters_text == "lower=1; upper=5"
    assert h.indicator("Sales revenue").parameters_text == "nonnegative=yes"
    assert h.indicator("Gross profit").parameters_text == ""


finite = st.floats(-1e9, 1e9, allow_nan=False, allow_infinity=False)
points = st.floats(0, 100, allow_nan=False)


@given(
    st.lists(finite, min_size=1, max_size=8, unique=True),
    st.data(),
    st.booleans(),
)
def test_bands_text_round_trips(thresholds: list[float], data, nonneg: bool) -> None:
    thresholds = sorted(thresholds)
    pts = data.draw(st.lists(points, min_size=len(thresholds) + 1, max_size=len(thresholds) + 1))
    params = Params({"thresholds": thresholds, "points": pts, "nonnegative": nonneg})
    back, errors = parse_parameters(format_parameters("bands", params), "bands")
    assert errors == []
    assert back["thresholds"] == params["thresholds"]
    assert back["points"] == params["points"]
    assert back.get("nonnegative", False) == nonneg


label_text = (
    st.text(
        st.characters(whitelist_categories=("L", "N"), whitelist_characters=" -/&"),
        min_size=1,
        max_size=12,
    )
    .map(str.strip)
    .filter(bool)
)


@given(st.dictionaries(label_text, points, min_size=1, max_size=8))
def test_rubric_text_round_trips(labels: dict[str, float]) -> None:
    keys = [" ".join(k.split()).casefold() for k in labels]
    if len(set(keys)) < len(keys):
        return  # case-insensitive duplicates are refused elsewhere
    text = format_parameters("rubric", {"labels": labels})
    back, errors = parse_parameters(text, "rubric")
    assert errors == []
    assert list(back["labels"].items()) == [(k, float(v)) for k, v in labels.items()]


@given(finite)
def test_parse_number_reads_the_shortest_text_back(x: float) -> None:
    from xlcrm.value.hierarchy import _fmt

    assert parse_number(_fmt(x)) == x


@pytest.mark.parametrize(
    ("text", "value"),
    [
        (" 35 ", 35.0),
        ("1,200", 1200.0),
        ("1,234,567.5", 1234567.5),
        ("1 200", 1200.0),
        ("1\u00a0200", 1200.0),
        ("+3", 3.0),
        ("5%", 0.05),
        ("12.5 %", 0.125),
        ("1e3", 1000.0),
        (".5", 0.5),
        (7, 7.0),
        ("1,5", None),
        ("12,34", None),
        ("1,200,00", None),
        ("abc", None),
        ("", None),
        ("inf", None),
        ("nan", None),
        (True, None),
        (None, None),
        ("１２", None),
    ],
)
def test_parse_number(text, value) -> None:
    assert parse_number(text) == value


# --------------------------------------------------------------------------- the table


def test_default_hierarchy_round_trips_through_the_table() -> None:
    h = default_hierarchy()
    table = hierarchy_to_table(h)
    assert tuple(table.columns) == TABLE_COLUMNS
    assert len(table) == 12
    back, problems = hierarchy_from_table(table)
    assert problems == []
    assert back == h
    assert hierarchy_to_table(back).equals(table)


def test_table_reading_is_forgiving() -> None:
    table = pd.DataFrame(
        [
            [" Money ", "Revenue", "Revenue12m", None, "Min-Max", "Higher is better", None],
            [None, "Days", "DaysToPay", "", "percentile rank", "lower is better", "nonnegative=1"],
            [None, None, None, None, None, None, None],
            ["Profile", "Outlook", "IndustryOutlook", "Qual", "RUBRIC", None, "Up: 100; Down: 0"],
            ["Profile", "Growth", "PurchaseGrowth", "quantitative", "band", "", "<0: 0; else: 100"],
        ],
        columns=["group", "Indicator ", "COLUMN", "Type", "Method", "Direction", "Parameters"],
    )
    h, problems = hierarchy_from_table(table)
    assert problems == []
    assert h.groups == ("Money", "Profile")
    days = h.indicator("Days")
    assert (days.group, days.method, days.direction, days.nonnegative) == (
        "Money",
        "percentile",
        "cost",
        True,
    )
    assert h.indicator("Revenue").kind == "quantitative"
    assert h.indicator("Outlook").labels == {"Up": 100, "Down": 0}
    assert h.indicator("Growth").points == (0, 100)


def test_bad_rows_are_reported_with_their_cells_and_left_out() -> None:
    table = hierarchy_to_table(default_hierarchy())
    table.loc[1, "Method"] = "zscore"  # sheet row 3, Method is column E
    table.loc[7, "Parameters"] = "lower=1; uper=5"  # sheet row 9, column G
    table.loc[4, "Type"] = "qualitative"  # bands on a qualitative indicator: row 6, column D
    h, problems = hierarchy_from_table(table)
    assert [p.where for p in problems] == ["Indicators!E3", "Indicators!D6", "Indicators!G9"]
    assert all(p.severity == "error" for p in problems)
    assert "zscore" in problems[0].message and "minmax" in problems[0].fix
    assert "left out until fixed" in problems[0].fix
    assert "uper" in problems[2].message and "allowed: lower, upper" in problems[2].message
    assert len(h.indicators) == 9
    assert "Company scale" not in h.names


def test_header_row_and_first_col_shift_addresses() -> None:
    table = hierarchy_to_table(default_hierarchy())
    table.loc[0, "Column"] = None
    _, problems = hierarchy_from_table(table, sheet="Setup", header_row=4, first_col=1)
    assert [p.where for p in problems] == ["Setup!D5"]


def test_missing_header_raises() -> None:
    table = hierarchy_to_table(default_hierarchy()).drop(columns="Method")
    with pytest.raises(InputError) as err:
        hierarchy_from_table(table)
    assert err.value.problems[0].where == "Indicators!1:1"
    assert "Method" in err.value.problems[0].message


def test_structural_trouble_raises_with_every_problem() -> None:
    table = hierarchy_to_table(default_hierarchy())
    table.loc[5, "Indicator"] = "purchase GROWTH"  # duplicate of row 6's name
    table.loc[0, "Method"] = "?"  # a row problem, also carried
    with pytest.raises(InputError) as err:
        hierarchy_from_table(table)
    where = [p.where for p in err.value.problems]
    assert "Indicators!E2" in where
    assert "Indicators!B7" in where  # the second use of the name
    one_group = hierarchy_to_table(default_hierarchy())
    one_group["Group"] = "All"
    with pytest.raises(InputError, match="1 group"):
        hierarchy_from_table(one_group)
    with pytest.raises(InputError, match="no indicators"):
        hierarchy_from_table(one_group.iloc[:0])


def test_quick_indicator_for_worksheet_functions() -> None:
    i = quick_indicator("Min-Max", "lower=0; upper=10", "cost")
    assert (i.method, i.direction, i.lower, i.upper) == ("minmax", "cost", 0, 10)
    assert quick_indicator("rubric", "A=1; B=2").kind == "qualitative"
    assert quick_indicator("bands", "<1: 0; else: 100", None).direction == "benefit"
    with pytest.raises(InputError, match="zscore"):
        quick_indicator("zscore")
    with pytest.raises(InputError, match="uper"):
        quick_indicator("minmax", "uper=3")
