"""Shared fixtures: pytest-jupyter's in-process server, and real server subprocesses."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from benchmarks import common
from benchmarks.common import wait_for
from interactive_ext.procs import alive, descendants
from interactive_ext.protocol import SESSION_ENV

pytest_plugins = ["pytest_jupyter.jupyter_server"]

BIN = Path(sys.executable).parent
TOKEN = "test-token-0123456789"


@pytest.fixture(autouse=True)
def private_tmpdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Session directories (kept after a failed task, by design) land in the test's tmp_path."""
    import tempfile

    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    return tmp


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def kill_tree(proc: subprocess.Popen[Any], grace: float = 5.0) -> None:
    """Stop proc and everything it started: SIGTERM, then SIGKILL after grace seconds."""
    pids = descendants(proc.pid)
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for pid in pids | descendants(proc.pid):
        if alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@dataclass
class Response:
    """An HTTP answer: status code and the JSON body (or text)."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


def http(
    method: str, url: str, token: str | None = None, body: Any = None, raw: bytes | None = None
) -> Response:
    """One real HTTP request; never raises for an HTTP error status."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    if data is None and method in ("POST", "PUT", "PATCH"):
        data = b""
    req = urllib.request.Request(url, data=data, method=method)
    if token:
        req.add_header("Authorization", f"token {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            status, text, headers = r.status, r.read().decode(), dict(r.headers)
    except urllib.error.HTTPError as e:
        status, text, headers = e.code, e.read().decode(), dict(e.headers)
    try:
        return Response(status, json.loads(text) if text else None, headers)
    except ValueError:
        return Response(status, text, headers)


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
        return f"http://127.0.0.1:{self.port}"

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


def _ready(server: ServerProcess) -> bool:
    if server.proc.poll() is not None:
        raise AssertionError(f"server exited with {server.proc.returncode}:\n{server.log()}")
    try:
        return server.request("GET", "/interactive/status").status == 200
    except OSError:
        return False


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Factory: start `jupyter server` with the extension and the given extra flags."""
    started: list[ServerProcess] = []

    def start(*flags: str, ready: bool = True) -> ServerProcess:
        n = len(started)
        session_dir = tmp_path / f"session{n}"
        session_dir.mkdir(mode=0o700)
        root = tmp_path / f"root{n}"
        root.mkdir()
        port = free_port()
        log_path = tmp_path / f"server{n}.log"
        cmd = [
            str(BIN / "jupyter"),
            "server",
            "--no-browser",
            "--allow-root",
            f"--port={port}",
            "--port-retries=0",
            f"--IdentityProvider.token={TOKEN}",
            f"--ServerApp.root_dir={root}",
            f"--InteractiveApp.session_dir={session_dir}",
            *flags,
        ]
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        server = ServerProcess(proc, port, TOKEN, session_dir, log_path)
        started.append(server)
        if ready:
            wait_for(lambda: _ready(server), 60, "the server to answer")
        return server

    yield start
    for server in started:
        kill_tree(server.proc)


# -- the CLI, run as a user runs it --------------------------------------------------------


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


def open_terminal(server: ServerProcess) -> str:
    """Open a terminal through the REST API; its name."""
    r = server.request("POST", "/api/terminals")
    assert r.status == 200, r
    return str(r.body["name"])


def type_in_terminal(
    server: ServerProcess, name: str, text: str, until: str, timeout: float = 20
) -> None:
    """Type text into the terminal name, as a frontend does; return once its output shows until."""
    common.type_in_terminal(server.port, server.token, name, text, until, timeout)


def start_kernel(server: ServerProcess) -> str:
    """Start a real ipykernel through the REST API (answered once the kernel runs); its id."""
    r = server.request("POST", "/api/kernels", body={"name": "python3"})
    assert r.status == 201, r
    return str(r.body["id"])


def execute(
    server: ServerProcess, kernel_id: str, code: str, wait: bool = True, closing: bool = False
) -> list[dict]:
    """Run code in a kernel over its websocket, as a frontend does.

    wait=True returns the IOPub messages once the kernel is idle again; wait=False returns as
    soon as the kernel reports busy for this request (the cell keeps running). closing=True: the
    cell stops the server, so a closed websocket ends the messages too.
    """
    import asyncio
    import uuid

    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    async def run() -> list[dict]:
        url = f"ws://127.0.0.1:{server.port}/api/kernels/{kernel_id}/channels"
        req = HTTPRequest(url, headers={"Authorization": f"token {server.token}"})
        ws = await websocket_connect(req)
        msg_id = uuid.uuid4().hex
        msg = {
            "header": {
                "msg_id": msg_id,
                "msg_type": "execute_request",
                "username": "test",
                "session": uuid.uuid4().hex,
                "version": "5.3",
                "date": "",
            },
            "parent_header": {},
            "metadata": {},
            "content": {
                "code": code,
                "silent": False,
                "store_history": False,
                "user_expressions": {},
                "allow_stdin": False,
                "stop_on_error": True,
            },
            "channel": "shell",
            "buffers": [],
        }
        await ws.write_message(json.dumps(msg))
        seen: list[dict] = []
        try:
            while True:
                raw = await asyncio.wait_for(ws.read_message(), 60)
                if raw is None and closing:
                    return seen
                assert raw is not None, "websocket closed"
                reply = json.loads(raw)
                if reply.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                seen.append(reply)
                if reply["msg_type"] == "status":
                    state = reply["content"]["execution_state"]
                    if (state == "busy" and not wait) or state == "idle":
                        return seen
        finally:
            ws.close()

    return asyncio.run(run())
