"""The pytest plugin of the suite (the root conftest.py loads it): pytest-jupyter's in-process
server, real server subprocesses, the CLI run as a user runs it, task scripts, the markers."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from interactive_ext.protocol import SESSION_ENV

from .notifications import Receiver
from .procs import HOST, free_port, kill_tree, wait_for
from .scripts import Script, start_task
from .servers import BIN, TOKEN, ServerProcess
from .storage import moto_s3

pytest_plugins = ["pytest_jupyter.jupyter_server"]

MARKERS = {
    "quick": "a fast test with no server or task process: every test under tests/unit/ and the "
    "modules that say so (the inner loop: `pytest -m quick`)",
    "serial": "measures a timing closely (the idle timer's precision, the benchmarks' timed "
    "figures): under xdist, runs alone while no other test runs (a browser tab's idle stop "
    "within 1.5 s holds beside the other tests, as the Hub's and the typing test show)",
}
TESTS = Path(__file__).resolve().parent.parent / "tests"
UNIT = TESTS / "unit"
"""The unit tests, one folder per folder of the package: quick, all of them."""
HEAVY = ("browser", "engines")
"""Folders of tests/ whose tests run one at a time under xdist, on one worker each: one
chromium, one Ray or Dask cluster at a time is what 2 cores hold beside the other tests."""
CHAINS = {"tests/browser/test_ui_browser.py": "browser-ui"}
"""Modules of a HEAVY folder that run as a chain of their own (a second chromium): the browser
tests in one chain took longer than the rest of the suite."""
LOCKS = tempfile.gettempdir()
"""Where the run's lock lives (read at import, before a test moves TMPDIR)."""


def pytest_configure(config: pytest.Config) -> None:
    """Register the suite's markers."""
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark `quick` the tests under tests/unit/."""
    for item in items:
        if UNIT in item.path.parents:
            item.add_marker(pytest.mark.quick)


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under -n: the tests of each HEAVY folder (and of each CHAINS module) go to one worker,
    one after the other; every other test goes to whichever worker is free (xdist's
    `loadgroup` needs the pytest that let it rename a test, which pytest 9 does not)."""
    from xdist.scheduler import LoadScopeScheduling

    class HeavyFolders(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            folder = nodeid.split("/")[1] if nodeid.startswith("tests/") else ""
            return CHAINS.get(module) or (folder if folder in HEAVY else nodeid)

    return HeavyFolders(config, log)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, object, object]:
    """Under xdist, a `serial` test runs alone: it holds the run's lock exclusively while every
    other test holds it shared (a turnstile first, so the serial test is not starved)."""
    worker = getattr(item.config, "workerinput", None)
    if worker is None:
        return (yield)
    folder = Path(LOCKS) / f"interactive-ext-tests-{worker['testrunuid']}"
    folder.mkdir(exist_ok=True)
    serial = item.get_closest_marker("serial") is not None
    with open(folder / "turnstile", "a") as turn, open(folder / "run", "a") as run:
        fcntl.flock(turn, fcntl.LOCK_EX)
        fcntl.flock(run, fcntl.LOCK_EX if serial else fcntl.LOCK_SH)
        if not serial:
            fcntl.flock(turn, fcntl.LOCK_UN)
        try:
            return (yield)
        finally:
            fcntl.flock(run, fcntl.LOCK_UN)
            fcntl.flock(turn, fcntl.LOCK_UN)


@pytest.fixture(autouse=True)
def private_tmpdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Session directories (kept after a failed task, by design) land in the test's tmp_path."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    return tmp


def launch_server(
    folder: Path,
    n: int | str,
    flags: tuple[str, ...],
    ready: bool,
    env: dict[str, str] | None = None,
    context: dict[str, Any] | None = None,
) -> ServerProcess:
    """Start `jupyter server` with the extension, its session and root dirs and log in folder
    (env: the process's environment; context: the session's context.json, a task's session)."""
    session_dir = folder / f"session{n}"
    session_dir.mkdir(mode=0o700)
    if context is not None:
        (session_dir / "context.json").write_text(json.dumps(context))
    root = folder / f"root{n}"
    root.mkdir()
    port = free_port()
    log_path = folder / f"server{n}.log"
    cmd = [
        str(BIN / "jupyter"),
        "server",
        "--no-browser",
        "--allow-root",
        f"--ip={HOST}",
        f"--port={port}",
        "--port-retries=0",
        f"--IdentityProvider.token={TOKEN}",
        f"--ServerApp.root_dir={root}",
        f"--InteractiveApp.session_dir={session_dir}",
        *flags,
    ]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
        )
    server = ServerProcess(proc, port, TOKEN, session_dir, log_path)
    if ready:
        try:
            wait_for(server.answers, 60, "the server to answer")
        except BaseException:
            kill_tree(proc)
            raise
    return server


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Factory: start `jupyter server` with the extension and the given extra flags."""
    started: list[ServerProcess] = []

    def start(*flags: str, ready: bool = True) -> ServerProcess:
        server = launch_server(tmp_path, len(started), flags, ready)
        started.append(server)
        return server

    yield start
    for server in started:
        kill_tree(server.proc)


# -- the CLI, run as a user runs it --------------------------------------------------------


TASK_CONTEXT = {"module": "m", "qualname": "train", "parameters": ["epochs"]}
"""The context.json of cli_server's task sessions: a task train(epochs)."""


@pytest.fixture
def cli_server(tmp_path: Path, cli_env: dict[str, str]) -> Iterator[Callable[..., ServerProcess]]:
    """Factory: `jupyter server` with the extension in cli_env, so the CLI finds it by its
    runtime file; a task's session (task train(epochs)) unless task=False."""
    started: list[ServerProcess] = []

    def start(*flags: str, name: str = "s", task: bool = True) -> ServerProcess:
        context = TASK_CONTEXT if task else None
        server = launch_server(tmp_path, name, flags, False, cli_env, context)
        started.append(server)
        wait_for(server.answers, 60, "the server to answer")
        runtime = Path(cli_env["JUPYTER_RUNTIME_DIR"]) / f"jpserver-{server.proc.pid}.json"
        wait_for(runtime.exists, 10, "the server's runtime file")  # list and resume find it
        return server

    yield start
    for server in started:
        kill_tree(server.proc)


@pytest.fixture
def cli_env(tmp_path: Path, private_tmpdir: Path) -> dict[str, str]:
    """A user's environment: a private runtime dir and TMPDIR, no inherited token or session."""
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("JUPYTER_TOKEN", SESSION_ENV)}
    env.update(JUPYTER_RUNTIME_DIR=str(runtime), PYTHONUNBUFFERED="1", TMPDIR=str(private_tmpdir))
    return env


@pytest.fixture
def reaper() -> Iterator[list[subprocess.Popen[Any]]]:
    """The processes a test started: each is stopped with its tree at the end, even on failure."""
    procs: list[subprocess.Popen[Any]] = []
    yield procs
    for proc in procs:
        kill_tree(proc)


@pytest.fixture
def cli_run(
    tmp_path: Path, cli_env: dict[str, str], reaper: list[subprocess.Popen[Any]]
) -> Callable[..., subprocess.Popen[str]]:
    """Factory: start `jupyter interactive-task ARGS` in the background (in tmp_path unless cwd
    is given, with cli_env unless env is); each is killed with its tree at the end."""

    def start(
        *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [str(BIN / "jupyter-interactive-task"), *args],
            env=cli_env if env is None else env,
            cwd=cwd or tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        reaper.append(proc)
        return proc

    return start


@pytest.fixture
def script(tmp_path: Path, reaper: list[subprocess.Popen[Any]]) -> Callable[..., Script]:
    """Factory: run tmp_path/NAME with python; every process is killed at the end."""

    def start(name: str, *args: str, env: dict[str, str] | None = None) -> Script:
        ready = tmp_path / "ready.json"
        full_env = {**os.environ, "READY_FILE": str(ready), "PYTHONUNBUFFERED": "1", **(env or {})}
        full_env.pop("JUPYTER_TOKEN", None)
        proc = start_task([sys.executable, str(tmp_path / name), *args], full_env, tmp_path)
        reaper.append(proc)
        return Script(proc, tmp_path, ready)

    return start


# -- mounts ----------------------------------------------------------------------------------


def mount_tmpfs(path: Path, options: str) -> None:
    """Mount a tmpfs at path (a read-only or a tiny one), or skip the test where not allowed."""
    path.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")


@pytest.fixture
def mounts() -> Iterator[list[Path]]:
    """Mount points to unmount at the end."""
    points: list[Path] = []
    yield points
    for point in points:
        subprocess.run(["umount", "-l", str(point)], capture_output=True)


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """S3 on 127.0.0.1 (moto's server) with a bucket `fixes`; the environment that reaches it,
    set in this process too (fake credentials, the endpoint, no instance metadata lookup)."""
    with moto_s3() as env:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        yield env


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A local receiver of json:// notifications, closed at the end."""
    r = Receiver()
    yield r
    r.close()
