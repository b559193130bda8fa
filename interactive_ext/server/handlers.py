"""Thin REST handlers: parse, authorize, call the lifecycle (or the idle watcher), answer JSON.

The URL table is at the bottom (`default_handlers`), built from protocol.py's routes.
"""

from __future__ import annotations

import json
from typing import Any

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado import web

from ..errors import InputsError, SessionError
from ..protocol import AUTH_RESOURCE, HEARTBEAT, PAGE, RESUME, SAVED, STATUS, route
from ..records import Reason
from ..session.overrides import MAX_MESSAGE, clip, parse_resume, parse_saved_body
from .lifecycle import Lifecycle
from .notices import Notices
from .page import PageHandler
from .status import changed_files

NO_TOKEN = (
    "missing or wrong token: send the header 'Authorization: token TOKEN' (the token is in the "
    "URL the task printed, and in its ready file)"
)

NOT_STOPPING = (
    "the server is not stopping: a save report is taken only once a stop began (resume, idle, "
    "lifetime) and the status says so; nothing was recorded"
)
NOT_EXPECTED = (
    "client {} did not poll the status before the stop, so its report is not waited for; "
    "nothing was recorded"
)


class InteractiveHandler(ExtensionHandlerMixin, APIHandler):
    """Base of the extension's handlers: JSON answers, authorized for AUTH_RESOURCE."""

    auth_resource = AUTH_RESOURCE

    @property
    def lifecycle(self) -> Lifecycle:
        """The session's lifecycle (the InteractiveApp's)."""
        app: Any = self.extensionapp
        lifecycle: Lifecycle = app.lifecycle
        return lifecycle

    @property
    def notices(self) -> Notices:
        """The session's notifications (the InteractiveApp's)."""
        app: Any = self.extensionapp
        notices: Notices = app.notices
        return notices

    def check_xsrf_cookie(self) -> None:
        """No token and no login: say so (403) before jupyter_server asks for an _xsrf field."""
        if hasattr(self, "_jupyter_current_user") and self.current_user is None:
            raise web.HTTPError(403, NO_TOKEN)
        super().check_xsrf_cookie()

    def get_login_url(self) -> str:
        """A GET without a token: the same 403 as a POST (APIHandler's says only "Forbidden")."""
        if not self.current_user:
            raise web.HTTPError(403, NO_TOKEN)
        return str(super().get_login_url())

    def reply(self, model: dict[str, Any], status: int = 200) -> None:
        """Answer with a JSON body."""
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(model))


class ResumeHandler(InteractiveHandler):
    """POST /interactive/resume: record the outcome and stop the server."""

    @web.authenticated
    @authorized
    def post(self) -> None:
        """Resume the task, optionally with input overrides {"inputs": {...}}."""
        lifecycle = self.lifecycle
        if not lifecycle.open:
            raise web.HTTPError(409, lifecycle.already())
        context, _ = lifecycle.context()  # a broken context: no name checks, still resumable
        try:
            inputs, via = parse_resume(self.request.body, context)
        except InputsError as e:
            raise web.HTTPError(400, clip(str(e), MAX_MESSAGE)) from None
        changes = changed_files(lifecycle.session)
        try:
            stopping = lifecycle.stop(Reason.RESUMED, inputs, via)
        except SessionError as e:
            self.log.error("resume refused: %s", e)
            raise web.HTTPError(500, str(e)) from None
        if not stopping:
            raise web.HTTPError(409, lifecycle.already())
        self.reply({"status": "resuming", "inputs": sorted(inputs), "changes": changes}, 202)


class HeartbeatHandler(InteractiveHandler):
    """GET: the idle state (not activity). POST: a person is here (activity)."""

    @web.authenticated
    @authorized
    def get(self) -> None:
        """Report the idle state without counting as activity."""
        self.reply(self.lifecycle.heartbeat())

    @web.authenticated
    @authorized
    def post(self) -> None:
        """Count as activity (a keep-alive) and report the idle state."""
        self.lifecycle.watcher.touch("heartbeat")
        self.reply(self.lifecycle.heartbeat())


class StatusHandler(InteractiveHandler):
    """GET /interactive/status: the task context, the state and the idle state."""

    @web.authenticated
    @authorized
    def get(self) -> None:
        """Report the status; ?client=ID marks a frontend that saves before a stop."""
        client = self.get_argument("client", "")
        if client:
            self.lifecycle.saves.seen(client[:100])
        self.reply(self.lifecycle.status())
        self.notices.answered()  # the first answer out: the waiting notification


class SavedHandler(InteractiveHandler):
    """POST /interactive/saved: a frontend saved its documents for a stopping server."""

    @web.authenticated
    @authorized
    def post(self) -> None:
        """Acknowledge {"client": ID, "saved": [paths], "failed": [{"path", "error"}]}.

        Taken only while the server is stopping, from a client it waits for (409 otherwise).
        """
        try:
            body = parse_saved_body(self.request.body)
        except InputsError as e:
            raise web.HTTPError(400, clip(str(e), MAX_MESSAGE)) from None
        lifecycle = self.lifecycle
        if not lifecycle.stopping:
            raise web.HTTPError(409, NOT_STOPPING)
        if not lifecycle.saves.expects(body["client"]):
            raise web.HTTPError(409, NOT_EXPECTED.format(clip(body["client"])))
        lifecycle.saves.ack(body["client"], body["saved"], body["failed"])
        self.reply({"state": lifecycle.state.value})


default_handlers = [
    (rf"/{route(RESUME)}", ResumeHandler),
    (rf"/{route(HEARTBEAT)}", HeartbeatHandler),
    (rf"/{route(STATUS)}", StatusHandler),
    (rf"/{route(SAVED)}", SavedHandler),
    (rf"/{route(PAGE)}", PageHandler),
]
"""The extension's URL table (under the server's base URL)."""
