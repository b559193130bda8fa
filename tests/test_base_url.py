"""A task behind a proxy: base_url moves every route; URL, ready file, CLI and helpers follow."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness import finish, http, read_ready, run_cli, wait_for
from interactive_ext.options import options_from

PREFIX = "/user/ana/task/"

TASK = '''
def scale(x: int, factor: int = 2) -> dict:
    """The task a person resumes: x times factor."""
    return {"value": x * factor}
'''


def test_everything_under_the_prefix(tmp_path: Path, cli_env: dict[str, str], cli_run) -> None:
    (tmp_path / "proxied.py").write_text(TASK)
    ready = tmp_path / "ready.json"
    run = cli_run(
        "run",
        "proxied.py:scale",
        "--kwargs",
        '{"x": 3}',
        "--base-url",
        PREFIX.rstrip("/"),
        "--ready-file",
        str(ready),
        "--port",
        "0",
    )
    info = read_ready(ready, run)

    def one_row() -> Any:
        listed = run_cli(cli_env, "list", "--json")
        assert listed.returncode == 0, listed.stderr
        rows = [row for row in json.loads(listed.stdout) if row["task"]]
        return rows[0] if len(rows) == 1 else None

    row = wait_for(one_row, 60, "the task in `list --json`")
    assert info["base_url"] == PREFIX
    assert info["server_url"].endswith(PREFIX) and f"{PREFIX}lab/tree/" in info["url"]
    assert row["url"].split("?")[0] == info["server_url"]  # `list` finds it under the prefix
    root = f"http://127.0.0.1:{info['port']}/"
    assert http("GET", root + "interactive/status", info["token"]).status == 404  # not at /
    status = run_cli(cli_env, "status", "--url", info["url"])  # the printed URL, as copied
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["task"]["qualname"] == "scale"
    resume = ("resume", "--session-dir", info["session_dir"], "--inputs", '{"factor": 4}')
    out = run_cli(cli_env, *resume)
    assert out.returncode == 0, out.stderr
    code, stdout, stderr = finish(run)
    assert code == 0, stderr
    assert f"{PREFIX}lab/tree/scale-interactive.ipynb?token=" in stderr  # the URL line
    assert '"value": 12' in stdout


@pytest.mark.parametrize("bad", ["user/x", "/a//b", "/a?b=1", 3])
def test_bad_base_url_is_clear(bad: Any) -> None:
    with pytest.raises(ValueError, match="must be a URL path starting with '/'"):
        options_from(base_url=bad)


def test_base_url_gets_its_trailing_slash() -> None:
    assert options_from(base_url="/a/b").base_url == "/a/b/"
