"""Start the Jupyter server child with the extension on, wait until it answers, stop it."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import os
import secrets
import select
import signal
import subprocess
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..errors import ServerError
from ..options import Options
from ..procs import alive, descendants, session_processes
from ..protocol import (
    EXTENSION,
    READY,
    READY_FILE_ENV,
    SERVER_LOG,
    TOKEN_ENV,
)
from ..records import ReadyInfo
from ..session.conversion import ConversionService
from ..session.directory import Session, atomic_write
from ..session.hub import Hub
from ..session.reaching import report_failures
from . import containment, handover
from .hub import hub_config
from .leftovers import connection_files, remove_server_files
from .ports import listen_port, url_host

log = logging.getLogger("interactive_ext")

CHECKPOINTS_MODULE = "interactive_ext.server.checkpoints"  # imported by the server child only
READY_TIMEOUT = 120.0
STOP_TIMEOUT = 10.0
LOG_TAIL = 25


@dataclass
class ServerSpec:
    """What to start: the session, the folder it serves, the task's options."""

    session: Session
    root_dir: str
    options: Options = field(default_factory=Options)
    source_dirs: list[str] = field(default_factory=list)
    notebook: str | None = None
    token: str | None = None  # the task's earlier rounds': one URL for the whole debug loop
    last_port: int | None = None  # the earlier round's port, taken again with port=0 if free
    convert: Callable[[dict[str, Any]], Any] | None = None  # the task's own, asked by the server


def resolve_token(token: str | None) -> str:
    """The token to require: the given one, else JUPYTER_TOKEN, else a random one."""
    return token or os.environ.get(TOKEN_ENV) or secrets.token_hex(24)


def page_path(notebook: str | None) -> str:
    """The page a person opens: the notebook in JupyterLab, else in Notebook 7, else ours."""
    if notebook and importlib.util.find_spec("jupyterlab") is not None:
        return f"lab/tree/{quote(notebook)}"
    if notebook and importlib.util.find_spec("notebook") is not None:
        return f"notebooks/{quote(notebook)}"
    return EXTENSION


class ServerProcess:
    """One Jupyter server child process serving a session."""

    def __init__(self, spec: ServerSpec) -> None:
        """Prepare (not start) a server for spec."""
        self.spec = spec
        self.token = spec.token or resolve_token(spec.options.token)
        self.port = spec.options.port
        self.port_note = ""  # why this round's port is not the last round's, for the URL line
        self.raced = False  # port=0's pick was taken before the child bound it (port_race)
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = spec.session.path / SERVER_LOG
        self.info: ReadyInfo | None = None
        self.spawned_at: int | None = None
        self.was_subreaper = False
        self.child: handover.WaitingChild | None = None
        self.converter: ConversionService | None = None
        task = Path(spec.notebook or "task").stem.removesuffix("-interactive")
        page = page_path(spec.notebook)
        self.hub = hub_config(spec.options, task, spec.session.path.name, self.token, page)
        self.base_url = self.hub.get("ServerApp", {}).get("base_url", spec.options.base_url)

    @property
    def hub_link(self) -> str:
        """'LINK (JupyterHub login), or ' for the log line when the session joins a Hub."""
        if not self.hub:
            return ""
        hub = self.hub["HubService"]
        link = Hub(hub["api_url"], "").link(hub["name"], page_path(self.spec.notebook))
        return f"{link} (JupyterHub login), or "

    def config(self) -> dict[str, Any]:
        """The server's config, handed to the child through its stdin (never in `ps`, no file)."""
        spec = self.spec
        app: dict[str, Any] = {
            "session_dir": str(spec.session.path),
            "max_idle_seconds": spec.options.max_idle_seconds,
            "max_lifetime_seconds": spec.options.max_lifetime_seconds,
            "hide_news": True,  # a person here is debugging a task: no news prompt
        }
        if spec.options.notify:  # none given: a cluster's Jupyter config may set its own
            app["notify"] = list(spec.options.notify)
        if spec.options.notify_include_token:
            app["notify_include_token"] = True
        return {
            "ServerApp": {
                "jpserver_extensions": {"interactive_ext": True},
                "ip": spec.options.ip,
                "port": self.port,
                "port_retries": 0,
                "base_url": self.base_url,
                # a server without this extension would never stop by itself: fail instead
                "reraise_server_extension_failures": True,
                "open_browser": False,
                "root_dir": spec.root_dir,
                "allow_root": os.getuid() == 0 if hasattr(os, "getuid") else False,
                **self.hub.get("ServerApp", {}),
            },
            "IdentityProvider": {"token": self.token},
            "InteractiveApp": app,
            **{k: v for k, v in self.hub.items() if k != "ServerApp"},
            # JupyterLab's checkpoints go into the session, not beside the person's files
            "FileContentsManager": {
                "checkpoints_class": f"{CHECKPOINTS_MODULE}.SessionCheckpoints"
            },
            "AsyncFileContentsManager": {
                "checkpoints_class": f"{CHECKPOINTS_MODULE}.AsyncSessionCheckpoints"
            },
            "SessionCheckpoints": {"session_dir": str(spec.session.path)},
            "KernelProvisionerFactory": {"default_provisioner_name": "interactive-provisioner"},
            "InteractiveProvisioner": {
                "session_dir": str(spec.session.path),
                "source_dirs": spec.source_dirs,
            },
        }

    def spawn(self) -> None:
        """Hand the child its config: the one spawned ahead (handover.py), else a new one.

        The child needs seconds to import; use them, then wait_ready.
        """
        spec = self.spec
        reused = self.reused_port() if self.port == 0 else None  # checked by its own bind
        self.port = reused or listen_port(spec.options.ip, self.port)
        if spec.convert is not None:
            self.converter = ConversionService(spec.session, spec.convert)
        self.hand_over()

    def hand_over(self) -> None:
        """A child (the one spawned ahead, else a new one) takes this server's config."""
        spec = self.spec
        env = handover.child_env()
        if spec.options.ready_file:
            env[READY_FILE_ENV] = str(Path(spec.options.ready_file).absolute())
        self.child = child = handover.take()
        self.proc, self.spawned_at = child.popen, child.spawned_at
        self.was_subreaper = child.was_subreaper
        child.hand_over(
            handover.Handover([], env, spec.root_dir, str(self.log_path), self.config())
        )

    def port_race(self) -> bool:
        """Another process took port=0's pick before the child bound it: once, a new child on
        a new free port takes the config (True)."""
        if self.spec.options.port or self.raced or "is not available" not in self.log_tail():
            return False
        self.raced = True
        log.warning("port %d was taken before the server bound it: another one", self.port)
        self.port = listen_port(self.spec.options.ip, 0)
        self.hand_over()
        return True

    def reused_port(self) -> int | None:
        """port=0 after a first round: that round's port again if it is free (else a note)."""
        last = self.spec.last_port
        if not last:
            return None
        try:
            return listen_port(self.spec.options.ip, last)
        except ServerError:
            self.port_note = f" (a new port: port {last} of the last round is taken)"
            return None

    @property
    def server_url(self) -> str:
        """The server's root URL (base_url included), without the token."""
        return f"http://{url_host(self.spec.options.ip)}:{self.port}{self.base_url}"

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> ReadyInfo | None:
        """Poll the server until it answers, watching the child; the ready info.

        None when the server stopped with an outcome before it was seen answering (a resume or
        an idle stop right after the start): the outcome, not the missed answer, counts.
        """
        from ..client import Client  # imported while the child starts, not before the spawn

        assert self.proc is not None
        client = Client(self.server_url, self.token)
        deadline = time.monotonic() + timeout
        delay = 0.02
        while not client.answers():
            code = self.proc.poll()
            if code is not None:
                if self.spec.session.outcome() is not None:
                    return None
                if self.port_race():
                    client = Client(self.server_url, self.token)
                    continue
                raise self.error(f"the Jupyter server exited with code {code} before answering")
            if time.monotonic() > deadline:
                self.stop()
                raise self.error(f"the Jupyter server did not answer within {timeout:.0f} s")
            time.sleep(delay)
            delay = min(delay * 1.5, 0.2)
        self.info = self.ready_info()
        self.write_ready(self.info)
        return self.info

    def ready_info(self) -> ReadyInfo:
        """The ready file's record for the running child."""
        assert self.proc is not None
        return ReadyInfo(
            url=f"{self.server_url}{page_path(self.spec.notebook)}?token={self.token}",
            server_url=self.server_url,
            base_url=self.base_url,
            port=self.port,
            token=self.token,
            pid=self.proc.pid,
            session_dir=str(self.spec.session.path),
        )

    def write_ready(self, info: ReadyInfo) -> None:
        """Write the ready info into the session and, if asked, into the ready file."""
        self.spec.session.write_json(READY, info.to_json())
        if self.spec.options.ready_file:
            ready = Path(self.spec.options.ready_file)
            ready.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(ready, json.dumps(info.to_json(), indent=1).encode())

    def wait(self) -> int:
        """Wait for the server to exit by itself (resume, idle, lifetime); its exit code.

        Not one blocking wait: an interrupt that is not a real signal (Ray's `ray.cancel` calls
        `_thread.interrupt_main()`) runs its handler only between bytecodes, so the wait wakes
        every 2 s. The child's pidfd wakes it at once when the child exits; without
        one, Popen's own polled wait is used.
        """
        proc = self.proc
        assert proc is not None
        try:
            fd = os.pidfd_open(proc.pid)
        except (AttributeError, OSError):
            while True:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    return proc.wait(timeout=0.5)
        try:
            while proc.poll() is None:
                select.select([fd], [], [], 2.0)
        finally:
            os.close(fd)
        return proc.wait()

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop the server, then every process it left (kernels and what they started)."""
        if self.converter is not None:
            self.converter.close()
        proc = self.proc
        if proc is None:
            return
        kernels = descendants(proc.pid)
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning("the Jupyter server did not stop in %s s; killing it", timeout)
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.contain(kernels)
        if self.child is not None:
            self.child.close(self.log_path)
        report_failures(self.spec.session)

    def contain(self, known: set[int]) -> None:
        """Stop what the server left: known pids, its orphans re-parented to us, their trees.

        After a clean stop nothing is left; after a kill -9 of the server child its kernels,
        terminals and what they detached are our children (we are a subreaper while serving).
        """
        assert self.proc is not None
        files: list[Path] = []
        for _ in range(5):  # again: a process forked while we stopped its parent is new
            orphans = containment.foreign_children(self.spawned_at) - {self.proc.pid}
            left = containment.tree(known | orphans | session_processes(self.spec.session.path))
            left = {p for p in left if alive(p)}
            if not left:
                containment.reap(orphans)
                break
            files = files or connection_files(left)
            containment.stop_tree(left, why="left by the Jupyter server", scan=self._orphans)
            containment.reap(orphans)
            known = set()
        if self.proc.returncode is not None:  # a server that did not clean up (a signal)
            remove_server_files(self.proc.pid, files)
        if not self.was_subreaper:
            containment.set_subreaper(False)

    def _orphans(self, children: dict[int, list[int]]) -> set[int]:
        """The server's processes re-parented to us (we are their subreaper), not the child."""
        assert self.proc is not None
        return containment.foreign_children(self.spawned_at, children) - {self.proc.pid}

    def log_tail(self, lines: int = LOG_TAIL) -> str:
        """The last lines the server wrote."""
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(deque(f, maxlen=lines))
        except OSError:
            return ""

    def error(self, what: str) -> ServerError:
        """A ServerError with what happened and the server's last log lines."""
        if self.child is not None:  # a child that died before its hand-over logged elsewhere
            self.child.salvage(self.log_path)
        tail = self.log_tail()
        if f"port {self.port} is not available" in tail or "already in use" in tail:
            what += f" (port {self.port} on {self.spec.options.ip} is already in use)"
        return ServerError(f"{what}; log {self.log_path}, last lines:\n{tail}")
