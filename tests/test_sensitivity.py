"""Sensitivity of the types and ABC classes to the weights; indicator correlation."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from python_calamine import CalamineWorkbook

from tests.fixtures.validate import validator_errors
from xlcrm import report, schema
from xlcrm.book.workbook_file import create_demo_workbook
from xlcrm.cli import main
from xlcrm.value.segments import abc_classes, segment_types
from xlcrm.value.sensitivity import (
    MOVES,
    correlation_problems,
    indicator_correlation,
    moved_weights,
    weight_sensitivity,
)

GROUPS = {"G": 0.6, "H": 0.4}


def test_moved_weights_keep_the_sum_and_the_proportions() -> None:
    w = np.array([0.5, 0.3, 0.2])
    up = moved_weights(w, 0, 0.10)
    np.testing.assert_allclose(up, [0.55, 0.27, 0.18])
    np.testing.assert_allclose(up.sum(), 1.0)
    down = moved_weights(w, 2, -0.25)
    np.testing.assert_allclose(down[2], 0.15)
    np.testing.assert_allclose(down[0] / down[1], 0.5 / 0.3)  # the others keep their ratio
    np.testing.assert_allclose(moved_weights(w, 1, 0.0), w)
    # A weight pushed past the total is capped there; the others go to 0.
    np.testing.assert_allclose(moved_weights([0.9, 0.1], 0, 0.25), [1.0, 0.0])


def tiny() -> tuple[pd.DataFrame, list[str], dict[str, float]]:
    """Group G = a, b (0.5 each), group H = c. Customer 1 scores 49 on G, just Low at 50."""
    scores = pd.DataFrame({
        "a": [90.0, 60.0, 10.0, 80.0],
        "b": [90.0, 38.0, 10.0, 70.0],
        "c": [50.0, 50.0, 50.0, 50.0],
    })
    return scores, ["G", "G", "H"], {"a": 0.5, "b": 0.5, "c": 1.0}


def test_one_weight_move_flips_the_known_customer() -> None:
    scores, groups, local = tiny()
    result = weight_sensitivity(scores, groups, local, GROUPS, method="threshold",
                                thresholds=50.0)
    table = result.table.set_index(["Item", "Move"])
    # a up 10 %: 0.55 * 60 + 0.45 * 38 = 50.1 >= 50, so customer 1 turns High on G.
    assert table.loc[("a", 0.10), "TypeChanges"] == 1
    assert table.loc[("a", 0.10), "WeightAfter"] == pytest.approx(0.55)
    # b down 10 % is the same weights; a down (score 47.8) keeps it Low.
    assert table.loc[("b", -0.10), "TypeChanges"] == 1
    assert table.loc[("a", -0.25), "TypeChanges"] == 0
    assert table.loc[("a", 0.10), "TypeChangeShare"] == pytest.approx(1 / 4)
    # H has one indicator: nothing to move; group weights never change a type.
    assert "c" not in result.table["Item"].tolist()
    assert (result.table.loc[result.table["Level"] == "groups", "TypeChanges"] == 0).all()
    assert result.stable.tolist() == [True, False, True, True]
    assert result.stable_at[0.10] == pytest.approx(3 / 4)
    assert result.headline() == ("The types of 75 % of customers do not change when any "
                                 "weight moves by 10 %.")
    assert result.table["ABCChanges"].isna().all()  # ABC not by value: not counted


def random_run(n: int = 600, seed: int = 4) -> tuple[pd.DataFrame, list[str], dict, dict]:
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(n, 3))
    columns = {}
    groups = []
    for g, name in enumerate(("Q", "P", "C")):
        for k in range(4):
            columns[f"{name}{k}"] = np.clip(50 + 15 * latent[:, g] + rng.normal(0, 12, n), 0, 100)
            groups.append(name)
    local = {name: w for name, w in zip(columns, [0.4, 0.3, 0.2, 0.1] * 3, strict=True)}
    return pd.DataFrame(columns), groups, local, {"Q": 0.5, "P": 0.3, "C": 0.2}


def reference_types(scores: pd.DataFrame, groups: list[str], local: dict, rated: np.ndarray,
                    ) -> pd.Series:
    """Types as the run makes them: weighted group scores, then segment_types."""
    frame = pd.DataFrame({g: sum(scores[c] * local[c] for c, cg in
                                 zip(scores.columns, groups, strict=True) if cg == g)
                          for g in ("Q", "P", "C")})
    return segment_types(frame, groups=("Q", "P", "C"), fit=rated).type.mask(~rated)


def test_counts_agree_with_resegmenting_and_stable_never_changes() -> None:
    scores, groups, local, group_w = random_run()
    rated = np.ones(len(scores), dtype=bool)
    rated[:30] = False  # Unrated: not judged, and not moving the cut
    result = weight_sensitivity(scores, groups, local, group_w, rated=rated)
    base = reference_types(scores, groups, local, rated)
    assert result.stable[:30].isna().all()
    stable = result.stable.fillna(False).to_numpy(dtype=bool)
    assert result.judged == 570
    ever = np.zeros(len(scores), dtype=bool)
    for row in result.table.itertuples():
        if row.Level == "groups":
            continue
        cols = [c for c, g in zip(scores.columns, groups, strict=True) if g == row.Level]
        w = moved_weights([local[c] for c in cols], cols.index(row.Item), row.Move)
        moved = dict(local, **dict(zip(cols, w, strict=True)))
        types = reference_types(scores, groups, moved, rated)
        changed = (types != base).fillna(False).to_numpy(dtype=bool)
        assert row.TypeChanges == changed.sum(), row
        ever |= changed
        assert not (changed & stable).any()
    assert ever.any()
    assert (stable[30:] == ~ever[30:]).all()


def test_move_zero_changes_nothing() -> None:
    scores, groups, local, group_w = random_run()
    result = weight_sensitivity(scores, groups, local, group_w, moves=(0.0,),
                                abc_cutoffs=(0.8, 0.95))
    assert (result.table["Changed"] == 0).all()
    assert result.stable.all()


def test_abc_by_value_follows_a_group_weight() -> None:
    # Values at 0.85 / 0.15: 85 and 79.5, so customer 0 is A (A closes at 40 %), 1 is B.
    scores = pd.DataFrame({"g": [100.0, 90.0], "h": [0.0, 20.0]})
    result = weight_sensitivity(scores, ["G", "H"], {"g": 1.0, "h": 1.0},
                                {"G": 0.85, "H": 0.15}, abc_cutoffs=(0.4, 0.95))
    table = result.table.set_index(["Item", "Move"])
    # G -25 % (0.6375 / 0.3625): 63.75 against 64.625: customer 1 leads, both swap class.
    assert table.loc[("G", -0.25), "ABCChanges"] == 2
    assert abc_classes([63.75, 64.625], cutoffs=(0.4, 0.95)).abc.tolist() == ["B", "A"]
    # G -10 % (0.765 / 0.235): 76.5 against 73.55; G +25 % is capped at 1: 100 against 90.
    assert table.loc[("G", -0.10), "ABCChanges"] == 0
    assert table.loc[("G", 0.25), "WeightAfter"] == 1.0
    assert table.loc[("G", 0.25), "ABCChanges"] == 0
    assert result.stable.tolist() == [False, False]
    assert result.headline() == ("The types and ABC classes of 100 % of customers do not "
                                 "change when any weight moves by 10 %.")


def test_large_inputs_are_tried_on_a_sample() -> None:
    scores, groups, local, group_w = random_run(n=400)
    result = weight_sensitivity(scores, groups, local, group_w, limit=100)
    assert result.sampled and result.judged == 100
    assert int(result.stable.notna().sum()) == 100
    assert "a sample of 100 customers" in result.headline()
    again = weight_sensitivity(scores, groups, local, group_w, limit=100)
    pd.testing.assert_frame_equal(result.table, again.table)  # seeded: reproducible


def test_exclude_policy_gaps_are_left_out_of_the_weighting() -> None:
    scores, groups, local = tiny()
    scores.loc[0, "b"] = np.nan  # customer 0 scored on a alone: 90, High whatever the weights
    result = weight_sensitivity(scores, groups, local, GROUPS, method="threshold",
                                thresholds=50.0)
    assert result.stable.tolist() == [True, False, True, True]


def test_the_chart_block_lists_only_the_weights_moved() -> None:
    # Fewer weights than the chart's 15 rows: no made-up Level x Item pairs fill the rest.
    scores, groups, local = tiny()
    result = weight_sensitivity(scores, groups, local, GROUPS, method="threshold",
                                thresholds=50.0)
    top = report._top_weights(result.table, report.SENS_CHART_ITEMS)
    assert sorted(map(tuple, top[["Level", "Item"]].to_numpy().tolist())) == [
        ("G", "a"), ("G", "b"), ("groups", "G"), ("groups", "H")]
    assert top.iloc[0]["Item"] in ("a", "b") and top.iloc[0]["Weight"] == 0.5
    assert top.iloc[0][0.10] == pytest.approx(0.25)


def test_a_hierarchy_with_nothing_to_move() -> None:
    result = weight_sensitivity(pd.DataFrame({"a": [1.0, 2.0, 3.0]}), ["G"], {"a": 1.0},
                                {"G": 1.0})
    assert result.table.empty and result.stable.all()
    assert result.headline().startswith("No weight to move")


def test_bad_input_is_named() -> None:
    scores, groups, local = tiny()
    with pytest.raises(Exception, match="no indicator weight for c"):
        weight_sensitivity(scores, groups, {"a": 0.5, "b": 0.5}, GROUPS)
    with pytest.raises(Exception, match="needs one of the groups"):
        weight_sensitivity(scores, ["G", "G", "X"], local, GROUPS)


def test_spearman_correlation_known_answers_and_warning() -> None:
    from scipy import stats

    rng = np.random.default_rng(1)
    x = rng.random(200)
    frame = pd.DataFrame({"Revenue": x, "Profit": np.exp(3 * x),  # monotone: rho exactly 1
                          "Noise": rng.random(200)})
    corr = indicator_correlation(frame)
    assert corr.loc["Revenue", "Profit"] == pytest.approx(1.0)
    expected = stats.spearmanr(frame["Revenue"], frame["Noise"]).statistic
    assert corr.loc["Revenue", "Noise"] == pytest.approx(expected)
    # Hand-checkable: ranks 1 2 3 4 against 1 3 2 4, d² = 0 1 1 0, rho = 1 - 6*2/(4*15) = 0.8.
    small = indicator_correlation(pd.DataFrame({"u": [1, 2, 3, 4], "v": [10, 30, 20, 40]}))
    assert small.loc["u", "v"] == pytest.approx(0.8)
    problems = correlation_problems(corr, sheet=schema.INDICATORS)
    assert len(problems) == 1
    assert "'Revenue' and 'Profit'" in problems[0].message
    assert "Drop one of them" in problems[0].fix
    assert correlation_problems(small) == []  # 0.8 is below 0.9


def test_sensitivity_cost_stays_linear_in_moves() -> None:
    # Every weight of the default-sized hierarchy is moved 4 times: 3 + 12 weights.
    scores, groups, local, group_w = random_run(n=200)
    result = weight_sensitivity(scores, groups, local, group_w)
    assert len(result.table) == (3 + 12) * len(MOVES)


@pytest.fixture(scope="module")
def resegmented_demo(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sensitivity") / "demo.xlsm"
    create_demo_workbook(path, customers=300, seed=7)
    assert main(["resegment", str(path)]) == 0
    return path


def test_the_resegmented_demo_shows_the_block_and_the_chart(resegmented_demo: Path) -> None:
    book = CalamineWorkbook.from_path(str(resegmented_demo))
    sheet = book.get_sheet_by_name(schema.SENSITIVITY).to_python()
    headline = sheet[report.SENS_HEADLINE[0]][0]
    assert re.fullmatch(r"The types of \d+ % of customers do not change when any weight moves "
                        r"by 10 %\.", headline)
    header = sheet[report.SENS_TABLE_HEADER[0]]
    assert header[:len(report.SENS_TABLE_COLUMNS)] == list(report.SENS_TABLE_COLUMNS)
    assert sheet[report.SENS_TABLE_HEADER[0] + 1 + 15 * 4 - 1][0] != ""  # 60 moves listed
    corr_row = sheet[report.SENS_CORR_HEADER[0]]
    assert corr_row[report.SENS_CORR_HEADER[1]] == "Indicator"
    dashboard = book.get_sheet_by_name(schema.DASHBOARD).to_python()
    assert dashboard[report.DASH_SENS_ROWS[0]][0] == headline
    assert report.DASH_SENS_TITLE[0] >= 219 and report.DASH_SENS_ROWS[0] + 8 <= 268
    segments = book.get_sheet_by_name(schema.SEGMENTS).to_python()
    stable = segments[0].index("Stable")  # where the schema puts it (history's columns follow)
    assert segments[0][stable] == schema.SEGMENTS_COLUMNS[stable] == "Stable"
    type_col = segments[0].index("Type")
    assert {row[stable] for row in segments[1:]} <= {"Yes", "No", ""}
    # Judged exactly when typed: the Unrated (no type) have no Stable flag.
    assert all((row[type_col] == "") == (row[stable] == "") for row in segments[1:])
    with zipfile.ZipFile(resegmented_demo) as z:
        charts = [z.read(n).decode() for n in z.namelist() if n.startswith("xl/charts/chart")]
    top = report.SENS_CHART_HEADER[0] + 2
    assert any(f"'Sensitivity'!$D${top}:$D${top + report.SENS_CHART_ITEMS - 1}" in c
               for c in charts)


def test_the_command_prints_the_headline(resegmented_demo: Path, capsys) -> None:
    import json

    assert main(["resegment", str(resegmented_demo), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)["sensitivity"]
    assert out["headline"].startswith("The types of ")
    assert set(out["stable_share"]) == {"0.10", "0.25"}
    assert out["stable_share"]["0.25"] <= out["stable_share"]["0.10"]


def test_the_guide_says_where_the_blocks_are() -> None:
    text = (Path(__file__).resolve().parents[1] / "docs" / "guide" / "results.md").read_text()
    for label, anchor in (("Headline", report.SENS_HEADLINE), ("Per weight",
                          report.SENS_CHART_TITLE), ("Every move", report.SENS_TABLE_TITLE),
                          ("Indicator correlation", report.SENS_CORR_TITLE),
                          ("Sensitivity headline", report.DASH_SENS_TITLE)):
        assert f"| {label} | `{report.a1(*anchor, absolute=False)}` |" in text, label


def test_the_resegmented_demo_passes_the_validator(resegmented_demo: Path) -> None:
    assert validator_errors(resegmented_demo) == {resegmented_demo: []}


def test_the_run_leaves_unrated_customers_out_and_counts_abc_by_value() -> None:
    from dataclasses import replace
    from datetime import datetime

    from xlcrm import pipeline
    from xlcrm.demo import make_ledger
    from xlcrm.ledger import Ledger

    stamp = datetime(2026, 10, 31, 9, 0)
    demo = make_ledger(200, seed=5, dirty=False, today=stamp.date())
    blank = pd.DataFrame({schema.CUSTOMER_ID: ["X0001"], schema.CUSTOMER_NAME: ["Nobody Ltd"]})
    ledger = Ledger(pd.concat([demo.customers, blank], ignore_index=True), demo.transactions,
                    demo.interactions, demo.survey)
    by_value = pipeline.Settings(options=replace(pipeline.Options(), abc_basis="Value"))
    results = pipeline.run(ledger, by_value, stamp=stamp)
    seg = results.segments_table
    assert seg.iloc[-1]["TypeName"] == "Unrated" and seg.iloc[-1]["Stable"] is None
    assert seg["Stable"].iloc[:-1].isin(["Yes", "No"]).all()
    sens = results.sensitivity
    assert sens.abc_by_value and sens.judged == 200
    groups = sens.table[sens.table["Level"] == "groups"]
    assert (groups["TypeChanges"] == 0).all() and groups["ABCChanges"].sum() > 0
    by_revenue = pipeline.run(ledger, stamp=stamp).sensitivity
    assert not by_revenue.abc_by_value and by_revenue.table["ABCChanges"].isna().all()
