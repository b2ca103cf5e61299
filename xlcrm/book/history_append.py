"""A run's rows appended to SegmentHistory without compressing the earlier runs again.

Every resegment appends one row per customer to History; at 100,000 customers the part
grows by 30 MB of XML a run, and compressing all of it again for every run costs more than
the run's own rows. When xlcrm appends (:func:`xlcrm.book.append.append_rows` with
``flushed``), it writes the History part so that a later append can keep its bytes: no
``<dimension>`` (the part's head never changes) and a full flush of the deflate stream
just before ``</sheetData>`` (:func:`xlcrm.book.append.flushed_member`). The next append
then keeps the compressed bytes up to that flush, and compresses only its own rows and the
sheet's tail, whose filter range grows.

Nothing is taken on trust. The part is inflated once (inflating is several times cheaper
than compressing) to find, and prove, where the earlier bytes end:

- the tail after the last flush marker inflates on its own to ``</sheetData>`` and the
  rest of the sheet, with no row in it;
- the bytes before it inflate to the rest of the part, and an inflater that has read them
  ends a stream at once when given an empty final block: it stands at a block boundary,
  so new blocks can follow;
- lengths and the CRC-32 of the two halves add up to the zip's own;
- :func:`xlcrm.book.append.plan_appends` appends to a copy of the part cut down to its head,
  last row and tail, and must leave the head and the last row as they are.

Otherwise (the part was written by Excel, LibreOffice, or xlcrm's result writer), the
caller appends as before.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import replace

import numpy as np
import pandas as pd

from xlcrm.book.append import AppendPlan, Area, flushed_member, plan_appends, sheet_tables
from xlcrm.book.read import Package
from xlcrm.book.zip_members import (
    TAIL_BYTES,
    Member,
    edited_members,
    fast_zlib,
    flushed_tail,
    raw_member,
    write_zip_replacing,
)

_FINAL_EMPTY = b"\x01\x00\x00\xff\xff"  # an empty final stored block
_CHUNK = 1 << 20
_MAIN_ROOT = b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'


def _tail_at(raw: memoryview) -> tuple[int, bytes] | None:
    """Where the part's tail starts after a full flush, and the tail (no row in it)."""
    return flushed_tail(raw, lambda tail: tail.startswith(b"</sheetData>") and
                        b"<row" not in tail)


def _prefix(raw: memoryview) -> tuple[bytes, bytes, int, int] | None:
    """The head (up to and with ``<sheetData>``) and the last row of ``raw`` (inflated in
    slices), its length and CRC-32; ``None`` unless it ends at a block boundary after a
    complete row."""
    inflater = zlib.decompressobj(-15)
    head = b""
    last = b""
    size = crc = 0
    for i in range(0, len(raw), _CHUNK):
        out = inflater.decompress(bytes(raw[i:i + _CHUNK]))
        size += len(out)
        crc = zlib.crc32(out, crc)
        if b"<sheetData>" not in head:
            head += out
        last = (last + out)[-TAIL_BYTES:]
    if inflater.eof or inflater.unconsumed_tail:
        return None
    probe = inflater.copy()
    if probe.decompress(_FINAL_EMPTY) != b"" or not probe.eof:
        return None
    data = head.find(b"<sheetData>")
    row = last.rfind(b"<row ")
    if data < 0 or row < 0 or not last.endswith(b"</row>") or _MAIN_ROOT not in head[:data]:
        return None
    return head[:data + len(b"<sheetData>")], last[row:], size, crc


def appended_history(data: bytes, sheet: str, rows: pd.DataFrame, positions: Mapping[str, int],
                     header_row: int) -> dict[str, Member] | None:
    """The new members of the parts of workbook ``data`` that appending ``rows`` to
    ``sheet`` changes (by zip name: the sheet's part, the earlier rows' compressed bytes
    kept), or ``None`` when the part is not one xlcrm wrote to be appended to, or anything
    about it is unsure (then append as before)."""
    z = zipfile.ZipFile(io.BytesIO(data))
    pkg = Package(z)
    entry = next((e for e in pkg.sheets() if e.name.casefold() == sheet.casefold()), None)
    if entry is None or entry.part is None or entry.kind != "worksheet" or \
            sheet_tables(pkg, entry.part):
        return None
    info = z.getinfo(entry.part)
    old = raw_member(data, info)
    if old.method != zipfile.ZIP_DEFLATED:
        return None
    raw = memoryview(old.raw)
    found = _tail_at(raw)
    if found is None:
        return None
    cut, tail = found
    before = _prefix(raw[:cut])
    if before is None:
        return None
    head, last_row, size, crc = before
    if size + len(tail) != old.usize or zlib.crc32(tail, crc) != old.crc:
        return None
    plan = plan_appends(data, {entry.name: rows}, headers={entry.name: dict(positions)},
                        header_rows={entry.name: header_row},
                        sheet_xml={entry.part: head + last_row + tail}, flushed=[entry.name])
    chunks = plan.edits[entry.part]
    if entry.part not in plan.flushed or b"".join(chunks[:2]) != head + last_row:
        return None
    made = edited_members(data, z, {p: c for p, c in plan.edits.items() if p != entry.part})
    made[entry.part] = _appended(old, raw[:cut], size, crc, chunks[2:])
    return made


def _appended(old: Member, kept: memoryview, size: int, crc: int, chunks: list[bytes]
              ) -> Member:
    """``old`` with the compressed bytes ``kept`` (``size`` bytes inflated, CRC ``crc``)
    followed by ``chunks``, the last of them after a full flush again."""
    new = flushed_member(old.name.decode("utf-8"), chunks, None)
    for chunk in chunks:
        crc = fast_zlib.crc32(chunk, crc)
        size += len(chunk)
    raw = bytes(kept) + new.raw
    return replace(old, crc=crc, usize=size, csize=len(raw), raw=raw, method=zipfile.ZIP_DEFLATED,
                   flags=old.flags & ~0x8)



# --------------------------------------------------------------------------------------------
# Retention: the oldest run's rows dropped from the XML, the rest renumbered


class _UnsureError(Exception):
    """The part is not in a shape the drop handles safely."""


_TAIL_ELEMENTS = {b"autoFilter", b"filterColumn", b"filters", b"filter", b"customFilters",
                  b"customFilter", b"dynamicFilter", b"top10", b"colorFilter", b"iconFilter",
                  b"printOptions", b"pageMargins", b"pageSetup", b"headerFooter", b"oddHeader",
                  b"oddFooter", b"evenHeader", b"evenFooter", b"firstHeader", b"firstFooter",
                  b"sheetProtection", b"phoneticPr", b"sheetData", b"worksheet"}
"""What may follow the cells: none of it names a row but the filter's range."""


def _segments(raw: memoryview) -> Iterator[bytes]:
    """The inflated part in pieces that end after a ``</row>``; the last holds the rest."""
    inflater = zlib.decompressobj(-15)
    carry = b""
    for i in range(0, len(raw), _CHUNK):
        buf = carry + inflater.decompress(bytes(raw[i:i + _CHUNK]))
        cut = buf.rfind(b"</row>")
        cut = cut + len(b"</row>") if cut >= 0 else 0
        carry = buf[cut:]
        if cut:
            yield buf[:cut]
    if not inflater.eof or inflater.unused_data:
        raise _UnsureError("the part does not end where the zip says")
    yield carry


def _renumbered(rows: bytes, shift: int) -> bytes:
    """``rows`` (whole ``<row>`` elements) with every row and cell number less ``shift``.

    Whole arrays, not a Python step per reference (a million rows hold nine million): the
    ``r="`` of each ``<row`` and ``<c`` is found, its digits read, and the new number written
    over their end, the digits it no longer needs left out.
    """
    if rows.count(b"<row") != rows.count(b'<row r="'):
        raise _UnsureError("a row whose number is not where xlcrm writes it")
    a = np.frombuffer(rows + b"\0" * 16, dtype=np.uint8)
    eq = np.flatnonzero(a == ord("="))
    eq = eq[(eq >= 5) & (a[eq - 1] == ord("r")) & (a[eq - 2] == ord(" "))
            & (a[eq + 1] == ord('"'))]
    cell = (a[eq - 4] == ord("<")) & (a[eq - 3] == ord("c"))
    row = (a[eq - 6] == ord("<")) & (a[eq - 5] == ord("r")) & (a[eq - 4] == ord("o")) \
        & (a[eq - 3] == ord("w"))
    if not (cell | row).all():  # r="..." in text, or a cell whose r comes after other attributes
        raise _UnsureError("a reference that is not where xlcrm writes it")
    start = eq + 2
    letters = np.zeros(len(start), dtype=np.int64)
    upper = np.ones(len(start), dtype=bool)
    for k in range(3):
        c = a[start + k]
        upper &= (c >= ord("A")) & (c <= ord("Z"))
        letters += upper
    digits_at = start + letters
    value = np.zeros(len(start), dtype=np.int64)
    count = np.zeros(len(start), dtype=np.int64)
    more = np.ones(len(start), dtype=bool)
    for k in range(8):
        c = a[digits_at + k].astype(np.int64)
        more &= (c >= ord("0")) & (c <= ord("9"))
        value = np.where(more, value * 10 + c - ord("0"), value)
        count += more
    if (row & (letters > 0)).any() or ((count < 1) | (count > 7)).any() or \
            (a[digits_at + count] != ord('"')).any():
        raise _UnsureError("a reference that is not a cell or row number")
    new = value - shift
    if (new < 1).any():
        raise _UnsureError("a row that would move above row 1")
    width = 1 + sum((new >= 10 ** k).astype(np.int64) for k in range(1, 7))
    out = a.copy()
    keep = np.ones(len(a), dtype=bool)
    first = digits_at + count - width  # where the new, shorter, number starts
    for j in range(7):
        writes = j < width
        place = 10 ** (width[writes] - 1 - j)
        out[first[writes] + j] = ord("0") + (new[writes] // place) % 10
        drop = j < count - width
        keep[digits_at[drop] + j] = False
    return out[:len(rows)][keep[:len(rows)]].tobytes()


class _Dropper:
    """The rows of a part with the sheet rows ``first``..``last`` left out and those below
    moved up, a segment at a time."""

    def __init__(self, first: int, last: int) -> None:
        self.start = b'<row r="%d"' % first
        self.stop = b'<row r="%d"' % (last + 1)
        self.shift = last - first + 1
        self.state = "before"  # before the dropped rows, in them, after them
        self.last_row = b""

    def rows(self, segment: bytes) -> bytes:
        if b"<f" in segment:  # a formula names cells: it would need renumbering too
            raise _UnsureError("a formula on the sheet")
        out = []
        if self.state == "before":
            i = segment.find(self.start)
            if i < 0:
                out.append(segment)
                segment = b""
            else:
                out.append(segment[:i])
                segment, self.state = segment[i:], "in"
        if self.state == "in":
            j = segment.find(self.stop)
            segment = b"" if j < 0 else segment[j:]
            if j >= 0:
                self.state = "after"
        if self.state == "after" and segment:
            out.append(_renumbered(segment, self.shift))
        kept = b"".join(out)
        row = kept.rfind(b"<row ")
        if row >= 0:
            self.last_row = kept[row:]
        return kept


def _shrunk_filter(tail: bytes, new_last: int) -> bytes:
    names = set(re.findall(rb"</?(?:\w+:)?([A-Za-z0-9]+)\b", tail))
    if not names <= _TAIL_ELEMENTS:
        raise _UnsureError(f"the sheet has {b', '.join(sorted(names - _TAIL_ELEMENTS))!r}")

    def shrink(m: re.Match[bytes]) -> bytes:
        # a filter from the headers down (xlcrm's) ends at the last kept row, then grows
        # with the new rows: over every row, as a rewrite from values sets it
        area = Area.parse(m.group(2).decode())
        if area.first_row != 1 or area.last_row < 2:
            raise _UnsureError("a filter that does not start at the headers")
        return m.group(1) + str(replace(area, last_row=new_last)).encode() + m.group(3)

    return re.sub(rb'(<autoFilter\b[^>]*?\sref=")([^"]*)(")', shrink, tail)


def drop_and_append(data: bytes, sheet: str, dropped: tuple[int, int], last: int,
                    rows: pd.DataFrame, positions: Mapping[str, int], header_row: int
                    ) -> bytes | None:
    """The workbook ``data`` with the sheet rows ``dropped`` (first, last; a run retention
    leaves out) removed from ``sheet``, the rows below them moved up, and ``rows`` appended,
    the kept cells as they are; ``last`` is the sheet's last row. ``None`` when the part is
    not in a shape this handles safely (then rewrite the sheet from values)."""
    z = zipfile.ZipFile(io.BytesIO(data))
    pkg = Package(z)
    entry = next((e for e in pkg.sheets() if e.name.casefold() == sheet.casefold()), None)
    if entry is None or entry.part is None or entry.kind != "worksheet" or \
            sheet_tables(pkg, entry.part) or not header_row < dropped[0] <= dropped[1] <= last:
        return None
    old = raw_member(data, z.getinfo(entry.part))
    if old.method != zipfile.ZIP_DEFLATED:
        return None
    plan: list[AppendPlan] = []
    try:
        new = flushed_member(entry.part, _dropped_chunks(
            data, entry.name, entry.part, memoryview(old.raw), dropped, last, rows, positions,
            header_row, plan), old)
    except _UnsureError:
        return None
    made = edited_members(data, z, {p: c for p, c in plan[0].edits.items() if p != entry.part})
    made[entry.part] = new
    out = io.BytesIO()
    write_zip_replacing(out, data, z, made)
    return out.getvalue()


def _dropped_chunks(data: bytes, sheet: str, part: str, raw: memoryview,
                    dropped: tuple[int, int], last: int, rows: pd.DataFrame,
                    positions: Mapping[str, int], header_row: int, plan: list[AppendPlan]
                    ) -> Iterator[bytes]:
    """The part's new content: head, kept rows renumbered, new rows, then the tail."""
    dropper = _Dropper(*dropped)
    head = b""
    tail = b""
    for segment in _segments(raw):
        if not head:
            data_at = segment.find(b"<sheetData>")
            if data_at < 0 or _MAIN_ROOT not in segment[:data_at]:
                raise _UnsureError("not a worksheet xlcrm can drop rows from")
            end = data_at + len(b"<sheetData>")
            head = re.sub(rb"<dimension\b[^>]*/>", b"", segment[:end])
            yield head
            segment = segment[end:]
        close = segment.find(b"</sheetData>")
        if close >= 0:
            if segment[:close].strip():
                raise _UnsureError("something after the last row")
            tail = segment[close:]
            break
        yield dropper.rows(segment)
    if not tail or not dropper.last_row:
        raise _UnsureError("no tail")
    shift = dropped[1] - dropped[0] + 1
    tail = _shrunk_filter(tail, last - shift)
    found = plan_appends(data, {sheet: rows}, headers={sheet: dict(positions)},
                         header_rows={sheet: header_row},
                         sheet_xml={part: head + dropper.last_row + tail}, flushed=[sheet])
    chunks = found.edits[part]
    if b"".join(chunks[:2]) != head + dropper.last_row:
        raise _UnsureError("the append would change the kept rows")
    plan.append(found)
    yield from chunks[2:]
