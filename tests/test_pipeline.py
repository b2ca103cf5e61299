"""The pipeline on small and edge-case ledgers."""

from __future__ import annotations

import pytest

from xlcrm import pipeline
from xlcrm.demo import make_ledger
from xlcrm.errors import InputError


def test_two_customers_run_without_profiles():
    results = pipeline.run(make_ledger(2, seed=1))
    assert results.customers == 2
    assert results.segments_table["Cluster"].isna().all()
    assert any("no k-means profiles" in p.message for p in results.problems)


def test_unknown_option_is_named():
    settings = pipeline.Settings(options=pipeline.Options(high_low="guess"))
    with pytest.raises(InputError, match="high_low"):
        pipeline.run(make_ledger(20, seed=1), settings)


def test_abc_by_value_or_revenue():
    ledger = make_ledger(200, seed=4, dirty=False)
    by_revenue = pipeline.run(ledger)
    by_value = pipeline.run(
        ledger, pipeline.Settings(options=pipeline.Options(abc_basis="Value"))
    )
    assert by_revenue.abc_basis == "Revenue" and by_value.abc_basis == "Value"
    a_revenue = by_revenue.summary_by_abc.set_index("Class").loc["A", "ValueShare"]
    assert a_revenue == pytest.approx(0.8, abs=0.05)


def test_rows_left_out_for_their_id_do_not_move_the_scores():
    import pandas as pd

    from xlcrm.ledger import Ledger

    ledger = make_ledger(60, seed=2, dirty=False)
    clean = pipeline.run(ledger)
    junk = ledger.customers.iloc[[0, 1]].copy()
    junk["CustomerID"] = [None, ledger.customers["CustomerID"].iloc[5]]  # blank, repeated
    junk["Employees"] = [10**9, -(10**9)]  # would stretch min-max / shift percentiles
    junk["Revenue12m"] = [10**12, 10**12]
    customers = pd.concat([junk.iloc[[0]], ledger.customers, junk.iloc[[1]]], ignore_index=True)
    customers.loc[10, "CreditRating"] = "ZZZ"  # a bad cell on table row 11 -> sheet row 12
    dirty = pipeline.run(Ledger(customers, ledger.transactions, ledger.interactions,
                                ledger.survey))
    untouched = dirty.scores_table["CustomerID"] != customers.loc[10, "CustomerID"]
    pd.testing.assert_series_equal(
        dirty.scores_table.loc[untouched, "Company scale"].reset_index(drop=True),
        clean.scores_table.loc[untouched, "Company scale"].reset_index(drop=True),
    )
    assert dirty.abc.abc.tolist() == clean.abc.abc.tolist()
    (bad,) = [p for p in dirty.problems if "ZZZ" in p.message]
    credit_col = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[list(customers.columns).index("CreditRating")]
    assert bad.cell == f"{credit_col}12"


def test_segment_warnings_name_customers_not_positions():
    """Customers added without figures (as `import-transactions --add-missing-customers` adds
    them, at the end of the table) are named by ID: "positions 301, 302" told the user
    nothing (#16)."""
    import pandas as pd

    from xlcrm.ledger import Ledger

    ledger = make_ledger(300, seed=7, dirty=False)
    added = pd.DataFrame({"CustomerID": ["N-17", "N-18"]})
    customers = pd.concat([ledger.customers, added], ignore_index=True)
    results = pipeline.run(Ledger(customers, ledger.transactions, ledger.interactions,
                                  ledger.survey))
    # Their revenue is the ledger's (no orders: 0), so ABC has a value for them; with
    # most indicators blank they are Unrated, and that warning names them by ID.
    assert not [p for p in results.problems if "no valid value" in p.message]
    (unrated,) = [p for p in results.problems if "Unrated" in p.message]
    assert "N-17 (" in unrated.message and "N-18 (" in unrated.message
    assert not any("positions" in p.message for p in results.problems)
