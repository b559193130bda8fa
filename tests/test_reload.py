"""Resume re-loads every changed module of the person's code, not only the task's."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from harness import OPTS, write
from interactive_ext.errors import ReloadError
from interactive_ext.session.sources import check_sources, snapshot
from interactive_ext.task.reloader import reload_changed

TASK = f"""
import json, os
from interactive_ext import interactive
from helpers import prep

@interactive({OPTS})
def train(epochs: int = 1):
    return prep() + " / OLD task"

if __name__ == "__main__":
    print(json.dumps({{"result": train()}}))
"""

HELPERS = """
from consts import WORD

def prep():
    return WORD + " helper"
"""


def start_three_modules(tmp_path, script):
    """task.py importing helpers.py importing consts.py, started; (the script, its ready info)."""
    write(tmp_path, "consts.py", 'WORD = "OLD"\n')
    write(tmp_path, "helpers.py", HELPERS)
    write(tmp_path, "task.py", TASK)
    s = script("task.py")
    return s, s.ready()


def test_edited_helper_modules_run_after_resume(tmp_path, script):
    """helpers.py, consts.py (imported by helpers) and task.py edited: all three re-loaded."""
    s, info = start_three_modules(tmp_path, script)
    context = json.loads((Path(info["session_dir"]) / "context.json").read_text())
    assert str(tmp_path / "helpers.py") in context["modules"]
    assert not any("site-packages" in p for p in context["modules"])
    write(tmp_path, "consts.py", 'WORD = "NEW"\n')
    write(tmp_path, "helpers.py", HELPERS.replace("helper", "HELPER"))
    write(tmp_path, "task.py", TASK.replace("OLD task", "NEW task"))
    assert s.resume(info).status == 202
    code, out, err = s.finish()
    assert code == 0, err
    assert out == {"result": "NEW HELPER / NEW task"}
    assert "re-loaded changed modules: consts, helpers, __main__" in err


SCRIPT = f"""
import json, os
from interactive_ext import interactive

with open("side_effects.txt", "a") as f:
    f.write("module-level code ran\\n")
RATE = 1

@interactive({OPTS})
def train():
    return {{"rate": RATE, "version": 1}}

if __name__ == "__main__":
    print(json.dumps(train()))
"""


def test_a_scripts_module_level_code_is_not_run_again(tmp_path, script):
    write(tmp_path, "run.py", SCRIPT)
    s = script("run.py")
    info = s.ready()
    write(tmp_path, "run.py", SCRIPT.replace('"version": 1', '"version": 2').replace("= 1", "= 5"))
    assert s.resume(info).status == 202
    code, out, err = s.finish()
    assert code == 0, err
    assert out == {"rate": 5, "version": 2}  # the edited function and literal
    assert (tmp_path / "side_effects.txt").read_text().count("ran") == 1


def test_a_syntax_error_is_a_400_and_the_server_stays(tmp_path, script):
    s, info = start_three_modules(tmp_path, script)
    broken = (tmp_path / "helpers.py", HELPERS + "\ndef broken(:\n")
    fixed = (tmp_path / "helpers.py", HELPERS.replace("helper", "fixed"))
    out = refused_then_fixed(s, info, broken, fixed, f"{tmp_path / 'helpers.py'}, line 7")
    assert out == {"result": "OLD fixed / OLD task"}


def refused_then_fixed(
    s: Any, info: dict[str, Any], broken: tuple[Path, str], fixed: tuple[Path, str], words: str
) -> dict[str, Any]:
    """The broken edit: a resume is a 400 naming words and the server waits; the fixed edit:
    the resume runs; the task's result."""
    broken[0].write_text(broken[1])
    r = s.resume(info)
    assert r.status == 400, r
    assert words in r.body["message"]
    assert s.status(info)["state"] == "waiting"
    fixed[0].write_text(fixed[1])
    assert s.resume(info).status == 202
    code, out, err = s.finish()
    assert code == 0, err
    return out  # type: ignore[no-any-return]


def test_a_module_that_fails_to_reload_fails_the_run_with_its_line(tmp_path, script):
    s, info = start_three_modules(tmp_path, script)
    write(tmp_path, "helpers.py", HELPERS + "\nundefined_name\n")
    assert s.resume(info).status == 202
    code, _, err = s.finish()
    assert code == 1
    assert "ReloadError" in err and f"{tmp_path / 'helpers.py'}, line 7" in err
    error = json.loads((Path(info["session_dir"]) / "error.json").read_text())
    assert error["type"] == "interactive_ext.errors.ReloadError"
    assert "NameError" in error["message"]


# -- in this process: order and in-place updates -------------------------------------


@pytest.fixture
def modules(tmp_path, monkeypatch):
    """Two fresh modules a <- b (b does `from a import f`), imported here."""
    monkeypatch.syspath_prepend(str(tmp_path))
    write(tmp_path, "ra.py", "def f():\n    return 1\nK = 1\n")
    write(tmp_path, "rb.py", "from ra import f, K\ndef g():\n    return f() + K\n")
    import rb  # noqa: F401

    yield tmp_path
    for name in ("ra", "rb"):
        sys.modules.pop(name, None)


def test_reload_orders_imports_first_and_updates_in_place(modules):
    import ra
    import rb

    old_f, snap = ra.f, snapshot()
    assert check_sources(snap) is None
    write(modules, "rb.py", "from ra import f, K\ndef g():\n    return 10 * f() + K\n")
    write(modules, "ra.py", "def f():\n    return 2\nK = 3\n")
    assert reload_changed(snap) == ["ra", "rb"]
    assert old_f() == 2  # the old function object runs the new code
    assert rb.g() == 23  # K re-imported after ra re-loaded
    assert reload_changed(snap) == []  # nothing changed since


def test_check_sources_names_the_file_and_line(modules):
    snap = snapshot()
    write(modules, "ra.py", "def f(:\n")
    with pytest.raises(ReloadError, match=r"ra\.py, line 1"):
        check_sources(snap)


MODULE_TASK = f"""
import os
from interactive_ext import interactive

@interactive({OPTS})
def train(epochs: int = 1):
    return {{"epochs": epochs, "version": 1}}
"""


def test_a_renamed_module_task_is_a_400_and_the_server_stays(tmp_path, script):
    write(tmp_path, "tasks.py", MODULE_TASK)
    write(tmp_path, "main.py", "import json, tasks\nprint(json.dumps(tasks.train()))\n")
    s = script("main.py")
    info = s.ready()
    path = tmp_path / "tasks.py"
    broken = (path, MODULE_TASK.replace("def train", "def fit"))
    fixed = (path, MODULE_TASK.replace('"version": 1', '"version": 2'))
    out = refused_then_fixed(s, info, broken, fixed, f"{path} no longer defines 'train'")
    assert out == {"epochs": 1, "version": 2}
