"""`xlcrm import-transactions`: an ERP export appended to Transactions, losslessly and safely."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import zipfile
from datetime import datetime
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl.formatting.rule import CellIsRule
from openpyxl.styles import PatternFill
from openpyxl.worksheet.datavalidation import DataValidation
from python_calamine import CalamineWorkbook

from tests.fixtures.books import raw_parts, read_parts, rich_workbook, sheet_part, write_parts
from xlcrm.book.append import append_rows, import_transactions, table_parts
from xlcrm.book.csv_import import (
    ImportOptions,
    map_columns,
    parse_export,
    sniff_delimiter,
)
from xlcrm.book.read import open_workbook
from xlcrm.book.workbook_file import create_demo_workbook, resegment_file
from xlcrm.cli import main
from xlcrm.errors import InputError

TX_COLUMNS = ["CustomerID", "Date", "Amount", "GrossProfit", "Quantity", "Product"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "demo.xlsm"
    create_demo_workbook(path, customers=60, seed=7)
    return path


@pytest.fixture
def book(demo: Path, tmp_path: Path) -> Path:
    path = tmp_path / "book.xlsm"
    shutil.copy(demo, path)
    return path


def transactions(path: Path) -> pd.DataFrame:
    return open_workbook(path).read_sheet("Transactions", text_columns=["CustomerID"]).frame


def first_existing_row(path: Path) -> pd.Series:
    return transactions(path).iloc[0]


def mixed_csv(path: Path, existing: pd.Series) -> Path:
    """An export in many formats; the comments give each record's line in the file."""
    old_date = existing["Date"].strftime("%d.%m.%Y")
    lines = [
        "Customer No,Invoice Date,Net Amount,Gross Profit,Qty,Item,Sales Rep",  # 1
        'C0001,2026-03-02,"1,234.50",200.00,3,Hydraulic pump,Ann',  # 2
        'C0002,03/03/2026,"$2,000.00",,1,=SUM(A1),Bob',  # 3
        "C0003,25/03/2026 14:30,(300.00),-50.00,2,Credit note,Ann",  # 4
        'C0004,04.03.2026,450.00-,,,"Bolts, M12",Cy',  # 5
        'C0005,20260305,"USD 1,000",,,"Multi',  # 6
        'line product",Dee',  # 7 (same record)
        "C0006,46086,99.5,,,Serial date,Eve",  # 8
        "C0007,31/02/2026,100,,,Bad date,Fay",  # 9
        "C0008,2026-03-06,abc,,,Bad amount,Gus",  # 10
        ",2026-03-06,100,,,No customer,Hal",  # 11
        "C9999,2026-03-06,100,,,Unknown,Ida",  # 12
        'C0001,2026-03-02,"1,234.50",200.00,3,Hydraulic pump,Ann',  # 13: repeats line 2
        f'{existing["CustomerID"]},{old_date},"{existing["Amount"]:,.2f}",'
        f'{existing["GrossProfit"]},{existing["Quantity"]:.0f},{existing["Product"]},Jo',  # 14
        "C0009,2026-03-07,100,,,too,many,fields",  # 15
        "",  # 16
        '" C0010 ",2026-03-08,"1,000.00",,,Trimmed ID,Kim',  # 17
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


EXPECTED = pd.DataFrame(
    {
        "CustomerID": ["C0001", "C0002", "C0003", "C0004", "C0005", "C0006", "C0001", "C0010"],
        "Date": pd.to_datetime([
            "2026-03-02", "2026-03-03", "2026-03-25 14:30", "2026-03-04", "2026-03-05",
            "2026-03-05", "2026-03-02", "2026-03-08",
        ], format="ISO8601"),
        "Amount": [1234.5, 2000.0, -300.0, -450.0, 1000.0, 99.5, 1234.5, 1000.0],
        "GrossProfit": [200.0, np.nan, -50.0, np.nan, np.nan, np.nan, 200.0, np.nan],
        "Quantity": [3.0, 1.0, 2.0, np.nan, np.nan, np.nan, 3.0, np.nan],
        "Product": ["Hydraulic pump", "=SUM(A1)", "Credit note", "Bolts, M12",
                    "Multi\nline product", "Serial date", "Hydraulic pump", "Trimmed ID"],
        "DocumentNo": [None] * 8,
    }
)


def table_ref(path: Path, table: str) -> str:
    data = path.read_bytes()
    part = table_parts(data)[table]
    xml = read_parts(data)[part].decode()
    return re.search(r'<table\b[^>]*\sref="([^"]+)"', xml).group(1)


def unchanged_except(before: Path, after: Path, changed: set[str]) -> None:
    old, new = raw_parts(before), raw_parts(after)
    assert list(old) == list(new)  # same parts, same order
    differing = {name for name in old if old[name] != new[name]}
    assert differing == changed


# --------------------------------------------------------------------------------------------
# The import end to end on the demo workbook


def test_mixed_formats_import_with_known_answers(book: Path, tmp_path: Path) -> None:
    original = tmp_path / "original.xlsm"
    shutil.copy(book, original)
    before = transactions(book)
    csv = mixed_csv(tmp_path / "orders.csv", first_existing_row(book))

    result = import_transactions(book, csv, backups=1)

    # Line 13 repeats line 2: two identical lines are two orders, both imported.
    assert result.written and result.imported == 8
    assert result.parsed.records == 14
    rejected = {(r.line, r.column) for r in result.plan.rejected}
    assert rejected == {(9, "Invoice Date"), (10, "Net Amount"), (11, "Customer No"),
                        (12, "Customer No"), (15, None)}
    reasons = {r.line: r.reason for r in result.plan.rejected}
    assert reasons[9] == "no such day"
    assert reasons[10] == "not a number"
    assert "blank" in reasons[11]
    assert "unknown customer 'C9999'" in reasons[12] and "--add-missing-customers" in reasons[12]
    assert "8 fields, the header has 7" in reasons[15]
    assert result.plan.already_present == [14]
    assert result.parsed.unmapped == ("Sales Rep",)
    assert any("day first" in n and "line 4" in n for n in result.parsed.notes)

    after = transactions(book)
    n_old = len(before)
    assert len(after) == n_old + 8
    pd.testing.assert_frame_equal(after.iloc[:n_old], before)
    new = after.iloc[n_old:].reset_index(drop=True)
    last_old_row = int(before.index[-1])
    assert list(after.index[n_old:]) == list(range(last_old_row + 1, last_old_row + 9))
    assert pd.api.types.is_datetime64_any_dtype(new["Date"])
    assert (new["Date"] - EXPECTED["Date"]).abs().max() < pd.Timedelta(seconds=1)
    pd.testing.assert_frame_equal(new.drop(columns="Date"), EXPECTED.drop(columns="Date"),
                                  check_dtype=False)
    assert new["Amount"].dtype == np.float64

    # Only the Transactions sheet and its table changed; everything else byte for byte.
    parts = read_parts(book)
    tx_part = sheet_part(parts, "Transactions")
    unchanged_except(original, book, {tx_part, table_parts(book.read_bytes())["tblTransactions"]})
    last = last_old_row + 8
    assert table_ref(book, "tblTransactions") == f"A1:G{last}"
    xml = parts[tx_part].decode()
    assert f'<dimension ref="A1:G{last}"' in xml
    table_xml = parts[table_parts(book.read_bytes())["tblTransactions"]].decode()
    assert f'<autoFilter ref="A1:G{last}"' in table_xml
    # New rows are styled like the last old row: text-format IDs, date-format dates.
    old_row = re.search(rf'<row r="{last_old_row}".*?</row>', xml).group()
    new_row = re.search(rf'<row r="{last}".*?</row>', xml).group()
    for col in "AB":
        style = re.search(rf'<c r="{col}{last_old_row}"[^>]*?\ss="(\d+)"', old_row).group(1)
        assert re.search(rf'<c r="{col}{last}"[^>]*?\ss="{style}"', new_row)
    # A formula-looking product is inline text, never a formula.
    assert "<f>" not in xml[xml.index(f'<row r="{last_old_row + 1}"'):]
    assert result.backup is not None and result.backup.exists()
    assert result.backup.read_bytes() == original.read_bytes()

    # The analysis still runs on the result.
    results = resegment_file(book, backups=0)
    assert results.customers == 60


def test_reimport_skips_every_row_and_writes_nothing(book: Path, tmp_path: Path) -> None:
    csv = mixed_csv(tmp_path / "orders.csv", first_existing_row(book))
    first = import_transactions(book, csv, backups=0)
    snapshot = book.read_bytes()
    second = import_transactions(book, csv, backups=0)
    assert first.imported == 8
    assert second.imported == 0 and not second.written
    # The 8 imported (line 13 repeats line 2: the sheet now holds both) and line 14 (an old
    # order).
    assert second.plan.already_present == [2, 3, 4, 5, 6, 8, 13, 14, 17]
    assert book.read_bytes() == snapshot
    assert "Nothing to import" in second.summary_lines()[0]
    assert "Already in Transactions: 9 lines" in "\n".join(second.summary_lines())
    assert len(transactions(book)) == 601 + 8


def test_add_missing_customers_adds_exactly_the_missing_ids(book: Path, tmp_path: Path) -> None:
    text = (
        "客户编号,客户名称,订单日期,金额,数量,产品\n"
        "N001,新客户一,2026-04-01,100,1,轴承\n"
        "C0001,旧客户,2026-04-01,200,1,轴承\n"
        "N002,,2026-04-02,300,1,油\n"
        "N001,新客户一,2026-04-03,400,1,轴承\n"
    )
    csv = tmp_path / "erp.csv"
    csv.write_bytes(text.encode("gb18030"))
    original = tmp_path / "original.xlsm"
    shutil.copy(book, original)

    with pytest.raises(InputError, match=r"not UTF-8.*--encoding.*gb18030"):
        import_transactions(book, csv)
    assert book.read_bytes() == original.read_bytes()

    options = ImportOptions(encoding="gb18030")
    plain = import_transactions(book, csv, options=options, dry_run=True)
    assert plain.imported == 1
    assert [(r.line, r.value) for r in plain.plan.rejected] == [
        (2, "N001"), (4, "N002"), (5, "N001")]
    assert plain.parsed.mapping == {"客户编号": "CustomerID", "订单日期": "Date", "金额": "Amount",
                                    "数量": "Quantity", "产品": "Product"}
    assert plain.parsed.name_column == "客户名称"
    assert book.read_bytes() == original.read_bytes()

    result = import_transactions(book, csv, options=options, add_missing_customers=True,
                                 backups=0)
    assert result.imported == 4
    customers = open_workbook(book).read_sheet("Customers", text_columns=["CustomerID"]).frame
    assert len(customers) == 62
    assert customers["CustomerID"].tolist()[-2:] == ["N001", "N002"]
    assert customers["Name"].tolist()[-2:] == ["新客户一", None]
    assert customers.iloc[-2:, 2:].isna().all().all()  # indicators blank
    assert table_ref(book, "tblCustomers") == "A1:T63"
    parts = read_parts(book)
    tables = table_parts(book.read_bytes())
    unchanged_except(original, book, {
        sheet_part(parts, "Customers"), sheet_part(parts, "Transactions"),
        tables["tblCustomers"], tables["tblTransactions"],
    })
    assert result.to_json()["customers_added"] == [
        {"CustomerID": "N001", "Name": "新客户一"}, {"CustomerID": "N002", "Name": None}]
    results = resegment_file(book, backups=0)
    assert results.customers == 62


def test_empty_template_table_fills_its_blank_first_row(tmp_path: Path) -> None:
    from xlcrm.book.template import TEMPLATE_PATH

    book = tmp_path / "fresh.xlsm"
    shutil.copy(TEMPLATE_PATH, book)
    csv = tmp_path / "t.csv"
    csv.write_text("CustomerID,Date,Amount\nA1,2026-01-05,100\nA2,2026-01-06,\"1,200.50\"\n")
    result = import_transactions(book, csv, add_missing_customers=True, backups=0)
    assert result.imported == 2
    assert table_ref(book, "tblTransactions") == "A1:G3"
    assert table_ref(book, "tblCustomers") == "A1:T3"
    tx = transactions(book)
    assert tx.index.tolist() == [2, 3]
    assert tx["Amount"].tolist() == [100.0, 1200.5]
    assert tx["Date"].tolist() == [pd.Timestamp("2026-01-05"), pd.Timestamp("2026-01-06")]


# --------------------------------------------------------------------------------------------
# Refusals leave the file untouched


def test_ambiguous_dates_stop_and_ask(book: Path, tmp_path: Path) -> None:
    csv = tmp_path / "us.csv"
    csv.write_text("CustomerID;Date;Amount\nC0001;05/03/2026;10\nC0002;04/03/2026;20\n")
    snapshot = book.read_bytes()
    with pytest.raises(InputError, match=r"day first or month.*--dayfirst.*--monthfirst"):
        import_transactions(book, csv)
    assert book.read_bytes() == snapshot
    day = import_transactions(book, csv, options=ImportOptions(dayfirst=True), dry_run=True)
    assert day.plan.rows["Date"].tolist() == [pd.Timestamp("2026-03-05"),
                                              pd.Timestamp("2026-03-04")]
    month = import_transactions(book, csv, options=ImportOptions(dayfirst=False), dry_run=True)
    assert month.plan.rows["Date"].tolist() == [pd.Timestamp("2026-05-03"),
                                                pd.Timestamp("2026-04-03")]
    fmt = import_transactions(book, csv, options=ImportOptions(date_format="%m/%d/%Y"),
                              dry_run=True)
    assert fmt.plan.rows["Date"].tolist() == month.plan.rows["Date"].tolist()
    assert book.read_bytes() == snapshot


def test_missing_required_column_names_file_headers_and_need(book: Path, tmp_path: Path) -> None:
    csv = tmp_path / "partial.csv"
    csv.write_text("Customer No,Item,Qty\nC0001,Pump,1\n")
    snapshot = book.read_bytes()
    with pytest.raises(InputError) as err:
        import_transactions(book, csv)
    message = str(err.value)
    assert "partial.csv" in message and "Date, Amount" in message
    assert "'Customer No', 'Item', 'Qty'" in message
    assert book.read_bytes() == snapshot


def test_refuses_while_open_in_excel(book: Path, tmp_path: Path) -> None:
    csv = mixed_csv(tmp_path / "orders.csv", first_existing_row(book))
    lock = book.parent / f"~${book.name}"
    lock.write_bytes(b"")
    snapshot = book.read_bytes()
    with pytest.raises(InputError, match="open in a spreadsheet program"):
        import_transactions(book, csv)
    assert book.read_bytes() == snapshot
    assert not (book.parent / ".xlcrm-backups").exists()
    assert main(["import-transactions", str(book), str(csv), "--quiet"]) == 2
    assert book.read_bytes() == snapshot


def _edit_part(path: Path, part_of, edit) -> None:
    parts = read_parts(path)
    name = part_of(parts)
    parts[name] = edit(parts[name])
    write_parts(path, parts)


def test_refuses_values_below_the_table_and_a_totals_row(book: Path, tmp_path: Path) -> None:
    csv = tmp_path / "one.csv"
    csv.write_text("CustomerID,Date,Amount\nC0001,2026-01-05,100\n")
    _edit_part(book, lambda p: sheet_part(p, "Transactions"), lambda x: x.replace(
        b"</sheetData>", b'<row r="700"><c r="H700" t="inlineStr"><is><t>note</t></is></c>'
        b"</row></sheetData>"))
    snapshot = book.read_bytes()
    with pytest.raises(InputError, match="row 700, below the table tblTransactions"):
        import_transactions(book, csv)
    assert book.read_bytes() == snapshot

    other = tmp_path / "totals.xlsm"
    shutil.copy(tmp_path / "book.xlsm", other)
    _edit_part(other, lambda p: sheet_part(p, "Transactions"),
               lambda x: re.sub(rb'<row r="700">.*?</row>', b"", x))
    _edit_part(other, lambda p: table_parts(other.read_bytes())["tblTransactions"],
               lambda x: x.replace(b'headerRowCount="1"', b'headerRowCount="1" totalsRowCount="1"'))
    snapshot = other.read_bytes()
    with pytest.raises(InputError, match="totals row"):
        import_transactions(other, csv)
    assert other.read_bytes() == snapshot


def test_dry_run_writes_nothing(book: Path, tmp_path: Path) -> None:
    csv = mixed_csv(tmp_path / "orders.csv", first_existing_row(book))
    snapshot = book.read_bytes()
    result = import_transactions(book, csv, dry_run=True)
    assert result.imported == 8 and not result.written
    assert book.read_bytes() == snapshot
    assert result.summary_lines()[0].startswith("Dry run: would import 8 of 14 rows")


# --------------------------------------------------------------------------------------------
# The appender on other workbooks


def test_validations_and_formats_grow_with_the_table(tmp_path: Path) -> None:
    src = rich_workbook(tmp_path / "rich.xlsm", customers=20)
    dst = tmp_path / "out.xlsm"
    frame = pd.DataFrame({"CustomerID": ["X1", "X2"], "Name": ["New 1", "New 2"],
                          "Revenue12m": [1.5, 2.5]})
    report = append_rows(open_workbook(src), dst, {"Customers": frame})
    parts = read_parts(dst)
    part = sheet_part(parts, "Customers")
    xml = parts[part].decode()
    assert re.search(r'<dataValidation\b[^>]*sqref="D2:D23"', xml)
    assert re.search(r'<conditionalFormatting\b[^>]*sqref="K2:K23"', xml)
    assert "<xm:sqref>I2:I23</xm:sqref>" in xml  # 2010 data bar
    assert "<xm:sqref>N2</xm:sqref>" in xml  # the sparkline stays where it is
    assert table_ref(dst, "tblCustomers") == "A1:O23"
    assert report.sheets["Customers"].first_row == 22
    unchanged_except(src, dst, {part, table_parts(dst.read_bytes())["tblCustomers"]})
    read = open_workbook(dst).read_sheet("Customers", text_columns=["CustomerID"]).frame
    assert len(read) == 22
    assert read["CustomerID"].tolist()[-2:] == ["X1", "X2"]
    assert read["Revenue12m"].tolist()[-2:] == [1.5, 2.5]
    assert read["Name"].tolist()[-2:] == ["New 1", "New 2"]


def test_sheet_without_table_and_an_extra_column(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Customers"
    ws.append(["CustomerID", "Name"])
    ws.append(["K1", "Kappa"])
    tx = wb.create_sheet("Transactions")
    tx.append(["CustomerID", "Date", "Amount", "Channel"])
    tx.append(["K1", datetime(2026, 1, 2), 10.0, "Web"])
    tx.append(["K1", datetime(2026, 1, 3), 20.0, "Shop"])
    tx.auto_filter.ref = "A1:D3"
    tx.conditional_formatting.add("C2:C3", CellIsRule(
        operator="lessThan", formula=["0"], fill=PatternFill("solid", start_color="FFC7CE")))
    dv = DataValidation(type="list", formula1='"Web,Shop,Phone"', allow_blank=True)
    tx.add_data_validation(dv)
    dv.add("D2:D3")
    book = tmp_path / "plain.xlsx"
    wb.save(book)
    csv = tmp_path / "x.csv"
    csv.write_text("customer_id\tDATE\tAmount\tchannel\tOther\n"
                   "K1\t2026-02-01\t30\tPhone\tz\nK1\t2026-02-02\t-5\t\tz\n")
    result = import_transactions(book, csv, backups=0)
    assert result.parsed.delimiter == "\t"
    assert result.parsed.mapping["channel"] == "Channel"
    assert result.parsed.unmapped == ("Other",)
    frame = transactions(book)
    assert frame["Channel"].tolist() == ["Web", "Shop", "Phone", None]
    assert frame["Amount"].tolist() == [10.0, 20.0, 30.0, -5.0]
    xml = read_parts(book)[sheet_part(read_parts(book), "Transactions")].decode()
    assert re.search(r'<autoFilter ref="A1:D5"', xml)
    assert re.search(r'sqref="C2:C5"', xml) and re.search(r'sqref="D2:D5"', xml)
    assert re.search(r'<dimension ref="A1:D5"', xml)


# --------------------------------------------------------------------------------------------
# Reading exports: known answers


def parse(text: str | bytes, **options) -> object:
    data = text.encode() if isinstance(text, str) else text
    return parse_export(data, TX_COLUMNS, source="x.csv", options=ImportOptions(**options))


@pytest.mark.parametrize(("value", "expected"), [
    ("2026-03-05", datetime(2026, 3, 5)),
    ("2026/03/05", datetime(2026, 3, 5)),
    ("05.03.2026", datetime(2026, 3, 5)),
    ("20260305", datetime(2026, 3, 5)),
    ("46086", datetime(2026, 3, 5)),
    ("46086.75", datetime(2026, 3, 5, 18)),
    ("2026-03-05T14:30:15Z", datetime(2026, 3, 5, 14, 30, 15)),
    ("2026-03-05 2:30 PM", datetime(2026, 3, 5, 14, 30)),
    ("2026年3月5日", datetime(2026, 3, 5)),
    ("05-Mar-26", datetime(2026, 3, 5)),
    ('"March 5, 2026"', datetime(2026, 3, 5)),
    ("25/12/99", datetime(1999, 12, 25)),
])
def test_date_formats(value: str, expected: datetime) -> None:
    p = parse(f"CustomerID,Date,Amount\nC1,{value},1\n")
    assert p.rejected == []
    assert p.rows["Date"].iloc[0] == pd.Timestamp(expected)


@pytest.mark.parametrize(("value", "expected"), [
    ('"1,234.50"', 1234.5),
    ('"$1,234.50"', 1234.5),
    ("(1234.50)", -1234.5),
    ("1234.50-", -1234.5),
    ("−5", -5.0),
    ("EUR 12", 12.0),
    ("100 元", 100.0),
    ("¥1000", 1000.0),
    ("\u00a01\u00a0234.5\u00a0", 1234.5),
    ("1'234.50", 1234.5),
    ("1.5E+03", 1500.0),
    ('"12,34,567.00"', 1234567.0),
])
def test_number_formats_with_a_decimal_point(value: str, expected: float) -> None:
    p = parse(f"CustomerID,Date,Amount\nC1,2026-01-01,{value}\nC2,2026-01-01,0.50\n")
    assert p.rejected == []
    assert p.rows["Amount"].iloc[0] == expected


def test_decimal_comma_decided_per_column_and_conflicts_rejected() -> None:
    p = parse("CustomerID;Date;Amount;Quantity\n"
              "C1;2026-01-01;1.234,50;1.000\n"
              "C2;2026-01-01;€ -2.000,00;2\n"
              "C3;2026-01-01;1 234,5;3\n"
              "C4;2026-01-01;1,234.50;4\n")
    assert p.rows["Amount"].tolist() == [1234.5, -2000.0, 1234.5]
    # Quantity shows no decimal itself: it follows the file's other numbers (1.000 = 1000).
    assert p.rows["Quantity"].tolist() == [1000.0, 2.0, 3.0]
    assert [(r.line, r.column) for r in p.rejected] == [(5, "Amount")]
    assert "decimal point, but this column uses a decimal comma" in p.rejected[0].reason
    forced = parse("CustomerID,Date,Amount\nC1,2026-01-01,\"1,234\"\n", decimal=",")
    assert forced.rows["Amount"].tolist() == [1.234]


def test_ambiguous_thousands_follow_the_file() -> None:
    comma_file = parse("CustomerID,Date,Amount\nC1,2026-01-01,\"1,234\"\n")
    assert comma_file.rows["Amount"].tolist() == [1234.0]
    semicolon_file = parse("CustomerID;Date;Amount\nC1;2026-01-01;1,234\n")
    assert semicolon_file.rows["Amount"].tolist() == [1.234]


def test_month_first_decided_from_the_values() -> None:
    p = parse("CustomerID,Date,Amount\nC1,03/05/2026,1\nC2,12/31/2026,2\nC3,01/20/2026,3\n"
              "C4,31/12/2026,4\n")
    assert p.rows["Date"].tolist() == [pd.Timestamp("2026-03-05"), pd.Timestamp("2026-12-31"),
                                       pd.Timestamp("2026-01-20")]
    assert p.rejected[0].line == 5 and "month-first" in p.rejected[0].reason
    assert "line 3: 12/31/2026" in p.rejected[0].reason


def test_line_numbers_count_physical_lines_and_title_lines() -> None:
    text = ("Sales export 2026\n\n"
            "CustomerID,Date,Amount,Product\n"
            'C1,2026-01-01,1,"two\nlines"\n'
            "\n"
            "C2,not a date,2,x\n")
    p = parse(text)
    assert p.header_line == 3
    assert p.rows.index.tolist() == [4]
    assert [(r.line, r.column) for r in p.rejected] == [(7, "Date")]
    assert p.rows["Product"].tolist() == ["two\nlines"]


def test_encodings() -> None:
    text = "CustomerID,Date,Amount,Product\nC1,2026-01-01,1,Müller Öl\n"
    assert parse(text.encode("utf-8-sig")).rows["Product"].tolist() == ["Müller Öl"]
    assert parse(text.encode("utf-16")).rows["Product"].tolist() == ["Müller Öl"]
    with pytest.raises(InputError, match="--encoding"):
        parse(text.encode("cp1252"))
    assert parse(text.encode("cp1252"), encoding="cp1252").rows["Product"].tolist() == [
        "Müller Öl"]


def test_delimiters_are_sniffed() -> None:
    for d in [",", ";", "\t", "|"]:
        text = d.join(["CustomerID", "Date", "Amount"]) + "\n" + d.join(
            ["C1", "2026-01-01", '"1,5"' if d == "," else "1,5"]) + "\n"
        assert sniff_delimiter(text) == d


def test_header_synonyms() -> None:
    cmap = map_columns(
        ["Cust. No", "Posting Date", "Net Sales", "Margin", "QTY", "SKU", "Order Date",
         "Customer Name", "Notes"], TX_COLUMNS)
    # Of two synonyms the preferred one wins, wherever it stands: the order date.
    assert cmap.targets == {0: "CustomerID", 6: "Date", 2: "Amount", 3: "GrossProfit",
                            4: "Quantity", 5: "Product"}
    assert cmap.name_index == 7
    assert cmap.unmapped == [1, 8]
    assert "'Posting Date' ignored: Date is taken from 'Order Date'" in cmap.notes[0]
    chinese = map_columns(["客户代码", "日期", "销售额", "毛利", "数量", "物料"], TX_COLUMNS)
    assert list(chinese.targets.values()) == TX_COLUMNS


# --------------------------------------------------------------------------------------------
# The command


def test_cli_json_dry_run_and_exit_codes(book: Path, tmp_path: Path, capsys) -> None:
    csv = mixed_csv(tmp_path / "orders.csv", first_existing_row(book))
    snapshot = book.read_bytes()
    assert main(["import-transactions", str(book), str(csv), "--dry-run", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["dry_run"] and not out["written"] and out["imported"] == 8
    assert book.read_bytes() == snapshot

    assert main(["import-transactions", str(book), str(csv), "--json", "--resegment",
                 "--backups", "0"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["written"] and out["imported"] == 8 and out["rows"] == [603, 610]
    assert out["table_ref"] == "A1:G610"
    assert out["rejected_rows"] == 5 and out["already_present"] == 1
    assert out["already_present_lines"] == [14]
    assert out["resegment"]["customers"] == 60

    assert main(["import-transactions", str(book), str(csv), "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "Nothing to import" in text and "Already in Transactions: 9 lines" in text

    bad = tmp_path / "us.csv"
    bad.write_text("CustomerID,Date,Amount\nC0001,05/03/2026,1\n")
    assert main(["import-transactions", str(book), str(bad), "--quiet"]) == 2
    assert "--dayfirst" in capsys.readouterr().err
    assert main(["import-transactions", str(book), str(bad), "--quiet", "--dayfirst"]) == 0
    assert "Imported 1 of 1 row" in capsys.readouterr().out


@pytest.mark.libreoffice
def test_libreoffice_opens_the_result_and_sees_the_rows(book: Path, tmp_path: Path) -> None:
    soffice = shutil.which("soffice")
    if soffice is None:
        pytest.skip("LibreOffice (soffice) is not installed")
    csv = mixed_csv(tmp_path / "orders.csv", first_existing_row(book))
    import_transactions(book, csv, add_missing_customers=True, backups=0)
    expected = transactions(book)
    subprocess.run(
        [soffice, f"-env:UserInstallation=file://{tmp_path / 'profile'}", "--headless",
         "--convert-to", "xlsx", "--outdir", str(tmp_path / "out"), str(book)],
        check=True, capture_output=True, timeout=180,
    )
    converted = tmp_path / "out" / "book.xlsx"
    rows = CalamineWorkbook.from_path(str(converted)).get_sheet_by_name(
        "Transactions").to_python()
    assert len(rows) == len(expected) + 1
    tail = rows[-len(EXPECTED) - 1:]  # C9999 was added as a customer, so 9 new rows
    assert [r[0] for r in tail] == ["C0001", "C0002", "C0003", "C0004", "C0005", "C0006",
                                    "C9999", "C0001", "C0010"]
    assert [r[2] for r in tail] == [1234.5, 2000.0, -300.0, -450.0, 1000.0, 99.5, 100.0,
                                    1234.5, 1000.0]
    assert tail[1][5] == "=SUM(A1)"
    assert pd.Timestamp(tail[0][1]) == pd.Timestamp("2026-03-02")
    assert pd.Timestamp(tail[2][1]) == pd.Timestamp("2026-03-25 14:30")
    with zipfile.ZipFile(converted) as z:
        tables = [z.read(n).decode() for n in z.namelist() if n.startswith("xl/tables/")]
    assert any(f'ref="A1:G{len(expected) + 1}"' in t for t in tables)


# --------------------------------------------------------------------------------------------
# Exports that once went wrong (review of the parser)


def _parse(text: str, **options) -> object:
    return parse_export(text.encode("utf-8"), TX_COLUMNS, source="x.csv",
                        options=ImportOptions(**options) if options else None)


@pytest.mark.parametrize("value", ["050326", "260305", "01032026", "202603", "99999"])
def test_digit_dates_are_not_taken_for_excel_serials(value):
    parsed = _parse(f"CustomerID,Date,Amount\nC1,{value},5\n")
    assert len(parsed.rows) == 0
    (bad,) = parsed.rejected
    assert bad.line == 2 and "not a date" in bad.reason


def test_excel_serials_of_real_order_dates_still_read():
    parsed = _parse("CustomerID,Date,Amount\nC1,46086,5\nC1,46086.5,6\n")
    assert list(parsed.rows["Date"]) == [datetime(2026, 3, 5), datetime(2026, 3, 5, 12)]


def test_an_unclosed_quote_stops_the_import_at_its_line():
    text = "CustomerID,Date,Amount,Product\n" + "".join(
        f"C{i},2026-03-05,5,Pump {i}\n" for i in range(1, 9)
    ) + 'C9,2026-03-05,5,"Pump 9\n' + "C10,2026-03-05,5,Bolt\n" * 20
    with pytest.raises(InputError, match="starts on line 10 of the export is never closed"):
        _parse(text)
    # A stray quote after a closing one stays readable (the lenient reading).
    parsed = _parse('CustomerID,Date,Amount,Product\nC1,2026-03-05,5,"Pump"x\n')
    assert list(parsed.rows["Product"]) == ["Pumpx"]


def test_time_zone_in_a_date_format_keeps_the_wall_clock():
    parsed = _parse("CustomerID,Date,Amount\nC1,2026-03-05T14:30:00+0800,5\n",
                    date_format="%Y-%m-%dT%H:%M:%S%z")
    assert list(parsed.rows["Date"]) == [datetime(2026, 3, 5, 14, 30)]


def test_a_binary_codec_is_not_a_text_encoding():
    with pytest.raises(InputError, match="'base64' is not a text encoding"):
        _parse("CustomerID,Date,Amount\n", encoding="base64")


def test_trailing_delimiters_and_missing_trailing_fields():
    text = ("CustomerID,Date,Amount,Product,,\n"
            "C1,2026-03-05,5,Pump,,\n"  # trailing delimiters
            "C2,2026-03-06,6\n"  # trailing empty fields left out
            "C3,2026-03-07,7,Bolt,,,\n")  # one more delimiter still blank
    parsed = _parse(text)
    assert list(parsed.rows["CustomerID"]) == ["C1", "C2", "C3"]
    assert list(parsed.rows["Product"]) == ["Pump", None, "Bolt"]
    wrong = _parse("CustomerID,Date,Amount\nC1,2026-03-05,5,extra\n")
    assert len(wrong.rows) == 0 and "has 4 fields, the header has 3" in wrong.rejected[0].reason


def test_seven_fractional_digits_of_sql_server():
    parsed = _parse("CustomerID,Date,Amount\nC1,2026-03-05 14:30:00.1234567,5\n"
                    "C1,2026-03-06T08:00:00.0000000Z,6\n")
    assert list(parsed.rows["Date"]) == [datetime(2026, 3, 5, 14, 30, 0, 123456),
                                         datetime(2026, 3, 6, 8)]


def test_sap_item_number_is_not_the_product():
    parsed = _parse("Sold-To Party,Billing Date,Item,Material,Net Value\n"
                    "C1,2026-03-05,10,Hydraulic pump,5\n")
    assert list(parsed.rows["Product"]) == ["Hydraulic pump"]
    assert "CustomerID" in parsed.mapping.values()


def test_headers_with_units_and_utf16_without_mark():
    parsed = _parse("客户编号,日期,金额（元）\nC1,2026-03-05,5\n")
    assert list(parsed.rows["Amount"]) == [5.0]
    assert map_columns(["Amount (EUR)", "Date [UTC]"], TX_COLUMNS).targets == {
        0: "Amount", 1: "Date"}
    with pytest.raises(InputError, match="UTF-16 text without a byte-order mark"):
        parse_export("CustomerID,Date,Amount\n".encode("utf-16-le"), TX_COLUMNS, source="x")


def test_add_missing_customers_never_adds_a_near_duplicate(book, tmp_path):
    ids = transactions(book)["CustomerID"]
    known = sorted(set(ids))[0]  # e.g. C0001
    csv = tmp_path / "case.csv"
    csv.write_text(f"CustomerID,Date,Amount\n{known.lower()},2026-10-01,5\nNEW9,2026-10-02,6\n",
                   encoding="utf-8")
    result = import_transactions(book, csv, add_missing_customers=True, dry_run=True)
    assert list(result.plan.new_customers["CustomerID"]) == ["NEW9"]
    (bad,) = result.plan.rejected
    assert bad.line == 2 and f"Customers has {known!r}): correct the ID" in bad.reason


def _small_book(path: Path, ids: list, *, date1904: bool = False) -> Path:
    """Customers and a Transactions table with one order, IDs as given (numbers or text)."""
    from openpyxl.utils.datetime import CALENDAR_MAC_1904
    from openpyxl.worksheet.table import Table

    wb = openpyxl.Workbook()
    c = wb.active
    c.title = "Customers"
    c.append(["CustomerID", "Name"])
    for i in ids:
        c.append([i, f"Firm {i}"])
    c.add_table(Table(displayName="tblCustomers", ref=f"A1:B{len(ids) + 1}"))
    t = wb.create_sheet("Transactions")
    t.append(["CustomerID", "Date", "Amount"])
    t.append([ids[0], datetime(2025, 1, 1), 5.0])
    t.cell(row=2, column=2).number_format = "yyyy-mm-dd"
    t.add_table(Table(displayName="tblTransactions", ref="A1:C2"))
    if date1904:
        wb.epoch = CALENDAR_MAC_1904
    wb.save(path)
    return path


def test_numeric_customer_ids_stay_numbers(tmp_path):
    book = _small_book(tmp_path / "num.xlsx", [1001, 1002])
    csv = tmp_path / "e.csv"
    csv.write_text("CustomerID,Date,Amount\n1002,2026-03-02,10\n", encoding="utf-8")
    import_transactions(book, csv, backups=0)
    ws = openpyxl.load_workbook(book)["Transactions"]
    assert [(c.value, c.data_type) for c in ws["A"]][1:] == [(1001, "n"), (1002, "n")]
    # Text IDs stay text, leading zeros included.
    book = _small_book(tmp_path / "text.xlsx", ["00123", "00124"])
    csv.write_text("CustomerID,Date,Amount\n00124,2026-03-02,10\n", encoding="utf-8")
    import_transactions(book, csv, backups=0)
    ws = openpyxl.load_workbook(book)["Transactions"]
    assert [c.value for c in ws["A"]][1:] == ["00123", "00124"]


def test_dates_before_1904_are_refused_in_a_1904_workbook(tmp_path):
    book = _small_book(tmp_path / "mac.xlsx", ["C1"], date1904=True)
    before = book.read_bytes()
    csv = tmp_path / "e.csv"
    csv.write_text("CustomerID,Date,Amount\nC1,1902-05-05,10\n", encoding="utf-8")
    with pytest.raises(InputError, match="1902-05-05 is before 1904"):
        import_transactions(book, csv, backups=0)
    assert book.read_bytes() == before
    csv.write_text("CustomerID,Date,Amount\nC1,2026-03-02,10\n", encoding="utf-8")
    import_transactions(book, csv, backups=0)
    ws = openpyxl.load_workbook(book)["Transactions"]
    assert ws["B3"].value == datetime(2026, 3, 2)  # a real date in the 1904 system


def test_rows_formatted_in_advance_keep_their_format(tmp_path):
    from openpyxl.styles import PatternFill

    book = _small_book(tmp_path / "fmt.xlsx", ["C1"])
    wb = openpyxl.load_workbook(book)
    t = wb["Transactions"]
    yellow = PatternFill("solid", fgColor="FFFF00")
    for r in range(3, 7):  # blank rows below the data, filled in column E, 30 pt high
        t.cell(row=r, column=5).fill = yellow
        t.row_dimensions[r].height = 30
    wb.save(book)
    csv = tmp_path / "e.csv"
    csv.write_text("CustomerID,Date,Amount\nC1,2026-03-02,10\nC1,2026-03-03,11\n",
                   encoding="utf-8")
    import_transactions(book, csv, backups=0)
    t = openpyxl.load_workbook(book)["Transactions"]
    assert [t.cell(row=r, column=3).value for r in (3, 4)] == [10, 11]
    for r in range(3, 7):
        assert t.cell(row=r, column=5).fill.fgColor.rgb == "00FFFF00", r
        assert t.row_dimensions[r].height == 30, r


def test_an_empty_table_whose_row_holds_only_a_calculated_formula(tmp_path):
    """Excel keeps a calculated column's formula in an empty table's one row: the first
    import fills that row instead of leaving it as a blank order above the new ones."""
    book = _small_book(tmp_path / "calc.xlsx", ["C1"])
    parts = read_parts(book)
    sheet, table = "xl/worksheets/sheet2.xml", "xl/tables/table2.xml"
    formula = b"tblTransactions[[#This Row],[Amount]]*0.1"
    parts[sheet] = re.sub(rb"<row r=\"2\".*?</row>",
                          b'<row r="2"><c r="D2"><f>' + formula + b"</f><v>0</v></c></row>",
                          parts[sheet], flags=re.S)
    parts[sheet] = parts[sheet].replace(b'ref="A1:C2"', b'ref="A1:D2"')
    parts[table] = re.sub(rb'ref="A1:C2"', b'ref="A1:D2"', parts[table])
    parts[table] = re.sub(
        rb'(<tableColumns count=")3(">.*?)(</tableColumns>)',
        rb'\g<1>4\2<tableColumn id="4" name="Margin"><calculatedColumnFormula>'
        + formula + rb"</calculatedColumnFormula></tableColumn>\3", parts[table], flags=re.S)
    write_parts(book, parts)
    csv = tmp_path / "e.csv"
    csv.write_text("CustomerID,Date,Amount\nC1,2026-03-02,10\n", encoding="utf-8")
    result = import_transactions(book, csv, backups=0)
    assert result.to_json()["rows"] == [2, 2]
    rows_ = open_workbook(book).rows("Transactions")
    assert len(rows_) == 2 and rows_[1][0] == "C1" and rows_[1][2] == 10.0
    assert str(rows_[1][1])[:10] == "2026-03-02"
    assert formula in read_parts(book)[sheet]  # the row keeps its formula


# --------------------------------------------------------------------------------------------
# Real exports: invoice lines, genuine identical lines, customers with no history

PRODUCTS = [("Bucket teeth", 12.5), ("Hydraulic pump", 1234.56), ("Filter set", 99.0),
            ("Seal kit", 240.0)]
AS_OF = datetime(2026, 10, 31).date()


def erp_lines(ids: list[str], seed: int, invoices: int = 150) -> pd.DataFrame:
    """Invoice lines as an ERP exports them: 1-4 lines per invoice; every 7th invoice has
    two identical lines (two cartons of one article), every 11th repeats the previous
    invoice's customer, day and lines under a new number (the same order placed twice)."""
    rng = np.random.default_rng(seed)
    rows: list[tuple] = []
    previous: list[tuple] = []
    for k in range(invoices):
        doc = f"RE-{2025_0000 + k}"
        if k % 11 == 10 and previous:
            lines = previous
        else:
            cust = ids[int(rng.integers(len(ids)))]
            day = pd.Timestamp("2024-11-01") + pd.Timedelta(days=int(rng.integers(0, 730)))
            lines = []
            for _ in range(int(rng.integers(1, 5))):
                name, price = PRODUCTS[int(rng.integers(len(PRODUCTS)))]
                qty = int(rng.integers(1, 4))
                lines.append((cust, day, round(qty * price, 2), qty, name))
            if k % 7 == 0:
                lines.append(lines[0])
        rows.extend((doc, *line) for line in lines)
        previous = lines
    return pd.DataFrame(rows, columns=["DocumentNo", "CustomerID", "Date", "Amount",
                                       "Quantity", "Product"])


def german_csv(path: Path, lines: pd.DataFrame, *, documents: bool = True) -> Path:
    """The lines as a German ERP writes them: ``;``, ``31.01.2026``, ``1.234,56``."""
    out = pd.DataFrame({
        "Belegnummer": lines["DocumentNo"],
        "Kundennummer": lines["CustomerID"],
        "Rechnungsdatum": lines["Date"].dt.strftime("%d.%m.%Y"),
        "Nettobetrag": [f"{v:,.2f}".replace(",", " ").replace(".", ",").replace(" ", ".")
                        for v in lines["Amount"]],
        "Menge": lines["Quantity"],
        "Artikel": lines["Product"],
    })
    if not documents:
        out = out.drop(columns="Belegnummer")
    out.to_csv(path, sep=";", index=False, encoding="utf-8")
    return path


def ledger_book(path: Path, customers: int = 40) -> tuple[Path, list[str]]:
    """The template with customers and no order history at all."""
    from xlcrm.book.template import build_workbook
    from xlcrm.demo import make_ledger

    ledger = make_ledger(customers, seed=5, history=False, dirty=False)
    path.write_bytes(build_workbook(ledger))
    return path, ledger.customers["CustomerID"].astype(str).tolist()


def metrics(frame: pd.DataFrame, ids: list[str]) -> pd.DataFrame:
    from xlcrm.operations.orders import order_metrics

    table = order_metrics(frame, ids, today=AS_OF).table
    return table[["Orders", "FirstOrder", "LastOrder", "RevenueTotal", "Revenue12m"]]


def test_every_invoice_line_arrives_and_a_reimport_adds_nothing(tmp_path: Path) -> None:
    book, ids = ledger_book(tmp_path / "book.xlsm")
    source = erp_lines(ids[:30], seed=1)  # the last 10 customers have no history
    # What breaks the naive rule "one line per invoice number": invoices with several lines,
    # some of them identical, and identical lines on two invoices.
    assert source["DocumentNo"].nunique() < len(source)
    assert source.duplicated().sum() >= 10
    assert source.drop(columns="DocumentNo").duplicated().sum() > source.duplicated().sum()
    csv = german_csv(tmp_path / "rechnungen.csv", source)

    first = import_transactions(book, csv, backups=0)
    assert first.parsed.mapping["Belegnummer"] == "DocumentNo"
    assert first.imported == len(source) and not first.plan.rejected
    assert first.plan.already_present == []
    tx = transactions(book)
    assert len(tx) == len(source)
    assert tx["DocumentNo"].tolist() == source["DocumentNo"].tolist()
    pd.testing.assert_frame_equal(metrics(tx, ids), metrics(source, ids))
    assert (metrics(tx, ids).loc[ids[30:], "Orders"] == 0).all()

    snapshot = book.read_bytes()
    again = import_transactions(book, csv, backups=0)
    assert again.imported == 0 and not again.written and book.read_bytes() == snapshot
    assert len(again.plan.already_present) == len(source)
    assert again.to_json()["already_present"] == len(source)


def test_a_repeated_export_with_one_more_identical_line_adds_exactly_one(
        tmp_path: Path) -> None:
    book, ids = ledger_book(tmp_path / "book.xlsm", customers=5)
    line = "C0001,2026-03-02,99.00,Filter set\n"
    csv = tmp_path / "orders.csv"
    csv.write_text("Customer No,Date,Amount,Product\n" + line * 2 + "C0002,2026-03-02,5,Nut\n")
    assert import_transactions(book, csv, backups=0).imported == 3
    assert import_transactions(book, csv, backups=0).imported == 0
    csv.write_text("Customer No,Date,Amount,Product\n" + line * 3 + "C0002,2026-03-02,5,Nut\n")
    third = import_transactions(book, csv, backups=0)
    assert third.imported == 1 and third.plan.already_present == [2, 3, 5]
    assert third.plan.rows.index.tolist() == [4]  # the third copy is the new one
    tx = transactions(book)
    assert (tx["CustomerID"] == "C0001").sum() == 3

    # The same within an invoice: re-exported with one more carton, it gains one line.
    invoice = "INV-7,C0003,2026-03-04,240.00,Seal kit\n"
    csv.write_text("Invoice No,Customer No,Date,Amount,Product\n" + invoice * 2)
    assert import_transactions(book, csv, backups=0).imported == 2
    csv.write_text("Invoice No,Customer No,Date,Amount,Product\n" + invoice * 3
                   + "INV-8,C0003,2026-03-04,240.00,Seal kit\n")
    fourth = import_transactions(book, csv, backups=0)
    # INV-8 is another invoice with the same content: a new order, not a copy of INV-7.
    assert fourth.imported == 2 and fourth.plan.already_present == [2, 3]
    assert transactions(book)["DocumentNo"].tolist()[-4:] == ["INV-7", "INV-7", "INV-7",
                                                              "INV-8"]


def test_lines_imported_before_the_export_had_invoice_numbers_are_recognised(
        tmp_path: Path) -> None:
    book, ids = ledger_book(tmp_path / "book.xlsm", customers=12)
    source = erp_lines(ids, seed=2, invoices=40)
    first = import_transactions(book, german_csv(tmp_path / "a.csv", source, documents=False),
                                backups=0)
    assert first.imported == len(source)
    again = import_transactions(book, german_csv(tmp_path / "b.csv", source), backups=0)
    assert again.imported == 0 and len(again.plan.already_present) == len(source)
    # One more month, now with numbers: only the new lines come in, with their numbers.
    more = erp_lines(ids, seed=3, invoices=10).assign(
        DocumentNo=lambda f: f["DocumentNo"].str.replace("RE-", "RE-X"))
    both = pd.concat([source, more], ignore_index=True)
    third = import_transactions(book, german_csv(tmp_path / "c.csv", both), backups=0)
    assert third.imported == len(more)
    tx = transactions(book)
    pd.testing.assert_frame_equal(metrics(tx, ids), metrics(both, ids))


def test_a_workbook_without_a_document_column_still_imports_every_line(
        tmp_path: Path) -> None:
    ids = [f"K{i:03d}" for i in range(1, 16)]
    book = _small_book(tmp_path / "old.xlsx", ids)  # Transactions: CustomerID, Date, Amount
    source = erp_lines(ids[:12], seed=4, invoices=60)
    csv = german_csv(tmp_path / "export.csv", source)
    first = import_transactions(book, csv, backups=0)
    assert first.imported == len(source)
    assert "Belegnummer" in first.parsed.unmapped
    assert any("no DocumentNo column" in n and "Belegnummer" in n for n in first.parsed.notes)
    assert table_ref(book, "tblTransactions") == f"A1:C{len(source) + 2}"
    tx = transactions(book)
    assert list(tx.columns) == ["CustomerID", "Date", "Amount"]
    old = pd.DataFrame({"CustomerID": [ids[0]], "Date": [pd.Timestamp("2025-01-01")],
                        "Amount": [5.0]})
    expected = pd.concat([old, source], ignore_index=True)
    pd.testing.assert_frame_equal(metrics(tx, ids), metrics(expected, ids))
    again = import_transactions(book, csv, backups=0)
    assert again.imported == 0 and len(again.plan.already_present) == len(source)


# --------------------------------------------------------------------------------------------
# European ERP exports: headers, dates and decimals of each language

EUROPEAN = {
    "de": ("Belegnummer;Kundennummer;Kundenname;Rechnungsdatum;Nettobetrag;Menge;Artikel\n"
           "RE-1001;C0001;Müller GmbH;31.01.2026;1.234,56;2;Hydraulikpumpe\n"
           "RE-1002;C0002;Schmidt AG;03.02.2026;-99,50;1;Gutschrift\n"),
    "fr": ("N° facture;Code client;Raison sociale;Date facture;Montant HT;Quantité;Désignation\n"
           "FA-1001;C0001;Dupont SA;31/01/2026;1\u202f234,56 €;2;Pompe hydraulique\n"
           "FA-1002;C0002;Martin SARL;03/02/2026;-99,50 €;1;Avoir\n"),
    "es": ("Nº factura;Cliente;Razón social;Fecha;Importe;Cantidad;Artículo\n"
           "F-1001;C0001;García SL;31/01/2026;1.234,56;2;Bomba hidráulica\n"
           "F-1002;C0002;López SA;03/02/2026;-99,50;1;Abono\n"),
    "it": ("Numero fattura;Codice cliente;Ragione sociale;Data fattura;Importo;Quantità;"
           "Descrizione\n"
           "FT-1001;C0001;Rossi Srl;31/01/2026;1.234,56;2;Pompa idraulica\n"
           "FT-1002;C0002;Bianchi SpA;03/02/2026;-99,50;1;Nota di credito\n"),
    "pt": ("Número da fatura;Código do cliente;Nome do cliente;Data de emissão;Valor;"
           "Quantidade;Produto\n"
           "FT 1001;C0001;Silva Lda;31-01-2026;1.234,56;2;Bomba hidráulica\n"
           "FT 1002;C0002;Costa SA;03-02-2026;-99,50;1;Nota de crédito\n"),
}


@pytest.mark.parametrize("language", sorted(EUROPEAN))
def test_a_european_export_is_read_with_its_dates_and_decimals(language: str) -> None:
    text = EUROPEAN[language]
    data = text.encode("cp1252" if language != "fr" else "utf-8")
    options = ImportOptions(encoding="cp1252") if language != "fr" else None
    parsed = parse_export(data, [*TX_COLUMNS, "DocumentNo"], source=f"{language}.csv",
                          options=options)
    assert not parsed.rejected
    assert sorted(parsed.mapping.values()) == sorted(
        ["DocumentNo", "CustomerID", "Date", "Amount", "Quantity", "Product"])
    assert parsed.name_column == text.split(";")[2]
    rows = parsed.rows
    assert rows["CustomerID"].tolist() == ["C0001", "C0002"]
    assert rows["Date"].tolist() == [pd.Timestamp("2026-01-31"), pd.Timestamp("2026-02-03")]
    assert rows["Amount"].tolist() == [1234.56, -99.5]
    assert rows["Quantity"].tolist() == [2.0, 1.0]
    assert rows["DocumentNo"].str.endswith("1001").tolist() == [True, False]
    assert parsed.names.tolist()[0] == text.splitlines()[1].split(";")[2]


# --------------------------------------------------------------------------------------------
# The vectorised number reading agrees with the value-by-value parser it replaces


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet="0123456789.,- ", min_size=1, max_size=9), min_size=1,
                max_size=30))
def test_fast_number_reading_equals_the_value_by_value_parser(texts: list[str]) -> None:
    from xlcrm.book.csv_import import _Column, _Number, _NumberColumn, _parse_number

    cells = [t.strip() for t in texts]
    col = _Column.of("Amount", cells, np.arange(2, len(cells) + 2))
    numbers = _NumberColumn.of(col)
    for decimal in ".,":
        values, reasons = numbers.typed(decimal)
        for k, v in enumerate(col.values):
            if v == "" or v in "-":
                assert reasons[k] is None and np.isnan(values[k])
                continue
            p = _parse_number(v)
            expected = p if isinstance(p, str) else p.value(decimal)
            if isinstance(p, _Number):
                assert numbers.decimal[k] == p.decimal, v
            if isinstance(expected, str):
                assert reasons[k] is not None, (v, decimal)
            else:
                assert reasons[k] is None and values[k] == expected, (v, decimal)
