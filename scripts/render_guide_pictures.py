"""Render the pictures of the user guide (``docs/guide/img/*.png``) from a demo workbook.

Run it after the template changes (one command, from the repository root)::

    .venv/bin/python scripts/render_guide_pictures.py

It needs LibreOffice (``soffice``) and poppler-utils (``pdftoppm``; ``pdftotext`` from the
same package is used to check each page when present). Debian/Ubuntu:
``apt-get install libreoffice-calc poppler-utils``.

How a picture is made:

1. A demo workbook is built with a fixed seed and resegmented as of a fixed day and time
   (:data:`SEED`, :data:`STAMP`), so the same template gives the same numbers.
2. For each picture of :data:`PICTURES` a copy of it is written in which only the pictured
   sheet is visible and the pictured cells are its print area, fitted to one page
   (workbook.xml and that sheet's XML are edited; every other part is copied as is, so
   charts, tables and formats stay as the template made them).
3. All copies go through one LibreOffice run to PDF. Each PDF is one page showing one
   known sheet: hidden sheets are not printed, and the print area fits one page.
4. The page is rendered once in grey at 72 dpi to find where something is drawn, then only
   that rectangle is rendered to PNG, at a resolution that keeps 11-point text readable and
   the file under :data:`MAX_BYTES`.
"""

from __future__ import annotations

import argparse
import html
import io
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time
from pathlib import Path

import numpy as np
import pandas as pd

from xlcrm.book.history import backfill_file
from xlcrm.book.read import sheet_parts
from xlcrm.book.workbook_file import create_demo_workbook, resegment_file
from xlcrm.demo import DEFAULT_TODAY

ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = ROOT / "docs" / "guide" / "img"

CUSTOMERS = 300
SEED = 7
# The demo's ledger ends on DEFAULT_TODAY; the run is as of that morning, so the pictures
# do not change with the day they are rendered on.
STAMP = datetime.combine(DEFAULT_TODAY, time(9, 0))
DEMO_NAME = "CRM_Demo.xlsm"

#: Largest PNG written; the resolution is lowered until a picture fits.
MAX_BYTES = 300_000
#: Resolution for a page printed at 100 %: 11-point text about 20 pixels high.
BASE_DPI = 130
MIN_DPI = 60
#: Grey level (0 black .. 255 white) below which a pixel counts as drawn.
INK = 245


@dataclass(frozen=True)
class Picture:
    """One picture: a rectangle of one sheet of the demo workbook.

    Parameters
    ----------
    name : str
        File name in ``docs/guide/img`` (``.png``).
    sheet : str
        Sheet to show.
    area : str
        Cells to show, e.g. ``A1:T18``.
    expect : str
        Text that must be on the rendered page (checked with pdftotext when present), so
        that a picture cannot silently show the wrong sheet or an empty area.
    hide : str
        Columns of the area to leave out, e.g. ``"C:N"`` or ``"C:D,F:H"`` (the column
        letters in the picture show the gap).
    landscape : bool
        Page orientation the area is fitted to (A3 paper: most areas print at 100 %).
    headings : bool
        Print row numbers, column letters and gridlines (off for charts).
    max_width : int
        Widest picture in pixels.
    model : str
        The ready-made model of the demo workbook pictured (``xlcrm demo --model``).
    """

    name: str
    sheet: str
    area: str
    expect: str
    hide: str = ""
    landscape: bool = True
    headings: bool = True
    max_width: int = 1600
    model: str = "parts-dealer"


PICTURES: tuple[Picture, ...] = (
    # The ledger with two of the demo's planted mistakes (I12 "Very good", J17 -5).
    Picture("customers.png", "Customers", "A1:L18", "Very good"),
    Picture("indicators.png", "Indicators", "A1:J17", "Parameters", hide="H"),
    Picture("judgments.png", "Judgments", "A1:G39", "Weight", landscape=False),
    Picture("strategies.png", "Strategies", "A1:F9", "VisitIntervalDays"),
    # The headline tiles, types and classes, then the KPIs and who to call (the print area).
    Picture("dashboard.png", "Dashboard", "A1:N24", "By ABC class", hide="L:M"),
    Picture("dashboard-kpis.png", "Dashboard", "A26:N99", "KPIs (last 12 months)",
            landscape=False),
    Picture("dashboard-survey.png", "Dashboard", "A132:F146", "Cronbach", landscape=False,
            max_width=1100),
    Picture("dashboard-clv.png", "Dashboard", "A171:H191", "Lifetime value", landscape=False),
    Picture("dashboard-migration.png", "Dashboard", "A270:R296", "Migration since",
            landscape=True),
    Picture("dashboard-contacts.png", "Dashboard", "A310:H324", "Buying center",
            landscape=False),
    Picture("dashboard-charts.png", "Dashboard", "S1:AI58", "Pareto curve", landscape=False,
            headings=False, max_width=1200),
    # Identity, the Qualification indicators, then the group scores and the value.
    Picture("scores.png", "Scores", "A1:U18", "Percentile", hide="G:N"),
    Picture("segments.png", "Segments", "A1:K18", "TypeName"),
    # Identity, recency and RFM segment, churn warning, contact plan.
    Picture("activity.png", "Activity", "A1:T18", "ChurnReason", hide="C:H,J:L"),
    Picture("problems.png", "Problems", "A1:E16", "WhatToDo"),
    # A ready-made model's demo: the heavy-truck maker's 4 types and ABC by value score.
    Picture("dashboard-truck-maker.png", "Dashboard", "A1:N24", "Potential value",
            hide="L:M", model="truck-maker"),
    # The chart block, the chart and the first moves of the table.
    Picture("sensitivity.png", "Sensitivity", "A1:X40", "Every move", landscape=False),
    Picture("contacts.png", "Contacts", "A1:G14", "decision maker"),
    # The demo with two more rater sheets: each rater's CR, the aggregate, the consensus.
    Picture("dashboard-raters.png", "Dashboard", "A200:N219", "Consensus", model="raters"),
)


def fail(message: str) -> None:
    """Stop with a one-line reason (exit 2), as the project's commands do."""
    print(f"render_guide_pictures: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def tools() -> dict[str, str]:
    """Paths of the programs needed; stops naming any that is missing."""
    found = {name: shutil.which(name) for name in ("soffice", "pdftoppm")}
    missing = [name for name, path in found.items() if path is None]
    if missing:
        fail(
            f"{', '.join(missing)} not found; install LibreOffice and poppler-utils "
            "(apt-get install libreoffice-calc poppler-utils)"
        )
    optional = shutil.which("pdftotext")
    paths = {name: str(path) for name, path in found.items()}
    if optional:
        paths["pdftotext"] = optional
    return paths


# Two colleagues' judgments beside the Judgments sheet's (the "raters" pictures): Anna
# weighs the groups otherwise, Ben also types an inconsistent Potential block.
RATERS = {
    "Judgments Anna": {"Groups": [[None, "1", "1/2"], [None, None, "1/2"], [None] * 3]},
    "Judgments Ben": {
        "Groups": [[None, "3", "5"], [None, None, "2"], [None] * 3],
        "Potential": [[None, "5", "1/5", "1/3"], [None, None, "7", "1/7"],
                      [None, None, None, "1/4"], [None] * 4],
    },
}


def demo_workbook(folder: Path, model: str = "parts-dealer") -> Path:
    """The demo workbook of ``model``, resegmented as of :data:`STAMP`, with the month before
    backfilled and resegmented again, so that the Dashboard shows who moved since then.

    ``model`` ``"raters"`` is the default demo with the rater sheets of :data:`RATERS`, copied
    from Judgments as Excel's *Move or Copy* makes them, resegmented once more."""
    if model == "raters":
        # Rater sheets as Excel's Move or Copy makes them: the tests' fixtures do exactly that.
        sys.path.insert(0, str(ROOT))
        from tests.fixtures.books import copy_sheet, retype

        (folder / "raters").mkdir(exist_ok=True)
        data = demo_workbook(folder / "raters").read_bytes()
        for sheet, typed in RATERS.items():
            data = retype(copy_sheet(data, "Judgments", sheet), sheet, typed)
        path = folder / "CRM_Demo_raters.xlsm"
        path.write_bytes(data)
        resegment_file(path, stamp=STAMP, as_of=DEFAULT_TODAY, backups=0)
        return path
    path = folder / (DEMO_NAME if model == "parts-dealer" else f"CRM_Demo_{model}.xlsm")
    create_demo_workbook(path, customers=CUSTOMERS, seed=SEED, today=DEFAULT_TODAY, stamp=STAMP,
                         model=model)
    month_before = (pd.Timestamp(DEFAULT_TODAY) - pd.DateOffset(months=1)).date()
    backfill_file(path, [month_before], stamp=STAMP, backups=0)
    resegment_file(path, stamp=STAMP, as_of=DEFAULT_TODAY, backups=0)
    return path


_SHEET_TAG = re.compile(r'<sheet\b[^>]*\bname="([^"]*)"[^>]*/>')


def _absolute(area: str) -> str:
    """``A1:T18`` -> ``$A$1:$T$18`` (a print area is an absolute reference)."""
    return ":".join(re.sub(r"([A-Z]+)(\d+)", r"$\1$\2", part) for part in area.split(":"))


def print_copy(data: bytes, parts: dict[str, str], picture: Picture) -> bytes:
    """The workbook ``data`` with only ``picture.sheet`` printable, its area on one page."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        book = z.read("xl/workbook.xml").decode("utf-8")
        names = [html.unescape(n) for n in _SHEET_TAG.findall(book)]
        if picture.sheet not in names:
            fail(f"the demo workbook has no sheet {picture.sheet!r} (it has {names})")
        index = names.index(picture.sheet)

        def state(m: re.Match[str]) -> str:
            wanted = "visible" if html.unescape(m.group(1)) == picture.sheet else "hidden"
            tag = re.sub(r'\sstate="[^"]*"', "", m.group(0))
            return tag.replace("<sheet ", f'<sheet state="{wanted}" ', 1)

        book = _SHEET_TAG.sub(state, book)
        book = re.sub(r'\b(activeTab|firstSheet)="\d+"', rf'\1="{index}"', book)
        quoted = picture.sheet.replace("'", "''")
        name = (
            f'<definedName name="_xlnm.Print_Area" localSheetId="{index}">'
            f"'{html.escape(quoted)}'!{_absolute(picture.area)}</definedName>"
        )
        # The sheet's own print area (the Dashboard has one) gives way to the picture's.
        book = re.sub(r'<definedName name="_xlnm\.Print_Area" localSheetId="\d+">[^<]*'
                      r"</definedName>", "", book)
        if "<definedNames>" in book:
            book = book.replace("<definedNames>", "<definedNames>" + name, 1)
        else:
            book = book.replace("</sheets>", f"</sheets><definedNames>{name}</definedNames>", 1)

        part = parts[picture.sheet]
        sheet = z.read(part).decode("utf-8")
        # The sheet's own page breaks (the Dashboard has some) would split the picture.
        sheet = re.sub(r"<rowBreaks\b.*?</rowBreaks>|<colBreaks\b.*?</colBreaks>", "", sheet,
                       flags=re.S)
        sheet = _fit_to_one_page(sheet, picture)
        if picture.hide:
            sheet = hide_columns(sheet, column_numbers(picture.hide))
        # LibreOffice recalculates array formulas on load and cannot run the worksheet
        # functions (#NAME?); Excel shows the values stored with each formula.
        sheet = re.sub(r"<f\b[^>]*/>|<f\b[^>]*>.*?</f>", "", sheet, flags=re.S)
        changed = {
            "xl/workbook.xml": book,
            part: sheet,
            "xl/styles.xml": _named_fonts(z.read("xl/styles.xml").decode("utf-8")),
        }
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as w:
            for info in z.infolist():
                text = changed.get(info.filename)
                w.writestr(info.filename, z.read(info) if text is None else text.encode("utf-8"))
    return out.getvalue()


def _named_fonts(styles: str) -> str:
    """Give fonts without a name the workbook's body font, as Excel shows them.

    The template's bold fonts carry no name; Excel draws them in its body font (Calibri),
    LibreOffice in a serif. Carlito, metrically equal to Calibri, stands in where it is
    installed (Debian: fonts-crosextra-carlito).
    """

    def name(m: re.Match[str]) -> str:
        font = m.group(0)
        if "<name " in font:
            return font
        return font.replace("</font>", '<name val="Calibri" /></font>')

    return re.sub(r"<font>.*?</font>", name, styles, flags=re.S)


def _letters_to_number(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n


def column_numbers(spec: str) -> set[int]:
    """``"C:D,F"`` -> ``{3, 4, 6}`` (1-based column numbers)."""
    out: set[int] = set()
    for part in filter(None, (p.strip().upper() for p in spec.split(","))):
        first, _, last = part.partition(":")
        out.update(range(_letters_to_number(first), _letters_to_number(last or first) + 1))
    return out


_COL = re.compile(r"<col\b([^>]*?)/>")


def hide_columns(sheet: str, hidden: set[int]) -> str:
    """Mark ``hidden`` columns hidden in one sheet's XML (splitting ``<col>`` ranges)."""
    cols = re.search(r"<cols>(.*?)</cols>", sheet, re.S)
    items: list[tuple[int, int, str]] = []  # (min, max, other attributes)
    for m in _COL.finditer(cols.group(1) if cols else ""):
        attrs = m.group(1)
        lo = int(re.search(r'\bmin="(\d+)"', attrs).group(1))
        hi = int(re.search(r'\bmax="(\d+)"', attrs).group(1))
        rest = re.sub(r'\s(min|max|hidden)="[^"]*"', "", attrs).strip()
        items.append((lo, hi, rest))
    covered = {c for lo, hi, _ in items for c in hidden if lo <= c <= hi}
    items += [(c, c, 'width="9" customWidth="1"') for c in sorted(hidden - covered)]
    out = []
    for lo, hi, rest in sorted(items):
        start = lo
        for c in range(lo, hi + 1):
            # A run ends where the hidden state changes or the range ends.
            if c == hi or ((c in hidden) != (c + 1 in hidden)):
                flag = ' hidden="1"' if c in hidden else ""
                out.append(f'<col min="{start}" max="{c}" {rest}{flag} />')
                start = c + 1
    block = "<cols>" + "".join(out) + "</cols>"
    if cols:
        return sheet[: cols.start()] + block + sheet[cols.end():]
    return sheet.replace("<sheetData", block + "<sheetData", 1)


def _fit_to_one_page(sheet: str, picture: Picture) -> str:
    """Page setup of one sheet's XML: fit to one page, narrow margins, headings."""
    fit = '<pageSetUpPr fitToPage="1" />'
    if re.search(r"<pageSetUpPr\b[^>]*/>", sheet):
        sheet = re.sub(r"<pageSetUpPr\b[^>]*/>", fit, sheet, count=1)
    elif re.search(r"<sheetPr\b[^>]*/>", sheet):
        sheet = re.sub(r"<sheetPr\b([^>]*)/>", rf"<sheetPr\1>{fit}</sheetPr>", sheet, count=1)
    elif "<sheetPr" in sheet:
        sheet = sheet.replace("</sheetPr>", fit + "</sheetPr>", 1)
    else:
        sheet = re.sub(r"(<worksheet\b[^>]*>)", rf"\1<sheetPr>{fit}</sheetPr>", sheet, count=1)
    flags = "1" if picture.headings else "0"
    orientation = "landscape" if picture.landscape else "portrait"
    setup = (
        f'<printOptions headings="{flags}" gridLines="{flags}" />'
        '<pageMargins left="0.2" right="0.2" top="0.2" bottom="0.2" header="0" footer="0" />'
        f'<pageSetup paperSize="8" orientation="{orientation}" fitToWidth="1" '
        'fitToHeight="1" />'
    )
    # The schema's order: printOptions, pageMargins, pageSetup come together, in that order.
    sheet = re.sub(r"<printOptions\b[^>]*/>|<pageSetup\b[^>]*/>|<headerFooter\b.*?</headerFooter>",
                   "", sheet, flags=re.S)
    if re.search(r"<pageMargins\b[^>]*/>", sheet):
        return re.sub(r"<pageMargins\b[^>]*/>", setup, sheet, count=1)
    follow = re.search(r"<(drawing|legacyDrawing|tableParts|extLst)\b", sheet)
    at = follow.start() if follow else sheet.rindex("</worksheet>")
    return sheet[:at] + setup + sheet[at:]


def to_pdf(soffice: str, files: Sequence[Path], folder: Path) -> None:
    """Convert ``files`` to PDF in ``folder`` with one headless LibreOffice run."""
    # A private profile: a LibreOffice already running (or a half-written user profile)
    # must not take over or break the conversion.
    profile = (folder / "lo-profile").resolve().as_uri()
    command = [
        soffice, f"-env:UserInstallation={profile}", "--headless", "--norestore",
        "--convert-to", "pdf", "--outdir", str(folder), *map(str, files),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    missing = [f.name for f in files if not f.with_suffix(".pdf").exists()]
    if done.returncode != 0 or missing:
        fail(
            f"LibreOffice did not convert {', '.join(missing) or 'every file'} "
            f"(exit {done.returncode}): {done.stderr.strip() or done.stdout.strip()}"
        )


def _run(command: Sequence[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    if done.returncode != 0:
        fail(f"{Path(command[0]).name} failed (exit {done.returncode}): {done.stderr.strip()}")


def read_pgm(path: Path) -> np.ndarray:
    """A binary PGM (P5, 8-bit) as a 2-D array of grey levels."""
    data = path.read_bytes()
    m = re.match(rb"P5\s+(?:#[^\n]*\n\s*)*(\d+)\s+(\d+)\s+(\d+)\s", data)
    if not m or int(m.group(3)) > 255:
        fail(f"{path.name} is not an 8-bit binary PGM")
    width, height = int(m.group(1)), int(m.group(2))
    return np.frombuffer(data, np.uint8, width * height, m.end()).reshape(height, width)


def pages(pdftoppm: str, pdf: Path, prefix: Path) -> list[Path]:
    """Every page of ``pdf`` in grey at 72 dpi (1 pixel = 1 point)."""
    _run([pdftoppm, "-r", "72", "-gray", str(pdf), str(prefix)])
    return sorted(prefix.parent.glob(prefix.name + "*.pgm"))


def drawn_box(grey: np.ndarray, margin: int = 4) -> tuple[int, int, int, int]:
    """``(x, y, width, height)`` in points of what is drawn on a page, plus a margin."""
    ys, xs = np.nonzero(grey < INK)
    if xs.size == 0:
        raise ValueError("the page is blank")
    h, w = grey.shape
    x0, y0 = max(int(xs.min()) - margin, 0), max(int(ys.min()) - margin, 0)
    x1, y1 = min(int(xs.max()) + 1 + margin, w), min(int(ys.max()) + 1 + margin, h)
    return x0, y0, x1 - x0, y1 - y0


def render(pdftoppm: str, pdf: Path, box: tuple[int, int, int, int], dpi: int,
           out: Path) -> None:
    """Render the rectangle ``box`` (points) of the one-page ``pdf`` to ``out`` (PNG)."""
    scale = dpi / 72
    x, y, w, h = (round(v * scale) for v in box)
    prefix = out.with_suffix("")
    _run([pdftoppm, "-png", "-r", str(dpi), "-x", str(x), "-y", str(y), "-W", str(w),
          "-H", str(h), "-singlefile", str(pdf), str(prefix)])


def picture_png(paths: dict[str, str], pdf: Path, picture: Picture, out: Path) -> tuple[int, int]:
    """Turn the one-page ``pdf`` of ``picture`` into ``out``; returns (dpi, bytes)."""
    found = pages(paths["pdftoppm"], pdf, pdf.with_name(pdf.stem + "-grey"))
    if len(found) != 1:
        fail(f"{picture.name}: expected one page of sheet {picture.sheet}, got {len(found)}")
    if "pdftotext" in paths:
        text = subprocess.run([paths["pdftotext"], str(pdf), "-"], capture_output=True,
                              text=True, timeout=120, check=False).stdout
        if picture.expect not in text:
            fail(f"{picture.name}: the page of {picture.sheet}!{picture.area} does not show "
                 f"{picture.expect!r}; has the sheet's layout changed?")
    try:
        box = drawn_box(read_pgm(found[0]))
    except ValueError:
        fail(f"{picture.name}: the page of {picture.sheet}!{picture.area} is blank")
    dpi = min(BASE_DPI, int(72 * picture.max_width / box[2]))
    while True:
        render(paths["pdftoppm"], pdf, box, dpi, out)
        size = out.stat().st_size
        if size <= MAX_BYTES:
            return dpi, size
        if dpi <= MIN_DPI:
            fail(f"{picture.name} is {size:,} bytes even at {dpi} dpi; show fewer cells")
        dpi = max(MIN_DPI, int(dpi * 0.85))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT_DIR,
                        help=f"folder for the pictures (default {OUT_DIR.relative_to(ROOT)})")
    parser.add_argument("--keep", type=Path,
                        help="keep the demo workbook, the copies and the PDFs in this folder")
    args = parser.parse_args(argv)
    paths = tools()
    with tempfile.TemporaryDirectory(prefix="xlcrm-guide-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        demos = {}
        for model in dict.fromkeys(p.model for p in PICTURES):
            data = demo_workbook(work, model).read_bytes()
            demos[model] = (data, sheet_parts(data))
        copies = []
        for picture in PICTURES:
            copy = work / (Path(picture.name).stem + ".xlsm")
            copy.write_bytes(print_copy(*demos[picture.model], picture))
            copies.append(copy)
        to_pdf(paths["soffice"], copies, work)
        args.out.mkdir(parents=True, exist_ok=True)
        for picture, copy in zip(PICTURES, copies, strict=True):
            dpi, size = picture_png(paths, copy.with_suffix(".pdf"), picture,
                                    args.out / picture.name)
            print(f"{args.out / picture.name}: {picture.sheet}!{picture.area}, {dpi} dpi, "
                  f"{size / 1000:.0f} kB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
