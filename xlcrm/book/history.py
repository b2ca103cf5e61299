"""The History sheet in the workbook file: read it, and record a run with the result sheets.

History is the one ledger-like sheet xlcrm writes (docs/ARCHITECTURE.md). A run's rows are
appended by :func:`xlcrm.book.append.append_rows` after the result sheets are written: the
earlier History rows keep their bytes, like a Transactions import. Only when the retention
option drops old runs (:func:`xlcrm.operations.history.plan_update`) is the sheet's cell
data rewritten, with the kept rows' values as read; the first run adds the sheet.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from xlcrm import schema
from xlcrm.book.append import append_rows
from xlcrm.book.history_append import appended_history, drop_and_append
from xlcrm.book.history_scan import scan_history
from xlcrm.book.read import Workbook
from xlcrm.book.save import safe_replace
from xlcrm.book.sheet_worker import SheetWorker
from xlcrm.book.sheets import analyse
from xlcrm.book.write import Block, OldSheets, SheetContent, SheetData, write_result_sheets
from xlcrm.book.zip_members import Member
from xlcrm.errors import InputError, Problem
from xlcrm.operations.history import (
    History,
    HistoryUpdate,
    customers_by,
    empty_history,
    plan_update,
    read_history,
    rows_of,
)
from xlcrm.pipeline import Progress

HISTORY_WIDTHS = {0: 17, 1: 11, 2: 14, 3: 6, 4: 5, 5: 8, 6: 10, 7: 8}


@dataclass
class HistorySheet:
    """History as read from the file, and where its cells are."""

    history: History
    exists: bool
    sheet: str = schema.HISTORY
    header_row: int = 1


def read_history_sheet(book: Workbook, *, whole: bool = False) -> HistorySheet:
    """The History sheet of ``book`` checked (an empty one when the sheet is missing or
    blank: the run then adds it).

    The sheet is read in part where it has the shape xlcrm writes
    (:mod:`xlcrm.book.history_scan`: the dates of every row now, the cells of a run when it
    is asked for), else, or with ``whole``, every cell at once; both give the same History.
    """
    names = {n.casefold(): n for n in book.sheet_names}
    name = names.get(schema.HISTORY.casefold())
    if name is None:
        return HistorySheet(empty_history(), exists=False)
    if not whole:
        history = scan_history(book, name)
        if history is not None:
            return HistorySheet(history, exists=True, sheet=name, header_row=1)
    table = book.read_sheet(name, text_columns=[schema.CUSTOMER_ID])
    if not len(table.columns) and not len(table.frame):
        return HistorySheet(empty_history(), exists=False, sheet=name)
    in_table = book.ledger_table(name, schema.CUSTOMER_ID) is not None
    history = read_history(table.frame, table.columns, header_row=table.header_row,
                           sheet=name, in_table=in_table)
    return HistorySheet(history, exists=True, sheet=name, header_row=table.header_row)


def _whole_sheet(rows: pd.DataFrame, new: bool) -> SheetData:
    # appendable: the next run appends without compressing these rows again
    return SheetData([Block(rows)], freeze_rows=1, autofilter=True,
                     widths=HISTORY_WIDTHS if new else None, appendable=True)


def write_with_history(
    book: Workbook | bytes, target: Path, sheets: dict[str, SheetContent], state: HistorySheet,
    update: HistoryUpdate | None, *, old_sheets: OldSheets | None = None,
    worker: SheetWorker | None = None,
) -> None:
    """Write the result ``sheets`` into ``target`` and record the run on History.

    Appends when the sheet exists and retention drops nothing (earlier rows byte for byte);
    rewrites History with the kept rows and the new ones when retention drops old runs;
    adds the sheet on the first run. Nothing is recorded when ``update.record`` is false.
    ``old_sheets``: the result sheets' old parts, read ahead (see
    :class:`xlcrm.book.write.OldSheets`); ``worker``: a second process for the largest sheet
    (:mod:`xlcrm.book.sheet_worker`).
    """
    if update is None or not update.record:
        write_result_sheets(book, target, sheets, owned=schema.RESULT_SHEETS,
                            old_sheets=old_sheets, worker=worker)
        return
    history = state.history
    source = book.data if isinstance(book, Workbook) else bytes(book)
    columns = [c for c in history.columns if c in update.rows.columns]
    if state.exists and update.keep is not None:
        dropped = _dropped_rows(history, update.keep, state.header_row)
        kept = None if dropped is None else drop_and_append(
            source, state.sheet, dropped[:2], dropped[2], update.rows[columns],
            history.positions, state.header_row)
        if kept is not None:
            write_result_sheets(kept, target, sheets, owned=schema.RESULT_SHEETS,
                                old_sheets=old_sheets, worker=worker)
            return
    if not state.exists or update.keep is not None:
        old = rows_of(history, update.keep)[list(history.columns)] if state.exists \
            else update.rows.iloc[:0]
        rows = pd.concat([old, update.rows[list(history.columns or schema.HISTORY_COLUMNS)]],
                         ignore_index=True) if len(old) else \
            update.rows[list(history.columns or schema.HISTORY_COLUMNS)]
        whole = {**sheets, state.sheet: _whole_sheet(rows, not state.exists)}
        write_result_sheets(book, target, whole, owned=(*schema.RESULT_SHEETS, state.sheet),
                            old_sheets=old_sheets, worker=worker)
        return
    rows = update.rows[columns]
    # History's part with this run's rows, keeping the earlier runs' compressed bytes where
    # the part allows it (xlcrm.book.history_append), made while the worker makes the
    # largest result sheet, and written with the result sheets: one file.
    made: dict[str, Member] = {}

    def appended() -> dict[str, Member]:
        parts = appended_history(source, state.sheet, rows, history.positions,
                                 state.header_row) or {}
        if len(parts) == 1:  # History's part alone: put in whole, or not at all
            made.update(parts)
        return made

    report = write_result_sheets(book, target, sheets, owned=schema.RESULT_SHEETS,
                                 old_sheets=old_sheets, worker=worker, meanwhile=appended)
    if made and set(made) <= set(report.substituted):
        return
    data = Path(target).read_bytes()  # (an edit of the result sheets came in the way)
    append_rows(data, target, {state.sheet: rows}, headers={state.sheet: dict(history.positions)},
                header_rows={state.sheet: state.header_row}, flushed=[state.sheet])


def _dropped_rows(history: History, keep: np.ndarray, header_row: int
                  ) -> tuple[int, int, int] | None:
    """The first and last sheet row retention drops and the sheet's last row, when they are
    one stretch of a sheet read in part whose rows follow each other without a gap (then the
    rows can be dropped from the XML, :func:`xlcrm.book.history_append.drop_and_append`)."""
    rows = history.frame.index.to_numpy(dtype=np.int64)
    gone = rows[~np.asarray(keep, dtype=bool)]
    if history.load is None or not len(gone) or not len(rows) or \
            rows[0] != header_row + 1 or (np.diff(rows) != 1).any() or \
            int(gone[-1] - gone[0]) + 1 != len(gone):
        return None
    return int(gone[0]), int(gone[-1]), int(rows[-1])


@dataclass
class BackfillReport:
    """What :func:`backfill_file` did."""

    workbook: Path
    days: list[date]
    """The as-of days computed (days already on History are skipped)."""
    skipped: list[date]
    """Days History had a run for already."""
    rows: int
    """History rows written (runs retention dropped at once not counted)."""
    customers: dict[date, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    """Problems of the History sheet and its retention (not those of each past run)."""
    written: bool = False
    backup: Path | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "workbook": str(self.workbook),
            "days": [d.isoformat() for d in self.days],
            "skipped": [d.isoformat() for d in self.skipped],
            "rows": self.rows,
            "customers": {d.isoformat(): n for d, n in self.customers.items()},
            "written": self.written,
            "backup": str(self.backup) if self.backup else None,
        }


def backfill_file(
    path: Path, days: Sequence[date], *, progress: Progress | None = None, backups: int = 3,
    stamp: datetime | None = None,
) -> BackfillReport:
    """Rebuild History for past ``days`` from the order history (one ``--as-of`` run each).

    Each day is analysed as ``xlcrm resegment --as-of DAY`` would, on the customers that had
    ordered by then (:func:`xlcrm.operations.history.customers_by`); the runs' rows go to
    History in one write (the result sheets are not touched: they keep today's run). A day
    History holds a run for already is skipped, so a second backfill adds nothing.
    """
    from xlcrm.book.workbook_file import read_workbook

    report = progress or (lambda _step, _fraction: None)
    path = Path(path)
    report("Reading the workbook", 0.0)
    data = read_workbook(path)
    state = data.history or HistorySheet(empty_history(), exists=False)
    if not state.history.usable:
        raise InputError(state.history.problems)
    had = {pd.Timestamp(d).date() for d in state.history.runs["AsOf"]}
    todo = [d for d in days if d not in had]
    out = BackfillReport(path, todo, [d for d in days if d in had], 0)
    stamp = stamp or datetime.now().replace(microsecond=0)
    frames = []
    for i, day in enumerate(todo):
        share = (0.05 + 0.85 * i / len(todo), 0.85 / len(todo))
        step = f"As of {day:%Y-%m-%d} ({i + 1} of {len(todo)})"
        ledger = replace(data.ledger, customers=customers_by(
            data.ledger.customers, data.ledger.transactions, day))
        if not len(ledger.customers):
            continue
        results = analyse(ledger, data.settings, stamp=stamp, as_of=day,
                          progress=lambda _s, f, a=share, t=step: report(t, a[0] + a[1] * f))
        assert results.history is not None
        frames.append(results.history.rows)
        out.customers[day] = results.customers
    if not frames:
        report("Done", 1.0)
        return out
    rows = pd.concat(frames, ignore_index=True)
    update = plan_update(state.history, rows, data.settings.options.history_runs,
                         sheet=state.sheet)
    out.problems = [*state.history.problems, *update.problems]
    out.rows = len(update.rows) if update.record else 0
    if not update.record and update.keep is None:
        report("Done", 1.0)
        return out
    report(f"Writing {out.rows:,} History rows", 0.92)

    def write(target: Path) -> None:
        write_with_history(data.book, target, {}, state, update)

    saved = safe_replace(path, write, backups=backups, expected_stamp=data.book.stamp)
    out.written, out.backup = True, saved.backup
    report("Done", 1.0)
    return out
