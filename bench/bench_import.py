"""Benchmark ``xlcrm import-transactions``: a 70 000-row ERP export into a full workbook.

Run: ``python bench/bench_import.py [--customers 25000] [--orders 2.8] [--rows 70000]
[--repeat 3] [--parse-only]``

The workbook is the template filled by :func:`xlcrm.demo.make_ledger` (25 000 customers and
about 70 000 orders at the defaults: the scale of issue 5); building it takes ~25 s and is
not timed. The export holds ``--rows`` new orders of those customers in an ERP's formats:
an invoice number, day-first dates (``13/11/2023``), amounts with thousands separators
(``"1,234.50"``), an ignored column. Each repeat imports it into a fresh copy of the
workbook; the phases come from the progress callback, best of ``--repeat`` for each:

- ``read``: the workbook read (Transactions and Customers);
- ``parse``: the CSV decoded, typed, checked against Customers and existing orders;
- ``write``: rows appended, zip written, verified, fsynced and replaced atomically;
- ``dedup``: the same file imported again (every line already present; nothing written).

The anchor is ``pandas.read_csv`` of the same file, timed in the same run next to
:func:`xlcrm.book.csv_import.parse_export` (the parse alone, without the workbook): the
ratio of the two, min and median over the repeats, is the headline (issue 12 asks for
20x at 70 000 lines and 15x at 700 000). ``--parse-only`` times only that (no workbook),
e.g. ``--rows 700000 --parse-only``.
"""

from __future__ import annotations

import argparse
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd

from xlcrm import schema
from xlcrm.book.append import import_transactions
from xlcrm.book.csv_import import parse_export
from xlcrm.book.template import build_workbook
from xlcrm.demo import make_ledger


def export_csv(path: Path, customers: int, rows: int, orders: float) -> int:
    """Write an export of about ``rows`` orders; return the number written."""
    frames = []
    seed = 101
    while sum(map(len, frames)) < rows:
        frames.append(make_ledger(customers, seed=seed, orders_per_customer=orders,
                                  dirty=False).transactions)
        seed += 1
    tx = pd.concat(frames).head(rows)
    pd.DataFrame({
        "Invoice No": [f"INV-{k:07d}" for k in range(1, len(tx) + 1)],
        "Customer No": tx["CustomerID"].to_numpy(),
        "Invoice Date": pd.to_datetime(tx["Date"]).dt.strftime("%d/%m/%Y").to_numpy(),
        "Net Amount": [f"{v:,.2f}" for v in tx["Amount"]],
        "Gross Profit": tx["GrossProfit"].round(2).to_numpy(),
        "Qty": tx["Quantity"].to_numpy(),
        "Item": tx["Product"].to_numpy(),
        "Sales Rep": "North team",
    }).to_csv(path, index=False)
    return len(tx)


def parse_ratio(csv: Path, repeat: int) -> tuple[float, float, float, float]:
    """``parse_export`` / ``pandas.read_csv`` of ``csv``: min and median ratio, best times."""
    data = csv.read_bytes()
    columns = list(schema.TRANSACTION_COLUMNS)
    ratios, anchors, parses = [], [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        pd.read_csv(csv)
        t1 = time.perf_counter()
        parsed = parse_export(data, columns, source=csv.name)
        t2 = time.perf_counter()
        assert not parsed.rejected
        anchors.append(t1 - t0)
        parses.append(t2 - t1)
        ratios.append((t2 - t1) / (t1 - t0))
    return min(ratios), statistics.median(ratios), min(anchors), min(parses)


def print_ratio(csv: Path, rows: int, repeat: int) -> None:
    lo, mid, anchor, parse = parse_ratio(csv, repeat)
    print("| rows | pandas.read_csv s | parse_export s | ratio min | ratio median |")
    print("|---:|---:|---:|---:|---:|")
    print(f"| {rows:,} | {anchor:.3f} | {parse:.2f} | {lo:.1f}x | {mid:.1f}x |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--customers", type=int, default=25_000)
    ap.add_argument("--orders", type=float, default=2.8, help="orders per customer in the book")
    ap.add_argument("--rows", type=int, default=70_000, help="rows in the export")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--parse-only", action="store_true",
                    help="time only parse_export against pandas.read_csv (no workbook)")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        csv = folder / "export.csv"
        n = export_csv(csv, args.customers, args.rows, args.orders)
        print(f"Python {platform.python_version()}, {platform.machine()}; export "
              f"{csv.stat().st_size / 1e6:.1f} MB with {n:,} rows")
        if args.parse_only:
            print_ratio(csv, n, args.repeat)
            return
        start = time.perf_counter()
        ledger = make_ledger(args.customers, seed=7, orders_per_customer=args.orders)
        base = folder / "base.xlsm"
        base.write_bytes(build_workbook(ledger))
        print(f"setup {time.perf_counter() - start:.1f} s: workbook {base.stat().st_size / 1e6:.1f}"
              f" MB with {len(ledger.transactions):,} orders")

        best: dict[str, float] = {}
        for _ in range(args.repeat):
            book = folder / "book.xlsm"
            shutil.copy(base, book)
            marks: list[tuple[str, float]] = []
            t0 = time.perf_counter()
            result = import_transactions(
                book, csv, backups=0,
                progress=lambda step, _f, m=marks, t=t0: m.append((step, time.perf_counter() - t)))
            total = time.perf_counter() - t0
            at = {step.split()[0]: t for step, t in marks}
            phases = {
                "read": at["Checking"] - at["Reading"],
                "parse": at["Writing"] - at["Checking"],
                "write": at["Done"] - at["Writing"],
                "total": total,
            }
            t1 = time.perf_counter()
            again = import_transactions(book, csv, backups=0)
            phases["dedup"] = time.perf_counter() - t1
            assert again.imported == 0 and again.plan.duplicates == result.imported
            for k, v in phases.items():
                best[k] = min(best.get(k, v), v)
        print(f"imported {result.imported:,} rows (rows {result.to_json()['rows']}); "
              f"rejected {len(result.plan.rejected_lines)}, already present "
              f"{result.plan.duplicates}")
        print("| rows | read s | parse + check s | write + verify + save s | total s | "
              "re-import (all already present) s |")
        print("|---:|---:|---:|---:|---:|---:|")
        print(f"| {result.imported:,} | {best['read']:.2f} | {best['parse']:.2f} | "
              f"{best['write']:.2f} | {best['total']:.2f} | {best['dedup']:.2f} |")
        print_ratio(csv, n, args.repeat)


if __name__ == "__main__":
    main()
