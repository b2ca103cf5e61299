"""Writing result sheets: only owned cells change, every value comes back, text stays text."""

from __future__ import annotations

import io
import math
import os
import re
import shutil
import subprocess
import sys
import zipfile
import zlib
from collections.abc import Callable
from datetime import date, datetime, time
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import openpyxl
import pandas as pd
import pytest
import python_calamine
from fixtures.books import QUICKSTART, raw_parts, read_parts, sheet_part, write_parts
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from openpyxl.formatting.rule import CellIsRule
from openpyxl.styles import Font, PatternFill
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.table import Table

from xlcrm.book.read import read_sheet
from xlcrm.book.write import (
    Block,
    Formula,
    SheetData,
    _CellWriter,
    _Styles,
    escape_text,
    internal_link,
    write_result_sheets,
)
from xlcrm.errors import InputError

INJECTIONS = [
    '=HYPERLINK("http://evil.example","click")',
    "+cmd|' /c calc'!A0",
    "-2+3",
    "@SUM(1)",
    "=1+1",
    '=cmd|"/c calc"!A1',
]


@pytest.fixture
def book(tmp_path: Path) -> Path:
    """xlwings' quickstart macro workbook (VBA, two sheets, shared strings)."""
    path = tmp_path / "Book.xlsm"
    shutil.copy(QUICKSTART, path)
    return path


def _calamine(path: Path, sheet: str) -> list[list[object]]:
    with python_calamine.CalamineWorkbook.from_path(path) as wb:
        return wb.get_sheet_by_name(sheet).to_python(skip_empty_area=False)


def _sheet_names(path: Path) -> list[str]:
    with python_calamine.CalamineWorkbook.from_path(path) as wb:
        return list(wb.sheet_names)


def test_untouched_parts_keep_their_compressed_bytes_and_order(book: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.xlsm"
    report = write_result_sheets(
        book, out, {"Scores": [["CustomerID"], ["1001"]], "Sheet1": [["new"]]},
        owned=["Scores", "Sheet1"],
    )
    before, after = raw_parts(book), raw_parts(out)
    touched = set(report.replaced) | set(report.changed)
    assert report.replaced == ("xl/worksheets/sheet1.xml",)
    assert report.added == ("xl/worksheets/sheet3.xml",)
    assert set(report.changed) <= {
        "[Content_Types].xml", "xl/workbook.xml", "xl/_rels/workbook.xml.rels", "xl/styles.xml"}
    untouched = [n for n in before if n not in touched]
    assert "xl/vbaProject.bin" in untouched and "xl/sharedStrings.xml" in untouched
    for name in untouched:
        assert after[name] == before[name], name
    assert list(after) == [*before, *report.added]
    with zipfile.ZipFile(out) as z:
        assert z.testzip() is None


def test_bookkeeping_edits_are_only_the_new_sheet(book: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.xlsm"
    write_result_sheets(book, out, {"Scores": [["x"]]}, owned=["Scores"])
    old, new = read_parts(book), read_parts(out)
    wb_new = new["xl/workbook.xml"]
    sheet_el = re.search(rb'<sheet name="Scores" sheetId="3" r:id="(rId\d+)"/>', wb_new)
    assert sheet_el and wb_new.replace(sheet_el.group(), b"") == old["xl/workbook.xml"]
    rid = sheet_el.group(1)
    rel = re.search(rb'<Relationship Id="' + rid + rb'" Type="[^"]+/worksheet" '
                    rb'Target="worksheets/sheet3.xml"/>', new["xl/_rels/workbook.xml.rels"])
    assert rel
    assert new["xl/_rels/workbook.xml.rels"].replace(rel.group(), b"") == old[
        "xl/_rels/workbook.xml.rels"]
    ct = re.search(rb'<Override PartName="/xl/worksheets/sheet3.xml" ContentType="[^"]+"/>',
                   new["[Content_Types].xml"])
    assert ct and new["[Content_Types].xml"].replace(ct.group(), b"") == old["[Content_Types].xml"]
    # docProps/app.xml is deliberately left alone (Excel refreshes it on save).
    assert new["docProps/app.xml"] == old["docProps/app.xml"]
    assert _sheet_names(out) == ["Sheet1", "_xlwings.conf", "Scores"]
    assert openpyxl.load_workbook(out, keep_vba=True).sheetnames == _sheet_names(out)


VALUES = [
    ("text", "Acme GmbH"),
    ("id with zeros", "00042"),
    ("int", 1001),
    ("negative", -7),
    ("float", 0.1 + 0.2),
    ("tiny", 1e-300),
    ("huge", -2.5e300),
    ("precise", 123456789.125),
    ("true", True),
    ("false", False),
    ("date", date(2024, 2, 29)),
    ("datetime", datetime(2024, 3, 1, 13, 45, 30)),
    ("unicode", "Grüße 東京 🚚"),
]


def test_values_read_back_by_calamine_and_openpyxl(book: Path, tmp_path: Path) -> None:
    rows = [["Label", "Value"], *[[k, v] for k, v in VALUES],
            ["none", None], ["nan", math.nan], ["inf", math.inf]]
    out = tmp_path / "out.xlsm"
    write_result_sheets(book, out, {"Scores": rows}, owned=["Scores"])
    got = _calamine(out, "Scores")
    for i, (label, value) in enumerate(VALUES, start=1):
        assert got[i][0] == label
        if isinstance(value, date):  # datetime included: calamine gives the same type back
            assert got[i][1] == value
        else:
            assert got[i][1] == value and type(got[i][1]) in (type(value), float), label
    assert [r[1] for r in got[-3:]] == ["", "", ""]  # blank cells
    ws = openpyxl.load_workbook(out)["Scores"]
    for i, (label, value) in enumerate(VALUES, start=2):
        cell = ws.cell(i, 2)
        expected = datetime(value.year, value.month, value.day) if type(value) is date else value
        assert cell.value == expected, label
    assert ws["B15"].value is None and ws["B16"].value is None and ws["B17"].value is None
    assert ws["B12"].is_date and ws["B13"].is_date


def test_injection_strings_stay_text(book: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.xlsm"
    write_result_sheets(book, out, {"Problems": [[s] for s in INJECTIONS]}, owned=["Problems"])
    xml = read_parts(out)["xl/worksheets/sheet3.xml"]
    assert b"<f>" not in xml and b"<f " not in xml
    ws = openpyxl.load_workbook(out)["Problems"]
    for i, text in enumerate(INJECTIONS, start=1):
        assert ws.cell(i, 1).data_type == "s"
        assert ws.cell(i, 1).value == text
    assert [r[0] for r in _calamine(out, "Problems")] == INJECTIONS


def test_only_an_explicit_formula_is_a_formula(book: Path, tmp_path: Path) -> None:
    rows = [[1, 2, Formula("=SUM(A1:B1)", 3), Formula("A1&\"<x>\"", "1<x>"),
             internal_link("Sheet1", "B7"), Formula("NOW()")]]
    out = tmp_path / "out.xlsm"
    write_result_sheets(book, out, {"Dashboard": rows}, owned=["Dashboard"])
    xml = read_parts(out)["xl/worksheets/sheet3.xml"].decode()
    assert '<c r="C1"><f>SUM(A1:B1)</f><v>3</v></c>' in xml
    assert '<c r="D1" t="str"><f>A1&amp;"&lt;x&gt;"</f><v>1&lt;x&gt;</v></c>' in xml
    ws = openpyxl.load_workbook(out)["Dashboard"]
    assert ws["C1"].data_type == "f" and ws["C1"].value == "=SUM(A1:B1)"
    assert ws["E1"].value == '=HYPERLINK("#\'Sheet1\'!B7","Sheet1!B7")'
    assert _calamine(out, "Dashboard")[0][2:5] == [3.0, "1<x>", "Sheet1!B7"]


def test_report_formula_type_is_written_as_formula(book: Path, tmp_path: Path) -> None:
    report = pytest.importorskip("xlcrm.report")
    if not hasattr(report, "Formula"):
        pytest.skip("xlcrm.report has no Formula type")
    out = tmp_path / "out.xlsm"
    write_result_sheets(book, out, {"Scores": [[report.Formula("1+1", 2)]]}, owned=["Scores"])
    assert openpyxl.load_workbook(out)["Scores"]["A1"].value == "=1+1"


_TEXT = st.lists(
    st.one_of(
        # (U+FFFE/U+FFFF are written as Excel writes them, _xFFFE_, but calamine leaves
        # that undecoded; they are not characters anyone types.)
        st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\ufffe\uffff"),
                max_size=30),
        # literal escapes Excel (and calamine) would decode if they were not escaped
        st.builds("_{}{}_".format, st.sampled_from("xX"),
                  st.sampled_from(["0041", "0000", "000D", "005F", "00e9", "BE1C"])),
        st.sampled_from(["\r\n", "\x00", "\x0b", " lead", "trail ", "\t", "&amp;", "<t>", "]]>"]),
    ),
    min_size=1, max_size=4,
).map("".join)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(_TEXT, min_size=1, max_size=12))
@example(texts=["_x0041_", "a_x000D_b\r\n", "\x0b", "  ", "_x005F_x0041_"])
def test_any_text_reads_back_exactly(book: Path, tmp_path: Path, texts: list[str]) -> None:
    out = tmp_path / "prop.xlsm"
    write_result_sheets(book, out, {"Scores": [[t] for t in texts]}, owned=["Scores"])
    got = _calamine(out, "Scores")
    got_texts = [row[0] for row in got] + [""] * (len(texts) - len(got))
    assert got_texts == texts


@settings(max_examples=300, deadline=None)
@given(texts=st.lists(st.one_of(st.none(), _TEXT, st.text(max_size=12)), max_size=8))
@example(texts=["Müller & Söhne", "a<b>", None, "x_x0041_"])
@example(texts=["plain", " lead", "tab\t", "\xa0nbsp", ""])
def test_text_column_writes_what_cell_by_cell_writes(texts: list[str | None]) -> None:
    # The whole-column path checks and escapes a slice as one text; it must give exactly
    # the cells the one-cell path gives.
    writer = _CellWriter(_Styles(None), False, "Scores", {}, {})
    rows = range(2, 2 + len(texts))
    expected = ["" if not t else writer.text_cell(f"B{r}", t, 3)
                for r, t in zip(rows, texts, strict=True)]
    assert writer._text_column(texts, "B", rows, 3) == expected


@settings(max_examples=200, deadline=None)
@given(few=st.lists(st.one_of(st.none(), _TEXT, st.text(max_size=12)), min_size=1, max_size=6),
       picks=st.lists(st.integers(0, 5), min_size=64, max_size=200),
       string_dtype=st.booleans())
@example(few=["High", "Low", None, "", " lead", "a<b & _x0041_"], picks=list(range(6)) * 20,
         string_dtype=False)
def test_repeated_texts_write_what_cell_by_cell_writes(
    few: list[str | None], picks: list[int], string_dtype: bool
) -> None:
    # A column of few distinct texts (Segments' High/Low, type names, strategies) is
    # formatted once per distinct text: exactly the cells the one-cell path gives.
    texts = [few[i % len(few)] for i in picks]
    series = pd.Series(texts, dtype="string" if string_dtype else object)
    if string_dtype and len(set(texts) - {None}) == len(set(few) - {None}):
        series = series.astype("category")  # as Segments' labels come
    writer = _CellWriter(_Styles(None), False, "Segments", {}, {})
    rows = range(5, 5 + len(texts))
    expected = ["" if not t else writer.text_cell(f"C{r}", t, 4)
                for r, t in zip(rows, texts, strict=True)]
    assert writer._plain_series(series, 2, rows, 4) == expected
    assert writer._repeated_text(series, "C", rows, 4) in (None, expected)


def test_repeated_texts_path_takes_categorical_columns_only() -> None:
    writer = _CellWriter(_Styles(None), False, "Segments", {}, {})
    rows = range(2, 202)
    assert writer._repeated_text(pd.Series(["High", "Low"] * 100), "C", rows, None) is not None
    assert writer._repeated_text(pd.Series([f"C{i}" for i in range(200)]), "C", rows,
                                 None) is None  # IDs: every text once
    assert writer._repeated_text(pd.Series([1.5, "x"] * 100, dtype=object), "C", rows,
                                 None) is None  # a number among the texts
    labels = pd.Series(["High", None, "Low", "High"] * 50, dtype="category")
    assert writer._repeated_text(labels, "C", rows, None) == [
        "" if t is None else writer.text_cell(f"C{r}", t, None)
        for r, t in zip(rows, ["High", None, "Low", "High"] * 50, strict=True)]
    assert writer._repeated_text(pd.Series([1, 2] * 100, dtype="category"), "C", rows,
                                 None) is None  # categories that are numbers


def test_escape_text_examples() -> None:
    assert escape_text("a<b & c>d") == "a&lt;b &amp; c&gt;d"
    assert escape_text("x\x0by\x00") == "x_x000B_y_x0000_"
    assert escape_text("keep _x0041_ literal") == "keep _x005F_x0041_ literal"
    # Overlapping runs: the underscore closing one starts the next.
    assert escape_text("_x005F_x0041_") == "_x005F_x005F_x005F_x0041_"
    assert escape_text("line\r\nbreak") == "line_x000D_\nbreak"
    assert escape_text("\ufffe") == "_xFFFE_"


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1,
                       max_size=20))
@example(values=[0.1 + 0.2, 1e-7, 3.0, -0.0, 5e-324, 1.7976931348623157e308, 1e21, 2.5e-5])
def test_any_float_column_reads_back_as_the_same_double(book: Path, tmp_path: Path,
                                                        values: list[float]) -> None:
    # Float columns are formatted a column at a time (Arrow's shortest round-trip text);
    # every finite double must come back bit for bit, non-finite ones as blanks.
    out = tmp_path / "floats.xlsm"
    frame = pd.DataFrame({"Value": np.array(values, dtype=np.float64)})
    write_result_sheets(book, out, {"Scores": frame}, owned=["Scores"])
    got = [row[0] for row in _calamine(out, "Scores")[1:]]
    got += [""] * (len(values) - len(got))
    assert [v if math.isfinite(v) else "" for v in values] == got


def test_dataframe_round_trip_through_the_reader(book: Path, tmp_path: Path) -> None:
    frame = pd.DataFrame({
        "CustomerID": ["1001", "00042", "A-7"],
        "Value": [1.5, np.nan, -0.25],
        "Rank": np.array([1, 3, 2], dtype=np.int64),
        "Key": [True, False, True],
        "Since": pd.to_datetime(["2020-01-31", None, "2024-12-01"]),
        "Type": pd.Categorical(["HHH", "LLL", "HHH"]),
        "Note": ["a", None, "=c"],
    }, index=[10, 11, 12])
    out = tmp_path / "out.xlsm"
    write_result_sheets(book, out, {"Scores": frame}, owned=["Scores"])
    got = read_sheet(out, "Scores", text_columns=["CustomerID"]).frame
    assert got["CustomerID"].tolist() == ["1001", "00042", "A-7"]
    assert got["Value"].tolist()[0] == 1.5 and np.isnan(got["Value"].tolist()[1])
    assert got["Rank"].tolist() == [1.0, 3.0, 2.0]
    assert got["Key"].tolist() == [True, False, True]
    assert got["Since"].tolist()[0] == pd.Timestamp("2020-01-31") and pd.isna(got["Since"][3])
    assert got["Type"].tolist() == ["HHH", "LLL", "HHH"]
    assert got["Note"].tolist() == ["a", None, "=c"]


def test_blocks_freeze_widths_filter(book: Path, tmp_path: Path) -> None:
    data = SheetData(
        blocks=[
            Block(pd.DataFrame({"Type": ["HHH", "LLL"], "Customers": [3, 4]})),
            Block([["Pareto"], [0.5]], row=0, col=4),
            Block([["stamp"]], row=9, col=1),
        ],
        freeze_rows=1,
        widths={0: 14, 4: 9.5},
        autofilter=True,
    )
    out = tmp_path / "out.xlsm"
    write_result_sheets(book, out, {"Dashboard": data}, owned=["Dashboard"])
    ws = openpyxl.load_workbook(out)["Dashboard"]
    assert [[c.value for c in r] for r in ws["A1:E3"]] == [
        ["Type", "Customers", None, None, "Pareto"], ["HHH", 3, None, None, 0.5],
        ["LLL", 4, None, None, None]]
    assert ws["B10"].value == "stamp"
    assert ws.freeze_panes == "A2"
    assert ws.column_dimensions["A"].width == 14 and ws.column_dimensions["E"].width == 9.5
    assert ws.auto_filter.ref == "A1:B3"
    assert ws.dimensions == "A1:E10"


def test_overlapping_blocks_are_refused(book: Path, tmp_path: Path) -> None:
    data = SheetData([Block([[1, 2, 3]]), Block([[4]], row=0, col=2)])
    with pytest.raises(ValueError, match="overlap"):
        write_result_sheets(book, tmp_path / "o.xlsm", {"Scores": data}, owned=["Scores"])


def test_only_owned_sheets_are_written(book: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.xlsm"
    with pytest.raises(ValueError, match="does not own: Sheet1"):
        write_result_sheets(book, out, {"Sheet1": [["x"]]}, owned=["Scores"])
    assert not out.exists()


@pytest.fixture
def styled(tmp_path: Path) -> Path:
    """A workbook whose result sheet has template furniture and an earlier run's cells."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Scores"
    ws.append(["CustomerID", "Value", "When"])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    ws.append(["old", 1, date(2020, 1, 1)])
    ws.append(["old2", 2, date(2020, 1, 2)])
    ws.merge_cells("D2:E2")
    ws.freeze_panes = "B2"
    ws.column_dimensions["B"].width = 21
    ws.conditional_formatting.add(
        "B2:B100", CellIsRule(operator="lessThan", formula=["0"],
                              fill=PatternFill("solid", start_color="FFC7CE")))
    dv = DataValidation(type="whole")
    ws.add_data_validation(dv)
    dv.add("B2:B100")
    ws["G1"].hyperlink = "http://example.com"
    wb.create_sheet("Customers")
    path = tmp_path / "styled.xlsx"
    wb.save(path)
    return path


def test_replaced_sheet_keeps_its_furniture(styled: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.xlsx"
    rows = [["CustomerID", "Value", "When"], ["1001", -5, date(2025, 6, 1)]]
    report = write_result_sheets(styled, out, {"Scores": rows}, owned=["Scores"])
    assert "xl/styles.xml" not in report.changed  # the date format already existed
    ws = openpyxl.load_workbook(out)["Scores"]
    assert ws["A1"].font.b and ws["C1"].font.b  # header style kept
    assert ws["C2"].value == datetime(2025, 6, 1) and ws["C2"].is_date
    assert ws["A3"].value is None  # the earlier run's rows are gone
    assert not ws.merged_cells.ranges and not ws["G1"].hyperlink  # cell-level: dropped
    assert ws.freeze_panes == "B2" and ws.column_dimensions["B"].width == 21
    assert ws.conditional_formatting and ws.data_validations.dataValidation
    xml = read_parts(out)[sheet_part(read_parts(out), "Scores")]
    assert b'<dimension ref="A1:C2"/>' in xml


def test_a_table_on_a_result_sheet_is_refused(styled: Path, tmp_path: Path) -> None:
    wb = openpyxl.load_workbook(styled)
    wb["Scores"].add_table(Table(displayName="tblScores", ref="A1:C3"))
    wb.save(styled)
    with pytest.raises(InputError, match="holds an Excel Table"):
        write_result_sheets(styled, tmp_path / "o.xlsx", {"Scores": [["x"]]}, owned=["Scores"])


def _with_calc_chain(path: Path, sheet_ids: list[int]) -> Path:
    parts = read_parts(path)
    cells = "".join(f'<c r="B2" i="{i}"/>' for i in sheet_ids)
    parts["xl/calcChain.xml"] = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<calcChain xmlns="http://'
        f'schemas.openxmlformats.org/spreadsheetml/2006/main">{cells}</calcChain>').encode()
    parts["xl/_rels/workbook.xml.rels"] = parts["xl/_rels/workbook.xml.rels"].replace(
        b"</Relationships>", b'<Relationship Id="rId99" Type="http://schemas.openxmlformats.org/'
        b'officeDocument/2006/relationships/calcChain" Target="calcChain.xml"/></Relationships>')
    parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(
        b"</Types>", b'<Override PartName="/xl/calcChain.xml" ContentType="application/vnd.'
        b'openxmlformats-officedocument.spreadsheetml.calcChain+xml"/></Types>')
    return write_parts(path, parts)


def test_calc_chain_dropped_only_when_it_lists_a_rewritten_sheet(
        styled: Path, tmp_path: Path) -> None:
    _with_calc_chain(styled, [2])  # a formula on Customers (sheetId 2) only
    out = tmp_path / "a.xlsx"
    report = write_result_sheets(styled, out, {"Scores": [["x"]]}, owned=["Scores"])
    assert report.removed == () and raw_parts(out)["xl/calcChain.xml"] == raw_parts(styled)[
        "xl/calcChain.xml"]
    _with_calc_chain(styled, [1])  # lists a cell on Scores (sheetId 1)
    report = write_result_sheets(styled, out, {"Scores": [["x"]]}, owned=["Scores"])
    assert report.removed == ("xl/calcChain.xml",)
    parts = read_parts(out)
    assert "xl/calcChain.xml" not in parts
    assert b"calcChain" not in parts["xl/_rels/workbook.xml.rels"]
    assert b"calcChain" not in parts["[Content_Types].xml"]
    openpyxl.load_workbook(out)


def test_streamed_and_stored_source_members(book: Path, tmp_path: Path) -> None:
    """A zip with data descriptors (bit 3) and uncompressed members, as some tools write."""

    class Unseekable(io.RawIOBase):
        def __init__(self) -> None:
            self.buffer = bytearray()

        def writable(self) -> bool:
            return True

        def write(self, b: bytes) -> int:  # type: ignore[override]
            self.buffer += b
            return len(b)

    sink = Unseekable()
    with zipfile.ZipFile(sink, "w") as z:
        for i, (name, data) in enumerate(read_parts(book).items()):
            method = zipfile.ZIP_STORED if i % 2 else zipfile.ZIP_DEFLATED
            with z.open(zipfile.ZipInfo(name, (2024, 1, 1, 0, 0, 0)), "w") as f:
                f._compress_type = method  # type: ignore[attr-defined]
                f.write(data)
    src = tmp_path / "streamed.xlsm"
    src.write_bytes(bytes(sink.buffer))
    with zipfile.ZipFile(src) as z:
        assert all(i.flag_bits & 0x8 for i in z.infolist())
    out = tmp_path / "out.xlsm"
    report = write_result_sheets(src, out, {"Scores": [["x"]]}, owned=["Scores"])
    before, after = raw_parts(src), raw_parts(out)
    for name in before:
        if name not in report.changed:
            assert after[name] == before[name]
    with zipfile.ZipFile(out) as z:
        assert z.testzip() is None
        assert not any(i.flag_bits & 0x8 for i in z.infolist())


def test_1904_date_system(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    wb.epoch = openpyxl.utils.datetime.CALENDAR_MAC_1904
    wb.active.title = "Scores"
    src = tmp_path / "mac.xlsx"
    wb.save(src)
    out = tmp_path / "out.xlsx"
    day = date(2024, 5, 17)
    write_result_sheets(src, out, {"Scores": [[day]]}, owned=["Scores"])
    xml = read_parts(out)["xl/worksheets/sheet1.xml"].decode()
    assert f"<v>{(day - date(1904, 1, 1)).days}</v>" in xml
    assert openpyxl.load_workbook(out)["Scores"]["A1"].value == datetime(2024, 5, 17)
    assert _calamine(out, "Scores")[0][0] == day


def test_early_dates(book: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.xlsm"
    rows = [[date(1900, 1, 1)], [date(1900, 2, 28)], [date(1900, 3, 1)], [date(1899, 12, 31)],
            [time(6, 30)]]
    write_result_sheets(book, out, {"Scores": rows}, owned=["Scores"])
    ws = openpyxl.load_workbook(out)["Scores"]
    xml = read_parts(out)["xl/worksheets/sheet3.xml"].decode()
    # Excel's serials: 1 = 1900-01-01, 59 = 1900-02-28, 61 = 1900-03-01 (60 is its 29 Feb).
    assert [re.search(rf'<c r="A{r}"[^>]*><v>([^<]+)</v>', xml).group(1) for r in (1, 2, 3)] == [
        "1", "59", "61"]
    assert ws["A4"].value == "1899-12-31"  # before Excel's calendar: ISO text
    assert ws["A5"].value == time(6, 30)


def test_a_date_column_of_repeated_days_writes_each_cell_s_serial(book: Path,
                                                                   tmp_path: Path) -> None:
    # A run's day repeats down History's rows; each distinct serial is formatted once.
    days = pd.Series(pd.to_datetime(["2026-12-05", "2026-12-05", None, "2026-12-05 18:00",
                                     "2024-02-29"] * 30, format="ISO8601")).astype("datetime64[us]")
    out = tmp_path / "out.xlsm"
    write_result_sheets(book, out, {"Scores": pd.DataFrame({"Day": days})}, owned=["Scores"])
    xml = read_parts(out)["xl/worksheets/sheet3.xml"].decode()
    serials = dict(re.findall(r'<c r="A(\d+)"[^>]*><v>([^<]+)</v>', xml))
    expected = {"46361", "46361.75", "45351"}
    assert set(serials.values()) == expected and len(serials) == 4 * 30
    assert "A4" not in re.findall(r'<c r="(A\d+)"', xml)  # the blank day: no cell
    got = read_sheet(out, "Scores").frame["Day"]  # (the blank rows are left out)
    assert got.tolist() == [d.to_pydatetime() for d in days.dropna()]


@pytest.mark.parametrize(
    ("value", "error", "match"),
    [
        (2**60, ValueError, r"Scores!A1: the integer .* too large"),
        ("x" * 40_000, ValueError, r"Scores!A1: text of 40000 characters"),
        (object(), TypeError, r"Scores!A1: cannot write a value of type object"),
        (pd.Timedelta(days=1), TypeError, r"Scores!A1: a duration"),
    ],
)
def test_unwritable_values_name_their_cell(
        book: Path, tmp_path: Path, value: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        write_result_sheets(book, tmp_path / "o.xlsm", {"Scores": [[value]]}, owned=["Scores"])


def test_protected_or_foreign_source_is_refused(book: Path, tmp_path: Path) -> None:
    ole = tmp_path / "old.xls"
    ole.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512)
    with pytest.raises(InputError, match="password-protected or in the old"):
        write_result_sheets(ole, tmp_path / "o.xlsm", {"Scores": [["x"]]}, owned=["Scores"])
    text = tmp_path / "ledger.csv"
    text.write_text("a,b\n")
    with pytest.raises(InputError, match="not an .xlsx/.xlsm"):
        write_result_sheets(text, tmp_path / "o.xlsm", {"Scores": [["x"]]}, owned=["Scores"])


def test_output_is_deterministic(book: Path, tmp_path: Path) -> None:
    sheets = {"Scores": [["a", 1.5, date(2024, 1, 1)]], "Sheet1": [["b"]]}
    write_result_sheets(book, tmp_path / "1.xlsm", sheets, owned=["Scores", "Sheet1"])
    write_result_sheets(book.read_bytes(), tmp_path / "2.xlsm", sheets, owned=["Scores", "Sheet1"])
    assert (tmp_path / "1.xlsm").read_bytes() == (tmp_path / "2.xlsm").read_bytes()


def test_new_sheet_xml_is_valid_spreadsheetml(book: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.xlsm"
    write_result_sheets(book, out, {"Scores": [["a", 1]] * 3}, owned=["Scores"])
    root = ElementTree.fromstring(read_parts(out)["xl/worksheets/sheet3.xml"])
    ns = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    assert [c.tag.removeprefix(ns) for c in root] == [
        "dimension", "sheetViews", "sheetFormatPr", "sheetData", "pageMargins"]
    assert [r.get("r") for r in root.iter(f"{ns}row")] == ["1", "2", "3"]


def test_sheet_with_prefixed_namespace(tmp_path: Path) -> None:
    """Some libraries write the main namespace with a prefix (<x:worksheet>, <x:row>)."""
    wb = openpyxl.Workbook()
    wb.active.title = "Scores"
    wb.active["A1"] = "old"
    src = tmp_path / "prefixed.xlsx"
    wb.save(src)
    parts = read_parts(src)
    xml = parts["xl/worksheets/sheet1.xml"].decode()
    xml = re.sub(r"<(/?)(\w+)([ />])", r"<\1x:\2\3", xml)
    xml = xml.replace('<x:worksheet xmlns="', '<x:worksheet xmlns:x="')
    parts["xl/worksheets/sheet1.xml"] = xml.encode()
    write_parts(src, parts)
    assert openpyxl.load_workbook(src)["Scores"]["A1"].value == "old"
    out = tmp_path / "out.xlsx"
    write_result_sheets(src, out, {"Scores": [["new", 2.5]]}, owned=["Scores"])
    new_xml = read_parts(out)["xl/worksheets/sheet1.xml"].decode()
    assert "<x:dimension" in new_xml and "<x:sheetData xmlns=" in new_xml
    assert [c.value for c in openpyxl.load_workbook(out)["Scores"][1]] == ["new", 2.5]
    assert _calamine(out, "Scores") == [["new", 2.5]]


@pytest.fixture
def result_sheet(tmp_path: Path) -> Path:
    """A result sheet laid out as the template lays one out (a bold header, a number format
    per column) with one cell an analyst highlighted."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Scores"
    ws.append(["CustomerID", "Value", "Since", "Note"])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    ws.column_dimensions["B"].number_format = "0.0"
    ws.column_dimensions["C"].number_format = "yyyy-mm-dd"
    ws["B3"].fill = PatternFill("solid", start_color="FFFF00")
    wb.create_sheet("Customers")
    path = tmp_path / "results.xlsx"
    wb.save(path)
    return path


def _scores_frame(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    value = rng.uniform(0, 100, n).round(1)
    value[::7] = np.floor(value[::7])  # whole numbers among them
    since = pd.Series(pd.date_range("2020-01-01", periods=n, freq="D"))
    since[5] = pd.NaT
    note = [None if i % 11 == 0 else f"Müller & Söhne <{i}>" for i in range(n)]
    return pd.DataFrame({"CustomerID": [f"C{i:05d}" for i in range(n)], "Value": value,
                         "Since": since, "Note": note})


def _cell_styles(xml: bytes) -> dict[str, str | None]:
    root = ElementTree.fromstring(xml)
    ns = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    return {c.get("r"): c.get("s") for c in root.iter(f"{ns}c")}


def test_a_second_run_writes_what_the_first_wrote(result_sheet: Path, tmp_path: Path) -> None:
    # After the first run every cell of the first rows carries its column's style; the
    # second run must treat them as the column (fast path), keep the analyst's highlight
    # and the header, and write the very same sheet (whole numbers included).
    frame = _scores_frame(4500)  # more than two slices of rows
    first, second = tmp_path / "first.xlsx", tmp_path / "second.xlsx"
    write_result_sheets(result_sheet, first, {"Scores": frame}, owned=["Scores"])
    write_result_sheets(first, second, {"Scores": frame}, owned=["Scores"])
    parts1, parts2 = read_parts(first), read_parts(second)
    part = sheet_part(parts1, "Scores")
    assert parts2[part] == parts1[part]
    styles = _cell_styles(parts1[part])
    ws = openpyxl.load_workbook(first)["Scores"]
    assert all(ws.cell(1, c).font.b for c in range(1, 5))
    assert ws["B3"].fill.start_color.rgb == "00FFFF00" and ws["B3"].number_format == "General"
    assert {styles[f"B{r}"] for r in range(4, 4502)} == {styles["B2"]}
    assert ws["B4501"].number_format == "0.0" and ws["C4501"].number_format == "yyyy-mm-dd"
    back = read_sheet(second, "Scores", text_columns=("CustomerID",)).frame
    assert back["CustomerID"].tolist() == frame["CustomerID"].tolist()
    assert back["Value"].tolist() == frame["Value"].tolist()
    assert back["Note"].fillna("").tolist() == frame["Note"].fillna("").tolist()
    since = back["Since"].reset_index(drop=True)
    assert since.isna().tolist() == frame["Since"].isna().tolist()
    assert since.dropna().tolist() == frame["Since"].dropna().tolist()


def test_without_isal_zlib_deflates(book: Path, tmp_path: Path) -> None:
    # Where no isal wheel exists (32-bit Windows, Pyodide) the writer falls back to zlib.
    out = tmp_path / "zlib.xlsm"
    code = (
        "import sys, zlib; sys.modules['isal'] = None\n"
        "from xlcrm.book import write, zip_members\n"
        "assert zip_members.fast_zlib is zlib and zip_members.COMPRESS_LEVEL == 1\n"
        f"write.write_result_sheets({str(book)!r}, {str(out)!r},"
        " {'Scores': [['Value'], [1.5], ['text']]}, owned=['Scores'])\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True,
                   env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert _calamine(out, "Scores") == [["Value"], [1.5], ["text"]]


def test_nullable_and_text_columns_with_gaps(book: Path, tmp_path: Path) -> None:
    # Nullable integers and pandas text with missing values take the whole-column paths;
    # a missing value is a blank cell, and the caller's frame is not changed.
    frame = pd.DataFrame({
        "Type": pd.array([1, None, 8], dtype="Int64"),
        "Share": pd.array([0.5, 0.25, None], dtype="Float64"),
        "Name": pd.array(["Müller & Söhne", None, "B<C"], dtype="string"),
        "Note": pd.Series(["x", float("nan"), None], dtype=object),
    })
    before = frame.copy()
    out = tmp_path / "nullable.xlsm"
    write_result_sheets(book, out, {"Scores": frame}, owned=["Scores"])
    assert _calamine(out, "Scores") == [
        ["Type", "Share", "Name", "Note"],
        [1.0, 0.5, "Müller & Söhne", "x"],
        ["", 0.25, "", ""],
        [8.0, "", "B<C", ""],
    ]
    pd.testing.assert_frame_equal(frame, before)
    xml = read_parts(out)[sheet_part(read_parts(out), "Scores")]
    assert b'<c r="A2"><v>1</v></c>' in xml  # an integer, not 1.0


def test_member_deflated_in_a_second_thread_reads_back_exactly() -> None:
    """A part of many chunks is deflated in a thread while the next chunk is made: the bytes
    inflate to exactly what was given, in order, with the CRC and size of all of it."""
    from xlcrm.book import zip_members as zm

    rng = np.random.default_rng(7)
    chunks = [rng.integers(0, 256, size=int(n), dtype=np.uint8).tobytes() * 3
              for n in rng.integers(1, 300_000, size=40)]
    member = zm.new_member("xl/worksheets/sheet9.xml", iter(chunks), None)
    whole = b"".join(chunks)
    assert zlib.decompress(bytes(member.raw), -15) == whole
    assert (member.crc, member.usize) == (zlib.crc32(whole), len(whole))
    single = zm.new_member("a.xml", [b"<a/>"], None)
    assert zlib.decompress(bytes(single.raw), -15) == b"<a/>"


def test_member_whose_chunks_fail_raises_and_stops_its_thread() -> None:
    """An error while making a chunk (a value that cannot be written) reaches the caller
    and leaves no deflating thread behind."""
    import threading

    from xlcrm.book import zip_members as zm

    def chunks():
        for i in range(12):
            yield b"x" * 100_000
            if i == 6:
                raise ValueError("Scores!C9: cannot write")

    before = threading.active_count()
    with pytest.raises(ValueError, match="cannot write"):
        zm.new_member("xl/worksheets/sheet9.xml", chunks(), None)
    assert threading.active_count() == before


def test_an_appendable_sheet_ends_after_a_full_flush_without_a_dimension(
        book: Path, tmp_path: Path) -> None:
    # SegmentHistory is written so that a run can be appended keeping these bytes: no
    # <dimension> to update, and the tail (</sheetData> and after) deflated on its own.
    from xlcrm.book.write import Block, SheetData

    frame = pd.DataFrame({"CustomerID": [f"C{i:05d}" for i in range(30_000)],
                          "Value": np.linspace(0, 100, 30_000)})
    out = tmp_path / "out.xlsm"
    write_result_sheets(book, out, {"Runs": SheetData([Block(frame)], appendable=True)},
                        owned=["Runs"])
    with zipfile.ZipFile(out) as z:
        name = next(n for n in z.namelist() if n.endswith("sheet3.xml"))
        info, xml = z.getinfo(name), z.read(name)
    assert b"<dimension" not in xml and xml.count(b"<row ") == 30_001
    data = out.read_bytes()
    at = info.header_offset
    start = at + 30 + int.from_bytes(data[at + 26:at + 28], "little") + \
        int.from_bytes(data[at + 28:at + 30], "little")
    raw = data[start:start + info.compress_size]
    cut = raw.rfind(b"\x00\x00\xff\xff") + 4
    tail = zlib.decompressobj(-15).decompress(raw[cut:])
    assert tail.startswith(b"</sheetData>") and xml.endswith(tail)
    assert _calamine(out, "Runs")[-1] == ["C29999", 100.0]


# --------------------------------------------------------------------------------------------
# Tables put together by Arrow write what the cell-at-a-time path writes


def _column(kind: str, rng: np.random.Generator, n: int, texts: list[str]) -> pd.Series:
    """A column of ``n`` values of one kind, with gaps, as result tables hold them."""
    gaps = rng.random(n) < 0.2
    if kind == "float":
        values = rng.choice([0.0, -0.0, 1.5, 1e-7, 2.0**60, 75.0, 1 / 3, math.nan, math.inf,
                             -math.inf, 123456789.125], n)
        return pd.Series(values)
    if kind == "int":
        return pd.Series(rng.choice([0, -3, 2**53, -(2**53), 42], n).astype(np.int64))
    if kind == "uint8":
        return pd.Series(rng.integers(0, 255, n).astype(np.uint8))
    if kind == "Int64":
        return pd.Series(pd.array(np.where(gaps, None, rng.integers(-9, 9, n)), dtype="Int64"))
    if kind == "Float64":
        return pd.Series(pd.array(np.where(gaps, None, rng.random(n)), dtype="Float64"))
    if kind == "bool":
        return pd.Series(rng.random(n) < 0.5)
    if kind == "date":
        days = pd.to_datetime("2024-01-01") + pd.to_timedelta(rng.integers(0, 3, n), "D")
        stamps = days + pd.to_timedelta(np.where(rng.random(n) < 0.3, 3600, 0), "s")
        return pd.Series(stamps.where(~gaps))
    picked = [texts[i] for i in rng.integers(0, len(texts), n)]
    values = [None if g else t for g, t in zip(gaps, picked, strict=True)]
    if kind == "category":
        return pd.Series(values, dtype="category")
    if kind == "string":
        return pd.Series(values, dtype="string")
    if kind == "mixed":
        return pd.Series([1.5 if i % 7 == 0 else v for i, v in enumerate(values)], dtype=object)
    return pd.Series(values, dtype=object)


_KINDS = ("float", "int", "uint8", "Int64", "Float64", "bool", "date", "category", "string",
          "mixed", "object")


def _both_ways(monkeypatch: pytest.MonkeyPatch, make: Callable[[], bytes]) -> tuple[bytes, bytes]:
    """What ``make`` writes by Arrow, and a cell at a time."""
    from xlcrm.book import arrow_xml

    by_arrow = make()
    monkeypatch.setattr(arrow_xml, "AVAILABLE", False)
    one_by_one = make()
    monkeypatch.undo()
    return by_arrow, one_by_one


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(kinds=st.lists(st.sampled_from(_KINDS), min_size=1, max_size=6),
       texts=st.lists(st.one_of(_TEXT, st.text(max_size=8)), min_size=1, max_size=12),
       n=st.integers(0, 300), seed=st.integers(0, 2**32 - 1),
       styled=st.sets(st.integers(1, 320), max_size=4),
       heights=st.sets(st.integers(1, 320), max_size=3))
@example(kinds=list(_KINDS), texts=["High", "a<b & _x0041_", " lead", "x\ny", "\x0b", ""],
         n=300, seed=1, styled={5}, heights={7})
def test_tables_by_arrow_write_what_cell_by_cell_writes(
    monkeypatch: pytest.MonkeyPatch, kinds: list[str], texts: list[str], n: int, seed: int,
    styled: set[int], heights: set[int],
) -> None:
    # Any column kind, gaps, texts that need escaping or care one cell at a time, cells
    # that keep a style of their own, rows with a height, slices larger than Arrow's.
    from xlcrm.book import write

    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({f"{k}{j}": _column(k, rng, n, texts) for j, k in enumerate(kinds)})
    styles_xml = read_parts(QUICKSTART)["xl/styles.xml"]
    kept = {(r, c): 1 for r in styled for c in range(1, 4)}
    monkeypatch.setattr(write, "ARROW_ROWS", 128)

    def make() -> bytes:
        styles = _Styles(styles_xml)  # the second column in a date format: numbers drop it
        writer = _CellWriter(styles, False, "Scores", dict(kept), {2: styles.date_xf("date"),
                                                                   3: 1})
        writer.heights = {r: ' ht="30" customHeight="1"' for r in heights}
        chunks = write._sheet_data_chunks("", [Block(frame, row=1, col=1)], writer, False)
        try:
            return b"".join(chunks)
        except (ValueError, TypeError) as exc:  # refused values: the same refusal
            return repr(exc).encode()

    by_arrow, one_by_one = _both_ways(monkeypatch, make)
    assert by_arrow == one_by_one


def test_history_rows_by_arrow_append_what_cell_by_cell_appends(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # History's appended rows: cells of the frame, a formatted blank column, and rows the
    # sheet formatted in advance (those keep the one-by-one path).
    from xlcrm.book import append

    rng = np.random.default_rng(3)
    frame = pd.DataFrame({k: _column(k, rng, 400, ["A", "B", "C&D"]) for k in
                          ("date", "object", "float", "Int64", "category")})
    positions = {name: j + 1 for j, name in enumerate(frame.columns)}
    formatted = {12: b'<row r="12" s="3" customFormat="1"></row>'}

    def make() -> bytes:
        writer = _CellWriter(_Styles(read_parts(QUICKSTART)["xl/styles.xml"]), False,
                             "SegmentHistory", {}, {})
        return b"".join(append._new_rows(writer, frame, positions, 10, {7: 2}, b"",
                                         formatted))

    by_arrow, one_by_one = _both_ways(monkeypatch, make)
    assert by_arrow == one_by_one
    assert b'<c r="H10" s="2"/>' in by_arrow  # (positions are 0-based columns)


def test_a_sheet_xlcrm_wrote_is_replaced_without_inflating_its_cells(
        styled: Path, tmp_path: Path) -> None:
    # Every sheet is flushed before </sheetData>: the next run takes the furniture after
    # the cells from there (the same as inflating the whole part would give), and the cells
    # it replaces are neither inflated nor checked: damaged ones are written anew.
    from xlcrm.book import write
    from xlcrm.book.read import Package
    from xlcrm.book.zip_members import raw_member

    frame = _scores_frame(60_000)[["CustomerID", "Value", "Since"]]  # cells past 1 MB
    first = tmp_path / "first.xlsx"
    write_result_sheets(styled, first, {"Scores": frame}, owned=["Scores"])
    data = first.read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        entry = next(e for e in Package(z).sheets() if e.name == "Scores")
        info = z.getinfo(entry.part)
        shortcut = write._read_replaced(z, data, entry, "first.xlsx", 1000)
        with z.open(entry.part) as f:
            whole = write._stream_light(f, 1000, "Scores")
        raw = raw_member(data, info)
    assert shortcut == whole
    assert b"<conditionalFormatting" in shortcut[0] and b"<dataValidations" in shortcut[0]

    # Garble the cells' compressed bytes (past the first rows): inflating them fails...
    start = data.find(bytes(raw.raw))
    damaged = bytearray(data)
    for at in range(start + len(raw.raw) // 2, start + len(raw.raw) // 2 + 64):
        damaged[at] ^= 0xA5
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(bytes(damaged))
    with zipfile.ZipFile(bad) as z, pytest.raises((zlib.error, zipfile.BadZipFile)):
        z.read(entry.part)
    # ... but the run that replaces them does not need them.
    second = tmp_path / "second.xlsx"
    write_result_sheets(bad, second, {"Scores": frame}, owned=["Scores"])
    assert read_parts(second)[entry.part] == read_parts(first)[entry.part]
