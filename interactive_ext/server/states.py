"""The session's states and the transitions between them (server/lifecycle.py takes them)."""

from __future__ import annotations

import enum


class State(str, enum.Enum):
    """The session's state (the status's `state`; STOPPED is never served)."""

    WAITING = "waiting"
    STOPPING = "stopping"
    STOPPED = "stopped"

    def __str__(self) -> str:
        """The value, as the status shows it."""
        return self.value


INITIAL = State.WAITING
"""The state a lifecycle is created in; its listeners hear it once the server runs."""

ALLOWED: dict[State, frozenset[State]] = {
    State.WAITING: frozenset({State.STOPPING}),
    State.STOPPING: frozenset({State.STOPPED}),
    State.STOPPED: frozenset(),
}
"""The transitions the lifecycle takes: every other one is refused."""
