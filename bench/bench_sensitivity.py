"""Benchmark the sensitivity of types and ABC classes to the weights (issue 14 item 3).

Run: ``python bench/bench_sensitivity.py [--sizes 100000 1048576] [--repeat 3]``

For each customer count the demo's customers (no order history) are analysed once by
:func:`xlcrm.pipeline.run` (which includes the sensitivity), then
:func:`xlcrm.value.sensitivity.weight_sensitivity` is timed alone on that run's indicator
scores: 15 weights x 4 moves, with ABC by revenue (types only: the default) and by value
score (every move also re-ranks the values). Anchors measured in the same run:

- ``run``: one ``pipeline.run`` of the same customers, sensitivity included; the ratio is
  the share of the run the sensitivity takes;
- ``matmul``: one product of the scores matrix with a weight vector (what each move costs
  at the least, before the High/Low cut is placed again).

Prints min / median seconds and ratios over ``--repeat`` repetitions.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np

from xlcrm import pipeline
from xlcrm.demo import make_customers, make_ledger
from xlcrm.ledger import Ledger
from xlcrm.value.sensitivity import SAMPLE_LIMIT, weight_sensitivity


def _timed(func, *args, **kwargs) -> float:
    start = time.perf_counter()
    func(*args, **kwargs)
    return time.perf_counter() - start


def one_size(n: int, repeat: int) -> dict[str, list[float]]:
    empty = make_ledger(1, seed=1, history=False)
    ledger = Ledger(make_customers(n, seed=1), empty.transactions, empty.interactions,
                    empty.survey)
    pipeline.run(Ledger(make_customers(200, seed=2), empty.transactions, empty.interactions,
                        empty.survey))  # warm-up: imports, thread pools
    times: dict[str, list[float]] = {k: [] for k in ("run", "matmul", "revenue", "value")}
    for _ in range(repeat):
        start = time.perf_counter()
        results = pipeline.run(ledger)
        times["run"].append(time.perf_counter() - start)
        scores = results.scores.indicator_scores
        x = scores.to_numpy(dtype=float)
        w = results.scores.global_weights.to_numpy()
        times["matmul"].append(_timed(np.matmul, x, w))
        table = results.weights.table
        local = dict(zip(table["Indicator"], table["LocalWeight"], strict=True))
        groups = dict(zip(results.segments.high.columns, results.weights.group.weights,
                          strict=True))
        of = [g for g, i in zip(table["Group"], table["Indicator"], strict=True)]
        rated = ~results.unrated
        for key, cutoffs in (("revenue", None), ("value", (0.8, 0.95))):
            times[key].append(_timed(weight_sensitivity, scores, of, local, groups,
                                     rated=rated, abc_cutoffs=cutoffs))
    return times


def _mm(values: list[float], fmt: str = "{:.3f}") -> str:
    return f"{fmt.format(min(values))} / {fmt.format(statistics.median(values))}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_048_576])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"{platform.machine()}, {os.cpu_count()} cpus, Python {platform.python_version()}, "
          f"load average {os.getloadavg()[0]:.1f}; moves tried on at most {SAMPLE_LIMIT:,}")
    print("customers | run s | matmul s | sensitivity s (ABC by revenue) | ratio to run | "
          "ratio to matmul | sensitivity s (ABC by value) | ratio to run")
    for n in args.sizes:
        t = one_size(n, args.repeat)
        to_run = [a / b for a, b in zip(t["revenue"], t["run"], strict=True)]
        to_mm = [a / b for a, b in zip(t["revenue"], t["matmul"], strict=True)]
        value_run = [a / b for a, b in zip(t["value"], t["run"], strict=True)]
        print(f"{n:,} | {_mm(t['run'], '{:.2f}')} | {_mm(t['matmul'], '{:.4f}')} | "
              f"{_mm(t['revenue'])} | {_mm(to_run, '{:.2f}')} | {_mm(to_mm, '{:.0f}')} | "
              f"{_mm(t['value'])} | {_mm(value_run, '{:.2f}')}")


if __name__ == "__main__":
    main()
