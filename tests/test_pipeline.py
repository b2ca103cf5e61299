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
