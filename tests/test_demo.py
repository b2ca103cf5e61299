"""The synthetic demo ledger: shape, determinism, realism, consistency and planted problems."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.stats import spearmanr

from xlcrm import schema
from xlcrm.demo import (
    CREDIT_RATING_LABELS,
    DEFAULT_TODAY,
    GROWTH_CAP,
    INDUSTRY_OUTLOOK_LABELS,
    INTERACTION_KINDS,
    OPERATING_STATUS_LABELS,
    PLANTED_PROBLEMS,
    DemoLedger,
    growth_rate,
    make_customers,
    make_ledger,
    plant_problems,
)
from xlcrm.errors import InputError, column_letter
from xlcrm.ledger import Ledger

CUSTOMER_COLUMNS = list(schema.CUSTOMER_IDENTITY_COLUMNS + schema.DEFAULT_INDICATOR_COLUMNS)
QUESTIONS = [f"Q{i}" for i in range(1, 7)]
NUMERIC = [
    "Employees",
    "EquipmentValue",
    "PurchaseGrowth",
    "WalletHeadroom",
    "Satisfaction",
    "Revenue12m",
    "GrossProfit12m",
    "UnitProfit",
    "DaysToPay",
]
DIRECT = list(schema.CUSTOMER_IDENTITY_COLUMNS) + [
    "OperatingStatus",
    "Employees",
    "EquipmentValue",
    "CreditRating",
    "IndustryOutlook",
    "DaysToPay",
]


@pytest.fixture(scope="module")
def clean() -> DemoLedger:
    return make_ledger(dirty=False)


@pytest.fixture(scope="module")
def dirty() -> DemoLedger:
    return make_ledger()


@pytest.fixture(scope="module")
def big() -> DemoLedger:
    return make_ledger(20_000, seed=3, dirty=False)


# ----------------------------------------------------------------------------------------
# Independent re-computation of the derived columns, from the tables alone


def cents(values: pd.Series) -> pd.Series:
    return (values * 100).round().astype(np.int64)


def windows(ledger: DemoLedger) -> tuple[pd.Series, pd.Series]:
    today = pd.Timestamp(ledger.as_of)
    date = ledger.transactions["Date"]
    last = (date > today - pd.DateOffset(years=1)) & (date <= today)
    prev = (date > today - pd.DateOffset(years=2)) & (date <= today - pd.DateOffset(years=1))
    return last, prev


def per_customer(ledger: DemoLedger, values: pd.Series, mask: pd.Series) -> pd.Series:
    ids = ledger.customers["CustomerID"]
    tx = ledger.transactions
    return values[mask].groupby(tx["CustomerID"][mask]).sum().reindex(ids, fill_value=0)


def check_consistency(ledger: DemoLedger) -> None:
    c = ledger.customers.set_index("CustomerID")
    tx = ledger.transactions
    last, prev = windows(ledger)
    rev = per_customer(ledger, cents(tx["Amount"]), last)
    rev_prev = per_customer(ledger, cents(tx["Amount"]), prev)
    gp = per_customer(ledger, cents(tx["GrossProfit"]), last)
    orders = per_customer(ledger, pd.Series(1, index=tx.index), last)

    # To the cent.
    np.testing.assert_array_equal(cents(c["Revenue12m"]).to_numpy(), rev.to_numpy())
    np.testing.assert_array_equal(cents(c["GrossProfit12m"]).to_numpy(), gp.to_numpy())
    unit = np.where(orders > 0, gp / orders.clip(lower=1) / 100, 0.0)
    assert np.abs(c["UnitProfit"].to_numpy() - unit).max() <= 0.005 + 1e-9

    # Growth as documented: capped ratio; new -> cap; nothing in the last 12 months -> -1.
    cur, before = rev.to_numpy(), rev_prev.to_numpy()
    expected = np.select(
        [cur == 0, before == 0],
        [-1.0, GROWTH_CAP],
        np.minimum((cur - before) / np.where(before > 0, before, 1), GROWTH_CAP),
    )
    assert np.abs(c["PurchaseGrowth"].to_numpy() - expected).max() <= 5e-5 + 1e-12

    # Satisfaction: the mean of all the customer's answers; blank without a questionnaire.
    sv = ledger.survey
    mean = sv.set_index("CustomerID")[QUESTIONS].stack().groupby(level=0).mean()
    sat = c["Satisfaction"]
    assert set(sat.dropna().index) == set(mean.index)
    assert np.abs(sat[mean.index].to_numpy() - mean.to_numpy()).max(initial=0) <= 0.005 + 1e-9

    head = c["WalletHeadroom"]
    assert (head >= 0).all() and (head % 1000 == 0).all()


def cronbach_alpha(items: pd.DataFrame) -> float:
    x = items.to_numpy(float)
    k = x.shape[1]
    return k / (k - 1) * (1 - x.var(axis=0, ddof=1).sum() / x.sum(axis=1).var(ddof=1))


def top20_share(revenue: pd.Series) -> float:
    r = np.sort(revenue.to_numpy(float))[::-1]
    return r[: int(np.ceil(0.2 * r.size))].sum() / r.sum()


# ----------------------------------------------------------------------------------------
# Shape


def test_tables_have_exactly_the_schema_columns(dirty: DemoLedger) -> None:
    assert isinstance(dirty, Ledger)
    assert list(dirty.customers.columns) == CUSTOMER_COLUMNS
    assert list(dirty.transactions.columns) == list(schema.TRANSACTION_COLUMNS)
    assert list(dirty.interactions.columns) == list(schema.INTERACTION_COLUMNS)
    assert list(dirty.survey.columns) == list(schema.SURVEY_ID_COLUMNS) + QUESTIONS


def test_default_ledger_size_and_ids(clean: DemoLedger) -> None:
    c = clean.customers
    assert len(c) == 300
    assert c["CustomerID"].is_unique
    assert all(re.fullmatch(r"C\d{4}", i) for i in c["CustomerID"])
    assert c["Name"].is_unique
    # "A few thousand" orders, every customer has one, and every row names a customer.
    assert 2_000 <= len(clean.transactions) <= 6_000
    assert set(clean.transactions["CustomerID"]) == set(c["CustomerID"])
    assert set(clean.interactions["CustomerID"]) <= set(c["CustomerID"])
    assert clean.survey["CustomerID"].is_unique
    assert 2 <= c["AccountManager"].nunique() <= 8


def test_column_types(clean: DemoLedger) -> None:
    c = clean.customers
    for column in schema.CUSTOMER_IDENTITY_COLUMNS + (
        "OperatingStatus",
        "CreditRating",
        "IndustryOutlook",
    ):
        assert pd.api.types.is_string_dtype(c[column]), column
    for column in NUMERIC:
        assert pd.api.types.is_numeric_dtype(c[column]), column
    for table, column in (
        (clean.transactions, "Date"),
        (clean.interactions, "Date"),
        (clean.interactions, "ResolvedDate"),
        (clean.survey, "Date"),
    ):
        assert pd.api.types.is_datetime64_dtype(table[column]), column
    assert pd.api.types.is_integer_dtype(clean.transactions["Quantity"])
    assert all(pd.api.types.is_integer_dtype(clean.survey[q]) for q in QUESTIONS)


def test_dates_lie_in_the_history_on_weekdays(clean: DemoLedger) -> None:
    today = pd.Timestamp(DEFAULT_TODAY)
    first = today - pd.DateOffset(months=36)
    for table in (clean.transactions, clean.interactions, clean.survey):
        d = table["Date"]
        assert d.max() <= today and d.min() > first - pd.Timedelta(days=3)
        assert (d.dt.day_of_week < 5).all()
    assert clean.as_of == DEFAULT_TODAY
    assert clean.transactions["Date"].is_monotonic_increasing


def test_other_today_and_history_length() -> None:
    today = dt.date(2025, 3, 16)
    led = make_ledger(80, seed=2, today=today, months=24, dirty=False)
    assert led.as_of == today
    d = led.transactions["Date"]
    assert d.max() <= pd.Timestamp(today)
    assert d.min() > pd.Timestamp(today) - pd.DateOffset(months=24) - pd.Timedelta(days=3)
    check_consistency(led)


def test_orders_per_customer_scales_the_history() -> None:
    led = make_ledger(2_000, orders_per_customer=2.8, dirty=False)
    assert 2.4 <= len(led.transactions) / 2_000 <= 3.2
    check_consistency(led)


def test_without_history() -> None:
    led = make_ledger(500, seed=4, history=False)
    assert len(led.customers) == 500
    for table, columns in (
        (led.transactions, schema.TRANSACTION_COLUMNS),
        (led.interactions, schema.INTERACTION_COLUMNS),
        (led.survey, schema.SURVEY_ID_COLUMNS + tuple(QUESTIONS)),
    ):
        assert table.empty and list(table.columns) == list(columns)
    pd.testing.assert_frame_equal(led.customers, make_customers(500, seed=4))
    assert len(led.planted_problems) == len(PLANTED_PROBLEMS)


# ----------------------------------------------------------------------------------------
# Determinism


def test_same_seed_same_ledger(dirty: DemoLedger) -> None:
    again = make_ledger()
    for name in ("customers", "transactions", "interactions", "survey"):
        pd.testing.assert_frame_equal(getattr(dirty, name), getattr(again, name))
    assert again.planted_problems == dirty.planted_problems


def test_other_seed_other_ledger(dirty: DemoLedger) -> None:
    other = make_ledger(seed=8)
    assert not other.customers["Name"].equals(dirty.customers["Name"])
    assert not other.customers["Revenue12m"].equals(dirty.customers["Revenue12m"])
    assert len(other.transactions) != len(dirty.transactions) or not other.transactions.equals(
        dirty.transactions
    )


def test_make_customers_is_deterministic_and_shares_the_direct_columns() -> None:
    a = make_customers(1_000, seed=11)
    pd.testing.assert_frame_equal(a, make_customers(1_000, seed=11))
    assert not a.equals(make_customers(1_000, seed=12))
    ledger = make_ledger(1_000, seed=11).customers
    assert list(a.columns) == CUSTOMER_COLUMNS
    pd.testing.assert_frame_equal(a[DIRECT], ledger[DIRECT])


# ----------------------------------------------------------------------------------------
# Realism


@pytest.mark.parametrize("seed", [7, 1, 2])
def test_revenue_is_long_tailed(seed: int) -> None:
    revenue = make_ledger(seed=seed, dirty=False).customers["Revenue12m"]
    assert 0.6 <= top20_share(revenue) <= 0.9


def test_revenue_concentration_at_scale(big: DemoLedger) -> None:
    assert 0.65 <= top20_share(big.customers["Revenue12m"]) <= 0.85
    summary = make_customers(20_000, seed=3, dirty=False)["Revenue12m"]
    assert 0.65 <= top20_share(summary) <= 0.85


def test_indicators_are_correlated_through_size_and_health(big: DemoLedger) -> None:
    c = big.customers
    assert spearmanr(c["Employees"], c["EquipmentValue"])[0] > 0.7
    active = c[c["Revenue12m"] > 0]
    assert spearmanr(active["Employees"], active["Revenue12m"])[0] > 0.5
    assert spearmanr(active["Revenue12m"], active["GrossProfit12m"])[0] > 0.9
    # Worse rating and status (higher rank here) go with slower payment.
    rating = c["CreditRating"].map({lab: i for i, lab in enumerate(CREDIT_RATING_LABELS)})
    status = c["OperatingStatus"].map({lab: i for i, lab in enumerate(OPERATING_STATUS_LABELS)})
    assert spearmanr(rating, c["DaysToPay"])[0] > 0.5
    assert spearmanr(status, c["DaysToPay"])[0] > 0.5
    assert spearmanr(rating, status)[0] > 0.5


def test_labels_cover_the_rubrics(big: DemoLedger) -> None:
    c = big.customers
    for column, labels in (
        ("OperatingStatus", OPERATING_STATUS_LABELS),
        ("CreditRating", CREDIT_RATING_LABELS),
        ("IndustryOutlook", INDUSTRY_OUTLOOK_LABELS),
    ):
        shares = c[column].value_counts(normalize=True)
        assert set(shares.index) == set(labels), column
        assert shares.min() > 0.03, column
    assert set(c["Industry"]) >= {"Construction", "Mining", "Logistics", "Municipal"}


def test_lifecycle_has_lapsed_new_and_fading_customers(big: DemoLedger) -> None:
    c = big.customers.set_index("CustomerID")
    tx = big.transactions
    today = pd.Timestamp(big.as_of)
    year_ago = today - pd.DateOffset(years=1)
    first = tx.groupby("CustomerID")["Date"].min()
    last = tx.groupby("CustomerID")["Date"].max()

    lapsed = last <= year_ago
    assert 0.08 <= lapsed.mean() <= 0.25
    assert (c.loc[lapsed[lapsed].index, "Revenue12m"] == 0).all()
    assert (c.loc[lapsed[lapsed].index, "PurchaseGrowth"] == -1).all()

    new = first > year_ago
    assert 0.06 <= new.mean() <= 0.2
    assert (c.loc[new[new].index, "PurchaseGrowth"] == GROWTH_CAP).all()

    fading = (last < today - pd.Timedelta(days=90)) & ~lapsed
    assert fading.mean() >= 0.05


def test_growth_spreads_both_ways(big: DemoLedger) -> None:
    g = big.customers["PurchaseGrowth"]
    assert g.between(-1, GROWTH_CAP).all()
    inner = g[(g > -1) & (g < GROWTH_CAP)]
    assert len(inner) > 0.5 * len(g)
    assert (inner < 0).mean() > 0.2 and (inner > 0).mean() > 0.2


def test_interactions(big: DemoLedger) -> None:
    it = big.interactions
    assert set(it["Kind"]) == set(INTERACTION_KINDS)
    contact = it["Kind"].isin(["visit", "call"])
    assert it.loc[contact, "ResolvedDate"].isna().all()
    complaints = it[it["Kind"] == "complaint"]
    open_ = complaints["ResolvedDate"].isna()
    assert open_.sum() > 0 and (~open_).sum() > 10 * open_.sum()
    closed = complaints[~open_]
    days = (closed["ResolvedDate"] - closed["Date"]).dt.days
    assert days.min() >= 1 and 2 <= days.median() <= 14
    assert (closed["ResolvedDate"] <= pd.Timestamp(big.as_of)).all()
    assert complaints.loc[open_, "Outcome"].str.contains("open").all()
    assert not complaints.loc[~open_, "Outcome"].str.contains("open").any()
    # Each visit names the customer's own account manager.
    visits = it[it["Kind"] == "visit"].merge(big.customers[["CustomerID", "AccountManager"]])
    named = [m in o for m, o in zip(visits["AccountManager"], visits["Outcome"], strict=True)]
    assert all(named)


def test_survey_is_a_consistent_questionnaire(big: DemoLedger) -> None:
    sv = big.survey
    assert 0.3 <= len(sv) / len(big.customers) <= 0.5
    answers = sv[QUESTIONS]
    assert answers.isin([1, 2, 3, 4, 5]).all().all()
    assert 0.75 <= cronbach_alpha(answers) <= 0.87
    # Complaints lower satisfaction.
    counts = big.interactions.query("Kind == 'complaint'").groupby("CustomerID").size()
    c = big.customers.set_index("CustomerID")
    sat = c["Satisfaction"].dropna()
    assert spearmanr(sat, counts.reindex(sat.index, fill_value=0))[0] < -0.1


def test_small_survey_alpha_is_near_point_eight(clean: DemoLedger) -> None:
    assert 0.65 <= cronbach_alpha(clean.survey[QUESTIONS]) <= 0.92


# ----------------------------------------------------------------------------------------
# Consistency of the derived columns with the tables


def test_derived_columns_match_the_history(clean: DemoLedger) -> None:
    check_consistency(clean)


def test_derived_columns_match_the_history_at_scale(big: DemoLedger) -> None:
    check_consistency(big)


def test_transactions_are_plausible(clean: DemoLedger) -> None:
    tx = clean.transactions
    assert (tx["Amount"] > 0).all() and (tx["Quantity"] >= 1).all()
    assert ((tx["GrossProfit"] > 0) & (tx["GrossProfit"] < tx["Amount"])).all()
    assert (cents(tx["Amount"]) / 100 == tx["Amount"]).all()
    assert tx["Product"].nunique() > 10


def test_growth_rate_rule() -> None:
    got = growth_rate(
        np.array([150.0, 50.0, 500.0, 10.0, 0.0, 0.0]), np.array([100, 100, 100, 0, 5, 0])
    )
    np.testing.assert_allclose(got, [0.5, -0.5, GROWTH_CAP, GROWTH_CAP, -1.0, -1.0])


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(1, 60),
    seed=st.integers(0, 2**32 - 1),
    months=st.integers(24, 48),
    orders=st.floats(1.0, 25.0),
    today=st.dates(dt.date(2020, 1, 1), dt.date(2035, 12, 31)),
)
def test_any_small_ledger_is_consistent(
    n: int, seed: int, months: int, orders: float, today: dt.date
) -> None:
    led = make_ledger(
        n, seed=seed, months=months, orders_per_customer=orders, today=today, dirty=False
    )
    assert list(led.customers.columns) == CUSTOMER_COLUMNS
    assert len(led.customers) == n
    assert set(led.transactions["CustomerID"]) == set(led.customers["CustomerID"])
    assert led.transactions["Date"].max() <= pd.Timestamp(today)
    it = led.interactions
    assert (it["ResolvedDate"].dropna() >= it.loc[it["ResolvedDate"].notna(), "Date"]).all()
    check_consistency(led)


# ----------------------------------------------------------------------------------------
# Planted problems


def differing_cells(a: pd.DataFrame, b: pd.DataFrame) -> set[tuple[int, str]]:
    out = set()
    for column in a.columns:
        x, y = a[column].astype(object), b[column].astype(object)
        same = (x == y) | (x.isna() & y.isna())
        out |= {(int(r), column) for r in np.flatnonzero(~same.to_numpy(bool))}
    return out


def test_planted_problems_are_exactly_the_listed_cells(
    dirty: DemoLedger, clean: DemoLedger
) -> None:
    planted = dirty.planted_problems
    assert [(p.kind, p.column) for p in planted] == [(k, c) for k, c, *_ in PLANTED_PROBLEMS]
    assert len({p.row for p in planted}) == len(planted)
    assert differing_cells(dirty.customers, clean.customers) == {(p.row, p.column) for p in planted}
    for name in ("transactions", "interactions", "survey"):
        pd.testing.assert_frame_equal(getattr(dirty, name), getattr(clean, name))

    c = dirty.customers
    for p in planted:
        cell = c[p.column].iat[p.row]
        assert p.customer_id == c["CustomerID"].iat[p.row]
        assert p.original == clean.customers[p.column].iat[p.row]
        assert p.sheet == schema.CUSTOMERS
        # Header in row 1, so DataFrame row r sits on sheet row r + 2.
        letters = column_letter(CUSTOMER_COLUMNS.index(p.column))
        assert p.cell == f"{letters}{p.row + 2}"
        if p.kind == "blank":
            assert p.value is None and pd.isna(cell)
        else:
            assert cell == p.value


def test_planted_kinds(dirty: DemoLedger) -> None:
    by_kind = {}
    for p in dirty.planted_problems:
        by_kind.setdefault(p.kind, []).append(p)
    assert {p.column for p in by_kind["blank"]} == {
        "EquipmentValue",
        "OperatingStatus",
        "WalletHeadroom",
    }
    assert {(p.column, p.value) for p in by_kind["text-in-number"]} == {
        ("Employees", "approx 200"),
        ("DaysToPay", "n/a"),
    }
    assert {(p.column, p.value) for p in by_kind["unknown-label"]} == {
        ("OperatingStatus", "Very good"),
        ("CreditRating", "aa+"),
    }
    assert [(p.column, p.value) for p in by_kind["negative"]] == [("Employees", -5)]
    (formula,) = by_kind["formula-text"]
    assert formula.value.startswith("=HYPERLINK(") and not formula.reported
    assert dirty.customers["Name"].iat[formula.row] == formula.value
    (variant,) = by_kind["label-variant"]
    assert not variant.reported
    assert variant.value != variant.original
    assert variant.value.strip().upper() == variant.original
    assert all(
        p.reported
        for p in dirty.planted_problems
        if p.kind not in {"formula-text", "label-variant"}
    )


def test_dirty_columns_read_like_a_sheet(dirty: DemoLedger) -> None:
    c = dirty.customers
    texts = {
        column: [v for v in c[column] if isinstance(v, str)]
        for column in ("Employees", "DaysToPay")
    }
    assert texts == {"Employees": ["approx 200"], "DaysToPay": ["n/a"]}
    numbers = pd.to_numeric(c["Employees"], errors="coerce")
    assert (numbers < 0).sum() == 1
    labels = set(OPERATING_STATUS_LABELS)
    assert set(c["OperatingStatus"].dropna()) - labels == {"Very good"}
    assert c["OperatingStatus"].isna().sum() == 1


def test_clean_ledger_has_no_problems(clean: DemoLedger) -> None:
    c = clean.customers
    assert clean.planted_problems == ()
    assert set(c["OperatingStatus"]) <= set(OPERATING_STATUS_LABELS)
    assert set(c["CreditRating"]) <= set(CREDIT_RATING_LABELS)
    assert set(c["IndustryOutlook"]) <= set(INDUSTRY_OUTLOOK_LABELS)
    # The only blanks: satisfaction of customers who returned no questionnaire.
    blanks = c.isna().sum()
    assert blanks.drop("Satisfaction").sum() == 0
    assert blanks["Satisfaction"] == len(c) - len(clean.survey)
    nonneg = [col for col in NUMERIC if col != "PurchaseGrowth"]
    assert (c[nonneg].fillna(0) >= 0).all().all()
    assert not c["Name"].str.startswith(("=", "+", "-", "@")).any()
    assert (c["Employees"] >= 1).all()


def test_plant_problems_helper_matches_make_customers() -> None:
    clean = make_customers(400, seed=5, dirty=False)
    dirty, planted = plant_problems(clean, seed=5)
    pd.testing.assert_frame_equal(dirty, make_customers(400, seed=5))
    assert len(planted) == len(PLANTED_PROBLEMS)
    assert differing_cells(dirty, clean) == {(p.row, p.column) for p in planted}
    # The input is left alone.
    pd.testing.assert_frame_equal(clean, make_customers(400, seed=5, dirty=False))


def test_tiny_ledger_plants_what_fits() -> None:
    led = make_ledger(3, seed=1)
    assert [(p.kind, p.column) for p in led.planted_problems] == [
        (k, c) for k, c, *_ in PLANTED_PROBLEMS[:3]
    ]


# ----------------------------------------------------------------------------------------
# Bad arguments


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"n_customers": 0}, "number of customers"),
        ({"n_customers": 2.5}, "number of customers"),
        ({"seed": -1}, "seed"),
        ({"months": 12}, "24 months"),
        ({"orders_per_customer": 0.5}, "orders per customer"),
    ],
)
def test_bad_arguments_raise_input_error(kwargs: dict, words: str) -> None:
    with pytest.raises(InputError, match=words) as info:
        make_ledger(**kwargs)
    assert info.value.problems[0].fix
    with pytest.raises(InputError, match=words):
        make_customers(**kwargs)
