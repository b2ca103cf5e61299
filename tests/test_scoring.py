"""Indicator scoring, missing-value policies and the composite value score."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy.stats import rankdata

from xlcrm.errors import InputError
from xlcrm.value.ahp import hierarchy_weights
from xlcrm.value.hierarchy import Hierarchy, Indicator, default_hierarchy, default_judgments
from xlcrm.value.scoring import (
    MISSING_POLICIES,
    apply_missing_policy,
    parse_numeric,
    percentile_rank,
    score_customers,
    score_values,
    tie_ranks,
)


def quant(method: str = "minmax", direction: str = "benefit", name: str = "X", **params):
    return Indicator("G", name, name, "quantitative", method, direction, params)


def rubric(labels: dict[str, float], name: str = "R") -> Indicator:
    return Indicator("G", name, name, "qualitative", "rubric", params={"labels": labels})


def nan_equal(a, b) -> None:
    np.testing.assert_allclose(np.asarray(a, float), np.asarray(b, float), atol=1e-9)


# --------------------------------------------------------------------------- methods


def test_minmax_benefit_and_cost() -> None:
    r = score_values([10, 20, None, 40], quant())
    nan_equal(r.scores, [0, 100 / 3, np.nan, 100])
    assert r.missing.tolist() == [False, False, True, False]
    assert r.invalid.tolist() == [False] * 4
    assert r.issues == []
    nan_equal(score_values([10, 20, None, 40], quant(direction="cost")).scores,
              [100, 200 / 3, np.nan, 0])  # fmt: skip


def test_minmax_fixed_scale_clips_and_warns() -> None:
    r = score_values([1, 3, 5, 7, 0.5], quant(lower=1, upper=5))
    nan_equal(r.scores, [0, 50, 100, 100, 0])
    assert [(i.row, i.severity) for i in r.issues] == [(3, "warning"), (4, "warning")]
    assert "7 is outside the scale 1 to 5" in r.issues[0].message
    assert not r.missing.any()


def test_minmax_one_fixed_end() -> None:
    r = score_values([0, 5, 10], quant(lower=0, direction="cost"))
    nan_equal(r.scores, [100, 50, 0])


def test_all_equal_values_score_50_with_a_warning() -> None:
    for method in ("minmax", "percentile"):
        for direction in ("benefit", "cost"):
            r = score_values([3, 3, None, 3], quant(method, direction))
            nan_equal(r.scores, [50, 50, np.nan, 50])
            assert [(i.row, i.severity) for i in r.issues] == [(None, "warning")]
            assert "cannot tell customers apart" in r.issues[0].message


def test_percentile_with_ties() -> None:
    # Ranks 1, 2.5, 2.5, 4 -> (rank - 1) / 3 * 100.
    nan_equal(score_values([10, 20, 20, 30], quant("percentile")).scores, [0, 50, 50, 100])
    nan_equal(
        score_values([10, 20, 20, None, 30], quant("percentile", "cost")).scores,
        [100, 50, 50, np.nan, 0],
    )
    # One value alone: the middle of the scale, and nothing to warn about.
    for method in ("percentile", "minmax"):
        one = score_values([7.0, None], quant(method))
        nan_equal(one.scores, [50, np.nan])
        assert one.issues == []


def test_percentile_matches_excel_percentrank_inc_without_ties() -> None:
    x = np.array([5.0, 1.0, 9.0, 3.0, 7.0])
    below = np.array([(x < v).sum() for v in x])
    nan_equal(score_values(x, quant("percentile")).scores, below / (x.size - 1) * 100)


def test_bands_boundaries_fall_in_the_band_above() -> None:
    i = quant("bands", thresholds=(0, 0.05, 0.15), points=(0, 40, 70, 100))
    r = score_values([-0.01, 0, 0.0499, 0.05, 0.1499, 0.15, 2, None, "12%"], i)
    nan_equal(r.scores, [0, 40, 40, 70, 70, 100, 100, np.nan, 70])


def test_bands_ignore_direction() -> None:
    params = dict(thresholds=(30, 60), points=(100, 50, 0))
    x = [10, 45, 90]
    nan_equal(score_values(x, quant("bands", "cost", **params)).scores, [100, 50, 0])
    nan_equal(score_values(x, quant("bands", "benefit", **params)).scores, [100, 50, 0])


def test_rubric_matches_ignoring_case_and_spaces() -> None:
    i = rubric({"Excellent": 100, "Good": 75, "Very good": 90, "3": 30})
    values = ["Excellent", " good ", "EXCELLENT", "very   GOOD", "\tGood\n", 3, 3.0, "3", None, ""]
    r = score_values(values, i)
    nan_equal(r.scores, [100, 75, 100, 90, 75, 30, 30, 30, np.nan, np.nan])
    assert r.missing.tolist() == [False] * 8 + [True, True]
    assert not r.invalid.any() and r.issues == []


def test_unknown_label_lists_the_allowed_labels() -> None:
    r = score_values(["Good", "Excelent", None], rubric({"Excellent": 100, "Good": 75}))
    nan_equal(r.scores, [75, np.nan, np.nan])
    assert r.invalid.tolist() == [False, True, False]
    assert r.missing.tolist() == [False, True, True]
    (issue,) = r.issues
    assert issue.row == 1 and issue.severity == "error"
    assert issue.message == "'Excelent' is not one of the labels Excellent, Good"
    assert "Type one of: Excellent, Good" in issue.fix


# --------------------------------------------------------------------------- reading numbers


def test_numbers_as_text_are_read_and_bad_text_is_not_zero() -> None:
    values = pd.Series(
        [" 35 ", "1,200", "12%", "1 200", None, "", "  ", "abc", "1,5", True, date(2024, 1, 2),
         float("inf"), 7, 2.5, "-3", "nan"],
        dtype=object,
    )  # fmt: skip
    x, blank, reason = parse_numeric(values)
    nan_equal(x[:4], [35, 1200, 0.12, 1200])
    assert blank.tolist() == [False] * 4 + [True] * 3 + [False] * 9
    assert np.isnan(x[7:12]).all()
    assert (reason[7:12] != 0).all() and reason[15] != 0
    nan_equal(x[12:15], [7, 2.5, -3])
    assert (reason[:7] == 0).all() and (reason[12:15] == 0).all()


@pytest.mark.parametrize(
    "values",
    [
        pd.Series(["1,200", None, "35"], dtype="str"),
        pd.Series(["1,200", None, "35"], dtype=object),
        pd.Series([1200, None, 35], dtype="Int64"),
        pd.Series([1200.0, np.nan, 35.0]),
        np.array([1200.0, np.nan, 35.0]),
        [1200, None, "35"],
    ],
)
def test_column_types_a_reader_may_produce(values) -> None:
    r = score_values(values, quant())
    nan_equal(r.scores, [100, np.nan, 0])
    assert r.missing.tolist() == [False, True, False]
    assert r.issues == []


def test_issue_messages_for_bad_numbers() -> None:
    r = score_values(["abc", "1,5", True, -4, float("inf")], quant(nonnegative=True))
    messages = {i.row: i.message for i in r.issues}
    assert messages[0] == "'abc' is not a number"
    assert "comma" in messages[1] and "1.5" in r.issues[1].fix
    assert messages[2] == "TRUE is not a number"
    assert "impossible negative" in messages[3]
    assert "not a finite number" in messages[4]
    assert r.invalid.all() and np.isnan(r.scores).all()


def test_max_issues_summarises_the_rest() -> None:
    r = score_values(["a", "b", "c", "d", 1.0, 2.0], quant(), max_issues=2)
    assert [i.row for i in r.issues] == [0, 1, None]
    assert "2 more unusable values" in r.issues[-1].message


# --------------------------------------------------------------------------- missing policies


def test_apply_missing_policy() -> None:
    scores = np.array([0.0, 100.0, np.nan, 40.0])
    missing = np.isnan(scores)
    filled, fill = apply_missing_policy(scores, missing, "median")
    nan_equal(filled, [0, 100, 40, 40])
    assert fill == 40
    nan_equal(apply_missing_policy(scores, missing, "zero")[0], [0, 100, 0, 40])
    filled, fill = apply_missing_policy(scores, missing, "exclude")
    nan_equal(filled, scores)
    assert math.isnan(fill)
    # No value at all: the median policy has nothing to take the median of.
    assert apply_missing_policy(np.full(3, np.nan), np.ones(3, bool), "median")[1] == 50
    with pytest.raises(InputError, match="mean"):
        apply_missing_policy(scores, missing, "mean")


def two_groups() -> tuple[Hierarchy, dict[str, float], dict[str, float]]:
    h = Hierarchy(
        (
            Indicator("A", "a1", "C_a1", "quantitative", "minmax"),
            Indicator("A", "a2", "C_a2", "quantitative", "minmax"),
            Indicator("B", "b1", "C_b1", "quantitative", "minmax"),
        )
    )
    return h, {"a1": 0.5, "a2": 0.5, "b1": 1.0}, {"A": 0.6, "B": 0.4}


def ledger() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "CustomerID": ["c0", "c1", "c2"],
            "C_a1": [0, 10, None],  # scores 0, 100, missing
            "C_a2": [0, 5, 10],  # 0, 50, 100
            "C_b1": [1, 2, 3],  # 0, 50, 100
        },
        index=[10, 11, 12],
    )


@pytest.mark.parametrize(
    ("policy", "a1_fill", "group_a", "value"),
    [
        # c2: a1 = median(0, 100) = 50 -> A = .5*50 + .5*100 = 75; value = .6*75 + .4*100.
        ("median", 50.0, [0, 75, 75], [0, 65, 85]),
        # a1 = 0 -> A = 50; value = .6*50 + .4*100.
        ("zero", 0.0, [0, 75, 50], [0, 65, 70]),
        # a1 left out, a2's weight rescaled to 1 -> A = 100; value = .6*100 + .4*100.
        ("exclude", math.nan, [0, 75, 100], [0, 65, 100]),
    ],
)
def test_every_missing_policy_known_result(policy, a1_fill, group_a, value) -> None:
    h, local, groups = two_groups()
    r = score_customers(ledger(), h, local, groups, missing=policy)
    assert list(r.value.index) == [10, 11, 12]
    nan_equal(r.group_scores["A"], group_a)
    nan_equal(r.group_scores["B"], [0, 50, 100])
    nan_equal(r.value, value)
    assert r.imputed["a1"].tolist() == [False, False, True]
    assert not r.imputed[["a2", "b1"]].to_numpy().any()
    assert r.imputed_count.tolist() == [0, 0, 1]
    nan_equal([r.fill_values["a1"]], [a1_fill])
    nan_equal([r.indicator_scores.loc[12, "a1"]], [a1_fill])
    assert r.rank.tolist() == [3, 2, 1]
    nan_equal(r.percentile, [0, 50, 100])
    nan_equal(r.global_weights, [0.3, 0.3, 0.4])
    assert r.missing_policy == policy
    (summary,) = r.problems
    assert summary.severity == "warning" and summary.where == "Customers!B:B"
    assert "1 of 3 customers have no usable value" in summary.message


def test_exclude_a_whole_group_rescales_the_group_weights() -> None:
    h, local, groups = two_groups()
    df = ledger()
    df["C_a1"] = [0, 10, None]
    df["C_a2"] = [0, 5, None]
    df["C_b1"] = [1, 2, None]
    df.loc[len(df) + 10] = ["c3", None, 10, 3]  # no a1; a2 = 100; b1 = 100
    r = score_customers(df, h, local, groups, missing="exclude")
    # c2 has nothing: no group score, no value, no rank.
    assert np.isnan(r.group_scores.iloc[2]).all() and np.isnan(r.value.iloc[2])
    assert r.rank.isna().tolist() == [False, False, True, False]
    assert r.imputed_count.tolist() == [0, 0, 3, 1]
    nan_equal(r.value.iloc[[0, 1, 3]], [0, 65, 100])
    nan_equal(r.percentile, [0, 50, np.nan, 100])
    df.loc[len(df) + 10] = ["c4", 0, 0, None]  # no b1: value over A alone
    r = score_customers(df, h, local, groups, missing="exclude")
    nan_equal([r.value.iloc[4], r.group_scores.iloc[4]["A"]], [0, 0])
    assert np.isnan(r.group_scores.iloc[4]["B"])


def test_ties_share_the_best_rank() -> None:
    h, local, groups = two_groups()
    df = pd.DataFrame({"C_a1": [1, 2, 2, 3], "C_a2": [1, 2, 2, 3], "C_b1": [1, 2, 2, 3]})
    r = score_customers(df, h, local, groups)
    assert r.rank.tolist() == [4, 2, 2, 1]
    assert r.rank.dtype == "Int64"
    nan_equal(r.percentile, [0, 50, 50, 100])


# --------------------------------------------------------------------------- problems


def default_ledger(n: int = 6) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame(
        {
            "CustomerID": [f"C{k}" for k in range(n)],
            "Name": "n",
            "OperatingStatus": ["Good"] * n,
            "Employees": rng.integers(1, 100, n).astype(object),
            "EquipmentValue": rng.random(n) * 1e5,
            "CreditRating": ["AA"] * n,
            "PurchaseGrowth": rng.normal(0, 0.1, n),
            "IndustryOutlook": ["Stable"] * n,
            "WalletHeadroom": rng.random(n) * 1e4,
            "Satisfaction": rng.integers(1, 6, n),
            "Revenue12m": rng.random(n) * 1e6,
            "GrossProfit12m": rng.normal(1e5, 5e4, n),
            "UnitProfit": rng.normal(100, 50, n),
            "DaysToPay": rng.integers(10, 90, n),
        }
    )


def default_weights() -> tuple[dict[str, float], dict[str, float]]:
    h = default_hierarchy()
    j = default_judgments()
    w = hierarchy_weights(
        j["groups"],
        h.groups,
        {g: j[g] for g in h.groups},
        {g: [i.name for i in h.by_group[g]] for g in h.groups},
    )
    local = dict(zip(w.table["Indicator"], w.table["LocalWeight"], strict=True))
    groups = dict(zip(w.table["Group"], w.table["GroupWeight"], strict=False))
    return local, groups


def test_text_in_numeric_column_is_reported_with_its_cell() -> None:
    df = default_ledger()
    df["PurchaseGrowth"] = df["PurchaseGrowth"].astype(object)
    df.loc[3, "PurchaseGrowth"] = "abc"  # column G, data row 3 -> sheet row 5
    r = score_customers(df, default_hierarchy(), *default_weights())
    errors = [p for p in r.problems if p.severity == "error"]
    assert [p.where for p in errors] == ["Customers!G5"]
    assert "Purchase growth (PurchaseGrowth), customer C3: 'abc' is not a number" in str(errors[0])
    assert r.imputed.loc[3, "Purchase growth"]
    assert r.imputed_count[3] == 1
    # The bad value is imputed (median), not read as zero or as the worst band.
    assert r.indicator_scores.loc[3, "Purchase growth"] == r.fill_values["Purchase growth"]
    warning = [p for p in r.problems if p.severity == "warning"]
    assert [p.where for p in warning] == ["Customers!G:G"]


def test_impossible_negative_money_is_reported_but_negative_profit_is_not() -> None:
    df = default_ledger()
    df.loc[2, "Revenue12m"] = -500.0  # column K, sheet row 4
    df.loc[1, "Employees"] = -3  # column D, sheet row 3
    df.loc[4, "DaysToPay"] = -1  # column N, sheet row 6
    df.loc[0, "GrossProfit12m"] = -2000.0  # allowed: a loss-making account
    r = score_customers(df, default_hierarchy(), *default_weights(), header_row=1)
    errors = {p.where: p for p in r.problems if p.severity == "error"}
    assert set(errors) == {"Customers!K4", "Customers!D3", "Customers!N6"}
    assert "impossible negative" in errors["Customers!K4"].message
    assert r.imputed.loc[2, "Sales revenue"] and not r.imputed.loc[0, "Gross profit"]


def test_header_row_and_first_col_shift_cells() -> None:
    df = default_ledger()
    df["Employees"] = df["Employees"].astype(object)
    df.loc[0, "Employees"] = "lots"
    r = score_customers(df, default_hierarchy(), *default_weights(), header_row=3, first_col=1)
    assert [p.where for p in r.problems if p.severity == "error"] == ["Customers!E4"]


def test_missing_ledger_column_is_one_error_and_all_flagged() -> None:
    df = default_ledger().drop(columns="Satisfaction")
    for policy in MISSING_POLICIES:
        r = score_customers(df, default_hierarchy(), *default_weights(), missing=policy)
        errors = [p for p in r.problems if p.severity == "error"]
        assert len(errors) == 1
        assert "'Satisfaction'" in errors[0].message and "Add a column" in errors[0].fix
        assert errors[0].where == "Customers!1:1"
        assert r.imputed["Satisfaction"].all()
        assert (r.imputed_count == 1).all()
        assert not r.value.isna().any()
    r = score_customers(df, default_hierarchy(), *default_weights(), missing="zero")
    assert (r.indicator_scores["Satisfaction"] == 0).all()


def test_many_bad_cells_are_summarised() -> None:
    df = default_ledger(20)
    df["Employees"] = "n/a"
    r = score_customers(df, default_hierarchy(), *default_weights(), max_cell_problems=3)
    scale = [p for p in r.problems if p.where.startswith("Customers!D")]
    assert [p.where for p in scale] == [
        "Customers!D2",
        "Customers!D3",
        "Customers!D4",
        "Customers!D:D",
        "Customers!D:D",
    ]
    assert "17 more unusable values" in scale[3].message


def test_weights_must_match_the_hierarchy() -> None:
    h, local, groups = two_groups()
    df = ledger()
    with pytest.raises(InputError, match="no weight for indicator b1"):
        score_customers(df, h, {"a1": 0.5, "a2": 0.5}, groups)
    with pytest.raises(InputError, match="unknown group C"):
        score_customers(df, h, local, {**groups, "C": 0.0})
    with pytest.raises(InputError, match=r"do not sum to 1 in A \(0\.9\)"):
        score_customers(df, h, {**local, "a1": 0.4}, groups)
    with pytest.raises(InputError, match="not negative"):
        score_customers(df, h, {**local, "a1": -0.5, "a2": 1.5}, groups)
    with pytest.raises(InputError, match="policy 'mean'"):
        score_customers(df, h, local, groups, missing="mean")
    # A pandas Series is accepted as a mapping.
    score_customers(df, h, pd.Series(local), pd.Series(groups))


def test_default_ledger_end_to_end() -> None:
    r = score_customers(default_ledger(50), default_hierarchy(), *default_weights())
    assert r.indicator_scores.shape == (50, 12)
    assert list(r.group_scores.columns) == ["Qualification", "Potential", "Contribution"]
    assert r.global_weights.sum() == pytest.approx(1.0)
    assert sorted(r.rank.tolist()) == list(range(1, 51))
    # value = Σ group weight × group score when nothing is excluded.
    _, groups = default_weights()
    expected = sum(r.group_scores[g] * w for g, w in groups.items())
    nan_equal(r.value, expected)
    nan_equal(r.value, r.indicator_scores.to_numpy() @ r.global_weights.to_numpy())


# --------------------------------------------------------------------------- properties

values_1d = hnp.arrays(
    np.float64,
    st.integers(2, 40),
    elements=st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
)


@given(values_1d, st.floats(1e-3, 1e3), st.floats(-1e6, 1e6))
def test_minmax_does_not_depend_on_units(x, scale, shift) -> None:
    assume(np.ptp(x) > 1e-3 * (1 + np.abs(x).max()))
    a = score_values(x, quant()).scores
    b = score_values(x * scale + shift, quant()).scores
    # Only what rounding x * scale + shift can lose, relative to the rescaled range.
    eps = np.finfo(float).eps
    lost = 8 * eps * (abs(shift) + scale * np.abs(x).max()) / (scale * np.ptp(x))
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-9 + 100 * lost)


@given(values_1d, st.sampled_from(["minmax", "percentile"]), st.data())
def test_scores_in_range_and_cost_mirrors_benefit(x, method, data) -> None:
    holes = data.draw(hnp.arrays(bool, x.size))
    x = np.where(holes, np.nan, x)
    benefit = score_values(x, quant(method)).scores
    cost = score_values(x, quant(method, "cost")).scores
    ok = ~np.isnan(x)
    assert (np.isnan(benefit) == ~ok).all()
    assert ((benefit[ok] >= 0) & (benefit[ok] <= 100)).all()
    np.testing.assert_allclose(cost[ok], 100 - benefit[ok], atol=1e-9)


@given(values_1d)
def test_percentile_is_monotone(x) -> None:
    s = score_values(x, quant("percentile")).scores
    i, j = np.meshgrid(np.arange(x.size), np.arange(x.size))
    less = x[i] < x[j]
    assert (s[i][less] < s[j][less]).all()
    same = x[i] == x[j]
    assert (s[i][same] == s[j][same]).all()


@given(hnp.arrays(np.float64, st.integers(1, 60), elements=st.integers(-5, 5).map(float)))
def test_tie_ranks_equal_scipy_rankdata(x) -> None:
    average, low, high = tie_ranks(x, bounds=True)
    np.testing.assert_array_equal(average, rankdata(x, method="average"))
    np.testing.assert_array_equal(low, rankdata(x, method="min"))
    np.testing.assert_array_equal(high, rankdata(x, method="max"))


def test_percentile_rank_keeps_nan() -> None:
    nan_equal(percentile_rank(np.array([3.0, np.nan, 1.0, 2.0])), [100, np.nan, 0, 50])


@settings(max_examples=60, deadline=None)
@given(st.data(), st.sampled_from(MISSING_POLICIES))
def test_value_between_indicator_scores_and_groups_in_range(data, policy) -> None:
    sizes = data.draw(st.lists(st.integers(1, 4), min_size=2, max_size=4))
    inds = tuple(
        Indicator(f"G{g}", f"I{g}_{k}", f"c{g}_{k}", "quantitative",
                  data.draw(st.sampled_from(["minmax", "percentile"])),
                  data.draw(st.sampled_from(["benefit", "cost"])))
        for g, size in enumerate(sizes)
        for k in range(size)
    )  # fmt: skip
    h = Hierarchy(inds)
    n = data.draw(st.integers(1, 25))
    cols = {
        i.column: data.draw(
            hnp.arrays(np.float64, n, elements=st.floats(-1e4, 1e4) | st.just(np.nan))
        )
        for i in inds
    }
    raw_local = {i.name: data.draw(st.floats(0.01, 1)) for i in inds}
    local = {
        i.name: raw_local[i.name] / sum(raw_local[k.name] for k in h.by_group[i.group])
        for i in inds
    }
    raw_groups = {g: data.draw(st.floats(0.01, 1)) for g in h.groups}
    groups = {g: w / sum(raw_groups.values()) for g, w in raw_groups.items()}
    r = score_customers(pd.DataFrame(cols), h, local, groups, missing=policy)
    s = r.indicator_scores.to_numpy()
    v = r.value.to_numpy()
    has = ~np.isnan(v)
    assert (np.isnan(s).all(axis=1) == ~has).all()
    lo, hi = np.nanmin(s[has], axis=1), np.nanmax(s[has], axis=1)
    assert ((v[has] >= lo - 1e-9) & (v[has] <= hi + 1e-9)).all()
    g = r.group_scores.to_numpy()
    assert ((g[~np.isnan(g)] >= -1e-9) & (g[~np.isnan(g)] <= 100 + 1e-9)).all()
    if policy != "exclude":
        assert not np.isnan(g).any() and has.all()
    assert (r.imputed_count.to_numpy() == r.imputed.to_numpy().sum(axis=1)).all()
    assert set(r.rank.dropna()) <= set(range(1, n + 1))
