"""Ribbon actions through xlwings' remote engine: what they write, and that it is the command's.

``xw.Book(json=payload)`` is xlwings' real Book/Sheet/Range API over a JSON picture of a
workbook, as xlwings' VBA client sends it (see ``xlwings/addin/Remote.bas``); it returns
the actions the client would apply. The licence key for it is set inside each test only
(DESIGN.md section 5).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from fixtures.remote import (
    assert_grid_equal,
    enable_remote_engine,
    payload_from,
    vba_client_actions,
    writes,
)

import udfs.ribbon as ribbon
from xlcrm import schema
from xlcrm.book.read import read_grid
from xlcrm.book.workbook_file import check_file, create_demo_workbook, resegment_file
from xlcrm.errors import SEVERITY_ORDER
from xlcrm.report import problems_rows


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("ribbon") / "demo.xlsm"
    create_demo_workbook(path, customers=120)
    return path


@pytest.fixture
def remote(monkeypatch):
    """``xw.Book(json=...)`` with the remote engine switched on for this test only."""
    return enable_remote_engine(monkeypatch)


def test_resegment_writes_only_result_sheets_with_client_actions(demo, remote):
    payload = payload_from(demo)
    book = remote(payload)
    assert ribbon.resegment(book) is not None
    actions = book.json()["actions"]
    known = vba_client_actions()
    assert {"setValues", "sheetClearContents", "alert"} <= known  # the parse found them
    names = [s["name"] for s in payload["sheets"]]
    for a in actions:
        assert a["func"] in known, a["func"]
        if a["sheet_position"] is None:
            assert a["func"] == "alert"  # app-level: the summary box
        else:
            assert names[a["sheet_position"]] in (*schema.RESULT_SHEETS, schema.HISTORY), a
    written = [names[a["sheet_position"]] for a in actions if a["func"] == "setValues"]
    # one bulk write per sheet; the run appended below SegmentHistory's last row
    assert sorted(written) == sorted((*schema.RESULT_SHEETS, schema.HISTORY))
    (append,) = [a for a in actions if a["func"] == "setValues"
                 and names[a["sheet_position"]] == schema.HISTORY]
    assert (append["start_row"], append["row_count"]) == (121, 120)
    cleared = [names[a["sheet_position"]] for a in actions if a["func"] == "sheetClearContents"]
    assert sorted(cleared) == sorted(schema.RESULT_SHEETS)
    for a in actions:
        if a["func"] == "setValues" and a is not append:
            assert (a["start_row"], a["start_column"]) == (0, 0)
            assert a["row_count"] == len(a["values"])
            assert {len(r) for r in a["values"]} == {a["column_count"]}
    assert actions[-1]["func"] == "alert"
    assert "Resegmented 120 customers" in actions[-1]["args"][0]


def test_resegment_values_equal_the_command(demo, remote, tmp_path):
    payload = payload_from(demo)
    book = remote(payload)
    ribbon.resegment(book)
    got = writes(book.json()["actions"], payload)

    copy = tmp_path / demo.name
    shutil.copyfile(demo, copy)
    resegment_file(copy, backups=0)
    for sheet in (schema.SCORES, schema.SEGMENTS):
        assert_grid_equal(got[sheet], read_grid(copy, sheet), sheet)
    # SegmentHistory: the same rows appended below the demo's run (but the run's stamp)
    history = read_grid(copy, schema.HISTORY)
    (append,) = [a for a in book.json()["actions"] if a["func"] == "setValues"
                 and payload["sheets"][a["sheet_position"]]["name"] == schema.HISTORY]
    assert append["start_row"] == len(history) - len(append["values"])
    appended = [r[1:] for r in append["values"]]
    assert_grid_equal(appended, [r[1:] for r in history[append["start_row"]:]], schema.HISTORY)
    # Problems: the same list at the same cells; only the "Checked <time>" line differs.
    expected = read_grid(copy, schema.PROBLEMS)
    assert len(expected) > 2  # the demo ledger has planted problems
    assert_grid_equal(got[schema.PROBLEMS][:-2], expected[:-2], schema.PROBLEMS)
    assert str(got[schema.PROBLEMS][-1][0]).startswith("Checked ")


def test_numeric_customer_ids_are_kept_as_text(demo, remote, tmp_path):
    payload = payload_from(demo)
    customers = next(s for s in payload["sheets"] if s["name"] == schema.CUSTOMERS)
    col = customers["values"][0].index(schema.CUSTOMER_ID)
    for i, row in enumerate(customers["values"][1:]):
        if row[col] not in ("", None):
            row[col] = float(1001 + i)  # Excel hands xlwings a number
    book = remote(payload)
    assert ribbon.resegment(book) is not None
    scores = writes(book.json()["actions"], payload)[schema.SCORES]
    ids = [r[0] for r in scores[1:]]
    assert ids[0] == "1001"
    assert all(isinstance(v, str) and re.fullmatch(r"\d+", v) for v in ids)


def test_input_error_writes_nothing_and_alerts(demo, remote):
    payload = payload_from(demo)
    for s in payload["sheets"]:
        if s["name"] == schema.CUSTOMERS:
            s["name"] = "Clients"
    book = remote(payload)
    assert ribbon.resegment(book) is None
    actions = book.json()["actions"]
    assert [a["func"] for a in actions] == ["alert"]
    prompt, title, _buttons, mode, _cb = actions[0]["args"]
    assert "no Customers sheet" in prompt and mode == "critical" and title == "CRM"


def test_check_writes_only_the_problems_sheet_with_the_commands_problems(demo, remote):
    payload = payload_from(demo)
    book = remote(payload)
    problems = ribbon.check(book)
    actions = book.json()["actions"]
    assert [str(p) for p in problems] == [str(p) for p in check_file(demo)]
    names = [s["name"] for s in payload["sheets"]]
    touched = {a["sheet_position"] for a in actions if a["func"] != "alert"}
    assert touched == {names.index(schema.PROBLEMS)}
    assert {a["func"] for a in actions} <= vba_client_actions()
    (values,) = [a["values"] for a in actions if a["func"] == "setValues"]
    expected = problems_rows(problems)
    assert len(values) == len(expected) + 2 and values[-1][0].startswith("Checked ")
    assert [row[3] for row in values[1 : len(expected)]] == [r[3] for r in expected[1:]]
    first = min(problems, key=lambda p: SEVERITY_ORDER[p.severity])  # errors listed first
    assert actions[-1]["func"] == "alert" and str(first)[:40] in actions[-1]["args"][0]


def test_help_and_share(demo, remote):
    payload = payload_from(demo)
    book = remote(payload)
    ribbon.help(book)
    ribbon.share(book)
    actions = book.json()["actions"]
    names = [s["name"] for s in payload["sheets"]]
    assert actions[0]["func"] == "activateSheet"
    assert actions[0]["args"] == [names.index(schema.HELP)]  # 0-based; the client adds 1
    assert actions[1]["func"] == "alert" and "xlcrm share" in actions[1]["args"][0]
    assert {a["func"] for a in actions} <= vba_client_actions()


def test_write_results_refuses_a_ledger_sheet(demo, remote):
    book = remote(payload_from(demo))
    with pytest.raises(ValueError, match="not a result sheet"):
        ribbon.write_results(book, {schema.SCORES: [[1]], schema.CUSTOMERS: [[1]]})
    assert book.json()["actions"] == []  # refused before the first write


def _with_table(payload: dict, demo: Path, sheet: str, table: str) -> int:
    """Give the payload's ``sheet`` its Excel Table as xlwings' client sends it; its last row."""
    from xlcrm.book.read import table_range

    t = table_range(demo, table)
    last_col = chr(ord("A") + len(t.columns) - 1)
    names = [s["name"] for s in payload["sheets"]]
    payload["sheets"][names.index(sheet)]["tables"] = [{
        "name": t.name,
        "range_address": f"$A${t.header_row}:${last_col}${t.last_row}",
        "header_row_range_address": f"$A${t.header_row}:${last_col}${t.header_row}",
        "data_body_range_address": f"$A${t.first_row}:${last_col}${t.last_row}",
        "total_row_range_address": None,
        "show_headers": True,
        "show_totals": False,
        "table_style": "TableStyleMedium2",
        "show_autofilter": True,
        "row_count": t.last_row - t.header_row + 1,
        "column_count": len(t.columns),
    }]
    return t.last_row


def test_import_orders_appends_below_the_table_and_grows_it(demo, remote, tmp_path):
    payload = payload_from(demo)
    last = _with_table(payload, demo, schema.TRANSACTIONS, "tblTransactions")
    existing = read_grid(demo, schema.TRANSACTIONS)[1]  # an order already in the sheet
    csv = tmp_path / "orders.csv"
    csv.write_text(
        "Customer No;Invoice Date;Net Amount;Item\n"
        "C0001;03.10.2026;\"1.234,50\";Bucket teeth\n"
        "C0002;04.10.2026;99,00;00123\n"
        "NEW1;05.10.2026;10,00;Bolt\n"
        "C0003;31.02.2026;5,00;Nut\n"
        f"{existing[0]};{existing[1]:%d.%m.%Y};{str(existing[2]).replace('.', ',')};"
        f"{existing[5]}\n",
        encoding="utf-8",
    )
    book = remote(payload)
    plan = ribbon.import_orders(str(csv), book, add_missing_customers=False)
    assert plan is not None and len(plan.rows) == 2
    assert plan.rejected_lines == [4, 5] and plan.duplicates == 1
    actions = book.json()["actions"]
    names = [s["name"] for s in payload["sheets"]]
    tx = names.index(schema.TRANSACTIONS)
    assert {a["sheet_position"] for a in actions if a["func"] != "alert"} == {tx}
    (write,) = [a for a in actions if a["func"] == "setValues"]
    assert (write["start_row"], write["start_column"]) == (last, 0)  # 0-based: the next row
    values = write["values"]
    assert [r[0] for r in values] == ["C0001", "C0002"]
    assert [r[2] for r in values] == [1234.5, 99.0]
    assert values[1][5] == "'00123"  # stays text in Excel, not the number 123
    (resize,) = [a for a in actions if a["func"] == "resizeTable"]
    assert resize["args"] == [0, f"$A$1:$G${last + 2}"]
    assert {a["func"] for a in actions} <= vba_client_actions()
    summary = actions[-1]["args"][0]
    assert summary.startswith(f"Imported 2 of 5 rows from orders.csv into Transactions (rows "
                              f"{last + 1}-{last + 2})")
    assert "line 4" in summary and "line 5" in summary and "Press Resegment" in summary


def test_import_orders_adds_unknown_customers_when_asked(demo, remote, tmp_path):
    payload = payload_from(demo)
    _with_table(payload, demo, schema.TRANSACTIONS, "tblTransactions")
    customers_last = _with_table(payload, demo, schema.CUSTOMERS, "tblCustomers")
    csv = tmp_path / "orders.csv"
    csv.write_text("CustomerID,Date,Amount,Customer Name\nNEW1,2026-10-05,10,New Works Ltd\n",
                   encoding="utf-8")
    book = remote(payload)
    plan = ribbon.import_orders(str(csv), book, add_missing_customers=True)
    assert plan is not None and list(plan.new_customers["CustomerID"]) == ["NEW1"]
    actions = book.json()["actions"]
    names = [s["name"] for s in payload["sheets"]]
    writes_by_sheet = {names[a["sheet_position"]]: a for a in actions if a["func"] == "setValues"}
    added = writes_by_sheet[schema.CUSTOMERS]
    assert added["start_row"] == customers_last
    assert added["values"][0][:2] == ["NEW1", "New Works Ltd"]


def test_import_orders_reports_a_file_it_cannot_use(demo, remote, tmp_path):
    book = remote(payload_from(demo))
    bad = tmp_path / "bad.csv"
    bad.write_text("Foo,Bar\n1,2\n", encoding="utf-8")
    assert ribbon.import_orders(str(bad), book) is None
    assert ribbon.import_orders(str(tmp_path / "missing.csv"), book) is None
    actions = book.json()["actions"]
    assert [a["func"] for a in actions] == ["alert", "alert"]
    assert actions[0]["args"][0].startswith("Nothing was imported.")
    assert "CustomerID" in actions[0]["args"][0]
    assert "cannot read" in actions[1]["args"][0]


def test_import_orders_refuses_a_table_with_a_totals_row(demo, remote, tmp_path):
    payload = payload_from(demo)
    _with_table(payload, demo, schema.TRANSACTIONS, "tblTransactions")
    names = [s["name"] for s in payload["sheets"]]
    payload["sheets"][names.index(schema.TRANSACTIONS)]["tables"][0]["show_totals"] = True
    csv = tmp_path / "orders.csv"
    csv.write_text("CustomerID,Date,Amount\nC0001,2026-10-05,10\n", encoding="utf-8")
    book = remote(payload)
    assert ribbon.import_orders(str(csv), book, add_missing_customers=False) is None
    actions = book.json()["actions"]
    assert [a["func"] for a in actions] == ["alert"]  # nothing written
    assert "has a totals row" in actions[0]["args"][0]


def _tiny_book(remote, customers, transactions, table_last: int):
    """A two-sheet workbook on the remote engine with tblTransactions A1:C{table_last}."""
    import xlwings as xw

    def sheet(name, rows, tables=()):
        return {"name": name, "values": rows, "pictures": [], "tables": list(tables)}

    table = {
        "name": "tblTransactions", "range_address": f"$A$1:$C${table_last}",
        "header_row_range_address": "$A$1:$C$1",
        "data_body_range_address": f"$A$2:$C${table_last}", "total_row_range_address": None,
        "show_headers": True, "show_totals": False, "table_style": "", "show_autofilter": True,
        "row_count": table_last, "column_count": 3,
    }
    width = max(len(r) for r in transactions)
    values = [list(r) + [None] * (width - len(r)) for r in transactions]
    return remote({
        "client": "VBA", "version": xw.__version__,
        "book": {"name": "tiny.xlsm", "active_sheet_index": 0, "selection": "A1"},
        "names": [],
        "sheets": [sheet("Customers", customers), sheet("Transactions", values, [table])],
    })


def test_import_orders_keeps_numeric_ids_numbers_and_a_presized_table(remote, tmp_path):
    csv = tmp_path / "o.csv"
    csv.write_text("CustomerID,Date,Amount\n1002,2026-03-01,5\n", encoding="utf-8")
    d = "2026-01-01T00:00:00.000Z"
    tx = [["CustomerID", "Date", "Amount"], [1001, d, 10.0], *[[None] * 3] * 7]
    book = _tiny_book(remote, [["CustomerID", "Name"], [1001, "A"], [1002, "B"]], tx, 9)
    assert ribbon.import_orders(str(csv), book, add_missing_customers=False) is not None
    actions = book.json()["actions"]
    (write,) = [a for a in actions if a["func"] == "setValues"]
    assert write["values"][0][0] == 1002  # a number, like the sheet's 1001
    (resize,) = [a for a in actions if a["func"] == "resizeTable"]
    assert resize["args"] == [0, "$A$1:$C$9"]  # sized ahead to row 9: stays so


def test_import_orders_refuses_values_below_the_table(remote, tmp_path):
    csv = tmp_path / "o.csv"
    csv.write_text("CustomerID,Date,Amount\nC1,2026-03-01,5\n", encoding="utf-8")
    d = "2026-01-01T00:00:00.000Z"
    tx = [["CustomerID", "Date", "Amount"], ["C1", d, 10.0], [None] * 3, ["Total", None, 10.0]]
    book = _tiny_book(remote, [["CustomerID", "Name"], ["C1", "A"]], tx, 2)
    assert ribbon.import_orders(str(csv), book, add_missing_customers=False) is None
    actions = book.json()["actions"]
    assert [a["func"] for a in actions] == ["alert"]
    assert "has values in row 4, below the table tblTransactions" in actions[0]["args"][0]
