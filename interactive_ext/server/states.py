"""The session's states and the transitions between them (server/lifecycle.py takes them)."""

from __future__ import annotations

from ..records import ValueEnum


class State(ValueEnum):
    """The session's state (the status's `state`; STOPPED is never served)."""

    WAITING = "waiting"
    STOPPING = "stopping"
    STOPPED = "stopped"


INITIAL = State.WAITING
"""The state a lifecycle is created in; its listeners hear it once the server runs."""

ALLOWED: dict[State, frozenset[State]] = {
    State.WAITING: frozenset({State.STOPPING}),
    State.STOPPING: frozenset({State.STOPPED}),
    State.STOPPED: frozenset(),
}
"""The transitions the lifecycle takes: every other one is refused."""
