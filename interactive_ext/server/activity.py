"""Activity sources that feed the idle watcher: HTTP requests, kernels, terminals.

What a person does counts; what a frontend does by itself (polling, saving its layout and
settings, checkpoints, connecting to a kernel) does not. Both classifications are tables
here, and the same tables are in docs/idle.md (a test keeps them equal).
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from jupyter_client.session import Session as KernelSession

from ..protocol import HEARTBEAT, SAVED, route
from .idle import IdleWatcher, mono_from_datetime

ANY = "any"


def _glob(pattern: str) -> re.Pattern[str]:
    """A path pattern as a regex: `*` is one path segment, `/**` this path and all below it."""
    rx = re.escape(pattern).replace(r"/\*\*/", "/.+/").replace(r"/\*\*", "(/.*)?")
    return re.compile(rx.replace(r"\*", "[^/]+") + "$")


@dataclass(frozen=True)
class RequestRule:
    """One row of the request table: methods and a path pattern (under base_url)."""

    methods: str
    path: str
    counts: bool
    reason: str
    regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Compile the path pattern once."""
        object.__setattr__(self, "regex", _glob(self.path))

    def matches(self, method: str, path: str) -> bool:
        """True if this row applies to method and path."""
        methods = self.methods.split(", ")
        return (ANY in methods or method in methods) and bool(self.regex.match(path))


# First match wins. A request answered with 400 or more never counts, whatever the row.
REQUEST_RULES: tuple[RequestRule, ...] = (
    RequestRule(
        "GET, HEAD, OPTIONS",
        "/**",
        False,
        "reading: frontends poll `/api/kernels`, `/api/sessions`, `/api/contents`, "
        "`/api/status` and our own status every few seconds, and an open websocket is a "
        "GET; a tab nobody looks at must not hold a GPU node",
    ),
    RequestRule(
        ANY,
        "/lab/api/workspaces/**",
        False,
        "JupyterLab saves its layout by itself: 4.6 sends `PUT /lab/api/workspaces/default`"
        " every 10 s while the file browser is open",
    ),
    RequestRule(
        ANY,
        "/api/workspaces/**",
        False,
        "the same workspace writes, under the server-wide workspaces API",
    ),
    RequestRule(
        ANY,
        "/lab/api/settings/**",
        False,
        "settings JupyterLab and Notebook 7 persist by themselves (recent files, panel "
        "layout, dismissed notifications); a person who changes a setting does other things"
        " that count",
    ),
    RequestRule(
        "POST",
        "/api/contents/**/checkpoints",
        False,
        "JupyterLab creates a checkpoint by itself when it opens a file that has none, and "
        "after each save (the save, a `PUT`, counts)",
    ),
    RequestRule(
        "POST", "/api/events", False, "events and telemetry that frontends post by themselves"
    ),
    RequestRule(
        "POST",
        f"/{route(SAVED)}",
        False,
        "a frontend reports the saves it made for a stopping server: the server asked for them",
    ),
    RequestRule(
        "POST",
        f"/{route(HEARTBEAT)}",
        True,
        "a keep-alive: the frontend sends it (throttled) when a person types, clicks or "
        "scrolls; or a script",
    ),
    RequestRule(
        ANY,
        "/api/contents/**",
        True,
        "saving (`PUT`), creating (`POST`), renaming (`PATCH`), deleting (`DELETE`) a file,"
        " restoring a checkpoint",
    ),
    RequestRule(
        ANY, "/api/kernels/**", True, "starting, interrupting, restarting, shutting down a kernel"
    ),
    RequestRule(
        ANY,
        "/api/sessions/**",
        True,
        "opening a notebook or a console, changing its kernel, closing it (JupyterLab also "
        "opens the notebooks of a restored layout once, when the page loads)",
    ),
    RequestRule(ANY, "/api/terminals/**", True, "opening or closing a terminal"),
    RequestRule(
        ANY,
        "/**",
        True,
        "any other successful change (another extension's endpoint): counted, so that a "
        "person's action this table does not know never lets the server stop under them",
    ),
)

# Kernel requests a frontend or the server sends by itself (parent msg_type of IOPub traffic):
# their busy/idle and replies neither count as activity nor hold the server.
NOT_A_PERSON: dict[str | None, str] = {
    None: "IOPub messages with no parent request: the kernel's own start-up status",
    "kernel_info_request": "sent by the server and by each tab when it connects to a kernel",
    "comm_info_request": "sent by widget managers when a tab connects",
    "history_request": "sent by JupyterLab once per notebook it opens",
    "debug_request": "sent by JupyterLab's debugger extension when a notebook opens (8 of "
    "them with ipykernel 6) and when its sidebar is open; a person debugging holds the "
    "server by the paused execution",
    "usage_request": "sent every few seconds by jupyter-resource-usage's kernel usage panel",
}

KERNEL_ACTIONS = "https://events.jupyter.org/jupyter_server/kernel_actions/v1"


def request_rule(method: str, path: str) -> RequestRule:
    """The first row of REQUEST_RULES that applies to method and path (under base_url)."""
    for rule in REQUEST_RULES:
        if rule.matches(method, path):
            return rule
    return REQUEST_RULES[-1]


def request_hook(watcher: IdleWatcher, log_function: Callable[[Any], None]) -> Callable:
    """Wrap tornado's log_function so that requests a person causes count as activity."""

    def log_request(handler: Any) -> None:
        log_function(handler)
        if handler.get_status() >= 400:
            return
        method, path = handler.request.method, handler.request.path
        base_url = handler.settings.get("base_url", "/")
        if base_url != "/" and path.startswith(base_url):
            path = path[len(base_url) - 1 :]
        if request_rule(method, path).counts:
            watcher.touch(f"{method} {path}")

    return log_request


def terminal_source(settings: dict[str, Any]) -> Callable[[], float | None]:
    """A pull source: when a person last typed in a terminal (jupyter_server_terminals)."""
    return lambda: mono_from_datetime(settings.get("terminal_last_activity"))


def served_pids(server: Any) -> set[int]:
    """The pids of the server's kernels and terminal shells (the processes it started)."""
    pids = set()
    manager: Any = getattr(server, "kernel_manager", None)
    for kernel_id in list(manager.list_kernel_ids()) if manager is not None else []:
        with contextlib.suppress(Exception):
            pid = manager.get_kernel(kernel_id).provisioner.pid
            if isinstance(pid, int):
                pids.add(pid)
    terminals = getattr(server, "web_app", None)
    terminals = terminals.settings.get("terminal_manager") if terminals is not None else None
    for term in getattr(terminals, "terminals", {}).values():
        with contextlib.suppress(Exception):
            pids.add(int(term.ptyproc.pid))
    return pids


class KernelActivity:
    """Subscribes to each kernel's IOPub: execution holds the server, output counts."""

    def __init__(self, kernel_manager: Any, watcher: IdleWatcher, log: logging.Logger) -> None:
        """Feed kernel activity of kernel_manager into watcher."""
        self.kernel_manager = kernel_manager
        self.watcher = watcher
        self.log = log
        self.streams: dict[str, Any] = {}

    async def on_kernel_action(self, logger: Any, schema_id: str, data: dict[str, Any]) -> None:
        """jupyter_events listener for kernel start/restart/shutdown."""
        kernel_id = data.get("kernel_id")
        if not kernel_id or data.get("status") == "error":
            return
        action = data.get("action")
        if action in ("start", "restart"):
            self.watch(kernel_id)
        elif action == "shutdown":
            self.unwatch(kernel_id)

    def watch(self, kernel_id: str) -> None:
        """Start listening to one kernel's IOPub channel."""
        self.unwatch(kernel_id)
        kernel = self._kernel(kernel_id)
        if kernel is None:
            return
        session = KernelSession(config=kernel.session.config, key=kernel.session.key)
        stream = kernel.connect_iopub()
        stream.on_recv(lambda parts: self._on_iopub(kernel_id, session, parts))
        self.streams[kernel_id] = stream
        self.log.debug("watching kernel %s for activity", kernel_id)

    def unwatch(self, kernel_id: str) -> None:
        """Stop listening to a kernel; a hold it had is released."""
        stream = self.streams.pop(kernel_id, None)
        if stream is not None and not stream.closed():
            stream.close()
        self.watcher.release(f"kernel:{kernel_id}")

    def close(self) -> None:
        """Stop listening to every kernel."""
        for kernel_id in list(self.streams):
            stream = self.streams.pop(kernel_id)
            if not stream.closed():
                stream.close()

    def _kernel(self, kernel_id: str) -> Any:
        """The server's manager of one kernel, or None if it is gone."""
        try:
            return self.kernel_manager.get_kernel(kernel_id)
        except KeyError:
            return None

    def reconcile(self) -> None:
        """Correct holds from jupyter_server's own view of the kernels.

        A subscription started moments before a cell can miss its "busy" (a PUB socket drops
        what it sends before the subscriber has joined), and a kernel can die while busy. The
        watcher runs this before it acts: busy kernels hold, gone or idle ones release.
        """
        states = {}
        for kernel_id in self.kernel_manager.list_kernel_ids():
            kernel = self._kernel(kernel_id)
            if kernel is not None:
                states[kernel_id] = getattr(kernel, "execution_state", "")
        for kernel_id, execution_state in states.items():
            key = f"kernel:{kernel_id}"
            if execution_state == "busy" and key not in self.watcher.holds:
                self.log.debug("kernel %s is busy (seen by the server)", kernel_id)
                self.watcher.hold(key)
        for key in list(self.watcher.holds):
            if not key.startswith("kernel:"):
                continue
            if states.get(key.split(":", 1)[1], "dead") in ("idle", "dead"):
                self.log.info("releasing the hold of kernel %s (no longer busy)", key)
                self.watcher.release(key)

    def _on_iopub(self, kernel_id: str, session: KernelSession, parts: list[bytes]) -> None:
        """One IOPub message: busy holds, idle releases, output from a request counts."""
        try:
            _, fed = session.feed_identities(parts)
            msg = session.deserialize(fed, content=False)
        except Exception:
            self.log.exception("unreadable IOPub message from kernel %s", kernel_id)
            return
        parent_type = (msg.get("parent_header") or {}).get("msg_type")
        msg_type = msg["header"]["msg_type"]
        key = f"kernel:{kernel_id}"
        if msg_type == "status":
            execution_state = session.unpack(msg["content"]).get("execution_state")
            if execution_state == "starting":
                self.watcher.release(key)
            elif parent_type in NOT_A_PERSON:
                return
            elif execution_state == "busy":
                self.watcher.hold(key)
            elif execution_state == "idle":
                self.watcher.release(key)
            return
        if parent_type not in NOT_A_PERSON:
            self.watcher.touch(key)


def watch_server(
    server: Any, settings: dict[str, Any], watcher: IdleWatcher, log: logging.Logger
) -> KernelActivity:
    """Feed watcher from the server's requests (through the extension's settings, copied over
    the web app's), terminals and kernels; the kernels' source, to close at the stop."""
    kernels = KernelActivity(server.kernel_manager, watcher, log)
    watcher.set_reconcile(kernels.reconcile)
    settings["log_function"] = request_hook(watcher, settings["log_function"])
    watcher.add_pull_source("terminal", terminal_source(server.web_app.settings))
    server.event_logger.add_listener(schema_id=KERNEL_ACTIONS, listener=kernels.on_kernel_action)
    return kernels
