"""An `async def` task behaves as a plain one in every case where the two copies once drifted.

Each test body runs once with a plain task and once with the same task written `async def`,
both through `jupyter interactive-task run` as a user runs them: typed overrides checked
(a 400 that changes nothing), a failure recorded and resumable (`load_error()` in a kernel),
the server's exit code standing in for an outcome it could not write, a server killed before
it answered, a machine failure mapped to exit 5, unsaved documents reported in the log, and
the inputs the function's code does not declare dropped (`declared_inputs`).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
from pathlib import Path

import pytest

from harness import finish, http, read_ready, run_cell, server_of, start_kernel, wait_for, write
from harness.plugin import mount_tmpfs
from interactive_ext.procs import alive

TASKS = """
import inspect, os


def plain(n: int = 1, pad: str = ""):
    if os.path.exists("fail"):
        raise RuntimeError("failed as asked")
    return {"n": n, "type": type(n).__name__, "version": 1}


async def coro(n: int = 1, pad: str = ""):
    if os.path.exists("fail"):
        raise RuntimeError("failed as asked")
    return {"n": n, "type": type(n).__name__, "version": 1}


def traced_plain(n: int = 1):
    return plain(n)


async def traced_coro(n: int = 1):
    return await coro(n)


# as Ray gives an actor method: a signature with a parameter the code does not declare
for func in (traced_plain, traced_coro):
    sig = inspect.signature(func)
    extra = inspect.Parameter("_trace_ctx", inspect.Parameter.KEYWORD_ONLY, default=None)
    func.__signature__ = sig.replace(parameters=[*sig.parameters.values(), extra])
"""

KINDS = pytest.mark.parametrize("task", ["plain", "coro"])
"""The same body for a plain task and for an async one."""

WAIT = ("--port", "0", "--max-idle-seconds", "120")


@pytest.fixture
def tasks(tmp_path: Path) -> Path:
    """The task module, in the folder the runs start in."""
    return write(tmp_path, "likeplain.py", TASKS)


def start(cli_run, tmp_path: Path, task: str, *flags: str, env=None):
    """Run likeplain:TASK waiting for a resume; (the process, its ready info)."""
    ready = tmp_path / "ready.json"
    proc = cli_run("run", f"likeplain:{task}", *WAIT, "--ready-file", str(ready), *flags, env=env)
    return proc, read_ready(ready, proc)


def resume(info: dict, inputs: dict | None = None):
    """POST /interactive/resume with inputs."""
    url = info["server_url"] + "interactive/resume"
    return http("POST", url, info["token"], body={"inputs": inputs or {}})


def status(info: dict) -> dict:
    """GET /interactive/status."""
    r = http("GET", info["server_url"] + "interactive/status", info["token"])
    assert r.status == 200, r
    return r.body  # type: ignore[no-any-return]


@KINDS
def test_a_typed_override_of_the_wrong_type_is_a_400_that_changes_nothing(
    tmp_path, tasks, cli_run, task
):
    proc, info = start(cli_run, tmp_path, task, "--kwargs", '{"n": 2}')
    r = resume(info, {"n": "ten"})
    assert r.status == 400 and "input n must be int, got 'ten'" in r.body["message"], r
    after = status(info)
    assert after["state"] == "waiting" and after["stop_reason"] is None, after
    assert not (Path(info["session_dir"]) / "outcome.json").exists()
    assert resume(info, {"n": 5}).status == 202
    code, out, err = finish(proc)
    assert code == 0, err
    assert json.loads(out) == {"n": 5, "type": "int", "version": 1}


@KINDS
def test_a_failure_is_recorded_given_by_load_error_and_a_fixed_resume_returns(
    tmp_path, tasks, cli_run, task
):
    (tmp_path / "fail").touch()
    proc, info = start(cli_run, tmp_path, task, "--run-task-first")
    error = json.loads((Path(info["session_dir"]) / "error.json").read_text())
    assert error["type"] == "RuntimeError" and error["message"] == "failed as asked", error
    server = server_of(info, proc)
    kernel = start_kernel(server)
    out, errors = run_cell(
        server,
        kernel,
        "from interactive_ext import load_error\ne = load_error()\nprint(type(e).__name__, e)",
    )
    assert not errors and out.strip() == "RuntimeError failed as asked", (out, errors)
    (tmp_path / "fail").unlink()
    assert resume(info, {"n": 3}).status == 202
    code, out, err = finish(proc)
    assert code == 0, err
    assert json.loads(out) == {"n": 3, "type": "int", "version": 1}
    assert "failed (RuntimeError: failed as asked); starting Jupyter" in err, err


@KINDS
def test_a_resumed_failure_serves_again_and_the_next_resume_returns(tmp_path, tasks, cli_run, task):
    (tmp_path / "fail").touch()
    proc, info = start(cli_run, tmp_path, task, "--run-task-first")
    assert resume(info).status == 202  # still failing: recorded, and Jupyter again
    wait_for(lambda: not alive(info["pid"]), 60, "the first round's server to stop")
    again = wait_for(
        lambda: (r := read_ready(tmp_path / "ready.json", proc))["pid"] != info["pid"] and r,
        60,
        "the second round",
    )
    error = json.loads((Path(again["session_dir"]) / "error.json").read_text())
    assert error["message"] == "failed as asked", error
    (tmp_path / "fail").unlink()
    assert resume(again, {"n": 4}).status == 202
    code, out, err = finish(proc)
    assert code == 0, err
    assert json.loads(out)["n"] == 4
    assert "resumed task" in err and "starting Jupyter again" in err, err


@KINDS
def test_the_server_s_exit_code_stands_in_for_an_outcome_it_could_not_write(
    tmp_path, tasks, cli_run, task
):
    ready = tmp_path / "ready.json"
    flags = ("--max-idle-seconds", "4", "--on-idle", "fail", "--ready-file", str(ready))
    proc = cli_run("run", f"likeplain:{task}", "--port", "0", *flags)
    info = read_ready(ready, proc)
    shutil.rmtree(info["session_dir"])
    code, _, err = finish(proc)
    assert code == 3, err
    assert "could not record it" in err and "was removed while it ran" in err, err
    assert "Traceback" not in err, err


@KINDS
def test_a_server_killed_before_it_answered_is_exit_4(tmp_path, tasks, cli_run, task):
    proc, info = start(cli_run, tmp_path, task)
    os.kill(info["pid"], signal.SIGKILL)
    code, _, err = finish(proc)
    assert code == 4, err
    assert "without a resume" in err and "Traceback" not in err, err


@KINDS
def test_a_read_only_notebook_dir_is_an_environment_failure(tmp_path, tasks, cli_run, task, mounts):
    ro = tmp_path / "ro"
    mount_tmpfs(ro, "ro,size=1m")
    mounts.append(ro)
    proc = cli_run("run", f"likeplain:{task}", "--port", "0", "--notebook-dir", str(ro))
    code, _, err = finish(proc)
    assert code == 5, err
    assert "Read-only file system" in err and "notebook_dir" in err, err
    assert "Traceback" not in err, err


@KINDS
def test_a_full_disk_is_an_environment_failure(tmp_path, tasks, cli_run, cli_env, task, mounts):
    small = tmp_path / "small"
    mount_tmpfs(small, "size=64k,mode=1777")
    mounts.append(small)
    big = tmp_path / "big.json"
    big.write_text(json.dumps({"n": 1, "pad": "x" * 400_000}))
    env = {**cli_env, "TMPDIR": str(small)}
    args = ("run", f"likeplain:{task}", "--port", "0", "--kwargs-file", str(big))
    code, _, err = finish(cli_run(*args, env=env))
    assert code == 5, err
    assert "No space left on device" in err and "TMPDIR" in err, err
    assert "Traceback" not in err and "do not pickle" not in err, err
    assert not list(small.glob("interactive-*"))


@KINDS
def test_documents_that_could_not_be_saved_are_reported_in_the_log(tmp_path, tasks, cli_run, task):
    proc, info = start(cli_run, tmp_path, task)
    url, token = info["server_url"], info["token"]
    assert http("GET", url + "interactive/status?client=tab1", token).status == 200
    assert resume(info).status == 202
    failed = [{"path": "notes.ipynb", "error": "the disk is full"}]
    body = {"client": "tab1", "saved": ["other.ipynb"], "failed": failed}
    r = http("POST", url + "interactive/saved", token, body=body)
    assert r.status == 200, r
    code, _, err = finish(proc)
    assert code == 0, err
    assert "a tab could not save notes.ipynb before the stop: the disk is full" in err, err


@KINDS
def test_inputs_the_code_does_not_declare_are_dropped(tmp_path, tasks, cli_run, task):
    proc, info = start(cli_run, tmp_path, f"traced_{task}")
    # the re-loaded function has no such signature (Ray's wrapper is gone there too)
    write(tmp_path, "likeplain.py", TASKS.replace("func.__signature__ =", "_unused ="))
    assert resume(info, {"n": 6}).status == 202
    code, out, err = finish(proc)
    assert code == 0, err
    assert json.loads(out) == {"n": 6, "type": "int", "version": 1}
