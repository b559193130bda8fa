"""Task scripts run as a user runs them (`python script.py`), with a ready file and resume."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from interactive_ext.procs import alive

from .kernels import execute
from .procs import kill_tree, wait_for
from .servers import ServerProcess
from .web import http


@dataclass
class Script:
    """A running task script."""

    proc: subprocess.Popen[str]
    dir: Path
    ready_file: Path

    def ready(self, timeout: float = 60) -> dict[str, Any]:
        """Wait for the ready file (a new one each round); its JSON."""

        def check() -> Any:
            if self.proc.poll() is not None:
                out, err = self.proc.communicate()
                raise AssertionError(f"task exited with {self.proc.returncode}:\n{out}\n{err}")
            try:
                return json.loads(self.ready_file.read_text())
            except (OSError, ValueError):
                return None

        return wait_for(check, timeout, "the ready file")  # type: ignore[no-any-return]

    def resume(self, info: dict[str, Any], inputs: dict[str, Any] | None = None) -> Any:
        """POST /interactive/resume; the response."""
        body = {"inputs": inputs or {}}
        return http("POST", info["server_url"] + "interactive/resume", info["token"], body=body)

    def status(self, info: dict[str, Any]) -> dict[str, Any]:
        """GET /interactive/status."""
        r = http("GET", info["server_url"] + "interactive/status", info["token"])
        assert r.status == 200, r
        return r.body  # type: ignore[no-any-return]

    def gone(self, info: dict[str, Any]) -> None:
        """Wait until the round's server has stopped (its ready file removed)."""
        wait_for(lambda: not alive(info["pid"]), 30, "the server to stop")

    def next_round(self, info: dict[str, Any]) -> dict[str, Any]:
        """After a resume that fails again: wait for this round's server to stop and the next
        round's to be ready; the next round's ready info."""
        self.gone(info)
        first = info["pid"]
        return wait_for(lambda: (i := self.ready()) and i["pid"] != first and i, 60, "round 2")

    def finish(self, timeout: float = 60) -> tuple[int, dict[str, Any], str]:
        """Wait for the script to exit: code, the last JSON line it printed, its stderr."""
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_tree(self.proc)
            out, err = self.proc.communicate()
            raise AssertionError(f"still running after {timeout} s:\n{out}\n{err}") from None
        lines = [line for line in out.splitlines() if line.startswith("{")]
        return self.proc.returncode, json.loads(lines[-1]) if lines else {}, err


def server_of(info: dict[str, Any], proc: subprocess.Popen[str]) -> ServerProcess:
    """The round's server, for the kernel helpers."""
    return ServerProcess(proc, info["port"], info["token"], Path(info["session_dir"]), Path())


def run_cell(server: ServerProcess, kernel_id: str, code: str) -> tuple[str, list[dict]]:
    """Run code in a kernel: (its stdout, the error contents)."""
    msgs = execute(server, kernel_id, code)
    errors = [m["content"] for m in msgs if m["msg_type"] == "error"]
    out = "".join(m["content"]["text"] for m in msgs if m["msg_type"] == "stream")
    return out, errors


def write(folder: Path, name: str, text: str) -> Path:
    """Write a source file (dedented), with a new mtime even within one clock tick."""
    path = folder / name
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(textwrap.dedent(text))
    if path.stat().st_mtime_ns == before:
        os.utime(path, ns=(before + 1_000_000, before + 1_000_000))
    return path


def start_task(argv: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    """A task process as a user starts it (in a session of its own, outside any task session)."""
    env = {k: v for k, v in env.items() if k != "INTERACTIVE_EXT_SESSION"}
    return subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=cwd,
        start_new_session=True,
    )
