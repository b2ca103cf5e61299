"""Replace a workbook file safely, so that no crash can cost the user their ledger.

The new file is written to a temporary file in the same folder, checked (the zip and
every part read back, changed XML parts are well formed, no sheet went missing), flushed
to disk, and only then moved over the original with :func:`os.replace`, which is atomic:
a reader (or a crash) sees either the complete old file or the complete new one. Before
that the original is kept as a timestamped backup (a hard link where the file system
allows, so it costs no time and no space until the original is replaced).

The run refuses while the workbook is open in Excel or LibreOffice (their lock files sit
beside it), and when the file changed since it was read (compared by content hash).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sys
import time
import zipfile
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from xml.parsers import expat

from xlcrm.book.read import workbook_sheet_names
from xlcrm.book.stamp import FileStamp
from xlcrm.errors import InputError

BACKUP_DIR = ".xlcrm-backups"
TEMP_PREFIX = ".~xlcrm-"
# A temporary file whose writer died (or that is older than this) is removed by the next save.
STALE_AFTER_S = 3600.0

_CHUNK = 1 << 20


@dataclass(frozen=True)
class SaveReport:
    """What :func:`safe_replace` did.

    Attributes
    ----------
    path : Path
        The workbook that was replaced (symbolic links resolved).
    backup : Path or None
        The backup of the previous version, or ``None`` (no previous file, or ``backups=0``).
    stamp : FileStamp
        Stamp of the new file, for a later save that must not overwrite newer changes.
    removed : tuple of Path
        Stale temporary files of earlier, interrupted runs that were cleaned up, and backups
        pruned beyond the configured count.
    """

    path: Path
    backup: Path | None
    stamp: FileStamp
    removed: tuple[Path, ...] = ()


class VerifyError(RuntimeError):
    """The freshly written workbook failed its check; the original was left untouched."""


# --------------------------------------------------------------------------------------------
# Lock files and stale temporary files


def lock_files(path: str | os.PathLike[str]) -> list[Path]:
    """Lock files that say ``path`` is open in a spreadsheet program right now.

    Excel keeps ``~$Name.xlsm`` beside the workbook while it is open (for long names
    Office may replace the first two characters of the name instead of prefixing);
    LibreOffice keeps ``.~lock.Name.xlsm#``.
    """
    p = Path(path)
    folder, name = p.parent, p.name
    candidates = [f"~${name}", f".~lock.{name}#"]
    if len(name) > 2:
        candidates.append(f"~${name[2:]}")
    return [folder / c for c in dict.fromkeys(candidates) if (folder / c).exists()]


def check_not_open(path: str | os.PathLike[str]) -> None:
    """Raise :class:`InputError` while ``path`` is open in Excel or LibreOffice."""
    locks = lock_files(path)
    if locks:
        name = Path(path).name
        raise InputError(
            f"the workbook {name} is open in a spreadsheet program "
            f"(lock file {locks[0].name} exists beside it), so it cannot be replaced now",
            fix=(
                f"Close the workbook in Excel (or LibreOffice) first, then run again. If it "
                f"is not open anywhere, the lock file is left over from a crash: delete "
                f"{locks[0]} and run again."
            ),
        )


def _temp_name(name: str, pid: int) -> str:
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


def _clean_temps(folder: Path, pattern: re.Pattern[str], stale_after_s: float) -> list[Path]:
    removed: list[Path] = []
    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
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
            with contextlib.suppress(FileNotFoundError):
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
    pattern = re.compile(re.escape(TEMP_PREFIX + p.name) + r"-(\d+)\.tmp\Z")
    return _clean_temps(p.parent, pattern, stale_after_s)


# --------------------------------------------------------------------------------------------
# Verification


def _is_xml_part(name: str) -> bool:
    return name.endswith((".xml", ".rels", ".vml"))


def verify_workbook(
    path: str | os.PathLike[str],
    *,
    expect_sheets: Collection[str] = (),
    unchanged_from: str | os.PathLike[str] | None = None,
) -> list[str]:
    """Check that ``path`` is a complete, readable workbook; return its sheet names.

    Checks: the zip opens and every part decompresses with the right checksum; every
    XML part that differs from ``unchanged_from`` (all of them when it is ``None``) is
    well formed; the workbook part and its relationships resolve to parts that exist;
    an independent reader (python-calamine) opens the file and sees the same sheets; the
    sheets of ``unchanged_from`` and ``expect_sheets`` are all there.

    Raises
    ------
    VerifyError
        Saying what is wrong.
    """
    try:
        with zipfile.ZipFile(path) as z:
            bad = z.testzip()
            if bad is not None:
                raise VerifyError(f"part {bad} of the new workbook is corrupt (checksum)")
            old: dict[str, tuple[int, int]] = {}
            if unchanged_from is not None:
                with zipfile.ZipFile(unchanged_from) as zo:
                    old = {i.filename: (i.CRC, i.file_size) for i in zo.infolist()}
            for info in z.infolist():
                if not _is_xml_part(info.filename):
                    continue
                if old.get(info.filename) == (info.CRC, info.file_size):
                    continue  # byte-identical to a part of the file we started from
                parser = expat.ParserCreate()
                try:
                    parser.Parse(z.read(info), True)
                except expat.ExpatError as exc:
                    raise VerifyError(
                        f"part {info.filename} of the new workbook is not well-formed XML: {exc}"
                    ) from exc
            names = workbook_sheet_names(z)
            old_names: list[str] = []
            if unchanged_from is not None:
                with zipfile.ZipFile(unchanged_from) as zo:
                    old_names = workbook_sheet_names(zo)
    except zipfile.BadZipFile as exc:
        raise VerifyError(f"the new workbook is not a valid zip file: {exc}") from exc
    except KeyError as exc:
        raise VerifyError(f"the new workbook lacks a part it refers to: {exc}") from exc

    import python_calamine

    try:
        with python_calamine.CalamineWorkbook.from_path(os.fspath(path)) as wb:
            calamine_names = list(wb.sheet_names)
    except Exception as exc:  # calamine raises its own error types for any malformed input
        raise VerifyError(f"an independent reader cannot open the new workbook: {exc}") from exc
    if calamine_names != names:
        raise VerifyError(
            f"sheet lists disagree: workbook part says {names}, calamine says {calamine_names}"
        )
    missing = [s for s in [*old_names, *expect_sheets] if s not in names]
    if missing:
        raise VerifyError(f"sheets missing from the new workbook: {', '.join(missing)}")
    return names


# --------------------------------------------------------------------------------------------
# Backups


def _backup_pattern(path: Path) -> re.Pattern[str]:
    return re.compile(
        re.escape(path.stem) + r"\.(\d{8}-\d{6})(?:-(\d+))?\.bak" + re.escape(path.suffix) + r"\Z"
    )


def list_backups(path: str | os.PathLike[str], backup_dir: str | os.PathLike[str] | None = None
                 ) -> list[Path]:
    """Backups of ``path``, oldest first."""
    p = Path(path)
    folder = Path(backup_dir) if backup_dir is not None else p.parent / BACKUP_DIR
    pattern = _backup_pattern(p)
    found = []
    if folder.is_dir():
        for entry in folder.iterdir():
            m = pattern.match(entry.name)
            if m:
                found.append(((m.group(1), int(m.group(2) or 0)), entry))
    return [e for _, e in sorted(found)]


def _fsync_dir(folder: Path) -> None:
    if sys.platform == "win32":
        return  # directories cannot be opened for fsync there; NTFS journals the rename
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDWR)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _make_backup(path: Path, folder: Path) -> Path:
    folder.mkdir(exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    # Within one second, number on from the highest existing backup (not the first free
    # number: pruning frees low numbers, and the order of backups must stay the order of time).
    pattern = _backup_pattern(path)
    same_second = [
        int(m.group(2) or 0) for e in folder.iterdir()
        if (m := pattern.match(e.name)) and m.group(1) == stamp
    ]
    n = max(same_second) + 1 if same_second else 0
    while True:
        extra = f"-{n}" if n else ""
        target = folder / f"{path.stem}.{stamp}{extra}.bak{path.suffix}"
        try:
            # A hard link is instant and exact; the old content lives on in it after the
            # original's name is pointed at the new file.
            os.link(path, target)
            break
        except FileExistsError:
            n += 1
        except OSError:
            if target.exists():
                n += 1
                continue
            tmp = folder / f"{TEMP_PREFIX}{target.name}-{os.getpid()}.tmp"
            shutil.copy2(path, tmp)
            _fsync_file(tmp)
            os.replace(tmp, target)
            break
    _fsync_dir(folder)
    return target


def _prune_backups(path: Path, folder: Path, keep: int) -> list[Path]:
    # Copies of backups interrupted half-way (only where hard links are not available).
    pattern = re.compile(
        re.escape(TEMP_PREFIX + path.stem) + r"\..*\.bak" + re.escape(path.suffix)
        + r"-(\d+)\.tmp\Z"
    )
    removed = _clean_temps(folder, pattern, STALE_AFTER_S)
    backups = list_backups(path, folder)
    for old in backups[: max(0, len(backups) - keep)]:
        with contextlib.suppress(FileNotFoundError):
            old.unlink()
            removed.append(old)
    return removed


# --------------------------------------------------------------------------------------------
# The safe replace


def _changed_message(path: Path) -> InputError:
    return InputError(
        f"the workbook {path.name} changed on disk after xlcrm read it (someone saved it in "
        f"the meantime), so writing now would throw their changes away",
        fix="Run again: xlcrm will read the current version. Nothing was written.",
    )


def safe_replace(
    path: str | os.PathLike[str],
    write_fn: Callable[[Path], None],
    *,
    backups: int = 3,
    expected_stamp: FileStamp | None = None,
    backup_dir: str | os.PathLike[str] | None = None,
    expect_sheets: Collection[str] = (),
    verify: bool = True,
) -> SaveReport:
    """Replace the workbook at ``path`` with what ``write_fn`` writes, or leave it untouched.

    Parameters
    ----------
    path : path-like
        The workbook. A symbolic link is followed (its target is replaced). It need not
        exist yet (then no backup is made).
    write_fn : callable
        Called with the path of a fresh temporary file in the same folder; writes the
        complete new workbook there.
    backups : int
        How many timestamped backups of this workbook to keep (``0``: none). The oldest
        beyond this count are deleted.
    expected_stamp : FileStamp or None
        The stamp taken when the workbook was read. When the file's content differs from
        it now, nothing is written (someone saved the workbook in between).
    backup_dir : path-like or None
        Folder for backups; default ``.xlcrm-backups`` beside the workbook. Backups are
        named ``<stem>.<YYYYmmdd-HHMMSS>.bak<suffix>`` so that they open in Excel.
    expect_sheets : collection of str
        Sheet names the new workbook must have (besides every sheet of the old one).
    verify : bool
        Check the new file (see :func:`verify_workbook`) before it replaces the old one.

    Returns
    -------
    SaveReport

    Raises
    ------
    InputError
        While the workbook is open in Excel or LibreOffice, when it changed since it was
        read, or when the operating system refuses the replace (file locked).
    VerifyError
        When the new file fails its check. The original is untouched in every case, and
        the temporary file is removed.
    """
    target = Path(os.path.realpath(path))
    folder = target.parent
    exists = target.exists()
    if expected_stamp is not None and not exists:
        raise _changed_message(target)
    check_not_open(target)
    removed = clean_stale_temps(target)
    if expected_stamp is not None and not FileStamp.of(target).same_content(expected_stamp):
        raise _changed_message(target)

    tmp = folder / _temp_name(target.name, os.getpid())
    backup: Path | None = None
    try:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        write_fn(tmp)
        if not tmp.is_file():
            raise VerifyError(f"the writer did not create {tmp.name}")
        if verify:
            verify_workbook(
                tmp, expect_sheets=expect_sheets, unchanged_from=target if exists else None
            )
        if exists:
            # Same permission bits as the workbook it replaces (temp files start private).
            os.chmod(tmp, os.stat(target).st_mode & 0o7777)
        _fsync_file(tmp)

        # Last look just before the point of no return.
        check_not_open(target)
        if expected_stamp is not None and not FileStamp.of(target).same_content(expected_stamp):
            raise _changed_message(target)
        if exists and backups > 0:
            bdir = Path(backup_dir) if backup_dir is not None else folder / BACKUP_DIR
            backup = _make_backup(target, bdir)
        try:
            os.replace(tmp, target)
        except PermissionError as exc:
            raise InputError(
                f"the operating system refused to replace {target.name} ({exc.strerror}); "
                "it is probably open in another program",
                fix="Close the workbook everywhere it is open, then run again.",
            ) from exc
        _fsync_dir(folder)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if backup is not None and not _same_file_replaced(target, backup):
            # The replace did not happen: the backup is a needless duplicate of the original.
            with contextlib.suppress(OSError):
                backup.unlink()
        raise
    if backup is not None:
        removed += _prune_backups(target, backup.parent, backups)
    return SaveReport(target, backup, FileStamp.of(target), tuple(removed))


def _same_file_replaced(target: Path, backup: Path) -> bool:
    """True when ``target`` no longer is the file that ``backup`` holds (the replace ran)."""
    try:
        return not os.path.samefile(target, backup)
    except OSError:
        return True
