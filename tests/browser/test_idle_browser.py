"""The idle rule against real JupyterLab and Notebook 7 tabs in chromium, on real servers.

A tab left open (polling, saving its layout, connecting to kernels) must not keep the server
up; a silent running cell must; a save is a person's act. Precision is measured by
benchmarks/lab_idle.py; here the process exit is checked against the deadline the test
computes from its own last act (what it did in the page), with 1.5 s for the page and the stop.
"""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import Page, Request

from .conftest import Served, TaskSession, Watched
from .session_ui import LATE
from .ui import open_lab, open_notebook7, run_cell, save, type_into_cell

LAB_IDLE = 12.0  # > 10 s: JupyterLab's own workspace write every 10 s must land in the window
NB_IDLE = 6.0


def _is_workspace_write(request: Request) -> bool:
    """JupyterLab saving its layout by itself."""
    return request.method == "PUT" and "/lab/api/workspaces/" in request.url


def check_stopped_on_time(served: Served, watched: Watched, max_idle: float, since: float) -> None:
    """Not before the deadline, and gone <= LATE after max_idle past what the test did last
    (since): the tab by itself (polling, layout writes, its kernel) moves nothing."""
    assert watched.deadline is not None and watched.exit is not None, watched
    assert watched.exit >= watched.deadline, watched
    late = watched.exit - (since + max_idle)
    assert late <= LATE, f"exited {late:.3f} s after the test's deadline: {watched}"
    assert not any("workspaces" in s or "settings" in s for s in watched.sources), watched


def finished_idle(session: TaskSession) -> None:
    """The task wrapper saw the idle outcome, ran the task (on_idle=resume) and exited 0."""
    assert session.proc.wait(60) == 0, session.log()


@pytest.mark.parametrize("after_cell", [False, True], ids=["no_kernel", "after_a_cell"])
def test_lab_tab_left_open_stops_on_time(page: Page, start_task, after_cell: bool) -> None:
    session = start_task(max_idle=LAB_IDLE)
    assert session.notebook, session.ready
    writes: list[Request] = []
    page.on("request", lambda r: writes.append(r) if _is_workspace_write(r) else None)
    if after_cell:
        open_lab(page, session, session.notebook)
        run_cell(page, 1)  # %load_ext autoreload
    else:
        open_lab(page, session)
    since = time.time()
    watched = session.watch_until_exit(LAB_IDLE + 30)
    check_stopped_on_time(session, watched, LAB_IDLE, since)
    page.wait_for_timeout(50)  # let playwright deliver the request events of the idle period
    assert watched.deadline is not None and watched.exit is not None
    idle_from = watched.deadline - LAB_IDLE  # the last activity the server counted
    during = [r for r in writes if idle_from < r.timing["startTime"] / 1000 <= watched.exit]
    assert during, "JupyterLab wrote no workspace while idle: the test would prove nothing"
    finished_idle(session)


@pytest.mark.serial  # an idle of 5-6 s: JupyterLab opens slower than that beside the rest
@pytest.mark.parametrize("after_cell", [False, True], ids=["no_kernel", "after_a_cell"])
def test_notebook7_tab_left_open_stops_on_time(page: Page, start_jupyter, after_cell: bool) -> None:
    server = start_jupyter("notebook", max_idle=NB_IDLE)
    if after_cell:
        open_notebook7(page, server, server.notebook)
        run_cell(page, 0)
    else:
        open_notebook7(page, server)
    since = time.time()
    watched = server.watch_until_exit(NB_IDLE + 30)
    check_stopped_on_time(server, watched, NB_IDLE, since)
    assert server.proc.wait(30) == 0, server.log()


@pytest.mark.serial  # an idle of 5-6 s: JupyterLab opens slower than that beside the rest
def test_silent_running_cell_holds_the_server(page: Page, start_task) -> None:
    idle, sleep = 5.0, 9.0
    session = start_task(max_idle=idle)
    open_lab(page, session, session.notebook)
    type_into_cell(page, 1, f"import time; time.sleep({sleep})")
    started = time.time()
    run_cell(page, 1, wait=False)
    watched = session.watch_until_exit(sleep + idle + 30)
    cell_end = started + sleep  # the test's last act: the cell it started ends
    assert any(h.startswith("kernel:") for h in watched.holds), watched
    assert watched.exit is not None and watched.exit >= cell_end + idle, (watched, cell_end)
    assert watched.overshoot is not None and watched.overshoot >= 0, watched
    late = watched.exit - (cell_end + idle)
    assert late <= LATE, f"exited {late:.3f} s after the test's deadline: {watched}"
    finished_idle(session)


@pytest.mark.serial  # an idle of 5-6 s: JupyterLab opens slower than that beside the rest
def test_saving_counts_as_activity(page: Page, start_jupyter) -> None:
    server = start_jupyter("lab", max_idle=60.0)
    open_lab(page, server, server.notebook)
    type_into_cell(page, 0, "2 + 2")
    before = server.heartbeat()
    # Let the clock run, so that a moved deadline is measurable.
    wait_idle = time.monotonic() + 10
    while server.heartbeat()["idle_seconds"] < before["idle_seconds"] + 1.5:
        assert time.monotonic() < wait_idle, "the idle clock does not run"
        time.sleep(0.1)
    answer = save(page)
    assert answer.status == 200
    after = server.heartbeat()
    assert after["last_activity_source"] == f"PUT /api/contents/{server.notebook}", after
    assert after["shutdown_deadline"] > before["shutdown_deadline"], (before, after)
    assert after["idle_seconds"] < 1.0, after
