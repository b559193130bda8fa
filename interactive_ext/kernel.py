"""Notebook helpers for a kernel of an interactive session: inputs, failure, resume."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .errors import InputsError, SessionError
from .protocol import (
    EXCEPTION,
    FRAMES,
    INPUTS,
    PARKED,
    RESULT,
    SAVED_INPUTS,
    SAVED_VALUES,
    SESSION_ENV,
)
from .session.directory import Session
from .session.frames import FramesRecord, TaskFrame, rebuild, task_frames
from .session.overrides import check_input_names, check_json
from .session.reading import saved_inputs
from .task.parameters import jsonable

if TYPE_CHECKING:
    from .session.changes import Changes

log = logging.getLogger("interactive_ext")


class TaskFailure(Exception):
    """The task's failure when its exception could not be pickled: type, message, traceback."""

    def __init__(self, type: str, message: str, traceback: str) -> None:
        """Keep the failure's parts."""
        super().__init__(f"{type}: {message}")
        self.type = type
        self.message = message
        self.traceback = traceback


def load_inputs() -> dict[str, Any]:
    """The task's inputs by parameter name, with the overrides saved by save_inputs()."""
    session = Session.from_env()
    inputs = session.read_pickle(INPUTS, lenient=(session.path / PARKED).exists())
    if inputs is None:
        raise SessionError(f"the session {session.path} has no inputs ({INPUTS} is missing)")
    context = session.context()
    if context is not None and context.unpicklable:
        log.warning(
            "inputs not available here (they do not pickle): %s", ", ".join(context.unpicklable)
        )
    return {**inputs, **saved_inputs(session)}


def load_error() -> BaseException | None:
    """The task's failure (its exception, or a TaskFailure), or None when it did not fail.

    Its `__traceback__` holds the task's frames with their locals when they were kept:
    `pdb.post_mortem(load_error().__traceback__)`, or `raise load_error()` then `%debug`.
    """
    session = Session.from_env()
    error = session.error()
    if error is None:
        return None
    try:
        exc = session.read_pickle(EXCEPTION)
    except Exception as e:  # an exception class this kernel cannot import
        log.warning("the task's exception does not unpickle here (%s); giving its text", e)
        exc = None
    if not isinstance(exc, BaseException):
        exc = TaskFailure(error.type, error.message, error.traceback)
    frames = _frames(session, f"{error.type.rsplit('.', 1)[-1]}: {error.message}")
    if frames is None:
        return exc
    try:
        return rebuild(exc, frames, _stored_inputs(session))
    except Exception as e:  # a frame the interpreter refuses: the failure without its frames
        log.warning("cannot rebuild the task's traceback here (%s)", e)
        return exc


def load_frames() -> list[TaskFrame]:
    """The frames of the task's failure, innermost last: name, file, line and locals.

    A local that was not kept is a placeholder naming its type and why; a library frame's
    locals are None. Empty when the task did not fail or its frames were not kept.
    """
    session = Session.from_env()
    error = session.error()
    if error is None:
        return []
    frames = _frames(session, f"{error.type.rsplit('.', 1)[-1]}: {error.message}")
    return [] if frames is None else task_frames(frames, _stored_inputs(session))


def _stored_inputs(session: Session) -> Callable[[], dict[str, Any]]:
    """inputs.pkl as the task wrote it (no save_inputs() overrides), read once when asked."""
    read: list[dict[str, Any]] = []

    def inputs() -> dict[str, Any]:
        if not read:
            lenient = (session.path / PARKED).exists()
            read.append(session.read_pickle(INPUTS, lenient=lenient) or {})
        return read[0]

    return inputs


def _frames(session: Session, error: str) -> FramesRecord | None:
    """The kept frames of the failure named error, or None (absent, unreadable, another's)."""
    try:
        frames = session.read_pickle(FRAMES, lenient=True)  # a class not here: a Missing
    except Exception as e:
        log.warning("the task's frames do not load here (%s); the failure has no traceback", e)
        return None
    if not isinstance(frames, FramesRecord) or frames.error != error:
        return None
    if (session.path / PARKED).exists():  # opened elsewhere: the sources were laid out here
        moved = (session.read_json(PARKED) or {}).get("moved") or {}
        for frame in frames.frames:  # so pdb's `list` and tracebacks show them
            frame.filename = moved.get(frame.filename, frame.filename)
    return frames


def load_result() -> Any:
    """The task's result when it succeeded before the server started (pause="after")."""
    session = Session.from_env()
    if not (session.path / RESULT).exists():
        raise SessionError(
            f"the session {session.path} has no result: the task did not succeed before the "
            'server started (only @interactive(pause="after") keeps it), or it does not pickle'
        )
    return session.read_pickle(RESULT)


def save_inputs(**overrides: Any) -> dict[str, Any]:
    """Store input overrides for the next resume (merged with those saved before); all of them.

    Values with a JSON form are checked against the task's annotations (TypeError naming the
    parameter, nothing saved); the others are checked when the task resumes.
    """
    session = Session.from_env()
    context = session.context()
    check_input_names(list(overrides), context)
    shown = {name: jsonable(value) for name, value in overrides.items()}
    if context is not None:
        try:
            check_json(context.parameters, {k: v for k, (v, ok) in shown.items() if ok})
        except InputsError as e:
            raise TypeError(str(e)) from None
    saved = saved_inputs(session)
    saved.update(overrides)
    session.write_pickle(SAVED_INPUTS, saved)
    values = session.read_json(SAVED_VALUES) or {}
    values.update({k: {"value": v, "json": ok} for k, (v, ok) in shown.items()})
    session.write_json(SAVED_VALUES, values)
    return saved


def resume(**overrides: Any) -> dict[str, Any]:
    """Ask the server to resume the task (with JSON input overrides); the server's answer."""
    from .client import Client

    session = Session.from_env()
    check_input_names(list(overrides), session.context())
    info = session.ready()
    if info is None:
        raise SessionError(f"the session {session.path} has no running server (not ready)")
    try:
        json.dumps(overrides)
    except TypeError as e:
        raise TypeError(
            f"resume() overrides must be JSON values ({e}); "
            "use save_inputs(...) for other Python objects, then resume()"
        ) from None
    saved = sorted(saved_inputs(session))
    undo = _uninterrupted()
    try:
        reply = Client.from_ready(info).resume(overrides, via="resume()")
    except BaseException:
        undo()
        raise
    if reply.status != 202:
        undo()
        raise SessionError(f"the server refused to resume ({reply.status}): {reply.message}")
    print(
        "Resuming: the server and this kernel are stopping; the task runs in its own process "
        f"with the original inputs, {_changed(saved, sorted(overrides))}."
    )
    answer: dict[str, Any] = reply.body if isinstance(reply.body, dict) else {}
    return {**answer, "saved_inputs": saved, "overrides": sorted(overrides)}


def _uninterrupted() -> Callable[[], None]:
    """In a kernel's cell: ignore SIGINT until the cell ends; the undo, for a refused resume.

    The server's stop interrupts its kernels before it shuts them down (jupyter_client does),
    which ended the cell that resumed with a KeyboardInterrupt. ipykernel puts its own handler
    back once the cell ends.
    """
    if "ipykernel" not in sys.modules or threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)

    def undo() -> None:
        signal.signal(signal.SIGINT, previous)

    return undo


def changes() -> Changes | None:
    """The resumed run's changes (patch, overrides); in a session's kernel, a resume's now.

    In the task process after a resume: what that resume ran with (`.patch`, `.files`,
    `.overrides`, `.saved_to`, `.to_json()`). In a kernel of a waiting session: the files
    changed so far and the overrides saved so far. Elsewhere: None.
    """
    from .session.changes import Changes, Current, Originals, describe_overrides

    if Current.changes is not None:
        return Current.changes
    if not os.environ.get(SESSION_ENV):
        return None
    session = Session.from_env()
    context = session.context()
    originals = Originals.open(session)
    return Changes(
        task=context.qualname if context else "?",
        root=originals.root if originals else "",
        files=originals.changed() if originals else [],
        overrides=describe_overrides({}, "rest", saved_inputs(session)),
    )


def _changed(saved: list[str], overrides: list[str]) -> str:
    """Which inputs the resumed run takes from save_inputs() and from resume(), for a person."""
    parts = []
    if saved:
        parts.append(f"save_inputs() for {', '.join(saved)}")
    if overrides:
        parts.append(f"resume() overrides for {', '.join(overrides)}")
    return "and " + " and ".join(parts) if parts else "unchanged"
