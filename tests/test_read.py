"""Reading sheets: text as typed, dates, blanks, cell addresses, clear errors."""

from __future__ import annotations

import io
from datetime import date, datetime
from pathlib import Path

import msoffcrypto.format.ooxml
import numpy as np
import openpyxl
import pandas as pd
import pytest
import python_calamine
from hypothesis import given
from hypothesis import strategies as st
from openpyxl.styles import Font
from openpyxl.worksheet.table import Table

from xlcrm.book.read import (
    as_text,
    open_workbook,
    read_grid,
    read_sheet,
    sheet_names,
    table_from_rows,
    table_range,
)
from xlcrm.book.stamp import FileStamp
from xlcrm.errors import InputError


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    """Customers typed the way staff type them (written by openpyxl, not by xlcrm)."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Customers"
    ws.append(["CustomerID", " Name ", "Joined", "Amount", "Note"])
    ws.append([1001, "Acme", date(2024, 1, 5), 12.5, "  spaces kept  "])
    ws.append(["00123", "Beta", datetime(2024, 2, 1, 9, 30), None, "=not a formula"])
    ws.append([1001.5, None, None, "n/a", None])  # text in a numeric column
    ws.append([None, None, None, None, None])  # blank row in between
    ws.append(["A-17", "Gamma", date(2023, 12, 31), 0, True])
    ws.append([12345678901234, "Delta", None, -3, 7])
    ws["E3"].data_type = "s"  # openpyxl would make it a formula; staff typed it as text
    ws["A20"].font = Font(bold=True)  # formatting only, far below: not a row
    wb.create_sheet("Settings")
    path = tmp_path / "ledger.xlsx"
    wb.save(path)
    return path


def test_ids_stay_text_exactly_as_typed(ledger: Path) -> None:
    table = read_sheet(ledger, "Customers", text_columns=("CustomerID",))
    ids = table.frame["CustomerID"].tolist()
    assert ids == ["1001", "00123", "1001.5", "A-17", "12345678901234"]
    assert table.frame["CustomerID"].dtype == object


def test_without_text_columns_numbers_stay_numbers(ledger: Path) -> None:
    frame = read_sheet(ledger, "Customers").frame
    # A mixed column keeps each cell's own type, so validation can point at the text.
    assert frame["CustomerID"].tolist() == [1001.0, "00123", 1001.5, "A-17", 12345678901234.0]


def test_row_numbers_and_cell_addresses(ledger: Path) -> None:
    table = read_sheet(ledger, "Customers")
    # The blank row 6 and the formatted-only row 20 are gone; the others keep their number.
    assert table.frame.index.tolist() == [2, 3, 4, 6, 7]
    assert table.header_row == 1 and table.first_data_row == 2
    assert table.columns == {"CustomerID": 0, "Name": 1, "Joined": 2, "Amount": 3, "Note": 4}
    assert table.address(4, "Amount") == "D4"
    assert table.header_address("Note") == "E1"
    assert table.column_address("Joined") == "C:C"


def test_types_and_blanks(ledger: Path) -> None:
    frame = read_sheet(ledger, "Customers").frame
    assert str(frame["Joined"].dtype).startswith("datetime64")
    assert frame["Joined"].tolist()[:2] == [
        pd.Timestamp(2024, 1, 5), pd.Timestamp(2024, 2, 1, 9, 30)]
    assert pd.isna(frame.loc[4, "Joined"])
    # "n/a" makes Amount mixed: object, the text visible, the blank None.
    assert frame["Amount"].dtype == object
    assert frame["Amount"].tolist() == [12.5, None, "n/a", 0.0, -3.0]
    assert frame["Name"].tolist() == ["Acme", "Beta", None, "Gamma", "Delta"]
    # Text is never stripped or interpreted.
    assert frame["Note"].tolist() == ["  spaces kept  ", "=not a formula", None, True, 7.0]


def test_numeric_column_is_float_with_nan(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["ID", "Revenue"])
    ws.append(["a", 10])
    ws.append(["b", None])
    ws.append(["c", 2.5])
    wb.save(tmp_path / "n.xlsx")
    frame = read_sheet(tmp_path / "n.xlsx", "Sheet").frame
    assert frame["Revenue"].dtype == np.float64
    assert np.isnan(frame.loc[3, "Revenue"])
    assert frame["Revenue"].sum() == 12.5


def test_header_row_below_a_title(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws["A1"] = "Customer ledger"
    ws["B3"], ws["C3"] = "CustomerID", "Name"
    ws["B4"], ws["C4"] = 7, "x"
    wb.save(tmp_path / "t.xlsx")
    table = read_sheet(tmp_path / "t.xlsx", "Sheet", header_row=3, text_columns=["CustomerID"])
    assert table.frame["CustomerID"].tolist() == ["7"]
    assert table.columns == {"CustomerID": 1, "Name": 2}
    assert table.address(4, "Name") == "C4"


def test_duplicate_header_is_an_error_with_its_cell(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    wb.active.append(["CustomerID", "Name", "CustomerID"])
    wb.save(tmp_path / "d.xlsx")
    with pytest.raises(InputError) as err:
        read_sheet(tmp_path / "d.xlsx", "Sheet")
    problem = err.value.problems[0]
    assert (problem.sheet, problem.cell) == ("Sheet", "C1")
    assert "A1" in problem.message and problem.fix


def test_missing_sheet_names_the_sheets_present(ledger: Path) -> None:
    with pytest.raises(InputError) as err:
        read_sheet(ledger, "Transactions")
    text = str(err.value)
    assert "Transactions" in text and "Customers, Settings" in text
    assert err.value.problems[0].fix


def test_sheet_names_match_ignoring_case(ledger: Path) -> None:
    assert sheet_names(ledger) == ["Customers", "Settings"]
    assert read_sheet(ledger, "customers").sheet == "Customers"


def test_empty_sheet_gives_empty_table(ledger: Path) -> None:
    table = read_sheet(ledger, "Settings")
    assert table.frame.empty and table.columns == {}


def test_read_grid_is_what_xlwings_hands_over(ledger: Path) -> None:
    grid = read_grid(ledger, "Customers")
    assert grid[0] == ["CustomerID", " Name ", "Joined", "Amount", "Note"]
    assert grid[1] == [1001.0, "Acme", datetime(2024, 1, 5), 12.5, "  spaces kept  "]
    assert grid[4] == [None] * 5  # the blank row 5


def test_excel_table_range_and_rows(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Customers"
    ws["A1"] = "title above the table"
    for r, row in enumerate([["CustomerID", "Name"], [1, "a"], [2, "b"], [3, "c"]], start=3):
        ws.cell(r, 2, row[0])
        ws.cell(r, 3, row[1])
    ws["B20"] = "below the table, not part of it"
    ws.add_table(Table(displayName="tblCustomers", ref="B3:C6"))
    wb.save(tmp_path / "tbl.xlsx")
    tr = table_range(tmp_path / "tbl.xlsx", "TBLCUSTOMERS")
    assert (tr.name, tr.sheet, tr.ref, tr.columns) == (
        "tblCustomers", "Customers", "B3:C6", ("CustomerID", "Name"))
    assert (tr.header_row, tr.first_row, tr.last_row) == (3, 4, 6)
    with open_workbook(tmp_path / "tbl.xlsx") as wb2:
        table = wb2.read_table("tblCustomers", text_columns=["CustomerID"])
        assert table.frame["CustomerID"].tolist() == ["1", "2", "3"]
        assert table.frame.index.tolist() == [4, 5, 6]
        with pytest.raises(InputError, match="no Excel Table named 'tblOrders'"):
            wb2.table_range("tblOrders")


def test_table_parts_read_as_calamine_reads_them(tmp_path: Path) -> None:
    """Tables are found from their own small parts, not by parsing their sheets: the ranges
    equal calamine's for a totals row, a display name other than the internal name, a table
    without a header row and an empty table."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Orders"
    ws.append([])
    ws.append([None, "CustomerID", "Amount"])
    for i in range(5):
        ws.append([None, f"C{i}", i])
    ws.append([None, "Total", 10])
    totals = Table(displayName="tblOrders", ref="B2:C8")
    totals.name, totals.totalsRowCount = "Table7", 1
    ws.add_table(totals)
    bare = wb.create_sheet("Bare")
    for i in range(3):
        bare.append([f"C{i}", i])
    headless = Table(displayName="tblBare", ref="A1:B3")
    headless.headerRowCount = 0
    bare.add_table(headless)
    empty = wb.create_sheet("Empty")
    empty.append(["CustomerID", "Amount"])
    empty.add_table(Table(displayName="tblEmpty", ref="A1:B2"))
    wb.save(tmp_path / "tables.xlsx")
    book = python_calamine.CalamineWorkbook.from_path(str(tmp_path / "tables.xlsx"),
                                                      load_tables=True)
    with open_workbook(tmp_path / "tables.xlsx") as ours:
        assert ours.table_names == list(book.table_names)
        for name in book.table_names:
            t = book.get_table_by_name(name)
            start = t.start or (0, 0)
            end = t.end or start
            tr = ours.table_range(name)
            assert (tr.name, tr.sheet, tr.columns) == (t.name, t.sheet, tuple(t.columns))
            assert (tr.header_row, tr.first_row, tr.last_row, tr.first_col, tr.last_col) == (
                start[0], start[0] + 1, end[0] + 1, start[1], end[1]), name
    assert table_range(tmp_path / "tables.xlsx", "tblOrders").ref == "B2:C7"  # no totals


def _encrypt(plain: Path, out: Path, password: str) -> Path:
    with open(plain, "rb") as f:
        buffer = io.BytesIO()
        msoffcrypto.format.ooxml.OOXMLFile(f).encrypt(password, buffer)
    out.write_bytes(buffer.getvalue())
    return out


def test_encrypted_workbook_gets_a_clear_message(ledger: Path, tmp_path: Path) -> None:
    locked = _encrypt(ledger, tmp_path / "locked.xlsx", "s3cret")
    with pytest.raises(InputError) as err:
        read_sheet(locked, "Customers")
    assert "password-protected" in str(err.value)
    assert "unprotected copy" in err.value.problems[0].fix


def test_encrypted_workbook_opens_with_its_password(ledger: Path, tmp_path: Path) -> None:
    locked = _encrypt(ledger, tmp_path / "locked.xlsx", "s3cret")
    table = read_sheet(locked, "Customers", text_columns=["CustomerID"], password="s3cret")
    assert table.frame["CustomerID"].tolist()[:2] == ["1001", "00123"]
    with pytest.raises(InputError, match="password does not open"):
        read_sheet(locked, "Customers", password="wrong")


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"CustomerID,Name\n1,a\n", "not an Excel workbook"),
        (b"PK\x03\x04garbage", "cannot be read"),
    ],
)
def test_not_a_workbook(tmp_path: Path, content: bytes, match: str) -> None:
    path = tmp_path / "ledger.xlsx"
    path.write_bytes(content)
    with pytest.raises(InputError, match=match):
        read_sheet(path, "Customers")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="there is no file"):
        sheet_names(tmp_path / "nope.xlsm")


def test_stamp_is_of_the_bytes_read(ledger: Path) -> None:
    with open_workbook(ledger) as wb:
        assert wb.stamp == FileStamp.of(ledger)
        assert wb.data == ledger.read_bytes()


def test_many_ids_written_as_numbers_read_back_as_their_digits(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    ids = [int(x) for x in rng.integers(0, 10**15, 300)] + [0, 1, 10**15, 2**53]
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["CustomerID"])
    for i in ids:
        ws.append([i])
    wb.save(tmp_path / "ids.xlsx")
    got = read_sheet(tmp_path / "ids.xlsx", "Sheet", text_columns=["CustomerID"]).frame
    assert got["CustomerID"].tolist() == [str(i) for i in ids]


@given(st.integers(min_value=-(2**53), max_value=2**53))
def test_whole_numbers_read_as_integer_text(n: int) -> None:
    assert as_text(float(n)) == str(n)


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_number_text_reads_back_to_the_same_number(x: float) -> None:
    assert float(as_text(x)) == x


def test_table_from_ragged_rows() -> None:
    table = table_from_rows("S", [["a", "b"], [1.0], ["", "", "beyond"], ["q", 2.0]])
    assert table.frame.index.tolist() == [2, 4]
    assert table.frame["a"].tolist() == [1.0, "q"]
    assert np.isnan(table.frame.loc[2, "b"]) and table.frame.loc[4, "b"] == 2.0


def test_stray_value_far_away_is_named_not_read(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    wb.active.append(["CustomerID"])
    wb.active["XFD1048576"] = "oops"
    wb.save(tmp_path / "far.xlsx")
    with pytest.raises(InputError) as err:
        read_sheet(tmp_path / "far.xlsx", "Sheet")
    assert err.value.problems[0].cell == "XFD1048576"


def test_formatting_far_away_is_harmless(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    wb.active.append(["CustomerID"])
    wb.active.append([5])
    wb.active["XFD1048576"].font = Font(bold=True)  # the dimension now spans the whole sheet
    wb.save(tmp_path / "fmt.xlsx")
    assert read_sheet(tmp_path / "fmt.xlsx", "Sheet").frame["CustomerID"].tolist() == [5.0]


def _zip_of(name: str, body: bytes, *, bad_crc: bool = False) -> io.BytesIO:
    import struct
    import zipfile
    import zlib

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(name, body)
    data = buf.getvalue()
    if bad_crc:  # the same wrong checksum in the local header and the central directory
        crc = struct.pack("<I", zlib.crc32(body))
        data = data.replace(crc, struct.pack("<I", zlib.crc32(body) ^ 1))
    return io.BytesIO(data)


def test_parts_inflated_ahead_in_a_thread_read_exactly_and_fail_as_a_read_fails() -> None:
    import threading
    import zipfile

    from xlcrm.book.package import AHEAD_BYTES, inflated_chunks

    rng = np.random.default_rng(5)
    body = rng.integers(0, 40, size=3 * AHEAD_BYTES, dtype=np.uint8).tobytes()
    before = threading.active_count()
    with zipfile.ZipFile(_zip_of("xl/big.xml", body)) as z:
        info = z.getinfo("xl/big.xml")
        assert b"".join(inflated_chunks(z, info, 1 << 20)) == body
        for i, _ in enumerate(inflated_chunks(z, info, 1 << 16)):  # a reader stopping early
            if i == 3:
                break
    with zipfile.ZipFile(_zip_of("xl/big.xml", body, bad_crc=True)) as z, \
            pytest.raises(zipfile.BadZipFile, match="CRC"):
        for _ in inflated_chunks(z, z.getinfo("xl/big.xml")):
            pass
    assert threading.active_count() == before


_CELL = st.one_of(st.text(max_size=4), st.floats(allow_nan=False), st.integers(-10**6, 10**6),
                  st.booleans(), st.dates().map(lambda d: d),
                  st.datetimes().map(lambda d: d))


@given(values=st.lists(_CELL, max_size=12))
def test_column_kinds_answer_as_the_value_by_value_types_do(values: list) -> None:
    # The reader asks "any text?", "only numbers?", "only dates?" of each column; the one
    # C pass of pandas' inference must answer as the types of the values one by one do.
    from xlcrm.book.tables import _kinds

    arr = np.array(values + [None], dtype=object)[:-1]  # an object array, even of lists
    types, kinds = set(map(type, arr)), _kinds(arr)
    assert (str in kinds) == (str in types)
    assert (kinds <= {float, int}) == (types <= {float, int})
    assert (kinds <= {date, datetime}) == (types <= {date, datetime})


@given(rows=st.lists(st.integers(1, 2_000_000), min_size=1, max_size=300),
       cut=st.integers(16, 400))  # chunks of 1 MB in the check; at least the overlap
def test_package_check_finds_the_largest_row_in_any_order(rows: list[int], cut: int) -> None:
    # The bound of calamine's grid: the largest row any reference names, in whatever order
    # the rows come and wherever the chunks of the inflated part are cut.
    from xlcrm.book.package import _OVERLAP, _SMALL_ROWS, _Extent

    xml = b"".join(f'<row r="{r}"><c r="B{r}"><v>1</v></c></row>'.encode() for r in rows)
    extent, tail = _Extent(), b""
    for at in range(0, len(xml), cut):  # scanned a chunk at a time, as inflated
        chunk = xml[at:at + cut]
        extent.scan(tail + chunk)
        tail = chunk[-_OVERLAP:]
    assert max(extent.max_row, _SMALL_ROWS) == max(max(rows), _SMALL_ROWS)


def test_small_ledgers_are_read_without_a_reader_of_their_own(tmp_path: Path,
                                                               monkeypatch) -> None:
    # A reading thread's calamine reader copies the whole file: worth it for a large
    # ledger beside Customers, not for a small one (read after Customers, in milliseconds),
    # nor for History, scanned from its own part. The inputs are the same either way.
    from xlcrm.book import read, workbook_file
    from xlcrm.book.demo_file import create_demo_workbook

    path = tmp_path / "demo.xlsm"
    create_demo_workbook(path, customers=120, seed=3, today=date(2026, 6, 30),
                         stamp=datetime(2026, 6, 30, 18))
    opened = []
    real = read._Opening.result
    monkeypatch.setattr(read._Opening, "result",
                        lambda self: opened.append(1) or real(self))
    small = workbook_file.read_workbook(path)
    assert len(opened) == 1  # the workbook's own reader only
    monkeypatch.setattr(workbook_file, "READ_BESIDE_BYTES", 0)
    beside = workbook_file.read_workbook(path)
    assert len(opened) > 2  # each reading thread its own
    for name in ("customers", "transactions", "interactions", "survey"):
        pd.testing.assert_frame_equal(getattr(small.ledger, name), getattr(beside.ledger, name))
    assert small.problems == beside.problems
