"""What the server tells a person who is not looking: waiting, the idle warning, the stop.

The messages are built on the server's loop and queued; session/notify.py sends them from a
background thread (bounded), so neither the loop nor the idle clock waits for a target.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any
from urllib.parse import quote

from ..session.notify import Notifier, notify_urls
from ..session.reach import reach_commands
from ..session.reading import why_waiting
from . import pod
from .status import notebook_path

FLUSH_AT_STOP = 2.0
"""At the server's exit, the longest it waits for the stop notification to go out."""

HUB_WAIT = 10.0
"""At the start, how much longer the waiting notification waits for the Hub's entry (its link
comes first in the message)."""

FIRST_AFTER = 1.0
"""At the start, the longest the waiting notification (and Apprise's import) waits for the first
status answer (the task's readiness poll): the import holds the GIL for 0.1-0.2 s, which delayed
that answer, so the task's ready line (figure 1c)."""

CONTEXT_WAIT = 2.0
"""At the start, how long the waiting notification waits for the task's context.json."""

STOPS = {
    "resumed": "a person resumed it; the task runs now",
    "idle": "nobody was active for max_idle_seconds; the task goes on as its on_idle says "
    "(fail: IdleTimeout, resume: it runs)",
    "lifetime": "it reached its lifetime cap (max_lifetime_seconds)",
    "killed": "the server was stopped by a signal (the task or its job was cancelled or killed)",
}


class Notices:
    """The notifications of one server: built from the app's state, sent in the background."""

    def __init__(self, app: Any) -> None:
        """Notify the app's `notify` URLs (and $INTERACTIVE_EXT_NOTIFY's)."""
        self.app = app
        self.notifier = Notifier(notify_urls(app.notify), app.notify_timeout_seconds, app.log)
        self.warnings = 0
        self._first: asyncio.TimerHandle | None = None

    @property
    def host(self) -> str:
        """This machine's name, as a person finds it in the cluster."""
        return socket.gethostname()

    def task(self) -> str:
        """module:qualname of the task, or a plain server's name."""
        context, _ = self.app.task_context()
        return context.ref if context is not None else f"Jupyter server on {self.host}"

    def page(self) -> str:
        """The page to open, relative to the server's root."""
        context, _ = self.app.task_context()
        path = notebook_path(context, self.app.server.root_dir)
        return f"lab/tree/{quote(path)}" if path else "interactive"

    def url(self) -> str:
        """The page to open; with the token only if notify_include_token."""
        server = self.app.server
        url = server.connection_url + self.page()
        if self.app.notify_include_token and server.identity_provider.token:
            return f"{url}?token={server.identity_provider.token}"
        return url

    def open_lines(self) -> list[str]:
        """Where to open the page: through the Hub first (its login), then directly."""
        hub = self.app.hub
        through = [f"Open through JupyterHub: {hub.link(self.page())}"] if hub.registered else []
        return [*through, f"Open: {self.url()}"]

    def where_token(self) -> list[str]:
        """Where the token is, when the message does not carry it."""
        if self.app.notify_include_token:
            return []
        return [
            "Token: in the task's log (its URL line), or run `jupyter interactive-task list` "
            f"on {self.host}"
        ]

    def why(self) -> str:
        """Why the task waits (a plain server: what it is)."""
        if self.app.session is None:
            return "a Jupyter server with the interactive extension"
        return why_waiting(self.app.session)

    def started(self) -> None:
        """The server started: label the pod, if in one; the waiting notification comes soon."""
        deadline = self.app.heartbeat().get("shutdown_deadline")
        pod.annotate("waiting", self.app.server.port, deadline, self.app.log)
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
        context, _ = self.app.task_context()
        # the task writes context.json while the server starts; the Hub's entry comes soon too
        starting = context is None and self.app.session is not None and tries > 0
        if starting or (self.app.hub.pending and tries > -HUB_WAIT / 0.25):
            asyncio.get_running_loop().call_later(0.25, self.waiting, tries - 1)
            return
        port = self.app.server.port
        deadline = self.app.heartbeat().get("shutdown_deadline")
        lines = [
            f"Why: {self.why()}",
            f"Host: {self.host}, port {port}",
            *self.open_lines(),
            *self.where_token(),
            f"Idle stop: {deadline} (after {self.app.max_idle_seconds:g} s without activity)"
            if deadline
            else "Idle stop: none",
            *(f"Reach it: {c}" for c in reach_commands(port, self.app.server.ip)),
        ]
        self.notifier.send(f"{self.task()} is waiting on {self.host}:{port}", "\n".join(lines))

    def warning(self, seconds_remaining: float) -> None:
        """The idle warning."""
        self.warnings += 1
        if not self.notifier.enabled:
            return
        title = f"{self.task()} stops in {seconds_remaining:.0f} s (idle)"
        hub = self.app.hub
        url = hub.link(self.page()) if hub.registered else self.url()
        body = f"Nobody is active; open {url} or resume it before the idle stop."
        self.notifier.send(title, "\n".join([body, *self.where_token()]))

    def stopped(self, reason: str, inputs: dict[str, Any] | None = None) -> None:
        """The stop: resumed (with the overrides' names), idle, lifetime or killed."""
        self.pod_thread = pod.annotate(reason, self.app.server.port, None, self.app.log)
        if not self.notifier.enabled:
            return
        body = STOPS.get(reason, reason)
        if reason == "resumed":
            body += f" (input overrides: {', '.join(sorted(inputs or {})) or 'none'})"
        self.notifier.send(f"{self.task()} stopped: {reason}", f"Reason: {reason}: {body}")

    def flush(self) -> bool:
        """Let the queued notifications (and the pod's patch) go out, bounded: the server exits."""
        thread = getattr(self, "pod_thread", None)
        if thread is not None:
            thread.join(FLUSH_AT_STOP)
        return self.notifier.flush(FLUSH_AT_STOP)
