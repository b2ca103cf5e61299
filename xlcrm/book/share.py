"""A copy of a workbook to email: values only, no macros, contact details optionally masked.

A recipient without Python, in any spreadsheet program, must see every number the
workbook shows. The copy is made from the source file's zip parts (never re-saved through
a spreadsheet library, which would lose charts and formatting):

- every cell formula is replaced by the value Excel saved with it (``<f>`` removed, ``<v>``
  and the cell's type kept; dynamic-array ``cm`` attributes go too; calculated-column
  formulas of Excel Tables go, so that the table does not flag every cell as differing from
  its column formula). A formula cell without a saved value cannot be shown right: the
  copy is refused, naming the cells. A ``HYPERLINK`` to a place in the workbook (the
  Problems sheet's links to bad cells) becomes a cell hyperlink, so it stays clickable;
- the VBA project (and its signature), the customUI ribbon parts, attached toolbars and the
  calculation chain are dropped with their relationships and content types; the workbook
  part gets the macro-free content type, so the copy is a plain ``.xlsx``;
- the ``xlwings.conf`` sheet (Python configuration, also as ``_xlwings.conf``) and Excel 4
  macro sheets are dropped: their ``<sheet>``, relationship, part and content type, and
  the defined names local to them or referring to them. Sheet-local names
  (``localSheetId`` is a position in the tab order) are renumbered;
- a cover sheet comes first and is the active tab: what the copy is, the source file,
  when its results were computed (the run stamp of the Dashboard), when the copy was made,
  whether contacts are masked, and the sheets it holds;
- with ``mask_contacts``, every non-blank cell below the header of the contact columns
  (:data:`xlcrm.schema.CONTACT_COLUMNS`: Contact, Phone, Email) becomes the inline text
  ``(masked)``: on Customers (header row of its Excel Table, else row 1), in every Excel
  Table of the workbook with such a column (its data rows) and on every other worksheet
  whose row 1 has such a header. Hyperlinks on masked cells are removed with their
  relationships. The strings the masked cells showed are replaced by the mask in the
  shared-strings part too (unzipping the copy must not reveal them), except a string an
  unmasked cell also shows; entries keep their positions.
  The author and last editor in ``docProps/core.xml`` and the company and manager in
  ``docProps/app.xml`` are blanked. Not looked at: cell notes and threaded comments (and
  their authors), text boxes, and free text elsewhere that may name a person.

The copy goes to ``<stem> (shareable YYYY-MM-DD).xlsx`` beside the source unless another
``.xlsx`` is named; an existing file there is replaced only when it is itself a shareable
copy (its first sheet is the cover).

Every other part keeps its exact compressed bytes. The copy is written to a temporary
file, checked (well-formed parts, an independent reader sees the sheets, no formula and
no macro part left, every part has a content type) and then moved into place atomically
(:func:`xlcrm.book.save.safe_replace`); the source is only read, also while Excel has it
open.
"""

from __future__ import annotations

import html
import io
import os
import re
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from xlcrm import __version__, schema
from xlcrm.book.read import (
    NS_R,
    Package,
    SheetEntry,
    Workbook,
    open_workbook,
    rels_part,
)
from xlcrm.book.save import VerifyError, lock_files, safe_replace, verify_workbook
from xlcrm.book.write import (
    _TAG_ATTRS,
    CT_WORKSHEET,
    NEW_SHEET_XML,
    REL_WORKSHEET,
    WORKSHEET_ORDER,
    Block,
    SheetData,
    _CellWriter,
    _cols_xml,
    _insert_before_close,
    _Member,
    _namespace_prefix,
    _new_member,
    _raw_member,
    _remove_elements,
    _set_child,
    _sheet_chunks,
    _split_sheet,
    _Styles,
    _write_zip,
    escape_attr,
    escape_text,
    open_package,
)
from xlcrm.errors import InputError, column_index, column_letter

__all__ = [
    "COVER_SHEET",
    "MASK_TEXT",
    "ShareReport",
    "default_output",
    "make_shareable",
    "shareable_bytes",
]

Progress = Callable[[str, float], None]

COVER_SHEET = "About this copy"
MASK_TEXT = "(masked)"
#: Sheets that hold Python configuration, not data (xlwings reads the first; the second is
#: its switched-off spelling).
CONFIG_SHEETS = (schema.XLWINGS_CONF, "_" + schema.XLWINGS_CONF)
#: Sheet kinds that are macros themselves (Excel 4 macro sheets).
MACRO_SHEET_KINDS = frozenset({"xlMacrosheet", "xlIntlMacrosheet"})
CT_WORKBOOK_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
CT_VBA_PROJECT = "application/vnd.ms-office.vbaProject"
#: Shown on the cover and in the report when the workbook carries no run stamp.
NEVER = "never"
#: How many cells a refusal lists by address.
LISTED_CELLS = 10
_COVER_TITLE = "Shareable copy of "

_STAMP_RE = re.compile(r"Computed (\d{4}-\d{2}-\d{2} \d{2}:\d{2}) by xlcrm")
_CHECKED_RE = re.compile(r"^Checked (\d{4}-\d{2}-\d{2} \d{2}:\d{2})$")

_A = _TAG_ATTRS.encode()
# Attributes of a start tag, without the "/" of a self-closing tag (outside quotes a "/"
# only occurs there).
_ATTRS_NO_SLASH = rb"(?:[^>\"'/]|\"[^\"]*\"|'[^']*')*"
_ROW_RE = re.compile(
    rb"<((?:\w+:)?)row\b(" + _ATTRS_NO_SLASH + rb")(?:/>|>(.*?)</\1row>)", re.S
)
_CELL_RE = re.compile(rb"<((?:\w+:)?)c\b(" + _ATTRS_NO_SLASH + rb")(?:/>|>(.*?)</\1c>)", re.S)
_F_ELEMENT_RE = re.compile(
    rb"<((?:\w+:)?)f\b" + _ATTRS_NO_SLASH + rb"(?:/>|>.*?</\1f>)", re.S
)
_HAS_F = re.compile(rb"<(?:\w+:)?f[\s/>]")
# =HYPERLINK("#'Sheet'!A1", ...): a link inside the workbook (the Problems sheet's cells).
_INTERNAL_LINK = re.compile(
    rb'<(?:\w+:)?f\b[^>]*>\s*HYPERLINK\(\s*(?:"|&quot;)#((?:[^"&]|&(?!quot;)|""|&quot;&quot;)*)'
    rb'(?:"|&quot;)', re.I,
)
_HAS_V = re.compile(rb"<(?:\w+:)?v[\s/>]")
_HAS_IS = re.compile(rb"<(?:\w+:)?is[\s/>]")
_V_TEXT = re.compile(rb"<(?:\w+:)?v>([^<]*)</(?:\w+:)?v>")
# Attributes may be quoted either way in XML ('...' is rare, but legal).
_REF_ATTR = re.compile(rb"""\br=["']([A-Z]{1,3})(\d+)["']""")
_ROW_NUM = re.compile(rb"""\br=["'](\d+)["']""")
_STYLE_ATTR = re.compile(rb"""\ss=["']\d+["']""")
_TYPE_ATTR = re.compile(rb"""\bt=["']([^"']*)["']""")
_CM_ATTR = re.compile(rb'\s(?:cm|vm)="[^"]*"')
_CM_ONLY = re.compile(rb'\scm="[^"]*"')
_TAB_SELECTED = re.compile(rb'(<(?:\w+:)?sheetView\b[^>]*?)\s+tabSelected="[^"]*"')
_SHEET_DATA = re.compile(rb"<(?:\w+:)?sheetData\b")
_SHEET_DATA_END = re.compile(rb"</(?:\w+:)?sheetData>")
_PREFIX = re.compile(rb"\w+")
# A cell or row without its address (its position counts on from the previous one).
_CELL_WITHOUT_REF = re.compile(rb"<(?:\w+:)?c(?=[\s/>])(?![^>]*\br=)")
_ROW_WITHOUT_REF = re.compile(rb"<(?:\w+:)?row(?=[\s/>])(?![^>]*\br=)")
_CALC_COLUMN = re.compile(
    rb"<((?:\w+:)?)calculatedColumnFormula\b" + _ATTRS_NO_SLASH
    + rb"(?:/>|>.*?</\1calculatedColumnFormula>)",
    re.S,
)


# --------------------------------------------------------------------------------------------
# What a share reports


@dataclass(frozen=True)
class ShareReport:
    """What :func:`make_shareable` wrote.

    Attributes
    ----------
    source, output : Path
        The workbook read and the copy written.
    sheets : tuple of str
        The copy's sheets in tab order (the cover first).
    cover : str
        Name of the cover sheet.
    computed : str or None
        The run stamp of the source's results (``YYYY-MM-DD HH:MM``), ``None`` when xlcrm
        never computed them.
    made : datetime
        When the copy was made.
    formulas : int
        Formula cells replaced by their saved values.
    masked : dict of str to tuple of str
        Per sheet, the contact columns masked (empty without ``mask_contacts``).
    masked_cells : int
        Cells whose content was replaced by ``(masked)``.
    links_removed : int
        Hyperlinks removed from masked cells.
    removed : tuple of str
        What was taken out (macros, ribbon, configuration sheet, calculation chain).
    warnings : tuple of str
        Things the recipient will see that may surprise (formula cells saved with an error).
    source_open : bool
        The source was open in a spreadsheet program (a lock file beside it): the copy shows
        its last saved state.
    """

    source: Path
    output: Path
    sheets: tuple[str, ...]
    cover: str
    computed: str | None
    made: datetime
    formulas: int
    masked: dict[str, tuple[str, ...]] = field(default_factory=dict)
    masked_cells: int = 0
    links_removed: int = 0
    removed: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    source_open: bool = False

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-able values (``xlcrm share --json``)."""
        return {
            "workbook": str(self.source),
            "output": str(self.output),
            "sheets": list(self.sheets),
            "cover": self.cover,
            "computed": self.computed,
            "made": self.made.isoformat(timespec="seconds"),
            "formulas_replaced": self.formulas,
            "masked": {k: list(v) for k, v in self.masked.items()},
            "masked_cells": self.masked_cells,
            "links_removed": self.links_removed,
            "removed": list(self.removed),
            "warnings": list(self.warnings),
            "source_open": self.source_open,
        }


@dataclass
class _Outcome:
    """What :func:`shareable_bytes` did, for the report."""

    sheets: list[str]
    cover: str
    computed: str | None
    formulas: int = 0
    masked: dict[str, tuple[str, ...]] = field(default_factory=dict)
    masked_cells: int = 0
    links_removed: int = 0
    removed: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# Where the copy goes


def default_output(source: str | os.PathLike[str], day: date | None = None) -> Path:
    """``<stem> (shareable YYYY-MM-DD).xlsx`` beside ``source``.

    Dated, so that a copy emailed yesterday is not overwritten by today's; the same day's
    copy is replaced by a new one.
    """
    p = Path(source)
    day = day or date.today()
    return p.with_name(f"{p.stem} (shareable {day:%Y-%m-%d}).xlsx")


def _is_shareable_copy(path: Path) -> bool:
    """Whether ``path`` is a copy made by this module (its first sheet is our cover)."""
    import python_calamine

    try:
        with python_calamine.CalamineWorkbook.from_path(os.fspath(path)) as wb:
            names = list(wb.sheet_names)
            if not names or not names[0].startswith(COVER_SHEET):
                return False
            rows = wb.get_sheet_by_index(0).to_python(nrows=1)
    except Exception:  # noqa: BLE001 - anything unreadable is not our copy
        return False
    first = rows[0][0] if rows and rows[0] else ""
    return isinstance(first, str) and first.startswith(_COVER_TITLE)


def _check_output(source: Path, out: Path) -> None:
    if out.suffix.lower() != ".xlsx":
        raise InputError(
            f"the shareable copy {out.name} must be an .xlsx file (a workbook without "
            "macros), not " + (f"{out.suffix}" if out.suffix else "a name without extension"),
            fix=f"Give a name ending in .xlsx, e.g. {out.with_suffix('.xlsx').name}.",
        )
    same = os.path.realpath(source) == os.path.realpath(out)
    if not same and out.exists():
        try:
            same = os.path.samefile(source, out)
        except OSError:
            same = False
    if same:
        raise InputError(
            f"the shareable copy would replace the workbook {source.name} itself",
            fix="Give the copy another name (or leave -o out: the copy is then written as "
            f"'{default_output(source).name}').",
        )
    if not out.parent.is_dir():
        raise InputError(
            f"the folder {out.parent} for the shareable copy does not exist",
            fix="Create the folder first or give another path.",
        )
    if out.exists() and not _is_shareable_copy(out):
        raise InputError(
            f"{out.name} already exists and is not a shareable copy made by xlcrm, so it is "
            "not overwritten",
            fix="Give another name, or delete that file first if you no longer need it.",
        )


# --------------------------------------------------------------------------------------------
# The run stamp


def run_stamp(book: Workbook) -> str | None:
    """When the workbook's results were computed (``YYYY-MM-DD HH:MM``), ``None``: never.

    Read from the Dashboard's stamp line (``Computed ... by xlcrm``), else from the
    ``Checked ...`` line under the Problems list.
    """
    names = {n.casefold(): n for n in book.sheet_names}
    dash = names.get(schema.DASHBOARD.casefold())
    if dash is not None:
        for row in book.rows(dash)[:10]:
            for v in row:
                m = _STAMP_RE.search(v) if isinstance(v, str) else None
                if m:
                    return m.group(1)
    problems = names.get(schema.PROBLEMS.casefold())
    if problems is not None:
        for row in reversed(book.rows(problems)):
            first = row[0] if row else ""
            m = _CHECKED_RE.match(first) if isinstance(first, str) else None
            if m:
                return m.group(1)
    return None


# --------------------------------------------------------------------------------------------
# Cells: formulas to values, contacts masked


@dataclass
class _MaskTarget:
    """Cells to mask on one sheet: 0-based columns, 1-based rows ``first..last`` (inclusive)."""

    columns: dict[int, str]  # column -> header
    first_row: int
    last_row: int | None = None  # None: to the end of the sheet

    def covers(self, row: int, col: int) -> bool:
        return col in self.columns and row >= self.first_row and (
            self.last_row is None or row <= self.last_row)


@dataclass
class _SheetResult:
    xml: bytes
    formulas: int = 0
    missing: list[str] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    masked: int = 0
    masked_strings: set[int] = field(default_factory=set)
    """Shared-string indices the masked cells showed."""
    links: list[tuple[str, str]] = field(default_factory=list)
    """Cell -> place in the workbook, of the internal ``HYPERLINK`` formulas replaced."""


def _sheet_data_span(xml: bytes) -> tuple[int, int] | None:
    """Start and end of a sheet part's ``<sheetData>`` element, ``None`` when it has none."""
    sd = _SHEET_DATA.search(xml)
    if sd is None:
        return None
    close = _SHEET_DATA_END.search(xml, sd.start())
    if close is not None:
        return sd.start(), close.end()
    return sd.start(), xml.index(b">", sd.start()) + 1  # <sheetData/>


def _formula_hits(data: bytes) -> list[int]:
    """Where ``<f>`` elements start in cell data (``<x:f>`` too).

    A plain search for the few bytes is much faster than a regular expression over tens of
    megabytes; each hit is then checked (``<family`` of rich text is not a formula).
    """
    hits = []
    for token in (b"<f", b":f"):
        i = data.find(token)
        while i >= 0:
            nxt = data[i + 2 : i + 3]
            if nxt in (b">", b" ", b"/", b"\t", b"\n", b"\r"):
                if token == b"<f":
                    hits.append(i)
                else:
                    lt = data.rfind(b"<", 0, i)
                    if lt >= 0 and _PREFIX.fullmatch(data, lt + 1, i):
                        hits.append(lt)
            i = data.find(token, i + 2)
    return sorted(hits)


class _Cells:
    """Formulas to values and contact cells masked, in one sheet's cell data."""

    def __init__(self, sheet: str, targets: Sequence[_MaskTarget], res: _SheetResult) -> None:
        self.sheet = sheet
        self.targets = targets
        self.res = res

    def masked(self, prefix: bytes, attrs: bytes, body: bytes | None, row: int,
               col: int) -> bytes | None:
        """The masked cell, or ``None`` when the cell is not to be masked."""
        if not any(t.covers(row, col) for t in self.targets):
            return None
        if body is None or not (_HAS_V.search(body) or _HAS_IS.search(body)):
            return None  # blank (perhaps styled): nothing to hide
        style = _STYLE_ATTR.search(attrs)
        p = prefix.decode()
        self.res.masked += 1
        kind = _TYPE_ATTR.search(attrs)
        if kind and kind.group(1) == b"s":
            v = _V_TEXT.search(body)
            if v and v.group(1).strip().isdigit():
                self.res.masked_strings.add(int(v.group(1)))
        return (
            f'<{p}c r="{column_letter(col)}{row}"'
            f'{style.group().decode() if style else ""} t="inlineStr">'
            f"<{p}is><{p}t>{escape_text(MASK_TEXT)}</{p}t></{p}is></{p}c>"
        ).encode()

    def valued(self, prefix: bytes, attrs: bytes, body: bytes, ref: str) -> bytes | None:
        """The formula cell as its saved value, ``None`` when it has no formula or no value."""
        if not _HAS_F.search(body):
            return None
        res = self.res
        res.formulas += 1
        t = _TYPE_ATTR.search(attrs)
        if not _has_value(body, t.group(1) if t else b"n"):
            res.missing.append(f"{self.sheet}!{ref}")
            return None
        if t and t.group(1) == b"e":
            v = _V_TEXT.search(body)
            res.errors.append((f"{self.sheet}!{ref}", v.group(1).decode() if v else "#VALUE!"))
        link = _INTERNAL_LINK.search(body)
        if link:
            # The value is the link's text; the link itself becomes a cell hyperlink below.
            target = html.unescape(link.group(1).decode()).replace('""', '"')
            res.links.append((ref, target))
        body = _F_ELEMENT_RE.sub(b"", body)
        attrs = _CM_ONLY.sub(b"", attrs)
        return b"<" + prefix + b"c" + attrs + b">" + body + b"</" + prefix + b"c>"

    # -- fast path: every cell has its address (as Excel and most writers save them)
    def mask_fast(self, data: bytes) -> bytes:
        letters = sorted({column_letter(c) for t in self.targets for c in t.columns})
        pattern = re.compile(
            rb"<((?:\w+:)?)c\b(?=[^>]*?\br=[\"'](" + "|".join(letters).encode() + rb")(\d+)[\"'])("
            + _ATTRS_NO_SLASH + rb")(?:/>|>(.*?)</\1c>)", re.S,
        )

        def sub(m: re.Match[bytes]) -> bytes:
            new = self.masked(m.group(1), m.group(4), m.group(5), int(m.group(3)),
                              column_index(m.group(2)))
            return m.group() if new is None else new

        return pattern.sub(sub, data)

    def formulas_fast(self, data: bytes, hits: Sequence[int]) -> bytes:
        out = []
        pos = 0
        for hit in hits:
            if hit < pos:
                continue
            # <f> is the first child of <c>: the tag just before it is the cell's start tag.
            start = data.rfind(b"<", 0, hit)
            m = _CELL_RE.match(data, start)
            if m is None or m.end() <= hit:
                continue
            ref = _REF_ATTR.search(m.group(2))
            assert ref is not None  # the fast path is only taken when every cell has one
            new = self.valued(m.group(1), m.group(2), m.group(3) or b"",
                              (ref.group(1) + ref.group(2)).decode())
            if new is not None:
                out += [data[pos:start], new]
                pos = m.end()
        out.append(data[pos:])
        return b"".join(out)

    # -- general path: rows and cells without addresses count on from the previous one
    def by_rows(self, data: bytes) -> bytes:
        last_row = [0]

        def row_sub(m: re.Match[bytes]) -> bytes:
            body = m.group(3)
            num = _ROW_NUM.search(m.group(2))
            row = int(num.group(1)) if num else last_row[0] + 1
            last_row[0] = row
            if body is None:
                return m.group()
            last_col = [-1]

            def cell_sub(c: re.Match[bytes]) -> bytes:
                ref = _REF_ATTR.search(c.group(2))
                col = column_index(ref.group(1)) if ref else last_col[0] + 1
                last_col[0] = col
                new = self.masked(c.group(1), c.group(2), c.group(3), row, col)
                if new is None and c.group(3) is not None:
                    new = self.valued(c.group(1), c.group(2), c.group(3),
                                      f"{column_letter(col)}{row}")
                return c.group() if new is None else new

            new = _CELL_RE.sub(cell_sub, body)
            whole = m.group()
            return whole[: m.start(3) - m.start()] + new + whole[m.end(3) - m.start():]

        return _ROW_RE.sub(row_sub, data)


def _clean_cells(xml: bytes, sheet: str, targets: Sequence[_MaskTarget]) -> _SheetResult:
    """The sheet part with formulas replaced by their values and contact cells masked."""
    res = _SheetResult(xml)
    span = _sheet_data_span(xml)
    if span is None:
        return res
    start, end = span
    data = xml[start:end]
    hits = _formula_hits(data)
    if not hits and not targets:
        return res
    cells = _Cells(sheet, targets, res)
    if _CELL_WITHOUT_REF.search(data) or _ROW_WITHOUT_REF.search(data):
        data = cells.by_rows(data)
    else:
        if targets:
            data = cells.mask_fast(data)
            hits = _formula_hits(data)
        if hits:
            data = cells.formulas_fast(data, hits)
    res.xml = xml[:start] + data + xml[end:]
    return res


def _has_value(body: bytes, kind: bytes) -> bool:
    """Whether a formula cell carries a saved value: a non-empty ``<v>``, or any ``<v>`` for
    a text result (which may be the empty text). Writers that compute nothing (openpyxl)
    leave ``<v/>`` or no ``<v>`` at all."""
    if kind == b"str":
        return _HAS_V.search(body) is not None
    v = _V_TEXT.search(body)
    return v is not None and v.group(1).strip() != b""


def _range_cells(ref: str) -> tuple[int, int, int, int] | None:
    """(first row, first col, last row, last col) of an A1 range (rows 1-based, cols 0-based)."""
    parts = ref.replace("$", "").split(":")
    out = []
    for p in parts:
        m = re.fullmatch(r"([A-Z]{1,3})(\d+)", p)
        if m is None:
            return None
        out.append((int(m.group(2)), column_index(m.group(1))))
    (r1, c1), (r2, c2) = out[0], out[-1]
    return min(r1, r2), min(c1, c2), max(r1, r2), max(c1, c2)


_SHARED_CELL = re.compile(
    rb"<(?:\w+:)?c\b[^>]*?\bt=[\"']s[\"'][^>]*>\s*(?:<(?:\w+:)?f\b[^>]*/>\s*)?"
    rb"<(?:\w+:)?v>\s*(\d+)\s*</"
)
_SI = re.compile(rb"<((?:\w+:)?)si\b[^>]*?(?:/>|>.*?</\1si>)", re.S)


def _scrub_shared_strings(xml: bytes, masked: set[int], still_used: set[int]) -> bytes:
    """The shared-strings part with the masked cells' strings replaced by the mask.

    The cells now show the mask as inline text, but their old strings would still be in the
    file for anyone who unzips it. A string another (unmasked) cell also shows is kept.
    Entries keep their positions, so every other cell's index stays right.
    """
    drop = masked - still_used
    if not drop:
        return xml
    k = -1

    def entry(m: re.Match[bytes]) -> bytes:
        nonlocal k
        k += 1
        if k not in drop:
            return m.group()
        p = m.group(1)
        return b"<" + p + b"si><" + p + b"t>" + escape_text(MASK_TEXT).encode() + b"</" + p \
            + b"t></" + p + b"si>"

    return _SI.sub(entry, xml)


def _add_internal_links(xml: bytes, links: Sequence[tuple[str, str]]) -> bytes:
    """Give each ``(cell, place)`` a cell hyperlink to ``place`` in the workbook.

    A ``HYPERLINK`` formula is a link only while it is a formula; a cell hyperlink (no
    relationship needed for a place inside the workbook) keeps the copy's cell clickable in
    any spreadsheet program. Cells that already have a hyperlink keep theirs.
    """
    m = re.search(rb"<(\w+:)?worksheet\b", xml)
    p = (m.group(1) or b"") if m else b""
    block = re.search(rb"<" + re.escape(p) + rb"hyperlinks\b[^>]*>.*?</" + re.escape(p)
                      + rb"hyperlinks>", xml, re.S)
    taken = set(re.findall(rb'\bref="([^"]*)"', block.group())) if block else set()
    items = b"".join(
        b"<" + p + b'hyperlink ref="' + ref.encode() + b'" location="'
        + escape_attr(place).encode() + b'"/>'
        for ref, place in links if ref.encode() not in taken
    )
    if not items:
        return xml
    if block:
        close = block.end() - len(b"</" + p + b"hyperlinks>")
        return xml[:close] + items + xml[close:]
    later = WORKSHEET_ORDER[WORKSHEET_ORDER.index("hyperlinks") + 1:]
    span = _sheet_data_span(xml)
    after = re.compile(rb"<" + re.escape(p) + rb"(?:" + b"|".join(n.encode() for n in later)
                       + rb")\b").search(xml, span[1] if span else 0)
    pos = after.start() if after else xml.rindex(b"</" + p + b"worksheet>")
    return xml[:pos] + b"<" + p + b"hyperlinks>" + items + b"</" + p + b"hyperlinks>" + xml[pos:]


def _drop_masked_links(
    xml: bytes, targets: Sequence[_MaskTarget]
) -> tuple[bytes, list[str], int]:
    """Remove ``<hyperlink>`` elements over masked cells; return the part, their r:ids, count."""
    block = re.search(rb"<((?:\w+:)?)hyperlinks\b[^>]*>(.*?)</\1hyperlinks>", xml, re.S)
    if block is None:
        return xml, [], 0
    rids: list[str] = []
    removed = 0

    def link(m: re.Match[bytes]) -> bytes:
        nonlocal removed
        attrs = m.group(1)
        ref = re.search(rb'\bref="([^"]*)"', attrs)
        box = _range_cells(ref.group(1).decode()) if ref else None
        if box is None:
            return m.group()
        r1, c1, r2, c2 = box
        hit = any(
            any(c1 <= c <= c2 for c in t.columns)
            and r2 >= t.first_row and (t.last_row is None or r1 <= t.last_row)
            for t in targets
        )
        if not hit:
            return m.group()
        removed += 1
        rid = re.search(rb'\b\w+:id="([^"]*)"', attrs)
        if rid:
            rids.append(rid.group(1).decode())
        return b""

    inner = re.sub(
        rb"<(?:\w+:)?hyperlink\b(" + _ATTRS_NO_SLASH + rb")(?:/>|>.*?</(?:\w+:)?hyperlink>)",
        link, block.group(2), flags=re.S,
    )
    if not removed:
        return xml, [], 0
    if re.search(rb"<(?:\w+:)?hyperlink\b", inner):
        new_block = block.group()[: block.start(2) - block.start()] + inner + \
            block.group()[block.end(2) - block.start():]
    else:
        new_block = b""  # an empty <hyperlinks> is not allowed
    return xml[: block.start()] + new_block + xml[block.end():], rids, removed


# --------------------------------------------------------------------------------------------
# Which cells hold contact details


def _sheet_first_row(z: zipfile.ZipFile, part: str) -> dict[int, bytes]:
    """Column -> raw ``<c>`` body of the cells in row 1, read without inflating the sheet."""
    head = b""
    with z.open(part) as f:
        while True:
            chunk = f.read(1 << 16)
            head += chunk
            sd = _SHEET_DATA.search(head)
            if sd is not None and (re.search(rb"</(?:\w+:)?row>", head[sd.start():])
                                   or re.search(rb"</(?:\w+:)?sheetData>|<(?:\w+:)?sheetData/>",
                                                head[sd.start():])):
                break
            if not chunk:
                break
    sd = _SHEET_DATA.search(head)
    if sd is None:
        return {}
    m = _ROW_RE.search(head, sd.start())
    if m is None or m.group(3) is None:
        return {}
    num = _ROW_NUM.search(m.group(2))
    if num is not None and num.group(1) != b"1":
        return {}
    out: dict[int, bytes] = {}
    col = -1
    for c in _CELL_RE.finditer(m.group(3)):
        ref = _REF_ATTR.search(c.group(2))
        col = column_index(ref.group(1)) if ref else col + 1
        t = _TYPE_ATTR.search(c.group(2))
        out[col] = (t.group(1) if t else b"n") + b"\0" + (c.group(3) or b"")
    return out


class _SharedStrings:
    """Entries of the shared-strings part, parsed only when a header cell needs one."""

    def __init__(self, z: zipfile.ZipFile, part: str | None) -> None:
        self.z = z
        self.part = part
        self.items: list[str] | None = None

    def get(self, i: int) -> str:
        if self.items is None:
            from xml.etree import ElementTree

            self.items = []
            if self.part is not None:
                for _, el in ElementTree.iterparse(io.BytesIO(self.z.read(self.part))):
                    if el.tag.endswith("}si"):
                        # Rich text runs and phonetic hints: the visible text is the <t> of
                        # the item and of its runs, not of its phonetic runs (rPh).
                        texts = [t.text or "" for t in el.iter() if t.tag.endswith("}t")]
                        rph = [t.text or "" for r in el if r.tag.endswith("}rPh")
                               for t in r.iter() if t.tag.endswith("}t")]
                        self.items.append("".join(texts[: len(texts) - len(rph)]))
                        el.clear()
        return self.items[i] if 0 <= i < len(self.items) else ""


def _header_text(raw: bytes, sst: _SharedStrings) -> str:
    kind, _, body = raw.partition(b"\0")
    if kind == b"s":
        v = _V_TEXT.search(body)
        return sst.get(int(v.group(1))) if v and v.group(1).strip().isdigit() else ""
    if kind == b"inlineStr":
        texts = re.findall(rb"<(?:\w+:)?t\b[^>]*>([^<]*)</(?:\w+:)?t>", body)
        return html.unescape(b"".join(texts).decode("utf-8"))
    if kind == b"str":
        v = _V_TEXT.search(body)
        return html.unescape(v.group(1).decode("utf-8")) if v else ""
    return ""


def _contact_columns(headers: Mapping[int, str]) -> dict[int, str]:
    wanted = {c.casefold(): c for c in schema.CONTACT_COLUMNS}
    return {col: wanted[h.strip().casefold()] for col, h in headers.items()
            if isinstance(h, str) and h.strip().casefold() in wanted}


@dataclass(frozen=True)
class _TablePart:
    """Where an Excel Table sits, from its part: 1-based rows, 0-based first column."""

    columns: tuple[str, ...]
    first_col: int
    header_row: int | None  # None: the table shows no header row
    first_data_row: int
    last_data_row: int


def _sheet_tables(z: zipfile.ZipFile, pkg: Package, part: str) -> list[_TablePart]:
    """The Excel Tables on the worksheet ``part`` (read from their small table parts)."""
    out = []
    for rel in pkg.rels(part):
        name = pkg.find(rel.target) if rel.type.endswith("/table") and not rel.external \
            else None
        if name is None:
            continue
        xml = z.read(name)
        tag = re.search(rb"<(?:\w+:)?table\b(" + _A + rb")>", xml)
        ref = re.search(rb'\bref="([^"]*)"', tag.group(1)) if tag else None
        box = _range_cells(ref.group(1).decode()) if ref else None
        if tag is None or box is None:
            continue
        r1, c1, r2, _ = box
        header = re.search(rb'\bheaderRowCount="(\d+)"', tag.group(1))
        totals = re.search(rb'\btotalsRowCount="(\d+)"', tag.group(1))
        has_header = header is None or header.group(1) != b"0"
        columns = tuple(
            html.unescape(c.decode("utf-8")) for c in re.findall(
                rb'<(?:\w+:)?tableColumn\b[^>]*?\bname="([^"]*)"', xml)
        )
        out.append(_TablePart(
            columns=columns,
            first_col=c1,
            header_row=r1 if has_header else None,
            first_data_row=r1 + 1 if has_header else r1,
            last_data_row=r2 - (int(totals.group(1)) if totals else 0),
        ))
    return out


def _mask_targets(
    z: zipfile.ZipFile, pkg: Package, kept: Sequence[SheetEntry], sst_part: str | None
) -> dict[str, list[_MaskTarget]]:
    """Sheet name -> the contact cells to mask on it."""
    targets: dict[str, list[_MaskTarget]] = {}
    sst = _SharedStrings(z, sst_part)
    for entry in kept:
        if entry.kind != "worksheet" or entry.part is None:
            continue
        customers = entry.name.casefold() == schema.CUSTOMERS.casefold()
        header_at_a1 = False
        for table in _sheet_tables(z, pkg, entry.part):
            header_at_a1 |= table.header_row == 1 and table.first_col == 0
            cols = _contact_columns(
                {table.first_col + i: c for i, c in enumerate(table.columns)})
            if cols:
                # On Customers every row below the header is a customer's, also rows typed
                # under the table; elsewhere only the table's own rows hold its values.
                last = None if customers else table.last_data_row
                targets.setdefault(entry.name, []).append(
                    _MaskTarget(cols, table.first_data_row, last))
        if header_at_a1:
            continue  # row 1 is that table's header, already looked at
        row1 = _sheet_first_row(z, entry.part)
        cols = _contact_columns({c: _header_text(raw, sst) for c, raw in row1.items()})
        if cols:
            targets.setdefault(entry.name, []).append(_MaskTarget(cols, 2))
    return targets


# --------------------------------------------------------------------------------------------
# Package bookkeeping


def _reachable(pkg: Package, skip: Mapping[str, set[str]]) -> set[str]:
    """Zip names reachable from the package's relationships, not following ``skip`` ids.

    ``skip`` maps a source part (``""`` for the package) to relationship ids to ignore.
    """
    seen: set[str] = set()
    todo = [""]
    while todo:
        part = todo.pop()
        for rel in pkg.rels(part):
            if rel.external or rel.id in skip.get(part, ()):
                continue
            name = pkg.find(rel.target)
            if name is not None and name not in seen:
                seen.add(name)
                todo.append(name)
    return seen


def _drop_rel_ids(rels_xml: bytes, ids: Iterable[str]) -> bytes:
    for rid in ids:
        rels_xml = _remove_elements(rels_xml, rb"Relationship", rb"Id", rid)
    return rels_xml


def _set_attr(tag: bytes, name: bytes, value: bytes) -> bytes:
    """Start tag ``tag`` with attribute ``name`` set to ``value`` (added when absent)."""
    pattern = re.compile(rb"(\s" + name + rb')="[^"]*"')
    if pattern.search(tag):
        return pattern.sub(rb'\1="' + value + b'"', tag, count=1)
    end = -2 if tag.endswith(b"/>") else -1
    return tag[:end] + b" " + name + b'="' + value + b'"' + tag[end:]


def _name_refers_to(text: str, sheets: Iterable[str]) -> bool:
    for sheet in sheets:
        quoted = re.escape(sheet.replace("'", "''"))
        if re.search(rf"(?:'{quoted}'|(?<![\w.']){re.escape(sheet)})!", text, re.I):
            return True
    return False


def _edit_workbook_xml(
    wb_xml: bytes,
    entries: Sequence[SheetEntry],
    dropped: Sequence[SheetEntry],
    cover: tuple[str, int, str],
) -> bytes:
    """The workbook part: dropped sheets out, the cover first and active, names renumbered."""
    r_prefix = _namespace_prefix(wb_xml, NS_R)
    dropped_ids = {e.rid for e in dropped}
    dropped_names = [e.name for e in dropped]

    def sheet(m: re.Match[bytes]) -> bytes:
        rid = re.search(rb'\b\w+:id="([^"]*)"', m.group(2))
        return b"" if rid and rid.group(1).decode() in dropped_ids else m.group()

    wb_xml = re.sub(
        rb"<((?:\w+:)?)sheet\b(" + _ATTRS_NO_SLASH + rb")(?:/>|>.*?</\1sheet>)", sheet, wb_xml,
        flags=re.S,
    )
    name, sheet_id, rid = cover
    sheets_tag = re.search(rb"<((?:\w+:)?)sheets\b" + _A + rb">", wb_xml)
    if sheets_tag is None:
        raise InputError("the workbook part has no list of sheets",
                         fix="Open the workbook in Excel and save it again.")
    sp = sheets_tag.group(1).decode()
    rattr = f'{r_prefix}:id="{rid}"' if r_prefix else f'xmlns:r="{NS_R}" r:id="{rid}"'
    new_sheet = f'<{sp}sheet name="{escape_attr(name)}" sheetId="{sheet_id}" {rattr}/>'.encode()
    if sheets_tag.group().endswith(b"/>"):
        wb_xml = (wb_xml[: sheets_tag.start()] + f"<{sp}sheets>".encode() + new_sheet
                  + f"</{sp}sheets>".encode() + wb_xml[sheets_tag.end():])
    else:
        wb_xml = wb_xml[: sheets_tag.end()] + new_sheet + wb_xml[sheets_tag.end():]

    # The cover is the first and active tab.
    wb_xml = re.sub(
        rb"<(?:\w+:)?workbookView\b" + _ATTRS_NO_SLASH + rb"/?>",
        lambda m: _set_attr(_set_attr(m.group(), b"activeTab", b"0"), b"firstSheet", b"0"),
        wb_xml,
    )

    # localSheetId is the sheet's position in the tab order: renumber it for the new order.
    position: dict[int, int | None] = {}
    new_pos = 1
    for old, e in enumerate(entries):
        if e.rid in dropped_ids:
            position[old] = None
        else:
            position[old] = new_pos
            new_pos += 1

    def name_el(m: re.Match[bytes]) -> bytes:
        attrs, text = m.group(2), html.unescape((m.group(3) or b"").decode("utf-8"))
        if re.search(rb'\b(?:vbProcedure|xlm)="(?:1|true)"', attrs):
            return b""  # a name for a macro, which the copy does not have
        local = re.search(rb'\blocalSheetId="(\d+)"', attrs)
        if local is not None:
            new = position.get(int(local.group(1)))
            if new is None:
                return b""
            tag, at = m.group(), m.start(2) - m.start()  # where the attributes start
            return tag[: at + local.start(1)] + str(new).encode() + tag[at + local.end(1):]
        if dropped_names and _name_refers_to(text, dropped_names):
            return b""
        return m.group()

    wb_xml = re.sub(
        rb"<((?:\w+:)?)definedName\b(" + _ATTRS_NO_SLASH + rb")(?:/>|>(.*?)</\1definedName>)",
        name_el, wb_xml, flags=re.S,
    )
    # A <definedNames> left empty is not allowed.
    return re.sub(rb"<((?:\w+:)?)definedNames\b[^>]*>\s*</\1definedNames>|"
                  rb"<(?:\w+:)?definedNames\s*/>", b"", wb_xml)


def _edit_content_types(
    ct_xml: bytes, wb_part: str, dropped_parts: Iterable[str], cover_part: str
) -> bytes:
    for part in dropped_parts:
        ct_xml = _remove_elements(ct_xml, rb"Override", rb"PartName", "/" + part)
    ct_xml = _remove_elements(ct_xml, rb"Default", rb"ContentType", CT_VBA_PROJECT)
    wb_override = re.compile(
        rb"<(?:\w+:)?Override\b" + _ATTRS_NO_SLASH + rb"/?>", re.S
    )
    found = False

    def override(m: re.Match[bytes]) -> bytes:
        nonlocal found
        pn = re.search(rb'\bPartName="([^"]*)"', m.group())
        if pn and pn.group(1).decode().lstrip("/").lower() == wb_part.lower():
            found = True
            return _set_attr(m.group(), b"ContentType", CT_WORKBOOK_XLSX.encode())
        return m.group()

    ct_xml = wb_override.sub(override, ct_xml)
    new = f'<Override PartName="/{escape_attr(cover_part)}" ContentType="{CT_WORKSHEET}"/>'
    if not found:
        new += f'<Override PartName="/{escape_attr(wb_part)}" ContentType="{CT_WORKBOOK_XLSX}"/>'
    return _insert_before_close(ct_xml, rb"</(?:\w+:)?Types>", new.encode(), "content types")


def _blank_elements(xml: bytes, names: Iterable[bytes]) -> bytes:
    for name in names:
        xml = re.sub(rb"(<(\w+:)?" + name + rb"\b[^>/]*>).*?(</(?:\w+:)?" + name + rb">)",
                     rb"\1\3", xml, flags=re.S)
    return xml


# --------------------------------------------------------------------------------------------
# The cover sheet


def _sheet_kind(name: str) -> str:
    if name in schema.LEDGER_SHEETS:
        return "ledger: what your team records"
    if name in schema.SETTINGS_SHEETS:
        return "settings: indicators, judgments and strategies of the analysis"
    if name in schema.RESULT_SHEETS:
        return "results computed by xlcrm"
    if name == schema.HELP:
        return "help"
    return ""


def _cover_rows(
    source_name: str, outcome: _Outcome, made: datetime, kept: Sequence[SheetEntry],
    mask_contacts: bool,
) -> list[list[Any]]:
    computed = (
        f"{outcome.computed} by xlcrm (the stamp on the {schema.DASHBOARD} sheet)"
        if outcome.computed else
        f"{NEVER}: xlcrm has not computed the results of this workbook, so the result sheets "
        "may be empty or out of date"
    )
    if outcome.masked:
        where = "; ".join(f"{s} ({', '.join(c)})" for s, c in outcome.masked.items())
        contacts = f"masked: {outcome.masked_cells} cells shown as {MASK_TEXT} on {where}"
    elif mask_contacts:
        contacts = "masked: the workbook has no Contact, Phone or Email column"
    else:
        contacts = ("not masked: this copy shows the Contact, Phone and Email of your "
                    "customers")
    removed = ", ".join(outcome.removed) if outcome.removed else "nothing"
    rows: list[list[Any]] = [
        [f"{_COVER_TITLE}{source_name}"],
        [],
        ["What this is", f"A read-only copy with values only: every formula was replaced by "
                         f"the value it showed, there are no macros and no Python. Made by "
                         f"xlcrm {__version__}."],
        ["Source workbook", source_name],
        ["Results computed", computed],
        ["Copy made", f"{made:%Y-%m-%d %H:%M}"],
        ["Contact details", contacts],
        ["Formulas replaced by values", f"{outcome.formulas:,} cells"],
        ["Taken out", removed],
        ["Recalculation", "Nothing recalculates here; edits change no score. The analyst "
                          "updates the original workbook with xlcrm and sends a new copy."],
        [],
        ["Sheets in this copy"],
        [outcome.cover, "this page"],
    ]
    for e in kept:
        kind = _sheet_kind(e.name)
        if e.state != "visible":
            kind = f"{kind} (hidden)" if kind else "hidden"
        rows.append([e.name, kind])
    return rows


def _cover_part(rows: Sequence[Sequence[Any]], name: str) -> list[bytes]:
    split = _split_sheet(NEW_SHEET_XML, name)
    _set_child(split, "sheetViews",
               b'<sheetViews><sheetView tabSelected="1" workbookViewId="0"/></sheetViews>')
    _set_child(split, "cols", _cols_xml("", {0: 28.0, 1: 110.0}))
    # Printed, the page is one page wide (the long texts of column B stay beside their label).
    _set_child(split, "sheetPr", b'<sheetPr><pageSetUpPr fitToPage="1"/></sheetPr>')
    _set_child(split, "pageSetup",
               b'<pageSetup orientation="landscape" fitToWidth="1" fitToHeight="0"/>')
    # Only text is written: no number or date format needs adding to the styles.
    writer = _CellWriter(_Styles(None), False, name, {}, {})
    return list(_sheet_chunks(split, [Block(list(rows))], writer, SheetData()))


def _cover_name(taken: Iterable[str]) -> str:
    folded = {t.casefold() for t in taken}
    name, n = COVER_SHEET, 2
    while name.casefold() in folded:
        name = f"{COVER_SHEET} ({n})"
        n += 1
    return name


# --------------------------------------------------------------------------------------------
# The copy


def _refuse_missing(missing: Sequence[str]) -> InputError:
    shown = ", ".join(missing[:LISTED_CELLS])
    more = f" and {len(missing) - LISTED_CELLS} more" if len(missing) > LISTED_CELLS else ""
    return InputError(
        f"{len(missing)} formula cell(s) have no saved value, so a copy with values only "
        f"cannot show them: {shown}{more}",
        fix="Open the workbook in Excel and save it (Excel stores the value of every "
        "formula), or, for result sheets, run `xlcrm resegment` on it; then make the copy "
        "again.",
    )


def shareable_bytes(
    book: Workbook,
    *,
    mask_contacts: bool = False,
    made: datetime | None = None,
    progress: Progress | None = None,
) -> tuple[list[_Member], _Outcome]:
    """The zip members of the shareable copy of ``book`` (see the module doc).

    Returns
    -------
    (members, outcome)
        Members to write with :func:`xlcrm.book.write._write_zip`, and what was done.

    Raises
    ------
    InputError
        When the workbook is not an ``.xlsx``/``.xlsm`` zip, or a formula cell has no saved
        value (naming the first cells).
    """
    data = book.data
    label = book.path.name
    made = made or datetime.now()
    z, pkg, wb_part = open_package(data, label, "make a copy of it")
    entries = pkg.sheets()
    config = {c.casefold() for c in CONFIG_SHEETS}
    dropped = [e for e in entries if e.name.casefold() in config or e.kind in MACRO_SHEET_KINDS]
    kept = [e for e in entries if e not in dropped]
    outcome = _Outcome(sheets=[], cover="", computed=run_stamp(book))

    # Relationships that lead to macros, the ribbon, the calculation chain, dropped sheets.
    wb_rels = pkg.rels(wb_part)
    skip: dict[str, set[str]] = {"": set(), wb_part: {e.rid for e in dropped}}
    for rel in pkg.rels(""):
        if "/ui/" in rel.type:
            skip[""].add(rel.id)
    for rel in wb_rels:
        if rel.type.endswith(("/vbaProject", "/calcChain", "/attachedToolbars")):
            skip[wb_part].add(rel.id)
    before = _reachable(pkg, {})
    after = _reachable(pkg, skip)
    dropped_parts = set(before - after)
    # A VBA project nothing refers to is still a macro in the file.
    dropped_parts |= {n for n in z.namelist()
                      if n.rsplit("/", 1)[-1].lower().startswith("vbaproject")}
    for part in list(dropped_parts):
        rp = pkg.find(rels_part(part))
        if rp is not None:
            dropped_parts.add(rp)
    kinds = {
        "vbaProject": "macros (VBA project)",
        "/ui/": "the custom ribbon",
        "calcChain": "the calculation chain",
        "attachedToolbars": "macro toolbars",
    }
    rel_types = [r.type for r in pkg.rels("") if r.id in skip[""]] + [
        r.type for r in wb_rels if r.id in skip[wb_part] and r.id not in {e.rid for e in dropped}]
    for key, what in kinds.items():
        if any(key in t for t in rel_types) and what not in outcome.removed:
            outcome.removed.append(what)
    for e in dropped:
        what = (f"the sheet {e.name} (Python configuration)" if e.kind not in MACRO_SHEET_KINDS
                else f"the macro sheet {e.name}")
        outcome.removed.append(what)

    sst_rel = next((r for r in wb_rels if r.type.endswith("/sharedStrings")), None)
    sst_part = pkg.find(sst_rel.target) if sst_rel else None
    targets = _mask_targets(z, pkg, kept, sst_part) if mask_contacts else {}

    edits: dict[str, bytes] = {}
    missing: list[str] = []
    errors: list[tuple[str, str]] = []
    masked_strings: set[int] = set()
    worksheets = [e for e in kept if e.part is not None]
    for i, e in enumerate(worksheets):
        if progress:
            progress(f"Sheet {e.name}", 0.1 + 0.6 * i / max(len(worksheets), 1))
        assert e.part is not None
        xml = z.read(e.part)
        new = _TAB_SELECTED.sub(rb"\1", xml[: _head_end(xml)]) + xml[_head_end(xml):]
        if e.kind == "worksheet":
            res = _clean_cells(new, e.name, targets.get(e.name, []))
            new = res.xml
            outcome.formulas += res.formulas
            missing += res.missing
            errors += res.errors
            if res.masked:
                masked_strings |= res.masked_strings
                outcome.masked_cells += res.masked
                cols = [c for t in targets[e.name] for c in t.columns.values()]
                outcome.masked[e.name] = tuple(dict.fromkeys(cols))
                new, rids, n = _drop_masked_links(new, targets[e.name])
                outcome.links_removed += n
                rp = pkg.find(rels_part(e.part))
                if rids and rp is not None:
                    edits[rp] = _drop_rel_ids(z.read(rp), rids)
            new = _add_internal_links(new, res.links)
            for rel in pkg.rels(e.part):
                table = pkg.find(rel.target) if rel.type.endswith("/table") else None
                if table is not None:
                    txml = z.read(table)
                    cleaned = _CALC_COLUMN.sub(b"", txml)
                    if cleaned != txml:
                        edits[table] = cleaned
        if new != xml:
            edits[e.part] = new
    if missing:
        raise _refuse_missing(missing)
    if masked_strings and sst_part is not None:
        still_used: set[int] = set()
        for e in worksheets:
            assert e.part is not None
            final = edits.get(e.part) or z.read(e.part)
            still_used.update(int(v) for v in _SHARED_CELL.findall(final))
        edits[sst_part] = _scrub_shared_strings(z.read(sst_part), masked_strings, still_used)
    for ref, err in errors:
        outcome.warnings.append(
            f"{ref} shows {err}: its formula could not be calculated when the workbook was "
            "last saved (an xlcrm worksheet function without the xlwings add-in shows #NAME?)"
        )

    # The cover sheet: a new part, first in the tab order.
    if progress:
        progress("Writing the cover sheet", 0.75)
    cover = _cover_name([e.name for e in kept])
    outcome.cover = cover
    outcome.sheets = [cover, *(e.name for e in kept)]
    taken = {n.lower() for n in pkg.names}
    folder = wb_part.rsplit("/", 1)[0] + "/" if "/" in wb_part else ""
    n = 1
    while f"{folder}worksheets/sheet{n}.xml".lower() in taken:
        n += 1
    cover_part = f"{folder}worksheets/sheet{n}.xml"
    rids = {r.id for r in wb_rels}
    k = len(rids) + 1
    while f"rId{k}" in rids:
        k += 1
    cover_rid = f"rId{k}"
    sheet_id = max((e.sheet_id for e in entries), default=0) + 1

    wb_rels_name = pkg.find(rels_part(wb_part))
    if wb_rels_name is None:
        raise InputError(f"{label} lacks its workbook relationships part",
                         fix="Save it again from Excel.")
    rels_xml = _drop_rel_ids(z.read(wb_rels_name), skip[wb_part])
    rels_xml = _insert_before_close(
        rels_xml, rb"</(?:\w+:)?Relationships>",
        f'<Relationship Id="{cover_rid}" Type="{REL_WORKSHEET}" '
        f'Target="{escape_attr(cover_part[len(folder):])}"/>'.encode(), "relationships")
    edits[wb_rels_name] = rels_xml
    pkg_rels = pkg.find(rels_part(""))
    if pkg_rels is not None and skip[""]:
        edits[pkg_rels] = _drop_rel_ids(z.read(pkg_rels), skip[""])
    edits[wb_part] = _edit_workbook_xml(pkg.read(wb_part), entries, dropped,
                                        (cover, sheet_id, cover_rid))
    ct_name = pkg.find("[Content_Types].xml")
    if ct_name is None:
        raise InputError(f"{label} lacks its content types part", fix="Save it again from Excel.")
    edits[ct_name] = _edit_content_types(z.read(ct_name), wb_part, sorted(dropped_parts),
                                         cover_part)
    if mask_contacts:
        for part, names in (("docProps/core.xml", (b"creator", b"lastModifiedBy")),
                            ("docProps/app.xml", (b"Company", b"Manager"))):
            found = pkg.find(part)
            if found is not None:
                blanked = _blank_elements(z.read(found), names)
                if blanked != z.read(found):
                    edits[found] = blanked

    rows = _cover_rows(label, outcome, made, kept, mask_contacts)
    chunks = _cover_part(rows, cover)
    members: list[_Member] = []
    wb_like = None
    for info in z.infolist():
        name = info.filename
        if name in dropped_parts:
            continue
        raw = _raw_member(data, info)
        if name == wb_part:
            wb_like = raw
        members.append(_new_member(name, [edits[name]], raw) if name in edits else raw)
    members.append(_new_member(cover_part, chunks, wb_like))
    return members, outcome


def _head_end(xml: bytes) -> int:
    """Where a sheet part's cell data starts (its end for a sheet without cells)."""
    sd = _SHEET_DATA.search(xml)
    return sd.start() if sd else len(xml)


def _cell_formula(xml: bytes) -> bool:
    """Whether a sheet part has a cell formula (in ``<sheetData>``; sparklines and
    conditional formats after it have ``<xm:f>`` of their own, which are not cell formulas)."""
    span = _sheet_data_span(xml)
    return span is not None and bool(_formula_hits(xml[span[0]:span[1]]))


def check_copy(path: str | os.PathLike[str], expect_sheets: Sequence[str]) -> None:
    """Raise :class:`VerifyError` unless ``path`` is a complete, macro-free, formula-free copy.

    Besides :func:`xlcrm.book.save.verify_workbook` (parts decompress and are well formed,
    an independent reader sees exactly the expected sheets): no VBA or customUI part, no
    ``<f>`` in a worksheet, the macro-free workbook content type, and a content type for
    every part.
    """
    names = verify_workbook(path, expect_sheets=expect_sheets)
    if names != list(expect_sheets):
        raise VerifyError(f"the copy's sheets are {names}, expected {list(expect_sheets)}")
    with zipfile.ZipFile(path) as z:
        pkg = Package(z)
        ct = z.read(pkg.find("[Content_Types].xml") or "[Content_Types].xml").decode("utf-8")
        defaults = {m.group(1).lower() for m in re.finditer(
            r'<(?:\w+:)?Default\b[^>]*?\bExtension="([^"]*)"', ct)}
        overrides = {m.group(1).lstrip("/").lower(): m.group(2) for m in re.finditer(
            r'<(?:\w+:)?Override\b[^>]*?\bPartName="([^"]*)"[^>]*?\bContentType="([^"]*)"', ct)}
        wb_part = pkg.workbook_part()
        if overrides.get(wb_part.lower()) != CT_WORKBOOK_XLSX:
            raise VerifyError("the copy's workbook part does not have the .xlsx content type")
        for name in z.namelist():
            low = name.lower()
            if name.endswith("/") or low == "[content_types].xml":
                continue
            if low.rsplit("/", 1)[-1].startswith("vbaproject") or low.startswith("customui"):
                raise VerifyError(f"the copy still holds the macro part {name}")
            if low not in overrides and low.rsplit(".", 1)[-1] not in defaults:
                raise VerifyError(f"part {name} of the copy has no content type")
        for e in pkg.sheets():
            if e.part is not None and e.kind == "worksheet" and _cell_formula(z.read(e.part)):
                raise VerifyError(f"sheet {e.name} of the copy still holds a formula")


def make_shareable(
    source: str | os.PathLike[str],
    output: str | os.PathLike[str] | None = None,
    *,
    mask_contacts: bool = False,
    made: datetime | None = None,
    progress: Progress | None = None,
) -> ShareReport:
    """Write a copy of the workbook ``source`` to email: values only, no macros.

    Parameters
    ----------
    source : path-like
        The workbook (``.xlsm`` or ``.xlsx``); only read, also while Excel has it open (the
        copy then shows its last saved state).
    output : path-like or None
        The copy, ending in ``.xlsx``; default :func:`default_output` (``<stem> (shareable
        YYYY-MM-DD).xlsx`` beside the source). An existing file there is replaced only when
        it is itself a shareable copy.
    mask_contacts : bool
        Replace contact details by ``(masked)`` (see the module doc).
    made : datetime or None
        The time shown as "Copy made" (default: now).
    progress : callable or None
        Called with ``(step, fraction)``.

    Returns
    -------
    ShareReport

    Raises
    ------
    InputError
        When ``output`` does not end in ``.xlsx``, is the source, is another file that is
        not a shareable copy, or is open in a spreadsheet program; when the source cannot
        be read or has a formula cell without a saved value. Nothing is written then.
    """
    source = Path(source)
    made = made or datetime.now()
    out = Path(output) if output is not None else default_output(source, made.date())
    _check_output(source, out)
    if progress:
        progress("Reading the workbook", 0.0)
    book = open_workbook(source)
    try:
        members, outcome = shareable_bytes(book, mask_contacts=mask_contacts, made=made,
                                           progress=progress)
        comment = zipfile.ZipFile(io.BytesIO(book.data)).comment
    finally:
        book.close()

    def write(target: Path) -> None:
        with open(target, "wb") as f:
            _write_zip(f, members, comment)  # type: ignore[arg-type]
        if progress:
            progress("Checking the copy", 0.9)
        check_copy(target, outcome.sheets)

    if progress:
        progress("Writing the copy", 0.8)
    # No backup: the file replaced is an earlier shareable copy (checked above), which the
    # source can make again. The check runs inside write, on the copy's own terms.
    try:
        safe_replace(out, write, backups=0, verify=False)
    except VerifyError as exc:
        # A copy that fails its own check is never written; say so in one line.
        raise InputError(
            f"the shareable copy of {source.name} failed its check ({exc}), so it was not "
            "written",
            fix="Open the workbook in Excel, save it, and try again; if that does not help, "
            "send the workbook to your analyst.",
        ) from exc
    if progress:
        progress("Done", 1.0)
    return ShareReport(
        source=source,
        output=out,
        sheets=tuple(outcome.sheets),
        cover=outcome.cover,
        computed=outcome.computed,
        made=made,
        formulas=outcome.formulas,
        masked=dict(outcome.masked),
        masked_cells=outcome.masked_cells,
        links_removed=outcome.links_removed,
        removed=tuple(outcome.removed),
        warnings=tuple(outcome.warnings),
        source_open=bool(lock_files(source)),
    )
