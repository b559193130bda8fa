"""InteractiveApp: the Jupyter Server extension that adds resume, heartbeat and idle shutdown."""

# Wiring only: the parts (the lifecycle and its listeners, the activity sources) and the URL table
# (server/handlers.py's). The traits are server/config.py's; the state is server/lifecycle.py's.

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from jupyter_server.extension.application import ExtensionApp, ExtensionAppJinjaMixin
from jupyter_server.serverapp import ServerApp
from traitlets import TraitError, default

from ..protocol import EXTENSION, __version__
from .activity import watch_server
from .config import InteractiveConfig
from .events import EventLog
from .handlers import default_handlers
from .lifecycle import Lifecycle, Limits
from .metrics import Gauges
from .notices import FLUSH_AT_STOP, Notices, NoticeSettings
from .page import without_news
from .pod import PodAnnotation

TEMPLATES = Path(__file__).parent / "templates"


class InteractiveApp(ExtensionAppJinjaMixin, ExtensionApp, InteractiveConfig):
    """Resume gate, heartbeat and precise idle shutdown (the traits: InteractiveConfig's)."""

    name = EXTENSION
    app_name = "Interactive task"
    description = __doc__
    version = __version__
    load_other_extensions = True

    refused: TraitError | None = None  # the value jupyter_server refused while linking

    def _link_jupyter_server_extension(self, serverapp: ServerApp) -> None:
        """Link to the server; a refused value is kept, for the load to refuse too."""
        try:
            super()._link_jupyter_server_extension(serverapp)
        except TraitError as e:
            self.refused = e
            raise

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
