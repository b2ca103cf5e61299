"""Result sheets as plain rows: what ``Scores``, ``Segments``, ``Dashboard`` and ``Problems`` show.

Pure functions from :class:`xlcrm.pipeline.Results` to lists of rows (Python values),
so that the file writer and the xlwings writer put exactly the same cells on the sheet.
The Dashboard layout is fixed here because the template's charts point at its cells.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from xlcrm import schema
from xlcrm.errors import SEVERITY_ORDER, Problem, column_letter
from xlcrm.formula import Formula, internal_link  # noqa: F401 (re-exported)
from xlcrm.operations.breakdown import BREAKDOWN_COLUMNS, breakdown
from xlcrm.operations.clv import LIFETIME_BY_COLUMNS
from xlcrm.operations.kpis import KPI_NAMES, kpi_columns
from xlcrm.operations.step import ACTIVITY_COLUMNS
from xlcrm.pipeline import ABC_SUMMARY_COLUMNS, TYPE_SUMMARY_COLUMNS
from xlcrm.value.segments import VALIDATION_COLUMNS

Row = list[Any]


@dataclass(frozen=True)
class Block:
    """A rectangle of values whose top-left cell is ``anchor`` (0-based row, column)."""

    anchor: tuple[int, int]
    rows: list[Row]


# Dashboard layout (0-based rows/columns). The template's charts refer to these cells.
DASH_STAMP = (1, 0)
DASH_NOTES = (2, 0)
DASH_TYPES_TITLE = (4, 0)
DASH_TYPES_HEADER = (5, 0)
DASH_TYPES_COLUMNS = TYPE_SUMMARY_COLUMNS
N_TYPES = 8
DASH_ABC_TITLE = (15, 0)
DASH_ABC_HEADER = (16, 0)
DASH_ABC_COLUMNS = ABC_SUMMARY_COLUMNS
DASH_CR_TITLE = (21, 0)
DASH_CR_HEADER = (22, 0)
DASH_CR_COLUMNS = ("Level", "n", "LambdaMax", "CI", "RI", "CR", "Consistent")
MAX_GROUPS = 9
DASH_TEST_TITLE = (34, 0)
DASH_TEST_HEADER = (35, 0)
# Right of the widest table (the KPIs, columns A..M); the charts float right of it.
DASH_PARETO_TITLE = (4, 14)
DASH_PARETO_HEADER = (5, 14)
DASH_PARETO_COLUMNS = ("CustomerShare", "ValueShare")
PARETO_POINTS = 101
DASH_KPI_TITLE = (50, 0)
DASH_KPI_HEADER = (51, 0)
DASH_KPI_ROWS = {name: DASH_KPI_HEADER[0] + 1 + i for i, name in enumerate(KPI_NAMES)}
"""KPI name -> its 0-based Dashboard row (the KPI table always lists every KPI, in order)."""
DASH_KPI_COLUMNS = ("KPI", *kpi_columns())
DASH_RISK_TITLE = (68, 0)
DASH_RISK_HEADER = (69, 0)
AT_RISK_SHOWN = 25
# Name in column C, the wide one (column B holds the narrow type codes above).
DASH_RISK_COLUMNS = ("CustomerID", "Value", "Name", "ChurnRisk", "ValueAtRisk", "ChurnReason")
DASH_TEST_COLUMNS = VALIDATION_COLUMNS
DASH_OVERDUE_TITLE = (97, 0)
DASH_OVERDUE_HEADER = (98, 0)
DASH_OVERDUE_COLUMNS = (
    "CustomerID", "Value", "Name", "NextContactDue", "DaysOverdue", "LastContact",
    "OpenComplaints",
)
OVERDUE_SHOWN = 25
DASH_SURVEY_TITLE = (125, 0)
DASH_SURVEY_ROWS = (126, 0)
SURVEY_FIGURES = (
    "Questionnaires used",
    "Satisfaction index (0-100)",
    "Cronbach's alpha",
    "Questionnaires complete (for alpha)",
)
DASH_IPA_TITLE = (131, 0)
DASH_IPA_HEADER = (132, 0)
DASH_IPA_COLUMNS = ("Question", "Importance", "Performance", "PerformanceIndex", "Quadrant")
MAX_QUESTIONS = 40
DASH_CLV_TITLE = (176, 0)
DASH_CLV_ROWS = (177, 0)
CLV_FIGURES = ("Model", "Customers used", "Order parameters", "Spend parameters",
               "Horizon and money", "Status", "Total CLV")  # fmt: skip
DASH_CLV_HEADER = (185, 0)
DASH_CLV_COLUMNS = LIFETIME_BY_COLUMNS
# Judgments under review (sheet rows 200-219, reserved for raters and repairs).
DASH_RATERS_TITLE = (199, 0)
DASH_RATERS_HEADER = (200, 0)  # then one row per level: at most MAX_GROUPS + 1
DASH_REPAIRS_TITLE = (212, 0)
DASH_REPAIRS_HEADER = (213, 0)
REPAIRS_SHOWN = 5  # rows 215-219
# Per account manager, industry and region (sheet rows 325-399): title, header, then at most
# *_SHOWN rows each (the rest added up in one "Other (n)" row).
DASH_BREAKDOWN_COLUMNS = BREAKDOWN_COLUMNS
DASH_MANAGER_TITLE = (324, 0)
DASH_MANAGER_HEADER = (325, 0)
MANAGERS_SHOWN = 30
DASH_INDUSTRY_TITLE = (357, 0)
DASH_INDUSTRY_HEADER = (358, 0)
INDUSTRIES_SHOWN = 15
DASH_REGION_TITLE = (375, 0)
DASH_REGION_HEADER = (376, 0)
REGIONS_SHOWN = 15
DASH_BREAKDOWNS = (
    # column, block title, title cell, header cell, rows shown
    (schema.ACCOUNT_MANAGER, "By account manager", DASH_MANAGER_TITLE, DASH_MANAGER_HEADER,
     MANAGERS_SHOWN),
    ("Industry", "By industry", DASH_INDUSTRY_TITLE, DASH_INDUSTRY_HEADER, INDUSTRIES_SHOWN),
    ("Region", "By region", DASH_REGION_TITLE, DASH_REGION_HEADER, REGIONS_SHOWN),
)
# Migration since the previous run (sheet rows 270-309): the type matrix at A, the class
# matrix right of it, the customers who moved down below.
DASH_MOVES_TITLE = (269, 0)
DASH_MOVES_TYPES = (270, 0)
DASH_MOVES_CLASSES = (270, 13)
MATRIX_CELLS = 11
"""Rows and columns of counts a matrix shows (8 types, Unrated, New or Gone, one spare)."""
DASH_DOWN_TITLE = (282, 0)
DASH_DOWN_HEADER = (283, 0)
DASH_DOWN_COLUMNS = ("CustomerID", "Value", "Name", "PreviousTypeName", "TypeName",
                     "PreviousABC", "ABC")
MOVED_DOWN_SHOWN = 25


def a1(row: int, col: int, *, absolute: bool = True) -> str:
    """A1 reference for 0-based ``row``/``col`` (``$A$1`` when ``absolute``)."""
    d = "$" if absolute else ""
    return f"{d}{column_letter(col)}{d}{row + 1}"


def clean(value: Any) -> Any:
    """A value a sheet can hold: NaN/NaT/inf become blank, numpy scalars plain Python."""
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value


def frame_rows(frame: pd.DataFrame, *, header: bool = True) -> list[Row]:
    """DataFrame to a header row and value rows of plain Python values."""
    rows: list[Row] = [list(map(str, frame.columns))] if header else []
    rows.extend([clean(v) for v in rec] for rec in frame.itertuples(index=False, name=None))
    return rows


def _first_cell(cell: str) -> str:
    """The cell a link should go to: ``B5:D7`` -> ``B5``; ``G:G`` -> ``G1``; ``1:1`` -> ``A1``."""
    first = cell.split(":")[0]
    if first.isalpha():
        return f"{first}1"
    if first.isdigit():
        return f"A{first}"
    return first


def problems_rows(problems: Sequence[Problem]) -> list[Row]:
    """The ``Problems`` sheet: errors, then warnings, then notes, each with where and what to
    do."""
    order = sorted(problems, key=lambda p: SEVERITY_ORDER[p.severity])
    rows: list[Row] = [list(schema.PROBLEMS_COLUMNS)]
    rows.extend(
        [
            p.severity,
            p.sheet or "",
            # A click on the cell address takes the analyst to the bad cell.
            internal_link(p.sheet, _first_cell(p.cell), p.cell) if p.sheet and p.cell else
            (p.cell or ""),
            p.message,
            p.fix,
        ]
        for p in order
    )
    return rows


def problems_sheet(problems: Sequence[Problem], stamp: Any) -> list[Row]:
    """The whole ``Problems`` sheet: :func:`problems_rows` and when they were checked."""
    return problems_rows(problems) + [[], [f"Checked {stamp:%Y-%m-%d %H:%M}"]]


def _summary_rows(frame: pd.DataFrame, columns: Sequence[str]) -> list[Row]:
    return [[clean(frame.iloc[i].get(c)) for c in columns] for i in range(len(frame))]


def type_rows(summary: pd.DataFrame) -> list[Row]:
    """The Dashboard's rows of the type summary: at most :data:`N_TYPES`, in its formats.

    Only types that customers have are in ``summary``. When there are more rows than the
    Dashboard's formatted (and charted) rows, as four or more groups allow, the largest
    types are shown in number order and the rest are added up in one ``Other types`` row;
    the Segments sheet has every customer's type.
    """
    rows = _summary_rows(summary, DASH_TYPES_COLUMNS)
    if len(rows) <= N_TYPES:
        return rows
    counts = summary["Customers"].to_numpy()
    keep = np.sort(np.argsort(-counts, kind="stable")[: N_TYPES - 1])
    rest = summary.drop(index=summary.index[keep])
    customers, value = int(rest["Customers"].sum()), float(rest["Value"].sum())
    other = {
        "Name": f"Other types ({len(rest)})",
        "Customers": customers,
        "CustomerShare": float(rest["CustomerShare"].sum()),
        "Value": value,
        "ValueShare": float(rest["ValueShare"].sum()),
        "MeanValue": value / customers if customers else None,
        "Strategy": "Each type's strategy is on the Segments and Strategies sheets",
    }
    return [rows[k] for k in keep] + [[clean(other.get(c)) for c in DASH_TYPES_COLUMNS]]


def dashboard_blocks(results: Any, *, source: str = "") -> list[Block]:
    """The ``Dashboard`` sheet as blocks at the fixed layout positions.

    Parameters
    ----------
    results : xlcrm.pipeline.Results
    source : str
        Name of the workbook the results were computed from (shown in the stamp line).
    """
    blocks = [
        Block((0, 0), [["Customer value dashboard"]]),
        Block(
            DASH_STAMP,
            [
                [
                    f"Computed {results.stamp:%Y-%m-%d %H:%M} by xlcrm"
                    f" from {source or 'this workbook'}"
                    f" · {results.customers} customers"
                    + (f" · as of {results.as_of:%Y-%m-%d}"
                       if results.as_of and results.as_of != results.stamp.date() else "")
                ]
            ],
        ),
    ]
    notes = [p for p in results.problems
             if schema.rater_sheets([p.sheet or ""]) and p.severity == "warning"]
    errors = len(results.errors)
    note = [results.scope] if results.scope else []
    if notes:
        note.append("Warning: " + "; ".join(p.message for p in notes) + ".")
    if errors:
        note.append(f"{errors} input error(s): see the Problems sheet.")
    if not note:
        note.append("No input problems.")
    if results.derived:
        computed = ", ".join(f"{c} from {src}" for c, src in results.derived.items())
        note.append(f"Indicator columns computed from the ledger: {computed}.")
    unrated = 0 if results.unrated is None else int(results.unrated.sum())
    if unrated:
        note.append(f"{unrated} customers are Unrated (too many indicators imputed): see the "
                    "Segments sheet.")
    blocks.append(Block(DASH_NOTES, [[" ".join(note)]]))

    groups = ", ".join(map(str, results.segments.high.columns))
    blocks.append(Block(DASH_TYPES_TITLE, [[f"By customer type ({groups})"]]))
    blocks.append(
        Block(DASH_TYPES_HEADER, [list(DASH_TYPES_COLUMNS)] + type_rows(results.summary_by_type))
    )
    blocks.append(Block(DASH_ABC_TITLE, [["By ABC class (Pareto)"]]))
    blocks.append(
        Block(
            DASH_ABC_HEADER,
            [list(DASH_ABC_COLUMNS)] + _summary_rows(results.summary_by_abc, DASH_ABC_COLUMNS),
        )
    )
    blocks.append(
        Block(
            DASH_CR_TITLE,
            [
                [
                    "Consistency of judgments (CR < 0.10 is acceptable; "
                    f"RI table: {results.weights.group.ri_table_name})"
                ]
            ],
        )
    )
    cr = results.weights.consistency_table()
    blocks.append(Block(DASH_CR_HEADER, frame_rows(cr[list(DASH_CR_COLUMNS)])))
    blocks.append(Block(DASH_TEST_TITLE, [["Do the segments differ? (p < 0.05: yes)"]]))
    blocks.append(Block(DASH_TEST_HEADER, frame_rows(results.validation[list(DASH_TEST_COLUMNS)])))
    ops = results.operations
    if ops is not None:
        blocks.append(Block(DASH_KPI_TITLE, [["KPIs (last 12 months), overall, per type and per"
                                              " ABC class"]]))
        blocks.append(Block(DASH_KPI_HEADER, frame_rows(ops.kpis.reset_index())))
        by = ("value at risk, CLV x (1 - P(alive))" if results.lifetime is not None
              and results.lifetime.purchases.usable and results.lifetime.spend.usable
              else "value")  # fmt: skip
        blocks.append(Block(DASH_RISK_TITLE, [[f"Customers at risk of churning, by {by} (top "
                                               f"{AT_RISK_SHOWN}; all on the Activity sheet)"]]))
        at_risk = ops.at_risk[list(DASH_RISK_COLUMNS)].head(AT_RISK_SHOWN)
        blocks.append(Block(DASH_RISK_HEADER, frame_rows(at_risk)))
        blocks.append(Block(DASH_OVERDUE_TITLE, [[
            f"Contacts overdue, by value (top {OVERDUE_SHOWN}; all on the Activity sheet)"]]))
        overdue = ops.overdue[list(DASH_OVERDUE_COLUMNS)].head(OVERDUE_SHOWN)
        blocks.append(Block(DASH_OVERDUE_HEADER, frame_rows(overdue)))
        blocks.extend(_survey_blocks(ops))
        blocks.extend(_lifetime_blocks(results.lifetime, ops))
    blocks.extend(_judgment_blocks(results))
    blocks.extend(breakdown_blocks(results))
    blocks.extend(migration_blocks(results))
    blocks.append(Block(DASH_PARETO_TITLE, [["Pareto curve"]]))
    blocks.append(Block(DASH_PARETO_HEADER, frame_rows(results.pareto[list(DASH_PARETO_COLUMNS)])))
    return blocks


def _judgment_blocks(results: Any) -> list[Block]:
    """Raters (each one's CR, the aggregate, the consensus) and the suggested repairs.

    The repairs are here rather than beside the blocks on Judgments: a run never writes
    into a settings sheet, whose cells are the analyst's (a copied or re-synced block would
    overwrite or be overwritten by them).
    """
    raters = results.raters
    if raters is None:
        blocks = [Block(DASH_RATERS_TITLE, [[
            "Raters: one (the Judgments sheet). For several, copy it as \"Judgments <name>\" "
            "per rater: the run combines them (see the guide)"]])]
    else:
        blocks = [
            Block(DASH_RATERS_TITLE, [[
                f"Raters: {sum(c.startswith('CR ') for c in raters.columns) - 1} sheets "
                "combined by the weighted geometric "
                "mean of their judgments; consensus (AHP-OS, Goepel): low < 65 %, moderate "
                "65-75 %, high from 75 %"]]),
            Block(DASH_RATERS_HEADER, frame_rows(raters)),
        ]
    repairs = results.repairs
    if repairs is None or repairs.empty:
        blocks.append(Block(DASH_REPAIRS_TITLE, [[
            "Repairs: none needed (every matrix typed has CR < 0.10)"]]))
        return blocks
    more = len(repairs) - REPAIRS_SHOWN
    blocks.append(Block(DASH_REPAIRS_TITLE, [[
        "Repairs: the worst judgment of each inconsistent matrix, the value the other "
        "judgments imply, and the CR after that one change"
        + (f" ({more} more: =AHP_REPAIR on the sheet)" if more > 0 else "")]]))
    blocks.append(Block(DASH_REPAIRS_HEADER, frame_rows(repairs.head(REPAIRS_SHOWN))))
    return blocks


def per_customer(results: Any) -> pd.DataFrame:
    """One row per analysed customer: what the breakdowns count (Segments' AccountManager,
    Industry, Region, ABC and Move; the value score; the 12-month revenue scored; Activity's
    churn risk and overdue flag)."""
    seg = results.segments_table
    frame = pd.DataFrame({c: seg[c] for c in (*schema.BREAKDOWN_COLUMNS, "ABC", "Move")
                          if c in seg.columns})
    frame["Value"] = results.scores_table["Value"].to_numpy()
    scored = results.scored
    if scored is not None and "Revenue12m" in scored.columns:
        frame["Revenue12m"] = pd.to_numeric(scored["Revenue12m"], errors="coerce").to_numpy()
    if results.operations is not None:
        activity = results.operations.activity
        for column in ("ChurnRisk", "Overdue"):
            frame[column] = activity[column].to_numpy()
        if "Revenue12m" not in frame:
            frame["Revenue12m"] = activity["Revenue12m"].to_numpy()
    return frame


def breakdown_blocks(results: Any) -> list[Block]:
    """Per account manager, industry and region: customers, revenue, value, A/B/C, at risk,
    overdue and moved down (:func:`xlcrm.operations.breakdown.breakdown`)."""
    frame = per_customer(results)
    moved = "" if "Move" in frame else "; MovedDown is blank until the workbook keeps a History"
    blocks = []
    for column, title, title_at, header_at, shown in DASH_BREAKDOWNS:
        values = frame.get(column)
        if values is None or values.isna().all() or (values.astype("string").str.strip()
                                                      .fillna("") == "").all():
            blocks.append(Block(title_at, [[f"{title}: the {schema.CUSTOMERS} sheet has no "
                                            f"{column} column (or it is empty)"]]))
            continue
        table = breakdown(frame, column, shown=shown)
        blocks.append(Block(title_at, [[f"{title} ({column} on {schema.CUSTOMERS}{moved})"]]))
        blocks.append(Block(header_at, frame_rows(table)))
    return blocks


def _survey_blocks(ops: Any) -> list[Block]:
    """Survey figures and the importance-performance table (Martilla & James)."""
    survey = ops.survey
    if survey is None or not survey.responses:
        return [Block(DASH_SURVEY_TITLE, [["Survey: no questionnaires in the ledger"]])]
    figures = (survey.responses, survey.overall_index, survey.alpha, survey.alpha_responses)
    blocks = [
        Block(DASH_SURVEY_TITLE, [[f"Survey ({len(survey.questions)} questions)"]]),
        Block(DASH_SURVEY_ROWS, [[label, None, None, clean(v)] for label, v in
                                 zip(SURVEY_FIGURES, figures, strict=True)]),
    ]
    ipa = ops.importance_performance
    if ipa is None:
        title = ("Importance-performance: give each question an importance on the "
                 f"{schema.INDICATORS} sheet (Survey question / Importance)")
        return [*blocks, Block(DASH_IPA_TITLE, [[title]])]
    title = "Importance-performance (split at the mean importance and the mean performance)"
    return [
        *blocks,
        Block(DASH_IPA_TITLE, [[title]]),
        Block(DASH_IPA_HEADER, frame_rows(ipa[list(DASH_IPA_COLUMNS)].head(MAX_QUESTIONS))),
    ]


def _lifetime_blocks(lifetime: Any, ops: Any) -> list[Block]:
    """The lifetime-value model in words and figures, and CLV per class and type."""
    if lifetime is None:
        return [Block(DASH_CLV_TITLE, [["Lifetime value: no orders in the ledger"]])]
    buy, spend = lifetime.purchases, lifetime.spend
    name = {"bg": "BG/NBD (Fader, Hardie & Lee 2005)",
            "mbg": "MBG/NBD (Batislam et al. 2007)"}[buy.model]  # fmt: skip
    order_params = (f"r {buy.r:.3g}, alpha {buy.alpha:.3g} weeks, a {buy.a:.3g}, b {buy.b:.3g}"
                    if buy.usable else "")  # fmt: skip
    spend_params = (f"p {spend.p:.3g}, q {spend.q:.3g}, gamma {spend.gamma:,.0f}"
                    if spend.usable else "")  # fmt: skip
    problems = "; ".join(m for m in (buy.message, spend.message) if m)
    total = ops.activity["CLV"].sum(min_count=1)
    figures = (
        f"{name}, spend by Gamma-Gamma (Fader & Hardie 2013)",
        f"{buy.customers} with orders, {buy.repeat_customers} ordered more than once",
        order_params,
        spend_params,
        f"next {lifetime.horizon_months} months, discounted; margin from GrossProfit where"
        " known",
        problems or "fitted: PAlive, ExpectedOrders and CLV are on the Activity sheet",
        clean(total),
    )
    blocks = [
        Block(DASH_CLV_TITLE, [["Lifetime value (CLV) and the chance each customer still buys"]]),
        # values in the wide column C, where text runs on into the empty cells to its right
        Block(DASH_CLV_ROWS, [[label, None, value]
                              for label, value in zip(CLV_FIGURES, figures, strict=True)]),
    ]
    if ops.lifetime_by_segment is not None:
        blocks.append(Block(DASH_CLV_HEADER, frame_rows(ops.lifetime_by_segment)))
    return blocks


def _capped(matrix: pd.DataFrame, cells: int = MATRIX_CELLS) -> pd.DataFrame:
    """At most ``cells`` rows and columns: beyond them the smallest types are summed in one
    ``Other types`` row or column (the Segments sheet has each customer)."""
    fixed = ("Unrated", "New", "Gone")
    for axis in (0, 1):
        labels = list(matrix.index if axis == 0 else matrix.columns)
        if len(labels) <= cells:
            continue
        kinds = [lbl for lbl in labels if lbl not in fixed]
        totals = matrix.sum(axis=1 - axis)
        room = cells - 1 - (len(labels) - len(kinds))
        kept = set(sorted(kinds, key=lambda lbl: -totals[lbl])[:room])
        other = [lbl for lbl in kinds if lbl not in kept]
        summed = matrix.loc[other].sum() if axis == 0 else matrix[other].sum(axis=1)
        matrix = matrix.drop(index=other) if axis == 0 else matrix.drop(columns=other)
        if axis == 0:
            matrix.loc["Other types"] = summed
            order = [lbl for lbl in matrix.index if lbl not in fixed] + \
                [lbl for lbl in matrix.index if lbl in fixed]
            matrix = matrix.loc[order]
        else:
            matrix["Other types"] = summed
            order = [lbl for lbl in matrix.columns if lbl not in fixed] + \
                [lbl for lbl in matrix.columns if lbl in fixed]
            matrix = matrix[order]
    return matrix


def _matrix_rows(matrix: pd.DataFrame, corner: str) -> list[Row]:
    rows: list[Row] = [[corner, *map(str, matrix.columns)]]
    rows.extend([str(label), *(int(v) for v in matrix.loc[label])] for label in matrix.index)
    return rows


def moved_down(results: Any, limit: int = MOVED_DOWN_SHOWN) -> pd.DataFrame:
    """The customers whose type or class went down since the previous run, most valuable
    first (:data:`DASH_DOWN_COLUMNS`)."""
    seg = results.segments_table
    down = (seg["Move"] == "down").to_numpy()
    names = {t.number: t.name for t in results.types}
    prev = seg["PreviousType"][down]
    frame = pd.DataFrame({
        "CustomerID": seg[schema.CUSTOMER_ID][down].to_numpy(dtype=object),
        # one decimal, as the template formats it: the style of a cell the first run left
        # blank is not carried to later runs, so the value must read well unformatted too
        "Value": np.round(results.scores_table["Value"][down].to_numpy(dtype=float), 1),
        "Name": seg[schema.CUSTOMER_NAME][down].to_numpy(dtype=object),
        "PreviousTypeName": [None if v is pd.NA else names.get(int(v), f"Type {v}")
                             for v in prev],
        "TypeName": seg["TypeName"][down].to_numpy(dtype=object),
        "PreviousABC": seg["PreviousABC"][down].to_numpy(dtype=object),
        "ABC": seg["ABC"][down].to_numpy(dtype=object),
    })
    # ranked by the value itself, shown to one decimal
    order = np.argsort(-results.scores_table["Value"][down].to_numpy(dtype=float),
                       kind="stable")
    return frame.iloc[order].head(limit)


def migration_blocks(results: Any) -> list[Block]:
    """Migration since the previous run: type and class matrices, the moved-down list."""
    mig = getattr(results, "migration", None)
    if mig is None:
        return []
    previous = mig.previous
    if previous is None:
        return [Block(DASH_MOVES_TITLE, [[
            f"Migration: no earlier run in {schema.HISTORY} before "
            f"{results.as_of:%Y-%m-%d}; this run is recorded, and the next run on a later day "
            "shows who moved (xlcrm backfill makes past runs from the order history)"]])]
    c = mig.counts
    title = (f"Migration since the run as of {previous.as_of:%Y-%m-%d} (computed "
             f"{previous.stamp:%Y-%m-%d %H:%M}): {c['up']} moved up, {c['down']} down, "
             f"{c['same']} same, {c['new']} new, {mig.gone} gone")
    down = moved_down(results)
    shown = (f"top {MOVED_DOWN_SHOWN} of {c['down']}" if c["down"] > MOVED_DOWN_SHOWN
             else f"all {c['down']}")
    return [
        Block(DASH_MOVES_TITLE, [[title]]),
        Block(DASH_MOVES_TYPES, _matrix_rows(_capped(mig.by_type), "From type \\ to")),
        Block(DASH_MOVES_CLASSES, _matrix_rows(_capped(mig.by_class), "From class \\ to")),
        Block(DASH_DOWN_TITLE, [[f"Moved down since then, by value ({shown}; Move on the "
                                 "Segments sheet)"]]),
        Block(DASH_DOWN_HEADER, frame_rows(down)),
    ]


def blocks_to_rows(blocks: Sequence[Block]) -> list[Row]:
    """Lay blocks out on one grid (rows of equal length, ``None`` where empty).

    Raises
    ------
    ValueError
        When two blocks overlap: one would silently overwrite the other's figures.
    """
    height = max(b.anchor[0] + len(b.rows) for b in blocks)
    width = max(b.anchor[1] + max((len(r) for r in b.rows), default=0) for b in blocks)
    grid: list[Row] = [[None] * width for _ in range(height)]
    owner: dict[tuple[int, int], tuple[int, int]] = {}
    for b in blocks:
        r0, c0 = b.anchor
        for i, row in enumerate(b.rows):
            for j in range(len(row)):
                taken = owner.setdefault((r0 + i, c0 + j), b.anchor)
                if taken != b.anchor:
                    where = (a1(*taken, absolute=False), a1(*b.anchor, absolute=False),
                             a1(r0 + i, c0 + j, absolute=False))
                    raise ValueError("blocks at {} and {} overlap at {}".format(*where))
            grid[r0 + i][c0 : c0 + len(row)] = row
    return grid


def result_sheets(results: Any, *, source: str = "") -> dict[str, pd.DataFrame | list[Row]]:
    """All result sheets of a run keyed by sheet name: a table (header = columns) or rows.

    Use :func:`frame_rows` to turn a table into rows for a writer that needs them.
    """
    return {
        # Tables go as DataFrames: the file writer converts whole columns at once.
        schema.SCORES: results.scores_table,
        schema.SEGMENTS: results.segments_table,
        schema.DASHBOARD: blocks_to_rows(dashboard_blocks(results, source=source)),
        schema.PROBLEMS: problems_sheet(results.problems, results.stamp),
        schema.ACTIVITY: (
            results.operations.activity
            if results.operations is not None
            else [list(ACTIVITY_COLUMNS), ["No orders, contacts or survey answers in the ledger."]]
        ),
    }
