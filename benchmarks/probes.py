"""Probes the figures share: a wrapper run of a task in tasks.py, its resume, the memory
that processes holding an input add."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from harness import free_port, wait_for
from interactive_ext.procs import descendants

from . import common
from .common import Settings

OFF = "--ServerApp.jpserver_extensions=interactive_ext=False"


def wrapper_cmd(work: Path, port: int, task: str, *extra: str) -> list[str]:
    """`jupyter interactive-task run` of a task in benchmarks/tasks.py."""
    return common.jupyter(
        "interactive-task",
        "run",
        f"{common.BENCH / 'tasks.py'}:{task}",
        "--port",
        str(port),
        "--token",
        common.TOKEN,
        "--max-idle-seconds",
        "600",
        "--notebook-dir",
        str(work),
        *extra,
    )


def server_child(wrapper_pid: int) -> int | None:
    """The wrapper's server child (python -m interactive_ext.child.main)."""
    for pid in descendants(wrapper_pid):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"interactive_ext.child.main" in cmdline:
            return pid
    return None


def resume_and_wait(proc: common.Proc, port: int, timeout: float = 60.0) -> int | None:
    """POST /interactive/resume and wait for the wrapper to exit; its exit code."""
    status, body = common.request(port, "POST", "/interactive/resume", body={})
    if status != 202:
        raise RuntimeError(f"resume answered {status}: {body}")
    try:
        return proc.popen.wait(timeout)
    except Exception:
        return None


def pss_kib(pid: int) -> int:
    """Proportional set size of a live process (shared pages divided among their users)."""
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    raise RuntimeError(f"no Pss in /proc/{pid}/smaps_rollup")


def held_mib(s: Settings, side: str, kind: str, path: Path, mib: int, worker: str) -> float:
    """Sum of the PSS of 3 worker processes that each loaded path and read it all, in MiB."""
    cmd = [common.PYTHON, "-c", worker, f"hold-{side}", kind, str(path), str(mib)]
    env = common.bench_env(s.work)
    with contextlib.ExitStack() as stack:
        procs = [
            stack.enter_context(common.running(cmd, env, s.work, s.work / f"hold-{side}-{i}.log"))
            for i in range(3)
        ]
        for proc in procs:

            def ready(proc: common.Proc = proc) -> bool:
                if not proc.alive():
                    raise RuntimeError(f"hold-{side} exited: {proc.tail()}")
                return "ready" in proc.log_text()

            wait_for(ready, 300, f"hold-{side} to load", interval=0.02)
        return sum(pss_kib(p.pid) for p in procs) / 1024


def wrapper_once(
    s: Settings, env_extra: dict[str, str] | None = None, notify: str | None = None
) -> dict[str, Any]:
    """One wrapper run on the trivial task: seconds to first answer, and the phases."""
    work = common.tmpdir(s.work, "startup-wrapper-")
    port = free_port()
    env = common.bench_env(s.work)
    env.update(env_extra or {})
    cmd = wrapper_cmd(work, port, "trivial", *(["--notify", notify] if notify else []))
    with common.running(cmd, env, work, work / "wrapper.log") as proc:
        t = common.wait_answer(proc, port) - proc.t0
        child = server_child(proc.pid)
        wrapper_start = common.start_ticks(proc.pid)
        child_start = common.start_ticks(child) if child else None
        spawn = (
            None if wrapper_start is None or child_start is None else child_start - wrapper_start
        )
        child_log = ""
        if child is not None and env_extra:
            # the child's stdout is its log once it has its config (child/handover.py)
            log_path = Path(os.readlink(f"/proc/{child}/fd/1"))
            child_log = log_path.read_text(errors="replace")
        code = resume_and_wait(proc, port)
        wrapper_log = proc.log_text()
    return {
        "seconds": t,
        "wrapper_before_spawn": spawn,
        "exit_code": code,
        "child_log": child_log,
        "wrapper_log": wrapper_log,
    }
