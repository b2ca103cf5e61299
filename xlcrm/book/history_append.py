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
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import replace

import pandas as pd

from xlcrm.book.append import flushed_member, plan_appends, sheet_tables
from xlcrm.book.read import Package
from xlcrm.book.write import (
    _deflate,
    _Member,
    _new_member,
    _raw_member,
    _write_zip,
)

_SYNC = b"\x00\x00\xff\xff"  # what a full flush ends with (an empty stored block)
_FINAL_EMPTY = b"\x01\x00\x00\xff\xff"  # an empty final stored block
_TAIL_BYTES = 1 << 16
"""The tail of a History part (filter, margins, ...) compresses to far less than this."""
_CHUNK = 1 << 20


def _tail_at(raw: memoryview) -> tuple[int, bytes] | None:
    """Where the part's tail starts after a full flush, and the tail; ``None`` when no flush
    marker near the end is followed by a tail that inflates on its own."""
    start = max(0, len(raw) - _TAIL_BYTES)
    window = bytes(raw[start:])
    at = len(window)
    for _ in range(16):
        at = window.rfind(_SYNC, 0, at)
        if at < 0:
            return None
        cut = start + at + len(_SYNC)
        inflater = zlib.decompressobj(-15)
        try:
            tail = inflater.decompress(bytes(raw[cut:]), _TAIL_BYTES * 64)
        except zlib.error:
            continue
        if inflater.eof and not inflater.unused_data and not inflater.unconsumed_tail and \
                tail.startswith(b"</sheetData>") and b"<row" not in tail:
            return cut, tail
    return None


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
        last = (last + out)[-_TAIL_BYTES:]
    if inflater.eof or inflater.unconsumed_tail:
        return None
    probe = inflater.copy()
    if probe.decompress(_FINAL_EMPTY) != b"" or not probe.eof:
        return None
    data = head.find(b"<sheetData>")
    row = last.rfind(b"<row ")
    if data < 0 or row < 0 or not last.endswith(b"</row>") or \
            b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"' \
            not in head[:data]:
        return None
    return head[:data + len(b"<sheetData>")], last[row:], size, crc


def append_history(data: bytes, sheet: str, rows: pd.DataFrame, positions: Mapping[str, int],
                   header_row: int) -> bytes | None:
    """The workbook ``data`` with ``rows`` appended to ``sheet`` (History), the earlier
    rows' compressed bytes kept; ``None`` when the part is not one xlcrm wrote to be
    appended to, or anything about it is unsure (then append as before)."""
    z = zipfile.ZipFile(io.BytesIO(data))
    pkg = Package(z)
    entry = next((e for e in pkg.sheets() if e.name.casefold() == sheet.casefold()), None)
    if entry is None or entry.part is None or entry.kind != "worksheet" or \
            sheet_tables(pkg, entry.part):
        return None
    info = z.getinfo(entry.part)
    old = _raw_member(data, info)
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
    members: list[_Member] = []
    for part in z.infolist():
        like = _raw_member(data, part)
        if part.filename == entry.part:
            members.append(_appended(old, raw[:cut], size, crc, chunks[2:]))
        elif part.filename in plan.edits:
            members.append(_new_member(part.filename, plan.edits[part.filename], like))
        else:
            members.append(like)
    out = io.BytesIO()
    _write_zip(out, members, z.comment)  # type: ignore[arg-type]
    return out.getvalue()


def _appended(old: _Member, kept: memoryview, size: int, crc: int, chunks: list[bytes]
              ) -> _Member:
    """``old`` with the compressed bytes ``kept`` (``size`` bytes inflated, CRC ``crc``)
    followed by ``chunks``, the last of them after a full flush again."""
    new = flushed_member(old.name.decode("utf-8"), chunks, None)
    for chunk in chunks:
        crc = _deflate.crc32(chunk, crc)
        size += len(chunk)
    raw = bytes(kept) + new.raw
    return replace(old, crc=crc, usize=size, csize=len(raw), raw=raw, method=zipfile.ZIP_DEFLATED,
                   flags=old.flags & ~0x8)

