"""Kernels and terminals of a running Jupyter server, driven over REST and websockets as a
frontend drives them."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from typing import Any, Protocol

from .procs import HOST
from .web import http


class Endpoint(Protocol):
    """Where a Jupyter server answers: its port on 127.0.0.1 and its token (None: no token)."""

    @property
    def port(self) -> int:
        """The port on 127.0.0.1."""

    @property
    def token(self) -> str | None:
        """The token, or None."""


class Address:
    """An Endpoint from a port and a token."""

    def __init__(self, port: int, token: str | None) -> None:
        self.port = port
        self.token = token


def _headers(server: Endpoint) -> dict[str, str]:
    return {"Authorization": f"token {server.token}"} if server.token else {}


def start_kernel(server: Endpoint) -> str:
    """Start a real ipykernel through the REST API (answered once the kernel runs); its id."""
    r = http("POST", f"http://{HOST}:{server.port}/api/kernels", server.token, {"name": "python3"})
    if r.status != 201:
        raise AssertionError(f"POST /api/kernels answered {r.status}: {r.body}")
    return str(r.body["id"])


def open_terminal(server: Endpoint) -> str:
    """Open a terminal through the REST API; its name."""
    r = http("POST", f"http://{HOST}:{server.port}/api/terminals", server.token)
    if r.status != 200:
        raise AssertionError(f"POST /api/terminals answered {r.status}: {r.body}")
    return str(r.body["name"])


def message(msg_type: str, content: dict[str, Any], session: str) -> dict[str, Any]:
    """A Jupyter message for the kernel websocket (JSON protocol)."""
    return {
        "header": {
            "msg_id": uuid.uuid4().hex,
            "username": "harness",
            "session": session,
            "msg_type": msg_type,
            "version": "5.3",
            "date": "",
        },
        "parent_header": {},
        "metadata": {},
        "content": content,
        "channel": "shell",
        "buffers": [],
    }


def execute(
    server: Endpoint,
    kernel_id: str,
    code: str | None = None,
    wait: bool = True,
    closing: bool = False,
    *,
    before: Callable[[], Any] | None = None,
    timeout: float = 60.0,
) -> list[dict[str, Any]]:
    """Over the kernel websocket: wait until the kernel answers, call before (if given), then
    run code (if any) and return the IOPub messages of the request.

    wait=True returns once the kernel is idle again; wait=False as soon as it reports busy for
    this request (the cell keeps running). closing=True: the cell stops the server, so a closed
    websocket ends the messages too. timeout: seconds for each message to come.
    """
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    async def replies(ws: Any, msg_id: str) -> Any:
        while True:
            raw = await asyncio.wait_for(ws.read_message(), timeout)
            if raw is None:
                if closing:
                    return
                raise AssertionError("the kernel websocket closed")
            if isinstance(raw, bytes):
                continue
            reply = json.loads(raw)
            if reply.get("parent_header", {}).get("msg_id") == msg_id:
                yield reply

    async def run() -> list[dict[str, Any]]:
        url = f"ws://{HOST}:{server.port}/api/kernels/{kernel_id}/channels"
        req = HTTPRequest(url, headers=_headers(server), connect_timeout=timeout)
        ws = await websocket_connect(req)
        session = uuid.uuid4().hex
        seen: list[dict[str, Any]] = []
        try:
            info = message("kernel_info_request", {}, session)
            await ws.write_message(json.dumps(info))
            async for reply in replies(ws, info["header"]["msg_id"]):
                if reply["msg_type"] == "kernel_info_reply":
                    break
            if before is not None:
                before()
            if code is None:
                return seen
            content = {
                "code": code,
                "silent": False,
                "store_history": True,
                "user_expressions": {},
                "allow_stdin": False,
                "stop_on_error": True,
            }
            msg = message("execute_request", content, session)
            await ws.write_message(json.dumps(msg))
            async for reply in replies(ws, msg["header"]["msg_id"]):
                seen.append(reply)
                if reply["msg_type"] == "status":
                    state = reply["content"]["execution_state"]
                    if (state == "busy" and not wait) or state == "idle":
                        break
            return seen
        finally:
            ws.close()

    return asyncio.run(run())


def type_in_terminal(
    server: Endpoint, name: str, text: str, until: str, timeout: float = 30
) -> None:
    """Type text into the terminal name over its websocket, as a frontend does; return once
    its output shows until."""
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    async def run() -> None:
        url = f"ws://{HOST}:{server.port}/terminals/websocket/{name}"
        ws = await websocket_connect(HTTPRequest(url, headers=_headers(server)))
        try:
            await ws.write_message(json.dumps(["stdin", text]))
            while True:
                msg = await ws.read_message()
                if msg is None:
                    raise AssertionError("the terminal websocket closed")
                if until in msg:
                    return
        finally:
            ws.close()

    asyncio.run(asyncio.wait_for(run(), timeout))
