"""The idle clock as Prometheus gauges, served by jupyter_server at /metrics.

Other cullers (Kubeflow's activityProbe, JupyterHub's culler, SkyPilot's autostop) can read the
person-only activity of docs/idle.md from these instead of "any request". A scrape is a GET, and
no GET is activity (server/activity.py's request table).
"""

from __future__ import annotations

import time
from functools import partial
from typing import Any

from prometheus_client import Gauge

from .idle import WALL_OFFSET
from .status import State

STATES = tuple(s.value for s in State)

STATE = Gauge(
    "interactive_ext_state", "1 for the session's state (waiting, stopping), else 0", ["state"]
)
SECONDS_UNTIL_IDLE_STOP = Gauge(
    "interactive_ext_seconds_until_idle_stop",
    "seconds until the idle stop if nothing happens (GET /interactive/status's "
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


def seconds_until_idle_stop(app: Any) -> float:
    """What the status says is left, or -1 without a deadline."""
    left = app.watcher.state()["seconds_remaining"]
    return -1.0 if left is None else float(left)


def last_activity(app: Any) -> float:
    """The last activity as Unix time; now while a hold is open."""
    if app.watcher.holds:
        return time.time()
    return float(app.watcher.last_activity + WALL_OFFSET)


def is_state(app: Any, state: str) -> float:
    """1.0 if app is in state, else 0.0."""
    return float(app.state == state)


def bind(app: Any) -> None:
    """Read the gauges from app at each scrape (the last app bound, one per server)."""
    for state in STATES:
        STATE.labels(state=state).set_function(partial(is_state, app, state))
    SECONDS_UNTIL_IDLE_STOP.set_function(lambda: seconds_until_idle_stop(app))
    LAST_ACTIVITY.set_function(lambda: last_activity(app))
    OPEN_HOLDS.set_function(lambda: float(len(app.watcher.holds)))
    WARNINGS_SENT.set_function(lambda: float(app.notices.warnings))
    MAX_IDLE.set_function(lambda: float(app.max_idle_seconds))
