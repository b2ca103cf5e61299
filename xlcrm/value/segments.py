"""Segmentation: High/Low per dimension, the eight types, ABC classes, k-means profiles.

Conventions that hold throughout this module:

- A score is *valid* when it is a finite number. NaN or infinite scores are never High
  and never Low: they are reported, and the customer gets no type (see
  :func:`segment_types`). The scoring module's missing-value policy means they should
  not arise in a normal run; when they do, nothing crashes and nothing is silently High.
- A score exactly on a boundary is High (``score >= cut``), whatever the method, so
  ``high_low(s, method="threshold", threshold=r.cut)`` reproduces any result ``r``.
- Everything is deterministic: the High/Low split is an exact optimum (no random start),
  the k-means profiles run with a fixed ``random_state``, and ties are broken by the
  customer's position in the input.
- scikit-learn and scipy.stats are imported inside the functions that use them (profiles,
  validation): ``import xlcrm.value.segments`` stays cheap for the worksheet functions.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from xlcrm.errors import InputError, Problem
from xlcrm.value.scoring import tie_groups
from xlcrm.value.strategies import (
    ABC_CLASSES,
    DEFAULT_TYPES,
    CustomerType,
    types_by_number,
)

if TYPE_CHECKING:
    from sklearn.cluster import KMeans
    from threadpoolctl import threadpool_limits

__all__ = [
    "DEFAULT_GROUPS",
    "HIGH_LOW_METHODS",
    "ABCResult",
    "HighLow",
    "ProfileResult",
    "SegmentResult",
    "abc_classes",
    "high_low",
    "kmeans_profiles",
    "pareto_curve",
    "segment_types",
    "summarise_segments",
    "two_means_cut",
    "validate_segments",
]

DEFAULT_GROUPS = ("Qualification", "Potential", "Contribution")
HIGH_LOW_METHODS = ("kmeans", "median", "threshold")

_N_INIT = 10
_ROWS_PER_SLICE = 1 << 16  # rows standardised and assigned at a time (6 MB at 12 columns)
_N_INIT_SCAN = 3  # k-means starts per candidate k while choosing k (then 10 for the chosen k)


def _one_thread() -> threadpool_limits:
    """Run scikit-learn's k-means and silhouette on one thread.

    The fits here see at most ``fit_size`` rows, where threads save nothing; and on a
    2-core machine OpenMP (k-means) and the two OpenBLAS copies of numpy and scipy then
    oversubscribe the cores: measured, the same 1 500-row profile
    took 0.2 s on one thread and 0.4 s to 6 s (sporadic stalls) with the defaults.
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


_SHOWN = 5  # how many positions a problem message lists


def _positions(mask: np.ndarray, ids: Sequence[Any] | None = None) -> str:
    """Who ``mask`` picks, for a message: by ID when ``ids`` is given, else by position.

    ``"customers C0301, C0302 and 2 more"``, or ``"positions 3, 17 and 2 more"`` (1-based)
    for a caller that has no IDs (a worksheet function given bare numbers). A user looks a
    customer up by ID; a position means nothing once the rows are filtered or sorted.
    """
    where = np.flatnonzero(mask)
    if ids is not None:
        noun = "customer" if len(where) == 1 else "customers"
        shown = ", ".join(str(ids[int(i)]) for i in where[:_SHOWN])
    else:
        noun = "position" if len(where) == 1 else "positions"
        shown = ", ".join(str(int(i) + 1) for i in where[:_SHOWN])
    more = len(where) - _SHOWN
    return f"{noun} {shown} and {more} more" if more > 0 else f"{noun} {shown}"


def _as_float(values: npt.ArrayLike, what: str) -> np.ndarray:
    """``values`` as a 1-D float array; blanks (None, pandas NA) become NaN."""
    try:
        if isinstance(values, pd.Series | pd.Index | pd.api.extensions.ExtensionArray):
            if pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(
                values.dtype
            ):
                arr = np.asarray(values.to_numpy(dtype=float, na_value=np.nan))
            else:
                arr = pd.to_numeric(pd.Series(values), errors="raise").to_numpy(
                    dtype=float, na_value=np.nan
                )
        else:
            arr = np.asarray(values)
            if arr.dtype == object:
                arr = pd.to_numeric(pd.Series(arr.ravel()), errors="raise").to_numpy(
                    dtype=float, na_value=np.nan
                )
            else:
                arr = arr.astype(float)
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"{what} must be numbers; found something else ({exc})",
            fix=f"Pass numeric {what}; blanks are allowed and are reported.",
        ) from None
    if arr.ndim == 0:
        arr = arr.reshape(1)
    elif arr.ndim == 2 and 1 in arr.shape:  # a one-column (or one-row) range
        arr = arr.ravel()
    if arr.ndim != 1:
        raise InputError(
            f"{what} must be one column of numbers, got shape {arr.shape}",
            fix="Pass a single column.",
        )
    return arr


# --------------------------------------------------------------------------- High / Low


@dataclass
class HighLow:
    """High/Low split of one dimension.

    Attributes
    ----------
    high : numpy.ndarray of bool
        True where the score is High. False where the score is invalid; read ``valid``
        before treating False as Low.
    valid : numpy.ndarray of bool
        True where the score is a finite number.
    cut : float
        The boundary used: a score ``>= cut`` is High. For k-means, the midpoint between
        the highest Low and the lowest High score; NaN when no score is valid.
    method : str
        ``"kmeans"``, ``"median"`` or ``"threshold"``.
    note : str
        Why the split is degenerate (all scores equal, nothing valid), else empty.
    """

    high: np.ndarray
    valid: np.ndarray
    cut: float
    method: str
    note: str = ""

    @property
    def low(self) -> np.ndarray:
        """True where the score is valid and Low."""
        return self.valid & ~self.high


def two_means_cut(values: np.ndarray) -> float:
    """The exact optimal 2-means boundary of finite scores: ``score >= cut`` is High.

    Parameters
    ----------
    values : numpy.ndarray of float
        Finite scores, in any order (the caller drops NaN and infinities, and may drop
        customers it does not want in the fit: the cut then applies to everyone).

    Returns
    -------
    float
        The midpoint between the highest Low and the lowest High score of the optimal
        split; the only value when fewer than two distinct values are given (so everyone
        is High); NaN when ``values`` is empty.

    Notes
    -----
    This is the same problem scikit-learn's ``KMeans(n_clusters=2)`` solves heuristically
    (minimise the within-cluster sum of squares), solved exactly. In one dimension the
    clusters of an optimal k-means partition are contiguous runs of the sorted values
    (Wang & Song 2011, "Ckmeans.1d.dp: optimal k-means clustering in one dimension by
    dynamic programming", The R Journal 3(2)); for k = 2 the dynamic programme reduces to
    trying each of the n - 1 split points, which prefix sums make O(1) each. Minimising
    the within-cluster sum of squares is maximising the between-cluster one,
    ``S**2 / k + (T - S)**2 / (n - k)`` on centred scores, where ``S`` is the sum of the
    ``k`` lowest. So the cost is one sort: 28x faster than one ``KMeans(n_init=10)`` fit
    on 1 048 576 scores (bench/bench_segments.py), with no random start and never a
    local optimum (Lloyd's iterations can stop in one, and with scikit-learn's default
    tolerance they stop before converging).

    Ties: a split is only tried between two different values, so equal scores are always
    on the same side. Of two splits with exactly equal sums of squares, the lower cut wins.
    """
    s = np.sort(np.asarray(values, dtype=float))
    n = len(s)
    if n == 0:
        return math.nan
    if s[0] == s[-1]:
        return float(s[0])
    # Scaled to [-1, 1] so that squares cannot overflow (scores near 1e308), then centred
    # so that the prefix sums stay accurate; the optimal split point is the same.
    scaled = s / max(abs(s[0]), abs(s[-1]))
    centred = scaled - scaled.mean()
    prefix = np.cumsum(centred)
    total = prefix[-1]
    k = np.arange(1, n, dtype=float)  # size of the Low cluster at each split point
    head = prefix[:-1]
    between = head * head / k + (total - head) ** 2 / (n - k)
    between[s[1:] == s[:-1]] = -np.inf  # never split equal scores
    first_high = int(np.argmax(between)) + 1
    below, above = float(s[first_high - 1]), float(s[first_high])
    cut = (below + above) / 2
    if not math.isfinite(cut):  # the sum overflowed
        cut = below / 2 + above / 2
    if not below < cut <= above:  # adjacent floating-point numbers
        cut = above
    return cut


def high_low(
    scores: npt.ArrayLike,
    *,
    method: str = "kmeans",
    threshold: float | None = None,
) -> HighLow:
    """Split one dimension's scores into High and Low.

    Parameters
    ----------
    scores : array_like of float
        One score per customer; NaN, infinite or blank scores are reported as invalid.
    method : {"kmeans", "median", "threshold"}
        - ``"kmeans"`` (default): the two clusters with the least within-cluster sum of
          squares, found exactly (:func:`two_means_cut`: the global optimum of the
          problem scikit-learn's ``KMeans(n_clusters=2)`` approximates); High is the
          cluster with the higher centre. The cut is the midpoint between the highest
          Low and the lowest High score; equal scores are always on the same side.
        - ``"median"``: High when ``score >= median``; customers tied at the median are
          all High, so with many ties more than half can be High.
        - ``"threshold"``: High when ``score >= threshold``.
    threshold : float, optional
        Required for ``method="threshold"``, ignored otherwise.

    Returns
    -------
    HighLow

    Raises
    ------
    InputError
        Unknown method, or ``"threshold"`` without a finite threshold.

    Notes
    -----
    When the valid scores have fewer than two distinct values there is nothing to split:
    every valid customer is High (the cut is that value, and ``score >= cut`` holds, as
    with the median), and ``note`` says so.
    """
    name = str(method).strip().lower()
    if name not in HIGH_LOW_METHODS:
        raise InputError(
            f"High/Low method {method!r} is unknown",
            fix=f"Use one of: {', '.join(HIGH_LOW_METHODS)}.",
        )
    x = _as_float(scores, "scores")
    valid = np.isfinite(x)
    n_valid = int(valid.sum())

    if name == "threshold":
        if (
            threshold is None
            or isinstance(threshold, bool)
            or not isinstance(threshold, numbers.Real)
            or not math.isfinite(threshold)
        ):
            raise InputError(
                f"the threshold method needs a threshold number, got {threshold!r}",
                fix="Give the score from which a customer counts as High, e.g. 60.",
            )
        cut = float(threshold)
        return HighLow(_at_or_above(x, cut, valid), valid, cut, name)

    if n_valid == 0:
        return HighLow(np.zeros(len(x), dtype=bool), valid, math.nan, name, "no valid score")

    if name == "median":
        cut = float(np.median(x[valid]))
        note = ""
        if np.ptp(x[valid]) == 0:
            note = f"all {n_valid} valid scores are {cut:g}; everyone is High"
        return HighLow(_at_or_above(x, cut, valid), valid, cut, name, note)

    finite = x[valid]
    cut = two_means_cut(finite)
    note = ""
    if finite.min() == finite.max():  # not np.ptp: max - min can overflow
        note = f"all {n_valid} valid scores are {cut:g}; no split is possible, everyone is High"
    return HighLow(_at_or_above(x, cut, valid), valid, cut, name, note)


def _at_or_above(x: np.ndarray, cut: float, valid: np.ndarray) -> np.ndarray:
    # NaN >= cut is already False; the mask keeps +inf from counting as High.
    with np.errstate(invalid="ignore"):
        return (x >= cut) & valid


# --------------------------------------------------------------------------- the 8 types


@dataclass
class SegmentResult:
    """High/Low on every group and the resulting codes and types.

    Attributes
    ----------
    high : pandas.DataFrame
        One nullable-boolean column per group (True High, False Low, <NA> no valid score),
        indexed like the input.
    cuts : dict of str to float
        The boundary used per group (``score >= cut`` is High).
    type : pandas.Series
        Type number 1..8 (nullable ``Int64``); <NA> where a group score is invalid, and
        everywhere when there are not exactly three groups.
    code : pandas.Series
        High/Low letters in group order (``"HLH"``), one per group; ``?`` marks a group
        without a valid score.
    methods : dict of str to str
        The method used per group.
    problems : list of Problem
        Warnings: invalid scores, degenerate splits, a hierarchy without three groups.
    """

    high: pd.DataFrame
    cuts: dict[str, float]
    type: pd.Series
    code: pd.Series
    methods: dict[str, str]
    problems: list[Problem] = field(default_factory=list)

    def labels(self) -> pd.DataFrame:
        """``high`` as the words the Segments sheet shows: High, Low, or blank."""
        out = {}
        for group in self.high.columns:
            flags = self.high[group]
            words = np.where(flags.fillna(False).to_numpy(dtype=bool), "High", "Low")
            out[group] = np.where(flags.isna().to_numpy(), "", words)
        return pd.DataFrame(out, index=self.high.index)


def segment_types(
    group_scores: pd.DataFrame,
    *,
    groups: Sequence[str] = DEFAULT_GROUPS,
    method: str | Mapping[str, str] = "kmeans",
    thresholds: float | Mapping[str, float] | None = None,
    ids: Sequence[Any] | None = None,
    fit: npt.ArrayLike | None = None,
) -> SegmentResult:
    """High/Low on each first-level group score, then the High/Low code and type.

    Parameters
    ----------
    group_scores : pandas.DataFrame
        One row per customer, one column per group score.
    groups : sequence of str
        The group columns, in code order. For the eight types they are read as
        Qualification, Potential, Contribution, whatever they are called.
    method : str or mapping of str to str
        High/Low method for every group, or per group (see :func:`high_low`).
    thresholds : float or mapping of str to float, optional
        The cut for groups split by ``"threshold"``: one number for all, or per group.
    ids : sequence, optional
        CustomerID of each row, to name customers in problem messages (else positions).
    fit : array_like of bool, optional
        The customers whose scores place the cut of each split (all when omitted); the
        cut is then applied to every customer. Customers whose scores are mostly guesses
        (the pipeline's *Unrated*) must not move the boundary the others are judged by.

    Returns
    -------
    SegmentResult

    Raises
    ------
    InputError
        A group column is missing, no group is named, a method is unknown, or a
        threshold split has no threshold for its group.

    Notes
    -----
    Codes and types are produced for any number of groups (``2**g`` types, numbered as
    in :mod:`xlcrm.value.strategies`: type = 1 + the code read as a binary number with
    L = 1).
    """
    groups = list(groups)
    if not groups:
        raise InputError("no group to segment on", fix="Name at least one group score column.")
    missing = [g for g in groups if g not in group_scores.columns]
    if missing:
        raise InputError(
            f"group score column(s) {', '.join(map(repr, missing))} missing; the columns are"
            f" {', '.join(map(repr, map(str, group_scores.columns)))}",
            fix="Segment on the first-level groups of the hierarchy.",
        )
    problems: list[Problem] = []
    index = group_scores.index
    n = len(group_scores)
    high_cols: dict[str, pd.Series] = {}
    cuts: dict[str, float] = {}
    methods: dict[str, str] = {}
    high_matrix = np.zeros((n, len(groups)), dtype=bool)
    valid_matrix = np.zeros((n, len(groups)), dtype=bool)
    for j, group in enumerate(groups):
        group_method = method.get(group, "kmeans") if isinstance(method, Mapping) else method
        group_threshold = thresholds.get(group) if isinstance(thresholds, Mapping) else thresholds
        if str(group_method).strip().lower() == "threshold" and group_threshold is None:
            raise InputError(
                f"group {group!r} is split by a fixed threshold, but none is given for it",
                fix=f"Give a threshold for {group}, or use the kmeans or median method.",
            )
        column = _as_float(group_scores[group], group)
        result = high_low(
            column if fit is None else np.where(fit, column, np.nan),
            method=group_method,
            threshold=group_threshold,
        )
        if fit is not None:
            valid = np.isfinite(column)
            result = HighLow(_at_or_above(column, result.cut, valid), valid, result.cut,
                             result.method, result.note)
        high_matrix[:, j] = result.high
        valid_matrix[:, j] = result.valid
        flags = pd.array(result.high, dtype="boolean")
        flags[~result.valid] = pd.NA
        high_cols[group] = pd.Series(flags, index=index, name=group)
        cuts[group] = result.cut
        methods[group] = result.method
        invalid = ~result.valid
        if invalid.any():
            problems.append(
                Problem(
                    "warning",
                    f"{int(invalid.sum())} customer(s) have no valid {group} score"
                    f" ({_positions(invalid, ids)}); they get no {group} High/Low and no type",
                    "Fill in the indicators behind this group, or choose a missing-value"
                    " policy that imputes them.",
                )
            )
        if result.note:
            problems.append(
                Problem(
                    "warning",
                    f"{group}: {result.note}",
                    "Check the indicators of this group; scores that do not vary cannot"
                    " separate customers.",
                )
            )

    all_valid = valid_matrix.all(axis=1)
    # Bit j set = Low on group j, counted from the last group: the type formula for g = 3.
    weights = 1 << np.arange(len(groups) - 1, -1, -1, dtype=np.int64)
    low_index = (~high_matrix).astype(np.int64) @ weights
    g = len(groups)
    if g <= 16:  # a lookup table of every code: no sort of a million customers
        codes = np.array([_code(i, g) for i in range(1 << g)], dtype=object)[low_index]
    else:
        present, inverse = np.unique(low_index, return_inverse=True)
        codes = np.array([_code(int(i), g) for i in present], dtype=object)[inverse]
    for pos in np.flatnonzero(~all_valid):
        codes[pos] = "".join(
            ("H" if high_matrix[pos, j] else "L") if valid_matrix[pos, j] else "?"
            for j in range(len(groups))
        )
    code = pd.Series(codes, index=index, name="Code", dtype="str")

    values = pd.array(low_index + 1, dtype="Int64")
    values[~all_valid] = pd.NA
    types = pd.Series(values, index=index, name="Type")
    high = pd.DataFrame(high_cols, index=index)
    return SegmentResult(high, cuts, types, code, methods, problems)


def _code(low_index: int, g: int) -> str:
    return "".join("L" if low_index >> (g - 1 - j) & 1 else "H" for j in range(g))


# --------------------------------------------------------------------------- ABC / Pareto


@dataclass
class ABCResult:
    """ABC classes by cumulative value share.

    Attributes
    ----------
    abc : numpy.ndarray of str
        ``"A"``, ``"B"`` or ``"C"`` per customer, in input order.
    cumulative_share : numpy.ndarray of float
        Per customer: the share of total value held by it and every customer ranked above
        it. NaN where its value is invalid or the total is not positive.
    order : numpy.ndarray of int
        Input positions from the highest value down (ties in input order, invalid last).
    share : numpy.ndarray of float
        Per customer: its own share of the total (negative values count as 0).
    valid : numpy.ndarray of bool
        True where the value is a finite number.
    cutoffs : tuple of float
        The cumulative shares closing A and B.
    problems : list of Problem
        Warnings about invalid or negative values, or a total that is not positive.
    """

    abc: np.ndarray
    cumulative_share: np.ndarray
    order: np.ndarray
    share: np.ndarray
    valid: np.ndarray
    cutoffs: tuple[float, float]
    problems: list[Problem] = field(default_factory=list)


_SHARE_TOL = 1e-9
"""Cumulative shares within this (relative) distance of a cut-off count as reaching it,
so that a hand-made 80 % is not lost to floating-point rounding of the running sum."""


def _check_cutoffs(cutoffs: Sequence[float]) -> tuple[float, float]:
    try:
        a, b = (float(c) for c in cutoffs)
    except (TypeError, ValueError):
        raise InputError(
            f"ABC cut-offs must be two numbers, got {cutoffs!r}",
            fix="Give the cumulative shares closing A and B, e.g. 0.80 and 0.95.",
        ) from None
    # A == B leaves class B empty: two classes, strategic (A) and general (C), as the
    # industrial seller's model has them (xlcrm.value.presets).
    if not (0 < a <= b <= 1):
        raise InputError(
            f"ABC cut-offs {a:g} and {b:g} are not in order 0 < A <= B <= 1",
            fix="Give the cumulative shares closing A and B as fractions, e.g. 0.80 and 0.95 "
            "(B equal to A: no class B).",
        )
    return a, b


def abc_classes(
    values: npt.ArrayLike,
    *,
    cutoffs: Sequence[float] = (0.80, 0.95),
    ids: Sequence[Any] | None = None,
) -> ABCResult:
    """ABC classes: A up to 80 % of cumulative value, B up to 95 %, the rest C.

    Parameters
    ----------
    values : array_like of float
        Value (or revenue) per customer.
    cutoffs : pair of float
        Cumulative shares closing class A and class B, ``0 < A <= B <= 1``; with B equal
        to A class B is empty (two classes: A strategic, C general).
    ids : sequence, optional
        CustomerID of each value, to name customers in problem messages (else positions).

    Returns
    -------
    ABCResult

    Raises
    ------
    InputError
        When the cut-offs are not two numbers with ``0 < A <= B <= 1``.

    Notes
    -----
    Customers are ranked by value, highest first; equal values keep their input order,
    so the result never depends on the sort algorithm. A customer is **A while the
    cumulative share of the customers ranked above it is below the A cut-off** (the
    "before" convention): the customer whose value crosses 80 % is A, so class A always
    holds at least 80 % of the value, and a customer that starts exactly at 80 % is B.
    Likewise B while the share before it is below the B cut-off; the rest are C. When
    the running share hits a cut-off exactly, this agrees with the "including"
    convention (A while the share including the customer is at most 80 %); the two
    differ only for the customer that crosses it.

    A value that is NaN or infinite is class C, has no share, and is reported. A
    negative value counts as 0 for the shares (a customer cannot hold a negative share
    of value) but keeps its place in the ranking, below the zeros; zero and negative
    values therefore always fall in C. When no value is positive, every customer is C.
    Equal values straddling a cut-off get different classes, by input order.
    """
    a, b = _check_cutoffs(cutoffs)
    x = _as_float(values, "values")
    n = len(x)
    valid = np.isfinite(x)
    key = np.where(valid, -x, np.inf)
    order = np.argsort(key, kind="stable")
    clipped = np.where(valid, np.maximum(x, 0.0), 0.0)
    total = float(clipped.sum())
    problems: list[Problem] = []
    abc = np.full(n, "C", dtype="<U1")
    share = np.full(n, np.nan)
    cumulative = np.full(n, np.nan)
    if not valid.all():
        problems.append(
            Problem(
                "warning",
                f"{int((~valid).sum())} customer(s) have no valid value"
                f" ({_positions(~valid, ids)}); they are class C with no share",
                "Fill in the value, or check the indicators it comes from.",
            )
        )
    negative = valid & (x < 0)
    if negative.any():
        problems.append(
            Problem(
                "warning",
                f"{int(negative.sum())} customer(s) have a negative value"
                f" ({_positions(negative, ids)}); it counts as 0 in the value shares and they are"
                " class C",
                "Check these values; a customer cannot hold a negative share of the total.",
            )
        )
    if total <= 0:
        if n:
            problems.append(
                Problem(
                    "warning",
                    "no customer has a positive value, so there are no value shares; everyone"
                    " is class C",
                    "Check the values the ABC classes are based on.",
                )
            )
        return ABCResult(abc, cumulative, order, share, valid, (a, b), problems)
    ranked = clipped[order]
    running = np.cumsum(ranked)
    before = np.concatenate(([0.0], running[:-1]))
    tol = _SHARE_TOL * total
    ranked_class = np.where(
        before < a * total - tol, "A", np.where(before < b * total - tol, "B", "C")
    )
    # Invalid values are ranked last with value 0, so they are already C.
    abc[order] = ranked_class
    share[valid] = clipped[valid] / total
    cumulative[order] = running / total
    cumulative[~valid] = np.nan
    return ABCResult(abc, cumulative, order, share, valid, (a, b), problems)


def pareto_curve(values: npt.ArrayLike, points: int = 101) -> pd.DataFrame:
    """The Pareto (cumulative value) curve for the dashboard chart.

    Parameters
    ----------
    values : array_like of float
        Value per customer. Invalid values are left out; negative values count as 0.
    points : int
        Number of evenly spaced customer shares from 0 to 1 (>= 2).

    Returns
    -------
    pandas.DataFrame
        ``CustomerShare`` (0 .. 1) and ``ValueShare``: the share of total value held by
        that top fraction of customers, ranked by value (linear between customers).
        ValueShare is NaN when no value is positive.
    """
    if isinstance(points, bool) or not isinstance(points, numbers.Integral) or points < 2:
        raise InputError(
            f"the Pareto curve needs at least 2 points, got {points!r}",
            fix="Use e.g. 101 points (every percent).",
        )
    x = _as_float(values, "values")
    x = np.maximum(x[np.isfinite(x)], 0.0)
    grid = np.linspace(0.0, 1.0, int(points))
    total = float(x.sum())
    if total <= 0:
        return pd.DataFrame({"CustomerShare": grid, "ValueShare": np.full(len(grid), np.nan)})
    ranked = np.sort(x)[::-1]
    value_share = np.concatenate(([0.0], np.cumsum(ranked))) / total
    customer_share = np.arange(len(ranked) + 1) / len(ranked)
    curve = np.interp(grid, customer_share, value_share)
    return pd.DataFrame({"CustomerShare": grid, "ValueShare": curve})


# --------------------------------------------------------------------------- k-means profiles


@dataclass
class ProfileResult:
    """k-means clusters on standardised indicators.

    Attributes
    ----------
    labels : numpy.ndarray of int
        Cluster 0..k-1 per row; -1 for rows left out (a value missing).
    k : int
        Number of clusters.
    silhouette : dict of int to float
        Silhouette score per candidate k (only the given k when k was fixed).
    centers : pandas.DataFrame
        Per-cluster means of every column in original units, one row per cluster.
    sizes : pandas.Series
        Rows per cluster.
    problems : list of Problem
        Warnings (rows left out).
    """

    labels: np.ndarray
    k: int
    silhouette: dict[int, float]
    centers: pd.DataFrame
    sizes: pd.Series
    problems: list[Problem] = field(default_factory=list)


def _numeric_frame(data: pd.DataFrame) -> np.ndarray:
    # Columns of floats in one block (indicator scores) are used where they are: at
    # 1 048 576 customers and 12 indicators a copy is 100 MB at the run's peak. The array
    # may then be column-major; the slices given to scikit-learn are made row-major (see
    # _rows), so that every sum is taken in the same order as on a copy.
    if data.shape[1] and all(dtype == np.float64 for dtype in data.dtypes):
        return data.to_numpy()
    # Otherwise filled column by column: one n x p array at any time, not a list of
    # columns and a stacked copy (200 MB more at 1 048 576 customers and 12 indicators).
    out = np.empty((len(data), data.shape[1]))
    for j, name in enumerate(data.columns):
        column = data[name]
        if pd.api.types.is_bool_dtype(column) or pd.api.types.is_numeric_dtype(column):
            out[:, j] = column.to_numpy(dtype=float, na_value=np.nan)
            continue
        converted = pd.to_numeric(column, errors="coerce")
        bad = converted.isna().to_numpy() & column.notna().to_numpy()
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            raise InputError(
                f"column {name!r} holds text such as {column.iloc[first]!r} (position"
                f" {first + 1}); k-means profiles need numbers",
                fix="Choose numeric indicators (or their scores) for the profiles.",
            )
        out[:, j] = converted.to_numpy(dtype=float, na_value=np.nan)
    return out


def _rows(x: np.ndarray, which: slice | np.ndarray) -> np.ndarray:
    """Rows of ``x`` as a row-major array (a view when they are one already)."""
    return np.ascontiguousarray(x[which])


def kmeans_profiles(
    data: pd.DataFrame,
    *,
    k: int | None = None,
    k_range: Iterable[int] = range(2, 9),
    random_state: int = 0,
    sample_size: int = 2_000,
    fit_size: int = 5_000,
    ids: Sequence[Any] | None = None,
) -> ProfileResult:
    """Cluster customers on chosen indicators; k by silhouette unless given.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per customer, one numeric column per chosen indicator.
    k : int, optional
        Number of clusters; chosen by the highest silhouette over ``k_range`` when None.
    k_range : iterable of int
        Candidate k (values below 2 or above what the data allow are skipped).
    random_state : int
        Seed for the row sample, k-means and the silhouette sample.
    sample_size : int
        Rows on which each silhouette score is computed (it costs O(n²)).
    fit_size : int
        Rows on which k-means is fitted; all rows are then assigned to the nearest centre.
    ids : sequence, optional
        CustomerID of each row, to name customers in problem messages (else positions).

    Returns
    -------
    ProfileResult

    Raises
    ------
    InputError
        A column that is not numeric, fewer than 3 complete rows, a given k below 2 or
        above the number of distinct rows, or no usable k in ``k_range``.

    Notes
    -----
    Columns are standardised (scikit-learn ``StandardScaler``, on all complete rows) so
    that no indicator dominates by its units. Rows with a missing value are left out
    and labelled -1.

    k-means is fitted on at most ``fit_size`` complete rows drawn at random with
    ``random_state`` and then assigns every row to its nearest centre: on 1 048 576 rows
    this costs about as much as on 5 000, and the centres differ from a full fit by
    sampling noise only. Choosing k, each candidate gets 3 k-means++ starts and is scored
    by its silhouette on one fixed sample of ``sample_size`` of those rows (the same
    customers for every k); the chosen k is then refitted with 10 starts, and its
    silhouette in the result is that of the refit. Ties in silhouette go to the smaller k.

    ``centers`` are the means of the rows assigned to each cluster, in original units.
    Clusters are numbered by their mean standardised value over all columns, highest
    first (ties by the centres in column order), so the numbering does not depend on
    k-means' internal labels.
    """
    from sklearn.cluster import KMeans  # here, not at the top: see the module docstring
    from sklearn.metrics import pairwise_distances, silhouette_score
    from sklearn.preprocessing import StandardScaler

    k_range = list(k_range)
    for name, size in (("sample_size", sample_size), ("fit_size", fit_size)):
        if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 10:
            raise InputError(
                f"{name} must be a whole number of at least 10, got {size!r}",
                fix="Leave it at its default.",
            )
    x = _numeric_frame(data)
    n, p = x.shape
    if p == 0:
        raise InputError("no column to cluster on", fix="Choose at least one indicator.")
    complete = np.isfinite(x).all(axis=1)
    problems: list[Problem] = []
    if not complete.all():
        problems.append(
            Problem(
                "warning",
                f"{int((~complete).sum())} customer(s) have a missing value among"
                f" {', '.join(map(str, data.columns))} ({_positions(~complete, ids)});"
                " they are left out of the profiles (cluster -1)",
                "Fill in the values, or profile on the scores, which are imputed.",
            )
        )
    rows = x if complete.all() else x[complete]
    del x
    if len(rows) < 3:
        raise InputError(
            f"k-means profiles need at least 3 customers with complete values, found {len(rows)}",
            fix="Fill in the chosen indicators, or choose others.",
        )
    # Standardised a slice at a time (the fit sample, then every row when assigned), never
    # as a second n x p array: at 1 048 576 customers that is the run's peak memory.
    scaler = StandardScaler()
    for start in range(0, len(rows), _ROWS_PER_SLICE):
        scaler.partial_fit(_rows(rows, slice(start, start + _ROWS_PER_SLICE)))
    rng = np.random.default_rng(random_state)
    if len(rows) > fit_size:
        fit_rows = scaler.transform(_rows(rows, np.sort(rng.choice(len(rows), size=fit_size,
                                                                   replace=False))))
    else:
        fit_rows = scaler.transform(_rows(rows, slice(None)))
    distinct = len(np.unique(fit_rows, axis=0))

    if k is not None:
        if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 2:
            raise InputError(
                f"k must be a whole number of at least 2, got {k!r}",
                fix="Use e.g. 3, or leave k blank to choose it by silhouette.",
            )
        if k > distinct:
            raise InputError(
                f"k = {k} clusters asked for, but the data have only {distinct} distinct rows",
                fix=f"Use k of at most {distinct}.",
            )
        candidates = [int(k)]
    else:
        upper = min(distinct, len(fit_rows) - 1)
        candidates = sorted({int(c) for c in k_range if 2 <= int(c) <= upper})
        if not candidates:
            raise InputError(
                f"no k in {list(k_range)!r} fits data with {distinct} distinct rows",
                fix="Give k between 2 and the number of distinct customers minus 1.",
            )

    silhouette: dict[int, float] = {}
    # One silhouette sample for every k: its distances are computed once (they are most
    # of the cost), and all candidates are judged on the same customers.
    if len(fit_rows) > sample_size:
        judged = np.sort(rng.choice(len(fit_rows), size=sample_size, replace=False))
    else:
        judged = np.arange(len(fit_rows))
    with _one_thread():
        distances = pairwise_distances(fit_rows[judged])

    def fit(c: int, n_init: int) -> KMeans:
        model = KMeans(n_clusters=c, n_init=n_init, random_state=random_state).fit(fit_rows)
        try:
            silhouette[c] = float(
                silhouette_score(distances, model.labels_[judged], metric="precomputed")
            )
        except ValueError:  # the sample caught a single cluster
            silhouette[c] = math.nan
        return model

    with _one_thread():
        if len(candidates) > 1:
            # Scanning k needs a good clustering per k, not the best of 10 starts.
            for c in candidates:
                fit(c, _N_INIT_SCAN)
            scored = [c for c in candidates if not math.isnan(silhouette[c])]
            best = max(scored, key=lambda c: (silhouette[c], -c)) if scored else candidates[0]
        else:
            best = candidates[0]
        model = fit(best, _N_INIT)
        raw = np.empty(len(rows), dtype=np.int64)
        z_sums = np.zeros((best, p))
        for start in range(0, len(rows), _ROWS_PER_SLICE):
            z = scaler.transform(_rows(rows, slice(start, start + _ROWS_PER_SLICE)))
            raw[start:start + len(z)] = part = model.predict(z)
            for j in range(p):
                z_sums[:, j] += np.bincount(part, weights=z[:, j], minlength=best)
    counts = np.bincount(raw, minlength=best)
    with np.errstate(invalid="ignore", divide="ignore"):
        z_means = np.where(counts[:, None] > 0, z_sums / counts[:, None], -np.inf)
    # Highest overall standardised level first; np.lexsort's last key is the primary one.
    keys = [-z_means[:, j] for j in range(p - 1, -1, -1)] + [-z_means.mean(axis=1)]
    rank = np.empty(best, dtype=np.int64)
    rank[np.lexsort(keys)] = np.arange(best)
    assigned = rank[raw]
    labels = np.full(n, -1, dtype=np.int64)
    labels[complete] = assigned

    frame = pd.DataFrame(rows, columns=data.columns, copy=False)
    centers = frame.groupby(assigned).mean().reindex(range(best))
    centers.index.name = "Cluster"
    sizes = pd.Series(np.bincount(assigned, minlength=best), name="Size")
    sizes.index.name = "Cluster"
    return ProfileResult(labels, best, silhouette, centers, sizes, problems)


# --------------------------------------------------------------------------- validation

VALIDATION_COLUMNS = (
    "Dimension", "Test", "Statistic", "PValue", "EffectSize", "Effect", "Magnitude", "Verdict",
    "Note", "Groups",
)
EFFECT_THRESHOLDS = {
    "Cohen's d": (0.2, 0.5, 0.8),
    "eta squared": (0.01, 0.06, 0.14),
    "epsilon squared": (0.01, 0.06, 0.14),
}
"""Where a small, medium and large effect begin (Cohen 1988: d 0.2/0.5/0.8, eta squared
0.01/0.06/0.14; epsilon squared is read on the eta-squared scale, as Tomczak & Tomczak 2014
advise). Below the first an effect is negligible."""


def magnitude(effect: str, size: float) -> str:
    """``"negligible"``, ``"small"``, ``"medium"`` or ``"large"`` by :data:`EFFECT_THRESHOLDS`."""
    if math.isnan(size):
        return ""
    small, medium, large = EFFECT_THRESHOLDS[effect]
    size = abs(size)
    return ("large" if size >= large else "medium" if size >= medium
            else "small" if size >= small else "negligible")


def _verdict(p_value: float, alpha: float, size_word: str = "") -> str:
    """The verdict in words, from the p-value and the effect's magnitude together.

    With thousands of customers every difference is significant, so a small p alone says
    nothing about whether the segments differ enough to treat them differently.
    """
    if math.isnan(p_value):
        return "undefined"
    if p_value >= alpha:
        return "no significant difference"
    if size_word == "negligible":
        return "differ in name only: the effect is negligible"
    return f"differ ({size_word} effect)" if size_word else "differ"


def cohens_d(high: np.ndarray, low: np.ndarray) -> float:
    """Cohen's d: the difference of the means in pooled standard deviations (Cohen 1988)."""
    n1, n2 = len(high), len(low)
    pooled = ((n1 - 1) * np.var(high, ddof=1) + (n2 - 1) * np.var(low, ddof=1)) / (n1 + n2 - 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        return float((np.mean(high) - np.mean(low)) / np.sqrt(pooled))


def eta_squared(f: float, groups: int, n: int) -> float:
    """Eta squared of a one-way ANOVA from its F: SS between / SS total."""
    between, within = groups - 1, n - groups
    return f * between / (f * between + within) if within > 0 else math.nan


def epsilon_squared(h: float, n: int) -> float:
    """Epsilon squared of a Kruskal-Wallis test, H / (n - 1) (Tomczak & Tomczak 2014)."""
    return h / (n - 1) if n > 1 else math.nan


def _type_keys(types: npt.ArrayLike) -> np.ndarray:
    """Type numbers as floats, NaN where a customer has no type."""
    if isinstance(types, pd.Series | pd.Index | pd.api.extensions.ExtensionArray):
        return np.asarray(pd.Series(types).astype("Float64").to_numpy(dtype=float, na_value=np.nan))
    return _as_float(np.asarray(types, dtype=object), "types")


def kruskal_wallis(*samples: np.ndarray) -> tuple[float, float]:
    """Kruskal-Wallis H (tie-corrected) and its p-value, of two or more samples of finite
    scores.

    The figures of ``scipy.stats.kruskal`` to the last bit (tested: the same ranks, tie
    counts and sums in the same order), ranked by one unstable sort where scipy sorts
    stably: 0.5 s of the run at 1,048,576 customers for the three dimensions, now half.
    When every score is the same there is nothing to rank: H is not finite, as scipy's.
    """
    from scipy import special  # here, not at the top: see the module docstring

    sizes = [len(sample) for sample in samples]
    total = sum(sizes)
    data = np.concatenate(samples).astype(float, copy=False)
    order, starts, counts = tie_groups(data)
    ranked = np.empty(total)
    ranked[order] = np.repeat(starts + 1.0 + (counts - 1.0) / 2, counts)
    ties = np.zeros(total)
    ties[starts] = counts
    correction = 1 - np.sum(ties**3 - ties) / (total**3 - total)
    ends = np.cumsum([0, *sizes])
    ssbn = sum(np.sum(ranked[ends[i]:ends[i + 1]]) ** 2 / sizes[i] for i in range(len(sizes)))
    with np.errstate(invalid="ignore", divide="ignore"):
        h = (12.0 / (total * (total + 1)) * ssbn - 3 * (total + 1)) / correction
    return float(h), float(special.chdtrc(np.asarray(len(sizes) - 1, dtype=float), h))


def validate_segments(
    group_scores: pd.DataFrame,
    high: pd.DataFrame,
    types: npt.ArrayLike | None,
    *,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Do the segments really differ? Tests per dimension, with p-values.

    Parameters
    ----------
    group_scores : pandas.DataFrame
        The scores the segments were made from, one column per dimension.
    high : pandas.DataFrame
        High flags per dimension (its columns must be in ``group_scores``), as in
        :attr:`SegmentResult.high`; <NA> rows are left out. Rows match by position.
    types : array_like of int, optional
        Type per customer (<NA> left out); the across-type tests are skipped when None.
    alpha : float
        Significance level of the verdict.

    Returns
    -------
    pandas.DataFrame
        One row per dimension and test: ``Dimension``, ``Test`` (Welch's t-test between
        High and Low, two-sided; one-way ANOVA and Kruskal-Wallis across the types),
        ``Statistic``, ``PValue``, ``EffectSize`` and ``Effect`` (Cohen's d for High vs
        Low, eta squared for ANOVA, epsilon squared for Kruskal-Wallis), ``Magnitude``
        (negligible, small, medium, large: :data:`EFFECT_THRESHOLDS`), ``Verdict``
        ("differ (large effect)" when p < alpha and the effect is not negligible,
        "differ in name only: the effect is negligible" when it is,
        "no significant difference", "skipped" when a test could not run, "undefined"
        when the scores do not vary), ``Note`` and ``Groups`` (the group sizes; last, as
        the widest).

    Notes
    -----
    High and Low are cut from the very score tested, so a High-vs-Low difference is
    expected; the test flags a split that failed (e.g. all customers on one side), so
    Welch's t-test (O(n)) is used there rather than Mann-Whitney U, which ranks all
    scores and cost 0.4 s per dimension on 1 048 576 customers. The across-type tests
    are the informative ones; Kruskal-Wallis is the one that does not assume normal
    scores. Groups with fewer than 2 customers are
    left out of a test with a note; a test with fewer than 2 groups left is skipped.
    """
    from scipy import stats  # here, not at the top: see the module docstring

    n = len(group_scores)
    type_keys = None if types is None else _type_keys(types)
    if len(high) != n or (type_keys is not None and len(type_keys) != n):
        raise InputError(
            "scores, High flags and types must have one row per customer each (lengths"
            f" {n}, {len(high)}, {'-' if type_keys is None else len(type_keys)})",
            fix="Pass the results of one segmentation run.",
        )
    rows: list[dict[str, object]] = []

    def add(
        dim: str,
        test: str,
        stat: float,
        p: float,
        groups: str,
        *,
        verdict: str = "",
        note: str = "",
        effect: str = "",
        size: float = math.nan,
    ) -> None:
        word = magnitude(effect, size) if effect else ""
        rows.append(
            dict(
                zip(
                    VALIDATION_COLUMNS,
                    (dim, test, stat, p, size, effect, word,
                     verdict or _verdict(p, alpha, word), note, groups),
                    strict=True,
                )
            )
        )

    for dim in high.columns:
        if dim not in group_scores.columns:
            raise InputError(
                f"no scores for dimension {dim!r}",
                fix="Pass the group scores the High flags were made from.",
            )
        score = _as_float(group_scores[dim], f"{dim} scores")
        flags = high[dim].astype("boolean")
        known = np.isfinite(score) & ~flags.isna().to_numpy(dtype=bool)
        is_high = flags.fillna(False).to_numpy(dtype=bool) & known
        hi, lo = score[is_high], score[known & ~is_high]
        test = "Welch t (High vs Low)"
        groups_text = f"High {len(hi)}, Low {len(lo)}"
        if len(hi) < 2 or len(lo) < 2:
            add(
                dim,
                test,
                math.nan,
                math.nan,
                groups_text,
                verdict="skipped",
                note="High or Low has fewer than 2 customers",
            )
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # constant input is reported as undefined
                result = stats.ttest_ind(hi, lo, equal_var=False)
            stat, p = float(result.statistic), float(result.pvalue)
            note = "scores do not vary within High and Low" if math.isnan(p) else ""
            add(dim, test, stat, p, groups_text, note=note, effect="Cohen's d",
                size=cohens_d(hi, lo))

        if type_keys is None:
            continue
        usable = np.isfinite(score) & np.isfinite(type_keys)
        samples: list[np.ndarray] = []
        sizes: list[str] = []
        too_small: list[str] = []
        for t in np.unique(type_keys[usable]):
            members = score[usable & (type_keys == t)]
            if len(members) >= 2:
                samples.append(members)
                sizes.append(f"{int(t)}: {len(members)}")
            else:
                too_small.append(str(int(t)))
        note = (
            f"type(s) {', '.join(too_small)} left out (fewer than 2 customers)" if too_small else ""
        )
        groups_text = "types " + ", ".join(sizes) if sizes else "no type"
        used = sum(len(m) for m in samples)
        for test, func, effect in (
            ("ANOVA (types)", stats.f_oneway, "eta squared"),
            ("Kruskal-Wallis (types)", kruskal_wallis, "epsilon squared"),
        ):
            if len(samples) < 2:
                reason = "fewer than 2 types with at least 2 customers"
                add(
                    dim,
                    test,
                    math.nan,
                    math.nan,
                    groups_text,
                    verdict="skipped",
                    note=f"{reason}; {note}" if note else reason,
                )
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # constant input is reported as undefined
                try:
                    stat, p = (float(v) for v in func(*samples)[:2])
                except ValueError:  # kruskal: all values identical
                    stat, p = math.nan, math.nan
            if stat < 0:  # F or H cannot be negative: rounding of equal group means
                stat, p = 0.0, 1.0
            test_note = note
            if math.isnan(p):
                reason = "scores do not vary within the types"
                test_note = f"{reason}; {note}" if note else reason
            size = (eta_squared(stat, len(samples), used) if effect == "eta squared"
                    else epsilon_squared(stat, used))
            add(dim, test, stat, p, groups_text, note=test_note, effect=effect, size=size)
    return pd.DataFrame(rows, columns=list(VALIDATION_COLUMNS))


# --------------------------------------------------------------------------- summaries

SUMMARY_COLUMNS = ("Segment", "Count", "CustomerShare", "Value", "ValueShare", "MeanValue")


def _summary(
    keys: pd.Series, order: list[object], labels: list[str], value: np.ndarray
) -> pd.DataFrame:
    """Summary rows for ``order``; ``keys`` holds one key per customer."""
    n = len(keys)
    total = float(np.nansum(value))
    grouped = pd.DataFrame({"key": keys.to_numpy(dtype=object), "value": value}).groupby(
        "key", sort=False
    )["value"]
    counts = grouped.size().to_dict()
    sums = grouped.sum().to_dict()  # NaN values add nothing
    means = grouped.mean().to_dict()  # over the non-NaN values
    out = []
    for key, label in zip(order, labels, strict=True):
        count = int(counts.get(key, 0))
        value_sum = float(sums.get(key, 0.0))
        out.append(
            (
                label,
                count,
                count / n if n else math.nan,
                value_sum,
                value_sum / total if total != 0 else math.nan,
                float(means.get(key, math.nan)),
            )
        )
    return pd.DataFrame(out, columns=list(SUMMARY_COLUMNS))


def summarise_segments(
    types: npt.ArrayLike | None,
    abc: npt.ArrayLike | None,
    values: npt.ArrayLike,
    customer_types: Iterable[CustomerType] = DEFAULT_TYPES,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Count, customer share, value and value share per type and per ABC class.

    Parameters
    ----------
    types : array_like of int, optional
        Type number per customer (<NA> for customers without a type).
    abc : array_like of str, optional
        ``"A"``, ``"B"`` or ``"C"`` per customer.
    values : array_like of float
        Value per customer. A NaN value counts as a customer but adds no value.
    customer_types : iterable of CustomerType
        For the type codes and names in the labels.

    Returns
    -------
    by_type, by_abc : pandas.DataFrame
        Columns ``Segment`` (``"1 HHH Star"``, ``"A Strategic"``), ``Count``,
        ``CustomerShare``, ``Value`` (sum), ``ValueShare``, ``MeanValue``.
        ``by_type`` has every type 1..8, zero counts included, indexed by type number,
        plus a row "No type" (index <NA>) when some customers have none; ``by_abc`` has
        A, B and C, indexed by letter. An empty frame for ``types`` or ``abc`` None.
        Shares are of all customers and of the total value, so they add up to 1.
    """
    value = _as_float(values, "values")
    n = len(value)
    empty = pd.DataFrame(columns=list(SUMMARY_COLUMNS))

    by_type = empty
    if types is not None:
        type_keys = _type_keys(types)
        if len(type_keys) != n:
            raise InputError(
                f"{len(type_keys)} types for {n} values",
                fix="Pass one type and one value per customer.",
            )
        named = types_by_number(customer_types)
        keys = pd.Series(np.where(np.isnan(type_keys), -1, np.nan_to_num(type_keys)), dtype=int)
        order: list[object] = list(range(1, 9))
        labels = [
            f"{t} {named[t].code} {named[t].name}" if t in named else f"Type {t}"
            for t in range(1, 9)
        ]
        index: list[object] = list(range(1, 9))
        if np.isnan(type_keys).any():
            order.append(-1)
            labels.append("No type")
            index.append(pd.NA)
        by_type = _summary(keys, order, labels, value)
        by_type.index = pd.Index(pd.array(index, dtype="Int64"), name="Type")

    by_abc = empty
    if abc is not None:
        classes = pd.Series(np.asarray(abc, dtype=object))
        if len(classes) != n:
            raise InputError(
                f"{len(classes)} ABC classes for {n} values",
                fix="Pass one class and one value per customer.",
            )
        letters = list(ABC_CLASSES)
        by_abc = _summary(classes, letters, [f"{c} {ABC_CLASSES[c]}" for c in letters], value)
        by_abc.index = pd.Index(letters, name="ABC")
    return by_type, by_abc
