"""The status texts are written once, by the server: `list` prints the status' own words.

The JupyterLab item (tests/browser), the page at /interactive and `jupyter interactive-task list`
print `summary` (and the final page `why`) of GET /interactive/status; each view formats only the
countdown. Real servers, the CLI run as a subprocess as a person runs it.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from harness import TOKEN, http, run_cli, wait_for
from interactive_ext.records import Reason
from interactive_ext.server.states import State
from interactive_ext.server.status import clock, summary, why

COUNTDOWN = re.compile(r"  stops in (\d+):(\d\d)$")


def shown_seconds(countdown: str) -> int:
    """The seconds of a countdown text (`MM:SS` or `H:MM:SS`)."""
    seconds = 0
    for part in countdown.split(":"):
        seconds = seconds * 60 + int(part)
    return seconds


def listed_line(environ: dict[str, str]) -> str:
    """The one line `jupyter interactive-task list` prints (run as a subprocess)."""
    listed = run_cli(environ, "list")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.strip().splitlines()
    assert len(lines) == 1, listed.stdout
    return lines[0]


def status_of(url: str) -> dict[str, Any]:
    """GET /interactive/status."""
    reply = http("GET", url + "/interactive/status", TOKEN)
    assert reply.status == 200, reply
    return dict(reply.body)


def test_list_prints_the_countdown_after_the_server_summary(cli_env, cli_server):
    """A waiting server says `stops in`; list prints it with the time left as MM:SS."""
    server = cli_server("--InteractiveApp.max_idle_seconds=600")
    status = status_of(server.url)
    assert (status["summary"], status["why"]) == ("stops in", None)
    line = listed_line(cli_env)
    found = COUNTDOWN.search(line)
    assert found, line
    shown = int(found.group(1)) * 60 + int(found.group(2))
    assert -1 < status["idle"]["seconds_remaining"] - shown < 30, (status["idle"], line)
    assert status_of(server.url)["idle"]["seconds_remaining"] <= shown, "rounded up, as the item"
    countdown = status["idle"]["countdown"]  # the server's text, which the page prints too
    assert countdown == clock(status["idle"]["seconds_remaining"]), status["idle"]
    assert 0 <= shown_seconds(countdown) - shown < 30, (countdown, line)


def test_list_prints_no_idle_stop_as_the_server_says_it(cli_env, cli_server):
    """With the idle stop off, the summary is the whole text: no countdown."""
    server = cli_server("--InteractiveApp.max_idle_seconds=0")
    status = status_of(server.url)
    assert status["summary"] == "no idle stop"
    assert status["idle"]["seconds_remaining"] is None and status["idle"]["countdown"] is None
    assert listed_line(cli_env).endswith("  no idle stop")


def test_a_resumed_server_says_why_and_list_prints_it(cli_env, cli_server):
    """Between the resume and the exit: `resuming`, and the final page's sentence in `why`."""
    server = cli_server("--InteractiveApp.resume_grace_seconds=20")
    resumed = run_cli(cli_env, "resume", "--url", server.url, "--token", TOKEN)
    assert resumed.returncode == 0, resumed.stderr
    status = status_of(server.url)
    assert status["state"] == "stopping" and status["summary"] == "resuming"
    assert status["idle"]["countdown"] is None  # no countdown once stopping
    assert status["why"] == (
        "Task resumed: this server has stopped; the task runs in its own process"
    )
    line = listed_line(cli_env)
    assert "  stopping  " in line and line.endswith("  resuming"), line
    wait_for(lambda: server.proc.poll() is not None, 60, "the resumed server to exit")


@pytest.mark.parametrize(
    ("state", "reason", "idle", "expected"),
    [
        (State.WAITING, None, {"holds": [], "seconds_remaining": 12.0}, "stops in"),
        (State.WAITING, None, {"holds": ["kernel:5f0c"], "seconds_remaining": None}, "kernel busy"),
        (State.WAITING, None, {"holds": ["x"], "seconds_remaining": None}, "held by x"),
        (State.WAITING, None, {"holds": [], "seconds_remaining": None}, "no idle stop"),
        (State.STOPPING, Reason.RESUMED, {"holds": [], "seconds_remaining": 3.0}, "resuming"),
        (State.STOPPING, Reason.IDLE, {"holds": [], "seconds_remaining": 0.0}, "stopping"),
        (
            State.STOPPING,
            Reason.LIFETIME,
            {"holds": ["kernel:1"], "seconds_remaining": None},
            "stopping",
        ),
    ],
)
def test_each_state_has_one_summary(state, reason, idle, expected):
    """The summary of each state, the words the status item, the page and list print."""
    assert summary(state, reason, idle) == expected


def test_why_names_the_stop_as_the_final_page_says_it():
    """The final page's sentences, the idle time written as people write it."""
    assert why(None, 60.0) is None
    assert why(Reason.IDLE, 6.0) == "Stopped after 6 s without activity"
    assert why(Reason.IDLE, 1.5) == "Stopped after 1.5 s without activity"
    assert why(Reason.LIFETIME, 6.0) == "Stopped: the session reached its lifetime cap"


def test_the_countdown_is_written_once_in_python():
    """`MM:SS` below an hour, `H:MM:SS` above, rounded up (the status item's format.ts agrees)."""
    assert clock(59.1) == "01:00"
    assert clock(0.0) == "00:00"
    assert clock(-3) == "00:00"
    assert clock(3723.2) == "1:02:04"
