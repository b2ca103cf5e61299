"""Benchmark the CRM-operations core: orders, churn warning, contacts, survey, KPIs.

Run: ``python bench/bench_activity.py [--sizes 25000 100000] [--orders 2.8] [--repeat 3]``

The ledgers come from :func:`xlcrm.demo.make_ledger` (``orders_per_customer=2.8`` gives a
retail-like 70 000 orders for 25 000 customers, the scale of issue 5). Each row of the table
is one ledger; times are the best of ``--repeat`` wall-clock runs, in seconds:

- ``orders``: :func:`xlcrm.operations.orders.order_metrics` (windows, growth, interval, RFM);
- ``churn``: :func:`churn_risk` (with the reasons in words);
- ``contacts``: :func:`contact_plan` (last/next contact, overdue, complaints);
- ``survey``: :func:`xlcrm.operations.survey.satisfaction` (indices and Cronbach's alpha);
- ``kpis``: :func:`xlcrm.operations.kpis.kpis` over 8 types and 3 classes;
- ``buying``: :func:`xlcrm.operations.contacts.buying_center` on the demo's Contacts (2-5
  people per customer; best and median of the runs), and ``/plan``, its best time over
  ``contacts``' measured in the same run (both read one row per contact and name problems
  by cell);
- ``total``: the five together, typed columns (as the demo and a clean sheet give them);
- ``orders obj``: ``order_metrics`` on Transactions with every column of dtype ``object``
  (what the sheet reader returns when one cell of a column is text: dates as ``datetime``
  objects, amounts as Python floats), the slow path of cell parsing;
- ``whole run``: :func:`xlcrm.pipeline.run` on the ledger, everything from AHP weights to
  KPIs (the indicators reading the Customers columns).
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from xlcrm import pipeline
from xlcrm.demo import make_ledger
from xlcrm.operations.contacts import buying_center
from xlcrm.operations.kpis import kpis
from xlcrm.operations.orders import churn_risk, contact_plan, order_metrics
from xlcrm.operations.survey import satisfaction


def times_of(repeat: int, func: Callable[[], object]) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return times


def best_of(repeat: int, func: Callable[[], object]) -> float:
    return min(times_of(repeat, func))


def run(n: int, orders_per_customer: float, repeat: int) -> str:
    """Time every step on one demo ledger of ``n`` customers; one table row."""
    ledger = make_ledger(n, seed=7, dirty=False, orders_per_customer=orders_per_customer)
    today = ledger.as_of
    ids = ledger.customers["CustomerID"]
    interval = pd.Series(np.where(np.arange(n) % 2, 30.0, 90.0), index=pd.Index(ids))
    rank = np.arange(n)
    segments = pd.DataFrame(
        {"CustomerID": ids, "Type": rank % 8 + 1, "ABC": np.where(rank < n // 5, "A", "C")}
    )
    value = ledger.customers.set_index("CustomerID")["Revenue12m"]
    tx, it, sv = ledger.transactions, ledger.interactions, ledger.survey

    t_orders = best_of(repeat, lambda: order_metrics(tx, ids, today=today))
    metrics = order_metrics(tx, ids, today=today)
    t_churn = best_of(repeat, lambda: churn_risk(metrics, today=today))
    churn = churn_risk(metrics, today=today)
    t_contacts = best_of(repeat, lambda: contact_plan(it, ids, interval, today=today))
    plan = contact_plan(it, ids, interval, today=today)
    t_survey = best_of(repeat, lambda: satisfaction(sv, ids, today=today))
    result = satisfaction(sv, ids, today=today)
    t_kpis = best_of(
        repeat,
        lambda: kpis(
            ids, metrics, plan, result, segments=segments, value=value, today=today, churn=churn
        ),
    )
    people = ledger.contacts
    center = times_of(repeat, lambda: buying_center(people, ids, today=today))
    t_center, m_center = min(center), float(np.median(center))
    total = t_orders + t_churn + t_contacts + t_survey + t_kpis
    tx_obj = tx.astype(object)
    tx_obj["Date"] = list(tx["Date"].dt.to_pydatetime())
    t_obj = best_of(repeat, lambda: order_metrics(tx_obj, ids, today=today))
    t_whole = best_of(repeat, lambda: pipeline.run(ledger, as_of=today))
    return (
        f"{n:>9} {len(tx):>7} {len(it):>8} {len(sv):>7} |"
        f" {t_orders:>6.3f} {t_churn:>6.3f} {t_contacts:>8.3f} {t_survey:>6.3f}"
        f" {t_kpis:>6.3f} {total:>6.3f} {t_obj:>10.3f} {t_whole:>9.3f}"
        f" | {len(people):>7} {t_center:>6.3f} {m_center:>6.3f} {t_center / t_contacts:>5.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[25_000, 100_000])
    parser.add_argument("--orders", type=float, default=2.8, help="mean orders per customer")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    print(f"python {platform.python_version()}, {platform.machine()}, best of {args.repeat}")
    header = (
        f"{'customers':>9} {'orders':>7} {'contacts':>8} {'answers':>7} |"
        f" {'orders':>6} {'churn':>6} {'contacts':>8} {'survey':>6} {'kpis':>6} {'total':>6}"
        f" {'orders obj':>10} {'whole run':>9} |"
        f" {'people':>7} {'buying':>6} {'median':>6} {'/plan':>5}"
    )
    print(header)
    print("-" * len(header))
    for n in args.sizes:
        print(run(n, args.orders, args.repeat))


if __name__ == "__main__":
    main()
