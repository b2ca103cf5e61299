"""The user guide (docs/guide) cannot drift from the code it describes.

Every picture it shows exists and every picture in its img folder is shown; every
``xlcrm`` subcommand and option it names exists in the command's parser; every worksheet
function it names exists, and each one has a section whose arguments are the function's;
every result column and Dashboard block is explained where the code puts it; every link
between pages resolves. The render script is tested on its own helpers, and (when
LibreOffice and poppler are installed) end to end.
"""

from __future__ import annotations

import importlib.util
import inspect
import re
import shutil
import struct
import sys
import zipfile
from pathlib import Path

import pytest

import udfs
from udfs import functions
from xlcrm import report, schema
from xlcrm.cli import build_parser
from xlcrm.operations.kpis import KPI_NAMES
from xlcrm.operations.step import ACTIVITY_COLUMNS
from xlcrm.value.segments import VALIDATION_COLUMNS

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "guide"
IMG = GUIDE / "img"
SCRIPT = ROOT / "scripts" / "render_guide_pictures.py"
TEMPLATE = ROOT / "workbook" / "CRM_Template.xlsm"
PAGES = ("README", "install", "staff", "monday", "functions", "results", "problems",
         "analyst", "commands")

#: Subcommands the guide documents ahead of the code (being written when the guide was),
#: with the options it gives them. Once a subcommand is in the parser, the parser decides
#: and its entry here is ignored; delete it then.
PENDING_COMMANDS: dict[str, set[str]] = {}
#: Pages outside the guide that others write; a link to one is checked once it exists.
PENDING_LINKS = {"../lite.md"}


def _pages() -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(GUIDE.glob("*.md"))}


def _all_text() -> str:
    return "\n".join(_pages().values())


def _code(text: str) -> list[str]:
    """The code of a Markdown text: fenced blocks (line by line) and inline code spans."""
    fence = r"^[ \t]*```[^\n]*\n(.*?)^[ \t]*```"  # also indented, inside a list item
    fenced = re.findall(fence, text, flags=re.S | re.M)
    rest = re.sub(fence, "", text, flags=re.S | re.M)
    lines = [line for block in fenced for line in block.splitlines()]
    return lines + re.findall(r"`([^`\n]+)`", rest)


# ``xlcrm`` as the command: first on the line, or the end of a path to it
# (``/opt/xlcrm/.venv/bin/xlcrm``, ``"C:\\...\\Scripts\\xlcrm.exe"``); not an argument such as
# ``pip uninstall xlcrm``.
_COMMAND = re.compile(r"""(?:^\s*"?|[\\/])xlcrm(?:\.exe)?"?\s+([a-z][a-z0-9-]*)(.*)$""")
# Where the command's arguments end: a redirection or a second command. (A lone ``|`` is
# not one here: usage lines write alternatives as ``[--dayfirst | --monthfirst]``.)
_SHELL_END = re.compile(r"^(>>?|&&|;|2>&1|\d?>)")


def _invocations() -> list[tuple[str, list[str], str]]:
    """``(subcommand, options, line)`` for every ``xlcrm <subcommand> ...`` in the code."""
    found = []
    for page, text in _pages().items():
        for line in _code(text):
            m = _COMMAND.search(line)
            if not m:
                continue
            options = []
            for token in m.group(2).split():
                if _SHELL_END.match(token):
                    break
                token = token.strip("[]()`,.")
                if token.startswith("-") and len(token) > 1:
                    options.append(token.split("=")[0])
            found.append((m.group(1), options, f"{page}: {line.strip()}"))
    return found


def _subparsers() -> dict[str, object]:
    parser = build_parser()
    action = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return dict(action.choices)


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"
    return struct.unpack(">II", data[16:24])


def _load_script():
    spec = importlib.util.spec_from_file_location("render_guide_pictures", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("render_guide_pictures", module)
    spec.loader.exec_module(module)
    return module


# ------------------------------------------------------------------------------ pages


def test_the_guide_has_its_pages():
    assert {f"{p}.md" for p in PAGES} <= set(_pages())


def test_every_picture_shown_exists_and_every_picture_is_shown():
    shown = set()
    for page, text in _pages().items():
        for target in re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", text):
            assert target.startswith("img/"), f"{page} shows {target} from outside img/"
            assert (GUIDE / target).is_file(), f"{page} shows {target}, which does not exist"
            shown.add(Path(target).name)
    on_disk = {p.name for p in IMG.glob("*")}
    assert on_disk - shown == set(), f"pictures nobody shows: {sorted(on_disk - shown)}"
    assert shown


def test_the_render_script_draws_exactly_the_pictures_in_img():
    script = _load_script()
    drawn = [p.name for p in script.PICTURES]
    assert len(drawn) == len(set(drawn))
    assert set(drawn) == {p.name for p in IMG.glob("*.png")}


def test_the_pictures_are_small_enough_to_keep_in_the_repository():
    limit = _load_script().MAX_BYTES
    for png in IMG.glob("*.png"):
        width, height = _png_size(png)
        assert png.stat().st_size <= limit, png.name
        assert 300 <= width <= 1700 and 150 <= height <= 1800, (png.name, width, height)


def _slug(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_links_between_pages_resolve():
    pages = _pages()
    anchors = {
        name: {_slug(h) for h in re.findall(r"^#{1,6} (.+)$", text, flags=re.M)}
        for name, text in pages.items()
    }
    checked = 0
    for page, text in pages.items():
        for target in re.findall(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue  # a web address
            path, _, anchor = target.partition("#")
            if path in PENDING_LINKS and not (GUIDE / path).exists():
                continue
            file = (GUIDE / path) if path else GUIDE / page
            assert file.exists(), f"{page} links to {target}: no such file"
            if anchor and file.suffix == ".md" and file.parent == GUIDE:
                assert anchor in anchors[file.name], f"{page} links to {target}: no such heading"
            checked += 1
    assert checked > 20


# --------------------------------------------------------------------- the command


def test_every_subcommand_the_guide_names_exists():
    known = _subparsers()
    named = {sub for sub, _, _ in _invocations()}
    assert {"resegment", "check", "demo", "share", "import-transactions", "build-template"} <= named
    for sub, _, where in _invocations():
        assert sub in known or sub in PENDING_COMMANDS, f"no subcommand {sub!r} ({where})"


def test_every_option_the_guide_gives_a_subcommand_exists():
    known = _subparsers()
    for sub, options, where in _invocations():
        if sub in known:
            allowed = set(known[sub]._option_string_actions)
        else:
            allowed = PENDING_COMMANDS.get(sub, set())
        for option in options:
            assert option in allowed, f"xlcrm {sub} has no option {option} ({where})"


def test_every_subcommand_has_a_section_in_the_command_reference():
    text = _pages()["commands.md"]
    for sub in _subparsers():
        assert f"## xlcrm {sub}\n" in text, sub


def test_the_ribbon_buttons_the_guide_names_are_the_templates():
    xml = (ROOT / "workbook" / "customUI14.xml").read_text(encoding="utf-8")
    labels = re.findall(r'<button [^>]*label="([^"]+)"', xml)
    assert labels
    staff = _pages()["staff.md"]
    for label in labels:
        assert f"**{label}**" in staff, label


# ------------------------------------------------------------------ the functions


def test_every_worksheet_function_the_guide_names_exists():
    named = set(re.findall(r"\b((?:AHP|CRM)_[A-Z_]+)\b", _all_text()))
    assert named
    for name in named:
        assert name in udfs.__all__ and callable(getattr(functions, name, None)), name


def test_every_worksheet_function_has_a_section_with_its_arguments():
    text = _pages()["functions.md"]
    for name in udfs.__all__:
        m = re.search(rf"^### {name}\((.*)\)$", text, flags=re.M)
        assert m, f"functions.md has no section ### {name}(...)"
        params = inspect.signature(getattr(functions, name)).parameters.values()
        if any(p.kind is p.VAR_POSITIONAL for p in params):
            continue  # AHP_GROUP(matrix1, matrix2, ...)
        expected = [p.name if p.default is p.empty else f"[{p.name}]" for p in params]
        assert [a.strip() for a in m.group(1).split(",")] == expected, name


# --------------------------------------------------------------------- the results


def test_every_result_column_is_explained():
    text = _pages()["results.md"]
    columns = {
        *schema.SCORES_LEAD, *schema.SCORES_TAIL, *schema.SEGMENTS_COLUMNS,
        *ACTIVITY_COLUMNS, *schema.PROBLEMS_COLUMNS, *report.DASH_TYPES_COLUMNS,
        *report.DASH_ABC_COLUMNS, *report.DASH_CR_COLUMNS, *report.DASH_PARETO_COLUMNS,
        *report.DASH_KPI_COLUMNS, *report.DASH_IPA_COLUMNS, *VALIDATION_COLUMNS,
        *report.DASH_BREAKDOWN_COLUMNS,
    }  # fmt: skip
    columns -= {f"Type {t}" for t in range(2, 8)}  # written `Type 1` ... `Type 8`
    missing = sorted(c for c in columns if f"`{c}`" not in text)
    assert missing == [], f"results.md does not explain {missing}"
    for kpi in KPI_NAMES:
        assert f"| {kpi} |" in text, f"results.md does not define the KPI {kpi!r}"


def test_the_dashboard_blocks_are_where_the_guide_says():
    text = _pages()["results.md"]
    blocks = {
        "By customer type": report.DASH_TYPES_TITLE,
        "By ABC class": report.DASH_ABC_TITLE,
        "Consistency of judgments": report.DASH_CR_TITLE,
        "Do the segments differ?": report.DASH_TEST_TITLE,
        "Pareto curve": report.DASH_PARETO_TITLE,
        "KPIs": report.DASH_KPI_TITLE,
        "Customers at risk": report.DASH_RISK_TITLE,
        "Survey": report.DASH_SURVEY_TITLE,
        "Importance-performance": report.DASH_IPA_TITLE,
        "By account manager": report.DASH_MANAGER_TITLE,
        "By industry": report.DASH_INDUSTRY_TITLE,
        "By region": report.DASH_REGION_TITLE,
    }
    for label, anchor in blocks.items():
        m = re.search(rf"^\| {re.escape(label)} \| `([A-Z]+[0-9]+)` \|", text, flags=re.M)
        assert m, f"results.md's block table has no row for {label}"
        assert m.group(1) == report.a1(*anchor, absolute=False), label


# ------------------------------------------------------------------ the render script


def test_column_specs_and_print_areas():
    script = _load_script()
    assert script.column_numbers("C:D,F") == {3, 4, 6}
    assert script.column_numbers("AA") == {27}
    assert script._absolute("A1:T18") == "$A$1:$T$18"


def test_hiding_columns_splits_the_ranges_that_cover_them():
    script = _load_script()
    xml = ('<worksheet><cols><col width="12" customWidth="1" min="1" max="5" />'
           '<col width="30" customWidth="1" min="7" max="7" /></cols><sheetData/></worksheet>')
    out = script.hide_columns(xml, {2, 3, 6})
    cols = re.findall(r'<col min="(\d+)" max="(\d+)" ([^/]*?)\s*/>', out)
    assert [(int(a), int(b), "hidden" in rest) for a, b, rest in cols] == [
        (1, 1, False), (2, 3, True), (4, 5, False), (6, 6, True), (7, 7, False),
    ]
    assert 'width="12"' in cols[1][2] and 'width="30"' in cols[4][2]


def test_a_print_copy_shows_one_sheet_with_its_area_on_one_page():
    script = _load_script()
    data = TEMPLATE.read_bytes()
    from xlcrm.book.read import sheet_parts

    parts = sheet_parts(data)
    picture = script.Picture("x.png", "Judgments", "A1:G39", "Weight", hide="C")
    with zipfile.ZipFile(__import__("io").BytesIO(script.print_copy(data, parts, picture))) as z:
        book = z.read("xl/workbook.xml").decode()
        sheet = z.read(parts["Judgments"]).decode()
        names = zipfile.ZipFile(TEMPLATE).namelist()
        assert z.namelist() == names  # nothing added or lost
    states = {name: state for state, name in
              re.findall(r'<sheet state="(\w+)" name="([^"]+)"', book)}
    assert [n for n, s in states.items() if s == "visible"] == ["Judgments"]
    index = list(states).index("Judgments")
    assert (f'<definedName name="_xlnm.Print_Area" localSheetId="{index}">'
            "'Judgments'!$A$1:$G$39</definedName>") in book
    assert '<pageSetUpPr fitToPage="1" />' in sheet
    assert 'fitToWidth="1" fitToHeight="1"' in sheet
    assert "<f>" not in sheet and "<f " not in sheet  # values as Excel stores them
    assert re.search(r'<col min="3" max="3" [^/]*hidden="1"', sheet)


@pytest.mark.slow
@pytest.mark.libreoffice
@pytest.mark.skipif(shutil.which("soffice") is None or shutil.which("pdftoppm") is None,
                    reason="needs LibreOffice (soffice) and poppler-utils (pdftoppm)")
def test_the_render_script_draws_every_picture(tmp_path):
    script = _load_script()
    assert script.main(["--out", str(tmp_path / "img"), "--keep", str(tmp_path / "work")]) == 0
    drawn = sorted(p.name for p in (tmp_path / "img").glob("*.png"))
    assert drawn == sorted(p.name for p in script.PICTURES)
    for picture in script.PICTURES:
        png = tmp_path / "img" / picture.name
        width, height = _png_size(png)
        assert png.stat().st_size <= script.MAX_BYTES
        assert 300 <= width <= picture.max_width + 50 and height >= 150, picture.name
        # One PDF of one page per picture: the page count and the sheet are checked by the
        # script; a second look here would only repeat it.
        assert (tmp_path / "work" / (Path(picture.name).stem + ".pdf")).is_file()


# ------------------------------------------------------- examples and exit codes


def test_every_subcommand_help_ends_with_one_example_that_the_guide_gives(capsys):
    """`xlcrm --help` and `xlcrm X --help` show one example per command, each of which the
    guide's section on that command gives too (and whose options exist, see above)."""
    from xlcrm.cli import EXAMPLES, main

    commands = _pages()["commands.md"]
    assert set(EXAMPLES) == set(_subparsers())
    with pytest.raises(SystemExit):
        main(["--help"])
    top = capsys.readouterr().out
    for sub, example in EXAMPLES.items():
        assert example.split()[1] == sub
        assert f"  {example}\n" in top, sub
        with pytest.raises(SystemExit):
            main([sub, "--help"])
        text = capsys.readouterr().out
        assert text.count("example:") == 1 and f"  {example}\n" in text, sub
        section = commands.split(f"## xlcrm {sub}\n", 1)[1].split("\n## ", 1)[0]
        assert f"`{example}`" in section, f"commands.md, xlcrm {sub}, lacks `{example}`"


def _stated_codes() -> dict[str, int]:
    """What the guide says `check` returns, from the exit-code table and the analyst page."""
    commands = _pages()["commands.md"]
    table = commands.split("## Exit codes\n", 1)[1]
    rows = re.findall(r"^\| (\d) \| [^|]* \| ([^|]*) \|$", table, flags=re.M)
    by_phrase = {"no errors": "clean", "errors found": "errors", "cannot be read": "unreadable"}
    stated = {}
    for code, text in rows:
        for phrase, case in by_phrase.items():
            if text.startswith(phrase) or (phrase == "cannot be read" and phrase in text):
                stated[case] = int(code)
    analyst = " ".join(_pages()["analyst.md"].split())
    m = re.search(r"exit code (\d) means no errors, (\d) errors found, (\d) a file it could "
                  r"not read", analyst)
    assert m, "analyst.md no longer states check's exit codes where this test looks"
    assert (int(m[1]), int(m[2]), int(m[3])) == (stated["clean"], stated["errors"],
                                                  stated["unreadable"]), "pages disagree"
    return stated


def test_the_exit_codes_the_guide_states_for_check_are_the_commands(tmp_path, capsys):
    from xlcrm.book.demo_file import make_demo_workbook
    from xlcrm.cli import main

    stated = _stated_codes()
    assert set(stated) == {"clean", "errors", "unreadable"}
    unreadable = tmp_path / "notes.xlsm"
    unreadable.write_text("not a workbook", encoding="utf-8")
    assert main(["check", str(unreadable)]) == stated["unreadable"]
    assert main(["check", str(tmp_path / "missing.xlsm")]) == stated["unreadable"]
    demo = tmp_path / "demo.xlsm"
    make_demo_workbook(demo, customers=40)
    assert main(["check", str(demo)]) == stated["errors"]  # the planted mistakes
    clean = tmp_path / "clean.xlsm"
    from xlcrm import schema
    from xlcrm.book.append import append_rows
    from xlcrm.book.template import build_workbook
    from xlcrm.demo import make_ledger

    ledger = make_ledger(40, dirty=False, type_computed=False)
    append_rows(build_workbook(), clean, {schema.CUSTOMERS: ledger.customers,
                                          schema.TRANSACTIONS: ledger.transactions})
    assert main(["check", str(clean), "--as-of", "2026-10-31"]) == stated["clean"]
    capsys.readouterr()
