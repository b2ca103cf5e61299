"""Ribbon actions on the open workbook: the Excel adapter of ``xlcrm resegment``.

The template's ribbon (``workbook/vba/CRMRibbon.bas``) calls these through xlwings'
``RunPython``, for example ``RunPython "import udfs.ribbon; udfs.ribbon.resegment()"``.

The command (:mod:`xlcrm.book.workbook_file`) and these actions share everything but the
sheet reader and writer: both turn sheet rows into tables with
:func:`xlcrm.book.sheets.table_from_rows`, build the settings with
:func:`xlcrm.book.settings.settings_from_grids`, run the analysis with its problems at
sheet cells with :func:`xlcrm.book.sheets.analyse` and lay
out the result sheets with :func:`xlcrm.report.result_sheets`. Here each sheet is read
with one bulk ``.value`` and each result sheet written with one bulk ``.value``.

No action lets an exception reach Excel: every failure ends in a message box.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import xlwings as xw

# Only sheet-agnostic modules at import time (no python-calamine, no openpyxl): these
# actions also run in xlwings Lite, in the browser, where those cannot be installed.
from xlcrm import schema
from xlcrm.book.csv_import import ImportPlan, numbers_where_whole, plan_for_sheet, prepare_import
from xlcrm.book.sheets import (
    LEDGER_TEXT_COLUMNS,
    SheetTable,
    analyse,
    inputs_from_sheets,
    table_from_rows,
)
from xlcrm.errors import SEVERITY_ORDER, InputError, Problem, counts_text
from xlcrm.ledger import Ledger
from xlcrm.operations.history import HistoryUpdate, read_history
from xlcrm.pipeline import Results
from xlcrm.report import Formula, clean, frame_rows, problems_sheet, result_sheets

__all__ = ["check", "help", "import_orders", "resegment", "share", "sync_judgments"]

TITLE = "CRM"
#: Problems listed in a message box; the rest are on the Problems sheet.
ALERT_PROBLEMS = 5
#: Excel's MsgBox shows at most about 1024 characters.
ALERT_CHARS = 900


# --------------------------------------------------------------------------------------------
# Talking to Excel


def _book(book: xw.Book | None) -> xw.Book:
    return xw.Book.caller() if book is None else book


def _status(book: xw.Book, text: str | bool) -> None:
    """Show ``text`` in Excel's status bar (``False`` gives it back to Excel).

    The remote engine (xlwings Server / Lite) has no status bar and raises
    NotImplementedError; progress then simply is not shown.
    """
    # Progress is a courtesy, never a reason to stop.
    with contextlib.suppress(Exception):
        book.app.status_bar = text


def _alert(book: xw.Book, text: str, *, critical: bool = False) -> None:
    if len(text) > ALERT_CHARS:
        text = text[: ALERT_CHARS - 1] + "…"
    # Last resort: when even the message box fails there is nowhere left to report to.
    with contextlib.suppress(Exception):
        book.app.alert(text, title=TITLE, buttons="ok", mode="critical" if critical else "info")


def _progress(book: xw.Book, action: str) -> Callable[[str, float], None]:
    def progress(step: str, fraction: float) -> None:
        _status(book, f"{action}: {step} ({fraction:.0%})")

    return progress


def _sheet_names(book: xw.Book) -> list[str]:
    return [s.name for s in book.sheets]


def read_rows(sheet: Any) -> list[list[Any]]:
    """All values of ``sheet`` from A1 to its last used cell, in one bulk read.

    Returns rows as :func:`xlcrm.book.sheets.table_from_rows` takes them (``""`` for blank),
    so the command's reader and this one build their tables with the same code.
    """
    return [["" if v is None else v for v in row] for row in read_grid(sheet)]


def read_grid(sheet: Any) -> list[list[Any]]:
    """All values of ``sheet`` from A1 to its last used cell: ``None`` for blank, 2-D always.

    Reading from A1 (not from the used range's corner) keeps sheet rows and columns where
    the settings reader and the problem addresses expect them.
    """
    last = sheet.used_range.last_cell
    values = sheet.range((1, 1), (last.row, last.column)).options(ndim=2).value
    return [list(row) for row in values or [[None]]]


def _rectangle(rows: Sequence[Sequence[Any]]) -> list[list[Any]]:
    """Pad ragged rows (blank lines, dashboard blocks) so one write covers the block."""
    width = max((len(r) for r in rows), default=0) or 1
    return [list(r) + [None] * (width - len(r)) for r in rows] or [[None]]


# --------------------------------------------------------------------------------------------
# The shared path: read, analyse, lay out


def read_inputs(book: xw.Book) -> tuple[Ledger, Any]:
    """The ledger and settings of the open ``book`` (one bulk read per sheet, no writes).

    Raises
    ------
    InputError
        When the workbook has no Customers sheet, or a ledger or settings sheet cannot be
        used (as the command would report it).
    """
    return inputs_from_sheets(
        _sheet_names(book),
        lambda sheet: table_from_rows(
            sheet, read_rows(book.sheets[sheet]), text_columns=LEDGER_TEXT_COLUMNS
        ).frame,
        lambda sheet: read_grid(book.sheets[sheet]),
    )


def read_history_table(book: xw.Book) -> SheetTable | None:
    """The SegmentHistory sheet of the open ``book`` as a table (``None``: no sheet; a table
    without columns: a blank sheet, which the run fills)."""
    name = next((n for n in _sheet_names(book) if n.casefold() == schema.HISTORY.casefold()),
                None)
    if name is None:
        return None
    return table_from_rows(name, read_rows(book.sheets[name]),
                           text_columns=[schema.CUSTOMER_ID])


def analyse_book(book: xw.Book, *, action: str = "Resegment",
                 history: SheetTable | None = None) -> Results:
    """Read the open ``book`` and run the command's analysis on it; writes nothing.

    ``history``: the SegmentHistory sheet as :func:`read_history_table` gives it, compared
    with as the command does (every customer is ``new`` without it)."""
    progress = _progress(book, action)
    progress("Reading the ledger and settings", 0.0)
    ledger, settings = read_inputs(book)
    checked = None if history is None or not history.columns else read_history(
        history.frame, history.columns, header_row=history.header_row, sheet=history.sheet)
    return analyse(ledger, settings, progress=progress, history=checked)


def write_history(book: xw.Book, table: SheetTable | None, update: HistoryUpdate | None
                  ) -> None:
    """Record the run on SegmentHistory as the command does: appended below the last row
    (one write), the sheet rewritten when retention drops old runs, added on the first run."""
    if update is None or not update.record:
        return
    blank = table is None or not table.columns
    columns = list(schema.HISTORY_COLUMNS) if blank else list(table.columns)
    new = [[_excel_value(v) for v in row]
           for row in frame_rows(update.rows[[c for c in columns if c in update.rows]],
                                 header=False)]
    if blank:
        if table is None:
            names = _sheet_names(book)
            sheet = book.sheets.add(schema.HISTORY, after=book.sheets[len(names) - 1])
        else:
            sheet = book.sheets[table.sheet]
        sheet["A1"].value = [columns, *new]
        return
    sheet = book.sheets[table.sheet]
    first_col = min(table.columns.values())
    if update.keep is None:
        last = max([table.header_row, *map(int, table.frame.index)])
        sheet.range((last + 1, first_col + 1)).value = _rectangle(new)
        return
    kept = table.frame.loc[update.keep, columns]
    sheet.clear_contents()
    sheet.range((table.header_row, first_col + 1)).value = _rectangle(
        [columns, *([_excel_value(v) for v in row] for row in frame_rows(kept, header=False)),
         *new])


def _excel_value(value: Any) -> Any:
    """What xlwings writes for a cell: a formula as its ``=text``, anything else as is."""
    return f"={value.text}" if isinstance(value, Formula) else value


def write_results(
    book: xw.Book, sheets: Mapping[str, pd.DataFrame | Sequence[Sequence[Any]]]
) -> None:
    """Replace the contents of each result sheet with its rows: one write per sheet.

    ``sheets`` is what :func:`xlcrm.report.result_sheets` gives: per sheet a table (header
    row = its columns, laid out by :func:`xlcrm.report.frame_rows`, as the file writer
    does) or rows. Only names in :data:`xlcrm.schema.RESULT_SHEETS` are written; a missing
    one is added at the end of the book. All rows are laid out before the first write, so
    a failure leaves every sheet as it was.
    """
    blocks = {}
    for name, content in sheets.items():
        if name not in schema.RESULT_SHEETS:
            raise ValueError(f"{name!r} is not a result sheet; xlcrm writes only result sheets")
        rows = frame_rows(content) if isinstance(content, pd.DataFrame) else content
        blocks[name] = _rectangle([[_excel_value(v) for v in row] for row in rows])
    names = _sheet_names(book)
    for name, block in blocks.items():
        if name in names:
            sheet = book.sheets[name]
            sheet.clear_contents()
        else:
            sheet = book.sheets.add(name, after=book.sheets[len(names) - 1])
            names.append(name)
        sheet["A1"].value = block


def _problem_lines(problems: Sequence[Problem]) -> str:
    first = sorted(problems, key=lambda p: SEVERITY_ORDER[p.severity])[:ALERT_PROBLEMS]
    lines = [f"• {p}" for p in first]
    if len(problems) > ALERT_PROBLEMS:
        lines.append(f"… and {len(problems) - ALERT_PROBLEMS} more.")
    return "\n".join(lines)


def _summary(results: Results) -> str:
    text = (
        f"Resegmented {results.customers:,} customers at {results.stamp:%Y-%m-%d %H:%M}.\n"
        f"Results are on the {', '.join(schema.RESULT_SHEETS)} sheets."
    )
    if results.problems:
        text += (
            f"\n\n{counts_text(results.problems)}, listed on the "
            f"{schema.PROBLEMS} sheet:\n" + _problem_lines(results.problems)
        )
    return text


def _unexpected(book: xw.Book, what: str, exc: Exception) -> None:
    _alert(
        book,
        f"{what} stopped: {type(exc).__name__}: {exc}\n\nNothing was written. "
        "Please send this message and the workbook to your analyst.",
        critical=True,
    )


# --------------------------------------------------------------------------------------------
# Ribbon actions


def resegment(book: xw.Book | None = None) -> Results | None:
    """Score and segment the open workbook and rewrite its result sheets.

    Reads the ledger and settings sheets (one bulk read each), runs the same analysis as
    ``xlcrm resegment`` and writes Scores, Segments, Dashboard and Problems (one bulk write
    each), then appends the run to SegmentHistory (:func:`write_history`); no ledger or
    settings sheet is touched. On input that makes the run impossible
    nothing is written and the first problems are shown.

    Parameters
    ----------
    book : xlwings.Book, optional
        The workbook; the one calling through ``RunPython`` when omitted.

    Returns
    -------
    Results or None
        The run's results, ``None`` when it stopped (the message box says why).
    """
    book = _book(book)
    try:
        history = read_history_table(book)
        results = analyse_book(book, action="Resegment", history=history)
        _status(book, "Resegment: writing result sheets")
        sheets = result_sheets(results, source=book.name)
        write_results(book, sheets)
        write_history(book, history, results.history)
    except InputError as exc:
        _alert(
            book,
            "Resegment stopped; the result sheets were not changed.\n\n"
            + _problem_lines(exc.problems),
            critical=True,
        )
        return None
    except Exception as exc:  # noqa: BLE001 - no traceback may reach Excel
        _unexpected(book, "Resegment", exc)
        return None
    finally:
        _status(book, False)
    _alert(book, _summary(results))
    return results


def check(book: xw.Book | None = None) -> list[Problem] | None:
    """List every problem ``resegment`` would find in the open workbook.

    The analysis runs as ``xlcrm check`` runs it; the problems go to the Problems sheet
    (each with a link to its cell) and the first few to a message box. No other sheet
    changes: Scores, Segments, Activity and Dashboard keep the last run's results.

    Returns
    -------
    list of Problem or None
        The problems (empty when the input is clean), ``None`` on an unexpected failure.
    """
    book = _book(book)
    try:
        problems = analyse_book(book, action="Check", history=read_history_table(book)).problems
    except InputError as exc:
        problems = list(exc.problems)
    except Exception as exc:  # noqa: BLE001 - no traceback may reach Excel
        _unexpected(book, "Check", exc)
        return None
    finally:
        _status(book, False)
    try:
        write_results(book, {schema.PROBLEMS: problems_sheet(problems, datetime.now())})
    except Exception as exc:  # noqa: BLE001 - no traceback may reach Excel
        _unexpected(book, "Check", exc)
        return None
    if problems:
        errors = sum(p.severity == "error" for p in problems)
        _alert(
            book,
            f"{counts_text(problems)}, all listed on the "
            f"{schema.PROBLEMS} sheet:\n" + _problem_lines(problems),
            critical=errors > 0,
        )
    else:
        _alert(book, "No problems found: the workbook is ready to resegment.")
    return problems


def _saved_file(book: xw.Book) -> Path | None:
    """The workbook's file on this computer, ``None`` when it has none (never saved,
    stored online only, or the remote engine, which sees no file)."""
    try:
        name = book.fullname
    except Exception:  # noqa: BLE001 - a book without a resolvable path has no file here
        return None
    path = Path(name) if isinstance(name, str) and "://" not in name else None
    return path if path is not None and path.is_absolute() and path.is_file() else None


def _unsaved_changes(book: xw.Book) -> bool:
    """True when Excel says the workbook has changes not yet saved (Windows: ``Saved``).

    Where the property is missing (macOS, the remote engine) the answer is "no": the copy
    is made from the saved file, as the message box then says.
    """
    try:
        saved = book.api.Saved
    except Exception:  # noqa: BLE001 - not every engine has it
        return False
    return saved is False


def _is_remote(book: xw.Book) -> bool:
    with contextlib.suppress(Exception):
        return book.app.engine.name == "remote"
    return False


def share(book: xw.Book | None = None, manager: str = "") -> Path | None:
    """Write a copy of the saved workbook to email: values only, no macros.

    ``manager`` (typed in the button's input box, which lists the managers): only that
    account manager's customers, on every sheet, with the Dashboard over them (``<name>
    (MANAGER, shareable YYYY-MM-DD).xlsx``); blank for every customer. Asks whether contact
    details are to be masked, then writes
    ``<name> (shareable YYYY-MM-DD).xlsx`` beside the workbook with
    :func:`xlcrm.book.share.make_shareable` (what ``xlcrm share`` does) and shows its path.
    The copy is made from the file on disk: with unsaved changes the action asks to save
    first and stops. On the remote engine (no file on this computer) it points to
    ``xlcrm share``.

    Returns
    -------
    Path or None
        The copy written, ``None`` when none was (the message box says why).
    """
    try:
        book = _book(book)
    except Exception:  # noqa: BLE001 - without a workbook there is nowhere to report
        return None
    try:
        source = _saved_file(book)
        if source is None:
            where = (
                "This workbook runs on xlwings Server or Lite, where there is no file on "
                "this computer to copy."
                if _is_remote(book) else
                "This workbook is not saved as a file on this computer (never saved, or "
                "stored online only)."
            )
            _alert(
                book,
                f"{where}\n\nSave it as a file, then press the button again; or have your "
                "analyst run `xlcrm share WORKBOOK --mask-contacts` on the saved file.",
            )
            return None
        if _unsaved_changes(book):
            _alert(
                book,
                "The workbook has changes that are not saved yet. The shareable copy is made "
                "from the saved file: save the workbook (Ctrl+S), then press the button again.",
            )
            return None
        answer = book.app.alert(
            "Mask contact details (Contact, Phone, Email) in the copy?\n\n"
            "Yes: they show as (masked). No: they are copied as they are.",
            title=TITLE, buttons="yes_no_cancel", mode="info",
        )
        if answer not in ("yes", "no"):
            return None
        # Imported here: the file reader needs python-calamine, which xlwings Lite lacks.
        from xlcrm.book.share import default_output, make_shareable

        manager = " ".join(str(manager or "").split())
        out = None if manager else default_output(source)
        report = make_shareable(source, out, mask_contacts=answer == "yes",
                                progress=_progress(book, "Shareable copy"),
                                manager=manager or None)
    except InputError as exc:
        _alert(book, "No copy was made.\n\n" + _problem_lines(exc.problems), critical=True)
        return None
    except Exception as exc:  # noqa: BLE001 - no traceback may reach Excel
        _unexpected(book, "Make shareable copy", exc)
        return None
    finally:
        _status(book, False)
    masked = (f"contact details masked ({report.masked_cells} cells)" if report.masked
              else "contact details NOT masked")
    computed = report.computed or "never (press Resegment first)"
    text = (
        f"Wrote the shareable copy of the workbook as last saved:\n{report.output}\n\n"
        f"Values only, no macros; {masked}. Results computed: {computed}."
        + (f"\n\n{report.customers}" if report.customers else "")
    )
    if report.warnings:
        text += "\n\n" + "\n".join(f"• {w}" for w in report.warnings[:ALERT_PROBLEMS])
    _alert(book, text)
    return report.output


def _runs(cells: Sequence[tuple[int, int]]) -> list[tuple[int, int, int]]:
    """(row, first col, last col) runs of horizontally adjacent cells (0-based)."""
    runs: list[tuple[int, int, int]] = []
    for r, c in sorted(cells):
        if runs and runs[-1][0] == r and runs[-1][2] == c - 1:
            runs[-1] = (r, runs[-1][1], c)
        else:
            runs.append((r, c, c))
    return runs


def _formats_of(sheets: Sequence[tuple[str, Sequence[Sequence[Any]]]]) -> None:
    """Refuse before anything is written when a sheet has no block to take formats from
    (a rater sheet typed over by hand would otherwise stop the sync half done)."""
    from xlcrm.book.sync_judgments import prototype_cells

    for name, grid in sheets:
        if not prototype_cells(grid):
            raise InputError(
                f"the {name} sheet has no block laid out as the template does, to take its "
                "formats and drop-downs from",
                fix="Close the workbook and run `xlcrm sync-judgments WORKBOOK`, which builds "
                "the sheet from the template.",
                sheet=name,
            )


def _rebuild_judgments(sheet: Any, old: Sequence[Sequence[Any]], plan: Any) -> None:
    """Lay the open Judgments sheet out anew: formats, drop-downs and CR colours copied
    from the old sheet's own cells of each kind, then the values and formulas in one write.

    The prototypes are first copied to a parking row below both layouts (so that clearing
    the old cells cannot take them), in the columns where the CR cell and its verdict sit
    side by side as in a block (the verdict's colour rule refers to the cell on its left).
    """
    from xlcrm.book.sync_judgments import CELL_KINDS, cell_kinds, live_cells, prototype_cells

    protos = prototype_cells(old)
    if not protos:
        raise InputError(
            "the Judgments sheet has no block laid out as the template does, to take its "
            "formats and drop-downs from",
            fix="Close the workbook and run `xlcrm sync-judgments WORKBOOK`, which builds "
            "the sheet from the template.",
            sheet=schema.JUDGMENTS,
        )
    cells = live_cells(plan)
    kinds = cell_kinds(plan.hierarchy)
    rows = 1 + max(r for r, _ in cells)
    cols = 1 + max(c for _, c in [*cells, *kinds])
    park = max(rows, len(old)) + 5  # 0-based parking row
    for kind, (r, c) in protos.items():
        sheet.range((r + 1, c + 1)).copy(sheet.range((park + 1, CELL_KINDS.index(kind) + 1)))
    old_cols = max((len(r) for r in old), default=1)
    sheet.range((1, 1), (park, max(cols, old_cols))).clear()
    by_kind: dict[str, list[tuple[int, int]]] = {}
    for cell, kind in kinds.items():
        by_kind.setdefault(kind, []).append(cell)
    for kind, where in by_kind.items():
        source = sheet.range((park + 1, CELL_KINDS.index(kind) + 1))
        for r, c0, c1 in _runs(where):
            source.copy(sheet.range((r + 1, c0 + 1), (r + 1, c1 + 1)))
    grid = [[cells.get((r, c)) for c in range(cols)] for r in range(rows)]
    sheet.range((1, 1)).value = grid
    sheet.range((park + 1, 1), (park + 1, len(CELL_KINDS))).clear()


def sync_judgments(book: xw.Book | None = None, renames: str = "") -> Any:
    """Rebuild the open workbook's Judgments sheet from its Indicators sheet.

    What ``xlcrm sync-judgments`` does to a file (:mod:`xlcrm.book.sync_judgments`): every
    judgment whose two names are still in the same block is kept as typed, new pairs are
    left blank; here on the open workbook, through xlwings. ``renames`` is what the analyst
    typed in the button's input box: ``Old=New`` pairs separated by ``;``.

    Returns
    -------
    SyncPlan or None
        What was kept and what is new, ``None`` when nothing was written (the message box
        says why).
    """
    from xlcrm.book.sync_judgments import hierarchy_from_grid, parse_renames, plan_sync

    book = _book(book)
    try:
        names = {n.casefold(): n for n in _sheet_names(book)}
        missing = [s for s in (schema.INDICATORS, schema.JUDGMENTS) if s.casefold() not in names]
        if missing:
            raise InputError(f"this workbook has no {' or '.join(missing)} sheet",
                             fix="Copy the sheet from the xlcrm template.")
        sheet = book.sheets[names[schema.JUDGMENTS.casefold()]]
        hierarchy = hierarchy_from_grid(read_grid(book.sheets[names[schema.INDICATORS.casefold()]]))
        old = read_grid(sheet)
        pairs = [p for p in re.split(r"[;\n]", renames or "") if p.strip()]
        plan = plan_sync(hierarchy, old, renames=parse_renames(pairs))
        # Every rater's copy ("Judgments <rater>") follows the hierarchy too.
        raters = {name: (book.sheets[name], read_grid(book.sheets[name]))
                  for name in schema.rater_sheets(_sheet_names(book)) if name != schema.JUDGMENTS}
        plans = {name: plan_sync(hierarchy, grid, renames=parse_renames(pairs))
                 for name, (_, grid) in raters.items()}
        if plan.unchanged and all(p.unchanged for p in plans.values()):
            _alert(book, "The Judgments sheet already matches the Indicators sheet: nothing "
                   "to do.")
            return plan
        _formats_of([(schema.JUDGMENTS, old)] + [(n, g) for n, (_, g) in raters.items()])
        _status(book, "Sync judgments: rebuilding the Judgments sheet")
        _rebuild_judgments(sheet, old, plan)
        for name, other in plans.items():
            if not other.unchanged:
                _rebuild_judgments(raters[name][0], raters[name][1], other)
    except InputError as exc:
        _alert(book, "The Judgments sheet was not changed.\n\n" + _problem_lines(exc.problems),
               critical=True)
        return None
    except Exception as exc:  # noqa: BLE001 - no traceback may reach Excel
        _unexpected(book, "Sync judgments", exc)
        return None
    finally:
        _status(book, False)
    lines = "\n".join(f"• {line}" for line in plan.summary_lines())
    for name, other in plans.items():
        lines += f"\n{name}:\n" + "\n".join(f"• {line}" for line in other.summary_lines())
    _alert(book, "Rebuilt the Judgments sheet from the Indicators sheet:\n" + lines
           + ("\n\nType the new judgments in the yellow cells (blank ones are estimated "
              "meanwhile), then Check. " if plan.blank_pairs else "\n\n")
           + "Save the workbook (Ctrl+S) to keep the change.")
    return plan


# Text Excel would turn into a number, a date or a formula when written as a value.
_COERCIBLE = re.compile(r"^\s*([=+\-@]|[\d.,\s]+$|\d{1,4}[-/.]\d{1,2}([-/.]\d{1,4})?\s*$)")


def _as_typed(value: Any) -> Any:
    """A value for xlwings to write that Excel keeps as it is: text that looks like a
    number, a date or a formula gets Excel's text prefix (``'``), so "00123" stays."""
    value = clean(value)
    if isinstance(value, str) and _COERCIBLE.match(value):
        return "'" + value
    return value


@dataclass
class _Append:
    """Where new rows go on one sheet, decided (and checked) before anything is written."""

    sheet: Any
    table: SheetTable
    rows: pd.DataFrame
    excel_table: Any
    first: int  # first sheet row written (1-based)
    table_last: int  # the Excel Table's last row before (a table sized ahead stays so)

    @property
    def last(self) -> int:
        return self.first + len(self.rows) - 1


def _plan_append(book: xw.Book, sheet_name: str, table: SheetTable,
                 rows: pd.DataFrame, numeric_ids: bool) -> _Append:
    """Below the last row of ``table``, in its Excel Table (found by header row) if any.

    ``numeric_ids``: the sheet's CustomerIDs are numbers, so whole-number IDs go in as
    numbers (as ``xlcrm import-transactions`` writes them).

    Raises
    ------
    InputError
        When the Excel Table has a totals row (new rows would have to go above it), or
        values stand below the Excel Table (new rows would land among them).
    """
    if numeric_ids and schema.CUSTOMER_ID in rows.columns:
        rows = rows.assign(**{schema.CUSTOMER_ID: numbers_where_whole(rows[schema.CUSTOMER_ID])})
    sheet = book.sheets[sheet_name]
    first_col = min(table.columns.values())
    excel_table = None
    for t in sheet.tables:
        header = t.header_row_range
        if header is not None and header.row == table.header_row and \
                header.column <= first_col + 1 <= header.column + header.shape[1] - 1:
            excel_table = t
            break
    if excel_table is not None and excel_table.show_totals:
        raise InputError(
            f"the table {excel_table.name} on {sheet_name} has a totals row, and new rows "
            "would have to go above it",
            fix="Turn the totals row off (Table Design > Total Row), import, then turn it on "
            "again.", sheet=sheet_name)
    last = max([table.header_row, *map(int, table.frame.index)])
    table_last = excel_table.range.last_cell.row if excel_table is not None else last
    if last > table_last:
        raise InputError(
            f"sheet {sheet_name} has values in row {last}, below the table "
            f"{excel_table.name} (which ends at row {table_last}); new rows would land among "
            "them",
            fix="Include those rows in the table (Table Design > Resize Table) or move them "
            "elsewhere, then run again.", sheet=sheet_name, cell=f"A{last}")
    return _Append(sheet, table, rows, excel_table, last + 1, table_last)


def _ids_are_numbers(table: SheetTable, rows: Sequence[Sequence[Any]]) -> bool:
    """Whether the last CustomerID on the sheet is a number (as read, before any text)."""
    col = table.columns.get(schema.CUSTOMER_ID)
    if col is None or not len(table.frame):
        return False
    value = rows[int(table.frame.index[-1]) - 1][col]
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _write_append(a: _Append) -> None:
    """One write of the rows, then the Excel Table grown over them."""
    first_col = min(a.table.columns.values())
    last_col = max(a.table.columns.values())
    grid = [[None] * (last_col - first_col + 1) for _ in range(len(a.rows))]
    for name in a.rows.columns:
        j = a.table.columns[name] - first_col
        for i, v in enumerate(a.rows[name].tolist()):
            grid[i][j] = _as_typed(v)
    a.sheet.range((a.first, first_col + 1)).value = grid
    if a.excel_table is not None:
        header = a.excel_table.header_row_range
        a.excel_table.resize(a.sheet.range((a.table.header_row, header.column),
                                           (max(a.last, a.table_last),
                                            header.column + header.shape[1] - 1)))


def import_orders(
    path: str | None = None,
    book: xw.Book | None = None,
    *,
    add_missing_customers: bool | None = None,
) -> ImportPlan | None:
    """Append the orders of an ERP export (CSV) to the Transactions sheet of the open book.

    What ``xlcrm import-transactions`` does to the file, done on the open workbook (which
    the command cannot replace while Excel has it open): the same reading of the export
    (:func:`xlcrm.book.csv_import.prepare_import`: headers, dates and amounts in common formats,
    lines already in Transactions skipped, copies counted, every rejected row with its
    line), then one write of the new rows below the Transactions table, which grows with
    them. Unknown customers: the user is
    asked whether to add them to Customers (``add_missing_customers`` answers in advance).
    Nothing else changes; the results stay as they are until Resegment.

    Parameters
    ----------
    path : str
        The export file (the ribbon's button asks for it).
    book : xlwings.Book, optional
        The workbook; the one calling through ``RunPython`` when omitted.
    add_missing_customers : bool, optional
        Add unknown CustomerIDs to Customers (``True``), reject their rows (``False``), or
        ask (``None``).

    Returns
    -------
    ImportPlan or None
        What was appended, ``None`` when nothing was (the message box says why).
    """
    book = _book(book)
    try:
        if not path:
            _alert(book, "Choose the export file (CSV) to import with the Import orders "
                   "button.")
            return None
        source = Path(path)
        try:
            data = source.read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read {source}: {exc.strerror or exc}",
                             fix="Check the file name and folder.") from exc
        names = _sheet_names(book)
        for needed in (schema.TRANSACTIONS, schema.CUSTOMERS):
            if needed not in names:
                raise InputError(f"the workbook has no {needed} sheet",
                                 fix="Start from the xlcrm template.", sheet=needed)
        _status(book, "Import orders: reading the sheets")
        text_id = [schema.CUSTOMER_ID]
        tx_rows = read_rows(book.sheets[schema.TRANSACTIONS])
        customer_rows = read_rows(book.sheets[schema.CUSTOMERS])
        tx = table_from_rows(schema.TRANSACTIONS, tx_rows, text_columns=text_id)
        customers = table_from_rows(schema.CUSTOMERS, customer_rows, text_columns=text_id)
        if schema.CUSTOMER_ID not in customers.columns:
            raise InputError(f"the {schema.CUSTOMERS} sheet has no {schema.CUSTOMER_ID} column",
                             fix=f"Put the header {schema.CUSTOMER_ID} in row 1.",
                             sheet=schema.CUSTOMERS)
        known = customers.frame[schema.CUSTOMER_ID].tolist()
        _status(book, "Import orders: checking the rows")
        parsed, plan = prepare_import(data, source.name, tx.frame, known,
                                      add_missing_customers=True)
        new = plan.new_customers
        if len(new) and add_missing_customers is None:
            ids = ", ".join(new[schema.CUSTOMER_ID].head(5).tolist())
            answer = book.app.alert(
                f"{len(new)} customer(s) of the export are not on the {schema.CUSTOMERS} sheet"
                f" ({ids}{', ...' if len(new) > 5 else ''}).\n\nYes: add them (with blank "
                "indicators) and import their orders. No: leave their orders out.",
                title=TITLE, buttons="yes_no_cancel", mode="info",
            )
            if answer not in ("yes", "no"):
                return None
            add_missing_customers = answer == "yes"
        if len(new) and not add_missing_customers:
            plan = plan_for_sheet(parsed, tx.frame, known)
        if not len(plan.rows):
            _alert(book, f"Nothing to import from {source.name}: the workbook was not changed."
                   f"\n\n{_import_summary(parsed, plan)}")
            return None
        _status(book, f"Import orders: writing {len(plan.rows):,} rows")
        # Every placement is checked before the first write: all or nothing.
        appends = [_plan_append(book, schema.TRANSACTIONS, tx, plan.rows.reset_index(drop=True),
                                _ids_are_numbers(tx, tx_rows))]
        if len(plan.new_customers):
            appends.append(_plan_append(
                book, schema.CUSTOMERS, customers,
                plan.new_customers[[c for c in plan.new_customers.columns
                                    if c in customers.columns]],
                _ids_are_numbers(customers, customer_rows)))
        for a in appends:
            _write_append(a)
        first, last = appends[0].first, appends[0].last
    except InputError as exc:
        _alert(book, "Nothing was imported.\n\n" + _problem_lines(exc.problems),
               critical=True)
        return None
    except Exception as exc:  # noqa: BLE001 - no traceback may reach Excel
        _unexpected(book, "Import orders", exc)
        return None
    finally:
        _status(book, False)
    where = f"row {first}" if first == last else f"rows {first}-{last}"
    details = _import_summary(parsed, plan)
    _alert(book, f"Imported {len(plan.rows):,} of {parsed.records:,} rows from {source.name} "
           f"into {schema.TRANSACTIONS} ({where}).\n" + (f"{details}\n" if details else "")
           + "\nPress Resegment to update the results.")
    return plan


def _import_summary(parsed: Any, plan: ImportPlan) -> str:
    lines = []
    if plan.duplicates:
        lines.append(f"Skipped {plan.duplicates:,} line(s) already in {schema.TRANSACTIONS} "
                     "(identical lines in the file are separate orders and are all kept).")
    if len(plan.new_customers):
        lines.append(f"Added {len(plan.new_customers)} customer(s) to {schema.CUSTOMERS}: fill "
                     "in their indicators.")
    bad = plan.rejected_lines
    if bad:
        lines.append(f"Rejected {len(bad)} row(s), not imported (correct them in the file and "
                     "import it again; lines already imported are recognised and skipped):")
        lines.extend(f"• {r}" for r in plan.rejected[:ALERT_PROBLEMS])
        if len(plan.rejected) > ALERT_PROBLEMS:
            lines.append(f"… and {len(plan.rejected) - ALERT_PROBLEMS} more.")
    lines.extend(f"Note: {n}." for n in parsed.notes)
    return "\n".join(lines)


def help(book: xw.Book | None = None) -> None:  # noqa: A001 - the ribbon button's name
    """Activate the Help sheet (a message box when the workbook has none)."""
    try:
        book = _book(book)
        if schema.HELP in _sheet_names(book):
            book.sheets[schema.HELP].activate()
        else:
            _alert(book, f"This workbook has no sheet named {schema.HELP}.")
    except Exception as exc:  # noqa: BLE001 - no traceback may reach Excel
        _unexpected(book, "Help", exc)
