"""Customer types (the High/Low codes of the groups), their strategies, and the ABC classes.

A customer's type follows from whether it is High or Low on each first-level group, read
in the hierarchy's group order (DESIGN.md §2.6). With the default three groups
(Qualification, Potential, Contribution) ``HHH`` is type 1, ``LLL`` type 8, and in general

    type = 1 + 4·(Qualification is Low) + 2·(Potential is Low) + (Contribution is Low)

With ``g`` groups (2 to 9) the same rule gives ``2**g`` types: type ``1 + Σ 2**(g-1-j)``
over the groups ``j`` the customer is Low on (:func:`type_code` and :func:`code_number`),
so the numbering is fixed and never depends on the data. What the analyst may change
is what each type is *called*, the strategy, who carries it out and how often the
customer is visited: the ``Strategies`` sheet, read by :func:`strategies_from_table`
and written by :func:`strategies_to_table`. The eight default strategies
(:data:`DEFAULT_TYPES`) are for three groups; with another number of groups there are no
defaults, and a type without a row is reported with the row to add (never given a
default visit interval in silence).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from dataclasses import dataclass
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
    "code_number",
    "default_types",
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


def type_code(n: int, groups: int = 3) -> str:
    """High/Low code of type ``n`` with ``groups`` groups (3 -> ``"HLH"``; 9, 4 -> ``"LHHH"``).

    Raises
    ------
    InputError
        When ``n`` is not a whole number from 1 to ``2**groups``.
    """
    number = _whole_number(n)
    last = 1 << groups
    if number is None or not 1 <= number <= last:
        raise InputError(
            f"customer type must be a whole number from 1 to {last}, got {n!r}",
            fix=f"Types are numbered 1 ({'H' * groups}) to {last} ({'L' * groups}).",
        )
    low = number - 1
    return "".join("L" if low >> (groups - 1 - j) & 1 else "H" for j in range(groups))


def code_number(code: str) -> int | None:
    """Type number of a High/Low code (``"HLH"`` -> 3); None when it is not one."""
    text = code.strip().upper()
    if not text or set(text) - {"H", "L"}:
        return None
    return 1 + int(text.replace("H", "0").replace("L", "1"), 2)


def default_types(groups: int = 3) -> tuple[CustomerType, ...]:
    """The default strategies for ``groups`` groups: the eight for three, none otherwise."""
    return DEFAULT_TYPES if groups == 3 else ()


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
    df: pd.DataFrame, *, sheet: str = "Strategies", header_row: int = 1, groups: int = 3
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
    groups : int
        Number of first-level groups of the hierarchy: types are numbered 1 to
        ``2**groups`` and their codes have ``groups`` letters.

    Returns
    -------
    types : tuple of CustomerType
        The types with a strategy, in number order: all eight for three groups (the
        defaults fill in); for another number of groups only the complete rows.
    problems : list of Problem
        One warning per fallback, with its sheet and cell. The run goes on in each case:

        - a missing column: that field of every type comes from the defaults (three
          groups), or is left blank (other group counts; a missing VisitIntervalDays
          column leaves every type without a strategy);
        - a Type that is not a whole number 1..``2**groups``, or a repeated Type (the
          first row of a type wins): the row is ignored;
        - a Code with another number of letters than there are groups: the row was
          written for another hierarchy, and its number now means another type: ignored
          (one warning for all such rows);
        - a type with no row (three groups): the default type;
        - a Code that does not match the Type number (the number decides, since the
          numbering is fixed);
        - a blank Name, Strategy or Owner, or a visit interval that is not a positive
          whole number of days: that field comes from the default of the type; without a
          default, a blank Name becomes the code, and a type without a valid visit interval
          has no strategy (the run says which customers that leaves without one).

    Notes
    -----
    Rows that are blank in every column are skipped without a warning (tables often
    end in empty rows).
    """
    defaults = types_by_number(default_types(groups))
    last = 1 << groups
    problems: list[Problem] = []

    def warn(message: str, fix: str, cell: str | None) -> None:
        problems.append(Problem("warning", message, fix, sheet, cell))

    header_cells = f"{header_row}:{header_row}"
    found = {str(c).strip().lower(): i for i, c in reversed(list(enumerate(df.columns)))}
    col: dict[str, int | None] = {name: found.get(name.lower()) for name in STRATEGY_COLUMNS}
    for name in STRATEGY_COLUMNS[1:]:
        if col[name] is None:
            what = "the default" if defaults else "no"
            warn(
                f"column {name!r} is missing; {what} {name} of every type is used",
                f"Add a column headed {name} in row {header_row}.",
                header_cells,
            )
    if col["Type"] is None:
        warn(
            "column 'Type' is missing; the default strategies are used",
            f"Add a column headed Type in row {header_row} with the type numbers 1 to {last}.",
            header_cells,
        )
        return tuple(defaults.values()), problems

    seen: dict[int, int] = {}  # type number -> sheet row where it was read
    chosen: dict[int, CustomerType] = {}
    other_codes: list[str] = []
    for pos, row in enumerate(df.to_numpy(dtype=object)):
        if all(_is_blank(v) for v in row):
            continue

        def at(name: str, _pos: int = pos) -> str:
            index = col[name]
            assert index is not None
            return cell_address(header_row + _pos, index)

        code_col = col["Code"]
        code = "" if code_col is None or _is_blank(row[code_col]) else _text(row[code_col])
        if code and len(code) != groups and code_number(code) is not None:
            other_codes.append(at("Code"))
            continue
        number = _row_number(row[col["Type"]], last, at("Type"), seen, warn)
        if number is None:
            continue
        seen[number] = header_row + 1 + pos
        own = type_code(number, groups)
        if code and code.upper() != own:
            warn(
                f"Code {code!r} does not match type {number}, whose code is {own}; {own} is"
                " used",
                f"Type numbers are fixed ({_numbering(groups)}): correct the Code or move the"
                " row's texts to the right type.",
                at("Code"),
            )
        chosen_type = _row_type(row, col, number, own, defaults.get(number), at, warn)
        if chosen_type is not None:
            chosen[number] = chosen_type

    if other_codes:
        warn(
            f"{len(other_codes)} row(s) have codes for another number of groups than the "
            f"hierarchy's {groups} (first at {other_codes[0]}); they are ignored",
            f"Write one row per type 1 to {last} with {groups}-letter codes "
            f"({_numbering(groups)}).",
            other_codes[0],
        )
    for number, default in defaults.items():
        if number not in chosen:
            warn(
                f"type {number} ({default.code}) has no row; the default {default.name!r} is used",
                f"Add a row with Type {number}.",
                None,
            )
            chosen[number] = default
    return tuple(chosen[n] for n in sorted(chosen)), problems


def _numbering(groups: int) -> str:
    """``"1 HHH, 2 HHL, ... 8 LLL"`` (shortened beyond eight types)."""
    last = 1 << groups
    shown = [f"{n} {type_code(n, groups)}" for n in range(1, min(last, 8) + 1)]
    if last > 8:
        shown[-1:] = ["...", f"{last} {type_code(last, groups)}"]
    return ", ".join(shown)


def _row_number(raw: Any, last: int, cell: str, seen: dict[int, int], warn: Any) -> int | None:
    """The row's type number, or None (warned) when it is not one or repeats one."""
    number = _whole_number(raw)
    if number is None or not 1 <= number <= last:
        warn(
            f"Type {raw!r} is not a type number; the row is ignored",
            f"Type must be a whole number from 1 to {last}.",
            cell,
        )
        return None
    if number in seen:
        warn(
            f"type {number} appears again (first in row {seen[number]}); this row is ignored",
            "Keep one row per type and delete the repeat.",
            cell,
        )
        return None
    return number


def _row_type(
    row: Any,
    col: dict[str, int | None],
    number: int,
    code: str,
    default: CustomerType | None,
    at: Any,
    warn: Any,
) -> CustomerType | None:
    """One row as a type; blank fields from ``default``, or None without an interval."""
    fields: dict[str, Any] = {}
    for name, attr in (("Name", "name"), ("Strategy", "strategy"), ("Owner", "owner")):
        index = col[name]
        if index is not None and not _is_blank(row[index]):
            fields[attr] = _text(row[index])
            continue
        fallback = getattr(default, attr) if default else (code if attr == "name" else "")
        if index is not None:
            warn(
                f"{name} of type {number} is blank; {fallback!r} is used",
                f"Fill in the {name}.",
                at(name),
            )
        fields[attr] = fallback
    index = col["VisitIntervalDays"]
    raw = row[index] if index is not None else None
    days = _whole_number(raw)
    if days is None or days <= 0:
        shown = "blank" if _is_blank(raw) else repr(raw)
        kept = (f"the default {default.visit_interval_days} is used" if default else
                f"type {number} ({code}) has no strategy until it has one")
        if index is not None:
            warn(
                f"visit interval of type {number} is {shown}, not a positive whole number of"
                f" days; {kept}",
                "Enter the number of days between planned contacts, e.g. 30.",
                at("VisitIntervalDays"),
            )
        if default is None:
            return None
        days = default.visit_interval_days
    return CustomerType(number, code, fields["name"], fields["strategy"], fields["owner"], days)
