"""Append rows at the end of a ledger sheet, in the workbook file, without touching anything else.

This is the only writer of ledger sheets, used by ``xlcrm import-transactions``. Like
:mod:`xlcrm.book.write` it copies the zip part by part; the parts that change are

- the worksheet part of each sheet appended to: the cells before the new rows are kept
  byte for byte (the part is only recompressed), the new rows go after the last row that
  holds a value, ``<dimension>`` grows, and data validations, conditional formats (2010
  extensions included) and ignored-error ranges that covered the table's columns from its
  first data row down to its old last row are extended to the new one (ranges that reach
  further, e.g. a whole column, or that start lower, are left as they are; so are
  sparklines, defined names and formulas that name an address);
- the sheet's Excel Table part (``xl/tables/tableN.xml``): ``ref``, its ``autoFilter`` and
  a ``sortState`` grow with the rows;
- ``xl/styles.xml`` only when a date is written into a column without a date format and the
  workbook has no plain date format yet (one ``<xf>`` appended).

A new row copies the style (``s=``) of the last data row cell by cell (so dates keep their
date format and IDs their text format); where that row has no cell, the column's style from
``<cols>``. Cells of the table that the new rows leave blank keep that style too, so what a
user types there later is formatted like the rows above. Values are written by the result
writer's cell writer: text always as inline text (``=SUM(A1)`` is shown, never run), numbers
as numbers, dates as serial numbers.

The append refuses (nothing is written) when a table has a totals row, or when the sheet has
values below the table (they would end up inside it).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import zipfile
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pandas as pd

from xlcrm import schema
from xlcrm.book import arrow_xml
from xlcrm.book.csv_import import (
    ImportOptions,
    ImportPlan,
    ParsedExport,
    numbers_where_whole,
    prepare_import,
)
from xlcrm.book.read import NS_MAIN, Package, Workbook, open_workbook
from xlcrm.book.save import safe_replace
from xlcrm.book.write import _TAG_ATTRS, _CellWriter, _col_styles, _date1904, _Styles
from xlcrm.book.zip_members import (
    Member,
    deflated,
    member,
    new_member,
    raw_member,
    write_zip_replacing,
)
from xlcrm.errors import InputError, column_index, column_letter

REL_TABLE_SUFFIX = "/table"
_CHUNK_ROWS = 5000

_REF = re.compile(r"\$?([A-Z]{1,3})\$?(\d+)")
_RANGE = re.compile(r"\$?([A-Z]{1,3})\$?(\d+)(?::\$?([A-Z]{1,3})\$?(\d+))?")


@dataclass(frozen=True)
class Area:
    """A cell range: 0-based columns, 1-based rows, inclusive."""

    first_col: int
    first_row: int
    last_col: int
    last_row: int

    @classmethod
    def parse(cls, ref: str) -> Area:
        m = _RANGE.fullmatch(ref.strip())
        if m is None:
            raise ValueError(f"not a cell range: {ref!r}")
        c0, r0 = column_index(m[1]), int(m[2])
        if m[3] is None:
            return cls(c0, r0, c0, r0)
        return cls(c0, r0, column_index(m[3]), int(m[4]))

    def __str__(self) -> str:
        first = f"{column_letter(self.first_col)}{self.first_row}"
        last = f"{column_letter(self.last_col)}{self.last_row}"
        return first if first == last else f"{first}:{last}"


@dataclass
class TableInfo:
    """An Excel Table on a sheet: its part, name, range and columns."""

    part: str
    name: str
    area: Area
    columns: tuple[str, ...]
    header_rows: int
    totals_rows: int
    calculated: tuple[str, ...]  # columns with a calculated-column formula


@dataclass(frozen=True)
class SheetAppendReport:
    """Where the rows of one sheet went."""

    sheet: str
    first_row: int
    last_row: int
    table: str | None = None
    table_ref: str | None = None
    extended: tuple[str, ...] = ()
    calculated_left_blank: tuple[str, ...] = ()


@dataclass(frozen=True)
class AppendReport:
    """What :func:`append_rows` changed; every other zip part is byte-identical.

    Attributes
    ----------
    changed : tuple of str
        Zip parts rewritten (worksheets, tables, styles).
    sheets : dict of str to SheetAppendReport
        Per sheet: the rows written, the table's new range, ranges extended.
    """

    changed: tuple[str, ...]
    sheets: dict[str, SheetAppendReport] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# Tables


def sheet_tables(pkg: Package, sheet_part: str) -> list[TableInfo]:
    """The Excel Tables on the worksheet ``sheet_part``."""
    out = []
    for rel in pkg.rels(sheet_part):
        if rel.external or not rel.type.endswith(REL_TABLE_SUFFIX):
            continue
        part = pkg.find(rel.target)
        if part is None:
            continue
        root = ElementTree.fromstring(pkg.read(part))
        ns = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""
        cols = root.find(f"{ns}tableColumns")
        names = []
        calculated = []
        for tc in cols if cols is not None else []:
            names.append(tc.get("name", ""))
            if tc.find(f"{ns}calculatedColumnFormula") is not None:
                calculated.append(tc.get("name", ""))
        out.append(TableInfo(
            part=part,
            name=root.get("displayName") or root.get("name") or part,
            area=Area.parse(root.get("ref", "A1")),
            columns=tuple(names),
            header_rows=int(root.get("headerRowCount", "1")),
            totals_rows=int(root.get("totalsRowCount", "0")),
            calculated=tuple(calculated),
        ))
    return out


def _edit_table_xml(xml: bytes, old_last: int, new_last: int) -> bytes:
    """The table part with its ``ref``, ``autoFilter`` and ``sortState`` ending at ``new_last``."""

    def grow(m: re.Match[bytes]) -> bytes:
        area = Area.parse(m.group(2).decode())
        if area.last_row != old_last:
            return m.group()
        new = Area(area.first_col, area.first_row, area.last_col, new_last)
        return m.group(1) + str(new).encode() + m.group(3)

    pattern = re.compile(
        rb'(<(?:\w+:)?(?:table|autoFilter|sortState)\b' + _TAG_ATTRS.encode()
        + rb'?\sref=")([^"]*)(")'
    )
    return pattern.sub(grow, xml)


# --------------------------------------------------------------------------------------------
# Sheet XML


@dataclass
class _SheetScan:
    """Where the cell data of a sheet part is, and its last rows."""

    prefix: bytes
    data_open: tuple[int, int]  # start and end of the <sheetData> start tag
    data_close: int  # start of </sheetData> (== data_open[1] when self-closing)
    self_closing: bool
    last_valued: int  # row number of the last row holding a value (0: none)
    last_valued_xml: bytes
    trailing: list[tuple[int, int, int]]  # blank rows after it: (row, start, end), in order


_ROW_NUMBER = re.compile(rb'\sr="(\d+)"')
_VALUED = re.compile(rb"<(?:\w+:)?(?:v|f|is)\b")
_CELL = re.compile(rb"<(?:\w+:)?c\b(" + _TAG_ATTRS.encode() + rb")>")
_CELL_REF = re.compile(rb'\sr="([A-Z]{1,3})(\d+)"')
_CELL_STYLE = re.compile(rb'\ss="(\d+)"')


def _holds_value(row_xml: bytes, ignore_cols: Collection[int]) -> bool:
    """Whether a ``<row>`` holds a value outside ``ignore_cols`` (0-based columns)."""
    if not ignore_cols:
        return _VALUED.search(row_xml) is not None
    for m in _CELL_ELEMENT.finditer(row_xml):
        ref = _CELL_REF.search(m.group(1))
        if _VALUED.search(m.group()) and (ref is None or column_index(ref.group(1))
                                          not in ignore_cols):
            return True
    return False


def _scan_sheet(xml: bytes, where: str, ignore_cols: Collection[int] = ()) -> _SheetScan:
    """Find the cell data and its last rows; a row whose only values are in ``ignore_cols``
    (a table's calculated columns: Excel fills their formula into an empty table's one row)
    counts as blank."""
    m = re.search(rb"<(\w+:)?worksheet\b", xml)
    if m is None:
        raise InputError(f"sheet {where} is not a worksheet", sheet=where,
                         fix="Give the workbook with the xlcrm ledger sheets.")
    prefix = m.group(1) or b""
    p = re.escape(prefix)
    sd = re.search(rb"<" + p + rb"sheetData\b" + _TAG_ATTRS.encode() + rb">", xml)
    if sd is None:
        raise InputError(f"sheet {where} has no cell data part", sheet=where,
                         fix="Open the workbook in Excel and save it again.")
    if sd.group().endswith(b"/>"):
        return _SheetScan(prefix, (sd.start(), sd.end()), sd.end(), True, 0, b"", [])
    close = xml.rfind(b"</" + prefix + b"sheetData>")
    if close < sd.end():
        raise InputError(f"sheet {where} is damaged (unterminated cell data)", sheet=where,
                         fix="Open the workbook in Excel and save it again.")
    row_tag = b"<" + prefix + b"row"
    end = close
    trailing: list[tuple[int, int, int]] = []
    last_valued, last_xml = 0, b""
    while True:
        i = xml.rfind(row_tag, sd.end(), end)
        if i < 0:
            break
        after = xml[i + len(row_tag): i + len(row_tag) + 1]
        if after not in (b" ", b">", b"/", b"\t", b"\n", b"\r"):
            end = i
            continue
        tag_end = xml.index(b">", i)
        number = _ROW_NUMBER.search(xml, i, tag_end)
        if number is None:
            raise InputError(
                f"sheet {where} has rows without row numbers, which xlcrm cannot append to",
                fix="Open the workbook in Excel and save it again (Excel numbers every row).",
                sheet=where,
            )
        r = int(number.group(1))
        segment = xml[i:end]
        if _holds_value(segment, ignore_cols):
            last_valued, last_xml = r, segment
            break
        trailing.append((r, i, end))
        end = i
    trailing.reverse()
    return _SheetScan(prefix, (sd.start(), sd.end()), close, False, last_valued, last_xml,
                      trailing)


_CELL_TYPE = re.compile(rb'\st="([^"]*)"')


def _holds_number(row_xml: bytes, col: int) -> bool:
    """Whether the cell of 0-based ``col`` in one ``<row>`` holds a number."""
    for m in _CELL.finditer(row_xml):
        ref = _CELL_REF.search(m.group(1))
        if ref is not None and column_index(ref.group(1)) == col:
            kind = _CELL_TYPE.search(m.group(1))
            return kind is None or kind.group(1) == b"n"
    return False


def _check_dates_fit(frame: pd.DataFrame, date1904: bool, sheet: str) -> None:
    """Refuse dates the workbook's date system cannot hold (they would become text)."""
    if not date1904:
        return
    for column in frame.columns:
        values = frame[column]
        if not pd.api.types.is_datetime64_any_dtype(values):
            continue
        early = values[values < pd.Timestamp(1904, 1, 1)]
        if len(early):
            raise InputError(
                f"{column} {early.iloc[0]:%Y-%m-%d} is before 1904, and this workbook counts "
                "dates from 1904 (the 1904 date system): such a date cannot be stored as a date",
                fix="Correct the date in the export, or turn off File > Options > Advanced > "
                "Use 1904 date system (that shifts the workbook's existing dates).",
                sheet=sheet)


def _row_styles(row_xml: bytes) -> dict[int, int | None]:
    """0-based column -> style of each cell of one ``<row>`` (``None``: the default style)."""
    out: dict[int, int | None] = {}
    for m in _CELL.finditer(row_xml):
        attrs = m.group(1)
        ref = _CELL_REF.search(attrs)
        if ref is None:
            continue
        style = _CELL_STYLE.search(attrs)
        s = int(style.group(1)) if style else 0
        out[column_index(ref.group(1))] = s or None
    return out


def _extend_ranges(tail: bytes, old_last: int, new_last: int, top: int, cols: tuple[int, int],
                   done: list[str]) -> bytes:
    """Data validations, conditional formats and ignored errors down to ``old_last``, grown.

    A range is extended when it starts at or above ``top`` (the first data row), ends at
    ``old_last`` and lies within the columns ``cols``; anything else keeps its extent.
    """
    if new_last <= old_last:
        return tail

    def grow_list(sqref: bytes, what: str) -> bytes:
        refs = sqref.decode().split()
        out = []
        for ref in refs:
            try:
                area = Area.parse(ref)
            except ValueError:
                out.append(ref)
                continue
            if (area.last_row == old_last and area.first_row <= top
                    and cols[0] <= area.first_col and area.last_col <= cols[1]):
                new = Area(area.first_col, area.first_row, area.last_col, new_last)
                done.append(f"{what} {ref} -> {new}")
                out.append(str(new))
            else:
                out.append(ref)
        return " ".join(out).encode()

    start_tag = re.compile(
        rb"<(?:\w+:)?(conditionalFormatting|dataValidation|ignoredError)\b"
        + _TAG_ATTRS.encode() + rb">")
    sqref_attr = re.compile(rb'(\ssqref=")([^"]*)(")')

    def edit_tag(m: re.Match[bytes]) -> bytes:
        what = {b"conditionalFormatting": "conditional format",
                b"dataValidation": "data validation"}.get(m.group(1), "ignored-error range")
        return sqref_attr.sub(lambda a: a.group(1) + grow_list(a.group(2), what) + a.group(3),
                              m.group())

    tail = start_tag.sub(edit_tag, tail)
    # Office 2010 extensions keep their ranges in <xm:sqref>; sparklines' are left alone.
    ext = re.compile(
        rb"<(?:\w+:)?sparkline\b.*?</(?:\w+:)?sparkline>"
        rb"|(<(?:\w+:)?sqref>)([^<]*)(</(?:\w+:)?sqref>)",
        re.S,
    )

    def edit_ext(m: re.Match[bytes]) -> bytes:
        if m.group(1) is None:
            return m.group()
        return m.group(1) + grow_list(m.group(2), "2010 format or validation") + m.group(3)

    return ext.sub(edit_ext, tail)


def _edit_dimension(head: bytes, prefix: bytes, new_last: int, cols: tuple[int, int]) -> bytes:
    pattern = re.compile(rb"(<" + re.escape(prefix) + rb'dimension\b[^>]*?\sref=")([^"]*)(")')

    def grow(m: re.Match[bytes]) -> bytes:
        try:
            area = Area.parse(m.group(2).decode())
        except ValueError:
            return m.group()
        new = Area(min(area.first_col, cols[0]), min(area.first_row, 1),
                   max(area.last_col, cols[1]), max(area.last_row, new_last))
        return m.group(1) + str(new).encode() + m.group(3)

    return pattern.sub(grow, head, count=1)


_ROW_START = re.compile(rb"<((?:\w+:)?)row\b(" + _TAG_ATTRS.encode() + rb")>")
_CELL_ELEMENT = re.compile(
    rb"<(?:\w+:)?c\b(" + _TAG_ATTRS.encode() + rb")(?:/>|>.*?</(?:\w+:)?c>)", re.S
)
_ROW_OWN_ATTRS = re.compile(rb'\s(?:r|spans)="[^"]*"')


def _merge_row(new_row: str, old_row: bytes) -> str:
    """A new ``<row>`` over a blank one that was formatted in advance.

    The old row's height and format and its cells in columns the new row leaves empty (a
    fill, a border) stay; the new row's cells win where both have one.
    """
    start = _ROW_START.match(old_row)
    if start is None:
        return new_row
    attrs = _ROW_OWN_ATTRS.sub(b"", start.group(2)).rstrip(b"/").decode()
    cells: dict[int, str] = {}
    for m in _CELL_ELEMENT.finditer(old_row, start.end()):
        ref = _CELL_REF.search(m.group(1))
        if ref is not None:
            cells[column_index(ref.group(1))] = m.group().decode()
    head, _, rest = new_row.partition(">")
    body = rest[: -len("</row>")]
    for m in _CELL_ELEMENT.finditer(body.encode()):
        ref = _CELL_REF.search(m.group(1))
        if ref is not None:
            cells[column_index(ref.group(1))] = m.group().decode()
    return f"{head}{attrs}>{''.join(cells[c] for c in sorted(cells))}</row>"


def _new_rows(writer: _CellWriter, frame: pd.DataFrame, positions: Mapping[str, int],
              first_row: int, blank_styles: Mapping[int, int], prefix: bytes,
              formatted: Mapping[int, bytes] | None = None) -> Iterator[bytes]:
    """The ``<row>`` elements of ``frame`` from ``first_row`` on, a chunk at a time.

    ``formatted`` holds the blank rows formatted in advance that the new rows land on
    (sheet row -> its ``<row>`` element); their formatting is kept (:func:`_merge_row`).
    """
    formatted = formatted or {}
    open_row = f'<row xmlns="{NS_MAIN}" r="' if prefix else '<row r="'
    order = sorted(set(positions[c] for c in frame.columns) | set(blank_styles))
    by_col = {positions[c]: c for c in frame.columns}
    for start in range(0, len(frame), _CHUNK_ROWS):
        part = frame.iloc[start: start + _CHUNK_ROWS]
        rows = range(first_row + start, first_row + start + len(part))
        made = None
        if arrow_xml.AVAILABLE and not any(r in formatted for r in rows):
            with contextlib.suppress(*arrow_xml.ERRORS):
                made = _arrow_new_rows(writer, part, order, by_col, rows, blank_styles,
                                       open_row)
        yield made if made is not None else _new_rows_text(
            writer, part, order, by_col, rows, blank_styles, open_row, formatted)


def _arrow_new_rows(writer: _CellWriter, part: pd.DataFrame, order: list[int],
                    by_col: Mapping[int, str], rows: range, blank_styles: Mapping[int, int],
                    open_row: str) -> bytes:
    """:func:`_new_rows_text` put together by Arrow (no formatted row among ``rows``)."""
    texts = arrow_xml.row_texts(rows)
    cells = []
    for col in order:
        style = blank_styles.get(col)
        blank = None if style is None else \
            arrow_xml.joined(f'<c r="{column_letter(col)}', texts, f'" s="{style}"/>')
        if col not in by_col:
            cells.append(blank)
            continue
        out = writer.arrow_cells(part[by_col[col]].reset_index(drop=True), col, rows, texts)
        if blank is not None:
            out = arrow_xml.either(arrow_xml.is_empty(out), blank, out)
        cells.append(out)
    return arrow_xml.rows_xml(open_row, texts, cells)


def _new_rows_text(writer: _CellWriter, part: pd.DataFrame, order: list[int],
                   by_col: Mapping[int, str], rows: range, blank_styles: Mapping[int, int],
                   open_row: str, formatted: Mapping[int, bytes]) -> bytes:
    """The ``<row>`` elements of one chunk of new rows, a cell at a time."""
    cells = []
    for col in order:
        letter = column_letter(col)
        style = blank_styles.get(col)
        if col in by_col:
            series = part[by_col[col]].reset_index(drop=True)
            out = writer.series(series, col, rows)
            if style is not None:
                blank = f' s="{style}"/>'
                out = [c or f'<c r="{letter}{r}"{blank}' for c, r in zip(out, rows,
                                                                      strict=True)]
        else:
            out = [f'<c r="{letter}{r}" s="{style}"/>' for r in rows]
        cells.append(out)
    text = []
    for r, row_cells in zip(rows, zip(*cells, strict=True), strict=True):
        body = "".join(row_cells)
        row = f'{open_row}{r}">{body}</row>'
        if r in formatted:
            row = _merge_row(row, formatted[r])
        if body or r in formatted:
            text.append(row)
    return "".join(text).encode("utf-8")


# --------------------------------------------------------------------------------------------
# The entry point


def _pick_table(tables: Sequence[TableInfo], columns: Sequence[str], sheet: str
                ) -> TableInfo | None:
    if not tables:
        return None
    wanted = set(columns)
    for t in tables:
        if wanted <= set(t.columns):
            return t
    if len(tables) == 1:
        return tables[0]
    raise InputError(
        f"sheet {sheet} has several Excel Tables and none has the columns "
        f"{', '.join(columns)}",
        fix=f"Keep one table on {sheet} with those headers.",
        sheet=sheet,
    )


def append_rows(
    src: Workbook | bytes,
    dst: str | os.PathLike[str],
    appends: Mapping[str, pd.DataFrame],
    *,
    headers: Mapping[str, Mapping[str, int]] | None = None,
    header_rows: Mapping[str, int] | None = None,
    flushed: Collection[str] = (),
) -> AppendReport:
    """Write ``src`` to ``dst`` with the rows of ``appends`` added at the end of their sheets.

    Parameters
    ----------
    src : Workbook or bytes
        The workbook as read (its bytes are the ones a later save checks against).
    dst : path-like
        Where to write (normally the temporary file of :func:`xlcrm.book.save.safe_replace`).
    appends : mapping of sheet name to DataFrame
        Rows to append per sheet; columns are the sheet's headers (any subset, any order),
        values typed (``str``, ``float``, ``datetime64``; ``None``/``NaN``/``NaT`` blank).
        An empty frame leaves its sheet alone.
    headers : mapping of sheet name to {header: 0-based column}, optional
        Where each header sits (as :class:`~xlcrm.book.read.SheetTable.columns` says);
        needed for a sheet without an Excel Table, else taken from the table.
    header_rows : mapping of sheet name to int, optional
        1-based header row of a sheet without a table (default 1).
    flushed : collection of str
        Sheets to write so that the next append keeps their compressed bytes
        (:func:`flushed_member`; SegmentHistory).

    Returns
    -------
    AppendReport

    Raises
    ------
    InputError
        When a sheet is missing, its table has a totals row, or the sheet holds values
        below the table (nothing is written).
    """
    data = src.data if isinstance(src, Workbook) else bytes(src)
    plan = plan_appends(data, appends, headers=headers, header_rows=header_rows,
                        flushed=flushed)
    z = plan.zip
    new = {name: (flushed_member if name in plan.flushed else new_member)(
               name, chunks, raw_member(data, z.getinfo(name)))
           for name, chunks in plan.edits.items()}
    with open(dst, "wb") as out:
        write_zip_replacing(out, data, z, new)
    return AppendReport(tuple(i.filename for i in z.infolist() if i.filename in new),
                        plan.reports)


@dataclass
class AppendPlan:
    """What :func:`append_rows` writes: the new content of each part it changes.

    Attributes
    ----------
    zip : zipfile.ZipFile
        The source workbook.
    edits : dict of str to list of bytes
        Zip part -> its new content in chunks. A worksheet's chunks are: everything before
        its first new row, the new rows (one chunk per few thousand), then what follows.
    reports : dict of str to SheetAppendReport
    flushed : set of str
        Worksheet parts to write as :func:`flushed_member` does (sheets named in
        ``flushed`` of :func:`plan_appends`), their ``<dimension>`` left out.
    """

    zip: zipfile.ZipFile
    edits: dict[str, list[bytes]]
    reports: dict[str, SheetAppendReport]
    flushed: set[str]


def flushed_member(name: str, chunks: Iterable[bytes], like: Member | None) -> Member:
    """A deflated member of ``chunks`` whose last chunk (a worksheet's ``</sheetData>`` and
    what follows) starts after a full flush: the bytes before it end on a block boundary and
    the last chunk refers to nothing before, so a later append keeps those bytes and
    compresses only its rows and the tail (:mod:`xlcrm.book.history_append`)."""
    return member(name, deflated(chunks, flush_before_last=True), like)


def plan_appends(
    data: bytes, appends: Mapping[str, pd.DataFrame], *,
    headers: Mapping[str, Mapping[str, int]] | None = None,
    header_rows: Mapping[str, int] | None = None,
    sheet_xml: Mapping[str, bytes] | None = None,
    flushed: Collection[str] = (),
) -> AppendPlan:
    """The parts :func:`append_rows` changes and their new content (nothing is written).

    ``sheet_xml``: a worksheet part's XML to append to instead of the one in ``data`` (zip
    part name -> XML: a shortened part, see :mod:`xlcrm.book.history_append`). ``flushed``:
    sheets whose part is written to be appended to again cheaply (:func:`flushed_member`).
    Other parameters as :func:`append_rows`.
    """
    z = zipfile.ZipFile(io.BytesIO(data))
    pkg = Package(z)
    wb_part = pkg.workbook_part()
    wb_xml = pkg.read(wb_part)
    entries = {e.name.casefold(): e for e in pkg.sheets()}
    styles_rel = next((r for r in pkg.rels(wb_part) if r.type.endswith("/styles")), None)
    styles_name = pkg.find(styles_rel.target) if styles_rel else None
    styles = _Styles(z.read(styles_name) if styles_name else None)
    date1904 = _date1904(wb_xml)

    edits: dict[str, list[bytes]] = {}
    reports: dict[str, SheetAppendReport] = {}
    folded_flushed = {s.casefold() for s in flushed}
    flushed_parts: set[str] = set()
    for sheet, frame in appends.items():
        if frame is None or len(frame) == 0:
            continue
        entry = entries.get(sheet.casefold())
        if entry is None or entry.part is None or entry.kind != "worksheet":
            raise InputError(f"the workbook has no worksheet {sheet}", sheet=sheet,
                             fix=f"Add a {sheet} sheet (copy it from the xlcrm template).")
        name = entry.name
        table = _pick_table(sheet_tables(pkg, entry.part), list(frame.columns), name)
        positions: dict[str, int] = dict((headers or {}).get(sheet, {}))
        if table is not None:
            for k, c in enumerate(table.columns):
                positions.setdefault(c, table.area.first_col + k)
            header_row = table.area.first_row + table.header_rows - 1
            if table.header_rows < 1:
                raise InputError(
                    f"the table {table.name} on {name} has no header row",
                    fix="Turn the header row on (Table Design > Header Row).", sheet=name)
            if table.totals_rows:
                raise InputError(
                    f"the table {table.name} on {name} has a totals row, and new rows would "
                    "have to go above it",
                    fix="Turn the totals row off (Table Design > Total Row), import, then turn "
                    "it on again.", sheet=name)
        else:
            header_row = (header_rows or {}).get(sheet, 1)
        missing = [c for c in frame.columns if c not in positions]
        if missing:
            raise InputError(f"sheet {name} has no column {', '.join(missing)}", sheet=name,
                             fix=f"Add the header {missing[0]} to {name}.")
        _check_dates_fit(frame, date1904, name)
        xml = (sheet_xml or {}).get(entry.part) or z.read(entry.part)
        calc_cols = {positions[c] for c in (table.calculated if table else ()) if c in positions}
        scan = _scan_sheet(xml, name, calc_cols)
        if scan.last_valued > header_row and schema.CUSTOMER_ID in frame.columns and \
                _holds_number(scan.last_valued_xml, positions[schema.CUSTOMER_ID]):
            frame = frame.assign(**{schema.CUSTOMER_ID: numbers_where_whole(
                frame[schema.CUSTOMER_ID])})
        last_data = max(scan.last_valued, header_row)
        old_last = table.area.last_row if table is not None else last_data
        if table is not None and scan.last_valued > old_last:
            raise InputError(
                f"sheet {name} has values in row {scan.last_valued}, below the table "
                f"{table.name} (which ends at row {old_last}); new rows would land among them",
                fix="Include those rows in the table (Table Design > Resize Table) or move "
                "them elsewhere, then run again.", sheet=name, cell=f"A{scan.last_valued}")
        first = last_data + 1
        last = first + len(frame) - 1
        if last > 1_048_576:
            raise InputError(
                f"sheet {name} would need {last:,} rows, more than Excel's 1,048,576",
                fix="Move old transactions to an archive workbook.", sheet=name)

        # Styles of the new rows: the last data row's cells, else the first blank row of
        # an empty table (the template's), else the columns' styles.
        if scan.last_valued > header_row:
            style_row = _row_styles(scan.last_valued_xml)
        else:
            blank = next((xml[s:e] for r, s, e in scan.trailing if r == header_row + 1), b"")
            style_row = _row_styles(blank)
        p = re.escape(scan.prefix)
        cols_xml = re.search(rb"<" + p + rb"cols\b.*?</" + p + rb"cols>",
                             xml[: scan.data_open[0]], re.S)
        col_styles = _col_styles(cols_xml.group() if cols_xml else None)
        span_cols = sorted(positions[c] for c in frame.columns)
        table_cols = (table.area.first_col, table.area.last_col) if table is not None \
            else (span_cols[0], span_cols[-1])
        styles_by_col: dict[int, int] = {}
        for col in range(min(table_cols[0], span_cols[0]), max(table_cols[1], span_cols[-1]) + 1):
            # A cell of the style row without s= has the default style: copied as such.
            s = style_row[col] if col in style_row else col_styles.get(col)
            if s:
                styles_by_col[col] = s
        blank_styles = {c: s for c, s in styles_by_col.items()
                        if table_cols[0] <= c <= table_cols[1] or c in span_cols}
        writer = _CellWriter(styles, date1904, name, {}, styles_by_col)

        # Rows kept after the new ones: blank rows further down (formatting only).
        keep_after = [(s, e) for r, s, e in scan.trailing if r > last]
        cut = scan.trailing[0][1] if scan.trailing else scan.data_close
        new_last = max(last, old_last)
        col_span = (min(span_cols[0], table_cols[0]), max(span_cols[-1], table_cols[1]))
        head = _edit_dimension(xml[: scan.data_open[0]], scan.prefix, new_last, col_span)
        if sheet.casefold() in folded_flushed:
            # the head stays as it is from now on: appends keep its compressed bytes
            head = re.sub(rb"<" + re.escape(scan.prefix) + rb"dimension\b[^>]*/>", b"", head)
            flushed_parts.add(entry.part)
        extended: list[str] = []
        top = header_row + 1
        if scan.self_closing:
            opening = b"<" + scan.prefix + b"sheetData>"
            closing = b"</" + scan.prefix + b"sheetData>"
            tail = xml[scan.data_open[1]:]
        else:  # the start tag and every row up to the first blank one at the end, as they are
            opening = xml[scan.data_open[0]: cut]
            closing = b""
            tail = xml[scan.data_close:]
        tail = _extend_ranges(tail, old_last, new_last, top, table_cols, extended)
        if table is None:
            # A plain filter over the data grows like a table's.
            tail = re.sub(
                rb"(<(?:\w+:)?autoFilter\b[^>]*?\sref=\")([^\"]*)(\")",
                lambda m, lo=old_last, hi=new_last: _grow_ref(m, lo, hi), tail, count=1)
        chunks: list[bytes] = [head, opening]
        landed_on = {r: xml[s:e] for r, s, e in scan.trailing if first <= r <= last}
        chunks.extend(_new_rows(writer, frame, positions, first, blank_styles, scan.prefix,
                                landed_on))
        chunks.extend(xml[s:e] for s, e in keep_after)
        chunks.append(closing + tail)  # one chunk: a flushed part's tail (flushed_member)
        edits[entry.part] = chunks
        table_ref = None
        if table is not None and new_last > table.area.last_row:
            edits[table.part] = [_edit_table_xml(z.read(table.part), old_last, new_last)]
            table_ref = str(Area(table.area.first_col, table.area.first_row,
                                 table.area.last_col, new_last))
        elif table is not None:
            table_ref = str(table.area)
        calculated = tuple(c for c in (table.calculated if table else ())
                           if c not in frame.columns)
        reports[name] = SheetAppendReport(
            sheet=name, first_row=first, last_row=last,
            table=table.name if table else None, table_ref=table_ref,
            extended=tuple(extended), calculated_left_blank=calculated,
        )

    if styles.added and styles_name:
        edits[styles_name] = [styles.render()]
    return AppendPlan(z, edits, reports, flushed_parts)


def _grow_ref(m: re.Match[bytes], old_last: int, new_last: int) -> bytes:
    try:
        area = Area.parse(m.group(2).decode())
    except ValueError:
        return m.group()
    if area.last_row != old_last or new_last <= old_last:
        return m.group()
    new = Area(area.first_col, area.first_row, area.last_col, new_last)
    return m.group(1) + str(new).encode() + m.group(3)


def table_parts(data: bytes) -> dict[str, str]:
    """Table name -> zip part, for tests and reports."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        pkg = Package(z)
        out = {}
        for e in pkg.sheets():
            if e.part is not None:
                for t in sheet_tables(pkg, e.part):
                    out[t.name] = t.part
        return out


# --------------------------------------------------------------------------------------------
# The import: export file -> Transactions (and Customers) of the workbook file


@dataclass
class ImportResult:
    """What :func:`import_transactions` did (or, in a dry run, would do).

    Attributes
    ----------
    workbook, export : Path
        The workbook and the export file.
    parsed : ParsedExport
        The export as read (mapping, notes, rejected rows).
    plan : ImportPlan
        The rows appended, lines already present skipped, customers added.
    written : bool
        Whether the workbook was replaced (``False`` in a dry run or when nothing was new).
    dry_run : bool
        Whether this was a dry run.
    append : AppendReport or None
        Where the rows went (when written).
    backup : Path or None
        The backup of the previous version (when written with backups).
    """

    workbook: Path
    export: Path
    parsed: ParsedExport
    plan: ImportPlan
    written: bool
    dry_run: bool
    add_missing_customers: bool
    append: AppendReport | None = None
    backup: Path | None = None

    @property
    def imported(self) -> int:
        return len(self.plan.rows)

    def _sheet(self, sheet: str) -> SheetAppendReport | None:
        if self.append is None:
            return None
        return next((r for r in self.append.sheets.values() if r.sheet.casefold()
                     == sheet.casefold()), None)

    def to_json(self) -> dict[str, Any]:
        """The summary as JSON-ready data."""
        tx = self._sheet(schema.TRANSACTIONS)
        cu = self._sheet(schema.CUSTOMERS)
        added = self.plan.new_customers
        return {
            "workbook": str(self.workbook),
            "export": str(self.export),
            "dry_run": self.dry_run,
            "written": self.written,
            "encoding": self.parsed.encoding,
            "delimiter": self.parsed.delimiter,
            "columns": dict(self.parsed.mapping),
            "name_column": self.parsed.name_column,
            "ignored_columns": list(self.parsed.unmapped),
            "notes": list(self.parsed.notes),
            "records": self.parsed.records,
            "imported": self.imported,
            "rows": [tx.first_row, tx.last_row] if tx else None,
            "table": tx.table if tx else None,
            "table_ref": tx.table_ref if tx else None,
            "extended": [*(tx.extended if tx else ()), *(cu.extended if cu else ())],
            "calculated_left_blank": list(tx.calculated_left_blank) if tx else [],
            "already_present": len(self.plan.already_present),
            "already_present_lines": list(self.plan.already_present),
            "rejected_rows": len(self.plan.rejected_lines),
            "rejected": [
                {"line": r.line, "column": r.column, "value": r.value, "reason": r.reason}
                for r in self.plan.rejected
            ],
            "customers_added": [
                {k: (None if v is None or v != v else v) for k, v in row.items()}
                for row in added.to_dict(orient="records")
            ],
            "customer_rows": [cu.first_row, cu.last_row] if cu else None,
            "backup": str(self.backup) if self.backup else None,
        }

    def summary_lines(self, *, limit: int = 10) -> list[str]:
        """The summary in words, one line each (the ``xlcrm`` command prints them)."""
        p, plan = self.parsed, self.plan
        tx = self._sheet(schema.TRANSACTIONS)
        cu = self._sheet(schema.CUSTOMERS)
        out = []
        n, total = self.imported, p.records
        if self.dry_run:
            out.append(f"Dry run: would import {n:,} of {_n(total, 'row')} from "
                       f"{self.export.name} into {schema.TRANSACTIONS}; nothing was written.")
        elif self.written and tx is not None:
            table = f"; table {tx.table} now {tx.table_ref}" if tx.table else ""
            out.append(f"Imported {n:,} of {_n(total, 'row')} from {self.export.name} into "
                       f"{schema.TRANSACTIONS} of {self.workbook.name} "
                       f"({_span(tx.first_row, tx.last_row)}{table}).")
        else:
            out.append(f"Nothing to import from {self.export.name} ({_n(total, 'row')}): the "
                       "workbook was not changed.")
        out.append("Columns: " + ", ".join(f"{h!r} -> {c}" for h, c in p.mapping.items())
                   + (f"; customer names from {p.name_column!r}" if p.name_column else "") + ".")
        if p.unmapped:
            out.append("Ignored columns (no such column in Transactions): "
                       + ", ".join(repr(h) for h in p.unmapped) + ".")
        out.extend(f"Note: {note}." for note in p.notes)
        present = plan.already_present
        if present:
            out.append(f"Already in {schema.TRANSACTIONS}: {_n(len(present), 'line')} of the "
                       f"file ({'line' if len(present) == 1 else 'lines'} {_lines(present)}), "
                       "not imported again.")
        else:
            out.append(f"None of the lines was in {schema.TRANSACTIONS} already.")
        bad = plan.rejected_lines
        if bad:
            out.append(f"Rejected {_n(len(bad), 'row')} (not imported; correct them in the file "
                       "and import it again: the lines already imported are then recognised "
                       "and skipped):")
            out.extend(f"  {r}" for r in plan.rejected[:limit])
            if len(plan.rejected) > limit:
                out.append(f"  ... and {len(plan.rejected) - limit} more (--json lists all).")
        added = plan.new_customers
        if len(added):
            verb = "Would add" if self.dry_run else "Added"
            ids = ", ".join(added[schema.CUSTOMER_ID].head(limit).tolist())
            more = f" and {len(added) - limit} more" if len(added) > limit else ""
            where = f" ({_span(cu.first_row, cu.last_row)})" if cu else ""
            out.append(f"{verb} {_n(len(added), 'customer')} to {schema.CUSTOMERS}{where}: "
                       f"{ids}{more}; their indicator columns are blank: fill them in.")
        if tx is not None:
            out.extend(f"Extended {e}." for e in tx.extended)
            if tx.calculated_left_blank:
                out.append("The new rows leave the calculated columns "
                           + ", ".join(tx.calculated_left_blank)
                           + " blank: in Excel, fill their formula down to the last row.")
        if self.backup is not None:
            out.append(f"Backup of the previous version: {self.backup}")
        if self.written:
            out.append(f"Scores, Segments, Dashboard and Activity still show the previous "
                       f"results: run `xlcrm resegment {self.workbook}` (or import with "
                       "--resegment).")
        return out


def _n(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def _span(first: int, last: int) -> str:
    return f"row {first}" if first == last else f"rows {first}-{last}"


def _lines(lines: Sequence[int], limit: int = 10) -> str:
    text = ", ".join(str(n) for n in lines[:limit])
    return text + (f" ... (+{len(lines) - limit})" if len(lines) > limit else "")


def import_transactions(
    workbook: str | os.PathLike[str],
    export: str | os.PathLike[str],
    *,
    options: ImportOptions | None = None,
    add_missing_customers: bool = False,
    dry_run: bool = False,
    backups: int = 3,
    progress: Callable[[str, float], None] | None = None,
) -> ImportResult:
    """Append the orders of an ERP export to the Transactions sheet of ``workbook``.

    Parameters
    ----------
    workbook : path-like
        The CRM workbook (``.xlsm``/``.xlsx``).
    export : path-like
        The export (CSV; see :mod:`xlcrm.book.csv_import` for what it may look like).
    options : ImportOptions, optional
        Encoding, delimiter, date order or format, decimal separator.
    add_missing_customers : bool
        Add unknown CustomerIDs to Customers (with the export's customer name, if any)
        instead of rejecting their rows.
    dry_run : bool
        Read and check everything, write nothing.
    backups : int
        Timestamped backups of the workbook to keep.
    progress : callable, optional
        ``(step, fraction)`` callback.

    Returns
    -------
    ImportResult

    Raises
    ------
    InputError
        When the export or the workbook cannot be used (nothing is written): not found, not
        decodable, a required column missing, ambiguous dates, no Transactions or Customers
        sheet, a table with a totals row, values below the table, the workbook open in Excel
        or changed since it was read.
    """
    report = progress or (lambda _step, _fraction: None)
    workbook, export = Path(workbook), Path(export)
    report("Reading the export", 0.0)
    try:
        data = export.read_bytes()
    except FileNotFoundError as exc:
        raise InputError(f"there is no file {export}",
                         fix="Check the file name and folder.") from exc
    except IsADirectoryError as exc:
        raise InputError(f"{export} is a folder, not an export file",
                         fix="Give the path of the .csv file.") from exc
    report("Reading the workbook", 0.1)
    book = open_workbook(workbook)
    tx = book.read_sheet(schema.TRANSACTIONS, text_columns=[schema.CUSTOMER_ID])
    customers = book.read_sheet(schema.CUSTOMERS, text_columns=[schema.CUSTOMER_ID])
    if schema.CUSTOMER_ID not in customers.columns:
        raise InputError(
            f"the {schema.CUSTOMERS} sheet has no {schema.CUSTOMER_ID} column, so the orders "
            "cannot be matched to customers",
            fix=f"Put the header {schema.CUSTOMER_ID} in row 1 of {schema.CUSTOMERS}.",
            sheet=customers.sheet)
    report("Checking the rows", 0.3)
    parsed, plan = prepare_import(
        data, export.name, tx.frame, customers.frame[schema.CUSTOMER_ID].tolist(),
        options=options, add_missing_customers=add_missing_customers)
    result = ImportResult(workbook, export, parsed, plan, written=False, dry_run=dry_run,
                          add_missing_customers=add_missing_customers)
    if dry_run or not len(plan.rows):
        report("Done", 1.0)
        return result

    appends = {tx.sheet: plan.rows.reset_index(drop=True)}
    if len(plan.new_customers):
        new = plan.new_customers
        appends[customers.sheet] = new[[c for c in new.columns if c in customers.columns]]
    report(f"Writing {len(plan.rows):,} rows", 0.5)
    written: dict[str, AppendReport] = {}

    def write(target: Path) -> None:
        # From the very bytes that were read and checked.
        written["report"] = append_rows(
            book, target, appends,
            headers={tx.sheet: tx.columns, customers.sheet: customers.columns})

    saved = safe_replace(workbook, write, backups=backups, expected_stamp=book.stamp)
    report("Done", 1.0)
    result.written = True
    result.append = written["report"]
    result.backup = saved.backup
    return result
