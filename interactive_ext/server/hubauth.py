"""The Hub's login for a session's server: JupyterHub's own auth for jupyter_server 2.

JupyterHub's `JupyterHubIdentityProvider` (HubOAuth: the Hub's OAuth, its cookie, its XSRF),
its OAuth callback handler and `JupyterHubAuthorizer` (the `access:services` scope) do the work,
narrowed to the session's users and groups; the session's own token (IdentityProvider.token)
keeps working for the CLI, REST clients and the direct URL. JupyterHub's auth is imported when
first needed (the registration imports it in the background): its import takes 0.5-1 s
(sqlalchemy, alembic, aiohttp), which the server's start must not wait for.
"""

from __future__ import annotations

import functools
import inspect
from types import ModuleType
from typing import Any

from jupyter_server.auth.authorizer import Authorizer
from jupyter_server.auth.decorator import allow_unauthenticated
from jupyter_server.auth.identity import IdentityProvider, User
from jupyter_server.base.handlers import JupyterHandler
from tornado.web import HTTPError, RequestHandler
from traitlets import Set, Unicode


@functools.cache
def jupyterhub_auth() -> ModuleType:
    """jupyterhub.singleuser.extension: JupyterHub's auth for jupyter_server 2, imported once."""
    import jupyterhub.singleuser.extension as extension

    return extension


class HubIdentityProvider(IdentityProvider):
    """The session's token or login cookie first, else the Hub's login for the allowed users."""

    hub_users = Set(
        Unicode(),
        config=True,
        help="""Hub users allowed in (hub_users; by default the owner of the Hub token, known
        once the session registered).""",
    )
    hub_groups = Set(Unicode(), config=True, help="Hub groups whose members are allowed in.")
    _hub: Any = None

    @property
    def hub(self) -> Any:
        """JupyterHub's JupyterHubIdentityProvider (HubOAuth from the HubOAuth config)."""
        if self._hub is None:
            self._hub = jupyterhub_auth().JupyterHubIdentityProvider(parent=self, log=self.log)
        return self._hub

    def allows(self, model: dict[str, Any]) -> bool:
        """Whether a Hub user is one of the named users or in one of the named groups."""
        return model.get("name") in self.hub_users or bool(
            self.hub_groups & set(model.get("groups") or ())
        )

    async def get_user(self, handler: RequestHandler) -> User | None:
        """The session's token or cookie, else the Hub's allowed user; others get a 403."""
        mine = super().get_user(handler)
        user = await mine if inspect.isawaitable(mine) else mine
        if user is not None:
            return user
        user = await self.hub.get_user(handler)
        if user is None or self.allows(user.hub_user):
            return user  # type: ignore[no-any-return]
        name = user.hub_user.get("name")
        self.log.warning("Hub user %s is not allowed in (hub_users, hub_groups)", name)

        def forbid(*args: Any, **kwargs: Any) -> None:
            raise HTTPError(403, f"user {name} is not allowed in this session")

        handler.redirect = forbid  # type: ignore[method-assign]
        return None

    def get_handlers(self) -> list[tuple[str, object]]:
        """The token's login and logout pages, and the Hub's OAuth callback."""
        return [*super().get_handlers(), ("/oauth_callback", OAuthCallbackHandler)]

    def page_config_hook(self, handler: Any, page_config: dict[str, Any]) -> dict[str, Any]:
        """The Hub's page config (its token for the frontend) for a Hub user only."""
        if hasattr(handler.current_user, "hub_user"):
            return self.hub.page_config_hook(handler, page_config)  # type: ignore[no-any-return]
        return page_config


class OAuthCallbackHandler(JupyterHandler):
    """The Hub's login coming back: JupyterHub's own callback handler runs the request."""

    @allow_unauthenticated
    async def get(self) -> None:
        """Hand the request to JupyterHubOAuthCallbackHandler (it sets the Hub's cookie)."""
        hub = self.identity_provider.hub  # type: ignore[attr-defined]
        handler = jupyterhub_auth().JupyterHubOAuthCallbackHandler
        real = handler(self.application, self.request, hub_auth=hub.hub_auth)
        self._auto_finish = False  # the real handler answers
        await real._execute(self._transforms)


class HubAuthorizer(Authorizer):
    """JupyterHub's scope check (JupyterHubAuthorizer) for a Hub user; the token may do all."""

    @property
    def hub_auth(self) -> Any:
        """The HubOAuth of the identity provider (what JupyterHubAuthorizer reads)."""
        return self.identity_provider.hub.hub_auth  # type: ignore[attr-defined]

    def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        """JupyterHub's check (access:services) for a Hub user, True for the token's."""
        if hasattr(user, "hub_user"):
            check = jupyterhub_auth().JupyterHubAuthorizer.is_authorized
            return bool(check(self, handler, user, action, resource))
        return True
