"""Zip members: a workbook's parts copied with their compressed bytes, or deflated anew.

The writers (:mod:`xlcrm.book.write`, :mod:`xlcrm.book.append`, :mod:`xlcrm.book.share`
and the History append) rewrite a workbook part by part: every part they leave alone is
copied as its stored bytes (:func:`raw_member`, never inflated), a new part is deflated
(:func:`new_member`, :class:`Deflater` on a second core), and :func:`write_zip` writes them
in order with a central directory.
"""

from __future__ import annotations

import io
import queue
import struct
import threading
import zipfile
import zlib
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from xlcrm.book.sheet_worker import Deflated
from xlcrm.errors import InputError

# Deflate of regenerated parts. ISA-L (the isal package, wheels for Linux, macOS and 64-bit
# Windows on x86-64 and ARM) at its level 2 deflates result-sheet XML ~6x as fast as zlib at
# level 3 into parts of the same size (96 MB Scores sheet of 100 000 customers: 0.65 s and
# 22.2 MB against 3.8 s and 22.4 MB; zlib's default 6: 6.0 s, 20.2 MB). Without it, zlib at
# level 1: ~1.8x as fast as level 3 for parts 5-9 % larger. See docs/PERFORMANCE.md.
try:
    from isal import isal_zlib as fast_zlib

    COMPRESS_LEVEL = 2
except ImportError:  # no wheel for this platform (32-bit Windows, Pyodide)
    fast_zlib = zlib  # type: ignore[no-redef]
    COMPRESS_LEVEL = 1


@dataclass
class Member:
    """One zip member: its local header's fields and its compressed bytes."""

    name: bytes
    flags: int
    method: int
    dostime: int
    dosdate: int
    crc: int
    csize: int
    usize: int
    raw: bytes | memoryview
    create_version: int = 20
    create_system: int = 0
    extract_version: int = 20
    internal_attr: int = 0
    external_attr: int = 0
    comment: bytes = b""


def _dos_datetime(dt: tuple[int, int, int, int, int, int]) -> tuple[int, int]:
    y, mo, d, h, mi, s = dt
    return (h << 11) | (mi << 5) | (s // 2), ((max(y, 1980) - 1980) << 9) | (mo << 5) | d


def raw_member(data: bytes | memoryview, info: zipfile.ZipInfo) -> Member:
    """A zip member with its compressed bytes, read straight from the archive."""
    if info.flag_bits & 0x1:
        raise InputError(
            f"part {info.filename} of the workbook is encrypted inside the zip",
            fix="Save the workbook again from Excel without a password.",
        )
    offset = info.header_offset
    sig, *_, nlen, xlen = struct.unpack_from("<IHHHHHIIIHH", data, offset)
    if sig != 0x04034B50:
        raise InputError(
            f"the workbook's zip structure is damaged (part {info.filename})",
            fix="Open the workbook in Excel and save it again, or restore a backup.",
        )
    start = offset + 30 + nlen + xlen
    raw = memoryview(data)[start : start + info.compress_size]  # no copy
    dostime, dosdate = _dos_datetime(info.date_time)
    utf8 = bool(info.flag_bits & 0x800)
    return Member(
        name=info.filename.encode("utf-8" if utf8 else "cp437"),
        # Bit 3 (sizes in a trailing descriptor) is cleared: the sizes go in the header.
        flags=info.flag_bits & ~0x8,
        method=info.compress_type,
        dostime=dostime,
        dosdate=dosdate,
        crc=info.CRC,
        csize=info.compress_size,
        usize=info.file_size,
        raw=raw,
        create_version=info.create_version,
        create_system=info.create_system,
        extract_version=max(info.extract_version, 20),
        internal_attr=info.internal_attr,
        external_attr=info.external_attr,
        comment=info.comment,
    )


SYNC = b"\x00\x00\xff\xff"  # what a full flush ends with (an empty stored block)
TAIL_BYTES = 1 << 16
"""What a sheet part's stretch after its last full flush (the tail after the cells: filter,
margins, ...) compresses to at most, for :func:`flushed_tail`."""


def flushed_tail(raw: bytes | memoryview, fits: Callable[[bytes], bool]
                 ) -> tuple[int, bytes] | None:
    """Where the last stretch of deflated ``raw`` starts after a full flush, and that
    stretch inflated on its own; ``None`` unless a flush marker near the end is followed by
    bytes that inflate on their own to the end of the stream, to a text that ``fits``.

    xlcrm deflates a sheet part with a full flush just before ``</sheetData>`` (see
    :class:`Deflater`'s ``flush_before_last``): the cells can then be skipped, neither
    inflated nor trusted, by whoever needs only what follows them.
    """
    start = max(0, len(raw) - TAIL_BYTES)
    window = bytes(raw[start:])
    at = len(window)
    for _ in range(16):
        at = window.rfind(SYNC, 0, at)
        if at < 0:
            return None
        cut = start + at + len(SYNC)
        inflater = zlib.decompressobj(-15)
        try:
            tail = inflater.decompress(bytes(raw[cut:]), TAIL_BYTES * 64)
        except zlib.error:
            continue
        if inflater.eof and not inflater.unused_data and not inflater.unconsumed_tail and \
                fits(tail):
            return cut, tail
    return None


class Deflater:
    """Deflate and checksum a part's chunks, from the second chunk on in a thread of its own.

    ISA-L and zlib release Python's lock while they compress, so a second core deflates one
    chunk while the caller makes the next: at 100,000 customers that hides most of the
    0.5 s the Scores and Segments parts take to deflate. The queue holds a few chunks at
    most (memory stays bounded); a part of one chunk is deflated in the caller's thread.
    """

    _QUEUED = 4

    def __init__(self, *, flush_before_last: bool = False) -> None:
        # flush_before_last: the stream fully flushed before the last chunk, which then
        # refers to nothing before it (see SheetData.appendable)
        self._last: bytes | None = None
        self._hold = flush_before_last
        self._comp = fast_zlib.compressobj(COMPRESS_LEVEL, zlib.DEFLATED, -15)
        self.crc = 0
        self.usize = 0
        self._parts: list[bytes] = []
        self._first: bytes | None = None
        self._queue: queue.Queue[bytes | None] | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def add(self, chunk: bytes) -> None:
        if self._hold:  # one chunk behind: the last is deflated after the flush
            chunk, self._last = self._last, chunk
            if chunk is None:
                return
        if self._queue is None:
            if self._first is None:
                self._first = chunk
                return
            self._queue = queue.Queue(self._QUEUED)
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
            self._queue.put(self._first)
            self._first = None
        if self._error is not None:
            raise self._error
        self._queue.put(chunk)

    def _take(self, chunk: bytes) -> None:
        self.crc = fast_zlib.crc32(chunk, self.crc)
        self.usize += len(chunk)
        self._parts.append(self._comp.compress(chunk))

    def _run(self) -> None:
        assert self._queue is not None
        while (chunk := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._take(chunk)
                except BaseException as exc:  # raised in the caller's thread
                    self._error = exc

    def stop(self) -> None:
        """End the thread (after the last chunk, or when making a chunk failed)."""
        if self._thread is not None:
            assert self._queue is not None
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    def finish(self) -> bytes:
        """The deflated bytes of every chunk added."""
        self.stop()
        if self._error is not None:
            raise self._error
        if self._first is not None:
            self._take(self._first)
            self._first = None
        if self._hold:
            self._parts.append(self._comp.flush(fast_zlib.Z_FULL_FLUSH))
            if self._last is not None:
                self._take(self._last)
        self._parts.append(self._comp.flush())
        return b"".join(self._parts)


def new_member(name: str, chunks: Iterable[bytes], like: Member | None) -> Member:
    """A deflated member from ``chunks``; date, time and attributes copied from ``like``."""
    return member(name, deflated(chunks), like)


def deflated(chunks: Iterable[bytes], *, flush_before_last: bool = False) -> Deflated:
    """``chunks`` deflated (see :class:`Deflater`), with their CRC-32 and size."""
    deflater = Deflater(flush_before_last=flush_before_last)
    try:
        for chunk in chunks:
            deflater.add(chunk)
        raw = deflater.finish()
    finally:
        deflater.stop()
    return Deflated(deflater.crc, deflater.usize, raw)


def member(name: str, made: Deflated, like: Member | None) -> Member:
    """The member of deflated bytes ``made``; date, time and attributes copied from ``like``."""
    crc, usize, raw = made.crc, made.usize, made.raw
    encoded = name.encode("utf-8")
    flags = 0x800 if not name.isascii() else 0
    if like is None:
        dostime, dosdate = _dos_datetime((1980, 1, 1, 0, 0, 0))
        return Member(encoded, flags, zipfile.ZIP_DEFLATED, dostime, dosdate, crc, len(raw),
                       usize, raw)
    return Member(
        encoded, flags | (like.flags & 0x800), zipfile.ZIP_DEFLATED, like.dostime, like.dosdate,
        crc, len(raw), usize, raw, like.create_version, like.create_system, 20,
        like.internal_attr, like.external_attr, b"",
    )


def write_zip(out: io.BufferedWriter, members: Sequence[Member], comment: bytes) -> None:
    """Write ``members`` in order, then the central directory and the zip ``comment``."""
    if len(members) >= 0xFFFF:
        raise InputError(
            "the workbook has too many parts for xlcrm to rewrite (65 535 or more)",
            fix="Split the workbook.",
        )
    central = []
    offset = 0
    for m in members:
        if max(m.csize, m.usize, offset) >= 0xFFFFFFFF:
            raise InputError(
                "the workbook is larger than 4 GB, which xlcrm cannot rewrite",
                fix="Move old transactions to an archive workbook.",
            )
        header = struct.pack(
            "<IHHHHHIIIHH", 0x04034B50, m.extract_version, m.flags, m.method, m.dostime,
            m.dosdate, m.crc, m.csize, m.usize, len(m.name), 0,
        )
        out.write(header)
        out.write(m.name)
        out.write(m.raw)
        central.append(
            struct.pack(
                "<IBBHHHHHIIIHHHHHII", 0x02014B50, m.create_version, m.create_system,
                m.extract_version, m.flags, m.method, m.dostime, m.dosdate, m.crc, m.csize,
                m.usize, len(m.name), 0, len(m.comment), 0, m.internal_attr, m.external_attr,
                offset,
            )
            + m.name
            + m.comment
        )
        offset += len(header) + len(m.name) + len(m.raw)
    cd = b"".join(central)
    out.write(cd)
    out.write(
        struct.pack(
            "<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(cd), offset,
            len(comment),
        )
    )
    out.write(comment)


def edited_members(data: bytes | memoryview, z: zipfile.ZipFile,
                   edits: Mapping[str, Iterable[bytes]]) -> dict[str, Member]:
    """New members for the parts of workbook ``data`` (opened as ``z``) that ``edits`` gives
    new content for (zip name -> chunks), each dated and attributed as the part it replaces."""
    return {name: new_member(name, chunks, raw_member(data, z.getinfo(name)))
            for name, chunks in edits.items()}


def write_zip_replacing(out: io.BufferedWriter | io.BytesIO, data: bytes | memoryview,
                        z: zipfile.ZipFile, new: Mapping[str, Member], *,
                        removed: Collection[str] = ()) -> None:
    """Write workbook ``data`` (opened as ``z``) to ``out`` with the members ``new`` (by zip
    name) in place of its parts of those names and the parts ``removed`` left out; every
    other part is copied with its compressed bytes, in the zip's order."""
    members = [new[info.filename] if info.filename in new else raw_member(data, info)
               for info in z.infolist() if info.filename not in removed]
    write_zip(out, members, z.comment)  # type: ignore[arg-type]
