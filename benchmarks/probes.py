"""Probes the figures share: a wrapper run of a task in tasks.py (with a Hub or not), its resume,
the memory that processes holding an input add."""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import free_port, wait_for
from harness.hub import Hub
from interactive_ext.procs import descendants
from interactive_ext.session.directory import PREFIX
from interactive_ext.session.hub import service_name

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
    """The wrapper's server child (python -m interactive_ext.child.main): the first started of
    the processes with its command line (a fork of it, before its exec, has the same one)."""
    found = []
    for pid in descendants(wrapper_pid):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        start = common.start_ticks(pid)
        if b"interactive_ext.child.main" in cmdline and start is not None:
            found.append((start, pid))
    return min(found)[1] if found else None


def resume_and_wait(
    proc: common.Proc, port: int, timeout: float = 60.0, prefix: str = "/"
) -> int | None:
    """POST /interactive/resume (under the server's base_url, prefix) and wait for the wrapper
    to exit; its exit code."""
    status, body = common.request(port, "POST", f"{prefix}interactive/resume", body={})
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


@dataclass
class HubRun:
    """A wrapper run's session as a service of a real JupyterHub: its name (from its session
    directory, the one new in the run's TMPDIR), whether the Hub listed it, whether it left."""

    hub: Hub
    tmp: Path
    before: set[str] = field(default_factory=set)
    name: str | None = None

    @classmethod
    def before_start(cls, hub: Hub, env: dict[str, str]) -> HubRun:
        """The run about to start with env: the session directories there already."""
        tmp = Path(env["TMPDIR"])
        return cls(hub, tmp, {p.name for p in tmp.glob(f"{PREFIX}*")})

    @property
    def prefix(self) -> str:
        """The server's base_url: the Hub's /services/NAME/."""
        return f"/services/{self.name}/"

    def api_path(self) -> str | None:
        """The server's /api under its base_url, once the session directory exists."""
        if self.name is None:
            new = {p.name for p in self.tmp.glob(f"{PREFIX}*")} - self.before
            if not new:
                return None
            self.name = service_name("trivial", min(new))
        return f"{self.prefix}api"

    def registered(self, timeout: float = 30.0) -> float | None:
        """Seconds until the Hub's API lists the service (None: not in timeout s)."""
        t0 = time.monotonic()
        try:
            wait_for(lambda: self.hub.service(str(self.name)) == 200, timeout, "registered")
        except TimeoutError:
            return None
        return time.monotonic() - t0

    def removed(self, timeout: float = 10.0) -> bool:
        """Whether the service is gone from the Hub's API (within timeout s)."""
        try:
            wait_for(lambda: self.hub.service(str(self.name)) == 404, timeout, "removed")
        except TimeoutError:
            return False
        return True


def wrapper_once(
    s: Settings,
    env_extra: dict[str, str] | None = None,
    notify: str | None = None,
    hub: Hub | None = None,
) -> dict[str, Any]:
    """One wrapper run on the trivial task: seconds to first answer, and the phases. With a Hub
    (`--hub`, its token in the env), the first answer is polled under the service's base_url
    with the session's token, and the run waits for the Hub to list the service before the
    resume."""
    work = common.tmpdir(s.work, "startup-wrapper-")
    port = free_port()
    env = common.bench_env(s.work)
    env.update(env_extra or {})
    flags = ["--notify", notify] if notify else []
    joined = None
    if hub is not None:
        env.update(hub.task_env())
        flags += ["--hub", hub.api]
        joined = HubRun.before_start(hub, env)
    cmd = wrapper_cmd(work, port, "trivial", *flags)
    with common.running(cmd, env, work, work / "wrapper.log") as proc:
        if joined is None:
            t = common.wait_answer(proc, port) - proc.t0
        else:
            t = common.wait_answer(proc, port, joined.api_path, token=common.TOKEN) - proc.t0
        child = server_child(proc.pid)
        cpu = [common.cpu_seconds(pid) for pid in (proc.pid, child) if pid is not None]
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
        joins = joined.registered() if joined else None
        code = resume_and_wait(proc, port, prefix=joined.prefix if joined else "/")
        wrapper_log = proc.log_text()
    out = {
        "seconds": t,
        "wrapper_before_spawn": spawn,
        # CPU seconds of the wrapper and its server child at the first answer (10 ms ticks):
        # what other processes' load does not change
        "cpu_at_answer": sum(c for c in cpu if c is not None) if len(cpu) == 2 else None,
        "exit_code": code,
        "child_log": child_log,
        "wrapper_log": wrapper_log,
    }
    if joined is not None:
        removed = joined.removed()
        out.update(hub_service=joined.name, hub_registered_after=joins, hub_removed=removed)
    return out
