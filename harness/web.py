"""Real HTTP to a server on 127.0.0.1: one request function for the tests and the benchmarks."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

XSRF = "6861726e657373"
"""The double-submit XSRF pair a POST without a token needs (tornado's cookie and header)."""


@dataclass
class Response:
    """An HTTP answer: status code and the JSON body (or text)."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


def http(
    method: str,
    url: str,
    token: str | None = None,
    body: Any = None,
    raw: bytes | None = None,
    *,
    timeout: float = 10.0,
    xsrf: bool = False,
) -> Response:
    """One real HTTP request; never raises for an HTTP error status (OSError when nothing
    answers). xsrf=True sends tornado's XSRF cookie and header, as a page does."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    if data is None and method in ("POST", "PUT", "PATCH"):
        data = b""
    req = urllib.request.Request(url, data=data, method=method)
    if token:
        req.add_header("Authorization", f"token {token}")
    if body is not None and raw is None:
        req.add_header("Content-Type", "application/json")
    if xsrf:
        req.add_header("Cookie", f"_xsrf={XSRF}")
        req.add_header("X-XSRFToken", XSRF)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            status, text, headers = r.status, r.read().decode(errors="replace"), dict(r.headers)
    except urllib.error.HTTPError as e:
        status, text, headers = e.code, e.read().decode(errors="replace"), dict(e.headers)
    try:
        return Response(status, json.loads(text) if text else None, headers)
    except ValueError:
        return Response(status, text, headers)
