"""Where the order history is: the Transactions sheet, files, or a database, and its password.

A location is what the user types after ``--orders`` or in the ``Orders source`` option:

* blank or ``Transactions``: the workbook's Transactions sheet (the default);
* a path: a Parquet or CSV file (``.parquet``, ``.csv``, ``.txt``, ``.tsv``), or a folder of
  them (every Parquet file below it, or every CSV file when there is no Parquet file);
* a database URL as SQLAlchemy writes it (``sqlite:///erp.db``,
  ``postgresql+psycopg://crm_reader@erp.example.com/erp``), with a table name or a query
  (``Orders table`` option, ``--orders-table``);
* ``env:NAME``: the database URL is in the environment variable ``NAME`` (a URL with its
  password, kept out of the workbook and the command line).

The password of a database is never stored in the workbook: a URL without one takes it from
the environment variable ``XLCRM_DB_PASSWORD``, else from the operating system's keyring
(service ``xlcrm``, user ``USER@HOST``) when the ``keyring`` package is installed, else
none (the driver may still use ``~/.pgpass`` or the server's trust rules). A URL typed in
the workbook with a password in it is refused: anyone who gets the file would read it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from xlcrm import schema
from xlcrm.errors import InputError

__all__ = ["PASSWORD_VARIABLE", "OrderSource", "order_source"]

PASSWORD_VARIABLE: Final = "XLCRM_DB_PASSWORD"
FILE_SUFFIXES: Final = {".parquet": "parquet", ".csv": "csv", ".txt": "csv", ".tsv": "csv"}


@dataclass(frozen=True)
class OrderSource:
    """An order history outside the workbook.

    Attributes
    ----------
    kind : {"parquet", "csv", "database"}
    location : str
        The path, or the database URL (with its password only when the user typed one on
        the command line or put it in an environment variable).
    table : str or None
        Database table (``schema.table`` allowed) or a ``SELECT`` query.
    """

    kind: Literal["parquet", "csv", "database"]
    location: str
    table: str | None = None

    @property
    def label(self) -> str:
        """How problems name the source: the file or folder, or the URL without its
        password and the table."""
        if self.kind != "database":
            return Path(self.location).name or self.location
        from sqlalchemy.engine import make_url

        url = make_url(self.location).render_as_string(hide_password=True)
        table = self.table or ""
        what = "query" if _is_query(table) else f"table {table}"
        return f"{url} ({what})"


def _is_query(table: str) -> bool:
    return table.strip().split(None, 1)[0].casefold() in {"select", "with"} if table else False


def order_source(
    location: str | None, table: str | None = None, *, in_workbook: bool = False
) -> OrderSource | None:
    """The order source a location names; ``None`` for the Transactions sheet.

    Raises
    ------
    InputError
        One line: a file or folder that does not exist or holds no order file, a database
        URL without a table, an ``env:`` variable that is not set, or (``in_workbook``) a
        URL with a password in it.
    """
    text = (location or "").strip()
    if not text or text.casefold() == schema.TRANSACTIONS.casefold():
        return None
    where = f"the Orders source option on {schema.INDICATORS}" if in_workbook else "--orders"
    if text.startswith("env:"):
        name = text[4:]
        text = os.environ.get(name, "")
        if not text:
            raise InputError(
                f"{where} names the environment variable {name}, which is not set",
                fix=f"Set {name} to the database URL (with its password) before running.",
            )
    elif "://" in text and in_workbook and _has_password(text):
        raise InputError(
            f"{where} holds a database password; anyone who gets the workbook would read it",
            fix=f"Remove the password from the URL and set {PASSWORD_VARIABLE} (or the"
            " keyring) instead, or name an environment variable as env:NAME.",
            sheet=schema.INDICATORS,
        )
    if "://" in text:
        if not (table or "").strip():
            raise InputError(
                f"{where} names a database but no table or query",
                fix="Give the table (Orders table option, or --orders-table) or a SELECT"
                " query returning CustomerID, Date and Amount.",
            )
        return OrderSource("database", text, table.strip() if table else None)
    path = Path(text).expanduser()
    if not path.exists():
        raise InputError(
            f"the order file {path} does not exist",
            fix="Check the path (a Parquet or CSV file, or a folder of them).",
        )
    if path.is_dir():
        return OrderSource(_folder_kind(path), str(path))
    kind = FILE_SUFFIXES.get(path.suffix.casefold())
    if kind is None:
        raise InputError(
            f"{path.name} is not a Parquet or CSV file",
            fix="Give a .parquet, .csv, .txt or .tsv file, a folder of them, or a database URL.",
        )
    return OrderSource(kind, str(path))  # type: ignore[arg-type]


def _folder_kind(path: Path) -> Literal["parquet", "csv"]:
    if next(path.rglob("*.parquet"), None) is not None:
        return "parquet"
    if next(path.rglob("*.csv"), None) is not None:
        return "csv"
    raise InputError(
        f"the folder {path} holds no .parquet or .csv file",
        fix="Put the order files in it, or give the path of one file.",
    )


def folder_files(source: OrderSource) -> list[str]:
    """The files a file source reads, in name order."""
    path = Path(source.location)
    if not path.is_dir():
        return [str(path)]
    pattern = "*.parquet" if source.kind == "parquet" else "*.csv"
    return sorted(str(p) for p in path.rglob(pattern))


def _has_password(url: str) -> bool:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).password is not None
    except Exception:  # noqa: BLE001 - an unreadable URL is reported when it is used
        return False


def with_password(url: str) -> str:
    """``url`` with the password from :data:`PASSWORD_VARIABLE` or the keyring when it has
    none (see the module docstring)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.password is not None or not parsed.username:
        return url
    password = os.environ.get(PASSWORD_VARIABLE)
    if password is None:
        try:
            import keyring
        except ImportError:
            return url
        try:
            password = keyring.get_password("xlcrm", f"{parsed.username}@{parsed.host}")
        except Exception:  # noqa: BLE001 - no usable keyring backend: no password from it
            password = None
    if not password:
        return url
    return parsed.set(password=password).render_as_string(hide_password=False)
