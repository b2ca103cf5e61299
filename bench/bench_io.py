"""Workbook file I/O: reading a large ledger and writing a large result sheet.

Run ``python bench/bench_io.py`` (``--rows N`` to change the ledger size, ``--openpyxl-save``
to also time the openpyxl load-and-save that xlcrm avoids: ~30 s and a lot of memory).
Prints one line per measurement: best of ``--repeat`` runs, in seconds; the resegment I/O
(first and second run) also as a ratio to pandas + calamine reading the ledger in the same run.

Ledgers are built once per size and kept in a temporary folder:

- ``shared`` is laid out as Excel saves a workbook (text in the shared-strings table);
- ``inline`` is written by openpyxl (text inline in the sheet), an independent writer.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import openpyxl  # noqa: E402
import python_calamine  # noqa: E402
from fixtures.books import (  # noqa: E402
    QUICKSTART,
    ledger_frame,
    write_ledger_openpyxl,
    write_ledger_shared_strings,
)

from xlcrm.book.read import open_workbook  # noqa: E402
from xlcrm.book.save import safe_replace  # noqa: E402
from xlcrm.book.write import write_result_sheets  # noqa: E402


def best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def result_frame(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({
        "CustomerID": [str(1000 + i) for i in range(n)],
        "Name": [f"Customer {i} GmbH" for i in range(n)],
        "Value": rng.uniform(0, 100, n),
        "Rank": np.arange(1, n + 1),
        "Percentile": rng.uniform(0, 1, n),
        "Type": rng.integers(1, 9, n),
    })


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--openpyxl-save", action="store_true")
    args = parser.parse_args()
    n = args.rows
    cache = Path(tempfile.gettempdir()) / "xlcrm-bench"
    cache.mkdir(exist_ok=True)
    frame = None
    books = {}
    writers = (("shared", write_ledger_shared_strings), ("inline", write_ledger_openpyxl))
    for kind, writer in writers:
        path = cache / f"ledger-{kind}-{n}.xlsx"
        if not path.exists():
            frame = ledger_frame(n) if frame is None else frame
            print(f"building {path.name} ...", flush=True)
            writer(path, frame)
        books[kind] = path

    rows: list[tuple[str, float, str]] = []

    def add(label: str, seconds: float, note: str = "") -> None:
        rows.append((label, seconds, note))
        print(f"{label:<58} {seconds:8.3f} s  {note}", flush=True)

    print(f"\nledger {n} rows x 15 columns; best of {args.repeat}\n")
    for kind, path in books.items():
        size = path.stat().st_size / 1e6

        def calamine_raw(path: Path = path) -> object:
            with python_calamine.CalamineWorkbook.from_path(path) as wb:
                return wb.get_sheet_by_name("Customers").to_python()

        def xlcrm_read(path: Path = path) -> object:
            with open_workbook(path) as wb:
                return wb.read_sheet("Customers", text_columns=("CustomerID",))

        add(f"read [{kind}] calamine to_python (cells only)", best(calamine_raw, args.repeat),
            f"{size:.1f} MB file")
        add(f"read [{kind}] xlcrm read_sheet (DataFrame, IDs as text)",
            best(xlcrm_read, args.repeat))

        def openpyxl_read(path: Path = path) -> object:
            wb = openpyxl.load_workbook(path, read_only=True)
            out = [list(r) for r in wb["Customers"].iter_rows(values_only=True)]
            wb.close()
            return out

        add(f"read [{kind}] openpyxl read_only (cells only)", best(openpyxl_read, 1), "1 run")

    results = result_frame(n)
    grid = [list(results.columns), *map(list, results.itertuples(index=False, name=None))]
    work = cache / "work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    src = books["shared"]
    out = work / "out.xlsx"
    add(f"write {n} x 6 result sheet, new sheet (DataFrame)",
        best(lambda: write_result_sheets(src, out, {"Scores": results}, owned=["Scores"]),
             args.repeat), f"{out.stat().st_size / 1e6:.1f} MB file")
    add(f"write {n} x 6 result sheet, new sheet (list of rows)",
        best(lambda: write_result_sheets(src, out, {"Scores": grid}, owned=["Scores"]),
             args.repeat))
    again = work / "again.xlsx"
    add(f"write {n} x 6 over an existing {n}-row result sheet",
        best(lambda: write_result_sheets(out, again, {"Scores": results}, owned=["Scores"]),
             args.repeat))

    # A resegment's file I/O, first run (no result sheet yet) and second run (over the first
    # run's results, as every later run), against pandas + calamine reading the ledger.
    book = work / "Ledger.xlsm"

    # The second run's results differ (as after an edit of the ledger): a part written
    # again with the same bytes would be verified without being read back.
    changed = results.assign(Value=results["Value"].to_numpy()[::-1])

    def resegment_io(frame: pd.DataFrame) -> None:
        wb = open_workbook(book)
        wb.read_sheet("Customers", text_columns=("CustomerID",))
        safe_replace(
            book,
            lambda tmp: write_result_sheets(wb, tmp, {"Scores": frame}, owned=["Scores"]),
            expected_stamp=wb.stamp,
        )

    def anchor() -> object:
        return pd.read_excel(src, sheet_name="Customers", engine="calamine")

    anchors, runs = [], {"first": [], "second": []}
    for _ in range(args.repeat):
        anchors.append(best(anchor, 1))
        shutil.copy(src, book)
        for run, frame in (("first", results), ("second", changed)):
            runs[run].append(best(lambda frame=frame: resegment_io(frame), 1))
    add("anchor: pandas + calamine read of Customers [shared]", min(anchors),
        f"median {statistics.median(anchors):.3f}")
    for run, times in runs.items():
        ratios = [t / a for t, a in zip(times, anchors, strict=True)]
        add(f"read ledger + write results + safe_replace, {run} run", min(times),
            f"median {statistics.median(times):.3f}; ratio to anchor "
            f"{min(ratios):.2f}/{statistics.median(ratios):.2f} (min/median)")

    small = work / "small.xlsm"
    shutil.copy(QUICKSTART, small)
    add("write 5 x 6 result sheet into xlwings quickstart.xlsm",
        best(lambda: write_result_sheets(small, work / "s.xlsm",
                                         {"Scores": results.head(5)}, owned=["Scores"]), 20))

    if args.openpyxl_save:
        def openpyxl_roundtrip() -> None:
            wb = openpyxl.load_workbook(src)
            wb.save(work / "openpyxl.xlsx")

        add("openpyxl load + save of the ledger (what xlcrm avoids)", best(openpyxl_roundtrip, 1))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak memory of this process: {peak:.0f} MB; cpus: {os.cpu_count()}; load average"
          f" {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
