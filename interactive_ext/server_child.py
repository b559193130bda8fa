"""The server child's entry point: ServerApp.launch_instance, leaving once the server is done."""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
import time

from .names import PARENT_PID_ENV

_exit_code = 0


def _watch_parent(parent: int) -> None:
    """Stop the server when the task process is gone (SIGKILLed, say)."""

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os.kill(os.getpid(), signal.SIGTERM)
                return

    threading.Thread(target=watch, name="interactive-parent-watch", daemon=True).start()


def _quick_exit() -> None:
    """The last exit handler: flush and leave, skipping Python's teardown of the modules.

    Registered before jupyter_server is imported, so that every handler registered after it
    (the server's own cleanup) runs first: exit handlers run last-in, first-out. The task is
    waiting for this exit, and the teardown of the modules would cost it a third of a second.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_exit_code)


def main() -> None:
    """The server child: ServerApp.launch_instance with the arguments given."""
    global _exit_code
    atexit.register(_quick_exit)
    parent = os.environ.pop(PARENT_PID_ENV, "")
    if parent.isdigit():
        _watch_parent(int(parent))
    from jupyter_server.serverapp import ServerApp

    try:
        ServerApp.launch_instance()
    except SystemExit as e:
        _exit_code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        raise
    except BaseException:
        _exit_code = 1
        raise


if __name__ == "__main__":
    main()
