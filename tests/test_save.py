"""Saving: the workbook is replaced whole or not at all, with backups and clear refusals."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from fixtures.books import QUICKSTART, read_parts

from xlcrm.book import save
from xlcrm.book.read import open_workbook, read_sheet
from xlcrm.book.save import (
    BACKUP_DIR,
    FileStamp,
    VerifyError,
    clean_stale_temps,
    list_backups,
    lock_files,
    safe_replace,
    verify_workbook,
)
from xlcrm.book.write import write_result_sheets
from xlcrm.errors import InputError


@pytest.fixture
def book(tmp_path: Path) -> Path:
    path = tmp_path / "Ledger.xlsm"
    shutil.copy(QUICKSTART, path)
    os.chmod(path, 0o640)
    return path


def _writer(src: Path, value: str = "result"):
    def write(tmp: Path) -> None:
        write_result_sheets(src.read_bytes(), tmp, {"Scores": [[value]]}, owned=["Scores"])
    return write


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".~xlcrm-"))


def test_replace_keeps_a_backup_and_the_permissions(book: Path) -> None:
    original = book.read_bytes()
    wb = open_workbook(book)
    report = safe_replace(book, _writer(book), expected_stamp=wb.stamp)
    assert read_sheet(book, "Scores").frame.columns.tolist() == ["result"]
    assert report.backup is not None and report.backup.read_bytes() == original
    assert report.backup.parent == book.parent / BACKUP_DIR
    assert report.backup.name.startswith("Ledger.") and report.backup.name.endswith(".bak.xlsm")
    assert report.stamp == FileStamp.of(book)
    assert os.stat(book).st_mode & 0o777 == 0o640
    assert _leftovers(book.parent) == []


def test_backups_are_pruned_to_the_count(book: Path) -> None:
    versions = [book.read_bytes()]
    for i in range(5):
        safe_replace(book, _writer(book, f"run {i}"), backups=2)
        versions.append(book.read_bytes())
    backups = list_backups(book)
    assert len(backups) == 2
    # The newest two: the versions before the last two runs, oldest first.
    assert [b.read_bytes() for b in backups] == versions[-3:-1]


def test_no_backup_when_zero(book: Path) -> None:
    report = safe_replace(book, _writer(book), backups=0)
    assert report.backup is None and not (book.parent / BACKUP_DIR).exists()


@pytest.mark.parametrize("lock", ["~$Ledger.xlsm", ".~lock.Ledger.xlsm#"])
def test_refuses_while_open_in_a_spreadsheet_program(book: Path, lock: str) -> None:
    original = book.read_bytes()
    (book.parent / lock).write_bytes(b"owner")
    assert lock_files(book) == [book.parent / lock]
    with pytest.raises(InputError) as err:
        safe_replace(book, _writer(book))
    assert "open in a spreadsheet program" in str(err.value)
    assert "Close the workbook" in err.value.problems[0].fix
    assert book.read_bytes() == original and _leftovers(book.parent) == []


@pytest.mark.parametrize("other", ["~$dger.xlsm", "~$Ledger.xlsx", ".~lock.dger.xlsm#",
                                   "~$Ledger.xlsm.bak"])
def test_the_lock_of_another_workbook_does_not_block(book: Path, other: str) -> None:
    # ~$dger.xlsm is Excel's lock of dger.xlsm, open in the same folder: Ledger.xlsm is free.
    (book.parent / other).write_bytes(b"owner")
    assert lock_files(book) == []
    safe_replace(book, _writer(book))
    assert read_sheet(book, "Scores").frame.columns.tolist() == ["result"]


def test_refuses_when_the_file_changed_since_it_was_read(book: Path) -> None:
    stamp = open_workbook(book).stamp
    # Someone saves the workbook in between (same size, new content).
    data = bytearray(book.read_bytes())
    data[-1] ^= 0xFF
    book.write_bytes(bytes(data))
    with pytest.raises(InputError, match="changed on disk after xlcrm read it"):
        safe_replace(book, _writer(book), expected_stamp=stamp)
    assert book.read_bytes() == bytes(data) and _leftovers(book.parent) == []


def test_touching_without_changing_is_not_a_change(book: Path) -> None:
    stamp = FileStamp.of(book)
    os.utime(book, ns=(stamp.mtime_ns + 10**9, stamp.mtime_ns + 10**9))
    assert FileStamp.of(book) != stamp and FileStamp.of(book).same_content(stamp)
    safe_replace(book, _writer(book), expected_stamp=stamp)


def test_writer_error_leaves_everything_as_it_was(book: Path) -> None:
    original = book.read_bytes()

    def failing(tmp: Path) -> None:
        tmp.write_bytes(b"half a workbook")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        safe_replace(book, failing)
    assert book.read_bytes() == original
    assert _leftovers(book.parent) == [] and list_backups(book) == []


def test_a_broken_result_is_never_installed(book: Path) -> None:
    original = book.read_bytes()
    with pytest.raises(VerifyError, match="not a valid zip"):
        safe_replace(book, lambda tmp: tmp.write_bytes(b"PK\x03\x04 not really"))
    # A workbook that lost a sheet is refused as well.
    parts = read_parts(book)

    def drop_sheet(tmp: Path) -> None:
        wb = parts["xl/workbook.xml"].replace(
            b'<sheet name="_xlwings.conf" sheetId="2" r:id="rId4" />', b"")
        with zipfile.ZipFile(tmp, "w") as z:
            for name, data in parts.items():
                z.writestr(name, wb if name == "xl/workbook.xml" else data)

    with pytest.raises(VerifyError, match="missing from the new workbook: _xlwings.conf"):
        safe_replace(book, drop_sheet)
    assert book.read_bytes() == original and _leftovers(book.parent) == []


def test_verify_finds_malformed_changed_parts(book: Path, tmp_path: Path) -> None:
    parts = read_parts(book)
    parts["xl/worksheets/sheet1.xml"] = parts["xl/worksheets/sheet1.xml"][:-20]
    bad = tmp_path / "bad.xlsm"
    with zipfile.ZipFile(bad, "w") as z:
        for name, data in parts.items():
            z.writestr(name, data)
    with pytest.raises(VerifyError, match="sheet1.xml of the new workbook is not well-formed"):
        verify_workbook(bad, unchanged_from=book)
    assert verify_workbook(book, unchanged_from=book) == ["Sheet1", "_xlwings.conf"]


def _flip_byte(path: Path, part: str, *, header_crc: bool = False) -> None:
    """Damage ``part`` of the zip at ``path`` in place: one byte of its compressed data, or
    (``header_crc``) the CRC in its local header only."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        info = z.getinfo(part)
    offset = info.header_offset
    if header_crc:
        data[offset + 14] ^= 0xFF
    else:
        nlen, xlen = struct.unpack_from("<HH", data, offset + 26)
        data[offset + 30 + nlen + xlen + info.compress_size // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def test_verify_reads_back_what_was_written_not_what_was_copied(book: Path,
                                                                tmp_path: Path) -> None:
    # A part already damaged in the user's file (here the VBA project) is copied as it was:
    # the check compares its compressed bytes with the original's and does not inflate it,
    # so the run is not refused for damage it did not cause (and does not pay to inflate
    # a large untouched ledger sheet).
    _flip_byte(book, "xl/vbaProject.bin")
    new = tmp_path / "new.xlsm"
    write_result_sheets(book, new, {"Scores": [["Value"], [1.5]]}, owned=["Scores"])
    assert "Scores" in verify_workbook(new, unchanged_from=book)
    # Checked on its own, every part is read back, and the damage is found.
    with pytest.raises(VerifyError, match="xl/vbaProject.bin of the new workbook is corrupt"):
        verify_workbook(new)


def _appended_sheet(book: Path, tmp_path: Path, kept_rows: bytes, new_rows: bytes,
                    name: str) -> tuple[Path, Path]:
    """The workbook with Sheet1's rows ``kept_rows`` (deflated, then a full flush), and a
    copy of it with ``new_rows`` appended after those same compressed bytes, as a History
    append keeps them: (old, new)."""
    import zlib

    from hostile import raw_zip

    parts = read_parts(book)
    xml = parts["xl/worksheets/sheet1.xml"]
    cut = xml.index(b">", xml.index(b"<sheetData")) + 1
    assert xml[:cut].endswith(b"/>")  # the quickstart's <sheetData />, opened here
    head, tail = xml[:cut - 2] + b">", b"</sheetData>" + xml[cut:]

    def zipped(rows: list[bytes]) -> Path:
        members = []
        for part, body in parts.items():
            if part == "xl/worksheets/sheet1.xml":
                chunks = [head + rows[0], *rows[1:], tail]
                out = b""
                for chunk in chunks[:-1]:
                    comp = zlib.compressobj(6, zlib.DEFLATED, -15)
                    out += comp.compress(chunk) + comp.flush(zlib.Z_FULL_FLUSH)
                comp = zlib.compressobj(6, zlib.DEFLATED, -15)
                out += comp.compress(chunks[-1]) + comp.flush()
                whole = b"".join(chunks)
                members.append((part, out, zlib.crc32(whole), len(whole), 8))
            else:
                comp = zlib.compressobj(6, zlib.DEFLATED, -15)
                members.append((part, comp.compress(body) + comp.flush(), zlib.crc32(body),
                                len(body), 8))
        path = tmp_path / f"{name}-{len(rows)}.xlsm"
        path.write_bytes(raw_zip(members))
        return path

    return zipped([kept_rows]), zipped([kept_rows, new_rows])


def _rows(first: int, n: int) -> bytes:
    import random

    rnd = random.Random(first)
    return b"".join(f'<row r="{r}"><c r="A{r}"><v>{rnd.random()}</v></c>'
                    f'<c r="B{r}" t="inlineStr"><is><t>C{r:07d}</t></is></c></row>'.encode()
                    for r in range(first, first + n))


def test_verify_reads_an_appended_part_without_parsing_its_kept_rows(
        book: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A run appended to History keeps the earlier runs' compressed bytes: the check
    # inflates all of it (checksum, size) but parses only the sheet's head and what follows
    # the kept rows, as it does not parse a part copied byte for byte.
    monkeypatch.setattr(save, "KEPT_PREFIX_BYTES", 64 << 10)  # (small parts, fast test)
    kept = _rows(1, 40_000)
    old, new = _appended_sheet(book, tmp_path, kept, _rows(40_001, 2_000), "good")
    assert verify_workbook(new, unchanged_from=old) == ["Sheet1", "_xlwings.conf"]
    # Proof that the kept rows are not parsed again: rows kept with a flaw pass (as a copied
    # part with one would), while the same file checked on its own is refused.
    flawed = kept.replace(b"<row r=\"7\">", b"<row r=\"7\"><oops>", 1)
    old, new = _appended_sheet(book, tmp_path, flawed, _rows(40_001, 2_000), "flawed")
    assert verify_workbook(new, unchanged_from=old)
    with pytest.raises(VerifyError, match="sheet1.xml of the new workbook is not well-formed"):
        verify_workbook(new)
    # What the run wrote after them is parsed: a broken appended row is found.
    old, new = _appended_sheet(book, tmp_path, kept, _rows(40_001, 2_000)[:-9], "broken")
    with pytest.raises(VerifyError, match="sheet1.xml of the new workbook is not well-formed"):
        verify_workbook(new, unchanged_from=old)


def test_verify_finds_a_wrong_checksum_of_an_appended_part(
        book: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(save, "KEPT_PREFIX_BYTES", 64 << 10)
    old, new = _appended_sheet(book, tmp_path, _rows(1, 40_000), _rows(40_001, 100), "crc")
    _flip_byte(new, "xl/worksheets/sheet1.xml", header_crc=True)  # local header only
    with pytest.raises(VerifyError, match="sheet1.xml of the new workbook"):
        verify_workbook(new, unchanged_from=old)
    data = bytearray(new.read_bytes())  # now the same wrong CRC in the central directory
    with zipfile.ZipFile(new) as z:
        info = z.getinfo("xl/worksheets/sheet1.xml")
    data[info.header_offset + 14] ^= 0xFF  # (restore the local header)
    cd = data.index(b"PK\x01\x02" + bytes(data[info.header_offset + 4:info.header_offset + 6]))
    while data[cd + 46:cd + 46 + len(info.filename)] != info.filename.encode():
        cd = data.index(b"PK\x01\x02", cd + 4)
    data[cd + 16] ^= 0xFF
    data[info.header_offset + 14] ^= 0xFF
    new.write_bytes(bytes(data))
    with pytest.raises(VerifyError, match="sheet1.xml of the new workbook is corrupt"):
        verify_workbook(new, unchanged_from=old)


def test_verify_finds_a_copied_part_damaged_in_writing(book: Path, tmp_path: Path) -> None:
    new = tmp_path / "new.xlsm"
    write_result_sheets(book, new, {"Scores": [["Value"], [1.5]]}, owned=["Scores"])
    assert "Scores" in verify_workbook(new, unchanged_from=book)
    _flip_byte(new, "xl/vbaProject.bin")  # same CRC and sizes recorded, other bytes
    with pytest.raises(VerifyError, match="xl/vbaProject.bin of the new workbook is corrupt"):
        verify_workbook(new, unchanged_from=book)


def test_verify_checks_local_headers_against_the_central_directory(book: Path,
                                                                   tmp_path: Path) -> None:
    new = tmp_path / "new.xlsm"
    write_result_sheets(book, new, {"Scores": [["Value"], [1.5]]}, owned=["Scores"])
    _flip_byte(new, "xl/vbaProject.bin", header_crc=True)
    with pytest.raises(VerifyError, match="vbaProject.bin of the new workbook: checksum or "
                       "sizes in its local header disagree"):
        verify_workbook(new, unchanged_from=book)


def test_verify_takes_zip64_local_headers(book: Path, tmp_path: Path) -> None:
    # Some zip writers keep every part's sizes in a zip64 extra field (0xFFFFFFFF in the
    # local header); such a workbook is sound, and so is the file written from it.
    z64 = tmp_path / "zip64.xlsm"
    with zipfile.ZipFile(book) as src, zipfile.ZipFile(z64, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            with z.open(info.filename, "w", force_zip64=True) as f:
                f.write(src.read(info))
    assert struct.unpack_from("<I", z64.read_bytes(), 18) == (0xFFFFFFFF,)
    assert "Sheet1" in verify_workbook(z64)
    new = tmp_path / "new.xlsm"
    write_result_sheets(z64, new, {"Scores": [["Value"], [1.5]]}, owned=["Scores"])
    assert "Scores" in verify_workbook(new, unchanged_from=z64)


def test_stale_temporary_files_are_cleaned(book: Path) -> None:
    folder = book.parent
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead_pid = int(dead.stdout)
    stale = folder / f".~xlcrm-Ledger.xlsm-{dead_pid}.tmp"
    live_young = folder / f".~xlcrm-Ledger.xlsm-{os.getppid()}.tmp"
    live_old = folder / f".~xlcrm-Ledger.xlsm-{os.getppid() + 0}.tmp.other"  # not ours
    other_book = folder / f".~xlcrm-Other.xlsm-{dead_pid}.tmp"
    for p in (stale, live_young, live_old, other_book):
        p.write_bytes(b"partial")
    removed = clean_stale_temps(book)
    assert removed == [stale]
    assert live_young.exists() and live_old.exists() and other_book.exists()
    old = time.time() - 7200
    os.utime(live_young, (old, old))
    assert clean_stale_temps(book) == [live_young]


def test_symlink_target_is_replaced(book: Path, tmp_path: Path) -> None:
    link = tmp_path / "link.xlsm"
    link.symlink_to(book)
    report = safe_replace(link, _writer(book))
    assert link.is_symlink() and report.path == book
    assert read_sheet(link, "Scores").frame.columns.tolist() == ["result"]


def test_new_file(tmp_path: Path) -> None:
    target = tmp_path / "new.xlsm"
    report = safe_replace(target, lambda tmp: shutil.copy(QUICKSTART, tmp))
    assert target.read_bytes() == QUICKSTART.read_bytes() and report.backup is None
    with pytest.raises(InputError, match="changed on disk"):
        safe_replace(tmp_path / "gone.xlsm", lambda tmp: None,
                     expected_stamp=FileStamp.of(target))


# --------------------------------------------------------------------------------------------
# The race: a colleague's save lands between xlcrm's last check and its replace.


def _colleague_version(book: Path, tmp_path: Path, text: str) -> bytes:
    out = tmp_path / f"colleague-{text}.xlsm"
    write_result_sheets(book.read_bytes(), out, {"Scores": [[text]]}, owned=["Scores"])
    return out.read_bytes()


def _save_like_excel(target: Path, data: bytes) -> None:
    """Excel's save: a new file beside the workbook, renamed over it (a new inode)."""
    tmp = target.with_name("~colleague.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, target)


@pytest.mark.parametrize("backups", [3, 0])
def test_a_colleagues_save_during_the_replace_is_kept(
    book: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, backups: int
) -> None:
    theirs = _colleague_version(book, tmp_path, "colleague")
    stamp = open_workbook(book).stamp  # xlcrm read the workbook ...
    # ... and the colleague's save lands after the last check, just before the rename.
    monkeypatch.setattr(save, "BEFORE_SWAP", lambda target: _save_like_excel(target, theirs))
    with pytest.raises(InputError) as err:
        safe_replace(book, _writer(book), expected_stamp=stamp, backups=backups)
    assert "someone saved Ledger.xlsm while xlcrm was replacing it: their version is kept" \
        in str(err.value)
    assert book.read_bytes() == theirs  # their edit is in the workbook, not overwritten
    assert read_sheet(book, "Scores").frame.columns.tolist() == ["colleague"]
    assert _leftovers(book.parent) == [] and list_backups(book) == []


def test_without_a_stamp_the_colleagues_version_survives_too(
    book: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    theirs = _colleague_version(book, tmp_path, "colleague")
    monkeypatch.setattr(save, "BEFORE_SWAP", lambda target: _save_like_excel(target, theirs))
    with pytest.raises(InputError, match="their version is kept in the workbook"):
        safe_replace(book, _writer(book))
    assert book.read_bytes() == theirs


def test_a_second_save_landing_during_the_swap_back_is_kept_in_the_backups(
    book: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _colleague_version(book, tmp_path, "first")
    second = _colleague_version(book, tmp_path, "second")
    real_exchange = save._exchange
    calls = []

    def exchange(a: Path, b: Path) -> bool:
        calls.append(a)
        if len(calls) == 2:  # yet another save, just before xlcrm puts the first one back
            _save_like_excel(b, second)
        return real_exchange(a, b)

    monkeypatch.setattr(save, "BEFORE_SWAP", lambda target: _save_like_excel(target, first))
    monkeypatch.setattr(save, "_exchange", exchange)
    with pytest.raises(InputError) as err:
        safe_replace(book, _writer(book))
    # The first save is back in the workbook; the second, displaced by the swap back, is kept.
    assert book.read_bytes() == first
    kept = sorted((book.parent / BACKUP_DIR).glob("Ledger.*.kept.xlsm"))
    assert len(kept) == 1 and kept[0].read_bytes() == second
    assert str(kept[0]) in str(err.value)


def test_where_the_system_cannot_swap_the_last_check_still_sees_the_save(
    book: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    theirs = _colleague_version(book, tmp_path, "colleague")
    monkeypatch.setattr(save, "_exchange", lambda a, b: False)  # a network drive, Windows
    monkeypatch.setattr(save, "BEFORE_SWAP", lambda target: _save_like_excel(target, theirs))
    with pytest.raises(InputError, match="changed on disk after xlcrm read it"):
        safe_replace(book, _writer(book))
    assert book.read_bytes() == theirs and _leftovers(book.parent) == []


def test_the_backup_is_of_the_version_replaced(book: Path, tmp_path: Path) -> None:
    # No stamp given (a caller that did not read the file): the backup is what was replaced.
    theirs = _colleague_version(book, tmp_path, "colleague")
    _save_like_excel(book, theirs)
    report = safe_replace(book, _writer(book))
    assert report.backup is not None and report.backup.read_bytes() == theirs


def test_a_second_run_cannot_interleave(book: Path) -> None:
    import fcntl

    with open(book, "rb") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        with pytest.raises(InputError, match="perhaps another xlcrm run"):
            safe_replace(book, _writer(book))
    safe_replace(book, _writer(book))
