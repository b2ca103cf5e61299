"""The package check every read starts with, as a ratio to calamine reading the same ledger.

Run ``python bench/bench_package.py [--rows N] [--repeat R]``. Prints min and median seconds
of :func:`xlcrm.book.package.check_package` on a ledger laid out as Excel saves it (shared
strings), of calamine reading its Customers sheet (the anchor), and their ratio; then the
time to refuse a 6 GB zip bomb (declared sizes honest, and lying).
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import python_calamine  # noqa: E402
from fixtures.books import ledger_frame, write_ledger_shared_strings  # noqa: E402
from hostile import bomb  # noqa: E402

from xlcrm.book.package import check_package  # noqa: E402
from xlcrm.errors import InputError  # noqa: E402


def times(fn: Callable[[], object], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def refused(data: bytes) -> None:
    try:
        check_package(data, "bomb.xlsm")
    except InputError:
        return
    raise AssertionError("the bomb was not refused")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = write_ledger_shared_strings(Path(tmp) / "ledger.xlsx", ledger_frame(args.rows))
        data = path.read_bytes()

    def anchor() -> None:
        wb = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
        wb.get_sheet_by_name("Customers").to_python()

    a = times(anchor, args.repeat)
    c = times(lambda: check_package(data, "ledger.xlsx"), args.repeat)
    print(f"{args.rows} rows, {len(data) / 1e6:.1f} MB")
    print(f"calamine read (anchor)  min {min(a):.3f} s  median {statistics.median(a):.3f} s")
    print(f"package check           min {min(c):.3f} s  median {statistics.median(c):.3f} s"
          f"  ratio {min(c) / min(a):.2f} (min) {statistics.median(c) / statistics.median(a):.2f}"
          " (median)")
    from fixtures.books import QUICKSTART

    base = QUICKSTART.read_bytes()
    for honest in (True, False):
        b = bomb(_with_customers(base), honest=honest)
        t = times(lambda b=b: refused(b), args.repeat)
        print(f"6 GB bomb ({'honest' if honest else 'lying'} sizes) refused  "
              f"min {min(t):.3f} s  median {statistics.median(t):.3f} s")


def _with_customers(data: bytes) -> bytes:
    """The quickstart workbook with its first sheet renamed Customers (the bomb's target)."""
    from hostile import parts_of, zip_of

    parts = parts_of(data)
    parts["xl/workbook.xml"] = parts["xl/workbook.xml"].replace(
        b'name="Sheet1"', b'name="Customers"')
    return zip_of(parts)


if __name__ == "__main__":
    main()
