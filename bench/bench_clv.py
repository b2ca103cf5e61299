"""Benchmark lifetime value (xlcrm.operations.clv) against the order figures it starts from.

Run: ``python bench/bench_clv.py [--sizes 25000:70000 100000:1000000] [--repeat 3]``

Each size is ``customers:order_lines``; the ledgers come from
:func:`xlcrm.demo.make_ledger` with that many orders per customer on average. Times are
wall-clock seconds, min and median of ``--repeat`` runs:

- ``orders`` (the anchor): :func:`xlcrm.operations.orders.order_metrics` on the same lines;
- ``fit``: BG/NBD and Gamma-Gamma fitted (:func:`fit_purchases`, :func:`fit_spend`);
- ``value``: :func:`lifetime_value`, the fits and every customer's P(alive), expected
  orders, expected order value and 12-month CLV;
- ``ratio``: ``value`` / ``orders`` (medians).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable

from xlcrm.demo import make_ledger
from xlcrm.operations import clv
from xlcrm.operations.orders import order_metrics


def timings(repeat: int, func: Callable[[], object]) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def run(n: int, lines: int, repeat: int) -> str:
    ledger = make_ledger(n, seed=7, dirty=False, orders_per_customer=lines / n)
    today, ids, tx = ledger.as_of, ledger.customers["CustomerID"], ledger.transactions
    t_orders = timings(repeat, lambda: order_metrics(tx, ids, today=today))
    table = order_metrics(tx, ids, today=today).table
    hist = clv.purchase_history(table, today).dropna(subset=["x"])

    def fit() -> None:
        clv.fit_purchases(hist["x"], hist["t_x"], hist["T"])
        clv.fit_spend(hist["x"], hist["mean_spend"])

    t_fit = timings(repeat, fit)
    t_value = timings(repeat, lambda: clv.lifetime_value(table, today))
    fitted = clv.lifetime_value(table, today)
    state = "fitted" if fitted.purchases.usable else fitted.problems[0].message[:40]
    return (f"{n:>9} {len(tx):>9} | {t_orders[0]:>6.3f} {t_orders[1]:>6.3f}"
            f" | {t_fit[0]:>6.3f} {t_fit[1]:>6.3f} | {t_value[0]:>6.3f} {t_value[1]:>6.3f}"
            f" | {t_value[1] / t_orders[1]:>5.2f}  {state}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["25000:70000", "100000:1000000"])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"python {platform.python_version()}, {platform.machine()}, min and median of"
          f" {args.repeat}")  # fmt: skip
    header = (f"{'customers':>9} {'lines':>9} | {'orders (anchor)':>13} | {'fit':>13}"
              f" | {'value':>13} | ratio")  # fmt: skip
    print(header)
    print("-" * len(header))
    for size in args.sizes:
        n, lines = (int(v) for v in size.split(":"))
        print(run(n, lines, args.repeat))


if __name__ == "__main__":
    main()
