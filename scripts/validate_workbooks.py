"""Build every kind of workbook xlcrm writes and run Microsoft's Open XML SDK validator on them.

Run: ``python scripts/validate_workbooks.py [--keep DIR]`` (CI runs it after the tests).

The kinds: the committed template; a demo after its first resegment and after a second one;
the demo with two past months backfilled on SegmentHistory and resegmented again;
``import-transactions`` into the demo and into the empty template (new customers added);
``sync-judgments`` after an indicator was renamed on Indicators; the shareable copies of
the demo (plain, with contacts masked, and of one account manager's customers) and of the
imported template; ``xlcrm new`` with each non-default model, and that model's demo
resegmented once more. Each is made with the ``xlcrm`` command, as a user would, in a
temporary folder.

Exit 0 when the validator reports 0 errors on every file. Exit 1 on any error, and also when
a workbook cannot be built or the validator cannot be set up (the reason is printed): this
check is never skipped silently. The validator is the project's shared tool,
``../shared/tools/ooxml-validate`` beside the repository (CI has that folder beside its
clone); ``XLCRM_OOXML_VALIDATE`` may name another copy.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "workbook" / "CRM_Template.xlsm"
SHARED_VALIDATOR = ROOT.parent / "shared" / "tools" / "ooxml-validate"
VALIDATOR_EXIT = {2: "a file could not be opened as an OOXML package",
                  3: "the validator could not be set up"}

# Orders of two demo customers and of one customer the ledger does not know yet.
ORDERS_CSV = (
    "CustomerID,Date,Amount,GrossProfit,Quantity,Product\n"
    "C0001,2026-03-02,1250.50,310.25,5,Hydraulic pump\n"
    "C0002,2026-03-03,980,200,2,Spare parts kit\n"
    "N0001,2026-03-04,4400,1100,1,Crane service\n"
)


RENAMED = ("Purchase growth", "Purchase growth rate")


def renamed_indicator(book: bytes) -> bytes:
    """``book`` with the Indicators sheet of a template whose indicator ``RENAMED[0]`` is
    called ``RENAMED[1]`` (as an analyst renames one), every other part as it was."""
    sys.path.insert(0, str(ROOT))
    from dataclasses import replace

    from xlcrm.book.read import sheet_parts
    from xlcrm.book.ribbon import write_zip
    from xlcrm.book.template import build_workbook
    from xlcrm.schema import INDICATORS
    from xlcrm.value.hierarchy import Hierarchy, default_hierarchy

    h = default_hierarchy()
    other = build_workbook(hierarchy=Hierarchy(tuple(
        replace(i, name=RENAMED[1]) if i.name == RENAMED[0] else i for i in h.indicators)))
    with zipfile.ZipFile(io.BytesIO(book)) as z:
        parts = {i.filename: z.read(i) for i in z.infolist()}
    with zipfile.ZipFile(io.BytesIO(other)) as z:
        parts[sheet_parts(book)[INDICATORS]] = z.read(sheet_parts(other)[INDICATORS])
    return write_zip(parts)


class BuildError(RuntimeError):
    """A workbook could not be built; the message says which step and why."""


def xlcrm(*args: str | Path) -> None:
    """Run the ``xlcrm`` command with ``args``; raise :class:`BuildError` when it fails."""
    cmd = [sys.executable, "-m", "xlcrm.cli", *map(str, args)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise BuildError(f"`xlcrm {' '.join(map(str, args))}` exited {done.returncode}: "
                         + " | ".join(tail))


def build_all(folder: Path) -> list[Path]:
    """Every workbook kind, built in ``folder``; returns their paths."""
    csv = folder / "orders.csv"
    csv.write_text(ORDERS_CSV, encoding="utf-8")
    template = folder / "template.xlsm"
    shutil.copyfile(TEMPLATE, template)
    demo1 = folder / "demo-resegmented-once.xlsm"
    xlcrm("demo", demo1)
    demo2 = folder / "demo-resegmented-twice.xlsm"
    shutil.copyfile(demo1, demo2)
    xlcrm("resegment", demo2, "--backups", "0")
    backfilled = folder / "demo-backfilled.xlsm"
    shutil.copyfile(demo1, backfilled)
    today = pd.Timestamp.today().normalize()
    months = [(today - pd.DateOffset(months=k)).date().isoformat() for k in (2, 1)]
    xlcrm("backfill", backfilled, "--monthly", *months, "--backups", "0")
    xlcrm("resegment", backfilled, "--backups", "0")
    demo_import = folder / "demo-imported.xlsm"
    shutil.copyfile(demo2, demo_import)
    xlcrm("import-transactions", demo_import, csv, "--add-missing-customers", "--backups", "0")
    template_import = folder / "template-imported.xlsm"
    shutil.copyfile(template, template_import)
    xlcrm("import-transactions", template_import, csv, "--add-missing-customers",
          "--backups", "0")
    synced = folder / "template-synced-judgments.xlsm"
    synced.write_bytes(renamed_indicator(TEMPLATE.read_bytes()))
    xlcrm("sync-judgments", synced, "--rename", f"{RENAMED[0]}={RENAMED[1]}", "--backups", "0")
    shares = []
    for source, extra, name in ((demo2, (), "demo-share.xlsx"),
                                (demo2, ("--mask-contacts",), "demo-share-masked.xlsx"),
                                (template_import, (), "template-imported-share.xlsx"),
                                (demo2, ("--manager", first_manager(demo2)),
                                 "demo-share-manager.xlsx")):
        out = folder / name
        xlcrm("share", source, "-o", out, *extra)
        shares.append(out)
    models = []
    for model in ("industrial", "truck-maker"):
        new, demo = folder / f"new-{model}.xlsm", folder / f"demo-{model}-resegmented.xlsm"
        xlcrm("new", new, "--model", model)
        xlcrm("demo", demo, "--model", model, "--quiet")
        xlcrm("resegment", demo, "--backups", "0", "--quiet")
        models += [new, demo]
    return [template, demo1, demo2, backfilled, demo_import, template_import, synced, *shares,
            *models]


def first_manager(book: Path) -> str:
    """The AccountManager of the first customer of ``book`` (for a per-manager copy)."""
    from xlcrm.book.read import open_workbook

    with open_workbook(book) as wb:
        return str(wb.read_sheet("Customers").frame["AccountManager"].iloc[0]).strip()


def validator() -> Path:
    """The ``ooxml-validate`` script to run."""
    named = os.environ.get("XLCRM_OOXML_VALIDATE")
    path = Path(named) if named else SHARED_VALIDATOR
    if not path.is_file():
        raise BuildError(f"Microsoft's validator is not at {path}"
                         + (" (XLCRM_OOXML_VALIDATE)" if named else ""))
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="build in this folder and keep the files")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="xlcrm-validate-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        try:
            tool = validator()
            books = build_all(folder)
        except BuildError as exc:
            print(f"validate_workbooks: FAILED: {exc}", file=sys.stderr)
            return 1
        done = subprocess.run(["bash", str(tool), *map(str, books)], text=True,
                              capture_output=True)
    print(done.stdout, end="")
    if done.returncode == 0:
        print(f"validate_workbooks: {len(books)} workbooks, 0 errors")
        return 0
    reason = VALIDATOR_EXIT.get(done.returncode, "the validator reported errors (above)")
    print(done.stderr, end="", file=sys.stderr)
    print(f"validate_workbooks: FAILED: {reason} (exit {done.returncode})", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
