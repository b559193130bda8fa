"""Process containment: nothing a session starts outlives it, however it detaches.

Linux only (elsewhere every function is a no-op that says so). The server child is a
*subreaper* (``PR_SET_CHILD_SUBREAPER``): a process that detaches from its kernel or terminal
(``setsid``, ``nohup``, a double fork, ``start_new_session``, an empty environment) is re-parented
to the server child instead of pid 1, so it stays a descendant and is stopped with the rest. The
task process is a subreaper while it serves, so that the same holds when the server child itself
is killed: its orphans come to the task process, and are told apart from the task's own children
by their session id (a process of the server's tree can never be in the task's session: the server
child starts a session of its own, and a session can be left but never joined).

cgroups would be stronger but need a delegated, writable cgroup v2 tree, which batch containers
rarely have; this module does not depend on one.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator

from ..procs import (
    Scan,
    alive,
    children_map,
    descendants_of,
    freeze_kill,
    stat_fields,
    tree,
    wait_gone,
)

log = logging.getLogger("interactive_ext")

PR_SET_CHILD_SUBREAPER = 36
PR_GET_CHILD_SUBREAPER = 37
GRACE = 1.0
"""Seconds between SIGTERM and SIGKILL: short, the session is over and a GPU waits."""

_libc: ctypes.CDLL | None = None


def _prctl(option: int, arg: int | ctypes.c_int | ctypes._Pointer) -> int:
    """prctl(2) through libc; -1 where there is none (not Linux)."""
    global _libc
    if not sys.platform.startswith("linux"):
        return -1
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    return int(_libc.prctl(option, arg, 0, 0, 0))


def subreaper() -> bool:
    """True if this process is a subreaper now."""
    value = ctypes.c_int(0)
    if _prctl(PR_GET_CHILD_SUBREAPER, ctypes.pointer(value)) != 0:
        return False
    return bool(value.value)


_held = [0]
"""How many own_tree scopes are open: the subreaper stays on until the last one ends."""


def set_subreaper(on: bool) -> bool:
    """Make this process a subreaper (or stop being one, unless an own_tree holds it); False
    where that is not possible."""
    if not on and _held[0]:
        return True
    ok = _prctl(PR_SET_CHILD_SUBREAPER, 1 if on else 0) == 0
    if not ok and on:
        log.warning(
            "cannot become a child subreaper (errno %s): detached processes may outlive the "
            "session",
            ctypes.get_errno(),
        )
    return ok


def session_id(pid: int) -> int | None:
    """The session id of pid, or None when it is gone."""
    fields = stat_fields(pid)
    return int(fields[3]) if fields is not None else None


def start_time(pid: int) -> int | None:
    """When pid started, in clock ticks since boot (field 22 of /proc/PID/stat), or None."""
    fields = stat_fields(pid)
    return int(fields[19]) if fields is not None else None


def now_ticks() -> int:
    """The time since boot in clock ticks, as start_time counts."""
    with open("/proc/uptime") as f:
        return int(float(f.read().split()[0]) * os.sysconf("SC_CLK_TCK"))


def foreign_children(
    since: int | None = None, children: dict[int, list[int]] | None = None
) -> set[int]:
    """Children of this process in another session than ours (started after since, in ticks).

    While this process is a subreaper these are the server's orphans re-parented to it.
    children: a children map read already (else /proc is read).
    """
    me = os.getpid()
    mine = os.getsid(0)
    found = set()
    for pid in (children_map() if children is None else children).get(me, []):
        sid = session_id(pid)
        started = start_time(pid)
        if sid is None or sid == mine or started is None:
            continue
        if since is None or started >= since:
            found.add(pid)
    return found


def reap(pids: Iterable[int]) -> None:
    """Collect the exit status of those of pids that are our children and have exited."""
    for pid in pids:
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)


def stop_tree(
    pids: Iterable[int],
    grace: float = GRACE,
    why: str = "the session ended",
    scan: Scan | None = None,
) -> list[int]:
    """Stop every live one of pids and all they start meanwhile; the ones stopped.

    SIGTERM first; what is left after grace seconds, and whatever appeared meanwhile (a child
    forked on SIGTERM, a process that re-forks all the time), is frozen and killed (freeze_kill).
    scan names the processes to look at besides the trees of pids: the orphans that were
    re-parented to this subreaper, which are no longer below any of pids.
    """
    stray = {p for p in pids if p != os.getpid() and alive(p)}
    stopped = sorted(stray)
    for pid in stopped:
        log.info("stopping process %s (%s): %s", pid, _name(pid), why)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)
    wait_gone(stray, grace)
    seen = set(stopped)
    killed = freeze_kill(
        lambda kids: tree(seen, kids) | (scan(kids) if scan is not None else set())
    )
    for pid in sorted(killed & stray):
        log.warning("killed process %s: it ignored SIGTERM for %s s", pid, grace)
    if killed - stray:
        log.warning("killed %d processes started while the session stopped", len(killed - stray))
    reap(seen | killed)
    return sorted(seen | killed)


@contextlib.contextmanager
def own_tree(why: str = "the task ended") -> Iterator[None]:
    """Every process started inside (however it detaches: this process is their subreaper) is
    stopped at the end, as the kernels' trees are: SIGTERM, then frozen and killed.

    In the main thread only: a task run in a worker thread (a Dask worker) shares its process
    with other tasks, whose processes are not its own.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    since = now_ticks()
    me = os.getpid()
    was = subreaper()
    set_subreaper(True)
    _held[0] += 1

    def started(children: dict[int, list[int]]) -> set[int]:
        return {p for p in descendants_of([me], children) if (start_time(p) or -1) >= since}

    try:
        yield
    finally:
        left = started(children_map())
        if left:
            stop_tree(left, why=why, scan=started)
        _held[0] -= 1
        if not was:
            set_subreaper(False)


def reap_all() -> None:
    """Collect every exited child (only when nothing else of this process waits for children)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _name(pid: int) -> str:
    """The command name of pid, for the log."""
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return "?"


def watch_exit(pid: int, on_exit: Callable[[], None], name: str = "interactive-watch") -> None:
    """Call on_exit in a daemon thread as soon as process pid is gone (a pidfd, else polling)."""

    def wait_pidfd(fd: int) -> None:
        try:
            select.select([fd], [], [])
        finally:
            os.close(fd)

    def poll() -> None:
        while alive(pid):
            time.sleep(0.2)

    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError) as e:
        if isinstance(e, ProcessLookupError):
            on_exit()
            return
        wait: Callable[[], None] = poll
    else:

        def wait() -> None:
            wait_pidfd(fd)

    def run() -> None:
        wait()
        on_exit()

    threading.Thread(target=run, name=name, daemon=True).start()
