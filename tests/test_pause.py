"""pause="after": Jupyter after a success; a failed resumed run is recorded like the first."""

from __future__ import annotations

import json
from pathlib import Path

from harness import run_cell, server_of, start_kernel, write

TASK = """
import json, os
from interactive_ext import interactive

OPTS = json.loads(os.environ.get("OPTS", "{}"))

@interactive(port=0, ready_file=os.environ["READY_FILE"], **OPTS)
def train(epochs: int = 2):
    if os.path.exists("fail"):
        raise ValueError(open("fail").read())
    return {"epochs": epochs, "version": 1}

if __name__ == "__main__":
    print(json.dumps(train()))
"""


def test_pause_after_success_serves_the_result_and_resume_recomputes(tmp_path, script):
    write(tmp_path, "task.py", TASK)
    s = script("task.py", env={"OPTS": json.dumps({"pause": "after", "max_idle_seconds": 120})})
    info = s.ready()
    server = server_of(info, s.proc)
    out, errors = run_cell(
        server,
        start_kernel(server),
        "from interactive_ext import load_result\nprint(load_result())",
    )
    assert not errors, errors
    assert "{'epochs': 2, 'version': 1}" in out
    notebook = json.loads((tmp_path / "train-interactive.ipynb").read_text())
    assert any("load_result()" in "".join(c["source"]) for c in notebook["cells"])
    write(tmp_path, "task.py", TASK.replace('"version": 1', '"version": 2'))
    assert s.resume(info, {"epochs": 5}).status == 202
    code, out, err = s.finish()
    assert code == 0, err
    assert out == {"epochs": 5, "version": 2}


def test_pause_after_then_idle_returns_the_result_already_computed(tmp_path, script):
    write(tmp_path, "task.py", TASK)
    s = script("task.py", env={"OPTS": json.dumps({"pause": "after", "max_idle_seconds": 1})})
    code, out, err = s.finish()
    assert code == 0, err
    assert out == {"epochs": 2, "version": 1}
    assert "returning the result task train already computed" in err


def test_a_failed_resumed_run_is_recorded_in_the_kept_session(tmp_path, script):
    write(tmp_path, "task.py", TASK)
    s = script("task.py", env={"OPTS": json.dumps({"max_idle_seconds": 120})})
    info = s.ready()
    (tmp_path / "fail").write_text("broken after resume")
    assert s.resume(info).status == 202
    code, _, err = s.finish()
    assert code == 1
    session = Path(info["session_dir"])
    error = json.loads((session / "error.json").read_text())
    assert error["type"] == "ValueError" and error["message"] == "broken after resume"
    assert (session / "exception.pkl").exists()
    assert f"its traceback is in {session / 'error.json'}" in err


def test_load_error_shows_the_latest_failure_in_the_next_round(tmp_path, script):
    write(tmp_path, "task.py", TASK)
    (tmp_path / "fail").write_text("first failure")
    s = script("task.py", env={"OPTS": json.dumps({"run_task_first": True})})
    info = s.ready()
    (tmp_path / "fail").write_text("second failure")
    assert s.resume(info).status == 202
    info = s.next_round(info)
    server = server_of(info, s.proc)
    out, errors = run_cell(
        server, start_kernel(server), "from interactive_ext import load_error\nprint(load_error())"
    )
    assert not errors, errors
    assert "second failure" in out
    (tmp_path / "fail").unlink()
    assert s.resume(info).status == 202
    code, out, err = s.finish()
    assert code == 0, err
    assert out == {"epochs": 2, "version": 1}
