"""InteractiveApp: the Jupyter Server extension that adds resume, heartbeat and idle shutdown."""

# Wiring only: the traits, the parts (the lifecycle and its listeners, the activity sources) and
# the URL table (server/handlers.py's). The session's state lives in server/lifecycle.py.

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from jupyter_server.extension.application import ExtensionApp, ExtensionAppJinjaMixin
from jupyter_server.serverapp import ServerApp
from traitlets import Bool, Float, List, TraitError, Unicode, default, validate

from ..options import DEFAULTS, check_seconds
from ..protocol import EXTENSION, __version__
from .activity import watch_server
from .events import EventLog
from .handlers import default_handlers
from .lifecycle import Lifecycle, Limits
from .metrics import Gauges
from .notices import FLUSH_AT_STOP, Notices, NoticeSettings
from .page import without_news
from .pod import PodAnnotation

TEMPLATES = Path(__file__).parent / "templates"


class InteractiveApp(ExtensionAppJinjaMixin, ExtensionApp):
    """Resume gate, heartbeat and precise idle shutdown for a Jupyter server."""

    name = EXTENSION
    app_name = "Interactive task"
    description = __doc__
    version = __version__
    load_other_extensions = True

    max_idle_seconds = Float(
        DEFAULTS.max_idle_seconds,
        config=True,
        help="""Shut the server down after this many seconds with no activity (default 3600).
        0 disables the idle shutdown. Activity is a busy kernel (held for as long as it runs),
        kernel output from a request, a successful POST/PUT/PATCH/DELETE, terminal input or a
        heartbeat POST; GET polling by frontends is not activity. The shutdown starts within
        1 s after the deadline, never before it.""",
    )
    max_lifetime_seconds = Float(
        DEFAULTS.max_lifetime_seconds,
        config=True,
        help="""Stop the server this many seconds after it started, active or not
        (outcome reason "lifetime"). 0 (the default) means no cap.""",
    )
    idle_warning_seconds = Float(
        60.0,
        config=True,
        help="""Emit the idle_warning event this many seconds before the idle deadline
        (default 60; capped at half of max_idle_seconds, so that each approach to a deadline
        starts quiet and warns once). 0 disables the warning.""",
    )
    session_dir = Unicode(
        "",
        config=True,
        help="""Session directory where the outcome (resumed, idle, lifetime) is recorded and
        the task context is read from. Empty (the default) in standalone use: the outcome is
        then only logged and emitted as an event.""",
    )
    save_window_seconds = Float(
        3.0,
        config=True,
        help="""Once the server is stopping (resume, idle, lifetime), the longest it waits for
        open JupyterLab / Notebook 7 tabs to save their unsaved documents (default 3). Only tabs
        with the frontend extension that asked for the status in the last 20 s are waited for;
        with none, the server stops at once. A tab never holds the server past this window.
        0 disables the wait.""",
    )
    resume_grace_seconds = Float(
        0.2,
        config=True,
        help="""After answering a resume, seconds to let requests in flight finish before the
        server stops listening (default 0.2), so a concurrent caller gets 409, not a reset.""",
    )

    notify = List(
        Unicode(),
        default_value=list(DEFAULTS.notify),
        config=True,
        help="""Apprise URLs (slack://..., ntfy://..., mailto://..., json://...) notified when
        the session waits, at the idle warning and at the stop; $INTERACTIVE_EXT_NOTIFY adds
        more. Set it in a cluster's Jupyter config for every session; a task's own `notify`
        replaces it. Needs the `notify` extra (Apprise).""",
    )
    notify_include_token = Bool(
        DEFAULTS.notify_include_token,
        config=True,
        help="""Put the token in the notifications' URL. Off by default: the message says
        where the token is (the task's log, `jupyter interactive-task list` on the node).""",
    )
    notify_timeout_seconds = Float(
        10.0,
        config=True,
        help="""The longest one notification to one target may take (sent in the background:
        the server and its idle clock never wait for it).""",
    )
    hide_news = Bool(
        False,
        config=True,
        help="""Turn off JupyterLab's and Notebook 7's news and update notifications (the "get
        notified about official Jupyter news?" prompt) in this server's pages. The task wrapper
        sets it for a task's server, where a person is debugging; a plain `jupyter lab` keeps
        them (default False).""",
    )

    @validate(
        "notify_timeout_seconds",
        "max_idle_seconds",
        "max_lifetime_seconds",
        "idle_warning_seconds",
        "save_window_seconds",
    )
    def _non_negative(self, proposal: Any) -> float:
        try:
            return check_seconds(proposal["trait"].name, proposal["value"])
        except (TypeError, ValueError) as e:
            raise TraitError(str(e)) from None

    refused: TraitError | None = None  # the value jupyter_server refused while linking

    def _link_jupyter_server_extension(self, serverapp: ServerApp) -> None:
        """Link to the server; a refused value is kept, for the load to refuse too."""
        try:
            super()._link_jupyter_server_extension(serverapp)
        except TraitError as e:
            self.refused = e
            raise

    @validate("session_dir")
    def _existing_dir(self, proposal: Any) -> str:
        value = proposal["value"]
        if value and not Path(value).is_dir():
            raise TraitError(
                f"session_dir {value!r} is not a directory; create it or leave it empty"
            )
        return value

    @default("template_paths")
    def _template_paths(self) -> list[str]:
        return [str(TEMPLATES)]

    # -- wiring -----------------------------------------------------------------------

    def initialize_settings(self) -> None:
        """Build the lifecycle and its listeners; hook the activity sources into the server."""
        if self.refused is not None:  # jupyter_server loads what it failed to link: refuse
            raise TraitError(
                f"interactive_ext is not loaded: {self.refused}; this server runs without it "
                "(no idle shutdown, no resume)"
            )
        server = self.serverapp
        assert server is not None and server.event_logger is not None
        limits = Limits(
            *(self.max_idle_seconds, self.max_lifetime_seconds, self.idle_warning_seconds),
            *(self.save_window_seconds, self.resume_grace_seconds),
        )
        self.lifecycle = Lifecycle(server, limits, self.session_dir, self.log)
        self.watcher = watcher = self.lifecycle.watcher
        notify = NoticeSettings(
            tuple(self.notify), self.notify_timeout_seconds, self.notify_include_token
        )
        self.notices = Notices(notify, server, self.lifecycle.session, watcher, self.log)
        self.pod = PodAnnotation(self.log)
        for listener in (self.pod, self.notices, EventLog(server.event_logger), Gauges(watcher)):
            listener.subscribe(self.lifecycle)
        self.kernels = watch_server(server, self.settings, watcher, self.log)
        if self.hide_news:
            self.settings["page_config_hook"] = without_news(self.settings.get("page_config_hook"))

    def initialize_handlers(self) -> None:
        """Register the REST endpoints."""
        self.handlers.extend(default_handlers)

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        """The server runs: the session waits (the idle clock and the lifetime cap start)."""
        if self.refused is None:  # not loaded: nothing to start
            self.lifecycle.start()

    async def stop_extension(self) -> None:
        """Stop the timers and the kernel subscriptions; let the last notification go out."""
        if self.refused is not None:  # not loaded: nothing to stop
            return
        self.lifecycle.close()
        self.kernels.close()
        await asyncio.to_thread(self.pod.flush, FLUSH_AT_STOP)
        await asyncio.to_thread(self.notices.flush)

    def current_activity(self) -> bool:
        """Tell jupyter_server that a kernel is busy (its own culler then waits too)."""
        return bool(self.watcher.holds)
