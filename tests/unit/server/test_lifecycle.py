"""server/lifecycle.py: the transition table, the listeners' map and the stop, without HTTP."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import shutil
from pathlib import Path
from typing import Any

import pytest
from jupyter_server.serverapp import ServerApp

from interactive_ext.errors import SessionError
from interactive_ext.records import Reason
from interactive_ext.server.lifecycle import (
    IdleWarning,
    ImpossibleTransition,
    Lifecycle,
    Limits,
    Transition,
)
from interactive_ext.server.states import ALLOWED, State
from interactive_ext.session.directory import Session

LOG = logging.getLogger("test_lifecycle")


def lifecycle(session_dir: str = "", **limits: float) -> Lifecycle:
    """A lifecycle of a ServerApp that is not started (nothing listens, nothing runs)."""
    return Lifecycle(ServerApp(port=8123), Limits(**limits), session_dir, LOG)


def heard(life: Lifecycle, *keys: Any) -> list[Any]:
    """Everything the listeners of keys hear, in order."""
    got: list[Any] = []
    for key in keys:
        life.on(key, got.append)
    return got


def test_every_state_is_in_the_table_and_the_table_is_a_line() -> None:
    assert set(ALLOWED) == set(State)
    assert ALLOWED[State.WAITING] == {State.STOPPING}
    assert ALLOWED[State.STOPPING] == {State.STOPPED}
    assert ALLOWED[State.STOPPED] == set()


@pytest.mark.parametrize(
    ("path", "refused"),
    [
        ((), State.STOPPED),  # WAITING -> STOPPED skips the stop sequence
        ((), State.WAITING),
        ((State.STOPPING,), State.WAITING),  # no way back
        ((State.STOPPING,), State.STOPPING),
        ((State.STOPPING, State.STOPPED), State.STOPPING),
        ((State.STOPPING, State.STOPPED), State.WAITING),
    ],
)
def test_an_impossible_transition_is_refused_and_nobody_hears_it(
    path: tuple[State, ...], refused: State
) -> None:
    life = lifecycle()
    for state in path:
        life.transition(state, Reason.IDLE)
    got = heard(life, *State)
    before = life.state
    with pytest.raises(ImpossibleTransition, match=f"from {before} to {refused}"):
        life.transition(refused, Reason.LIFETIME)
    assert life.state is before and got == []
    assert life.reason is (Reason.IDLE if path else None)


def test_listeners_hear_a_frozen_transition_in_order_and_a_failing_one_stops_none() -> None:
    life = lifecycle()
    order: list[str] = []

    def broken(change: Transition) -> None:
        order.append("broken")
        raise RuntimeError("a listener's bug")

    life.on(State.STOPPING, broken)
    life.on(State.STOPPING, lambda change: order.append(f"second {change.reason}"))
    warnings = heard(life, IdleWarning)
    life.transition(State.STOPPING, Reason.LIFETIME, save_seconds=2.5)
    assert order == ["broken", "second lifetime"]
    assert warnings == []  # the warning is its own key
    assert life.state is State.STOPPING and not life.open and life.stopping
    life.warn(12.0)
    assert warnings == [IdleWarning(12.0, 8123)]
    change = Transition(State.WAITING, State.STOPPING, Reason.LIFETIME, save_seconds=2.5, port=8123)
    with pytest.raises(dataclasses.FrozenInstanceError):
        change.state = State.WAITING  # type: ignore[misc]


def test_start_tells_waiting_once_and_the_stop_records_the_outcome_first(tmp_path: Path) -> None:
    """A Hub registration and a park listener plug in as one listener each."""
    session = Session.create(tmp_path)
    life = lifecycle(str(session.path))
    registered: list[Transition] = []
    parked: list[Reason | None] = []
    life.on(State.WAITING, registered.append)
    life.on(State.STOPPING, lambda change: parked.append(change.reason))
    life.on(State.STOPPING, lambda change: parked.append(session.outcome().reason))  # type: ignore[union-attr]

    async def scenario() -> None:
        life.start()
        assert life.stop(Reason.RESUMED, {"lr": 0.1, "epochs": 2}, "cli")
        assert not life.stop(Reason.IDLE)  # already stopping: refused, nothing heard
        life.close()  # the stop sequence is cancelled before it runs (nothing is stopped here)

    asyncio.run(scenario())
    assert [(c.before, c.state) for c in registered] == [(State.WAITING, State.WAITING)]
    assert parked == [Reason.RESUMED, Reason.RESUMED]  # the outcome was on disk when told
    assert life.reason is Reason.RESUMED and life.state is State.STOPPING
    assert life.already() == "the server is already stopping (resumed)"
    status = life.status()
    assert status["state"] == "stopping" and status["summary"] == "resuming"


def test_a_signal_stops_a_waiting_session_with_reason_killed_once() -> None:
    life = lifecycle()
    got = heard(life, State.STOPPING)
    life.close()
    life.close()
    assert [(c.state, c.reason) for c in got] == [(State.STOPPING, Reason.KILLED)]


def test_a_resume_that_cannot_be_recorded_keeps_the_session_waiting(tmp_path: Path) -> None:
    session = Session.create(tmp_path)
    life = lifecycle(str(session.path))
    got = heard(life, *State)
    shutil.rmtree(session.path)  # the outcome cannot be written
    with pytest.raises(SessionError, match="cannot record the resume"):
        life.stop(Reason.RESUMED, {})
    assert life.state is State.WAITING and life.open and life.reason is None and got == []
