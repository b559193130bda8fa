"""The server child's entry point: ServerApp.launch_instance, leaving once the server is done.

The child is a subreaper (containment.py): whatever its kernels and terminals start, however it
detaches, stays its descendant. When it ends (resume, idle, lifetime, a signal, or the task
process gone) it stops every descendant left, removes the ready file and leaves by os._exit.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

from ..errors import bounded_tracebacks
from ..procs import descendants, descendants_of
from ..protocol import PARENT_PID_ENV, READY_FILE_ENV, SERVER_EXIT_CODES
from . import containment, handover
from . import skipped_imports as lean
from .leftovers import connection_files, remove_server_files

log = logging.getLogger("interactive_ext")

_exit_code = 0
_ready_file = ""


def _mine(children: dict[int, list[int]]) -> set[int]:
    """Every descendant of the server child (a subreaper: the detached ones too)."""
    return descendants_of([os.getpid()], children)


def _on_parent_gone() -> None:
    """The task process is gone (SIGKILLed, say): stop everything now, then the server."""
    log.warning("the task process is gone: stopping the kernels, terminals and the server")
    containment.stop_tree(descendants(os.getpid()), why="the task process is gone", scan=_mine)
    _remove_ready()
    os.kill(os.getpid(), signal.SIGTERM)


def _remove_ready() -> None:
    """Remove the ready file if it describes this server (nobody else will, after a kill -9)."""
    if not _ready_file:
        return
    path = Path(_ready_file)
    with contextlib.suppress(OSError, ValueError):
        if json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()


def _reason_code() -> int | None:
    """The exit code of the outcome the extension recorded, if it stopped the server itself."""
    from jupyter_server.serverapp import ServerApp

    if not ServerApp.initialized():
        return None
    manager = getattr(ServerApp.instance(), "extension_manager", None)
    apps: Any = manager.extension_apps.get("interactive_ext", set()) if manager else set()
    for app in apps:
        reason = getattr(getattr(app, "lifecycle", None), "reason", None)
        if reason is not None:
            return SERVER_EXIT_CODES.get(reason.value)
    return None


def _quick_exit() -> None:
    """The last exit handler: contain, flush and leave, skipping Python's teardown of the modules.

    Registered before jupyter_server is imported, so that every handler registered after it
    (the server's own cleanup) runs first: exit handlers run last-in, first-out. The task is
    waiting for this exit, and the teardown of the modules would cost it a third of a second.
    """
    code = _exit_code
    with contextlib.suppress(Exception):
        if code == 0:
            code = _reason_code() or 0
    with contextlib.suppress(Exception):
        left = descendants(os.getpid())
        files = connection_files(left)  # of kernels a signal left: their server did not stop them
        containment.stop_tree(left, why="the server stopped", scan=_mine)
        containment.reap_all()
        _remove_ready()
        remove_server_files(os.getpid(), files)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main() -> None:
    """The server child: ServerApp.launch_instance with the arguments given."""
    global _exit_code, _ready_file
    _exit_code = 1  # until the server has run: a broken install or hand-over is a failure
    atexit.register(_quick_exit)
    containment.set_subreaper(True)
    bounded_tracebacks()
    parent = os.environ.pop(PARENT_PID_ENV, "")
    if parent.isdigit():
        containment.watch_exit(int(parent), _on_parent_gone, "interactive-parent-watch")
        if os.getppid() != int(parent):  # gone before the watch began
            _on_parent_gone()
    lean.skip_imports()  # what a task session never needs (lean.py: each one measured)
    from jupyter_server.serverapp import ServerApp
    from traitlets.config import Config

    config = handover.receive()  # spawned ahead of its config: it comes now (handover.py)
    _ready_file = os.environ.pop(READY_FILE_ENV, "")
    # The server's own bin first on the PATH of its kernels and terminals (which inherit this
    # environment): `jupyter interactive-task resume` works there without an activated venv.
    bin_dir = os.path.dirname(sys.executable)
    os.environ["PATH"] = os.pathsep.join([bin_dir, os.environ.get("PATH", "")])
    # Given as the instance's config, it ranks above the config files, as the command line does.
    handed = {"config": Config(config)} if config else {}
    try:
        ServerApp.launch_instance(**handed)
    except SystemExit as e:
        _exit_code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        raise
    _exit_code = 0


if __name__ == "__main__":
    main()
