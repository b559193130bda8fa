"""Activity sources that feed the idle watcher: HTTP requests, kernels, terminals."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from jupyter_client.session import Session as KernelSession

from .idle import IdleWatcher, mono_from_datetime

MUTATING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# IOPub traffic caused by these requests is the server (or a frontend connecting)
# talking to the kernel, not a person: it neither counts as activity nor holds.
NOT_A_PERSON = frozenset({None, "kernel_info_request", "comm_info_request", "history_request"})

KERNEL_ACTIONS = "https://events.jupyter.org/jupyter_server/kernel_actions/v1"


def request_hook(watcher: IdleWatcher, log_function: Callable[[Any], None]) -> Callable:
    """Wrap tornado's log_function so that successful mutating requests count as activity."""

    def log_request(handler: Any) -> None:
        log_function(handler)
        if handler.request.method in MUTATING_METHODS and handler.get_status() < 400:
            watcher.touch(f"{handler.request.method} {handler.request.path}")

    log_request.interactive_ext = True  # type: ignore[attr-defined]
    return log_request


def terminal_source(settings: dict[str, Any]) -> Callable[[], float | None]:
    """A pull source: when a person last typed in a terminal (jupyter_server_terminals)."""
    return lambda: mono_from_datetime(settings.get("terminal_last_activity"))


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
        try:
            kernel = self.kernel_manager.get_kernel(kernel_id)
        except KeyError:
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

    def reconcile(self) -> None:
        """Correct holds from jupyter_server's own view of the kernels.

        A subscription started moments before a cell can miss its "busy" (a PUB socket drops
        what it sends before the subscriber has joined), and a kernel can die while busy. The
        watcher runs this before it acts: busy kernels hold, gone or idle ones release.
        """
        kernels = self.kernel_manager._kernels
        for kernel_id, kernel in list(kernels.items()):
            key = f"kernel:{kernel_id}"
            if getattr(kernel, "execution_state", "") == "busy" and key not in self.watcher.holds:
                self.log.debug("kernel %s is busy (seen by the server)", kernel_id)
                self.watcher.hold(key)
        for key in list(self.watcher.holds):
            if not key.startswith("kernel:"):
                continue
            kernel = kernels.get(key.split(":", 1)[1])
            if kernel is None or getattr(kernel, "execution_state", "") in ("idle", "dead"):
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
            state = session.unpack(msg["content"]).get("execution_state")
            if state == "starting":
                self.watcher.release(key)
            elif parent_type in NOT_A_PERSON:
                return
            elif state == "busy":
                self.watcher.hold(key)
            elif state == "idle":
                self.watcher.release(key)
            return
        if parent_type not in NOT_A_PERSON:
            self.watcher.touch(key)
