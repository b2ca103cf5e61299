"""Temporary files of a save, and the clean-up of those an interrupted run left behind.

A save writes ``.~xlcrm-<name>-<pid>.tmp`` beside the workbook (same folder, so the final
rename is atomic). A run killed mid-save leaves it, workbook-sized. Every run that opens the
workbook (the reader calls :func:`clean_stale_temps`) and every save removes such leftovers
whose process is gone, so a scheduled task that was killed does not fill the disk.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import time
from pathlib import Path

TEMP_PREFIX = ".~xlcrm-"
# A temporary file whose writer died (or that is older than this) is removed by the next run.
STALE_AFTER_S = 3600.0


def temp_name(name: str, pid: int) -> str:
    """Name of the temporary file process ``pid`` writes for the workbook named ``name``."""
    return f"{TEMP_PREFIX}{name}-{pid}.tmp"


def _pid_alive(pid: int) -> bool:
    if sys.platform == "win32":
        # os.kill on Windows terminates the process instead of probing it; age decides there.
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def clean_temps(folder: Path, pattern: re.Pattern[str], stale_after_s: float) -> list[Path]:
    """Remove files in ``folder`` matching ``pattern`` (group 1: the writer's pid) that are
    stale: their writer is gone, or they are older than ``stale_after_s`` seconds."""
    removed: list[Path] = []
    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return removed
    for entry in entries:
        m = pattern.match(entry.name)
        if not m:
            continue
        pid = int(m.group(1))
        if pid == os.getpid():
            continue
        try:
            age = now - entry.stat(follow_symlinks=False).st_mtime
        except FileNotFoundError:
            continue
        if not _pid_alive(pid) or age > stale_after_s:
            with contextlib.suppress(FileNotFoundError, PermissionError):
                os.remove(entry.path)
                removed.append(Path(entry.path))
    return removed


def clean_stale_temps(
    path: str | os.PathLike[str], *, stale_after_s: float = STALE_AFTER_S
) -> list[Path]:
    """Remove temporary files that earlier, interrupted saves of ``path`` left behind.

    A temporary file is stale when the process that wrote it no longer runs, or when it
    is older than ``stale_after_s`` seconds (the process id may have been reused). This
    process's own temporary file is never touched.

    Returns
    -------
    list of Path
        The files removed.
    """
    p = Path(path)
    pattern = re.compile(re.escape(TEMP_PREFIX + p.name) + r"-(\d+)\.(?:tmp|old)\Z")
    return clean_temps(p.parent, pattern, stale_after_s)
