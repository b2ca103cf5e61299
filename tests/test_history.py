"""History and migration: the SegmentHistory sheet, PreviousType/PreviousABC/Move, the
Dashboard's matrices and moved-down list, retention and backfill, on real workbook files."""

from __future__ import annotations

import re
import shutil
import zipfile
from datetime import date, datetime
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from fixtures.validate import validator_errors

from xlcrm import report, schema
from xlcrm.book.demo_file import create_demo_workbook
from xlcrm.book.read import open_workbook, read_sheet, sheet_parts
from xlcrm.book.template import build_workbook
from xlcrm.book.workbook_file import resegment_file
from xlcrm.cli import main
from xlcrm.ledger import Ledger
from xlcrm.operations.history import (
    HISTORY_CAPACITY,
    History,
    _runs,
    customers_by,
    monthly_days,
    plan_update,
    type_worth,
)

D1, D2, D3 = date(2026, 3, 31), date(2026, 4, 30), date(2026, 5, 31)
HISTORY = schema.HISTORY


# --------------------------------------------------------------------------------------------
# A ledger with two well-separated groups, so that a known edit moves known customers only


def _customers() -> pd.DataFrame:
    """20 customers best on every indicator (C01-C20, type 1 Star), 20 worst (C21-C40,
    type 8 Low priority); revenue distinct within each group."""
    rows = []
    for i in range(40):
        high = i < 20
        rows.append({
            "CustomerID": f"C{i + 1:02d}", "Name": f"Customer {i + 1}",
            "Industry": "Mining", "Region": "North", "AccountManager": "Ann",
            "Contact": None, "Phone": None, "Email": None,
            "OperatingStatus": "Excellent" if high else "Poor",
            "Employees": 5000.0 if high else 10.0,
            "EquipmentValue": 9e6 if high else 1e4,
            "CreditRating": "AAA" if high else "C",
            "PurchaseGrowth": 0.3 if high else -0.3,
            "IndustryOutlook": "Growing" if high else "Shrinking",
            "WalletHeadroom": 5e5 if high else 0.0,
            "Satisfaction": 5.0 if high else 1.0,
            "Revenue12m": 10_000.0 + 10 * i if high else 100.0 + i,
            "GrossProfit12m": 3000.0 if high else 10.0,
            "UnitProfit": 300.0 if high else 1.0,
            "DaysToPay": 10.0 if high else 90.0,
        })
    return pd.DataFrame(rows)


def _book(path: Path) -> Path:
    # only Customers is filled (None: the template's empty tables)
    path.write_bytes(build_workbook(Ledger(_customers(), None, None, None)))
    return path


def _edit(path: Path, sheet: str, edits: dict[tuple[str, str], object]) -> None:
    """Change cells by (CustomerID or option label, column header), as a user does in a
    spreadsheet program (openpyxl saves the whole workbook again)."""
    wb = openpyxl.load_workbook(path, keep_vba=True)
    ws = wb[sheet]
    header = [c.value for c in ws[1]]
    for (key, column), value in edits.items():
        for row in ws.iter_rows(min_row=1):
            if row[0].value == key:
                row[header.index(column)].value = value
                break
            if sheet == schema.INDICATORS and len(row) > 9 and row[8].value == key:
                row[9].value = value
                break
        else:
            raise KeyError(key)
    wb.save(path)


def _segments(path: Path) -> pd.DataFrame:
    return read_sheet(path, schema.SEGMENTS, text_columns=["CustomerID"]).frame.set_index(
        "CustomerID")


def _history(path: Path) -> pd.DataFrame:
    return read_sheet(path, HISTORY, text_columns=["CustomerID"]).frame


# Qualification is the first group: its four indicators at the top group's values
_QUALIFICATION_HIGH = {"OperatingStatus": "Excellent", "Employees": 5000.0,
                       "EquipmentValue": 9e6, "CreditRating": "AAA"}
# Contribution without revenue at the bottom group's values (revenue, hence class, kept)
_CONTRIBUTION_LOW = {"GrossProfit12m": 10.0, "UnitProfit": 1.0, "DaysToPay": 90.0}


def test_migration_counts_on_a_workbook_resegmented_twice_with_known_changes(tmp_path):
    book = _book(tmp_path / "known.xlsm")
    first = resegment_file(book, as_of=D1, stamp=datetime(2026, 4, 1, 8), backups=0)
    assert first.migration.previous is None
    assert set(first.segments_table["Move"]) == {"new"}
    seg1 = _segments(book)
    assert (seg1.loc["C01":"C20", "Type"] == 1).all() and (seg1.loc["C21":, "Type"] == 8).all()

    # C05 loses its contribution (HHL, "Promising but dormant"); C30 gains qualification
    # (HLL, "Solid but quiet"); C40's ID is blanked (gone); nothing else changes.
    _edit(book, schema.CUSTOMERS, {
        **{("C05", k): v for k, v in _CONTRIBUTION_LOW.items()},
        **{("C30", k): v for k, v in _QUALIFICATION_HIGH.items()},
        ("C40", "CustomerID"): "C41",
    })
    second = resegment_file(book, as_of=D2, stamp=datetime(2026, 5, 1, 8), backups=0)
    seg2 = _segments(book)
    assert seg2.loc["C05", ["PreviousType", "Type", "Move"]].tolist() == [1, 2, "down"]
    assert seg2.loc["C30", ["PreviousType", "Type", "Move"]].tolist() == [8, 4, "up"]
    assert seg2.loc["C41", "Move"] == "new" and pd.isna(seg2.loc["C41", "PreviousType"])
    assert seg2.loc["C05", "PreviousABC"] == seg2.loc["C05", "ABC"]  # revenue kept its class
    mig = second.migration
    assert mig.counts == {"up": 1, "down": 1, "same": 37, "new": 1}
    assert mig.gone == 1
    t = mig.by_type
    assert t.loc["Star", "Star"] == 19 and t.loc["Star", "Promising but dormant"] == 1
    assert t.loc["Low priority", "Low priority"] == 18
    assert t.loc["Low priority", "Solid but quiet"] == 1
    assert t.loc["Low priority", "Gone"] == 1 and t.loc["New", "Low priority"] == 1
    assert int(t.to_numpy().sum()) == 41  # 39 in both runs, one new, one gone
    # the class matrix is the cross-count of the two Segments sheets (plus New and Gone)
    both = seg1.index.intersection(seg2.index)
    expected = pd.crosstab(seg1.loc[both, "ABC"], seg2.loc[both, "ABC"])
    for a in expected.index:
        for b in expected.columns:
            assert mig.by_class.loc[a, b] == expected.loc[a, b]
    # the Dashboard shows the same counts
    grid = open_workbook(book).read_grid(schema.DASHBOARD)
    r0, c0 = report.DASH_MOVES_TYPES
    header = grid[r0][c0:]
    star = next(row for row in grid[r0 + 1: r0 + 12] if row[c0] == "Star")
    assert star[c0 + header.index("Promising but dormant")] == 1
    assert "1 moved up, 1 down, 37 same, 1 new, 1 gone" in grid[report.DASH_MOVES_TITLE[0]][0]
    down = grid[report.DASH_DOWN_HEADER[0] + 1]
    assert down[:5] == ["C05", pytest.approx(down[1]), "Customer 5", "Star",
                        "Promising but dormant"]


def test_up_follows_the_analysts_group_weights_not_the_type_number():
    """HLL (type 4) is High on Qualification only; LHH (type 5) on Potential and
    Contribution. By number 4 is 'better'; by the default weights LHH is worth more."""
    weights = [0.2, 0.3, 0.5]
    worth = type_worth(np.array([1, 4, 5, 8, np.nan]), weights)
    assert worth[:4].tolist() == pytest.approx([1.0, 0.2, 0.8, 0.0])
    assert np.isnan(worth[4])
    # with Qualification weighed most, the order turns round
    assert type_worth(np.array([4.0, 5.0]), [0.6, 0.2, 0.2]).tolist() == pytest.approx(
        [0.6, 0.4])


def test_a_rerun_on_the_same_day_compares_with_the_earlier_day(tmp_path):
    book = _book(tmp_path / "rerun.xlsm")
    resegment_file(book, as_of=D1, backups=0)
    _edit(book, schema.CUSTOMERS, {("C05", k): v for k, v in _CONTRIBUTION_LOW.items()})
    resegment_file(book, as_of=D2, stamp=datetime(2026, 5, 1, 8), backups=0)
    again = resegment_file(book, as_of=D2, stamp=datetime(2026, 5, 1, 9), backups=0)
    # the correction run compares with D1 again, not with the first D2 run ("same")
    assert again.migration.previous.as_of == D1
    assert _segments(book).loc["C05", "Move"] == "down"


# --------------------------------------------------------------------------------------------
# The sheet: appended losslessly, retention, broken by a user


def _parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {i.filename: z.read(i) for i in z.infolist()}


def _cell_data(xml: bytes) -> bytes:
    m = re.search(rb"<sheetData>(.*)</sheetData>", xml, re.S)
    assert m is not None
    return m.group(1)


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "demo.xlsm"
    create_demo_workbook(path, customers=300, seed=7, today=date(2026, 6, 30),
                         stamp=datetime(2026, 6, 30, 18))
    return path


def test_history_rows_are_appended_losslessly(demo, tmp_path):
    book = tmp_path / "book.xlsm"
    shutil.copy(demo, book)
    before = _parts(book)
    old = _history(book)
    assert len(old) == 300 and set(old["AsOf"].dt.date) == {date(2026, 6, 30)}
    resegment_file(book, as_of=date(2026, 7, 31), backups=0)
    after = _parts(book)
    part_of = sheet_parts(book.read_bytes())
    hist = part_of[HISTORY]
    owned = {part_of[s] for s in schema.RESULT_SHEETS} | {hist}
    assert list(after) == list(before)
    for name in before:
        if name not in owned:
            assert after[name] == before[name], f"{name} changed"
    # the earlier rows keep their bytes; the new run follows them
    assert _cell_data(after[hist]).startswith(_cell_data(before[hist]))
    new = _history(book)
    pd.testing.assert_frame_equal(new.iloc[:300], old)
    assert len(new) == 600 and (new["AsOf"].iloc[300:].dt.date == date(2026, 7, 31)).all()
    assert set(new.columns) == set(schema.HISTORY_COLUMNS)


def test_retention_drops_the_oldest_runs_and_keeps_the_rest_as_they_were(tmp_path):
    book = _book(tmp_path / "keep.xlsm")
    _edit(book, schema.INDICATORS, {("History runs kept", "x"): 2})
    for k, day in enumerate((D1, D2, D3)):
        resegment_file(book, as_of=day, stamp=datetime(2026, 6, 1, 8 + k), backups=0)
        if day == D2:
            kept = _history(book).iloc[40:]
    hist = _history(book)
    assert sorted(set(hist["AsOf"].dt.date)) == [D2, D3]
    assert len(hist) == 80
    pd.testing.assert_frame_equal(hist.iloc[:40].reset_index(drop=True),
                                  kept.reset_index(drop=True))


def _history_of(runs: list[tuple[datetime, date, int]]) -> History:
    frame = pd.DataFrame({
        "_stamp": np.concatenate([np.full(n, pd.Timestamp(s)) for s, _, n in runs]),
        "_asof": np.concatenate([np.full(n, pd.Timestamp(a)) for _, a, n in runs]),
    })
    return History(frame, _runs(frame))


def test_retention_never_lets_the_sheet_overflow_and_names_the_option():
    """100,000-sized runs: 24 kept would be 2.4 M rows; the sheet holds 1,048,575."""
    runs = [(datetime(2026, m, 1), date(2026, m, 1), 200_000) for m in range(1, 6)]
    history = _history_of(runs)
    new = pd.DataFrame({"RunStamp": pd.Timestamp(2026, 7, 1), "AsOf": pd.Timestamp(2026, 7, 1),
                        "CustomerID": np.arange(200_000).astype(str)})
    update = plan_update(history, new, 24)
    assert update.keep is not None
    kept_rows = int(update.keep.sum()) + len(update.rows)
    assert kept_rows <= HISTORY_CAPACITY
    # the oldest run went, the four latest stayed
    assert not update.keep[:200_000].any() and update.keep[200_000:].all()
    (warning,) = update.problems
    assert "History runs kept" in warning.message and "5 runs" in warning.message
    assert "History runs kept on the Indicators sheet to 5 or fewer" in warning.fix


def test_a_history_sheet_broken_by_a_user_gives_one_line_problems(demo, tmp_path, capsys):
    book = tmp_path / "broken.xlsm"
    shutil.copy(demo, book)
    wb = openpyxl.load_workbook(book, keep_vba=True)
    ws = wb[HISTORY]
    ws["F5"] = "about 70"  # text in Value
    ws["D6"] = "Star"  # a name instead of a type number
    wb.save(book)
    assert main(["resegment", str(book), "--quiet", "--as-of", "2026-07-31"]) == 0
    problems = read_sheet(book, schema.PROBLEMS).frame
    mine = problems[problems["Sheet"] == HISTORY]
    assert sorted(mine["Cell"]) == ["D6", "F5"]
    assert all("\n" not in m for m in mine["Problem"])
    # the customer whose type is unreadable has no previous type; the others compare
    seg = _segments(book)
    row5 = _history(book).loc[6, "CustomerID"]
    assert pd.isna(seg.loc[row5, "PreviousType"])
    assert seg["PreviousType"].notna().sum() == 299

    # a header removed: the run goes on, records nothing, and says which header
    wb = openpyxl.load_workbook(book, keep_vba=True)
    wb[HISTORY]["C1"] = "Customer"
    wb.save(book)
    rows = len(_history(book))
    capsys.readouterr()
    assert main(["resegment", str(book), "--as-of", "2026-08-31"]) == 0
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err
    assert "SegmentHistory sheet has no column CustomerID" in out.out
    assert len(_history(book)) == rows
    assert set(_segments(book)["Move"]) == {"new"}


# --------------------------------------------------------------------------------------------
# The demo at two as-of dates, backfill, the validator


def test_the_demo_resegmented_at_two_dates_shows_the_matrix_and_who_moved_down(demo, tmp_path):
    book = tmp_path / "two.xlsm"
    shutil.copy(demo, book)
    first = resegment_file(book, as_of=date(2026, 1, 31), backups=0)
    assert first.migration.previous is None  # the demo's run is later (2026-06-30)
    second = resegment_file(book, as_of=date(2026, 6, 30), stamp=datetime(2026, 7, 1),
                            backups=0)
    assert second.migration.previous.as_of == date(2026, 1, 31)
    seg = _segments(book)
    down = seg[seg["Move"] == "down"]
    assert len(down) == second.migration.counts["down"] > 0
    grid = open_workbook(book).read_grid(schema.DASHBOARD)
    title = grid[report.DASH_MOVES_TITLE[0]][0]
    assert title.startswith("Migration since the run as of 2026-01-31")
    r0, c0 = report.DASH_MOVES_TYPES
    counts = sum(v for row in grid[r0 + 1: r0 + 12] for v in row[c0 + 1: c0 + 12]
                 if isinstance(v, float))
    assert counts == len(seg) + second.migration.gone
    listed = [row[0] for row in grid[report.DASH_DOWN_HEADER[0] + 1:
                                     report.DASH_DOWN_HEADER[0] + 26] if row[0]]
    scores = read_sheet(book, schema.SCORES, text_columns=["CustomerID"]).frame.set_index(
        "CustomerID")["Value"]
    top = scores[down.index].sort_values(ascending=False, kind="stable").index[:25]
    assert listed == list(top)
    assert report.DASH_DOWN_HEADER[0] + 25 <= 308  # within the rows reserved (270-309)
    found = validator_errors(book)
    assert found[book] == []


def test_backfill_rebuilds_past_runs_once_with_progress(demo, tmp_path):
    book = tmp_path / "back.xlsm"
    shutil.copy(demo, book)
    from xlcrm.book.history import backfill_file

    steps: list[str] = []
    done = backfill_file(book, monthly_days(date(2026, 1, 31), date(2026, 5, 31)),
                         progress=lambda s, f: steps.append(s), backups=0)
    assert done.days == [date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31),
                         date(2026, 4, 30), date(2026, 5, 31)]
    assert any(s.startswith("As of 2026-02-28 (2 of 5)") for s in steps)
    hist = _history(book)
    by_day = hist.groupby(hist["AsOf"].dt.date).size()
    assert list(by_day.index) == [*done.days, date(2026, 6, 30)]
    # customers that had not ordered yet are not in the early runs
    data = open_workbook(book)
    tx = data.read_sheet(schema.TRANSACTIONS, text_columns=["CustomerID"]).frame
    first = pd.to_datetime(tx["Date"]).groupby(tx["CustomerID"]).min()
    late = set(first.index[first > pd.Timestamp(2026, 1, 31)])
    jan = set(hist.loc[hist["AsOf"] == pd.Timestamp(2026, 1, 31), "CustomerID"])
    assert late and not (late & jan)
    assert by_day[date(2026, 1, 31)] == 300 - len(late)
    # a second backfill over the same months adds nothing
    again = backfill_file(book, monthly_days(date(2026, 3, 31), date(2026, 5, 31)), backups=0)
    assert again.days == [] and not again.written and len(_history(book)) == len(hist)


def test_monthly_days_end_on_the_months_last_day():
    assert monthly_days(date(2025, 1, 31), date(2025, 4, 30)) == [
        date(2025, 1, 31), date(2025, 2, 28), date(2025, 3, 31), date(2025, 4, 30)]


def test_customers_by_keeps_customers_without_orders():
    customers = pd.DataFrame({"CustomerID": ["A", "B", "C"]})
    tx = pd.DataFrame({"CustomerID": ["A", "B"], "Date": [datetime(2025, 1, 5),
                                                          datetime(2025, 3, 5)]})
    kept = customers_by(customers, tx, date(2025, 2, 1))
    assert kept["CustomerID"].tolist() == ["A", "C"]


def test_backfill_command_refuses_months_in_the_wrong_order(demo, tmp_path, capsys):
    book = tmp_path / "order.xlsm"
    shutil.copy(demo, book)
    assert main(["backfill", str(book), "--monthly", "2026-05-31", "2026-01-31"]) == 2
    err = capsys.readouterr().err
    assert "FROM is after TO" in err and len(err.strip().splitlines()) == 1


def test_a_matrix_of_sixteen_types_fits_its_rows_with_the_smallest_summed():
    """Four groups give 16 types; the Dashboard has room for 11 rows and columns of counts."""
    labels = [f"Type {k}" for k in range(1, 17)]
    rng = np.random.default_rng(3)
    counts = rng.integers(0, 50, (17, 17))
    matrix = pd.DataFrame(counts, index=[*labels, "New"], columns=[*labels, "Gone"])
    shown = report._capped(matrix)
    assert shown.shape == (11, 11)
    assert shown.index[-2:].tolist() == ["Other types", "New"]
    assert shown.columns[-2:].tolist() == ["Other types", "Gone"]
    assert int(shown.to_numpy().sum()) == int(counts.sum())  # nobody lost
    biggest = matrix.loc[labels].sum(axis=1).sort_values(ascending=False, kind="stable")
    assert set(shown.index[:9]) == set(biggest.index[:9])


def test_a_managers_subset_counts_only_that_managers_moves():
    """The per-manager book (xlcrm.subset) shows the migration of its own customers."""
    from xlcrm.demo import make_ledger
    from xlcrm.operations.history import read_history
    from xlcrm.pipeline import Settings, run
    from xlcrm.subset import subset_results

    ledger = make_ledger(200, seed=3, today=date(2026, 6, 30))
    first = run(ledger, as_of=D1, stamp=datetime(2026, 4, 1, 8))
    rows = first.history.rows.set_axis(range(2, 202))
    history = read_history(rows, {c: i for i, c in enumerate(rows.columns)})
    second = run(ledger, as_of=date(2026, 6, 30), stamp=datetime(2026, 7, 1, 8),
                 history=history)
    seg = second.segments_table
    keep = seg.loc[seg["AccountManager"] == seg["AccountManager"].iloc[0], "CustomerID"]
    sub = subset_results(second, ledger, Settings(), set(keep), scope="one manager")
    mig = sub.migration
    assert int(mig.by_type.to_numpy().sum()) == len(keep) == sub.customers
    assert int(mig.by_class.to_numpy().sum()) == len(keep)
    assert sum(mig.counts.values()) == len(keep)
    assert mig.counts["down"] == int((seg.loc[keep.index, "Move"] == "down").sum())
    assert mig.counts["down"] < second.migration.counts["down"]
