"""The server's state and the task, as GET /interactive/status shows them."""

from __future__ import annotations

import enum
from typing import Any

from ..errors import SessionError
from ..protocol import SAVED_VALUES
from ..records import TaskContext
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
    return data
