"""options.py: every check says what is wrong; the environment overrides enable."""

from __future__ import annotations

from pathlib import Path

import pytest

from interactive_ext.options import DEFAULTS, Options, options_from


@pytest.mark.parametrize(
    ("changes", "error", "words"),
    [
        ({"max_idle_seconds": -1}, ValueError, ">= 0 (0 disables it)"),
        ({"max_idle_seconds": True}, TypeError, "number of seconds"),
        ({"port": 70000}, ValueError, "0..65535"),
        ({"port": "8888"}, TypeError, "must be an int"),
        ({"ip": ""}, TypeError, "non-empty string"),
        ({"enable": 1}, TypeError, "True or False"),
        ({"pre_execute": "f"}, TypeError, "callable"),
        ({"on_idle": "stop"}, ValueError, "'fail'"),
        ({"token": ""}, TypeError, "non-empty string"),
        ({"ready_file": 3}, TypeError, "a path"),
        ({"hub": "hub:8081"}, ValueError, "JupyterHub API URL"),
        ({"hub_users": 3}, TypeError, "names like"),
    ],
)
def test_options_checks_say_what_is_wrong(changes, error, words) -> None:
    with pytest.raises(error, match=words.replace("(", r"\(").replace(")", r"\)")):
        Options(**changes)


def test_options_unknown_name_and_paths(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"unknown option.*max_idle"):
        options_from(max_idle=3)
    assert Options(notebook_dir=tmp_path).notebook_dir == str(tmp_path)
    assert DEFAULTS.max_idle_seconds == 3600


def test_enable_env_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTERACTIVE_EXT_ENABLE", "0")
    assert not Options().enabled
    monkeypatch.setenv("INTERACTIVE_EXT_ENABLE", "maybe")
    with pytest.raises(ValueError, match="INTERACTIVE_EXT_ENABLE"):
        Options().enabled  # noqa: B018
