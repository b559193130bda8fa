"""The task and the state as GET /interactive/status shows them: the texts every view prints.

The JupyterLab extension, the page at /interactive and `jupyter interactive-task list` print
`summary` and `why` as the server writes them, the page and the CLI the countdown too
(`idle.countdown`, after `stops in`); the JupyterLab extension formats it itself (format.ts's
`clock`, the one other formatter), since its countdown ticks every second.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

from ..errors import SessionError
from ..protocol import SAVED_VALUES
from ..records import Reason, Redefine, TaskContext
from ..session.changes import pending
from ..session.definitions import SOURCE_ELSEWHERE
from ..session.directory import Session
from ..session.reading import file_problems
from .states import State

COUNTDOWN = "stops in"
"""The summary while the idle clock runs: each view appends the time left, as MM:SS."""


def task_status(context: TaskContext, session: Session | None) -> dict[str, Any]:
    """The context as the status shows it: each parameter's current value, no schemas."""
    data = context.to_json()
    data.pop("modules", None)
    data.pop("source", None)
    if context.redefine is Redefine.NOTEBOOK:
        data["notice"] = SOURCE_ELSEWHERE
    saved: Any = {}
    if session is not None:
        try:
            saved = session.read_json(SAVED_VALUES) or {}
        except SessionError:
            saved = {}
    params = []
    for p in context.parameters:
        now = saved.get(p.get("name")) if isinstance(saved, dict) else None
        entry = {k: v for k, v in p.items() if k != "schema"}
        if isinstance(now, dict) and "value" in now:
            entry.update(value=now["value"], json=now.get("json") is not False)
        params.append(entry)
    data["parameters"] = params
    data["changes"] = changed_files(session)
    return data


def read_context(
    session: Session | None, log: logging.Logger
) -> tuple[TaskContext | None, list[str]]:
    """The task context (None without one) and what is wrong with the session's files."""
    if session is None:
        return None, []
    problems = file_problems(session)  # damaged pickles: named, the task resumable
    try:
        return session.context(), problems
    except SessionError as e:
        log.warning("%s", e)
        return None, [str(e), *problems]


def notebook_path(context: TaskContext | None, root_dir: str) -> str | None:
    """The starter notebook relative to the server's root (for /lab/tree/PATH), if inside."""
    if context is None or not context.notebook:
        return None
    try:
        return Path(context.notebook).resolve().relative_to(Path(root_dir).resolve()).as_posix()
    except ValueError:
        return None


def changed_files(session: Session | None) -> list[dict[str, Any]]:
    """The person's files changed since the task started: path (under the root), +/- lines."""
    if session is None:
        return []
    try:
        return [f.brief() for f in pending(session)]
    except (OSError, ValueError, KeyError) as e:  # a damaged archive: the resume still works
        return [{"path": f"(cannot compare the sources: {e})", "added": 0, "removed": 0}]


def clock(seconds: float) -> str:
    """The countdown: `12:34` or `1:02:03` for a number of seconds (rounded up)."""
    total = max(0, math.ceil(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes:02}:{secs:02}"


def seconds_text(value: float) -> str:
    """A number of seconds as people write it: `120`, `1.5`."""
    return str(int(value)) if float(value).is_integer() else str(round(value, 1))


def summary(state: State, reason: Reason | None, idle: dict[str, Any]) -> str:
    """The state in a few words, as every view prints it; a countdown follows `stops in`."""
    if state in (State.STOPPING, State.STOPPED):
        return "resuming" if reason is Reason.RESUMED else "stopping"
    holds = idle.get("holds") or []
    if any(h.startswith("kernel:") for h in holds):
        return "kernel busy"
    if holds:
        return "held by " + ", ".join(holds)
    if idle.get("seconds_remaining") is None:
        return "no idle stop"
    return COUNTDOWN


def why(reason: Reason | None, max_idle: float) -> str | None:
    """Why the server stops, as the final page says it; None while it waits."""
    if reason is None:
        return None
    return {
        Reason.RESUMED: "Task resumed: this server has stopped; the task runs in its own process",
        Reason.IDLE: f"Stopped after {seconds_text(max_idle)} s without activity",
        Reason.LIFETIME: "Stopped: the session reached its lifetime cap",
    }.get(reason, "This server has stopped")
