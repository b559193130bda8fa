"""A real JupyterHub on 127.0.0.1: JupyterHub from PyPI (the test extra), configurable-http-proxy
from the npm registry, installed once into a cache folder by `chp()`. The tests of sessions that
join a Hub and figure 1d of the benchmarks start it here.

The DummyAuthenticator: ana owns HUB_TOKEN (a role with admin:services, what a session's token
needs to add and remove its service); ana and ben are in the `lab` group, which may reach
services (access:services); cy may reach no service.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .procs import HOST, free_port, kill_tree, wait_for
from .servers import BIN
from .web import http

HUB_TOKEN = "hub-token-of-ana-0123456789"
"""ana's token, with the right to manage the Hub's services (the `sessions` role)."""
PROXY_TOKEN = "proxy-token-0123456789"
PASSWORD = "hub-password"
"""Every user's password (the DummyAuthenticator's)."""
CHP = "configurable-http-proxy@5"
HUB_CONFIG = """
c.JupyterHub.ip = "{host}"
c.JupyterHub.port = {port}
c.JupyterHub.hub_ip = "{host}"
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.api_url = "http://{host}:{proxy_port}"
c.ConfigurableHTTPProxy.auth_token = "{proxy_token}"
c.ConfigurableHTTPProxy.command = ["{chp}"]
c.JupyterHub.db_url = "sqlite:///{folder}/hub.sqlite"
c.JupyterHub.cookie_secret_file = "{folder}/cookie_secret"
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = "{password}"
c.Authenticator.allow_all = True
c.JupyterHub.default_url = "/hub/home"
# the proxy gets a runtime service's route at the next route check: every second for the tests
c.JupyterHub.last_activity_interval = {interval}
# the Hub's own health checks of its services, as often: they must never count as a person
c.JupyterHub.service_check_interval = {interval}
c.JupyterHub.load_groups = {{"lab": ["ana", "ben"]}}
c.JupyterHub.load_roles = [
    {{"name": "sessions", "users": ["ana"],
     "scopes": ["admin:services", "list:services", "read:services"]}},
    {{"name": "lab-services", "groups": ["lab"], "scopes": ["access:services"]}},
]
c.JupyterHub.api_tokens = {{"{token}": "ana"}}
"""
START_TIMEOUT = 60.0
"""Seconds a Hub gets to answer through its proxy (a loaded 2-core machine)."""


def chp(install: bool = True) -> Path:
    """configurable-http-proxy from the npm registry, installed once into a cache folder
    (install=False: FileNotFoundError when it is not there yet)."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    folder = cache / "interactive_ext-tests" / "chp"
    exe = folder / "node_modules" / ".bin" / "configurable-http-proxy"
    if not exe.exists() and not install:
        raise FileNotFoundError(f"configurable-http-proxy is not installed in {folder}")
    if not exe.exists():
        cmd = ["npm", "install", "--prefix", str(folder), "--no-audit", "--no-fund", CHP]
        subprocess.run(cmd, check=True, capture_output=True, timeout=300)
    return exe


@dataclass
class Hub:
    """A running JupyterHub: its public URL (the proxy), its API, the proxy's routes."""

    proc: subprocess.Popen[Any]
    port: int
    hub_port: int
    proxy_port: int
    log_path: Path
    token: str = HUB_TOKEN

    @property
    def public(self) -> str:
        """The proxy's URL: what a person opens."""
        return f"http://{HOST}:{self.port}/"

    @property
    def api(self) -> str:
        """The Hub's API, reached directly (as a compute node reaches it)."""
        return f"http://{HOST}:{self.hub_port}/hub/api"

    def task_env(self) -> dict[str, str]:
        """A task's environment as a site's admin sets it: the Hub's token and public URL."""
        return {"INTERACTIVE_EXT_HUB_TOKEN": self.token, "JUPYTERHUB_PUBLIC_URL": self.public}

    def services(self) -> dict[str, Any]:
        """The Hub's services by name (GET /services)."""
        reply = http("GET", f"{self.api}/services", self.token)
        assert reply.status == 200, reply
        return dict(reply.body or {})

    def service(self, name: str) -> int:
        """The HTTP status of GET /services/NAME in the Hub's API (200: registered)."""
        return http("GET", f"{self.api}/services/{name}", self.token).status

    def routed(self, name: str) -> bool:
        """Whether the proxy's routing table has the service's route."""
        routes = http("GET", f"http://{HOST}:{self.proxy_port}/api/routes", PROXY_TOKEN)
        return f"/services/{name}" in routes.body

    def wait_gone(self, name: str, timeout: float = 10.0) -> None:
        """The service is gone from the Hub's API and from the proxy's routing table."""
        wait_for(lambda: self.service(name) == 404, timeout, f"{name} removed from the Hub")
        wait_for(lambda: not self.routed(name), timeout, f"{name} removed from the proxy's routes")

    def log(self) -> str:
        """What the Hub and its proxy printed."""
        return self.log_path.read_text(errors="replace")

    def answers(self) -> bool:
        """True once the Hub's API answers through its proxy; AssertionError if it exited."""
        assert self.proc.poll() is None, f"the JupyterHub exited:\n{self.log()}"
        try:
            return http("GET", f"{self.public}hub/api/").status == 200
        except OSError:
            return False


@contextlib.contextmanager
def running_hub(folder: Path, interval: int = 1, install: bool = True) -> Iterator[Hub]:
    """A JupyterHub and its proxy on free ports of 127.0.0.1, its files in folder; stopped with
    its proxy at the end. interval: seconds between its route checks and service checks (1:
    a new service's route within a second; a site keeps JupyterHub's 300 and 60). install:
    whether chp() may install the proxy."""
    ports = {"port": free_port(), "hub_port": free_port(), "proxy_port": free_port()}
    proxy = chp(install)
    config = HUB_CONFIG.format(
        **ports, host=HOST, proxy_token=PROXY_TOKEN, chp=proxy, folder=folder, password=PASSWORD,
        token=HUB_TOKEN, interval=interval,
    )  # fmt: skip
    (folder / "jupyterhub_config.py").write_text(config)
    log_path = folder / "hub.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [str(BIN / "jupyterhub"), "-f", str(folder / "jupyterhub_config.py")],
            cwd=folder,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    hub = Hub(proc, ports["port"], ports["hub_port"], ports["proxy_port"], log_path)
    try:
        wait_for(hub.answers, START_TIMEOUT, "the JupyterHub to answer through its proxy")
        yield hub
    finally:
        kill_tree(proc)
