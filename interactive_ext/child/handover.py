"""The hand-over: the server child starts before the task is loaded and gets its config later.

A task's options (which configure its server) are known only once its module is loaded, but the
server child needs over a second to import jupyter_server. So `jupyter interactive-task run`
spawns the child first (`python -m interactive_ext.child.main --wait-for-config`, no token or
path on its command line): it does its imports, then reads one JSON message on its stdin (the
server's config with its token, the environment, the working directory and the log file), while
the task process loads the task and writes the session's files. The config never goes through a
file that another user could swap. The child is spawned from `/` with `-P` (Python 3.11+), and
the hand-over does not put the notebook dir on its `sys.path`: the server child imports only
from the installed environment, so a `jupyter_lsp.py` planted in the notebook dir (or a task
file named `dis.py`) never runs there.

`ServerProcess.spawn` hands the message over (or spawns a child and hands it over at once when
none waits: the decorator's path). Until then the child's output goes to an anonymous memory
file; the child copies it into the log when it takes the hand-over, and the parent copies it
there if the child dies first. A parent that gives up (the task failed to load, it is not
interactive after all) stops the waiting child at once.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from typing import IO, Any

from ..protocol import PARENT_PID_ENV, SESSION_ENV
from . import containment

log = logging.getLogger("interactive_ext")

WAIT_FLAG = "--wait-for-config"
"""The server child's only argument while it waits for the hand-over."""

CANCEL_TIMEOUT = 2.0

SAFE_PATH = ["-P"] if sys.version_info >= (3, 11) else []
"""Python's flag not to put the working directory first on sys.path (3.11+)."""

SPAWN_DIR = "/"
"""The child's working directory until the hand-over: one only root can write (for Python
3.10, which puts it first on sys.path; the hand-over takes it off again)."""


@dataclass
class Handover:
    """What the waiting server child is told once the task is loaded."""

    argv: list[str]
    """The server's command-line arguments (none: its config comes in `config`)."""
    env: dict[str, str]
    """The server's whole environment (the task's module may have changed the parent's)."""
    cwd: str
    log: str
    """The file the server's stdout and stderr go to (appended, 0600)."""
    config: dict[str, Any] = field(default_factory=dict)
    """The server's config (token included): above its config files, like the command line."""


def child_env() -> dict[str, str]:
    """The environment the server child runs with: the parent's, minus a kernel's session."""
    env = dict(os.environ)
    env.pop(SESSION_ENV, None)
    env.pop(PARENT_PID_ENV, None)
    return env


def _early_output() -> IO[bytes]:
    """An anonymous file for what the child writes before the hand-over (no path, no leftover)."""
    if hasattr(os, "memfd_create"):
        return os.fdopen(os.memfd_create("interactive-server-early"), "w+b")
    return tempfile.TemporaryFile()


class WaitingChild:
    """A server child spawned ahead of its config, importing jupyter_server meanwhile."""

    def __init__(self) -> None:
        """Spawn the child now; it waits for hand_over() after its imports."""
        env = child_env()
        env[PARENT_PID_ENV] = str(os.getpid())
        self.early = _early_output()
        # The server's orphans come to us if the server child is killed: see ServerProcess.stop.
        self.was_subreaper = containment.subreaper()
        containment.set_subreaper(True)
        self.spawned_at = containment.now_ticks()
        self.handed = False
        self.popen = subprocess.Popen(
            [sys.executable, *SAFE_PATH, "-m", "interactive_ext.child.main", WAIT_FLAG],
            stdin=subprocess.PIPE,
            cwd=SPAWN_DIR,
            stdout=self.early,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )

    def hand_over(self, message: Handover) -> None:
        """Send the child its config; a child already gone is reported by the readiness wait."""
        assert self.popen.stdin is not None
        self.handed = True
        try:
            self.popen.stdin.write(json.dumps(asdict(message)).encode())
            self.popen.stdin.close()
        except BrokenPipeError:  # it died while importing: its output tells why
            with contextlib.suppress(OSError):
                self.popen.stdin.close()
            self.salvage(message.log)

    def salvage(self, log_path: str | os.PathLike[str]) -> None:
        """Copy the child's output from before the hand-over into an empty or missing log."""
        if self.early.closed:
            return
        try:
            if os.path.getsize(log_path) > 0:
                return
        except OSError:
            pass
        self.early.seek(0)
        data = self.early.read()
        if not data:
            return
        with contextlib.suppress(OSError):  # the session directory is gone: nothing to keep
            fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "ab") as f:
                f.write(data)

    def close(self, log_path: str | os.PathLike[str] | None = None) -> None:
        """Salvage the early output into log_path if need be, then free it."""
        if log_path is not None:
            self.salvage(log_path)
        self.early.close()
        if self.popen.stdin is not None and not self.popen.stdin.closed:
            with contextlib.suppress(OSError):
                self.popen.stdin.close()

    def cancel(self) -> None:
        """Stop the child now (it only imported, nothing of it is left) and reap it."""
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.popen.pid, signal.SIGKILL)
        try:
            self.popen.wait(CANCEL_TIMEOUT)
        except subprocess.TimeoutExpired:  # SIGKILLed: the kernel reaps it when we exit
            log.warning("the waiting server child %s did not exit yet", self.popen.pid)
        self.close()
        if not self.was_subreaper:
            containment.set_subreaper(False)
        log.debug("stopped the waiting server child %s", self.popen.pid)


_waiting: WaitingChild | None = None


def start_early() -> None:
    """Spawn the server child now, before the task is loaded (`take()` hands it over)."""
    global _waiting
    if _waiting is None:
        _waiting = WaitingChild()


def take() -> WaitingChild:
    """The child spawned ahead by start_early(), else a new one."""
    global _waiting
    child, _waiting = _waiting, None
    return child if child is not None else WaitingChild()


def discard() -> None:
    """Stop the child spawned ahead if nobody took it (the task is not served, or failed)."""
    global _waiting
    child, _waiting = _waiting, None
    if child is not None:
        child.cancel()


# -- the child's side ----------------------------------------------------------------------


def _redirect_output(log_path: str) -> None:
    """Copy what went to the early file into the log, then send stdout and stderr there."""
    sys.stdout.flush()
    sys.stderr.flush()
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
    with contextlib.suppress(OSError):
        size = os.fstat(1).st_size
        if size:
            os.write(fd, os.pread(1, size, 0))
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def _apply(message: dict[str, Any]) -> dict[str, Any]:
    """Take the hand-over: environment, working directory, log and arguments; the config.

    The new working directory (the notebook dir, which others may write) never goes on
    sys.path: only the installed environment (and PYTHONPATH, if set) is imported from.
    """
    os.environ.clear()
    os.environ.update(message["env"])
    if sys.path and sys.path[0] in (SPAWN_DIR, os.getcwd()):  # `-m` without `-P` put it first
        del sys.path[0]
    os.chdir(message["cwd"])
    _redirect_output(message["log"])
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    sys.argv = [sys.argv[0], *message["argv"]]
    return dict(message.get("config") or {})


def receive() -> dict[str, Any]:
    """In a child spawned to wait: read the hand-over from stdin, apply it; the server config.

    Without WAIT_FLAG (a child started by hand) there is nothing to wait for (no config). An
    empty stdin means the task process gave up before the hand-over: leave at once.
    """
    if sys.argv[1:] != [WAIT_FLAG]:
        return {}
    data = sys.stdin.buffer.read()
    if not data:
        os._exit(0)
    return _apply(json.loads(data))
