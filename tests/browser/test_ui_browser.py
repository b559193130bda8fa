"""The extension in real JupyterLab and Notebook 7 tabs: countdown, warning, resume, typing, saves.

Every case runs a task session as a user does (`jupyter interactive-task run FILE.py:task`)
and drives chromium as a person would. With INTERACTIVE_EXT_SCREENSHOTS=docs/images, the cases
also save the pictures of docs/frontend.md.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from harness import BIN, wait_for

from .conftest import TaskSession
from .session_ui import (
    CONNECTION_ERROR,
    FINAL,
    LATE,
    RESUME_FORM,
    RESUMED,
    WARNING,
    Shots,
    cell_sources,
    check_counts_down,
    check_no_connection_error,
    count_dialogs,
    dialogs_shown,
    final_view,
    indicator,
    seconds_left,
    server_deadline,
    wait_counting_down,
)
from .ui import cell, open_lab, open_notebook7, run_cell, type_into_cell

INPUTS_CELL = 3  # `inputs = load_inputs()` in the starter notebook
RESUME_CELL = 7  # `RESUME = False ...`
TRAIN = """
def train(epochs: int = 3, lr: float = 0.001) -> dict:
    \"\"\"A task with two parameters, as in the documentation's pictures.\"\"\"
    return {"epochs": epochs, "lr": lr}
"""


@pytest.fixture
def shots() -> Shots:
    """Screenshots for docs/ when INTERACTIVE_EXT_SCREENSHOTS names a folder."""
    return Shots()


def notebook_file(session: TaskSession) -> Path:
    """The starter notebook on disk."""
    status = session.request("GET", "/interactive/status").body
    return Path(status["notebook"])


def make_dirty(page: Page, session: TaskSession, marker: str) -> Path:
    """Type marker into the inputs cell without saving; the notebook's file (not holding it)."""
    path = notebook_file(session)
    type_into_cell(page, INPUTS_CELL, f"inputs = load_inputs()  # {marker}")
    assert not any(marker in s for s in cell_sources(path)), "saved before the stop"
    return path


def check_saved_and_final(
    page: Page, session: TaskSession, path: Path, marker: str, message: str, lab: bool = True
) -> None:
    """After the stop: the typed edit is on disk, the tab shows the final view, no reconnect."""
    final_view(page, message)
    check_no_connection_error(page, session, lab)
    assert any(marker in s for s in cell_sources(path)), f"edit lost:\n{session.log()}"


def start_train(start_task, tmp_path: Path, max_idle: float) -> TaskSession:
    """A task session of `train` (named so in the pictures), started from the command line."""
    source = tmp_path / "train.py"
    source.write_text(TRAIN)
    return start_task(f"{source}:train", max_idle=max_idle)


def test_lab_status_warning_and_resume_dialog(
    page: Page, start_task, tmp_path: Path, shots: Shots
) -> None:
    """Countdown; one warning per approach, Keep working moves the deadline; resume, epochs=5."""
    session = start_train(start_task, tmp_path, max_idle=20.0)
    count_dialogs(page)
    open_lab(page, session, session.notebook)
    check_counts_down(page, "train")
    shots.take(page.locator("#jp-main-statusbar .jp-StatusBar-Left"), "lab-status-item")
    # First approach: the warning, once; Keep working moves the server's deadline.
    warning = page.locator(WARNING)
    expect(warning).to_be_visible(timeout=30_000)
    expect(warning).to_contain_text("The server for task train stops in")
    shots.take(page, "lab-warning")
    before = server_deadline(session)
    warning.get_by_role("button", name="Keep working").click()
    expect(warning).to_have_count(0)
    assert server_deadline(session) > before + 2, "Keep working did not move the deadline"
    assert dialogs_shown(page)["warning"] == 1
    # Second approach: warned again, once, however long the dialog stays open.
    expect(warning).to_be_visible(timeout=30_000)
    shown = seconds_left(page)
    wait_for(lambda: seconds_left(page) <= shown - 3, 10, "three ticks with the warning open")
    assert dialogs_shown(page)["warning"] == 2, "warned more than once about one deadline"
    # Activity elsewhere (another tab, a script) moves the deadline: the dialog closes itself.
    assert session.request("POST", "/interactive/heartbeat").status == 200
    expect(warning).to_have_count(0, timeout=15_000)
    # Third approach: warned again; Resume task now opens the Resume dialog.
    expect(warning).to_be_visible(timeout=30_000)
    assert dialogs_shown(page)["warning"] == 3
    warning.get_by_role("button", name="Resume task now").click()
    resume_from_dialog(page, shots)
    final_view(page, RESUMED)
    shots.take(page, "lab-final-resumed")
    assert session.result() == {"epochs": 5, "lr": 0.001}
    check_no_connection_error(page, session)


def resume_from_dialog(page: Page, shots: Shots) -> None:
    """In the open Resume dialog: a wrong value is refused, then epochs=5 is taken."""
    form = page.locator(RESUME_FORM)
    expect(form.get_by_label("lr")).to_have_value("0.001")
    form.get_by_label("epochs").fill("5")
    shots.take(form.locator(".jp-Dialog-content"), "lab-resume")
    form.get_by_label("epochs").fill('"five"')
    form.get_by_role("button", name="Resume…").click()
    page.get_by_role("button", name="Resume", exact=True).click()
    expect(form.locator(".jp-InteractiveTask-error")).to_contain_text("epochs")
    shots.take(form.locator(".jp-Dialog-content"), "lab-resume-error")
    form.get_by_label("epochs").fill("5")
    form.get_by_role("button", name="Resume…").click()
    confirm = page.locator(".jp-Dialog-content", has_text="Resume task train with epochs=5?")
    expect(confirm).to_be_visible()
    shots.take(confirm, "lab-resume-confirm")
    confirm.get_by_role("button", name="Resume", exact=True).click()


def test_typing_is_never_stopped_then_idle_saves(page: Page, start_task, shots: Shots) -> None:
    """Typing every 0.6 s without saving holds the server; once it stops, the idle stop comes
    on time, the typed text is on disk, and the tab shows why it stopped."""
    idle = 8.0
    session = start_task(max_idle=idle)
    count_dialogs(page)
    open_lab(page, session, session.notebook)
    path = notebook_file(session)
    editor = cell(page, INPUTS_CELL).locator(".jp-InputArea-editor .cm-content")
    editor.click()
    page.keyboard.press("End")
    typed = "  # typed"
    end = time.monotonic() + 1.5 * idle
    last_key = time.time()
    while time.monotonic() < end:
        for key in typed:
            page.keyboard.type(key)
            last_key = time.time()
            assert session.server_alive(), "stopped while a person was typing"
            page.wait_for_timeout(600)
        typed = "x"
    assert session.request("GET", "/interactive/status").body["state"] == "waiting"
    assert not any("# typed" in s for s in cell_sources(path)), "saved while typing"
    watched = session.watch_until_exit(idle + 30)
    assert watched.deadline is not None and watched.exit is not None, watched
    # heartbeats are throttled: the last one counted may come a little before the last key
    assert last_key + idle - 1.5 <= watched.deadline <= watched.exit, (watched, last_key)
    late = watched.exit - (last_key + idle)
    assert late <= LATE, f"exited {late:.3f} s after the test's deadline: {watched}"
    assert any(s.endswith("heartbeat") for s in watched.sources), watched
    final_view(page, f"Stopped after {idle:g} s without activity")
    warned = [t for t in dialogs_shown(page)["warningTimes"] if t > last_key]
    assert len(warned) == 1, f"{len(warned)} warnings for the approach after the last key"
    shots.take(page, "lab-final-idle")
    assert any("# typed" in s for s in cell_sources(path)), f"edit lost:\n{session.log()}"
    assert session.proc.wait(60) == 0, session.log()  # on_idle=resume: the task ran
    check_no_connection_error(page, session)


def test_resume_from_cli_saves_edits(page: Page, start_task, shots: Shots) -> None:
    """`jupyter interactive-task resume --session-dir D`: the unsaved edit is on disk."""
    session = start_task(max_idle=120.0)
    count_dialogs(page)
    open_lab(page, session, session.notebook)
    path = make_dirty(page, session, "edited-before-cli-resume")
    type_into_cell(page, INPUTS_CELL + 1, "import time; time.sleep(10)")
    run_cell(page, INPUTS_CELL + 1, wait=False)  # resumed while a cell runs
    expect(indicator(page)).to_have_text("Task task · kernel busy", timeout=15_000)
    shots.take(page.locator("#jp-main-statusbar .jp-StatusBar-Left"), "lab-status-busy")
    cli = subprocess.run(
        [
            str(BIN / "jupyter"),
            "interactive-task",
            "resume",
            f"--session-dir={session.ready['session_dir']}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cli.returncode == 0, cli.stderr
    check_saved_and_final(page, session, path, "edited-before-cli-resume", RESUMED)
    assert session.result() == {"x": 1}


def test_resume_from_a_cell_saves_edits(page: Page, start_task) -> None:
    """`resume()` run in the notebook: the edits of the same notebook are on disk."""
    session = start_task(max_idle=120.0)
    count_dialogs(page)
    open_lab(page, session, session.notebook)
    path = make_dirty(page, session, "edited-before-cell-resume")
    type_into_cell(page, RESUME_CELL, "from interactive_ext import resume; resume(x=7)")
    cell(page, RESUME_CELL).locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")  # the cell may end before its [*] can be seen
    check_saved_and_final(page, session, path, "edited-before-cell-resume", RESUMED)
    assert session.result() == {"x": 7}


def test_notebook7_countdown_rest_resume_saves_edits(page: Page, start_task, shots: Shots) -> None:
    """Notebook 7: the countdown in the top area; POST /interactive/resume saves the edit."""
    session = start_task(max_idle=120.0)
    count_dialogs(page)
    open_notebook7(page, session, session.notebook)
    check_counts_down(page, "task")
    shots.take(page, "nb7-status", clip={"x": 0, "y": 0, "width": 1280, "height": 200})
    indicator(page).click()  # the status item opens the Resume dialog
    form = page.locator(RESUME_FORM)
    expect(form.get_by_label("x")).to_have_value("1")
    form.get_by_role("button", name="Cancel").click()
    expect(form).to_have_count(0)
    path = make_dirty(page, session, "edited-before-rest-resume")
    reply = session.request("POST", "/interactive/resume", body={"inputs": {"x": 3}})
    assert reply.status == 202, reply
    final_view(page, RESUMED)
    shots.take(page, "nb7-final-resumed")
    check_saved_and_final(page, session, path, "edited-before-rest-resume", RESUMED, lab=False)
    assert session.result() == {"x": 3}


def test_a_failed_save_is_in_the_task_log(page: Page, start_task) -> None:
    """A save that fails during the stop is reported: the task's log names the document."""
    session = start_task(max_idle=120.0)
    open_lab(page, session, session.notebook)
    path = make_dirty(page, session, "edited-but-not-saved")
    page.route(
        "**/api/contents/**",
        lambda route: route.abort() if route.request.method == "PUT" else route.continue_(),
    )
    reply = session.request("POST", "/interactive/resume", body={"inputs": {}})
    assert reply.status == 202, reply
    final_view(page, RESUMED)
    assert session.result() == {"x": 1}
    log = session.log()
    assert f"a tab could not save {session.notebook} before the stop" in log, log
    assert not any("edited-but-not-saved" in s for s in cell_sources(path))


def test_lifetime_cap_saves_edits(page: Page, start_task) -> None:
    """The lifetime cap stops an active session: its unsaved edit is on disk, the tab says why."""
    session = start_task(max_idle=120.0, extra=("--max-lifetime-seconds=40",))
    count_dialogs(page)
    open_lab(page, session, session.notebook)
    path = make_dirty(page, session, "edited-before-the-cap")
    status = session.request("GET", "/interactive/status").body
    assert status["state"] == "waiting", f"the cap came before the edit: {status}"
    check_saved_and_final(
        page,
        session,
        path,
        "edited-before-the-cap",
        "Stopped: the session reached its lifetime cap",
    )
    assert session.proc.wait(60) == 0, session.log()  # on_idle=resume: the task ran


def test_a_killed_server_keeps_the_reconnect_dialog(page: Page, start_task) -> None:
    """A server that dies without a stop is not a final state: JupyterLab's own dialog shows."""
    session = start_task(max_idle=120.0)
    count_dialogs(page)
    open_lab(page, session, session.notebook)
    wait_counting_down(page, "task")
    os.kill(session.server_pid, signal.SIGKILL)
    # JupyterLab may still be opening the notebook of its URL: its "Cannot open" goes first.
    opening = page.locator(".jp-Dialog", has_text="Cannot open")

    def reconnect_dialog() -> bool:
        if opening.count():
            opening.get_by_role("button", name="Close").click()
        return page.get_by_text(CONNECTION_ERROR).count() > 0

    wait_for(reconnect_dialog, 60, "JupyterLab's Server Connection Error dialog", interval=0.3)
    assert dialogs_shown(page)["connection"] >= 1, dialogs_shown(page)
    expect(page.locator(FINAL)).to_have_count(0)
