"""The idle watcher on a real event loop, without HTTP: the rule and its precision."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from interactive_ext.server.activity import NOT_A_PERSON, REQUEST_RULES, request_rule
from interactive_ext.server.idle import IdleWatcher

pytestmark = pytest.mark.serial  # the timer's precision is what is tested

IDLE = 0.4
LATE = 0.1  # s: the timer fires within this after the deadline (the promise is <= 1 s to exit)


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


def acted(act) -> tuple[float, float]:
    """Do act (a person's event, as the test sees it); (before, after) in monotonic time."""
    before = time.monotonic()
    act()
    return before, time.monotonic()


def on_time(fired: float, since: tuple[float, float], idle: float = IDLE) -> None:
    """Fired at the deadline the test computes from its own last act: never before, <= LATE."""
    earliest, latest = since[0] + idle, since[1] + idle
    assert fired >= earliest, f"fired {earliest - fired:.3f} s before the deadline"
    assert fired <= latest + LATE, f"fired {fired - latest:.3f} s after the deadline"


async def test_fires_at_the_deadline_not_before():
    rec = Recorder()
    w = make(rec)
    since = acted(w.start)
    on_time(await wait_idle(rec), since)
    assert w.fired and w._timer is None


async def test_touch_moves_the_deadline():
    rec = Recorder()
    w = make(rec)
    w.start()
    await asyncio.sleep(IDLE * 0.6)
    since = acted(lambda: w.touch("request"))
    on_time(await wait_idle(rec), since)
    assert w.last_source == "request"


async def test_hold_blocks_and_release_counts():
    rec = Recorder()
    w = make(rec)
    w.start()
    w.hold("kernel:a")
    assert w.deadline is None
    await asyncio.sleep(IDLE * 2.5)
    assert rec.idle_at is None
    since = acted(lambda: w.release("kernel:a"))
    assert w.last_source == "kernel:a"
    on_time(await wait_idle(rec), since)


async def test_warning_before_the_deadline_once_per_idle_period():
    rec = Recorder()
    w = make(rec, warning_before=IDLE / 2)
    since = acted(w.start)
    fired = await wait_idle(rec)
    assert len(rec.warnings) == 1
    warned_at, remaining = rec.warnings[0]
    on_time(warned_at, since, IDLE / 2)  # the warning is on time too
    assert 0 < remaining <= IDLE / 2
    on_time(fired, since)


async def test_pull_source_is_read_before_acting():
    rec = Recorder()
    w = make(rec)
    typed = {"at": None}
    w.add_pull_source("terminal", lambda: typed["at"])
    w.start()
    await asyncio.sleep(IDLE * 0.7)
    # nobody told the watcher: it must find it at the deadline
    since = acted(lambda: typed.update(at=time.monotonic()))
    on_time(await wait_idle(rec), since)
    assert w.last_source == "terminal"


async def test_reconcile_releases_a_stale_hold():
    rec = Recorder()
    w = make(rec)
    released: list[tuple[float, float]] = []
    w.set_reconcile(lambda: released.append(acted(lambda: w.release("kernel:dead"))))
    w.start()
    w.hold("kernel:dead")
    fired = await wait_idle(rec)
    assert "kernel:dead" not in w.holds
    assert w.last_source == "kernel:dead"
    # the first reconcile (at the hold's re-check) releases it; the release counts as an event
    on_time(fired, released[0])


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
    deadline = w.state()["shutdown_deadline"]
    w.touch("kernel:a")  # a kernel shutting down with the server is not a person
    assert w.state()["shutdown_deadline"] == deadline
    await asyncio.sleep(IDLE * 1.5)
    assert rec.idle_at is None


async def test_many_events_do_not_churn_the_timer():
    rec = Recorder()
    w = make(rec)
    w.start()
    timer = w._timer
    before = time.monotonic()
    for _ in range(1000):
        w.touch("output")
    assert w._timer is timer
    on_time(await wait_idle(rec), (before, time.monotonic()))


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
    since = acted(lambda: w.release("kernel:k"))
    on_time(await wait_idle(rec), since)


async def test_warning_window_is_at_most_half_the_idle_time():
    rec = Recorder()
    w = IdleWatcher(10, on_idle=rec.on_idle, on_warning=rec.on_warning, warning_before=60)
    assert w.warning_before == 5


async def test_a_burst_after_the_warning_does_not_warn_again():
    rec = Recorder()
    w = make(rec, warning_before=IDLE)  # capped to IDLE / 2
    w.start()
    while not rec.warnings:
        await asyncio.sleep(0.005)
    for _ in range(7):  # what a tab connecting to a kernel does: ten answers in 0.35 s
        w.touch("kernel:a")
        await asyncio.sleep(0.01)
    since = acted(lambda: w.touch("kernel:a"))
    fired = await wait_idle(rec)
    assert len(rec.warnings) == 2, rec.warnings
    second_at, remaining = rec.warnings[1]
    on_time(second_at, since, IDLE / 2)
    assert 0 < remaining <= IDLE / 2
    on_time(fired, since)


async def test_steady_activity_never_warns():
    rec = Recorder()
    idle = 1.0
    w = IdleWatcher(idle, on_idle=rec.on_idle, on_warning=rec.on_warning, warning_before=idle)
    w.start()
    end = time.monotonic() + 2 * idle
    while time.monotonic() < end:  # events closer together than the quiet part (idle / 2)
        since = acted(lambda: w.touch("output"))
        await asyncio.sleep(idle / 5)
    assert rec.warnings == []
    fired = await wait_idle(rec)
    assert len(rec.warnings) == 1
    on_time(rec.warnings[0][0], since, idle / 2)
    on_time(fired, since, idle)


async def test_a_warned_deadline_is_not_warned_again():
    rec = Recorder()
    w = make(rec, warning_before=IDLE / 2)
    seen = {"at": None}
    w.add_pull_source("stale", lambda: seen["at"])  # re-reports an old time: no new deadline
    w.start()
    while not rec.warnings:
        await asyncio.sleep(0.005)
    seen["at"] = w.last_activity
    w._arm()  # the timer re-armed inside the window, for the same deadline
    await wait_idle(rec)
    assert len(rec.warnings) == 1


def _doc_table(heading: str) -> list[list[str]]:
    """The body rows of the first table after heading in docs/idle.md, as cells."""
    text = (Path(__file__).resolve().parents[3] / "docs" / "idle.md").read_text()
    lines = text[text.index(heading) :].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split(" | ")])
    return rows


def test_docs_request_table_is_the_code_table():
    code = [
        [r.methods, f"`{r.path}`", "yes" if r.counts else "no", r.reason] for r in REQUEST_RULES
    ]
    assert _doc_table("### Requests") == code


def test_docs_kernel_table_is_the_code_table():
    code = [["(none)" if k is None else f"`{k}`", why] for k, why in NOT_A_PERSON.items()]
    assert _doc_table("### Kernel messages") == code


def test_requests_by_meaning():
    counts = {
        ("PUT", "/lab/api/workspaces/default"): False,
        ("PUT", "/lab/api/settings/@jupyterlab/apputils-extension:notification"): False,
        ("POST", "/api/contents/a%20b/n.ipynb/checkpoints"): False,
        ("POST", "/interactive/saved"): False,
        ("GET", "/api/kernels"): False,
        ("PUT", "/api/contents/a/n.ipynb"): True,
        ("POST", "/api/contents"): True,
        ("PATCH", "/api/contents/n.ipynb"): True,
        ("DELETE", "/api/contents/n.ipynb"): True,
        ("POST", "/api/contents/n.ipynb/checkpoints/cp1"): True,  # restore a checkpoint
        ("POST", "/api/kernels/k1/interrupt"): True,
        ("POST", "/api/sessions"): True,
        ("POST", "/api/terminals"): True,
        ("POST", "/interactive/heartbeat"): True,
        ("POST", "/some_extension/action"): True,
    }
    assert {k: request_rule(*k).counts for k in counts} == counts


def test_a_real_server_counts_by_meaning(start_server):
    """Workspace writes leave the deadline alone; a save moves it (real HTTP, real server)."""
    server = start_server("--InteractiveApp.max_idle_seconds=600")

    def last() -> tuple[str, str]:
        hb = server.request("GET", "/interactive/heartbeat").body
        return hb["last_activity"], hb["last_activity_source"]

    before = last()
    layout = {"data": {}, "metadata": {"id": "default"}}
    r = server.request("PUT", "/lab/api/workspaces/default", body=layout)
    assert r.status == 204, r
    r = server.request("POST", "/api/contents", body={"type": "notebook"})
    assert r.status == 201, r
    r = server.request("POST", f"/api/contents/{r.body['path']}/checkpoints")
    assert r.status == 201, r
    after_create = last()
    assert after_create[1] == "POST /api/contents" and after_create[0] > before[0]
    r = server.request("PUT", "/lab/api/workspaces/default", body=layout)
    assert r.status == 204, r
    assert last() == after_create
