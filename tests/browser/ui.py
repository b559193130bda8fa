"""Driving JupyterLab 4 and Notebook 7 as a person does: open, type, run a cell, save."""

from __future__ import annotations

import re
from typing import Any, Protocol
from urllib.parse import quote

from playwright.sync_api import Locator, Page, Response, expect

from harness import wait_for

KERNEL_READY_TIMEOUT = 90.0
RUN_TIMEOUT = 60_000  # ms
EXECUTED = re.compile(r"^\[\d+\]:$")
RUNNING = re.compile(r"^\[\*\]:$")


class Server(Protocol):
    """What the helpers need of a server: the page URLs and authenticated requests."""

    def url(self, path: str) -> str:
        """A page URL with the token."""

    def request(self, method: str, path: str, **kw: Any) -> Any:
        """One authenticated HTTP request."""


def kernel_idle(server: Server, notebook: str) -> bool:
    """True when the notebook's session has a kernel that is idle and has a tab connected."""
    r = server.request("GET", "/api/sessions")
    for session in r.body if r.status == 200 else []:
        kernel = session.get("kernel") or {}
        if (
            session.get("path", "").endswith(notebook)
            and kernel.get("execution_state") == "idle"
            and kernel.get("connections", 0) >= 1
        ):
            return True
    return False


def wait_notebook_ready(page: Page, server: Server, notebook: str) -> None:
    """Wait until the notebook panel is rendered and its kernel is idle, with a tab on it."""
    page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell").first.wait_for(state="visible")
    wait_for(
        lambda: kernel_idle(server, notebook),
        KERNEL_READY_TIMEOUT,
        f"the kernel of {notebook} to be idle with a tab connected",
        interval=0.2,
    )
    expect(page.locator(".jp-NotebookPanel").first).to_be_visible()


def open_lab(page: Page, server: Server, notebook: str | None = None) -> None:
    """Open JupyterLab on notebook (ready: rendered, kernel idle), or on the file browser."""
    _open(page, server, f"lab/tree/{quote(notebook)}" if notebook else "lab", notebook)


def open_notebook7(page: Page, server: Server, notebook: str | None = None) -> None:
    """Open Notebook 7 on notebook (ready: rendered, kernel idle), or on its file tree."""
    _open(page, server, f"notebooks/{quote(notebook)}" if notebook else "tree", notebook)


def _open(page: Page, server: Server, path: str, notebook: str | None) -> None:
    """Go to path; wait for notebook to be ready, or for the file listing without one."""
    page.goto(server.url(path))
    if notebook:
        wait_notebook_ready(page, server, notebook)
    else:
        page.locator(".jp-DirListing-content").first.wait_for(state="visible")


def cell(page: Page, index: int) -> Locator:
    """The index-th cell (0-based, markdown cells included) of the notebook on the page."""
    return page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell").nth(index)


def type_into_cell(page: Page, index: int, text: str) -> None:
    """Replace a code cell's source by typing text, key by key (one line is safest:
    the editor indents and closes brackets as it would for a person)."""
    editor = cell(page, index).locator(".jp-InputArea-editor .cm-content")
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.type(text)
    expect(editor).to_have_text(text)


def run_cell(page: Page, index: int, wait: bool = True) -> None:
    """Run a code cell with Shift+Enter; wait=True waits until it has run, else until it runs."""
    prompt = cell(page, index).locator(".jp-InputArea-prompt")
    before = prompt.inner_text().strip()
    cell(page, index).locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")
    if wait:
        expect(prompt).not_to_have_text(before, timeout=RUN_TIMEOUT)
        expect(prompt).to_have_text(EXECUTED, timeout=RUN_TIMEOUT)
    else:
        expect(prompt).to_have_text(RUNNING, timeout=RUN_TIMEOUT)


def _is_save(response: Response) -> bool:
    """A successful PUT of a document (what a save sends)."""
    return response.request.method == "PUT" and "/api/contents/" in response.url and response.ok


def save(page: Page) -> Response:
    """Save the current document with Ctrl+S; the server's answer to the save."""
    with page.expect_response(_is_save, timeout=RUN_TIMEOUT) as answer:
        page.keyboard.press("Control+s")
    return answer.value
