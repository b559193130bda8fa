"""The starter notebook: its content, never overwritten, and "Run All" in a real kernel."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import nbformat
import pytest

from interactive_ext.errors import SessionError
from interactive_ext.kernel import load_error, load_inputs, resume, save_inputs
from interactive_ext.protocol import CONTEXT
from interactive_ext.records import ErrorRecord, TaskContext
from interactive_ext.session.directory import Session
from interactive_ext.task.context import make_context, record_error
from interactive_ext.task.inputs import write_inputs
from interactive_ext.task.starter import import_code, notebook_name, write_notebook

TASK = '''
from interactive_ext import interactive


@interactive(port=0)
def train(epochs: int = 3, lr: float = 0.1):
    """Fake training."""
    return {"epochs": epochs, "lr": lr}
'''


def source(nb: nbformat.NotebookNode) -> str:
    """All the notebook's source text."""
    return "\n".join(c.source for c in nb.cells)


def context(tmp_path: Path, **changes: str) -> TaskContext:
    return TaskContext(
        **{
            "module": "nbtask",
            "qualname": "train",
            "source_file": str(tmp_path / "nbtask.py"),
            "parameters": ["epochs", "lr"],
            "var_keyword": False,
            "notebook": str(tmp_path / "train-interactive.ipynb"),
            **changes,
        }
    )


def test_content_interactive(tmp_path: Path) -> None:
    path = write_notebook(tmp_path, context(tmp_path), None)
    assert path == tmp_path / notebook_name("train") == tmp_path / "train-interactive.ipynb"
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    text = source(nb)
    assert "Interactive task `train`" in nb.cells[0].source
    assert "because the task is interactive" in nb.cells[0].source
    assert "%load_ext autoreload\n%autoreload 2" in text
    assert "inputs = load_inputs()" in text
    assert "from nbtask import train as task" in text
    assert "task(**inputs)" in text
    assert "jupyter interactive-task resume" in text and "/interactive/resume" in text
    guard = nb.cells[-1].source
    assert guard.startswith("RESUME = False") and "if RESUME:\n    resume()" in guard


def test_content_failure_shows_the_traceback(tmp_path: Path) -> None:
    error = ErrorRecord(
        type="ZeroDivisionError",
        message="division by zero",
        traceback="Traceback (most recent call last):\n  File x\nZeroDivisionError",
    )
    nb = nbformat.read(write_notebook(tmp_path, context(tmp_path), error), as_version=4)
    intro = nb.cells[0].source
    assert "because the task failed" in intro
    assert "ZeroDivisionError: division by zero" in intro
    assert "Traceback (most recent call last)" in intro


def test_existing_file_is_never_overwritten(tmp_path: Path) -> None:
    mine = tmp_path / "train-interactive.ipynb"
    work = json.dumps({"cells": [{"cell_type": "code", "source": "my work"}], "nbformat": 4})
    mine.write_text(work)
    assert write_notebook(tmp_path, context(tmp_path), None) == mine
    assert mine.read_text() == work


def test_a_file_that_is_no_notebook_is_moved_aside_not_lost(tmp_path: Path) -> None:
    """Issue 27: an unreadable starter notebook is replaced; its bytes are kept next to it."""
    mine = tmp_path / "train-interactive.ipynb"
    mine.write_text("my work")
    assert write_notebook(tmp_path, context(tmp_path), None) == mine
    assert json.loads(mine.read_text())["cells"]
    (aside,) = tmp_path.glob("train-interactive.ipynb.refused-*")
    assert aside.read_text() == "my work"


def test_import_code_for_scripts_and_nested_names(tmp_path: Path) -> None:
    ctx = context(tmp_path, module="__main__")
    code = import_code(ctx)
    assert "load_definitions(" in code and "nbtask.py', 'train')" in code  # never the whole file
    assert import_code(context(tmp_path, qualname="Trainer.run")) == (
        "from nbtask import Trainer\ntask = Trainer.run"
    )


def test_helpers_outside_a_session_are_clear(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INTERACTIVE_EXT_SESSION", raising=False)
    for helper in (load_inputs, load_error, save_inputs, resume):
        with pytest.raises(SessionError, match="not inside an interactive session"):
            helper()


def test_helpers_in_a_session(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    session = Session.create(tmp_path)
    session.write_json(CONTEXT, context(tmp_path).to_json())
    write_inputs(session, {"epochs": 2, "lr": 0.1})
    monkeypatch.setenv("INTERACTIVE_EXT_SESSION", str(session.path))
    assert load_inputs() == {"epochs": 2, "lr": 0.1}
    assert load_error() is None
    assert save_inputs(lr=0.5) == {"lr": 0.5}
    assert load_inputs() == {"epochs": 2, "lr": 0.5}
    with pytest.raises(ValueError, match="unknown input"):
        save_inputs(nope=1)
    with pytest.raises(SessionError, match="no running server"):
        resume()
    try:
        1 / 0  # noqa: B018
    except ZeroDivisionError as e:
        record_error(session, e)
    assert isinstance(load_error(), ZeroDivisionError)


def task_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, text: str) -> Any:
    """tmp_path/NAME.py with text, imported here; a session directory in tmp_path."""
    (tmp_path / f"{name}.py").write_text(text)
    monkeypatch.syspath_prepend(str(tmp_path))
    return importlib.import_module(name), Session.create(tmp_path)


def run_all(nb: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Run every cell of nb in a real kernel (tmp_path on its path); the code cells' outputs."""
    from nbclient import NotebookClient

    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    resources = {"metadata": {"path": str(tmp_path)}}
    client = NotebookClient(
        nb, timeout=60, kernel_name="python3", allow_errors=True, resources=resources
    )
    client.execute()
    return [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]


def test_run_all_in_a_real_kernel_never_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nbtask, session = task_module(tmp_path, monkeypatch, "nbtask", TASK)
    ctx = make_context(nbtask.train, tmp_path / "train-interactive.ipynb")
    session.write_json(CONTEXT, ctx.to_json())
    write_inputs(session, {"epochs": 4, "lr": 0.2})
    assert ctx.module == "nbtask" and ctx.qualname == "train"
    path = write_notebook(tmp_path, ctx, None)
    nb = nbformat.read(path, as_version=4)
    monkeypatch.setenv("INTERACTIVE_EXT_SESSION", str(session.path))
    outputs = run_all(nb, tmp_path, monkeypatch)
    results = [o["data"]["text/plain"] for o in outputs if o.get("output_type") == "execute_result"]
    assert "{'epochs': 4, 'lr': 0.2}" in results  # inputs = load_inputs()
    # the task ran in the kernel (no second server) and nothing resumed
    assert results.count("{'epochs': 4, 'lr': 0.2}") == 2
    assert not (session.path / "outcome.json").exists()
    assert not any(o.get("output_type") == "error" for o in outputs)
    assert json.loads(path.read_text())["cells"]  # still a notebook on disk


FAILING = '''
from interactive_ext import interactive


@interactive(port=0)
def divide(count: int = 3, scale: float = 2.0):
    """Fails inside a list comprehension."""
    return [scale / (i - 1) for i in range(count)]
'''


def test_a_failure_shows_the_persons_frames_and_examples_use_the_tasks_parameter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from interactive_ext.options import Options
    from interactive_ext.task.capture import capture_frames

    nbfail, session = task_module(tmp_path, monkeypatch, "nbfail", FAILING)
    monkeypatch.setenv("INTERACTIVE_EXT_SESSION", str(session.path))  # runs directly here
    with pytest.raises(ZeroDivisionError) as failed:
        nbfail.divide()  # through the wrapper, as the task process calls it
    ctx = make_context(nbfail.divide, tmp_path / "divide-interactive.ipynb")
    ctx.parameters = [{"name": "count", "value": 3, "json": True}, {"name": "scale"}]
    session.write_json(CONTEXT, ctx.to_json())
    write_inputs(session, {"count": 3, "scale": 2.0})
    error = record_error(session, failed.value)
    frames = capture_frames(session, failed.value, Options())
    assert "interactive_ext" not in error.traceback and "nbfail.py" in error.traceback
    path = write_notebook(tmp_path, ctx, error, frames=frames)
    nb = nbformat.read(path, as_version=4)
    text = source(nb)
    assert "resume(count=3)" in text and "save_inputs(count=3)" in text and "lr=" not in text
    assert "failed in `divide`" in text
    outputs = run_all(nb, tmp_path, monkeypatch)
    (shown,) = [o for o in outputs if o.get("output_type") == "error"]  # task(**inputs)
    assert shown["ename"] == "ZeroDivisionError"
    trace = "\n".join(shown["traceback"])
    assert "nbfail.py" in trace and "decorator.py" not in trace and "run.py" not in trace
    results = [o["data"]["text/plain"] for o in outputs if o.get("output_type") == "execute_result"]
    assert any(r.startswith("<frame divide at") for r in results), results


def test_a_foreign_notebook_that_cannot_be_moved_gets_ours_beside_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 27: where the foreign file may not be moved (a sticky folder, as a user), ours is
    written under a new name, the context names it, and the foreign file is never opened."""
    theirs = tmp_path / "train-interactive.ipynb"
    theirs.write_text('{"cells": []}')
    theirs.chmod(0o666)  # writable by everyone
    ctx = context(tmp_path)

    def refuse(src: object, dst: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr("os.rename", refuse)
    ours = write_notebook(tmp_path, ctx, None)
    assert ours != theirs and ours.parent == tmp_path and ours.name.endswith(".ipynb")
    assert json.loads(ours.read_text())["cells"] and theirs.read_text() == '{"cells": []}'
    assert ctx.notebook == str(ours)
