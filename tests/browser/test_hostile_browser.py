"""A hostile input string on the /interactive page (issue 27, finding 1), in a real browser.

The task's input is a string that closes the page's script and opens a script of its own, as a
workflow parameter or a file name could: the page shows it as text and runs none of it.
"""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page

HOSTILE = (
    "</script><img src=x onerror=\"window.__pwned='img'\">"
    "<script>window.__pwned='script'</script>\u2028\u2029<!--"
)

TASK = """
def task(name: str = "a", x: int = 1) -> dict:
    return {"name": name, "x": x}
"""


def test_a_hostile_input_string_runs_no_script_on_the_status_page(
    page: Page, start_task, tmp_path: Path
) -> None:
    """Finding 1: the input closes the page's script and plants an <img onerror>, a <script>
    and line separators: none runs, the page's own script does (its countdown), the value is
    shown as text, and the policy allows only the page's script (its nonce)."""
    task = tmp_path / "hostile_task.py"
    task.write_text(TASK)
    session = start_task(f"{task}:task", max_idle=300, kwargs={"name": HOSTILE})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    answer = page.goto(session.url("interactive"))
    assert answer is not None and answer.status == 200
    page.wait_for_load_state("load")
    assert page.evaluate("window.__pwned") is None  # 'img' before the fix
    policy = answer.headers.get("content-security-policy", "")
    assert "script-src 'nonce-" in policy, policy
    # the page's own script ran: it replaced the summary by its own text with a countdown
    page.wait_for_function(
        "document.getElementById('state').textContent.startsWith('Task task')", timeout=30_000
    )
    assert page.evaluate("window.__pwned") is None
    assert page.evaluate("document.querySelectorAll('img').length") == 0
    assert page.evaluate("document.querySelectorAll('script').length") == 3  # ours: data, api, code
    table = page.inner_text("#inputs")
    assert "<img src=x onerror=" in table, table
    assert page.evaluate("window.__pwned") is None
    assert not errors, errors
