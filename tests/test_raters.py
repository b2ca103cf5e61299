"""Several raters: one "Judgments <rater>" sheet each, combined by the run (issue #14).

Known answers for the AHP-OS consensus, the weighted aggregation, and a workbook built
from the template with three raters, resegmented by the command line: the Dashboard shows
each rater's CR per level, the aggregate weights and the consensus.
"""

from __future__ import annotations

import json
import math

import numpy as np
import openpyxl
import pytest
from python_calamine import CalamineWorkbook

from tests.fixtures.books import copy_sheet, read_parts, retype
from xlcrm import schema
from xlcrm.book.read import read_grid
from xlcrm.book.ribbon import write_zip
from xlcrm.book.template import build_workbook
from xlcrm.book.write import write_result_sheets
from xlcrm.cli import main
from xlcrm.demo import make_ledger
from xlcrm.errors import InputError
from xlcrm.report import DASH_RATERS_HEADER, DASH_REPAIRS_HEADER
from xlcrm.value.ahp import aggregate_judgments, ahp, ahp_consensus, consensus_band
from xlcrm.value.hierarchy import default_hierarchy, default_judgments

# --------------------------------------------------------------------------------------
# The consensus indicator


def test_consensus_is_one_for_identical_raters_and_zero_at_its_floor() -> None:
    assert ahp_consensus([[0.5, 0.3, 0.2]] * 3) == pytest.approx(1.0)
    # The floor AHP-OS corrects for: each of n raters puts a different item 9 times above
    # every other (so the mean is uniform): no consensus at all.
    n = 4
    extreme = [[9.0 if i == k else 1.0 for i in range(n)] for k in range(n)]
    assert ahp_consensus(extreme) == pytest.approx(0.0, abs=1e-12)


def test_consensus_by_hand_for_two_raters_and_two_items() -> None:
    """(0.75, 0.25) vs (0.25, 0.75), worked out from AHP-OS's formulas (AhpGroup.php).

    H_alpha = -(0.75 ln 0.75 + 0.25 ln 0.25) = 0.56233; H_gamma = ln 2 = 0.69315;
    D = exp(0.13081) = 1.13975; H_alpha,min = H(0.9, 0.1) = 0.32508;
    c = exp(0.69315 - 0.32508) = 1.44493; S* = (0.87738 - 0.69207) / 0.30793 = 0.6018.
    """
    s = ahp_consensus([[0.75, 0.25], [0.25, 0.75]])
    assert s == pytest.approx(0.6018, abs=1e-4)
    assert consensus_band(s) == "low"
    assert [consensus_band(x) for x in (0.6499, 0.65, 0.7499, 0.75)] == [
        "low", "moderate", "moderate", "high"]


def test_weighted_aggregation_is_the_weighted_geometric_mean() -> None:
    a = [[1, 2], [None, 1]]
    b = [[1, 8], [None, 1]]
    g = aggregate_judgments([a, b], weights=[3, 1])
    assert g.matrix[0, 1] == pytest.approx(2 ** 0.75 * 8 ** 0.25)
    assert g.matrix[1, 0] == pytest.approx(1 / g.matrix[0, 1])
    np.testing.assert_allclose(g.rater_weights, [0.75, 0.25])
    assert aggregate_judgments([a, b]).matrix[0, 1] == pytest.approx(4.0)  # equal: sqrt 16
    # A judgment only one rater gave is that rater's, whatever the weights.
    c = [[1, 2, None], [None, 1, 3], [None, None, 1]]
    d = [[1, 8, 5], [None, 1, None], [None, None, 1]]
    g = aggregate_judgments([c, d], weights=[1, 9])
    assert g.matrix[1, 2] == pytest.approx(3.0) and g.matrix[0, 2] == pytest.approx(5.0)
    with pytest.raises(InputError, match="rater weights must be 2 positive numbers"):
        aggregate_judgments([a, b], weights=[1, 0])
    assert math.isnan(aggregate_judgments([a]).consensus)


# --------------------------------------------------------------------------------------
# A workbook with three raters

LEDGER = make_ledger(60, seed=5, dirty=False)


ANNA = {"Groups": [[None, "1", "1/2"], [None, None, "1/2"], [None] * 3]}
BEN = {
    "Groups": [[None, "3", "5"], [None, None, "2"], [None] * 3],
    "Potential": [[None, "5", "1/5", "1/3"], [None, None, "7", "1/7"],
                  [None, None, None, "1/4"], [None] * 4],
}


def _three_raters(tmp_path, weights: list[list] | None = None):
    """The template with 60 customers; Anna and Ben copy the Judgments sheet as their own.

    Anna agrees with the template but for the groups; Ben contradicts it on the groups
    (Contribution least important) and types an inconsistent Potential block.
    """
    tmp_path.mkdir(parents=True, exist_ok=True)
    book = build_workbook(LEDGER)
    book = retype(copy_sheet(book, schema.JUDGMENTS, "Judgments Anna"), "Judgments Anna", ANNA)
    book = retype(copy_sheet(book, schema.JUDGMENTS, "Judgments Ben"), "Judgments Ben", BEN)
    path = tmp_path / "raters.xlsm"
    path.write_bytes(book)
    if weights is not None:
        indicators = [list(r) for r in read_grid(path, schema.INDICATORS)]
        width = max(10, *(len(r) for r in indicators))
        indicators = [r + [None] * (width - len(r)) for r in indicators]
        start = len(indicators) + 1
        indicators += [[None] * width for _ in range(len(weights) + 1)]
        for k, row in enumerate(weights):
            indicators[start + k][8:10] = row
        # The analyst types the block; a run never writes Indicators, so the test does.
        written = tmp_path / "weighted.xlsm"
        write_result_sheets(path, written, {schema.INDICATORS: indicators},
                            owned={schema.INDICATORS})
        written.replace(path)
    return path


def _dashboard(path) -> list[list]:
    return CalamineWorkbook.from_path(str(path)).get_sheet_by_name(
        schema.DASHBOARD).to_python(skip_empty_area=False)


def test_three_raters_show_each_cr_the_aggregate_and_the_consensus(tmp_path, capsys) -> None:
    path = _three_raters(tmp_path)
    assert main(["resegment", str(path), "--quiet"]) == 0
    dash = _dashboard(path)
    top = DASH_RATERS_HEADER[0]
    header = dash[top][:10]
    assert header == ["Level", "n", "Weights", "CR Judgments", "CR Judgments Anna",
                      "CR Judgments Ben", "CR aggregate", "Consensus", "Agreement", ""]
    rows = {r[0]: r for r in dash[top + 1: top + 5]}
    assert list(rows) == ["Groups", "Qualification", "Potential", "Contribution"]

    h = default_hierarchy()
    template = default_judgments()
    ben_groups = [[1, 3, 5], [None, 1, 2], [None, None, 1]]
    anna_groups = [[1, 1, "1/2"], [None, 1, "1/2"], [None, None, 1]]
    g = rows["Groups"]
    assert g[3] == pytest.approx(ahp(template["groups"]).cr)
    assert g[4] == pytest.approx(ahp(anna_groups).cr)
    assert g[5] == pytest.approx(ahp(ben_groups).cr)
    agg = aggregate_judgments([template["groups"], anna_groups, ben_groups])
    assert g[6] == pytest.approx(agg.result.cr)
    assert g[2] == ", ".join(f"{x} {w:.3f}" for x, w in zip(h.groups, agg.result.weights,
                                                                strict=True))
    priorities = [r.weights for r in agg.rater_results]
    assert g[7] == pytest.approx(ahp_consensus(priorities))
    assert g[8] == consensus_band(g[7])
    # Qualification: the three sheets agree exactly: full consensus.
    assert rows["Qualification"][7] == pytest.approx(1.0) and rows["Qualification"][8] == "high"
    # Ben's Potential block is inconsistent: its repair is listed for his sheet.
    assert rows["Potential"][5] >= 0.10
    rep = dash[DASH_REPAIRS_HEADER[0]: DASH_REPAIRS_HEADER[0] + 3]
    assert rep[0][:8] == ["Sheet", "Level", "Row", "Column", "Typed", "Suggested", "CR",
                          "CR after"]
    assert rep[1][:2] == ["Judgments Ben", "Potential"] and rep[1][7] < rep[1][6]
    assert len(rep) == 2 or rep[2][0] in ("", None)  # the other sheets are consistent

    # CRs and consensus show three decimals (the template's formats, kept by the writer).
    sheet = openpyxl.load_workbook(path)[schema.DASHBOARD]
    assert {sheet.cell(row=top + 2, column=c).number_format for c in range(4, 9)} == {"0.000"}
    assert sheet.cell(row=DASH_REPAIRS_HEADER[0] + 2, column=8).number_format == "0.000"
    # Check names Ben's sheet for his inconsistent block, and only his.
    capsys.readouterr()
    main(["check", str(path), "--json"])
    found = json.loads(capsys.readouterr().out)["problems"]
    rater_warnings = [p for p in found if (p["sheet"] or "").startswith("Judgments ")]
    assert [(p["sheet"], p["message"][:40]) for p in rater_warnings] == [
        ("Judgments Ben", "Potential judgments on Judgments Ben are")]


def test_rater_weights_table_moves_the_aggregate(tmp_path) -> None:
    equal = _dashboard_after(_three_raters(tmp_path / "a"))
    weighted = _dashboard_after(_three_raters(
        tmp_path / "b", [["Rater sheet", "Weight"], ["Judgments Ben", 4]]))
    # The same block as an analyst may well type it: "Rater", and Ben by his name.
    short = _dashboard_after(_three_raters(tmp_path / "c", [["Rater", "Weight"], ["ben", 4]]))
    top = DASH_RATERS_HEADER[0] + 1
    template = default_judgments()["groups"]
    anna = [[1, 1, "1/2"], [None, 1, "1/2"], [None, None, 1]]
    ben = [[1, 3, 5], [None, 1, 2], [None, None, 1]]
    expected = aggregate_judgments([template, anna, ben], weights=[1, 1, 4]).result.cr
    assert weighted[top][6] == pytest.approx(expected)
    assert short[top][6] == pytest.approx(expected)
    assert weighted[top][6] != pytest.approx(equal[top][6])
    assert weighted[top][7] == pytest.approx(equal[top][7])  # consensus: people count alike


def _dashboard_after(path):
    assert main(["resegment", str(path), "--quiet"]) == 0
    return _dashboard(path)


def test_unknown_rater_sheet_in_the_weights_table_names_the_cell(tmp_path, capsys) -> None:
    path = _three_raters(tmp_path, [["Rater sheet", "Weight"], ["Judgments Chen", 2]])
    before = path.read_bytes()
    assert main(["resegment", str(path)]) == 2
    err = capsys.readouterr().err
    assert "'Judgments Chen' is listed but the workbook has no such sheet" in err
    assert "Indicators!I" in err
    assert path.read_bytes() == before


def test_single_rater_workbook_shows_one_rater_and_no_repairs(tmp_path) -> None:
    path = tmp_path / "one.xlsm"
    path.write_bytes(build_workbook(LEDGER))
    dash = _dashboard_after(path)
    assert dash[DASH_RATERS_HEADER[0] - 1][0].startswith("Raters: one (the Judgments sheet)")
    assert dash[DASH_RATERS_HEADER[0]][0] in ("", None)
    assert dash[DASH_REPAIRS_HEADER[0] - 1][0].startswith("Repairs: none needed")


def test_sync_judgments_rebuilds_every_rater_sheet(tmp_path, capsys) -> None:
    from tests.test_sync_judgments import edit_indicators, renamed

    path = _three_raters(tmp_path)
    h = renamed(default_hierarchy(), "Purchase growth", "Purchase growth rate")
    path.write_bytes(edit_indicators(path.read_bytes(), h))
    assert main(["resegment", str(path)]) == 2  # every rater sheet is out of step
    err = capsys.readouterr().err
    assert "Judgments Ben!A22" in err or "Judgments!A22" in err
    assert main(["sync-judgments", str(path), "--rename",
                 "Purchase growth=Purchase growth rate"]) == 0
    out = capsys.readouterr().out
    assert "Judgments Anna:" in out and "Judgments Ben:" in out
    assert "the Judgments sheet and 2 rater sheet(s)" in out
    # Ben's inconsistent Potential block kept his judgments under the new name.
    ben = read_grid(path, "Judgments Ben")
    assert ben[22][1:5] == ["Purchase growth rate", "Industry outlook", "Wallet headroom",
                            "Satisfaction"]
    assert ben[23][2:5] == ["5", "1/5", "1/3"]
    assert main(["resegment", str(path), "--quiet"]) == 0
    dash = _dashboard(path)
    rows = {r[0]: r for r in dash[DASH_RATERS_HEADER[0] + 1: DASH_RATERS_HEADER[0] + 5]}
    assert rows["Potential"][2].startswith("Purchase growth rate ")
    assert rows["Potential"][5] >= 0.10  # Ben's CR as before the rename


def test_ribbon_sync_rebuilds_every_rater_sheet_of_the_open_workbook(tmp_path, monkeypatch):
    from fixtures.remote import enable_remote_engine, payload_from, writes

    import udfs.ribbon as ribbon
    from tests.test_sync_judgments import edit_indicators, renamed

    remote = enable_remote_engine(monkeypatch)
    path = _three_raters(tmp_path)
    h = renamed(default_hierarchy(), "Purchase growth", "Purchase growth rate")
    path.write_bytes(edit_indicators(path.read_bytes(), h))
    payload = payload_from(path)
    book = remote(payload)
    plan = ribbon.sync_judgments(book, renames="Purchase growth=Purchase growth rate")
    assert plan is not None
    actions = book.json()["actions"]
    alert = actions[-1]["args"][0]
    assert "Judgments Anna:" in alert and "Judgments Ben:" in alert
    written = writes(actions, payload)
    assert {"Judgments", "Judgments Anna", "Judgments Ben"} <= set(written)
    ben = written["Judgments Ben"]
    assert ben[22][1] == "Purchase growth rate"
    assert ben[23][2:5] == ["5", "1/5", "1/3"]  # his judgments, kept as typed


def test_libreoffice_saved_three_rater_workbook_reads_the_same(tmp_path) -> None:
    """LibreOffice renumbers styles and rewrites every sheet: the raters read the same."""
    from tests.test_sync_judgments import _libreoffice

    path = _three_raters(tmp_path / "excel", [["Rater", "Weight"], ["Ben", 2]])
    saved = _libreoffice(path, tmp_path / "lo")
    before, after = _dashboard_after(path), _dashboard_after(saved)
    top = DASH_RATERS_HEADER[0]
    assert after[top] == before[top]  # the header
    for r in range(top + 1, top + 5):
        assert after[r][:3] == before[r][:3] and after[r][8] == before[r][8]
        assert after[r][3:8] == pytest.approx(before[r][3:8], abs=1e-12)


def test_a_typo_on_a_rater_sheet_names_that_sheet_and_cell(tmp_path, capsys) -> None:
    path = tmp_path / "typo.xlsm"
    book = build_workbook(LEDGER)
    book = retype(copy_sheet(book, schema.JUDGMENTS, "Judgments Chen"), "Judgments Chen",
                  {"Groups": [[None, "x", "1/2"], [None, None, "1/2"], [None] * 3]})
    path.write_bytes(book)
    assert main(["resegment", str(path)]) == 2
    err = capsys.readouterr().err
    assert 'Judgments Chen!C5: Groups matrix: cell (1,2) holds "x"' in err
    assert "Judgments!" not in err  # the first rater's sheet is fine


def test_rater_sheets_without_a_plain_judgments_sheet(tmp_path, capsys) -> None:
    """The first rater renamed Judgments to "Judgments Anna": the raters are still read,
    and nobody is told that default judgments are used (they are not)."""
    book = build_workbook(LEDGER)
    book = retype(copy_sheet(book, schema.JUDGMENTS, "Judgments Ben"), "Judgments Ben", BEN)
    parts = read_parts(book)
    parts["xl/workbook.xml"] = parts["xl/workbook.xml"].replace(
        b'name="Judgments" ', b'name="Judgments Anna" ')
    path = tmp_path / "renamed.xlsm"
    path.write_bytes(write_zip(parts))
    assert main(["check", str(path), "--json"]) in (0, 1)
    found = json.loads(capsys.readouterr().out)["problems"]
    assert not any("default judgments" in p["message"] for p in found)
    dash = _dashboard_after(path)
    header = dash[DASH_RATERS_HEADER[0]]
    assert header[3:5] == ["CR Judgments Anna", "CR Judgments Ben"]
