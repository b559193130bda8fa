"""The extension's traits, set as `c.InteractiveApp.<name>` (InteractiveApp inherits them)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from traitlets import Bool, Float, List, TraitError, Unicode, validate
from traitlets.config import Configurable

from ..options import DEFAULTS, check_seconds


class InteractiveConfig(Configurable):
    """The idle rule, the lifetime cap, the stop's windows, the notifications, the page."""

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

    @validate("session_dir")
    def _existing_dir(self, proposal: Any) -> str:
        value = proposal["value"]
        if value and not Path(value).is_dir():
            raise TraitError(
                f"session_dir {value!r} is not a directory; create it or leave it empty"
            )
        return value
