"""Flyte: `pyflyte run flyte_wf.py wf --x 1` locally; @task over @interactive, resumed by CLI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import BIN, Driver, cli

from harness import kill_tree

pytest.importorskip("flytekit")  # the test extra installs it


@pytest.fixture
def pyflyte(tmp_path: Path) -> Iterator[Any]:
    """Factory: `pyflyte run flyte_wf.py wf --x 1` with env; stopped at the end."""
    started: list[Driver] = []

    def start(**env: str) -> Driver:
        argv = [str(BIN / "pyflyte"), "run", "flyte_wf.py", "wf", "--x", "1"]
        started.append(Driver(tmp_path, argv, FLYTE_SDK_LOGGING_LEVEL="30", **env))
        return started[-1]

    yield start
    for d in started:
        kill_tree(d.proc)


def test_task_over_interactive_keeps_the_typed_interface() -> None:
    import flyte_wf

    interface = flyte_wf.scale.python_interface
    assert interface.inputs == {"x": int, "factor": int}
    assert interface.outputs == {"o0": int}


def test_pyflyte_run_resumed_from_the_cli_continues_the_workflow(pyflyte: Any) -> None:
    d = pyflyte()
    d.session()
    out = cli(d.env, "resume", "--inputs", '{"factor": 10}')
    assert out.returncode == 0, out.stderr
    code, output = d.finish()
    assert code == 0, output
    assert output.strip().splitlines()[-1].strip() == "11", output  # 1 * 10, then + 1


def test_pyflyte_run_idle_timeout_fails_the_run(pyflyte: Any) -> None:
    # 6 s, not 2: pyflyte's process under load can take over 2 s to see its server answer
    code, output = pyflyte(FLYTE_TEST_IDLE="6").finish()
    assert code != 0, output
    assert "IdleTimeout" in output and "max_idle_seconds=6" in output
