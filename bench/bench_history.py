"""The SegmentHistory sheet at scale: reading it and picking the previous run, appending a run.

Run ``python bench/bench_history.py`` (``--customers N --runs R``; default 100,000 x 9: with
the run appended, 10 runs, the most of 100,000 customers the sheet holds: 24 would be
2.4 M rows, past Excel's 1,048,576, so retention keeps 10). A workbook with R runs on
SegmentHistory is built once; then, min and median of ``--repeat``:

- anchor: python-calamine reading the SegmentHistory sheet into Python lists (the least any
  reader of those cells does);
- read: :func:`xlcrm.book.history.read_history_sheet` (the sheet read in part,
  :mod:`xlcrm.book.history_scan`) and :func:`xlcrm.operations.history.previous_run`;
- append: the read and one more run of N customers recorded (the result sheets' writer
  copying every other part), as a resegment does when retention drops nothing;
- drop: the same when retention drops the oldest run.

Each beside "before": the same with the code before (the whole sheet read with calamine,
the part inflated and compressed again to append, the sheet rewritten from values when a run
is dropped), in the same run. The workbook's History is as xlcrm leaves it: R-1 runs written
at once, the last appended by a run.

Then (unless ``--no-resegment``) the whole ``resegment_file`` of a workbook of N customers
whose SegmentHistory holds R runs of them (the new run appended) and R+1 runs (the oldest
dropped: the steady state at 100,000 customers, where 10 runs fit), now and before, beside
the anchor of that part: pandas + calamine reading the Customers sheet.
"""

from __future__ import annotations

import argparse
import contextlib
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


class Before:
    """The code before History was read in part and appended without recompressing: the
    whole sheet read, appended by inflating and recompressing, rewritten from values."""

    def __enter__(self) -> None:
        self.saved = (book_history.scan_history, book_history.appended_history,
                      book_history.drop_and_append)
        book_history.scan_history = lambda _book, _sheet: None
        book_history.appended_history = lambda *_args: None
        book_history.drop_and_append = lambda *_args: None

    def __exit__(self, *_exc: object) -> None:
        (book_history.scan_history, book_history.appended_history,
         book_history.drop_and_append) = self.saved


def sheet_benchmarks(n: int, runs: int, repeat: int, tmp: Path) -> None:
    """Read, append and rewrite of a History of ``runs`` runs of ``n`` customers."""
    rng = np.random.default_rng(0)
    written = tmp / "written.xlsm"
    start = time.perf_counter()
    frame = pd.concat([run_rows(n, k, rng) for k in range(runs - 1)], ignore_index=True)
    write_result_sheets(build_workbook(), written,
                        {schema.HISTORY: SheetData([frame], freeze_rows=1)},
                        owned=[schema.HISTORY])
    # the last run appended as a resegment does: the part is then as xlcrm leaves it
    book = tmp / "history.xlsm"
    state = read_history_sheet(open_workbook(written))
    write_with_history(open_workbook(written), book, {}, state,
                       plan_update(state.history, run_rows(n, runs - 1, rng), runs))
    print(f"built {n * runs:,} History rows ({book.stat().st_size / 1e6:.1f} MB) in "
          f"{time.perf_counter() - start:.1f} s; load average {os.getloadavg()[0]:.1f}")

    def anchor() -> None:
        python_calamine.CalamineWorkbook.from_path(str(book)).get_sheet_by_name(
            schema.HISTORY).to_python()

    def read() -> None:
        state = read_history_sheet(open_workbook(book))
        assert previous_run(state.history, date(2030, 1, 1)) is not None

    new = run_rows(n, runs, rng)
    new["RunStamp"] = pd.Timestamp(datetime(2030, 1, 1))
    out = tmp / "out.xlsm"

    def record(kept: int) -> Callable[[], None]:
        def go() -> None:
            source = open_workbook(book)
            state = read_history_sheet(source)
            update = plan_update(state.history, new, kept)
            assert (update.keep is None) == (kept > runs)
            write_with_history(source, out, {}, state, update)
        return go

    base = timed(anchor, repeat)
    print(f"{'anchor: calamine reads the sheet':<38}  min {base[0]:6.2f} s  median "
          f"{base[1]:6.2f} s")
    for name, fn in (("read + previous run", read), ("read + append one run", record(runs + 1)),
                     ("read + drop oldest run + append", record(runs))):
        report(name, timed(fn, repeat), base)
        with Before():
            report(f"  before: {name}", timed(fn, repeat), base)


def resegment_benchmark(n: int, runs: int, repeat: int, tmp: Path) -> None:
    """``resegment_file`` of n customers over a History of ``runs`` runs of them, as xlcrm
    leaves it (the last run appended by a resegment), and of ``runs + 1`` runs, so that
    retention drops the oldest (the steady state of 100,000 customers: 10 runs fit)."""
    empty = make_ledger(1, seed=1, history=False)
    ledger = Ledger(make_customers(n, seed=1), empty.transactions, empty.interactions,
                    empty.survey)
    fresh = tmp / "fresh.xlsm"
    fresh.write_bytes(build_workbook(ledger))
    first = resegment_file(fresh, as_of=date(2025, 12, 31), stamp=datetime(2026, 1, 1, 6),
                           backups=0)
    assert first.history is not None
    rows = first.history.rows

    def month(k: int) -> pd.DataFrame:
        return rows.assign(
            RunStamp=np.full(len(rows), (pd.Timestamp(2026, 1, 1, 6) + pd.DateOffset(months=k))
                             .as_unit("us").to_datetime64()),
            AsOf=np.full(len(rows), (pd.Timestamp(2025, 12, 31) + pd.DateOffset(months=k))
                         .as_unit("us").to_datetime64()))

    books = {}
    for label, count in ((f"{runs} runs: appended", runs),
                         (f"{runs + 1} runs: oldest dropped", runs + 1)):
        written, path = tmp / f"w{count}.xlsm", tmp / f"r{count}.xlsm"
        write_result_sheets(open_workbook(fresh), written, {schema.HISTORY: SheetData(
            [pd.concat([month(k) for k in range(count - 1)], ignore_index=True)],
            freeze_rows=1)}, owned=[schema.HISTORY])
        state = read_history_sheet(open_workbook(written))
        write_with_history(open_workbook(written), path, {}, state,
                           plan_update(state.history, month(count - 1), 24))
        books[label] = path
    book = tmp / "book.xlsm"
    times: dict[str, list[float]] = {}
    for _ in range(repeat):
        shutil.copyfile(fresh, book)
        start = time.perf_counter()
        pd.read_excel(book, sheet_name=schema.CUSTOMERS, engine="calamine")
        times.setdefault("anchor", []).append(time.perf_counter() - start)
        for label, path in books.items():
            for before in (False, True):
                shutil.copyfile(path, book)
                with Before() if before else contextlib.nullcontext():
                    start = time.perf_counter()
                    resegment_file(book, as_of=date(2030, 1, 31), stamp=datetime(2030, 2, 1),
                                   backups=0)
                times.setdefault(f"{'  before: ' if before else ''}{label}", []).append(
                    time.perf_counter() - start)
    base = (min(times["anchor"]), statistics.median(times["anchor"]))
    print(f"resegment_file, {n:,} customers; load average {os.getloadavg()[0]:.1f}")
    print(f"{'anchor: calamine reads Customers':<38}  min {base[0]:6.2f} s  median "
          f"{base[1]:6.2f} s")
    for label, values in times.items():
        if label != "anchor":
            report(label, (min(values), statistics.median(values)), base)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-resegment", action="store_true",
                    help="time the sheet's read, append and rewrite only")
    ap.add_argument("--no-sheet", action="store_true", help="time resegment_file only")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="xlcrm-bench-") as folder:
        if not args.no_sheet:
            sheet_benchmarks(args.customers, args.runs, args.repeat, Path(folder))
        if not args.no_resegment:
            resegment_benchmark(args.customers, args.runs, args.repeat, Path(folder))


if __name__ == "__main__":
    main()
