"""What the task process adds for a person far away: how to reach the node, a failed resume.

The server notifies while it serves (server/notify.py); a resumed run fails after the server
has stopped, so the task process sends that one itself, with the same URLs.
"""

from __future__ import annotations

import logging
import socket

from ..options import Options
from ..records import Reason
from ..session.notify import Notifier, notify_urls, one_line
from ..session.reach import reach_commands

log = logging.getLogger("interactive_ext")

FLUSH_AT_EXIT = 5.0
"""At the end of the run, the longest the task waits for its notification to go out."""


def reach_suffix(port: int, ip: str) -> str:
    """' (reach it: CMD; CMD)' on a cluster node, else ''."""
    commands = reach_commands(port, ip)
    return f" (reach it: {'; '.join(commands)})" if commands else ""


def idle_message(options: Options, qualname: str, reason: Reason, where: str) -> str:
    """The IdleTimeout message: why the server stopped, what to pass, where the session is."""
    if reason is Reason.LIFETIME:
        why = f"its lifetime cap (max_lifetime_seconds={options.max_lifetime_seconds:g})"
    else:
        why = f"nobody resumed it within max_idle_seconds={options.max_idle_seconds:g}"
    return (
        f"the Jupyter server for task {qualname} stopped: {why} "
        f"(on_idle='fail'; pass on_idle='resume' to run the task anyway); {where}"
    )


class TaskNotices:
    """The task process's notifications (only a resumed run that failed)."""

    def __init__(self, options: Options) -> None:
        """Notify the options' URLs and $INTERACTIVE_EXT_NOTIFY's; nothing starts yet."""
        self.notifier = Notifier(notify_urls(options.notify))
        self.again = options.run_task_first or options.pause == "after"

    def resumed_failed(self, qualname: str, error: BaseException) -> None:
        """A resumed run raised: say so, and whether Jupyter starts again."""
        what = f"{type(error).__name__}: {one_line(str(error))}"
        then = (
            "Jupyter starts again for it (a new waiting notification follows)"
            if self.again
            else "the task failed"
        )
        self.notifier.send(
            f"{qualname}: the resumed run failed again on {socket.gethostname()}",
            f"Error: {what}\n{then}",
        )

    def parked(self, qualname: str, why: str, command: str) -> None:
        """The session was parked: where, and the command that opens it."""
        self.notifier.send(
            f"{qualname}: parked on {socket.gethostname()} ({one_line(why)})",
            f"Debug it anywhere with:\n{command}",
        )

    def close(self) -> None:
        """Let what is queued go out, bounded (the task is ending)."""
        if self.notifier.enabled:
            self.notifier.flush(FLUSH_AT_EXIT)
