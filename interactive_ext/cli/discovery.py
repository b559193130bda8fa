"""Finding the running sessions of this user: Jupyter's runtime files, session directories."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..client import Client, Unreachable
from ..errors import SessionError
from ..procs import alive
from ..protocol import SESSION_ENV
from ..session.directory import Session, runtime_dir

log = logging.getLogger("interactive_ext.cli")


class NotFound(LookupError):
    """No server (or several) matches what was asked."""


@dataclass
class Found:
    """A running server with the extension, and its status."""

    client: Client
    status: dict[str, Any]

    @property
    def is_task(self) -> bool:
        """True for a task session; False for a plain server that only has the extension."""
        return bool(self.status.get("task"))

    @property
    def task_name(self) -> str:
        """module:qualname of the task, or '-' for a plain server."""
        task = self.status.get("task") or {}
        return f"{task.get('module', '?')}:{task['qualname']}" if task.get("qualname") else "-"


def runtime_servers() -> list[dict[str, Any]]:
    """Info of the Jupyter servers of this user that are running (jpserver-*.json files)."""
    from ..child.leftovers import remove_stale_servers

    remove_stale_servers()  # those of servers killed with no chance to clean up
    servers = []
    for path in sorted(runtime_dir().glob("jpserver-*.json")):
        try:
            info = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # being written, or not ours to read
        pid = info.get("pid")
        if isinstance(pid, int) and pid > 0 and alive(pid) and info.get("url"):
            info["info_file"] = str(path)
            servers.append(info)
    return servers


def running() -> list[Found]:
    """The running servers that serve the extension's status, with their status."""
    found = []
    for info in runtime_servers():
        client = Client.from_url(info["url"], info.get("token") or "", info["info_file"])
        base_url = info.get("base_url")
        if isinstance(base_url, str) and base_url.startswith("/"):  # exact, whatever its names
            root = client.server_url.split("/", 3)[:3]
            client.server_url = "/".join(root) + base_url.rstrip("/") + "/"
        try:
            reply = client.status(timeout=3)
        except Unreachable:
            log.debug("no answer from %s", client.server_url)
            continue
        if reply.status == 200 and isinstance(reply.body, dict):
            found.append(Found(client, reply.body))
        else:
            log.debug("%s has no interactive extension (HTTP %s)", client.server_url, reply.status)
    return found


def local_token(server_url: str) -> str:
    """The token of this user's running server at server_url (its runtime file), or ""."""
    wanted = urlsplit(server_url)
    local = {"127.0.0.1", "localhost", "::1", "0.0.0.0", "::"}
    tokens = set()
    for info in runtime_servers():
        there = urlsplit(info["url"])
        same_host = there.hostname == wanted.hostname or {there.hostname, wanted.hostname} <= local
        base = info.get("base_url") if isinstance(info.get("base_url"), str) else there.path
        if same_host and there.port == wanted.port and (base or "/") == wanted.path:
            tokens.add(info.get("token") or "")
    if len(tokens) == 1:
        log.info("using the token of the session at %s from its runtime file", server_url)
        return tokens.pop()
    return ""


def from_session_dir(path: str, source: str) -> Client:
    """The client of a session directory's server, from its ready file."""
    try:
        info = Session.open(path).ready()
    except SessionError as e:
        raise NotFound(str(e)) from None
    if info is None:
        raise NotFound(
            f"the server of session {path} is not up (not ready yet, or already stopped)"
        )
    return Client.from_ready(info, source)


def find(url: str | None, token: str | None, session_dir: str | None) -> Client:
    """The server to talk to: --url, else --session-dir, else this kernel's, else the one task."""
    if url:
        client = Client.from_url(url, token)
        if not client.token:  # a session of this user on this machine: its token is known
            client.token = local_token(client.server_url)
        return client
    if token:
        raise NotFound(
            "--token and --token-file need --url (a found server's token is known already)"
        )
    if session_dir:
        return from_session_dir(session_dir, f"--session-dir {session_dir}")
    env_session = os.environ.get(SESSION_ENV)
    if env_session:
        return from_session_dir(env_session, f"${SESSION_ENV}")
    tasks = [f for f in running() if f.is_task]
    if len(tasks) == 1:
        log.info(
            "using the interactive session at %s (%s)",
            tasks[0].client.server_url,
            tasks[0].client.source,
        )
        return tasks[0].client
    if not tasks:
        raise NotFound(
            "no running interactive task session found among the Jupyter servers of this user; "
            "give --url URL --token TOKEN (or --session-dir DIR)"
        )
    names = "; ".join(f"{f.client.server_url} ({f.task_name})" for f in tasks)
    raise NotFound(
        f"{len(tasks)} interactive task sessions are running, pick one with --url: {names}"
    )
