"""Hostile machines and hostile input (issue 22): nothing planted runs, nothing escapes.

Each test reproduces one finding as an attacker or a careless client would: files planted in
the notebook dir, HTTP bodies that JSON or the task cannot take, save reports sent at the wrong
time. The tasks run through the CLI, as a person runs them.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from harness import ServerProcess, execute, http, kill_tree, wait_for
from harness.procs import FIGHTERS, fighter_pids

BIN = Path(sys.executable).parent

PLANTED = ["jupyter_lsp", "jupyterlab", "notebook_shim", "jupyter_server_terminals", "terminado"]
"""Modules the server child imports after the hand-over (the names the issue found)."""

TASK = """
import json, math

def task(x: int = 1, rate: float = 0.5, name: str = "a"):
    return {"x": x, "rate": rate, "name": name}
"""


@pytest.fixture
def run_task(tmp_path: Path, private_tmpdir: Path) -> Iterator[Callable[..., Any]]:
    """Start `jupyter-interactive-task run FILE:task` in tmp_path/nb; (process, ready info)."""
    procs: list[subprocess.Popen[str]] = []
    nb = tmp_path / "nb"
    nb.mkdir()
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)

    def start(
        code: str = TASK, filename: str = "task.py", *args: str, **extra_env: str
    ) -> tuple[subprocess.Popen[str], dict[str, Any]]:
        (nb / filename).write_text(code)
        ready = tmp_path / f"ready{len(procs)}.json"
        env = {k: v for k, v in os.environ.items() if k not in ("JUPYTER_TOKEN", "PYTHONPATH")}
        env.update(TMPDIR=str(private_tmpdir), JUPYTER_RUNTIME_DIR=str(runtime))
        env.update(extra_env)
        env.pop("INTERACTIVE_EXT_SESSION", None)
        cmd = [str(BIN / "jupyter-interactive-task"), "run", f"{filename}:task", "--port", "0"]
        cmd += ["--ready-file", str(ready), "--notebook-dir", str(nb), *args]
        proc = subprocess.Popen(
            cmd,
            env=env,
            cwd=nb,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        procs.append(proc)

        def read() -> Any:
            if proc.poll() is not None:
                raise AssertionError(proc.communicate())
            with contextlib.suppress(OSError, ValueError):
                return json.loads(ready.read_text())
            return None

        return proc, wait_for(read, 120, "the ready file")

    try:
        yield start
    finally:
        for proc in procs:
            kill_tree(proc)


def resume(info: dict[str, Any], body: Any = None, raw: bytes | None = None) -> Any:
    """POST /interactive/resume to the session's server."""
    return http("POST", info["server_url"] + "interactive/resume", info["token"], body, raw)


def status(info: dict[str, Any]) -> Any:
    """GET /interactive/status of the session's server."""
    return http("GET", info["server_url"] + "interactive/status", info["token"])


def finish(proc: subprocess.Popen[str], info: dict[str, Any]) -> tuple[int, str, str]:
    """Resume (no overrides) and wait for the run's end: exit code, stdout, stderr."""
    r = resume(info, {"inputs": {}})
    assert r.status == 202, r
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, err


# -- 2 and 10: nothing of the notebook dir runs in the server child ------------------------


def test_modules_planted_in_the_notebook_dir_never_run_in_the_server_child(run_task, tmp_path):
    """Finding 2: jupyter_lsp.py and friends in the notebook dir are not imported by the server
    child (each would write a marker); the session works, kernels keep their working dir."""
    nb = tmp_path / "nb"
    nb.mkdir(exist_ok=True)
    marks = tmp_path / "marks"
    marks.mkdir()
    for name in PLANTED:
        (nb / f"{name}.py").write_text(
            f"open({str(marks / name)!r}, 'w').write(str(__import__('os').getpid()))\n"
        )
    proc, info = run_task()
    assert status(info).status == 200
    kernel = http("POST", info["server_url"] + "api/kernels", info["token"], {"name": "python3"})
    assert kernel.status == 201, kernel
    code, out, err = finish(proc, info)
    assert code == 0, err
    assert json.loads(out) == {"x": 1, "rate": 0.5, "name": "a"}
    assert sorted(p.name for p in marks.iterdir()) == [], err


def test_a_task_file_named_like_a_standard_module_does_not_break_the_server(run_task):
    """Finding 10: a task in dis.py (a standard-library name) is served and resumed."""
    proc, info = run_task(TASK, "dis.py")
    assert status(info).status == 200
    code, out, err = finish(proc, info)
    assert code == 0, err
    assert json.loads(out)["x"] == 1


def test_the_server_config_is_no_file_of_the_session(run_task, private_tmpdir):
    """Finding 1: the config (token, root_dir) reaches the child through its stdin only."""
    proc, info = run_task()
    session = Path(info["session_dir"])
    assert not [p for p in session.iterdir() if "config" in p.name]
    code, _out, err = finish(proc, info)
    assert code == 0, err


# -- 6, 7, 8, 10: what a careless client sends -------------------------------------------


def raw_post(url: str, token: str, data: bytes) -> tuple[int, bytes]:
    """POST data; the status and the raw answer (every byte of it)."""
    req = urllib.request.Request(url, data=data, method="POST")
    req.add_header("Authorization", f"token {token}")
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def waiting(info: dict[str, Any]) -> bool:
    """The session still waits for a resume."""
    r = status(info)
    return r.status == 200 and r.body["state"] == "waiting"


@pytest.mark.parametrize(
    "value",
    [b"NaN", b"Infinity", b"-Infinity", b"1" * 400 + b".5", b"1e400", b"0." + b"3" * 400],
)
def test_values_json_or_the_task_cannot_take_are_400s_that_keep_the_session(run_task, value):
    """Finding 6: NaN, Infinity and a float of 400 digits are refused; the session waits."""
    proc, info = run_task()
    url = info["server_url"] + "interactive/resume"
    code, body = raw_post(url, info["token"], b'{"inputs": {"rate": ' + value + b"}}")
    assert code == 400, body
    assert len(body) < 1024, body
    assert waiting(info)
    r = resume(info, {"inputs": {"rate": 0.25}})
    assert r.status == 202, r
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert json.loads(out)["rate"] == 0.25


def test_a_10_mb_bad_value_gets_a_short_answer_and_a_short_log(run_task):
    """Finding 7: a 400 quotes a prefix of the value and its length; server.log stays small."""
    proc, info = run_task()
    url = info["server_url"] + "interactive/resume"
    big = "a" * 10_000_000
    log = Path(info["session_dir"]) / "server.log"
    before = log.stat().st_size
    for body in ({"inputs": {"x": big}}, {"inputs": {big: 1}}, {big: 1}):
        code, answer = raw_post(url, info["token"], json.dumps(body).encode())
        assert code == 400, answer[:300]
        assert len(answer) < 64 * 1024, len(answer)
        assert b"10000000" in answer or b"characters" in answer, answer[:500]
    assert log.stat().st_size - before < 64 * 1024
    assert waiting(info)
    code, _out, err = finish(proc, info)
    assert code == 0, err


def test_a_save_report_while_waiting_is_refused_and_never_logged(run_task):
    """Finding 8: a report before the stop is a 409; the run's end never names its path."""
    proc, info = run_task()
    url = info["server_url"] + "interactive/saved"
    report = {"client": "c1", "saved": [], "failed": [{"path": "/etc/passwd", "error": "x"}]}
    r = http("POST", url, info["token"], report)
    assert r.status == 400, r  # not a path under the server's root
    report["failed"] = [{"path": "notes.ipynb", "error": "planted"}]
    r = http("POST", url, info["token"], report)
    assert r.status == 409, r
    assert "not stopping" in r.body["message"]
    log = Path(info["session_dir"]) / "server.log"
    assert "planted" not in log.read_text()
    code, _out, err = finish(proc, info)
    assert code == 0, err
    assert "could not save" not in err and "planted" not in err


def test_save_reports_name_short_clients_and_paths_under_the_root():
    """Finding 7 and 8: a 1 MiB client id, an absolute path or '..' are 400s (no HTTP needed)."""
    from interactive_ext.errors import InputsError
    from interactive_ext.session.overrides import parse_saved_body

    ok = {"client": "tab-1", "saved": ["a/b.ipynb"], "failed": [{"path": "c.py", "error": "e"}]}
    assert parse_saved_body(json.dumps(ok).encode()) == ok
    for bad in (
        {"client": "x" * (1 << 20)},
        {"client": ""},
        {"client": "c", "saved": ["/etc/passwd"]},
        {"client": "c", "saved": ["a/../../etc/passwd"]},
        {"client": "c", "failed": [{"path": "../x", "error": "e"}]},
    ):
        with pytest.raises(InputsError) as e:
            parse_saved_body(json.dumps(bad).encode())
        assert len(str(e.value)) < 1000


def test_a_resume_without_a_body_checks_the_changed_sources(run_task, tmp_path):
    """Finding 10: no body, a syntax error in the edited task file: 400, the session waits."""
    proc, info = run_task()
    task_file = tmp_path / "nb" / "task.py"
    good = task_file.read_text()
    task_file.write_text(good + "\ndef broken(:\n")
    code, answer = raw_post(info["server_url"] + "interactive/resume", info["token"], b"")
    assert code == 400, answer
    assert b"task.py" in answer, answer
    assert waiting(info)
    task_file.write_text(good)
    code, _out, err = finish(proc, info)
    assert code == 0, err


# -- 1 and 4: folders another user can change ---------------------------------------------


@pytest.fixture
def other_user() -> Iterator[tuple[int, int]]:
    """A fresh local user (uid, gid), removed afterwards: the attacker."""
    if os.geteuid() != 0:
        pytest.skip("needs root to add a user")
    name = f"i22x{uuid.uuid4().hex[:8]}"
    subprocess.run(["useradd", "--no-create-home", "--user-group", name], check=True)
    try:
        import pwd

        entry = pwd.getpwnam(name)
        yield entry.pw_uid, entry.pw_gid
    finally:
        subprocess.run(["userdel", name], check=False)


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """/tmp/i22-*/shared: mode 777 without the sticky bit (its parent is root's, 755)."""
    top = Path(tempfile.mkdtemp(prefix="i22-", dir="/tmp"))
    top.chmod(0o755)
    shared = top / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    try:
        yield shared
    finally:
        shutil.rmtree(top, ignore_errors=True)


def as_user(user: tuple[int, int], *cmd: str) -> subprocess.CompletedProcess[str]:
    """Run cmd as the other user."""
    return subprocess.run(
        list(cmd), user=user[0], group=user[1], extra_groups=[], capture_output=True, text=True
    )


def cli(env_tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`jupyter-interactive-task ARGS` with TMPDIR=env_tmp."""
    env = {**os.environ, "TMPDIR": str(env_tmp)}
    env.pop("INTERACTIVE_EXT_SESSION", None)
    return subprocess.run(
        [str(BIN / "jupyter-interactive-task"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def old(path: Path, days: float = 2.0) -> None:
    """Make path look days old."""
    then = time.time() - days * 86400
    os.utime(path, (then, then))


def test_unsafe_looks_at_every_folder_above(shared_dir):
    """Finding 1: a private folder inside a folder others can write is unsafe."""
    from interactive_ext.session.directory import unsafe

    mine = shared_dir / "roottmp"
    mine.mkdir(mode=0o700)
    assert unsafe("/tmp") is None  # sticky
    assert "is inside" in (unsafe(mine) or "") and str(shared_dir) in (unsafe(mine) or "")
    link = shared_dir.parent / "link"
    link.symlink_to(mine)
    assert unsafe(link) is not None  # where it resolves counts too


def test_a_tmpdir_under_a_folder_others_can_write_is_not_used(run_task, shared_dir, other_user):
    """Finding 1: TMPDIR=shared/roottmp (shared: 777, no sticky bit): another user can rename
    roottmp away, so the session goes to the private runtime dir instead, with a warning."""
    roottmp = shared_dir / "roottmp"
    roottmp.mkdir(mode=0o700)
    moved = as_user(other_user, "mv", str(roottmp), str(shared_dir / "gone"))
    assert moved.returncode == 0, moved.stderr  # the threat is real
    (shared_dir / "gone").rename(roottmp)
    proc, info = run_task(TASK, "task.py", TMPDIR=str(roottmp))
    assert not info["session_dir"].startswith(str(shared_dir)), info
    code, _out, err = finish(proc, info)
    assert code == 0, err
    assert f"is inside {shared_dir}" in err, err


def test_a_missing_tmpdir_is_refused_in_one_line(tmp_path):
    """Finding 9: TMPDIR that does not exist is named, not replaced by /tmp in silence."""
    missing = tmp_path / "missing"
    (tmp_path / "t.py").write_text(TASK)
    env = {**os.environ, "TMPDIR": str(missing)}
    r = subprocess.run(
        [str(BIN / "jupyter-interactive-task"), "run", "t.py:task", "--port", "0"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 5, r.stderr
    assert f"TMPDIR={missing}" in r.stderr and "Traceback" not in r.stderr


def test_clean_removes_only_sessions(private_tmpdir):
    """Finding 4: `clean --older-than 1d` keeps $TMPDIR/interactive-plots (a person's folder)
    and removes an old kept session."""
    from interactive_ext.session.directory import Session

    plots = private_tmpdir / "interactive-plots"
    plots.mkdir(mode=0o700)
    (plots / "fig.png").write_bytes(b"png")
    old(plots)
    session = Session.create(private_tmpdir)
    session.write_json("kept.json", {"why": "the task raised", "kept_at": time.time() - 3 * 86400})
    r = cli(private_tmpdir, "clean", "--older-than", "1d")
    assert r.returncode == 0, r.stderr
    assert (plots / "fig.png").exists(), r.stdout
    assert not session.path.exists(), r.stdout
    assert "interactive-plots" not in r.stdout


def test_clean_refuses_a_tmpdir_others_can_write(shared_dir, other_user):
    """Finding 4: in a TMPDIR another user can write, they rename a victim's folder into our
    names; `clean` does not look there (as a session would not use it) and removes nothing."""
    victim = shared_dir / "victim"
    victim.mkdir(mode=0o700)
    (victim / "data").write_text("precious")
    old(victim)
    moved = as_user(other_user, "mv", str(victim), str(shared_dir / "interactive-abc123"))
    assert moved.returncode == 0, moved.stderr
    r = cli(shared_dir, "clean")
    assert r.returncode == 0, r.stderr
    assert (shared_dir / "interactive-abc123" / "data").read_text() == "precious"
    assert "not looking into" in r.stderr, r.stderr


# -- 5: children that fight back ------------------------------------------------------------

# the fighters of figure 11 (harness.procs.FIGHTERS): fork on SIGTERM (the parent exits, the
# child goes on); re-fork every 20 ms (a new pid all the time, too fast for a scan of /proc: each
# writes the time into its beat file, argv[1], instead)
MARKS = ("i22-fork-on-term", "i22-refork")

FIGHT = """
import subprocess, sys
for code, mark, beat in {fighters}:
    print(subprocess.Popen([sys.executable, "-c", code, beat, mark], start_new_session=True).pid)
"""
"""Run in a kernel: detach both fighters, print their pids (= their sessions)."""


def in_sessions(sids: set[int]) -> set[int]:
    """Live processes in one of the sessions sids."""
    from interactive_ext.procs import process_table

    return {p for p, (_, _, sid) in process_table().items() if sid in sids}


def last_beat(path: Path) -> float:
    """The time a fighter last wrote into its heartbeat file (0 before it did)."""
    try:
        return float(path.read_text())
    except (OSError, ValueError):
        return 0.0


@pytest.mark.parametrize("end", ["resume", "kill -9", "SIGTERM"])
def test_children_that_fork_on_sigterm_or_refork_are_gone_within_2_s(run_task, tmp_path, end):
    """Finding 5: a process forking on SIGTERM and one re-forking every 20 ms, detached from a
    kernel, are gone within 2 s of the end of the session, however it ends."""
    beats = [tmp_path / f"{m}.beat" for m in MARKS]
    specs = [(c, m, str(b)) for c, m, b in zip(FIGHTERS.values(), MARKS, beats, strict=True)]
    proc, info = run_task()
    sids: set[int] = set()
    try:
        server = ServerProcess(proc, info["port"], info["token"], Path(info["session_dir"]), Path())
        kernel = server.request("POST", "/api/kernels", body={"name": "python3"})
        assert kernel.status == 201, kernel
        msgs = execute(server, kernel.body["id"], FIGHT.format(fighters=specs))
        out = "".join(m["content"].get("text", "") for m in msgs)
        sids = {int(line) for line in out.split()}
        assert len(sids) == 2, msgs
        wait_for(lambda: all(time.time() - last_beat(b) < 0.5 for b in beats), 30, "fighters")
        t0 = time.time()
        if end == "resume":
            assert resume(info, {"inputs": {}}).status == 202
        elif end == "kill -9":
            proc.kill()
        else:
            proc.send_signal(signal.SIGTERM)
        seen = t0  # a stopped process does not beat: it counts until it is gone
        deadline = t0 + 20
        while time.time() < deadline:
            if in_sessions(sids):
                seen = time.time()
            elif all(time.time() - last_beat(b) > 0.5 for b in beats) and time.time() - seen > 0.5:
                break
            time.sleep(0.02)
        seconds = max(seen, *(last_beat(b) for b in beats)) - t0
        print(f"{end}: {seconds:.2f} s")
        assert not in_sessions(sids), in_sessions(sids)
        # figure 11 holds the 2 s bound on a quiet machine; here 8 test runs may share 2 cores
        assert seconds < 5.0, seconds
        proc.communicate(timeout=60)
    finally:
        from interactive_ext.procs import freeze_kill

        freeze_kill(lambda _children: in_sessions(sids))


# -- issue 27: deep bodies, planted kernel modules, the task's own children, the notebook ------


@pytest.mark.parametrize("depth", [900, 65])
def test_a_deeply_nested_body_is_a_400_and_a_short_log(run_task, depth):
    """Finding 5 (issue 27): an untyped value nested 900 deep (or just past the bound) is a
    400 naming the bound, the session waits, and server.log grows by less than 10 KB."""
    task = "def task(x=None):\n    return {'x': x}\n"
    proc, info = run_task(task)
    log = Path(info["session_dir"]) / "server.log"
    before = log.stat().st_size
    body = b'{"inputs": {"x": ' + b"[" * depth + b"]" * depth + b"}}"
    code, answer = raw_post(info["server_url"] + "interactive/resume", info["token"], body)
    assert code == 400, answer[:500]
    assert b"deep" in answer, answer
    assert log.stat().st_size - before < 10_000, log.stat().st_size - before
    assert waiting(info)
    nested: Any = 1
    for _ in range(30):
        nested = [nested]
    r = resume(info, {"inputs": {"x": nested}})
    assert r.status == 202, r
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert json.loads(out)["x"] == nested


def test_a_traceback_in_the_log_is_bounded():
    """Finding 5 (issue 27): a RecursionError logged with its traceback takes a few KB."""
    import io
    import logging

    from interactive_ext.errors import MAX_TRACEBACK, bounded_tracebacks

    def a(n: int) -> int:
        return b(n)

    def b(n: int) -> int:
        return a(n + 1)

    stream = io.StringIO()
    logger = logging.getLogger("i27-bounded")
    logger.addHandler(logging.StreamHandler(stream))
    previous = logging.getLogRecordFactory()
    bounded_tracebacks()
    try:
        try:
            a(0)
        except RecursionError:
            logger.exception("recursed")
    finally:
        logging.setLogRecordFactory(previous)
    assert len(stream.getvalue()) < MAX_TRACEBACK + 500, len(stream.getvalue())
    assert "RecursionError" in stream.getvalue()


def planted(folder: Path, marks: Path, names: tuple[str, ...], owner: tuple[int, int]) -> None:
    """Plant a module per name in folder, owned by owner: each writes a marker if imported."""
    for name in names:
        path = folder / f"{name}.py"
        path.write_text(
            f"open({str(marks / name)!r}, 'w').write(str(__import__('os').getpid()))\n"
            "raise SystemExit('planted module ran')\n"
        )
        os.chown(path, *owner)


KERNEL_CHECK = """
import sys, interactive_ext, task
from interactive_ext import load_inputs
print(repr(sys.path[0]), interactive_ext.__file__, task.__file__, load_inputs())
"""
"""Run in a kernel: what comes first on sys.path, where the modules came from, the inputs."""


def test_modules_planted_in_a_world_writable_notebook_dir_never_run_in_a_kernel(
    run_task, tmp_path, other_user
):
    """Finding 2 (issue 27): ipykernel_launcher.py and interactive_ext.py planted by another
    user in a notebook dir anyone can write: kernels start, import neither, still import the
    task's own module (the folder comes last on sys.path), and the session resumes."""
    nb = tmp_path / "nb"
    nb.mkdir(exist_ok=True)
    nb.chmod(0o777)
    marks = tmp_path / "marks"
    marks.mkdir()
    marks.chmod(0o777)
    planted(nb, marks, ("ipykernel_launcher", "interactive_ext", "runpy"), other_user)
    proc, info = run_task()
    server = ServerProcess(proc, info["port"], info["token"], Path(info["session_dir"]), Path())
    for _ in range(2):  # a second kernel, as an auto-restart would start it
        kernel = server.request("POST", "/api/kernels", body={"name": "python3"})
        assert kernel.status == 201, kernel
        msgs = execute(server, kernel.body["id"], KERNEL_CHECK)
        out = "".join(m["content"].get("text", "") for m in msgs)
        errors = [m["content"] for m in msgs if m["msg_type"] == "error"]
        assert not errors, errors
        first, package, module, inputs = out.split(" ", 3)
        assert first.strip("'") not in ("", str(nb)), out
        assert not package.startswith(str(nb)), out
        assert module == str(nb / "task.py"), out
        assert "'x': 1" in inputs, out
    assert sorted(p.name for p in marks.iterdir()) == []
    code, _out, err = finish(proc, info)
    assert code == 0, err
    assert sorted(p.name for p in marks.iterdir()) == []


def test_a_starter_notebook_another_user_planted_is_never_opened(run_task, tmp_path, other_user):
    """Finding 2 (issue 27): task-interactive.ipynb of another user in the notebook dir is
    moved aside (or left alone): the session's notebook is the starter notebook we wrote."""
    nb = tmp_path / "nb"
    nb.mkdir(exist_ok=True)
    nb.chmod(0o777)
    trap = nb / "task-interactive.ipynb"
    trap.write_text(json.dumps({"cells": [], "metadata": {"planted": True}, "nbformat": 4}))
    os.chown(trap, *other_user)
    proc, info = run_task()
    notebook = Path(status(info).body["notebook"])
    assert "planted" not in notebook.read_text() and "load_inputs" in notebook.read_text()
    assert notebook.stat().st_uid == os.geteuid()
    code, _out, err = finish(proc, info)
    assert code == 0, err
    assert "not opening" in err and "belongs to uid" in err, err


@pytest.mark.parametrize("content", [b"", b"{not json"])
def test_an_empty_or_unreadable_starter_notebook_is_replaced(run_task, tmp_path, content):
    """Smaller findings (issue 27): a 0-byte notebook a full disk left, or a broken one, is set
    aside with a one-line note and a readable starter notebook takes its place."""
    nb = tmp_path / "nb"
    nb.mkdir(exist_ok=True)
    (nb / "task-interactive.ipynb").write_bytes(content)
    proc, info = run_task()
    notebook = Path(status(info).body["notebook"])
    assert notebook == nb / "task-interactive.ipynb"
    assert json.loads(notebook.read_text())["cells"]
    code, _out, err = finish(proc, info)
    assert code == 0, err
    assert "is no readable notebook" in err, err


def test_a_full_disk_leaves_no_empty_notebook(tmp_path, monkeypatch):
    """Smaller findings (issue 27): a write that fails half way leaves no file of that name."""
    from interactive_ext.records import TaskContext
    from interactive_ext.task import starter

    context = TaskContext(module="m", qualname="task", source_file="m.py")
    real = os.fsync

    def full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    folder = tmp_path / "nb"
    folder.mkdir()
    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError, match="No space"):
        starter.write_notebook(folder, context, None)
    monkeypatch.setattr(os, "fsync", real)
    assert list(folder.iterdir()) == []


BEAT = """
import sys, time
while True:
    open(sys.argv[1], "w").write(repr(time.time()))
    time.sleep(0.05)
"""
"""A process that writes the time into its beat file (argv[1]) every 50 ms."""

OWN_CHILDREN = """
import os, subprocess, sys, time

def task(end: str = "return", fork: str = "", beat: str = "", beats: str = ""):
    subprocess.Popen([sys.executable, fork, beats + ".fork"])
    subprocess.run(["sh", "-c", f"setsid {sys.executable} {beat} {beats}.setsid >/dev/null 2>&1 &"])
    while not all(os.path.exists(f"{beats}.{kind}") for kind in ("fork", "setsid")):
        time.sleep(0.02)  # both run
    if end == "raise":
        raise ValueError("the task failed after starting its children")
    if end == "sleep":
        time.sleep(120)
    return end
"""
"""A task that starts a child forking on SIGTERM and a setsid grandchild, then ends as asked."""


@pytest.mark.parametrize("end", ["return", "raise", "SIGTERM", "SIGINT"])
def test_the_tasks_own_children_are_gone_within_2_s_of_its_end(run_task, tmp_path, end):
    """Finding 4 (issue 27): a child of the task that forks on SIGTERM and a setsid grandchild
    are gone within 2 s of the task's end, whether it returns, raises or gets a signal."""
    fork, beat = tmp_path / "fork.py", tmp_path / "beat.py"
    fork.write_text(FIGHTERS["fork-on-term"])
    beat.write_text(BEAT)
    beats = tmp_path / "i27"
    files = [Path(f"{beats}.fork"), Path(f"{beats}.setsid")]
    proc, info = run_task(OWN_CHILDREN)
    inputs = {"fork": str(fork), "beat": str(beat), "beats": str(beats)}
    inputs["end"] = "sleep" if end.startswith("SIG") else end
    try:
        assert resume(info, {"inputs": inputs}).status == 202
        if end.startswith("SIG"):
            wait_for(lambda: all(time.time() - last_beat(b) < 0.5 for b in files), 60, "beats")
            proc.send_signal(getattr(signal, end))
        proc.communicate(timeout=60)
        ended = time.time()
        wait_for(
            lambda: not fighter_pids(files) or None,
            10,
            "the task's children to be gone",
        )
        gone = max(time.time() if fighter_pids(files) else 0, *(last_beat(b) for b in files))
        print(f"{end}: exit {proc.returncode}, last beat {gone - ended:+.2f} s after the end")
        assert gone - ended < 2.0
        assert proc.returncode == {"return": 0, "raise": 1, "SIGTERM": 143, "SIGINT": 130}[end]
    finally:
        from interactive_ext.procs import freeze_kill

        freeze_kill(lambda _children: fighter_pids(files))


def test_sigint_of_the_server_child_leaves_no_runtime_files(run_task, tmp_path):
    """Smaller findings (issue 27): SIGINT to the server child with a kernel running: its
    jpserver-PID.json, -open.html and the kernel's kernel-*.json are gone after the run."""
    runtime = tmp_path / "runtime"
    proc, info = run_task()
    kernel = http("POST", info["server_url"] + "api/kernels", info["token"], {"name": "python3"})
    assert kernel.status == 201, kernel
    wait_for(lambda: list(runtime.glob("kernel-*.json")), 30, "the kernel's connection file")
    os.kill(info["pid"], signal.SIGINT)
    _out, err = proc.communicate(timeout=120)
    left = sorted(p.name for p in runtime.iterdir() if p.name.startswith(("jpserver", "kernel")))
    assert left == [], (left, err[-2000:])


def test_list_removes_stale_kernel_files(tmp_path, private_tmpdir):
    """Smaller findings (issue 27): `list` removes a kernel-*.json no live process names (an
    hour old), keeps a fresh one (a kernel about to start)."""
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    stale, fresh = runtime / "kernel-stale.json", runtime / "kernel-fresh.json"
    for path in (stale, fresh):
        path.write_text("{}")
    old(stale, days=1 / 24)
    env = {**os.environ, "TMPDIR": str(private_tmpdir), "JUPYTER_RUNTIME_DIR": str(runtime)}
    r = subprocess.run(
        [str(BIN / "jupyter-interactive-task"), "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert not stale.exists() and fresh.exists()


def test_options_without_a_token_is_an_empty_preflight_and_not_activity(run_task):
    """Smaller findings (issue 27): OPTIONS answers 200 with no body and no token, as
    docs/rest.md now says (a CORS preflight carries none), and does not move the idle clock."""
    proc, info = run_task(TASK, "task.py", "--max-idle-seconds", "600")
    before = http("GET", info["server_url"] + "interactive/heartbeat", info["token"]).body
    for path in ("interactive/resume", "interactive/status", "interactive/heartbeat"):
        req = urllib.request.Request(info["server_url"] + path, method="OPTIONS")
        with urllib.request.urlopen(req, timeout=30) as r:
            assert r.status == 200 and r.read() == b""
    after = http("GET", info["server_url"] + "interactive/heartbeat", info["token"]).body
    assert after["last_activity"] == before["last_activity"], (before, after)
    rest = (Path(__file__).parent.parent / "docs" / "rest.md").read_text()
    assert "`OPTIONS` on any endpoint is the exception" in rest
    code, _out, err = finish(proc, info)
    assert code == 0, err


def test_save_changes_to_refuses_another_users_folder_and_link(shared_dir, other_user, tmp_path):
    """Smaller findings (issue 27): the patch is not written into a folder others can change
    nor through another user's link to our own folder; a private folder takes it."""
    from interactive_ext.session.changes import Changes
    from interactive_ext.task.patches import save

    changes = Changes(task="task", root=str(tmp_path))
    theirs = shared_dir / "theirs"
    theirs.mkdir()
    os.chown(theirs, *other_user)
    mine = tmp_path / "mine"
    mine.mkdir(mode=0o700)
    link = shared_dir / "link"
    link.symlink_to(mine)
    os.lchown(link, *other_user)
    for to in (shared_dir, theirs, link, shared_dir / "new" / "deeper"):
        assert save(changes, str(to)) is None, to
    assert list(theirs.iterdir()) == [] and list(mine.iterdir()) == []
    assert not (shared_dir / "new").exists()
    where = save(changes, str(mine))
    assert where is not None and Path(where).parent == mine


@pytest.mark.parametrize(
    ("url", "words"),
    [("foo://bucket/x", "knows no foo:// file system"), ("oci://b/x", "pip install ocifs")],
)
def test_an_unknown_or_uninstalled_scheme_is_refused_at_start(tmp_path, url, words):
    """Smaller findings (issue 27): --save-changes-to foo:// (or a scheme whose package is
    missing) is refused at start in one line (exit 2), not warned about at the resume."""
    (tmp_path / "t.py").write_text(TASK)
    r = subprocess.run(
        [str(BIN / "jupyter-interactive-task"), "run", "t.py:task", "--save-changes-to", url],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2, r.stderr
    assert words in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_rank_0_whose_other_rank_never_came_does_not_succeed(run_task):
    """Finding 3 (issue 27): rank 0 of 2, resumed, its rank 1 never started: after waiting for
    it (30 s) rank 0 exits 1 with one line saying so, not 0 with half the job done."""
    from harness import free_port

    env = {"WORLD_SIZE": "2", "RANK": "0", "INTERACTIVE_EXT_RANK_SECRET": "s" * 32}
    env["INTERACTIVE_EXT_RANK_ADDR"] = f"127.0.0.1:{free_port()}"
    proc, info = run_task(TASK, "task.py", **env)
    assert resume(info, {"inputs": {}}).status == 202
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err
    assert "1 of the 1 other ranks never got rank 0's outcome" in err.splitlines()[-1], err
    assert "Traceback" not in err, err


def test_a_real_rank_1_finishes_while_64_strangers_hammer_rank_0s_port(run_task, tmp_path):
    """Finding 3 (issue 27): two ranks run through the CLI; 64 connections hold rank 0's port
    and come back as they are cut; rank 1, started during the flood, gets the resume's
    overrides and both ranks exit 0 with the same result."""
    import threading

    from harness import free_port, hammer

    port = free_port()
    env = {"WORLD_SIZE": "2", "INTERACTIVE_EXT_RANK_SECRET": "s" * 32}
    env["INTERACTIVE_EXT_RANK_ADDR"] = f"127.0.0.1:{port}"
    proc, info = run_task(TASK, "task.py", RANK="0", **env)
    stop, count = threading.Event(), [0]
    flood = threading.Thread(target=hammer, args=(port, stop, count), daemon=True)
    flood.start()
    rank1 = None
    try:
        wait_for(lambda: count[0] >= 64, 30, "the flood to hold 64 connections")
        cmd = [str(BIN / "jupyter-interactive-task"), "run", "task.py:task"]
        rank1 = subprocess.Popen(
            cmd,
            cwd=tmp_path / "nb",
            env={**os.environ, "TMPDIR": info["session_dir"].rsplit("/", 1)[0], **env, "RANK": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        time.sleep(2)  # rank 1 connects during the flood
        assert resume(info, {"inputs": {"x": 7}}).status == 202
        out1, err1 = rank1.communicate(timeout=120)
        out0, err0 = proc.communicate(timeout=120)
    finally:
        stop.set()
        flood.join(10)
        if rank1 is not None:
            kill_tree(rank1)
    assert rank1.returncode == 0, err1
    assert proc.returncode == 0, err0
    assert json.loads(out1) == json.loads(out0) == {"x": 7, "rate": 0.5, "name": "a"}
    assert count[0] > 64  # strangers were cut and came back
