"""Containment: nothing a session starts outlives it, however it detaches (finding 1 and 7)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from harness import (
    Script,
    ServerProcess,
    execute,
    http,
    kill_tree,
    open_terminal,
    start_task,
    type_in_terminal,
    wait_for,
)
from interactive_ext.child import containment
from interactive_ext.procs import alive

TASK = """
import json, os, sys
from interactive_ext import interactive

@interactive(**json.loads(os.environ["TASK_OPTIONS"]))
def train(epochs: int = 3):
    return {"epochs": epochs}

print(json.dumps({"result": train()}))
"""

DETACH = textwrap.dedent(
    """
    import os, subprocess
    pids = []
    pids.append(subprocess.Popen(["sleep", "901"], start_new_session=True, env={}).pid)
    pids.append(subprocess.Popen(["setsid", "-f", "sleep", "902"]).wait())
    os.system("nohup sleep 903 >/dev/null 2>&1 &")
    os.system("(sleep 904 &) &")
    print("started")
    """
)
"""Detach processes from a kernel in every way the issue names."""

TERMINAL = "nohup sleep 905 >/dev/null 2>&1 & setsid sleep 906 & echo st''arted\r"


def sleepers() -> set[int]:
    """The pids of the `sleep 90x` processes this test started (they are easy to tell apart)."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read().split(b"\0")
        except OSError:
            continue
        if (
            len(cmd) >= 2
            and cmd[0] == b"sleep"
            and cmd[1] in {b"901", b"902", b"903", b"904", b"905", b"906"}
        ) and alive(int(entry)):
            found.add(int(entry))
    return found


@pytest.fixture
def run_task(
    tmp_path: Path, reaper: list[subprocess.Popen[Any]]
) -> Iterator[Callable[[], tuple[subprocess.Popen[str], dict[str, Any]]]]:
    """Start the task script; its process and ready info. Everything is killed at the end."""
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    (tmp_path / "task.py").write_text(TASK)

    def start() -> tuple[subprocess.Popen[str], dict[str, Any]]:
        ready = tmp_path / "ready.json"
        opts = {"port": 0, "ready_file": str(ready), "notebook_dir": str(tmp_path)}
        env = {**os.environ, "TASK_OPTIONS": json.dumps(opts), "JUPYTER_RUNTIME_DIR": str(runtime)}
        proc = start_task([sys.executable, str(tmp_path / "task.py")], env, tmp_path)
        reaper.append(proc)
        return proc, Script(proc, tmp_path, ready).ready()

    before = sleepers()
    try:
        yield start
    finally:
        for proc in reaper:
            kill_tree(proc)  # before the sleepers they leave behind
        for pid in sleepers() - before:
            os.kill(pid, signal.SIGKILL)


def detach_everywhere(info: dict[str, Any]) -> tuple[ServerProcess, set[int]]:
    """A kernel and a terminal each start detached processes; the server and those pids."""
    server = ServerProcess(
        subprocess.Popen(["true"]),
        info["port"],
        info["token"],
        Path(info["session_dir"]),
        Path("/dev/null"),
    )
    server.proc.wait()
    before = sleepers()
    kernel = server.request("POST", "/api/kernels", body={"name": "python3"})
    assert kernel.status == 201, kernel
    msgs = execute(server, kernel.body["id"], DETACH)
    assert any("started" in m["content"].get("text", "") for m in msgs), msgs
    type_in_terminal(server, open_terminal(server), TERMINAL, "started")

    def six() -> set[int] | None:
        new = sleepers() - before
        return new if len(new) == 6 else None

    return server, wait_for(six, 20, "6 detached sleepers")


def gone(pids: set[int]) -> bool:
    """True when none of pids is alive."""
    return not any(alive(p) for p in pids)


def test_detached_processes_end_with_a_resume(run_task):
    """Finding 1: nohup, setsid, double fork, new session + empty env: all gone after resume."""
    proc, info = run_task()
    _server, detached = detach_everywhere(info)
    tree = containment.tree({info["pid"]}) | detached
    r = http("POST", info["server_url"] + "interactive/resume", info["token"], body={"inputs": {}})
    assert r.status == 202, r
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert json.loads(out.splitlines()[-1]) == {"result": {"epochs": 3}}
    wait_for(lambda: gone(tree), 10, f"no process left of {tree}")


def test_kill_9_of_the_task_process_leaves_nothing(run_task, tmp_path):
    """Findings 1 and 7: after kill -9 of the task, the server child stops every descendant,
    then itself, and removes the ready file and Jupyter's runtime files."""
    proc, info = run_task()
    _server, detached = detach_everywhere(info)
    tree = containment.tree({info["pid"]}) | detached
    proc.kill()
    proc.wait()
    wait_for(lambda: gone(tree), 10, f"no process left of {tree}")
    assert not (tmp_path / "ready.json").exists()
    assert not list((tmp_path / "runtime").glob("jpserver-*")), list(
        (tmp_path / "runtime").iterdir()
    )
    assert not list((tmp_path / "runtime").glob("kernel-*.json"))


def test_kill_9_of_the_server_child_leaves_nothing(run_task, tmp_path):
    """Findings 1 and 7: the task process takes the server's orphans, stops them and removes
    the runtime files the server could not; it then fails as a server failure."""
    proc, info = run_task()
    _server, detached = detach_everywhere(info)
    tree = containment.tree({info["pid"]}) | detached
    assert list((tmp_path / "runtime").glob("kernel-*.json"))
    os.kill(info["pid"], signal.SIGKILL)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1 and "ServerError" in err, (out, err)
    assert gone(tree), {p for p in tree if alive(p)}
    assert not (tmp_path / "ready.json").exists()
    runtime = tmp_path / "runtime"
    assert not [*runtime.glob("jpserver-*"), *runtime.glob("kernel-*")], list(runtime.iterdir())
