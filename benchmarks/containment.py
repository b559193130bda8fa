"""Figure 11: containment, from the end of a session to the last process it started gone.

Each run starts `jupyter interactive-task run tasks.py:trivial --ready-file ...`, then builds
the tree a person leaves behind: a kernel started over REST that detaches four processes
(`start_new_session=True, env={}`, `setsid -f`, `nohup ... &`, a double fork) and a terminal
that starts two background jobs (`nohup ... &`, `setsid ... &`). Every process of the tree (the
task process's descendants and the detached ones) is held by a pidfd, so a reused pid cannot
fool the clock; the clock starts just before `kill -9` of the task process (11a) or the resume
POST (11b) and stops when the last pidfd reports its process gone (a zombie counts as gone).
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import time
from pathlib import Path
from typing import Any

from . import common
from .common import Settings
from .startup import wrapper_cmd

TARGET = 2.0
"""Seconds from the end of the session to the last descendant gone (the issue's target)."""

MARKS = [str(7301 + i) for i in range(6)]
"""`sleep` arguments that tell this figure's detached processes apart."""

DETACH = f"""
import os, subprocess
subprocess.Popen(["sleep", "{MARKS[0]}"], start_new_session=True, env={{}})
subprocess.Popen(["setsid", "-f", "sleep", "{MARKS[1]}"]).wait()
os.system("nohup sleep {MARKS[2]} >/dev/null 2>&1 &")
os.system("(sleep {MARKS[3]} &) &")
"""
"""Run in the kernel: four ways to leave the kernel's process tree."""

TERMINAL = f"nohup sleep {MARKS[4]} >/dev/null 2>&1 & setsid sleep {MARKS[5]} & echo bg''ok\r"
"""Typed in the terminal: two background jobs, then a word to wait for."""


def marked() -> set[int]:
    """Pids of the live `sleep MARK` processes."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError):
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            mine = len(cmd) >= 2 and cmd[0] == b"sleep" and cmd[1].decode() in MARKS
            if mine and common.alive(int(entry)):
                found.add(int(entry))
    return found


def _terminal(port: int) -> None:
    """Open a terminal over REST and type TERMINAL; return once the shell answered."""
    status, model = common.request(port, "POST", "/api/terminals")
    if status != 200:
        raise RuntimeError(f"POST /api/terminals answered {status}: {model}")
    common.type_in_terminal(port, common.TOKEN, model["name"], TERMINAL, "bgok", 30)


def _build_tree(port: int) -> set[int]:
    """A kernel and a terminal that detach processes; the pids of the detached ones."""
    before = marked()
    kernel_id = common.start_kernel(port)
    common.kernel_session(port, kernel_id, DETACH)
    _terminal(port)

    def all_started() -> set[int] | None:
        new = marked() - before
        return new if len(new) == len(MARKS) else None

    return set(common.wait_for(all_started, 30, "the detached processes", interval=0.02))


def _pidfds(pids: set[int]) -> dict[int, int]:
    """A pidfd for each of pids still there: pid -> fd."""
    fds = {}
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            fds[pid] = os.pidfd_open(pid)
    return fds


def _wait_gone(fds: dict[int, int], t0: float, timeout: float) -> tuple[float | None, int]:
    """Seconds from t0 until every pidfd reports its process gone (None: not in timeout)."""
    poller = select.poll()
    for fd in fds.values():
        poller.register(fd, select.POLLIN)
    left, last = set(fds.values()), None
    deadline = t0 + timeout
    while left and time.monotonic() < deadline:
        for fd, _ in poller.poll(50):
            if fd in left:
                left.discard(fd)
                poller.unregister(fd)
                last = time.monotonic()
    return (None if left else (last or time.monotonic()) - t0), len(left)


def _kill_left(fds: dict[int, int]) -> None:
    """SIGKILL whatever of the tree is still there (a failed run leaves nothing), close fds."""
    for fd in fds.values():
        with contextlib.suppress(OSError):
            signal.pidfd_send_signal(fd, signal.SIGKILL)
        os.close(fd)


def _read_ready(path: Path) -> Any:
    """The ready file's JSON, or None while it is not written."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _name(pid: int) -> str:
    """What pid is: the server child, a kernel, or its command name (/proc/PID/comm)."""
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "?"
    if b"interactive_ext.child.main" in cmd:
        return "server child"
    return "kernel" if b"ipykernel" in cmd else comm


def _end(case: str, proc: common.Proc, port: int) -> None:
    """End the session: kill -9 of the task process, or a resume."""
    if case == "kill":
        os.kill(proc.pid, signal.SIGKILL)
        return
    status, body = common.request(port, "POST", "/interactive/resume", body={})
    if status != 202:
        raise RuntimeError(f"resume answered {status}: {body}")


def _once(s: Settings, case: str, i: int) -> dict[str, Any]:
    """One session ended by case ("kill" or "resume"); the time to the last process gone."""
    work = common.tmpdir(s.work, f"containment-{case}{i}-")
    port = common.free_port()
    ready = work / "ready.json"
    cmd = wrapper_cmd(work, port, "trivial", "--ready-file", str(ready))
    fds: dict[int, int] = {}
    try:
        with common.running(cmd, common.bench_env(s.work), work, work / "wrapper.log") as proc:
            info = common.wait_for(lambda: _read_ready(ready), 90, "the ready file")
            detached = _build_tree(port)
            fds = _pidfds(common.descendants(proc.pid) | detached)
            names = sorted(_name(pid) for pid in fds)
            t0 = time.monotonic()
            _end(case, proc, port)
            seconds, left = _wait_gone(fds, t0, 5.0 if s.quick else 15.0)
            code = proc.popen.wait(30)
            leftovers = [p.name for p in (ready, *work.glob("jpserver-*")) if p.exists()]
    finally:
        _kill_left(fds)
    return {
        "case": case,
        "seconds": seconds,
        "processes": len(fds),
        "names": names,
        "detached": len(detached),
        "left": left,
        "server_pid": info["pid"],
        "exit_code": code,
        "ready_file_left": bool(leftovers),
    }


def measure(s: Settings) -> dict[str, Any]:
    """kill -9 of the task process and resume, alternated, s.runs each."""
    out: dict[str, list[dict[str, Any]]] = {"kill": [], "resume": []}
    for i in range(s.runs):
        for case in ("kill", "resume"):
            run = _once(s, case, i)
            out[case].append(run)
            s.say(
                "containment #%d %s: %s s to the last of %d processes gone (exit %s)",
                i + 1,
                case,
                run["seconds"],
                run["processes"],
                run["exit_code"],
            )
    return {"target": TARGET, **out}
