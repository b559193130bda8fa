"""Figure 11: containment, from the end of a session to the last process it started gone.

Each run starts `jupyter interactive-task run tasks.py:trivial --ready-file ...`, then builds
the tree a person leaves behind: a kernel started over REST that detaches four processes
(`start_new_session=True, env={}`, `setsid -f`, `nohup ... &`, a double fork) and a terminal
that starts two background jobs (`nohup ... &`, `setsid ... &`). Every process of the tree (the
task process's descendants and the detached ones) is held by a pidfd, so a reused pid cannot
fool the clock; the clock starts just before `kill -9` of the task process (11a) or the resume
POST (11b) and stops when the last pidfd reports its process gone (a zombie counts as gone).

The kernel also detaches two processes that fight back (issue 22): one forks a new child when
it gets SIGTERM (the parent exits, the child goes on), one re-forks every 20 ms (a new pid all
the time, too fast for a pidfd or a scan of /proc). Each writes the time into a file at every
turn, its heartbeat; the clock also waits until no process of their sessions is left and their
heartbeats are older than the end, and counts their last beat.
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

from harness import Address, execute, free_port, start_kernel, type_in_terminal, wait_for
from harness.procs import FIGHTERS, fighter_pids
from interactive_ext.procs import alive, descendants, freeze_kill

from . import common
from .common import Settings
from .probes import wrapper_cmd
from .table import dist, row, verdict

TITLE = "11. Containment: nothing outlives the session"
"""The section of docs/benchmarks.md."""

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

FIGHT = """
import subprocess, sys
for code, beat in {specs!r}:
    subprocess.Popen([sys.executable, "-c", code, beat], start_new_session=True)
"""
"""Run in the kernel: detach the fighters (each in a session of its own)."""

QUIET = 0.3
"""Seconds without a beat after which a fighter counts as gone (its last beat is the time)."""

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
            if mine and alive(int(entry)):
                found.add(int(entry))
    return found


def _terminal(port: int) -> None:
    """Open a terminal over REST and type TERMINAL; return once the shell answered."""
    status, model = common.request(port, "POST", "/api/terminals")
    if status != 200:
        raise RuntimeError(f"POST /api/terminals answered {status}: {model}")
    type_in_terminal(Address(port, common.TOKEN), model["name"], TERMINAL, "bgok", 30)


def _beat(path: Path) -> float:
    """The last time a fighter wrote into its beat file (0.0 before it did)."""
    try:
        return float(path.read_text())
    except (OSError, ValueError):
        return 0.0


def _fight(port: int, kernel_id: str, work: Path) -> list[Path]:
    """Detach the fighters from the kernel; their beat files, once both beat."""
    beats = [work / f"{name}.beat" for name in FIGHTERS]
    specs = [(code, str(b)) for code, b in zip(FIGHTERS.values(), beats, strict=True)]
    execute(Address(port, common.TOKEN), kernel_id, FIGHT.format(specs=specs), wait=False)
    wait_for(
        lambda: all(time.time() - _beat(b) < 0.5 for b in beats), 30, "the fighters", interval=0.02
    )
    return beats


def _fighters_gone(beats: list[Path], t0: float, timeout: float) -> float | None:
    """Seconds from t0 (wall clock) to the last beat of the fighters, once quiet; None if not."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if all(time.time() - _beat(b) > QUIET for b in beats):
            return max(0.0, max(_beat(b) for b in beats) - t0)
        time.sleep(0.02)
    return None


def _build_tree(port: int, work: Path) -> tuple[set[int], list[Path]]:
    """A kernel and a terminal that detach processes; the detached pids, the fighters' beats."""
    before = marked()
    kernel_id = start_kernel(Address(port, common.TOKEN))
    execute(Address(port, common.TOKEN), kernel_id, DETACH, wait=False)
    beats = _fight(port, kernel_id, work)
    _terminal(port)

    def all_started() -> set[int] | None:
        new = marked() - before
        return new if len(new) == len(MARKS) else None

    return set(wait_for(all_started, 30, "the detached processes", interval=0.02)), beats


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
    port = free_port()
    ready = work / "ready.json"
    cmd = wrapper_cmd(work, port, "trivial", "--ready-file", str(ready))
    fds: dict[int, int] = {}
    beats: list[Path] = []
    try:
        with common.running(cmd, common.bench_env(s.work), work, work / "wrapper.log") as proc:
            info = wait_for(lambda: _read_ready(ready), 90, "the ready file")
            detached, beats = _build_tree(port, work)
            fds = _pidfds(descendants(proc.pid) | detached)
            names = sorted(_name(pid) for pid in fds)
            t0, wall0 = time.monotonic(), time.time()
            _end(case, proc, port)
            seconds, left = _wait_gone(fds, t0, 5.0 if s.quick else 15.0)
            fought = _fighters_gone(beats, wall0, 5.0 if s.quick else 15.0)
            if seconds is not None:
                seconds = None if fought is None else max(seconds, fought)
            code = proc.popen.wait(30)
            leftovers = [p.name for p in (ready, *work.glob("jpserver-*")) if p.exists()]
            left += len(fighter_pids(beats))
    finally:
        _kill_left(fds)
        freeze_kill(lambda _children: fighter_pids(beats))
    return {
        "case": case,
        "seconds": seconds,
        "processes": len(fds),
        "names": names,
        "detached": len(detached),
        "fighters_seconds": fought,
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


# -- the report -----------------------------------------------------------------------


def rows(d: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Figure 11 rows and notes: every run within the target, a run never done is a miss."""
    rows = []
    for key, label in (
        ("kill", "11a containment: `kill -9` of the task process to the last process gone"),
        ("resume", "11b containment: resume POST to the last process gone"),
    ):
        runs = [r["seconds"] for r in d[key]]
        ok = bool(runs) and all(v is not None and v <= d["target"] for v in runs)
        target = f"every run <= {d['target']} s"
        rows.append(row(label, dist(runs), "-", "-", target, verdict(ok)))
    first = (d["kill"] or d["resume"])[0]
    codes = sorted({r["exit_code"] for r in d["kill"] + d["resume"]}, key=str)
    notes = [
        f"The tree (first run, {first['processes']} processes): {', '.join(first['names'])}; "
        f"{first['detached']} of them detached from a kernel (`start_new_session=True, "
        "env={}`, `setsid -f`, `nohup &`, a double fork) and a terminal (`nohup &`, "
        "`setsid &`). Each is held by a pidfd; the clock stops when the last one is gone.",
        f"Task exit codes: {codes} (-9: killed; 0: the task ran after the resume). A ready file "
        f"left behind: {sum(r['ready_file_left'] for r in d['kill'] + d['resume'])} run(s).",
        "Where the time goes: the server child's sweep sends SIGTERM, waits a grace of 1 s, then "
        "SIGKILL (an interactive shell ignores SIGTERM); a resume adds the 0.2 s resume grace "
        "and the server's own shutdown. A bare jupyter server has no reference figure: what "
        "detached from it outlives it (docs/failure-modes.md).",
    ]
    return rows, notes
