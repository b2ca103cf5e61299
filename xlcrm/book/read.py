"""Read ledger and settings sheets from a workbook file, fast, keeping text as typed.

Cells are read with python-calamine (about ten times faster than openpyxl on a large
ledger). A workbook is read from one snapshot of its bytes, whose :class:`FileStamp` a
later save compares against, so results are never written over a version that xlcrm did
not read. :func:`open_workbook` reads the file once for several sheets; :func:`read_sheet`,
:func:`read_grid` and :func:`sheet_names` are one-call shortcuts.

Conventions of a :class:`SheetTable`:

- the frame's index holds the 1-based Excel row number of each row, and
  :attr:`SheetTable.columns` the 0-based column of each header, so a problem can name
  its cell (:meth:`SheetTable.address`);
- rows whose cells under the headers are all blank are dropped (trailing ones and any
  in between; the index keeps the true row numbers);
- a column whose cells are all numbers is ``float64`` (blank: ``NaN``); all dates is
  ``datetime64`` (blank: ``NaT``); anything else is ``object`` holding the cell values as
  read (str, float, bool, datetime, time), blank: ``None``; so a text in a numeric column
  stays visible to validation instead of turning into ``NaN``;
- a column named in ``text_columns`` holds text exactly as shown for numbers typed
  without a format: ``1001`` (stored by Excel as the number 1001.0) becomes ``"1001"``,
  ``"00123"`` typed as text stays ``"00123"``, ``12.5`` becomes ``"12.5"``.
  A number displayed with leading zeros by a number format (``00000``) is stored as a
  plain number; its text is the number without the zeros.
- text is never stripped or otherwise changed (header names are stripped).
"""

from __future__ import annotations

import contextlib
import io
import os
import posixpath
import re
import threading
import zipfile
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote
from xml.etree import ElementTree

import python_calamine

from xlcrm.book.package import PartScans, check_package
from xlcrm.book.sliced_read import slice_count, sliced_rows
from xlcrm.book.stamp import FileStamp

# re-exported: rows to tables lives in xlcrm.book.tables, shared with the open-workbook reader
from xlcrm.book.tables import SheetTable, as_text, table_from_rows  # noqa: F401
from xlcrm.book.temps import clean_stale_temps
from xlcrm.errors import InputError, column_index, column_letter

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"

NS_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
NS_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
NS_PKG_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
NS_STRICT_MAIN = "http://purl.oclc.org/ooxml/spreadsheetml/main"
REL_OFFICE_DOCUMENT = NS_R + "/officeDocument"
REL_WORKSHEET = NS_R + "/worksheet"

EXCEL_MAX_ROWS = 1_048_576
EXCEL_MAX_COLS = 16_384
# A sheet whose values span more cells than this (from A1) is refused rather than read: a full
# 1 048 576-row ledger with 40 columns fits (and takes several GB); a stray value in
# XFD1048576 does not.
MAX_GRID_CELLS = 50_000_000

Cell = str | float | int | bool | datetime | date | time | timedelta | None


# --------------------------------------------------------------------------------------------
# The package structure (Open Packaging Conventions), shared with the writer


def rels_part(part: str) -> str:
    """Name of the relationships part of ``part`` (``""``: the package's own ``_rels/.rels``)."""
    folder, name = posixpath.split(part)
    return posixpath.join(folder, "_rels", f"{name}.rels")


def resolve_target(source_part: str, target: str) -> str:
    """Zip name of a relationship target, relative to ``source_part``'s folder."""
    target = unquote(target)
    if target.startswith("/"):
        return posixpath.normpath(target.lstrip("/"))
    base = posixpath.dirname(source_part)
    return posixpath.normpath(posixpath.join(base, target))


@dataclass(frozen=True)
class Relationship:
    """One relationship of a part: id, type URI, and its target (a zip name unless external)."""

    id: str
    type: str
    target: str
    external: bool = False


class Package:
    """The zip names of a workbook and how its parts refer to each other.

    Zip names are matched case-insensitively (part names are case-insensitive in OPC).
    """

    def __init__(self, z: zipfile.ZipFile) -> None:
        self.zip = z
        self.names = {info.filename.lower(): info.filename for info in z.infolist()}

    def find(self, part: str) -> str | None:
        """The zip member name of ``part``, or ``None`` when the package lacks it."""
        return self.names.get(part.lower())

    def read(self, part: str) -> bytes:
        """Bytes of ``part``; ``KeyError`` when absent."""
        name = self.find(part)
        if name is None:
            raise KeyError(part)
        return self.zip.read(name)

    def rels(self, part: str) -> list[Relationship]:
        """Relationships of ``part`` (``""`` for the package), empty when it has none."""
        name = self.find(rels_part(part))
        if name is None:
            return []
        root = ElementTree.fromstring(self.zip.read(name))
        out = []
        for el in root:
            if not el.tag.endswith("Relationship"):
                continue
            external = el.get("TargetMode") == "External"
            target = el.get("Target", "")
            out.append(
                Relationship(
                    el.get("Id", ""),
                    el.get("Type", ""),
                    target if external else resolve_target(part, target),
                    external,
                )
            )
        return out

    def workbook_part(self) -> str:
        """Zip name of the workbook part (``xl/workbook.xml`` in files Excel writes)."""
        for rel in self.rels(""):
            if rel.type.endswith("/officeDocument") and not rel.external:
                found = self.find(rel.target)
                if found is not None:
                    return found
        raise KeyError("officeDocument relationship (the workbook part)")

    def sheets(self) -> list[SheetEntry]:
        """The workbook's sheets in tab order."""
        wb_part = self.workbook_part()
        root = ElementTree.fromstring(self.read(wb_part))
        if root.tag == f"{{{NS_STRICT_MAIN}}}workbook":
            raise InputError(
                "the workbook is saved in the Strict Open XML format, which xlcrm cannot write",
                fix="In Excel: File > Save As > Excel Macro-Enabled Workbook (*.xlsm), "
                "then run again.",
            )
        rels = {r.id: r for r in self.rels(wb_part)}
        out = []
        sheets_el = root.find(f"{{{NS_MAIN}}}sheets")
        for el in sheets_el if sheets_el is not None else []:
            rid = el.get(f"{{{NS_R}}}id", "")
            rel = rels.get(rid)
            part = None if rel is None or rel.external else self.find(rel.target)
            kind = rel.type.rsplit("/", 1)[-1] if rel is not None else ""
            out.append(
                SheetEntry(
                    name=el.get("name", ""),
                    sheet_id=int(el.get("sheetId", "0")),
                    rid=rid,
                    part=part,
                    kind=kind,
                    state=el.get("state", "visible"),
                )
            )
        return out


@dataclass(frozen=True)
class SheetEntry:
    """A ``<sheet>`` of the workbook part: its name, id, relationship and zip part."""

    name: str
    sheet_id: int
    rid: str
    part: str | None
    kind: str  # "worksheet", "chartsheet", "dialogsheet", "xlMacrosheet", ...
    state: str = "visible"


def sheet_parts(data: bytes) -> dict[str, str]:
    """Sheet name -> zip part name of each worksheet in the workbook ``data``."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {s.name: s.part for s in Package(z).sheets() if s.part is not None}


def workbook_sheet_names(z: zipfile.ZipFile) -> list[str]:
    """Sheet names of an open workbook zip, in tab order."""
    return [s.name for s in Package(z).sheets()]


# --------------------------------------------------------------------------------------------
# Sheet tables


@dataclass(frozen=True)
class TableRange:
    """Where an Excel Table (ListObject) sits.

    Rows are 1-based Excel rows, columns 0-based. ``ref`` is the table's A1 range
    including its header row.
    """

    name: str
    sheet: str
    columns: tuple[str, ...]
    header_row: int
    first_row: int
    last_row: int
    first_col: int
    last_col: int

    @property
    def ref(self) -> str:
        """The table's range in A1 style, header included (``A1:T101``)."""
        return (
            f"{column_letter(self.first_col)}{self.header_row}:"
            f"{column_letter(self.last_col)}{self.last_row}"
        )


# --------------------------------------------------------------------------------------------
# Opening a workbook

_ERROR_CELL = re.compile(
    rb'<(?:\w+:)?c\b([^>]*?\bt="e"[^>]*)(?<!/)>(.*?)</(?:\w+:)?c>', re.S)
_CELL_REF = re.compile(rb'\br="([A-Z]{1,3})(\d+)"')
_VALUE = re.compile(rb"<(?:\w+:)?v>([^<]*)</(?:\w+:)?v>")
# A cell element that is not self-closing, i.e. holds a value, inline text or a formula.
_VALUED_CELL = re.compile(rb'<(?:\w+:)?c\b[^>]*?\br="([A-Z]{1,3})(\d+)"[^>]*?(?<!/)>')


_A1_RANGE = re.compile(r"\$?([A-Za-z]{1,3})\$?(\d+)(?::\$?([A-Za-z]{1,3})\$?(\d+))?")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _table_part(xml: bytes, sheet: str) -> TableRange | None:
    """The range and columns a table part (``xl/tables/table1.xml``) states.

    Rows as calamine gave them before: the header row is the range's first row, or the row
    above it when the part says the table has no header row; a totals row is not data.
    ``None`` for a part without a name or a range, which Excel itself would repair away.
    """
    try:
        root = ElementTree.fromstring(xml)
    except ElementTree.ParseError:
        return None
    name = root.get("displayName") or root.get("name")
    m = _A1_RANGE.fullmatch(root.get("ref") or "")
    if _local(root.tag) != "table" or not name or not m:
        return None
    top, left = int(m.group(2)), column_index(m.group(1).upper())
    bottom = int(m.group(4) or top)
    right = column_index(m.group(3).upper()) if m.group(3) else left
    header = 0 if root.get("headerRowCount") == "0" else 1
    totals = root.get("totalsRowCount") or "0"
    totals_rows = int(totals) if totals.isdigit() else 0
    columns = tuple(el.get("name") or "" for el in root.iter() if _local(el.tag) == "tableColumn")
    header_row = top - 1 + header
    return TableRange(name=name, sheet=sheet, columns=columns, header_row=header_row,
                      first_row=header_row + 1,
                      last_row=max(bottom - totals_rows, header_row + 1),
                      first_col=left, last_col=right)


def _one_line(exc: BaseException, limit: int = 200) -> str:
    """A library's error message as one short line (some span lines or echo whole parts)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _is_encrypted_ole(data: bytes) -> bool:
    """Whether an OLE compound file is an encrypted Office Open XML package."""
    try:
        import olefile
    except ImportError:  # pragma: no cover - olefile comes with oletools, not always installed
        # The directory holds stream names in UTF-16LE.
        return "EncryptionInfo".encode("utf-16-le") in data
    try:
        with olefile.OleFileIO(io.BytesIO(data)) as ole:
            return ole.exists("EncryptionInfo") and ole.exists("EncryptedPackage")
    except Exception:  # olefile's errors for a damaged compound file have several types
        return False


def _protected_error(name: str) -> InputError:
    return InputError(
        f"the workbook {name} is password-protected (encrypted), so xlcrm cannot read it",
        fix=(
            "Save an unprotected copy (in Excel: File > Info > Protect Workbook > Encrypt "
            "with Password, clear the password, save) and run xlcrm on that copy."
        ),
    )


def _decrypt(data: bytes, password: str, name: str) -> bytes:
    try:
        import msoffcrypto
        import msoffcrypto.exceptions
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise InputError(
            f"the workbook {name} is password-protected and the package that opens such "
            "files (msoffcrypto-tool) is not installed",
            fix="Install it (pip install msoffcrypto-tool) or save an unprotected copy.",
        ) from exc
    office = msoffcrypto.OfficeFile(io.BytesIO(data))
    out = io.BytesIO()
    try:
        office.load_key(password=password)
        office.decrypt(out)
    except (msoffcrypto.exceptions.InvalidKeyError, msoffcrypto.exceptions.DecryptionError) as exc:
        raise InputError(
            f"the password does not open the workbook {name}",
            fix="Check the password (it is case-sensitive), or save an unprotected copy.",
        ) from exc
    return out.getvalue()


def _read_snapshot(path: Path) -> tuple[bytes, FileStamp]:
    """The file's bytes and their stamp, from one consistent read."""
    for _ in range(5):
        with open(path, "rb") as f:
            before = os.fstat(f.fileno())
            data = f.read()
            after = os.fstat(f.fileno())
        same = (before.st_size, before.st_mtime_ns) == (after.st_size, after.st_mtime_ns)
        if same and len(data) == after.st_size:
            return data, FileStamp.of_bytes(data, after)
    raise InputError(
        f"the workbook {path.name} keeps changing while xlcrm reads it",
        fix="Wait until it is saved (close it in Excel), then run again.",
    )


class _Opening:
    """calamine opening a workbook's bytes, in a thread from :meth:`start` on (or in the
    caller's when :meth:`result` is asked first)."""

    def __init__(self, content: bytes) -> None:
        self._content = content
        self._thread: threading.Thread | None = None
        self._book: python_calamine.CalamineWorkbook | None = None
        self._error: BaseException | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._open, daemon=True)
        self._thread.start()

    def _open(self) -> None:
        try:
            self._book = python_calamine.CalamineWorkbook.from_filelike(
                io.BytesIO(self._content))
        except BaseException as exc:  # raised in the caller's thread, by result()
            self._error = exc

    def result(self) -> python_calamine.CalamineWorkbook:
        """The opened workbook; raises what calamine raised."""
        if self._thread is None:
            self._open()
        else:
            self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._book is not None
        return self._book

    def abandon(self) -> None:
        """Wait for an opening started and close what it opened (the file was refused)."""
        if self._thread is not None:
            self._thread.join()
            if self._book is not None:
                with contextlib.suppress(python_calamine.WorkbookClosed):
                    self._book.close()


class Workbook:
    """One read of a workbook file: its bytes, their stamp, and fast access to its sheets.

    Parameters
    ----------
    path : path-like
        An ``.xlsx``/``.xlsm`` workbook (``.xls``/``.xlsb``/``.ods`` can be read too, but
        xlcrm writes only the first two).
    password : str or None
        Password of an encrypted workbook (opened in memory; nothing decrypted is written).
    overwritten : collection of str
        Sheets the caller will replace without reading their cells (a run's result sheets):
        the package check leaves their parts to the writer (see
        :func:`~xlcrm.book.package.check_package`).
    check_later : collection of str
        Sheets the caller reads last: their parts are checked in a thread while it reads
        the others; reading one waits for its check, and :meth:`wait_checked` for all.
    read_first : collection of str
        Sheets the caller reads first (the ledger): a large one's XML, inflated by the
        package check anyway, is kept for reading it in slices (:mod:`.sliced_read`).

    Raises
    ------
    InputError
        When the file does not exist, is not a workbook, or is encrypted and no (or a
        wrong) password was given.
    """

    def __init__(self, path: str | os.PathLike[str], *, password: str | None = None,
                 overwritten: Collection[str] = (), check_later: Collection[str] = (),
                 read_first: Collection[str] = ()) -> None:
        self.path = Path(path)
        try:
            self.data, self.stamp = _read_snapshot(self.path)
        except FileNotFoundError as exc:
            raise InputError(
                f"there is no file {self.path}",
                fix="Check the file name and folder (use quotes around names with spaces).",
            ) from exc
        except IsADirectoryError as exc:
            raise InputError(f"{self.path} is a folder, not a workbook file",
                             fix="Give the path of the .xlsm file.") from exc
        except PermissionError as exc:
            raise InputError(
                f"xlcrm is not allowed to read {self.path}",
                fix="Check that your user may open the file and its folder (or that no program "
                "holds it locked), then run again.",
            ) from exc
        except OSError as exc:
            raise InputError(f"{self.path} cannot be read ({exc.strerror or exc})",
                             fix="Check the drive or network share, then run again.") from exc
        # Temporary files of an earlier run that was killed mid-save: workbook-sized, useless.
        with contextlib.suppress(OSError):
            clean_stale_temps(self.path)
        name = self.path.name
        self.encrypted = False
        content = self.data
        if self.data[:8] == OLE_MAGIC:
            if _is_encrypted_ole(self.data):
                self.encrypted = True
                if password is None:
                    raise _protected_error(name)
                content = _decrypt(self.data, password, name)
        elif self.data[:4] != ZIP_MAGIC:
            raise InputError(
                f"{name} is not an Excel workbook (it is neither an .xlsx/.xlsm zip file nor "
                "an Excel 97-2003 file)",
                fix="Give the path of the workbook (.xlsm), or save the file from Excel as a "
                "macro-enabled workbook.",
            )
        self._content = content
        self._pkg: Package | None = None
        self._scans = PartScans({})
        self._table_ranges: dict[str, TableRange] | None = None
        opening = _Opening(content)
        if content[:4] == ZIP_MAGIC:
            # Before any part is parsed: sizes (zip bombs), checksums, DTDs, structure.
            # calamine opens the workbook (its workbook-level parts, about 0.1 s at 100,000
            # customers, without Python's lock) once those have passed, while the sheets'
            # parts are checked.
            try:
                self._scans = check_package(content, name, overwritten=overwritten,
                                            later=check_later, keep=read_first,
                                            book_parts_checked=opening.start)
            except BaseException:
                opening.abandon()
                raise
        try:
            self._book: python_calamine.CalamineWorkbook | None = opening.result()
        except python_calamine.PasswordError as exc:
            raise _protected_error(name) from exc
        except Exception as exc:  # calamine's errors for damaged files have several types
            raise InputError(
                f"{name} cannot be read as a workbook ({_one_line(exc)})",
                fix="Open it in Excel and save it again; if Excel cannot open it either, "
                "restore it from a backup (xlcrm keeps them in .xlcrm-backups beside it).",
            ) from exc
        self.sheet_names: list[str] = list(self._book.sheet_names)

    def fork(self) -> Workbook:
        """Another reader of the same bytes, for a second thread: its own calamine workbook
        (calamine reads a sheet without holding Python's lock, so two sheets read in two
        threads take about half the time on two cores; opened when a sheet is first read)
        and its own zip, the checks shared."""
        other = object.__new__(Workbook)
        other.__dict__.update(self.__dict__)
        other._pkg = None
        other._table_ranges = None
        # Made when a sheet is first read through it: calamine copies the whole file (0.13 s
        # at 100,000 customers), which History's scan of its own part never needs.
        other._book = None
        return other

    def wait_checked(self) -> None:
        """Wait for the parts checked in a thread (``check_later``); raise what they hide.

        Raises
        ------
        InputError
            The first of those parts that is damaged or hostile, as the package check says.
        """
        self._scans.wait()

    def __enter__(self) -> Workbook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the reader (the bytes stay available)."""
        if self._book is not None:
            with contextlib.suppress(python_calamine.WorkbookClosed):
                self._book.close()

    def sheet_name(self, sheet: str) -> str:
        """The workbook's spelling of ``sheet`` (matched ignoring case, as Excel does).

        Raises
        ------
        InputError
            Naming the sheets the workbook has.
        """
        for name in self.sheet_names:
            if name == sheet:
                return name
        folded = sheet.casefold()
        for name in self.sheet_names:
            if name.casefold() == folded:
                return name
        present = ", ".join(self.sheet_names) or "none"
        raise InputError(
            f"the workbook {self.path.name} has no sheet named {sheet!r} (its sheets: {present})",
            fix=f"Add a sheet named {sheet} (copy it from the xlcrm template), or rename the "
            "sheet that holds this data.",
            sheet=sheet,
        )

    def _package(self) -> Package | None:
        if self._content[:4] != ZIP_MAGIC:
            return None
        if self._pkg is None:
            self._pkg = Package(zipfile.ZipFile(io.BytesIO(self._content)))
        return self._pkg

    def _check_extent(self, name: str) -> None:
        """Refuse a sheet whose values reach absurdly far, before calamine allocates its grid.

        calamine holds a sheet as one dense grid from its first to its last value; a stray
        value in XFD1048576 would ask for terabytes and abort the process.
        """
        pkg = self._package()
        part = self._sheet_part(name)
        if pkg is None or part is None:
            return  # calamine reports what is wrong with such a workbook
        # The <dimension> element is not trusted: a hostile (or merely careless) writer can
        # state A1 and put a value in XFD1048576. The package check bounded the grid from
        # every reference in the part (and its size, so reading it whole is bounded too).
        scan = self._scans.get(part.lower())
        if scan is not None and scan.cells <= MAX_GRID_CELLS:
            return
        data = pkg.zip.read(part)
        # Find the farthest cells that hold something.
        far_row = far_col = (0, 0, "A1")
        for m in _VALUED_CELL.finditer(data):
            letters, digits = m.groups()
            if len(digits) > 9:  # calamine reads A0005 as A5; int() refuses 4,300 digits
                digits = digits.lstrip(b"0") or b"0"
                if len(digits) > 12:  # beyond any grid
                    raise InputError(
                        f"sheet {name} of {self.path.name} has a cell whose row number has "
                        f"{len(digits):,} digits ({letters.decode()}{digits[:6].decode()}...), "
                        f"far beyond the last row of any sheet ({EXCEL_MAX_ROWS:,})",
                        fix="Open the workbook in Excel (it offers to repair it) and save it "
                        "again, or restore a backup from .xlcrm-backups beside it.",
                        sheet=name,
                    )
            row, col = int(digits), column_index(letters) + 1
            if row > far_row[0]:
                far_row = (row, col, f"{letters.decode()}{row}")
            if col > far_col[1]:
                far_col = (row, col, f"{letters.decode()}{row}")
        if far_row[0] * far_col[1] > MAX_GRID_CELLS:
            cells = " and ".join(dict.fromkeys([far_row[2], far_col[2]]))
            raise InputError(
                f"sheet {name} of {self.path.name} has something in {cells}, far outside any "
                "table, which would "
                f"make xlcrm read {far_row[0] * far_col[1]:,} cells",
                fix=f"Delete the content of {cells} (Ctrl+End in Excel goes to the last used "
                "cell), save, and run again.",
                sheet=name,
                cell=far_row[2],
            )

    def rows(self, sheet: str) -> list[list[Any]]:
        """Raw cell values from A1 to the last used cell (``""`` for blank), as calamine reads.

        Raises
        ------
        InputError
            When a stray value far outside the data would make the grid absurdly large.
        """
        name = self.sheet_name(sheet)
        self._check_extent(name)
        sliced = self._sliced_rows(name)
        if sliced is not None:
            return sliced
        if self._book is None:  # a fork's reader (see fork)
            self._book = _Opening(self._content).result()
        try:
            return self._book.get_sheet_by_name(name).to_python(skip_empty_area=False)
        except Exception as exc:  # calamine's errors for a damaged sheet have several types
            raise InputError(
                f"sheet {name} of {self.path.name} cannot be read ({_one_line(exc)})",
                fix="Open the workbook in Excel (it offers to repair it) and save it again, "
                "or restore a backup from .xlcrm-backups beside it.",
                sheet=name,
            ) from exc

    def sheet_bytes(self, sheet: str) -> int:
        """The size of the sheet's XML as the zip declares it (0 when it cannot tell)."""
        part = self._sheet_part(self.sheet_name(sheet))
        pkg = self._package()
        return 0 if part is None or pkg is None else pkg.zip.getinfo(part).file_size

    def _sheet_part(self, name: str) -> str | None:
        """The zip part of sheet ``name`` (spelt as the workbook spells it); ``None`` when the
        file is not a zip or the workbook part does not say (calamine reports why)."""
        pkg = self._package()
        if pkg is None:
            return None
        try:
            return next(e.part for e in pkg.sheets() if e.name == name)
        except (StopIteration, KeyError, ElementTree.ParseError):
            return None

    def _sliced_rows(self, name: str) -> list[list[Any]] | None:
        """A large sheet's rows read in slices on several cores (:mod:`.sliced_read`), or
        ``None`` (then read whole)."""
        part, pkg = self._sheet_part(name), self._package()
        if part is None or pkg is None:
            return None
        xml = self._scans.take_xml(part.lower())  # (let go even when not sliced after all)
        z = pkg.zip
        slices = slice_count(z.getinfo(part).file_size)
        return sliced_rows(z, self._content, part, name, slices, xml) if slices > 1 else None

    def read_grid(self, sheet: str) -> list[list[Any]]:
        """Cell values from A1, as xlwings hands them over: ``None`` for blank cells.

        Numbers are floats and dates datetimes (as Excel and xlwings give them).
        """
        out = []
        for row in self.rows(sheet):
            out.append([
                None if v == "" else (
                    datetime(v.year, v.month, v.day)
                    if type(v) is date else v
                )
                for v in row
            ])
        return out

    def read_sheet(
        self, sheet: str, *, header_row: int = 1, text_columns: Collection[str] = ()
    ) -> SheetTable:
        """The table on ``sheet`` whose headers are in ``header_row`` (see the module doc)."""
        name = self.sheet_name(sheet)
        return table_from_rows(
            name, self.rows(name), header_row=header_row, text_columns=text_columns
        )

    def error_cells(self, sheet: str) -> dict[tuple[int, int], str]:
        """Cells of ``sheet`` holding an Excel error value (``#N/A``, ``#DIV/0!`` ...).

        calamine reads them as blank; xlcrm names them instead. Keys are (1-based row,
        0-based column), values the error text as Excel shows it.
        """
        pkg = self._package()
        name = self.sheet_name(sheet)
        entry = next((e for e in pkg.sheets() if e.name == name), None) if pkg else None
        if entry is None or entry.part is None:
            return {}
        scan = self._scans.get(entry.part.lower())
        if scan is not None and not scan.errors:
            return {}  # the package check saw no error cell: no need to inflate it again
        data = pkg.zip.read(entry.part)
        if b't="e"' not in data:
            return {}  # the common case, at the cost of one byte search
        out = {}
        for m in _ERROR_CELL.finditer(data):
            ref = _CELL_REF.search(m.group(1))
            value = _VALUE.search(m.group(2))
            if ref and value:
                out[(int(ref.group(2)), column_index(ref.group(1)))] = value.group(1).decode(
                    "utf-8", "replace")
        return out

    def ledger_table(self, sheet: str, key: str) -> TableRange | None:
        """The Excel Table on ``sheet`` that holds the ledger (its columns include ``key``).

        The template's ``tbl<Sheet>`` is preferred; otherwise the topmost such table. ``None``
        when the sheet has no table with that column (a plain range is read whole).
        """
        name = self.sheet_name(sheet)
        found = []
        for table in self.table_names:
            tr = self.table_range(table)
            if tr.sheet == name and key in tr.columns:
                found.append(tr)
        preferred = [t for t in found if t.name.casefold() == f"tbl{name}".casefold()]
        return (preferred or sorted(found, key=lambda t: t.header_row) or [None])[0]

    @property
    def table_names(self) -> list[str]:
        """Names of the Excel Tables (ListObjects) in the workbook (none in an ``.xls``)."""
        return list(self._tables())

    def _tables(self) -> dict[str, TableRange]:
        """Every Excel Table of the workbook by name, read from the table parts once.

        A table part is a few hundred bytes naming its range and columns, so this costs
        nothing beside the sheets (calamine's ``get_table_by_name`` parses the table's whole
        sheet to find it: 0.27 s a table at 100,000 customers).
        """
        if self._table_ranges is None:
            pkg = self._package()
            found: dict[str, TableRange] = {}
            for entry in pkg.sheets() if pkg is not None else []:
                if entry.kind != "worksheet" or entry.part is None:
                    continue
                for rel in pkg.rels(entry.part):
                    part = None if rel.external else pkg.find(rel.target)
                    if rel.type.endswith("/table") and part and part.lower().endswith(".xml"):
                        table = _table_part(pkg.read(part), entry.name)
                        if table is not None:
                            found.setdefault(table.name, table)
            self._table_ranges = found
        return self._table_ranges

    def table_range(self, table_name: str) -> TableRange:
        """Where the Excel Table ``table_name`` (matched ignoring case) sits.

        Raises
        ------
        InputError
            When there is no such table.
        """
        tables = self._tables()
        match = next((n for n in tables if n.casefold() == table_name.casefold()), None)
        if match is None:
            raise InputError(
                f"the workbook {self.path.name} has no Excel Table named {table_name!r} "
                f"(its tables: {', '.join(tables) or 'none'})",
                fix="Format the range as a table (Home > Format as Table) and name it "
                f"{table_name} (Table Design > Table Name).",
            )
        return tables[match]

    def read_table(self, table_name: str, *, text_columns: Collection[str] = ()) -> SheetTable:
        """The rows of the Excel Table ``table_name`` (only the table's range is read)."""
        tr = self.table_range(table_name)
        return table_from_rows(
            tr.sheet,
            self.rows(tr.sheet),
            header_row=tr.header_row,
            first_col=tr.first_col,
            last_col=tr.last_col,
            last_row=tr.last_row,
            text_columns=text_columns,
        )


def open_workbook(path: str | os.PathLike[str], *, password: str | None = None,
                  overwritten: Collection[str] = (), check_later: Collection[str] = (),
                  read_first: Collection[str] = ()) -> Workbook:
    """Read ``path`` once; see :class:`Workbook`."""
    return Workbook(path, password=password, overwritten=overwritten,
                    check_later=check_later, read_first=read_first)


def read_sheet(
    path: str | os.PathLike[str],
    sheet: str,
    *,
    header_row: int = 1,
    text_columns: Collection[str] = (),
    password: str | None = None,
) -> SheetTable:
    """The table on ``sheet`` of the workbook at ``path`` (see the module doc).

    Raises
    ------
    InputError
        When the file is not a readable workbook, is encrypted, lacks the sheet, or has two
        columns with the same header.
    """
    with Workbook(path, password=password) as wb:
        return wb.read_sheet(sheet, header_row=header_row, text_columns=text_columns)


def read_grid(
    path: str | os.PathLike[str], sheet: str, *, password: str | None = None
) -> list[list[Any]]:
    """Cell values of ``sheet`` from A1, ``None`` for blank (see :meth:`Workbook.read_grid`)."""
    with Workbook(path, password=password) as wb:
        return wb.read_grid(sheet)


def sheet_names(path: str | os.PathLike[str], *, password: str | None = None) -> list[str]:
    """Sheet names of the workbook at ``path``, in tab order."""
    with Workbook(path, password=password) as wb:
        return list(wb.sheet_names)


def table_range(
    path: str | os.PathLike[str], table_name: str, *, password: str | None = None
) -> TableRange:
    """Where the Excel Table ``table_name`` sits in the workbook at ``path``."""
    with Workbook(path, password=password) as wb:
        return wb.table_range(table_name)
