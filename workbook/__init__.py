"""The workbook template and its text sources, installed as the package ``xlcrm_workbook``.

Nothing to import: the files are data (see :mod:`xlcrm.book.paths`).
"""
