"""Replace a workbook file safely, so that no crash can cost the user their ledger.

The new file is written to a temporary file in the same folder, checked (the zip's
directory; every new or changed part read back, XML well formed; parts copied unchanged
compared as compressed bytes; no sheet went missing), flushed
to disk, and only then moved over the original with :func:`os.replace`, which is atomic:
a reader (or a crash) sees either the complete old file or the complete new one. Before
that the original is kept as a timestamped backup (a hard link where the file system
allows, so it costs no time and no space until the original is replaced).

The run refuses while the workbook is open in Excel or LibreOffice (their lock files sit
beside it), and when the file changed since it was read (compared by content hash).
"""

from __future__ import annotations

import contextlib
import mmap
import os
import re
import shutil
import struct
import sys
import zipfile
import zlib
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from xml.parsers import expat

from xlcrm.book.package import inflated_chunks
from xlcrm.book.read import workbook_sheet_names
from xlcrm.book.sheet_worker import SheetWorker
from xlcrm.book.stamp import FileStamp
from xlcrm.book.temps import (  # noqa: F401  (clean_stale_temps re-exported)
    STALE_AFTER_S,
    TEMP_PREFIX,
    clean_stale_temps,
    clean_temps,
    temp_name,
)
from xlcrm.errors import InputError

BACKUP_DIR = ".xlcrm-backups"

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

    Matched exactly by name: Excel keeps ``~$Name.xlsm`` beside the workbook while it is
    open, LibreOffice ``.~lock.Name.xlsm#``. (Word shortens long names by replacing their
    first characters; Excel does not, so ``~$CRM.xlsm`` is the lock of ``CRM.xlsm`` and
    never of ``MyCRM.xlsm``.)
    """
    p = Path(path)
    folder, name = p.parent, p.name
    candidates = [f"~${name}", f".~lock.{name}#"]
    return [folder / c for c in candidates if (folder / c).exists()]


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


# --------------------------------------------------------------------------------------------
# Verification


def _is_xml_part(name: str) -> bool:
    return name.endswith((".xml", ".rels", ".vml"))


_LOCAL_HEADER = struct.Struct("<IHHHHHIIIHH")


def _entry_span(data: mmap.mmap | bytes, info: zipfile.ZipInfo, *, check: bool = True
                ) -> tuple[int, int]:
    """Where the compressed bytes of ``info`` lie; with ``check``, after checking its local
    header against the central directory (name, method and, unless sizes follow the data,
    CRC and sizes; sizes marked as kept in a zip64 extra field are not compared)."""
    offset = info.header_offset
    if offset + _LOCAL_HEADER.size > len(data):
        raise VerifyError(f"part {info.filename} lies beyond the end of the file")
    sig, _ver, flags, method, _t, _d, crc, csize, usize, nlen, xlen = \
        _LOCAL_HEADER.unpack_from(data, offset)
    name_at = offset + _LOCAL_HEADER.size
    start = name_at + nlen + xlen
    if not check:
        return start, start + info.compress_size
    if sig != 0x04034B50 or data[name_at:name_at + nlen] != info.orig_filename.encode(
            "utf-8" if info.flag_bits & 0x800 else "cp437") or method != info.compress_type:
        raise VerifyError(f"part {info.filename} of the new workbook: its local header "
                          "disagrees with the zip's central directory")
    sizes = (csize, usize) if 0xFFFFFFFF not in (csize, usize) else (
        info.compress_size, info.file_size)  # zip64: the sizes are in the extra field
    if not flags & 0x8 and (crc, *sizes) != (info.CRC, info.compress_size, info.file_size):
        raise VerifyError(f"part {info.filename} of the new workbook: checksum or sizes in "
                          "its local header disagree with the zip's central directory")
    return start, start + info.compress_size


def _check_central_directory(z: zipfile.ZipFile, data: mmap.mmap | bytes
                             ) -> dict[str, tuple[int, int]]:
    """Each entry's local header agrees with the central directory and no two parts share
    bytes; returns each part's span of compressed bytes."""
    spans = {info.filename: _entry_span(data, info) for info in z.infolist()}
    if len(spans) != len(z.infolist()):
        raise VerifyError("the new workbook holds two parts of the same name")
    end = z.start_dir  # type: ignore[attr-defined]  # where the central directory begins
    previous = 0
    for name, (start, stop) in sorted(spans.items(), key=lambda item: item[1]):
        if start < previous or stop > end:
            raise VerifyError(f"part {name} of the new workbook overlaps another part")
        previous = stop
    return spans


def _copied_unchanged(info: zipfile.ZipInfo, span: tuple[int, int], data: mmap.mmap | bytes,
                      old: Mapping[str, tuple[zipfile.ZipInfo, tuple[int, int]]],
                      old_data: mmap.mmap | bytes | None) -> bool:
    """Whether part ``info`` was copied byte for byte from the file it replaces (same
    compressed bytes, method, CRC and size): then it reads exactly as it did there."""
    found = old.get(info.filename)
    if found is None or old_data is None:
        return False
    was, (start, stop) = found
    if (was.CRC, was.file_size, was.compress_size, was.compress_type) != (
            info.CRC, info.file_size, info.compress_size, info.compress_type):
        return False
    return memoryview(data)[span[0]:span[1]] == memoryview(old_data)[start:stop]


KEPT_PREFIX_BYTES = 1 << 20
"""A new part starting with this many compressed bytes of the part it replaces (History with
a run appended) is read back without parsing them again (:func:`_read_back_after`)."""
_ROW_END = re.compile(rb"</(?:\w+:)?row>\Z")
_SHEET_DATA_OPEN = re.compile(rb"<(?:\w+:)?sheetData\b[^>]*>")


def _kept_prefix(info: zipfile.ZipInfo, span: tuple[int, int], data: mmap.mmap | bytes,
                 old: Mapping[str, tuple[zipfile.ZipInfo, tuple[int, int]]],
                 old_data: mmap.mmap | bytes | None) -> int:
    """How many compressed bytes part ``info`` starts with that are those of the same part
    in the file it replaces (0 below :data:`KEPT_PREFIX_BYTES`, or for another method)."""
    found = old.get(info.filename)
    if found is None or old_data is None or info.compress_type != zipfile.ZIP_DEFLATED or \
            found[0].compress_type != zipfile.ZIP_DEFLATED:
        return 0
    new = memoryview(data)[span[0]:span[1]]
    was = memoryview(old_data)[found[1][0]:found[1][1]]
    n = min(len(new), len(was))
    if n < KEPT_PREFIX_BYTES or new[:KEPT_PREFIX_BYTES] != was[:KEPT_PREFIX_BYTES]:
        return 0
    low, high = KEPT_PREFIX_BYTES, n  # the longest equal start, by halving (memcmp each)
    while low < high:
        mid = (low + high + 1) // 2
        if new[low:mid] == was[low:mid]:
            low = mid
        else:
            high = mid - 1
    return low


def _read_back_after(info: zipfile.ZipInfo, data: mmap.mmap | bytes,
                     span: tuple[int, int], kept: int) -> bool:
    """Read back a sheet part whose first ``kept`` compressed bytes are those of the part it
    replaces: everything inflated, its CRC and size checked, the XML parsed except the rows
    those bytes hold, which the old file held as they are (as a part copied byte for byte
    is not parsed again). The parser reads the sheet's head, then from the first row after
    them on: the kept rows must end with a whole row (``</row>`` ends every row and
    appears in no text or attribute). ``False`` (nothing decided) when the part does not
    look so: the caller reads it back whole.
    """
    raw = memoryview(data)[span[0]:span[1]]
    try:
        return _inflate_after(info, raw, kept)
    finally:
        raw.release()  # the file's map is closed next, even after an error


def _inflate_after(info: zipfile.ZipInfo, raw: memoryview, kept: int) -> bool:
    inflater = zlib.decompressobj(-15)
    crc, size, head, end = 0, 0, b"", b""
    parser = expat.ParserCreate()
    try:
        for at in range(0, kept, _CHUNK):  # the kept rows: inflated and counted, not parsed
            out = inflater.decompress(raw[at:min(at + _CHUNK, kept)])
            crc, size = zlib.crc32(out, crc), size + len(out)
            if len(head) < _CHUNK:
                head += out[:_CHUNK]
            end = (end + out)[-16:]
        opened = _SHEET_DATA_OPEN.search(head)
        if opened is None or opened.group().endswith(b"/>") or not _ROW_END.search(end) \
                or size < opened.end():
            return False
        parser.Parse(head[:opened.end()], False)
        for at in range(kept, len(raw), _CHUNK):
            out = inflater.decompress(raw[at:at + _CHUNK])
            crc, size = zlib.crc32(out, crc), size + len(out)
            parser.Parse(out, False)
        out = inflater.flush()
        crc, size = zlib.crc32(out, crc), size + len(out)
        parser.Parse(out, True)
    except (expat.ExpatError, zlib.error) as exc:
        raise _read_back_error(info, exc) from exc
    if not inflater.eof or inflater.unused_data or (crc, size) != (info.CRC, info.file_size):
        raise VerifyError(f"part {info.filename} of the new workbook is corrupt (its checksum "
                          "or size is not the one its header gives)")
    return True


def read_back(z: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    """Inflate a new or changed part a slice at a time: zipfile compares its CRC and size
    with those the writer computed from what it generated; XML must be well formed.

    Raises
    ------
    VerifyError
        Naming the part and what is wrong with it.
    """
    parser = expat.ParserCreate() if _is_xml_part(info.filename) else None
    try:
        for chunk in inflated_chunks(z, info, _CHUNK):
            if parser is not None:
                parser.Parse(chunk, False)
        if parser is not None:
            parser.Parse(b"", True)
    except (expat.ExpatError, zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise _read_back_error(info, exc) from exc


def _read_back_error(info: zipfile.ZipInfo, exc: Exception) -> VerifyError:
    """What reading part ``info`` back found: XML that is not well formed, or corrupt bytes."""
    if isinstance(exc, expat.ExpatError):
        return VerifyError(f"part {info.filename} of the new workbook is not well-formed XML: "
                           f"{exc}")
    return VerifyError(f"part {info.filename} of the new workbook is corrupt ({exc})")


READ_BACK_ELSEWHERE_BYTES = 16 << 20
"""Parts from which reading back in the worker pays (a result sheet of about 15,000
customers; a 100 MB sheet takes about 0.5 s to inflate and parse)."""


def _read_back_parts(z: zipfile.ZipFile, path: str | os.PathLike[str],
                     parts: list[zipfile.ZipInfo], worker: SheetWorker | None) -> None:
    """Read ``parts`` back (:func:`read_back`), the largest in ``worker`` when it pays."""
    big = max(parts, key=lambda i: i.file_size, default=None)
    if worker is None or big is None or big.file_size < READ_BACK_ELSEWHERE_BYTES:
        big = None
    else:
        worker.read_back(path, big.filename)
    for info in parts:
        if info is not big:
            read_back(z, info)
    if big is not None and not worker.read_back_ok():  # type: ignore[union-attr]
        read_back(z, big)  # a fault, or a worker that could not tell: said here


@contextlib.contextmanager
def _mapped(path: str | os.PathLike[str]) -> Iterator[mmap.mmap | bytes]:
    """The file's bytes without reading them into memory (an empty file as ``b""``)."""
    with open(path, "rb") as f:
        if os.fstat(f.fileno()).st_size == 0:
            yield b""
            return
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
            yield m


def verify_workbook(
    path: str | os.PathLike[str],
    *,
    expect_sheets: Collection[str] = (),
    unchanged_from: str | os.PathLike[str] | None = None,
    worker: SheetWorker | None = None,
) -> list[str]:
    """Check that ``path`` is a complete, readable workbook; return its sheet names.

    Checks what was written, without inflating what was copied:

    - the zip's central directory: every part's local header agrees with it and no two
      parts overlap;
    - a part whose compressed bytes, CRC and size are those of the same part of
      ``unchanged_from`` (the file it replaces) was copied byte for byte: it is compared
      with the original's compressed bytes, not inflated (it reads exactly as it did);
    - every other part (all of them when ``unchanged_from`` is ``None``) is read back:
      inflated, its CRC and size compared with those the writer computed from what it
      generated, and, when it is XML, parsed for well-formedness; a sheet part that starts
      with the compressed bytes of the part it replaces (History with a run appended) is
      parsed from the first row after them (see :func:`_read_back_after`);
    - the workbook part and its relationships resolve to parts that exist; an independent
      reader (python-calamine) opens the file and sees the same sheets; the sheets of
      ``unchanged_from`` and ``expect_sheets`` are all there.

    ``worker`` (:mod:`xlcrm.book.sheet_worker`) reads the largest part to read back while
    this process reads the others (parsing holds Python's lock); whatever it cannot vouch
    for is read back here.

    Raises
    ------
    VerifyError
        Saying what is wrong.
    """
    try:
        with contextlib.ExitStack() as stack:
            data = stack.enter_context(_mapped(path))
            z = stack.enter_context(zipfile.ZipFile(path))
            spans = _check_central_directory(z, data)
            old: dict[str, tuple[zipfile.ZipInfo, tuple[int, int]]] = {}
            old_data = None
            old_names: list[str] = []
            if unchanged_from is not None:
                old_data = stack.enter_context(_mapped(unchanged_from))
                zo = stack.enter_context(zipfile.ZipFile(unchanged_from))
                old = {i.filename: (i, _entry_span(old_data, i, check=False))
                       for i in zo.infolist()}
                old_names = workbook_sheet_names(zo)
            whole = []  # the parts to read back whole
            for info in z.infolist():
                span = spans[info.filename]
                if _copied_unchanged(info, span, data, old, old_data):
                    continue
                kept = _kept_prefix(info, span, data, old, old_data)
                if not (kept and _is_xml_part(info.filename) and
                        _read_back_after(info, data, span, kept)):
                    whole.append(info)
            _read_back_parts(z, path, whole, worker)
            names = workbook_sheet_names(z)
    except zipfile.BadZipFile as exc:
        raise VerifyError(f"the new workbook is not a valid zip file: {exc}") from exc
    except (ValueError, OSError) as exc:  # mmap of a file being replaced, a damaged header
        raise VerifyError(f"the new workbook cannot be read back: {exc}") from exc
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
    removed = clean_temps(folder, pattern, STALE_AFTER_S)
    backups = list_backups(path, folder)
    for old in backups[: max(0, len(backups) - keep)]:
        with contextlib.suppress(FileNotFoundError):
            old.unlink()
            removed.append(old)
    return removed


# --------------------------------------------------------------------------------------------
# The safe replace
#
# The race this guards against: xlcrm reads the workbook, computes, writes the new file; a
# colleague saves the workbook meanwhile (Excel saves by writing a new file and renaming it
# over the old one). A check of the content followed by a rename leaves a window in which
# their save is overwritten unseen. So the last steps are:
#
# 1. hold the version about to be replaced: a hard link to it (the backup, or a hidden
#    ``.old`` file when no backups are kept), so whatever happens next it cannot vanish;
# 2. compare the held version's content with what was read (``expected_stamp``);
# 3. swap the new file and the workbook in one atomic step (Linux renameat2 with
#    RENAME_EXCHANGE, macOS renamex_np with RENAME_SWAP): afterwards the temporary name holds
#    exactly the file that was replaced, so xlcrm knows whether it was the held one;
# 4. when it was not (a colleague's save landed between 2 and 3), swap back: the workbook
#    holds their version again and the run reports that its results were not written; a
#    version that cannot be put back is kept in the backup folder, and the message names it.
#
# Where no atomic swap exists (Windows, network drives), step 3 is a final identity check and
# os.replace; the window is then that between a stat and a rename, and on Windows Excel's
# open file refuses the replace anyway. An exclusive lock (flock) on the workbook keeps two
# xlcrm runs from interleaving these steps.


# Called with the workbook's path just before the atomic swap; tests set it to land a
# "colleague's" save in the window (a deterministic reproduction of the race).
BEFORE_SWAP: Callable[[Path], None] | None = None

_RENAME_EXCHANGE = 2  # linux/fs.h
_RENAME_SWAP = 2  # macOS sys/stdio.h
_AT_FDCWD = -100


def _changed_message(path: Path) -> InputError:
    return InputError(
        f"the workbook {path.name} changed on disk after xlcrm read it (someone saved it in "
        f"the meantime), so writing now would throw their changes away",
        fix="Run again: xlcrm will read the current version. Nothing was written.",
    )


def _exchange(a: Path, b: Path) -> bool:
    """Swap the files at ``a`` and ``b`` atomically; ``False`` where the system cannot."""
    import ctypes
    import errno

    if not (sys.platform.startswith("linux") or sys.platform == "darwin"):
        return False  # Windows: no atomic swap of two names (see the comment above)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except (OSError, TypeError):
        return False
    fa, fb = os.fsencode(a), os.fsencode(b)
    if sys.platform.startswith("linux") and hasattr(libc, "renameat2"):
        rc = libc.renameat2(_AT_FDCWD, fa, _AT_FDCWD, fb, _RENAME_EXCHANGE)
    elif sys.platform == "darwin" and hasattr(libc, "renamex_np"):
        rc = libc.renamex_np(fa, fb, _RENAME_SWAP)
    else:
        return False
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False  # this file system cannot swap (NFS, SMB, old kernels)
    raise OSError(err, os.strerror(err), os.fspath(b))


@contextlib.contextmanager
def _exclusive(target: Path):
    """Hold an exclusive advisory lock on ``target`` (POSIX flock), refusing when taken."""
    try:
        import fcntl
    except ImportError:  # Windows: Excel's own share lock makes the replace fail instead
        yield
        return
    with open(target, "rb") as f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InputError(
                f"another program (perhaps another xlcrm run) is writing {target.name} right "
                "now, so it cannot be replaced",
                fix="Wait until that run has finished, then run again. Nothing was written.",
            ) from None
        except OSError:
            pass  # a file system without locks (some network drives): the checks still run
        yield


def _identity(st: os.stat_result) -> tuple[int, int, int, int]:
    """What tells one version of a file from another without reading it."""
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


@dataclass
class _Held:
    """The version of the workbook about to be replaced, pinned so it cannot be lost."""

    path: Path | None  # a hard link or copy of it (None: no link possible and no backup)
    identity: tuple[int, int, int, int]  # the workbook's identity when it was pinned
    is_backup: bool


def _hold(target: Path, backup_folder: Path | None) -> _Held:
    """Pin the current version of ``target``: as a backup, or as a hidden hard link."""
    if backup_folder is not None:
        before = _identity(os.stat(target))
        path = _make_backup(target, backup_folder)
        if os.path.samefile(path, target):
            before = _identity(os.stat(path))
        elif _identity(os.stat(target)) != before:  # a copy, and it changed while copying
            with contextlib.suppress(OSError):
                path.unlink()
            raise _changed_message(target)
        return _Held(path, before, True)
    link = target.parent / temp_name(target.name, os.getpid()).replace(".tmp", ".old")
    with contextlib.suppress(FileNotFoundError):
        link.unlink()
    try:
        os.link(target, link)
    except OSError:
        return _Held(None, _identity(os.stat(target)), False)
    return _Held(link, _identity(os.stat(link)), False)


def _release(held: _Held | None, *, keep_backup: bool) -> None:
    if held is None or held.path is None or (held.is_backup and keep_backup):
        return
    with contextlib.suppress(OSError):
        held.path.unlink()


def _keep_foreign(path: Path, target: Path, backup_dir: Path) -> Path:
    """Move a displaced version that is not xlcrm's into the backup folder; its new path."""
    backup_dir.mkdir(exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    n = 0
    while True:
        # Not matched by the backup pattern, so pruning never deletes it.
        kept = backup_dir / f"{target.stem}.{stamp}{f'-{n}' if n else ''}.kept{target.suffix}"
        try:
            os.link(path, kept)
            break
        except FileExistsError:
            n += 1
        except OSError:
            shutil.copy2(path, kept)
            break
    with contextlib.suppress(OSError):
        path.unlink()
    _fsync_dir(backup_dir)
    return kept


def _swap_in(tmp: Path, target: Path, held: _Held, backup_dir: Path) -> None:
    """Replace ``target`` by ``tmp`` unless a save landed since ``held`` was pinned.

    Raises
    ------
    InputError
        When another save landed: its version is back in the workbook (or, failing that,
        kept in ``backup_dir``), and the message says where.
    """
    ours = _identity(os.stat(tmp))
    if BEFORE_SWAP is not None:
        BEFORE_SWAP(target)
    if not _exchange(tmp, target):
        if _identity(os.stat(target)) != held.identity:
            raise _changed_message(target)
        os.replace(tmp, target)
        return
    # tmp now holds exactly what the workbook was an instant ago.
    if _identity(os.stat(tmp)) == held.identity:
        with contextlib.suppress(OSError):
            tmp.unlink()
        return
    # A colleague's save landed in between: put it back, keep whatever we displace again.
    _exchange(tmp, target)
    kept: Path | None = None
    if _identity(os.stat(tmp)) != ours:  # yet another save landed: keep it too
        kept = _keep_foreign(tmp, target, backup_dir)
    with contextlib.suppress(OSError):
        tmp.unlink()
    _fsync_dir(target.parent)
    where = f"; the version it displaced is kept as {kept}" if kept else ""
    raise InputError(
        f"someone saved {target.name} while xlcrm was replacing it: their version is kept in "
        f"the workbook and xlcrm's results were not written{where}",
        fix="Run again: xlcrm will read their version.",
    )


def _install_new(tmp: Path, target: Path) -> None:
    """Put ``tmp`` at ``target``, which did not exist, without overwriting one made since."""
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise InputError(
            f"{target.name} was created by someone else while xlcrm was writing it, so it was "
            "not overwritten",
            fix="Check that file, then run again. Nothing was written.",
        ) from None
    except OSError:
        os.replace(tmp, target)  # no hard links here (FAT, some network drives)
        return
    tmp.unlink()


def safe_replace(
    path: str | os.PathLike[str],
    write_fn: Callable[[Path], None],
    *,
    backups: int = 3,
    expected_stamp: FileStamp | None = None,
    backup_dir: str | os.PathLike[str] | None = None,
    expect_sheets: Collection[str] = (),
    verify: bool = True,
    worker: SheetWorker | None = None,
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
        beyond this count are deleted. The backup is of the version actually replaced.
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
    worker : SheetWorker, optional
        A second process that shares the check's reading back (see :func:`verify_workbook`).

    Returns
    -------
    SaveReport

    Raises
    ------
    InputError
        While the workbook is open in Excel or LibreOffice or locked by another run, when it
        changed since it was read (also when a save lands during the replace: see the
        comment above), or when the operating system refuses the replace (file locked).
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
    # A first look before the work of writing (the decisive one comes after the backup).
    if expected_stamp is not None and not FileStamp.of(target).same_content(expected_stamp):
        raise _changed_message(target)
    bdir = Path(backup_dir) if backup_dir is not None else folder / BACKUP_DIR

    tmp = folder / temp_name(target.name, os.getpid())
    held: _Held | None = None
    done = False
    try:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        write_fn(tmp)
        if not tmp.is_file():
            raise VerifyError(f"the writer did not create {tmp.name}")
        if verify:
            verify_workbook(
                tmp, expect_sheets=expect_sheets, unchanged_from=target if exists else None,
                worker=worker,
            )
        if exists:
            # Same permission bits as the workbook it replaces (temp files start private).
            os.chmod(tmp, os.stat(target).st_mode & 0o7777)
        _fsync_file(tmp)
        if not exists:
            _install_new(tmp, target)
        else:
            with _exclusive(target):
                check_not_open(target)
                held = _hold(target, bdir if backups > 0 else None)
                if expected_stamp is not None and held.path is not None and not FileStamp.of(
                    held.path
                ).same_content(expected_stamp):
                    raise _changed_message(target)
                try:
                    _swap_in(tmp, target, held, bdir)
                except PermissionError as exc:
                    raise InputError(
                        f"the operating system refused to replace {target.name} "
                        f"({exc.strerror}); it is probably open in another program",
                        fix="Close the workbook everywhere it is open, then run again.",
                    ) from exc
        _fsync_dir(folder)
        done = True
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
        _release(held, keep_backup=done)
    backup = held.path if held is not None and held.is_backup else None
    if backup is not None:
        removed += _prune_backups(target, backup.parent, backups)
    return SaveReport(target, backup, FileStamp.of(target), tuple(removed))
