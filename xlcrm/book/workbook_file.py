"""The workbook file end to end: read ledger and settings, run the pipeline, write results.

This is the file adapter behind the ``xlcrm`` command. The ribbon's adapter
(:mod:`udfs.ribbon`) does the same on the open workbook through xlwings; both call
:func:`xlcrm.pipeline.run` and :func:`xlcrm.report.result_sheets`.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from xlcrm import schema

# re-exported: the demo workbook lives in its own module
from xlcrm.book.demo_file import create_demo_workbook  # noqa: F401
from xlcrm.book.history import HistorySheet, read_history_sheet, write_with_history
from xlcrm.book.read import SheetTable, Workbook, open_workbook
from xlcrm.book.save import safe_replace
from xlcrm.book.sheet_worker import SheetWorker

# re-exported: the sheet-agnostic half (also run by the ribbon and xlwings Lite)
from xlcrm.book.sheets import (  # noqa: F401
    LEDGER_COLUMNS,
    LEDGER_TEXT_COLUMNS,
    analyse,
    inputs_from_sheets,
    relocate_ledger_problems,
    relocate_problems,
)
from xlcrm.book.write import OldSheets
from xlcrm.errors import InputError, Problem, cell_address
from xlcrm.ledger import Ledger
from xlcrm.operations.history import empty_history
from xlcrm.pipeline import Progress, Results, Settings
from xlcrm.report import result_sheets


@dataclass
class WorkbookInput:
    """What one read of a workbook file gives: ledger, settings and the file's stamp."""

    ledger: Ledger
    settings: Settings
    book: Workbook
    sheets: tuple[str, ...]
    # What reading the ledger cells found (error values, over-long text, non-characters).
    problems: list[Problem] = field(default_factory=list)
    history: HistorySheet | None = None


def read_workbook(path: Path, *, overwritten: Collection[str] = ()) -> WorkbookInput:
    """Read the ledger and settings sheets of ``path`` (nothing is written).

    The file is read once; its stamp is taken from the same bytes, so a later write can
    refuse when the file changed in between. ``overwritten``: sheets the caller writes
    anew without reading them, whose parts the package check leaves to the writer.

    Raises
    ------
    InputError
        When the file is not a workbook, is password-protected, has no Customers sheet, or
        has judgments that cannot be used.
    """
    # The sheets read on the reading threads are checked while Customers is read here.
    return book_inputs(open_workbook(Path(path), overwritten=overwritten,
                                     check_later=READ_BESIDE, read_first=[schema.CUSTOMERS]))


OTHER_LEDGERS = tuple(s for s in LEDGER_COLUMNS if s != schema.CUSTOMERS)
READ_BESIDE = (*OTHER_LEDGERS, schema.HISTORY)
"""The sheets :func:`book_inputs` reads on its threads beside Customers, in the order it
asks for them: the other ledgers, then History."""


READ_BESIDE_BYTES = 1 << 20
"""Other ledgers of at least this much XML (a few thousand rows) are read on a thread."""

READING_THREADS = 2
"""Threads reading the other ledgers and History beside Customers (calamine's parse of each
sheet runs without Python's lock). Each holds its own calamine reader, a copy of the file:
on the 50,000-customer demo (110 MB) two threads read in 15 s at a 1,544 MB peak, one in
18.4 s at 1,296 MB."""


def book_inputs(book: Workbook) -> WorkbookInput:
    """The ledger and settings of an opened workbook file (see :func:`read_workbook`).

    A ledger sheet is read within its Excel Table (``tblCustomers`` ...) when it has one:
    what the user sees as the table is the ledger, and a second block below it (a lookup
    list, a pasted summary) is not more customers. Cells the reader cannot take as they are
    become problems at their cell (:func:`ledger_cell_problems`).
    """
    names = tuple(book.sheet_names)
    problems: list[Problem] = []

    def read_one(reader: Workbook, sheet: str) -> tuple[pd.DataFrame, list[Problem]]:
        table = reader.ledger_table(sheet, schema.CUSTOMER_ID)
        read = (reader.read_table(table.name, text_columns=LEDGER_TEXT_COLUMNS) if table
                else reader.read_sheet(sheet, text_columns=LEDGER_TEXT_COLUMNS))
        return read.frame, ledger_cell_problems(read, reader.error_cells(read.sheet))

    # The other ledgers (orders, contacts: often larger than Customers) and History (a
    # run's rows per customer and run kept) are read on the second core while Customers and
    # the settings are read here: calamine parses a sheet without holding Python's lock.
    folded = {n.casefold() for n in names}
    # (A small ledger is read here after Customers, in milliseconds: a reading thread's own
    # calamine reader would copy the whole file for it, 0.2 s of the second core's time.)
    beside = [s for s in OTHER_LEDGERS if s in names and
              book.sheet_bytes(s) >= READ_BESIDE_BYTES]
    has_history = schema.HISTORY.casefold() in folded
    local = threading.local()  # each reading thread its own calamine reader (Workbook.fork)

    def forked() -> Workbook:
        if not hasattr(local, "book"):
            local.book = book.fork()
        return local.book

    with ThreadPoolExecutor(max_workers=READING_THREADS) as pool:
        ahead = {s: pool.submit(lambda s=s: read_one(forked(), s)) for s in beside}
        history = pool.submit(lambda: read_history_sheet(forked())) if has_history else None

        def read_ledger(sheet: str) -> pd.DataFrame:
            frame, found = ahead[sheet].result() if sheet in ahead else read_one(book, sheet)
            problems.extend(found)  # in the order of the sheets, as read one by one
            return frame

        ledger, settings = inputs_from_sheets(names, read_ledger, book.read_grid)
        state = history.result() if history is not None else read_history_sheet(book)
    book.wait_checked()  # every part the package check left for later (not only those read)
    return WorkbookInput(ledger, settings, book, names, problems, state)


EXCEL_CELL_CHARS = 32_767
# Unicode non-characters (U+FDD0-U+FDEF, U+FFFE, U+FFFF), raw or as the _xHHHH_ escape that
# OOXML uses for characters XML cannot carry. They are not text: a value holding one cannot
# be written back into a well-formed sheet, and nothing shows them.
_NONCHAR = re.compile("[\ufdd0-\ufdef\ufffe\uffff]|_x(?:[Ff][Dd][Dd][0-9A-Fa-f]|"
                      "[Ff][Dd][Ee][0-9A-Fa-f]|[Ff]{3}[EeFf])_")


def ledger_cell_problems(read: SheetTable, errors: dict[tuple[int, int], str]) -> list[Problem]:
    """Problems of single ledger cells, fixing the frame in place where a fix is safe.

    - an Excel error value (``#N/A``, ``#DIV/0!``) in the table: an error at its cell; the
      cell counts as missing, as the reader left it blank;
    - text longer than a cell holds (32,767 characters, which Excel itself refuses): an
      error; its first 32,767 characters are used, so the results can be written;
    - non-characters such as U+FFFE (or its escape ``_xFFFE_``): dropped, with a warning.
    """
    out: list[Problem] = []
    frame, sheet = read.frame, read.sheet
    cols = {c: name for name, c in read.columns.items()}
    rows = set(frame.index)
    for (row, col), err in sorted(errors.items()):
        if col in cols and (row in rows or read.first_data_row <= row <= max(rows, default=0)):
            ref = cell_address(row - 1, col)
            out.append(Problem(
                "error", f"{err} in {sheet}!{ref}: the cell holds an Excel error value, so "
                f"{cols[col]} counts as missing for this row",
                "Correct the formula or value in that cell (or clear it when unknown).",
                sheet, ref))
    for name in frame.columns:
        values = frame[name]
        if values.dtype != object or _plain_text(values):
            continue
        text = values.map(lambda v: v if isinstance(v, str) else "")
        long = text.str.len() > EXCEL_CELL_CHARS
        odd = text.str.contains(_NONCHAR, na=False)
        for row in values.index[long | odd]:
            ref = read.address(row, name)
            value = text[row]
            if len(value) > EXCEL_CELL_CHARS:
                out.append(Problem(
                    "error", f"the text is {len(value):,} characters long, more than a cell "
                    f"holds ({EXCEL_CELL_CHARS:,})",
                    f"Shorten it; until then xlcrm uses its first {EXCEL_CELL_CHARS:,} "
                    "characters.", sheet, ref))
                value = value[:EXCEL_CELL_CHARS]
            found = sorted({_codepoint(m) for m in _NONCHAR.findall(value)})
            if found:
                out.append(Problem(
                    "warning", f"the text holds {', '.join(found)}, which is not a character "
                    "(a Unicode non-character); xlcrm dropped it",
                    "Retype the text without it (it may come from a faulty export).",
                    sheet, ref))
                value = _NONCHAR.sub("", value)
            frame.at[row, name] = value
    return out


def _plain_text(values: pd.Series) -> bool:
    """True when no text of ``values`` is too long or holds a non-character: one C-level pass
    over the column (the cell-by-cell check cost 9 s of CPU on a 100,000-customer ledger)."""
    cells = values.to_numpy()
    try:  # a column of text and blanks (the usual case): joined in C, no test per value
        text = "\0".join(filter(None, cells))  # (None and "" left out: nothing to check)
    except TypeError:  # numbers or dates among the texts (or a missing value that is not None)
        text = "\0".join([v for v in cells if isinstance(v, str)])
    joined = text.encode("utf-8", "surrogatepass")
    if len(joined) > EXCEL_CELL_CHARS and _longest(joined) > EXCEL_CELL_CHARS and max(
            map(len, text.split("\0"))) > EXCEL_CELL_CHARS:
        return False
    # U+FDD0..U+FDEF and U+FFFE/U+FFFF start with these bytes in UTF-8, an escape of one with
    # "_x": byte searches (memchr), the regular expression only when one is found
    if not any(mark in joined for mark in (b"\xef\xb7", b"\xef\xbf\xbe", b"\xef\xbf\xbf",
                                          b"_x")):
        return True
    return not _NONCHAR.search(text)


def _longest(joined: bytes) -> int:
    """Bytes of the longest of the NUL-separated texts ``joined`` (a text takes no fewer
    bytes than characters; XML cannot carry a NUL, so none is inside a text)."""
    ends = np.flatnonzero(np.frombuffer(joined, dtype=np.uint8) == 0)
    return int(np.diff(ends, prepend=-1, append=len(joined)).max()) - 1


def _codepoint(match: str) -> str:
    code = ord(match) if len(match) == 1 else int(match[2:6], 16)
    return f"U+{code:04X}"


def analyse_file(
    path: Path,
    *,
    progress: Progress | None = None,
    as_of: date | None = None,
    orders: tuple[str, str | None] | None = None,
) -> tuple[WorkbookInput, Results]:
    """Read ``path`` and run the analysis, writing nothing (``orders``: see
    :func:`xlcrm.book.sheets.analyse`)."""
    data = read_workbook(path)
    results = analyse(data.ledger, data.settings, progress=progress, as_of=as_of, orders=orders,
                      history=data.history.history if data.history else None)
    results.problems = [*data.problems, *results.problems]
    return data, results


def resegment_file(
    path: Path,
    *,
    progress: Progress | None = None,
    backups: int = 3,
    stamp: datetime | None = None,
    as_of: date | None = None,
    orders: tuple[str, str | None] | None = None,
) -> Results:
    """Score and segment the workbook at ``path`` and rewrite its result sheets in place.

    Only the result sheets (Scores, Segments, Dashboard, Problems, Activity) change, and the
    run's rows are appended to History (:mod:`xlcrm.book.history`); every other part of
    the file is kept byte for byte. The file is replaced atomically after the new one
    has been verified, a timestamped backup is kept, and the run refuses while the
    workbook is open in Excel or has changed since it was read. ``orders`` names an order
    source instead of the one the workbook names (see :func:`xlcrm.book.sheets.analyse`);
    when it cannot be read, nothing is written.
    """
    path = Path(path)
    # The result sheets are only written over: the package check leaves them to the writer.
    # (SegmentHistory is read, so it is checked like the ledger.)
    # Started first, so that it imports the writer while this process reads (the reading
    # threads leave the second core idle at times; the analysis would not).
    with SheetWorker.for_file(path) or contextlib.nullcontext() as worker:
        data = read_workbook(path, overwritten=schema.RESULT_SHEETS)
        old = OldSheets(data.book, schema.RESULT_SHEETS)  # read while the analysis runs
        history = data.history or HistorySheet(empty_history(), exists=False)
        results = analyse(data.ledger, data.settings, progress=progress, stamp=stamp,
                          as_of=as_of, orders=orders, history=history.history)
        results.problems = [*data.problems, *results.problems]
        if progress:
            progress("Writing result sheets", 0.95)
        sheets = result_sheets(results, source=path.name)

        def write(target: Path) -> None:
            # Written from the very bytes read and analysed; the run recorded on History.
            write_with_history(data.book, target, sheets, history, results.history,
                               old_sheets=old, worker=worker)

        safe_replace(path, write, backups=backups, expected_stamp=data.book.stamp,
                     worker=worker)
    if progress:
        progress("Done", 1.0)
    return results


def check_file(
    path: Path, *, as_of: date | None = None, orders: tuple[str, str | None] | None = None
) -> list[Problem]:
    """Every problem with the workbook's input, as ``resegment`` would find it; writes nothing.

    Raises
    ------
    InputError
        When the file cannot be read as a workbook at all (missing, not a workbook,
        password-protected): there is nothing to check.
    """
    book = open_workbook(Path(path))
    problems: list[Problem] = []
    try:
        data = book_inputs(book)
        problems = data.problems
        results = analyse(data.ledger, data.settings, as_of=as_of, orders=orders,
                          history=data.history.history if data.history else None)
    except InputError as exc:
        return [*problems, *exc.problems]
    return [*problems, *results.problems]
