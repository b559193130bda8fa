"""The waiting session as a service of the site's JupyterHub: added once the server answers,
removed at its stop, whatever the stop; a Hub that is down or refuses is one warning.

A listener of the lifecycle: WAITING registers (in the background); a stop removes the entry
once no tab needs the Hub's route any more: on STOPPED after a save window (open tabs behind the
Hub save through it), on STOPPING without one (a signal's KILLED has none). The server's
`stop_extension` awaits the removal (`removed()`), bounded, next to the notices' flush.
"""

from __future__ import annotations

import asyncio
import os
import socket
from typing import Any

from jupyter_server.serverapp import ServerApp
from traitlets import List, Unicode
from traitlets.config import LoggingConfigurable

from ..protocol import __version__
from ..session.hub import MARK, TIMEOUT, Hub, HubError, node_address
from .hubauth import HubIdentityProvider
from .lifecycle import Lifecycle, Transition
from .states import State

START_AFTER = 1.0
"""Seconds after the server is up before the registration starts: importing JupyterHub's auth
holds the GIL for 0.5-1 s, which would delay the answer to the task's readiness poll."""

GOES_ON = "the session goes on without the Hub (the token and the direct URL work as always)"


class HubService(LoggingConfigurable):
    """This server's entry in a JupyterHub: registered on WAITING, removed on any stop."""

    api_url = Unicode(
        "",
        config=True,
        help="""The JupyterHub API URL (http://HUB:8081/hub/api) to register with as the
        external service `name`. Empty (the default): no Hub. The launcher sets it from the
        task's `hub` option or $INTERACTIVE_EXT_HUB.""",
    )
    api_token = Unicode(
        "",
        config=True,
        help="""The token that adds and removes the Hub's services (scope admin:services, and
        list:services/read:services for the sweep of dead entries). Default: none.""",
    )
    name = Unicode("", config=True, help="The service's name: interactive-<task>-<short id>.")
    service_token = Unicode(
        "",
        config=True,
        help="""The service's own token, registered with it: the Hub's login (HubOAuth)
        completes with it. Random per session, set by the launcher.""",
    )
    users = List(
        Unicode(),
        config=True,
        help="""Hub users allowed in (hub_users). With no users and no groups (the default),
        the user who owns api_token.""",
    )
    groups = List(Unicode(), config=True, help="Hub groups whose members are allowed in.")
    task = Unicode("", config=True, help="The task's name, in the service's info.")

    registered = False
    started = False  # the registration's thread runs (before: a stop cancels it)
    _task: asyncio.Future[None] | None = None
    _removal: asyncio.Future[None] | None = None

    def __init__(self, server: ServerApp, **kwargs: Any) -> None:
        """The entry of server (not registered yet); configured as c.HubService.<name>."""
        super().__init__(parent=server, **kwargs)
        self.server = server
        self.hub = Hub(self.api_url, self.api_token) if self.api_url and self.name else None

    def subscribe(self, lifecycle: Lifecycle) -> None:
        """Listen to WAITING (register), STOPPING and STOPPED (remove)."""
        lifecycle.on(State.WAITING, self.register)
        lifecycle.on(State.STOPPING, self.stopping)
        lifecycle.on(State.STOPPED, self.stopped)

    def web_settings(self) -> dict[str, Any]:
        """The web app's settings for the Hub's login, as JupyterHub's own extension sets them:
        its page config (the Hub's token for the frontend), tornado's early XSRF check off
        (jupyter_server's, or the Hub's for a Hub user, still applies)."""
        provider = self.server.identity_provider
        if self.hub is None or not isinstance(provider, HubIdentityProvider):
            return {}
        return {"xsrf_cookies": False, "page_config_hook": provider.page_config_hook}

    def spec(self) -> dict[str, Any]:
        """The service as the Hub takes it: where its proxy reaches it, no consent page."""
        assert self.hub is not None
        server = self.server
        host = node_address(server.ip, self.hub)
        return {
            "url": f"http://{f'[{host}]' if ':' in host else host}:{server.port}",
            "api_token": self.service_token,
            "oauth_no_confirm": True,
            "display": True,
            "info": {
                MARK: __version__,
                "task": self.task,
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "users": list(self.users),
                "groups": list(self.groups),
            },
        }

    @property
    def pending(self) -> bool:
        """Whether the registration is under way (or about to start)."""
        return self._task is not None and not self._task.done()

    def register(self, change: Transition) -> None:
        """Register in the background, START_AFTER the server is up: nothing waits for the Hub."""
        if self.hub is not None and self._task is None:
            self._task = asyncio.ensure_future(self._register_later())

    async def _register_later(self) -> None:
        """Let the task's readiness poll have its answer first, then register in a thread."""
        await asyncio.sleep(START_AFTER)
        self.started = True
        await asyncio.to_thread(self._register)

    def _register(self) -> None:
        """Load JupyterHub's auth, sweep dead entries, learn the token's owner if no one is
        named, add the service; a Hub that is down or refuses is one warning."""
        assert self.hub is not None
        provider = self.server.identity_provider
        login = provider if isinstance(provider, HubIdentityProvider) else None
        if login is not None:
            login.hub  # noqa: B018  the import (0.5-1 s), before the Hub's first request
        try:
            self.hub.sweep(keep=self.name)
            if not self.users and not self.groups:
                self.users = self.owner()
                if login is not None:
                    login.hub_users = set(self.users)
            self.hub.add(self.name, self.spec())
        except HubError as e:
            self.log.warning("not registered with JupyterHub: %s; %s", e, GOES_ON)
            return
        self.registered = True
        self.log.info(
            "registered with JupyterHub as %s: %s (users %s, groups %s)",
            self.name,
            self.link(),
            ",".join(self.users) or "-",
            ",".join(self.groups) or "-",
        )

    def owner(self) -> list[str]:
        """The user who owns the Hub token, when no user or group is named; else no one."""
        assert self.hub is not None
        owner = self.hub.owner()
        if owner is None:
            self.log.warning("the Hub token is not a user's: set hub_users or hub_groups")
        return [owner] if owner else []

    def link(self, path: str = "") -> str:
        """The page at path through the Hub (its login, no token); '' without a Hub."""
        if self.hub is None:
            return ""
        return self.hub.link(self.name, path)

    def stopping(self, change: Transition) -> None:
        """A stop: remove the entry now, unless open tabs save through the Hub's route first."""
        if change.save_seconds <= 0:
            self.stopped(change)

    def stopped(self, change: Transition) -> None:
        """The tabs saved (or none had to): remove the entry in the background."""
        if self._removal is None and self.hub is not None:
            self._removal = asyncio.ensure_future(self.unregister())

    async def removed(self) -> None:
        """Wait for the removal (started now if no stop started it): the process exits next."""
        if self.hub is None:
            return
        if self._removal is None:
            self._removal = asyncio.ensure_future(self.unregister())
        await self._removal

    async def unregister(self) -> None:
        """Remove the service (bounded; a registration under way finishes first)."""
        if self._task is not None and not self.started:
            self._task.cancel()  # stopped before the registration began: nothing to remove
        elif self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), TIMEOUT)
            except asyncio.TimeoutError:
                self.log.warning("the JupyterHub registration of %s still runs", self.name)
        if not self.registered or self.hub is None:
            return
        self.registered = False
        try:
            await asyncio.to_thread(self.hub.remove, self.name)
        except HubError as e:
            self.log.warning(
                "the JupyterHub keeps %s: %s (the next session removes it)", self.name, e
            )
        else:
            self.log.info("removed from JupyterHub: %s", self.name)
