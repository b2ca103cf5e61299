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
from xlcrm.operations.breakdown import BREAKDOWN_COLUMNS, breakdown, customer_figures
from xlcrm.operations.clv import LIFETIME_BY_COLUMNS
from xlcrm.operations.contacts import DASHBOARD_FIGURES as BUYING_CENTER_FIGURES
from xlcrm.operations.contacts import LIST_COLUMNS as BUYING_CENTER_LIST_COLUMNS
from xlcrm.operations.kpis import KPI_NAMES, OVERALL, kpi_columns
from xlcrm.operations.step import ACTIVITY_COLUMNS
from xlcrm.pipeline import ABC_SUMMARY_COLUMNS
from xlcrm.value.segments import VALIDATION_COLUMNS
from xlcrm.value.sensitivity import CORRELATION_LIMIT, MOVES, SENSITIVITY_COLUMNS

Row = list[Any]


@dataclass(frozen=True)
class Block:
    """A rectangle of values whose top-left cell is ``anchor`` (0-based row, column)."""

    anchor: tuple[int, int]
    rows: list[Row]


# Dashboard layout (0-based rows/columns). The template's charts refer to these cells.
# Rows 0-98 are what a sales manager decides from (the print area, :data:`DASH_PRINT_ROWS`):
# the headline tiles, types, classes, KPIs, who is at risk and who is overdue. Below them
# the analyst's blocks (judgments, tests, survey, lifetime-value model). Rows 199-398
# (sheet rows 200-399) belong to other blocks (see docs/ARCHITECTURE.md).
DASH_STAMP = (1, 0)
DASH_NOTES = (2, 0)
DASH_TILES = (4, 0)
"""Headline tiles: a label row, a figure row below it and a caption row below that."""
TILE_NAMES = ("Customers", "Active customers", "A share of revenue", "Churn rate",
              "Value at risk", "Overdue contacts", "Moved down since last run")  # fmt: skip
NO_EARLIER_RUN = "\u2014"
"""What the moved-down tile shows until a run can be compared with an earlier one."""
DASH_TYPES_TITLE = (8, 0)
DASH_TYPES_HEADER = (9, 0)
# What each type row shows (columns of pipeline.TYPE_SUMMARY_COLUMNS) under which header.
# Every share says what it is a share of; a value score is 0-100 per customer, so a type's
# "Value" is a sum of scores, not money.
TYPE_HEADERS = {
    "Type": "Type", "Code": "Code", "Name": "Name", "Customers": "Customers",
    "CustomerShare": "Share of customers", "Revenue": "Revenue 12m",
    "RevenueShare": "Share of revenue", "Value": "Summed value score",
    "ValueShare": "Share of summed value scores", "MeanValue": "Mean value score",
    "VisitIntervalDays": "Visit interval (days)",
}  # fmt: skip
DASH_TYPES_COLUMNS = tuple(TYPE_HEADERS.values())
N_TYPES = 8
# Long texts (strategies, churn reasons) go in the wide, wrapped column N.
TEXT_COL = 13
DASH_TYPES_STRATEGY = (DASH_TYPES_HEADER[0], TEXT_COL)
DASH_ABC_TITLE = (19, 0)
DASH_ABC_HEADER = (20, 0)
ABC_HEADERS = {
    "Revenue": ("Class", "Name", "Customers", "Share of customers", "Revenue 12m",
                "Share of revenue", "Mean revenue"),
    "Value": ("Class", "Name", "Customers", "Share of customers", "Summed value score",
              "Share of summed value scores", "Mean value score"),
}  # fmt: skip
"""The ABC block's headers by what the classes were made from (pipeline.ABC_BASES)."""
DASH_ABC_COLUMNS = ABC_HEADERS["Revenue"]
DASH_KPI_TITLE = (25, 0)
DASH_KPI_HEADER = (26, 0)
MAX_KPIS = 16
"""KPI rows the layout keeps free (more KPIs may come; the next block starts below)."""
DASH_KPI_ROWS = {name: DASH_KPI_HEADER[0] + 1 + i for i, name in enumerate(KPI_NAMES)}
"""KPI name -> its 0-based Dashboard row (the KPI table always lists every KPI, in order)."""
DASH_KPI_COLUMNS = ("KPI", *kpi_columns())
DASH_RISK_TITLE = (44, 0)
DASH_RISK_HEADER = (45, 0)
AT_RISK_SHOWN = 25
# Name in column C, the wide one; the reason in the wrapped text column N. Headers are
# words that wrap (a cut "ValueAtRis" is no header); the Activity sheet keeps the names.
RISK_HEADERS = {"CustomerID": "CustomerID", "Value": "Value score", "Name": "Name",
                "ChurnRisk": "Churn risk", "ValueAtRisk": "Value at risk"}  # fmt: skip
DASH_RISK_COLUMNS = tuple(RISK_HEADERS.values())
DASH_RISK_REASON = (DASH_RISK_HEADER[0], TEXT_COL)
DASH_OVERDUE_TITLE = (72, 0)
DASH_OVERDUE_HEADER = (73, 0)
OVERDUE_HEADERS = {
    "CustomerID": "CustomerID", "Value": "Value score", "Name": "Name",
    "NextContactDue": "Next contact due", "DaysOverdue": "Days overdue",
    "LastContact": "Last contact", "OpenComplaints": "Open complaints",
}  # fmt: skip
DASH_OVERDUE_COLUMNS = tuple(OVERDUE_HEADERS.values())
OVERDUE_SHOWN = 25
DASH_PRINT_ROWS = 99
"""Sheet rows 1..99 and columns A..N are the Dashboard's print area (3 landscape pages: a
page break above the at-risk and the overdue lists keeps each list whole)."""
DASH_PRINT_COLS = TEXT_COL + 1
DASH_CR_TITLE = (100, 0)
DASH_CR_HEADER = (101, 0)
DASH_CR_COLUMNS = ("Level", "n", "LambdaMax", "CI", "RI", "CR", "Consistent")
MAX_GROUPS = 9
DASH_TEST_TITLE = (113, 0)
DASH_TEST_HEADER = (114, 0)
DASH_TEST_COLUMNS = VALIDATION_COLUMNS
TEST_ROWS = 15
# Right of the print area; the charts float right of it.
DASH_PARETO_TITLE = (4, 15)
DASH_PARETO_HEADER = (5, 15)
DASH_PARETO_COLUMNS = ("Share of customers", "Cumulative share of revenue")
"""Pareto headers (by revenue; ``... of summed value scores`` when the classes are by value)."""
PARETO_POINTS = 101
# Cells the charts draw their guide lines from (below the Pareto points, off the print area).
DASH_PARETO_LINE = (DASH_PARETO_HEADER[0] + PARETO_POINTS + 2, DASH_PARETO_HEADER[1])
"""The class A cut-off as a horizontal line on the Pareto chart: header and two points."""
DASH_IPA_LINES = (DASH_PARETO_LINE[0] + 4, DASH_PARETO_HEADER[1])
"""The importance-performance quadrant lines: header, two points of the vertical line (at
the mean importance), two of the horizontal line (at the mean performance)."""
DASH_SURVEY_TITLE = (131, 0)
DASH_SURVEY_ROWS = (132, 0)
SURVEY_FIGURES = (
    "Questionnaires used",
    "Satisfaction index (0-100)",
    "Cronbach's alpha",
    "Questionnaires complete (for alpha)",
)
DASH_IPA_TITLE = (137, 0)
DASH_IPA_HEADER = (138, 0)
IPA_HEADERS = {"Question": "Question", "Importance": "Importance",
               "Performance": "Performance", "PerformanceIndex": "Index 0-100",
               "Quadrant": "Quadrant"}  # fmt: skip
DASH_IPA_COLUMNS = tuple(IPA_HEADERS.values())
MAX_QUESTIONS = 30
DASH_CLV_TITLE = (170, 0)
DASH_CLV_ROWS = (171, 0)
CLV_FIGURES = ("Model", "Customers used", "Order parameters", "Spend parameters",
               "Horizon and money", "Status", "Total CLV")  # fmt: skip
DASH_CLV_HEADER = (179, 0)
CLV_HEADERS = dict(zip(LIFETIME_BY_COLUMNS, ("Segment", "Customers", "CLV", "Share of CLV",
                                             "Mean CLV", "Mean P(alive)"), strict=True))
DASH_CLV_COLUMNS = tuple(CLV_HEADERS.values())
DASH_LAST_ROW = 198
"""Last 0-based row of this module's blocks (sheet row 199): the CLV table, 3 classes and
16 types, ends there."""
# Judgments under review (sheet rows 200-219, reserved for raters and repairs).
DASH_RATERS_TITLE = (199, 0)
DASH_RATERS_HEADER = (200, 0)  # then one row per level: at most MAX_GROUPS + 1
DASH_REPAIRS_TITLE = (212, 0)
DASH_REPAIRS_HEADER = (213, 0)
REPAIRS_SHOWN = 5  # rows 215-219
# Per account manager, industry and region (sheet rows 325-399): title, header, then at most
# *_SHOWN rows each (the rest added up in one "Other (n)" row).
# Under the words the other blocks use for the same figures (one name, one definition).
BREAKDOWN_HEADERS = dict(zip(BREAKDOWN_COLUMNS, (
    "Group", "Customers", "Share of customers", "Revenue 12m", "Share of revenue",
    "Mean value score", "A", "B", "C", "At risk", "Overdue", "Moved down"), strict=True))
DASH_BREAKDOWN_COLUMNS = tuple(BREAKDOWN_HEADERS.values())
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
# Sheet rows 220-269 (1-based) are the sensitivity block's.
DASH_SENS_TITLE = (219, 0)
DASH_SENS_ROWS = (220, 0)
SENS_TOP_SHOWN = 5
"""Weights listed on the Dashboard, those whose moves change the most customers."""

# Sensitivity sheet (0-based). The template's chart refers to the chart block's cells.
SENS_STAMP = (1, 0)
SENS_HEADLINE = (2, 0)
SENS_CHART_TITLE = (4, 0)
SENS_CHART_HEADER = (5, 0)
SENS_CHART_COLUMNS = ("Level", "Item", "Weight", *(f"{m:+.0%}" for m in MOVES))
SENS_CHART_ITEMS = 15
"""Weights in the chart block: those whose moves change the most customers."""
SENS_TABLE_TITLE = (SENS_CHART_HEADER[0] + SENS_CHART_ITEMS + 2, 0)
SENS_TABLE_HEADER = (SENS_TABLE_TITLE[0] + 1, 0)
SENS_TABLE_COLUMNS = SENSITIVITY_COLUMNS
# Right of the chart, which floats over columns M..X.
SENS_CORR_TITLE = (SENS_CHART_TITLE[0], 25)
SENS_CORR_HEADER = (SENS_CHART_HEADER[0], 25)
# Migration since the previous run (sheet rows 270-309): the type matrix at A, the class
# matrix right of it, the customers who moved down below.
DASH_MOVES_TITLE = (269, 0)
DASH_MOVES_TYPES = (270, 0)
DASH_MOVES_CLASSES = (270, 13)
MATRIX_CELLS = 11
"""Rows and columns of counts a matrix shows (8 types, Unrated, New or Gone, one spare)."""
DASH_DOWN_TITLE = (282, 0)
DASH_DOWN_HEADER = (283, 0)
# Header words that wrap in the Dashboard's columns, as for the other lists.
DOWN_HEADERS = {"CustomerID": "CustomerID", "Value": "Value score", "Name": "Name",
                "PreviousTypeName": "Type before", "TypeName": "Type now",
                "PreviousABC": "Class before", "ABC": "Class now"}  # fmt: skip
DASH_DOWN_COLUMNS = tuple(DOWN_HEADERS.values())
MOVED_DOWN_SHOWN = 25
# The buying center: sheet rows 310-324 (reserved for it), figures then the accounts to act on.
DASH_CONTACTS_TITLE = (309, 0)
DASH_CONTACTS_ROWS = (310, 0)
DASH_CONTACTS_HEADER = (315, 0)
DASH_CONTACTS_COLUMNS = BUYING_CENTER_LIST_COLUMNS
CONTACTS_SHOWN = 8


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


def labelled(frame: pd.DataFrame, headers: dict[str, str]) -> list[Row]:
    """The columns ``headers`` names of ``frame`` under the Dashboard's header words."""
    return [list(headers.values()), *frame_rows(frame[list(headers)], header=False)]


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

    Each row holds the figures of :data:`TYPE_HEADERS` and then the strategy (which the
    Dashboard shows in its wrapped text column). Only types that customers have are in
    ``summary``. When there are more rows than the Dashboard's formatted (and charted) rows,
    as four or more groups allow, the largest types are shown in number order and the rest
    are added up in one ``Other types`` row; the Segments sheet has every customer's type.
    """
    columns = [*TYPE_HEADERS, "Strategy"]
    rows = _summary_rows(summary, columns)
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
        "Revenue": rest["Revenue"].sum(min_count=1),
        "RevenueShare": rest["RevenueShare"].sum(min_count=1),
        "Value": value,
        "ValueShare": float(rest["ValueShare"].sum()),
        "MeanValue": value / customers if customers else None,
        "Strategy": "Each type's strategy is on the Segments and Strategies sheets",
    }
    return [rows[k] for k in keep] + [[clean(other.get(c)) for c in columns]]


def _tiles(results: Any) -> Block:
    """The headline: one tile per figure, label above, figure, and a caption below."""
    ops = results.operations
    kpi = ops.kpis[OVERALL] if ops is not None else None
    n = results.customers
    abc = results.summary_by_abc.set_index("Class")
    a_share = a_share_of_revenue(results)
    at_risk = (ops.at_risk["ValueAtRisk"].sum(min_count=1) if ops is not None
               and "ValueAtRisk" in ops.at_risk else None)  # fmt: skip
    active = kpi["Active customers"] if kpi is not None else None
    overdue = kpi["Overdue contacts"] if kpi is not None else None
    down, compared = moved_down(results.segments_table)
    figures = [n, active, a_share, kpi["Churn rate"] if kpi is not None else None,
               at_risk, overdue, NO_EARLIER_RUN if down is None else down]
    captions = [
        "analysed",
        f"{active / n:.0%} ordered in 12 months" if n and active == active and active
        is not None else "no orders in the ledger",
        (f"class A: {int(abc.loc['A', 'Customers'])} customers"
         + ("" if results.abc_basis == "Revenue" else " (ranked by value score)"))
        if a_share is not None else "no revenue figures in the ledger",
        "of last year's buyers did not reorder",
        "CLV x (1 - P(alive)) of those at risk"
        if results.lifetime is not None and ops is not None
        and ops.at_risk["ValueAtRisk"].notna().any() else "needs orders for the CLV model",
        f"{overdue / n:.0%} of customers: see the list below" if n and overdue == overdue
        and overdue is not None else "no contacts in the ledger",
        "no earlier run" if down is None else f"of {compared} customers in the last run",
    ]
    return Block(DASH_TILES, [list(TILE_NAMES), [clean(v) for v in figures], captions])


def a_share_of_revenue(results: Any) -> float | None:
    """Class A's share of the 12-month revenue of all classed customers.

    The ABC block's share when the classes are by revenue; otherwise summed from each
    customer's revenue (the classes are then by value score, and what A brings in money is
    still the question a sales manager asks). ``None`` without revenue figures.
    """
    abc = results.summary_by_abc.set_index("Class")
    if results.abc_basis == "Revenue":
        return clean(abc.loc["A", "ValueShare"]) if "A" in abc.index else None
    scored = results.scored
    if scored is None or "Revenue12m" not in scored.columns:
        return None
    revenue = pd.to_numeric(scored["Revenue12m"], errors="coerce").to_numpy(dtype=float)
    letters = np.asarray(results.abc.abc, dtype=object)
    known = np.isfinite(revenue) & pd.notna(letters)
    total = revenue[known].sum()
    if len(letters) != len(revenue) or not known.any() or total <= 0:
        return None
    return float(revenue[known & (letters == "A")].sum() / total)


def moved_down(segments: pd.DataFrame) -> tuple[int | None, int]:
    """Customers whose ``Move`` on Segments is ``down``, and how many were compared.

    ``(None, 0)`` when Segments has no ``Move`` column or no customer was in an earlier
    run (every move ``new`` or blank): there is nothing to compare yet, which is not 0.
    """
    if "Move" not in segments.columns:
        return None, 0
    move = segments["Move"].astype("string").str.strip().str.lower()
    compared = int(move.isin(("up", "down", "same")).sum())
    if not compared:
        return None, 0
    return int((move == "down").sum()), compared


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
    blocks.append(_tiles(results))

    groups = ", ".join(map(str, results.segments.high.columns))
    blocks.append(Block(DASH_TYPES_TITLE, [[f"By customer type ({groups})"]]))
    types = type_rows(results.summary_by_type)
    blocks.append(Block(DASH_TYPES_HEADER, [list(DASH_TYPES_COLUMNS)] + [r[:-1] for r in types]))
    blocks.append(Block(DASH_TYPES_STRATEGY, [["Strategy"]] + [r[-1:] for r in types]))
    basis = "revenue" if results.abc_basis == "Revenue" else "value score"
    blocks.append(Block(DASH_ABC_TITLE, [[f"By ABC class (Pareto, by {basis})"]]))
    blocks.append(
        Block(
            DASH_ABC_HEADER,
            [list(ABC_HEADERS[results.abc_basis])]
            + _summary_rows(results.summary_by_abc, ABC_SUMMARY_COLUMNS),
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
    blocks.append(Block(DASH_TEST_TITLE, [["Do the segments differ? (yes when p < 0.05 and the "
                                          "effect size is at least small)"]]))
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
        at_risk = ops.at_risk.head(AT_RISK_SHOWN)
        blocks.append(Block(DASH_RISK_HEADER, labelled(at_risk, RISK_HEADERS)))
        blocks.append(Block(DASH_RISK_REASON, labelled(at_risk, {"ChurnReason": "Churn reason"})))
        blocks.append(Block(DASH_OVERDUE_TITLE, [[
            f"Contacts overdue, by value (top {OVERDUE_SHOWN}; all on the Activity sheet)"]]))
        overdue = ops.overdue.head(OVERDUE_SHOWN)
        blocks.append(Block(DASH_OVERDUE_HEADER, labelled(overdue, OVERDUE_HEADERS)))
        blocks.extend(_survey_blocks(ops))
        blocks.extend(_lifetime_blocks(results.lifetime, ops))
        blocks.extend(_buying_center_blocks(ops))
    blocks.extend(_judgment_blocks(results))
    blocks.extend(breakdown_blocks(results))
    blocks.extend(_sensitivity_headline(results))
    blocks.extend(migration_blocks(results))
    blocks.append(Block(DASH_PARETO_TITLE, [["Pareto curve"]]))
    pareto = results.pareto[["CustomerShare", "ValueShare"]]
    of = "revenue" if results.abc_basis == "Revenue" else "summed value scores"
    blocks.append(Block(DASH_PARETO_HEADER, [[DASH_PARETO_COLUMNS[0], f"Cumulative share of {of}"],
                                             *frame_rows(pareto, header=False)]))
    cut = float(results.abc.cutoffs[0])
    blocks.append(Block(DASH_PARETO_LINE, [["Share of customers", f"Class A cut-off ({cut:.0%})"],
                                           [0.0, cut], [1.0, cut]]))
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
    figures = customer_figures(frame)  # the same for the three breakdowns
    moved = "" if "Move" in frame else "; Moved down is blank until the workbook keeps a History"
    blocks = []
    for column, title, title_at, header_at, shown in DASH_BREAKDOWNS:
        values = frame.get(column)
        if values is None or values.isna().all() or (values.astype("string").str.strip()
                                                      .fillna("") == "").all():
            blocks.append(Block(title_at, [[f"{title}: the {schema.CUSTOMERS} sheet has no "
                                            f"{column} column (or it is empty)"]]))
            continue
        table = breakdown(frame, column, shown=shown, figures=figures)
        blocks.append(Block(title_at, [[f"{title} ({column} on {schema.CUSTOMERS}{moved})"]]))
        blocks.append(Block(header_at, labelled(table, BREAKDOWN_HEADERS)))
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
        Block(DASH_IPA_HEADER, labelled(ipa.head(MAX_QUESTIONS), IPA_HEADERS)),
        Block(DASH_IPA_LINES, quadrant_lines(ipa.head(MAX_QUESTIONS))),
    ]


def quadrant_lines(ipa: pd.DataFrame) -> list[Row]:
    """End points of the lines that split the importance-performance chart into quadrants.

    At the mean importance and the mean performance of the questions shown, where the
    table's ``Quadrant`` splits them (Martilla & James); each line runs a tenth of the
    data's range (at least half a point of the scale) beyond the outermost points, so
    that it crosses the whole cloud visibly even when the answers lie close together.
    """
    x = pd.to_numeric(ipa["Importance"], errors="coerce").to_numpy(dtype=float)
    y = pd.to_numeric(ipa["Performance"], errors="coerce").to_numpy(dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.any():
        return [["Quadrant line x", "Quadrant line y"]]
    x, y = x[ok], y[ok]
    pad_x, pad_y = max(np.ptp(x) / 10, 0.5), max(np.ptp(y) / 10, 0.5)
    mx, my = float(x.mean()), float(y.mean())
    return [["Quadrant line x", "Quadrant line y"],
            [mx, float(y.min() - pad_y)], [mx, float(y.max() + pad_y)],
            [float(x.min() - pad_x), my], [float(x.max() + pad_x), my]]


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
        blocks.append(Block(DASH_CLV_HEADER, labelled(ops.lifetime_by_segment, CLV_HEADERS)))
    return blocks


def _top_weights(table: pd.DataFrame, shown: int) -> pd.DataFrame:
    """One row per weight with its ChangedShare per move, most sensitive first."""
    before = table.groupby(["Level", "Item"], sort=False)["WeightBefore"].first()
    # pivot, not pivot_table: only the weights moved, never every Level x Item pair.
    wide = table.pivot(index=["Level", "Item"], columns="Move", values="ChangedShare")
    wide = wide.reindex(index=before.index, columns=list(MOVES))
    order = wide.max(axis=1).sort_values(ascending=False, kind="stable").index[:shown]
    out = wide.loc[order].reset_index()
    out.insert(2, "Weight", before.loc[order].to_numpy())
    return out


def _sensitivity_headline(results: Any) -> list[Block]:
    """Dashboard rows 220-269: the headline, the most sensitive weights, correlated pairs."""
    sens = results.sensitivity
    if sens is None:
        return []
    lines: list[Row] = [[sens.headline()]]
    if len(sens.table):
        top = _top_weights(sens.table, SENS_TOP_SHOWN)
        lines.append([f"Customers whose type{' or ABC class' if sens.abc_by_value else ''} "
                      "changes, for the weights that matter most (every move on the "
                      f"{schema.SENSITIVITY} sheet):"])
        lines.extend([f"{r.Level}: {r.Item}", None, ", ".join(
            f"{m:+.0%}: {clean(v) or 0:.1%}" for m, v in zip(MOVES, r[3:], strict=True))]
            for r in top.itertuples(index=False))
    pairs = _correlated_pairs(results.correlation)
    lines.append([f"Indicators correlated above {CORRELATION_LIMIT:g} (Spearman): "
                  + ("; ".join(pairs) + " (see the Problems sheet)" if pairs else "none")])
    return [Block(DASH_SENS_TITLE, [["Do the decisions depend on the exact weights?"]]),
            Block(DASH_SENS_ROWS, lines)]


def _correlated_pairs(correlation: pd.DataFrame | None) -> list[str]:
    if correlation is None:
        return []
    names = list(correlation.columns)
    values = correlation.to_numpy(dtype=float)
    return [f"{names[i]} and {names[j]} ({values[i, j]:.2f})"
            for i in range(len(names)) for j in range(i + 1, len(names))
            if np.isfinite(values[i, j]) and abs(values[i, j]) > CORRELATION_LIMIT]


def sensitivity_sheet(results: Any, *, source: str = "") -> list[Row]:
    """The ``Sensitivity`` sheet: headline, chart block, every move, indicator correlation."""
    sens = results.sensitivity
    title = "Sensitivity of the customer types and ABC classes to the AHP weights"
    blocks = [Block((0, 0), [[title]])]
    if sens is None:
        blocks.append(Block(SENS_STAMP, [["Run CRM > Resegment to fill this sheet."]]))
        return blocks_to_rows(blocks)
    basis = ("ABC is by value score, so class changes are counted too" if sens.abc_by_value
             else f"ABC is by {results.abc_basis.lower()}, which no weight changes")
    what = "type or class" if sens.abc_by_value else "type"
    sample = (f"; tried on a fixed random sample of {sens.judged:,} customers (Stable is "
              "blank for the others)" if sens.sampled else "")
    blocks += [
        Block(SENS_STAMP, [[f"Computed {results.stamp:%Y-%m-%d %H:%M} by xlcrm from "
                            f"{source or 'this workbook'} · each weight moved by "
                            + ", ".join(f"{m:+.0%}" for m in MOVES)
                            + f", the others of its level rescaled to keep the sum 1 · {basis}"
                            f"{sample}"]]),
        Block(SENS_HEADLINE, [[sens.headline()]]),
        Block(SENS_CHART_TITLE, [[f"Share of customers whose {what} changes, per weight and "
                                  f"move (up to {SENS_CHART_ITEMS} weights, those that matter "
                                  "most first)"]]),
        Block(SENS_CHART_HEADER, [list(SENS_CHART_COLUMNS)] + (frame_rows(
            _top_weights(sens.table, SENS_CHART_ITEMS), header=False) if len(sens.table)
            else [["No weight to move: every level has a single item."]])),
        Block(SENS_TABLE_TITLE, [["Every move (Level: groups for a group weight, else the "
                                  "indicator's group; shares of the customers judged)"]]),
        Block(SENS_TABLE_HEADER, frame_rows(sens.table[list(SENS_TABLE_COLUMNS)])),
    ]
    corr = results.correlation
    if corr is not None and len(corr):
        blocks.append(Block(SENS_CORR_TITLE, [[
            "Spearman correlation of the indicator scores (above "
            f"{CORRELATION_LIMIT:g}: one indicator probably measures the other)"]]))
        blocks.append(Block(SENS_CORR_HEADER, frame_rows(
            corr.rename_axis("Indicator").reset_index())))
    return blocks_to_rows(blocks)


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


def moved_down_list(results: Any, limit: int = MOVED_DOWN_SHOWN) -> pd.DataFrame:
    """The customers whose type or class went down since the previous run, most valuable
    first (columns as :data:`DOWN_HEADERS` names them)."""
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
    down = moved_down_list(results)
    shown = (f"top {MOVED_DOWN_SHOWN} of {c['down']}" if c["down"] > MOVED_DOWN_SHOWN
             else f"all {c['down']}")
    return [
        Block(DASH_MOVES_TITLE, [[title]]),
        Block(DASH_MOVES_TYPES, _matrix_rows(_capped(mig.by_type), "From type \\ to")),
        Block(DASH_MOVES_CLASSES, _matrix_rows(_capped(mig.by_class), "From class \\ to")),
        Block(DASH_DOWN_TITLE, [[f"Moved down since then, by value ({shown}; Move on the "
                                 "Segments sheet)"]]),
        Block(DASH_DOWN_HEADER, labelled(down, DOWN_HEADERS)),
    ]


def _buying_center_blocks(ops: Any) -> list[Block]:
    """Decision makers known and their stance, and the A/B accounts to act on."""
    if ops.buying_center is None:
        return [Block(DASH_CONTACTS_TITLE, [[
            f"Buying center: no people on the {schema.CONTACTS} sheet (who decides, who "
            "supports us at each customer)"]])]
    figures, issues = ops.buying_center
    shown = issues.head(CONTACTS_SHOWN)
    more = len(issues) - len(shown)
    return [
        Block(DASH_CONTACTS_TITLE, [[f"Buying center ({schema.CONTACTS} sheet): decision "
                                     "makers and their stance"]]),
        Block(DASH_CONTACTS_ROWS, [[label, None, None, value] for label, value in
                                   zip(BUYING_CENTER_FIGURES, figures, strict=True)]),
        Block((DASH_CONTACTS_HEADER[0] - 1, 0), [[
            f"Accounts to act on, by value ({len(shown)} of {len(issues)}"
            + ("; all on the Activity sheet)" if more else ")")]]),
        Block(DASH_CONTACTS_HEADER, frame_rows(shown[list(DASH_CONTACTS_COLUMNS)])),
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
        schema.SENSITIVITY: sensitivity_sheet(results, source=source),
    }
