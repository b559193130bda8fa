"""session/hub.py: the service's name, its prefix and link under a Hub's base URL, dead entries."""

from __future__ import annotations

import os
import socket

import pytest

from interactive_ext.session.hub import Hub, dead, names, service_name


def test_service_names_are_what_a_hub_takes() -> None:
    assert service_name("Train.step", "interactive-8x_Q2kz9w") == "interactive-train-step-q2kz9w"
    assert service_name("", "") == "interactive-task-0"
    assert len(service_name("a" * 200, "abcdef")) <= len("interactive-") + 40 + 7


@pytest.mark.parametrize(
    ("api", "prefix", "link"),
    [
        ("http://hub:8081/hub/api", "/services/s/", "http://hub:8081/services/s/lab"),
        (
            "http://hub:8081/jhub/hub/api/",
            "/jhub/services/s/",
            "http://hub:8081/jhub/services/s/lab",
        ),
    ],
)
def test_prefix_and_link_follow_the_hubs_base_url(
    api: str, prefix: str, link: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("JUPYTERHUB_PUBLIC_URL", raising=False)
    hub = Hub.configured(api)
    assert hub is not None
    assert hub.prefix("s") == prefix
    assert hub.link("s", "lab") == link
    monkeypatch.setenv("JUPYTERHUB_PUBLIC_URL", "https://hub.example.org/jhub")
    assert hub.link("s", "lab") == "https://hub.example.org/jhub/services/s/lab"


def test_configured_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INTERACTIVE_EXT_HUB", raising=False)
    assert Hub.configured(None) is None
    monkeypatch.setenv("INTERACTIVE_EXT_HUB", "http://hub:8081/hub/api")
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "fallback")
    monkeypatch.delenv("INTERACTIVE_EXT_HUB_TOKEN", raising=False)
    assert Hub.configured(None) == Hub("http://hub:8081/hub/api", "fallback")
    monkeypatch.setenv("INTERACTIVE_EXT_HUB_TOKEN", "ours")
    assert Hub.configured("http://other/hub/api") == Hub("http://other/hub/api", "ours")
    assert names(" a, ,b ") == ("a", "b")


def test_an_entry_is_dead_when_its_process_or_its_address_is_gone() -> None:
    here = socket.gethostname()
    assert not dead({"info": {"host": here, "pid": os.getpid()}})
    with socket.socket() as s:  # an address nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert dead({"url": f"http://127.0.0.1:{port}", "info": {"host": "elsewhere", "pid": 1}})
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        assert not dead({"url": f"http://127.0.0.1:{s.getsockname()[1]}", "info": {}})
    assert not dead({"url": "", "info": {}})  # nothing to check: not removed
