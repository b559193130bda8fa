"""The one REST client of the extension's API: the CLI, the notebook helpers and readiness."""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

from .protocol import CONVERT_SECONDS, RESUME, STATUS, TOKEN_ENV, route
from .records import ReadyInfo

# Frontend pages a printed URL may point to; the server's root is what comes before them.
# A whole path segment only, the leftmost: /street/lab/... keeps its prefix /street/.
FRONTEND_SUFFIX = re.compile(r"(?<=/)(lab|tree|notebooks|doc|interactive)(/.*)?$")


class Unreachable(ConnectionError):
    """Nothing answers at the server's URL."""


@dataclass
class Reply:
    """An answer of the server: HTTP status and the JSON body (or its text)."""

    status: int
    body: Any

    @property
    def message(self) -> str:
        """The message of a Jupyter error body, or the text."""
        if isinstance(self.body, dict):
            return str(self.body.get("message") or self.body.get("reason") or self.body)
        return str(self.body).strip()[:200]


def _decode(raw: bytes) -> Any:
    """A response body: JSON if it is, else its text."""
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")


def call(
    method: str, url: str, token: str, body: Any = None, timeout: float = 10, where: str = ""
) -> Reply:
    """One JSON call with a token (Jupyter's and JupyterHub's APIs); Unreachable if no answer."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"token {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return Reply(resp.status, _decode(resp.read()))
    except urllib.error.HTTPError as e:
        return Reply(e.code, _decode(e.read()))
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", e)
        raise Unreachable(f"no server answers at {where or url} ({reason})") from None


@dataclass
class Client:
    """A Jupyter server with the extension: its root URL and its token."""

    server_url: str
    token: str
    source: str = "--url"

    @classmethod
    def from_url(cls, url: str, token: str | None = None, source: str = "--url") -> Client:
        """Parse a URL as Jupyter prints it (its ?token= is used if token is None)."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"{url!r} is not an http(s) URL like http://127.0.0.1:8888/")
        if token is None:
            token = parse_qs(parts.query).get("token", [os.environ.get(TOKEN_ENV, "")])[0]
        path = FRONTEND_SUFFIX.sub("", parts.path or "/")
        if not path.endswith("/"):
            path += "/"
        return cls(urlunsplit((parts.scheme, parts.netloc, path, "", "")), token, source)

    @classmethod
    def from_ready(cls, info: ReadyInfo, source: str = "ready file") -> Client:
        """The client of a server described by its ready file."""
        return cls(info.server_url, info.token, source)

    @property
    def link(self) -> str:
        """The root URL a person opens (with the token)."""
        return f"{self.server_url}?token={self.token}" if self.token else self.server_url

    def request(self, method: str, endpoint: str, body: Any = None, timeout: float = 10) -> Reply:
        """One call to an endpoint of the extension; Unreachable when nothing answers."""
        url = self.server_url + route(endpoint)
        return call(method, url, self.token, body, timeout, self.server_url)

    def status(self, timeout: float = 10) -> Reply:
        """GET the session's status (not activity)."""
        return self.request("GET", STATUS, timeout=timeout)

    def resume(
        self, inputs: dict[str, Any], timeout: float = CONVERT_SECONDS + 10, via: str = "rest"
    ) -> Reply:
        """POST a resume with JSON input overrides; via says where it came from (the log's).
        The wait outlasts the server's for the task's conversion, so a 202 is never missed."""
        return self.request("POST", RESUME, {"inputs": inputs, "via": via}, timeout=timeout)

    def answers(self, timeout: float = 2) -> bool:
        """True when the server answers the status with 200 (readiness)."""
        try:
            return self.status(timeout=timeout).status == 200
        except Unreachable:
            return False
