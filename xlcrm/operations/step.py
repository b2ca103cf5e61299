"""The CRM operations step of a run: orders, contacts and surveys per customer, and KPIs.

Joins :mod:`xlcrm.operations.orders`, :mod:`xlcrm.operations.survey` and
:mod:`xlcrm.operations.kpis` on the customers a run analyses, with each customer's visit
interval taken from its segment's strategy.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from xlcrm import schema
from xlcrm.errors import InputError, Problem
from xlcrm.ledger import Ledger
from xlcrm.operations.clv import INDICATOR_COLUMNS, churn_warning, lifetime_by
from xlcrm.operations.contacts import ACTIVITY_COLUMNS as BUYING_CENTER_COLUMNS
from xlcrm.operations.contacts import BuyingCenter, buying_center_kpis
from xlcrm.operations.kpis import kpis
from xlcrm.operations.orders import (
    OrderMetrics,
    at_risk_list,
    churn_risk,
    contact_plan,
    order_metrics,
    overdue_list,
)
from xlcrm.operations.survey import SurveyResult, importance_performance, satisfaction
from xlcrm.value.strategies import ABC_CLASSES, CustomerType

ACTIVITY_COLUMNS = (
    "CustomerID", "Name", "FirstOrder", "LastOrder", "Orders", "Revenue12m", "RevenuePrev12m",
    "GrowthRate", "RecencyDays", "R", "F", "M", "RFMSegment", "ChurnRisk", "ChurnReason",
    "LastContact", "NextContactDue", "Overdue", "OpenComplaints", "Satisfaction",
    *INDICATOR_COLUMNS, *schema.BREAKDOWN_COLUMNS, *BUYING_CENTER_COLUMNS,
)  # fmt: skip


@dataclass
class Operations:
    """Per-customer activity (the ``Activity`` sheet), KPIs and the problems found."""

    activity: pd.DataFrame
    kpis: pd.DataFrame
    at_risk: pd.DataFrame
    problems: list[Problem]
    survey: SurveyResult | None = None
    importance_performance: pd.DataFrame | None = None
    """Per survey question: importance, performance and quadrant; ``None`` without
    importance weights."""
    overdue: pd.DataFrame | None = None
    """Customers whose next contact is due, most valuable first (see
    :func:`xlcrm.operations.orders.overdue_list`), with CustomerID and Name columns."""
    lifetime_by_segment: pd.DataFrame | None = None
    """CLV per ABC class and per type (:func:`xlcrm.operations.clv.lifetime_by`); ``None``
    when the lifetime model could not be used."""
    buying_center: tuple[list[int], pd.DataFrame] | None = None
    """The Dashboard's buying-center figures and accounts to act on
    (:func:`xlcrm.operations.contacts.buying_center_kpis`); ``None`` without contacts."""


def _named(frame: pd.DataFrame, names: pd.Series) -> pd.DataFrame:
    """A per-customer list indexed by CustomerID as columns CustomerID, Name, then the rest."""
    out = frame.copy()
    out.insert(0, "Name", names.reindex(out.index).to_numpy())
    out.insert(0, "CustomerID", out.index.to_numpy(dtype=object))
    return out.reset_index(drop=True)


def customer_ids(customers: pd.DataFrame) -> pd.Series:
    """The CustomerIDs of ``customers`` as trimmed text, positionally."""
    return customers[schema.CUSTOMER_ID].astype("string").str.strip().reset_index(drop=True)


def carried_columns(
    customers: pd.DataFrame, columns: Sequence[str] = schema.BREAKDOWN_COLUMNS
) -> dict[str, Any]:
    """AccountManager, Industry and Region (or ``columns``) of ``customers`` as they are
    typed (blank where the Customers table has no such column), for Segments and Activity,
    positionally.

    A column of text keeps the ledger's own array (pandas text or an object array of the
    cells' ``str``): converting pandas text to Python strings made a new object per cell,
    200 MB for the three columns at 1,048,576 customers. Other columns (numbers typed as a
    region) become objects, as before.
    """
    n = len(customers)
    out: dict[str, Any] = {}
    for col in columns:
        if col not in customers.columns:
            out[col] = np.full(n, None, dtype=object)
            continue
        values = customers[col]
        # An object column's array is a view (its cells are not copied).
        out[col] = (values.array if isinstance(values.dtype, pd.StringDtype)
                    else values.to_numpy(dtype=object))
    return out


def visit_intervals(types: pd.Series, catalogue: Sequence[CustomerType]) -> np.ndarray:
    """Each customer's visit interval in days from its type; the longest one when untyped.

    A type without a strategy in ``catalogue`` has no interval (NaN: no planned contact;
    the run warns and says what to add), never a silent default.
    """
    numbers = pd.Series(types).to_numpy(dtype=float, na_value=np.nan)
    by_number = {t.number: float(t.visit_interval_days) for t in catalogue}
    fallback = max(by_number.values(), default=np.nan)
    top = int(np.nanmax(numbers, initial=0.0))
    table = np.full(max(top, *by_number, 0) + 1, np.nan)
    table[0] = fallback
    for number, days in by_number.items():
        table[number] = days
    return table[np.where(np.isnan(numbers), 0, numbers).astype(np.int64)]


def _at_risk(
    churn: pd.DataFrame, value: pd.Series, order_table: pd.DataFrame | None
) -> pd.DataFrame:
    """Customers at risk, by value at risk (CLV x (1 - PAlive)) when the lifetime model
    fitted, else by value score; both figures are kept for the Dashboard."""
    if order_table is None:
        out = at_risk_list(churn, value)
        out["ValueAtRisk"] = np.nan
        return out
    p, clv = (order_table[c].to_numpy(dtype=float) for c in ("PAlive", "CLV"))
    at_stake = pd.Series(clv * (1 - p), index=churn.index)
    out = at_risk_list(churn, at_stake).rename(columns={"Value": "ValueAtRisk"})
    out.insert(0, "Value", value.reindex(out.index).to_numpy(dtype=float))
    return out


def operations(
    ledger: Ledger,
    customers: pd.DataFrame,
    types: pd.Series,
    abc: np.ndarray,
    value: pd.Series,
    catalogue: Sequence[CustomerType],
    *,
    today: dt.date,
    orders: OrderMetrics | None = None,
    survey: SurveyResult | None = None,
    importance: Mapping[str, float] | None = None,
    contacts: BuyingCenter | None = None,
) -> Operations:
    """Activity per customer and KPIs, for the analysed ``customers`` (in their order).

    Parameters
    ----------
    ledger : Ledger
        Transactions, Interactions and Survey as read (bad cells are reported, with cells).
    customers : DataFrame
        The Customers rows analysed (unique CustomerIDs).
    types, abc, value : per customer, positionally like ``customers``
        Segment type (1..8 or <NA>), ABC class and value score.
    catalogue : sequence of CustomerType
        Strategies with their visit intervals.
    today : date
        The day the run is "as of".
    orders, survey : OrderMetrics, SurveyResult, optional
        Order and survey figures of exactly these customers as of ``today``, when the
        caller has computed them already (the pipeline does, for indicators that read them).
    importance : mapping of str to float, optional
        Survey question -> importance, from the Indicators sheet; gives the
        importance-performance table.
    contacts : BuyingCenter, optional
        The buying center of exactly these customers (its problems are the caller's to
        report); ``None`` leaves its Activity columns blank.
    """
    ids = customer_ids(customers)
    metrics = orders if orders is not None else order_metrics(ledger.transactions, ids, today=today)
    churn = churn_warning(metrics) if "PAlive" in metrics.table.columns else churn_risk(
        metrics, today=today
    )
    fitted = "PAlive" in metrics.table.columns and metrics.table["PAlive"].notna().any()
    plan = contact_plan(ledger.interactions, ids, visit_intervals(types, catalogue), today=today)
    if survey is None:
        survey = satisfaction(ledger.survey, ids, today=today)
    problems = [*metrics.problems, *plan.problems, *survey.problems]

    m, c, p, s = (metrics.table, churn, plan.table, survey.table)
    names = customers.get(schema.CUSTOMER_NAME)
    activity = pd.DataFrame(
        {
            "CustomerID": ids.to_numpy(dtype=object),
            "Name": names.to_numpy() if names is not None else None,
            **{col: m[col].to_numpy() for col in ACTIVITY_COLUMNS[2:13]},
            "ChurnRisk": c["ChurnRisk"].to_numpy(),
            "ChurnReason": c["ChurnReason"].to_numpy(),
            "LastContact": p["LastContact"].to_numpy(),
            "NextContactDue": p["NextContactDue"].to_numpy(),
            "Overdue": np.where(p["Overdue"].to_numpy(dtype=bool), "Yes", "No"),
            "OpenComplaints": p["OpenComplaints"].to_numpy(),
            "Satisfaction": s["SatisfactionIndex"].to_numpy(),
            **{col: (m[col] if col in m.columns else pd.Series(np.nan, index=m.index))
               .to_numpy(dtype=float) for col in INDICATOR_COLUMNS},
            **carried_columns(customers),
            **_buying_center_columns(contacts, len(ids)),
        }
    )
    segments = pd.DataFrame({"Type": types.to_numpy(), "ABC": abc}, index=ids.to_numpy())
    value_by_id = pd.Series(value.to_numpy(dtype=float), index=ids.to_numpy())
    table = kpis(ids, metrics, plan, survey, segments=segments, value=value_by_id, today=today,
                 churn=churn)
    name_by_id = pd.Series(activity["Name"].to_numpy(), index=ids.to_numpy())
    at_risk = _named(_at_risk(churn, value_by_id, metrics.table if fitted else None), name_by_id)
    overdue = _named(overdue_list(plan, value_by_id), name_by_id)
    ipa = None
    if importance and survey.responses:
        try:
            ipa = importance_performance(survey, importance)
        except InputError as exc:
            problems.extend(
                replace(p, severity="warning", sheet=schema.INDICATORS,
                        message=f"no importance-performance table: {p.message}")
                for p in exc.problems
            )
    by_segment = _lifetime_by_segment(activity, types, abc, catalogue) if fitted else None
    center = None if contacts is None else buying_center_kpis(
        contacts.table, abc, value_by_id.to_numpy(), activity["Name"])
    return Operations(activity, table, at_risk, problems, survey, ipa, overdue, by_segment,
                      center)


def _buying_center_columns(contacts: BuyingCenter | None, n: int) -> dict[str, np.ndarray]:
    """The Activity columns of the buying center; blank without a Contacts table."""
    if contacts is None:
        return {col: np.full(n, None, dtype=object) for col in BUYING_CENTER_COLUMNS}
    return {col: contacts.table[col].to_numpy() for col in BUYING_CENTER_COLUMNS}


def _lifetime_by_segment(
    activity: pd.DataFrame, types: pd.Series, abc: np.ndarray,
    catalogue: Sequence[CustomerType],
) -> pd.DataFrame:
    """CLV per ABC class, then per type (named "3 HLH Solid..."), one table."""
    clv, alive = activity["CLV"].to_numpy(dtype=float), activity["PAlive"].to_numpy(dtype=float)
    names = {t.number: f"{t.number} {t.code} {t.name}" for t in catalogue}
    type_labels = [names.get(int(v), str(int(v))) if pd.notna(v) else None for v in types]
    by_class = lifetime_by([f"Class {c}" if isinstance(c, str) and c else None for c in abc],
                           clv, alive,
                           [f"Class {c}" for c in ABC_CLASSES])  # fmt: skip
    by_type = lifetime_by(type_labels, clv, alive, [names[k] for k in sorted(names)])
    return pd.concat([by_class, by_type], ignore_index=True)
