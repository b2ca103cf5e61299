"""One function from ledger tables to every result table.

The command line (through the workbook file) and the ribbon (through xlwings on the
open workbook) both call :func:`run`; only the reading and writing of sheets differ.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime

import numpy as np
import pandas as pd

from xlcrm import schema
from xlcrm.errors import InputError, Problem, cell_address, column_letter
from xlcrm.ledger import Ledger
from xlcrm.operations.derived import add_derived_columns
from xlcrm.operations.orders import OrderMetrics, order_metrics
from xlcrm.operations.step import Operations, customer_ids, operations
from xlcrm.operations.survey import SurveyResult, satisfaction
from xlcrm.value.ahp import HierarchyWeights, hierarchy_weights
from xlcrm.value.hierarchy import Hierarchy, default_hierarchy, default_judgments
from xlcrm.value.scoring import MISSING_POLICIES, ScoreResult, score_customers
from xlcrm.value.segments import (
    ABCResult,
    ProfileResult,
    SegmentResult,
    abc_classes,
    kmeans_profiles,
    pareto_curve,
    segment_types,
    summarise_segments,
    validate_segments,
)
from xlcrm.value.strategies import ABC_CLASSES, DEFAULT_TYPES, CustomerType

Progress = Callable[[str, float], None]
"""Called with a step description and the fraction done (0..1)."""

HIGH_LOW_METHODS = ("kmeans", "median", "threshold")
ABC_BASES = ("Revenue", "Value")
REVENUE_COLUMN = "Revenue12m"
TYPE_SUMMARY_COLUMNS = (
    "Type",
    "Code",
    "Name",
    "Customers",
    "CustomerShare",
    "Value",
    "ValueShare",
    "MeanValue",
    "VisitIntervalDays",
    "Strategy",
)
ABC_SUMMARY_COLUMNS = (
    "Class",
    "Name",
    "Customers",
    "CustomerShare",
    "Value",
    "ValueShare",
    "MeanValue",
)


@dataclass(frozen=True)
class Options:
    """Analysis options an analyst may change.

    Parameters
    ----------
    missing : {"median", "zero", "exclude"}
        What a missing indicator value becomes (see :mod:`xlcrm.value.scoring`); always flagged.
    high_low : {"kmeans", "median", "threshold"}
        How each first-level group score is split into High and Low.
    thresholds : mapping of str to float, optional
        Group name -> fixed cut, for ``high_low="threshold"``.
    abc_basis : {"Revenue", "Value"}
        Rank customers for ABC (Pareto) by 12-month revenue (default: a share of a money
        total is what the 80/20 rule speaks of) or by the composite value score.
    abc_cutoffs : tuple of float
        Cumulative shares closing class A and class B.
    ahp_method : {"eigen", "geometric"}
        How weights are derived from each judgment matrix.
    ri_table : {"saaty", "alonso-lamata"}
        Random-index table for the consistency ratio.
    random_state : int
        Seed of the k-means profiles, so that a run is reproducible (the High/Low
        split is exact and needs none).
    importance : tuple of (str, float)
        Survey question -> importance, for the importance-performance table (none when
        empty).
    """

    missing: str = "median"
    high_low: str = "kmeans"
    thresholds: Mapping[str, float] | None = None
    abc_basis: str = "Revenue"
    abc_cutoffs: tuple[float, float] = (0.80, 0.95)
    ahp_method: str = "eigen"
    ri_table: str = "saaty"
    random_state: int = 0
    importance: tuple[tuple[str, float], ...] = ()

    def validate(self) -> None:
        """Raise :class:`InputError` naming the first option with a value not allowed."""
        allowed = {
            "missing": MISSING_POLICIES,
            "high_low": HIGH_LOW_METHODS,
            "abc_basis": ABC_BASES,
        }
        for name, values in allowed.items():
            value = getattr(self, name)
            if value not in values:
                raise InputError(
                    f"option {name} is {value!r}",
                    fix=f"Use one of: {', '.join(values)}.",
                )


@dataclass
class Settings:
    """What the analyst maintains: hierarchy, judgments, strategies and options."""

    hierarchy: Hierarchy = field(default_factory=default_hierarchy)
    judgments: dict[str, object] = field(default_factory=default_judgments)
    types: tuple[CustomerType, ...] = DEFAULT_TYPES
    options: Options = field(default_factory=Options)
    problems: list[Problem] = field(default_factory=list)
    """Problems found while reading the settings sheets."""


@dataclass
class Results:
    """Everything one run computes, plus the tables written to the result sheets."""

    weights: HierarchyWeights
    scores: ScoreResult
    segments: SegmentResult
    abc: ABCResult
    profiles: ProfileResult
    validation: pd.DataFrame
    summary_by_type: pd.DataFrame
    summary_by_abc: pd.DataFrame
    pareto: pd.DataFrame
    scores_table: pd.DataFrame
    segments_table: pd.DataFrame
    problems: list[Problem]
    types: tuple[CustomerType, ...]
    customers: int
    stamp: datetime
    abc_basis: str = "Revenue"
    operations: Operations | None = None
    derived: dict[str, str] = field(default_factory=dict)
    """Indicator columns computed from the ledger -> the sheet they come from."""
    as_of: date | None = None
    """The day orders, contacts and surveys were judged from (the stamp's day by default)."""

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]


def _noop(_step: str, _fraction: float) -> None:
    pass


def id_masks(ids: pd.Series) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """CustomerIDs as trimmed text, and which are blank and which repeat an earlier one."""
    text = ids.astype("string").str.strip()
    blank = ids.isna().to_numpy() | (text.fillna("") == "").to_numpy()
    dup = text.duplicated(keep="first").to_numpy() & ~blank
    return text, blank, dup


_CELL_ROW = re.compile(r"^([A-Z]+)([0-9]+)$")


def _at_sheet_rows(problems: list[Problem], rows: np.ndarray, header_row: int) -> list[Problem]:
    """Customers cells of problems found on the analysed rows, moved to the table's rows.

    ``rows`` holds, for each analysed customer, its position in the Customers table.
    """
    out = []
    for p in problems:
        m = _CELL_ROW.match(p.cell or "") if p.sheet == schema.CUSTOMERS else None
        position = int(m.group(2)) - header_row - 1 if m else -1
        if m and 0 <= position < len(rows):
            p = replace(p, cell=f"{m.group(1)}{header_row + 1 + int(rows[position])}")
        out.append(p)
    return out


def _point_at_sources(
    problems: list[Problem], customers: pd.DataFrame, sources: Mapping[str, str]
) -> list[Problem]:
    """Problems of computed indicator columns name their source sheet, not a Customers cell.

    A computed column has no cells on Customers (or only blank ones), so a cell address
    there would point the user at nothing.
    """
    if not sources:
        return problems
    letters = {
        column_letter(customers.columns.get_loc(c)): (c, sheet.split(" ")[0])
        for c, sheet in sources.items()
    }
    out = []
    for p in problems:
        letter = (p.cell or "").split(":")[0].rstrip("0123456789")
        if p.sheet == schema.CUSTOMERS and letter in letters:
            column, sheet = letters[letter]
            p = replace(p, message=f"{p.message} ({column} is computed from {sheet})",
                        sheet=sheet, cell=None)
        out.append(p)
    return out


def check_customers(customers: pd.DataFrame, *, header_row: int = 1) -> list[Problem]:
    """Problems with the Customers table itself: missing ID column, blank or duplicate IDs."""
    problems: list[Problem] = []
    sheet = schema.CUSTOMERS
    for required in (schema.CUSTOMER_ID, schema.CUSTOMER_NAME):
        if required not in customers.columns:
            problems.append(
                Problem(
                    "error",
                    f"column {required!r} is missing",
                    f"Add a column headed {required} in row {header_row}.",
                    sheet,
                    f"{header_row}:{header_row}",
                )
            )
    if schema.CUSTOMER_ID not in customers.columns:
        return problems
    col = customers.columns.get_loc(schema.CUSTOMER_ID)
    text, blank, dup = id_masks(customers[schema.CUSTOMER_ID])
    for pos in np.flatnonzero(blank):
        problems.append(
            Problem(
                "error",
                "CustomerID is blank; the row is left out of the analysis",
                "Give every customer a unique ID.",
                sheet,
                cell_address(header_row + pos, col),
            )
        )
    positions = text.reset_index(drop=True)
    first_of = {v: i for i, v in positions.drop_duplicates(keep="first").items()}
    for pos in np.flatnonzero(dup):
        value = positions.iloc[pos]
        problems.append(
            Problem(
                "error",
                f"CustomerID {value!r} is used again (first in row"
                f" {header_row + first_of[value] + 1}); the repeat is left out of the analysis",
                "Give every customer a unique ID, or merge the two rows.",
                sheet,
                cell_address(header_row + pos, col),
            )
        )
    return problems


def run(
    ledger: Ledger,
    settings: Settings | None = None,
    *,
    progress: Progress | None = None,
    stamp: datetime | None = None,
    header_row: int = 1,
    as_of: date | None = None,
) -> Results:
    """Score, weight and segment every customer of ``ledger``.

    Parameters
    ----------
    ledger : Ledger
        The ledger tables as read from the workbook (``customers`` at least).
    settings : Settings, optional
        Hierarchy, judgments, strategies and options; the defaults when omitted.
    progress : callable, optional
        ``progress(step, fraction)`` is called as the run advances.
    stamp : datetime, optional
        Run time written beside the results; now when omitted.
    header_row : int
        Row of the Customers header in the sheet, so that problems name the right cell.
    as_of : date, optional
        The day orders, contacts and surveys are judged from (recency, churn, overdue
        contacts, the 12-month windows); the stamp's day when omitted. Give it to analyse a
        ledger as it stood on an earlier day.

    Returns
    -------
    Results

    Raises
    ------
    InputError
        When the run cannot go on at all: a judgment matrix that cannot be used, a
        Customers table without a CustomerID column, or no customer left.
    """
    settings = settings or Settings()
    progress = progress or _noop
    options = settings.options
    options.validate()
    stamp = stamp or datetime.now().replace(microsecond=0)
    today = as_of or stamp.date()
    hierarchy = settings.hierarchy
    problems: list[Problem] = list(settings.problems)

    progress("Weights (AHP)", 0.05)
    groups = list(hierarchy.groups)
    judgments = settings.judgments
    weights = hierarchy_weights(
        judgments["groups"],
        groups,
        {g: judgments.get(g) for g in groups},
        {g: [i.name for i in hierarchy.by_group[g]] for g in groups},
        method=options.ahp_method,
        ri_table=options.ri_table,
    )
    for _, row in weights.consistency_table().iterrows():
        if not row["Consistent"]:
            level = row["Level"]
            problems.append(
                Problem(
                    "warning",
                    f"judgments for {level} are inconsistent (CR {row['CR']:.3f} ≥ 0.10)",
                    "Revise the judgments the Judgments sheet marks; weights are used as they are.",
                    schema.JUDGMENTS,
                    None,
                )
            )

    progress("Checking customers", 0.15)
    customers = ledger.customers
    id_problems = check_customers(customers, header_row=header_row)
    problems.extend(id_problems)
    if any(p.cell and p.cell.endswith(f"{header_row}:{header_row}") for p in id_problems):
        raise InputError(id_problems)
    _, blank, dup = id_masks(customers[schema.CUSTOMER_ID])
    keep = ~(blank | dup)
    kept = customers[keep]
    if kept.empty:
        raise InputError(
            "no customer with a CustomerID",
            fix="Fill the Customers table, one row per customer with a unique CustomerID.",
            sheet=schema.CUSTOMERS,
        )

    has_activity = any(len(t) for t in (ledger.transactions, ledger.interactions, ledger.survey))
    orders: OrderMetrics | None = None
    survey: SurveyResult | None = None
    if has_activity:
        progress("Orders and surveys", 0.2)
        kept_ids = customer_ids(kept)
        orders = order_metrics(ledger.transactions, kept_ids, today=today)
        survey = satisfaction(ledger.survey, kept_ids, today=today)
    derived = add_derived_columns(
        customers,
        hierarchy.columns,
        orders=orders if len(ledger.transactions) else None,
        survey=survey if len(ledger.survey) else None,
    )
    customers = derived.customers
    kept = customers[keep]

    progress("Scoring indicators", 0.25)
    table = weights.table
    local = dict(zip(table["Indicator"], table["LocalWeight"], strict=True))
    group_w = dict(zip(groups, weights.group.weights, strict=True))
    # Only the analysed rows are scored: a row left out for its ID must not stretch the
    # min-max range or shift the percentiles of the customers that are analysed.
    scores = score_customers(
        kept,
        hierarchy,
        local,
        group_w,
        missing=options.missing,
        sheet=schema.CUSTOMERS,
        header_row=header_row,
        id_column=schema.CUSTOMER_ID,
    )
    found = _at_sheet_rows(scores.problems, np.flatnonzero(keep), header_row)
    problems.extend(_point_at_sources(found, customers, derived.sources))

    progress("Segmenting", 0.5)
    # Messages name customers by ID, never by their position in these arrays.
    ids = customer_ids(kept).tolist()
    group_scores = scores.group_scores.reset_index(drop=True)
    segments = segment_types(
        group_scores,
        groups=tuple(groups),
        method=options.high_low,
        thresholds=options.thresholds,
        ids=ids,
    )
    problems.extend(segments.problems)
    value = scores.value.reset_index(drop=True)
    basis = value
    if options.abc_basis == "Revenue":
        if REVENUE_COLUMN in kept.columns:
            basis = pd.to_numeric(kept[REVENUE_COLUMN], errors="coerce").reset_index(drop=True)
        else:
            problems.append(
                Problem(
                    "warning",
                    f"ABC basis is Revenue but the {schema.CUSTOMERS} table has no "
                    f"{REVENUE_COLUMN} column; ABC classes are by value score instead",
                    f"Add a {REVENUE_COLUMN} column, or set ABC basis to Value on the "
                    f"{schema.INDICATORS} sheet.",
                    schema.CUSTOMERS,
                    f"{header_row}:{header_row}",
                )
            )
    abc = abc_classes(basis.to_numpy(dtype=float), cutoffs=options.abc_cutoffs, ids=ids)
    problems.extend(abc.problems)

    progress("Customer profiles (k-means)", 0.6)
    indicator_scores = scores.indicator_scores.reset_index(drop=True)
    try:
        profiles = kmeans_profiles(indicator_scores, random_state=options.random_state, ids=ids)
    except InputError as exc:
        # Profiles are a by-product: too few customers for clusters must not stop the run.
        profiles = ProfileResult(
            labels=np.full(len(indicator_scores), -1),
            k=0,
            silhouette={},
            centers=pd.DataFrame(columns=indicator_scores.columns),
            sizes=pd.Series(dtype=int),
        )
        problems.extend(
            Problem("warning", f"no k-means profiles: {p.message}", p.fix, schema.SEGMENTS, "K:K")
            for p in exc.problems
        )
    problems.extend(profiles.problems)

    progress("Validating segments", 0.8)
    validation = validate_segments(group_scores, segments.high, segments.type)

    progress("Summaries", 0.9)
    by_type, _ = summarise_segments(segments.type, None, value.to_numpy(dtype=float),
                                    settings.types)
    # ABC shares are of what the classes were made from (revenue by default).
    _, by_abc = summarise_segments(None, abc.abc, basis.to_numpy(dtype=float), settings.types)
    pareto = pareto_curve(basis.to_numpy(dtype=float))
    ops = None
    if has_activity:
        progress("Orders, contacts, surveys", 0.93)
        ops = operations(
            ledger, kept, segments.type, abc.abc, value, settings.types, today=today,
            orders=orders, survey=survey, importance=dict(options.importance),
        )
        problems.extend(ops.problems)
    scores_table, segments_table = result_tables(
        kept, scores, segments, abc, profiles, settings.types
    )
    progress("Done", 1.0)
    return Results(
        weights=weights,
        scores=scores,
        segments=segments,
        abc=abc,
        profiles=profiles,
        validation=validation,
        summary_by_type=type_summary(by_type, settings.types),
        summary_by_abc=abc_summary(by_abc),
        pareto=pareto,
        scores_table=scores_table,
        segments_table=segments_table,
        problems=problems,
        types=settings.types,
        customers=len(kept),
        stamp=stamp,
        abc_basis=options.abc_basis if basis is not value else "Value",
        operations=ops,
        derived=derived.sources,
        as_of=today,
    )


def type_summary(by_type: pd.DataFrame, types: tuple[CustomerType, ...]) -> pd.DataFrame:
    """Per type: number, code, name, counts and shares, visit interval and strategy."""
    named = {t.number: t for t in types}
    rows = []
    for number in range(1, 9):
        t = named[number]
        s = by_type.loc[number]
        rows.append(
            (
                number,
                t.code,
                t.name,
                int(s["Count"]),
                s["CustomerShare"],
                s["Value"],
                s["ValueShare"],
                s["MeanValue"],
                t.visit_interval_days,
                t.strategy,
            )
        )
    return pd.DataFrame(rows, columns=list(TYPE_SUMMARY_COLUMNS))


def abc_summary(by_abc: pd.DataFrame) -> pd.DataFrame:
    """Per ABC class: letter, name, counts and shares."""
    rows = []
    for letter in ABC_CLASSES:
        s = by_abc.loc[letter]
        rows.append(
            (
                letter,
                ABC_CLASSES[letter],
                int(s["Count"]),
                s["CustomerShare"],
                s["Value"],
                s["ValueShare"],
                s["MeanValue"],
            )
        )
    return pd.DataFrame(rows, columns=list(ABC_SUMMARY_COLUMNS))


def result_tables(
    kept: pd.DataFrame,
    scores: ScoreResult,
    segments: SegmentResult,
    abc: ABCResult,
    profiles: ProfileResult,
    types: tuple[CustomerType, ...],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``Scores`` and ``Segments`` sheets as DataFrames, headers per :mod:`xlcrm.schema`."""
    names = kept[schema.CUSTOMER_NAME] if schema.CUSTOMER_NAME in kept.columns else None
    lead = pd.DataFrame(
        {
            schema.CUSTOMER_ID: kept[schema.CUSTOMER_ID].astype("string").str.strip().to_numpy(),
            schema.CUSTOMER_NAME: names.to_numpy() if names is not None else None,
        }
    )
    # Only the analysed customers were scored: rank and percentile are among them.
    tail = pd.DataFrame(
        {
            "Value": scores.value,
            "Rank": scores.rank,
            "Percentile": scores.percentile,
            "Imputed": scores.imputed_count,
        }
    ).reset_index(drop=True)
    scores_table = pd.concat(
        [
            lead,
            scores.indicator_scores.reset_index(drop=True),
            scores.group_scores.reset_index(drop=True),
            tail,
        ],
        axis=1,
    )

    by_number = {t.number: t for t in types}
    seg = lead.copy()
    labels = segments.labels().reset_index(drop=True)
    for group in labels.columns:
        seg[group] = labels[group]
    type_numbers = segments.type.reset_index(drop=True)
    seg["Type"] = type_numbers
    known = [None if pd.isna(t) else by_number[int(t)] for t in type_numbers]
    seg["TypeName"] = [t.name if t else None for t in known]
    seg["Strategy"] = [t.strategy if t else None for t in known]
    seg["ABC"] = abc.abc
    seg["ABCName"] = [ABC_CLASSES.get(c) for c in abc.abc]
    seg["Cluster"] = np.where(profiles.labels >= 0, profiles.labels + 1, 0)
    seg["Cluster"] = seg["Cluster"].astype("Int64").mask(seg["Cluster"] == 0)
    return scores_table, seg
