"""The server's state and the task, as GET /interactive/status shows them."""

from __future__ import annotations

import enum
from typing import Any

from ..errors import SessionError
from ..protocol import SAVED_VALUES
from ..records import TaskContext
from ..session.changes import pending
from ..session.directory import Session


class State(str, enum.Enum):
    """The server's state: waiting for a resume, or stopping (the status's `state`)."""

    WAITING = "waiting"
    STOPPING = "stopping"

    def __str__(self) -> str:
        """The value, as the status shows it."""
        return self.value


def task_status(context: TaskContext, session: Session | None) -> dict[str, Any]:
    """The context as the status shows it: each parameter's current value, no schemas."""
    data = context.to_json()
    data.pop("modules", None)
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


def changed_files(session: Session | None) -> list[dict[str, Any]]:
    """The person's files changed since the task started: path (under the root), +/- lines."""
    if session is None:
        return []
    try:
        return [f.brief() for f in pending(session)]
    except (OSError, ValueError, KeyError) as e:  # a damaged archive: the resume still works
        return [{"path": f"(cannot compare the sources: {e})", "added": 0, "removed": 0}]
