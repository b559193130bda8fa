"""The idle clock as Prometheus gauges, served by jupyter_server at /metrics.

Other cullers (Kubeflow's activityProbe, JupyterHub's culler, SkyPilot's autostop) can read the
person-only activity of docs/idle.md from these instead of "any request". A scrape is a GET, and
no GET is activity (server/activity.py's request table).
"""

from __future__ import annotations

import time

from prometheus_client import Gauge

from ..protocol import STATUS, route
from .idle import WALL_OFFSET, IdleWatcher
from .lifecycle import IdleWarning, Lifecycle, Transition
from .states import INITIAL, State

STATE = Gauge(
    "interactive_ext_state",
    "1 for the session's state (waiting, stopping, stopped), else 0",
    ["state"],
)
SECONDS_UNTIL_IDLE_STOP = Gauge(
    "interactive_ext_seconds_until_idle_stop",
    f"seconds until the idle stop if nothing happens (GET /{route(STATUS)}'s "
    "idle.seconds_remaining); -1 when none is due: a kernel is busy, or no idle stop is set",
)
LAST_ACTIVITY = Gauge(
    "interactive_ext_last_activity_timestamp_seconds",
    "Unix time of the last activity of a person (what docs/idle.md counts); now while a "
    "kernel is busy",
)
OPEN_HOLDS = Gauge(
    "interactive_ext_open_holds", "activity held open: kernels executing (the idle clock waits)"
)
WARNINGS_SENT = Gauge("interactive_ext_idle_warnings_sent", "idle warnings given so far")
MAX_IDLE = Gauge("interactive_ext_max_idle_seconds", "the idle timeout; 0: no idle stop")


def seconds_until_idle_stop(watcher: IdleWatcher) -> float:
    """What the status says is left, or -1 without a deadline."""
    left = watcher.state()["seconds_remaining"]
    return -1.0 if left is None else float(left)


def last_activity(watcher: IdleWatcher) -> float:
    """The last activity as Unix time; now while a hold is open."""
    if watcher.holds:
        return time.time()
    return float(watcher.last_activity + WALL_OFFSET)


def set_state(state: State) -> None:
    """1 for state, 0 for the others."""
    for each in State:
        STATE.labels(state=each.value).set(float(each is state))


class Gauges:
    """The lifecycle's listener that keeps the gauges (the last one bound, one per server)."""

    def __init__(self, watcher: IdleWatcher) -> None:
        """Read the idle clock from watcher at each scrape."""
        SECONDS_UNTIL_IDLE_STOP.set_function(lambda: seconds_until_idle_stop(watcher))
        LAST_ACTIVITY.set_function(lambda: last_activity(watcher))
        OPEN_HOLDS.set_function(lambda: float(len(watcher.holds)))
        MAX_IDLE.set(watcher.max_idle)
        WARNINGS_SENT.set(0)
        set_state(INITIAL)

    def subscribe(self, lifecycle: Lifecycle) -> None:
        """Listen to every state and to the warning."""
        for state in State:
            lifecycle.on(state, self.changed)
        lifecycle.on(IdleWarning, self.warned)

    def changed(self, change: Transition) -> None:
        """The state gauge follows the state entered."""
        set_state(change.state)

    def warned(self, warning: IdleWarning) -> None:
        """One more warning given."""
        WARNINGS_SENT.inc()
