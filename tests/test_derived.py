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


def _with(ledger: Ledger, customers: pd.DataFrame, transactions: pd.DataFrame | None = None
          ) -> Ledger:
    return Ledger(customers, ledger.transactions if transactions is None else transactions,
                  ledger.interactions, ledger.survey)


def _by_id(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.set_index(frame[schema.CUSTOMER_ID].astype(str))


def test_a_customer_without_orders_in_either_window_has_lapsed_growth(ledger):
    # The lapsed/none rule: no order in the last 24 months is -100 % growth, scored as
    # such; it is neither imputed from the other customers nor reported as missing.
    first = ledger.customers[schema.CUSTOMER_ID].iloc[0]
    orders = ledger.transactions[ledger.transactions[schema.CUSTOMER_ID] != first]
    results = pipeline.run(_with(ledger, ledger.customers.drop(columns=["PurchaseGrowth"]),
                                 orders), stamp=STAMP)
    scored = _by_id(results.scored)
    assert scored.loc[first, "PurchaseGrowth"] == -1.0
    row = results.scores_table[schema.CUSTOMER_ID] == first
    assert results.scores_table.loc[row, "Purchase growth"].item() == 0.0
    assert not results.scores.imputed["Purchase growth"].any()
    assert not [p for p in results.problems if "PurchaseGrowth" in p.message]


def test_each_blank_cell_gets_the_ledger_figure(ledger):
    customers = ledger.customers.copy()
    blank = [0, 5, 9]
    customers["Revenue12m"] = customers["Revenue12m"].astype(object)
    customers.loc[blank, "Revenue12m"] = [None, "", "  "]
    results = pipeline.run(_with(ledger, customers), stamp=STAMP)
    ids = customers[schema.CUSTOMER_ID].iloc[blank].astype(str)
    activity = _by_id(results.operations.activity)
    scored = _by_id(results.scored)
    np.testing.assert_allclose(scored.loc[ids, "Revenue12m"].astype(float),
                               activity.loc[ids, "Revenue12m"].astype(float))
    assert not results.scores.imputed["Sales revenue"].any()
    computed = _by_id(results.scores_table)["Computed"]
    assert computed[ids].tolist() == [1, 1, 1]
    assert computed.drop(index=ids).eq(0).all()
    lines = [p for p in results.problems if p.message.startswith("Revenue12m:")]
    assert len(lines) == 1, "one summary line per column, not one per customer"
    assert "3 of 150 customers have no figure typed" in lines[0].message
    # nothing to do about it: a note, listed after errors and warnings, not a warning
    assert lines[0].severity == "note"
    assert lines[0].sheet == schema.CUSTOMERS and lines[0].cell.endswith(":" + lines[0].cell[0])


def test_a_stale_typed_figure_is_reported_and_the_ledger_figure_scored(ledger):
    # An order imported after Revenue12m was typed: the typed figure is stale.
    first = ledger.customers[schema.CUSTOMER_ID].iloc[0]
    extra = ledger.transactions.iloc[[0]].copy()
    extra[schema.CUSTOMER_ID] = first
    extra["Date"] = pd.Timestamp(STAMP.date()) - pd.Timedelta(days=3)
    extra["Amount"] = 0.2 * float(ledger.customers["Revenue12m"].iloc[0]) + 1000
    orders = pd.concat([ledger.transactions, extra], ignore_index=True)
    customers = ledger.customers.copy()
    ledger_revenue = order_metrics(orders, customers[schema.CUSTOMER_ID].astype(str),
                                   today=STAMP.date()).table["Revenue12m"].to_numpy()
    customers.loc[1, "Revenue12m"] = ledger_revenue[1] * 1.009  # within 1 %: agrees
    customers.loc[2, "Revenue12m"] = ledger_revenue[2] * 1.011  # just beyond: stale
    results = pipeline.run(_with(ledger, customers, orders), stamp=STAMP)
    activity = _by_id(results.operations.activity)
    scored = _by_id(results.scored)
    # Activity and scoring show the same figure for every customer, C0001 included.
    assert scored.loc[first, "Revenue12m"] == activity.loc[first, "Revenue12m"]
    np.testing.assert_allclose(scored["Revenue12m"].astype(float),
                               activity.loc[scored.index, "Revenue12m"].astype(float))
    (line,) = [p for p in results.problems if p.message.startswith("Revenue12m:")]
    assert "2 typed figures are stale" in line.message
    assert f"{first} typed {float(customers['Revenue12m'].iloc[0]):,.0f}" in line.message
    assert f"ledger {ledger_revenue[0]:,.0f}" in line.message
    computed = results.scores_table["Computed"].to_numpy()
    # C0001's new order also moves its gross profit, unit profit and growth.
    assert computed[0] == 4 and computed[1] == 0 and computed[2] == 1


def test_a_typed_figure_of_a_customer_without_history_is_kept(ledger):
    first = ledger.customers[schema.CUSTOMER_ID].iloc[0]
    orders = ledger.transactions[ledger.transactions[schema.CUSTOMER_ID] != first]
    customers = ledger.customers.copy()
    customers.loc[0, "Revenue12m"] = 12345.0
    results = pipeline.run(_with(ledger, customers, orders), stamp=STAMP)
    assert _by_id(results.scored).loc[first, "Revenue12m"] == 12345.0
    assert not [p for p in results.problems if "stale" in p.message]


def test_customers_added_by_an_import_get_ledger_figures_not_medians(ledger):
    # import-transactions --add-missing-customers adds rows with an ID and a name only.
    new = pd.DataFrame({schema.CUSTOMER_ID: ["N0001", "N0002"],
                        schema.CUSTOMER_NAME: ["New One", "New Two"]})
    customers = pd.concat([ledger.customers, new], ignore_index=True)
    lines = ledger.transactions.iloc[[0, 1, 2]].copy()
    lines[schema.CUSTOMER_ID] = ["N0001", "N0001", "N0002"]
    lines["Date"] = pd.Timestamp(STAMP.date()) - pd.Timedelta(days=10)
    orders = pd.concat([ledger.transactions, lines], ignore_index=True)
    results = pipeline.run(_with(ledger, customers, orders), stamp=STAMP)
    scored = _by_id(results.scored).loc[["N0001", "N0002"]]
    ledger_figures = order_metrics(orders, pd.Series(["N0001", "N0002"]),
                                   today=STAMP.date()).table
    for column in ("Revenue12m", "GrossProfit12m", "UnitProfit"):
        np.testing.assert_allclose(scored[column].astype(float),
                                   ledger_figures[column].astype(float), err_msg=column)
    assert (ledger_figures["Revenue12m"] > 0).all()
    imputed = results.scores.imputed.reset_index(drop=True).iloc[-2:]
    for name in ("Sales revenue", "Gross profit", "Unit profit", "Purchase growth"):
        assert not imputed[name].any(), name
    assert results.scores_table["Computed"].iloc[-2:].tolist() == [4, 4]


def test_dashboard_says_which_columns_were_computed(ledger):
    from xlcrm.report import DASH_NOTES, dashboard_blocks

    results = pipeline.run(_without(ledger, ("Revenue12m",)), stamp=STAMP)
    (note,) = [b for b in dashboard_blocks(results) if b.anchor == DASH_NOTES]
    assert note.rows[0][0].endswith(
        "Indicator columns computed from the ledger: Revenue12m from Transactions."
    )
