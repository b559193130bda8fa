"""An opened parked session says so in the status bar, and the Resume dialog says what a resume
does there (saves the edits back, then prints `run --from`)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from playwright.sync_api import Page, expect

from .session_ui import RESUME_FORM, indicator
from .ui import open_lab

TASK = """
from interactive_ext import interactive


@interactive(on_failure="park")
def train(epochs: int = 2):
    values = [1, 2, 3]
    return values[epochs + 10]


if __name__ == "__main__":
    train()
"""


def test_the_status_bar_and_the_dialog_say_the_session_is_parked(
    page: Page, start_task, tmp_path: Path
) -> None:
    job = tmp_path / "job"
    job.mkdir()
    (job / "train.py").write_text(TASK)
    env = {**os.environ, "INTERACTIVE_EXT_PARK_TO": str(tmp_path / "parks")}
    env.pop("INTERACTIVE_EXT_PARK_KEY", None)
    done = subprocess.run(
        [sys.executable, "train.py"], cwd=job, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1, done.stderr
    where = re.search(r"interactive-task open (\S+)", done.stderr)
    assert where, done.stderr
    session = start_task(max_idle=300.0, opened=where[1])
    open_lab(page, session, session.notebook)
    expect(indicator(page)).to_contain_text(re.compile(r"^parked: task train failed on host "))
    indicator(page).click()
    page.locator(RESUME_FORM).get_by_role("button", name="Resume…").click()
    confirm = page.locator(".jp-Dialog-content", has_text="Resume task train")
    expect(confirm).to_contain_text(
        "In this parked session, resume saves your edits and inputs to the parked folder"
    )
    confirm.get_by_role("button", name="Back").click()
