"""Score and segment N customers in memory, and resegment a workbook file end to end.

Run: ``python bench/bench_pipeline.py [--sizes 10000 100000 1048576] [--files 10000 100000]
[--repeat 3]``. Prints seconds per step; the in-memory figure is what DESIGN.md §6 budgets.
The machine is shared, so each in-memory run is also given as a ratio to an anchor
measured in the same run: a vectorised scoring pass (one float conversion and one
``argsort`` per indicator column, what a percentile rank of every indicator costs at the
least). The file runs resegment a fresh workbook, then again (the second run writes over
the first's results, as every later run does), then once more over other results (as
after an edit of the ledger), and divide by their anchor: pandas + calamine reading the
same workbook's Customers sheet in the same run (budget: second run within 2x).
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import resource
import shutil
import statistics
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from xlcrm import pipeline, schema
from xlcrm.book import workbook_file
from xlcrm.book.template import build_workbook
from xlcrm.book.write import write_result_sheets
from xlcrm.demo import make_customers, make_ledger
from xlcrm.ledger import Ledger
from xlcrm.report import result_sheets


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


def resegment_phases(path: Path) -> dict[str, float]:
    """Seconds of one ``resegment_file`` of ``path``, by phase (from the progress callback)."""
    seen: dict[str, float] = {}

    def progress(step: str, _fraction: float) -> None:
        seen.setdefault(step, time.perf_counter())

    start = time.perf_counter()
    workbook_file.resegment_file(path, backups=0, progress=progress)
    end = time.perf_counter()
    computing = min(seen.values())
    writing = seen["Writing result sheets"]
    return {"read": computing - start, "compute": writing - computing, "write": end - writing,
            "all": end - start}


def calamine_customers(path: Path) -> float:
    """The anchor: seconds for pandas + calamine to read the Customers sheet of ``path``."""
    start = time.perf_counter()
    pd.read_excel(path, sheet_name="Customers", engine="calamine")
    return time.perf_counter() - start


def file_runs(n: int, repeat: int) -> dict[str, list[float]]:
    """A fresh n-customer workbook resegmented as in :data:`RUNS`, ``repeat`` times, beside
    the anchor."""
    with tempfile.TemporaryDirectory() as folder:
        fresh = Path(folder) / "fresh.xlsm"
        empty = make_ledger(1, seed=1, history=False)
        ledger = Ledger(make_customers(n, seed=1), empty.transactions, empty.interactions,
                        empty.survey)
        fresh.write_bytes(build_workbook(ledger))
        path = Path(folder) / "book.xlsm"
        out: dict[str, list[float]] = {}
        for _ in range(repeat):
            shutil.copyfile(fresh, path)
            base = calamine_customers(path)
            out.setdefault("anchor", []).append(base)
            for run in RUNS:
                if run == "changed":
                    with_other_results(path)
                for phase, seconds in resegment_phases(path).items():
                    out.setdefault(f"{run} {phase}", []).append(seconds)
                out.setdefault(f"{run} ratio", []).append(out[f"{run} all"][-1] / base)
        return out


# first: a fresh workbook; second: again, same ledger (result parts come out byte-identical,
# so the check compares them without reading them back); changed: over results that differ
# from the new ones, as after an edit of the ledger (every new part read back).
RUNS = ("first", "second", "changed")


def with_other_results(path: Path) -> None:
    """Put other results on the result sheets of ``path`` (the same tables, rows reversed):
    the next run writes over results that differ from its own, as after an edit."""
    data, results = workbook_file.analyse_file(path)
    sheets = {name: content.iloc[::-1] if isinstance(content, pd.DataFrame) else content
              for name, content in result_sheets(results, source=path.name).items()}
    other = path.with_name("other.xlsm")
    write_result_sheets(data.book, other, sheets, owned=schema.RESULT_SHEETS)
    os.replace(other, path)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000, 1_048_576])
    parser.add_argument("--files", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=3, help="file runs per size (3)")
    args = parser.parse_args()
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, Python"
          f" {platform.python_version()}, {date.today()}, load average"
          f" {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print("customers  score+segment s  anchor s  ratio  RSS before MB  RSS peak in run MB")
    for n in args.sizes:
        seconds, before, peak = in_memory(n)
        base = anchor(make_customers(n, seed=1))
        print(f"{n:>9}  {seconds:>15.2f}  {base:>8.3f}  {seconds / base:>5.0f}"
              f"  {before:>13.0f}  {peak:>18.0f}")
    print(f"\nxlcrm resegment of a fresh workbook: first run, second, over changed results;"
          f" anchor: pandas + calamine reading its Customers sheet in the same run;"
          f" min / median of {args.repeat}")
    print("customers  run     anchor s   read s  compute s  write s  resegment s  ratio")
    for n in args.files:
        m = file_runs(n, args.repeat)
        for run in RUNS:
            cells = [_min_median(m[k]) for k in ("anchor", f"{run} read", f"{run} compute",
                                                   f"{run} write", f"{run} all")]
            ratio = _min_median(m[f"{run} ratio"], "{:.2f}")
            print(f"{n:>9}  {run:<6}  " + "  ".join(cells) + f"  {ratio}")


def _min_median(values: list[float], fmt: str = "{:.2f}") -> str:
    return f"{fmt.format(min(values))}/{fmt.format(statistics.median(values))}"


if __name__ == "__main__":
    main()
