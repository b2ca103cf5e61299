"""Read an ERP export (CSV) into rows for the Transactions sheet, and decide what to append.

This is the pure core of ``xlcrm import-transactions``: it takes the bytes of the export and
the headers of the sheet, and returns typed rows plus every row it could not use, each with
its line in the file. Writing the rows into the workbook is :mod:`xlcrm.book.append`.

What an export may look like
----------------------------
- **Encoding**: UTF-8 (with or without a byte-order mark) or UTF-16 with its mark (Excel's
  "Unicode text"); anything else needs ``encoding=`` (``gb18030`` for Chinese ERP systems,
  ``cp1252`` for Western Windows ones).
- **Delimiter**: sniffed among ``,`` ``;`` tab and ``|``; fields may be quoted (``"..."``,
  a quote inside doubled) and span lines.
- **Headers**: matched to the sheet's columns ignoring case, accents, spaces, underscores,
  hyphens, dots and ``°``, with the usual ERP names in English, German, French, Spanish,
  Italian, Portuguese and Chinese (``Cust No``, ``Invoice Date``, ``Net Amount``;
  ``Kundennummer``, ``Rechnungsdatum``, ``Nettobetrag``; ``Numéro client``, ``Date facture``,
  ``Montant HT``; ``Cliente``, ``Fecha``, ``Importe``; ``客户编号``, ``订单日期``, ``金额`` ...;
  see :data:`HEADER_SYNONYMS`, one row per column and language). An invoice, order or
  document number (``Invoice No``, ``Belegnummer``, ``N° facture``, ``单号``, ``发票号`` ...)
  fills ``DocumentNo``. Title lines above the header are skipped (the header is the first
  of the first 20 records that names every required column).
- **Dates**: ``2026-03-05``, ``2026/03/05``, ``05.03.2026`` (day first), ``05/03/2026`` or
  ``03/05/2026`` (day or month first, decided per column from the values: a first number
  above 12 means day first, a second one above 12 month first; when every value reads both
  ways the import stops and asks), ``20260305``, ``2026年3月5日``, ``05-Mar-2026``,
  ``Mar 5, 2026``, Excel serial numbers (``46086``), each with an optional time
  (``14:30``, ``2:30 PM``, ``T14:30:00Z``; a time zone is dropped, the wall-clock time kept).
  Two-digit years follow Excel: 00-29 are 2000-2029, 30-99 are 1930-1999.
- **Numbers**: ``1234.5``, ``1,234.50``, ``1.234,50``, ``1 234,50``, ``1'234.50``, currency
  symbols and codes (``$``, ``€``, ``¥``, ``USD``, ``元`` ...), negatives as ``-5``, ``5-``,
  ``(5)`` or ``−5``. The decimal separator is decided per column from the values that show
  it (``1,234.50``, ``12,5``); a value that contradicts the column's decision is rejected
  rather than read a thousand times too large or small. ``1,234`` alone could be either: it
  follows the column, else the other numeric columns of the file, else the delimiter (``;``
  files are read with a decimal comma), else a decimal point.

How it is read
--------------
Column by column, not value by value: each distinct value of a column is parsed once
(dates and customer IDs repeat), the usual number formats are told apart by one regular
expression and converted by pandas, and the rows are assembled with numpy; only unusual
values (currency signs, brackets, ``5-``) go through the full parser. Lines already in
the sheet are found by :func:`plan_import` (copies counted; see there).

Row numbers
-----------
A rejected row is reported with the physical line of the file where its record starts (the
header is line 1 when it is the first line), so the user finds it in a text editor.
"""

from __future__ import annotations

import codecs
import csv
import io
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from operator import itemgetter
from typing import Any, Literal

import numpy as np
import pandas as pd

from xlcrm import schema
from xlcrm.bulk import collector_paused
from xlcrm.errors import InputError

Kind = Literal["text", "date", "number"]

CUSTOMER_ID = schema.CUSTOMER_ID
REQUIRED = ("CustomerID", "Date", "Amount")
STANDARD_KINDS: dict[str, Kind] = {
    "CustomerID": "text",
    "Date": "date",
    "Amount": "number",
    "GrossProfit": "number",
    "Quantity": "number",
    "Product": "text",
    schema.DOCUMENT_NO: "text",  # INV-1, 90001234 or 0012: as written
}
# The customer's name in an export: used only to name customers added with
# --add-missing-customers (it is not a Transactions column).
NAME = schema.CUSTOMER_NAME

# Usual ERP headers, one row per column and language: (sheet column, language, headers as
# exports write them). Compared after _norm (case, accents, spaces and . _ - / ° ' ignored),
# so "Kunden-Nr." and "kundennr" are one entry. Earlier rows and entries are preferred when
# two headers of one export name the same column. To support another language or ERP, add
# a row.
HEADER_SYNONYMS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("CustomerID", "en", (
        "Customer ID", "Customer No", "Customer Number", "Customer Nr", "Customer Code",
        "Cust ID", "Cust No", "Cust Number", "Cust Code", "Account", "Account No",
        "Account Number", "Account ID", "Account Code", "Client ID", "Client No",
        "Client Number", "Client Code", "Debtor", "Debtor No", "Debtor Number", "Sold-to",
        "Sold-to Party", "KUNNR")),
    ("CustomerID", "de", (
        "Kundennummer", "Kunden-Nr.", "Kunden-ID", "Kundenkonto", "Debitor", "Debitorennummer",
        "Debitoren-Nr.", "Auftraggeber", "Kunde")),
    ("CustomerID", "fr", (
        "Numéro client", "Numéro de client", "N° client", "No client", "Code client",
        "Référence client", "Réf. client", "Identifiant client", "ID client", "Compte client",
        "Client")),
    ("CustomerID", "es", (
        "Número de cliente", "Número cliente", "Nº cliente", "Código cliente",
        "Código de cliente", "Cód. cliente", "Cliente")),
    ("CustomerID", "it", (
        "Codice cliente", "Cod. cliente", "Numero cliente", "N. cliente")),
    ("CustomerID", "pt", (
        "Código do cliente", "Número do cliente", "ID do cliente")),
    ("CustomerID", "zh", ("客户编号", "客户代码", "客户编码", "客户号", "客户ID", "客户代号")),

    ("Date", "en", (
        "Date", "Order Date", "Invoice Date", "Posting Date", "Document Date",
        "Transaction Date", "Billing Date", "Sales Date", "Delivery Date", "Ship Date")),
    ("Date", "de", (
        "Datum", "Rechnungsdatum", "Belegdatum", "Buchungsdatum", "Fakturadatum",
        "Auftragsdatum", "Bestelldatum", "Lieferdatum")),
    ("Date", "fr", (
        "Date facture", "Date de facture", "Date de facturation", "Date pièce",
        "Date de pièce", "Date commande", "Date de commande", "Date comptable",
        "Date de livraison")),
    ("Date", "es", (
        "Fecha", "Fecha factura", "Fecha de factura", "Fecha de emisión", "Fecha documento",
        "Fecha pedido", "Fecha de pedido", "Fecha contable")),
    ("Date", "it", (
        "Data", "Data fattura", "Data documento", "Data ordine", "Data registrazione",
        "Data consegna")),
    ("Date", "pt", (
        "Data da fatura", "Data fatura", "Data de emissão", "Data do documento",
        "Data do pedido", "Data de faturação", "Data de faturamento")),
    ("Date", "zh", (
        "日期", "订单日期", "单据日期", "开票日期", "销售日期", "过账日期", "发货日期",
        "交易日期")),

    ("Amount", "en", (
        "Amount", "Net Amount", "Net Sales", "Revenue", "Value", "Net Value", "Sales",
        "Sales Amount", "Invoice Amount", "Line Total", "Net Total", "Turnover")),
    ("Amount", "de", (
        "Betrag", "Nettobetrag", "Umsatz", "Nettoumsatz", "Nettowert", "Rechnungsbetrag",
        "Netto", "Wert")),
    ("Amount", "fr", (
        "Montant", "Montant HT", "Montant net", "Montant hors taxes", "Total HT",
        "Chiffre d'affaires", "CA HT")),
    ("Amount", "es", (
        "Importe", "Importe neto", "Importe sin IVA", "Base imponible", "Total neto",
        "Valor neto", "Ventas")),
    ("Amount", "it", (
        "Importo", "Importo netto", "Imponibile", "Totale imponibile", "Valore netto",
        "Fatturato")),
    ("Amount", "pt", (
        "Valor", "Valor líquido", "Valor sem IVA", "Montante", "Total líquido")),
    ("Amount", "zh", ("金额", "销售额", "销售金额", "净额", "不含税金额", "订单金额", "收入")),

    ("GrossProfit", "en", (
        "Gross Profit", "Margin", "Gross Margin", "Profit", "Contribution Margin")),
    ("GrossProfit", "de", ("Rohertrag", "Deckungsbeitrag", "Bruttogewinn", "Marge")),
    ("GrossProfit", "fr", ("Marge brute", "Bénéfice brut")),
    ("GrossProfit", "es", ("Margen", "Margen bruto", "Beneficio bruto")),
    ("GrossProfit", "it", ("Margine", "Margine lordo", "Utile lordo")),
    ("GrossProfit", "pt", ("Margem", "Margem bruta", "Lucro bruto")),
    ("GrossProfit", "zh", ("毛利", "毛利额", "毛利润")),

    ("Quantity", "en", ("Quantity", "Qty", "Units", "Pieces", "Pcs")),
    ("Quantity", "de", ("Menge", "Anzahl", "Stück", "Stk")),
    ("Quantity", "fr", ("Quantité", "Qté")),
    ("Quantity", "es", ("Cantidad", "Cant.", "Unidades")),
    ("Quantity", "it", ("Quantità", "Qtà", "Pezzi")),
    ("Quantity", "pt", ("Quantidade", "Qtd", "Qtde")),
    ("Quantity", "zh", ("数量", "销量")),

    ("Product", "en", (
        "Product", "Product Name", "Material", "Material Description", "SKU", "Item Name",
        "Product Code", "Item Code", "Article", "Description")),
    ("Product", "de", (
        "Artikel", "Artikelnummer", "Artikel-Nr.", "Artikelbezeichnung", "Materialnummer",
        "Produkt", "Bezeichnung")),
    ("Product", "fr", ("Produit", "Réf. article", "Désignation", "Libellé", "Référence")),
    ("Product", "es", ("Producto", "Artículo", "Descripción", "Referencia")),
    ("Product", "it", ("Prodotto", "Articolo", "Codice articolo", "Descrizione")),
    ("Product", "pt", ("Produto", "Artigo", "Descrição", "Referência")),
    ("Product", "zh", (
        "产品", "产品名称", "物料", "物料名称", "商品", "商品名称", "品名", "物料编码",
        "产品编号")),
    # Last: an SAP export has Item (the line number 10, 20, ...) before Material.
    ("Product", "en", ("Item No", "Item")),

    # The document a line belongs to (several lines may share one): the invoice first, since
    # an export of invoice lines may carry the order number too.
    ("DocumentNo", "en", (
        "Document No", "Invoice No", "Invoice Number", "Invoice ID", "Invoice",
        "Billing Document", "Document Number", "Doc No", "Order No", "Order Number",
        "Order ID", "Sales Order", "Receipt No", "Voucher No")),
    ("DocumentNo", "de", (
        "Rechnungsnummer", "Rechnungs-Nr.", "Belegnummer", "Beleg-Nr.", "Beleg",
        "Fakturanummer", "Faktura", "Auftragsnummer", "Auftrags-Nr.", "Lieferscheinnummer")),
    ("DocumentNo", "fr", (
        "Numéro de facture", "N° facture", "No facture", "Facture", "Numéro de pièce",
        "N° pièce", "Pièce", "Numéro de commande", "N° commande")),
    ("DocumentNo", "es", (
        "Número de factura", "Nº factura", "Factura", "Número de documento", "Documento",
        "Número de pedido", "Nº pedido", "Pedido")),
    ("DocumentNo", "it", (
        "Numero fattura", "N. fattura", "Fattura", "Numero documento", "Numero ordine",
        "Protocollo")),
    ("DocumentNo", "pt", (
        "Número da fatura", "Nº fatura", "Fatura", "Número do documento", "Número do pedido",
        "Nota fiscal")),
    ("DocumentNo", "zh", (
        "单号", "单据号", "单据编号", "发票号", "发票号码", "订单号", "订单编号", "凭证号")),

    (NAME, "en", (
        "Name", "Customer Name", "Client Name", "Account Name", "Company Name", "Company")),
    (NAME, "de", ("Kundenname", "Name 1", "Firma", "Firmenname")),
    (NAME, "fr", ("Nom", "Nom client", "Nom du client", "Raison sociale", "Société")),
    (NAME, "es", ("Nombre", "Nombre cliente", "Nombre del cliente", "Razón social", "Empresa")),
    (NAME, "it", ("Nome", "Nome cliente", "Ragione sociale", "Denominazione", "Azienda")),
    (NAME, "pt", ("Nome do cliente", "Razão social")),
    (NAME, "zh", ("客户名称", "客户名", "客户", "公司名称", "单位名称")),
)


MAX_TEXT = 32_767  # characters a cell holds
HEADER_SEARCH = 20  # records looked at for the header row
DELIMITERS = (",", ";", "\t", "|")
_EXCEL_EPOCH = datetime(1899, 12, 30)
_FIRST_DATE = datetime(1900, 3, 1)  # Excel's calendar is exact from here on
# 1950-01-01 .. 2099-12-31 as Excel serial numbers: an order date outside them is far more
# likely a date in another digit format (050326, 202603, 01032026) than a serial.
SERIAL_RANGE = (18_264, 73_050)


# --------------------------------------------------------------------------------------------
# What the parse gives


@dataclass(frozen=True)
class Rejected:
    """A row of the export that is not imported.

    Attributes
    ----------
    line : int
        Physical line of the file where the record starts (1-based).
    column : str or None
        The export's header of the offending column (``None``: the whole row).
    value : str
        The value as it stands in the file.
    reason : str
        Why, in words a user understands.
    """

    line: int
    column: str | None
    value: str
    reason: str

    def __str__(self) -> str:
        where = f"line {self.line}"
        if self.column is not None:
            where += f", {self.column} {self.value!r}" if self.value else f", {self.column}"
        return f"{where}: {self.reason}"


@dataclass(frozen=True)
class ImportOptions:
    """How to read the export when guessing is not enough.

    Attributes
    ----------
    encoding : str or None
        Text encoding (``None``: UTF-8, or UTF-16 with a byte-order mark).
    delimiter : str or None
        Field delimiter (``None``: sniffed).
    dayfirst : bool or None
        ``05/03/2026`` is 5 March (``True``) or 3 May (``False``); ``None``: decided from the
        values.
    date_format : str or None
        A :func:`datetime.strptime` format every date follows (overrides the guessing).
    decimal : {".", ","} or None
        Decimal separator of the numbers (``None``: decided per column from the values).
    """

    encoding: str | None = None
    delimiter: str | None = None
    dayfirst: bool | None = None
    date_format: str | None = None
    decimal: str | None = None


@dataclass
class ParsedExport:
    """The export read and typed (see :func:`parse_export`).

    Attributes
    ----------
    source : str
        File name, for messages.
    encoding, delimiter : str
        How the text was read.
    rows : pandas.DataFrame
        The rows that passed, one column per sheet column the export fills (in sheet order):
        text as ``str`` (blank ``None``), dates ``datetime64``, numbers ``float64``. The index
        is the line of each row in the file.
    names : pandas.Series or None
        The customer's name per row (same index), when the export has a name column.
    mapping : dict of str to str
        Export header -> sheet column.
    name_column : str or None
        The export's header read as the customer's name.
    unmapped : tuple of str
        Export headers that fill nothing (ignored).
    rejected : list of Rejected
        Rows not usable, with their line and reason (one entry per bad cell).
    records : int
        Data records in the file (blank lines not counted).
    header_line : int
        Line of the header.
    notes : list of str
        How ambiguous things were decided (date order, decimal separator, skipped columns).
    """

    source: str
    encoding: str
    delimiter: str
    rows: pd.DataFrame
    names: pd.Series | None
    mapping: dict[str, str]
    name_column: str | None
    unmapped: tuple[str, ...]
    rejected: list[Rejected]
    records: int
    header_line: int
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# Text, delimiter and records


def decode_csv(data: bytes, source: str, encoding: str | None = None) -> tuple[str, str]:
    """The text of the export and the encoding it was read with.

    Raises
    ------
    InputError
        When the bytes are not UTF-8 (and no ``encoding`` was given), or not in ``encoding``.
    """
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError as exc:
            raise InputError(
                f"{encoding!r} is not a text encoding Python knows",
                fix="Use a name such as utf-8, gb18030, cp1252 or latin-1.",
            ) from exc
        if not getattr(codecs.lookup(encoding), "_is_text_encoding", True):
            raise InputError(f"{encoding!r} is not a text encoding",
                             fix="Use a name such as utf-8, gb18030, cp1252 or latin-1.")
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raise InputError(
                f"{source} is not {encoding} text (byte 0x{data[exc.start]:02x} on line {line} "
                "does not decode)",
                fix="Try another --encoding (gb18030 for Chinese ERP exports, cp1252 for "
                "Western Windows ones), or save the export as UTF-8 CSV.",
            ) from exc
        return text.removeprefix("\ufeff"), encoding
    if not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and \
            b"\x00" in data[:4096]:
        raise InputError(
            f"{source} looks like UTF-16 text without a byte-order mark (it has NUL bytes)",
            fix="Run again with --encoding utf-16-le (or utf-16-be), or save the export as "
            "UTF-8 CSV.",
        )
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16").removeprefix("\ufeff"), "utf-16"
        except UnicodeDecodeError as exc:
            raise InputError(f"{source} starts like UTF-16 text but does not decode",
                             fix="Save the export again as UTF-8 CSV.") from exc
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(
            f"{source} is not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line} is not "
            "UTF-8), so its encoding must be given",
            fix="Run again with --encoding, e.g. --encoding gb18030 (Chinese ERP exports, "
            "GBK) or --encoding cp1252 (Western Windows), or save the export as CSV UTF-8.",
        ) from exc


def _field_counts(sample: str, delimiter: str) -> list[int]:
    reader = csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter,
                        skipinitialspace=True)
    counts = []
    try:
        for record in reader:
            if record and any(f.strip() for f in record):
                counts.append(len(record))
    except csv.Error:
        return counts
    return counts


def sniff_delimiter(text: str, sample_lines: int = 50) -> str:
    """The delimiter among ``, ; tab |`` that splits the first lines most consistently.

    Each candidate splits the sample; the one whose records most often have as many fields
    as the first record wins (at least two fields), more fields breaking a tie.
    """
    lines = text.splitlines(keepends=True)[:sample_lines]
    sample = "".join(lines)
    best = (-1.0, 0, ",")
    for d in DELIMITERS:
        counts = _field_counts(sample, d)
        if not counts:
            continue
        # The header width; title lines above the header are outvoted by the data lines.
        width = Counter(counts).most_common(1)[0][0]
        if width < 2:
            continue
        consistency = sum(c == width for c in counts) / len(counts)
        score = (consistency, width, d)
        if score[:2] > best[:2]:
            best = score
    return best[2]


def _check_quotes_close(text: str, delimiter: str) -> None:
    """Refuse an export in which a quoted field never ends.

    Python's csv reader, lenient by default, would read everything after such a quote as
    one field of one row: every later row lost without a word.
    """
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter,
                        skipinitialspace=True, strict=True)
    last = 0
    while True:
        try:
            next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            if "unexpected end of data" in str(exc):
                raise InputError(
                    f"the quoted field that starts on line {last + 1} of the export is never "
                    "closed, so every line after it would be read as part of that one field",
                    fix=f'Add the missing " on line {last + 1} (or remove the stray one), or '
                    "export the file again.",
                ) from exc
            # Other quoting slips (text after a closing quote) are the lenient reader's to
            # read; go on looking for a quote that never closes.
        last = reader.line_num


def read_records(text: str, delimiter: str) -> Iterable[tuple[int, list[str]]]:
    """``(line, fields)`` of each non-blank record; ``line`` is where the record starts.

    Raises
    ------
    InputError
        When a quoted field is never closed (see :func:`_check_quotes_close`) or the text
        cannot be read as CSV at all.
    """
    _check_quotes_close(text, delimiter)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter,
                        skipinitialspace=True)
    last = 0
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise InputError(
                f"the export cannot be read as CSV at line {reader.line_num} ({exc})",
                fix="Check the quotes on that line (a field that starts with \" must end "
                "with \"), or export the file again.",
            ) from exc
        start = last + 1
        last = reader.line_num
        if record and "".join(record).strip():
            yield start, record


_LINE_BREAK = re.compile(r"\r\n|\r|\n")  # as the csv module ends a line


def _records(text: str, delimiter: str) -> list[tuple[int, list[str]]]:
    """:func:`read_records`, fast in the usual case (no record spans lines: one strict pass
    read by the csv module, or none at all when nothing is quoted); else its two careful
    passes (which name the line of a quote that never closes)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter,
                        skipinitialspace=True, strict=True)
    if '"' not in text:
        # No quoted field, so no record spans lines and a field is what lies between two
        # delimiters: record k is line k split (what the csv module does, without its
        # per-field work; spaces it would skip after a delimiter are trimmed later anyway).
        return [(line, record.split(delimiter))
                for line, record in enumerate(_LINE_BREAK.split(text), start=1)
                if record.strip() and record.replace(delimiter, "").strip()]
    try:
        records = list(reader)
    except csv.Error:
        return list(read_records(text, delimiter))
    if reader.line_num == len(records):  # every record on one line: record k on line k
        return [(line, record) for line, record in enumerate(records, start=1)
                if record and (record[0].strip() or "".join(record).strip())]
    # A quoted field spans lines: read again, noting where each record starts.
    return list(read_records(text, delimiter))


# --------------------------------------------------------------------------------------------
# Headers


def _norm(header: str) -> str:
    """A header as compared: NFKC (full-width to ASCII), lower case, no accents, no
    separators, no trailing unit in brackets (``Amount (EUR)``, ``金额（元）``).

    Accents go because exports from the same ERP write ``Numéro`` or ``Numero`` depending on
    the code page; ``N°``, ``Nº`` and ``N.`` all become ``n``.
    """
    text = unicodedata.normalize("NFKC", header.replace("°", "").replace("º", ""))
    text = re.sub(r"\s*[(\[][^()\[\]]*[)\]]\s*$", "", text) or text
    text = "".join(c for c in unicodedata.normalize("NFKD", text)
                   if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", re.sub(r"[\s_\-./()#:'’]+", "", text)).casefold()


def build_synonyms(rows: Iterable[tuple[str, str, tuple[str, ...]]]) -> dict[str, tuple[str, ...]]:
    """Sheet column -> its headers normalised, from rows like :data:`HEADER_SYNONYMS`."""
    out: dict[str, list[str]] = {}
    for column, _language, headers in rows:
        names = out.setdefault(column, [])
        names.extend(n for h in headers if (n := _norm(h)) not in names)
    return {c: tuple(names) for c, names in out.items()}


# Export header -> sheet column names, normalised, in order of preference (built from
# HEADER_SYNONYMS).
SYNONYMS: dict[str, tuple[str, ...]] = build_synonyms(HEADER_SYNONYMS)


@dataclass(frozen=True)
class SheetImport:
    """The ledger sheet an export goes into, and how its headers and rows are read.

    Attributes
    ----------
    sheet : str
        The ledger sheet.
    required : tuple of str
        Columns every row needs (the header is the first record naming them all).
    synonyms : mapping of str to tuple of str
        Sheet column -> usual export headers, normalised (see :func:`build_synonyms`).
    kinds : mapping of str to Kind
        How the sheet's standard columns are typed.
    row : str
        What one row of the export is ("order", "contact"), for messages.
    example : str
        Usual export headers of the required columns, for messages.
    """

    sheet: str
    required: tuple[str, ...]
    synonyms: Mapping[str, tuple[str, ...]]
    kinds: Mapping[str, Kind]
    row: str
    example: str


TRANSACTIONS_IMPORT = SheetImport(
    schema.TRANSACTIONS, REQUIRED, SYNONYMS, STANDARD_KINDS, "order",
    "'Customer No', 'Invoice Date', 'Net Amount', 客户编号, 日期, 金额",
)
"""Orders into Transactions (``xlcrm import-transactions``)."""


@dataclass
class ColumnMap:
    """Which export column fills which sheet column."""

    targets: dict[int, str]  # export column index -> sheet column
    name_index: int | None
    unmapped: list[int]
    notes: list[str]


def map_columns(headers: Sequence[str], sheet_columns: Sequence[str],
                synonyms_of: Mapping[str, tuple[str, ...]] = SYNONYMS) -> ColumnMap:
    """Match the export's headers to the sheet's columns (see the module doc).

    A header equal to a sheet column (ignoring case and separators) wins over a synonym; of
    two synonyms for the same column the one earlier in ``synonyms_of`` (default
    :data:`SYNONYMS`) is used (of two exact matches the first in the file), and the other
    reported.
    """
    by_norm = {_norm(c): c for c in sheet_columns}
    synonyms: dict[str, str] = {}
    for column, names in synonyms_of.items():
        if column != NAME and column not in sheet_columns:
            continue
        for n in names:
            synonyms.setdefault(n, column)
    exact: dict[int, str] = {}
    loose: dict[int, str] = {}
    for i, h in enumerate(headers):
        n = _norm(h)
        if not n:
            continue
        if n in by_norm:
            exact[i] = by_norm[n]
        elif n in synonyms:
            loose[i] = synonyms[n]
    targets: dict[int, str] = {}
    taken: dict[str, int] = {}
    notes: list[str] = []
    unmapped: list[int] = []
    rank = {n: k for names in synonyms_of.values() for k, n in enumerate(names)}
    # Exact matches first in file order, then synonyms, the preferred name first.
    for i in [*exact, *sorted(loose, key=lambda i: rank[_norm(headers[i])])]:
        column = exact.get(i, loose.get(i))
        assert column is not None
        if column in taken:
            notes.append(f"column {headers[i]!r} ignored: {column} is taken from "
                         f"{headers[taken[column]]!r}")
            unmapped.append(i)
            continue
        taken[column] = i
        targets[i] = column
    name_index = taken.get(NAME) if NAME not in sheet_columns else None
    if name_index is not None:
        del targets[name_index]
    unmapped += [i for i, h in enumerate(headers)
                 if i not in targets and i != name_index and i not in unmapped and h.strip()]
    return ColumnMap(dict(sorted(targets.items())), name_index, sorted(unmapped), notes)


# --------------------------------------------------------------------------------------------
# Dates

_TIME = (
    r"(?:(?:T|\s+)(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?"
    r"(?:\s*([AaPp])\.?[Mm]\.?)?(?:\s*(?:Z|UTC|GMT|[+-]\d{2}:?\d{2}))?)?"
)
_ISO = re.compile(r"(\d{4})([-/.])(\d{1,2})\2(\d{1,2})" + _TIME)
_CN = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日" + _TIME)
_COMPACT = re.compile(r"((?:19|20|21)\d{2})(\d{2})(\d{2})" + _TIME)
_DOTTED = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4}|\d{2})" + _TIME)
_SLASHED = re.compile(r"(\d{1,2})([/-])(\d{1,2})\2(\d{4}|\d{2})" + _TIME)
_MON_DMY = re.compile(r"(\d{1,2})[-\s./]*([A-Za-z]{3,9})\.?[-\s./,]*(\d{4}|\d{2})" + _TIME)
_MON_MDY = re.compile(r"([A-Za-z]{3,9})\.?[-\s]+(\d{1,2})(?:st|nd|rd|th)?,?[-\s]+(\d{4})" + _TIME)
_SERIAL = re.compile(r"[1-9]\d*(?:\.\d+)?")  # a leading zero: a date in digits, not a serial
_MONTHS = {
    name: i + 1
    for i, names in enumerate([
        ("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"),
        ("may",), ("jun", "june"), ("jul", "july"), ("aug", "august"),
        ("sep", "sept", "september"), ("oct", "october"), ("nov", "november"),
        ("dec", "december"),
    ])
    for name in names
}

# A date as read from one value: a datetime, a day/month pair still to be ordered, or why not.
_DayMonth = tuple[int, int, int, tuple[str | None, ...]]


def _year(text: str) -> int:
    y = int(text)
    if len(text) == 2:  # Excel's rule for two-digit years
        y += 2000 if y < 30 else 1900
    return y


def _time_part(groups: Sequence[str | None]) -> timedelta | str:
    hh, mm, ss, frac, ampm = groups
    if hh is None:
        return timedelta(0)
    h, m, s = int(hh), int(mm or 0), int(ss or 0)
    if ampm:
        if not 1 <= h <= 12:
            return f"{h} is not an hour on a 12-hour clock"
        h = h % 12 + (12 if ampm in "Pp" else 0)
    if h > 23 or m > 59 or s > 59:
        return "not a valid time of day"
    micro = int((frac or "0").ljust(6, "0")[:6])
    return timedelta(hours=h, minutes=m, seconds=s, microseconds=micro)


def _make_date(y: int, m: int, d: int, time_groups: Sequence[str | None]) -> datetime | str:
    try:
        day = datetime(y, m, d)
    except ValueError:
        return "no such day" if 1 <= m <= 12 else f"there is no month {m}"
    t = _time_part(time_groups)
    if isinstance(t, str):
        return t
    value = day + t
    if value < _FIRST_DATE:
        return "before 1 March 1900, where Excel's calendar starts"
    return value


def _parse_date(text: str) -> datetime | _DayMonth | str:
    """One value: a datetime, ``(first, second, year, time)`` to be ordered, or a reason."""
    t = text.strip()
    if m := _ISO.fullmatch(t):
        return _make_date(int(m[1]), int(m[3]), int(m[4]), m.groups()[4:])
    if m := _CN.fullmatch(t):
        return _make_date(int(m[1]), int(m[2]), int(m[3]), m.groups()[3:])
    if m := _COMPACT.fullmatch(t):
        return _make_date(int(m[1]), int(m[2]), int(m[3]), m.groups()[3:])
    if m := _DOTTED.fullmatch(t):  # 05.03.2026: day first wherever dots are used
        return _make_date(_year(m[3]), int(m[2]), int(m[1]), m.groups()[3:])
    if m := _SLASHED.fullmatch(t):
        return int(m[1]), int(m[3]), _year(m[4]), m.groups()[4:]
    if m := _MON_DMY.fullmatch(t):
        month = _MONTHS.get(m[2].casefold())
        if month is None:
            return f"{m[2]!r} is not a month name"
        return _make_date(_year(m[3]), month, int(m[1]), m.groups()[3:])
    if m := _MON_MDY.fullmatch(t):
        month = _MONTHS.get(m[1].casefold())
        if month is None:
            return f"{m[1]!r} is not a month name"
        return _make_date(int(m[3]), month, int(m[2]), m.groups()[3:])
    if _SERIAL.fullmatch(t):
        serial = float(t)
        lo, hi = SERIAL_RANGE
        if not lo <= serial <= hi:
            return ("not a date (a number, but not an Excel date serial of 1950-2099; "
                    "digits such as 050326 need --date-format, e.g. %d%m%y)")
        # Whole seconds: a serial's fraction of a day is rarely exact in binary.
        return _EXCEL_EPOCH + timedelta(seconds=round(serial * 86400))
    return "not a date in a format xlcrm knows (e.g. 2026-03-05, 05.03.2026, 05/03/2026)"


def _strptime(fmt: str) -> Callable[[str], datetime | str]:
    def parse(text: str) -> datetime | str:
        try:
            # A time zone (%z) is dropped, the wall-clock time kept, as for other dates.
            value = datetime.strptime(text.strip(), fmt).replace(tzinfo=None)
        except ValueError:
            return f"does not match the date format {fmt}"
        if value < _FIRST_DATE:
            return "before 1 March 1900, where Excel's calendar starts"
        return value
    return parse


@dataclass
class _Column:
    """One export column being typed, as its distinct values (each parsed once).

    Attributes
    ----------
    header : str
        The export's header.
    values : list of str
        The distinct values, trimmed, in the order they first appear.
    codes : numpy.ndarray
        Per row, the position of its value in ``values``.
    counts : numpy.ndarray
        Rows per value.
    first_line : list of int
        The line where each value first appears.
    array : numpy.ndarray
        ``values`` as an object array.
    """

    header: str
    values: list[str]
    codes: np.ndarray
    counts: np.ndarray
    first_line: list[int]
    array: np.ndarray  # ``values`` as an object array

    @classmethod
    def of(cls, header: str, cells: Sequence[str], lines: np.ndarray) -> _Column:
        """``cells``: the column's values, one per row (on ``lines``)."""
        codes, raw = pd.factorize(np.array(cells, dtype=object), sort=False)
        values = np.array([v.strip() for v in raw], dtype=object)
        if len(values) and (values != raw).any():  # " 5" and "5" are one value
            again, values = pd.factorize(values, sort=False)
            codes = again[codes]
        first = np.zeros(len(values), dtype=np.int64)
        first[codes[::-1]] = np.arange(len(codes))[::-1]
        return cls(header, values.tolist(), codes, np.bincount(codes, minlength=len(values)),
                   lines[first].tolist() if len(values) else [], values)

    def rows(self, per_value: np.ndarray) -> np.ndarray:
        """A per-value array spread to the rows."""
        return per_value[self.codes]


def _date_column(col: _Column, options: ImportOptions, source: str,
                 notes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per distinct value: its date (``NaT`` when blank or bad) and why it is bad (or None)."""
    if options.date_format:
        parse = _strptime(options.date_format)
        parsed: list[Any] = [parse(v) if v else None for v in col.values]
    else:
        parsed = [_parse_date(v) if v else None for v in col.values]
        pairs = {k: p for k, p in enumerate(parsed) if isinstance(p, tuple)}
        if pairs:
            dayfirst = _day_order(col, pairs, options, source, notes)
            evidence = next(
                (f"line {col.first_line[k]}: {col.values[k]}"
                 for k, (a, b, _y, _t) in pairs.items() if (a > 12 if dayfirst else b > 12)),
                None)
            order = "day-first" if dayfirst else "month-first"
            for k, (a, b, y, tm) in pairs.items():
                d, mo = (a, b) if dayfirst else (b, a)
                got = _make_date(y, mo, d, tm)
                if isinstance(got, str) and mo > 12:
                    got = (f"not a {order} date (as asked with --"
                           f"{'dayfirst' if dayfirst else 'monthfirst'})"
                           if options.dayfirst is not None else
                           f"does not fit the {order} dates of this file"
                           + (f" ({evidence})" if evidence else ""))
                parsed[k] = got
    dates = np.array([p if isinstance(p, datetime) else None for p in parsed],
                     dtype="datetime64[us]")
    reasons = np.array([p if isinstance(p, str) else None for p in parsed], dtype=object)
    return dates, reasons


def _day_order(col: _Column, pairs: Mapping[int, _DayMonth], options: ImportOptions,
               source: str, notes: list[str]) -> bool:
    """Whether ``05/03/2026`` means 5 March in this column (see the module doc)."""
    if options.dayfirst is not None:
        return options.dayfirst
    day_rows = sum(int(col.counts[k]) for k, p in pairs.items() if p[0] > 12)
    month_rows = sum(int(col.counts[k]) for k, p in pairs.items() if p[1] > 12)

    def example(first: bool) -> str:
        # Values are in the order they first appear: the first one is on the earliest line.
        k = min(k for k, p in pairs.items() if (p[0] if first else p[1]) > 12)
        return f"line {col.first_line[k]}: {col.values[k]}"

    if day_rows or month_rows:
        dayfirst = day_rows >= month_rows
        notes.append(
            f"{col.header}: dates like 05/03/2026 read "
            + ("day first (5 March)" if dayfirst else "month first (3 May)")
            + f", since {example(dayfirst)}"
        )
        return dayfirst
    if all(a == b for a, b, _y, _t in pairs.values()):
        return True  # every value reads the same both ways
    k = min(k for k, p in pairs.items() if p[0] != p[1])
    a, b, y, _t = pairs[k]
    raise InputError(
        f"the dates in column {col.header!r} of {source} can be read day first or month "
        f"first, and every one fits both (line {col.first_line[k]}: {col.values[k]!r} is "
        f"{a} {_month_name(b)} {y} or {b} {_month_name(a)} {y})",
        fix="Run again with --dayfirst (05/03/2026 = 5 March) or --monthfirst "
        "(05/03/2026 = 3 May), or give the format, e.g. --date-format %d/%m/%Y.",
    )


def _month_name(m: int) -> str:
    return datetime(2000, m, 1).strftime("%B") if 1 <= m <= 12 else str(m)


# --------------------------------------------------------------------------------------------
# Numbers

_WS = re.compile(r"[\s\u00a0\u2007\u202f\u2009\u200b]+")
_SYMBOLS = "$€£¥￥₹₩₽₺₪฿₫₱¢"
_CURRENCY = (
    rf"(?:[A-Za-z]{{0,3}}\.?[{_SYMBOLS}]|[A-Z]{{3}}|kr\.?|Kč|zł|Ft|Rs\.?|Fr\.?|lei|"
    r"元|人民币|圆)"
)
_PREFIX = re.compile(_CURRENCY)
_SUFFIX = re.compile(_CURRENCY + r"$")
_MINUS = "-−–"
_DASHES = frozenset({"-", "−", "–", "—"})
_EXPONENT = re.compile(r"\d+(?:\.\d+)?[eE][+-]?\d+|\.\d+[eE][+-]?\d+")
_CORE = re.compile(r"\d[\d.,]*|[.,]\d+")
# An integer part with thousands separators: 1,234,567 (or Indian 12,34,567).
_GROUPS = re.compile(r"\d{1,3}(?:[.,]\d{2})*[.,]\d{3}|\d{1,3}(?:[.,]\d{3})+")


@dataclass(frozen=True)
class _Number:
    """A number as written: its digits and separators, its sign, what it says of the decimal.

    ``decimal`` is the separator the value proves to be the decimal one (``None``: it does
    not tell, e.g. ``1234`` or ``1,234``); ``ambiguous`` is the separator of a ``1,234``.
    """

    negative: bool
    core: str
    decimal: str | None
    ambiguous: str | None = None

    def value(self, decimal: str) -> float | str:
        thousands = "," if decimal == "." else "."
        if self.decimal is not None and self.decimal != decimal:
            return "conflict"
        core = self.core
        if self.ambiguous is not None and self.ambiguous == thousands:
            core = core.replace(thousands, "")
        elif self.ambiguous is None:
            int_part = core.split(decimal, 1)[0]
            if thousands in int_part and not _GROUPS.fullmatch(int_part):
                return f"the digits are not grouped by thousands around {thousands!r}"
            core = core.replace(thousands, "")
        x = float(core.replace(decimal, ".")) if core.strip(".,") else math.nan
        if not math.isfinite(x):
            return "not a number"
        return -x if self.negative else x


_PLAIN = re.compile(r"-?[\d.,]+")  # the usual case: nothing to strip


def _parse_number(text: str) -> _Number | str:
    if _PLAIN.fullmatch(text):
        negative = text[0] == "-"
        return _classify(text[1:] if negative else text, negative)
    t = _WS.sub("", text)
    negative = False
    for _ in range(4):  # signs, brackets and currency in any order: -$5, $-5, ($5), 5 € -
        before = t
        if len(t) > 1 and t[0] == "(" and t[-1] == ")":
            negative, t = True, t[1:-1]
        if m := _PREFIX.match(t):
            t = t[m.end():]
        if m := _SUFFIX.search(t):
            t = t[: m.start()]
        if t[:1] and t[0] in _MINUS:
            negative, t = True, t[1:]
        elif t[:1] == "+":
            t = t[1:]
        if t[-1:] and t[-1] in _MINUS:
            negative, t = True, t[:-1]
        if t == before:
            break
    t = t.replace("'", "").replace("’", "")
    if _EXPONENT.fullmatch(t):
        return _Number(negative, t, "." if "." in t else None)
    return _classify(t, negative)


def _classify(t: str, negative: bool) -> _Number | str:
    """Digits and separators (``t``) as a :class:`_Number`, or why they are not a number."""
    if not _CORE.fullmatch(t) or t[-1] in ".,":
        return "not a number"
    dots, commas = t.count("."), t.count(",")
    if dots and commas:
        last = "." if t.rfind(".") > t.rfind(",") else ","
        if t.count(last) > 1:
            return "not a number (two decimal separators)"
        return _Number(negative, t, last)
    if not dots and not commas:
        return _Number(negative, t, None)
    sep = "." if dots else ","
    other = "," if sep == "." else "."
    if dots + commas > 1:  # 1,234,567: thousands; the decimal separator is the other one
        return _Number(negative, t, other)
    int_part, frac = t.split(sep)
    if len(frac) == 3 and 1 <= len(int_part) <= 3 and int_part != "0":
        return _Number(negative, t, None, ambiguous=sep)  # 1,234: 1234 or 1.234
    return _Number(negative, t, sep)


# The usual ways an export writes a number, told apart by one regular expression per value
# (group name: the decimal separator such a value proves; p: a point or none). Anything
# else is read one value at a time by _parse_number, which knows every format of the
# module doc.
_FAST_NUMBER = re.compile(
    r"(?P<p>-?\d*\.?\d+)"  # 1234, 1234.5, .5
    r"|(?P<c>-?\d*,\d+)"  # 1234,5
    r"|(?P<gp>-?\d{1,3}(?:,\d{3})+\.\d+|-?\d{1,3}(?:,\d{3}){2,})"  # 1,234.5 1,234,567
    r"|(?P<gc>-?\d{1,3}(?:\.\d{3})+,\d+|-?\d{1,3}(?:\.\d{3}){2,})"  # 1.234,5 1.234.567
)
# 1,234 or 1.234: a thousands separator or a decimal one (as _classify decides).
_AMBIGUOUS = re.compile(r"-?(?:[1-9]\d{0,2}|0\d{1,2})([.,])\d{3}")
_PROVES = {"c": ",", "gp": ".", "gc": ","}
_SEP_NAME = {".": "point", ",": "comma"}


@dataclass
class _NumberColumn:
    """A number column's distinct values classified: what each proves about the decimal
    separator, and the values that need :func:`_parse_number`."""

    col: _Column
    blank: np.ndarray
    decimal: np.ndarray  # per value: ".", "," or None (does not tell)
    slow: dict[int, _Number | str]  # values read one by one

    @classmethod
    def of(cls, col: _Column) -> _NumberColumn:
        # A lone dash is how many reports print "nothing" in a number column.
        blank = pd.Series(col.values, dtype=object).isin(["", *_DASHES]).to_numpy()
        decimal = np.full(len(col.values), None, dtype=object)
        slow: dict[int, _Number | str] = {}
        match = _FAST_NUMBER.fullmatch
        for k, v in enumerate(col.values):
            if v.isascii() and v.isdigit():
                continue  # 1234: nothing to learn, nothing to clean
            m = match(v)
            if m is None:
                if not blank[k]:
                    slow[k] = p = _parse_number(v)
                    if isinstance(p, _Number):
                        decimal[k] = p.decimal
                continue
            kind = m.lastgroup
            if kind in _PROVES:
                decimal[k] = _PROVES[kind]
            elif "." in v:
                decimal[k] = "."
            if kind in ("p", "c") and 5 <= len(v) <= 8 and _AMBIGUOUS.fullmatch(v):
                decimal[k] = None  # 1,234: says nothing about the decimal separator
        return cls(col, blank, decimal, slow)

    def votes(self) -> Counter[str]:
        """Rows that prove each decimal separator."""
        return Counter({d: int(self.col.counts[self.decimal == d].sum()) for d in ".,"
                        if (self.decimal == d).any()})

    def typed(self, decimal: str) -> tuple[np.ndarray, np.ndarray]:
        """Per distinct value: the number (NaN when blank or bad) and why it is bad."""
        n = len(self.col.values)
        values = np.full(n, np.nan)
        reasons = np.full(n, None, dtype=object)
        fast = ~self.blank
        fast[list(self.slow)] = False
        ok = fast & ((self.decimal == None) | (self.decimal == decimal))  # noqa: E711
        texts = self.col.array[ok]
        if decimal == ".":
            texts = [t.replace(",", "") if "," in t else t for t in texts]
        else:
            texts = [t.replace(".", "").replace(",", ".") for t in texts]
        values[ok] = pd.to_numeric(np.array(texts, dtype=object), errors="coerce")
        reasons[ok & ~np.isfinite(values)] = "not a number"
        for k in np.flatnonzero(fast & ~ok):
            reasons[k] = self._conflict(self.decimal[k], decimal)
        for k, p in self.slow.items():
            got = p if isinstance(p, str) else p.value(decimal)
            if got == "conflict":
                got = self._conflict(p.decimal, decimal)  # type: ignore[union-attr]
            if isinstance(got, str):
                reasons[k] = got
            else:
                values[k] = got
        return values, reasons

    def _conflict(self, found: str | None, decimal: str) -> str:
        """Why a value with the other decimal separator is refused, with an example."""
        proving = np.flatnonzero(self.decimal == decimal)
        # Values are in the order they first appear: the first is on the earliest line.
        example = (f" (line {self.col.first_line[proving[0]]}: {self.col.values[proving[0]]})"
                   if len(proving) else "")
        return (f"has a decimal {_SEP_NAME[found or '.']}, but this column uses a decimal "
                f"{_SEP_NAME[decimal]}" + example)


# --------------------------------------------------------------------------------------------
# The export as rows


def _find_header(records: list[tuple[int, list[str]]], sheet_columns: Sequence[str],
                 target: SheetImport = TRANSACTIONS_IMPORT) -> int:
    """Position of the header among the first records (title lines above it skipped)."""
    for k, (_line, fields) in enumerate(records[:HEADER_SEARCH]):
        cmap = map_columns([f.strip() for f in fields], sheet_columns, target.synonyms)
        if set(target.required) <= set(cmap.targets.values()):
            return k
    return 0


def parse_export(
    data: bytes,
    sheet_columns: Sequence[str],
    *,
    source: str,
    kinds: Mapping[str, Kind] | None = None,
    options: ImportOptions | None = None,
    target: SheetImport = TRANSACTIONS_IMPORT,
) -> ParsedExport:
    """Read the export ``data`` into typed rows for a sheet with ``sheet_columns``.

    Parameters
    ----------
    data : bytes
        The file's bytes.
    sheet_columns : sequence of str
        Headers of the Transactions sheet, in sheet order.
    source : str
        The file's name, for messages.
    kinds : mapping of str to {"text", "date", "number"}, optional
        How each sheet column is typed; the standard columns have theirs
        (:data:`STANDARD_KINDS`), others default to text.
    options : ImportOptions, optional
        Encoding, delimiter, date order or format, decimal separator.
    target : SheetImport
        The sheet the rows go to (default: orders into Transactions).

    Returns
    -------
    ParsedExport

    Raises
    ------
    InputError
        When the file cannot be decoded or parsed, lacks a required column, or its dates
        read both day-first and month-first.
    """
    with collector_paused():
        return _parse_export(data, sheet_columns, source=source, kinds=kinds,
                             options=options, target=target)


def _and(names: Sequence[str]) -> str:
    return ", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else names[0]


def _parse_export(data: bytes, sheet_columns: Sequence[str], *, source: str,
                  kinds: Mapping[str, Kind] | None, options: ImportOptions | None,
                  target: SheetImport) -> ParsedExport:
    options = options or ImportOptions()
    required = target.required
    missing_in_sheet = [c for c in required if c not in sheet_columns]
    if missing_in_sheet:
        raise InputError(
            f"the {target.sheet} sheet has no column {', '.join(missing_in_sheet)} "
            f"(its columns: {', '.join(sheet_columns) or 'none'})",
            fix=f"Put the headers {_and(required)} in row 1 of {target.sheet} (copy "
            "the sheet from the xlcrm template).",
            sheet=target.sheet,
        )
    kinds = {**target.kinds, **(kinds or {})}
    if options.decimal not in (None, ".", ","):
        raise InputError(f"the decimal separator must be '.' or ',', not {options.decimal!r}",
                         fix="Use --decimal . or --decimal ,")
    text, encoding = decode_csv(data, source, options.encoding)
    delimiter = options.delimiter or sniff_delimiter(text)
    if delimiter in ("\\t", "tab", "TAB"):
        delimiter = "\t"
    if len(delimiter) != 1:
        raise InputError(f"the delimiter must be one character, not {delimiter!r}",
                         fix="Use e.g. --delimiter ';' (or tab).")
    records = _records(text, delimiter)
    if not records:
        raise InputError(f"{source} is empty", fix=f"Export the {target.row}s again.")
    k = _find_header(records, sheet_columns, target)
    header_line, raw_headers = records[k]
    # Empty cells right of the header (a spreadsheet's trailing delimiters) are no columns.
    raw_headers = list(raw_headers)
    while raw_headers and not raw_headers[-1].strip():
        raw_headers.pop()
    headers = [h.strip().lstrip("\ufeff") for h in raw_headers]
    cmap = map_columns(headers, sheet_columns, target.synonyms)
    notes = list(cmap.notes)
    if k:
        notes.append(f"lines before {header_line} skipped (the header is on line {header_line})")
    if target.sheet == schema.TRANSACTIONS:
        notes.extend(_unstored_documents(headers, sheet_columns))
    missing = [c for c in required if c not in cmap.targets.values()]
    if missing:
        found = ", ".join(repr(h) for h in headers if h) or "none"
        raise InputError(
            f"{source} has no column for {', '.join(missing)} (needed: {_and(required)}; "
            f"the header on line {header_line} has: {found})",
            fix=f"Rename the export's columns to {_and(required)} (usual names such as "
            f"{target.example} work too) and run again.",
        )
    body = records[k + 1:]
    good, rejected = _fit_width(body, len(raw_headers), delimiter)
    lines = np.array([line for line, _ in good], dtype=np.int64)
    fields = [f for _, f in good]

    def cells(i: int) -> list[str]:
        return list(map(itemgetter(i), fields))

    order = sorted(cmap.targets.items(), key=lambda t: sheet_columns.index(t[1]))
    typed = _typed_columns([(t, _Column.of(headers[i], cells(i), lines)) for i, t in order],
                           kinds, options, source, delimiter, notes)
    bad = np.zeros(len(good), dtype=bool)
    found: list[Rejected] = []
    for col, per_value in typed.reasons:
        reasons = col.rows(per_value)
        at = np.flatnonzero(reasons != None)  # noqa: E711
        found.extend(Rejected(int(lines[p]), col.header, col.values[col.codes[p]],
                              reasons[p]) for p in at)
        bad[at] = True
    # Required cells must be filled (once per row: a row already refused says no more).
    for column in required:
        col = typed.columns[column]
        at = np.flatnonzero(col.rows(typed.blank[column]) & ~bad)
        found.extend(Rejected(int(lines[p]), col.header, "",
                              f"blank (every {target.row} needs its {column})") for p in at)
        bad[at] = True
    rejected.extend(found)
    rejected.sort(key=lambda r: r.line)

    keep = ~bad
    index = pd.Index(lines[keep], name="line")
    rows = pd.DataFrame({t: _series(typed.columns[t].rows(typed.values[t])[keep], index)
                         for t in sheet_columns if t in typed.columns}, index=index)
    names = None
    if cmap.name_index is not None:
        name_col = _Column.of(headers[cmap.name_index], cells(cmap.name_index), lines)
        names = _series(name_col.rows(np.array([v or None for v in name_col.values],
                                               dtype=object))[keep], index)
    mapping = {headers[i]: t for i, t in sorted(cmap.targets.items())}
    return ParsedExport(
        source=source,
        encoding=encoding,
        delimiter=delimiter,
        rows=rows,
        names=names,
        mapping=mapping,
        name_column=headers[cmap.name_index] if cmap.name_index is not None else None,
        unmapped=tuple(headers[i] for i in cmap.unmapped),
        rejected=rejected,
        records=len(body),
        header_line=header_line,
        notes=notes,
    )


def _series(values: np.ndarray, index: pd.Index) -> pd.Series:
    """A column of the parsed rows, of the array's own type (text stays ``object`` with
    ``None`` for blank, not pandas' string type with NaN)."""
    return pd.Series(values, index=index, dtype=values.dtype)


def _fit_width(body: Sequence[tuple[int, list[str]]], width: int, delimiter: str,
               ) -> tuple[list[tuple[int, list[str]]], list[Rejected]]:
    """Records with as many fields as the header, and those that cannot be made so."""
    widths = np.fromiter(map(len, (fields for _, fields in body)), dtype=np.int64,
                         count=len(body))
    if (widths == width).all():
        return list(body), []
    good: list[tuple[int, list[str]]] = []
    rejected: list[Rejected] = []
    for line, fields in body:
        if len(fields) == width:
            good.append((line, fields))
            continue
        if len(fields) > width and not "".join(fields[width:]).strip():
            fields = fields[:width]  # trailing delimiters with nothing after them
        elif len(fields) < width:
            # Some exports leave out trailing empty fields; the missing ones are blank.
            fields = [*fields, *[""] * (width - len(fields))]
        if len(fields) != width:
            # Not cut: a longer record has its values in the wrong columns.
            rejected.append(Rejected(
                line, None, "",
                f"has {len(fields)} fields, the header has {width} (a value containing "
                f"{_delimiter_name(delimiter)} without quotes around it?)",
            ))
            continue
        good.append((line, fields))
    return good, rejected


@dataclass
class _Typed:
    """The mapped columns typed: per sheet column its distinct values' typed values (dates
    ``datetime64``, numbers ``float64``, text ``object`` with ``None`` for blank), which
    are blank, and per column (in the order checked) why values are bad."""

    columns: dict[str, _Column] = field(default_factory=dict)
    values: dict[str, np.ndarray] = field(default_factory=dict)
    blank: dict[str, np.ndarray] = field(default_factory=dict)
    reasons: list[tuple[_Column, np.ndarray]] = field(default_factory=list)


def _typed_columns(columns: Sequence[tuple[str, _Column]], kinds: Mapping[str, Kind],
                   options: ImportOptions, source: str, delimiter: str,
                   notes: list[str]) -> _Typed:
    """Each column typed by its kind; number columns after all of them have voted on the
    decimal separator (see the module doc)."""
    out = _Typed()
    numbers: list[tuple[str, _NumberColumn]] = []
    for target, col in columns:
        out.columns[target] = col
        kind = kinds.get(target, "text")
        if kind == "number":
            numbers.append((target, _NumberColumn.of(col)))
            continue
        if kind == "date":
            values, reasons = _date_column(col, options, source, notes)
        else:
            values = np.array([v or None for v in col.values], dtype=object)
            reasons = np.array([f"longer than a cell holds ({MAX_TEXT} characters)"
                                if len(v) > MAX_TEXT else None for v in col.values],
                               dtype=object)
        out.values[target] = values
        out.blank[target] = np.array([v == "" for v in col.values], dtype=bool)
        out.reasons.append((col, reasons))
    votes = {target: num.votes() for target, num in numbers}
    file_votes: Counter[str] = sum(votes.values(), Counter())
    comma_columns: list[str] = []
    for target, num in numbers:
        decimal = options.decimal or _decide_decimal(votes[target], file_votes, delimiter)
        if decimal == "," and not options.decimal:
            comma_columns.append(num.col.header)
        out.values[target], reasons = num.typed(decimal)
        out.blank[target] = num.blank
        out.reasons.append((num.col, reasons))
    if comma_columns:
        notes.append(f"{', '.join(comma_columns)}: read with a decimal comma "
                     "(1.234,50 = 1234.5)")
    return out


def _decide_decimal(votes: Counter[str], file_votes: Counter[str], delimiter: str) -> str:
    """The column's own values, else the file's other number columns, else the delimiter."""
    if votes:
        return "," if votes[","] > votes["."] else "."
    if file_votes:
        return "," if file_votes[","] > file_votes["."] else "."
    return "," if delimiter == ";" else "."


def _unstored_documents(headers: Sequence[str], sheet_columns: Sequence[str]) -> list[str]:
    """A note when the export has document numbers and the sheet no column for them.

    Such a workbook (made before the template had DocumentNo) still imports: the numbers
    are left out and lines are matched on their other columns, copies counted, which is
    exact for repeated exports; the note says how to keep the numbers.
    """
    if schema.DOCUMENT_NO in sheet_columns:
        return []
    found = [h for h in headers if _norm(h) in SYNONYMS[schema.DOCUMENT_NO]]
    if not found:
        return []
    return [f"{found[0]!r} holds document numbers, but {schema.TRANSACTIONS} has no "
            f"{schema.DOCUMENT_NO} column: they are not stored, and lines are matched on "
            f"their other columns (to keep them, type the header {schema.DOCUMENT_NO} in the "
            f"first empty column right of the {schema.TRANSACTIONS} table)"]


def _delimiter_name(d: str) -> str:
    return {",": "a comma", ";": "a semicolon", "\t": "a tab", "|": "a bar"}.get(d, repr(d))


# --------------------------------------------------------------------------------------------
# What to append: known customers, no duplicates


@dataclass
class ImportPlan:
    """What an import appends, and what it leaves out (see :func:`plan_import`).

    Attributes
    ----------
    rows : pandas.DataFrame
        Rows to append to Transactions (index: line in the export).
    new_customers : pandas.DataFrame
        Rows to append to Customers (``CustomerID`` and, when the export names them,
        ``Name``); empty unless customers are added.
    rejected : list of Rejected
        The export's rejected rows (parse errors and unknown customers), by line.
    already_present : list of int
        Lines skipped because Transactions already holds them (see :func:`plan_import` for
        how lines are matched).
    """

    rows: pd.DataFrame
    new_customers: pd.DataFrame
    rejected: list[Rejected]
    already_present: list[int]

    @property
    def duplicates(self) -> int:
        """How many lines of the export Transactions already holds (none is imported twice)."""
        return len(self.already_present)

    @property
    def rejected_lines(self) -> list[int]:
        return sorted({r.line for r in self.rejected})


def _key_column(values: pd.Series, kind: Kind) -> list[Any]:
    """Values of one column as compared for duplicates: trimmed text, rounded numbers, seconds.

    Dates compare as whole seconds since 1970 (a serial number read back from a cell is
    rarely an exact number of microseconds).
    """
    if kind == "date":
        if pd.api.types.is_datetime64_any_dtype(values.dtype):
            secs = values.dt.round("s").to_numpy(dtype="datetime64[s]")
            nat = np.isnat(secs)
            out = secs.astype(np.int64).tolist()
            if nat.any():
                out = [None if n else v for v, n in zip(out, nat.tolist(), strict=True)]
            return out
        return [_date_key(v) if isinstance(v, datetime) else _text_key(v)
                for v in values.tolist()]
    if kind == "number":
        if pd.api.types.is_float_dtype(values.dtype):
            arr = np.round(values.to_numpy(dtype=np.float64), 6)
            return [None if v != v else v for v in arr.tolist()]
        out = []
        for v in values.tolist():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                out.append(None if v != v else round(float(v), 6))
            else:
                out.append(_text_key(v))
        return out
    return [(v.strip() or None) if type(v) is str else _text_key(v) for v in values.tolist()]


def _date_key(v: datetime) -> int:
    return int(pd.Timestamp(v).round("s").timestamp())


def _text_key(v: Any) -> Any:
    """The trimmed text a cell shows for a value typed without a number format (or None)."""
    if v is None or v is pd.NaT or (isinstance(v, float) and v != v):
        return None
    if isinstance(v, str):
        text = v
    elif isinstance(v, bool):
        text = "TRUE" if v else "FALSE"
    elif isinstance(v, float):
        text = str(int(v)) if v.is_integer() else repr(v)  # 1001.0 is shown as 1001
    elif isinstance(v, datetime):
        text = v.isoformat(sep=" ") if v.time() != datetime.min.time() else v.date().isoformat()
    else:
        text = str(v)
    return text.strip() or None


def _key_frame(frame: pd.DataFrame, columns: Sequence[str],
               kinds: Mapping[str, Kind]) -> pd.DataFrame:
    """The values of ``columns`` as compared to find a line already in the sheet."""
    return pd.DataFrame({c: pd.Series(_key_column(frame[c], kinds.get(c, "text")), dtype=object)
                         for c in columns})


def _present(new: pd.DataFrame, old: pd.DataFrame) -> np.ndarray:
    """Which rows of ``new`` ``old`` already holds, counting copies (a multiset match).

    The k-th copy of a line in ``new`` (in file order) is present when ``old`` holds at
    least k copies of it: two identical lines are two orders, and a repeated export adds
    only the copies the sheet does not have yet.
    """
    out = np.zeros(len(new), dtype=bool)
    if not len(new) or not len(old) or not len(new.columns):
        return out
    both = pd.concat([old, new], ignore_index=True)
    group = both.groupby(list(both.columns), dropna=False, sort=False).ngroup().to_numpy()
    held = np.bincount(group[: len(old)], minlength=int(group.max()) + 1)
    new_group = group[len(old):]
    copy = pd.Series(new_group).groupby(new_group).cumcount().to_numpy()
    return copy < held[new_group]


def _already_present(rows: pd.DataFrame, existing: pd.DataFrame,
                     kinds: Mapping[str, Kind]) -> np.ndarray:
    """Rows of the export that Transactions already holds (see :func:`plan_import`)."""
    cols = list(rows.columns)
    if not len(rows) or not len(existing) or not all(c in existing.columns for c in cols):
        return np.zeros(len(rows), dtype=bool)
    new = _key_frame(rows, cols, kinds)
    old = _key_frame(existing, cols, kinds)
    doc = schema.DOCUMENT_NO
    if doc not in cols:
        return _present(new, old)
    # Lines with a document number against the sheet's lines with one; what is left against
    # the sheet's lines without one (imported before the export carried the numbers), on
    # the other columns.
    new_doc = new[doc].notna().to_numpy()
    old_doc = old[doc].notna().to_numpy()
    present = np.zeros(len(rows), dtype=bool)
    present[new_doc] = _present(new[new_doc], old[old_doc])
    rest = ~present
    others = [c for c in cols if c != doc]
    present[rest] = _present(new.loc[rest, others], old.loc[~old_doc, others])
    return present


def plan_import(
    parsed: ParsedExport,
    existing: pd.DataFrame,
    known_customers: Iterable[Any],
    *,
    kinds: Mapping[str, Kind] | None = None,
    add_missing_customers: bool = False,
) -> ImportPlan:
    """Decide which parsed rows to append: every line Transactions does not hold yet.

    Parameters
    ----------
    parsed : ParsedExport
        The export read by :func:`parse_export`.
    existing : pandas.DataFrame
        The Transactions sheet as read (CustomerID as text).
    known_customers : iterable
        CustomerIDs of the Customers sheet (compared as trimmed text).
    kinds : mapping, optional
        Types of non-standard columns (as given to :func:`parse_export`).
    add_missing_customers : bool
        Add an unknown CustomerID to Customers instead of rejecting its rows.

    Returns
    -------
    ImportPlan

    Notes
    -----
    A line is compared on the columns the export fills (text trimmed, numbers to 6
    decimals, dates to the second), **counting copies**: a file with two identical lines
    adds two lines the first time and none the second, and an export that repeats an
    earlier one with one more identical line adds exactly that one. Two identical lines in
    an export are two orders (the same customer may buy the same thing twice a day); only
    the sheet can say whether a line was imported before, not the file.

    With a document number (``DocumentNo``: invoice, order or delivery note), the number is
    part of the line, not the line itself: an invoice has several lines, and two lines of
    one invoice may even be identical (two cartons of the same article). So the lines of a
    document are matched, copies counted, against the sheet's lines of the same document; a
    document already in the sheet gets only the lines it lacks (a line corrected in the
    file after it was rejected). Lines the sheet holds *without* a document number (typed,
    or imported from an export without one) are matched on the other columns, so adding the
    number to the export later does not import them again.
    """
    kinds = {**STANDARD_KINDS, **(kinds or {})}
    rows, rejected, new_ids = _known_customer_rows(parsed, known_customers,
                                                   add_missing_customers)
    present = _already_present(rows, existing, kinds)
    already = [int(line) for line in rows.index[present]]
    rows = rows[~present]

    new_customers = pd.DataFrame({CUSTOMER_ID: pd.Series([], dtype=object)})
    if new_ids:
        still = set(rows[CUSTOMER_ID])  # customers whose every row was present need no row
        new_ids = [v for v in new_ids if v in still]
        data: dict[str, list[Any]] = {CUSTOMER_ID: new_ids}
        if parsed.names is not None:
            names = parsed.names.loc[rows.index]
            first: dict[str, str] = {}
            for cid, name in zip(rows[CUSTOMER_ID].tolist(), names.tolist(), strict=True):
                if name and cid not in first:
                    first[cid] = name
            data[NAME] = [first.get(v) for v in new_ids]
        new_customers = pd.DataFrame(data, dtype=object)
    return ImportPlan(rows, new_customers, rejected, already)


def _known_customer_rows(parsed: ParsedExport, known_customers: Iterable[Any],
                         add_missing_customers: bool,
                         ) -> tuple[pd.DataFrame, list[Rejected], list[str]]:
    """The parsed rows of known customers (or of new ones, when they may be added), IDs
    trimmed; the rejected rows with those of unknown customers added; the IDs to add."""
    rows = parsed.rows
    rejected = list(parsed.rejected)
    known = {k for v in known_customers if (k := _text_key(v)) is not None}
    known_near: dict[str, str] = {}
    for k in sorted(known):
        known_near.setdefault(_near_key(k), k)
    ids = [_text_key(v) for v in rows[CUSTOMER_ID].tolist()]
    id_header = next((h for h, t in parsed.mapping.items() if t == CUSTOMER_ID), CUSTOMER_ID)
    unknown = [i for i, v in enumerate(ids) if v not in known]
    # An ID that differs from a known one only in case or in number formatting (c0001,
    # 1001.0, 001001) is a typo or an export quirk, never a new customer.
    near = {i: known_near[_near_key(ids[i])] for i in unknown if _near_key(ids[i]) in known_near}
    new_ids: list[str] = []
    if add_missing_customers:
        new_ids = list(dict.fromkeys(ids[i] for i in unknown if i not in near))
    refused = [i for i in unknown if i in near or not add_missing_customers]
    if refused:
        for i in refused:
            v = ids[i]
            hint = near.get(i)
            rejected.append(Rejected(
                int(rows.index[i]), id_header, v,
                f"unknown customer {v!r}"
                + (f" (Customers has {hint!r}): correct the ID in the file" if hint else
                   ": add it to Customers or use --add-missing-customers"),
            ))
        rejected.sort(key=lambda r: r.line)
        keep = np.ones(len(rows), dtype=bool)
        keep[refused] = False
        rows = rows[keep]
        ids = [v for v, k in zip(ids, keep.tolist(), strict=True) if k]
    rows = rows.copy()
    rows[CUSTOMER_ID] = pd.Series(ids, index=rows.index, dtype=object)
    return rows, rejected, new_ids


def _near_key(customer_id: str) -> str:
    """What two IDs share when they differ only in case or number formatting."""
    folded = customer_id.strip().casefold()
    m = re.fullmatch(r"0*(\d+)(?:\.0+)?", folded)
    return m.group(1) if m else folded


def sheet_kinds(frame: pd.DataFrame, columns: Collection[str]) -> dict[str, Kind]:
    """Kinds of the sheet's non-standard columns, from how the reader typed them."""
    out: dict[str, Kind] = {}
    for c in columns:
        if c in STANDARD_KINDS or c not in frame.columns:
            continue
        dtype = frame[c].dtype
        if pd.api.types.is_datetime64_any_dtype(dtype):
            out[c] = "date"
        elif pd.api.types.is_float_dtype(dtype) and frame[c].notna().any():
            out[c] = "number"
        else:
            out[c] = "text"
    return out


def prepare_import(
    data: bytes,
    source: str,
    transactions: pd.DataFrame,
    customer_ids: Iterable[Any],
    *,
    options: ImportOptions | None = None,
    add_missing_customers: bool = False,
) -> tuple[ParsedExport, ImportPlan]:
    """Read the export ``data`` against the Transactions table and plan what to append.

    Shared by ``xlcrm import-transactions`` (the workbook file) and the ribbon's Import
    orders (the open workbook): both read the sheets their own way and call this.

    Parameters
    ----------
    data : bytes
        The export file's content.
    source : str
        Its file name, for messages.
    transactions : pandas.DataFrame
        The Transactions sheet as read (header row as columns, CustomerID as text).
    customer_ids : iterable
        The CustomerIDs on Customers.
    options, add_missing_customers
        See :func:`parse_export` and :func:`plan_import`.
    """
    columns = list(transactions.columns)
    parsed = parse_export(data, columns, source=source,
                          kinds=sheet_kinds(transactions, columns), options=options)
    return parsed, plan_for_sheet(parsed, transactions, customer_ids,
                                  add_missing_customers=add_missing_customers)


def plan_for_sheet(
    parsed: ParsedExport,
    transactions: pd.DataFrame,
    customer_ids: Iterable[Any],
    *,
    add_missing_customers: bool = False,
) -> ImportPlan:
    """:func:`plan_import` with the column kinds of the Transactions table as read.

    For deciding again about an export already parsed (the ribbon asks whether to add
    unknown customers after seeing them) without reading it twice.
    """
    return plan_import(parsed, transactions, customer_ids,
                       kinds=sheet_kinds(transactions, list(transactions.columns)),
                       add_missing_customers=add_missing_customers)


_WHOLE_ID = re.compile(r"[1-9]\d{0,14}")


def numbers_where_whole(ids: pd.Series) -> pd.Series:
    """IDs that are plain whole numbers as numbers, the rest as they are.

    For a sheet whose CustomerIDs are numbers (1001, as many ERPs number customers): Excel's
    lookups, pivot tables and filters tell the text "1002" from the number 1002. An ID with
    a leading zero or a letter stays text, as typed.
    """
    return ids.map(lambda v: int(v) if isinstance(v, str) and _WHOLE_ID.fullmatch(v) else v)
