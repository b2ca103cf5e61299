"""Figures per account manager, industry or region: who holds which customers, and how they do.

:func:`breakdown` groups one row per customer by a Customers column (``AccountManager``,
``Industry``, ``Region``) and returns one row per group with :data:`BREAKDOWN_COLUMNS`:

Customers
    Customers in the group.
CustomerShare
    Of all customers in the table.
Revenue12m, RevenueShare
    The group's 12-month revenue (the figure ABC classes are made from by default), and its
    share of the total 12-month revenue: a money total, so "share" means the same as in the
    Pareto rule.
MeanValue
    Average value score (0-100) of the group's customers with a score. A sum of scores would
    grow with the number of customers and mean nothing; the mean says how good they are.
A, B, C
    Customers per ABC class.
AtRisk
    Customers whose churn risk is Medium or High (the Dashboard's at-risk list).
Overdue
    Customers whose next planned contact is due.
MovedDown
    Customers whose type or class moved down since the previous run: the ``Move`` column of
    Segments when the workbook keeps a history; blank otherwise (not zero: unknown is not
    none).

A blank group (no manager typed) is its own row, ``(blank)``, last: the customers nobody looks
after are the ones a sales head wants to see. When there are more groups than ``shown``, the
largest by revenue are listed and the rest added up in one ``Other (n)`` row, so that the
block keeps its place on the Dashboard.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

BREAKDOWN_COLUMNS: Final = (
    "Group", "Customers", "CustomerShare", "Revenue12m", "RevenueShare", "MeanValue",
    "A", "B", "C", "AtRisk", "Overdue", "MovedDown",
)  # fmt: skip
BLANK_GROUP: Final = "(blank)"
AT_RISK_LEVELS: Final = ("Medium", "High")
MOVED_DOWN: Final = "down"


def _group_labels(values: pd.Series) -> pd.Series:
    """Group names as trimmed text; blank, NaN and None become :data:`BLANK_GROUP`."""
    # each distinct value labelled once (a column of a few managers or regions down
    # 100,000 customers: 0.1 s instead of 1 s for the three breakdowns)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    labels = [str(v).strip() or BLANK_GROUP for v in uniques.tolist()]
    return pd.Series(np.asarray([*labels, BLANK_GROUP], dtype=object)[codes],
                     index=values.index, dtype=object)


def breakdown(customers: pd.DataFrame, by: str, *, shown: int = 15,
              figures: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per value of ``customers[by]``, columns :data:`BREAKDOWN_COLUMNS`.

    Parameters
    ----------
    customers : DataFrame
        One row per customer with column ``by`` and any of ``Value``, ``Revenue12m``,
        ``ABC``, ``ChurnRisk``, ``Overdue`` (``Yes``/``No``) and ``Move``; a figure whose
        column is absent is blank (NaN) in every row.
    by : str
        The column to group by.
    shown : int
        Most rows returned; the groups beyond ``shown - 1`` are added up in one
        ``Other (n)`` row.
    figures : DataFrame, optional
        :func:`customer_figures` of ``customers``, when several breakdowns of the same
        customers are made (the Dashboard's three): computed once, not per breakdown.

    Returns
    -------
    DataFrame
        Largest 12-month revenue first (then most customers, then name), ``(blank)`` last.
    """
    n = len(customers)
    group = _group_labels(customers[by]) if by in customers.columns else \
        pd.Series(BLANK_GROUP, index=customers.index)
    per = (customer_figures(customers) if figures is None else figures).assign(Group=group)
    sums = per.groupby("Group", sort=False).sum(min_count=1)
    sums["Customers"] = per.groupby("Group", sort=False).size()
    sums = _order(sums)
    if len(sums) > shown:
        sums = _fold(sums, shown)
    revenue_total = per["Revenue12m"].sum(min_count=1)
    out = pd.DataFrame({
        "Group": sums.index.to_numpy(dtype=object),
        "Customers": sums["Customers"].to_numpy(dtype=np.int64),
        "CustomerShare": sums["Customers"].to_numpy(dtype=float) / n if n else np.nan,
        "Revenue12m": sums["Revenue12m"].to_numpy(dtype=float),
        "RevenueShare": (sums["Revenue12m"] / revenue_total).to_numpy(dtype=float)
        if revenue_total and np.isfinite(revenue_total) else np.nan,
        "MeanValue": (sums["Value"] / sums["ValueCount"].where(sums["ValueCount"] > 0))
        .to_numpy(dtype=float),
        **{c: sums[c].to_numpy(dtype=float) for c in ("A", "B", "C", "AtRisk", "Overdue",
                                                        "MovedDown")},
    })
    return out[list(BREAKDOWN_COLUMNS)]


def customer_figures(customers: pd.DataFrame) -> pd.DataFrame:
    """What a breakdown adds up, one row per customer (see :func:`breakdown`): 1 per
    customer, the 12-month revenue, the value score and whether there is one, 1 or 0 per
    ABC class, at risk, overdue and moved down (NaN where the column is absent)."""
    nan = pd.Series(np.nan, index=customers.index)

    def numeric(name: str) -> pd.Series:
        return pd.to_numeric(customers[name], errors="coerce") if name in customers else nan

    def flag(name: str, hit: tuple[str, ...]) -> pd.Series:
        if name not in customers:
            return nan
        return customers[name].astype("string").str.strip().isin(hit).astype(float)

    abc = (customers["ABC"].astype("string").str.strip().str.upper() if "ABC" in customers
           else pd.Series(pd.NA, index=customers.index, dtype="string"))
    value = numeric("Value")
    return pd.DataFrame({
        "Customers": 1.0, "Revenue12m": numeric("Revenue12m"),
        "Value": value, "ValueCount": value.notna().astype(float),
        **{c: (abc == c).fillna(False).astype(float) for c in "ABC"},
        "AtRisk": flag("ChurnRisk", AT_RISK_LEVELS), "Overdue": flag("Overdue", ("Yes",)),
        "MovedDown": flag("Move", (MOVED_DOWN,)),
    }, index=customers.index)


def _order(sums: pd.DataFrame) -> pd.DataFrame:
    """Largest revenue first, then most customers, then by name; the blank group last."""
    key = pd.DataFrame({"blank": sums.index == BLANK_GROUP,
                        "revenue": -sums["Revenue12m"].fillna(0.0).to_numpy(),
                        "customers": -sums["Customers"].to_numpy(), "name": sums.index},
                       index=sums.index)
    return sums.loc[key.sort_values(["blank", "revenue", "customers", "name"]).index]


def _fold(sums: pd.DataFrame, shown: int) -> pd.DataFrame:
    """The first ``shown - 1`` groups, and the rest added up as ``Other (n)``."""
    head, rest = sums.iloc[: shown - 1], sums.iloc[shown - 1 :]
    other = rest.sum(min_count=1).to_frame(f"Other ({len(rest)})").T
    return pd.concat([head, other])
