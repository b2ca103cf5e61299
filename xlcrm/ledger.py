"""The customer ledger as four tables: what the pipeline takes in.

A :class:`Ledger` is the in-memory picture of the four ledger sheets of the workbook
(``Customers``, ``Transactions``, ``Interactions``, ``Survey``; see :mod:`xlcrm.schema`).
It carries the tables as read, bad cells included: validation is the pipeline's job,
so that every problem can be reported with its cell instead of being lost on the way in.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


# eq=False: the generated __eq__ would compare DataFrames with ``==``, which is element-wise
# and raises on truth-testing; compare tables with pandas.testing instead.
@dataclass(eq=False)
class Ledger:
    """The four ledger tables.

    Parameters
    ----------
    customers : pandas.DataFrame
        One row per customer; columns ``schema.CUSTOMER_IDENTITY_COLUMNS`` followed by the
        indicator columns (``schema.DEFAULT_INDICATOR_COLUMNS`` for the default hierarchy).
    transactions : pandas.DataFrame
        One row per order; columns ``schema.TRANSACTION_COLUMNS``.
    interactions : pandas.DataFrame
        One row per contact (visit, call, complaint, service); columns
        ``schema.INTERACTION_COLUMNS``.
    survey : pandas.DataFrame
        One row per questionnaire returned; columns ``schema.SURVEY_ID_COLUMNS`` followed by
        one column per question (``Q1``, ``Q2``, ...).
    """

    customers: pd.DataFrame
    transactions: pd.DataFrame
    interactions: pd.DataFrame
    survey: pd.DataFrame
