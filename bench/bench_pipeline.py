"""Score and segment N customers in memory, and resegment a workbook file end to end.

Run: ``python bench/bench_pipeline.py [--sizes 10000 100000 1048576] [--files 10000 100000]``.
Prints seconds per step; the in-memory figure is what DESIGN.md §6 budgets. The machine is
shared, so each in-memory run is also given as a ratio to an anchor measured in the same
run: a vectorised scoring pass (one float conversion and one ``argsort`` per indicator
column, what a percentile rank of every indicator costs at the least).
"""

from __future__ import annotations

import argparse
import gc
import platform
import resource
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from xlcrm import pipeline
from xlcrm.book import workbook_file
from xlcrm.book.template import build_workbook
from xlcrm.demo import make_customers, make_ledger
from xlcrm.ledger import Ledger


def anchor(customers: pd.DataFrame) -> float:
    """Seconds for the vectorised scoring pass (best of 3)."""
    columns = [c for c in customers.columns
               if pd.api.types.is_numeric_dtype(customers[c].dtype)][:12]
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for c in columns:
            np.argsort(customers[c].to_numpy(dtype=float), kind="stable")
        best = min(best, time.perf_counter() - start)
    return best * 12 / max(len(columns), 1)


def _rss_mb() -> float:
    """The process's resident memory now (Linux), in MB."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def in_memory(n: int) -> tuple[float, float, float]:
    """Best seconds, resident MB before the run (ledger built) and during the run (peak)."""
    customers = make_customers(n, seed=1)
    empty = make_ledger(1, seed=1, history=False)
    ledger = Ledger(customers, empty.transactions, empty.interactions, empty.survey)
    pipeline.run(make_ledger(200, seed=2).__class__(  # warm-up (imports, sklearn threads)
        make_customers(200, seed=2), empty.transactions, empty.interactions, empty.survey))
    gc.collect()
    before = _rss_mb()
    # ru_maxrss would include building the ledger: sample the run's own peak instead.
    peak = [before]
    running = threading.Event()
    running.set()

    def sample() -> None:
        while running.is_set():
            peak[0] = max(peak[0], _rss_mb())
            time.sleep(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    elapsed = float("inf")
    for _ in range(3 if n <= 200_000 else 1):  # best of 3 where affordable
        start = time.perf_counter()
        pipeline.run(ledger)
        elapsed = min(elapsed, time.perf_counter() - start)
    running.clear()
    sampler.join()
    return elapsed, before, peak[0]


def file_run(n: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "book.xlsm"
        empty = make_ledger(1, seed=1, history=False)
        ledger = Ledger(make_customers(n, seed=1), empty.transactions, empty.interactions,
                        empty.survey)
        path.write_bytes(build_workbook(ledger))
        marks: dict[str, float] = {}
        seen: dict[str, float] = {}

        def progress(step: str, _fraction: float) -> None:
            seen.setdefault(step, time.perf_counter())

        start = time.perf_counter()
        workbook_file.resegment_file(path, backups=0, progress=progress)
        end = time.perf_counter()
        computing = min(seen.values())
        writing = seen["Writing result sheets"]
        marks["read"] = computing - start
        marks["compute"] = writing - computing
        marks["write"] = end - writing
        marks["resegment (all)"] = end - start
        return marks


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000, 1_048_576])
    parser.add_argument("--files", type=int, nargs="*", default=[10_000, 100_000])
    args = parser.parse_args()
    print(f"# {platform.processor() or platform.machine()}, {platform.python_version()},"
          f" {date.today()}")
    print("customers  score+segment s  anchor s  ratio  RSS before MB  RSS peak in run MB")
    for n in args.sizes:
        seconds, before, peak = in_memory(n)
        base = anchor(make_customers(n, seed=1))
        print(f"{n:>9}  {seconds:>15.2f}  {base:>8.3f}  {seconds / base:>5.0f}"
              f"  {before:>13.0f}  {peak:>18.0f}")
    print("\ncustomers  read s  compute s  write s  resegment s  I/O share")
    for n in args.files:
        m = file_run(n)
        io_share = (m["read"] + m["write"]) / m["resegment (all)"]
        print(f"{n:>9}  {m['read']:>6.2f}  {m['compute']:>9.2f}  {m['write']:>7.2f}"
              f"  {m['resegment (all)']:>11.2f}  {io_share:>9.0%}")


if __name__ == "__main__":
    main()
