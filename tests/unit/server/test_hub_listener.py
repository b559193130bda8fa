"""server/hub.py as a listener of the lifecycle: when a stop removes the Hub's entry."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from jupyter_server.serverapp import ServerApp

from interactive_ext.records import Reason
from interactive_ext.server.hub import HubService
from interactive_ext.server.lifecycle import Lifecycle, Limits
from interactive_ext.server.states import State

NAME = "interactive-task-abc123"


class FakeHub(ThreadingHTTPServer):
    """A real HTTP server on 127.0.0.1 that records the requests a Hub's API gets."""

    requests: list[str]


class Recorder(BaseHTTPRequestHandler):
    """Answer every request with 204 and record it."""

    def do_DELETE(self) -> None:
        assert isinstance(self.server, FakeHub)
        self.server.requests.append(f"DELETE {self.path}")
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def fake_hub() -> Iterator[FakeHub]:
    """The Hub's API, closed at the end."""
    server = FakeHub(("127.0.0.1", 0), Recorder)
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def registered(fake_hub: FakeHub) -> tuple[Lifecycle, HubService]:
    """A lifecycle and a HubService listening to it, as if it had registered."""
    server = ServerApp(port=8123)
    life = Lifecycle(server, Limits(), "", server.log)
    api = f"http://127.0.0.1:{fake_hub.server_address[1]}/hub/api"
    hub = HubService(server, api_url=api, name=NAME)
    hub.subscribe(life)
    hub.registered = True
    return life, hub


def test_a_signal_removes_the_entry_at_stopping(fake_hub: FakeHub) -> None:
    async def scenario() -> None:
        life, hub = registered(fake_hub)
        life.close()  # a signal: STOPPING with reason KILLED, no save window
        assert life.state is State.STOPPING and life.reason is Reason.KILLED
        await asyncio.wait_for(hub.removed(), 10)

    asyncio.run(scenario())
    assert fake_hub.requests == [f"DELETE /hub/api/services/{NAME}"]


def test_with_a_save_window_the_entry_stays_until_stopped(fake_hub: FakeHub) -> None:
    async def scenario() -> None:
        life, hub = registered(fake_hub)
        life.transition(State.STOPPING, Reason.RESUMED, save_seconds=3.0)
        await asyncio.sleep(0.2)
        assert fake_hub.requests == [], "tabs behind the Hub still save through its route"
        life.transition(State.STOPPED)
        await asyncio.wait_for(hub.removed(), 10)

    asyncio.run(scenario())
    assert fake_hub.requests == [f"DELETE /hub/api/services/{NAME}"]
