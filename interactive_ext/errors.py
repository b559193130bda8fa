"""The exceptions a task's caller can see."""

from __future__ import annotations

import logging
import traceback
from typing import Any


class IdleTimeout(RuntimeError):
    """Nobody resumed the task before the idle timeout (or the lifetime cap) stopped the server."""


class ServerError(RuntimeError):
    """The Jupyter server died or never came up; the message quotes its last log lines."""


class EnvironmentFailure(RuntimeError):
    """The machine, not the task, failed: a read-only or full disk, an unusable directory.

    The CLI exits 5 with its message; nothing of the session is left behind.
    """


class SessionError(EnvironmentFailure):
    """A session directory or one of its files is missing, unreadable or not ours."""


class InputsError(ValueError):
    """Input overrides that do not fit the request format or the task's signature."""


class ReloadError(Exception):
    """A changed module does not re-load: names its file and line."""


class Terminated(SystemExit):
    """SIGTERM arrived: the server and its kernels were stopped; exit 143 as the signal would."""

    def __init__(self) -> None:
        """SystemExit(143): 128 + SIGTERM."""
        super().__init__(143)


SIGINT_SEEN = "_interactive_ext_sigint_seen"
"""Set on a KeyboardInterrupt or a cancellation that left the task (task/signals.py): whether a
SIGINT arrived while the task ran."""


def own_interrupt(exc: BaseException | None) -> bool:
    """Whether exc is a KeyboardInterrupt the task raised itself, no SIGINT having arrived while
    it ran: the task's failure like any exception, not an interruption."""
    return isinstance(exc, KeyboardInterrupt) and getattr(exc, SIGINT_SEEN, None) is False


def by_sigint(exc: BaseException | None) -> bool:
    """Whether exc ended the task because of SIGINT: a KeyboardInterrupt the task did not raise
    itself, or the cancellation of an async task by asyncio.run's SIGINT handler."""
    if isinstance(exc, KeyboardInterrupt):
        return not own_interrupt(exc)
    return getattr(exc, SIGINT_SEEN, None) is True


def task_failure(exc: BaseException) -> bool:
    """Whether exc, raised by the task, is its own failure: an exception or its own
    KeyboardInterrupt (not SystemExit, not SIGINT, not a cancellation)."""
    return isinstance(exc, Exception) or own_interrupt(exc)


MAX_TRACEBACK = 6000
"""The most characters of one traceback written to a log (its first and last lines kept)."""


def bounded_tracebacks() -> None:
    """Every log record of this process formats its traceback in at most MAX_TRACEBACK
    characters: a RecursionError's thousand frames never fill the log."""
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
            text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            if len(text) > MAX_TRACEBACK:
                head, tail = text[: MAX_TRACEBACK // 3], text[-MAX_TRACEBACK // 2 :]
                text = f"{head}\n... ({len(text)} characters of traceback left out) ...\n{tail}"
            record.exc_text = text
        return record

    logging.setLogRecordFactory(factory)
