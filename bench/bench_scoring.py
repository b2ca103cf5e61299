"""Time indicator scoring and aggregation (xlcrm.value.scoring.score_customers).

Run: ``python bench/bench_scoring.py [N ...]``. Prints one row per size: the time to
score the 12 default indicators and combine them (best of 3), and the problems found.
The synthetic ledger is long tailed (log-normal money and headcount), has 3 % gaps per
column, and a few bad cells (text in numeric columns, unknown labels, negatives), so the
slower paths for mixed-type columns are exercised, not just clean float columns.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pandas as pd

from xlcrm.value.hierarchy import default_hierarchy
from xlcrm.value.scoring import score_customers


def synthetic_customers(n: int, seed: int = 0) -> pd.DataFrame:
    """A Customers table of ``n`` rows with the default indicator columns."""
    rng = np.random.default_rng(seed)

    def gaps(x: np.ndarray, share: float = 0.03) -> np.ndarray:
        x = x.astype(float)
        x[rng.random(n) < share] = np.nan
        return x

    def labels(choices: list[str], p: list[float]) -> pd.Series:
        s = pd.Series(rng.choice(choices, size=n, p=p), dtype=object)
        s[rng.random(n) < 0.03] = None
        return s

    scale = rng.lognormal(3.5, 1.2, n)
    employees = pd.Series(np.round(gaps(scale)), dtype=object)
    bad = rng.choice(n, size=max(1, n // 10_000), replace=False)
    employees.iloc[bad] = "abc"
    employees.iloc[bad[: len(bad) // 2]] = "1,200"
    operating = labels(["Excellent", "Good", "Fair", "Poor", " good "], [0.2, 0.4, 0.25, 0.1, 0.05])
    operating.iloc[bad] = "Excelent"
    revenue = gaps(scale * rng.lognormal(8, 1, n))
    revenue[bad] = -1.0
    return pd.DataFrame(
        {
            "CustomerID": [f"C{k:07d}" for k in range(n)],
            "Name": "x",
            "OperatingStatus": operating,
            "Employees": employees,
            "EquipmentValue": gaps(scale * rng.lognormal(9, 1.5, n)),
            "CreditRating": labels(
                ["AAA", "AA", "A", "BBB", "BB", "B", "C"],
                [0.05, 0.1, 0.2, 0.3, 0.2, 0.1, 0.05],
            ),
            "PurchaseGrowth": gaps(rng.normal(0.04, 0.15, n)),
            "IndustryOutlook": labels(["Growing", "Stable", "Shrinking"], [0.3, 0.5, 0.2]),
            "WalletHeadroom": gaps(scale * rng.lognormal(7, 1.3, n)),
            "Satisfaction": gaps(rng.integers(1, 6, n)),
            "Revenue12m": revenue,
            "GrossProfit12m": gaps(revenue * rng.normal(0.22, 0.08, n)),
            "UnitProfit": gaps(rng.lognormal(5, 1, n) - 30),
            "DaysToPay": gaps(rng.gamma(4, 12, n).round()),
        }
    )


def main(sizes: list[int]) -> None:
    h = default_hierarchy()
    local = {i.name: 1 / len(h.by_group[i.group]) for i in h.indicators}
    groups = {g: 1 / len(h.groups) for g in h.groups}
    print(f"{'customers':>10} {'score+aggregate s':>18} {'per 100k s':>11} {'problems':>9}")
    for n in sizes:
        customers = synthetic_customers(n)
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            result = score_customers(customers, h, local, groups)
            best = min(best, time.perf_counter() - t0)
        print(f"{n:>10,} {best:>18.3f} {best / n * 1e5:>11.3f} {len(result.problems):>9}")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [10_000, 100_000, 1_048_576])
