"""The ``xlcrm`` command: the analysis headless, on any machine, through the workbook file."""

from __future__ import annotations

import argparse
import errno
import json
import os
import shutil
import sys
import zipfile
from collections.abc import Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from xlcrm import __version__
from xlcrm.book.save import VerifyError
from xlcrm.errors import SEVERITY_ORDER, InputError, Problem, counts_text

# emoji=False: "Customers!O:O" must not turn into an emoji.
console = Console(emoji=False)
err_console = Console(stderr=True, emoji=False)
# Redirected to a file (a scheduled task's log, a pipe): one message stays one line, however
# long; rich would otherwise wrap it at 80 columns.
for _c in (console, err_console):
    _c.soft_wrap = not _c.is_terminal


@contextmanager
def progress_bar(enabled: bool = True):
    """A progress callback ``(step, fraction)`` drawing a bar on the terminal.

    Only on a terminal: in a log file a bar is noise (and leaves blank lines).
    """
    if not enabled or not err_console.is_terminal:
        yield lambda _step, _fraction: None
        return
    with Progress(
        TextColumn("{task.description:<24}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task("Starting", total=1.0)

        def update(step: str, fraction: float) -> None:
            bar.update(task, description=step, completed=fraction)

        yield update


def _fmt(value: Any, spec: str = "") -> str:
    if value is None:
        return ""
    try:
        return format(value, spec)
    except (TypeError, ValueError):
        return str(value)


def _short(text: str, width: int = 48) -> str:
    """First words of a long text, so that a summary row stays on one line."""
    return text if len(text) <= width else text[: width - 1].rsplit(" ", 1)[0] + "…"


def print_summary(results: Any) -> None:
    """Weights with their CR, then counts and value share per type and ABC class."""
    import pandas as pd  # loaded with the results already

    w = results.weights
    table = Table(title="Weights (AHP)")
    for col in ("Group", "Indicator", "Group w", "Local w", "Global w"):
        table.add_column(col, justify="right" if col.endswith("w") else "left")
    for _, r in w.table.iterrows():
        table.add_row(
            r["Group"],
            r["Indicator"],
            _fmt(r["GroupWeight"], ".3f"),
            _fmt(r["LocalWeight"], ".3f"),
            _fmt(r["GlobalWeight"], ".3f"),
        )
    console.print(table)
    cr = Table(title=f"Consistency (RI: {w.group.ri_table_name})")
    for col in ("Level", "n", "λmax", "CI", "RI", "CR", "Verdict"):
        cr.add_column(col, justify="left" if col in ("Level", "Verdict") else "right")
    for _, r in w.consistency_table().iterrows():
        verdict = "[green]consistent[/]" if r["Consistent"] else "[red]revise judgments[/]"
        cr.add_row(
            str(r["Level"]),
            str(r["n"]),
            _fmt(r["LambdaMax"], ".3f"),
            _fmt(r["CI"], ".3f"),
            _fmt(r["RI"], ".2f"),
            _fmt(r["CR"], ".3f"),
            verdict,
        )
    console.print(cr)
    _print_raters(results)
    seg = Table(title=f"Customer types ({results.customers} customers)")
    for col in ("Type", "Code", "Name", "Customers", "Value share", "Visit every", "Strategy"):
        seg.add_column(col, justify="right" if col in ("Customers", "Value share") else "left")
    for _, r in results.summary_by_type.iterrows():
        seg.add_row(
            "" if pd.isna(r["Type"]) else str(r["Type"]),
            r["Code"],
            r["Name"],
            str(r["Customers"]),
            _fmt(r["ValueShare"], ".1%"),
            "" if pd.isna(r["VisitIntervalDays"]) else f"{r['VisitIntervalDays']} days",
            _short(r["Strategy"]),
        )
    console.print(seg)
    basis = "12-month revenue" if results.abc_basis == "Revenue" else "value score"
    abc = Table(title=f"ABC classes (Pareto, by {basis})")
    for col in ("Class", "Name", "Customers", "Customer share", "Share of total"):
        abc.add_column(col, justify="left" if col in ("Class", "Name") else "right")
    for _, r in results.summary_by_abc.iterrows():
        abc.add_row(
            r["Class"],
            r["Name"],
            str(r["Customers"]),
            _fmt(r["CustomerShare"], ".1%"),
            _fmt(r["ValueShare"], ".1%"),
        )
    console.print(abc)
    if results.sensitivity is not None:
        console.print(f"{results.sensitivity.headline()} (Sensitivity sheet)", highlight=False)
    if results.derived:
        computed = ", ".join(f"{c} from {src}" for c, src in results.derived.items())
        console.print(f"Indicator columns computed from the ledger: {computed}.")


def _print_raters(results: Any) -> None:
    """With several rater sheets: each one's CR per level, the consensus; then the repairs."""
    raters = getattr(results, "raters", None)
    if raters is not None:
        table = Table(title="Raters (weighted geometric mean; consensus: AHP-OS)")
        crs = [c for c in raters.columns if c.startswith("CR ")]
        for col in ("Level", *crs, "Consensus", "Agreement"):
            table.add_column(escape(col), justify="right" if col.startswith(("CR", "Con"))
                             else "left")
        for _, r in raters.iterrows():
            table.add_row(escape(str(r["Level"])), *(_fmt(r[c], ".3f") for c in crs),
                          _fmt(r["Consensus"], ".0%"), str(r["Agreement"]))
        console.print(table)
    repairs = getattr(results, "repairs", None)
    if repairs is not None and len(repairs):
        for _, r in repairs.iterrows():
            console.print(escape(f"Repair on {r['Sheet']}, {r['Level']}: {r['Row']} vs "
                                 f"{r['Column']} is {r['Typed']}, the others imply "
                                 f"{r['Suggested']} (CR {r['CR']:.3f} → {r['CR after']:.3f})"),
                          highlight=False)


def print_problems(problems: Sequence[Problem], *, limit: int = 20) -> None:
    if not problems:
        console.print("No input problems.")
        return
    console.print(f"{counts_text(problems)}:")
    for p in sorted(problems, key=lambda p: SEVERITY_ORDER[p.severity])[:limit]:
        colour = {"error": "red", "warning": "yellow"}.get(p.severity, "cyan")
        # The text comes from the workbook (sheet names, cell text): never rich markup.
        console.print(
            f"  [{colour}]{p.severity}[/] {escape(f'{p.where}: {p.message}. {p.fix}')}",
            highlight=False,
        )
    if len(problems) > limit:
        console.print(f"  ... and {len(problems) - limit} more (see the Problems sheet).")


def problems_json(problems: Sequence[Problem]) -> list[dict[str, Any]]:
    return [
        {
            "severity": p.severity,
            "sheet": p.sheet,
            "cell": p.cell,
            "message": p.message,
            "fix": p.fix,
        }
        for p in problems
    ]


def results_json(results: Any, path: Path) -> dict[str, Any]:
    return {
        "workbook": str(path),
        "computed": results.stamp.isoformat(),
        "customers": results.customers,
        "weights": results.weights.table.to_dict(orient="records"),
        "consistency": results.weights.consistency_table().to_dict(orient="records"),
        "raters": (None if results.raters is None
                   else results.raters.to_dict(orient="records")),
        "repairs": ([] if results.repairs is None
                    else results.repairs.to_dict(orient="records")),
        "types": [{k: (None if v is None or v != v or str(v) == "<NA>" else v)
                   for k, v in row.items()}
                  for row in results.summary_by_type.to_dict(orient="records")],
        "abc": results.summary_by_abc.to_dict(orient="records"),
        "computed_columns": dict(results.derived),
        "sensitivity": None if results.sensitivity is None else {
            "headline": results.sensitivity.headline(),
            "stable_share": {f"{m:.2f}": v for m, v in results.sensitivity.stable_at.items()},
        },
        "problems": problems_json(results.problems),
    }


def cmd_build_template(args: argparse.Namespace) -> int:
    from xlcrm.book.demo_file import check_output
    from xlcrm.book.template import TEMPLATE_PATH, write_template

    out = check_output(Path(args.output), what="the template", overwrite=True) \
        if args.output else TEMPLATE_PATH
    path = write_template(out)
    console.print(f"Wrote {path}")
    return 0


def command_name() -> str:
    """``xlcrm`` as the user can type it again: ``.venv/bin/xlcrm`` when not on the PATH."""
    typed = sys.argv[0] if sys.argv else ""
    if Path(typed).stem != "xlcrm" or os.sep not in typed:
        return "xlcrm"
    on_path = shutil.which("xlcrm")
    if on_path and os.path.realpath(on_path) == os.path.realpath(typed):
        return "xlcrm"
    return typed


def demo_next_steps(path: Path, planted: Sequence[Any], command: str = "xlcrm",
                    groups: Sequence[str] = ("Potential", "Contribution")) -> list[str]:
    """What the demo says last: its mistakes are planted (none in another model's clean
    demo), and three things to try next; ``groups`` are the model's first two groups."""
    errors = [p for p in planted if p.reported and p.kind != "blank"]
    blanks = [p for p in planted if p.kind == "blank"]
    example = next((p for p in errors if p.kind == "text-in-number"), None)
    quoted = f'"{path}"' if " " in str(path) else str(path)
    fix = (f"Correct {example.sheet}!{example.cell} ({example.value!r}, a typo for a number) "
           if example else "Correct a cell the Problems sheet names ")
    first = (f"The demo ledger contains {len(errors)} deliberate input errors (and "
             f"{len(blanks)} blank cells) so that you can see the Problems sheet: open it."
             if planted else "The demo ledger is clean: the Problems sheet has only notes "
             "about figures computed from the history.")
    step2 = (f"  2. {fix}in Excel, save, close, and run: {command} check {quoted}" if planted
             else "  2. Read the model on the Indicators, Judgments and Strategies sheets: "
             "every setting there is yours to edit.")
    return [
        first,
        "Next:",
        f"  1. Open {path.name} in Excel: the Dashboard first, then Problems (each row links "
        "to its cell).",
        step2,
        f"  3. Change a judgment on the Judgments sheet (e.g. {groups[-1]} against "
        f"{groups[0]}), save, close, and run: {command} resegment {quoted}",
    ]


def cmd_demo(args: argparse.Namespace) -> int:
    from xlcrm import schema
    from xlcrm.book.demo_file import make_demo_workbook
    from xlcrm.value.presets import preset

    out = Path(args.output)
    with progress_bar(not args.quiet) as progress:
        demo = make_demo_workbook(
            out, customers=args.customers, seed=args.seed, today=date.today(),
            progress=progress, force=args.force, model=args.model,
        )
    results = demo.results
    rows = demo.rows
    console.print(
        f"Wrote {out}: {results.customers:,} synthetic customers with "
        f"{rows[schema.TRANSACTIONS]:,} orders, {rows[schema.INTERACTIONS]:,} contacts, "
        f"{rows[schema.SURVEY]:,} survey answers and {rows[schema.CONTACTS]:,} people on "
        f"{schema.CONTACTS}, resegmented.", highlight=False,
        soft_wrap=True)
    if demo.backup is not None:
        console.print(f"The file it replaced is kept as {demo.backup}.", highlight=False)
    if demo.history_note:
        console.print(f"[yellow]note[/] {demo.history_note}", highlight=False, soft_wrap=True)
    print_summary(results)
    print_problems(results.problems, limit=10)
    console.print()
    groups = preset(args.model).hierarchy.groups[-2:]
    for line in demo_next_steps(out, demo.planted, command_name(), groups):
        console.print(line, highlight=False, markup=False, soft_wrap=True)
    return 0


def cmd_new(args: argparse.Namespace) -> int:
    from xlcrm.book.new_book import make_new_workbook

    out = Path(args.output)
    new = make_new_workbook(out, args.model, force=args.force)
    model = new.model
    console.print(f"Wrote {out}: an empty ledger with the {model.name} model "
                  f"({model.title}).", highlight=False, soft_wrap=True)
    if new.backup is not None:
        console.print(f"The file it replaced is kept as {new.backup}.", highlight=False)
    console.print(f"Customers columns the model reads: {', '.join(model.hierarchy.columns)}.",
                  highlight=False, soft_wrap=True)
    console.print("Next: fill Customers (and Transactions, Interactions, Survey), then run: "
                  f"{command_name()} resegment {out}", highlight=False, soft_wrap=True)
    return 0


def cmd_resegment(args: argparse.Namespace) -> int:
    from xlcrm.book.workbook_file import resegment_file

    path = Path(args.workbook)
    with progress_bar(not (args.quiet or args.json)) as progress:
        results = resegment_file(
            path, progress=progress, backups=args.backups, as_of=args.as_of,
            orders=_orders(args),
        )
    if args.json:
        print(json.dumps(results_json(results, path), default=str, indent=2))
        return 0
    console.print(f"Resegmented {path}: {results.customers} customers.")
    print_summary(results)
    print_problems(results.problems)
    return 0


def cmd_backfill(args: argparse.Namespace) -> int:
    from xlcrm import schema
    from xlcrm.book.history import backfill_file
    from xlcrm.operations.history import monthly_days

    path = Path(args.workbook)
    first, last = args.monthly
    if first > last:
        raise InputError(f"--monthly {first} {last}: FROM is after TO",
                         fix="Give the earlier day first, e.g. --monthly 2025-01-31 2025-12-31.")
    if last > date.today():
        raise InputError(f"--monthly ... {last}: TO is after today; the orders of that day "
                         "are not known yet", fix="End the months at today or earlier.")
    days = monthly_days(first, last)
    with progress_bar(not (args.quiet or args.json)) as progress:
        report = backfill_file(path, days, progress=progress, backups=args.backups)
    if args.json:
        print(json.dumps({**report.to_json(), "problems": problems_json(report.problems)},
                         indent=2))
        return 0
    done = report.days
    if report.skipped:
        console.print(f"Skipped {len(report.skipped)} day(s) {schema.HISTORY} has a run for "
                      f"already: {', '.join(f'{d:%Y-%m-%d}' for d in report.skipped)}.",
                      highlight=False, soft_wrap=True)
    if not report.written:
        console.print(f"Nothing written: {path.name} is unchanged.", highlight=False)
    else:
        console.print(f"Recorded {len(report.customers)} past run(s) on {schema.HISTORY} of "
                      f"{path.name} (as of {done[0]:%Y-%m-%d} to {done[-1]:%Y-%m-%d}, "
                      f"{report.rows:,} rows).", highlight=False, soft_wrap=True)
        console.print(f"Next: {command_name()} resegment {path} shows who moved since "
                      f"{done[-1]:%Y-%m-%d} on the Dashboard and the Segments sheet.",
                      highlight=False, soft_wrap=True)
    print_problems(report.problems)
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from xlcrm.book.workbook_file import check_file

    path = Path(args.workbook)
    problems = check_file(path, as_of=args.as_of, orders=_orders(args))
    errors = any(p.severity == "error" for p in problems)
    if args.json:
        print(json.dumps({"workbook": str(path), "problems": problems_json(problems)}, indent=2))
    else:
        print_problems(problems, limit=10_000)
    return 1 if errors else 0


def cmd_share(args: argparse.Namespace) -> int:
    from xlcrm.book.share import make_shareable

    path = Path(args.workbook)
    out = Path(args.output) if args.output else None
    with progress_bar(not (args.quiet or args.json)) as progress:
        report = make_shareable(path, out, mask_contacts=args.mask_contacts, progress=progress,
                                manager=args.manager)
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
        return 0
    console.print(f"Wrote {report.output}: a copy of {path.name} with values only, no macros.",
                  highlight=False)
    if report.customers:
        console.print(report.customers, highlight=False)
    console.print(f"Results computed: {report.computed or 'never (run xlcrm resegment first)'}"
                  f"; {report.formulas} formula(s) replaced by their values.", highlight=False)
    if report.masked:
        where = "; ".join(f"{s} ({', '.join(c)})" for s, c in report.masked.items())
        console.print(f"Contact details masked: {report.masked_cells} cells on {where}.",
                      highlight=False)
    elif args.mask_contacts:
        console.print("No Contact, Phone or Email column found: nothing to mask.")
    else:
        console.print("Contact details are NOT masked (use --mask-contacts to hide them).")
    if report.removed:
        console.print(f"Taken out: {', '.join(report.removed)}.", highlight=False)
    if report.source_open:
        console.print(f"Note: {path.name} is open in a spreadsheet program; the copy shows its "
                      "last saved state.", highlight=False)
    for warning in report.warnings:
        console.print(f"[yellow]warning[/] {warning}", highlight=False)
    return 0


def cmd_import_transactions(args: argparse.Namespace) -> int:
    from xlcrm.book.append import import_transactions
    from xlcrm.book.csv_import import ImportOptions

    path = Path(args.workbook)
    options = ImportOptions(
        encoding=args.encoding, delimiter=args.delimiter, dayfirst=args.dayfirst,
        date_format=args.date_format, decimal=args.decimal,
    )
    with progress_bar(not (args.quiet or args.json)) as progress:
        result = import_transactions(
            path, Path(args.file), options=options,
            add_missing_customers=args.add_missing_customers, dry_run=args.dry_run,
            backups=args.backups, progress=progress,
        )
        results = None
        if args.resegment and not args.dry_run:
            from xlcrm.book.workbook_file import resegment_file

            results = resegment_file(path, progress=progress, backups=0, as_of=args.as_of)
    if args.json:
        out = result.to_json()
        if results is not None:
            out["resegment"] = results_json(results, path)
        print(json.dumps(out, default=str, indent=2))
        return 0
    lines = result.summary_lines()
    if results is not None:
        lines = [line for line in lines if not line.startswith("Scores, Segments")]
    for line in lines:
        console.print(line, highlight=False, markup=False, soft_wrap=True)
    if results is not None:
        console.print(f"Resegmented {path}: {results.customers} customers.")
        print_summary(results)
        print_problems(results.problems)
    return 0


def cmd_import_contacts(args: argparse.Namespace) -> int:
    from xlcrm.book.contacts_import import import_contacts
    from xlcrm.book.csv_import import ImportOptions

    path = Path(args.workbook)
    options = ImportOptions(encoding=args.encoding, delimiter=args.delimiter,
                            dayfirst=args.dayfirst, date_format=args.date_format)
    with progress_bar(not args.quiet) as progress:
        result = import_contacts(path, Path(args.file), options=options, dry_run=args.dry_run,
                                 backups=args.backups, progress=progress)
    for line in result.summary_lines():
        console.print(line, highlight=False, markup=False, soft_wrap=True)
    return 0


def _csv_arguments(p: argparse.ArgumentParser) -> None:
    """How to read a CSV export, for the import commands."""
    p.add_argument("--dry-run", action="store_true", help="check and report; write nothing")
    p.add_argument("--encoding", help="text encoding of the file, e.g. gb18030 or cp1252 "
                   "(default: UTF-8)")
    p.add_argument("--delimiter", help="field delimiter (default: sniffed among , ; tab |)")
    order = p.add_mutually_exclusive_group()
    order.add_argument("--dayfirst", action="store_true", default=None,
                       help="05/03/2026 is 5 March")
    order.add_argument("--monthfirst", dest="dayfirst", action="store_false",
                       help="05/03/2026 is 3 May")
    p.add_argument("--date-format", help="strptime format of every date, e.g. %%d/%%m/%%Y")


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-10-31") from None


def _orders_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--orders",
        metavar="SOURCE",
        help="read the order history from a Parquet or CSV file or folder, or a database URL"
        " (sqlite:///erp.db, postgresql+psycopg://user@host/db; the password from"
        " XLCRM_DB_PASSWORD or the keyring, or env:NAME for a URL in a variable) instead of"
        " the Transactions sheet or the workbook's Orders source option",
    )
    p.add_argument("--orders-table", metavar="TABLE",
                   help="the database table or SELECT query of --orders")


def _orders(args: argparse.Namespace) -> tuple[str, str | None] | None:
    return (args.orders, args.orders_table) if args.orders else None


def _as_of_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--as-of",
        type=_iso_date,
        metavar="YYYY-MM-DD",
        help="judge orders, contacts and surveys from this day (default: today)",
    )


def _model_argument(p: argparse.ArgumentParser, what: str) -> None:
    from xlcrm.value.presets import DEFAULT_PRESET, PRESET_NAMES

    # Checked by the command, not by argparse's choices: a bad name is one line listing
    # the valid names, exit 2, like every other refusal.
    p.add_argument("--model", default=DEFAULT_PRESET, metavar="NAME",
                   help=f"{what}: {', '.join(PRESET_NAMES)} (default {DEFAULT_PRESET}); "
                   "see docs/guide/analyst.md")


def cmd_sync_judgments(args: argparse.Namespace) -> int:
    from xlcrm.book.sync_judgments import parse_renames, sync_judgments_file

    path = Path(args.workbook)
    report = sync_judgments_file(path, renames=parse_renames(args.rename),
                                 default=args.default, backups=args.backups,
                                 dry_run=args.dry_run)
    if args.json:
        print(json.dumps({"workbook": str(path), **report.to_json(),
                          "problems": problems_json(report.problems)}, indent=2))
        return 0
    for line in report.plan.summary_lines():
        console.print(line, highlight=False, soft_wrap=True)
    for name, plan in report.raters.items():
        console.print(f"{name}:", highlight=False)
        for line in plan.summary_lines():
            console.print("  " + line, highlight=False, soft_wrap=True)
    if not report.written:
        console.print("Dry run: nothing written.")
        return 0
    sheets = ("the Judgments sheet" if not report.raters
              else f"the Judgments sheet and {len(report.raters)} rater sheet(s)")
    console.print(f"Rebuilt {sheets} of {path.name}"
                  + (f" (backup: {report.backup})" if report.backup else "") + ".",
                  highlight=False)
    if report.problems:
        console.print(f"{len(report.problems)} new pair(s) without a judgment: type them in "
                      "the yellow cells (until then Harker's method estimates them), e.g. "
                      f"{report.problems[0].where}.", highlight=False)
    return 0


#: One example per subcommand, shown by ``xlcrm --help`` and ``xlcrm SUBCOMMAND --help``;
#: each is also in the guide's section of its subcommand (tests/test_guide.py checks both).
EXAMPLES: dict[str, str] = {
    "demo": "xlcrm demo CRM_Demo.xlsm --customers 1000",
    "new": "xlcrm new CRM.xlsm --model industrial",
    "resegment": "xlcrm resegment CRM.xlsm",
    "check": "xlcrm check CRM.xlsm",
    "backfill": "xlcrm backfill CRM.xlsm --monthly 2025-01-31 2025-12-31",
    "share": "xlcrm share CRM.xlsm --mask-contacts",
    "import-transactions": "xlcrm import-transactions CRM.xlsm orders.csv --dry-run",
    "import-contacts": "xlcrm import-contacts CRM.xlsm contacts.csv",
    "sync-judgments": "xlcrm sync-judgments CRM.xlsm --dry-run",
    "build-template": "xlcrm build-template -o My_Template.xlsm",
}
GUIDE = "docs/guide/commands.md (in the xlcrm folder)"


def _add_command(sub: Any, name: str, help: str) -> argparse.ArgumentParser:
    """A subcommand whose ``--help`` ends with its example."""
    return sub.add_parser(
        name, help=help, description=help[:1].upper() + help[1:] + ".",
        epilog=f"example:\n  {EXAMPLES[name]}\n\nmore: {GUIDE}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def build_parser() -> argparse.ArgumentParser:
    examples = "\n".join(f"  {EXAMPLES[name]}" for name in EXAMPLES)
    parser = argparse.ArgumentParser(
        prog="xlcrm",
        description="Customer-value analysis (AHP, scoring, segmentation) on an Excel ledger.",
        epilog=f"examples, one per command:\n{examples}\n\n"
        f"`xlcrm COMMAND --help` explains one command.\nUser guide: {GUIDE}.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"xlcrm {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = _add_command(sub, "demo", "write a demo workbook with a synthetic ledger, resegmented")
    p.add_argument("output", help="workbook to write, a new .xlsm file, e.g. demo.xlsm")
    p.add_argument("--customers", type=int, default=300, help="number of customers (300)")
    p.add_argument("--seed", type=int, default=7, help="random seed (7)")
    p.add_argument("--force", action="store_true",
                   help="replace OUTPUT if it exists (a backup of it goes to .xlcrm-backups)")
    _model_argument(p, "the model laid out and exercised by the ledger")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_demo)

    p = _add_command(sub, "new", "write a new, empty workbook with one of the ready-made "
                     "models")
    p.add_argument("output", help="workbook to write, a new .xlsm file, e.g. CRM.xlsm")
    _model_argument(p, "the model")
    p.add_argument("--force", action="store_true",
                   help="replace OUTPUT if it exists (a backup of it goes to .xlcrm-backups)")
    p.set_defaults(func=cmd_new)

    p = _add_command(sub, "resegment", "score and segment a workbook; write the result sheets")
    p.add_argument("workbook")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--backups", type=int, default=3, help="timestamped backups to keep (3)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _as_of_argument(p)
    _orders_arguments(p)
    p.set_defaults(func=cmd_resegment)

    p = _add_command(sub, "backfill", "rebuild the SegmentHistory sheet for past days from the "
                     "order history, so that migration shows from the first day")
    p.add_argument("workbook")
    p.add_argument("--monthly", nargs=2, type=_iso_date, required=True,
                   metavar=("FROM", "TO"),
                   help="one run as of FROM and as of the same day of each month up to TO")
    p.add_argument("--json", action="store_true", help="print what was done as JSON")
    p.add_argument("--backups", type=int, default=3, help="timestamped backups to keep (3)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_backfill)

    p = _add_command(sub, "check", "validate a workbook; exit 1 when it has errors")
    p.add_argument("workbook")
    p.add_argument("--json", action="store_true", help="print the problems as JSON")
    _as_of_argument(p)
    _orders_arguments(p)
    p.set_defaults(func=cmd_check)

    p = _add_command(
        sub, "share", "write a copy to email: values only, no macros, contacts maskable"
    )
    p.add_argument("workbook")
    p.add_argument("-o", "--output", help="the copy, ending in .xlsx (default: "
                   "'<name> (shareable YYYY-MM-DD).xlsx' beside the workbook)")
    p.add_argument("--mask-contacts", action="store_true",
                   help="replace Contact, Phone and Email by (masked)")
    p.add_argument("--manager", metavar="NAME",
                   help="only the customers of this account manager (AccountManager on "
                   "Customers), on every sheet, with the Dashboard over them")
    p.add_argument("--json", action="store_true", help="print what was written as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_share)

    p = _add_command(
        sub, "import-transactions", "append an ERP export (CSV) to the Transactions sheet"
    )
    p.add_argument("workbook")
    p.add_argument("file", help="the export, a CSV file")
    p.add_argument("--add-missing-customers", action="store_true",
                   help="add unknown CustomerIDs to Customers instead of rejecting their rows")
    _csv_arguments(p)
    p.add_argument("--decimal", choices=[".", ","], metavar="'.'|','",
                   help="decimal separator of the numbers (default: decided from the values)")
    p.add_argument("--resegment", action="store_true", help="resegment after the import")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--backups", type=int, default=3, help="timestamped backups to keep (3)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _as_of_argument(p)
    p.set_defaults(func=cmd_import_transactions)

    p = _add_command(
        sub, "import-contacts", "add the people of a contacts export (CSV) to the Contacts "
        "sheet; people already there are skipped"
    )
    p.add_argument("workbook")
    p.add_argument("file", help="the export, a CSV file")
    _csv_arguments(p)
    p.add_argument("--backups", type=int, default=3, help="timestamped backups to keep (3)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_import_contacts)

    p = _add_command(
        sub, "sync-judgments",
        "rebuild the Judgments sheet from the Indicators sheet, keeping every judgment "
        "whose two names still exist",
    )
    p.add_argument("workbook")
    p.add_argument("--rename", action="append", default=[], metavar="OLD=NEW",
                   help="an indicator or group renamed on Indicators keeps its judgments "
                   "(repeat for several)")
    p.add_argument("--default", metavar="JUDGMENT",
                   help="judgment for new pairs, e.g. 1 (default: left blank, estimated by "
                   "Harker's method and flagged until typed)")
    p.add_argument("--dry-run", action="store_true", help="report what would change; write "
                   "nothing")
    p.add_argument("--json", action="store_true", help="print what was done as JSON")
    p.add_argument("--backups", type=int, default=3, help="timestamped backups to keep (3)")
    p.set_defaults(func=cmd_sync_judgments)

    p = _add_command(sub, "build-template", "build workbook/CRM_Template.xlsm from its sources")
    p.add_argument("-o", "--output", help="where to write, an .xlsm file (default: the "
                   "repository's template)")
    p.set_defaults(func=cmd_build_template)
    return parser


def _tolerant_output() -> None:
    """Never fail on a character the console cannot show.

    Redirected to a file on Windows (a scheduled task's log), Python writes in the ANSI code
    page, which has no λ, ≥ or ×: the run would end in a traceback after the workbook was
    written. Such characters become ``?`` instead.
    """
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="replace")


def _error(text: str) -> None:
    """Print one error line to stderr, as typed (no markup, no wrapping when redirected)."""
    err_console.print(text, highlight=False, markup=False)


_FULL = {errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC)}


def os_error_line(exc: OSError, workbook: str | None) -> str:
    """One line for an operating-system error: the file, what happened, what to do."""
    name = exc.filename or workbook or "a file"
    untouched = f"; {Path(workbook).name} is untouched" if workbook else ""
    if isinstance(exc, FileNotFoundError):
        return f"xlcrm: error: no such file: {name}"
    if isinstance(exc, PermissionError):
        return (f"xlcrm: error: not allowed to write {name}{untouched}: close it in Excel, or "
                "check that the file and its folder are not read-only")
    if exc.errno in _FULL:
        return (f"xlcrm: error: the disk is full (or a file size limit was reached) while "
                f"writing {name}{untouched}: free some space (at least twice the workbook's "
                "size) and run again")
    reason = exc.strerror or str(exc) or type(exc).__name__
    return (f"xlcrm: error: {reason} ({name}){untouched}: check the drive or network share "
            "and run again")


def main(argv: Sequence[str] | None = None) -> int:
    _tolerant_output()
    args = build_parser().parse_args(argv)
    workbook = getattr(args, "workbook", None)
    try:
        return args.func(args)
    except InputError as exc:
        # One line: the reason the command cannot run.
        first = exc.problems[0] if exc.problems else None
        more = f" (+{len(exc.problems) - 1} more)" if len(exc.problems) > 1 else ""
        _error(f"xlcrm: error: {first or exc}{more}")
        for p in exc.problems[1:10]:
            _error(f"  {p}")
        return 2
    except VerifyError as exc:
        _error(f"xlcrm: error: the new file failed its check and was not used; the original "
               f"is untouched ({exc})")
        return 2
    except zipfile.BadZipFile as exc:
        # A writer met a workbook it cannot write into (an .xls read for the analysis).
        _error(f"xlcrm: error: {Path(workbook or '?').name} is not an .xlsx/.xlsm workbook "
               f"({exc}), so xlcrm cannot write into it; it is untouched. Save it from Excel "
               "as Excel Macro-Enabled Workbook (*.xlsm) and run xlcrm on that file")
        return 2
    except OSError as exc:
        _error(os_error_line(exc, workbook))
        return 2
    except MemoryError:
        _error(f"xlcrm: error: not enough memory to process {workbook or 'the input'}; it is "
               "untouched: close other programs, or split the ledger, and run again")
        return 2
    except Exception as exc:
        if os.environ.get("XLCRM_DEBUG"):
            raise
        # A defect in xlcrm, not in the input: still one line in a scheduled task's log.
        # (A save is all or nothing, so the workbook is either untouched or fully written.)
        _error(f"xlcrm: internal error: {type(exc).__name__}: {' '.join(str(exc).split())}. "
               "Please report it (run with XLCRM_DEBUG=1 for the details)")
        return 70


if __name__ == "__main__":
    sys.exit(main())
