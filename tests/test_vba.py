"""VBA project writer: read back by independent implementations (oletools, olefile).

Known answers come from MS-OVBA's worked example and from the VBA projects that Excel
saved inside xlwings' own quickstart workbooks (shipped in the pinned wheel).
"""

from __future__ import annotations

import re
import struct
import warnings
import zipfile
from pathlib import Path

import olefile
import pytest
import xlwings
from hypothesis import given, settings
from hypothesis import strategies as st

with warnings.catch_warnings():
    # oletools 0.60 uses pyparsing names that pyparsing 3.3 deprecates, at import.
    warnings.simplefilter("ignore", DeprecationWarning)
    from oletools.olevba import decompress_stream

from xlcrm.book.vba import (
    DEFAULT_REFERENCES,
    OFFICE_REFERENCE,
    PROJECT_ID,
    VBA_SOURCE_DIR,
    build_vba_project,
    class_module,
    compress,
    document_module_names,
    encrypt,
    module_from_source,
    read_vba_modules,
    template_vba_project,
    vba_sources,
    write_compound_file,
)

WHEEL = Path(xlwings.__file__).parent
SHEETS = [f"Sheet{i}" for i in range(1, 14)]


def _stream(vba_bin: bytes, path: str) -> bytes:
    with olefile.OleFileIO(vba_bin) as ole:
        return ole.openstream(path).read()


def _excel_saved_project() -> bytes:
    """The vbaProject.bin that Excel saved in xlwings' quickstart_standalone.xlsm."""
    with zipfile.ZipFile(WHEEL / "quickstart_standalone.xlsm") as z:
        return z.read("xl/vbaProject.bin")


def _dir_records(vba_bin: bytes) -> list[tuple[int, bytes]]:
    """Records of the decompressed dir stream: (id, data)."""
    data = decompress_stream(bytearray(_stream(vba_bin, "VBA/dir")))
    out, i = [], 0
    while i < len(data):
        rid, size = struct.unpack_from("<HI", data, i)
        if rid == 0x0009:  # PROJECTVERSION: size says 4, but 6 bytes follow
            size = 6
        out.append((rid, bytes(data[i + 6:i + 6 + size])))
        i += 6 + size
    return out


def _decrypt(hex_text: str, project_id: str) -> bytes:
    """[MS-OVBA] 2.4.3.3 data decryption, written from the spec for this test."""
    enc = bytes.fromhex(hex_text)
    seed, version_enc, proj_key_enc = enc[0], enc[1], enc[2]
    assert version_enc ^ seed == 2
    assert proj_key_enc ^ seed == sum(project_id.encode()) & 0xFF
    unenc_1, enc_1, enc_2 = proj_key_enc ^ seed, proj_key_enc, version_enc
    plain = []
    for byte_enc in enc[3:]:
        byte = byte_enc ^ ((enc_2 + unenc_1) & 0xFF)
        plain.append(byte)
        enc_2, enc_1, unenc_1 = enc_1, byte_enc, byte
    ignored = (seed & 6) // 2
    length = int.from_bytes(bytes(plain[ignored:ignored + 4]), "little")
    data = bytes(plain[ignored + 4:])
    assert len(data) == length
    return data


@pytest.fixture(scope="module")
def template_bin() -> bytes:
    return template_vba_project(SHEETS)


# --------------------------------------------------------------------------------------
# Sources in the repo


def test_xlwings_module_is_the_pinned_wheels_file() -> None:
    assert xlwings.__version__ == "0.37.8"
    ours = (VBA_SOURCE_DIR / "xlwings.bas").read_bytes()
    assert ours == (WHEEL / "xlwings.bas").read_bytes()
    assert b"'Version: 0.37.8\r\n" in ours
    assert (VBA_SOURCE_DIR / "Dictionary.cls").read_bytes() == (
        WHEEL / "addin" / "Dictionary.cls"
    ).read_bytes()
    readme = (VBA_SOURCE_DIR / "README.md").read_text()
    assert "0.37.8" in readme and "xlwings/xlwings.bas" in readme


def test_vba_sources_lists_modules_in_file_name_order() -> None:
    assert list(vba_sources()) == ["CRMRibbon", "Dictionary", "xlwings"]


# --------------------------------------------------------------------------------------
# Round trip through olevba


def test_template_project_reads_back_with_olevba(template_bin: bytes) -> None:
    modules = read_vba_modules(template_bin)
    assert list(modules) == ["ThisWorkbook", *SHEETS, "CRMRibbon", "Dictionary", "xlwings"]
    # The xlwings module is stored exactly as the wheel ships it (CRLF included).
    assert modules["xlwings"] == (WHEEL / "xlwings.bas").read_bytes().decode("cp1252")
    assert modules["CRMRibbon"] == (VBA_SOURCE_DIR / "CRMRibbon.bas").read_bytes().decode()
    for name, code in modules.items():
        assert code.startswith(f'Attribute VB_Name = "{name}"\r\n')
        assert "\n" not in code.replace("\r\n", "")


def test_modules_are_stored_as_excel_stores_them(template_bin: bytes) -> None:
    ours = read_vba_modules(template_bin)
    excel = read_vba_modules(_excel_saved_project())
    assert ours["ThisWorkbook"] == excel["ThisWorkbook"]
    assert ours["Sheet1"] == excel["Sheet1"]
    # Excel's import of Dictionary.cls; the VBA editor only re-cased "Err" as "err".
    assert ours["Dictionary"].lower() == excel["Dictionary"].lower()


def test_line_endings_and_missing_attribute_are_normalised() -> None:
    vba_bin = build_vba_project({"Tools": "Sub A()\nEnd Sub\rSub B()\r\nEnd Sub"})
    code = read_vba_modules(vba_bin)["Tools"]
    assert code == 'Attribute VB_Name = "Tools"\r\nSub A()\r\nEnd Sub\r\nSub B()\r\nEnd Sub\r\n'
    with_bom = build_vba_project({"Tools": "\ufeffSub A()\nEnd Sub\n"})
    bom_code = read_vba_modules(with_bom)["Tools"]
    assert bom_code == 'Attribute VB_Name = "Tools"\r\nSub A()\r\nEnd Sub\r\n'


def test_document_module_code_comes_from_a_module_of_that_name() -> None:
    handler = "Private Sub Workbook_Open()\r\n    Application.StatusBar = False\r\nEnd Sub\r\n"
    vba_bin = build_vba_project({"ThisWorkbook": handler}, sheet_code_names=["Sheet1"])
    modules = read_vba_modules(vba_bin)
    assert list(modules) == ["ThisWorkbook", "Sheet1"]
    assert modules["ThisWorkbook"].endswith("Attribute VB_Customizable = True\r\n" + handler)
    assert document_module_names(vba_bin) == ["ThisWorkbook", "Sheet1"]


def test_class_module_export_header_is_dropped() -> None:
    exported = (
        "VERSION 1.0 CLASS\r\nBEGIN\r\n  MultiUse = -1  'True\r\nEND\r\n"
        'Attribute VB_Name = "Counter"\r\nAttribute VB_Exposed = False\r\n'
        "Public Count As Long\r\n"
    )
    module = class_module("Counter", exported)
    assert "VERSION" not in module.code and "MultiUse" not in module.code
    assert module.code.endswith("Attribute VB_Customizable = False\r\nPublic Count As Long\r\n")
    vba_bin = build_vba_project({"Counter": exported})
    assert read_vba_modules(vba_bin)["Counter"] == module.code
    assert "Class=Counter\r\n" in _stream(vba_bin, "PROJECT").decode()


@pytest.mark.parametrize(
    ("modules", "message"),
    [
        ({"1bad": "Sub A()\r\nEnd Sub\r\n"}, "not valid"),
        ({"A" * 32: ""}, "not valid"),
        ({"Tools": 'Attribute VB_Name = "Other"\r\n'}, "declares"),
        ({"Tools": "' \u20ac ok\r\n' \u4e2d\r\n"}, "line 2"),
        ({"Tools": "", "TOOLS": ""}, "used twice"),
        ({"sheet1": "", "Tools": ""}, None),
    ],
)
def test_bad_modules_are_refused(modules: dict[str, str], message: str | None) -> None:
    if message is None:  # a module named like a sheet's code name supplies its code
        build_vba_project(modules, sheet_code_names=["Sheet1"])
        return
    with pytest.raises(ValueError, match=message):
        build_vba_project(modules)


# --------------------------------------------------------------------------------------
# Project streams


def test_build_is_deterministic(template_bin: bytes) -> None:
    assert template_vba_project(SHEETS) == template_bin
    pairs = list(vba_sources().items())
    assert build_vba_project(pairs, sheet_code_names=SHEETS) == template_bin
    objects = [module_from_source(name, src) for name, src in pairs]
    assert build_vba_project(objects, sheet_code_names=SHEETS) == template_bin
    assert template_vba_project(SHEETS[:-1]) != template_bin


def test_project_stream(template_bin: bytes) -> None:
    text = _stream(template_bin, "PROJECT").decode("cp1252")
    lines = text.split("\r\n")
    assert lines[0] == f'ID="{PROJECT_ID}"'
    assert lines[1:18] == [
        "Document=ThisWorkbook/&H00000000",
        *(f"Document={s}/&H00000000" for s in SHEETS),
        "Module=CRMRibbon",
        "Class=Dictionary",
        "Module=xlwings",
    ]
    assert lines[18:21] == ['Name="VBAProject"', 'HelpContextID="0"',
                            'VersionCompatible32="393222000"']
    assert text.endswith(
        "\r\n\r\n[Host Extender Info]\r\n"
        "&H00000001={3832D640-CF90-11CF-8E43-00A0C911005A};VBE;&H00000000\r\n"
    )
    values = dict(re.findall(r'^(CMG|DPB|GC)="([0-9A-F]+)"\r$', text, re.M))
    # Unprotected, no password, visible.
    assert _decrypt(values["CMG"], PROJECT_ID) == b"\x00\x00\x00\x00"
    assert _decrypt(values["DPB"], PROJECT_ID) == b"\x00"
    assert _decrypt(values["GC"], PROJECT_ID) == b"\xff"


def test_decryption_used_above_reads_excels_values() -> None:
    text = _stream(_excel_saved_project(), "PROJECT").decode("cp1252")
    project_id = re.search(r'^ID="(\{[^}]+\})"', text).group(1)
    values = dict(re.findall(r'^(CMG|DPB|GC)="([0-9A-F]+)"\r$', text, re.M))
    assert _decrypt(values["CMG"], project_id) == b"\x00\x00\x00\x00"
    assert _decrypt(values["DPB"], project_id) == b"\x00"
    assert _decrypt(values["GC"], project_id) == b"\xff"


@given(st.binary(max_size=40), st.integers(0, 255))
def test_encryption_round_trips(data: bytes, seed: int) -> None:
    assert _decrypt(encrypt(PROJECT_ID, data, seed), PROJECT_ID) == data


def test_dir_stream_records(template_bin: bytes) -> None:
    records = _dir_records(template_bin)
    ids = [rid for rid, _ in records]
    assert ids[0] == 0x0001 and ids[-1] == 0x0010
    info = dict(records[:14])
    assert struct.unpack("<H", info[0x0003]) == (1252,)  # code page
    assert info[0x0004] == b"VBAProject"
    names = [data.decode() for rid, data in records if rid == 0x0016]
    assert names == [ref.name for ref in DEFAULT_REFERENCES] == ["stdole", "Office"]
    libids = [data[4:4 + struct.unpack_from("<I", data)[0]].decode()
              for rid, data in records if rid == 0x000D]
    assert libids[1] == OFFICE_REFERENCE.libid
    # Same Office library (GUID and version) as the project Excel saved for xlwings.
    excel_libids = [data[4:].decode("cp1252", "replace")
                    for rid, data in _dir_records(_excel_saved_project()) if rid == 0x000D]
    assert any("{2DF8D04C-5BFA-101B-BDE5-00AA0044DE52}#2.0#0#" in x for x in excel_libids)
    assert OFFICE_REFERENCE.libid.startswith(r"*\G{2DF8D04C-5BFA-101B-BDE5-00AA0044DE52}#2.0#0#")

    module_names = [data.decode() for rid, data in records if rid == 0x0019]
    types = [rid for rid, _ in records if rid in (0x0021, 0x0022)]
    kinds = dict(zip(module_names, types, strict=True))
    assert kinds["xlwings"] == kinds["CRMRibbon"] == 0x0021  # procedural
    assert kinds["Dictionary"] == kinds["ThisWorkbook"] == kinds["Sheet13"] == 0x0022
    assert [data for rid, data in records if rid == 0x000F] == [struct.pack("<H", 17)]
    offsets = {data for rid, data in records if rid == 0x0031}
    assert offsets == {b"\x00\x00\x00\x00"}  # source at offset 0: no p-code cache


def test_version_independent_vba_project_stream(template_bin: bytes) -> None:
    # Version 0xFFFF: Excel ignores any cache and compiles from source.
    assert _stream(template_bin, "VBA/_VBA_PROJECT") == bytes.fromhex("CC61FFFF000100")
    wm = _stream(template_bin, "PROJECTwm")
    assert wm.startswith(b"ThisWorkbook\x00" + "ThisWorkbook".encode("utf-16-le") + b"\x00\x00")
    assert wm.endswith(b"xlwings\x00" + "xlwings".encode("utf-16-le") + b"\x00\x00\x00\x00")


# --------------------------------------------------------------------------------------
# Compression ([MS-OVBA] 2.4.1)


def test_compression_known_answers() -> None:
    # [MS-OVBA] 3.2.1: no repeated bytes, every token a literal.
    assert compress(b"abcdefghijklmnopqrstuv.") == bytes.fromhex(
        "01 19 B0 00 61 62 63 64 65 66 67 68 00 69 6A 6B 6C 6D 6E 6F 70 00 71 72 73 74 75 76 2E"
    )
    # One literal, then one overlapping copy token (offset 1, length 14).
    assert compress(b"a" * 15) == bytes.fromhex("01 03 B0 02 61 0B 00")
    assert compress(b"") == b"\x01"


text_like = st.text(alphabet="ab \r\n'Sub()", max_size=20_000).map(str.encode)


@settings(max_examples=60, deadline=None)
@given(st.one_of(text_like, st.binary(max_size=3000)))
def test_compression_round_trips_through_oletools(data: bytes) -> None:
    assert decompress_stream(bytearray(compress(data))) == data


@settings(max_examples=10, deadline=None)
@given(st.binary(min_size=3641, max_size=9000))
def test_incompressible_chunks_are_raw(data: bytes) -> None:
    # A raw chunk always holds 4096 bytes; the spec pads the last one with zeros.
    out = decompress_stream(bytearray(compress(data)))
    assert out[: len(data)] == data and set(out[len(data):]) <= {0}


def test_real_source_compresses(template_bin: bytes) -> None:
    source = (VBA_SOURCE_DIR / "xlwings.bas").read_bytes()
    packed = _stream(template_bin, "VBA/xlwings")
    assert len(packed) < len(source) / 2
    assert decompress_stream(bytearray(packed)) == source


# --------------------------------------------------------------------------------------
# Compound file


RED, BLACK = 0, 1  # directory entry colours ([MS-CFB] 2.6.1)


def _check_red_black(ole: olefile.OleFileIO) -> None:
    """Every storage's children form a binary search tree in CFB order that is red-black."""
    entries = ole.direntries

    def key(sid: int) -> tuple[int, str]:
        return len(entries[sid].name), entries[sid].name.upper()

    def walk(sid: int, lo: tuple | None, hi: tuple | None, parent_red: bool) -> int:
        if sid == olefile.NOSTREAM:
            return 1
        e = entries[sid]
        assert (lo is None or key(sid) > lo) and (hi is None or key(sid) < hi)
        red = e.color == RED
        assert not (red and parent_red), "red node with red parent"
        left = walk(e.sid_left, lo, key(sid), red)
        right = walk(e.sid_right, key(sid), hi, red)
        assert left == right, "paths with different numbers of black nodes"
        return left + (0 if red else 1)

    for e in entries:
        if e is not None and e.sid_child != olefile.NOSTREAM:
            assert entries[e.sid_child].color == BLACK
            walk(e.sid_child, None, None, False)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 8, 15, 16, 33])
def test_compound_file_directory_is_a_red_black_tree(n: int) -> None:
    streams = {f"S/{'x' * (i % 5)}{i}": bytes([i]) * i for i in range(n)}
    data = write_compound_file(streams)
    with olefile.OleFileIO(data, raise_defects=olefile.DEFECT_INCORRECT) as ole:
        _check_red_black(ole)
        for path, payload in streams.items():
            assert ole.openstream(path).read() == payload


def test_compound_file_large_and_small_streams() -> None:
    streams = {
        "PROJECT": b"p" * 10,
        "big": bytes(range(256)) * 800,  # 204800 bytes: regular sectors, 4 FAT sectors
        "VBA/exactly4096": b"e" * 4096,  # the mini-stream cutoff itself: regular sectors
        "VBA/just_under": b"u" * 4095,
        "VBA/empty": b"",
    }
    data = write_compound_file(streams)
    assert data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    assert len(data) % 512 == 0
    with olefile.OleFileIO(data, raise_defects=olefile.DEFECT_INCORRECT) as ole:
        for path, payload in streams.items():
            assert ole.openstream(path).read() == payload
        assert ole.get_size("big") == 204800
        _check_red_black(ole)


def test_compound_file_refuses_what_it_cannot_write() -> None:
    with pytest.raises(ValueError, match="DIFAT"):
        write_compound_file({"huge": bytes(7_300_000)})
    with pytest.raises(ValueError, match="invalid"):
        write_compound_file({"x" * 32: b""})
    with pytest.raises(ValueError, match="duplicate"):
        write_compound_file({"A/b": b"", "A/B": b""})


def test_template_project_is_a_strictly_valid_compound_file(template_bin: bytes) -> None:
    with olefile.OleFileIO(template_bin, raise_defects=olefile.DEFECT_INCORRECT) as ole:
        _check_red_black(ole)
        assert sorted("/".join(p) for p in ole.listdir()) == sorted(
            ["PROJECT", "PROJECTwm", "VBA/_VBA_PROJECT", "VBA/dir",
             *(f"VBA/{m}" for m in ["ThisWorkbook", *SHEETS, "CRMRibbon", "Dictionary",
                                    "xlwings"])]
        )
        for entry in ole.direntries:
            if entry is not None:  # no timestamps: builds are reproducible
                assert entry.createTime == entry.modifyTime == 0
