"""Browser fixtures: Debian's chromium driven by playwright, task sessions and Jupyter servers.

A real browser against real servers: `browser` (one per test session), `page` (a fresh context
per test, a screenshot in the test's tmp_path when it fails), `start_task` (a task session as a
user starts it: `jupyter interactive-task run FILE.py:FUNC --ready-file F`), `start_jupyter`
(a plain `jupyter lab` / `jupyter notebook` with the extension), and helpers that drive
JupyterLab and Notebook 7 as a person does (open a notebook, type, run a cell, save).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from harness import BIN, free_port, http, kill_tree, wait_for
from harness.servers import answers

CHROMIUM = Path("/usr/bin/chromium")
BROWSER_TOKEN = "browser-token-0123456789"
READY_TIMEOUT = 90.0
UI_TIMEOUT = 60_000  # ms, for the first render of JupyterLab on a loaded 2-core machine


@dataclass
class Served:
    """A running Jupyter server with the extension, as a browser sees it."""

    proc: subprocess.Popen[Any]
    port: int
    token: str
    server_pid: int
    log_path: Path
    notebook: str | None = None
    prefix: str = ""  # the server's base_url without its last `/` (a Hub's /services/NAME)

    @property
    def base(self) -> str:
        """http://127.0.0.1:PORT and the server's base_url (without its last `/`)."""
        return f"http://127.0.0.1:{self.port}{self.prefix}"

    def url(self, path: str) -> str:
        """A page URL with the token: path is e.g. `lab/tree/x.ipynb` or `notebooks/x.ipynb`."""
        return f"{self.base}/{path.lstrip('/')}?token={self.token}"

    def request(self, method: str, path: str, **kw: Any) -> Any:
        """One authenticated HTTP request to the server (the harness's http)."""
        return http(method, self.base + path, self.token, **kw)

    def heartbeat(self) -> dict[str, Any]:
        """GET /interactive/heartbeat: the idle state (not activity)."""
        r = self.request("GET", "/interactive/heartbeat")
        assert r.status == 200, r
        return dict(r.body)

    def log(self) -> str:
        """What the server (or the task wrapper and its server) printed so far."""
        return self.log_path.read_text(errors="replace")

    def server_alive(self) -> bool:
        """True while the server process runs (not a zombie)."""
        try:
            stat = Path(f"/proc/{self.server_pid}/stat").read_text()
        except OSError:
            return False
        return stat.rsplit(")", 1)[1].split()[0] != "Z"

    def watch_until_exit(self, cap: float) -> Watched:
        """Poll the status (not activity) until the server process is gone, at most cap s."""
        watched = Watched()
        end = time.monotonic() + cap
        while self.server_alive():
            if time.monotonic() > end:
                raise AssertionError(f"server still up after {cap} s: {watched}\n{self.log()}")
            try:
                r = self.request("GET", "/interactive/status")
            except OSError:  # stopping: it no longer answers
                r = None
            waiting = r is not None and r.status == 200 and r.body.get("state") == "waiting"
            hb = r.body["idle"] if waiting else {}  # once it decided, the deadline is final
            if hb.get("shutdown_deadline"):
                watched.deadline = datetime.fromisoformat(hb["shutdown_deadline"]).timestamp()
            if hb.get("last_activity_source"):
                watched.sources.append(hb["last_activity_source"])
            watched.holds.update(hb.get("holds") or [])
            time.sleep(0.05)
        watched.exit = time.time()
        return watched


@dataclass
class Watched:
    """What watching a server until it exited saw: wall times and the activity sources."""

    deadline: float | None = None
    exit: float | None = None
    sources: list[str] = field(default_factory=list)
    holds: set[str] = field(default_factory=set)

    @property
    def overshoot(self) -> float | None:
        """Exit time - the last deadline the server reported, in seconds."""
        return None if self.exit is None or self.deadline is None else self.exit - self.deadline


def _answers(served: Served) -> bool:
    """True once GET /interactive/status answers 200; fails if the process died."""
    return answers(served.proc, served.base, served.token, served.log)


def _notebook_of(served: Served, ready: dict[str, Any]) -> str | None:
    """The starter notebook's path under the server root, from the status or the ready URL."""
    status = served.request("GET", "/interactive/status").body
    name = status.get("notebook") if isinstance(status, dict) else None
    if not name:
        found = re.search(r"/(?:lab/tree|notebooks)/([^?]+)", ready.get("url", ""))
        name = found.group(1) if found else None
    if not name:
        return None
    return Path(name).name if Path(name).is_absolute() else str(name)


def _spawn(cmd: list[str], cwd: Path, log_path: Path) -> subprocess.Popen[Any]:
    """Start cmd with its output in log_path, in the test's private environment."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    for name in ("JUPYTER_TOKEN", "INTERACTIVE_EXT_SESSION", "INTERACTIVE_EXT_ENABLE"):
        env.pop(name, None)
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )


@pytest.fixture(autouse=True)
def jp_asyncio_loop() -> Iterator[None]:
    """No pytest-jupyter loop here: these tests are sync, and playwright runs its own loop.

    pytest-jupyter's autouse fixture takes the running loop if there is one and closes it
    after each test; between sync calls playwright marks its own loop as running, so that
    fixture would close playwright's loop. pytest-jupyter's server fixtures (jp_fetch, ...)
    are not for browser tests: start real servers with `start_task` or `start_jupyter`.
    """
    yield None


@pytest.fixture(autouse=True)
def jp_server_cleanup() -> Iterator[None]:
    """No in-process ServerApp to clean up in browser tests (see jp_asyncio_loop)."""
    yield None


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """Debian's chromium, headless, shared by every browser test.

    Package scope, the session of the browser tests: it is closed after the last of them,
    before pytest-jupyter's async tests run (they need no loop marked as running).
    """
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: the browser tests need `apt-get install -y chromium`")
    pw = sync_playwright().start()
    try:
        chromium = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        yield chromium
        chromium.close()
    finally:
        pw.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Keep each phase's report on the item, so that `page` knows whether the test failed."""
    outcome = yield
    setattr(item, f"rep_{call.when}", outcome.get_result())


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Page]:
    """A page in a fresh browser context; a screenshot in tmp_path if the test failed."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(UI_TIMEOUT)
    pg = context.new_page()
    try:
        yield pg
    finally:
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            shot = tmp_path / "failure.png"
            try:
                pg.screenshot(path=str(shot), full_page=True)
                print(f"screenshot of the failed page: {shot}")
            except Exception as e:  # a crashed page: the failure itself says more
                print(f"no screenshot: {e!r}")
        context.close()


TASK_SOURCE = """
def task(x: int = 1) -> dict:
    \"\"\"A small task for the browser tests.\"\"\"
    return {"x": x}
"""


@dataclass
class TaskSession(Served):
    """A task session: the `jupyter interactive-task run` process and its ready file."""

    ready: dict[str, Any] = field(default_factory=dict)

    def result(self) -> dict[str, Any]:
        """The task's result, the JSON line the CLI printed on stdout once it ran."""
        assert self.proc.wait(60) == 0, self.log()
        for line in reversed(self.log().splitlines()):
            if line.startswith("{"):
                return dict(json.loads(line))
        raise AssertionError(f"no result in the task's output:\n{self.log()}")


@pytest.fixture
def start_task(tmp_path: Path) -> Iterator[Callable[..., TaskSession]]:
    """Factory: `jupyter interactive-task run FILE.py:FUNC --port 0 --ready-file F ...` (with
    opened=PATH: `open PATH --trust ...`, a parked session).

    Returns once the ready file is written (the server answers); the session knows the port,
    the token (from the ready file) and the starter notebook. Killed with its whole process
    tree (server, kernels) at teardown.
    """
    started: list[TaskSession] = []

    def start(
        target: str | None = None,
        *,
        max_idle: float,
        on_idle: str = "resume",
        kwargs: dict[str, Any] | None = None,
        extra: tuple[str, ...] = (),
        opened: str | None = None,
    ) -> TaskSession:
        work = tmp_path / f"task{len(started)}"
        work.mkdir()
        if target is None:
            (work / "task.py").write_text(TASK_SOURCE)
            target = f"{work / 'task.py'}:task"
        ready_file = work / "ready.json"
        task = [target, f"--on-idle={on_idle}", f"--kwargs={json.dumps(kwargs or {})}"]
        cmd = [
            str(BIN / "jupyter"),
            "interactive-task",
            *(["open", opened, "--trust"] if opened else ["run", *task]),
            "--port=0",
            f"--ready-file={ready_file}",
            f"--max-idle-seconds={max_idle}",
            *extra,
        ]
        log_path = work / "task.log"
        proc = _spawn(cmd, work, log_path)
        session = TaskSession(proc, 0, "", 0, log_path)
        started.append(session)

        def ready() -> dict[str, Any] | None:
            if proc.poll() is not None:
                raise AssertionError(f"the task exited with {proc.returncode}:\n{session.log()}")
            try:
                return dict(json.loads(ready_file.read_text()))
            except (OSError, ValueError):
                return None

        info = wait_for(ready, READY_TIMEOUT, "the task's ready file", interval=0.1)
        session.ready, session.port, session.token = info, int(info["port"]), info["token"]
        session.server_pid = int(info["pid"])
        session.prefix = str(info.get("base_url", "/")).rstrip("/")
        wait_for(lambda: _answers(session), READY_TIMEOUT, "the task's server to answer")
        session.notebook = _notebook_of(session, info)
        return session

    yield start
    for session in started:
        kill_tree(session.proc)


def write_notebook(path: Path, *sources: str) -> Path:
    """A notebook with a Python 3 kernelspec and one code cell per source."""
    import nbformat.v4 as nbf
    from nbformat import write

    nb = nbf.new_notebook(cells=[nbf.new_code_cell(src) for src in sources])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    write(nb, str(path))
    return path


@pytest.fixture
def start_jupyter(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    """Factory: a plain `jupyter lab` or `jupyter notebook` with the extension, on a notebook.

    The root holds `notebook.ipynb` (a Python 3 kernelspec, cells from `cells`); extra flags
    go to the server. Killed with its whole process tree at teardown.
    """
    started: list[Served] = []

    def start(
        kind: str = "lab",
        *flags: str,
        max_idle: float,
        cells: tuple[str, ...] = ("1 + 1",),
    ) -> Served:
        assert kind in ("lab", "notebook"), kind
        n = len(started)
        root = tmp_path / f"{kind}{n}"
        root.mkdir()
        write_notebook(root / "notebook.ipynb", *cells)
        port = free_port()
        cmd = [
            str(BIN / "jupyter"),
            kind,
            "--no-browser",
            "--allow-root",
            f"--port={port}",
            "--port-retries=0",
            f"--IdentityProvider.token={BROWSER_TOKEN}",
            f"--ServerApp.root_dir={root}",
            f"--InteractiveApp.max_idle_seconds={max_idle}",
            *flags,
        ]
        proc = _spawn(cmd, root, tmp_path / f"{kind}{n}.log")
        served = Served(proc, port, BROWSER_TOKEN, proc.pid, tmp_path / f"{kind}{n}.log")
        served.notebook = "notebook.ipynb"
        started.append(served)
        wait_for(lambda: _answers(served), READY_TIMEOUT, f"`jupyter {kind}` to answer")
        return served

    yield start
    for served in started:
        kill_tree(served.proc)
