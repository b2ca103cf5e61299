"""Benchmark ``xlcrm share``: a shareable copy of a resegmented demo workbook.

Run: ``python bench/bench_share.py [--customers 20000] [--repeat 3]``

The workbook is the demo (:func:`xlcrm.book.workbook_file.create_demo_workbook`: ledger with
orders, contacts and survey answers, resegmented, so every result sheet is full); building
it is not timed. Each repeat writes the copy without and with ``--mask-contacts``; best of
``--repeat`` for each.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

from xlcrm.book.share import make_shareable
from xlcrm.book.workbook_file import create_demo_workbook


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--customers", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        book = Path(tmp) / "demo.xlsm"
        start = time.perf_counter()
        create_demo_workbook(book, customers=args.customers)
        print(f"setup {time.perf_counter() - start:.1f} s: {book.stat().st_size / 1e6:.1f} MB; "
              f"Python {platform.python_version()}, {platform.machine()}")
        print("| customers | workbook MB | copy s | copy with masked contacts s |")
        print("|---:|---:|---:|---:|")
        best = {False: float("inf"), True: float("inf")}
        for _ in range(args.repeat):
            for mask in best:
                t0 = time.perf_counter()
                make_shareable(book, Path(tmp) / f"copy-{mask}.xlsx", mask_contacts=mask)
                best[mask] = min(best[mask], time.perf_counter() - t0)
        print(f"| {args.customers:,} | {book.stat().st_size / 1e6:.1f} | {best[False]:.2f} | "
              f"{best[True]:.2f} |")


if __name__ == "__main__":
    main()
