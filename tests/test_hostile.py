"""Hostile and broken workbooks: one line and exit 2, nothing altered, nothing broken accepted.

The generators live in ``tests/hostile.py``. Every broken package goes through resegment,
check, share and import-transactions; the assertions over all of them are those of issue 11:
0 tracebacks, 0 silent acceptances (exit 0 with a broken output), the original untouched,
no temporary file left, and bounded memory (the zip bombs, measured in a subprocess).
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from hostile import BROKEN, ODD_LEDGERS, bomb, parts_of, sheet_part, zip_of
from hypothesis import given, settings
from hypothesis import strategies as st

from xlcrm.book.package import check_package
from xlcrm.book.read import open_workbook
from xlcrm.book.save import verify_workbook
from xlcrm.book.workbook_file import (
    check_file,
    create_demo_workbook,
    read_workbook,
    resegment_file,
)
from xlcrm.cli import main
from xlcrm.errors import InputError

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = ("resegment", "check", "share", "import-transactions")
CSV = "CustomerID,Date,Amount,GrossProfit,Quantity,Product\nC0001,2026-01-05,100.5,10,1,Tyre\n"


@pytest.fixture(scope="module")
def sound(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("sound") / "CRM.xlsm"
    create_demo_workbook(path, customers=40, seed=3)
    return path.read_bytes()


def _run(command: str, book: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, Path]:
    """Run one command in-process; (exit code, stderr, the output it may have written)."""
    out = book.with_name("copy.xlsx")
    extra = {
        "resegment": ["--quiet", "--backups", "1"],
        "check": [],
        "share": ["-o", str(out), "--quiet"],
        "import-transactions": [str(book.with_name("export.csv")), "--quiet"],
    }[command]
    book.with_name("export.csv").write_text(CSV)
    capsys.readouterr()
    code = main([command, str(book), *extra])
    err = capsys.readouterr().err
    return code, err, out if command == "share" else book


def _assert_sound(path: Path) -> None:
    check_package(path.read_bytes(), path.name)
    verify_workbook(path)


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_broken_package_one_line_exit_2_nothing_touched(
    sound: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str, command: str
) -> None:
    book = tmp_path / "CRM.xlsm"
    data = BROKEN[kind](sound)
    book.write_bytes(data)
    (tmp_path / "~$CRM.xlsm.note").write_bytes(b"")  # not a lock file: must not matter
    code, err, out = _run(command, book, capsys)
    assert code == 2, (kind, command, code, err)
    # stderr is not a terminal here, as in a scheduled task's log: one line, never wrapped
    # (the messages are 200-400 characters long).
    line = err.strip()
    assert "\n" not in line and line.startswith("xlcrm: error:"), err
    assert "CRM.xlsm" in line and "Traceback" not in err
    assert book.read_bytes() == data  # the original is untouched
    assert not (command == "share" and out.exists())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["CRM.xlsm", "export.csv",
                                                          "~$CRM.xlsm.note"]


@pytest.mark.parametrize("command", COMMANDS)
def test_the_sound_workbook_passes(sound: bytes, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str], command: str) -> None:
    book = tmp_path / "CRM.xlsm"
    book.write_bytes(sound)
    code, err, out = _run(command, book, capsys)
    assert code in (0, 1) and err == "", err
    _assert_sound(out)


@pytest.mark.parametrize("command", ("resegment", "check", "share"))
@pytest.mark.parametrize("kind", sorted(ODD_LEDGERS))
def test_odd_ledgers_run_without_a_traceback_and_write_sound_files(
    sound: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str, command: str
) -> None:
    book = tmp_path / "CRM.xlsm"
    book.write_bytes(ODD_LEDGERS[kind](sound))
    code, err, out = _run(command, book, capsys)
    assert code in (0, 1), (code, err)
    _assert_sound(out)


@pytest.mark.parametrize("inside_row_2", [False, True], ids=["last row", "inside row 2"])
def test_a_lying_dimension_does_not_hide_a_far_cell(
    sound: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str], inside_row_2: bool
) -> None:
    from hostile import lying_dimension

    book = tmp_path / "CRM.xlsm"
    data = lying_dimension(sound, inside_row_2=inside_row_2)
    book.write_bytes(data)
    code, err, _ = _run("resegment", book, capsys)
    assert code == 2 and err.count("\n") == 1 and "XFD1048576" in err, err
    assert book.read_bytes() == data
    problems = check_file(book)  # check names the cell (and exits 1)
    assert [p.where for p in problems] == ["Customers!XFD1048576"]
    code, err, out = _run("share", book, capsys)  # the copy holds values: the far one too
    assert code == 0, err
    _assert_sound(out)


def _customers_ending_with(sound: bytes, row: bytes, before: int) -> bytes:
    """The sound workbook with ``row`` after the Customers sheet's rows, its first ``r="``
    starting ``before`` bytes before the 1 MB border where the package check's scan cuts
    the inflated part (spaces ahead of it)."""
    parts = parts_of(sound)
    name = sheet_part(parts, "Customers")
    xml = parts[name]
    end = xml.index(b"</sheetData>")
    pad = (1 << 20) - before - row.index(b'r="') - end
    assert pad > 0
    parts[name] = xml[:end] + b" " * pad + row + xml[end:]
    return zip_of(parts)


@pytest.mark.parametrize("before", [17, 18, 22, 40, 3000])
def test_a_far_cell_whose_long_reference_is_cut_at_a_chunk_border_is_refused(
    sound: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str], before: int
) -> None:
    # calamine reads r="A000000001234567890" as A1234567890: a grid of 1.2 billion rows.
    # The reference is longer than the scan's overlap of the chunks, and cut by a border.
    ref = b"A" + b"0" * max(8, before) + b"1234567890"
    data = _customers_ending_with(sound, b'<row><c r="' + ref + b'"><v>1</v></c></row>',
                                  before)
    assert len(ref) + 4 > before  # r="...": across the border
    book = tmp_path / "CRM.xlsm"
    book.write_bytes(data)
    code, err, _ = _run("resegment", book, capsys)
    assert code == 2 and err.count("\n") == 1, err
    assert "sheet Customers of CRM.xlsm has something in A1234567890" in err, err
    assert book.read_bytes() == data


def test_leading_zeros_of_a_row_number_count_for_nothing(sound: bytes, tmp_path: Path) -> None:
    # A5000 written with 5,000 zeros ahead of its row number, cut at a chunk border: read
    # as calamine reads it, the same grid as r="A5000" (not refused, no traceback).
    plain, zeros = tmp_path / "plain.xlsm", tmp_path / "zeros.xlsm"
    plain.write_bytes(_customers_ending_with(
        sound, b'<row><c r="A5000"><v>7</v></c></row>', 17))
    zeros.write_bytes(_customers_ending_with(
        sound, b'<row><c r="A' + b"0" * 5000 + b'5000"><v>7</v></c></row>', 17))
    with open_workbook(plain) as wb:
        expected = wb.rows("Customers")
    with open_workbook(zeros) as wb:
        rows = wb.rows("Customers")
    assert len(rows) == 5000 and rows[-1][0] == 7
    assert rows == expected


@pytest.mark.parametrize("before", [17, 100_000], ids=["cut at a border", "in one chunk"])
def test_a_row_number_of_5000_digits_is_refused_in_one_line(
    sound: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str], before: int
) -> None:
    # More digits than int() reads (4,300): a one-line refusal, not a ValueError's traceback.
    data = _customers_ending_with(
        sound, b'<row><c r="B' + b"1" * 5000 + b'"><v>1</v></c></row>', before)
    book = tmp_path / "CRM.xlsm"
    book.write_bytes(data)
    code, err, _ = _run("resegment", book, capsys)
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert "sheet Customers of CRM.xlsm" in err and "5,000 digits" in err, err
    assert len(err) < 600, err
    assert book.read_bytes() == data
    problems = check_file(book)  # check: the same words, as a problem of the sheet
    assert any(p.where == "Customers" and "5,000 digits" in p.message for p in problems)


def test_a_large_sheet_is_read_with_the_bound_of_before(sound: bytes, tmp_path: Path) -> None:
    # 60,000 rows of six-digit numbers below the table, over several 1 MB chunks, one cell
    # in AB: the grid's bound is the largest row times the widest column, as it was.
    rows = b"".join(b'<row r="%d"><c r="B%d"><v>%d</v></c></row>' % (r, r, r)
                    for r in range(100_001, 160_001))
    data = _customers_ending_with(sound, b'<row r="100000"><c r="AB100000"><v>1</v></c></row>'
                                  + rows, 5)
    book = tmp_path / "CRM.xlsm"
    book.write_bytes(data)
    part = sheet_part(parts_of(data), "Customers")
    assert len(parts_of(data)[part]) > 3 << 20
    assert check_package(data, "CRM.xlsm").get(part.lower()).cells == 160_000 * 28
    with open_workbook(book) as wb:
        grid = wb.rows("Customers")
    assert len(grid) == 160_000 and len(grid[0]) == 28 and grid[-1][1] == 160_000


def test_the_generators_make_what_they_claim(sound: bytes) -> None:
    # The bombs really inflate to gigabytes (declared or actual), yet are small on disk.
    honest = bomb(sound)
    import io
    import zipfile

    with zipfile.ZipFile(io.BytesIO(honest)) as z:
        info = z.getinfo(sheet_part(parts_of(sound), "Customers"))
        assert info.file_size > 6 * (1 << 30) and len(honest) < 20 << 20
    lying = bomb(sound, honest=False)
    with zipfile.ZipFile(io.BytesIO(lying)) as z:
        info = z.getinfo(sheet_part(parts_of(sound), "Customers"))
        assert info.file_size < 1 << 20 and info.compress_size > 5 << 20
    # The honest bomb's CRC is right: its first megabytes inflate as a sheet would.
    import zlib

    raw = honest[info.header_offset:]
    d = zlib.decompressobj(-15)
    start = 30 + len(info.filename) + 20
    head = d.decompress(raw[start:start + 4096], 1 << 16)
    assert head.startswith(b"<worksheet") or head.startswith(b"<?xml")


# --------------------------------------------------------------------------------------------
# Memory: a 6 GB bomb refused within seconds under 500 MB, measured in a child process

_PROBE = """
import resource, subprocess, sys, time
t = time.monotonic()
p = subprocess.run(sys.argv[1:], capture_output=True, text=True, timeout=120)
peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(p.returncode, peak_kb, time.monotonic() - t)
sys.stderr.write(p.stderr)
"""


def _measured(args: list[str], env: dict[str, str]) -> tuple[int, float, float, str]:
    """Exit code, peak RSS in MB and seconds of ``python -m xlcrm.cli ARGS`` (its own child,
    so that no other process of the test run counts toward the peak)."""

    def cap() -> None:  # a safety net for the machine: the code under test stays far below
        resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))

    probe = subprocess.run(
        [sys.executable, "-c", _PROBE, sys.executable, "-m", "xlcrm.cli", *args],
        capture_output=True, text=True, env=env, timeout=180, preexec_fn=cap, check=True)
    code, peak_kb, seconds = probe.stdout.split()
    return int(code), int(peak_kb) / 1024, float(seconds), probe.stderr


@pytest.mark.parametrize(("command", "honest"), [("resegment", True), ("check", False)],
                         ids=["resegment, honest sizes", "check, lying sizes"])
def test_a_6gb_bomb_is_refused_quickly_in_little_memory(
    sound: bytes, tmp_path: Path, honest: bool, command: str
) -> None:
    book = tmp_path / "CRM.xlsm"
    data = bomb(sound, honest=honest)
    book.write_bytes(data)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    code, peak_mb, seconds, err = _measured([command, str(book), *(
        ["--quiet"] if command == "resegment" else [])], env)
    assert code == 2, err
    assert peak_mb < 500, peak_mb
    assert seconds < 60, seconds  # generous: the machine is shared; typically 2-3 s
    assert err.count("\n") == 1 and ("inflate" in err or "corrupt" in err), err
    assert book.read_bytes() == data


# --------------------------------------------------------------------------------------------
# Disk full and other OS errors


def test_disk_full_is_one_line_and_the_original_survives(sound: bytes, tmp_path: Path) -> None:
    book = tmp_path / "CRM.xlsm"
    book.write_bytes(sound)
    limit = len(sound) // 2  # no file larger than half the workbook may be written

    def small_disk() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for args in (["resegment", str(book), "--quiet"],):
        p = subprocess.run([sys.executable, "-m", "xlcrm.cli", *args], capture_output=True,
                           text=True, env=env, timeout=120, preexec_fn=small_disk)
        assert p.returncode == 2, p.stderr
        assert p.stderr.count("\n") == 1 and "disk is full" in p.stderr, p.stderr
        assert "Traceback" not in p.stderr
        assert book.read_bytes() == sound
        assert sorted(x.name for x in tmp_path.iterdir()) == ["CRM.xlsm"]


def test_an_unreadable_workbook_says_read(sound: bytes, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    if os.geteuid() == 0:
        # root reads anything: make the path unreadable another way (a directory loop).
        book = tmp_path / "CRM.xlsm"
        book.symlink_to(book)
    else:
        book = tmp_path / "CRM.xlsm"
        book.write_bytes(sound)
        book.chmod(0)
    for command in ("check", "resegment"):
        capsys.readouterr()
        assert main([command, str(book)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "read" in err and "write" not in err, err


def test_a_killed_runs_temp_file_is_cleaned_by_the_next_run(
    sound: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    book = tmp_path / "CRM.xlsm"
    book.write_bytes(sound)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    left = tmp_path / f".~xlcrm-CRM.xlsm-{int(dead.stdout)}.tmp"
    left.write_bytes(sound)  # workbook-sized, as a kill during the save leaves it
    assert main(["check", str(book)]) in (0, 1)  # even a run that writes nothing
    assert not left.exists()


# --------------------------------------------------------------------------------------------
# Ledgers read as the user sees them


def test_a_second_table_below_tbl_customers_is_not_analysed(sound: bytes, tmp_path: Path
                                                            ) -> None:
    from hostile import second_table_below

    plain, odd = tmp_path / "plain.xlsm", tmp_path / "odd.xlsm"
    plain.write_bytes(sound)
    odd.write_bytes(second_table_below(sound))
    expected = resegment_file(plain, backups=0)
    got = resegment_file(odd, backups=0)
    assert got.customers == expected.customers == 40
    cols = ["CustomerID", "Qualification", "Potential", "Contribution", "Type"]
    a = expected.segments_table[cols].reset_index(drop=True)
    b = got.segments_table[cols].reset_index(drop=True)
    assert a.equals(b)


def test_error_values_are_problems_named_by_cell(sound: bytes, tmp_path: Path) -> None:
    from hostile import error_cells

    book = tmp_path / "CRM.xlsm"
    book.write_bytes(error_cells(sound))
    problems = check_file(book)
    found = {(p.where, p.severity) for p in problems if "#" in p.message}
    assert ("Customers!J16", "error") in found and ("Customers!K5", "error") in found
    text = " ".join(str(p) for p in problems)
    assert "#N/A in Customers!J16" in text and "#DIV/0! in Customers!K5" in text


def test_problems_of_ledgers_read_side_by_side_keep_the_order_of_the_sheets(
        sound: bytes, tmp_path: Path) -> None:
    # Transactions and the other ledgers are read in threads beside Customers: their
    # problems still come after Customers', sheet by sheet, as when read one by one.
    from hostile import parts_of, set_cell, zip_of

    parts = parts_of(sound)
    set_cell(parts, "Customers", "J16", b'<c r="J16" t="e"><v>#N/A</v></c>')
    set_cell(parts, "Transactions", "C3", b'<c r="C3" t="e"><v>#VALUE!</v></c>')
    set_cell(parts, "Interactions", "A4", b'<c r="A4" t="e"><v>#REF!</v></c>')
    book = tmp_path / "CRM.xlsm"
    book.write_bytes(zip_of(parts))
    where = [p.where for p in check_file(book) if "Excel error value" in p.message and p.where in (
        "Customers!J16", "Transactions!C3", "Interactions!A4")]
    assert where == ["Customers!J16", "Transactions!C3", "Interactions!A4"]
    # resegment's read checks those ledgers in a thread: the same problems, in that order
    read = read_workbook(book)
    assert [p.where for p in read.problems if p.where in where] == where


@pytest.fixture(scope="module")
def after_a_run(sound: bytes, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("run") / "CRM.xlsm"
    path.write_bytes(sound)
    resegment_file(path, backups=0)
    return path.read_bytes()


LATER = ("Transactions", "SegmentHistory")


def test_parts_checked_later_are_scanned_as_when_checked_at_once(after_a_run: bytes) -> None:
    at_once = check_package(after_a_run, "CRM.xlsm")
    later = check_package(after_a_run, "CRM.xlsm", later=LATER)
    parts = parts_of(after_a_run)
    for sheet in LATER:
        part = sheet_part(parts, sheet).lower()
        assert later.get(part) == at_once.get(part) is not None
    later.wait()


@pytest.mark.parametrize(("sheet", "how"), [("Scores", "overwritten"), ("Transactions", "later")])
def test_a_sheet_naming_the_styles_part_does_not_take_it_out_of_the_check(
        sound: bytes, sheet: str, how: str) -> None:
    # A sheet left to the writer (a result sheet) or checked later (a ledger read on another
    # thread) whose relationship names the styles part: a reader opens the styles with the
    # workbook, so they are checked before check_package returns, DTD and all.
    import re

    from hostile import zip_of

    parts = parts_of(sound)
    rels = parts["xl/_rels/workbook.xml.rels"].decode()
    target = re.escape(sheet_part(parts, sheet).split("/", 1)[1])
    rels, n = re.subn(f'Target="(/?xl/)?{target}"', 'Target="/xl/styles.xml"', rels)
    assert n == 1
    parts["xl/_rels/workbook.xml.rels"] = rels.encode()
    parts["xl/styles.xml"] = b'<!DOCTYPE s [<!ENTITY a "b">]>' + parts["xl/styles.xml"].split(
        b"?>", 1)[-1]
    with pytest.raises(InputError, match=r"xl/styles\.xml is refused: it has a document type"):
        check_package(zip_of(parts), "CRM.xlsm", **{how: (sheet,)})


@pytest.mark.parametrize("sheet", LATER)
def test_a_part_checked_later_is_refused_where_it_is_read(after_a_run: bytes, sheet: str,
                                                          tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    from hostile import crc_corrupt

    data = crc_corrupt(after_a_run, sheet)
    with pytest.raises(InputError) as at_once:
        check_package(data, "CRM.xlsm")
    scans = check_package(data, "CRM.xlsm", later=LATER)  # returns: the check runs on
    part = sheet_part(parts_of(after_a_run), sheet).lower()
    with pytest.raises(InputError) as asked:
        scans.get(part)
    with pytest.raises(InputError) as waited:
        scans.wait()
    assert str(asked.value) == str(waited.value) == str(at_once.value)
    assert "is corrupt" in str(asked.value) and part in str(asked.value).lower()
    book = tmp_path / "CRM.xlsm"  # and the command: one line, nothing written
    book.write_bytes(data)
    code, err, _ = _run("resegment", book, capsys)
    assert code == 2 and err.count("\n") == 1 and "is corrupt" in err, err
    assert book.read_bytes() == data


def test_over_long_text_is_a_check_problem(sound: bytes, tmp_path: Path) -> None:
    from hostile import long_name

    book = tmp_path / "CRM.xlsm"
    book.write_bytes(long_name(sound))
    problems = [p for p in check_file(book) if p.where == "Customers!B5"]
    assert problems and "40,000 characters" in problems[0].message
    resegment_file(book, backups=0)  # and no traceback when writing the results
    with open_workbook(book) as wb:
        scores = wb.read_sheet("Scores").frame
    assert scores["Name"].map(lambda v: len(str(v))).max() <= 32_767


def test_noncharacters_are_dropped_with_a_note(sound: bytes, tmp_path: Path) -> None:
    from hostile import noncharacters

    book = tmp_path / "CRM.xlsm"
    book.write_bytes(noncharacters(sound))
    problems = {p.where: p for p in check_file(book)}
    assert "Customers!B6" in problems and "Customers!B7" in problems
    assert "U+FFFE" in problems["Customers!B6"].message
    assert "U+FFFE, U+FFFF" in problems["Customers!B7"].message
    resegment_file(book, backups=0)
    with open_workbook(book) as wb:
        names = set(wb.read_sheet("Scores").frame["Name"])
    assert "Acme Ltd" in names and "Beta GmbH" in names
    assert not any("_xFFFE_" in str(n) or "\ufffe" in str(n) for n in names)


@pytest.fixture(scope="module")
def xls_book(sound: bytes, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The sound workbook saved by LibreOffice as a real Excel 97-2003 file."""
    import shutil

    soffice = shutil.which("soffice")
    if soffice is None:
        pytest.skip("LibreOffice (soffice) is not installed")
    folder = tmp_path_factory.mktemp("xls")
    (folder / "CRM.xlsm").write_bytes(sound)
    subprocess.run(
        [soffice, f"-env:UserInstallation=file://{folder}/profile", "--headless",
         "--convert-to", "xls", "--outdir", str(folder), str(folder / "CRM.xlsm")],
        check=True, capture_output=True, timeout=180)
    return (folder / "CRM.xls").read_bytes()


@pytest.mark.libreoffice
@pytest.mark.parametrize("command", COMMANDS)
def test_an_xls_workbook_is_read_or_refused_in_one_line(
    xls_book: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    book = tmp_path / "CRM.xls"
    book.write_bytes(xls_book)
    code, err, out = _run(command, book, capsys)
    if command == "check":  # read, analysed, nothing written: the problems, exit 1
        assert code == 1 and err == "", err
    elif command == "share":
        assert code == 2 and err.count("\n") == 1 and "97-2003" in err, err
    else:  # nothing can be written into an .xls
        assert code == 2 and err.count("\n") == 1 and "CRM.xls" in err, err
        assert "internal error" not in err
    assert book.read_bytes() == xls_book


_CELL_VALUES = st.one_of(
    st.none(), st.just(""), st.floats(allow_nan=True), st.integers(), st.just(pd.NA),
    st.text(alphabet=st.sampled_from(["a", "é", "中", "_", "x", "F", "E", "D", "0", "\ufdd0",
                                      "\ufffe", "\uffff", "\U0001f600", " "]), max_size=12),
    st.sampled_from(["_xFFFE_", "_xfdd5_", "_xFFFF_", "_x0041_", "a" * 32_767, "b" * 32_768]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_CELL_VALUES, max_size=40))
def test_the_column_check_agrees_with_a_check_of_each_text(cells: list[object]) -> None:
    # _plain_text checks a whole column in C; each text alone is the definition.
    from xlcrm.book.workbook_file import _NONCHAR, EXCEL_CELL_CHARS, _plain_text

    texts = [v for v in cells if isinstance(v, str)]
    expected = not any(len(t) > EXCEL_CELL_CHARS or _NONCHAR.search(t) for t in texts)
    assert _plain_text(pd.Series(cells, dtype=object)) == expected
