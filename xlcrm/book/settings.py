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
from xlcrm.operations.clv import MODELS, LifetimeOptions
from xlcrm.pipeline import ABC_BASES, HIGH_LOW_METHODS, MAX_RUNS_KEPT, Options, Settings
from xlcrm.value.ahp import complete_matrix, parse_matrix
from xlcrm.value.hierarchy import (
    Hierarchy,
    default_hierarchy,
    default_judgments,
    hierarchy_from_table,
)
from xlcrm.value.scoring import MISSING_POLICIES
from xlcrm.value.strategies import default_types, strategies_from_table

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
    "Unrated above imputed share": "max_imputed",
    "Lifetime horizon (months)": "lifetime_horizon",
    "Lifetime margin": "lifetime_margin",
    "Discount rate": "lifetime_discount",
    "Lifetime model": "lifetime_model",
    "Lifetime penalty": "lifetime_penalty",
    "Orders source": "orders_source",
    "Orders table": "orders_table",
    "History runs kept": "history_runs",
}
# Text options, taken as typed: where the order history is (see xlcrm.sources.location).
OPTION_TEXTS = ("orders_source", "orders_table")
OPTION_CHOICES = {
    "missing": MISSING_POLICIES,
    "high_low": ("kmeans", "median"),
    "abc_basis": ABC_BASES,
    "ahp_method": ("eigen", "geometric"),
    "ri_table": ("saaty", "alonso-lamata"),
    "lifetime_model": MODELS,
}
# Numeric options: (lowest, highest, whole number?, what to type). Shares are 0 < x <= 1.
OPTION_NUMBERS = {
    "lifetime_horizon": (1, 120, True, "a whole number of months from 1 to 120, such as 12"),
    "lifetime_discount": (0, 0.99, False, "an annual rate from 0 to 0.99, such as 0.1 or 10%"),
    "lifetime_penalty": (0, 10, False, "a number from 0 to 10, such as 0.01"),
    "history_runs": (0, MAX_RUNS_KEPT, True,
                     f"a whole number of runs from 0 (keep none) to {MAX_RUNS_KEPT}, such as 24"),
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
    def title_cell(self) -> str:
        """The cell holding the block's title (column A, two rows above the matrix)."""
        return cell_address(self.top - 2, 0)

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


SYNC_FIX = (
    "Run `xlcrm sync-judgments BOOK` (or press CRM > Sync judgments) to rebuild the Judgments "
    "sheet from the Indicators sheet: judgments whose two names still exist are kept"
)


def _sync_fix(old: Sequence[str], new: Sequence[str]) -> str:
    """What to do about a block whose names differ; suggests ``--rename`` for a 1-to-1 swap."""
    gone = [i for i in old if i.casefold() not in {n.casefold() for n in new}]
    added = [i for i in new if i.casefold() not in {o.casefold() for o in old}]
    hint = ""
    if len(gone) == 1 and len(added) == 1:
        hint = f' (a rename keeps its judgments too: --rename "{gone[0]}={added[0]}")'
    return SYNC_FIX + hint + "."


def _name_difference(old: Sequence[str], new: Sequence[str]) -> str:
    """``"'Growth' is not on Indicators; 'Growth rate' has no judgments"`` for two name lists."""
    new_folded = {n.casefold() for n in new}
    old_folded = {o.casefold() for o in old}
    gone = [repr(i) for i in old if i.casefold() not in new_folded]
    added = [repr(i) for i in new if i.casefold() not in old_folded]
    parts = []
    if gone:
        parts.append(f"{', '.join(gone)} {'is' if len(gone) == 1 else 'are'} not on Indicators")
    if added:
        parts.append(f"{', '.join(added)} {'has' if len(added) == 1 else 'have'} no judgments")
    return "; ".join(parts) or "the names are repeated"


def _in_order(block: MatrixBlock, items: Sequence[str]) -> list[list[Any]] | None:
    """The block's judgments in the order of ``items`` (same names, any order), else None.

    An analyst who moves rows on Indicators changes no judgment: the matrix is permuted
    (a typed upper cell that lands below the diagonal keeps its value there, and
    :func:`~xlcrm.value.ahp.parse_matrix` takes it as typed).
    """
    position = {name.casefold(): k for k, name in enumerate(block.items)}
    if len(position) != len(block.items) or sorted(position) != sorted(
        i.casefold() for i in items
    ):
        return None
    order = [position[i.casefold()] for i in items]
    return [[block.values[a][b] for b in order] for a in order]


def judgments_from_grid(
    grid: Grid, hierarchy: Hierarchy, *, sheet: str = schema.JUDGMENTS
) -> tuple[dict[str, Any], list[Problem]]:
    """The judgment matrices for ``hierarchy`` from the Judgments sheet.

    Returns the matrices as typed (validated later by the AHP core) keyed ``"groups"`` and
    by group name, and problems. A level whose block is missing, or whose block compares
    other names than the Indicators sheet lists, is an **error** naming the block's cell and
    the names that differ: weighing it equally instead would give every customer a type
    the analyst never chose, and a run would look consistent. ``xlcrm sync-judgments``
    rebuilds the sheet and keeps every judgment whose two names still exist. The same names
    in another order are matched by name. Blank judgments are warned about (estimated by
    Harker's method).
    """
    blocks = find_matrix_blocks(grid)
    lowered = {k.casefold(): v for k, v in blocks.items()}
    problems: list[Problem] = []
    out: dict[str, Any] = {}
    levels = [("groups", "Groups", tuple(hierarchy.groups))] + [
        (g, g, tuple(i.name for i in hierarchy.by_group[g])) for g in hierarchy.groups
    ]
    titles = {title.casefold() for _, title, _ in levels}
    orphans = [b for k, b in blocks.items() if k.casefold() not in titles]
    for key, title, items in levels:
        if len(items) == 1:
            out[key] = None
            continue
        block = lowered.get(title.casefold())
        if block is None:
            spare = "".join(
                f"; the block {b.level!r} at {sheet}!{b.title_cell} matches no group"
                for b in orphans
            )
            problems.append(
                Problem(
                    "error",
                    f"no judgments block titled {title!r} for "
                    f"{'the groups' if key == 'groups' else 'the indicators of ' + title}"
                    f" ({', '.join(items)}){spare}",
                    _sync_fix(orphans[0].items if len(orphans) == 1 else (), items)
                    if key != "groups" else SYNC_FIX + ".",
                    sheet,
                    None,
                )
            )
            out[key] = None
            continue
        values = _in_order(block, items)
        if values is None:
            problems.append(
                Problem(
                    "error",
                    f"the {title} judgments block at {sheet}!{block.title_cell} compares "
                    f"{', '.join(block.items)} but the Indicators sheet has {', '.join(items)}: "
                    f"{_name_difference(block.items, items)}",
                    _sync_fix(block.items, items),
                    sheet,
                    block.title_cell,
                )
            )
            out[key] = None
            continue
        try:
            parse_matrix(block.values)  # as laid out, so that problems land on their cells
        except InputError as exc:
            problems.extend(locate_matrix_problems(exc, block, sheet))
        else:
            problems.extend(_blank_judgments(block, sheet))
            problems.extend(_unconnected(block, sheet))
        out[key] = values
    return out, problems


def _unconnected(block: MatrixBlock, sheet: str) -> list[Problem]:
    """An error when blank judgments leave items that nothing links (no weight possible),
    naming the items and a cell that would link them (e.g. an indicator just added)."""
    try:
        complete_matrix(block.values)
    except InputError as exc:
        p = exc.problems[0]
        names = re.sub(
            r"\{([\d, ]+)\}",
            lambda m: "{" + ", ".join(block.items[int(k) - 1] for k in m.group(1).split(",")) + "}",
            p.message,
        )
        m = _MATRIX_CELL.search(p.fix)
        cell = (cell_address(block.top + int(m.group(1)) - 1, block.left + int(m.group(2)) - 1)
                if m else block.ref)
        return [Problem(
            "error", f"{block.level}: {names}",
            f"Type at least one judgment linking them, e.g. in {sheet}!{cell}, or give every "
            "new pair a default with `xlcrm sync-judgments BOOK --default 1`.",
            sheet, cell,
        )]
    return []


def _blank_judgments(block: MatrixBlock, sheet: str) -> list[Problem]:
    """A warning for each pair left blank on both sides (Harker's method estimates it)."""
    out = []
    for i in range(len(block.items)):
        for j in range(i + 1, len(block.items)):
            if _blank(block.values[i][j]) and _blank(block.values[j][i]):
                out.append(
                    Problem(
                        "warning",
                        f"{block.level}: {block.items[i]} vs {block.items[j]} has no judgment; "
                        "it is estimated from the others (Harker's method)",
                        "Type your judgment on Saaty's scale (1/9 ... 9) in the yellow cell.",
                        sheet,
                        cell_address(block.top + i, block.left + j),
                    )
                )
    return out


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
        if key in OPTION_TEXTS:
            values[key] = _text(value)
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
            low, high, whole, what = OPTION_NUMBERS.get(
                key, (0, 1, False, "a share between 0 and 1, such as 0.8 or 80%")
            )
            shares = key not in OPTION_NUMBERS  # a share of nothing means nothing: 0 < x
            if not ((low < number if shares else low <= number) and number <= high) or (
                whole and number != int(number)
            ):
                problems.append(
                    Problem("error", f"{label} is {_text(value)!r}",
                            f"Type {what}. The default is used.", sheet, where)
                )  # fmt: skip
                continue
            values[key] = int(number) if whole else number
    cutoffs = (values.pop("abc_a", 0.80), values.pop("abc_b", 0.95))  # the rest are keywords
    if not cutoffs[0] <= cutoffs[1]:
        problems.append(
            Problem(
                "error",
                f"ABC cut-off A ({cutoffs[0]}) must not be above cut-off B ({cutoffs[1]})",
                "Fix the two cut-offs (B equal to A: no class B); the defaults 0.80 and 0.95 "
                "are used.",
                sheet,
                None,
            )
        )
        cutoffs = (0.80, 0.95)
    lifetime = LifetimeOptions(
        **{field: values.pop(key) for key, field in _LIFETIME_FIELDS.items() if key in values}
    )
    return Options(abc_cutoffs=cutoffs, lifetime=lifetime, **values), problems


_LIFETIME_FIELDS = {
    "lifetime_horizon": "horizon_months",
    "lifetime_margin": "margin",
    "lifetime_discount": "discount_rate",
    "lifetime_model": "model",
    "lifetime_penalty": "penalty",
}


IMPORTANCE_HEADER = ("Survey question", "Importance", "Wording")
"""Header of the importance block on the Indicators sheet, in the options' columns."""


def _labelled_rows(
    grid: Grid, labels: set[str], value_label: str
) -> list[tuple[int, str, Any]] | None:
    """``(row, name, value)`` of a two-column block in the options' columns of Indicators.

    The block starts below a header whose first cell is one of ``labels`` and second
    ``value_label`` (ignoring case) and ends at the first row without a name; ``None``
    when there is no such header.
    """
    folded = {label.casefold() for label in labels}
    start = next(
        (
            r for r, row in enumerate(grid)
            if len(row) > OPTIONS_COL + 1
            and _text(row[OPTIONS_COL]).casefold() in folded
            and _text(row[OPTIONS_COL + 1]).casefold() == value_label.casefold()
        ),
        None,
    )  # fmt: skip
    if start is None:
        return None
    out = []
    for r in range(start + 1, len(grid)):
        row = grid[r]
        name = _text(row[OPTIONS_COL]) if len(row) > OPTIONS_COL else ""
        if not name:
            break
        out.append((r, name, row[OPTIONS_COL + 1] if len(row) > OPTIONS_COL + 1 else None))
    return out


def importance_from_grid(
    grid: Grid, *, sheet: str = schema.INDICATORS
) -> tuple[tuple[tuple[str, float], ...], list[Problem]]:
    """Survey question -> importance, from the block headed ``Survey question | Importance``.

    The block sits in the options' columns of the Indicators sheet, below the options; it
    ends at the first row without a question. A question with a blank importance is left
    out of the importance-performance table; one with an importance that is not a positive
    number is reported.
    """
    rows = _labelled_rows(grid, {IMPORTANCE_HEADER[0]}, IMPORTANCE_HEADER[1])
    if rows is None:
        return (), []
    pairs: list[tuple[str, float]] = []
    problems: list[Problem] = []
    for r, question, value in rows:
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
        ["Unrated above imputed share", options.max_imputed],
        ["Lifetime horizon (months)", options.lifetime.horizon_months],
        ["Lifetime margin", options.lifetime.margin],
        ["Discount rate", options.lifetime.discount_rate],
        ["Lifetime model", options.lifetime.model],
        ["Lifetime penalty", options.lifetime.penalty],
        # Blank: the Transactions sheet (see xlcrm.sources.location for what may go here).
        ["Orders source", options.orders_source or None],
        ["Orders table", options.orders_table or None],
        ["History runs kept", options.history_runs],
    ]


def settings_from_grids(
    indicators: Grid | None,
    judgments: Grid | None,
    strategies: Grid | None,
    raters: dict[str, Grid] | None = None,
) -> Settings:
    """Settings from the three settings sheets; a missing sheet falls back to the defaults.

    ``raters`` holds the grid of every rater sheet (the Judgments sheet and each
    "Judgments <rater>" sheet, see :func:`xlcrm.schema.rater_sheets`); with two or more the
    run aggregates them (:func:`raters_from_grids`).

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
    if judgments is None and raters and len(raters) > 1:
        matrices = {}  # the rater sheets carry every judgment (the first one was renamed)
    elif judgments is None:
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
        if any(p.severity == "error" for p in found):
            # Weights are the foundation of every score: no run on judgments that cannot
            # be used. `check` lists these (errors first, with the sheet's warnings, such as
            # the blank pairs a sync left); `resegment` stops with the first.
            raise InputError(sorted(found, key=lambda p: p.severity != "error"))
    rater_judgments, rater_weights, found = raters_from_grids(dict(raters or {}), hierarchy,
                                                              indicators)
    if rater_judgments:
        found = [p for p in found if p.sheet != schema.JUDGMENTS]  # read above already
        problems.extend(found)
        if any(p.severity == "error" for p in found):
            raise InputError(sorted(found, key=lambda p: p.severity != "error"))
    if strategies is None:
        types = default_types(len(hierarchy.groups))
    else:
        types, found = strategies_from_table(grid_to_frame(strategies), sheet=schema.STRATEGIES,
                                             groups=len(hierarchy.groups))
        problems.extend(found)
    return Settings(
        hierarchy=hierarchy, judgments=matrices, types=types, options=options, problems=problems,
        raters=rater_judgments, rater_weights=rater_weights,
    )


RATER_HEADER = ("Rater sheet", "Weight")
"""Header of the rater weights block on the Indicators sheet, in the options' columns."""


def rater_weights_from_grid(
    grid: Grid, sheets: Sequence[str], *, sheet: str = schema.INDICATORS
) -> tuple[dict[str, float], list[Problem]]:
    """Rater sheet -> weight, from the block headed ``Rater sheet | Weight`` on Indicators.

    Optional: a rater sheet the block does not list weighs 1, so raters count equally
    until the analyst says otherwise. The header may also read ``Rater | Weight``, and a
    rater may be named by the sheet ("Judgments Anna") or by the name after "Judgments "
    ("Anna"): the spellings an analyst reaches for first, so none is ignored silently.
    A listed name that is no rater sheet, or a weight that is not a positive number, is an
    error naming the cell (a weight silently dropped would change the aggregate without
    anyone seeing it).
    """
    rows = _labelled_rows(grid, {RATER_HEADER[0], "Rater"}, RATER_HEADER[1])
    weights = {s: 1.0 for s in sheets}
    if rows is None:
        return weights, []
    prefix = schema.RATER_SHEET_PREFIX.casefold()
    known = {s.casefold(): s for s in sheets}
    known.update({s.casefold().removeprefix(prefix).strip(): s for s in sheets
                  if s.casefold().startswith(prefix)})
    problems: list[Problem] = []
    for r, name, value in rows:
        if name.casefold() not in known:
            problems.append(Problem(
                "error", f"rater sheet {name!r} is listed but the workbook has no such sheet",
                f"Name a sheet from: {', '.join(sheets)}; a rater's sheet is a copy of "
                "Judgments named \"Judgments <rater>\".", sheet, cell_address(r, OPTIONS_COL)))
            continue
        try:
            number = float(_text(value)) if not _blank(value) else 1.0
        except ValueError:
            number = float("nan")
        if not (number == number and 0 < number < float("inf")):
            problems.append(Problem(
                "error", f"weight of rater sheet {name} is {_text(value)!r}",
                "Type a positive number (1 for an equal say); the rater weighs 1 meanwhile.",
                sheet, cell_address(r, OPTIONS_COL + 1)))
            continue
        weights[known[name.casefold()]] = number
    return weights, problems


def raters_from_grids(
    grids: dict[str, Grid], hierarchy: Any, indicators: Grid | None
) -> tuple[dict[str, dict[str, Any]], dict[str, float], list[Problem]]:
    """Each rater sheet's judgments and weight; empty when there is only one rater.

    Every sheet is read as the Judgments sheet is (same blocks, same checks), its problems
    naming that sheet.
    """
    if len(grids) < 2:
        return {}, {}, []
    problems: list[Problem] = []
    raters: dict[str, dict[str, Any]] = {}
    for name, grid in grids.items():
        matrices, found = judgments_from_grid(grid, hierarchy, sheet=name)
        problems.extend(found)
        raters[name] = matrices
    weights, found = rater_weights_from_grid(indicators or [], list(grids))
    problems.extend(found)
    return raters, weights, problems
