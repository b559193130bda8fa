"""The extension's own page at /interactive: the session for a person, without JupyterLab."""

from __future__ import annotations

import json
from typing import Any

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.extension.handler import ExtensionHandlerJinjaMixin, ExtensionHandlerMixin
from tornado import web

from .handlers import AUTH_RESOURCE


class PageHandler(ExtensionHandlerJinjaMixin, ExtensionHandlerMixin, JupyterHandler):
    """GET /interactive: task, state, time left, inputs, Keep working and Resume buttons."""

    auth_resource = AUTH_RESOURCE

    @web.authenticated
    @authorized
    def get(self) -> None:
        """Render the page from the current status (the page refreshes it by itself)."""
        app: Any = self.extensionapp
        status: dict[str, Any] = app.status()
        self.write(
            self.render_template(
                "interactive.html",
                status=status,
                status_json=json.dumps(status),
                api=self.base_url + "interactive/",
            )
        )
