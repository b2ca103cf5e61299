"""The package check's scan of references in one pass finds what the two scans found.

The definition it must keep is the check as it was: two scans, ``r="([A-Z]{2,3})\\d`` and
``r="[A-Z]{0,3}(\\d{6,})"``, plus ``t="e"`` for error cells.
"""

from __future__ import annotations

import re

from hypothesis import example, given, settings
from hypothesis import strategies as st

from xlcrm.book import package

_OLD_WIDE = re.compile(rb'r="([A-Z]{2,3})\d')
_OLD_BIG = re.compile(rb'r="[A-Z]{0,3}(\d{6,})"')
_TOKENS = [b'r="', b't="e"', b'"', b"=", b"r", b"t", b"e", b"A", b"B", b"Z", b"0", b"1", b"9",
           b"123456", b"000000", b"<", b" ", b"AB", b"XFD", b"/>",
           # whole references, wide or with big rows, and near misses
           b'r="1234567"', b'r="A123456"', b'r="AB123456"', b'r="XFD1048576"', b'r="AB1"',
           b'r="ABCD1"', b'r="12345"', b'r="A12345"', b'r="123456"', b't="s"']


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(_TOKENS), max_size=60).map(b"".join))
@example(b'<row r="123456"><c r="A123456"/><c r="AB123456"/><c r="XFD5" t="e"/></row>')
@example(b'<row r="100000"><c r="A1"/><c r="B99999"/></row><row r="1">')
@example(b'<row r="99"><c r="ABCD99"/><c r="AB99x"/><c r="AAA0000001"/><c r="B1234567x"/>')
def test_one_pass_finds_the_columns_rows_and_errors_the_two_scans_found(text: bytes) -> None:
    extent = package._Extent()
    extent.scan(text)
    rows = [int(r) for r in _OLD_BIG.findall(text)]
    assert extent.columns == set(_OLD_WIDE.findall(text))
    assert extent.max_row == max([0, *rows])
    assert extent.errors == (b't="e"' in text)
