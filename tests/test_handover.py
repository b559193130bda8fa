"""The server child spawned ahead of its config (handover.py), seen as a user runs the CLI.

`jupyter interactive-task run` spawns the server child before it loads the task. The task
modules here wait, while being imported, until that waiting child exists (so each test proves it
was there), then fail or go on; the tests check what is left afterwards.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import uuid
from pathlib import Path

import pytest

from harness import run_cli, wait_for
from interactive_ext.child.handover import WAIT_FLAG

# Imported by the CLI: waits until the server child spawned ahead (it carries the same MARK in
# its environment) is there, then does what the module's name says.
WAITS = """
import os, time
from pathlib import Path

def _waiting_child():
    mark = ("H7_MARK=" + os.environ["H7_MARK"]).encode()
    for d in Path("/proc").iterdir():
        if d.name.isdigit() and int(d.name) != os.getpid():
            try:
                if mark in (d / "environ").read_bytes().split(b"\\0") and \\
                        b"--wait-for-config" in (d / "cmdline").read_bytes():
                    return True
            except OSError:
                pass
    return False

deadline = time.monotonic() + 60
while not _waiting_child():
    assert time.monotonic() < deadline, "no server child was spawned ahead"
    time.sleep(0.02)
Path(os.environ["H7_SEEN"]).write_text("seen")
"""

TASKS = {
    "raises_on_import": WAITS + "raise RuntimeError('broken task module')\n",
    "two_args": WAITS + "def task(a, b):\n    return a + b\n",
    "hangs_on_import": WAITS + "while True:\n    time.sleep(1)\n",
    "plain": "def task(x=1):\n    return x * 2\n",
}


def marked(mark: str) -> list[int]:
    """Pids of live processes whose environment carries H7_MARK=mark."""
    needle = f"H7_MARK={mark}".encode()
    found = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            if needle in (d / "environ").read_bytes().split(b"\0"):
                found.append(int(d.name))
        except OSError:
            continue
    return found


def gone(mark: str) -> bool:
    """No live (non-zombie) process carries the mark."""
    live = []
    for pid in marked(mark):
        with contextlib.suppress(OSError):
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                live.append(pid)
    return not live


@pytest.fixture
def run_env(tmp_path: Path, private_tmpdir: Path) -> dict[str, str]:
    """A marked environment: private TMPDIR and runtime dir, the tasks importable."""
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    for name, code in TASKS.items():
        (tmp_path / f"{name}.py").write_text(code)
    env = {k: v for k, v in os.environ.items() if k not in ("JUPYTER_TOKEN", "H7_MARK")}
    env.update(
        H7_MARK=uuid.uuid4().hex,
        H7_SEEN=str(tmp_path / "seen"),
        TMPDIR=str(private_tmpdir),
        JUPYTER_RUNTIME_DIR=str(runtime),
        PYTHONPATH=str(tmp_path),
    )
    env.pop("INTERACTIVE_EXT_SESSION", None)
    return env


@pytest.fixture
def start(tmp_path: Path, run_env: dict[str, str], cli_run):
    """Start `jupyter-interactive-task run ARGS`; every marked process is gone at the end."""

    def run(*args: str) -> subprocess.Popen[str]:
        return cli_run("run", *args, "--notebook-dir", str(tmp_path), env=run_env)  # type: ignore[no-any-return]

    try:
        yield run
    finally:
        for pid in marked(run_env["H7_MARK"]):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize(
    ("task", "extra", "code", "words"),
    [
        ("raises_on_import:task", [], 1, ["broken task module", "importing the task"]),
        ("two_args:task", ["--kwargs", '{"a": 1}'], 2, ["arguments do not fit", "b"]),
    ],
)
def test_a_task_that_fails_to_load_leaves_no_child_and_no_session(
    start, run_env, private_tmpdir, tmp_path, task, extra, code, words
):
    """Import error (exit 1) or usage error (exit 2) once the child waits: nothing is left."""
    proc = start(task, *extra)
    _out, err = proc.communicate(timeout=120)
    assert (tmp_path / "seen").exists(), err  # the child was there while the task loaded
    assert proc.returncode == code, err
    for word in words:
        assert word in err
    # the task's own import error shows its traceback; a usage error is one clear line
    assert ("Traceback" in err) == (code == 1), err
    wait_for(lambda: gone(run_env["H7_MARK"]), 10, "the waiting server child to be gone")
    assert list(private_tmpdir.iterdir()) == []  # no session directory


def test_the_waiting_child_ends_with_a_killed_task_process(start, run_env, tmp_path):
    """kill -9 of the task process while it loads the task: the waiting child leaves too."""
    proc = start("hangs_on_import:task")
    wait_for(lambda: (tmp_path / "seen").exists() or proc.poll() is not None, 120, "the child")
    assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
    proc.kill()
    proc.wait(30)
    wait_for(lambda: gone(run_env["H7_MARK"]), 30, "the waiting server child to be gone")


def test_a_taken_port_is_exit_4_naming_it_and_leaves_nothing(start, run_env):
    """The port is checked at the hand-over: exit 4 naming the port; the child is stopped."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        proc = start("plain:task", "--port", str(port))
        _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 4, err
    assert f"port {port}" in err and "already in use" in err
    assert "Traceback" not in err
    wait_for(lambda: gone(run_env["H7_MARK"]), 10, "the waiting server child to be gone")


def test_the_token_never_shows_on_the_child_command_line(start, run_env, tmp_path):
    """The served child's /proc/PID/cmdline has no token; resume ends the run with the result."""
    ready_file = tmp_path / "ready.json"
    proc = start("plain:task", "--kwargs", '{"x": 21}', "--ready-file", str(ready_file))

    def ready() -> dict | None:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        with contextlib.suppress(OSError, ValueError):
            return json.loads(ready_file.read_text())  # type: ignore[no-any-return]
        return None

    info = wait_for(ready, 120, "the ready file")
    cmdline = Path(f"/proc/{info['pid']}/cmdline").read_bytes().split(b"\0")
    assert WAIT_FLAG.encode() in cmdline
    assert info["token"].encode() not in b" ".join(cmdline)
    resume = run_cli(run_env, "resume", "--url", info["url"])
    assert resume.returncode == 0, resume.stderr
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert json.loads(out) == 42
    wait_for(lambda: gone(run_env["H7_MARK"]), 10, "the server child to be gone")


def test_discard_stops_the_waiting_child_at_once():
    """discard() kills the child spawned ahead while it imports, and reaps it."""
    from interactive_ext.child import handover

    handover.start_early()
    child = handover._waiting
    assert child is not None and child.popen.poll() is None
    handover.discard()
    assert child.popen.returncode == -signal.SIGKILL  # stopped, not left to finish its imports
    assert handover._waiting is None


def test_a_child_dying_before_the_hand_over_leaves_its_output_in_the_log(tmp_path, monkeypatch):
    """What the child wrote before it died (its traceback) ends up in the server log."""
    from interactive_ext.child import handover

    broken = tmp_path / "broken" / "jupyter_server"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text("raise ImportError('broken jupyter_server here')\n")
    monkeypatch.setenv("PYTHONPATH", str(broken.parent))
    child = handover.WaitingChild()
    try:
        child.popen.wait(60)  # gone while importing, before any hand-over
        log = tmp_path / "server.log"
        message = handover.Handover(["--config=x"], dict(os.environ), str(tmp_path), str(log))
        child.hand_over(message)
        child.salvage(log)
        assert "broken jupyter_server here" in log.read_text()
    finally:
        child.cancel()
