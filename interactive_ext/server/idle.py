"""The idle watcher: activity sources, the deadline, one timer, warnings, the shutdown.

The rule: the server is active at time t if a *hold* is true (a kernel is executing) or a
*user event* happened in (t - max_idle, t]. Events only move a timestamp forward; the one
timer is scheduled for the earliest moment something could be due (the warning, then the
deadline) and, when it fires, re-reads every source before acting, so it never acts early
and it never churns on a stream of events.

The warning: once per approach to a deadline. Its window is at most half of max_idle, so an
approach starts with a quiet part at least that long (a burst of events cannot warn twice),
and a deadline that was warned for is never warned for again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

PullSource = Callable[[], "float | None"]

log = logging.getLogger(__name__)


# Wall time of monotonic 0, fixed once so that one instant always reads the same.
WALL_OFFSET = time.time() - time.monotonic()


def wall(mono: float | None) -> str | None:
    """Turn a monotonic timestamp into an ISO 8601 UTC wall time."""
    if mono is None:
        return None
    return datetime.fromtimestamp(mono + WALL_OFFSET, tz=timezone.utc).isoformat()


def mono_from_datetime(dt: datetime | None) -> float | None:
    """Turn an aware (or naive UTC) datetime into a monotonic timestamp."""
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp() - WALL_OFFSET


class IdleWatcher:
    """Decides when the server has been idle for max_idle seconds, with one timer."""

    def __init__(
        self,
        max_idle: float,
        on_idle: Callable[[], Any],
        on_warning: Callable[[float], Any] | None = None,
        warning_before: float = 0.0,
        logger: logging.Logger | None = None,
    ) -> None:
        """Watch for max_idle seconds of inactivity; 0 disables the shutdown."""
        self.max_idle = float(max_idle)
        self.warning_before = min(max(float(warning_before), 0.0), self.max_idle / 2)
        self.on_idle = on_idle
        self.on_warning = on_warning
        self.log = logger or log
        self.last_activity: float = time.monotonic()
        self.last_source = "start"
        self.holds: dict[str, float] = {}
        self.pull_sources: dict[str, PullSource] = {}
        self.reconcile: Callable[[], None] | None = None
        self.fired = False
        self.stopped = False
        self._warned_deadline = float("-inf")
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- lifecycle -----------------------------------------------------------------

    @property
    def enabled(self) -> bool:
        """True when an idle timeout is set."""
        return self.max_idle > 0

    def start(self) -> None:
        """Start the clock now (the server is ready) and arm the timer."""
        self._loop = asyncio.get_running_loop()
        self.last_activity = time.monotonic()
        self.last_source = "start"
        self._arm()

    def stop(self) -> None:
        """Cancel the timer; nothing fires, and no event moves the deadline, after this."""
        self.stopped = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._loop = None

    # -- activity ------------------------------------------------------------------

    def touch(self, source: str) -> None:
        """Record a user event now (cheap: moves a timestamp, the timer re-reads it)."""
        if self.stopped:  # the server is stopping: its kernels going away are not a person
            return
        now = time.monotonic()
        if now >= self.last_activity:
            self.last_activity = now
            self.last_source = source
        if self._timer is None and not self.holds:
            self._arm()

    def hold(self, key: str) -> None:
        """Keep the server active until release(key) (e.g. a kernel is busy)."""
        if key not in self.holds:
            self.log.debug("idle hold on: %s", key)
            self.holds[key] = time.monotonic()
        self.touch(key)

    def release(self, key: str) -> None:
        """End a hold; the release itself counts as a user event."""
        if self.holds.pop(key, None) is not None:
            self.log.debug("idle hold off: %s", key)
            self.touch(key)
            self._arm()

    def set_reconcile(self, check: Callable[[], None]) -> None:
        """Set a check run each time the timer fires, that corrects holds from another view."""
        self.reconcile = check

    def add_pull_source(self, name: str, source: PullSource) -> None:
        """Add a source read when the timer fires: returns its last activity (monotonic)."""
        self.pull_sources[name] = source

    # -- the deadline --------------------------------------------------------------

    def _read_pull_sources(self) -> None:
        """Fold the latest activity of the pull sources into last_activity."""
        for name, source in self.pull_sources.items():
            try:
                t = source()
            except Exception:
                self.log.exception("idle source %s failed", name)
                continue
            if t is not None and t > self.last_activity:
                self.last_activity = min(t, time.monotonic())
                self.last_source = name

    @property
    def deadline(self) -> float | None:
        """When the server shuts down if nothing happens (monotonic), or None."""
        if not self.enabled or self.holds:
            return None
        return self.last_activity + self.max_idle

    def _next_due(self) -> float | None:
        """The next moment the timer has something to do: the warning, then the deadline."""
        deadline = self.deadline
        if deadline is None:
            return None
        if self._warning_due(deadline):
            return deadline - self.warning_before
        return deadline

    def _warning_due(self, deadline: float) -> bool:
        """True if the approach to deadline still has its one warning to give."""
        return (
            bool(self.on_warning) and self.warning_before > 0 and deadline > self._warned_deadline
        )

    def _arm(self) -> None:
        """(Re)schedule the one timer for the next due moment."""
        if self._loop is None or self.fired:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        due = self._next_due()
        if due is None:
            if self.holds and self.enabled:
                # Only to notice a kernel that died while busy: re-check after max_idle.
                self._timer = self._loop.call_later(self.max_idle, self._fire)
            return
        self._timer = self._loop.call_later(max(due - time.monotonic(), 0.0), self._fire)

    def _fire(self) -> None:
        """The timer: re-read sources, warn or shut down if due, else re-arm."""
        self._timer = None
        if self.fired:
            return
        self._read_pull_sources()
        if self.reconcile is not None:
            try:
                self.reconcile()
            except Exception:
                self.log.exception("idle reconcile failed")
        deadline = self.deadline
        if deadline is None:
            self._arm()
            return
        now = time.monotonic()
        if now >= deadline:
            self.fired = True
            self.log.info(
                "idle for %.3f s (limit %.3f s, last activity: %s); shutting down",
                now - self.last_activity,
                self.max_idle,
                self.last_source,
            )
            self.on_idle()
            return
        if self._warning_due(deadline) and now >= deadline - self.warning_before:
            self._warned_deadline = deadline
            try:
                self.on_warning(deadline - now)  # type: ignore[misc]
            except Exception:
                self.log.exception("idle warning failed")
        self._arm()

    # -- reporting -----------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """The idle state as JSON-able values (the heartbeat body)."""
        self._read_pull_sources()
        now = time.monotonic()
        deadline = self.deadline
        return {
            "last_activity": wall(self.last_activity),
            "last_activity_source": self.last_source,
            "idle_seconds": round(max(now - self.last_activity, 0.0), 3),
            "max_idle_seconds": self.max_idle,
            "shutdown_deadline": wall(deadline),
            "seconds_remaining": None if deadline is None else round(max(deadline - now, 0.0), 3),
            "holds": sorted(self.holds),
        }
