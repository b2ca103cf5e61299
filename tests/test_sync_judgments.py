"""`xlcrm sync-judgments`: the Judgments sheet rebuilt from an analyst-edited Indicators sheet.

The workbooks are the template filled with a small synthetic ledger; the analyst's edits
are made as Excel would store them: the Indicators sheet replaced by one laid out for the
edited hierarchy (everything else untouched) and typed judgments written into their cells.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from fixtures.validate import TOOL as VALIDATOR
from fixtures.validate import validator_errors
from python_calamine import CalamineWorkbook

from tests.fixtures.books import raw_parts, read_parts
from xlcrm import schema
from xlcrm.book.read import sheet_parts
from xlcrm.book.ribbon import write_zip
from xlcrm.book.settings import find_matrix_blocks, judgments_from_grid, settings_from_grids
from xlcrm.book.sync_judgments import parse_renames, plan_sync
from xlcrm.book.template import build_workbook, judgment_layout
from xlcrm.cli import main
from xlcrm.demo import make_ledger
from xlcrm.errors import InputError
from xlcrm.value.ahp import ahp, parse_matrix
from xlcrm.value.hierarchy import Hierarchy, Indicator, default_hierarchy, default_judgments


def ones(h: Hierarchy) -> dict:
    out: dict = {"groups": np.ones((len(h.groups),) * 2)}
    for g in h.groups:
        n = len(h.by_group[g])
        out[g] = np.ones((n, n)) if n > 1 else None
    return out


LEDGER = make_ledger(40, seed=3, dirty=False)


@pytest.fixture(scope="module")
def base() -> bytes:
    """The template with 40 customers and their orders (as an analyst's workbook starts)."""
    return build_workbook(LEDGER)


def set_judgment(book: bytes, ref: str, value: str | float) -> bytes:
    """``value`` typed into ``Judgments!ref`` (text as Excel stores text, a number as a number)."""
    p = read_parts(book)
    part = sheet_parts(book)[schema.JUDGMENTS]
    xml = p[part].decode()
    m = re.search(rf'<c r="{ref}"( s="\d+")?[^>]*>.*?</c>', xml)
    assert m, ref
    style = m.group(1) or ""
    cell = (f'<c r="{ref}"{style} t="inlineStr"><is><t>{value}</t></is></c>'
            if isinstance(value, str) else f'<c r="{ref}"{style}><v>{value!r}</v></c>')
    p[part] = (xml[: m.start()] + cell + xml[m.end():]).encode()
    return write_zip(p)


def edit_indicators(book: bytes, hierarchy: Hierarchy, *, ledger=LEDGER) -> bytes:
    """The Indicators sheet laid out for ``hierarchy``; every other part as it was."""
    other = build_workbook(ledger, hierarchy=hierarchy, judgments=ones(hierarchy))
    p, q = read_parts(book), read_parts(other)
    assert p["xl/styles.xml"] == q["xl/styles.xml"]  # the same cell formats
    p[sheet_parts(book)[schema.INDICATORS]] = q[sheet_parts(other)[schema.INDICATORS]]
    return write_zip(p)


def renamed(h: Hierarchy, old: str, new: str) -> Hierarchy:
    return Hierarchy(tuple(replace(i, name=new) if i.name == old else i for i in h.indicators))


def judgments_grid(path: Path) -> list[list]:
    return CalamineWorkbook.from_path(str(path)).get_sheet_by_name(schema.JUDGMENTS).to_python()


def block_values(path: Path) -> dict[str, list[list]]:
    return {k: b.values for k, b in find_matrix_blocks(judgments_grid(path)).items()}


def uppers(values: list[list]) -> list:
    return [row[i + 1:] for i, row in enumerate(values)]


def typed_cell(path: Path, ref: str) -> bytes:
    """The stored XML of one Judgments cell (its value as Excel reads it)."""
    parts = read_parts(path)
    xml = parts[sheet_parts(path.read_bytes())[schema.JUDGMENTS]].decode()
    m = re.search(rf'<c r="{ref}"[^>]*>(.*?)</c>', xml)
    assert m, ref
    return m.group(1).encode()


def sync(path: Path, *args: str) -> int:
    return main(["sync-judgments", str(path), *args])


def assert_weights_agree(path: Path) -> None:
    """The cached Weight and CR cells of every block equal xlcrm.value.ahp on its judgments."""
    grid = judgments_grid(path)
    for block in find_matrix_blocks(grid).values():
        n = len(block.items)
        if n == 1:
            continue
        expected = ahp(block.values)
        weights = [grid[block.top + i][block.left + n + 1] for i in range(n)]
        np.testing.assert_allclose(weights, expected.weights, atol=1e-11)
        cr_row = block.top + n + 1
        assert grid[cr_row][0] == "CR"
        assert grid[cr_row][1] == pytest.approx(expected.cr, abs=1e-11)


def assert_only_judgments_changed(before: Path, after: Path, *, styles: bool = False) -> None:
    old, new = raw_parts(before), raw_parts(after)
    assert list(old) == list(new)
    part = sheet_parts(before.read_bytes())[schema.JUDGMENTS]
    allowed = {part} | ({"xl/styles.xml"} if styles else set())
    assert {n for n in old if old[n] != new[n]} <= allowed
    assert old[part] != new[part]


# --------------------------------------------------------------------------------------------
# Without a sync: an error naming the block and the names, never equal weights


def test_renamed_indicator_stops_resegment_and_check_names_it(base, tmp_path, capsys):
    path = tmp_path / "book.xlsm"
    path.write_bytes(edit_indicators(base, renamed(default_hierarchy(), "Purchase growth",
                                                   "Purchase growth rate")))
    before = path.read_bytes()
    assert main(["check", str(path), "--json"]) == 1
    (problem,) = json.loads(capsys.readouterr().out)["problems"]
    assert problem["severity"] == "error"
    assert (problem["sheet"], problem["cell"]) == ("Judgments", "A22")  # the Potential block
    assert "'Purchase growth' is not on Indicators" in problem["message"]
    assert "'Purchase growth rate' has no judgments" in problem["message"]
    assert "sync-judgments" in problem["fix"] and "Sync judgments" in problem["fix"]
    assert main(["resegment", str(path)]) == 2
    err = capsys.readouterr().err
    assert "Judgments!A22" in err and "Purchase growth rate" in err
    assert path.read_bytes() == before  # nothing written


def test_added_group_without_block_is_an_error():
    h = default_hierarchy()
    four = Hierarchy((*h.indicators, Indicator("Service", "Complaints", "Complaints",
                                                "quantitative", "minmax", "cost")))
    grid = [list(r) for r in _template_judgments()]
    _, problems = judgments_from_grid(grid, four)
    messages = [p.message for p in problems if p.severity == "error"]
    assert any("compares Qualification, Potential, Contribution" in m and "'Service' has no "
               "judgments" in m for m in messages)


def _template_judgments() -> list[list]:
    data = build_workbook()
    return CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_name(
        schema.JUDGMENTS).to_python()


# --------------------------------------------------------------------------------------------
# The sync keeps every judgment whose two names still exist


def test_rename_keeps_every_judgment_and_the_rest_of_the_zip(base, tmp_path, capsys):
    book = set_judgment(base, "D25", "1/4")  # Potential: Industry outlook vs Wallet headroom
    before = tmp_path / "before.xlsm"
    before.write_bytes(edit_indicators(book, renamed(default_hierarchy(), "Purchase growth",
                                                     "Purchase growth rate")))
    old = block_values(before)
    path = tmp_path / "book.xlsm"
    shutil.copy(before, path)
    assert sync(path, "--rename", "Purchase growth=Purchase growth rate") == 0
    assert "Potential: 6 of 6 judgments kept" in capsys.readouterr().out
    assert_only_judgments_changed(before, path)
    new = block_values(path)
    # The same judgments in the same cells (the old lower cells still cache the old 1/3:
    # the edit was made without recalculation; the rebuilt ones are right).
    assert {k: uppers(v) for k, v in new.items()} == {k: uppers(v) for k, v in old.items()}
    assert new["Potential"][2][1] == 4.0
    assert typed_cell(path, "D25") == typed_cell(before, "D25") == b"<is><t>1/4</t></is>"
    grid = judgments_grid(path)
    assert grid[22][1:5] == ["Purchase growth rate", "Industry outlook", "Wallet headroom",
                             "Satisfaction"]
    assert_weights_agree(path)
    assert main(["check", str(path), "--json"]) == 0
    problems = json.loads(capsys.readouterr().out)["problems"]
    assert [p for p in problems if p["sheet"] == "Judgments"] == []
    assert main(["resegment", str(path), "--quiet", "--json"]) == 0
    weights = json.loads(capsys.readouterr().out)["weights"]
    potential = parse_matrix(new["Potential"])
    local = {w["Indicator"]: w["LocalWeight"] for w in weights if w["Group"] == "Potential"}
    np.testing.assert_allclose(list(local.values()), ahp(potential).weights, atol=1e-9)


def test_rename_without_mapping_leaves_new_pairs_blank_and_flagged(base, tmp_path, capsys):
    path = tmp_path / "book.xlsm"
    path.write_bytes(edit_indicators(base, renamed(default_hierarchy(), "Purchase growth",
                                                   "Purchase growth rate")))
    assert sync(path) == 0
    out = capsys.readouterr().out
    assert "3 of 6 judgments kept" in out and "no longer compared: Purchase growth" in out
    values = block_values(path)["Potential"]
    assert values[0][1:] == ["", "", ""]  # the renamed item's pairs are new: blank
    old = default_judgments()["Potential"]
    assert parse_matrix(values)[1:, 1:] == pytest.approx(old[1:, 1:])  # the others kept
    # Its row is compared with nothing yet: check says which cell to type, the run stops.
    assert main(["check", str(path), "--json"]) == 1
    problems = json.loads(capsys.readouterr().out)["problems"]
    errors = [p for p in problems if p["severity"] == "error"]
    assert [(p["sheet"], p["cell"]) for p in errors] == [("Judgments", "C24")]
    assert "{Purchase growth rate}" in errors[0]["message"]
    assert len([p for p in problems if "no judgment" in p["message"]]) == 3
    # One typed judgment links it; Harker's method estimates the other two (flagged).
    path.write_bytes(set_judgment(path.read_bytes(), "C24", "3"))
    assert main(["check", str(path), "--json"]) == 0
    problems = json.loads(capsys.readouterr().out)["problems"]
    assert {p["cell"] for p in problems if "Harker" in p["message"]} == {"D24", "E24"}


def test_added_indicator_gets_default_judgments(base, tmp_path, capsys):
    h = default_hierarchy()
    added = Indicator("Contribution", "Order count", "Orders", "quantitative", "percentile",
                      "benefit")
    path = tmp_path / "book.xlsm"
    path.write_bytes(edit_indicators(base, Hierarchy((*h.indicators, added))))
    assert sync(path, "--default", "1") == 0
    values = block_values(path)["Contribution"]
    assert [row[4] for row in values[:4]] == ["1", "1", "1", "1"]
    kept = parse_matrix(values)[:4, :4]
    np.testing.assert_allclose(kept, default_judgments()["Contribution"], rtol=1e-12)
    assert_weights_agree(path)
    capsys.readouterr()
    assert main(["check", str(path), "--json"]) == 0


def test_removed_indicator_keeps_the_other_judgments(base, tmp_path, capsys):
    h = default_hierarchy()
    fewer = Hierarchy(tuple(i for i in h.indicators if i.name != "Industry outlook"))
    before = tmp_path / "before.xlsm"
    before.write_bytes(edit_indicators(base, fewer))
    path = tmp_path / "book.xlsm"
    shutil.copy(before, path)
    assert sync(path, "--dry-run", "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["written"] is False and path.read_bytes() == before.read_bytes()
    potential = next(lv for lv in report["levels"] if lv["level"] == "Potential")
    assert potential["dropped"] == ["Industry outlook"] and potential["kept"] == 3
    assert sync(path) == 0
    assert "no longer compared: Industry outlook" in capsys.readouterr().out
    values = parse_matrix(block_values(path)["Potential"])
    keep = [0, 2, 3]
    np.testing.assert_allclose(values, default_judgments()["Potential"][np.ix_(keep, keep)],
                               rtol=1e-12)
    assert_weights_agree(path)
    assert_only_judgments_changed(before, path)
    assert main(["check", str(path)]) == 0


def test_fourth_group_gets_blocks_and_typed_values_stay(base, tmp_path, capsys):
    h = default_hierarchy()
    service = [Indicator("Service", name, col, "quantitative", "minmax", "benefit")
               for name, col in (("Order count", "Orders"), ("Recency", "RecencyDays"))]
    book = set_judgment(base, "C5", 0.25)  # Groups: a judgment typed as a number
    path = tmp_path / "book.xlsm"
    path.write_bytes(edit_indicators(book, Hierarchy((*h.indicators, *service))))
    assert sync(path) == 0
    out = capsys.readouterr().out
    assert "Groups: 3 of 6 judgments kept" in out and "Service: new block" in out
    assert typed_cell(path, "C5") == b"<v>0.25</v>"  # still the number the analyst typed
    blocks = find_matrix_blocks(judgments_grid(path))
    assert list(blocks) == ["Groups", "Qualification", "Potential", "Contribution", "Service"]
    assert blocks["Groups"].items[-1] == "Service"
    assert [row[3] for row in blocks["Groups"].values[:3]] == ["", "", ""]
    layout = judgment_layout(Hierarchy((*h.indicators, *service)))
    assert [(b.level, b.title_row) for b in layout] == [
        (k, blocks[k].top - 1) for k in blocks]


def test_plan_of_a_sheet_in_step_is_unchanged():
    assert plan_sync(default_hierarchy(), _template_judgments()).unchanged
    moved = renamed(default_hierarchy(), "Satisfaction", "Service rating")
    assert not plan_sync(moved, _template_judgments(),
                         renames=parse_renames(["Satisfaction=Service rating"])).unchanged


def test_swapped_items_keep_their_judgment_as_its_reciprocal():
    h = default_hierarchy()
    order = ("Potential", "Qualification", "Contribution")
    moved = Hierarchy(tuple(i for g in order for i in h.indicators if i.group == g))
    plan = plan_sync(moved, _template_judgments())
    groups = plan.typed["groups"]
    # Qualification vs Potential was typed 1/2: Potential vs Qualification is 2.
    assert groups[0][1] == "2"
    assert groups[1][2] == "1/3"  # Qualification vs Contribution kept as typed
    assert plan.levels[0].kept == 2 and plan.levels[0].reversed == 1


def test_sync_twice_gives_the_same_sheet(base, tmp_path):
    path = tmp_path / "book.xlsm"
    path.write_bytes(edit_indicators(base, renamed(default_hierarchy(), "Satisfaction",
                                                   "Customer satisfaction")))
    assert sync(path, "--rename", "satisfaction=Customer satisfaction") == 0
    first = path.read_bytes()
    assert sync(path) == 0
    assert read_parts(path) == read_parts(first)


def test_renamed_group_keeps_its_block_and_groups_row(base, tmp_path, capsys):
    h = default_hierarchy()
    moved = Hierarchy(tuple(replace(i, group="Prospects") if i.group == "Potential" else i
                            for i in h.indicators))
    path = tmp_path / "book.xlsm"
    path.write_bytes(edit_indicators(base, moved))
    assert sync(path, "--rename", "Potential=Prospects") == 0
    assert "from the block 'Potential'" in capsys.readouterr().out
    blocks = block_values(path)
    np.testing.assert_allclose(parse_matrix(blocks["Prospects"]),
                               default_judgments()["Potential"], rtol=1e-12)
    np.testing.assert_allclose(parse_matrix(blocks["Groups"]), default_judgments()["groups"],
                               rtol=1e-12)


@pytest.mark.parametrize("sizes", [(2, 1), (15, 1, 3, 2, 2, 2, 2, 2, 2)])
def test_any_shape_from_2_to_9_groups(tmp_path, sizes):
    indicators = tuple(
        Indicator(f"G{g}", f"I{g}.{k}", "Orders", "quantitative", "minmax", "benefit")
        for g, n in enumerate(sizes) for k in range(n)
    )
    h = Hierarchy(indicators)
    path = tmp_path / "book.xlsm"
    path.write_bytes(edit_indicators(build_workbook(), h, ledger=None))
    assert sync(path, "--default", "2") == 0
    grid = judgments_grid(path)
    settings = settings_from_grids(
        CalamineWorkbook.from_path(str(path)).get_sheet_by_name(schema.INDICATORS).to_python(),
        grid, None)
    assert [p for p in settings.problems if p.sheet == schema.JUDGMENTS] == []
    # A group of one indicator has its 1x1 block (no judgment, no weight to compute).
    assert list(find_matrix_blocks(grid)) == ["Groups", *(f"G{g}" for g in range(len(sizes)))]
    assert_weights_agree(path)


def test_bad_rename_and_default_are_refused_before_writing(base, tmp_path, capsys):
    with pytest.raises(InputError, match="Old=New"):
        parse_renames(["Growth"])
    path = tmp_path / "book.xlsm"
    path.write_bytes(base)
    assert sync(path, "--default", "11") == 2
    assert "not a judgment" in capsys.readouterr().err
    assert path.read_bytes() == base


# --------------------------------------------------------------------------------------------
# Other programs: the validator and LibreOffice


def test_validator_finds_no_new_error(base, tmp_path):
    before = tmp_path / "before.xlsm"
    before.write_bytes(edit_indicators(base, renamed(default_hierarchy(), "Purchase growth",
                                                     "Purchase growth rate")))
    path = tmp_path / "book.xlsm"
    shutil.copy(before, path)
    assert sync(path) == 0
    errors = validator_errors(path, before)
    assert len(errors[path]) <= len(errors[before])


def _libreoffice(src: Path, out_dir: Path, fmt: str = "xlsm") -> Path:
    soffice = shutil.which("soffice")
    if soffice is None:
        pytest.skip("LibreOffice (soffice) is not installed")
    profile = out_dir / "profile"
    subprocess.run(
        [soffice, f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to",
         fmt, "--outdir", str(out_dir), str(src)],
        check=True, capture_output=True, timeout=180,
    )
    return out_dir / f"{src.stem}.{fmt}"


def test_libreoffice_saved_workbook_syncs_and_opens(base, tmp_path, capsys):
    """A workbook saved by LibreOffice (its own style numbering): the sheet's formats are
    added to its styles, LibreOffice opens the result and its reciprocals agree."""
    edited = tmp_path / "edited.xlsm"
    edited.write_bytes(edit_indicators(set_judgment(base, "D5", "4"),
                                       renamed(default_hierarchy(), "Wallet headroom",
                                               "Share of wallet")))
    saved = _libreoffice(edited, tmp_path / "lo")
    path = tmp_path / "book.xlsm"
    shutil.copy(saved, path)
    assert sync(path, "--rename", "Wallet headroom=Share of wallet") == 0
    assert_only_judgments_changed(saved, path, styles=True)
    assert_weights_agree(path)
    blocks = block_values(path)
    assert parse_matrix(blocks["Groups"])[0, 2] == 4.0
    if VALIDATOR.exists():
        errors = validator_errors(path, saved)
        assert len(errors[path]) <= len(errors[saved])
    reopened = _libreoffice(path, tmp_path / "lo2", "xlsx")
    again = find_matrix_blocks(CalamineWorkbook.from_path(str(reopened)).get_sheet_by_name(
        schema.JUDGMENTS).to_python())
    for key, block in again.items():
        np.testing.assert_allclose(parse_matrix(block.values), parse_matrix(blocks[key]),
                                   rtol=1e-9)
    with zipfile.ZipFile(path) as z:
        sheet = z.read(sheet_parts(path.read_bytes())[schema.JUDGMENTS]).decode()
    assert sheet.count("<dataValidation ") == 1 and "Saaty scale" in sheet
    # Its formats are now in the workbook's styles: a second sync changes nothing.
    first = path.read_bytes()
    assert sync(path) == 0
    assert read_parts(path) == read_parts(first)


# --------------------------------------------------------------------------------------------
# The ribbon: the same rebuild on the open workbook (xlwings' remote engine)


def test_ribbon_rebuilds_the_open_sheet_as_the_command_does(base, tmp_path, monkeypatch):
    from fixtures.remote import enable_remote_engine, payload_from, vba_client_actions, writes

    import udfs.ribbon as ribbon

    remote = enable_remote_engine(monkeypatch)
    edited = edit_indicators(
        set_judgment(base, "D25", "1/4"),
        renamed(default_hierarchy(), "Purchase growth", "Purchase growth rate"),
    )
    path = tmp_path / "book.xlsm"
    path.write_bytes(edited)
    payload = payload_from(path)
    book = remote(payload)
    plan = ribbon.sync_judgments(book, renames="Purchase growth=Purchase growth rate")
    assert plan is not None and plan.levels[2].kept == 6
    actions = book.json()["actions"]
    names = [s["name"] for s in payload["sheets"]]
    known = vba_client_actions()
    for a in actions:
        assert a["func"] in known, a["func"]
        assert a["sheet_position"] is None or names[a["sheet_position"]] == "Judgments", a
    assert actions[-1]["func"] == "alert" and "Save the workbook" in actions[-1]["args"][0]
    written = writes(actions, payload)["Judgments"]

    # The command on the same file: every value cell equal, every formula where it has one.
    assert sync(path, "--rename", "Purchase growth=Purchase growth rate") == 0
    expected = judgments_grid(path)
    layout = {b.level: b for b in judgment_layout(plan.hierarchy)}
    for r, row in enumerate(written):
        for c, value in enumerate(row):
            want = expected[r][c] if r < len(expected) and c < len(expected[r]) else ""
            if isinstance(value, str) and value.startswith("="):
                assert value.startswith(("=IF(", "=INDEX(AHP_WEIGHTS(", "=AHP_CR(")), value
                continue
            assert (value if value is not None else "") == want, (r, c, value, want)
    potential = layout["Potential"]
    assert written[potential.first_row - 1][potential.weight_col - 1] == \
        f"=INDEX(AHP_WEIGHTS({potential.matrix_ref}),1)"
    assert written[24][3] == "1/4"  # D25 kept as typed

    # Formats, drop-down and CR colours come from the old sheet's own cells of each kind:
    # the upper-triangle prototype (old C5) is parked, then copied onto every new upper cell.
    copies = [(a["start_row"], a["start_column"], a["row_count"], a["column_count"], a["args"])
              for a in actions if a["func"] == "copyRange"]
    park = next(args for r, c, _, _, args in copies if (r, c) == (4, 2))[1]
    upper_targets = {args[1] for r, c, _, _, args in copies
                     if f"{chr(65 + c)}{r + 1}" == park.replace("$", "")}
    want = set()
    for b in layout.values():
        for i in range(b.n - 1):
            first, last = b.first_col + i + 1, b.first_col + b.n - 1
            a1 = f"${chr(64 + first)}${b.first_row + i}"
            want.add(a1 if first == last else f"{a1}:${chr(64 + last)}${b.first_row + i}")
    assert upper_targets == want
    cleared = [a for a in actions if a["func"] == "rangeClear"]
    assert len(cleared) == 2  # the old layout, then the parking row


def test_ribbon_refuses_a_sheet_it_cannot_take_formats_from(tmp_path, monkeypatch):
    from fixtures.remote import enable_remote_engine, payload_from

    import udfs.ribbon as ribbon

    remote = enable_remote_engine(monkeypatch)
    path = tmp_path / "book.xlsm"
    path.write_bytes(edit_indicators(build_workbook(), renamed(default_hierarchy(), "Satisfaction",
                                                               "Service rating"), ledger=None))
    payload = payload_from(path)
    for sheet in payload["sheets"]:
        if sheet["name"] == "Judgments":
            sheet["values"] = [["typed over by hand"]]
    book = remote(payload)
    assert ribbon.sync_judgments(book) is None
    (alert,) = book.json()["actions"]
    assert alert["func"] == "alert" and "xlcrm sync-judgments" in alert["args"][0]


def test_ribbon_check_lists_the_stale_block_on_the_problems_sheet(base, tmp_path, monkeypatch):
    from fixtures.remote import enable_remote_engine, payload_from, writes

    import udfs.ribbon as ribbon

    remote = enable_remote_engine(monkeypatch)
    path = tmp_path / "book.xlsm"
    path.write_bytes(edit_indicators(base, renamed(default_hierarchy(), "Satisfaction",
                                                   "Service rating")))
    payload = payload_from(path)
    book = remote(payload)
    problems = ribbon.check(book)
    assert [(p.severity, p.sheet, p.cell) for p in problems] == [("error", "Judgments", "A22")]
    rows = writes(book.json()["actions"], payload)["Problems"]
    assert any("'Service rating' has no judgments" in str(v) for row in rows for v in row)


def test_a_calculation_chain_listing_judgments_is_dropped(base, tmp_path):
    """As Excel saves a workbook: a calcChain naming the old formula cells of Judgments
    would make Excel repair the file; it goes, with its relationship and type."""
    p = read_parts(edit_indicators(base, renamed(default_hierarchy(), "Satisfaction",
                                                 "Service rating")))
    sheet_id = re.search(rb'<sheet name="Judgments" sheetId="(\d+)"', p["xl/workbook.xml"])
    p["xl/calcChain.xml"] = (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        b'<calcChain xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        b'<c r="B9" i="' + sheet_id.group(1) + b'"/><c r="C9"/></calcChain>')
    rels = p["xl/_rels/workbook.xml.rels"]
    p["xl/_rels/workbook.xml.rels"] = rels.replace(
        b"</Relationships>",
        b'<Relationship Id="rId99" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        b'relationships/calcChain" Target="calcChain.xml"/></Relationships>')
    p["[Content_Types].xml"] = p["[Content_Types].xml"].replace(
        b"</Types>",
        b'<Override PartName="/xl/calcChain.xml" ContentType="application/vnd.openxmlformats-'
        b'officedocument.spreadsheetml.calcChain+xml"/></Types>')
    before = tmp_path / "before.xlsm"
    before.write_bytes(write_zip(p))
    path = tmp_path / "book.xlsm"
    shutil.copy(before, path)
    assert sync(path, "--rename", "Satisfaction=Service rating") == 0
    old, new = raw_parts(before), raw_parts(path)
    assert set(old) - set(new) == {"xl/calcChain.xml"}
    changed = {n for n in new if old[n] != new[n]}
    assert changed == {sheet_parts(before.read_bytes())[schema.JUDGMENTS],
                       "xl/_rels/workbook.xml.rels", "[Content_Types].xml"}
    after = read_parts(path)
    assert b"calcChain" not in after["xl/_rels/workbook.xml.rels"]
    assert b"calcChain" not in after["[Content_Types].xml"]
    assert_weights_agree(path)
