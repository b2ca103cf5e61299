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
- rewrite: the same when retention drops the oldest run (the sheet's cells regenerated).
"""

from __future__ import annotations

import argparse
import os
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
from xlcrm.book.history import read_history_sheet, write_with_history  # noqa: E402
from xlcrm.book.read import open_workbook  # noqa: E402
from xlcrm.book.template import build_workbook  # noqa: E402
from xlcrm.book.write import SheetData, write_result_sheets  # noqa: E402
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    n, runs = args.customers, args.runs
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory(prefix="xlcrm-bench-") as tmp:
        book = Path(tmp) / "history.xlsm"
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

        def read() -> None:
            state = read_history_sheet(open_workbook(book))
            assert previous_run(state.history, date(2030, 1, 1)) is not None

        state = read_history_sheet(open_workbook(book))
        new = run_rows(n, runs, rng)
        stamp = datetime(2030, 1, 1)
        new["RunStamp"] = pd.Timestamp(stamp)
        out = Path(tmp) / "out.xlsm"

        def append() -> None:
            update = plan_update(state.history, new, runs + 1)
            assert update.keep is None
            write_with_history(open_workbook(book), out, {}, state, update)

        def rewrite() -> None:
            update = plan_update(state.history, new, runs)
            assert update.keep is not None
            write_with_history(open_workbook(book), out, {}, state, update)

        base = timed(anchor, args.repeat)
        print(f"anchor: calamine reads the sheet        min {base[0]:6.2f} s  median "
              f"{base[1]:6.2f} s")
        for name, fn in (("read + previous run", read), ("append one run", append),
                         ("rewrite (retention)", rewrite)):
            t = timed(fn, args.repeat)
            print(f"{name:<38}  min {t[0]:6.2f} s  median {t[1]:6.2f} s  "
                  f"{t[0] / base[0]:4.1f}x the anchor")


if __name__ == "__main__":
    main()
