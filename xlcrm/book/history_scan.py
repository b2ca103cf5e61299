"""The SegmentHistory sheet read in part: the dates of every row, whole rows only where needed.

A run needs little of History: which runs there are (RunStamp and AsOf of every row) and
the cells of one earlier run (:func:`xlcrm.operations.history.previous_run`). At 100,000
customers and 10 runs kept the sheet holds a million rows (300 MB of XML), which a reader
of every cell takes half a minute over. :func:`scan_history` streams the sheet's part once
(inflated a slice at a time, so memory holds a slice, not the sheet), takes columns A and B
of each row, and hands back a :class:`~xlcrm.operations.history.History` whose ``load``
reads the cells of the rows asked for, resuming the inflater where those rows begin.

Every value still goes through the reader of the whole sheet (python-calamine and
:func:`xlcrm.book.tables.table_from_rows`): the header row, one row per distinct pair of
A and B cells, and the rows a run asks for are handed to it as a small workbook with the
file's own styles, shared strings and date system. So a date is a date exactly when the
full read says so, and the result is the full read's.

The scan is sure of a sheet only in the shape xlcrm writes and LibreOffice saves: headers
RunStamp and AsOf in A1 and B1, and every row below either blank or holding a plain number
in A and in B that the file formats as a date. Anything else (a formula, text or an error
in A or B, a prefixed namespace, rows out of order or without numbers, an Excel Table on
the sheet, an encrypted file) returns ``None``: the caller reads the whole sheet instead.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
import python_calamine

from xlcrm import schema
from xlcrm.book.read import MAX_GRID_CELLS, Package, Workbook
from xlcrm.book.tables import table_from_rows
from xlcrm.book.write import _date1904, raw_member
from xlcrm.operations.history import History, read_history

_SLICE = 1 << 18
"""Compressed bytes inflated at a time (a few MB of XML)."""
_ROW = re.compile(
    rb'<row r="(\d+)"[^>]*>'
    rb'(?:<c r="A\1"((?: s="\d+")?(?: t="n")?><v>[^<]+</v>)</c>'
    rb'<c r="B\1"((?: s="\d+")?(?: t="n")?><v>[^<]+</v>)</c>)?')
"""A row start and, when they are plain numbers, its cells A and B (style and value)."""
_ROW_BODY = re.compile(rb'<row r="(\d+)"[^>]*?(?:/>|>(.*?)</row>)', re.S)
_HOLDS = (b"<v", b"<is", b"<f")
_MANY_BLOCKS = 64
"""Asked-for rows in more separate stretches than this are picked row by row."""
_MAIN = b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'


class _UnsureError(Exception):
    """The sheet is not in a shape the scan reads safely."""


@dataclass
class _Checkpoint:
    """Where a stretch of the part starts: enough to inflate it again from there."""

    offset: int
    inflater: Any  # a zlib decompress object before the slice at ``offset`` (None: stored)
    carry: bytes
    first_row: int


@dataclass
class _Scan:
    root: bytes  # the <worksheet ...> start tag
    header: bytes  # the <row r="1"> element
    rows: np.ndarray  # sheet rows holding data, ascending
    keys: np.ndarray  # per row: index into ``pairs``
    pairs: list[tuple[bytes, bytes]]  # A's and B's cell as written, but for the reference
    checkpoints: list[_Checkpoint]


class _Part:
    """The sheet part's bytes as stored in the zip, inflated a slice at a time."""

    def __init__(self, raw: memoryview, method: int) -> None:
        self.raw, self.method = raw, method

    def stream(self, start: _Checkpoint | None = None
               ) -> Iterator[tuple[_Checkpoint, bytes, bool]]:
        """(checkpoint, segment, last) per slice: segments hold whole rows only (cut after
        a ``</row>``), ``last`` when the segment ends at ``</sheetData>``."""
        if start is None:
            inflater = zlib.decompressobj(-15) if self.method == zipfile.ZIP_DEFLATED else None
            offset, carry = 0, b""
        else:
            inflater = start.inflater.copy() if start.inflater is not None else None
            offset, carry = start.offset, start.carry
        while offset < len(self.raw):
            point = _Checkpoint(offset, inflater.copy() if inflater is not None else None,
                                carry, 0)
            piece = bytes(self.raw[offset: offset + _SLICE])
            offset += len(piece)
            out = inflater.decompress(piece) if inflater is not None else piece
            buf = carry + out
            end = buf.find(b"</sheetData>")
            if end >= 0:
                yield point, buf[:end], True
                return
            cut = buf.rfind(b"</row>")
            cut = cut + len(b"</row>") if cut >= 0 else 0
            carry = buf[cut:]
            yield point, buf[:cut], False
        raise _UnsureError("no end of the cell data")


def _member(book: Workbook, sheet: str) -> tuple[Package, str, _Part]:
    if book.encrypted or book.data[:4] != b"PK\x03\x04":
        raise _UnsureError("not a plain zip")
    pkg = Package(zipfile.ZipFile(io.BytesIO(book.data)))
    entry = next((e for e in pkg.sheets() if e.name == sheet), None)
    if entry is None or entry.part is None or entry.kind != "worksheet":
        raise _UnsureError("no worksheet part")
    if any(r.type.endswith("/table") for r in pkg.rels(entry.part)):
        raise _UnsureError("an Excel Table on the sheet")
    # The package check bounded the grid of every part it inflated (read.Workbook)
    scan = book._scans.get(entry.part.lower())  # noqa: SLF001
    if scan is None or scan.cells > MAX_GRID_CELLS:
        raise _UnsureError("the grid's extent is not known to be small")
    info = pkg.zip.getinfo(entry.part)
    member = raw_member(book.data, info)
    if member.method not in (zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED):
        raise _UnsureError("an unusual compression method")
    return pkg, entry.part, _Part(memoryview(member.raw), member.method)


def _first_segment(segment: bytes) -> tuple[bytes, bytes, bytes]:
    """The root start tag, the header row and the rows after it, from the first segment."""
    root = re.search(rb"<worksheet\b[^>]*>", segment)
    data = segment.find(b"<sheetData>")
    if root is None or _MAIN not in root.group() or data < 0:
        raise _UnsureError("not a worksheet in the default namespace")
    rest = segment[data + len(b"<sheetData>"):]
    head = _ROW_BODY.match(rest)
    if head is None or head.group(1) != b"1":
        raise _UnsureError("row 1 is not the first row")
    return root.group(), head.group(), rest[head.end():]


class _Rows:
    """The A and B cells of the rows scanned so far, column by column."""

    def __init__(self) -> None:
        self.numbers: list[bytes] = []
        self.cells: tuple[list[bytes], ...] = ([], [])  # A's and B's style and value

    def add(self, segment: bytes) -> None:
        """Take the rows of ``segment``; blank rows are left out."""
        found = _ROW.findall(segment)
        if len(found) != segment.count(b"<row"):
            raise _UnsureError("a row the pattern does not read")
        if not found:
            return
        numbers, *cells = zip(*found, strict=True)
        if not all(cells[0]):  # a row without a plain A and B: blank (formatted only), or
            self._check_blank(segment)  # not for the scan
            keep = [bool(v) for v in cells[0]]
            numbers = [n for n, k in zip(numbers, keep, strict=True) if k]
            cells = [[c for c, k in zip(col, keep, strict=True) if k] for col in cells]
        self.numbers.extend(numbers)
        for mine, new in zip(self.cells, cells, strict=True):
            mine.extend(new)

    @staticmethod
    def _check_blank(segment: bytes) -> None:
        for m in _ROW_BODY.finditer(segment):
            body = m.group(2) or b""
            row = _ROW.match(m.group())
            if (row is None or not row.group(2)) and any(t in body for t in _HOLDS):
                raise _UnsureError(f"row {m.group(1).decode()} holds other than dates in A and B")

    def pairs(self) -> tuple[np.ndarray, list[tuple[bytes, ...]]]:
        """Per row the index of its (A, B) cells among the distinct ones, and those."""
        if not self.numbers:
            return np.zeros(0, np.int64), []
        codes = np.zeros(len(self.numbers), dtype=np.int64)
        for column in self.cells:
            found, uniques = pd.factorize(np.array(column, dtype=object))
            codes, _ = pd.factorize(codes * len(uniques) + found)
        _, first, keys = np.unique(codes, return_index=True, return_inverse=True)
        return keys.astype(np.int64), [tuple(c[i] for c in self.cells) for i in first]


def _scan(part: _Part) -> _Scan:
    rows = _Rows()
    checkpoints: list[_Checkpoint] = []
    root = header = None
    for point, segment, _last in part.stream():
        if root is None:
            if b"<sheetData>" not in segment:
                if segment:
                    raise _UnsureError("no cell data where expected")
                continue  # the sheet's head runs past the slice: it is carried over
            root, header, segment = _first_segment(segment)
        before = len(rows.numbers)
        rows.add(segment)
        if len(rows.numbers) > before:
            point.first_row = int(rows.numbers[before])
            checkpoints.append(point)
    if root is None or header is None:
        raise _UnsureError("no cell data")
    numbers = np.array(rows.numbers, dtype=np.bytes_).astype(np.int64) if rows.numbers \
        else np.zeros(0, np.int64)
    if len(numbers) and (numbers[0] < 2 or (np.diff(numbers) <= 0).any()):
        raise _UnsureError("rows out of order")
    keys, pairs = rows.pairs()
    return _Scan(root, header, numbers, keys, pairs, checkpoints)


# --------------------------------------------------------------------------------------------
# Cells through the full reader


class _Reader:
    """Rows of the sheet as the full read gives them: calamine on a workbook made of the
    file's styles, shared strings and date system and the rows asked for."""

    def __init__(self, pkg: Package, root: bytes, sheet: str) -> None:
        wb_part = pkg.workbook_part()
        self.date1904 = _date1904(pkg.read(wb_part))
        rels = pkg.rels(wb_part)
        self.shared = {kind: pkg.read(rel.target) for kind in ("styles", "sharedStrings")
                       for rel in rels if rel.type.endswith("/" + kind) and not rel.external
                       and pkg.find(rel.target)}
        self.root, self.sheet = root, sheet

    def grid(self, rows_xml: bytes) -> tuple[list[list[Any]], int]:
        """Cells of ``rows_xml`` (whole ``<row>`` elements) as calamine reads them, from the
        first row that holds one, and that row's number."""
        sheet = self.root + b"<sheetData>" + rows_xml + b"</sheetData></worksheet>"
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
            over = "".join(
                f'<Override PartName="/xl/{k}.xml" ContentType="application/vnd.'
                f'openxmlformats-officedocument.spreadsheetml.{t}"/>'
                for k, t in (("workbook", "sheet.main+xml"),
                             ("worksheets/sheet1", "worksheet+xml"),
                             ("styles", "styles+xml"), ("sharedStrings", "sharedStrings+xml"))
                if k in ("workbook", "worksheets/sheet1") or k in self.shared)
            z.writestr("[Content_Types].xml", (
                '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.'
                'openxmlformats.org/package/2006/content-types"><Default Extension="rels" '
                'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                f'<Default Extension="xml" ContentType="application/xml"/>{over}</Types>'))
            rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
            z.writestr("_rels/.rels", (
                '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
                'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" '
                f'Type="{rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>'))
            links = "".join(
                f'<Relationship Id="rId{i + 2}" Type="{rel}/{k}" Target="{k}.xml"/>'
                for i, k in enumerate(self.shared))
            z.writestr("xl/_rels/workbook.xml.rels", (
                '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
                'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" '
                f'Type="{rel}/worksheet" Target="worksheets/sheet1.xml"/>{links}'
                '</Relationships>'))
            pr = '<workbookPr date1904="1"/>' if self.date1904 else ""
            z.writestr("xl/workbook.xml", (
                '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.'
                f'openxmlformats.org/spreadsheetml/2006/main" xmlns:r="{rel}">{pr}<sheets>'
                '<sheet name="H" sheetId="1" r:id="rId1"/></sheets></workbook>'))
            for k, xml in self.shared.items():
                z.writestr(f"xl/{k}.xml", xml)
            z.writestr("xl/worksheets/sheet1.xml", sheet)
        book = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(out.getvalue()))
        data = book.get_sheet_by_name("H")
        grid = data.to_python(skip_empty_area=True)
        start = data.start
        if not grid or start is None:
            return [], 0
        first_row, first_col = start
        if first_col:
            grid = [[""] * first_col + list(row) for row in grid]
        return grid, first_row + 1


def _pair_rows(pairs: list[tuple[bytes, ...]]) -> bytes:
    return b"".join(b'<row r="%d"><c r="A%d"%s</c><c r="B%d"%s</c></row>' % (i, i, a, i, b)
                    for i, (a, b) in enumerate(pairs, start=1))


def _dates_of(reader: _Reader, pairs: list[tuple[bytes, ...]]) -> tuple[np.ndarray, np.ndarray]:
    """RunStamp and AsOf of each pair as the full read types them (``datetime64[us]``)."""
    grid, first = reader.grid(_pair_rows(pairs))
    if first != 1 or len(grid) != len(pairs):
        raise _UnsureError("a date pair reads as blank")
    cells = [(row + ["", ""])[:2] for row in grid]
    if any(type(v) not in (date, datetime) for row in cells for v in row):
        raise _UnsureError("column A or B holds a number that is not formatted as a date")
    stamps = pd.array([row[0] for row in cells], dtype="datetime64[us]")
    as_of = pd.array([row[1] for row in cells], dtype="datetime64[us]")
    return np.asarray(stamps), np.asarray(as_of)


# --------------------------------------------------------------------------------------------
# The entry point


def scan_history(book: Workbook, sheet: str) -> History | None:
    """History read in part from ``sheet`` of ``book`` (see the module doc), its headers in
    row 1; ``None`` when the scan is not sure of the sheet (read the whole sheet instead)."""
    try:
        pkg, _name, part = _member(book, sheet)
        scan = _scan(part)
        reader = _Reader(pkg, scan.root, sheet)
        head, first = reader.grid(scan.header)
        if first != 1:
            raise _UnsureError("no header row")
        header = table_from_rows(sheet, head, text_columns=[schema.CUSTOMER_ID])
        if header.columns.get("RunStamp") != 0 or header.columns.get("AsOf") != 1:
            raise _UnsureError("RunStamp and AsOf are not in A1 and B1")
        stamps, as_of = _dates_of(reader, scan.pairs) if scan.pairs else (
            np.zeros(0, "datetime64[us]"), np.zeros(0, "datetime64[us]"))
    except _UnsureError:
        return None
    index = pd.Index(scan.rows, name="row")
    frame = pd.DataFrame({"RunStamp": pd.Series(stamps[scan.keys], index=index),
                          "AsOf": pd.Series(as_of[scan.keys], index=index)})

    def load(rows: pd.Index) -> pd.DataFrame:
        return _load(part, scan, reader, header.columns, rows)

    return read_history(frame, header.columns, header_row=1, sheet=sheet, load=load)


def _load(part: _Part, scan: _Scan, reader: _Reader, columns: dict[str, int],
          rows: pd.Index) -> pd.DataFrame:
    """The cells of the sheet rows ``rows`` (rows the scan found), every header's column."""
    wanted = np.asarray(rows, dtype=np.int64)
    at = np.searchsorted(scan.rows, wanted)
    if len(wanted) and (at.max() >= len(scan.rows) or (scan.rows[at] != wanted).any()):
        raise ValueError("rows the scan did not find were asked for")
    xml = _rows_xml(part, scan, at) if len(wanted) else b""
    grid, first = reader.grid(xml) if xml else ([], 0)
    width = max(columns.values()) + 1
    header = [""] * width
    for name, c in columns.items():
        header[c] = name
    table = table_from_rows(reader.sheet, [header, *grid], text_columns=[schema.CUSTOMER_ID])
    frame = table.frame
    frame.index = pd.Index(frame.index.to_numpy() - 2 + first, name="row")
    return frame.loc[frame.index.isin(wanted)]


def _rows_xml(part: _Part, scan: _Scan, at: np.ndarray) -> bytes:
    """The ``<row>`` elements of the scan's rows ``at`` (positions in ``scan.rows``), as they
    are in the part, with any blank rows between them."""
    breaks = np.flatnonzero(np.diff(at) != 1) + 1
    blocks = [(int(a[0]), int(a[-1])) for a in np.split(at, breaks)]
    first = scan.rows[blocks[0][0]]
    start = max((p for p in scan.checkpoints if p.first_row <= first),
                key=lambda p: p.first_row, default=None)
    if len(blocks) > _MANY_BLOCKS:
        return _rows_one_by_one(part, start, set(scan.rows[at].tolist()))
    out: list[bytes] = []
    marks = [(b'<row r="%d"' % scan.rows[lo],
              b'<row r="%d"' % scan.rows[hi + 1] if hi + 1 < len(scan.rows) else None)
             for lo, hi in blocks]
    k, inside = 0, False
    for _point, segment, _last in part.stream(start):
        pos = 0
        while k < len(marks):
            begin, end = marks[k]
            if not inside:
                i = segment.find(begin, pos)
                if i < 0:
                    break
                pos, inside = i, True
            j = segment.find(end, pos) if end is not None else -1
            if j < 0:
                out.append(segment[pos:])
                break
            out.append(segment[pos:j])
            pos, inside, k = j, False, k + 1
        if k == len(marks):
            break
    return b"".join(out)


def _rows_one_by_one(part: _Part, start: _Checkpoint | None, wanted: set[int]) -> bytes:
    out: list[bytes] = []
    last = max(wanted)
    for _point, segment, _end in part.stream(start):
        r = 0
        for m in _ROW_BODY.finditer(segment):
            r = int(m.group(1))
            if r in wanted:
                out.append(m.group())
        if r >= last:
            break
    return b"".join(out)
