"""Fidelity: writing results into a rich macro workbook changes nothing but the result cells.

The source holds what a re-save through a spreadsheet library loses: VBA, a customUI14
ribbon and its package relationship, charts, a picture, a text box, an Excel Table, data
validation, conditional formats with a 2010 extension, sparklines, comments, defined
names and a calculation chain. After a write through :func:`safe_replace`, every part
xlcrm does not own has the same compressed bytes; the owned Dashboard keeps its chart,
picture, text box and conditional format.
"""

from __future__ import annotations

import csv
import re
import shutil
import subprocess
from datetime import datetime
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from fixtures.books import REL_CUSTOMUI14, raw_parts, read_parts, rich_workbook, sheet_part

from xlcrm import schema
from xlcrm.book.read import open_workbook, read_sheet
from xlcrm.book.save import safe_replace
from xlcrm.book.write import Block, Formula, SheetData, WriteReport, write_result_sheets

LEDGER_TEXT = ("CustomerID",)
# openpyxl (used here only as an independent reader) cannot keep 2010 extensions.
pytestmark = pytest.mark.filterwarnings("ignore:.*extension is not supported:UserWarning")


def _results(n: int) -> dict[str, object]:
    rng = np.random.default_rng(0)
    ids = [f"{1000 + i}" for i in range(n)]
    scores = pd.DataFrame({
        "CustomerID": ids, "Name": [f"Customer {i} GmbH" for i in range(n)],
        "Value": rng.uniform(0, 100, n).round(3), "Rank": np.arange(1, n + 1),
    })
    segments = pd.DataFrame({"CustomerID": ids, "Type": rng.integers(1, 9, n),
                             "ABC": rng.choice(["A", "B", "C"], n)})
    dashboard = SheetData([
        Block([["Customer value dashboard"]]),
        Block([[f"Computed {datetime(2025, 3, 1, 9, 30):%Y-%m-%d %H:%M}"]], row=1),
        Block([["Type", "Customers"], *[[f"T{i}", int(c)] for i, c in enumerate(
            np.bincount(segments["Type"], minlength=9)[1:5], start=1)]], row=2),
        Block([["Total", Formula("SUM(B4:B7)", int(np.bincount(segments["Type"],
                                                                minlength=9)[1:5].sum()))]],
              row=8),
    ])
    problems = [list(schema.PROBLEMS_COLUMNS),
                ["error", "Customers", "B7", '=HYPERLINK("http://x","y") is not a name', "Fix"]]
    return {schema.SCORES: scores, schema.SEGMENTS: segments, schema.DASHBOARD: dashboard,
            schema.PROBLEMS: problems}


@pytest.fixture(scope="module")
def rich(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, WriteReport]:
    """(source copy, resegmented workbook, what the write changed)."""
    folder = tmp_path_factory.mktemp("fidelity")
    src = rich_workbook(folder / "source.xlsm")
    book = folder / "Rich.xlsm"
    shutil.copy(src, book)
    wb = open_workbook(book)
    reports: list[WriteReport] = []
    sheets = _results(20)

    def write(tmp: Path) -> None:
        reports.append(write_result_sheets(wb, tmp, sheets, owned=schema.RESULT_SHEETS))

    safe_replace(book, write, expected_stamp=wb.stamp, expect_sheets=tuple(sheets))
    return src, book, reports[0]


def test_every_part_not_owned_is_byte_identical(rich: tuple[Path, Path, WriteReport]) -> None:
    src, book, report = rich
    before, after = raw_parts(src), raw_parts(book)
    touched = set(report.replaced) | set(report.changed) | set(report.removed)
    untouched = [n for n in before if n not in touched]
    for name in untouched:
        assert after[name] == before[name], name
    # What is kept byte for byte includes everything a re-save would lose.
    must_keep = [
        "xl/vbaProject.bin", "customUI/customUI14.xml", "_rels/.rels", "xl/media/image1.png",
        "xl/tables/table1.xml", "xl/comments/comment1.xml", "xl/drawings/commentsDrawing1.vml",
        "xl/charts/chart1.xml", "xl/charts/chart2.xml", "docProps/app.xml",
        sheet_part(read_parts(src), "Customers"),
    ]
    assert set(must_keep) <= set(untouched)
    drawing = re.compile(r"xl/drawings/(_rels/)?drawing\d\.xml(\.rels)?")
    drawings = [n for n in untouched if drawing.fullmatch(n)]
    assert len(drawings) == 4  # two drawings and their relationships
    # Only the two result sheets that existed were regenerated; the rest is bookkeeping.
    parts = read_parts(src)
    assert set(report.replaced) == {sheet_part(parts, "Scores"), sheet_part(parts, "Dashboard")}
    assert set(report.changed) <= {"[Content_Types].xml", "xl/workbook.xml",
                                   "xl/_rels/workbook.xml.rels", "xl/styles.xml"}
    assert report.removed == ("xl/calcChain.xml",)  # it listed a formula on Scores
    assert report.sheets_added == ("Segments", "Problems")


def test_ribbon_relationship_and_vba_intact(rich: tuple[Path, Path, WriteReport]) -> None:
    _, book, _ = rich
    parts = read_parts(book)
    rel = re.search(rf'Type="{re.escape(REL_CUSTOMUI14)}"\s+Target="([^"]+)"',
                    parts["_rels/.rels"].decode())
    assert rel and rel.group(1) in parts
    assert b"onAction=\"Resegment\"" in parts[rel.group(1)]
    assert b'<Default Extension="bin"' in parts["[Content_Types].xml"] or \
        b"vbaProject" in parts["[Content_Types].xml"]
    assert b"vbaProject.bin" in parts["xl/_rels/workbook.xml.rels"]


def test_owned_dashboard_keeps_its_furniture(rich: tuple[Path, Path, WriteReport]) -> None:
    src, book, _ = rich
    old, new = read_parts(src), read_parts(book)
    part = sheet_part(new, "Dashboard")
    xml = new[part].decode()
    assert re.search(r'<drawing [^>]*r:id="rId1"', xml)
    assert '<conditionalFormatting sqref="B4:B7">' in xml
    rels = part.replace("worksheets/", "worksheets/_rels/") + ".rels"
    assert new[rels] == old[rels]
    assert '<c r="B9"><f>SUM(B4:B7)</f>' in xml
    ws = openpyxl.load_workbook(book)["Dashboard"]
    assert ws["A1"].value == "Customer value dashboard" and ws["A1"].font.b  # title style kept
    assert len(ws._charts) == 1


def test_workbook_bookkeeping_keeps_names(rich: tuple[Path, Path, WriteReport]) -> None:
    src, book, _ = rich
    old, new = read_parts(src)["xl/workbook.xml"], read_parts(book)["xl/workbook.xml"]
    added = re.findall(rb'<sheet name="(?:Segments|Problems)"[^>]*/>', new)
    assert len(added) == 2
    stripped = new
    for el in added:
        stripped = stripped.replace(el, b"")
    assert stripped == old
    assert b"CustomerIDs" in new and b"Regions" in new
    calc = read_parts(book)
    assert "xl/calcChain.xml" not in calc
    assert b"calcChain" not in calc["[Content_Types].xml"]
    assert b"calcChain" not in calc["xl/_rels/workbook.xml.rels"]


def test_ledger_and_results_read_back(rich: tuple[Path, Path, WriteReport]) -> None:
    src, book, _ = rich
    before = read_sheet(src, "Customers", text_columns=LEDGER_TEXT).frame
    after = read_sheet(book, "Customers", text_columns=LEDGER_TEXT).frame
    pd.testing.assert_frame_equal(before, after)
    scores = read_sheet(book, "Scores", text_columns=LEDGER_TEXT).frame
    expected = _results(20)[schema.SCORES]
    assert scores["CustomerID"].tolist() == expected["CustomerID"].tolist()
    assert scores["Value"].tolist() == expected["Value"].tolist()
    wb = openpyxl.load_workbook(book, keep_vba=True)
    assert wb.sheetnames[-2:] == ["Segments", "Problems"]
    assert wb["Problems"]["D2"].data_type == "s"


@pytest.mark.libreoffice
@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice not installed")
def test_libreoffice_opens_the_result(rich: tuple[Path, Path, WriteReport], tmp_path: Path
                                      ) -> None:
    _, book, _ = rich
    # All sheets to CSV (the trailing -1), UTF-8, formulas shown as their values.
    fmt = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1"
    subprocess.run(
        ["soffice", "--headless", "--norestore",
         f"-env:UserInstallation=file://{tmp_path}/profile", "--convert-to", fmt,
         "--outdir", str(tmp_path), str(book)],
        check=True, capture_output=True, timeout=180,
    )

    def sheet(name: str) -> list[list[str]]:
        with open(tmp_path / f"Rich-{name}.csv", encoding="utf-8", newline="") as f:
            return list(csv.reader(f))

    scores = sheet("Scores")
    assert scores[0] == ["CustomerID", "Name", "Value", "Rank"]
    assert [r[0] for r in scores[1:]] == [f"{1000 + i}" for i in range(20)]
    dash = sheet("Dashboard")
    assert dash[0][0] == "Customer value dashboard"
    total = sum(int(r[1]) for r in dash[3:7])
    assert dash[8][:2] == ["Total", str(total)]
    assert sheet("Problems")[1][3] == '=HYPERLINK("http://x","y") is not a name'
    customers = sheet("Customers")
    assert customers[1][0] == "000000" and customers[2][0] == "1001"
