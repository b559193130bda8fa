"""Notifications through Apprise's json:// schema to a local HTTP receiver, from real tasks."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

import pytest

from harness import Receiver, free_port, run_cli, write

pytest.importorskip("apprise")  # the test extra installs it


IDLE_TASK = """
import json, os
from interactive_ext import IdleTimeout, interactive

@interactive(port=0, ready_file=os.environ["READY_FILE"], max_idle_seconds=6,
             notify=os.environ["NOTIFY"].split())
def train(epochs: int = 2):
    return {"epochs": epochs}

try:
    print(json.dumps(train()))
except IdleTimeout as e:
    print(json.dumps({"idle": str(e)}))
"""


def test_waiting_warning_and_idle_stop_are_notified_a_dead_target_changes_nothing(
    tmp_path: Any, script: Any, receiver: Receiver
) -> None:
    dead = f"json://127.0.0.1:{free_port()}/"  # nothing listens there
    write(tmp_path, "task.py", IDLE_TASK)
    s = script("task.py", env={"NOTIFY": f"{dead} {receiver.url}"})
    info = s.ready()
    ready_at = time.monotonic()
    at, waiting = receiver.wait("is waiting")
    assert abs(at - ready_at) < 3.0, at - ready_at
    assert "train" in waiting["title"] and str(info["port"]) in waiting["title"]
    assert f":{info['port']}/" in waiting["message"]
    assert "paused before it runs" in waiting["message"]
    assert "Idle stop: 20" in waiting["message"]  # an ISO time
    assert info["token"] not in json.dumps(receiver.messages)
    assert "interactive-task list" in waiting["message"]  # where the token is
    _, warning = receiver.wait("stops in")
    assert "(idle)" in warning["title"]
    _, stopped = receiver.wait("stopped: idle")
    assert "Reason: idle" in stopped["message"]
    code, out, err = s.finish()
    assert code == 0, err
    assert "nobody resumed it" in out["idle"]  # the task went on as without notifications
    assert info["token"] not in json.dumps(receiver.messages)
    (server_log,) = (tmp_path / "tmp").rglob("server.log")  # kept after the IdleTimeout
    failures = server_log.read_text().count("failed; the session goes on")
    assert failures == 1  # one warning for the dead target, not one per notification
    # the task's own log says it too, with the count (server.log is gone after a success)
    counted = f"notify: 3 notification(s) to {dead} failed while Jupyter served"
    assert err.count(counted) == 1, err


HIDE_APPRISE = "import sys\nsys.modules['apprise'] = None  # as if it were not installed\n"
NOT_INSTALLED = (
    "sends notifications through Apprise, which is not installed: "
    "pip install 'interactive_ext[notify]'"
)


@pytest.fixture
def no_apprise(tmp_path: Any, cli_env: dict[str, str]) -> dict[str, str]:
    """cli_env in which `import apprise` fails (a sitecustomize hides it)."""
    hide = tmp_path / "hide"
    hide.mkdir()
    write(hide, "sitecustomize.py", HIDE_APPRISE)
    return {**cli_env, "PYTHONPATH": str(hide)}


def test_notify_without_apprise_is_refused_at_start_in_one_line(
    tmp_path: Any, no_apprise: dict[str, str]
) -> None:
    write(tmp_path, "tasks.py", "def add(a: int = 1):\n    return a\n")
    args = ("run", "tasks.py:add", "--notify", "json://127.0.0.1:9/")
    r = run_cli(no_apprise, *args, cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert NOT_INSTALLED in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    code = "from interactive_ext import interactive\ninteractive(notify=['json://127.0.0.1:9/'])"
    r = subprocess.run(
        [sys.executable, "-c", code], env=no_apprise, capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 1 and f"ValueError: notify {NOT_INSTALLED}" in r.stderr, r.stderr
    task = "from interactive_ext import interactive\ninteractive(lambda: 1)()"
    env = {**no_apprise, "INTERACTIVE_EXT_NOTIFY": "json://127.0.0.1:9/"}
    r = subprocess.run(
        [sys.executable, "-c", task], env=env, capture_output=True, text=True, timeout=60
    )
    assert f"ValueError: notify (INTERACTIVE_EXT_NOTIFY) {NOT_INSTALLED}" in r.stderr, r.stderr


RETRY_TASK = """
import json, os
from interactive_ext import interactive

@interactive(port=0, ready_file=os.environ["READY_FILE"], max_idle_seconds=120,
             run_task_first=True, notify=[os.environ["NOTIFY"]], notify_include_token=True)
def divide(x: int = 0):
    return {"value": 10 // x}

print(json.dumps(divide()))
"""


def test_a_failure_a_resume_and_a_resumed_run_that_failed_again(
    tmp_path: Any, script: Any, receiver: Receiver
) -> None:
    write(tmp_path, "task.py", RETRY_TASK)
    s = script("task.py", env={"NOTIFY": receiver.url})
    info = s.ready()
    _, waiting = receiver.wait("is waiting")
    assert "failed: ZeroDivisionError: integer division or modulo by zero" in waiting["message"]
    assert f"token={info['token']}" in waiting["message"]  # notify_include_token=True
    (tmp_path / "ready.json").unlink()
    assert s.resume(info).status == 202  # x is still 0: the resumed run fails again
    _, stopped = receiver.wait("stopped: resumed")
    assert "input overrides: none" in stopped["message"]
    _, again = receiver.wait("failed again")
    assert "ZeroDivisionError" in again["message"] and "starts again" in again["message"]
    info = s.ready()
    assert s.resume(info, {"x": 5}).status == 202
    code, out, err = s.finish()
    assert code == 0, err
    assert out == {"value": 2}
    titles = [m["title"] for _, m in receiver.messages]
    assert sum("is waiting" in t for t in titles) == 2, titles
