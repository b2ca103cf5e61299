"""Order history outside the workbook: Parquet or CSV files and SQL databases.

The analysis needs one row per customer from the orders (revenue per window, orders,
first and last order, order days, repeat value, typical interval, gross profit), not the
lines themselves. An order source computes those totals where the lines live (DuckDB for
files, the database's own SQL for a database: :mod:`xlcrm.sources.query`) and hands the
pipeline an :class:`xlcrm.operations.orders.OrderTotals`, from which it derives the same
figures the same lines on the Transactions sheet give.
"""

from xlcrm.sources.load import load_order_totals
from xlcrm.sources.location import PASSWORD_VARIABLE, OrderSource, order_source

__all__ = ["PASSWORD_VARIABLE", "OrderSource", "load_order_totals", "order_source"]
