"""What a shareable copy keeps: an allow-list of parts, relationships and elements.

The copy (:mod:`xlcrm.book.share`) is built from what a values-only workbook needs, not by
deleting the dangers we happen to know: whatever a future Excel adds, or a hostile file
plants, stays behind unless it is listed here.

Parts. From the package, only the workbook is followed; from there only relationships of
the kinds in :data:`FOLLOW` (sheets, styles, theme, shared strings, tables, drawings,
charts, pictures, notes and web links). So external links and their cached values, DDE
links, data connections, customXml, pivot caches and pivot tables, the calculation chain,
macros, the ribbon, printer settings, controls, embedded objects, slicers, threaded
comments and their persons, custom document properties and the thumbnail are never
copied. The document properties are written afresh (only the copy's dates), the content
types and every relationships part are generated for the parts kept.

Elements. The workbook part keeps its version, date system, views, sheets, the defined
names that are plain references to kept sheets (a name holding a constant or a formula
goes: a values-only copy computes nothing) and the calculation settings. A worksheet keeps
the elements in :data:`SHEET_KEEP`; data validation (input rules), scenarios, custom views,
protected ranges, web publishing and extensions other than the conditional formats and
sparklines of Excel 2010 go. Drawings keep charts, pictures and shapes, charts lose their
embedded data workbook, and nothing keeps a ``macro`` attribute.

With ``mask`` (``--mask-contacts``) also: notes, text boxes and other shapes, print
headers and footers, autoFilter criteria, ``mailto:`` links, chart caches (the charts
redraw from the masked cells) and picture descriptions.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from xlcrm.book.read import Package, Relationship
from xlcrm.book.write import escape_attr
from xlcrm.errors import InputError

NS_PKG_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
NS_OFFICE_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
REL_CORE = NS_PKG_RELS + "/metadata/core-properties"
REL_APP = NS_OFFICE_RELS + "/extended-properties"
CT_CORE = "application/vnd.openxmlformats-package.core-properties+xml"
CT_APP = "application/vnd.openxmlformats-officedocument.extended-properties+xml"
CT_RELS = "application/vnd.openxmlformats-package.relationships+xml"

#: Relationship kinds (the last segment of the type) a copy follows, by the kind of the
#: part they start from. A part's kind is the kind of the relationship that reached it.
FOLLOW: Mapping[str, frozenset[str]] = {
    "package": frozenset({"officeDocument"}),
    "officeDocument": frozenset({"worksheet", "chartsheet", "theme", "styles",
                                 "sharedStrings"}),
    "worksheet": frozenset({"table", "drawing", "vmlDrawing", "comments", "hyperlink"}),
    "chartsheet": frozenset({"drawing"}),
    "drawing": frozenset({"chart", "image", "hyperlink"}),
    "chart": frozenset({"chartStyle", "chartColorStyle", "themeOverride", "image",
                        "chartUserShapes"}),
    "chartUserShapes": frozenset({"image"}),
    "vmlDrawing": frozenset({"image"}),
    "theme": frozenset({"image"}),
}
#: Not followed with ``mask``: notes (and the VML that draws them), text boxes on charts.
MASK_NOT_FOLLOWED = frozenset({"comments", "vmlDrawing", "chartUserShapes"})
#: Relationships a part uses without naming their id in its XML.
IMPLIED = frozenset({"comments", "chartStyle", "chartColorStyle", "themeOverride"})
#: Web links a copy keeps (``mailto:`` only without ``mask``).
LINK_SCHEMES = ("http://", "https://")

#: What the cover says for each relationship kind not followed.
DROPPED_KINDS: Mapping[str, str] = {
    "vbaProject": "macros (VBA project)",
    "vbaProjectSignature": "macros (VBA project)",
    "extensibility": "the custom ribbon",
    "ui": "the custom ribbon",
    "calcChain": "the calculation chain",
    "attachedToolbars": "macro toolbars",
    "externalLink": "links to other workbooks and their cached values",
    "pivotCacheDefinition": "pivot caches (the data behind pivot tables)",
    "pivotTable": "pivot tables (their cells stay, as values)",
    "customXml": "custom XML data",
    "custom-properties": "custom document properties",
    "core-properties": "the document properties (author, title, description, keywords...)",
    "extended-properties": "the application properties (company, manager...)",
    "thumbnail": "the thumbnail picture",
    "connections": "data connections",
    "queryTable": "query table definitions",
    "person": "threaded comments' authors",
    "persons": "threaded comments' authors",
    "threadedComment": "threaded comments (their text stays in the notes Excel keeps)",
    "printerSettings": "printer settings",
    "control": "form and ActiveX controls",
    "ctrlProp": "form and ActiveX controls",
    "activeXControlBinary": "form and ActiveX controls",
    "oleObject": "embedded objects",
    "package": "embedded objects",
    "slicer": "slicers and timelines",
    "slicerCache": "slicers and timelines",
    "timeline": "slicers and timelines",
    "timelineCache": "slicers and timelines",
    "volatileDependencies": "real-time data links",
    "metadata": "cell metadata (dynamic arrays, data types)",
    "comments": "notes (cell comments)",
    "vmlDrawing": "notes (cell comments)",
    "chartUserShapes": "text boxes on charts",
    "hyperlink": "links to files or mail addresses",
}

#: Worksheet children a copy keeps (local names), everything else goes.
SHEET_KEEP = frozenset({
    "sheetPr", "dimension", "sheetViews", "sheetFormatPr", "cols", "sheetData",
    "sheetCalcPr", "sheetProtection", "autoFilter", "sortState", "mergeCells",
    "phoneticPr", "conditionalFormatting", "hyperlinks", "printOptions", "pageMargins",
    "pageSetup", "headerFooter", "rowBreaks", "colBreaks", "ignoredErrors", "drawing",
    "legacyDrawing", "tableParts", "extLst",
})
#: Chart sheet children a copy keeps.
CHARTSHEET_KEEP = frozenset({"sheetPr", "sheetViews", "sheetProtection", "pageMargins",
                             "pageSetup", "headerFooter", "drawing"})
#: Extensions of a worksheet kept: Excel 2010 conditional formats (data bars, icon sets)
#: and sparklines. Slicers, x14 data validation, web extensions... go.
SHEET_EXT_KEEP = frozenset({"{78C0D931-6437-407d-A8EE-F0AAD7539E65}",
                            "{05C60535-1F16-4fd2-B633-F4F36F0B64E0}"})
#: Workbook children a copy keeps.
WORKBOOK_KEEP = ("fileVersion", "workbookPr", "bookViews", "sheets", "definedNames", "calcPr")
#: Attributes of ``workbookPr`` kept (the date system matters for every date).
WORKBOOK_PR_KEEP = frozenset({"date1904", "defaultThemeVersion", "dateCompatibility"})

_ATTRS = rb"(?:[^>\"']|\"[^\"]*\"|'[^']*')*?"
_TAG = re.compile(
    rb"<(?:!--.*?-->|\?.*?\?>|!\[CDATA\[.*?\]\]>|(/?)([\w.:-]+)(" + _ATTRS + rb")(/?)>)", re.S)
RID_REF = re.compile(rb"""\b[\w.-]+:(?:id|embed|link|pict|dm|lo|qs|cs)=["']([^"']*)["']""")
_PROLOG_SKIP = re.compile(rb"\s+|<\?.*?\?>|<!--.*?-->", re.S)


# --------------------------------------------------------------------------------------------
# Which parts: the walk from the workbook


@dataclass
class Plan:
    """The parts a copy keeps and the relationships between them.

    Attributes
    ----------
    kinds : dict
        Kept zip name -> its kind (the relationship kind that reached it).
    rels : dict
        Kept part (``""``: the package) -> its kept relationships.
    dropped : list
        ``(source part, relationship)`` of every relationship not followed.
    """

    kinds: dict[str, str] = field(default_factory=dict)
    rels: dict[str, list[Relationship]] = field(default_factory=dict)
    dropped: list[tuple[str, Relationship]] = field(default_factory=list)

    def of_kind(self, kind: str) -> list[str]:
        return [p for p, k in self.kinds.items() if k == kind]


def rel_kind(rel: Relationship) -> str:
    """The last segment of a relationship type (``worksheet``, ``externalLink``...)."""
    return rel.type.rstrip("/").rsplit("/", 1)[-1]


def _link_allowed(target: str, mask: bool) -> bool:
    low = target.strip().lower()
    return low.startswith(LINK_SCHEMES) or (not mask and low.startswith("mailto:"))


def plan_parts(pkg: Package, sheet_rids: set[str], mask: bool,
               keep_mailto: bool | None = None) -> Plan:
    """Walk the package from its root along :data:`FOLLOW` only.

    ``sheet_rids`` are the workbook relationship ids of the sheets the copy keeps;
    ``mailto:`` links are kept when ``keep_mailto`` (default: without ``mask``).
    """
    mailto = not mask if keep_mailto is None else keep_mailto
    plan = Plan()
    wb_part = pkg.workbook_part()
    todo = [("", "package")]
    while todo:
        part, kind = todo.pop()
        kept = []
        for rel in pkg.rels(part):
            k = rel_kind(rel)
            ok = k in FOLLOW.get(kind, ()) and not (mask and k in MASK_NOT_FOLLOWED)
            if part == wb_part and k in ("worksheet", "chartsheet"):
                ok = ok and rel.id in sheet_rids
            name = None
            if ok and rel.external:
                ok = k == "hyperlink" and _link_allowed(rel.target, not mailto)
            elif ok:
                name = pkg.find(rel.target)
                ok = name is not None and k != "hyperlink"
            if not ok:
                plan.dropped.append((part, rel))
                continue
            kept.append(rel)
            if name is not None and name not in plan.kinds:
                plan.kinds[name] = k
                todo.append((name, k))
        plan.rels[part] = kept
    return plan


def prune(plan: Plan, xml_of: Mapping[str, bytes]) -> None:
    """Drop relationships a kept part's final XML no longer names (and parts left unreached).

    Applies to the parts in ``xml_of`` (worksheets, drawings, charts after their elements
    were filtered): e.g. the VML of a header picture, once ``legacyDrawingHF`` is gone.
    """
    for part, xml in xml_of.items():
        named = {m.decode() for m in RID_REF.findall(xml)}
        keep = []
        for rel in plan.rels.get(part, []):
            if rel.id in named or rel_kind(rel) in IMPLIED:
                keep.append(rel)
            else:
                plan.dropped.append((part, rel))
        plan.rels[part] = keep
    reached: set[str] = set()
    todo = [""]
    while todo:
        part = todo.pop()
        for rel in plan.rels.get(part, []):
            if rel.external:
                continue
            name = next((n for n in plan.kinds if n.lower() == rel.target.lower()), None)
            if name is not None and name not in reached:
                reached.add(name)
                todo.append(name)
    for name in list(plan.kinds):
        if name not in reached:
            del plan.kinds[name]
            plan.rels.pop(name, None)


def dropped_summary(plan: Plan, pkg: Package, mask: bool) -> list[str]:
    """What the cover says was taken out, one entry per kind, in a stable order."""
    out: list[str] = []
    for _, rel in plan.dropped:
        k = rel_kind(rel)
        what = DROPPED_KINDS.get(k, f"other parts ({k})")
        if k == "threadedComment" and mask:
            what = "threaded comments"  # the notes beside them go too
        if k == "externalLink":
            name = pkg.find(rel.target)
            if name is not None and b"ddeLink" in pkg.zip.read(name):
                what = "DDE links (commands run by another program) and their cached values"
        if k in ("worksheet", "chartsheet", "officeDocument"):
            continue  # sheets are reported by name
        if what not in out:
            out.append(what)
    return out


# --------------------------------------------------------------------------------------------
# Package bookkeeping written afresh


def relationships_xml(part: str, rels: Sequence[Relationship]) -> bytes:
    """A relationships part for ``part`` holding exactly ``rels`` (targets made relative)."""
    base = posixpath.dirname(part)
    items = []
    for rel in rels:
        if rel.external:
            target, mode = rel.target, ' TargetMode="External"'
        else:
            target, mode = posixpath.relpath(rel.target, base or "."), ""
        items.append(f'<Relationship Id="{escape_attr(rel.id)}" Type="{escape_attr(rel.type)}" '
                     f'Target="{escape_attr(target)}"{mode}/>')
    return (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<Relationships xmlns="{NS_PKG_RELS}">{"".join(items)}</Relationships>').encode()


def content_types(ct_xml: bytes, parts: Iterable[str], new: Mapping[str, str]) -> bytes:
    """``[Content_Types].xml`` listing exactly the copy's parts.

    ``parts`` keep the content type the source gave them; ``new`` maps the parts written
    afresh (and the workbook, whose type changes) to theirs.

    Raises
    ------
    InputError
        When the source gives a kept part no content type (Excel would refuse the copy).
    """
    text = ct_xml.decode("utf-8")
    defaults = {m.group(1).lower(): m.group(2) for m in re.finditer(
        r'<(?:\w+:)?Default\b[^>]*?\bExtension="([^"]*)"[^>]*?\bContentType="([^"]*)"', text)}
    overrides = {m.group(1).lstrip("/").lower(): m.group(2) for m in re.finditer(
        r'<(?:\w+:)?Override\b[^>]*?\bPartName="([^"]*)"[^>]*?\bContentType="([^"]*)"', text)}
    items = [f'<Default Extension="rels" ContentType="{CT_RELS}"/>',
             '<Default Extension="xml" ContentType="application/xml"/>']
    for part in sorted(set(parts) | set(new)):
        ct = new.get(part) or overrides.get(part.lower()) or defaults.get(
            part.rsplit(".", 1)[-1].lower())
        if ct is None:
            raise InputError(
                f"part {part} of the workbook has no content type, so the copy would not open",
                fix="Open the workbook in Excel, save it, and make the copy again.",
            )
        items.append(f'<Override PartName="/{escape_attr(part)}" ContentType="{ct}"/>')
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Types xmlns="'
            'http://schemas.openxmlformats.org/package/2006/content-types">'
            + "".join(items) + "</Types>").encode()


def core_xml(made: str) -> bytes:
    """Document properties holding only the copy's dates (``made``: ISO, UTC)."""
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/'
        'core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms='
        '"http://purl.org/dc/terms/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f'<dcterms:created xsi:type="dcterms:W3CDTF">{made}</dcterms:created>'
        f'<dcterms:modified xsi:type="dcterms:W3CDTF">{made}</dcterms:modified>'
        "</cp:coreProperties>"
    ).encode()


def app_xml() -> bytes:
    """Application properties naming only the program that wrote the copy."""
    return (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        b'<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/'
        b'extended-properties"><Application>xlcrm</Application></Properties>'
    )


def refuse_dtd(name: str, xml: bytes, label: str) -> None:
    """Raise when the XML part declares a DOCTYPE (which may hide entities in the copy).

    Excel never writes one; a DTD can only be before the root element, so only the prolog
    is looked at.
    """
    pos = 0
    while True:
        m = _PROLOG_SKIP.match(xml, pos)
        if m is None or m.end() == pos:
            break
        pos = m.end()
    if xml.startswith(b"<!DOCTYPE", pos) or xml.startswith(b"\xef\xbb\xbf<!DOCTYPE", pos):
        raise InputError(
            f"part {name} of {label} declares a DOCTYPE (entity declarations), which Excel "
            "never writes and which could carry content into the copy; no copy was made",
            fix="Open the workbook in Excel, save it, and make the copy again.",
        )


# --------------------------------------------------------------------------------------------
# Elements


def top_children(xml: bytes, start: int) -> tuple[list[tuple[str, int, int]], int]:
    """The elements directly inside the element whose content starts at ``start``.

    Returns ``([(local name, start, end)], where the parent's end tag starts)``.
    """
    out: list[tuple[str, int, int]] = []
    depth = 0
    begin = 0
    local = ""
    for m in _TAG.finditer(xml, start):
        name = m.group(2)
        if name is None:
            continue  # comment, processing instruction, CDATA
        if m.group(1):  # end tag
            if depth == 0:
                return out, m.start()
            depth -= 1
            if depth == 0:
                out.append((local, begin, m.end()))
        elif m.group(4):  # empty element
            if depth == 0:
                out.append((name.decode().rsplit(":", 1)[-1], m.start(), m.end()))
        else:
            if depth == 0:
                begin, local = m.start(), name.decode().rsplit(":", 1)[-1]
            depth += 1
    return out, len(xml)


def keep_children(
    xml: bytes, start: int, decide: Mapping[str, object], default: object = None
) -> tuple[bytes, list[str], int]:
    """The children of the element whose content starts at ``start``, filtered.

    ``decide`` maps a local name to ``True`` (keep), or a function ``bytes -> bytes``
    (keep, rewritten; ``b""`` drops it); names not in it get ``default`` (``None``: drop).
    Returns the new content, the local names of the children dropped and where the
    parent's end tag starts in ``xml`` (the new content replaces ``xml[start:end]``).
    """
    children, end = top_children(xml, start)
    out = []
    dropped = []
    for local, s, e in children:
        how = decide.get(local, default)
        el = xml[s:e]
        if callable(how):
            el = how(el)
        elif how is not True:
            el = b""
        if not el:
            dropped.append(local)
        out.append(el)
    return b"".join(out), dropped, end


def root_content_start(xml: bytes, local: bytes) -> int:
    """Where the content of the root element ``local`` starts (after its start tag)."""
    m = re.search(rb"<(?:[\w.-]+:)?" + local + rb"\b" + _ATTRS + rb">", xml, re.S)
    if m is None:
        raise ValueError(f"no <{local.decode()}> element")
    return m.end()


def remove_attrs(xml: bytes, names: Iterable[bytes]) -> bytes:
    for name in names:
        xml = re.sub(rb"""\s(?:[\w.-]+:)?""" + name + rb"""=(?:"[^"]*"|'[^']*')""", b"", xml)
    return xml


def remove_elements(xml: bytes, local: bytes) -> bytes:
    """``xml`` without every ``local`` element (any prefix; not nested in itself)."""
    return re.sub(rb"<((?:[\w.-]+:)?)" + local + rb"\b" + _ATTRS + rb"(?:/>|>.*?</\1" + local
                  + rb">)", b"", xml, flags=re.S)


def _filter_ext(el: bytes) -> bytes:
    start = root_content_start(el, b"extLst")
    children, end = top_children(el, start)
    kept = [el[s:e] for local, s, e in children if local == "ext" and any(
        u.encode() in el[s:e][:300] for u in SHEET_EXT_KEEP)]
    return el[:start] + b"".join(kept) + el[end:] if kept else b""


@dataclass
class SheetRules:
    """How to filter one worksheet's elements (see :func:`filter_sheet`)."""

    mask: bool
    kept_ids: set[str]  # the sheet's relationship ids the copy keeps
    notes: bool  # the sheet keeps its notes (and their legacyDrawing)
    hyperlinks: object = True  # True, or a function rewriting <hyperlinks>


def filter_sheet(head: bytes, tail: bytes, rules: SheetRules, chart: bool = False
                 ) -> tuple[bytes, bytes, list[str]]:
    """A worksheet's (or chart sheet's) elements outside ``<sheetData>``, allow-listed.

    ``head`` runs from the start of the part to ``<sheetData``, ``tail`` from after
    ``</sheetData>`` to the end (a chart sheet: all in ``head``, ``tail`` empty).
    Returns the new head and tail and the local names of the elements dropped.
    """
    def by_rid(el: bytes) -> bytes:
        m = RID_REF.search(el)
        return el if m is None or m.group(1).decode() in rules.kept_ids else b""

    def views(el: bytes) -> bytes:
        return re.sub(rb"""\stabSelected=(?:"[^"]*"|'[^']*')""", b"", el)

    def auto_filter(el: bytes) -> bytes:
        return remove_elements(el, b"filterColumn") if rules.mask else el

    decide: dict[str, object] = {n: True for n in (CHARTSHEET_KEEP if chart else SHEET_KEEP)}
    decide.update(
        sheetViews=views, autoFilter=auto_filter, extLst=_filter_ext, drawing=by_rid,
        pageSetup=lambda el: remove_attrs(el, [b"id"]), hyperlinks=rules.hyperlinks,
        legacyDrawing=lambda el: by_rid(el) if rules.notes else b"",
    )
    if rules.mask:
        decide["headerFooter"] = False
    root = b"chartsheet" if chart else b"worksheet"
    start = root_content_start(head, root)
    content, dropped, end = keep_children(head, start, decide)
    new_head = head[:start] + content + head[end:]
    if chart:
        return new_head, tail, dropped
    content, more, end = keep_children(tail, 0, decide)
    return new_head, content + tail[end:], dropped + more


def clean_drawing(xml: bytes, kept_ids: set[str], mask: bool) -> tuple[bytes, int]:
    """A drawing with only charts, pictures and (without ``mask``) shapes; no macros.

    Returns the part and the number of objects removed.
    """
    m = re.search(rb"<(?:[\w.-]+:)?(wsDr|userShapes)\b" + _ATTRS + rb">", xml, re.S)
    if m is None:
        return xml, 0
    kinds = re.compile(rb"<(?:[\w.-]+:)?(sp|grpSp|graphicFrame|cxnSp|pic|contentPart)\b")
    removed = 0

    def anchor(el: bytes) -> bytes:
        nonlocal removed
        obj = kinds.search(el)
        kind = obj.group(1) if obj else b""
        keep = (kind == b"pic" or (kind == b"graphicFrame"
                                   and b"drawingml/2006/chart\"" in el)
                or (kind in (b"sp", b"grpSp", b"cxnSp") and not mask))
        if b"AlternateContent" in el[:200]:
            keep = False
        if not keep:
            removed += 1
            return b""
        return el

    children, end = top_children(xml, m.end())
    body = b"".join(anchor(xml[s:e]) for _, s, e in children)
    out = xml[: m.end()] + body + xml[end:]
    # A shape that runs a macro when clicked keeps its look but runs nothing.
    out = re.sub(rb"""(\smacro=)(?:"[^"]+"|'[^']+')""", rb'\1""', out)
    if mask:
        out = remove_attrs(out, [b"descr", b"title"])

    def link(h: re.Match[bytes]) -> bytes:
        rid = RID_REF.search(h.group())
        return h.group() if rid is None or rid.group(1).decode() in kept_ids else b""

    out = re.sub(rb"<((?:[\w.-]+:)?)(hlinkClick|hlinkHover)\b" + _ATTRS
                 + rb"(?:/>|>.*?</\1\2>)", link, out, flags=re.S)
    return out, removed


_CHART_REF = re.compile(
    rb"<((?:[\w.-]+:)?)(str|num)Ref>\s*<(?:[\w.-]+:)?f>([^<]*)</(?:[\w.-]+:)?f>\s*"
    rb"(?:<(?:[\w.-]+:)?(?:str|num)Cache>(.*?)</(?:[\w.-]+:)?(?:str|num)Cache>)?"
    rb"\s*(?:<(?:[\w.-]+:)?extLst>.*?</(?:[\w.-]+:)?extLst>)?\s*</\1\2Ref>", re.S)


def clean_chart(xml: bytes, mask: bool, mask_text: bytes) -> bytes:
    """A chart without its embedded data workbook; a series read from another workbook
    becomes the values it showed. With ``mask``: no cached values (the chart redraws
    from the copy's masked cells), no text boxes, literal texts masked."""
    xml = remove_elements(xml, b"externalData")

    def external(m: re.Match[bytes]) -> bytes:
        if b"[" not in m.group(3):
            return m.group()
        p, kind = m.group(1), m.group(2)
        body = m.group(4) or b'<' + p + b'ptCount val="0"/>'
        return b"<" + p + kind + b"Lit>" + body + b"</" + p + kind + b"Lit>"

    xml = _CHART_REF.sub(external, xml)
    if mask:
        xml = remove_elements(xml, b"userShapes")
        for cache in (b"strCache", b"numCache", b"multiLvlStrCache"):
            xml = remove_elements(xml, cache)

        def literal(m: re.Match[bytes]) -> bytes:
            return re.sub(rb"(<(?:[\w.-]+:)?v>)[^<]*(</(?:[\w.-]+:)?v>)",
                          rb"\1" + mask_text + rb"\2", m.group())

        xml = re.sub(rb"<((?:[\w.-]+:)?)strLit>.*?</\1strLit>", literal, xml, flags=re.S)
    return xml


def clean_table(xml: bytes, mask: bool) -> bytes:
    """A table part without formulas, query or XML-map bindings (and, with ``mask``,
    without its autoFilter criteria)."""
    for el in (b"calculatedColumnFormula", b"totalsRowFormula", b"xmlColumnPr"):
        xml = remove_elements(xml, el)
    xml = re.sub(rb"""\s(?:tableType|connectionId)=(?:"[^"]*"|'[^']*')""", b"", xml)
    return remove_elements(xml, b"filterColumn") if mask else xml


def clean_comments(xml: bytes) -> bytes:
    """Notes with their authors' names blanked (who wrote a note is personal metadata)."""
    return re.sub(rb"(<(?:[\w.-]+:)?author>)[^<]*(</(?:[\w.-]+:)?author>)", rb"\1\2", xml)


def clean_vml(xml: bytes) -> bytes:
    """The notes' VML drawing without any shape that is not a note (buttons, controls)."""
    def shape(m: re.Match[bytes]) -> bytes:
        return m.group() if re.search(rb'ObjectType="Note"', m.group()) else b""

    return re.sub(rb"<v:shape\b[^>]*>.*?</v:shape>", shape, xml, flags=re.S)
