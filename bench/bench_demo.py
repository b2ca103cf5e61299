"""Benchmark ``xlcrm demo``: the template filled with a synthetic ledger, resegmented.

Run: ``python bench/bench_demo.py [--customers 100000] [--repeat 3]``

Each repeat builds the whole demo workbook (:func:`xlcrm.book.demo_file.make_demo_workbook`:
history sized to fit Excel's rows, ledger sheets appended part-wise, analysis, result sheets,
verification, atomic save). The anchor, measured in the same run on the same tables, is
``pandas.DataFrame.to_csv`` of the four ledger tables: a plain writer of the same data
(no workbook, no analysis), so the ratio says what the workbook and the analysis cost on
top of writing the data at all. Min and median of ``--repeat``; the peak resident memory
of the process (``ru_maxrss``) covers the whole run.
"""

from __future__ import annotations

import argparse
import platform
import resource
import statistics
import tempfile
import time
from pathlib import Path

from xlcrm import schema
from xlcrm.book.demo_file import make_demo_workbook
from xlcrm.demo import fit_history, make_ledger


def _anchor(customers: int, folder: Path) -> float:
    fit = fit_history(customers)
    ledger = make_ledger(customers, orders_per_customer=fit.orders_per_customer,
                         type_computed=False)
    start = time.perf_counter()
    for name, frame in (("c", ledger.customers), ("t", ledger.transactions),
                        ("i", ledger.interactions), ("s", ledger.survey)):
        frame.to_csv(folder / f"{name}.csv", index=False)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    print(f"Python {platform.python_version()}, {platform.machine()}")
    demo_s, anchor_s, phases = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for k in range(args.repeat):
            anchor_s.append(_anchor(args.customers, folder))
            out = folder / f"demo{k}.xlsm"
            marks: list[tuple[str, float]] = []
            start = time.perf_counter()
            demo = make_demo_workbook(
                out, customers=args.customers,
                progress=lambda step, _f, m=marks: m.append((step, time.perf_counter())))
            demo_s.append(time.perf_counter() - start)
            analysed = next(t for s, t in marks if s == "Writing the workbook") - start
            phases.append(analysed)
            size = out.stat().st_size / 1e6
            out.unlink()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # KiB -> GB (Linux)
    rows = demo.rows
    print(f"ledger: {rows[schema.CUSTOMERS]:,} customers, {rows[schema.TRANSACTIONS]:,} orders, "
          f"{rows[schema.INTERACTIONS]:,} contacts, {rows[schema.SURVEY]:,} survey answers; "
          f"workbook {size:.0f} MB")
    if demo.history_note:
        print(demo.history_note)
    print("| | min s | median s |")
    print("|---|---:|---:|")
    print(f"| demo workbook | {min(demo_s):.1f} | {statistics.median(demo_s):.1f} |")
    print(f"| of which until the write starts (ledger, analysis) | {min(phases):.1f} | "
          f"{statistics.median(phases):.1f} |")
    print(f"| anchor: to_csv of the ledger tables | {min(anchor_s):.1f} | "
          f"{statistics.median(anchor_s):.1f} |")
    print(f"| ratio demo / anchor | {min(demo_s) / min(anchor_s):.1f} | "
          f"{statistics.median(demo_s) / statistics.median(anchor_s):.1f} |")
    print(f"peak RSS {peak:.2f} GB")


if __name__ == "__main__":
    main()
