"""Indicators that read figures computed from Transactions and Survey (xlcrm.operations.derived)."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from xlcrm import pipeline, schema
from xlcrm.demo import make_ledger
from xlcrm.ledger import Ledger
from xlcrm.operations.derived import add_derived_columns, wanted_columns
from xlcrm.operations.orders import order_metrics
from xlcrm.operations.survey import satisfaction
from xlcrm.value.scoring import percentile_rank

STAMP = datetime(2026, 10, 31, 9, 0)
COMPUTED = ("Revenue12m", "GrossProfit12m", "UnitProfit", "PurchaseGrowth", "Satisfaction")


def _without(ledger: Ledger, columns: tuple[str, ...]) -> Ledger:
    return Ledger(
        ledger.customers.drop(columns=list(columns)),
        ledger.transactions,
        ledger.interactions,
        ledger.survey,
    )


@pytest.fixture(scope="module")
def ledger() -> Ledger:
    return make_ledger(150, seed=3, dirty=False, today=STAMP.date())


def test_missing_columns_are_computed_from_the_ledger(ledger):
    results = pipeline.run(_without(ledger, COMPUTED), stamp=STAMP)
    assert results.derived == {
        "Revenue12m": "Transactions",
        "GrossProfit12m": "Transactions",
        "UnitProfit": "Transactions",
        "PurchaseGrowth": "Transactions (GrowthRate)",
        "Satisfaction": "Survey (SatisfactionScore)",
    }
    # No "column not in Customers" errors, and ABC by revenue needs no fallback.
    assert not [p for p in results.problems if "is not in the" in p.message]
    assert results.abc_basis == "Revenue"

    ids = results.scores_table[schema.CUSTOMER_ID].astype(str)
    revenue = order_metrics(ledger.transactions, ids, today=STAMP.date()).table["Revenue12m"]
    # Sales revenue is scored by percentile rank over the analysed customers.
    expected = percentile_rank(revenue.to_numpy(dtype=float))
    np.testing.assert_allclose(results.scores_table["Sales revenue"], expected, atol=1e-9)
    assert results.operations is not None
    np.testing.assert_allclose(
        results.operations.activity["Revenue12m"].to_numpy(dtype=float), revenue.to_numpy()
    )


def test_a_filled_customers_column_wins(ledger):
    results = pipeline.run(ledger, stamp=STAMP)
    assert results.derived == {}
    typed = pd.to_numeric(ledger.customers["Revenue12m"]).to_numpy(dtype=float)
    np.testing.assert_allclose(
        results.scores_table["Sales revenue"], percentile_rank(typed), atol=1e-9
    )


def test_a_blank_customers_column_is_computed(ledger):
    blanked = ledger.customers.assign(Revenue12m=None, Satisfaction="")
    got = pipeline.run(Ledger(blanked, ledger.transactions, ledger.interactions, ledger.survey),
                       stamp=STAMP)
    assert set(got.derived) == {"Revenue12m", "Satisfaction"}
    full = pipeline.run(_without(ledger, ("Revenue12m", "Satisfaction")), stamp=STAMP)
    pd.testing.assert_series_equal(got.scores_table["Value"], full.scores_table["Value"])


def test_satisfaction_comes_on_the_questionnaire_scale(ledger):
    ids = ledger.customers[schema.CUSTOMER_ID].astype(str)
    survey = satisfaction(ledger.survey, ids, today=STAMP.date())
    out = add_derived_columns(
        ledger.customers.drop(columns=["Satisfaction"]), ["Satisfaction", "SatisfactionIndex"],
        orders=None, survey=survey,
    ).customers
    answered = out["SatisfactionIndex"].notna()
    assert answered.any() and not answered.all()
    # 1..5 scale: score = 1 + index / 100 * 4.
    np.testing.assert_allclose(
        out.loc[answered, "Satisfaction"], 1 + out.loc[answered, "SatisfactionIndex"] / 25
    )


def test_nothing_is_computed_without_the_source_sheet(ledger):
    no_orders = Ledger(
        ledger.customers.drop(columns=["Revenue12m"]),
        ledger.transactions.iloc[0:0],
        ledger.interactions,
        ledger.survey,
    )
    results = pipeline.run(no_orders, stamp=STAMP)
    assert "Revenue12m" not in results.derived
    missing = [p for p in results.problems if "'Revenue12m', which is not in the" in p.message]
    assert len(missing) == 1 and missing[0].severity == "error"


def test_only_known_names_are_wanted():
    assert wanted_columns(["Revenue12m", "Employees", "Foo", "RecencyDays", "Revenue12m"]) == [
        "Revenue12m", "RecencyDays",
    ]


def test_problems_of_computed_columns_name_their_sheet(ledger):
    first = ledger.customers[schema.CUSTOMER_ID].iloc[0]
    orders = ledger.transactions[ledger.transactions[schema.CUSTOMER_ID] != first]
    results = pipeline.run(
        Ledger(ledger.customers.drop(columns=["PurchaseGrowth"]), orders, ledger.interactions,
               ledger.survey),
        stamp=STAMP,
    )
    # A customer without any order has no growth rate: reported at Transactions.
    about = [p for p in results.problems if "PurchaseGrowth" in p.message]
    assert about, "a customer without orders has no growth rate"
    assert all(p.sheet == schema.TRANSACTIONS and p.cell is None for p in about)
    assert all("computed from Transactions" in p.message for p in about)


def test_dashboard_says_which_columns_were_computed(ledger):
    from xlcrm.report import DASH_NOTES, dashboard_blocks

    results = pipeline.run(_without(ledger, ("Revenue12m",)), stamp=STAMP)
    (note,) = [b for b in dashboard_blocks(results) if b.anchor == DASH_NOTES]
    assert note.rows[0][0].endswith(
        "Indicator columns computed from the ledger: Revenue12m from Transactions."
    )
