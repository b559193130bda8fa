"""The idle clock at /metrics of a running server agrees with GET /interactive/status."""

from __future__ import annotations

import re
import time
from typing import Any

from harness import wait_for


def scrape(server: Any) -> dict[str, float]:
    """GET /metrics: our gauges by name (with their labels)."""
    r = server.request("GET", "/metrics")
    assert r.status == 200, r
    values = {}
    for line in r.body.splitlines():
        m = re.match(r"(interactive_ext_[a-z_]+(?:\{[^}]*\})?) (\S+)$", line)
        if m:
            values[m.group(1)] = float(m.group(2))
    return values


def idle(server: Any) -> dict[str, Any]:
    """GET /interactive/status's idle part."""
    r = server.request("GET", "/interactive/status")
    assert r.status == 200, r
    return r.body["idle"]  # type: ignore[no-any-return]


def test_the_idle_gauges_agree_with_the_status_and_a_scrape_is_not_activity(start_server):
    server = start_server("--InteractiveApp.max_idle_seconds=10")
    before = idle(server)
    for _ in range(3):  # scraping is a GET: the idle clock does not move
        t0 = time.monotonic()
        metrics = scrape(server)
        status = idle(server)
        elapsed = time.monotonic() - t0
        left = metrics["interactive_ext_seconds_until_idle_stop"]
        assert 0 <= left - status["seconds_remaining"] <= elapsed + 0.01, (left, status)
    assert status["last_activity"] == before["last_activity"]
    assert status["seconds_remaining"] < before["seconds_remaining"]
    assert metrics['interactive_ext_state{state="waiting"}'] == 1.0
    assert metrics['interactive_ext_state{state="stopping"}'] == 0.0
    assert metrics["interactive_ext_open_holds"] == 0.0
    assert metrics["interactive_ext_max_idle_seconds"] == 10.0
    assert metrics["interactive_ext_idle_warnings_sent"] == 0.0
    wall = metrics["interactive_ext_last_activity_timestamp_seconds"]
    assert abs(wall + 10 - (time.time() + left)) < 1.0  # the deadline, as Unix time
    # the warning comes at max_idle/2 before the deadline (60 s capped at half of 10 s)
    wait_for(lambda: idle(server)["seconds_remaining"] < 4.5, 15, "the warning's time")
    warned = wait_for(
        lambda: scrape(server)["interactive_ext_idle_warnings_sent"] == 1.0, 5, "the warning"
    )
    assert warned
