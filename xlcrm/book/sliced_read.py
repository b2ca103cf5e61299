"""A large worksheet read by calamine in slices of rows, on several cores at once.

calamine parses a sheet on one core, without holding Python's lock: at 100,000 customers
the Customers sheet (100 MB of XML) takes 1.5 s, the longest single step of a run, while
the other cores wait. Cut at row boundaries into slices, each slice a workbook of its own
(the same parts, the sheet's part holding only the slice's rows, stored), the sheet is
parsed by as many calamine readers at once: two slices take 0.65 s on two cores.

The rows come back exactly as one read of the whole sheet gives them (the tests compare
the two on openpyxl-written sheets of any values and on hand-made XML of odd shapes):

- each slice starts with a ``<row>`` that names its row (``r="..."``), so calamine places
  it, and every row and cell after it, where the whole read does;
- the slices' cells are placed by the grid position calamine gives them (``start``), with
  blank rows and cells between, as the whole read's dense grid has them.

Whatever is not sure is read whole, as before: a slice that fails to parse, rows of one
slice that do not all come after the previous slice's (a sheet whose rows are out of
order), a cut that cannot be found, a part that is not plain deflated XML. The cost is
memory, about three times the sheet's XML for a moment, which is why only sheets up to
:data:`MAX_BYTES` are sliced.
"""

from __future__ import annotations

import io
import os
import re
import threading
import zipfile
import zlib
from typing import Any

import python_calamine

from xlcrm.book.zip_members import Member, raw_member, write_zip
from xlcrm.value.threads import CAN_THREAD

MIN_BYTES = 24 << 20
"""Sheets of less XML than this are read whole (about 25,000 customers): slicing costs
more than it saves."""
MAX_BYTES = 192 << 20
"""Sheets of more XML than this (about 190,000 customers) are read whole: slicing holds
about three times the sheet's XML for a moment (the XML, calamine's copies of the slices,
one slice being made)."""
MAX_SLICES = 4
_SHEET_DATA = re.compile(rb"<(\w+:)?sheetData\b[^>]*?(/?)>")
_ROW_START = re.compile(rb"<(?:\w+:)?row\b([^>]*)>")
_ROW_NUMBER = re.compile(rb'\sr\s*=\s*["\'](\d+)["\']')


def slice_count(size: int) -> int:
    """How many slices a sheet part of ``size`` bytes of XML is read in (1: whole)."""
    if not CAN_THREAD or not MIN_BYTES <= size <= MAX_BYTES:
        return 1
    return max(1, min(MAX_SLICES, os.cpu_count() or 1, size // (MIN_BYTES // 2)))


def sliced_rows(z: zipfile.ZipFile, content: bytes, part: str, sheet: str, slices: int,
                xml: bytes | None = None) -> list[list[Any]] | None:
    """The sheet's cells from A1, as ``get_sheet_by_name(sheet).to_python(
    skip_empty_area=False)`` gives them, read in ``slices`` slices of rows at once; ``None``
    when the sheet is not one to slice (the caller then reads it whole).

    ``content``: the workbook's bytes (a zip the package check has passed), ``z``: a zip
    reader of them, ``part``: the sheet's part, ``xml``: that part inflated, when the check
    kept it.
    """
    info = z.getinfo(part)
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) or \
            info.flag_bits & 0x1:
        return None
    if xml is None:
        xml = z.read(part)
    others = [raw_member(content, i) for i in z.infolist()
              if i.filename != part and not i.is_dir() and _kept_beside(i.filename)]
    pieces = _pieces(xml, slices)
    if pieces is None:
        return None
    try:  # one slice's workbook at a time in memory, until calamine has its copy
        books = [python_calamine.CalamineWorkbook.from_filelike(
            _slice_book(others, part, piece)) for piece in pieces]
    except Exception:  # noqa: BLE001 - any calamine error: the whole read says it
        return None
    del xml, pieces
    found: list[Any] = [None] * len(books)

    def parse(i: int) -> None:
        try:
            with books[i] as book:
                read = book.get_sheet_by_name(sheet)
                found[i] = (read.start, read.to_python(skip_empty_area=i > 0))
        except Exception:  # noqa: BLE001 - any calamine error: the whole read says it
            found[i] = None

    threads = [threading.Thread(target=parse, args=(i,), daemon=True)
               for i in range(1, len(books))]
    for t in threads:
        t.start()
    parse(0)
    for t in threads:
        t.join()
    if any(f is None for f in found):
        return None
    return _stitched(found)


def _kept_beside(name: str) -> bool:
    """Whether a part goes into each slice's workbook: all but the other worksheets (calamine
    reads a workbook's parts when it opens it, a sheet's only when the sheet is read)."""
    return not name.lower().startswith("xl/worksheets/sheet")


def _pieces(xml: bytes, slices: int) -> list[list[bytes | memoryview]] | None:
    """Each slice's sheet XML in pieces (the head, its rows, the tail), or ``None``."""
    opened = _SHEET_DATA.search(xml)
    if opened is None or opened.group(2):
        return None
    prefix = opened.group(1) or b""
    close = xml.rfind(b"</" + prefix + b"sheetData>")
    if close < opened.end():
        return None
    head, tail = xml[:opened.end()], xml[close:]
    cuts = [opened.end()]
    for i in range(1, slices):
        at = opened.end() + (close - opened.end()) * i // slices
        m = _ROW_START.search(xml, max(at, cuts[-1] + 1), close)
        if m is None or _ROW_NUMBER.search(m.group(1)) is None:
            return None  # (a row without r="": its number depends on the rows before it)
        cuts.append(m.start())
    cuts.append(close)
    view = memoryview(xml)
    return [[head, view[a:b], tail] for a, b in zip(cuts, cuts[1:], strict=False)]


def _slice_book(others: list[Member], part: str, pieces: list[bytes | memoryview]
                ) -> io.BytesIO:
    """A workbook of ``others`` and the sheet's part holding ``pieces`` (stored)."""
    crc, size = 0, 0
    for piece in pieces:
        crc, size = zlib.crc32(piece, crc), size + len(piece)
    sheet = Member(name=part.encode(), flags=0, method=zipfile.ZIP_STORED, dostime=0,
                   dosdate=(1 << 5) | 1, crc=crc, csize=size, usize=size,
                   raw=b"".join(pieces))
    out = io.BytesIO()
    write_zip(out, [*others, sheet], b"")
    out.seek(0)
    return out


def _stitched(found: list[tuple[tuple[int, int] | None, list[list[Any]]]]
              ) -> list[list[Any]] | None:
    """The slices' rows as one grid from A1; ``None`` when a slice's cells do not all come
    after the previous slice's."""
    first_start, grid = found[0]
    rows = list(grid)
    width = max((len(r) for r in rows), default=0)
    for start, part in found[1:]:
        if start is None or not part:
            continue
        top, left = start
        if top < len(rows):
            return None  # rows out of order across the cut: the whole read places them
        rows.extend([] for _ in range(top - len(rows)))
        pad = [""] * left
        rows.extend([*pad, *r] if left else r for r in part)
        width = max(width, left + max(len(r) for r in part))
    if first_start is None and len(rows) == len(grid):
        return grid
    return [r + [""] * (width - len(r)) if len(r) < width else r for r in rows]
