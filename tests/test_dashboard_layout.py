"""The Dashboard's layout as printed and read: headline tiles, widths, row heights, pages."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import zipfile
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook

from xlcrm import report, schema
from xlcrm.book.paths import TEMPLATE_PATH
from xlcrm.book.read import open_workbook
from xlcrm.book.template import dashboard_headers
from xlcrm.book.workbook_file import create_demo_workbook

STAMP = datetime(2026, 10, 31, 9, 0)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    path = tmp_path_factory.mktemp("layout") / "demo.xlsm"
    return path, create_demo_workbook(path, customers=300, seed=7, stamp=STAMP)


def lines(text: str, width: float, bold: bool) -> int:
    """Word-wrapped lines, a character of bold Calibri counted 1.1 width units (an
    estimate independent of the builder's)."""
    room = width - 1
    n, used = 1, 0.0
    for word in text.split():
        w = len(word) * (1.1 if bold else 1.0)
        assert w <= room, f"{word!r} cannot fit a column {width} wide"
        if used and used + 1 + w > room:
            n, used = n + 1, w
        else:
            used = used + (1 if used else 0) + w
    return n


def test_every_header_and_tile_label_fits_its_column_and_row():
    ws = load_workbook(TEMPLATE_PATH)[schema.DASHBOARD]
    width = {c: ws.column_dimensions[c].width for c in ws.column_dimensions}
    cells = [((r, c), names) for (r, c), names in dashboard_headers().items() if c == 0
             or (r, c) in (report.DASH_TYPES_STRATEGY, report.DASH_RISK_REASON)]
    cells.append((report.DASH_TILES, report.TILE_NAMES))
    for (r, c), names in cells:
        height = ws.row_dimensions[r + 1].height or 15
        for j, name in enumerate(names):
            letter = ws.cell(row=r + 1, column=c + 1 + j).column_letter
            assert ws.cell(row=r + 1, column=c + 1 + j).value == name
            need = lines(name, width[letter], bold=True)
            assert need * 15 <= height, (name, letter, width[letter], height)
            if need > 1:
                assert ws.cell(row=r + 1, column=c + 1 + j).alignment.wrap_text, name


def test_names_strategies_and_reasons_are_not_cut(demo):
    path, results = demo
    ws = load_workbook(path)[schema.DASHBOARD]
    wide = ws.column_dimensions["C"].width
    for header in (report.DASH_RISK_HEADER, report.DASH_OVERDUE_HEADER):
        for row in range(header[0] + 2, header[0] + 2 + 25):
            name = ws.cell(row=row, column=3).value
            if name:
                assert len(name) + 1 <= wide, name  # one character of indent
    # CLV per class and type: segment names such as "2 HHL Promising but dormant" in A.
    first = ws.column_dimensions["A"].width
    for row in range(report.DASH_CLV_HEADER[0] + 2, report.DASH_CLV_HEADER[0] + 2 + 19):
        segment = ws.cell(row=row, column=1).value
        if segment:
            assert len(segment) <= first - 1, segment
    text = ws.column_dimensions["N"].width
    for header, n in ((report.DASH_TYPES_STRATEGY, 8), (report.DASH_RISK_REASON, 25)):
        for row in range(header[0] + 2, header[0] + 2 + n):
            value = ws.cell(row=row, column=14).value
            if value:
                assert ws.cell(row=row, column=14).alignment.wrap_text
                assert lines(value, text, bold=False) * 15 <= ws.row_dimensions[row].height
    # In the print area only the KPI table reaches columns L and M (the gap before N).
    for (r, _c), _names in dashboard_headers().items():
        if r < report.DASH_PRINT_ROWS and r != report.DASH_KPI_HEADER[0]:
            assert all(ws.cell(row=r + 1, column=k).value is None for k in (12, 13)), r


def test_strategies_rows_are_as_tall_as_their_wrapped_text():
    ws = load_workbook(TEMPLATE_PATH)[schema.STRATEGIES]
    widths = {c: ws.column_dimensions[c].width for c in "ABCDEF"}
    for row in range(2, ws.max_row + 1):
        for letter in "CDE":
            value = ws[f"{letter}{row}"].value
            if value:
                need = lines(str(value), widths[letter], bold=False)
                assert need * 15 <= (ws.row_dimensions[row].height or 15), (letter, row, value)


def test_tiles_show_the_run_figures_and_say_what_each_is(demo):
    path, results = demo
    rows = open_workbook(path).rows(schema.DASHBOARD)
    r, _ = report.DASH_TILES
    assert rows[r][:7] == list(report.TILE_NAMES)
    kpi = results.operations.kpis["Overall"]
    abc = results.summary_by_abc.set_index("Class")
    figures = rows[r + 1][:7]
    assert figures[0] == 300
    assert figures[1] == kpi["Active customers"]
    # "A share of revenue" is the ABC block's share (classes by revenue), not the KPI of
    # summed value scores, which differs.
    assert figures[2] == pytest.approx(abc.loc["A", "ValueShare"])
    assert figures[2] != pytest.approx(kpi["A share of summed value scores"], abs=0.01)
    assert figures[3] == pytest.approx(kpi["Churn rate"])
    assert figures[4] == pytest.approx(results.operations.at_risk["ValueAtRisk"].sum())
    assert figures[5] == kpi["Overdue contacts"]
    assert figures[6] == report.NO_EARLIER_RUN and rows[r + 2][6] == "no earlier run"


def test_demo_overdue_is_the_exception():
    """About 10-25 % of the demo's customers are overdue (it was 75 % before the demo's
    planned calls followed the visit intervals)."""
    for n, seed in ((300, 7), (120, 11)):
        with tempfile.TemporaryDirectory() as tmp:
            results = create_demo_workbook(Path(tmp) / "d.xlsm", customers=n, seed=seed)
        share = results.operations.kpis.loc["Overdue contacts", "Overall"] / n
        assert 0.10 <= share <= 0.25, (n, seed, share)


def test_moved_down_counts_only_customers_compared():
    seg = pd.DataFrame({"Move": ["down", "same", "new", "up", "down", None]})
    assert report.moved_down(seg) == (2, 4)
    assert report.moved_down(pd.DataFrame({"Move": ["new", "new"]})) == (None, 0)
    assert report.moved_down(pd.DataFrame({"Type": [1]})) == (None, 0)


def test_pareto_axes_end_at_100_percent_with_the_cut_off_line(demo):
    path, results = demo
    with zipfile.ZipFile(path) as z:
        xml = next(z.read(n).decode() for n in z.namelist() if n.startswith("xl/charts/")
                   and "Pareto curve" in z.read(n).decode())
    assert len(re.findall(r'<(?:c:)?max val="1(?:\.0)?"', xml)) == 2
    rows = open_workbook(path).rows(schema.DASHBOARD)
    r, c = report.DASH_PARETO_LINE
    assert [rows[r + 1][c + 1], rows[r + 2][c + 1]] == [0.8, 0.8]


@pytest.mark.skipif(not (shutil.which("soffice") and shutil.which("pdfinfo")),
                    reason="needs LibreOffice and poppler")
def test_dashboard_prints_on_two_or_three_pages(demo, tmp_path):
    path, _ = demo
    with zipfile.ZipFile(path) as z:
        book = z.read("xl/workbook.xml").decode()
        # Only the Dashboard printable: LibreOffice leaves hidden sheets out of the PDF.
        book = re.sub(r'(<sheet\b[^>]*?)\sstate="[^"]*"', r"\1", book)
        book = re.sub(r'<sheet (?![^>]*name="Dashboard")', '<sheet state="hidden" ', book)
        book = re.sub(r'\b(activeTab|firstSheet)="\d+"', r'\1="1"', book)
        copy = tmp_path / "dash.xlsm"
        with zipfile.ZipFile(copy, "w", zipfile.ZIP_DEFLATED) as w:
            for info in z.infolist():
                w.writestr(info.filename, book.encode() if info.filename == "xl/workbook.xml"
                           else z.read(info))
    profile = (tmp_path / "lo").as_uri()
    subprocess.run(["soffice", f"-env:UserInstallation={profile}", "--headless",
                    "--convert-to", "pdf", "--outdir", str(tmp_path), str(copy)],
                   capture_output=True, timeout=600, check=True)
    info = subprocess.run(["pdfinfo", str(tmp_path / "dash.pdf")], capture_output=True,
                          text=True, check=True).stdout
    pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))
    assert 2 <= pages <= 3
    if shutil.which("pdftotext"):
        # Each list starts a page of its own (the page breaks above their titles).
        for page, title in ((2, "Customers at risk"), (3, "Contacts overdue")):
            text = subprocess.run(["pdftotext", "-f", str(page), "-l", str(page),
                                   str(tmp_path / "dash.pdf"), "-"], capture_output=True,
                                  text=True, check=True).stdout
            assert text.lstrip().startswith(title), (page, text[:80])


def test_rewriting_the_dashboard_keeps_the_layouts_row_heights(demo, tmp_path):
    """The writer regenerates the cells; the tall rows the template set (tiles, wrapped
    headers, wrapped reasons) stay as tall, and an untouched row stays default."""
    from xlcrm.book.write import write_result_sheets

    path, _ = demo
    before = load_workbook(path)[schema.DASHBOARD].row_dimensions
    rows = open_workbook(path).rows(schema.DASHBOARD)
    out = tmp_path / "again.xlsm"
    write_result_sheets(path.read_bytes(), out, {schema.DASHBOARD: rows},
                        owned={schema.DASHBOARD})
    after = load_workbook(out)[schema.DASHBOARD].row_dimensions
    tile_label = report.DASH_TILES[0] + 1
    reason = report.DASH_RISK_REASON[0] + 2
    for row in (tile_label, tile_label + 1, report.DASH_TYPES_HEADER[0] + 1, reason):
        assert before[row].height and before[row].height > 15
        assert after[row].height == before[row].height, row
    assert after[report.DASH_STAMP[0] + 1].height is None


def test_a_share_of_revenue_when_the_classes_are_by_value_score(tmp_path):
    """The truck maker's model ranks ABC by value score; the tile still gives class A's
    share of the revenue (summed from the customers' revenue), not the ABC block's share of
    summed value scores, and the ABC header row is tall enough for that block's words."""
    results = create_demo_workbook(tmp_path / "truck.xlsm", customers=120, seed=11,
                                   stamp=STAMP, model="truck-maker")
    assert results.abc_basis == "Value"
    seg = results.segments_table
    revenue = pd.to_numeric(results.scored["Revenue12m"], errors="coerce").to_numpy()
    a = (seg["ABC"] == "A").to_numpy()
    classed = seg["ABC"].notna().to_numpy()
    want = revenue[a].sum() / revenue[classed].sum()
    rows = open_workbook(tmp_path / "truck.xlsm").rows(schema.DASHBOARD)
    r, _ = report.DASH_TILES
    assert rows[r + 1][2] == pytest.approx(want)
    abc = results.summary_by_abc.set_index("Class")
    assert rows[r + 1][2] != pytest.approx(abc.loc["A", "ValueShare"], abs=0.01)
    assert "ranked by value score" in rows[r + 2][2]
    ws = load_workbook(tmp_path / "truck.xlsm")[schema.DASHBOARD]
    hr = report.DASH_ABC_HEADER[0] + 1
    for j, name in enumerate(report.ABC_HEADERS["Value"]):
        assert ws.cell(row=hr, column=1 + j).value == name
        letter = ws.cell(row=hr, column=1 + j).column_letter
        need = lines(name, ws.column_dimensions[letter].width, bold=True)
        assert need * 15 <= ws.row_dimensions[hr].height, name
