"""Import people from a CRM or address-book export (CSV) into the Contacts sheet.

The export is read like an order export (:mod:`xlcrm.book.csv_import`: encoding, delimiter,
title lines, dates, header synonyms) with the Contacts sheet's columns and
:data:`CONTACT_HEADER_SYNONYMS`; rows are appended by :mod:`xlcrm.book.append`, part-wise, so
nothing else in the workbook changes. Every row needs a CustomerID on Customers and a Name.

**A contact already present is not added again.** A person is the same contact when the
CustomerID and the Name match, the name compared ignoring case and runs of spaces
(``"Li  Wei"`` is ``"li wei"``). Not the whole row: a later export of the same address book
carries new phone numbers, a changed stance and a newer LastContact, and the person must not
appear twice (the buying center would count them twice). Not the e-mail: a person keeps
their name when their address changes, and several people share ``purchasing@...``. The
row already on the sheet stays as it is: an import only appends; changes to a person are
made on the sheet. Two rows of one person in the same file are one contact too (the first
is imported).

Roles and stances are read as :mod:`xlcrm.operations.contacts` reads them (``DM``,
``Decision-maker``, ``Entscheider`` ...) and written as the sheet's drop-downs spell them, so
the sheet stays in its own words; a row with a word that is neither is rejected with its
line, as an order with a date that is not one.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from xlcrm import schema
from xlcrm.book.append import AppendReport, append_rows
from xlcrm.book.csv_import import (
    HEADER_SYNONYMS,
    ImportOptions,
    ParsedExport,
    Rejected,
    SheetImport,
    _known_customer_rows,
    _text_key,
    build_synonyms,
    parse_export,
    sheet_kinds,
)
from xlcrm.book.read import open_workbook
from xlcrm.book.save import safe_replace
from xlcrm.errors import InputError
from xlcrm.operations.contacts import ROLE_WORDS, STANCE_WORDS, read_words, word_key

# (sheet column, language, headers as exports write them): compared as in csv_import.
CONTACT_HEADER_SYNONYMS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    *(row for row in HEADER_SYNONYMS if row[0] == schema.CUSTOMER_ID),
    ("Name", "en", ("Contact", "Contact Name", "Contact Person", "Person", "Full Name")),
    ("Name", "de", ("Ansprechpartner", "Kontakt", "Kontaktperson", "Vor- und Nachname")),
    ("Name", "fr", ("Nom", "Interlocuteur", "Nom du contact", "Nom complet")),
    ("Name", "es", ("Nombre", "Contacto", "Persona de contacto", "Nombre completo")),
    ("Name", "zh", ("联系人", "姓名", "联系人姓名")),
    ("Role", "en", ("Buying Role", "Buying Center Role", "Contact Role")),
    ("Role", "de", ("Rolle", "Rolle im Buying Center", "Einkaufsrolle")),
    ("Role", "fr", ("Rôle", "Rôle d'achat")),
    ("Role", "es", ("Rol", "Papel", "Rol de compra")),
    ("Role", "zh", ("角色", "采购角色")),
    ("Stance", "en", ("Attitude", "Sentiment", "Stance towards us")),
    ("Stance", "de", ("Haltung", "Einstellung")),
    ("Stance", "fr", ("Attitude", "Position vis-à-vis de nous")),
    ("Stance", "es", ("Actitud", "Postura")),
    ("Stance", "zh", ("态度", "立场")),
    ("Phone", "en", ("Telephone", "Tel", "Phone Number", "Mobile", "Mobile Phone")),
    ("Phone", "de", ("Telefon", "Telefonnummer", "Handy", "Mobil", "Mobilnummer")),
    ("Phone", "fr", ("Téléphone", "Tél", "Portable", "Numéro de téléphone")),
    ("Phone", "es", ("Teléfono", "Móvil", "Celular")),
    ("Phone", "zh", ("电话", "联系电话", "手机", "手机号")),
    ("Email", "en", ("E-mail", "Mail", "Email Address", "E-mail Address")),
    ("Email", "de", ("E-Mail-Adresse", "Mailadresse")),
    ("Email", "fr", ("Courriel", "Adresse e-mail", "Mél")),
    ("Email", "es", ("Correo", "Correo electrónico")),
    ("Email", "zh", ("邮箱", "电子邮件", "电子邮箱")),
    ("LastContact", "en", ("Last Contacted", "Last Contact Date", "Last Activity",
                           "Last Meeting")),
    ("LastContact", "de", ("Letzter Kontakt", "Letzter Kontakt am")),
    ("LastContact", "fr", ("Dernier contact", "Date du dernier contact")),
    ("LastContact", "es", ("Último contacto", "Fecha último contacto")),
    ("LastContact", "zh", ("最后联系", "最近联系", "最后联系日期", "上次联系")),
)

CONTACTS_IMPORT = SheetImport(
    schema.CONTACTS, (schema.CUSTOMER_ID, "Name"), build_synonyms(CONTACT_HEADER_SYNONYMS),
    {c: "date" if c == "LastContact" else "text" for c in schema.CONTACT_SHEET_COLUMNS},
    "contact", "'Customer No', 'Contact Person', 'Kundennummer', 'Ansprechpartner', 联系人",
)


def person_key(customer_id: Any, name: Any) -> tuple[Any, Any]:
    """What makes two rows one contact: the customer, and the name ignoring case and spaces."""
    text = _text_key(name)
    return _text_key(customer_id), None if text is None else " ".join(text.split()).casefold()


@dataclass
class ContactsPlan:
    """What a contacts import appends and what it leaves out.

    Attributes
    ----------
    rows : pandas.DataFrame
        Rows to append (index: line in the export), roles and stances in the sheet's words.
    rejected : list of Rejected
        Rows not imported, with their line and why.
    already_present : list of int
        Lines of people the sheet (or an earlier line of the file) already holds.
    """

    rows: pd.DataFrame
    rejected: list[Rejected]
    already_present: list[int]


def _canonical(rows: pd.DataFrame, parsed: ParsedExport, rejected: list[Rejected]
               ) -> pd.DataFrame:
    """Role and Stance in the sheet's words; rows with an unknown word rejected."""
    bad = np.zeros(len(rows), dtype=bool)
    rows = rows.copy()
    for column, words in (("Role", ROLE_WORDS), ("Stance", STANCE_WORDS)):
        if column not in rows.columns:
            continue
        lookup = {word_key(w): c for c, ws in words.items() for w in ws}
        canonical, unknown = read_words(rows[column], lookup)
        header = next((h for h, t in parsed.mapping.items() if t == column), column)
        listed = ", ".join(words)
        rejected.extend(
            Rejected(int(line), header, str(value), f"not a {column.lower()} (use one of "
                     f"{listed})")
            for line, value in zip(rows.index[unknown & ~bad], rows[column][unknown & ~bad],
                                   strict=True))
        bad |= unknown
        rows[column] = pd.Series(canonical, index=rows.index, dtype=object)
    rejected.sort(key=lambda r: r.line)
    return rows[~bad]


def plan_contacts(parsed: ParsedExport, existing: pd.DataFrame,
                  known_customers: Iterable[Any]) -> ContactsPlan:
    """Decide which parsed rows to append: each person not on the sheet yet (module doc)."""
    rows, rejected, _ = _known_customer_rows(parsed, known_customers, False)
    rows = _canonical(rows, parsed, rejected)
    held = set()
    if {schema.CUSTOMER_ID, "Name"} <= set(existing.columns):
        held = {person_key(c, n) for c, n in zip(existing[schema.CUSTOMER_ID],
                                                  existing["Name"], strict=True)}
    present = np.zeros(len(rows), dtype=bool)
    for k, key in enumerate(map(person_key, rows[schema.CUSTOMER_ID], rows["Name"])):
        present[k] = key in held
        held.add(key)
    return ContactsPlan(rows[~present], rejected, [int(x) for x in rows.index[present]])


@dataclass
class ContactsImport:
    """What :func:`import_contacts` did (or would do, in a dry run)."""

    workbook: Path
    export: Path
    parsed: ParsedExport
    plan: ContactsPlan
    written: bool
    dry_run: bool
    append: AppendReport | None = None
    backup: Path | None = None

    def summary_lines(self, *, limit: int = 10) -> list[str]:
        """The summary in words, one line each (the ``xlcrm`` command prints them)."""
        p, plan, n = self.parsed, self.plan, len(self.plan.rows)
        if self.dry_run:
            out = [f"Dry run: would add {n:,} of {p.records:,} people from {self.export.name} "
                   f"to {schema.CONTACTS}; nothing was written."]
        elif self.written:
            out = [f"Added {n:,} of {p.records:,} people from {self.export.name} to "
                   f"{schema.CONTACTS} of {self.workbook.name}."]
        else:
            out = [f"Nothing to add from {self.export.name}: the workbook was not changed."]
        out.append("Columns: " + ", ".join(f"{h!r} -> {c}" for h, c in p.mapping.items()) + ".")
        if p.unmapped:
            out.append("Ignored columns: " + ", ".join(map(repr, p.unmapped)) + ".")
        out.extend(f"Note: {note}." for note in p.notes)
        if plan.already_present:
            out.append(f"Already on {schema.CONTACTS} (same CustomerID and Name): "
                       f"{len(plan.already_present)} line(s), not added again "
                       f"({', '.join(map(str, plan.already_present[:limit]))}"
                       f"{' ...' if len(plan.already_present) > limit else ''}).")
        if plan.rejected:
            out.append(f"Rejected {len({r.line for r in plan.rejected})} row(s): correct them "
                       "in the file and import it again (people already added are skipped):")
            out.extend(f"  {r}" for r in plan.rejected[:limit])
            if len(plan.rejected) > limit:
                out.append(f"  ... and {len(plan.rejected) - limit} more.")
        if self.backup is not None:
            out.append(f"Backup of the previous version: {self.backup}")
        if self.written:
            out.append(f"Activity and Dashboard still show the previous results: run "
                       f"`xlcrm resegment {self.workbook}`.")
        return out


def import_contacts(
    workbook: str | os.PathLike[str],
    export: str | os.PathLike[str],
    *,
    options: ImportOptions | None = None,
    dry_run: bool = False,
    backups: int = 3,
    progress: Callable[[str, float], None] | None = None,
) -> ContactsImport:
    """Append the people of a contacts export to the Contacts sheet of ``workbook``.

    Raises
    ------
    InputError
        When the export or the workbook cannot be used (nothing is written): not found, no
        CustomerID or Name column, no Contacts sheet, the workbook changed since it was read.
    """
    report = progress or (lambda _step, _fraction: None)
    workbook, export = Path(workbook), Path(export)
    try:
        data = export.read_bytes()
    except (FileNotFoundError, IsADirectoryError) as exc:
        raise InputError(f"there is no file {export}",
                         fix="Check the file name and folder.") from exc
    report("Reading the workbook", 0.1)
    book = open_workbook(workbook)
    if schema.CONTACTS.casefold() not in {s.casefold() for s in book.sheet_names}:
        raise InputError(
            f"{workbook.name} has no {schema.CONTACTS} sheet",
            fix=f"Copy the {schema.CONTACTS} sheet from the xlcrm template (or add a sheet "
            f"named {schema.CONTACTS} with the headers {', '.join(schema.CONTACT_SHEET_COLUMNS)}"
            " in row 1), then import again.")
    sheet = _ledger_sheet(book, schema.CONTACTS)
    customers = _ledger_sheet(book, schema.CUSTOMERS)
    columns: Sequence[str] = list(sheet.frame.columns)
    # Columns the user added to the sheet are typed as the sheet holds them; its own ones
    # as CONTACTS_IMPORT says (an empty LastContact column reads as text).
    extra = {c: k for c, k in sheet_kinds(sheet.frame, columns).items()
             if c not in CONTACTS_IMPORT.kinds}
    parsed = parse_export(data, columns, source=export.name, options=options, kinds=extra,
                          target=CONTACTS_IMPORT)
    plan = plan_contacts(parsed, sheet.frame, customers.frame[schema.CUSTOMER_ID].tolist())
    result = ContactsImport(workbook, export, parsed, plan, written=False, dry_run=dry_run)
    if dry_run or not len(plan.rows):
        return result
    written: dict[str, AppendReport] = {}

    def write(target: Path) -> None:
        written["report"] = append_rows(book, target,
                                        {sheet.sheet: plan.rows.reset_index(drop=True)},
                                        headers={sheet.sheet: sheet.columns})

    saved = safe_replace(workbook, write, backups=backups, expected_stamp=book.stamp)
    report("Done", 1.0)
    result.written, result.append, result.backup = True, written["report"], saved.backup
    return result


def _ledger_sheet(book: Any, name: str) -> Any:
    """A ledger sheet as read (within its Excel Table when it has one), IDs as text."""
    table = book.ledger_table(name, schema.CUSTOMER_ID)
    read = (book.read_table(table.name, text_columns=[schema.CUSTOMER_ID]) if table
            else book.read_sheet(name, text_columns=[schema.CUSTOMER_ID]))
    if schema.CUSTOMER_ID not in read.columns:
        raise InputError(f"the {name} sheet has no {schema.CUSTOMER_ID} column",
                         fix=f"Put the header {schema.CUSTOMER_ID} in row 1 of {name}.",
                         sheet=read.sheet)
    return read
