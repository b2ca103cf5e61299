"""Order sources (#17): files and databases give exactly the Transactions sheet's figures.

PostgreSQL tests use a real server: ``eval "$(bash scripts/postgres.sh start)"`` sets
XLCRM_TEST_POSTGRES_URL (``.ci/run`` does it). Without it they are skipped with that reason
on a developer's machine and FAIL in CI (CI=true): never a silent skip.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import uuid
from dataclasses import replace
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from xlcrm import schema
from xlcrm.book.read import open_workbook
from xlcrm.book.settings import options_from_grid
from xlcrm.book.sheets import analyse
from xlcrm.book.workbook_file import analyse_file, create_demo_workbook, read_workbook
from xlcrm.cli import main
from xlcrm.errors import InputError
from xlcrm.operations.orders import ORDER_COLUMNS, metrics_from_totals, order_metrics
from xlcrm.sources import load_order_totals, order_source

TODAY = dt.date(2026, 10, 31)
PG_URL = os.environ.get("XLCRM_TEST_POSTGRES_URL")


def _postgres() -> str:
    if PG_URL:
        return PG_URL
    if os.environ.get("CI"):
        pytest.fail("XLCRM_TEST_POSTGRES_URL is not set in CI: .ci/run must start PostgreSQL"
                    " (bash scripts/postgres.sh start)")
    pytest.skip("no PostgreSQL: run eval \"$(bash scripts/postgres.sh start)\" first")


def hostile_orders(seed: int = 3) -> tuple[pd.DataFrame, list[str]]:
    """Order lines shaped like an ERP export's, with every case the sums must get right.

    Credit notes, zero-amount lines, identical repeated lines (one invoice exported twice
    is still two lines on the sheet), several orders on one day, lines before both windows
    and after ``today``, blank and bad gross profits, a customer known only to the ERP,
    customers on Customers with no line, amounts with 4 decimals, a customer that orders
    once, one whose credit notes exceed its orders.
    """
    rng = np.random.default_rng(seed)
    n = 4000
    customers = [f"K{i:03d}" for i in range(60)]
    ids = rng.choice([*customers[:50], "ERP-ONLY"], n)
    days = pd.Timestamp("2023-06-01") + pd.to_timedelta(rng.integers(0, 1300, n), unit="D")
    amount = np.round(rng.gamma(2.0, 400.0, n), 2)
    amount[rng.random(n) < 0.08] *= -0.5  # credit notes
    amount[rng.random(n) < 0.04] = 0.0  # zero lines (free samples)
    amount[:30] = np.round(amount[:30] + 0.0037, 4)  # 4 decimals
    gp = np.round(amount * rng.uniform(0.1, 0.4, n), 2)
    doc = np.array([f"INV-{k}" for k in range(n)], dtype=object)
    frame = pd.DataFrame({"CustomerID": ids, "Date": days, "Amount": amount,
                          "GrossProfit": gp, "DocumentNo": doc})  # fmt: skip
    extra = pd.DataFrame({
        "CustomerID": ["K050", "K050", "K051", "K051", "K052", "K052", "K053"],
        "Date": pd.to_datetime(["2026-03-01", "2026-03-01", "2026-05-05", "2026-06-01",
                                "2026-12-24", "2020-01-01", "2026-10-31"]),
        "Amount": [100.0, 100.0, 250.0, -900.0, 75.0, 60.0, 0.1],
        "GrossProfit": [20.0, 20.0, 50.0, -180.0, 15.0, np.nan, 0.02],
        "DocumentNo": ["INV-A", "INV-A", "INV-B", "CN-B", "INV-F", "INV-OLD", "INV-T"],
    })  # fmt: skip
    frame = pd.concat([frame, frame.iloc[100:140], extra], ignore_index=True)
    frame.loc[frame.index[5], "GrossProfit"] = np.nan
    return frame, customers


def _sheet(frame: pd.DataFrame, customers: list[str]) -> pd.DataFrame:
    return order_metrics(frame, customers, today=TODAY).table


def _from(location: str, customers: list[str], table: str | None = None):
    totals = load_order_totals(order_source(location, table), TODAY)
    return metrics_from_totals(totals, customers, today=TODAY)


def _write_parquet(frame: pd.DataFrame, path: Path, renames: dict[str, str] | None = None) -> None:
    con = duckdb.connect()
    con.register("lines", frame.rename(columns=renames or {}))
    con.execute(f"COPY lines TO '{path}' (FORMAT parquet)")
    con.close()


@pytest.fixture(scope="module")
def orders() -> tuple[pd.DataFrame, list[str]]:
    return hostile_orders()


def test_parquet_csv_and_folder_give_every_column_exactly(orders, tmp_path) -> None:
    frame, customers = orders
    expected = _sheet(frame, customers)
    assert list(expected.columns) == list(ORDER_COLUMNS)
    _write_parquet(frame, tmp_path / "o.parquet")
    folder = tmp_path / "parts"
    folder.mkdir()
    _write_parquet(frame.iloc[:2000], folder / "2024.parquet")
    _write_parquet(frame.iloc[2000:], folder / "2025.parquet")
    frame.to_csv(tmp_path / "o.csv", index=False)
    for location in (tmp_path / "o.parquet", folder, tmp_path / "o.csv"):
        got = _from(str(location), customers)
        pd.testing.assert_frame_equal(got.table, expected, check_exact=True)
    # The cases the naive rules get wrong are in the data, with known answers.
    assert expected.loc["K050", "Orders"] == 2  # identical lines are two orders ...
    assert expected.loc["K050", "OrderDays"] == 1  # ... on one day
    assert expected.loc["K051", "Revenue12m"] == -650.0  # credit note beyond its order
    assert expected.loc["K055", "Orders"] == 0  # on Customers, no line
    assert np.isnan(expected.loc["K055", "TypicalIntervalDays"])


def test_sqlite_table_and_query_give_every_column_exactly(orders, tmp_path) -> None:
    frame, customers = orders
    expected = _sheet(frame, customers)
    url = f"sqlite:///{tmp_path / 'erp.db'}"
    engine = sa.create_engine(url)
    frame.to_sql("invoice_lines", engine, index=False)
    engine.dispose()
    got = _from(url, customers, "invoice_lines")
    pd.testing.assert_frame_equal(got.table, expected, check_exact=True)
    query = ("SELECT CustomerID AS Kundennummer, Date AS Belegdatum, Amount AS Betrag,"
             " GrossProfit FROM invoice_lines WHERE Amount IS NOT NULL")
    got = _from(url, customers, query)
    pd.testing.assert_frame_equal(got.table, expected, check_exact=True)


def test_postgresql_gives_every_column_exactly(orders) -> None:
    url = _postgres()
    frame, customers = orders
    expected = _sheet(frame, customers)
    table = f"orders_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(url)
    try:
        pg = frame.assign(Date=frame["Date"].dt.date)
        pg.to_sql(table, engine, index=False,
                  dtype={"Amount": sa.Numeric(14, 4), "GrossProfit": sa.Numeric(14, 2)})
        got = _from(url, customers, table)
        pd.testing.assert_frame_equal(got.table, expected, check_exact=True)
        # postgresql:// without a driver is read with psycopg, the driver xlcrm ships.
        plain = url.replace("postgresql+psycopg://", "postgresql://")
        pd.testing.assert_frame_equal(_from(plain, customers, table).table, expected,
                                      check_exact=True)
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP TABLE IF EXISTS "{table}"'))
        engine.dispose()


def test_chinese_headers_and_bad_lines_are_named_by_row_and_column(tmp_path) -> None:
    frame = pd.DataFrame({
        "客户编号": ["A", "A", None, "B", "A"],
        "日期": ["2026-01-05", "not a day", "2026-02-01", "2027-01-01", "2026-03-01"],
        "金额": [100.0, 50.0, 10.0, 20.0, None],
    })  # fmt: skip
    path = tmp_path / "erp.parquet"
    _write_parquet(frame, path)
    m = _from(str(path), ["A", "B"])
    assert m.table.loc["A", "Revenue12m"] == 100.0 and m.table.loc["B", "Orders"] == 0
    text = [str(p) for p in m.problems]
    assert any("row 2 of erp.parquet, column 日期: 'not a day' is not a date" in t for t in text)
    assert any("row 3 of erp.parquet, column 客户编号: CustomerID is blank" in t for t in text)
    assert any("row 4 of erp.parquet, column 日期: date 2027-01-01 is after 2026-10-31" in t
               for t in text)
    assert any("row 5 of erp.parquet, column 金额: Amount is blank" in t for t in text)
    assert all(p.sheet == "erp.parquet" for p in m.problems)


def test_missing_column_and_missing_file_are_one_line(tmp_path) -> None:
    path = tmp_path / "x.parquet"
    _write_parquet(pd.DataFrame({"CustomerID": ["A"], "Date": ["2026-01-01"]}), path)
    with pytest.raises(InputError, match=r"x.parquet has no column for Amount \(its columns"):
        load_order_totals(order_source(str(path)), TODAY)
    with pytest.raises(InputError, match="does not exist"):
        order_source(str(tmp_path / "nowhere.parquet"))


def test_a_password_in_the_workbook_is_refused_and_env_names_a_url(monkeypatch) -> None:
    with pytest.raises(InputError, match="holds a database password"):
        order_source("postgresql://crm:secret@erp/erp", "orders", in_workbook=True)
    monkeypatch.setenv("ERP_URL", "sqlite:///erp.db")
    assert order_source("env:ERP_URL", "orders", in_workbook=True).location == "sqlite:///erp.db"
    monkeypatch.delenv("ERP_URL")
    with pytest.raises(InputError, match="ERP_URL, which is not set"):
        order_source("env:ERP_URL", "orders")


# ----------------------------------------------------------------------------- the command


@pytest.fixture(scope="module")
def book(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    path = tmp_path_factory.mktemp("sources") / "demo.xlsm"
    create_demo_workbook(path, customers=150, seed=5, today=TODAY)
    return path, read_workbook(path).ledger.transactions


def _results(path: Path) -> dict[str, pd.DataFrame]:
    wb = open_workbook(path)
    return {s: wb.read_sheet(s).frame for s in (schema.SCORES, schema.SEGMENTS, "Activity")}


def _resegment_both(book, tmp_path, *args: str) -> None:
    path, _lines = book
    sheet_copy, source_copy = tmp_path / "sheet.xlsm", tmp_path / "source.xlsm"
    shutil.copy(path, sheet_copy)
    shutil.copy(path, source_copy)
    assert main(["resegment", str(sheet_copy), "--quiet", "--as-of", str(TODAY)]) == 0
    assert main(["resegment", str(source_copy), "--quiet", "--as-of", str(TODAY), *args]) == 0
    want, got = _results(sheet_copy), _results(source_copy)
    for sheet in want:
        pd.testing.assert_frame_equal(got[sheet], want[sheet], check_exact=True)


def test_resegment_with_parquet_orders_equals_the_sheet(book, tmp_path) -> None:
    _path, lines = book
    _write_parquet(lines.reset_index(drop=True), tmp_path / "orders.parquet")
    _resegment_both(book, tmp_path, "--orders", str(tmp_path / "orders.parquet"))
    # The figures came from the file, not from the sheet the workbook still holds.
    _data, results = analyse_file(book[0], as_of=TODAY,
                                  orders=(str(tmp_path / "orders.parquet"), None))
    assert any(p.severity == "note" and "the orders come from orders.parquet" in p.message
               for p in results.problems)


def test_resegment_with_postgresql_orders_equals_the_sheet(book, tmp_path) -> None:
    url = _postgres()
    _path, lines = book
    table = f"demo_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(url)
    try:
        lines.reset_index(drop=True).to_sql(table, engine, index=False)
        _resegment_both(book, tmp_path, "--orders", url, "--orders-table", table)
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP TABLE IF EXISTS "{table}"'))
        engine.dispose()


def test_unreachable_database_and_missing_file_exit_2_and_write_nothing(
    book, tmp_path, capsys
) -> None:
    path, _lines = book
    copy = tmp_path / "b.xlsm"
    shutil.copy(path, copy)
    before = copy.read_bytes()
    down = "postgresql+psycopg://crm@127.0.0.1:9/erp"  # port 9 (discard): nothing listens
    for args in (["--orders", str(tmp_path / "gone.parquet")],
                 ["--orders", down, "--orders-table", "orders"]):
        assert main(["resegment", str(copy), "--quiet", *args]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "cannot be reached" in err
    assert copy.read_bytes() == before


def test_the_workbook_names_the_source_for_the_ribbon(book, tmp_path) -> None:
    """The ribbon runs :func:`analyse` without ``orders``: the Indicators options decide."""
    path, lines = book
    _write_parquet(lines.reset_index(drop=True), tmp_path / "erp.parquet")
    grid = [[None] * 10 for _ in range(3)]
    grid[0][8:10] = ["Option", "Value"]
    grid[1][8:10] = ["Orders source", str(tmp_path / "erp.parquet")]
    grid[2][8:10] = ["Orders table", ""]
    options, problems = options_from_grid(grid)
    assert problems == [] and options.orders_source == str(tmp_path / "erp.parquet")
    data = read_workbook(path)
    sheet = analyse(data.ledger, data.settings, as_of=TODAY)
    settings = replace(data.settings, options=options)
    named = analyse(data.ledger, settings, as_of=TODAY)
    assert any("orders come from erp.parquet" in p.message for p in named.problems)
    want, got = sheet.operations.activity, named.operations.activity
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    secret = replace(options, orders_source="postgresql://crm:secret@erp/erp",
                     orders_table="orders")
    with pytest.raises(InputError, match="holds a database password"):
        analyse(data.ledger, replace(data.settings, options=secret), as_of=TODAY)
