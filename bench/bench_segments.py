"""Benchmark segmentation: High/Low x3 + types + ABC, validation, summaries, profiles.

Run: ``python bench/bench_segments.py [--sizes 10000 100000 1048576] [--repeat 3]``

Prints one row per customer count with the best of ``--repeat`` wall-clock times in
seconds (validation and profiles: one run each).

- ``high_low x3``: :func:`xlcrm.value.segments.high_low` (the exact 2-means split) on the
  three group scores; ``sklearn x1``: scikit-learn's ``KMeans(n_clusters=2, n_init=10)``
  on one of them (the anchor: the heuristic the exact split replaces; one run, it is slow)
  and ``ratio`` = sklearn x1 / (high_low x3 / 3); ``CRM_HIGHLOW``: the worksheet function
  on the same column handed over as xlwings does (a 2-D list), conversion included;
- ``seg_types``: :func:`segment_types` (the same three splits plus codes and types);
- ``ABC``: :func:`abc_classes`; ``segment`` = seg_types + ABC, the part DESIGN.md §6
  budgets together with scoring (under 1 s for 100 000 customers, under 10 s for
  1 048 576);
- ``validate``: Welch t, ANOVA and Kruskal-Wallis on three dimensions;
- ``summary``: :func:`summarise_segments`; ``pareto``: :func:`pareto_curve`;
- ``profiles``: :func:`kmeans_profiles` on 12 indicator scores, k by silhouette over
  2..8 (``k`` is the k chosen);
- ``after scoring``: all of the above that the pipeline runs after scoring.
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from udfs import CRM_HIGHLOW
from xlcrm.value.segments import (
    abc_classes,
    high_low,
    kmeans_profiles,
    pareto_curve,
    segment_types,
    summarise_segments,
    validate_segments,
)

GROUPS = ("Qualification", "Potential", "Contribution")


def synthetic(n: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame]:
    """Group scores 0..100 (correlated, bimodal-ish), a long-tailed value, 12 indicator scores.

    The indicator scores stand in for the pipeline's 12 default indicator scores (0..100,
    driven by three latent traits), on which it computes the profiles.
    """
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=n)
    scores = {}
    for i, g in enumerate(GROUPS):
        mix = rng.random(n) < 0.35 + 0.1 * i
        raw = np.where(mix, 68, 38) + 8 * latent + rng.normal(0, 9, n)
        scores[g] = np.clip(raw, 0, 100)
    group_scores = pd.DataFrame(scores)
    value = rng.lognormal(mean=10, sigma=1.2, size=n)
    traits = rng.normal(size=(n, 3))
    loadings = rng.normal(size=(3, 12))
    indicator = 50 + 7.5 * traits @ loadings + rng.normal(0, 8, (n, 12))
    indicators = pd.DataFrame(
        np.clip(indicator, 0, 100).round(1), columns=[f"Indicator{j + 1}" for j in range(12)]
    )
    return group_scores, value, indicators


def sklearn_two_means(scores: pd.Series) -> np.ndarray:
    """scikit-learn's 2-means on one dimension, as xlcrm ran it before the exact split."""
    from sklearn.cluster import KMeans

    return KMeans(n_clusters=2, n_init=10, random_state=0).fit_predict(
        scores.to_numpy().reshape(-1, 1))


def best_of(repeat: int, func: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_048_576])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    print(f"python {platform.python_version()}, {platform.machine()}, best of {args.repeat}")
    header = (
        f"{'customers':>10} {'high_low x3':>11} {'sklearn x1':>10} {'ratio':>6}"
        f" {'CRM_HIGHLOW':>11}"
        f" {'seg_types':>9} {'ABC':>7} {'segment':>8}"
        f" {'validate':>9} {'summary':>8} {'pareto':>7} {'profiles':>9} {'k':>3}"
        f" {'after scoring':>13}"
    )
    print(header)
    print("-" * len(header))
    for n in args.sizes:
        group_scores, value, indicators = synthetic(n)
        segment_types(group_scores.head(1000))  # first-call imports and set-up

        t_highlow = best_of(args.repeat, lambda gs=group_scores: [high_low(gs[g]) for g in GROUPS])
        t_sklearn = best_of(1, lambda gs=group_scores: sklearn_two_means(gs[GROUPS[0]]))
        grid = [[v] for v in group_scores[GROUPS[0]].tolist()]
        t_udf = best_of(args.repeat, lambda g=grid: CRM_HIGHLOW(g))
        t_types = best_of(args.repeat, lambda gs=group_scores: segment_types(gs))
        result = segment_types(group_scores)
        t_abc = best_of(args.repeat, lambda v=value: abc_classes(v))
        abc = abc_classes(value)
        t_validate = best_of(
            1, lambda gs=group_scores, r=result: validate_segments(gs, r.high, r.type)
        )
        t_summary = best_of(
            args.repeat, lambda r=result, a=abc, v=value: summarise_segments(r.type, a.abc, v)
        )
        t_pareto = best_of(args.repeat, lambda v=value: pareto_curve(v))
        start = time.perf_counter()
        k = kmeans_profiles(indicators).k
        t_profiles = time.perf_counter() - start
        segment = t_types + t_abc
        after = segment + t_validate + t_summary + t_pareto + t_profiles
        print(
            f"{n:>10} {t_highlow:>11.3f} {t_sklearn:>10.3f} {t_sklearn / (t_highlow / 3):>6.0f}"
            f" {t_udf:>11.3f}"
            f" {t_types:>9.3f} {t_abc:>7.3f} {segment:>8.3f}"
            f" {t_validate:>9.3f} {t_summary:>8.3f} {t_pareto:>7.3f} {t_profiles:>9.3f}"
            f" {k:>3} {after:>13.3f}"
        )


if __name__ == "__main__":
    main()
