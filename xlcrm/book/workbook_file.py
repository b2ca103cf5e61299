"""The workbook file end to end: read ledger and settings, run the pipeline, write results.

This is the file adapter behind the ``xlcrm`` command. The ribbon's adapter
(:mod:`udfs.ribbon`) does the same on the open workbook through xlwings; both call
:func:`xlcrm.pipeline.run` and :func:`xlcrm.report.result_sheets`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from xlcrm import schema

# re-exported: the demo workbook lives in its own module
from xlcrm.book.demo_file import create_demo_workbook  # noqa: F401
from xlcrm.book.read import Workbook, open_workbook
from xlcrm.book.save import safe_replace

# re-exported: the sheet-agnostic half (also run by the ribbon and xlwings Lite)
from xlcrm.book.sheets import (  # noqa: F401
    LEDGER_COLUMNS,
    LEDGER_TEXT_COLUMNS,
    analyse,
    inputs_from_sheets,
    relocate_ledger_problems,
    relocate_problems,
)
from xlcrm.book.write import write_result_sheets
from xlcrm.errors import InputError, Problem
from xlcrm.ledger import Ledger
from xlcrm.pipeline import Progress, Results, Settings
from xlcrm.report import result_sheets


@dataclass
class WorkbookInput:
    """What one read of a workbook file gives: ledger, settings and the file's stamp."""

    ledger: Ledger
    settings: Settings
    book: Workbook
    sheets: tuple[str, ...]


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
    return book_inputs(open_workbook(Path(path)))


def book_inputs(book: Workbook) -> WorkbookInput:
    """The ledger and settings of an opened workbook file (see :func:`read_workbook`)."""
    names = tuple(book.sheet_names)
    ledger, settings = inputs_from_sheets(
        names,
        lambda sheet: book.read_sheet(sheet, text_columns=LEDGER_TEXT_COLUMNS).frame,
        book.read_grid,
    )
    return WorkbookInput(ledger, settings, book, names)


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
    """Every problem with the workbook's input, as ``resegment`` would find it; writes nothing.

    Raises
    ------
    InputError
        When the file cannot be read as a workbook at all (missing, not a workbook,
        password-protected): there is nothing to check.
    """
    book = open_workbook(Path(path))
    try:
        data = book_inputs(book)
        results = analyse(data.ledger, data.settings, as_of=as_of)
    except InputError as exc:
        return list(exc.problems)
    return results.problems
