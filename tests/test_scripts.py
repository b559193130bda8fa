"""Definitions only: a script's task re-defined by its def/class/imports/constants, nothing else.

On the engines (a driver script on Ray, Dask, spawn pools): tests/engines/test_driver_scripts.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness import OPTS, run_cell, server_of, start_kernel, write
from interactive_ext.errors import ReloadError
from interactive_ext.records import Redefine, TaskContext
from interactive_ext.session.definitions import CELL_TAG, SOURCE_ELSEWHERE, carried_cell
from interactive_ext.task.scripts import load_definitions, run_definitions

SCRIPT = f"""
import json, os, sys
from interactive_ext import interactive

RATE = 2
with open("side_effects.txt", "a") as f:
    f.write("module-level code ran\\n")


@interactive({OPTS})
def train(x: int = 1) -> dict:
    return {{"value": x * RATE, "code": "v1"}}


if sys.argv[1:] == ["elsewhere"]:  # the file is not on this machine when the task runs
    os.rename(__file__, __file__ + ".away")
print(json.dumps(train(3)))
"""


def test_kernel_view_runs_definitions_only(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "run.py", SCRIPT)
    task = load_definitions(str(tmp_path / "run.py"), "train")
    assert task(5) == {"value": 10, "code": "v1"}  # the person's function, without @interactive
    assert not (tmp_path / "side_effects.txt").exists()  # no module-level statement ran
    write(tmp_path, "run.py", SCRIPT.replace("RATE = 2", "RATE = 3"))
    assert load_definitions(str(tmp_path / "run.py"), "train")(5)["value"] == 15
    with pytest.raises(ReloadError, match="no longer defines 'nope'"):
        load_definitions(str(tmp_path / "run.py"), "nope")
    with pytest.raises(ValueError, match="not on this machine"):
        load_definitions(str(tmp_path / "gone.py"), "train")


def test_a_decorator_that_cannot_run_again_is_left_off(tmp_path: Path) -> None:
    """A function shipped by value: its globals lack what the script computed (OPTIONS)."""
    source = "import os\nOPTIONS = dict(a=1)\n\n@wrap(**OPTIONS)\ndef f(x):\n    return x + 1\n"
    write(tmp_path, "d.py", source)
    context = TaskContext(
        module="__main__", qualname="f", source_file=str(tmp_path / "d.py"), redefine=Redefine.FILE
    )
    namespace: dict[str, Any] = {"__name__": "__main__"}
    assert run_definitions(context, namespace)(1) == 2
    assert "os" in namespace and "OPTIONS" not in namespace  # a call is not a constant


def test_resume_refuses_a_file_that_no_longer_defines_the_task(tmp_path: Path, script: Any) -> None:
    write(tmp_path, "run.py", SCRIPT)
    s = script("run.py")
    info = s.ready()
    write(tmp_path, "run.py", SCRIPT.replace("def train(", "def fit("))
    r = s.resume(info)
    assert r.status == 400, r
    assert "no longer defines 'train'" in r.body["message"]
    assert s.status(info)["state"] == "waiting"
    write(tmp_path, "run.py", SCRIPT.replace('"v1"', '"v2"'))
    assert s.resume(info, {"x": 4}).status == 202
    code, out, err = s.finish()
    assert code == 0, err
    assert out == {"value": 8, "code": "v2"}
    assert (tmp_path / "side_effects.txt").read_text().count("ran") == 1


def test_source_not_on_this_machine_resume_runs_the_notebook_cell(
    tmp_path: Path, script: Any
) -> None:
    write(tmp_path, "run.py", SCRIPT)
    s = script("run.py", "elsewhere")
    info = s.ready()
    status = s.status(info)
    assert status["task"]["redefine"] == "notebook"
    assert status["task"]["notice"] == SOURCE_ELSEWHERE
    from harness import http

    page = http("GET", info["server_url"] + "interactive", info["token"])
    assert SOURCE_ELSEWHERE in page.body
    notebook = tmp_path / "train-interactive.ipynb"
    nb = json.loads(notebook.read_text())
    assert SOURCE_ELSEWHERE in nb["cells"][0]["source"]
    cell = next(c for c in nb["cells"] if CELL_TAG in c["metadata"].get("tags", []))
    assert "def train(" in cell["source"] and "side_effects" not in cell["source"]
    server = server_of(info, s.proc)  # the notebook's cells in a kernel: the carried function
    kernel = start_kernel(server)
    seen = ""
    for code in [c["source"] for c in nb["cells"] if c["cell_type"] == "code"]:
        out, errors = run_cell(server, kernel, code + "\nprint(repr(result))" * ("task(" in code))
        assert not errors, (code, errors)
        seen += out
    assert "{'value': 6, 'code': 'v1'}" in seen
    assert (tmp_path / "side_effects.txt").read_text().count("ran") == 1  # only the task's run
    cell["source"] = cell["source"].replace('"v1"', '"edited in the notebook"')
    notebook.write_text(json.dumps(nb))  # what the save before the stop writes
    assert "edited in the notebook" in (carried_cell(str(notebook)) or "")
    assert s.resume(info).status == 202
    code, out, err = s.finish()
    assert code == 0, err
    assert out == {"value": 6, "code": "edited in the notebook"}
    assert SOURCE_ELSEWHERE in err  # the log says so at start
