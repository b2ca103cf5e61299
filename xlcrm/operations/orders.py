"""Orders and contacts: purchase growth, RFM, churn early warning, the contact plan.

Everything here is computed *as of* a ``today`` argument (a :class:`datetime.date`); no
function reads the clock. The two 12-month windows are those of the demo ledger
(:mod:`xlcrm.demo`), so that a derived column equals the demo's column of the same name:

* **last 12 months**: ``today - 1 year < Date <= today``;
* **the 12 months before**: ``today - 2 years < Date <= today - 1 year``

(``today - 1 year`` of 29 February is 28 February). Rows dated after ``today`` are reported
(warning) and not counted: the analysis is as of ``today``.

Orders (``Transactions``: CustomerID, Date, Amount, optional GrossProfit, Quantity, Product)
------------------------------------------------------------------------------------------
* **An order** is a row with ``Amount > 0``. A row with a negative ``Amount`` is a credit note
  or a return: it is netted into the revenue (and gross profit) of the window it is dated in,
  but it is not an order (it does not count in ``Orders``, first/last order, recency, the
  interval between orders or F). A zero amount is neither an order nor revenue. Revenue
  figures are therefore *net* sales; a customer whose credit notes exceed its orders in the
  last 12 months is reported (warning) with its negative net revenue.
* ``Orders`` counts order rows (one row is one order, as in the demo ledger), all history up
  to ``today``; ``Orders12m`` and ``OrdersPrev12m`` count them per window.
* ``Revenue12m`` / ``RevenuePrev12m``: net sum of ``Amount`` per window (0 when none),
  added exactly in whole 1/10,000 units (:data:`AMOUNT_UNITS`), so that an order source
  computing it in a database gives the same number;
  ``RevenueTotal``: net sum over all history up to ``today`` (the M of RFM).
* ``GrossProfit12m``: sum of ``GrossProfit`` over the last 12 months; blank (NaN) when the
  sheet has no GrossProfit column or when one of the customer's rows in the window has a
  blank or unusable GrossProfit (reported): a partial sum would be a silently wrong number.
* ``UnitProfit``: ``GrossProfit12m / Orders12m`` (profit per order, DESIGN.md §2.2); 0 for a
  customer without orders in the last 12 months (it contributes nothing; as in the demo).
* ``GrowthRate`` (see :func:`growth_rate`): ``(Revenue12m - RevenuePrev12m) / RevenuePrev12m``
  clipped to ``[-1, growth_cap]`` (default cap +100 %, the demo's
  :data:`xlcrm.demo.GROWTH_CAP`); **new** customers (nothing before, something now) get the
  cap, **lapsed** customers (something before, nothing now) get -1 (-100 %); no purchases in
  either window gives NaN. ``GrowthNote`` says which case applies (``"new"``, ``"lapsed"``,
  ``"no orders"``, ``"capped from +212 %"``; blank for an ordinary rate; when credit notes
  cancel a window's orders: ``"no net purchases"``, ``"... before"``, ``"... now"``).
  Unlike the demo, which gives -1 to a customer without purchases in both windows, such a
  customer has no growth rate here (NaN): nothing grew or fell.
* ``RecencyDays``: days from the last order to ``today``.
* ``OrderDays``: distinct days with an order, all history up to ``today``;
  ``RepeatOrderValue``: the sum of ``Amount`` of the order rows dated after the first order
  day. Several orders on one day are one purchase here, as Fader and Hardie count repeat
  purchases: these are the inputs of the lifetime-value models (:mod:`xlcrm.operations.clv`).
* ``TypicalIntervalDays``: the median gap in days between the customer's consecutive order
  *days* over all history (several orders on one day count as one visit to the shop: a gap of
  0 days would make every silence look infinite); NaN with fewer than two order days.
* **RFM** (see :func:`rfm_scores`): quintile scores 1..5 (5 best) over the customers with at
  least one order: R by ``RecencyDays`` (lower is better), F by ``Orders``, M by
  ``RevenueTotal``. Customers are put in one order per dimension, ties in the measure broken
  by the other two (R ties by F then M; F ties by M then R; M ties by F then R) and then by
  their position in ``customer_ids``, so the scores never depend on row order unless two
  customers are equal in all three; position ``p`` (0-based) of ``n`` gets
  ``floor(5 (p + 1/2) / n) + 1``, i.e. exact quintiles when ``n`` is a multiple of 5 and a
  symmetric spread otherwise (one customer alone scores 3). Customers without orders get
  R = F = M = 0 and the segment ``"No orders"``.
* **RFM segment**: the 10-segment R x F grid used throughout RFM practice (M informs the
  scores' tie-breaks but not the grid). Segment names are those of the ``rfm`` R package
  (Hebbali, CRAN; ``rfm_segment()`` example, which also adds "Lost"), whose own example uses
  overlapping R/F/M boxes that leave 10 of the 125 score combinations unnamed ("Others"); the
  grid names every combination:

  ===================  =========  =========
  Segment              R          F
  ===================  =========  =========
  Champions            5          4 - 5
  Loyal customers      3 - 4      4 - 5
  Potential loyalists  4 - 5      2 - 3
  New customers        5          1
  Promising            4          1
  Need attention       3          3
  About to sleep       3          1 - 2
  At risk              1 - 2      3 - 4
  Can't lose them      1 - 2      5
  Hibernating          1 - 2      1 - 2
  ===================  =========  =========

Churn early warning (:func:`churn_risk`): silence against the customer's own usual interval
(a global interval for customers with one order day) and falling revenue; the higher of the
two levels wins. Contacts (:func:`contact_plan`): last contact, next contact due from the
segment's visit interval, overdue list, complaints open, closed and days to resolve.

Bad input rows are never silently dropped or read as zero: each is returned as a
:class:`~xlcrm.errors.Problem` with its sheet and cell (header in row ``header_row``, data
from the row below; the frame's row position ``k`` is sheet row ``header_row + 1 + k``),
itemised up to ``max_cell_problems`` per kind and then summarised.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from xlcrm import schema
from xlcrm.errors import InputError, Problem, Severity, cell_address
from xlcrm.value.scoring import parse_numeric, show_value

__all__ = [
    "CHURN_LEVELS",
    "CONTACT_KINDS",
    "DEFAULT_GROWTH_CAP",
    "AMOUNT_UNITS",
    "DERIVED_COLUMNS",
    "INTERACTION_KINDS",
    "NO_ORDERS",
    "ORDER_COLUMNS",
    "ORDER_TOTAL_COLUMNS",
    "RFM_SEGMENTS",
    "ContactPlan",
    "OrderMetrics",
    "OrderTotals",
    "amount_units",
    "at_risk_list",
    "churn_risk",
    "contact_plan",
    "customer_index",
    "growth_rate",
    "id_text",
    "metrics_from_totals",
    "order_metrics",
    "overdue_list",
    "parse_dates",
    "rfm_scores",
    "rfm_segment",
    "units_to_amounts",
    "years_before",
]

DEFAULT_GROWTH_CAP: Final = 1.0
"""Highest growth rate (+100 %), also the rate of a new customer (as in the demo ledger)."""

ORDER_COLUMNS: Final = (
    "FirstOrder",
    "LastOrder",
    "Orders",
    "Orders12m",
    "OrdersPrev12m",
    "Revenue12m",
    "RevenuePrev12m",
    "RevenueTotal",
    "GrossProfit12m",
    "GrowthRate",
    "GrowthNote",
    "UnitProfit",
    "RecencyDays",
    "TypicalIntervalDays",
    "R",
    "F",
    "M",
    "RFMSegment",
    "OrderDays",
    "RepeatOrderValue",
)
"""Columns of :attr:`OrderMetrics.table`, in order."""

DERIVED_COLUMNS: Final = (
    "Orders",
    "Orders12m",
    "Revenue12m",
    "RevenuePrev12m",
    "RevenueTotal",
    "GrossProfit12m",
    "GrowthRate",
    "UnitProfit",
    "RecencyDays",
    "TypicalIntervalDays",
    "R",
    "F",
    "M",
)
"""Numeric per-customer columns of :attr:`OrderMetrics.table` that an indicator of the
hierarchy may name instead of a ``Customers`` column (RecencyDays and TypicalIntervalDays
are cost-direction: lower is better). Dates and text columns are not indicators."""

NO_ORDERS: Final = "No orders"
"""RFM segment and churn level of a customer without any order up to ``today``."""

RFM_SEGMENTS: Final = (
    "Champions",
    "Loyal customers",
    "Potential loyalists",
    "New customers",
    "Promising",
    "Need attention",
    "About to sleep",
    "At risk",
    "Can't lose them",
    "Hibernating",
)

# _RF_GRID[r - 1][f - 1]: the module docstring's table, R and F scores 1..5.
_RF_GRID: Final = (
    ("Hibernating", "Hibernating", "At risk", "At risk", "Can't lose them"),
    ("Hibernating", "Hibernating", "At risk", "At risk", "Can't lose them"),
    ("About to sleep", "About to sleep", "Need attention", "Loyal customers", "Loyal customers"),
    (
        "Promising",
        "Potential loyalists",
        "Potential loyalists",
        "Loyal customers",
        "Loyal customers",
    ),
    ("New customers", "Potential loyalists", "Potential loyalists", "Champions", "Champions"),
)

CHURN_LEVELS: Final = ("Low", "Medium", "High")
"""Churn risk levels, in increasing order; a customer without orders gets :data:`NO_ORDERS`."""

INTERACTION_KINDS: Final = ("visit", "call", "complaint", "service")
CONTACT_KINDS: Final = ("visit", "call")
"""Interaction kinds that count as a sales contact for the visit plan (default)."""

_EPOCH: Final = dt.date(1970, 1, 1)
_ISO_DATE_RE: Final = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?$")
_MAX_DAY: Final = np.iinfo(np.int64).max
_MIN_DAY: Final = np.iinfo(np.int64).min
_MAX_CELL_PROBLEMS: Final = 1000


# ----------------------------------------------------------------------------- reading cells


def years_before(day: dt.date, years: int) -> dt.date:
    """The same calendar day ``years`` earlier (29 February becomes 28 February)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def _as_date(today: Any) -> dt.date:
    """``today`` as a date; a datetime or Timestamp loses its time of day."""
    if isinstance(today, pd.Timestamp):
        if pd.isna(today):
            raise InputError("today is not a date (NaT)", fix="Pass the analysis date.")
        return today.date()
    if isinstance(today, dt.datetime):
        return today.date()
    if isinstance(today, dt.date):
        return today
    raise InputError(
        f"today must be a date, not {type(today).__name__} {today!r}",
        fix="Pass the analysis date as datetime.date (e.g. date(2026, 10, 31)).",
    )


def _day_number(day: dt.date) -> int:
    return (day - _EPOCH).days


def _to_datetime(days: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Day numbers -> ``datetime64[s]``, NaT where not ``valid``."""
    out = np.where(valid, days, 0).astype("datetime64[D]").astype("datetime64[s]")
    out[~valid] = np.datetime64("NaT")
    return out


def _series(values: Any) -> pd.Series:
    if isinstance(values, pd.Series):
        return values.reset_index(drop=True)
    if isinstance(values, pd.Index):
        return pd.Series(values)
    if isinstance(values, np.ndarray):
        return pd.Series(values.reshape(-1), copy=False)
    return pd.Series(list(values), dtype=object)


def _type_groups(arr: np.ndarray) -> list[tuple[type, np.ndarray]]:
    """Positions of each Python type in an object array (one ``type()`` pass)."""
    types = pd.Series(arr, dtype=object, copy=False).map(type)
    codes, uniques = pd.factorize(types)
    return [(t, np.flatnonzero(codes == j)) for j, t in enumerate(uniques)]


def _number_text(x: float) -> str:
    """An ID typed as a number: ``1001.0`` -> ``"1001"``, ``12.5`` -> ``"12.5"``."""
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def id_text(values: Any) -> np.ndarray:
    """Customer IDs as text, the way :func:`xlcrm.pipeline.check_customers` compares them.

    Text is stripped of surrounding spaces; a number is its plain text (``1001.0`` ->
    ``"1001"``, as a sheet shows a number typed without a format); blank cells (``None``,
    NaN, empty or all-space text) are ``None``.

    Returns
    -------
    numpy.ndarray of object
        One ``str`` or ``None`` per value.
    """
    s = _series(values)
    n = len(s)
    out = np.full(n, None, dtype=object)
    if n == 0:
        return out
    if ptypes.is_numeric_dtype(s.dtype) and not ptypes.is_bool_dtype(s.dtype):
        x = s.to_numpy(dtype=float, na_value=np.nan)
        ok = np.isfinite(x)
        out[ok] = [_number_text(v) for v in x[ok]]
        return out
    arr = s.to_numpy(dtype=object)
    for t, idx in _type_groups(arr):
        vals = arr[idx]
        if issubclass(t, str):
            # Strip each distinct text once: a ledger repeats IDs and kinds many times.
            codes, distinct = pd.factorize(vals)
            stripped = np.array([v.strip() for v in distinct] + [""], dtype=object)
            text = stripped[codes]
            keep = text != ""
            out[idx[keep]] = text[keep]
        elif issubclass(t, (bool, np.bool_)):
            out[idx] = ["TRUE" if v else "FALSE" for v in vals]
        elif issubclass(t, (int, np.integer)):
            out[idx] = [str(int(v)) for v in vals]
        elif issubclass(t, (float, np.floating)):
            ok = np.isfinite(vals.astype(float))
            out[idx[ok]] = [_number_text(v) for v in vals[ok]]
        elif t is type(None) or t is type(pd.NaT) or t is type(pd.NA):
            continue
        else:
            out[idx] = [str(v).strip() or None for v in vals]
    return out


def customer_index(customer_ids: Any) -> pd.Index:
    """The customers of an analysis as an index of ID text (see :func:`id_text`).

    Raises
    ------
    InputError
        When an ID is blank (the pipeline leaves such rows out before calling).
    """
    text = id_text(customer_ids)
    blank = np.flatnonzero(pd.isna(text))
    if blank.size:
        raise InputError(
            f"{blank.size} customer ID(s) are blank (first at position {blank[0] + 1})",
            fix="Pass only the customers that have an ID.",
            sheet=schema.CUSTOMERS,
        )
    return pd.Index(text, dtype=object, name=schema.CUSTOMER_ID)


def parse_dates(values: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read a column of sheet values as calendar days.

    Dates and datetimes (time of day dropped) are read as they are; text is read only in
    the unambiguous ISO form ``2026-03-15`` (optionally with a time), since ``03/04/2026``
    means different days in different countries; a number is not a date (a date serial
    without a date format is reported rather than guessed).

    Returns
    -------
    days : ndarray of int64
        Days since 1970-01-01 (0 where not ``ok``).
    ok : ndarray of bool
        A usable date.
    blank : ndarray of bool
        An empty cell; ``~ok & ~blank`` are the unusable values.
    """
    s = _series(values)
    n = len(s)
    days = np.zeros(n, dtype=np.int64)
    ok = np.zeros(n, dtype=bool)
    blank = np.zeros(n, dtype=bool)
    if n == 0:
        return days, ok, blank
    if ptypes.is_datetime64_any_dtype(s.dtype):
        if getattr(s.dt, "tz", None) is not None:
            s = s.dt.tz_localize(None)
        na = s.isna().to_numpy()
        d = s.to_numpy().astype("datetime64[D]").astype(np.int64)
        days[~na] = d[~na]
        ok[~na] = True
        blank[na] = True
        return days, ok, blank
    arr = s.to_numpy(dtype=object)
    for t, idx in _type_groups(arr):
        vals = arr[idx]
        if t is type(None) or t is type(pd.NaT) or t is type(pd.NA):
            blank[idx] = True
            continue
        if issubclass(t, (float, np.floating)):
            nan = np.isnan(vals.astype(float))
            blank[idx[nan]] = True
            continue
        if issubclass(t, str):
            text = pd.Series(vals, dtype=object).str.strip()
            empty = (text == "").to_numpy()
            blank[idx[empty]] = True
            iso = text.str.match(_ISO_DATE_RE).to_numpy(dtype=bool) & ~empty
            if iso.any():
                got = pd.to_datetime(text[iso], format="ISO8601", errors="coerce")
                good = got.notna().to_numpy()
                where = idx[iso][good]
                days[where] = got[good].to_numpy().astype("datetime64[D]").astype(np.int64)
                ok[where] = True
            continue
        if issubclass(t, (dt.date, np.datetime64)):
            got_days, got_ok = _date_objects(vals)
            days[idx[got_ok]] = got_days[got_ok]
            ok[idx[got_ok]] = True
        # Anything else (numbers, booleans, times) is not a date: ok and blank stay False.
    return days, ok, blank


def _date_objects(vals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Day numbers of date/datetime objects of one type; vectorised, per value if mixed."""
    try:
        got = pd.to_datetime(pd.Series(vals, dtype=object), errors="coerce")
        if getattr(got.dt, "tz", None) is not None:
            got = got.dt.tz_localize(None)
        good = got.notna().to_numpy()
        out = np.zeros(vals.size, dtype=np.int64)
        out[good] = got[good].to_numpy().astype("datetime64[D]").astype(np.int64)
        return out, good
    except (ValueError, TypeError, OverflowError):
        pass
    out = np.zeros(vals.size, dtype=np.int64)
    good = np.zeros(vals.size, dtype=bool)
    for k, v in enumerate(vals):
        try:
            stamp = pd.Timestamp(v)
        except (ValueError, TypeError, OverflowError):
            continue
        if pd.isna(stamp):
            continue
        if stamp.tzinfo is not None:
            stamp = stamp.tz_localize(None)
        out[k] = (stamp.normalize() - pd.Timestamp(_EPOCH)).days
        good[k] = True
    return out, good


def _find_columns(
    frame: pd.DataFrame,
    required: Sequence[str],
    optional: Sequence[str],
    *,
    sheet: str,
    header_row: int,
) -> dict[str, int]:
    """0-based column of each named header, matched ignoring case and surrounding spaces."""
    where: dict[str, int] = {}
    for k, header in enumerate(frame.columns):
        key = str(header).strip().casefold()
        where.setdefault(key, k)
    found = {
        name: where[name.casefold()]
        for name in (*required, *optional)
        if name.casefold() in where
    }
    missing = [name for name in required if name not in found]
    if missing:
        raise InputError(
            f"the {sheet} sheet has no column {', '.join(missing)}"
            f" (its headers are: {', '.join(map(str, frame.columns)) or 'none'})",
            fix=f"Add the column(s) with these headers in row {header_row}: {', '.join(missing)}.",
            sheet=sheet,
            cell=f"{header_row}:{header_row}",
        )
    return found


@dataclass
class _Cells:
    """Collects row-level problems of one sheet, itemised up to a cap per kind."""

    sheet: str
    header_row: int
    cap: int | None
    problems: list[Problem] = field(default_factory=list)

    def address(self, pos: int, col: int) -> str:
        return cell_address(self.header_row + int(pos), col)

    def add(
        self,
        severity: Severity,
        positions: np.ndarray,
        col: int,
        message: Callable[[int], str],
        fix: str,
        summary: str,
    ) -> None:
        """One problem per position (up to the cap), then one for the rest."""
        positions = np.asarray(positions)
        listed = positions if self.cap is None else positions[: self.cap]
        for pos in listed:
            self.problems.append(
                Problem(severity, message(int(pos)), fix, self.sheet, self.address(pos, col))
            )
        rest = positions.size - listed.size
        if rest > 0:
            self.problems.append(
                Problem(
                    severity,
                    f"{rest} more {summary} ({positions.size} in all; the first {listed.size}"
                    " are listed)",
                    fix,
                    self.sheet,
                    None,
                )
            )

    def unknown_ids(self, ids: np.ndarray, unknown: np.ndarray, col: int, what: str) -> None:
        """One warning per distinct unknown ID, at its first cell, with its row count."""
        positions = np.flatnonzero(unknown)
        if positions.size == 0:
            return
        values = pd.Series(ids[positions], dtype=object)
        first = values.drop_duplicates(keep="first")
        counts = values.value_counts(sort=False)
        listed = first if self.cap is None else first.iloc[: self.cap]
        for k, value in listed.items():
            rows = int(counts[value])
            left = f"its {rows} {what}s are" if rows > 1 else f"the {what} is"
            self.problems.append(
                Problem(
                    "warning",
                    f"CustomerID {value!r} is not on {schema.CUSTOMERS} (first in this cell);"
                    f" {left} left out",
                    f"Correct the ID, or add the customer to {schema.CUSTOMERS}.",
                    self.sheet,
                    self.address(positions[k], col),
                )
            )
        if len(first) > len(listed):
            self.problems.append(
                Problem(
                    "warning",
                    f"{len(first) - len(listed)} more CustomerIDs are not on {schema.CUSTOMERS}"
                    f" ({len(first)} in all; the first {len(listed)} are listed)",
                    f"Correct the IDs, or add the customers to {schema.CUSTOMERS}.",
                    self.sheet,
                    None,
                )
            )


def _read_id_date(
    frame: pd.DataFrame,
    cols: dict[str, int],
    customers: pd.Index,
    today_day: int,
    cells: _Cells,
    what: str,
    future_note: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """CustomerID and Date of every row, with their problems.

    Returns ``(code, day, keep, known)``: ``known`` rows name a customer of the analysis,
    ``keep`` rows also have a usable date not after ``today``. Rows blank in every cell are
    skipped without a problem.
    """
    id_col, date_col = cols[schema.CUSTOMER_ID], cols["Date"]
    ids = id_text(frame.iloc[:, id_col])
    blank_id = pd.isna(ids)
    code = customers.get_indexer(pd.Index(ids, dtype=object))
    code[blank_id] = -1
    unknown = ~blank_id & (code < 0)
    # A row with nothing in it is not data (a reader may keep empty rows of a table).
    empty_row = np.zeros(len(frame), dtype=bool)
    if blank_id.any():
        rows = np.flatnonzero(blank_id)
        part = frame.iloc[rows]
        text = part.astype(object).map(lambda v: v.strip() if isinstance(v, str) else v)
        empty_row[rows] = (text.isna() | (text == "")).all(axis=1).to_numpy()
    cells.add(
        "error",
        np.flatnonzero(blank_id & ~empty_row),
        id_col,
        lambda _p: f"CustomerID is blank; the {what} is left out",
        f"Type the customer's ID as on {schema.CUSTOMERS}.",
        "rows with a blank CustomerID",
    )
    cells.unknown_ids(ids, unknown, id_col, what)
    known = code >= 0

    raw_dates = frame.iloc[:, date_col]
    day, d_ok, d_blank = parse_dates(raw_dates)
    cells.add(
        "error",
        np.flatnonzero(known & d_blank),
        date_col,
        lambda _p: f"Date is blank; the {what} is left out",
        "Type the date (like 2026-03-15).",
        "blank dates",
    )
    cells.add(
        "error",
        np.flatnonzero(known & ~d_ok & ~d_blank),
        date_col,
        lambda p: f"{show_value(raw_dates.iat[p])} is not a date; the {what} is left out",
        "Type a date (like 2026-03-15) in a cell formatted as a date.",
        "values that are not dates",
    )
    future = known & d_ok & (day > today_day)
    today_text = (_EPOCH + dt.timedelta(days=today_day)).isoformat()
    cells.add(
        "warning",
        np.flatnonzero(future),
        date_col,
        lambda p: (
            f"date {(_EPOCH + dt.timedelta(days=int(day[p]))).isoformat()} is after"
            f" {today_text}, the day of the analysis; {future_note}"
        ),
        "Correct the date if it is a typing error; otherwise it counts from that day on.",
        "dates after the day of the analysis",
    )
    keep = known & d_ok & ~future
    return code, day, keep, known


# ----------------------------------------------------------------------------- orders


def growth_rate(
    current: Any, previous: Any, *, cap: float = DEFAULT_GROWTH_CAP
) -> tuple[np.ndarray, np.ndarray]:
    """Purchase growth of the last 12 months against the 12 months before, and its note.

    Parameters
    ----------
    current, previous : array_like
        Net revenue of the last 12 months and of the 12 months before.
    cap : float
        Highest rate (default +100 %); also the rate of a new customer.

    Returns
    -------
    rate : ndarray of float
        ``(current - previous) / previous`` clipped to ``[-1, cap]`` when ``previous > 0``;
        ``cap`` when ``previous <= 0 < current`` (new: never a division by zero); NaN when
        neither window has net purchases.
    note : ndarray of object
        ``"new"``, ``"lapsed"`` (``current <= 0 < previous``: -100 %), ``"no orders"``,
        ``"capped from +212 %"``, or ``""`` for an ordinary rate.
    """
    if not (np.isfinite(cap) and cap > 0):
        raise InputError(f"growth cap {cap!r} is not a positive number", fix="Use e.g. 1.0.")
    cur = np.asarray(current, dtype=float)
    prev = np.asarray(previous, dtype=float)
    had = prev > 0
    raw = np.divide(cur - prev, prev, out=np.full(cur.shape, np.nan), where=had)
    rate = np.where(had, np.clip(raw, -1.0, cap), np.where(cur > 0, cap, np.nan))
    note = np.full(cur.shape, "", dtype=object)
    note[~had & (cur > 0)] = "new"
    note[~had & ~(cur > 0)] = "no orders"
    note[had & ~(cur > 0)] = "lapsed"
    over = had & (raw > cap)
    note[over] = [f"capped from {_percent(r)}" for r in raw[over]]
    return rate, note


def _percent(x: float) -> str:
    """``-0.642`` -> ``"−64 %"`` (a true minus sign, as in the reasons staff read)."""
    text = f"{x * 100:+.0f} %"
    return text.replace("-", "\u2212")


def rfm_scores(
    recency_days: Any, orders: Any, monetary: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Quintile scores 1..5 (5 best) for R, F and M; 0 where ``orders < 1``.

    See the module docstring for the ordering, the tie-breaks and the quintile formula.
    """
    rec = np.asarray(recency_days, dtype=float)
    freq = np.asarray(orders, dtype=float)
    mon = np.asarray(monetary, dtype=float)
    n_all = rec.size
    scores = [np.zeros(n_all, dtype=np.int64) for _ in range(3)]
    has = np.flatnonzero(freq >= 1)
    n = has.size
    if n == 0:
        return scores[0], scores[1], scores[2]
    r, f, m = -rec[has], freq[has], mon[has]  # larger is better for all three
    pos = np.arange(n)
    quintile = (10 * pos + 5) // (2 * n) + 1
    # np.lexsort sorts by the last key first.
    for out, keys in zip(scores, ((pos, m, f, r), (pos, r, m, f), (pos, r, f, m)), strict=True):
        order = np.lexsort(keys)
        s = np.empty(n, dtype=np.int64)
        s[order] = quintile
        out[has] = s
    return scores[0], scores[1], scores[2]


def rfm_segment(r: Any, f: Any) -> np.ndarray:
    """Segment name for R and F scores (the grid in the module docstring); :data:`NO_ORDERS`
    where a score is 0."""
    r = np.asarray(r, dtype=np.int64)
    f = np.asarray(f, dtype=np.int64)
    grid = np.array(_RF_GRID, dtype=object)
    out = np.full(r.shape, NO_ORDERS, dtype=object)
    ok = (r >= 1) & (r <= 5) & (f >= 1) & (f <= 5)
    out[ok] = grid[r[ok] - 1, f[ok] - 1]
    return out


@dataclass(eq=False)
class OrderMetrics:
    """Per-customer order figures as of ``today``.

    Attributes
    ----------
    table : pandas.DataFrame
        Indexed by CustomerID (text, in the order of ``customer_ids``), columns
        :data:`ORDER_COLUMNS` (see the module docstring for each definition).
    today : datetime.date
        The day of the analysis.
    problems : list of Problem
        Bad cells of the Transactions sheet, unknown customers, negative net revenue.
    """

    table: pd.DataFrame
    today: dt.date
    problems: list[Problem] = field(default_factory=list)


AMOUNT_UNITS: Final = 10_000
"""Amounts are summed in whole 1/10,000 of the currency unit (each line's amount rounded to
4 decimals, halves up), exactly, and each sum is turned into a number once at the end.

Why: floating-point sums depend on the order of the lines, and a database or DuckDB adds in
whatever order its threads finish, so the same orders would give a revenue differing in the
last digit from the sheet's, and 0.1 + 0.2 would not be 0.3. Whole units add exactly in any
order and on any engine. No currency has more than 4 decimals (most have 2), so no amount a
ledger holds is changed by the rounding."""

ORDER_TOTAL_COLUMNS: Final = (
    "Lines",
    "Orders",
    "Orders12m",
    "OrdersPrev12m",
    "Revenue12m",
    "RevenuePrev12m",
    "RevenueTotal",
    "GrossProfit12m",
    "FirstOrderDay",
    "LastOrderDay",
    "OrderDays",
    "RepeatOrderValue",
    "TypicalIntervalDays",
)
"""Columns of :attr:`OrderTotals.table`: everything per customer that needs the order lines.

``Lines`` counts the usable lines (dated up to ``today``, with an amount); the day columns are
days since 1970-01-01 of the first and last order (meaningless when ``Orders`` is 0);
``GrossProfit12m`` is NaN when a line of the last 12 months has no usable gross profit. The
rest are as in :data:`ORDER_COLUMNS`."""


@dataclass(eq=False)
class OrderTotals:
    """Per-customer totals of the order lines as of ``today``: what an order source gives.

    Attributes
    ----------
    table : pandas.DataFrame
        Indexed by CustomerID text (:func:`id_text`), columns :data:`ORDER_TOTAL_COLUMNS`;
        one row per customer with at least one usable line.
    today : datetime.date
    source : str
        Where the lines are (the Transactions sheet, a file, a database table), named in
        problems.
    has_gross_profit : bool
        Whether the lines have a gross profit column (without one, GrossProfit12m is blank
        for every customer; with one, 0 for a customer without lines).
    problems : list of Problem
        Bad lines the source found.
    """

    table: pd.DataFrame
    today: dt.date
    source: str = schema.TRANSACTIONS
    has_gross_profit: bool = False
    problems: list[Problem] = field(default_factory=list)


def order_metrics(
    transactions: pd.DataFrame,
    customer_ids: Any,
    *,
    today: dt.date,
    sheet: str = schema.TRANSACTIONS,
    header_row: int = 1,
    growth_cap: float = DEFAULT_GROWTH_CAP,
    max_cell_problems: int | None = _MAX_CELL_PROBLEMS,
) -> OrderMetrics:
    """First and last order, revenue per window, growth, recency, interval and RFM.

    Parameters
    ----------
    transactions : pandas.DataFrame
        The Transactions sheet as read: columns CustomerID, Date, Amount and optionally
        GrossProfit (Quantity and Product are not used); headers matched ignoring case.
        Cells may hold anything a sheet holds; bad ones are reported.
    customer_ids : array-like
        The customers of the analysis (IDs from Customers, already checked there).
    today : datetime.date
        The day of the analysis.
    sheet, header_row : str, int
        Where the table sits, for cell addresses (header in row ``header_row``).
    growth_cap : float
        Highest growth rate, also given to new customers (default +100 %).
    max_cell_problems : int or None
        Itemise at most this many problems of one kind, then summarise (``None``: all).

    Returns
    -------
    OrderMetrics

    Raises
    ------
    InputError
        When CustomerID, Date or Amount has no column, or ``today`` is not a date.
    """
    as_of = _as_date(today)
    ids = customer_index(customer_ids)
    uniq = ids.unique()
    k = uniq.size
    t_day = _day_number(as_of)
    y1 = _day_number(years_before(as_of, 1))
    y2 = _day_number(years_before(as_of, 2))
    cells = _Cells(sheet, header_row, max_cell_problems)

    if transactions.shape[1] == 0:
        transactions = pd.DataFrame(columns=[schema.CUSTOMER_ID, "Date", "Amount"])
    cols = _find_columns(
        transactions, (schema.CUSTOMER_ID, "Date", "Amount"), ("GrossProfit",),
        sheet=sheet, header_row=header_row,
    )
    code, day, keep, known = _read_id_date(
        transactions, cols, uniq, t_day, cells, "row", "the row is not counted yet"
    )
    amount_col = cols["Amount"]
    raw_amount = transactions.iloc[:, amount_col]
    amount, a_blank, a_reason = parse_numeric(raw_amount)
    a_ok = ~a_blank & (a_reason == 0) & np.isfinite(amount)
    cells.add(
        "error",
        np.flatnonzero(known & a_blank),
        amount_col,
        lambda _p: "Amount is blank; the row is left out",
        "Type the amount (negative for a credit note or return).",
        "blank amounts",
    )
    cells.add(
        "error",
        np.flatnonzero(known & ~a_blank & ~a_ok),
        amount_col,
        lambda p: f"{show_value(raw_amount.iat[p])} is not a number; the row is left out",
        "Type a number (like 1200 or 1,200.50, negative for a credit note).",
        "amounts that are not numbers",
    )
    keep &= a_ok

    g: np.ndarray | None = None
    g_ok: np.ndarray | None = None
    if "GrossProfit" in cols:
        gp_col = cols["GrossProfit"]
        raw_gp = transactions.iloc[:, gp_col]
        gp_all, gp_blank, gp_reason = parse_numeric(raw_gp)
        gp_ok = ~gp_blank & (gp_reason == 0) & np.isfinite(gp_all)
        rows = np.flatnonzero(keep)
        cells.add(
            "error",
            rows[~gp_blank[rows] & ~gp_ok[rows]],
            gp_col,
            lambda p: (
                f"{show_value(raw_gp.iat[p])} is not a number; this customer's 12-month gross"
                " profit and unit profit are left blank if the row is in the last 12 months"
            ),
            "Type the gross profit as a number (negative for a loss or credit note).",
            "gross profits that are not numbers",
        )
        cells.add(
            "warning",
            rows[gp_blank[rows] & (day[rows] > y1)],
            gp_col,
            lambda _p: (
                "GrossProfit is blank in the last 12 months; this customer's 12-month gross"
                " profit and unit profit are left blank"
            ),
            "Type the gross profit of the order.",
            "blank gross profits in the last 12 months",
        )
        g, g_ok = gp_all[keep], gp_ok[keep]
    totals = _line_totals(code[keep], day[keep], amount[keep], g, g_ok, k, y1, y2)
    totals.index = pd.Index(uniq, dtype=object, name=schema.CUSTOMER_ID)
    metrics = metrics_from_totals(
        OrderTotals(totals, as_of, sheet, g is not None), ids, today=as_of,
        growth_cap=growth_cap, max_cell_problems=max_cell_problems,
    )
    metrics.problems[:0] = cells.problems
    return metrics


def amount_units(values: np.ndarray) -> np.ndarray:
    """Amounts in 1/10,000 of the currency unit, rounded (halves up), as whole floats.

    Sums of amounts are sums of these whole numbers (see :data:`AMOUNT_UNITS`).
    """
    return np.floor(np.asarray(values, dtype=float) * AMOUNT_UNITS + 0.5)


def units_to_amounts(sums: Any) -> np.ndarray:
    """Whole-unit sums (ints of any size, or whole floats) -> amounts, one rounding each."""
    return np.asarray(sums, dtype=float) / AMOUNT_UNITS


def _unit_sums(codes: np.ndarray, units: np.ndarray, k: int) -> np.ndarray:
    """Exact per-customer sums of whole units, as amounts.

    ``bincount`` adds in floating point, which is exact while every partial sum stays below
    2**53 units (about 900 billion in currency); beyond that the sums are taken in int64.
    """
    if codes.size == 0:
        return np.zeros(k)
    if float(np.abs(units).sum()) < 2.0**53:
        return units_to_amounts(np.bincount(codes, weights=units, minlength=k))
    out = np.zeros(k, dtype=np.int64)
    np.add.at(out, codes, units.astype(np.int64))
    return units_to_amounts(out)


def _line_totals(
    c: np.ndarray,
    d: np.ndarray,
    a: np.ndarray,
    g: np.ndarray | None,
    g_ok: np.ndarray | None,
    k: int,
    y1: int,
    y2: int,
) -> pd.DataFrame:
    """:data:`ORDER_TOTAL_COLUMNS` of ``k`` customers from usable lines (code, day, amount)."""
    last = d > y1
    prev = (d > y2) & ~last
    is_order = a > 0
    units = amount_units(a)

    def count(mask: np.ndarray) -> np.ndarray:
        return np.bincount(c[mask], minlength=k).astype(np.int64)

    gp12 = np.full(k, np.nan)
    if g is not None and g_ok is not None:
        gp12 = _unit_sums(c[last & g_ok], amount_units(g[last & g_ok]), k)
        gp12[count(last & ~g_ok) > 0] = np.nan
    oc, od = c[is_order], d[is_order]
    first = np.full(k, _MAX_DAY, dtype=np.int64)
    latest = np.full(k, _MIN_DAY, dtype=np.int64)
    np.minimum.at(first, oc, od)
    np.maximum.at(latest, oc, od)
    order_days, repeat_value = _order_days(oc, od, units[is_order], first, k)
    return pd.DataFrame(
        {
            "Lines": count(np.ones(c.size, dtype=bool)),
            "Orders": count(is_order),
            "Orders12m": count(is_order & last),
            "OrdersPrev12m": count(is_order & prev),
            "Revenue12m": _unit_sums(c[last], units[last], k),
            "RevenuePrev12m": _unit_sums(c[prev], units[prev], k),
            "RevenueTotal": _unit_sums(c, units, k),
            "GrossProfit12m": gp12,
            "FirstOrderDay": first,
            "LastOrderDay": latest,
            "OrderDays": order_days,
            "RepeatOrderValue": repeat_value,
            "TypicalIntervalDays": _typical_interval(oc, od, k),
        }
    )


def metrics_from_totals(
    totals: OrderTotals,
    customer_ids: Any,
    *,
    today: dt.date,
    growth_cap: float = DEFAULT_GROWTH_CAP,
    max_cell_problems: int | None = _MAX_CELL_PROBLEMS,
) -> OrderMetrics:
    """The per-customer order figures from per-customer totals (the seam for order sources).

    :func:`order_metrics` computes the totals from the Transactions sheet's lines; an
    external source (:mod:`xlcrm.sources`) computes the same totals where the lines live.
    Either way, this function derives the rest (growth, recency, RFM, notes), so the two
    paths give the same figures on the same orders.

    Parameters
    ----------
    totals : OrderTotals
        Per-customer totals as of ``today``, indexed by CustomerID text; a customer it does
        not name has no lines. Keys that are not among ``customer_ids`` are reported
        (warning, with their line count) and left out.
    customer_ids : array-like
        The customers of the analysis.
    today : datetime.date
        Must be the day the totals were computed for.
    growth_cap, max_cell_problems
        As in :func:`order_metrics`.

    Returns
    -------
    OrderMetrics
    """
    as_of = _as_date(today)
    if as_of != totals.today:
        raise InputError(
            f"the order totals are as of {totals.today.isoformat()}, not {as_of.isoformat()}",
            fix="Compute the order totals for the day of the analysis.",
        )
    ids = customer_index(customer_ids)
    uniq = pd.Index(ids.unique(), dtype=object, name=schema.CUSTOMER_ID)
    k = uniq.size
    t_day = _day_number(as_of)
    problems = list(totals.problems)
    problems.extend(_unknown_keys(totals, uniq, max_cell_problems))
    t = totals.table.reindex(uniq)
    absent = t["Lines"].isna().to_numpy()

    def column(name: str, fill: float) -> np.ndarray:
        if name not in t:
            return np.full(k, fill)
        return np.array(t[name].to_numpy(dtype=float, na_value=np.nan))

    def whole(name: str) -> np.ndarray:
        return np.where(absent, 0, column(name, 0.0)).astype(np.int64)

    def amount(name: str) -> np.ndarray:
        return np.where(absent, 0.0, column(name, 0.0))

    orders, orders12, orders_prev = whole("Orders"), whole("Orders12m"), whole("OrdersPrev12m")
    rev12, rev_prev = amount("Revenue12m"), amount("RevenuePrev12m")
    rev_total = amount("RevenueTotal")
    gp12 = column("GrossProfit12m", np.nan)
    if totals.has_gross_profit:
        gp12[absent] = 0.0
    unit = np.divide(gp12, orders12, out=np.zeros(k), where=orders12 > 0)
    unit[np.isnan(gp12)] = np.nan
    has = orders > 0
    first = np.where(has, column("FirstOrderDay", 0.0), 0).astype(np.int64)
    latest = np.where(has, column("LastOrderDay", 0.0), 0).astype(np.int64)
    recency = np.where(has, t_day - latest, np.nan).astype(float)

    growth, note = growth_rate(rev12, rev_prev, cap=growth_cap)
    # Credit notes can cancel a window's orders: say so rather than "new" or "no orders".
    note[(note == "no orders") & (orders12 + orders_prev > 0)] = "no net purchases"
    note[(note == "new") & (orders_prev > 0)] = "no net purchases before"
    note[(note == "lapsed") & (orders12 > 0)] = "no net purchases now"
    r, f, m = rfm_scores(recency, orders, rev_total)

    table = pd.DataFrame(
        {
            "FirstOrder": _to_datetime(first, has),
            "LastOrder": _to_datetime(latest, has),
            "Orders": orders,
            "Orders12m": orders12,
            "OrdersPrev12m": orders_prev,
            "Revenue12m": rev12,
            "RevenuePrev12m": rev_prev,
            "RevenueTotal": rev_total,
            "GrossProfit12m": gp12,
            "GrowthRate": growth,
            "GrowthNote": note,
            "UnitProfit": unit,
            "RecencyDays": recency,
            "TypicalIntervalDays": column("TypicalIntervalDays", np.nan),
            "R": r,
            "F": f,
            "M": m,
            "RFMSegment": rfm_segment(r, f),
            "OrderDays": whole("OrderDays"),
            "RepeatOrderValue": amount("RepeatOrderValue"),
        },
        index=uniq,
    )
    negative = np.flatnonzero(rev12 < 0)
    if negative.size:
        problems.extend(
            _negative_revenue(uniq, negative, rev12, totals.source, max_cell_problems)
        )
    if not ids.is_unique:
        table = table.reindex(ids)
    return OrderMetrics(table=table, today=as_of, problems=problems)


def _unknown_keys(totals: OrderTotals, known: pd.Index, cap: int | None) -> list[Problem]:
    """One warning per customer key of an external source that is not on Customers (the
    sheet path has reported them at their first cell and kept them out of the totals)."""
    lines = totals.table["Lines"]
    unknown = lines[~lines.index.isin(known)]
    listed = unknown if cap is None else unknown.iloc[:cap]
    fix = f"Correct the ID in {totals.source}, or add the customer to {schema.CUSTOMERS}."
    out = [
        Problem(
            "warning",
            f"CustomerID {key!r} is not on {schema.CUSTOMERS}; its"
            f" {int(n)} line(s) are left out",
            fix,
            totals.source,
            None,
        )
        for key, n in listed.items()
    ]
    if len(unknown) > len(listed):
        out.append(
            Problem(
                "warning",
                f"{len(unknown) - len(listed)} more CustomerIDs are not on"
                f" {schema.CUSTOMERS} ({len(unknown)} in all; the first {len(listed)} are"
                " listed)",
                fix,
                totals.source,
                None,
            )
        )
    return out


def _order_days(
    oc: np.ndarray, od: np.ndarray, oa: np.ndarray, first: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Distinct order days per customer, and the order value (``oa`` in whole units, see
    :func:`amount_units`) after the first order day."""
    if oc.size == 0:
        return np.zeros(k, dtype=np.int64), np.zeros(k)
    pair = np.unique(oc.astype(np.int64) * (1 << 32) + (od - od.min()))
    days = np.bincount((pair >> 32).astype(np.intp), minlength=k).astype(np.int64)
    later = od > first[oc]
    return days, _unit_sums(oc[later], oa[later], k)


def _typical_interval(oc: np.ndarray, od: np.ndarray, k: int) -> np.ndarray:
    """Median gap between consecutive distinct order days per customer; NaN below two."""
    out = np.full(k, np.nan)
    if oc.size < 2:
        return out
    order = np.lexsort((od, oc))
    cs, ds = oc[order], od[order]
    distinct = np.ones(cs.size, dtype=bool)
    distinct[1:] = (cs[1:] != cs[:-1]) | (ds[1:] != ds[:-1])
    cs, ds = cs[distinct], ds[distinct]
    same = cs[1:] == cs[:-1]
    if not same.any():
        return out
    gaps = (ds[1:] - ds[:-1])[same].astype(float)
    who = cs[1:][same]
    med = pd.Series(gaps).groupby(who).median()
    out[med.index.to_numpy()] = med.to_numpy()
    return out


def _negative_revenue(
    ids: np.ndarray, where: np.ndarray, rev12: np.ndarray, sheet: str, cap: int | None
) -> list[Problem]:
    listed = where if cap is None else where[:cap]
    fix = "Check the credit notes; revenue and growth use the net amount."
    out = [
        Problem(
            "warning",
            f"credit notes exceed orders of customer {ids[j]!r} in the last 12 months"
            f" (net revenue {rev12[j]:,.2f})",
            fix,
            sheet,
            None,
        )
        for j in listed
    ]
    if where.size > listed.size:
        out.append(
            Problem(
                "warning",
                f"{where.size - listed.size} more customers have negative net revenue in the"
                f" last 12 months ({where.size} in all)",
                fix,
                sheet,
                None,
            )
        )
    return out


# ----------------------------------------------------------------------------- churn


def _at_least(x: np.ndarray, bound: float) -> np.ndarray:
    """``x >= bound``, with a floating-point tolerance so that a ratio equal to the
    boundary on paper (105 / 70 = 1.5) is on the boundary here too."""
    with np.errstate(invalid="ignore"):
        return (x >= bound) | np.isclose(x, bound, rtol=1e-12, atol=1e-12)


def _at_most(x: np.ndarray, bound: float) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return (x <= bound) | np.isclose(x, bound, rtol=1e-12, atol=1e-12)


def churn_risk(
    metrics: OrderMetrics,
    *,
    today: dt.date,
    silence_factor_medium: float = 1.5,
    silence_factor_high: float = 2.5,
    global_interval_days: float | None = None,
    revenue_drop_medium: float = -0.3,
    revenue_drop_high: float = -0.6,
) -> pd.DataFrame:
    """Churn early warning: risk level and the reason in words, per customer.

    Two signals, each giving a level; the customer's risk is the higher of the two.

    * **Silence**: ``RecencyDays / interval`` where the interval is the customer's own
      ``TypicalIntervalDays``, or, for a customer with a single order day, the global
      interval: ``global_interval_days`` if given, else the median ``TypicalIntervalDays``
      over the customers that have one. Ratio ``>= silence_factor_high`` -> High,
      ``>= silence_factor_medium`` -> Medium (boundaries belong to the higher level). When
      no interval is known at all (nobody ordered twice and no global interval was given),
      silence gives no signal and the reason says so.
    * **Falling revenue**: ``(Revenue12m - RevenuePrev12m) / RevenuePrev12m`` when the
      previous 12 months had net purchases, not capped; ``<= revenue_drop_high`` -> High,
      ``<= revenue_drop_medium`` -> Medium. A lapsed customer (nothing in the last 12
      months) has -100 %: High.

    A customer without any order gets the level :data:`NO_ORDERS` and the reason "never
    ordered": it cannot be lost, it was never won, and it stays off the at-risk list.

    Parameters
    ----------
    metrics : OrderMetrics
        From :func:`order_metrics` (its ``today`` must be ``today``).
    today : datetime.date
        The day of the analysis.
    silence_factor_medium, silence_factor_high : float
        Silence ratios that start Medium and High (``0 < medium <= high``).
    global_interval_days : float, optional
        Usual interval for customers with one order day (default: the median of the
        customers' typical intervals).
    revenue_drop_medium, revenue_drop_high : float
        Revenue changes that start Medium and High (``high <= medium < 0``).

    Returns
    -------
    pandas.DataFrame
        Indexed like ``metrics.table``; columns ``ChurnRisk`` (Low, Medium, High or
        :data:`NO_ORDERS`), ``ChurnReason``, ``SilenceRatio``, ``IntervalDays`` (the interval
        used), ``IntervalBasis`` (``"own"``, ``"global"`` or ``""``), ``RevenueChange``.

    Raises
    ------
    InputError
        For thresholds out of order, or a ``today`` other than the metrics'.
    """
    as_of = _as_date(today)
    if as_of != metrics.today:
        raise InputError(
            f"the order metrics are as of {metrics.today.isoformat()}, not"
            f" {as_of.isoformat()}",
            fix="Compute the order metrics and the churn risk for the same day.",
        )
    if not (0 < silence_factor_medium <= silence_factor_high):
        raise InputError(
            f"silence factors {silence_factor_medium!r} (medium) and {silence_factor_high!r}"
            " (high) are not 0 < medium <= high",
            fix="Use e.g. 1.5 and 2.5.",
        )
    if not (revenue_drop_high <= revenue_drop_medium < 0):
        raise InputError(
            f"revenue drops {revenue_drop_medium!r} (medium) and {revenue_drop_high!r} (high)"
            " are not high <= medium < 0",
            fix="Use e.g. -0.3 and -0.6.",
        )
    t = metrics.table
    orders = t["Orders"].to_numpy(dtype=float)
    recency = t["RecencyDays"].to_numpy(dtype=float)
    own = t["TypicalIntervalDays"].to_numpy(dtype=float)
    if global_interval_days is None:
        known = own[np.isfinite(own)]
        g = float(np.median(known)) if known.size else float("nan")
    else:
        g = float(global_interval_days)
        if not (np.isfinite(g) and g > 0):
            raise InputError(
                f"global interval {global_interval_days!r} is not a positive number of days",
                fix="Give the usual days between orders, e.g. 60, or leave it out.",
            )
    has_own = np.isfinite(own)
    interval = np.where(has_own, own, g)
    ratio = np.divide(
        recency, interval, out=np.full(recency.shape, np.nan), where=interval > 0
    )
    silence = np.where(
        _at_least(ratio, silence_factor_high),
        2,
        np.where(_at_least(ratio, silence_factor_medium), 1, 0),
    )
    rev = t["Revenue12m"].to_numpy(dtype=float)
    prev = t["RevenuePrev12m"].to_numpy(dtype=float)
    change = np.divide(rev - prev, prev, out=np.full(rev.shape, np.nan), where=prev > 0)
    drop = np.where(
        _at_most(change, revenue_drop_high),
        2,
        np.where(_at_most(change, revenue_drop_medium), 1, 0),
    )
    level = np.maximum(silence, drop)
    never = ~(orders >= 1)
    risk = np.array(CHURN_LEVELS, dtype=object)[level]
    risk[never] = NO_ORDERS

    basis = np.where(has_own, "own", np.where(np.isfinite(g), "global", "")).astype(object)
    basis[never] = ""
    reasons = [
        _churn_reason(*row, g)
        for row in zip(
            never, recency, interval, ratio, has_own, silence, rev, prev, change, drop,
            strict=True,
        )
    ]
    return pd.DataFrame(
        {
            "ChurnRisk": risk,
            "ChurnReason": np.array(reasons, dtype=object),
            "SilenceRatio": np.where(never, np.nan, ratio),
            "IntervalDays": np.where(never, np.nan, interval),
            "IntervalBasis": basis,
            "RevenueChange": change,
        },
        index=t.index,
    )


def _days(x: float) -> str:
    return f"{x:,.0f}"


def _churn_reason(
    never: bool,
    recency: float,
    interval: float,
    ratio: float,
    has_own: bool,
    silence: int,
    rev: float,
    prev: float,
    change: float,
    drop: int,
    global_interval: float,
) -> str:
    if never:
        return "never ordered"
    parts: list[str] = []
    if not np.isfinite(ratio):
        parts.append(
            f"last order {_days(recency)} days ago; no usual interval is known"
            " (no customer has ordered on two days)"
        )
    else:
        whose = (
            f"its usual {_days(interval)}-day interval"
            if has_own
            else f"the usual {_days(global_interval)}-day interval of all customers"
            " (it has ordered on one day only)"
        )
        if silence:
            parts.append(f"no order for {_days(recency)} days, {ratio:.1f}\u00d7 {whose}")
        else:
            parts.append(f"last order {_days(recency)} days ago, {ratio:.1f}\u00d7 {whose}")
    if prev > 0:
        if not rev > 0:
            parts.append(
                f"no purchases in the last 12 months after {prev:,.0f} in the 12 months before"
            )
        else:
            parts.append(f"revenue {_percent(change)} on the previous 12 months")
    return "; ".join(parts)


def at_risk_list(
    risk: pd.DataFrame,
    value: Any = None,
    *,
    levels: Iterable[str] = ("High", "Medium"),
) -> pd.DataFrame:
    """Customers whose churn risk is in ``levels``, most valuable first.

    Parameters
    ----------
    risk : pandas.DataFrame
        From :func:`churn_risk`.
    value : pandas.Series, optional
        Value per customer (indexed by CustomerID, or positionally like ``risk``); without it
        the list is sorted by level.

    Returns
    -------
    pandas.DataFrame
        Columns ``Value``, ``ChurnRisk``, ``ChurnReason``; sorted by Value descending (blank
        last), then High before Medium, then the customers' order.
    """
    wanted = set(levels)
    out = risk[["ChurnRisk", "ChurnReason"]].copy()
    out.insert(0, "Value", _align(value, risk.index, "value") if value is not None else np.nan)
    out = out[out["ChurnRisk"].isin(wanted)]
    rank = out["ChurnRisk"].map({lvl: -k for k, lvl in enumerate(CHURN_LEVELS)})
    return (
        out.assign(_rank=rank)
        .sort_values(
            ["Value", "_rank"], ascending=[False, True], na_position="last", kind="stable"
        )
        .drop(columns="_rank")
    )


def _align(values: Any, index: pd.Index, what: str) -> pd.Series:
    """``values`` as a float Series on ``index`` (CustomerIDs).

    A Series with a labelled index (anything but a default ``RangeIndex``) is aligned by
    CustomerID, customers it does not name getting NaN; anything else (a list, an array, a
    Series with a default index) must have one entry per customer, in the order of ``index``.
    """
    if isinstance(values, pd.Series) and not isinstance(values.index, pd.RangeIndex):
        labels = pd.Index(id_text(values.index), dtype=object)
        if not labels.is_unique:
            dup = labels[labels.duplicated()][0]
            raise InputError(
                f"{what} names customer {dup!r} more than once",
                fix=f"Pass {what} with one entry per CustomerID.",
            )
        s = pd.Series(values.to_numpy(), index=labels).reindex(index)
        return pd.Series(_numbers(s), index=index, name=values.name)
    arr = values.to_numpy() if isinstance(values, (pd.Series, pd.Index)) else np.asarray(values)
    if arr.ndim != 1 or arr.size != len(index):
        raise InputError(
            f"{what} has {arr.size} entries for {len(index)} customers and is not indexed by"
            " CustomerID",
            fix=f"Pass {what} as a Series indexed by CustomerID.",
        )
    return pd.Series(_numbers(arr), index=index)


def _numbers(values: Any) -> np.ndarray:
    x, _blank, _reason = parse_numeric(pd.Series(np.asarray(values, dtype=object)))
    return x


# ----------------------------------------------------------------------------- contacts


@dataclass(eq=False)
class ContactPlan:
    """Contacts and complaints per customer as of ``today``.

    Attributes
    ----------
    table : pandas.DataFrame
        Indexed by CustomerID; columns ``LastContact``, ``Contacts12m``, ``VisitIntervalDays``,
        ``NextContactDue``, ``Overdue``, ``DaysOverdue``, ``Complaints12m``,
        ``OpenComplaints``, ``ComplaintsClosed12m``, ``AvgResolutionDays``,
        ``LastComplaint`` (see :func:`contact_plan`).
    today : datetime.date
    problems : list of Problem
    """

    table: pd.DataFrame
    today: dt.date
    problems: list[Problem] = field(default_factory=list)


def contact_plan(
    interactions: pd.DataFrame,
    customer_ids: Any,
    visit_interval_days: Any,
    *,
    today: dt.date,
    sheet: str = schema.INTERACTIONS,
    header_row: int = 1,
    contact_kinds: Iterable[str] = CONTACT_KINDS,
    max_cell_problems: int | None = _MAX_CELL_PROBLEMS,
) -> ContactPlan:
    """Last contact, next contact due, overdue, and complaints per customer.

    Definitions (``Kind`` matched ignoring case and surrounding spaces):

    * ``LastContact``: the latest ``Date`` (not after ``today``) of an interaction whose kind
      is in ``contact_kinds`` (default visit and call: the account manager's contacts; a
      complaint or a service job is the customer's or the technician's, not a planned sales
      contact). ``Contacts12m`` counts them over the last 12 months.
    * ``NextContactDue``: ``LastContact + VisitIntervalDays``; a customer never contacted is
      due ``today`` (due now). Blank when the customer has no visit interval (no segment);
      one warning says how many.
    * ``Overdue``: the next contact is due on or before ``today`` (so "due now" is on the
      list); ``DaysOverdue`` = ``today - NextContactDue`` when overdue (0 when due today or
      later; NaN when the due date is blank).
    * ``Complaints12m``: complaints dated in the last 12 months. ``OpenComplaints``: all
      complaints up to ``today`` without a usable ``ResolvedDate`` on or before ``today``.
      ``ComplaintsClosed12m``: complaints resolved in the last 12 months;
      ``AvgResolutionDays``: their mean ``ResolvedDate - Date`` (NaN without any).
      A ``ResolvedDate`` before its complaint's ``Date``, or not a date, is reported
      (error) and the complaint counts as open until it is corrected.

    Kinds other than visit, call, complaint and service are reported (warning) and not
    counted; so are rows of unknown customers and rows dated after ``today``.

    Parameters
    ----------
    interactions : pandas.DataFrame
        The Interactions sheet as read: CustomerID, Date, Kind, and optionally Outcome and
        ResolvedDate.
    customer_ids : array-like
        The customers of the analysis.
    visit_interval_days : pandas.Series or array-like
        Days between planned contacts per customer (from its type's strategy), indexed by
        CustomerID or in the order of ``customer_ids``; NaN for a customer without a type.
    today : datetime.date
    sheet, header_row, max_cell_problems
        As in :func:`order_metrics`.
    contact_kinds : iterable of str
        Kinds that count as a contact.

    Returns
    -------
    ContactPlan
    """
    as_of = _as_date(today)
    ids = customer_index(customer_ids)
    uniq = ids.unique()
    k = uniq.size
    t_day = _day_number(as_of)
    y1 = _day_number(years_before(as_of, 1))
    cells = _Cells(sheet, header_row, max_cell_problems)
    kinds_wanted = {str(x).strip().casefold() for x in contact_kinds}
    unknown_kinds = kinds_wanted - set(INTERACTION_KINDS)
    if unknown_kinds:
        raise InputError(
            f"contact kinds {', '.join(sorted(unknown_kinds))} are not interaction kinds",
            fix=f"Use some of: {', '.join(INTERACTION_KINDS)}.",
        )

    if interactions.shape[1] == 0:
        interactions = pd.DataFrame(columns=[schema.CUSTOMER_ID, "Date", "Kind"])
    cols = _find_columns(
        interactions, (schema.CUSTOMER_ID, "Date", "Kind"), ("ResolvedDate",),
        sheet=sheet, header_row=header_row,
    )
    code, day, keep, _known = _read_id_date(
        interactions, cols, uniq, t_day, cells, "interaction", "it is not counted yet"
    )
    kind_col = cols["Kind"]
    raw_kind = interactions.iloc[:, kind_col]
    kind = (
        pd.Series(id_text(raw_kind), dtype=object).fillna("").str.casefold().to_numpy(dtype=object)
    )
    kind_known = pd.Series(kind, dtype=object).isin(INTERACTION_KINDS).to_numpy()
    cells.add(
        "warning",
        np.flatnonzero(keep & ~kind_known),
        kind_col,
        lambda p: (
            f"Kind {show_value(raw_kind.iat[p]) if kind[p] else 'is blank'}"
            f"{' is not one of ' + ', '.join(INTERACTION_KINDS) if kind[p] else ''};"
            " the interaction is not counted"
        ),
        f"Use one of: {', '.join(INTERACTION_KINDS)}.",
        "interactions of unknown kind",
    )
    keep &= kind_known

    # Contacts.
    is_contact = keep & pd.Series(kind, dtype=object).isin(kinds_wanted).to_numpy()
    cc, cd = code[is_contact], day[is_contact]
    last_contact = np.full(k, _MIN_DAY, dtype=np.int64)
    np.maximum.at(last_contact, cc, cd)
    contacted = np.bincount(cc, minlength=k) > 0
    contacts12 = np.bincount(cc[cd > y1], minlength=k).astype(np.int64)

    interval = _align(visit_interval_days, pd.Index(uniq, dtype=object), "visit_interval_days")
    iv = interval.to_numpy(dtype=float)
    bad_iv = ~(np.isfinite(iv) & (iv > 0))
    if bad_iv.any():
        cells.problems.append(
            Problem(
                "warning",
                f"{int(bad_iv.sum())} customer(s) have no visit interval (no segment type, or"
                " an interval that is not a positive number of days); their next contact is"
                " left blank",
                "Segment the customers, and give every type a visit interval on Strategies.",
                schema.STRATEGIES,
                None,
            )
        )
    iv_days = np.where(bad_iv, 0, np.rint(np.where(bad_iv, 0, iv))).astype(np.int64)
    due = np.where(contacted, np.where(contacted, last_contact, 0) + iv_days, t_day)
    # Never contacted: due now, whatever the interval.
    has_due = ~bad_iv | ~contacted
    days_over = np.where(has_due, np.maximum(t_day - due, 0), np.nan)
    overdue = has_due & (due <= t_day)

    # Complaints.
    is_complaint = keep & (kind == "complaint")
    pc = np.flatnonzero(is_complaint)
    open_flag = np.ones(pc.size, dtype=bool)
    res_days = np.zeros(pc.size, dtype=np.int64)
    if "ResolvedDate" in cols:
        res_col = cols["ResolvedDate"]
        raw_res = interactions.iloc[:, res_col]
        rd, r_ok, r_blank = parse_dates(raw_res)
        rd, r_ok, r_blank = rd[pc], r_ok[pc], r_blank[pc]
        before = r_ok & (rd < day[pc])
        cells.add(
            "error",
            pc[~r_ok & ~r_blank],
            res_col,
            lambda p: (
                f"{show_value(raw_res.iat[p])} is not a date; the complaint counts as open until it"
                " is corrected"
            ),
            "Type the date the complaint was resolved (like 2026-03-15), or clear the cell.",
            "resolved dates that are not dates",
        )
        cells.add(
            "error",
            pc[before],
            res_col,
            lambda p: (
                f"resolved on {show_value(raw_res.iat[p])}, before the complaint's date; it counts"
                " as open until it is corrected"
            ),
            "Correct the resolved date or the complaint's date.",
            "resolved dates before their complaint",
        )
        closed = r_ok & ~before & (rd <= t_day)
        open_flag = ~closed
        res_days = np.where(closed, rd - day[pc], 0)
        closed12 = closed & (rd > y1)
    else:
        closed12 = np.zeros(pc.size, dtype=bool)
        if pc.size:
            cells.problems.append(
                Problem(
                    "warning",
                    "there is no ResolvedDate column, so every complaint counts as open",
                    f"Add a ResolvedDate column in row {header_row} and fill in the day each"
                    " complaint was resolved.",
                    sheet,
                    f"{header_row}:{header_row}",
                )
            )
    comp_code = code[pc]
    comp_day = day[pc]
    complaints12 = np.bincount(comp_code[comp_day > y1], minlength=k).astype(np.int64)
    open_count = np.bincount(comp_code[open_flag], minlength=k).astype(np.int64)
    closed_count = np.bincount(comp_code[closed12], minlength=k).astype(np.int64)
    res_sum = np.bincount(
        comp_code[closed12], weights=res_days[closed12].astype(float), minlength=k
    )
    avg_res = np.divide(res_sum, closed_count, out=np.full(k, np.nan), where=closed_count > 0)
    last_complaint = np.full(k, _MIN_DAY, dtype=np.int64)
    np.maximum.at(last_complaint, comp_code, comp_day)
    complained = np.bincount(comp_code, minlength=k) > 0

    table = pd.DataFrame(
        {
            "LastContact": _to_datetime(last_contact, contacted),
            "Contacts12m": contacts12,
            "VisitIntervalDays": np.where(bad_iv, np.nan, iv),
            "NextContactDue": _to_datetime(due, has_due),
            "Overdue": overdue,
            "DaysOverdue": days_over,
            "Complaints12m": complaints12,
            "OpenComplaints": open_count,
            "ComplaintsClosed12m": closed_count,
            "AvgResolutionDays": avg_res,
            "LastComplaint": _to_datetime(last_complaint, complained),
        },
        index=pd.Index(uniq, dtype=object, name=schema.CUSTOMER_ID),
    )
    if not ids.is_unique:
        table = table.reindex(ids)
    return ContactPlan(table=table, today=as_of, problems=cells.problems)


def overdue_list(plan: ContactPlan, value: Any = None) -> pd.DataFrame:
    """Customers whose next contact is due (on or before today), most valuable first.

    Parameters
    ----------
    plan : ContactPlan
    value : pandas.Series, optional
        Value per customer (indexed by CustomerID, or in the order of ``plan.table``).

    Returns
    -------
    pandas.DataFrame
        Indexed by CustomerID; columns ``Value``, ``LastContact``, ``NextContactDue``,
        ``DaysOverdue``, ``OpenComplaints``. Sorted by Value descending (blank last), then
        by days overdue descending, then in the customers' order.
    """
    t = plan.table
    out = t[["LastContact", "NextContactDue", "DaysOverdue", "OpenComplaints"]].copy()
    out.insert(0, "Value", _align(value, t.index, "value") if value is not None else np.nan)
    out = out[t["Overdue"].to_numpy(dtype=bool)]
    return out.sort_values(
        ["Value", "DaysOverdue"], ascending=[False, False], na_position="last", kind="stable"
    )
