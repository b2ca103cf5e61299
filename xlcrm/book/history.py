"""The History sheet in the workbook file: read it, and record a run with the result sheets.

History is the one ledger-like sheet xlcrm writes (docs/ARCHITECTURE.md). A run's rows are
appended by :func:`xlcrm.book.append.append_rows` after the result sheets are written: the
earlier History rows keep their bytes, like a Transactions import. Only when the retention
option drops old runs (:func:`xlcrm.operations.history.plan_update`) is the sheet's cell
data rewritten, with the kept rows' values as read; the first run adds the sheet.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from xlcrm import schema
from xlcrm.book.append import append_rows
from xlcrm.book.read import Workbook
from xlcrm.book.write import Block, OldSheets, SheetContent, SheetData, write_result_sheets
from xlcrm.operations.history import History, HistoryUpdate, empty_history, read_history

HISTORY_WIDTHS = {0: 17, 1: 11, 2: 14, 3: 6, 4: 5, 5: 8, 6: 10, 7: 8}


@dataclass
class HistorySheet:
    """History as read from the file, and where its cells are."""

    history: History
    exists: bool
    sheet: str = schema.HISTORY
    header_row: int = 1


def read_history_sheet(book: Workbook) -> HistorySheet:
    """The History sheet of ``book`` checked (an empty one when the sheet is missing or
    blank: the run then adds it)."""
    names = {n.casefold(): n for n in book.sheet_names}
    name = names.get(schema.HISTORY.casefold())
    if name is None:
        return HistorySheet(empty_history(), exists=False)
    table = book.read_sheet(name, text_columns=[schema.CUSTOMER_ID])
    if not len(table.columns) and not len(table.frame):
        return HistorySheet(empty_history(), exists=False, sheet=name)
    in_table = book.ledger_table(name, schema.CUSTOMER_ID) is not None
    history = read_history(table.frame, table.columns, header_row=table.header_row,
                           sheet=name, in_table=in_table)
    return HistorySheet(history, exists=True, sheet=name, header_row=table.header_row)


def _whole_sheet(rows: pd.DataFrame, new: bool) -> SheetData:
    return SheetData([Block(rows)], freeze_rows=1, autofilter=True,
                     widths=HISTORY_WIDTHS if new else None)


def write_with_history(
    book: Workbook | bytes, target: Path, sheets: dict[str, SheetContent], state: HistorySheet,
    update: HistoryUpdate | None, *, old_sheets: OldSheets | None = None,
) -> None:
    """Write the result ``sheets`` into ``target`` and record the run on History.

    Appends when the sheet exists and retention drops nothing (earlier rows byte for byte);
    rewrites History with the kept rows and the new ones when retention drops old runs;
    adds the sheet on the first run. Nothing is recorded when ``update.record`` is false.
    ``old_sheets``: the result sheets' old parts, read ahead (see
    :class:`xlcrm.book.write.OldSheets`).
    """
    if update is None or not update.record:
        write_result_sheets(book, target, sheets, owned=schema.RESULT_SHEETS,
                            old_sheets=old_sheets)
        return
    history = state.history
    if not state.exists or update.keep is not None:
        old = history.frame.loc[update.keep, list(history.columns)] if state.exists \
            else update.rows.iloc[:0]
        rows = pd.concat([old, update.rows[list(history.columns or schema.HISTORY_COLUMNS)]],
                         ignore_index=True) if len(old) else \
            update.rows[list(history.columns or schema.HISTORY_COLUMNS)]
        whole = {**sheets, state.sheet: _whole_sheet(rows, not state.exists)}
        write_result_sheets(book, target, whole, owned=(*schema.RESULT_SHEETS, state.sheet),
                            old_sheets=old_sheets)
        return
    write_result_sheets(book, target, sheets, owned=schema.RESULT_SHEETS, old_sheets=old_sheets)
    data = Path(target).read_bytes()
    columns = [c for c in history.columns if c in update.rows.columns]
    append_rows(data, target, {state.sheet: update.rows[columns]},
                headers={state.sheet: dict(history.positions)},
                header_rows={state.sheet: state.header_row})
