"""The package check scans each part's references in one pass and reads it in one thread.

The definition it must keep is the check as it was: the part inflated by zipfile a chunk
of 1 MB at a time, in a second thread (:func:`xlcrm.book.package.inflated_chunks`), and two
scans of each chunk, ``r="([A-Z]{2,3})\\d`` and ``r="[A-Z]{0,3}(\\d{6,})"``, plus ``t="e"``
for error cells. These tests hold the check to that definition, on random text and on
crafted parts: the same :class:`~xlcrm.book.package.PartScan`, the same refusals in the
same words. Two things the check as it was got wrong are corrected (tests at the end): a
reference longer than the 16 bytes the chunks overlap by, cut at a chunk border, was missed,
and a row number of more than 4,300 digits raised int()'s ValueError; a row number now counts
as its value (leading zeros and all, as calamine reads it), up to 10**12.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from decimal import Decimal
from pathlib import Path

import pytest
from hostile import raw_zip
from hypothesis import example, given, settings
from hypothesis import strategies as st

from xlcrm.book import package
from xlcrm.errors import InputError

_OLD_WIDE = re.compile(rb'r="([A-Z]{2,3})\d')
_OLD_BIG = re.compile(rb'r="[A-Z]{0,3}(\d{6,})"')
_TOKENS = [b'r="', b't="e"', b'"', b"=", b"r", b"t", b"e", b"A", b"B", b"Z", b"0", b"1", b"9",
           b"123456", b"000000", b"<", b" ", b"AB", b"XFD", b"/>",
           # whole references, wide or with big rows, and near misses
           b'r="1234567"', b'r="A123456"', b'r="AB123456"', b'r="XFD1048576"', b'r="AB1"',
           b'r="ABCD1"', b'r="12345"', b'r="A12345"', b'r="123456"', b't="s"',
           # leading zeros (calamine reads r="A0005" as A5), long references, huge rows
           b"0" * 20, b'r="A' + b"0" * 30 + b'1234567"', b'r="XFD' + b"0" * 20, b"9" * 13,
           b'r="B' + b"7" * 5000 + b'"', b'r="' + b"0" * 5000 + b'5000"']


def _row(digits: bytes) -> int:
    """A row number as the scan counts it: the value of its digits, up to 10**12."""
    return int(min(Decimal(digits.decode()), package._HUGE_ROW))


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(_TOKENS), max_size=60).map(b"".join))
@example(b'<row r="123456"><c r="A123456"/><c r="AB123456"/><c r="XFD5" t="e"/></row>')
@example(b'<row r="100000"><c r="A1"/><c r="B99999"/></row><row r="1">')
@example(b'<row r="99"><c r="ABCD99"/><c r="AB99x"/><c r="AAA0000001"/><c r="B1234567x"/>')
@example(b'<c r="B' + b"7" * 5000 + b'"/><c r="C' + b"0" * 5000 + b'123456789"/>')
def test_one_pass_finds_the_columns_rows_and_errors_the_two_scans_found(text: bytes) -> None:
    extent = package._Extent()
    extent.scan(text)
    rows = [_row(r) for r in _OLD_BIG.findall(text)]
    assert extent.columns == set(_OLD_WIDE.findall(text))
    assert extent.max_row == max([0, *rows])
    assert extent.errors == (b't="e"' in text)


def _in_pieces(text: bytes, size: int) -> package._Extent:
    """The scan of ``text`` given a piece of ``size`` bytes at a time, each after the first
    with the last bytes of the one before, as the check gives it the chunks it inflates."""
    extent, tail = package._Extent(), b""
    for at in range(0, len(text), size):
        chunk = text[at:at + size]
        extent.scan(tail + chunk)
        tail = chunk[-package._OVERLAP:]
    return extent


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(_TOKENS), max_size=60).map(b"".join), st.integers(16, 120))
@example(b'<c r="A' + b"0" * 30 + b'1234567"/>', 16)
@example(b'<c r="XFD' + b"0" * 5000 + b'1"/>', 100)
def test_pieces_are_scanned_as_the_whole_text_whatever_the_length_of_a_reference(
        text: bytes, size: int) -> None:
    # A reference cut at a border longer than the overlap is carried to the next piece, or
    # across several, whatever its length (leading zeros make it as long as one likes).
    whole = package._Extent()
    whole.scan(text)
    pieces = _in_pieces(text, size)
    assert (pieces.columns, pieces.max_row, pieces.errors) == (
        whole.columns, whole.max_row, whole.errors)


MB = 1 << 20
_HEAD = b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
_TAIL = b"</sheetData></worksheet>"


def _sheet(at: dict[int, bytes], size: int) -> bytes:
    """A well-formed sheet of about ``size`` bytes with each fragment starting at its
    offset of the inflated part (white space between them)."""
    out = bytearray(_HEAD)
    for offset, fragment in sorted(at.items()):
        out += b" " * (offset - len(out)) + fragment
    return bytes(out + b" " * max(0, size - len(out)) + _TAIL)


# Each sheet: fragments placed across the 1 MB borders of the chunks the check reads, and the
# PartScan the check must give (cells: largest row, at least 99,999, times widest column).
SHEETS = {
    "a wide column and a big row cut at chunk borders, an error cell cut at another": (
        {MB - 7: b'<row r="7"><c r="AB123456"/></row>',
         2 * MB - 3: b'<row r="8"><c r="E8" t="e"><v>#N/A</v></c></row>'},
        3 * MB, package.PartScan(123_456 * 28, True)),
    "XFD and a seven-digit row, no error": (
        {100: b'<row r="9"><c r="XFD9"/></row>',
         MB + 40: b'<row r="2000000"><c r="C2000000"/></row>',
         MB + 500: b'<row r="10"><c r="D10" t="s"><v>0</v></c></row>'},
        2 * MB + 123, package.PartScan(2_000_000 * 16_384, False)),
    "only small references": (
        {200: b'<row r="1"><c r="A1"/><c r="Z99999"/></row>'}, MB,
        package.PartScan(99_999 * 26, False)),
}


class _OldExtent(package._Extent):
    """The scan as it was: two patterns and the bytes' own search."""

    def scan(self, text: bytes) -> None:
        self.errors = self.errors or b't="e"' in text
        self.columns.update(_OLD_WIDE.findall(text))
        rows = _OLD_BIG.findall(text)
        if rows:
            self.max_row = max(self.max_row, *map(int, rows))


def _outcome(z: zipfile.ZipFile, info: zipfile.ZipInfo) -> object:
    """What the check of one part ends in: its PartScan (or None), or the refusal's words."""
    try:
        return package._check_part(z, info, "b.xlsm")
    except InputError as exc:
        return str(exc)


def _old_outcome(z: zipfile.ZipFile, info: zipfile.ZipInfo,
                 monkeypatch: pytest.MonkeyPatch) -> object:
    """The same, by the old definition: two scans, zipfile reading ahead in a thread."""
    threaded = package.inflated_chunks
    with monkeypatch.context() as m:
        m.setattr(package, "_Extent", _OldExtent)
        m.setattr(package, "inflated_chunks", lambda z, info, size=package._CHUNK, *, ahead=True:
                  threaded(z, info, size))
        return _outcome(z, info)


def _zip(members: list[tuple[str, bytes, int, int, int]]
         ) -> tuple[zipfile.ZipFile, zipfile.ZipInfo]:
    z = zipfile.ZipFile(io.BytesIO(raw_zip(members)))
    return z, z.infolist()[0]


def _deflated(body: bytes) -> bytes:
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    return c.compress(body) + c.flush()


_PART = "xl/worksheets/sheet1.xml"


@pytest.mark.parametrize("kind", sorted(SHEETS))
def test_references_cut_at_chunk_borders_are_found_as_before(
        kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    at, size, expected = SHEETS[kind]
    body = _sheet(at, size)
    for offset, fragment in at.items():
        assert body[offset:offset + len(fragment)] == fragment
    z, info = _zip([(_PART, _deflated(body), zlib.crc32(body), len(body), 8)])
    chunks = list(package.inflated_chunks(z, info, ahead=False))
    assert chunks == list(package.inflated_chunks(z, info))  # in this thread or another
    assert [len(c) for c in chunks[:-1]] == [MB] * (len(chunks) - 1)
    assert _outcome(z, info) == expected == _old_outcome(z, info, monkeypatch)


_BODY = _sheet({MB - 4: b'<row r="3"><c r="AA3" t="e"><v>#REF!</v></c></row>'}, 2 * MB + 9)
_COMP = _deflated(_BODY)
_CRC = zlib.crc32(_BODY)
_CUT = _COMP[: len(_COMP) // 2]
_CUT_OUT = (lambda d: d.decompress(_CUT) + d.flush())(zlib.decompressobj(-15))
_DTD = b"<!DOCTYPE x [<!ENTITY a 'b'>]>" + _BODY[:200]
# A dynamic-Huffman block inflating to b"AA" whose literal/length code is incomplete (the
# literal "A" and the end of block, two bits each): zlib refuses it, as the check must; more
# lenient inflaters such as ISA-L's accept it (see the test below).
_INCOMPLETE_CODE = bytes.fromhex("05e0010900000080206cebffa90401")

# name -> (members of the zip (name, compressed, crc, declared size, method), expected outcome:
# a PartScan, or words the refusal holds)
ODD = {
    "sound": ([(_PART, _COMP, _CRC, len(_BODY), 8)], package.PartScan(99_999 * 27, True)),
    "CRC flipped": ([(_PART, _COMP, _CRC ^ 1, len(_BODY), 8)], "Bad CRC-32"),
    "stream cut short": ([(_PART, _CUT, _CRC, len(_BODY), 8)], "is corrupt"),
    "stream cut short, CRC and size of what it gives": (
        [(_PART, _CUT, zlib.crc32(_CUT_OUT), len(_CUT_OUT), 8)], "not well-formed XML"),
    "data after the stream": ([(_PART, _COMP + b"trailing", _CRC, len(_BODY), 8)],
                              package.PartScan(99_999 * 27, True)),
    "declared size too small": ([(_PART, _COMP, _CRC, len(_BODY) - 100, 8)], "Bad CRC-32"),
    "declared size too small, CRC of what zipfile reads": (
        [(_PART, _COMP, zlib.crc32(_BODY[:-100]), len(_BODY) - 100, 8)], "not well-formed"),
    "declared size too large": ([(_PART, _COMP, _CRC, len(_BODY) + 100, 8)],
                                package.PartScan(99_999 * 27, True)),
    "stored": ([(_PART, _BODY, _CRC, len(_BODY), 0)], package.PartScan(99_999 * 27, True)),
    "incomplete Huffman code": (
        [("xl/printerSettings/printerSettings1.bin", _INCOMPLETE_CODE, zlib.crc32(b"AA"), 2,
          8)], "invalid literal/lengths set"),
    "a DTD": ([(_PART, _deflated(_DTD), zlib.crc32(_DTD), len(_DTD), 8)],
              "document type declaration"),
}


@pytest.mark.parametrize("kind", sorted(ODD))
def test_odd_parts_are_judged_as_before(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    members, expected = ODD[kind]
    z, info = _zip(members)
    new = _outcome(z, info)
    assert new == _old_outcome(z, info, monkeypatch)
    if isinstance(expected, str):
        assert isinstance(new, str) and expected in new and "\n" not in new, new
    else:
        assert new == expected


def test_the_incomplete_code_is_taken_by_a_lenient_inflater() -> None:
    # Why the check inflates with zlib (through zipfile) and not ISA-L, twice as fast: the
    # part refused above would pass, and zipfile would meet it in a later step.
    isal_zlib = pytest.importorskip("isal.isal_zlib")
    assert isal_zlib.decompress(_INCOMPLETE_CODE, -15) == b"AA"
    with pytest.raises(zlib.error):
        zlib.decompress(_INCOMPLETE_CODE, -15)


# --------------------------------------------------------------------------------------------
# calamine opens the workbook beside the check of the sheets' parts, never before the parts
# it opens have passed


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    from xlcrm.book.workbook_file import create_demo_workbook

    path = tmp_path_factory.mktemp("demo") / "CRM.xlsm"
    create_demo_workbook(path, customers=40, seed=3)
    return path.read_bytes()


def test_calamine_opening_a_workbook_reads_none_of_its_sheets(demo: bytes) -> None:
    # What makes opening it beside the check of the sheets safe: every sheet's stream is
    # made garbage (an invalid deflate block), and the workbook still opens.
    import python_calamine
    from hostile import parts_of

    parts = parts_of(demo)
    sheets = {name for name in parts if name.startswith("xl/worksheets/sheet")}
    members = [(name, b"\xff" * 64 if name in sheets else _deflated(body),
                zlib.crc32(body), len(body), 8) for name, body in parts.items()]
    book = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(raw_zip(members)))
    assert "Customers" in book.sheet_names
    with pytest.raises(Exception):  # noqa: B017  (calamine's error types vary)
        book.get_sheet_by_name("Customers").to_python()


def test_the_sheets_parts_are_checked_after_every_other_part(
        demo: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    from hostile import parts_of, sheet_part

    from xlcrm import schema

    order: list[str] = []
    check_part = package._check_part

    def recorded(z: zipfile.ZipFile, info: zipfile.ZipInfo, label: str,
                 keep: list[bytes] | None = None) -> object:
        order.append(info.filename)
        return check_part(z, info, label, keep)

    monkeypatch.setattr(package, "_check_part", recorded)
    package.check_package(demo, "CRM.xlsm", overwritten=schema.RESULT_SHEETS,
                          book_parts_checked=lambda: order.append("(opened)")).wait()
    parts = parts_of(demo)
    sheets = {sheet_part(parts, s) for s in ("Customers", "Transactions", "Indicators")}
    opened = order.index("(opened)")
    assert sheets <= set(order[opened + 1:])
    assert {"xl/workbook.xml", "xl/styles.xml", "xl/theme/theme1.xml", "[Content_Types].xml",
            "xl/_rels/workbook.xml.rels"} <= set(order[:opened])
    assert not {name for name in order[:opened] if name.startswith("xl/worksheets/sheet")}
    assert not {sheet_part(parts, s) for s in schema.RESULT_SHEETS} & set(order)


def test_a_refused_sheet_leaves_no_reader_opening(demo: bytes, tmp_path: Path) -> None:
    import threading

    from hostile import crc_corrupt

    from xlcrm.book.read import Workbook

    book = tmp_path / "CRM.xlsm"
    book.write_bytes(crc_corrupt(demo))
    before = threading.active_count()
    opened: list[object] = []
    check = package.check_package

    def watched(*args: object, **kw: object) -> object:
        kw["book_parts_checked"] = lambda f=kw["book_parts_checked"]: (opened.append(1), f())
        return check(*args, **kw)

    with pytest.MonkeyPatch.context() as m:
        m.setattr("xlcrm.book.read.check_package", watched)
        with pytest.raises(InputError, match="Bad CRC-32"):
            Workbook(book)
    assert opened == [1]  # calamine was opening when the Customers part was refused
    assert threading.active_count() == before


# --------------------------------------------------------------------------------------------
# What the check as it was got wrong: a long reference cut at a chunk border, a row number
# of thousands of digits


_LONG = b'r="A000000001234567890"'  # 23 bytes: calamine reads it as A1234567890
_ZEROS = b'r="XFD' + b"0" * 5000 + b'1234567890"'


@pytest.mark.parametrize(("ref", "before"), [
    (_LONG, 17), (_LONG, 18), (_LONG, 21), (_LONG, 22),
    (_ZEROS, 17), (_ZEROS, 1000), (_ZEROS, 5009), (_ZEROS, 5016),
    (b'r="A' + b"0" * (MB + 200) + b'1234567890"', 17),  # across two borders
], ids=lambda v: f"{len(v)} bytes" if isinstance(v, bytes) else f"{v} before the border")
def test_a_reference_longer_than_the_overlap_cut_at_a_chunk_border_is_found(
        ref: bytes, before: int) -> None:
    # ``r="`` starts ``before`` bytes before the first 1 MB border of the inflated part.
    body = _sheet({MB - before - 8: b'<row><c ' + ref + b'><v>1</v></c></row>'}, 3 * MB)
    assert body[MB - before:MB - before + 3] == b'r="'
    z, info = _zip([(_PART, _deflated(body), zlib.crc32(body), len(body), 8)])
    width = 16_384 if ref.startswith(b'r="XFD') else 26
    assert _outcome(z, info) == package.PartScan(1_234_567_890 * width, False)


@pytest.mark.parametrize(("digits", "row"), [
    (b"0" * 30 + b"5000", 5000),  # leading zeros count for nothing
    (b"0" * 5000 + b"1048576", 1_048_576),
    (b"0" * 4 + b"1234567890123", package._HUGE_ROW),  # 13 digits: beyond any grid
    (b"1" * 5000, package._HUGE_ROW),  # more than int() reads
], ids=["zeros, 5000", "5000 zeros, 1048576", "13 digits", "5000 digits"])
def test_a_row_number_counts_as_its_value_and_a_huge_one_is_huge(digits: bytes, row: int
                                                                 ) -> None:
    body = _sheet({200: b'<row><c r="B' + digits + b'"><v>1</v></c></row>'}, 2 * MB)
    z, info = _zip([(_PART, _deflated(body), zlib.crc32(body), len(body), 8)])
    assert _outcome(z, info) == package.PartScan(max(row, 99_999) * 26, False)


def test_a_large_ledger_is_bounded_as_before(monkeypatch: pytest.MonkeyPatch) -> None:
    # 150,000 rows of four cells up to column AB: rows of six digits cut at every border.
    body = _HEAD + b"".join(
        b'<row r="%d"><c r="A%d"><v>%d</v></c><c r="B%d" t="s"><v>0</v></c><c r="T%d">'
        b'<v>1.5</v></c><c r="AB%d" t="e"><v>#N/A</v></c></row>' % ((r,) * 6)
        for r in range(1, 150_001)) + _TAIL
    assert len(body) > 20 * MB
    z, info = _zip([(_PART, _deflated(body), zlib.crc32(body), len(body), 8)])
    expected = package.PartScan(150_000 * 28, True)
    assert _outcome(z, info) == expected == _old_outcome(z, info, monkeypatch)
