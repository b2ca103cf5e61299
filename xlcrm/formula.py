"""A formula for a result sheet, with the value it evaluates to now.

Its own small module so that the workbook writer can tell formulas from text without
loading the analysis (:mod:`xlcrm.report` lays out the result sheets with it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Formula:
    """A formula to write into a result sheet, with the value it evaluates to now.

    The cached value is what a recipient without Python (or before recalculation) sees;
    ``None``: no cached value. This type is the only way to write a formula: a ``str``
    starting with ``=`` is written as text. The leading ``=`` of ``text`` is optional.
    """

    text: str
    cached: Any = None


def internal_link(sheet: str, cell: str, text: str | None = None) -> Formula:
    """A clickable link to ``sheet!cell`` (a ``HYPERLINK`` formula with its cached text)."""
    label = text if text is not None else f"{sheet}!{cell}"
    target = "#'" + sheet.replace("'", "''") + "'!" + cell
    quoted = target.replace('"', '""')
    shown = label.replace('"', '""')
    return Formula(f'HYPERLINK("{quoted}","{shown}")', label)
