"""The layout's import rules (docs/ARCHITECTURE.md): the core knows nothing of Excel or files."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORE = ("xlcrm/value", "xlcrm/operations", "xlcrm/pipeline.py", "xlcrm/report.py",
        "xlcrm/schema.py", "xlcrm/errors.py", "xlcrm/ledger.py", "xlcrm/formula.py",
        "xlcrm/subset.py")  # fmt: skip
#: What the core must never import: Excel, the command line, files and their libraries.
FORBIDDEN_IN_CORE = ("xlwings", "udfs", "xlcrm.book", "xlcrm.sources", "xlcrm.cli",
                     "openpyxl", "python_calamine", "rich")  # fmt: skip


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at module level or inside a function."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def _files(*where: str) -> list[Path]:
    out: list[Path] = []
    for w in where:
        p = ROOT / w
        out.extend(sorted(p.rglob("*.py")) if p.is_dir() else [p])
    return out


def _hits(path: Path, forbidden: tuple[str, ...]) -> list[str]:
    return sorted(
        name for name in _imports(path)
        if any(name == f or name.startswith(f + ".") for f in forbidden)
    )  # fmt: skip


@pytest.mark.parametrize("path", _files(*CORE), ids=lambda p: str(p.relative_to(ROOT)))
def test_core_imports_no_excel_cli_or_files(path: Path) -> None:
    assert _hits(path, FORBIDDEN_IN_CORE) == []


@pytest.mark.parametrize("path", _files("xlcrm"), ids=lambda p: str(p.relative_to(ROOT)))
def test_only_udfs_imports_xlwings(path: Path) -> None:
    assert _hits(path, ("xlwings", "udfs")) == []


def test_value_does_not_import_operations() -> None:
    """Customer value is the method; operations may use it, never the other way round."""
    for path in _files("xlcrm/value"):
        assert _hits(path, ("xlcrm.operations", "xlcrm.pipeline", "xlcrm.report")) == [], path


def test_book_read_and_save_do_not_import_each_other_in_a_circle() -> None:
    read = _imports(ROOT / "xlcrm/book/read.py")
    assert not any(n.startswith("xlcrm.book.save") for n in read)
