"""Processes and ports: a free port, a process tree stopped, a poll with a deadline."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
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
