"""Settings sheets (Indicators, Judgments, Strategies) from cell grids to core types.

Pure functions on grids (lists of rows as a reader or xlwings returns them), so that the
file reader and the open workbook in Excel share one parser.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from xlcrm import schema
from xlcrm.errors import InputError, Problem, cell_address
from xlcrm.pipeline import ABC_BASES, HIGH_LOW_METHODS, Options, Settings
from xlcrm.value.ahp import parse_matrix
from xlcrm.value.hierarchy import (
    Hierarchy,
    default_hierarchy,
    default_judgments,
    hierarchy_from_table,
)
from xlcrm.value.scoring import MISSING_POLICIES
from xlcrm.value.strategies import DEFAULT_TYPES, strategies_from_table

Grid = Sequence[Sequence[Any]]

# Options block on the Indicators sheet, right of the hierarchy table (0-based column).
OPTIONS_COL = 8
OPTION_LABELS = {
    "Missing values": "missing",
    "High/Low split": "high_low",
    "ABC basis": "abc_basis",
    "ABC cut-off A": "abc_a",
    "ABC cut-off B": "abc_b",
    "Weights method": "ahp_method",
    "RI table": "ri_table",
}
OPTION_CHOICES = {
    "missing": MISSING_POLICIES,
    "high_low": ("kmeans", "median"),
    "abc_basis": ABC_BASES,
    "ahp_method": ("eigen", "geometric"),
    "ri_table": ("saaty", "alonso-lamata"),
}
assert set(OPTION_CHOICES["high_low"]) <= set(HIGH_LOW_METHODS)


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _blank(value: Any) -> bool:
    return _text(value) == "" or (isinstance(value, float) and value != value)


def grid_to_frame(grid: Grid, *, header_row: int = 1) -> pd.DataFrame:
    """A table whose header is in ``header_row`` (1-based), columns up to the first blank header."""
    rows = [list(r) for r in grid]
    if len(rows) < header_row:
        return pd.DataFrame()
    header = rows[header_row - 1]
    names: list[str] = []
    for value in header:
        if _blank(value):
            break
        names.append(_text(value))
    body = [r[: len(names)] + [None] * (len(names) - len(r)) for r in rows[header_row:]]
    while body and all(_blank(v) for v in body[-1]):
        body.pop()
    return pd.DataFrame(body, columns=names, dtype=object)


@dataclass(frozen=True)
class MatrixBlock:
    """A comparison matrix found on the Judgments sheet (0-based grid position)."""

    level: str
    items: tuple[str, ...]
    top: int
    left: int
    values: list[list[Any]]

    @property
    def ref(self) -> str:
        last = len(self.items) - 1
        start = cell_address(self.top, self.left)
        return f"{start}:{cell_address(self.top + last, self.left + last)}"


def find_matrix_blocks(grid: Grid) -> dict[str, MatrixBlock]:
    """Find every matrix on the Judgments sheet, keyed by level name (``"Groups"`` or a group).

    A block is a title in column A, then a header row (column A blank, item names from
    column B), then one row per item with its name in column A.
    """
    rows = [list(r) for r in grid]
    blocks: dict[str, MatrixBlock] = {}
    for r in range(len(rows) - 1):
        title = _text(rows[r][0]) if rows[r] else ""
        head = rows[r + 1]
        if not title or not head or not _blank(head[0]) or len(head) < 2 or _blank(head[1]):
            continue
        items: list[str] = []
        for value in head[1:]:
            if _blank(value) or _text(value) == "Weight":
                break
            items.append(_text(value))
        n = len(items)
        values = []
        for i in range(n):
            row = rows[r + 2 + i] if r + 2 + i < len(rows) else []
            row = row + [None] * (n + 1 - len(row))
            values.append(row[1 : n + 1])
        blocks[title] = MatrixBlock(title, tuple(items), r + 2, 1, values)
    return blocks


def judgments_from_grid(
    grid: Grid, hierarchy: Hierarchy, *, sheet: str = schema.JUDGMENTS
) -> tuple[dict[str, Any], list[Problem]]:
    """The judgment matrices for ``hierarchy`` from the Judgments sheet.

    Returns the matrices as typed (validated later by the AHP core) keyed ``"groups"`` and
    by group name, and problems for blocks that are missing or do not match the hierarchy
    (those fall back to equal importance, with a warning, so that a run can go on).
    """
    blocks = find_matrix_blocks(grid)
    lowered = {k.casefold(): v for k, v in blocks.items()}
    problems: list[Problem] = []
    out: dict[str, Any] = {}
    levels = [("groups", "Groups", tuple(hierarchy.groups))] + [
        (g, g, tuple(i.name for i in hierarchy.by_group[g])) for g in hierarchy.groups
    ]
    for key, title, items in levels:
        if len(items) == 1:
            out[key] = None
            continue
        block = lowered.get(title.casefold())
        if block is None:
            problems.append(
                Problem(
                    "warning",
                    f"no comparison matrix titled {title!r}; its items are weighted equally",
                    f"Add a block titled {title} in column A with the items {', '.join(items)} "
                    "(or rebuild the sheet from the template).",
                    sheet,
                    None,
                )
            )
            out[key] = [[1.0] * len(items) for _ in items]
            continue
        if [i.casefold() for i in block.items] != [i.casefold() for i in items]:
            problems.append(
                Problem(
                    "warning",
                    f"the {title} matrix compares {', '.join(block.items)} but the Indicators"
                    f" sheet has {', '.join(items)}; its items are weighted equally",
                    "Make the matrix headers match the Indicators sheet, in the same order.",
                    sheet,
                    block.ref,
                )
            )
            out[key] = [[1.0] * len(items) for _ in items]
            continue
        try:
            parse_matrix(block.values)
        except InputError as exc:
            problems.extend(locate_matrix_problems(exc, block, sheet))
        out[key] = block.values
    return out, problems


_MATRIX_CELL = re.compile(r"cell \((\d+),(\d+)\)")


def locate_matrix_problems(error: InputError, block: MatrixBlock, sheet: str) -> list[Problem]:
    """Address AHP problems (matrix row and column) to the block's cells on the sheet."""
    out = []
    for p in error.problems:
        m = _MATRIX_CELL.search(p.message)
        cell = (
            cell_address(block.top + int(m.group(1)) - 1, block.left + int(m.group(2)) - 1)
            if m
            else block.ref
        )
        out.append(Problem(p.severity, f"{block.level} matrix: {p.message}", p.fix, sheet, cell))
    return out


def options_from_grid(
    grid: Grid, *, sheet: str = schema.INDICATORS
) -> tuple[Options, list[Problem]]:
    """Analysis options from the Option/Value block on the Indicators sheet."""
    values: dict[str, Any] = {}
    problems: list[Problem] = []
    for r, row in enumerate(grid):
        if len(row) <= OPTIONS_COL + 1:
            continue
        label = _text(row[OPTIONS_COL])
        key = OPTION_LABELS.get(label)
        if key is None:
            continue
        value = row[OPTIONS_COL + 1]
        where = cell_address(r, OPTIONS_COL + 1)
        if _blank(value):
            continue
        if key in OPTION_CHOICES:
            canonical = {c.casefold(): c for c in OPTION_CHOICES[key]}
            text = _text(value).casefold()
            if text not in canonical:
                problems.append(
                    Problem(
                        "error",
                        f"{label} is {_text(value)!r}",
                        f"Use one of: {', '.join(OPTION_CHOICES[key])}. The default is used.",
                        sheet,
                        where,
                    )
                )
                continue
            values[key] = canonical[text]
        else:
            try:
                number = float(str(value).strip().rstrip("%")) / (100 if "%" in str(value) else 1)
            except ValueError:
                number = float("nan")
            if not 0 < number <= 1:
                problems.append(
                    Problem(
                        "error",
                        f"{label} is {_text(value)!r}",
                        "Type a share between 0 and 1, such as 0.8 or 80%. The default is used.",
                        sheet,
                        where,
                    )
                )
                continue
            values[key] = number
    cutoffs = (values.pop("abc_a", 0.80), values.pop("abc_b", 0.95))
    if not cutoffs[0] < cutoffs[1]:
        problems.append(
            Problem(
                "error",
                f"ABC cut-off A ({cutoffs[0]}) must be below cut-off B ({cutoffs[1]})",
                "Fix the two cut-offs; the defaults 0.80 and 0.95 are used.",
                sheet,
                None,
            )
        )
        cutoffs = (0.80, 0.95)
    return Options(abc_cutoffs=cutoffs, **values), problems


IMPORTANCE_HEADER = ("Survey question", "Importance", "Wording")
"""Header of the importance block on the Indicators sheet, in the options' columns."""


def importance_from_grid(
    grid: Grid, *, sheet: str = schema.INDICATORS
) -> tuple[tuple[tuple[str, float], ...], list[Problem]]:
    """Survey question -> importance, from the block headed ``Survey question | Importance``.

    The block sits in the options' columns of the Indicators sheet, below the options; it
    ends at the first row without a question. A question with a blank importance is left
    out of the importance-performance table; one with an importance that is not a positive
    number is reported.
    """
    label, value_label = (h.casefold() for h in IMPORTANCE_HEADER[:2])
    start = next(
        (
            r for r, row in enumerate(grid)
            if len(row) > OPTIONS_COL + 1
            and _text(row[OPTIONS_COL]).casefold() == label
            and _text(row[OPTIONS_COL + 1]).casefold() == value_label
        ),
        None,
    )  # fmt: skip
    if start is None:
        return (), []
    pairs: list[tuple[str, float]] = []
    problems: list[Problem] = []
    for r in range(start + 1, len(grid)):
        row = grid[r]
        question = _text(row[OPTIONS_COL]) if len(row) > OPTIONS_COL else ""
        if not question:
            break
        value = row[OPTIONS_COL + 1] if len(row) > OPTIONS_COL + 1 else None
        if _blank(value):
            continue
        number = value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
        if number is None:
            try:
                number = float(_text(value))
            except ValueError:
                number = float("nan")
        if not (number == number and 0 < number < float("inf")):
            problems.append(
                Problem(
                    "error",
                    f"importance of {question} is {_text(value)!r}",
                    "Type a positive number (e.g. 1-5), or leave it blank to leave the question "
                    "out of the importance-performance table.",
                    sheet,
                    cell_address(r, OPTIONS_COL + 1),
                )
            )
            continue
        pairs.append((question, float(number)))
    return tuple(pairs), problems


def options_rows(options: Options) -> list[list[Any]]:
    """The Option/Value block as rows (for the template)."""
    return [
        ["Option", "Value"],
        ["Missing values", options.missing],
        ["High/Low split", options.high_low],
        ["ABC basis", options.abc_basis],
        ["ABC cut-off A", options.abc_cutoffs[0]],
        ["ABC cut-off B", options.abc_cutoffs[1]],
        ["Weights method", options.ahp_method],
        ["RI table", options.ri_table],
    ]


def settings_from_grids(
    indicators: Grid | None, judgments: Grid | None, strategies: Grid | None
) -> Settings:
    """Settings from the three settings sheets; a missing sheet falls back to the defaults.

    Problems found are kept in ``Settings.problems``; input that makes a run impossible
    (a hierarchy that cannot be read at all) raises :class:`InputError`.
    """
    problems: list[Problem] = []
    if indicators is None:
        hierarchy = default_hierarchy()
        options = Options()
        problems.append(
            Problem(
                "warning",
                "no Indicators sheet; the default hierarchy is used",
                "Add the sheet from the template to change it.",
                schema.INDICATORS,
                None,
            )
        )
    else:
        hierarchy, found = hierarchy_from_table(grid_to_frame(indicators), sheet=schema.INDICATORS)
        problems.extend(found)
        options, found = options_from_grid(indicators)
        problems.extend(found)
        importance, found = importance_from_grid(indicators)
        problems.extend(found)
        options = replace(options, importance=importance)
    if judgments is None:
        matrices = default_judgments() if hierarchy == default_hierarchy() else None
        if matrices is None:
            raise InputError(
                "no Judgments sheet",
                fix="Add the Judgments sheet from the template.",
                sheet=schema.JUDGMENTS,
            )
        problems.append(
            Problem(
                "warning",
                "no Judgments sheet; the default judgments are used",
                "Add the sheet from the template to change them.",
                schema.JUDGMENTS,
                None,
            )
        )
    else:
        matrices, found = judgments_from_grid(judgments, hierarchy)
        problems.extend(found)
        unusable = [p for p in found if p.severity == "error"]
        if unusable:
            # Weights are the foundation of every score: no run on judgments that cannot
            # be used. `check` lists these; `resegment` stops with them.
            raise InputError(unusable)
    if strategies is None:
        types = DEFAULT_TYPES
    else:
        types, found = strategies_from_table(grid_to_frame(strategies), sheet=schema.STRATEGIES)
        problems.extend(found)
    return Settings(
        hierarchy=hierarchy, judgments=matrices, types=types, options=options, problems=problems
    )
