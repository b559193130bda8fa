"""Ray: a local cluster, an interactive task in a Ray worker, resumed from the CLI on the node."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import Driver, cli, gone, runtime_pids, script, tree

from harness import http, kill_tree, wait_for

pytest.importorskip("ray")  # the test extra installs it; a plain install has no Ray

TIMEOUT = 120


@pytest.fixture
def driver(tmp_path: Path) -> Iterator[Any]:
    """Factory of drivers; every process they started is stopped at the end."""
    started: list[Driver] = []
    ray_tmp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")

    def start(mode: str) -> Driver:
        started.append(
            Driver(tmp_path, script("ray_driver.py", mode), RAY_TMPDIR=ray_tmp)
        )  # short socket paths
        return started[-1]

    yield start
    for d in started:
        kill_tree(d.proc)
    shutil.rmtree(ray_tmp, ignore_errors=True)


def url_line(output: str) -> str | None:
    """The line with the task's URL, as a person looks for it in the driver's output."""
    return next((x for x in output.splitlines() if "[interactive_ext] Jupyter for task" in x), None)


def result_of(output: str, tag: str) -> Any:
    """The JSON after TAG on the driver's line."""
    line = next(x for x in output.splitlines() if x.startswith(tag + " "))
    return json.loads(line[len(tag) + 1 :])


@pytest.mark.parametrize(("mode", "value"), [("task", 30), ("actor", 130)])
def test_ray_task_resumed_from_the_cli(driver: Any, mode: str, value: int) -> None:
    d = driver(mode)
    row = d.session()
    # Ray forwards the worker's output to the driver (its log monitor, within a second or so)
    line = wait_for(lambda: url_line(d.output()), 30, "the URL line on the driver's side")
    assert f"{row['url'].split('?')[0]}lab/tree/" in line and "?token=" in line
    out = cli(d.env, "resume", "--inputs", '{"factor": 10}')
    assert out.returncode == 0, out.stderr
    code, output = d.finish()
    assert code == 0, output
    assert result_of(output, "RESULT")["value"] == value


def test_ray_idle_timeout_raises_through_ray_get(driver: Any) -> None:
    code, output = driver("idle").finish()
    assert code == 3, output
    idle = result_of(output, "IDLE")
    assert "IdleTimeout" in idle["type"] and "max_idle_seconds=2" in idle["message"]


@pytest.mark.parametrize("force", [False, True])
def test_ray_cancel_stops_the_server_and_its_kernels(driver: Any, force: bool) -> None:
    d = driver("cancel-force" if force else "cancel")
    row = d.session()
    root, token = row["url"].split("?token=")
    kernel = http("POST", root + "api/kernels", token, {"name": "python3"})
    assert kernel.status == 201, kernel
    servers = runtime_pids(d.env)
    processes = set().union(*(tree(pid) for pid in servers))
    assert len(servers) == 1 and len(processes) >= 2  # the server and its kernel
    assert d.proc.stdin is not None
    d.proc.stdin.write(b"cancel\n")
    d.proc.stdin.flush()
    wait_for(lambda: gone(processes), 30, "the server and its kernel to stop", interval=0.2)
    _, output = d.finish()
    assert "CANCELLED" in output, output
