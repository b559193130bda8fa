"""The task as GET /interactive/status shows it."""

from __future__ import annotations

from typing import Any

from ..errors import SessionError
from ..protocol import SAVED_VALUES
from ..records import Redefine, TaskContext
from ..session.definitions import SOURCE_ELSEWHERE
from ..session.directory import Session


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
    return data
