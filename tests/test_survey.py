"""Satisfaction index, Cronbach's alpha and importance-performance analysis."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from xlcrm.errors import InputError
from xlcrm.operations.survey import (
    ALPHA_MINIMUM,
    IPA_QUADRANTS,
    cronbach_alpha,
    importance_performance,
    satisfaction,
    survey_questions,
)

# Published worked example: 10 respondents x 4 Likert items, alpha = 0.674 (by hand from the
# covariance matrix, confirmed there with R's ltm::cronbach.alpha): thinkdeeply.cc,
# "Survey reliability", https://thinkdeeply.cc/posts/survey-reliability
PUBLISHED = np.array(
    [
        [3, 3, 3, 3],
        [3, 3, 4, 3],
        [3, 3, 3, 1],
        [5, 4, 4, 5],
        [2, 1, 4, 4],
        [4, 4, 4, 5],
        [3, 2, 3, 3],
        [3, 4, 3, 3],
        [4, 2, 2, 3],
        [3, 3, 2, 3],
    ],
    dtype=float,
)


def covariance_alpha(x: np.ndarray) -> float:
    """Alpha from the mean inter-item covariance c and the mean item variance v (the form
    pingouin and the published example use): k c / (v + (k - 1) c)."""
    cov = np.cov(x, rowvar=False)
    k = cov.shape[0]
    c = cov[np.triu_indices(k, 1)].mean()
    v = np.diag(cov).mean()
    return k * c / (v + (k - 1) * c)


def test_alpha_matches_the_published_example() -> None:
    alpha = cronbach_alpha(pd.DataFrame(PUBLISHED, columns=["X1", "X2", "X3", "X4"]))
    assert round(alpha, 3) == 0.674
    assert alpha == pytest.approx(covariance_alpha(PUBLISHED), abs=1e-12)
    # The published covariance matrix entries (4 decimals).
    assert np.cov(PUBLISHED, rowvar=False)[0, 1] == pytest.approx(0.4778, abs=1e-4)


def test_alpha_uses_listwise_deletion() -> None:
    with_gaps = np.vstack([PUBLISHED, [[5, np.nan, 1, 1], [np.nan, np.nan, np.nan, np.nan]]])
    assert cronbach_alpha(with_gaps) == pytest.approx(cronbach_alpha(PUBLISHED))
    frame = pd.DataFrame(with_gaps.tolist(), dtype=object)
    frame.iat[10, 1] = None
    assert cronbach_alpha(frame) == pytest.approx(cronbach_alpha(PUBLISHED))


def test_alpha_edge_cases() -> None:
    assert np.isnan(cronbach_alpha(np.array([[1.0, 2.0]])))  # one complete row
    assert np.isnan(cronbach_alpha(np.array([[1.0, 5.0], [5.0, 1.0]])))  # constant total
    assert cronbach_alpha(np.array([[1, 1], [2, 2], [5, 5]])) == pytest.approx(1.0)
    with pytest.raises(InputError, match="at least two questions"):
        cronbach_alpha(np.array([[1.0], [2.0]]))
    with pytest.raises(InputError, match="'good' in column 'Q2', row 2 is not a number"):
        cronbach_alpha(pd.DataFrame({"Q1": [1, 2], "Q2": [3, "good"]}))


@settings(max_examples=50, deadline=None)
@given(
    arrays(np.int64, st.tuples(st.integers(3, 30), st.integers(2, 6)), elements=st.integers(1, 5))
)
def test_alpha_equals_the_covariance_form(x: np.ndarray) -> None:
    x = x.astype(float)
    total_var = x.sum(axis=1).var(ddof=1)
    c = np.cov(x, rowvar=False)[np.triu_indices(x.shape[1], 1)].mean()
    alpha = cronbach_alpha(x)
    if total_var == 0:
        assert np.isnan(alpha)
    elif abs(c) > 1e-9:
        assert alpha == pytest.approx(covariance_alpha(x), rel=1e-9, abs=1e-9)
    assert not alpha > 1 + 1e-12


def survey_frame(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["CustomerID", "Date", "Q1", "Q2", "Q3"])


def test_satisfaction_index_uses_the_latest_questionnaire() -> None:
    frame = survey_frame(
        [
            ("A", pd.Timestamp("2026-01-01"), 1, 1, 1),  # index 0, older
            ("A", pd.Timestamp("2026-03-01"), 5, 4, 3),  # mean 4: 75
            ("B", pd.Timestamp("2026-02-01"), 3, None, 4),  # mean 3.5: 62.5
            ("D", pd.Timestamp("2026-02-01"), 5, 5, 5),  # 100
            ("D", pd.Timestamp("2026-02-01"), 3, 3, 3),  # 50, same day: mean 75
        ]
    )
    res = satisfaction(frame, ["A", "B", "C", "D"])
    t = res.table
    assert list(t.columns) == ["SatisfactionIndex", "SatisfactionScore", "Responses", "LastSurvey"]
    assert t.loc["A", "SatisfactionIndex"] == 75.0 and t.loc["A", "SatisfactionScore"] == 4.0
    assert t.loc["A", "Responses"] == 2 and t.loc["A", "LastSurvey"] == pd.Timestamp("2026-03-01")
    assert t.loc["B", "SatisfactionIndex"] == 62.5
    assert np.isnan(t.loc["C", "SatisfactionIndex"]) and t.loc["C", "Responses"] == 0
    assert t.loc["D", "SatisfactionIndex"] == 75.0
    assert res.overall_index == pytest.approx((75 + 62.5 + 75) / 3)
    assert res.responses == 5 and res.questions == ("Q1", "Q2", "Q3")
    assert res.alpha_responses == 4
    complete = np.array([[1, 1, 1], [5, 4, 3], [5, 5, 5], [3, 3, 3]], dtype=float)
    assert res.alpha == pytest.approx(cronbach_alpha(complete))
    np.testing.assert_allclose(res.question_means, [17 / 5, 13 / 4, 16 / 5])
    assert res.problems == []


def test_satisfaction_on_another_scale() -> None:
    frame = survey_frame([("A", pd.Timestamp("2026-01-01"), 0, 10, 7)])
    res = satisfaction(frame, ["A"], scale=(0, 10))
    assert res.table.loc["A", "SatisfactionIndex"] == pytest.approx(170 / 3)
    assert res.table.loc["A", "SatisfactionScore"] == pytest.approx(17 / 3)
    with pytest.raises(InputError):
        satisfaction(frame, ["A"], scale=(5, 1))


def test_dirty_survey_gives_problems_with_their_cells() -> None:
    frame = survey_frame(
        [
            ("A", pd.Timestamp("2026-01-01"), 7, 4, 4),  # row 2: C2 outside the scale
            ("A", pd.Timestamp("2026-01-02"), 4, "good", 4),  # row 3: D3 text
            ("Z", pd.Timestamp("2026-01-03"), 4, 4, 4),  # row 4: unknown customer
            ("B", "soon", 4, 4, 4),  # row 5: bad date
            ("B", pd.Timestamp("2026-01-04"), 0, None, "x"),  # row 6: nothing usable
            ("B", pd.Timestamp("2026-12-01"), 4, 4, 4),  # row 7: after today
        ]
    ).astype(object)
    res = satisfaction(frame, ["A", "B"], today=dt.date(2026, 6, 30))
    got = [(p.severity, p.sheet, p.cell) for p in res.problems]
    assert got == [
        ("warning", "Survey", "A4"),
        ("error", "Survey", "B5"),
        ("warning", "Survey", "B7"),
        ("error", "Survey", "C2"),
        ("error", "Survey", "C6"),
        ("error", "Survey", "D3"),
        ("error", "Survey", "E6"),
        ("warning", "Survey", "A6"),
    ]
    assert "7 is outside the 1-5 scale of Q1" in res.problems[3].message
    assert "'good' is not an answer to Q2" in res.problems[5].message
    assert res.responses == 2
    assert res.table.loc["A", "SatisfactionIndex"] == 75.0  # latest: 4, blank, 4
    assert np.isnan(res.table.loc["B", "SatisfactionIndex"])


def test_low_alpha_is_flagged() -> None:
    rows = [("A", pd.Timestamp("2026-01-01"), a, b, c) for a, b, c in
            [(1, 5, 3), (5, 1, 3), (3, 3, 1), (2, 4, 5), (4, 2, 2)]]
    res = satisfaction(survey_frame(rows), ["A"])
    assert res.alpha < ALPHA_MINIMUM
    [p] = res.problems
    assert p.severity == "warning" and "Cronbach's alpha" in p.message


def test_survey_without_questions_or_rows() -> None:
    empty = satisfaction(pd.DataFrame(columns=["CustomerID", "Date"]), ["A"])
    assert np.isnan(empty.overall_index) and np.isnan(empty.alpha) and empty.responses == 0
    assert empty.table.loc["A", "Responses"] == 0
    assert np.isnan(satisfaction(pd.DataFrame(), ["A"]).overall_index)
    with pytest.raises(InputError, match="no question columns"):
        satisfaction(pd.DataFrame({"CustomerID": ["A"], "Date": ["2026-01-01"]}), ["A"])
    with pytest.raises(InputError, match="no question column Q9"):
        satisfaction(survey_frame([]), ["A"], questions=["Q9"])
    assert survey_questions(survey_frame([])) == ("Q1", "Q2", "Q3")


def test_importance_performance_quadrants() -> None:
    frame = pd.DataFrame(
        {
            "CustomerID": list("ABCD"),
            "Date": pd.to_datetime(["2026-01-01"] * 4),
            "Q1": [2, 2, 2, 2],  # performance 2.0
            "Q2": [5, 4, 5, 4],  # 4.5
            "Q3": [2, 3, 2, 3],  # 2.5
            "Q4": [4, 4, 4, 4],  # 4.0
        }
    )
    importance = {"Q1": 5, "Q2": 4, "Q3": 2, "Q4": 1}  # mean 3; performance mean 3.25
    ipa = importance_performance(frame, importance)
    assert list(ipa.columns) == [
        "Question", "Importance", "Performance", "PerformanceIndex", "Quadrant"
    ]
    assert list(ipa["Quadrant"]) == [
        "Concentrate here", "Keep up the good work", "Low priority", "Possible overkill"
    ]
    assert list(ipa["Performance"]) == [2.0, 4.5, 2.5, 4.0]
    assert list(ipa["PerformanceIndex"]) == [25.0, 87.5, 37.5, 75.0]
    assert set(ipa["Quadrant"]) == set(IPA_QUADRANTS)
    # On the mean counts as high; the same table from a SurveyResult.
    res = satisfaction(frame, list("ABCD"))
    on_mean = importance_performance(res, {"Q1": 3, "Q2": 3, "Q3": 3, "Q4": 3})
    assert list(on_mean["Quadrant"]) == [
        "Concentrate here", "Keep up the good work", "Concentrate here", "Keep up the good work"
    ]
    subset = importance_performance(res, {"Q4": 1, "Q1": 5})
    assert list(subset["Question"]) == ["Q4", "Q1"]
    assert list(subset["Quadrant"]) == ["Possible overkill", "Concentrate here"]


def test_importance_performance_rejects_bad_input() -> None:
    frame = survey_frame([("A", pd.Timestamp("2026-01-01"), 1, 2, 3)])
    with pytest.raises(InputError, match="Q7"):
        importance_performance(frame, {"Q7": 1})
    with pytest.raises(InputError, match="importance of Q1"):
        importance_performance(frame, {"Q1": "high", "Q2": 1})
    blank = importance_performance(survey_frame([]), {"Q1": 1, "Q2": 2})
    assert list(blank["Quadrant"]) == ["", ""]


demo = pytest.importorskip("xlcrm.demo")


def test_demo_survey_agrees_with_the_generator() -> None:
    ledger = demo.make_ledger(400, seed=5, dirty=False)
    customers = ledger.customers.set_index("CustomerID")
    res = satisfaction(ledger.survey, ledger.customers["CustomerID"], today=ledger.as_of)
    assert res.questions == tuple(demo.SURVEY_QUESTIONS)
    # The demo's Satisfaction is the mean answer rounded to 2 decimals.
    np.testing.assert_allclose(
        res.table["SatisfactionScore"], customers["Satisfaction"], atol=0.005 + 1e-9
    )
    assert (res.table["SatisfactionIndex"].notna() == customers["Satisfaction"].notna()).all()
    assert 0.6 < res.alpha < 0.95  # the generator aims at about 0.8
    assert res.problems == [] or all(p.severity == "warning" for p in res.problems)
