"""The shareable copy keeps nothing it should not (issue 11: 20 planted leak channels).

A workbook is built with a distinct contact value planted in each of the 20 channels a
careful tester found, and in a Contacts sheet and columns headed by synonyms; it also holds
a DDE link (``cmd /c calc``), a link to another workbook with cached values and a DOCTYPE
with an ENTITY. Every part of the copy is unzipped and searched for every planted value in
raw, XML-escaped, URL-encoded and UTF-16 forms.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import urllib.parse
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest
from fixtures.books import read_parts, sheet_part, write_parts
from fixtures.validate import added_errors, validator_errors
from openpyxl.chart import BarChart, Reference
from openpyxl.comments import Comment
from openpyxl.packaging.custom import StringProperty
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.datavalidation import DataValidation

from xlcrm import schema
from xlcrm.book.read import open_workbook
from xlcrm.book.share import COVER_SHEET, MASK_TEXT, make_shareable
from xlcrm.errors import InputError

MADE = datetime(2026, 5, 4, 9, 30)
R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def secret(n: int) -> str:
    """A planted value: unique, with characters every escaping changes."""
    return f"Zoë O'Neil+{n:02d} <z{n:02d}@leak.example>"


#: The 20 channels of issue 11, each with its planted value.
CHANNELS = [
    "pivot cache", "chart category cache", "autoFilter value", "defined-name constant",
    "custom document property", "core description", "core keywords", "mailto hyperlink",
    "data-validation list", "print header", "print footer", "column E-mail",
    "column Mobile", "column Contact person", "customXml part", "external-link cache",
    "note", "threaded comment", "threaded comment person", "text box",
]
PLANTED = {c: secret(i + 1) for i, c in enumerate(CHANNELS)}
#: Also planted: a Contacts sheet, Chinese headers, DDE and external-link details.
EXTRA = {
    "Contacts sheet name": secret(31), "Contacts sheet phone": "+49 170 5550131",
    "column 联系人": secret(32), "column 电话": "+86 139 5550132", "column 邮箱": secret(33),
    "external workbook path": "file:///C:/Users/zoe/Secret%20Plans.xlsx",
    "DDE command": "cmd", "DDE topic": "/c calc",
}
#: Removed from every copy, masked or not.
ALWAYS_GONE = ["pivot cache", "defined-name constant", "custom document property",
               "core description", "core keywords", "customXml part", "external-link cache",
               "threaded comment", "threaded comment person"]


def forms(value: str) -> list[bytes]:
    """The ways a value can be stored in a part."""
    texts = {value, html.escape(value), html.escape(value, quote=False),
             value.replace("'", "&apos;").replace("<", "&lt;").replace(">", "&gt;"),
             urllib.parse.quote(value), urllib.parse.quote_plus(value),
             urllib.parse.quote(value, safe="@:/")}
    out = []
    for t in texts:
        out += [t.encode("utf-8"), t.encode("utf-16-le"), t.encode("utf-16-be")]
    return out


def leaks(path: Path, values: dict[str, str]) -> dict[str, list[str]]:
    """Planted value -> the parts of ``path`` (unzipped) holding it in any form."""
    found: dict[str, list[str]] = {}
    for name, body in read_parts(path).items():
        for what, value in values.items():
            if any(f in body or f in name.encode() for f in forms(value)):
                found.setdefault(what, []).append(name)
    return found


# --------------------------------------------------------------------------------------------
# The planted workbook


def _rel(rid: str, kind: str, target: str, external: bool = False) -> str:
    mode = ' TargetMode="External"' if external else ""
    return f'<Relationship Id="{rid}" Type="{kind}" Target="{target}"{mode}/>'


def _add_rels(parts: dict[str, bytes], rels_name: str, items: list[str]) -> None:
    xml = parts.get(rels_name, (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="'
        b'http://schemas.openxmlformats.org/package/2006/relationships"></Relationships>'
    ))
    parts[rels_name] = xml.replace(b"</Relationships>", "".join(items).encode()
                                   + b"</Relationships>")


def _add_types(parts: dict[str, bytes], items: dict[str, str]) -> None:
    new = "".join(f'<Override PartName="/{p}" ContentType="{ct}"/>' for p, ct in items.items())
    parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(
        b"</Types>", new.encode() + b"</Types>")


def _openpyxl_book(path: Path) -> None:
    """What openpyxl can plant: cells, notes, links, validation, filters, names, props."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = schema.CUSTOMERS
    ws.append(["CustomerID", "Name", "Contact", "Phone", "Email", "Revenue12m"])
    for i in range(1, 5):
        ws.append([f"C{i}", f"Firm {i}", f"Person {i}", f"+1 555 000{i}", f"p{i}@firm.example",
                   1000 * i])
    ws["B2"].hyperlink = f"mailto:{PLANTED['mailto hyperlink']}"
    ws["F3"].comment = Comment(PLANTED["note"], "Analyst")
    dv = DataValidation(type="list", formula1=f'"{PLANTED["data-validation list"]},Other"')
    ws.add_data_validation(dv)
    dv.add("B6")
    ws.auto_filter.ref = "A1:F5"
    ws.auto_filter.add_filter_column(1, [PLANTED["autoFilter value"]])
    ws.oddHeader.center.text = PLANTED["print header"]
    ws.oddFooter.left.text = PLANTED["print footer"]
    boss = f'"{PLANTED["defined-name constant"]}"'
    wb.defined_names["Boss"] = DefinedName("Boss", attr_text=boss)
    wb.defined_names["Revenue"] = DefinedName("Revenue", attr_text="Customers!$F$2:$F$5")
    wb.properties.description = PLANTED["core description"]
    wb.properties.keywords = PLANTED["core keywords"]
    owner = PLANTED["custom document property"]
    wb.custom_doc_props.append(StringProperty(name="Owner", value=owner))
    visits = wb.create_sheet("Visits")
    visits.append(["CustomerID", "E-mail", "Mobile", "Contact person", "联系人", "电话", "邮箱",
                   "Note"])
    visits.append(["C1", PLANTED["column E-mail"], PLANTED["column Mobile"],
                   PLANTED["column Contact person"], EXTRA["column 联系人"], EXTRA["column 电话"],
                   EXTRA["column 邮箱"], "called"])
    contacts = wb.create_sheet("Contacts")
    contacts.append(["CustomerID", "Person", "Role", "Direct line"])
    contacts.append(["C1", EXTRA["Contacts sheet name"], "buyer", EXTRA["Contacts sheet phone"]])
    links = wb.create_sheet("Links")
    links["A1"], links["B1"] = 1, 2  # replaced by an external and a DDE formula below
    chart = BarChart()
    chart.add_data(Reference(ws, min_col=6, min_row=1, max_row=5), titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=3, min_row=2, max_row=5))
    ws.add_chart(chart, "H2")
    wb.save(path)


def planted_workbook(path: Path) -> Path:
    """A workbook holding every planted value in its channel."""
    _openpyxl_book(path)
    parts = read_parts(path)
    wb_rels = "xl/_rels/workbook.xml.rels"
    sheet1_rels = "xl/worksheets/_rels/sheet1.xml.rels"

    # Chart category cache: the categories as Excel caches them.
    chart = next(n for n in parts if n.startswith("xl/charts/chart"))
    cache = (f'<strCache><ptCount val="1"/><pt idx="0"><v>'
             f'{html.escape(PLANTED["chart category cache"])}</v></pt></strCache>')
    parts[chart], n = re.subn(  # openpyxl writes the chart namespace as the default one
        rb"<cat>.*?</cat>",
        f"<cat><strRef><f>'Customers'!$C$2:$C$5</f>{cache}</strRef></cat>".encode(),
        parts[chart], flags=re.S)
    assert n == 1
    # A series read from the external workbook, with the values Excel cached.
    parts[chart], n = re.subn(
        rb"<val>.*?</val>",
        b"<val><numRef><f>[1]Sheet1!$A$1:$A$2</f><numCache><formatCode>General</formatCode>"
        b'<ptCount val="2"/><pt idx="0"><v>7</v></pt><pt idx="1"><v>9</v></pt></numCache>'
        b"</numRef></val>", parts[chart], flags=re.S)
    assert n == 1
    assert PLANTED["chart category cache"].encode() not in parts[chart]  # escaped
    # Text box in the drawing beside the chart.
    drawing = next(n for n in parts if n.startswith("xl/drawings/drawing"))
    box = (
        '<xdr:twoCellAnchor xmlns:xdr="http://schemas.openxmlformats.org/drawingml/2006/'
        'spreadsheetDrawing" xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main">'
        "<xdr:from><xdr:col>1</xdr:col><xdr:colOff>0</xdr:colOff><xdr:row>8</xdr:row>"
        "<xdr:rowOff>0</xdr:rowOff></xdr:from><xdr:to><xdr:col>4</xdr:col><xdr:colOff>0"
        "</xdr:colOff><xdr:row>11</xdr:row><xdr:rowOff>0</xdr:rowOff></xdr:to>"
        '<xdr:sp macro="[0]!Module1.Run" textlink=""><xdr:nvSpPr><xdr:cNvPr id="20" '
        'name="TextBox 1"/><xdr:cNvSpPr txBox="1"/></xdr:nvSpPr><xdr:spPr><a:prstGeom '
        'prst="rect"><a:avLst/></a:prstGeom></xdr:spPr><xdr:txBody><a:bodyPr/><a:lstStyle/>'
        f'<a:p><a:r><a:t>{html.escape(PLANTED["text box"])}</a:t></a:r></a:p></xdr:txBody>'
        "</xdr:sp><xdr:clientData/></xdr:twoCellAnchor>")
    parts[drawing] = re.sub(rb"(</(?:xdr:)?wsDr>)", box.encode() + rb"\1", parts[drawing])

    # Pivot cache and its records, referenced by the workbook.
    pc = "xl/pivotCache/pivotCacheDefinition1.xml"
    parts[pc] = (
        f'<pivotCacheDefinition xmlns="{MAIN}" xmlns:r="{R}" r:id="rId1" refreshOnLoad="1" '
        'recordCount="1"><cacheSource type="worksheet"><worksheetSource ref="A1:C5" '
        'sheet="Customers"/></cacheSource><cacheFields count="1"><cacheField name="Contact" '
        f'numFmtId="0"><sharedItems count="1"><s v="{html.escape(PLANTED["pivot cache"])}"/>'
        "</sharedItems></cacheField></cacheFields></pivotCacheDefinition>").encode()
    parts["xl/pivotCache/pivotCacheRecords1.xml"] = (
        f'<pivotCacheRecords xmlns="{MAIN}" count="1"><r><x v="0"/></r></pivotCacheRecords>'
    ).encode()
    _add_rels(parts, "xl/pivotCache/_rels/pivotCacheDefinition1.xml.rels", [_rel(
        "rId1", R + "/pivotCacheRecords", "pivotCacheRecords1.xml")])

    # External workbook link with cached values, and a DDE link to cmd /c calc.
    parts["xl/externalLinks/externalLink1.xml"] = (
        f'<externalLink xmlns="{MAIN}" xmlns:r="{R}"><externalBook r:id="rId1"><sheetNames>'
        '<sheetName val="Sheet1"/></sheetNames><sheetDataSet><sheetData sheetId="0"><row r="1">'
        f'<cell r="A1" t="str"><v>{html.escape(PLANTED["external-link cache"])}</v></cell>'
        "</row></sheetData></sheetDataSet></externalBook></externalLink>").encode()
    _add_rels(parts, "xl/externalLinks/_rels/externalLink1.xml.rels", [_rel(
        "rId1", R + "/externalLinkPath", EXTRA["external workbook path"], external=True)])
    parts["xl/externalLinks/externalLink2.xml"] = (
        f'<externalLink xmlns="{MAIN}"><ddeLink ddeService="cmd" ddeTopic="/c calc"><ddeItems>'
        '<ddeItem name="A0" advise="1"><values rows="1" cols="1"><value t="str"><val>'
        f'{html.escape(secret(40))}</val></value></values></ddeItem></ddeItems></ddeLink>'
        "</externalLink>").encode()
    links_sheet = "xl/worksheets/sheet4.xml"
    parts[links_sheet] = re.sub(
        rb'<c r="A1"[^>]*><v>1</v></c><c r="B1"[^>]*><v>2</v></c>',
        b"<c r=\"A1\"><f>[1]Sheet1!A1</f><v>42</v></c>"
        b"<c r=\"B1\"><f>cmd|'/c calc'!A0</f><v>0</v></c>", parts[links_sheet])
    assert b"cmd|" in parts[links_sheet]

    # customXml, persons, threaded comments.
    parts["customXml/item1.xml"] = (
        f"<contacts><person>{html.escape(PLANTED['customXml part'])}</person></contacts>"
    ).encode()
    parts["xl/persons/person.xml"] = (
        '<personList xmlns="http://schemas.microsoft.com/office/spreadsheetml/2018/threadedcomments">'
        f'<person displayName="{html.escape(PLANTED["threaded comment person"])}" '
        'id="{00000000-0000-0000-0000-000000000001}" userId="zoe@leak.example" providerId="AD"/>'
        "</personList>").encode()
    parts["xl/threadedComments/threadedComment1.xml"] = (
        '<ThreadedComments xmlns="http://schemas.microsoft.com/office/spreadsheetml/2018/'
        'threadedcomments"><threadedComment ref="E2" dT="2026-01-01T00:00:00.00" '
        'personId="{00000000-0000-0000-0000-000000000001}" '
        'id="{00000000-0000-0000-0000-000000000002}">'
        f'<text>{html.escape(PLANTED["threaded comment"])}</text></threadedComment>'
        "</ThreadedComments>").encode()
    _add_rels(parts, sheet1_rels, [_rel(
        "rIdTc", "http://schemas.microsoft.com/office/2017/10/relationships/threadedComment",
        "../threadedComments/threadedComment1.xml")])
    _add_rels(parts, wb_rels, [
        _rel("rIdPc", R + "/pivotCacheDefinition", "pivotCache/pivotCacheDefinition1.xml"),
        _rel("rIdEx1", R + "/externalLink", "externalLinks/externalLink1.xml"),
        _rel("rIdEx2", R + "/externalLink", "externalLinks/externalLink2.xml"),
        _rel("rIdCx", R + "/customXml", "../customXml/item1.xml"),
        _rel("rIdPs", "http://schemas.microsoft.com/office/2017/10/relationships/person",
             "persons/person.xml")])
    parts["xl/workbook.xml"] = re.sub(
        rb"(</sheets>)",
        rb'\1<externalReferences><externalReference r:id="rIdEx1"/><externalReference '
        rb'r:id="rIdEx2"/></externalReferences>', parts["xl/workbook.xml"])
    parts["xl/workbook.xml"] = re.sub(
        rb"(</workbook>)", rb'<pivotCaches><pivotCache cacheId="1" r:id="rIdPc"/>'
        rb"</pivotCaches>\1", parts["xl/workbook.xml"])
    sml = "application/vnd.openxmlformats-officedocument.spreadsheetml"
    _add_types(parts, {
        pc: f"{sml}.pivotCacheDefinition+xml",
        "xl/pivotCache/pivotCacheRecords1.xml": f"{sml}.pivotCacheRecords+xml",
        "xl/externalLinks/externalLink1.xml": f"{sml}.externalLink+xml",
        "xl/externalLinks/externalLink2.xml": f"{sml}.externalLink+xml",
        "xl/persons/person.xml": "application/vnd.ms-excel.person+xml",
        "xl/threadedComments/threadedComment1.xml": "application/vnd.ms-excel.threadedcomments+xml",
    })
    return write_parts(path, parts)


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> Path:
    path = planted_workbook(tmp_path_factory.mktemp("leaks") / "planted.xlsx")
    everything = {**PLANTED, **{k: v for k, v in EXTRA.items() if k.startswith(("Contacts",
                                                                                   "column"))}}
    # The planting worked: every value is somewhere in the source.
    assert set(leaks(path, everything)) == set(everything)
    return path


# --------------------------------------------------------------------------------------------
# The tests


def test_masked_copy_leaks_none_of_the_20_channels(planted, tmp_path):
    out = tmp_path / "masked.xlsx"
    report = make_shareable(planted, out, mask_contacts=True, made=MADE)
    values = {**PLANTED, **{k: v for k, v in EXTRA.items() if k.startswith(("Contacts",
                                                                               "column"))}}
    assert leaks(out, values) == {}
    # Nothing of the DDE link or the external workbook either.
    body = b"".join(read_parts(out).values())
    assert b"ddeLink" not in body and b"externalLink" not in body and b"/c calc" not in body
    assert b"Secret%20Plans" not in body and b"Secret Plans" not in body
    assert b"macro=\"[0]" not in body
    # The copy still shows what it should: the ledger, the masks, the formulas' values.
    with open_workbook(out) as wb:
        customers = wb.rows(schema.CUSTOMERS)
        assert customers[1][:2] == ["C1", "Firm 1"] and customers[1][2:5] == [MASK_TEXT] * 3
        assert wb.rows("Visits")[1][1:7] == [MASK_TEXT] * 6
        assert wb.rows("Visits")[1][7] == "called"
        assert wb.rows("Contacts")[1] == [MASK_TEXT] * 4
        assert wb.rows("Links")[0][:2] == [42, 0]
        cover = {r[0]: r[1] for r in wb.rows(COVER_SHEET) if len(r) > 1}
        taken = [r[1] for r in wb.rows(COVER_SHEET) if len(r) > 1 and r[1]
                 and r[0] in ("Taken out", "")]
    assert report.masked["Visits"] == ("E-mail", "Mobile", "Contact person", "联系人", "电话",
                                       "邮箱")
    assert report.masked["Contacts"] == ("every column",)
    assert cover["Contact details"].startswith("masked:")
    # The cover names what went, channel by channel.
    said = " | ".join(taken)
    for what in ("pivot caches", "links to other workbooks", "DDE links", "custom XML",
                 "custom document properties", "document properties", "threaded comments",
                 "notes", "text boxes", "print headers and footers", "data validation",
                 "autoFilter criteria", "chart caches", "defined name"):
        assert what in said, what
    assert report.links_removed >= 1


def test_unmasked_copy_keeps_no_hidden_data(planted, tmp_path):
    """Without masking, contact cells stay, but nothing the values do not need."""
    out = tmp_path / "plain.xlsx"
    make_shareable(planted, out, made=MADE)
    found = leaks(out, PLANTED)
    assert not set(found) & set(ALWAYS_GONE), found
    assert "column E-mail" in found  # the cells themselves are shown
    body = b"".join(read_parts(out).values())
    assert b"ddeLink" not in body and b"/c calc" not in body and b"Secret%20Plans" not in body
    assert b"Analyst" not in body  # the note's author
    # The chart's series from the other workbook shows the values it showed, as literals.
    chart = next(x for n, x in read_parts(out).items() if n.startswith("xl/charts/chart"))
    assert b"[1]" not in chart
    assert re.search(rb'<val><numLit><formatCode>General</formatCode><ptCount val="2"/>'
                     rb'<pt idx="0"><v>7</v></pt>', chart)


@pytest.mark.parametrize("where", ["xl/styles.xml", "customXml/item1.xml"])
def test_doctype_and_entities_never_reach_the_copy(planted, tmp_path, where):
    """A DOCTYPE with an ENTITY (which Excel never writes) in a kept or a dropped part:
    the copy is refused with one line, or made without it."""
    parts = read_parts(planted)
    body = parts[where]
    decl = body[: body.index(b"?>") + 2] if body.startswith(b"<?xml") else b""
    value = secret(50).encode("ascii", "xmlcharrefreplace")
    parts[where] = decl + b'<!DOCTYPE x [<!ENTITY leak "' + value + b'">]>' + body[len(decl):]
    src = write_parts(tmp_path / "dtd.xlsx", parts)
    out = tmp_path / "dtd-copy.xlsx"
    try:
        make_shareable(src, out, mask_contacts=True, made=MADE)
    except InputError as exc:
        assert "DOCTYPE" in str(exc) or "entit" in str(exc).lower()
        assert "\n" not in str(exc).strip() and not out.exists()
        return
    body = b"".join(read_parts(out).values())
    assert b"DOCTYPE" not in body and b"ENTITY" not in body
    assert leaks(out, {"entity": secret(50)}) == {}


def test_copies_of_planted_workbook_are_valid(planted, tmp_path):
    """Microsoft's validator finds no error in the copies that the source does not have
    (openpyxl's own styles.xml has one: the copy keeps it byte for byte)."""
    plain, masked = tmp_path / "plain.xlsx", tmp_path / "masked.xlsx"
    make_shareable(planted, plain, made=MADE)
    make_shareable(planted, masked, mask_contacts=True, made=MADE)
    found = validator_errors(planted, plain, masked)
    assert added_errors(found[plain], found[planted]) == []
    assert added_errors(found[masked], found[planted]) == []


@pytest.mark.libreoffice
def test_libreoffice_opens_the_masked_copy(planted, tmp_path):
    soffice = shutil.which("soffice")
    if soffice is None:
        pytest.skip("LibreOffice (soffice) is not installed")
    out = tmp_path / "lo.xlsx"
    make_shareable(planted, out, mask_contacts=True, made=MADE)
    subprocess.run([soffice, f"-env:UserInstallation=file://{tmp_path}/profile", "--headless",
                    "--convert-to", "csv", "--outdir", str(tmp_path / "lo"), str(out)],
                   check=True, capture_output=True, timeout=180)
    text = (tmp_path / "lo" / "lo.csv").read_text(encoding="utf-8", errors="replace")
    assert "Shareable copy of planted.xlsx" in text


# --------------------------------------------------------------------------------------------
# The buying center (issue 15 item 2): the template's Contacts sheet, as the demo fills it


def _plant_contacts(path: Path, people: list[tuple[str, str, str]]) -> None:
    """Copy the contact details into the channels a user or a tool may leave them in: a
    note on the Contacts sheet, a defined-name constant, a pivot cache of the sheet."""
    parts = read_parts(path)
    name, phone, email = people[0]
    parts["xl/workbook.xml"] = re.sub(
        rb"(</definedNames>)",
        f'<definedName name="KeyPerson">"{html.escape(email)}"</definedName>'.encode() + rb"\1",
        parts["xl/workbook.xml"])
    assert b"KeyPerson" in parts["xl/workbook.xml"]
    cache = "xl/pivotCache/pivotCacheDefinition9.xml"
    items = "".join(f'<s v="{html.escape(v)}"/>' for p in people[:20] for v in p)
    parts[cache] = (
        f'<pivotCacheDefinition xmlns="{MAIN}" xmlns:r="{R}" refreshOnLoad="1"><cacheSource '
        'type="worksheet"><worksheetSource name="tblContacts"/></cacheSource><cacheFields '
        f'count="1"><cacheField name="Name" numFmtId="0"><sharedItems>{items}</sharedItems>'
        "</cacheField></cacheFields></pivotCacheDefinition>").encode()
    _add_rels(parts, "xl/_rels/workbook.xml.rels", [
        _rel("rIdPc9", R + "/pivotCacheDefinition", "pivotCache/pivotCacheDefinition9.xml")])
    parts["xl/workbook.xml"] = re.sub(
        rb"(</workbook>)", rb'<pivotCaches><pivotCache cacheId="9" r:id="rIdPc9"/>'
        rb"</pivotCaches>\1", parts["xl/workbook.xml"])
    _add_types(parts, {cache: "application/vnd.openxmlformats-officedocument.spreadsheetml"
                              ".pivotCacheDefinition+xml"})
    # A note on the Contacts sheet (the comments part; Excel draws it from a VML part).
    sheet = sheet_part(parts, schema.CONTACTS)
    folder, file = sheet.rsplit("/", 1)
    parts["xl/comments9.xml"] = (
        f'<comments xmlns="{MAIN}"><authors><author>Analyst</author></authors><commentList>'
        f'<comment ref="A2" authorId="0"><text><t>{html.escape(f"Call {name} on {phone}")}'
        "</t></text></comment></commentList></comments>").encode()
    _add_rels(parts, f"{folder}/_rels/{file}.rels", [
        _rel("rIdCm9", R + "/comments", "../comments9.xml")])
    _add_types(parts, {"xl/comments9.xml": "application/vnd.openxmlformats-officedocument"
                                           ".spreadsheetml.comments+xml"})
    write_parts(path, parts)


def test_masked_copy_shows_no_contact_of_the_contacts_sheet(tmp_path):
    from xlcrm.book.workbook_file import create_demo_workbook

    src = tmp_path / "demo.xlsm"
    create_demo_workbook(src, customers=25, seed=11)
    with open_workbook(src) as wb:
        frame = wb.read_sheet(schema.CONTACTS, text_columns=["Phone"]).frame
    people = list(zip(frame["Name"], frame["Phone"], frame["Email"], strict=True))
    assert len(people) >= 50
    _plant_contacts(src, people)
    values = {f"{column} of row {i}": v for i, person in enumerate(people)
              for column, v in zip(("Name", "Phone", "Email"), person, strict=True)}
    assert len(leaks(src, values)) == len(values)  # every value is in the source
    out = tmp_path / "masked.xlsx"
    report = make_shareable(src, out, mask_contacts=True, made=MADE)
    assert leaks(out, values) == {}
    assert report.masked[schema.CONTACTS] == (
        "every column but CustomerID, Role, Stance, LastContact",)
    with open_workbook(src) as wb:
        before = wb.rows(schema.CONTACTS)
    with open_workbook(out) as wb:
        rows = wb.rows(schema.CONTACTS)
        # The buying center's figures stay: they name no person.
        activity = wb.read_sheet(schema.ACTIVITY).frame
    assert rows[0] == list(schema.CONTACT_SHEET_COLUMNS) and len(rows) == len(before)
    for old, new in zip(before[1:], rows[1:], strict=True):
        # Who the person is and how to reach them are masked; role and stance stay.
        assert new[1] == new[4] == new[5] == MASK_TEXT
        assert [new[i] for i in (0, 2, 3, 6)] == [old[i] for i in (0, 2, 3, 6)]
    assert set(activity["DecisionMakerKnown"]) == {"Yes", "No"}
