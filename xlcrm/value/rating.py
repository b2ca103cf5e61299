"""Which customers are rated, and which are *Unrated* because their figures are mostly guesses.

The missing-value policy of :mod:`xlcrm.value.scoring` fills a gap with a guess (the median
of the others, by default) so that every customer has a score. A guess is fine for one
minor indicator; it is not fine when it decides the customer's type. So each customer's
**imputed weight** is the share of the total (global AHP) weight carried by its imputed
indicators, and a customer whose imputed weight is above the analyst's limit
(``Unrated above imputed share`` on the Indicators sheet, default one third) is
*Unrated*:

* it gets no type and no strategy, but a reason and the indicators to fill (the
  Segments sheet); its visit interval is the longest one (see
  :func:`xlcrm.operations.step.visit_intervals`);
* it gets no ABC class when the classes are by value score (a value made of guesses);
  by revenue it keeps its class, since its revenue is known;
* it takes no part in fitting the High/Low split, so guesses do not move the boundary
  the rated customers are judged by.

Why one third: a type is three High/Low verdicts (one per group, by default); when a
third of the weight is guessed, the guessed indicators together outweigh a whole average
group, so at least one verdict rests mostly on other customers' figures.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from xlcrm.errors import Problem

TOLERANCE = 1e-9
"""Shares within this of the limit count as at the limit (rated): 4 of 12 equal weights
is exactly one third, and must not be Unrated by a rounding error."""

SHOWN = 3
"""How many customers the summary problem names."""


@dataclass(frozen=True)
class Rating:
    """Imputed weight per customer and who is Unrated.

    Attributes
    ----------
    imputed_weight : ndarray of float
        Share of the total weight carried by the customer's imputed indicators, 0..1.
    unrated : ndarray of bool
        ``imputed_weight`` above ``limit``.
    limit : float
        The largest share allowed.
    reasons : ndarray of object
        Per Unrated customer, in row order (``reasons[k]`` belongs to row
        ``np.flatnonzero(unrated)[k]``): why it is Unrated and which indicators to fill.
    """

    imputed_weight: np.ndarray
    unrated: np.ndarray
    limit: float
    reasons: np.ndarray


def _percent(share: float) -> str:
    return f"{share * 100:.0f} %"


def rate(imputed: pd.DataFrame, global_weights: pd.Series, columns: dict[str, str],
         limit: float) -> Rating:
    """Rate customers by how much of their weight is imputed.

    Parameters
    ----------
    imputed : DataFrame of bool
        Customers x indicators: True where the indicator was imputed (or excluded).
    global_weights : Series
        Indicator name -> global weight (sums to 1).
    columns : dict of str to str
        Indicator name -> the Customers column it reads, for the reasons.
    limit : float
        Largest share of the weight that may be imputed.

    Returns
    -------
    Rating
    """
    names = list(imputed.columns)
    weights = global_weights.reindex(names).to_numpy(dtype=float)
    # Column by column (views of the scores' flags): a bool @ float product would cast a
    # copy of the whole customers x indicators matrix to float first.
    share = np.zeros(len(imputed))
    for name, w in zip(names, weights, strict=True):
        np.add(share, w, out=share, where=imputed[name].to_numpy(dtype=bool))
    unrated = share > limit + TOLERANCE
    rows = np.flatnonzero(unrated)
    reasons = np.empty(rows.size, dtype=object)
    if rows.size:
        # Customers with the same gaps share one reason: one string per pattern, not per row.
        order = np.argsort(-weights, kind="stable")
        flags = imputed.iloc[rows].to_numpy(dtype=bool)
        packed = np.packbits(flags[:, order], axis=1)
        patterns, inverse = np.unique(packed, axis=0, return_inverse=True)
        texts = []
        for pattern in patterns:
            filled = np.unpackbits(pattern)[: len(names)].astype(bool)
            fill = ", ".join(f"{names[j]} ({columns.get(names[j], names[j])})"
                             for j in order[filled])
            texts.append(fill)
        percent = np.round(share[rows] * 100).astype(int)
        shown = np.array([f"Unrated: {p} % of the weight is imputed (limit {_percent(limit)}); "
                          f"fill " for p in range(101)], dtype=object)
        reasons[:] = shown[np.clip(percent, 0, 100)] + np.array(texts, dtype=object)[
            np.asarray(inverse).reshape(-1)]
    return Rating(share, unrated, limit, reasons)


def unrated_problem(rating: Rating, ids: pd.Series, *, by_value: bool, sheet: str) -> list[Problem]:
    """One summary warning naming the first Unrated customers, or nothing."""
    rows = np.flatnonzero(rating.unrated)
    if not rows.size:
        return []
    named = ", ".join(f"{ids.iat[r]} ({_percent(rating.imputed_weight[r])})"
                      for r in rows[:SHOWN])
    more = f" and {rows.size - SHOWN} more" if rows.size > SHOWN else ""
    abc = " and no ABC class" if by_value else ""
    return [Problem(
        "warning",
        f"{rows.size} {'customer is' if rows.size == 1 else 'customers are'} Unrated: "
        "imputed indicators carry more than "
        f"{_percent(rating.limit)} of their weight ({named}{more}); they get no type{abc} and "
        "take no part in the High/Low split",
        f"Fill the indicators the {sheet} sheet lists for each of them (Strategy column), "
        "or raise 'Unrated above imputed share' on the Indicators sheet.",
        sheet,
        None,
    )]
