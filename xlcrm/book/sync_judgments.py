"""Rebuild the Judgments sheet from the Indicators sheet, keeping every judgment that still
applies (``xlcrm sync-judgments``, the ribbon's *Sync judgments*).

An analyst who renames, adds, removes or moves an indicator or a group on the Indicators
sheet leaves the Judgments sheet behind; reading it then stops with an error naming the
block (:func:`xlcrm.book.settings.judgments_from_grid`). The sync lays the sheet out again
exactly as the template does (:func:`xlcrm.book.template.judgments_sheet_parts`: blocks,
reciprocal formulas, drop-downs, weights and CR) and carries the judgments over:

* a judgment whose two names are both still in the same block (group, or the Groups block)
  is kept **as typed** (text ``"1/3"`` stays that text, a number stays that number); when
  the two items now stand in the other order it becomes its reciprocal;
* a renamed item keeps its judgments when the rename is given (``--rename "Old=New"``; for
  a group it also names the block); without it the old name is simply gone and the new
  name is a new item;
* a pair that is new (a new item, or a new group in the Groups block) is left blank, which
  the AHP core completes by Harker's method and every check flags, or gets ``default``
  (e.g. ``1``, equal importance) when one is given.

Why this rule: a judgment is a statement about two named things; as long as both exist it
means the same, whatever else changes in the block, and nothing else can be inferred
without asking the analyst.

The file is written part-wise (:mod:`xlcrm.book.write`): only the Judgments worksheet part
and, when the workbook lacks one of the sheet's cell formats, ``xl/styles.xml`` (formats
appended, none changed) change; a calculation chain that lists Judgments cells is dropped
(Excel rebuilds it). Everything else stays byte-identical, and the save is the safe one
(:func:`xlcrm.book.save.safe_replace`: verified temporary file, backup, atomic replace).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xlcrm import schema
from xlcrm.book.settings import MatrixBlock, find_matrix_blocks, grid_to_frame
from xlcrm.errors import InputError, Problem, cell_address
from xlcrm.value.ahp import format_judgment, parse_matrix
from xlcrm.value.hierarchy import Hierarchy, hierarchy_from_table

Grid = Sequence[Sequence[Any]]

# Where the first block starts and how far apart blocks are: xlcrm.book.template's layout
# (title row 3, header, n rows, blank, CR row, two blank rows).
_FIRST_TITLE_ROW = 3
_BLOCK_GAP = 6


# --------------------------------------------------------------------------------------------
# The plan: which judgment goes where (pure; also run by the ribbon on the open workbook)


def parse_renames(pairs: Sequence[str]) -> dict[str, str]:
    """``["Old=New", ...]`` -> ``{"old": "New"}`` (keys case-folded, as names are matched).

    Raises
    ------
    InputError
        For an entry without ``=``, with a blank side, or an old name given twice.
    """
    out: dict[str, str] = {}
    for pair in pairs:
        old, sep, new = pair.partition("=")
        old, new = old.strip(), new.strip()
        if not sep or not old or not new:
            raise InputError(
                f"--rename {pair!r} is not of the form Old=New",
                fix='Write the old name, "=", and the name now on the Indicators sheet, '
                'e.g. --rename "Growth=Purchase growth".',
            )
        if old.casefold() in out:
            raise InputError(f"--rename gives {old!r} twice", fix="Give each old name once.")
        out[old.casefold()] = new
    return out


@dataclass(frozen=True)
class LevelSync:
    """What the sync did to one level (the Groups block or one group's block)."""

    level: str
    items: tuple[str, ...]
    source: str | None  # title of the old block the judgments came from, None if none
    kept: int  # judgments carried over as typed
    reversed: int  # carried over as their reciprocal (the two items swapped places)
    new_pairs: tuple[tuple[str, str], ...]  # pairs without an old judgment
    dropped: tuple[str, ...]  # items of the old block no longer in this level
    old_items: tuple[str, ...] = ()  # the old block's items as it had them

    @property
    def pairs(self) -> int:
        n = len(self.items)
        return n * (n - 1) // 2


@dataclass
class SyncPlan:
    """The typed upper triangles of the new Judgments sheet and what changed.

    ``typed`` maps ``"groups"`` and each group to an n x n grid whose upper triangle holds
    the judgment as it will be written (``None``: blank); ``levels`` reports per level.
    """

    hierarchy: Hierarchy
    typed: dict[str, list[list[Any]]]
    levels: list[LevelSync]
    unused_renames: tuple[str, ...] = ()
    orphan_blocks: tuple[str, ...] = ()
    default: Any = None

    @property
    def blank_pairs(self) -> int:
        return 0 if self.default is not None else sum(len(lv.new_pairs) for lv in self.levels)

    @property
    def unchanged(self) -> bool:
        """True when every level already had exactly its items, in order, in its block."""
        return not self.orphan_blocks and all(
            lv.source == lv.level and lv.old_items == lv.items and lv.kept == lv.pairs
            for lv in self.levels)

    def summary_lines(self) -> list[str]:
        """The report in words, one line per level plus what to do next."""
        lines = []
        for lv in self.levels:
            what = f"{lv.kept + lv.reversed} of {lv.pairs} judgments kept"
            if lv.reversed:
                what += f" ({lv.reversed} as reciprocals: the items swapped places)"
            if lv.source is not None and lv.source.casefold() != lv.level.casefold():
                what += f", from the block {lv.source!r}"
            if lv.source is None and lv.pairs:
                what = f"new block, {lv.pairs} judgments to type"
            if lv.new_pairs:
                fill = (f"set to {self.default}" if self.default is not None
                        else "left blank (estimated by Harker's method until you type them)")
                shown = ", ".join(f"{a} vs {b}" for a, b in lv.new_pairs[:6])
                more = f" and {len(lv.new_pairs) - 6} more" if len(lv.new_pairs) > 6 else ""
                what += f"; new pairs {fill}: {shown}{more}"
            if lv.dropped:
                what += f"; no longer compared: {', '.join(lv.dropped)}"
            lines.append(f"{lv.level}: {what}")
        if self.orphan_blocks:
            lines.append("Blocks of groups no longer on Indicators were removed: "
                         + ", ".join(self.orphan_blocks))
        if self.unused_renames:
            lines.append("--rename not used (no such old name in a block): "
                         + ", ".join(self.unused_renames))
        return lines

    def to_json(self) -> dict[str, Any]:
        return {
            "levels": [
                {"level": lv.level, "items": list(lv.items), "source": lv.source,
                 "kept": lv.kept, "reversed": lv.reversed,
                 "new_pairs": [list(p) for p in lv.new_pairs], "dropped": list(lv.dropped)}
                for lv in self.levels
            ],
            "blank_pairs": self.blank_pairs,
            "default": self.default,
            "orphan_blocks": list(self.orphan_blocks),
            "unused_renames": list(self.unused_renames),
        }


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or (
        isinstance(value, float) and value != value
    )


def judgment_value(value: Any) -> float | None:
    """A typed judgment (``3``, ``"1/3"``, ``" 0.5 "``) as a number; ``None`` when blank or
    not a judgment (the checks report those at their cells)."""
    if _blank(value):
        return None
    try:
        x = parse_matrix([[1, value], [None, 1]])[0, 1]
    except InputError:
        return None
    return float(x)


def _old_value(block: MatrixBlock, p: int, q: int) -> tuple[Any, bool]:
    """The judgment "item p over item q" of an old block, and whether it is as typed.

    The typed cell is the upper one (p < q: kept as it is); the other orientation is its
    reciprocal. A blank upper cell with a number below the diagonal (typed there, or a
    formula's cached value) gives that number's reciprocal.
    """
    lo, hi = min(p, q), max(p, q)
    upper, lower = block.values[lo][hi], block.values[hi][lo]
    if not _blank(upper):
        if p < q:
            return upper, True
        x = judgment_value(upper)
        return (None, False) if x is None else (format_judgment(1.0 / x), False)
    x = judgment_value(lower)  # lower = "hi over lo"
    if x is None:
        return None, False
    return (format_judgment(x), False) if p > q else (format_judgment(1.0 / x), False)


def _source_block(
    title: str, blocks: Mapping[str, MatrixBlock], renames: Mapping[str, str]
) -> MatrixBlock | None:
    """The old block for level ``title``: titled so, or titled by a name renamed to it."""
    folded = {k.casefold(): b for k, b in blocks.items()}
    if title.casefold() in folded:
        return folded[title.casefold()]
    for old, new in renames.items():
        if new.casefold() == title.casefold() and old in folded:
            return folded[old]
    return None


def _sync_level(
    level: str, items: Sequence[str], block: MatrixBlock | None,
    renames: Mapping[str, str], default: Any, used: set[str],
) -> tuple[list[list[Any]], LevelSync]:
    n = len(items)
    typed: list[list[Any]] = [[None] * n for _ in range(n)]
    where: dict[str, int] = {}
    if block is not None:
        for k, name in enumerate(block.items):
            new = renames.get(name.casefold())
            if new is not None:
                used.add(name.casefold())
            where.setdefault((new or name).casefold(), k)
    kept = flipped = 0
    new_pairs = []
    for i in range(n):
        for j in range(i + 1, n):
            p, q = where.get(items[i].casefold()), where.get(items[j].casefold())
            value, as_typed = (None, False)
            if block is not None and p is not None and q is not None:
                value, as_typed = _old_value(block, p, q)
            if value is None:
                new_pairs.append((items[i], items[j]))
                typed[i][j] = default
                continue
            typed[i][j] = value
            kept += as_typed
            flipped += not as_typed
    present = {i.casefold() for i in items}
    dropped = tuple(
        name for name in (block.items if block else ())
        if (renames.get(name.casefold()) or name).casefold() not in present
    )
    return typed, LevelSync(level, tuple(items), block.level if block else None, kept, flipped,
                            tuple(new_pairs), dropped, block.items if block else ())


def plan_sync(
    hierarchy: Hierarchy,
    judgments: Grid | None,
    *,
    renames: Mapping[str, str] | None = None,
    default: Any = None,
) -> SyncPlan:
    """Which judgment of the old Judgments sheet goes where on the new one.

    Parameters
    ----------
    hierarchy : Hierarchy
        The hierarchy as the Indicators sheet now has it.
    judgments : grid or None
        The Judgments sheet as read (cached values for formulas); ``None`` when there is
        none (every pair is then new).
    renames : mapping of str to str
        Old name (case-folded) -> new name, from :func:`parse_renames`; applies to groups
        (their block and their row in the Groups block) and to indicators.
    default : str or number, optional
        Written into every new pair; ``None`` leaves them blank.
    """
    renames = dict(renames or {})
    x = None if default is None else judgment_value(default)
    if default is not None and (x is None or not 1 / 9 - 1e-9 <= x <= 9 + 1e-9):
        raise InputError(f"--default {default!r} is not a judgment",
                         fix="Give a value on Saaty's scale: 1/9 ... 1 ... 9 (1: equal).")
    blocks = find_matrix_blocks(judgments) if judgments is not None else {}
    used: set[str] = set()
    levels = [("groups", "Groups", tuple(hierarchy.groups))] + [
        (g, g, tuple(i.name for i in hierarchy.by_group[g])) for g in hierarchy.groups
    ]
    typed: dict[str, list[list[Any]]] = {}
    reports = []
    sources = set()
    for key, title, items in levels:
        block = _source_block(title, blocks, renames)
        if block is not None:
            sources.add(block.level)
            if block.level.casefold() != title.casefold():
                used.add(block.level.casefold())
        typed[key], report = _sync_level(title, items, block, renames, default, used)
        reports.append(report)
    orphans = tuple(b for b in blocks if b not in sources)
    unused = tuple(old for old in renames if old not in used)
    return SyncPlan(hierarchy, typed, reports, unused, orphans, default)


def hierarchy_from_grid(indicators: Grid | None) -> Hierarchy:
    """The hierarchy on the Indicators sheet; an unusable row stops the sync (named)."""
    if indicators is None:
        raise InputError("the workbook has no Indicators sheet",
                         fix="Add the Indicators sheet from the template.",
                         sheet=schema.INDICATORS)
    hierarchy, problems = hierarchy_from_table(grid_to_frame(indicators),
                                               sheet=schema.INDICATORS)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        # Judgments laid out for a hierarchy with rows left out would be rebuilt again.
        raise InputError(errors)
    return hierarchy


def layout_rows(hierarchy: Hierarchy) -> int:
    """Rows the Judgments sheet takes for ``hierarchy`` (the template's layout)."""
    sizes = [len(hierarchy.groups)] + [len(hierarchy.by_group[g]) for g in hierarchy.groups]
    return _FIRST_TITLE_ROW - 1 + sum(n + _BLOCK_GAP for n in sizes)


def blank_pair_problems(plan: SyncPlan, sheet: str = schema.JUDGMENTS) -> list[Problem]:
    """A warning per pair left blank, at its cell on the new sheet (what check will say)."""
    out = []
    row = _FIRST_TITLE_ROW - 1  # 0-based title row of the first block
    for lv in plan.levels:
        first = row + 2
        index = {name: k for k, name in enumerate(lv.items)}
        if plan.default is None:
            for a, b in lv.new_pairs:
                out.append(Problem(
                    "warning", f"{lv.level}: {a} vs {b} is a new pair without a judgment",
                    "Type your judgment on Saaty's scale (1/9 ... 9) in the yellow cell.",
                    sheet, cell_address(first + index[a], 1 + index[b])))
        row += len(lv.items) + _BLOCK_GAP
    return out


# --------------------------------------------------------------------------------------------
# Styles: the new sheet's cell formats in the workbook's own styles part


_FONT_ORDER = ("b", "i", "strike", "condense", "extend", "outline", "shadow", "u",
               "vertAlign", "sz", "color", "name", "family", "charset", "scheme")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _emit(el: Any, prefix: str = "") -> str:
    """``el`` as XML text with the main namespace's ``prefix``; a font's children in the
    schema's order (openpyxl writes the name first, which validators reject)."""
    from xlcrm.book.write import escape_attr, escape_text

    name = _local(el.tag)
    attrs = "".join(f' {_local(k)}="{escape_attr(v)}"' for k, v in sorted(el.attrib.items())
                    if not k.startswith("{"))
    children = list(el)
    if name == "font":
        rank = {n: k for k, n in enumerate(_FONT_ORDER)}
        children.sort(key=lambda c: rank.get(_local(c.tag), len(rank)))
    inner = "".join(_emit(c, prefix) for c in children) + escape_text(el.text or "").strip()
    if not inner:
        return f"<{prefix}{name}{attrs}/>"
    return f"<{prefix}{name}{attrs}>{inner}</{prefix}{name}>"


class _StyleMerge:
    """Maps the new sheet's style indices to equal formats in the workbook's styles part,
    appending a format (and its font, fill, border, number format) only when it has none."""

    SECTIONS = ("numFmts", "fonts", "fills", "borders", "cellXfs", "dxfs")

    def __init__(self, target: bytes, source: bytes) -> None:
        from xml.etree import ElementTree

        self.text = target.decode("utf-8")
        m = re.search(r"<(\w+:)?styleSheet\b", self.text)
        self.prefix = (m.group(1) or "") if m else ""
        self.root = ElementTree.fromstring(target)
        self.src = ElementTree.fromstring(source)
        self.added: dict[str, list[str]] = {s: [] for s in self.SECTIONS}
        self.lists = {s: self._items(self.root, s) for s in self.SECTIONS}
        self.keys = {s: [_emit(e) for e in self.lists[s]] for s in ("fonts", "fills", "borders",
                                                                     "dxfs")}
        self.formats = {e.get("formatCode"): int(e.get("numFmtId", "0"))
                        for e in self.lists["numFmts"]}
        self.src_formats = {int(e.get("numFmtId", "0")): e.get("formatCode")
                            for e in self._items(self.src, "numFmts")}
        self.xf_keys = [self._xf_key(xf, self.root, self._numfmt_code) for xf in
                        self.lists["cellXfs"]]
        self.xf_map: dict[int, int] = {}
        self.dxf_map: dict[int, int] = {}

    @staticmethod
    def _items(root: Any, section: str) -> list[Any]:
        found = next((c for c in root if _local(c.tag) == section), None)
        return list(found) if found is not None else []

    def _numfmt_code(self, numfmt_id: int) -> str:
        code = {v: k for k, v in self.formats.items()}.get(numfmt_id)
        return code if code is not None else f"#builtin{numfmt_id}"

    def _src_code(self, numfmt_id: int) -> str:
        code = self.src_formats.get(numfmt_id)
        return code if code is not None else f"#builtin{numfmt_id}"

    def _xf_key(self, xf: Any, root: Any, code_of: Any) -> str:
        parts = [code_of(int(xf.get("numFmtId", "0")))]
        for attr, section in (("fontId", "fonts"), ("fillId", "fills"), ("borderId", "borders")):
            items = self._items(root, section)
            k = int(xf.get(attr, "0"))
            parts.append(_emit(items[k]) if k < len(items) else "")
        rest = {k: v for k, v in xf.attrib.items()
                if k not in ("numFmtId", "fontId", "fillId", "borderId", "xfId")}
        parts.append(repr(sorted(rest.items())))
        parts.append("".join(_emit(c) for c in xf))
        return "\x00".join(parts)

    def _index(self, section: str, el: Any) -> int:
        key = _emit(el)
        if key in self.keys[section]:
            return self.keys[section].index(key)
        self.keys[section].append(key)
        self.added[section].append(_emit(el, self.prefix))
        return len(self.keys[section]) - 1

    def _numfmt(self, src_id: int) -> int:
        code = self.src_formats.get(src_id)
        if code is None:
            return src_id  # built in
        if code not in self.formats:
            self.formats[code] = max([163, *self.formats.values()]) + 1
            self.added["numFmts"].append(
                f'<{self.prefix}numFmt numFmtId="{self.formats[code]}" '
                f'formatCode="{_attr(code)}"/>')
        return self.formats[code]

    def xf(self, src_index: int) -> int:
        """The workbook's cellXfs index for the new sheet's ``s="src_index"``."""
        if src_index in self.xf_map:
            return self.xf_map[src_index]
        src_xfs = self._items(self.src, "cellXfs")
        xf = src_xfs[src_index]
        key = self._xf_key(xf, self.src, self._src_code)
        if key in self.xf_keys:
            self.xf_map[src_index] = self.xf_keys.index(key)
            return self.xf_map[src_index]
        attrs = dict(xf.attrib)
        attrs["numFmtId"] = str(self._numfmt(int(xf.get("numFmtId", "0"))))
        for attr, section in (("fontId", "fonts"), ("fillId", "fills"), ("borderId", "borders")):
            items = self._items(self.src, section)
            attrs[attr] = str(self._index(section, items[int(xf.get(attr, "0"))]))
        if not self._items(self.root, "cellStyleXfs"):
            attrs.pop("xfId", None)
        inner = "".join(_emit(c, self.prefix) for c in xf)
        attr_text = "".join(f' {k}="{_attr(v)}"' for k, v in attrs.items())
        self.added["cellXfs"].append(
            f"<{self.prefix}xf{attr_text}>{inner}</{self.prefix}xf>" if inner
            else f"<{self.prefix}xf{attr_text}/>")
        self.xf_keys.append(key)
        self.xf_map[src_index] = len(self.xf_keys) - 1
        return self.xf_map[src_index]

    def dxf(self, src_index: int) -> int:
        """The workbook's dxfs index for the new sheet's ``dxfId="src_index"``."""
        if src_index not in self.dxf_map:
            self.dxf_map[src_index] = self._index("dxfs", self._items(self.src, "dxfs")[src_index])
        return self.dxf_map[src_index]

    @property
    def changed(self) -> bool:
        return any(self.added.values())

    def render(self) -> bytes:
        """The styles part with the appended entries (counts updated), all else as it was."""
        text = self.text
        p = self.prefix
        for section in self.SECTIONS:
            new = "".join(self.added[section])
            if not new:
                continue
            total = len(self.lists[section]) + len(self.added[section])
            m = re.search(rf"<{re.escape(p)}{section}\b([^>]*?)(/?)>", text)
            if m is None:
                text = _insert_section(text, p, section, new, total)
                continue
            attrs = re.sub(r'\s*count="\d+"', "", m.group(1))
            start = f'<{p}{section}{attrs} count="{total}">'
            if m.group(2):  # <dxfs count="0"/>
                text = text[: m.start()] + start + new + f"</{p}{section}>" + text[m.end():]
                continue
            close = text.index(f"</{p}{section}>", m.end())
            text = text[: m.start()] + start + text[m.end(): close] + new + text[close:]
        return text.encode("utf-8")


# CT_Stylesheet's children in order: a missing section goes before the first later one.
_STYLE_ORDER = ("numFmts", "fonts", "fills", "borders", "cellStyleXfs", "cellXfs", "cellStyles",
                "dxfs", "tableStyles", "colors", "extLst")


def _insert_section(text: str, p: str, section: str, new: str, total: int) -> str:
    element = f'<{p}{section} count="{total}">{new}</{p}{section}>'
    for later in _STYLE_ORDER[_STYLE_ORDER.index(section) + 1:]:
        m = re.search(rf"<{re.escape(p)}{later}\b", text)
        if m:
            return text[: m.start()] + element + text[m.start():]
    close = text.rindex(f"</{p}styleSheet>")
    return text[:close] + element + text[close:]


def _attr(value: str) -> str:
    from xlcrm.book.write import escape_attr

    return escape_attr(value)


# --------------------------------------------------------------------------------------------
# The sheet part: the new cells, drop-downs and CR colours in the old sheet's frame

# Children of the worksheet that describe the cells: taken from the new sheet.
_FROM_NEW = ("dimension", "cols", "sheetData", "conditionalFormatting", "dataValidations")
# Cell-level children of the old sheet that go with its cells.
_DROPPED = ("mergeCells", "hyperlinks")
# extLst entries of the old sheet about its cells (x14 conditional formats, data validations).
_CELL_EXT_URIS = (
    "{78C0D931-6437-407d-A8EE-F0AAD7539E65}",
    "{CCE6A557-97BC-4b89-ADB6-D9C93CAAB3DF}",
)


def _remap_styles(xml: str, styles: _StyleMerge) -> str:
    xml = re.sub(r'(<(?:c|row)\b[^>]*?\bs=")(\d+)(")',
                 lambda m: f"{m.group(1)}{styles.xf(int(m.group(2)))}{m.group(3)}", xml)
    xml = re.sub(r'(<col\b[^>]*?\bstyle=")(\d+)(")',
                 lambda m: f"{m.group(1)}{styles.xf(int(m.group(2)))}{m.group(3)}", xml)
    return re.sub(r'(<cfRule\b[^>]*?\bdxfId=")(\d+)(")',
                  lambda m: f"{m.group(1)}{styles.dxf(int(m.group(2)))}{m.group(3)}", xml)


def _unique_priorities(xml: str) -> str:
    """Number conditional-format rules 1, 2, 3... (a priority is unique on a sheet)."""
    counter = iter(range(1, 1 << 30))
    return re.sub(r'(<cfRule\b[^>]*?\bpriority=")\d+(")',
                  lambda m: f"{m.group(1)}{next(counter)}{m.group(2)}", xml)


def _new_children(new_xml: bytes, prefix: str, styles: _StyleMerge) -> dict[str, bytes]:
    """The cell-describing children of the built sheet, restyled for the workbook."""
    from xlcrm.book.read import NS_MAIN

    text = _unique_priorities(_remap_styles(new_xml.decode("utf-8"), styles))
    out: dict[str, bytes] = {}
    for name in _FROM_NEW:
        found = re.findall(rf"<{name}\b[^>]*/>|<{name}\b.*?</{name}>", text, re.S)
        if not found:
            continue
        if re.search(r'\bt="s"', "".join(found)):
            raise AssertionError("the built Judgments sheet uses shared strings")
        if prefix:  # the old sheet binds the main namespace to a prefix: declare it here
            found = [re.sub(rf"^<{name}\b", f'<{name} xmlns="{NS_MAIN}"', f) for f in found]
        out[name] = "".join(found).encode("utf-8")
    return out


def _drop_cell_extensions(ext_xml: bytes) -> bytes | None:
    kept = re.sub(
        rb"<(\w+:)?ext\b[^>]*?\buri=\"(" + "|".join(re.escape(u) for u in _CELL_EXT_URIS).encode()
        + rb")\".*?</(\w+:)?ext>", b"", ext_xml, flags=re.S | re.I)
    return None if re.fullmatch(rb"\s*<(\w+:)?extLst\b[^>]*>\s*</(\w+:)?extLst>\s*", kept) \
        else kept


def rebuilt_sheet(old_xml: bytes, new_xml: bytes, styles: _StyleMerge, where: str) -> bytes:
    """The old Judgments part with its cells, cell formats, drop-downs and conditional
    formats replaced by the new sheet's; its code name, view, page setup, drawings and
    other extensions kept."""
    from xlcrm.book.write import _Child, _split_sheet

    split = _split_sheet(old_xml, where)
    if any(c.name == "tableParts" and b"tablePart" in c.xml for c in split.children):
        raise InputError(
            f"sheet {where} holds an Excel Table, which the sync would break",
            fix=f"Convert the table on {where} to a range, or move it to a sheet of its own.",
            sheet=where)
    new = _new_children(new_xml, split.prefix, styles)
    children = []
    for child in split.children:
        if child.name in _FROM_NEW or child.name in _DROPPED:
            continue
        if child.name == "extLst":
            xml = _drop_cell_extensions(child.xml)
            if xml is None:
                continue
            child = _Child("extLst", xml)
        children.append(child)
    from xlcrm.book.write import _ORDER

    for name in _FROM_NEW:
        if name not in new:
            continue
        rank = _ORDER[name]
        at = next((k for k, c in enumerate(children) if _ORDER.get(c.name, -1) > rank),
                  len(children))
        children.insert(at, _Child(name, new[name]))
    body = b"".join(c.xml for c in children)
    # _split_sheet leaves an empty <sheetData/> in place of the cells; ours was inserted.
    return split.head + body + split.tail


# --------------------------------------------------------------------------------------------
# The open workbook (the ribbon): the same sheet as cells to write, and where its formats are

_CELL_XML = re.compile(
    r'<c r="([A-Z]+)(\d+)"[^>]*?(?:/>|>(.*?)</c>)', re.S)
_ARRAY = re.compile(r'<f\b[^>]*\bt="array"[^>]*\bref="([A-Z]+)(\d+):([A-Z]+)(\d+)"[^>]*>(.*?)</f>',
                    re.S)


def _unescape(text: str) -> str:
    from html import unescape

    return unescape(text)


def live_cells(plan: SyncPlan) -> dict[tuple[int, int], Any]:
    """(0-based row, col) -> what to enter on the open sheet: a value, or ``"=formula"``.

    The cells of the sheet :func:`xlcrm.book.template.judgments_sheet_parts` builds, with
    one difference: a block's Weight column holds ``=INDEX(AHP_WEIGHTS(matrix),i)`` per
    cell instead of one array formula, since a cell value written through xlwings cannot
    enter an array formula (and every Excel version shows INDEX the same).
    """
    from xlcrm.book.template import judgments_sheet_parts
    from xlcrm.errors import column_index

    xml = judgments_sheet_parts(plan.hierarchy, plan.typed)[0].decode("utf-8")
    cells: dict[tuple[int, int], Any] = {}
    for m in _CELL_XML.finditer(xml):
        row, col, inner = int(m.group(2)) - 1, column_index(m.group(1)), m.group(3) or ""
        array = _ARRAY.search(inner)
        formula = re.search(r"<f\b[^>]*>(.*?)</f>", inner, re.S)
        if array:
            body = _unescape(array.group(5))
            last = int(array.group(4)) - 1
            for k, r in enumerate(range(row, last + 1), start=1):
                cells[(r, col)] = f"=INDEX({body},{k})"
        elif formula:
            cells[(row, col)] = "=" + _unescape(formula.group(1))
        elif (text := re.search(r"<t[^>]*>(.*?)</t>", inner, re.S)) is not None:
            cells[(row, col)] = _unescape(text.group(1))
        elif (value := re.search(r"<v>(.*?)</v>", inner, re.S)) is not None:
            cells.setdefault((row, col), float(value.group(1)))
    return cells


#: The kinds of cell on the Judgments sheet, each formatted alike (a prototype is copied).
CELL_KINDS = ("title", "cr", "verdict", "header", "item", "plain", "upper", "lower", "weight",
              "label")


def cell_kinds(hierarchy: Hierarchy) -> dict[tuple[int, int], str]:
    """(0-based row, col) -> kind of every cell of the sheet laid out for ``hierarchy``."""
    kinds: dict[tuple[int, int], str] = {(0, 0): "item"}
    row = _FIRST_TITLE_ROW - 1
    sizes = [("Groups", len(hierarchy.groups))] + [
        (g, len(hierarchy.by_group[g])) for g in hierarchy.groups]
    for _level, n in sizes:
        top = row + 2
        kinds[(row, 0)] = "title"
        kinds[(row, 1)] = "plain"
        for j in range(n):
            kinds[(top - 1, 1 + j)] = "header"
        for i in range(n):
            kinds[(top + i, 0)] = "item"
            for j in range(n):
                kinds[(top + i, 1 + j)] = "plain" if i == j else "upper" if i < j else "lower"
        if n > 1:
            kinds[(top - 1, n + 2)] = "header"
            for i in range(n):
                kinds[(top + i, n + 2)] = "weight"
            kinds[(top + n + 1, 0)] = "label"
            kinds[(top + n + 1, 1)] = "cr"
            kinds[(top + n + 1, 2)] = "verdict"
        row += n + _BLOCK_GAP
    return kinds


def prototype_cells(grid: Grid) -> dict[str, tuple[int, int]]:
    """Where each kind of cell sits on the old sheet, to copy its formats, drop-down and
    conditional format from (the first block of two or more items laid out as the
    template does); empty when there is none."""
    for block in find_matrix_blocks(grid).values():
        n = len(block.items)
        top, left = block.top, block.left
        cr_row = top + n + 1
        row = list(grid[cr_row]) if cr_row < len(grid) else []
        if n < 2 or not row or str(row[0]).strip() != "CR" or left != 1:
            continue
        return {
            "title": (top - 2, 0), "cr": (cr_row, 1), "verdict": (cr_row, 2),
            "header": (top - 1, left), "item": (top, 0), "plain": (top, left),
            "upper": (top, left + 1), "lower": (top + 1, left), "weight": (top + 1, left + n + 1),
            "label": (cr_row, 0),
        }
    return {}


# --------------------------------------------------------------------------------------------
# The file


@dataclass(frozen=True)
class SyncReport:
    """What :func:`sync_judgments_file` did."""

    plan: SyncPlan
    written: bool
    changed_parts: tuple[str, ...] = ()
    removed_parts: tuple[str, ...] = ()
    backup: Path | None = None
    problems: tuple[Problem, ...] = field(default=())
    raters: dict[str, SyncPlan] = field(default_factory=dict)
    """The further rater sheets ("Judgments <rater>") rebuilt alike, by sheet name."""

    def to_json(self) -> dict[str, Any]:
        return {**self.plan.to_json(), "written": self.written,
                "changed_parts": list(self.changed_parts),
                "removed_parts": list(self.removed_parts),
                "backup": str(self.backup) if self.backup else None,
                "rater_sheets": {name: plan.to_json() for name, plan in self.raters.items()}}


def synced_workbook(
    data: bytes, plan: SyncPlan, label: str, raters: Mapping[str, SyncPlan] | None = None,
) -> tuple[dict[str, bytes], list[str], Any]:
    """The new bytes of the parts that change, the parts removed, and the package.

    ``raters`` holds the plans of the further rater sheets, rebuilt the same way.
    """
    from xlcrm.book.read import rels_part
    from xlcrm.book.template import judgments_sheet_parts
    from xlcrm.book.write import _calc_chain_lists, _remove_elements, open_package

    z, pkg, wb_part = open_package(data, label, "rebuild its Judgments sheet")
    entries = pkg.sheets()
    entry = next((e for e in entries if e.name.casefold() == schema.JUDGMENTS.casefold()), None)
    if entry is None or entry.part is None or entry.kind != "worksheet":
        raise InputError(f"{label} has no Judgments worksheet",
                         fix="Add the Judgments sheet from the template, then sync again.")
    wb_rels = pkg.rels(wb_part)
    styles_rel = next((r for r in wb_rels if r.type.endswith("/styles")), None)
    styles_name = pkg.find(styles_rel.target) if styles_rel else None
    if styles_name is None:
        raise InputError(f"{label} has no styles part", fix="Open it in Excel and save it again.")
    new_sheet, new_styles = judgments_sheet_parts(plan.hierarchy, plan.typed)
    styles = _StyleMerge(z.read(styles_name), new_styles)
    edits = {entry.part: rebuilt_sheet(z.read(entry.part), new_sheet, styles, entry.name)}
    rebuilt = [entry]
    by_name = {e.name: e for e in entries}
    for name, other in (raters or {}).items():
        rater = by_name[name]
        if rater.part is None or rater.kind != "worksheet":
            continue
        # Every rater sheet is laid out as the Judgments sheet, so it uses the same formats.
        sheet_xml, _ = judgments_sheet_parts(other.hierarchy, other.typed)
        edits[rater.part] = rebuilt_sheet(z.read(rater.part), sheet_xml, styles, name)
        rebuilt.append(rater)
    if styles.changed:
        edits[styles_name] = styles.render()
    removed: list[str] = []
    calc_rel = next((r for r in wb_rels if r.type.endswith("/calcChain")), None)
    calc_name = pkg.find(calc_rel.target) if calc_rel else None
    if calc_name and calc_rel and _calc_chain_lists(z.read(calc_name), entries, rebuilt):
        # It lists the old formula cells; Excel rebuilds it on load.
        removed.append(calc_name)
        rels_name = pkg.find(rels_part(wb_part)) or rels_part(wb_part)
        ct_name = pkg.find("[Content_Types].xml") or "[Content_Types].xml"
        edits[rels_name] = _remove_elements(z.read(rels_name), rb"Relationship", rb"Id",
                                            calc_rel.id)
        edits[ct_name] = _remove_elements(z.read(ct_name), rb"Override", rb"PartName",
                                          "/" + calc_name)
    return edits, removed, z


def _write_parts(data: bytes, z: Any, edits: Mapping[str, bytes], removed: Sequence[str],
                 dst: Path) -> None:
    from xlcrm.book.zip_members import edited_members, write_zip_replacing

    new = edited_members(data, z, {name: [xml] for name, xml in edits.items()
                                   if name not in removed})
    with open(dst, "wb") as out:
        write_zip_replacing(out, data, z, new, removed=removed)


def sync_judgments_file(
    path: Path,
    *,
    renames: Mapping[str, str] | None = None,
    default: Any = None,
    backups: int = 3,
    dry_run: bool = False,
) -> SyncReport:
    """Rebuild the Judgments sheet of the workbook at ``path`` from its Indicators sheet.

    Parameters
    ----------
    path : Path
        The ``.xlsm``/``.xlsx`` workbook; replaced safely (backup, verify, atomic).
    renames : mapping, optional
        Old name (case-folded) -> new name (:func:`parse_renames`).
    default : str or number, optional
        Judgment for new pairs; blank when omitted.
    backups : int
        Backups of the workbook to keep in ``.xlcrm-backups``.
    dry_run : bool
        Report what would change; write nothing.

    Raises
    ------
    InputError
        When the workbook cannot be read, its Indicators sheet has unusable rows, or it
        has no Judgments worksheet. Nothing is written then.
    """
    from xlcrm.book.read import open_workbook
    from xlcrm.book.save import safe_replace

    path = Path(path)
    book = open_workbook(path)
    hierarchy = hierarchy_from_grid(_grid(book, schema.INDICATORS))
    plan = plan_sync(hierarchy, _grid(book, schema.JUDGMENTS), renames=renames,
                     default=default)
    raters = {name: plan_sync(hierarchy, book.read_grid(name), renames=renames, default=default)
              for name in schema.rater_sheets(book.sheet_names) if name != schema.JUDGMENTS}
    problems = tuple(blank_pair_problems(plan)) + tuple(
        p for name, other in raters.items() for p in blank_pair_problems(other, name))
    if dry_run:
        return SyncReport(plan, False, problems=problems, raters=raters)
    edits, removed, z = synced_workbook(book.data, plan, path.name, raters)
    saved = safe_replace(path, lambda target: _write_parts(book.data, z, edits, removed, target),
                         backups=backups, expected_stamp=book.stamp)
    return SyncReport(plan, True, tuple(edits), tuple(removed),
                      getattr(saved, "backup", None), problems, raters)


def _grid(book: Any, sheet: str) -> list[list[Any]] | None:
    """The sheet's cells, ``None`` when the workbook has no such sheet."""
    try:
        name = book.sheet_name(sheet)
    except InputError:
        return None
    return book.read_grid(name)
