"""Hostile and broken workbooks, generated on the fly from a sound one (small on disk).

Each generator takes the bytes of a sound workbook (the demo) and returns the bytes of a
damaged or hostile one, as a careful tester (or an attacker, or a crashed program) makes
them: parts missing, XML malformed or carrying DTDs and entity bombs, checksums wrong,
duplicate members, dangling relationships, zip bombs whose declared sizes are honest and
ones whose declared sizes lie, a <dimension> that lies. :data:`BROKEN` lists them by name;
:data:`ODD_LEDGERS` lists sound packages whose ledger is odd but real (a second table below
tblCustomers, Excel error values, over-long text, non-characters).

Zip bombs are written by hand (:func:`raw_zip`): the deflate stream of a part inflating to
gigabytes is one compressed megabyte repeated (full flushes make the segments independent),
and its CRC is combined arithmetically, so making a 6 GB bomb takes milliseconds and 6 MB.
"""

from __future__ import annotations

import functools
import io
import re
import struct
import zipfile
import zlib
from collections.abc import Callable

from fixtures.books import read_parts, sheet_part

GIB = 1 << 30
# A megabyte of rows of one value each (no row numbers, as streaming writers omit them): a
# reader that inflates it builds a cell per 25 bytes.
_ROW = b"<row><c><v>1</v></c></row>"
CHUNK = _ROW * ((1 << 20) // len(_ROW))


# --------------------------------------------------------------------------------------------
# Zip plumbing


def parts_of(data: bytes) -> dict[str, bytes]:
    """Uncompressed bytes of every part of the workbook ``data``."""
    return read_parts(data)


def zip_of(parts: dict[str, bytes] | list[tuple[str, bytes]], *, stored: bool = False) -> bytes:
    out = io.BytesIO()
    method = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    items = parts.items() if isinstance(parts, dict) else parts
    with zipfile.ZipFile(out, "w", method) as z:
        for name, data in items:
            z.writestr(name, data)
    return out.getvalue()


def _gf2_times(mat: list[int], vec: int) -> int:
    out, i = 0, 0
    while vec:
        if vec & 1:
            out ^= mat[i]
        vec >>= 1
        i += 1
    return out


def crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """CRC-32 of A+B from crc(A), crc(B) and len(B) (zlib's crc32_combine, in Python)."""
    if len2 <= 0:
        return crc1
    odd = [0xEDB88320] + [1 << n for n in range(31)]
    even = [_gf2_times(odd, odd[n]) for n in range(32)]
    odd = [_gf2_times(even, even[n]) for n in range(32)]
    while True:
        even = [_gf2_times(odd, odd[n]) for n in range(32)]
        if len2 & 1:
            crc1 = _gf2_times(even, crc1)
        len2 >>= 1
        if not len2:
            break
        odd = [_gf2_times(even, even[n]) for n in range(32)]
        if len2 & 1:
            crc1 = _gf2_times(odd, crc1)
        len2 >>= 1
        if not len2:
            break
    return crc1 ^ crc2


def _segment(data: bytes, final: bool) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush(zlib.Z_FINISH if final else zlib.Z_FULL_FLUSH)


def repeated_member(prefix: bytes, n: int, suffix: bytes) -> tuple[bytes, int, int]:
    """Raw deflate of ``prefix + CHUNK * n + suffix``: (compressed, crc, size), made fast."""
    compressed = _segment(prefix, False) + _segment(CHUNK, False) * n + _segment(suffix, True)
    crc, power, plen = zlib.crc32(prefix), zlib.crc32(CHUNK), len(CHUNK)
    k = n
    while k:
        if k & 1:
            crc = crc32_combine(crc, power, plen)
        power = crc32_combine(power, power, plen)
        plen *= 2
        k >>= 1
    crc = crc32_combine(crc, zlib.crc32(suffix), len(suffix))
    return compressed, crc, len(prefix) + n * len(CHUNK) + len(suffix)


def raw_zip(members: list[tuple[str, bytes, int, int, int]]) -> bytes:
    """A zip of raw deflated members ``(name, compressed, crc, declared_size, method)``.

    Sizes past 4 GB get ZIP64 extra fields. Nothing is checked: sizes may lie on purpose.
    """
    out = io.BytesIO()
    central = []
    for name, comp, crc, size, method in members:
        offset = out.tell()
        big = size >= 0xFFFFFFFF or len(comp) >= 0xFFFFFFFF
        extra = struct.pack("<HHQQ", 1, 16, size, len(comp)) if big else b""
        s32, c32 = (0xFFFFFFFF, 0xFFFFFFFF) if big else (size, len(comp))
        raw_name = name.encode()
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, method, 0, 0x21, crc, c32,
                              s32, len(raw_name), len(extra)) + raw_name + extra + comp)
        central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, method, 0,
                                   0x21, crc, c32, s32, len(raw_name), len(extra), 0, 0, 0,
                                   0, offset) + raw_name + extra)
    start = out.tell()
    cd = b"".join(central)
    out.write(cd)
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(cd),
                          start, 0))
    return out.getvalue()


@functools.lru_cache(maxsize=8)
def bomb(data: bytes, *, part: str | None = None, gib: int = 6, honest: bool = True) -> bytes:
    """The workbook with ``part`` (default: the Customers sheet) inflating to ``gib`` GB.

    The part gains gigabytes of rows (:data:`CHUNK`). ``honest``: the zip declares
    that size; otherwise it declares the part's original size (a lie zip readers must catch).
    """
    parts = parts_of(data)
    part = part or sheet_part(parts, "Customers")
    xml = parts[part]
    members = []
    for name, body in parts.items():
        if name != part:
            members.append((name, _segment(body, True), zlib.crc32(body), len(body), 8))
            continue
        if b"</sheetData>" in xml:
            i = xml.index(b"</sheetData>")
            prefix, suffix = xml[:i], xml[i:]
        else:  # any other XML part: a comment after the root element's start
            i = xml.index(b">", xml.index(b"<", xml.index(b"?>") + 2 if b"?>" in xml else 0)) + 1
            prefix, suffix = xml[:i] + b"<!--", b"-->" + xml[i:]
        comp, crc, size = repeated_member(prefix, -(-gib * GIB // len(CHUNK)), suffix)
        members.append((name, comp, crc, size if honest else len(xml), 8))
    return raw_zip(members)


# --------------------------------------------------------------------------------------------
# Broken and hostile packages


def _edit(data: bytes, fn: Callable[[dict[str, bytes]], None]) -> bytes:
    parts = parts_of(data)
    fn(parts)
    return zip_of(parts)


def _customers(parts: dict[str, bytes]) -> str:
    return sheet_part(parts, "Customers")


def _drop(name_of: Callable[[dict[str, bytes]], str]) -> Callable[[bytes], bytes]:
    return lambda data: _edit(data, lambda p: p.pop(name_of(p)))


LAUGHS = (b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
          + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;")
                                                 * 10) for i in range(1, 10))
          + b"]>\n")
XXE = b'<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'


def _with_dtd(name_of: Callable[[dict[str, bytes]], str], dtd: bytes, use: bytes
              ) -> Callable[[bytes], bytes]:
    def edit(parts: dict[str, bytes]) -> None:
        name = name_of(parts)
        xml = re.sub(rb"^<\?xml[^>]*\?>\s*", b"", parts[name])
        # Use the entity in the first text or attribute value we can find.
        xml = re.sub(rb'(<\w[^>]*?name=")', rb"\1" + use, xml, count=1) if use else xml
        parts[name] = dtd + xml

    return lambda data: _edit(data, edit)


def _scores(parts: dict[str, bytes]) -> str:
    return sheet_part(parts, "Scores")


def _truncate_sheet(parts: dict[str, bytes]) -> None:
    name = _customers(parts)
    parts[name] = parts[name][: len(parts[name]) // 2]


def crc_corrupt(data: bytes, sheet: str = "Customers") -> bytes:
    """One byte of ``sheet``'s cell data changed in a stored zip: still well formed, its
    checksum wrong (for Scores: a sheet resegment writes over without reading)."""
    parts = parts_of(data)
    name = sheet_part(parts, sheet)
    raw = bytearray(zip_of(parts, stored=True))
    xml = parts[name]
    at = raw.find(xml) + xml.index(b"<sheetData") + 40
    raw[at] = ord("Z") if raw[at] != ord("Z") else ord("Y")
    return bytes(raw)


def _duplicate_member(data: bytes) -> bytes:
    parts = parts_of(data)
    items = list(parts.items())
    name = _customers(parts)
    items.append((name, parts[name].replace(b"<sheetData>", b"<sheetData><!-- other -->")))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate: that is the point
        return zip_of(items)


def _dangling_table(parts: dict[str, bytes]) -> None:
    name = _customers(parts)
    rels = name.replace("worksheets/", "worksheets/_rels/") + ".rels"
    parts[rels] = parts[rels].replace(b"table1.xml", b"table99.xml")


def _sheet_without_rel(parts: dict[str, bytes]) -> None:
    rels = parts["xl/_rels/workbook.xml.rels"]
    parts["xl/_rels/workbook.xml.rels"] = re.sub(
        rb'<Relationship [^>]*Id="rId3"[^>]*/>', b"", rels)


def _styles_gone(parts: dict[str, bytes]) -> None:
    parts.pop("xl/styles.xml")
    parts["xl/_rels/workbook.xml.rels"] = re.sub(
        rb'<Relationship [^>]*styles"[^>]*/>', b"", parts["xl/_rels/workbook.xml.rels"])
    assert b"styles" not in parts["xl/_rels/workbook.xml.rels"]


def _lying_dimension(parts: dict[str, bytes]) -> None:
    name = _customers(parts)
    xml = re.sub(rb'<dimension ref="[^"]*"\s*/>', b'<dimension ref="A1"/>', parts[name])
    parts[name] = xml.replace(
        b"</sheetData>", b'<row r="1048576"><c r="XFD1048576"><v>1</v></c></row></sheetData>')


def _malformed_workbook(parts: dict[str, bytes]) -> None:
    parts["xl/workbook.xml"] = parts["xl/workbook.xml"].replace(b"</sheets>", b"</sheetz>")


def _customers_no_content_type_or_rels(parts: dict[str, bytes]) -> None:
    parts.pop("[Content_Types].xml")
    parts.pop("_rels/.rels")


BROKEN: dict[str, Callable[[bytes], bytes]] = {
    "missing Customers part": _drop(_customers),
    "missing [Content_Types].xml": _drop(lambda p: "[Content_Types].xml"),
    "missing styles.xml": _drop(lambda p: "xl/styles.xml"),
    "styles and their relationship gone": lambda d: _edit(d, _styles_gone),
    "missing package rels": _drop(lambda p: "_rels/.rels"),
    "no content types and no package rels": lambda d: _edit(d,
                                                            _customers_no_content_type_or_rels),
    "malformed Customers XML": lambda d: _edit(d, _truncate_sheet),
    "malformed workbook.xml": lambda d: _edit(d, _malformed_workbook),
    "CRC-corrupted Customers part": crc_corrupt,
    "entity bomb in workbook.xml": _with_dtd(lambda p: "xl/workbook.xml", LAUGHS, b"&lol9;"),
    "external entity in workbook.xml": _with_dtd(lambda p: "xl/workbook.xml", XXE, b"&xxe;"),
    "entity bomb in workbook rels": _with_dtd(
        lambda p: "xl/_rels/workbook.xml.rels", LAUGHS, b""),
    "DOCTYPE in Customers sheet": _with_dtd(_customers, XXE, b""),
    "entity bomb in the Scores sheet": _with_dtd(_scores, LAUGHS, b""),
    "CRC-corrupted Scores part": lambda d: crc_corrupt(d, "Scores"),
    # the other ledgers are checked in a thread while Customers is read (check_later)
    "CRC-corrupted Transactions part": lambda d: crc_corrupt(d, "Transactions"),
    "entity bomb in the Interactions sheet": _with_dtd(
        lambda p: sheet_part(p, "Interactions"), LAUGHS, b""),
    "6 GB Transactions, sizes lie": lambda d: bomb(
        d, part=sheet_part(parts_of(d), "Transactions"), honest=False),
    "6 GB Scores, sizes lie": lambda d: bomb(d, part=sheet_part(parts_of(d), "Scores"),
                                             honest=False),
    "DOCTYPE in [Content_Types].xml": _with_dtd(lambda p: "[Content_Types].xml", LAUGHS, b""),
    "duplicate member": _duplicate_member,
    "dangling table relationship": lambda d: _edit(d, _dangling_table),
    "sheet without relationship": lambda d: _edit(d, _sheet_without_rel),
    "6 GB Customers, honest sizes": lambda d: bomb(d, honest=True),
    "6 GB Customers, sizes lie": lambda d: bomb(d, honest=False),
    "6 GB styles.xml, sizes lie": lambda d: bomb(d, part="xl/styles.xml", honest=False),
    "3 GB docProps/core.xml, honest sizes": lambda d: bomb(d, part="docProps/core.xml", gib=3),
    "raw U+FFFE in the sheet XML": lambda d: raw_noncharacter(d),
    "not a zip": lambda d: b"this is not a workbook\n" * 20,
    "empty file": lambda d: b"",
    "truncated zip": lambda d: d[: len(d) // 2],
    "old Excel 97-2003 header, garbage after": lambda d: (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504 + d[:2048]),
}


def lying_dimension(data: bytes, *, inside_row_2: bool = False) -> bytes:
    """A sound package whose Customers sheet says A1 in <dimension> and has XFD1048576.

    ``inside_row_2``: the far cell sits in row 2's element (out of order), not at the end.
    """
    if not inside_row_2:
        return _edit(data, _lying_dimension)

    def edit(parts: dict[str, bytes]) -> None:
        name = _customers(parts)
        xml = re.sub(rb'<dimension ref="[^"]*"\s*/>', b'<dimension ref="A1"/>', parts[name])
        i = xml.index(b"</row>", xml.index(b'<row r="2"'))
        parts[name] = xml[:i] + b'<c r="XFD1048576"><v>1</v></c>' + xml[i:]

    return _edit(data, edit)


# --------------------------------------------------------------------------------------------
# Sound packages, odd but real ledgers


def _cell_re(ref: str) -> re.Pattern[bytes]:
    return re.compile(rb'<c r="' + ref.encode() + rb'"[^>]*?(?:/>|>.*?</c>)', re.S)


def set_cell(parts: dict[str, bytes], sheet: str, ref: str, cell_xml: bytes) -> None:
    """Replace cell ``ref`` of ``sheet`` (which must exist) by ``cell_xml``."""
    name = sheet_part(parts, sheet)
    xml, n = _cell_re(ref).subn(cell_xml.replace(b"\\", b"\\\\"), parts[name], count=1)
    assert n == 1, ref
    parts[name] = xml


def text_cell(ref: str, text: str) -> bytes:
    from xml.sax.saxutils import escape

    return (f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{escape(text)}</t></is></c>'
            .encode())


def error_cells(data: bytes) -> bytes:
    """#N/A in Customers!J16 (Employees) and #DIV/0! (a formula's cached value) in K5."""
    parts = parts_of(data)
    set_cell(parts, "Customers", "J16", b'<c r="J16" t="e"><v>#N/A</v></c>')
    set_cell(parts, "Customers", "K5", b'<c r="K5" t="e"><f>1/0</f><v>#DIV/0!</v></c>')
    return zip_of(parts)


def long_name(data: bytes) -> bytes:
    """A 40,000-character Name in Customers!B5 (Excel's cells hold 32,767)."""
    parts = parts_of(data)
    set_cell(parts, "Customers", "B5", text_cell("B5", "Long name " + "x" * 39_990))
    return zip_of(parts)


def noncharacters(data: bytes) -> bytes:
    """U+FFFE and U+FFFF as the _xHHHH_ escapes Excel writes them with (B6, B7).

    (As raw characters they make the XML malformed: see "raw U+FFFE in the sheet XML".)
    """
    parts = parts_of(data)
    set_cell(parts, "Customers", "B6", text_cell("B6", "Acme_xFFFE_ Ltd"))
    set_cell(parts, "Customers", "B7", text_cell("B7", "Beta_xfffe__xFFFF_ GmbH"))
    return zip_of(parts)


def raw_noncharacter(data: bytes) -> bytes:
    """A raw U+FFFE in the Customers sheet XML, which XML forbids (the file is malformed)."""
    parts = parts_of(data)
    set_cell(parts, "Customers", "B6", text_cell("B6", "Acme\ufffe Ltd"))
    return zip_of(parts)


def second_table_below(data: bytes, *, gap: int = 3) -> bytes:
    """A second table (4 rows, header included) below tblCustomers on the Customers sheet.

    Its header repeats CustomerID and Name (a lookup list an analyst keeps there); without
    the Table's extent it would be read as 4 more customers.
    """
    parts = parts_of(data)
    name = sheet_part(parts, "Customers")
    xml = parts[name]
    last = max(int(r) for r in re.findall(rb'<row r="(\d+)"', xml))
    start = last + gap
    rows = [("CustomerID", "Name", "Region")] + [
        (f"X{i}", f"Lookup {i}", "North") for i in range(1, 4)]
    out = []
    for i, row in enumerate(rows):
        r = start + i
        cells = b"".join(text_cell(f"{col}{r}", v) for col, v in zip("ABC", row, strict=True))
        out.append(b'<row r="%d">' % r + cells + b"</row>")
    xml = xml.replace(b"</sheetData>", b"".join(out) + b"</sheetData>")
    parts[name] = re.sub(rb'<dimension ref="A1:([A-Z]+)\d+"', rb'<dimension ref="A1:\g<1>'
                         + str(start + 3).encode() + b'"', xml)
    return zip_of(parts)


ODD_LEDGERS: dict[str, Callable[[bytes], bytes]] = {
    "Excel error values in indicator cells": error_cells,
    "40,000-character Name": long_name,
    "U+FFFE and _xFFFE_ in names": noncharacters,
    "second table below tblCustomers": second_table_below,
}
