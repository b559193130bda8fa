"""The task and the state as GET /interactive/status shows them: the texts every view prints.

The JupyterLab extension, the page at /interactive and `jupyter interactive-task list` print
`summary` and `why` as the server writes them, the page and the CLI the countdown too
(`idle.countdown`, after `stops in`); the JupyterLab extension formats it itself (format.ts's
`clock`, the one other formatter), since its countdown ticks every second.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any

from ..errors import SessionError
from ..protocol import PARKED, SAVED_VALUES
from ..records import Reason, Redefine, TaskContext
from ..session.changes import pending
from ..session.definitions import SOURCE_ELSEWHERE
from ..session.directory import Session
from ..session.reading import file_problems
from .states import State

COUNTDOWN = "stops in"
"""The summary while the idle clock runs: each view appends the time left, as MM:SS."""


def saved_values(session: Session | None) -> dict[str, Any]:
    """What save_inputs() stored, as the status shows it ({} without it, or when unreadable)."""
    try:
        saved = session.read_json(SAVED_VALUES) if session is not None else None
    except SessionError:
        saved = None
    return saved if isinstance(saved, dict) else {}


def task_status(context: TaskContext, session: Session | None) -> dict[str, Any]:
    """The context as the status shows it: each parameter's current value, no schemas."""
    data = context.to_json()
    data.pop("modules", None)
    data.pop("source", None)
    if context.redefine is Redefine.NOTEBOOK:
        data["notice"] = SOURCE_ELSEWHERE
    saved = saved_values(session)
    params = []
    for p in context.parameters:
        now = saved.get(str(p.get("name")))
        entry = {k: v for k, v in p.items() if k != "schema"}
        if isinstance(now, dict) and "value" in now:
            entry.update(value=now["value"], json=now.get("json") is not False)
        params.append(entry)
    data["parameters"] = params
    data["changes"] = changed_files(session)
    data.update(parked_texts(session))
    return data


def overrides_used(session: Session | None, sent: dict[str, Any], via: str) -> dict[str, Any]:
    """The overrides a resume runs with, each with its origin: the request's (via) over
    save_inputs()' (the others are the original inputs)."""
    saved = saved_values(session)
    out = {n: {"from": "save_inputs()", **v} for n, v in saved.items() if isinstance(v, dict)}
    out.update({n: {"from": via, "value": v, "json": True} for n, v in sent.items()})
    return out


def parked_texts(session: Session | None) -> dict[str, str | None]:
    """An opened parked session's `parked` ("parked: task X failed on host H at T") and
    `parked_resume` (what a resume does there); None for both in a live session."""
    try:
        manifest = session.read_json(PARKED) if session is not None else None
    except SessionError:
        manifest = None
    if not isinstance(manifest, dict):
        return {"parked": None, "parked_resume": None}
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(float(manifest.get("parked_at") or 0)))
    host = manifest.get("host")
    resume = (
        "resume runs the task on this machine, with your edits"
        if manifest.get("resume_here")
        else "resume saves your edits and inputs to the parked folder and prints the "
        "`run --from` command that runs them"
    )
    return {
        "parked": f"parked: task {manifest.get('task')} failed on host {host} at {when}",
        "parked_resume": resume,
    }


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
