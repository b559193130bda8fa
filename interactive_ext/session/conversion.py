"""The task's own conversion of input overrides, asked by the server before it answers a resume.

A 202 means that the task runs with these inputs. A JSON schema is looser than the task's
pydantic conversion (`1e19` for an `int`, `"2024-13-45"` for a `date`), so the server does not
guess: it asks the waiting task process, which converts the overrides with the function the
resumed run uses (task/parameters.py `convert`) and answers "ok" or the 400's message. The channel
is a Unix socket in the session directory (0700: only the user reaches it), one JSON line each way.
The task converts save_inputs()' values with the request's, as the resumed run will.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..errors import InputsError, SessionError
from ..protocol import CONVERT_SECONDS, CONVERT_SOCKET
from ..records import TaskContext
from .directory import Session
from .overrides import parse_resume
from .reading import saved_inputs

log = logging.getLogger("interactive_ext")

MAX_SOCKET_PATH = 100
"""A Unix socket's path is at most 107 bytes: a longer one is reached through its folder's
descriptor (socket_path)."""


@contextlib.contextmanager
def socket_path(path: Path) -> Iterator[str]:
    """path as bind() and connect() take it: itself, or when too long for a Unix socket the
    same file through an open descriptor of its folder (/proc/self/fd/N/name)."""
    if len(str(path)) <= MAX_SOCKET_PATH:
        yield str(path)
        return
    fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        yield f"/proc/self/fd/{fd}/{path.name}"
    finally:
        os.close(fd)


class ConversionService:
    """The task process's side: converts each request's overrides, answers ok or why not."""

    def __init__(self, session: Session, convert: Callable[[dict[str, Any]], Any]) -> None:
        """Listen on the session's socket."""
        self.session = session
        self.convert = convert
        self.path = session.path / CONVERT_SOCKET
        self.sock: socket.socket | None = None
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.path.unlink(missing_ok=True)
            with socket_path(self.path) as where:
                sock.bind(where)
            os.chmod(self.path, 0o600)
            sock.listen(8)
        except OSError as e:  # a file system without sockets: the schema check stands alone
            sock.close()
            log.warning(
                "cannot listen on %s (%s): overrides are checked by schema only", self.path, e
            )
            return
        self.sock = sock
        self.thread = threading.Thread(target=self.serve, name="interactive-convert", daemon=True)
        self.thread.start()

    def serve(self) -> None:
        """Answer requests until the socket is closed."""
        assert self.sock is not None
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:  # closed
                return
            with conn, conn.makefile("rwb") as f:
                f.write(json.dumps(self.answer(f.readline())).encode() + b"\n")
                f.flush()

    def answer(self, line: bytes) -> dict[str, Any]:
        """{"ok": true} when every override converts (the request's over save_inputs()'),
        else {"error": the task's message}."""
        try:
            try:
                saved = saved_inputs(self.session)
            except SessionError:  # the resume itself reports a broken session
                saved = {}
            self.convert({**saved, **json.loads(line)["inputs"]})
        except InputsError as e:
            return {"error": str(e)}
        except Exception as e:  # a converter's own bug: still the task's refusal, said so
            log.exception("converting input overrides failed")
            return {"error": f"the task cannot convert these inputs ({type(e).__name__}: {e})"}
        return {"ok": True}

    def close(self) -> None:
        """Stop answering and remove the socket."""
        if self.sock is None:
            return
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(5)
        self.path.unlink(missing_ok=True)


async def check_resume(
    body: bytes, context: TaskContext | None, session_dir: Path | None
) -> tuple[dict[str, Any], str]:
    """A resume body's overrides and origin, as the task will run them: checked by name, JSON
    schema and sources here, then converted by the waiting task; InputsError (a 400) if not."""
    inputs, via = parse_resume(body, context)
    if session_dir is not None:
        await ask_task(session_dir, inputs)
    return inputs, via


async def ask_task(session_dir: Path, inputs: dict[str, Any]) -> bool:
    """Whether the waiting task converted inputs (False: no task answers here); InputsError
    with the task's message when it refuses them."""
    path = session_dir / CONVERT_SOCKET
    if not path.exists():
        return False
    try:
        with socket_path(path) as where:
            reader, writer = await asyncio.open_unix_connection(where, limit=1 << 20)
    except OSError:  # the task process is gone or never listened: the schema check stands
        return False
    try:
        writer.write(json.dumps({"inputs": inputs}, allow_nan=False).encode() + b"\n")
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), CONVERT_SECONDS)
    finally:
        writer.close()
    answer = json.loads(line) if line else {}
    if "error" in answer:
        raise InputsError(f"{answer['error']} (nothing was changed)")
    return bool(answer.get("ok"))
