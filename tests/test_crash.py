"""Crash safety: killing a save at any moment leaves a workbook that opens with its ledger.

A child process reads a workbook with a 20 000-row ledger, writes result sheets and
replaces the file with :func:`safe_replace`; it is killed (SIGKILL, no cleanup) at random,
seeded moments of that work. After every kill the workbook at the path is either the
file as it was, byte for byte, or a complete new one, and in both cases its ledger reads
back identical. Leftover temporary files are cleaned up by the next run.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import shutil
import signal
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fixtures.books import QUICKSTART, ledger_frame

from xlcrm.book.read import open_workbook, read_sheet
from xlcrm.book.save import BACKUP_DIR, list_backups, safe_replace, verify_workbook
from xlcrm.book.write import write_result_sheets

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform == "win32", reason="needs fork and SIGKILL"),
]

ROWS = 20_000
KILLS = 8
TEXT = ("CustomerID",)


def _resegment(path: str, on_read: Callable[[], object] = lambda: None) -> None:
    """What `xlcrm resegment` does to the file: read, compute something, write, replace."""
    wb = open_workbook(path)
    customers = wb.read_sheet("Customers", text_columns=TEXT).frame
    on_read()
    n = len(customers)
    scores = pd.DataFrame({
        "CustomerID": customers["CustomerID"].to_numpy(),
        "Name": customers["Name"].to_numpy(),
        "Value": customers["Revenue12m"].to_numpy() / 1000,
        "Rank": np.arange(1, n + 1),
        "Percentile": np.linspace(0, 1, n),
        "Since": customers["FirstOrder"].to_numpy(),
    })
    sheets = {"Scores": scores, "Segments": scores.iloc[:, :3]}
    safe_replace(
        path,
        lambda tmp: write_result_sheets(wb, tmp, sheets, owned=("Scores", "Segments")),
        expected_stamp=wb.stamp,
        backups=2,
    )


def _child(path: str, ready: Any) -> None:
    _resegment(path, ready.set)
    os._exit(0)


def _temps(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.name.startswith(".~xlcrm-")]


def test_kill_at_random_moments_never_loses_the_ledger(tmp_path: Path) -> None:
    book = tmp_path / "Ledger.xlsm"
    # The ledger is typed into the xlwings quickstart macro workbook.
    write_result_sheets(QUICKSTART, book, {"Customers": ledger_frame(ROWS, seed=11)},
                        owned=["Customers"])
    baseline = read_sheet(book, "Customers", text_columns=TEXT).frame
    assert len(baseline) == ROWS

    ctx = multiprocessing.get_context("fork")
    # Calibrate: how long reading and one complete run take here.
    calibration = tmp_path / "calibration" / "Ledger.xlsm"
    calibration.parent.mkdir()
    shutil.copy(book, calibration)
    ready = ctx.Event()
    start = time.perf_counter()
    proc = ctx.Process(target=_child, args=(str(calibration), ready))
    proc.start()
    assert ready.wait(60)
    reading = time.perf_counter() - start
    proc.join(120)
    duration = time.perf_counter() - start
    assert proc.exitcode == 0

    # Two kills anywhere in the run; the others spread over the time after reading, when
    # results are written, checked and installed (one random moment in each equal slice).
    rng = np.random.default_rng(20240601)
    schedule = [(False, d) for d in rng.uniform(0.0, duration, 2)]
    slices = KILLS - 2
    writing = duration - reading
    schedule += [(True, (i + u) * writing / slices)
                 for i, u in enumerate(rng.uniform(0.0, 1.0, slices))]
    outcomes = {"untouched": 0, "replaced": 0, "left a temporary file": 0}
    for after_read, delay in schedule:
        before = book.read_bytes()
        ready = ctx.Event()
        proc = ctx.Process(target=_child, args=(str(book), ready))
        proc.start()
        if after_read:
            assert ready.wait(60)
        time.sleep(delay)
        if proc.pid is not None and proc.is_alive():
            os.kill(proc.pid, signal.SIGKILL)
        proc.join(60)

        after = book.read_bytes()
        with zipfile.ZipFile(io.BytesIO(after)) as z:
            assert z.testzip() is None
        pd.testing.assert_frame_equal(
            read_sheet(book, "Customers", text_columns=TEXT).frame, baseline)
        if after == before:
            outcomes["untouched"] += 1
        else:
            assert "Scores" in verify_workbook(book)
            outcomes["replaced"] += 1
        if _temps(tmp_path):
            outcomes["left a temporary file"] += 1
        for backup in list_backups(book):
            with zipfile.ZipFile(backup) as z:
                assert z.testzip() is None

    print(outcomes)
    # (Where the random kills land depends on this machine's speed; the deterministic
    # test below always kills in the middle of writing.)
    # A run that is not interrupted cleans up after the killed ones.
    _resegment(str(book))
    assert _temps(tmp_path) == [] and not _temps(tmp_path / BACKUP_DIR)
    pd.testing.assert_frame_equal(
        read_sheet(book, "Customers", text_columns=TEXT).frame, baseline)
    assert len(read_sheet(book, "Scores").frame) == ROWS


def _child_stuck_mid_write(path: str, ready: Any) -> None:
    def write(target: Path) -> None:
        target.write_bytes(b"PK\x03\x04 half a workbook")
        ready.set()
        time.sleep(60)

    safe_replace(path, write, backups=1)
    os._exit(0)


def test_kill_in_the_middle_of_writing_keeps_original_and_next_run_cleans_up(
    tmp_path: Path,
) -> None:
    book = tmp_path / "Ledger.xlsm"
    write_result_sheets(QUICKSTART, book, {"Customers": ledger_frame(200, seed=3)},
                        owned=["Customers"])
    before = book.read_bytes()
    ctx = multiprocessing.get_context("fork")
    ready = ctx.Event()
    proc = ctx.Process(target=_child_stuck_mid_write, args=(str(book), ready))
    proc.start()
    assert ready.wait(60)
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(60)
    assert book.read_bytes() == before
    assert len(_temps(tmp_path)) == 1
    _resegment(str(book))
    assert _temps(tmp_path) == []
    assert len(read_sheet(book, "Scores").frame) == 200
