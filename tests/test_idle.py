"""The idle watcher on a real event loop, without HTTP: the rule and its precision."""

from __future__ import annotations

import asyncio
import time

from interactive_ext.idle import IdleWatcher

IDLE = 0.4


class Recorder:
    """Collects what the watcher does, with monotonic times."""

    def __init__(self) -> None:
        self.idle_at: float | None = None
        self.warnings: list[tuple[float, float]] = []

    def on_idle(self) -> None:
        self.idle_at = time.monotonic()

    def on_warning(self, remaining: float) -> None:
        self.warnings.append((time.monotonic(), remaining))


async def wait_idle(rec: Recorder, timeout: float = 5.0) -> float:
    deadline = time.monotonic() + timeout
    while rec.idle_at is None:
        assert time.monotonic() < deadline, "the watcher never fired"
        await asyncio.sleep(0.01)
    return rec.idle_at


def make(rec: Recorder, **kw) -> IdleWatcher:
    return IdleWatcher(IDLE, on_idle=rec.on_idle, on_warning=rec.on_warning, **kw)


async def test_fires_at_the_deadline_not_before():
    rec = Recorder()
    w = make(rec)
    w.start()
    deadline = w.last_activity + IDLE
    fired = await wait_idle(rec)
    assert fired >= deadline
    assert w.fired and w._timer is None


async def test_touch_moves_the_deadline():
    rec = Recorder()
    w = make(rec)
    w.start()
    await asyncio.sleep(IDLE * 0.6)
    w.touch("request")
    touched = w.last_activity
    fired = await wait_idle(rec)
    assert fired >= touched + IDLE
    assert w.last_source == "request"


async def test_hold_blocks_and_release_counts():
    rec = Recorder()
    w = make(rec)
    w.start()
    w.hold("kernel:a")
    assert w.deadline is None
    await asyncio.sleep(IDLE * 2.5)
    assert rec.idle_at is None
    w.release("kernel:a")
    released = w.last_activity
    assert w.last_source == "kernel:a"
    fired = await wait_idle(rec)
    assert fired >= released + IDLE


async def test_warning_before_the_deadline_once_per_idle_period():
    rec = Recorder()
    w = make(rec, warning_before=IDLE / 2)
    w.start()
    deadline = w.last_activity + IDLE
    fired = await wait_idle(rec)
    assert len(rec.warnings) == 1
    warned_at, remaining = rec.warnings[0]
    assert deadline - IDLE / 2 <= warned_at < deadline
    assert 0 < remaining <= IDLE / 2
    assert fired >= deadline


async def test_pull_source_is_read_before_acting():
    rec = Recorder()
    w = make(rec)
    typed = {"at": None}
    w.add_pull_source("terminal", lambda: typed["at"])
    w.start()
    await asyncio.sleep(IDLE * 0.7)
    typed["at"] = time.monotonic()  # nobody told the watcher: it must find it at the deadline
    fired = await wait_idle(rec)
    assert fired >= typed["at"] + IDLE
    assert w.last_source == "terminal"


async def test_reconcile_releases_a_stale_hold():
    rec = Recorder()
    w = make(rec)
    w.set_reconcile(lambda: w.release("kernel:dead"))
    w.start()
    w.hold("kernel:dead")
    fired = await wait_idle(rec)
    assert "kernel:dead" not in w.holds
    assert rec.idle_at == fired


async def test_zero_disables():
    rec = Recorder()
    w = IdleWatcher(0, on_idle=rec.on_idle)
    w.start()
    await asyncio.sleep(0.2)
    assert rec.idle_at is None
    assert w.state()["shutdown_deadline"] is None
    w.stop()


async def test_stop_cancels():
    rec = Recorder()
    w = make(rec)
    w.start()
    w.stop()
    await asyncio.sleep(IDLE * 1.5)
    assert rec.idle_at is None


async def test_many_events_do_not_churn_the_timer():
    rec = Recorder()
    w = make(rec)
    w.start()
    timer = w._timer
    for _ in range(1000):
        w.touch("output")
    assert w._timer is timer
    fired = await wait_idle(rec)
    assert fired >= w.last_activity + IDLE


async def test_reconcile_adds_a_missed_hold():
    rec = Recorder()
    w = make(rec)
    busy = {"now": True}
    w.set_reconcile(lambda: w.hold("kernel:k") if busy["now"] else w.release("kernel:k"))
    w.start()
    await asyncio.sleep(IDLE * 1.5)
    assert rec.idle_at is None, "shut down although the reconcile saw a busy kernel"
    assert w.holds == {"kernel:k": w.holds["kernel:k"]}
    busy["now"] = False
    w.release("kernel:k")
    fired = await wait_idle(rec)
    assert fired >= w.last_activity + IDLE
