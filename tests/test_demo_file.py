"""`xlcrm demo` as a file: safe to run, the same results as `resegment`, sized for Excel."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from python_calamine import CalamineWorkbook

from xlcrm import schema
from xlcrm.book.demo_file import make_demo_workbook
from xlcrm.book.read import read_sheet
from xlcrm.book.save import list_backups
from xlcrm.book.workbook_file import resegment_file
from xlcrm.cli import main
from xlcrm.demo import (
    COMPUTED_COLUMNS,
    DEFAULT_TODAY,
    EXCEL_DATA_ROWS,
    PLANTED_PROBLEMS,
    fit_history,
    make_ledger,
)
from xlcrm.errors import InputError
from xlcrm.value.hierarchy import default_hierarchy

STAMP = datetime(2026, 11, 2, 8, 30)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo") / "demo.xlsm"
    return make_demo_workbook(path, customers=300, seed=7, stamp=STAMP)


def _grid(path: Path, sheet: str) -> list[list]:
    return CalamineWorkbook.from_path(str(path)).get_sheet_by_name(sheet).to_python()


def test_result_sheets_are_what_resegment_writes(demo, tmp_path):
    """The demo analyses the tables it generated, not the file: the file route must agree
    cell by cell (the Dashboard's stamp names the file, so the copy keeps the name)."""
    copy = tmp_path / demo.path.name
    shutil.copy(demo.path, copy)
    resegment_file(copy, backups=0, stamp=STAMP, as_of=DEFAULT_TODAY)
    for sheet in schema.RESULT_SHEETS:
        assert _grid(copy, sheet) == _grid(demo.path, sheet), sheet


def test_ledger_sheets_hold_the_generated_tables(demo):
    ledger = make_ledger(300, seed=7, type_computed=False)
    for sheet, frame in ((schema.TRANSACTIONS, ledger.transactions),
                         (schema.INTERACTIONS, ledger.interactions),
                         (schema.SURVEY, ledger.survey)):
        read = read_sheet(demo.path, sheet, text_columns=("CustomerID",)).frame
        assert list(read.columns) == list(frame.columns)
        assert len(read) == len(frame) == demo.rows[sheet]
        assert read["CustomerID"].tolist() == frame["CustomerID"].tolist()
        np.testing.assert_array_equal(pd.to_datetime(read["Date"]).to_numpy(),
                                      frame["Date"].to_numpy())
    tx = read_sheet(demo.path, schema.TRANSACTIONS).frame
    np.testing.assert_array_equal(tx["Amount"].to_numpy(float), ledger.transactions["Amount"])


def test_customers_leave_the_computed_columns_blank(demo):
    customers = read_sheet(demo.path, schema.CUSTOMERS, text_columns=("CustomerID",)).frame
    assert set(COMPUTED_COLUMNS) == {"PurchaseGrowth", "Satisfaction", "Revenue12m",
                                     "GrossProfit12m", "UnitProfit"}
    for column in COMPUTED_COLUMNS:
        assert customers[column].isna().all(), column
    # ... and the run computed them from the history, saying so.
    assert set(COMPUTED_COLUMNS) <= set(demo.results.derived)
    assert customers["EquipmentValue"].notna().sum() == 299  # one planted blank


def test_the_planted_mistakes_are_the_errors_check_reports(demo, capsys):
    assert main(["check", str(demo.path), "--json"]) == 1
    errors = {(p.sheet, p.cell) for p in demo.results.problems if p.severity == "error"}
    planted = {(p.sheet, p.cell) for p in demo.planted if p.reported and p.kind != "blank"}
    assert errors == planted and len(planted) == 5
    assert sum(k != "blank" and reported for k, _, _, reported, _ in PLANTED_PROBLEMS) == 5


def test_an_import_moves_the_scores(demo, tmp_path):
    """Typed revenue used to win over the orders: an import changed nothing a user sees."""
    book = tmp_path / "book.xlsm"
    shutil.copy(demo.path, book)
    before = demo.results.scores_table.set_index("CustomerID")
    revenue = next(i.name for i in default_hierarchy().indicators if i.column == "Revenue12m")
    who = before[revenue].idxmin()
    csv = tmp_path / "orders.csv"
    csv.write_text(f"CustomerID,Date,Amount,GrossProfit\n{who},2026-10-20,5000000,1500000\n",
                   encoding="utf-8")
    assert main(["import-transactions", str(book), str(csv), "--resegment", "--quiet",
                 "--as-of", DEFAULT_TODAY.isoformat()]) == 0
    after = read_sheet(book, schema.SCORES, text_columns=("CustomerID",)).frame
    after = after.set_index("CustomerID")
    assert before.loc[who, revenue] == before[revenue].min()
    assert after.loc[who, revenue] > 95
    assert after.loc[who, "Value"] > before.loc[who, "Value"] + 5


# --------------------------------------------------------------------- where it writes


def _refused(capsys, argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("xlcrm: error:") and "Traceback" not in err
    return " ".join(err.split())


def test_refuses_to_overwrite_and_force_keeps_a_backup(tmp_path, capsys):
    out = tmp_path / "mine.xlsm"
    out.write_bytes(b"the user's own workbook")
    message = _refused(capsys, ["demo", str(out), "--customers", "30", "--quiet"])
    assert "already exists" in message and "--force" in message
    assert out.read_bytes() == b"the user's own workbook"
    assert main(["demo", str(out), "--customers", "30", "--quiet", "--force"]) == 0
    (backup,) = list_backups(out)
    assert backup.read_bytes() == b"the user's own workbook"
    assert "kept as" in capsys.readouterr().out
    assert _grid(out, schema.SEGMENTS)[1:] and len(_grid(out, schema.SEGMENTS)) == 31


@pytest.mark.parametrize("name", ["x.xlsx", "x", "x.xls", "x.xltm"])
def test_refuses_names_excel_would_not_open_as_a_macro_workbook(tmp_path, capsys, name):
    for argv in (["demo", str(tmp_path / name), "--quiet"],
                 ["build-template", "-o", str(tmp_path / name)]):
        message = _refused(capsys, argv)
        assert ".xlsm" in message, message
    assert list(tmp_path.iterdir()) == []


def test_an_upper_case_extension_is_fine(tmp_path):
    assert main(["build-template", "-o", str(tmp_path / "T.XLSM")]) == 0


def test_a_folder_or_a_missing_folder_is_one_line(tmp_path, capsys):
    message = _refused(capsys, ["demo", str(tmp_path), "--quiet"])
    assert "is a folder" in message
    missing = tmp_path / "no" / "such" / "demo.xlsm"
    message = _refused(capsys, ["demo", str(missing), "--quiet"])
    assert "does not exist" in message and str(missing.parent) in message
    assert not (tmp_path / "no").exists()


# ----------------------------------------------------------------------- size


def test_history_is_scaled_to_fit_the_sheet():
    fit = fit_history(1000, max_rows=6000)
    assert fit.scaled and fit.orders_per_customer < 10
    assert "Interactions" in fit.note and "1,000 customers" in fit.note
    ledger = make_ledger(1000, orders_per_customer=fit.orders_per_customer)
    assert len(ledger.transactions) <= 6000 and len(ledger.interactions) <= 6000
    # Filled to the brim but not over: the expected row counts are the generator's own.
    assert len(ledger.interactions) > 0.95 * 6000
    unscaled = fit_history(1000)
    assert not unscaled.scaled and unscaled.note == ""
    exact = make_ledger(1000)
    assert abs(len(exact.interactions) - unscaled.expected_rows[schema.INTERACTIONS]) < 300
    assert len(exact.transactions) == pytest.approx(10_000, rel=0.03)


def test_the_default_rate_would_pass_excels_rows_at_100000_customers():
    """The case of #10: Interactions passed 1,048,576 rows at about 73,000 customers."""
    fit = fit_history(100_000)
    assert fit.expected_rows[schema.INTERACTIONS] > EXCEL_DATA_ROWS
    assert fit.scaled and fit.expected_rows[schema.INTERACTIONS] * (
        fit.orders_per_customer / fit.requested) <= EXCEL_DATA_ROWS


def test_too_many_customers_are_refused_before_any_work(tmp_path, capsys):
    out = tmp_path / "huge.xlsm"
    started = datetime.now()
    message = _refused(capsys, ["demo", str(out), "--customers", "2000000", "--quiet"])
    assert "1,048,575" in message
    assert (datetime.now() - started).total_seconds() < 10
    assert not out.exists()
    with pytest.raises(InputError, match="do not fit"):
        fit_history(EXCEL_DATA_ROWS + 1)


# ---------------------------------------------------------------------- the ending


def test_demo_ends_with_what_is_planted_and_what_to_try(tmp_path, capsys):
    out = tmp_path / "first.xlsm"
    assert main(["demo", str(out), "--quiet"]) == 0
    text = capsys.readouterr().out
    tail = text[text.index("The demo ledger contains"):]
    assert tail.startswith("The demo ledger contains 5 deliberate input errors (and 3 blank "
                           "cells) so that you can see the Problems sheet: open it.")
    steps = [line for line in tail.splitlines() if line.strip()[:2] in ("1.", "2.", "3.")]
    assert len(steps) == 3
    assert f"xlcrm check {out}" in steps[1] and f"xlcrm resegment {out}" in steps[2]
    # The cell step 2 names is one check reports.
    cell = steps[1].split("Correct ")[1].split(" ")[0]
    sheet, ref = cell.split("!")
    assert main(["check", str(out), "--json"]) == 1
    assert f'"cell": "{ref}"' in capsys.readouterr().out and sheet == schema.CUSTOMERS



def test_next_steps_name_the_command_as_it_can_be_typed_again(monkeypatch, tmp_path):
    """After `bash scripts/demo.sh` the command is .venv/bin/xlcrm, not on the PATH."""
    from xlcrm.cli import command_name, demo_next_steps

    monkeypatch.setattr("sys.argv", [".venv/bin/xlcrm", "demo", "out/demo.xlsm"])
    monkeypatch.setenv("PATH", str(tmp_path))
    assert command_name() == ".venv/bin/xlcrm"
    steps = demo_next_steps(Path("out/demo.xlsm"), make_ledger(30).planted_problems,
                            command_name())
    assert ".venv/bin/xlcrm check out/demo.xlsm" in steps[-2]
    monkeypatch.setattr("sys.argv", ["/some/where/cli.py", "demo"])
    assert command_name() == "xlcrm"
