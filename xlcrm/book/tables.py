"""A sheet's cells as a table: the rows a reader gives, from A1, to a DataFrame.

Shared by every reader of a sheet: the workbook file (:mod:`xlcrm.book.read`) and the open
workbook in Excel or xlwings Lite (:mod:`udfs.ribbon`). Pure: no file format, no analysis, so
reading a file does not load the analysis libraries.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

import numpy as np
import pandas as pd

from xlcrm.errors import InputError, cell_address, column_letter

# --------------------------------------------------------------------------------------------
# Sheet tables


@dataclass(frozen=True)
class SheetTable:
    """A table read from a sheet: the frame and where each of its cells is.

    Attributes
    ----------
    sheet : str
        Sheet name as the workbook spells it.
    frame : pandas.DataFrame
        One column per header (in sheet order), one row per non-blank row. The index is
        the 1-based Excel row number.
    header_row : int
        1-based row of the headers.
    first_data_row : int
        1-based row just below the headers.
    columns : dict of str to int
        0-based sheet column of each header (``frame.columns`` in the same order).
    """

    sheet: str
    frame: pd.DataFrame
    header_row: int
    first_data_row: int
    columns: dict[str, int] = field(default_factory=dict)

    def address(self, row: int, column: str) -> str:
        """A1 address of the cell in Excel row ``row`` (an index label) under ``column``."""
        return cell_address(row - 1, self.columns[column])

    def column_address(self, column: str) -> str:
        """Whole-column address (``G:G``) of ``column``."""
        letter = column_letter(self.columns[column])
        return f"{letter}:{letter}"

    def header_address(self, column: str) -> str:
        """A1 address of the header cell of ``column``."""
        return cell_address(self.header_row - 1, self.columns[column])


def as_text(value: Any) -> str | None:
    """The text a cell shows for a value typed without a number format; ``None`` for blank.

    Whole numbers lose the ``.0`` that the file format gives every number (``1001.0`` ->
    ``"1001"``); other numbers use the shortest text that reads back to the same number.
    """
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value != value:
            return None
        if value.is_integer():
            return str(int(value))
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ") if value.time() != time() else value.date().isoformat()
    if isinstance(value, (date, time)):
        return value.isoformat()
    return str(value)


def _header_text(value: Any) -> str:
    text = as_text(value)
    return "" if text is None else text.strip()


# What pandas' C-level type inference says of a column, as the set of Python types in it;
# any other answer (a mix) is found one value at a time.
_INFERRED: dict[str, set[type]] = {
    "string": {str}, "floating": {float}, "integer": {int}, "mixed-integer-float": {int, float},
    "boolean": {bool}, "empty": set(),
}


def _kinds(values: np.ndarray) -> set[type]:
    """The types of the values of an object array (one C pass where they are of one kind)."""
    found = _INFERRED.get(pd.api.types.infer_dtype(values, skipna=False))
    if found is None or (found and type(values[0]) not in found):  # subclasses: look closer
        return set(map(type, values))
    return found


def _convert_column(values: np.ndarray, filled: np.ndarray, text: bool, only_text: bool
                    ) -> Any:
    """One column of raw calamine values (an object array, ``""`` for blank) to frame data.

    ``filled`` marks the non-blank cells; ``only_text``: every value is a ``str``.
    """
    if text:
        if only_text:  # as_text of each: the text itself, None for blank
            out = values.copy()
            out[~filled] = None
            return out
        return np.array([as_text(v) for v in values], dtype=object)
    kinds = _kinds(values[filled])
    if kinds and kinds <= {float, int}:
        out = values.copy()
        out[~filled] = np.nan
        return out.astype(np.float64)
    out = values.copy()
    out[~filled] = None
    if kinds and kinds <= {date, datetime}:
        return pd.array(out, dtype="datetime64[us]")
    return out


def table_from_rows(
    sheet: str,
    rows: Sequence[Sequence[Any]],
    *,
    header_row: int = 1,
    first_col: int = 0,
    last_col: int | None = None,
    last_row: int | None = None,
    text_columns: Collection[str] = (),
) -> SheetTable:
    """Build a :class:`SheetTable` from a sheet's rows as calamine returns them from A1.

    Parameters
    ----------
    sheet : str
        Sheet name (for messages and addresses).
    rows : sequence of sequences
        Cell values from A1 (``""`` for blank cells).
    header_row : int
        1-based row of the headers.
    first_col, last_col : int
        0-based column range of the table (``last_col`` inclusive; ``None``: to the end).
    last_row : int or None
        1-based last row of the table (``None``: to the end of the sheet).
    text_columns : collection of str
        Headers whose cells are read as text (see :func:`as_text`).

    Raises
    ------
    InputError
        When two columns have the same header.
    """
    if header_row < 1:
        raise ValueError(f"header_row is 1-based, got {header_row}")
    first_data_row = header_row + 1
    if len(rows) < header_row:
        return SheetTable(sheet, pd.DataFrame(), header_row, first_data_row, {})
    header = rows[header_row - 1]
    stop = len(header) if last_col is None else min(len(header), last_col + 1)
    columns: dict[str, int] = {}
    for c in range(first_col, stop):
        name = _header_text(header[c])
        if not name:
            continue
        if name in columns:
            first = cell_address(header_row - 1, columns[name])
            second = cell_address(header_row - 1, c)
            raise InputError(
                f"two columns are headed {name!r} ({first} and {second}), so it is not clear "
                "which one to use",
                fix="Rename or delete one of them.",
                sheet=sheet,
                cell=second,
            )
        columns[name] = c
    body = rows[header_row : last_row if last_row is not None else len(rows)]
    n = len(body)
    # One 2-D object array (calamine's rows are rectangular); then every step works on
    # whole columns.
    width = max(columns.values(), default=-1) + 1
    grid = np.full((n, width), "", dtype=object)
    try:
        block = np.array(body, dtype=object)
        if block.ndim != 2:
            raise ValueError("ragged")
        cut = min(width, block.shape[1])
        grid[:, :cut] = block[:, :cut]
    except ValueError:  # rows of different lengths
        for i, row in enumerate(body):
            cut = min(width, len(row))
            grid[i, :cut] = row[:cut]
    arrays = {}
    filled = {}
    only_text = {}
    keep = np.zeros(n, dtype=bool)
    for name, c in columns.items():
        values = np.ascontiguousarray(grid[:, c])
        arrays[name] = values
        kinds = _kinds(values)
        # (rows left out below are blank in every column: what is left keeps these kinds)
        only_text[name] = kinds == {str}
        if str in kinds:
            filled[name] = np.asarray(values != "", dtype=bool)
        else:  # no text at all, so no blank (calamine gives "" for blank cells)
            filled[name] = np.ones(n, dtype=bool)
        keep |= filled[name]
    rows_kept = np.flatnonzero(keep)
    index = pd.Index(rows_kept + first_data_row, name="row")
    if len(rows_kept) < n:
        arrays = {name: values[keep] for name, values in arrays.items()}
        filled = {name: mask[keep] for name, mask in filled.items()}
    text = set(text_columns)
    data = {}
    for name, values in arrays.items():
        converted = _convert_column(values, filled[name], name in text, only_text[name])
        # dtype given explicitly: pandas would otherwise turn text into its string dtype
        # (blank: NaN) and the promise of None for blank text would break.
        data[name] = pd.Series(converted, index=index, dtype=converted.dtype, copy=False)
    frame = pd.DataFrame(data, index=index, columns=list(columns))
    return SheetTable(sheet, frame, header_row, first_data_row, columns)
