"""xlcrm: an Excel customer ledger as CRM system of record, with customer-value analysis.

The ``xlcrm`` package is the pure-Python core: it works on numpy arrays and pandas
DataFrames and never imports xlwings. Excel-facing adapters live in ``udfs``.
"""

__version__ = "0.1.0"
