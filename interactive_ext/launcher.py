"""Start the Jupyter server child with the extension on, detect readiness, stop it."""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .session import READY, SESSION_ENV, Session, atomic_write

log = logging.getLogger("interactive_ext")

CONFIG = "server_config.json"
LOG = "server.log"
READY_TIMEOUT = 120.0
STOP_TIMEOUT = 10.0
LOG_TAIL = 25


class ServerError(RuntimeError):
    """The Jupyter server died or never came up; the message quotes its last log lines."""


@dataclass
class ServerSpec:
    """What to start: where, on which address, with which limits."""

    session: Session
    root_dir: str
    ip: str = "127.0.0.1"
    port: int = 8888
    token: str | None = None
    max_idle_seconds: float = 3600.0
    max_lifetime_seconds: float = 0.0
    source_dirs: list[str] = field(default_factory=list)
    ready_file: str | None = None


def resolve_token(token: str | None) -> str:
    """The token to require: the given one, else JUPYTER_TOKEN, else a random one."""
    if token:
        return token
    return os.environ.get("JUPYTER_TOKEN") or secrets.token_hex(24)


def connect_host(ip: str) -> str:
    """The address to reach a server bound to ip from this machine."""
    if ip in ("", "0.0.0.0", "*"):
        return "127.0.0.1"
    if ip == "::":
        return "::1"
    return ip


def url_host(ip: str) -> str:
    """ip as written in a URL (IPv6 in brackets)."""
    host = connect_host(ip)
    return f"[{host}]" if ":" in host else host


def free_port(ip: str) -> int:
    """A TCP port free right now on ip (for port=0)."""
    host = connect_host(ip)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family) as s:
            s.bind((host, 0))
            return int(s.getsockname()[1])
    except OSError as e:
        raise ServerError(f"cannot find a free port on {ip}: {e}") from None


def port_in_use(ip: str, port: int) -> bool:
    """True if something already listens on ip:port."""
    host = connect_host(ip)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family) as s:
            s.settimeout(0.5)
            return s.connect_ex((host, port)) == 0
    except OSError:  # an address we cannot reach: let the server report it
        return False


class Server:
    """One Jupyter server child process serving a session."""

    def __init__(self, spec: ServerSpec) -> None:
        """Prepare (not start) a server for spec."""
        self.spec = spec
        self.token = resolve_token(spec.token)
        self.port = spec.port
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = spec.session.path / LOG
        self.info: dict[str, Any] = {}

    # -- starting ---------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        """The server's config (a 0600 file, so the token never shows in `ps`)."""
        spec = self.spec
        return {
            "ServerApp": {
                "jpserver_extensions": {"interactive_ext": True},
                "ip": spec.ip,
                "port": self.port,
                "port_retries": 0,
                # a server without this extension would never stop by itself: fail instead
                "reraise_server_extension_failures": True,
                "open_browser": False,
                "root_dir": spec.root_dir,
                "allow_root": os.getuid() == 0 if hasattr(os, "getuid") else False,
            },
            "IdentityProvider": {"token": self.token},
            "InteractiveApp": {
                "session_dir": str(spec.session.path),
                "max_idle_seconds": spec.max_idle_seconds,
                "max_lifetime_seconds": spec.max_lifetime_seconds,
            },
            "KernelProvisionerFactory": {"default_provisioner_name": "interactive-provisioner"},
            "InteractiveProvisioner": {
                "session_dir": str(spec.session.path),
                "source_dirs": spec.source_dirs,
            },
        }

    def start(self) -> dict[str, Any]:
        """Start the child, wait until it answers; the ready info (url, token, port, pid)."""
        self.spawn()
        return self.wait_ready()

    def spawn(self) -> None:
        """Start the child process (it needs seconds to import; use them, then wait_ready)."""
        spec = self.spec
        if self.port == 0:
            self.port = free_port(spec.ip)
        elif port_in_use(spec.ip, self.port):
            raise ServerError(
                f"port {self.port} on {spec.ip} is already in use; pass another port "
                "(port=0 picks a free one)"
            )
        config_path = spec.session.path / CONFIG
        atomic_write(config_path, json.dumps(self.config(), indent=1).encode())
        env = dict(os.environ)
        env.pop(SESSION_ENV, None)
        env["INTERACTIVE_EXT_PARENT_PID"] = str(os.getpid())
        cmd = [sys.executable, "-m", "interactive_ext.launcher", f"--config={config_path}"]
        fd = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            self.proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=fd,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=spec.root_dir,
                start_new_session=True,
            )
        finally:
            os.close(fd)

    def base_url(self) -> str:
        """The server's base URL, without the token."""
        return f"http://{url_host(self.spec.ip)}:{self.port}/"

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> dict[str, Any]:
        """Poll the server until it answers, watching the child; the ready info."""
        assert self.proc is not None
        url = self.base_url() + "interactive/status"
        deadline = time.monotonic() + timeout
        delay = 0.02
        while True:
            code = self.proc.poll()
            if code is not None:
                raise self.error(f"the Jupyter server exited with code {code} before answering")
            if self._answers(url):
                break
            if time.monotonic() > deadline:
                self.stop()
                raise self.error(f"the Jupyter server did not answer within {timeout:.0f} s")
            time.sleep(delay)
            delay = min(delay * 1.5, 0.2)
        self.info = {
            "url": f"{self.base_url()}?token={self.token}",
            "base_url": self.base_url(),
            "port": self.port,
            "token": self.token,
            "pid": self.proc.pid,
            "session_dir": str(self.spec.session.path),
        }
        self.spec.session.write_json(READY, self.info)
        if self.spec.ready_file:
            ready = Path(self.spec.ready_file)
            ready.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(ready, json.dumps(self.info, indent=1).encode())
        return self.info

    def _answers(self, url: str) -> bool:
        import urllib.error  # imported here, while the child starts, not before the spawn
        import urllib.request

        req = urllib.request.Request(url, headers={"Authorization": f"token {self.token}"})
        try:
            with urllib.request.urlopen(req, timeout=2) as r:
                return bool(r.status == 200)
        except urllib.error.HTTPError:
            return False
        except (OSError, ValueError):
            return False

    # -- waiting and stopping ------------------------------------------------------

    def wait(self) -> int:
        """Wait for the server to exit by itself (resume, idle, lifetime); its exit code."""
        assert self.proc is not None
        return self.proc.wait()

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop the server and its kernels: SIGTERM, then SIGKILL of its group after timeout."""
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
        # Kernels run in sessions of their own: none (nor what they started) outlives the
        # server. The server asked its kernels to shut down; one still here (a kernel that
        # was still starting, say) is an orphan now: ask it to stop at once, then kill it.
        stray = {p for p in kernels | session_processes(self.spec.session.path) if alive(p)}
        for pid in stray:
            log.info("stopping process %s left by the Jupyter server", pid)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 2.0
        while stray and time.monotonic() < deadline:
            time.sleep(0.05)
            stray = {p for p in stray if alive(p)}
        for pid in stray:
            log.warning("killing process %s left behind by the Jupyter server", pid)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)

    def log_tail(self, lines: int = LOG_TAIL) -> str:
        """The last lines the server wrote."""
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(deque(f, maxlen=lines))
        except OSError:
            return ""

    def error(self, what: str) -> ServerError:
        """A ServerError with what happened and the server's last log lines."""
        tail = self.log_tail()
        if f"port {self.port} is not available" in tail or "already in use" in tail:
            what += f" (port {self.port} on {self.spec.ip} is already in use)"
        return ServerError(f"{what}; log {self.log_path}, last lines:\n{tail}")


def stat_fields(pid: int | str) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (state first), or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None


def children_map() -> dict[int, list[int]]:
    """ppid -> child pids, read from /proc (empty where there is no /proc)."""
    children: dict[int, list[int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return children
    for entry in entries:
        fields = stat_fields(entry) if entry.isdigit() else None
        if fields is not None:
            children.setdefault(int(fields[1]), []).append(int(entry))
    return children


def descendants(pid: int) -> set[int]:
    """Live descendants of pid (from /proc; empty where there is no /proc)."""
    children = children_map()
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def session_processes(session_dir: Path) -> set[int]:
    """Processes whose environment names this session (its kernels and what they started)."""
    marker = b"\0" + f"{SESSION_ENV}={session_dir}".encode() + b"\0"
    found: set[int] = set()
    try:
        entries = os.listdir("/proc")
    except OSError:
        return found
    me = os.getpid()
    for entry in entries:
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                if marker in b"\0" + f.read() + b"\0":
                    found.add(int(entry))
        except OSError:
            continue
    return found


def alive(pid: int) -> bool:
    """True if pid exists and is not a zombie."""
    fields = stat_fields(pid)
    if fields is not None:
        return fields[0] != "Z"
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def _watch_parent(parent: int) -> None:
    """In the server child: stop when the task process is gone (SIGKILLed, say)."""

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os.kill(os.getpid(), signal.SIGTERM)
                return

    threading.Thread(target=watch, name="interactive-parent-watch", daemon=True).start()


def main() -> None:
    """The server child: ServerApp.launch_instance with the arguments given."""
    parent = os.environ.pop("INTERACTIVE_EXT_PARENT_PID", "")
    if parent.isdigit():
        _watch_parent(int(parent))
    from jupyter_server.serverapp import ServerApp

    ServerApp.launch_instance()
    # The server has cleaned up (kernels shut down, runtime files removed) and the task is
    # waiting for this exit. Python's own teardown of the modules would take a third of a
    # second more: run the exit handlers, flush, and leave.
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
