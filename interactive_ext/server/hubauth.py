"""The Hub's login for a session's server: JupyterHub's own auth for jupyter_server 2.

JupyterHub's `JupyterHubIdentityProvider` (HubOAuth: the Hub's OAuth, its cookie, its XSRF) and
`JupyterHubAuthorizer` (the `access:services` scope), narrowed to the session's users and groups;
the session's own token keeps working for the CLI, REST clients and the direct URL.
Imported by the server child only when a Hub is configured (the launcher names these classes).
"""

from __future__ import annotations

import inspect
from typing import Any

from jupyter_server.auth.identity import IdentityProvider, User
from jupyterhub.singleuser.extension import (
    JupyterHubAuthorizer,
    JupyterHubIdentityProvider,
    JupyterHubUser,
)
from tornado.web import HTTPError, RequestHandler
from traitlets import Set, Unicode


class HubIdentityProvider(JupyterHubIdentityProvider):
    """The session's token first, else the Hub's login for the allowed users and groups."""

    session_token = Unicode(
        "",
        config=True,
        help="""The session's own token: the CLI, REST clients and the direct URL use it, as
        without a Hub. Set by the launcher (the task's token).""",
    )
    hub_users = Set(
        Unicode(),
        config=True,
        help="""Hub users allowed in (hub_users; by default the owner of the Hub token, known
        once the session registered).""",
    )
    hub_groups = Set(Unicode(), config=True, help="Hub groups whose members are allowed in.")

    @property
    def token(self) -> str:  # type: ignore[override]
        """The session's token (JupyterHub's provider would give the service's)."""
        return self.session_token

    def allows(self, model: dict[str, Any]) -> bool:
        """Whether a Hub user is one of the named users or in one of the named groups."""
        return model.get("name") in self.hub_users or bool(
            self.hub_groups & set(model.get("groups") or ())
        )

    async def get_user(self, handler: RequestHandler) -> User | None:  # type: ignore[override]
        """The session's token or login cookie, else the Hub's allowed user; others get 403."""
        mine = IdentityProvider.get_user(self, handler)
        user = await mine if inspect.isawaitable(mine) else mine
        if user is not None:
            return user
        user = await super().get_user(handler)
        if not isinstance(user, JupyterHubUser) or self.allows(user.hub_user):
            return user
        name = user.hub_user.get("name")
        self.log.warning("Hub user %s is not allowed in (hub_users, hub_groups)", name)

        def forbid(*args: Any, **kwargs: Any) -> None:
            raise HTTPError(403, f"user {name} is not allowed in this session")

        handler.redirect = forbid  # type: ignore[method-assign]
        handler._jupyterhub_user = None  # type: ignore[attr-defined]
        return None

    def page_config_hook(self, handler: Any, page_config: dict[str, Any]) -> dict[str, Any]:
        """The Hub's page config (its token for the frontend) for a Hub user only."""
        if isinstance(handler.current_user, JupyterHubUser):
            return super().page_config_hook(handler, page_config)  # type: ignore[no-any-return]
        return page_config


class HubAuthorizer(JupyterHubAuthorizer):
    """The Hub's scope check for a Hub user; the session's token may do everything."""

    def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        """JupyterHub's check (access:services) for a Hub user, True for the token's."""
        if isinstance(user, JupyterHubUser):
            return bool(super().is_authorized(handler, user, action, resource))
        return True
