"""Orders, churn warning and contact plan: known answers on hand-made ledgers, dirty input,
and invariants on the demo ledger."""

from __future__ import annotations

import datetime as dt
import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xlcrm.errors import InputError
from xlcrm.operations.orders import (
    CHURN_LEVELS,
    DERIVED_COLUMNS,
    NO_ORDERS,
    ORDER_COLUMNS,
    RFM_SEGMENTS,
    OrderMetrics,
    at_risk_list,
    churn_risk,
    contact_plan,
    growth_rate,
    id_text,
    order_metrics,
    overdue_list,
    parse_dates,
    rfm_scores,
    rfm_segment,
    years_before,
)

TODAY = dt.date(2026, 6, 30)  # last 12 months: 2025-07-01 .. 2026-06-30


def tx(rows: list[tuple], columns=("CustomerID", "Date", "Amount", "GrossProfit")) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(columns))


def d(text: str) -> pd.Timestamp:
    return pd.Timestamp(text)


# ----------------------------------------------------------------------------- helpers


def test_years_before_keeps_the_day_and_moves_29_february() -> None:
    assert years_before(dt.date(2026, 6, 30), 1) == dt.date(2025, 6, 30)
    assert years_before(dt.date(2024, 2, 29), 1) == dt.date(2023, 2, 28)


def test_id_text_matches_how_customers_ids_are_compared() -> None:
    got = id_text(pd.Series([" C1 ", 1001.0, 7, 12.5, None, np.nan, "", "  "], dtype=object))
    assert list(got) == ["C1", "1001", "7", "12.5", None, None, None, None]
    assert list(id_text(pd.Series([1001.0, np.nan]))) == ["1001", None]


def test_parse_dates_reads_dates_and_iso_text_only() -> None:
    values = pd.Series(
        [
            dt.date(2026, 1, 2),
            dt.datetime(2026, 1, 2, 17, 30),
            pd.Timestamp("2026-01-02 23:59"),
            "2026-01-02",
            " 2026-01-02 08:00 ",
            "02/01/2026",
            45000.0,
            None,
            "",
            "2026-02-30",
            True,
        ],
        dtype=object,
    )
    days, ok, blank = parse_dates(values)
    day = (dt.date(2026, 1, 2) - dt.date(1970, 1, 1)).days
    assert list(ok) == [True] * 5 + [False] * 6
    assert list(days[:5]) == [day] * 5
    assert list(blank) == [False] * 7 + [True, True, False, False]
    # A datetime column (as the sheet reader returns an all-date column).
    col = pd.Series(pd.to_datetime(["2026-01-02 10:00", None]))
    days, ok, blank = parse_dates(col)
    assert list(ok) == [True, False] and list(blank) == [False, True] and days[0] == day


# ----------------------------------------------------------------------------- growth


def test_growth_rate_for_normal_new_lapsed_capped_and_no_orders() -> None:
    rate, note = growth_rate([120, 500, 0, 350, 0, 50], [100, 0, 800, 100, 0, 100])
    np.testing.assert_allclose(rate, [0.2, 1.0, -1.0, 1.0, np.nan, -0.5])
    assert list(note) == ["", "new", "lapsed", "capped from +250 %", "no orders", ""]
    rate, _ = growth_rate([350, 500], [100, 0], cap=3.0)
    np.testing.assert_allclose(rate, [2.5, 3.0])
    with pytest.raises(InputError):
        growth_rate([1], [1], cap=0)


def test_order_metrics_windows_growth_and_unit_profit() -> None:
    frame = tx(
        [
            # N: normal; the order on today - 1 year belongs to the previous window.
            ("N", d("2025-06-30"), 1000.0, 100.0),
            ("N", d("2025-07-01"), 700.0, 70.0),
            ("N", d("2026-06-30"), 500.0, 50.0),
            # W: new this year.
            ("W", d("2026-02-01"), 500.0, 40.0),
            # L: lapsed, plus an old order two years back that is in no window.
            ("L", d("2024-06-30"), 300.0, 30.0),
            ("L", d("2025-01-15"), 800.0, 80.0),
            # X: tripled and a half (capped).
            ("X", d("2025-03-01"), 100.0, 10.0),
            ("X", d("2026-03-01"), 350.0, 35.0),
            # R: a credit note nets revenue but is not an order.
            ("R", d("2025-05-01"), 400.0, 40.0),
            ("R", d("2026-05-01"), 400.0, 40.0),
            ("R", d("2026-06-01"), -100.0, -10.0),
        ]
    )
    m = order_metrics(frame, ["N", "W", "L", "X", "R", "Z"], today=TODAY)
    t = m.table
    assert list(t.columns) == list(ORDER_COLUMNS)
    assert list(t.index) == ["N", "W", "L", "X", "R", "Z"]
    assert m.problems == []
    assert t.loc["N", "Revenue12m"] == 1200.0 and t.loc["N", "RevenuePrev12m"] == 1000.0
    assert t.loc["N", "GrowthRate"] == pytest.approx(0.2) and t.loc["N", "GrowthNote"] == ""
    assert t.loc["N", "Orders12m"] == 2 and t.loc["N", "OrdersPrev12m"] == 1
    assert t.loc["N", "GrossProfit12m"] == 120.0 and t.loc["N", "UnitProfit"] == 60.0
    assert (t.loc["W", "GrowthRate"], t.loc["W", "GrowthNote"]) == (1.0, "new")
    assert (t.loc["L", "GrowthRate"], t.loc["L", "GrowthNote"]) == (-1.0, "lapsed")
    assert t.loc["L", "Orders"] == 2 and t.loc["L", "RevenueTotal"] == 1100.0
    assert t.loc["L", "UnitProfit"] == 0.0  # no orders in the last 12 months
    assert t.loc["L", "FirstOrder"] == d("2024-06-30")
    assert (t.loc["X", "GrowthRate"], t.loc["X", "GrowthNote"]) == (1.0, "capped from +250 %")
    assert t.loc["R", "Revenue12m"] == 300.0 and t.loc["R", "Orders12m"] == 1
    assert t.loc["R", "LastOrder"] == d("2026-05-01")  # the credit note is not an order
    assert t.loc["R", "RecencyDays"] == 60
    assert t.loc["R", "GrowthRate"] == pytest.approx(-0.25)
    assert t.loc["R", "UnitProfit"] == 30.0
    z = t.loc["Z"]
    assert z["Orders"] == 0 and z["Revenue12m"] == 0.0 and np.isnan(z["GrowthRate"])
    assert z["GrowthNote"] == "no orders" and pd.isna(z["LastOrder"])
    assert np.isnan(z["RecencyDays"]) and (z["R"], z["F"], z["M"]) == (0, 0, 0)
    assert z["RFMSegment"] == NO_ORDERS
    assert set(DERIVED_COLUMNS) <= set(ORDER_COLUMNS)
    for col in DERIVED_COLUMNS:
        assert pd.api.types.is_numeric_dtype(t[col]), col


def test_typical_interval_is_the_median_gap_between_order_days() -> None:
    frame = tx(
        [
            ("A", d("2026-01-01"), 10.0, 1.0),
            ("A", d("2026-01-31"), 10.0, 1.0),  # +30
            ("A", d("2026-03-01"), 10.0, 1.0),  # +29
            ("A", d("2026-03-01"), 10.0, 1.0),  # same day: one visit
            ("A", d("2026-05-10"), 10.0, 1.0),  # +70
            ("A", d("2026-06-01"), -5.0, 0.0),  # credit note: not an order
            ("B", d("2026-02-01"), 10.0, 1.0),
            ("C", d("2026-02-01"), 10.0, 1.0),
            ("C", d("2026-02-01"), 20.0, 1.0),
            ("D", d("2026-01-01"), 10.0, 1.0),
            ("D", d("2026-01-11"), 10.0, 1.0),  # +10
            ("D", d("2026-02-10"), 10.0, 1.0),  # +30
            ("D", d("2026-02-20"), 10.0, 1.0),  # +10
            ("D", d("2026-03-22"), 10.0, 1.0),  # +30: median of 10,30,10,30 is 20
        ]
    )
    t = order_metrics(frame, ["A", "B", "C", "D"], today=TODAY).table
    assert t.loc["A", "TypicalIntervalDays"] == 30.0
    assert t.loc["A", "Orders"] == 5
    assert np.isnan(t.loc["B", "TypicalIntervalDays"])
    assert np.isnan(t.loc["C", "TypicalIntervalDays"]) and t.loc["C", "Orders"] == 2
    assert t.loc["D", "TypicalIntervalDays"] == 20.0


def test_gross_profit_is_blank_when_a_value_in_the_window_is_missing() -> None:
    frame = tx(
        [
            ("A", d("2026-01-01"), 100.0, 10.0),
            ("A", d("2026-02-01"), 100.0, None),
            ("B", d("2024-12-01"), 100.0, None),  # outside the window: no effect
            ("B", d("2026-02-01"), 100.0, 25.0),
        ]
    )
    m = order_metrics(frame, ["A", "B"], today=TODAY)
    assert np.isnan(m.table.loc["A", "GrossProfit12m"]) and np.isnan(m.table.loc["A", "UnitProfit"])
    assert m.table.loc["B", "GrossProfit12m"] == 25.0
    assert [(p.severity, p.cell) for p in m.problems] == [("warning", "D3")]
    no_gp = order_metrics(frame.drop(columns="GrossProfit"), ["A", "B"], today=TODAY).table
    assert no_gp["GrossProfit12m"].isna().all() and no_gp["UnitProfit"].isna().all()


# ----------------------------------------------------------------------------- RFM


def test_rfm_quintiles_on_ten_customers() -> None:
    recency = [5, 15, 25, 35, 45, 55, 65, 75, 85, 95]
    orders = [1, 10, 2, 9, 3, 8, 4, 7, 5, 6]
    money = [1000, 100, 900, 200, 800, 300, 700, 400, 600, 500]
    r, f, m = rfm_scores(recency, orders, money)
    assert list(r) == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]
    assert list(f) == [1, 5, 1, 5, 2, 4, 2, 4, 3, 3]
    assert list(m) == [5, 1, 5, 1, 4, 2, 4, 2, 3, 3]
    for s in (r, f, m):
        assert sorted(np.bincount(s, minlength=6)[1:]) == [2] * 5


def test_rfm_ties_are_broken_by_the_other_measures_not_by_row_order() -> None:
    # Five customers with the same recency: R follows F; equal F follows M.
    r, f, _m = rfm_scores([30] * 5, [1, 5, 3, 3, 2], [10, 10, 50, 20, 10])
    assert list(r) == [1, 5, 4, 3, 2]
    assert list(f) == [1, 5, 4, 3, 2]
    # Reversing the customers reverses the scores: no dependence on position.
    r2, f2, _ = rfm_scores([30] * 5, [2, 3, 3, 5, 1], [10, 20, 50, 10, 10])
    assert list(r2) == [2, 3, 4, 5, 1] and list(f2) == [2, 3, 4, 5, 1]


def test_rfm_without_orders_scores_zero_and_one_customer_scores_three() -> None:
    r, f, m = rfm_scores([np.nan, 12.0], [0, 3], [0.0, 50.0])
    assert (list(r), list(f), list(m)) == ([0, 3], [0, 3], [0, 3])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 400), st.integers(1, 12), st.integers(1, 10_000)),
        min_size=1,
        max_size=60,
    )
)
def test_rfm_scores_are_balanced_and_monotone(rows: list[tuple[int, int, int]]) -> None:
    rec, freq, mon = (np.array(c, dtype=float) for c in zip(*rows, strict=True))
    r, f, m = rfm_scores(rec, freq, mon)
    n = len(rows)
    for s in (r, f, m):
        counts = np.bincount(s, minlength=6)[1:]
        assert counts.sum() == n
        assert counts.max() - counts[counts > 0].min() <= 1 or n < 5
        assert counts.max() <= -(-n // 5) + 1
    for i, j in itertools.combinations(range(n), 2):
        if rec[i] < rec[j]:
            assert r[i] >= r[j]
        if freq[i] > freq[j]:
            assert f[i] >= f[j]
        if mon[i] > mon[j]:
            assert m[i] >= m[j]


def test_rfm_segment_grid_names_every_score_pair() -> None:
    pairs = list(itertools.product(range(1, 6), repeat=2))
    names = rfm_segment([p[0] for p in pairs], [p[1] for p in pairs])
    assert set(names) == set(RFM_SEGMENTS)
    by = dict(zip(pairs, names, strict=True))
    assert by[5, 5] == by[5, 4] == "Champions"
    assert by[5, 1] == "New customers" and by[4, 1] == "Promising"
    assert by[3, 3] == "Need attention" and by[3, 4] == by[4, 5] == "Loyal customers"
    assert by[1, 5] == by[2, 5] == "Can't lose them" and by[2, 3] == "At risk"
    assert by[1, 1] == by[2, 2] == "Hibernating" and by[3, 2] == "About to sleep"
    assert by[4, 2] == by[5, 3] == "Potential loyalists"
    assert list(rfm_segment([0, 3], [0, 0])) == [NO_ORDERS, NO_ORDERS]


# ----------------------------------------------------------------------------- churn


def metrics_of(rows: dict[str, tuple], today: dt.date = TODAY) -> OrderMetrics:
    """OrderMetrics from (Orders, RecencyDays, TypicalIntervalDays, Rev12m, RevPrev12m)."""
    cols = ["Orders", "RecencyDays", "TypicalIntervalDays", "Revenue12m", "RevenuePrev12m"]
    table = pd.DataFrame.from_dict(rows, orient="index", columns=cols).astype(float)
    return OrderMetrics(table=table, today=today)


def test_churn_silence_levels_at_the_exact_factor_boundaries() -> None:
    m = metrics_of(
        {
            "a": (5, 104, 70, 100, 100),  # 1.486x: Low
            "b": (5, 105, 70, 100, 100),  # 1.5x: Medium
            "c": (5, 174, 70, 100, 100),  # 2.486x: Medium
            "d": (5, 175, 70, 100, 100),  # 2.5x: High
        }
    )
    r = churn_risk(m, today=TODAY)
    assert list(r["ChurnRisk"]) == ["Low", "Medium", "Medium", "High"]
    assert list(r["SilenceRatio"]) == pytest.approx([104 / 70, 1.5, 174 / 70, 2.5])
    assert list(r["IntervalBasis"]) == ["own"] * 4


def test_churn_revenue_levels_at_the_exact_boundaries() -> None:
    m = metrics_of(
        {
            "a": (5, 1, 70, 71, 100),  # -29 %: Low
            "b": (5, 1, 70, 70, 100),  # -30 %: Medium
            "c": (5, 1, 70, 41, 100),  # -59 %: Medium
            "d": (5, 1, 70, 40, 100),  # -60 %: High
            "e": (5, 400, 70, 0, 100),  # lapsed
            "f": (5, 1, 70, 500, 0),  # new: no drop
        }
    )
    r = churn_risk(m, today=TODAY)
    assert list(r["ChurnRisk"]) == ["Low", "Medium", "Medium", "High", "High", "Low"]
    assert r.loc["d", "RevenueChange"] == pytest.approx(-0.6)
    assert np.isnan(r.loc["f", "RevenueChange"])
    assert "no purchases in the last 12 months after 100 in the 12 months before" in (
        r.loc["e", "ChurnReason"]
    )


def test_churn_reason_in_words() -> None:
    m = metrics_of({"a": (9, 214, 69, 36, 100), "b": (4, 20, 45, 112, 100)})
    r = churn_risk(m, today=TODAY)
    assert r.loc["a", "ChurnRisk"] == "High"
    assert r.loc["a", "ChurnReason"] == (
        "no order for 214 days, 3.1\u00d7 its usual 69-day interval;"
        " revenue \u221264 % on the previous 12 months"
    )
    assert r.loc["b", "ChurnReason"] == (
        "last order 20 days ago, 0.4\u00d7 its usual 45-day interval;"
        " revenue +12 % on the previous 12 months"
    )


def test_churn_global_rule_for_one_order_and_never_ordered() -> None:
    m = metrics_of(
        {
            "own1": (5, 10, 40, 100, 100),
            "own2": (5, 10, 60, 100, 100),
            "own3": (5, 10, 100, 100, 100),
            "one": (1, 90, np.nan, 100, 0),  # 90 / median 60 = 1.5: Medium
            "never": (0, np.nan, np.nan, 0, 0),
        }
    )
    r = churn_risk(m, today=TODAY)
    assert r.loc["one", "ChurnRisk"] == "Medium"
    assert r.loc["one", "IntervalDays"] == 60 and r.loc["one", "IntervalBasis"] == "global"
    assert "the usual 60-day interval of all customers" in r.loc["one", "ChurnReason"]
    assert r.loc["never", "ChurnRisk"] == NO_ORDERS
    assert r.loc["never", "ChurnReason"] == "never ordered"
    given_interval = churn_risk(m, today=TODAY, global_interval_days=36)
    assert given_interval.loc["one", "ChurnRisk"] == "High"  # 90 / 36 = 2.5
    assert set(r["ChurnRisk"]) <= {*CHURN_LEVELS, NO_ORDERS}


def test_churn_without_any_known_interval_relies_on_revenue() -> None:
    m = metrics_of({"a": (1, 300, np.nan, 30, 100), "b": (1, 300, np.nan, 100, 100)})
    r = churn_risk(m, today=TODAY)
    assert list(r["ChurnRisk"]) == ["High", "Low"]
    assert "no usual interval is known" in r.loc["b", "ChurnReason"]


def test_churn_checks_its_parameters_and_day() -> None:
    m = metrics_of({"a": (2, 10, 10, 1, 1)})
    with pytest.raises(InputError):
        churn_risk(m, today=TODAY, silence_factor_medium=3, silence_factor_high=2)
    with pytest.raises(InputError):
        churn_risk(m, today=TODAY, revenue_drop_medium=-0.7, revenue_drop_high=-0.6)
    with pytest.raises(InputError):
        churn_risk(m, today=TODAY, global_interval_days=0)
    with pytest.raises(InputError, match="as of 2026-06-30"):
        churn_risk(m, today=dt.date(2026, 7, 1))


def test_at_risk_list_is_sorted_by_value() -> None:
    m = metrics_of(
        {
            "a": (5, 300, 70, 10, 100),
            "b": (5, 105, 70, 100, 100),
            "c": (5, 1, 70, 100, 100),
            "d": (5, 300, 70, 10, 100),
        }
    )
    r = churn_risk(m, today=TODAY)
    value = pd.Series({"a": 10.0, "b": 50.0, "c": 99.0, "d": np.nan})
    got = at_risk_list(r, value)
    assert list(got.index) == ["b", "a", "d"]
    assert list(got.columns) == ["Value", "ChurnRisk", "ChurnReason"]
    assert list(at_risk_list(r, value, levels=["High"]).index) == ["a", "d"]


# ----------------------------------------------------------------------------- contacts


def interactions(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(
        rows, columns=["CustomerID", "Date", "Kind", "Outcome", "ResolvedDate"]
    )


def test_contact_plan_next_contact_due_and_overdue() -> None:
    frame = interactions(
        [
            ("A", d("2026-05-01"), "visit", "ok", None),
            ("A", d("2026-06-10"), "Call", "ok", None),  # last contact; due 2026-07-10
            ("B", d("2026-04-01"), " VISIT ", "ok", None),  # due 2026-05-31: 30 days overdue
            ("D", d("2026-05-31"), "visit", "ok", None),  # due exactly today
            ("D", d("2026-06-20"), "complaint", "late", None),  # not a contact
            ("E", d("2026-06-01"), "visit", "ok", None),  # no interval
            ("F", d("2026-06-01"), "service", "ok", None),  # never contacted: due now
        ]
    )
    ids = ["A", "B", "C", "D", "E", "F"]
    interval = pd.Series({"A": 30, "B": 60, "C": 90, "D": 30, "E": np.nan, "F": 30})
    plan = contact_plan(frame, ids, interval, today=TODAY)
    t = plan.table
    assert t.loc["A", "LastContact"] == d("2026-06-10")
    assert t.loc["A", "NextContactDue"] == d("2026-07-10")
    assert not t.loc["A", "Overdue"] and t.loc["A", "DaysOverdue"] == 0
    assert t.loc["B", "NextContactDue"] == d("2026-05-31") and t.loc["B", "Overdue"]
    assert t.loc["B", "DaysOverdue"] == 30
    assert pd.isna(t.loc["C", "LastContact"]) and t.loc["C", "NextContactDue"] == d("2026-06-30")
    assert t.loc["C", "Overdue"] and t.loc["C", "DaysOverdue"] == 0
    assert t.loc["D", "LastContact"] == d("2026-05-31") and t.loc["D", "Overdue"]
    assert pd.isna(t.loc["E", "NextContactDue"]) and not t.loc["E", "Overdue"]
    assert np.isnan(t.loc["E", "DaysOverdue"])
    assert pd.isna(t.loc["F", "LastContact"]) and t.loc["F", "Overdue"]
    assert t.loc["A", "Contacts12m"] == 2
    [problem] = plan.problems
    assert problem.severity == "warning" and "1 customer(s) have no visit interval" in str(problem)

    value = pd.Series({"A": 5.0, "B": 1.0, "C": 3.0, "D": np.nan, "E": 9.0, "F": 3.0})
    over = overdue_list(plan, value)
    assert list(over.index) == ["C", "F", "B", "D"]
    assert list(over.columns) == [
        "Value", "LastContact", "NextContactDue", "DaysOverdue", "OpenComplaints"
    ]
    # A plain list of intervals is taken in the customers' order.
    plan2 = contact_plan(frame, ids, [30, 60, 90, 30, np.nan, 30], today=TODAY)
    pd.testing.assert_frame_equal(plan2.table, plan.table)


def test_complaints_open_closed_and_resolution_days() -> None:
    frame = interactions(
        [
            ("A", d("2026-03-01"), "complaint", "", d("2026-03-11")),  # 10 days
            ("A", d("2026-05-01"), "Complaint", "", d("2026-05-05")),  # 4 days
            ("A", d("2026-06-01"), "complaint", "", None),  # open
            ("A", d("2025-03-01"), "complaint", "", d("2025-03-20")),  # closed before the window
            ("A", d("2025-06-01"), "complaint", "", d("2025-07-03")),  # closed in it: 32 days
            ("A", d("2026-06-05"), "service", "", d("2026-06-06")),  # not a complaint
            ("B", d("2026-06-01"), "complaint", "", d("2026-07-05")),  # resolved after today
        ]
    )
    plan = contact_plan(frame, ["A", "B"], pd.Series({"A": 30, "B": 30}), today=TODAY)
    t = plan.table
    assert t.loc["A", "Complaints12m"] == 3
    assert t.loc["A", "OpenComplaints"] == 1
    assert t.loc["A", "ComplaintsClosed12m"] == 3
    assert t.loc["A", "AvgResolutionDays"] == pytest.approx((10 + 4 + 32) / 3)
    assert t.loc["A", "LastComplaint"] == d("2026-06-01")
    assert t.loc["B", "OpenComplaints"] == 1 and t.loc["B", "ComplaintsClosed12m"] == 0
    assert np.isnan(t.loc["B", "AvgResolutionDays"])
    assert plan.problems == []


def test_contact_plan_problems_have_their_cells() -> None:
    frame = interactions(
        [
            ("A", d("2026-06-01"), "email", "", None),  # row 2: unknown kind
            ("A", d("2026-06-01"), None, "", None),  # row 3: blank kind
            ("A", d("2026-06-01"), "complaint", "", "soon"),  # row 4: resolved not a date
            ("A", d("2026-06-01"), "complaint", "", d("2026-05-01")),  # row 5: before
            ("Q", d("2026-06-01"), "visit", "", None),  # row 6: unknown customer
            ("A", "next week", "visit", "", None),  # row 7: bad date
        ]
    )
    plan = contact_plan(frame, ["A"], pd.Series({"A": 30}), today=TODAY)
    cells = [(p.severity, p.cell) for p in plan.problems]
    assert cells == [
        ("warning", "A6"),
        ("error", "B7"),
        ("warning", "C2"),
        ("warning", "C3"),
        ("error", "E4"),
        ("error", "E5"),
    ]
    assert "'email' is not one of visit, call, complaint, service" in plan.problems[2].message
    assert plan.table.loc["A", "OpenComplaints"] == 2
    assert pd.isna(plan.table.loc["A", "LastContact"])
    with pytest.raises(InputError, match="no column Kind"):
        contact_plan(frame.drop(columns="Kind"), ["A"], [30], today=TODAY)
    with pytest.raises(InputError):
        contact_plan(frame, ["A"], [30], today=TODAY, contact_kinds=["email"])


# ----------------------------------------------------------------------------- dirty orders


def test_dirty_transactions_give_problems_with_their_cells() -> None:
    frame = tx(
        [
            ("A", d("2026-01-10"), 100.0, 10.0),  # row 2: fine
            ("A", d("2026-01-11"), "n/a", 1.0),  # row 3: amount text
            ("A", "yesterday", 50.0, 5.0),  # row 4: bad date
            ("ZZ9", d("2026-01-12"), 70.0, 7.0),  # row 5: unknown customer
            (None, d("2026-01-12"), 70.0, 7.0),  # row 6: blank ID
            (" A ", d("2026-01-13"), "1,200.50", 120.0),  # row 7: text number, accepted
            ("A", d("2026-07-02"), 80.0, 8.0),  # row 8: after today
            ("A", d("2025-01-13"), 60.0, "abc"),  # row 9: profit text (previous window)
            ("A", d("2026-01-14"), None, 5.0),  # row 10: blank amount
            ("ZZ9", d("2026-01-15"), 70.0, 7.0),  # row 11: the same unknown customer
        ],
        columns=("CustomerID", "Date", "Amount", "GrossProfit"),
    ).astype(object)
    m = order_metrics(frame, ["A"], today=TODAY)
    got = [(p.severity, p.sheet, p.cell) for p in m.problems]
    assert got == [
        ("error", "Transactions", "A6"),
        ("warning", "Transactions", "A5"),
        ("error", "Transactions", "B4"),
        ("warning", "Transactions", "B8"),
        ("error", "Transactions", "C10"),
        ("error", "Transactions", "C3"),
        ("error", "Transactions", "D9"),
    ]
    assert "'ZZ9' is not on Customers" in m.problems[1].message
    assert "its 2 rows are left out" in m.problems[1].message
    assert "'n/a' is not a number" in m.problems[5].message
    t = m.table.loc["A"]
    assert t["Revenue12m"] == pytest.approx(1300.5) and t["Orders12m"] == 2
    assert t["RevenuePrev12m"] == 60.0 and t["GrossProfit12m"] == 130.0

    # The same sheet with its header in row 3: every address moves down two rows.
    moved = order_metrics(frame, ["A"], today=TODAY, header_row=3)
    assert [p.cell for p in moved.problems] == ["A8", "A7", "B6", "B10", "C12", "C5", "D11"]


def test_empty_rows_are_not_problems() -> None:
    frame = tx(
        [("A", d("2026-01-10"), 100.0, 10.0), (None, None, None, None), ("", " ", None, None)]
    ).astype(object)
    m = order_metrics(frame, ["A"], today=TODAY)
    assert m.problems == [] and m.table.loc["A", "Orders"] == 1


def test_problems_are_capped_then_summarised() -> None:
    frame = tx([("A", d("2026-01-10"), "x", 1.0)] * 5).astype(object)
    m = order_metrics(frame, ["A"], today=TODAY, max_cell_problems=2)
    assert [p.cell for p in m.problems] == ["C2", "C3", None]
    assert m.problems[2].message.startswith("3 more amounts that are not numbers (5 in all")


def test_missing_columns_and_bad_today_raise() -> None:
    with pytest.raises(InputError, match="no column Amount") as err:
        order_metrics(tx([], columns=("CustomerID", "Date")), ["A"], today=TODAY)
    assert err.value.problems[0].cell == "1:1"
    with pytest.raises(InputError, match="today must be a date"):
        order_metrics(tx([]), ["A"], today="2026-06-30")  # type: ignore[arg-type]
    # Headers match ignoring case; a sheet with no columns at all is an empty ledger.
    lower = tx([("A", d("2026-01-10"), 5.0, 1.0)], columns=("customerid", "DATE", "amount", "x"))
    assert order_metrics(lower, ["A"], today=TODAY).table.loc["A", "Revenue12m"] == 5.0
    empty = order_metrics(pd.DataFrame(), ["A", "B"], today=TODAY).table
    assert list(empty["Orders"]) == [0, 0]


def test_negative_net_revenue_is_reported() -> None:
    frame = tx([("A", d("2026-01-10"), -300.0, -30.0), ("A", d("2026-02-10"), 100.0, 10.0)])
    m = order_metrics(frame, ["A"], today=TODAY)
    assert m.table.loc["A", "Revenue12m"] == -200.0
    assert np.isnan(m.table.loc["A", "GrowthRate"])
    assert m.table.loc["A", "GrowthNote"] == "no net purchases"
    [p] = m.problems
    assert p.severity == "warning" and "net revenue -200.00" in p.message


def test_duplicate_customer_ids_are_kept_in_place() -> None:
    frame = tx([("A", d("2026-01-10"), 100.0, 10.0)])
    t = order_metrics(frame, ["A", "B", "A"], today=TODAY).table
    assert list(t.index) == ["A", "B", "A"] and list(t["Orders"]) == [1, 0, 1]


# ----------------------------------------------------------------------------- demo ledger

demo = pytest.importorskip("xlcrm.demo")


@pytest.fixture(scope="module")
def ledger():
    return demo.make_ledger(400, seed=11, dirty=False)


def test_demo_ledger_derived_columns_match_the_generator(ledger) -> None:
    customers = ledger.customers.set_index("CustomerID")
    ids = ledger.customers["CustomerID"]
    m = order_metrics(ledger.transactions, ids, today=ledger.as_of)
    t = m.table
    assert m.problems == []
    np.testing.assert_allclose(t["Revenue12m"], customers["Revenue12m"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(t["GrossProfit12m"], customers["GrossProfit12m"], atol=1e-6)
    # The demo rounds unit profit from cents; ours is unrounded.
    np.testing.assert_allclose(t["UnitProfit"], customers["UnitProfit"], atol=0.0051)
    growth = t["GrowthRate"].round(4)
    defined = growth.notna()
    np.testing.assert_allclose(growth[defined], customers["PurchaseGrowth"][defined])
    # Undefined only without purchases in both windows (the demo writes -1 there).
    assert ((t["Revenue12m"] == 0) & (t["RevenuePrev12m"] == 0))[~defined].all()
    assert (customers["PurchaseGrowth"][~defined] == -1).all()
    # Invariants.
    has = t["Orders"] > 0
    assert has.all()  # every demo customer has at least one order
    for col in "RFM":
        assert t[col].between(1, 5).all()
    assert (t["Orders12m"] + t["OrdersPrev12m"] <= t["Orders"]).all()
    assert (t["LastOrder"] >= t["FirstOrder"]).all()
    assert (t["RecencyDays"] >= 0).all()
    assert set(t["RFMSegment"]) <= set(RFM_SEGMENTS)
    # The generator plants lapsed and fading customers: the warning must see some.
    risk = churn_risk(m, today=ledger.as_of)
    assert {"Low", "Medium", "High"} <= set(risk["ChurnRisk"])
    lapsed = (t["Revenue12m"] == 0) & (t["RevenuePrev12m"] > 0)
    assert lapsed.any() and (risk.loc[lapsed, "ChurnRisk"] == "High").all()


def test_demo_ledger_contact_plan(ledger) -> None:
    ids = ledger.customers["CustomerID"]
    interval = pd.Series(60.0, index=pd.Index(ids))
    plan = contact_plan(ledger.interactions, ids, interval, today=ledger.as_of)
    t = plan.table
    assert plan.problems == []
    assert t["Complaints12m"].sum() > 0 and t["ComplaintsClosed12m"].sum() > 0
    assert (t["AvgResolutionDays"].dropna() >= 0).all()
    due = t["NextContactDue"]
    contacted = t["LastContact"].notna()
    assert (due[contacted] - t["LastContact"][contacted] == pd.Timedelta(days=60)).all()
    assert (t["Overdue"] == (due <= pd.Timestamp(ledger.as_of))).all()
    # Complaints in the sheet agree with the plan's count.
    it = ledger.interactions
    window = (it["Date"] > pd.Timestamp(years_before(ledger.as_of, 1))) & (
        it["Date"] <= pd.Timestamp(ledger.as_of)
    )
    assert t["Complaints12m"].sum() == ((it["Kind"] == "complaint") & window).sum()


def test_cells_agree_with_the_sheet_reader() -> None:
    """A Transactions sheet read by xlcrm.book.read: our addresses are the reader's."""
    read = pytest.importorskip("xlcrm.book.read")
    rows = [
        ["CustomerID", "Date", "Amount", "GrossProfit"],
        [1001.0, dt.datetime(2026, 1, 10), 100.0, 10.0],
        ["1001", dt.datetime(2026, 1, 11), "about 50", 5.0],
        ["C9", dt.datetime(2026, 1, 12), 70.0, 7.0],
        ["1001", "", 80.0, 8.0],
    ]
    table = read.table_from_rows("Transactions", rows, text_columns=("CustomerID",))
    m = order_metrics(table.frame, ["1001"], today=TODAY)
    expected = [
        ("warning", table.address(4, "CustomerID")),
        ("error", table.address(5, "Date")),
        ("error", table.address(3, "Amount")),
    ]
    assert [(p.severity, p.cell) for p in m.problems] == expected == [
        ("warning", "A4"), ("error", "B5"), ("error", "C3")
    ]
    assert m.table.loc["1001", "Revenue12m"] == 100.0
