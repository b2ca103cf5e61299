"""The run gives the same results whatever shape the ledger's columns come in, without
copying what it only carries through.

A ledger reaches :func:`xlcrm.pipeline.run` as pandas text (pyarrow-backed ``str``
columns: the demo, CSV imports, anything pandas builds) or as the workbook reader gives it
(object columns of ``str``, ``None`` for a blank cell, numbers where a cell holds one).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from xlcrm import pipeline
from xlcrm.demo import make_customers, make_ledger
from xlcrm.ledger import Ledger


def _messy_customers() -> pd.DataFrame:
    """The demo's planted problems (blanks, text in number columns, labels outside the
    rubric) plus a repeated ID, a blank ID, a blank name and blank carried columns."""
    customers = make_customers(400, seed=3)
    assert customers["Name"].dtype == "str"  # pandas text, as the demo builds it
    customers.loc[7, "CustomerID"] = customers.loc[3, "CustomerID"]
    customers.loc[11, "CustomerID"] = np.nan
    customers.loc[12, "Name"] = np.nan
    customers.loc[13, ["Industry", "Region", "AccountManager"]] = np.nan
    return customers


def _as_read(customers: pd.DataFrame) -> pd.DataFrame:
    """``customers`` in the reader's shape: text as object columns with ``None`` for a
    blank cell, numbers as float64, rows indexed by their sheet row (header in row 1)."""
    out = {}
    for name, column in customers.items():
        if column.dtype == object or isinstance(column.dtype, pd.StringDtype):
            values = column.to_numpy(dtype=object, na_value=None)
            out[name] = pd.Series(values, dtype=object)
        else:
            out[name] = column.astype(float)
    frame = pd.DataFrame(out)
    frame.index = pd.Index(np.arange(len(frame)) + 2, name="row")
    return frame


def _cells(table: pd.DataFrame) -> list[list[object]]:
    """Every cell as the writer sees it: missing (None, NaN, NA) as None."""
    values = table.astype(object).to_numpy()
    return [[None if pd.isna(v) else v for v in row] for row in values]


def _run(customers: pd.DataFrame) -> pipeline.Results:
    empty = make_ledger(1, seed=1, history=False)
    return pipeline.run(Ledger(customers, empty.transactions, empty.interactions,
                               empty.survey))


def test_pandas_text_and_reader_objects_give_the_same_tables():
    customers = _messy_customers()
    text, read = _run(customers), _run(_as_read(customers))
    for name in ("scores_table", "segments_table"):
        a, b = getattr(text, name), getattr(read, name)
        assert list(a.columns) == list(b.columns)
        assert _cells(a) == _cells(b), name
    assert [p.message for p in text.problems] == [p.message for p in read.problems]
    assert [p.cell for p in text.problems] == [p.cell for p in read.problems]
    # the repeat and the blank ID are left out; the blank name and carried cells stay blank
    assert len(text.segments_table) == len(customers) - 2
    row = text.segments_table.index[text.segments_table["CustomerID"]
                                    == customers.loc[13, "CustomerID"]][0]
    assert text.segments_table.loc[row, ["Industry", "Region", "AccountManager"]].isna().all()


def _arrow_data(series: pd.Series) -> list[int]:
    """Addresses of the character buffers behind a pandas text column."""
    return [chunk.buffers()[2].address for chunk in series.array.__arrow_array__().chunks]


def test_names_and_carried_text_are_not_copied_per_customer():
    # At 1,048,576 customers one Python string per cell of Name, AccountManager, Industry
    # and Region was 290 MB of the run's peak memory.
    customers = make_customers(300, seed=5, dirty=False)
    results = _run(customers)
    for column in ("Name", "AccountManager", "Industry", "Region"):
        assert _arrow_data(results.segments_table[column]) == _arrow_data(customers[column])
    assert _arrow_data(results.scores_table["Name"]) == _arrow_data(customers["Name"])
    read = _as_read(customers)
    results = _run(read)
    for column in ("Name", "Industry"):
        assert all(a is b for a, b in zip(results.segments_table[column], read[column],
                                          strict=True))
