"""SegmentHistory read in part (xlcrm.book.history_scan) gives what the whole read gives.

Each workbook is read both ways (``read_history_sheet`` and ``read_history_sheet(whole=True)``)
and compared on everything a run uses: the runs, the problems and their cells, the previous
run for every as-of day, and the cells of every row. Shapes the scan reads itself (xlcrm's
own, openpyxl's, LibreOffice's) are checked to be read in part, so that a scan that gave up
everywhere would fail here too.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import zipfile
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from xlcrm import schema
from xlcrm.book.history import read_history_sheet
from xlcrm.book.read import open_workbook
from xlcrm.book.template import build_workbook
from xlcrm.book.workbook_file import resegment_file
from xlcrm.book.write import SheetData, write_result_sheets
from xlcrm.operations.history import previous_run, rows_of

HISTORY = schema.HISTORY


def _run(n: int, stamp: datetime, as_of: date, rng: np.random.Generator,
         first: int = 0) -> pd.DataFrame:
    return pd.DataFrame({
        "RunStamp": np.full(n, pd.Timestamp(stamp).to_datetime64()),
        "AsOf": np.full(n, pd.Timestamp(as_of).to_datetime64()),
        "CustomerID": [f"C{i:05d}" for i in range(first, first + n)],
        "Type": pd.array(rng.integers(1, 9, n), dtype="Int64"),
        "ABC": rng.choice(np.array(["A", "B", "C"], dtype=object), n),
        "Value": np.round(rng.uniform(0, 100, n), 2),
        "CLV": np.round(rng.lognormal(9, 1, n), 2),
        "PAlive": np.round(rng.uniform(0, 1, n), 4),
    })


RUNS = [(datetime(2026, 1, 31, 18, 5, 7), date(2026, 1, 31)),
        (datetime(2026, 2, 28, 9, 0, 1), date(2026, 2, 28)),
        (datetime(2026, 3, 31, 7, 30), date(2026, 3, 31))]


def _book(path: Path, frames: list[pd.DataFrame]) -> Path:
    """A workbook whose History holds ``frames`` as xlcrm writes a new History sheet."""
    write_result_sheets(build_workbook(), path,
                        {HISTORY: SheetData([pd.concat(frames, ignore_index=True)],
                                            freeze_rows=1)}, owned=[HISTORY])
    return path


def _both(path: Path, *, in_part: bool) -> tuple:
    fast = read_history_sheet(open_workbook(path))
    whole = read_history_sheet(open_workbook(path), whole=True)
    assert (fast.history.load is not None) == in_part
    assert whole.history.load is None
    return fast, whole


def assert_same(path: Path, *, in_part: bool = True) -> None:
    """Both reads of ``path`` agree on everything a run uses."""
    fast, whole = _both(path, in_part=in_part)
    assert (fast.exists, fast.sheet, fast.header_row) == (whole.exists, whole.sheet,
                                                          whole.header_row)
    a, b = fast.history, whole.history
    pd.testing.assert_frame_equal(a.runs, b.runs)
    assert a.problems == b.problems
    assert (a.usable, a.columns, dict(a.positions), a.rows, a.in_table) == \
        (b.usable, b.columns, dict(b.positions), b.rows, b.in_table)
    pd.testing.assert_frame_equal(a.frame[["_stamp", "_asof"]], b.frame[["_stamp", "_asof"]])
    days = sorted({d.date() for d in b.runs["AsOf"]})
    for day in [date(2000, 1, 1), *days, date(2100, 1, 1)]:
        p, q = previous_run(a, day), previous_run(b, day)
        assert (p is None) == (q is None)
        if p is not None:
            assert (p.stamp, p.as_of) == (q.stamp, q.as_of)
            pd.testing.assert_frame_equal(p.table, q.table)
            assert p.problems == q.problems
    every = np.ones(b.rows, dtype=bool)
    columns = list(b.columns)
    mine, theirs = rows_of(a, every)[columns], rows_of(b, every)[columns]
    pd.testing.assert_index_equal(mine.index, theirs.index)
    for c in columns:  # cell by cell: the dtype follows the rows read
        assert [_cell(v) for v in mine[c]] == [_cell(v) for v in theirs[c]], c


def _cell(v: object) -> object:
    if v is None or v is pd.NaT or (isinstance(v, float) and v != v):
        return None
    if isinstance(v, pd.Timestamp):
        return v.to_pydatetime()
    return v.item() if isinstance(v, np.generic) else v


def test_one_run_and_several_as_xlcrm_writes_them_are_read_in_part(tmp_path):
    rng = np.random.default_rng(1)
    one = _book(tmp_path / "one.xlsm", [_run(50, *RUNS[0], rng)])
    assert_same(one)
    several = _book(tmp_path / "three.xlsm", [_run(40 + k, *r, rng) for k, r in enumerate(RUNS)])
    assert_same(several)
    fast = read_history_sheet(open_workbook(several)).history
    assert fast.runs["Rows"].tolist() == [40, 41, 42]
    previous = previous_run(fast, date(2026, 4, 30))
    assert previous.as_of == date(2026, 3, 31) and len(previous.table) == 42


def test_a_reading_thread_s_fork_copies_the_file_into_calamine_only_to_read_a_sheet(tmp_path):
    # History is scanned from its own part beside Customers: its reader's copy of the file
    # for calamine (0.13 s at 100,000 customers) is made only when a sheet is read.
    book = open_workbook(_book(tmp_path / "one.xlsm",
                               [_run(30, *RUNS[0], np.random.default_rng(2))]))
    fork = book.fork()
    assert read_history_sheet(fork).history.load is not None  # read in part
    assert fork._book is None
    assert fork.rows(HISTORY) == book.rows(HISTORY)
    assert fork._book is not None
    fork.close()
    book.close()


def test_a_resegmented_demo_is_read_in_part_with_the_same_moves(tmp_path):
    from xlcrm.book.demo_file import create_demo_workbook

    book = tmp_path / "demo.xlsm"
    create_demo_workbook(book, customers=120, seed=3, today=date(2026, 6, 30),
                         stamp=datetime(2026, 6, 30, 18))
    resegment_file(book, as_of=date(2026, 7, 31), stamp=datetime(2026, 7, 31, 9), backups=0)
    assert_same(book)


def test_backfilled_runs_sharing_a_stamp_and_blank_rows_between(tmp_path):
    rng = np.random.default_rng(2)
    stamp = datetime(2026, 4, 2, 10)
    frames = [_run(30, stamp, date(2026, m, 28), rng) for m in (1, 2, 3)]
    book = _book(tmp_path / "backfill.xlsm", frames)
    wb = openpyxl.load_workbook(book, keep_vba=True)
    ws = wb[HISTORY]
    ws.insert_rows(20, 3)  # three blank rows inside the first run
    ws.cell(row=21, column=9).number_format = "0.00"  # a formatted but empty cell
    wb.save(book)
    assert_same(book)
    runs = read_history_sheet(open_workbook(book)).history.runs
    assert runs["Rows"].tolist() == [30, 30, 30] and runs["RunStamp"].nunique() == 1


def test_a_sorted_sheet_and_edited_bad_cells_give_the_same_problems(tmp_path):
    rng = np.random.default_rng(3)
    book = _book(tmp_path / "sorted.xlsm", [_run(70, *r, rng) for r in RUNS])  # 70 stretches
    wb = openpyxl.load_workbook(book, keep_vba=True)
    ws = wb[HISTORY]
    rows = sorted(ws.iter_rows(min_row=2, values_only=True), key=lambda r: (r[2], r[1]))
    for i, row in enumerate(rows, start=2):
        for j, v in enumerate(row, start=1):
            ws.cell(row=i, column=j).value = v
    # bad cells of the last run, spread over the sheet by the sort
    for r in range(2, ws.max_row + 1):
        if ws.cell(row=r, column=2).value == datetime(2026, 3, 31):
            cid = ws.cell(row=r, column=3).value
            if cid in ("C00005", "C00017"):
                ws.cell(row=r, column=4).value = "Star"
            if cid == "C00009":
                ws.cell(row=r, column=6).value = "about 70"
            if cid == "C00011":
                ws.cell(row=r, column=4).value = 2.5
            if cid == "C00012":
                ws.cell(row=r, column=5).value = "Q"
            if cid == "C00013":
                ws.cell(row=r, column=6).value = datetime(2026, 1, 1)
    wb.save(book)
    assert_same(book)
    fast = read_history_sheet(open_workbook(book)).history
    problems = previous_run(fast, date(2026, 4, 30)).problems
    assert len(problems) == 6
    assert any(p.message.startswith("Type 2.5 in the previous run") for p in problems)
    assert any(p.message.startswith("ABC 'Q' in the previous run") for p in problems)
    assert any(p.message.startswith("Value 2026-01-01 in the previous run") for p in problems)


@pytest.mark.parametrize("edit", ["text date", "formula", "moved headers", "table",
                                  "number not a date", "blank header row"])
def test_shapes_the_scan_is_not_sure_of_are_read_whole(tmp_path, edit):
    rng = np.random.default_rng(4)
    book = _book(tmp_path / "odd.xlsm", [_run(20, *r, rng) for r in RUNS[:2]])
    wb = openpyxl.load_workbook(book, keep_vba=True)
    ws = wb[HISTORY]
    if edit == "text date":
        ws["B7"] = "2026-01-31"
    elif edit == "formula":
        ws["A9"] = "=A8"
    elif edit == "moved headers":
        ws.insert_cols(1)
    elif edit == "table":
        from openpyxl.worksheet.table import Table

        ws.add_table(Table(displayName="tblHist", ref=f"A1:H{ws.max_row}"))
    elif edit == "number not a date":
        ws["A5"].number_format = "General"
    elif edit == "blank header row":
        ws.insert_rows(1)
    wb.save(book)
    assert_same(book, in_part=False)


def test_random_edits_never_make_the_two_reads_differ(tmp_path):
    """Random sheets an analyst might leave: runs out of order, rows deleted or blanked,
    cells cleared or typed over; read in part or whole, always the same."""
    rng = np.random.default_rng(5)
    for k in range(6):
        runs = [_run(int(rng.integers(5, 25)), *RUNS[i % 3], rng, first=int(rng.integers(9)))
                for i in rng.permutation(3)]
        book = _book(tmp_path / f"r{k}.xlsm", runs)
        wb = openpyxl.load_workbook(book, keep_vba=True)
        ws = wb[HISTORY]
        for _ in range(int(rng.integers(1, 6))):
            r = int(rng.integers(2, ws.max_row + 1))
            c = int(rng.integers(3, 9))
            what = rng.integers(4)
            if what == 0:
                ws.delete_rows(r)
            elif what == 1:
                ws.cell(row=r, column=c).value = None
            elif what == 2:
                ws.cell(row=r, column=c).value = str(rng.choice(["x", "7", "A", " b "]))
            else:
                for col in range(1, 9):
                    ws.cell(row=r, column=col).value = None
        wb.save(book)
        assert_same(book)


@pytest.mark.libreoffice
@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice not installed")
def test_a_workbook_saved_by_libreoffice_is_read_in_part(tmp_path):
    """LibreOffice writes text as shared strings, rounds the stamp to 15 digits and writes
    every row's attributes; the scan reads it, through the file's own shared strings."""
    rng = np.random.default_rng(6)
    book = _book(tmp_path / "lo.xlsm", [_run(30, *r, rng) for r in RUNS])
    subprocess.run(["soffice", "--headless", "--norestore",
                    f"-env:UserInstallation=file://{tmp_path}/profile", "--convert-to", "xlsx",
                    "--outdir", str(tmp_path / "out"), str(book)],
                   check=True, capture_output=True, timeout=180)
    saved = tmp_path / "out" / "lo.xlsx"
    assert_same(saved)
    fast = read_history_sheet(open_workbook(saved)).history
    assert fast.runs["RunStamp"].dt.second.tolist() == [7, 1, 0]


# --------------------------------------------------------------------------------------------
# Appending: the earlier runs' compressed bytes kept (xlcrm.book.history_append)


def _member(path: Path, sheet: str = HISTORY) -> bytes:
    """The compressed bytes of ``sheet``'s part."""
    from xlcrm.book.read import sheet_parts

    data = path.read_bytes()
    with zipfile.ZipFile(path) as z:
        info = z.getinfo(sheet_parts(data)[sheet])
    at = info.header_offset
    start = at + 30 + int.from_bytes(data[at + 26: at + 28], "little") + \
        int.from_bytes(data[at + 28: at + 30], "little")
    return data[start: start + info.compress_size]


def test_appends_after_the_first_keep_the_earlier_runs_compressed_bytes(tmp_path):
    from fixtures.validate import validator_errors

    from xlcrm.book import history as book_history
    from xlcrm.book.demo_file import create_demo_workbook
    from xlcrm.book.read import read_sheet

    book = tmp_path / "demo.xlsm"
    create_demo_workbook(book, customers=80, seed=4, today=date(2026, 6, 30),
                         stamp=datetime(2026, 6, 30, 18))
    fast: list[bool] = []
    real = book_history.appended_history

    def spy(*args, **kwargs):
        out = real(*args, **kwargs)
        fast.append(out is not None)
        return out

    days = [date(2026, 7, 31), date(2026, 8, 31), date(2026, 9, 30)]
    members = [_member(book)]  # as the result writer wrote it
    try:
        book_history.appended_history = spy
        for k, day in enumerate(days):
            resegment_file(book, as_of=day, stamp=datetime(2026, 10, 1, k), backups=0)
            members.append(_member(book))
    finally:
        book_history.appended_history = real
    # the demo's History came from the result writer, which writes it appendable: every
    # append keeps the earlier runs' compressed bytes, the first one too
    assert fast == [True, True, True]
    for before, after in zip(members, members[1:], strict=False):
        kept = before.rfind(b"\x00\x00\xff\xff") + 4
        assert kept > len(before) // 2 and after[:kept] == before[:kept]
    hist = read_sheet(book, HISTORY, text_columns=["CustomerID"]).frame
    assert hist.groupby(hist["AsOf"].dt.date).size().to_dict() == {
        date(2026, 6, 30): 80, **{d: 80 for d in days}}
    assert hist.index.tolist() == list(range(2, 2 + 320))
    assert_same(book)
    assert validator_errors(book)[book] == []


def test_a_part_not_written_for_appending_is_appended_as_before(tmp_path):
    """The result writer's part (with <dimension>, no flush) and a part whose bytes were
    recompressed without the flush: appended_history declines, the append is still right."""
    from xlcrm.book.history_append import appended_history

    rng = np.random.default_rng(8)
    book = _book(tmp_path / "plain.xlsm", [_run(30, *RUNS[0], rng)])
    state = read_history_sheet(open_workbook(book))
    new = _run(30, *RUNS[1], rng)
    assert appended_history(book.read_bytes(), HISTORY, new, state.history.positions, 1) is None
    from xlcrm.book.history import write_with_history
    from xlcrm.operations.history import plan_update

    once = tmp_path / "once.xlsm"
    write_with_history(open_workbook(book), once, {}, state, plan_update(state.history, new, 24))
    data = once.read_bytes()
    again = _run(30, *RUNS[2], rng)
    state = read_history_sheet(open_workbook(once))
    assert appended_history(data, HISTORY, again, state.history.positions, 1) is not None
    # the same part deflated in one go (as another program would): declined
    with zipfile.ZipFile(once) as z:
        parts = {i.filename: z.read(i) for i in z.infolist()}
    plain = tmp_path / "recompressed.xlsm"
    with zipfile.ZipFile(plain, "w", zipfile.ZIP_DEFLATED) as z:
        for name, content in parts.items():
            z.writestr(name, content)
    assert appended_history(plain.read_bytes(), HISTORY, again, state.history.positions,
                          1) is None


# --------------------------------------------------------------------------------------------
# Retention: the oldest run dropped from the XML (xlcrm.book.history_append.drop_and_append)


def _retained(book: Path, new: pd.DataFrame, runs: int, out: Path, *, whole: bool) -> list:
    """``book`` with ``new`` recorded keeping ``runs`` runs (History read in part or whole),
    written to ``out``; returns what drop_and_append gave (None: rewritten from values)."""
    from xlcrm.book import history as book_history
    from xlcrm.operations.history import plan_update

    state = read_history_sheet(open_workbook(book), whole=whole)
    update = plan_update(state.history, new, runs)
    assert update.keep is not None
    gave: list = []
    real = book_history.drop_and_append

    def spy(*args, **kwargs):
        found = real(*args, **kwargs)
        gave.append(found is not None)
        return found

    book_history.drop_and_append = spy
    try:
        book_history.write_with_history(open_workbook(book), out, {}, state, update)
    finally:
        book_history.drop_and_append = real
    return gave


def _cells_of(path: Path) -> pd.DataFrame:
    from xlcrm.book.read import read_sheet

    return read_sheet(path, HISTORY, text_columns=["CustomerID"]).frame


def test_retention_drops_the_oldest_run_from_the_xml_with_the_cells_a_rewrite_gives(tmp_path):
    from fixtures.validate import validator_errors

    rng = np.random.default_rng(9)
    book = _book(tmp_path / "full.xlsm", [_run(50 + k, *r, rng) for k, r in enumerate(RUNS)])
    new = _run(55, datetime(2026, 5, 1, 8), date(2026, 4, 30), rng)
    fast, slow = tmp_path / "fast.xlsm", tmp_path / "slow.xlsm"
    assert _retained(book, new, 3, fast, whole=False) == [True]
    assert _retained(book, new, 3, slow, whole=True) == []  # read whole: from values
    mine, theirs = _cells_of(fast), _cells_of(slow)
    pd.testing.assert_frame_equal(mine, theirs)
    assert sorted({d.date() for d in mine["AsOf"]}) == [date(2026, 2, 28), date(2026, 3, 31),
                                                        date(2026, 4, 30)]
    assert mine.index.tolist() == list(range(2, 2 + 51 + 52 + 55))
    assert_same(fast)
    assert validator_errors(fast)[fast] == []
    # the part is written to be appended to: the next run keeps its bytes
    from xlcrm.book.history_append import appended_history

    state = read_history_sheet(open_workbook(fast))
    later = _run(10, datetime(2026, 6, 1, 8), date(2026, 5, 31), rng)
    assert appended_history(fast.read_bytes(), HISTORY, later, state.history.positions,
                          1) is not None


@pytest.mark.parametrize("edit", ["formula", "blank row", "merged cells"])
def test_a_sheet_the_drop_is_unsure_of_is_rewritten_from_values(tmp_path, edit):
    rng = np.random.default_rng(10)
    book = _book(tmp_path / "odd.xlsm", [_run(20, *r, rng) for r in RUNS])
    wb = openpyxl.load_workbook(book, keep_vba=True)
    ws = wb[HISTORY]
    if edit == "formula":
        ws["G30"] = "=F30*2"
    elif edit == "blank row":
        ws.insert_rows(35)
    else:
        ws.merge_cells("I3:J4")
    wb.save(book)
    new = _run(20, datetime(2026, 5, 1, 8), date(2026, 4, 30), rng)
    fast, slow = tmp_path / "fast.xlsm", tmp_path / "slow.xlsm"
    assert _retained(book, new, 3, fast, whole=False) in ([False], [])
    _retained(book, new, 3, slow, whole=True)
    pd.testing.assert_frame_equal(_cells_of(fast), _cells_of(slow))


def test_a_filter_over_part_of_the_sheet_covers_every_row_after_the_drop(tmp_path):
    """A filter from the headers that stopped short (left by an earlier writer) ends, after
    the drop, at the last row, as the rewrite from values sets it."""
    rng = np.random.default_rng(11)
    book = _book(tmp_path / "filter.xlsm", [_run(25, *r, rng) for r in RUNS])
    wb = openpyxl.load_workbook(book, keep_vba=True)
    wb[HISTORY].auto_filter.ref = "A1:H30"
    wb.save(book)
    new = _run(25, datetime(2026, 5, 1, 8), date(2026, 4, 30), rng)
    fast, slow = tmp_path / "fast.xlsm", tmp_path / "slow.xlsm"
    assert _retained(book, new, 3, fast, whole=False) == [True]
    _retained(book, new, 3, slow, whole=True)
    pd.testing.assert_frame_equal(_cells_of(fast), _cells_of(slow))
    assert [openpyxl.load_workbook(p)[HISTORY].auto_filter.ref for p in (fast, slow)] == \
        ["A1:H76", "A1:H76"]


def test_runs_give_the_same_moves_dashboard_and_history_as_the_whole_read(tmp_path,
                                                                           monkeypatch):
    """Four resegments (appends, then retention of 3 runs dropping the oldest) with History
    read in part, appended and dropped in the XML, against the same four with the sheet read
    whole and rewritten from values: Segments' moves, the Dashboard's migration rows and
    History are the same."""
    from xlcrm.book import history as book_history
    from xlcrm.book.demo_file import create_demo_workbook

    start = tmp_path / "start.xlsm"
    create_demo_workbook(start, customers=150, seed=7, today=date(2026, 6, 30),
                         stamp=datetime(2026, 6, 30, 18))
    wb = openpyxl.load_workbook(start, keep_vba=True)
    for row in wb[schema.INDICATORS].iter_rows():
        if len(row) > 9 and row[8].value == "History runs kept":
            row[9].value = 3
    wb.save(start)
    days = [date(2026, 7, 31), date(2026, 8, 31), date(2026, 9, 30), date(2026, 10, 31)]
    seen = {}
    for whole in (False, True):
        book = tmp_path / f"whole-{whole}.xlsm"
        shutil.copy(start, book)
        with monkeypatch.context() as m:
            if whole:
                m.setattr(book_history, "scan_history", lambda _book, _sheet: None)
                m.setattr(book_history, "appended_history", lambda *_args: None)
                m.setattr(book_history, "drop_and_append", lambda *_args: None)
            for k, day in enumerate(days):
                resegment_file(book, as_of=day, stamp=datetime(2026, 11, 1, k), backups=0)
        from xlcrm.book.read import read_sheet

        seen[whole] = (
            read_sheet(book, schema.SEGMENTS, text_columns=["CustomerID"]).frame[
                ["CustomerID", "PreviousType", "PreviousABC", "Move"]],
            [r[:12] for r in open_workbook(book).read_grid(schema.DASHBOARD)[269:309]],
            _cells_of(book))
    pd.testing.assert_frame_equal(seen[False][0], seen[True][0])
    assert seen[False][1] == seen[True][1]
    pd.testing.assert_frame_equal(seen[False][2], seen[True][2])
    assert sorted({d.date() for d in seen[False][2]["AsOf"]}) == days[1:]
    assert (seen[False][0]["Move"] != "new").any()


def _written_with_history(book: Path, out: Path, stamp: datetime, **how) -> None:
    """The result sheets and History of one run over ``book``, as resegment writes them."""
    from xlcrm.book.history import write_with_history
    from xlcrm.book.sheets import analyse
    from xlcrm.book.workbook_file import read_workbook
    from xlcrm.report import result_sheets

    data = read_workbook(book, overwritten=schema.RESULT_SHEETS)
    results = analyse(data.ledger, data.settings, stamp=stamp, history=data.history.history)
    write_with_history(data.book, out, result_sheets(results, source=book.name), data.history,
                       results.history, **how)


def test_history_made_while_the_sheets_are_made_is_the_file_made_in_two_steps(tmp_path):
    """History's appended part is made while the result sheets are (write_result_sheets'
    ``meanwhile``): the file is byte for byte the one made by appending first and writing
    the sheets over that; when the writer cannot put the part in, the append comes after."""
    from xlcrm.book import history as book_history
    from xlcrm.book.demo_file import create_demo_workbook
    from xlcrm.book.history_append import appended_history
    from xlcrm.book.zip_members import write_zip_replacing

    book = tmp_path / "demo.xlsm"
    create_demo_workbook(book, customers=60, seed=5, today=date(2026, 6, 30),
                         stamp=datetime(2026, 6, 30, 18))
    stamp = datetime(2026, 7, 31, 9)
    together, two_steps, later = (tmp_path / f"{n}.xlsm" for n in ("1", "2", "3"))
    _written_with_history(book, together, stamp)

    real_write = book_history.write_result_sheets

    def append_first(src, dst, sheets, *, meanwhile=None, **kwargs):
        parts = meanwhile()  # the same History part, then the sheets over the appended file
        assert len(parts) == 1
        data = open_workbook(book).data
        appended = io.BytesIO()
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            write_zip_replacing(appended, data, z, appended_history(
                data, HISTORY, *_append_args(book, stamp)))
        return replace(real_write(appended.getvalue(), dst, sheets, **kwargs),
                       substituted=tuple(parts))

    book_history.write_result_sheets = append_first
    try:
        _written_with_history(book, two_steps, stamp)
    finally:
        book_history.write_result_sheets = real_write
    assert together.read_bytes() == two_steps.read_bytes()

    def refuse(*args, meanwhile=None, **kwargs):  # as when an edit of the sheets gets in the way
        return real_write(*args, **kwargs)

    book_history.write_result_sheets = refuse
    try:
        _written_with_history(book, later, stamp)
    finally:
        book_history.write_result_sheets = real_write
    assert_same(later)
    assert _cells_of(later).equals(_cells_of(together))


def _append_args(book: Path, stamp: datetime) -> tuple:
    from xlcrm.book.sheets import analyse
    from xlcrm.book.workbook_file import read_workbook

    data = read_workbook(book, overwritten=schema.RESULT_SHEETS)
    state = data.history
    update = analyse(data.ledger, data.settings, stamp=stamp, history=state.history).history
    columns = [c for c in state.history.columns if c in update.rows.columns]
    return update.rows[columns], state.history.positions, state.header_row
