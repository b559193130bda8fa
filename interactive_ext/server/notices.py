"""What the server tells a person who is not looking: waiting, the idle warning, the stop.

A listener of the lifecycle. The messages are built on the server's loop and queued;
session/reaching.py sends them from a background thread (bounded), so neither the loop nor the
idle clock waits for a target.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from dataclasses import dataclass
from urllib.parse import quote

from jupyter_server.serverapp import ServerApp

from ..records import Reason, TaskContext
from ..session.directory import Session
from ..session.reaching import Notifier, notify_urls, reach_commands
from ..session.reading import why_waiting
from .idle import IdleWatcher
from .lifecycle import IdleWarning, Lifecycle, Transition
from .states import State
from .status import notebook_path, read_context

FLUSH_AT_STOP = 2.0
"""At the server's exit, the longest it waits for the stop notification to go out."""

FIRST_AFTER = 1.0
"""At the start, the longest the waiting notification (and Apprise's import) waits for the first
status answer (the task's readiness poll): the import holds the GIL for 0.1-0.2 s, which delayed
that answer, so the task's ready line (figure 1c)."""

CONTEXT_WAIT = 2.0
"""At the start, how long the waiting notification waits for the task's context.json."""

STOPS = {
    Reason.RESUMED: "a person resumed it; the task runs now",
    Reason.IDLE: "nobody was active for max_idle_seconds; the task goes on as its on_idle says "
    "(fail: IdleTimeout, resume: it runs)",
    Reason.LIFETIME: "it reached its lifetime cap (max_lifetime_seconds)",
    Reason.KILLED: "the server was stopped by a signal (the task or its job was cancelled or "
    "killed)",
}


@dataclass(frozen=True)
class NoticeSettings:
    """InteractiveApp's notify traits."""

    urls: tuple[str, ...] = ()
    timeout: float = 10.0
    include_token: bool = False


class Notices:
    """The notifications of one server: built from what the lifecycle tells, sent in the
    background."""

    def __init__(
        self,
        settings: NoticeSettings,
        server: ServerApp,
        session: Session | None,
        watcher: IdleWatcher,
        log: logging.Logger,
    ) -> None:
        """Notify the settings' URLs (and $INTERACTIVE_EXT_NOTIFY's) about server's session."""
        self.settings = settings
        self.server = server
        self.session = session
        self.watcher = watcher
        self.log = log
        self.notifier = Notifier(notify_urls(settings.urls), settings.timeout, log)
        self._first: asyncio.TimerHandle | None = None

    def subscribe(self, lifecycle: Lifecycle) -> None:
        """Listen to WAITING, the warning and STOPPING."""
        lifecycle.on(State.WAITING, self.started)
        lifecycle.on(IdleWarning, self.warning)
        lifecycle.on(State.STOPPING, self.stopped)

    @property
    def host(self) -> str:
        """This machine's name, as a person finds it in the cluster."""
        return socket.gethostname()

    def context(self) -> TaskContext | None:
        """The task's context (None: a plain server, or not written yet)."""
        return read_context(self.session, self.log)[0]

    def task(self) -> str:
        """module:qualname of the task, or a plain server's name."""
        context = self.context()
        return context.ref if context is not None else f"Jupyter server on {self.host}"

    def url(self) -> str:
        """The page to open; with the token only if include_token."""
        server = self.server
        path = notebook_path(self.context(), server.root_dir)
        url = server.connection_url + (f"lab/tree/{quote(path)}" if path else "interactive")
        if self.settings.include_token and server.identity_provider.token:
            return f"{url}?token={server.identity_provider.token}"
        return url

    def where_token(self) -> list[str]:
        """Where the token is, when the message does not carry it."""
        if self.settings.include_token:
            return []
        return [
            "Token: in the task's log (its URL line), or run `jupyter interactive-task list` "
            f"on {self.host}"
        ]

    def why(self) -> str:
        """Why the task waits (a plain server: what it is)."""
        if self.session is None:
            return "a Jupyter server with the interactive extension"
        return why_waiting(self.session)

    def started(self, change: Transition) -> None:
        """The session waits: the waiting notification comes soon (after the first status)."""
        if self.notifier.enabled:
            self._first = asyncio.get_running_loop().call_later(FIRST_AFTER, self.answered)

    def answered(self) -> None:
        """A status was answered (or FIRST_AFTER passed): the waiting notification goes now."""
        if self._first is not None:
            self._first.cancel()
            self._first = None
            asyncio.get_running_loop().call_soon(self.waiting)

    def waiting(self, tries: int = int(CONTEXT_WAIT / 0.25)) -> None:
        """The session is waiting: task, why, host, port, URL, deadline, how to reach it."""
        if self.context() is None and self.session is not None and tries > 0:
            # the task writes context.json while the server starts
            asyncio.get_running_loop().call_later(0.25, self.waiting, tries - 1)
            return
        port = self.server.port
        deadline = self.watcher.state()["shutdown_deadline"]
        lines = [
            f"Why: {self.why()}",
            f"Host: {self.host}, port {port}",
            f"Open: {self.url()}",
            *self.where_token(),
            f"Idle stop: {deadline} (after {self.watcher.max_idle:g} s without activity)"
            if deadline
            else "Idle stop: none",
            *(f"Reach it: {c}" for c in reach_commands(port, self.server.ip)),
        ]
        self.notifier.send(f"{self.task()} is waiting on {self.host}:{port}", "\n".join(lines))

    def warning(self, warning: IdleWarning) -> None:
        """The idle warning."""
        if not self.notifier.enabled:
            return
        title = f"{self.task()} stops in {warning.seconds_remaining:.0f} s (idle)"
        body = f"Nobody is active; open {self.url()} or resume it before the idle stop."
        self.notifier.send(title, "\n".join([body, *self.where_token()]))

    def stopped(self, change: Transition) -> None:
        """The stop: resumed (with the overrides' names), idle, lifetime or killed."""
        reason = change.reason
        if not self.notifier.enabled or reason is None:
            return
        body = STOPS.get(reason, reason.value)
        if reason is Reason.RESUMED:
            body += f" (input overrides: {', '.join(change.inputs) or 'none'})"
        self.notifier.send(f"{self.task()} stopped: {reason}", f"Reason: {reason}: {body}")

    def flush(self) -> bool:
        """Let the queued notifications go out, bounded: the server exits."""
        return self.notifier.flush(FLUSH_AT_STOP)
