"""Surveys: satisfaction index, Cronbach's alpha, importance-performance analysis.

The ``Survey`` sheet holds one row per questionnaire returned: ``CustomerID``, ``Date``, then
one column per question (``Q1``, ``Q2``, ...) answered on a Likert scale (default 1..5).

Definitions
-----------
* **Answer**: a number within the scale (a value between two points, such as 3.5, is kept).
  Text, TRUE/FALSE, a date or a number outside the scale is reported with its cell (error)
  and counts as not answered; a blank is simply not answered.
* **Response index**: the mean of a response's answers, rescaled to 0..100:
  ``(mean - low) / (high - low) * 100`` (1 -> 0, 3 -> 50, 5 -> 100 on a 1..5 scale). A
  response without any usable answer is reported (warning) and left out.
* **Customer index** (``SatisfactionIndex``): the index of the customer's *latest*
  questionnaire (the mean of the indices when it returned several on that day).
  Satisfaction is a state that changes, with complaints in particular; an old questionnaire
  would speak for a customer the company may since have let down. ``Responses`` counts all
  of its questionnaires, ``LastSurvey`` is the latest date. ``SatisfactionScore`` is the same
  figure on the questionnaire's own scale (``low + index / 100 * (high - low)``), which is
  what the default hierarchy's Satisfaction indicator expects (min-max on the fixed 1..5
  scale).
* **Overall index**: the mean of the customer indices, each customer counting once
  (a customer who answers every month does not outweigh one who answered once).
* **Cronbach's alpha** of the questionnaire over all responses kept (every questionnaire
  is an observation): ``k / (k - 1) * (1 - sum of item variances / variance of the total)``
  (Cronbach 1951), sample variances (``ddof = 1``; the ratio is the same with ``ddof = 0``),
  **listwise deletion**: only responses that answer every question enter, so that item and
  total variances are taken over the same people (as SPSS RELIABILITY and R's
  ``ltm::cronbach.alpha(na.rm = TRUE)`` do). Below 0.7, the usual minimum for a scale
  (Nunnally 1978), a warning says the index is a weak measure.
* **Importance-performance** (Martilla & James 1977, "Importance-Performance Analysis",
  *Journal of Marketing* 41(1): 77-79): each question's performance is its mean answer;
  importance is given by the analyst. The grid is split at the mean importance and the mean
  performance over the questions (a value equal to the mean counts as high):
  high importance and low performance: "Concentrate here"; high and high: "Keep up the good
  work"; low and low: "Low priority"; low importance and high performance: "Possible
  overkill".

Rows whose CustomerID is blank or not on Customers, or whose Date is blank, not a date or
after ``today`` (when given) are reported and left out of everything above.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import pandas as pd

from xlcrm import schema
from xlcrm.errors import InputError, Problem
from xlcrm.operations.orders import (
    _as_date,
    _Cells,
    _day_number,
    _find_columns,
    _read_id_date,
    _to_datetime,
    customer_index,
)
from xlcrm.value.scoring import parse_numeric, show_value

__all__ = [
    "ALPHA_MINIMUM",
    "IPA_QUADRANTS",
    "SurveyResult",
    "cronbach_alpha",
    "importance_performance",
    "satisfaction",
    "survey_questions",
]

ALPHA_MINIMUM: Final = 0.7
"""Cronbach's alpha below which the questionnaire is flagged as a weak scale."""

IPA_QUADRANTS: Final = (
    "Concentrate here",
    "Keep up the good work",
    "Low priority",
    "Possible overkill",
)
"""Martilla & James (1977) quadrants: (high I, low P), (high, high), (low, low), (low I, high P)."""

_MAX_CELL_PROBLEMS: Final = 1000


def cronbach_alpha(items: pd.DataFrame | np.ndarray) -> float:
    """Cronbach's alpha of a set of items (one column per question, one row per respondent).

    ``alpha = k / (k - 1) * (1 - sum(item variances) / variance(total))``, with sample
    variances, after listwise deletion (rows with any blank are left out).

    Parameters
    ----------
    items : pandas.DataFrame or 2-D array
        Numbers; blanks (NaN/None) allowed.

    Returns
    -------
    float
        Alpha; NaN when fewer than two complete rows remain or the total has no variance
        (everyone gave the same total: reliability is undefined).

    Raises
    ------
    InputError
        With fewer than two items, or a value that is not a number.
    """
    frame = pd.DataFrame(items)
    k = frame.shape[1]
    if k < 2:
        raise InputError(
            f"Cronbach's alpha needs at least two questions, got {k}",
            fix="Give the answers to two or more questions, one column each.",
        )
    columns = []
    for j in range(k):
        x, _blank, reason = parse_numeric(frame.iloc[:, j])
        bad = np.flatnonzero(reason != 0)
        if bad.size:
            raise InputError(
                f"{show_value(frame.iat[int(bad[0]), j])} in column {frame.columns[j]!r}, row"
                f" {int(bad[0]) + 1} is not a number",
                fix="Pass numeric answers only (blank for not answered).",
            )
        columns.append(x)
    x = np.column_stack(columns)
    x = x[np.isfinite(x).all(axis=1)]
    if x.shape[0] < 2:
        return float("nan")
    total_var = x.sum(axis=1).var(ddof=1)
    if not total_var > 0:
        return float("nan")
    return float(k / (k - 1) * (1.0 - x.var(axis=0, ddof=1).sum() / total_var))


def survey_questions(survey: pd.DataFrame) -> tuple[str, ...]:
    """The question columns of a Survey table: every column but CustomerID and Date."""
    skip = {schema.CUSTOMER_ID.casefold(), "date"}
    return tuple(str(c) for c in survey.columns if str(c).strip().casefold() not in skip)


def _check_scale(scale: Sequence[float]) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in scale)
    except (TypeError, ValueError):
        raise InputError(
            f"scale {scale!r} is not a pair of numbers", fix="Use e.g. (1, 5)."
        ) from None
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise InputError(f"scale {scale!r} is not (low, high) with low < high", fix="Use (1, 5).")
    return low, high


def _answers(
    survey: pd.DataFrame,
    questions: Sequence[str],
    scale: tuple[float, float],
    rows: np.ndarray,
    cells: _Cells | None,
) -> np.ndarray:
    """Answers as a (rows x questions) float array, NaN where blank or unusable.

    Problems are reported (when ``cells`` is given) for the positions in ``rows`` only.
    """
    low, high = scale
    where = {str(c): k for k, c in enumerate(survey.columns)}
    out = np.full((len(survey), len(questions)), np.nan)
    for j, q in enumerate(questions):
        col = where[q]
        raw = survey.iloc[:, col]
        x, blank, reason = parse_numeric(raw)
        usable = ~blank & (reason == 0) & np.isfinite(x)
        inside = usable & (x >= low) & (x <= high)
        out[inside, j] = x[inside]
        if cells is None:
            continue
        mask = np.zeros(len(survey), dtype=bool)
        mask[rows] = True
        cells.add(
            "error",
            np.flatnonzero(mask & ~blank & ~usable),
            col,
            lambda p, raw=raw, q=q: (
                f"{show_value(raw.iat[p])} is not an answer to {q}; it counts as not answered"
            ),
            f"Type a whole number from {low:g} to {high:g}, or clear the cell.",
            f"answers to {q} that are not numbers",
        )
        cells.add(
            "error",
            np.flatnonzero(mask & usable & ~inside),
            col,
            lambda p, raw=raw, q=q: (
                f"{show_value(raw.iat[p])} is outside the {low:g}-{high:g} scale of {q}; it counts"
                " as not answered"
            ),
            f"Type a whole number from {low:g} to {high:g}.",
            f"answers to {q} outside the scale",
        )
    return out


def _column_means(x: np.ndarray) -> np.ndarray:
    """Mean of the finite values of each column; NaN for a column without any."""
    ok = np.isfinite(x)
    n = ok.sum(axis=0)
    total = np.where(ok, x, 0.0).sum(axis=0)
    return np.divide(total, n, out=np.full(x.shape[1], np.nan), where=n > 0)


@dataclass(eq=False)
class SurveyResult:
    """Satisfaction per customer and for the questionnaire.

    Attributes
    ----------
    table : pandas.DataFrame
        Indexed by CustomerID like ``customer_ids``; columns ``SatisfactionIndex`` (0..100),
        ``SatisfactionScore`` (on the scale), ``Responses`` (int) and ``LastSurvey``
        (date); NaN/0/NaT for a customer without a questionnaire.
    overall_index : float
        Mean of the customer indices (NaN when nobody answered).
    alpha : float
        Cronbach's alpha over all responses kept, listwise (NaN when undefined).
    alpha_responses : int
        Responses that answered every question (those alpha is computed on).
    responses : int
        Responses kept (with at least one usable answer).
    questions : tuple of str
    question_means : pandas.Series
        Mean answer per question over the responses kept (on the scale).
    scale : tuple of float
    problems : list of Problem
    """

    table: pd.DataFrame
    overall_index: float
    alpha: float
    alpha_responses: int
    responses: int
    questions: tuple[str, ...]
    question_means: pd.Series
    scale: tuple[float, float]
    problems: list[Problem] = field(default_factory=list)


def satisfaction(
    survey: pd.DataFrame,
    customer_ids: Any,
    *,
    scale: Sequence[float] = (1, 5),
    sheet: str = schema.SURVEY,
    header_row: int = 1,
    today: dt.date | None = None,
    questions: Sequence[str] | None = None,
    max_cell_problems: int | None = _MAX_CELL_PROBLEMS,
) -> SurveyResult:
    """Satisfaction index per customer and overall, and Cronbach's alpha.

    Parameters
    ----------
    survey : pandas.DataFrame
        The Survey sheet as read (CustomerID, Date, one column per question).
    customer_ids : array-like
        The customers of the analysis.
    scale : (low, high)
        The answer scale (default 1..5).
    sheet, header_row : str, int
        Where the table sits, for cell addresses.
    today : datetime.date, optional
        The day of the analysis; questionnaires dated after it are reported and left out.
    questions : sequence of str, optional
        The question columns (default: every column but CustomerID and Date).
    max_cell_problems : int or None
        Itemise at most this many problems of one kind, then summarise.

    Returns
    -------
    SurveyResult

    Raises
    ------
    InputError
        For a missing CustomerID or Date column, a question not on the sheet, rows without
        any question column, or a scale that is not ``low < high``.
    """
    low, high = _check_scale(scale)
    ids = customer_index(customer_ids)
    uniq = ids.unique()
    k_cust = uniq.size
    cells = _Cells(sheet, header_row, max_cell_problems)
    if survey.shape[1] == 0:
        survey = pd.DataFrame(columns=list(schema.SURVEY_ID_COLUMNS))
    cols = _find_columns(
        survey, (schema.CUSTOMER_ID, "Date"), (), sheet=sheet, header_row=header_row
    )
    qs = tuple(questions) if questions is not None else survey_questions(survey)
    missing = [q for q in qs if q not in {str(c) for c in survey.columns}]
    if missing:
        raise InputError(
            f"the {sheet} sheet has no question column {', '.join(missing)}",
            fix=f"Add the column(s) in row {header_row}, or leave them out of the questions.",
            sheet=sheet,
            cell=f"{header_row}:{header_row}",
        )
    if not qs and len(survey):
        raise InputError(
            f"the {sheet} sheet has answers but no question columns",
            fix=f"Put one column per question (Q1, Q2, ...) after Date, headers in row"
            f" {header_row}.",
            sheet=sheet,
            cell=f"{header_row}:{header_row}",
        )
    t_day = _day_number(_as_date(today)) if today is not None else _day_number(dt.date.max)
    code, day, keep, _known = _read_id_date(
        survey, cols, uniq, t_day, cells, "questionnaire", "it is left out"
    )
    answers = _answers(survey, qs, (low, high), np.flatnonzero(keep), cells)
    answered = np.isfinite(answers).any(axis=1) if qs else np.zeros(len(survey), dtype=bool)
    id_col = cols[schema.CUSTOMER_ID]
    cells.add(
        "warning",
        np.flatnonzero(keep & ~answered),
        id_col,
        lambda _p: "this questionnaire has no usable answer; it is left out",
        "Fill in the answers, or delete the row.",
        "questionnaires without a usable answer",
    )
    keep &= answered

    kept = answers[keep]
    mean_answer = _column_means(kept.T)  # every kept row has an answer
    index = (mean_answer - low) / (high - low) * 100.0
    c = code[keep]
    d = day[keep]
    responses = np.bincount(c, minlength=k_cust).astype(np.int64)
    latest = np.full(k_cust, np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(latest, c, d)
    on_latest = d == latest[c]
    idx_sum = np.bincount(c[on_latest], weights=index[on_latest], minlength=k_cust)
    idx_n = np.bincount(c[on_latest], minlength=k_cust)
    cust_index = np.divide(idx_sum, idx_n, out=np.full(k_cust, np.nan), where=idx_n > 0)
    has = responses > 0

    table = pd.DataFrame(
        {
            "SatisfactionIndex": cust_index,
            "SatisfactionScore": low + cust_index / 100.0 * (high - low),
            "Responses": responses,
            "LastSurvey": _to_datetime(latest, has),
        },
        index=pd.Index(uniq, dtype=object, name=schema.CUSTOMER_ID),
    )
    if not ids.is_unique:
        table = table.reindex(ids)

    alpha = float("nan")
    complete = int(np.isfinite(kept).all(axis=1).sum()) if len(qs) >= 2 else 0
    if len(qs) >= 2:
        alpha = cronbach_alpha(kept)
        if np.isfinite(alpha) and alpha < ALPHA_MINIMUM:
            cells.problems.append(
                Problem(
                    "warning",
                    f"Cronbach's alpha of the questionnaire is {alpha:.2f} over {complete}"
                    f" complete responses, below {ALPHA_MINIMUM:g}: the questions may not"
                    " measure one thing, so the satisfaction index is a weak measure",
                    "Review the questions (one that does not belong lowers alpha), or read"
                    " the index with care.",
                    sheet,
                    None,
                )
            )
    means = _column_means(kept)
    return SurveyResult(
        table=table,
        overall_index=float(np.mean(cust_index[has])) if has.any() else float("nan"),
        alpha=alpha,
        alpha_responses=complete,
        responses=int(keep.sum()),
        questions=qs,
        question_means=pd.Series(means, index=pd.Index(qs, dtype=object), dtype=float),
        scale=(low, high),
        problems=cells.problems,
    )


def importance_performance(
    survey: pd.DataFrame | SurveyResult,
    importance: Mapping[str, float],
    *,
    scale: Sequence[float] = (1, 5),
) -> pd.DataFrame:
    """Importance-performance table (Martilla & James 1977).

    Parameters
    ----------
    survey : pandas.DataFrame or SurveyResult
        The Survey sheet as read (performance = mean usable answer per question over all its
        rows; unusable answers are left out, see :func:`satisfaction` for their report), or
        the result of :func:`satisfaction` (its ``question_means``).
    importance : mapping of str to float
        Question -> importance (any scale, e.g. 1..5 or weights). Questions without an
        importance are left out of the table.
    scale : (low, high)
        Answer scale, for ``PerformanceIndex`` (ignored for a SurveyResult, which has its own).

    Returns
    -------
    pandas.DataFrame
        One row per question of ``importance`` (in its order): ``Question``, ``Importance``,
        ``Performance`` (mean answer), ``PerformanceIndex`` (0..100) and ``Quadrant``
        (:data:`IPA_QUADRANTS`; blank for a question nobody answered, which is also left out
        of the mean performance).

    Raises
    ------
    InputError
        For an importance that is not a finite number, or that names no question.
    """
    if isinstance(survey, SurveyResult):
        means = survey.question_means
        low, high = survey.scale
    else:
        low, high = _check_scale(scale)
        qs = survey_questions(survey)
        answers = _answers(survey, qs, (low, high), np.zeros(0, dtype=int), None)
        means = pd.Series(_column_means(answers), index=pd.Index(qs, dtype=object))
    names = [str(q) for q in importance]
    unknown = [q for q in names if q not in means.index]
    if unknown:
        raise InputError(
            f"importance is given for {', '.join(unknown)}, which the survey does not ask",
            fix=f"Use the question headers: {', '.join(map(str, means.index))}.",
        )
    weights = np.array([importance[q] for q in importance], dtype=object)
    imp, _blank, reason = parse_numeric(pd.Series(weights, dtype=object))
    bad = ~np.isfinite(imp) | (reason != 0)
    if bad.any():
        j = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"importance of {names[j]} is {show_value(weights[j])}, not a number",
            fix="Give every question a number for its importance.",
        )
    perf = means.reindex(names).to_numpy(dtype=float)
    answered = np.isfinite(perf)
    table = pd.DataFrame(
        {
            "Question": names,
            "Importance": imp,
            "Performance": perf,
            "PerformanceIndex": (perf - low) / (high - low) * 100.0,
        }
    )
    quadrant = np.full(len(names), "", dtype=object)
    if answered.any():
        imp_cut = imp[answered].mean()
        perf_cut = perf[answered].mean()
        hi_i = imp >= imp_cut
        hi_p = perf >= perf_cut
        # grid[high importance][high performance]
        grid = np.array(
            [[IPA_QUADRANTS[2], IPA_QUADRANTS[3]], [IPA_QUADRANTS[0], IPA_QUADRANTS[1]]]
        )
        quadrant[answered] = grid[hi_i[answered].astype(int), hi_p[answered].astype(int)]
    table["Quadrant"] = quadrant
    return table
