"""Run the totals query on an order source and turn its rows into :class:`OrderTotals`.

Files are read by DuckDB (embedded, no server), which streams Parquet and CSV and spills
to a temporary folder, so memory stays bounded by its limit (512 MB) whatever the number of
lines. Databases run the same query themselves (:mod:`xlcrm.sources.query`); only one row
per customer comes back.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from collections.abc import Callable, Sequence
from typing import Any, Final

import numpy as np
import pandas as pd
import sqlalchemy as sa

from xlcrm import schema
from xlcrm.book.csv_import import map_columns
from xlcrm.errors import InputError, Problem
from xlcrm.operations.orders import (
    ORDER_TOTAL_COLUMNS,
    OrderTotals,
    units_to_amounts,
    years_before,
)
from xlcrm.sources.location import OrderSource, _is_query, folder_files, with_password
from xlcrm.sources.query import (
    CHECKS,
    LineColumns,
    Windows,
    check_query,
    problem_rows,
    totals_query,
)

__all__ = ["DUCKDB_MEMORY", "load_order_totals"]

DUCKDB_MEMORY: Final = "512MB"
"""DuckDB's memory limit (``XLCRM_DUCKDB_MEMORY`` overrides it): beyond it, DuckDB spills to
a temporary folder where its operators can."""
_EPOCH: Final = dt.date(1970, 1, 1)
_WANTED: Final = ("CustomerID", "Date", "Amount", "GrossProfit", schema.DOCUMENT_NO)
_FILE_COLUMNS: Final = ("filename", "file_row_number")
_AMOUNTS: Final = ("Revenue12m", "RevenuePrev12m", "RevenueTotal", "GrossProfit12m",
                   "RepeatOrderValue")  # fmt: skip


def load_order_totals(
    source: OrderSource, today: dt.date, *, max_problems: int | None = 1000
) -> OrderTotals:
    """Per-customer order totals of ``source`` as of ``today``, with its bad lines.

    Raises
    ------
    InputError
        One line when the source cannot be read: a database that cannot be reached, a table
        or file that cannot be read, a required column that is missing.
    """
    w = Windows(_day(today), _day(years_before(today, 1)), _day(years_before(today, 2)))
    if source.kind == "database":
        return _database_totals(source, today, w, max_problems)
    return _file_totals(source, today, w, max_problems)


def _day(day: dt.date) -> int:
    return (day - _EPOCH).days


def line_columns(
    source: OrderSource, names: Sequence[str], types: dict[str, str] | None = None
) -> LineColumns:
    """Map the source's columns with the CSV import's header matching (ERP and Chinese
    synonyms); one line naming the source and its columns when a required one is missing."""
    headers = [n for n in names if n not in _FILE_COLUMNS]
    mapped = {col: headers[i] for i, col in map_columns(headers, _WANTED).targets.items()}
    missing = [c for c in ("CustomerID", "Date", "Amount") if c not in mapped]
    if missing:
        raise InputError(
            f"{source.label} has no column for {', '.join(missing)} (its columns are:"
            f" {', '.join(headers) or 'none'})",
            fix="Name the columns CustomerID, Date and Amount (or an ERP header the import"
            " knows, such as Kundennummer or 客户编号), or select them under those names in"
            " a query.",
        )
    return LineColumns(
        mapped["CustomerID"], mapped["Date"], mapped["Amount"], mapped.get("GrossProfit"),
        mapped.get(schema.DOCUMENT_NO),
        (types or {}).get(mapped["CustomerID"], "").startswith(("DOUBLE", "FLOAT", "DECIMAL")),
        tuple((types or {}).items()),
    )  # fmt: skip


def _totals(
    source: OrderSource, today: dt.date, cols: LineColumns, rows: Sequence[Any],
    keys: Sequence[str], problems: list[Problem],
) -> OrderTotals:
    """The totals query's rows (amounts in whole units) as :class:`OrderTotals`."""
    frame = pd.DataFrame.from_records(list(rows), columns=list(keys))
    table = pd.DataFrame(index=pd.Index(frame["Key"].astype(object), name=schema.CUSTOMER_ID))
    for name in ORDER_TOTAL_COLUMNS:
        if name not in frame:
            table[name] = np.nan
            continue
        values = np.asarray(frame[name].to_numpy(dtype=object), dtype=float)
        table[name] = units_to_amounts(values) if name in _AMOUNTS else values
    if "GrossProfitGaps" in frame:
        gaps = np.asarray(frame["GrossProfitGaps"].to_numpy(dtype=object), dtype=float)
        table.loc[gaps > 0, "GrossProfit12m"] = np.nan
    return OrderTotals(table, today, source.label, cols.gross_profit is not None, problems)


def _bad_lines(
    source: OrderSource, cols: LineColumns, w: Windows, counts: dict[str, Any],
    listing: Callable[[str, int], list[tuple[str, Any]]], cap: int | None,
) -> list[Problem]:
    """Problems of bad lines: each listed (row key, column, value) up to ``cap`` per kind."""
    header = {"CustomerID": cols.customer_id, "Date": cols.date, "Amount": cols.amount,
              "GrossProfit": cols.gross_profit}  # fmt: skip
    today = (_EPOCH + dt.timedelta(days=w.today)).isoformat()
    out: list[Problem] = []
    for kind, severity, column, message, fix in CHECKS:
        n = int(counts.get(kind) or 0)
        if n == 0:
            continue
        limit = n if cap is None else min(n, cap)
        for where, value in listing(kind, limit):
            shown = _show(value).strip("'")[:10] if kind == "future" else _show(value)
            text = message.format(value=shown, today=today)
            out.append(Problem(severity, f"{where}, column {header[column]}: {text}", fix,
                               source.label, None))  # fmt: skip
        if n > limit:
            out.append(Problem(severity, f"{n - limit} more lines like this in column"
                               f" {header[column]} ({n} in all; the first {limit} are listed)",
                               fix, source.label, None))  # fmt: skip
    return out


def _show(value: Any) -> str:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return repr(value) if isinstance(value, str) else str(value)


# ----------------------------------------------------------------------------- files


def _sql_list(paths: Sequence[str]) -> str:
    return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"


def _file_totals(
    source: OrderSource, today: dt.date, w: Windows, cap: int | None
) -> OrderTotals:
    import duckdb
    from sqlalchemy.dialects import postgresql

    files = folder_files(source)
    reader = (
        f"read_parquet({_sql_list(files)}, filename=true, file_row_number=true,"
        " union_by_name=true)"
        if source.kind == "parquet"
        else f"read_csv({_sql_list(files)}, header=true, filename=true, union_by_name=true)"
    )
    dialect = postgresql.dialect()

    def sql(query: sa.Select) -> str:
        return str(query.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))

    with tempfile.TemporaryDirectory(prefix="xlcrm-duckdb-") as spill:
        memory = os.environ.get("XLCRM_DUCKDB_MEMORY") or DUCKDB_MEMORY
        con = duckdb.connect(config={"memory_limit": memory, "temp_directory": spill,
                                     "preserve_insertion_order": False})  # fmt: skip
        con.execute("SET enable_progress_bar = false")
        try:
            try:
                con.execute(f"CREATE TEMP VIEW src AS SELECT * FROM {reader}")
                described = con.execute("DESCRIBE SELECT * FROM src").fetchall()
            except duckdb.Error as exc:
                raise InputError(
                    f"{source.label} cannot be read: {_first_line(exc)}",
                    fix="Check that it is a Parquet or CSV file with a header row.",
                ) from None
            cols = line_columns(source, [d[0] for d in described],
                                {n: t for n, t, *_ in described})
            src = sa.table("src")
            numbered = src
            if source.kind == "csv":
                # DuckDB's CSV reader has no row numbers: number the rows in file order (one
                # thread, insertion order kept) for the listing only. The header is line 1;
                # a record with a quoted line break counts as one line.
                numbered = sa.table("numbered")
            try:
                counts_row = con.execute(sql(check_query(src, cols, w, "duckdb")))
                keys = [d[0] for d in counts_row.description]
                counts = dict(zip(keys, counts_row.fetchone() or (), strict=False))
                result = con.execute(sql(totals_query(src, cols, w, "duckdb")))
                names = [d[0] for d in result.description]
                rows = result.fetchall()
            except duckdb.OutOfMemoryException:
                raise InputError(
                    f"{source.label}: DuckDB needed more than its {memory} of memory to"
                    " aggregate the order lines (the median interval and the order days of"
                    " very many customer-days are held in memory)",
                    fix="Set XLCRM_DUCKDB_MEMORY to more (like 2GB) and run again, or"
                    " aggregate fewer years of history.",
                ) from None
            except duckdb.Error as exc:
                raise InputError(
                    f"{source.label} cannot be aggregated: {_first_line(exc)}",
                    fix="Check the order columns' contents (dates and numbers).",
                ) from None

            if source.kind == "csv" and any(counts.values()):
                con.execute("SET preserve_insertion_order = true")
                con.execute("SET threads = 1")
                con.execute("CREATE TEMP TABLE numbered AS SELECT *, row_number() OVER"
                            " (PARTITION BY filename) AS file_row_number FROM src")

            def listing(kind: str, limit: int) -> list[tuple[str, Any]]:
                key = {"file": sa.column("filename"), "row": sa.column("file_row_number") + 1}
                q = problem_rows(numbered, cols, w, "duckdb", kind, key, limit)
                word = "row" if source.kind == "parquet" else "line"
                return [(f"{word} {row} of {_name(file)}", value)
                        for file, row, value in con.execute(sql(q)).fetchall()]

            problems = _bad_lines(source, cols, w, counts, listing, cap)
        finally:
            con.close()
    return _totals(source, today, cols, rows, names, problems)


def _name(path: str) -> str:
    return path.replace("\\", "/").rsplit("/", 1)[-1]


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# ----------------------------------------------------------------------------- databases


def _database_totals(
    source: OrderSource, today: dt.date, w: Windows, cap: int | None
) -> OrderTotals:
    label = source.label
    try:
        url = sa.engine.make_url(with_password(source.location))
        if url.drivername == "postgresql":
            # SQLAlchemy's default PostgreSQL driver is psycopg2; xlcrm ships psycopg (3).
            url = url.set(drivername="postgresql+psycopg")
        engine = sa.create_engine(url)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as exc:
        raise InputError(
            f"{label}: the database URL cannot be used: {_first_line(exc)}",
            fix="Write it as SQLAlchemy does, e.g. postgresql+psycopg://user@host/db or"
            " sqlite:///orders.db.",
        ) from None
    flavor = engine.dialect.name
    try:
        with engine.connect() as conn:
            src = _table_of(conn, source)
            names = list(conn.execute(sa.select(sa.text("*")).select_from(src)
                                      .where(sa.false())).keys())  # fmt: skip
            cols = line_columns(source, names)
            counts = dict(conn.execute(check_query(src, cols, w, flavor)).mappings().one())
            result = conn.execute(totals_query(src, cols, w, flavor))
            keys, rows = list(result.keys()), result.fetchall()

            def listing(kind: str, limit: int) -> list[tuple[str, Any]]:
                key = ({"doc": sa.column(cols.document_no)} if cols.document_no else
                       {"id": sa.column(cols.customer_id), "date": sa.column(cols.date)})
                q = problem_rows(src, cols, w, flavor, kind, key, limit)
                out = []
                for *k, value in conn.execute(q).fetchall():
                    where = (f"the line with {cols.document_no} {_show(k[0])}" if cols.document_no
                             else f"the line of customer {_show(k[0])} dated {_show(k[1])}")
                    out.append((where, value))
                return out

            problems = _bad_lines(source, cols, w, counts, listing, cap)
    except sa.exc.OperationalError as exc:
        raise InputError(
            f"{label}: the database cannot be reached or read: {_first_line(exc)}",
            fix="Check the server, the URL, the user and the password"
            f" ({'XLCRM_DB_PASSWORD'} or the keyring).",
        ) from None
    except sa.exc.DBAPIError as exc:
        raise InputError(
            f"{label}: the database refused the query: {_first_line(exc)}",
            fix="Check the table or query, and that its Date and Amount columns hold dates"
            " and numbers.",
        ) from None
    finally:
        engine.dispose()
    return _totals(source, today, cols, rows, keys, problems)


def _table_of(conn: sa.Connection, source: OrderSource) -> sa.FromClause:
    table = source.table or ""
    if _is_query(table):
        return sa.text(table.rstrip().rstrip(";")).columns().subquery("orders_query")
    schema_name, _, name = table.rpartition(".")
    return sa.table(name, schema=schema_name or None)
