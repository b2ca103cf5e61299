"""Workbook file I/O."""
