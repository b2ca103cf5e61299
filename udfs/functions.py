"""Worksheet functions: ``=AHP_WEIGHTS(B3:D5)`` and friends.

Each function converts the range xlwings hands over (2-D lists of numbers, text and
``None`` for blank cells; one cell may come as a scalar) into core types, calls the core
in :mod:`xlcrm`, and returns a column for column input, so one dynamic-array formula
covers a whole column. Bad input never raises into Excel: the result is one line of text
starting with ``#`` that says what is wrong and where.

The docstrings are Excel's tooltips: they are written for the people who type the formulas.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import math
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import xlwings as xw

from xlcrm.bulk import collector_paused
from xlcrm.errors import InputError
from xlcrm.operations.clv import churn_warning, lifetime_value
from xlcrm.operations.orders import id_text, order_metrics, rfm_scores, rfm_segment
from xlcrm.operations.survey import cronbach_alpha
from xlcrm.value import ahp as core_ahp
from xlcrm.value.hierarchy import quick_indicator
from xlcrm.value.scoring import score_values
from xlcrm.value.segments import abc_classes, high_low, kmeans_profiles
from xlcrm.value.sensitivity import MOVES, SENSITIVITY_COLUMNS, weight_sensitivity
from xlcrm.value.strategies import DEFAULT_TYPES, CustomerType, strategies_from_table, type_number

#: Excel's Insert Function dialog lists the functions under this category.
CATEGORY = "xlcrm"

F = TypeVar("F", bound=Callable[..., Any])
# xlwings takes the annotation of a parameter or result as its converter (desktop, Server
# and Lite alike), and a union such as ``str | None`` is no converter: the call fails when
# Excel makes it. So the worksheet functions annotate with ``Any`` or a type xlwings
# converts (``Grid`` is a list); tests/test_lite.py checks every one.
Grid = list[list[Any]]


#: The longest message a cell shows; Excel's limit is 32 767, a reader's much lower.
LONGEST_MESSAGE = 300
#: How much of a cell's text a message repeats.
EXCERPT = 40


def one_line(text: str, limit: int = LONGEST_MESSAGE) -> str:
    """``text`` as one line of at most ``limit`` characters.

    Line breaks (and every other whitespace) become single spaces, since a cell shows one
    line; a word longer than :data:`EXCERPT` characters (echoed text) is cut short, then the
    whole message if it is still too long.
    """
    words = [w if len(w) <= EXCERPT else w[: EXCERPT - 10] + "…" for w in str(text).split()]
    line = " ".join(words)
    return line if len(line) <= limit else line[: limit - 1] + "…"


def excerpt(value: Any) -> str:
    """A cell's content as a message repeats it: quoted text or a number, short, one line."""
    shown = repr(value) if isinstance(value, str) else str(value)
    return one_line(shown, EXCERPT)


OVERFLOW = ("a number is too large to compute with (overflow). Use smaller units, for "
            "example thousands instead of units.")


def excel_errors(prefix: str, *, check_cells: bool = True) -> Callable[[F], F]:
    """Make a worksheet function safe for a cell.

    Any exception becomes one line of text ``#PREFIX: ...`` instead of a traceback; an
    overflow in numpy is named as such instead of giving infinities. With
    ``check_cells`` every cell of the result is checked too: text becomes one short line,
    a number that is infinite or NaN becomes a ``#PREFIX`` message (Excel shows neither).
    Functions whose cells are known to be clean (High/Low words, type numbers) skip the
    check, which visits every cell.
    """

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                with np.errstate(over="raise"):
                    result = func(*args, **kwargs)
            except InputError as exc:
                return one_line(f"#{prefix}: {exc}")
            except (FloatingPointError, OverflowError):
                return f"#{prefix}: {OVERFLOW}"
            except Exception as exc:  # a cell must show a message, never a traceback
                return one_line(f"#{prefix}: unexpected {type(exc).__name__}: {exc}")
            if isinstance(result, list) and not check_cells:
                return result
            return _cells_excel_shows(result, prefix)

        return wrapper  # type: ignore[return-value]

    return decorate


def _cell_excel_shows(value: Any, prefix: str) -> Any:
    if isinstance(value, str):
        return one_line(value)
    if isinstance(value, bool | dt.date) or value is None:
        return value
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        if np.isfinite(value):
            return float(value)
        return f"#{prefix}: not a finite number (a figure overflowed or is undefined)"
    return one_line(str(value))


def _cells_excel_shows(result: Any, prefix: str) -> Any:
    """Every cell of a result as :func:`excel_errors` promises it."""
    if isinstance(result, list):
        return [[_cell_excel_shows(v, prefix) for v in row] if isinstance(row, list)
                else [_cell_excel_shows(row, prefix)] for row in result]
    return _cell_excel_shows(result, prefix)


def as_grid(value: Any) -> Grid:
    """What xlwings passes for a range, as a 2-D list (a scalar is one cell)."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if not isinstance(value, (list, tuple)):
        return [[value]]
    if not value:
        return [[]]
    if not isinstance(value[0], (list, tuple)):
        # A 1-D list is a single row or column; xlwings gives it without orientation.
        return [[v] for v in value]
    return [list(r) for r in value]


def as_vector(value: Any, *, what: str) -> list[Any]:
    """A single row or column of cells as a flat list."""
    grid = as_grid(value)
    rows, cols = len(grid), len(grid[0]) if grid else 0
    if rows > 1 and cols > 1:
        raise InputError(
            f"{what} must be one row or one column, got {rows}×{cols} cells",
            fix="Select a single column of cells.",
        )
    return [v for r in grid for v in r]


def _word(value: Any, default: str, *, what: str) -> str:
    """An option typed in a cell ("eigen", "median" ...): text, trimmed, lower case."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    if not isinstance(value, str):
        raise InputError(f"{what} is {excerpt(value)}, not a word",
                         fix=f'Type it in quotes, e.g. "{default}", or leave it out.')
    return value.strip().lower()


def _whole_number(value: Any, default: int, *, what: str) -> int:
    """A count typed in a cell (3, or "3" as text), at least 1; blank is ``default``."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    try:
        number = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        number = math.nan
    if not (math.isfinite(number) and number.is_integer() and number >= 1):
        raise InputError(f"{what} is {excerpt(value)}, not a whole number of 1 or more",
                         fix=f"Give {what} like {default}, or leave it out for {default}.")
    return int(number)


def _blank_row(row: Sequence[Any]) -> bool:
    return all(v is None or (isinstance(v, str) and not v.strip()) for v in row)


def column(values: Sequence[Any] | np.ndarray) -> Grid:
    """A column result: one value per row.

    The garbage collector pauses meanwhile: a million one-cell rows are a million new
    lists, which made Python run its cycle collection over and over (1.2 s of a 1.5 s
    CRM_HIGHLOW on 1 048 576 rows); lists of plain values hold no cycles to collect.
    """
    with collector_paused():
        if isinstance(values, np.ndarray):
            return values.reshape(-1, 1).tolist()
        return [[v] for v in values]


def _num(x: float) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


# --- AHP --------------------------------------------------------------------------------


@xw.func(category=CATEGORY)
@xw.arg(
    "matrix",
    ndim=2,
    doc="the pairwise comparison matrix (square; the upper triangle is "
    "enough, 1/3 may be typed as text)",
)
@xw.arg(
    "method", doc='"eigen" (default, principal eigenvector) or "geometric" (row geometric mean)'
)
@excel_errors("AHP")
def AHP_WEIGHTS(matrix: Any, method: Any = None) -> Grid:
    """Weights (priorities) from a pairwise comparison matrix, one per row, adding up to 1.

    Compare each row item with each column item on Saaty's 1-9 scale: 3 = the row item is
    moderately more important, 1/3 = moderately less. Type only the upper triangle; a blank
    lower triangle is taken as the reciprocal. Check the consistency with AHP_CR.
    """
    grid = as_grid(matrix)
    # The weights do not depend on the random-index table; Saaty's stops at 15 items.
    result = core_ahp.ahp(grid, method=_word(method, "eigen", what="method"),
                          ri_table="saaty" if len(grid) <= 15 else "alonso-lamata")
    return column([float(w) for w in result.weights])


@xw.func(category=CATEGORY)
@xw.arg("matrix", ndim=2, doc="the pairwise comparison matrix")
@xw.arg("ri_table", doc='"saaty" (default, up to 15 items) or "alonso-lamata" (any size)')
@excel_errors("AHP")
def AHP_CR(matrix: Any, ri_table: Any = None) -> Any:
    """Consistency ratio of a pairwise comparison matrix: below 0.10 the judgments are
    consistent enough; at 0.10 or above, revise them (AHP_REPAIR shows which).
    """
    return float(core_ahp.ahp(as_grid(matrix),
                              ri_table=_word(ri_table, "saaty", what="ri_table")).cr)


@xw.func(category=CATEGORY)
@xw.arg("matrix", ndim=2, doc="the pairwise comparison matrix")
@xw.arg("ri_table", doc='"saaty" (default) or "alonso-lamata": which random index table')
@excel_errors("AHP")
def AHP_CONSISTENCY(matrix: Any, ri_table: Any = None) -> Grid:
    """Consistency of a comparison matrix as a two-column table: lambda max, CI, RI, CR,
    the verdict, the random-index table used, and whether every judgment is on Saaty's
    1-9 scale (a judgment of 20 is flagged here).
    """
    r = core_ahp.ahp(as_grid(matrix), ri_table=_word(ri_table, "saaty", what="ri_table"))
    return [
        ["LambdaMax", float(r.lambda_max)],
        ["CI", float(r.ci)],
        ["RI", float(r.ri)],
        ["CR", float(r.cr)],
        ["Verdict", "consistent" if r.consistent else "inconsistent: revise judgments"],
        ["RI table", r.ri_table_name],
        ["Scale", _scale_check(r)],
    ]


def _scale_check(result: core_ahp.AHPResult) -> str:
    """Whether the typed judgments stay within Saaty's 1/9..9, in words for the Scale row.

    A judgment off the scale (20: "twenty times as important") still gives weights and a
    CR, but CR's random indices were computed for judgments on the 1-9 scale, so the
    verdict means less: AHP_CONSISTENCY says so rather than AHP_CR, which stays a number
    that formulas compare with 0.10.
    """
    a = result.matrix
    estimated = set(result.estimated)
    off = [(i, j) for i in range(result.n) for j in range(i + 1, result.n)
           if (i, j) not in estimated and not 1 / 9 - 1e-9 <= a[i, j] <= 9 + 1e-9]
    if not off:
        return "every judgment on the 1-9 scale"
    i, j = off[0]
    more = f" and {len(off) - 1} more" if len(off) > 1 else ""
    return (f"off the 1-9 scale: ({i + 1},{j + 1}) is {core_ahp.format_judgment(a[i, j])}"
            f"{more}; use 1 to 9, or 1/2 to 1/9")


@xw.func(category=CATEGORY)
@xw.arg("matrix", ndim=2, doc="the pairwise comparison matrix")
@xw.arg("names", ndim=1, doc="optional: the item names, in the matrix's order")
@xw.arg("top", doc="how many judgments to list (default 3)")
@xw.arg("ri_table", doc='"saaty" (default, up to 15 items) or "alonso-lamata" (any size)')
@excel_errors("AHP")
def AHP_REPAIR(matrix: Any, names: Any = None, top: Any = None, ri_table: Any = None) -> Grid:
    """The judgments that make a matrix most inconsistent, worst first, each with the
    Saaty-scale value the other judgments imply (the cell left out and re-estimated from
    the rest) and the CR the matrix would have after that one change.

    Columns: Row, Column, Typed, Suggested, Ratio (what the other judgments imply), CR after.
    """
    result = core_ahp.ahp(as_grid(matrix), ri_table=_word(ri_table, "saaty", what="ri_table"))
    n = result.n
    labels = [str(i + 1) for i in range(n)]
    if names is not None:
        given = as_vector(names, what="names")
        if len(given) != n:
            raise InputError(
                f"names has {len(given)} cells but the matrix has {n} items",
                fix="Select one name per matrix row.",
            )
        labels = [str(v) for v in given]
    rows: Grid = [["Row", "Column", "Typed", "Suggested", "Ratio", "CR after"]]
    for j in core_ahp.worst_judgments(result, top=_whole_number(top, 3, what="top")):
        rows.append(
            [
                labels[j.row],
                labels[j.col],
                core_ahp.format_judgment(j.value),
                core_ahp.format_judgment(j.suggested),
                float(j.ratio),
                float(j.cr_after),
            ]
        )
    if len(rows) == 1:
        why = ("a 1×1 or 2×2 matrix is always consistent" if n < 3
               else "every judgment agrees with the others as closely as the 1-9 scale allows")
        rows.append([f"(none: {why})", "", "", "", "", ""])
    return rows


@xw.func(category=CATEGORY)
@xw.arg("matrices", ndim=2, doc="two or more raters' matrices of the same size")
@excel_errors("AHP")
def AHP_GROUP(*matrices: Any) -> Grid:
    """Combine several raters' comparison matrices into one by the geometric mean of each
    judgment (the standard way to aggregate individual AHP judgments).
    """
    if len(matrices) < 2:
        raise InputError(
            "AHP_GROUP needs two or more matrices",
            fix="Give each rater's matrix as a separate argument.",
        )
    group = core_ahp.aggregate_judgments([as_grid(m) for m in matrices])
    return [[float(v) for v in row] for row in group.matrix]


@xw.func(category=CATEGORY)
@xw.arg("scores", ndim=2, doc="indicator scores, one row per customer, one column per "
        "indicator; with the header row, the indicators are named")
@xw.arg("groups", ndim=1, doc="the group of each score column (Qualification, Potential, ...)")
@xw.arg("weights", ndim=1, doc="the global weight of each score column (adding up to 1)")
@xw.arg("moves", ndim=1, doc="optional: the moves to try, e.g. -0.1 and 0.1 (default -25 %, "
        "-10 %, +10 %, +25 %)")
@xw.arg("abc", doc="optional: TRUE to count ABC class changes too (ABC by value score)")
@excel_errors("SENSITIVITY")
def AHP_SENSITIVITY(scores: Any, groups: Any, weights: Any, moves: Any = None,
                    abc: Any = None) -> Grid:
    """Do the customer types depend on the exact weights? Each group and indicator weight is
    moved in turn (the others rescaled to keep the sum 1) and the customers whose type
    changes are counted, with High/Low re-cut as Resegment cuts it.

    One row per weight and move: Level, Item, Move, weights before and after, how many
    customers change type (and ABC class) and what share. Few changes: the types are safe.
    """
    grid = [row for row in as_grid(scores) if not _blank_row(row)]
    header = None
    if grid and all(isinstance(v, str) and _to_numbers([v])[1].all() for v in grid[0]):
        header, grid = [v.strip() for v in grid[0]], grid[1:]  # the score columns' headers
    names = [str(g).strip() if g is not None else "" for g in as_vector(groups, what="groups")]
    global_w = _numbers(weights, what="weights")
    width = len(grid[0]) if grid else 0
    if not grid or any(len(row) != width for row in grid):
        raise InputError("scores must be a block of numbers", fix="Select the score columns.")
    if len(names) != width or len(global_w) != width or "" in names:
        raise InputError(f"scores have {width} columns but there are {len(names)} groups and "
                         f"{len(global_w)} weights", fix="Give one group and one weight per "
                         "score column.")
    values, bad = _to_numbers(list(itertools.chain.from_iterable(grid)))
    if bad.any():
        cell = int(np.flatnonzero(bad)[0])
        raise InputError(f"score row {cell // width + 1}, column {cell % width + 1} is "
                         f"{excerpt(grid[cell // width][cell % width])}, not a number",
                         fix="Give the scores as numbers (a blank counts as missing).")
    group_w = {g: float(global_w[[n == g for n in names]].sum()) for g in dict.fromkeys(names)}
    if any(w <= 0 for w in group_w.values()) or not np.isclose(sum(group_w.values()), 1.0):
        raise InputError("weights must be positive in every group and add up to 1",
                         fix="Use the global weights from AHP_WEIGHTS or the Judgments sheet.")
    columns = header if header and len(set(header)) == width else [
        f"column {i + 1}" for i in range(width)]
    local = {c: float(w) / group_w[n] for c, w, n in zip(columns, global_w, names, strict=True)}
    chosen = MOVES if moves is None else tuple(float(m) for m in _numbers(moves, what="moves"))
    result = weight_sensitivity(
        pd.DataFrame(values.reshape(len(grid), width), columns=columns), names, local, group_w,
        moves=chosen, abc_cutoffs=(0.80, 0.95) if abc is True else None,
    )
    table = result.table.astype(object).where(result.table.notna(), None)
    return [list(SENSITIVITY_COLUMNS), *table.to_numpy().tolist()]


# --- scoring ----------------------------------------------------------------------------


def _parameters(parameters: Any, method: Any = None) -> str:
    """Parameters as the Indicators sheet's text: a text cell, or a two-column range.

    In a range for ``bands``, a number in the first column is a threshold ("below it").
    """
    if parameters is None:
        return ""
    grid = as_grid(parameters)
    if len(grid) == 1 and len(grid[0]) == 1:
        return "" if grid[0][0] is None else str(grid[0][0])
    if len(grid[0]) != 2:
        raise InputError(
            "parameters must be one text cell or a two-column range (label or threshold, points)",
            fix='For example "Good=80; Fair=50" or a range of label | points rows.',
        )
    entries = []
    for key, points in grid:
        if key is None and points is None:
            continue
        label = _cell_text(key)
        if isinstance(key, (int, float)) and not isinstance(key, bool) and \
                str(method or "").strip().lower() == "bands":
            label = f"<{label}"
        entries.append(f"{label}={_cell_text(points)}")
    return "; ".join(entries)


def _cell_text(value: Any) -> str:
    """A cell as it reads: 1.0 as "1", so a number label or threshold means what it shows."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)


@xw.func(category=CATEGORY)
@xw.arg("values", ndim=2, doc="one column of indicator values (numbers or labels)")
@xw.arg("method", doc='"minmax", "percentile", "bands" or "rubric"')
@xw.arg(
    "parameters",
    doc='rubric "Good=80; Fair=50", bands "<0: 0; <0.1: 50; else: 100", '
    'minmax "lower=1; upper=5"; or a two-column range',
)
@xw.arg("direction", doc='"benefit" (higher is better, default) or "cost" (lower is better)')
@excel_errors("SCORE")
def CRM_SCORE(
    values: Any, method: str, parameters: Any = None, direction: Any = None
) -> Grid:
    """Score one indicator 0-100 for a whole column of customers.

    A blank value stays blank (fill it, or let Resegment apply the workbook's missing-value
    policy); a value that cannot be scored shows a #SCORE message in its row.
    """
    vals = as_vector(values, what="values")
    indicator = quick_indicator(method or "", _parameters(parameters, method),
                                direction or "benefit")
    scored = score_values(pd.Series(vals, dtype=object), indicator)
    out: list[Any] = [_num(s) for s in scored.scores]
    for issue in scored.issues:
        # Warnings (a value clipped to the scale) keep their score; errors replace it.
        if issue.row is not None and issue.severity == "error":
            out[issue.row] = f"#SCORE: row {issue.row + 1}: {issue.message}"
    return column(out)


@xw.func(category=CATEGORY)
@xw.arg("scores", ndim=2, doc="indicator scores, one row per customer, one column per indicator")
@xw.arg(
    "weights", ndim=2, doc="one weight per indicator column (a row or a column), adding up to 1"
)
@excel_errors("VALUE")
def CRM_VALUE(scores: Any, weights: Any) -> Grid:
    """Composite value score per customer: the weighted sum of its indicator scores.

    A row with a blank score shows a #VALUE message naming the column: fill the score
    (Resegment applies the workbook's missing-value policy for you).
    """
    grid = as_grid(scores)
    w = as_vector(weights, what="weights")
    width = len(grid[0])
    if len(w) != width:
        raise InputError(
            f"scores have {width} columns but there are {len(w)} weights",
            fix="Give one weight per score column.",
        )
    wv = _numbers(w, what="weights")
    if np.isnan(wv).any() or np.any(wv < 0) or not np.isclose(wv.sum(), 1.0, atol=1e-6):
        raise InputError(
            f"weights must be non-negative and add up to 1 (they add up to {np.nansum(wv):.6g})",
            fix="Use global weights from AHP_WEIGHTS.",
        )
    rows = len(grid)
    if any(len(row) != width for row in grid):
        raise InputError("the scores range is not rectangular", fix="Select a block of cells.")
    cells = list(itertools.chain.from_iterable(grid))
    values, bad = _to_numbers(cells)
    values, bad = values.reshape(rows, width), bad.reshape(rows, width)
    blank = np.isnan(values) & ~bad
    with np.errstate(invalid="ignore"):
        totals = np.where(bad | blank, 0.0, values) @ wv
    out: list[Any] = totals.tolist()
    for r in np.flatnonzero(bad.any(axis=1) | blank.any(axis=1)):
        if blank[r].all():
            out[r] = None  # no customer on this row (a whole column selected)
        elif bad[r].any():
            c = int(np.flatnonzero(bad[r])[0])
            out[r] = (f"#VALUE: row {r + 1}, column {c + 1} is {excerpt(grid[r][c])}, "
                      "not a number")
        else:
            out[r] = f"#VALUE: row {r + 1}, column {int(np.flatnonzero(blank[r])[0]) + 1} is blank"
    return column(out)


def _flat_cells(values: Any, *, what: str) -> list[Any]:
    """A single row or column of cells as a flat list, without a Python loop per cell."""
    if isinstance(values, np.ndarray):
        values = values.tolist()
    if not isinstance(values, list | tuple):
        return [values]
    if not values or not isinstance(values[0], list | tuple):
        return list(values)
    if len(values) > 1 and len(values[0]) > 1:
        raise InputError(f"{what} must be one row or one column, got {len(values)}×"
                         f"{len(values[0])} cells", fix="Select a single column of cells.")
    return list(itertools.chain.from_iterable(values))


_NUMERIC_KINDS = {"floating", "integer", "mixed-integer-float", "empty"}


def _to_numbers(cells: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Cells as floats (blank -> NaN) and where a cell is not a finite number.

    Numbers typed as text count ("30"), but not the texts "inf" or "nan", TRUE/FALSE or
    dates: a cell must hold a finite number. A range of numbers and blanks, the usual
    case, converts in one numpy call.
    """
    if pd.api.types.infer_dtype(cells, skipna=True) in _NUMERIC_KINDS:
        out = np.array(cells, dtype=float)  # None -> NaN
        return out, np.isinf(out)
    # Text or other kinds among the cells: the uncommon case, cell by cell.
    series = pd.Series(cells, dtype=object)
    blank = series.isna().to_numpy() | np.array(
        [isinstance(v, str) and not v.strip() for v in cells], dtype=bool)
    out = np.array(pd.to_numeric(series.where(~blank), errors="coerce"), dtype=float)
    not_number = np.array([isinstance(v, bool | dt.date) for v in cells], dtype=bool)
    out[not_number] = np.nan
    bad = ~blank & (not_number | ~np.isfinite(out))
    out[blank] = np.nan
    return out, bad


def _numbers(values: Any, *, what: str) -> np.ndarray:
    """One row or column of numbers (blank -> NaN); a cell that is no number is an error."""
    cells = _flat_cells(values, what=what)
    out, bad = _to_numbers(cells)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"{what} row {i + 1} is {excerpt(cells[i])}, not a number",
                         fix="Give a column of numbers.")
    return out


@xw.func(category=CATEGORY)
@xw.arg("scores", ndim=2, doc="one column of group scores (0-100), e.g. Qualification")
@xw.arg("method", doc='"kmeans" (default: two natural clusters), "median", or a number: the cut')
@excel_errors("HIGHLOW", check_cells=False)
def CRM_HIGHLOW(scores: Any, method: Any = None) -> Grid:
    """High or Low for each customer on one dimension: by the best split into two natural
    clusters (the default, exact k-means), at the median, or at a cut you give.
    """
    s = _numbers(scores, what="scores")
    cut = _cut(method)
    if cut is not None:
        result = high_low(s, method="threshold", threshold=cut)
    else:
        result = high_low(s, method=_word(method, "kmeans", what="method"))
    labels = np.array(["Low", "High"], dtype=object)[result.high.astype(np.intp)]
    labels[np.isnan(s)] = None  # a blank row is no customer (a whole column selected)
    return column(labels)


def _cut(method: Any) -> float | None:
    """A number given as the method (50, or "50" typed as text): the cut; else None."""
    if isinstance(method, bool):
        return None
    if isinstance(method, (int, float)):
        return float(method)
    try:
        return float(str(method).strip()) if method is not None else None
    except ValueError:
        return None


_HIGH = {"high", "h", "true", "1", "1.0", "yes"}
_LOW = {"low", "l", "false", "0", "0.0", "no"}


def _high_flags(values: Any, what: str) -> list[bool | None]:
    out: list[bool | None] = []
    for i, v in enumerate(as_vector(values, what=what)):
        text = "" if v is None else str(v).strip().lower()
        if text in _HIGH:
            out.append(True)
        elif text in _LOW:
            out.append(False)
        elif text == "":
            out.append(None)
        else:
            raise InputError(
                f"{what} row {i + 1} is {excerpt(v)}",
                fix="Give High or Low (as CRM_HIGHLOW returns).",
            )
    return out


@xw.func(category=CATEGORY)
@xw.arg("qualification", ndim=2, doc="High/Low on Qualification, one per customer")
@xw.arg("potential", ndim=2, doc="High/Low on Potential")
@xw.arg("contribution", ndim=2, doc="High/Low on Contribution")
@excel_errors("TYPE")
def CRM_TYPE(qualification: Any, potential: Any, contribution: Any) -> Grid:
    """Customer type 1-8 from High/Low on Qualification, Potential and Contribution:
    1 HHH, 2 HHL, 3 HLH, 4 HLL, 5 LHH, 6 LHL, 7 LLH, 8 LLL.
    """
    q = _high_flags(qualification, "qualification")
    p = _high_flags(potential, "potential")
    c = _high_flags(contribution, "contribution")
    if not len(q) == len(p) == len(c):
        raise InputError(
            f"the three ranges have {len(q)}, {len(p)} and {len(c)} rows",
            fix="Give three columns of the same height.",
        )
    out: list[Any] = []
    for a, b, d in zip(q, p, c, strict=True):
        if a is None or b is None or d is None:
            out.append(None)
        else:
            out.append(int(type_number(np.array([a]), np.array([b]), np.array([d]))[0]))
    return column(out)


def _types(strategies: Any) -> dict[int, CustomerType]:
    if strategies is None:
        types = DEFAULT_TYPES
    else:
        grid = as_grid(strategies)
        frame = pd.DataFrame(grid[1:], columns=[str(h) for h in grid[0]])
        types, problems = strategies_from_table(frame)
        errors = [p for p in problems if p.severity == "error"]
        if errors:
            raise InputError(errors)
    return {t.number: t for t in types}


def _type_lookup(types: Any, strategies: Any, field: str, prefix: str) -> Grid:
    by_number = _types(strategies)
    out: list[Any] = []
    for i, v in enumerate(as_vector(types, what="types")):
        if v is None or (isinstance(v, str) and not v.strip()):
            out.append(None)
            continue
        try:
            number = int(float(v))
        except (TypeError, ValueError):
            number = -1
        if number not in by_number or float(v) != number:
            out.append(f"#{prefix}: row {i + 1} is {excerpt(v)}; a type is a whole number 1-8")
            continue
        out.append(getattr(by_number[number], field))
    return column(out)


@xw.func(category=CATEGORY)
@xw.arg("types", ndim=2, doc="customer type numbers 1-8 (from CRM_TYPE)")
@xw.arg(
    "strategies",
    ndim=2,
    doc="optional: the Strategies table with its header, to use your own names",
)
@excel_errors("TYPE")
def CRM_TYPENAME(types: Any, strategies: Any = None) -> Grid:
    """The name of each customer type 1-8 (from the Strategies table if you give it)."""
    return _type_lookup(types, strategies, "name", "TYPE")


@xw.func(category=CATEGORY)
@xw.arg("types", ndim=2, doc="customer type numbers 1-8 (from CRM_TYPE)")
@xw.arg("strategies", ndim=2, doc="optional: the Strategies table with its header")
@excel_errors("TYPE")
def CRM_STRATEGY(types: Any, strategies: Any = None) -> Grid:
    """The service strategy for each customer type 1-8 (from the Strategies table if given)."""
    return _type_lookup(types, strategies, "strategy", "TYPE")


@xw.func(category=CATEGORY)
@xw.arg("values", ndim=2, doc="one column of customer values (value score or revenue)")
@xw.arg("cutoffs", ndim=1, doc="optional: the cumulative shares closing A and B (0.8, 0.95)")
@excel_errors("ABC", check_cells=False)
def CRM_ABC(values: Any, cutoffs: Any = None) -> Grid:
    """ABC (Pareto 80/20) class per customer: A strategic customers make up the first 80 % of
    total value, B key customers the next 15 %, C general customers the rest.
    """
    v = _numbers(values, what="values")
    cuts = (0.80, 0.95)
    if cutoffs is not None:
        c = _numbers(cutoffs, what="cutoffs")
        if len(c) != 2:
            raise InputError("cutoffs needs two numbers", fix="For example 0.8 and 0.95.")
        cuts = (float(c[0]), float(c[1]))
    given = ~np.isnan(v)
    out: list[Any] = [None] * len(v)  # a blank row is no customer (a whole column selected)
    if given.any():
        for pos, cls in zip(np.flatnonzero(given), abc_classes(v[given], cutoffs=cuts).abc,
                            strict=True):
            out[pos] = str(cls)
    return column(out)


@xw.func(category=CATEGORY)
@xw.arg("data", ndim=2, doc="one row per customer, one column per variable (numbers)")
@xw.arg("k", doc="optional: number of clusters; chosen by silhouette (2-8) when blank")
@excel_errors("KMEANS", check_cells=False)
def CRM_KMEANS(data: Any, k: Any = None) -> Grid:
    """Cluster customers into groups of similar profile (k-means on standardised columns);
    returns the cluster number (1 = the cluster with the highest average) per row.
    """
    grid = as_grid(data)
    try:
        frame = pd.DataFrame(grid, dtype=object).apply(pd.to_numeric, errors="raise")
    except (TypeError, ValueError) as exc:
        raise InputError(
            "data has a cell that is not a number", fix="Give a range of numbers only (no headers)."
        ) from exc
    clusters = None
    if k not in (None, ""):
        try:
            clusters = float(k)
        except (TypeError, ValueError):
            clusters = float("nan")
        if not (clusters.is_integer() and 2 <= clusters <= len(frame) - 1):
            raise InputError(f"k is {excerpt(k)}, not a whole number of clusters from 2 to "
                             f"{len(frame) - 1}", fix="Give k like 3, or leave it blank.")
    result = kmeans_profiles(frame.astype(float), k=None if clusters is None else int(clusters))
    return column([None if lab < 0 else int(lab) + 1 for lab in result.labels])


# --- operations -------------------------------------------------------------------------


@xw.func(category=CATEGORY)
@xw.arg("recency_days", ndim=2, doc="days since each customer's last order")
@xw.arg("orders", ndim=2, doc="number of orders per customer")
@xw.arg("monetary", ndim=2, doc="revenue per customer")
@excel_errors("RFM")
def CRM_RFM(recency_days: Any, orders: Any, monetary: Any) -> Grid:
    """Recency, frequency and monetary scores (1-5, 5 best, by quintile) and the RFM segment
    (Champions, Loyal customers, At risk, Hibernating, ...) per customer; 0 and "No orders"
    for a customer without orders. Four columns: R, F, M, Segment.
    """
    r = _numbers(recency_days, what="recency_days")
    f = _numbers(orders, what="orders")
    m = _numbers(monetary, what="monetary")
    if not len(r) == len(f) == len(m):
        raise InputError(f"the three ranges have {len(r)}, {len(f)} and {len(m)} rows",
                         fix="Give three columns of the same height.")
    # A customer without orders has no recency by nature: "No orders", not a blank row.
    no_orders = f == 0
    blank = np.isnan(f) | (~no_orders & (np.isnan(r) | np.isnan(m)))
    rs, fs, ms = rfm_scores(np.nan_to_num(r), np.where(blank, 0, f), np.nan_to_num(m))
    segments = rfm_segment(rs, fs)
    return [
        [None] * 4 if b else [int(a), int(c), int(d), str(s)]
        for b, a, c, d, s in zip(blank, rs, fs, ms, segments, strict=True)
    ]


def _table(rows: Any, *, what: str) -> pd.DataFrame:
    """A range with its header row as a DataFrame (blank rows dropped)."""
    grid = as_grid(rows)
    if len(grid) < 2:
        raise InputError(f"{what} has no rows below its header",
                         fix=f"Select {what} with its header row, e.g. tblTransactions[#All].")
    header = [str(h).strip() if h is not None else "" for h in grid[0]]
    body = [r for r in grid[1:] if any(v is not None and v != "" for v in r)]
    return pd.DataFrame(body, columns=header)


def _iso_date(value: Any) -> dt.datetime | None:
    """Text typed as an ISO date ("2026-03-01", or with a time) as the date; else None.

    Only the ISO form: "03/01/2026" means March or January depending on who typed it.
    """
    if not isinstance(value, str):
        return None
    try:
        return dt.datetime.fromisoformat(value.strip())
    except ValueError:
        return None


def _as_day(value: Any, *, what: str) -> dt.date:
    if value is None or value == "":
        return dt.date.today()
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if (typed := _iso_date(value)) is not None:
        return typed.date()
    raise InputError(f"{what} is {excerpt(value)}, not a date",
                     fix='Give a date (or text like "2026-03-01"), or leave it blank for today.')


@xw.func(category=CATEGORY)
@xw.arg("customer_ids", ndim=2, doc="the customers, one CustomerID per row")
@xw.arg("transactions", ndim=2, doc="the Transactions table with its header row "
        "(CustomerID, Date, Amount), e.g. tblTransactions[#All]")
@xw.arg("as_of", doc="optional: the day to judge from (default today)")
@excel_errors("CHURN")
def CRM_CHURN_RISK(customer_ids: Any, transactions: Any, as_of: Any = None) -> Grid:
    """Churn early warning per customer: risk (Low, Medium, High, or "No orders") and the
    reason in words, from how long the customer has been silent against its own usual
    interval between orders, from falling 12-month revenue and, where the history is rich
    enough, from the chance it still buys (P(alive), as CRM_CLV). Two columns: Risk, Reason.
    """
    given, metrics = _orders_of(customer_ids, transactions, as_of)
    risk = churn_warning(metrics)
    return _per_customer(given, risk[["ChurnRisk", "ChurnReason"]].to_numpy().tolist(), 2)


def _orders_of(customer_ids: Any, transactions: Any, as_of: Any) -> tuple[np.ndarray, Any]:
    """Which cells of ``customer_ids`` hold an ID, and those customers' order figures as of
    ``as_of``; an error in the transactions is the function's one-line message."""
    ids = id_text(as_vector(customer_ids, what="customer_ids"))
    given = np.array([i is not None for i in ids], dtype=bool)
    table = _table(transactions, what="the transactions range")
    metrics = order_metrics(table, ids[given], today=_as_day(as_of, what="as_of"),
                            sheet="transactions range")  # fmt: skip
    errors = [p for p in metrics.problems if p.severity == "error"]
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise InputError(f"{errors[0]}{more}", fix="Correct the transactions, or run Check.")
    return given, metrics


def _per_customer(given: np.ndarray, rows: Grid, width: int) -> Grid:
    """One result row per cell of the customer range: blank where no ID was given."""
    out: Grid = [[None] * width for _ in given]
    for pos, row in zip(np.flatnonzero(given), rows, strict=True):
        out[pos] = list(row)
    return out


def _option_number(value: Any, default: float | None, *, what: str) -> float | None:
    """A single optional number argument (blank: ``default``)."""
    if value is None or value == "":
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value):
        raise InputError(f"{what} is {excerpt(value)}, not a number",
                         fix=f"Give {what} as a number, or leave it blank.")
    return float(value)


@xw.func(category=CATEGORY)
@xw.arg("customer_ids", ndim=2, doc="the customers, one CustomerID per row (give the whole "
        "column: the model learns from all of them)")
@xw.arg("transactions", ndim=2, doc="the Transactions table with its header row "
        "(CustomerID, Date, Amount, optional GrossProfit), e.g. tblTransactions[#All]")
@xw.arg("as_of", doc="optional: the day to judge from (default today)")
@xw.arg("horizon_months", doc="optional: months ahead (default 12)")
@xw.arg("margin", doc="optional: gross margin, like 0.25, where the orders have no GrossProfit")
@xw.arg("discount_rate", doc="optional: annual discount rate (default 0.1 = 10 %)")
@xw.arg("model", doc='optional: "bg" (default, BG/NBD) or "mbg" (MBG/NBD)')
@excel_errors("CLV")
def CRM_CLV(customer_ids: Any, transactions: Any, as_of: Any = None, horizon_months: Any = None,
            margin: Any = None, discount_rate: Any = None, model: Any = None) -> Grid:
    """Lifetime value per customer, learnt from the order history: the probability the
    customer still buys from you (PAlive, 0 to 1), the orders to expect in the next months,
    and CLV, the gross margin those orders should bring, discounted. Three columns: PAlive,
    ExpectedOrders, CLV. The same figures as the Activity sheet.
    """
    months = _whole_number(horizon_months, 12, what="horizon_months")
    given, metrics = _orders_of(customer_ids, transactions, as_of)
    value = lifetime_value(
        metrics.table, metrics.today, horizon_months=months,
        margin=_option_number(margin, None, what="margin"),
        discount_rate=_option_number(discount_rate, 0.1, what="discount_rate"),
        model=_word(model, "bg", what="model"),
    )  # fmt: skip
    if not (value.purchases and value.purchases.usable):
        raise InputError(value.problems[0].message)
    figures = value.table[["PAlive", "ExpectedOrders", "CLV"]].to_numpy(dtype=float)
    return _per_customer(given, [[_num(v) for v in row] for row in figures], 3)


@xw.func(category=CATEGORY)
@xw.arg("last_contact", ndim=2, doc="date of each customer's last visit or call")
@xw.arg("interval_days", ndim=2, doc="days between planned contacts (from the Strategies sheet)")
@excel_errors("NEXT")
def CRM_NEXT_CONTACT(last_contact: Any, interval_days: Any) -> Grid:
    """Date the next contact is due: the last contact plus the customer's visit interval
    in whole days. A date may also be typed as text like 2026-03-01. A customer never
    contacted (blank date) is due now: the result is blank; plan a visit.
    """
    dates = as_vector(last_contact, what="last_contact")
    intervals = _numbers(interval_days, what="interval_days")
    if len(intervals) == 1:
        intervals = np.repeat(intervals, len(dates))
    if len(intervals) != len(dates):
        raise InputError(f"{len(dates)} dates but {len(intervals)} intervals",
                         fix="Give one interval, or one per date.")
    out: list[Any] = []
    for i, (d, days) in enumerate(zip(dates, intervals, strict=True)):
        d = _iso_date(d) or d
        if d is None or (isinstance(d, str) and not d.strip()):
            out.append(None)
        elif not isinstance(d, (dt.date, dt.datetime)):
            out.append(f"#NEXT: row {i + 1} is {excerpt(d)}, not a date")
        elif np.isnan(days) or not 0 < days <= 36_500:
            out.append(f"#NEXT: row {i + 1} has no interval of 1 to 36500 days")
        elif not float(days).is_integer():
            # A visit is planned on a day: 10.5 days would silently mean noon.
            out.append(f"#NEXT: row {i + 1} has an interval of {days:g} days; give whole days")
        else:
            out.append(d + dt.timedelta(days=int(days)))
    return column(out)


@xw.func(category=CATEGORY)
@xw.arg("answers", ndim=2, doc="survey answers: one row per questionnaire, one column per "
        "question")
@excel_errors("ALPHA")
def CRM_ALPHA(answers: Any) -> Any:
    """Cronbach's alpha of a questionnaire: how consistently its questions measure one thing
    (0.7 or more is usually acceptable). Rows with a blank answer are left out.
    """
    grid = as_grid(answers)
    try:
        frame = pd.DataFrame(grid, dtype=object).apply(pd.to_numeric, errors="raise")
    except (TypeError, ValueError) as exc:
        raise InputError("an answer is not a number",
                         fix="Select the answers only (no header, no IDs).") from exc
    alpha = float(cronbach_alpha(frame.astype(float)))
    if not np.isfinite(alpha):
        raise InputError("alpha is undefined: the answers do not vary, or fewer than two "
                         "questionnaires answer every question",
                         fix="Select the answers of at least two questionnaires and two "
                         "questions.")
    return alpha
