"""Ledger and settings from sheet cells, however they were read: no file format here.

Both readers of a workbook share this module: the ``xlcrm`` command reads the file with
:mod:`xlcrm.book.read` (python-calamine), the ribbon and xlwings Lite read the open workbook
through xlwings (:mod:`udfs.ribbon`). Each hands over a sheet's cells from A1 and gets the
same tables, settings and analysis, with every problem at its sheet cell:

- :func:`table_from_rows` (from :mod:`xlcrm.book.tables`): a sheet's rows as a
  :class:`SheetTable` (conventions in :mod:`xlcrm.book.read`);
- :func:`inputs_from_sheets`: the ledger and settings of a workbook;
- :func:`analyse`: the pipeline, its problems moved to the rows the reader kept.

It imports no file-format library (python-calamine, openpyxl), so it also runs where those
cannot be installed, such as Pyodide in xlwings Lite.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import Any

import pandas as pd

from xlcrm import schema
from xlcrm.book.settings import settings_from_grids

# Re-exported: a sheet's rows to a table (the readers import them from here too).
from xlcrm.book.tables import SheetTable, as_text, table_from_rows  # noqa: F401
from xlcrm.errors import InputError, Problem
from xlcrm.ledger import Ledger
from xlcrm.operations.history import History
from xlcrm.pipeline import Progress, Results, Settings, run

# --------------------------------------------------------------------------------------------
# A workbook's ledger and settings, and the analysis with problems at sheet cells


LEDGER_TEXT_COLUMNS = (schema.CUSTOMER_ID,)


_CELL = re.compile(r"^([A-Z]+)([0-9]+)$")


def relocate_problems(
    problems: list[Problem], sheet: str, row_numbers: pd.Index, *, header_row: int = 1
) -> list[Problem]:
    """Point problems the core addressed by row position at the real sheet rows.

    The core numbers data rows from ``header_row + 1`` by position; the reader skips blank
    rows inside a table and keeps each row's sheet number in the frame's index.
    """
    out = []
    for p in problems:
        m = _CELL.match(p.cell or "") if p.sheet == sheet else None
        position = int(m.group(2)) - header_row - 1 if m else -1
        if m and 0 <= position < len(row_numbers):
            p = replace(p, cell=f"{m.group(1)}{int(row_numbers[position])}")
        out.append(p)
    return out


def relocate_ledger_problems(problems: list[Problem], ledger: Ledger) -> list[Problem]:
    """:func:`relocate_problems` for every ledger sheet."""
    for sheet, frame in (
        (schema.CUSTOMERS, ledger.customers),
        (schema.TRANSACTIONS, ledger.transactions),
        (schema.INTERACTIONS, ledger.interactions),
        (schema.SURVEY, ledger.survey),
        (schema.CONTACTS, ledger.contacts),
    ):
        problems = relocate_problems(problems, sheet, frame.index)
    return problems


def _empty(columns: tuple[str, ...]) -> pd.DataFrame:
    return pd.DataFrame(columns=list(columns), dtype=object)


LEDGER_COLUMNS = {
    schema.CUSTOMERS: schema.CUSTOMER_IDENTITY_COLUMNS,
    schema.TRANSACTIONS: schema.TRANSACTION_COLUMNS,
    schema.INTERACTIONS: schema.INTERACTION_COLUMNS,
    schema.SURVEY: schema.SURVEY_ID_COLUMNS,
    schema.CONTACTS: schema.CONTACT_SHEET_COLUMNS,
}


def inputs_from_sheets(
    names: Sequence[str],
    read_table: Callable[[str], pd.DataFrame],
    read_grid: Callable[[str], list[list[Any]]],
) -> tuple[Ledger, Settings]:
    """Ledger and settings from a workbook's sheets, however they are read.

    Shared by the file (``xlcrm``) and the open workbook (ribbon): ``read_table`` gives a
    ledger sheet as a DataFrame (CustomerID as text), ``read_grid`` a settings sheet's
    cells from A1.
    """
    if schema.CUSTOMERS not in names:
        raise InputError(
            f"the workbook has no {schema.CUSTOMERS} sheet (it has: {', '.join(names)})",
            fix="Start from the xlcrm template, or rename your customer sheet to Customers.",
            sheet=schema.CUSTOMERS,
        )
    frames = {
        sheet: read_table(sheet) if sheet in names else _empty(columns)
        for sheet, columns in LEDGER_COLUMNS.items()
    }
    ledger = Ledger(
        customers=frames[schema.CUSTOMERS],
        transactions=frames[schema.TRANSACTIONS],
        interactions=frames[schema.INTERACTIONS],
        survey=frames[schema.SURVEY],
        contacts=frames[schema.CONTACTS],
    )
    grids = {s: read_grid(s) if s in names else None for s in schema.SETTINGS_SHEETS}
    raters = schema.rater_sheets(names)
    settings = settings_from_grids(
        grids[schema.INDICATORS], grids[schema.JUDGMENTS], grids[schema.STRATEGIES],
        {s: grids[s] if s == schema.JUDGMENTS else read_grid(s) for s in raters}
        if len(raters) > 1 else None,
    )
    return ledger, settings


def analyse(
    ledger: Ledger,
    settings: Settings,
    *,
    progress: Progress | None = None,
    stamp: datetime | None = None,
    as_of: date | None = None,
    orders: tuple[str, str | None] | None = None,
    history: History | None = None,
) -> Results:
    """Run the analysis on ledger tables as a reader gives them, with problems at sheet cells.

    Shared by the file and the open workbook: the frames' index holds each row's sheet row.
    ``as_of`` is the day orders and contacts are judged from, ``history`` the History sheet
    as read (see :func:`xlcrm.pipeline.run`).
    ``orders`` is an order source's location and table (``--orders``); without it, the one
    the Indicators sheet's options name, else the Transactions sheet.

    Raises
    ------
    InputError
        One line when the order source cannot be read (nothing has been written).
    """
    stamp = stamp or datetime.now().replace(microsecond=0)
    totals, note = _order_totals(ledger, settings, orders, as_of or stamp.date())
    results = run(ledger, settings, progress=progress, stamp=stamp, as_of=as_of,
                  order_totals=totals, history=history)  # fmt: skip
    results.problems = relocate_ledger_problems(results.problems, ledger)
    if note is not None:
        results.problems.append(note)
    return results


def _order_totals(
    ledger: Ledger, settings: Settings, orders: tuple[str, str | None] | None, today: date
) -> tuple[Any, Problem | None]:
    """The order source's totals (None for the Transactions sheet) and a note when the
    sheet has rows that the source replaces."""
    options = settings.options
    location, table = orders or (options.orders_source, options.orders_table)
    if not (location or "").strip():
        return None, None
    try:
        # Imported here: DuckDB and SQLAlchemy are not loaded (nor needed, e.g. in xlwings
        # Lite) unless a workbook names an order source.
        from xlcrm.sources import load_order_totals, order_source
    except ImportError as exc:
        raise InputError(
            f"the order source {location} cannot be read here ({exc})",
            fix="Run xlcrm resegment on the desktop, or clear the Orders source option to"
            " use the Transactions sheet.",
        ) from None
    source = order_source(location, table, in_workbook=orders is None)
    if source is None:
        return None, None
    totals = load_order_totals(source, today)
    rows = len(ledger.transactions)
    note = None
    if rows:
        note = Problem(
            "note",
            f"the orders come from {source.label}; the {rows:,} rows of the"
            f" {schema.TRANSACTIONS} sheet are not used",
            f"Clear the Orders source option on {schema.INDICATORS} to use the sheet.",
            schema.TRANSACTIONS,
            None,
        )
    return totals, note
