"""Worksheet functions called exactly as xlwings calls them: 2-D lists, None for blanks,
text where a cell holds text, a scalar for one cell."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import udfs
from xlcrm.value.ahp import nearest_scale_value

CONSISTENT = [[1, 2, 4], [0.5, 1, 2], [0.25, 0.5, 1]]
EXPECTED = [4 / 7, 2 / 7, 1 / 7]


def flat(col):
    return [r[0] for r in col]


def test_every_documented_function_is_exported():
    names = {
        "AHP_WEIGHTS",
        "AHP_CR",
        "AHP_CONSISTENCY",
        "AHP_REPAIR",
        "AHP_GROUP",
        "CRM_SCORE",
        "CRM_VALUE",
        "CRM_HIGHLOW",
        "CRM_TYPE",
        "CRM_TYPENAME",
        "CRM_STRATEGY",
        "CRM_ABC",
        "CRM_KMEANS",
    }
    assert names <= set(udfs.__all__)
    for name in names:
        doc = getattr(udfs, name).__doc__
        assert doc and len(doc.split()) > 8, f"{name} needs a tooltip for the analyst"


def test_weights_column_from_full_matrix():
    assert flat(udfs.AHP_WEIGHTS(CONSISTENT)) == pytest.approx(EXPECTED, abs=1e-9)


def test_weights_from_upper_triangle_typed_as_text():
    typed = [[1, "2", " 4 "], [None, 1, "2"], [None, None, None]]
    assert flat(udfs.AHP_WEIGHTS(typed)) == pytest.approx(EXPECTED, abs=1e-9)


def test_fraction_strings_accepted():
    typed = [[1, "1/2", "1/4"], [None, 1, "1/2"], [None, None, 1]]
    assert flat(udfs.AHP_WEIGHTS(typed)) == pytest.approx(EXPECTED[::-1], abs=1e-9)


def test_geometric_method_equals_eigen_on_consistent_matrix():
    assert flat(udfs.AHP_WEIGHTS(CONSISTENT, "geometric")) == pytest.approx(EXPECTED, abs=1e-9)


def test_cr_is_zero_for_consistent_and_positive_otherwise():
    assert udfs.AHP_CR(CONSISTENT) == pytest.approx(0, abs=1e-9)
    inconsistent = [[1, 9, "1/9"], [None, 1, 9], [None, None, 1]]
    assert udfs.AHP_CR(inconsistent) > 0.1


def test_consistency_table_two_columns():
    table = udfs.AHP_CONSISTENCY(CONSISTENT)
    labels = [r[0] for r in table]
    assert labels[:5] == ["LambdaMax", "CI", "RI", "CR", "Verdict"]
    values = dict(table)
    assert values["LambdaMax"] == pytest.approx(3.0, abs=1e-9)
    assert values["RI"] == pytest.approx(0.58)
    assert values["Verdict"] == "consistent"
    assert all(len(r) == 2 for r in table)


def test_non_reciprocal_matrix_gives_one_line_message():
    bad = [[1, 2, 2], [0.5, 1, 3], [0.5, 0.5, 1]]
    out = udfs.AHP_WEIGHTS(bad)
    assert isinstance(out, str) and out.startswith("#AHP: ")
    assert "(2,3)" in out and "(3,2)" in out and "1/3" in out
    assert "\n" not in out


@pytest.mark.parametrize(
    "matrix, words",
    [
        ([[1, 2], [0.5, 1], [1, 1]], "square"),
        ([[1, -2], [None, 1]], "positive"),
        ([[1, "abc"], [None, 1]], "abc"),
        ([[1, "#DIV/0!"], [None, 1]], "#DIV/0!"),
    ],
)
def test_bad_matrices_return_messages(matrix, words):
    for func in (udfs.AHP_WEIGHTS, udfs.AHP_CR, udfs.AHP_CONSISTENCY, udfs.AHP_REPAIR):
        out = func(matrix)
        assert isinstance(out, str) and out.startswith("#AHP: "), (func, out)
        assert words.lower() in out.lower()


def test_repair_names_worst_judgment_and_a_better_value():
    # Consistent with w = (8, 4, 2, 1) but for (1,4), typed 1/8 instead of 8: the culprit.
    matrix = [[1, 2, 4, "1/8"], [None, 1, 2, 4], [None, None, 1, 2], [None, None, None, 1]]
    out = udfs.AHP_REPAIR(matrix, [["Q"], ["P"], ["C"], ["X"]])
    assert out[0] == ["Row", "Column", "Typed", "Suggested", "Ratio", "CR after"]
    worst = out[1]
    assert worst[:4] == ["Q", "X", "1/8", "8"]  # the others imply exactly 8
    assert worst[4] == pytest.approx(8.0)
    repaired = [row[:] for row in matrix]
    repaired[0][3] = worst[3]
    assert udfs.AHP_CR(repaired) == pytest.approx(worst[5], abs=1e-12)
    assert worst[5] == pytest.approx(0, abs=1e-9)


def test_repair_takes_the_ri_table_and_works_beyond_15_items():
    n = 16
    w = np.arange(1, n + 1, dtype=float) % 9 + 1
    matrix = [[nearest_scale_value(w[i] / w[j]) if j > i else None for j in range(n)]
              for i in range(n)]
    for i in range(n):
        matrix[i][i] = 1
    matrix[0][5] = "1/9" if w[0] > w[5] else 9  # a typo
    out = udfs.AHP_REPAIR(matrix)
    assert isinstance(out, str) and "n <= 15" in out  # the Saaty table stops at 15
    out = udfs.AHP_REPAIR(matrix, None, 1, "alonso-lamata")
    assert out[1][:2] == ["1", "6"]
    assert out[1][5] < udfs.AHP_CR(matrix, "alonso-lamata")


def test_group_aggregates_by_geometric_mean():
    a = [[1, 2], [None, 1]]
    b = [[1, 8], [None, 1]]
    out = udfs.AHP_GROUP(a, b)
    assert np.allclose(out, [[1, 4], [0.25, 1]])
    assert udfs.AHP_GROUP(a).startswith("#AHP: ")


def test_score_minmax_column_with_blank_and_text_number():
    out = flat(udfs.CRM_SCORE([[10], [None], ["30"], [20]], "minmax"))
    assert out[0] == pytest.approx(0) and out[2] == pytest.approx(100)
    assert out[3] == pytest.approx(50)
    assert out[1] is None


def test_score_cost_direction_reverses():
    out = flat(udfs.CRM_SCORE([[10], [20], [30]], "minmax", None, "cost"))
    assert out == pytest.approx([100, 50, 0])


def test_score_rubric_ignores_case_and_spaces_and_flags_unknown_label():
    out = flat(udfs.CRM_SCORE([[" good "], ["FAIR"], ["Very good"]], "rubric", "Good=80; Fair=50"))
    assert out[:2] == pytest.approx([80, 50])
    assert isinstance(out[2], str) and out[2].startswith("#SCORE: row 3")
    assert "Good" in out[2] and "Fair" in out[2]


def test_score_rubric_from_two_column_range():
    out = flat(udfs.CRM_SCORE([["Good"], ["Fair"]], "rubric", [["Good", 80], ["Fair", 50]]))
    assert out == pytest.approx([80, 50])


def test_score_unknown_method_is_a_message():
    out = udfs.CRM_SCORE([[1], [2]], "magic")
    assert isinstance(out, str) and out.startswith("#SCORE: ") and "minmax" in out


def test_value_is_weighted_sum_and_flags_blank():
    out = flat(udfs.CRM_VALUE([[100, 0], [50, 50], [None, 10]], [[0.25], [0.75]]))
    assert out[:2] == pytest.approx([25, 50])
    assert isinstance(out[2], str) and "column 1" in out[2]
    assert udfs.CRM_VALUE([[1, 2]], [[0.5, 0.6]]).startswith("#VALUE: ")


def test_highlow_kmeans_median_and_threshold():
    scores = [[10], [12], [11], [80], [85], [None]]
    assert flat(udfs.CRM_HIGHLOW(scores)) == ["Low", "Low", "Low", "High", "High", None]
    assert flat(udfs.CRM_HIGHLOW(scores, 50)) == ["Low", "Low", "Low", "High", "High", None]
    assert flat(udfs.CRM_HIGHLOW([[1], [2], [3], [4]], "median"))[:2] == ["Low", "Low"]
    assert udfs.CRM_HIGHLOW([["abc"], [1]]).startswith("#HIGHLOW: ")


def test_type_numbers_in_design_order():
    hl = ["High", "Low"]
    q, p, c, expected = [], [], [], []
    n = 1
    for a in hl:
        for b in hl:
            for d in hl:
                q.append([a]), p.append([b]), c.append([d]), expected.append(n)
                n += 1
    assert flat(udfs.CRM_TYPE(q, p, c)) == expected
    assert udfs.CRM_TYPE([["High"]], [["maybe"]], [["Low"]]).startswith("#TYPE: ")


def test_typename_and_strategy_lookup():
    names = flat(udfs.CRM_TYPENAME([[1], [8], [None], [9]]))
    assert isinstance(names[0], str) and names[0] and not names[0].startswith("#")
    assert names[2] is None and names[3].startswith("#TYPE: ")
    assert flat(udfs.CRM_STRATEGY(3))[0] != flat(udfs.CRM_STRATEGY(4))[0]


def test_abc_classes_column():
    out = flat(udfs.CRM_ABC([[70], [20], [6], [4]]))
    assert out == ["A", "B", "C", "C"] or out[0] == "A"
    assert set(out) <= {"A", "B", "C"}
    assert udfs.CRM_ABC([[1], [2]], [[0.9], [0.5]]).startswith("#ABC: ")


def test_kmeans_labels_one_based():
    rng = np.random.default_rng(0)
    a = rng.normal(0, 0.1, (20, 2))
    b = rng.normal(10, 0.1, (20, 2))
    out = flat(udfs.CRM_KMEANS(np.vstack([a, b]).tolist(), 2))
    assert set(out) == {1, 2}
    assert len(set(out[:20])) == 1 and len(set(out[20:])) == 1
    assert udfs.CRM_KMEANS([[1, "x"], [2, 3]]).startswith("#KMEANS: ")


def test_single_cell_scalar_input():
    assert udfs.AHP_CR(1.0) == pytest.approx(0.0)


def test_rfm_quintiles_and_segment():
    rec = [[10], [20], [30], [40], [50], [None]]
    orders = [[5], [4], [3], [2], [1], [3]]
    money = [[500], [400], [300], [200], [100], [1]]
    out = udfs.CRM_RFM(rec, orders, money)
    assert [r[:3] for r in out[:5]] == [[5, 5, 5], [4, 4, 4], [3, 3, 3], [2, 2, 2], [1, 1, 1]]
    assert out[0][3] == "Champions"
    assert out[5] == [None, None, None, None]
    assert udfs.CRM_RFM([[1]], [[1], [2]], [[1]]).startswith("#RFM: ")


def test_next_contact_adds_the_interval():
    import datetime as dt

    out = flat(udfs.CRM_NEXT_CONTACT([[dt.datetime(2026, 1, 1)], [None], ["soon"]], 30))
    assert out[0] == dt.datetime(2026, 1, 31)
    assert out[1] is None
    assert out[2].startswith("#NEXT: row 3")


def test_alpha_known_answer():
    # Two items, variances 1 and 1, total variance 3: alpha = 2 * (1 - 2/3) = 2/3.
    assert udfs.CRM_ALPHA([[1, 1], [2, 3], [3, 2]]) == pytest.approx(2 / 3)
    assert udfs.CRM_ALPHA([[1, "x"], [2, 3]]).startswith("#ALPHA: ")


def _orders(customer, first, every_days, count, amount=100.0):
    import datetime as dt

    return [[customer, dt.datetime(*first) + dt.timedelta(days=every_days * k), amount]
            for k in range(count)]


def test_churn_risk_known_answers():
    import datetime as dt

    grid = [["CustomerID", "Date", "Amount"],
            # A: monthly, last order 11 days ago -> Low.
            *_orders("A", (2025, 11, 24), 30, 12),
            # B: monthly until March, silent for 7 months -> High.
            *_orders("B", (2025, 4, 1), 30, 12)]
    out = udfs.CRM_CHURN_RISK([["A"], ["B"], ["C"], [None]], grid, dt.datetime(2026, 10, 31))
    assert [r[0] for r in out] == ["Low", "High", "No orders", None]
    assert out[2][1] == "never ordered"
    # Last order 2026-02-25: 248 days of silence against its own 30-day rhythm.
    assert out[1][1].startswith("no order for 248 days, 8.3× its usual 30-day interval")


def test_churn_risk_reports_bad_rows_and_missing_columns():
    import datetime as dt

    bad = [["CustomerID", "Date", "Amount"], ["A", dt.datetime(2026, 1, 1), "lots"]]
    msg = udfs.CRM_CHURN_RISK([["A"]], bad, dt.datetime(2026, 10, 31))
    assert msg.startswith("#CHURN: transactions range!C2") and "not a number" in msg
    no_amount = [["CustomerID", "Date"], ["A", dt.datetime(2026, 1, 1)]]
    assert "Amount" in udfs.CRM_CHURN_RISK([["A"]], no_amount)


def test_churn_risk_equals_the_activity_sheet():
    import datetime as dt

    from xlcrm import pipeline
    from xlcrm.demo import make_ledger

    stamp = dt.datetime(2026, 10, 31, 8, 0)
    ledger = make_ledger(120, seed=5, dirty=False, today=stamp.date())
    activity = pipeline.run(ledger, stamp=stamp).operations.activity
    t = ledger.transactions
    grid = [list(t.columns)] + [
        [None if pd.isna(v) else (v.to_pydatetime() if isinstance(v, pd.Timestamp) else v)
         for v in row]
        for row in t.itertuples(index=False)
    ]
    ids = [[i] for i in activity["CustomerID"]]
    out = udfs.CRM_CHURN_RISK(ids, grid, stamp)
    assert [r[0] for r in out] == list(activity["ChurnRisk"])
    assert [r[1] for r in out] == list(activity["ChurnReason"])


def test_whole_column_blanks_stay_blank():
    """A whole column selected (A:A) ends in blank rows: they are no customers."""
    assert flat(udfs.CRM_ABC([[100], [50], [None], [None]])) == ["A", "A", None, None]
    assert flat(udfs.CRM_VALUE([[50, 50], [None, None]], [[0.5], [0.5]])) == [50.0, None]


def test_rfm_customer_without_orders_is_no_orders():
    out = udfs.CRM_RFM([[10], [None], [20]], [[3], [0], [1]], [[100], [None], [50]])
    assert out[1] == [0, 0, 0, "No orders"]
    assert udfs.CRM_RFM([[10]], [[None]], [[5]]) == [[None] * 4]


def test_alpha_undefined_is_said():
    assert udfs.CRM_ALPHA([[3, 3], [3, 3], [3, 3]]).startswith("#ALPHA: alpha is undefined")


def test_ahp_beyond_fifteen_items():
    ones = [[1] * 16 for _ in range(16)]
    assert flat(udfs.AHP_WEIGHTS(ones)) == pytest.approx([1 / 16] * 16)
    assert udfs.AHP_CR(ones).startswith("#AHP: the Saaty RI table covers n <= 15")
    assert udfs.AHP_CR(ones, "alonso-lamata") == pytest.approx(0.0)


def test_options_of_the_wrong_kind_get_a_plain_message():
    assert udfs.AHP_WEIGHTS(CONSISTENT, 1) == (
        '#AHP: method is 1, not a word. Type it in quotes, e.g. "eigen", or leave it out.')
    assert flat(udfs.CRM_HIGHLOW([[10], [60], [70]], "50")) == ["Low", "High", "High"]
    assert udfs.CRM_KMEANS([[1, 2], [2, 3], [10, 11], [11, 12]], "two").startswith(
        "#KMEANS: k is 'two', not a whole number of clusters from 2 to 3")


def test_score_parameters_as_a_range_of_numbers():
    assert flat(udfs.CRM_SCORE([[1], [3]], "rubric", [[1, 0], [3, 100]])) == [0.0, 100.0]
    assert flat(udfs.CRM_SCORE([[10], [20]], "bands", [[15, 0], ["else", 100]])) == [
        0.0, 100.0]


def test_lite_date_wrappers_never_raise():
    import udfs.lite as lite

    assert flat(lite.CRM_NEXT_CONTACT([[3e6]], 30))[0].startswith("#NEXT: row 1 is 3000000.0")
    assert lite.CRM_CHURN_RISK([["A"]], [["CustomerID", "Date", "Amount"], ["A", 46000, 5]],
                               1e12).startswith("#CHURN: as_of is")


# --- hardened messages and friendlier input (issues 11 and 16) ---------------------------


def test_overflow_is_named_not_a_wrong_number():
    for out in (udfs.CRM_SCORE([[1e308], [-1e308], [0]], "minmax"),
                udfs.CRM_ABC([[1e308], [1.7e308], [1]]),
                udfs.CRM_ALPHA([[1e308, 1], [1, 1e308], [2, 2]])):
        assert isinstance(out, str) and "overflow" in out and "\n" not in out, out
    # Large but computable figures still give their answer.
    assert flat(udfs.CRM_ABC([[1e300], [1e300], [1]])) == ["A", "A", "C"]


def test_the_text_inf_is_not_a_number():
    out = udfs.CRM_HIGHLOW([[1], ["inf"], [2]])
    assert out == "#HIGHLOW: scores row 2 is 'inf', not a number. Give a column of numbers."
    assert udfs.CRM_ABC([[1], [" nan "]]).startswith("#ABC: values row 2 is ' nan '")
    assert udfs.CRM_RFM([[1]], [[True]], [[1]]).startswith("#RFM: orders row 1 is True")
    assert flat(udfs.CRM_VALUE([[50, "inf"], [50, 50]], [[0.5], [0.5]])) == [
        "#VALUE: row 1, column 2 is 'inf', not a number", 50.0]


def test_messages_echo_a_short_excerpt_on_one_line():
    long_text = "Müller GmbH\nHauptstraße 1\n" * 500
    for out in (udfs.CRM_HIGHLOW([[long_text], [1]]),
                udfs.AHP_WEIGHTS([[1, long_text], [None, 1]]),
                udfs.AHP_CR([[long_text] * 20 for _ in range(20)]),
                flat(udfs.CRM_TYPENAME([[long_text]]))[0]):
        assert out.startswith("#") and len(out.splitlines()) == 1 and len(out) <= 300, out
        assert "Müller" in out  # the excerpt still says which cell


def test_iso_text_dates_are_dates():
    import datetime as dt

    out = flat(udfs.CRM_NEXT_CONTACT([["2026-03-01"], [" 2026-03-01 "], ["01/03/2026"]], 30))
    assert out[:2] == [dt.datetime(2026, 3, 31)] * 2
    assert out[2] == "#NEXT: row 3 is '01/03/2026', not a date"
    grid = [["CustomerID", "Date", "Amount"], *_orders("A", (2025, 11, 24), 30, 12)]
    assert udfs.CRM_CHURN_RISK([["A"]], grid, "2026-10-31") == udfs.CRM_CHURN_RISK(
        [["A"]], grid, dt.datetime(2026, 10, 31))


def test_fractional_visit_interval_is_refused():
    import datetime as dt

    out = flat(udfs.CRM_NEXT_CONTACT([[dt.datetime(2026, 1, 1)]] * 2, [[10.5], [10]]))
    assert out == ["#NEXT: row 1 has an interval of 10.5 days; give whole days",
                   dt.datetime(2026, 1, 11)]


def test_repair_top_zero_is_an_error_not_three():
    matrix = [[1, 9, "1/9"], [None, 1, 9], [None, None, 1]]
    for bad in (0, -1, 1.5, "two", True):
        out = udfs.AHP_REPAIR(matrix, None, bad)
        assert isinstance(out, str) and out.startswith("#AHP: top is "), (bad, out)
    assert len(udfs.AHP_REPAIR(matrix, None, "1")) == 2
    assert len(udfs.AHP_REPAIR(matrix)) == 4  # blank: the three worst


def test_repair_on_consistent_judgments_says_so():
    out = udfs.AHP_REPAIR([[1, 2, 4], [None, 1, 2], [None, None, 1]])
    assert out[1][0] == ("(none: every judgment agrees with the others as closely as the "
                         "1-9 scale allows)")


def test_off_scale_judgment_is_flagged_in_the_consistency_table():
    table = dict(udfs.AHP_CONSISTENCY([[1, 20, 2], [None, 1, "1/10"], [None, None, 1]]))
    assert table["Scale"] == "off the 1-9 scale: (1,2) is 20 and 1 more; use 1 to 9, or 1/2 to 1/9"
    assert dict(udfs.AHP_CONSISTENCY(CONSISTENT))["Scale"] == "every judgment on the 1-9 scale"
    assert isinstance(udfs.AHP_CR([[1, 20], [None, 1]]), float)  # CR stays a number


def test_highlow_whole_column_is_the_exact_split():
    from xlcrm.value.segments import high_low

    rng = np.random.default_rng(4)
    scores = np.round(rng.uniform(0, 100, 5000), 1)
    grid = [[v] for v in scores.tolist()] + [[None]] * 3
    out = flat(udfs.CRM_HIGHLOW(grid))
    expected = np.where(high_low(scores).high, "High", "Low").tolist()
    assert out == expected + [None] * 3
    assert flat(udfs.CRM_HIGHLOW([["30"], [" 70 "], [""], [80.0]])) == [
        "Low", "High", None, "High"]


@pytest.mark.parametrize("module", ["udfs", "xlcrm.value.ahp"])
def test_a_cold_worksheet_function_does_not_load_the_heavy_libraries(module):
    """The first worksheet function after Excel opens imports udfs: it must not wait for
    scikit-learn or scipy's statistics (1 s and more), which only profiles and tests use."""
    import subprocess
    import sys

    heavy = ("sklearn", "scipy.stats", "scipy.optimize")
    code = f"import sys, {module}; print(' '.join(m for m in {heavy!r} if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True).stdout.split()
    assert loaded == []


def test_ahp_sensitivity_the_guides_example():
    scores = [["Revenue", "Profit", "Growth"], [90, 90, 50], [60, 38, 50], [10, 10, 50],
              [80, 70, 50], [None, None, None]]
    groups = ["Contribution", "Contribution", "Potential"]
    out = udfs.AHP_SENSITIVITY(scores, groups, [0.3, 0.3, 0.4], [-0.1, 0.1])
    assert out[0][:6] == ["Level", "Item", "Move", "WeightBefore", "WeightAfter", "TypeChanges"]
    rows = {(r[1], r[2]): r for r in out[1:]}
    assert len(out) == 1 + 4 + 4  # 2 groups and 2 indicators of Contribution, 2 moves each
    profit = rows[("Profit", 0.1)]
    assert profit[3:7] == [0.5, pytest.approx(0.55), 1, 0.25]
    assert rows[("Contribution", 0.1)][5] == 0  # a group weight never changes a type
    assert profit[7] is None  # ABC not counted unless asked
    with_abc = udfs.AHP_SENSITIVITY(scores, groups, [0.3, 0.3, 0.4], 0.1, True)
    assert all(isinstance(r[7], int) for r in with_abc[1:])
    assert udfs.AHP_SENSITIVITY(scores, groups[:2], [0.3, 0.3, 0.4]).startswith(
        "#SENSITIVITY: scores have 3 columns but there are 2 groups")
    assert "row 1, column 2 is 'x'" in udfs.AHP_SENSITIVITY([[1, "x", 3]], groups, [0.3, 0.3, 0.4])
    assert "add up to 1" in udfs.AHP_SENSITIVITY([[1, 2, 3]], groups, [0.3, 0.3, 0.3])
