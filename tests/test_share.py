"""The shareable copy (``xlcrm share``, ribbon "Make shareable copy"): values only, no macros.

Known answers come from the source file itself: every cell of the copy must equal the
value the source saved (read with the project's reader and, independently, by LibreOffice),
masked cells must read ``(masked)`` and nothing else may change.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import shutil
import subprocess
import zipfile
from datetime import date, datetime
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import openpyxl
import pytest
from fixtures.books import (
    ledger_frame,
    raw_parts,
    read_parts,
    rich_workbook,
    sheet_part,
    write_ledger_shared_strings,
    write_parts,
)
from fixtures.remote import enable_remote_engine, payload_from
from fixtures.validate import added_errors, validator_errors
from openpyxl.worksheet.table import Table

import udfs.ribbon as ribbon
from xlcrm import __version__, schema
from xlcrm import report as xlcrm_report
from xlcrm.book.read import open_workbook, resolve_target, sheet_parts
from xlcrm.book.share import (
    COVER_SHEET,
    MASK_TEXT,
    contact_columns,
    default_output,
    make_shareable,
)
from xlcrm.book.template import TEMPLATE_PATH, XLWINGS_CONF
from xlcrm.book.workbook_file import create_demo_workbook
from xlcrm.cli import main
from xlcrm.errors import InputError

MADE = datetime(2026, 5, 4, 9, 30)
CT_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
F_IN_CELLS = re.compile(rb"<(?:\w+:)?f[\s/>]")


def digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def sheet_data(xml: bytes) -> bytes:
    m = re.search(rb"<(?:\w+:)?sheetData\b.*?(?:</(?:\w+:)?sheetData>|/>)", xml, re.S)
    return m.group() if m else b""


def formula_cells(path: Path) -> int:
    """Cells with a formula in every worksheet part (counted on the XML)."""
    parts = read_parts(path)
    return sum(len(F_IN_CELLS.findall(sheet_data(x))) for n, x in parts.items()
               if n.startswith("xl/worksheets/sheet"))


def rows(path: Path, sheet: str) -> list[list]:
    with open_workbook(path) as wb:
        return wb.rows(sheet)


def sheet_names(path: Path) -> list[str]:
    with open_workbook(path) as wb:
        return list(wb.sheet_names)


def workbook_parts(path: Path) -> tuple[dict[str, bytes], dict[str, str]]:
    """All parts, and sheet name -> zip part (from the workbook part and its rels)."""
    parts = read_parts(path)
    names = re.findall(r'<sheet [^>]*?name="([^"]+)"', parts["xl/workbook.xml"].decode())
    return parts, {n: sheet_part(parts, n) for n in names}


#: Cells a masked copy of the 60-customer demo masks: Contact, Phone and Email of Customers
#: (180) and Name, Phone and Email of its 221 people on Contacts.
MASKED = 180 + 3 * 221


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("share") / "demo.xlsm"
    create_demo_workbook(path, customers=60)
    return path


@pytest.fixture(scope="module")
def copy(demo) -> tuple[Path, object, str]:
    before = digest(demo)
    out = demo.with_name("copy.xlsx")
    report = make_shareable(demo, out, made=MADE)
    return out, report, before


@pytest.fixture(scope="module")
def masked(demo) -> tuple[Path, object]:
    out = demo.with_name("masked.xlsx")
    return out, make_shareable(demo, out, mask_contacts=True, made=MADE)


def problem_links(path: Path) -> dict[str, str]:
    """Problems sheet: cell -> the place in the workbook its hyperlink goes to."""
    ws = openpyxl.load_workbook(path)[schema.PROBLEMS]
    return {c.coordinate: c.hyperlink.location for row in ws.iter_rows() for c in row
            if c.hyperlink is not None and c.hyperlink.location}


# --------------------------------------------------------------------------------------------
# The copy of the demo workbook


def test_copy_is_a_macro_free_xlsx(demo, copy):
    out, report, before = copy
    parts = read_parts(out)
    names = [n.lower() for n in parts]
    src = read_parts(demo)
    assert "xl/vbaproject.bin" in [n.lower() for n in src]  # there was something to drop
    assert "customui/customui14.xml" in [n.lower() for n in src]
    assert not [n for n in names if "vbaproject" in n or n.startswith("customui")]
    ct = parts["[Content_Types].xml"].decode()
    assert f'PartName="/xl/workbook.xml" ContentType="{CT_XLSX}"' in ct
    assert "macroEnabled" not in ct and "vbaProject" not in ct
    assert "ui/extensibility" not in parts["_rels/.rels"].decode()
    assert "vbaProject" not in parts["xl/_rels/workbook.xml.rels"].decode()
    assert XLWINGS_CONF in sheet_names(demo)
    assert XLWINGS_CONF not in sheet_names(out)
    assert XLWINGS_CONF not in parts["xl/workbook.xml"].decode()
    # Every relationship of the copy leads to a part it holds, every part has a content type.
    for rels_name, xml in parts.items():
        if not rels_name.endswith(".rels"):
            continue
        source = rels_name.replace("_rels/", "").removesuffix(".rels")  # "" for the package
        for target, mode in re.findall(r'Target="([^"]+)"(?:[^>]*TargetMode="(\w+)")?',
                                       xml.decode()):
            if mode != "External":
                assert resolve_target(source, target) in parts, (rels_name, target)
    overrides = set(re.findall(r'PartName="/([^"]+)"', ct))
    defaults = set(re.findall(r'Extension="([^"]+)"', ct))
    for name in parts:
        assert name == "[Content_Types].xml" or name in overrides or \
            name.rsplit(".", 1)[-1] in defaults, name
    # openpyxl finds the workbook by its content type: it opens the copy as an .xlsx.
    wb = openpyxl.load_workbook(out, read_only=True)
    assert wb.sheetnames == sheet_names(out)
    assert digest(demo) == before  # the source is only read
    assert {"macros (VBA project)", "the custom ribbon"} <= set(report.removed)


def test_every_formula_is_replaced_by_its_saved_value(demo, copy):
    out, report, _ = copy
    n = formula_cells(demo)
    assert n == 50  # 33 on Judgments (reciprocals, weights, CRs), 17 links on Problems: 12
    # cell problems, 5 lines saying which blank Customers columns got the ledger's figures
    assert report.formulas == n
    assert formula_cells(out) == 0
    names = sheet_names(out)
    assert names[1:] == [s for s in sheet_names(demo) if s != XLWINGS_CONF]
    for sheet in names[1:]:
        assert rows(out, sheet) == rows(demo, sheet), sheet
    # Known answers: the weights, CR and a link label as the source saved them.
    judgments = rows(out, schema.JUDGMENTS)
    src_xml = read_parts(demo)[sheet_part(read_parts(demo), schema.JUDGMENTS)]
    f5 = re.search(rb'<c r="F5"[^>]*><f [^>]*>AHP_WEIGHTS\(B5:D7\)</f><v>([^<]+)</v>', src_xml)
    assert f5 and judgments[4][5] == float(f5.group(1))
    parts, where = workbook_parts(out)
    xml = parts[where[schema.JUDGMENTS]]
    # (s: whatever style index the template's styles give the weight cells)
    assert re.search(rb'<c r="F5" s="\d+"><v>' + re.escape(f5.group(1)) + rb"</v></c>", xml)
    # The link on Problems keeps its label as text: an inline string, since t="str" is for
    # a formula's result and the cell has no formula any more.
    problems = parts[where[schema.PROBLEMS]]
    assert re.search(rb'<c r="C2" t="inlineStr"><is><t>[A-Z]+\d+</t></is></c>', problems)
    assert b't="str"' not in problems


def test_cover_sheet_is_first_and_active_and_says_what_this_is(demo, copy):
    out, report, _ = copy
    names = sheet_names(out)
    assert names[0] == COVER_SHEET == report.cover
    parts, where = workbook_parts(out)
    wb = parts["xl/workbook.xml"].decode()
    assert re.search(r'<workbookView [^>]*activeTab="0"', wb)
    selected = [n for n, p in where.items() if b'tabSelected="1"' in parts[p]]
    assert selected == [COVER_SHEET]
    cover = {r[0]: r[1] if len(r) > 1 else "" for r in rows(out, COVER_SHEET) if r and r[0]}
    assert rows(out, COVER_SHEET)[0][0] == "Shareable copy of demo.xlsm"
    assert cover["Source workbook"] == "demo.xlsm"
    stamp = re.search(r"Computed (\S+ \S+) by xlcrm", rows(demo, schema.DASHBOARD)[1][0])
    assert stamp and report.computed == stamp.group(1)
    assert cover["Results computed"].startswith(f"{stamp.group(1)} by xlcrm")
    assert cover["Copy made"] == "2026-05-04 09:30"
    assert f"xlcrm {__version__}" in cover["What this is"]
    assert "no macros" in cover["What this is"]
    assert cover["Contact details"].startswith("not masked")
    assert cover["Formulas replaced by values"] == "50 cells"
    listed = [r[0] for r in rows(out, COVER_SHEET)[
        [r[0] for r in rows(out, COVER_SHEET)].index("Sheets in this copy") + 1:]]
    assert listed == names


def test_never_computed_is_said_clearly(tmp_path):
    src = tmp_path / "template.xlsm"
    shutil.copyfile(TEMPLATE_PATH, src)
    report = make_shareable(src, tmp_path / "t.xlsx", made=MADE)
    assert report.computed is None
    cover = {r[0]: r[1] for r in rows(tmp_path / "t.xlsx", COVER_SHEET) if len(r) > 1 and r[0]}
    assert cover["Results computed"].startswith("never:")
    assert formula_cells(tmp_path / "t.xlsx") == 0
    assert report.formulas == formula_cells(src) > 0  # the template's reciprocals and weights


def test_mask_contacts(demo, masked, copy):
    out, report = masked
    src = rows(demo, schema.CUSTOMERS)
    got = rows(out, schema.CUSTOMERS)
    header = src[0]
    contact = [header.index(c) for c in schema.CONTACT_COLUMNS]
    expected = sum(1 for r in src[1:] for j in contact if r[j] != "")
    people = rows(demo, schema.CONTACTS)
    person = [people[0].index(c) for c in ("Name", "Phone", "Email")]
    on_contacts = sum(1 for r in people[1:] for j in person if r[j] != "")
    assert expected == 180 and on_contacts == 3 * (len(people) - 1)
    assert report.masked_cells == expected + on_contacts == MASKED
    assert report.masked == {schema.CUSTOMERS: schema.CONTACT_COLUMNS, schema.CONTACTS: (
        "every column but CustomerID, Role, Stance, LastContact",)}
    assert got[0] == header  # the header stays
    for s, g in zip(src[1:], got[1:], strict=True):
        for j, (a, b) in enumerate(zip(s, g, strict=True)):
            if j in contact and a != "":
                assert b == MASK_TEXT
            else:
                assert a == b
    for sheet in sheet_names(out)[1:]:
        if sheet not in (schema.CUSTOMERS, schema.CONTACTS):
            assert rows(out, sheet) == rows(demo, sheet), sheet
    assert "<dc:creator>xlcrm</dc:creator>" in read_parts(demo)["docProps/core.xml"].decode()
    # Document properties hold only the copy's dates, masked or not.
    for path in (out, copy[0]):
        core = read_parts(path)["docProps/core.xml"].decode()
        assert "creator" not in core and "lastModifiedBy" not in core and "title" not in core
        assert re.findall(r"<(dcterms:\w+)", core) == ["dcterms:created", "dcterms:modified"]
    cover = {r[0]: r[1] for r in rows(out, COVER_SHEET) if len(r) > 1 and r[0]}
    assert cover["Contact details"].startswith(f"masked: {MASKED} cells")


def test_masking_scrubs_shared_strings_and_drops_links_on_masked_cells(tmp_path):
    frame = ledger_frame(12, seed=1)
    frame.loc[0, "Name"] = frame.loc[0, "Contact"]  # one shared string, in two columns
    src = write_ledger_shared_strings(tmp_path / "sst.xlsx", frame)
    parts = read_parts(src)
    sheet = parts["xl/worksheets/sheet1.xml"]
    links = (b'<hyperlinks><hyperlink ref="H2" r:id="rIdMail"/>'
             b'<hyperlink ref="B2" r:id="rIdWeb"/></hyperlinks>')
    parts["xl/worksheets/sheet1.xml"] = sheet.replace(b"</worksheet>", links + b"</worksheet>")
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/hyperlink"
    parts["xl/worksheets/_rels/sheet1.xml.rels"] = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="'
        'http://schemas.openxmlformats.org/package/2006/relationships">'
        f'<Relationship Id="rIdMail" Type="{rel}" Target="mailto:{frame.loc[0, "Email"]}" '
        'TargetMode="External"/>'
        f'<Relationship Id="rIdWeb" Type="{rel}" Target="https://example.com/c0" '
        'TargetMode="External"/></Relationships>').encode()
    write_parts(src, parts)

    out = tmp_path / "sst-copy.xlsx"
    report = make_shareable(src, out, mask_contacts=True, made=MADE)
    got = read_parts(out)
    # No masked value is left in the file, but the one an unmasked cell shares is kept,
    # and every other string keeps its position.
    sst = got["xl/sharedStrings.xml"].decode()
    for c in ("Phone", "Email"):
        assert not any(str(v) in sst for v in frame[c])
    assert sst.count(f">{frame.loc[0, 'Contact']}<") == 1
    assert not any(f">{v}<" in sst for v in frame.loc[1:, "Contact"])
    assert sst.count("<si>") == parts["xl/sharedStrings.xml"].decode().count("<si>")
    grid = rows(out, schema.CUSTOMERS)
    header = grid[0]
    assert grid[1][header.index("Name")] == frame.loc[0, "Contact"]  # shares the masked string
    for c in schema.CONTACT_COLUMNS:
        assert {r[header.index(c)] for r in grid[1:]} == {MASK_TEXT}
    assert report.masked_cells == 36 and report.links_removed == 1
    xml = got["xl/worksheets/sheet1.xml"]
    assert b'ref="H2"' not in xml and b'<hyperlink ref="B2" r:id="rIdWeb"/>' in xml
    sheet_rels = got["xl/worksheets/_rels/sheet1.xml.rels"].decode()
    assert "mailto:" not in sheet_rels and "rIdWeb" in sheet_rels


def test_masking_finds_contact_columns_on_other_sheets_and_tables(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = schema.CUSTOMERS
    ws.append(["CustomerID", "Name", "Email"])
    ws.append(["C1", "Acme", "a@acme.example"])
    ws.append(["C2", "Bolt", None])  # blank stays blank
    visits = wb.create_sheet("Visits")
    visits.append(["CustomerID", "Phone", "Note"])
    visits.append(["C1", "+49 1", "called"])
    calls = wb.create_sheet("Calls")
    calls["A1"] = "Calls this week"
    calls.append([])
    calls["C3"], calls["D3"] = "Who", "email"  # a table at C3 (header matched ignoring case)
    calls["C4"], calls["D4"] = "Acme", "x@acme.example"
    calls.add_table(Table(displayName="tblCalls", ref="C3:D4"))
    calls["D6"] = "not part of the table"
    src = tmp_path / "own.xlsx"
    wb.save(src)
    out = tmp_path / "own-copy.xlsx"
    report = make_shareable(src, out, mask_contacts=True, made=MADE)
    assert report.masked == {schema.CUSTOMERS: ("Email",), "Visits": ("Phone",),
                             "Calls": ("email",)}  # the header as the sheet spells it
    assert rows(out, schema.CUSTOMERS)[1:] == [["C1", "Acme", MASK_TEXT], ["C2", "Bolt", ""]]
    assert rows(out, "Visits")[1] == ["C1", MASK_TEXT, "called"]
    calls_rows = rows(out, "Calls")
    assert calls_rows[3][2:] == ["Acme", MASK_TEXT]
    assert calls_rows[5][3] == "not part of the table"
    assert report.masked_cells == 3


def test_contact_headers_are_recognised_by_synonym_not_by_accident():
    """Headers match after case, spaces, hyphens, dots and a trailing number are ignored;
    a header that merely contains a contact word is not one ("Emailed"), and "Cell" is a
    cell address in a workbook (the Problems sheet), not a mobile phone."""
    headers = {0: "E-mail 2", 1: "Cell", 2: "Tel.", 3: "联系人", 4: "Emailed", 5: "Phone number",
               6: " CONTACT PERSON ", 7: "Revenue12m", 8: "微信"}
    assert contact_columns(headers) == {0: "E-mail 2", 2: "Tel.", 3: "联系人",
                                         5: "Phone number", 6: "CONTACT PERSON", 8: "微信"}


def test_defined_names_follow_their_sheets(demo, tmp_path):
    """localSheetId is a tab position: renumbered around the cover and the dropped sheet."""
    parts = read_parts(demo)
    wb = parts["xl/workbook.xml"].decode()
    conf = re.search(r'<sheet name="xlwings\.conf"[^>]*/>', wb).group()
    wb = wb.replace(conf, "")
    help_el = re.search(r'<sheet name="Help"[^>]*/>', wb).group()
    wb = wb.replace(help_el, help_el + conf)  # Help, xlwings.conf, Dashboard, ...
    order = re.findall(r'<sheet name="([^"]+)"', wb)
    pos = {n: i for i, n in enumerate(order)}
    names = (
        f'<definedName name="_xlnm.Print_Area" localSheetId="{pos["Help"]}">Help!$A$1:$B$5'
        "</definedName>"
        f'<definedName name="_xlnm.Print_Area" localSheetId="{pos["Dashboard"]}">'
        "Dashboard!$A$1:$J$20</definedName>"
        f'<definedName name="_xlnm.Print_Titles" localSheetId="{pos["Problems"]}">'
        "Problems!$1:$1</definedName>"
        f'<definedName name="Conf" localSheetId="{pos[XLWINGS_CONF]}">'
        "'xlwings.conf'!$A$1</definedName>"
        "<definedName name=\"Interpreter\">'xlwings.conf'!$B$1</definedName>"
        '<definedName name="Weights">Judgments!$F$5:$F$7</definedName>'
    )
    wb = wb.replace("<definedNames>", "<definedNames>" + names)
    parts["xl/workbook.xml"] = wb.encode()
    src = write_parts(tmp_path / "names.xlsm", parts)
    out = tmp_path / "names.xlsx"
    make_shareable(src, out, made=MADE)
    new_wb = read_parts(out)["xl/workbook.xml"].decode()
    new_order = re.findall(r'<sheet name="([^"]+)"', new_wb)
    local = re.findall(r'<definedName name="([^"]+)" localSheetId="(\d+)">([^<]*)<', new_wb)
    assert len(local) == 3
    for _, sid, text in local:
        assert text.startswith(new_order[int(sid)] + "!"), (sid, text)
    assert "xlwings.conf" not in new_wb and "Interpreter" not in new_wb
    assert '<definedName name="Weights">Judgments!$F$5:$F$7</definedName>' in new_wb
    assert '<definedName name="CustomerIDs">tblCustomers[CustomerID]</definedName>' in new_wb


def cached(xml: bytes) -> bytes:
    """Give every formula cell of an openpyxl sheet a saved value (its row number)."""
    return re.sub(
        rb'(<c r="[A-Z]+(\d+)"[^>]*>)(<f>[^<]*</f>)(<v\s*/>|<v></v>)?(</c>)',
        lambda m: m.group(1) + m.group(3) + b"<v>" + m.group(2) + b"</v>" + m.group(5), xml)


def test_calc_chain_ribbon_and_table_formulas_go_everything_else_stays(tmp_path):
    src = rich_workbook(tmp_path / "rich.xlsm")
    parts = read_parts(src)
    for name in list(parts):
        if name.startswith("xl/worksheets/sheet"):
            parts[name] = cached(parts[name])
    table = next(n for n in parts if n.startswith("xl/tables/"))
    parts[table] = parts[table].replace(
        b'name="Margin"/>', b'name="Margin"><calculatedColumnFormula>L2/K2'
        b"</calculatedColumnFormula></tableColumn>") if b'name="Margin"' in parts[table] else \
        re.sub(rb'(<tableColumn [^>]*name="DaysToPay")\s*/>',
               rb"\1><calculatedColumnFormula>M2*1</calculatedColumnFormula></tableColumn>",
               parts[table])
    assert b"calculatedColumnFormula" in parts[table]
    write_parts(src, parts)
    assert "xl/calcChain.xml" in parts and "customUI/customUI14.xml" in parts
    out = tmp_path / "rich.xlsx"
    report = make_shareable(src, out, made=MADE)
    got = read_parts(out)
    assert "xl/calcChain.xml" not in got and "calcChain" not in got["[Content_Types].xml"].decode()
    assert "calcChain" not in got["xl/_rels/workbook.xml.rels"].decode()
    assert "rIdRibbon" not in got["_rels/.rels"].decode()
    assert b"calculatedColumnFormula" not in got[table]
    assert "_xlwings.conf" not in sheet_names(out)
    assert report.formulas == 25 and formula_cells(out) == 0
    # Sheet1 was the selected tab; now only the cover is (two would group the sheets).
    assert b'tabSelected="1"' in parts["xl/worksheets/sheet1.xml"]
    selected = [n for n, x in got.items()
                if n.startswith("xl/worksheets/s") and b"tabSelected" in x]
    assert len(selected) == 1 and sheet_names(out)[0] == COVER_SHEET
    assert b"Shareable copy of" in got[selected[0]]
    assert [r[15] for r in rows(out, schema.CUSTOMERS)[1:]] == [float(r) for r in range(2, 22)]
    # Parts the copy has no reason to touch keep their exact compressed bytes: styles,
    # charts, the picture, comments, the Dashboard drawing, the sheets without formulas.
    raw_src, raw_out = raw_parts(src), raw_parts(out)
    for name in ("xl/styles.xml", "xl/media/image1.png",
                 "xl/charts/chart1.xml", "xl/drawings/drawing2.xml", "xl/theme/theme1.xml",
                 sheet_part(got, "Charts"), sheet_part(got, "Dashboard")):
        assert raw_out[name] == raw_src[name], name
    ct = got["[Content_Types].xml"].decode()
    assert "vbaProject" not in ct and '/xl/media/image1.png" ContentType="image/png"' in ct
    assert re.search(r'PartName="/xl/drawings/\w+\.vml" ContentType="[^"]*vmlDrawing"', ct)
    for sheet in sheet_names(out)[1:]:
        assert rows(out, sheet) == rows(src, sheet), sheet


def sst_book(tmp_path: Path, n: int = 12) -> tuple[Path, dict[str, bytes]]:
    src = write_ledger_shared_strings(tmp_path / "sst.xlsx", ledger_frame(n, seed=2))
    return src, read_parts(src)


def test_shared_array_and_dynamic_formulas_become_their_values(tmp_path):
    src, parts = sst_book(tmp_path)
    extra = (
        b'<row r="20"><c r="A20"><f t="shared" ref="A20:A21" si="0">1+1</f><v>2</v></c>'
        b'<c r="B20" cm="1"><f t="array" ref="B20:B21">SEQUENCE(2)</f><v>1</v></c>'
        b'<c r="C20" t="str"><f>""</f><v></v></c>'
        b'<c r="D20" t="e"><f>NOPE()</f><v>#NAME?</v></c>'
        b'<c r="E20" t="b"><f>TRUE()</f><v>1</v></c></row>'
        b'<row r="21"><c r="A21"><f t="shared" si="0"/><v>2</v></c><c r="B21"><v>2</v></c></row>'
    )
    parts["xl/worksheets/sheet1.xml"] = parts["xl/worksheets/sheet1.xml"].replace(
        b"</sheetData>", extra + b"</sheetData>")
    write_parts(src, parts)
    out = tmp_path / "f.xlsx"
    report = make_shareable(src, out, made=MADE)
    assert report.formulas == 6  # A20:E20 and the shared formula's child A21
    assert len(report.warnings) == 1 and "Customers!D20 shows #NAME?" in report.warnings[0]
    xml = read_parts(out)["xl/worksheets/sheet1.xml"]
    tail = xml[xml.index(b'<row r="20">'):xml.index(b"</sheetData>")]
    assert tail == (
        b'<row r="20"><c r="A20"><v>2</v></c><c r="B20"><v>1</v></c>'
        b'<c r="C20" t="inlineStr"><is><t></t></is></c><c r="D20" t="e"><v>#NAME?</v></c>'
        b'<c r="E20" t="b"><v>1</v></c></row>'
        b'<row r="21"><c r="A21"><v>2</v></c><c r="B21"><v>2</v></c></row>'
    )
    grid = rows(out, schema.CUSTOMERS)
    assert grid[19][:2] == [2, 1] and grid[20][:2] == [2, 2] and grid[19][4] is True


def test_cells_without_addresses_are_found_by_position(tmp_path):
    """Some writers leave out r= (a cell is then the one after the previous)."""
    src, parts = sst_book(tmp_path)
    with_refs = make_shareable(src, tmp_path / "refs.xlsx", mask_contacts=True, made=MADE)
    xml = parts["xl/worksheets/sheet1.xml"]
    xml = xml.replace(b"</sheetData>", b'<row r="20"><c r="A20"><f>1+2</f><v>3</v></c>'
                      b"<c><f>A20*2</f><v>6</v></c></row></sheetData>")
    parts["xl/worksheets/sheet1.xml"] = re.sub(rb'<c r="[A-Z]+\d+"', b"<c", xml)
    write_parts(src, parts)
    out = tmp_path / "norefs.xlsx"
    report = make_shareable(src, out, mask_contacts=True, made=MADE)
    assert report.masked_cells == with_refs.masked_cells == 36
    assert report.formulas == 2 and formula_cells(out) == 0
    got = rows(out, schema.CUSTOMERS)
    assert got[:13] == rows(tmp_path / "refs.xlsx", schema.CUSTOMERS)[:13]
    assert got[19][:2] == [3, 6]


def test_single_quoted_attributes_are_read_like_double_quoted(tmp_path):
    """r='A1' is legal XML: such cells are masked and their formulas replaced too."""
    src, parts = sst_book(tmp_path)
    with_double = make_shareable(src, tmp_path / "double.xlsx", mask_contacts=True, made=MADE)
    xml = parts["xl/worksheets/sheet1.xml"]
    xml = xml.replace(b"</sheetData>", b'<row r="20"><c r="A20"><f>1+2</f><v>3</v></c>'
                      b"</row></sheetData>")
    xml = re.sub(rb'\b(r|t|s)="([^"]*)"', rb"\1='\2'", xml)  # every attribute in single quotes
    parts["xl/worksheets/sheet1.xml"] = xml
    write_parts(src, parts)
    out = tmp_path / "single.xlsx"
    report = make_shareable(src, out, mask_contacts=True, made=MADE)
    assert report.masked_cells == with_double.masked_cells == 36
    assert report.formulas == 1 and formula_cells(out) == 0
    got = rows(out, schema.CUSTOMERS)
    assert got[:13] == rows(tmp_path / "double.xlsx", schema.CUSTOMERS)[:13]
    assert got[19][0] == 3


def test_a_part_without_content_type_is_refused_and_nothing_written(tmp_path):
    """A kept part the source gives no content type (a picture whose extension has no
    default) would make Excel refuse the copy: one clear error, nothing written."""
    src = rich_workbook(tmp_path / "rich.xlsm")
    parts = read_parts(src)
    for name in list(parts):
        if name.startswith("xl/worksheets/sheet"):
            parts[name] = cached(parts[name])
    parts["[Content_Types].xml"] = re.sub(rb'<Default Extension="png"[^>]*/>', b"",
                                          parts["[Content_Types].xml"])
    write_parts(src, parts)
    out = tmp_path / "bad.xlsx"
    with pytest.raises(InputError, match="image1.png of the workbook has no content type"):
        make_shareable(src, out)
    assert not out.exists() and not list(tmp_path.glob("*.tmp"))


# --------------------------------------------------------------------------------------------
# Refusals: nothing is written


def test_refuses_a_formula_without_saved_value(demo, tmp_path):
    parts = read_parts(demo)
    name = sheet_part(parts, schema.JUDGMENTS)
    xml, n = re.subn(rb'(<c r="B6"[^>]*><f>[^<]*</f>)<v>[^<]*</v>', rb"\1", parts[name])
    assert n == 1
    parts[name] = xml
    src = write_parts(tmp_path / "stale.xlsm", parts)
    before = digest(src)
    out = tmp_path / "stale.xlsx"
    with pytest.raises(InputError) as err:
        make_shareable(src, out)
    text = str(err.value)
    assert "1 formula cell(s) have no saved value" in text and "Judgments!B6" in text
    assert "save it" in text and "xlcrm resegment" in text
    assert not out.exists() and digest(src) == before
    assert not list(tmp_path.glob("*.tmp"))


def test_refusal_lists_the_first_ten_cells_and_the_count(tmp_path):
    src = rich_workbook(tmp_path / "openpyxl.xlsm")  # openpyxl saves no formula values
    with pytest.raises(InputError) as err:
        make_shareable(src, tmp_path / "x.xlsx")
    text = str(err.value)
    assert "25 formula cell(s)" in text and "and 15 more" in text
    assert text.count("Customers!P") == 10 and "Scores!" not in text
    assert not (tmp_path / "x.xlsx").exists()


def test_refuses_bad_outputs(demo, copy, tmp_path):
    out, _, _ = copy
    with pytest.raises(InputError, match=r"must be an \.xlsx file"):
        make_shareable(demo, tmp_path / "copy.xlsm")
    with pytest.raises(InputError, match="would replace the workbook"):
        make_shareable(out, out)  # a copy of the copy, onto itself
    other = tmp_path / "budget.xlsx"
    other.write_bytes(b"not ours")
    with pytest.raises(InputError, match="not a shareable copy"):
        make_shareable(demo, other)
    assert other.read_bytes() == b"not ours"
    # An earlier shareable copy is replaced.
    again = tmp_path / "again.xlsx"
    make_shareable(demo, again, made=datetime(2026, 1, 1))
    make_shareable(demo, again, made=MADE)
    cover = {r[0]: r[1] for r in rows(again, COVER_SHEET) if len(r) > 1 and r[0]}
    assert cover["Copy made"] == "2026-05-04 09:30"


def test_source_open_in_excel_is_read(demo, tmp_path):
    src = tmp_path / "open.xlsm"
    shutil.copyfile(demo, src)
    (tmp_path / "~$open.xlsm").write_bytes(b"owner")
    report = make_shareable(src, made=MADE)
    assert report.source_open
    assert report.output == tmp_path / "open (shareable 2026-05-04).xlsx"
    assert report.output.exists()


# --------------------------------------------------------------------------------------------
# The command


def test_cli_share_json_and_exit_codes(demo, tmp_path, capsys):
    out = tmp_path / "cli.xlsx"
    assert main(["share", str(demo), "-o", str(out), "--mask-contacts", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["output"] == str(out) and data["masked_cells"] == MASKED
    assert data["sheets"][0] == COVER_SHEET and data["formulas_replaced"] == 50
    assert main(["share", str(demo), "-o", str(tmp_path / "cli.xlsm")]) == 2
    assert ".xlsx" in capsys.readouterr().err
    assert main(["share", str(tmp_path / "missing.xlsm"), "-o", str(out)]) == 2


def test_cli_default_output_beside_the_workbook(demo, tmp_path, capsys):
    src = tmp_path / "book.xlsm"
    shutil.copyfile(demo, src)
    assert main(["share", str(src), "--quiet"]) == 0
    expected = default_output(src)
    assert expected.name == f"book (shareable {date.today():%Y-%m-%d}).xlsx"
    assert expected.exists()
    text = capsys.readouterr().out
    assert "NOT masked" in text and "50 formula(s)" in text


# --------------------------------------------------------------------------------------------
# The ribbon button


class FakeApp:
    """What the action uses of ``xlwings.App`` on desktop Excel: message boxes, status bar."""

    def __init__(self, answer: str) -> None:
        self.answer = answer
        self.alerts: list[tuple[str, str]] = []
        self.status_bar: str | bool = False

    def alert(self, prompt, title=None, buttons="ok", mode=None, callback=None):
        self.alerts.append((prompt, buttons))
        return self.answer if buttons == "yes_no_cancel" else "ok"


def fake_book(path, answer="yes", saved=True):
    return SimpleNamespace(fullname=str(path), name=Path(path).name, app=FakeApp(answer),
                           api=SimpleNamespace(Saved=saved))


@pytest.fixture
def book_file(demo, tmp_path) -> Path:
    src = tmp_path / "crm.xlsm"
    shutil.copyfile(demo, src)
    return src


def test_ribbon_share_masked_copy_beside_the_workbook(book_file):
    book = fake_book(book_file, "yes")
    out = ribbon.share(book)
    assert out == default_output(book_file) and out.exists()
    assert out.name.startswith("crm (shareable ") and out.suffix == ".xlsx"
    (question, buttons), (done, _) = book.app.alerts
    assert buttons == "yes_no_cancel" and "Mask contact details" in question
    assert str(out) in done and f"masked ({MASKED} cells)" in done
    grid = rows(out, schema.CUSTOMERS)
    assert grid[1][grid[0].index("Email")] == MASK_TEXT
    assert book.app.status_bar is False  # given back to Excel


def test_ribbon_share_unmasked_and_cancel(book_file):
    book = fake_book(book_file, "no")
    out = ribbon.share(book)
    grid = rows(out, schema.CUSTOMERS)
    assert "@" in grid[1][grid[0].index("Email")]
    assert "NOT masked" in book.app.alerts[-1][0]
    out.unlink()
    book = fake_book(book_file, "cancel")
    assert ribbon.share(book) is None
    assert not default_output(book_file).exists() and len(book.app.alerts) == 1


def test_ribbon_share_asks_to_save_first(book_file):
    book = fake_book(book_file, "yes", saved=False)
    assert ribbon.share(book) is None
    assert len(book.app.alerts) == 1 and "save" in book.app.alerts[0][0].lower()
    assert not default_output(book_file).exists()
    never_saved = fake_book("Book1", "yes")
    assert ribbon.share(never_saved) is None
    assert "not saved as a file" in never_saved.app.alerts[0][0]


def test_ribbon_share_reports_refusals_and_never_raises(book_file):
    parts = read_parts(book_file)
    name = sheet_part(parts, schema.JUDGMENTS)
    parts[name] = re.sub(rb'(<c r="B6"[^>]*><f>[^<]*</f>)<v>[^<]*</v>', rb"\1", parts[name])
    write_parts(book_file, parts)
    book = fake_book(book_file, "yes")
    assert ribbon.share(book) is None
    assert "No copy was made" in book.app.alerts[-1][0]
    assert "Judgments!B6" in book.app.alerts[-1][0]

    class Broken(FakeApp):
        def alert(self, prompt, title=None, buttons="ok", mode=None, callback=None):
            raise RuntimeError("Excel is busy")

    broken = fake_book(book_file, "yes")
    broken.app = Broken("yes")
    assert ribbon.share(broken) is None  # no exception reaches Excel


def test_ribbon_share_on_the_remote_engine_points_to_the_command(demo, monkeypatch):
    book = enable_remote_engine(monkeypatch)(payload_from(demo))
    assert ribbon.share(book) is None
    actions = book.json()["actions"]
    assert [a["func"] for a in actions] == ["alert"]
    assert "xlcrm share" in actions[0]["args"][0]
    assert not default_output(demo).exists()


# --------------------------------------------------------------------------------------------
# A recipient's spreadsheet program


@pytest.mark.libreoffice
def test_libreoffice_shows_the_same_numbers(demo, masked, tmp_path):
    """LibreOffice opens the copy (no Python, no macros) and holds the source's values."""
    soffice = shutil.which("soffice")
    if soffice is None:
        pytest.skip("LibreOffice (soffice) is not installed")
    out, _ = masked
    subprocess.run(
        [soffice, f"-env:UserInstallation=file://{tmp_path}/profile", "--headless",
         "--convert-to", "xlsx", "--outdir", str(tmp_path / "lo"), str(out)],
        check=True, capture_output=True, timeout=180,
    )
    seen = tmp_path / "lo" / out.name
    assert sheet_names(seen) == sheet_names(out)

    def same(a, b) -> bool:
        if isinstance(a, float) and isinstance(b, (int, float)):
            return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)
        return a == b

    for sheet in (schema.SCORES, schema.SEGMENTS, schema.DASHBOARD, schema.JUDGMENTS):
        src, lo = rows(demo, sheet), rows(seen, sheet)
        assert len(src) == len(lo), sheet
        for i, (a, b) in enumerate(zip(src, lo, strict=True)):
            assert all(same(x, y) for x, y in zip(a, b, strict=True)), (sheet, i + 1)
    # Known answers: the Dashboard's customers per type add up to the ledger's 60.
    dash = rows(seen, schema.DASHBOARD)
    top = xlcrm_report.DASH_TYPES_HEADER[0]
    header = dash[top]
    counts = [r[header.index("Customers")] for r in dash[top + 1:top + 1 + xlcrm_report.N_TYPES]]
    # Only types that customers have are listed; the rest of the block is blank.
    assert sum(c for c in counts if isinstance(c, (int, float))) == 60
    scores = rows(seen, schema.SCORES)
    values = np.array([r[scores[0].index("Value")] for r in scores[1:]], dtype=float)
    assert len(values) == 60 and np.all((values >= 0) & (values <= 100))
    cust = rows(seen, schema.CUSTOMERS)
    assert {r[cust[0].index("Phone")] for r in cust[1:]} == {MASK_TEXT}
    # The Problems sheet's links to the bad cells survive LibreOffice's reading.
    links = problem_links(seen)
    assert links and links == problem_links(out)


def test_problem_links_stay_clickable(demo, copy):
    """=HYPERLINK formulas become values; the cells keep a link to the same place."""
    import html

    out, report, _ = copy
    source = {}
    with zipfile.ZipFile(demo) as z:
        part = sheet_parts(demo.read_bytes())[schema.PROBLEMS]
        xml = z.read(part).decode()
    for ref, formula in re.findall(r'<c r="([A-Z]+\d+)"[^>]*><f>([^<]*)</f>', xml):
        m = re.match(r'HYPERLINK\("#((?:[^"]|"")*)"', html.unescape(formula))
        if m:
            source[ref] = m.group(1).replace('""', '"')
    assert source  # the demo has problems, each linked to its cell
    assert problem_links(out) == source
    assert all(v.startswith("'") and "!" in v for v in source.values())


# --------------------------------------------------------------------------------------------
# Microsoft's validator


def test_copies_add_no_validator_error(demo, copy, masked, tmp_path):
    """Every copy (of the template, of the demo, masked or not) has no error of Microsoft's
    Open XML SDK validator that its source does not have (the template's own chart and style
    errors are fixed elsewhere; the copy keeps those parts byte for byte)."""
    template = tmp_path / "template.xlsm"
    shutil.copyfile(TEMPLATE_PATH, template)
    t_plain, t_masked = tmp_path / "t.xlsx", tmp_path / "tm.xlsx"
    make_shareable(template, t_plain, made=MADE)
    make_shareable(template, t_masked, mask_contacts=True, made=MADE)
    found = validator_errors(template, t_plain, t_masked, demo, copy[0], masked[0])
    for out, src in ((t_plain, template), (t_masked, template), (copy[0], demo),
                     (masked[0], demo)):
        assert added_errors(found[out], found[src]) == [], out.name
