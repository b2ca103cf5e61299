"""Write result sheets into a workbook without touching anything else in it.

The workbook is never re-saved through a spreadsheet library (that drops the ribbon, shapes,
cached values, 2010 extensions and costs half a minute on a large ledger). Instead the zip
is copied part by part: every part keeps its exact compressed bytes, except

- the worksheet parts of the sheets written here (their cell data regenerated);
- ``[Content_Types].xml``, the workbook part and its relationships, only when a sheet is
  added (one element each) or the calculation chain is dropped;
- ``xl/calcChain.xml``, dropped (with its relationship and content type) only when it
  lists cells of a sheet whose cells are regenerated; Excel rebuilds it on load;
- ``xl/styles.xml``, only when a date is written and no plain date style exists yet (one
  ``<xf>`` appended to ``cellXfs``).

``docProps/app.xml`` keeps its (informational) list of sheet titles; Excel refreshes it on
its next save.

In a regenerated sheet, only the cell data belongs to xlcrm: ``<sheetData>``, the
``<dimension>``, and the cell-level ``<mergeCells>`` and ``<hyperlinks>`` (dropped) are
rewritten. Everything else on the sheet (charts and pictures, column widths, frozen
panes, conditional formats, data validations, page setup, extensions) is kept as it was,
and a written cell keeps the style (number format, font, fill) the cell or its column had
(dates always get a date format).

Values
------
``str`` is always written as text (an inline string), so ``=HYPERLINK(...)``, ``+cmd|...``
or ``@SUM(1)`` are shown, never run. Characters that XML cannot hold (control characters)
and a literal ``_xHHHH_`` are escaped the way Excel does (``_x000B_``, ``_x005F_xHHHH_``), so
Excel and calamine read back the original text; a carriage return is escaped too (XML
would turn it into a line feed; U+FFFE/U+FFFF become ``_xFFFE_``/``_xFFFF_``, which Excel
decodes and calamine leaves as they are). ``int``/``float`` are numbers (NaN and infinities: blank
cell; integers beyond 2**53 are refused since Excel would round them); ``bool`` is a
logical; ``date``/``datetime``/``time`` are serial numbers with a date format (respecting
the workbook's 1904 date system; days before 1900-03-01, which Excel's calendar cannot
show, are written as ISO text); ``None`` (and NaN, NaT, ``pd.NA``, ``""``) is a blank
cell. Only an explicit :class:`Formula` is written as a formula, with its cached value.
"""

from __future__ import annotations

import io
import math
import os
import pickle
import re
import threading
import zipfile
import zlib
from collections.abc import Callable, Collection, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from itertools import chain, repeat, zip_longest
from pathlib import Path
from typing import Any
from xml.etree import ElementTree
from xml.parsers import expat

import numpy as np
import pandas as pd

from xlcrm.book import arrow_xml
from xlcrm.book.arrow_xml import Strings
from xlcrm.book.package import RefusedPartError, hardened_parser
from xlcrm.book.read import (
    EXCEL_MAX_COLS,
    EXCEL_MAX_ROWS,
    NS_MAIN,
    NS_R,
    OLE_MAGIC,
    ZIP_MAGIC,
    Package,
    SheetEntry,
    Workbook,
    rels_part,
)
from xlcrm.book.sheet_worker import Deflated, SheetJob, SheetWorker
from xlcrm.book.zip_members import (
    Member,
    deflated,
    flushed_tail,
    member,
    new_member,
    raw_member,
    write_zip,
)
from xlcrm.errors import InputError, column_index, column_letter
from xlcrm.formula import Formula, internal_link  # noqa: F401 (re-exported)

CT_WORKSHEET = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
REL_WORKSHEET = NS_R + "/worksheet"
MAX_TEXT = 32_767  # characters Excel holds in one cell
MAX_EXACT_INT = 2**53
_ROWS_PER_CHUNK = 2000
_TEXT_PER_CHUNK = 1 << 20  # characters of sheet XML compressed at a time
_CHUNK_BYTES = 1 << 20  # bytes of an old part inflated at a time

# Built-in number formats that show a date or time (ECMA-376 18.8.30; 27-36 and 50-58 are
# the East Asian date formats).
BUILTIN_DATE_FORMATS = frozenset([*range(14, 23), *range(27, 37), *range(45, 48), *range(50, 59)])
DATE_FORMAT_IDS = {"date": 14, "datetime": 22, "time": 21}

# CT_Worksheet's children in schema order (new elements are inserted in this order).
WORKSHEET_ORDER = (
    "sheetPr", "dimension", "sheetViews", "sheetFormatPr", "cols", "sheetData", "sheetCalcPr",
    "sheetProtection", "protectedRanges", "scenarios", "autoFilter", "sortState",
    "dataConsolidate", "customSheetViews", "mergeCells", "phoneticPr", "conditionalFormatting",
    "dataValidations", "hyperlinks", "printOptions", "pageMargins", "pageSetup", "headerFooter",
    "rowBreaks", "colBreaks", "customProperties", "cellWatches", "ignoredErrors", "smartTags",
    "drawing", "legacyDrawing", "legacyDrawingHF", "drawingHF", "picture", "oleObjects",
    "controls", "webPublishItems", "tableParts", "extLst",
)
_ORDER = {name: i for i, name in enumerate(WORKSHEET_ORDER)}
# Cell-level elements that describe the old cells; they go with them.
_DROPPED_WITH_CELLS = frozenset({"mergeCells", "hyperlinks"})

NEW_SHEET_XML = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<worksheet xmlns="{NS_MAIN}" xmlns:r="{NS_R}">'
    '<dimension ref="A1"/><sheetViews><sheetView workbookViewId="0"/></sheetViews>'
    '<sheetFormatPr defaultRowHeight="15"/><sheetData/>'
    '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/>'
    "</worksheet>"
).encode()


# --------------------------------------------------------------------------------------------
# What callers pass


def _formula_types() -> tuple[type, ...]:
    return (Formula,)


@dataclass(frozen=True)
class Block:
    """A rectangle of values whose top-left cell is (``row``, ``col``), both 0-based.

    ``values`` is a list of rows (ragged rows allowed; ``None`` is a blank cell) or a
    DataFrame (its column names written above the values when ``header`` is true; the
    index is not written).
    """

    values: pd.DataFrame | Sequence[Sequence[Any]]
    row: int = 0
    col: int = 0
    header: bool = True


@dataclass(frozen=True)
class SheetData:
    """The content of one result sheet.

    Parameters
    ----------
    blocks : sequence of Block (or DataFrame, or list of rows, placed at A1)
        Non-overlapping rectangles of values.
    freeze_rows : int or None
        Rows frozen at the top (``None``: keep the sheet's panes as they are).
    widths : mapping of int to float, or None
        Column widths in characters by 0-based column (``None``: keep the sheet's columns).
    autofilter : bool or None
        ``True``: a filter over the first block; ``False``: none; ``None``: keep as is.
    keep_styles : bool
        Written cells keep the style the sheet had at the same cell (within its first
        ``style_rows`` rows) or in its column.
    style_rows : int
        How many rows of the old sheet are looked at for cell styles.
    appendable : bool
        Written so that rows can later be appended without compressing these again
        (SegmentHistory, :mod:`xlcrm.book.history_append`): no ``<dimension>`` (the deflate
        stream of every sheet written is fully flushed just before ``</sheetData>``).
    """

    blocks: Sequence[Block | pd.DataFrame | Sequence[Sequence[Any]]] = ()
    freeze_rows: int | None = None
    widths: Mapping[int, float] | None = None
    autofilter: bool | None = None
    keep_styles: bool = True
    style_rows: int = 1000
    appendable: bool = False


SheetContent = SheetData | pd.DataFrame | Sequence[Sequence[Any]]


@dataclass(frozen=True)
class WriteReport:
    """Which zip parts :func:`write_result_sheets` changed (every other part is byte-identical).

    Attributes
    ----------
    replaced : tuple of str
        Worksheet parts whose cell data was regenerated.
    added : tuple of str
        Worksheet parts of sheets that did not exist before.
    changed : tuple of str
        Bookkeeping parts edited (content types, workbook, relationships, styles).
    removed : tuple of str
        Parts dropped (the calculation chain).
    sheets_added : tuple of str
        Names of the sheets added.
    substituted : tuple of str
        Parts put in from what ``meanwhile`` made (see :func:`write_result_sheets`).
    """

    replaced: tuple[str, ...] = ()
    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    sheets_added: tuple[str, ...] = ()
    substituted: tuple[str, ...] = ()


# --------------------------------------------------------------------------------------------
# Text escaping

# An underscore that starts a literal _xHHHH_ (lookahead: such runs can overlap), characters
# XML 1.0 cannot hold or would change (CR), and the markup characters.
_ESCAPE_RE = re.compile(
    r"_(?=[xX][0-9A-Fa-f]{4}_)|[&<>\x00-\x08\x0b-\x1f\ud800-\udfff\ufffe\uffff]"
)
_ATTR_ESCAPE_RE = re.compile(r'[&<>"\x00-\x08\x0b-\x1f]')
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}


def _escape_match(m: re.Match[str]) -> str:
    s = m.group()
    if s == "_":  # starts a literal _xHHHH_ that Excel would decode: escape the underscore
        return "_x005F_"
    ent = _ENTITIES.get(s)
    return ent if ent is not None else f"_x{ord(s):04X}_"


# Control characters but tab and line feed: escaped as _xHHHH_ (and some count as space).
_CONTROL = tuple(map(chr, [*range(0x09), *range(0x0B, 0x20)]))


def _edge_space(joined: str) -> bool:
    """Whether a value of the texts ``joined`` by line breaks (without control characters)
    starts or ends with whitespace. In ASCII text only a space or a tab can."""
    if joined.isascii():
        return (joined[:1] in (" ", "\t") or joined[-1:] in (" ", "\t") or "\n " in joined
                or " \n" in joined or "\n\t" in joined or "\t\n" in joined)
    # One scan of the slice: re's \s is str.isspace (both use Py_UNICODE_ISSPACE).
    return _EDGE_SPACE.search(joined) is not None


_EDGE_SPACE = re.compile(r"(?:\A|\n)[^\S\n]|[^\S\n](?:\n|\Z)")


def _odd_unicode(text: str) -> bool:
    """Whether ``text`` holds U+FFFE, U+FFFF or a lone surrogate (escaped as _xHHHH_)."""
    if text.isascii():
        return False
    if "\ufffe" in text or "\uffff" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def escape_text(text: str) -> str:
    """Text as cell XML content that Excel reads back as ``text`` (see the module doc)."""
    return _ESCAPE_RE.sub(_escape_match, text)


def escape_attr(text: str) -> str:
    """Text for an XML attribute value in double quotes."""
    return _ATTR_ESCAPE_RE.sub(lambda m: _ENTITIES.get(m.group(), ""), text)


def _number_text(x: float) -> str:
    r = repr(x)
    return r[:-2] if r.endswith(".0") else r


# --------------------------------------------------------------------------------------------
# Styles (read to find or add a date format)

_TAG_ATTRS = r'(?:[^>"\']|"[^"]*"|\'[^\']*\')*'


def _is_date_code(code: str) -> bool:
    code = re.sub(r'"[^"]*"|\\.|\[[^\]]*\]', "", code)  # quoted text, escapes, [Red] / [$-409]
    code = code.split(";")[0]
    return re.search(r"[yYmMdDhHsS]", code) is not None and "General" not in code


class _Styles:
    """The workbook's cell formats: which show dates, and a date format for written dates."""

    def __init__(self, xml: bytes | None) -> None:
        self.xml = xml
        self.xf_numfmt: list[int] = []
        self.xf_plain: list[bool] = []
        self.custom: dict[int, str] = {}
        self.added: list[int] = []  # numFmtIds of xfs appended to cellXfs
        if xml is None:
            return
        root = ElementTree.fromstring(xml)
        ns = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""
        numfmts = root.find(f"{ns}numFmts")
        for nf in numfmts if numfmts is not None else []:
            self.custom[int(nf.get("numFmtId", "-1"))] = nf.get("formatCode", "")
        xfs = root.find(f"{ns}cellXfs")
        for xf in xfs if xfs is not None else []:
            self.xf_numfmt.append(int(xf.get("numFmtId", "0")))
            plain = all(xf.get(a, "0") == "0" for a in ("fontId", "fillId", "borderId"))
            self.xf_plain.append(plain and len(xf) == 0)
        self._date_ids = {
            i for i in self.custom if _is_date_code(self.custom[i])
        } | BUILTIN_DATE_FORMATS
        self.date_xfs = frozenset(
            i for i, nf in enumerate(self.xf_numfmt) if nf in self._date_ids
        )

    @property
    def available(self) -> bool:
        return self.xml is not None and bool(self.xf_numfmt)

    def is_date(self, xf: int | None) -> bool:
        return xf is not None and xf in self.date_xfs

    def date_xf(self, kind: str) -> int | None:
        """Index of a plain cell format showing ``kind`` (date, datetime, time); added if none."""
        if not self.available:
            return None
        fmt = DATE_FORMAT_IDS[kind]
        for i, nf in enumerate(self.xf_numfmt):
            if nf == fmt and self.xf_plain[i]:
                return i
        self.xf_numfmt.append(fmt)
        self.xf_plain.append(True)
        self.added.append(fmt)
        self.date_xfs = self.date_xfs | {len(self.xf_numfmt) - 1}
        return len(self.xf_numfmt) - 1

    def render(self) -> bytes:
        """styles.xml with the appended formats (only called when some were added)."""
        assert self.xml is not None
        text = self.xml.decode("utf-8")
        m = re.search(r"<(\w+:)?cellXfs\b(" + _TAG_ATTRS + r")>", text)
        end = re.search(r"</(\w+:)?cellXfs>", text)
        if m is None or end is None:
            raise InputError("the workbook's styles part has no cell formats",
                             fix="Open the workbook in Excel and save it again.")
        prefix = m.group(1) or ""
        xf_ref = ' xfId="0"' if re.search(r"<(\w+:)?cellStyleXfs\b", text) else ""
        new = "".join(
            f'<{prefix}xf numFmtId="{fmt}" fontId="0" fillId="0" borderId="0"{xf_ref}'
            ' applyNumberFormat="1"/>'
            for fmt in self.added
        )
        start_tag = re.sub(
            r'\bcount="\d+"', f'count="{len(self.xf_numfmt)}"', m.group(0), count=1
        )
        return (
            text[: m.start()] + start_tag + text[m.end() : end.start()] + new + text[end.start():]
        ).encode("utf-8")


# --------------------------------------------------------------------------------------------
# Cells


_EPOCH_1900 = datetime(1899, 12, 30)
_EPOCH_1904 = datetime(1904, 1, 1)
_FIRST_1900 = datetime(1900, 3, 1)  # from here on, serials of the 1900 system are exact


class _CellWriter:
    """Formats values as ``<c>`` elements for one sheet."""

    def __init__(self, styles: _Styles, date1904: bool, sheet: str,
                 kept: dict[tuple[int, int], int], col_styles: dict[int, int]) -> None:
        self.styles = styles
        self.epoch = _EPOCH_1904 if date1904 else _EPOCH_1900
        self.first = _EPOCH_1904 if date1904 else _FIRST_1900
        self.sheet = sheet
        self.kept = kept
        self.col_styles = col_styles
        # The kept styles by column, looked up once per sheet. A cell whose style is its
        # column's (as every cell of a result sheet that xlcrm wrote before) needs no
        # special treatment: only the others (a header, a note, a highlighted figure) do.
        self._kept_by_col: dict[int, dict[int, int]] = {}
        for (r, c), style in kept.items():
            if style != col_styles.get(c):
                self._kept_by_col.setdefault(c, {})[r] = style
        self.formula_types = _formula_types()
        self.heights: dict[int, str] = {}
        """1-based row -> the height attributes the old sheet gave it (kept with the styles)."""
        self._s_attr: dict[int | None, str] = {None: ""}
        self._rows_key: Sequence[int] | None = None
        self._rows_text: list[str] = []

    def s_attr(self, xf: int | None) -> str:
        try:
            return self._s_attr[xf]
        except KeyError:
            text = self._s_attr[xf] = f' s="{xf}"'
            return text

    def _where(self, ref: str) -> str:
        return f"{self.sheet}!{ref}"

    # -- styles for one column
    def column_styles(self, col: int) -> tuple[dict[int, int], int | None]:
        """(1-based row -> style of the cells whose style differs from the column's, the
        column's style)."""
        return self._kept_by_col.get(col, {}), self.col_styles.get(col)

    def serial(self, value: date | datetime) -> tuple[str, str] | None:
        """(serial number text, kind) of a date or datetime, or None when not representable."""
        if not isinstance(value, datetime):
            value = datetime(value.year, value.month, value.day)
            kind = "date"
        else:
            if value.tzinfo is not None:
                value = value.replace(tzinfo=None)  # Excel has no time zones: wall-clock time
            kind = "date" if value.time() == time() else "datetime"
        if value < self.first:
            if self.epoch is _EPOCH_1900 and value >= datetime(1900, 1, 1):
                # Excel counts a 29 February 1900 that never was; before it, serials are 1 less.
                delta = value - datetime(1899, 12, 31)
            else:
                return None
        else:
            delta = value - self.epoch
        days = delta.days + (delta.seconds + delta.microseconds / 1e6) / 86400.0
        return _number_text(days), kind

    def cell(self, ref: str, value: Any, kept: int | None) -> str:
        """The ``<c>`` element for ``value`` at ``ref`` ('' for a blank cell)."""
        t = type(value)
        if value is None:
            return ""
        if t is str:
            return self.text_cell(ref, value, kept)
        if t is float:
            if value != value or value in (math.inf, -math.inf):
                return ""
            s = None if self.styles.is_date(kept) else kept
            return f'<c r="{ref}"{self.s_attr(s)}><v>{_number_text(value)}</v></c>'
        if t is int:
            return self.int_cell(ref, value, kept)
        if t is bool:
            return f'<c r="{ref}"{self.s_attr(kept)} t="b"><v>{int(value)}</v></c>'
        return self.other_cell(ref, value, kept)

    def text_cell(self, ref: str, value: str, kept: int | None) -> str:
        if not value:
            return ""
        if len(value) > MAX_TEXT:
            raise ValueError(
                f"{self._where(ref)}: text of {len(value)} characters is longer than a cell "
                f"holds ({MAX_TEXT})"
            )
        return f'<c r="{ref}{self._text_rest(value, kept)}'

    def _text_rest(self, value: str, kept: int | None) -> str:
        """A text cell after its reference (``value`` not empty, not too long)."""
        space = ' xml:space="preserve"' if value[0].isspace() or value[-1].isspace() else ""
        return (f'"{self.s_attr(kept)} t="inlineStr"><is><t{space}>'
                f"{escape_text(value)}</t></is></c>")

    def int_cell(self, ref: str, value: int, kept: int | None) -> str:
        if not -MAX_EXACT_INT <= value <= MAX_EXACT_INT:
            raise ValueError(
                f"{self._where(ref)}: the integer {value} is too large for Excel to hold exactly; "
                "write it as text"
            )
        s = None if self.styles.is_date(kept) else kept
        return f'<c r="{ref}"{self.s_attr(s)}><v>{value}</v></c>'

    def date_cell(self, ref: str, value: date | datetime | time, kept: int | None) -> str:
        if isinstance(value, time):
            if value.tzinfo is not None:
                value = value.replace(tzinfo=None)
            secs = value.hour * 3600 + value.minute * 60 + value.second + value.microsecond / 1e6
            text, kind = _number_text(secs / 86400.0), "time"
        else:
            got = self.serial(value)
            if got is None or not self.styles.available:
                return self.text_cell(ref, value.isoformat(), None)
            text, kind = got
        s = kept if self.styles.is_date(kept) else self.styles.date_xf(kind)
        if s is None:
            return self.text_cell(ref, value.isoformat(), None)
        return f'<c r="{ref}"{self.s_attr(s)}><v>{text}</v></c>'

    def formula_cell(self, ref: str, formula: Any, kept: int | None) -> str:
        text = str(formula.text)
        if text.startswith("="):
            text = text[1:]
        if not text:
            raise ValueError(f"{self._where(ref)}: empty formula")
        cached = formula.cached
        f = f"<f>{escape_text(text)}</f>"
        if isinstance(cached, np.generic):
            cached = cached.item()
        if cached is None or cached is pd.NaT or cached is pd.NA or (
            isinstance(cached, float) and not math.isfinite(cached)
        ):
            return f'<c r="{ref}"{self.s_attr(kept)}>{f}</c>'
        if isinstance(cached, bool):
            return f'<c r="{ref}"{self.s_attr(kept)} t="b">{f}<v>{int(cached)}</v></c>'
        if isinstance(cached, (int, float)):
            s = None if self.styles.is_date(kept) else kept
            return f'<c r="{ref}"{self.s_attr(s)}>{f}<v>{_number_text(float(cached))}</v></c>'
        if isinstance(cached, (date, datetime)):
            got = self.serial(cached)
            if got is not None:
                s = kept if self.styles.is_date(kept) else self.styles.date_xf(got[1])
                return f'<c r="{ref}"{self.s_attr(s)}>{f}<v>{got[0]}</v></c>'
            cached = cached.isoformat()
        return (
            f'<c r="{ref}"{self.s_attr(kept)} t="str">{f}<v>{escape_text(str(cached))}</v></c>'
        )

    def other_cell(self, ref: str, value: Any, kept: int | None) -> str:
        if isinstance(value, self.formula_types):
            return self.formula_cell(ref, value, kept)
        if value is pd.NaT or value is pd.NA:
            return ""
        if isinstance(value, np.generic):
            return self.cell(ref, value.item(), kept)
        if isinstance(value, (date, time)):  # datetime and pd.Timestamp included
            return self.date_cell(ref, value, kept)
        if isinstance(value, str):
            return self.text_cell(ref, str(value), kept)
        if isinstance(value, bool):
            return self.cell(ref, bool(value), kept)
        if isinstance(value, int):
            return self.int_cell(ref, int(value), kept)
        if isinstance(value, float):
            return self.cell(ref, float(value), kept)
        if isinstance(value, timedelta):
            raise TypeError(
                f"{self._where(ref)}: a duration ({value}) has no cell type; write it as a "
                "number of days or as text"
            )
        raise TypeError(
            f"{self._where(ref)}: cannot write a value of type {type(value).__name__} "
            f"({value!r}); pass str, int, float, bool, date, datetime, None or Formula"
        )

    # -- whole columns
    @staticmethod
    def _styled_positions(kept_rows: Mapping[int, int], rows: Sequence[int]) -> list[int]:
        """Positions in ``rows`` of the cells that keep a style of their own, ascending."""
        if not kept_rows:
            return []
        if isinstance(rows, range) and rows.step == 1:  # the usual case: O(styled cells)
            return sorted(r - rows.start for r in kept_rows if r in rows)
        return [i for i, r in enumerate(rows) if r in kept_rows]

    def _with_styled_cells(
        self, n: int, styled: list[int], values: Sequence[Any], letter: str,
        rows: Sequence[int], kept_rows: Mapping[int, int],
        plain: Callable[[list[int]], list[str]],
    ) -> list[str]:
        """``n`` cells: those at ``styled`` positions one by one in their own style (their
        ``values`` in that order), all others at once by ``plain(positions)``."""
        out = [""] * n
        taken = set(styled)
        others = [i for i in range(n) if i not in taken]
        for i, text in zip(others, plain(others), strict=True):
            out[i] = text
        for i, v in zip(styled, values, strict=True):
            ref, style = f"{letter}{rows[i]}", kept_rows[rows[i]]
            # A blank cell keeps its style as an empty cell: a block the layout formatted
            # that this run leaves blank (a list that is empty today) is formatted when a
            # later run fills it.
            out[i] = self.cell(ref, v, style) or f'<c r="{ref}"{self.s_attr(style)}/>'
        return out

    def column(self, values: Sequence[Any], col: int, rows: Sequence[int]) -> list[str]:
        """``<c>`` elements of one column (``""`` for blank cells); ``rows`` are 1-based.

        The cells that keep a style of their own are written one by one; all others (in
        a result sheet, all but a header or a note) take the column's whole-column path.
        """
        letter = column_letter(col)
        kept_rows, default = self.column_styles(col)
        styled = self._styled_positions(kept_rows, rows)
        if not styled:
            return self._plain_column(values, letter, rows, default)
        return self._with_styled_cells(
            len(rows), styled, [values[i] for i in styled], letter, rows, kept_rows,
            lambda at: self._plain_column([values[i] for i in at], letter,
                                          [rows[i] for i in at], default),
        )

    def _plain_column(self, values: Sequence[Any], letter: str, rows: Sequence[int],
                      default: int | None) -> list[str]:
        """A column with one style for every cell: whole-column fast paths where they apply."""
        kinds = set(map(type, values))
        if kinds <= {str, type(None)}:
            return self._text_column(values, letter, rows, default)
        if kinds <= {float, int, type(None)}:
            return self._number_column(values, letter, rows, default)
        cell = self.cell
        return [
            "" if v is None else cell(f"{letter}{r}", v, default)
            for r, v in zip(rows, values, strict=True)
        ]

    def _text_column(self, values: Sequence[str | None], letter: str, rows: Sequence[int],
                     style: int | None) -> list[str]:
        """A column of text only (the common case of IDs and names), without per-cell dispatch
        (see :meth:`_escaped_texts`)."""
        texts = self._escaped_texts(values)
        if texts is None:
            return ["" if not v else self.text_cell(f"{letter}{r}", v, style)
                    for r, v in zip(rows, values, strict=True)]
        head = f'<c r="{letter}'
        mid = self._text_mid(style)
        return [f"{head}{r}{mid}{t}</t></is></c>" if t else ""
                for r, t in zip(self._row_texts(rows), texts, strict=True)]

    def _text_mid(self, style: int | None) -> str:
        """A text cell between its reference and its (escaped) text, no edge spaces."""
        return f'"{self.s_attr(style)} t="inlineStr"><is><t>'

    @staticmethod
    def _escaped_texts(values: Sequence[str | None]) -> list[str] | None:
        """The texts of a slice of a text column escaped for cell XML (``""`` blank), or
        ``None`` when a value must go one cell at a time.

        The slice is checked and escaped as one text, the values joined by line breaks (no
        escape spans two values: a line break takes part in none). A slice where a value
        holds a line break or a control character, starts or ends with a space, or is too
        long for a cell goes one cell at a time.
        """
        texts = [v or "" for v in values]
        joined = "\n".join(texts)
        if (joined.count("\n") != len(texts) - 1 or any(c in joined for c in _CONTROL)
                or _edge_space(joined) or max(map(len, texts), default=0) > MAX_TEXT):
            return None
        if "_x" in joined or "_X" in joined or _odd_unicode(joined):
            texts = _ESCAPE_RE.sub(_escape_match, joined).split("\n")
        elif "&" in joined or "<" in joined or ">" in joined:  # markup only: plain replaces
            texts = joined.replace("&", "&amp;").replace("<", "&lt;").replace(
                ">", "&gt;").split("\n")
        return texts

    def _number_column(self, values: Sequence[float | int | None], letter: str,
                       rows: Sequence[int], style: int | None) -> list[str]:
        """A column of numbers only (``None``, NaN and infinities blank), without per-cell
        dispatch."""
        for r, v in zip(rows, values, strict=True):
            if type(v) is int and not -MAX_EXACT_INT <= v <= MAX_EXACT_INT:
                self.int_cell(f"{letter}{r}", v, style)  # raises, naming the cell
        # v - v is 0 for a finite number, NaN for NaN and the infinities.
        return self._numbers(values, [v is not None and v - v == 0 for v in values],
                             letter, rows, style)

    def _numbers(self, values: Sequence[float | int | None] | Sequence[str],
                 ok: Sequence[bool] | None, letter: str, rows: Sequence[int],
                 style: int | None) -> list[str]:
        """``<c>`` elements of numbers, written as ``repr`` writes them (the shortest text
        that reads back as the same double), or of such texts made already (a list of
        ``str``, see :func:`_float_texts`); ``ok`` false (or ``values`` None) is blank."""
        head = f'<c r="{letter}'
        mid = self._number_mid(style)
        texts = self._row_texts(rows)
        made = bool(values) and type(values[0]) is str
        if ok is None or all(ok):
            if made:
                return [f"{head}{r}{mid}{v}</v></c>" for r, v in zip(texts, values, strict=True)]
            return [f"{head}{r}{mid}{v!r}</v></c>" for r, v in zip(texts, values, strict=True)]
        form = "{}{}{}{}</v></c>" if made else "{}{}{}{!r}</v></c>"
        return [form.format(head, r, mid, v) if good else ""
                for r, v, good in zip(texts, values, ok, strict=True)]

    def _number_mid(self, style: int | None) -> str:
        """A number cell between its reference and its value (a date style is not kept: the
        number is not a date)."""
        return f'"{self.s_attr(None if self.styles.is_date(style) else style)}><v>'

    def _row_texts(self, rows: Sequence[int]) -> list[str]:
        """Row numbers as text, made once for all the columns of a slice of rows."""
        if rows is not self._rows_key:
            self._rows_key, self._rows_text = rows, list(map(str, rows))
        return self._rows_text

    def _date_series(self, s: pd.Series, letter: str, rows: Sequence[int],
                     style: int | None) -> list[str] | None:
        """Serial numbers of a datetime64 column at once; ``None`` when a cell needs care."""
        parts = self._date_parts(s, style)
        if parts is None:
            return None
        serials, at, whole, nat, date_attr, time_attr = parts
        return [
            "" if n else
            f'<c r="{letter}{r}"{date_attr if w else time_attr}><v>{serials[i]}</v></c>'
            for r, i, w, n in zip(rows, at.tolist(), whole.tolist(), nat.tolist(), strict=True)
        ]

    def _date_parts(self, s: pd.Series, style: int | None
                    ) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray, str, str] | None:
        """(distinct serial texts, each cell's index into them, whole day, NaT, style
        attribute of a date, of a date and time) of a datetime64 column; ``None`` when a
        cell needs care (a day before the first serial, a workbook without styles)."""
        arr = s.to_numpy(dtype="datetime64[us]")
        nat = np.isnat(arr)
        valid = arr[~nat]
        if not self.styles.available or (
            len(valid) and valid.min() < np.datetime64(self.first, "us")
        ):
            return None
        days = (arr - np.datetime64(self.epoch, "us")) / np.timedelta64(1, "D")
        whole = days == np.floor(days)
        if self.styles.is_date(style):
            date_attr = time_attr = self.s_attr(style)
        else:
            date_attr = self.s_attr(self.styles.date_xf("date")) if (whole & ~nat).any() \
                else ""
            time_attr = self.s_attr(self.styles.date_xf("datetime")) if (~whole & ~nat).any() \
                else ""
        # A run's dates repeat down the column (History: the run's day on every row): each
        # distinct serial is formatted once.
        distinct, at = np.unique(days, return_inverse=True)
        serials = [_number_text(d) for d in distinct.tolist()]
        return serials, at, whole, nat, date_attr, time_attr

    def series(self, s: pd.Series, col: int, rows: Sequence[int]) -> list[str]:
        """Like :meth:`column`, with fast paths for numeric and date columns."""
        kept_rows, default = self.column_styles(col)
        styled = self._styled_positions(kept_rows, rows)
        if not styled:
            return self._plain_series(s, col, rows, default)
        return self._with_styled_cells(
            len(rows), styled, s.iloc[styled].astype(object).tolist(), column_letter(col),
            rows, kept_rows,
            lambda at: self._plain_series(s.iloc[at], col, [rows[i] for i in at], default),
        )

    def _repeated_text(self, s: pd.Series, letter: str, rows: Sequence[int],
                       style: int | None) -> list[str] | None:
        """A column of few distinct texts (High/Low, a type's name, its strategy, a region),
        each formatted once (see :meth:`_repeated_rests`); ``None`` for any other column."""
        few = self._repeated_rests(s, style)
        if few is None:
            return None
        codes, rests = few
        head = f'<c r="{letter}'
        return [f"{head}{r}{rest}" if rest else ""
                for r, rest in zip(self._row_texts(rows), map(rests.__getitem__, codes.tolist()),
                                   strict=True)]

    def _repeated_rests(self, s: pd.Series, style: int | None
                        ) -> tuple[np.ndarray, list[str]] | None:
        """(each cell's index into the texts, each distinct text's cell after its reference;
        the last is ``""``, a blank cell, at index -1) of a column of few distinct texts;
        ``None`` for any other column.

        Most Segments columns repeat a handful of texts down 100,000 rows: checking and
        escaping each distinct text once, rather than every cell, halves their cost. The
        cells are those :meth:`text_cell` writes one by one.
        """
        if isinstance(s.dtype, pd.CategoricalDtype):  # the result tables' labels
            codes, texts = s.cat.codes.to_numpy(), s.cat.categories.tolist()
            if len(texts) > len(s):
                return None
        elif len(s) < 64 or pd.api.types.is_numeric_dtype(s.dtype) or \
                pd.api.types.is_bool_dtype(s.dtype):
            return None
        else:
            codes, uniques = pd.factorize(s, use_na_sentinel=True)
            if len(uniques) * 8 > len(s):
                return None
            texts = uniques.tolist()
        if any(type(t) is not str or len(t) > MAX_TEXT for t in texts):
            return None  # numbers, dates or a text too long: the cell-by-cell path
        rests = [self._text_rest(t, style) if t else "" for t in texts]
        rests.append("")  # code -1: a missing value, a blank cell
        return codes, rests

    def _plain_series(self, s: pd.Series, col: int, rows: Sequence[int],
                      default: int | None) -> list[str]:
        """A column of a DataFrame in one style: whole-column fast paths by dtype."""
        dtype = s.dtype
        letter = column_letter(col)
        # (kind, not "is np.dtype(object)": a dtype unpickled in the sheet worker is a copy)
        if isinstance(dtype, pd.api.extensions.ExtensionDtype) or dtype.kind == "O":
            few = self._repeated_text(s, letter, rows, default)
            if few is not None:
                return few
            # Text, categories, nullable numbers (Int64, string): missing values as None,
            # so that a column of text or of numbers takes its whole-column path.
            return self._plain_column(_missing_as_none(s), letter, rows, default)
        if pd.api.types.is_bool_dtype(dtype):
            return self._plain_column(s.tolist(), letter, rows, default)
        if pd.api.types.is_integer_dtype(dtype):
            arr = s.to_numpy()
            if len(arr) and (arr.max() > MAX_EXACT_INT or arr.min() < -MAX_EXACT_INT):
                return self._plain_column(arr.tolist(), letter, rows, default)
            return self._numbers(arr.tolist(), None, letter, rows, default)
        if pd.api.types.is_float_dtype(dtype):
            arr = s.to_numpy(dtype=np.float64)
            finite = np.isfinite(arr)
            return self._numbers(_float_texts(arr), None if finite.all() else finite.tolist(),
                                 letter, rows, default)
        if pd.api.types.is_datetime64_dtype(dtype):
            fast = self._date_series(s, letter, rows, default)
            if fast is not None:
                return fast
            values = [None if v is pd.NaT else v for v in s.dt.to_pydatetime().tolist()]
            return self._plain_column(values, letter, rows, default)
        return self._plain_column(s.astype(object).tolist(), letter, rows, default)

    # -- whole columns as Arrow strings
    def arrow_cells(self, s: pd.Series, col: int, rows: range, row_texts: Strings) -> Strings:
        """The cells of :meth:`series` as an Arrow string array (the same texts), for
        :func:`xlcrm.book.arrow_xml.rows_xml`.

        Numbers, dates and texts are put together by Arrow a column at a time. A column
        Arrow has no path for (cells that keep styles of their own, logicals, mixed values,
        texts that need care one cell at a time) is made by :meth:`series`. ``row_texts``:
        the numbers of ``rows`` as text (:func:`xlcrm.book.arrow_xml.row_texts`).
        """
        kept_rows, default = self.column_styles(col)
        if not self._styled_positions(kept_rows, rows):
            made = self._arrow_plain(s, f'<c r="{column_letter(col)}', row_texts, default)
            if made is not None:
                return made
        return arrow_xml.strings(self.series(s, col, rows))

    def _arrow_plain(self, s: pd.Series, head: str, row_texts: Strings, style: int | None
                     ) -> Strings | None:
        """:meth:`_plain_series` by Arrow, or ``None`` where it has no path for the column."""
        dtype = s.dtype
        if pd.api.types.is_bool_dtype(dtype):
            return None
        if pd.api.types.is_integer_dtype(dtype):  # numpy's, or nullable (Int64)
            missing = s.isna().to_numpy()
            present = s[~missing] if missing.any() else s
            if len(present) and (present.max() > MAX_EXACT_INT or
                                 present.min() < -MAX_EXACT_INT):
                return None  # refused one cell at a time, naming it
            return self._arrow_numbers(s.to_numpy(dtype=np.int64, na_value=0), missing, head,
                                       row_texts, style)
        # (kind, not "is np.dtype(object)": a dtype unpickled in the sheet worker is a copy)
        if isinstance(dtype, pd.api.extensions.ExtensionDtype) or dtype.kind == "O":
            return self._arrow_texts(s, head, row_texts, style)
        if pd.api.types.is_float_dtype(dtype):
            arr = s.to_numpy(dtype=np.float64)
            return self._arrow_numbers(arr, ~np.isfinite(arr), head, row_texts, style)
        if pd.api.types.is_datetime64_dtype(dtype):
            parts = self._date_parts(s, style)
            if parts is None:
                return None
            serials, at, whole, nat, date_attr, time_attr = parts
            cells = arrow_xml.joined(head, row_texts, '"',
                                     arrow_xml.either(whole, date_attr, time_attr), "><v>",
                                     arrow_xml.picked(serials, at), "</v></c>")
            return arrow_xml.either(nat, "", cells) if nat.any() else cells
        return None

    def _arrow_numbers(self, arr: np.ndarray, blank: np.ndarray, head: str,
                       row_texts: Strings, style: int | None) -> Strings:
        """Number cells as :meth:`_numbers` writes them (floats as :func:`_float_texts`);
        blank where ``blank``."""
        cells = arrow_xml.joined(head, row_texts, self._number_mid(style),
                                 arrow_xml.number_texts(arr), "</v></c>")
        return arrow_xml.either(blank, "", cells) if blank.any() else cells

    def _arrow_texts(self, s: pd.Series, head: str, row_texts: Strings, style: int | None
                     ) -> Strings | None:
        """A column of texts by Arrow (few distinct ones, or a plain text column)."""
        few = self._repeated_rests(s, style)
        if few is not None:
            codes, rests = few
            taken = arrow_xml.picked(rests, np.where(codes < 0, len(rests) - 1, codes))
            return self._blank_where_empty(taken, arrow_xml.joined(head, row_texts, taken))
        values = _missing_as_none(s)
        if not set(map(type, values)) <= {str, type(None)}:
            return None
        texts = self._escaped_texts(values)
        if texts is None:
            return None
        arr = arrow_xml.strings(texts)
        return self._blank_where_empty(arr, arrow_xml.joined(
            head, row_texts, self._text_mid(style), arr, "</t></is></c>"))

    @staticmethod
    def _blank_where_empty(texts: Strings, cells: Strings) -> Strings:
        """``cells``, but ``""`` (a blank cell) where ``texts`` is empty."""
        empty = arrow_xml.is_empty(texts)
        return arrow_xml.either(empty, "", cells) if empty.any() else cells


def _missing_as_none(s: pd.Series) -> list[Any]:
    """The column's values, ``None`` where missing (NaN, NA, NaT, None)."""
    values = s.to_numpy(dtype=object, copy=True)
    values[s.isna().to_numpy()] = None
    return values.tolist()


def _float_texts(arr: np.ndarray) -> list[str]:
    """The shortest round-trip text of each double of ``arr`` (non-finite ones are left to
    the caller, which writes them blank)."""
    # A column at a time: Arrow's cast (double-conversion's shortest form) is about 3x as
    # fast as Python's repr per cell. Its texts ("3", "1e-7") are valid xsd:double as
    # Python's ("3.0", "1e-07") are. Without pyarrow (Pyodide), repr.
    if arrow_xml.pc is None:
        return list(map(repr, arr.tolist()))
    return arrow_xml.number_texts(arr).to_pylist()


# --------------------------------------------------------------------------------------------
# Sheet XML: keep the sheet's furniture, regenerate its cells


@dataclass
class _Child:
    name: str  # local name
    xml: bytes


@dataclass
class _SheetXml:
    head: bytes  # XML declaration and the root start tag (and text before the first child)
    children: list[_Child]
    tail: bytes  # the root end tag
    prefix: str  # namespace prefix of the main namespace ("" or "x:")


def _split_sheet(xml: bytes, where: str) -> _SheetXml:
    """Split a worksheet part into its top-level children, leaving out the cell data."""
    m = re.search(rb"<(\w+:)?worksheet\b", xml)
    if m is None:
        raise InputError(f"sheet {where} is not a worksheet", fix="Rename or delete it.")
    prefix = (m.group(1) or b"").decode()
    p = prefix.encode()
    sd = re.search(rb"<" + re.escape(p) + rb"sheetData\b" + _TAG_ATTRS.encode() + rb">", xml)
    if sd is not None:
        if sd.group().endswith(b"/>"):
            cut_end = sd.end()
        else:
            close = xml.find(b"</" + p + b"sheetData>", sd.end())
            if close < 0:
                raise InputError(f"sheet {where} is damaged (unterminated cell data)",
                                 fix="Open the workbook in Excel and save it again.")
            cut_end = close + len(b"</" + p + b"sheetData>")
        light = xml[: sd.start()] + b"<" + p + b"sheetData/>" + xml[cut_end:]
    else:
        light = xml
    starts: list[tuple[int, str]] = []
    depth = 0
    root_end = -1
    parser = hardened_parser()

    def start(name: str, attrs: object) -> None:
        nonlocal depth
        if depth == 1:
            starts.append((parser.CurrentByteIndex, name.rsplit(":", 1)[-1]))
        depth += 1

    def end(name: str) -> None:
        nonlocal depth, root_end
        depth -= 1
        if depth == 0:
            root_end = parser.CurrentByteIndex

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    try:
        parser.Parse(light, True)
    except RefusedPartError as exc:
        raise InputError(f"sheet {where} is refused: {exc}",
                         fix="Delete that sheet in Excel (xlcrm makes its result sheets anew), "
                         "save, and run again.") from exc
    except expat.ExpatError as exc:
        raise InputError(f"sheet {where} is not well-formed XML ({exc})",
                         fix="Open the workbook in Excel and save it again.") from exc
    head_end = starts[0][0] if starts else root_end
    children = []
    for i, (pos, name) in enumerate(starts):
        stop = starts[i + 1][0] if i + 1 < len(starts) else root_end
        children.append(_Child(name, light[pos:stop]))
    return _SheetXml(light[:head_end], children, light[root_end:], prefix)


def _set_child(sheet: _SheetXml, name: str, xml: bytes | None) -> None:
    """Replace (or insert in schema order, or with ``None`` remove) the child ``name``."""
    for i, child in enumerate(sheet.children):
        if child.name == name:
            if xml is None:
                del sheet.children[i]
            else:
                sheet.children[i] = _Child(name, xml)
            return
    if xml is None:
        return
    rank = _ORDER[name]
    for i, child in enumerate(sheet.children):
        other = _ORDER.get(child.name)
        if other is not None and other > rank:
            sheet.children.insert(i, _Child(name, xml))
            return
    sheet.children.append(_Child(name, xml))


def _child(sheet: _SheetXml, name: str) -> bytes | None:
    return next((c.xml for c in sheet.children if c.name == name), None)


def _col_styles(cols_xml: bytes | None) -> dict[int, int]:
    """0-based column -> style index, from ``<cols>``."""
    out: dict[int, int] = {}
    if not cols_xml:
        return out
    for m in re.finditer(rb"<(?:\w+:)?col\b(" + _TAG_ATTRS.encode() + rb")/?>", cols_xml):
        attrs = dict(re.findall(rb'(\w+)="([^"]*)"', m.group(1)))
        if b"style" not in attrs:
            continue
        lo, hi = int(attrs.get(b"min", b"1")), int(attrs.get(b"max", b"1"))
        style = int(attrs[b"style"])
        if style == 0:
            continue
        for c in range(lo - 1, min(hi, EXCEL_MAX_COLS)):
            out[c] = style
    return out


def _kept_cell_styles(old: bytes, prefix: str, max_row: int) -> dict[tuple[int, int], int]:
    """(1-based row, 0-based col) -> style of the old sheet's styled cells in its first rows."""
    p = re.escape(prefix.encode())
    sd = re.search(rb"<" + p + rb"sheetData\b", old)
    if sd is None:
        return {}
    # Look only at the first rows: find where row max_row+1 or later starts.
    stop = len(old)
    for m in re.compile(rb"<" + p + rb'row\b[^>]*?\br="(\d+)"').finditer(old, sd.start()):
        if int(m.group(1)) > max_row:
            stop = m.start()
            break
    # One pattern finds reference and style of each styled cell, in either attribute order
    # (a cell without a style does not match).
    cells = re.compile(rb"<" + p + rb'c\s(?=[^>]*?\br="([A-Z]+)(\d+)")(?=[^>]*?\bs="(\d+)")')
    return {
        (int(row), column_index(col)): int(style)
        for col, row, style in cells.findall(old, sd.start(), stop)
        if style != b"0"
    }


def _kept_row_heights(old: bytes, prefix: str, max_row: int) -> dict[int, str]:
    """1-based row -> `` ht="..." customHeight="1"`` of the old sheet's rows of a set height
    among its first ``max_row`` rows: a layout's tall rows (wrapped headers, a headline)
    stay tall when the cells are written again."""
    p = re.escape(prefix.encode())
    sd = re.search(rb"<" + p + rb"sheetData\b", old)
    if sd is None:
        return {}
    out: dict[int, str] = {}
    for m in re.compile(rb"<" + p + rb"row\b([^>]*)>").finditer(old, sd.start()):
        attrs = m.group(1)
        r = re.search(rb'\br="(\d+)"', attrs)
        if r is None:
            continue
        row = int(r.group(1))
        if row > max_row:
            break
        ht = re.search(rb'\bht="([0-9.]+)"', attrs)
        if ht and re.search(rb'\bcustomHeight="(1|true)"', attrs):
            out[row] = f' ht="{ht.group(1).decode()}" customHeight="1"'
    return out


def _freeze_xml(old: bytes | None, prefix: str, rows: int) -> bytes:
    attrs = ' workbookViewId="0"'
    if old:
        m = re.search(rb"<(?:\w+:)?sheetView\b(" + _TAG_ATTRS.encode() + rb")>", old)
        if m:
            attrs = m.group(1).decode().rstrip("/")
    p = prefix
    if rows <= 0:
        return f"<{p}sheetViews><{p}sheetView{attrs}/></{p}sheetViews>".encode()
    return (
        f"<{p}sheetViews><{p}sheetView{attrs}>"
        f'<{p}pane ySplit="{rows}" topLeftCell="A{rows + 1}" activePane="bottomLeft" '
        f'state="frozen"/><{p}selection pane="bottomLeft" activeCell="A{rows + 1}" '
        f'sqref="A{rows + 1}"/></{p}sheetView></{p}sheetViews>'
    ).encode()


def _cols_xml(prefix: str, widths: Mapping[int, float]) -> bytes | None:
    if not widths:
        return None
    p = prefix
    cols = "".join(
        f'<{p}col min="{c + 1}" max="{c + 1}" width="{float(w):g}" customWidth="1"/>'
        for c, w in sorted(widths.items())
    )
    return f"<{p}cols>{cols}</{p}cols>".encode()


# --------------------------------------------------------------------------------------------
# Blocks to rows


@dataclass
class _Extent:
    top: int = EXCEL_MAX_ROWS
    left: int = EXCEL_MAX_COLS
    bottom: int = -1
    right: int = -1

    def add(self, top: int, left: int, bottom: int, right: int) -> None:
        self.top, self.left = min(self.top, top), min(self.left, left)
        self.bottom, self.right = max(self.bottom, bottom), max(self.right, right)

    def ref(self) -> str:
        if self.bottom < 0:
            return "A1"
        first = f"{column_letter(self.left)}{self.top + 1}"
        last = f"{column_letter(self.right)}{self.bottom + 1}"
        return first if first == last else f"{first}:{last}"


def _as_blocks(content: SheetContent) -> tuple[list[Block], SheetData]:
    if isinstance(content, SheetData):
        data = content
        items = list(content.blocks)
    else:
        data = SheetData()
        items = [content]
    blocks = []
    for item in items:
        if isinstance(item, Block):
            blocks.append(item)
        elif isinstance(item, (pd.DataFrame, list, tuple)):
            blocks.append(Block(item))
        else:
            raise TypeError(
                f"a sheet's content must be SheetData, Block, a DataFrame or a list of rows, "
                f"not {type(item).__name__}"
            )
    return blocks, data


def _block_shape(block: Block, sheet: str) -> tuple[int, int]:
    """Rows and columns ``block`` covers."""
    if block.row < 0 or block.col < 0:
        raise ValueError(f"block position must be >= 0, got row {block.row}, col {block.col}")
    values = block.values
    if isinstance(values, pd.DataFrame):
        nrows = len(values) + (1 if block.header else 0)
        ncols = values.shape[1]
    else:
        nrows = len(values)
        ncols = max((len(r) for r in values), default=0)
    if block.row + nrows > EXCEL_MAX_ROWS or block.col + ncols > EXCEL_MAX_COLS:
        raise ValueError(
            f"sheet {sheet}: {block.row + nrows} rows x {block.col + ncols} columns do not fit "
            f"on a worksheet ({EXCEL_MAX_ROWS} rows x {EXCEL_MAX_COLS} columns at most)"
        )
    return nrows, ncols


def _block_rows(block: Block, writer: _CellWriter) -> Iterator[tuple[range, list[str]]]:
    """(1-based rows, the ``<c>`` elements of each row: ``""`` when blank) a slice at a time."""
    for rows, columns in _block_columns(block, writer):
        yield rows, list(map("".join, zip(*columns, strict=True)))


def _block_columns(block: Block, writer: _CellWriter
                   ) -> Iterator[tuple[range, list[list[str]]]]:
    """(1-based rows, the ``<c>`` elements of each column of those rows: ``""`` when blank) a
    slice at a time.

    Cells are formatted a column at a time (one type test per column where the column has
    one type) for a slice of rows at a time (bounded memory).
    """
    top, left = block.row, block.col
    values = block.values
    if isinstance(values, pd.DataFrame):
        if block.header:
            yield _header_cells(block, writer)
            top += 1
        for start in range(0, len(values), _ROWS_PER_CHUNK):
            part = values.iloc[start : start + _ROWS_PER_CHUNK]
            rows = range(top + start + 1, top + start + 1 + len(part))
            yield rows, [writer.series(part.iloc[:, j], left + j, rows)
                         for j in range(part.shape[1])]
        return
    for start in range(0, len(values), _ROWS_PER_CHUNK):
        grid = values[start : start + _ROWS_PER_CHUNK]
        rows = range(top + start + 1, top + start + 1 + len(grid))
        columns = [writer.column(col_values, left + j, rows)
                   for j, col_values in enumerate(zip_longest(*grid))]
        if columns:
            yield rows, columns


def _header_cells(block: Block, writer: _CellWriter) -> tuple[range, list[list[str]]]:
    """(the header's row, its cells as one column) of a DataFrame block with a header."""
    top, left = block.row, block.col
    head = []
    for j, name in enumerate(block.values.columns):
        col = left + j
        style = writer.kept.get((top + 1, col), writer.col_styles.get(col))
        head.append(writer.cell(f"{column_letter(col)}{top + 1}", _header_value(name), style))
    return range(top + 1, top + 2), [["".join(head)]]


def _block_xml(block: Block, writer: _CellWriter) -> Iterator[tuple[range, str | bytes]]:
    """(1-based rows, their ``<row>`` elements) of one block, a slice of rows at a time: a
    table's slices put together by Arrow (:mod:`xlcrm.book.arrow_xml`) where it can, else
    :func:`_rows_text` of :func:`_block_columns`."""
    values = block.values
    if not arrow_xml.AVAILABLE or not isinstance(values, pd.DataFrame) or \
            values.shape[1] == 0:
        for rows, columns in _block_columns(block, writer):
            yield rows, _rows_text(rows, columns, writer)
        return
    top, left = block.row, block.col
    if block.header:
        rows, columns = _header_cells(block, writer)
        yield rows, _rows_text(rows, columns, writer)
        top += 1
    for start in range(0, len(values), ARROW_ROWS):
        part = values.iloc[start : start + ARROW_ROWS]
        rows = range(top + start + 1, top + start + 1 + len(part))
        yield rows, _slice_xml(part, left, rows, writer)


ARROW_ROWS = 16_384
"""Rows of a table put together by Arrow at a time (about 16 MB of Scores' XML)."""


def _slice_xml(part: pd.DataFrame, left: int, rows: range, writer: _CellWriter) -> str | bytes:
    """The ``<row>`` elements of a slice of a table whose first column is ``left``."""
    heights = writer.heights
    if not heights or not any(r in heights for r in rows):
        try:
            texts = arrow_xml.row_texts(rows)
            return arrow_xml.rows_xml('<row r="', texts, [
                writer.arrow_cells(part.iloc[:, j], left + j, rows, texts)
                for j in range(part.shape[1])])
        except arrow_xml.ERRORS:
            pass
    cells = _block_columns(Block(part, row=rows.start - 1, col=left, header=False), writer)
    return "".join(_rows_text(some, columns, writer) for some, columns in cells)


def _header_value(name: Any) -> Any:
    return name if isinstance(name, str) else str(name)


def _rows_text(rows: range, columns: list[list[str]], writer: _CellWriter) -> str:
    """The ``<row>`` elements of a slice of one block's rows."""
    heights = writer.heights
    if not any("" in column for column in columns) and (
            not heights or not any(r in heights for r in rows)):
        # No row is blank and none has a height of its own (a slice of Scores or Segments):
        # the row tags and the cells joined in one pass, in order.
        opens = [f'<row r="{r}">' for r in writer._row_texts(rows)]
        return "".join(chain.from_iterable(zip(opens, *columns, repeat("</row>"), strict=False)))
    return "".join([f'<row r="{r}"{heights.get(r, "")}>{body}</row>'
                    for r, body in zip(rows, map("".join, zip(*columns, strict=True)), strict=True)
                    if body or r in heights])


def _sheet_rows(blocks: list[Block], writer: _CellWriter) -> Iterator[str | bytes]:
    """The ``<row>`` elements of all blocks in row order, many rows per string (or UTF-8
    bytes)."""
    # A tall row the layout set that this run leaves empty (a block that is only a title
    # until a second run) is written empty, so that the run that fills it finds its height.
    heights = writer.heights
    if len(blocks) == 1:
        last = 0
        for rows, text in _block_xml(blocks[0], writer):
            last = rows[-1] if len(rows) else last
            if text:
                yield text
        after = "".join(f'<row r="{r}"{heights[r]}></row>' for r in sorted(heights) if r > last)
        if after:
            yield after
        return
    segments: dict[int, list[tuple[int, int, str]]] = {}
    for block in blocks:
        width = _block_shape(block, writer.sheet)[1]
        for rows, bodies in _block_rows(block, writer):
            for r, body in zip(rows, bodies, strict=True):
                if body:
                    segments.setdefault(r, []).append((block.col, block.col + width - 1, body))
    for r in heights:
        segments.setdefault(r, [])
    for r in sorted(segments):
        parts = sorted(segments[r])
        for (_, right, _), (left, _, _) in zip(parts, parts[1:], strict=False):
            if left <= right:
                raise ValueError(f"sheet {writer.sheet}: blocks overlap in row {r}")
        yield f'<row r="{r}"{writer.heights.get(r, "")}>' + "".join(p[2] for p in parts) + "</row>"


def _sheet_chunks(
    split: _SheetXml, blocks: list[Block], writer: _CellWriter, options: SheetData
) -> Iterator[bytes]:
    """Bytes of the new sheet part: children before the cells, the rows, children after."""
    p = split.prefix
    extent = _Extent()
    first_block: _Extent | None = None
    for block in blocks:
        nrows, ncols = _block_shape(block, writer.sheet)
        if nrows and ncols:
            bounds = (block.row, block.col, block.row + nrows - 1, block.col + ncols - 1)
            extent.add(*bounds)
            if first_block is None:
                first_block = _Extent()
                first_block.add(*bounds)
    _set_child(split, "dimension", None if options.appendable else
               f'<{p}dimension ref="{extent.ref()}"/>'.encode())
    if options.autofilter is True and first_block is not None:
        _set_child(split, "autoFilter", f'<{p}autoFilter ref="{first_block.ref()}"/>'.encode())
    elif options.autofilter is False:
        _set_child(split, "autoFilter", None)
    yield split.head
    # </sheetData> and all after it make the last chunk, deflated after a full flush (see
    # make_sheet_member): the next run finds them without inflating the cells.
    closing: list[bytes] | None = None
    for child in split.children:
        if closing is not None:
            closing.append(child.xml)
        elif child.name != "sheetData":
            yield child.xml
        else:
            left_open = yield from _sheet_data_chunks(p, blocks, writer, options.appendable)
            closing = [f"</{p}sheetData>".encode()] if left_open else []
    yield b"".join([*(closing or ()), split.tail])


def _sheet_data_chunks(p: str, blocks: list[Block], writer: _CellWriter, appendable: bool
                       ) -> Generator[bytes, None, bool]:
    """``<sheetData>`` and its rows, many rows per chunk, left open for the caller to close
    in the part's last chunk; ``<sheetData/>`` when there is no row (and the sheet is not
    ``appendable``). Returns whether it left the element open."""
    rows = _sheet_rows(blocks, writer)
    first = next(rows, None)
    if first is None and not appendable:
        yield f"<{p}sheetData/>".encode()
        return False
    # Rows are written without a prefix; where the sheet binds the main namespace to one
    # (x:), the default namespace is declared on sheetData so the rows land in it.
    open_tag = f'<{p}sheetData xmlns="{NS_MAIN}">' if p else "<sheetData>"
    yield open_tag.encode() + _utf8(first or "")
    pending: list[str | bytes] = []
    size = 0
    for text in rows:  # a slice of rows each, or (several blocks) one row each
        pending.append(text)
        size += len(text)
        if size >= _TEXT_PER_CHUNK:
            yield _joined(pending)
            pending, size = [], 0
    if pending:
        yield _joined(pending)
    return True


def _utf8(text: str | bytes) -> bytes:
    return text if isinstance(text, bytes) else text.encode("utf-8")


def _joined(texts: list[str | bytes]) -> bytes:
    """UTF-8 of texts and bytes one after the other (texts encoded together)."""
    if all(type(t) is str for t in texts):
        return "".join(texts).encode("utf-8")  # type: ignore[arg-type]
    return b"".join(map(_utf8, texts))


# --------------------------------------------------------------------------------------------
# Bookkeeping parts (text edits that keep everything else as it was)


def _insert_before_close(xml: bytes, close_tag_re: bytes, new: bytes, where: str) -> bytes:
    matches = list(re.finditer(close_tag_re, xml))
    if not matches:
        raise InputError(f"the workbook's {where} part is damaged",
                         fix="Open the workbook in Excel and save it again.")
    pos = matches[-1].start()
    return xml[:pos] + new + xml[pos:]


def _remove_elements(xml: bytes, tag: bytes, attr: bytes, value: str) -> bytes:
    pattern = re.compile(
        rb"<" + tag + rb"\b(" + _TAG_ATTRS.encode() + rb")/>"
        rb"|<" + tag + rb"\b(" + _TAG_ATTRS.encode() + rb")>.*?</" + tag + rb">",
        re.S,
    )

    def drop(m: re.Match[bytes]) -> bytes:
        attrs = m.group(1) or m.group(2) or b""
        found = re.search(rb"\b" + attr + rb'="([^"]*)"', attrs)
        if found and found.group(1).decode().lower() == value.lower():
            return b""
        return m.group()

    return pattern.sub(drop, xml)


def _register_sheets(
    wb_xml: bytes, rels_xml: bytes, ct_xml: bytes,
    new_entries: Sequence[tuple[str, int, str, str]], folder: str,
) -> tuple[bytes, bytes, bytes]:
    """Workbook part, its relationships and the content types with the new sheets added.

    One element is inserted in each (``<sheet>`` at the end of ``<sheets>``, so that the
    positions that print areas and other local names refer to do not move); nothing else
    changes.
    """
    r_prefix = _namespace_prefix(wb_xml, NS_R)
    sheets_tag = re.search(rb"<(\w+:)?sheets\b", wb_xml)
    sp = (sheets_tag.group(1) or b"").decode() if sheets_tag else ""
    sheet_el = []
    for name, sheet_id, rid, _part in new_entries:
        rattr = f'{r_prefix}:id="{rid}"' if r_prefix else f'xmlns:r="{NS_R}" r:id="{rid}"'
        sheet_el.append(f'<{sp}sheet name="{escape_attr(name)}" sheetId="{sheet_id}" {rattr}/>')
    wb_xml = _insert_before_close(
        wb_xml, rb"</" + sp.encode() + rb"sheets>", "".join(sheet_el).encode(), "workbook")
    rel_el = "".join(
        f'<Relationship Id="{rid}" Type="{REL_WORKSHEET}" '
        f'Target="{escape_attr(part[len(folder):])}"/>'
        for _n, _i, rid, part in new_entries
    ).encode()
    rels_xml = _insert_before_close(rels_xml, rb"</(?:\w+:)?Relationships>", rel_el,
                                    "relationships")
    ct_el = "".join(
        f'<Override PartName="/{escape_attr(part)}" ContentType="{CT_WORKSHEET}"/>'
        for _n, _i, _r, part in new_entries
    ).encode()
    ct_xml = _insert_before_close(ct_xml, rb"</(?:\w+:)?Types>", ct_el, "content types")
    return wb_xml, rels_xml, ct_xml


def _calc_chain_lists(calc: bytes, entries: Sequence[SheetEntry],
                      rewritten: Sequence[SheetEntry]) -> bool:
    """Whether the calculation chain ``calc`` lists cells of a ``rewritten`` sheet.

    The chain lists formula cells by sheet; entries for cells that are no longer formulas
    make Excel repair the file. Its ``i`` is documented as the sheet id; it is compared
    with both the id and the tab position, so that either reading drops a chain in doubt.
    """
    if not rewritten:
        return False
    ids = {int(i) for i in re.findall(rb'\bi="(\d+)"', calc)}
    first = re.search(rb"<(?:\w+:)?c\b(" + _TAG_ATTRS.encode() + rb")>", calc)
    if first is not None and not re.search(rb'\bi="', first.group(1)):
        return True  # the first cell's sheet is implicit
    positions = {e.name: n for n, e in enumerate(entries, start=1)}
    return any(e.sheet_id in ids or positions[e.name] in ids for e in rewritten)


def _valid_sheet_name(name: str, existing: Collection[str]) -> None:
    bad = set("[]:*?/\\") & set(name)
    problem = None
    if not 1 <= len(name) <= 31:
        problem = "must have 1 to 31 characters"
    elif bad:
        problem = f"cannot contain {''.join(sorted(bad))}"
    elif name.startswith("'") or name.endswith("'"):
        problem = "cannot begin or end with an apostrophe"
    elif name.casefold() == "history":
        problem = "History is reserved by Excel"
    elif name.casefold() in {e.casefold() for e in existing}:
        problem = "is already taken"
    if problem:
        raise ValueError(f"sheet name {name!r} {problem}")


# --------------------------------------------------------------------------------------------
# The entry point


def _source_bytes(src: str | os.PathLike[str] | bytes | Workbook) -> tuple[bytes, str]:
    if isinstance(src, Workbook):
        return src.data, src.path.name
    if isinstance(src, (bytes, bytearray, memoryview)):
        return bytes(src), "the workbook"
    path = Path(src)
    try:
        return path.read_bytes(), path.name
    except FileNotFoundError as exc:
        raise InputError(f"there is no file {path}", fix="Check the file name and folder.") from exc


def _date1904(workbook_xml: bytes) -> bool:
    m = re.search(rb"<(?:\w+:)?workbookPr\b(" + _TAG_ATTRS.encode() + rb")>", workbook_xml)
    return bool(m and re.search(rb'\bdate1904="(1|true)"', m.group(1)))


def _namespace_prefix(xml: bytes, uri: str) -> str | None:
    m = re.search(rb'xmlns:(\w+)="' + re.escape(uri.encode()) + rb'"', xml)
    return m.group(1).decode() if m else None


_OLD_STYLED_MAX = 8 << 20  # bytes of an old sheet's first rows kept to find their styles


def _read_replaced(z: zipfile.ZipFile, data: bytes, entry: SheetEntry, label: str,
                   style_rows: int) -> tuple[bytes, bytes]:
    """The old part of a sheet being replaced, without its cells (see :func:`_stream_light`).

    The package check leaves these parts to the writer. A part xlcrm wrote (flushed before
    ``</sheetData>``, see :func:`make_sheet_member`) is inflated up to its first rows and
    from the flush on: its cells, about to be replaced, are neither inflated nor checked.
    Any other part is inflated whole: zipfile checks the checksum and stops at the declared
    size, which the check bounded.
    """
    assert entry.part is not None
    where = f"{entry.name} of {label}"
    try:
        info = z.getinfo(entry.part)
        after = None
        if info.compress_type == zipfile.ZIP_DEFLATED and not info.flag_bits & 0x1:
            after = flushed_tail(raw_member(data, info).raw,
                                 lambda tail: _CELLS_END.match(tail) is not None and
                                 _ROW_TAG.search(tail) is None)
        with z.open(entry.part) as f:
            return _stream_light(f, style_rows, where, after[1] if after else None)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
        raise InputError(
            f"sheet {entry.name} of {label} is damaged ({exc})",
            fix=f"xlcrm writes {entry.name} anew on every run: delete the sheet {entry.name} "
            "in Excel, save, and run again.",
            sheet=entry.name,
        ) from exc


_CELLS_END = re.compile(rb"</(?:\w+:)?sheetData>")
_ROW_TAG = re.compile(rb"<(?:\w+:)?row\b")


class OldSheets:
    """The old parts of sheets about to be replaced, without their cells, read in a
    background thread (:func:`_read_replaced` for each) while the analysis runs.

    Inflating a 100 MB result sheet is mostly zlib, which runs beside Python on a second
    core: a resegment of 100,000 customers waits for none of it. Give it to
    :func:`write_result_sheets` as ``old_sheets``; a sheet it does not hold (or read with
    other ``style_rows``) is read there as before, and an error met in the thread is raised
    there, as it would have been.
    """

    def __init__(self, book: Workbook, sheets: Collection[str],
                 style_rows: int = SheetData.style_rows) -> None:
        self.style_rows = style_rows
        self._found: dict[str, tuple[bytes, bytes]] = {}
        self._error: BaseException | None = None
        folded = {name.casefold() for name in sheets}
        self._thread = threading.Thread(target=self._read, args=(book, folded), daemon=True)
        self._thread.start()

    def _read(self, book: Workbook, folded: set[str]) -> None:
        try:
            with zipfile.ZipFile(io.BytesIO(book.data)) as z:
                for entry in Package(z).sheets():
                    if entry.name.casefold() in folded and entry.part and \
                            entry.kind == "worksheet":
                        self._found[entry.name] = _read_replaced(
                            z, book.data, entry, book.path.name, self.style_rows)
        except BaseException as exc:  # raised in the writer, where it would have happened
            self._error = exc

    def get(self, entry: SheetEntry, style_rows: int) -> tuple[bytes, bytes] | None:
        """The sheet's part without cells and its first rows, or ``None`` when not read."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._found.get(entry.name) if style_rows == self.style_rows else None


def _stream_light(f: io.BufferedIOBase, style_rows: int, where: str, tail: bytes | None = None
                  ) -> tuple[bytes, bytes]:
    """(the worksheet XML with ``<sheetData/>`` for its cells, its text up to the first row
    after ``style_rows``), inflating the part a megabyte at a time.

    A result sheet of a million customers is a gigabyte of XML of which the writer needs
    the furniture around the cells and the styles of the first rows: memory stays at a
    few megabytes, not the part's size. ``tail``: the part from ``</sheetData>`` on, when
    known (:func:`_read_replaced`): then reading stops after the first rows.
    """
    buf = bytearray()
    open_re = None
    while open_re is None or (m := open_re.search(buf)) is None:
        chunk = f.read(_CHUNK_BYTES)
        if not chunk:
            return bytes(buf), bytes(buf)  # no cell data (or not a worksheet: said later)
        buf += chunk
        if open_re is None and (w := re.search(rb"<(\w+:)?worksheet\b", buf)) is not None:
            p = re.escape(w.group(1) or b"")
            open_re = re.compile(rb"<" + p + rb"sheetData\b" + _TAG_ATTRS.encode() + rb">")
            close_tag = b"</" + (w.group(1) or b"") + b"sheetData>"
            row_re = re.compile(rb"<" + p + rb'row\b[^>]*?\br="(\d+)"')
    if m.group().endswith(b"/>"):
        buf += f.read()
        return bytes(buf), bytes(buf)
    head, rows = bytes(buf[: m.start()]), bytearray(buf[m.start():])
    styled_end = None  # where the first row after style_rows starts, in rows
    scanned = 0
    while True:
        if styled_end is None:
            for r in row_re.finditer(rows, max(scanned - 64, 0)):
                if int(r.group(1)) > style_rows:
                    styled_end = r.start()
                    break
            scanned = len(rows)
            if styled_end is None and len(rows) > _OLD_STYLED_MAX:
                styled_end = len(rows)
            if styled_end is not None:
                styled = head + bytes(rows[:styled_end])
                rows = rows[styled_end:]
                if tail is not None and tail.startswith(close_tag):
                    return head + b"<" + close_tag[2:-1] + b"/>" + tail[len(close_tag):], styled
        close = rows.find(close_tag)
        if close >= 0:
            tail = bytes(rows[close + len(close_tag):]) + f.read()
            if styled_end is None:
                styled = head + bytes(rows)
            return head + b"<" + close_tag[2:-1] + b"/>" + tail, styled
        if styled_end is not None:
            del rows[: max(len(rows) - len(close_tag), 0)]
        chunk = f.read(_CHUNK_BYTES)
        if not chunk:
            raise InputError(f"sheet {where} is damaged (unterminated cell data)",
                             fix="Open the workbook in Excel and save it again.")
        rows += chunk


def open_package(data: bytes, label: str, purpose: str) -> tuple[zipfile.ZipFile, Package, str]:
    """The zip, the package and the workbook part of the ``.xlsx``/``.xlsm`` bytes ``data``.

    Raises
    ------
    InputError
        Naming ``label`` when the bytes are a password-protected or 97-2003 file, not a zip,
        a damaged zip, a package without a workbook part or a binary (``.xlsb``) workbook;
        ``purpose`` ends the sentence "so xlcrm cannot ..." (e.g. "make a copy of it").
    """
    if data[:8] == OLE_MAGIC:
        raise InputError(
            f"{label} is password-protected or in the old Excel 97-2003 format, so xlcrm "
            f"cannot {purpose}",
            fix="Save an unprotected copy as Excel Macro-Enabled Workbook (*.xlsm) and run "
            "xlcrm on that copy.",
        )
    if data[:4] != ZIP_MAGIC:
        raise InputError(f"{label} is not an .xlsx/.xlsm workbook",
                         fix="Give the path of the .xlsm workbook.")
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise InputError(f"{label} is damaged (not a valid zip file: {exc})",
                         fix="Open it in Excel and save it again, or restore a backup.") from exc
    pkg = Package(z)
    try:
        wb_part = pkg.workbook_part()
    except KeyError as exc:
        raise InputError(f"{label} has no workbook part", fix="Save it again from Excel.") from exc
    if not wb_part.lower().endswith(".xml"):
        raise InputError(
            f"{label} is a binary workbook (.xlsb), so xlcrm cannot {purpose}",
            fix="Save it as Excel Macro-Enabled Workbook (*.xlsm) and run again.",
        )
    return z, pkg, wb_part


def make_sheet_member(job: SheetJob, *, elsewhere: bool = False) -> Deflated:
    """One sheet's part, deflated (in this process, or ``elsewhere``: in a
    :class:`SheetWorker`), fully flushed before ``</sheetData>`` and what follows it, so
    that the next run reads them without inflating the cells (:func:`_read_replaced`).

    Raises
    ------
    StylesChangedError
        Made ``elsewhere``, when the sheet needs a cell format the workbook lacks: the
        caller then makes it itself, so that the format lands in the styles part it writes.
    """
    added = len(job.styles.added)
    writer = _CellWriter(job.styles, job.date1904, job.sheet, job.kept, job.col_styles)
    writer.heights = job.heights
    made = deflated(_sheet_chunks(job.split, job.blocks, writer, job.options),
                     flush_before_last=True)
    if elsewhere and len(job.styles.added) != added:
        raise StylesChangedError(job.sheet)
    return made


class StylesChangedError(Exception):
    """A sheet made elsewhere needed a cell format this process must add."""


MIN_CELLS_FOR_WORKER = 200_000
"""Cells from which a sheet is worth sending to a worker process (pickling it and the pipe
cost less than making it)."""
MAX_CELLS_FOR_WORKER = 10_000_000
"""Cells beyond which a sheet stays here: the worker holds a copy of the sheet's table (about
100 MB at this size), and memory matters more than time for the largest workbooks."""


def _job_cells(job: SheetJob) -> int:
    return sum(int(np.prod(b.values.shape)) for b in job.blocks
               if isinstance(b.values, pd.DataFrame))


Meanwhile = Callable[[], Mapping[str, Member] | None]
"""Other work of the writer's caller, done while the worker makes its sheet: new members for
parts of the source that no sheet written replaces, by zip name (see
:func:`write_result_sheets`)."""


def _sheet_members(jobs: Sequence[SheetJob], likes: Sequence[Member],
                   worker: SheetWorker | None, meanwhile: Meanwhile | None = None
                   ) -> tuple[list[Member], Mapping[str, Member]]:
    """The members of ``jobs`` in order, the largest made by ``worker`` while this process
    makes the others (or here, when the worker gives nothing back), and what ``meanwhile``
    made after them, before waiting for the worker."""
    big = max(range(len(jobs)), key=lambda i: _job_cells(jobs[i]), default=None)
    if worker is None or big is None or not (
            MIN_CELLS_FOR_WORKER <= _job_cells(jobs[big]) <= MAX_CELLS_FOR_WORKER):
        big = None
    else:
        # Pickled now: the other sheets may add a date format to the shared styles.
        worker.submit(pickle.dumps(jobs[big], protocol=pickle.HIGHEST_PROTOCOL))
    members: list[Member | None] = []
    for i, (job, like) in enumerate(zip(jobs, likes, strict=True)):
        members.append(None if i == big else _member_of(job, like, None))
    extra = (meanwhile() if meanwhile is not None else None) or {}
    if big is not None:
        assert worker is not None
        members[big] = _member_of(jobs[big], likes[big], worker.result())
    return [m for m in members if m is not None], extra


def _member_of(job: SheetJob, like: Member, made: Deflated | None) -> Member:
    return member(job.part, made or make_sheet_member(job), like)


def write_result_sheets(
    src: str | os.PathLike[str] | bytes | Workbook,
    dst: str | os.PathLike[str],
    sheets: Mapping[str, SheetContent],
    *,
    owned: Collection[str],
    old_sheets: OldSheets | None = None,
    worker: SheetWorker | None = None,
    meanwhile: Meanwhile | None = None,
) -> WriteReport:
    """Write ``src`` to ``dst`` with the cells of ``sheets`` regenerated, all else unchanged.

    Parameters
    ----------
    src : path-like, bytes or Workbook
        The workbook as read (a :class:`~xlcrm.book.read.Workbook` or its bytes: then the
        file written is based on exactly the bytes whose stamp a later save checks).
    dst : path-like
        Where to write the new workbook (normally a temporary file of
        :func:`xlcrm.book.save.safe_replace`). Must not be ``src``.
    sheets : mapping of sheet name to SheetData, DataFrame or list of rows
        The sheets to write. A sheet that does not exist is added after the last sheet.
    owned : collection of str
        The sheets xlcrm may write; a name in ``sheets`` outside it is refused (a guard
        against ever overwriting a ledger sheet).
    old_sheets : OldSheets, optional
        The replaced sheets' old parts, read beforehand from the same ``src`` Workbook.
    worker : SheetWorker, optional
        A second process that makes the largest sheet while this one makes the others
        (:mod:`xlcrm.book.sheet_worker`); the file written is the same without it.
    meanwhile : callable, optional
        Called once the sheets made here are made, before waiting for the worker's: the
        new members it returns (by zip name) take the place of those parts of ``src``
        where no sheet written or bookkeeping edit changes them (History with this run's
        rows appended, made while the worker works). ``WriteReport.substituted`` lists
        those put in.

    Returns
    -------
    WriteReport
        The parts changed; all others are copied with identical compressed bytes.

    Raises
    ------
    InputError
        When the source is not an ``.xlsx``/``.xlsm`` zip (encrypted, ``.xls``, ``.xlsb``),
        or a sheet to write is a chart sheet or holds an Excel Table.
    ValueError, TypeError
        For a sheet name outside ``owned``, an invalid new sheet name, or a value that
        cannot be written (the message names the cell).
    """
    owned_folded = {s.casefold() for s in owned}
    outside = [s for s in sheets if s.casefold() not in owned_folded]
    if outside:
        raise ValueError(f"refusing to write sheets xlcrm does not own: {', '.join(outside)}")
    data, label = _source_bytes(src)
    if Path(os.fspath(dst)).exists() and not isinstance(src, (bytes, Workbook)) and \
            os.path.samefile(os.fspath(src), os.fspath(dst)):  # type: ignore[arg-type]
        raise ValueError("dst must differ from src (write to a temporary file)")
    z, pkg, wb_part = open_package(data, label, "write its results into it")
    wb_xml = pkg.read(wb_part)
    entries = pkg.sheets()
    by_fold = {e.name.casefold(): e for e in entries}
    date1904 = _date1904(wb_xml)
    wb_rels_name = pkg.find(rels_part(wb_part)) or rels_part(wb_part)
    wb_rels = pkg.rels(wb_part)
    styles_rel = next((r for r in wb_rels if r.type.endswith("/styles")), None)
    styles_name = pkg.find(styles_rel.target) if styles_rel else None
    styles = _Styles(z.read(styles_name) if styles_name else None)

    replaced: dict[str, Member] = {}  # zip name -> new member
    new_parts: list[Member] = []
    wb_like = raw_member(data, z.getinfo(wb_part))
    new_entries: list[tuple[str, int, str, str]] = []  # name, sheetId, rId, part
    taken_parts = {n.lower() for n in pkg.names}
    folder = wb_part.rsplit("/", 1)[0] + "/" if "/" in wb_part else ""
    next_sheet_id = max((e.sheet_id for e in entries), default=0) + 1
    rid_numbers = [int(m.group(1)) for r in wb_rels if (m := re.fullmatch(r"rId(\d+)", r.id))]
    next_rid = max(rid_numbers, default=0) + 1
    rids = {r.id for r in wb_rels}
    sheet_no = 1 + max(
        (int(m.group(1)) for n in taken_parts
         if (m := re.fullmatch(re.escape(folder.lower()) + r"worksheets/sheet(\d+)\.xml", n))),
        default=0,
    )
    replaced_entries: list[SheetEntry] = []
    jobs: list[SheetJob] = []
    likes: list[Member] = []  # the replaced part (or the workbook's), for date and attributes
    new_part_names: set[str] = set()

    for name, content in sheets.items():
        entry = by_fold.get(name.casefold())
        blocks, options = _as_blocks(content)
        if entry is not None:
            if entry.kind != "worksheet" or entry.part is None:
                raise InputError(
                    f"sheet {entry.name} is a {entry.kind or 'broken'} sheet, not a worksheet, "
                    "so xlcrm cannot write its results there",
                    fix=f"Delete or rename the sheet {entry.name}; xlcrm will add a new one.",
                    sheet=entry.name,
                )
            found = old_sheets.get(entry, options.style_rows) if old_sheets else None
            old, styled = found or _read_replaced(z, data, entry, label, options.style_rows)
            split = _split_sheet(old, f"{entry.name} of {label}")
            if _child(split, "tableParts") is not None and re.search(
                rb"<(?:\w+:)?tablePart\b", _child(split, "tableParts") or b""
            ):
                raise InputError(
                    f"sheet {entry.name} holds an Excel Table, but xlcrm rewrites this sheet's "
                    "cells on every run and would break the table",
                    fix=f"Convert the table on {entry.name} to a range (Table Design > Convert "
                    "to Range), or move it to a sheet of your own.",
                    sheet=entry.name,
                )
            kept = _kept_cell_styles(styled, split.prefix, options.style_rows) \
                if options.keep_styles else {}
            sheet_name = entry.name
            part = entry.part
            replaced_entries.append(entry)
        else:
            _valid_sheet_name(name, [e.name for e in entries] + [n[0] for n in new_entries])
            split = _split_sheet(NEW_SHEET_XML, name)
            kept = {}
            sheet_name = name
            while f"{folder}worksheets/sheet{sheet_no}.xml".lower() in taken_parts:
                sheet_no += 1
            part = f"{folder}worksheets/sheet{sheet_no}.xml"
            taken_parts.add(part.lower())
            while f"rId{next_rid}" in rids:
                next_rid += 1
            rid = f"rId{next_rid}"
            rids.add(rid)
            new_entries.append((name, next_sheet_id, rid, part))
            new_part_names.add(part)
            next_sheet_id += 1
        col_styles = _col_styles(_child(split, "cols")) if options.keep_styles else {}
        if options.freeze_rows is not None:
            _set_child(split, "sheetViews",
                       _freeze_xml(_child(split, "sheetViews"), split.prefix, options.freeze_rows))
        if options.widths is not None:
            _set_child(split, "cols", _cols_xml(split.prefix, options.widths))
        for dropped in _DROPPED_WITH_CELLS:
            _set_child(split, dropped, None)
        heights = _kept_row_heights(styled, split.prefix, options.style_rows) \
            if options.keep_styles and entry is not None else {}
        jobs.append(SheetJob(part, split, blocks, options, styles, date1904, sheet_name, kept,
                             col_styles, heights))
        likes.append(raw_member(data, z.getinfo(part)) if entry is not None else wb_like)
    made, extra = _sheet_members(jobs, likes, worker, meanwhile)
    for job, made_member in zip(jobs, made, strict=True):
        if job.part in new_part_names:
            new_parts.append(made_member)
        else:
            replaced[job.part] = made_member

    changed: list[str] = []
    removed: list[str] = []

    calc_rel = next((r for r in wb_rels if r.type.endswith("/calcChain")), None)
    calc_name = pkg.find(calc_rel.target) if calc_rel else None
    drop_calc = calc_name is not None and _calc_chain_lists(
        z.read(calc_name), entries, replaced_entries)

    ct_name = pkg.find("[Content_Types].xml") or "[Content_Types].xml"
    ct_xml = z.read(ct_name)
    rels_xml = z.read(wb_rels_name) if pkg.find(wb_rels_name) else None
    new_wb_xml = wb_xml
    if new_entries:
        if rels_xml is None:
            raise InputError(f"{label} lacks its workbook relationships part",
                             fix="Save it again from Excel.")
        new_wb_xml, rels_xml, ct_xml = _register_sheets(
            wb_xml, rels_xml, ct_xml, new_entries, folder)
    if drop_calc and calc_name and calc_rel:
        removed.append(calc_name)
        assert rels_xml is not None
        rels_xml = _remove_elements(rels_xml, rb"Relationship", rb"Id", calc_rel.id)
        ct_xml = _remove_elements(ct_xml, rb"Override", rb"PartName", "/" + calc_name)

    edits: dict[str, bytes] = {}
    if new_wb_xml is not wb_xml:
        edits[wb_part] = new_wb_xml
    if rels_xml is not None and pkg.find(wb_rels_name) and rels_xml != z.read(wb_rels_name):
        edits[wb_rels_name] = rels_xml
    if ct_xml != z.read(ct_name):
        edits[ct_name] = ct_xml
    if styles.added and styles_name:
        edits[styles_name] = styles.render()

    members: list[Member] = []
    substituted: list[str] = []
    for info in z.infolist():
        name = info.filename
        if name in removed:
            continue
        if name in replaced:
            members.append(replaced[name])
        elif name in edits:
            members.append(new_member(name, [edits[name]], raw_member(data, info)))
            changed.append(name)
        elif name in extra:
            members.append(extra[name])
            substituted.append(name)
        else:
            members.append(raw_member(data, info))
    members.extend(new_parts)

    with open(dst, "wb") as out:
        write_zip(out, members, z.comment)
    return WriteReport(
        replaced=tuple(replaced),
        added=tuple(m.name.decode() for m in new_parts),
        changed=tuple(changed),
        removed=tuple(removed),
        sheets_added=tuple(n for n, *_ in new_entries),
        substituted=tuple(substituted),
    )
