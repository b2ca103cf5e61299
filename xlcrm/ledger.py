"""The customer ledger as five tables: what the pipeline takes in.

A :class:`Ledger` is the in-memory picture of the ledger sheets of the workbook
(``Customers``, ``Transactions``, ``Interactions``, ``Survey``, ``Contacts``; see
:mod:`xlcrm.schema`).
It carries the tables as read, bad cells included: validation is the pipeline's job,
so that every problem can be reported with its cell instead of being lost on the way in.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from xlcrm import schema


def no_contacts() -> pd.DataFrame:
    """An empty Contacts table (a workbook made before the sheet existed has none)."""
    return pd.DataFrame(columns=list(schema.CONTACT_SHEET_COLUMNS), dtype=object)


# eq=False: the generated __eq__ would compare DataFrames with ``==``, which is element-wise
# and raises on truth-testing; compare tables with pandas.testing instead.
@dataclass(eq=False)
class Ledger:
    """The ledger tables.

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
    contacts : pandas.DataFrame
        The buying center: one row per person at a customer; columns
        ``schema.CONTACT_SHEET_COLUMNS`` (empty when the workbook has no Contacts sheet).
    """

    customers: pd.DataFrame
    transactions: pd.DataFrame
    interactions: pd.DataFrame
    survey: pd.DataFrame
    contacts: pd.DataFrame = field(default_factory=no_contacts)
