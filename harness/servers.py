"""Jupyter servers and task runs started as a user starts them: the process, its URL, its log."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .procs import HOST, wait_for
from .web import Response, http

BIN = Path(sys.executable).parent
TOKEN = "test-token-0123456789"
OPTS = 'port=0, ready_file=os.environ["READY_FILE"], max_idle_seconds=120'
"""The decorator options of a task script that tests resume by hand (its source's `{OPTS}`)."""


@dataclass
class ServerProcess:
    """A `jupyter server` subprocess with the extension, as a user starts it."""

    proc: subprocess.Popen[Any]
    port: int
    token: str
    session_dir: Path
    log_path: Path

    @property
    def url(self) -> str:
        """The base URL."""
        return f"http://{HOST}:{self.port}"

    def request(self, method: str, path: str, token: bool = True, **kw: Any) -> Response:
        """HTTP to this server, with the token unless token=False."""
        return http(method, self.url + path, self.token if token else None, **kw)

    def log(self) -> str:
        """What the server wrote so far."""
        return self.log_path.read_text(errors="replace")

    def wait_exit(self, timeout: float) -> int:
        """Wait for the server to exit by itself; its exit code."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"server still running after {timeout} s:\n{self.log()}") from None

    def answers(self) -> bool:
        """True once GET /interactive/status answers 200; AssertionError if the server exited."""
        return answers(self.proc, self.url, self.token, self.log)


def answers(proc: subprocess.Popen[Any], url: str, token: str, log: Callable[[], str]) -> bool:
    """True once GET url/interactive/status answers 200; AssertionError with the log if proc
    has exited."""
    if proc.poll() is not None:
        raise AssertionError(f"exited with {proc.returncode}:\n{log()}")
    try:
        return http("GET", f"{url}/interactive/status", token).status == 200
    except OSError:
        return False


def run_cli(
    env: dict[str, str], *args: str, cwd: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run `jupyter interactive-task ARGS` to completion, as a person runs it."""
    return subprocess.run(
        [str(BIN / "jupyter-interactive-task"), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def read_ready(path: Path, proc: subprocess.Popen[str], timeout: float = 60) -> dict[str, Any]:
    """The ready file of a run, once written; fail with the run's stderr if it exits first."""

    def ready() -> dict[str, Any] | None:
        if proc.poll() is not None:
            err = proc.stderr.read() if proc.stderr else ""
            raise AssertionError(f"run exited with {proc.returncode}: {err}")
        try:
            return json.loads(path.read_text())  # type: ignore[no-any-return]
        except (OSError, ValueError):
            return None

    return wait_for(ready, timeout, "the ready file")  # type: ignore[no-any-return]


def finish(proc: subprocess.Popen[str], timeout: float = 90) -> tuple[int, str, str]:
    """Wait for a run to end: (exit code, stdout, stderr)."""
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err
