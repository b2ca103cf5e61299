"""The second process that writes the largest result sheet (xlcrm.book.sheet_worker).

Whatever the worker does (makes the sheet, cannot, dies), the file written is the one this
process writes alone, byte for byte.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fixtures.books import QUICKSTART

from xlcrm.book import write
from xlcrm.book.sheet_worker import MIN_FILE_BYTES, SheetWorker
from xlcrm.book.write import write_result_sheets


def _frames(n: int) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(3)
    scores = pd.DataFrame({"CustomerID": [f"C{i:06d}" for i in range(n)],
                           **{f"S{j}": rng.random(n) * 100 for j in range(8)}})
    scores.loc[::7, "S3"] = np.nan
    segments = pd.DataFrame({"CustomerID": scores["CustomerID"],
                             "Type": rng.choice(["Star", "Hidden gem", "<&> x_x0041_"], n),
                             "Rank": np.arange(n)})
    return {"Scores": scores, "Segments": segments}


@pytest.fixture
def book(tmp_path: Path) -> Path:
    path = tmp_path / "Book.xlsm"
    shutil.copy(QUICKSTART, path)
    return path


def _start(tmp_path: Path) -> SheetWorker:
    """A worker, as for a workbook large enough to want one."""
    large = tmp_path / "large.xlsm"
    with open(large, "wb") as f:
        f.truncate(MIN_FILE_BYTES)
    worker = SheetWorker.for_file(large)
    assert worker is not None
    return worker


def _written(book: Path, out: Path, sheets: dict[str, pd.DataFrame],
             worker: SheetWorker | None) -> bytes:
    write_result_sheets(book, out, sheets, owned=list(sheets), worker=worker)
    return out.read_bytes()


def test_a_sheet_made_by_the_worker_gives_the_same_file(book: Path, tmp_path: Path) -> None:
    sheets = _frames(30_000)
    alone = _written(book, tmp_path / "alone.xlsm", sheets, None)
    worker = _start(tmp_path)
    made = []
    result = worker.result

    def seen():  # what the worker answered, for the test to know it was used
        answer = result()
        made.append(answer)
        return answer

    worker.result = seen  # type: ignore[method-assign]
    with worker:
        both = _written(book, tmp_path / "both.xlsm", sheets, worker)
        again = _written(book, tmp_path / "again.xlsm", sheets, worker)  # a second job
    assert made and all(m is not None for m in made) and len(made) == 2
    assert both == alone and again == alone
    assert worker._process.poll() == 0  # ended when closed


def test_a_dead_worker_leaves_the_sheet_to_this_process(book: Path, tmp_path: Path) -> None:
    sheets = _frames(30_000)
    alone = _written(book, tmp_path / "alone.xlsm", sheets, None)
    worker = _start(tmp_path)
    worker._process.kill()
    worker._process.wait()
    with worker:
        assert _written(book, tmp_path / "dead.xlsm", sheets, worker) == alone


def test_a_sheet_needing_a_new_date_format_is_made_here(book: Path, tmp_path: Path) -> None:
    # The quickstart book has no date format: the sheet needs one added to styles.xml,
    # which only this process writes; the worker declines and the file is the same.
    sheets = _frames(30_000)
    sheets["Scores"]["Since"] = pd.Timestamp("2024-01-31") + pd.to_timedelta(
        np.arange(30_000) % 900, unit="D")
    alone = _written(book, tmp_path / "alone.xlsm", sheets, None)
    with _start(tmp_path) as worker:
        assert _written(book, tmp_path / "dates.xlsm", sheets, worker) == alone


def test_an_unwritable_value_raises_here_naming_its_cell(book: Path, tmp_path: Path) -> None:
    sheets = _frames(30_000)
    sheets["Scores"]["Big"] = np.full(30_000, 2**60, dtype=np.int64).astype(object)
    with _start(tmp_path) as worker, pytest.raises(ValueError, match=r"Scores!"):
        write_result_sheets(book, tmp_path / "x.xlsm", sheets, owned=list(sheets),
                            worker=worker)


def test_no_worker_where_it_would_not_pay(monkeypatch: pytest.MonkeyPatch, book: Path
                                         ) -> None:
    from xlcrm.book.sheet_worker import _is_python

    assert _is_python("/usr/bin/python3.11") and _is_python(r"C:\Python311\pythonw.exe")
    assert not _is_python(r"C:\Program Files\Microsoft Office\EXCEL.EXE")
    assert not _is_python("") and not _is_python(None)
    assert SheetWorker.for_file(book) is None  # a small workbook
    assert SheetWorker.for_file(book.with_name("missing.xlsm")) is None
    large = book.with_name("large.xlsm")
    with open(large, "wb") as f:
        f.truncate(MIN_FILE_BYTES)
    monkeypatch.setenv("XLCRM_NO_WORKER", "1")
    assert SheetWorker.for_file(large) is None
    assert 0 < write.MIN_CELLS_FOR_WORKER < write.MAX_CELLS_FOR_WORKER


def _corrupted(path: Path, part: str, out: Path) -> Path:
    """``path`` with one byte of ``part``'s compressed data changed (its CRC then fails)."""
    import zipfile

    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        info = z.getinfo(part)
    at = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra) + \
        info.compress_size // 2
    data[at] ^= 0x55
    out.write_bytes(bytes(data))
    return out


def test_the_largest_part_is_read_back_in_the_worker(monkeypatch: pytest.MonkeyPatch,
                                                     book: Path, tmp_path: Path) -> None:
    from xlcrm.book import save
    from xlcrm.book.save import VerifyError, verify_workbook

    monkeypatch.setattr(save, "READ_BACK_ELSEWHERE_BYTES", 1 << 20)
    out = tmp_path / "out.xlsm"
    _written(book, out, _frames(30_000), None)
    names = verify_workbook(out, unchanged_from=book)
    asked: list[tuple[str, bool]] = []
    with _start(tmp_path) as worker:
        read_back, ok = worker.read_back, worker.read_back_ok
        worker.read_back = lambda path, part: asked.append((part, False)) or read_back(  # type: ignore[method-assign]
            path, part)
        worker.read_back_ok = lambda: asked.append(("ok", answer := ok())) or answer  # type: ignore[method-assign]
        assert verify_workbook(out, unchanged_from=book, worker=worker) == names
        scores = asked[0][0]
        assert asked == [(scores, False), ("ok", True)]  # the worker vouched for Scores
        bad = _corrupted(out, scores, tmp_path / "bad.xlsm")
        # (the flipped byte breaks the checksum, or first the XML it inflates to)
        with pytest.raises(VerifyError, match=rf"part {scores} .*(corrupt|not well-formed)"):
            verify_workbook(bad, unchanged_from=book, worker=worker)
        assert asked[-1] == ("ok", False)  # it could not: read back here, which says why
    dead = _start(tmp_path)
    dead._process.kill()
    dead._process.wait()
    with dead, pytest.raises(VerifyError, match=rf"part {scores} .*(corrupt|not well-formed)"):
        verify_workbook(bad, unchanged_from=book, worker=dead)
    with dead:
        assert verify_workbook(out, unchanged_from=book, worker=dead) == names


def test_a_worker_that_has_answered_ends_without_the_interpreters_teardown(
        monkeypatch: pytest.MonkeyPatch, book: Path, tmp_path: Path) -> None:
    # Closing its input ends the worker at once (os._exit), not after the teardown of
    # pandas' and the writer's modules (0.1 s that the run's close() waited for). An exit
    # hook, installed in every Python started with this environment, tells a teardown.
    import os
    import subprocess
    import sys

    site, mark = tmp_path / "site", tmp_path / "teardown-ran"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        "import atexit, os\n"
        "mark = os.environ.get('XLCRM_TEST_TEARDOWN_MARK')\n"
        "if mark:\n"
        "    atexit.register(lambda: open(mark, 'w').close())\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [
        str(site), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("XLCRM_TEST_TEARDOWN_MARK", str(mark))
    subprocess.run([sys.executable, "-c", "pass"], check=True)  # the hook works
    assert mark.exists()
    mark.unlink()
    worker = _start(tmp_path)
    worker.read_back(book, "xl/workbook.xml")
    assert worker.read_back_ok()  # served: imported, answered
    worker.close()
    assert worker._process.returncode == 0
    assert not mark.exists()
