"""Analytic Hierarchy Process: weights and consistency from pairwise-comparison matrices.

A pairwise-comparison matrix ``A`` holds, in cell ``(i, j)``, how many times item ``i``
is more important than item ``j`` on Saaty's 1-9 scale (``1/3`` means ``j`` is moderately
more important than ``i``). Staff type the upper triangle; the lower triangle is its
reciprocal. This module

* reads such a matrix as xlwings hands it over (numbers, numbers typed as text such as
  ``"1/3"``, blank cells) and reports every violation at once (:func:`parse_matrix`);
* estimates judgments left blank by Harker's method (:func:`complete_matrix`);
* derives weights by the principal right eigenvector or the row geometric mean, with
  lambda_max, CI, RI and CR (:func:`ahp`);
* names the judgments that contribute most to inconsistency and the Saaty-scale value
  that would repair each (:func:`worst_judgments`);
* aggregates several raters by the weighted element-wise geometric mean
  (:func:`aggregate_judgments`) and measures their consensus (:func:`ahp_consensus`);
* multiplies group weights by local weights in a two-level hierarchy
  (:func:`hierarchy_weights`).

References
----------
Saaty, T. L. (1977). A scaling method for priorities in hierarchical structures.
    *Journal of Mathematical Psychology* 15(3), 234-281.
Saaty, T. L. (1980). *The Analytic Hierarchy Process*. McGraw-Hill.
Saaty, T. L. (2003). Decision-making with the AHP: Why is the principal eigenvector
    necessary. *European Journal of Operational Research* 145(1), 85-91.
Saaty, T. L. (2008). Decision making with the analytic hierarchy process.
    *Int. J. Services Sciences* 1(1), 83-98.
Harker, P. T. (1987a). Incomplete pairwise comparisons in the analytic hierarchy process.
    *Mathematical Modelling* 9(11), 837-848.
Harker, P. T. (1987b). Derivatives of the Perron root of a positive reciprocal matrix:
    with application to the analytic hierarchy process. *Applied Mathematics and
    Computation* 22(2-3), 217-232.
Alonso, J. A. and Lamata, M. T. (2006). Consistency in the analytic hierarchy process:
    a new approach. *Int. J. Uncertainty, Fuzziness and Knowledge-Based Systems* 14(4),
    445-459.
Aczél, J. and Saaty, T. L. (1983). Procedures for synthesizing ratio judgements.
    *Journal of Mathematical Psychology* 27(1), 93-102.
"""

from __future__ import annotations

import datetime as _dt
import functools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from xlcrm.errors import InputError, Problem

__all__ = [
    "AHPResult",
    "CONSENSUS_BANDS",
    "GroupJudgment",
    "HierarchyWeights",
    "Judgment",
    "METHODS",
    "RECIPROCAL_RTOL",
    "RI_TABLES",
    "SAATY_RI",
    "SAATY_SCALE",
    "aggregate_judgments",
    "ahp",
    "ahp_consensus",
    "complete_matrix",
    "consensus_band",
    "format_judgment",
    "hierarchy_weights",
    "nearest_scale_value",
    "parse_matrix",
    "random_index",
    "worst_judgments",
]

# --------------------------------------------------------------------------- constants

#: Saaty's random consistency index (mean CI of random reciprocal matrices) for n = 1..15,
#: as tabulated in Saaty (1980), *The Analytic Hierarchy Process* (the values later texts
#: reprint). CR is not defined for n <= 2 (always consistent).
SAATY_RI: dict[int, float] = {
    1: 0.0,
    2: 0.0,
    3: 0.58,
    4: 0.90,
    5: 1.12,
    6: 1.24,
    7: 1.32,
    8: 1.41,
    9: 1.45,
    10: 1.49,
    11: 1.51,
    12: 1.48,
    13: 1.56,
    14: 1.57,
    15: 1.59,
}

#: The 17 values of Saaty's fundamental scale: 1/9, 1/8, ..., 1/2, 1, 2, ..., 9.
SAATY_SCALE: np.ndarray = np.array(
    [1.0 / k for k in range(9, 1, -1)] + [float(k) for k in range(1, 10)]
)
SAATY_SCALE.setflags(write=False)
_LOG_SCALE = np.log(SAATY_SCALE)

#: Random-index tables by key, with the text shown to users next to every CR.
RI_TABLES: dict[str, str] = {
    "saaty": "Saaty (1980) classic RI table",
    # Their fitted line, not their simulated table: at n = 3 it gives 0.479, 8.7 % below the
    # 0.525 they simulated, so small matrices pass a little harder than under their table.
    "alonso-lamata": "Alonso–Lamata (2006) fitted line RI = (1.7699n − 4.3513)/(n − 1)",
}

#: Weighting methods accepted by :func:`ahp`.
METHODS: tuple[str, ...] = ("eigen", "geometric")

#: Largest accepted relative deviation of ``a_ij * a_ji`` from 1 when both triangles are
#: typed. Rounding 1/k (k <= 9) to two decimals deviates by at most 4 % (1/8 -> 0.13), while
#: two neighbouring Saaty values differ by at least 12.5 % (8 vs 9), so 5 % accepts
#: ``0.33`` for ``1/3`` and rejects ``0.5`` against ``3``.
RECIPROCAL_RTOL = 0.05

_DIAGONAL_ATOL = 1e-9
_UPPER_FIX = "Type only the upper triangle and let the lower be =1/(upper)"
_SCALE_FIX = "Use Saaty's scale: 1 (equal) to 9 (extreme), or 1/2 to 1/9 when the column item wins"

# A number as staff type it: "3", "0.5", ".5", "2.5e0", optionally signed; no "inf"/"nan".
_NUM = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_NUMBER_RE = re.compile(rf"^({_NUM})$")
_FRACTION_RE = re.compile(rf"^({_NUM})\s*/\s*({_NUM})$")


# --------------------------------------------------------------------------- helpers


def _fmt_number(x: float) -> str:
    """Short decimal text: 2.5 -> "2.5", 3.0 -> "3", 1.36928 -> "1.369"."""
    if x == round(x) and abs(x) < 1e15:
        return str(int(round(x)))
    text = f"{x:.3f}".rstrip("0").rstrip(".")
    # Values below 0.0005 would print as "0"; fall back to significant digits.
    return text if text not in ("0", "-0") else f"{x:.3g}"


def format_judgment(x: float) -> str:
    """A judgment as staff would type it.

    Whole numbers and Saaty reciprocals print as ``"3"`` and ``"1/3"``; other values as a
    short decimal (``"2.5"``) or, below 1, as ``1/`` and the decimal (``"1/2.5"``).

    Parameters
    ----------
    x : float
        The judgment.

    Returns
    -------
    str
        ``"missing"`` for NaN; plain decimal text for zero, negative or infinite values.

    Examples
    --------
    >>> format_judgment(3.0), format_judgment(1 / 3), format_judgment(0.4)
    ('3', '1/3', '1/2.5')
    """
    x = float(x)
    if math.isnan(x):
        return "missing"
    if not math.isfinite(x) or x <= 0:
        return f"{x:g}"
    if x >= 1 or abs(x - 1) < 1e-12:
        k = round(x)
        if abs(x - k) <= 1e-9 * x:
            return str(int(k))
        return _fmt_number(x)
    inv = 1.0 / x
    k = round(inv)
    if abs(inv - k) <= 1e-9 * inv:
        return f"1/{int(k)}"
    return f"1/{_fmt_number(inv)}"


def _shown(raw: Any) -> str:
    """A cell's content as the user sees it, for messages."""
    if isinstance(raw, str):
        return raw.strip()
    if isinstance(raw, bool | np.bool_):
        return "TRUE" if raw else "FALSE"
    if isinstance(raw, int | np.integer):
        return str(int(raw))
    try:
        return _fmt_number(float(raw))
    except (TypeError, ValueError):
        return str(raw)


@functools.lru_cache(maxsize=64)
def _triu(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Strict upper-triangle indices, cached: np.triu_indices costs ~10 µs per call."""
    iu, ju = np.triu_indices(n, 1)
    iu.setflags(write=False)
    ju.setflags(write=False)
    return iu, ju


def _component_labels(adjacency: np.ndarray) -> np.ndarray:
    """Connected component of each item, labelled by the smallest item index in it.

    Reachability by repeated squaring of the boolean adjacency (with self-loops):
    ceil(log2 n) small matrix products. For the n <= 15 of a judgment matrix this takes
    a few microseconds, where scipy.sparse.csgraph spends ~130 µs converting dense input.
    """
    n = adjacency.shape[0]
    reach = (adjacency | np.eye(n, dtype=bool)).astype(float)
    for _ in range(max(1, math.ceil(math.log2(n)))):
        reach = ((reach @ reach) > 0).astype(float)
    return np.argmax(reach > 0, axis=1)


def _cells(k: int) -> str:
    return f"{k} cell{'s' if k != 1 else ''}"


def _prefix(name: str) -> str:
    return "" if name == "matrix" else f"{name}: "


def _shape_text(rows: int, cols: int) -> str:
    return f"{rows} row{'s' if rows != 1 else ''} × {cols} column{'s' if cols != 1 else ''}"


_BLANK: tuple[float, None, str] = (math.nan, None, "")


def _convert_cell(v: Any) -> tuple[float, str | None, str]:
    """One cell to a float (NaN when blank), or an error message and fix.

    Returns ``(value, problem, fix)``; ``problem`` is ``None`` when the cell is usable.
    Exact type tests come first: this runs once per cell on every recalculation.
    """
    if v is None:
        return _BLANK
    t = type(v)
    if t is str:
        return _convert_text(v)
    if t is float or t is int:
        x = float(v)
    # bool is a subclass of int: test it before the generic numbers, TRUE must not be 1.
    elif isinstance(v, bool | np.bool_):
        return math.nan, f"holds {'TRUE' if v else 'FALSE'}, not a number", _SCALE_FIX
    elif isinstance(v, float | int | np.floating | np.integer):
        x = float(v)
    elif isinstance(v, str):
        return _convert_text(str(v))
    elif isinstance(v, _dt.date | _dt.datetime | _dt.time | np.datetime64):
        return math.nan, f"holds a date or time ({v}), not a number", _SCALE_FIX
    else:
        return math.nan, f"holds {v!r}, which is not a number", _SCALE_FIX
    if math.isnan(x):
        return _BLANK
    if math.isinf(x):
        return math.nan, f"is {x:g}, not a finite number", _SCALE_FIX
    return x, None, ""


def _convert_text(v: str) -> tuple[float, str | None, str]:
    """A judgment typed as text: ``"3"``, ``" 0.5 "``, ``"1/3"``; blank is missing."""
    s = v.strip()
    if not s:
        return _BLANK
    if s[0] == "#":
        return math.nan, f"holds the Excel error {s}", "Correct the formula or value in that cell"
    if "/" not in s:
        if _NUMBER_RE.match(s):
            return float(s), None, ""
    else:
        m = _FRACTION_RE.match(s)
        if m:
            num, den = float(m.group(1)), float(m.group(2))
            if den == 0:
                return math.nan, f'is "{s}", a division by zero', _SCALE_FIX
            return num / den, None, ""
    return (
        math.nan,
        f'holds "{s}", which is not a number',
        "Type a number such as 3 or a fraction such as 1/3",
    )


def _as_rows(values: Any, name: str) -> list[list[Any]] | np.ndarray:
    """Bring the accepted input shapes to a 2-D list (or a 2-D numeric ndarray)."""
    pre = _prefix(name)
    if hasattr(values, "to_numpy") and not isinstance(values, np.ndarray):
        values = values.to_numpy()
    if isinstance(values, np.ndarray):
        if values.ndim == 0:
            return [[values.item()]]
        if values.ndim == 1:
            return [values.tolist()]
        if values.ndim != 2:
            raise InputError(
                f"{pre}the matrix must be 2-D; got an array with {values.ndim} dimensions",
                fix="Select a square block of cells",
            )
        if values.dtype.kind in "fiu":
            return values
        return values.tolist()
    if isinstance(values, list | tuple):
        if len(values) == 0:
            return []
        nested = [isinstance(r, list | tuple | np.ndarray) for r in values]
        if all(nested):
            return [list(r) for r in values]
        if not any(nested):
            # One row of cells (xlwings hands a single row as a flat list).
            return [list(values)]
        raise InputError(
            f"{pre}the matrix mixes rows and single cells",
            fix="Pass a 2-D block of cells (a list of rows)",
        )
    # One cell: xlwings hands a 1x1 range as a scalar.
    return [[values]]


# --------------------------------------------------------------------------- parsing


def parse_matrix(values: Any, *, name: str = "matrix") -> np.ndarray:
    """Read and check a pairwise-comparison matrix.

    Parameters
    ----------
    values : 2-D list, numpy array, DataFrame or scalar
        Exactly what xlwings hands over: rows of floats, ints, text such as ``"3"``,
        ``" 1/3 "`` or ``"0.5"``, and ``None`` for blank cells. A single cell (scalar)
        is a 1 x 1 matrix.
    name : str, default "matrix"
        What the matrix is called in messages (for example a group name, or
        ``"rater 2"``); the default adds no prefix.

    Returns
    -------
    numpy.ndarray
        Float matrix, shape ``(n, n)``, exactly reciprocal, unit diagonal, with NaN in
        both ``(i, j)`` and ``(j, i)`` where the judgment is missing.

    Raises
    ------
    InputError
        Carrying one :class:`~xlcrm.errors.Problem` per violation, each naming the cell
        by row and column within the matrix (1-based).

    Notes
    -----
    Rules, all violations collected before raising:

    * square, at least 1 x 1;
    * diagonal 1 (a blank diagonal cell counts as 1);
    * every value positive and finite; text must be a number or a fraction ``a/b``;
      Excel error values (``#DIV/0!``), TRUE/FALSE and dates are errors;
    * a blank lower cell is ``1/upper``, a blank upper cell is ``1/lower``, both blank is
      a missing judgment (NaN) for :func:`complete_matrix`;
    * when both are typed they must be reciprocal within :data:`RECIPROCAL_RTOL`
      (``|a_ij * a_ji - 1| <= 0.05``); the upper triangle then wins and the lower is set to
      exactly ``1/upper``, so that ``0.33`` typed for ``1/3`` does not bias the weights.
    """
    pre = _prefix(name)
    rows = _as_rows(values, name)
    problems: list[tuple[int, int, Problem]] = []

    def report(i: int, j: int, text: str, fix: str) -> None:
        problems.append((i, j, Problem("error", f"{pre}cell ({i + 1},{j + 1}) {text}", fix)))

    def check_shape(nr: int, nc: int) -> None:
        if nr == 0 or nc == 0:
            raise InputError(f"{pre}the matrix is empty", fix="Select the judgment cells")
        if nr != nc:
            raise InputError(
                f"{pre}the matrix must be square (as many rows as columns); "
                f"found {_shape_text(nr, nc)}",
                fix="Select exactly the n × n judgment cells, without headers",
            )

    if isinstance(rows, np.ndarray):
        check_shape(*rows.shape)
        a = rows.astype(float)  # a copy: the caller's array is never modified
        raw: Any = a.copy()
        inf = np.isinf(a)
        if inf.any():
            for i, j in np.argwhere(inf):
                report(i, j, f"is {a[i, j]:g}, not a finite number", _SCALE_FIX)
            a[inf] = np.nan
    else:
        lengths = [len(r) for r in rows]
        if len(set(lengths)) > 1:
            k = next(i for i, m in enumerate(lengths) if m != lengths[0])
            raise InputError(
                f"{pre}row {k + 1} has {_cells(lengths[k])} but row 1 has {_cells(lengths[0])}",
                fix="Pass a rectangular block of cells",
            )
        check_shape(len(rows), lengths[0] if lengths else 0)
        a = np.empty((len(rows), len(rows)), dtype=float)
        raw = rows
        for i, row in enumerate(rows):
            for j, v in enumerate(row):
                # Fast path for what xlwings hands over most: plain finite floats.
                if type(v) is float and v - v == 0.0:  # v - v is NaN for inf and NaN
                    a[i, j] = v
                    continue
                x, msg, fix = _convert_cell(v)
                a[i, j] = x
                if msg is not None:
                    report(i, j, msg, fix)
    n = a.shape[0]

    def shown(i: int, j: int) -> str:
        return _fmt_number(raw[i, j]) if isinstance(raw, np.ndarray) else _shown(raw[i][j])

    # Each check looks for offending cells only when there are any: np.argwhere and
    # friends cost microseconds each, and this runs on every worksheet recalculation.
    # A ratio of importance is > 0.
    nonpos = a <= 0  # False for NaN
    if nonpos.any():
        for i, j in np.argwhere(nonpos):
            report(i, j, f"is {shown(i, j)}; judgments must be positive", _SCALE_FIX)
        a[nonpos] = np.nan

    # An item compared with itself is 1; a blank diagonal cell counts as 1.
    offdiag = np.abs(np.diagonal(a) - 1.0) > _DIAGONAL_ATOL  # False for NaN
    if offdiag.any():
        for i in np.flatnonzero(offdiag):
            report(
                i,
                i,
                f"on the diagonal is {shown(i, i)}; it must be 1 (an item compared with itself)",
                "Put 1 on the diagonal, or leave it blank",
            )
    np.fill_diagonal(a, 1.0)

    # Reciprocity between the typed triangles (a comparison with NaN is False).
    iu, ju = _triu(n)
    up, lo = a[iu, ju], a[ju, iu]
    mismatch = np.abs(up * lo - 1.0) > RECIPROCAL_RTOL
    if mismatch.any():
        for k in np.flatnonzero(mismatch):
            i, j = int(iu[k]), int(ju[k])
            report(
                i,
                j,
                f"is {shown(i, j)} but ({j + 1},{i + 1}) is {shown(j, i)}; "
                f"expected {format_judgment(1.0 / up[k])}",
                _UPPER_FIX,
            )

    if problems:
        problems.sort(key=lambda t: (t[0], t[1]))
        raise InputError([p for _, _, p in problems])

    # Fill each blank from its mirror; where both are typed the upper wins.
    up_ok = ~np.isnan(up)
    a[ju, iu] = np.where(up_ok, 1.0 / up, lo)
    a[iu, ju] = np.where(up_ok, up, 1.0 / lo)  # both blank stays NaN
    return a


# --------------------------------------------------------------------------- RI tables


def _table_key(table: str) -> str:
    key = str(table).strip().lower().replace("_", "-").replace(" ", "-").replace("–", "-")
    if key not in RI_TABLES:
        raise InputError(
            f"unknown RI table {table!r}; use one of: {', '.join(RI_TABLES)}",
            fix="saaty is the classic table; alonso-lamata is the fitted formula",
        )
    return key


def _method_key(method: str) -> str:
    key = str(method).strip().lower()
    if key not in METHODS:
        raise InputError(
            f"unknown method {method!r}; use one of: {', '.join(METHODS)}",
            fix="eigen is the principal eigenvector; geometric is the row geometric mean",
        )
    return key


def random_index(n: int, table: str = "saaty") -> float:
    """Random consistency index RI(n).

    Parameters
    ----------
    n : int
        Matrix size, ``n >= 1``. RI is 0 for ``n <= 2``.
    table : {"saaty", "alonso-lamata"}
        ``"saaty"``: the classic table :data:`SAATY_RI` (n <= 15).
        ``"alonso-lamata"``: ``RI(n) = (1.7699 n - 4.3513) / (n - 1)``, which follows from
        Alonso and Lamata's (2006) linear fit of the mean random lambda_max,
        ``2.7699 n - 4.3513``, so that ``CR < 0.1`` is their criterion
        ``lambda_max < n + 0.1 (1.7699 n - 4.3513)``.

    Returns
    -------
    float

    Raises
    ------
    InputError
        For an unknown table, ``n < 1``, or ``n > 15`` with the Saaty table.
    """
    key = _table_key(table)
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise InputError(f"matrix size must be a whole number >= 1; got {n!r}")
    n = int(n)
    if n <= 2:
        return 0.0
    if key == "saaty":
        if n > 15:
            raise InputError(
                f"the Saaty RI table covers n <= 15; this matrix has n = {n}",
                fix="Use ri_table='alonso-lamata', or split the items into smaller groups",
            )
        return SAATY_RI[n]
    return (1.7699 * n - 4.3513) / (n - 1)


# --------------------------------------------------------------------------- results


def _frozen(x: np.ndarray) -> np.ndarray:
    x.setflags(write=False)
    return x


@dataclass(frozen=True, eq=False)
class AHPResult:
    """Weights and consistency of one pairwise-comparison matrix.

    Attributes
    ----------
    weights : numpy.ndarray
        Priorities, positive, summing to 1, in the matrix's item order.
    lambda_max : float
        Principal eigenvalue (``"eigen"``) or ``mean((A w)_i / w_i)`` (``"geometric"``).
    ci : float
        Consistency index ``(lambda_max - n) / (n - 1)``; 0 for ``n <= 2``.
    ri : float
        Random index for ``n`` from the table :attr:`ri_table`.
    cr : float
        Consistency ratio ``CI / RI``; 0 for ``n <= 2``.
    n : int
        Number of items.
    method : str
        ``"eigen"`` or ``"geometric"``.
    ri_table : str
        Key of the RI table (see :data:`RI_TABLES`).
    ri_table_name : str
        The RI table in words, to show next to the CR.
    threshold : float
        CR below which the matrix counts as consistent (0.10 by default).
    matrix : numpy.ndarray
        The completed matrix the weights were derived from.
    estimated : tuple of (int, int)
        0-based ``(i, j)``, ``i < j``, of judgments estimated because they were blank.
    """

    weights: np.ndarray
    lambda_max: float
    ci: float
    ri: float
    cr: float
    n: int
    method: str
    ri_table: str
    ri_table_name: str
    threshold: float
    matrix: np.ndarray
    estimated: tuple[tuple[int, int], ...] = field(default=())

    @property
    def consistent(self) -> bool:
        """``True`` when ``cr < threshold``."""
        return self.cr < self.threshold

    @property
    def verdict(self) -> str:
        """One line for a sales analyst, e.g. ``"consistent (CR 0.032 < 0.10)"``."""
        if self.consistent:
            return f"consistent (CR {self.cr:.3f} < {self.threshold:.2f})"
        return f"inconsistent: revise judgments (CR {self.cr:.3f} ≥ {self.threshold:.2f})"


def _perron(a: np.ndarray) -> tuple[float, np.ndarray]:
    """Principal eigenvalue and its eigenvector normalised to sum 1.

    ``a`` is positive, or nonnegative and irreducible with a positive diagonal (Harker's
    matrix), hence primitive: the Perron root is real, simple and strictly the largest in
    modulus, so the eigenvalue with the largest real part is it, and its eigenvector has
    one sign throughout.
    """
    vals, vecs = np.linalg.eig(a)
    k = int(np.argmax(vals.real))
    w = np.abs(vecs[:, k].real)
    return float(vals[k].real), w / w.sum()


def complete_matrix(matrix: Any) -> tuple[np.ndarray, tuple[tuple[int, int], ...]]:
    """Estimate missing judgments by Harker's (1987a) method.

    Each missing ``a_ij`` is set to 0 and the number of missing entries in row ``i`` is
    added to the diagonal; the principal eigenvector ``w`` of that matrix gives the
    estimate ``a_ij = w_i / w_j``. The completed matrix then has the same principal
    eigenvector ``w`` and eigenvalue, so its weights agree with the typed judgments alone,
    and judgments that form a spanning tree are completed consistently (CR = 0).

    Parameters
    ----------
    matrix : matrix-like
        Anything :func:`parse_matrix` accepts; blank pairs are missing.

    Returns
    -------
    completed : numpy.ndarray
        Reciprocal matrix without NaN.
    estimated : tuple of (int, int)
        0-based ``(i, j)``, ``i < j``, of the estimated judgments, row by row.

    Raises
    ------
    InputError
        When the typed judgments do not connect all items (some items are compared
        with no item of another set, directly or through others); the message names the
        sets of items (1-based) and a cell that would link them.
    """
    return _complete(parse_matrix(matrix))


def _complete(a: np.ndarray) -> tuple[np.ndarray, tuple[tuple[int, int], ...]]:
    """:func:`complete_matrix` on an already parsed matrix."""
    missing = np.isnan(a)
    if not missing.any():
        return a, ()
    n = a.shape[0]
    labels = _component_labels(~missing)
    roots = np.unique(labels)
    ncomp = roots.size
    if ncomp > 1:
        groups = [np.flatnonzero(labels == c) + 1 for c in roots]
        text = "; ".join("{" + ", ".join(str(k) for k in g) + "}" for g in groups)
        i, j = sorted((int(groups[0][0]), int(groups[1][0])))
        raise InputError(
            f"the judgments leave items in {ncomp} unconnected sets ({text}): items in "
            "different sets are compared neither directly nor through other items, so "
            "their weights cannot be estimated",
            fix=f"Type at least one judgment linking each set to another, e.g. cell ({i},{j})",
        )
    c = np.where(missing, 0.0, a)
    c[np.diag_indices(n)] = 1.0 + missing.sum(axis=1)
    _, w = _perron(c)
    completed = np.where(missing, np.divide.outer(w, w), a)
    iu, ju = np.nonzero(np.triu(missing, 1))
    return completed, tuple((int(i), int(j)) for i, j in zip(iu, ju, strict=True))


def ahp(
    matrix: Any,
    *,
    method: str = "eigen",
    ri_table: str = "saaty",
    threshold: float = 0.10,
) -> AHPResult:
    """Weights, lambda_max, CI, RI and CR of a pairwise-comparison matrix.

    Parameters
    ----------
    matrix : matrix-like
        Anything :func:`parse_matrix` accepts. Blank pairs are estimated first by
        :func:`complete_matrix` and listed in :attr:`AHPResult.estimated`.
    method : {"eigen", "geometric"}
        ``"eigen"`` (default): the principal right eigenvector, normalised to sum 1, and
        its eigenvalue as lambda_max (Saaty 1977). ``"geometric"``: the normalised row
        geometric means (Aczél and Saaty 1983), with lambda_max estimated as
        ``mean_i((A w)_i / w_i)``, which is ``>= n`` with equality exactly when ``A`` is
        consistent, so CI and CR stay on Saaty's scale.
    ri_table : {"saaty", "alonso-lamata"}
        Random-index table, see :func:`random_index`.
    threshold : float, default 0.10
        CR below which the judgments count as consistent.

    Returns
    -------
    AHPResult

    Raises
    ------
    InputError
        Unknown method or table, a bad threshold, or an unusable matrix.

    Notes
    -----
    ``CI = (lambda_max - n) / (n - 1)`` and ``CR = CI / RI(n)``; both are 0 for
    ``n <= 2``, where every reciprocal matrix is consistent. ``lambda_max >= n`` holds for
    every positive reciprocal matrix, so a CI below 0 can only be rounding and is set to 0.
    """
    method = _method_key(method)
    table = _table_key(ri_table)
    try:
        threshold = float(threshold)
    except (TypeError, ValueError):
        threshold = math.nan
    if not (0 < threshold < math.inf):
        raise InputError(f"the CR threshold must be a positive number; got {threshold!r}")
    a = parse_matrix(matrix)
    n = a.shape[0]
    ri = random_index(n, table)  # before any work: n > 15 with the Saaty table is an error
    estimated: tuple[tuple[int, int], ...] = ()
    if np.isnan(a).any():
        a, estimated = _complete(a)

    if n == 1:
        w = np.ones(1)
        lam = 1.0
    elif method == "eigen":
        lam, w = _perron(a)
    else:
        g = np.exp(np.log(a).mean(axis=1))
        w = g / g.sum()
        lam = float(np.mean((a @ w) / w))

    if n <= 2:
        ci = cr = 0.0
    else:
        ci = max((lam - n) / (n - 1), 0.0)
        cr = ci / ri
    return AHPResult(
        weights=_frozen(w),
        lambda_max=float(lam),
        ci=float(ci),
        ri=float(ri),
        cr=float(cr),
        n=n,
        method=method,
        ri_table=table,
        ri_table_name=RI_TABLES[table],
        threshold=threshold,
        matrix=_frozen(a),
        estimated=estimated,
    )


# --------------------------------------------------------------------------- repair


@dataclass(frozen=True)
class Judgment:
    """One typed judgment, how much it disturbs consistency, and its repair.

    Attributes
    ----------
    row, col : int
        0-based position, ``row < col`` (the upper-triangle cell staff typed).
    value : float
        The judgment as typed, ``a_ij``.
    ratio : float
        What the *other* judgments imply for this cell: Harker's (1987a) estimate of
        ``a_ij`` with the cell left blank (see :func:`worst_judgments`).
    suggested : float
        :attr:`ratio` rounded to the Saaty scale (1/9..9) on a log scale: the repair.
        Never equal to :attr:`value`.
    contribution : float
        ``|ln e_ij|`` with Saaty's error ``e_ij = a_ij w_j / w_i`` (Saaty 2003, 2008): how
        far, as a factor, the judgment is from what all judgments together imply.
    gradient : float
        ``d lambda_max / d a_ij`` with ``a_ji = 1 / a_ij`` (Harker 1987b): how fast the
        inconsistency grows when the judgment grows (negative: raising it helps).
    cr_after : float
        The CR when this judgment alone is replaced by :attr:`suggested`.
    """

    row: int
    col: int
    value: float
    ratio: float
    suggested: float
    contribution: float
    gradient: float
    cr_after: float

    @property
    def text(self) -> str:
        """E.g. ``"(3,7) is 6 but the others imply 1.128: try 1 (CR → 0.088)"``."""
        return (
            f"({self.row + 1},{self.col + 1}) is {format_judgment(self.value)} but the others "
            f"imply {format_judgment(self.ratio)}: try {format_judgment(self.suggested)}"
            f" (CR → {self.cr_after:.3f})"
        )


def nearest_scale_value(x: float) -> float:
    """The value of :data:`SAATY_SCALE` nearest to ``x`` on a log scale."""
    return float(SAATY_SCALE[int(np.argmin(np.abs(_LOG_SCALE - math.log(x))))])


def _lambda_gradient(a: np.ndarray) -> np.ndarray:
    """Harker's (1987b) ``d lambda_max / d a_ij`` for reciprocal ``a`` (upper triangle).

    With right and left Perron vectors ``x`` and ``y`` scaled so that ``y'x = 1``,
    ``d lambda / d a_ij = y_i x_j - y_j x_i / a_ij**2`` when ``a_ji = 1 / a_ij`` moves too.
    """
    _, x = _perron(a)
    _, y = _perron(a.T)
    y = y / float(y @ x)
    return np.outer(y, x) - np.outer(x, y) / a**2


def _left_out_estimate(base: np.ndarray, i: int, j: int) -> float | None:
    """Harker's estimate of ``a_ij`` from the other judgments, or None when none imply it.

    ``base`` holds the typed judgments (NaN where blank); cell ``(i, j)`` and its mirror are
    blanked and the matrix completed by :func:`_complete`: the completed cell is the ratio
    ``w_i / w_j`` of the weights of the matrix without the judgment. A judgment that is the
    only link between two sets of items is implied by nothing (``None``).
    """
    blanked = base.copy()
    blanked[i, j] = blanked[j, i] = np.nan
    try:
        completed, _ = _complete(blanked)
    except InputError:
        return None
    return float(completed[i, j])


def _repair(
    result: AHPResult, base: np.ndarray, i: int, j: int
) -> tuple[float, float, float] | None:
    """``(implied, suggested, cr_after)`` for one typed cell, or None when it has no repair.

    No repair: nothing else implies the cell (a bridge), or the implied ratio rounds to the
    value typed (the others confirm it as far as the scale can say, which includes a typed
    9 where the others imply 15: no value on the scale fits better).
    """
    implied = _left_out_estimate(base, i, j)
    if implied is None:
        return None
    suggested = nearest_scale_value(implied)
    if math.isclose(suggested, float(base[i, j]), rel_tol=1e-9):
        return None
    repaired = base.copy()
    repaired[i, j], repaired[j, i] = suggested, 1.0 / suggested
    after = ahp(repaired, method=result.method, ri_table=result.ri_table,
                threshold=result.threshold)
    return implied, suggested, after.cr


def worst_judgments(result: AHPResult, top: int = 3) -> list[Judgment]:
    """The typed judgments that contribute most to inconsistency, with their repairs.

    Following Saaty (2003; 2008, section "how to improve consistency"), the most
    inconsistent judgment is the one whose error ``e_ij = a_ij w_j / w_i`` is farthest from
    1, here measured symmetrically as ``|ln e_ij|``. Its repair is the value the *other*
    judgments imply: the cell is left blank and re-estimated by Harker's (1987a) method
    for incomplete matrices (as Saaty 2003 and the R package ahpsurvey do), then rounded to
    the Saaty scale. Re-estimating without the cell matters: the weights computed with a
    typo still in are pulled towards it, so their ratio under-corrects (on near-consistent
    matrices with one typo it brings CR under 0.10 in about 80 % of cases, the left-out
    estimate in about 99 %; tests/test_ahp.py).

    A judgment is listed only when the repair differs from the value typed: when the others
    imply the typed value (or a ratio beyond 9 for a typed 9), there is nothing better on the
    scale. Judgments equally bad (all three of a 3 x 3 matrix are, exactly) are ordered by
    the CR their repair leaves, lowest first, then by position. Estimated judgments are not
    listed: nobody typed them.

    Parameters
    ----------
    result : AHPResult
        From :func:`ahp`.
    top : int, default 3
        How many judgments to return at most.

    Returns
    -------
    list of Judgment
        Worst first. Empty for ``n <= 2`` and when every judgment agrees with the others.
    """
    if isinstance(top, bool) or not isinstance(top, int | np.integer) or top < 1:
        raise InputError(f"top must be a whole number >= 1; got {top!r}")
    n = result.n
    if n < 3:
        return []
    a = np.asarray(result.matrix)
    w = np.asarray(result.weights)
    est = set(result.estimated)
    iu, ju = _triu(n)
    keep = np.array([(int(i), int(j)) not in est for i, j in zip(iu, ju, strict=True)], bool)
    iu, ju = iu[keep], ju[keep]
    contribution = np.round(np.abs(np.log(a[iu, ju] * w[ju] / w[iu])), 9)
    # Estimated cells blank again: they are re-estimated with every repair.
    base = a.copy()
    for i, j in est:
        base[i, j] = base[j, i] = np.nan
    grad = _lambda_gradient(a)

    found: list[tuple[float, float, int, int, Judgment]] = []
    for level in np.unique(contribution)[::-1]:  # worst level first; ties share a level
        # A judgment that agrees with the weights (e_ij = 1) is implied exactly by the
        # others too: the weights are then also the Perron vector of Harker's matrix
        # without it. Nothing from here on can be repaired; a consistent matrix ends here.
        if len(found) >= top or level == 0:
            break
        for k in np.flatnonzero(contribution == level):
            i, j = int(iu[k]), int(ju[k])
            fix = _repair(result, base, i, j)
            if fix is None:
                continue
            implied, suggested, cr_after = fix
            judgment = Judgment(
                row=i, col=j, value=float(a[i, j]), ratio=implied, suggested=suggested,
                contribution=float(contribution[k]), gradient=float(grad[i, j]),
                cr_after=cr_after,
            )
            found.append((-float(level), round(cr_after, 12), i, j, judgment))
    found.sort(key=lambda t: t[:4])
    return [t[4] for t in found[: int(top)]]


# --------------------------------------------------------------------------- group


#: AHP-OS consensus bands (Goepel, bpmsg.com "AHP group consensus indicator - how to
#: understand and interpret?"): below 65 % low, 65 % to 75 % moderate, from 75 % high.
CONSENSUS_BANDS: tuple[tuple[float, str], ...] = ((0.65, "low"), (0.75, "moderate"))


def consensus_band(s: float) -> str:
    """``"low"``, ``"moderate"`` or ``"high"`` for an AHP-OS consensus ``s`` (0 to 1)."""
    for upper, word in CONSENSUS_BANDS:
        if s < upper:
            return word
    return "high"


def ahp_consensus(priorities: Any, scale_max: float = 9.0) -> float:
    """AHP-OS's group consensus indicator S* (Goepel 2013, 2018), 0 (none) to 1 (full).

    Shannon entropies of the raters' priority vectors ``p_k`` (one row per rater):
    alpha ``H_a = mean_k(-sum_i p_ki ln p_ki)``, gamma ``H_g = -sum_i pbar_i ln pbar_i`` of
    the mean vector ``pbar``, beta ``H_b = H_g - H_a``. With ``D = exp(H_b)`` and the AHP
    correction ``c = exp(ln n - H_a,min)``, where ``H_a,min`` is the entropy of
    ``(M, 1, ..., 1) / (n + M - 1)`` (one item M = 9 times as important as every other),
    ``S* = (1/D - 1/c) / (1 - 1/c)``: 1 when all raters agree, 0 when each of n raters puts
    a different item M times above the rest. As AHP-OS computes it (bpmsg/ahp-os,
    classes/AhpGroup.php, ``getConsensus``), every rater counts equally: it measures how
    far the people agree, whatever weight each has in the aggregate.

    Parameters
    ----------
    priorities : array-like, shape (k, n)
        Each rater's weights for the same ``n >= 2`` items, ``k >= 2`` raters.
    scale_max : float, default 9
        The largest judgment on the scale (M).

    Returns
    -------
    float

    References
    ----------
    Goepel, K. D. (2018). Implementation of an online software tool for the Analytic
    Hierarchy Process (AHP-OS). *International Journal of the Analytic Hierarchy Process*
    10(3), 469-487.
    """
    p = np.asarray(priorities, dtype=float)
    if p.ndim != 2 or p.shape[0] < 2 or p.shape[1] < 2:
        raise InputError("consensus needs two or more raters' weights for two or more items")
    n, m = p.shape[1], float(scale_max)
    p = p / p.sum(axis=1, keepdims=True)
    h_alpha = float(np.mean(-np.sum(p * np.log(p), axis=1)))
    mean = p.mean(axis=0)
    h_gamma = float(-np.sum(mean * np.log(mean)))
    d_beta = math.exp(h_gamma - h_alpha)
    extreme = np.array([m] + [1.0] * (n - 1)) / (n + m - 1)
    h_alpha_min = float(-np.sum(extreme * np.log(extreme)))
    c = math.exp(math.log(n) - h_alpha_min)
    return (1 / d_beta - 1 / c) / (1 - 1 / c)


@dataclass(frozen=True, eq=False)
class GroupJudgment:
    """Several raters' judgments combined.

    Attributes
    ----------
    matrix : numpy.ndarray
        Weighted element-wise geometric mean of the raters' matrices (NaN where nobody
        judged).
    result : AHPResult
        :func:`ahp` of the aggregated matrix.
    rater_results : tuple of AHPResult
        :func:`ahp` of each rater's own matrix, in the order given.
    rater_weights : numpy.ndarray
        Each rater's weight in the aggregate, summing to 1.
    """

    matrix: np.ndarray
    result: AHPResult
    rater_results: tuple[AHPResult, ...]
    rater_weights: np.ndarray = field(default_factory=lambda: np.ones(0))

    @property
    def consensus(self) -> float:
        """:func:`ahp_consensus` of the raters' own weights; NaN for one rater or one item."""
        if len(self.rater_results) < 2 or self.result.n < 2:
            return math.nan
        return ahp_consensus([r.weights for r in self.rater_results])


def _rater_weights(weights: Any, k: int) -> np.ndarray:
    """Rater weights normalised to sum 1; equal when ``None``."""
    if weights is None:
        return np.full(k, 1.0 / k)
    w = np.asarray(weights, dtype=float).ravel()
    if w.size != k or not np.all(np.isfinite(w)) or np.any(w <= 0):
        raise InputError(
            f"rater weights must be {k} positive numbers, one per rater; got {list(w)}",
            fix="Give every rater a weight above 0 (1 for equal weight)",
        )
    return w / w.sum()


def aggregate_judgments(
    matrices: Sequence[Any],
    *,
    weights: Any = None,
    method: str = "eigen",
    ri_table: str = "saaty",
) -> GroupJudgment:
    """Aggregate individual judgments (AIJ) by the weighted element-wise geometric mean.

    The geometric mean is the aggregation that keeps the reciprocal property
    (Aczél and Saaty 1983): ``gm(a_ij) * gm(a_ji) = gm(a_ij a_ji) = 1``; with rater weights
    ``v_k`` (summing to 1) it is ``prod_k a_ijk ** v_k`` (the WGM-AIJ of AHP-OS).

    Parameters
    ----------
    matrices : sequence of matrix-like
        One matrix per rater, each read by :func:`parse_matrix` (named ``rater k`` in
        messages). A judgment a rater left blank is averaged over the raters who gave it
        (their weights rescaled); blank for everyone, it is estimated by
        :func:`complete_matrix`.
    weights : sequence of float, optional
        Each rater's weight (positive; normalised to sum 1). Equal when omitted.
    method, ri_table : str
        As in :func:`ahp`, for the aggregate and for each rater.

    Returns
    -------
    GroupJudgment

    Raises
    ------
    InputError
        No rater, a rater's matrix unusable, sizes that differ (naming the rater), or
        weights that are not one positive number per rater.
    """
    _method_key(method)
    _table_key(ri_table)
    if isinstance(matrices, np.ndarray) and matrices.ndim == 3:
        matrices = list(matrices)
    if len(matrices) == 0:
        raise InputError("no rater's matrix was given", fix="Pass at least one matrix")
    v = _rater_weights(weights, len(matrices))
    problems: list[Problem] = []
    parsed: list[np.ndarray | None] = []
    for k, m in enumerate(matrices, start=1):
        try:
            parsed.append(parse_matrix(m, name=f"rater {k}"))
        except InputError as exc:
            problems.extend(exc.problems)
            parsed.append(None)
    ok = [(k, p) for k, p in enumerate(parsed, start=1) if p is not None]
    if ok:
        k0, p0 = ok[0]
        for k, p in ok[1:]:
            if p.shape != p0.shape:
                problems.append(
                    Problem(
                        "error",
                        f"rater {k}'s matrix is {p.shape[0]}×{p.shape[1]} but rater {k0}'s "
                        f"is {p0.shape[0]}×{p0.shape[1]}",
                        "Every rater compares the same items in the same order",
                    )
                )
    if problems:
        raise InputError(problems)

    stack = np.stack([p for _, p in ok])
    have = ~np.isnan(stack)
    vk = v[:, None, None] * have
    total = vk.sum(axis=0)
    logs = np.where(have, np.log(np.where(have, stack, 1.0)), 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        agg = np.where(total > 0, np.exp((vk * logs).sum(axis=0) / np.where(total > 0, total, 1)),
                       np.nan)

    rater_results = []
    for k, p in ok:
        try:
            rater_results.append(ahp(p, method=method, ri_table=ri_table))
        except InputError as exc:
            problems.extend(
                Problem(q.severity, f"rater {k}: {q.message}", q.fix) for q in exc.problems
            )
    if problems:
        raise InputError(problems)
    result = ahp(agg, method=method, ri_table=ri_table)
    return GroupJudgment(matrix=_frozen(agg), result=result, rater_results=tuple(rater_results),
                         rater_weights=_frozen(v))


# --------------------------------------------------------------------------- hierarchy


@dataclass(frozen=True, eq=False)
class HierarchyWeights:
    """Weights of a two-level indicator hierarchy.

    Attributes
    ----------
    group : AHPResult
        First level: the groups.
    local : dict of str to AHPResult
        Second level: each group's indicators (a one-indicator group has weight 1).
    table : pandas.DataFrame
        One row per indicator in hierarchy order, columns ``Group``, ``Indicator``,
        ``GroupWeight``, ``LocalWeight``, ``GlobalWeight`` (= group × local; sums to 1).
    """

    group: AHPResult
    local: dict[str, AHPResult]
    table: pd.DataFrame

    def consistency_table(self) -> pd.DataFrame:
        """One row per matrix: ``Level`` ("groups" or the group name), ``n``,
        ``LambdaMax``, ``CI``, ``RI``, ``CR``, ``Consistent``."""
        levels = [("groups", self.group)] + list(self.local.items())
        return pd.DataFrame(
            {
                "Level": [name for name, _ in levels],
                "n": [r.n for _, r in levels],
                "LambdaMax": [r.lambda_max for _, r in levels],
                "CI": [r.ci for _, r in levels],
                "RI": [r.ri for _, r in levels],
                "CR": [r.cr for _, r in levels],
                "Consistent": [r.consistent for _, r in levels],
            }
        )


def hierarchy_weights(
    group_matrix: Any,
    groups: Sequence[str],
    local_matrices: Mapping[str, Any],
    indicators: Mapping[str, Sequence[str]],
    *,
    method: str = "eigen",
    ri_table: str = "saaty",
) -> HierarchyWeights:
    """Global indicator weights: group weight × local weight.

    Parameters
    ----------
    group_matrix : matrix-like
        Groups compared with each other, in the order of ``groups``. May be ``None`` when
        there is a single group.
    groups : sequence of str
        Group names, unique.
    local_matrices : mapping of group name to matrix-like
        Each group's indicators compared with each other, in the order of
        ``indicators[group]``. A group with one indicator needs none (``None`` or absent).
    indicators : mapping of group name to sequence of str
        Each group's indicator names, unique within the group.
    method, ri_table : str
        As in :func:`ahp`, for every matrix.

    Returns
    -------
    HierarchyWeights

    Raises
    ------
    InputError
        All problems at once: duplicate or unknown names, missing matrices, sizes that do
        not match the names (naming the group), unusable judgments.
    """
    _method_key(method)
    _table_key(ri_table)
    groups = [str(g) for g in groups]
    if not groups:
        raise InputError("no groups were given", fix="Name at least one group")
    problems: list[Problem] = []

    def err(message: str, fix: str) -> None:
        problems.append(Problem("error", message, fix))

    def weigh(matrix: Any, label: str, size: int, what: str, expected: str) -> AHPResult | None:
        """Parse and weigh one matrix of the hierarchy, or record why it cannot be."""
        try:
            m = parse_matrix(matrix, name=label)
        except InputError as exc:
            problems.extend(exc.problems)
            return None
        if m.shape[0] != size:
            k = m.shape[0]
            err(
                f"the {what} is {k}×{k} but {expected}",
                "Compare exactly the listed items, in order",
            )
            return None
        try:
            return ahp(m, method=method, ri_table=ri_table)
        except InputError as exc:
            problems.extend(
                Problem(q.severity, f"{label}: {q.message}", q.fix) for q in exc.problems
            )
            return None

    listed = ", ".join(groups)
    for g in sorted({g for g in groups if groups.count(g) > 1}):
        err(f"group {g!r} is named twice", "Give every group its own name")
    for g in local_matrices:
        if str(g) not in groups:
            err(
                f"a matrix is given for {g!r}, which is not one of the groups ({listed})",
                "Check the spelling of the group name",
            )
    for g in indicators:
        if str(g) not in groups:
            err(
                f"indicators are given for {g!r}, which is not one of the groups ({listed})",
                "Check the spelling of the group name",
            )

    # First level: the groups.
    group_result: AHPResult | None = None
    if group_matrix is None and len(groups) == 1:
        group_result = ahp([[1.0]], method=method, ri_table=ri_table)
    elif group_matrix is None:
        err(f"no group matrix was given for {len(groups)} groups", "Compare the groups pairwise")
    else:
        group_result = weigh(
            group_matrix,
            "group matrix",
            len(groups),
            "group matrix",
            f"{len(groups)} groups are named",
        )

    # Second level: each group's indicators.
    local: dict[str, AHPResult] = {}
    for g in groups:
        names = [str(x) for x in indicators.get(g) or ()]
        if not names:
            err(f"group {g!r} has no indicators", "List at least one indicator for every group")
            continue
        dupes = sorted({x for x in names if names.count(x) > 1})
        if dupes:
            err(
                f"group {g!r} names indicator(s) {', '.join(map(repr, dupes))} more than once",
                "Give every indicator in a group its own name",
            )
        if local_matrices.get(g) is None:
            if len(names) == 1:
                local[g] = ahp([[1.0]], method=method, ri_table=ri_table)
            else:
                err(
                    f"group {g!r} has {len(names)} indicators but no comparison matrix",
                    "Compare the group's indicators pairwise",
                )
            continue
        r = weigh(
            local_matrices[g],
            f"group {g!r}",
            len(names),
            f"matrix for group {g!r}",
            f"the group has {len(names)} indicators",
        )
        if r is not None:
            local[g] = r

    if problems:
        raise InputError(problems)
    assert group_result is not None  # every path that leaves it None added a problem

    rows = []
    for gi, g in enumerate(groups):
        gw = float(group_result.weights[gi])
        for ii, ind in enumerate(indicators[g]):
            lw = float(local[g].weights[ii])
            rows.append((g, str(ind), gw, lw, gw * lw))
    table = pd.DataFrame(
        rows, columns=["Group", "Indicator", "GroupWeight", "LocalWeight", "GlobalWeight"]
    )
    return HierarchyWeights(group=group_result, local=local, table=table)
