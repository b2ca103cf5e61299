"""Check a workbook package before any work: refuse a damaged or hostile file in one line.

Every command that opens a workbook runs :func:`check_package` on its bytes first (from
:class:`xlcrm.book.read.Workbook`), so that no later step meets a part it cannot handle and
ends in a traceback, exhausts memory, or writes a broken file. It checks, streaming every
part once with a bounded buffer:

- the zip opens, has at most :data:`MAX_PARTS` members and no two with the same name
  (part names are case-insensitive);
- no part inflates beyond :data:`MAX_PART_BYTES`, the parts together not beyond
  :data:`MAX_TOTAL_BYTES`, and no large part more than :data:`MAX_RATIO` times its
  compressed size. The declared sizes are checked before anything is inflated; the inflated
  bytes are counted too, because a zip can lie (a part that inflates past its declared size
  fails its checksum, and zipfile stops at the declared size);
- every part's checksum (CRC-32) is right;
- every XML part up to :data:`FULL_PARSE_BYTES` is well formed; larger ones (the big
  worksheets and shared strings of a large ledger) are parsed by the reader that uses them,
  whose errors are one-line messages too: parsing them here as well would add half the
  time of reading the ledger (expat reads about 50 MB/s, inflating alone 200 MB/s);
- no XML part has a document type declaration (checked in every part's prolog): a ``<!DOCTYPE``
  (and with it every ``<!ENTITY``) is refused, as defusedxml's ``forbid_dtd`` does, with
  expat's own handlers, since Office files never carry one and entity expansion is the
  classic XML bomb ("billion laughs") and file-disclosure attack;
- ``[Content_Types].xml`` is there, the workbook part is found, it has a styles part, every
  internal relationship of every part points at a part that exists, and every sheet the
  workbook lists has its part.

Why refuse rather than repair: Excel repairs such files with a dialog the user sees; a
headless run that quietly guessed would analyse or write something the user never saw.
The message says to open the file in Excel (which repairs it) and save it again.
"""

from __future__ import annotations

import contextlib
import io
import posixpath
import queue
import re
import threading
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from xml.etree import ElementTree
from xml.parsers import expat

from xlcrm.book.sliced_read import slice_count
from xlcrm.errors import InputError

# A full 1 048 576-row ledger of about 20 columns is a worksheet part of roughly 1 GB.
MAX_PART_BYTES = 1 << 30
MAX_TOTAL_BYTES = 2 << 30
# Worksheet XML compresses 5-30 times, highly repetitive formatting up to about 60; a zip bomb
# reaches 1000. Applies to parts above RATIO_FLOOR only (tiny parts compress oddly).
MAX_RATIO = 100
RATIO_FLOOR = 16 << 20
MAX_PARTS = 20_000
FULL_PARSE_BYTES = 8 << 20

_CHUNK = 1 << 20
# Cell and row references with two- or three-letter columns (the references r="AB1..." whose
# letters are followed by a digit), and row numbers of six digits or more (r="..123456"
# with at most three letters before the digits and a quote after them): what can make a
# worksheet's grid large (see _Extent.bound). One pass finds both, branching on the first
# character after the literal prefix: (1) the digits of a row without letters; (2) the first
# letter, then (3) the digits of a row with one letter, or (4) the second and third letters,
# then (5) the digits of a row with them, or just a digit (a wide column). Equivalent to the
# two patterns r="([A-Z]{2,3})\d and r="[A-Z]{0,3}(\d{6,})" of before (as
# tests/test_read_package_check.py checks), in 0.16 s per 100 MB instead of 0.20 s.
_REF_SCAN = re.compile(
    rb'r="(?:(\d{6,})"|([A-Z])(?:(\d{6,})"|([A-Z][A-Z]?)(?:(\d{6,})"|\d)))')
_SMALL_ROWS = 99_999
# A row number is the value of its digits (calamine reads r="A0005000" as row 5000) up to
# _ROW_DIGITS significant digits; a longer one counts as _HUGE_ROW, beyond any grid (int()
# refuses more than 4,300 digits, and is slow long before).
_ROW_DIGITS = 12
_HUGE_ROW = 10**_ROW_DIGITS
_ERROR_MARK = re.compile(rb't="e"')  # as xlcrm.book.read looks for error cells (a search
# by the pattern: 0.05 s per 100 MB, the bytes' own "in" 0.06 s)
_OVERLAP = 16
# A reference not ended yet (at the end of a piece: see _Extent.scan), and what continues it.
_OPEN_REF = re.compile(rb'r="([A-Z]*)(\d*)')
_REF_RUN = re.compile(rb"[A-Z0-9]*")
_OPEN_LETTERS = 10  # letters of an unended reference kept: past three, no column counts
_XML_SUFFIXES = (".xml", ".rels")
# VML (legacy drawings) is XML-like but not always well formed as Excel writes it: only its
# prolog is checked (no DOCTYPE).
_PROLOG_ONLY_SUFFIXES = (".vml",)

NS_PKG_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
NS_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
NS_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


class RefusedPartError(Exception):
    """A reason to refuse the part being checked (raised by :func:`hardened_parser`)."""


class _PrologDoneError(Exception):
    """The root element began: a prolog-only check is complete."""


def damaged(label: str, what: str, *, fix: str | None = None) -> InputError:
    """The one-line error for a damaged workbook ``label`` (``what`` says what is wrong)."""
    return InputError(
        f"{label} cannot be read as a workbook: {what} (nothing was changed)",
        fix=fix or "Open it in Excel (it offers to repair the file) and save it again, or "
        "restore a backup (xlcrm keeps them in .xlcrm-backups beside the workbook).",
    )


def _mib(n: int) -> str:
    return f"{n / (1 << 20):,.0f} MB"


def _size_limits(infos: list[zipfile.ZipInfo], label: str) -> None:
    """Refuse from the declared sizes alone, before anything is inflated."""
    total = 0
    for info in infos:
        size = info.file_size
        if size > MAX_PART_BYTES:
            raise damaged(label, f"part {info.filename} would inflate to {_mib(size)}, more "
                          f"than the limit of {_mib(MAX_PART_BYTES)} per part")
        if size > RATIO_FLOOR and size > MAX_RATIO * max(info.compress_size, 1):
            ratio = size / max(info.compress_size, 1)
            raise damaged(label, f"part {info.filename} inflates {ratio:,.0f} times its stored "
                          f"size (a zip bomb; the limit is {MAX_RATIO} times)")
        total += size
    if total > MAX_TOTAL_BYTES:
        raise damaged(label, f"its parts would inflate to {_mib(total)} together, more than "
                      f"the limit of {_mib(MAX_TOTAL_BYTES)}")


def _no_dtd(*_args: object) -> None:
    raise RefusedPartError("it has a document type declaration (<!DOCTYPE>), which Excel "
                           "never writes and which can hide an entity bomb")


def _no_entity(*_args: object) -> None:
    raise RefusedPartError("it declares an entity (<!ENTITY>), which Excel never writes and "
                           "which can hide an entity bomb")


def hardened_parser() -> expat.XMLParserType:
    """An expat parser that refuses a DTD or an entity (:class:`RefusedPartError`), for a
    part that reaches a parser without having passed :func:`check_package` (a sheet the
    package check leaves to the writer, see ``overwritten``)."""
    return _parser(prolog_only=False)


def _parser(prolog_only: bool) -> expat.XMLParserType:
    parser = expat.ParserCreate()
    parser.StartDoctypeDeclHandler = _no_dtd
    parser.EntityDeclHandler = _no_entity
    parser.UnparsedEntityDeclHandler = _no_entity
    parser.ExternalEntityRefHandler = _no_entity
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    if prolog_only:
        def stop(*_args: object) -> None:
            raise _PrologDoneError
        parser.StartElementHandler = stop
    return parser


@dataclass(frozen=True)
class PartScan:
    """What the package check saw in an XML part while inflating it anyway.

    Attributes
    ----------
    cells : int
        An upper bound on the cells of a reader's dense grid of the part (largest row
        number times widest column its references name; ``<dimension>`` is not trusted).
    errors : bool
        Whether the part has a cell marked as an Excel error value (``t="e"``), so that the
        reader looks for them (inflating the sheet once more) only where there are some.
    """

    cells: int
    errors: bool


class _Extent:
    """The widest column letters and the largest row number a part's references name.

    :meth:`scan` is given the part in pieces, each after the first beginning with the last
    :data:`_OVERLAP` bytes of the one before (as :func:`_check_part` gives them), so that a
    reference cut at a border is seen whole in the next piece. A reference longer than the
    overlap (leading zeros make one as long as one likes: calamine reads them) is carried
    into the next piece instead, so that none escapes the scan.
    """

    def __init__(self) -> None:
        self.columns: set[bytes] = set()
        self.max_row = 0
        self.errors = False
        self._open = b""  # the last piece ended in it, begun before the bytes repeated

    def scan(self, text: bytes) -> None:
        self.errors = self.errors or _ERROR_MARK.search(text) is not None
        if self._open:  # ended (or continued) by what follows the overlap
            end = _REF_RUN.match(text, _OVERLAP).end()  # type: ignore[union-attr]
            if end == len(text):
                self._open = self._shortened(self._open + text[_OVERLAP:])
                return
            self._references(self._open + text[_OVERLAP:end + 1])
            self._open = b""
        self._references(text)
        start = text.rfind(b'r="')
        if start >= 0 and len(text) - start > _OVERLAP and _REF_RUN.fullmatch(text, start + 3):
            self._open = self._shortened(text[start:])

    def _references(self, text: bytes) -> None:
        top = self.max_row
        for row0, first, row1, more, row2 in set(_REF_SCAN.findall(text)):
            if more:
                self.columns.add(first + more)
            row = row0 or row1 or row2
            if row:  # (a comparison, not max(): as fast as before with the length's test)
                n = int(row) if len(row) <= _ROW_DIGITS else self._long_row(row)
                if n > top:
                    top = n
        self.max_row = top

    @staticmethod
    def _long_row(digits: bytes) -> int:
        """The row number of a long run of digits: its value, or :data:`_HUGE_ROW`."""
        digits = digits.lstrip(b"0")
        return _HUGE_ROW if len(digits) > _ROW_DIGITS else int(digits or b"0")

    @staticmethod
    def _shortened(ref: bytes) -> bytes:
        """An unended reference in a few bytes, the same to the scan whatever ends it: the
        leading zeros of its row dropped (six digits kept: a row of six digits or more
        counts), its letters and significant digits cut where they are huge anyway.
        ``b""`` when a letter follows a digit: what ends it cannot change what the scan
        made of it (and calamine refuses it)."""
        m = _OPEN_REF.fullmatch(ref)
        if m is None:
            return b""
        letters, digits = m.groups()
        if len(digits) > 6:
            digits = digits.lstrip(b"0").zfill(6)[:_ROW_DIGITS + 1]
        return b'r="' + letters[:_OPEN_LETTERS] + digits

    def bound(self) -> int:
        width = 26
        for letters in self.columns:
            n = 0
            for code in letters:
                n = n * 26 + code - 64
            width = max(width, n)
        return max(self.max_row, _SMALL_ROWS) * width


AHEAD_BYTES = 4 << 20
"""Parts larger than this are inflated in a thread, ahead of whoever reads them."""


def inflated_chunks(z: zipfile.ZipFile, info: zipfile.ZipInfo, size: int = _CHUNK, *,
                    ahead: bool = True) -> Iterator[bytes]:
    """The inflated bytes of part ``info``, ``size`` at a time (zipfile checks its CRC and
    size at the end, raising :class:`zipfile.BadZipFile`).

    A large part is inflated in a second thread a few chunks ahead (unless ``ahead`` is
    false): zlib releases Python's lock, so the caller parses one chunk while the next is
    inflated. Errors are raised in the caller's thread, in order, as a plain read would
    raise them. Nothing else may read ``z`` until the iteration ends.
    """
    if info.file_size <= AHEAD_BYTES or not ahead:
        with z.open(info) as f:
            while chunk := f.read(size):
                yield chunk
        return
    ahead: queue.Queue[bytes | BaseException | None] = queue.Queue(4)
    stop = threading.Event()

    def read() -> None:
        try:
            with z.open(info) as f:
                while not stop.is_set() and (chunk := f.read(size)):
                    ahead.put(chunk)
            ahead.put(None)
        except BaseException as exc:  # raised in the caller's thread
            ahead.put(exc)

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    try:
        while (item := ahead.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # let a reader blocked on a full queue see the stop
            with contextlib.suppress(queue.Empty):
                ahead.get(timeout=0.05)
        thread.join()


def _check_part(z: zipfile.ZipFile, info: zipfile.ZipInfo, label: str,
                keep: list[bytes] | None = None) -> PartScan | None:
    """Inflate one part in chunks: checksum, real size, and (XML) well-formedness, no DTD.

    Returns what the scan of an XML part saw (see :class:`PartScan`), ``None`` for others.
    ``keep``: where to put the inflated chunks (kept only once the part has passed).
    """
    lower = info.filename.lower()
    xml = lower.endswith(_XML_SUFFIXES)
    prolog_only = lower.endswith(_PROLOG_ONLY_SUFFIXES) or (
        xml and info.file_size > FULL_PARSE_BYTES)
    parser = _parser(prolog_only) if xml or prolog_only else None
    extent = _Extent() if xml else None
    seen, tail = 0, b""
    try:
        # Read in this thread: zipfile's reader needs Python's lock between the calls that
        # inflate, which the scan of each chunk holds, so a reader ahead in a second thread
        # mostly took turns with it: the check of a 100 MB sheet took 0.40 s so, 0.38 s
        # here (min of 9, alternated), and a little less processor time.
        for chunk in inflated_chunks(z, info, ahead=False):
            seen += len(chunk)
            if keep is not None:
                keep.append(chunk)
            if extent is not None:  # (a reference cut by the chunk border: the overlap)
                extent.scan(tail + chunk)
                tail = chunk[-_OVERLAP:]
            if seen > MAX_PART_BYTES:  # unreachable through zipfile, kept as the bound
                raise damaged(label, f"part {info.filename} inflates beyond "
                              f"{_mib(MAX_PART_BYTES)}")
            if parser is not None:
                try:
                    parser.Parse(chunk, False)
                except _PrologDoneError:
                    parser = None  # the rest is only inflated: checksum and size
        if parser is not None:
            parser.Parse(b"", True)
    except RefusedPartError as exc:
        raise damaged(label, f"part {info.filename} is refused: {exc}") from None
    except expat.ExpatError as exc:
        raise damaged(label, f"part {info.filename} is not well-formed XML "
                      f"({expat.ErrorString(exc.code)}, line {exc.lineno})") from None
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
        raise damaged(label, f"part {info.filename} is corrupt ({exc})") from None
    return PartScan(extent.bound(), extent.errors) if extent is not None else None


def _source_of(rels_name: str) -> str | None:
    """The part whose relationships ``rels_name`` holds (``""``: the package)."""
    folder, name = posixpath.split(rels_name)
    if posixpath.basename(folder) != "_rels" or not name.endswith(".rels"):
        return None
    return posixpath.join(posixpath.dirname(folder), name[: -len(".rels")])


def _resolve(source: str, target: str) -> str:
    from urllib.parse import unquote

    target = unquote(target)
    if target.startswith("/"):
        return posixpath.normpath(target.lstrip("/"))
    return posixpath.normpath(posixpath.join(posixpath.dirname(source), target))


def _check_relationships(z: zipfile.ZipFile, names: dict[str, str], label: str
                         ) -> dict[str, dict[str, tuple[str, str]]]:
    """Every internal relationship target exists; returns part -> {id: (type, target)}."""
    out: dict[str, dict[str, tuple[str, str]]] = {}
    for lower, name in names.items():
        source = _source_of(lower)
        if source is None:
            continue
        if source and source not in names:
            continue  # relationships of a part that is not there: nothing refers to them
        root = ElementTree.fromstring(z.read(name))  # well formed, no DTD: checked above
        rels: dict[str, tuple[str, str]] = {}
        for el in root.iter(f"{{{NS_PKG_RELS}}}Relationship"):
            rid, kind, target = el.get("Id", ""), el.get("Type", ""), el.get("Target", "")
            if el.get("TargetMode") == "External":
                continue
            part = _resolve(names.get(source, source), target)
            if not target or part.lower() not in names:
                where = names.get(source, source) or "the package"
                raise damaged(label, f"{where} refers to a part {part or '(empty)'} that is "
                              f"missing ({kind.rsplit('/', 1)[-1]} relationship {rid})")
            rels[rid] = (kind, part)
        out[source] = rels
    return out


def _office_part(rels: dict[str, dict[str, tuple[str, str]]], label: str) -> str:
    """The workbook part (lower case) the package's officeDocument relationship names."""
    office = [t for k, t in rels.get("", {}).values() if k.endswith("/officeDocument")]
    if not office:
        raise damaged(label, "it has no workbook part (no officeDocument relationship)")
    return office[0].lower()


def _sheet_parts(z: zipfile.ZipFile, names: dict[str, str], wb_part: str,
                 wb_rels: dict[str, tuple[str, str]], label: str) -> dict[str, str]:
    """Each sheet's name (case-folded) -> its part (lower case); every sheet has one."""
    if not any(k.endswith("/styles") for k, _ in wb_rels.values()):
        raise damaged(label, "its styles part (xl/styles.xml) is missing")
    root = ElementTree.fromstring(z.read(names[wb_part]))  # checked: well formed, no DTD
    parts: dict[str, str] = {}
    for sheet in root.iter():
        if not sheet.tag.endswith("}sheet"):
            continue
        rid = sheet.get(f"{{{NS_R}}}id") or sheet.get(
            "{http://purl.oclc.org/ooxml/officeDocument/relationships}id", "")
        if rid not in wb_rels:
            raise damaged(label, f"sheet {sheet.get('name', '?')!r} has no part "
                          f"(relationship {rid or '(none)'} is missing)")
        parts[sheet.get("name", "").casefold()] = wb_rels[rid][1].lower()
    return parts


# Parts a reader may open with the workbook by these names, whatever the relationships say
# (calamine opens some of them by name).
_BOOK_PARTS = frozenset({"[content_types].xml", "xl/workbook.xml", "xl/styles.xml",
                         "xl/sharedstrings.xml", "xl/theme/theme1.xml"})


def _own_parts(sheets: dict[str, str], rels: dict[str, dict[str, tuple[str, str]]],
               wb_part: str) -> set[str]:
    """The sheets' parts (lower case) that only their own sheet uses: no other sheet, no
    other relationship, and no reader by its name. Only such a part may be left to the
    writer or checked later (a result sheet whose relationship names the styles part must
    not take the styles out of the check before a reader opens them)."""
    refs = Counter(part.lower() for by_id in rels.values() for _, part in by_id.values())
    uses = Counter(sheets.values())
    return {part for part, n in uses.items() if n == 1 and refs[part] == 1 and
            part not in _BOOK_PARTS and part != wb_part and not part.endswith(".rels")}


class PartScans:
    """What the package check saw in each XML part (lower-case name -> :class:`PartScan`).

    Parts left for later (``later`` of :func:`check_package`) are checked in a thread, in
    the order given, while the caller reads the others (calamine parses a sheet without
    holding Python's lock): :meth:`get` waits for such a part and raises what its check
    found, as the check itself would have. :meth:`wait` waits for all of them; call it
    before trusting the file as a whole (before writing from it).
    """

    def __init__(self, scans: dict[str, PartScan], data: bytes = b"",
                 later: list[zipfile.ZipInfo] | None = None, label: str = "",
                 kept: dict[str, list[bytes]] | None = None) -> None:
        self._scans = scans
        self._kept = kept or {}
        self._later = {info.filename.lower(): threading.Event() for info in later or []}
        self._failed: dict[str, BaseException] = {}
        if later:
            threading.Thread(target=self._check_later, args=(data, later, label),
                             daemon=True).start()

    def _check_later(self, data: bytes, later: list[zipfile.ZipInfo], label: str) -> None:
        with zipfile.ZipFile(io.BytesIO(data)) as z:  # its own: zipfile shares a position
            for info in later:
                name = info.filename.lower()
                try:
                    scan = _check_part(z, info, label)
                    if scan is not None:
                        self._scans[name] = scan
                except BaseException as exc:  # raised where the part is asked for
                    self._failed[name] = exc
                finally:
                    self._later[name].set()

    def get(self, part: str) -> PartScan | None:
        """The scan of ``part`` (lower case), ``None`` when it was not scanned."""
        done = self._later.get(part)
        if done is not None:
            done.wait()
            if part in self._failed:
                raise self._failed[part]
        return self._scans.get(part)

    def take_xml(self, part: str) -> bytes | None:
        """The XML of ``part`` (lower case) when the check kept it (``keep`` of
        :func:`check_package`), once: it is then let go."""
        chunks = self._kept.pop(part, None)
        return None if chunks is None else b"".join(chunks)

    def wait(self) -> None:
        """Wait for the parts checked later; raise the first problem found, in their order."""
        for part in self._later:
            self.get(part)


def check_package(data: bytes, label: str, *, overwritten: Collection[str] = (),
                  later: Collection[str] = (), keep: Collection[str] = (),
                  book_parts_checked: Callable[[], object] | None = None) -> PartScans:
    """Refuse the ``.xlsx``/``.xlsm`` bytes ``data`` unless they are a sound package.

    See the module docstring for what is checked and why. While every part is inflated
    anyway, the references in each XML part are scanned too: the result
    (:class:`PartScans`) maps each XML part's name (lower case) to a :class:`PartScan` (an
    upper bound on the cells of a dense grid of it, and whether it has error cells), so the
    reader need not inflate a worksheet again to know that it is safe to read or free of
    error values.

    Parameters
    ----------
    data : bytes
        The file's bytes (a zip).
    label : str
        The file's name, for the message.
    overwritten : collection of str
        Sheets the caller replaces without reading them (a run's result sheets): their
        parts are held to the size limits but not inflated here, because only the writer
        reads them (for their styles), and zipfile checks their checksum then; at 100,000
        customers they are two thirds of the file. (A part that anything but its sheet
        uses is checked all the same, here and for ``later``.)
    keep : collection of str
        Sheets checked here whose XML the check keeps for the reader to take
        (:meth:`PartScans.take_xml`), when it is of a size the reader reads in slices
        (:func:`xlcrm.book.sliced_read.slice_count`): it then need not inflate it again.
    later : collection of str
        Sheets whose parts are checked in a thread, in this order, after this returns (see
        :class:`PartScans`): the sheets the caller reads last, so that their check runs
        while it reads the first.
    book_parts_checked : callable, optional
        Called once every part but the sheets' own has passed (the parts a reader opens
        with the workbook: its relationships, the workbook, styles, theme, shared strings
        ...), before the sheets' parts are checked: the caller may open its reader then,
        beside the check of the sheets, which that reader does not read until asked for a
        sheet. Not called when the check refuses the file before.

    Raises
    ------
    InputError
        One problem: the file, what is wrong (the limit, when a limit is passed) and what
        to do.
    """
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zlib.error, ValueError, EOFError) as exc:
        raise damaged(label, f"it is not a valid zip file ({exc})") from None
    with z:
        infos = [info for info in z.infolist() if not info.is_dir()]
        if len(infos) > MAX_PARTS:
            raise damaged(label, f"it has {len(infos):,} parts, more than the limit of "
                          f"{MAX_PARTS:,}")
        names: dict[str, str] = {}
        for info in infos:
            lower = info.filename.lower()
            if lower in names:
                raise damaged(label, f"it holds two parts named {info.filename}, so it is not "
                              "clear which one counts")
            names[lower] = info.filename
        _size_limits(infos, label)
        bounds: dict[str, PartScan] = {}
        kept: dict[str, list[bytes]] = {}
        keep_parts: set[str] = set()

        def check(info: zipfile.ZipInfo) -> None:
            name = info.filename.lower()
            chunks: list[bytes] | None = None
            if name in keep_parts and slice_count(info.file_size) > 1:
                chunks = []
            bound = _check_part(z, info, label, chunks)
            if bound is not None:
                bounds[name] = bound
            if chunks is not None:
                kept[name] = chunks

        # Relationships first (small), so that finding the workbook and its sheets parses
        # only checked XML.
        for info in infos:
            if info.filename.lower().endswith(".rels"):
                check(info)
        if "[content_types].xml" not in names:
            raise damaged(label, "its list of content types ([Content_Types].xml) is missing")
        rels = _check_relationships(z, names, label)
        wb_part = _office_part(rels, label)
        skipped: set[str] = set()
        deferred: dict[str, None] = {}
        own: set[str] = set()
        if wb_part.endswith(".xml"):  # not a binary workbook (.xlsb)
            check(z.getinfo(names[wb_part]))
            sheets = _sheet_parts(z, names, wb_part, rels.get(wb_part, {}), label)
            own = _own_parts(sheets, rels, wb_part)
            skipped = {sheets[s.casefold()] for s in overwritten
                       if sheets.get(s.casefold()) in own}
            keep_parts = {sheets[s.casefold()] for s in keep if s.casefold() in sheets}
            deferred = dict.fromkeys(sheets[s.casefold()] for s in later
                                     if sheets.get(s.casefold()) in own and
                                     sheets[s.casefold()] not in skipped)
        rest = [info for info in infos if info.filename.lower() not in skipped and
                info.filename.lower() not in deferred and
                not info.filename.lower().endswith(".rels") and info.filename.lower() != wb_part]
        for info in rest:  # every part a reader may open with the workbook
            if info.filename.lower() not in own:
                check(info)
        if book_parts_checked is not None:
            book_parts_checked()
        for info in rest:  # then the sheets' own parts
            if info.filename.lower() in own:
                check(info)
        later_infos = [z.getinfo(names[part]) for part in deferred if part in names]
    return PartScans(bounds, data, later_infos, label, kept)
