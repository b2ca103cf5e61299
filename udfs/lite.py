"""The worksheet functions and ribbon actions as xlwings Lite runs them.

xlwings Lite (an Excel add-in for Windows, macOS and Excel on the web; Python runs in the
browser through Pyodide) registers the custom functions and scripts of the workbook's
``main.py``. ``lite/main.py``, built by ``scripts/build_lite.py``, carries the xlcrm and
udfs packages and takes from this module:

- every worksheet function of :mod:`udfs.functions`, the very same function but for the two
  that take dates. Lite hands a custom function a date cell as its serial number (45000
  for 2023-03-15, the Office.js custom-function convention) where desktop Excel hands a
  date, so :func:`CRM_NEXT_CONTACT` and :func:`CRM_CHURN_RISK` read numbers in their date
  arguments (and in the Date column of the transactions) as date serials;
- :func:`resegment`, :func:`check` and :func:`help`: the ribbon actions of
  :mod:`udfs.ribbon` on the workbook Lite hands a script. Each also prints the text of its
  message boxes, which Lite shows in its output pane.

The shareable copy is not here: it is made from the saved file, and a script in the
browser sees the open workbook's cells, not its file.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import xlwings as xw

from udfs import functions, ribbon
from udfs.functions import (
    AHP_CONSISTENCY,
    AHP_CR,
    AHP_GROUP,
    AHP_REPAIR,
    AHP_SENSITIVITY,
    AHP_WEIGHTS,
    CRM_ABC,
    CRM_ALPHA,
    CRM_HIGHLOW,
    CRM_KMEANS,
    CRM_RFM,
    CRM_SCORE,
    CRM_STRATEGY,
    CRM_TYPE,
    CRM_TYPENAME,
    CRM_VALUE,
)
from xlcrm.errors import Problem
from xlcrm.pipeline import Results

__all__ = [
    "AHP_CONSISTENCY",
    "AHP_CR",
    "AHP_GROUP",
    "AHP_REPAIR",
    "AHP_SENSITIVITY",
    "AHP_WEIGHTS",
    "CRM_ABC",
    "CRM_ALPHA",
    "CRM_CHURN_RISK",
    "CRM_CLV",
    "CRM_HIGHLOW",
    "CRM_KMEANS",
    "CRM_NEXT_CONTACT",
    "CRM_RFM",
    "CRM_SCORE",
    "CRM_STRATEGY",
    "CRM_TYPE",
    "CRM_TYPENAME",
    "CRM_VALUE",
    "check",
    "help",
    "resegment",
]

#: The header of the transactions' date column (matched ignoring case, as the core does).
DATE_HEADER = "date"


# --------------------------------------------------------------------------------------------
# Dates: Lite hands them over as serial numbers


#: Excel's dates as serials: 1900-01-01 (1) to 9999-12-31 (2958465).
SERIAL_RANGE = (1, 2_958_465)


def from_serial(value: Any) -> Any:
    """A number as the date it is the Excel serial of; anything else (text, or a number no
    date has) unchanged, for the function to report."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) \
            and SERIAL_RANGE[0] <= value <= SERIAL_RANGE[1]:
        return xw.to_datetime(value)
    return value


def dates_from_serials(value: Any) -> Any:
    """:func:`from_serial` on a cell, a row or column, or a 2-D range (lists as given)."""
    if isinstance(value, (list, tuple)):
        return [dates_from_serials(v) for v in value]
    return from_serial(value)


def _date_column_from_serials(table: Any) -> Any:
    """A range whose first row is its header, with the Date column read as date serials."""
    if not (isinstance(table, (list, tuple)) and table and isinstance(table[0], (list, tuple))):
        return table
    header = [str(h).strip().lower() if h is not None else "" for h in table[0]]
    if DATE_HEADER not in header:
        return table  # the core reports the missing column
    c = header.index(DATE_HEADER)
    rows = [list(table[0])]
    for row in table[1:]:
        row = list(row)
        if c < len(row):
            row[c] = from_serial(row[c])
        rows.append(row)
    return rows


def _lite(original: Callable[..., Any], convert: Callable[..., tuple[Any, ...]]) -> Any:
    """``original`` with its arguments passed through ``convert`` first.

    ``functools.wraps`` keeps the name, docstring and signature and copies the xlwings
    registration (``__xlfunc__``) the decorators left on ``original``, so Lite registers
    and converts the arguments exactly as for ``original``.
    """

    @functools.wraps(original)
    def wrapper(*args: Any) -> Any:
        try:
            converted = convert(*args)
        except Exception as exc:  # noqa: BLE001 - a cell shows a message, never a traceback
            return functions.one_line(f"#DATE: {type(exc).__name__}: {exc}")
        return original(*converted)

    return wrapper


def _next_contact_args(last_contact: Any, *rest: Any) -> tuple[Any, ...]:
    return (dates_from_serials(last_contact), *rest)


def _churn_args(customer_ids: Any, transactions: Any = None, *rest: Any) -> tuple[Any, ...]:
    return (customer_ids, _date_column_from_serials(transactions),
            *(from_serial(v) for v in rest))


def _clv_args(customer_ids: Any, transactions: Any = None, as_of: Any = None,
              *options: Any) -> tuple[Any, ...]:
    return (customer_ids, _date_column_from_serials(transactions), from_serial(as_of), *options)


CRM_NEXT_CONTACT = _lite(functions.CRM_NEXT_CONTACT, _next_contact_args)
CRM_CHURN_RISK = _lite(functions.CRM_CHURN_RISK, _churn_args)
CRM_CLV = _lite(functions.CRM_CLV, _clv_args)


# --------------------------------------------------------------------------------------------
# Scripts: the ribbon actions, their messages also printed


def _print_messages(book: xw.Book) -> None:
    """Print the message boxes the action asked for (Lite's output pane shows them)."""
    for action in book.json().get("actions", []):
        if action.get("func") == "alert" and action.get("args"):
            print(action["args"][0])


def resegment(book: xw.Book) -> Results | None:
    """:func:`udfs.ribbon.resegment` on the workbook Lite hands the script."""
    results = ribbon.resegment(book)
    _print_messages(book)
    return results


def check(book: xw.Book) -> list[Problem] | None:
    """:func:`udfs.ribbon.check` on the workbook Lite hands the script."""
    problems = ribbon.check(book)
    _print_messages(book)
    return problems


def help(book: xw.Book) -> None:  # noqa: A001 - the ribbon button's name
    """:func:`udfs.ribbon.help`: show the Help sheet."""
    ribbon.help(book)
    _print_messages(book)
