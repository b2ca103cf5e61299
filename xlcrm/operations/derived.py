"""Indicator columns computed from the ledger instead of typed on ``Customers``.

An indicator of the hierarchy names the column it reads. When ``Customers`` has no such
column, or has it but every cell is blank, and the column is one xlcrm computes from the
ledger, the computed figure is used:

* from ``Transactions`` (see :mod:`xlcrm.operations.orders`): every column of
  :data:`xlcrm.operations.orders.DERIVED_COLUMNS` (``Revenue12m``, ``GrossProfit12m``,
  ``UnitProfit``, ``GrowthRate``, ``RecencyDays``, ...), and ``PurchaseGrowth`` (the default
  hierarchy's name for the growth rate) as ``GrowthRate``;
* from ``Survey`` (see :mod:`xlcrm.operations.survey`): ``SatisfactionIndex`` (0..100),
  ``SatisfactionScore`` (on the questionnaire's scale), and ``Satisfaction`` (the default
  hierarchy's name, on the 1..5 scale its min-max expects) as ``SatisfactionScore``.

A column the user filled on ``Customers`` always wins: it is their record, and an analyst
may keep figures there that the ledger does not hold (revenue from another system). A
column is only computed when its source sheet has rows; otherwise the indicator is missing
as before and reported by :func:`xlcrm.value.scoring.score_customers`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

import pandas as pd

from xlcrm import schema
from xlcrm.operations.orders import DERIVED_COLUMNS, OrderMetrics
from xlcrm.operations.survey import SurveyResult

ORDER_FIELDS: Final[Mapping[str, str]] = {
    **{name: name for name in DERIVED_COLUMNS},
    "PurchaseGrowth": "GrowthRate",
}
"""Indicator column -> column of :attr:`xlcrm.operations.orders.OrderMetrics.table`."""

SURVEY_FIELDS: Final[Mapping[str, str]] = {
    "SatisfactionIndex": "SatisfactionIndex",
    "SatisfactionScore": "SatisfactionScore",
    "Satisfaction": "SatisfactionScore",
}
"""Indicator column -> column of :attr:`xlcrm.operations.survey.SurveyResult.table`."""

DERIVABLE: Final = (*ORDER_FIELDS, *SURVEY_FIELDS)
"""Every column name an indicator may read without it being on ``Customers``."""


@dataclass(frozen=True)
class DerivedColumns:
    """Customers with the computed indicator columns filled in, and where each came from.

    Attributes
    ----------
    customers : pandas.DataFrame
        The Customers table as given, plus (or with replaced blank) computed columns.
    sources : dict of str to str
        Column -> where it was computed from, e.g. ``"Transactions (GrowthRate)"``.
    """

    customers: pd.DataFrame
    sources: dict[str, str]


def is_blank_column(values: pd.Series) -> bool:
    """True when no cell of ``values`` holds anything (blank cells or empty text only)."""
    filled = values.notna() & (values.astype("string").str.strip().fillna("") != "")
    return not bool(filled.any())


def wanted_columns(customers: pd.DataFrame, columns: Iterable[str]) -> list[str]:
    """The indicator ``columns`` that Customers lacks or leaves blank and xlcrm can compute."""
    return [
        c for c in dict.fromkeys(columns)
        if c in DERIVABLE and (c not in customers.columns or is_blank_column(customers[c]))
    ]  # fmt: skip


def add_derived_columns(
    customers: pd.DataFrame,
    columns: Iterable[str],
    *,
    orders: OrderMetrics | None,
    survey: SurveyResult | None,
) -> DerivedColumns:
    """Fill the indicator ``columns`` that Customers lacks from order and survey figures.

    Parameters
    ----------
    customers : pandas.DataFrame
        The Customers table as read (any row order; blank and repeated IDs allowed: those
        rows are left out of the analysis later and get no figures here).
    columns : iterable of str
        The columns the hierarchy's indicators read.
    orders, survey : OrderMetrics or SurveyResult, optional
        Figures per CustomerID, or ``None`` when the source sheet has no rows.

    Returns
    -------
    DerivedColumns
    """
    wanted = wanted_columns(customers, columns)
    if not wanted:
        return DerivedColumns(customers, {})
    ids = customers[schema.CUSTOMER_ID].astype("string").str.strip()
    out = customers.copy()
    sources: dict[str, str] = {}
    for column in wanted:
        if column in ORDER_FIELDS and orders is not None:
            table, field, sheet = orders.table, ORDER_FIELDS[column], schema.TRANSACTIONS
        elif column in SURVEY_FIELDS and survey is not None:
            table, field, sheet = survey.table, SURVEY_FIELDS[column], schema.SURVEY
        else:
            continue
        by_id = table[field]
        by_id = by_id[~by_id.index.duplicated(keep="first")]
        out[column] = by_id.reindex(ids.to_numpy(dtype=object)).to_numpy(dtype=float)
        sources[column] = sheet if field == column else f"{sheet} ({field})"
    return DerivedColumns(out, sources)
