"""The buying center per customer: who decides, who supports us, who opposes us.

An industrial purchase is decided by several people (the *buying center* of Webster & Wind,
*Organizational Buying Behavior*, 1972): the **decision maker** who has the final say, the
**influencers** who shape the specification, the **users** who work with the product, the
**buyer** who negotiates and orders, and the **gatekeeper** who controls what reaches the
others. Each of them may be a **supporter** of ours, **neutral**, or an **opponent**. The
``Contacts`` ledger sheet holds one row per person (:data:`xlcrm.schema.CONTACT_SHEET_COLUMNS`).

Per customer (:func:`buying_center`):

``ContactPersons``
    People on Contacts for the customer (the same name twice counts once).
``DecisionMakerKnown``
    ``Yes`` when a decision maker is on Contacts, else ``No``.
``DecisionMakerSupports``
    ``Yes`` when a decision maker is a supporter and none is an opponent; ``No`` when a
    decision maker is known but none supports us (or one opposes); blank without one.
``DecisionMakerOpposes``
    ``Yes`` when any decision maker is an opponent (one opposing decider can stop an order
    whatever the others think), ``No`` when none is; blank without one.
``DaysSinceDecisionMakerContact``
    Days from the latest ``LastContact`` of a decision maker to the day of the analysis;
    blank when no decision maker has a date.
``RelationshipStrength``
    0..100, an indicator the hierarchy may use (see :func:`relationship_strength`).

Words are read as a user would agree: case, spaces, hyphens, underscores and dots do not
matter (``Decision maker``, ``decision-maker``, ``DecisionMaker``), ``DM`` is the decision
maker (as sales teams write it), and the words of the template's other languages are read
(:data:`ROLE_WORDS`, :data:`STANCE_WORDS`). Anything else is reported at its cell, and the
person still counts as a contact, with an unknown role or stance: a guess would make a
buyer a decision maker.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import pandas as pd

from xlcrm import schema
from xlcrm.errors import InputError, Problem
from xlcrm.operations.orders import (
    _MAX_CELL_PROBLEMS,
    _as_date,
    _Cells,
    _day_number,
    _find_columns,
    customer_index,
    id_text,
    parse_dates,
)
from xlcrm.value.scoring import show_value

DECISION_MAKER: Final = schema.CONTACT_ROLES[0]
SUPPORTER, NEUTRAL, OPPONENT = schema.CONTACT_STANCES

ROLE_WORDS: Final[Mapping[str, tuple[str, ...]]] = {
    "decision maker": ("decision maker", "DM", "decider", "Entscheider", "décideur",
                       "decisor", "决策者"),
    "influencer": ("influencer", "Beeinflusser", "influenceur", "influenciador", "影响者"),
    "user": ("user", "Anwender", "Nutzer", "utilisateur", "usuario", "使用者", "用户"),
    "buyer": ("buyer", "purchaser", "Einkäufer", "acheteur", "comprador", "采购", "采购员"),
    "gatekeeper": ("gatekeeper",),
}
"""Role -> the words read as it (compared after :func:`word_key`)."""

STANCE_WORDS: Final[Mapping[str, tuple[str, ...]]] = {
    "supporter": ("supporter", "supportive", "champion", "Befürworter", "Unterstützer",
                  "soutien", "partidario", "支持者", "支持"),
    "neutral": ("neutral", "neutre", "中立"),
    "opponent": ("opponent", "opposed", "Gegner", "opposant", "adversaire", "opositor",
                 "反对者", "反对"),
}
"""Stance -> the words read as it (compared after :func:`word_key`)."""

ACTIVITY_COLUMNS: Final = (
    "ContactPersons", "DecisionMakerKnown", "DecisionMakerSupports", "DecisionMakerOpposes",
    "DaysSinceDecisionMakerContact", "RelationshipStrength",
)  # fmt: skip
"""The buying-center columns of the Activity sheet, in order."""

RECENT_DAYS: Final = 90
"""A decision maker seen within this many days counts as fully in touch."""
FADED_DAYS: Final = 365
"""... and one not seen for a year as out of touch (linear in between)."""
BROAD_BASE: Final = 3
"""Net supporters besides the decision makers that make the base fully broad."""


def word_key(text: str) -> str:
    """A word as compared: full-width to ASCII, lower case, no spaces ``-`` ``_`` ``.``."""
    return re.sub(r"[\s\-_.]+", "", unicodedata.normalize("NFKC", text)).casefold()


def _lookup(words: Mapping[str, tuple[str, ...]]) -> dict[str, str]:
    return {word_key(w): canonical for canonical, ws in words.items() for w in ws}


_ROLES: Final = _lookup(ROLE_WORDS)
_STANCES: Final = _lookup(STANCE_WORDS)


def read_words(values: Any, lookup: Mapping[str, str]) -> tuple[np.ndarray, np.ndarray]:
    """The canonical word of each value (``None`` when blank or unknown), and the unknown.

    Returns
    -------
    words : ndarray of object
    unknown : ndarray of bool
        A value that is not blank and not a known word.
    """
    text = id_text(values)
    # Each distinct spelling once: a sheet repeats five roles and three stances.
    codes, distinct = pd.factorize(text)
    known = np.array([lookup.get(word_key(t)) for t in distinct] + [None], dtype=object)
    words = known[codes]
    unknown = (codes >= 0) & pd.isna(words)
    return words, unknown


def relationship_strength(
    supports: np.ndarray, known: np.ndarray, opposes: np.ndarray, net_others: np.ndarray,
    days: np.ndarray,
) -> np.ndarray:
    """0..100: 50 for the decision maker, 30 for a broad base, 20 for recent contact.

    * **Decision maker** (50): a supporting decision maker gives 50, a known one who is
      neutral or of unknown stance 25, none known or one opposing 0. The decider has the
      final say, so this part weighs most, and an opposing decider outweighs any goodwill.
    * **Broad base** (30): supporters minus opponents among the other contacts, 10 each, at
      most 30 (:data:`BROAD_BASE`): influencers, users and buyers who back us carry an
      order through the specification and the negotiation; opponents work against it.
    * **In touch** (20): 20 when a decision maker was contacted within
      :data:`RECENT_DAYS` days, falling linearly to 0 at :data:`FADED_DAYS`; 0 without a
      dated contact. A relationship nobody tends fades.

    A customer without anyone on Contacts scores 0: we know nobody there, which is the
    weakest relationship, not an average one.
    """
    dm = np.where(opposes, 0.0, np.where(supports, 1.0, np.where(known, 0.5, 0.0)))
    base = np.clip(net_others / BROAD_BASE, 0.0, 1.0)
    touch = np.clip((FADED_DAYS - days) / (FADED_DAYS - RECENT_DAYS), 0.0, 1.0)
    touch = np.where(np.isnan(days), 0.0, touch)
    return 50.0 * dm + 30.0 * base + 20.0 * touch


@dataclass
class BuyingCenter:
    """Per customer, the buying center's figures (module docstring), and the problems.

    Attributes
    ----------
    table : pandas.DataFrame
        Indexed by CustomerID (the customers given, in order); columns
        :data:`ACTIVITY_COLUMNS` plus ``DecisionMakers``, ``Supporters``, ``Opponents``
        (counts over all the customer's contacts).
    problems : list of Problem
    rows : int
        Contacts rows used (of known customers).
    """

    table: pd.DataFrame
    problems: list[Problem] = field(default_factory=list)
    rows: int = 0


def _yes_no(flag: np.ndarray, known: np.ndarray) -> np.ndarray:
    return np.where(known, np.where(flag, "Yes", "No"), None).astype(object)


def buying_center(
    contacts: pd.DataFrame,
    customer_ids: Any,
    *,
    today: dt.date,
    sheet: str = schema.CONTACTS,
    header_row: int = 1,
    max_cell_problems: int | None = _MAX_CELL_PROBLEMS,
) -> BuyingCenter:
    """The buying-center figures of each customer (see the module docstring).

    Parameters
    ----------
    contacts : pandas.DataFrame
        The Contacts sheet as read: CustomerID and Role, optionally Name, Stance and
        LastContact (other columns, such as Phone and Email, are not read).
    customer_ids : array-like
        The customers of the analysis.
    today : datetime.date
        The day of the analysis.
    sheet, header_row, max_cell_problems
        Where the table sits, and how many cell problems of one kind are listed.

    Returns
    -------
    BuyingCenter
        Rows of unknown customers, blank IDs and unreadable roles, stances or dates are
        reported (warnings at their cells); nothing is guessed.
    """
    as_of = _as_date(today)
    ids = customer_index(customer_ids)
    n = len(ids)
    cells = _Cells(sheet, header_row, max_cell_problems)
    try:
        cols = _find_columns(contacts, (schema.CUSTOMER_ID, "Role"),
                             ("Name", "Stance", "LastContact"), sheet=sheet,
                             header_row=header_row)
    except InputError as exc:
        problems = [Problem("warning", f"{p.message}; the buying center is left out", p.fix,
                            p.sheet, p.cell) for p in exc.problems]
        return BuyingCenter(_table(ids, *(np.zeros(n) for _ in range(6)),
                                   np.full(n, np.nan)), problems)
    used, code = _rows_used(contacts, cols, ids, cells)
    role = _column_words(contacts, cols.get("Role"), _ROLES, used, cells, "Role",
                         "a buying-center role; the person counts as a contact, but not as a "
                         "decision maker", schema.CONTACT_ROLES)
    stance = _column_words(contacts, cols.get("Stance"), _STANCES, used, cells, "Stance",
                           "a stance; the person's stance counts as unknown",
                           schema.CONTACT_STANCES)
    day = _last_contact(contacts, cols.get("LastContact"), used, cells, as_of)
    keep = used & _first_of_person(contacts, cols.get("Name"), code, used, cells)
    c = code[keep]
    dm = role[keep] == DECISION_MAKER
    st = stance[keep]

    def count(mask: Any) -> np.ndarray:
        return np.bincount(c, weights=np.asarray(mask, dtype=float), minlength=n)

    last = pd.Series(np.where(dm, day[keep], np.nan)).groupby(c).max()
    last_dm = np.full(n, np.nan)
    last_dm[last.index.to_numpy()] = last.to_numpy()
    days = np.where(np.isnan(last_dm), np.nan, _day_number(as_of) - last_dm)
    table = _table(ids, count(np.ones(c.size)), count(dm), count(dm & (st == SUPPORTER)),
                   count(dm & (st == OPPONENT)), count(~dm & (st == SUPPORTER)),
                   count(~dm & (st == OPPONENT)), days)
    return BuyingCenter(table, cells.problems, int(keep.sum()))


def _table(ids: pd.Index, persons: np.ndarray, dms: np.ndarray, dm_sup: np.ndarray,
           dm_opp: np.ndarray, others_sup: np.ndarray, others_opp: np.ndarray,
           days: np.ndarray) -> pd.DataFrame:
    known = dms > 0
    supports = (dm_sup > 0) & (dm_opp == 0)
    opposes = dm_opp > 0
    strength = relationship_strength(supports, known, opposes, others_sup - others_opp, days)
    return pd.DataFrame({
        "ContactPersons": persons.astype(np.int64),
        "DecisionMakerKnown": np.where(known, "Yes", "No").astype(object),
        "DecisionMakerSupports": _yes_no(supports, known),
        "DecisionMakerOpposes": _yes_no(opposes, known),
        "DaysSinceDecisionMakerContact": days,
        "RelationshipStrength": strength,
        "DecisionMakers": dms.astype(np.int64),
        "Supporters": (dm_sup + others_sup).astype(np.int64),
        "Opponents": (dm_opp + others_opp).astype(np.int64),
    }, index=ids)


def _rows_used(contacts: pd.DataFrame, cols: Mapping[str, int], ids: pd.Index,
               cells: _Cells) -> tuple[np.ndarray, np.ndarray]:
    """Rows naming a customer of the analysis, and each row's customer position."""
    id_col = cols[schema.CUSTOMER_ID]
    raw = id_text(contacts.iloc[:, id_col])
    blank = pd.isna(raw)
    code = ids.get_indexer(pd.Index(raw, dtype=object))
    code[blank] = -1
    unknown = ~blank & (code < 0)
    cells.add("warning", np.flatnonzero(blank), id_col,
              lambda _p: "CustomerID is blank; the contact is left out",
              f"Type the customer's ID as on {schema.CUSTOMERS}.",
              "contacts with a blank CustomerID")
    cells.unknown_ids(raw, unknown, id_col, "contact")
    return code >= 0, code


def _column_words(contacts: pd.DataFrame, col: int | None, lookup: Mapping[str, str],
                  used: np.ndarray, cells: _Cells, header: str, effect: str,
                  choices: tuple[str, ...]) -> np.ndarray:
    """The canonical words of a column (``None``: blank or unknown), unknown ones reported."""
    if col is None:
        return np.full(len(contacts), None, dtype=object)
    raw = contacts.iloc[:, col]
    words, unknown = read_words(raw, lookup)
    listed = ", ".join(choices[:-1]) + f" or {choices[-1]}"
    cells.add("warning", np.flatnonzero(unknown & used), col,
              lambda p: f"{header} {show_value(raw.iat[p])} is not {effect}",
              f"Pick one from the cell's list: {listed}.",
              f"unknown {header} values")
    return words


def _last_contact(contacts: pd.DataFrame, col: int | None, used: np.ndarray, cells: _Cells,
                  as_of: dt.date) -> np.ndarray:
    """Day number of each row's LastContact (NaN when blank, unreadable or after today)."""
    out = np.full(len(contacts), np.nan)
    if col is None:
        return out
    raw = contacts.iloc[:, col]
    days, ok, blank = parse_dates(raw)
    cells.add("warning", np.flatnonzero(used & ~ok & ~blank), col,
              lambda p: f"LastContact {show_value(raw.iat[p])} is not a date; the contact's "
              "date counts as unknown",
              "Type a date (like 2026-03-15) in a cell formatted as a date.",
              "LastContact values that are not dates")
    future = used & ok & (days > _day_number(as_of))
    cells.add("warning", np.flatnonzero(future), col,
              lambda p: f"LastContact {show_value(raw.iat[p])} is after {as_of.isoformat()}, "
              "the day of the analysis; it counts as unknown",
              "Correct the date if it is a typing error.",
              "LastContact dates after the day of the analysis")
    good = ok & ~future
    out[good] = days[good]
    return out


def _first_of_person(contacts: pd.DataFrame, col: int | None, code: np.ndarray,
                     used: np.ndarray, cells: _Cells) -> np.ndarray:
    """False for a repeated person: the same Name (ignoring case and spaces) at the same
    customer. A person is one vote in the buying center however often they are typed;
    the first row counts, later ones are reported. Rows without a name are all counted
    (two unnamed buyers may well be two people)."""
    out = np.ones(len(contacts), dtype=bool)
    if col is None:
        return out
    names = id_text(contacts.iloc[:, col])
    codes, distinct = pd.factorize(names)
    same, _ = pd.factorize(np.array([" ".join(v.split()).casefold() for v in distinct],
                                    dtype=object))
    person = np.where(codes >= 0, np.append(same, -1)[codes], -1)
    named = (codes >= 0) & used
    key = pd.Series(np.where(named, code.astype(np.int64) * (len(distinct) + 1) + person, -1))
    repeated = named & key.duplicated(keep="first").to_numpy()
    first_at = pd.Series(np.arange(len(key)))[named].groupby(key[named]).min()
    first = first_at.to_dict()
    cells.add("warning", np.flatnonzero(repeated), col,
              lambda p: f"{names[p]} is listed again for this customer (first in row "
              f"{_sheet_row(contacts, first[key[p]], cells.header_row)}); counted once, as "
              "in that row",
              "Delete the repeated row, or correct the name if these are two people.",
              "repeated contacts")
    out[repeated] = False
    return out


def _sheet_row(frame: pd.DataFrame, position: int, header_row: int) -> int:
    """The sheet row of a frame row: a reader's index holds it (blank rows skipped);
    a plain frame's rows follow the header."""
    if isinstance(frame.index, pd.RangeIndex) and frame.index.start == 0:
        return header_row + 1 + position
    return int(frame.index[position])


# ----------------------------------------------------------------------------- KPIs

DASHBOARD_FIGURES: Final = (
    "Customers with a contact on Contacts",
    "A and B customers without a known decision maker",
    "Key accounts (class A) whose decision maker opposes us",
    "Customers whose decision maker supports us",
)
LIST_COLUMNS: Final = ("CustomerID", "Value", "Name", "ABC", "Issue")
"""The Dashboard's list: the issue last, where its text runs on into the empty cells."""
ISSUE_OPPOSES: Final = "decision maker opposes us"
ISSUE_UNKNOWN: Final = "no decision maker known"


def buying_center_kpis(table: pd.DataFrame, abc: Any, value: Any, names: Any
                       ) -> tuple[list[int], pd.DataFrame]:
    """The Dashboard's buying-center figures (:data:`DASHBOARD_FIGURES`) and its list.

    Parameters
    ----------
    table : pandas.DataFrame
        :attr:`BuyingCenter.table`.
    abc, value, names : array-like
        ABC class, value score and name per customer, positionally like ``table``.

    Returns
    -------
    figures : list of int
    issues : pandas.DataFrame
        Columns :data:`LIST_COLUMNS`: class A customers whose decision maker opposes us
        (with the days since a decision maker was last contacted), then A and B customers
        without a known decision maker, each by value (highest first, shown to one
        decimal): the accounts where a call to the right person is missing.
    """
    abc = pd.Series(abc, dtype=object).to_numpy()
    value = np.asarray(value, dtype=float)
    known = (table["DecisionMakerKnown"] == "Yes").to_numpy()
    opposes = (table["DecisionMakerOpposes"] == "Yes").to_numpy()
    supports = (table["DecisionMakerSupports"] == "Yes").to_numpy()
    key = np.isin(abc, ["A", "B"])
    a_opposed = (abc == "A") & opposes
    unknown = key & ~known
    figures = [int((table["ContactPersons"] > 0).sum()), int(unknown.sum()),
               int(a_opposed.sum()), int(supports.sum())]
    days = table["DaysSinceDecisionMakerContact"].to_numpy(dtype=float)
    opposed_text = [ISSUE_OPPOSES + (f" (last contact {d:.0f} days ago)" if d == d else "")
                    for d in days]
    frame = pd.DataFrame({
        "CustomerID": table.index.to_numpy(dtype=object),
        "Value": np.round(value, 1),
        "Name": pd.Series(names, dtype=object).to_numpy(),
        "ABC": abc,
        "Issue": np.where(a_opposed, opposed_text, np.where(unknown, ISSUE_UNKNOWN, None)),
        "_first": ~a_opposed,
    })
    frame = frame[a_opposed | unknown].sort_values(["_first", "Value"], ascending=[True, False],
                                                   kind="stable", na_position="last")
    return figures, frame[list(LIST_COLUMNS)].reset_index(drop=True)
