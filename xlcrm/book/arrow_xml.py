"""Sheet XML put together by Arrow, a column at a time, without a Python string per cell.

The result writer (:mod:`xlcrm.book.write`) and History's append (:mod:`xlcrm.book.append`)
format a table's cells a column at a time. Joining each cell's pieces (reference, style,
value) and then each row's cells in Python costs a string per cell: at 100,000 customers
that is 2.3 million strings for Scores alone, half the cost of writing it. Arrow's
element-wise join (``binary_join_element_wise``) does the same in C++ on whole columns, and
the rows of a slice come out as one buffer of UTF-8, ready to compress.

The texts are exactly those the cell-at-a-time path writes (the writer's tests compare the
two byte for byte). Without pyarrow (:data:`AVAILABLE` false), callers take that path.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

try:
    import pyarrow as pa
    import pyarrow.compute as pc
except ImportError:  # pragma: no cover - pyarrow is a dependency where it has wheels
    pa = pc = None

AVAILABLE = pc is not None

ERRORS: tuple[type[Exception], ...] = (
    (pa.ArrowInvalid, pa.ArrowCapacityError, UnicodeEncodeError) if AVAILABLE else ())
"""What Arrow raises where a slice is beyond it (a text it cannot encode, a slice past 2 GB):
the caller then makes the slice a cell at a time, which says what is wrong, if anything."""

Strings = Any
"""An Arrow string array (``pyarrow.StringArray``), one text per row."""


def strings(texts: Sequence[str]) -> Strings:
    """``texts`` as an Arrow string array."""
    return pa.array(texts, pa.string())


def row_texts(rows: range) -> Strings:
    """The numbers of ``rows`` as text."""
    return pc.cast(pa.array(np.arange(rows.start, rows.stop, dtype=np.int64)), pa.string())


def number_texts(values: np.ndarray) -> Strings:
    """Numbers as text: integers in decimal, doubles in their shortest round-trip form
    (the writer's ``_float_texts``)."""
    return pc.cast(pa.array(values), pa.string())


def joined(*parts: str | Strings) -> Strings:
    """Per row, ``parts`` one after the other (a ``str`` part is the same on every row)."""
    return pc.binary_join_element_wise(*parts, "")


def picked(choices: Sequence[str], at: np.ndarray) -> Strings:
    """Per row, ``choices[at]`` (formatted once, taken by index)."""
    return strings(choices).take(pa.array(at))


def either(where: np.ndarray, yes: str | Strings, no: str | Strings) -> Strings:
    """Per row, ``yes`` where ``where`` holds, else ``no``."""
    return pc.if_else(pa.array(where), yes, no)


def is_empty(texts: Strings) -> np.ndarray:
    """Per row, whether the text is empty."""
    return pc.equal(pc.binary_length(texts), 0).to_numpy(zero_copy_only=False)


def rows_xml(open_row: str, numbers: Strings, cells: Sequence[Strings]) -> bytes:
    """UTF-8 ``<row>`` elements of a slice of rows from the cells of its columns (``""``
    blank): ``{open_row}{r}">{cells}</row>`` for each row ``r`` of ``numbers``, rows
    without a cell left out."""
    if not cells:
        return b""
    body = joined(*cells)
    xml = joined(open_row, numbers, '">', body, "</row>")
    empty = is_empty(body)
    if empty.any():
        xml = xml.filter(pa.array(~empty))
    return _utf8(xml)


def _utf8(texts: Strings) -> bytes:
    """The UTF-8 bytes of the texts, one after the other."""
    if len(texts) == 0:
        return b""
    _, offsets, data = texts.buffers()
    at = np.frombuffer(offsets, dtype=np.int32, count=len(texts) + 1, offset=4 * texts.offset)
    return bytes(memoryview(data)[at[0]:at[-1]])
