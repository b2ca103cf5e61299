"""A new, empty workbook laid out for one of the ready-made models (``xlcrm new``).

The workbook is the template (:func:`xlcrm.book.template.build_workbook`, the builder of
``workbook/CRM_Template.xlsm``) with the model's settings in place of the defaults: the
Indicators table and options, the Judgments sheet laid out from that hierarchy by the one
Judgments builder the template and ``xlcrm sync-judgments`` share, the Strategies rows, a
Customers table with the columns the model reads, and Scores and Segments headed for its
indicators and groups. ``parts-dealer`` gives the committed template byte for byte.

Where it may be written: :func:`xlcrm.book.demo_file.check_output` (a new ``.xlsm`` in an
existing folder; an existing file only with ``force``, through the safe save that keeps a
backup of it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from xlcrm.book.demo_file import check_output
from xlcrm.book.save import safe_replace, verify_workbook
from xlcrm.pipeline import Options
from xlcrm.value.presets import Preset, preset


@dataclass(frozen=True)
class NewWorkbook:
    """What :func:`make_new_workbook` wrote.

    Attributes
    ----------
    path : Path
        The workbook.
    model : Preset
        The model laid out in it.
    backup : Path or None
        Where the file it replaced (``force``) is kept.
    """

    path: Path
    model: Preset
    backup: Path | None


def preset_options(model: Preset) -> Options:
    """The analysis options of ``model``: the defaults with the model's own choices."""
    return replace(Options(), **dict(model.options))


def preset_workbook(name: str, *, importance: Mapping[str, float] | None = None) -> bytes:
    """The template laid out for the model ``name`` (``.xlsm`` bytes).

    Raises
    ------
    InputError
        For an unknown model (one line listing the valid names).
    """
    # openpyxl (the template builder) is loaded only here, not by every command.
    from xlcrm.book.template import build_workbook

    model = preset(name)
    return build_workbook(
        hierarchy=model.hierarchy,
        judgments=dict(model.judgments),
        types=model.types,
        importance=importance,
        options=preset_options(model),
    )


def make_new_workbook(
    out: Path, model: str, *, force: bool = False, backups: int = 3
) -> NewWorkbook:
    """Write a new workbook for ``model`` to ``out``; refuse to replace a file unless ``force``.

    Raises
    ------
    InputError
        Before anything is written: an unknown model, or an output
        :func:`~xlcrm.book.demo_file.check_output` refuses.
    """
    chosen = preset(model)
    out = check_output(Path(out), what="the new workbook", overwrite=force)
    data = preset_workbook(chosen.name)

    def write(target: Path) -> None:
        target.write_bytes(data)
        # Checked whole, as a new file: what it replaces need not have been a workbook.
        verify_workbook(target)

    saved = safe_replace(out, write, backups=backups if force else 0, verify=False)
    return NewWorkbook(path=out, model=chosen, backup=saved.backup)
