"""The Resume dialog's confirm step lists the files changed in the session, with +/- counts."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from .session_ui import RESUME_FORM, RESUMED, final_view, indicator
from .ui import open_lab

TASK = """
from helper import scale

def train(epochs: int = 3) -> dict:
    return {"epochs": epochs, "value": scale(1)}
"""
HELPER = """
def scale(x):
    return x * 10
"""


def test_the_confirm_step_lists_the_changed_files(page: Page, start_task, tmp_path: Path) -> None:
    """task.py and helper.py edited: the confirm step names both; the log has the patch."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "task.py").write_text(TASK)
    (src / "helper.py").write_text(HELPER)
    session = start_task(f"{src / 'task.py'}:train", max_idle=300.0)
    (src / "helper.py").write_text(HELPER.replace("x * 10", "x * 100"))
    (src / "task.py").write_text(TASK.replace('"value"', '"fixed": True, "value"'))
    open_lab(page, session, session.notebook)
    indicator(page).click()  # opens the Resume dialog
    form = page.locator(RESUME_FORM)
    form.get_by_label("epochs").fill("4")
    form.get_by_role("button", name="Resume…").click()
    confirm = page.locator(".jp-Dialog-content", has_text="Resume task train with epochs=4?")
    expect(confirm).to_be_visible()
    expect(confirm).to_contain_text("It runs with 2 changed files")
    items = confirm.locator(".jp-InteractiveTask-changes li")
    expect(items).to_have_text(["helper.py +1 \u22121", "task.py +1 \u22121"])
    confirm.get_by_role("button", name="Resume", exact=True).click()
    view = final_view(page, RESUMED)
    expect(view.locator(".jp-InteractiveTask-finalHint")).to_contain_text(
        "Resumed with 2 changed files"
    )
    assert session.result() == {"epochs": 4, "fixed": True, "value": 100}
    log = session.log()
    assert "changes at this resume: 2 changed files (+2 -2)" in log
    assert "# input override epochs = 4 (from dialog)" in log
