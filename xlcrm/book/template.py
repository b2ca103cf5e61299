"""Build ``workbook/CRM_Template.xlsm`` from the text sources in the repository.

The template is a new file, never a user's workbook, so openpyxl may lay out its sheets.
Three steps openpyxl cannot do are done on the saved parts: cached values for formula
cells (so that weights and CRs show before Python has run), the VBA project (xlwings'
module and the ribbon module) and the customUI ribbon part. The zip is written with fixed
timestamps and part order, so the same sources give the same bytes.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference, ScatterChart, Series
from openpyxl.chart.data_source import StrRef
from openpyxl.chart.label import DataLabelList
from openpyxl.chart.series import SeriesLabel
from openpyxl.chart.shapes import GraphicalProperties
from openpyxl.formatting.rule import CellIsRule, FormulaRule
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.formula import ArrayFormula
from openpyxl.worksheet.pagebreak import Break
from openpyxl.worksheet.table import Table, TableStyleInfo
from openpyxl.worksheet.worksheet import Worksheet

from xlcrm import report, schema
from xlcrm.book.paths import CUSTOMUI_PATH, TEMPLATE_PATH
from xlcrm.book.read import sheet_parts
from xlcrm.book.ribbon import inject_ribbon, make_xlsm, write_zip
from xlcrm.book.settings import (
    IMPORTANCE_HEADER,
    OPTION_CHOICES,
    OPTION_LABELS,
    OPTIONS_COL,
    options_rows,
)
from xlcrm.book.sync_judgments import judgment_value
from xlcrm.book.vba import template_vba_project
from xlcrm.book.write import escape_text
from xlcrm.errors import InputError
from xlcrm.ledger import Ledger
from xlcrm.operations.derived import DERIVABLE
from xlcrm.operations.kpis import KPI_UNITS
from xlcrm.operations.step import ACTIVITY_COLUMNS
from xlcrm.pipeline import Options
from xlcrm.value.ahp import SAATY_SCALE, ahp, format_judgment, parse_matrix
from xlcrm.value.hierarchy import (
    Hierarchy,
    default_hierarchy,
    default_judgments,
    hierarchy_to_table,
)
from xlcrm.value.segments import DEFAULT_GROUPS
from xlcrm.value.strategies import DEFAULT_TYPES, CustomerType, strategies_to_table

# Fixed so that builds are byte-for-byte reproducible.
BUILD_TIME = datetime(2026, 1, 1)

SHEET_ORDER = (
    schema.HELP,
    schema.DASHBOARD,
    schema.CUSTOMERS,
    schema.TRANSACTIONS,
    schema.INTERACTIONS,
    schema.SURVEY,
    schema.CONTACTS,
    schema.INDICATORS,
    schema.JUDGMENTS,
    schema.STRATEGIES,
    schema.SCORES,
    schema.SEGMENTS,
    schema.ACTIVITY,
    schema.PROBLEMS,
    schema.SENSITIVITY,
)
# VBA code names: stable ASCII identifiers, one per sheet (the VBA project has a document
# module for each).
CODE_NAMES = {name: f"Sheet{i + 1}" for i, name in enumerate(SHEET_ORDER)}
XLWINGS_CONF = schema.XLWINGS_CONF
CODE_NAMES[XLWINGS_CONF] = f"Sheet{len(SHEET_ORDER) + 1}"

HEADER_FILL = PatternFill("solid", fgColor="1F4E78")
# Named, so that every spreadsheet program draws them in the workbook's font (Calibri).
HEADER_FONT = Font(name="Calibri", bold=True, color="FFFFFF")
TITLE_FONT = Font(name="Calibri", bold=True, size=14, color="1F4E78")
BOLD = Font(name="Calibri", bold=True)
INPUT_FILL = PatternFill("solid", fgColor="FFF2CC")
FORMULA_FILL = PatternFill("solid", fgColor="EDEDED")
BAD_FILL = PatternFill("solid", fgColor="FFC7CE")
BAD_FONT = Font(name="Calibri", color="9C0006", bold=True)
GOOD_FILL = PatternFill("solid", fgColor="C6EFCE")
WRAP = Alignment(wrap_text=True, vertical="top")

# Unnamed: openpyxl writes a font's name before its other children, which the Open XML
# validator flags (the named fonts above already carry that finding).
NOTE_FONT = Font(italic=True, color="7F7F7F")
ADDIN_NOTE = (
    "Weights and CR recalculate only with the xlcrm add-in (#NAME? without it: see Help). "
    "To email, send the shareable copy (CRM > Make shareable copy)."
)
WEIGHT_NOTE = "needs the xlcrm add-in: see Help"

LEDGER_TEXT_FORMAT = "@"
PERCENT = "0.0%"
ONE = "0.0"
FRACTION_FORMAT = "# ?/?"


@dataclass
class _Cached:
    """Cached formula values to put into the saved sheet XML, by sheet and cell."""

    values: dict[str, dict[str, Any]] = field(default_factory=dict)

    def set(self, sheet: str, ref: str, value: Any) -> None:
        self.values.setdefault(sheet, {})[ref] = value


def _stable(x: float) -> float:
    """``x`` to 12 significant digits.

    Eigenvector results differ in the last bits between BLAS builds; the committed template
    must be the same bytes whichever machine builds it, and 12 digits is beyond display.
    """
    return float(f"{float(x):.12g}")


def _value_cell(ws: Worksheet, row: int, col: int, value: Any) -> Any:
    """Write a value; text stays text even when it looks like a formula (``=HYPERLINK(...)``)."""
    cell = ws.cell(row=row, column=col, value=report.clean(value))
    if isinstance(value, str):
        cell.data_type = "s"
    return cell


def _header(ws: Worksheet, row: int, col: int, names: Sequence[str]) -> None:
    for j, name in enumerate(names):
        cell = ws.cell(row=row, column=col + j, value=name)
        cell.fill = HEADER_FILL
        cell.font = HEADER_FONT


def _widths(ws: Worksheet, widths: Mapping[str, float] | Sequence[float]) -> None:
    items = (
        widths.items()
        if isinstance(widths, Mapping)
        else ((get_column_letter(i + 1), w) for i, w in enumerate(widths))
    )
    for letter, width in items:
        ws.column_dimensions[letter].width = width


def _table_sheet(
    ws: Worksheet,
    table_name: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]] | None,
    *,
    text_columns: Sequence[str] = (),
    date_columns: Sequence[str] = (),
) -> None:
    """A ledger sheet as one Excel Table starting at A1."""
    _header(ws, 1, 1, columns)
    rows = rows or []
    for r, values in enumerate(rows, start=2):
        for c, value in enumerate(values, start=1):
            _value_cell(ws, r, c, value)
    last_row = max(2, len(rows) + 1)
    ref = f"A1:{get_column_letter(len(columns))}{last_row}"
    table = Table(displayName=table_name, ref=ref)
    table.tableStyleInfo = TableStyleInfo(name="TableStyleMedium2", showRowStripes=True)
    ws.add_table(table)
    ws.freeze_panes = "B2"
    for name in text_columns:
        col = get_column_letter(columns.index(name) + 1)
        # IDs stay text as typed: "0042" must not become 42.
        for r in range(2, last_row + 1):
            ws[f"{col}{r}"].number_format = LEDGER_TEXT_FORMAT
    for name in date_columns:
        col = get_column_letter(columns.index(name) + 1)
        for r in range(2, last_row + 1):
            ws[f"{col}{r}"].number_format = "yyyy-mm-dd"
    _widths(ws, [max(10, min(28, len(c) + 4)) for c in columns])


def _frame_values(frame: Any, columns: Sequence[str]) -> list[list[Any]]:
    present = [c for c in columns if c in frame.columns]
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"ledger table lacks columns {missing}")
    return [list(r) for r in frame[present].itertuples(index=False, name=None)]


def _help_sheet(ws: Worksheet) -> None:
    ws["A1"] = "xlcrm: customer ledger and customer-value analysis"
    ws["A1"].font = TITLE_FONT
    lines = [
        ("What to do first", None),
        (
            "1.",
            "Put your customers on the Customers sheet: one row per customer, a unique "
            "CustomerID, and the indicator columns (yellow headers explain themselves; "
            "qualitative columns have drop-down lists).",
        ),
        (
            "2.",
            "Optionally add orders (Transactions; CRM > Import orders appends an ERP export), "
            "contacts (Interactions), survey answers (Survey) and the people at each customer "
            "(Contacts: who decides, who supports us).",
        ),
        (
            "3.",
            "Press CRM > Check to list bad input on the Problems sheet (each with its cell and "
            "what to do), then CRM > Resegment to fill Scores, Segments and Dashboard.",
        ),
        ("4.", "Without Excel: run `xlcrm resegment thisfile.xlsm` (and `xlcrm check`)."),
        ("The method", None),
        (
            "Indicators",
            "The indicator hierarchy: 3 groups (Qualification, Potential, Contribution) "
            "of 4 indicators, each scored 0-100 by min-max, percentile, bands or a "
            "rubric. The analyst may edit names, columns, methods and parameters. An "
            "indicator may read a figure computed from the ledger when Customers has no such "
            "column or leaves it blank: Revenue12m, GrossProfit12m, UnitProfit, GrowthRate "
            "(also as PurchaseGrowth), RecencyDays, Orders from Transactions; "
            "SatisfactionScore (also as Satisfaction) and SatisfactionIndex from Survey; "
            "RelationshipStrength (0-100) from Contacts.",
        ),
        (
            "Parameters",
            "One cell per indicator on the Indicators sheet, entries separated by ; such as "
            "minmax: lower=1; upper=5 (fixed scale; nonnegative=yes reports negatives) - "
            "percentile: nonnegative=yes - bands: <0: 0; <0.05: 40; <0.15: 70; else: 100 "
            "(a value equal to a threshold scores the band above) - rubric: Excellent=100; "
            "Good=75; Fair=50; Poor=20. Points are always 0-100.",
        ),
        (
            "Judgments",
            "Pairwise comparisons on Saaty's 1-9 scale (type the yellow upper triangle; "
            "3 = row item moderately more important than column item, 1/3 = less). "
            "Weights and the consistency ratio CR sit beside each matrix; CR of 0.10 "
            "or more turns red: revise the judgments.",
        ),
        (
            "Strategies",
            "The 8 customer types (High/Low on each group) with strategy, owner and "
            "visit interval; editable.",
        ),
        (
            "Models",
            "This workbook's Indicators, Judgments and Strategies are one of three ready-made "
            "models; `xlcrm new CRM.xlsm --model NAME` writes a new workbook with another: "
            "parts-dealer (this template: Qualification, Potential, Contribution; 8 types; "
            "ABC by revenue), industrial (the industrial-products seller's current value - "
            "gross profit, sales volume, marketing and service cost - and future value - "
            "industry status, cooperation years, satisfaction; 4 types; strategic vs general "
            "customers by value score) or truck-maker (the heavy-truck maker's direct and "
            "potential value; 4 types; ABC strategic, key, general by value score). The "
            "sources fix the groups, indicators and classes; the scoring rules, judgments and "
            "strategies are xlcrm's defaults, yours to edit (guide: analyst.md, section 9).",
        ),
        (
            "Survey",
            "Questionnaire answers go on the Survey sheet, one column per question (1-5). "
            "Give each question an importance in the block below the options on the "
            "Indicators sheet to get the importance-performance table and chart on the "
            "Dashboard. Cronbach's alpha there says whether the questions measure one thing "
            "(0.7 or more is usually acceptable).",
        ),
        (
            "Contacts",
            "The buying center: one row per person at a customer, with Role (decision maker, "
            "influencer, user, buyer, gatekeeper) and Stance (supporter, neutral, opponent) "
            "from the drop-downs. Activity shows per customer whether a decision maker is "
            "known and supports us; the Dashboard lists the A and B customers without one "
            "and the key accounts whose decision maker opposes us.",
        ),
        (
            "Results",
            "Scores, Segments, Activity, Dashboard and Problems are rewritten by every run; "
            "do not type into them. Your ledger and settings sheets are never changed by a "
            "run.",
        ),
        (
            "Functions",
            "In any cell: AHP_WEIGHTS, AHP_CR, AHP_CONSISTENCY, AHP_REPAIR, AHP_GROUP, "
            "CRM_SCORE, CRM_VALUE, CRM_HIGHLOW, CRM_TYPE, CRM_TYPENAME, CRM_STRATEGY, CRM_ABC, "
            "CRM_KMEANS, CRM_RFM, CRM_CHURN_RISK, CRM_NEXT_CONTACT, CRM_ALPHA (Formulas > "
            "Insert Function > category xlcrm shows each one's arguments).",
        ),
        ("Weights and CR", None),
        (
            "Add-in",
            "The Weight cells and the CR cell beside each matrix on the Judgments sheet are "
            "formulas of the xlcrm add-in (AHP_WEIGHTS, AHP_CR): they recalculate only in an "
            "Excel where xlwings with xlcrm (or xlwings Lite with xlcrm's code) is set up. "
            "Elsewhere they keep the numbers saved with the file until Excel recalculates.",
        ),
        (
            "#NAME?",
            "#NAME? in a Weight or CR cell means that this Excel has no xlcrm add-in and a "
            "judgment was edited (or the sheet recalculated). Nothing is lost: the judgments "
            "are still there. Press Ctrl+Z or close without saving to get the saved numbers "
            "back, or open the file where xlcrm is installed and press Formulas > Calculate "
            "Now. Do not type numbers over these cells.",
        ),
        (
            "Emailing",
            "Send the shareable copy, not this file: CRM > Make shareable copy (or `xlcrm "
            "share thisfile.xlsm`) writes an .xlsx with values only, no macros and nothing "
            "to recalculate, so a recipient without Python or the add-in sees every number.",
        ),
    ]
    row = 3
    for key, text in lines:
        if text is None:
            ws.cell(row=row, column=1, value=key).font = BOLD
            row += 1
            continue
        # Text, even "#NAME?" (openpyxl would write that as an error value).
        _value_cell(ws, row, 1, key).alignment = WRAP
        _value_cell(ws, row, 2, text).alignment = WRAP
        # Spreadsheet programs do not grow wrapped rows on open: size them here.
        ws.row_dimensions[row].height = 15 * (1 + len(text) // 95)
        row += 1
    _widths(ws, {"A": 14, "B": 100})


def _indicators_sheet(
    ws: Worksheet,
    hierarchy: Hierarchy,
    questions: Sequence[str],
    importance: Mapping[str, float],
    options: Options,
) -> None:
    table = hierarchy_to_table(hierarchy)
    columns = list(table.columns)
    _header(ws, 1, 1, columns)
    for r, values in enumerate(table.itertuples(index=False, name=None), start=2):
        for c, value in enumerate(values, start=1):
            _value_cell(ws, r, c, value).fill = INPUT_FILL
    last = len(table) + 1
    choices = {
        "Type": "quantitative,qualitative",
        "Method": "minmax,percentile,bands,rubric",
        "Direction": "benefit,cost",
    }
    for name, words in choices.items():
        if name in columns:
            col = get_column_letter(columns.index(name) + 1)
            dv = DataValidation(type="list", formula1=f'"{words}"', allow_blank=False)
            dv.add(f"{col}2:{col}{max(last, 2) + 30}")
            ws.add_data_validation(dv)
    ws.freeze_panes = "A2"
    _widths(ws, [16, 22, 18, 14, 12, 11, 60][: len(columns)])
    for r, values in enumerate(options_rows(options), start=1):
        for c, value in enumerate(values, start=OPTIONS_COL + 1):
            cell = ws.cell(row=r, column=c, value=value)
            if r == 1:
                cell.fill, cell.font = HEADER_FILL, HEADER_FONT
            elif c == OPTIONS_COL + 2:
                cell.fill = INPUT_FILL
    for key, label in ((k, lab) for lab, k in OPTION_LABELS.items() if k in OPTION_CHOICES):
        row = 1 + list(OPTION_LABELS).index(label) + 1
        dv = DataValidation(type="list", formula1=f'"{",".join(OPTION_CHOICES[key])}"')
        dv.add(f"{get_column_letter(OPTIONS_COL + 2)}{row}")
        ws.add_data_validation(dv)
    # Importance of each survey question, for the importance-performance table.
    top = len(options_rows(Options())) + 3
    ws.cell(row=top - 1, column=OPTIONS_COL + 1,
            value="Importance of survey questions (blank: left out)").font = BOLD
    _header(ws, top, OPTIONS_COL + 1, IMPORTANCE_HEADER)
    for r, question in enumerate(questions, start=top + 1):
        _value_cell(ws, r, OPTIONS_COL + 1, question)
        ws.cell(row=r, column=OPTIONS_COL + 2, value=importance.get(question)).fill = INPUT_FILL
        _value_cell(ws, r, OPTIONS_COL + 3, schema.SURVEY_QUESTIONS.get(question, ""))
    ws.column_dimensions[get_column_letter(OPTIONS_COL + 1)].width = 18
    ws.column_dimensions[get_column_letter(OPTIONS_COL + 2)].width = 14
    ws.column_dimensions[get_column_letter(OPTIONS_COL + 3)].width = 48


def _saaty_list() -> str:
    return ",".join(format_judgment(float(v)) for v in SAATY_SCALE)


def lower_formula(upper_ref: str) -> str:
    """Native formula for a lower-triangle cell: the reciprocal of the upper judgment.

    The upper cell may hold a number or text such as ``1/3`` (upper cells are formatted as
    text, so that Excel does not turn ``1/3`` into 3 January).
    """
    u = upper_ref
    return (
        f'=IF({u}="","",IF(ISNUMBER({u}),1/{u},'
        f'IFERROR(VALUE(MID({u},FIND("/",{u})+1,9))/VALUE(LEFT({u},FIND("/",{u})-1)),'
        f"1/VALUE({u}))))"
    )


@dataclass(frozen=True)
class JudgmentBlock:
    """Where one comparison matrix sits on the Judgments sheet (1-based rows/columns)."""

    level: str
    items: tuple[str, ...]
    title_row: int
    first_row: int  # first matrix row
    first_col: int  # first matrix column

    @property
    def n(self) -> int:
        return len(self.items)

    @property
    def matrix_ref(self) -> str:
        top = f"{get_column_letter(self.first_col)}{self.first_row}"
        end = f"{get_column_letter(self.first_col + self.n - 1)}{self.first_row + self.n - 1}"
        return f"{top}:{end}"

    @property
    def weight_col(self) -> int:
        return self.first_col + self.n + 1

    @property
    def cr_row(self) -> int:
        return self.first_row + self.n + 1


def judgment_layout(hierarchy: Hierarchy) -> list[JudgmentBlock]:
    """The blocks of the Judgments sheet: the groups first, then one per group."""
    blocks = []
    row = 3
    levels = [("Groups", tuple(hierarchy.groups))] + [
        (g, tuple(i.name for i in hierarchy.by_group[g])) for g in hierarchy.groups
    ]
    for level, items in levels:
        blocks.append(JudgmentBlock(level, items, row, row + 2, 2))
        row += len(items) + 6
    return blocks


def typed_judgments(matrix: Any) -> list[list[Any]]:
    """A matrix as the analyst types it: the upper triangle as text on Saaty's scale
    (``"1/3"``), the rest blank (diagonal 1 and lower reciprocals are the sheet's own)."""
    m = parse_matrix(matrix)
    n = m.shape[0]
    return [[format_judgment(float(m[i, j])) if i < j else None for j in range(n)]
            for i in range(n)]


def _block_result(typed: Sequence[Sequence[Any]], n: int) -> Any:
    """AHP of a block as typed (blanks estimated by Harker's method), ``None`` when it
    cannot be weighed yet (an item with no judgment at all, or a bad entry)."""
    try:
        return ahp([[typed[i][j] if i < j else (1 if i == j else None) for j in range(n)]
                    for i in range(n)])
    except InputError:
        return None


def _judgments_sheet(
    ws: Worksheet,
    hierarchy: Hierarchy,
    typed: Mapping[str, Sequence[Sequence[Any]] | None],
    cached: _Cached,
) -> None:
    """The Judgments sheet: one block per level, for the template and for ``sync-judgments``.

    ``typed`` holds each level's upper triangle as the analyst typed it (text such as
    ``"1/3"``, a number, or ``None`` for a pair without a judgment yet), keyed ``"groups"``
    and by group; each value is written as it is.
    """
    ws["A1"] = (
        "Pairwise judgments (Saaty 1-9 scale): is the row item more important than the column "
        "item? 1 equal, 3 moderately, 5 strongly, 7 very strongly, 9 extremely; 1/3 ... 1/9 the "
        "reverse. Type only the yellow upper triangle."
    )
    ws["A1"].font = BOLD
    saaty = DataValidation(
        type="list",
        formula1=f'"{_saaty_list()}"',
        allow_blank=True,
        showErrorMessage=True,
        errorTitle="Saaty scale",
        error="Choose a judgment from the list: 1/9 ... 1 ... 9.",
    )
    ws.add_data_validation(saaty)
    # New rule objects for every block: openpyxl numbers a rule once, so a shared rule
    # would carry the same priority on every block (the validator rejects repeats).
    def red() -> CellIsRule:
        return CellIsRule(operator="greaterThanOrEqual", formula=["0.1"], fill=BAD_FILL,
                          font=BAD_FONT)

    def green() -> CellIsRule:
        return CellIsRule(operator="lessThan", formula=["0.1"], fill=GOOD_FILL)

    sheet = schema.JUDGMENTS
    for block in judgment_layout(hierarchy):
        key = "groups" if block.level == "Groups" else block.level
        upper = typed.get(key) or [[None] * block.n for _ in range(block.n)]
        result = _block_result(upper, block.n) if block.n > 1 else None
        title = ws.cell(
            row=block.title_row,
            column=1,
            value="Groups" if block.level == "Groups" else block.level,
        )
        title.font = TITLE_FONT
        ws.cell(
            row=block.title_row,
            column=2,
            value="first-level groups"
            if block.level == "Groups"
            else f"indicators of {block.level}",
        )
        _header(ws, block.first_row - 1, block.first_col, block.items)
        for i, item in enumerate(block.items):
            ws.cell(row=block.first_row + i, column=1, value=item).font = BOLD
            for j in range(block.n):
                cell = ws.cell(row=block.first_row + i, column=block.first_col + j)
                if i == j:
                    cell.value = 1
                elif i < j:
                    _value_cell(ws, cell.row, cell.column, upper[i][j])
                    cell.number_format = LEDGER_TEXT_FORMAT
                    cell.fill = INPUT_FILL
                    saaty.add(cell.coordinate)
                else:
                    upper_cell = ws.cell(row=block.first_row + j, column=block.first_col + i)
                    cell.value = lower_formula(upper_cell.coordinate)
                    cell.number_format = FRACTION_FORMAT
                    cell.fill = FORMULA_FILL
                    x = judgment_value(upper[j][i])
                    cached.set(sheet, cell.coordinate, "" if x is None else 1.0 / x)
        if block.n > 1:
            _weights_and_cr(ws, block, result, cached, (red, green))
    _widths(ws, {"A": 22, **{get_column_letter(c): 14 for c in range(2, 20)}})


def _weights_and_cr(
    ws: Worksheet, block: JudgmentBlock, result: Any, cached: _Cached, rules: tuple[Any, Any]
) -> None:
    """Weight column, CR cell and verdict of one block, cached from ``result`` (blank when
    the block cannot be weighed yet); ``rules`` make the rules that colour the CR red or
    green (new ones for each block: each carries its own priority)."""
    sheet = schema.JUDGMENTS
    red, green = rules
    wcol = block.weight_col
    _header(ws, block.first_row - 1, wcol, ["Weight"])
    first_w = f"{get_column_letter(wcol)}{block.first_row}"
    last_w = f"{get_column_letter(wcol)}{block.first_row + block.n - 1}"
    ws[first_w] = ArrayFormula(f"{first_w}:{last_w}", f"=AHP_WEIGHTS({block.matrix_ref})")
    cached.set(sheet, first_w, "" if result is None else _stable(result.weights[0]))
    for i in range(1, block.n):
        ws.cell(row=block.first_row + i, column=wcol,
                value=None if result is None else _stable(result.weights[i]))
    for i in range(block.n):
        ws.cell(row=block.first_row + i, column=wcol).number_format = "0.000"
    cr_label = ws.cell(row=block.cr_row, column=1, value="CR")
    cr_label.font = BOLD
    cr_cell = ws.cell(row=block.cr_row, column=2, value=f"=AHP_CR({block.matrix_ref})")
    cr_cell.number_format = "0.000"
    cached.set(sheet, cr_cell.coordinate, "" if result is None else _stable(result.cr))
    ws.conditional_formatting.add(cr_cell.coordinate, red())
    ws.conditional_formatting.add(cr_cell.coordinate, green())
    verdict = ws.cell(
        row=block.cr_row,
        column=3,
        value=f'=IF({cr_cell.coordinate}<0.1,"consistent","inconsistent: revise")',
    )
    cached.set(
        sheet, verdict.coordinate,
        "" if result is None else "consistent" if result.consistent else "inconsistent: revise",
    )
    ws.conditional_formatting.add(
        verdict.coordinate,
        FormulaRule(formula=[f"{cr_cell.coordinate}>=0.1"], fill=BAD_FILL, font=BAD_FONT),
    )
    # Beside the cells that need the add-in, what a recipient without it sees and does.
    ws.cell(row=block.first_row - 1, column=wcol + 1, value=WEIGHT_NOTE).font = NOTE_FONT
    ws.cell(row=block.cr_row, column=5, value=ADDIN_NOTE).font = NOTE_FONT


def judgments_sheet_parts(
    hierarchy: Hierarchy, typed: Mapping[str, Sequence[Sequence[Any]] | None]
) -> tuple[bytes, bytes]:
    """The Judgments sheet alone, as the template lays it out: its worksheet XML (cached
    values set) and the ``styles.xml`` its style indices refer to.

    ``xlcrm sync-judgments`` takes both into a user's workbook
    (:mod:`xlcrm.book.judgments`), so that one builder makes the sheet for the template
    and for the sync.
    """
    cached = _Cached()
    wb = Workbook()
    ws = wb.active
    ws.title = schema.JUDGMENTS
    _judgments_sheet(ws, hierarchy, typed, cached)
    buffer = io.BytesIO()
    wb.save(buffer)
    saved = buffer.getvalue()
    parts = _read_parts(saved)
    part = sheet_parts(saved)[schema.JUDGMENTS]
    return set_cached_values(parts[part], cached.values.get(schema.JUDGMENTS, {})), parts[
        "xl/styles.xml"
    ]


def _strategies_sheet(ws: Worksheet, types: Sequence[CustomerType]) -> None:
    table = strategies_to_table(tuple(types))
    columns = list(table.columns)
    _header(ws, 1, 1, columns)
    for r, values in enumerate(table.itertuples(index=False, name=None), start=2):
        for c, value in enumerate(values, start=1):
            cell = _value_cell(ws, r, c, value)
            if columns[c - 1] not in ("Type", "Code"):
                cell.fill = INPUT_FILL
            # A type number at the left, as its code is: "1" and "HHH" do not read "1HHH".
            cell.alignment = Alignment(wrap_text=True, vertical="top", horizontal="left"
                                       if columns[c - 1] == "Type" else None)
    ws.freeze_panes = "A2"
    widths = [6, 7, 26, 70, 22, 18][: len(columns)]
    _widths(ws, widths)
    # Spreadsheet programs do not grow wrapped rows on open: a two-line strategy would
    # overlap the next row. Size each row for its longest wrapped cell.
    for r, values in enumerate(table.itertuples(index=False, name=None), start=2):
        lines = max(wrapped_lines(str(v), w) for v, w in zip(values, widths, strict=False)
                    if v is not None and v == v)
        _row_height(ws, r, lines)


def _result_sheet(
    ws: Worksheet,
    header: Sequence[str],
    formats: Mapping[str, str] | None = None,
    widths: Mapping[str, float] | None = None,
) -> None:
    _header(ws, 1, 1, header)
    for name, fmt in (formats or {}).items():
        ws.column_dimensions[get_column_letter(list(header).index(name) + 1)].number_format = fmt
    ws.freeze_panes = "C2"
    ws.cell(row=2, column=1, value="Run CRM > Resegment (or `xlcrm resegment`) to fill this sheet.")
    _widths(ws, [12, 30] + [13] * (len(header) - 2))
    # Wide text columns (reasons, messages) get room to be read without clicking.
    _widths(ws, {get_column_letter(list(header).index(n) + 1): w
                 for n, w in (widths or {}).items()})


def segments_header(hierarchy: Hierarchy) -> list[str]:
    """Column headers of the Segments sheet for ``hierarchy``: one High/Low column per group
    where :data:`xlcrm.schema.SEGMENTS_COLUMNS` has the default three."""
    lead = list(schema.SEGMENTS_COLUMNS[: len(schema.SCORES_LEAD)])
    tail = list(schema.SEGMENTS_COLUMNS[len(schema.SCORES_LEAD) + len(DEFAULT_GROUPS):])
    return [*lead, *hierarchy.groups, *tail]


def scores_header(hierarchy: Hierarchy) -> list[str]:
    """Column headers of the Scores sheet for ``hierarchy`` (a contract, see schema)."""
    return [
        *schema.SCORES_LEAD,
        *(i.name for i in hierarchy.indicators),
        *hierarchy.groups,
        *schema.SCORES_TAIL,
    ]


def customer_columns_of(hierarchy: Hierarchy) -> list[str]:
    """Headers of the Customers table of a workbook laid out for ``hierarchy``."""
    identity = list(schema.CUSTOMER_IDENTITY_COLUMNS)
    return [*identity, *(c for c in hierarchy.columns if c not in identity)]


# Dashboard column widths (characters). A holds type numbers, KPI names, customer IDs and the
# CLV segments ("2 HHL Promising but dormant"); C the
# customer names (the demo's longest is 56 characters); D..M figures; N (report.TEXT_COL)
# the wrapped strategies and churn reasons; P..Q the chart data.
DASH_WIDTHS = [28, 12, 52, *([12] * 10), 80, 3, 12, 14]
LINE = 15.0
"""Points per line of 11-point text (the sheets' default row height)."""
TILE_FILL = PatternFill("solid", fgColor="DDEBF7")
TILE_LABEL_FONT = Font(name="Calibri", bold=True, color="1F4E78")
TILE_FIGURE_FONT = Font(name="Calibri", bold=True, size=16, color="1F4E78")
TILE_CAPTION_FONT = Font(name="Calibri", italic=True, size=9, color="595959")
HEADER_WRAP = Alignment(wrap_text=True, vertical="bottom")
TEXT_WRAP = Alignment(wrap_text=True, vertical="top")
# Thousands and millions, so that a large sum fits its tile.
SHORT_MONEY = '[>=1000000]#,##0.0,,"M";[>=1000]#,##0,"k";0'


def wrapped_lines(text: str, width: float, *, bold: bool = False) -> int:
    """Lines ``text`` takes when wrapped at word breaks in a column ``width`` characters wide.

    A character of 11-point Calibri is on average narrower than the digit that defines the
    width unit; bold is about a tenth wider. The estimate errs on the side of one line more.
    """
    room = max(1.0, (width - 1) / (1.1 if bold else 1.0))
    lines, used = 1, 0.0
    for word in str(text).split():
        need = len(word) if not used else used + 1 + len(word)
        if need <= room:
            used = need
        else:
            lines, used = lines + 1, float(len(word))
    return lines


def _row_height(ws: Worksheet, row: int, lines: int, size: float = 11) -> None:
    ws.row_dimensions[row].height = max(LINE, lines * LINE * size / 11)


def _dashboard_sheet(ws: Worksheet, groups: Sequence[str]) -> None:
    ws["A1"] = "Customer value dashboard"
    ws["A1"].font = TITLE_FONT
    ws.cell(
        row=report.DASH_STAMP[0] + 1,
        column=1,
        value="Run CRM > Resegment (or `xlcrm resegment`) to fill the dashboard.",
    )
    _widths(ws, DASH_WIDTHS)
    titles = {
        report.DASH_TYPES_TITLE: f"By customer type ({', '.join(groups)})",
        report.DASH_ABC_TITLE: "By ABC class (Pareto)",
        report.DASH_CR_TITLE: "Consistency of judgments",
        report.DASH_TEST_TITLE: "Do the segments differ?",
        report.DASH_PARETO_TITLE: "Pareto curve",
        report.DASH_KPI_TITLE: "KPIs",
        report.DASH_RISK_TITLE: "Customers at risk of churning",
        report.DASH_OVERDUE_TITLE: "Contacts overdue",
        report.DASH_SURVEY_TITLE: "Survey",
        report.DASH_IPA_TITLE: "Importance-performance",
        report.DASH_CLV_TITLE: "Lifetime value (CLV)",
        **{title_at: title for _, title, title_at, _, _ in report.DASH_BREAKDOWNS},
        report.DASH_SENS_TITLE: "Do the decisions depend on the exact weights?",
        report.DASH_MOVES_TITLE: "Migration since the previous run",
        report.DASH_DOWN_TITLE: "Moved down since the previous run",
    }
    for (r, c), text in titles.items():
        ws.cell(row=r + 1, column=c + 1, value=text).font = BOLD
    _dashboard_tiles(ws)
    headers = dashboard_headers()
    for (r, c), names in headers.items():
        _header(ws, r + 1, c + 1, names)
        # The ABC block's words depend on its basis: the row fits the longer of both.
        variants = report.ABC_HEADERS.values() if (r, c) == report.DASH_ABC_HEADER else [names]
        lines = max(wrapped_lines(n, DASH_WIDTHS[c + j], bold=True)
                    for words in variants for j, n in enumerate(words))
        for j in range(len(names)):
            ws.cell(row=r + 1, column=c + 1 + j).alignment = HEADER_WRAP
        if c == 0:  # the blocks at the right (chart data) do not set their rows' heights
            _row_height(ws, r + 1, lines)
    _dashboard_text_rows(ws)
    _judgment_cells(ws)
    _migration_cells(ws)
    _dashboard_charts(ws)
    _dashboard_formats(ws, headers)
    _dashboard_page(ws)


def _judgment_cells(ws: Worksheet) -> None:
    """The raters' and repairs' headers ("CR Judgments Anna") wrap on three-line rows in the
    12-wide columns; the combined weights (a long text in C) wrap on two-line rows."""
    for header in (report.DASH_RATERS_HEADER, report.DASH_REPAIRS_HEADER):
        _row_height(ws, header[0] + 1, 3)
        for col in range(1, len(DASH_WIDTHS) + 1):
            ws.cell(row=header[0] + 1, column=col).alignment = HEADER_WRAP
    for row in range(report.DASH_RATERS_HEADER[0] + 2,
                     report.DASH_RATERS_HEADER[0] + 3 + report.MAX_GROUPS):
        _row_height(ws, row, 2)
        ws.cell(row=row, column=3).alignment = TEXT_WRAP


def _migration_cells(ws: Worksheet) -> None:
    """The migration matrices' labels (header row and first column) bold, counts whole."""
    for r0, c0 in (report.DASH_MOVES_TYPES, report.DASH_MOVES_CLASSES):
        for k in range(report.MATRIX_CELLS + 1):
            # type names head narrow count columns: wrapped (the writer keeps cell styles)
            ws.cell(row=r0 + 1, column=c0 + 1 + k).font = BOLD
            ws.cell(row=r0 + 1, column=c0 + 1 + k).alignment = WRAP
            ws.cell(row=r0 + 1 + k, column=c0 + 1).font = BOLD
        for k in range(report.MATRIX_CELLS):
            for j in range(1, report.MATRIX_CELLS + 1):
                ws.cell(row=r0 + 2 + k, column=c0 + 1 + j).number_format = "0"
    # Type names (Strategies' Name, e.g. "Promising but dormant") head 12-wide columns: the
    # header row is three lines tall, and the moved-down list's two type columns wrap on
    # two-line rows, so that no name is cut (row heights are kept by later runs).
    _row_height(ws, report.DASH_MOVES_TYPES[0] + 1, 3)
    first = report.DASH_DOWN_HEADER[0] + 2
    before = report.DASH_DOWN_COLUMNS.index("Type before") + 1
    for row in range(first, first + report.MOVED_DOWN_SHOWN):
        _row_height(ws, row, 2)
        for col in (before, before + 1):
            ws.cell(row=row, column=col).alignment = TEXT_WRAP


def dashboard_headers() -> dict[tuple[int, int], tuple[str, ...]]:
    """Header cells of the Dashboard's blocks as the template lays them out (0-based anchor
    -> header words)."""
    return {
        report.DASH_TYPES_HEADER: report.DASH_TYPES_COLUMNS,
        report.DASH_TYPES_STRATEGY: ("Strategy",),
        report.DASH_ABC_HEADER: report.DASH_ABC_COLUMNS,
        report.DASH_CR_HEADER: report.DASH_CR_COLUMNS,
        report.DASH_PARETO_HEADER: report.DASH_PARETO_COLUMNS,
        report.DASH_TEST_HEADER: report.DASH_TEST_COLUMNS,
        report.DASH_KPI_HEADER: report.DASH_KPI_COLUMNS,
        report.DASH_RISK_HEADER: report.DASH_RISK_COLUMNS,
        report.DASH_RISK_REASON: ("Churn reason",),
        report.DASH_OVERDUE_HEADER: report.DASH_OVERDUE_COLUMNS,
        report.DASH_IPA_HEADER: report.DASH_IPA_COLUMNS,
        report.DASH_CLV_HEADER: report.DASH_CLV_COLUMNS,
        **{header_at: report.DASH_BREAKDOWN_COLUMNS
           for *_, header_at, _ in report.DASH_BREAKDOWNS},
        report.DASH_DOWN_HEADER: report.DASH_DOWN_COLUMNS,
    }


def _dashboard_tiles(ws: Worksheet) -> None:
    """The headline row: label, figure and caption of each tile, on a light fill."""
    r, c = report.DASH_TILES
    formats = ("0", "0", PERCENT, PERCENT, SHORT_MONEY, "0", "0")
    labels = max(wrapped_lines(n, DASH_WIDTHS[c + j], bold=True)
                 for j, n in enumerate(report.TILE_NAMES))
    for j, (name, fmt) in enumerate(zip(report.TILE_NAMES, formats, strict=True)):
        label = ws.cell(row=r + 1, column=c + 1 + j, value=name)
        figure = ws.cell(row=r + 2, column=c + 1 + j)
        caption = ws.cell(row=r + 3, column=c + 1 + j)
        for cell, font in ((label, TILE_LABEL_FONT), (figure, TILE_FIGURE_FONT),
                           (caption, TILE_CAPTION_FONT)):
            cell.fill, cell.font = TILE_FILL, font
            cell.alignment = Alignment(wrap_text=True, vertical="top", horizontal="left")
        figure.number_format = fmt
    _row_height(ws, r + 1, labels)
    _row_height(ws, r + 2, 1, size=16)
    # Captions are at most TILE_CAPTION_LINES lines of 9-point text (report keeps them short).
    _row_height(ws, r + 3, TILE_CAPTION_LINES, size=9)


TILE_CAPTION_LINES = 3


def _dashboard_text_rows(ws: Worksheet) -> None:
    """Rows whose strategy or churn reason wraps in the text column get two or three lines;
    type numbers sit at the left of column A, away from the codes in B."""
    text = report.TEXT_COL + 1
    for header, n, lines in ((report.DASH_TYPES_STRATEGY, report.N_TYPES, 2),
                             (report.DASH_RISK_REASON, report.AT_RISK_SHOWN, 2)):
        for row in range(header[0] + 2, header[0] + 2 + n):
            ws.cell(row=row, column=text).alignment = TEXT_WRAP
            _row_height(ws, row, lines)
            for col in range(1, text):
                ws.cell(row=row, column=col).alignment = Alignment(vertical="top",
                                                                   horizontal="left"
                                                                   if col == 1 else None)
    for name, row in report.DASH_KPI_ROWS.items():
        _row_height(ws, row + 1, wrapped_lines(name, DASH_WIDTHS[0]))
        ws.cell(row=row + 1, column=1).alignment = TEXT_WRAP
    # Names start a space to the right of the figures left of them (value scores, counts).
    for header, n in ((report.DASH_TYPES_HEADER, report.N_TYPES),
                      (report.DASH_RISK_HEADER, report.AT_RISK_SHOWN),
                      (report.DASH_OVERDUE_HEADER, report.OVERDUE_SHOWN)):
        for row in range(header[0] + 1, header[0] + 2 + n):
            cell = ws.cell(row=row, column=3)
            cell.alignment = Alignment(indent=1, vertical=cell.alignment.vertical,
                                       wrap_text=cell.alignment.wrap_text)
    # The validation block's tests and groups are phrases in narrow columns.
    for row in range(report.DASH_TEST_HEADER[0] + 2,
                     report.DASH_TEST_HEADER[0] + 2 + report.TEST_ROWS):
        for col in (2, 5):
            ws.cell(row=row, column=col).alignment = TEXT_WRAP
        _row_height(ws, row, 3)


def _dashboard_formats(ws: Worksheet, headers: Mapping[tuple[int, int], Sequence[str]]) -> None:
    """Number formats the written values take over (the writer keeps a cell's style)."""
    share = {"Share of customers": PERCENT, "Share of revenue": PERCENT,
             "Share of summed value scores": PERCENT}
    formats = [
        (report.DASH_TYPES_HEADER, report.N_TYPES,
         {**share, "Summed value score": ONE, "Mean value score": ONE, "Revenue 12m": "#,##0"}),
        (report.DASH_ABC_HEADER, 3, {"Share of customers": PERCENT, "Share of revenue": PERCENT,
                                     "Revenue 12m": "#,##0", "Mean revenue": "#,##0"}),
        (report.DASH_CR_HEADER, report.MAX_GROUPS + 1,
         {c: "0.000" for c in ("LambdaMax", "CI", "RI", "CR")}),
        (report.DASH_PARETO_HEADER, report.PARETO_POINTS,
         {c: PERCENT for c in report.DASH_PARETO_COLUMNS}),
        (report.DASH_RISK_HEADER, report.AT_RISK_SHOWN,
         {"Value score": ONE, "Value at risk": "#,##0"}),
        # 3 classes, then the types (16 formatted: the default 8, or 4 groups' 16)
        (report.DASH_CLV_HEADER, 3 + 16, {"CLV": "#,##0", "Share of CLV": PERCENT,
                                          "Mean CLV": "#,##0", "Mean P(alive)": "0.00"}),
        (report.DASH_DOWN_HEADER, report.MOVED_DOWN_SHOWN, {"Value score": ONE}),
        (report.DASH_OVERDUE_HEADER, report.OVERDUE_SHOWN,
         {"Value score": ONE, "Next contact due": "yyyy-mm-dd", "Days overdue": "0",
          "Last contact": "yyyy-mm-dd"}),
        *((header_at, shown, {"Share of customers": PERCENT, "Revenue 12m": "#,##0",
                              "Share of revenue": PERCENT, "Mean value score": ONE,
                              **{c: "0" for c in ("A", "B", "C", "At risk", "Overdue",
                                                  "Moved down")}})
          for *_, header_at, shown in report.DASH_BREAKDOWNS),
    ]
    for (r, c), n, by_name in formats:
        names = list(headers[(r, c)])
        for name, fmt in by_name.items():
            col = c + 1 + names.index(name)
            for row in range(r + 2, r + 2 + n):
                ws.cell(row=row, column=col).number_format = fmt
    for row in range(report.DASH_TYPES_HEADER[0] + 2,
                     report.DASH_TYPES_HEADER[0] + 2 + report.N_TYPES):
        ws.cell(row=row, column=1).alignment = Alignment(horizontal="left", vertical="top")
    for row in range(report.DASH_TEST_HEADER[0] + 2,
                     report.DASH_TEST_HEADER[0] + 2 + report.TEST_ROWS):
        ws.cell(row=row, column=3).number_format = "0.000"
        ws.cell(row=row, column=4).number_format = "0.0E+00"
        ws.cell(row=row, column=5).number_format = "0.00"  # EffectSize
    kpi_formats = {"share": PERCENT, "days": ONE, "index 0-100": ONE,
                   "complaints per active customer": "0.00"}
    for kpi, row in report.DASH_KPI_ROWS.items():
        fmt = kpi_formats.get(KPI_UNITS[kpi], "0")
        for col in range(2, len(report.DASH_KPI_COLUMNS) + 1):
            ws.cell(row=row + 1, column=col).number_format = fmt
    survey_formats = ("0", ONE, "0.00", "0")
    for i, fmt in enumerate(survey_formats):
        ws.cell(row=report.DASH_SURVEY_ROWS[0] + 1 + i, column=4).number_format = fmt
    # Raters: CRs and the consensus from column D on (as many columns as rater sheets);
    # Repairs: the CR now and after, columns G and H.
    for row in range(report.DASH_RATERS_HEADER[0] + 2,
                     report.DASH_RATERS_HEADER[0] + 3 + report.MAX_GROUPS):
        for col in range(4, 27):
            ws.cell(row=row, column=col).number_format = "0.000"
    for row in range(report.DASH_REPAIRS_HEADER[0] + 2,
                     report.DASH_REPAIRS_HEADER[0] + 2 + report.REPAIRS_SHOWN):
        for col in (7, 8):
            ws.cell(row=row, column=col).number_format = "0.000"
    total_clv = report.DASH_CLV_ROWS[0] + report.CLV_FIGURES.index("Total CLV")
    ws.cell(row=total_clv + 1, column=3).number_format = "#,##0"
    for i in range(report.MAX_QUESTIONS):
        row = report.DASH_IPA_HEADER[0] + 2 + i
        for col, fmt in ((2, "0.0"), (3, "0.00"), (4, ONE)):
            ws.cell(row=row, column=col).number_format = fmt
    for r0 in (report.DASH_PARETO_LINE[0], report.DASH_IPA_LINES[0]):
        for row in range(r0 + 2, r0 + 6):
            for col in (report.DASH_PARETO_LINE[1] + 1, report.DASH_PARETO_LINE[1] + 2):
                ws.cell(row=row, column=col).number_format = "0.00"


def _dashboard_page(ws: Worksheet) -> None:
    """Print the decision blocks (rows 1..DASH_PRINT_ROWS, columns A..N) one page wide,
    landscape A4: three pages, one per part (tests/test_dashboard_layout.py counts them)."""
    last = get_column_letter(report.DASH_PRINT_COLS)
    ws.print_area = f"A1:{last}{report.DASH_PRINT_ROWS}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_margins.left = ws.page_margins.right = 0.4
    ws.page_margins.top = ws.page_margins.bottom = 0.5
    # Each list on a page of its own: the headline, types, classes and KPIs; the customers
    # at risk; the overdue contacts.
    for title in (report.DASH_RISK_TITLE, report.DASH_OVERDUE_TITLE):
        ws.row_breaks.append(Break(id=title[0]))  # a break after the row above the title


def _dashboard_charts(ws: Worksheet) -> None:
    at = chart_rows(ws, 5)
    t_row = report.DASH_TYPES_HEADER[0] + 1  # 1-based header row
    names = Reference(ws, min_col=3, min_row=t_row + 1, max_row=t_row + report.N_TYPES)
    types = list(report.DASH_TYPES_COLUMNS)

    def bar(title: str, col: int, header_row: int, n: int, cats: Reference, y: str) -> BarChart:
        chart = BarChart()
        chart.type = "col"
        chart.title = title
        chart.y_axis.title = y
        chart.legend = None
        data = Reference(ws, min_col=col, min_row=header_row, max_row=header_row + n)
        chart.add_data(data, titles_from_data=True)
        chart.set_categories(cats)
        chart.height, chart.width = 7, 14
        return chart

    ws.add_chart(bar("Customers per type", 1 + types.index("Customers"), t_row,
                     report.N_TYPES, names, "customers"), f"S{at[0]}")
    ws.add_chart(bar("Share of revenue per type", 1 + types.index("Share of revenue"), t_row,
                     report.N_TYPES, names, "share of revenue"), f"S{at[1]}")
    a_row = report.DASH_ABC_HEADER[0] + 1
    abc = list(report.DASH_ABC_COLUMNS)
    abc_names = Reference(ws, min_col=2, min_row=a_row + 1, max_row=a_row + 3)
    ws.add_chart(bar("Customers per ABC class", 1 + abc.index("Customers"), a_row, 3,
                     abc_names, "customers"), f"AA{at[0]}")
    ws.add_chart(bar("Share of revenue per ABC class", 1 + abc.index("Share of revenue"),
                     a_row, 3, abc_names, "share of what the classes are ranked by"), f"AA{at[1]}")
    ws.add_chart(_pareto_chart(ws), f"S{at[2]}")
    ws.add_chart(_ipa_chart(ws), f"AA{at[2]}")
    _kpi_charts(ws, at)


CHART_POINTS = 7 / 2.54 * 72
"""Height of a Dashboard chart (7 cm) in points."""


def chart_rows(ws: Worksheet, count: int, top: int = 2) -> list[int]:
    """1-based rows where ``count`` charts stacked from row ``top`` start, each one row
    below the end of the one above: the rows' heights (tall wrapped rows too) are summed,
    so charts neither overlap nor leave gaps."""
    out, row = [], top
    for _ in range(count):
        out.append(row)
        used = 0.0
        while used < CHART_POINTS:
            used += ws.row_dimensions[row].height or LINE
            row += 1
        row += 1
    return out


def _line_series(ws: Worksheet, anchor: tuple[int, int], first: int, title: str) -> Series:
    """A dashed red line through two points of the chart-data cells at ``anchor``
    (rows ``first`` and ``first + 1`` below its header)."""
    row, col = anchor[0] + 2 + first, anchor[1] + 1  # 1-based first point
    xs = Reference(ws, min_col=col, min_row=row, max_row=row + 1)
    ys = Reference(ws, min_col=col + 1, min_row=row, max_row=row + 1)
    line = Series(ys, xs, title=title)
    line.marker.symbol = "none"
    line.smooth = False
    # Red: a grey line would vanish into a gridline (the 80 % cut-off lies on one).
    line.graphicalProperties.line.solidFill = "C00000"
    line.graphicalProperties.line.dashStyle = "dash"
    line.graphicalProperties.line.width = 19050
    return line


def _pareto_chart(ws: Worksheet) -> ScatterChart:
    """Cumulative share by share of customers, both axes 0-100 %, with the class A cut-off."""
    p_row = report.DASH_PARETO_HEADER[0] + 1
    p_col = report.DASH_PARETO_HEADER[1] + 1
    pareto = ScatterChart(scatterStyle="lineMarker")
    pareto.title = "Pareto curve: cumulative share by share of customers"
    pareto.style = 13
    pareto.x_axis.title = "share of customers (best first)"
    pareto.y_axis.title = "cumulative share"
    xs = Reference(ws, min_col=p_col, min_row=p_row + 1, max_row=p_row + report.PARETO_POINTS)
    ys = Reference(ws, min_col=p_col + 1, min_row=p_row, max_row=p_row + report.PARETO_POINTS)
    series = Series(ys, xs, title_from_data=True)
    series.marker.symbol = "none"
    series.smooth = False
    pareto.series.append(series)
    pareto.series.append(_line_series(ws, report.DASH_PARETO_LINE, 0, "class A cut-off"))
    for axis in (pareto.x_axis, pareto.y_axis):
        axis.scaling.min, axis.scaling.max, axis.majorUnit = 0, 1, 0.2
        axis.number_format = "0%"
        axis.delete = False
    pareto.legend = None
    pareto.height, pareto.width = 7, 14
    return pareto


def _sensitivity_sheet(ws: Worksheet) -> None:
    """Titles, headers, number formats and the chart of the Sensitivity sheet."""
    ws["A1"] = "Sensitivity of the customer types and ABC classes to the AHP weights"
    ws["A1"].font = TITLE_FONT
    ws.cell(row=report.SENS_STAMP[0] + 1, column=1,
            value="Run CRM > Resegment (or `xlcrm resegment`) to fill this sheet.")
    for (r, c), text in ((report.SENS_CHART_TITLE, "Share of customers whose type changes"),
                         (report.SENS_TABLE_TITLE, "Every move"),
                         (report.SENS_CORR_TITLE, "Spearman correlation of the indicator scores")):
        ws.cell(row=r + 1, column=c + 1, value=text).font = BOLD
    for (r, c), names in ((report.SENS_CHART_HEADER, report.SENS_CHART_COLUMNS),
                          (report.SENS_TABLE_HEADER, report.SENS_TABLE_COLUMNS)):
        _header(ws, r + 1, c + 1, names)
    # The long table's formats by column; the chart block above it has its own cells'.
    table = list(report.SENS_TABLE_COLUMNS)
    for name, fmt in (("Move", "+0%;-0%;0%"), ("WeightBefore", "0.000"), ("WeightAfter", "0.000"),
                      ("TypeChangeShare", PERCENT), ("ABCChangeShare", PERCENT),
                      ("ChangedShare", PERCENT)):
        ws.column_dimensions[get_column_letter(table.index(name) + 1)].number_format = fmt
    top = report.SENS_CHART_HEADER[0] + 2  # first data row, 1-based
    for row in range(top, top + report.SENS_CHART_ITEMS):
        ws.cell(row=row, column=3).number_format = "0.000"
        for col in range(4, len(report.SENS_CHART_COLUMNS) + 1):
            ws.cell(row=row, column=col).number_format = PERCENT
    first = report.SENS_CORR_HEADER[1] + 2
    for col in range(first, first + 135):  # 9 groups x 15 indicators at most
        ws.column_dimensions[get_column_letter(col)].number_format = "0.00"
    _widths(ws, [16, 22, 12, 13, 13, 13, 16, 12, 16, 10, 13])
    ws.column_dimensions[get_column_letter(first - 1)].width = 22
    chart = BarChart()
    chart.type = "bar"  # horizontal: the weights' names read along the axis
    chart.grouping = "clustered"
    chart.title = "Customers whose type changes when one weight moves"
    chart.y_axis.title = "share of customers"
    moves = len(report.SENS_CHART_COLUMNS) - 3
    data = Reference(ws, min_col=4, max_col=3 + moves, min_row=top - 1,
                     max_row=top + report.SENS_CHART_ITEMS - 1)
    chart.add_data(data, titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=2, min_row=top,
                                   max_row=top + report.SENS_CHART_ITEMS - 1))
    chart.x_axis.scaling.orientation = "maxMin"  # the most sensitive weight on top
    chart.height, chart.width = 12, 18  # room for the 15 weights' names
    ws.add_chart(chart, "M2")


def _kpi_charts(ws: Worksheet, at: Sequence[int]) -> None:
    """One bar per group (Overall, Type 1..8, Class A..C) for the KPIs worth comparing."""
    header = report.DASH_KPI_HEADER[0] + 1  # 1-based
    last_col = len(report.DASH_KPI_COLUMNS)
    groups = Reference(ws, min_col=2, max_col=last_col, min_row=header)
    charts = (
        ("Churn rate", "share", f"S{at[3]}"),
        ("Repeat-purchase rate", "share", f"AA{at[3]}"),
        ("Complaint rate", "complaints per active customer", f"S{at[4]}"),
        ("Satisfaction index", "index 0-100", f"AA{at[4]}"),
    )
    for kpi, unit, anchor in charts:
        row = report.DASH_KPI_ROWS[kpi] + 1
        chart = BarChart()
        chart.type = "col"
        chart.title = f"{kpi}: overall, per type and per ABC class"
        chart.y_axis.title = unit
        chart.legend = None
        chart.add_data(Reference(ws, min_col=2, max_col=last_col, min_row=row), from_rows=True)
        chart.set_categories(groups)
        chart.height, chart.width = 7, 14
        ws.add_chart(chart, anchor)


def _ipa_chart(ws: Worksheet) -> ScatterChart:
    """Importance (x) against performance (y) per survey question: the IPA grid.

    One series per question row, named by its Question cell and labelled with that name,
    so that each point says which question it is; two dashed lines at the mean importance
    and the mean performance mark the quadrants the table names.
    """
    top = report.DASH_IPA_HEADER[0] + 2  # first data row, 1-based
    col = report.DASH_IPA_HEADER[1] + 1
    names = list(report.DASH_IPA_COLUMNS)
    chart = ScatterChart(scatterStyle="lineMarker")
    chart.title = "Importance-performance per survey question"
    chart.style = 13
    chart.x_axis.title = "importance"
    chart.y_axis.title = "performance (mean answer)"
    for i in range(report.MAX_QUESTIONS):
        row = top + i
        xs = Reference(ws, min_col=col + names.index("Importance"), min_row=row)
        ys = Reference(ws, min_col=col + names.index("Performance"), min_row=row)
        series = Series(ys, xs, title_from_data=False)
        series.tx = SeriesLabel(strRef=StrRef(f"'{schema.DASHBOARD}'!$A${row}"))
        series.marker.symbol = "circle"
        series.marker.size = 8
        # Without an explicit fill some programs draw the markers in the background colour.
        series.marker.graphicalProperties = GraphicalProperties(solidFill="4472C4")
        series.marker.graphicalProperties.line.solidFill = "4472C4"
        series.graphicalProperties.line.noFill = True
        series.dLbls = DataLabelList(showSerName=True, showVal=False, showCatName=False,
                                     showLegendKey=False, showPercent=False,
                                     showBubbleSize=False, dLblPos="r")
        chart.series.append(series)
    chart.series.append(_line_series(ws, report.DASH_IPA_LINES, 0, "mean importance"))
    chart.series.append(_line_series(ws, report.DASH_IPA_LINES, 2, "mean performance"))
    for axis in (chart.x_axis, chart.y_axis):
        axis.delete = False
    chart.legend = None
    chart.height, chart.width = 7, 14
    return chart


def _xlwings_conf_sheet(ws: Worksheet) -> None:
    # xlwings reads its settings from a sheet named "xlwings.conf" starting at A1; only
    # UDF Modules is set, so interpreter settings come from the user's add-in configuration.
    ws["A1"] = "UDF Modules"
    ws["B1"] = "udfs"
    ws.sheet_state = "hidden"


def _rubric_validations(ws: Worksheet, hierarchy: Hierarchy, columns: Sequence[str]) -> None:
    for indicator in hierarchy.indicators:
        if indicator.method != "rubric" or indicator.column not in columns:
            continue
        labels = (
            ",".join(dict(indicator.params)["labels"].keys())
            if isinstance(dict(indicator.params).get("labels"), Mapping)
            else None
        )
        if not labels:
            continue
        col = get_column_letter(list(columns).index(indicator.column) + 1)
        _list_validation(ws, col, labels, indicator.name)


def _list_validation(ws: Worksheet, col: str, labels: str, title: str) -> None:
    """A drop-down of ``labels`` (comma-separated) on column ``col`` below the header.

    A warning, not a stop: an unusual label is allowed and reported by Check.
    """
    dv = DataValidation(
        type="list",
        formula1=f'"{labels}"',
        allow_blank=True,
        errorStyle="warning",
        showErrorMessage=True,
        errorTitle=title,
        error=f"Expected one of: {labels.replace(',', ', ')}.",
    )
    dv.add(f"{col}2:{col}1048576")
    ws.add_data_validation(dv)


def _contact_validations(ws: Worksheet) -> None:
    """Drop-downs for Role and Stance on Contacts.

    A warning, not a stop: ``DM``, ``Decision-maker`` or ``Entscheider`` are read as the
    decision maker (:mod:`xlcrm.operations.contacts`), and a word xlcrm does not know is
    reported at its cell by Check.
    """
    columns = list(schema.CONTACT_SHEET_COLUMNS)
    for header, words in (("Role", schema.CONTACT_ROLES), ("Stance", schema.CONTACT_STANCES)):
        col = get_column_letter(columns.index(header) + 1)
        _list_validation(ws, col, ",".join(words), header)


def build_workbook(
    ledger: Ledger | None = None,
    *,
    hierarchy: Hierarchy | None = None,
    judgments: Mapping[str, Any] | None = None,
    types: Sequence[CustomerType] = DEFAULT_TYPES,
    importance: Mapping[str, float] | None = None,
    options: Options | None = None,
) -> bytes:
    """Build the CRM workbook (``.xlsm`` bytes): the template, or a copy filled with ``ledger``.

    Parameters
    ----------
    ledger : Ledger, optional
        Ledger tables to put on the ledger sheets (the demo); empty tables when omitted.
    hierarchy, judgments, types : optional
        Settings to lay out; the defaults when omitted.
    importance : mapping of str to float, optional
        Survey question -> importance for the Indicators sheet's importance block (blank
        importances when omitted: no importance-performance table until the analyst fills
        them).
    options : Options, optional
        The options block on the Indicators sheet (the defaults when omitted).

    The Customers table has the identity columns, then every column the hierarchy reads
    (a figure xlcrm computes from the ledger, such as ``Revenue12m``, included: typed
    there, it is checked against the ledger; left blank, it is computed).
    """
    hierarchy = hierarchy or default_hierarchy()
    judgments = judgments or default_judgments()
    cached = _Cached()
    wb = Workbook()
    wb.code_name = "ThisWorkbook"
    # Recalculating on open would run the worksheet functions before Python is reachable
    # and replace the cached numbers a recipient without Python must see.
    wb.calculation.fullCalcOnLoad = False
    wb.calculation.calcId = 191029
    wb.properties.creator = "xlcrm"
    wb.properties.lastModifiedBy = "xlcrm"
    wb.properties.created = BUILD_TIME
    wb.properties.modified = BUILD_TIME
    wb.properties.title = "xlcrm customer ledger"
    sheets: dict[str, Worksheet] = {}
    for i, name in enumerate((*SHEET_ORDER, XLWINGS_CONF)):
        ws = wb.active if i == 0 else wb.create_sheet()
        ws.title = name
        ws.sheet_properties.codeName = CODE_NAMES[name]
        sheets[name] = ws

    _help_sheet(sheets[schema.HELP])
    customer_columns = customer_columns_of(hierarchy)
    if ledger is not None:
        # A figure xlcrm computes from the ledger need not be a column of a given ledger.
        customer_columns = [c for c in customer_columns
                            if c in ledger.customers.columns or c not in DERIVABLE]
    ledger_tables = {
        schema.CUSTOMERS: ("tblCustomers", customer_columns, [schema.CUSTOMER_ID, "Phone"], []),
        schema.TRANSACTIONS: (
            "tblTransactions",
            list(schema.TRANSACTION_COLUMNS),
            [schema.CUSTOMER_ID, schema.DOCUMENT_NO],
            ["Date"],
        ),
        schema.INTERACTIONS: (
            "tblInteractions",
            list(schema.INTERACTION_COLUMNS),
            [schema.CUSTOMER_ID],
            ["Date", "ResolvedDate"],
        ),
        schema.SURVEY: (
            "tblSurvey",
            [*schema.SURVEY_ID_COLUMNS, *schema.SURVEY_QUESTIONS],
            [schema.CUSTOMER_ID],
            ["Date"],
        ),
        schema.CONTACTS: (
            "tblContacts",
            list(schema.CONTACT_SHEET_COLUMNS),
            [schema.CUSTOMER_ID, "Phone"],
            ["LastContact"],
        ),
    }
    frames = {}
    if ledger is not None:
        frames = {
            schema.CUSTOMERS: ledger.customers,
            schema.TRANSACTIONS: ledger.transactions,
            schema.INTERACTIONS: ledger.interactions,
            schema.SURVEY: ledger.survey,
            schema.CONTACTS: ledger.contacts,
        }
        if ledger.survey is not None:
            extra = [c for c in ledger.survey.columns if c not in schema.SURVEY_ID_COLUMNS]
            ledger_tables[schema.SURVEY] = (
                "tblSurvey",
                [*schema.SURVEY_ID_COLUMNS, *extra],
                [schema.CUSTOMER_ID],
                ["Date"],
            )
    for name, (table_name, columns, text_cols, date_cols) in ledger_tables.items():
        frame = frames.get(name)
        rows = _frame_values(frame, columns) if frame is not None else None
        _table_sheet(
            sheets[name], table_name, columns, rows, text_columns=text_cols, date_columns=date_cols
        )
    _rubric_validations(sheets[schema.CUSTOMERS], hierarchy, customer_columns)
    _contact_validations(sheets[schema.CONTACTS])
    # Wide enough for the people, the drop-downs' words and the e-mail addresses.
    _widths(sheets[schema.CONTACTS], [12, 22, 16, 12, 18, 34, 13])

    survey_columns = ledger_tables[schema.SURVEY][1]
    _indicators_sheet(
        sheets[schema.INDICATORS],
        hierarchy,
        [c for c in survey_columns if c not in schema.SURVEY_ID_COLUMNS],
        importance or {},
        options or Options(),
    )
    _judgments_sheet(
        sheets[schema.JUDGMENTS],
        hierarchy,
        {k: typed_judgments(v) if v is not None else None for k, v in judgments.items()},
        cached,
    )
    _strategies_sheet(sheets[schema.STRATEGIES], types)
    score_columns = scores_header(hierarchy)
    _result_sheet(
        sheets[schema.SCORES],
        score_columns,
        {**{name: ONE for name in score_columns[2:-len(schema.SCORES_TAIL)]
            + ["Value", "Percentile"]}, "ImputedWeight": PERCENT},
    )
    carried = {"AccountManager": 18, "Industry": 16, "Region": 12}
    _result_sheet(sheets[schema.SEGMENTS], segments_header(hierarchy),
                  widths={**carried, "Owner": 22})
    _result_sheet(sheets[schema.PROBLEMS], schema.PROBLEMS_COLUMNS,
                  widths={"Severity": 10, "Sheet": 14, "Cell": 12, "Problem": 80, "WhatToDo": 70})
    money, day = "#,##0", "yyyy-mm-dd"
    _result_sheet(
        sheets[schema.ACTIVITY],
        ACTIVITY_COLUMNS,
        {"FirstOrder": day, "LastOrder": day, "Revenue12m": money, "RevenuePrev12m": money,
         "GrowthRate": PERCENT, "RecencyDays": "0", "LastContact": day, "NextContactDue": day,
         "Satisfaction": ONE, "PAlive": "0.00", "ExpectedOrders": ONE,
         "ExpectedOrderValue": money, "CLV": money, "DaysSinceDecisionMakerContact": "0",
         "RelationshipStrength": ONE},
        {"RFMSegment": 18, "ChurnReason": 70, **carried},
    )
    _dashboard_sheet(sheets[schema.DASHBOARD], hierarchy.groups)
    _sensitivity_sheet(sheets[schema.SENSITIVITY])
    _xlwings_conf_sheet(sheets[XLWINGS_CONF])
    wb.defined_names["CustomerIDs"] = DefinedName(
        "CustomerIDs", attr_text="tblCustomers[CustomerID]"
    )

    buffer = io.BytesIO()
    wb.save(buffer)
    saved = buffer.getvalue()
    parts = _read_parts(saved)
    # openpyxl stamps the save time into the core properties; the build must not vary.
    parts["docProps/core.xml"] = re.sub(
        rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
        rb"\g<1>" + BUILD_TIME.strftime("%Y-%m-%dT%H:%M:%SZ").encode() + rb"\g<2>",
        parts["docProps/core.xml"],
    )
    parts["xl/styles.xml"] = fonts_in_schema_order(parts["xl/styles.xml"])
    part_of = sheet_parts(saved)
    for sheet, values in cached.values.items():
        part = part_of[sheet]
        parts[part] = set_cached_values(parts[part], values)
    xlsx = write_zip(parts)
    vba = template_vba_project([CODE_NAMES[s] for s in (*SHEET_ORDER, XLWINGS_CONF)])
    xlsm = make_xlsm(xlsx, vba)
    return inject_ribbon(xlsm, CUSTOMUI_PATH.read_bytes())


# CT_Font's children in the order the Open XML SDK validator (and Excel) expects.
FONT_ORDER = ("b", "i", "strike", "condense", "extend", "outline", "shadow", "u", "vertAlign",
              "sz", "color", "name", "family", "charset", "scheme")
_FONT = re.compile(rb"<font>(.*?)</font>", re.S)
_FONT_CHILD = re.compile(rb"<(\w+)\b[^>]*/>")


def fonts_in_schema_order(styles_xml: bytes) -> bytes:
    """``styles.xml`` with the children of every ``<font>`` in schema order.

    openpyxl writes ``<name>`` first, which the schema places after ``<b>``, ``<sz>`` and
    ``<color>``; a strict reader rejects the styles part. Only the order changes.
    """
    rank = {name.encode(): i for i, name in enumerate(FONT_ORDER)}

    def reorder(m: re.Match[bytes]) -> bytes:
        children = [(c.group(1), c.group(0)) for c in _FONT_CHILD.finditer(m.group(1))]
        if b"".join(xml for _, xml in children) != re.sub(rb">\s+<", b"><", m.group(1)):
            raise ValueError(f"unexpected font element in styles.xml: {m.group(0)[:200]!r}")
        ordered = sorted(children, key=lambda c: rank[c[0]])
        return b"<font>" + b"".join(xml for _, xml in ordered) + b"</font>"

    return _FONT.sub(reorder, styles_xml)


def _read_parts(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {info.filename: z.read(info) for info in z.infolist()}


_FORMULA_CELL = re.compile(
    r'<c r="(?P<ref>[A-Z]+[0-9]+)"(?P<attrs>[^>]*)>(?P<f><f[^>]*>.*?</f>|<f[^>]*/>)'
    r"\s*(?:<v\s*/>|<v>.*?</v>)?</c>",
    re.S,
)


def _cached_cell(ref: str, attrs: str, formula: str, value: Any) -> str:
    attrs = re.sub(r'\s*t="[^"]*"', "", attrs)
    if isinstance(value, str):
        return f'<c r="{ref}"{attrs} t="str">{formula}<v>{escape_text(value)}</v></c>'
    if isinstance(value, bool):
        return f'<c r="{ref}"{attrs} t="b">{formula}<v>{int(value)}</v></c>'
    return f'<c r="{ref}"{attrs}>{formula}<v>{float(value)!r}</v></c>'


def set_cached_values(sheet_xml: bytes, values: Mapping[str, Any]) -> bytes:
    """Give formula cells in ``sheet_xml`` their cached values (openpyxl writes ``<v />``)."""
    done: set[str] = set()

    def repl(m: re.Match[str]) -> str:
        ref = m.group("ref")
        if ref not in values:
            return m.group(0)
        done.add(ref)
        return _cached_cell(ref, m.group("attrs"), m.group("f"), values[ref])

    text = _FORMULA_CELL.sub(repl, sheet_xml.decode("utf-8"))
    missing = set(values) - done
    if missing:
        raise ValueError(f"no formula cells {sorted(missing)} in sheet XML for cached values")
    return text.encode("utf-8")


def write_template(path: Path = TEMPLATE_PATH) -> Path:
    """Build the template and write it to ``path`` (default: ``workbook/CRM_Template.xlsm``)."""
    path.write_bytes(build_workbook())
    return path
