"""Indicator figures computed from the ledger, cell by cell, and typed figures gone stale.

An indicator of the hierarchy names the column it reads. When that column is one xlcrm
computes from the ledger, every customer's figure is settled cell by cell:

* from ``Transactions`` (see :mod:`xlcrm.operations.orders`): every column of
  :data:`xlcrm.operations.orders.DERIVED_COLUMNS` (``Revenue12m``, ``GrossProfit12m``,
  ``UnitProfit``, ``GrowthRate``, ``RecencyDays``, ...), and ``PurchaseGrowth`` (the default
  hierarchy's name for the growth rate) as ``GrowthRate``;
* from ``Survey`` (see :mod:`xlcrm.operations.survey`): ``SatisfactionIndex`` (0..100),
  ``SatisfactionScore`` (on the questionnaire's scale), and ``Satisfaction`` (the default
  hierarchy's name, on the 1..5 scale its min-max expects) as ``SatisfactionScore``;
* from ``Contacts`` (see :mod:`xlcrm.operations.contacts`): ``RelationshipStrength`` (0..100:
  the decision maker's stance, the breadth of support and how recently the decision maker
  was contacted), e.g. an indicator of the Qualification group. A customer nobody on
  Contacts works at scores 0 (rule 1: we know nobody there); a figure typed for a customer
  without contacts is kept (rule 3).

The rules, and why a user would agree with them:

1. **A blank cell gets the ledger's figure** (*computed*; counted per customer in the
   ``Computed`` column of Scores, one summary line per column on Problems). The order
   history is the record of what a customer bought; a guess from other customers (the
   missing-value policy) is only for what the ledger cannot tell. This holds for a whole
   column left blank or missing, for one customer added by ``import-transactions
   --add-missing-customers``, and for a customer without any order (no orders in the last
   12 months is a revenue of 0, not an unknown revenue).
2. **A typed figure that differs from the ledger's own by more than the tolerance is
   stale** when the ledger holds history for that customer (at least one order line, or one
   questionnaire for survey figures): the ledger's figure is scored, so the Activity sheet
   and the scores always show the same figure, and one warning per column gives both
   figures for the first customers. A typed 12-month figure goes stale by itself as the
   window moves on, and an imported order the typed figure does not know is exactly what
   the user imported it for. Within the tolerance the ledger's figure is scored too: the
   two agree, and the scores then match Activity to the last digit.
3. **A typed figure of a customer the ledger has no history for is kept**: it is the user's
   record from elsewhere (another system, before the ledger started), and the ledger has
   nothing to say against it.
4. **Purchase growth of a customer with no order in either 12-month window is -100 %**
   (the *lapsed/none* rule, as the demo ledger types it), never a figure imputed from
   other customers: a customer who bought nothing for two years has not grown, and the
   median of the others would call it average.

The tolerance (:func:`tolerance`) is 1 % of the larger of the two figures, and at least
half a unit (0.5: rounding a money amount, an order count or a day count to whole units)
or, for rates and survey scores, 0.005 (rounding to a tenth of a percent or to two
decimals): below anything that moves a percentile rank or a band, above how people round
typed figures, and a missed order or a window that moved on shows.

A column is only computed when its source sheet has rows; otherwise the indicator reads
what is typed, as before, and blanks are reported by
:func:`xlcrm.value.scoring.score_customers`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from xlcrm import schema
from xlcrm.errors import Problem, column_letter
from xlcrm.operations.clv import INDICATOR_COLUMNS as CLV_INDICATOR_COLUMNS
from xlcrm.operations.contacts import BuyingCenter
from xlcrm.operations.orders import DERIVED_COLUMNS, OrderMetrics
from xlcrm.operations.survey import SurveyResult
from xlcrm.value.scoring import parse_numeric

ORDER_FIELDS: Final[Mapping[str, str]] = {
    **{name: name for name in DERIVED_COLUMNS},
    "PurchaseGrowth": "GrowthRate",
    # the lifetime-value figures the pipeline joins to the order table (one fit per run)
    **{name: name for name in CLV_INDICATOR_COLUMNS},
}
"""Indicator column -> column of :attr:`xlcrm.operations.orders.OrderMetrics.table`."""

SURVEY_FIELDS: Final[Mapping[str, str]] = {
    "SatisfactionIndex": "SatisfactionIndex",
    "SatisfactionScore": "SatisfactionScore",
    "Satisfaction": "SatisfactionScore",
}
"""Indicator column -> column of :attr:`xlcrm.operations.survey.SurveyResult.table`."""

CONTACT_FIELDS: Final[Mapping[str, str]] = {"RelationshipStrength": "RelationshipStrength"}
"""Indicator column -> column of :attr:`xlcrm.operations.contacts.BuyingCenter.table`."""

DERIVABLE: Final = (*ORDER_FIELDS, *SURVEY_FIELDS, *CONTACT_FIELDS)
"""Every column name an indicator may read without it being on ``Customers``."""

RELATIVE_TOLERANCE: Final = 0.01
"""A typed figure within 1 % of the ledger's (of the larger of the two) agrees with it."""

RATE_FIELDS: Final = frozenset({"GrowthRate", "SatisfactionIndex", "SatisfactionScore"})
"""Fields on a small scale (a rate, a survey score): their absolute tolerance is 0.005."""

LAPSED_GROWTH: Final = -1.0
"""Purchase growth of a customer without orders in either window (rule 4: -100 %)."""

SHOWN: Final = 3
"""How many customers a summary line names."""


def tolerance(field_name: str, typed: np.ndarray, ledger: np.ndarray) -> np.ndarray:
    """How far a typed figure may be from the ledger's and still agree (module docstring)."""
    floor = 0.005 if field_name in RATE_FIELDS else 0.5
    return np.maximum(floor, RELATIVE_TOLERANCE * np.maximum(np.abs(typed), np.abs(ledger)))


@dataclass(frozen=True)
class Stale:
    """Typed figures of one column that the ledger contradicts.

    Attributes
    ----------
    positions : ndarray of int
        Rows (positions in the customers given) whose typed figure is stale.
    typed, ledger : ndarray of float
        The typed figure and the ledger's figure, per stale row.
    """

    positions: np.ndarray
    typed: np.ndarray
    ledger: np.ndarray


@dataclass(frozen=True)
class DerivedColumns:
    """Customers with the ledger's figures settled cell by cell, and what was done.

    Attributes
    ----------
    customers : pandas.DataFrame
        The Customers rows as given, with each derivable column (added when missing) holding
        the figure to score.
    sources : dict of str to str
        Column -> where its figures come from, e.g. ``"Transactions (GrowthRate)"``, for
        the columns where at least one cell was computed.
    computed : dict of str to ndarray of bool
        Column -> rows whose figure was computed (blank cell, or stale typed figure).
    stale : dict of str to Stale
        Column -> the typed figures the ledger contradicts (replaced by its figures).
    added : list of str
        Columns Customers does not have, added with the ledger's figures.
    """

    customers: pd.DataFrame
    sources: dict[str, str] = field(default_factory=dict)
    computed: dict[str, np.ndarray] = field(default_factory=dict)
    stale: dict[str, Stale] = field(default_factory=dict)
    added: list[str] = field(default_factory=list)

    def computed_count(self) -> np.ndarray:
        """Per customer: how many of its indicator figures were computed from the ledger."""
        out = np.zeros(len(self.customers), dtype=np.int64)
        for mask in self.computed.values():
            out += mask
        return out


def wanted_columns(columns: Iterable[str]) -> list[str]:
    """The ``columns`` (in order, once each) that xlcrm can compute from the ledger."""
    return [c for c in dict.fromkeys(columns) if c in DERIVABLE]


def _aligned(table: pd.DataFrame, ids: pd.Index) -> np.ndarray | None:
    """Row of ``table`` for each id (``-1`` when absent); ``None`` when positions match."""
    if table.index.equals(ids):
        return None
    unique = table[~table.index.duplicated(keep="first")]
    return unique.index.get_indexer(ids)


def _take(values: np.ndarray, where: np.ndarray | None) -> np.ndarray:
    if where is None:
        return values
    out = np.full(where.size, np.nan)
    found = where >= 0
    out[found] = values[where[found]]
    return out


def _source(
    column: str, orders: OrderMetrics | None, survey: SurveyResult | None,
    contacts: BuyingCenter | None = None,
) -> tuple[pd.DataFrame, str, str, str] | None:
    """(table, field, sheet, history column) for ``column``, or None without its sheet."""
    if column in CONTACT_FIELDS and contacts is not None:
        return contacts.table, CONTACT_FIELDS[column], schema.CONTACTS, "ContactPersons"
    if column in ORDER_FIELDS and orders is not None:
        return orders.table, ORDER_FIELDS[column], schema.TRANSACTIONS, "Orders"
    if column in SURVEY_FIELDS and survey is not None:
        return survey.table, SURVEY_FIELDS[column], schema.SURVEY, "Responses"
    return None


def ledger_figures(
    table: pd.DataFrame, field_name: str, history: str, where: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """The ledger's figure per customer and whether the ledger holds history for it.

    Purchase growth without orders in either window follows the lapsed/none rule (-100 %).
    """
    figures = _take(table[field_name].to_numpy(dtype=float, na_value=np.nan), where)
    has = _take(table[history].to_numpy(dtype=float, na_value=np.nan), where) > 0
    if field_name == "GrowthRate" and "GrowthNote" in table.columns:
        notes = table["GrowthNote"].to_numpy(dtype=object)
        none = (notes == "no orders") | (notes == "no net purchases")
        none = none if where is None else np.where(where >= 0, none[np.maximum(where, 0)], True)
        figures = np.where(np.isnan(figures) & none, LAPSED_GROWTH, figures)
    return figures, has


def _settle(
    raw: pd.Series | None, figures: np.ndarray, has: np.ndarray, field_name: str
) -> tuple[pd.Series | np.ndarray, np.ndarray, Stale]:
    """The column to score, the computed rows and the stale typed figures (rules 1-3)."""
    n = figures.size
    known = np.isfinite(figures)
    if raw is None:
        return figures, known, Stale(np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0))
    typed, blank, reason = parse_numeric(raw)
    fill = blank & known
    usable = ~blank & (reason == 0) & known & has
    gap = np.zeros(n, dtype=bool)
    gap[usable] = np.abs(typed[usable] - figures[usable]) > tolerance(
        field_name, typed[usable], figures[usable]
    )
    stale = np.flatnonzero(gap)
    replace = fill | usable  # within the tolerance the ledger's figure is scored too
    column: pd.Series | np.ndarray = raw
    if ptypes.is_numeric_dtype(raw.dtype) and not ptypes.is_bool_dtype(raw.dtype):
        column = raw.to_numpy(dtype=float, na_value=np.nan, copy=True)
        column[replace] = figures[replace]
    elif replace.any():
        column = raw.to_numpy(dtype=object, copy=True)
        column[replace] = figures[replace]
    return column, fill | gap, Stale(stale, typed[stale], figures[stale])


def add_derived_columns(
    customers: pd.DataFrame,
    columns: Iterable[str],
    *,
    orders: OrderMetrics | None,
    survey: SurveyResult | None,
    contacts: BuyingCenter | None = None,
    ids: pd.Series | None = None,
) -> DerivedColumns:
    """Settle the derivable indicator ``columns`` cell by cell (module docstring).

    Parameters
    ----------
    customers : pandas.DataFrame
        The Customers rows analysed (unique CustomerIDs), any row order.
    columns : iterable of str
        The columns the hierarchy's indicators (and the ABC basis) read.
    orders, survey, contacts : OrderMetrics, SurveyResult or BuyingCenter, optional
        Figures per CustomerID, or ``None`` when the source sheet has no rows.
    ids : Series, optional
        The CustomerIDs of ``customers`` as trimmed text, when the caller has them.

    Returns
    -------
    DerivedColumns
    """
    wanted = wanted_columns(columns)
    if not wanted or (orders is None and survey is None and contacts is None):
        return DerivedColumns(customers)
    if ids is None:
        ids = customers[schema.CUSTOMER_ID].astype("string").str.strip()
    index = pd.Index(ids.to_numpy(dtype=object), dtype=object)
    where: dict[int, np.ndarray | None] = {}
    out = customers.copy(deep=False)
    result = DerivedColumns(out)
    for column in wanted:
        source = _source(column, orders, survey, contacts)
        if source is None:
            continue
        table, field_name, sheet, history = source
        if id(table) not in where:
            where[id(table)] = _aligned(table, index)
        figures, has = ledger_figures(table, field_name, history, where[id(table)])
        raw = customers[column] if column in customers.columns else None
        if raw is None:
            result.added.append(column)
        values, computed, stale = _settle(raw, figures, has, field_name)
        out[column] = values
        result.computed[column] = computed
        if stale.positions.size:
            result.stale[column] = stale
        if computed.any() or raw is None:
            result.sources[column] = sheet if field_name == column else f"{sheet} ({field_name})"
    return result


def _figure(x: float) -> str:
    return f"{x:,.4g}" if abs(x) < 1000 else f"{x:,.0f}"


def derived_problems(
    derived: DerivedColumns,
    *,
    ids: Sequence[str],
    columns: Sequence[str],
    sheet: str = schema.CUSTOMERS,
    first_col: int = 0,
) -> list[Problem]:
    """One summary line per column: cells computed, and typed figures found stale.

    Parameters
    ----------
    derived : DerivedColumns
    ids : sequence of str
        CustomerID per row of ``derived.customers``, to name customers in messages.
    columns : sequence of str
        The columns of the Customers table on the sheet (a column computed for every
        customer because the sheet lacks it gets no line: the Dashboard names it).
    sheet, first_col : optional
        Where the Customers table sits, for the column addresses.
    """
    problems: list[Problem] = []
    columns = list(columns)
    for column, source in derived.sources.items():
        if column not in columns:
            continue
        letter = column_letter(first_col + columns.index(column))
        computed = derived.computed[column]
        count = int(computed.sum()) - (
            derived.stale[column].positions.size if column in derived.stale else 0
        )
        if count:
            problems.append(Problem(
                "note",
                f"{column}: {count} of {len(computed)} "
                f"{'customer has' if count == 1 else 'customers have'} no figure typed; the "
                f"figure computed from {source} is used (counted in the Computed column of "
                f"{schema.SCORES})",
                f"Nothing to do: {source.split(' ')[0]} is the record; type a figure only "
                "for a customer the ledger has no history for.",
                sheet, f"{letter}:{letter}",
            ))
    for column, stale in derived.stale.items():
        letter = column_letter(first_col + columns.index(column))
        source = derived.sources.get(column, column)
        named = "; ".join(
            f"{ids[int(p)]} typed {_figure(t)}, ledger {_figure(g)}"
            for p, t, g in zip(stale.positions[:SHOWN], stale.typed, stale.ledger, strict=False)
        )
        more = stale.positions.size - min(SHOWN, stale.positions.size)
        problems.append(Problem(
            "warning",
            f"{column}: {stale.positions.size} typed "
            f"{'figure is' if stale.positions.size == 1 else 'figures are'} stale, more than "
            f"1 % off the figure computed from {source} ({named}"
            f"{f'; {more} more' if more else ''}); the ledger's figures are used",
            f"Clear these {column} cells (the ledger keeps them up to date), or import the "
            f"orders the ledger is missing if the typed figure is right.",
            sheet, f"{letter}:{letter}",
        ))
    return problems
