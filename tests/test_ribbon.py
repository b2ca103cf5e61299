"""Ribbon XML, its VBA callbacks, and packaging a workbook as .xlsm with VBA and ribbon."""

from __future__ import annotations

import functools
import io
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from xlcrm import schema
from xlcrm.book.ribbon import (
    CONTENT_TYPES,
    CT_VBA_PROJECT,
    CUSTOMUI14_NS,
    REL_CUSTOMUI14,
    REL_VBA_PROJECT,
    ZIP_EPOCH,
    inject_ribbon,
    make_xlsm,
    read_zip,
    ribbon_callbacks,
    workbook_code_names,
    write_zip,
)
from xlcrm.book.vba import VBA_SOURCE_DIR, build_vba_project, read_vba_modules, template_vba_project

CUSTOMUI = Path(__file__).resolve().parents[1] / "workbook" / "customUI14.xml"
CRM_RIBBON = VBA_SOURCE_DIR / "CRMRibbon.bas"
NS = {"ui": CUSTOMUI14_NS}
CT = "{http://schemas.openxmlformats.org/package/2006/content-types}"
REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"

# Attributes [MS-CUSTOMUI2] allows on these elements (the subset a reviewer can check).
ALLOWED = {
    "tab": {"id", "label", "insertAfterMso", "insertBeforeMso", "keytip", "visible", "tag"},
    "group": {"id", "label", "imageMso", "keytip", "visible", "tag"},
    "button": {"id", "label", "size", "imageMso", "onAction", "screentip", "supertip",
               "keytip", "showLabel", "showImage", "enabled", "visible", "tag"},
}


def _subs(vba: str) -> dict[str, tuple[str, str]]:
    """Sub name -> (parameter list, body) of every Sub in VBA source."""
    found = re.finditer(
        r"^(?:Public |Private )?Sub (\w+)\(([^)]*)\)\r?\n(.*?)^End Sub", vba, re.M | re.S
    )
    return {m.group(1): (m.group(2).strip(), m.group(3)) for m in found}


@functools.cache
def _small_xlsx(code_names: bool = True) -> bytes:
    """A two-sheet workbook as openpyxl saves it; made once (its core.xml holds a time)."""
    wb = Workbook()
    ws = wb.active
    ws.title = schema.HELP
    ws["A1"] = "Read me first"
    data = wb.create_sheet("Data")
    data["A1"], data["A2"], data["B1"] = 2, 3, "=SUM(A1:A2)*2"
    if code_names:
        wb.code_name = "ThisWorkbook"
        ws.sheet_properties.codeName = "Sheet1"
        data.sheet_properties.codeName = "Sheet2"
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def xlsm() -> bytes:
    vba = template_vba_project(["Sheet1", "Sheet2"])
    return inject_ribbon(make_xlsm(_small_xlsx(), vba), CUSTOMUI.read_bytes())


# --------------------------------------------------------------------------------------
# The ribbon XML and the CRMRibbon module


def test_customui_is_a_crm_tab_with_five_buttons() -> None:
    root = ET.fromstring(CUSTOMUI.read_bytes())
    assert root.tag == f"{{{CUSTOMUI14_NS}}}customUI"
    tabs = root.findall("ui:ribbon/ui:tabs/ui:tab", NS)
    assert [t.get("label") for t in tabs] == ["CRM"]
    buttons = tabs[0].findall(".//ui:button", NS)
    assert [b.get("label") for b in buttons] == [
        "Resegment", "Check", "Sync judgments", "Import orders", "Make shareable copy", "Help"
    ]
    assert all(b.get("imageMso") and b.get("supertip") for b in buttons)
    ids = [e.get("id") for e in root.iter() if e.get("id")]
    assert len(ids) == len(set(ids))
    for elem in root.iter():
        local = elem.tag.split("}")[1]
        assert elem.tag.startswith(f"{{{CUSTOMUI14_NS}}}")
        if local in ALLOWED:
            assert set(elem.attrib) <= ALLOWED[local], (local, set(elem.attrib))


def test_every_callback_is_a_ribbon_sub_in_crmribbon() -> None:
    callbacks = ribbon_callbacks(CUSTOMUI.read_bytes())
    assert callbacks == [
        "CRMRibbon.CRM_Resegment", "CRMRibbon.CRM_Check", "CRMRibbon.CRM_SyncJudgments",
        "CRMRibbon.CRM_ImportOrders", "CRMRibbon.CRM_Share", "CRMRibbon.CRM_Help",
    ]
    subs = _subs(CRM_RIBBON.read_bytes().decode())
    for callback in callbacks:
        module, sub = callback.split(".")
        assert module == "CRMRibbon"
        assert subs[sub][0] == "control As IRibbonControl"


@pytest.mark.parametrize(
    ("sub", "action"),
    [("CRM_Resegment", "resegment"), ("CRM_Check", "check")],
)
def test_python_actions_run_through_xlwings(sub: str, action: str) -> None:
    body = _subs(CRM_RIBBON.read_bytes().decode())[sub][1]
    assert f'RunPython "import udfs.ribbon; udfs.ribbon.{action}()"' in body


def test_import_orders_asks_for_the_file_and_passes_its_path() -> None:
    import udfs.ribbon

    body = _subs(CRM_RIBBON.read_bytes().decode())["CRM_ImportOrders"][1]
    assert "Application.GetOpenFilename(" in body
    assert "If VarType(exportFile) = vbBoolean Then Exit Sub" in body  # Cancel
    # VBA '""' is one '"': Python receives import_orders(r"C:\...\orders.csv").
    call = 'RunPython "import udfs.ribbon; udfs.ribbon.import_orders(r""" & exportFile & """)"'
    assert call in body
    assert callable(udfs.ribbon.import_orders)


def test_sync_judgments_asks_for_renames_and_passes_them() -> None:
    import udfs.ribbon

    body = _subs(CRM_RIBBON.read_bytes().decode())["CRM_SyncJudgments"][1]
    assert "Application.InputBox(" in body
    assert "If VarType(renames) = vbBoolean Then Exit Sub" in body  # Cancel
    # Python receives sync_judgments(renames=r"Old=New; ..."), quotes and backslashes removed.
    call = ('RunPython "import udfs.ribbon; udfs.ribbon.sync_judgments(renames=r""" & renames '
            '& """)"')
    assert call in body
    assert 'Replace(Replace(renames, """", ""), "\\", "")' in body
    assert callable(udfs.ribbon.sync_judgments)


def test_share_asks_for_a_manager_listing_the_managers_and_passes_the_name() -> None:
    import inspect

    import udfs.ribbon

    vba = CRM_RIBBON.read_bytes().decode()
    body = _subs(vba)["CRM_Share"][1]
    assert "Application.InputBox(" in body and "ManagerList()" in body
    assert "If VarType(manager) = vbBoolean Then Exit Sub" in body  # Cancel
    call = 'RunPython "import udfs.ribbon; udfs.ribbon.share(manager=r""" & manager & """)"'
    assert call in body
    assert 'Replace(Replace(manager, """", ""), "\\", "")' in body
    function = re.search(r"^Private Function ManagerList\(\) As String\r?\n(.*?)^End Function",
                         vba, re.M | re.S)
    assert function and '.ListColumns("AccountManager")' in function.group(1)
    assert "manager" in inspect.signature(udfs.ribbon.share).parameters


def test_help_needs_no_python() -> None:
    body = _subs(CRM_RIBBON.read_bytes().decode())["CRM_Help"][1]
    assert "RunPython" not in body
    assert f'Worksheets("{schema.HELP}")' in body and ".Activate" in body


def test_olevba_lists_every_callback_in_the_workbook(xlsm: bytes) -> None:
    modules = read_vba_modules(xlsm)
    assert {"xlwings", "Dictionary", "CRMRibbon"} <= set(modules)
    subs = _subs(modules["CRMRibbon"])
    parts = read_zip(xlsm)
    for callback in ribbon_callbacks(parts["customUI/customUI14.xml"]):
        assert callback.split(".")[1] in subs


def test_ribbon_callbacks_reads_all_callback_attributes() -> None:
    xml = (
        f'<customUI xmlns="{CUSTOMUI14_NS}" onLoad="M.Loaded" loadImage="M.Img">'
        '<ribbon><tabs><tab id="t" getLabel="M.Label"><group id="g">'
        '<button id="b" onAction="M.Go" getEnabled="M.On" label="once"/>'
        '<button id="c" onAction="M.Go" online="x"/>'
        "</group></tab></tabs></ribbon></customUI>"
    ).encode()
    assert ribbon_callbacks(xml) == ["M.Loaded", "M.Img", "M.Label", "M.Go", "M.On"]


@pytest.mark.parametrize(
    "xml",
    [
        b"<customUI xmlns='http://schemas.microsoft.com/office/2009/07/customui'>",
        b"<customUI xmlns='http://schemas.microsoft.com/office/2006/01/customui'/>",
        b"<ribbon/>",
    ],
)
def test_bad_ribbon_xml_is_refused(xml: bytes) -> None:
    with pytest.raises(ValueError, match="ribbon XML"):
        ribbon_callbacks(xml)
    with pytest.raises(ValueError, match="ribbon XML"):
        inject_ribbon(_small_xlsx(), xml)


# --------------------------------------------------------------------------------------
# Packaging


def test_xlsm_parts_content_types_and_relationships(xlsm: bytes) -> None:
    parts = read_zip(xlsm)
    assert next(iter(parts)) == CONTENT_TYPES
    types = ET.fromstring(parts[CONTENT_TYPES])
    overrides = {o.get("PartName"): o.get("ContentType") for o in types.iter(f"{CT}Override")}
    defaults = {d.get("Extension"): d.get("ContentType") for d in types.iter(f"{CT}Default")}
    assert overrides["/xl/workbook.xml"] == "application/vnd.ms-excel.sheet.macroEnabled.main+xml"
    assert overrides["/xl/vbaProject.bin"] == CT_VBA_PROJECT
    assert defaults["xml"] == "application/xml"  # covers customUI/customUI14.xml

    root_rels = ET.fromstring(parts["_rels/.rels"]).findall(f"{REL}Relationship")
    ui = [r for r in root_rels if r.get("Type") == REL_CUSTOMUI14]
    assert [r.get("Target") for r in ui] == ["customUI/customUI14.xml"]
    wb_rels = ET.fromstring(parts["xl/_rels/workbook.xml.rels"]).findall(f"{REL}Relationship")
    vba = [r for r in wb_rels if r.get("Type") == REL_VBA_PROJECT]
    assert [r.get("Target") for r in vba] == ["vbaProject.bin"]
    for rels in (root_rels, wb_rels):
        ids = [r.get("Id") for r in rels]
        assert len(ids) == len(set(ids))
    assert parts["customUI/customUI14.xml"] == CUSTOMUI.read_bytes()
    assert parts["xl/vbaProject.bin"] == template_vba_project(["Sheet1", "Sheet2"])


def test_parts_not_owned_keep_their_bytes(xlsm: bytes) -> None:
    before = read_zip(_small_xlsx())
    after = read_zip(xlsm)
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {CONTENT_TYPES, "_rels/.rels", "xl/_rels/workbook.xml.rels"}
    assert set(after) - set(before) == {"xl/vbaProject.bin", "customUI/customUI14.xml"}


def test_openpyxl_opens_the_xlsm_and_keeps_its_vba(xlsm: bytes) -> None:
    wb = load_workbook(io.BytesIO(xlsm), keep_vba=True)
    assert wb.sheetnames == [schema.HELP, "Data"]
    assert wb["Data"]["B1"].value == "=SUM(A1:A2)*2"
    assert wb.vba_archive is not None
    assert "xl/vbaProject.bin" in wb.vba_archive.namelist()
    wb.vba_archive.close()  # openpyxl keeps it open for a later save
    assert workbook_code_names(xlsm) == ("ThisWorkbook", [(schema.HELP, "Sheet1"),
                                                          ("Data", "Sheet2")])


def test_packaging_is_deterministic(xlsm: bytes) -> None:
    again = inject_ribbon(
        make_xlsm(_small_xlsx(), template_vba_project(["Sheet1", "Sheet2"])),
        CUSTOMUI.read_bytes(),
    )
    assert again == xlsm
    with zipfile.ZipFile(io.BytesIO(xlsm)) as z:
        assert {info.date_time for info in z.infolist()} == {ZIP_EPOCH}


def test_injecting_again_replaces_the_ribbon(xlsm: bytes) -> None:
    other = CUSTOMUI.read_bytes().replace(b'label="CRM"', b'label="CRM 2"')
    parts = read_zip(inject_ribbon(xlsm, other))
    assert parts["customUI/customUI14.xml"] == other
    assert parts["_rels/.rels"].count(REL_CUSTOMUI14.encode()) == 1
    assert parts[CONTENT_TYPES] == read_zip(xlsm)[CONTENT_TYPES]


def test_make_xlsm_replaces_a_vba_project_already_there(xlsm: bytes) -> None:
    smaller = build_vba_project({}, sheet_code_names=["Sheet1", "Sheet2"])
    parts = read_zip(make_xlsm(xlsm, smaller))
    assert parts["xl/vbaProject.bin"] == smaller
    assert parts["xl/_rels/workbook.xml.rels"].count(REL_VBA_PROJECT.encode()) == 1
    assert parts[CONTENT_TYPES].count(CT_VBA_PROJECT.encode()) == 1


def test_content_type_override_is_added_without_an_xml_default() -> None:
    parts = read_zip(_small_xlsx())
    parts[CONTENT_TYPES] = parts[CONTENT_TYPES].replace(
        b'<Default Extension="xml" ContentType="application/xml" />', b""
    )
    assert b'Extension="xml"' not in parts[CONTENT_TYPES]
    out = read_zip(inject_ribbon(write_zip(parts), CUSTOMUI.read_bytes()))
    assert (b'<Override PartName="/customUI/customUI14.xml" ContentType="application/xml"/>'
            in out[CONTENT_TYPES])


@pytest.mark.parametrize(
    ("sheets", "code_names", "message"),
    [
        (["Sheet1"], True, "'Sheet2' has no document module"),
        (["Sheet1", "Sheet2", "Sheet3"], True, "'Sheet3' belongs to no sheet"),
        (["Sheet1", "Sheet2"], False, "has no codeName"),
    ],
)
def test_make_xlsm_refuses_mismatched_code_names(
    sheets: list[str], code_names: bool, message: str
) -> None:
    vba = build_vba_project({}, sheet_code_names=sheets)
    with pytest.raises(ValueError, match=message):
        make_xlsm(_small_xlsx(code_names), vba)


def test_prefixed_package_parts_are_refused_not_mis_edited() -> None:
    parts = read_zip(_small_xlsx())
    parts["_rels/.rels"] = parts["_rels/.rels"].replace(b"<Relationships xmlns=",
                                                        b"<p:Relationships xmlns:p=")
    parts["_rels/.rels"] = parts["_rels/.rels"].replace(b"<Relationship ", b"<p:Relationship ")
    parts["_rels/.rels"] = parts["_rels/.rels"].replace(b"</Relationships>",
                                                        b"</p:Relationships>")
    with pytest.raises(ValueError, match="prefix"):
        inject_ribbon(write_zip(parts), CUSTOMUI.read_bytes())


def test_write_zip_puts_content_types_first() -> None:
    data = write_zip({"b.xml": b"<b/>", CONTENT_TYPES: b"<Types/>", "a.xml": b"<a/>"})
    assert list(read_zip(data)) == [CONTENT_TYPES, "b.xml", "a.xml"]
    with pytest.raises(ValueError, match="relative"):
        write_zip({"/abs.xml": b""})


# --------------------------------------------------------------------------------------
# LibreOffice: an independent reader of the package and of the VBA project


@pytest.mark.libreoffice
@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) not installed")
def test_libreoffice_opens_the_xlsm_and_imports_its_vba(xlsm: bytes, tmp_path: Path) -> None:
    book = tmp_path / "crm.xlsm"
    book.write_bytes(xlsm)
    profile = (tmp_path / "profile").as_uri()
    for fmt in ("pdf", "ods"):
        subprocess.run(
            ["soffice", f"-env:UserInstallation={profile}", "--headless", "--convert-to", fmt,
             "--outdir", str(tmp_path), str(book)],
            check=True, capture_output=True, timeout=180,
        )
    assert (tmp_path / "crm.pdf").read_bytes().startswith(b"%PDF")
    with zipfile.ZipFile(tmp_path / "crm.ods") as ods:
        basic = {
            Path(name).stem: ods.read(name).decode()
            for name in ods.namelist() if name.startswith("Basic/VBAProject/")
            and name.endswith(".xml") and not name.endswith("script-lb.xml")
        }
    # LibreOffice's own VBA import found every module, with its kind.
    assert set(basic) == {"ThisWorkbook", "Sheet1", "Sheet2", "CRMRibbon", "Dictionary",
                          "xlwings"}
    assert 'script:moduleType="document"' in basic["ThisWorkbook"]
    assert 'script:moduleType="document"' in basic["Sheet2"]
    assert 'script:moduleType="class"' in basic["Dictionary"]
    assert 'script:moduleType="normal"' in basic["xlwings"]
    assert "Public Sub CRM_Resegment(control As IRibbonControl)" in basic["CRMRibbon"]
    assert "Function RunPython(" in basic["xlwings"]
