"""The lifecycle's listener that writes jupyter_events' event log (the frontends read it).

Open tabs subscribe to the server's event stream: the idle warning opens their dialog, the
stopping event starts their save window (event_schemas/lifecycle/v1.yaml says each field).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jupyter_events import EventLogger

from ..protocol import LIFECYCLE
from ..records import Reason
from .lifecycle import IdleWarning, Lifecycle, Transition
from .states import State

SCHEMA_PATH = Path(__file__).parent / "event_schemas" / "lifecycle" / "v1.yaml"


class EventLog:
    """Emits the lifecycle's events: idle_warning, resume, stopping, shutdown."""

    def __init__(self, events: EventLogger) -> None:
        """Emit to events (the server's logger), registering the schema once."""
        self.events = events
        if LIFECYCLE not in events.schemas:
            events.register_event_schema(SCHEMA_PATH)

    def subscribe(self, lifecycle: Lifecycle) -> None:
        """Listen to the lifecycle's warning, STOPPING and STOPPED."""
        lifecycle.on(IdleWarning, self.warned)
        lifecycle.on(State.STOPPING, self.stopping)
        lifecycle.on(State.STOPPED, self.stopped)

    def emit(self, action: str, msg: str, **data: Any) -> None:
        """Emit one lifecycle event."""
        self.events.emit(schema_id=LIFECYCLE, data={"action": action, "msg": msg, **data})

    def warned(self, warning: IdleWarning) -> None:
        """The idle warning."""
        seconds = warning.seconds_remaining
        self.emit(
            "idle_warning",
            f"idle shutdown in {seconds:.1f} s",
            seconds_remaining=round(seconds, 3),
        )

    def stopping(self, change: Transition) -> None:
        """A resume (with the overrides' names), then the stop with its save window.

        A signal's stop (KILLED) is no event: the schema's reasons are the recorded outcomes.
        """
        reason = change.reason
        if reason is None or reason is Reason.KILLED:
            return
        if reason is Reason.RESUMED:
            self.emit(
                "resume",
                f"resume requested ({len(change.inputs)} input overrides)",
                reason=reason.value,
                inputs=list(change.inputs),
            )
        self.emit(
            "stopping",
            f"server stopping: {reason}",
            reason=reason.value,
            save_seconds=change.save_seconds,
        )

    def stopped(self, change: Transition) -> None:
        """The server stops now."""
        reason = change.reason.value if change.reason else "?"
        self.emit("shutdown", f"server stopping now: {reason}", reason=reason)
