"""Segmentation: High/Low, the eight types, ABC, Pareto, profiles, validation, summaries."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs

from xlcrm.errors import InputError
from xlcrm.value.segments import (
    abc_classes,
    high_low,
    kmeans_profiles,
    pareto_curve,
    segment_types,
    summarise_segments,
    validate_segments,
)
from xlcrm.value.strategies import type_code

GROUPS = ("Qualification", "Potential", "Contribution")


# ----------------------------------------------------------------- High / Low


def test_kmeans_two_obvious_clusters() -> None:
    scores = [1.0, 12.0, 2.0, 11.0, 3.0, 10.0]
    result = high_low(scores)
    assert result.high.tolist() == [False, True, False, True, False, True]
    assert result.valid.all()
    assert result.cut == 6.5  # midpoint of the highest Low (3) and the lowest High (10)
    assert result.method == "kmeans"
    assert result.note == ""


def test_kmeans_cut_reproduces_as_a_threshold() -> None:
    rng = np.random.default_rng(3)
    scores = np.round(np.concatenate([rng.normal(35, 8, 400), rng.normal(75, 6, 150)]), 1)
    result = high_low(scores)
    again = high_low(scores, method="threshold", threshold=result.cut)
    np.testing.assert_array_equal(result.high, again.high)
    # The cut lies strictly between the highest Low and the lowest High score.
    assert scores[~result.high].max() < result.cut <= scores[result.high].min()
    assert 300 < (~result.high).sum() < 450


def sse(scores: np.ndarray, high: np.ndarray) -> float:
    """Within-cluster sum of squares of a High/Low split, computed directly."""
    return float(sum(((scores[m] - scores[m].mean()) ** 2).sum() for m in (high, ~high) if m.any()))


def brute_force_best(scores: np.ndarray) -> float:
    """The least within-cluster sum of squares over every cut between two distinct scores.

    An independent oracle: it tries each cut and sums squares directly (O(n^2)).
    """
    distinct = np.unique(scores)
    return min(sse(scores, scores >= hi) for hi in distinct[1:])


@settings(max_examples=300, deadline=None)
@given(
    hnp.arrays(
        np.float64,
        st.integers(2, 40),
        elements=st.one_of(
            st.integers(0, 6).map(float),  # many ties, as with rubric scores
            st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
        ),
    )
)
def test_exact_split_is_the_global_optimum(scores: np.ndarray) -> None:
    if np.unique(scores).size < 2:
        return
    result = high_low(scores)
    best = brute_force_best(scores)
    assert sse(scores, result.high) <= best + 1e-9 * max(1.0, best)
    # Equal scores are never split; both sides are non-empty.
    for value in np.unique(scores):
        assert len(set(result.high[scores == value])) == 1
    assert result.high.any() and (~result.high).any()
    assert scores[~result.high].max() < result.cut <= scores[result.high].min()


def scikit_learn_high(scores: np.ndarray, random_state: int = 0, tol: float = 0.0) -> np.ndarray:
    model = KMeans(n_clusters=2, n_init=10, random_state=random_state, tol=tol)
    model.fit(scores.reshape(-1, 1))
    return model.labels_ == int(np.argmax(model.cluster_centers_.ravel()))


def test_labels_equal_scikit_learn_where_it_is_optimal_continuous() -> None:
    rng = np.random.default_rng(5)
    scores = np.concatenate([rng.normal(40, 10, 3000), rng.normal(80, 5, 1000)])
    theirs = scikit_learn_high(scores)
    ours = high_low(scores).high
    assert sse(scores, theirs) == pytest.approx(sse(scores, ours), rel=1e-12)
    np.testing.assert_array_equal(ours, theirs)


def test_labels_equal_scikit_learn_on_tied_scores() -> None:
    # Rubric points: only five different scores among 2 000 customers.
    rng = np.random.default_rng(2)
    scores = rng.choice([0.0, 25.0, 50.0, 75.0, 100.0], size=2000, p=[0.1, 0.3, 0.3, 0.2, 0.1])
    result = high_low(scores)
    np.testing.assert_array_equal(result.high, scikit_learn_high(scores))
    assert result.cut == 62.5  # 0, 25 and 50 Low; 75 and 100 High
    assert sse(scores, result.high) == pytest.approx(brute_force_best(scores))


#: Three groups of customers where scikit-learn's k-means (10 starts) ends in a local
#: optimum: it cuts at 15.5 (sum of squares 1133.02) where the best cut is 13.7 (1129.73).
LOCAL_OPTIMUM_TRAP = np.array([
    3.1, 3.1, 3.2, 3.2, 3.2, 3.2, 3.2, 3.2, 3.2, 3.2, 3.2, 3.3, 3.3, 3.3, 3.3, 3.5, 3.5, 3.5,
    3.6, 3.6, 3.6, 3.6, 3.7, 3.7, 3.7, 3.8, 3.8, 3.8, 3.9, 3.9, 3.9, 3.9, 6.3, 8.0, 8.3, 8.4,
    8.5, 9.1, 10.1, 10.1, 10.4, 10.4, 10.4, 10.6, 10.8, 10.9, 10.9, 11.0, 11.1, 11.2, 11.3,
    11.9, 12.0, 12.2, 12.4, 12.7, 12.7, 12.7, 13.1, 13.4, 13.4, 14.0, 14.2, 14.2, 15.5, 16.7,
    22.1, 22.2, 22.2, 22.2, 22.3, 22.3, 22.3, 22.5, 22.6, 22.6, 22.7, 22.8, 22.8, 22.8,
])


def test_better_than_scikit_learn_where_it_stops_in_a_local_optimum() -> None:
    scores = LOCAL_OPTIMUM_TRAP
    result = high_low(scores)
    assert result.cut == pytest.approx(13.7)
    ours = sse(scores, result.high)
    assert ours == pytest.approx(brute_force_best(scores))
    for random_state in (0, 1, 2):
        assert sse(scores, scikit_learn_high(scores, random_state)) > ours + 1


def test_large_skewed_input_is_the_optimum() -> None:
    # 200 000 customers, skewed, on a 0.01 grid (ties): the optimum by direct sums of
    # squares at the cuts next to ours, and never worse than scikit-learn's default fit.
    rng = np.random.default_rng(11)
    scores = np.round(100 * (1 - np.exp(-rng.lognormal(-0.5, 0.7, 200_000))), 2)
    result = high_low(scores)
    ours = sse(scores, result.high)
    distinct = np.unique(scores)
    at = int(np.searchsorted(distinct, result.cut))
    for hi in distinct[max(at - 30, 1): at + 30]:
        assert ours <= sse(scores, scores >= hi) * (1 + 1e-12)
    assert ours <= sse(scores, scikit_learn_high(scores, tol=1e-4)) * (1 + 1e-12)


def test_huge_and_tiny_scores_split_without_overflow() -> None:
    huge = high_low([1e308, 1.7e308, -1e308, -1.5e308])
    assert huge.high.tolist() == [True, True, False, False]
    assert huge.cut == 0.0
    tiny = high_low([5e-324, 1e-323, 1e-300, 1.1e-300])
    assert tiny.high.tolist() == [False, False, True, True]


def test_kmeans_is_reproducible_and_order_free() -> None:
    rng = np.random.default_rng(8)
    scores = rng.gamma(3, 12, 50_000)
    perm = rng.permutation(len(scores))
    first, second = high_low(scores), high_low(scores[perm])
    assert first.cut == second.cut
    np.testing.assert_array_equal(first.high[perm], second.high)


def test_median_and_its_ties() -> None:
    result = high_low([1, 2, 2, 2, 3], method="median")
    assert result.cut == 2.0
    assert result.high.tolist() == [False, True, True, True, True]  # ties at the median: High
    even = high_low([4, 1, 3, 2], method="Median ")
    assert even.cut == 2.5
    assert even.high.tolist() == [True, False, True, False]


def test_threshold() -> None:
    result = high_low([59.9, 60.0, 60.1, np.nan], method="threshold", threshold=60)
    assert result.high.tolist() == [False, True, True, False]
    assert result.valid.tolist() == [True, True, True, False]
    assert result.cut == 60.0
    for bad in (None, math.nan, math.inf, "60", True):
        with pytest.raises(InputError, match="threshold"):
            high_low([1, 2], method="threshold", threshold=bad)  # type: ignore[arg-type]


def test_unknown_method_and_text_scores() -> None:
    with pytest.raises(InputError, match="kmeans, median, threshold"):
        high_low([1, 2], method="jenks")
    with pytest.raises(InputError, match="numbers"):
        high_low(["a", "b"])


@pytest.mark.parametrize("method", ["kmeans", "median"])
def test_invalid_scores_are_neither_high_nor_low(method: str) -> None:
    scores = pd.Series([1.0, None, 2.0, 90.0, np.inf, 95.0, -np.inf], dtype="Float64")
    result = high_low(scores, method=method)
    assert result.valid.tolist() == [True, False, True, True, False, True, False]
    assert not result.high[~result.valid].any()
    assert result.high[result.valid].tolist() == [False, False, True, True]
    assert result.low.tolist() == [True, False, True, False, False, False, False]


@pytest.mark.parametrize("method", ["kmeans", "median"])
def test_degenerate_inputs(method: str) -> None:
    same = high_low([55.0, 55.0, np.nan, 55.0], method=method)
    assert same.high.tolist() == [True, True, False, True]  # everyone valid is High
    assert same.cut == 55.0
    assert "55" in same.note
    one = high_low([7.0], method=method)
    assert one.high.tolist() == [True] and one.cut == 7.0
    nothing = high_low([np.nan, np.nan], method=method)
    assert nothing.high.tolist() == [False, False] and math.isnan(nothing.cut)
    assert nothing.note == "no valid score"
    empty = high_low([], method=method)
    assert empty.high.shape == (0,) and math.isnan(empty.cut)


def test_two_distinct_values() -> None:
    result = high_low([3, 3, 3, 8])
    assert result.high.tolist() == [False, False, False, True]
    assert result.cut == 5.5


# ----------------------------------------------------------------- the 8 types


def eight_customers() -> pd.DataFrame:
    """One customer per High/Low combination, in type order, with clear gaps."""
    rows = [
        [90.0 if flag else 10.0 for flag in combo]
        for combo in itertools.product([True, False], repeat=3)
    ]
    # A second, slightly different copy so that k-means has spread to work with.
    rows += [[v + 3 for v in row] for row in rows]
    return pd.DataFrame(rows, columns=list(GROUPS), index=[f"C{i}" for i in range(16)])


@pytest.mark.parametrize("method", ["kmeans", "median", "threshold"])
def test_segment_types_numbers_all_eight(method: str) -> None:
    scores = eight_customers()
    result = segment_types(scores, method=method, thresholds=50.0)
    expected = list(range(1, 9)) * 2
    assert result.type.tolist() == expected
    assert result.type.dtype == "Int64"
    assert result.code.tolist() == [type_code(t) for t in expected]
    assert list(result.high.columns) == list(GROUPS)
    assert result.high.index.equals(scores.index)
    assert result.type.index.equals(scores.index)
    assert result.problems == []
    assert set(result.methods.values()) == {method}
    assert result.labels().iloc[1].tolist() == ["High", "High", "Low"]


def test_segment_types_cuts() -> None:
    result = segment_types(eight_customers())
    assert result.cuts == {g: pytest.approx(51.5) for g in GROUPS}  # (13 + 90) / 2


def test_per_group_methods_and_thresholds() -> None:
    scores = eight_customers()
    result = segment_types(
        scores,
        method={"Qualification": "threshold", "Potential": "median"},
        thresholds={"Qualification": 92.0},
    )
    assert result.methods == {
        "Qualification": "threshold",
        "Potential": "median",
        "Contribution": "kmeans",
    }
    # Only the raised copies (93) reach 92 on Qualification.
    assert result.high["Qualification"].tolist() == [False] * 8 + [True] * 4 + [False] * 4
    with pytest.raises(InputError, match="Potential"):
        segment_types(scores, method="threshold", thresholds={"Qualification": 50.0})


def test_invalid_scores_get_no_type() -> None:
    scores = eight_customers()
    scores.iloc[2, 1] = np.nan
    result = segment_types(scores)
    assert result.type.isna().tolist() == [i == 2 for i in range(16)]
    assert result.code.iloc[2] == "H?H"
    assert result.high["Potential"].isna().sum() == 1
    assert result.labels().iloc[2].tolist() == ["High", "", "High"]
    assert len(result.problems) == 1
    assert "position 3" in result.problems[0].message


@pytest.mark.parametrize("g", [1, 2, 4])
def test_any_number_of_groups_gives_codes_and_their_types(g: int) -> None:
    names = [f"G{j}" for j in range(g)]
    combos = list(itertools.product([True, False], repeat=g))
    scores = pd.DataFrame(
        [[80.0 if f else 20.0 for f in combo] for combo in combos] * 2, columns=names
    )
    result = segment_types(scores, groups=names)
    assert result.code.tolist()[: len(combos)] == [
        "".join("H" if f else "L" for f in combo) for combo in combos
    ]
    # Type = the code read as a binary number (L = 1), plus 1: HH..H is 1, LL..L is 2**g.
    assert result.type.tolist() == list(range(1, 2**g + 1)) * 2
    assert [type_code(t, g) for t in result.type] == result.code.tolist()
    assert not result.problems


def test_the_fit_mask_keeps_rows_from_moving_the_cut() -> None:
    # 6 rated customers split cleanly at 50; 4 customers of guesses sit at 45. Fitted on
    # everyone, 2-means puts the guesses' cluster on the Low side of a much higher cut.
    rated = [10.0, 12.0, 14.0, 86.0, 88.0, 90.0]
    scores = pd.DataFrame({g: rated + [45.0] * 40 for g in GROUPS})
    fit = np.array([True] * 6 + [False] * 40)
    everyone = segment_types(scores)
    only_rated = segment_types(scores, fit=fit)
    for g in GROUPS:
        assert only_rated.cuts[g] == pytest.approx(50.0)
        assert everyone.cuts[g] != pytest.approx(50.0)
    # The cut is applied to everyone: the excluded rows still get High/Low.
    assert only_rated.high.notna().all().all()


def test_segment_types_input_errors() -> None:
    with pytest.raises(InputError, match="'Potential'"):
        segment_types(pd.DataFrame({"Qualification": [1.0], "Contribution": [2.0]}))
    with pytest.raises(InputError, match="no group"):
        segment_types(eight_customers(), groups=())


def test_segment_types_empty_table() -> None:
    result = segment_types(pd.DataFrame({g: pd.Series([], dtype=float) for g in GROUPS}))
    assert len(result.type) == 0 and len(result.code) == 0


def test_degenerate_dimension_is_reported() -> None:
    scores = eight_customers()
    scores["Potential"] = 50.0
    result = segment_types(scores)
    assert result.high["Potential"].all()
    assert any(
        "Potential" in p.message and "everyone is High" in p.message for p in result.problems
    )


# ----------------------------------------------------------------- ABC


def test_abc_exact_boundaries() -> None:
    # Cumulative shares 50, 80, 90, 95, 100 %: hits both cut-offs exactly.
    result = abc_classes([5, 50, 10, 30, 5])
    assert result.abc.tolist() == ["B", "A", "B", "A", "C"]
    # The customer starting exactly at 80 % (the 10) is B, the one starting exactly at
    # 95 % is C; of the two 5s, the earlier (position 0) is ranked first and is B.
    assert result.order.tolist() == [1, 3, 2, 0, 4]
    np.testing.assert_allclose(result.cumulative_share, [0.95, 0.5, 0.9, 0.8, 1.0])
    np.testing.assert_allclose(result.share, [0.05, 0.5, 0.1, 0.3, 0.05])
    assert result.problems == []


def test_abc_customer_crossing_a_cutoff_belongs_to_the_class_below_it() -> None:
    # 60 % then 90 %: the 30 crosses 80 % and is A ("before" convention);
    # the 10 starts at 90 % (< 95 %) and is B.
    assert abc_classes([60, 30, 10]).abc.tolist() == ["A", "A", "B"]
    # 70, 94, 100 %: the 24 starts at 70 % -> A; the 6 starts at 94 % -> B.
    assert abc_classes([70, 24, 6]).abc.tolist() == ["A", "A", "B"]
    # The top customer alone above 80 %: only it is A.
    assert abc_classes([85, 10, 5]).abc.tolist() == ["A", "B", "C"]


def test_abc_boundaries_survive_rounding() -> None:
    # Ten customers of 0.1: the running sum 0.1 + ... + 0.1 is 0.7999999999999999 after
    # eight, which must still count as reaching 80 %.
    result = abc_classes([0.1] * 10)
    assert result.abc.tolist() == ["A"] * 8 + ["B"] * 2


def test_abc_ties_straddling_a_cutoff_follow_input_order() -> None:
    result = abc_classes([20.0] * 5)
    assert result.abc.tolist() == ["A", "A", "A", "A", "B"]
    assert result.order.tolist() == [0, 1, 2, 3, 4]


def test_abc_custom_cutoffs() -> None:
    values = [40, 30, 20, 10]
    assert abc_classes(values, cutoffs=(0.5, 0.9)).abc.tolist() == ["A", "A", "B", "C"]
    assert abc_classes(values, cutoffs=(0.4, 1.0)).abc.tolist() == ["A", "B", "B", "B"]


def test_abc_invalid_negative_and_zero_values() -> None:
    result = abc_classes([np.nan, 80.0, -5.0, 0.0, 20.0, np.inf])
    assert result.abc.tolist() == ["C", "A", "C", "C", "B", "C"]
    # Negative after zero, invalid last, each group in input order.
    assert result.order.tolist() == [1, 4, 3, 2, 0, 5]
    assert result.valid.tolist() == [False, True, True, True, True, False]
    assert np.isnan(result.cumulative_share[[0, 5]]).all()
    np.testing.assert_allclose(result.share[[1, 2, 3, 4]], [0.8, 0.0, 0.0, 0.2])
    messages = " | ".join(p.message for p in result.problems)
    assert "2 customer(s) have no valid value (positions 1, 6)" in messages
    assert "1 customer(s) have a negative value (position 3)" in messages


def test_abc_without_positive_value() -> None:
    result = abc_classes([0.0, -1.0, np.nan])
    assert result.abc.tolist() == ["C", "C", "C"]
    assert np.isnan(result.cumulative_share).all()
    assert any("no customer has a positive value" in p.message for p in result.problems)
    empty = abc_classes([])
    assert empty.abc.shape == (0,) and empty.problems == []


@pytest.mark.parametrize("cutoffs", [(0.95, 0.8), (0.0, 0.5), (0.8, 1.2), (0.8,), "ab", (0.8, 0.0)])
def test_abc_bad_cutoffs(cutoffs: object) -> None:
    with pytest.raises(InputError, match="cut-offs"):
        abc_classes([1, 2, 3], cutoffs=cutoffs)  # type: ignore[arg-type]


values_strategy = hnp.arrays(
    np.float64,
    st.integers(1, 60),
    elements=st.one_of(
        st.just(0.0), st.floats(0.01, 1e6, allow_nan=False), st.sampled_from([1.0, 5.0, 10.0])
    ),
)


@given(values_strategy, st.floats(0.05, 0.9), st.floats(0.05, 0.95))
@settings(max_examples=200, deadline=None)
def test_abc_properties(values: np.ndarray, a: float, gap: float) -> None:
    b = min(a + gap * (1 - a) + 1e-6, 1.0)
    result = abc_classes(values, cutoffs=(a, b))
    total = values.sum()
    ranked_cum = result.cumulative_share[result.order]
    if total <= 0:
        assert (result.abc == "C").all()
        return
    assert np.all(np.diff(ranked_cum) >= -1e-12)  # non-decreasing down the ranking
    assert ranked_cum[-1] == pytest.approx(1.0)
    assert result.share.sum() == pytest.approx(1.0)
    # A is the top by value: every A value >= every B value >= every C value.
    by_class = {c: values[result.abc == c] for c in "ABC"}
    for upper, lower in (("A", "B"), ("B", "C"), ("A", "C")):
        if len(by_class[upper]) and len(by_class[lower]):
            assert by_class[upper].min() >= by_class[lower].max()
    # A is the smallest top group holding at least a of the value.
    a_share = values[result.abc == "A"].sum() / total
    assert a_share >= a - 1e-9
    smallest_a = by_class["A"].min()
    assert a_share - smallest_a / total < a + 1e-9
    # Order is by value, ties by position.
    keys = list(zip(-values[result.order], result.order, strict=True))
    assert keys == sorted(keys)


# ----------------------------------------------------------------- Pareto


def test_pareto_curve_hand_computed() -> None:
    curve = pareto_curve([5, 50, 10, 30, 5], points=6)
    assert list(curve.columns) == ["CustomerShare", "ValueShare"]
    np.testing.assert_allclose(curve["CustomerShare"], [0, 0.2, 0.4, 0.6, 0.8, 1])
    np.testing.assert_allclose(curve["ValueShare"], [0, 0.5, 0.8, 0.9, 0.95, 1])
    # Between customers the curve is linear: 10 % of 5 customers = half the top one.
    assert pareto_curve([5, 50, 10, 30, 5], points=11)["ValueShare"][1] == pytest.approx(0.25)


def test_pareto_curve_shape_and_edge_cases() -> None:
    rng = np.random.default_rng(2)
    curve = pareto_curve(np.append(rng.lognormal(10, 1.3, 5000), [np.nan, -3.0]))
    assert len(curve) == 101
    share = curve["ValueShare"].to_numpy()
    assert share[0] == 0 and share[-1] == pytest.approx(1)
    assert np.all(np.diff(share) >= 0)
    assert np.all(np.diff(share, 2) <= 1e-12)  # concave: the best customers come first
    assert curve["ValueShare"].iloc[20] > 0.5  # long tail: top 20 % hold most value
    assert pareto_curve([0, 0], points=3)["ValueShare"].isna().all()
    for bad in (1, 2.5, True):
        with pytest.raises(InputError, match="points"):
            pareto_curve([1, 2], points=bad)  # type: ignore[arg-type]


# ----------------------------------------------------------------- k-means profiles

UNITS = np.array([1.0, 1_000.0, 0.01])  # employees, currency, growth rate
OFFSET = np.array([50.0, 20_000.0, 0.0])


def blobs(n: int, seed: int = 4) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    x, y, centers = make_blobs(
        n_samples=n,
        centers=3,
        n_features=3,
        cluster_std=0.6,
        center_box=(-10, 10),
        random_state=seed,
        return_centers=True,
    )
    frame = pd.DataFrame(x * UNITS + OFFSET, columns=["Employees", "Revenue", "Growth"])
    return frame, y, centers * UNITS + OFFSET


def match_clusters(labels: np.ndarray, truth: np.ndarray) -> dict[int, int]:
    """Found label -> true blob, by majority; must be one-to-one."""
    mapping = {int(c): int(np.bincount(truth[labels == c]).argmax()) for c in np.unique(labels)}
    assert len(set(mapping.values())) == len(mapping)
    return mapping


def test_profiles_recover_three_blobs_in_original_units() -> None:
    data, truth, true_centers = blobs(1500)
    result = kmeans_profiles(data)
    assert result.k == 3
    assert max(result.silhouette, key=result.silhouette.get) == 3
    assert sorted(result.silhouette) == list(range(2, 9))
    mapping = match_clusters(result.labels, truth)
    assert np.mean([mapping[c] for c in result.labels] == truth) == 1.0
    for c, blob in mapping.items():
        # Within 0.15 standard deviations of the blob, in each column's own units.
        err = np.abs(result.centers.loc[c].to_numpy() - true_centers[blob]) / (0.6 * UNITS)
        assert np.all(err < 0.15), (c, err)
    assert result.sizes.tolist() == [500, 500, 500]
    assert list(result.centers.columns) == list(data.columns)
    # Deterministic numbering: cluster 0 has the highest mean standardised level.
    z = (data - data.mean()) / data.std(ddof=0)
    level = [z[result.labels == c].to_numpy().mean() for c in range(3)]
    assert level == sorted(level, reverse=True)


def test_profiles_are_reproducible_and_independent_of_row_order() -> None:
    data, _, _ = blobs(900)
    first = kmeans_profiles(data)
    perm = np.random.default_rng(0).permutation(len(data))
    second = kmeans_profiles(data.iloc[perm].reset_index(drop=True))
    np.testing.assert_array_equal(first.labels[perm], second.labels)
    pd.testing.assert_frame_equal(first.centers, second.centers)


def test_profiles_fit_on_a_sample_of_large_data() -> None:
    data, truth, true_centers = blobs(60_000, seed=9)
    result = kmeans_profiles(data, fit_size=2_000, sample_size=1_000)
    assert result.k == 3
    mapping = match_clusters(result.labels, truth)
    assert np.mean(np.array([mapping[c] for c in result.labels]) == truth) > 0.999
    for c, blob in mapping.items():
        err = np.abs(result.centers.loc[c].to_numpy() - true_centers[blob]) / (0.6 * UNITS)
        assert np.all(err < 0.05)


def test_profiles_given_k_and_missing_rows() -> None:
    data, _, _ = blobs(300)
    data.iloc[[5, 17], 1] = np.nan
    result = kmeans_profiles(data, k=4)
    assert result.k == 4 and list(result.silhouette) == [4]
    assert result.labels[[5, 17]].tolist() == [-1, -1]
    assert set(result.labels[result.labels >= 0]) == {0, 1, 2, 3}
    assert result.sizes.sum() == 298
    assert "positions 6, 18" in result.problems[0].message


def test_profiles_input_errors() -> None:
    data, _, _ = blobs(30)
    with pytest.raises(InputError, match="at least 2"):
        kmeans_profiles(data, k=1)
    with pytest.raises(InputError, match="distinct rows"):
        kmeans_profiles(pd.DataFrame({"a": [1.0, 1.0, 2.0, 2.0]}), k=3)
    with pytest.raises(InputError, match="holds text"):
        kmeans_profiles(data.assign(Region=["North"] * 30))
    with pytest.raises(InputError, match="at least 3"):
        kmeans_profiles(pd.DataFrame({"a": [1.0, np.nan, 2.0]}))
    with pytest.raises(InputError, match="no k"):
        kmeans_profiles(pd.DataFrame({"a": [1.0, 1.0, 2.0, 2.0]}), k_range=[5, 6])
    # Numbers typed as text are numbers.
    assert kmeans_profiles(data.astype(str), k=3).k == 3


# ----------------------------------------------------------------- validation


def separated_segments(seed: int = 1) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    n = 400
    high = pd.DataFrame({g: rng.random(n) < 0.5 for g in GROUPS})
    scores = pd.DataFrame({g: np.where(high[g], 75.0, 35.0) + rng.normal(0, 6, n) for g in GROUPS})
    return scores, high, pd.Series(segment_types(scores).type)


def test_validation_finds_separated_segments() -> None:
    scores, high, types = separated_segments()
    table = validate_segments(scores, high, types)
    assert list(table.columns) == [
        "Dimension",
        "Test",
        "Statistic",
        "PValue",
        "EffectSize",
        "Effect",
        "Magnitude",
        "Verdict",
        "Note",
        "Groups",
    ]
    assert len(table) == 9
    assert (table["PValue"] < 1e-10).all()
    assert (table["Verdict"] == "differ (large effect)").all()
    assert table["Effect"].tolist()[:3] == ["Cohen's d", "eta squared", "epsilon squared"]
    assert table["Test"].tolist()[:3] == [
        "Welch t (High vs Low)",
        "ANOVA (types)",
        "Kruskal-Wallis (types)",
    ]


def test_validation_on_identical_random_groups() -> None:
    # Every type holds the same random scores, so no test can find a difference.
    rng = np.random.default_rng(2024)
    same = rng.normal(50, 10, 60)
    scores = pd.DataFrame({g: np.tile(rng.permutation(same), 8) for g in GROUPS[:1]})
    scores[GROUPS[1]] = np.tile(same, 8)
    types = np.repeat(np.arange(1, 9), 60)
    high = pd.DataFrame({g: types <= 4 for g in GROUPS[:2]})  # High and Low: same values
    table = validate_segments(scores, high, types)
    assert len(table) == 6
    assert (table["PValue"] > 0.05).all(), table
    np.testing.assert_allclose(table["PValue"], 1.0)
    assert (table["Verdict"] == "no significant difference").all()


def test_validation_on_unrelated_random_segments() -> None:
    # High/Low and types drawn independently of the scores (fixed seed): no difference.
    rng = np.random.default_rng(7)
    n = 800
    scores = pd.DataFrame({"Qualification": rng.normal(50, 10, n)})
    high = pd.DataFrame({"Qualification": rng.random(n) < 0.5})
    table = validate_segments(scores, high, rng.integers(1, 9, n))
    assert (table["PValue"] > 0.05).all(), table


def test_validation_skips_small_groups() -> None:
    scores = pd.DataFrame({"Qualification": [10.0, 11.0, 12.0, 50.0, 51.0, 60.0]})
    high = pd.DataFrame({"Qualification": [False, False, False, False, False, True]})
    types = pd.array([1, 1, 1, 5, 5, pd.NA], dtype="Int64")
    table = validate_segments(scores, high, types).set_index("Test")
    mwu = table.loc["Welch t (High vs Low)"]
    assert mwu["Verdict"] == "skipped" and "fewer than 2" in mwu["Note"]
    anova = table.loc["ANOVA (types)"]
    assert anova["Groups"] == "types 1: 3, 5: 2"
    assert anova["Verdict"] == "differ (large effect)"
    types_one = pd.array([1, 1, 1, 1, 5, pd.NA], dtype="Int64")
    table = validate_segments(scores, high, types_one).set_index("Test")
    assert table.loc["Kruskal-Wallis (types)", "Verdict"] == "skipped"
    assert "type(s) 5 left out" in table.loc["Kruskal-Wallis (types)", "Note"]


def test_validation_constant_scores_and_no_types() -> None:
    scores = pd.DataFrame({"Potential": [5.0] * 6})
    high = pd.DataFrame(
        {"Potential": pd.array([True, True, True, False, False, None], dtype="boolean")}
    )
    table = validate_segments(scores, high, [1, 1, 2, 2, 3, 3])
    assert table["Verdict"].tolist() == ["undefined"] * 3
    assert len(validate_segments(scores, high, None)) == 1
    with pytest.raises(InputError, match="one row per customer"):
        validate_segments(scores, high, [1, 2])


# ----------------------------------------------------------------- summaries


def test_summaries_hand_computed() -> None:
    types = pd.array([1, 1, 8, pd.NA, 8], dtype="Int64")
    abc = np.array(["A", "B", "A", "C", "C"])
    values = [10.0, 30.0, 40.0, np.nan, 20.0]
    by_type, by_abc = summarise_segments(types, abc, values)
    assert list(by_type.columns) == [
        "Segment",
        "Count",
        "CustomerShare",
        "Value",
        "ValueShare",
        "MeanValue",
    ]
    assert len(by_type) == 9  # types 1..8 and "No type"
    assert by_type.loc[1].tolist() == ["1 HHH Star", 2, 0.4, 40.0, 0.4, 20.0]
    assert by_type.loc[8].tolist() == ["8 LLL Low priority", 2, 0.4, 60.0, 0.6, 30.0]
    assert by_type.loc[3, "Count"] == 0 and math.isnan(by_type.loc[3, "MeanValue"])
    last = by_type.iloc[-1]
    assert last["Segment"] == "No type" and pd.isna(by_type.index[-1])
    assert (last["Count"], last["Value"]) == (1, 0.0)
    assert by_type["CustomerShare"].sum() == pytest.approx(1)
    assert by_type["ValueShare"].sum() == pytest.approx(1)
    assert by_abc.index.tolist() == ["A", "B", "C"]
    assert by_abc["Segment"].tolist() == ["A Strategic", "B Key", "C General"]
    assert by_abc["Count"].tolist() == [2, 1, 2]
    np.testing.assert_allclose(by_abc["ValueShare"], [0.5, 0.3, 0.2])


def test_summaries_of_a_real_segmentation_add_up() -> None:
    scores, _, _ = separated_segments(3)
    segments = segment_types(scores)
    value = scores.mean(axis=1)
    abc = abc_classes(value)
    by_type, by_abc = summarise_segments(segments.type, abc.abc, value)
    assert len(by_type) == 8
    assert by_type["Count"].sum() == by_abc["Count"].sum() == len(scores)
    assert by_abc.loc["A", "ValueShare"] >= 0.8
    assert by_abc.loc["A", "MeanValue"] > by_abc.loc["C", "MeanValue"]
    empty_type, only_abc = summarise_segments(None, abc.abc, value)
    assert empty_type.empty and len(only_abc) == 3


def test_codes_for_many_groups() -> None:
    names = [f"G{j}" for j in range(17)]  # beyond the lookup table of codes
    scores = pd.DataFrame(np.random.default_rng(0).random((40, 17)), columns=names)
    result = segment_types(scores, groups=names, method="median")
    expected = ["".join(np.where(row >= scores.median(), "H", "L")) for _, row in scores.iterrows()]
    assert result.code.tolist() == expected


def test_effect_sizes_known_answers() -> None:
    # Two types, 1 2 3 against 4 5 6: grand mean 3.5, SS between 13.5, SS total 17.5, so
    # eta squared = 13.5 / 17.5; the ranks are the values, so H = 12/42 * (6² + 15²)/3 - 21
    # = 27/7 and epsilon squared = H / (n - 1) = 27/35 = the same 0.7714.
    scores = pd.DataFrame({"Qualification": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]})
    high = pd.DataFrame({"Qualification": [False] * 3 + [True] * 3})
    table = validate_segments(scores, high, [8, 8, 8, 1, 1, 1]).set_index("Test")
    np.testing.assert_allclose(table.loc["ANOVA (types)", "EffectSize"], 13.5 / 17.5)
    np.testing.assert_allclose(table.loc["Kruskal-Wallis (types)", "Statistic"], 27 / 7)
    np.testing.assert_allclose(table.loc["Kruskal-Wallis (types)", "EffectSize"], 27 / 35)
    # High 4 5 6 against Low 1 2 3: means 5 and 2, each SD 1, so d = 3 pooled SDs.
    np.testing.assert_allclose(table.loc["Welch t (High vs Low)", "EffectSize"], 3.0)
    assert (table["Magnitude"] == "large").all()


def test_effect_size_thresholds_and_verdict() -> None:
    from xlcrm.value.segments import cohens_d, magnitude

    # Cohen (1988): d 0.2 / 0.5 / 0.8; eta squared 0.01 / 0.06 / 0.14.
    assert [magnitude("Cohen's d", d) for d in (0.19, 0.2, 0.49, 0.5, 0.8, -0.9)] == [
        "negligible", "small", "small", "medium", "large", "large"]
    assert [magnitude("eta squared", e) for e in (0.005, 0.01, 0.06, 0.14)] == [
        "negligible", "small", "medium", "large"]
    # Cohen's d against an independent figure: the unit-variance textbook case.
    np.testing.assert_allclose(cohens_d(np.array([3.0, 4.0, 5.0]), np.array([1.0, 2.0, 3.0])), 2)


def test_verdict_does_not_rest_on_p_alone() -> None:
    # 20 000 customers per type with means 0.05 SD apart: p is tiny, the effect negligible.
    rng = np.random.default_rng(3)
    n = 20_000
    score = np.concatenate([rng.normal(50, 10, n), rng.normal(50.5, 10, n)])
    types = np.repeat([1, 2], n)
    scores = pd.DataFrame({"Qualification": score})
    high = pd.DataFrame({"Qualification": score >= 50})
    table = validate_segments(scores, high, types).set_index("Test")
    anova = table.loc["ANOVA (types)"]
    assert anova["PValue"] < 0.001
    assert anova["Magnitude"] == "negligible"
    assert anova["Verdict"] == "differ in name only: the effect is negligible"


@pytest.mark.parametrize("kind", ["continuous", "few values", "rounded", "one value"])
def test_kruskal_wallis_is_scipys_to_the_last_bit(kind):
    import warnings

    from scipy import stats

    from xlcrm.value.segments import kruskal_wallis

    rng = np.random.default_rng(len(kind))
    for _ in range(40):
        samples = []
        for _ in range(int(rng.integers(2, 9))):
            m = int(rng.integers(2, 400))
            samples.append({"continuous": rng.random(m) * 100,
                            "few values": rng.integers(0, 4, m).astype(float),
                            "rounded": np.round(rng.normal(50, 10, m), 1),
                            "one value": np.full(m, 7.0)}[kind])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # scipy warns about constant input
            expected = [float(v) for v in stats.kruskal(*samples)[:2]]
        # equal, NaN and infinities included (one value: nothing to rank, as scipy says)
        np.testing.assert_array_equal(kruskal_wallis(*samples), expected)


def test_kmeans_profiles_use_float_scores_where_they_are():
    # Indicator scores come as one block of floats; at 1,048,576 customers a copy of them
    # was 100 MB at the run's peak. Allowed: one copy's worth of everything else, the
    # silhouette's distances (2000 x 2000) included.
    import tracemalloc

    n, p = 400_000, 12
    scores = pd.DataFrame(np.random.default_rng(0).random((p, n)).T * 100, copy=False)
    tracemalloc.start()
    try:
        result = kmeans_profiles(scores)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < n * p * 8 + 2_000 * 2_000 * 8
    copied = kmeans_profiles(pd.DataFrame(np.ascontiguousarray(scores.to_numpy())))
    assert np.array_equal(result.labels, copied.labels)
    assert result.silhouette == copied.silhouette
    pd.testing.assert_frame_equal(result.centers, copied.centers)
