"""The eight customer types, their strategies, and the ABC classes.

A customer's type follows from whether it is High or Low on the three first-level
groups, always read in the order Qualification, Potential, Contribution
(DESIGN.md §2.6): ``HHH`` is type 1, ``LLL`` type 8, and in general

    type = 1 + 4·(Qualification is Low) + 2·(Potential is Low) + (Contribution is Low)

so the numbering is fixed and never depends on the data. What the analyst may change
is what each type is *called*, the strategy, who carries it out and how often the
customer is visited: the ``Strategies`` sheet, read by :func:`strategies_from_table`
and written by :func:`strategies_to_table`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from xlcrm.errors import InputError, Problem, cell_address

__all__ = [
    "ABC_CLASSES",
    "DEFAULT_TYPES",
    "STRATEGY_COLUMNS",
    "CustomerType",
    "strategies_from_table",
    "strategies_to_table",
    "type_code",
    "type_number",
    "types_by_number",
]

# Headers of the Strategies sheet, in sheet order (a contract: the template writes them).
STRATEGY_COLUMNS = ("Type", "Code", "Name", "Strategy", "Owner", "VisitIntervalDays")

ABC_CLASSES: MappingProxyType[str, str] = MappingProxyType(
    {"A": "Strategic", "B": "Key", "C": "General"}
)
"""ABC class letter -> name shown to staff."""


@dataclass(frozen=True)
class CustomerType:
    """One of the eight High/Low types and what the company does about it.

    Parameters
    ----------
    number : int
        1..8, fixed by the High/Low code (1 = HHH ... 8 = LLL).
    code : str
        Three letters H or L for Qualification, Potential, Contribution.
    name : str
        Short name staff use for the type ("Star").
    strategy : str
        One sentence: what to do with customers of this type.
    owner : str
        Who carries the strategy out ("Key-account team").
    visit_interval_days : int
        Days between planned contacts; drives the next-contact date.
    """

    number: int
    code: str
    name: str
    strategy: str
    owner: str
    visit_interval_days: int


DEFAULT_TYPES: tuple[CustomerType, ...] = (
    CustomerType(
        1,
        "HHH",
        "Star",
        "Serve through a key-account service team that owns the whole relationship.",
        "Key-account team",
        14,
    ),
    CustomerType(
        2,
        "HHL",
        "Promising but dormant",
        "Raise satisfaction: find out what holds back their orders and fix it, so potential"
        " turns into business.",
        "Account manager",
        30,
    ),
    CustomerType(
        3,
        "HLH",
        "Loyal earner",
        "Give one-to-one dedicated service to keep this profitable business secure.",
        "Dedicated account manager",
        21,
    ),
    CustomerType(
        4,
        "HLL",
        "Solid but quiet",
        "Visit regularly as a key customer so the relationship stays warm.",
        "Account manager",
        30,
    ),
    CustomerType(
        5,
        "LHH",
        "Rising earner",
        "Manage service in fine detail (credit, delivery, follow-up) to grow the business safely.",
        "Account manager with customer service",
        30,
    ),
    CustomerType(
        6,
        "LHL",
        "Prospect to develop",
        "Promote products and services to turn their potential into first orders.",
        "Sales and marketing",
        45,
    ),
    CustomerType(
        7,
        "LLH",
        "Small but profitable",
        "Offer tailored sales proposals that keep their current business.",
        "Inside sales",
        45,
    ),
    CustomerType(
        8,
        "LLL",
        "Low priority",
        "Keep in touch through low-cost regular contact (phone, email, scheduled rounds).",
        "Inside sales",
        90,
    ),
)


def _as_flags(values: npt.ArrayLike, name: str) -> np.ndarray:
    """``values`` as a bool array; 0/1 numbers are accepted, anything else is refused."""
    arr = np.asarray(values)
    if arr.dtype == bool:
        return arr
    if arr.dtype.kind in "iuf":
        # NaN and 2 are not High or Low; refusing them beats reading NaN as True.
        if not np.isin(arr, (0, 1)).all():
            raise InputError(
                f"{name} must be High/Low flags (True/False or 1/0); found other values",
                fix="Pass the boolean High flags of the segmentation.",
            )
        return arr.astype(bool)
    raise InputError(
        f"{name} must be High/Low flags (True/False or 1/0), got values of type {arr.dtype}",
        fix="Pass the boolean High flags of the segmentation.",
    )


def type_number(q_high: npt.ArrayLike, p_high: npt.ArrayLike, c_high: npt.ArrayLike) -> np.ndarray:
    """Type number 1..8 from the High flags of Qualification, Potential, Contribution.

    Parameters
    ----------
    q_high, p_high, c_high : array_like of bool
        True where the customer is High on that group (0/1 accepted); broadcast together.

    Returns
    -------
    numpy.ndarray of int
        ``1 + 4·(not q) + 2·(not p) + (not c)``: 1 = HHH, 2 = HHL, ... 8 = LLL.
        A 0-d array for scalar input.

    Raises
    ------
    InputError
        When a flag is neither boolean nor 0/1.
    """
    q = _as_flags(q_high, "Qualification")
    p = _as_flags(p_high, "Potential")
    c = _as_flags(c_high, "Contribution")
    return 1 + 4 * (~q).astype(np.int64) + 2 * (~p).astype(np.int64) + (~c).astype(np.int64)


def type_code(n: int) -> str:
    """Three-letter High/Low code of type ``n`` (3 -> ``"HLH"``).

    Raises
    ------
    InputError
        When ``n`` is not a whole number from 1 to 8.
    """
    number = _whole_number(n)
    if number is None or not 1 <= number <= 8:
        raise InputError(
            f"customer type must be a whole number from 1 to 8, got {n!r}",
            fix="Types are numbered 1 (HHH) to 8 (LLL).",
        )
    low = number - 1
    return "".join("L" if low & bit else "H" for bit in (4, 2, 1))


def types_by_number(types: Iterable[CustomerType]) -> dict[int, CustomerType]:
    """``{number: CustomerType}`` for looking types up by number."""
    return {t.number: t for t in types}


def strategies_to_table(types: Iterable[CustomerType]) -> pd.DataFrame:
    """The ``Strategies`` sheet as a DataFrame, one row per type in number order.

    Columns are :data:`STRATEGY_COLUMNS`: Type, Code, Name, Strategy, Owner,
    VisitIntervalDays.
    """
    rows = sorted(types, key=lambda t: t.number)
    return pd.DataFrame(
        {
            "Type": pd.array([t.number for t in rows], dtype="int64"),
            "Code": [t.code for t in rows],
            "Name": [t.name for t in rows],
            "Strategy": [t.strategy for t in rows],
            "Owner": [t.owner for t in rows],
            "VisitIntervalDays": pd.array([t.visit_interval_days for t in rows], dtype="int64"),
        },
        columns=list(STRATEGY_COLUMNS),
    )


def _is_blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip() == ""
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _whole_number(value: Any) -> int | None:
    """``value`` as an int when it is a whole number (``14``, ``14.0``, ``" 14 "``), else None."""
    if isinstance(value, bool | np.bool_):
        return None
    if isinstance(value, str):
        text = value.strip()
        try:
            value = float(text)
        except ValueError:
            return None
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        if math.isfinite(number) and number == int(number):
            return int(number)
    return None


def _text(value: Any) -> str:
    # Excel hands a number typed in a text cell as float; 12.0 reads better as "12".
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def strategies_from_table(
    df: pd.DataFrame, *, sheet: str = "Strategies", header_row: int = 1
) -> tuple[tuple[CustomerType, ...], list[Problem]]:
    """Read the analyst's ``Strategies`` sheet; fall back to the defaults where it is wrong.

    Parameters
    ----------
    df : pandas.DataFrame
        The sheet as read: headers in row ``header_row`` (matched ignoring case and
        surrounding spaces), one row per type below it, the table starting in column A
        (so ``df``'s column positions are the sheet's columns).
    sheet : str
        Sheet name, for the problems' addresses.
    header_row : int
        1-based row of the headers; data start on the next row.

    Returns
    -------
    types : tuple of CustomerType
        All eight types in number order.
    problems : list of Problem
        One warning per fallback, with its sheet and cell. The run goes on with the
        default value in each case:

        - a missing column: that field of every type comes from the defaults;
        - a Type that is not a whole number 1..8, or a repeated Type (the first row of
          a type wins): the row is ignored;
        - a type with no row: the default type;
        - a Code that does not match the Type number (the number decides, since the
          numbering is fixed);
        - a blank Name, Strategy or Owner, or a visit interval that is not a positive
          whole number of days: that field comes from the default of the type.

    Notes
    -----
    Rows that are blank in every column are skipped without a warning (tables often
    end in empty rows).
    """
    defaults = types_by_number(DEFAULT_TYPES)
    problems: list[Problem] = []

    def warn(message: str, fix: str, cell: str | None) -> None:
        problems.append(Problem("warning", message, fix, sheet, cell))

    header_cells = f"{header_row}:{header_row}"
    found = {str(c).strip().lower(): i for i, c in reversed(list(enumerate(df.columns)))}
    col: dict[str, int | None] = {name: found.get(name.lower()) for name in STRATEGY_COLUMNS}
    for name in STRATEGY_COLUMNS[1:]:
        if col[name] is None:
            warn(
                f"column {name!r} is missing; the default {name} of every type is used",
                f"Add a column headed {name} in row {header_row}.",
                header_cells,
            )
    type_col = col["Type"]
    if type_col is None:
        warn(
            "column 'Type' is missing; the default strategies are used",
            f"Add a column headed Type in row {header_row} with the type numbers 1 to 8.",
            header_cells,
        )
        return DEFAULT_TYPES, problems

    values = df.to_numpy(dtype=object)
    seen: dict[int, int] = {}  # type number -> sheet row where it was read
    chosen: dict[int, CustomerType] = {}
    for pos, row in enumerate(values):
        if all(_is_blank(v) for v in row):
            continue
        sheet_row = header_row + 1 + pos

        def at(name: str, _pos: int = pos) -> str:
            index = col[name]
            assert index is not None
            return cell_address(header_row + _pos, index)

        raw_type = row[type_col]
        number = _whole_number(raw_type)
        if number is None or not 1 <= number <= 8:
            warn(
                f"Type {raw_type!r} is not a type number; the row is ignored",
                "Type must be a whole number from 1 (HHH) to 8 (LLL).",
                at("Type"),
            )
            continue
        if number in seen:
            warn(
                f"type {number} appears again (first in row {seen[number]}); this row is ignored",
                "Keep one row per type and delete the repeat.",
                at("Type"),
            )
            continue
        seen[number] = sheet_row
        default = defaults[number]
        fields: dict[str, Any] = {}

        code_col = col["Code"]
        if code_col is not None and not _is_blank(row[code_col]):
            code = _text(row[code_col]).upper()
            if code != default.code:
                warn(
                    f"Code {_text(row[code_col])!r} does not match type {number}, whose code is"
                    f" {default.code}; {default.code} is used",
                    "Type numbers are fixed (1 HHH, 2 HHL, 3 HLH, 4 HLL, 5 LHH, 6 LHL, 7 LLH,"
                    " 8 LLL): correct the Code or move the row's texts to the right type.",
                    at("Code"),
                )

        for name, attr in (("Name", "name"), ("Strategy", "strategy"), ("Owner", "owner")):
            index = col[name]
            if index is None:
                continue
            if _is_blank(row[index]):
                warn(
                    f"{name} of type {number} is blank; the default {getattr(default, attr)!r}"
                    " is used",
                    f"Fill in the {name}.",
                    at(name),
                )
            else:
                fields[attr] = _text(row[index])

        interval_col = col["VisitIntervalDays"]
        if interval_col is not None:
            raw = row[interval_col]
            days = _whole_number(raw)
            if days is None or days <= 0:
                shown = "blank" if _is_blank(raw) else repr(raw)
                warn(
                    f"visit interval of type {number} is {shown}, not a positive whole number of"
                    f" days; the default {default.visit_interval_days} is used",
                    "Enter the number of days between planned contacts, e.g. 30.",
                    at("VisitIntervalDays"),
                )
            else:
                fields["visit_interval_days"] = days
        chosen[number] = replace(default, **fields)

    for number, default in defaults.items():
        if number not in chosen:
            warn(
                f"type {number} ({default.code}) has no row; the default {default.name!r} is used",
                f"Add a row with Type {number}.",
                None,
            )
            chosen[number] = default
    return tuple(chosen[n] for n in sorted(chosen)), problems
