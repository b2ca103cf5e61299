"""The indicator hierarchy: groups of indicators, each tied to a ledger column and scored 0..100.

The analyst keeps the hierarchy on the ``Indicators`` sheet as a table with the columns
of :data:`TABLE_COLUMNS` (Group, Indicator, Column, Type, Method, Direction, Parameters),
for example::

    Qualification | Operating status | OperatingStatus | qualitative  | rubric | benefit |
        Excellent=100; Good=75; Fair=50; Poor=20
    Potential     | Purchase growth  | PurchaseGrowth  | quantitative | bands  | benefit |
        <-0.1: 0; <0: 25; <0.05: 50; <0.15: 75; else: 100
    Potential     | Satisfaction     | Satisfaction    | quantitative | minmax | benefit |
        lower=1; upper=5

:func:`hierarchy_from_table` reads that table (every bad cell becomes a :class:`Problem`
with its address) and :func:`hierarchy_to_table` writes it back; the two round-trip
exactly.

Parameters syntax
-----------------
One text cell, entries separated by ``;`` or by line breaks (Alt+Enter), each entry
``key=value`` (``key: value`` is accepted too). Keys and words are matched ignoring case.
Numbers may be typed as ``5``, ``0.05``, ``-0.1`` or ``5%`` (= 0.05).

``minmax``
    ``lower=1; upper=5`` fix the scale instead of taking the smallest and largest value
    in the ledger (both optional). ``nonnegative=yes`` reports negative values.
``percentile``
    ``nonnegative=yes`` only.
``bands``
    ``<0: 0; <0.05: 40; <0.15: 70; else: 100``: thresholds from lowest to highest, each
    ``<threshold: points`` meaning "below this threshold"; ``else: points`` for the rest.
    A value equal to a threshold belongs to the band *above* it (0.05 scores 70 here).
    ``nonnegative=yes`` as above.
``rubric``
    ``Excellent=100; Good=75; Fair=50; Poor=20``: label = points. Labels in the ledger
    are matched ignoring case, surrounding spaces and repeated inner spaces.

Points are always on the 0..100 scale. For ``bands`` and ``rubric`` the points already
say what is good, so ``Direction`` documents the intent and is not applied again.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from xlcrm import schema
from xlcrm.errors import InputError, Problem, cell_address

Kind = Literal["quantitative", "qualitative"]
Method = Literal["minmax", "percentile", "bands", "rubric"]
Direction = Literal["benefit", "cost"]

KINDS: tuple[str, ...] = ("quantitative", "qualitative")
METHODS: tuple[str, ...] = ("minmax", "percentile", "bands", "rubric")
DIRECTIONS: tuple[str, ...] = ("benefit", "cost")

TABLE_COLUMNS: tuple[str, ...] = (
    "Group",
    "Indicator",
    "Column",
    "Type",
    "Method",
    "Direction",
    "Parameters",
)
"""Headers of the hierarchy table on the ``Indicators`` sheet, in order."""

REQUIRED_TABLE_COLUMNS: tuple[str, ...] = ("Group", "Indicator", "Column", "Method")

MIN_GROUPS, MAX_GROUPS = 2, 9
MAX_PER_GROUP = 15

# Parameter keys each method accepts (anything else is a typo worth reporting).
PARAM_KEYS: dict[str, tuple[str, ...]] = {
    "minmax": ("lower", "upper", "nonnegative"),
    "percentile": ("nonnegative",),
    "bands": ("thresholds", "points", "nonnegative"),
    "rubric": ("labels",),
}

# Forgiving spellings an analyst may type in the table; the canonical word is the value.
_METHOD_ALIASES = {
    "minmax": "minmax",
    "min-max": "minmax",
    "min max": "minmax",
    "min_max": "minmax",
    "percentile": "percentile",
    "percentile rank": "percentile",
    "percentilerank": "percentile",
    "percent rank": "percentile",
    "percentrank": "percentile",
    "rank": "percentile",
    "bands": "bands",
    "band": "bands",
    "rubric": "rubric",
    "labels": "rubric",
}
_KIND_ALIASES = {
    "quantitative": "quantitative",
    "quant": "quantitative",
    "number": "quantitative",
    "numeric": "quantitative",
    "qualitative": "qualitative",
    "qual": "qualitative",
    "label": "qualitative",
    "text": "qualitative",
}
_DIRECTION_ALIASES = {
    "benefit": "benefit",
    "higher is better": "benefit",
    "higher": "benefit",
    "max": "benefit",
    "cost": "cost",
    "lower is better": "cost",
    "lower": "cost",
    "min": "cost",
}
_PARAM_KEY_ALIASES = {
    "lower": "lower",
    "min": "lower",
    "upper": "upper",
    "max": "upper",
    "nonnegative": "nonnegative",
    "non-negative": "nonnegative",
    "non negative": "nonnegative",
}
_TRUE = {"yes", "y", "true", "1", "on"}
_FALSE = {"no", "n", "false", "0", "off"}
_ELSE = {"else", "otherwise", "rest"}

# Plain numbers, optionally grouped in thousands by commas or spaces ("1,200.5", "1 200");
# a comma anywhere else ("1,5") could be a decimal comma and is refused rather than guessed.
NUMBER_RE = r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
THOUSANDS_RE = r"[+-]?[0-9]{1,3}(?:([,\u00a0\u202f ])[0-9]{3})(?:\1[0-9]{3})*(?:\.[0-9]*)?"
THOUSANDS_SEPARATORS = ",\u00a0\u202f "
_NUMBER = re.compile(NUMBER_RE)
_THOUSANDS = re.compile(THOUSANDS_RE)


def _freeze(value: Any) -> Any:
    """An immutable, hashable copy of a parameter value."""
    if isinstance(value, Mapping):
        return Params(value)
    if isinstance(value, (list, tuple, np.ndarray)):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    return value


class Params(Mapping[str, Any]):
    """An immutable, hashable, ordered mapping of indicator parameters.

    Lists become tuples and nested mappings become ``Params``, so an :class:`Indicator`
    stays hashable. The order of entries is kept (a rubric's labels are shown in the
    order the analyst typed them); equality ignores order, like ``dict``.
    """

    __slots__ = ("_items",)

    def __init__(self, data: Mapping[str, Any] | Iterable[tuple[str, Any]] = (), /) -> None:
        pairs = data.items() if isinstance(data, Mapping) else data
        merged: dict[str, Any] = {}
        for key, value in pairs:
            merged[str(key)] = _freeze(value)
        self._items: tuple[tuple[str, Any], ...] = tuple(merged.items())

    def __getitem__(self, key: str) -> Any:
        for k, v in self._items:
            if k == key:
                return v
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return (k for k, _ in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(frozenset(self._items))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Mapping):
            return NotImplemented
        return dict(self._items) == dict(other.items())

    def __repr__(self) -> str:
        return f"Params({dict(self._items)!r})"


def label_key(label: Any) -> str:
    """How rubric labels are compared: case-folded, trimmed, inner spaces collapsed."""
    return " ".join(str(label).split()).casefold()


@dataclass(frozen=True)
class Indicator:
    """One second-level indicator: where its values are and how they become 0..100.

    Parameters
    ----------
    group : str
        First-level group the indicator belongs to.
    name : str
        Display name; also the header of its score column on ``Scores``.
    column : str
        Header of the ledger column in ``Customers`` that holds its values.
    kind : {"quantitative", "qualitative"}
        Numbers or labels. Qualitative indicators are scored by a rubric.
    method : {"minmax", "percentile", "bands", "rubric"}
        How values become scores (see :mod:`xlcrm.value.scoring`).
    direction : {"benefit", "cost"}
        Whether higher values are better (benefit) or worse (cost). Applied by
        ``minmax`` and ``percentile``; for ``bands`` and ``rubric`` the points already
        encode it.
    params : mapping
        Method parameters (see the module docstring): ``lower``/``upper`` and
        ``nonnegative`` for minmax; ``nonnegative`` for percentile; ``thresholds``
        (ascending), ``points`` (one more than thresholds) and ``nonnegative`` for bands;
        ``labels`` (label -> points) for rubric. Stored as an immutable :class:`Params`.

    Raises
    ------
    InputError
        When a field is invalid; the message says what to change.
    """

    group: str
    name: str
    column: str
    kind: Kind
    method: Method
    direction: Direction = "benefit"
    params: Mapping[str, Any] = field(default_factory=Params)

    def __post_init__(self) -> None:
        for attr in ("group", "name", "column"):
            value = getattr(self, attr)
            if isinstance(value, str):
                object.__setattr__(self, attr, value.strip())
        if not isinstance(self.params, Params):
            object.__setattr__(self, "params", Params(self.params or {}))
        issues = indicator_issues(self)
        if issues:
            raise InputError(
                [Problem("error", f"indicator {self.name!r}: {msg}", fix) for _, msg, fix in issues]
            )

    # Convenience accessors, so that scoring need not know the storage format.
    @property
    def nonnegative(self) -> bool:
        """Whether a negative value is impossible and must be reported."""
        return bool(self.params.get("nonnegative", False))

    @property
    def labels(self) -> dict[str, float]:
        """Rubric labels -> points, in the order typed (empty for other methods)."""
        return dict(self.params.get("labels", Params()))

    @property
    def thresholds(self) -> tuple[float, ...]:
        """Band thresholds, ascending (empty for other methods)."""
        return tuple(self.params.get("thresholds", ()))

    @property
    def points(self) -> tuple[float, ...]:
        """Band points, one more than thresholds (empty for other methods)."""
        return tuple(self.params.get("points", ()))

    @property
    def lower(self) -> float | None:
        """Fixed lower end of a min-max scale, or ``None`` for the data minimum."""
        return self.params.get("lower")

    @property
    def upper(self) -> float | None:
        """Fixed upper end of a min-max scale, or ``None`` for the data maximum."""
        return self.params.get("upper")

    @property
    def parameters_text(self) -> str:
        """The parameters as typed on the ``Indicators`` sheet (see :func:`format_parameters`)."""
        return format_parameters(self.method, self.params)


def _is_number(value: Any) -> bool:
    return (
        isinstance(value, (int, float, np.integer, np.floating))
        and not isinstance(value, (bool, np.bool_))
        and math.isfinite(float(value))
    )


def indicator_issues(ind: Indicator) -> list[tuple[str, str, str]]:
    """Everything wrong with one indicator, as ``(field, message, fix)``.

    ``field`` is the table column the trouble is in (``"Group"``, ``"Method"``,
    ``"Parameters"``...), so that a reader can point at the right cell.
    """
    out: list[tuple[str, str, str]] = []
    for attr, header in (("group", "Group"), ("name", "Indicator"), ("column", "Column")):
        value = getattr(ind, attr)
        if not isinstance(value, str) or not value:
            out.append((header, f"{header} is blank", f"Type a {header.lower()} name."))
    if ind.kind not in KINDS:
        out.append(("Type", f"type {ind.kind!r} is not known", "Use quantitative or qualitative."))
    if ind.method not in METHODS:
        out.append(
            ("Method", f"method {ind.method!r} is not known", f"Use one of: {', '.join(METHODS)}.")
        )
        return out
    if ind.direction not in DIRECTIONS:
        out.append(
            (
                "Direction",
                f"direction {ind.direction!r} is not known",
                "Use benefit (higher is better) or cost (lower is better).",
            )
        )
    if ind.kind in KINDS and (ind.kind == "qualitative") != (ind.method == "rubric"):
        if ind.kind == "qualitative":
            fix = "Score qualitative indicators by rubric, or set Type to quantitative."
        else:
            fix = (
                "Use a rubric only for qualitative (label) indicators, or set Type to qualitative."
            )
        out.append(("Type", f"a {ind.kind} indicator cannot use method {ind.method}", fix))
    out.extend(_params_issues(ind.method, ind.params))
    return out


def _params_issues(method: str, params: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    out: list[tuple[str, str, str]] = []
    where = "Parameters"
    allowed = PARAM_KEYS[method]
    unknown = [k for k in params if k not in allowed]
    if unknown:
        out.append(
            (
                where,
                f"parameter {', '.join(unknown)} does not apply to method {method}",
                f"Allowed for {method}: {', '.join(allowed)}.",
            )
        )
    if "nonnegative" in params and not isinstance(params["nonnegative"], bool):
        out.append(
            (where, "nonnegative must be yes or no", "Write nonnegative=yes or leave it out.")
        )
    if method == "minmax":
        for key in ("lower", "upper"):
            if key in params and not _is_number(params[key]):
                out.append(
                    (where, f"{key} is not a number", f"Write {key}=<number>, e.g. lower=1.")
                )
        lo, hi = params.get("lower"), params.get("upper")
        if _is_number(lo) and _is_number(hi) and not hi > lo:
            out.append(
                (
                    where,
                    f"upper ({_fmt(hi)}) is not above lower ({_fmt(lo)})",
                    "Make upper > lower.",
                )
            )
    elif method == "bands":
        thresholds = params.get("thresholds", ())
        points = params.get("points", ())
        if not thresholds:
            out.append(
                (
                    where,
                    "bands need at least one threshold",
                    "Write e.g. <0: 0; <0.05: 40; <0.15: 70; else: 100.",
                )
            )
        if not all(_is_number(t) for t in thresholds):
            out.append((where, "a band threshold is not a number", "Use numbers after '<'."))
        elif any(b <= a for a, b in zip(thresholds, thresholds[1:], strict=False)):
            out.append(
                (
                    where,
                    "band thresholds are not in increasing order",
                    "List bands from the lowest threshold to the highest, each one higher.",
                )
            )
        if len(points) != len(thresholds) + 1:
            out.append(
                (
                    where,
                    f"{len(thresholds)} thresholds need {len(thresholds) + 1} points, "
                    f"got {len(points)}",
                    "Give each '<threshold' its points and end with 'else: points'.",
                )
            )
        out.extend(_points_issues(points))
    elif method == "rubric":
        labels = params.get("labels", Params())
        if not isinstance(labels, Mapping) or not labels:
            out.append(
                (
                    where,
                    "a rubric needs its labels and points",
                    "Write e.g. Excellent=100; Good=75; Fair=50; Poor=20.",
                )
            )
            return out
        keys = [label_key(k) for k in labels]
        if any(not k for k in keys):
            out.append((where, "a rubric label is blank", "Write each entry as Label=points."))
        dups = sorted({k for k in keys if keys.count(k) > 1})
        if dups:
            out.append(
                (
                    where,
                    f"rubric label {', '.join(dups)} is listed twice (case does not matter)",
                    "Keep one entry per label.",
                )
            )
        out.extend(_points_issues(tuple(labels.values())))
    return out


def _points_issues(points: Iterable[Any]) -> list[tuple[str, str, str]]:
    bad = [p for p in points if not (_is_number(p) and 0 <= float(p) <= 100)]
    if bad:
        return [
            (
                "Parameters",
                f"points {', '.join(map(str, bad))} are not numbers from 0 to 100",
                "Give every band or label points from 0 to 100.",
            )
        ]
    return []


@dataclass(frozen=True)
class Hierarchy:
    """Indicators grouped into 2..9 first-level groups of 1..15 indicators each.

    Parameters
    ----------
    indicators : tuple of Indicator
        In display order. Groups are ordered by first appearance.

    Raises
    ------
    InputError
        Too few or too many groups, too many indicators in a group, or names that are
        blank, repeated (ignoring case) or clash with a group or a ``Scores`` header.
    """

    indicators: tuple[Indicator, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "indicators", tuple(self.indicators))
        issues = hierarchy_issues(self.indicators)
        if issues:
            raise InputError([Problem("error", msg, fix) for _, msg, fix in issues])

    @property
    def groups(self) -> tuple[str, ...]:
        """Group names in order of first appearance."""
        return tuple(dict.fromkeys(i.group for i in self.indicators))

    @property
    def by_group(self) -> dict[str, tuple[Indicator, ...]]:
        """Group name -> its indicators, in order."""
        return {g: tuple(i for i in self.indicators if i.group == g) for g in self.groups}

    @property
    def names(self) -> tuple[str, ...]:
        """Indicator names in order."""
        return tuple(i.name for i in self.indicators)

    @property
    def columns(self) -> tuple[str, ...]:
        """Ledger columns the indicators read, unique, in order of first use."""
        return tuple(dict.fromkeys(i.column for i in self.indicators))

    def indicator(self, name: str) -> Indicator:
        """The indicator called ``name`` (exact match)."""
        for ind in self.indicators:
            if ind.name == name:
                return ind
        raise KeyError(name)


_RESERVED_NAMES = {n.casefold() for n in schema.SCORES_LEAD + schema.SCORES_TAIL}


def hierarchy_issues(indicators: tuple[Indicator, ...]) -> list[tuple[int | None, str, str]]:
    """Structural trouble with a set of indicators, as ``(index or None, message, fix)``.

    ``index`` points at the offending indicator (for a cell address) when there is one.
    """
    out: list[tuple[int | None, str, str]] = []
    if not indicators:
        return [
            (None, "the hierarchy has no indicators", "List at least two groups of indicators.")
        ]
    groups = list(dict.fromkeys(i.group for i in indicators))
    if not MIN_GROUPS <= len(groups) <= MAX_GROUPS:
        out.append(
            (
                None,
                f"the hierarchy has {len(groups)} group(s) ({', '.join(groups)})",
                f"Use {MIN_GROUPS} to {MAX_GROUPS} groups.",
            )
        )
    for g in groups:
        members = [k for k, i in enumerate(indicators) if i.group == g]
        if len(members) > MAX_PER_GROUP:
            out.append(
                (
                    members[MAX_PER_GROUP],
                    f"group {g!r} has {len(members)} indicators",
                    f"Keep at most {MAX_PER_GROUP} per group; split it into two groups.",
                )
            )
    folded_groups: dict[str, str] = {}
    for g in groups:
        other = folded_groups.setdefault(g.casefold(), g)
        if other != g:
            k = next(k for k, i in enumerate(indicators) if i.group == g)
            out.append(
                (k, f"groups {other!r} and {g!r} differ only in case", "Spell the group the same.")
            )
    seen: dict[str, int] = {}
    group_keys = {g.casefold() for g in groups}
    for k, ind in enumerate(indicators):
        key = ind.name.casefold()
        if key in seen:
            out.append(
                (
                    k,
                    f"indicator name {ind.name!r} is used twice (case does not matter)",
                    "Give every indicator its own name.",
                )
            )
        seen.setdefault(key, k)
        if key in group_keys or key in _RESERVED_NAMES:
            out.append(
                (
                    k,
                    f"indicator name {ind.name!r} clashes with a group or a Scores column",
                    "Rename the indicator: Scores has one column per indicator and per group.",
                )
            )
    return out


# --------------------------------------------------------------------------- defaults

_RUBRIC_OPERATING = (("Excellent", 100), ("Good", 75), ("Fair", 50), ("Poor", 20))
_RUBRIC_CREDIT = (
    ("AAA", 100),
    ("AA", 90),
    ("A", 80),
    ("BBB", 65),
    ("BB", 45),
    ("B", 25),
    ("C", 0),
)
_RUBRIC_OUTLOOK = (("Growing", 100), ("Stable", 60), ("Shrinking", 20))


def default_hierarchy() -> Hierarchy:
    """The 12-indicator template of DESIGN.md §2: 3 groups × 4 indicators.

    Methods, and why:

    * **Percentile rank** for money and headcount (Company scale, Equipment value,
      Wallet headroom, Sales revenue, Gross profit, Unit profit). A B2B ledger is long
      tailed: a handful of large accounts hold most of the revenue, so min-max would put
      nearly every customer near 0 and let a few giants decide the value score. The rank
      is robust to outliers and to the currency; what it gives up is magnitude, which the
      ABC / Pareto classes keep.
    * **Percentile rank, cost direction** for Payment timeliness (days to pay): a few
      very late payers would squash a min-max scale; many equal integer day counts are
      handled by averaging tied ranks.
    * **Bands** for Purchase growth: a growth rate from a small base can be +900 %, and
      business meaning lives in steps (shrinking, flat, moderate, strong growth).
    * **Min-max on the fixed 1..5 scale** for Satisfaction: a survey score has a known
      scale, and fixing it keeps a 4 worth the same from one run to the next.
    * **Rubrics** for the labels: Operating status (Excellent/Good/Fair/Poor), Credit
      standing (AAA..C) and Industry outlook (Growing/Stable/Shrinking).

    Negative values are impossible, and reported, for Employees, EquipmentValue,
    WalletHeadroom, Revenue12m and DaysToPay (``nonnegative=yes``). Gross profit and
    unit profit may be negative (loss-making accounts); purchase growth may be too.
    """
    (op, emp, equip, credit, growth, outlook, wallet, sat, rev, gp, unit, days) = (
        schema.DEFAULT_INDICATOR_COLUMNS
    )
    nonneg = {"nonnegative": True}
    q, p, c = "Qualification", "Potential", "Contribution"
    return Hierarchy(
        (
            Indicator(q, "Operating status", op, "qualitative", "rubric",
                      params={"labels": dict(_RUBRIC_OPERATING)}),
            Indicator(q, "Company scale", emp, "quantitative", "percentile", params=nonneg),
            Indicator(q, "Equipment value", equip, "quantitative", "percentile", params=nonneg),
            Indicator(q, "Credit standing", credit, "qualitative", "rubric",
                      params={"labels": dict(_RUBRIC_CREDIT)}),
            Indicator(p, "Purchase growth", growth, "quantitative", "bands",
                      params={"thresholds": (-0.1, 0.0, 0.05, 0.15),
                              "points": (0, 25, 50, 75, 100)}),
            Indicator(p, "Industry outlook", outlook, "qualitative", "rubric",
                      params={"labels": dict(_RUBRIC_OUTLOOK)}),
            Indicator(p, "Wallet headroom", wallet, "quantitative", "percentile", params=nonneg),
            Indicator(p, "Satisfaction", sat, "quantitative", "minmax",
                      params={"lower": 1, "upper": 5}),
            Indicator(c, "Sales revenue", rev, "quantitative", "percentile", params=nonneg),
            Indicator(c, "Gross profit", gp, "quantitative", "percentile"),
            Indicator(c, "Unit profit", unit, "quantitative", "percentile"),
            Indicator(c, "Payment timeliness", days, "quantitative", "percentile", "cost",
                      params=nonneg),
        )
    )  # fmt: skip


def _reciprocal(upper: Iterable[float], n: int) -> np.ndarray:
    """An n×n reciprocal matrix from its upper triangle, row by row."""
    a = np.eye(n)
    iu = np.triu_indices(n, 1)
    a[iu] = list(upper)
    a[(iu[1], iu[0])] = 1.0 / a[iu]
    return a


def default_judgments() -> dict[str, np.ndarray]:
    """Default pairwise judgments (Saaty 1..9 scale) for :func:`default_hierarchy`.

    Keys: ``"groups"`` (3×3 over Qualification, Potential, Contribution) and one 4×4
    matrix per group name, rows and columns in the hierarchy's indicator order. All have
    CR < 0.02 on Saaty's RI table. The reasoning, for a B2B industrial supplier:

    * Groups: Contribution (what the account earns us now) matters most, then Potential
      (where it can grow), then Qualification (can it buy and pay): 1/2, 1/3 and 1/2
      give weights ≈ 0.16, 0.30, 0.54.
    * Qualification: credit standing first (a supplier extends credit), then operating
      status, company scale, equipment value: ≈ 0.28, 0.16, 0.10, 0.47 in table order.
    * Potential: wallet headroom first (purchases we could win), then purchase growth,
      then industry outlook and satisfaction equally: ≈ 0.26, 0.14, 0.46, 0.14.
    * Contribution: gross profit first, then revenue, then unit profit and payment
      timeliness equally: ≈ 0.26, 0.46, 0.14, 0.14.
    """
    return {
        "groups": _reciprocal((1 / 2, 1 / 3, 1 / 2), 3),
        "Qualification": _reciprocal((2, 3, 1 / 2, 2, 1 / 3, 1 / 4), 4),
        "Potential": _reciprocal((2, 1 / 2, 2, 1 / 3, 1, 3), 4),
        "Contribution": _reciprocal((1 / 2, 2, 2, 3, 3, 1), 4),
    }


# --------------------------------------------------------------------------- parameters


def _fmt(x: Any) -> str:
    """Shortest text that reads back as exactly the same float."""
    x = float(x)
    if x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return repr(x)


def parse_number(text: Any) -> float | None:
    """A finite number from a typed value, or ``None``.

    Accepts numbers, and text such as ``" 35 "``, ``"1,200.5"`` (comma thousands
    separators only), ``"+3"``, ``"5%"`` (= 0.05), ``"1e3"``. A decimal comma (``"1,5"``)
    is refused rather than guessed.
    """
    if _is_number(text):
        return float(text)
    if not isinstance(text, str):
        return None
    t = text.strip()
    percent = t.endswith("%")
    if percent:
        t = t[:-1].rstrip()
    if _THOUSANDS.fullmatch(t):
        t = t.translate({ord(c): None for c in THOUSANDS_SEPARATORS})
    if not _NUMBER.fullmatch(t):
        return None
    value = float(t)
    if percent:
        # Shift the decimal exponent rather than divide, so "5%" is exactly float("0.05").
        mantissa, _, exponent = t.lower().partition("e")
        value = float(f"{mantissa}e{int(exponent or 0) - 2}")
    return value if math.isfinite(value) else None


def _parse_bool(text: str) -> bool | None:
    t = text.strip().casefold()
    return True if t in _TRUE else False if t in _FALSE else None


def _split_entry(entry: str) -> tuple[str, str] | None:
    """``key=value`` or ``key: value`` split at the last separator."""
    cut = max(entry.rfind("="), entry.rfind(":"))
    if cut < 0:
        return None
    return entry[:cut].strip(), entry[cut + 1 :].strip()


def parse_parameters(text: Any, method: str) -> tuple[Params, list[str]]:
    """Read a Parameters cell for ``method``.

    Parameters
    ----------
    text : str or None
        The cell's content (see the module docstring for the syntax).
    method : str
        A canonical method name from :data:`METHODS`.

    Returns
    -------
    params : Params
        What could be read.
    errors : list of str
        One message per entry that could not be read, each saying what to write.
    """
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return Params(), []
    if not isinstance(text, str):
        text = _fmt(text) if _is_number(text) else str(text)
    entries = [e.strip() for e in re.split(r"[;\n\r]+", text) if e.strip()]
    errors: list[str] = []
    out: dict[str, Any] = {}
    labels: dict[str, float] = {}
    thresholds: list[float] = []
    points: list[float] = []
    else_points: float | None = None

    for entry in entries:
        if method == "bands" and entry.startswith("<"):
            body = entry[1:]
            if body.startswith("="):
                errors.append(
                    f"{entry!r}: bands use '<' only; a value equal to a threshold "
                    "falls in the band above it"
                )
                continue
            parts = _split_entry(body)
            t = parse_number(parts[0]) if parts else None
            pts = parse_number(parts[1]) if parts else None
            if t is None or pts is None:
                errors.append(f"{entry!r} is not '<threshold: points', e.g. '<0.05: 40'")
                continue
            thresholds.append(t)
            points.append(pts)
            continue
        parts = _split_entry(entry)
        if parts is None:
            errors.append(f"{entry!r} has no '=' (write key=value)")
            continue
        key, value = parts
        folded = " ".join(key.split()).casefold()
        if method == "bands" and folded in _ELSE:
            pts = parse_number(value)
            if pts is None or else_points is not None:
                errors.append(f"{entry!r}: write 'else: points' once, with a number")
                continue
            else_points = pts
            continue
        if method == "rubric":
            pts = parse_number(value)
            if pts is None:
                errors.append(f"{entry!r}: the points after '=' are not a number")
                continue
            labels[key] = pts
            continue
        canon = _PARAM_KEY_ALIASES.get(folded)
        if canon is None or canon not in PARAM_KEYS[method]:
            allowed = [k for k in PARAM_KEYS[method] if k not in ("thresholds", "points")]
            hint = f"allowed: {', '.join(allowed)}" if allowed else "no keys are allowed"
            if method == "bands":
                hint += "; bands are '<threshold: points' and 'else: points'"
            errors.append(f"{key!r} is not a parameter of {method} ({hint})")
            continue
        if canon == "nonnegative":
            flag = _parse_bool(value)
            if flag is None:
                errors.append(f"{entry!r}: write nonnegative=yes or nonnegative=no")
                continue
            out[canon] = flag
        else:
            number = parse_number(value)
            if number is None:
                errors.append(f"{entry!r}: {canon} is not a number")
                continue
            out[canon] = number

    if method == "bands" and (thresholds or else_points is not None):
        if else_points is None:
            errors.append(
                "bands need a last entry 'else: points' for values above the top threshold"
            )
        else:
            out = {"thresholds": tuple(thresholds), "points": (*points, else_points), **out}
    if method == "rubric" and labels:
        out = {"labels": labels}
    return Params(out), errors


def format_parameters(method: str, params: Mapping[str, Any]) -> str:
    """The Parameters cell text for ``params``; :func:`parse_parameters` reads it back equal."""
    parts: list[str] = []
    if method == "rubric":
        parts = [f"{label}={_fmt(p)}" for label, p in params.get("labels", {}).items()]
    elif method == "bands":
        thresholds = params.get("thresholds", ())
        points = params.get("points", ())
        parts = [f"<{_fmt(t)}: {_fmt(p)}" for t, p in zip(thresholds, points, strict=False)]
        if len(points) == len(thresholds) + 1:
            parts.append(f"else: {_fmt(points[-1])}")
    else:
        for key in ("lower", "upper"):
            if params.get(key) is not None:
                parts.append(f"{key}={_fmt(params[key])}")
    if params.get("nonnegative"):
        parts.append("nonnegative=yes")
    return "; ".join(parts)


def quick_indicator(
    method: str,
    parameters: Any = "",
    direction: str = "benefit",
    *,
    name: str = "Indicator",
) -> Indicator:
    """An indicator from a method word and a Parameters text, as a worksheet function gets them.

    Method and direction accept the same spellings as the ``Indicators`` table.

    Raises
    ------
    InputError
        Unknown method or direction, or parameters that cannot be read.
    """
    canon = _METHOD_ALIASES.get(" ".join(str(method).split()).casefold())
    if canon is None:
        raise InputError(
            f"method {method!r} is not known", fix=f"Use one of: {', '.join(METHODS)}."
        )
    direction_text = "" if direction is None else " ".join(str(direction).split()).casefold()
    canon_dir = _DIRECTION_ALIASES.get(direction_text or "benefit")
    if canon_dir is None:
        raise InputError(
            f"direction {direction!r} is not known",
            fix="Use benefit (higher is better) or cost (lower is better).",
        )
    params, errors = parse_parameters(parameters, canon)
    if errors:
        raise InputError([Problem("error", f"parameters: {e}", "") for e in errors])
    kind = "qualitative" if canon == "rubric" else "quantitative"
    return Indicator("Group", name, name, kind, canon, canon_dir, params)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- the table


def hierarchy_to_table(h: Hierarchy) -> pd.DataFrame:
    """The hierarchy as the ``Indicators`` sheet shows it, one row per indicator.

    Columns are :data:`TABLE_COLUMNS`; every cell is text. :func:`hierarchy_from_table`
    reads the result back into an equal hierarchy.
    """
    rows = [
        (i.group, i.name, i.column, i.kind, i.method, i.direction, i.parameters_text)
        for i in h.indicators
    ]
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS), dtype=object)


def _cell_text(value: Any) -> str:
    """A table cell as trimmed text ('' for blank)."""
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    if value is pd.NA:
        return ""
    if _is_number(value):
        return _fmt(value)
    return str(value).strip()


def hierarchy_from_table(
    df: pd.DataFrame,
    *,
    sheet: str = schema.INDICATORS,
    header_row: int = 1,
    first_col: int = 0,
) -> tuple[Hierarchy, list[Problem]]:
    """Read the hierarchy table of the ``Indicators`` sheet.

    Headers are matched ignoring case and spaces; Group, Indicator, Column and Method
    are required, Type, Direction and Parameters optional (Type is then taken from the
    method, Direction is benefit). Wholly blank rows are skipped. A blank Group continues
    the group of the row above (as merged cells read). Methods, types and directions
    accept a few spellings (``min-max``, ``percentile rank``, ``higher is better``...).

    Parameters
    ----------
    df : DataFrame
        The table as read, header row as column names, one row per indicator.
    sheet : str
        Sheet name for problem addresses.
    header_row : int
        1-based sheet row of the header; data row ``k`` (0-based position) is sheet row
        ``header_row + 1 + k``.
    first_col : int
        0-based sheet column of the table's first column.

    Returns
    -------
    hierarchy : Hierarchy
        The indicators of every usable row.
    problems : list of Problem
        One error per unusable row (that indicator is left out of the run until fixed),
        with the cell at fault and what to write there.

    Raises
    ------
    InputError
        When no hierarchy can be formed: a required header is missing, no usable row,
        or the usable rows break a structural rule (2..9 groups, at most 15 indicators
        per group, unique names). Carries every problem found, row-level ones included.
    """
    header_pos: dict[str, int] = {}
    wanted = {h.casefold(): h for h in TABLE_COLUMNS}
    for pos, col in enumerate(df.columns):
        key = "".join(str(col).split()).casefold()
        if key in wanted and wanted[key] not in header_pos:
            header_pos[wanted[key]] = pos
    missing = [h for h in REQUIRED_TABLE_COLUMNS if h not in header_pos]
    if missing:
        raise InputError(
            f"the indicator table has no column {', '.join(missing)}",
            fix=f"Put these headers in row {header_row}: {', '.join(TABLE_COLUMNS)}.",
            sheet=sheet,
            cell=f"{header_row}:{header_row}",
        )

    def cell(k: int, header: str) -> str:
        return cell_address(header_row + k, first_col + header_pos.get(header, 0))

    problems: list[Problem] = []
    indicators: list[Indicator] = []
    rows_of: list[int] = []
    previous_group = ""
    values = df.to_numpy(dtype=object)
    for k in range(len(df)):
        text = {h: _cell_text(values[k, pos]) for h, pos in header_pos.items()}
        if not any(text.values()):
            continue
        row_errors: list[tuple[str, str, str]] = []
        group = text["Group"] or previous_group
        if not group:
            row_errors.append(
                ("Group", "Group is blank", "Type the group this indicator belongs to.")
            )
        previous_group = group
        name = text["Indicator"]
        if not name:
            row_errors.append(("Indicator", "Indicator is blank", "Type the indicator's name."))
        column = text["Column"]
        if not column:
            row_errors.append(
                (
                    "Column",
                    "Column is blank",
                    "Type the header of its column on the Customers sheet.",
                )
            )
        method = _METHOD_ALIASES.get(" ".join(text["Method"].split()).casefold(), "")
        if not method:
            row_errors.append(
                (
                    "Method",
                    f"method {text['Method']!r} is not known"
                    if text["Method"]
                    else "Method is blank",
                    f"Use one of: {', '.join(METHODS)}.",
                )
            )
        kind_text = " ".join(text.get("Type", "").split()).casefold()
        kind = _KIND_ALIASES.get(kind_text) if kind_text else None
        if kind_text and kind is None:
            row_errors.append(
                ("Type", f"type {text['Type']!r} is not known", "Use quantitative or qualitative.")
            )
        if kind is None and method:
            kind = "qualitative" if method == "rubric" else "quantitative"
        dir_text = " ".join(text.get("Direction", "").split()).casefold()
        direction = _DIRECTION_ALIASES.get(dir_text or "benefit")
        if direction is None:
            row_errors.append(
                (
                    "Direction",
                    f"direction {text['Direction']!r} is not known",
                    "Use benefit (higher is better) or cost (lower is better).",
                )
            )
        params: Params = Params()
        if method:
            params, errs = parse_parameters(text.get("Parameters", ""), method)
            row_errors.extend(
                ("Parameters", e, "Correct this entry; see the Help sheet for the syntax.")
                for e in errs
            )
        if not row_errors:
            candidate = Indicator.__new__(Indicator)
            for attr, value in (
                ("group", group),
                ("name", name),
                ("column", column),
                ("kind", kind),
                ("method", method),
                ("direction", direction),
                ("params", params),
            ):
                object.__setattr__(candidate, attr, value)
            row_errors.extend(indicator_issues(candidate))
            if not row_errors:
                indicators.append(candidate)
                rows_of.append(k)
        label = name or f"row {header_row + 1 + k}"
        for header, msg, fix in row_errors:
            problems.append(
                Problem(
                    "error",
                    f"indicator {label!r}: {msg}",
                    f"{fix} This indicator is left out until fixed.",
                    sheet,
                    cell(k, header),
                )
            )

    structural = hierarchy_issues(tuple(indicators))
    if structural:
        for index, msg, fix in structural:
            where = cell(rows_of[index], "Indicator") if index is not None else None
            problems.append(Problem("error", msg, fix, sheet, where))
        raise InputError(problems)
    return Hierarchy(tuple(indicators)), problems
