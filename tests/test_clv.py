"""Lifetime value (xlcrm.operations.clv) against published estimates and on B2B-shaped ledgers.

Known answers on the CDNOW 1/10 sample (tests/data/CDNOW_sample.txt, from the `lifetimes`
wheel on PyPI; see tests/data/README.md): calibration to 1997-09-30, purchases on one day
merged, weeks as the unit, as Fader, Hardie & Lee (2005) count repeat purchases.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fixtures.orders import as_range, order_ledger

from xlcrm.errors import InputError
from xlcrm.operations import clv
from xlcrm.operations.orders import order_metrics

DATA = Path(__file__).parent / "data" / "CDNOW_sample.txt"
CALIBRATION_END = pd.Timestamp("1997-09-30")
HOLDOUT_END = pd.Timestamp("1998-06-30")


@pytest.fixture(scope="module")
def cdnow() -> dict:
    names = ["master", "id", "date", "cds", "amount"]
    raw = pd.read_csv(DATA, sep=r"\s+", header=None, names=names)
    raw["day"] = pd.to_datetime(raw["date"].astype(str), format="%Y%m%d")
    days = raw.groupby(["id", "day"], as_index=False)["amount"].sum()
    cal = days[days["day"] <= CALIBRATION_END]
    first = cal.groupby("id")["day"].min()
    last = cal.groupby("id")["day"].max()
    x = cal.groupby("id").size() - 1
    history = pd.DataFrame({
        "x": x.astype(float),
        "t_x": (last - first).dt.days / 7,
        "T": (CALIBRATION_END - first).dt.days / 7,
    })  # fmt: skip
    repeat = cal.merge(first.rename("first"), left_on="id", right_index=True)
    repeat = repeat[repeat["day"] > repeat["first"]]
    history["mean_spend"] = repeat.groupby("id")["amount"].mean().reindex(history.index)
    hold = days[(days["day"] > CALIBRATION_END) & (days["day"] <= HOLDOUT_END)]
    return {"raw": raw, "history": history, "holdout": hold.groupby("id").size()}


def test_cdnow_sample_is_the_published_one(cdnow: dict) -> None:
    h = cdnow["history"]
    assert len(h) == 2357 and int((h["x"] > 0).sum()) == 946


def test_bgnbd_matches_fader_hardie_lee_2005(cdnow: dict) -> None:
    h = cdnow["history"]
    fit = clv.fit_purchases(h["x"], h["t_x"], h["T"])
    assert fit.usable
    assert (round(fit.r, 3), round(fit.alpha, 3), round(fit.a, 3), round(fit.b, 3)) == (
        0.243, 4.414, 0.793, 2.426
    )
    assert fit.log_likelihood == pytest.approx(-9582.4, abs=0.05)


def test_mbgnbd_matches_the_cdnow_estimates_of_lifetimes(cdnow: dict) -> None:
    """No paper fits MBG/NBD to CDNOW; lifetimes' test suite states these estimates."""
    h = cdnow["history"]
    fit = clv.fit_purchases(h["x"], h["t_x"], h["T"], model="mbg")
    assert fit.usable
    assert (round(fit.r, 3), round(fit.alpha, 3), round(fit.a, 3), round(fit.b, 3)) == (
        0.525, 6.183, 0.891, 1.614
    )


def test_gamma_gamma_matches_fader_hardie_2013(cdnow: dict) -> None:
    h = cdnow["history"]
    fit = clv.fit_spend(h["x"], h["mean_spend"])
    assert fit.usable and fit.customers == 946
    assert (round(fit.p, 2), round(fit.q, 2), round(fit.gamma, 2)) == (6.25, 3.74, 15.44)
    assert fit.log_likelihood == pytest.approx(-4055.92, abs=0.005)


def test_holdout_predictions_track_the_actual_orders(cdnow: dict) -> None:
    """39 holdout weeks: the aggregate within 15 %, and the means rise with past orders."""
    h = cdnow["history"]
    fit = clv.fit_purchases(h["x"], h["t_x"], h["T"])
    table, error = clv.holdout_check(fit, h, cdnow["holdout"], weeks=39)
    assert abs(error) < 0.15
    assert table["customers"].sum() == 2357
    assert table["predicted"].is_monotonic_increasing
    assert np.all(np.abs(table["predicted"] - table["actual"]) < 0.5 * table["actual"] + 0.1)


def test_model_invariants(cdnow: dict) -> None:
    h = cdnow["history"]
    bg = clv.fit_purchases(h["x"], h["t_x"], h["T"])
    mbg = clv.fit_purchases(h["x"], h["t_x"], h["T"], model="mbg")
    # BG/NBD: a one-order customer has not had a chance to drop out; MBG/NBD: it has.
    assert bg.p_alive(np.array([0.0]), np.array([0.0]), np.array([30.0]))[0] == 1.0
    assert mbg.p_alive(np.array([0.0]), np.array([0.0]), np.array([30.0]))[0] < 1.0
    # the longer the silence since the last order, the less likely the customer is active
    silence = bg.p_alive(np.full(3, 5.0), np.full(3, 10.0), np.array([12.0, 30.0, 60.0]))
    assert np.all(np.diff(silence) < 0)
    more = bg.expected_orders(52, np.full(3, 5.0), np.full(3, 30.0), np.full(3, 32.0))
    less = bg.expected_orders(26, np.full(3, 5.0), np.full(3, 30.0), np.full(3, 32.0))
    assert np.all(more > less) and np.all(less > 0)


def test_ledger_lifetime_value_follows_activitys_orders() -> None:
    orders, ids = order_ledger(400)
    today = dt.date(2025, 12, 1)
    metrics = order_metrics(orders, ids, today=today)
    result = clv.lifetime_value(metrics.table, today, horizon_months=12, discount_rate=0.1)
    t = result.table
    assert list(t.columns) == list(clv.CLV_COLUMNS)
    assert result.purchases is not None and result.purchases.usable, result.problems
    assert math.isnan(t.loc["NOHISTORY", "PAlive"]) and math.isnan(t.loc["NOHISTORY", "CLV"])
    scored = t[metrics.table["Orders"] > 0]
    assert t.loc[metrics.table["Orders"] == 0, "PAlive"].isna().all()
    assert scored["PAlive"].between(0, 1).all() and (scored["ExpectedOrders"] >= 0).all()
    assert (scored["CLV"] >= 0).all()
    # the margin is the ledger's own 25 % gross profit: CLV is a quarter of expected revenue
    undiscounted = clv.lifetime_value(metrics.table, today, discount_rate=0.0).table
    revenue = undiscounted["ExpectedOrders"] * undiscounted["ExpectedOrderValue"]
    ratio = (undiscounted["CLV"] / revenue).dropna()
    assert ratio.between(0.2499, 0.2501).all()
    # x counts order days: several lines on one day are one purchase, credit notes none
    hist = clv.purchase_history(metrics.table, today)
    days = orders[orders["Amount"] > 0].groupby("CustomerID")["Date"].nunique()
    assert hist["x"].dropna().equals((days - 1).astype(float).reindex(hist["x"].dropna().index))
    # lapsed customers are explained in words
    low = scored[scored["PAlive"] < clv.LOW_P_ALIVE]
    assert len(low) > 0 and low["CLVNote"].str.startswith("last order ").all()


def test_small_ledger_says_why_and_leaves_figures_blank() -> None:
    orders, ids = order_ledger(8)
    today = dt.date(2025, 12, 1)
    metrics = order_metrics(orders, ids, today=today)
    result = clv.lifetime_value(metrics.table, today)
    assert result.table[["PAlive", "ExpectedOrders", "CLV"]].isna().all().all()
    assert len(result.problems) >= 1
    assert all("\n" not in p.message and "needed" in p.message for p in result.problems)


def test_one_order_customers_only_cannot_identify_reordering() -> None:
    ids = [f"C{i}" for i in range(50)]
    days = [dt.date(2025, 1, 1 + i % 28) for i in range(50)]
    orders = pd.DataFrame({"CustomerID": ids, "Date": days, "Amount": 100.0})
    metrics = order_metrics(orders, ids, today=dt.date(2025, 12, 1))
    result = clv.lifetime_value(metrics.table, dt.date(2025, 12, 1))
    assert not result.purchases.usable
    assert "0 customers ordered more than once" in result.problems[0].message
    assert result.table["CLV"].isna().all()


def test_penalty_steadies_a_small_ledger() -> None:
    """60 customers: plain maximum likelihood runs b to its bound (the data cannot tell how
    drop-out varies across customers) and is refused; a small penalty gives a usable fit."""
    orders, ids = order_ledger(60, seed=7)
    today = dt.date(2025, 12, 1)
    hist = clv.purchase_history(order_metrics(orders, ids, today=today).table, today).dropna(
        subset=["x"]
    )
    plain = clv.fit_purchases(hist["x"], hist["t_x"], hist["T"])
    steady = clv.fit_purchases(hist["x"], hist["t_x"], hist["T"], penalty=0.1)
    assert not plain.usable and "reached its bound" in plain.message
    assert steady.usable and max(steady.r, steady.alpha, steady.a, steady.b) < 10
    assert steady.log_likelihood < plain.log_likelihood  # the penalty costs likelihood


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [({"horizon_months": 0}, "horizon"), ({"margin": 25}, "margin"),
     ({"discount_rate": 1.5}, "discount"), ({"model": "pareto"}, "model")],  # fmt: skip
)
def test_bad_options_are_one_line(kwargs: dict, words: str) -> None:
    orders, ids = order_ledger(30)
    metrics = order_metrics(orders, ids, today=dt.date(2025, 12, 1))
    with pytest.raises(InputError, match=words) as err:
        clv.lifetime_value(metrics.table, dt.date(2025, 12, 1), **kwargs)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("days", "text"),
    [(3, "3 days"), (1, "1 day"), (42, "6 weeks"), (425, "14 months"), (1000, "2.7 years")],
)
def test_spans_read_like_a_sales_analyst_says_them(days: float, text: str) -> None:
    assert clv._span(days) == text


def test_worksheet_function_agrees_with_the_core() -> None:
    import udfs

    orders, ids = order_ledger(120, seed=3)
    today = dt.date(2025, 12, 1)
    cells = [[i] for i in ids] + [[None]]
    out = udfs.CRM_CLV(cells, as_range(orders), dt.datetime(2025, 12, 1), 6, None, 0.08)
    core = clv.lifetime_value(order_metrics(orders, ids, today=today).table, today,
                              horizon_months=6, discount_rate=0.08).table  # fmt: skip
    assert len(out) == len(cells) and out[-1] == [None, None, None]
    for (cid,), row in zip(cells[:-1], out[:-1], strict=True):
        want = core.loc[cid, ["PAlive", "ExpectedOrders", "CLV"]].to_numpy(dtype=float)
        got = np.array([np.nan if v is None else v for v in row], dtype=float)
        np.testing.assert_allclose(got, want, rtol=1e-12, equal_nan=True)


@pytest.mark.parametrize(
    ("args", "words"),
    [((None, None, 1.5), "whole number"), ((None, None, 12, "lots"), "margin"),
     ((None, None, None, None, None, "pareto"), "model")],  # fmt: skip
)
def test_worksheet_function_messages_are_one_line(args: tuple, words: str) -> None:
    import udfs

    orders, ids = order_ledger(60)
    out = udfs.CRM_CLV([[i] for i in ids], as_range(orders), *args[1:])
    assert isinstance(out, str) and out.startswith("#CLV") and words in out and "\n" not in out


@pytest.mark.parametrize("model", clv.MODELS)
def test_likelihood_gradients_match_finite_differences(model: str) -> None:
    """The fits use analytic gradients: each must agree with the likelihood it belongs to."""
    from scipy.optimize import approx_fprime

    rng = np.random.default_rng(2)
    x = rng.integers(0, 8, 300).astype(float)
    age = rng.uniform(10, 60, 300)
    t_x = np.where(x > 0, age * rng.uniform(0, 1, 300), 0.0)
    w = rng.integers(1, 3, 300).astype(float)
    counts = clv._Counts(x)
    p0 = np.array([0.7, 5.0, 0.8, 2.5])
    _, grad = clv._purchase_loglik(p0, model, counts, t_x, age, w)
    numeric = approx_fprime(p0, lambda p: clv._purchase_loglik(p, model, counts, t_x, age, w)[0])
    np.testing.assert_allclose(grad, numeric, rtol=1e-5)
    spend = rng.gamma(3, 10, 300) + 1
    _, grad = clv._spend_loglik(np.array([6.0, 3.7, 15.0]), x + 1, spend)
    numeric = approx_fprime(np.array([6.0, 3.7, 15.0]),
                            lambda p: clv._spend_loglik(p, x + 1, spend)[0])  # fmt: skip
    np.testing.assert_allclose(grad, numeric, rtol=1e-5)


def test_fits_do_not_depend_on_the_currency_or_time_unit(cdnow: dict) -> None:
    """Amounts in cents and times in days give the same model, rescaled: no search bound
    or penalty may depend on the units a ledger happens to use."""
    h = cdnow["history"]
    weeks = clv.fit_purchases(h["x"], h["t_x"], h["T"])
    days = clv.fit_purchases(h["x"], h["t_x"] * 7, h["T"] * 7)
    assert days.alpha == pytest.approx(7 * weeks.alpha, rel=1e-4)
    assert (days.r, days.a, days.b) == pytest.approx((weeks.r, weeks.a, weeks.b), rel=1e-4)
    dollars = clv.fit_spend(h["x"], h["mean_spend"])
    cents = clv.fit_spend(h["x"], h["mean_spend"] * 1000)  # as if in tenths of a cent
    assert cents.usable and cents.gamma == pytest.approx(1000 * dollars.gamma, rel=1e-4)
    assert (cents.p, cents.q) == pytest.approx((dollars.p, dollars.q), rel=1e-4)
