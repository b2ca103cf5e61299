"""Where the template workbook and its text sources are: ``workbook/`` of the source tree.

A wheel ships that folder as the package ``xlcrm_workbook`` (see ``pyproject.toml``), so
``xlcrm demo`` and the template builder also work from an ordinary (not editable) install.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def _workbook_dir() -> Path:
    source_tree = Path(__file__).resolve().parents[2] / "workbook"
    if (source_tree / "customUI14.xml").is_file():
        return source_tree
    # Installed from a wheel: the folder is package data next to xlcrm.
    return Path(str(resources.files("xlcrm_workbook")))


WORKBOOK_DIR = _workbook_dir()
TEMPLATE_PATH = WORKBOOK_DIR / "CRM_Template.xlsm"
CUSTOMUI_PATH = WORKBOOK_DIR / "customUI14.xml"
VBA_SOURCE_DIR = WORKBOOK_DIR / "vba"
