"""Do the decisions depend on the weights? Weight moves, stable customers, indicator overlap.

An AHP weight is a judgment turned into a number, so an analyst must be able to say how
much the customer types and ABC classes owe to its exact value. :func:`weight_sensitivity`
moves every group weight and every indicator weight in turn by -25 %, -10 %, +10 % and
+25 %, rescales the other weights of the same level proportionally so that they still add
up to 1, and counts the customers whose type (High/Low per group) or ABC class (when ABC is
by value score) changes. Customers whose type and class survive every move are *stable*.

Rules (and why an analyst would agree):

- Only the weighting changes: the indicator scores of the run are reused, and each move is
  one matrix product (scores x weights), as the run computes group scores and values.
  The High/Low cuts are placed again after each move exactly as the run places them (the
  exact 2-means cut, the median or a fixed threshold, fitted on the rated customers), so
  a change counted here is a change the next run would make.
- A group weight does not enter any group score, so moving it never changes a type; it
  moves the value score and hence, when ABC is by value, the classes. Moving an indicator
  weight changes its group's score only.
- A level with a single item has nothing to rescale against and is not moved.
- A weight moved above 1 is capped at 1 (the others become 0).
- Unrated customers have no type and no class by value, so they are not judged: their
  Stable flag is blank, and shares are of the customers judged.
- Above :data:`SAMPLE_LIMIT` customers the moves are tried on a fixed random sample of that
  many (seeded, so a run is reproducible): each move costs a sort of the moved scores
  (and, with ABC by value, a stable sort of the moved values), and 60 of them on a
  million customers would cost more than the rest of the analysis; on 100 000 they take
  about a third of an in-memory run by revenue, two thirds by value (bench/
  bench_sensitivity.py). The shares are then the sample's; Stable is blank outside it
  (the sheet says so).

:func:`indicator_correlation` gives the Spearman correlation of the indicator scores;
:func:`correlation_problems` warns about pairs above 0.9, where one indicator probably
measures the other and their weights count the same thing twice.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from xlcrm.errors import InputError, Problem
from xlcrm.value.segments import abc_classes, high_low

__all__ = [
    "CORRELATION_LIMIT",
    "HEADLINE_MOVE",
    "MOVES",
    "SAMPLE_LIMIT",
    "SENSITIVITY_COLUMNS",
    "SensitivityResult",
    "correlation_problems",
    "indicator_correlation",
    "moved_weights",
    "weight_sensitivity",
]

MOVES = (-0.25, -0.10, 0.10, 0.25)
"""The relative moves tried on every weight."""
HEADLINE_MOVE = 0.10
"""The move the headline speaks of ("when any weight moves by 10 %")."""
SAMPLE_LIMIT = 100_000
"""Most customers on whom the moves are tried; a fixed random sample above it."""
CORRELATION_LIMIT = 0.9
"""Spearman correlation above which two indicators probably measure the same thing."""
GROUP_LEVEL = "groups"
"""The Level of a group weight (as in the consistency table); an indicator's is its group."""

SENSITIVITY_COLUMNS = (
    "Level",
    "Item",
    "Move",
    "WeightBefore",
    "WeightAfter",
    "TypeChanges",
    "TypeChangeShare",
    "ABCChanges",
    "ABCChangeShare",
    "Changed",
    "ChangedShare",
)


def moved_weights(weights: npt.ArrayLike, item: int, move: float) -> np.ndarray:
    """``weights`` with item ``item`` moved by ``move`` (0.1 = +10 %), the others rescaled.

    The other weights keep their proportions and the sum stays what it was (1 for AHP
    weights). A moved weight above the sum is capped at the sum.

    Examples
    --------
    >>> moved_weights([0.5, 0.3, 0.2], 0, 0.1).round(4).tolist()
    [0.55, 0.27, 0.18]
    """
    w = np.asarray(weights, dtype=float)
    total = float(w.sum())
    target = min(w[item] * (1.0 + move), total)
    rest = total - w[item]
    out = w * ((total - target) / rest) if rest > 0 else w.copy()
    out[item] = target
    return out


@dataclass
class SensitivityResult:
    """What :func:`weight_sensitivity` found.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per weight and move, columns :data:`SENSITIVITY_COLUMNS`; shares are of
        the customers judged (ABCChanges blank when ABC is not by value score).
    stable : pandas.Series
        Per customer (nullable boolean): True when neither its type nor (ABC by value) its
        class changes under any move; <NA> for a customer not judged.
    stable_at : dict of float to float
        Per move size (0.1, 0.25): the share of the judged customers that no move of that
        size (up or down) changes.
    judged : int
        Customers judged (with a type, or a class by value).
    customers : int
        Customers given.
    sampled : bool
        True when the moves were tried on a sample of :data:`SAMPLE_LIMIT` customers.
    abc_by_value : bool
        True when ABC changes were counted.
    """

    table: pd.DataFrame
    stable: pd.Series
    stable_at: dict[float, float]
    judged: int
    customers: int
    sampled: bool
    abc_by_value: bool

    def headline(self, move: float = HEADLINE_MOVE) -> str:
        """One sentence for the Dashboard: the share of customers no move of ``move`` changes."""
        share = self.stable_at.get(abs(move), math.nan)
        what = "types and ABC classes" if self.abc_by_value else "types"
        if self.table.empty:
            return "No weight to move: every level of the hierarchy has a single item."
        if not self.judged or math.isnan(share):
            return "No customer has a type to test against the weights."
        sample = f" (a sample of {self.judged:,} customers)" if self.sampled else ""
        return (f"The {what} of {share * 100:.0f} % of customers{sample} do not change when any "
                f"weight moves by {abs(move) * 100:.0f} %.")


def _as_matrix(indicator_scores: pd.DataFrame) -> np.ndarray:
    try:
        return indicator_scores.to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError):
        raise InputError("indicator scores must be numbers",
                         fix="Pass the indicator scores of a run (0-100).") from None


def _check_weights(names: Sequence[str], weights: Mapping[str, float], what: str) -> np.ndarray:
    missing = [n for n in names if n not in weights]
    if missing:
        raise InputError(f"no {what} weight for {', '.join(map(str, missing))}",
                         fix="Pass the weights of the run's hierarchy.")
    w = np.array([float(weights[n]) for n in names])
    if not np.isfinite(w).all() or (w < 0).any():
        raise InputError(f"{what} weights must be finite and not negative",
                         fix="Pass the weights of the run's hierarchy.")
    return w


def _weighted_sum(matrix: np.ndarray, columns: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``matrix[:, columns] @ weights``, one column at a time, in order, without BLAS.

    The sensitivity may run on a second thread (:mod:`xlcrm.value.threads`), and a thread
    that calls OpenBLAS gets a work buffer of its own that stays allocated; the products
    are also the same whatever the number of BLAS threads.
    """
    out = np.zeros(matrix.shape[0])
    for column, weight in zip(columns, weights, strict=True):
        out += matrix[:, column] * weight
    return out


class _Weighting:
    """The run's scores and weights, and the group scores and values for moved weights."""

    def __init__(self, x: np.ndarray, group_cols: list[np.ndarray], local: np.ndarray,
                 group_w: np.ndarray) -> None:
        present = np.isfinite(x)
        # By column (see _weighted_sum)
        self.x0 = np.asfortranarray(np.where(present, x, 0.0))
        # Without a gap (every policy but "exclude") the denominator is the weights' sum.
        self.present = None if present.all() else np.asfortranarray(present, dtype=float)
        self.group_cols = group_cols
        self.local = local
        self.group_w = group_w

    def group_score(self, g: int, local: np.ndarray) -> np.ndarray:
        """Score of group ``g`` with local weights ``local`` (that group's, in order)."""
        cols = self.group_cols[g]
        num = _weighted_sum(self.x0, cols, local)
        den = (np.full(len(num), local.sum()) if self.present is None
               else _weighted_sum(self.present, cols, local))
        with np.errstate(invalid="ignore", divide="ignore"):
            out = num / den
        out[den <= 0] = np.nan
        return out

    @staticmethod
    def value(group_scores: np.ndarray, group_w: np.ndarray) -> np.ndarray:
        """Value score from group scores (customers x groups): weights rescaled over known."""
        known = np.isfinite(group_scores)
        every = np.arange(len(group_w))
        num = _weighted_sum(np.where(known, group_scores, 0.0), every, group_w)
        den = _weighted_sum(known.astype(float), every, group_w)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = num / den
        out[den <= 0] = np.nan
        return out


def _high(scores: np.ndarray, rated: np.ndarray, method: str,
          threshold: float | None) -> np.ndarray:
    """High flags as the run sets them: the cut fitted on the rated, applied to everyone."""
    cut = high_low(np.where(rated, scores, np.nan), method=method, threshold=threshold).cut
    with np.errstate(invalid="ignore"):
        return scores >= cut


def _abc(values: np.ndarray, classed: np.ndarray, cutoffs: tuple[float, float]) -> np.ndarray:
    letters = np.full(len(values), "", dtype="<U1")
    letters[classed] = abc_classes(values[classed], cutoffs=cutoffs).abc
    return letters


def weight_sensitivity(
    indicator_scores: pd.DataFrame,
    indicator_groups: Sequence[str],
    local_weights: Mapping[str, float],
    group_weights: Mapping[str, float],
    *,
    method: str | Mapping[str, str] = "kmeans",
    thresholds: float | Mapping[str, float] | None = None,
    rated: npt.ArrayLike | None = None,
    abc_cutoffs: tuple[float, float] | None = None,
    moves: Sequence[float] = MOVES,
    limit: int = SAMPLE_LIMIT,
    seed: int = 0,
) -> SensitivityResult:
    """Move every weight in turn and count the customers whose type or ABC class changes.

    Parameters
    ----------
    indicator_scores : pandas.DataFrame
        The run's indicator scores (0-100), one row per customer, one column per indicator
        (NaN only under the "exclude" missing-value policy).
    indicator_groups : sequence of str
        The group of each column of ``indicator_scores``; the groups' order is that of
        ``group_weights``.
    local_weights : mapping of str to float
        Indicator name -> weight within its group.
    group_weights : mapping of str to float
        Group name -> weight, in the hierarchy's order (the type code's order).
    method, thresholds
        The High/Low method and thresholds of the run (see
        :func:`xlcrm.value.segments.segment_types`).
    rated : array_like of bool, optional
        The customers that get a type (the run's rated customers); all when omitted.
    abc_cutoffs : pair of float, optional
        When ABC is by value score, its cut-offs: ABC changes are then counted.
    moves : sequence of float
        The relative moves (0.1 = +10 %).
    limit : int
        Most customers the moves are tried on (a seeded random sample above it).
    seed : int
        Seed of that sample.

    Returns
    -------
    SensitivityResult

    Raises
    ------
    InputError
        Scores that are not numbers, a column without a group or weight, weights that
        are negative or not finite.
    """
    names = [str(c) for c in indicator_scores.columns]
    groups = list(group_weights)
    if len(indicator_groups) != len(names) or any(g not in groups for g in indicator_groups):
        raise InputError("every indicator column needs one of the groups",
                         fix="Pass the group of each indicator, in column order.")
    n = len(indicator_scores)
    keep = np.ones(n, dtype=bool) if rated is None else np.asarray(rated, dtype=bool).copy()
    rows = np.arange(n)
    sampled = n > limit
    if sampled:  # sampled before the scores are copied: a million rows cost 100 MB
        rows = np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))
        keep = keep[rows]
    x = _as_matrix(indicator_scores.iloc[rows] if sampled else indicator_scores)
    local = _check_weights(names, local_weights, "indicator")
    group_w = _check_weights(groups, group_weights, "group")
    group_cols = [np.flatnonzero(np.array(indicator_groups) == g) for g in groups]
    splits = [(method.get(g, "kmeans") if isinstance(method, Mapping) else method,
               thresholds.get(g) if isinstance(thresholds, Mapping) else thresholds)
              for g in groups]
    trials = _Trials(_Weighting(x, group_cols, local, group_w), keep, splits, abc_cutoffs)
    if len(groups) > 1:
        for g, group in enumerate(groups):
            for move in moves:
                trials.move_group(g, move, GROUP_LEVEL, group)
    for g, cols in enumerate(group_cols):
        if len(cols) > 1:  # a lone indicator has nothing to be rescaled against
            for j, col in enumerate(cols):
                for move in moves:
                    trials.move_indicator(g, j, move, groups[g], names[col])
    return trials.result(rows, n, sampled, indicator_scores.index)


class _Trials:
    """The run's types and classes, and what each weight move changes of them."""

    def __init__(self, weighting: _Weighting, keep: np.ndarray,
                 splits: list[tuple[str, float | None]],
                 abc_cutoffs: tuple[float, float] | None) -> None:
        self.weighting, self.keep, self.splits = weighting, keep, splits
        self.abc_cutoffs = abc_cutoffs
        self.scores = np.column_stack([weighting.group_score(g, weighting.local[c])
                                       for g, c in enumerate(weighting.group_cols)])
        self.high = np.column_stack([self.split(g, self.scores[:, g])
                                     for g in range(self.scores.shape[1])])
        self.typed = keep & np.isfinite(self.scores).all(axis=1)
        self.abc = self.classes(self.scores, weighting.group_w)
        # With ABC by value, every rated customer is judged (on its class at least).
        self.judged = self.typed | keep if abc_cutoffs is not None else self.typed
        self.changed = np.zeros(len(keep), dtype=bool)
        self.changed_at: dict[float, np.ndarray] = {}
        self.records: list[tuple[object, ...]] = []

    def split(self, g: int, scores: np.ndarray) -> np.ndarray:
        how, threshold = self.splits[g]
        return _high(scores, self.keep, how, threshold)

    def classes(self, scores: np.ndarray, group_w: np.ndarray) -> np.ndarray | None:
        if self.abc_cutoffs is None:
            return None
        return _abc(self.weighting.value(scores, group_w), self.keep, self.abc_cutoffs)

    def move_group(self, g: int, move: float, level: str, item: str) -> None:
        """A group weight: no group score moves, so only the classes by value can change."""
        w = moved_weights(self.weighting.group_w, g, move)
        self.record(level, item, move, self.weighting.group_w[g], w[g],
                    np.zeros(len(self.keep), dtype=bool), self.classes(self.scores, w))

    def move_indicator(self, g: int, j: int, move: float, level: str, item: str) -> None:
        """An indicator weight: its group's score moves, and the cut is placed again."""
        cols = self.weighting.group_cols[g]
        w = moved_weights(self.weighting.local[cols], j, move)
        scores = self.scores.copy()
        scores[:, g] = self.weighting.group_score(g, w)
        flips = self.typed & (self.split(g, scores[:, g]) != self.high[:, g])
        self.record(level, item, move, self.weighting.local[cols[j]], w[j], flips,
                    self.classes(scores, self.weighting.group_w))

    def record(self, level: str, item: str, move: float, before: float, after: float,
               type_change: np.ndarray, abc: np.ndarray | None) -> None:
        abc_change = None if abc is None else self.keep & (abc != self.abc)
        either = type_change if abc_change is None else type_change | abc_change
        self.changed |= either
        size = abs(move)
        self.changed_at[size] = self.changed_at.get(size, np.zeros_like(either)) | either

        def share(count: int | None, of: np.ndarray) -> float | None:
            if count is None:
                return None
            return count / int(of.sum()) if of.any() else math.nan

        types, changed = int(type_change.sum()), int(either.sum())
        abcs = None if abc_change is None else int(abc_change.sum())
        self.records.append((level, item, move, before, after, types, share(types, self.typed),
                             abcs, share(abcs, self.keep), changed, share(changed, self.judged)))

    def result(self, rows: np.ndarray, n: int, sampled: bool,
               index: pd.Index) -> SensitivityResult:
        judged = self.judged
        stable = pd.array(np.full(n, pd.NA), dtype="boolean")
        stable[rows[judged]] = ~self.changed[judged]
        n_judged = int(judged.sum())
        stable_at = {size: (float((~mask[judged]).mean()) if n_judged else math.nan)
                     for size, mask in self.changed_at.items()}
        table = pd.DataFrame.from_records(self.records, columns=list(SENSITIVITY_COLUMNS))
        table["ABCChanges"] = table["ABCChanges"].astype("Int64")
        return SensitivityResult(table, pd.Series(stable, index=index, name="Stable"),
                                 stable_at, n_judged, n, sampled, self.abc_cutoffs is not None)


def indicator_correlation(
    indicator_scores: pd.DataFrame, *, limit: int = SAMPLE_LIMIT, seed: int = 0
) -> pd.DataFrame:
    """Spearman rank correlation of the indicator scores, one row and column per indicator.

    Rank correlation, because scores are bounded and often bunched (bands, rubrics), and
    what matters is whether one indicator orders the customers as another does. Above
    ``limit`` customers it is computed on a seeded random sample of that many: the
    sampling error of a correlation of 100 000 pairs is about 0.003. An indicator whose
    scores do not vary has no correlation (NaN).
    """
    frame = indicator_scores
    if len(frame) > limit:
        rows = np.sort(np.random.default_rng(seed).choice(len(frame), size=limit, replace=False))
        frame = frame.iloc[rows]
    return frame.astype(float).corr(method="spearman")


def correlation_problems(
    correlation: pd.DataFrame, *, limit: float = CORRELATION_LIMIT, sheet: str | None = None
) -> list[Problem]:
    """A warning per pair of indicators whose scores correlate above ``limit``."""
    names = list(correlation.columns)
    values = correlation.to_numpy(dtype=float)
    out = []
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            rho = values[i, j]
            if np.isfinite(rho) and abs(rho) > limit:
                out.append(Problem(
                    "warning",
                    f"indicators {names[i]!r} and {names[j]!r} rank the customers almost alike "
                    f"(Spearman correlation {rho:.2f}, above {limit:g}): one probably measures "
                    "the other, so the same thing is weighted twice",
                    "Drop one of them from the hierarchy, merge them into one indicator, or "
                    "lower their weights on the Judgments sheet so that together they carry "
                    "what one should.",
                    sheet,
                    None,
                ))
    return out
