"""A copy of a workbook to email: values only, no macros, nothing hidden, contacts optionally
masked.

A recipient without Python, in any spreadsheet program, must see every number the
workbook shows, and nothing the sender did not see. The copy is made from the source
file's zip parts (never re-saved through a spreadsheet library, which would lose charts and
formatting), by an allow-list (:mod:`xlcrm.book.share_parts`): only the parts, relationships
and elements a values-only workbook needs are copied, so external and DDE links, pivot
caches, customXml, connections, macros, custom and personal document properties, data
validation, threaded comments and whatever else a file may carry stay behind. The cover
sheet lists what was taken out.

- every cell formula is replaced by the value Excel saved with it (``<f>`` removed, ``<v>``
  kept with the cell's type; a text result, ``t="str"``, which is only valid with a
  formula, becomes an inline string; dynamic-array ``cm`` and value-metadata ``vm``
  attributes go with the metadata part; calculated-column formulas of Excel Tables go,
  so that the table does not flag every cell as differing from its column formula). A
  formula cell without a saved value cannot be shown right: the copy is refused, naming
  the cells. A ``HYPERLINK`` to a place in the workbook (the Problems sheet's links to bad
  cells) becomes a cell hyperlink, so it stays clickable;
- the ``xlwings.conf`` sheet (Python configuration, also as ``_xlwings.conf``), Excel 4
  macro sheets and dialog sheets are dropped, with the defined names local to them or
  referring to them. Sheet-local names (``localSheetId`` is a position in the tab order)
  are renumbered; the workbook part gets the macro-free content type (a plain ``.xlsx``);
- a cover sheet comes first and is the active tab: what the copy is, the source file,
  when its results were computed (the run stamp of the Dashboard), when the copy was made,
  whether contacts are masked, what was taken out, and the sheets it holds;
- with ``mask_contacts``, every non-blank cell below the header of a contact column
  (:data:`CONTACT_HEADERS`: Contact, Phone, Email and their synonyms) becomes the inline
  text ``(masked)``: on Customers (header row of its Excel Table, else row 1), in every
  Excel Table of the workbook with such a column (its data rows) and on every other
  worksheet whose row 1 has such a header; on a sheet named ``Contacts`` every cell below
  the header, except, in xlcrm's Contacts table (the person in ``Name``), the columns
  CustomerID, Role, Stance and LastContact (:data:`CONTACTS_KEPT`), which name nobody.
  Hyperlinks on masked cells and ``mailto:`` links are removed. Every entry of the
  shared-strings part that no cell of the copy shows is emptied (unzipping the copy
  must not reveal the masked values); entries keep their positions. Notes, text boxes,
  print headers and footers, autoFilter criteria, chart caches and picture descriptions
  go too (:mod:`xlcrm.book.share_parts`).

The copy goes to ``<stem> (shareable YYYY-MM-DD).xlsx`` beside the source unless another
``.xlsx`` is named; an existing file there is replaced only when it is itself a shareable
copy (its first sheet is the cover).

Every part kept unchanged keeps its exact compressed bytes. The copy is written to a
temporary file, checked (:func:`check_copy`: parts written afresh read back and parsed,
parts copied byte for byte checked by their zip entry only, an independent reader sees the
sheets, no formula, macro or part without content type) and then moved into place
atomically (:func:`xlcrm.book.save.safe_replace`); the source is only read, also while
Excel has it open.
"""

from __future__ import annotations

import html
import io
import os
import re
import tempfile
import zipfile
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from xml.parsers import expat

from xlcrm import __version__, schema
from xlcrm.book import share_parts as parts
from xlcrm.book.read import (
    NS_R,
    Package,
    Relationship,
    SheetEntry,
    Workbook,
    open_workbook,
    rels_part,
    resolve_target,
)
from xlcrm.book.save import VerifyError, lock_files, safe_replace
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
    _set_child,
    _sheet_chunks,
    _split_sheet,
    _Styles,
    escape_attr,
    escape_text,
    open_package,
)
from xlcrm.book.zip_members import Member, new_member, raw_member, write_zip
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
_MASK_XML = MASK_TEXT.encode()  # no character to escape

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
_V_TEXT = re.compile(rb"<(?:\w+:)?v>([^<]*)</(?:\w+:)?v>")
# Attributes may be quoted either way in XML ('...' is rare, but legal).
_REF_ATTR = re.compile(rb"""\br=["']([A-Z]{1,3})(\d+)["']""")
_ROW_NUM = re.compile(rb"""\br=["'](\d+)["']""")
_STYLE_ATTR = re.compile(rb"""\ss=["']\d+["']""")
_TYPE_ATTR = re.compile(rb"""\bt=["']([^"']*)["']""")
_CM_ATTR = re.compile(rb'\s(?:cm|vm)="[^"]*"')
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
        Hyperlinks removed: on masked cells, `mailto:` links when masking, links to files.
    removed : tuple of str
        Everything the copy left out, one entry per kind, as the cover lists it.
    warnings : tuple of str
        Things the recipient will see that may surprise (formula cells saved with an error).
    source_open : bool
        The source was open in a spreadsheet program (a lock file beside it): the copy shows
        its last saved state.
    customers : str
        Whose customers the copy holds (``share --manager``); empty for every customer.
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
    customers: str = ""

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
            "customers": self.customers,
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
    verbatim: set[str] = field(default_factory=set)
    """Members copied byte for byte (their compressed bytes)."""
    masking: bool = False
    """Contact columns were to be masked."""
    only: str = ""
    """Whose customers the copy holds, when not everyone's."""


# --------------------------------------------------------------------------------------------
# Where the copy goes


_UNSAFE_IN_NAME = re.compile(r'[\\/:*?"<>|]+')


def default_output(source: str | os.PathLike[str], day: date | None = None,
                   manager: str | None = None) -> Path:
    """``<stem> (shareable YYYY-MM-DD).xlsx`` beside ``source``; ``<stem> (NAME, shareable
    YYYY-MM-DD).xlsx`` for one manager's customers.

    Dated, so that a copy emailed yesterday is not overwritten by today's; the same day's
    copy is replaced by a new one. Named after the manager, so that each manager's book is
    its own file (characters a file name cannot hold become ``_``).
    """
    p = Path(source)
    day = day or date.today()
    who = _UNSAFE_IN_NAME.sub("_", " ".join(manager.split())) + ", " if manager else ""
    return p.with_name(f"{p.stem} ({who}shareable {day:%Y-%m-%d}).xlsx")


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
    every: bool = False  # every column (a Contacts sheet)
    keep: dict[int, str] = field(default_factory=dict)  # with every: columns left as they are

    def covers(self, row: int, col: int) -> bool:
        return ((self.every and col not in self.keep) or col in self.columns) and (
            row >= self.first_row and (self.last_row is None or row <= self.last_row))

    def covers_cols(self, c1: int, c2: int) -> bool:
        return self.every or any(c1 <= c <= c2 for c in self.columns)


@dataclass
class _SheetResult:
    xml: bytes
    formulas: int = 0
    missing: list[str] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    masked: int = 0
    links: list[tuple[str, str]] = field(default_factory=list)
    """Cell -> place in the workbook, of the internal ``HYPERLINK`` formulas replaced."""
    span: tuple[int, int] | None = None
    """Where ``<sheetData>`` is in ``xml``."""


def _sheet_data_span(xml: bytes) -> tuple[int, int] | None:
    """Start and end of a sheet part's ``<sheetData>`` element, ``None`` when it has none."""
    sd = _SHEET_DATA.search(xml)
    if sd is None:
        return None
    # The end tag is near the end of the part: found from there, not by scanning the cells.
    close = xml.rfind(b"sheetData>")
    lt = xml.rfind(b"<", 0, close)
    if close > sd.start() and xml[lt + 1 : lt + 2] == b"/":
        return sd.start(), close + len(b"sheetData>")
    found = _SHEET_DATA_END.search(xml, sd.start())
    if found is not None:
        return sd.start(), found.end()
    return sd.start(), xml.index(b">", sd.start()) + 1  # <sheetData/>


_MAIN_PREFIXED = re.compile(
    rb'xmlns:[\w.-]+=["\']http://schemas\.openxmlformats\.org/spreadsheetml/2006/main["\']')


def _prefixed(head: bytes) -> bool:
    """Whether a sheet part binds a prefix to the main namespace (``<x:f>`` possible)."""
    return _MAIN_PREFIXED.search(head) is not None


def _formula_hits(data: bytes, prefixed: bool = True) -> list[int]:
    """Where ``<f>`` elements start in cell data (``<x:f>`` too, when ``prefixed``).

    A plain search for the few bytes is much faster than a regular expression over tens of
    megabytes; each hit is then checked (``<family`` of rich text is not a formula).
    """
    hits = []
    for token in (b"<f", b":f") if prefixed else (b"<f",):
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
        # Blank (perhaps styled) cells have nothing to hide. A plain search is enough here:
        # a "<v"/"<is" or prefixed ":v"/":is" in a cell body can only start its value.
        if not body or not any(tok in body for tok in (b"<v", b"<is", b":v", b":is")):
            return None
        style = _STYLE_ATTR.search(attrs)
        self.res.masked += 1
        return (b"<" + prefix + b'c r="' + f"{column_letter(col)}{row}".encode() + b'"'
                + (style.group() if style else b"") + b' t="inlineStr"><' + prefix + b"is><"
                + prefix + b"t>" + _MASK_XML + b"</" + prefix + b"t></" + prefix + b"is></"
                + prefix + b"c>")

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
        attrs = _CM_ATTR.sub(b"", attrs)
        if t and t.group(1) == b"str":
            return _as_inline(prefix, attrs, body)
        return b"<" + prefix + b"c" + attrs + b">" + body + b"</" + prefix + b"c>"

    # -- fast path: every cell has its address (as Excel and most writers save them)
    def mask_fast(self, data: bytes) -> bytes:
        letters = sorted({column_letter(c) for t in self.targets for c in t.columns})
        cols = "[A-Z]{1,3}" if any(t.every for t in self.targets) else "|".join(letters)
        pattern = re.compile(
            rb"<((?:\w+:)?)c\b(?=[^>]*?\br=[\"'](" + cols.encode() + rb")(\d+)[\"'])("
            + _ATTRS_NO_SLASH + rb")(?:/>|>(.*?)</\1c>)", re.S,
        )

        def sub(m: re.Match[bytes]) -> bytes:
            new = self.masked(m.group(1), m.group(4), m.group(5), int(m.group(3)),
                              column_index(m.group(2)))
            return m.group() if new is None else new

        return pattern.sub(sub, data)

    def formulas_fast(self, data: bytes, hits: Sequence[int]) -> bytes:
        def rewrite(m: re.Match[bytes]) -> bytes | None:
            ref = _REF_ATTR.search(m.group(2))
            assert ref is not None  # the fast path is only taken when every cell has one
            return self.valued(m.group(1), m.group(2), m.group(3) or b"",
                               (ref.group(1) + ref.group(2)).decode())

        return _rewrite_cells_at(data, hits, rewrite)

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


def _as_inline(prefix: bytes, attrs: bytes, body: bytes) -> bytes:
    """A text cell without formula as an inline string (``t="str"`` is for formula results
    only: Excel repairs a ``t="str"`` cell that has no formula)."""
    v = _V_TEXT.search(body)
    text = v.group(1) if v else b""
    attrs = _TYPE_ATTR.sub(b't="inlineStr"', attrs, count=1)
    space = b' xml:space="preserve"' if text[:1].isspace() or text[-1:].isspace() else b""
    p = prefix
    return (b"<" + p + b"c" + attrs + b"><" + p + b"is><" + p + b"t" + space + b">" + text
            + b"</" + p + b"t></" + p + b"is></" + p + b"c>")


_STR_TOKENS = (b't="str"', b"t='str'")
_METADATA_TOKENS = (b" vm=", b" cm=")


def _fix_cells(data: bytes, tokens: Sequence[bytes]) -> bytes:
    """Cells without formula: ``t="str"`` as inline strings, no metadata references
    (``cm``/``vm`` point into the metadata part, which the copy does not keep).

    ``tokens`` say what to look for: a sheet the copy rewrites anyway is searched for all
    of them; an untouched one only for metadata references when the workbook has a
    metadata part (Excel writes ``t="str"`` only with a formula).
    """
    hits = sorted(i for tok in tokens for i in _find_all(data, tok))
    if not hits:
        return data

    def rewrite(m: re.Match[bytes]) -> bytes | None:
        if _HAS_F.search(m.group(3) or b""):
            return None
        attrs = _CM_ATTR.sub(b"", m.group(2))
        kind = _TYPE_ATTR.search(attrs)
        if kind and kind.group(1) == b"str":
            return _as_inline(m.group(1), attrs, m.group(3) or b"")
        return m.group()[: m.start(2) - m.start()] + attrs + m.group()[m.end(2) - m.start():]

    return _rewrite_cells_at(data, hits, rewrite)


def _rewrite_cells_at(
    data: bytes, hits: Sequence[int], rewrite: Callable[[re.Match[bytes]], bytes | None]
) -> bytes:
    """``data`` with each cell holding a hit (sorted positions in its start tag or its first
    child) replaced by ``rewrite(match)``; ``None`` keeps the cell."""
    out = []
    pos = 0
    for hit in hits:
        if hit < pos:
            continue
        # The tag just before the hit is the cell's start tag (<f> is a cell's first child).
        start = data.rfind(b"<", 0, hit)
        m = _CELL_RE.match(data, start)
        if m is None or m.end() <= hit:
            continue
        new = rewrite(m)
        if new is not None:
            out += [data[pos:start], new]
            pos = m.end()
    out.append(data[pos:])
    return b"".join(out)


def _find_all(data: bytes, token: bytes) -> list[int]:
    out = []
    i = data.find(token)
    while i >= 0:
        out.append(i)
        i = data.find(token, i + 1)
    return out


def _clean_cells(xml: bytes, sheet: str, targets: Sequence[_MaskTarget],
                 metadata: bool = False) -> _SheetResult:
    """The sheet part with formulas replaced by their values, contact cells masked and every
    cell typed as a value (see :func:`_fix_cells`; ``metadata``: the workbook has a
    metadata part, which cells may refer to)."""
    res = _SheetResult(xml)
    span = _sheet_data_span(xml)
    if span is None:
        return res
    start, end = span
    res.span = span
    prefixed = _prefixed(xml[:start])
    data = xml[start:end]
    hits = _formula_hits(data, prefixed)
    if not hits and not targets:
        fixed = _fix_cells(data, _METADATA_TOKENS if metadata else ())
        if fixed is not data:
            res.xml = xml[:start] + fixed + xml[end:]
            res.span = (start, start + len(fixed))
        return res
    cells = _Cells(sheet, targets, res)
    if _CELL_WITHOUT_REF.search(data) or _ROW_WITHOUT_REF.search(data):
        data = cells.by_rows(data)
    else:
        if targets:
            data = cells.mask_fast(data)
            hits = _formula_hits(data, prefixed)
        if hits:
            data = cells.formulas_fast(data, hits)
    data = _fix_cells(data, _STR_TOKENS + _METADATA_TOKENS)
    res.xml = xml[:start] + data + xml[end:]
    res.span = (start, start + len(data))
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


def _blank_strings(xml: bytes, used: set[int]) -> tuple[bytes, int]:
    """The shared-strings part with every entry no cell shows made empty; how many were.

    The masked cells now show the mask as inline text, but their old strings would still
    be in the file for anyone who unzips it (and so would any string no cell uses). A
    string an unmasked cell also shows is kept. Entries keep their positions, so every
    other cell's index stays right.
    """
    k = -1
    blanked = 0

    def entry(m: re.Match[bytes]) -> bytes:
        nonlocal k, blanked
        k += 1
        if k in used:
            return m.group()
        p = m.group(1)
        empty = b"<" + p + b"si><" + p + b"t></" + p + b"t></" + p + b"si>"
        blanked += m.group() != empty
        return empty

    new = _SI.sub(entry, xml)
    return (new, blanked) if blanked else (xml, 0)


def _add_internal_links(tail: bytes, prefix: bytes, links: Sequence[tuple[str, str]]) -> bytes:
    """Give each ``(cell, place)`` a cell hyperlink to ``place`` in the workbook.

    ``tail`` is the sheet part after ``</sheetData>``, ``prefix`` the namespace prefix of
    its elements. A ``HYPERLINK`` formula is a link only while it is a formula; a cell
    hyperlink (no relationship needed for a place inside the workbook) keeps the copy's
    cell clickable in any spreadsheet program. Cells that already have a hyperlink keep
    theirs.
    """
    p = prefix
    block = re.search(rb"<" + re.escape(p) + rb"hyperlinks\b[^>]*>.*?</" + re.escape(p)
                      + rb"hyperlinks>", tail, re.S)
    taken = set(re.findall(rb'\bref="([^"]*)"', block.group())) if block else set()
    items = b"".join(
        b"<" + p + b'hyperlink ref="' + ref.encode() + b'" location="'
        + escape_attr(place).encode() + b'"/>'
        for ref, place in links if ref.encode() not in taken
    )
    if not items:
        return tail
    if block:
        close = block.end() - len(b"</" + p + b"hyperlinks>")
        return tail[:close] + items + tail[close:]
    later = WORKSHEET_ORDER[WORKSHEET_ORDER.index("hyperlinks") + 1:]
    after = re.compile(rb"<" + re.escape(p) + rb"(?:" + b"|".join(n.encode() for n in later)
                       + rb")\b").search(tail)
    pos = after.start() if after else tail.rindex(b"</" + p + b"worksheet>")
    return tail[:pos] + b"<" + p + b"hyperlinks>" + items + b"</" + p + b"hyperlinks>" + tail[pos:]


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
            t.covers_cols(c1, c2)
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


#: Column headers that hold a way to reach a person, compared after :func:`_header_key`
#: (case, spaces, hyphens, dots and a trailing number ignored: "E-mail 2" is "email").
#: One table to extend: the ledger's own columns first, then the spellings found in
#: exports and in colleagues' sheets. Not "Cell" alone: in a workbook that is a cell
#: address (the Problems sheet has such a column).
CONTACT_HEADERS: tuple[str, ...] = (
    *schema.CONTACT_COLUMNS,
    "E-mail", "Mail", "E-mail address", "Email address", "Mail address",
    "Phone number", "Telephone", "Tel", "Tel.", "Mobile", "Mobile phone", "Mobile number",
    "Cell phone", "Cellphone", "Handy", "Telefon", "Fax", "WhatsApp", "WeChat",
    "Skype", "LinkedIn", "Contact person", "Contact name", "Contact email",
    "Contact phone", "Ansprechpartner", "Address", "Street", "Postal address",
    "联系人", "联系电话", "电话", "手机", "手机号", "手机号码", "邮箱", "电子邮件",
    "电子邮箱", "微信", "传真", "地址", "联系地址", "座机",
)
#: A sheet of people (a contact per row): every cell below its header is masked.
CONTACTS_SHEET = schema.CONTACTS
#: ... except, in the Contacts table of xlcrm's layout (the person in ``Name``), these
#: columns, which name nobody and keep the buying center readable: which customer, the
#: person's role and stance, when we last spoke. A column a user added is masked.
CONTACTS_KEPT = (schema.CUSTOMER_ID, "Role", "Stance", "LastContact")


def _header_key(text: str) -> str:
    key = re.sub(r"[\s\-_.:/#()（）：]+", "", text.casefold())
    return re.sub(r"\d+$", "", key)


_CONTACT_KEYS = {_header_key(h): h for h in CONTACT_HEADERS}


def contact_columns(headers: Mapping[int, str]) -> dict[int, str]:
    """Column -> header of the columns whose header is a contact header (see above)."""
    return {col: h.strip() for col, h in headers.items()
            if isinstance(h, str) and h.strip() and _header_key(h) in _CONTACT_KEYS}


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
        if entry.name.casefold() == CONTACTS_SHEET.casefold():
            # A sheet of people: everything below its header row names or reaches one.
            tables = _sheet_tables(z, pkg, entry.part)
            first = min((t.first_data_row for t in tables), default=2)
            keep = {}
            ours = [t for t in tables if schema.CUSTOMER_NAME in t.columns]
            if len(tables) == 1 and ours:
                keep = {ours[0].first_col + i: c for i, c in enumerate(ours[0].columns)
                        if c in CONTACTS_KEPT}
            targets[entry.name] = [_MaskTarget({}, first, None, every=True, keep=keep)]
            continue
        header_at_a1 = False
        for table in _sheet_tables(z, pkg, entry.part):
            header_at_a1 |= table.header_row == 1 and table.first_col == 0
            cols = contact_columns(
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
        cols = contact_columns({c: _header_text(raw, sst) for c, raw in row1.items()})
        if cols:
            targets.setdefault(entry.name, []).append(_MaskTarget(cols, 2))
    return targets


# --------------------------------------------------------------------------------------------
# The workbook part


def _set_attr(tag: bytes, name: bytes, value: bytes) -> bytes:
    """Start tag ``tag`` with attribute ``name`` set to ``value`` (added when absent)."""
    pattern = re.compile(rb"(\s" + name + rb')="[^"]*"')
    if pattern.search(tag):
        return pattern.sub(rb'\1="' + value + b'"', tag, count=1)
    end = -2 if tag.endswith(b"/>") else -1
    return tag[:end] + b" " + name + b'="' + value + b'"' + tag[end:]


def _keep_attrs(el: bytes, names: Iterable[str]) -> bytes:
    """An empty element with only the attributes ``names`` (local names)."""
    m = re.match(rb"<([\w.:-]+)", el)
    assert m is not None
    pairs = re.findall(rb"""\s((?:[\w.-]+:)?([\w.-]+)=(?:"[^"]*"|'[^']*'))""", el[: el.find(b">")])
    kept = b"".join(b" " + full for full, local in pairs if local.decode() in names)
    return b"<" + m.group(1) + kept + b"/>"


def _name_refers_to(text: str, sheets: Iterable[str]) -> bool:
    for sheet in sheets:
        quoted = re.escape(sheet.replace("'", "''"))
        if re.search(rf"(?:'{quoted}'|(?<![\w.']){re.escape(sheet)})!", text, re.I):
            return True
    return False


_REF_SHEET = r"(?:'(?:[^']|'')+'|[\w.]+)"
_REF_CELL = r"\$?[A-Za-z]{1,3}\$?\d+"
_REF_AREA = (rf"(?:{_REF_CELL}(?::{_REF_CELL})?|\$?[A-Za-z]{{1,3}}:\$?[A-Za-z]{{1,3}}"
             r"|\$?\d+:\$?\d+|#REF!)")
_REF_ONE = (rf"(?:(?:{_REF_SHEET}(?::{_REF_SHEET})?!)?{_REF_AREA}"
            r"|[A-Za-z_\\][\w.\\]*\[(?:[^\[\]]|\[[^\[\]]*\])*\])")
#: A defined name that is only a reference (cells, ranges, a table's columns): print areas,
#: print titles, filter ranges, names used by conditional formats. Constants, formulas and
#: references to other workbooks (``[1]Sheet!A1``) do not match.
_REFERENCE = re.compile(rf"\s*{_REF_ONE}(?:\s*,\s*{_REF_ONE})*\s*")


@dataclass
class _WorkbookEdit:
    """What :func:`_workbook_xml` needs and finds."""

    entries: Sequence[SheetEntry]
    dropped: Sequence[SheetEntry]
    cover: tuple[str, int, str]  # name, sheetId, relationship id
    names_dropped: int = 0
    elements_dropped: list[str] = field(default_factory=list)

    def sheets(self, el: bytes) -> bytes:
        dropped_ids = {e.rid for e in self.dropped}

        def sheet(m: re.Match[bytes]) -> bytes:
            rid = re.search(rb'\b\w+:id="([^"]*)"', m.group(2))
            return b"" if rid and rid.group(1).decode() in dropped_ids else m.group()

        el = re.sub(rb"<((?:\w+:)?)sheet\b(" + _ATTRS_NO_SLASH + rb")(?:/>|>.*?</\1sheet>)",
                    sheet, el, flags=re.S)
        tag = re.match(rb"<((?:\w+:)?)sheets\b" + _A + rb">", el)
        assert tag is not None
        sp = tag.group(1).decode()
        name, sheet_id, rid = self.cover
        new = (f'<{sp}sheet name="{escape_attr(name)}" sheetId="{sheet_id}" '
               f'xmlns:r="{NS_R}" r:id="{rid}"/>').encode()
        if tag.group().endswith(b"/>"):
            return f"<{sp}sheets>".encode() + new + f"</{sp}sheets>".encode()
        return el[: tag.end()] + new + el[tag.end():]

    def names(self, el: bytes) -> bytes:
        # localSheetId is the sheet's position in the tab order: renumber it for the new
        # order (the cover first, dropped sheets gone).
        dropped_ids = {e.rid for e in self.dropped}
        position: dict[int, int | None] = {}
        new_pos = 1
        for old, e in enumerate(self.entries):
            position[old] = None if e.rid in dropped_ids else new_pos
            new_pos += e.rid not in dropped_ids
        gone = [e.name for e in self.dropped]

        def name_el(m: re.Match[bytes]) -> bytes:
            attrs, text = m.group(2), html.unescape((m.group(3) or b"").decode("utf-8"))
            keep = (not re.search(rb'\b(?:vbProcedure|xlm|function)="(?:1|true)"', attrs)
                    and _REFERENCE.fullmatch(text) is not None
                    and not _name_refers_to(text, gone))
            local = re.search(rb'\blocalSheetId="(\d+)"', attrs)
            new = position.get(int(local.group(1))) if local else 0
            if not keep or new is None:
                self.names_dropped += 1
                return b""
            if local is None:
                return m.group()
            tag, at = m.group(), m.start(2) - m.start()  # where the attributes start
            return tag[: at + local.start(1)] + str(new).encode() + tag[at + local.end(1):]

        el = re.sub(rb"<((?:\w+:)?)definedName\b(" + _ATTRS_NO_SLASH
                    + rb")(?:/>|>(.*?)</\1definedName>)", name_el, el, flags=re.S)
        return b"" if not re.search(rb"<(?:\w+:)?definedName\b", el) else el


def _workbook_xml(wb_xml: bytes, edit: _WorkbookEdit) -> bytes:
    """The workbook part, allow-listed (:data:`share_parts.WORKBOOK_KEEP`): the dropped
    sheets out, the cover first and active, only reference names, renumbered."""
    def views(el: bytes) -> bytes:
        return re.sub(
            rb"<(?:\w+:)?workbookView\b" + _ATTRS_NO_SLASH + rb"/?>",
            lambda m: _set_attr(_set_attr(m.group(), b"activeTab", b"0"), b"firstSheet", b"0"),
            el)

    empty: set[str] = set()

    def dropped_if_set(el: bytes) -> bytes:
        # An element without attributes or content (<workbookProtection/>) held nothing:
        # the cover does not claim it was taken out.
        if not re.search(rb"\s[\w:.-]+=|>\s*<", el):
            empty.add(el[1:].split(None, 1)[0].split(b"/")[0].split(b">")[0].decode())
        return b""

    decide: dict[str, object] = {
        "fileVersion": True, "calcPr": True, "bookViews": views, "sheets": edit.sheets,
        "definedNames": edit.names,
        "workbookPr": lambda el: _keep_attrs(el, parts.WORKBOOK_PR_KEEP),
    }
    start = parts.root_content_start(wb_xml, b"workbook")
    content, dropped, end = parts.keep_children(wb_xml, start, decide, dropped_if_set)
    if b"sheets" not in content:
        raise InputError("the workbook part has no list of sheets",
                         fix="Open the workbook in Excel and save it again.")
    edit.elements_dropped = [d for d in dropped if d != "definedNames"
                             and not any(e.rsplit(":", 1)[-1] == d for e in empty)]
    return wb_xml[:start] + content + wb_xml[end:]


#: What the cover says for workbook and sheet elements a copy does not keep.
ELEMENTS_DROPPED: Mapping[str, str] = {
    "dataValidations": "data validation (input rules and their lists)",
    "hyperlinks": "links to files or mail addresses",
    "headerFooter": "print headers and footers",
    "legacyDrawing": "notes (cell comments)",
    "legacyDrawingHF": "pictures in print headers",
    "customSheetViews": "custom views",
    "customWorkbookViews": "custom views",
    "scenarios": "scenarios",
    "protectedRanges": "protected ranges (with the users allowed to edit them)",
    "oleObjects": "embedded objects",
    "controls": "form and ActiveX controls",
    "AlternateContent": "form controls, or the folder the workbook was saved in",
    "picture": "sheet background pictures",
    "customProperties": "custom sheet properties",
    "smartTags": "smart tags",
    "webPublishItems": "web publishing settings",
    "webPublishing": "web publishing settings",
    "webPublishObjects": "web publishing settings",
    "extLst": "Excel extensions (slicers, input rules, ...)",
    "cellWatches": "cell watches",
    "dataConsolidate": "data consolidation (references to other workbooks)",
    "fileSharing": "file-sharing settings (with a user name)",
    "workbookProtection": "the workbook's protection",
    "externalReferences": "links to other workbooks and their cached values",
    "pivotCaches": "pivot caches (the data behind pivot tables)",
    "fileRecoveryPr": "file recovery settings",
    "revisionPtr": "revision ids",
    "functionGroups": "macro function groups",
}


# --------------------------------------------------------------------------------------------
# The cover sheet


def _sheet_kind(name: str) -> str:
    if name in schema.LEDGER_SHEETS:
        return "ledger: what your team records"
    if name in schema.SETTINGS_SHEETS or schema.rater_sheets([name]):
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
        contacts = ("masked: the workbook has no contact column (Contact, Phone, Email or "
                    "another name for them) and no Contacts sheet")
    else:
        contacts = ("not masked: this copy shows the contact details of your customers "
                    "(names, phone numbers, mail addresses, notes)")
    removed = list(outcome.removed) or ["nothing"]
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
        *([["Customers", outcome.only]] if outcome.only else []),
        ["Formulas replaced by values", f"{outcome.formulas:,} cells"],
        *([("Taken out" if i == 0 else ""), what] for i, what in enumerate(removed)),
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


def _sheet_is_dropped(e: SheetEntry) -> bool:
    """Configuration, macro and dialog sheets (and sheets without a part) are not copied."""
    config = {c.casefold() for c in CONFIG_SHEETS}
    return (e.name.casefold() in config or e.kind not in ("worksheet", "chartsheet")
            or e.part is None)


@dataclass
class _Build:
    """The copy being built: the source, what is kept, what changed."""

    z: zipfile.ZipFile
    pkg: Package
    label: str
    mask: bool
    plan: parts.Plan
    targets: dict[str, list[_MaskTarget]]
    outcome: _Outcome
    edits: dict[str, list[bytes | memoryview]] = field(default_factory=dict)
    filtered: dict[str, bytes] = field(default_factory=dict)  # for parts.prune
    missing: list[str] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)  # what was taken out, for the cover
    metadata: bool = False  # the source has a metadata part (cells may refer to it)

    def kept_ids(self, part: str) -> set[str]:
        return {r.id for r in self.plan.rels.get(part, [])}

    def note(self, what: str) -> None:
        if what not in self.gone:
            self.gone.append(what)

    def read(self, part: str) -> bytes:
        xml = self.z.read(part)
        if part.lower().endswith((".xml", ".vml", ".rels")):
            parts.refuse_dtd(part, xml, self.label)
        return xml


def _copy_worksheet(b: _Build, e: SheetEntry) -> None:
    """Cells as values (contacts masked), elements allow-listed, internal links kept."""
    assert e.part is not None
    xml = b.read(e.part)
    targets = b.targets.get(e.name, [])
    res = _clean_cells(xml, e.name, targets, b.metadata)
    b.outcome.formulas += res.formulas
    b.missing += res.missing
    b.errors += res.errors
    if res.masked:
        b.outcome.masked_cells += res.masked
        cols = [c for t in targets for c in (
            [f"every column but {', '.join(t.keep.values())}" if t.keep else "every column"]
            if t.every else list(t.columns.values()))]
        b.outcome.masked[e.name] = tuple(dict.fromkeys(cols))
    new = res.xml
    span = res.span or (len(new), len(new))
    head, tail = bytes(new[: span[0]]), bytes(new[span[1]:])
    kept_ids = b.kept_ids(e.part)

    def links(el: bytes) -> bytes:
        def one(m: re.Match[bytes]) -> bytes:
            rid = parts.RID_REF.search(m.group())
            if rid is None or rid.group(1).decode() in kept_ids:
                return m.group()
            b.outcome.links_removed += 1  # to a file, or mailto: when masking
            return b""

        el = re.sub(rb"<((?:\w+:)?)hyperlink\b" + _ATTRS_NO_SLASH
                    + rb"(?:/>|>.*?</\1hyperlink>)", one, el, flags=re.S)
        if b.mask:
            el, _, n = _drop_masked_links(el, targets)
            b.outcome.links_removed += n
            el = parts.remove_attrs(el, [b"tooltip", b"display"])
        return el if re.search(rb"<(?:\w+:)?hyperlink\b", el) else b""

    notes = not b.mask and any(parts.rel_kind(r) == "comments" for r in b.plan.rels[e.part])
    rules = parts.SheetRules(b.mask, kept_ids, notes, links)
    had_filters = b.mask and b"filterColumn" in tail
    new_head, new_tail, dropped = parts.filter_sheet(head, tail, rules)
    if had_filters:
        b.note("autoFilter criteria")
    for d in dropped:
        b.note(ELEMENTS_DROPPED.get(d, f"sheet settings ({d})"))
    prefix = re.search(rb"<(\w+:)?worksheet\b", new_head)
    new_tail = _add_internal_links(new_tail, (prefix.group(1) or b"") if prefix else b"",
                                   res.links)
    b.filtered[e.part] = new_head + new_tail
    if res.xml is not xml or new_head != head or new_tail != tail:
        b.edits[e.part] = [new_head, memoryview(new)[span[0]:span[1]], new_tail]


def _copy_part(b: _Build, part: str, kind: str) -> None:
    """A kept part other than a worksheet: rewritten when its kind needs it."""
    if kind == "officeDocument" or (kind == "sharedStrings" and b.mask):
        return  # written afresh / after the sheets
    raw = b.read(part)
    new = raw
    if kind == "chartsheet":
        rules = parts.SheetRules(b.mask, b.kept_ids(part), False)
        head, _, dropped = parts.filter_sheet(raw, b"", rules, chart=True)
        new = head
        for d in dropped:
            b.note(ELEMENTS_DROPPED.get(d, f"sheet settings ({d})"))
    elif kind in ("drawing", "chartUserShapes"):
        new, n = parts.clean_drawing(raw, b.kept_ids(part), b.mask)
        if re.search(rb"""\smacro=(?:"[^"]+"|'[^']+')""", raw):
            b.note("macros assigned to shapes (the shapes stay)")
        if n:
            b.note("text boxes and shapes" if b.mask else
                   "drawing objects other than charts, pictures and shapes")
    elif kind == "chart":
        new = parts.clean_chart(raw, b.mask, escape_text(MASK_TEXT).encode())
        if b.mask and re.search(rb"<(?:\w+:)?(?:str|num|multiLvlStr)Cache\b", raw):
            b.note("chart caches (charts redraw from the copy's cells)")
        if b"externalData" in raw:
            b.note("data workbooks embedded in charts")
    elif kind == "table":
        new = parts.clean_table(raw, b.mask)
    elif kind == "comments":
        new = parts.clean_comments(raw)
        if new != raw:
            b.note("the names of the notes' authors")
    elif kind == "vmlDrawing":
        new = parts.clean_vml(raw)
    if kind in ("chartsheet", "drawing", "chartUserShapes", "chart"):
        b.filtered[part] = new
    if new != raw:
        b.edits[part] = [new]


def _scrub_unused_strings(b: _Build, sst_part: str, sheet_parts: Sequence[str]) -> None:
    """With masking, every shared string no kept cell shows is blanked (positions kept):
    the masked values, and anything else a reader of the unzipped file could find."""
    used: set[int] = set()
    for part in sheet_parts:
        chunks = b.edits.get(part) or [b.z.read(part)]
        for chunk in chunks:
            used.update(int(v) for v in _SHARED_CELL.findall(chunk))
    xml = b.read(sst_part)
    new, blanked = _blank_strings(xml, used)
    if blanked:
        b.edits[sst_part] = [new]
        b.note(f"{blanked} text(s) of the shared-strings list that no cell of the copy shows")


def shareable_bytes(
    book: Workbook,
    *,
    mask_contacts: bool = False,
    made: datetime | None = None,
    progress: Progress | None = None,
    only: str = "",
) -> tuple[list[Member], _Outcome]:
    """The zip members of the shareable copy of ``book`` (see the module doc).

    Returns
    -------
    (members, outcome)
        Members to write with :func:`xlcrm.book.write.write_zip`, and what was done;
        ``outcome.verbatim`` names the members copied byte for byte.

    Raises
    ------
    InputError
        When the workbook is not an ``.xlsx``/``.xlsm`` zip, a formula cell has no saved
        value (naming the first cells), or a part the copy keeps has a DOCTYPE or no
        content type.
    """
    made = made or datetime.now()
    z, pkg, wb_part = open_package(book.data, book.path.name, "make a copy of it")
    entries = pkg.sheets()
    dropped = [e for e in entries if _sheet_is_dropped(e)]
    kept = [e for e in entries if e not in dropped]
    outcome = _Outcome(sheets=[], cover="", computed=run_stamp(book), masking=mask_contacts,
                       only=only)
    # A copy of some customers only drops what masking drops beyond the contact columns
    # (notes, text boxes, chart caches, unused strings): they may name the others.
    scrub = mask_contacts or bool(only)
    # A manager's own customers keep their mailto: links unless contacts are masked.
    plan = parts.plan_parts(pkg, {e.rid for e in kept}, scrub, keep_mailto=not mask_contacts)
    sst_part = next(iter(plan.of_kind("sharedStrings")), None)
    targets = _mask_targets(z, pkg, kept, sst_part) if mask_contacts else {}
    b = _Build(z, pkg, book.path.name, scrub, plan, targets, outcome)
    b.metadata = any(parts.rel_kind(r) == "metadata" for r in pkg.rels(wb_part))

    worksheets = [e for e in kept if e.kind == "worksheet"]
    for i, e in enumerate(worksheets):
        if progress:
            progress(f"Sheet {e.name}", 0.1 + 0.6 * i / max(len(worksheets), 1))
        _copy_worksheet(b, e)
    if b.missing:
        raise _refuse_missing(b.missing)
    for part, kind in list(plan.kinds.items()):
        if kind != "worksheet":
            _copy_part(b, part, kind)
    parts.prune(plan, b.filtered)
    if scrub and sst_part is not None:
        _scrub_unused_strings(b, sst_part, [e.part for e in worksheets if e.part])
    for ref, err in b.errors:
        outcome.warnings.append(
            f"{ref} shows {err}: its formula could not be calculated when the workbook was "
            "last saved (an xlcrm worksheet function without the xlwings add-in shows #NAME?)"
        )
    if progress:
        progress("Writing the cover sheet", 0.75)
    members = _assemble(b, book, wb_part, entries, dropped, kept, made)
    return members, outcome


def _assemble(b: _Build, book: Workbook, wb_part: str, entries: Sequence[SheetEntry],
              dropped: Sequence[SheetEntry], kept: Sequence[SheetEntry], made: datetime
              ) -> list[Member]:
    """The members of the copy: kept parts (raw when unchanged), the cover, the workbook,
    the relationships, content types and document properties written afresh."""
    plan, outcome, pkg = b.plan, b.outcome, b.pkg
    cover = _cover_name([e.name for e in kept])
    outcome.cover = cover
    outcome.sheets = [cover, *(e.name for e in kept)]
    folder = wb_part.rsplit("/", 1)[0] + "/" if "/" in wb_part else ""
    taken = {n.lower() for n in pkg.names}
    n = 1
    while f"{folder}worksheets/sheet{n}.xml".lower() in taken:
        n += 1
    cover_part = f"{folder}worksheets/sheet{n}.xml"
    ids = {r.id for r in pkg.rels(wb_part)}
    k = len(ids) + 1
    while f"rId{k}" in ids:
        k += 1
    cover_rel = Relationship(f"rId{k}", REL_WORKSHEET, cover_part)
    sheet_id = max((e.sheet_id for e in entries), default=0) + 1
    edit = _WorkbookEdit(entries, dropped, (cover, sheet_id, cover_rel.id))
    wb_xml = _workbook_xml(b.read(wb_part), edit)
    for d in edit.elements_dropped:
        b.note(ELEMENTS_DROPPED.get(d, f"workbook settings ({d})"))
    if edit.names_dropped:
        b.note(f"{edit.names_dropped} defined name(s) holding a constant, a formula or a "
               "reference to what the copy does not hold")
    for e in dropped:
        b.note(f"the sheet {e.name} (Python configuration)" if e.name.casefold() in
               {c.casefold() for c in CONFIG_SHEETS} else f"the sheet {e.name} ({e.kind})")
    outcome.removed = list(dict.fromkeys(parts.dropped_summary(plan, pkg, b.mask) + b.gone))

    stamp = made.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    new: dict[str, bytes | list[bytes]] = {
        wb_part: wb_xml,
        "docProps/core.xml": parts.core_xml(stamp),
        "docProps/app.xml": parts.app_xml(),
        cover_part: _cover_part(_cover_rows(b.label, outcome, made, kept, outcome.masking), cover),
    }
    rels = dict(plan.rels)
    rels[wb_part] = [*rels.get(wb_part, []), cover_rel]
    rels[""] = [*rels.get("", []), Relationship("rIdCore", parts.REL_CORE, "docProps/core.xml"),
                Relationship("rIdApp", parts.REL_APP, "docProps/app.xml")]
    for part, items in rels.items():
        if items:
            new[rels_part(part)] = parts.relationships_xml(part, items)
    ct_name = pkg.find("[Content_Types].xml")
    if ct_name is None:
        raise InputError(f"{b.label} lacks its content types part",
                         fix="Open it in Excel and save it again.")
    ct = b.read(ct_name)
    new["[Content_Types].xml"] = parts.content_types(
        ct, [p for p in plan.kinds if p != wb_part],
        {wb_part: CT_WORKBOOK_XLSX, cover_part: CT_WORKSHEET,
         "docProps/core.xml": parts.CT_CORE, "docProps/app.xml": parts.CT_APP})
    return _members(b, book.data, new)


def _members(b: _Build, data: bytes, new: Mapping[str, bytes | list[bytes]]) -> list[Member]:
    infos = {i.filename: i for i in b.z.infolist()}
    like = raw_member(data, next(iter(infos.values())))
    order = ["[Content_Types].xml", "_rels/.rels"] + [n for n in infos if n in b.plan.kinds
                                                      or n in new]
    order += [n for n in new if n not in order]
    members = []
    for name in dict.fromkeys(order):
        if name in new:
            body = new[name]
            members.append(new_member(name, body if isinstance(body, list) else [body], like))
        elif name in b.edits:
            members.append(new_member(name, b.edits[name], like))
        elif name in infos and name in b.plan.kinds:
            members.append(raw_member(data, infos[name]))
            b.outcome.verbatim.add(name)
    return members


def _cell_formula(xml: bytes) -> bool:
    """Whether a sheet part has a cell formula (in ``<sheetData>``; sparklines and
    conditional formats after it have ``<xm:f>`` of their own, which are not cell formulas)."""
    span = _sheet_data_span(xml)
    return span is not None and bool(
        _formula_hits(xml[span[0]:span[1]], _prefixed(xml[: span[0]])))


def check_copy(
    path: str | os.PathLike[str],
    expect_sheets: Sequence[str],
    members: Sequence[Member],
    verbatim: Collection[str],
) -> None:
    """Raise :class:`VerifyError` unless ``path`` holds exactly ``members``, as a complete,
    macro-free, formula-free workbook.

    A part copied byte for byte (``verbatim``) is checked by its zip entry only: the same
    checksum and sizes as in the source, whose part was inflated and checked when the copy
    read it, so it is not parsed again. Every part written afresh is read back (inflated,
    checksum) and parsed. Then: the macro-free workbook content type, a content type for
    every part, every relationship leads to a part of the copy, no formula in a worksheet
    written afresh, and an independent reader (calamine) sees exactly ``expect_sheets``.
    """
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
            wanted = [m.name.decode("utf-8" if m.flags & 0x800 else "cp437") for m in members]
            if [i.filename for i in infos] != wanted:
                raise VerifyError("the copy's zip directory does not list the parts written")
            parsed: dict[str, bytes] = {}
            for info, m in zip(infos, members, strict=True):
                if (info.CRC, info.compress_size, info.file_size) != (m.crc, m.csize, m.usize):
                    raise VerifyError(f"part {info.filename} of the copy was not written as built")
                if info.filename in verbatim:
                    continue
                body = z.read(info)
                if info.filename.lower().endswith((".xml", ".rels", ".vml")):
                    try:
                        expat.ParserCreate().Parse(body, True)
                    except expat.ExpatError as exc:
                        raise VerifyError(f"part {info.filename} of the copy is not "
                                          f"well-formed XML: {exc}") from exc
                parsed[info.filename] = body
            _check_structure(parsed, wanted)
    except zipfile.BadZipFile as exc:
        raise VerifyError(f"the copy is not a valid zip file: {exc}") from exc
    import python_calamine

    try:
        with python_calamine.CalamineWorkbook.from_path(os.fspath(path)) as wb:
            names = list(wb.sheet_names)
    except Exception as exc:  # calamine raises its own error types for any malformed input
        raise VerifyError(f"an independent reader cannot open the copy: {exc}") from exc
    if names != list(expect_sheets):
        raise VerifyError(f"the copy's sheets are {names}, expected {list(expect_sheets)}")


def _check_structure(parsed: Mapping[str, bytes], names: Sequence[str]) -> None:
    """Content types, relationships and worksheets of the parts written afresh."""
    ct = parsed.get("[Content_Types].xml", b"").decode("utf-8")
    defaults = {m.group(1).lower() for m in re.finditer(
        r'<(?:\w+:)?Default\b[^>]*?\bExtension="([^"]*)"', ct)}
    overrides = {m.group(1).lstrip("/").lower(): m.group(2) for m in re.finditer(
        r'<(?:\w+:)?Override\b[^>]*?\bPartName="([^"]*)"[^>]*?\bContentType="([^"]*)"', ct)}
    if CT_WORKBOOK_XLSX not in overrides.values():
        raise VerifyError("the copy's workbook part does not have the .xlsx content type")
    lower = {n.lower() for n in names}
    for name in names:
        low = name.lower()
        if low.rsplit("/", 1)[-1].startswith("vbaproject") or low.startswith("customui"):
            raise VerifyError(f"the copy still holds the macro part {name}")
        if low != "[content_types].xml" and low not in overrides \
                and low.rsplit(".", 1)[-1] not in defaults:
            raise VerifyError(f"part {name} of the copy has no content type")
    for name, body in parsed.items():
        if name.endswith(".rels"):
            source = name.replace("_rels/", "").removesuffix(".rels")
            for target, mode in re.findall(
                    rb'Target="([^"]*)"(?:[^>]*TargetMode="(\w+)")?', body):
                if mode != b"External" and resolve_target(
                        source, html.unescape(target.decode())).lower() not in lower:
                    raise VerifyError(f"{name} of the copy refers to a missing part")
        elif overrides.get(name.lower()) == CT_WORKSHEET and _cell_formula(body):
            raise VerifyError(f"part {name} of the copy still holds a formula")


def make_shareable(
    source: str | os.PathLike[str],
    output: str | os.PathLike[str] | None = None,
    *,
    mask_contacts: bool = False,
    made: datetime | None = None,
    progress: Progress | None = None,
    manager: str | None = None,
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
    manager : str or None
        Keep only the customers of this account manager (Customers' AccountManager; case
        and spaces aside), on every sheet, with the result sheets recomputed for them
        (:mod:`xlcrm.book.share_manager`); an unknown name is refused, listing the managers.

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
    if manager is None or output is not None:
        out = Path(output) if output is not None else default_output(source, made.date())
        _check_output(source, out)
    if progress:
        progress("Reading the workbook", 0.0)
    book = open_workbook(source)
    try:
        if manager is not None and output is None:
            from xlcrm.book.share_manager import manager_name

            # Named as Customers spells the manager, whatever case was typed.
            out = default_output(source, made.date(), manager_name(book, manager))
            _check_output(source, out)
        if manager is not None:
            members, outcome, comment = _manager_members(book, manager, mask_contacts, made,
                                                         progress)
        else:
            members, outcome = shareable_bytes(book, mask_contacts=mask_contacts, made=made,
                                               progress=progress)
            comment = zipfile.ZipFile(io.BytesIO(book.data)).comment
    finally:
        book.close()

    def write(target: Path) -> None:
        with open(target, "wb") as f:
            write_zip(f, members, comment)  # type: ignore[arg-type]
        if progress:
            progress("Checking the copy", 0.9)
        check_copy(target, outcome.sheets, members, outcome.verbatim)

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
        customers=outcome.only,
    )


def _manager_members(book: Workbook, manager: str, mask_contacts: bool, made: datetime,
                     progress: Progress | None) -> tuple[list[Member], _Outcome, bytes]:
    """The shareable copy's members of ``manager``'s book (a temporary workbook of the same
    name, so that the cover names the source)."""
    from xlcrm.book.share_manager import manager_workbook

    if progress:
        progress(f"Keeping the customers of {manager}", 0.05)
    with tempfile.TemporaryDirectory(prefix="xlcrm-manager-") as tmp:
        subset = Path(tmp) / book.path.name
        only = manager_workbook(book, manager, subset)
        part = open_workbook(subset)
        try:
            members, outcome = shareable_bytes(part, mask_contacts=mask_contacts, made=made,
                                               progress=progress, only=only)
            comment = zipfile.ZipFile(io.BytesIO(part.data)).comment
        finally:
            part.close()
    return members, outcome, comment
