"""A JupyterHub's services API as the sessions use it: the Hub, its token, the names, the sweep.

A waiting session is an externally managed service of the site's Hub (server/hub.py registers
it and removes it at its stop); an entry whose session was killed (kill -9, a lost node) is found
dead here and removed by the next session or by `list --hub`.
"""

from __future__ import annotations

import logging
import os
import re
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..client import Unreachable, call
from ..procs import alive
from ..protocol import HUB_ENV, HUB_SERVICE_PREFIX, HUB_TOKEN_ENVS

log = logging.getLogger("interactive_ext")

TIMEOUT = 5.0
"""The longest one call to the Hub takes (a Hub that is down is a warning, never a wait)."""
ADD_TIMEOUT = 40.0
"""Adding a service: the Hub answers once it has polled the service's URL (30 s at most)."""
PROBE = 1.0
"""How long the sweep waits for a service's address to accept a connection: longer is dead."""
MARK = "interactive_ext"
"""The key of a service's info that says a session registered it (its value: the version)."""
PUBLIC_URL_ENV = "JUPYTERHUB_PUBLIC_URL"
"""JupyterHub's own variable for its public URL (the links); else the API URL's origin."""


class HubError(RuntimeError):
    """The Hub does not answer or refuses: one line saying which, and why."""


def hub_token() -> str:
    """The token that manages the Hub's services: the first of HUB_TOKEN_ENVS set, else ''."""
    for name in HUB_TOKEN_ENVS:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return ""


def service_name(task: str, ident: str) -> str:
    """interactive-<task>-<short id>, in the characters a Hub's names and URLs take."""
    slug = re.sub(r"[^a-z0-9]+", "-", task.lower()).strip("-")[:40].strip("-") or "task"
    short = re.sub(r"[^a-z0-9]", "", ident.lower())[-6:] or "0"
    return f"{HUB_SERVICE_PREFIX}{slug}-{short}"


def names(value: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Users or groups given as 'a,b' or a list: a tuple of names, blanks dropped."""
    parts = value.split(",") if isinstance(value, str) else list(value)
    return tuple(p.strip() for p in parts if p.strip())


@dataclass
class Hub:
    """A JupyterHub's REST API (`http://HUB:8081/hub/api`) and a token for it."""

    api_url: str
    token: str

    @classmethod
    def configured(cls, url: str | None) -> Hub | None:
        """The Hub of `url`, else of $INTERACTIVE_EXT_HUB, with hub_token(); None for none."""
        url = (url or os.environ.get(HUB_ENV, "")).strip()
        return cls(url.rstrip("/"), hub_token()) if url else None

    @property
    def base(self) -> str:
        """The Hub's base path ('/' unless the Hub has a base_url): what comes before hub/api."""
        path = urlsplit(self.api_url).path.rstrip("/")
        path = path.removesuffix("/api").removesuffix("/hub")
        return path.rstrip("/") + "/"

    @property
    def hub_prefix(self) -> str:
        """The Hub's own pages' prefix (JupyterHub's hub_prefix)."""
        return f"{self.base}hub/"

    def prefix(self, name: str) -> str:
        """The path the Hub's proxy serves a service at."""
        return f"{self.base}services/{name}/"

    def link(self, name: str, path: str = "") -> str:
        """The public URL of a service's page (the Hub's login, no token)."""
        return f"{self.public}services/{name}/{path}"

    @property
    def public(self) -> str:
        """The Hub's public root URL, for links: $JUPYTERHUB_PUBLIC_URL, else the API's origin."""
        url = os.environ.get(PUBLIC_URL_ENV, "").strip()
        if url:
            return url.rstrip("/") + "/"
        parts = urlsplit(self.api_url)
        return f"{parts.scheme}://{parts.netloc}{self.base}"

    def call(self, method: str, path: str, body: Any = None, timeout: float = TIMEOUT) -> Any:
        """One call to the Hub's API; HubError when it does not answer or refuses."""
        try:
            reply = call(method, f"{self.api_url}/{path}", self.token, body, timeout)
        except Unreachable as e:
            raise HubError(f"the JupyterHub at {self.api_url} does not answer: {e}") from None
        if reply.status >= 400:
            raise HubError(
                f"the JupyterHub at {self.api_url} refused {method} {path}: "
                f"HTTP {reply.status}: {reply.message}"
            )
        return reply.body

    def owner(self) -> str | None:
        """The user who owns the token; None for a service's token."""
        model = self.call("GET", "user")
        if isinstance(model, dict) and model.get("kind", "user") == "user":
            return str(model["name"])
        return None

    def add(self, name: str, spec: dict[str, Any]) -> None:
        """Add an external service at runtime (JupyterHub 5+: POST /services/NAME)."""
        self.call("POST", f"services/{name}", spec, timeout=ADD_TIMEOUT)

    def remove(self, name: str) -> bool:
        """Remove a service; False if the Hub has none of that name."""
        try:
            self.call("DELETE", f"services/{name}")
        except HubError as e:
            if "HTTP 404" in str(e):
                return False
            raise
        return True

    def sessions(self) -> dict[str, dict[str, Any]]:
        """The services that sessions registered, by name."""
        services = self.call("GET", "services")
        return {
            name: model
            for name, model in (services or {}).items()
            if name.startswith(HUB_SERVICE_PREFIX) and MARK in (model.get("info") or {})
        }

    def sweep(self, keep: str = "") -> list[str]:
        """Remove the entries of sessions that are gone (but keep); the names removed."""
        removed = []
        for name, model in self.sessions().items():
            if name != keep and dead(model) and self.remove(name):
                log.info("removed the JupyterHub service %s: its session is gone", name)
                removed.append(name)
        return removed


def dead(model: dict[str, Any]) -> bool:
    """Whether a session's service is gone: its process (on this machine) or its address."""
    info = model.get("info") or {}
    pid = info.get("pid")
    if info.get("host") == socket.gethostname() and isinstance(pid, int):
        return not alive(pid)
    url = urlsplit(str(model.get("url") or ""))
    if not url.hostname:
        return False  # nothing to check: not ours to remove
    try:
        with socket.create_connection((url.hostname, url.port or 80), timeout=PROBE):
            return False
    except OSError:
        return True


def node_address(ip: str, hub: Hub) -> str:
    """The address the Hub's proxy reaches this server at: ip, or this node's for all addresses.

    For 0.0.0.0 (or ::), the address of the interface that routes to the Hub.
    """
    if ip not in ("", "0.0.0.0", "*", "::"):
        return ip
    target = urlsplit(hub.api_url)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect((target.hostname or "127.0.0.1", target.port or 80))  # no packet sent
            return str(s.getsockname()[0])
    except OSError:
        return socket.gethostbyname(socket.gethostname())
