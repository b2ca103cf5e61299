"""One account manager's book: the workbook with only that manager's customers, to email.

:func:`manager_workbook` writes, to a new file, the source workbook with

- every row about another customer removed (not hidden) from every worksheet keyed by
  CustomerID: the ledger sheets (Customers, Transactions, Interactions, Survey) and any
  other sheet whose Excel Table or first row has a ``CustomerID`` column (a Contacts or
  History sheet included), the rows below moved up and the sheet's Excel Tables, hyperlinks
  and merged cells moved with them;
- the result sheets rewritten from the run over the whole book narrowed to the manager's
  customers (:func:`xlcrm.subset.subset_results`: each customer keeps the type, class and
  score it has in the whole book, the Dashboard's summaries are over the manager's
  customers and say so);
- the Problems sheet holding only the problems not about another customer: a problem at a
  row of another customer, or whose text names another customer's ID or name, is left out;
  the others point at the rows where their cells now are.

:func:`xlcrm.book.share.make_shareable` then makes the values-only copy of that file, with
notes, text boxes and chart caches dropped and unused shared strings emptied (as when
masking contacts), so that no other customer is left anywhere in the zip.
"""

from __future__ import annotations

import bisect
import io
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path

import pandas as pd

from xlcrm import schema
from xlcrm.book.append import _edit_table_xml, sheet_tables
from xlcrm.book.read import Workbook
from xlcrm.book.sheets import analyse
from xlcrm.book.workbook_file import book_inputs
from xlcrm.book.write import open_package, write_result_sheets
from xlcrm.book.zip_members import edited_members, write_zip_replacing
from xlcrm.errors import InputError, Problem
from xlcrm.report import result_sheets
from xlcrm.subset import subset_results

_ROW = re.compile(rb"<((?:\w+:)?)row\b((?:[^>\"'/]|\"[^\"]*\"|'[^']*')*)(?:/>|>(.*?)</\1row>)",
                  re.S)
_R_NUM = re.compile(rb"""(\sr=["'])(\d+)(["'])""")
_CELL_R = re.compile(rb"""(\sr=["'][A-Z]{1,3})(\d+)(["'])""")
_REF_ELEMENT = re.compile(rb"<(?:\w+:)?(?:hyperlink|mergeCell)\b[^>]*?/>", re.S)
_EMPTY_LIST = re.compile(rb"<((?:\w+:)?)(mergeCells|hyperlinks)\b[^>]*>\s*</\1\2>")
_MERGE_LIST = re.compile(rb"<((?:\w+:)?)mergeCells\b[^>]*>.*?</\1mergeCells>", re.S)
_COUNT = re.compile(rb'count="\d+"')
_REF_ATTR = re.compile(rb"""(\sref=["'])([^"']*)(["'])""")
_A1 = re.compile(r"^(\$?[A-Z]{1,3}\$?)(\d+)$")
_AS_OF = re.compile(r"as of (\d{4}-\d{2}-\d{2})|^Computed (\d{4}-\d{2}-\d{2}) ")
_WORD = re.compile(r"[\w.\-/]+")


@dataclass
class RowMap:
    """Rows removed from one sheet (1-based), so that a later row's new number is known."""

    removed: list[int]  # sorted

    def new_row(self, row: int) -> int | None:
        """Where sheet row ``row`` is now; ``None`` when it was removed."""
        i = bisect.bisect_left(self.removed, row)
        if i < len(self.removed) and self.removed[i] == row:
            return None
        return row - i


def managers(customers: pd.DataFrame) -> list[str]:
    """The account managers named on Customers, as typed (trimmed), sorted."""
    if schema.ACCOUNT_MANAGER not in customers.columns:
        return []
    names = customers[schema.ACCOUNT_MANAGER].astype("string").str.strip().dropna()
    return sorted({n for n in names if n})


def _pick_manager(customers: pd.DataFrame, manager: str) -> str:
    """``manager`` as Customers spells it (case and spaces aside), or a one-line refusal."""
    known = managers(customers)
    wanted = " ".join(manager.split()).casefold()
    for name in known:
        if " ".join(name.split()).casefold() == wanted:
            return name
    if not known:
        raise InputError(f"the {schema.CUSTOMERS} sheet has no {schema.ACCOUNT_MANAGER} column "
                         "(or it is empty), so there is no manager's book to make",
                         fix=f"Add an {schema.ACCOUNT_MANAGER} column to {schema.CUSTOMERS}.",
                         sheet=schema.CUSTOMERS)
    raise InputError(f"no customer has the account manager {manager!r}",
                     fix=f"Use one of: {', '.join(known)}.", sheet=schema.CUSTOMERS)


def manager_name(book: Workbook, manager: str) -> str:
    """``manager`` as the Customers sheet spells it (see :func:`_pick_manager`)."""
    table = book.ledger_table(schema.CUSTOMERS, schema.CUSTOMER_ID)
    read = book.read_table(table.name) if table else book.read_sheet(schema.CUSTOMERS)
    return _pick_manager(read.frame, manager)


def _keyed_rows(book: Workbook, sheet: str, skip: Collection[str]) -> pd.Series | None:
    """CustomerID (trimmed text) per sheet row of ``sheet`` when its Excel Table or first row
    has a CustomerID column; ``None`` for a sheet not keyed by customer."""
    if sheet in skip:
        return None
    table = book.ledger_table(sheet, schema.CUSTOMER_ID)
    try:
        read = book.read_table(table.name) if table else book.read_sheet(sheet)
    except (InputError, ValueError):
        return None  # not a table of rows (a settings grid, a chart sheet)
    if schema.CUSTOMER_ID not in read.frame.columns:
        return None
    return read.frame[schema.CUSTOMER_ID].astype("string").str.strip().fillna("")


def _shift_rows(xml: bytes, rows: RowMap) -> bytes:
    """The sheet part without the removed rows, later rows (and cell, hyperlink and merge
    references) moved up."""

    last = 0  # a row without r="..." is the one after the previous row (the spec's rule)

    def row(m: re.Match[bytes]) -> bytes:
        nonlocal last
        r = _R_NUM.search(m.group(2))
        number = int(r.group(2)) if r else last + 1
        last = number
        new = rows.new_row(number)
        if new is None:
            return b""
        if new == number:
            return m.group()
        moved = _CELL_R.sub(lambda c: c.group(1) + str(new).encode() + c.group(3), m.group())
        if r is None:  # give the row its new number, or a reader would count it in place
            tag = len(m.group(1)) + 4
            return moved[:tag] + f' r="{new}"'.encode() + moved[tag:]
        return moved.replace(r.group(), r.group(1) + str(new).encode() + r.group(3), 1)

    out = _ROW.sub(row, xml)

    def element(m: re.Match[bytes]) -> bytes:
        ref = _REF_ATTR.search(m.group())
        if ref is None:
            return m.group()
        moved = _moved_ref(ref.group(2).decode(), rows)
        if moved is None:
            return b""
        return m.group().replace(ref.group(), ref.group(1) + moved.encode() + ref.group(3), 1)

    out = _REF_ELEMENT.sub(element, out)
    # The schema wants at least one child in each list, and mergeCells counts them.
    out = _EMPTY_LIST.sub(b"", out)
    return _MERGE_LIST.sub(lambda m: _COUNT.sub(
        b'count="' + str(m.group().count(b"mergeCell ") + m.group().count(b"mergeCell/"))
        .encode() + b'"', m.group(), count=1), out)


def _moved_ref(ref: str, rows: RowMap) -> str | None:
    """``A5`` or ``A5:C7`` with its rows moved; ``None`` when its first row was removed."""
    cells = []
    for cell in ref.split(":"):
        m = _A1.match(cell)
        if m is None:
            return ref
        new = rows.new_row(int(m.group(2)))
        if new is None:
            if cells:  # the end of a range: the last row kept above it
                new = int(m.group(2)) - bisect.bisect_right(rows.removed, int(m.group(2)))
            else:
                return None
        cells.append(f"{m.group(1)}{new}")
    return ":".join(cells)


def _moved_problem(p: Problem, maps: Mapping[str, RowMap]) -> Problem | None:
    """``p`` pointing where its cell is now; ``None`` when its row was removed."""
    if not p.sheet or not p.cell or p.sheet not in maps:
        return p
    moved = _moved_ref(p.cell, maps[p.sheet])
    return None if moved is None else replace(p, cell=moved)


def _names_other(p: Problem, ids: set[str], names: list[str]) -> bool:
    """True when the problem's text names a customer of ``ids`` or ``names``."""
    text = f"{p.message} {p.fix}"
    return any(w in ids for w in _WORD.findall(text)) or any(n in text for n in names)


def _as_of(book: Workbook) -> date | None:
    """The day the master's Dashboard was judged from (its as-of day, else the day it was
    computed), so that the copy shows the master's figures, not a day later's."""
    try:
        grid = book.read_grid(schema.DASHBOARD)
    except InputError:
        return None
    stamp = str(grid[1][0]) if len(grid) > 1 and grid[1] else ""
    found = [m.group(1) or m.group(2) for m in _AS_OF.finditer(stamp)]
    return date.fromisoformat(found[-1]) if found else None


def manager_workbook(book: Workbook, manager: str, dst: Path,
                     stamp: datetime | None = None) -> str:
    """Write to ``dst`` the workbook ``book`` holding only ``manager``'s customers (module
    doc); returns the sentence the Dashboard and the cover show.

    Raises
    ------
    InputError
        When no customer has that manager (the message lists the managers), or the
        workbook cannot be analysed.
    """
    data = book_inputs(book)
    customers = data.ledger.customers
    name = _pick_manager(customers, manager)
    ids = customers[schema.CUSTOMER_ID].astype("string").str.strip().fillna("")
    mine = customers[schema.ACCOUNT_MANAGER].astype("string").str.strip() == name
    keep = set(ids[mine.fillna(False)]) - {""}
    results = analyse(data.ledger, data.settings, stamp=stamp, as_of=_as_of(book))
    scope = (f"Only the customers of account manager {name} ({len(keep)} of {len(ids)}); "
             "their types, classes and scores are those of the whole book, the summaries "
             "are over these customers.")
    sub = subset_results(results, data.ledger, data.settings, keep, scope=scope)
    sheets = result_sheets(sub, source=book.path.name)
    filtered, maps = _filtered_bytes(book, keep, skip=set(sheets))
    others = set(ids) - keep - {""}
    other_names = [str(n).strip() for n in customers.loc[~mine.fillna(False),
                                                          schema.CUSTOMER_NAME].dropna()
                   if str(n).strip()] if schema.CUSTOMER_NAME in customers else []
    problems = [q for p in [*data.problems, *results.problems]
                if (q := _moved_problem(p, maps)) is not None
                and not _names_other(q, others, other_names)]
    sub.problems = problems
    sheets = result_sheets(sub, source=book.path.name)
    write_result_sheets(filtered, dst, sheets, owned=list(sheets))
    return scope


def _filtered_bytes(book: Workbook, keep: set[str], skip: Collection[str]
                    ) -> tuple[bytes, dict[str, RowMap]]:
    """The workbook's bytes with other customers' rows removed from every keyed sheet."""
    z, pkg, _ = open_package(book.data, book.path.name, "make a manager's copy of it")
    maps: dict[str, RowMap] = {}
    edits: dict[str, bytes] = {}
    for e in pkg.sheets():
        if e.kind != "worksheet" or e.part is None:
            continue
        keyed = _keyed_rows(book, e.name, skip)
        if keyed is None:
            continue
        removed = sorted(int(r) for r in keyed.index[~keyed.isin(keep)])
        if not removed:
            continue
        rows = RowMap(removed)
        maps[e.name] = rows
        edits[e.part] = _shift_rows(z.read(e.part), rows)
        for t in sheet_tables(pkg, e.part):
            first, last = t.area.first_row + t.header_rows, t.area.last_row
            gone = sum(1 for r in removed if first <= r <= last)
            new_last = max(first, last - gone)
            edits[t.part] = _edit_table_xml(z.read(t.part), last, new_last)
    buffer = io.BytesIO()
    write_zip_replacing(buffer, book.data, z, edited_members(
        book.data, z, {name: [xml] for name, xml in edits.items()}))
    return buffer.getvalue(), maps
