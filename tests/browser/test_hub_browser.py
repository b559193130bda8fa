"""A waiting session joins a real JupyterHub: registered, logged into, refused, removed.

One Hub for the module (harness/hub.py: JupyterHub from PyPI, configurable-http-proxy from
npm, installed once into a cache folder), on 127.0.0.1 with the DummyAuthenticator: ana owns the
task's token (a role with admin:services) and is allowed in; ben is in the `lab` group, which the
Hub lets reach services (access:services), but the session names only ana; cy may reach no
service.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from harness import Receiver, free_port, run_cli, wait_for
from harness.hub import HUB_TOKEN, PASSWORD, Hub, running_hub

from .conftest import TaskSession
from .session_ui import LATE, RESUME_FORM, final_view, indicator
from .ui import run_cell, wait_notebook_ready

RESUMED = "Task resumed: this server has stopped; the task runs in its own process"
TASK = """
def task(x: int = 1) -> dict:
    \"\"\"A task that waits in the Hub.\"\"\"
    return {"x": x}
"""


def wait_joined(hub: Hub, session: TaskSession) -> str:
    """The session's service name, once the Hub has it and the proxy routes it."""
    name = session.ready["base_url"].strip("/").split("/")[-1]
    wait_for(lambda: hub.service(name) == 200, 30, f"{name} in the Hub\n{session.log()}")
    wait_for(lambda: hub.routed(name), 10, f"{name} in the proxy's routes")
    return name


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    """One JupyterHub for the module's cases, stopped with its proxy at the end."""
    with running_hub(tmp_path_factory.mktemp("hub")) as running:
        yield running


@pytest.fixture
def hub_env(monkeypatch: pytest.MonkeyPatch, hub: Hub) -> Hub:
    """The task's environment as a site's admin sets it: the Hub's token and public URL."""
    for name, value in hub.task_env().items():
        monkeypatch.setenv(name, value)
    return hub


def start_in_hub(
    start_task, tmp_path: Path, hub: Hub, max_idle: float = 120.0, *extra: str
) -> tuple[TaskSession, str]:
    """A task session that joins the Hub, for ana only; its service's name once routed."""
    source = tmp_path / "waits.py"
    source.write_text(TASK)
    flags = (f"--hub={hub.api}", "--hub-users=ana", *extra)
    session = start_task(f"{source}:task", max_idle=max_idle, extra=flags)
    return session, wait_joined(hub, session)


@dataclass
class ThroughHub:
    """The session as the browser reaches it, through the Hub's proxy (no token in the URLs);
    the test's own checks go to the server directly, with the token."""

    session: TaskSession
    hub: Hub
    name: str

    def url(self, path: str) -> str:
        """A page of the session through the Hub."""
        return f"{self.hub.public}services/{self.name}/{path.lstrip('/')}"

    def request(self, method: str, path: str, **kw: Any) -> Any:
        """One request to the server itself (its base_url is the service's prefix)."""
        return self.session.request(method, path, **kw)


def log_in(page: Page, hub: Hub, user: str) -> None:
    """Log into the Hub as user (the DummyAuthenticator's form)."""
    page.goto(f"{hub.public}hub/login")
    page.locator("#username_input").fill(user)
    page.locator("#password_input").fill(PASSWORD)
    page.locator("#login_submit").click()
    page.wait_for_url("**/hub/home")


def test_the_allowed_user_opens_it_from_the_hub_runs_a_cell_and_resumes(
    page: Page, start_task, tmp_path: Path, hub_env: Hub, receiver: Receiver
) -> None:
    hub = hub_env
    session, name = start_in_hub(start_task, tmp_path, hub, 120.0, f"--notify={receiver.url}")
    link = f"{hub.public}services/{name}/lab/tree/"
    assert f"for task task: {link}" in session.log(), session.log()  # the Hub's link first
    body = receiver.wait("is waiting")[1]["message"]
    assert body.index(f"Open through JupyterHub: {link}") < body.index("Open: "), body
    through = ThroughHub(session, hub, name)
    log_in(page, hub, "ana")
    page.get_by_role("button", name="Services").or_(page.get_by_text("Services")).first.click()
    page.get_by_role("link", name=name).click()  # no token, no confirmation page
    assert session.notebook
    page.wait_for_url(f"**/services/{name}/lab/tree/{session.notebook}")  # the starter notebook
    assert "token=" not in page.url, page.url
    wait_notebook_ready(page, through, session.notebook)
    run_cell(page, 1)
    for path in ("interactive", "interactive/status", "metrics"):  # the page, REST, /metrics
        answer = page.request.get(through.url(path))
        assert answer.status == 200, (path, answer.status, answer.text()[:200])
    indicator(page).click()  # the Resume dialog
    form = page.locator(RESUME_FORM)
    form.get_by_label("x").fill("5")
    form.get_by_role("button", name="Resume…").click()
    page.locator(".jp-Dialog-content", has_text="Resume task task").get_by_role(
        "button", name="Resume", exact=True
    ).click()
    final_view(page, RESUMED)
    assert session.proc.wait(60) == 0, session.log()
    assert '{"x": 5}' in session.log(), session.log()
    hub.wait_gone(name)


def test_others_are_refused_and_a_killed_session_is_removed_by_list_hub(
    browser: Browser, start_task, tmp_path: Path, hub_env: Hub
) -> None:
    session, name = start_in_hub(start_task, tmp_path, hub_env)
    hub = hub_env
    for user, refused_by in (("ben", "is not allowed in this session"), ("cy", "403")):
        context = browser.new_context()
        try:
            page = context.new_page()
            log_in(page, hub, user)
            answer = page.goto(f"{hub.public}services/{name}/lab")
            assert answer is not None and answer.status == 403, (user, answer)
            expect(page.locator("body")).to_contain_text(refused_by)
        finally:
            context.close()
    # the token keeps working for REST clients and the CLI
    assert session.request("GET", "/interactive/status").status == 200
    env = {**os.environ, "INTERACTIVE_EXT_HUB": hub.api}
    status = run_cli(env, "status", "--session-dir", session.ready["session_dir"])
    assert status.returncode == 0 and '"waiting"' in status.stdout, status.stderr
    os.kill(session.server_pid, signal.SIGKILL)
    session.proc.wait(60)  # the task sees its server die (exit 4)
    assert hub.service(name) == 200, "a kill -9 leaves the entry: the sweep's case"
    listed = run_cli(env, "list", "--hub")
    assert listed.returncode == 0, listed.stderr
    assert f"removed {name}" in listed.stderr, listed.stderr
    hub.wait_gone(name)


def test_the_idle_stop_is_on_time_with_a_tab_open_through_the_hub(
    page: Page, start_task, tmp_path: Path, hub_env: Hub
) -> None:
    hub, idle = hub_env, 15.0  # from the start: the Hub's entry, its route and Lab's load
    log_in(page, hub, "ana")
    session, name = start_in_hub(start_task, tmp_path, hub, max_idle=idle)
    through = ThroughHub(session, hub, name)
    page.goto(through.url(f"lab/tree/{session.notebook}"))
    wait_notebook_ready(page, through, session.notebook or "")
    since = time.time()
    watched = session.watch_until_exit(idle + 30)
    assert watched.deadline is not None and watched.exit is not None, watched
    assert watched.exit >= watched.deadline, watched
    late = watched.exit - (since + idle)
    assert late <= LATE, f"exited {late:.3f} s after the test's deadline: {watched}"
    assert session.proc.wait(60) == 0, session.log()  # on_idle=resume: the task ran
    hub.wait_gone(name)


@pytest.mark.parametrize("how", ["down", "refusing"])
def test_a_hub_that_is_down_or_refuses_changes_nothing(
    start_task, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hub: Hub, how: str
) -> None:
    if how == "down":
        monkeypatch.setenv("INTERACTIVE_EXT_HUB_TOKEN", HUB_TOKEN)
        url = f"http://127.0.0.1:{free_port()}/hub/api"
    else:  # a token the Hub does not know
        monkeypatch.setenv("INTERACTIVE_EXT_HUB_TOKEN", "not-a-token-of-this-hub")
        url = hub.api
    source = tmp_path / "waits.py"
    source.write_text(TASK)
    session = start_task(f"{source}:task", max_idle=120.0, extra=(f"--hub={url}",))
    server_log = Path(session.ready["session_dir"]) / "server.log"
    warned = "not registered with JupyterHub"
    wait_for(lambda: warned in server_log.read_text(), 20, "the warning in the server's log")
    reply = session.request("POST", "/interactive/resume", body={"inputs": {"x": 2}})
    assert reply.status == 202, reply
    assert server_log.read_text().count(warned) == 1, server_log.read_text()
    assert session.proc.wait(60) == 0, session.log()
    assert '{"x": 2}' in session.log(), session.log()
