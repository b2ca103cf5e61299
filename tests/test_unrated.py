"""Customers whose figures are mostly guesses are Unrated, not typed (xlcrm.value.rating)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from xlcrm import pipeline, schema
from xlcrm.book.settings import options_from_grid
from xlcrm.demo import make_ledger
from xlcrm.ledger import Ledger
from xlcrm.value.segments import segment_types

STAMP = datetime(2026, 10, 31, 9, 0)
DERIVABLE = ("Revenue12m", "GrossProfit12m", "UnitProfit", "PurchaseGrowth", "Satisfaction")


@pytest.fixture(scope="module")
def ledger() -> Ledger:
    demo = make_ledger(200, seed=5, dirty=False, today=STAMP.date())
    # As the demo ledger will be: only what the order history cannot give is typed.
    return Ledger(demo.customers.drop(columns=list(DERIVABLE)), demo.transactions,
                  demo.interactions, demo.survey)


def _with_blank_customer(ledger: Ledger) -> Ledger:
    blank = pd.DataFrame({schema.CUSTOMER_ID: ["X0001"], schema.CUSTOMER_NAME: ["Nobody Ltd"]})
    customers = pd.concat([ledger.customers, blank], ignore_index=True)
    return Ledger(customers, ledger.transactions, ledger.interactions, ledger.survey)


def _settings(**options: object) -> pipeline.Settings:
    return pipeline.Settings(options=replace(pipeline.Options(), **options))


def test_a_customer_with_every_indicator_blank_is_unrated_not_typed(ledger):
    results = pipeline.run(_with_blank_customer(ledger), stamp=STAMP)
    seg = results.segments_table.iloc[-1]
    assert seg[schema.CUSTOMER_ID] == "X0001"
    assert pd.isna(seg["Type"])
    assert seg["TypeName"] == "Unrated"
    assert seg["Strategy"].startswith("Unrated: ")
    # It names the indicators to fill, with their columns, heaviest first.
    for name, column in (("Operating status", "OperatingStatus"),
                         ("Credit standing", "CreditRating"), ("Satisfaction", "Satisfaction")):
        assert f"{name} ({column})" in seg["Strategy"]
    assert "Sales revenue" not in seg["Strategy"]  # computed from Transactions: 0
    assert all(seg[g] == "" for g in ("Qualification", "Potential", "Contribution"))
    # ABC by revenue keeps its class: its revenue (none) is known.
    assert seg["ABC"] == "C"
    scores = results.scores_table.iloc[-1]
    weights = results.scores.global_weights
    imputed = results.scores.imputed.iloc[-1]
    assert scores["ImputedWeight"] == pytest.approx(weights[imputed.to_numpy()].sum())
    assert scores["ImputedWeight"] > 1 / 3
    assert results.unrated.sum() == 1
    (line,) = [p for p in results.problems if "Unrated" in p.message]
    assert "X0001" in line.message and line.sheet == schema.SEGMENTS
    unrated_row = results.summary_by_type[results.summary_by_type["Name"] == "Unrated"]
    assert unrated_row["Customers"].tolist() == [1]


def test_unrated_customers_take_no_part_in_the_high_low_fit(ledger):
    many = ledger.customers.copy()
    blanks = pd.DataFrame({schema.CUSTOMER_ID: [f"X{i:04d}" for i in range(60)],
                           schema.CUSTOMER_NAME: "Unknown"})
    book = Ledger(pd.concat([many, blanks], ignore_index=True), ledger.transactions,
                  ledger.interactions, ledger.survey)
    results = pipeline.run(book, stamp=STAMP)
    rated = ~results.unrated
    assert results.unrated[-60:].all() and rated.sum() >= 190
    group_scores = results.scores.group_scores.reset_index(drop=True)
    alone = segment_types(group_scores[rated].reset_index(drop=True))
    assert results.segments.cuts == pytest.approx(alone.cuts)
    # Fitted on everyone, the 60 customers of guesses would move at least one cut.
    everyone = segment_types(group_scores)
    assert any(everyone.cuts[g] != pytest.approx(alone.cuts[g]) for g in alone.cuts)


def test_abc_by_value_gives_unrated_customers_no_class(ledger):
    results = pipeline.run(_with_blank_customer(ledger), stamp=STAMP,
                           settings=_settings(abc_basis="Value"))
    assert pd.isna(results.segments_table["ABC"].iloc[-1])
    assert pd.isna(results.segments_table["ABCName"].iloc[-1])
    assert results.segments_table["ABC"].iloc[:-1].isin(["A", "B", "C"]).all()
    assert results.summary_by_abc["Customers"].sum() == len(results.segments_table) - 1


def test_the_limit_is_the_analysts_option(ledger):
    book = _with_blank_customer(ledger)
    everyone = pipeline.run(book, stamp=STAMP, settings=_settings(max_imputed=1.0))
    assert not everyone.unrated.any()
    assert not pd.isna(everyone.segments_table["Type"].iloc[-1])
    strict = pipeline.run(book, stamp=STAMP, settings=_settings(max_imputed=0.01))
    imputed_any = strict.scores_table["ImputedWeight"] > 0.01
    assert (strict.unrated == imputed_any.to_numpy()).all()


def test_the_option_is_read_from_the_indicators_sheet():
    label = "Unrated above imputed share"
    grid = [[None] * 8 + ["Option", "Value"], [None] * 8 + [label, "50%"]]
    options, problems = options_from_grid(grid)
    assert options.max_imputed == 0.5 and not problems
    options, problems = options_from_grid([[None] * 8 + [label, "none"]])
    assert options.max_imputed == pytest.approx(1 / 3)
    assert problems[0].severity == "error" and problems[0].cell == "J1"


def test_customers_without_orders_for_two_years_are_not_high_on_potential_by_guess(ledger):
    ids = ledger.customers[schema.CUSTOMER_ID].astype(str)
    quiet = ids.iloc[:25].tolist()
    cutoff = pd.Timestamp(STAMP.date()) - pd.DateOffset(years=2)
    t = ledger.transactions
    keep = ~t[schema.CUSTOMER_ID].isin(quiet) | (pd.to_datetime(t["Date"]) < cutoff)
    book = Ledger(ledger.customers, t[keep], ledger.interactions, ledger.survey)
    results = pipeline.run(book, stamp=STAMP)
    rows = ids.isin(quiet).to_numpy()
    growth = results.scores_table["Purchase growth"].to_numpy()[rows]
    assert (growth == 0).all(), "no orders in either window is -100 % growth, scored 0"
    assert not results.scores.imputed["Purchase growth"].to_numpy()[rows].any()
    high = results.segments.high["Potential"].to_numpy(dtype=object)[rows]
    rest = results.segments.high["Potential"].to_numpy(dtype=object)[~rows]
    assert np.mean(high == True) < np.mean(rest == True)  # noqa: E712
