"""The page at /interactive (no JupyterLab) prints the server's countdown and Keep working."""

from __future__ import annotations

import re
import time

from playwright.sync_api import Page, expect

COUNTDOWN = re.compile(r"^Jupyter server · stops in (\d\d):(\d\d)$")


def shown(page: Page) -> int:
    """The seconds the page's countdown shows now; fails on another text."""
    text = page.locator("#state").inner_text()
    found = COUNTDOWN.match(text)
    assert found, text
    return int(found.group(1)) * 60 + int(found.group(2))


def test_the_page_counts_down_with_the_server_text(page: Page, start_jupyter) -> None:
    """The page prints `stops in` and idle.countdown, fresh each second; Keep working resets it."""
    server = start_jupyter("lab", max_idle=120.0)
    page.goto(server.url("interactive"))
    expect(page.locator("#state")).to_have_text(COUNTDOWN)
    first = shown(page)
    assert 100 <= first <= 120, first
    deadline = time.monotonic() + 10
    while shown(page) >= first:  # the page reads the status each second
        assert time.monotonic() < deadline, "the page's countdown does not move"
        time.sleep(0.2)
    idle = server.heartbeat()
    assert abs(shown(page) - idle["seconds_remaining"]) <= 2, (shown(page), idle)
    page.get_by_role("button", name="Keep working").click()
    expect(page.locator("#message")).to_have_text("The idle clock starts again from now.")
    assert shown(page) >= 118, page.locator("#state").inner_text()
