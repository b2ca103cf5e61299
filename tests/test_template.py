"""The committed template is what the builder makes, and it is a sound workbook."""

from __future__ import annotations

import io
import zipfile
from xml.etree import ElementTree

import numpy as np
import openpyxl
import pytest
from python_calamine import CalamineWorkbook

from xlcrm import schema
from xlcrm.book.read import sheet_parts
from xlcrm.book.settings import find_matrix_blocks, settings_from_grids
from xlcrm.book.template import (
    FONT_ORDER,
    SHEET_ORDER,
    TEMPLATE_PATH,
    build_workbook,
    fonts_in_schema_order,
    judgment_layout,
    lower_formula,
)
from xlcrm.value.ahp import ahp, parse_matrix
from xlcrm.value.hierarchy import default_hierarchy, default_judgments


@pytest.fixture(scope="module")
def built() -> bytes:
    return build_workbook()


def parts(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {i.filename: z.read(i) for i in z.infolist()}


def test_committed_template_matches_a_fresh_build(built):
    committed = parts(TEMPLATE_PATH.read_bytes())
    fresh = parts(built)
    assert list(committed) == list(fresh), "part list differs: run `xlcrm build-template`"
    for name in fresh:
        assert committed[name] == fresh[name], f"{name} differs: run `xlcrm build-template`"


def test_build_is_deterministic(built):
    assert build_workbook() == built


def test_sheets_in_order_and_config_hidden(built):
    wb = openpyxl.load_workbook(io.BytesIO(built), keep_vba=True)
    assert wb.sheetnames == [*SHEET_ORDER, "xlwings.conf"]
    assert wb["xlwings.conf"].sheet_state == "hidden"
    assert wb["xlwings.conf"]["A1"].value == "UDF Modules"
    assert wb["xlwings.conf"]["B1"].value == "udfs"


def test_customers_is_an_excel_table_with_contract_columns(built):
    wb = openpyxl.load_workbook(io.BytesIO(built))
    ws = wb[schema.CUSTOMERS]
    assert "tblCustomers" in ws.tables
    header = [c.value for c in ws[1]]
    assert header[:2] == ["CustomerID", "Name"]
    assert header == [*schema.CUSTOMER_IDENTITY_COLUMNS, *schema.DEFAULT_INDICATOR_COLUMNS]


def test_rubric_columns_have_dropdowns(built):
    wb = openpyxl.load_workbook(io.BytesIO(built))
    ws = wb[schema.CUSTOMERS]
    formulas = " ".join(dv.formula1 for dv in ws.data_validations.dataValidation)
    for label in ("Excellent", "AAA", "Growing"):
        assert label in formulas


def test_result_sheet_headers_are_the_contract(built):
    wb = openpyxl.load_workbook(io.BytesIO(built))
    seg = [c.value for c in wb[schema.SEGMENTS][1]]
    assert seg == list(schema.SEGMENTS_COLUMNS)
    scores = [c.value for c in wb[schema.SCORES][1]]
    h = default_hierarchy()
    assert scores[:2] == ["CustomerID", "Name"]
    assert scores[2:14] == [i.name for i in h.indicators]
    assert scores[14:17] == list(h.groups)
    assert scores[17:20] == ["Value", "Rank", "Percentile"]


def test_judgments_show_cached_weights_and_cr_before_python_runs(built):
    """Calamine reads cached values only: what a recipient without Python sees."""
    book = CalamineWorkbook.from_filelike(io.BytesIO(built))
    grid = book.get_sheet_by_name(schema.JUDGMENTS).to_python()
    h = default_hierarchy()
    judgments = default_judgments()
    for block in judgment_layout(h):
        key = "groups" if block.level == "Groups" else block.level
        expected = ahp(judgments[key])
        r0, c0 = block.first_row - 1, block.first_col - 1
        weights = [grid[r0 + i][c0 + block.n + 1] for i in range(block.n)]
        np.testing.assert_allclose(weights, expected.weights, atol=1e-12)
        cr = grid[block.cr_row - 1][1]
        assert cr == pytest.approx(expected.cr, abs=1e-12)
        assert expected.cr < 0.10
        # Lower triangle cached as the reciprocal of the typed upper triangle.
        matrix = parse_matrix([row[c0 : c0 + block.n] for row in grid[r0 : r0 + block.n]])
        np.testing.assert_allclose(matrix, parse_matrix(judgments[key]), rtol=1e-12)


def test_settings_read_back_from_template(built):
    book = CalamineWorkbook.from_filelike(io.BytesIO(built))
    grids = {s: book.get_sheet_by_name(s).to_python() for s in schema.SETTINGS_SHEETS}
    settings = settings_from_grids(
        grids[schema.INDICATORS], grids[schema.JUDGMENTS], grids[schema.STRATEGIES]
    )
    assert settings.hierarchy == default_hierarchy()
    assert settings.problems == []
    blocks = find_matrix_blocks(grids[schema.JUDGMENTS])
    assert set(blocks) == {"Groups", *default_hierarchy().groups}


def test_no_full_recalculation_on_open(built):
    """Recalculating on open would replace cached numbers with errors where Python is absent."""
    workbook_xml = parts(built)["xl/workbook.xml"].decode()
    assert 'fullCalcOnLoad="1"' not in workbook_xml


def test_lower_formula_text():
    f = lower_formula("C4")
    assert f.startswith('=IF(C4="","",IF(ISNUMBER(C4),1/C4,')


RECALC_ALWAYS = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry"
 xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load">
<prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop></item>
</oor:items>
"""


@pytest.mark.libreoffice
def test_libreoffice_recalculates_native_formulas_like_python(built, tmp_path):
    """LibreOffice opens the template and its native reciprocal formulas agree with Python.

    The cached values are first spoiled (99), so the numbers read back can only come from
    LibreOffice's own recalculation of the formulas.
    """
    import shutil
    import subprocess

    from xlcrm.book.read import sheet_parts
    from xlcrm.book.ribbon import write_zip
    from xlcrm.book.template import set_cached_values

    soffice = shutil.which("soffice")
    if soffice is None:
        pytest.skip("LibreOffice (soffice) is not installed")
    p = parts(built)
    part = sheet_parts(built)[schema.JUDGMENTS]
    blocks = judgment_layout(default_hierarchy())
    spoiled = {}
    for b in blocks:
        for i in range(b.n):
            for j in range(i):
                spoiled[f"{chr(64 + b.first_col + j)}{b.first_row + i}"] = 99.0
    p[part] = set_cached_values(p[part], spoiled)
    src = tmp_path / "spoiled.xlsm"
    src.write_bytes(write_zip(p))
    profile = tmp_path / "profile" / "user"
    profile.mkdir(parents=True)
    (profile / "registrymodifications.xcu").write_text(RECALC_ALWAYS)
    subprocess.run(
        [soffice, f"-env:UserInstallation=file://{tmp_path / 'profile'}", "--headless",
         "--convert-to", "xlsx", "--outdir", str(tmp_path / "out"), str(src)],
        check=True, capture_output=True, timeout=180,
    )
    grid = CalamineWorkbook.from_path(str(tmp_path / "out" / "spoiled.xlsx")).get_sheet_by_name(
        schema.JUDGMENTS).to_python()
    judgments = default_judgments()
    for b in blocks:
        key = "groups" if b.level == "Groups" else b.level
        expected = parse_matrix(judgments[key])
        r0, c0 = b.first_row - 1, b.first_col - 1
        for i in range(b.n):
            for j in range(i):
                assert grid[r0 + i][c0 + j] == pytest.approx(expected[i, j], rel=1e-12), (
                    b.level, i, j)


def test_help_and_judgments_say_what_the_weight_and_cr_cells_need(built):
    """A workbook emailed as it is shows #NAME? in the weight and CR cells once a recipient
    without the add-in edits a judgment (#16): the workbook itself says why and what to do."""
    book = CalamineWorkbook.from_filelike(io.BytesIO(built))
    help_rows = {r[0]: r[1] for r in book.get_sheet_by_name(schema.HELP).to_python()
                 if len(r) > 1 and r[0]}
    # Text, not an error value: openpyxl would write "#NAME?" as an error cell.
    assert "#NAME?" in help_rows and "add-in" in help_rows["#NAME?"]
    assert "Ctrl+Z" in help_rows["#NAME?"]
    assert "AHP_WEIGHTS" in help_rows["Add-in"] and "AHP_CR" in help_rows["Add-in"]
    assert "shareable copy" in help_rows["Emailing"] and "xlcrm share" in help_rows["Emailing"]
    grid = book.get_sheet_by_name(schema.JUDGMENTS).to_python()
    for block in judgment_layout(default_hierarchy()):
        header = grid[block.first_row - 2]
        assert header[block.weight_col - 1] == "Weight"
        assert "add-in" in header[block.weight_col], block.level
        cr_row = grid[block.cr_row - 1]
        assert cr_row[0] == "CR"
        note = next(v for v in cr_row[3:] if v)
        assert "add-in" in note and "#NAME?" in note and "shareable copy" in note
    # The notes do not disturb the sheet's reading.
    assert set(find_matrix_blocks(grid)) == {"Groups", *default_hierarchy().groups}


# Schema points Microsoft's Open XML SDK validator checks (scripts/validate_workbooks.py runs
# it in CI); asserted here too so that a builder change fails the fast suite.
NS_SHEET = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
NS_CHART = "{http://schemas.openxmlformats.org/drawingml/2006/chart}"


def test_font_children_in_schema_order(built):
    root = ElementTree.fromstring(parts(built)["xl/styles.xml"])
    fonts = list(root.iter(f"{NS_SHEET}font"))
    assert len(fonts) >= 5  # the cell fonts and the conditional formats' font
    for font in fonts:
        names = [child.tag.removeprefix(NS_SHEET) for child in font]
        assert names == sorted(names, key=FONT_ORDER.index), names


def test_fonts_in_schema_order_keeps_every_child():
    xml = (b'<fonts><font><name val="Calibri" /><b val="1" /><color rgb="00FFFFFF" />'
           b'<sz val="14" /></font><font/></fonts>')
    assert fonts_in_schema_order(xml) == (
        b'<fonts><font><b val="1" /><sz val="14" /><color rgb="00FFFFFF" />'
        b'<name val="Calibri" /></font><font/></fonts>')
    with pytest.raises(ValueError, match="unexpected font element"):
        fonts_in_schema_order(b"<font><color><tint/></color></font>")


def test_scatter_charts_declare_their_style(built):
    scatter = 0
    for name, xml in parts(built).items():
        if not name.startswith("xl/charts/"):
            continue
        for chart in ElementTree.fromstring(xml).iter(f"{NS_CHART}scatterChart"):
            scatter += 1
            assert chart[0].tag == f"{NS_CHART}scatterStyle", name  # first, by the schema
            assert chart[0].get("val") == "lineMarker"
    assert scatter == 2  # the Pareto curve and the importance-performance grid


def test_conditional_format_priorities_unique_per_sheet(built):
    part_of = sheet_parts(built)
    files = parts(built)
    judged = 0
    for sheet, part in part_of.items():
        rules = ElementTree.fromstring(files[part]).iter(f"{NS_SHEET}cfRule")
        priorities = [int(rule.get("priority")) for rule in rules]
        assert len(priorities) == len(set(priorities)), (sheet, priorities)
        judged += sheet == schema.JUDGMENTS and len(priorities)
    assert judged == 3 * len(judgment_layout(default_hierarchy()))  # red, green, verdict
