"""Reaching a person who is not looking: notifications, and the command that reaches the node.

Notifications go through Apprise: queued, sent by one background thread, each bounded in time.
Sending never blocks the caller (the server's event loop, its idle clock, the task): `send`
only queues. A target that fails (unreachable, refused, a bad URL) is one warning in the log;
the session goes on. Apprise is an optional extra, imported by the sending thread.

A server on a cluster's node is reached with a command: inside a Kubernetes pod (its
service-account folder is there), `kubectl port-forward` for this pod, namespace and port; in a
Slurm job, `ssh -L` to the node. The task's log line and the notifications carry them.

The server's messages (waiting, the idle warning, the stop) are server/notices.py's; the task
process sends one itself (TaskNotices: a resumed run that failed, after the server stopped).
"""

from __future__ import annotations

import logging
import os
import queue
import re
import socket
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..options import Options
from ..protocol import K8S_SA_DIR_ENV, NOTIFY_ENV

log = logging.getLogger("interactive_ext")

TIMEOUT = 10.0
"""The longest one notification to one target may take (connect, then read)."""

INSTALL = "pip install 'interactive_ext[notify]'"


def notify_urls(given: Iterable[str] = ()) -> list[str]:
    """The URLs to notify: those given, then $INTERACTIVE_EXT_NOTIFY's, each once."""
    env = re.split(r"[\s]+", os.environ.get(NOTIFY_ENV, "").strip())
    return list(dict.fromkeys(u for u in [*given, *env] if u))


def one_line(text: str, limit: int = 300) -> str:
    """The first line of text, cut to limit characters."""
    first = (text.strip().splitlines() or [""])[0]
    return first if len(first) <= limit else first[: limit - 1] + "…"


class Notifier:
    """Sends (title, body) notifications to Apprise URLs from one daemon thread."""

    def __init__(
        self, urls: Iterable[str], timeout: float = TIMEOUT, logger: logging.Logger | None = None
    ) -> None:
        """Notify urls, logging to logger; nothing starts until the first send (or start())."""
        self.urls = list(urls)
        self.log = logger or log
        self.timeout = timeout
        self.sent = 0
        self.failed = 0
        self._queue: queue.Queue[tuple[str, str]] = queue.Queue()
        self._pending = 0
        self._idle = threading.Condition()
        self._thread: threading.Thread | None = None

    @property
    def enabled(self) -> bool:
        """Whether there is any URL to notify."""
        return bool(self.urls)

    def start(self) -> None:
        """Start the sending thread now (it imports Apprise while the caller goes on)."""
        if self.enabled and self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="interactive-notify", daemon=True
            )
            self._thread.start()

    def send(self, title: str, body: str) -> None:
        """Queue one notification; returns at once."""
        if not self.enabled:
            return
        with self._idle:
            self._pending += 1
        self._queue.put((title, body))
        self.start()

    def flush(self, timeout: float) -> bool:
        """Wait up to timeout s for the queued notifications to be sent; True if they were."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    self.log.warning(
                        "notifications still sending after %.1f s; not waiting", timeout
                    )
                    return False
                self._idle.wait(left)
        return True

    # -- the sending thread ---------------------------------------------------------------

    def _targets(self) -> list[Any]:
        """The Apprise services of the URLs (a bad URL or no Apprise: one warning, none)."""
        try:
            import apprise
        except ImportError:
            self.log.warning("notify is set but Apprise is missing (%s): no notifications", INSTALL)
            return []
        logging.getLogger("apprise").setLevel(logging.ERROR)  # our one line says it failed
        targets = []
        for url in self.urls:
            target = apprise.Apprise.instantiate(url)
            if target is None:
                self.log.warning(
                    "notify: %s is not a valid Apprise URL (or its service needs a package "
                    "that is missing); it is skipped",
                    url.split("://", 1)[0] + "://...",
                )
                continue
            target.socket_connect_timeout = min(self.timeout, 5.0)
            target.socket_read_timeout = self.timeout
            targets.append(target)
        return targets

    def _run(self) -> None:
        """Hand each queued message to every target's own thread, for ever (a daemon thread):
        a slow or dead target never delays another, and each target gets them in order."""
        queues: list[queue.Queue[tuple[str, str]]] = []
        for target in self._targets():
            q: queue.Queue[tuple[str, str]] = queue.Queue()
            queues.append(q)
            threading.Thread(
                target=self._serve, args=(target, q), name="interactive-notify-to", daemon=True
            ).start()
        while True:
            item = self._queue.get()
            with self._idle:
                self._pending += len(queues) - 1  # one per target instead of one in all
                if not queues:
                    self._idle.notify_all()
            for q in queues:
                q.put(item)

    def _serve(self, target: Any, messages: queue.Queue[tuple[str, str]]) -> None:
        """Deliver one target's messages in order, for ever (a daemon thread)."""
        while True:
            title, body = messages.get()
            try:
                self._deliver(target, title, body)
            finally:
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()

    def _deliver(self, target: Any, title: str, body: str) -> None:
        """Send one notification to one target; a failure is one warning."""
        try:
            ok = bool(target.notify(title=title, body=body))
        except Exception as e:
            self.log.debug("notify: %s raised %r", target.url(privacy=True), e)
            ok = False
        if ok:
            self.sent += 1
            self.log.debug("notified %s: %s", target.url(privacy=True), title)
        else:
            self.failed += 1
            self.log.warning(
                "notify: sending %r to %s failed; the session goes on",
                title,
                target.url(privacy=True).split("?", 1)[0],
            )


# -- reaching the node ---------------------------------------------------------------

SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


def pod() -> tuple[str, str] | None:
    """(namespace, pod name) when this runs in a Kubernetes pod, else None."""
    folder = Path(os.environ.get(K8S_SA_DIR_ENV) or SA_DIR)
    try:
        namespace = (folder / "namespace").read_text().strip()
    except OSError:
        return None
    name = os.environ.get("HOSTNAME") or socket.gethostname()  # a pod's hostname is its name
    return (namespace or "default"), name


def first_node(nodelist: str) -> str:
    """The first host of a Slurm node list: 'gpu[03-05,7],cpu1' -> 'gpu03'."""
    head = re.match(r"([^,\[]+)(?:\[([^\]]+)\])?", nodelist.strip())
    if head is None:
        return nodelist.strip()
    prefix, ranges = head.group(1), head.group(2)
    if not ranges:
        return prefix
    return prefix + re.split(r"[-,]", ranges)[0]


def slurm_node() -> str | None:
    """The node of this Slurm job step (SLURMD_NODENAME, else SLURM_JOB_NODELIST's first)."""
    node = os.environ.get("SLURMD_NODENAME")
    if node:
        return node
    nodelist = os.environ.get("SLURM_JOB_NODELIST") or os.environ.get("SLURM_NODELIST")
    return first_node(nodelist) if nodelist else None


def reach_commands(port: int, ip: str = "127.0.0.1") -> list[str]:
    """The commands (zero, one or two) that forward port to a person's machine."""
    commands = []
    here = pod()
    if here is not None:
        namespace, name = here
        commands.append(f"kubectl port-forward -n {namespace} pod/{name} {port}:{port}")
    node = slurm_node()
    if node is not None:
        target = "127.0.0.1" if ip in ("127.0.0.1", "localhost", "0.0.0.0", "") else ip
        commands.append(f"ssh -N -L {port}:{target}:{port} {node}")
    return commands


# -- the task process's own notification -----------------------------------------------

FLUSH_AT_EXIT = 5.0
"""At the end of the run, the longest the task waits for its notification to go out."""


def reach_suffix(port: int, ip: str) -> str:
    """' (reach it: CMD; CMD)' on a cluster node, else ''."""
    commands = reach_commands(port, ip)
    return f" (reach it: {'; '.join(commands)})" if commands else ""


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

    def close(self) -> None:
        """Let what is queued go out, bounded (the task is ending)."""
        if self.notifier.enabled:
            self.notifier.flush(FLUSH_AT_EXIT)
