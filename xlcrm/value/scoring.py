"""Indicator scores (0..100), group scores, value score, rank and percentile.

Each indicator of a :class:`~xlcrm.value.hierarchy.Hierarchy` turns one ledger column into
scores from 0 (worst) to 100 (best):

``minmax``
    ``(x - lo) / (hi - lo) * 100`` with ``lo``/``hi`` the smallest and largest value in
    the column, or the fixed ``lower``/``upper`` of the indicator (values outside a fixed
    scale are clipped to it and reported as a warning). Cost direction: ``100 - score``.
    When every value is equal there is nothing to tell customers apart: all score 50,
    the middle of the scale (the same as a percentile rank of all-tied values), and a
    warning says so.
``percentile``
    ``(average rank - 1) / (n - 1) * 100`` over the ``n`` customers with a value: the
    lowest scores 0, the highest 100, ties share the mean of their ranks; equal to
    Excel's ``PERCENTRANK.INC`` when there are no ties. One value alone scores 50.
    Cost direction: ``100 - score``.
``bands``
    Points of the band the value falls in; a value equal to a threshold belongs to the
    band above it (``<0.05: 40; else: 70`` gives 0.05 -> 70).
``rubric``
    Points of the label, matched ignoring case, surrounding spaces and repeated inner
    spaces. A label not in the rubric is reported with the allowed labels.

Values are read as a sheet hands them over: numbers, text, blanks. Text that reads as
a number is accepted (``" 35 "``, ``"1,200.50"``, ``"1 200"``, ``"12%"`` = 0.12); any
other text in a numeric column (``"abc"``, a decimal comma ``"1,5"``), a TRUE/FALSE, a
date, an infinite number, or a negative value in a ``nonnegative`` indicator is reported
with its cell and then counts as missing. It is never read as zero.

Missing values (:data:`MISSING_POLICIES`) are always flagged in ``ScoreResult.imputed``:

``"median"`` (default)
    The median score of that indicator among the customers who have a value. A gap then
    neither rewards nor punishes a customer relative to its peers, which suits ledgers
    where gaps mostly mean "not yet collected".
``"zero"``
    The worst score, 0: a conservative choice that makes gaps cost the customer.
``"exclude"``
    The indicator is left out for that customer and the weights of the indicators it
    has in that group are rescaled to sum to 1. Group weights keep their AHP meaning;
    a customer with no value at all in a group gets no group score, and its value score
    is taken over the groups it has (rescaled the same way).

Composite (DESIGN.md §2.5): group score = Σ local weight × indicator score; value
score = Σ group weight × group score (= Σ global weight × indicator score when nothing
is excluded); rank 1 = the highest value (ties share the best rank); percentile as the
percentile method above, 100 = best.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from xlcrm.errors import InputError, Problem, Severity, cell_address, column_letter
from xlcrm.value.hierarchy import (
    NUMBER_RE,
    THOUSANDS_RE,
    Hierarchy,
    Indicator,
    label_key,
    parse_number,
)

MISSING_POLICIES: tuple[str, ...] = ("median", "zero", "exclude")

# Why a value could not be used (0 = it could).
_OK, _NOT_NUMBER, _DECIMAL_COMMA, _NOT_FINITE, _NEGATIVE, _WRONG_TYPE, _UNKNOWN_LABEL = range(7)

_WEIGHT_TOLERANCE = 1e-6


@dataclass(frozen=True)
class CellIssue:
    """One problem with one value of a column.

    Parameters
    ----------
    row : int or None
        0-based position in the values; ``None`` for the column as a whole.
    message : str
        What is wrong (the value is quoted; the indicator is not named).
    fix : str
        What to do.
    severity : {"error", "warning"}
        ``"error"``: the value was not used (it counts as missing). ``"warning"``: it was
        used as described in the message.
    """

    row: int | None
    message: str
    fix: str
    severity: Severity = "error"


@dataclass
class ScoredIndicator:
    """Scores of one indicator for a column of values.

    Attributes
    ----------
    scores : ndarray of float
        0..100; NaN where the value is missing or unusable (no policy applied yet).
    missing : ndarray of bool
        No usable value: blank or invalid.
    invalid : ndarray of bool
        A value was there but could not be used (reported in ``issues``).
    issues : list of CellIssue
        Unusable values, out-of-scale values and column-wide remarks.
    """

    scores: np.ndarray
    missing: np.ndarray
    invalid: np.ndarray
    issues: list[CellIssue] = field(default_factory=list)


@dataclass
class ScoreResult:
    """Everything :func:`score_customers` computes; all tables share the customers' index.

    Attributes
    ----------
    indicator_scores : DataFrame
        One column per indicator name, 0..100, missing values filled by the policy
        (NaN under ``"exclude"``).
    imputed : DataFrame of bool
        Same shape: True where the value was missing or unusable and the policy applied.
    group_scores : DataFrame
        One column per group, 0..100 (NaN only under ``"exclude"`` for a customer with
        no value in the group).
    value : Series
        Composite value score, 0..100.
    rank : Series of Int64
        1 = highest value; ties share the best rank (``method="min"``).
    percentile : Series
        ``(average rank - 1) / (n - 1) * 100`` by value, 100 = best.
    imputed_count : Series of int
        Number of imputed (or excluded) indicators per customer.
    problems : list of Problem
        Every bad cell, missing column and missing-value summary, with sheet and cell.
    global_weights : Series
        Indicator name -> group weight × local weight.
    fill_values : Series
        Indicator name -> the score given to missing values (NaN under ``"exclude"``
        or when the indicator has no gap).
    missing_policy : str
        The policy used.
    """

    indicator_scores: pd.DataFrame
    imputed: pd.DataFrame
    group_scores: pd.DataFrame
    value: pd.Series
    rank: pd.Series
    percentile: pd.Series
    imputed_count: pd.Series
    problems: list[Problem]
    global_weights: pd.Series
    fill_values: pd.Series
    missing_policy: str


# --------------------------------------------------------------------------- reading values


def _as_series(values: Any) -> pd.Series:
    if isinstance(values, pd.Series):
        return values.reset_index(drop=True)
    if isinstance(values, pd.Index):
        return pd.Series(values)
    arr = np.asarray(values, dtype=object) if isinstance(values, list) else np.asarray(values)
    if arr.ndim != 1:
        arr = arr.reshape(-1)
    return pd.Series(arr, copy=False)


def _null_mask(arr: np.ndarray) -> np.ndarray:
    return np.asarray(pd.isna(arr), dtype=bool)


def _classify(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Masks of strings, booleans and everything else in an object array.

    One ``type()`` pass, then a decision per distinct type (a column holds a handful),
    which is ~10x faster than a Python predicate per cell.
    """
    types = pd.Series(arr, dtype=object, copy=False).map(type)
    codes, uniques = pd.factorize(types)
    text_u = np.array([issubclass(t, str) for t in uniques] + [False])
    bool_u = np.array([issubclass(t, (bool, np.bool_)) for t in uniques] + [False])
    is_text, is_bool = text_u[codes], bool_u[codes]
    return is_text, is_bool, ~(is_text | is_bool)


def _parse_text(text: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Numbers from an array of strings: ``(values, blank, reason)``, vectorised.

    Mirrors :func:`xlcrm.value.hierarchy.parse_number`; the common case (plain numbers) is
    parsed in one pass and only the rest goes through the slower cleaning steps.
    """
    n = text.size
    values = np.full(n, np.nan)
    blank = np.zeros(n, dtype=bool)
    reason = np.zeros(n, dtype=np.int8)
    if n == 0:
        return values, blank, reason
    s = pd.Series(text, dtype=object)
    first = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)
    done = np.isfinite(first)
    values[done] = first[done]
    rest = np.flatnonzero(~done)
    if rest.size == 0:
        return values, blank, reason
    r = s.iloc[rest].str.strip()
    is_blank = (r == "").to_numpy(dtype=bool)
    pct = r.str.endswith("%").to_numpy(dtype=bool)
    r = r.where(~pct, r.str[:-1].str.rstrip())
    grouped = r.str.fullmatch(THOUSANDS_RE).to_numpy(dtype=bool)
    r = r.where(~grouped, r.str.replace(r"[,\u00a0\u202f ]", "", regex=True))
    plain = r.str.fullmatch(NUMBER_RE).to_numpy(dtype=bool)
    parsed = np.array(pd.to_numeric(r.where(plain), errors="coerce"), dtype=float)
    if pct.any():
        # Exact decimal shift, as parse_number does ("5%" is float("0.05")).
        for k in np.flatnonzero(pct & plain):
            parsed[k] = parse_number(text[rest[k]])  # type: ignore[assignment]
    comma = r.str.contains(",", regex=False).to_numpy(dtype=bool)
    why = np.where(
        is_blank,
        _OK,
        np.where(
            ~plain,
            np.where(comma, _DECIMAL_COMMA, _NOT_NUMBER),
            np.where(np.isfinite(parsed), _OK, _NOT_FINITE),
        ),
    ).astype(np.int8)
    ok = why == _OK
    values[rest[ok & ~is_blank]] = parsed[ok & ~is_blank]
    blank[rest[is_blank]] = True
    reason[rest] = why
    return values, blank, reason


def parse_numeric(values: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read a column of sheet values as numbers.

    Parameters
    ----------
    values : array-like or Series
        Floats, ints, text, ``None``/NaN (blank), as a sheet reader hands them over.

    Returns
    -------
    numbers : ndarray of float
        NaN where blank or unusable.
    blank : ndarray of bool
        Empty cells (``None``, NaN, empty or all-space text).
    reason : ndarray of int8
        0 where the value is usable or blank, otherwise why it is not (used by
        :func:`score_values` to word its messages).
    """
    s = _as_series(values)
    n = len(s)
    dtype = s.dtype
    reason = np.zeros(n, dtype=np.int8)
    if ptypes.is_bool_dtype(dtype):
        blank = _null_mask(s.to_numpy(dtype=object))
        reason[~blank] = _WRONG_TYPE
        return np.full(n, np.nan), blank, reason
    if ptypes.is_numeric_dtype(dtype):
        x = s.to_numpy(dtype=float, na_value=np.nan).copy()
        blank = np.isnan(x)
        inf = np.isinf(x)
        reason[inf] = _NOT_FINITE
        x[inf] = np.nan
        return x, blank, reason
    if ptypes.is_datetime64_any_dtype(dtype) or isinstance(dtype, pd.PeriodDtype):
        blank = np.asarray(s.isna(), dtype=bool)
        reason[~blank] = _WRONG_TYPE
        return np.full(n, np.nan), blank, reason

    arr = s.to_numpy(dtype=object)
    kind = ptypes.infer_dtype(arr, skipna=True)
    if kind in ("floating", "integer", "mixed-integer-float", "decimal"):
        return parse_numeric(pd.to_numeric(pd.Series(arr, dtype=object), errors="coerce"))
    x = np.full(n, np.nan)
    blank = _null_mask(arr)
    if kind == "empty":
        return x, blank | True, reason
    if kind == "string":
        is_text, is_num = ~blank, np.zeros(n, dtype=bool)
    else:
        is_text, _, is_num = _classify(arr)
        is_num &= ~blank
    if is_num.any():
        # Numbers of any numeric type; dates, times and other objects come back NaN
        # here and are reported below as not numbers.
        got = pd.to_numeric(pd.Series(arr[is_num], dtype=object), errors="coerce")
        got = got.to_numpy(dtype=float, na_value=np.nan)
        idx = np.flatnonzero(is_num)
        ok = np.isfinite(got)
        x[idx[ok]] = got[ok]
        reason[idx[~ok]] = np.where(np.isinf(got[~ok]), _NOT_FINITE, _WRONG_TYPE)
    if is_text.any():
        idx = np.flatnonzero(is_text)
        tv, tb, tr = _parse_text(arr[idx])
        x[idx] = tv
        blank[idx] = tb
        reason[idx] = tr
    reason[~(blank | is_num | is_text)] = _WRONG_TYPE
    return x, blank, reason


def show_value(value: Any) -> str:
    """A sheet value as the analyst would recognise it in a message."""
    if isinstance(value, (bool, np.bool_)):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (datetime, date, time, pd.Timestamp)):
        return value.isoformat()
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "…"
        return f"'{shown}'"
    if isinstance(value, (float, np.floating)):
        return f"{float(value):g}"
    return str(value)


_NUMBER_FIX = (
    "Type a number (like 1200 or 1,200.50, with a point for decimals), or clear the cell "
    "if unknown; until then it counts as missing."
)


def _numeric_message(code: int, raw: Any, ind: Indicator) -> tuple[str, str]:
    shown = show_value(raw)
    if code == _DECIMAL_COMMA:
        return (
            f"{shown} has a comma that is not a thousands separator",
            "Write decimals with a point (1.5, not 1,5); until then it counts as missing.",
        )
    if code == _NOT_FINITE:
        return f"{shown} is not a finite number", _NUMBER_FIX
    if code == _NEGATIVE:
        return (
            f"{shown} is an impossible negative value for {ind.column}",
            "Correct the value (it cannot be below zero), or clear the cell if unknown; "
            "until then it counts as missing.",
        )
    if code == _WRONG_TYPE:
        return f"{shown} is not a number", _NUMBER_FIX
    return f"{shown} is not a number", _NUMBER_FIX


def _issues_for(
    reason: np.ndarray,
    raw: pd.Series,
    word: Any,
    max_issues: int | None,
) -> list[CellIssue]:
    """Itemise the rows with a nonzero reason, up to ``max_issues``, then summarise."""
    rows = np.flatnonzero(reason)
    listed = rows if max_issues is None else rows[:max_issues]
    out: list[CellIssue] = []
    for k in listed:
        message, fix = word(int(reason[k]), raw.iat[int(k)])
        out.append(CellIssue(int(k), message, fix))
    if rows.size > listed.size:
        out.append(
            CellIssue(
                None,
                f"{rows.size - listed.size} more unusable values in this column "
                f"({rows.size} in all; the first {listed.size} are listed)",
                "Check that this is the right column for the indicator; fix the values.",
            )
        )
    return out


def _equal_issue(valid_values: np.ndarray) -> CellIssue:
    return CellIssue(
        None,
        f"all {valid_values.size} values are equal ({valid_values[0]:g}), so the indicator "
        "cannot tell customers apart; every customer with a value scores 50",
        "Check the column, or remove the indicator if it carries no information.",
        "warning",
    )


def tie_groups(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The sort order of finite ``values`` and its runs of equal values.

    Returns ``(order, starts, counts)``: ``values[order]`` ascending (an unstable sort:
    the order within a run of equal values is arbitrary), and the position in that order
    where each run starts and how long it is.
    """
    order = np.argsort(values)
    ordered = values[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    return order, starts, np.diff(np.r_[starts, values.size])


def tie_ranks(values: np.ndarray, *, bounds: bool = False) -> tuple[np.ndarray, ...]:
    """1-based ascending ranks of finite ``values``, ties sharing the mean of their ranks.

    Returns ``(average,)``, or ``(average, low, high)`` with ``bounds=True`` (the lowest
    and highest rank of each tie group). ``average`` equals
    ``scipy.stats.rankdata(values, "average")`` (tested). Computed from one unstable
    argsort, since tied values get one rank whatever their order: about twice as fast as
    ``rankdata`` (which sorts stably for its "ordinal" method), and this runs once per
    percentile indicator and for the value rank on up to 1 048 576 customers.
    """
    n = values.size
    order, starts, counts = tie_groups(values)
    low = starts + 1.0
    high = starts + counts.astype(float)
    out = []
    for per_group in ((low + high) / 2.0, low, high)[: 3 if bounds else 1]:
        ranks = np.empty(n)
        ranks[order] = np.repeat(per_group, counts)
        out.append(ranks)
    return tuple(out)


def _percentile(values: np.ndarray) -> np.ndarray:
    """``(average rank - 1) / (n - 1) * 100``; 50 for a single value."""
    n = values.size
    if n == 1:
        return np.full(1, 50.0)
    return (tie_ranks(values)[0] - 1.0) / (n - 1) * 100.0


def score_values(
    values: Any, indicator: Indicator, *, max_issues: int | None = None
) -> ScoredIndicator:
    """Score one column of values by ``indicator``'s method.

    Parameters
    ----------
    values : array-like or Series
        The column as read from the sheet: numbers, text, ``None`` for blank cells.
    indicator : Indicator
        Method, direction and parameters.
    max_issues : int, optional
        Itemise at most this many unusable values, then add one column-wide issue with
        the count of the rest. All of them when omitted.

    Returns
    -------
    ScoredIndicator
        Scores 0..100 with NaN where there is no usable value; no missing-value policy is
        applied here (see :func:`apply_missing_policy`).
    """
    s = _as_series(values)
    if indicator.method == "rubric":
        return _score_rubric(s, indicator, max_issues)

    x, blank, reason = parse_numeric(s)
    if indicator.nonnegative:
        neg = x < 0
        reason[neg] = _NEGATIVE
        x[neg] = np.nan
    invalid = reason != _OK
    valid = ~np.isnan(x)
    issues = _issues_for(reason, s, lambda c, v: _numeric_message(c, v, indicator), max_issues)
    scores = np.full(x.size, np.nan)
    v = x[valid]

    if indicator.method == "bands":
        points = np.asarray(indicator.points, dtype=float)
        scores[valid] = points[np.searchsorted(indicator.thresholds, v, side="right")]
    elif v.size:
        if indicator.method == "minmax":
            lower, upper = indicator.lower, indicator.upper
            outside = np.zeros(v.size, dtype=bool)
            if lower is not None:
                outside |= v < lower
            if upper is not None:
                outside |= v > upper
            if outside.any():
                issues.extend(
                    _scale_issues(np.flatnonzero(valid)[outside], s, indicator, max_issues)
                )
            lo = float(lower) if lower is not None else float(v.min())
            hi = float(upper) if upper is not None else float(v.max())
            if hi > lo:
                sv = (np.clip(v, lo, hi) - lo) / (hi - lo) * 100.0
                # Rounding can overshoot the ends by an ulp; the scale is 0..100 exactly.
                np.clip(sv, 0.0, 100.0, out=sv)
            else:
                sv = np.full(v.size, 50.0)
                if v.size > 1:
                    issues.append(_equal_issue(v))
        else:  # percentile
            sv = _percentile(v)
            if v.size > 1 and v.min() == v.max():
                issues.append(_equal_issue(v))
        scores[valid] = 100.0 - sv if indicator.direction == "cost" else sv
    return ScoredIndicator(scores, ~valid, invalid, issues)


def _scale_issues(
    rows: np.ndarray, raw: pd.Series, ind: Indicator, max_issues: int | None
) -> list[CellIssue]:
    if ind.lower is not None and ind.upper is not None:
        scale = f"outside the scale {ind.lower:g} to {ind.upper:g}"
    elif ind.lower is not None:
        scale = f"below the scale's lower end {ind.lower:g}"
    else:
        scale = f"above the scale's upper end {ind.upper:g}"
    listed = rows if max_issues is None else rows[:max_issues]
    out = [
        CellIssue(
            int(k),
            f"{show_value(raw.iat[int(k)])} is {scale}; scored as the nearest end",
            "Check the value; the scale is set by lower/upper on the Indicators sheet.",
            "warning",
        )
        for k in listed
    ]
    if rows.size > listed.size:
        out.append(
            CellIssue(
                None,
                f"{rows.size - listed.size} more values are {scale}",
                "Check the column and the indicator's lower/upper.",
                "warning",
            )
        )
    return out


def _score_rubric(s: pd.Series, ind: Indicator, max_issues: int | None) -> ScoredIndicator:
    # Map the few distinct labels rather than every cell: a ledger column of a million
    # rows holds a handful of distinct labels, so this is one factorize and a tiny loop.
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    table = {label_key(k): float(p) for k, p in ind.labels.items()}
    m = len(uniques)
    points_u = np.full(m + 1, np.nan)  # the extra slot is for code -1 (blank)
    blank_u = np.zeros(m + 1, dtype=bool)
    blank_u[m] = True
    unknown_u = np.zeros(m + 1, dtype=bool)
    for k, u in enumerate(uniques):
        if isinstance(u, (float, np.floating)) and float(u).is_integer():
            u = int(u)  # a typed 3 is the label "3", not "3.0"
        key = label_key(u)
        if not key:
            blank_u[k] = True
        elif key in table:
            points_u[k] = table[key]
        else:
            unknown_u[k] = True
    scores = points_u[codes]
    blank = blank_u[codes]
    invalid = unknown_u[codes]
    allowed = ", ".join(ind.labels)
    reason = invalid.astype(np.int8) * _UNKNOWN_LABEL

    def word(_code: int, raw: Any) -> tuple[str, str]:
        return (
            f"{show_value(raw)} is not one of the labels {allowed}",
            f"Type one of: {allowed} (case does not matter), or clear the cell if unknown; "
            "or add the label to the rubric on the Indicators sheet.",
        )

    issues = _issues_for(reason, s, word, max_issues)
    return ScoredIndicator(scores, blank | invalid, invalid, issues)


def apply_missing_policy(
    scores: np.ndarray, missing: np.ndarray, policy: str = "median"
) -> tuple[np.ndarray, float]:
    """Fill the missing scores of one indicator by ``policy``.

    Returns
    -------
    filled : ndarray
        A copy; under ``"exclude"`` missing scores stay NaN.
    fill : float
        The score given to missing values: the median of the others (50 when no customer
        has a value), 0; NaN for ``"exclude"`` or when nothing is missing.
    """
    _check_policy(policy)
    out = np.array(scores, dtype=float, copy=True)
    if policy == "exclude":
        out[missing] = np.nan
        return out, math.nan
    if not missing.any():
        return out, math.nan
    if policy == "zero":
        fill = 0.0
    else:
        have = out[~missing]
        have = have[~np.isnan(have)]
        fill = float(np.median(have)) if have.size else 50.0
    out[missing] = fill
    return out, fill


def _check_policy(policy: str) -> None:
    if policy not in MISSING_POLICIES:
        raise InputError(
            f"missing-value policy {policy!r} is not known",
            fix=f"Use one of: {', '.join(MISSING_POLICIES)}.",
        )


# --------------------------------------------------------------------------- composite


def _weights(
    hierarchy: Hierarchy,
    local_weights: Mapping[str, float],
    group_weights: Mapping[str, float],
) -> tuple[np.ndarray, np.ndarray]:
    """Local weights per indicator and group weights per group, checked."""
    local = dict(local_weights.items())
    group = dict(group_weights.items())
    problems: list[Problem] = []
    fix = "Recompute the weights from the Judgments sheet for this hierarchy."
    for kind, given, expected in (
        ("indicator", local, hierarchy.names),
        ("group", group, hierarchy.groups),
    ):
        lacking = [k for k in expected if k not in given]
        extra = [k for k in given if k not in expected]
        if lacking:
            problems.append(Problem("error", f"no weight for {kind} {', '.join(lacking)}", fix))
        if extra:
            problems.append(
                Problem(
                    "error", f"weights given for unknown {kind} {', '.join(map(str, extra))}", fix
                )
            )
    if problems:
        raise InputError(problems)
    w_local = np.array([float(local[n]) for n in hierarchy.names])
    w_group = np.array([float(group[g]) for g in hierarchy.groups])
    for label, w in (("indicator", w_local), ("group", w_group)):
        if not np.all(np.isfinite(w)) or np.any(w < 0):
            raise InputError(f"{label} weights must be finite and not negative", fix=fix)
    sums = {
        g: w_local[[i.group == g for i in hierarchy.indicators]].sum() for g in hierarchy.groups
    }
    sums["(groups)"] = w_group.sum()
    off = {g: s for g, s in sums.items() if abs(s - 1.0) > _WEIGHT_TOLERANCE}
    if off:
        raise InputError(
            "weights do not sum to 1 in " + ", ".join(f"{g} ({s:.6g})" for g, s in off.items()),
            fix=fix,
        )
    return w_local, w_group


def _rescaled_sum(rows: np.ndarray, weights: np.ndarray, target: np.ndarray, k: int) -> np.ndarray:
    """``out[g] = Σ w·x / Σ w`` over the rows ``i`` with ``target[i] == g`` and x not NaN.

    ``rows`` is (items, customers). NaN scores are left out and the remaining weights
    rescaled; NaN where none is present. Accumulates row by row into (k, customers)
    buffers: a loop over at most 135 indicators, never over customers, and no
    (customers × indicators) temporaries (at 1 M customers those cost more in page
    faults than the arithmetic).
    """
    n = rows.shape[1]
    num = np.zeros((k, n))
    den = np.zeros((k, n))
    present = np.empty(n, dtype=bool)
    term = np.empty(n)
    for i in range(rows.shape[0]):
        g, w = target[i], weights[i]
        np.isnan(rows[i], out=present)
        np.logical_not(present, out=present)
        np.multiply(rows[i], w, out=term)
        np.add(num[g], term, out=num[g], where=present)
        np.add(den[g], w, out=den[g], where=present)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = num / den
    out[den <= 0] = np.nan
    return out


def percentile_rank(values: np.ndarray) -> np.ndarray:
    """``(average rank - 1) / (n - 1) * 100`` over the non-NaN values; NaN stays NaN."""
    values = np.asarray(values, dtype=float)
    out = np.full(values.size, np.nan)
    ok = ~np.isnan(values)
    if ok.any():
        out[ok] = _percentile(values[ok])
    return out


def score_customers(
    customers: pd.DataFrame,
    hierarchy: Hierarchy,
    local_weights: Mapping[str, float],
    group_weights: Mapping[str, float],
    *,
    missing: str = "median",
    sheet: str = "Customers",
    header_row: int = 1,
    id_column: str = "CustomerID",
    first_col: int = 0,
    max_cell_problems: int | None = 1000,
) -> ScoreResult:
    """Score every customer on every indicator and combine by the AHP weights.

    Parameters
    ----------
    customers : DataFrame
        The Customers table as read: one row per customer, headers as column names.
    hierarchy : Hierarchy
        Indicators and the ledger columns they read.
    local_weights : mapping of str to float
        Indicator name -> weight within its group (each group sums to 1).
    group_weights : mapping of str to float
        Group name -> weight (sum 1).
    missing : {"median", "zero", "exclude"}
        What a missing or unusable value becomes (module docstring); always flagged.
    sheet : str
        Sheet name for problem addresses.
    header_row : int
        1-based sheet row of the header; row position ``k`` is sheet row
        ``header_row + 1 + k``.
    id_column : str
        Column whose value names the customer in messages (skipped if absent).
    first_col : int
        0-based sheet column of the table's first column.
    max_cell_problems : int or None
        Per indicator, itemise at most this many bad cells, then one summary problem
        for the rest of the column (a wrongly mapped column would otherwise produce a
        problem per customer). ``None`` itemises all.

    Returns
    -------
    ScoreResult

    Raises
    ------
    InputError
        Unknown policy; weights that do not match the hierarchy, are negative, or do not
        sum to 1 (per group and over groups, within 1e-6).
    """
    _check_policy(missing)
    w_local, w_group = _weights(hierarchy, local_weights, group_weights)
    indicators = hierarchy.indicators
    groups = hierarchy.groups
    n, m = len(customers), len(indicators)
    group_of = np.array([groups.index(i.group) for i in indicators])

    columns = list(customers.columns)
    ids = customers[id_column].reset_index(drop=True) if id_column in columns else None
    # Indicator-major (m, n): each indicator's scores are one contiguous row, and the
    # DataFrames below wrap these arrays without copying (pandas stores columns as rows).
    scores = np.empty((m, n))
    flags = np.empty((m, n), dtype=bool)
    fills = np.empty(m)
    problems: list[Problem] = []

    for j, ind in enumerate(indicators):
        label = f"{ind.name} ({ind.column})"
        if ind.column not in columns:
            problems.append(_column_missing(ind, sheet, missing, header_row))
            scored = ScoredIndicator(np.full(n, np.nan), np.ones(n, bool), np.zeros(n, bool))
            pos = None
        else:
            pos = first_col + columns.index(ind.column)
            scored = score_values(customers.iloc[:, columns.index(ind.column)], ind,
                                  max_issues=max_cell_problems)
            letter = column_letter(pos)
            for issue in scored.issues:
                if issue.row is None:
                    where, who = f"{letter}:{letter}", ""
                else:
                    where = cell_address(header_row + issue.row, pos)
                    who = f", customer {ids.iat[issue.row]}" if ids is not None else ""
                problems.append(Problem(issue.severity, f"{label}{who}: {issue.message}",
                                        issue.fix, sheet, where))
        scores[j], fills[j] = apply_missing_policy(scored.scores, scored.missing, missing)
        flags[j] = scored.missing
        count = int(scored.missing.sum())
        if count and pos is not None:
            problems.append(_missing_summary(label, count, n, missing, fills[j], sheet, pos))

    group_scores = _rescaled_sum(scores, w_local, group_of, len(groups))
    value = _rescaled_sum(group_scores, w_group, np.zeros(len(groups), dtype=int), 1)[0]

    # Rank (1 = best, ties share the best) and percentile from one sort of the values.
    rank = np.full(n, np.nan)
    percentile = np.full(n, np.nan)
    ok = ~np.isnan(value)
    k = int(ok.sum())
    if k:
        average, _, high = tie_ranks(value[ok], bounds=True)
        rank[ok] = k + 1.0 - high
        percentile[ok] = 50.0 if k == 1 else (average - 1.0) / (k - 1) * 100.0

    index = customers.index
    names = list(hierarchy.names)
    return ScoreResult(
        indicator_scores=pd.DataFrame(scores.T, index=index, columns=names, copy=False),
        imputed=pd.DataFrame(flags.T, index=index, columns=names, copy=False),
        group_scores=pd.DataFrame(group_scores.T, index=index, columns=list(groups), copy=False),
        value=pd.Series(value, index=index, name="Value"),
        rank=pd.Series(rank, index=index, name="Rank").astype("Int64"),
        percentile=pd.Series(percentile, index=index, name="Percentile"),
        imputed_count=pd.Series(flags.sum(axis=0), index=index, name="Imputed"),
        problems=problems,
        global_weights=pd.Series(w_local * w_group[group_of], index=names, name="GlobalWeight"),
        fill_values=pd.Series(fills, index=names, name="Fill"),
        missing_policy=missing,
    )


def _column_missing(ind: Indicator, sheet: str, missing: str, header_row: int) -> Problem:
    return Problem(
        "error",
        f"indicator {ind.name!r} reads column {ind.column!r}, which is not in the "
        f"{sheet} table; every customer counts as missing for it ({missing} policy)",
        f"Add a column headed {ind.column} to {sheet}, or correct its Column on the "
        "Indicators sheet.",
        sheet,
        f"{header_row}:{header_row}",
    )


def _missing_summary(
    label: str, count: int, n: int, policy: str, fill: float, sheet: str, pos: int
) -> Problem:
    what = {
        "median": f"scored {fill:.4g}, the median of the others",
        "zero": "scored 0",
        "exclude": "left out of their group score, the other weights rescaled",
    }[policy]
    letter = column_letter(pos)
    return Problem(
        "warning",
        f"{label}: {count} of {n} customers have no usable value; {what} "
        "(flagged in the Imputed count)",
        "Fill the gaps in the ledger where the information exists.",
        sheet,
        f"{letter}:{letter}",
    )
