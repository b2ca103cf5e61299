"""The Dashboard as written: KPI table, survey and importance-performance blocks, charts."""

from __future__ import annotations

import re
import zipfile
from datetime import datetime

import pytest

from xlcrm import report, schema
from xlcrm.book.read import open_workbook
from xlcrm.book.workbook_file import create_demo_workbook
from xlcrm.demo import SURVEY_IMPORTANCE
from xlcrm.operations.kpis import KPI_NAMES, kpi_columns
from xlcrm.report import Block, blocks_to_rows

STAMP = datetime(2026, 10, 31, 9, 0)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    path = tmp_path_factory.mktemp("dash") / "demo.xlsm"
    results = create_demo_workbook(path, customers=120, seed=11)
    return path, results


def cell(rows, anchor, dr=0, dc=0):
    r, c = anchor
    row = rows[r + dr] if r + dr < len(rows) else []
    return row[c + dc] if c + dc < len(row) else None


def test_kpi_table_is_whole_and_not_overwritten(demo):
    path, results = demo
    rows = open_workbook(path).rows(schema.DASHBOARD)
    header = report.DASH_KPI_HEADER
    width = len(report.DASH_KPI_COLUMNS)
    assert [cell(rows, header, 0, j) for j in range(width)] == ["KPI", *kpi_columns()]
    kpis = results.operations.kpis
    for name in KPI_NAMES:
        r = report.DASH_KPI_ROWS[name]
        assert cell(rows, (r, 0)) == name
        for j, group in enumerate(kpi_columns(), start=1):
            want = kpis.loc[name, group]
            got = cell(rows, (r, j))
            if want != want:  # NaN is a blank cell
                assert got in (None, "")
            else:
                assert got == pytest.approx(want), (name, group)


def test_survey_figures_and_importance_performance(demo):
    path, results = demo
    rows = open_workbook(path).rows(schema.DASHBOARD)
    survey = results.operations.survey
    values = [cell(rows, report.DASH_SURVEY_ROWS, i, 3) for i in range(4)]
    assert values == pytest.approx(
        [survey.responses, survey.overall_index, survey.alpha, survey.alpha_responses]
    )
    ipa = results.operations.importance_performance
    assert list(ipa["Question"]) == list(SURVEY_IMPORTANCE)
    header = report.DASH_IPA_HEADER
    assert [cell(rows, header, 0, j) for j in range(5)] == list(report.DASH_IPA_COLUMNS)
    for i, q in enumerate(ipa.itertuples(index=False), start=1):
        assert cell(rows, header, i, 0) == q.Question
        assert cell(rows, header, i, 1) == q.Importance
        assert cell(rows, header, i, 2) == pytest.approx(q.Performance)
        assert cell(rows, header, i, 4) == q.Quadrant
    # Known answer: performance is the mean answer over every questionnaire kept.
    ledger_q1 = open_workbook(path).read_sheet(schema.SURVEY).frame["Q1"]
    assert ipa.iloc[0]["Performance"] == pytest.approx(ledger_q1.astype(float).mean())


def _chart_refs(path) -> dict[str, list[str]]:
    """Chart title -> the cell ranges its series read."""
    out = {}
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            if name.startswith("xl/charts/chart"):
                xml = z.read(name).decode()
                title = re.findall(r"<a:t>([^<]*)</a:t>", xml)[0]
                out[title] = re.findall(r"<(?:c:)?f>([^<]*)</(?:c:)?f>", xml)
    return out


def test_kpi_charts_read_their_kpi_rows(demo):
    path, _ = demo
    rows = open_workbook(path).rows(schema.DASHBOARD)
    refs = _chart_refs(path)
    for kpi in ("Churn rate", "Repeat-purchase rate", "Complaint rate", "Satisfaction index"):
        (title,) = [t for t in refs if t.startswith(f"{kpi}:")]
        header = report.DASH_KPI_HEADER[0] + 1
        categories, ref = refs[title]
        assert categories == f"'Dashboard'!$B${header}:$M${header}"
        m = re.fullmatch(r"'?Dashboard'?!\$B\$(\d+):\$M\$(\d+)", ref)
        assert m and m.group(1) == m.group(2), ref
        assert rows[int(m.group(1)) - 1][0] == kpi


def test_ipa_chart_reads_importance_and_performance(demo):
    """One labelled point per question row (named by its Question cell), then the two
    quadrant lines from the cells the report writes."""
    path, _ = demo
    refs = _chart_refs(path)["Importance-performance per survey question"]
    first = report.DASH_IPA_HEADER[0] + 2
    points = [refs[3 * i: 3 * i + 3] for i in range(report.MAX_QUESTIONS)]
    for i, (name, x, y) in enumerate(points):
        row = first + i
        assert (name, x, y) == (f"'Dashboard'!$A${row}", f"'Dashboard'!$B${row}",
                                f"'Dashboard'!$C${row}")
    lines = refs[3 * report.MAX_QUESTIONS:]
    r, c = report.DASH_IPA_LINES
    col = chr(ord("A") + c)
    ycol = chr(ord("A") + c + 1)
    assert lines == [f"'Dashboard'!${col}${r + 2}:${col}${r + 3}",
                     f"'Dashboard'!${ycol}${r + 2}:${ycol}${r + 3}",
                     f"'Dashboard'!${col}${r + 4}:${col}${r + 5}",
                     f"'Dashboard'!${ycol}${r + 4}:${ycol}${r + 5}"]
    with zipfile.ZipFile(path) as z:
        xml = next(z.read(n).decode() for n in z.namelist() if n.startswith("xl/charts/")
                   and "Importance-performance" in z.read(n).decode())
    assert len(re.findall(r'<(?:c:)?showSerName val="1"', xml)) == report.MAX_QUESTIONS


def test_quadrant_lines_cross_at_the_means(demo):
    path, results = demo
    rows = open_workbook(path).rows(schema.DASHBOARD)
    ipa = results.operations.importance_performance
    mx, my = ipa["Importance"].mean(), ipa["Performance"].mean()
    got = [[cell(rows, report.DASH_IPA_LINES, i, j) for j in range(2)] for i in range(1, 5)]
    assert got[0][0] == got[1][0] == pytest.approx(mx)
    assert got[2][1] == got[3][1] == pytest.approx(my)
    assert got[0][1] < ipa["Performance"].min() and got[1][1] > ipa["Performance"].max()
    assert got[2][0] < ipa["Importance"].min() and got[3][0] > ipa["Importance"].max()
    # Known answer: the table's quadrants split at the same means.
    high = ipa[(ipa["Importance"] > mx) & (ipa["Performance"] < my)]
    assert set(high["Quadrant"]) <= {"Concentrate here"}


def test_overlapping_blocks_are_refused():
    with pytest.raises(ValueError, match="overlap at B2"):
        blocks_to_rows([Block((0, 0), [[1, 2], [3, 4]]), Block((1, 1), [[5]])])
    grid = blocks_to_rows([Block((0, 0), [[1]]), Block((1, 1), [[5]])])
    assert grid == [[1, None], [None, 5]]


def test_without_importance_the_dashboard_says_where_to_give_it(demo):
    import dataclasses

    _, results = demo
    ops = dataclasses.replace(results.operations, importance_performance=None)
    blocks = report._survey_blocks(ops)
    assert blocks[-1].anchor == report.DASH_IPA_TITLE
    assert "Indicators sheet" in blocks[-1].rows[0][0]


def test_overdue_contacts_most_valuable_first(demo):
    from datetime import date, datetime

    path, results = demo
    rows = open_workbook(path).rows(schema.DASHBOARD)
    header = report.DASH_OVERDUE_HEADER
    width = len(report.DASH_OVERDUE_COLUMNS)
    assert [cell(rows, header, 0, j) for j in range(width)] == list(report.DASH_OVERDUE_COLUMNS)
    overdue = results.operations.overdue
    activity = results.operations.activity.set_index("CustomerID")
    shown = min(len(overdue), report.OVERDUE_SHOWN)
    assert shown > 0
    ids = [cell(rows, header, i, 0) for i in range(1, shown + 1)]
    assert ids == list(overdue["CustomerID"].head(shown))
    values = [cell(rows, header, i, 1) for i in range(1, shown + 1)]
    assert values == sorted(values, reverse=True)
    # The same customers the Activity sheet marks overdue, with their due dates.
    assert set(overdue["CustomerID"]) == set(activity.index[activity["Overdue"] == "Yes"])
    for i, cid in enumerate(ids, start=1):
        due = cell(rows, header, i, 3)
        due = due.date() if isinstance(due, datetime) else due
        assert isinstance(due, date) and due <= results.as_of
        assert due == activity.loc[cid, "NextContactDue"].date()


def test_problems_are_listed_errors_then_warnings_then_notes() -> None:
    from xlcrm.errors import Problem, counts_text
    from xlcrm.report import problems_rows

    found = [Problem("note", "computed"), Problem("warning", "odd"), Problem("error", "bad"),
             Problem("note", "computed too")]
    assert [r[0] for r in problems_rows(found)[1:]] == ["error", "warning", "note", "note"]
    assert counts_text(found) == "1 error(s), 1 warning(s), 2 note(s)"
    assert counts_text(found[1:3]) == "1 error(s), 1 warning(s)"  # no notes: not mentioned
