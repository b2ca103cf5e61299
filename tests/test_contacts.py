"""The buying center (issue 15 item 2): Contacts sheet, per-customer figures, Dashboard block,
RelationshipStrength as an indicator, and `xlcrm import-contacts`."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from xlcrm import report, schema
from xlcrm.book.append import append_rows
from xlcrm.book.contacts_import import import_contacts
from xlcrm.book.read import open_workbook, read_grid
from xlcrm.book.template import build_workbook
from xlcrm.book.workbook_file import check_file, create_demo_workbook, resegment_file
from xlcrm.cli import main
from xlcrm.errors import InputError
from xlcrm.operations.contacts import buying_center, buying_center_kpis
from xlcrm.operations.derived import add_derived_columns
from xlcrm.operations.step import ACTIVITY_COLUMNS

TODAY = dt.date(2026, 10, 31)


def day(days_ago: int) -> pd.Timestamp:
    return pd.Timestamp(TODAY - dt.timedelta(days=days_ago))


def hand_made() -> pd.DataFrame:
    """Five customers whose buying centers a sales manager can score by hand."""
    rows = [
        # K1: supporting decision maker seen 30 days ago; two supporters, one opponent below.
        ("K1", "Ann Li", "Decision-maker", "Supporter", day(30)),
        ("K1", "Bo Wu", "influencer", "supporter", None),
        ("K1", "Cy Ng", "user", "supporter", None),
        ("K1", "Di Ho", "buyer", "opponent", None),
        # The same person typed again, in other case and spacing: one vote, not two.
        ("K1", "  bo   WU ", "influencer", "supporter", None),
        # K2: two deciders, one for us and one against: the veto wins.
        ("K2", "Ed Ma", "DM", "supporter", day(10)),
        ("K2", "Flo Yu", "decision maker", "Opposed", day(400)),
        # K3: three supporters, nobody who decides.
        ("K3", "Gu Qi", "buyer", "supporter", day(5)),
        ("K3", "Hu Su", "user", "champion", None),
        ("K3", "Ida Lu", "gatekeeper", "supporter", None),
        # K4: a neutral decider last seen 228 days ago (half-way between 90 and 365 + 0.5).
        ("K4", "Jo Ko", "Entscheider", "neutral", day(228)),
        # K5: nobody on Contacts.
    ]
    frame = pd.DataFrame(rows, columns=["CustomerID", "Name", "Role", "Stance", "LastContact"])
    frame.insert(4, "Phone", None)
    frame.insert(5, "Email", None)
    return frame


IDS = ["K1", "K2", "K3", "K4", "K5"]


def words(column: pd.Series) -> list:
    """A Yes/No column with blanks as None."""
    return [None if pd.isna(v) else v for v in column]


def test_known_answers_of_a_hand_made_buying_center():
    center = buying_center(hand_made(), IDS, today=TODAY)
    t = center.table
    # Only the repeated person is reported.
    assert [(p.cell, p.severity) for p in center.problems] == [("B6", "warning")]
    assert "first in row 3" in center.problems[0].message
    assert t["ContactPersons"].tolist() == [4, 2, 3, 1, 0]
    assert t["DecisionMakerKnown"].tolist() == ["Yes", "Yes", "No", "Yes", "No"]
    assert words(t["DecisionMakerSupports"]) == ["Yes", "No", None, "No", None]
    assert words(t["DecisionMakerOpposes"]) == ["No", "Yes", None, "No", None]
    # Latest contact with any decision maker: K2's is 10 days (Ed), not Flo's 400.
    np.testing.assert_array_equal(t["DaysSinceDecisionMakerContact"], [30, 10, np.nan, 228,
                                                                       np.nan])
    expected = [
        50 + 30 * (2 - 1) / 3 + 20,  # K1: 80; counting Bo twice would say 90
        0 + 0 + 20,  # K2: opposing decider: no DM part; seen recently
        0 + 30 + 0,  # K3: broad base, no decider
        25 + 0 + 20 * (365 - 228) / 275,  # K4: neutral decider, fading contact
        0,  # K5: nobody known
    ]
    np.testing.assert_allclose(t["RelationshipStrength"], expected)


def test_dashboard_figures_and_list_put_opposed_key_accounts_first():
    center = buying_center(hand_made(), IDS, today=TODAY)
    figures, issues = buying_center_kpis(center.table, ["B", "A", "A", "C", "B"],
                                         [70, 60, 90, 50, 80], IDS)
    # With contacts: 4; A/B without decider: K3, K5; class A opposed: K2; supported: K1.
    assert figures == [4, 2, 1, 1]
    assert issues["CustomerID"].tolist() == ["K2", "K3", "K5"]
    assert issues["Issue"].tolist() == ["decision maker opposes us (last contact 10 days ago)",
                                        "no decision maker known", "no decision maker known"]


def test_hostile_contacts_are_reported_at_their_cells_and_never_stop_the_run():
    frame = pd.DataFrame({
        "CustomerID": ["K1", "K404", None, "K2", 1001.0, "K3"],
        "Name": ["Ann", "Ghost", "Nobody's", "Bea", "Num", "Cid"],
        "Role": ["chef", "buyer", "user", "decision maker", "buyer", None],
        "Stance": ["supporter", "x", None, "friendly", None, "neutral"],
        "LastContact": [day(3), None, None, "last week", day(-5), None],
    })
    center = buying_center(frame, ["K1", "K2", "K3", "1001"], today=TODAY)
    where = {p.cell: p.message for p in center.problems}
    assert set(where) == {"C2", "A3", "A4", "D5", "E5", "E6"}
    assert "'chef' is not a buying-center role" in where["C2"]
    assert "'K404' is not on Customers" in where["A3"]
    assert "CustomerID is blank" in where["A4"]
    assert "'friendly' is not a stance" in where["D5"]
    assert "'last week' is not a date" in where["E5"]
    assert "after 2026-10-31" in where["E6"]
    t = center.table
    # The unknown role counts as a contact, not as a decider; the number ID 1001 matches.
    assert t["ContactPersons"].tolist() == [1, 1, 1, 1]
    assert t["DecisionMakerKnown"].tolist() == ["No", "Yes", "No", "No"]
    assert t["DecisionMakerSupports"].tolist()[1] == "No"  # stance unreadable: not support


def test_a_contacts_sheet_without_role_is_one_warning_not_a_crash():
    frame = pd.DataFrame({"CustomerID": ["K1"], "Name": ["Ann"]})
    center = buying_center(frame, ["K1"], today=TODAY)
    assert len(center.problems) == 1 and "no column Role" in center.problems[0].message
    assert center.table["ContactPersons"].tolist() == [0]


def test_relationship_strength_is_an_indicator_figure_settled_cell_by_cell():
    center = buying_center(hand_made(), IDS, today=TODAY)
    customers = pd.DataFrame({
        "CustomerID": IDS,
        # K1 blank: computed; K2 typed 99 but its contacts say 20: stale; K5 has nobody on
        # Contacts: its typed figure is the user's record and kept.
        "RelationshipStrength": [None, 99.0, 30.0, None, 42.0],
    })
    out = add_derived_columns(customers, ["RelationshipStrength"], orders=None, survey=None,
                              contacts=center)
    got = pd.to_numeric(pd.Series(out.customers["RelationshipStrength"]))
    np.testing.assert_allclose(got, [80, 20, 30, center.table["RelationshipStrength"].iloc[3],
                                     42])
    assert out.sources == {"RelationshipStrength": "Contacts"}
    assert out.stale["RelationshipStrength"].positions.tolist() == [1]
    # Without the column on Customers it is added for everyone.
    added = add_derived_columns(customers[["CustomerID"]], ["RelationshipStrength"],
                                orders=None, survey=None, contacts=center)
    assert added.added == ["RelationshipStrength"]


# --------------------------------------------------------------------------------------------
# Through the workbook file


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("contacts") / "demo.xlsm"
    create_demo_workbook(path, customers=60, seed=7)
    return path


@pytest.fixture
def book(demo: Path, tmp_path: Path) -> Path:
    path = tmp_path / "book.xlsm"
    shutil.copy(demo, path)
    return path


def test_demo_buying_center_is_plausible_and_the_dashboard_agrees_with_activity(demo):
    with open_workbook(demo) as wb:
        contacts = wb.read_sheet(schema.CONTACTS, text_columns=["CustomerID"]).frame
        activity = wb.read_sheet(schema.ACTIVITY, text_columns=["CustomerID"]).frame
        segments = wb.read_sheet(schema.SEGMENTS, text_columns=["CustomerID"]).frame
        dash = wb.read_grid(schema.DASHBOARD)
    per = contacts.groupby("CustomerID").size()
    assert per.between(2, 5).all() and len(per) == 60
    assert set(contacts["Role"]) == set(schema.CONTACT_ROLES)
    assert set(contacts["Stance"]) == set(schema.CONTACT_STANCES)
    assert list(activity.columns) == list(ACTIVITY_COLUMNS)
    assert (activity["DecisionMakerKnown"] == "No").sum() > 0  # some unknown deciders
    assert (activity["DecisionMakerOpposes"] == "Yes").sum() > 0  # a few opponents
    abc = segments.set_index("CustomerID")["ABC"].reindex(activity["CustomerID"]).to_numpy()
    no_dm = np.isin(abc, ["A", "B"]) & (activity["DecisionMakerKnown"] == "No").to_numpy()
    opposed = (abc == "A") & (activity["DecisionMakerOpposes"] == "Yes").to_numpy()
    row = report.DASH_CONTACTS_ROWS[0]
    assert dash[row + 1][0] == "A and B customers without a known decision maker"
    assert dash[row + 1][3] == no_dm.sum()
    assert dash[row + 2][3] == opposed.sum()
    # Every row of the block is in the rows reserved for it (310-324).
    last = report.DASH_CONTACTS_HEADER[0] + report.CONTACTS_SHOWN
    assert report.DASH_CONTACTS_TITLE[0] >= 309 and last <= 323


def test_problems_point_at_the_real_contacts_rows(book, tmp_path):
    """A blank row inside the table (skipped by the reader) must not shift the cells."""
    rows = pd.DataFrame({
        "CustomerID": ["C0001", None, "C0999", "C0002"],
        "Name": ["Zed", None, "Ghost", "Yan"],
        "Role": ["boss", None, "buyer", "buyer"],
        "Stance": ["neutral", None, "neutral", "neutral"],
    })
    with open_workbook(book) as wb:
        first_new = len(wb.read_sheet(schema.CONTACTS).frame) + 2
        cols = wb.read_sheet(schema.CONTACTS).columns
    out = tmp_path / "edited.xlsm"
    append_rows(book.read_bytes(), out, {schema.CONTACTS: rows}, headers={schema.CONTACTS: cols})
    problems = [p for p in check_file(out) if p.sheet == schema.CONTACTS]
    cells = {p.cell for p in problems}
    assert cells == {f"C{first_new}", f"A{first_new + 2}"}


def test_import_contacts_is_idempotent_and_reads_german_headers(book, tmp_path):
    csv = tmp_path / "kontakte.csv"
    csv.write_text(
        "Kontakte-Export aus dem CRM\n"
        "Kundennummer;Ansprechpartner;Rolle;Haltung;Telefon;E-Mail-Adresse;Letzter Kontakt\n"
        "C0001;Vera Neu;DM;Befürworter;+49 30 1234;vera@neu.example;15.10.2026\n"
        "C0002;Otto Alt;Einkäufer;neutral;+49 30 5678;otto@alt.example;01.09.2026\n"
        "C0002;  otto   ALT ;buyer;opponent;+49 30 0000;otto2@alt.example;02.09.2026\n"
        "C0003;Max Chef;Chef;neutral;;;\n"
        "C9999;Nie Mand;buyer;neutral;;;\n"
        "C0004;;buyer;neutral;;;\n",
        encoding="utf-8")
    before = open_workbook(book).read_sheet(schema.CONTACTS).frame
    first = import_contacts(book, csv, backups=0)
    assert first.written and len(first.plan.rows) == 2
    assert first.plan.already_present == [5]  # Otto again, in other case and spacing
    assert sorted({r.line for r in first.plan.rejected}) == [6, 7, 8]
    after = open_workbook(book).read_sheet(schema.CONTACTS, text_columns=["CustomerID"]).frame
    assert len(after) == len(before) + 2
    new = after.tail(2)
    assert new["Name"].tolist() == ["Vera Neu", "Otto Alt"]
    assert new["Role"].tolist() == ["decision maker", "buyer"]  # the sheet's own words
    assert new["Stance"].tolist() == ["supporter", "neutral"]
    assert new["LastContact"].tolist() == [pd.Timestamp("2026-10-15"),
                                           pd.Timestamp("2026-09-01")]
    # Again: nothing is added, and the workbook is not rewritten.
    stamp = book.stat().st_mtime_ns
    again = import_contacts(book, csv, backups=0)
    assert not again.written and len(again.plan.rows) == 0
    assert again.plan.already_present == [3, 4, 5]
    assert book.stat().st_mtime_ns == stamp
    # The imported people are read by the next run.
    resegment_file(book, backups=0, as_of=TODAY)
    activity = open_workbook(book).read_sheet(schema.ACTIVITY, text_columns=["CustomerID"]).frame
    assert activity.set_index("CustomerID").loc["C0001", "DecisionMakerKnown"] == "Yes"


def test_import_contacts_command_and_refusals(book, tmp_path, capsys):
    csv = tmp_path / "contacts.csv"
    csv.write_text("客户编号,联系人,角色,态度,电话\nC0005,王芳,决策者,支持者,139\n",
                   encoding="utf-8")
    assert main(["import-contacts", str(book), str(csv), "--dry-run", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "would add 1 of 1 people" in out and "'角色' -> Role" in out
    bad = tmp_path / "orders.csv"
    bad.write_text("CustomerID,Date,Amount\nC0001,2026-01-01,5\n", encoding="utf-8")
    with pytest.raises(InputError, match="no column for Name"):
        import_contacts(book, bad)


def test_template_has_the_contacts_table_and_drop_downs(tmp_path):
    path = tmp_path / "t.xlsm"
    path.write_bytes(build_workbook())
    with open_workbook(path) as wb:
        assert wb.table_range("tblContacts").columns == schema.CONTACT_SHEET_COLUMNS
    sheet = read_grid(path, schema.CONTACTS)
    assert sheet[0] == list(schema.CONTACT_SHEET_COLUMNS)
    from tests.fixtures.books import read_parts, sheet_part

    parts = read_parts(path)
    xml = parts[sheet_part(parts, schema.CONTACTS)].decode()
    assert '"decision maker,influencer,user,buyer,gatekeeper"' in xml
    assert '"supporter,neutral,opponent"' in xml


def test_template_and_demo_after_import_and_resegment_pass_the_validator(book, tmp_path):
    from tests.fixtures.validate import validator_errors

    csv = tmp_path / "c.csv"
    csv.write_text("CustomerID,Name,Role,Stance,Email,LastContact\n"
                   "C0007,Ana Vale,decision maker,opponent,ana@vale.example,2026-10-01\n",
                   encoding="utf-8")
    assert import_contacts(book, csv, backups=0).written
    resegment_file(book, backups=0, as_of=TODAY)
    template = tmp_path / "template.xlsm"
    template.write_bytes(build_workbook())
    found = validator_errors(template, book)
    assert found[template] == [] and found[book] == []


def test_an_indicator_reading_relationship_strength_scores_the_contacts_figure():
    """The analyst points Equipment value's indicator at RelationshipStrength: Customers has
    no such column, so every customer's figure comes from Contacts, cell by cell."""
    from dataclasses import replace

    from xlcrm import pipeline
    from xlcrm.demo import make_ledger
    from xlcrm.value.hierarchy import Hierarchy, default_hierarchy

    ledger = make_ledger(80, seed=5, dirty=False, today=TODAY)
    hierarchy = default_hierarchy()
    indicators = tuple(
        replace(i, column="RelationshipStrength", method="minmax", params=())
        if i.column == "EquipmentValue" else i for i in hierarchy.indicators)
    settings = pipeline.Settings(hierarchy=Hierarchy(indicators))
    results = pipeline.run(ledger, settings, stamp=dt.datetime(2026, 10, 31, 9))
    assert results.derived["RelationshipStrength"] == "Contacts"
    strength = results.operations.activity["RelationshipStrength"].to_numpy(dtype=float)
    name = next(i.name for i in indicators if i.column == "RelationshipStrength")
    lo, hi = strength.min(), strength.max()
    np.testing.assert_allclose(results.scores_table[name], 100 * (strength - lo) / (hi - lo),
                               atol=1e-9)
    assert not [p for p in results.problems if p.sheet == schema.CONTACTS]


def test_one_managers_results_keep_each_customers_buying_center():
    """share --manager recomputes the Dashboard over one manager's customers: the buying
    center of each stays its own, and the block counts only theirs."""
    from xlcrm import pipeline
    from xlcrm.demo import make_ledger
    from xlcrm.subset import subset_results

    ledger = make_ledger(80, seed=5, dirty=False, today=TODAY)
    settings = pipeline.Settings()
    whole = pipeline.run(ledger, settings, stamp=dt.datetime(2026, 10, 31, 9))
    manager = ledger.customers["AccountManager"].iloc[0]
    keep = ledger.customers.loc[ledger.customers["AccountManager"] == manager, "CustomerID"]
    part = subset_results(whole, ledger, settings, set(keep), scope=f"{manager}'s customers")
    mine = part.operations.activity.set_index("CustomerID")
    everyone = whole.operations.activity.set_index("CustomerID").loc[mine.index]
    columns = ["ContactPersons", "DecisionMakerKnown", "RelationshipStrength"]
    pd.testing.assert_frame_equal(mine[columns], everyone[columns])
    figures, _ = part.operations.buying_center
    assert figures[0] == (mine["ContactPersons"] > 0).sum() == len(keep)
