"""The extension in a real `jupyter server` subprocess: resume, idle shutdown, security."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import threading
import time
from datetime import datetime

import pytest

from harness import BIN, execute, open_terminal, start_kernel, type_in_terminal, wait_for
from interactive_ext.procs import alive, descendants

DECIDED_LATE = 0.1  # s after the deadline: the outcome is recorded by then
EXITED_LATE = 1.5  # s after the deadline: the process is gone by then (the promise: <= 1 s)


def deadline_of(server) -> float:
    """The shutdown deadline the server reports, as an epoch time."""
    body = server.request("GET", "/interactive/heartbeat").body
    return datetime.fromisoformat(body["shutdown_deadline"]).timestamp()


def heartbeat(server) -> tuple[float, float]:
    """The test's own act, a heartbeat POST: (sent, answered) in epoch time."""
    sent = time.time()
    r = server.request("POST", "/interactive/heartbeat")
    assert r.status == 200, r
    return sent, time.time()


def exited_at(server, timeout: float) -> float:
    """Poll the process every 10 ms until it exits by itself with 0; when it was seen gone."""
    end = time.monotonic() + timeout
    while server.proc.poll() is None:
        assert time.monotonic() < end, f"server still running after {timeout} s:\n{server.log()}"
        time.sleep(0.01)
    assert server.proc.returncode == 0, server.log()
    return time.time()


def check_idle_on_time(server, idle: float, since: tuple[float, float], exited: float) -> None:
    """The idle stop at the deadline the test computes from its last act (since = its times):
    the decision (outcome.json) never before it and <= 0.1 s after, the exit <= 1.5 s after."""
    outcome = json.loads((server.session_dir / "outcome.json").read_text())
    assert outcome["reason"] == "idle", outcome
    earliest, latest = since[0] + idle, since[1] + idle
    decided = outcome["time"]
    assert decided >= earliest, f"decided {earliest - decided:.3f} s before the deadline"
    assert decided <= latest + DECIDED_LATE, f"decided {decided - latest:.3f} s after the deadline"
    assert exited <= latest + EXITED_LATE, f"exited {exited - latest:.3f} s after the deadline"


def test_resume_records_outcome_and_stops(start_server):
    server = start_server()
    (server.session_dir / "context.json").write_text(
        json.dumps(
            {
                "module": "m",
                "qualname": "train",
                "parameters": ["epochs", "lr"],
                "var_keyword": False,
            }
        )
    )
    kernel_id = start_kernel(server)
    kernel_pids = descendants(server.proc.pid)
    assert kernel_pids, "the kernel should be a child of the server"

    r = server.request("POST", "/interactive/resume", body={"inputs": {"epochs": 5}})
    assert r.status == 202, r
    overrides = {"epochs": {"from": "rest", "value": 5, "json": True}}
    assert r.body == {
        "status": "resuming",
        "inputs": ["epochs"],
        "changes": [],
        "overrides": overrides,
    }
    assert server.wait_exit(30) == 0

    outcome_path = server.session_dir / "outcome.json"
    outcome = json.loads(outcome_path.read_text())
    assert outcome["reason"] == "resumed"
    assert outcome["inputs"] == {"epochs": 5}
    assert stat.S_IMODE(outcome_path.stat().st_mode) == 0o600
    assert not [p.name for p in server.session_dir.iterdir() if p.name.endswith(".tmp")]
    wait_for(lambda: not any(alive(p) for p in kernel_pids), 10, f"kernel {kernel_id} to stop")


def test_concurrent_resume_gets_409_not_a_reset(start_server):
    server = start_server()
    answers: list[int] = []

    def resume() -> None:
        answers.append(server.request("POST", "/interactive/resume").status)

    threads = [threading.Thread(target=resume) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(answers) == [202, 409, 409, 409]
    assert server.wait_exit(30) == 0


def test_resume_while_stopping_answers_409(start_server):
    server = start_server("--InteractiveApp.resume_grace_seconds=2")
    assert server.request("POST", "/interactive/resume").status == 202
    r = server.request("POST", "/interactive/resume")
    assert r.status == 409
    assert "already stopping (resumed)" in r.body["message"]
    assert server.request("GET", "/interactive/status").body["state"] == "stopping"
    assert server.wait_exit(30) == 0


def test_token_is_required(start_server):
    server = start_server()
    for method, path in [
        ("POST", "/interactive/resume"),
        ("POST", "/interactive/heartbeat"),
        ("GET", "/interactive/heartbeat"),
        ("GET", "/interactive/status"),
    ]:
        assert server.request(method, path, token=False).status == 403, (method, path)
    assert server.proc.poll() is None
    assert not (server.session_dir / "outcome.json").exists()


def test_cookie_post_without_xsrf_is_refused(start_server):
    server = start_server()
    # A browser session: log in with the token, then POST with the cookie alone.
    import http.cookiejar
    import urllib.request

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.open(f"{server.url}/?token={server.token}", timeout=10).read()
    assert any(c.name.startswith("username-") for c in jar), list(jar)
    req = urllib.request.Request(f"{server.url}/interactive/resume", data=b"", method="POST")
    try:
        opener.open(req, timeout=10)
        status = 200
    except urllib.error.HTTPError as e:
        status = e.code
    assert status == 403
    assert server.proc.poll() is None


def test_idle_shutdown_without_kernels(start_server):
    server = start_server("--InteractiveApp.max_idle_seconds=2")
    since = heartbeat(server)
    check_idle_on_time(server, 2, since, exited_at(server, 30))
    assert "shutting down" in server.log()


def test_idle_shutdown_with_an_idle_kernel(start_server):
    server = start_server("--InteractiveApp.max_idle_seconds=2")
    start_kernel(server)
    kernel_pids = descendants(server.proc.pid)
    since = heartbeat(server)
    check_idle_on_time(server, 2, since, exited_at(server, 30))
    wait_for(lambda: not any(alive(p) for p in kernel_pids), 10, "the kernel to stop")


def test_silent_busy_kernel_holds_the_server(start_server):
    server = start_server("--InteractiveApp.max_idle_seconds=2")
    kernel_id = start_kernel(server)
    started = time.monotonic()
    execute(server, kernel_id, "import time; time.sleep(5)", wait=False)
    # The extension has its own IOPub subscription: it may see "busy" a moment after we do.
    held = wait_for(
        lambda: (b := server.request("GET", "/interactive/heartbeat").body)["holds"] and b,
        10,
        "the busy kernel to hold the server",
    )
    assert held["holds"] == [f"kernel:{kernel_id}"]
    assert held["shutdown_deadline"] is None
    # Well past the 2 s timeout and the cell prints nothing: the server must still be up.
    wait_for(lambda: time.monotonic() - started > 4, 10, "4 s to pass")
    assert server.proc.poll() is None
    assert server.request("GET", "/interactive/heartbeat").body["holds"]
    # Once the cell ends (busy -> idle counts), the 2 s idle period starts again: the release
    # came between the last poll that saw the hold and the first that did not.
    held_at = time.time()
    while server.request("GET", "/interactive/heartbeat").body["holds"]:
        assert time.time() < held_at + 15, "the cell did not finish"
        held_at = time.time()
        time.sleep(0.02)
    since = (held_at, time.time())
    check_idle_on_time(server, 2, since, exited_at(server, 30))


def test_get_polling_does_not_extend_the_deadline(start_server):
    server = start_server("--InteractiveApp.max_idle_seconds=2")
    start_kernel(server)
    since = heartbeat(server)
    # Poll like JupyterLab does until the server goes away (in a thread: the test times the exit).
    paths = [
        "/api/kernels",
        "/api/sessions",
        "/api/status",
        "/api/contents",
        "/interactive/heartbeat",
        "/interactive/status",
    ]
    gone = threading.Event()

    def poll() -> None:
        while not gone.is_set():
            for path in paths:
                try:
                    server.request("GET", path)
                except OSError:
                    return
            time.sleep(0.1)

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        exited = exited_at(server, 30)
    finally:
        gone.set()
        poller.join(30)
    check_idle_on_time(server, 2, since, exited)


def test_heartbeat_post_extends_the_deadline(start_server):
    server = start_server("--InteractiveApp.max_idle_seconds=2")
    first = deadline_of(server)
    wait_for(lambda: time.time() > first - 1, 5, "the deadline to come near")
    sent = time.time()
    r = server.request("POST", "/interactive/heartbeat")
    since = (sent, time.time())
    assert r.status == 200
    assert r.body["last_activity_source"] == "heartbeat"
    second = datetime.fromisoformat(r.body["shutdown_deadline"]).timestamp()
    assert second > first + 0.5
    wait_for(lambda: time.time() > first + 0.3, 5, "the first deadline to pass")
    assert server.proc.poll() is None, "stopped at the old deadline despite the heartbeat"
    check_idle_on_time(server, 2, since, exited_at(server, 30))


def test_mutating_request_counts_as_activity(start_server):
    server = start_server("--InteractiveApp.max_idle_seconds=3")
    first = deadline_of(server)
    r = server.request("POST", "/api/contents", body={"type": "notebook"})
    assert r.status == 201
    body = server.request("GET", "/interactive/heartbeat").body
    assert body["last_activity_source"] == "POST /api/contents"
    assert datetime.fromisoformat(body["shutdown_deadline"]).timestamp() > first


def test_lifetime_cap(start_server):
    server = start_server(
        "--InteractiveApp.max_idle_seconds=60", "--InteractiveApp.max_lifetime_seconds=2"
    )
    assert server.request("POST", "/interactive/heartbeat").status == 200
    assert server.wait_exit(30) == 0
    assert json.loads((server.session_dir / "outcome.json").read_text())["reason"] == "lifetime"


def test_idle_zero_disables_and_bad_values_fail_clearly(start_server, tmp_path):
    server = start_server("--InteractiveApp.max_idle_seconds=0")
    body = server.request("GET", "/interactive/heartbeat").body
    assert body["shutdown_deadline"] is None
    assert body["max_idle_seconds"] == 0
    out = subprocess.run(
        [
            str(BIN / "jupyter"),
            "server",
            "--allow-root",
            "--InteractiveApp.max_idle_seconds=-1",
            "--ServerApp.reraise_server_extension_failures=True",
            f"--ServerApp.root_dir={tmp_path}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode != 0
    assert "max_idle_seconds must be >= 0" in out.stderr + out.stdout


@pytest.mark.parametrize("where", ["flag", "config file"])
def test_a_refused_value_leaves_the_extension_out(start_server, tmp_path, where):
    """A negative time in the config: the server runs without the extension, as documented,
    never with the default in its place; the log says why."""
    if where == "flag":
        server = start_server("--InteractiveApp.max_idle_seconds=-5", ready=False)
    else:
        config = tmp_path / "refused_config.py"
        config.write_text("c.InteractiveApp.max_idle_seconds = -5\n")
        server = start_server(f"--config={config}", ready=False)
    wait_for(lambda: _answers(server), 60, "the server to answer")
    assert server.request("GET", "/interactive/status").status == 404
    log = server.log()
    assert "interactive_ext is not loaded: max_idle_seconds must be >= 0" in log, log
    assert "this server runs without it" in log
    assert "idle shutdown after" not in log
    server.proc.terminate()
    assert server.wait_exit(30) == 0, server.log()
    for failed in ("failed starting", "AttributeError", "Exception in"):  # nothing else fails
        assert failed not in server.log(), server.log()


def _answers(server) -> bool:
    """Whether the server answers its own status (the extension's routes may be absent)."""
    assert server.proc.poll() is None, server.log()
    try:
        return server.request("GET", "/api/status").status == 200
    except OSError:
        return False


def test_extension_is_enabled_on_install():
    out = subprocess.run(
        [str(BIN / "jupyter"), "server", "extension", "list"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "NO_COLOR": "1"},
    )
    text = out.stdout + out.stderr
    assert "interactive_ext" in text
    assert "interactive_ext enabled" in text.replace("\x1b[32m", "").replace("\x1b[0m", "")
    assert "interactive_ext 0.1.0 OK" in text.replace("\x1b[32m", "").replace("\x1b[0m", "")


def test_terminal_input_counts_as_activity(start_server):
    server = start_server("--InteractiveApp.max_idle_seconds=30")
    name = open_terminal(server)
    before = server.request("GET", "/interactive/heartbeat").body["last_activity"]
    type_in_terminal(server, name, "echo hello\r", "hello", timeout=10)  # the shell echoes it
    body = server.request("GET", "/interactive/heartbeat").body
    assert body["last_activity_source"] == "terminal"
    assert body["last_activity"] > before


def test_idle_warning_once_then_stopping_and_shutdown(start_server):
    """The warning is logged once per approach, then the stop goes through the save window."""
    server = start_server(
        "--InteractiveApp.max_idle_seconds=3", "--InteractiveApp.idle_warning_seconds=60"
    )
    assert server.wait_exit(30) == 0
    log = server.log()
    assert log.count("idle: shutting down in") == 1, log  # warning capped at max_idle / 2
    assert "stopping the server: idle (save window 0.0 s)" in log  # no tab: no wait
