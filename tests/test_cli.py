"""`jupyter interactive-task` run as a user runs it: subprocesses, real servers, real HTTP."""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest

BIN = Path(sys.executable).parent
TOKEN = "cli-test-token"


# -- helpers ------------------------------------------------------------------------


def wait_for(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.1) -> Any:
    """Poll check() until it returns a true value, or fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def free_port() -> int:
    """A TCP port free right now on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop(proc: subprocess.Popen[Any]) -> None:
    """Stop a process started in its own session, and its whole process group."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(10)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(5)


def get_json(url: str, token: str) -> tuple[int, Any]:
    """GET url with a token; (status, body), status 0 when nothing answers."""
    req = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    try:
        with urllib.request.urlopen(req, timeout=2) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, None
    except OSError:
        return 0, None


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The environment of every process: a private runtime dir, no inherited token."""
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    e = {
        k: v for k, v in os.environ.items() if k not in ("JUPYTER_TOKEN", "INTERACTIVE_EXT_SESSION")
    }
    e["JUPYTER_RUNTIME_DIR"] = str(runtime)
    e["PYTHONUNBUFFERED"] = "1"
    return e


def cli(env: dict[str, str], *args: str, cwd: Path | None = None, timeout: float = 60):
    """Run `jupyter interactive-task ARGS` to completion."""
    return subprocess.run(
        [sys.executable, "-m", "interactive_ext.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def assert_clear_error(proc: subprocess.CompletedProcess[str], code: int, *words: str) -> None:
    """Exit code `code`, one line on stderr naming words, no traceback."""
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    for word in words:
        assert word in proc.stderr, (word, proc.stderr)


@dataclass
class Server:
    """A `jupyter server` with the extension, started as a user would."""

    proc: subprocess.Popen[str]
    url: str
    token: str
    session_dir: Path


@pytest.fixture
def start_server(tmp_path: Path, env: dict[str, str]) -> Iterator[Callable[..., Server]]:
    """Start `jupyter server` subprocesses; all are stopped at the end, even on failure."""
    procs: list[subprocess.Popen[str]] = []

    def start(*extra: str, name: str = "s") -> Server:
        session = tmp_path / f"session-{name}"
        root = tmp_path / f"root-{name}"
        session.mkdir()
        root.mkdir()
        port = free_port()
        log = open(tmp_path / f"server-{name}.log", "w")  # noqa: SIM115 - closed by the process end
        proc = subprocess.Popen(
            [
                str(BIN / "jupyter-server"),
                "--allow-root",
                "--no-browser",
                "--ip=127.0.0.1",
                f"--port={port}",
                "--ServerApp.port_retries=0",
                f"--ServerApp.token={TOKEN}",
                f"--ServerApp.root_dir={root}",
                f"--InteractiveApp.session_dir={session}",
                *extra,
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        log.close()
        procs.append(proc)
        url = f"http://127.0.0.1:{port}/"
        wait_for(
            lambda: (
                proc.poll() is not None or get_json(url + "interactive/status", TOKEN)[0] == 200
            ),
            30,
            "the server to answer",
        )
        assert proc.poll() is None, (tmp_path / f"server-{name}.log").read_text()
        # list/resume find servers by their runtime file, written just before they listen
        info = Path(env["JUPYTER_RUNTIME_DIR"]) / f"jpserver-{proc.pid}.json"
        wait_for(info.exists, 10, "the server's runtime file")
        return Server(proc, url, TOKEN, session)

    try:
        yield start
    finally:
        for proc in procs:
            stop(proc)


# -- resume / status / list against a plain server with the extension ----------------


def test_status_and_list_find_the_running_session(env, start_server):
    """status with no --url finds the one session; list prints url with token and state."""
    server = start_server()
    (server.session_dir / "server.json").write_text(
        json.dumps({"url": f"{server.url}?token={TOKEN}", "token": TOKEN})
    )

    listed = cli(env, "list")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.strip().splitlines()
    assert len(lines) == 1, listed.stdout
    assert f"?token={TOKEN}" in lines[0]
    assert str(server.proc.pid) not in lines[0]
    assert "waiting" in lines[0] and "idle shutdown in" in lines[0]

    as_json = cli(env, "list", "--json")
    assert json.loads(as_json.stdout)[0]["status"]["state"] == "waiting"

    found = cli(env, "status")
    assert found.returncode == 0, found.stderr
    status = json.loads(found.stdout)
    assert status["state"] == "waiting"
    assert status["session_dir"] == str(server.session_dir)

    by_dir = cli(env, "status", "--session-dir", str(server.session_dir))
    assert by_dir.returncode == 0, by_dir.stderr
    assert json.loads(by_dir.stdout)["session_dir"] == str(server.session_dir)

    bad_token = cli(env, "status", "--url", server.url, "--token", "wrong")
    assert_clear_error(bad_token, 2, "refused the token")


def test_resume_by_url_then_refused_then_gone(env, start_server):
    """resume → 202 (exit 0), again while stopping → 409 (exit 1), after exit → exit 2."""
    server = start_server("--InteractiveApp.resume_grace_seconds=3")
    (server.session_dir / "context.json").write_text(
        json.dumps({"module": "m", "qualname": "train", "parameters": ["epochs"]})
    )
    url = server.url + "lab"

    bad_json = cli(env, "resume", "--url", url, "--token", TOKEN, "--inputs", '{"epochs": ')
    assert_clear_error(bad_json, 2, "--inputs is not valid JSON")
    unknown = cli(env, "resume", "--url", url, "--token", TOKEN, "--inputs", '{"lr": 1}')
    assert_clear_error(unknown, 2, "rejected the inputs", "unknown input(s) lr", "epochs")

    ok = cli(env, "resume", "--url", f"{url}?token={TOKEN}", "--inputs", '{"epochs": 7}')
    assert ok.returncode == 0, ok.stderr
    assert "resuming" in ok.stdout
    outcome = json.loads((server.session_dir / "outcome.json").read_text())
    assert outcome["reason"] == "resumed"
    assert outcome["inputs"] == {"epochs": 7}

    again = cli(env, "resume", "--url", server.url, "--token", TOKEN)
    assert_clear_error(again, 1, "already resuming")

    server.proc.wait(20)
    gone = cli(env, "resume", "--url", server.url, "--token", TOKEN)
    assert_clear_error(gone, 2, "no server answers at", "list")


def test_resume_finds_the_session_or_says_why_not(env, start_server):
    """With no --url: none running, exactly one (resumed), several (listed) are all clear."""
    none = cli(env, "resume")
    assert_clear_error(none, 2, "no running interactive session found", "--url")

    first = start_server(name="a")
    second = start_server(name="b")
    several = cli(env, "resume")
    assert_clear_error(several, 2, "2 interactive sessions", first.url, second.url)

    stop(second.proc)
    one = cli(env, "resume")
    assert one.returncode == 0, one.stderr
    first.proc.wait(20)
    assert json.loads((first.session_dir / "outcome.json").read_text())["reason"] == "resumed"
