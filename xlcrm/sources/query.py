"""The per-customer order totals as one SQL query, run where the order lines are.

One SQLAlchemy Core query computes :data:`xlcrm.operations.orders.ORDER_TOTAL_COLUMNS` from
a table of order lines, so that only one row per customer leaves the database (or DuckDB):

1. ``lines``: each usable line as (customer key, day number, amount, whole units, gross
   profit units), the way :func:`xlcrm.operations.orders.order_metrics` reads a sheet row,
   summed per customer (``per_key``: counts and sums per window);
2. ``order_days``: one row per customer and day with an order, its order units;
3. ``odays``: the gap since the customer's previous order day (``lag``), and per customer
   (``by_days``) the first and last order day, their number, the repeat value (the order
   days with a gap) and the median gap (the typical interval).

Only step 2 groups more than the customers: a B2B customer buys on a few hundred days,
whatever the number of lines, and the engine spills to disk beyond its memory. Sums are of
whole 1/10,000 units (:data:`~xlcrm.operations.orders.AMOUNT_UNITS`) as 64-bit integers,
which every engine adds exactly in any order, and are turned into amounts in Python, once,
as the sheet path does.

The few expressions that differ between engines (a text key, a day number, a number that
may be text, ``floor``) are written per *flavor*: ``duckdb``, ``postgresql``, ``sqlite``;
any other SQLAlchemy dialect gets the PostgreSQL spelling (standard SQL).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import sqlalchemy as sa
from sqlalchemy.sql import ColumnElement

from xlcrm.operations.orders import AMOUNT_UNITS

__all__ = ["LineColumns", "Windows", "check_query", "problem_rows", "totals_query"]

_EPOCH: Final = dt.date(1970, 1, 1)


@dataclass(frozen=True)
class Windows:
    """Day numbers (days since 1970-01-01) of ``today`` and the two windows' starts."""

    today: int
    y1: int
    y2: int


@dataclass(frozen=True)
class LineColumns:
    """Where the order lines' columns are: source column names, and their kinds.

    ``float_key`` says the CustomerID column holds floating-point numbers (1001.0 is the
    customer ``"1001"``, as on a sheet). ``types`` are the columns' DuckDB types when known:
    a typed date or number column needs no conversion attempt per line.
    """

    customer_id: str
    date: str
    amount: str
    gross_profit: str | None = None
    document_no: str | None = None
    float_key: bool = False
    types: tuple[tuple[str, str], ...] = ()

    def type_of(self, name: str) -> str:
        return dict(self.types).get(name, "")


def _col(name: str) -> ColumnElement:
    return sa.column(name)


def _try_cast(name: str, type_sql: str) -> ColumnElement:
    """DuckDB's ``TRY_CAST(column AS type)``: NULL where the value does not convert."""
    quoted = '"' + name.replace('"', '""') + '"'
    return sa.literal_column(f"TRY_CAST({quoted} AS {type_sql})")


def _raw(flavor: str, expr: ColumnElement) -> ColumnElement:
    """A raw value as text, trimmed (for blank checks and keys)."""
    return sa.func.trim(sa.cast(expr, sa.String))


def key_expr(flavor: str, cols: LineColumns) -> ColumnElement:
    """The CustomerID as the text :func:`xlcrm.operations.orders.id_text` makes of it."""
    c = _col(cols.customer_id)
    text = _raw(flavor, c)
    if flavor == "sqlite":
        whole = sa.and_(sa.func.typeof(c) == "real", c == sa.cast(c, sa.Integer))
        return sa.case((whole, sa.cast(sa.cast(c, sa.Integer), sa.String)), else_=text)
    if cols.float_key:
        whole = c == sa.func.floor(c)
        return sa.case((whole, sa.cast(sa.cast(c, sa.BigInteger), sa.String)), else_=text)
    return text


_NUMERIC: Final = ("DOUBLE", "FLOAT", "DECIMAL", "BIGINT", "INTEGER", "SMALLINT", "TINYINT",
                   "HUGEINT", "UBIGINT", "UINTEGER", "USMALLINT", "UTINYINT", "REAL")


def day_expr(flavor: str, name: str, kind: str = "") -> ColumnElement:
    """Days since 1970-01-01 of a date, datetime or date text; NULL when not a date."""
    c = _col(name)
    if flavor == "sqlite":
        return sa.cast(sa.func.julianday(sa.func.date(c)) - 2440587.5, sa.Integer)
    epoch = sa.literal_column(f"DATE '{_EPOCH.isoformat()}'")
    if flavor == "duckdb":
        if kind == "DATE":
            return c - epoch
        if kind.startswith("TIMESTAMP"):
            return sa.cast(c, sa.Date) - epoch
        return sa.cast(_try_cast(name, "TIMESTAMP"), sa.Date) - epoch
    return sa.cast(c, sa.Date) - epoch


def number_expr(flavor: str, name: str, kind: str = "") -> ColumnElement:
    """A number as a double; NULL when blank or not a number."""
    c = _col(name)
    if flavor == "sqlite":
        return sa.case(
            (sa.func.typeof(c).in_(("integer", "real")), sa.cast(c, sa.Float)), else_=None
        )
    if flavor == "duckdb":
        if kind.startswith(_NUMERIC):
            return sa.cast(c, sa.Double)
        return _try_cast(name, "DOUBLE")
    return sa.cast(c, sa.Double)


def units_expr(flavor: str, x: ColumnElement) -> ColumnElement:
    """``floor(x * 10000 + 0.5)`` as a 64-bit integer (:func:`amount_units` in SQL)."""
    y = x * AMOUNT_UNITS + 0.5
    if flavor == "sqlite":
        t = sa.cast(y, sa.Integer)  # truncates toward zero
        return t - sa.case((y < t, 1), else_=0)
    return sa.cast(sa.func.floor(y), sa.BigInteger)


def blank_expr(flavor: str, name: str) -> ColumnElement:
    c = _col(name)
    return sa.or_(c.is_(None), _raw(flavor, c) == "")


def _parsed(flavor: str, cols: LineColumns) -> dict[str, ColumnElement]:
    out = {
        "key": key_expr(flavor, cols),
        "day": day_expr(flavor, cols.date, cols.type_of(cols.date)),
        "amount": number_expr(flavor, cols.amount, cols.type_of(cols.amount)),
    }
    if cols.gross_profit:
        out["gp"] = number_expr(flavor, cols.gross_profit, cols.type_of(cols.gross_profit))
    return out


def totals_query(source: sa.FromClause, cols: LineColumns, w: Windows, flavor: str) -> sa.Select:
    """Per-customer totals (columns ``Key`` and :data:`ORDER_TOTAL_COLUMNS`, amounts in
    whole units) of the usable lines of ``source`` as of ``w.today``."""
    p = _parsed(flavor, cols)
    parsed = sa.select(*(e.label(n) for n, e in p.items())).select_from(source).subquery("p")
    usable = sa.and_(
        parsed.c.key.is_not(None), parsed.c.key != "", parsed.c.day.is_not(None),
        parsed.c.amount.is_not(None), parsed.c.day <= w.today,
    )  # fmt: skip
    is_order = parsed.c.amount > 0
    units = units_expr(flavor, parsed.c.amount)
    fields = [
        parsed.c.key, parsed.c.day,
        sa.case((is_order, 1), else_=0).label("is_order"),
        units.label("units"),
        sa.case((is_order, units), else_=0).label("order_units"),
    ]  # fmt: skip
    if cols.gross_profit:
        gp = parsed.c.gp
        fields.append(sa.case((gp.is_(None), 0), else_=units_expr(flavor, gp)).label("gp"))
        fields.append(sa.case((gp.is_(None), 1), else_=0).label("gp_bad"))
    # Written out twice rather than as a CTE: a database would otherwise keep every line
    # in a temporary table (PostgreSQL materialises a CTE used twice), where scanning the
    # source again costs less.
    lines = sa.select(*fields).where(usable).subquery("lines")
    orders = sa.select(*fields).where(sa.and_(usable, is_order)).subquery("order_lines")
    d = lines.c
    last, prev = d.day > w.y1, sa.and_(d.day > w.y2, d.day <= w.y1)

    def total(value: ColumnElement, when: ColumnElement | None = None) -> ColumnElement:
        return sa.func.sum(value if when is None else sa.case((when, value), else_=0))

    sums = [
        d.key.label("Key"),
        sa.func.count().label("Lines"),
        total(d.is_order).label("Orders"),
        total(d.is_order, last).label("Orders12m"),
        total(d.is_order, prev).label("OrdersPrev12m"),
        total(d.units, last).label("Revenue12m"),
        total(d.units, prev).label("RevenuePrev12m"),
        total(d.units).label("RevenueTotal"),
        total(d.gp, last).label("GrossProfit12m") if cols.gross_profit else None,
        total(d.gp_bad, last).label("GrossProfitGaps") if cols.gross_profit else None,
    ]
    per_key = sa.select(*(c for c in sums if c is not None)).group_by(d.key).cte("per_key")
    # Order days with the gap since the customer's previous one: the first has none, so
    # the repeat value is the order value of the days with a gap.
    daily = (
        sa.select(orders.c.key, orders.c.day,
                  sa.func.sum(orders.c.order_units).label("order_units"))
        .group_by(orders.c.key, orders.c.day)
        .subquery("order_days")
    )  # fmt: skip
    d = daily.c
    odays = sa.select(
        d.key, d.day, d.order_units,
        (d.day - sa.func.lag(d.day).over(partition_by=d.key, order_by=d.day)).label("gap"),
    ).cte("odays")  # fmt: skip
    o = odays.c
    by_days = sa.select(
        o.key,
        sa.func.min(o.day).label("FirstOrderDay"),
        sa.func.max(o.day).label("LastOrderDay"),
        sa.func.count().label("OrderDays"),
        sa.func.sum(sa.case((o.gap.is_not(None), o.order_units), else_=0))
        .label("RepeatOrderValue"),
    ).group_by(o.key).cte("by_days")  # fmt: skip
    medians = _median_gaps(odays)
    joins = per_key.outerjoin(by_days, by_days.c.key == per_key.c.Key).outerjoin(
        medians, medians.c.key == per_key.c.Key
    )
    return sa.select(
        per_key, by_days.c.FirstOrderDay, by_days.c.LastOrderDay, by_days.c.OrderDays,
        by_days.c.RepeatOrderValue, medians.c.TypicalIntervalDays,
    ).select_from(joins)  # fmt: skip


def _median_gaps(odays: sa.CTE) -> sa.CTE:
    """The median gap per customer from how often each gap occurs, not from every gap.

    A median aggregate (DuckDB's ``median``, PostgreSQL's ``percentile_cont``) holds every
    value of a group in memory; gaps are whole days, so a customer has few distinct ones,
    and counting them first keeps the work small whatever the number of order days. With
    ``cum`` the running count up to a gap and ``n`` the customer's number of gaps, the
    middle positions are the first gaps where ``2 cum >= n`` and ``2 cum > n`` (the same
    gap when ``n`` is odd); the median is their mean, exact for whole days. Standard SQL
    (window sums), so SQLite runs it too.
    """
    o = odays.c
    counts = (
        sa.select(o.key, o.gap, sa.func.count().label("c"))
        .where(o.gap.is_not(None))
        .group_by(o.key, o.gap)
        .subquery("gap_counts")
    )
    c = counts.c
    running = sa.select(
        c.key, c.gap,
        sa.func.sum(c.c).over(partition_by=c.key, order_by=c.gap, rows=(None, 0)).label("cum"),
        sa.func.sum(c.c).over(partition_by=c.key).label("n"),
    ).subquery("running")  # fmt: skip
    r = running.c
    low = sa.func.min(sa.case((2 * r.cum >= r.n, r.gap), else_=None))
    high = sa.func.min(sa.case((2 * r.cum > r.n, r.gap), else_=None))
    return (
        sa.select(r.key, (sa.cast(low + high, sa.Double) / 2.0).label("TypicalIntervalDays"))
        .group_by(r.key)
        .cte("medians")
    )


CHECKS: Final = (
    ("blank_key", "error", "CustomerID", "CustomerID is blank; the line is left out",
     "Fill in the customer's ID as on Customers."),
    ("blank_date", "error", "Date", "Date is blank; the line is left out",
     "Fill in the date."),
    ("bad_date", "error", "Date", "{value} is not a date; the line is left out",
     "Store a date (like 2026-03-15) in the date column."),
    ("future", "warning", "Date", "date {value} is after {today}, the day of the analysis;"
     " the line is not counted yet",
     "Correct the date if it is a typing error; otherwise it counts from that day on."),
    ("blank_amount", "error", "Amount", "Amount is blank; the line is left out",
     "Fill in the amount (negative for a credit note or return)."),
    ("bad_amount", "error", "Amount", "{value} is not a number; the line is left out",
     "Store the amount as a number."),
    ("bad_gp", "error", "GrossProfit", "{value} is not a number; this customer's 12-month"
     " gross profit and unit profit are left blank if the line is in the last 12 months",
     "Store the gross profit as a number (negative for a loss or credit note)."),
    ("blank_gp", "warning", "GrossProfit", "GrossProfit is blank in the last 12 months; this"
     " customer's 12-month gross profit and unit profit are left blank",
     "Fill in the gross profit of the line."),
)  # fmt: skip
"""Bad lines: (kind, severity, column, message, fix), as the sheet path reports them."""


def _conditions(cols: LineColumns, w: Windows, flavor: str) -> dict[str, ColumnElement]:
    p = _parsed(flavor, cols)
    key_ok = sa.and_(p["key"].is_not(None), p["key"] != "")
    everything_blank = sa.and_(*(blank_expr(flavor, n) for n in
                                 (cols.customer_id, cols.date, cols.amount)))
    date_blank = blank_expr(flavor, cols.date)
    amount_blank = blank_expr(flavor, cols.amount)
    kept = sa.and_(key_ok, p["day"].is_not(None), p["day"] <= w.today, p["amount"].is_not(None))
    out = {
        "blank_key": sa.and_(sa.not_(key_ok), sa.not_(everything_blank)),
        "blank_date": sa.and_(key_ok, date_blank),
        "bad_date": sa.and_(key_ok, sa.not_(date_blank), p["day"].is_(None)),
        "future": sa.and_(key_ok, p["day"] > w.today),
        "blank_amount": sa.and_(key_ok, amount_blank),
        "bad_amount": sa.and_(key_ok, sa.not_(amount_blank), p["amount"].is_(None)),
    }  # fmt: skip
    if cols.gross_profit:
        gp_blank = blank_expr(flavor, cols.gross_profit)
        out["bad_gp"] = sa.and_(kept, sa.not_(gp_blank), p["gp"].is_(None))
        out["blank_gp"] = sa.and_(kept, gp_blank, p["day"] > w.y1)
    return out


def check_query(source: sa.FromClause, cols: LineColumns, w: Windows, flavor: str) -> sa.Select:
    """One row: how many lines of each kind in :data:`CHECKS` ``source`` has (one scan)."""
    conds = _conditions(cols, w, flavor)
    return sa.select(
        *(sa.func.sum(sa.case((c, 1), else_=0)).label(k) for k, c in conds.items())
    ).select_from(source)


def problem_rows(
    source: sa.FromClause,
    cols: LineColumns,
    w: Windows,
    flavor: str,
    kind: str,
    row_key: Mapping[str, ColumnElement],
    limit: int,
) -> sa.Select:
    """The first ``limit`` lines of one kind, with their row key and the column's value."""
    column = {"CustomerID": cols.customer_id, "Date": cols.date, "Amount": cols.amount,
              "GrossProfit": cols.gross_profit}[next(c[2] for c in CHECKS if c[0] == kind)]
    assert column is not None
    return (
        sa.select(*(v.label(k) for k, v in row_key.items()), _col(column).label("value"))
        .select_from(source)
        .where(_conditions(cols, w, flavor)[kind])
        .limit(limit)
    )
