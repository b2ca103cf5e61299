"""The SegmentHistory sheet at scale: reading it and picking the previous run, appending a run.

Run ``python bench/bench_history.py`` (``--customers N --runs R``; default 100,000 x 9: with
the run appended, 10 runs, the most of 100,000 customers the sheet holds: 24 would be
2.4 M rows, past Excel's 1,048,576, so retention keeps 10). A workbook with R runs on
SegmentHistory is built once; then, min and median of ``--repeat``:

- anchor: python-calamine reading the SegmentHistory sheet into Python lists (the least any
  reader of those cells does);
- read: :func:`xlcrm.book.history.read_history_sheet` (calamine, the table, dates checked,
  the runs counted) and :func:`xlcrm.operations.history.previous_run`;
- append: one more run of N customers appended part-wise (with the result sheets' writer
  copying every other part), as a resegment does when retention drops nothing;
- rewrite: the same when retention drops the oldest run (the sheet's cells regenerated);
- read whole: the same read as before the sheet was read in part (every cell, calamine),
  beside the read in part (:mod:`xlcrm.book.history_scan`), in the same run.

Then, with ``--resegment`` (default on), the whole ``resegment_file`` of a workbook of N
customers whose SegmentHistory holds R runs of them, once with History read in part and
once read whole (the code before), beside the anchor of that part: pandas + calamine
reading the Customers sheet.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

import python_calamine  # noqa: E402

from xlcrm import schema  # noqa: E402
from xlcrm.book import history as book_history  # noqa: E402
from xlcrm.book.history import read_history_sheet, write_with_history  # noqa: E402
from xlcrm.book.read import open_workbook  # noqa: E402
from xlcrm.book.template import build_workbook  # noqa: E402
from xlcrm.book.workbook_file import resegment_file  # noqa: E402
from xlcrm.book.write import SheetData, write_result_sheets  # noqa: E402
from xlcrm.demo import make_customers, make_ledger  # noqa: E402
from xlcrm.ledger import Ledger  # noqa: E402
from xlcrm.operations.history import plan_update, previous_run  # noqa: E402


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def run_rows(n: int, k: int, rng: np.random.Generator) -> pd.DataFrame:
    return pd.DataFrame({
        "RunStamp": np.full(n, pd.Timestamp(2026, 1 + k % 12, 1, 6) + pd.DateOffset(
            years=k // 12)),
        "AsOf": np.full(n, pd.Timestamp(2025, 12, 31) + pd.DateOffset(months=k)),
        "CustomerID": [f"C{i:06d}" for i in range(n)],
        "Type": pd.array(rng.integers(1, 9, n), dtype="Int64"),
        "ABC": rng.choice(np.array(["A", "B", "C"], dtype=object), n),
        "Value": np.round(rng.uniform(0, 100, n), 2),
        "CLV": np.round(rng.lognormal(9, 1, n), 2),
        "PAlive": np.round(rng.uniform(0, 1, n), 4),
    })


def report(name: str, t: tuple[float, float], base: tuple[float, float]) -> None:
    print(f"{name:<38}  min {t[0]:6.2f} s  median {t[1]:6.2f} s  "
          f"{t[0] / base[0]:5.2f}x the anchor (median {t[1] / base[1]:5.2f}x)")


def sheet_benchmarks(n: int, runs: int, repeat: int, tmp: Path) -> None:
    """Read, append and rewrite of a History of ``runs`` runs of ``n`` customers."""
    rng = np.random.default_rng(0)
    book = tmp / "history.xlsm"
    start = time.perf_counter()
    frame = pd.concat([run_rows(n, k, rng) for k in range(runs)], ignore_index=True)
    write_result_sheets(build_workbook(), book,
                        {schema.HISTORY: SheetData([frame], freeze_rows=1)},
                        owned=[schema.HISTORY])
    print(f"built {len(frame):,} History rows ({book.stat().st_size / 1e6:.1f} MB) in "
          f"{time.perf_counter() - start:.1f} s; load average {os.getloadavg()[0]:.1f}")

    def anchor() -> None:
        python_calamine.CalamineWorkbook.from_path(str(book)).get_sheet_by_name(
            schema.HISTORY).to_python()

    def read(whole: bool) -> Callable[[], None]:
        def go() -> None:
            state = read_history_sheet(open_workbook(book), whole=whole)
            assert (state.history.load is None) == whole
            assert previous_run(state.history, date(2030, 1, 1)) is not None
        return go

    state = read_history_sheet(open_workbook(book))
    new = run_rows(n, runs, rng)
    new["RunStamp"] = pd.Timestamp(datetime(2030, 1, 1))
    out = tmp / "out.xlsm"

    def append() -> None:
        update = plan_update(state.history, new, runs + 1)
        assert update.keep is None
        write_with_history(open_workbook(book), out, {}, state, update)

    def rewrite() -> None:
        update = plan_update(state.history, new, runs)
        assert update.keep is not None
        write_with_history(open_workbook(book), out, {}, state, update)

    base = timed(anchor, repeat)
    print(f"{'anchor: calamine reads the sheet':<38}  min {base[0]:6.2f} s  median "
          f"{base[1]:6.2f} s")
    for name, fn in (("read in part + previous run", read(False)),
                     ("read whole + previous run (before)", read(True)),
                     ("append one run", append), ("rewrite (retention)", rewrite)):
        report(name, timed(fn, repeat), base)


def resegment_benchmark(n: int, runs: int, repeat: int, tmp: Path) -> None:
    """``resegment_file`` of n customers over a History of ``runs`` runs of them."""
    empty = make_ledger(1, seed=1, history=False)
    ledger = Ledger(make_customers(n, seed=1), empty.transactions, empty.interactions,
                    empty.survey)
    fresh = tmp / "fresh.xlsm"
    fresh.write_bytes(build_workbook(ledger))
    first = resegment_file(fresh, as_of=date(2025, 12, 31), stamp=datetime(2026, 1, 1, 6),
                           backups=0)
    assert first.history is not None
    rows = first.history.rows
    past = pd.concat([rows.assign(
        RunStamp=np.full(len(rows), (pd.Timestamp(2026, 1, 1, 6) + pd.DateOffset(months=k))
                         .as_unit("us").to_datetime64()),
        AsOf=np.full(len(rows), (pd.Timestamp(2025, 12, 31) + pd.DateOffset(months=k))
                     .as_unit("us").to_datetime64())) for k in range(runs)],
        ignore_index=True)
    with_runs = tmp / "runs.xlsm"
    write_result_sheets(open_workbook(fresh), with_runs,
                        {schema.HISTORY: SheetData([past], freeze_rows=1)},
                        owned=[schema.HISTORY])
    book = tmp / "book.xlsm"
    scan = book_history.scan_history
    times: dict[str, list[float]] = {}
    for _ in range(repeat):
        shutil.copyfile(with_runs, book)
        start = time.perf_counter()
        pd.read_excel(book, sheet_name=schema.CUSTOMERS, engine="calamine")
        times.setdefault("anchor", []).append(time.perf_counter() - start)
        for label, fast in (("History read in part", True), ("History read whole (before)",
                                                            False)):
            shutil.copyfile(with_runs, book)
            book_history.scan_history = scan if fast else (lambda _book, _sheet: None)
            try:
                start = time.perf_counter()
                resegment_file(book, as_of=date(2030, 1, 31), stamp=datetime(2030, 2, 1),
                               backups=0)
                times.setdefault(label, []).append(time.perf_counter() - start)
            finally:
                book_history.scan_history = scan
    base = (min(times["anchor"]), statistics.median(times["anchor"]))
    print(f"resegment_file, {n:,} customers, {runs} runs on {schema.HISTORY}; load average "
          f"{os.getloadavg()[0]:.1f}")
    print(f"{'anchor: calamine reads Customers':<38}  min {base[0]:6.2f} s  median "
          f"{base[1]:6.2f} s")
    for label in ("History read in part", "History read whole (before)"):
        report(label, (min(times[label]), statistics.median(times[label])), base)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-resegment", action="store_true",
                    help="time the sheet's read, append and rewrite only")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="xlcrm-bench-") as folder:
        sheet_benchmarks(args.customers, args.runs, args.repeat, Path(folder))
        if not args.no_resegment:
            resegment_benchmark(args.customers, args.runs, args.repeat, Path(folder))


if __name__ == "__main__":
    main()
