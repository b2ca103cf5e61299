"""The workbook file end to end: read ledger and settings, run the pipeline, write results.

This is the file adapter behind the ``xlcrm`` command. The ribbon's adapter
(:mod:`udfs.ribbon`) does the same on the open workbook through xlwings; both call
:func:`xlcrm.pipeline.run` and :func:`xlcrm.report.result_sheets`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from xlcrm import schema
from xlcrm.book.read import Workbook, open_workbook
from xlcrm.book.save import safe_replace
from xlcrm.book.settings import settings_from_grids
from xlcrm.book.template import build_workbook
from xlcrm.book.write import write_result_sheets
from xlcrm.errors import InputError, Problem
from xlcrm.ledger import Ledger
from xlcrm.pipeline import Progress, Results, Settings, run
from xlcrm.report import result_sheets

LEDGER_TEXT_COLUMNS = (schema.CUSTOMER_ID,)


@dataclass
class WorkbookInput:
    """What one read of a workbook file gives: ledger, settings and the file's stamp."""

    ledger: Ledger
    settings: Settings
    book: Workbook
    sheets: tuple[str, ...]


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
    )
    grids = {s: read_grid(s) if s in names else None for s in schema.SETTINGS_SHEETS}
    settings = settings_from_grids(
        grids[schema.INDICATORS], grids[schema.JUDGMENTS], grids[schema.STRATEGIES]
    )
    return ledger, settings


def read_workbook(path: Path) -> WorkbookInput:
    """Read the ledger and settings sheets of ``path`` (nothing is written).

    The file is read once; its stamp is taken from the same bytes, so a later write can
    refuse when the file changed in between.

    Raises
    ------
    InputError
        When the file is not a workbook, is password-protected, has no Customers sheet, or
        has judgments that cannot be used.
    """
    book = open_workbook(Path(path))
    names = tuple(book.sheet_names)
    ledger, settings = inputs_from_sheets(
        names,
        lambda sheet: book.read_sheet(sheet, text_columns=LEDGER_TEXT_COLUMNS).frame,
        book.read_grid,
    )
    return WorkbookInput(ledger, settings, book, names)


def analyse(
    ledger: Ledger,
    settings: Settings,
    *,
    progress: Progress | None = None,
    stamp: datetime | None = None,
    as_of: date | None = None,
) -> Results:
    """Run the analysis on ledger tables as a reader gives them, with problems at sheet cells.

    Shared by the file and the open workbook: the frames' index holds each row's sheet row.
    ``as_of`` is the day orders and contacts are judged from (see :func:`xlcrm.pipeline.run`).
    """
    results = run(ledger, settings, progress=progress, stamp=stamp, as_of=as_of)
    results.problems = relocate_ledger_problems(results.problems, ledger)
    return results


def analyse_file(
    path: Path, *, progress: Progress | None = None, as_of: date | None = None
) -> tuple[WorkbookInput, Results]:
    """Read ``path`` and run the analysis, writing nothing."""
    data = read_workbook(path)
    return data, analyse(data.ledger, data.settings, progress=progress, as_of=as_of)


def resegment_file(
    path: Path,
    *,
    progress: Progress | None = None,
    backups: int = 3,
    stamp: datetime | None = None,
    as_of: date | None = None,
) -> Results:
    """Score and segment the workbook at ``path`` and rewrite its result sheets in place.

    Only the result sheets (Scores, Segments, Dashboard, Problems) change; every other part
    of the file is kept byte for byte. The file is replaced atomically after the new one
    has been verified, a timestamped backup is kept, and the run refuses while the
    workbook is open in Excel or has changed since it was read.
    """
    path = Path(path)
    data = read_workbook(path)
    results = analyse(data.ledger, data.settings, progress=progress, stamp=stamp, as_of=as_of)
    if progress:
        progress("Writing result sheets", 0.95)
    sheets = result_sheets(results, source=path.name)

    def write(target: Path) -> None:
        # Written from the very bytes that were read and analysed.
        write_result_sheets(data.book, target, sheets, owned=schema.RESULT_SHEETS)

    safe_replace(path, write, backups=backups, expected_stamp=data.book.stamp)
    if progress:
        progress("Done", 1.0)
    return results


def check_file(path: Path, *, as_of: date | None = None) -> list[Problem]:
    """Every problem with the workbook's input, as ``resegment`` would find it; writes nothing."""
    try:
        _, results = analyse_file(Path(path), as_of=as_of)
    except InputError as exc:
        return list(exc.problems)
    return results.problems


def create_demo_workbook(
    out: Path,
    *,
    customers: int = 300,
    seed: int = 7,
    today: date | None = None,
    progress: Progress | None = None,
) -> Results:
    """Write a template copy filled with a synthetic ledger to ``out``, then resegment it."""
    from xlcrm.demo import SURVEY_IMPORTANCE, make_ledger

    out = Path(out)
    if progress:
        progress("Making a synthetic ledger", 0.0)
    ledger = make_ledger(customers, seed=seed, today=today)
    if progress:
        progress("Building the workbook", 0.02)
    data = build_workbook(ledger, importance=SURVEY_IMPORTANCE)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists():
        # Overwriting goes through the safe path too: refused while Excel has it open.
        safe_replace(out, lambda target: target.write_bytes(data), backups=0)
    else:
        out.write_bytes(data)
    # The synthetic history ends on the ledger's day: judge it from there, not from now.
    return resegment_file(out, progress=progress, backups=0, as_of=ledger.as_of)
