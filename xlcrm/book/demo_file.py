"""The demo workbook as a file: the template filled with a synthetic ledger, resegmented.

The ledger sheets are written by the part-wise appender (:func:`xlcrm.book.append.append_rows`,
which uses the result writer's column-wise cell writer): the template is built once, empty,
and the synthetic rows are appended to its Excel Tables, so 100 000 customers with their
history take seconds, not the minutes a cell-by-cell spreadsheet library takes. The analysis
runs on the ledger tables as generated, assembled the way a read of the file assembles them
(:func:`xlcrm.book.sheets.inputs_from_sheets`, with each frame's index holding its sheet row,
and the settings read from the template's cells), so the result sheets are those
``xlcrm resegment`` would write on the same file (``tests/test_demo_file.py`` checks it cell
by cell) without parsing a million rows back.

Where the demo may be written (:func:`check_output`): a new ``.xlsm`` file in an existing
folder. An existing file is replaced only when asked (``force``), through the safe save, which
keeps a backup of it in ``.xlcrm-backups`` beside it.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from xlcrm import schema
from xlcrm.book.append import append_rows
from xlcrm.book.history import HistorySheet, write_with_history
from xlcrm.book.read import open_workbook
from xlcrm.book.save import safe_replace, verify_workbook
from xlcrm.book.sheets import analyse, inputs_from_sheets
from xlcrm.errors import InputError
from xlcrm.operations.history import empty_history
from xlcrm.pipeline import Progress, Results
from xlcrm.report import result_sheets
from xlcrm.value.presets import DEFAULT_PRESET, Preset, preset

MACRO_WORKBOOK_SUFFIX = ".xlsm"


@dataclass(frozen=True)
class DemoWorkbook:
    """What :func:`make_demo_workbook` wrote.

    Attributes
    ----------
    path : Path
        The workbook.
    results : Results
        The analysis written on its result sheets.
    history_note : str
        Why the history has fewer orders than asked for (``""`` when it has them all).
    rows : dict of str to int
        Rows written per ledger sheet.
    backup : Path or None
        Where the file that was replaced (``force``) is kept.
    planted : tuple of PlantedProblem
        The deliberate mistakes in its Customers sheet (:data:`xlcrm.demo.PLANTED_PROBLEMS`).
    """

    path: Path
    results: Results
    history_note: str
    rows: dict[str, int]
    backup: Path | None
    planted: tuple[Any, ...] = ()


def check_output(path: Path, *, what: str = "the workbook", overwrite: bool = False) -> Path:
    """Refuse an output path Excel could not open as a macro workbook, or that is taken.

    Excel opens a workbook with macros (the ribbon's buttons) only under ``.xlsm``: an
    ``.xlsx`` holding a VBA project is refused with "file format or extension is not valid".
    The folder must exist: a mistyped folder is a refusal, not a new folder nobody looks in.

    Parameters
    ----------
    path : Path
        Where to write.
    what : str
        What is written, for the messages.
    overwrite : bool
        Allow replacing an existing file (the caller keeps a backup).

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    InputError
        One line saying what is wrong with ``path`` and what to give instead.
    """
    path = Path(path)
    if path.is_dir():
        raise InputError(
            f"{path} is a folder; {what} needs a file name",
            fix=f"Give a file in it, e.g. {path / 'demo.xlsm'}.",
        )
    if path.suffix.lower() != MACRO_WORKBOOK_SUFFIX:
        shown = f"'{path.suffix}'" if path.suffix else "no extension"
        raise InputError(
            f"{path.name} has {shown}, but {what} holds macros (the CRM ribbon), and Excel "
            "opens such a workbook only as .xlsm",
            fix=f"Give a name ending in .xlsm, e.g. {path.with_suffix('.xlsm').name}.",
        )
    if not path.parent.is_dir():
        raise InputError(
            f"the folder {path.parent} does not exist",
            fix=f"Create it first (mkdir {path.parent}) or give another path.",
        )
    if path.exists() and not overwrite:
        raise InputError(
            f"{path} already exists and is not overwritten",
            fix="Give another name, or add --force to replace it (a backup of it is kept in "
            f"{path.parent / '.xlcrm-backups'}).",
        )
    return path


def make_demo_workbook(
    out: Path,
    *,
    customers: int = 300,
    seed: int = 7,
    today: date | None = None,
    progress: Progress | None = None,
    stamp: datetime | None = None,
    force: bool = False,
    backups: int = 3,
    model: str = DEFAULT_PRESET,
) -> DemoWorkbook:
    """Write the template filled with a synthetic ledger to ``out``, resegmented.

    ``today`` is the last day of the synthetic history (and the day it is judged from);
    ``stamp`` the run time written on the result sheets (now when omitted). The history is
    scaled down when a sheet would pass Excel's row limit (see
    :func:`xlcrm.demo.fit_history`); the Customers columns xlcrm computes from the history
    are left blank (:data:`xlcrm.demo.COMPUTED_COLUMNS`).

    ``model`` names the preset laid out (:mod:`xlcrm.value.presets`): the workbook is the
    one ``xlcrm new OUT --model NAME`` writes, filled. The default model's ledger holds the
    planted mistakes of :data:`xlcrm.demo.PLANTED_PROBLEMS` (to show the Problems sheet);
    another model's ledger is clean, with the columns that model reads
    (:func:`xlcrm.demo.preset_columns`), so that it shows the model at work.

    Raises
    ------
    InputError
        Before any work, for an output :func:`check_output` refuses or customers that do not
        fit on a sheet.
    """
    # openpyxl (the template builder) is loaded only here, not by every command.
    from xlcrm.book.new_book import preset_workbook
    from xlcrm.demo import EXCEL_DATA_ROWS, SURVEY_IMPORTANCE, fit_history, make_ledger

    chosen = preset(model)
    out = check_output(Path(out), what="the demo workbook", overwrite=force)
    fit = fit_history(customers, seed=seed, today=today)
    if progress:
        progress("Making a synthetic ledger", 0.0)
    dirty = chosen.name == DEFAULT_PRESET
    ledger = make_ledger(customers, seed=seed, today=today, type_computed=False,
                         orders_per_customer=fit.orders_per_customer, dirty=dirty)
    frames = {
        schema.CUSTOMERS: model_customers(ledger, chosen, seed=seed, today=today,
                                          estimates=not dirty),
        schema.TRANSACTIONS: ledger.transactions,
        schema.INTERACTIONS: ledger.interactions,
        schema.SURVEY: ledger.survey,
        schema.CONTACTS: ledger.contacts,
    }
    for frame in frames.values():
        # The reader's convention: each row's index is its sheet row (header in row 1).
        frame.index = pd.RangeIndex(2, len(frame) + 2)
    rows = {sheet: len(frame) for sheet, frame in frames.items()}
    _refuse_rows(rows, EXCEL_DATA_ROWS)
    template = preset_workbook(chosen.name, importance=SURVEY_IMPORTANCE)
    results: Results | None = None

    def write(target: Path) -> None:
        nonlocal results
        with tempfile.TemporaryDirectory(prefix="xlcrm-demo-") as tmp:
            empty = Path(tmp) / "template.xlsm"
            empty.write_bytes(template)
            with open_workbook(empty) as book:
                # As a read of the file assembles them; the settings from the sheet cells.
                ledger_in, settings = inputs_from_sheets(
                    book.sheet_names, frames.__getitem__, book.read_grid)
            results = analyse(ledger_in, settings, progress=progress, stamp=stamp,
                              as_of=ledger.as_of)
            if progress:
                progress("Writing the workbook", 0.9)
            with_results = Path(tmp) / "results.xlsm"
            # The first run is recorded on History, as a resegment records it.
            write_with_history(template, with_results, result_sheets(results, source=out.name),
                               HistorySheet(empty_history(), exists=False), results.history)
            append_rows(with_results.read_bytes(), target, frames)
        # Checked whole, as a new file: what it replaces need not have been a workbook.
        verify_workbook(target)

    saved = safe_replace(out, write, backups=backups if force else 0, verify=False)
    assert results is not None
    if progress:
        progress("Done", 1.0)
    return DemoWorkbook(
        path=out, results=results, history_note=fit.note, rows=rows, backup=saved.backup,
        planted=ledger.planted_problems,
    )


def create_demo_workbook(out: Path, **options: Any) -> Results:
    """:func:`make_demo_workbook` (same arguments), returning only the analysis."""
    return make_demo_workbook(out, **options).results


def model_customers(ledger: Any, model: Preset, *, seed: int = 7, today: date | None = None,
                    estimates: bool = True) -> pd.DataFrame:
    """The Customers table of a demo ledger for ``model``.

    Its workbook's columns (:func:`xlcrm.book.template.customer_columns_of`): those the
    default ledger lacks drawn by :func:`xlcrm.demo.preset_columns`, those xlcrm computes
    from the history left blank, and, with ``estimates``, the account manager's
    Satisfaction estimate typed for customers who returned no questionnaire (a clean
    demo; the default demo leaves them blank, as it always has: its Problems sheet shows
    what a gap costs). For the default model without ``estimates`` the table is
    ``ledger.customers`` itself.
    """
    from xlcrm.book.template import customer_columns_of
    from xlcrm.demo import preset_columns
    from xlcrm.operations.derived import DERIVABLE

    columns = customer_columns_of(model.hierarchy)
    customers = ledger.customers
    # Satisfaction: the manager's estimate where the customer returned no questionnaire.
    drawn = tuple(c for c in columns if c not in customers.columns and c not in DERIVABLE
                  or (estimates and c == "Satisfaction"))
    if drawn:
        customers = customers.drop(columns=[c for c in drawn if c in customers.columns])
        customers = customers.join(preset_columns(ledger, drawn, seed=seed, today=today))
    missing = [c for c in columns if c not in customers.columns]  # computed: Orders12m
    if missing:
        customers = customers.assign(**dict.fromkeys(missing, np.nan))
    return customers[columns] if list(customers.columns) != columns else customers


def _refuse_rows(rows: dict[str, int], limit: int) -> None:
    """A guard: :func:`xlcrm.demo.fit_history` leaves room, so this should never refuse."""
    over = {s: n for s, n in rows.items() if n > limit}
    if over:
        sheet, n = next(iter(over.items()))
        raise InputError(f"the synthetic {sheet} has {n:,} rows, more than Excel's {limit:,}",
                         fix="Ask for fewer customers.", sheet=sheet)
