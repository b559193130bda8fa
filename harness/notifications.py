"""A local receiver of notifications: Apprise's json:// schema posts to it over HTTP."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .procs import HOST, wait_for


class Receiver:
    """A local HTTP server that keeps every JSON body posted to it, with its arrival time."""

    def __init__(self) -> None:
        """Listen on a free port of 127.0.0.1 (a thread serves it)."""
        self.messages: list[tuple[float, dict[str, Any]]] = []
        received = self.messages

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                received.append((time.monotonic(), json.loads(body or b"{}")))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((HOST, 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        """The Apprise URL of this receiver."""
        return f"json://{HOST}:{self.port}/"

    def wait(self, words: str, timeout: float = 30) -> tuple[float, dict[str, Any]]:
        """The first message whose title contains words (arrival time, body)."""

        def found() -> Any:
            return next((m for m in list(self.messages) if words in m[1].get("title", "")), None)

        return wait_for(found, timeout, f"a notification titled ...{words}...")  # type: ignore[no-any-return]

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()
