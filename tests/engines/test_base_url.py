"""A task behind a proxy: base_url moves every route; URL, ready file, CLI and helpers follow."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import http, kill_tree
from engine_helpers import BIN, Driver, cli

from interactive_ext.options import options_from

PREFIX = "/user/ana/task/"


@pytest.fixture
def run(tmp_path: Path) -> Iterator[Driver]:
    """`jupyter interactive-task run engine_tasks.py:scale --base-url /user/ana/task`."""
    ready = tmp_path / "ready.json"
    argv = [str(BIN / "jupyter"), "interactive-task", "run", "engine_tasks.py:scale"]
    argv += ["--kwargs", '{"x": 3}', "--base-url", PREFIX.rstrip("/"), "--ready-file", str(ready)]
    d = Driver(tmp_path, argv)
    d.ready = ready  # type: ignore[attr-defined]
    yield d
    kill_tree(d.proc)


def test_everything_under_the_prefix(run: Any) -> None:
    row = run.session()
    info = json.loads(run.ready.read_text())
    assert info["base_url"] == PREFIX
    assert info["server_url"].endswith(PREFIX) and f"{PREFIX}lab/tree/" in info["url"]
    assert f"{PREFIX}lab/tree/scale-interactive.ipynb?token=" in run.output()  # the URL line
    assert row["url"].split("?")[0] == info["server_url"]  # `list` finds it under the prefix
    root = f"http://127.0.0.1:{info['port']}/"
    assert http("GET", root + "interactive/status", info["token"]).status == 404  # not at /
    status = cli(run.env, "status", "--url", info["url"])  # the printed URL, as a person copies it
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["task"]["qualname"] == "scale"
    out = cli(run.env, "resume", "--session-dir", info["session_dir"], "--inputs", '{"factor": 4}')
    assert out.returncode == 0, out.stderr
    code, output = run.finish()
    assert code == 0, output
    assert '"value": 12' in output


@pytest.mark.parametrize("bad", ["user/x", "/a//b", "/a?b=1", 3])
def test_bad_base_url_is_clear(bad: Any) -> None:
    with pytest.raises(ValueError, match="must be a URL path starting with '/'"):
        options_from(base_url=bad)


def test_base_url_gets_its_trailing_slash() -> None:
    assert options_from(base_url="/a/b").base_url == "/a/b/"
