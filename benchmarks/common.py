"""Process handling, HTTP polling and /proc readings shared by the benchmark figures."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from interactive_ext.procs import alive, descendants, stat_fields

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
PYTHON = sys.executable
HOST = "127.0.0.1"
TOKEN = "bench-token-0123456789abcdef"
CLK_TCK = os.sysconf("SC_CLK_TCK")
XSRF = "62656e6368"


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


# -- numbers ----------------------------------------------------------------------


def summary(values: list[float | None]) -> dict[str, Any]:
    """Median, min, max and count of the finite values (None = never / failed)."""
    finite = [v for v in values if v is not None]
    if not finite:
        return {"n": 0, "median": None, "min": None, "max": None, "missing": len(values)}
    return {
        "n": len(finite),
        "median": statistics.median(finite),
        "min": min(finite),
        "max": max(finite),
        "missing": len(values) - len(finite),
    }


# -- ports, environments -----------------------------------------------------------


def free_port() -> int:
    """A TCP port free right now on 127.0.0.1."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


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
            kill_tree(proc)


def kill_tree(proc: Proc, grace: float = 3.0) -> None:
    """Stop a process, its group and every descendant (kernels run in groups of their own)."""
    pids = [proc.pid, *descendants(proc.pid)]
    for pid in pids:
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGTERM)
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and (proc.alive() or any(alive(p) for p in pids[1:])):
        time.sleep(0.05)
    for pid in pids:
        if pid == proc.pid and not proc.alive():
            continue
        if pid != proc.pid and not alive(pid):
            continue
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.popen.wait(5)


@contextlib.contextmanager
def running(cmd: list[str], env: dict[str, str], cwd: Path, log_path: Path) -> Iterator[Proc]:
    """Start cmd and make sure it and its descendants are gone afterwards."""
    proc = start(cmd, env, cwd, log_path)
    try:
        yield proc
    finally:
        kill_tree(proc)


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
    """One HTTP request to 127.0.0.1:port; (status, parsed JSON body or text)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        # Without a token (flytekit's token=''), POSTs need tornado's double-submit XSRF pair.
        headers = (
            {"Authorization": f"token {token}"}
            if token
            else {"Cookie": f"_xsrf={XSRF}", "X-XSRFToken": XSRF}
        )
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
    finally:
        conn.close()
    try:
        return resp.status, json.loads(raw) if raw else None
    except ValueError:
        return resp.status, raw.decode(errors="replace")


def wait_answer(proc: Proc, port: int, path: str = "/api", timeout: float = 60.0) -> float:
    """Poll until the server answers any HTTP status; monotonic time of the answer."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            request(port, "GET", path, token=None, timeout=2.0)
            return time.monotonic()
        except (ConnectionError, OSError, http.client.HTTPException):
            pass
        if not proc.alive():
            raise RuntimeError(
                f"process exited ({proc.popen.returncode}) before answering:\n{proc.tail()}"
            )
        if time.monotonic() > deadline:
            raise TimeoutError(f"no HTTP answer on port {port} in {timeout} s:\n{proc.tail()}")
        time.sleep(0.005)


def wait_for(predicate: Any, timeout: float, what: str = "", *, interval: float = 0.05) -> Any:
    """Poll predicate until it returns a truthy value (returned); TimeoutError after timeout s.

    The one poll-with-a-deadline of the benchmarks and the tests (tests/conftest.py imports it
    from here: the benchmarks never import from tests/).
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what or predicate}")
        time.sleep(interval)


def type_in_terminal(
    port: int, token: str, name: str, text: str, until: str, timeout: float = 30
) -> None:
    """Type text into terminal name over its websocket, as a frontend does; return once its
    output shows until (tests/conftest.py uses it too)."""
    import asyncio

    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    async def run() -> None:
        url = f"ws://{HOST}:{port}/terminals/websocket/{name}"
        ws = await websocket_connect(HTTPRequest(url, headers={"Authorization": f"token {token}"}))
        try:
            await ws.write_message(json.dumps(["stdin", text]))
            while True:
                msg = await ws.read_message()
                if msg is None:
                    raise RuntimeError("the terminal websocket closed")
                if until in msg:
                    return
        finally:
            ws.close()

    asyncio.run(asyncio.wait_for(run(), timeout))


def tmpdir(parent: Path, prefix: str) -> Path:
    """A fresh directory under parent."""
    parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=prefix, dir=parent))


# -- kernels ----------------------------------------------------------------------


def start_kernel(port: int, token: str | None = TOKEN) -> str:
    """Start a kernel over REST; its id (use kernel_session to wait until it answers)."""
    status, model = request(port, "POST", "/api/kernels", body={"name": "python3"}, token=token)
    if status != 201:
        raise RuntimeError(f"POST /api/kernels answered {status}: {model}")
    return str(model["id"])


def _message(msg_type: str, content: dict[str, Any], session: str) -> dict[str, Any]:
    """A Jupyter message for the kernel websocket (JSON protocol)."""
    import uuid

    return {
        "header": {
            "msg_id": uuid.uuid4().hex,
            "username": "bench",
            "session": session,
            "msg_type": msg_type,
            "version": "5.3",
            "date": "",
        },
        "parent_header": {},
        "metadata": {},
        "content": content,
        "channel": "shell",
        "buffers": [],
    }


def kernel_session(
    port: int,
    kernel_id: str,
    code: str | None = None,
    before_execute: Any = None,
    timeout: float = 60.0,
    token: str | None = TOKEN,
) -> dict[str, Any] | None:
    """Over the kernel websocket: wait until the kernel answers, then run code (if any).

    Returns once the cell has gone busy (wait_reply False) - the cell goes on running after
    the websocket closes.
    """
    import asyncio
    import uuid

    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    async def until(ws: Any, msg_id: str, match: Any) -> dict[str, Any]:
        while True:
            raw = await ws.read_message()
            if raw is None:
                raise RuntimeError("the kernel websocket closed")
            if isinstance(raw, bytes):
                continue
            msg = json.loads(raw)
            if msg.get("parent_header", {}).get("msg_id") == msg_id and match(msg):
                return dict(msg)

    async def run() -> None:
        url = f"ws://{HOST}:{port}/api/kernels/{kernel_id}/channels"
        headers = {"Authorization": f"token {token}"} if token else {}
        req = HTTPRequest(url, headers=headers, connect_timeout=timeout)
        ws = await websocket_connect(req)
        session = uuid.uuid4().hex
        try:
            info = _message("kernel_info_request", {}, session)
            await ws.write_message(json.dumps(info))
            await until(
                ws, info["header"]["msg_id"], lambda m: m["msg_type"] == "kernel_info_reply"
            )
            if before_execute is not None:
                before_execute()
            if code is None:
                return
            content = {
                "code": code,
                "silent": False,
                "store_history": True,
                "user_expressions": {},
                "allow_stdin": False,
                "stop_on_error": True,
            }
            msg = _message("execute_request", content, session)
            await ws.write_message(json.dumps(msg))
            await until(
                ws,
                msg["header"]["msg_id"],
                lambda m: (
                    m["msg_type"] == "status" and m["content"].get("execution_state") == "busy"
                ),
            )
        finally:
            ws.close()

    asyncio.run(asyncio.wait_for(run(), timeout))
    return None


CHROMIUM = "/usr/bin/chromium"


def launch_chromium(pw: Any) -> Any:
    """Debian's chromium, headless, its sockets under /tmp (a long TMPDIR breaks them)."""
    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} is missing: apt-get install -y chromium")
    env = {**os.environ, "TMPDIR": "/tmp"}
    return pw.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=["--no-sandbox"], env=env
    )
