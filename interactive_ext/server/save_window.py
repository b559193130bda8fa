"""The save window: before the server stops, open frontends save unsaved documents."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

RECENT_SECONDS = 20.0
"""A frontend that asked for the status this recently is expected to save before the stop."""

LOGGED = 20
"""Failed and saved documents named in the log per report; the rest are counted."""


class SaveWindow:
    """Frontends seen recently (by client id), and their acknowledgements once stopping."""

    def __init__(self, seconds: float, log: logging.Logger) -> None:
        """A window of at most seconds; 0 stops at once."""
        self.seconds = seconds
        self.log = log
        self.clients: dict[str, float] = {}
        self.expected: set[str] = set()
        self.acked: set[str] = set()
        self.failed: list[dict[str, Any]] = []
        self.deadline: float | None = None
        self._done: asyncio.Event | None = None

    def seen(self, client: str) -> None:
        """A frontend asked for the status (its poll carries its client id)."""
        self.clients[client] = time.monotonic()

    def open(self) -> float:
        """Start the window; the seconds it may last (0 when no frontend is expected)."""
        now = time.monotonic()
        self.expected = {c for c, t in self.clients.items() if now - t <= RECENT_SECONDS}
        length = self.seconds if self.expected else 0.0
        self.deadline = now + length
        self._done = asyncio.Event()
        if not self.expected:
            self._done.set()
        return length

    def expects(self, client: str) -> bool:
        """True if client polled before the stop began and has not reported yet."""
        return client in self.expected and client not in self.acked

    def ack(self, client: str, saved: list[str], failed: list[dict[str, Any]]) -> None:
        """A frontend saved what it had; failed saves are logged for the task's log."""
        self.failed.extend(failed)
        for item in failed[:LOGGED]:
            self.log.warning(
                "a frontend could not save %s before the stop: %s",
                item.get("path", "?"),
                item.get("error", "?"),
            )
        if len(failed) > LOGGED:
            self.log.warning("... and %d more documents could not be saved", len(failed) - LOGGED)
        if saved:
            shown = ", ".join(saved[:LOGGED]) + (", ..." if len(saved) > LOGGED else "")
            self.log.info("saved before the stop (%d): %s", len(saved), shown[:2000])
        self.acked.add(client)
        if self._done is not None and self.expected <= self.acked:
            self._done.set()

    async def wait(self) -> None:
        """Until every expected frontend acknowledged, or the window ends."""
        if self._done is None or self.deadline is None:
            return
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            return
        try:
            await asyncio.wait_for(self._done.wait(), remaining)
        except asyncio.TimeoutError:
            missing = sorted(self.expected - self.acked)
            self.log.warning("save window over; %d frontend(s) did not answer", len(missing))
