"""Benchmark AHP per call for n = 3..15, including reading the matrix.

Run: ``python bench/bench_ahp.py [--repeat 7] [--seed 0]``

Input is what xlwings hands a worksheet function: a 2-D list of Python floats (full
matrix, lower triangle as reciprocals). Each figure is the best of ``--repeat`` runs of a
loop lasting ~0.05 s, in microseconds per call. Budget (DESIGN.md §6): well
under a millisecond for n <= 15.

Columns:

* ``parse``: :func:`xlcrm.value.ahp.parse_matrix` alone;
* ``eigen`` / ``geometric``: :func:`xlcrm.value.ahp.ahp` with that method, parse included;
* ``text``: eigen, from the upper triangle typed as text (``"3"``, ``"1/5"``), lower blank;
* ``harker``: eigen with a quarter of the upper-triangle judgments blank (completion
  by Harker's method included);
* ``repair``: :func:`xlcrm.value.ahp.worst_judgments` (top 3) on an existing result.
"""

from __future__ import annotations

import argparse
import platform
import timeit
from collections.abc import Callable

import numpy as np

from xlcrm.value.ahp import SAATY_SCALE, ahp, format_judgment, parse_matrix, worst_judgments


def judgments(n: int, rng: np.random.Generator) -> np.ndarray:
    """A random reciprocal matrix on Saaty's scale."""
    a = np.ones((n, n))
    iu, ju = np.triu_indices(n, 1)
    upper = rng.choice(SAATY_SCALE, size=iu.size)
    a[iu, ju], a[ju, iu] = upper, 1 / upper
    return a


def per_call_us(fn: Callable[[], object], repeat: int) -> float:
    """Best of ``repeat`` loops of ~0.05 s each, in microseconds per call."""
    timer = timeit.Timer(fn)
    once = timer.timeit(20) / 20
    number = max(20, int(0.05 / max(once, 1e-9)))
    return min(timer.repeat(repeat=repeat, number=number)) / number * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)

    print(f"Python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}")
    print(f"µs per call (best of {args.repeat})")
    header = ("n", "parse", "eigen", "geometric", "text", "harker", "repair")
    print("".join(f"{h:>10}" for h in header))
    for n in range(3, 16):
        a = judgments(n, rng)
        full = a.tolist()
        text: list[list[object]] = [
            [format_judgment(a[i, j]) if j > i else (1.0 if i == j else None) for j in range(n)]
            for i in range(n)
        ]
        incomplete = [row[:] for row in full]
        iu, ju = np.triu_indices(n, 1)
        # Blank a quarter of the upper triangle, but never the chain (i, i+1): the known
        # judgments stay connected, as Harker's method requires.
        off_chain = np.flatnonzero(ju - iu > 1)
        for k in rng.choice(off_chain, size=iu.size // 4, replace=False):
            i, j = int(iu[k]), int(ju[k])
            incomplete[i][j] = incomplete[j][i] = None
        result = ahp(full)

        row = (
            per_call_us(lambda full=full: parse_matrix(full), args.repeat),
            per_call_us(lambda full=full: ahp(full), args.repeat),
            per_call_us(lambda full=full: ahp(full, method="geometric"), args.repeat),
            per_call_us(lambda text=text: ahp(text), args.repeat),
            per_call_us(lambda inc=incomplete: ahp(inc), args.repeat),
            per_call_us(lambda r=result: worst_judgments(r), args.repeat),
        )
        print(f"{n:>10}" + "".join(f"{x:>10.1f}" for x in row))


if __name__ == "__main__":
    main()
