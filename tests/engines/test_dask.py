"""Dask: a LocalCluster, an interactive task in a worker thread, resumed from the CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import Driver, cli, script

from harness import kill_tree

pytest.importorskip("distributed")  # the test extra installs it


@pytest.fixture
def driver(tmp_path: Path) -> Iterator[Any]:
    """Factory of Dask drivers; every process they started is stopped at the end."""
    started: list[Driver] = []

    def start(mode: str) -> Driver:
        started.append(Driver(tmp_path, script("dask_driver.py", mode)))
        return started[-1]

    yield start
    for d in started:
        kill_tree(d.proc)


def tagged(output: str, tag: str) -> Any:
    """The JSON after TAG on the driver's line."""
    line = next(x for x in output.splitlines() if x.startswith(tag + " "))
    return json.loads(line[len(tag) + 1 :])


def test_dask_task_in_a_worker_thread_resumed_from_the_cli(driver: Any) -> None:
    d = driver("task")
    d.session()
    out = cli(d.env, "resume", "--inputs", '{"factor": 10}')
    assert out.returncode == 0, out.stderr
    code, output = d.finish()
    assert code == 0, output
    assert tagged(output, "RESULT")["value"] == 30
    assert "Jupyter for task scale: http" in output


def test_dask_idle_timeout_raises_through_the_future(driver: Any) -> None:
    code, output = driver("idle").finish()
    assert code == 3, output
    idle = tagged(output, "IDLE")
    assert idle["type"] == "IdleTimeout" and "max_idle_seconds=2" in idle["message"]
