"""Parked sessions: parked at a failure (S3 via moto, a local folder), opened on another
"machine" (another HOME, TMPDIR and working folder, the sources moved away) in a real kernel,
refused when modified or foreign, and run again with the edits made in the opened session."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from harness import (
    http,
    kill_tree,
    read_ready,
    run_cell,
    run_cli,
    server_of,
    start_kernel,
    start_task,
    wait_for,
    write,
)

TRAIN = """
import os

import numpy as np

from interactive_ext import interactive


def helper(values, scale):
    table = {"scale": scale, "n": len(values)}
    return values[scale]


@interactive(
    on_failure=os.environ.get("ON_FAILURE", "park"),
    port=0,
    ready_file=os.environ.get("READY_FILE"),
    max_idle_seconds=float(os.environ.get("IDLE", "120")),
)
def train(epochs: int = 2, data=None, thing=None):
    label = "outer"
    total = float(np.sum(data))
    return helper(list(range(3)), epochs + 10) + total
"""

RUN = """
import json, os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "vendor"))
import numpy as np
from gpu_only import Thing
from pkg.train import train
print(json.dumps(train(epochs=2, data=np.arange(300000.0), thing=Thing(7))))  # 2.4 MB: lazy
"""

TOTAL = float(sum(range(300000)))
"""The sum of the task's data input."""

INSPECT = """
import io, json, pdb, sys
from interactive_ext import load_error, load_frames, load_inputs
inputs = load_inputs()
frames = load_frames()
exc = load_error()
print(json.dumps({
    "names": [f.name for f in frames], "table": frames[-1].locals["table"],
    "label": frames[-2].locals["label"], "data": inputs["data"][:5].tolist(),
    "size": len(inputs["data"]), "local": float(frames[-2].locals["data"].sum()),
    "epochs": inputs["epochs"], "thing": repr(inputs["thing"]), "exc": type(exc).__name__,
}))
debugger = pdb.Pdb(stdin=io.StringIO("p scale\\nl\\nup\\np label\\nq\\n"), stdout=sys.stdout)
debugger.use_rawinput = False
debugger.reset()
debugger.interaction(None, exc.__traceback__)
"""


def make_task(tmp_path: Path) -> Path:
    """The task's sources (src/pkg/train.py, src/run.py) and a module outside them (vendor/)."""
    src = tmp_path / "src"
    (src / "pkg").mkdir(parents=True)
    (tmp_path / "vendor").mkdir()
    write(src / "pkg", "__init__.py", "")
    write(src / "pkg", "train.py", TRAIN)
    write(src, "run.py", RUN)
    write(
        tmp_path / "vendor",
        "gpu_only.py",
        "class Thing:\n    def __init__(self, n):\n        self.n = n\n",
    )
    return src


def base_env(cli_env: dict[str, str], **extra: str) -> dict[str, str]:
    """The user's environment with extra variables (no park key unless given)."""
    env = {k: v for k, v in cli_env.items() if k != "INTERACTIVE_EXT_PARK_KEY"}
    return {**env, **extra}


def run_task(src: Path, env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run the task as a batch job does (its own process group); the finished process and its
    seconds, once nothing of its group is left."""
    started = time.monotonic()
    proc = start_task([sys.executable, "run.py"], env, src)
    out, err = proc.communicate(timeout=120)
    seconds = time.monotonic() - started
    with pytest.raises(ProcessLookupError):  # no server, kernel or child of it is left
        os.killpg(proc.pid, 0)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err), seconds


def parked_where(stderr: str) -> str:
    """The parked folder the log names, from its `open` command."""
    match = re.search(r"jupyter interactive-task open (\S+)", stderr)
    assert match, stderr
    return match[1]


def laptop(tmp_path: Path, env: dict[str, str], name: str) -> tuple[dict[str, str], Path]:
    """Another machine: its own HOME, TMPDIR, runtime dir and working folder."""
    root = tmp_path / name
    for sub in ("home", "tmp", "work", "runtime"):
        (root / sub).mkdir(parents=True, mode=0o700)
    other = {
        **env,
        "HOME": str(root / "home"),
        "TMPDIR": str(root / "tmp"),
        "JUPYTER_RUNTIME_DIR": str(root / "runtime"),
    }
    return other, root / "work"


def cli(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`jupyter interactive-task ARGS` run to its end in cwd."""
    return run_cli(env, *args, cwd=cwd, timeout=120)


def test_a_failure_parked_on_s3_is_released_at_once_opened_elsewhere_and_run_again(
    tmp_path: Path, cli_env: dict[str, str], s3: dict[str, str], cli_run: Any
) -> None:
    src = make_task(tmp_path)
    env = base_env(cli_env, **s3, INTERACTIVE_EXT_PARK_TO="s3://fixes/parks")
    done, seconds = run_task(src, env)
    assert done.returncode == 1, done.stderr
    assert "IndexError: list index out of range" in done.stderr
    assert seconds < 15, seconds  # no server: the machine is released at once
    where = parked_where(done.stderr)
    assert where.startswith("s3://fixes/parks/train-")
    listed = cli(env, tmp_path, "list", "--parked")
    assert "train" in listed.stdout and "IndexError" in listed.stdout, listed

    (tmp_path / "src").rename(tmp_path / "moved-away")  # as on a laptop
    other, work = laptop(tmp_path, env, "laptop")
    ready = tmp_path / "ready.json"
    proc = cli_run(
        "open", where, "--trust", "--port", "0", "--ready-file", str(ready), env=other, cwd=work
    )
    info = read_ready(ready, proc)
    server = server_of(info, proc)
    status = http("GET", info["server_url"] + "interactive/status", info["token"]).body
    assert status["task"]["parked"].startswith("parked: task train failed on host ")
    assert "prints the `run --from` command" in status["task"]["parked_resume"]
    page = http("GET", info["server_url"] + "interactive", info["token"])
    assert "parked: task train failed on host " in str(page.body)
    kernel = start_kernel(server)
    out, errors = run_cell(server, kernel, INSPECT)
    assert not errors, errors
    head = json.loads(out.splitlines()[0])
    assert head["names"] == ["train", "helper"] and head["exc"] == "IndexError"
    assert head["table"] == {"scale": 12, "n": 3} and head["label"] == "outer"
    assert head["data"] == [0.0, 1.0, 2.0, 3.0, 4.0] and head["size"] == 300000
    assert head["epochs"] == 2 and head["local"] == TOTAL
    assert "gpu_only.Thing not loaded here" in head["thing"]
    assert "No module named 'gpu_only'" in head["thing"]
    assert "12" in out and "'outer'" in out  # pdb: `p scale`, then `up` and `p label`
    listed = re.sub(r"\x1b\[[0-9;]*m", "", out)  # `list`: the laid-out source, moved here
    assert re.search(r"(-> *11|11 *->)\s+return values\[scale\]", listed), listed

    (folder,) = work.glob("train-parked-*")
    edited = folder / "src" / "pkg" / "train.py"
    text = edited.read_text().replace("return values[scale]", "return len(values) * scale")
    write(edited.parent, "train.py", text)
    r = http("POST", info["server_url"] + "interactive/resume", info["token"], body={})
    assert r.status == 202, r
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert out.strip() == f"jupyter interactive-task run --from {where}"

    third, work3 = laptop(tmp_path, env, "slurm-job")
    again = cli(third, work3, "run", "--from", where, "--trust")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout) == 3 * 12 + TOTAL  # the edited helper's result


def test_a_modified_or_foreign_session_is_refused_in_one_line(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    src = make_task(tmp_path)
    parks = tmp_path / "parks"
    env = base_env(cli_env, INTERACTIVE_EXT_PARK_TO=str(parks), INTERACTIVE_EXT_PARK_KEY="key-one")
    done, _ = run_task(src, env)
    assert done.returncode == 1, done.stderr
    where = Path(parked_where(done.stderr))
    assert oct(where.stat().st_mode & 0o777) == "0o700"
    assert all(oct(p.stat().st_mode & 0o777) == "0o600" for p in where.iterdir())
    manifest = json.loads((where / "parked.json").read_text())
    assert manifest["signature"] and manifest["packages"]["numpy"]
    files = manifest["files"]  # the input, a local of the failing frame too, is parked once
    assert files["inputs.pkl"]["size"] > 2_000_000 > 100_000 > files["frames.pkl"]["size"]
    assert all(set(f) == {"blake3", "size"} for f in files.values())  # checked on open below

    other, work = laptop(tmp_path, env, "laptop")
    foreign = cli({**other, "INTERACTIVE_EXT_PARK_KEY": "key-two"}, work, "open", str(where))
    assert foreign.returncode == 2
    assert "signature does not match your key" in foreign.stderr
    assert len(foreign.stderr.strip().splitlines()) == 1

    for name in ("error.json", "inputs.pkl"):  # a small file (fetched first), a big one (later)
        data = bytearray((where / name).read_bytes())
        data[len(data) // 2] ^= 1
        (where / name).write_bytes(bytes(data))
        modified = cli(other, work, "open", str(where), "--port", "0")
        assert modified.returncode == 2, modified.stderr
        last = modified.stderr.strip().splitlines()[-1]
        assert f"refused: {name} was modified after it was parked" in last, modified.stderr
        (where / name).write_bytes(
            bytes(data[: len(data) // 2])
            + bytes([data[len(data) // 2] ^ 1])
            + bytes(data[len(data) // 2 + 1 :])
        )

    (parks / "not-parked").mkdir()  # a folder without a parked manifest is never removed
    young = cli(other, work, "clean", "--parked", str(parks), "--older-than", "7d")
    assert young.returncode == 0 and "nothing to remove" in young.stdout and where.exists()
    removed = cli(other, work, "clean", "--parked", str(parks))
    assert f"removed {where}" in removed.stdout and not where.exists()
    assert (parks / "not-parked").is_dir()


def test_an_idle_stop_of_a_live_session_parks_and_opens(
    tmp_path: Path, cli_env: dict[str, str], cli_run: Any
) -> None:
    src = make_task(tmp_path)
    parks = tmp_path / "parks"
    env = base_env(
        cli_env,
        INTERACTIVE_EXT_PARK_TO=str(parks),
        ON_FAILURE="serve",
        IDLE="1",
        READY_FILE=str(tmp_path / "task-ready.json"),
    )
    done, _ = run_task(src, env)
    assert "IdleTimeout" in done.stderr, done.stderr
    where = parked_where(done.stderr)
    manifest = json.loads((Path(where) / "parked.json").read_text())
    assert manifest["why"].startswith("idle timeout")

    other, work = laptop(tmp_path, env, "laptop")
    ready = tmp_path / "ready.json"
    proc = cli_run(
        "open",
        "--trust",
        "--port",
        "0",
        "--ready-file",
        str(ready),
        "--max-idle-seconds",
        "2",
        env=other,
        cwd=work,
    )  # no argument: the newest at $INTERACTIVE_EXT_PARK_TO
    info = read_ready(ready, proc)
    status = http("GET", info["server_url"] + "interactive/status", info["token"]).body
    assert status["task"]["parked"].startswith("parked: task train failed on host ")
    wait_for(lambda: proc.poll() is not None, 30, "the idle stop of the opened session")
    assert proc.returncode == 3


RECIPE = Path(__file__).parent.parent / "docs" / "recipes" / "gpu-job-fails-at-3am.md"


def test_the_3am_recipe_runs_with_s3(
    tmp_path: Path, cli_env: dict[str, str], s3: dict[str, str], cli_run: Any
) -> None:
    text = RECIPE.read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    code, cell = blocks[0], re.sub(r"^ {3}", "", blocks[1], flags=re.M)
    job = tmp_path / "job"
    job.mkdir()
    write(job, "train.py", code)
    env = base_env(
        cli_env,
        **s3,
        INTERACTIVE_EXT_PARK_TO="s3://fixes/parked/train/",
        INTERACTIVE_EXT_PARK_KEY="the-team-secret",
    )
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "train.py"], cwd=job, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1 and "ZeroDivisionError" in done.stderr, done.stderr
    assert time.monotonic() - started < 15
    where = parked_where(done.stderr)
    (job / "train.py").unlink()  # the GPU box is gone

    other, work = laptop(tmp_path, env, "laptop")
    listed = cli(other, work, "list", "--parked")
    assert where in listed.stdout and "ZeroDivisionError" in listed.stdout, listed
    ready = tmp_path / "ready.json"
    proc = cli_run("open", "--port", "0", "--ready-file", str(ready), env=other, cwd=work)
    info = read_ready(ready, proc)
    server = server_of(info, proc)
    kernel = start_kernel(server)
    check = (
        'print(frames[-1].locals["loss"], frames[-2].locals["i"], '
        'load_inputs()["data"][1024:1280].std())'
    )
    out, errors = run_cell(server, kernel, cell + "\n" + check)
    assert not errors, errors
    assert out.split() == ["0.0", "1024", "0.0"], out

    (folder,) = work.glob("train-parked-*")
    fixed = (folder / "train.py").read_text().replace("lr / loss", "lr / max(loss, 1e-8)")
    write(folder, "train.py", fixed)
    r = http("POST", info["server_url"] + "interactive/resume", info["token"], body={})
    assert r.status == 202, r
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    command = out.strip().split()
    assert command[:4] == ["jupyter", "interactive-task", "run", "--from"] and command[4] == where

    cluster, work2 = laptop(tmp_path, env, "next-job")
    again = cli(cluster, work2, *command[2:])
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["epochs"] == 2


def test_open_resume_here_runs_the_edited_task_on_this_machine(
    tmp_path: Path, cli_env: dict[str, str], cli_run: Any
) -> None:
    src = make_task(tmp_path)
    env = base_env(cli_env, INTERACTIVE_EXT_PARK_TO=str(tmp_path / "parks"))
    done, _ = run_task(src, env)
    where = parked_where(done.stderr)
    other, work = laptop(tmp_path, env, "laptop")
    ready = tmp_path / "ready.json"
    proc = cli_run(
        "open",
        where,
        "--trust",
        "--resume-here",
        "--port",
        "0",
        "--ready-file",
        str(ready),
        env=other,
        cwd=work,
    )
    info = read_ready(ready, proc)
    status = http("GET", info["server_url"] + "interactive/status", info["token"]).body
    assert status["task"]["parked_resume"].startswith("resume runs the task on this machine")
    (folder,) = work.glob("train-parked-*")
    edited = folder / "src" / "pkg" / "train.py"
    write(edited.parent, "train.py", edited.read_text().replace("values[scale]", "scale"))
    r = http("POST", info["server_url"] + "interactive/resume", info["token"], body={})
    assert r.status == 202, r
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert json.loads(out.strip().splitlines()[-1]) == 12 + TOTAL


def test_a_sigterm_of_a_waiting_session_parks_it(tmp_path: Path, cli_env: dict[str, str]) -> None:
    src = make_task(tmp_path)
    ready = tmp_path / "task-ready.json"
    env = base_env(
        cli_env,
        INTERACTIVE_EXT_PARK_TO=str(tmp_path / "parks"),
        ON_FAILURE="serve",
        READY_FILE=str(ready),
    )
    proc = start_task([sys.executable, "run.py"], env, src)
    try:
        read_ready(ready, proc)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        kill_tree(proc)
    assert proc.returncode == 143, err
    manifest = json.loads((Path(parked_where(err)) / "parked.json").read_text())
    assert manifest["why"] == "stopped by SIGTERM" and "inputs.pkl" in manifest["files"]
