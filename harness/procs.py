"""Processes and ports: a free port, a process tree stopped, a poll with a deadline."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from interactive_ext.procs import alive, descendants

HOST = "127.0.0.1"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def kill_tree(proc: subprocess.Popen[Any], grace: float = 5.0) -> None:
    """Stop proc and everything it started: SIGTERM, then SIGKILL after grace seconds to what
    is left of its descendants and, when proc leads a process group, of that group."""
    pids = descendants(proc.pid)
    leader = False
    with contextlib.suppress(OSError):
        leader = proc.poll() is None and os.getpgid(proc.pid) == proc.pid
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for pid in pids | descendants(proc.pid):
        if alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    if leader:
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)


def wait_for(
    predicate: Callable[[], Any], timeout: float, what: str = "", *, interval: float = 0.05
) -> Any:
    """Poll predicate until it returns a truthy value (returned); TimeoutError after timeout s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what or predicate}")
        time.sleep(interval)


FIGHTERS = {
    "fork-on-term": """
import os, signal, sys, time
def again(*_):
    if os.fork():
        os._exit(0)
signal.signal(signal.SIGTERM, again)
while True:
    open(sys.argv[1], "w").write(repr(time.time()))
    time.sleep(0.05)
""",
    "refork": """
import os, sys, time
while True:
    open(sys.argv[1], "w").write(repr(time.time()))
    time.sleep(0.02)
    if os.fork():
        os._exit(0)
""",
}
"""Processes that fight back: forks on SIGTERM; re-forks every 20 ms. argv[1]: the beat file."""


def hammer(port: int, stop: threading.Event, count: list[int]) -> None:
    """Keep 64 connections open to rank 0's port, each reopened as soon as it is cut."""
    import selectors

    sel = selectors.DefaultSelector()

    def open_one() -> None:
        with contextlib.suppress(OSError):
            s = socket.create_connection(("127.0.0.1", port), timeout=1)
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ)
            count[0] += 1

    for _ in range(64):
        open_one()
    while not stop.is_set():
        for key, _ in sel.select(0.05):
            sock = key.fileobj
            try:
                data = sock.recv(1024)  # type: ignore[union-attr]
            except OSError:
                data = b""
            if not data:
                sel.unregister(sock)
                sock.close()  # type: ignore[union-attr]
                open_one()
        while len(sel.get_map()) < 64 and not stop.is_set():
            open_one()
    for key in list(sel.get_map().values()):
        key.fileobj.close()  # type: ignore[union-attr]


def fighter_pids(beats: list[Path]) -> set[int]:
    """Live fighters (their command line names a beat file): none once the session ended."""
    names = {str(b).encode() for b in beats}
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                cmd = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
                if names & set(cmd) and alive(int(entry)):
                    found.add(int(entry))
    return found
