"""Benchmark start-up: ``import udfs`` (the first worksheet function after Excel opens).

Run: ``python bench/bench_startup.py [--repeat 7]``

Each measurement is a fresh interpreter. The anchor is importing xlwings, numpy and pandas
(what any xlwings worksheet function needs) in the same run; ``udfs`` is the time to import
``udfs`` on top of them. DESIGN.md §6: ``import udfs`` within 1.5x the anchor, under 0.5 s.
Prints min and median of both, and their ratio.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys

ANCHOR = "import xlwings, numpy, pandas"
PROBE = (
    "import time; t0 = time.perf_counter(); {anchor}; t1 = time.perf_counter(); import udfs;"
    " t2 = time.perf_counter(); print(t1 - t0, t2 - t1)"
)


def measure() -> tuple[float, float]:
    out = subprocess.run([sys.executable, "-c", PROBE.format(anchor=ANCHOR)],
                         capture_output=True, text=True, check=True).stdout.split()
    return float(out[0]), float(out[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    runs = [measure() for _ in range(args.repeat)]
    anchor = [a for a, _ in runs]
    udfs = [b for _, b in runs]
    total = [a + b for a, b in runs]
    print(f"python {platform.python_version()}, {platform.machine()}, {args.repeat} runs")
    print(f"anchor ({ANCHOR}): min {min(anchor):.3f} s, median {statistics.median(anchor):.3f} s")
    print(f"import udfs on top: min {min(udfs):.3f} s, median {statistics.median(udfs):.3f} s")
    print(f"cold worksheet function (both): min {min(total):.3f} s,"
          f" median {statistics.median(total):.3f} s;"
          f" ratio to the anchor {statistics.median(total) / statistics.median(anchor):.2f}")


if __name__ == "__main__":
    main()
