"""The server's config for a session that joins the site's JupyterHub, in one function."""

from __future__ import annotations

import importlib.util
import logging
import secrets
from typing import Any

from ..options import Options
from ..session.hub import Hub, service_name

log = logging.getLogger("interactive_ext")

AUTH = "interactive_ext.server.hubauth"  # imported by the server child only


def hub_config(
    options: Options, task: str, ident: str, token: str, page: str
) -> dict[str, dict[str, Any]]:
    """The server's config to join the Hub: base_url at the service's prefix (its root opens
    page, the Hub's link), JupyterHub's own login (narrowed to hub_users/hub_groups, the token
    kept), the registration; {} for no Hub.

    A Hub without a token, or without jupyterhub installed, is one warning: the session goes on.
    """
    hub = Hub.configured(options.hub)
    if hub is None:
        return {}
    if not hub.token:
        log.warning(
            "hub %s is set but no token is ($INTERACTIVE_EXT_HUB_TOKEN, $JUPYTERHUB_API_TOKEN): "
            "the session does not join the Hub",
            hub.api_url,
        )
        return {}
    if importlib.util.find_spec("jupyterhub") is None:
        log.warning(
            "hub %s is set but jupyterhub is not installed (pip install 'interactive_ext[hub]')"
            ": the session does not join the Hub",
            hub.api_url,
        )
        return {}
    name = service_name(task, ident)
    prefix = hub.prefix(name)
    service_token = secrets.token_hex(24)
    users, groups = list(options.hub_users), list(options.hub_groups)
    return {
        "ServerApp": {
            "base_url": prefix,
            "default_url": f"/{page}",
            "identity_provider_class": f"{AUTH}.HubIdentityProvider",
            "authorizer_class": f"{AUTH}.HubAuthorizer",
        },
        # the token on the subclass only: JupyterHub's provider (a sibling) has no such trait
        "IdentityProvider": {},
        "HubIdentityProvider": {"token": token, "hub_users": users, "hub_groups": groups},
        "HubOAuth": {
            "api_url": hub.api_url,
            "api_token": service_token,
            "base_url": prefix,
            "hub_prefix": hub.hub_prefix,
            "oauth_client_id": f"service-{name}",
            "access_scopes": [f"access:services!service={name}"],
        },
        "HubService": {
            "api_url": hub.api_url,
            "api_token": hub.token,
            "name": name,
            "service_token": service_token,
            "users": users,
            "groups": groups,
            "task": task,
        },
    }
