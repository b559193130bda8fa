"""The wrapper's pieces on their own, so that a failure names the piece."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest

from interactive_ext.client import Client, Unreachable
from interactive_ext.errors import InputsError, SessionError
from interactive_ext.options import DEFAULTS, Options, options_from
from interactive_ext.records import Outcome, ReadyInfo, Reason, TaskContext
from interactive_ext.session.directory import Session, atomic_write
from interactive_ext.session.overrides import parse_resume_body
from interactive_ext.task.direct import unwrap
from interactive_ext.task.inputs import bind_inputs, call_with_inputs
from interactive_ext.task.loader import load_function, reload_function, source_root

CONTEXT = TaskContext(module="m", qualname="train", parameters=["epochs", "lr"])

# -- options -------------------------------------------------------------------------


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


# -- inputs ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"{", "not valid JSON"),
        (b"[1]", "must be a JSON object"),
        (b'{"x": 1}', 'the only key is "inputs"'),
        (b'{"inputs": null}', "must be an object"),
        (b'{"inputs": [1]}', "must be an object"),
        (b'{"inputs": {"nope": 1}}', "unknown input(s) nope"),
        (b'{"inputs": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested too deeply"),
    ],
)
def test_parse_resume_body_refuses_clearly(body: bytes, words: str) -> None:
    with pytest.raises(InputsError) as e:
        parse_resume_body(body, CONTEXT)
    assert words in str(e.value)


def test_parse_resume_body_accepts() -> None:
    assert parse_resume_body(b"", CONTEXT) == {}
    assert parse_resume_body(b'{"inputs": {"epochs": 2}}', CONTEXT) == {"epochs": 2}
    assert parse_resume_body(b'{"inputs": {"any": 1}}', None) == {"any": 1}


def test_bind_and_call_round_trip() -> None:
    def f(a, /, b, *args, c=3, **kw):  # type: ignore[no-untyped-def]
        return a, b, args, c, kw

    inputs = bind_inputs(f, (1, 2, 9), {"c": 4, "z": 5})
    assert inputs == {"a": 1, "b": 2, "args": (9,), "c": 4, "z": 5}
    assert call_with_inputs(f, inputs) == (1, 2, (9,), 4, {"z": 5})
    with pytest.raises(TypeError, match="bad arguments for task"):
        bind_inputs(f, (), {})
    with pytest.raises(TypeError, match="not parameters of"):
        call_with_inputs(lambda a: a, {"a": 1, "b": 2})


# -- session and records -----------------------------------------------------------------


def test_atomic_write_is_private_and_leaves_nothing_on_failure(tmp_path: Path) -> None:
    folder = tmp_path / "atomic"
    folder.mkdir()
    target = folder / "x.json"
    atomic_write(target, b"one")
    assert target.read_bytes() == b"one"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600

    def broken(fd: int) -> None:
        os.write(fd, b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, broken)
    assert target.read_bytes() == b"one"
    assert sorted(p.name for p in folder.iterdir()) == ["x.json"]


def test_records_round_trip_and_broken_files(tmp_path: Path) -> None:
    session = Session.create(tmp_path)
    assert stat.S_IMODE(session.path.stat().st_mode) == 0o700
    assert session.outcome() is None and session.context() is None
    session.record_outcome(Reason.IDLE)
    outcome = session.outcome()
    assert isinstance(outcome, Outcome) and outcome.reason is Reason.IDLE
    assert json.loads((session.path / "outcome.json").read_text())["reason"] == "idle"
    (session.path / "context.json").write_text("{broken")
    with pytest.raises(SessionError, match=r"context\.json"):
        session.context()
    (session.path / "context.json").write_text('{"qualname": "x"}')
    with pytest.raises(SessionError, match="TaskContext"):
        session.context()
    info = ReadyInfo("u", "s", "/", 1, "t", 2, str(session.path))
    assert ReadyInfo.from_json(info.to_json()) == info


# -- loader ---------------------------------------------------------------------------------

TASK = """
from interactive_ext import interactive

@interactive
def train(x):
    return ("v1", x)
"""


def test_loader_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "loadme.py").write_text(TASK)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "loadme", raising=False)
    by_file = load_function(f"{tmp_path}/loadme.py:train")
    by_module = load_function("loadme:train")
    assert unwrap(by_file)(1) == unwrap(by_module)(1) == ("v1", 1)
    for bad, words in [
        ("loadme", "does not name a function"),
        ("loadme:nope", "has no function 'nope'"),
        ("no_such_module_xyz:f", "no module named"),
        (f"{tmp_path}/missing.py:f", "no such file"),
    ]:
        with pytest.raises(ValueError, match=words):
            load_function(bad)
    (tmp_path / "loadme.py").write_text(TASK.replace("v1", "v2"))
    context = TaskContext(
        module="loadme", qualname="train", source_file=str(tmp_path / "loadme.py")
    )
    assert reload_function(context)(2) == ("v2", 2)  # edited source, without @interactive
    script = TaskContext(module="__main__", qualname="train", source_file=context.source_file)
    assert reload_function(script)(3) == ("v2", 3)
    assert source_root("pkg.mod", str(tmp_path / "pkg" / "mod.py")) == str(tmp_path)


# -- client against a real server ---------------------------------------------------------


def test_client_against_a_real_server(start_server) -> None:  # type: ignore[no-untyped-def]
    server = start_server()
    url = f"{server.url}/lab/tree/x.ipynb?token={server.token}"
    client = Client.from_url(url)
    assert client.server_url == f"{server.url}/"
    assert client.token == server.token
    reply = client.status()
    assert reply.status == 200 and reply.body["state"] == "waiting"
    assert reply.body["task"] is None  # a plain server with the extension
    assert client.answers()
    assert Client(client.server_url, "wrong").status().status == 403
    with pytest.raises(ValueError, match="http"):
        Client.from_url("ftp://x")
    server.proc.terminate()
    server.wait_exit(30)
    with pytest.raises(Unreachable, match="no server answers"):
        client.status(timeout=2)
