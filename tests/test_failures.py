"""Every failure is a clear message with one exit code, and leaves only what is useful.

One test per finding of the issue "Nothing left running, nothing forged, every failure a clear
message" (findings 1 and 7's kill -9 cases are in test_containment.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from harness import finish, free_port, http, read_ready, run_cli, wait_for
from harness.plugin import mount_tmpfs
from interactive_ext.errors import SessionError
from interactive_ext.session.directory import Session, safe_parent

TASKS = """
import asyncio
import pathlib
import sys
import time


def add(a=1):
    return {"sum": a + 1}


def exit_with(code=0):
    sys.exit(code)


def boom():
    raise ValueError("boom in the task")


def interrupts_itself():
    raise KeyboardInterrupt("the task stops itself")


def runs_until_interrupted(mark):
    pathlib.Path(mark).write_text("running")
    time.sleep(120)


async def interrupts_itself_async():
    await asyncio.sleep(0)
    raise KeyboardInterrupt("the task stops itself")


async def runs_until_interrupted_async(mark):
    pathlib.Path(mark).write_text("running")
    await asyncio.sleep(120)  # asyncio.run's SIGINT cancels it
"""

PLAIN_AND_ASYNC = pytest.mark.parametrize("suffix", ["", "_async"], ids=["plain", "async"])


@pytest.fixture
def env(tmp_path: Path, cli_env: dict[str, str]) -> dict[str, str]:
    """A user's environment (the plugin's cli_env) with the task module on the path."""
    (tmp_path / "failtasks.py").write_text(TASKS)
    path = os.pathsep.join([str(tmp_path), cli_env.get("PYTHONPATH", "")])
    return {**cli_env, "PYTHONPATH": path}


def sessions(folder: Path) -> list[Path]:
    """The session directories under folder."""
    return sorted(folder.glob("interactive-*"))


def one_clear_line(err: str, code: int, got: int, *words: str) -> None:
    """The run ended with code and a message naming words, without a traceback."""
    assert got == code, err
    assert "Traceback" not in err, err
    for word in words:
        assert word in err, (word, err)


IDLE = ("run", "--port", "0", "--max-idle-seconds", "1", "--on-idle", "resume")
"""Options of a run that nobody attaches to: after one idle second the task runs."""


def waiting(ready: Path) -> tuple[str, ...]:
    """`run` on a free port, its ready file at ready: it waits for a resume."""
    return ("run", "--port", "0", "--ready-file", str(ready))


# -- finding 2: the session directory is ours or it is refused ------------------------------


def test_an_unsafe_tmpdir_is_avoided(env, cli_run, tmp_path, private_tmpdir):
    """TMPDIR 0777 without the sticky bit: the session goes to the private XDG_RUNTIME_DIR."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    xdg = tmp_path / "xdg"
    xdg.mkdir(mode=0o700)
    env = {**env, "TMPDIR": str(shared), "XDG_RUNTIME_DIR": str(xdg)}
    code, out, err = finish(cli_run(*IDLE, "failtasks:add", env=env))
    assert code == 0 and json.loads(out) == {"sum": 2}, err
    assert f"interactive session directory {xdg}/interactive-" in err, err
    assert "without the sticky bit" in err and not sessions(shared), err


def test_an_unsafe_tmpdir_with_no_private_place_is_refused(tmp_path, monkeypatch):
    """No safe place at all: a SessionError that says which variable to set."""
    import tempfile

    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    monkeypatch.setattr(tempfile, "tempdir", str(shared))
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(shared))
    with pytest.raises(SessionError, match="set TMPDIR to a directory only you can write"):
        safe_parent()


def test_a_replaced_session_directory_is_refused(tmp_path):
    """Another user renames the session away and plants a pickle: nothing is read from it."""
    session = Session.create(tmp_path)
    session.write_pickle("saved_inputs.pkl", {"a": 1})
    planted = tmp_path / "planted"
    planted.mkdir(mode=0o700)
    (planted / "saved_inputs.pkl").write_bytes((session.path / "saved_inputs.pkl").read_bytes())
    os.chown(planted, 65534, 65534)
    session.path.rename(tmp_path / "moved")
    planted.rename(session.path)
    with pytest.raises(SessionError, match="belongs to uid 65534"):
        session.read_pickle("saved_inputs.pkl")
    os.chown(planted if planted.exists() else session.path, 0, 0)
    with pytest.raises(SessionError, match="replaced by another directory"):
        session.read_pickle("saved_inputs.pkl")
    os.chown(session.path, 65534, 65534)
    with pytest.raises(SessionError, match="belongs to uid 65534"):
        Session.open(session.path)


# -- findings 3 and 4: broken files and bad requests get clear answers -----------------------


def test_broken_files_and_bad_requests_are_named_and_the_task_resumes(env, cli_run, tmp_path):
    """Corrupt context.json and saved_inputs.pkl: status names them, resume runs with the
    original inputs; a deep body and null inputs are 400, no token is a 403 that says so."""
    ready = tmp_path / "ready.json"
    proc = cli_run(*waiting(ready), "failtasks:add", "--kwargs", '{"a": 4}', env=env)
    info = read_ready(ready, proc)
    folder = Path(info["session_dir"])
    (folder / "context.json").write_text("{not json")
    (folder / "saved_inputs.pkl").write_bytes(b"\x89IXPKL\r\n garbage")
    url, token = info["server_url"], info["token"]
    status = http("GET", url + "interactive/status", token)
    assert status.status == 200, status
    problems = " ".join(status.body["problems"])
    assert "context.json" in problems and "saved_inputs.pkl" in problems, problems
    no_token = http("POST", url + "interactive/resume", None, body={"inputs": {}})
    assert no_token.status == 403 and "token" in no_token.body["message"], no_token
    assert "_xsrf" not in json.dumps(no_token.body)
    deep = http(
        "POST",
        url + "interactive/resume",
        token,
        raw=b'{"inputs": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    )
    assert deep.status == 400, deep
    null = http("POST", url + "interactive/resume", token, body={"inputs": None})
    assert null.status == 400 and "object" in null.body["message"], null
    assert http("POST", url + "interactive/resume", token, body={"inputs": {}}).status == 202
    code, out, err = finish(proc)
    assert code == 0 and json.loads(out) == {"sum": 5}, err
    assert "saved_inputs.pkl" in err and "resuming without the inputs saved" in err, err


# -- finding 5: failures of the machine are exit 5, one line, nothing left -------------------


def test_a_read_only_notebook_dir_is_exit_5(env, cli_run, tmp_path, mounts, private_tmpdir):
    """A read-only --notebook-dir: exit 5, one line naming it, no session left."""
    ro = tmp_path / "ro"
    mount_tmpfs(ro, "ro,size=1m")
    mounts.append(ro)
    code, _, err = finish(
        cli_run("run", "--port", "0", "--notebook-dir", str(ro), "failtasks:add", env=env)
    )
    one_clear_line(err, 5, code, "Read-only file system", str(ro), "notebook_dir")
    assert not sessions(private_tmpdir)


def test_a_full_disk_is_exit_5(env, cli_run, tmp_path, mounts):
    """A full disk under the session directory: exit 5, no misleading 'do not pickle'."""
    small = tmp_path / "small"
    mount_tmpfs(small, "size=64k,mode=1777")
    mounts.append(small)
    big = tmp_path / "big.json"
    big.write_text(json.dumps({"a": "x" * 400_000}))
    small_env = {**env, "TMPDIR": str(small)}
    proc = cli_run("run", "--port", "0", "failtasks:add", "--kwargs-file", str(big), env=small_env)
    code, _, err = finish(proc)
    one_clear_line(err, 5, code, "No space left on device", "TMPDIR")
    assert "do not pickle" not in err
    assert not sessions(small)


# -- finding 6: exit codes that mean one thing each ------------------------------------------


@pytest.mark.parametrize(("code", "expected", "stdout"), [(0, 0, "null"), (5, 1, "")])
def test_the_task_s_sys_exit(env, cli_run, private_tmpdir, code, expected, stdout):
    """sys.exit(0) after a resume is a success (null, session removed); sys.exit(5) is exit 1
    with the code named, the session kept."""
    proc = cli_run(*IDLE, "failtasks:exit_with", "--kwargs", json.dumps({"code": code}), env=env)
    got, out, err = finish(proc)
    assert got == expected and out.strip() == stdout, err
    if code:
        assert "sys.exit(5)" in err and "Traceback" not in err, err
        assert len(sessions(private_tmpdir)) == 1
    else:
        assert not sessions(private_tmpdir)


def test_an_idle_timeout_with_the_session_removed_is_still_exit_3(env, cli_run, tmp_path):
    """The outcome file cannot be written: the server's exit code says why it stopped."""
    ready = tmp_path / "ready.json"
    flags = ("--max-idle-seconds", "4", "--on-idle", "fail", "failtasks:add")
    proc = cli_run(*waiting(ready), *flags, env=env)
    info = read_ready(ready, proc)
    shutil.rmtree(info["session_dir"])
    code, _, err = finish(proc)
    one_clear_line(err, 3, code, "was removed while it ran")
    assert "kept the session directory" not in err


# -- finding 7: leftovers, and the kept sessions managed --------------------------------------


def test_kept_sessions_are_listed_and_cleaned(env, cli_run, private_tmpdir):
    """A failed task keeps its session with why; list --kept shows it; clean removes it."""
    code, _, err = finish(cli_run(*IDLE, "failtasks:boom", env=env))
    assert code == 1, err
    kept = sessions(private_tmpdir)
    assert len(kept) == 1 and json.loads((kept[0] / "kept.json").read_text())["why"].startswith(
        "the task raised ValueError"
    )
    listed = run_cli(env, "list", "--kept", "--json")
    rows = json.loads(listed.stdout)
    assert [r["path"] for r in rows] == [str(kept[0].resolve())], listed
    assert rows[0]["size"] > 0 and "ValueError" in rows[0]["why"]
    young = run_cli(env, "clean", "--older-than", "7d")
    assert young.returncode == 0 and kept[0].exists(), young
    bad = run_cli(env, "clean", "--older-than", "soon")
    assert bad.returncode == 2 and "7d" in bad.stderr, bad
    done = run_cli(env, "clean")
    assert done.returncode == 0 and not kept[0].exists(), done


def test_an_empty_session_is_never_kept_and_stale_runtime_files_go(
    env, cli_run, private_tmpdir, tmp_path
):
    """A run that never started a server keeps nothing; `list` removes a dead server's files."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        code, _, err = finish(cli_run("run", "--port", str(port), "failtasks:add", env=env))
    assert code == 4 and str(port) in err, err
    assert not sessions(private_tmpdir)
    runtime = Path(env["JUPYTER_RUNTIME_DIR"])
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = runtime / f"jpserver-{dead.pid}.json"
    stale.write_text(json.dumps({"pid": dead.pid, "url": f"http://127.0.0.1:{free_port()}/"}))
    (runtime / f"jpserver-{dead.pid}-open.html").write_text("")
    listed = run_cli(env, "list")
    assert listed.returncode == 0, listed
    assert not list(runtime.glob("jpserver-*")), list(runtime.iterdir())
    with contextlib.suppress(OSError):
        dead.kill()


# -- issue 22, finding 9: what a kept session says about how it ended ------------------------


def kept_why(folder: Path) -> tuple[str, bool]:
    """The one kept session's why, and whether it has error.json."""
    (kept,) = sessions(folder)
    return json.loads((kept / "kept.json").read_text())["why"], (kept / "error.json").exists()


@PLAIN_AND_ASYNC
def test_the_task_s_own_keyboard_interrupt_is_its_failure(env, cli_run, private_tmpdir, suffix):
    """A KeyboardInterrupt the task raises itself (no signal) is the task's failure: exit 1 with
    its traceback, error.json, and `list --kept` says the task raised it (not SIGINT)."""
    task = f"failtasks:interrupts_itself{suffix}"
    code, _, err = finish(cli_run(*IDLE, task, env=env))
    assert code == 1, err
    assert "KeyboardInterrupt: the task stops itself" in err and "Traceback" in err, err
    assert "raised KeyboardInterrupt itself" in err and "(SIGINT)" not in err, err
    why, has_error = kept_why(private_tmpdir)
    assert why == "the task raised KeyboardInterrupt: the task stops itself" and has_error
    (kept,) = sessions(private_tmpdir)
    assert json.loads((kept / "error.json").read_text())["type"] == "KeyboardInterrupt"
    listed = run_cli(env, "list", "--kept")
    assert "the task raised KeyboardInterrupt" in listed.stdout, listed
    plain = run_cli(env, "run", "--no-enable", task)
    assert plain.returncode == 1 and "raised KeyboardInterrupt itself" in plain.stderr, plain


@PLAIN_AND_ASYNC
def test_sigint_while_the_task_runs_is_still_an_interruption(env, cli_run, private_tmpdir, suffix):
    """SIGINT while the resumed task runs: exit 130, kept as interrupted by SIGINT, no error."""
    mark = private_tmpdir.parent / "running"
    kwargs = json.dumps({"mark": str(mark)})
    task = f"failtasks:runs_until_interrupted{suffix}"
    proc = cli_run(*IDLE, task, "--kwargs", kwargs, env=env)
    wait_for(lambda: mark.exists() or proc.poll() is not None, 60, "the task to run")
    proc.send_signal(signal.SIGINT)
    code, _, err = finish(proc)
    assert code == 130 and "interrupted (SIGINT)" in err, err
    assert kept_why(private_tmpdir) == ("interrupted by SIGINT", False)


def test_a_sigterm_d_session_is_listed_as_stopped_by_sigterm(env, cli_run, tmp_path):
    """SIGTERM while the session waits: exit 143; `list --kept` says stopped by SIGTERM, not
    that the task raised something."""
    ready = tmp_path / "ready.json"
    proc = cli_run(*waiting(ready), "failtasks:add", env=env)
    read_ready(ready, proc)
    proc.send_signal(signal.SIGTERM)
    code, _, err = finish(proc)
    assert code == 143, err
    listed = run_cli(env, "list", "--kept", "--json")
    rows = json.loads(listed.stdout)
    assert [r["why"] for r in rows] == ["stopped by SIGTERM"], listed
