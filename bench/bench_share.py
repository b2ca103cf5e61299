"""Benchmark ``xlcrm share``: a shareable copy of a resegmented demo workbook.

Run: ``python bench/bench_share.py [--customers 20000] [--repeat 5]``

The workbook is the demo (:func:`xlcrm.book.workbook_file.create_demo_workbook`: ledger with
orders, contacts and survey answers, resegmented, so every result sheet is full); building
it is not timed. The anchor, measured in the same run and interleaved with the copies (the
machine is shared): inflating and parsing (expat) every part of the workbook once. The
copy, with its check, should stay within 1.5x of it (issue 12): it inflates the sheets to
find formulas, but the parts it copies byte for byte are not parsed again. Each repeat
times the anchor, the copy, and the copy with ``--mask-contacts``; the table gives min and
median seconds and the ratios to the anchor of the same repeat.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
import zipfile
from pathlib import Path
from xml.parsers import expat

from xlcrm.book.share import make_shareable
from xlcrm.book.workbook_file import create_demo_workbook


def inflate_and_parse(path: Path) -> int:
    """The anchor: every part inflated and every XML part parsed once; bytes read."""
    total = 0
    with zipfile.ZipFile(path) as z:
        for info in z.infolist():
            data = z.read(info)
            total += len(data)
            if info.filename.endswith((".xml", ".rels", ".vml")):
                expat.ParserCreate().Parse(data, True)
    return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--customers", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--book", type=Path, help="an existing workbook instead of a new demo")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        book = args.book or Path(tmp) / "demo.xlsm"
        if args.book is None:
            start = time.perf_counter()
            create_demo_workbook(book, customers=args.customers)
            print(f"setup {time.perf_counter() - start:.1f} s")
        size = inflate_and_parse(book)
        print(f"{book.stat().st_size / 1e6:.1f} MB, {size / 1e6:.0f} MB inflated; "
              f"Python {platform.python_version()}, {platform.machine()}")
        times: dict[str, list[float]] = {"anchor": [], "copy": [], "masked": []}
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            inflate_and_parse(book)
            times["anchor"].append(time.perf_counter() - t0)
            for key, mask in (("copy", False), ("masked", True)):
                t0 = time.perf_counter()
                make_shareable(book, Path(tmp) / f"copy-{mask}.xlsx", mask_contacts=mask)
                times[key].append(time.perf_counter() - t0)
        print("| what | min s | median s | ratio to anchor: min | median |")
        print("|---|---:|---:|---:|---:|")
        for key, label in (("anchor", "inflate + parse every part once (anchor)"),
                           ("copy", "`xlcrm share`"), ("masked", "`xlcrm share --mask-contacts`")):
            ratios = [t / a for t, a in zip(times[key], times["anchor"], strict=True)]
            print(f"| {label} | {min(times[key]):.2f} | {statistics.median(times[key]):.2f} | "
                  f"{min(ratios):.2f} | {statistics.median(ratios):.2f} |")


if __name__ == "__main__":
    main()
