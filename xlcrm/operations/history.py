"""History and migration: who moved between types and ABC classes since the previous run.

Each resegment appends its outcome to the ``History`` sheet (one row per customer:
``schema.HISTORY_COLUMNS``). This module is the pure half: it checks the History table as
read, picks the previous run, says for each customer where it came from and whether it
moved up or down, counts the migration matrices, and decides which old runs the retention
option drops. The sheet itself is read and written by :mod:`xlcrm.book.history`.

Rules a user would agree with (each is tested):

* **A run** is one ``(RunStamp, AsOf)`` pair: a backfill computes several as-of days at
  one moment, so the stamp alone does not tell its runs apart.
* **The previous run** is the one with the latest ``AsOf`` *before* this run's as-of day
  (the latest stamp among those). A rerun on the same day, after correcting a cell, is
  compared with the same earlier run as the first one was, so a correction never hides
  the month's moves behind "same".
* **Up and down for types** follow the analyst's own weights: a type is worth the summed
  weight of the first-level groups it is High on (with the default groups, Star = HHH is
  worth 1, LLL 0). A customer moves up when its new type is worth more. Ordering by type
  number would call HLL (type 4, High on Qualification only) better than LHH (type 5,
  High on Potential and Contribution); the weights say what the analyst decided matters.
  Two types worth exactly the same are no move. Unrated or no type: not compared.
* **Up and down for classes**: A above B above C; no class is not compared.
* **Move** is ``new`` when the customer was not in the previous run, ``down`` when its type
  or its class went down (a call list: a customer slipping from A to B needs a call even
  when its type rose), ``up`` when one went up and none down, else ``same``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time

import numpy as np
import pandas as pd

from xlcrm import schema
from xlcrm.errors import Problem, cell_address, column_letter

EXCEL_ROWS = 1_048_576
HISTORY_CAPACITY = EXCEL_ROWS - 1
"""Rows of customers a History sheet holds below its header."""
DEFAULT_RUNS_KEPT = 24
RUNS_KEPT_OPTION = "History runs kept"
REQUIRED = schema.HISTORY_COLUMNS[:6]
"""RunStamp, AsOf, CustomerID, Type, ABC, Value; CLV and PAlive may be missing."""
MOVES = ("up", "down", "same", "new")
CLASS_RANK = {"A": 3, "B": 2, "C": 1}
NEW, GONE, NONE = "New", "Gone", "Unrated"
CELLS_SHOWN = 5
"""Bad History cells reported one by one; the rest in one line."""


@dataclass
class History:
    """The History sheet as read and checked.

    Attributes
    ----------
    frame : DataFrame
        Every row as read (index: sheet row), with ``_stamp`` and ``_asof`` columns added
        (Timestamps; NaT where unreadable). When ``load`` is set, only ``_stamp`` and
        ``_asof``: the other cells are read where a run needs them (:func:`rows_of`).
    runs : DataFrame
        One row per run in order of ``AsOf`` then ``RunStamp``: ``RunStamp``, ``AsOf``,
        ``Rows``.
    usable : bool
        Whether this run's rows can be appended (the required headers are there).
    columns : tuple of str
        The History columns the sheet has (what an append writes).
    problems : list of Problem
    """

    frame: pd.DataFrame
    runs: pd.DataFrame
    usable: bool = True
    columns: tuple[str, ...] = schema.HISTORY_COLUMNS
    problems: list[Problem] = field(default_factory=list)
    positions: Mapping[str, int] = field(default_factory=dict)
    in_table: bool = False
    """The rows are in an Excel Table: they can be appended to, not rewritten."""
    load: Callable[[pd.Index], pd.DataFrame] | None = None
    """Reads the cells of the given sheet rows (every column of ``columns``) when ``frame``
    holds only the dates: a large sheet is read in part (:mod:`xlcrm.book.history_scan`)."""

    @property
    def rows(self) -> int:
        return len(self.frame)


def rows_of(history: History, where: np.ndarray | pd.Series) -> pd.DataFrame:
    """The rows of ``history`` where ``where`` (a mask over ``history.frame``) is true, every
    column as read plus ``_stamp`` and ``_asof``; read from the sheet when it was read in
    part."""
    rows = history.frame[np.asarray(where, dtype=bool)]
    if history.load is None:
        return rows
    cells = history.load(rows.index)
    if not cells.index.equals(rows.index):  # the reader promises these very rows
        raise RuntimeError("History rows read in part do not match the rows asked for")
    return cells.assign(_stamp=rows["_stamp"], _asof=rows["_asof"])


def empty_history() -> History:
    """A History with no runs (no sheet yet, or the run records no history)."""
    frame = pd.DataFrame(columns=[*schema.HISTORY_COLUMNS, "_stamp", "_asof"])
    return History(frame, _runs(frame))


def _runs(frame: pd.DataFrame) -> pd.DataFrame:
    ok = frame[["_stamp", "_asof"]].dropna()
    runs = ok.groupby(["_asof", "_stamp"], sort=True).size().rename("Rows").reset_index()
    return runs.rename(columns={"_stamp": "RunStamp", "_asof": "AsOf"})[
        ["RunStamp", "AsOf", "Rows"]]


def read_history(
    frame: pd.DataFrame, positions: Mapping[str, int], *, header_row: int = 1,
    sheet: str = schema.HISTORY, in_table: bool = False,
    load: Callable[[pd.Index], pd.DataFrame] | None = None,
) -> History:
    """Check the History table as a reader gives it (index: sheet rows).

    A missing required header makes the sheet unusable: no previous run is compared and
    this run is not recorded, with one warning saying which header to restore. A row
    whose RunStamp or AsOf is not a date is left out, with one warning for all of them.
    With ``load`` (see :attr:`History.load`), ``frame`` holds RunStamp and AsOf only and
    ``positions`` names every header.
    """
    problems: list[Problem] = []
    headers = list(positions) if load is not None else list(frame.columns)
    missing = [c for c in REQUIRED if c not in headers]
    if missing:
        problems.append(Problem(
            "warning",
            f"the {sheet} sheet has no column {', '.join(missing)}, so this run is not "
            "recorded and no customer is compared with an earlier run",
            f"Put the headers {', '.join(schema.HISTORY_COLUMNS)} back in row {header_row} "
            f"(or delete the {sheet} sheet: the next run starts it afresh).",
            sheet, f"{header_row}:{header_row}"))
        return History(empty_history().frame, _runs(empty_history().frame), usable=False,
                       columns=(), problems=problems, positions=positions)
    out = frame.copy()
    out["_stamp"] = _dates(out["RunStamp"])
    out["_asof"] = _dates(out["AsOf"]).dt.normalize()
    bad = out.index[out["_stamp"].isna() | out["_asof"].isna()]
    if len(bad):
        column = "RunStamp" if out.loc[bad[0], "_stamp"] is pd.NaT else "AsOf"
        where = cell_address(int(bad[0]) - 1, positions.get(column, 0))
        problems.append(Problem(
            "warning",
            f"{len(bad):,} History row(s) have a RunStamp or AsOf that is not a date "
            f"(first: {sheet}!{where}); they are left out of the comparison",
            "Restore the date from a backup, or delete those rows.", sheet, where))
    columns = tuple(c for c in schema.HISTORY_COLUMNS if c in headers)
    if load is not None:
        out = out[["_stamp", "_asof"]]
    return History(out, _runs(out), True, columns, problems, positions, in_table, load)


def _dates(values: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.astype("datetime64[ns]")
    if pd.api.types.infer_dtype(values, skipna=True) in ("datetime", "date"):
        # as the sheet holds them: one vectorised conversion, no per-cell Python
        return pd.to_datetime(values, errors="coerce")
    return pd.to_datetime(values.map(lambda v: v if isinstance(v, (date, datetime)) else
                                     (v if isinstance(v, str) else None)),
                          errors="coerce", format="mixed")


@dataclass
class Previous:
    """The previous run's outcome per customer."""

    stamp: datetime
    as_of: date
    table: pd.DataFrame  # index CustomerID: Type (float, NaN unknown), ABC (str or None)
    problems: list[Problem] = field(default_factory=list)


def previous_run(history: History, as_of: date, *, sheet: str = schema.HISTORY
                 ) -> Previous | None:
    """The latest run before ``as_of`` (see the module doc), its cells checked.

    Each cell is judged by its own value, whatever else its column holds (a reader types a
    column by all of its cells): a number, or text that reads as one, is a type number or a
    value; a date, a time or TRUE/FALSE is not.
    """
    runs = history.runs
    if not len(runs):
        return None
    earlier = runs[runs["AsOf"] < pd.Timestamp(as_of)]
    if not len(earlier):
        return None
    last = earlier.iloc[-1]
    f = history.frame
    rows = rows_of(history, (f["_stamp"] == last["RunStamp"]) & (f["_asof"] == last["AsOf"]))
    problems: list[Problem] = []
    ids = rows["CustomerID"].map(_id_text)
    type_cells = _cells(rows["Type"])
    types = _numbers(type_cells)
    problems += _bad_cells(type_cells, _filled(type_cells)
                           & (types.isna() | (types < 1) | (types % 1 != 0)),
                           history.positions, "Type", "is not a type number",
                           "Restore the number from a backup; the customer's previous type "
                           "counts as unknown.", sheet)
    abc = rows["ABC"].map(lambda v: v.strip().upper() if isinstance(v, str) else None)
    problems += _bad_cells(rows["ABC"], abc.notna() & ~abc.isin(list(CLASS_RANK)),
                           history.positions, "ABC", "is not A, B or C",
                           "Restore the class from a backup; the customer's previous class "
                           "counts as unknown.", sheet)
    value_cells = _cells(rows["Value"])
    problems += _bad_cells(value_cells, _filled(value_cells) & _numbers(value_cells).isna(),
                           history.positions, "Value",
                           "is not a number",
                           "Restore the number from a backup (History keeps what each run "
                           "computed); it is not used for the moves.", sheet)
    table = pd.DataFrame({
        "Type": types.where((types >= 1) & (types % 1 == 0)).to_numpy(dtype=float),
        "ABC": abc.where(abc.isin(list(CLASS_RANK)), None).to_numpy(dtype=object),
    }, index=pd.Index(ids.to_numpy(dtype=object), name=schema.CUSTOMER_ID))
    table = table[table.index.notna() & ~table.index.duplicated(keep="last")]
    return Previous(last["RunStamp"].to_pydatetime(), last["AsOf"].date(), table, problems)


def _cells(values: pd.Series) -> pd.Series:
    """``values`` as the cells hold them, the same whether the reader gave the column as
    numbers, dates or mixed objects: numbers as float64 (NaN blank), dates as datetime64,
    anything mixed as one Python value a cell (``None`` blank)."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return values
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return pd.Series(values.to_numpy(dtype=float, na_value=np.nan), index=values.index)
    out = [None if v is None or v is pd.NaT or v is pd.NA or (isinstance(v, float) and v != v)
           else (float(v) if isinstance(v, (np.floating, np.integer)) else
                 v.to_pydatetime() if isinstance(v, pd.Timestamp) else v)
           for v in values.astype(object)]
    return pd.Series(out, index=values.index, dtype=object)


def _filled(cells: pd.Series) -> pd.Series:
    """The cells that are not blank."""
    if cells.dtype == object:
        return cells.notna() & (cells != "")
    return cells.notna()


def _numbers(cells: pd.Series) -> pd.Series:
    """The number each cell holds (text read as a number); NaN for blank and for anything
    else (a date, a time, TRUE/FALSE)."""
    if cells.dtype == float:
        return cells
    if cells.dtype != object:  # dates
        return pd.Series(np.nan, index=cells.index)
    plain = cells.map(lambda v: v if isinstance(v, (str, float, int))
                      and not isinstance(v, bool) else None)
    return pd.to_numeric(plain, errors="coerce").astype(float)


def _shown(value: object) -> str:
    """A cell's value as a message quotes it."""
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, np.floating):
        value = float(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ") if value.time() != time() else \
            value.date().isoformat()
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value)


def _id_text(value: object) -> str | None:
    if value is None or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    return text or None


def _bad_cells(cells: pd.Series, bad: pd.Series, positions: Mapping[str, int], column: str,
               what: str, fix: str, sheet: str) -> list[Problem]:
    where = cells.index[bad.to_numpy(dtype=bool)]
    col = positions.get(column, 0)
    out = [Problem("warning", f"{column} {_shown(cells[r])} in the previous run {what}", fix,
                   sheet, cell_address(int(r) - 1, col))
           for r in where[:CELLS_SHOWN]]
    if len(where) > CELLS_SHOWN:
        letter = column_letter(col)
        out.append(Problem("warning", f"{len(where) - CELLS_SHOWN:,} more {column} cells of "
                           f"the previous run {what}", fix, sheet, f"{letter}:{letter}"))
    return out


# --------------------------------------------------------------------------------------------
# Moves


def type_worth(numbers: np.ndarray, group_weights: Sequence[float]) -> np.ndarray:
    """The summed weight of the groups each type is High on (NaN for NaN or out of range).

    Type ``k`` is Low on group ``j`` when bit ``g-1-j`` of ``k-1`` is set
    (:func:`xlcrm.value.strategies.type_code`).
    """
    g = len(group_weights)
    numbers = np.asarray(numbers, dtype=float)
    ok = ~np.isnan(numbers) & (numbers >= 1) & (numbers <= 1 << g)
    k = np.where(ok, numbers, 1).astype(np.int64) - 1
    worth = np.zeros(len(numbers))
    for j, w in enumerate(group_weights):
        worth += np.where((k >> (g - 1 - j)) & 1, 0.0, float(w))
    return np.where(ok, worth, np.nan)


def _direction(old: np.ndarray, new: np.ndarray) -> np.ndarray:
    """+1 up, -1 down, 0 same or not comparable."""
    both = ~np.isnan(old) & ~np.isnan(new)
    diff = np.where(both, new - old, 0.0)
    # weights are sums of floats: differences below rounding are no move
    return np.where(diff > 1e-9, 1, np.where(diff < -1e-9, -1, 0))


def moves(
    ids: pd.Series, types: pd.Series, abc: Sequence[object], previous: Previous | None,
    group_weights: Sequence[float],
) -> pd.DataFrame:
    """PreviousType, PreviousABC and Move per customer (rows as ``ids``)."""
    n = len(ids)
    if previous is None:
        return pd.DataFrame({"PreviousType": pd.arrays.IntegerArray(  # all <NA>, no list
                                 np.zeros(n, dtype=np.int64), np.ones(n, dtype=bool)),
                             "PreviousABC": np.full(n, None, dtype=object),
                             # categories: a million "new" as text is 60 MB transient
                             "Move": pd.Categorical.from_codes(np.zeros(n, dtype=np.int8),
                                                               ["new"])})
    prev = previous.table.reindex(ids.to_numpy(dtype=object))
    seen = ids.isin(previous.table.index).to_numpy()
    old_t = prev["Type"].to_numpy(dtype=float)
    new_t = types.to_numpy(dtype=float, na_value=np.nan)
    t_dir = _direction(type_worth(old_t, group_weights), type_worth(new_t, group_weights))
    rank = np.vectorize(lambda v: CLASS_RANK.get(v, np.nan) if isinstance(v, str) else np.nan,
                        otypes=[float])
    old_c = prev["ABC"].to_numpy(dtype=object)
    c_dir = _direction(rank(old_c) if n else np.zeros(0),
                       rank(np.asarray(abc, dtype=object)) if n else np.zeros(0))
    move = np.where(~seen, "new", np.where((t_dir < 0) | (c_dir < 0), "down",
                                           np.where((t_dir > 0) | (c_dir > 0), "up", "same")))
    prev_type = pd.array(np.where(np.isnan(old_t), 0, old_t).astype(np.int64), dtype="Int64")
    prev_type[np.isnan(old_t)] = pd.NA
    return pd.DataFrame({"PreviousType": prev_type,
                         "PreviousABC": pd.Series(old_c, dtype=object).where(seen, None)
                         .to_numpy(dtype=object),
                         "Move": move.astype(object)})


# --------------------------------------------------------------------------------------------
# Matrices and the moved-down list


def _labels(values: np.ndarray, name_of: Mapping[int, str]) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):
        out[i] = NONE if v != v or v is None else name_of.get(int(v), f"Type {int(v)}")
    return out


def migration_matrix(
    previous: Previous, ids: pd.Series, current: Sequence[object], order: Sequence[str],
    *, kind: str,
) -> pd.DataFrame:
    """Counts from each previous label (rows, then ``New``) to each current label (columns,
    then ``Gone``). ``current`` and the previous table's column ``kind`` hold labels already
    (type names or class letters; ``None`` -> Unrated / no class)."""
    # object indexes: pandas' arrow-backed string index looks values up one by one in
    # isin (2 s for two matrices of 100,000 customers), a hash table does it in C
    prev = previous.table[kind]
    now = pd.Series(np.asarray(current, dtype=object),
                    index=pd.Index(ids.to_numpy(dtype=object), dtype=object))
    now = now.where(now.notna(), NONE)
    before = pd.Series(prev.to_numpy(dtype=object),
                       index=pd.Index(prev.index.to_numpy(dtype=object), dtype=object))
    before = before.where(before.notna(), NONE)
    both = now.index.intersection(before.index)
    pairs = pd.DataFrame({"From": before.reindex(both).to_numpy(dtype=object),
                          "To": now.reindex(both).to_numpy(dtype=object)})
    new = now[~now.index.isin(before.index)]
    gone = before[~before.index.isin(now.index)]
    pairs = pd.concat([pairs, pd.DataFrame({"From": NEW, "To": new.to_numpy(dtype=object)}),
                       pd.DataFrame({"From": gone.to_numpy(dtype=object), "To": GONE})],
                      ignore_index=True)
    seen = {*pairs["From"].unique(), *pairs["To"].unique()}  # not a set of 200,000 strings
    labels = [*order, *(lbl for lbl in sorted(seen, key=str)
                        if lbl not in order and lbl not in (NEW, GONE, NONE))]
    rows = [*labels, *([NONE] if (pairs["From"] == NONE).any() else []), NEW]
    cols = [*labels, *([NONE] if (pairs["To"] == NONE).any() else []), GONE]
    table = pd.crosstab(pairs["From"], pairs["To"]).reindex(index=rows, columns=cols,
                                                            fill_value=0)
    used_rows = [r for r in rows if table.loc[r].sum() or r in order]
    used_cols = [c for c in cols if table[c].sum() or c in order]
    return table.loc[used_rows, used_cols].astype(np.int64)


@dataclass
class Migration:
    """What moved since the previous run (``None`` fields when there was none)."""

    previous: Previous | None
    by_type: pd.DataFrame | None = None
    by_class: pd.DataFrame | None = None
    counts: dict[str, int] = field(default_factory=dict)
    gone: int = 0


def migration(
    ids: pd.Series, types: pd.Series, abc: Sequence[object], move: pd.Series,
    previous: Previous | None, name_of: Mapping[int, str], type_order: Sequence[int],
) -> Migration:
    """Type and class matrices and the counts of each move."""
    counts = {m: int((move == m).sum()) for m in MOVES}
    if previous is None:
        return Migration(None, counts=counts)
    names = [name_of.get(k, f"Type {k}") for k in type_order]
    prev = Previous(previous.stamp, previous.as_of, pd.DataFrame({
        "Type": _labels(previous.table["Type"].to_numpy(dtype=float), name_of),
        "ABC": previous.table["ABC"]}, index=previous.table.index))
    now_types = _labels(types.to_numpy(dtype=float, na_value=np.nan), name_of)
    by_type = migration_matrix(prev, ids, now_types, names, kind="Type")
    by_class = migration_matrix(prev, ids, list(abc), list(CLASS_RANK), kind="ABC")
    gone = int(by_class[GONE].sum()) if GONE in by_class.columns else 0
    return Migration(previous, by_type, by_class, counts, gone)


def type_order(catalogue_numbers: Sequence[int], types: pd.Series,
               previous: Previous | None) -> list[int]:
    """The types a matrix lists: those on Strategies and those either run has, by number."""
    # distinct numbers first: a million customers have a handful of types
    return sorted({*catalogue_numbers, *(int(k) for k in types.dropna().unique()),
                   *((int(k) for k in previous.table["Type"].dropna().unique())
                     if previous else ())})


def narrowed(mig: Migration, ids: pd.Series, types: pd.Series, abc: Sequence[object],
             move: pd.Series, name_of: Mapping[int, str]) -> Migration:
    """``mig`` over the customers ``ids`` only (a manager's book): the previous run narrowed
    to them too, so nobody else is counted (a customer gone since is nobody's any more)."""
    previous = mig.previous
    if previous is not None:
        keep = previous.table.index.isin(ids.to_numpy(dtype=object))
        previous = Previous(previous.stamp, previous.as_of, previous.table[keep])
    return migration(ids, types, abc, move, previous, name_of,
                     type_order(list(name_of), types, previous))


# --------------------------------------------------------------------------------------------
# Retention


@dataclass
class HistoryUpdate:
    """What a run adds to History and which old rows stay.

    Attributes
    ----------
    rows : DataFrame
        This run's rows (``schema.HISTORY_COLUMNS``).
    keep : ndarray of bool or None
        Per existing History row: kept. ``None``: all are kept, the new rows are appended.
    record : bool
        False when nothing is written (History unusable, or 0 runs kept).
    """

    rows: pd.DataFrame
    keep: np.ndarray | None = None
    record: bool = True
    problems: list[Problem] = field(default_factory=list)


def plan_update(history: History, rows: pd.DataFrame, runs_kept: int,
                *, sheet: str = schema.HISTORY) -> HistoryUpdate:
    """Add the run(s) in ``rows``; keep the latest ``runs_kept`` runs that fit on the sheet.

    Runs are ordered by AsOf, then RunStamp; the oldest go first. Why: migration compares
    with the latest earlier run and a trend needs the recent runs, while a run two years
    old is read least. The sheet never overflows: when ``runs_kept`` runs of this many
    customers would pass Excel's 1,048,576 rows, fewer are kept and a warning names the
    option. ``rows`` may hold several runs (a backfill); a new run older than every kept
    one is not recorded at all.
    """
    if not history.usable or runs_kept == 0:
        return HistoryUpdate(rows, None, record=False)
    new = rows[["RunStamp", "AsOf"]].drop_duplicates().rename(
        columns={"RunStamp": "_stamp", "AsOf": "_asof"})
    new_sizes = rows.groupby(["AsOf", "RunStamp"]).size()
    runs = pd.concat([
        history.runs.assign(new=False),
        pd.DataFrame({"RunStamp": new["_stamp"].to_numpy(), "AsOf": new["_asof"].to_numpy(),
                      "Rows": [int(new_sizes[(a, r)]) for r, a in new.to_numpy()],
                      "new": True}),
    ], ignore_index=True).sort_values(["AsOf", "RunStamp"], kind="stable")
    sizes = runs["Rows"].to_numpy(dtype=np.int64)
    unreadable = history.rows - int(history.runs["Rows"].sum())  # kept as they are
    room = HISTORY_CAPACITY - unreadable
    want = min(runs_kept, len(runs))
    fit = want
    while fit > 0 and int(sizes[len(sizes) - fit:].sum()) > room:
        fit -= 1
    problems: list[Problem] = []
    if fit < want:
        problems.append(Problem(
            "warning",
            f"{sheet} keeps {fit} runs, not the {runs_kept} '{RUNS_KEPT_OPTION}' asks for: "
            f"more runs of {len(rows) // max(len(new), 1):,} customers would pass Excel's "
            f"{EXCEL_ROWS:,} rows, so the oldest runs were dropped",
            f"Set {RUNS_KEPT_OPTION} on the {schema.INDICATORS} sheet to {fit} or fewer, or "
            "move old History rows to an archive workbook.", schema.INDICATORS, None))
    kept = runs.iloc[len(runs) - fit:] if fit else runs.iloc[:0]
    kept_new = kept[kept["new"]]
    rows = rows[pd.MultiIndex.from_frame(rows[["RunStamp", "AsOf"]]).isin(
        pd.MultiIndex.from_frame(kept_new[["RunStamp", "AsOf"]]))]
    record = bool(len(rows))
    if int(kept["new"].eq(False).sum()) == len(history.runs):
        return HistoryUpdate(rows, None, record=record, problems=problems)
    if history.in_table:
        problems.append(Problem(
            "warning",
            f"the {sheet} rows are in an Excel Table, so xlcrm cannot drop the oldest runs "
            f"that '{RUNS_KEPT_OPTION}' leaves out; they stay",
            f"Convert the table on {sheet} to a range (Table Design > Convert to Range).",
            sheet, None))
        return HistoryUpdate(rows, None, record=record, problems=problems)
    old = kept[~kept["new"]]
    key = pd.MultiIndex.from_frame(history.frame[["_stamp", "_asof"]])
    keep = key.isin(pd.MultiIndex.from_frame(old[["RunStamp", "AsOf"]])) | \
        history.frame[["_stamp", "_asof"]].isna().any(axis=1).to_numpy()
    return HistoryUpdate(rows, np.asarray(keep, dtype=bool), record=True, problems=problems)


def run_rows(stamp: datetime, as_of: date, ids: pd.Series, types: pd.Series,
             abc: Sequence[object], value: pd.Series, activity: pd.DataFrame | None
             ) -> pd.DataFrame:
    """This run's History rows: one per analysed customer."""
    n = len(ids)
    clv = palive = np.full(n, np.nan)
    if activity is not None and {"CLV", "PAlive"} <= set(activity.columns):
        by_id = activity.set_index(activity[schema.CUSTOMER_ID].astype(str).to_numpy())
        by_id = by_id[~by_id.index.duplicated()]
        keys = ids.astype(str).to_numpy()
        clv = pd.to_numeric(by_id["CLV"], errors="coerce").reindex(keys).to_numpy(dtype=float)
        palive = pd.to_numeric(by_id["PAlive"], errors="coerce").reindex(keys).to_numpy(
            dtype=float)
    return pd.DataFrame({
        # datetime64 arrays, not a million references to one Timestamp object for pandas
        # to convert one by one
        "RunStamp": np.full(n, pd.Timestamp(stamp).as_unit("us").to_datetime64()),
        "AsOf": np.full(n, pd.Timestamp(as_of).as_unit("us").to_datetime64()),
        # object Series: pandas would copy every ID and class into its string type
        # (0.2 s and 60 MB at 1,048,576 customers)
        schema.CUSTOMER_ID: pd.Series(ids.to_numpy(dtype=object), dtype=object, copy=False),
        "Type": pd.array(types.array, dtype="Int64"),
        "ABC": pd.Series(np.asarray(abc, dtype=object), dtype=object, copy=False),
        # rounded: the sheet holds a row per customer and run, and nobody reads the 15th digit
        "Value": np.round(value.to_numpy(dtype=float), 2),
        "CLV": np.round(clv, 2),
        "PAlive": np.round(palive, 4),
    })


# --------------------------------------------------------------------------------------------
# Backfill


def monthly_days(first: date, last: date) -> list[date]:
    """``first``, then the same day of each following month (the month's last day where it
    has none: 31 January, 28 February, 31 March ...), up to ``last``."""
    out = []
    k = 0
    while True:
        day = (pd.Timestamp(first) + pd.DateOffset(months=k)).date()
        if day > last:
            return out
        out.append(day)
        k += 1


def customers_by(customers: pd.DataFrame, transactions: pd.DataFrame, as_of: date
                 ) -> pd.DataFrame:
    """The customers of ``customers`` that were customers on ``as_of``, for a past run.

    The ledger does not say since when a customer is one; its first order does. A customer
    whose first order is after ``as_of`` was not yet a customer, so a run rebuilt for that
    day leaves it out (and the run after its first order shows it as ``new``). A customer
    without any dated order is kept: nothing says when it came.
    """
    if not len(transactions) or not {schema.CUSTOMER_ID, "Date"} <= set(transactions.columns):
        return customers
    dates = pd.to_datetime(transactions["Date"], errors="coerce")
    ids = transactions[schema.CUSTOMER_ID].map(_id_text)
    first = dates.groupby(ids.to_numpy(dtype=object)).min()
    later = first.index[first > pd.Timestamp(as_of)]
    mine = customers[schema.CUSTOMER_ID].map(_id_text)
    return customers[~mine.isin(later).to_numpy()]
