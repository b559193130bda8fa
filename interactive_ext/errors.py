"""The exceptions a task's caller can see."""

from __future__ import annotations


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
