"""The session's lifecycle: one state, one transition method, one map of listeners.

    (created) WAITING --stop(reason)--> STOPPING --(saves, kernels, detached)--> STOPPED
              start(): WAITING's listeners hear the initial state once the server runs

`Lifecycle.transition(state, reason)` is the only place the state changes: it refuses a step
that ALLOWED does not list (ImpossibleTransition), then tells the listeners of the state
entered, in the order they subscribed, each with a frozen `Transition` (never the app, never
the lifecycle: a listener cannot reach back). `start()` tells WAITING's listeners of the
initial state through the same `tell` (before is WAITING too). The idle warning is no
transition: its listeners get an `IdleWarning`. Both kinds live in one map,
`Lifecycle.listeners`, keyed by the `State` entered or by `IdleWarning`; a listener that raises
is logged and the others still run.

A feature plugs in as one listener, with no change here, e.g.:
- a JupyterHub registration: `on(State.WAITING, register)` and `on(State.STOPPING, unregister)`
  (every stop goes through STOPPING, a signal's too: reason KILLED);
- parking the session when it ends without the task's result: `on(State.STOPPING, park)`,
  acting when `change.reason` is IDLE, LIFETIME or KILLED (RESUMED: the task runs on).

The stop sequence (after STOPPING): the save window (open tabs save, bounded), then the kernels
shut down and the detached processes are stopped while the requests in flight finish (the
resume's grace), then STOPPED and the server stops. docs/design.md draws it with the listeners.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, overload

from jupyter_server.serverapp import ServerApp

from ..errors import SessionError
from ..protocol import OUTCOME
from ..records import Reason, TaskContext
from ..session.directory import Session
from .detached import stop_detached
from .idle import IdleWatcher, wall
from .save_window import SaveWindow
from .states import ALLOWED, INITIAL, State
from .status import clock, notebook_path, read_context, summary, task_status, why


class ImpossibleTransition(RuntimeError):
    """A transition that ALLOWED does not list (a bug: nothing changed)."""


@dataclass(frozen=True)
class Transition:
    """What a listener of a state hears: the step, its reason, and what the step decided."""

    before: State
    state: State
    reason: Reason | None = None
    inputs: tuple[str, ...] = ()
    """The names of the inputs a resume overrides."""
    save_seconds: float = 0.0
    """The save window's length, entering STOPPING (0: no frontend to wait for)."""
    idle_deadline: str | None = None
    """When the idle stop is due (ISO 8601), entering WAITING; None without one."""
    port: int = 0


@dataclass(frozen=True)
class IdleWarning:
    """What a listener of the idle warning hears: the idle stop is near."""

    seconds_remaining: float
    port: int = 0


Listener = Callable[[Any], None]


@dataclass(frozen=True)
class Limits:
    """The lifecycle's deadlines and windows (InteractiveApp's traits), in seconds; 0: none."""

    max_idle: float = 0.0
    max_lifetime: float = 0.0
    idle_warning: float = 0.0
    save_window: float = 0.0
    resume_grace: float = 0.0


class Lifecycle:
    """Owns the state, the reason, the outcome, the deadlines and the stop sequence."""

    def __init__(
        self,
        server: ServerApp,
        limits: Limits,
        session_dir: str,
        log: logging.Logger,
    ) -> None:
        """A lifecycle in WAITING (session_dir "": a plain server); start() once it serves."""
        self.server = server
        self.limits = limits
        self.session_dir = session_dir
        self.session = Session.open(session_dir) if session_dir else None
        self.log = log
        self.state = INITIAL
        self.reason: Reason | None = None
        self.started = time.monotonic()
        self.listeners: dict[State | type[IdleWarning], list[Listener]] = {}
        self.saves = SaveWindow(limits.save_window, log)
        self.watcher = IdleWatcher(
            limits.max_idle,
            on_idle=lambda: self.stop(Reason.IDLE),
            on_warning=self.warn,
            warning_before=limits.idle_warning,
            logger=log,
        )
        self._lifetime: asyncio.TimerHandle | None = None
        self._stopping: asyncio.Future[None] | None = None

    # -- the one transition ---------------------------------------------------------------

    @overload
    def on(self, key: State, listener: Callable[[Transition], None]) -> None: ...

    @overload
    def on(self, key: type[IdleWarning], listener: Callable[[IdleWarning], None]) -> None: ...

    def on(self, key: State | type[IdleWarning], listener: Listener) -> None:
        """Call listener on entering the state key (or at each idle warning)."""
        self.listeners.setdefault(key, []).append(listener)

    def tell(self, key: State | type[IdleWarning], change: Transition | IdleWarning) -> None:
        """Tell key's listeners, in order; one that raises is logged, the others still run."""
        for listener in self.listeners.get(key, []):
            try:
                listener(change)
            except Exception:
                self.log.exception("a listener of %s failed", getattr(key, "__name__", key))

    def transition(self, state: State, reason: Reason | None = None, **decided: Any) -> None:
        """Enter state (refused unless ALLOWED lists it) and tell the state's listeners."""
        before = self.state
        if state not in ALLOWED[before]:
            raise ImpossibleTransition(f"the lifecycle cannot go from {before} to {state}")
        self.state = state
        if reason is not None:
            self.reason = reason
        port = int(self.server.port or 0)
        self.tell(state, Transition(before, state, self.reason, port=port, **decided))

    @property
    def open(self) -> bool:
        """True while a stop may still be asked for (waiting)."""
        return State.STOPPING in ALLOWED[self.state]

    @property
    def stopping(self) -> bool:
        """True once a stop began."""
        return self.state in (State.STOPPING, State.STOPPED)

    # -- the deadlines ----------------------------------------------------------------

    def start(self) -> None:
        """The server runs: start the idle clock and the lifetime cap, and wait."""
        if self.watcher.enabled:
            self.watcher.start()
            self.log.info(
                "idle shutdown after %s s without activity (warning %s s before)",
                self.limits.max_idle,
                self.watcher.warning_before,
            )
        if self.limits.max_lifetime > 0:
            self._lifetime = asyncio.get_running_loop().call_later(
                self.limits.max_lifetime, lambda: self.stop(Reason.LIFETIME)
            )
            self.log.info("lifetime cap: %s s", self.limits.max_lifetime)
        deadline = self.watcher.state()["shutdown_deadline"]
        port = int(self.server.port or 0)
        self.tell(INITIAL, Transition(INITIAL, INITIAL, idle_deadline=deadline, port=port))

    def warn(self, seconds_remaining: float) -> None:
        """The idle watcher's warning: log it and tell the warning's listeners."""
        self.log.warning(
            "idle: shutting down in %.1f s unless there is activity", seconds_remaining
        )
        port = int(self.server.port or 0)
        self.tell(IdleWarning, IdleWarning(seconds_remaining, port))

    # -- the stop sequence ------------------------------------------------------------

    def stop(self, reason: Reason, inputs: dict[str, Any] | None = None, via: str = "rest") -> bool:
        """Record the outcome, enter STOPPING and stop the server; False if already stopping.

        A resume that cannot be recorded raises SessionError and the session keeps waiting.
        """
        if not self.open:
            return False
        if self.session is not None:
            try:
                self.session.record_outcome(reason, inputs, via)
            except OSError as e:
                if reason is Reason.RESUMED:  # the task would not know: refuse, keep serving
                    raise SessionError(
                        f"cannot record the resume in {self.session.path}: {e}"
                    ) from e
                self.log.exception("cannot record the outcome %s; stopping anyway", reason.value)
        self.watcher.stop()
        window = self.saves.open()
        names = tuple(sorted(inputs or {}))
        self.transition(State.STOPPING, reason, inputs=names, save_seconds=window)
        self.log.info("stopping the server: %s (save window %.1f s)", reason, window)
        grace = self.limits.resume_grace if reason is Reason.RESUMED else 0.0
        self._stopping = asyncio.ensure_future(self._stop_after_saves(grace))
        return True

    async def _stop_after_saves(self, grace: float) -> None:
        """Let open tabs save (bounded), then shut the kernels down while requests in flight
        finish (the grace), then stop: the kernels' shutdown no longer comes after the grace."""
        started = time.monotonic()
        await self.saves.wait()
        if self.saves.failed and self.session is not None:
            self.record_unsaved(self.saves.failed)
        kernels = asyncio.ensure_future(self._shutdown_kernels())
        # only a task's server is a subreaper: a plain server's children are not ours to stop
        strays = asyncio.get_running_loop().run_in_executor(
            None, stop_detached, self.server, self.log, self.session is not None
        )
        left = grace - (time.monotonic() - started)
        if left > 0:
            await asyncio.sleep(left)
        await kernels
        await strays
        self.transition(State.STOPPED)
        # The process is about to end: what lives now lives until then. Frozen, the ~200k
        # objects of a loaded server are not traversed again by the interpreter's collections
        # at exit, which took 0.2 s on a quiet machine and 1-6 s on a loaded one (the exit
        # promised within 1 s of the idle deadline).
        gc.freeze()
        self.server.stop()

    async def _shutdown_kernels(self) -> None:
        """Shut every kernel down (the server's own cleanup then finds none left)."""
        try:
            done = self.server.kernel_manager.shutdown_all()
            if inspect.isawaitable(done):
                await done
        except Exception:
            self.log.exception("shutting the kernels down failed; the server's cleanup retries")

    def record_unsaved(self, failed: list[dict[str, Any]]) -> None:
        """Add the documents that could not be saved to the outcome, for the task's log."""
        assert self.session is not None
        try:
            outcome = self.session.outcome()
            if outcome is not None:
                outcome.unsaved = failed
                self.session.write_json(OUTCOME, outcome.to_json())
        except (OSError, SessionError):
            self.log.exception("cannot record the unsaved documents")

    def close(self) -> None:
        """The server stops (an outcome's stop, or a signal's: reason KILLED): stop the timers."""
        if self.open:  # not stopped by an outcome: a signal or a dead parent
            self.transition(State.STOPPING, Reason.KILLED)
        self.watcher.stop()
        if self._lifetime is not None:
            self._lifetime.cancel()
        stopping = self._stopping
        if stopping is not None and not stopping.done() and stopping is not asyncio.current_task():
            stopping.cancel()  # the server is stopping already (a signal, say)

    # -- reporting --------------------------------------------------------------------

    def already(self) -> str:
        """Why a second resume is refused (409)."""
        reason = self.reason.value if self.reason else "?"
        return f"the server is already {self.state} ({reason})"

    def heartbeat(self) -> dict[str, Any]:
        """The idle state (the heartbeat body), with the countdown the page and the CLI print."""
        idle = self.watcher.state()
        left = idle["seconds_remaining"]
        counting = self.state is State.WAITING and left is not None
        countdown = clock(left) if counting else None
        return {**idle, "warning_seconds": self.watcher.warning_before, "countdown": countdown}

    def context(self) -> tuple[TaskContext | None, list[str]]:
        """The task context (None without one) and what is wrong with the session's files."""
        return read_context(self.session, self.log)

    def status(self) -> dict[str, Any]:
        """The task context (if any), the state and the idle state."""
        context, problems = self.context()
        limits = self.limits
        lifetime = self.started + limits.max_lifetime if limits.max_lifetime else None
        idle = self.heartbeat()
        return {
            "state": self.state.value,
            "stop_reason": self.reason.value if self.reason else None,
            "summary": summary(self.state, self.reason, idle),
            "why": why(self.reason, limits.max_idle),
            "save_deadline": wall(self.saves.deadline) if self.reason else None,
            "started": wall(self.started),
            "session_dir": self.session_dir or None,
            "notebook": context.notebook if context else None,
            "notebook_path": notebook_path(context, self.server.root_dir),
            "task": task_status(context, self.session) if context else None,
            "problems": problems,
            "lifetime_deadline": wall(lifetime),
            "idle": idle,
        }
