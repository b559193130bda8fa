"""Process-tree helpers read from /proc: descendants, liveness, the processes of a session."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from .protocol import SESSION_ENV

FREEZE_TIMEOUT = 2.0
"""The longest the freeze before the kill goes on finding new processes (s)."""


def stat_fields(pid: int | str) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (state first), or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _pids() -> list[int]:
    """Every pid in /proc (empty where there is no /proc)."""
    try:
        return [int(e) for e in os.listdir("/proc") if e.isdigit()]
    except OSError:
        return []


def all_pids() -> list[int]:
    """Every live pid (from /proc; empty where there is none)."""
    return _pids()


def process_table() -> dict[int, tuple[int, int, int]]:
    """pid -> (ppid, process group, session) of every live process, from one read of /proc."""
    table = {}
    for pid in _pids():
        fields = stat_fields(pid)
        if fields is not None and fields[0] != "Z":
            table[pid] = (int(fields[1]), int(fields[2]), int(fields[3]))
    return table


def children_map() -> dict[int, list[int]]:
    """ppid -> child pids, read from /proc (empty where there is no /proc)."""
    children: dict[int, list[int]] = {}
    for pid in _pids():
        fields = stat_fields(pid)
        if fields is not None:
            children.setdefault(int(fields[1]), []).append(pid)
    return children


def descendants(pid: int) -> set[int]:
    """Live descendants of pid (from /proc; empty where there is no /proc)."""
    return descendants_of([pid])


def descendants_of(pids: Iterable[int], children: dict[int, list[int]] | None = None) -> set[int]:
    """Live descendants of any of pids, from one read of /proc (or the children map given)."""
    children = children_map() if children is None else children
    found: set[int] = set()
    todo = list(pids)
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def session_processes(session_dir: Path) -> set[int]:
    """Processes whose environment names this session (its kernels and what they started)."""
    marker = b"\0" + f"{SESSION_ENV}={session_dir}".encode() + b"\0"
    found: set[int] = set()
    me = os.getpid()
    for pid in _pids():
        if pid == me:
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if marker in b"\0" + f.read() + b"\0":
                    found.add(pid)
        except OSError:
            continue
    return found


def alive(pid: int) -> bool:
    """True if pid exists and is not a zombie."""
    fields = stat_fields(pid)
    if fields is not None:
        return fields[0] != "Z"
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def tree(pids: Iterable[int], children: dict[int, list[int]] | None = None) -> set[int]:
    """pids and all their live descendants (from the children map given, else from /proc)."""
    found = set(pids)
    return found | descendants_of(found, children)


Scan = Callable[[dict[int, list[int]]], set[int]]
"""Given the children map of this moment (ppid -> pids), the processes to stop."""


def wait_gone(pids: set[int], timeout: float) -> set[int]:
    """Reap (our children) and poll until every one of pids is gone or timeout passes; those
    still alive."""
    deadline = time.monotonic() + timeout
    while pids and time.monotonic() < deadline:
        for pid in pids:
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(pid, os.WNOHANG)
        pids = {p for p in pids if alive(p)}
        if pids:
            time.sleep(0.01)
    return pids


def freeze_kill(scan: Scan, timeout: float = FREEZE_TIMEOUT) -> set[int]:
    """SIGSTOP every live process of scan() and of their trees, again until nothing new shows
    up (a stopped process cannot fork), then SIGKILL them all; the pids killed.

    A process that forks when it gets a signal, or that re-forks every few milliseconds, cannot
    outrun this: each round stops what it found, and what it spawned in between is found in the
    next (below a stopped parent, re-parented to this subreaper, or in a session started in the
    tree). The process group of each one found is stopped at once too (killpg: a member forking
    right now is stopped with it), when the group is of a session started in the tree.
    """
    me, my_sid, my_group = os.getpid(), os.getsid(0), os.getpgrp()
    frozen: set[int] = set()
    groups: set[int] = set()
    sessions: set[int] = set()
    quiet = 0
    deadline = time.monotonic() + timeout
    while quiet < 1 and time.monotonic() < deadline:
        table = process_table()
        kids: dict[int, list[int]] = {}
        for pid, (ppid, _, _) in table.items():
            kids.setdefault(ppid, []).append(pid)
        found = tree(scan(kids) | frozen, kids)
        found |= {p for p, (_, _, sid) in table.items() if sid in sessions}
        new = {p for p in found - frozen if p != me and p in table}
        quiet = 0 if new else quiet + 1
        for pid in new:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGSTOP)
            _, group, sid = table[pid]
            if sid != my_sid and group != my_group:  # sessions are never joined: all ours
                sessions.add(sid)
                if group not in groups:
                    groups.add(group)
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(group, signal.SIGSTOP)
        frozen |= new
    for group in groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGKILL)
    for pid in frozen:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    wait_gone(frozen, timeout)
    return frozen
