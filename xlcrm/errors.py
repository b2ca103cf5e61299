"""Problems found in user input, and the exception that carries them.

Every message names where the problem is (sheet and cell, or row and column of a
range), what is wrong, and what to do about it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning", "note"]

SEVERITY_ORDER = {"error": 0, "warning": 1, "note": 2}
"""Errors first, then warnings, then notes (how lists of problems are ordered)."""


@dataclass(frozen=True)
class Problem:
    """One bad input.

    Parameters
    ----------
    severity : {"error", "warning", "note"}
        ``"error"`` stops the affected computation (a row, an indicator, or the run);
        ``"warning"`` is reported and the run goes on; ``"note"`` says what xlcrm did that
        needs nothing from the user (a figure computed from the ledger where none was typed),
        so that a first run does not read as a list of faults.
    message : str
        What is wrong, in words a sales analyst understands.
    fix : str
        What to do about it.
    sheet : str or None
        Worksheet name, when known.
    cell : str or None
        A1-style address (``"B7"``), a column (``"D:D"``), or ``None``.
    """

    severity: Severity
    message: str
    fix: str = ""
    sheet: str | None = None
    cell: str | None = None

    @property
    def where(self) -> str:
        """``Sheet!Cell`` (or whichever part is known)."""
        if self.sheet and self.cell:
            return f"{self.sheet}!{self.cell}"
        return self.sheet or self.cell or ""

    def __str__(self) -> str:
        where = f"{self.where}: " if self.where else ""
        fix = f" {self.fix}" if self.fix else ""
        end = "" if self.message.endswith((".", "!", "?")) else "."
        return f"{where}{self.message}{end}{fix}"


def counts_text(problems: Sequence[Problem]) -> str:
    """``"5 error(s), 7 warning(s), 5 note(s)"``, leaving out notes when there are none."""
    n = {s: sum(p.severity == s for p in problems) for s in SEVERITY_ORDER}
    text = f"{n['error']} error(s), {n['warning']} warning(s)"
    return text + (f", {n['note']} note(s)" if n["note"] else "")


class InputError(ValueError):
    """Input that cannot be used; carries one or more :class:`Problem`.

    Raised by the core for input that makes a whole computation impossible
    (a malformed comparison matrix, an unknown method name). Row-level trouble is
    returned as ``Problem`` objects instead, so that a run can go on.
    """

    def __init__(
        self,
        message: str | list[Problem],
        *,
        fix: str = "",
        sheet: str | None = None,
        cell: str | None = None,
    ) -> None:
        self.problems: list[Problem]
        if isinstance(message, list):
            self.problems = list(message)
        else:
            self.problems = [Problem("error", message, fix, sheet, cell)]
        super().__init__(str(self))

    def __str__(self) -> str:
        return "; ".join(str(p) for p in self.problems)


def column_letter(index: int) -> str:
    """Excel column letters for a 0-based column index (0 -> ``A``, 26 -> ``AA``)."""
    if index < 0:
        raise ValueError(f"column index must be >= 0, got {index}")
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def column_index(letters: str | bytes) -> int:
    """0-based column index of Excel column letters (``A`` -> 0, ``AA`` -> 26, ``XFD`` -> 16383);
    the inverse of :func:`column_letter`. Upper-case letters, as cell references carry them."""
    n = 0
    for code in letters.encode() if isinstance(letters, str) else letters:
        n = n * 26 + code - 64
    return n - 1


def cell_address(row: int, col: int) -> str:
    """A1-style address for 0-based ``row`` and ``col`` (``(0, 0)`` -> ``A1``)."""
    return f"{column_letter(col)}{row + 1}"
