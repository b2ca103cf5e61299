"""An ordinary (not editable) install works: the wheel carries the template and its sources."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", str(ROOT), "-w", str(out)],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (path,) = out.glob("xlcrm-*.whl")
    return path


def test_wheel_carries_the_workbook_sources(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    sources = {p.relative_to(ROOT / "workbook").as_posix()
               for p in (ROOT / "workbook").rglob("*")
               if p.is_file() and p.suffix in {".xlsm", ".xml", ".bas", ".cls"}}
    assert sources  # the template, the ribbon XML and the VBA modules
    assert {f"xlcrm_workbook/{s}" for s in sources} <= names
    with zipfile.ZipFile(wheel) as z:
        shipped = z.read("xlcrm_workbook/CRM_Template.xlsm")
    assert shipped == (ROOT / "workbook" / "CRM_Template.xlsm").read_bytes()


def test_demo_runs_from_the_unpacked_wheel(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "import xlcrm, xlcrm.book.paths as s;"
        "assert xlcrm.__file__.startswith(sys.argv[1]), xlcrm.__file__;"
        "assert str(s.WORKBOOK_DIR).startswith(sys.argv[1]), s.WORKBOOK_DIR;"
        "from xlcrm.cli import main;"
        "sys.exit(main(['demo', 'demo.xlsm', '--customers', '40', '--quiet']))"
    )
    done = subprocess.run([sys.executable, "-c", script, str(site)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    with zipfile.ZipFile(tmp_path / "demo.xlsm") as z:
        assert "xl/vbaProject.bin" in z.namelist()
        assert "customUI/customUI14.xml" in z.namelist()
