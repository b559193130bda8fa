"""A task session's JupyterLab asks nothing about Jupyter news; a plain `jupyter lab` still does.

A person in a task session is debugging: JupyterLab's "get notified about official Jupyter
news?" prompt is noise there. The task's server turns the news plugin off in its page config
(`InteractiveApp.hide_news`, set by the task wrapper); the status item reads as before.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from .session_ui import check_counts_down, indicator
from .ui import open_lab

NEWS_PROMPT = "Would you like to get notified about official Jupyter news?"
NEWS_PLUGIN = "@jupyterlab/apputils-extension:announcements"
PROMPT_WAIT = 5_000  # ms after JupyterLab is restored: the prompt comes right after that
TRAIN = """
def train(epochs: int = 3) -> dict:
    \"\"\"A task named as in docs/frontend.md.\"\"\"
    return {"epochs": epochs}
"""


@pytest.fixture(autouse=True)
def fresh_lab_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No answer to the news prompt saved: each server gets its own empty user settings."""
    monkeypatch.setenv("JUPYTERLAB_SETTINGS_DIR", str(tmp_path / "user-settings"))


def disabled_plugins(page: Page) -> list[str]:
    """The page config's disabledExtensions, as JupyterLab read it."""
    return list(
        page.evaluate(
            "JSON.parse(document.getElementById('jupyter-config-data').textContent)"
            ".disabledExtensions"
        )
    )


def test_a_task_session_shows_no_news_prompt(page: Page, start_task, tmp_path: Path) -> None:
    """The status item reads `Task train · stops in MM:SS`; no news prompt comes."""
    source = tmp_path / "train.py"
    source.write_text(TRAIN)
    session = start_task(f"{source}:train", max_idle=600.0)
    open_lab(page, session, session.notebook)
    check_counts_down(page, "train")
    expect(indicator(page)).to_have_text(re.compile(r"^Task train · stops in \d\d:\d\d$"))
    page.wait_for_timeout(PROMPT_WAIT)
    expect(page.get_by_text(NEWS_PROMPT)).to_have_count(0)
    assert NEWS_PLUGIN in disabled_plugins(page)


def test_a_plain_jupyter_lab_keeps_the_news_prompt(page: Page, start_jupyter) -> None:
    """Without a task the extension changes nothing of JupyterLab: the prompt still comes."""
    served = start_jupyter("lab", max_idle=600.0)
    open_lab(page, served, served.notebook)
    expect(page.get_by_text(NEWS_PROMPT)).to_be_visible(timeout=30_000)
    assert NEWS_PLUGIN not in disabled_plugins(page)
