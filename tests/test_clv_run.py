"""Lifetime value in a run: Activity columns, the churn warning, the at-risk order, CLV as an
indicator, the Indicators options, and agreement with the CRM_CLV worksheet function."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd
import pytest

import udfs
from xlcrm import pipeline
from xlcrm.book.settings import options_from_grid, options_rows
from xlcrm.demo import make_ledger
from xlcrm.operations import clv
from xlcrm.operations.orders import churn_risk, order_metrics
from xlcrm.pipeline import Options, Settings
from xlcrm.value.hierarchy import Hierarchy, default_hierarchy


@pytest.fixture(scope="module")
def demo() -> tuple:
    ledger = make_ledger(300, seed=7, dirty=False)
    return ledger, pipeline.run(ledger, as_of=ledger.as_of)


def test_activity_has_the_lifetime_figures(demo: tuple) -> None:
    _, results = demo
    activity = results.operations.activity
    assert results.lifetime is not None and results.lifetime.purchases.usable
    for col in ("PAlive", "ExpectedOrders", "ExpectedOrderValue", "CLV"):
        assert col in activity.columns
    ordered = activity["Orders"] > 0
    assert activity.loc[ordered, "PAlive"].between(0, 1).all()
    assert activity.loc[~ordered, ["PAlive", "CLV"]].isna().all().all()
    assert results.operations.lifetime_by_segment["Customers"].iloc[:3].sum() == ordered.sum()


def test_worksheet_function_agrees_with_the_activity_sheet(demo: tuple) -> None:
    ledger, results = demo
    activity = results.operations.activity
    tx = ledger.transactions
    grid = [list(tx.columns)] + [
        [v.to_pydatetime() if isinstance(v, pd.Timestamp) else v for v in row]
        for row in tx.itertuples(index=False)
    ]
    ids = [[i] for i in activity["CustomerID"]]
    out = udfs.CRM_CLV(ids, grid, dt.datetime.combine(ledger.as_of, dt.time()))
    got = np.array([[np.nan if v is None else v for v in row] for row in out], dtype=float)
    want = activity[["PAlive", "ExpectedOrders", "CLV"]].to_numpy(dtype=float)
    np.testing.assert_allclose(got, want, rtol=1e-9, equal_nan=True)


def test_at_risk_list_is_ordered_by_value_at_risk(demo: tuple) -> None:
    _, results = demo
    at_risk = results.operations.at_risk
    stake = at_risk["ValueAtRisk"].to_numpy(dtype=float)
    assert len(at_risk) > 10 and np.all(np.diff(stake[np.isfinite(stake)]) <= 0)
    activity = results.operations.activity.set_index("CustomerID")
    first = at_risk.iloc[0]
    expected = activity.loc[first["CustomerID"], "CLV"] * (
        1 - activity.loc[first["CustomerID"], "PAlive"])
    assert first["ValueAtRisk"] == pytest.approx(expected)


def test_churn_warning_is_raised_by_a_low_p_alive_and_keeps_the_rule_in_words() -> None:
    days = [dt.date(2024, 1, 1) + dt.timedelta(days=30 * k) for k in range(12)]
    orders = pd.DataFrame({"CustomerID": ["A"] * 12 + ["B"] * 12, "Date": days + days,
                           "Amount": 100.0})  # fmt: skip
    metrics = order_metrics(orders, ["A", "B"], today=dt.date(2025, 3, 1))
    rule = churn_risk(metrics, today=metrics.today)
    table = metrics.table.assign(PAlive=[0.12, 0.95],
                                 CLVNote=["last order 3 months ago; usually orders every"
                                          " 4 weeks", ""])  # fmt: skip
    both = clv.churn_with_p_alive(rule.assign(ChurnRisk=["Low", "High"]), table)
    assert list(both["ChurnRisk"]) == ["High", "High"]
    assert both["ChurnReason"].iloc[0] == (
        "P(alive) 0.12: last order 3 months ago; usually orders every 4 weeks")
    assert both["ChurnReason"].iloc[1].endswith("(P(alive) 0.95)")
    assert both["ChurnReason"].iloc[1].startswith(rule["ChurnReason"].iloc[1])


def test_clv_can_be_an_indicator(demo: tuple) -> None:
    ledger, results = demo
    base = default_hierarchy()
    swapped = Hierarchy(tuple(
        dataclasses.replace(i, name="Lifetime value", column="CLV", params={})
        if i.column == "WalletHeadroom" else i
        for i in base.indicators
    ))  # fmt: skip
    run = pipeline.run(ledger, Settings(hierarchy=swapped), as_of=ledger.as_of)
    assert run.derived.get("CLV", "").startswith("Transactions")
    scores = run.scores.indicator_scores["Lifetime value"].to_numpy(dtype=float)
    activity_clv = run.operations.activity["CLV"].to_numpy(dtype=float)
    # percentile scores follow the CLV the Activity sheet shows
    ok = np.isfinite(activity_clv)
    rho = pd.Series(scores[ok]).corr(pd.Series(activity_clv[ok]), method="spearman")
    assert rho > 0.999


def _options_grid(pairs: dict) -> list[list]:
    rows = [[None] * 8 + ["Option", "Value"]]
    rows += [[None] * 8 + [k, v] for k, v in pairs.items()]
    return rows


def test_indicators_options_reach_the_model(demo: tuple) -> None:
    ledger, _ = demo
    options, problems = options_from_grid(_options_grid({
        "Lifetime horizon (months)": 6, "Lifetime margin": "30%", "Discount rate": 0.08,
        "Lifetime model": "MBG", "Lifetime penalty": 0.01,
    }))  # fmt: skip
    assert problems == []
    assert options.lifetime == clv.LifetimeOptions(6, 0.3, 0.08, "mbg", 0.01)
    run = pipeline.run(ledger, Settings(options=options), as_of=ledger.as_of)
    assert run.lifetime.horizon_months == 6 and run.lifetime.purchases.model == "mbg"


@pytest.mark.parametrize(
    ("label", "value", "words"),
    [("Lifetime horizon (months)", 6.5, "whole number of months"),
     ("Lifetime horizon (months)", 0, "whole number of months"),
     ("Discount rate", 1.5, "annual rate"), ("Lifetime model", "pareto", "bg, mbg"),
     ("Lifetime margin", 0, "share"), ("Lifetime penalty", -1, "from 0 to 10")],  # fmt: skip
)
def test_bad_options_are_named_by_cell(label: str, value: object, words: str) -> None:
    options, problems = options_from_grid(_options_grid({label: value}))
    assert options.lifetime == clv.LifetimeOptions()
    assert len(problems) == 1 and problems[0].cell == "J2" and words in problems[0].fix


def test_template_lists_the_lifetime_options_with_their_defaults() -> None:
    rows = dict((r[0], r[1]) for r in options_rows(Options())[1:])
    assert rows["Lifetime horizon (months)"] == 12 and rows["Lifetime model"] == "bg"
    assert rows["Lifetime margin"] is None and rows["Discount rate"] == 0.1
