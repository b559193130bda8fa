"""`jupyter interactive-task` run as a user runs it: subprocesses, real servers, real HTTP."""

from __future__ import annotations

import json
import pickle
import re
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import psutil
import pytest

from harness import BIN, TOKEN, finish, free_port, http, kill_tree, read_ready, wait_for
from harness import run_cli as cli

# -- helpers ------------------------------------------------------------------------


def assert_clear_error(proc: subprocess.CompletedProcess[str], code: int, *words: str) -> None:
    """Exit code `code`, one line on stderr naming words, no traceback."""
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    for word in words:
        assert word in proc.stderr, (word, proc.stderr)


# -- resume / status / list against a plain server with the extension ----------------


def test_status_and_list_find_the_running_session(cli_env, cli_server):
    """status with no --url finds the one session; list prints url with token and state."""
    server = cli_server()
    ready = {
        "url": f"{server.url}/lab?token={TOKEN}",
        "server_url": server.url + "/",
        "base_url": "/",
        "port": server.port,
        "token": TOKEN,
        "pid": server.proc.pid,
        "session_dir": str(server.session_dir),
    }
    (server.session_dir / "server.json").write_text(json.dumps(ready))

    listed = cli(cli_env, "list")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.strip().splitlines()
    assert len(lines) == 1, listed.stdout
    assert f"?token={TOKEN}" in lines[0]
    assert str(server.proc.pid) not in lines[0]
    assert "waiting" in lines[0] and "stops in " in lines[0]

    as_json = cli(cli_env, "list", "--json")
    assert json.loads(as_json.stdout)[0]["status"]["state"] == "waiting"

    found = cli(cli_env, "status")
    assert found.returncode == 0, found.stderr
    status = json.loads(found.stdout)
    assert status["state"] == "waiting"
    assert status["session_dir"] == str(server.session_dir)

    by_dir = cli(cli_env, "status", "--session-dir", str(server.session_dir))
    assert by_dir.returncode == 0, by_dir.stderr
    assert json.loads(by_dir.stdout)["session_dir"] == str(server.session_dir)

    bad_token = cli(cli_env, "status", "--url", server.url, "--token", "wrong")
    assert_clear_error(bad_token, 2, "refused the token")


def test_resume_by_url_then_refused_then_gone(cli_env, cli_server):
    """resume → 202 (exit 0), again while stopping → 409 (exit 1), after exit → exit 2."""
    server = cli_server("--InteractiveApp.resume_grace_seconds=3")
    url = server.url + "/lab"

    bad_json = cli(cli_env, "resume", "--url", url, "--token", TOKEN, "--inputs", '{"epochs": ')
    assert_clear_error(bad_json, 2, "--inputs is not valid JSON")
    unknown = cli(cli_env, "resume", "--url", url, "--token", TOKEN, "--inputs", '{"lr": 1}')
    assert_clear_error(unknown, 2, "rejected the inputs", "unknown input(s) lr", "epochs")

    ok = cli(cli_env, "resume", "--url", f"{url}?token={TOKEN}", "--inputs", '{"epochs": 7}')
    assert ok.returncode == 0, ok.stderr
    assert "resuming" in ok.stdout
    outcome = json.loads((server.session_dir / "outcome.json").read_text())
    assert outcome["reason"] == "resumed"
    assert outcome["inputs"] == {"epochs": 7}

    again = cli(cli_env, "resume", "--url", server.url, "--token", TOKEN)
    assert_clear_error(again, 1, "already stopping (resumed)")

    server.proc.wait(20)
    gone = cli(cli_env, "resume", "--url", server.url, "--token", TOKEN)
    assert_clear_error(gone, 2, "no server answers at", "list")


def test_resume_by_url_of_a_local_session_needs_no_token_and_says_each_overrides_origin(
    cli_env, cli_server
):
    server = cli_server()
    saved = {"lr": {"value": 0.5, "json": True}}  # what save_inputs(lr=0.5) in a kernel wrote
    (server.session_dir / "saved_inputs.json").write_text(json.dumps(saved))
    ok = cli(cli_env, "resume", "--url", server.url + "/lab", "--inputs", '{"epochs": 7}')
    assert ok.returncode == 0, ok.stderr
    assert "input overrides: epochs=7 (from --inputs), lr=0.5 (from save_inputs())" in ok.stdout
    assert "the others original" in ok.stdout
    outcome = json.loads((server.session_dir / "outcome.json").read_text())
    assert outcome["inputs"] == {"epochs": 7}


def test_status_to_a_closed_pipe_ends_quietly(cli_env, cli_server):
    server = cli_server()
    args = ["status", "--url", server.url, "--token", TOKEN]
    proc = subprocess.Popen(
        [str(BIN / "jupyter-interactive-task"), *args],
        env=cli_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    proc.stdout.close()  # `status | head -0`: the reader is gone before the JSON comes
    err = proc.communicate(timeout=30)[1]
    assert proc.returncode == 0 and "Traceback" not in err and "BrokenPipe" not in err, err


def test_each_commands_help_is_its_own(cli_env):
    status = cli(cli_env, "status", "--help")
    resume = cli(cli_env, "resume", "--help")
    assert status.returncode == resume.returncode == 0
    assert "bad --inputs" in resume.stdout and "409" in resume.stdout
    assert "--inputs" not in status.stdout and "409" not in status.stdout


def test_resume_finds_the_session_or_says_why_not(cli_env, cli_server):
    """With no --url: none running, exactly one (resumed), several (listed) are all clear."""
    none = cli(cli_env, "resume")
    assert_clear_error(none, 2, "no running interactive task session found", "--url")

    plain = cli_server(name="plain", task=False)
    first = cli_server(name="a")
    second = cli_server(name="b")
    several = cli(cli_env, "resume")
    assert_clear_error(several, 2, "2 interactive task sessions", first.url, second.url)
    assert plain.url not in several.stderr

    listed = cli(cli_env, "list")
    lines = listed.stdout.strip().splitlines()
    assert len(lines) == 3 and "plain server" in lines[-1] and plain.url in lines[-1], lines

    kill_tree(second.proc)
    one = cli(cli_env, "resume")  # the one task session, not the plain server beside it
    assert one.returncode == 0, one.stderr
    first.proc.wait(20)
    assert json.loads((first.session_dir / "outcome.json").read_text())["reason"] == "resumed"
    assert plain.proc.poll() is None and not (plain.session_dir / "outcome.json").exists()


# -- run: the task wrapper driven from the command line -------------------------------

TASKS = '''
import os


def add(a, b=1):
    """Adds; prints, to check that stdout carries only the result."""
    print("hello from the task")
    return {"sum": a + b, "pid": os.getpid()}


def boom(x=1):
    raise ValueError("boom in the task")


def opaque():
    return object()
'''


@pytest.fixture
def tasks(tmp_path: Path) -> Path:
    """A task module in a folder of its own."""
    folder = tmp_path / "tasks"
    folder.mkdir()
    path = folder / "mytasks.py"
    path.write_text(TASKS)
    return path


def _tree(pid: int) -> list[psutil.Process]:
    """pid's descendants (kernels may run in sessions of their own: not killpg)."""
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def test_run_waits_then_resume_over_rest_returns_the_result(tmp_path, cli_env, tasks, cli_run):
    """run → list/status see it → `resume --url` with overrides → exit 0, result on stdout."""
    ready_file = tmp_path / "ready.json"
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    run = cli_run(
        "run",
        "mytasks:add",
        "--kwargs",
        '{"a": 2}',
        "--port=0",
        f"--ready-file={ready_file}",
        f"--notebook-dir={notebooks}",
        "--max-idle-seconds=60",
        cwd=tasks.parent,
    )
    ready = read_ready(ready_file, run)

    listed = cli(cli_env, "list")
    assert listed.returncode == 0, listed.stderr
    assert "waiting" in listed.stdout and "add" in listed.stdout, listed.stdout
    assert f"token={ready['token']}" in listed.stdout
    status = cli(cli_env, "status")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["task"]["qualname"] == "add"

    resumed = cli(cli_env, "resume", "--url", ready["url"], "--inputs", '{"b": 10}')
    assert resumed.returncode == 0, resumed.stderr

    code, out, err = finish(run)
    assert code == 0, err
    result = json.loads(out)
    assert result["sum"] == 12
    assert result["pid"] == run.pid  # the task ran in the CLI's own process
    assert "hello from the task" in err and "hello" not in out


def test_the_example_task_resumed_by_url_and_token(tmp_path, cli_env, cli_run):
    """examples/train.py: its decorator's options apply, flags override; resume with overrides."""
    example = Path(__file__).resolve().parent.parent / "examples" / "train.py"
    ready_file = tmp_path / "ready.json"
    run = cli_run(
        "run",
        f"{example}:train",
        "--kwargs",
        '{"epochs": 2}',
        "--port=0",
        f"--ready-file={ready_file}",
        f"--notebook-dir={tmp_path}",
    )
    ready = read_ready(ready_file, run)
    status = cli(cli_env, "status", "--session-dir", ready["session_dir"])
    assert status.returncode == 0, status.stderr
    body = json.loads(status.stdout)
    assert body["task"]["qualname"] == "train"
    assert body["idle"]["max_idle_seconds"] == 120  # from @interactive(max_idle_seconds=120)

    resumed = cli(
        cli_env,
        "resume",
        "--url",
        ready["server_url"],
        "--token",
        ready["token"],
        "--inputs",
        '{"lr": 0.5}',
    )
    assert resumed.returncode == 0, resumed.stderr
    code, out, err = finish(run)
    assert code == 0, err
    assert json.loads(out) == {"epochs": 2, "lr": 0.5, "loss": 0.25}


def test_the_readme_command_leaves_no_checkpoints_in_the_folder(tmp_path, cli_env, cli_run):
    """JupyterLab checkpoints the notebook it opens and saves: those live in the session, so the
    person's folder holds nothing of them after the resume; their own checkpoints stay."""
    folder = tmp_path / "work"
    (folder / "examples").mkdir(parents=True)
    example = Path(__file__).resolve().parent.parent / "examples" / "train.py"
    (folder / "examples" / "train.py").write_text(example.read_text())
    (folder / "mine" / ".ipynb_checkpoints").mkdir(parents=True)  # the person's own
    ready_file = tmp_path / "ready.json"
    run = cli_run(
        *("run", "examples/train.py:train", "--kwargs", '{"epochs": 5}'),
        *("--max-idle-seconds", "120", "--on-idle", "resume"),  # the README's command
        *("--port=0", f"--ready-file={ready_file}"),
        cwd=folder,
    )
    ready = read_ready(ready_file, run)
    base, token = ready["server_url"], ready["token"]
    nb = "api/contents/train-interactive.ipynb"
    model = http("GET", f"{base}{nb}", token)
    assert model.status == 200, model
    for path in (f"{nb}/checkpoints", f"{nb}/checkpoints"):  # on opening, after a save
        assert http("POST", f"{base}{path}", token).status == 201
    assert http("PUT", f"{base}{nb}", token, body=model.body).status == 200
    listed = http("GET", f"{base}{nb}/checkpoints", token)
    assert listed.status == 200 and len(listed.body) == 1, listed  # restorable in the session
    kept = Path(ready["session_dir"]) / "checkpoints" / "train-interactive-checkpoint.ipynb"
    assert kept.is_file()
    restored = http("POST", f"{base}{nb}/checkpoints/checkpoint", token)
    assert restored.status == 204, restored
    assert not (folder / ".ipynb_checkpoints").exists()

    assert cli(cli_env, "resume", "--url", ready["url"]).returncode == 0
    code, out, err = finish(run)
    assert code == 0, err
    assert json.loads(out)["epochs"] == 5
    made = sorted(str(p.relative_to(folder)) for p in folder.rglob(".ipynb_checkpoints"))
    assert made == ["mine/.ipynb_checkpoints"], made


def test_run_writes_json_and_pickle_outputs(tmp_path, cli_env, tasks):
    """--output .json is JSON, .pkl is a pickle; --kwargs overrides --kwargs-file."""
    kwargs_file = tmp_path / "kwargs.json"
    kwargs_file.write_text('{"a": 1, "b": 2}')
    as_json = tmp_path / "result.json"
    as_pkl = tmp_path / "result.pkl"
    task = f"{tasks}:add"

    r = cli(
        cli_env, "run", task, "--no-enable", f"--kwargs-file={kwargs_file}", f"--output={as_json}"
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""
    assert json.loads(as_json.read_text())["sum"] == 3

    r = cli(
        cli_env,
        "run",
        task,
        "--no-enable",
        f"--kwargs-file={kwargs_file}",
        "--kwargs",
        '{"b": 5}',
        f"--output={as_pkl}",
    )
    assert r.returncode == 0, r.stderr
    assert pickle.loads(as_pkl.read_bytes())["sum"] == 6

    kwargs_pkl = tmp_path / "kwargs.pkl"
    kwargs_pkl.write_bytes(pickle.dumps({"a": 10}))
    r = cli(cli_env, "run", task, "--no-enable", f"--kwargs-file={kwargs_pkl}")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["sum"] == 11

    opaque = cli(cli_env, "run", f"{tasks}:opaque", "--no-enable")
    assert_clear_error(opaque, 1, "not JSON-serializable", ".pkl")
    r = cli(cli_env, "run", f"{tasks}:opaque", "--no-enable", f"--output={as_pkl}")
    assert r.returncode == 0, r.stderr


def test_a_task_that_raises_exits_1_with_its_traceback(cli_env, tasks):
    """The task's exception: exit 1, its traceback on stderr."""
    r = cli(cli_env, "run", f"{tasks}:boom", "--no-enable")
    assert r.returncode == 1, r.stderr
    assert "Traceback" in r.stderr and "ValueError: boom in the task" in r.stderr
    assert r.stdout == ""


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["{t}:add", "--kwargs", '{"a": 1'], ["--kwargs is not valid JSON", "object like"]),
        (["{t}:add", "--kwargs", "[1, 2]"], ["--kwargs must be a JSON object", "list"]),
        (["{t}:add", "--kwargs", '{"a": NaN}'], ["--kwargs: NaN is not a JSON value"]),
        (["{t}:add", "--kwargs", '{"a": -Infinity}'], ["--kwargs: -Infinity is not a JSON"]),
        (["no_such_module_xyz:add"], ["no_such_module_xyz"]),
        (["{t}:no_such_function"], ["no_such_function"]),
        (["/no/such/dir/task.py:add"], ["/no/such/dir/task.py"]),
        (["{t}"], ["MODULE:FUNCTION"]),
        (["{t}:add", "--kwargs", '{"a": 1, "c": 1}'], ["do not fit add(a, b=1)", "'c'"]),
        (["{t}:add"], ["do not fit add(a, b=1)", "'a'"]),
        (["{t}:add", "--kwargs-file", "/no/such/kwargs.json"], ["/no/such/kwargs.json"]),
        (["{t}:add", "--kwargs", '{"a": 1}', "--max-idle-seconds=-1"], ["max_idle_seconds"]),
        (["{t}:add", "--kwargs", '{"a": 1}', "--on-idle=never"], ["--on-idle", "never"]),
        (["{t}:add", "--kwargs", '{"a": 1}', "--output=/no/such/r.json"], ["/no/such/r.json"]),
    ],
    ids=[
        "bad-json",
        "not-an-object",
        "nan",
        "infinity",
        "unknown-module",
        "unknown-function",
        "missing-file",
        "no-colon",
        "unknown-kwarg",
        "missing-kwarg",
        "missing-kwargs-file",
        "bad-option",
        "bad-choice",
        "output-dir-missing",
    ],
)
def test_bad_arguments_exit_2_with_one_clear_line(cli_env, tasks, args, words):
    """Bad input is exit 2 with a message saying what is wrong, never a traceback."""
    r = cli(cli_env, "run", *(a.replace("{t}", str(tasks)) for a in args))
    assert_clear_error(r, 2, *words)
    assert r.stdout == ""


@pytest.mark.parametrize("flag", ["--max-idle-seconds=-5", "--max-lifetime-seconds=-1"])
def test_a_negative_time_is_refused_before_anything_starts(cli_env, tasks, flag):
    """A negative time is exit 2 naming it, before the server child is spawned ahead."""
    r = cli(cli_env, "run", "--log-level=DEBUG", f"{tasks}:add", "--kwargs", '{"a": 1}', flag)
    assert_clear_error(
        r, 2, "must be >= 0 (0 disables it)", flag.split("=")[0][2:].replace("-", "_")
    )
    assert "waiting server child" not in r.stderr, r.stderr  # none was spawned
    assert r.stdout == ""


def add_one(tasks: Path, notebook_dir: Path) -> tuple[str, ...]:
    """`run` of the test module's add(a=1), its notebook in notebook_dir."""
    return ("run", f"{tasks}:add", "--kwargs", '{"a": 1}', f"--notebook-dir={notebook_dir}")


def test_idle_timeout_with_on_idle_fail_exits_3(tmp_path, cli_env, tasks, cli_run):
    """Nobody attaches: the server stops after the idle timeout and run exits 3."""
    run = cli_run(*add_one(tasks, tmp_path), "--port=0", "--max-idle-seconds=2", "--on-idle=fail")
    code, out, err = finish(run)
    assert code == 3, err
    assert "idle" in err.lower()
    assert out == ""


def test_a_taken_port_exits_4_naming_the_port(tmp_path, cli_env, tasks, cli_run):
    """The port is taken: exit 4 (ServerError), the message names the port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        run = cli_run(*add_one(tasks, tmp_path), f"--port={port}")
        code, _, err = finish(run)
    assert code == 4, err
    assert str(port) in err


NOT_HERE = "192.0.2.1"
"""TEST-NET-1 (RFC 5737): an address no interface of a test machine has."""


def assigned(ip: str) -> bool:
    """Whether this machine has ip (a bind to it works)."""
    with socket.socket() as s:
        try:
            s.bind((ip, 0))
        except OSError:
            return False
    return True


@pytest.mark.parametrize(
    ("ip", "words"),
    [
        ("999.1.1.1", ["cannot listen on 999.1.1.1", "neither an IP address nor a host name"]),
        ("bogus.invalid", ["cannot listen on bogus.invalid", "neither an IP address"]),
        (NOT_HERE, [f"address {NOT_HERE} is not available on this machine"]),
    ],
    ids=["not-an-address", "no-such-name", "another-machine-s"],
)
def test_an_ip_it_cannot_listen_on_is_one_line(tmp_path, cli_env, tasks, private_tmpdir, ip, words):
    """Finding 9: --ip that does not resolve, or that no interface here has: exit 4, one line
    saying what is wrong and what to pass instead (not a port in use), no session left."""
    if ip == NOT_HERE and assigned(ip):
        pytest.skip(f"this machine has {ip}")
    r = cli(cli_env, *add_one(tasks, tmp_path), f"--ip={ip}", f"--port={free_port()}", timeout=120)
    assert_clear_error(r, 4, *words, "127.0.0.1", "0.0.0.0")
    assert "already in use" not in r.stderr, r.stderr
    said = [line for line in r.stderr.splitlines() if not line.startswith("[")]
    assert len(said) == 1, r.stderr
    assert not list(private_tmpdir.glob("interactive-*")), r.stderr


def cmdlines(pid: int) -> bytes:
    """The command lines of pid and its descendants, as every user's `ps` shows them."""
    procs = [psutil.Process(pid), *_tree(pid)]
    return b" ".join(" ".join(p.cmdline()).encode() for p in procs if p.is_running())


def test_the_token_from_a_file_or_the_environment_never_shows_in_ps(
    tmp_path, cli_env, tasks, cli_run
):
    """Finding 9: --token-file (0600) and JUPYTER_TOKEN give the server its token, which is in
    no command line of the run's tree; resume --token-file reaches it."""
    secret = "file-token-0123456789abcdef"
    token_file = tmp_path / "token"
    token_file.write_text(secret + "\n")
    token_file.chmod(0o600)
    ready_file = tmp_path / "ready.json"
    flags = ("--port=0", f"--ready-file={ready_file}", f"--token-file={token_file}")
    run = cli_run(*add_one(tasks, tmp_path), *flags)
    ready = read_ready(ready_file, run)
    assert ready["token"] == secret
    assert secret.encode() not in cmdlines(run.pid)
    resumed = cli(cli_env, "resume", "--url", ready["server_url"], "--token-file", str(token_file))
    assert resumed.returncode == 0, resumed.stderr
    code, out, err = finish(run)
    assert code == 0 and json.loads(out)["sum"] == 2, err

    env = {**cli_env, "JUPYTER_TOKEN": "env-token-0123456789abcdef"}
    ready_file.unlink(missing_ok=True)  # the first run removed it
    run = cli_run(*add_one(tasks, tmp_path), "--port=0", f"--ready-file={ready_file}", env=env)
    ready = read_ready(ready_file, run)
    assert ready["token"] == env["JUPYTER_TOKEN"]
    assert env["JUPYTER_TOKEN"].encode() not in cmdlines(run.pid)
    assert cli(env, "resume", "--url", ready["server_url"]).returncode == 0
    assert finish(run)[0] == 0


@pytest.mark.parametrize(
    ("mode", "extra", "words"),
    [
        (0o644, [], ["can be read or written by other users (mode 644)", "chmod 600"]),
        (0o620, [], ["(mode 620)", "chmod 600"]),
        (0o600, ["--token=other"], ["--token or --token-file, not both"]),
    ],
    ids=["readable-by-others", "writable-by-group", "both-flags"],
)
def test_a_token_file_others_can_read_is_refused(
    tmp_path, cli_env, tasks, private_tmpdir, mode, extra, words
):
    """A token file other users can read (or change) is exit 2 with how to fix it, naming the
    file but never the token; nothing starts."""
    secret = "file-token-never-quoted"
    token_file = tmp_path / "token"
    token_file.write_text(secret)
    token_file.chmod(mode)
    r = cli(cli_env, *add_one(tasks, tmp_path), "--port=0", f"--token-file={token_file}", *extra)
    assert_clear_error(r, 2, *words)
    assert secret not in r.stderr and not list(private_tmpdir.glob("interactive-*"))


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_stops_everything(tmp_path, cli_env, tasks, cli_run, signum, code):
    """SIGTERM/SIGINT to run with a kernel open: exit 143/130, server and kernel are gone."""
    ready_file = tmp_path / "ready.json"
    run = cli_run(*add_one(tasks, tmp_path), "--port=0", f"--ready-file={ready_file}")
    ready = read_ready(ready_file, run)
    base = ready["server_url"].rstrip("/")
    for suffix in ("/lab", "/tree"):
        base = base.removesuffix(suffix)
    req = urllib.request.Request(
        f"{base}/api/kernels",
        data=b'{"name": "python3"}',
        method="POST",
        headers={"Authorization": f"token {ready['token']}"},
    )
    with urllib.request.urlopen(req, timeout=60) as resp:
        assert resp.status == 201
    children = _tree(run.pid)
    assert len(children) >= 2, children  # the server and its kernel

    run.send_signal(signum)
    exit_code, out, err = finish(run, timeout=30)
    assert exit_code == code, err
    assert out == ""
    wait_for(
        lambda: not [p for p in children if p.is_running() and p.status() != psutil.STATUS_ZOMBIE],
        10,
        "no child left",
    )


def test_help_shows_the_decorator_defaults(cli_env):
    """run --help names every decorator parameter as a flag, with the defaults."""
    from dataclasses import fields

    from interactive_ext.options import Options

    r = subprocess.run(
        [str(BIN / "jupyter"), "interactive-task", "run", "--help"],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("usage: jupyter interactive-task run")
    for field in fields(Options):
        assert "--" + field.name.replace("_", "-") in r.stdout
    assert "(default: 3600" in r.stdout and "exit codes" in r.stdout
    for entry in re.split(r" (?=--[a-z])", " ".join(r.stdout.split())):  # one flag's help each
        assert entry.count("default") <= 1, f"a default said twice: {entry}"
    assert "(default: the current directory)" in " ".join(r.stdout.split())


def test_python_dash_m_is_the_same_cli(cli_env):
    """`python -m interactive_ext.cli` is the console script under another name."""
    module = subprocess.run(
        [sys.executable, "-m", "interactive_ext.cli", "run", "--help"],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    script = cli(cli_env, "run", "--help")
    assert module.returncode == script.returncode == 0, module.stderr
    assert module.stdout == script.stdout
