"""Notebook helpers for a kernel of an interactive session: inputs, failure, resume."""

from __future__ import annotations

import contextlib
import json
import logging
import urllib.error
import urllib.request
from typing import Any

from .session import (
    CONTEXT,
    ERROR,
    EXCEPTION,
    INPUTS,
    READY,
    SAVED_INPUTS,
    Session,
    SessionError,
    check_input_names,
)

log = logging.getLogger("interactive_ext")


class TaskFailure(Exception):
    """The task's failure when its exception could not be pickled: type, message, traceback."""

    def __init__(self, type: str, message: str, traceback: str) -> None:
        """Keep the failure's parts."""
        super().__init__(f"{type}: {message}")
        self.type = type
        self.message = message
        self.traceback = traceback


def _session() -> Session:
    return Session.from_env()


def load_inputs() -> dict[str, Any]:
    """The task's inputs by parameter name, with the overrides saved by save_inputs()."""
    session = _session()
    inputs = session.read_pickle(INPUTS)
    if inputs is None:
        raise SessionError(f"the session {session.path} has no inputs ({INPUTS} is missing)")
    context = session.context() or {}
    skipped = context.get("unpicklable") or []
    if skipped:
        log.warning("inputs not available here (they do not pickle): %s", ", ".join(skipped))
    saved = session.read_pickle(SAVED_INPUTS) or {}
    return {**inputs, **saved}


def load_error() -> BaseException | None:
    """The task's failure (its exception, or a TaskFailure), or None when it did not fail."""
    session = _session()
    error = session.read_json(ERROR)
    if error is None:
        return None
    try:
        exc = session.read_pickle(EXCEPTION)
    except Exception as e:  # an exception class this kernel cannot import
        log.warning("the task's exception does not unpickle here (%s); giving its text", e)
        exc = None
    if isinstance(exc, BaseException):
        return exc
    return TaskFailure(error.get("type", "?"), error.get("message", ""), error.get("traceback", ""))


def save_inputs(**overrides: Any) -> dict[str, Any]:
    """Store input overrides for the next resume (merged with those saved before); all of them."""
    session = _session()
    check_input_names(list(overrides), session.read_json(CONTEXT))
    saved = session.read_pickle(SAVED_INPUTS) or {}
    saved.update(overrides)
    session.write_pickle(SAVED_INPUTS, saved)
    return saved


def resume(**overrides: Any) -> dict[str, Any]:
    """Ask the server to resume the task (with JSON input overrides); the server's answer."""
    session = _session()
    check_input_names(list(overrides), session.read_json(CONTEXT))
    info = session.read_json(READY)
    if not info:
        raise SessionError(f"the session {session.path} has no running server ({READY} missing)")
    try:
        body = json.dumps({"inputs": overrides}).encode()
    except TypeError as e:
        raise TypeError(
            f"resume() overrides must be JSON values ({e}); "
            "use save_inputs(...) for other Python objects, then resume()"
        ) from None
    req = urllib.request.Request(
        info["base_url"] + "interactive/resume",
        data=body,
        method="POST",
        headers={"Authorization": f"token {info['token']}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            answer: dict[str, Any] = json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        detail = e.read().decode(errors="replace")
        with contextlib.suppress(ValueError, AttributeError):
            detail = json.loads(detail).get("message", detail)
        raise SessionError(f"the server refused to resume ({e.code}): {detail}") from None
    print("Resuming: the server and this kernel are stopping; the task runs in its own process.")
    return answer
