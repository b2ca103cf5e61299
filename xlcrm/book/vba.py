"""Write a VBA project (``vbaProject.bin``) from VBA source text, without Excel.

The file is an MS-CFB compound file holding the streams that [MS-OVBA] describes:
``PROJECT`` (text: module list, protection), ``PROJECTwm`` (module names),
``VBA/_VBA_PROJECT`` (version-independent: version 0xFFFF and no performance cache, so
Excel compiles the project from source when it opens the workbook), ``VBA/dir``
(compressed: project information, references, module records) and one stream per module
holding its compressed source at offset 0.

Why the format is written here rather than by a package: ``ms-ovba-compression`` 1.0.1
produces containers that do not decompress to their input (its maximum copy length
ignores the position-dependent length field; checked against oletools' decompressor)
and is quadratic; ``ms-ovba`` 0.0.1 writes its pieces as files into the working
directory, builds on that compressor, on ``ms-cfb`` 0.0.6 (no DIFAT, scratch files in
the working directory) and on ``ms-ovba-crypto``, which draws a random seed, so no two
builds agree; ``cfbwrite`` is AGPL-3.0, which this BSD-licensed project cannot take as a
runtime dependency; ``cfb`` and ``olefile`` only read. What is left is small:
the MS-OVBA compressor (section 2.4.1), the data encryption of three PROJECT values
(2.4.3) and a compound-file writer for files under 7 MB (no DIFAT).

Every byte is a function of the inputs: no timestamps, a fixed project GUID, fixed
encryption seeds and a fixed stream order. :func:`read_vba_modules` reads a project
back with oletools' ``olevba``, an independent implementation.
"""

from __future__ import annotations

import re
import struct
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

# Where the VBA sources of the workbook template live (``workbook/vba``); re-exported.
from xlcrm.book.paths import VBA_SOURCE_DIR as VBA_SOURCE_DIR

ModuleKind = Literal["standard", "class", "document"]

#: Fixed project GUID: uuid5(NAMESPACE_URL, "https://pypi.org/project/xlcrm/#vbaProject").
PROJECT_ID = "{20B0A77E-3CD8-5B33-9471-FB94B2DB2FFC}"
PROJECT_NAME = "VBAProject"

# The project's text is stored in this code page (Western European, what Excel uses for
# an English-locale project); module source must be encodable in it.
CODE_PAGE = 1252
_CODEC = "cp1252"

# VB_Base of the document modules and of class modules: the type libraries' CLSIDs
# (Excel Workbook, Excel Worksheet, VBA class), as Excel itself stores them.
_WORKBOOK_BASE = "0{00020819-0000-0000-C000-000000000046}"
_WORKSHEET_BASE = "0{00020820-0000-0000-C000-000000000046}"
_CLASS_BASE = "0{FCFB3D2A-A0FA-1068-A738-08002B3371B5}"


@dataclass(frozen=True)
class VbaModule:
    """One VBA module as stored in the project.

    Parameters
    ----------
    name : str
        Module name (an identifier of at most 31 ASCII characters); also its stream name.
    kind : {"standard", "class", "document"}
        ``.bas`` module, class module, or the document module of the workbook or a sheet.
    code : str
        Full stored source: the ``Attribute`` lines, then the code, CRLF line endings.
    """

    name: str
    kind: ModuleKind
    code: str


@dataclass(frozen=True)
class VbaReference:
    """A registered type-library reference (``REFERENCEREGISTERED`` in the dir stream).

    Parameters
    ----------
    name : str
        The name VBA code uses for the library (``Office``, ``stdole``).
    libid : str
        ``*\\G{GUID}#major.minor#lcid#path#description``; Excel resolves the library by
        GUID and version through the registry, the path is informative.
    """

    name: str
    libid: str


#: OLE Automation (stdole), which every project Excel creates references.
STDOLE_REFERENCE = VbaReference(
    "stdole",
    r"*\G{00020430-0000-0000-C000-000000000046}#2.0#0#C:\Windows\System32\stdole2.tlb"
    r"#OLE Automation",
)
#: Microsoft Office Object Library, which defines ``IRibbonControl`` for ribbon callbacks;
#: libid as in the VBA project of xlwings 0.37.8's quickstart_standalone.xlsm.
OFFICE_REFERENCE = VbaReference(
    "Office",
    r"*\G{2DF8D04C-5BFA-101B-BDE5-00AA0044DE52}#2.0#0#C:\Program Files\Common Files"
    r"\Microsoft Shared\OFFICE16\MSO.DLL#Microsoft Office 16.0 Object Library",
)
DEFAULT_REFERENCES = (STDOLE_REFERENCE, OFFICE_REFERENCE)

_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,30}\Z")
_NEWLINE_RE = re.compile(r"\r\n|\r|\n")
_ATTR_RE = re.compile(r'Attribute\s+(VB_\w+)\s*=\s*(.*)\Z')


# --------------------------------------------------------------------------------------
# Module sources


def _crlf(text: str) -> str:
    """Line endings as VBA stores them (CRLF), with a final line ending."""
    text = _NEWLINE_RE.sub("\r\n", text)
    return text if text.endswith("\r\n") or not text else text + "\r\n"


def _check_name(name: str) -> None:
    if not _NAME_RE.match(name):
        raise ValueError(
            f"VBA module name {name!r} is not valid: use a letter, then letters, digits or "
            "underscores, at most 31 characters"
        )


def _check_encodable(name: str, code: str) -> None:
    """Refuse text the project code page cannot hold, naming the line of ``code``."""
    try:
        code.encode(_CODEC)
    except UnicodeEncodeError as exc:
        line = len(_NEWLINE_RE.findall(code[: exc.start])) + 1
        raise ValueError(
            f"VBA module {name!r}, line {line}: character {code[exc.start]!r} is not in code "
            f"page {CODE_PAGE}; use plain text, or Chr/ChrW in the VBA code"
        ) from None


def _split_header(code: str) -> tuple[list[str], list[str]]:
    """Split source lines into the leading ``Attribute`` lines and the rest.

    An exported class (``.cls``) starts with a ``VERSION 1.0 CLASS`` / ``BEGIN`` ...
    ``END`` block that belongs to the export format, not to the stored source: dropped.
    """
    lines = _crlf(code).split("\r\n")[:-1]
    if lines and lines[0].strip().upper().startswith("VERSION "):
        end = next((i for i, line in enumerate(lines) if line.strip().upper() == "END"), None)
        if end is None:
            raise ValueError("exported class module has VERSION/BEGIN without END")
        lines = lines[end + 1:]
    n = 0
    while n < len(lines) and lines[n].startswith("Attribute "):
        n += 1
    return lines[:n], lines[n:]


def _attr_value(attrs: Sequence[str], key: str) -> str | None:
    for line in attrs:
        m = _ATTR_RE.match(line)
        if m and m.group(1).lower() == key.lower():
            return m.group(2).strip()
    return None


def _join(lines: Iterable[str]) -> str:
    return "".join(f"{line}\r\n" for line in lines)


def _source(kind: str, name: str, code: str) -> tuple[list[str], list[str], str | None]:
    """Attribute lines, body lines and the declared ``VB_Name`` of a module's source text.

    Raises
    ------
    ValueError
        For a name VBA refuses, text the project's code page cannot hold, or a ``VB_Name``
        other than ``name``.
    """
    _check_name(name)
    code = code.removeprefix("\ufeff")  # a byte-order mark is not part of VBA source
    _check_encodable(name, code)
    attrs, body = _split_header(code)
    declared = _attr_value(attrs, "VB_Name")
    if declared is not None and declared.strip('"') != name:
        raise ValueError(f"{kind} {name!r} declares Attribute VB_Name = {declared}")
    return attrs, body, declared


def standard_module(name: str, code: str) -> VbaModule:
    """A standard (``.bas``) module; ``code`` may start with its ``Attribute VB_Name`` line."""
    attrs, body, declared = _source("module", name, code)
    if declared is None:
        attrs = [f'Attribute VB_Name = "{name}"', *attrs]
    return VbaModule(name, "standard", _join([*attrs, *body]))


def class_module(name: str, code: str) -> VbaModule:
    """A class module from exported ``.cls`` text, stored as the VBA editor stores it.

    The export header is dropped, and ``VB_Base`` (after ``VB_Name``) and
    ``VB_TemplateDerived``/``VB_Customizable`` (after ``VB_Exposed``) are added where
    missing, which is what Excel writes when it imports a ``.cls`` file.
    """
    attrs, body, _ = _source("class", name, code)
    defaults = {
        "VB_Name": f'"{name}"',
        "VB_Base": f'"{_CLASS_BASE}"',
        "VB_GlobalNameSpace": "False",
        "VB_Creatable": "False",
        "VB_PredeclaredId": "False",
        "VB_Exposed": "False",
        "VB_TemplateDerived": "False",
        "VB_Customizable": "False",
    }
    header = [
        f"Attribute {key} = {_attr_value(attrs, key) or value}" for key, value in defaults.items()
    ]
    extra = []
    for line in attrs:
        m = _ATTR_RE.match(line)
        if not (m and m.group(1) in defaults):
            extra.append(line)
    return VbaModule(name, "class", _join([*header, *extra, *body]))


def document_module(name: str, *, workbook: bool, code: str = "") -> VbaModule:
    """The document module of the workbook (``workbook=True``) or of one worksheet.

    ``code`` is the module's own code (event handlers); any ``Attribute`` lines or
    export header in it are replaced by the ones Excel stores for a document module.
    """
    _check_name(name)
    code = code.removeprefix("\ufeff")  # a byte-order mark is not part of VBA source
    _check_encodable(name, code)
    _, body = _split_header(code) if code else ([], [])
    header = [
        f'Attribute VB_Name = "{name}"',
        f'Attribute VB_Base = "{_WORKBOOK_BASE if workbook else _WORKSHEET_BASE}"',
        "Attribute VB_GlobalNameSpace = False",
        "Attribute VB_Creatable = False",
        "Attribute VB_PredeclaredId = True",
        "Attribute VB_Exposed = True",
        "Attribute VB_TemplateDerived = False",
        "Attribute VB_Customizable = True",
    ]
    return VbaModule(name, "document", _join([*header, *body]))


def module_from_source(name: str, code: str) -> VbaModule:
    """A standard or class module, told apart by the class export header."""
    head = code.removeprefix("\ufeff").lstrip()[:40].upper()
    if head.startswith("VERSION 1.0 CLASS"):
        return class_module(name, code)
    return standard_module(name, code)


def vba_sources(directory: str | Path = VBA_SOURCE_DIR) -> dict[str, str]:
    """Read the ``.bas`` and ``.cls`` files of ``directory``: module name -> source text.

    Sorted by file name so that builds list modules in a stable order. Read as bytes
    and decoded from the project code page, so line endings and characters arrive as
    the files hold them.
    """
    paths = sorted(
        (p for p in Path(directory).iterdir() if p.suffix.lower() in (".bas", ".cls")),
        key=lambda p: p.name.lower(),
    )
    return {p.stem: p.read_bytes().decode(_CODEC) for p in paths}


# --------------------------------------------------------------------------------------
# MS-OVBA compression (section 2.4.1)

_CHUNK = 4096


def _longest_match(chunk: bytes, pos: int, max_length: int) -> tuple[int, int]:
    """Longest earlier copy of ``chunk[pos:]`` (overlap allowed): (offset, length) or (0, 0).

    ``bytes.rfind`` does the scanning; each round asks for one byte more than the best
    match so far, so the number of rounds is small while the search itself runs in C.
    """
    limit = min(max_length, len(chunk) - pos)
    best_start, best_length = -1, 0
    want = 3
    while want <= limit:
        # A source starting before pos whose first `want` bytes match; it may run into pos.
        start = chunk.rfind(chunk[pos:pos + want], 0, pos + want - 1)
        if start < 0:
            break
        length = want
        while length < limit and chunk[start + length] == chunk[pos + length]:
            length += 1
        best_start, best_length = start, length
        want = length + 1
    if best_length < 3:
        return 0, 0
    return pos - best_start, best_length


def _compress_chunk(chunk: bytes) -> bytes:
    out = bytearray()
    pos = 0
    while pos < len(chunk):
        flag_at = len(out)
        out.append(0)
        flags = 0
        for bit in range(8):
            if pos >= len(chunk):
                break
            # Offset and length share 16 bits; the split depends on the position (2.4.1.3.19.1).
            bit_count = max((pos - 1).bit_length(), 4) if pos else 4
            length_mask = 0xFFFF >> bit_count
            offset, length = _longest_match(chunk, pos, length_mask + 3) if pos else (0, 0)
            if length:
                token = ((offset - 1) << (16 - bit_count)) | (length - 3)
                out += struct.pack("<H", token)
                flags |= 1 << bit
                pos += length
            else:
                out.append(chunk[pos])
                pos += 1
        out[flag_at] = flags
    if len(out) > _CHUNK:
        # Incompressible: a raw chunk is always 4096 bytes (the spec pads with zeros).
        return struct.pack("<H", 0x3FFF) + chunk.ljust(_CHUNK, b"\x00")
    # Header: bit 15 = compressed, bits 12-14 = signature 0b011, bits 0-11 = size - 3.
    return struct.pack("<H", 0xB000 | (len(out) - 1)) + bytes(out)


def compress(data: bytes) -> bytes:
    """Compress ``data`` into an MS-OVBA CompressedContainer ([MS-OVBA] 2.4.1).

    Greedy longest-match LZ77 in 4096-byte chunks, as the specification describes.
    """
    data = bytes(data)
    chunks = [_compress_chunk(data[i:i + _CHUNK]) for i in range(0, len(data), _CHUNK)]
    return b"\x01" + b"".join(chunks)


# --------------------------------------------------------------------------------------
# Data encryption of the PROJECT stream's CMG, DPB and GC values ([MS-OVBA] 2.4.3)


def encrypt(project_id: str, data: bytes, seed: int) -> str:
    """Encrypt ``data`` as [MS-OVBA] 2.4.3.2 describes; upper-case hex.

    Excel draws ``seed`` at random; a fixed one keeps builds reproducible. The ignored
    bytes it implies are 0x07, any value being allowed.
    """
    version = 2
    proj_key = sum(project_id.encode("ascii")) & 0xFF
    out = bytearray([seed, seed ^ version, seed ^ proj_key])
    unencrypted_1, encrypted_1, encrypted_2 = proj_key, seed ^ proj_key, seed ^ version
    ignored = [7] * ((seed & 6) // 2)
    for byte in [*ignored, *struct.pack("<I", len(data)), *data]:
        enc = byte ^ ((encrypted_2 + unencrypted_1) & 0xFF)
        out.append(enc)
        encrypted_2, encrypted_1, unencrypted_1 = encrypted_1, enc, byte
    return out.hex().upper()


# --------------------------------------------------------------------------------------
# Project streams


def _project_stream(modules: Sequence[VbaModule], project_id: str) -> bytes:
    lines = [f'ID="{project_id}"']
    for m in modules:
        if m.kind == "document":
            lines.append(f"Document={m.name}/&H00000000")
        elif m.kind == "class":
            lines.append(f"Class={m.name}")
        else:
            lines.append(f"Module={m.name}")
    # Not protected, no password, visible; fixed seeds keep the text stable.
    cmg = encrypt(project_id, bytes(4), 0x8D)
    dpb = encrypt(project_id, bytes(1), 0x8F)
    gc = encrypt(project_id, bytes([0xFF]), 0x91)
    lines += [
        f'Name="{PROJECT_NAME}"',
        'HelpContextID="0"',
        'VersionCompatible32="393222000"',
        f'CMG="{cmg}"',
        f'DPB="{dpb}"',
        f'GC="{gc}"',
        "",
        "[Host Extender Info]",
        "&H00000001={3832D640-CF90-11CF-8E43-00A0C911005A};VBE;&H00000000",
    ]
    # No [Workspace] section: it only records VBA editor window positions (optional).
    return "".join(f"{line}\r\n" for line in lines).encode(_CODEC)


def _project_wm(modules: Sequence[VbaModule]) -> bytes:
    out = bytearray()
    for m in modules:
        out += m.name.encode(_CODEC) + b"\x00" + m.name.encode("utf-16-le") + b"\x00\x00"
    return bytes(out + b"\x00\x00")


def _record(rid: int, data: bytes) -> bytes:
    return struct.pack("<HI", rid, len(data)) + data


def _text_record(rid: int, unicode_rid: int, text: str) -> bytes:
    """A record in the code page followed by its UTF-16 twin (the docstring pattern)."""
    return _record(rid, text.encode(_CODEC)) + _record(unicode_rid, text.encode("utf-16-le"))


def _dir_stream(modules: Sequence[VbaModule], references: Sequence[VbaReference]) -> bytes:
    out = bytearray()
    out += _record(0x0001, struct.pack("<I", 3))  # SYSKIND: 64-bit Windows, as xlwings' file
    out += _record(0x0002, struct.pack("<I", 0x0409))  # LCID
    out += _record(0x0014, struct.pack("<I", 0x0409))  # LCIDINVOKE
    out += _record(0x0003, struct.pack("<H", CODE_PAGE))
    out += _record(0x0004, PROJECT_NAME.encode(_CODEC))
    out += _text_record(0x0005, 0x0040, "")  # DOCSTRING
    out += _text_record(0x0006, 0x003D, "")  # HELPFILEPATH
    out += _record(0x0007, struct.pack("<I", 0))  # HELPCONTEXT
    out += _record(0x0008, struct.pack("<I", 0))  # LIBFLAGS
    # VERSION: its size field is fixed at 4 although 6 bytes follow (major, minor).
    out += struct.pack("<HIIH", 0x0009, 4, 0x68FBFAC5, 4)
    out += _text_record(0x000C, 0x003C, "")  # CONSTANTS
    for ref in references:
        out += _text_record(0x0016, 0x003E, ref.name)
        libid = ref.libid.encode(_CODEC)
        out += _record(0x000D, struct.pack("<I", len(libid)) + libid + b"\x00" * 6)
    out += _record(0x000F, struct.pack("<H", len(modules)))
    out += _record(0x0013, struct.pack("<H", 0xFFFF))  # PROJECTCOOKIE: 0xFFFF on write
    for m in modules:
        out += _text_record(0x0019, 0x0047, m.name)  # MODULENAME (+ unicode)
        out += _text_record(0x001A, 0x0032, m.name)  # MODULESTREAMNAME
        out += _text_record(0x001C, 0x0048, "")  # MODULEDOCSTRING
        out += _record(0x0031, struct.pack("<I", 0))  # MODULEOFFSET: source at 0, no cache
        out += _record(0x001E, struct.pack("<I", 0))  # MODULEHELPCONTEXT
        out += _record(0x002C, struct.pack("<H", 0xFFFF))  # MODULECOOKIE
        out += _record(0x0021 if m.kind == "standard" else 0x0022, b"")  # MODULETYPE
        out += _record(0x002B, b"")  # module terminator
    out += _record(0x0010, b"")  # dir terminator
    return bytes(out)


# Reserved1 0x61CC, version 0xFFFF (no performance cache: Excel compiles from source),
# Reserved2 0x00, Reserved3 0x0001; the same 7 bytes as in xlwings' own workbooks.
_VBA_PROJECT_STREAM = bytes.fromhex("CC61FFFF000100")


def build_vba_project(
    modules: Mapping[str, str] | Iterable[tuple[str, str] | VbaModule],
    *,
    sheet_code_names: Sequence[str] = (),
    workbook_code_name: str = "ThisWorkbook",
    references: Sequence[VbaReference] = DEFAULT_REFERENCES,
    project_id: str = PROJECT_ID,
) -> bytes:
    """Build ``vbaProject.bin`` bytes from VBA source.

    Parameters
    ----------
    modules : mapping of str to str, or iterable of (str, str) pairs or VbaModule
        Module name -> source text (a ``.bas`` file, or an exported ``.cls`` file, told
        apart by its ``VERSION 1.0 CLASS`` header), or ready :class:`VbaModule` objects.
        A name equal to the workbook's or a sheet's code name supplies that document
        module's code. Listed in the given order, after the document modules.
    sheet_code_names : sequence of str
        Code names of the worksheets, in sheet order (each ``<sheetPr codeName=...>``).
        Excel pairs every worksheet with the document module of its code name and makes
        a new, differently named module for a sheet that has none, so pass them all.
    workbook_code_name : str
        Code name of the workbook (``<workbookPr codeName=...>``).
    references : sequence of VbaReference
        Type libraries the code needs; by default stdole and the Office library (which
        defines ``IRibbonControl``). VBA's own and Excel's libraries are implicit.
    project_id : str
        Project GUID in braces; fixed by default so that builds are reproducible.

    Returns
    -------
    bytes
        The compound file; identical bytes for identical arguments.

    Raises
    ------
    ValueError
        A module name that is not a VBA identifier or is used twice (VBA names are
        case-insensitive), a module whose ``Attribute VB_Name`` disagrees with its name,
        or source that the project code page (1252) cannot hold.
    """
    given: list[tuple[str, str | VbaModule]] = []
    for item in modules.items() if isinstance(modules, Mapping) else modules:
        if isinstance(item, VbaModule):
            given.append((item.name, item))
        else:
            name, src = item
            given.append((name, src))
    doc_names = [workbook_code_name, *sheet_code_names]
    doc_code = {name.lower(): src for name, src in given if name.lower() in
                {d.lower() for d in doc_names}}
    built: list[VbaModule] = []
    for i, name in enumerate(doc_names):
        src = doc_code.get(name.lower(), "")
        code = src.code if isinstance(src, VbaModule) else src
        built.append(document_module(name, workbook=i == 0, code=code))
    for name, src in given:
        if name.lower() in doc_code:
            continue
        built.append(src if isinstance(src, VbaModule) else module_from_source(name, src))

    seen: set[str] = set()
    for m in built:
        _check_name(m.name)
        if m.name.lower() in seen:
            raise ValueError(f"VBA module name {m.name!r} is used twice (names ignore case)")
        seen.add(m.name.lower())

    streams: dict[str, bytes] = {
        "PROJECT": _project_stream(built, project_id),
        "PROJECTwm": _project_wm(built),
        "VBA/_VBA_PROJECT": _VBA_PROJECT_STREAM,
        "VBA/dir": compress(_dir_stream(built, references)),
    }
    for m in built:
        _check_encodable(m.name, m.code)
        source = m.code.encode(_CODEC)
        streams[f"VBA/{m.name}"] = compress(source)
    return write_compound_file(streams)


def template_vba_project(
    sheet_code_names: Sequence[str],
    *,
    workbook_code_name: str = "ThisWorkbook",
    directory: str | Path = VBA_SOURCE_DIR,
) -> bytes:
    """The template's VBA project: the modules in ``workbook/vba`` plus document modules."""
    return build_vba_project(
        vba_sources(directory),
        sheet_code_names=sheet_code_names,
        workbook_code_name=workbook_code_name,
    )


# --------------------------------------------------------------------------------------
# Compound file (MS-CFB version 3: 512-byte sectors, 64-byte mini sectors)

_SECTOR = 512
_MINI = 64
_MINI_CUTOFF = 4096
_FREESECT, _ENDOFCHAIN, _FATSECT, _NOSTREAM = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF


@dataclass
class _Entry:
    name: str
    data: bytes | None  # None for a storage
    children: list[_Entry]
    sid: int = 0
    left: int = _NOSTREAM
    right: int = _NOSTREAM
    child: int = _NOSTREAM
    red: bool = False
    start: int = _ENDOFCHAIN


def _cfb_key(name: str) -> tuple[int, str]:
    # Siblings are ordered by name length first, then by upper-cased name ([MS-CFB] 2.6.4).
    return len(name.encode("utf-16-le")) // 2, name.upper()


def _sibling_tree(children: list[_Entry]) -> int:
    """Link ``children`` into a balanced red-black tree; return the root's id.

    Midpoint splits leave every empty link on the last two levels, so colouring the
    nodes of the deepest level red (when that level is not full) and the rest black
    gives every root-to-leaf path the same number of black nodes.
    """
    ordered = sorted(children, key=lambda e: _cfb_key(e.name))
    depth: dict[int, int] = {}

    def build(lo: int, hi: int, level: int) -> int:
        if lo >= hi:
            return _NOSTREAM
        mid = (lo + hi) // 2
        node = ordered[mid]
        depth[id(node)] = level
        node.left = build(lo, mid, level + 1)
        node.right = build(mid + 1, hi, level + 1)
        return node.sid

    root = build(0, len(ordered), 0)
    if ordered:
        deepest = max(depth.values())
        full = len(ordered) == 2 ** (deepest + 1) - 1
        for node in ordered:
            node.red = not full and depth[id(node)] == deepest
    return root


def _dir_entry(entry: _Entry | None, *, root: bool = False, size: int = 0) -> bytes:
    if entry is None:  # unused slot
        return struct.pack("<64sHBBIII16sIQQIQ", b"", 0, 0, 0, _NOSTREAM, _NOSTREAM,
                           _NOSTREAM, b"", 0, 0, 0, 0, 0)
    name = entry.name.encode("utf-16-le") + b"\x00\x00"
    kind = 5 if root else (1 if entry.data is None else 2)
    start = entry.start if (root or entry.data is not None) else 0
    return struct.pack(
        "<64sHBBIII16sIQQIQ", name, len(name), kind, 0 if entry.red else 1, entry.left,
        entry.right, entry.child, b"", 0, 0, 0, start, size,
    )


def write_compound_file(streams: Mapping[str, bytes]) -> bytes:
    """An MS-CFB v3 compound file holding ``streams`` (``"Storage/Stream"`` -> bytes).

    Deterministic: zero timestamps and CLSIDs, entries in the given order. Files up to
    109 FAT sectors (about 7 MB) only, which needs no DIFAT; a VBA project is far
    smaller.
    """
    root = _Entry("Root Entry", None, [])
    storages = {"": root}
    for path, data in streams.items():
        parts = path.split("/")
        for part in parts:
            if not part or len(part) > 31 or any(c in part for c in "\\:!"):
                raise ValueError(f"invalid compound-file name {part!r} in {path!r}")
        parent = root
        for i, part in enumerate(parts[:-1]):
            key = "/".join(parts[: i + 1])
            if key not in storages:
                storages[key] = _Entry(part, None, [])
                parent.children.append(storages[key])
            parent = storages[key]
        if any(c.name.upper() == parts[-1].upper() for c in parent.children):
            raise ValueError(f"duplicate compound-file entry {path!r}")
        parent.children.append(_Entry(parts[-1], bytes(data), []))

    entries: list[_Entry] = []

    def number(entry: _Entry) -> None:
        entry.sid = len(entries)
        entries.append(entry)
        for c in entry.children:
            number(c)

    number(root)
    for e in entries:
        if e.data is None:
            e.child = _sibling_tree(e.children)
    root.left = root.right = _NOSTREAM
    root.red = False

    streams_list = [e for e in entries if e.data is not None]
    small = [e for e in streams_list if len(e.data or b"") < _MINI_CUTOFF]
    large = [e for e in streams_list if len(e.data or b"") >= _MINI_CUTOFF]

    # Mini stream: small streams back to back in 64-byte mini sectors.
    minifat: list[int] = []
    mini_data = bytearray()
    for e in small:
        data = e.data or b""
        n = -(-len(data) // _MINI)
        if n == 0:
            e.start = _ENDOFCHAIN
            continue
        e.start = len(minifat)
        minifat += [len(minifat) + k + 1 for k in range(n - 1)] + [_ENDOFCHAIN]
        mini_data += data.ljust(n * _MINI, b"\x00")

    def sectors(nbytes: int) -> int:
        return -(-nbytes // _SECTOR)

    n_dir = sectors(len(entries) * 128)
    n_minifat = sectors(len(minifat) * 4)
    n_mini = sectors(len(mini_data))
    n_large = [sectors(len(e.data or b"")) for e in large]
    others = n_dir + n_minifat + n_mini + sum(n_large)
    n_fat = 1
    while n_fat * (_SECTOR // 4) < others + n_fat:
        n_fat += 1
    if n_fat > 109:
        raise ValueError("compound file too large for this writer (needs a DIFAT)")

    fat: list[int] = [_FATSECT] * n_fat
    body = bytearray()

    def chain(payload: bytes, count: int) -> int:
        if count == 0:
            return _ENDOFCHAIN
        first = len(fat)
        fat.extend(range(first + 1, first + count))
        fat.append(_ENDOFCHAIN)
        body.extend(payload.ljust(count * _SECTOR, b"\x00"))
        return first

    # Directory entries need the sector numbers, so lay the data out first and write
    # the directory into its reserved sectors afterwards.
    dir_first = len(fat)
    fat.extend(range(dir_first + 1, dir_first + n_dir))
    fat.append(_ENDOFCHAIN)
    body.extend(b"\x00" * (n_dir * _SECTOR))
    minifat_bytes = struct.pack(f"<{len(minifat)}I", *minifat)
    minifat_bytes += struct.pack("<I", _FREESECT) * ((-len(minifat)) % (_SECTOR // 4))
    minifat_first = chain(minifat_bytes, n_minifat)
    root.start = chain(bytes(mini_data), n_mini)
    for e, n in zip(large, n_large, strict=True):
        e.start = chain(e.data or b"", n)

    directory = bytearray()
    for e in entries:
        if e is root:
            directory += _dir_entry(e, root=True, size=len(mini_data))
        else:
            directory += _dir_entry(e, size=len(e.data) if e.data is not None else 0)
    while len(directory) < n_dir * _SECTOR:
        directory += _dir_entry(None)
    body[0:len(directory)] = directory

    fat += [_FREESECT] * (n_fat * (_SECTOR // 4) - len(fat))
    difat = list(range(n_fat)) + [_FREESECT] * (109 - n_fat)
    header = struct.pack(
        "<8s16sHHHHH6sIIIIIIIII",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b"", 0x003E, 0x0003, 0xFFFE, 9, 6, b"",
        0, n_fat, dir_first, 0, _MINI_CUTOFF,
        minifat_first if n_minifat else _ENDOFCHAIN, n_minifat, _ENDOFCHAIN, 0,
    ) + struct.pack("<109I", *difat)
    return header + struct.pack(f"<{len(fat)}I", *fat) + bytes(body)


# --------------------------------------------------------------------------------------
# Reading back (independent implementation: oletools)


def read_vba_modules(source: str | Path | bytes) -> dict[str, str]:
    """Module name -> stored source text of a ``vbaProject.bin`` or a macro workbook.

    Read with oletools' ``olevba`` (an implementation independent of this module), so
    the text is what Excel would find: ``Attribute`` lines included, line endings as
    stored (CRLF). Needs the ``oletools`` package (a test dependency).
    """
    with warnings.catch_warnings():
        # oletools 0.60 uses pyparsing names that pyparsing 3.3 deprecates, at import.
        warnings.simplefilter("ignore", DeprecationWarning)
        from oletools.olevba import VBA_Parser  # here: only tests and checks read VBA

    if isinstance(source, bytes | bytearray):
        parser = VBA_Parser("vbaProject.bin", data=bytes(source))
    else:
        parser = VBA_Parser(str(source))
    try:
        if not parser.detect_vba_macros():
            return {}
        out: dict[str, str] = {}
        for _, _, filename, code in parser.extract_macros():
            name = filename.rsplit(".", 1)[0]
            out[name] = code if isinstance(code, str) else code.decode(_CODEC)
        return out
    finally:
        parser.close()


def document_module_names(vba_bin: bytes) -> list[str]:
    """Names of the document modules a ``vbaProject.bin`` declares in its PROJECT stream."""
    text = _project_text(vba_bin)
    return [m.group(1) for m in re.finditer(r"^Document=([^/\r\n]+)/", text, re.M)]


def _project_text(vba_bin: bytes) -> str:
    import olefile  # imported here: only the workbook packaging checks read a project

    with olefile.OleFileIO(bytes(vba_bin)) as ole:
        return ole.openstream("PROJECT").read().decode(_CODEC)
