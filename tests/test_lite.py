"""xlwings Lite: lite/ is a fresh build, lite/main.py runs as plain Python, and as Lite runs it.

Lite itself (an Office add-in running Pyodide) is not available here. Its Python side is
xlwings' own code, so tests/fixtures/lite_runtime.py runs that code on lite/main.py in a
clean interpreter: the module executed from its text as Lite does, the custom functions
registered and called with ``custom_functions_call`` as Office.js hands over ranges (2-D
lists, ``None`` for blanks, dates as serial numbers), the scripts run with
``custom_scripts_call`` on a remote-engine Book of a real workbook. There xlcrm can only
come from the bundle inside main.py, and the packages Lite lacks are unimportable.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import math
import os
import shutil
import subprocess
import sys
import sysconfig
import traceback
import typing
from pathlib import Path

import numpy as np
import pytest
from fixtures.orders import as_range, order_ledger
from fixtures.remote import (
    assert_grid_equal,
    enable_remote_engine,
    payload_from,
    writes,
)
from xlwings.conversion import accessors
from xlwings.utils import datetime_to_xlserial

import udfs
from udfs import functions
from xlcrm import schema
from xlcrm.book.read import read_grid
from xlcrm.book.workbook_file import check_file, create_demo_workbook, resegment_file
from xlcrm.errors import SEVERITY_ORDER

ROOT = Path(__file__).resolve().parent.parent
MAIN = ROOT / "lite" / "main.py"
REQUIREMENTS = ROOT / "lite" / "requirements.txt"
RUNTIME = Path(__file__).resolve().parent / "fixtures" / "lite_runtime.py"


def load_builder():
    spec = importlib.util.spec_from_file_location("build_lite", ROOT / "scripts" / "build_lite.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def builder():
    return load_builder()


@pytest.fixture(scope="module")
def main():
    """lite/main.py imported as plain Python (xlwings' decorators are pass-through here)."""
    spec = importlib.util.spec_from_file_location("xlcrm_lite_main", MAIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module
    # The bundle's finder (last on sys.meta_path, unused while xlcrm is installed) goes.
    sys.meta_path[:] = [f for f in sys.meta_path if not hasattr(f, "xlcrm_bundle")]


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("lite") / "demo.xlsm"
    create_demo_workbook(path, customers=120)
    return path


@pytest.fixture(scope="module")
def resegmented(demo, tmp_path_factory) -> Path:
    """What ``xlcrm resegment`` writes: a resegmented copy of the demo workbook."""
    copy = tmp_path_factory.mktemp("lite-command") / demo.name
    shutil.copyfile(demo, copy)
    resegment_file(copy, backups=0)
    return copy


@pytest.fixture
def remote(monkeypatch):
    return enable_remote_engine(monkeypatch)


# --------------------------------------------------------------------------------------------
# The build


def test_committed_lite_files_match_a_fresh_build(builder):
    assert builder.stale() == [], "run: python scripts/build_lite.py"


def test_bundle_has_the_adapters_and_no_file_format_code(builder):
    _, data = builder.split_main(MAIN.read_text(encoding="utf-8"))
    bundled = set(builder.decode(data))
    assert {"udfs/lite.py", "udfs/functions.py", "udfs/ribbon.py", "xlcrm/pipeline.py",
            "xlcrm/book/sheets.py", "xlcrm/book/settings.py"} <= bundled
    # The file readers and writers need python-calamine and openpyxl, which Lite lacks.
    for path in ("xlcrm/book/read.py", "xlcrm/book/write.py", "xlcrm/book/template.py",
                 "xlcrm/book/share.py", "xlcrm/cli.py"):
        assert path not in bundled


def test_requirements_pin_xlwings_as_pyproject_and_leave_pyodide_builds_unpinned():
    import tomllib

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pin = next(d for d in deps if d.startswith("xlwings=="))
    lines = REQUIREMENTS.read_text().splitlines()
    assert lines == ["numpy", "pandas", "scikit-learn", "scipy", "threadpoolctl", pin]


def test_builder_refuses_a_bundled_import_pyodide_lacks(builder, monkeypatch):
    monkeypatch.setattr(builder, "REQUIREMENTS", {
        k: v for k, v in builder.REQUIREMENTS.items() if k != "sklearn"})
    with pytest.raises(SystemExit, match="sklearn"):
        builder.bundle_sources()


def test_bundle_loader_serves_its_sources_and_gives_way_to_a_new_version(main, builder):
    # Lite runs main.py again for each call, and again after the user pastes a new one.
    probe = "xlcrm_lite_probe"
    sources = {f"{probe}/__init__.py": "VALUE = 1\n",
               f"{probe}/sub.py": "def boom():\n    raise ValueError('boom in the bundle')\n"}
    try:
        main._load_bundle(*builder.encode(sources))
        first = importlib.import_module(probe)
        assert first.VALUE == 1 and first.__file__ == f"xlcrm-bundle/{probe}/__init__.py"
        with pytest.raises(ValueError) as caught:
            importlib.import_module(f"{probe}.sub").boom()
        # Tracebacks show the bundled line, as Lite's output pane would.
        assert "raise ValueError('boom in the bundle')" in "".join(
            traceback.format_exception(caught.value))
        main._load_bundle(*builder.encode(sources))  # the same version: nothing to do
        assert sys.modules[probe] is first
        main._load_bundle(*builder.encode({f"{probe}/__init__.py": "VALUE = 2\n"}))
        assert f"{probe}.sub" not in sys.modules
        assert importlib.import_module(probe).VALUE == 2
        assert sum(hasattr(f, "xlcrm_bundle") for f in sys.meta_path) == 1
    finally:
        sys.meta_path[:] = [f for f in sys.meta_path if not hasattr(f, "xlcrm_bundle")]
        for name in [n for n in sys.modules if n.split(".")[0] == probe]:
            del sys.modules[name]


# --------------------------------------------------------------------------------------------
# Worksheet functions as plain Python


def test_worksheet_annotations_are_converters_xlwings_knows():
    # xlwings (desktop, Server, Lite) converts each argument and result by its annotation;
    # one it has no converter for fails the call in Excel.
    for name in udfs.__all__:
        hints = typing.get_type_hints(getattr(functions, name))
        for param, hint in hints.items():
            top = typing.get_origin(hint) or hint
            assert top in accessors, f"{name}({param}): {hint} is no xlwings converter"


def test_main_exposes_every_worksheet_function(main):
    exposed = {n for n in dir(main) if n.isupper() and callable(getattr(main, n))}
    assert exposed == set(udfs.__all__)
    assert main.AHP_WEIGHTS is functions.AHP_WEIGHTS  # the same function, not a copy
    assert main.CRM_NEXT_CONTACT.__wrapped__ is functions.CRM_NEXT_CONTACT


CONSISTENT = [[1.0, 2.0, 4.0], [None, 1.0, 2.0], [None, None, 1.0]]  # weights 4/7, 2/7, 1/7


def test_functions_as_plain_python_give_known_answers(main):
    weights = main.AHP_WEIGHTS(CONSISTENT)
    assert np.allclose([w for (w,) in weights], [4 / 7, 2 / 7, 1 / 7])
    assert weights == functions.AHP_WEIGHTS(CONSISTENT)
    assert abs(main.AHP_CR(CONSISTENT)) < 1e-12
    assert main.AHP_GROUP([[1.0, 2.0], [None, 1.0]], [[1.0, 8.0], [None, 1.0]]) == [
        [1.0, 4.0], [0.25, 1.0]]
    assert main.CRM_SCORE([[10.0], [20.0], [30.0]], "minmax", None, "cost") == [
        [100.0], [50.0], [0.0]]
    assert main.CRM_VALUE([[80.0, 60.0], [40.0, 20.0]], [[0.75, 0.25]]) == [[75.0], [35.0]]
    assert main.CRM_TYPE([["High"], ["Low"]], [["High"], ["Low"]], [["Low"], ["Low"]]) == [
        [2], [8]]
    assert main.AHP_WEIGHTS([[1.0, "x"], [None, 1.0]]).startswith("#AHP:")


def test_dates_given_as_serial_numbers_are_dates(main):
    # Lite hands a date cell to a custom function as its serial: 45000 is 2023-03-15.
    assert main.CRM_NEXT_CONTACT([[45000.0], [None]], [[30.0]]) == [
        [dt.datetime(2023, 4, 14)], [None]]
    # Desktop Excel hands a date: that works as before, and a bare number stays an error.
    assert main.CRM_NEXT_CONTACT([[dt.datetime(2023, 3, 15)]], [[30.0]]) == [
        [dt.datetime(2023, 4, 14)]]
    assert functions.CRM_NEXT_CONTACT([[45000.0]], [[30.0]])[0][0].startswith("#NEXT:")


AS_OF = dt.datetime(2025, 6, 1)


CLV_ORDERS, _clv_ids = order_ledger(60, seed=3)
CLV_IDS = [[i] for i in _clv_ids]


def _transactions(date: typing.Callable[[dt.datetime], typing.Any]) -> list[list[typing.Any]]:
    """C1 ordered every 30 days in 2023, then stopped; C2 orders every 30 days up to AS_OF."""
    rows = [["CustomerID", "Date", "Amount"]]
    for i in range(12):
        rows.append(["C1", date(dt.datetime(2023, 1, 1) + dt.timedelta(days=30 * i)), 1000.0])
        rows.append(["C2", date(AS_OF - dt.timedelta(days=10 + 30 * i)), 1000.0])
    return rows


def test_churn_risk_reads_the_date_column_of_serials(main):
    desktop = functions.CRM_CHURN_RISK([["C1"], ["C2"]], _transactions(lambda d: d), AS_OF)
    lite = main.CRM_CHURN_RISK([["C1"], ["C2"]], _transactions(datetime_to_xlserial),
                               datetime_to_xlserial(AS_OF))
    assert lite == desktop
    assert desktop[0][0] == "High" and desktop[1][0] == "Low", desktop


# --------------------------------------------------------------------------------------------
# Scripts as plain Python, on the remote engine's Book


def test_resegment_script_writes_what_the_command_writes(main, demo, resegmented, remote,
                                                         capsys):
    payload = payload_from(demo)
    book = remote(payload)
    main.resegment(book)
    got = writes(book.json()["actions"], payload)
    for sheet in (schema.SCORES, schema.SEGMENTS):
        assert_grid_equal(got[sheet], read_grid(resegmented, sheet), sheet)
    assert "Resegmented 120 customers" in capsys.readouterr().out


def first_listed(problems: list) -> object:
    """The problem an alert or the Problems sheet lists first: errors, warnings, notes."""
    return min(problems, key=lambda p: SEVERITY_ORDER[p.severity])


def test_check_script_prints_the_commands_problems(main, demo, remote, capsys):
    book = remote(payload_from(demo))
    main.check(book)
    assert [a["func"] for a in book.json()["actions"]] == [
        "sheetClearContents", "setValues", "alert"
    ]
    first = str(first_listed(check_file(demo)))  # the alert lists errors first
    assert first[:40] in capsys.readouterr().out


# --------------------------------------------------------------------------------------------
# As xlwings Lite runs main.py (tests/fixtures/lite_runtime.py, a clean interpreter)

INCONSISTENT = [[1.0, 3.0, 0.2], [None, 1.0, 5.0], [None, None, 1.0]]
DATA = [[1.0, 2.0], [1.1, 2.1], [0.9, 1.9], [9.0, 8.0], [9.2, 8.1], [8.8, 7.9]]
ANSWERS = [[4.0, 5.0, 4.0], [3.0, 3.0, 2.0], [5.0, 5.0, 5.0], [2.0, 3.0, 2.0], [4.0, 4.0, 5.0]]

#: (function, the arguments as Lite hands them, the same as desktop xlwings hands them).
#: Lite: every parameter (None when left out), a single cell as a 1x1 range, dates as serials.
CALLS = [
    ("AHP_WEIGHTS", [CONSISTENT, [["geometric"]]], [CONSISTENT, "geometric"]),
    ("AHP_CR", [INCONSISTENT], [INCONSISTENT]),
    ("AHP_CONSISTENCY", [INCONSISTENT, [["alonso-lamata"]]], [INCONSISTENT, "alonso-lamata"]),
    ("AHP_REPAIR", [INCONSISTENT, [["Q"], ["P"], ["C"]], [[2.0]], None],
     [INCONSISTENT, ["Q", "P", "C"], 2.0, None]),
    ("AHP_GROUP", [[[[1.0, 2.0], [None, 1.0]], [[1.0, 8.0], [None, 1.0]]]],
     [[[1.0, 2.0], [None, 1.0]], [[1.0, 8.0], [None, 1.0]]]),
    ("CRM_SCORE", [[[10.0], [20.0], [30.0]], [["minmax"]], None, [["cost"]]],
     [[[10.0], [20.0], [30.0]], "minmax", None, "cost"]),
    ("CRM_SCORE", [[["Good"], ["Poor"], [None]], [["rubric"]], [["Good=80; Poor=10"]], None],
     [[["Good"], ["Poor"], [None]], "rubric", "Good=80; Poor=10", None]),
    ("CRM_VALUE", [[[80.0, 60.0], [40.0, 20.0]], [[0.75, 0.25]]],
     [[[80.0, 60.0], [40.0, 20.0]], [[0.75, 0.25]]]),
    ("CRM_HIGHLOW", [[[10.0], [12.0], [90.0], [95.0]], [["median"]]],
     [[[10.0], [12.0], [90.0], [95.0]], "median"]),
    ("CRM_TYPE", [[["High"], ["Low"]], [["High"], ["Low"]], [["Low"], ["Low"]]],
     [[["High"], ["Low"]], [["High"], ["Low"]], [["Low"], ["Low"]]]),
    ("CRM_TYPENAME", [[[1.0], [8.0]], None], [[[1.0], [8.0]], None]),
    ("CRM_STRATEGY", [[[3.0]], None], [[[3.0]], None]),
    ("CRM_ABC", [[[70.0], [20.0], [10.0]], None], [[[70.0], [20.0], [10.0]], None]),
    ("CRM_KMEANS", [DATA, [[2.0]]], [DATA, 2.0]),
    ("CRM_RFM", [[[5.0], [40.0], [200.0]], [[12.0], [4.0], [1.0]], [[9e4], [2e4], [1e3]]],
     [[[5.0], [40.0], [200.0]], [[12.0], [4.0], [1.0]], [[9e4], [2e4], [1e3]]]),
    ("CRM_CHURN_RISK",
     [[["C1"], ["C2"]], _transactions(datetime_to_xlserial),
      [[datetime_to_xlserial(AS_OF)]]],
     [[["C1"], ["C2"]], _transactions(lambda d: d), AS_OF]),
    ("CRM_CLV",
     [CLV_IDS, as_range(CLV_ORDERS, datetime_to_xlserial), [[datetime_to_xlserial(AS_OF)]],
      12.0, 0.3, 0.1],
     [CLV_IDS, as_range(CLV_ORDERS), AS_OF, 12.0, 0.3, 0.1]),
    ("CRM_NEXT_CONTACT", [[[45000.0], [None]], [[30.0]]],
     [[[dt.datetime(2023, 3, 15)], [None]], [[30.0]]]),
    ("CRM_ALPHA", [ANSWERS], [ANSWERS]),
]


def as_lite_returns(value: typing.Any) -> typing.Any:
    """A desktop result as Lite hands it back to Excel (xlwings' Office.js conversion)."""
    if not isinstance(value, list):
        value = [[value]]
    out = []
    for row in value:
        cells = []
        for v in row:
            if v is None:
                v = ""
            elif isinstance(v, dt.datetime):
                v = {"type": "FormattedNumber", "basicValue": datetime_to_xlserial(v),
                     "numberFormat": "yyyy-mm-dd"}
            cells.append(v)
        out.append(cells)
    return out


def same(a: typing.Any, b: typing.Any) -> bool:
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, (int, float)) and not isinstance(b, bool):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return a == b


@pytest.fixture(scope="module")
def lite(demo, tmp_path_factory) -> dict:
    """The response of tests/fixtures/lite_runtime.py for CALLS and the three scripts."""
    work = tmp_path_factory.mktemp("lite-runtime")
    payload = payload_from(demo)
    payload["client"] = "Office.js"
    site = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
    request = {
        "main": str(MAIN),
        "site": site,
        "calls": [{"func_name": name, "args": args} for name, args, _ in CALLS],
        "scripts": [{"name": n, "payload": payload} for n in ("resegment", "check",
                                                                 "show_help")],
    }
    (work / "request.json").write_text(json.dumps(request, default=str))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XLWINGS_", "PYTHON"))}
    env.update(XLWINGS_ON_SERVER="true", XLWINGS_LICENSE_KEY="noncommercial")
    proc = subprocess.run(
        [sys.executable, "-S", str(RUNTIME), str(work / "request.json"),
         str(work / "response.json")],
        cwd=work, env=env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads((work / "response.json").read_text())


def test_lite_takes_xlcrm_from_the_bundle_without_file_format_packages(lite):
    assert lite["xlcrm_importable_before"] is False
    assert "udfs.lite" in lite["origins"] and "xlcrm.pipeline" in lite["origins"]
    for name, origin in lite["origins"].items():
        assert origin.startswith("xlcrm-bundle/"), (name, origin)
    assert lite["blocked_loaded"] == []


def test_lite_registers_every_worksheet_function_and_the_scripts(lite):
    meta = {f["name"]: f for f in lite["functions_meta"]["functions"]}
    assert set(meta) == set(udfs.__all__)  # no namespace: =AHP_WEIGHTS(...)
    assert all(f["description"].strip() for f in meta.values())
    params = [p["name"] for p in meta["AHP_WEIGHTS"]["parameters"]]
    assert params == ["matrix", "method"]
    assert meta["AHP_WEIGHTS"]["parameters"][1].get("optional") is True
    assert meta["AHP_GROUP"]["parameters"][0].get("repeating") is True
    scripts = {s["function_name"]: s["name"] for s in lite["scripts_meta"]}
    assert scripts == {"resegment": "Resegment", "check": "Check", "show_help": "Help"}
    # Only the input sheets' cells go to Python (the scripts below run with just those).
    include = {s["function_name"]: s["include"].split(",") for s in lite["scripts_meta"]}
    inputs = [*schema.LEDGER_SHEETS, *schema.SETTINGS_SHEETS, schema.HISTORY]
    assert include == {"resegment": inputs, "check": inputs, "show_help": [schema.HELP]}


@pytest.mark.parametrize("k", range(len(CALLS)), ids=[f"{c[0]}-{i}" for i, c in enumerate(CALLS)])
def test_lite_function_calls_return_what_the_desktop_functions_return(lite, k):
    name, _, desktop_args = CALLS[k]
    result = lite["results"][k]
    assert "error" not in result, result.get("error")
    expected = as_lite_returns(getattr(functions, name)(*desktop_args))
    assert same(result["value"], expected), (result["value"], expected)
    flat = [v for row in result["value"] for v in row]
    assert not any(isinstance(v, str) and v.startswith("#") for v in flat), flat


def test_lite_function_calls_known_answers(lite):
    got = {name: lite["results"][k]["value"] for k, (name, _, _) in enumerate(CALLS)}
    assert same(got["AHP_WEIGHTS"], [[4 / 7], [2 / 7], [1 / 7]])
    assert same(got["AHP_GROUP"], [[1.0, 4.0], [0.25, 1.0]])
    assert same(got["CRM_VALUE"], [[75.0], [35.0]])
    assert got["CRM_HIGHLOW"] == [["Low"], ["Low"], ["High"], ["High"]]
    assert got["CRM_TYPE"] == [[2], [8]]
    assert got["CRM_NEXT_CONTACT"] == [
        [{"type": "FormattedNumber", "basicValue": 45030.0, "numberFormat": "yyyy-mm-dd"}],
        [""]]
    a = np.array(ANSWERS)
    k = a.shape[1]
    alpha = k / (k - 1) * (1 - a.var(axis=0, ddof=1).sum() / a.sum(axis=1).var(ddof=1))
    assert same(got["CRM_ALPHA"], [[alpha]])


def test_lite_resegment_writes_what_the_command_writes(lite, demo, resegmented):
    run = lite["scripts"][0]
    assert "error" not in run, run.get("error")
    payload = payload_from(demo)
    got = writes(run["json"]["actions"], payload)
    assert set(got) == {*schema.RESULT_SHEETS, schema.HISTORY}
    for sheet in (schema.SCORES, schema.SEGMENTS):
        assert_grid_equal(got[sheet], read_grid(resegmented, sheet), sheet)
    names = [s["name"] for s in payload["sheets"]]
    for a in run["json"]["actions"]:
        assert a["sheet_position"] is None or names[a["sheet_position"]] in (
            *schema.RESULT_SHEETS, schema.HISTORY)
    assert "Resegmented 120 customers" in run["printed"]


def test_lite_check_shows_the_commands_problems_on_the_problems_sheet_only(lite, demo):
    run = lite["scripts"][1]
    assert "error" not in run, run.get("error")
    actions = run["json"]["actions"]
    assert [a["func"] for a in actions] == ["sheetClearContents", "setValues", "alert"]
    names = [s["name"] for s in payload_from(demo)["sheets"]]
    assert {names[a["sheet_position"]] for a in actions[:2]} == {schema.PROBLEMS}
    first = str(first_listed(check_file(demo)))  # the alert lists errors first
    assert first[:40] in run["printed"]
    assert first[:40] in actions[-1]["args"][0]


def test_lite_help_activates_the_help_sheet(lite, demo):
    run = lite["scripts"][2]
    assert "error" not in run, run.get("error")
    names = [s["name"] for s in payload_from(demo)["sheets"]]
    assert run["json"]["actions"] == [
        {**run["json"]["actions"][0], "func": "activateSheet", "args": [names.index(schema.HELP)]}
    ]
