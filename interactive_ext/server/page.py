"""The pages a person sees: ours at /interactive (without JupyterLab), and JupyterLab's page
config for a task's server (no news prompt)."""

from __future__ import annotations

import functools
import json
import secrets
from collections.abc import Callable
from typing import Any

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.extension.handler import ExtensionHandlerJinjaMixin, ExtensionHandlerMixin
from tornado import web

from ..protocol import AUTH_RESOURCE, PAGE, route


class PageHandler(ExtensionHandlerJinjaMixin, ExtensionHandlerMixin, JupyterHandler):
    """GET /interactive: task, state, time left, inputs, Keep working and Resume buttons."""

    auth_resource = AUTH_RESOURCE

    @functools.cached_property
    def nonce(self) -> str:
        """This answer's script nonce (fresh for each request)."""
        return secrets.token_urlsafe(18)

    @property
    def content_security_policy(self) -> str:
        """Jupyter's policy, and only the page's own script runs (its nonce): no inline
        handler, no script an input string could add."""
        policy: str = super().content_security_policy
        return f"{policy}; script-src 'nonce-{self.nonce}'; object-src 'none'; base-uri 'none'"

    @web.authenticated
    @authorized
    def get(self) -> None:
        """Render the page from the current status (the page refreshes it by itself)."""
        app: Any = self.extensionapp
        status: dict[str, Any] = app.lifecycle.status()
        self.write(
            self.render_template(
                "interactive.html",
                status=status,
                status_json=script_json(status),
                api=f"{self.base_url}{route(PAGE)}/",
                nonce=self.nonce,
                as_json=json.dumps,  # shown as text: the template escapes it for HTML
            )
        )


def script_json(value: Any) -> str:
    """JSON that cannot end the <script> block it sits in, nor break a JS string: <, >, & and
    the line separators U+2028/U+2029 as escapes (the page reads it with textContent)."""
    text = json.dumps(value)
    for char, escape in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escape)
    return text


NEWS_PLUGIN = "@jupyterlab/apputils-extension:announcements"
"""JupyterLab's (and Notebook 7's) plugin that asks "get notified about Jupyter news?"."""

PageConfigHook = Callable[[Any, dict[str, Any]], dict[str, Any]]


def without_news(previous: PageConfigHook | None) -> PageConfigHook:
    """A page_config_hook that turns the news plugin off, after the hook there was (if any)."""

    def hook(handler: Any, page_config: dict[str, Any]) -> dict[str, Any]:
        if previous is not None:
            page_config = previous(handler, page_config)
        disabled = list(page_config.get("disabledExtensions") or [])
        if NEWS_PLUGIN not in disabled:
            page_config["disabledExtensions"] = [*disabled, NEWS_PLUGIN]
        return page_config

    return hook
