"""A large sheet read in slices of rows on several cores gives exactly the whole read."""

from __future__ import annotations

import io
import shutil
import subprocess
import zipfile
from datetime import datetime

import openpyxl
import pytest
import python_calamine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xlcrm.book import sliced_read
from xlcrm.book.read import Package, open_workbook
from xlcrm.book.sliced_read import sliced_rows as _sliced_rows

_VALUE = st.one_of(
    st.none(), st.integers(-10**6, 10**6), st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(), st.text(st.characters(exclude_categories=("Cs", "Cc")), max_size=6),
    st.sampled_from(["<row r=\"9\">", "</sheetData>", "a&b"]),
    st.datetimes(min_value=datetime(1950, 1, 1), max_value=datetime(2100, 1, 1)),
)


def sliced_rows(content: bytes, part: str, sheet: str, slices: int) -> list | None:
    with zipfile.ZipFile(io.BytesIO(content)) as z:
        return _sliced_rows(z, content, part, sheet, slices)


def _whole(content: bytes, sheet: str) -> list[list[object]]:
    with python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(content)) as wb:
        return wb.get_sheet_by_name(sheet).to_python(skip_empty_area=False)


def _part(content: bytes, sheet: str = "Customers") -> str:
    pkg = Package(zipfile.ZipFile(io.BytesIO(content)))
    return next(e.part for e in pkg.sheets() if e.name == sheet)


def _openpyxl_book(rows: list[list[object]], skip: set[int], left: int) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Customers"
    for r, row in enumerate(rows, start=1):
        if r in skip:
            continue
        for c, v in enumerate(row, start=1 + left):
            if v is not None:
                ws.cell(r, c, v)
    wb.create_sheet("Other")["A1"] = "other"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.lists(_VALUE, max_size=7), max_size=40),
       skip=st.sets(st.integers(1, 40), max_size=10), left=st.integers(0, 3),
       slices=st.integers(2, 5))
def test_slices_of_any_sheet_read_as_the_whole_sheet(rows, skip, left, slices):
    # Shared strings, numbers, logicals, dates (styles), blank rows and cells, columns that
    # start late or widen further down, texts that look like the markup the cut looks for.
    content = _openpyxl_book(rows, skip, left)
    part = _part(content)
    got = sliced_rows(content, part, "Customers", slices)
    assert got is None or got == _whole(content, "Customers")


@pytest.mark.parametrize("slices", [2, 3, 4, 5])
def test_slices_of_a_ledger_read_as_the_whole_sheet(slices):
    rows = [[f"C{i:04d}", None if i % 5 == 0 else i / 7, i % 3 == 0, f"n{i % 11}",
             datetime(2020, 1, 1 + i % 28, i % 24)] for i in range(400)]
    content = _openpyxl_book([["ID", "Value", "Flag", "Name", "When"], *rows], {7, 300}, 1)
    got = sliced_rows(content, _part(content), "Customers", slices)
    assert got is not None and got == _whole(content, "Customers")


def _with_sheet_xml(content: bytes, part: str, xml: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(content)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = xml if info.filename == part else src.read(info)
            dst.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def _rows_xml(rows: list[tuple[int | None, str]]) -> bytes:
    body = "".join(f"<row{f' r={chr(34)}{r}{chr(34)}' if r else ''}>{cells}</row>"
                   for r, cells in rows)
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f"<sheetData>{body}</sheetData></worksheet>").encode()


@pytest.mark.parametrize("rows", [
    # rows and cells without references: numbered by the ones before them
    [(1, '<c t="inlineStr"><is><t>h</t></is></c>'), (None, "<c><v>1</v></c>"),
     (None, "<c><v>2</v></c><c><v>3</v></c>"), (7, '<c r="C7"><v>4</v></c>'),
     (None, "<c><v>5</v></c>"), (None, "<c><v>6</v></c>")],
    # rows out of order: the second half goes above the first
    [(10, '<c r="A10"><v>1</v></c>'), (11, '<c r="A11"><v>2</v></c>'),
     (12, '<c r="A12"><v>3</v></c>'), (2, '<c r="A2"><v>4</v></c>'),
     (3, '<c r="B3"><v>5</v></c>'), (4, '<c r="A4"><v>6</v></c>')],
    # a cell placed below the rows that follow it
    [(1, '<c r="A1"><v>1</v></c>'), (2, '<c r="A9"><v>2</v></c>'),
     (3, '<c r="A3"><v>3</v></c>'), (4, '<c r="A4"><v>4</v></c>')],
])
def test_sheets_whose_cells_are_placed_oddly_read_as_the_whole_sheet(rows):
    content = _openpyxl_book([["x"]], set(), 0)
    part = _part(content)
    content = _with_sheet_xml(content, part, _rows_xml(rows))
    whole = _whole(content, "Customers")
    for slices in (2, 3, 4):
        got = sliced_rows(content, part, "Customers", slices)
        assert got is None or got == whole


def test_a_cut_before_a_row_without_its_number_is_not_made():
    # Formatted empty rows, then rows without r="": the whole read numbers them after the
    # empty ones. Cut just before the first of them, a slice would number it 1.
    cells = "".join(f"<row><c><v>{i}</v></c></row>" for i in range(10))
    empty = "".join(f'<row r="{i}" ht="15" customHeight="1"></row>' for i in range(1, 11))
    cells = cells[:-len("</row>")] + " " * (len(empty) - len(cells)) + "</row>"
    assert len(cells) == len(empty)  # so that the cut falls on the first row without r
    content = _openpyxl_book([["x"]], set(), 0)
    part = _part(content)
    xml = _rows_xml([]).replace(b"<sheetData></sheetData>",
                                f"<sheetData>{empty}{cells}</sheetData>".encode())
    content = _with_sheet_xml(content, part, xml)
    whole = _whole(content, "Customers")
    assert whole[10:] == [[float(i)] for i in range(10)]
    assert sliced_rows(content, part, "Customers", 2) in (None, whole)


def test_a_slice_calamine_refuses_is_read_whole():
    content = _openpyxl_book([["x"]], set(), 0)
    part = _part(content)
    xml = _rows_xml([(1, "<c><v>1</v></c>"), (2, '<c><v>2</v><bad'), (3, "<c><v>3</v></c>")])
    content = _with_sheet_xml(content, part, xml)
    assert sliced_rows(content, part, "Customers", 2) is None


def test_a_large_ledger_is_read_in_slices_from_the_xml_the_check_kept(monkeypatch, tmp_path):
    rows = [[f"C{i:05d}", i * 1.5, f"name {i % 97}", datetime(2024, 1, 1 + i % 28)]
            for i in range(3000)]
    path = tmp_path / "big.xlsx"
    path.write_bytes(_openpyxl_book([["CustomerID", "Value", "Name", "Since"], *rows],
                                    set(), 0))
    whole = _whole(path.read_bytes(), "Customers")
    monkeypatch.setattr(sliced_read, "MIN_BYTES", 1 << 10)
    monkeypatch.setattr(sliced_read, "CAN_THREAD", True)
    monkeypatch.setattr(sliced_read.os, "cpu_count", lambda: 4)
    seen = []
    real = sliced_read.sliced_rows

    def spy(z, content, part, sheet, slices, xml=None):
        got = real(z, content, part, sheet, slices, xml)
        seen.append((slices, xml is not None, got is not None))
        return got

    monkeypatch.setattr("xlcrm.book.read.sliced_rows", spy)
    book = open_workbook(path, read_first=["Customers"])
    assert book.rows("Customers") == whole
    # four slices, from the XML the package check had inflated
    assert seen == [(4, True, True)]
    assert book.rows("Customers") == whole  # the kept XML is let go: inflated again
    assert seen[1] == (4, False, True)
    assert open_workbook(path).rows("Other") == [["other"]]  # small: read whole


def _parts_of(content: bytes) -> dict[str, str]:
    pkg = Package(zipfile.ZipFile(io.BytesIO(content)))
    return {e.name: e.part for e in pkg.sheets() if e.kind == "worksheet"}


def test_sheets_xlcrm_writes_read_in_slices_as_whole(tmp_path):
    # The demo's ledger (appended by xlcrm into the template's table) and its result sheets
    # (the writer's inline strings, styles kept from the template, dates).
    from xlcrm.book.demo_file import create_demo_workbook

    path = tmp_path / "demo.xlsm"
    create_demo_workbook(path, customers=400, seed=2, today=datetime(2026, 6, 30).date(),
                         stamp=datetime(2026, 6, 30, 18))
    content = path.read_bytes()
    for sheet, part in _parts_of(content).items():
        whole = _whole(content, sheet)
        for slices in (2, 3):
            got = sliced_rows(content, part, sheet, slices)
            assert got is None or got == whole, sheet
        if sheet in ("Customers", "Transactions", "Scores", "Segments"):
            assert sliced_rows(content, part, sheet, 2) == whole, sheet


@pytest.mark.libreoffice
@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice not installed")
def test_a_ledger_saved_by_libreoffice_reads_in_slices_as_whole(tmp_path):
    # LibreOffice writes shared strings, spans and row attributes, and its own styles.
    rows = [[f"C{i:04d}", None if i % 6 == 0 else i * 2.5, f"name {i % 13}",
             datetime(2024, 1 + i % 12, 1 + i % 28)] for i in range(600)]
    src = tmp_path / "ledger.xlsx"
    src.write_bytes(_openpyxl_book([["CustomerID", "Value", "Name", "Since"], *rows], {9}, 0))
    subprocess.run(["soffice", "--headless", "--norestore",
                    f"-env:UserInstallation=file://{tmp_path}/profile", "--convert-to", "xlsx",
                    "--outdir", str(tmp_path / "out"), str(src)],
                   check=True, capture_output=True, timeout=180)
    content = (tmp_path / "out" / "ledger.xlsx").read_bytes()
    part = _parts_of(content)["Customers"]
    whole = _whole(content, "Customers")
    for slices in (2, 3, 4):
        assert sliced_rows(content, part, "Customers", slices) == whole
