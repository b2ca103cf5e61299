"""CRM key performance indicators, overall and per segment (DESIGN.md §2.7).

:func:`kpis` returns one **wide** table: one row per KPI (:data:`KPI_NAMES`, in order) and one
column per customer group, always the same columns in the same order so that a dashboard can
place them once: ``Overall``, ``Type 1`` ... ``Type 8``, ``Class A``, ``Class B``,
``Class C`` (:func:`kpi_columns`). Every cell is a number (NaN where undefined: an empty
group, a zero denominator, a figure that needs an input not given). The unit and the
definition of each row are in :data:`KPI_UNITS` and :data:`KPI_DEFINITIONS`, for the
dashboard's labels and notes.

All figures are as of ``today``; "last 12 months" and "the 12 months before" are the windows
of :mod:`xlcrm.operations.orders` (``today - 1 year < Date <= today`` and the year before that).

Definitions
-----------
Customers
    Customers in scope in the group.
Active customers
    Customers with at least one order in the last 12 months.
Churn rate
    Of the customers who ordered in the 12 months before, the share who did not order in
    the last 12 months: customers lost during the period / customers at the start of the
    period, the standard definition (e.g. Farris, Bendle, Pfeifer & Reibstein, *Marketing
    Metrics*, 2nd ed. 2010, ch. 5: attrition = 1 - retention rate), with "customer at the
    start" read, for a supplier without contracts, as "ordered in the previous 12 months".
    Customers won during the last 12 months are not in the base, as the definition
    requires.
Repeat-purchase rate
    Of the active customers, the share with two or more orders in the last 12 months.
Complaint rate
    Complaints dated in the last 12 months per active customer (0.05 = 5 complaints per
    100 active customers). Complaints of customers who did not order count too: a
    complaint may be why they stopped.
Open complaints
    Complaints not resolved as of today.
Avg resolution days
    Mean days from complaint to resolution over the complaints resolved in the last 12
    months (each complaint counts once, not each customer's average).
Satisfaction index
    Mean of the customers' satisfaction indices (0..100, latest questionnaire each) over
    the customers who answered a questionnaire.
Surveyed customers
    Customers with a satisfaction index.
Overdue contacts
    Customers whose next planned contact is due (on or before today).
High churn risk
    Customers whose churn risk is High (when a churn table is given).
A share of summed value scores
    Sum of the value of class A customers / sum over all customers with a value (Overall
    column only; NaN in the group columns, where it would be 1 or 0 by construction).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any, Final

import numpy as np
import pandas as pd

from xlcrm import schema
from xlcrm.errors import InputError
from xlcrm.operations.orders import (
    ContactPlan,
    OrderMetrics,
    _align,
    _as_date,
    customer_index,
    id_text,
)
from xlcrm.operations.survey import SurveyResult
from xlcrm.value.scoring import parse_numeric
from xlcrm.value.strategies import ABC_CLASSES

__all__ = [
    "KPI_DEFINITIONS",
    "KPI_NAMES",
    "KPI_UNITS",
    "OVERALL",
    "kpi_columns",
    "kpis",
]

OVERALL: Final = "Overall"
TYPE_NUMBERS: Final = tuple(range(1, 9))

KPI_UNITS: Final = {
    "Customers": "customers",
    "Active customers": "customers",
    "Churn rate": "share",
    "Repeat-purchase rate": "share",
    "Complaint rate": "complaints per active customer",
    "Open complaints": "complaints",
    "Avg resolution days": "days",
    "Satisfaction index": "index 0-100",
    "Surveyed customers": "customers",
    "Overdue contacts": "customers",
    "High churn risk": "customers",
    "A share of summed value scores": "share",
}
"""KPI name -> unit (``share`` is a fraction: format it as a percentage)."""

KPI_NAMES: Final = tuple(KPI_UNITS)

KPI_DEFINITIONS: Final = {
    "Customers": "Customers in the group.",
    "Active customers": "Customers with at least one order in the last 12 months.",
    "Churn rate": "Of the customers who ordered in the 12 months before, the share who did not"
    " order in the last 12 months.",
    "Repeat-purchase rate": "Of the active customers, the share with two or more orders in"
    " the last 12 months.",
    "Complaint rate": "Complaints in the last 12 months per active customer.",
    "Open complaints": "Complaints not resolved as of today.",
    "Avg resolution days": "Mean days to resolve the complaints resolved in the last 12"
    " months.",
    "Satisfaction index": "Mean satisfaction index (0-100, latest questionnaire) of the"
    " customers who answered.",
    "Surveyed customers": "Customers who answered a questionnaire.",
    "Overdue contacts": "Customers whose next planned contact is due.",
    "High churn risk": "Customers whose churn risk is High.",
    "A share of summed value scores": "Summed value score (0-100 each) of class A customers /"
    " summed value score of all customers (not a share of revenue).",
}


def kpi_columns(
    types: Iterable[int] = TYPE_NUMBERS, classes: Iterable[str] = tuple(ABC_CLASSES)
) -> tuple[str, ...]:
    """Column names of the KPI table: ``Overall``, ``Type n`` ..., ``Class X`` ..."""
    return (OVERALL, *(f"Type {t}" for t in types), *(f"Class {c}" for c in classes))


def _frame_on(frame: pd.DataFrame, index: pd.Index, what: str) -> pd.DataFrame:
    """``frame`` aligned to the customers ``index`` (by its CustomerID column or index
    labels; by position when it has a default index and one row per customer)."""
    if schema.CUSTOMER_ID in frame.columns:
        labels = pd.Index(id_text(frame[schema.CUSTOMER_ID]), dtype=object)
    elif not isinstance(frame.index, pd.RangeIndex):
        labels = pd.Index(id_text(frame.index), dtype=object)
    else:
        if len(frame) != len(index):
            raise InputError(
                f"{what} has {len(frame)} rows for {len(index)} customers and no CustomerID",
                fix=f"Give {what} a CustomerID column or index.",
            )
        return frame.set_axis(index, axis=0)
    if not labels.is_unique:
        raise InputError(
            f"{what} names customer {labels[labels.duplicated()][0]!r} more than once",
            fix=f"Pass {what} with one row per customer.",
        )
    return frame.set_axis(labels, axis=0).reindex(index)


def _table_on(table: pd.DataFrame, index: pd.Index, what: str) -> pd.DataFrame:
    """A result table of :mod:`~xlcrm.operations.orders` / :mod:`~xlcrm.operations.survey`
    on ``index``."""
    src = table[~table.index.duplicated(keep="first")]
    absent = ~index.isin(src.index)
    if absent.any():
        raise InputError(
            f"customer {index[absent][0]!r} is in scope but not in the {what}",
            fix=f"Compute the {what} for every customer in scope.",
        )
    return src.reindex(index)


def kpis(
    customers_in_scope: Any,
    metrics: OrderMetrics,
    contact_plan: ContactPlan | None,
    survey_result: SurveyResult | None,
    *,
    segments: pd.DataFrame | None = None,
    value: Any = None,
    today: dt.date,
    churn: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """KPIs overall, per type (1..8) and per ABC class (module docstring).

    Parameters
    ----------
    customers_in_scope : array-like
        CustomerIDs the KPIs are about (e.g. every customer analysed).
    metrics : OrderMetrics
        From :func:`xlcrm.operations.orders.order_metrics`, covering every customer in scope.
    contact_plan : ContactPlan or None
        From :func:`xlcrm.operations.orders.contact_plan`; ``None`` leaves the complaint and contact
        rows blank.
    survey_result : SurveyResult or None
        From :func:`xlcrm.operations.survey.satisfaction`; ``None`` leaves the satisfaction
        rows blank.
    segments : pandas.DataFrame, optional
        Columns ``Type`` (1..8) and ``ABC`` (A, B, C) per customer, indexed by CustomerID or
        with a CustomerID column (the Segments table will do). Without it the group columns
        are blank.
    value : pandas.Series, optional
        Value per customer (indexed by CustomerID), for the value share of A customers.
    today : datetime.date
        The day of the analysis; must be that of ``metrics`` and ``contact_plan``.
    churn : pandas.DataFrame, optional
        From :func:`xlcrm.operations.orders.churn_risk`, for the High churn risk row.

    Returns
    -------
    pandas.DataFrame
        Index :data:`KPI_NAMES` (named ``KPI``), columns :func:`kpi_columns`, floats.
    """
    as_of = _as_date(today)
    for name, obj in (("order metrics", metrics), ("contact plan", contact_plan)):
        if obj is not None and obj.today != as_of:
            raise InputError(
                f"the {name} are as of {obj.today.isoformat()}, not {as_of.isoformat()}",
                fix="Compute every input for the same day.",
            )
    ids = customer_index(customers_in_scope)
    n = len(ids)
    m = _table_on(metrics.table, ids, "order metrics")
    orders12 = m["Orders12m"].to_numpy(dtype=float)
    orders_prev = m["OrdersPrev12m"].to_numpy(dtype=float)
    active = orders12 >= 1
    base = orders_prev >= 1
    nan = np.full(n, np.nan)

    if contact_plan is not None:
        p = _table_on(contact_plan.table, ids, "contact plan")
        complaints12 = p["Complaints12m"].to_numpy(dtype=float)
        open_c = p["OpenComplaints"].to_numpy(dtype=float)
        closed = p["ComplaintsClosed12m"].to_numpy(dtype=float)
        res_sum = np.where(closed > 0, p["AvgResolutionDays"].to_numpy(dtype=float) * closed, 0)
        overdue = p["Overdue"].to_numpy(dtype=bool).astype(float)
    else:
        complaints12 = open_c = closed = res_sum = overdue = nan
    if survey_result is not None:
        sat = _table_on(survey_result.table, ids, "survey result")["SatisfactionIndex"]
        sat = sat.to_numpy(dtype=float)
    else:
        sat = nan
    if churn is not None:
        high = (_table_on(churn, ids, "churn table")["ChurnRisk"] == "High").to_numpy(float)
    else:
        high = nan

    columns = kpi_columns()
    groups: dict[str, np.ndarray | None] = {OVERALL: np.ones(n, dtype=bool)}
    if segments is not None:
        seg = _frame_on(segments, ids, "segments")
        for needed in ("Type", "ABC"):
            if needed not in seg.columns:
                raise InputError(
                    f"segments has no {needed} column",
                    fix="Pass the Segments table (columns Type and ABC).",
                )
        types, _b, _r = parse_numeric(seg["Type"])
        abc = pd.Series(id_text(seg["ABC"]), dtype=object).str.upper().to_numpy(dtype=object)
        for t in TYPE_NUMBERS:
            groups[f"Type {t}"] = types == t
        for c in ABC_CLASSES:
            groups[f"Class {c}"] = abc == c
    else:
        abc = None
        groups |= {col: None for col in columns[1:]}

    share_a = np.nan
    if value is not None and abc is not None:
        v = _align(value, ids, "value").to_numpy(dtype=float)
        has_v = np.isfinite(v)
        total = v[has_v].sum()
        if has_v.any() and total != 0:
            share_a = float(v[has_v & (abc == "A")].sum() / total)

    def ratio(num: float, den: float) -> float:
        return float(num / den) if den > 0 else float("nan")

    out = pd.DataFrame(np.nan, index=pd.Index(KPI_NAMES, name="KPI"), columns=list(columns))
    for col in columns:
        g = groups.get(col)
        if g is None:
            continue
        n_active = float(active[g].sum())
        sat_g = sat[g][np.isfinite(sat[g])]
        closed_g = np.nansum(closed[g]) if contact_plan is not None else np.nan
        out[col] = [
            float(g.sum()),
            n_active,
            ratio(float((base[g] & ~active[g]).sum()), float(base[g].sum())),
            ratio(float((orders12[g] >= 2).sum()), n_active),
            ratio(float(np.sum(complaints12[g])), n_active)
            if contact_plan is not None
            else np.nan,
            float(np.sum(open_c[g])) if contact_plan is not None else np.nan,
            ratio(float(np.sum(res_sum[g])), float(closed_g))
            if contact_plan is not None
            else np.nan,
            float(sat_g.mean()) if sat_g.size else np.nan,
            float(sat_g.size) if survey_result is not None else np.nan,
            float(np.sum(overdue[g])) if contact_plan is not None else np.nan,
            float(np.sum(high[g])) if churn is not None else np.nan,
            share_a if col == OVERALL else np.nan,
        ]
    return out
