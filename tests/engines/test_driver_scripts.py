"""Tasks defined in the driver script, on every engine: edited in the file, resumed, re-defined.

Each driver is one script as people write them (module-level `ray.init`, a `__main__`-guarded
Dask or pool script); the engine ships the task to a worker process. The test edits the task's
body in the driver file while the session waits, resumes with an override, and the engine
returns the edited code's result. In a kernel of the Ray and Dask sessions, the starter
notebook's cells run without starting a cluster or a second session.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import TIMEOUT, Driver, cli, task_sessions

from harness import ServerProcess, execute, http, kill_tree, wait_for

OPTIONS = "port=0, max_idle_seconds=120, notebook_dir={notebooks!r}"

RAY = """
import json

import ray

from interactive_ext import interactive

print("DRIVER MODULE CODE RAN", flush=True)  # in the driver only: never in a worker or actor
ray.init(num_cpus=1, include_dashboard=False)


@ray.remote
@interactive({options}, save_changes_to={changes!r})
def add(x: int, factor: int = 2) -> dict:
    return {{"value": x * factor, "code": "add v1"}}


@ray.remote
class Trainer:
    def __init__(self, base: int) -> None:
        self.base = base

    @interactive({options})
    def fit(self, x: int, factor: int = 2) -> dict:
        return {{"value": self.base + x * factor, "code": "fit v1"}}


print("RESULT " + json.dumps(ray.get(add.remote(3))), flush=True)
trainer = Trainer.remote(100)
print("ACTOR " + json.dumps(ray.get(trainer.fit.remote(3))), flush=True)
ray.shutdown()
"""

TASK = """
import json

from interactive_ext import interactive


@interactive({options})
def add(x: int, factor: int = 2) -> dict:
    return {{"value": x * factor, "code": "add v1"}}

"""

DASK = (
    TASK
    + """
if __name__ == "__main__":
    from distributed import Client, LocalCluster

    with (
        LocalCluster(n_workers=1, processes=True, threads_per_worker=1, dashboard_address=None)
        as cluster,
        Client(cluster) as client,
    ):
        print("RESULT " + json.dumps(client.submit(add, 3, pure=False).result()), flush=True)
"""
)

SPAWN = (
    TASK
    + """
if __name__ == "__main__":
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(1) as pool:
        print("RESULT " + json.dumps(pool.apply(add, (3,))), flush=True)
"""
)

POOL = (
    TASK
    + """
if __name__ == "__main__":
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(1) as pool:
        print("RESULT " + json.dumps(pool.submit(add, 3).result()), flush=True)
"""
)


@pytest.fixture
def driver(tmp_path: Path) -> Iterator[Any]:
    """Factory: write tmp_path/driver.py from a template and run it; stopped at the end."""
    started: list[Driver] = []
    ray_tmp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # short socket paths

    def start(template: str) -> tuple[Driver, Path]:
        options = OPTIONS.format(notebooks=str(tmp_path / "notebooks"))
        path = tmp_path / "driver.py"
        changes = str(tmp_path / "changes")
        path.write_text(textwrap.dedent(template).format(options=options, changes=changes))
        d = Driver(tmp_path, [sys.executable, str(path)], RAY_TMPDIR=ray_tmp)
        started.append(d)
        return d, path

    yield start
    for d in started:
        kill_tree(d.proc)
    shutil.rmtree(ray_tmp, ignore_errors=True)


def tagged(d: Driver, tag: str) -> Any:
    """The JSON after TAG on the driver's output, once it is there."""

    def line() -> Any:
        for x in d.output().splitlines():
            if x.startswith(tag + " "):
                return json.loads(x[len(tag) + 1 :])
        if d.proc.poll() is not None:
            raise AssertionError(f"driver exited {d.proc.returncode}:\n{d.output()}")
        return None

    return wait_for(line, TIMEOUT, f"the driver's {tag} line", interval=0.3)


def edit(path: Path, old: str, new: str) -> None:
    """The person edits the task's body in the driver file."""
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def resume(d: Driver) -> None:
    """`jupyter interactive-task resume --inputs '{"factor": 10}'`, as a person on the node."""
    out = cli(d.env, "resume", "--inputs", '{"factor": 10}')
    assert out.returncode == 0, out.stderr + d.output()


def new_session(d: Driver, seen: set[str]) -> dict[str, Any]:
    """The one task session of this driver whose URL is not in seen."""

    def one() -> Any:
        if d.proc.poll() is not None:
            raise AssertionError(f"driver exited {d.proc.returncode}:\n{d.output()}")
        rows = [r for r in task_sessions(d.env) if r["url"] not in seen]
        return rows[0] if len(rows) == 1 else None

    return wait_for(one, TIMEOUT, "the next task session", interval=0.3)  # type: ignore[no-any-return]


CHECK = """
import json, sys
import psutil
print("CHECK " + json.dumps({
    "children": [p.name() for p in psutil.Process().children(recursive=True)],
    "ray": bool("ray" in sys.modules and sys.modules["ray"].is_initialized()),
    "result": result,
}))
"""


def run_starter_notebook(d: Driver, row: dict[str, Any], notebook: Path) -> dict[str, Any]:
    """Run every code cell of the starter notebook in a kernel of the session; what it saw."""
    root, token = row["url"].split("?token=")
    server = ServerProcess(d.proc, int(root.rsplit(":", 1)[1].strip("/")), token, Path(), Path())
    kernel = http("POST", root + "api/kernels", token, {"name": "python3"})
    assert kernel.status == 201, kernel
    kid = kernel.body["id"]
    cells = json.loads(notebook.read_text())["cells"]
    code = [c["source"] for c in cells if c["cell_type"] == "code"]
    for source in [*code, CHECK]:
        msgs = execute(server, kid, "".join(source))
        errors = [m["content"] for m in msgs if m["msg_type"] == "error"]
        assert not errors, (source, errors)
    out = "".join(m["content"]["text"] for m in msgs if m["msg_type"] == "stream")
    check = json.loads(out.split("CHECK ", 1)[1])
    assert http("DELETE", root + f"api/kernels/{kid}", token).status == 204
    return check  # type: ignore[no-any-return]


def resumed_with_the_edit(d: Driver, path: Path, kernel: bool) -> dict[str, Any]:
    """Wait for the session; run the notebook in a kernel if asked; edit, resume; the result."""
    row = d.session()
    d.seen = {row["url"]}  # type: ignore[attr-defined]
    if kernel:
        check = run_starter_notebook(d, row, path.parent / "notebooks" / "add-interactive.ipynb")
        assert check["children"] == [] and check["ray"] is False, check  # no cluster started
        assert check["result"] == {"value": 6, "code": "add v1"}  # the person's function ran
        assert len(task_sessions(d.env)) == 1  # and no second session
    edit(path, '"add v1"', '"add v2"')
    resume(d)
    return tagged(d, "RESULT")  # type: ignore[no-any-return]


@pytest.mark.timeout(400)
def test_ray_driver_script_remote_function_and_actor_method(driver: Any) -> None:
    pytest.importorskip("ray")
    d, path = driver(RAY)
    assert resumed_with_the_edit(d, path, kernel=True) == {"value": 30, "code": "add v2"}
    # shipped by value, the task's edit is recorded as a module's: diffed, logged and saved
    (patch,) = (path.parent / "changes").iterdir()
    assert '+    return {"value": x * factor, "code": "add v2"}' in patch.read_text()
    new_session(d, d.seen)
    edit(path, '"fit v1"', '"fit v2"')
    status = json.loads(cli(d.env, "status").stdout)
    assert [f["path"] for f in status["task"]["changes"]] == ["driver.py"], status["task"]
    resume(d)
    assert tagged(d, "ACTOR") == {"value": 130, "code": "fit v2"}
    code, output = d.finish()
    assert code == 0, output
    assert "ray.init twice" not in output
    assert output.count("DRIVER MODULE CODE RAN") == 1, output  # not again in the actor


@pytest.mark.timeout(300)
def test_dask_local_cluster_with_processes(driver: Any) -> None:
    pytest.importorskip("distributed")
    d, path = driver(DASK)
    assert resumed_with_the_edit(d, path, kernel=True) == {"value": 30, "code": "add v2"}
    code, output = d.finish()
    assert code == 0, output


@pytest.mark.parametrize("template", [SPAWN, POOL], ids=["multiprocessing-spawn", "process-pool"])
def test_process_pools(driver: Any, template: str) -> None:
    d, path = driver(template)
    assert resumed_with_the_edit(d, path, kernel=False) == {"value": 30, "code": "add v2"}
    code, output = d.finish()
    assert code == 0, output
