"""Process-tree helpers read from /proc: descendants, liveness, the processes of a session."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from .protocol import SESSION_ENV


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


def descendants_of(pids: Iterable[int]) -> set[int]:
    """Live descendants of any of pids, from one read of /proc."""
    children = children_map()
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
