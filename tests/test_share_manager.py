"""One account manager's book (``xlcrm share BOOK --manager NAME``), and the per-manager,
industry and region figures behind it.

Known answers come from the master workbook: the copy must hold exactly the manager's rows of
every ledger sheet, the types and classes the master gives them, and not one byte naming
another customer anywhere in the zip.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import zipfile
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from fixtures.books import read_parts, write_parts
from fixtures.validate import validator_errors

from xlcrm import report, schema
from xlcrm.book.read import open_workbook
from xlcrm.book.share import MASK_TEXT, default_output, make_shareable
from xlcrm.book.workbook_file import create_demo_workbook
from xlcrm.cli import main
from xlcrm.errors import InputError
from xlcrm.operations.breakdown import BLANK_GROUP, breakdown
from xlcrm.value.strategies import DEFAULT_TYPES

MADE = datetime(2026, 5, 4, 9, 30)


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("managers") / "demo.xlsm"
    create_demo_workbook(path, customers=150)  # three managers
    return path


def frame(path: Path, sheet: str) -> pd.DataFrame:
    with open_workbook(path) as wb:
        return wb.read_sheet(sheet).frame.reset_index(drop=True)


def ids(values: pd.Series) -> list[str]:
    return [str(v).strip() for v in values]


def leaks(copy: Path, customers: pd.DataFrame, manager: str) -> list[tuple[str, str]]:
    """(value, part) for every other customer's ID or name found in any part of ``copy``.

    The kept customers' names are blanked out first: "Shenyang Guangda Earthmoving Ltd"
    (kept) must not count as "Guangda Earthmoving Ltd" (another manager's).
    """
    mine = customers[schema.ACCOUNT_MANAGER].str.strip() == manager
    kept = sorted({html.escape(str(n).strip(), quote=False) for n in customers.Name[mine]},
                  key=len, reverse=True)
    others = [v for _, r in customers[~mine].iterrows()
              for v in (str(r.CustomerID).strip(), html.escape(str(r.Name).strip(), quote=False))]
    found = []
    with zipfile.ZipFile(copy) as z:
        for name in z.namelist():
            text = z.read(name).decode("utf-8", "replace")
            for k in kept:
                text = text.replace(k, "\0")
            found += [(v, name) for v in others
                      if re.search(rf"(?<!\w){re.escape(v)}(?!\w)", text)]
    return found


def test_each_demo_manager_gets_a_book_of_their_customers_and_no_one_else(demo, tmp_path):
    customers = frame(demo, schema.CUSTOMERS)
    managers = sorted(set(customers.AccountManager.str.strip()))
    assert len(managers) == 3
    master_tx = frame(demo, schema.TRANSACTIONS)
    for manager in managers:
        out = tmp_path / f"{manager}.xlsx"
        made = make_shareable(demo, out, manager=manager, made=MADE)
        mine = customers[customers.AccountManager.str.strip() == manager]
        assert len(mine) > 0 and f"account manager {manager} ({len(mine)} of 150)" in \
            made.customers
        assert ids(frame(out, schema.CUSTOMERS).CustomerID) == ids(mine.CustomerID)
        for sheet in (schema.SCORES, schema.SEGMENTS, schema.ACTIVITY):
            assert ids(frame(out, sheet).CustomerID) == ids(mine.CustomerID), sheet
        tx = frame(out, schema.TRANSACTIONS)
        expected = master_tx[master_tx.CustomerID.str.strip().isin(ids(mine.CustomerID))]
        assert len(tx) == len(expected) > 0
        assert np.allclose(tx.Amount.to_numpy(float), expected.Amount.to_numpy(float))
        assert leaks(out, customers, manager) == []
    # the same search does find the others in the whole book's copy (the test can fail)
    whole = make_shareable(demo, tmp_path / "all.xlsx", made=MADE).output
    assert len(leaks(whole, customers, managers[0])) > 100


def test_the_dashboard_counts_the_managers_customers_with_their_master_types(demo, tmp_path):
    customers = frame(demo, schema.CUSTOMERS)
    manager = customers.AccountManager.iloc[0].strip()
    n = int((customers.AccountManager.str.strip() == manager).sum())
    out = make_shareable(demo, tmp_path / "m.xlsx", manager=manager, made=MADE).output
    with open_workbook(out) as wb:
        grid = wb.read_grid(schema.DASHBOARD)
    assert f"· {n} customers" in grid[1][0]
    assert f"Only the customers of account manager {manager}" in grid[2][0]
    kpi_row = grid[report.DASH_KPI_ROWS["Customers"]]
    assert kpi_row[0] == "Customers" and kpi_row[1] == n
    r, _ = report.DASH_TYPES_HEADER
    assert sum(row[3] or 0 for row in grid[r + 1: r + 1 + report.N_TYPES]) == n
    r, _ = report.DASH_ABC_HEADER
    assert sum(row[2] for row in grid[r + 1: r + 4]) == n
    r, _ = report.DASH_MANAGER_HEADER
    assert grid[r + 1][:3] == [manager, n, 1.0] and not grid[r + 2][0]
    risk = [row[0] for row in grid[report.DASH_RISK_HEADER[0] + 1:] if row[0]][:5]
    mine = set(ids(frame(out, schema.CUSTOMERS).CustomerID))
    assert risk and set(risk) <= mine
    # every customer keeps the type and class the whole book gives it
    master = frame(demo, schema.SEGMENTS).set_index("CustomerID")
    copy = frame(out, schema.SEGMENTS).set_index("CustomerID")
    assert (master.loc[copy.index, ["Type", "ABC"]].fillna(0) ==
            copy[["Type", "ABC"]].fillna(0)).all().all()


def test_problems_about_others_go_and_the_rest_point_at_their_new_rows(demo, tmp_path):
    # the demo's typo 'approx 200' sits in some customer's row: that manager's copy keeps it
    customers = frame(demo, schema.CUSTOMERS)
    with open_workbook(demo) as wb:
        problems = wb.read_sheet(schema.PROBLEMS).frame
    row_problems = problems[(problems.Sheet == schema.CUSTOMERS)
                            & problems.Cell.str.fullmatch(r"[A-Z]+\d+")]
    assert len(row_problems) >= 3
    for cell in row_problems.Cell:
        owner = customers.iloc[int(re.sub(r"[A-Z]", "", cell)) - 2]
        manager = owner.AccountManager.strip()
        out = tmp_path / f"{manager}.xlsx"
        if not out.exists():
            make_shareable(demo, out, manager=manager, made=MADE)
        copy = frame(out, schema.CUSTOMERS)
        with open_workbook(out) as wb:
            kept = wb.read_sheet(schema.PROBLEMS).frame
        column = re.sub(r"\d", "", cell)
        new_cells = [c for c in kept.Cell if isinstance(c, str)
                     and re.fullmatch(rf"{column}\d+", c)]
        rows = [copy.iloc[int(c[len(column):]) - 2].CustomerID.strip() for c in new_cells]
        assert owner.CustomerID.strip() in rows, cell
        assert set(rows) <= set(ids(copy.CustomerID))


def test_combined_with_masked_contacts_and_valid(demo, tmp_path):
    customers = frame(demo, schema.CUSTOMERS)
    manager = customers.AccountManager.iloc[-1].strip()
    out = make_shareable(demo, tmp_path / "masked.xlsx", manager=manager, mask_contacts=True,
                         made=MADE).output
    copy = frame(out, schema.CUSTOMERS)
    assert (copy.Email == MASK_TEXT).all() and len(copy) > 0
    assert validator_errors(out)[out] == []


def test_a_libreoffice_saved_book_with_a_defined_name_naming_a_customer(demo, tmp_path):
    """Shared strings (LibreOffice writes every text there) must not keep the others, nor
    a defined name holding another customer's name as a constant."""
    if shutil.which("soffice") is None:
        pytest.skip("LibreOffice is not installed")
    run = subprocess.run(["soffice", "--headless", "--convert-to", "xlsx", "--outdir",
                          str(tmp_path), str(demo)], capture_output=True, timeout=300)
    src = tmp_path / "demo.xlsx"
    assert run.returncode == 0 and src.exists()
    customers = frame(src, schema.CUSTOMERS)
    manager = customers.AccountManager.iloc[0].strip()
    other = customers[customers.AccountManager.str.strip() != manager].iloc[0]
    parts = read_parts(src)
    name = b'<definedName name="BigDeal">"' + html.escape(other.Name.strip()).encode() + \
        b'"</definedName>'
    wb = parts["xl/workbook.xml"]
    parts["xl/workbook.xml"] = (wb.replace(b"<definedNames>", b"<definedNames>" + name, 1)
                                if b"<definedNames>" in wb else
                                wb.replace(b"</sheets>", b"</sheets><definedNames>" + name
                                           + b"</definedNames>", 1))
    write_parts(src, parts)
    assert "xl/sharedStrings.xml" in read_parts(src)  # the shape under test
    out = make_shareable(src, tmp_path / "lo.xlsx", manager=manager, made=MADE).output
    assert leaks(out, customers, manager) == []
    assert len(frame(out, schema.CUSTOMERS)) == (customers.AccountManager.str.strip()
                                                  == manager).sum()


def test_unknown_manager_one_line_listing_the_managers_exit_2(demo, tmp_path, capsys):
    out = tmp_path / "x.xlsx"
    assert main(["share", str(demo), "--manager", "Nobody Here", "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    managers = sorted(set(frame(demo, schema.CUSTOMERS).AccountManager.str.strip()))
    assert len(err.splitlines()) == 1 and "Nobody Here" in err
    assert f"Use one of: {', '.join(managers)}." in err
    assert not out.exists()
    with pytest.raises(InputError):
        make_shareable(demo, out, manager="")


def test_default_name_carries_the_manager_as_customers_spells_it(demo, tmp_path, capsys):
    src = tmp_path / "book.xlsm"
    shutil.copyfile(demo, src)
    manager = frame(demo, schema.CUSTOMERS).AccountManager.iloc[0].strip()
    assert main(["share", str(src), "--manager", f"  {manager.upper()} ", "--quiet"]) == 0
    expected = default_output(src, manager=manager)
    assert expected.exists() and f"({manager}, shareable " in expected.name
    assert f"account manager {manager}" in capsys.readouterr().out


def test_segments_and_activity_carry_manager_industry_region_and_owner(demo):
    customers = frame(demo, schema.CUSTOMERS).set_index("CustomerID")
    owners = {t.number: t.owner for t in DEFAULT_TYPES}
    for sheet in (schema.SEGMENTS, schema.ACTIVITY):
        table = frame(demo, sheet).set_index("CustomerID")
        # (Segments ends with Stable, the sensitivity's flag, after them; on Activity the
        # buying center's columns follow.)
        carried = [*schema.BREAKDOWN_COLUMNS, *(["Owner", "Stable"] if sheet == schema.SEGMENTS
                                                else [])]
        start = list(table.columns).index(schema.BREAKDOWN_COLUMNS[0])
        assert list(table.columns[start:start + len(carried)]) == carried
        for column in schema.BREAKDOWN_COLUMNS:
            assert (table[column] == customers.loc[table.index, column]).all(), (sheet, column)
    seg = frame(demo, schema.SEGMENTS)
    typed = seg.Type.notna()
    assert (seg.Owner[typed] == seg.Type[typed].astype(int).map(owners)).all()
    assert seg.Owner[~typed].isna().all()


def test_breakdown_known_answers():
    customers = pd.DataFrame({
        "AccountManager": ["Ann", "Bob", None, "Ann", " "],
        "Value": [50, 60, 70, None, 10], "Revenue12m": [100, 300, 50, 100, 0],
        "ABC": ["A", "A", "B", "C", None], "ChurnRisk": ["High", "Low", "Medium", "Low", "Low"],
        "Overdue": ["Yes", "No", "No", "Yes", "No"],
    })
    out = breakdown(customers, "AccountManager").set_index("Group")
    assert list(out.index) == ["Bob", "Ann", BLANK_GROUP]  # by revenue, the blank group last
    assert out.loc["Ann", ["Customers", "Revenue12m", "MeanValue", "A", "C", "AtRisk",
                           "Overdue"]].tolist() == [2, 200, 50, 1, 1, 1, 2]
    assert out.loc[BLANK_GROUP, ["Customers", "AtRisk", "B"]].tolist() == [2, 1, 1]
    assert out.RevenueShare.sum() == pytest.approx(1.0)
    assert out.MovedDown.isna().all()  # no Move column: unknown, not zero
    folded = breakdown(customers.assign(Move=["down", "same", "down", "up", "new"]),
                       "AccountManager", shown=2).set_index("Group")
    assert list(folded.index) == ["Bob", "Other (2)"]
    assert folded.loc["Other (2)", ["Customers", "MovedDown"]].tolist() == [4, 2]
    assert folded.Customers.sum() == 5
    # the Dashboard's three breakdowns share one computation of the figures
    from xlcrm.operations.breakdown import customer_figures

    moved = customers.assign(Move=["down", "same", "down", "up", "new"],
                             Region=["N", "S", "N", None, "S"])
    figures = customer_figures(moved)
    for by in ("AccountManager", "Region", "Industry"):
        pd.testing.assert_frame_equal(breakdown(moved, by, shown=2, figures=figures),
                                      breakdown(moved, by, shown=2))


def test_group_labels_trim_and_blank_each_kind_of_missing():
    from xlcrm.operations.breakdown import _group_labels

    values = pd.Series(["Ann ", "Ann", np.nan, 7, None, "", pd.NA, " Bob"] * 20, dtype=object)
    labels = _group_labels(values)
    assert labels.tolist()[:8] == ["Ann", "Ann", BLANK_GROUP, "7", BLANK_GROUP, BLANK_GROUP,
                                   BLANK_GROUP, "Bob"]
    assert labels.index.equals(values.index)


def test_ribbon_share_for_one_manager(demo, tmp_path):
    import udfs.ribbon as ribbon

    src = tmp_path / "crm.xlsm"
    shutil.copyfile(demo, src)
    alerts: list[str] = []

    class App:
        status_bar: str | bool = False

        def alert(self, prompt, title=None, buttons="ok", mode=None, callback=None):
            alerts.append(prompt)
            return "no" if buttons == "yes_no_cancel" else "ok"

    def book():
        return SimpleNamespace(fullname=str(src), name=src.name, app=App(),
                               api=SimpleNamespace(Saved=True))

    manager = frame(demo, schema.CUSTOMERS).AccountManager.iloc[0].strip()
    out = ribbon.share(book(), manager=f" {manager.lower()}")
    assert out == default_output(src, manager=manager) and out.exists()
    assert f"account manager {manager}" in alerts[-1]
    assert ribbon.share(book(), manager="Nobody") is None
    assert "No copy was made" in alerts[-1] and manager in alerts[-1]
    assert ribbon.share(book(), manager="") == default_output(src)  # blank: every customer


def test_a_contacts_sheet_links_notes_and_formulas_follow_their_rows(demo, tmp_path):
    """A sheet of the user's own keyed by CustomerID (plain range, row 1 headers), a mailto
    link and a formula on every Customers row, and a note on another customer's row, in a
    book last saved by LibreOffice: each kept row keeps its own link and value, the others'
    are gone."""
    if shutil.which("soffice") is None:
        pytest.skip("LibreOffice is not installed")
    import openpyxl
    from openpyxl.comments import Comment

    wb = openpyxl.load_workbook(demo)
    ws = wb[schema.CUSTOMERS]
    header = [c.value for c in ws[1]]
    col = {h: i + 1 for i, h in enumerate(header)}
    extra = len(header) + 1
    ws.cell(row=1, column=extra, value="IDLength")
    # (not "Contacts": the template has that sheet, the buying center)
    contacts = wb.create_sheet("Buyers")
    contacts.append(["CustomerID", "Person", "Role"])
    for r in range(2, ws.max_row + 1):
        cid = ws.cell(row=r, column=col["CustomerID"]).value
        email = ws.cell(row=r, column=col["Email"])
        email.hyperlink = f"mailto:{email.value}"
        ws.cell(row=r, column=extra, value=f"=LEN(A{r})*{r}")  # known: differs per row
        contacts.append([cid, f"Buyer of {cid}", "buyer"])
        contacts.append([cid, f"Boss of {cid}", "decision maker"])
    plain = tmp_path / "edited.xlsx"
    customers = frame(demo, schema.CUSTOMERS)
    manager = customers.AccountManager.iloc[1].strip()
    mine = customers.AccountManager.str.strip() == manager
    other_row = int(np.flatnonzero(~mine)[0]) + 2
    ws.cell(row=other_row, column=col["Name"]).comment = Comment("Secret deal note", "Boss")
    wb.save(plain)
    run = subprocess.run(["soffice", "--headless", "--convert-to", "xlsx", "--outdir",
                          str(tmp_path / "lo"), str(plain)], capture_output=True, timeout=300)
    src = tmp_path / "lo" / "edited.xlsx"
    assert run.returncode == 0 and src.exists()

    out = make_shareable(src, tmp_path / "m.xlsx", manager=manager, made=MADE).output
    copy = frame(out, schema.CUSTOMERS)
    kept = ids(customers.CustomerID[mine])
    assert ids(copy.CustomerID) == kept
    master_rows = {cid: i + 2 for i, cid in enumerate(ids(customers.CustomerID))}
    assert [int(v) for v in copy.IDLength] == [len(c) * master_rows[c] for c in kept]
    people = frame(out, "Buyers")
    assert list(people.Person) == [f"{w} of {c}" for c in kept for w in ("Buyer", "Boss")]
    links = openpyxl.load_workbook(out)[schema.CUSTOMERS]
    email_col = [c.value for c in links[1]].index("Email") + 1
    for r in range(2, len(kept) + 2):
        cell = links.cell(row=r, column=email_col)
        assert cell.hyperlink is not None and cell.hyperlink.target == f"mailto:{cell.value}"
    assert links.cell(row=len(kept) + 2, column=email_col).hyperlink is None
    assert leaks(out, customers, manager) == []
    with zipfile.ZipFile(out) as z:
        assert not any(b"Secret deal note" in z.read(n) for n in z.namelist())


def test_the_copy_agrees_with_the_masters_row_for_that_manager_as_of_its_day(demo, tmp_path):
    """The master's By account manager row is the manager's copy's, figure for figure, also
    when the master was judged as of an earlier day (the copy judges the same day)."""
    src = tmp_path / "asof.xlsm"
    shutil.copyfile(demo, src)
    assert main(["resegment", str(src), "--as-of", "2026-10-31", "--backups", "0"]) == 0
    with open_workbook(src) as wb:
        master = wb.read_grid(schema.DASHBOARD)
    r, _ = report.DASH_MANAGER_HEADER
    rows = {row[0]: row[:12] for row in master[r + 1: r + 1 + report.MANAGERS_SHOWN] if row[0]}
    assert len(rows) == 3
    for manager, row in rows.items():
        out = make_shareable(src, tmp_path / f"{manager}.xlsx", manager=manager,
                             made=MADE).output
        with open_workbook(out) as wb:
            copy = wb.read_grid(schema.DASHBOARD)
        assert "as of 2026-10-31" in copy[1][0]
        mine = copy[r + 1][:12]
        assert mine[0] == manager and mine[1] == row[1]  # customers
        assert mine[3] == pytest.approx(row[3])  # revenue
        assert mine[5] == pytest.approx(row[5])  # mean value score
        assert mine[6:11] == row[6:11]  # A, B, C, at risk, overdue


def test_without_an_as_of_day_the_copy_judges_the_day_the_master_was_computed(demo, tmp_path):
    src = tmp_path / "old.xlsm"
    shutil.copyfile(demo, src)
    parts = read_parts(src)
    name = next(n for n, x in parts.items() if n.startswith("xl/worksheets/")
                and b"by xlcrm from" in x and b"Computed " in x)
    parts[name], n = re.subn(rb"Computed \d{4}-\d{2}-\d{2}", b"Computed 2026-09-30",
                             parts[name])
    parts[name] = re.sub(" · as of \\d{4}-\\d{2}-\\d{2}".encode(), b"", parts[name])
    assert n == 1 and b"as of" not in parts[name]
    write_parts(src, parts)
    manager = frame(demo, schema.CUSTOMERS).AccountManager.iloc[0].strip()
    out = make_shareable(src, tmp_path / "old.xlsx", manager=manager, made=MADE).output
    with open_workbook(out) as wb:
        assert "as of 2026-09-30" in wb.read_grid(schema.DASHBOARD)[1][0]


def test_rows_without_numbers_links_and_merges_move_with_their_rows():
    """Rows may omit r="..." (then each is the one after the previous): the removed one is
    found by position, later rows get their new number; links and merges on removed rows go,
    the others move up; a merge ending on a removed row ends on the row kept above it."""
    from xlcrm.book.share_manager import RowMap, _shift_rows

    xml = (b'<sheetData><row r="1"><c r="A1"><v>1</v></c></row><row><c><v>2</v></c></row>'
           b'<row r="3"><c r="A3"><v>3</v></c></row><x:row><x:c><x:v>4</x:v></x:c></x:row>'
           b'<row r="5" spans="1:2"><c r="A5"><v>5</v></c><c r="B5"><v>6</v></c></row>'
           b'</sheetData><mergeCells count="3"><mergeCell ref="A3:B4"/><mergeCell ref="C2:D3"/>'
           b'<mergeCell ref="A1:A2"/></mergeCells><hyperlinks><hyperlink ref="A2" r:id="rId1"/>'
           b'<hyperlink ref="B5" r:id="rId2"/></hyperlinks>')
    assert _shift_rows(xml, RowMap([2])) == (
        b'<sheetData><row r="1"><c r="A1"><v>1</v></c></row>'
        b'<row r="2"><c r="A2"><v>3</v></c></row><x:row r="3"><x:c><x:v>4</x:v></x:c></x:row>'
        b'<row r="4" spans="1:2"><c r="A4"><v>5</v></c><c r="B4"><v>6</v></c></row>'
        b'</sheetData><mergeCells count="2"><mergeCell ref="A2:B3"/>'
        b'<mergeCell ref="A1:A1"/></mergeCells><hyperlinks>'
        b'<hyperlink ref="B4" r:id="rId2"/></hyperlinks>')
    emptied = _shift_rows(b'<sheetData/><mergeCells count="1"><mergeCell ref="A2:B2"/>'
                          b'</mergeCells><hyperlinks><hyperlink ref="A2" r:id="rId1"/>'
                          b'</hyperlinks>', RowMap([2]))
    assert emptied == b"<sheetData/>"  # an empty list is not allowed by the schema
    assert RowMap([2, 5]).new_row(4) == 3 and RowMap([2, 5]).new_row(5) is None
