"""Process handling, HTTP polling and /proc readings shared by the benchmark figures."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.client import HTTPException
from pathlib import Path
from typing import Any

from harness import kill_tree
from harness.web import http
from interactive_ext.procs import stat_fields

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
PYTHON = sys.executable
HOST = "127.0.0.1"
TOKEN = "bench-token-0123456789abcdef"
CLK_TCK = os.sysconf("SC_CLK_TCK")
GRACE = 3.0
"""Seconds a stopped process gets between SIGTERM and SIGKILL."""


@dataclass
class Settings:
    """How much to measure: full mode (the documented run) or quick mode (the test)."""

    quick: bool
    runs: int
    idle_runs_ours: int
    reference_cap: float
    idle_cost_window: float
    overhead_runs: int
    inputs_mb: int
    notebook_bin: str | None
    work: Path
    log: list[str] = field(default_factory=list)

    def say(self, msg: str, *args: Any) -> None:
        """Print one progress line (stderr) and keep it for the report."""
        line = msg % args if args else msg
        self.log.append(line)
        print(f"[bench {time.strftime('%H:%M:%S')}] {line}", file=sys.stderr, flush=True)


# -- ports, environments -----------------------------------------------------------


def bench_env(work: Path) -> dict[str, str]:
    """Environment for a run: private Jupyter config and runtime dirs under work.

    The server extensions installed in the environment stay as they are on both sides of a
    comparison (with the bench extra: jupyterlab, notebook, jupyter_lsp, notebook_shim), so
    only interactive_ext differs between ours and the bare server.
    """
    config_dir = work / "jupyter-config"
    config_dir.mkdir(parents=True, exist_ok=True)
    runtime = work / "jupyter-runtime"
    runtime.mkdir(parents=True, exist_ok=True)
    tmp = work / "tmp"  # session directories kept by a failed run stay under work too
    tmp.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    for name in ("INTERACTIVE_EXT_SESSION", "INTERACTIVE_EXT_ENABLE", "JUPYTER_TOKEN"):
        env.pop(name, None)
    env.update(
        JUPYTER_CONFIG_DIR=str(config_dir),
        JUPYTER_RUNTIME_DIR=str(runtime),
        TMPDIR=str(tmp),
        JUPYTER_PLATFORM_DIRS="1",
        PYTHONUNBUFFERED="1",
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def run_json(work: Path, args: list[str], timeout: float, what: str) -> Any:
    """Run PYTHON with args in a fresh process; the JSON of its last stdout line."""
    done = subprocess.run(
        [PYTHON, *args], env=bench_env(work), capture_output=True, text=True, timeout=timeout
    )
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def server_flags(port: int, root_dir: Path, token: str = TOKEN) -> list[str]:
    """The flags every bare/ours server run gets (same for both sides of a comparison)."""
    return [
        "--no-browser",
        "--allow-root",
        f"--ServerApp.ip={HOST}",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={root_dir}",
        f"--IdentityProvider.token={token}",
    ]


def jupyter(*args: str) -> list[str]:
    """A `jupyter ...` command line from this environment."""
    return [str(BIN / "jupyter"), *args]


# -- processes -------------------------------------------------------------------


@dataclass
class Proc:
    """A started process: its Popen, when it started (monotonic and wall) and its log."""

    popen: subprocess.Popen[bytes]
    t0: float
    wall0: float
    log_path: Path

    @property
    def pid(self) -> int:
        """The process id."""
        return self.popen.pid

    def alive(self) -> bool:
        """True while the process has not exited."""
        return self.popen.poll() is None

    def log_text(self) -> str:
        """What the process printed so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def tail(self, lines: int = 15) -> str:
        """The last lines of its log (for error messages)."""
        return "\n".join(self.log_text().splitlines()[-lines:])


def start(cmd: list[str], env: dict[str, str], cwd: Path, log_path: Path) -> Proc:
    """Start cmd in its own process group, stdout+stderr to log_path."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        wall0 = time.time()
        t0 = time.monotonic()
        popen = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
    proc = Proc(popen, t0, wall0, log_path)
    STARTED.append(proc)
    return proc


STARTED: list[Proc] = []


def kill_all() -> None:
    """Kill every process tree the harness started that is still there."""
    for proc in STARTED:
        if proc.alive():
            kill_tree(proc.popen, GRACE)


@contextlib.contextmanager
def running(cmd: list[str], env: dict[str, str], cwd: Path, log_path: Path) -> Iterator[Proc]:
    """Start cmd and make sure it and its descendants are gone afterwards."""
    proc = start(cmd, env, cwd, log_path)
    try:
        yield proc
    finally:
        kill_tree(proc.popen, GRACE)


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of one live process, in seconds (None if it is gone)."""
    fields = stat_fields(pid)
    return None if fields is None else (int(fields[11]) + int(fields[12])) / CLK_TCK


def start_ticks(pid: int) -> float | None:
    """When pid started, seconds after boot (10 ms resolution)."""
    fields = stat_fields(pid)
    return None if fields is None else int(fields[19]) / CLK_TCK


def peak_rss_mb(pid: int) -> float | None:
    """VmHWM (peak resident set) of a live process, in MiB."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


# -- HTTP ------------------------------------------------------------------------


def request(
    port: int,
    method: str,
    path: str,
    body: Any = None,
    token: str | None = TOKEN,
    timeout: float = 5.0,
) -> tuple[int, Any]:
    """One HTTP request to 127.0.0.1:port; (status, parsed JSON body or text). Without a token
    (flytekit's token=''), it sends tornado's XSRF pair, as a page does."""
    r = http(method, f"http://{HOST}:{port}{path}", token, body, timeout=timeout, xsrf=not token)
    return r.status, r.body


def wait_answer(
    proc: Proc,
    port: int,
    path: str | Callable[[], str | None] = "/api",
    timeout: float = 60.0,
    token: str | None = None,
) -> float:
    """Poll until the server answers any HTTP status; monotonic time of the answer. path may be
    a function: the path to poll once it is known (None: not yet)."""
    deadline = time.monotonic() + timeout
    while True:
        where = path() if callable(path) else path
        try:
            if where is not None:
                request(port, "GET", where, token=token, timeout=2.0)
                return time.monotonic()
        except (OSError, HTTPException):
            pass
        if not proc.alive():
            raise RuntimeError(
                f"process exited ({proc.popen.returncode}) before answering:\n{proc.tail()}"
            )
        if time.monotonic() > deadline:
            raise TimeoutError(f"no HTTP answer on port {port} in {timeout} s:\n{proc.tail()}")
        time.sleep(0.005)


def tmpdir(parent: Path, prefix: str) -> Path:
    """A fresh directory under parent."""
    parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=prefix, dir=parent))


CHROMIUM = "/usr/bin/chromium"


def launch_chromium(pw: Any) -> Any:
    """Debian's chromium, headless, its sockets under /tmp (a long TMPDIR breaks them)."""
    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} is missing: apt-get install -y chromium")
    env = {**os.environ, "TMPDIR": "/tmp"}
    return pw.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=["--no-sandbox"], env=env
    )
