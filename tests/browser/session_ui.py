"""What the interactive-ext frontend shows, read as a person reads it; screenshots for docs/.

The status item, the warning and Resume dialogs and the final view, found by the classes the
extension gives them (frontend/src). `Shots` saves screenshots into the folder named by
INTERACTIVE_EXT_SCREENSHOTS (docs/images regenerates the documentation's pictures); without it,
taking a screenshot does nothing.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import Locator, Page, expect

from harness import wait_for

RESUMED = "Task resumed: this server has stopped; the task runs in its own process"
"""The final view's words after a resume."""
LATE = 1.5
"""Seconds after the deadline a test computes that an idle stop may come (the promise: 1 s,
and the test's clock starts a little before the server's)."""

SCREENSHOTS_ENV = "INTERACTIVE_EXT_SCREENSHOTS"
INDICATOR = ".jp-InteractiveTask-indicator"
WARNING = ".jp-InteractiveTask-warningDialog"
RESUME_FORM = ".jp-Dialog:has(.jp-InteractiveTask-resumeForm)"
FINAL = "#jp-InteractiveTask-final"
CONNECTION_ERROR = "Server Connection Error"
COUNTDOWN = re.compile(r"^Task (\S+) · stops in (\d+):(\d\d)$")

# Counts the dialogs of each kind the page showed (a MutationObserver, before any page script).
COUNT_DIALOGS = """
window.__interactiveDialogs = {warning: 0, connection: 0, warningTimes: []};
const counted = new WeakSet();
new MutationObserver(records => {
  for (const r of records) for (const node of r.addedNodes) {
    const element = node instanceof Element ? node : node.parentElement;
    const dialog = element && element.closest('.jp-Dialog');  // React fills it in later
    if (!dialog || counted.has(dialog)) continue;
    if (dialog.classList.contains('jp-InteractiveTask-warningDialog')) {
      counted.add(dialog);
      window.__interactiveDialogs.warning += 1;
      window.__interactiveDialogs.warningTimes.push(Date.now() / 1000);
    } else if ((dialog.textContent || '').includes('Server Connection Error')) {
      counted.add(dialog);
      window.__interactiveDialogs.connection += 1;
    }
  }
}).observe(document, {childList: true, subtree: true});
"""


def count_dialogs(page: Page) -> None:
    """From the next navigation on, count the warning and connection-error dialogs shown."""
    page.add_init_script(COUNT_DIALOGS)


def dialogs_shown(page: Page) -> dict[str, Any]:
    """How many warning and connection-error dialogs the page showed so far (and when)."""
    return dict(page.evaluate("window.__interactiveDialogs"))


def indicator(page: Page) -> Locator:
    """The status item (JupyterLab's status bar; Notebook 7's top area)."""
    return page.locator(INDICATOR).first


def seconds_left(page: Page) -> int:
    """The countdown the status item shows now, in seconds; fails on another text."""
    text = indicator(page).inner_text().strip()
    found = COUNTDOWN.match(text)
    assert found, f"the status item does not count down: {text!r}"
    return int(found.group(2)) * 60 + int(found.group(3))


def wait_counting_down(page: Page, task: str) -> int:
    """Wait until the status item names the task and counts down; the seconds it shows."""
    expect(indicator(page)).to_have_text(re.compile(rf"^Task {task} · stops in \d+:\d\d$"))
    return seconds_left(page)


def check_counts_down(page: Page, task: str) -> None:
    """The item names the task and its countdown decreases between two readings."""
    first = wait_counting_down(page, task)
    wait_for(lambda: seconds_left(page) < first, 10, f"the countdown to go below {first} s")


def server_deadline(served: Any) -> float:
    """The idle deadline the server reports now (epoch seconds)."""
    from datetime import datetime

    idle = served.heartbeat()
    assert idle.get("shutdown_deadline"), idle
    return datetime.fromisoformat(idle["shutdown_deadline"]).timestamp()


def final_view(page: Page, message: str) -> Locator:
    """Wait for the final view with message; the view."""
    view = page.locator(FINAL)
    expect(view).to_be_visible(timeout=60_000)
    expect(view.locator(".jp-InteractiveTask-finalMessage")).to_have_text(message)
    return view


def check_no_connection_error(page: Page, served: Any, lab: bool = True) -> None:
    """Once the server is gone and the page's requests fail, no reconnect dialog shows (lab),
    or (Notebook 7, which shows no such dialog even when nothing suppresses it) the final view
    is still the page: nothing replaced it or navigated away."""
    wait_for(lambda: not served.server_alive(), 60, "the server to exit")
    failed: list[str] = []
    page.on("requestfailed", lambda r: failed.append(r.url))
    # JupyterLab polls its kernels and sessions: wait for it to find the server gone.
    end = time.monotonic() + 30
    while not failed and time.monotonic() < end:
        page.wait_for_timeout(200)
    assert failed, "the page made no request after the server exited: nothing was checked"
    page.wait_for_timeout(1000)  # the connection-lost handler runs after the failed request
    if not lab:
        expect(page.locator(FINAL)).to_be_visible(timeout=1000)
        expect(page.locator(".jp-Dialog")).to_have_count(0)
        return
    assert dialogs_shown(page)["connection"] == 0, dialogs_shown(page)
    expect(page.get_by_text(CONNECTION_ERROR)).to_have_count(0)


def cell_sources(path: Path) -> list[str]:
    """The sources of a notebook's cells, as saved on disk."""
    nb = json.loads(path.read_text())
    return [
        "".join(c["source"]) if isinstance(c["source"], list) else c["source"] for c in nb["cells"]
    ]


class Shots:
    """Screenshots for docs/, into $INTERACTIVE_EXT_SCREENSHOTS; nothing when it is unset."""

    def __init__(self) -> None:
        """Read the folder from the environment."""
        folder = os.environ.get(SCREENSHOTS_ENV)
        self.folder = Path(folder).resolve() if folder else None
        if self.folder:
            self.folder.mkdir(parents=True, exist_ok=True)

    def take(self, target: Page | Locator, name: str, **kw: Any) -> None:
        """Save target (a page, or an element with some margin) as NAME.png."""
        if self.folder is None:
            return
        path = str(self.folder / f"{name}.png")
        page = target if isinstance(target, Page) else target.page
        page.add_style_tag(content=".Toastify { display: none !important; }")  # news toasts
        if isinstance(target, Page):
            target.screenshot(path=path, **kw)
            return
        box = target.bounding_box()
        assert box is not None, f"{name}: the element is not visible"
        pad = kw.pop("pad", 8)
        clip = {
            "x": max(0, box["x"] - pad),
            "y": max(0, box["y"] - pad),
            "width": box["width"] + 2 * pad,
            "height": box["height"] + 2 * pad,
        }
        page.screenshot(path=path, clip=clip, **kw)
