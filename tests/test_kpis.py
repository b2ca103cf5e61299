"""KPIs overall, per type and per ABC class: definitions checked on a hand-made ledger."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from xlcrm.errors import InputError
from xlcrm.operations.kpis import KPI_DEFINITIONS, KPI_NAMES, KPI_UNITS, OVERALL, kpi_columns, kpis
from xlcrm.operations.orders import churn_risk, contact_plan, order_metrics
from xlcrm.operations.survey import satisfaction

TODAY = dt.date(2026, 6, 30)
IDS = ["A", "B", "C", "D", "E", "F"]


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text)


@pytest.fixture(scope="module")
def inputs():
    transactions = pd.DataFrame(
        [
            ("A", ts("2025-03-01"), 100.0),  # A: ordered before and twice now
            ("A", ts("2025-09-01"), 100.0),
            ("A", ts("2026-03-01"), 100.0),
            ("B", ts("2025-02-01"), 100.0),  # B: lost
            ("C", ts("2026-01-01"), 100.0),  # C: new
            ("D", ts("2025-01-01"), 100.0),  # D: before and once now
            ("D", ts("2026-02-01"), 100.0),
            ("F", ts("2023-05-01"), 100.0),  # F: long gone, not in the churn base
        ],  # E: never ordered
        columns=["CustomerID", "Date", "Amount"],
    )
    interactions = pd.DataFrame(
        [
            ("A", ts("2026-06-20"), "visit", None),
            ("A", ts("2026-01-10"), "complaint", ts("2026-01-14")),  # 4 days
            ("B", ts("2026-02-01"), "complaint", None),  # open
            ("C", ts("2026-04-01"), "complaint", ts("2026-04-11")),  # 10 days
            ("D", ts("2024-05-01"), "complaint", ts("2024-05-03")),  # long ago
        ],
        columns=["CustomerID", "Date", "Kind", "ResolvedDate"],
    )
    survey = pd.DataFrame(
        [("A", ts("2026-05-01"), 4, 4), ("C", ts("2026-05-01"), 3, 3)],
        columns=["CustomerID", "Date", "Q1", "Q2"],
    )
    metrics = order_metrics(transactions, IDS, today=TODAY)
    plan = contact_plan(interactions, IDS, pd.Series(30, index=IDS), today=TODAY)
    result = satisfaction(survey, IDS)
    segments = pd.DataFrame(
        {"CustomerID": IDS, "Type": [1, 1, 2, 2, 3, 1], "ABC": ["A", "A", "B", "C", "C", "C"]}
    )
    value = pd.Series([50.0, 30.0, 15.0, 5.0, 0.0, 0.0], index=IDS)
    churn = pd.DataFrame(
        {"ChurnRisk": ["Low", "High", "Low", "Medium", "No orders", "High"]}, index=IDS
    )
    return metrics, plan, result, segments, value, churn


def test_kpi_table_layout() -> None:
    assert kpi_columns() == (
        "Overall", "Type 1", "Type 2", "Type 3", "Type 4", "Type 5", "Type 6", "Type 7",
        "Type 8", "Class A", "Class B", "Class C",
    )
    assert set(KPI_UNITS) == set(KPI_DEFINITIONS) == set(KPI_NAMES)


def test_kpis_by_definition(inputs) -> None:
    metrics, plan, result, segments, value, churn = inputs
    k = kpis(IDS, metrics, plan, result, segments=segments, value=value, today=TODAY, churn=churn)
    assert list(k.index) == list(KPI_NAMES) and list(k.columns) == list(kpi_columns())
    overall = k[OVERALL]
    assert overall["Customers"] == 6
    assert overall["Active customers"] == 3  # A, C, D
    assert overall["Churn rate"] == pytest.approx(1 / 3)  # base A, B, D; B lost
    assert overall["Repeat-purchase rate"] == pytest.approx(1 / 3)  # A of A, C, D
    assert overall["Complaint rate"] == pytest.approx(3 / 3)  # A, B, C complaints / 3 active
    assert overall["Open complaints"] == 1
    assert overall["Avg resolution days"] == pytest.approx(7.0)
    assert overall["Satisfaction index"] == pytest.approx((75 + 50) / 2)
    assert overall["Surveyed customers"] == 2
    assert overall["Overdue contacts"] == 5  # all but A (visited 10 days ago)
    assert overall["High churn risk"] == 2
    assert overall["A share of summed value scores"] == pytest.approx(80 / 100)

    t1 = k["Type 1"]  # A, B, F
    assert list(t1[:11]) == pytest.approx([3, 1, 0.5, 1.0, 2.0, 1, 4.0, 75.0, 1, 2, 2])
    assert np.isnan(t1["A share of summed value scores"])
    t2 = k["Type 2"]  # C, D
    assert list(t2[:11]) == pytest.approx([2, 2, 0.0, 0.0, 0.5, 0, 10.0, 50.0, 1, 2, 0])
    t3 = k["Type 3"]  # E: nobody active, every rate undefined
    assert t3["Customers"] == 1 and t3["Active customers"] == 0
    for name in ("Churn rate", "Repeat-purchase rate", "Complaint rate", "Avg resolution days",
                 "Satisfaction index"):
        assert np.isnan(t3[name]), name
    assert k["Type 8"]["Customers"] == 0 and k["Type 8"]["Open complaints"] == 0
    assert k["Class A"]["Customers"] == 2 and k["Class A"]["Churn rate"] == 0.5
    assert k["Class C"]["Customers"] == 3 and k["Class C"]["Active customers"] == 1
    # Every customer has a type and a class: the groups partition the overall counts.
    counts = k.loc["Customers"]
    assert counts[[f"Type {t}" for t in range(1, 9)]].sum() == 6
    assert counts[["Class A", "Class B", "Class C"]].sum() == 6


def test_kpis_with_inputs_left_out(inputs) -> None:
    metrics, plan, result, segments, _value, _churn = inputs
    k = kpis(IDS, metrics, None, None, today=TODAY)
    assert list(k.columns) == list(kpi_columns())
    assert k[OVERALL]["Customers"] == 6 and k[OVERALL]["Churn rate"] == pytest.approx(1 / 3)
    for name in ("Complaint rate", "Open complaints", "Avg resolution days",
                 "Satisfaction index", "Surveyed customers", "Overdue contacts",
                 "High churn risk", "A share of summed value scores"):
        assert np.isnan(k[OVERALL][name]), name
    assert k.drop(columns=OVERALL).isna().all().all()
    # Segments indexed by CustomerID, in another order, give the same table.
    shuffled = segments.set_index("CustomerID").iloc[::-1]
    a = kpis(IDS, metrics, plan, result, segments=segments, today=TODAY)
    b = kpis(IDS, metrics, plan, result, segments=shuffled, today=TODAY)
    pd.testing.assert_frame_equal(a, b)
    # A scope smaller than the ledger.
    sub = kpis(["A", "B"], metrics, plan, result, segments=segments, today=TODAY)
    assert sub[OVERALL]["Customers"] == 2 and sub[OVERALL]["Churn rate"] == 0.5


def test_kpis_refuse_mismatched_inputs(inputs) -> None:
    metrics, plan, result, _segments, _value, _churn = inputs
    with pytest.raises(InputError, match="not in the order metrics"):
        kpis(["A", "Q"], metrics, plan, result, today=TODAY)
    with pytest.raises(InputError, match="as of 2026-06-30"):
        kpis(IDS, metrics, plan, result, today=dt.date(2026, 7, 1))
    with pytest.raises(InputError, match="no ABC column"):
        kpis(IDS, metrics, plan, result, segments=pd.DataFrame({"Type": [1] * 6}), today=TODAY)


demo = pytest.importorskip("xlcrm.demo")


def test_kpis_on_the_demo_ledger() -> None:
    ledger = demo.make_ledger(500, seed=3, dirty=False)
    ids = ledger.customers["CustomerID"]
    metrics = order_metrics(ledger.transactions, ids, today=ledger.as_of)
    plan = contact_plan(ledger.interactions, ids, pd.Series(45, index=ids), today=ledger.as_of)
    result = satisfaction(ledger.survey, ids, today=ledger.as_of)
    churn = churn_risk(metrics, today=ledger.as_of)
    rank = np.arange(len(ids))
    segments = pd.DataFrame(
        {"CustomerID": ids, "Type": rank % 8 + 1, "ABC": np.where(rank < 100, "A", "C")}
    )
    value = ledger.customers.set_index("CustomerID")["Revenue12m"]
    k = kpis(ids, metrics, plan, result, segments=segments, value=value, today=ledger.as_of,
             churn=churn)
    overall = k[OVERALL]
    t = metrics.table
    assert overall["Customers"] == 500
    assert overall["Active customers"] == (t["Revenue12m"] > 0).sum()
    assert 0 < overall["Churn rate"] < 0.5 and 0 < overall["Repeat-purchase rate"] <= 1
    assert overall["Satisfaction index"] == pytest.approx(result.overall_index)
    assert overall["High churn risk"] == (churn["ChurnRisk"] == "High").sum()
    assert overall["A share of summed value scores"] == pytest.approx(
        value.iloc[:100].sum() / value.sum()
    )
    types = [f"Type {n}" for n in range(1, 9)]
    for row in ("Customers", "Active customers", "Open complaints", "Overdue contacts"):
        assert k.loc[row, types].sum() == overall[row]
        assert k.loc[row, ["Class A", "Class C"]].sum() == overall[row]
