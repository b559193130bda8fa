"""InteractiveApp: the Jupyter Server extension that adds resume, heartbeat and idle shutdown."""

from __future__ import annotations

import asyncio
import gc
import inspect
import time
from pathlib import Path
from typing import Any

from jupyter_events import EventLogger
from jupyter_server.extension.application import ExtensionApp, ExtensionAppJinjaMixin
from jupyter_server.serverapp import ServerApp
from traitlets import Bool, Float, List, TraitError, Unicode, default, validate

from ..errors import SessionError
from ..options import DEFAULTS, check_seconds, is_on
from ..protocol import (
    EXTENSION,
    HEARTBEAT,
    OUTCOME,
    PAGE,
    RESUME,
    SAVED,
    STATUS,
    __version__,
    route,
)
from ..records import Reason, TaskContext
from ..session.directory import Session
from . import metrics
from .activity import KERNEL_ACTIONS, KernelActivity, request_hook, terminal_source
from .detached import stop_detached
from .handlers import HeartbeatHandler, ResumeHandler, SavedHandler, StatusHandler
from .hub import HubService
from .idle import IdleWatcher, wall
from .notify import Notices
from .page import PageHandler, without_news
from .save_window import SaveWindow
from .status import State, notebook_path, read_context, summary, task_status, why

LIFECYCLE = "https://events.jupyter.org/interactive_ext/lifecycle/v1"
SCHEMA_PATH = Path(__file__).parent / "event_schemas" / "lifecycle" / "v1.yaml"
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

    # -- set-up -------------------------------------------------------------------

    @property
    def server(self) -> ServerApp:
        """The ServerApp this extension is linked to."""
        assert self.serverapp is not None, "InteractiveApp is not linked to a server"
        return self.serverapp

    @property
    def events(self) -> EventLogger:
        """The server's event logger."""
        assert self.server.event_logger is not None
        return self.server.event_logger

    def initialize_settings(self) -> None:
        """Create the watcher and hook the activity sources into the server."""
        if self.refused is not None:  # jupyter_server loads what it failed to link: refuse
            raise TraitError(
                f"interactive_ext is not loaded: {self.refused}; this server runs without it "
                "(no idle shutdown, no resume)"
            )
        self.state: State = State.WAITING
        self.stop_reason: Reason | None = None
        self.started = time.monotonic()
        self.saves = SaveWindow(self.save_window_seconds, self.log)
        self.session = Session.open(self.session_dir) if self.session_dir else None
        self.watcher = IdleWatcher(
            self.max_idle_seconds,
            on_idle=lambda: self.request_stop(Reason.IDLE),
            on_warning=self._warn,
            warning_before=self.idle_warning_seconds,
            logger=self.log,
        )
        self.hub = HubService(self)  # this server's entry in the site's JupyterHub, if any
        self.notices = Notices(self)
        metrics.bind(self)
        self.kernels = KernelActivity(self.server.kernel_manager, self.watcher, self.log)
        self.watcher.set_reconcile(self.kernels.reconcile)
        # self.settings is copied over the web app's settings after this method returns.
        self.settings["log_function"] = request_hook(self.watcher, self.settings["log_function"])
        if self.hide_news:
            previous = self.settings.get("page_config_hook")
            self.settings["page_config_hook"] = without_news(previous)
        self.watcher.add_pull_source("terminal", terminal_source(self.server.web_app.settings))
        if LIFECYCLE not in self.events.schemas:
            self.events.register_event_schema(SCHEMA_PATH)
        self.events.add_listener(schema_id=KERNEL_ACTIONS, listener=self.kernels.on_kernel_action)

    def initialize_handlers(self) -> None:
        """Register the REST endpoints."""
        self.handlers += [
            (rf"/{route(RESUME)}", ResumeHandler),
            (rf"/{route(HEARTBEAT)}", HeartbeatHandler),
            (rf"/{route(STATUS)}", StatusHandler),
            (rf"/{route(SAVED)}", SavedHandler),
            (rf"/{route(PAGE)}", PageHandler),
        ]

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        """Start the idle clock and the lifetime cap once the server is running; notify."""
        if self.refused is not None:  # not loaded: nothing to start
            return
        if self.watcher.enabled:
            self.watcher.start()
            self.log.info(
                "idle shutdown after %s s without activity (warning %s s before)",
                self.max_idle_seconds,
                self.watcher.warning_before,
            )
        if is_on(self.max_lifetime_seconds):
            loop = asyncio.get_running_loop()
            self._lifetime = loop.call_later(
                self.max_lifetime_seconds, lambda: self.request_stop(Reason.LIFETIME)
            )
            self.log.info("lifetime cap: %s s", self.max_lifetime_seconds)
        self.notices.started()
        self.hub.register()

    async def stop_extension(self) -> None:
        """Stop the timers and the kernel subscriptions; let the last notification go out."""
        if self.refused is not None:  # not loaded: nothing to stop
            return
        if self.state is State.WAITING:  # not stopped by an outcome: a signal or a dead parent
            self.state = State.STOPPING
            self.notices.stopped("killed")
        self.watcher.stop()
        lifetime = getattr(self, "_lifetime", None)
        if lifetime is not None:
            lifetime.cancel()
        stopping = getattr(self, "_stopping", None)
        if stopping is not None and not stopping.done() and stopping is not asyncio.current_task():
            stopping.cancel()  # the server is stopping already (a signal, say)
        self.kernels.close()
        await asyncio.gather(self.hub.unregister(), asyncio.to_thread(self.notices.flush))

    def current_activity(self) -> bool:
        """Tell jupyter_server that a kernel is busy (its own culler then waits too)."""
        return bool(self.watcher.holds)

    # -- the outcome --------------------------------------------------------------

    def request_stop(
        self, reason: Reason, inputs: dict[str, Any] | None = None, via: str = "rest"
    ) -> bool:
        """Record the outcome, emit it and stop the server; False if already stopping."""
        if self.state is not State.WAITING:
            return False
        if self.session is not None:
            try:
                self.session.record_outcome(reason, inputs, via)
            except OSError as e:
                if reason is Reason.RESUMED:  # the task would not know: refuse, keep serving
                    raise SessionError(
                        f"cannot record the resume in {self.session.path}: {e}"
                    ) from e
                self.log.exception("cannot record the outcome %s; stopping anyway", reason.value)
        self.state = State.STOPPING
        self.stop_reason = reason
        self.watcher.stop()
        self.notices.stopped(reason.value, inputs)
        if reason is Reason.RESUMED:
            self.emit(
                "resume",
                f"resume requested ({len(inputs or {})} input overrides)",
                reason=reason.value,
                inputs=sorted(inputs or {}),
            )
        window = self.saves.open()
        self.emit(
            "stopping", f"server stopping: {reason}", reason=reason.value, save_seconds=window
        )
        self.log.info("stopping the server: %s (save window %.1f s)", reason, window)
        grace = self.resume_grace_seconds if reason is Reason.RESUMED else 0.0
        self._stopping = asyncio.ensure_future(self._stop_after_saves(grace))
        return True

    async def _stop_after_saves(self, grace: float) -> None:
        """Let open tabs save (bounded), shut the kernels down during the grace, then stop."""
        started = time.monotonic()
        await self.saves.wait()
        if self.saves.failed and self.session is not None:
            self.record_unsaved(self.saves.failed)
        kernels = asyncio.ensure_future(self._shutdown_kernels())
        # only a task's server is a subreaper: a plain server's children are not ours to stop
        strays = asyncio.get_running_loop().run_in_executor(
            None, stop_detached, self.server, self.log, self.session is not None
        )
        left = grace - (time.monotonic() - started)
        if left > 0:
            await asyncio.sleep(left)
        await kernels
        await strays
        reason = self.stop_reason.value if self.stop_reason else "?"
        self.emit("shutdown", f"server stopping now: {reason}", reason=reason)
        # The process is about to end: what lives now lives until then. Frozen, the ~200k
        # objects of a loaded server are not traversed again by the interpreter's collections
        # at exit, which took 0.2 s on a quiet machine and 1-6 s on a loaded one (the exit
        # promised within 1 s of the idle deadline).
        gc.freeze()
        self.server.stop()

    async def _shutdown_kernels(self) -> None:
        """Shut every kernel down (the server's own cleanup then finds none left)."""
        try:
            done = self.server.kernel_manager.shutdown_all()
            if inspect.isawaitable(done):
                await done
        except Exception:
            self.log.exception("shutting the kernels down failed; the server's cleanup retries")

    def record_unsaved(self, failed: list[dict[str, Any]]) -> None:
        """Add the documents that could not be saved to the outcome, for the task's log."""
        assert self.session is not None
        try:
            outcome = self.session.outcome()
            if outcome is not None:
                outcome.unsaved = failed
                self.session.write_json(OUTCOME, outcome.to_json())
        except (OSError, SessionError):
            self.log.exception("cannot record the unsaved documents")

    def already(self) -> str:
        """Why a second resume is refused (409)."""
        reason = self.stop_reason.value if self.stop_reason else "?"
        return f"the server is already {self.state} ({reason})"

    def _warn(self, seconds_remaining: float) -> None:
        """Emit the idle warning event."""
        self.log.warning(
            "idle: shutting down in %.1f s unless there is activity", seconds_remaining
        )
        self.emit(
            "idle_warning",
            f"idle shutdown in {seconds_remaining:.1f} s",
            seconds_remaining=round(seconds_remaining, 3),
        )
        self.notices.warning(seconds_remaining)

    def emit(self, action: str, msg: str, **data: Any) -> None:
        """Emit one lifecycle event."""
        self.events.emit(schema_id=LIFECYCLE, data={"action": action, "msg": msg, **data})

    # -- reporting ----------------------------------------------------------------

    def task_context(self) -> tuple[TaskContext | None, list[str]]:
        """The task context (None without one) and what is wrong with the session's files."""
        return read_context(self.session, self.log)

    def status(self) -> dict[str, Any]:
        """The task context (if any), the state and the idle state."""
        context, problems = self.task_context()
        lifetime = self.started + self.max_lifetime_seconds if self.max_lifetime_seconds else None
        reason = self.stop_reason.value if self.stop_reason else None
        idle = self.heartbeat()
        return {
            "state": self.state.value,
            "stop_reason": reason,
            "summary": summary(self.state.value, reason, idle),
            "why": why(reason, self.max_idle_seconds),
            "save_deadline": wall(self.saves.deadline) if self.stop_reason else None,
            "started": wall(self.started),
            "session_dir": self.session_dir or None,
            "notebook": context.notebook if context else None,
            "notebook_path": notebook_path(context, self.server.root_dir),
            "task": task_status(context, self.session) if context else None,
            "problems": problems,
            "lifetime_deadline": wall(lifetime),
            "idle": idle,
        }

    def heartbeat(self) -> dict[str, Any]:
        """The idle state (the heartbeat body)."""
        return {**self.watcher.state(), "warning_seconds": self.watcher.warning_before}
