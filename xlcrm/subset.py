"""The results of a run narrowed to some customers: one account manager's book.

Why the scores and types stay those of the whole book: a customer's value score is a
min-max or percentile score against every other customer, its High/Low verdicts are a split
fitted on all of them, its ABC class a place in everyone's Pareto ranking. Recomputed on one
manager's 40 customers, a Star of the company could become a "Low priority" of that manager
(or the other way round), and the manager's copy would contradict the master workbook the
sales head reads. So each customer keeps the type, class, score and lifetime value it has in
the whole book, and only what *summarises* customers is recomputed over the subset: the
counts and shares per type and per class, the Pareto curve, the KPIs, the at-risk and
overdue lists, the survey figures, CLV per segment and the per-manager, industry and region
blocks. The model figures (weights and consistency, the tests whether segments differ, the
fitted lifetime model) describe the whole book and stay as they are; the Dashboard says so.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace

import numpy as np
import pandas as pd

from xlcrm import schema
from xlcrm.ledger import Ledger
from xlcrm.operations.contacts import BuyingCenter
from xlcrm.operations.history import narrowed
from xlcrm.operations.orders import OrderMetrics
from xlcrm.operations.step import operations
from xlcrm.pipeline import REVENUE_COLUMN, Results, Settings, abc_summary, type_summary
from xlcrm.value.segments import pareto_curve, summarise_segments


def _ids(values: pd.Series) -> np.ndarray:
    """CustomerIDs as trimmed text (``""`` for a blank cell)."""
    return values.astype("string").str.strip().fillna("").to_numpy(dtype=object)


def subset_ledger(ledger: Ledger, keep: Collection[str]) -> Ledger:
    """The ledger tables holding only the rows whose CustomerID is in ``keep``."""
    keep = set(keep)

    def rows(frame: pd.DataFrame) -> pd.DataFrame:
        if schema.CUSTOMER_ID not in frame.columns:
            return frame.iloc[:0]
        return frame[np.isin(_ids(frame[schema.CUSTOMER_ID]), list(keep))]

    return Ledger(*(rows(t) for t in (ledger.customers, ledger.transactions,
                                      ledger.interactions, ledger.survey)),
                  contacts=rows(ledger.contacts))


def subset_results(
    results: Results, ledger: Ledger, settings: Settings, keep: Collection[str], *, scope: str
) -> Results:
    """``results`` of the whole book narrowed to the customers ``keep`` (module docstring).

    Parameters
    ----------
    results : Results
        A run over the whole ``ledger`` with ``settings``.
    keep : collection of str
        CustomerIDs (trimmed text) to keep.
    scope : str
        One sentence saying whom the results cover, shown on the Dashboard.

    Returns
    -------
    Results
        Per-customer tables with only the kept customers (in the book's order); summaries,
        KPIs and lists over them; problems unchanged (the caller decides which concern them).
    """
    ids = _ids(results.segments_table[schema.CUSTOMER_ID])
    mask = np.isin(ids, list(set(keep)))
    rows = np.flatnonzero(mask)
    value = results.scores.value.reset_index(drop=True).iloc[rows].reset_index(drop=True)
    types = results.segments.type.reset_index(drop=True).iloc[rows].reset_index(drop=True)
    unrated = (results.unrated if results.unrated is not None
               else np.zeros(len(ids), dtype=bool))[rows]
    abc = np.asarray(results.abc.abc, dtype=object)[rows]
    scored = results.scored.iloc[rows] if results.scored is not None else None
    basis = value.to_numpy(dtype=float)
    if results.abc_basis == "Revenue" and scored is not None and REVENUE_COLUMN in scored:
        basis = pd.to_numeric(scored[REVENUE_COLUMN], errors="coerce").to_numpy(dtype=float)
    classed = ~unrated if results.abc_basis == "Value" else np.ones(len(rows), dtype=bool)
    _, by_abc = summarise_segments(None, abc, basis, settings.types)
    ops = results.operations
    # The buying center per customer is the customer's own: its rows, not recomputed.
    contacts = results.contacts
    if contacts is not None:
        contacts = BuyingCenter(contacts.table.iloc[rows], [], contacts.rows)
    if ops is not None and scored is not None:
        orders = results.orders
        if orders is not None:
            orders = OrderMetrics(orders.table.iloc[rows], orders.today, [])
        ops = operations(
            subset_ledger(ledger, ids[rows]), scored, types, abc, value, settings.types,
            today=results.as_of or results.stamp.date(), orders=orders,
            importance=dict(settings.options.importance), contacts=contacts,
        )
        ops.problems = []
    return replace(
        results,
        summary_by_type=type_summary(types, unrated, value.to_numpy(dtype=float),
                                     settings.types, len(results.segments.high.columns)),
        summary_by_abc=abc_summary(by_abc),
        pareto=pareto_curve(np.where(classed, basis, np.nan)),
        scores_table=results.scores_table.iloc[rows].reset_index(drop=True),
        segments_table=results.segments_table.iloc[rows].reset_index(drop=True),
        customers=len(rows),
        operations=ops,
        unrated=unrated,
        scored=scored,
        contacts=contacts,
        scope=scope,
        migration=None if results.migration is None else narrowed(
            results.migration, pd.Series(ids[rows], dtype=object), types, abc,
            results.segments_table["Move"].iloc[rows].reset_index(drop=True),
            {t.number: t.name for t in settings.types}),
    )
