"""One function from ledger tables to every result table.

The command line (through the workbook file) and the ribbon (through xlwings on the
open workbook) both call :func:`run`; only the reading and writing of sheets differ.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from xlcrm import schema
from xlcrm.errors import InputError, Problem, cell_address, column_letter
from xlcrm.ledger import Ledger
from xlcrm.operations.clv import LifetimeOptions, LifetimeValue, attach_lifetime_value
from xlcrm.operations.contacts import BuyingCenter, buying_center
from xlcrm.operations.derived import DerivedColumns, add_derived_columns, derived_problems
from xlcrm.operations.history import (
    DEFAULT_RUNS_KEPT,
    History,
    HistoryUpdate,
    Migration,
    empty_history,
    migration,
    moves,
    plan_update,
    previous_run,
    run_rows,
    type_order,
)
from xlcrm.operations.orders import OrderMetrics, OrderTotals, metrics_from_totals, order_metrics
from xlcrm.operations.step import Operations, carried_columns, operations
from xlcrm.operations.survey import SurveyResult, satisfaction
from xlcrm.value.ahp import AHPResult, HierarchyWeights, hierarchy_weights
from xlcrm.value.hierarchy import Hierarchy, default_hierarchy, default_judgments
from xlcrm.value.raters import RaterReview, combine_raters, repairs_table
from xlcrm.value.rating import Rating, rate, unrated_problem
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
from xlcrm.value.sensitivity import (
    SensitivityResult,
    correlation_problems,
    indicator_correlation,
    weight_sensitivity,
)
from xlcrm.value.strategies import ABC_CLASSES, DEFAULT_TYPES, CustomerType, type_code
from xlcrm.value.threads import beside, threaded

Progress = Callable[[str, float], None]
"""Called with a step description and the fraction done (0..1)."""

HIGH_LOW_METHODS = ("kmeans", "median", "threshold")
MAX_RUNS_KEPT = 1000
ABC_BASES = ("Revenue", "Value")
REVENUE_COLUMN = "Revenue12m"
MISSING_STRATEGIES_SHOWN = 10
"""Types without a strategy listed one by one on Problems; the rest in one line."""
UNRATED = "Unrated"
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
    "Revenue",
    "RevenueShare",
)
"""Per type: ``Value`` is the summed value score (0-100 each) and ``ValueShare`` its share;
``Revenue`` is the summed revenue of the last 12 months and ``RevenueShare`` its share."""
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
    max_imputed : float
        Largest share of the total weight (0 < share <= 1) a customer's imputed indicators
        may carry; above it the customer is *Unrated* (no type, no ABC class by value
        score, left out of fitting the High/Low split). Default one third: a type is
        three High/Low verdicts, and when a third of the weight behind them is guessed
        from other customers, at least one verdict is mostly a guess. 1 rates everyone.
    lifetime : LifetimeOptions
        Horizon, margin, discount rate, model and penalty of the lifetime value
        (:mod:`xlcrm.operations.clv`).
    orders_source, orders_table : str
        Where the order history is when not on the Transactions sheet (a Parquet or CSV
        file or folder, a database URL without its password, or ``env:NAME``) and, for a
        database, its table or query (:mod:`xlcrm.sources`); blank: the Transactions sheet.
        The run itself takes order totals (:func:`run`'s ``order_totals``); the adapters
        read the source these name.
    history_runs : int
        Runs the History sheet keeps (0: record none); older runs are dropped oldest first.
        Default 24: two years of monthly runs, enough to compare each month with the same
        month a year before, and at a few thousand customers far below the sheet's
        1,048,576 rows (at 100,000 customers ten runs fill it: fewer are kept, with a
        warning; see :func:`xlcrm.operations.history.plan_update`).
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
    max_imputed: float = 1 / 3
    lifetime: LifetimeOptions = field(default_factory=LifetimeOptions)
    orders_source: str = ""
    orders_table: str = ""
    history_runs: int = DEFAULT_RUNS_KEPT

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
        if not 0 < self.max_imputed <= 1:
            raise InputError(
                f"option max_imputed is {self.max_imputed!r}",
                fix="Use a share above 0 and at most 1, such as 1/3.",
            )
        if not (isinstance(self.history_runs, int) and 0 <= self.history_runs <= MAX_RUNS_KEPT):
            raise InputError(
                f"option history_runs is {self.history_runs!r}",
                fix=f"Use a whole number from 0 to {MAX_RUNS_KEPT}, such as 24.",
            )
        self.lifetime.validate()


@dataclass
class Settings:
    """What the analyst maintains: hierarchy, judgments, strategies and options."""

    hierarchy: Hierarchy = field(default_factory=default_hierarchy)
    judgments: dict[str, object] = field(default_factory=default_judgments)
    types: tuple[CustomerType, ...] = DEFAULT_TYPES
    options: Options = field(default_factory=Options)
    problems: list[Problem] = field(default_factory=list)
    """Problems found while reading the settings sheets."""
    raters: dict[str, dict[str, object]] = field(default_factory=dict)
    """With several raters: rater sheet name -> that sheet's judgments, as ``judgments``."""
    rater_weights: dict[str, float] = field(default_factory=dict)
    """Rater sheet name -> weight in the aggregate (1 for a rater the table does not list)."""


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
    unrated: np.ndarray | None = None
    """Per analysed customer: True when it is Unrated (too much of its weight imputed)."""
    scored: pd.DataFrame | None = None
    """The Customers rows analysed, holding the figures scored (ledger figures filled in)."""
    lifetime: LifetimeValue | None = None
    """The lifetime-value fit (None without orders); its figures are on Activity."""
    raters: pd.DataFrame | None = None
    """With several raters: per level each rater's CR, the aggregate and the consensus."""
    repairs: pd.DataFrame | None = None
    """The repair of the worst judgment of every inconsistent matrix (see value.raters)."""
    orders: OrderMetrics | None = None
    """Per-customer order figures as of ``as_of`` (None without activity)."""
    contacts: BuyingCenter | None = None
    """The buying center per analysed customer (None without anyone on Contacts)."""
    scope: str = ""
    """Whom the results cover when not every customer (shown on the Dashboard), see
    :func:`xlcrm.subset.subset_results`."""
    sensitivity: SensitivityResult | None = None
    """How many customers change type or ABC class when a weight moves (Sensitivity sheet)."""
    correlation: pd.DataFrame | None = None
    """Spearman correlation of the indicator scores (Sensitivity sheet)."""
    migration: Migration | None = None
    """Moves since the previous run in History (matrices and counts)."""
    history: HistoryUpdate | None = None
    """This run's History rows and the old rows retention keeps."""

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]


def _noop(_step: str, _fraction: float) -> None:
    pass


def id_masks(ids: pd.Series) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """CustomerIDs as trimmed text, and which are blank and which repeat an earlier one.

    The text is ``ids.astype("string").str.strip()`` as plain ``str`` objects (``None`` for
    a blank cell); a column of text, as sheets hold IDs, is stripped without pandas'
    string machinery (4x faster at a million customers).
    """
    arr = ids.to_numpy(dtype=object)
    if ptypes.infer_dtype(arr, skipna=True) != "string":
        arr = ids.astype("string").str.strip().to_numpy(dtype=object, na_value=None)
    null = pd.isna(arr)
    if null.any():
        values = np.fromiter((v.strip() if v.__class__ is str else None for v in arr),
                             dtype=object, count=arr.size)
    else:
        values = np.fromiter(map(str.strip, arr), dtype=object, count=arr.size)
    text = pd.Series(values, index=ids.index, dtype=object, copy=False)
    blank = null | (values == "")
    dup = pd.Index(values, dtype=object).duplicated(keep="first") & ~blank
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
    problems: list[Problem], kept: pd.DataFrame, derived: DerivedColumns, header_row: int
) -> list[Problem]:
    """Problems of computed figures name their source sheet, not a Customers cell.

    A figure computed from the ledger has no typed cell on Customers (the cell is blank,
    stale, or the column is not there), so a cell address would point the user at
    nothing. ``problems`` address the analysed rows (before :func:`_at_sheet_rows`).
    """
    if not derived.sources:
        return problems
    letters = {column_letter(kept.columns.get_loc(c)): (c, sheet.split(" ")[0])
               for c, sheet in derived.sources.items()}
    out = []
    for p in problems:
        m = _CELL_ROW.match(p.cell or "") if p.sheet == schema.CUSTOMERS else None
        letter = (p.cell or "").split(":")[0].rstrip("0123456789")
        if p.sheet == schema.CUSTOMERS and letter in letters:
            column, sheet = letters[letter]
            position = int(m.group(2)) - header_row - 1 if m else -1
            mask = derived.computed[column]
            if column in derived.added or (0 <= position < len(mask) and mask[position]):
                p = replace(p, message=f"{p.message} ({column} is computed from {sheet})",
                            sheet=sheet, cell=None)
        out.append(p)
    return out


def check_customers(
    customers: pd.DataFrame,
    *,
    header_row: int = 1,
    masks: tuple[pd.Series, np.ndarray, np.ndarray] | None = None,
) -> list[Problem]:
    """Problems with the Customers table itself: missing ID column, blank or duplicate IDs.

    ``masks`` is :func:`id_masks` of the CustomerID column when the caller has it already.
    """
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
    text, blank, dup = masks or id_masks(customers[schema.CUSTOMER_ID])
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
    if not dup.any():
        return problems
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
    order_totals: OrderTotals | None = None,
    history: History | None = None,
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
    order_totals : OrderTotals, optional
        Per-customer order totals computed where the order lines live (an order source,
        :mod:`xlcrm.sources`), as of the run's day; when given, they replace the
        Transactions sheet's lines (which are then not read) and give the same figures the
        same lines on the sheet would.
    history : History, optional
        The History sheet as read (:func:`xlcrm.operations.history.read_history`): the
        previous run's types and classes give Segments' PreviousType, PreviousABC and Move
        and the migration matrices; ``Results.history`` holds the rows to record. Without
        it every customer is ``new``.

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
    levels = [("groups", "Groups", groups)] + [
        (g, g, [i.name for i in hierarchy.by_group[g]]) for g in groups
    ]
    judgments = settings.judgments
    review = None
    if settings.raters:
        review = combine_raters(settings.raters, settings.rater_weights, levels,
                                method=options.ahp_method, ri_table=options.ri_table)
        judgments = review.judgments
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
                    f"{'combined ' if review else ''}judgments for {level} are inconsistent "
                    f"(CR {row['CR']:.3f} ≥ 0.10)",
                    ("Revise the raters' judgments the Dashboard's Repairs list"
                     if review else "Revise the judgments the Judgments sheet marks")
                    + "; weights are used as they are.",
                    schema.JUDGMENTS,
                    None,
                )
            )
    typed = _typed_matrices(weights, review, levels)
    if review is not None:
        problems.extend(
            Problem("warning", f"{title} judgments on {sheet} are inconsistent "
                    f"(CR {result.cr:.3f} ≥ 0.10)",
                    "The Dashboard's Repairs list the judgment to revise first; the aggregate "
                    "uses them as they are.", sheet, None)
            for sheet, title, _, result in typed if not result.consistent)
    repairs = repairs_table(typed)

    progress("Checking customers", 0.15)
    customers = ledger.customers
    masks = (id_masks(customers[schema.CUSTOMER_ID])
             if schema.CUSTOMER_ID in customers.columns else None)
    id_problems = check_customers(customers, header_row=header_row, masks=masks)
    problems.extend(id_problems)
    if masks is None or any(p.cell and p.cell.endswith(f"{header_row}:{header_row}")
                            for p in id_problems):
        raise InputError(id_problems)
    text, blank, dup = masks
    keep = ~(blank | dup)
    rows = np.flatnonzero(keep)
    kept = customers if rows.size == len(customers) else customers.iloc[rows]
    if kept.empty:
        raise InputError(
            "no customer with a CustomerID",
            fix="Fill the Customers table, one row per customer with a unique CustomerID.",
            sheet=schema.CUSTOMERS,
        )
    kept_ids = (text if rows.size == len(customers) else text.iloc[rows]).reset_index(drop=True)

    has_orders = (bool(len(order_totals.table) or order_totals.problems)
                  if order_totals is not None else bool(len(ledger.transactions)))
    has_activity = has_orders or any(len(t) for t in (ledger.interactions, ledger.survey,
                                                      ledger.contacts))
    contacts: BuyingCenter | None = None
    if len(ledger.contacts):
        contacts = buying_center(ledger.contacts, kept_ids, today=today)
        problems.extend(contacts.problems)
    orders: OrderMetrics | None = None
    survey: SurveyResult | None = None
    lifetime: LifetimeValue | None = None
    if has_activity:
        progress("Orders and surveys", 0.2)
        orders = (order_metrics(ledger.transactions, kept_ids, today=today)
                  if order_totals is None else metrics_from_totals(order_totals, kept_ids,
                                                                   today=today))
        if has_orders:
            progress("Lifetime value", 0.22)
            orders, lifetime = attach_lifetime_value(orders, options.lifetime)
            problems.extend(lifetime.problems)
        survey = satisfaction(ledger.survey, kept_ids, today=today)
    derived = add_derived_columns(
        kept,
        # 12-month revenue also when no indicator and no ABC reads it: the Dashboard's
        # revenue shares (types, classes, tiles) come from it whatever the model.
        [*hierarchy.columns,
         *([REVENUE_COLUMN] if options.abc_basis == "Revenue" or has_orders else [])],
        orders=orders if has_orders else None,
        survey=survey if len(ledger.survey) else None,
        contacts=contacts,
        ids=kept_ids,
    )
    kept = derived.customers
    typed = [c for c in kept.columns if c not in derived.added]
    problems.extend(_at_sheet_rows(
        derived_problems(derived, ids=kept_ids, columns=typed),
        rows, header_row,
    ))

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
    found = _point_at_sources(scores.problems, kept, derived, header_row)
    problems.extend(_at_sheet_rows(found, rows, header_row))
    rating = rate(scores.imputed, scores.global_weights,
                  {i.name: i.column for i in hierarchy.indicators}, options.max_imputed)
    rated = ~rating.unrated
    problems.extend(unrated_problem(rating, kept_ids, by_value=options.abc_basis == "Value",
                                    sheet=schema.SEGMENTS))

    progress("Segmenting", 0.5)
    # Messages name customers by ID, never by their position in these arrays.
    ids = kept_ids.to_numpy(dtype=object)
    group_scores = scores.group_scores.reset_index(drop=True)
    segments = segment_types(
        group_scores,
        groups=tuple(groups),
        method=options.high_low,
        thresholds=options.thresholds,
        ids=ids,
        fit=None if rated.all() else rated,
    )
    problems.extend(segments.problems)
    _unrate(segments, rating.unrated)
    problems.extend(_missing_strategies(segments.type, settings.types, len(groups)))
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
    # By revenue, an Unrated customer keeps its class: its revenue is known.
    classed = rated if basis is value else np.ones(len(value), dtype=bool)
    abc = _abc_of(basis.to_numpy(dtype=float), classed, options.abc_cutoffs, ids)
    problems.extend(abc.problems)

    # Operations and History need only the types and classes: done here, while the fewest
    # arrays are alive, the History step's transient ones (this run's History rows) do not
    # add to the profiles', summaries' and result tables' at the run's peak (1,048,576
    # customers). Their problems keep their place after the profiles' and correlation's.
    later: list[Problem] = []
    ops = None
    if has_activity:
        progress("Orders, contacts, surveys", 0.55)
        ops = operations(
            ledger, kept, segments.type, abc.abc, value, settings.types, today=today,
            orders=orders, survey=survey, importance=dict(options.importance),
            contacts=contacts,
        )
        later.extend(ops.problems)
    progress("History", 0.58)
    mig, move, update = _history_step(
        history, stamp, today, kept_ids, segments, abc, value, ops, weights, settings, later)

    indicator_scores = scores.indicator_scores.reset_index(drop=True)
    # The sensitivity (numpy sorts) and the correlation (pandas' ranks) on the second core
    # while the profiles (scikit-learn) run here: all release Python's lock.
    with beside(
        _robustness, indicator_scores, [i.group for i in hierarchy.indicators], local,
        group_w, method=options.high_low, thresholds=options.thresholds, rated=rated,
        abc_cutoffs=options.abc_cutoffs if basis is value else None,
        thread=threaded(len(kept)),
    ) as robustness:
        progress("Customer profiles (k-means)", 0.6)
        profiles, profile_problems = _profiles(indicator_scores, options.random_state, ids)
        problems.extend(profile_problems)
        progress("Validating segments", 0.8)
        validation = validate_segments(group_scores, segments.high, segments.type)
        progress("Sensitivity to the weights", 0.85)
        sensitivity, correlation = robustness()
    problems.extend(correlation_problems(correlation, sheet=schema.INDICATORS))

    problems.extend(later)
    progress("Summaries", 0.9)
    # ABC shares are of what the classes were made from (revenue by default).
    _, by_abc = summarise_segments(None, abc.abc, basis.to_numpy(dtype=float), settings.types)
    pareto = pareto_curve(np.where(classed, basis.to_numpy(dtype=float), np.nan))
    by_type = type_summary(segments.type, rating.unrated, value.to_numpy(dtype=float),
                           settings.types, len(groups), _revenue(kept))
    scores_table, segments_table = result_tables(
        kept, scores, segments, abc, profiles, settings.types,
        ids=kept_ids, rating=rating, computed=derived.computed_count(),
    )
    segments_table["Stable"] = stable_words(sensitivity.stable)
    for column in move.columns:  # added in place: a concat would copy the whole table
        values = move[column]  # categories stay categories (as text: a copy of every cell)
        segments_table[column] = (values.array if isinstance(values.dtype, pd.CategoricalDtype)
                                  else values.to_numpy())
    progress("Done", 1.0)
    return Results(
        weights=weights,
        scores=scores,
        segments=segments,
        abc=abc,
        profiles=profiles,
        validation=validation,
        summary_by_type=by_type,
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
        lifetime=lifetime,
        orders=orders,
        contacts=contacts,
        derived=derived.sources,
        as_of=today,
        unrated=rating.unrated,
        scored=kept,
        raters=None if review is None else review.table,
        repairs=repairs,
        sensitivity=sensitivity,
        correlation=correlation,
        migration=mig,
        history=update,
    )


def _robustness(indicator_scores: pd.DataFrame, *args: Any, **kwargs: Any
                ) -> tuple[SensitivityResult, pd.DataFrame]:
    """The weight sensitivity (arguments: :func:`weight_sensitivity`'s) and the indicators'
    correlation: how far the segments rest on the weights and on indicators that agree."""
    return (weight_sensitivity(indicator_scores, *args, **kwargs),
            indicator_correlation(indicator_scores))


def _profiles(indicator_scores: pd.DataFrame, random_state: int,
              ids: np.ndarray) -> tuple[ProfileResult, list[Problem]]:
    """k-means profiles and their problems; none (and why) when they cannot be made."""
    try:
        profiles = kmeans_profiles(indicator_scores, random_state=random_state, ids=ids)
    except InputError as exc:
        # Profiles are a by-product: too few customers for clusters must not stop the run.
        empty = ProfileResult(
            labels=np.full(len(indicator_scores), -1),
            k=0,
            silhouette={},
            centers=pd.DataFrame(columns=indicator_scores.columns),
            sizes=pd.Series(dtype=int),
        )
        return empty, [
            Problem("warning", f"no k-means profiles: {p.message}", p.fix, schema.SEGMENTS, "K:K")
            for p in exc.problems
        ]
    return profiles, list(profiles.problems)


def _typed_matrices(
    weights: HierarchyWeights, review: RaterReview | None,
    levels: list[tuple[str, str, list[str]]],
) -> list[tuple[str, str, list[str], AHPResult]]:
    """Every matrix someone typed, as (sheet, level, items, result), for the repairs.

    With several raters a repair belongs on a rater's sheet, not on the aggregate, which
    nobody typed.
    """
    if review is None:
        found = {"groups": weights.group, **weights.local}
        return [(schema.JUDGMENTS, title, items, found[key])
                for key, title, items in levels if len(items) > 1]
    return [(sheet, title, items, review.groups[key].rater_results[k])
            for key, title, items in levels if key in review.groups
            for k, sheet in enumerate(review.raters)]


def stable_words(stable: pd.Series) -> pd.Series:
    """The Segments sheet's Stable column: Yes, No, or blank for a customer not judged."""
    flags = stable.to_numpy(dtype=float, na_value=np.nan)
    words = np.array(["No", "Yes", None], dtype=object)
    return pd.Series(words[np.where(np.isnan(flags), 2, flags).astype(np.int64)], dtype=object)


def _history_step(
    history: History | None, stamp: datetime, today: date, ids: pd.Series,
    segments: SegmentResult, abc: ABCResult, value: pd.Series, ops: Operations | None,
    weights: HierarchyWeights, settings: Settings, problems: list[Problem],
) -> tuple[Migration, pd.DataFrame, HistoryUpdate]:
    """Moves since the previous run in ``history`` and what this run adds to it."""
    previous = previous_run(history, today) if history is not None else None
    if history is not None:
        problems.extend(history.problems)
    if previous is not None:
        problems.extend(previous.problems)
    move = moves(ids, segments.type, abc.abc, previous, list(weights.group.weights))
    numbers = type_order([t.number for t in settings.types], segments.type, previous)
    mig = migration(ids, segments.type, abc.abc, move["Move"], previous,
                    {t.number: t.name for t in settings.types}, numbers)
    rows = run_rows(stamp, today, ids, segments.type, abc.abc, value,
                    ops.activity if ops is not None else None)
    update = plan_update(history if history is not None else empty_history(), rows,
                         settings.options.history_runs)
    problems.extend(update.problems)
    return mig, move, update


def _unrate(segments: SegmentResult, unrated: np.ndarray) -> None:
    """No High/Low, code or type for Unrated customers: they would be guesses."""
    if not unrated.any():
        return
    segments.type = segments.type.mask(unrated)
    segments.high.loc[unrated, :] = pd.NA
    code = segments.code.to_numpy(dtype=object, copy=True)
    code[unrated] = ""
    segments.code = pd.Series(code, index=segments.code.index, name=segments.code.name)


def _missing_strategies(
    types: pd.Series, catalogue: tuple[CustomerType, ...], groups: int
) -> list[Problem]:
    """A warning per type that customers have but the Strategies sheet does not describe."""
    known = {t.number for t in catalogue}
    counts = types.dropna().astype(int).value_counts().sort_index()
    lacking = [(int(k), int(v)) for k, v in counts.items() if k not in known]
    out = []
    for number, count in lacking[:MISSING_STRATEGIES_SHOWN]:
        code = type_code(number, groups)
        out.append(Problem(
            "warning",
            f"type {number} ({code}) has {count} customers but no strategy on "
            f"{schema.STRATEGIES}; they get no strategy and no planned contact",
            f"Add a row on {schema.STRATEGIES}: Type {number}, Code {code}, a Name, Strategy, "
            "Owner and VisitIntervalDays.",
            schema.STRATEGIES,
            None,
        ))
    if len(lacking) > MISSING_STRATEGIES_SHOWN:
        rest = lacking[MISSING_STRATEGIES_SHOWN:]
        out.append(Problem(
            "warning",
            f"{len(rest)} more types have customers but no strategy (types "
            f"{', '.join(str(n) for n, _ in rest[:10])}{', ...' if len(rest) > 10 else ''})",
            f"Add one row per type on {schema.STRATEGIES}.",
            schema.STRATEGIES,
            None,
        ))
    return out


def _revenue(kept: pd.DataFrame) -> np.ndarray | None:
    """Revenue of the last 12 months per analysed customer (ledger figures filled in), or
    ``None`` when the Customers table has no such column."""
    if REVENUE_COLUMN not in kept.columns:
        return None
    return pd.to_numeric(kept[REVENUE_COLUMN], errors="coerce").to_numpy(dtype=float)


def _abc_of(
    basis: np.ndarray, classed: np.ndarray, cutoffs: tuple[float, float], ids: np.ndarray
) -> ABCResult:
    """ABC classes of the ``classed`` customers; the others get no class (None)."""
    if classed.all():
        return abc_classes(basis, cutoffs=cutoffs, ids=ids)
    rows = np.flatnonzero(classed)
    sub = abc_classes(basis[rows], cutoffs=cutoffs, ids=ids[rows])
    n = len(basis)
    letters = np.full(n, None, dtype=object)
    letters[rows] = sub.abc
    cumulative, share = np.full(n, np.nan), np.full(n, np.nan)
    cumulative[rows], share[rows] = sub.cumulative_share, sub.share
    valid = np.zeros(n, dtype=bool)
    valid[rows] = sub.valid
    return ABCResult(letters, cumulative, rows[sub.order], share, valid, sub.cutoffs,
                     sub.problems)


def type_summary(
    types: pd.Series,
    unrated: np.ndarray,
    value: np.ndarray,
    catalogue: tuple[CustomerType, ...],
    groups: int,
    revenue: np.ndarray | None = None,
) -> pd.DataFrame:
    """Per type that customers have: number, code, name, counts and shares, interval, strategy.

    ``revenue`` (per customer, like ``value``) gives the ``Revenue`` and ``RevenueShare``
    columns (blank without it): a type's share of the revenue next to its share of the
    customers is what a sales manager compares.

    Only types with customers are listed, in number order; then ``Unrated`` and
    ``No type`` (a group score that could not be computed) when some customers are.
    A type without a strategy on Strategies shows what to add instead of a strategy.
    """
    named = {t.number: t for t in catalogue}
    numbers = types.to_numpy(dtype=float, na_value=np.nan)
    key = np.where(unrated, -1, np.where(np.isnan(numbers), 0, numbers)).astype(np.int64)
    n = len(key)
    total = float(np.nansum(value))
    money = np.full(n, np.nan) if revenue is None else np.asarray(revenue, dtype=float)
    total_money = float(np.nansum(money))
    # Each column grouped on its own: a frame of the three is a copy of them (1 M customers).
    grouped = pd.Series(value, copy=False).groupby(key)
    stats = pd.DataFrame({"count": grouped.size(), "sum": grouped.sum(), "mean": grouped.mean(),
                          "money": pd.Series(money, copy=False).groupby(key).sum(min_count=1)})
    order = [k for k in stats.index if k > 0] + [k for k in (-1, 0) if k in stats.index]
    rows = []
    for k in order:
        count, value_sum, mean, money_sum = stats.loc[k]
        lead: tuple[object, ...]
        if k == -1:
            lead = (None, "", UNRATED, "Fill the indicators listed on the Segments sheet")
        elif k == 0:
            lead = (None, "", "No type", "A group score is missing: see the Problems sheet")
        elif k in named:
            t = named[k]
            lead = (k, t.code, t.name, t.strategy)
        else:
            code = type_code(k, groups)
            lead = (k, code, "", f"No strategy: add type {k} ({code}) on {schema.STRATEGIES}")
        number, code, name, strategy = lead
        interval = named[k].visit_interval_days if k in named else None
        rows.append((number, code, name, int(count), count / n if n else np.nan, value_sum,
                     value_sum / total if total else np.nan, mean, interval, strategy, money_sum,
                     money_sum / total_money if total_money else np.nan))
    out = pd.DataFrame(rows, columns=list(TYPE_SUMMARY_COLUMNS))
    for column in ("Type", "VisitIntervalDays"):
        out[column] = out[column].astype("Int64")
    return out


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


def _carried(columns: dict[str, object]) -> dict[str, pd.Series]:
    """Carried columns as Series of their own dtype: an object array of text is not
    inferred as pandas text (a copy of every cell)."""
    return {name: pd.Series(values, dtype=values.dtype, copy=False)  # type: ignore[attr-defined]
            for name, values in columns.items()}


def _looked_up(table: np.ndarray, index: np.ndarray) -> pd.Categorical:
    """``table[index]`` as categories: a byte per customer instead of a reference (8 bytes),
    for the labels a few values repeat over every customer (High/Low, type names,
    strategies, owners, class names); a ``None`` of ``table`` is a blank cell.
    """
    codes, labels = pd.factorize(table)
    return pd.Categorical.from_codes(codes[index], categories=pd.Index(labels, dtype=object))


def result_tables(
    kept: pd.DataFrame,
    scores: ScoreResult,
    segments: SegmentResult,
    abc: ABCResult,
    profiles: ProfileResult,
    types: tuple[CustomerType, ...],
    *,
    ids: pd.Series | None = None,
    rating: Rating | None = None,
    computed: np.ndarray | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``Scores`` and ``Segments`` sheets as DataFrames, headers per :mod:`xlcrm.schema`.

    Parameters
    ----------
    ids : Series, optional
        The CustomerIDs of ``kept`` as trimmed text (computed when omitted).
    rating : Rating, optional
        Imputed weight and Unrated customers (their reason replaces the strategy).
    computed : ndarray of int, optional
        Per customer, how many indicator figures were computed from the ledger.
    """
    n = len(kept)
    if ids is None:
        ids = kept[schema.CUSTOMER_ID].astype("string").str.strip()
    # Series, not object arrays: pandas would scan every text again to infer its type.
    lead = {
        schema.CUSTOMER_ID: pd.Series(ids.to_numpy(dtype=object), dtype=object, copy=False),
        # Names as the ledger holds them (see carried_columns: no string per cell).
        **_carried(carried_columns(kept, (schema.CUSTOMER_NAME,))),
    }
    # Only the analysed customers were scored: rank and percentile are among them.
    tail = {
        "Value": scores.value.to_numpy(),
        "Rank": scores.rank.array,
        "Percentile": scores.percentile.to_numpy(),
        "Imputed": scores.imputed_count.to_numpy(),
        "ImputedWeight": rating.imputed_weight if rating is not None else np.full(n, np.nan),
        "Computed": computed if computed is not None else np.zeros(n, dtype=np.int64),
    }
    # Side by side without consolidating the score blocks into a copy (1 M customers).
    scores_table = pd.concat(
        [pd.DataFrame(lead, copy=False), scores.indicator_scores.reset_index(drop=True),
         scores.group_scores.reset_index(drop=True), pd.DataFrame(tail, copy=False)],
        axis=1,
    )

    seg = dict(lead)
    # High, Low or blank (as SegmentResult.labels), looked up without building text arrays.
    words = np.array(["Low", "High", ""], dtype=object)
    for group in segments.high.columns:
        flags = segments.high[group].to_numpy(dtype=float, na_value=np.nan)
        code = np.where(np.isnan(flags), 2, flags).astype(np.int64)
        seg[group] = _looked_up(words, code)
    numbers = segments.type.to_numpy(dtype=float, na_value=np.nan)
    groups = len(segments.high.columns)
    size = 1 << groups
    name_of = np.full(size + 1, None, dtype=object)
    strategy_of = np.full(size + 1, None, dtype=object)
    for k in np.unique(numbers[~np.isnan(numbers)]).astype(int):
        code = type_code(int(k), groups)
        strategy_of[k] = f"No strategy: add type {k} ({code}) on {schema.STRATEGIES}"
    for t in types:
        if t.number <= size:
            name_of[t.number], strategy_of[t.number] = t.name, t.strategy
    index = np.where(np.isnan(numbers), 0, numbers).astype(np.int64)
    unrated = rating.unrated if rating is not None and rating.unrated.any() else None
    seg["Type"] = segments.type.array
    # An Unrated customer's row of the lookup tables (one past the last type) holds its
    # name, no strategy (the reason is per customer) and no owner.
    rated_index = index if unrated is None else np.where(unrated, size + 1, index)
    seg["TypeName"] = _looked_up(np.append(name_of, UNRATED), rated_index)
    if unrated is None:
        seg["Strategy"] = _looked_up(strategy_of, index)
    else:
        strategy = strategy_of[index]
        strategy[unrated] = rating.reasons
        seg["Strategy"] = pd.Series(strategy, dtype=object, copy=False)
    seg["ABC"] = abc.abc
    classes = np.array([None, *ABC_CLASSES.values()], dtype=object)
    letters = pd.Series(abc.abc, dtype=object)
    seg["ABCName"] = _looked_up(classes, letters.map(
        {c: i + 1 for i, c in enumerate(ABC_CLASSES)}).fillna(0).to_numpy(dtype=np.int64))
    cluster = pd.array(profiles.labels + 1, dtype="Int64")
    cluster[profiles.labels < 0] = pd.NA
    seg["Cluster"] = cluster
    seg.update(_carried(carried_columns(kept)))
    owner_of = np.full(size + 1, None, dtype=object)
    for t in types:
        if t.number <= size:
            owner_of[t.number] = t.owner
    seg["Owner"] = _looked_up(np.append(owner_of, None), rated_index)
    return scores_table, pd.DataFrame(seg, copy=False)
