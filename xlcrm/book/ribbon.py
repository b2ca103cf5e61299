"""Package a workbook as a macro workbook with a custom ribbon, deterministically.

openpyxl writes ``.xlsx`` packages; this module turns one into an ``.xlsm`` by adding
the VBA project (:func:`make_xlsm`) and the ``customUI14`` ribbon part
(:func:`inject_ribbon`), editing only the bookkeeping parts that must change
(``[Content_Types].xml`` and two relationship parts) by inserting text, so every
other part keeps its bytes. :func:`write_zip` writes parts with a fixed timestamp
and a stable order, so the same parts always give the same file.

Inject the ribbon last: openpyxl drops the ``customUI`` relationship when it saves.
"""

from __future__ import annotations

import io
import posixpath
import re
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from xlcrm.book.vba import document_module_names

CONTENT_TYPES = "[Content_Types].xml"
ROOT_RELS = "_rels/.rels"
CUSTOMUI_PART = "customUI/customUI14.xml"

#: Zip entry time of every part: the earliest a zip file can hold, so builds are stable.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)

CT_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
DOC_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
CUSTOMUI14_NS = "http://schemas.microsoft.com/office/2009/07/customui"

REL_OFFICE_DOCUMENT = (
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"
)
REL_VBA_PROJECT = "http://schemas.microsoft.com/office/2006/relationships/vbaProject"
#: Relationship type of a ``customUI14`` part (Office 2010 and later); the 2006 type
#: is for the older ``customUI`` part.
REL_CUSTOMUI14 = "http://schemas.microsoft.com/office/2007/relationships/ui/extensibility"

CT_VBA_PROJECT = "application/vnd.ms-office.vbaProject"
CT_XML = "application/xml"
# Workbook content types: plain -> macro-enabled.
_MACRO_ENABLED = {
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml":
        "application/vnd.ms-excel.sheet.macroEnabled.main+xml",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.template.main+xml":
        "application/vnd.ms-excel.template.macroEnabled.main+xml",
}


# --------------------------------------------------------------------------------------
# Zip packages


def read_zip(source: bytes | str | Path) -> dict[str, bytes]:
    """Parts of a zip package, name -> bytes, in the order the archive lists them."""
    data = source if isinstance(source, bytes | bytearray) else Path(source).read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        parts: dict[str, bytes] = {}
        for info in z.infolist():
            if info.filename in parts:
                raise ValueError(f"package lists part {info.filename!r} twice")
            parts[info.filename] = z.read(info)
    return parts


def write_zip(parts: Mapping[str, bytes]) -> bytes:
    """Zip ``parts`` deterministically: ``[Content_Types].xml`` first, then the given order.

    Every entry gets the same timestamp (:data:`ZIP_EPOCH`), no file attributes and the
    same "made by" system, so equal parts give equal bytes on any machine with the same
    zlib.
    """
    names = [CONTENT_TYPES] if CONTENT_TYPES in parts else []
    names += [name for name in parts if name != CONTENT_TYPES]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name in names:
            if name.startswith("/") or "\\" in name:
                raise ValueError(f"zip part name {name!r} must be relative, with '/'")
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 0  # MS-DOS, as Excel writes; the default depends on the OS
            info.external_attr = 0
            z.writestr(info, parts[name], compresslevel=6)
    return buffer.getvalue()


# --------------------------------------------------------------------------------------
# Bookkeeping parts, edited by inserting text so that the rest keeps its bytes


def _escape(value: str) -> str:
    return (value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def _append_child(xml: bytes, root: str, element: str) -> bytes:
    """Insert ``element`` as the last child of the root element named ``root``.

    ``element`` is unprefixed, so the root must use the default namespace, as Office
    and openpyxl write these parts; a prefixed root is refused rather than mis-edited.
    """
    text = xml.decode("utf-8")
    if re.search(rf"<\w+:{root}\b", text):
        raise ValueError(f"cannot edit a part whose <{root}> root has a namespace prefix")
    close = re.search(rf"</{root}\s*>\s*\Z", text)
    if close:
        return (text[: close.start()] + element + text[close.start():]).encode("utf-8")
    empty = re.search(rf"<({root})\b([^>]*?)/>\s*\Z", text)
    if empty:
        tag, attrs = empty.group(1), empty.group(2)
        return (text[: empty.start()] + f"<{tag}{attrs}>{element}</{tag}>").encode("utf-8")
    raise ValueError(f"part has no <{root}> root element to add to")


@dataclass(frozen=True)
class _Rel:
    id: str
    type: str
    target: str


def _relationships(xml: bytes) -> list[_Rel]:
    root = ET.fromstring(xml)
    return [
        _Rel(r.get("Id", ""), r.get("Type", ""), r.get("Target", ""))
        for r in root.iter(f"{{{REL_NS}}}Relationship")
    ]


def _rels_part(part: str) -> str:
    folder, name = posixpath.split(part)
    return posixpath.join(folder, "_rels", f"{name}.rels")


def _resolve(source_part: str, target: str) -> str:
    """Part name a relationship of ``source_part`` (``""``: the package) points to."""
    if target.startswith("/"):
        return target.lstrip("/")
    return posixpath.normpath(posixpath.join(posixpath.dirname(source_part), target))


def _new_rel_id(rels: list[_Rel]) -> str:
    numbers = [int(m.group(1)) for r in rels if (m := re.fullmatch(r"rId(\d+)", r.id))]
    taken = {r.id for r in rels}
    n = max(numbers, default=0) + 1
    while f"rId{n}" in taken:
        n += 1
    return f"rId{n}"


def _ensure_relationship(
    parts: dict[str, bytes], source_part: str, rel_type: str, default_target: str
) -> str:
    """Part that ``source_part``'s relationship of ``rel_type`` points to, adding one if none.

    ``source_part`` is ``""`` for the package itself (``_rels/.rels``).
    """
    rels_name = _rels_part(source_part) if source_part else ROOT_RELS
    xml = parts.get(rels_name, f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                               f'<Relationships xmlns="{REL_NS}"/>'.encode())
    rels = _relationships(xml)
    for rel in rels:
        if rel.type == rel_type:
            return _resolve(source_part, rel.target)
    element = (f'<Relationship Id="{_new_rel_id(rels)}" Type="{_escape(rel_type)}" '
               f'Target="{_escape(default_target)}"/>')
    parts[rels_name] = _append_child(xml, "Relationships", element)
    return _resolve(source_part, default_target)


def _content_type(parts: Mapping[str, bytes], part: str) -> str | None:
    root = ET.fromstring(parts[CONTENT_TYPES])
    for o in root.iter(f"{{{CT_NS}}}Override"):
        if o.get("PartName", "").lstrip("/").lower() == part.lower():
            return o.get("ContentType")
    ext = part.rsplit(".", 1)[-1].lower() if "." in part else ""
    for d in root.iter(f"{{{CT_NS}}}Default"):
        if d.get("Extension", "").lower() == ext:
            return d.get("ContentType")
    return None


def _ensure_content_type(parts: dict[str, bytes], part: str, content_type: str) -> None:
    """Give ``part`` ``content_type``: keep a matching entry, else add or edit an Override."""
    current = _content_type(parts, part)
    if current == content_type:
        return
    xml = parts[CONTENT_TYPES]
    text = xml.decode("utf-8")
    pattern = re.compile(
        rf'<(?:\w+:)?Override\b[^>]*?PartName="/{re.escape(part)}"[^>]*?/?>', re.IGNORECASE
    )
    found = pattern.search(text)
    if found:
        element = re.sub(r'ContentType="[^"]*"', f'ContentType="{_escape(content_type)}"',
                         found.group(0))
        parts[CONTENT_TYPES] = (text[: found.start()] + element + text[found.end():]).encode()
        return
    element = f'<Override PartName="/{_escape(part)}" ContentType="{_escape(content_type)}"/>'
    parts[CONTENT_TYPES] = _append_child(xml, "Types", element)


def _workbook_part(parts: Mapping[str, bytes]) -> str:
    for rel in _relationships(parts[ROOT_RELS]):
        if rel.type == REL_OFFICE_DOCUMENT:
            return rel.target.lstrip("/")
    raise ValueError("package has no officeDocument relationship in _rels/.rels")


# --------------------------------------------------------------------------------------
# Code names


def _sheet_code_name(xml: bytes) -> str | None:
    """``codeName`` of a sheet part's ``sheetPr``, which is the root's first child if any.

    Reads only up to the root's first child, so a sheet with a million rows costs nothing.
    """
    depth = 0
    for event, elem in ET.iterparse(io.BytesIO(xml), events=("start", "end")):
        if event == "end":
            depth -= 1
            continue
        depth += 1
        if depth == 2:
            return elem.get("codeName") if elem.tag == f"{{{MAIN_NS}}}sheetPr" else None
    return None


def workbook_code_names(package: bytes | str | Path | Mapping[str, bytes]) -> tuple[
    str | None, list[tuple[str, str | None]]
]:
    """VBA code names of a workbook package: the workbook's, and each sheet's in order.

    Returns
    -------
    tuple
        ``(workbook code name or None, [(sheet name, code name or None), ...])``; the
        names the VBA project's document modules must carry.
    """
    parts = package if isinstance(package, Mapping) else read_zip(package)
    workbook = _workbook_part(parts)
    wb_xml = parts[workbook]
    wb_root = ET.fromstring(wb_xml)
    pr = wb_root.find(f"{{{MAIN_NS}}}workbookPr")
    wb_code = pr.get("codeName") if pr is not None else None
    rels = {r.id: r for r in _relationships(parts.get(_rels_part(workbook), b"<r/>"))}
    sheets: list[tuple[str, str | None]] = []
    for sheet in wb_root.iter(f"{{{MAIN_NS}}}sheet"):
        rel = rels.get(sheet.get(f"{{{DOC_REL_NS}}}id", ""))
        code = None
        if rel is not None:
            target = _resolve(workbook, rel.target)
            if target in parts:
                code = _sheet_code_name(parts[target])
        sheets.append((sheet.get("name", ""), code))
    return wb_code, sheets


def check_code_names(package: Mapping[str, bytes], vba_bin: bytes) -> None:
    """Raise ``ValueError`` unless the workbook's code names and the document modules match.

    Excel pairs the workbook and each sheet with the document module of the same code
    name; a sheet without one gets a new, differently named module, and a module
    without a sheet is left over in the VBA editor.
    """
    wb_code, sheets = workbook_code_names(package)
    problems = []
    if not wb_code:
        problems.append("the workbook has no codeName (set workbook.code_name)")
    problems += [f"sheet {name!r} has no codeName (set sheet_properties.codeName)"
                 for name, code in sheets if not code]
    wanted = {c.lower(): c for c in [wb_code, *(code for _, code in sheets)] if c}
    modules = {m.lower(): m for m in document_module_names(vba_bin)}
    problems += [f"code name {wanted[k]!r} has no document module in the VBA project"
                 for k in wanted if k not in modules]
    problems += [f"document module {modules[k]!r} belongs to no sheet of the workbook"
                 for k in modules if k not in wanted]
    if problems:
        raise ValueError("workbook and VBA project disagree: " + "; ".join(problems))


# --------------------------------------------------------------------------------------
# The two steps: VBA project, ribbon


def make_xlsm(xlsx: bytes | str | Path, vba_bin: bytes, *, check: bool = True) -> bytes:
    """Turn an ``.xlsx`` package into an ``.xlsm`` one holding ``vba_bin``.

    Sets the workbook's content type to the macro-enabled one, stores
    ``xl/vbaProject.bin`` (replacing a VBA project already there) with its content type
    and the workbook's ``vbaProject`` relationship. Other parts keep their bytes.

    Parameters
    ----------
    xlsx : bytes or path
        The package, e.g. what openpyxl saved.
    vba_bin : bytes
        A VBA project, e.g. from :func:`xlcrm.book.vba.build_vba_project`.
    check : bool
        Check that the workbook's and sheets' code names and the project's document
        modules match one to one (:func:`check_code_names`).

    Returns
    -------
    bytes
        The ``.xlsm`` package, written by :func:`write_zip`.
    """
    parts = read_zip(xlsx)
    if check:
        check_code_names(parts, vba_bin)
    workbook = _workbook_part(parts)
    current = _content_type(parts, workbook)
    if current in _MACRO_ENABLED:
        _ensure_content_type(parts, workbook, _MACRO_ENABLED[current])
    elif current not in _MACRO_ENABLED.values():
        raise ValueError(f"{workbook} has content type {current!r}, not a workbook's")
    vba_part = _ensure_relationship(parts, workbook, REL_VBA_PROJECT, "vbaProject.bin")
    parts[vba_part] = bytes(vba_bin)
    _ensure_content_type(parts, vba_part, CT_VBA_PROJECT)
    return write_zip(parts)


def inject_ribbon(package: bytes | str | Path, customui_xml: bytes) -> bytes:
    """Add (or replace) the ``customUI14`` ribbon part of a package.

    Stores ``customUI/customUI14.xml`` with the package-level relationship of type
    :data:`REL_CUSTOMUI14` and content type ``application/xml`` (covered by the usual
    ``Default Extension="xml"``, else added as an Override). Other parts keep their bytes.

    Raises
    ------
    ValueError
        ``customui_xml`` is not well-formed or its root is not ``customUI`` in the
        2009/07 customui namespace.
    """
    _parse_customui(customui_xml)
    parts = read_zip(package)
    part = _ensure_relationship(parts, "", REL_CUSTOMUI14, CUSTOMUI_PART)
    parts[part] = bytes(customui_xml)
    _ensure_content_type(parts, part, CT_XML)
    return write_zip(parts)


def _parse_customui(customui_xml: bytes) -> ET.Element:
    try:
        root = ET.fromstring(customui_xml)
    except ET.ParseError as exc:
        raise ValueError(f"ribbon XML is not well-formed: {exc}") from None
    if root.tag != f"{{{CUSTOMUI14_NS}}}customUI":
        raise ValueError(
            f"ribbon XML root is {root.tag!r}; a customUI14 part needs "
            f"<customUI xmlns=\"{CUSTOMUI14_NS}\">"
        )
    return root


def ribbon_callbacks(customui_xml: bytes) -> list[str]:
    """Names of the VBA callbacks a ribbon XML calls, in document order, each once.

    Callbacks are the values of ``on*`` attributes (``onAction``, ``onLoad``,
    ``onChange``), ``get*`` attributes (``getLabel``, ``getEnabled`` ...) and
    ``loadImage``.
    """
    root = _parse_customui(customui_xml)
    names: list[str] = []
    for elem in root.iter():
        for attr, value in elem.attrib.items():
            local = attr.rsplit("}", 1)[-1]
            is_callback = (
                (local.startswith("on") and local[2:3].isupper())
                or (local.startswith("get") and local[3:4].isupper())
                or local == "loadImage"
            )
            if is_callback and value not in names:
                names.append(value)
    return names
