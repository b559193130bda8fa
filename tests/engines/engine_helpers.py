"""What the engine tests share: a private runtime dir, the CLI as a user runs it, the servers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import psutil

from harness import run_cli as cli
from harness import wait_for

HERE = Path(__file__).parent
BIN = Path(sys.executable).parent
CHILD = "interactive_ext.child.main"


def engine_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a driver: its own Jupyter runtime dir (so `list` sees only its tasks)."""
    runtime = tmp_path / "runtime"
    runtime.mkdir(exist_ok=True)
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir(exist_ok=True)
    env = dict(os.environ)
    env.update(
        JUPYTER_RUNTIME_DIR=str(runtime),
        ENGINE_TEST_NOTEBOOKS=str(notebooks),
        PYTHONPATH=os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        PYTHONUNBUFFERED="1",
        PATH=os.pathsep.join([str(BIN), env.get("PATH", "")]),
    )
    env.update(extra)
    return env


def task_sessions(env: dict[str, str]) -> list[dict[str, Any]]:
    """The running task sessions `jupyter interactive-task list --json` shows."""
    out = cli(env, "list", "--json")
    assert out.returncode == 0, out.stderr
    return [row for row in json.loads(out.stdout) if row["task"]]


def server_children() -> set[int]:
    """Pids of every server child of this package running on the machine."""
    found = set()
    for p in psutil.process_iter(["cmdline"]):
        cmd = p.info.get("cmdline") or []
        if any(CHILD in part for part in cmd):
            found.add(p.pid)
    return found


def runtime_pids(env: dict[str, str]) -> set[int]:
    """Pids of the servers whose runtime files are in this test's runtime dir."""
    pids = set()
    for f in Path(env["JUPYTER_RUNTIME_DIR"]).glob("jpserver-*.json"):
        try:
            pids.add(int(json.loads(f.read_text())["pid"]))
        except (OSError, ValueError, KeyError):
            continue
    return pids


def tree(pid: int) -> set[int]:
    """pid and all its descendants that are alive now."""
    try:
        proc = psutil.Process(pid)
        return {pid} | {c.pid for c in proc.children(recursive=True)}
    except psutil.NoSuchProcess:
        return set()


def gone(pids: set[int]) -> bool:
    """True once none of pids is alive (zombies count as gone)."""
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                return False
        except psutil.NoSuchProcess:
            continue
    return True


TIMEOUT = 120


class Driver:
    """An engine's driver script as a user runs it, its output in a file."""

    def __init__(self, tmp_path: Path, argv: list[str], **env: str) -> None:
        """Start argv (a script: HERE is on its PYTHONPATH) with this test's runtime dir."""
        self.env = engine_env(tmp_path, **env)
        self.out = tmp_path / "driver.log"
        with open(self.out, "ab") as f:
            self.proc = subprocess.Popen(
                argv,
                env=self.env,
                cwd=HERE,
                stdin=subprocess.PIPE,
                stdout=f,
                stderr=subprocess.STDOUT,
            )

    def output(self) -> str:
        """What the driver printed so far."""
        return self.out.read_text(errors="replace")

    def session(self) -> dict[str, Any]:
        """Wait for the one task session on this node; its `list --json` row."""

        def one() -> Any:
            if self.proc.poll() is not None:
                raise AssertionError(f"driver exited {self.proc.returncode}:\n{self.output()}")
            if "Jupyter for task" not in self.output():  # the wrapper saw it ready: the URL
                return None
            rows = task_sessions(self.env)
            return rows[0] if len(rows) == 1 else None

        return wait_for(one, TIMEOUT, "the task's server in the worker", interval=0.3)  # type: ignore[no-any-return]

    def finish(self) -> tuple[int, str]:
        """The driver's exit code and output."""
        try:
            code = self.proc.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"driver still running:\n{self.output()}") from None
        return code, self.output()


def script(name: str, *args: str) -> list[str]:
    """The command line of one of the drivers next to this file."""
    return [sys.executable, str(HERE / name), *args]
