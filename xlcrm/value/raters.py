"""Judgments under review: several raters combined, their consensus, and repairs.

A hierarchy's judgments come from one rater (the Judgments sheet) or several (one sheet
each). This module turns them into what a run shows beside the weights:

* :func:`combine_raters`: per level, the raters' matrices aggregated by the weighted
  geometric mean of the individual judgments (AIJ), each rater's CR and the AHP-OS
  consensus of their weights (:func:`xlcrm.value.ahp.ahp_consensus`);
* :func:`repairs_table`: for every inconsistent matrix, the repair of its worst judgment
  (:func:`xlcrm.value.ahp.worst_judgments`) and the CR it leaves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from xlcrm.errors import InputError, Problem
from xlcrm.value.ahp import (
    AHPResult,
    GroupJudgment,
    aggregate_judgments,
    consensus_band,
    format_judgment,
    worst_judgments,
)

__all__ = ["RATER_COLUMNS", "REPAIR_COLUMNS", "RaterReview", "combine_raters", "repairs_table"]

#: Columns of :attr:`RaterReview.table` before the per-rater CRs and after them.
RATER_COLUMNS = ("Level", "n", "Weights")
RATER_TAIL = ("CR aggregate", "Consensus", "Agreement")
#: Columns of :func:`repairs_table`.
REPAIR_COLUMNS = ("Sheet", "Level", "Row", "Column", "Typed", "Suggested", "CR", "CR after")


@dataclass(frozen=True, eq=False)
class RaterReview:
    """Several raters' judgments combined, level by level.

    Attributes
    ----------
    judgments : dict
        Level key (``"groups"`` or a group name) -> aggregated matrix (``None`` for a
        one-item level), in the shape :func:`xlcrm.value.ahp.hierarchy_weights` takes.
    groups : dict
        Level key -> :class:`~xlcrm.value.ahp.GroupJudgment` (levels with two or more items).
    raters : tuple of str
        The rater sheets, in order.
    table : pandas.DataFrame
        One row per level: ``Level``, ``n``, ``Weights`` (the aggregate's, as text), one
        ``CR <rater>`` column per rater, ``CR aggregate``, ``Consensus`` (0 to 1) and
        ``Agreement`` (``low``/``moderate``/``high``, AHP-OS bands).
    """

    judgments: dict[str, object]
    groups: dict[str, GroupJudgment]
    raters: tuple[str, ...]
    table: pd.DataFrame


def combine_raters(
    raters: Mapping[str, Mapping[str, object]],
    weights: Mapping[str, float],
    levels: Sequence[tuple[str, str, Sequence[str]]],
    *,
    method: str = "eigen",
    ri_table: str = "saaty",
) -> RaterReview:
    """Aggregate every level over the raters (weighted geometric mean, AIJ).

    Parameters
    ----------
    raters : mapping
        Rater (sheet name) -> level key -> that rater's matrix.
    weights : mapping
        Rater -> weight (positive; a missing rater weighs 1).
    levels : sequence of (key, title, items)
        Each level: its key in the judgments, its title, its item names in order.
    method, ri_table : str
        As in :func:`xlcrm.value.ahp.ahp`.

    Raises
    ------
    InputError
        A rater's matrix for a level cannot be used: the message names the rater's sheet.
    """
    names = tuple(raters)
    vote = [float(weights.get(r, 1.0)) for r in names]
    judgments: dict[str, object] = {}
    groups: dict[str, GroupJudgment] = {}
    rows = []
    problems: list[Problem] = []
    for key, title, items in levels:
        if len(items) < 2:
            judgments[key] = None
            continue
        try:
            g = aggregate_judgments([raters[r][key] for r in names], weights=vote,
                                    method=method, ri_table=ri_table)
        except InputError as exc:
            problems.extend(Problem(p.severity, f"{title}: {_named(p.message, names)}", p.fix,
                                    p.sheet, p.cell) for p in exc.problems)
            continue
        judgments[key], groups[key] = g.matrix, g
        shares = ", ".join(f"{i} {w:.3f}" for i, w in zip(items, g.result.weights, strict=True))
        consensus = g.consensus
        rows.append([title, len(items), shares, *(r.cr for r in g.rater_results), g.result.cr,
                     consensus, consensus_band(consensus)])
    if problems:
        raise InputError(problems)
    columns = [*RATER_COLUMNS, *(f"CR {r}" for r in names), *RATER_TAIL]
    return RaterReview(judgments, groups, names, pd.DataFrame(rows, columns=columns))


def _named(message: str, names: Sequence[str]) -> str:
    """``"rater 2: ..."`` from the core as ``"Judgments Ben: ..."``."""
    for k, name in enumerate(names, start=1):
        for form in (f"rater {k}'s", f"rater {k}:"):
            message = message.replace(form, form.replace(f"rater {k}", name))
    return message


def repairs_table(
    matrices: Sequence[tuple[str, str, Sequence[str], AHPResult]],
) -> pd.DataFrame:
    """The repair of the worst judgment of every inconsistent matrix.

    Parameters
    ----------
    matrices : sequence of (sheet, level title, item names, AHPResult)
        Every matrix the judgments were typed in.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`REPAIR_COLUMNS`, one row per inconsistent matrix that has a repair:
        the row and column items, the judgment typed and suggested (as staff type them),
        the matrix's CR now and after that one change.
    """
    rows = []
    for sheet, title, items, result in matrices:
        if result.consistent:
            continue
        best = worst_judgments(result, top=1)
        if not best:
            continue
        j = best[0]
        rows.append([sheet, title, items[j.row], items[j.col], format_judgment(j.value),
                     format_judgment(j.suggested), result.cr, j.cr_after])
    return pd.DataFrame(rows, columns=list(REPAIR_COLUMNS))
