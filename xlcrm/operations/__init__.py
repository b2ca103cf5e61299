"""CRM operations: orders (growth, RFM, churn warning, contact plan), surveys, KPIs and the
figures the hierarchy can take from the ledger; :mod:`xlcrm.operations.step` runs them.

Pure core, like :mod:`xlcrm.value`: nothing here reads or writes a file.
"""
