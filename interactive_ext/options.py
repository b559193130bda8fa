"""The parameters of @interactive: defaults, help and checks, defined once for every caller."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

from .protocol import ENABLE_ENV, HUB_ENV, PARK_TO_ENV, SAVE_CHANGES_ENV

ON_IDLE = ("fail", "resume")
ON_FAILURE = ("serve", "park")
PAUSE = ("after",)


def is_on(seconds: float) -> bool:
    """Whether a time limit is set: 0 disables it."""
    return seconds > 0


def _amount(name: str, value: Any, unit: str, zero: str) -> float:
    """A number >= 0 of unit (0 means zero); TypeError/ValueError naming name otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of {unit}, not {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0 ({zero}), got {value}")
    return value


def check_seconds(name: str, value: Any) -> float:
    """A number of seconds >= 0 (0 disables the limit); TypeError/ValueError otherwise."""
    return _amount(name, value, "seconds", "0 disables it")


def _megabytes(name: str, value: Any) -> float:
    return _amount(name, value, "MiB", "0 MiB keeps no locals")


def _port(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int (0 picks a free port), not {value!r}")
    if not 0 <= value <= 65535:
        raise ValueError(f"{name} must be in 0..65535 (0 picks a free port), got {value}")
    return value


def _ip(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise TypeError(f"{name} must be a non-empty string like '127.0.0.1', not {value!r}")
    return value


def _base_url(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.startswith("/") or "//" in value or "?" in value:
        raise ValueError(
            f"{name} must be a URL path starting with '/', like '/user/ana/task/', not {value!r}"
        )
    return value if value.endswith("/") else value + "/"


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, not {value!r}")
    return value


def _hook(name: str, value: Any) -> Any:
    if value is not None and not callable(value):
        raise TypeError(f"{name} must be a callable taking no arguments, not {value!r}")
    return value


def _one_of(**meanings: str) -> Callable[[str, Any], str]:
    """A check that a value is one of the names given; its error says what each one means."""

    def check(name: str, value: Any) -> str:
        if value not in meanings:
            said = " or ".join(f"{k!r} ({v})" for k, v in meanings.items())
            raise ValueError(f"{name} must be {said}, not {value!r}")
        return str(value)

    return check


_on_idle = _one_of(fail="raise IdleTimeout", resume="run the task anyway")
_on_failure = _one_of(serve="start Jupyter here", park="park to park_to and end at once")
_after = _one_of(after="start Jupyter after the task succeeded; None: do not pause")


def _pause(name: str, value: Any) -> str | None:
    return None if value is None else _after(name, value)


def _token(name: str, value: Any) -> str | None:
    if value is not None and (not isinstance(value, str) or not value):
        raise TypeError(
            f"{name} must be a non-empty string (None: JUPYTER_TOKEN or random), not {value!r}"
        )
    return value


def _path(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{name} must be a path, not {value!r}")
    return os.fspath(value)


def _destination(name: str, value: Any) -> str | None:
    value = _path(name, value)
    if value and "://" in value and not value.startswith("file://"):
        why = f"{name}={value!r} is a URL (a local folder needs nothing): it needs fsspec"
        require("fsspec", "changes", f"{why} and the filesystem's package such as s3fs or gcsfs")
        _scheme(name, value)
    return value


def _scheme(name: str, url: str) -> None:
    """ValueError when fsspec knows no filesystem for url's scheme, or its package is missing
    (found without importing it: s3fs and friends are slow to import)."""
    import importlib.util

    from fsspec.registry import known_implementations, registry

    scheme = url.split("://", 1)[0].split("::")[-1]
    known = known_implementations.get(scheme)
    if scheme in registry:
        return
    if known is None:
        raise ValueError(
            f"{name}={url!r}: fsspec knows no {scheme}:// file system; use a local folder or a "
            "URL such as s3://bucket/path, gs://bucket/path, memory://path"
        )
    top = str(known.get("class", "")).split(".")[0]
    if top and importlib.util.find_spec(top) is None:
        why = known.get("err") or f"install {top}"
        raise ValueError(f"{name}={url!r}: {why} (pip install {top})")


def _urls(name: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(u, str) and u for u in value):
        raise TypeError(
            f"{name} must be a list of Apprise URLs like ['ntfy://my-topic', "
            f"'slack://T/B/C'], not {value!r}"
        )
    bad = [u for u in value if "://" not in u]
    if bad:
        raise ValueError(
            f"{name}: {bad[0]!r} is not an Apprise URL (SCHEMA://...); "
            "see https://github.com/caronc/apprise/wiki for the schemas"
        )
    if value:
        require_apprise(name)
    return tuple(value)


def require(module: str, extra: str, why: str) -> None:
    """ValueError(why, then the install) when module is not installed (found, not imported)."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise ValueError(f"{why}: pip install 'interactive_ext[{extra}]'")


def require_apprise(name: str) -> None:
    """ValueError in one line when notifications are asked for and Apprise is not installed."""
    require(
        "apprise", "notify", f"{name} sends notifications through Apprise, which is not installed"
    )


def _hub(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        raise ValueError(
            f"{name} must be a JupyterHub API URL like 'http://hub:8081/hub/api', not {value!r}"
        )
    require("jupyterhub", "hub", f"{name}={value!r}: the Hub's login needs jupyterhub")
    return value.rstrip("/")


def _names(name: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise TypeError(f"{name} must be names like 'ana,ben' or ['ana', 'ben'], not {value!r}")
    return tuple(v.strip() for v in value if v.strip())


def option(default: Any, check: Callable[[str, Any], Any], help: str, **cli: Any) -> Any:
    """A dataclass field with its check, its help text and how the CLI spells its flag."""
    return field(default=default, metadata={"check": check, "help": help, "cli": cli})


@dataclass
class Options:
    """The parameters of @interactive; every value is checked on creation."""

    max_idle_seconds: float = option(
        3600.0,
        check_seconds,
        "stop the server after S seconds without activity; 0 disables it",
        type=float,
        metavar="S",
    )
    port: int = option(
        8888, _port, "the server's port; 0 = any free port; a taken port is exit 4", type=int
    )
    ip: str = option(
        "127.0.0.1", _ip, "the address the server binds: one of this machine's, 0.0.0.0 for all"
    )
    base_url: str = option(
        "/",
        _base_url,
        "the server's path prefix behind a proxy or ingress (Jupyter's ServerApp.base_url)",
        metavar="PATH",
    )
    enable: bool = option(
        True, _flag, "start Jupyter; --no-enable just runs the task (INTERACTIVE_EXT_ENABLE=0|1)"
    )
    run_task_first: bool = option(
        False, _flag, "run the task first and start Jupyter only if it raises"
    )
    notebook_dir: str | None = option(
        None,
        _path,
        "where the starter notebook is written (default: the current directory)",
        metavar="DIR",
    )
    pre_execute: Callable[[], Any] | None = option(
        None, _hook, "a function called before the server starts", metavar="MODULE:FUNCTION"
    )
    post_execute: Callable[[], Any] | None = option(
        None,
        _hook,
        "a function called once after the last server round and the resumed task",
        metavar="MODULE:FUNCTION",
    )
    on_idle: str = option(
        "fail",
        _on_idle,
        "on the idle timeout or lifetime cap: fail (exit 3) or resume the task",
        choices=list(ON_IDLE),
    )
    max_lifetime_seconds: float = option(
        0.0,
        check_seconds,
        "stop the server S seconds after it started, active or not; 0 = no cap",
        type=float,
        metavar="S",
    )
    token: str | None = option(
        None,
        _token,
        "the server's token (default: $JUPYTER_TOKEN, or a random one); on a command line it "
        "shows in every user's `ps`: --token-file FILE or $JUPYTER_TOKEN do not",
    )
    ready_file: str | None = option(
        None,
        _path,
        "write the server's url, token, port and pid as JSON to FILE once it answers",
        metavar="FILE",
    )
    pause: str | None = option(
        None,
        _pause,
        "after: run the task first and, when it succeeds, still start Jupyter with "
        "load_result(); a resume runs it again, the idle stop returns the result",
        choices=list(PAUSE),
    )
    capture_budget_mb: float = option(
        2048.0,
        _megabytes,
        "at a failure, keep the locals of the task's frames for load_error()'s traceback, at "
        "most MB MiB written (the innermost frames first; what is left out is named); "
        "0 keeps the frames' locations only",
        type=float,
        metavar="MB",
    )
    capture_library_frames: bool = option(
        False, _flag, "also keep the locals of library frames (stdlib, site-packages) at a failure"
    )
    save_changes_to: str | None = option(
        None,
        _destination,
        "at every resume, save the patch of the changed sources and the input overrides as one "
        "file named after the task and the time, in this folder or fsspec URL (s3://, gs://, "
        f"memory://); default: ${SAVE_CHANGES_ENV}, else only the log has it; a failing "
        "destination is a warning",
        metavar="DIR_OR_URL",
    )
    park_to: str | None = option(
        None,
        _destination,
        "when a session ends without the task's result (a failure, the idle stop, the "
        "lifetime cap, SIGTERM), park its state in a new folder under this folder or fsspec "
        f"URL (s3://, gs://), for `open` on any machine; default: ${PARK_TO_ENV}, else "
        "nothing is parked; a failing destination is a warning",
        metavar="DIR_OR_URL",
    )
    on_failure: str = option(
        "serve",
        _on_failure,
        "when the task fails: serve (start Jupyter here) or park (run the task first; on a "
        "failure park its state to park_to and end at once with the failure's exit code)",
        choices=list(ON_FAILURE),
    )
    park_budget_mb: float = option(
        4096.0,
        _megabytes,
        "at most MB MiB of files parked (the smallest first; what is left out is named in the "
        "manifest and the log); 0 parks the manifest only",
        type=float,
        metavar="MB",
    )
    hub: str | None = option(
        None,
        _hub,
        f"the JupyterHub API URL (http://HUB:8081/hub/api; default: ${HUB_ENV}) the waiting "
        "session registers with as the service interactive-<task>-<id>, reached through the "
        "Hub's login; token: $INTERACTIVE_EXT_HUB_TOKEN, else $JUPYTERHUB_API_TOKEN",
        metavar="URL",
    )
    hub_users: tuple[str, ...] = option(
        (),
        _names,
        "the Hub users allowed in, comma-separated (default: the owner of the Hub token)",
        metavar="A,B",
    )
    hub_groups: tuple[str, ...] = option(
        (), _names, "the Hub groups whose members are allowed in, comma-separated", metavar="G,H"
    )
    notify: tuple[str, ...] = option(
        (),
        _urls,
        "notify URL (an Apprise URL: slack://..., ntfy://..., mailto://..., json://...) when "
        "the session waits, warns and stops; repeat it for several; "
        "$INTERACTIVE_EXT_NOTIFY adds more",
        action="append",
        metavar="URL",
    )
    notify_include_token: bool = option(
        False, _flag, "put the token in the notifications' URL (default: they say where it is)"
    )

    def __post_init__(self) -> None:
        """Check every value; TypeError/ValueError say what is wrong and what is allowed."""
        for f in fields(self):
            setattr(self, f.name, f.metadata["check"](f.name, getattr(self, f.name)))
        if self.on_failure == "park" and not self.park_destination:
            raise ValueError(
                f"on_failure='park' needs park_to (--park-to) or ${PARK_TO_ENV}: where to park"
            )

    @property
    def enabled(self) -> bool:
        """Whether the task is interactive: INTERACTIVE_EXT_ENABLE=0|1 overrides `enable`."""
        value = os.environ.get(ENABLE_ENV, "").strip().lower()
        if not value:
            return self.enable
        if value in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            return value in ("1", "true", "yes", "on")
        raise ValueError(
            f"{ENABLE_ENV}={value!r} is not valid: use 1 (interactive) or 0 (disabled)"
        )

    @property
    def park_destination(self) -> str | None:
        """Where sessions are parked: park_to, else PARK_TO_ENV; None: nowhere."""
        return self.park_to or os.environ.get(PARK_TO_ENV, "").strip() or None

    @property
    def changes_destination(self) -> str | None:
        """Where each resume's patch is saved: save_changes_to, else SAVE_CHANGES_ENV."""
        return self.save_changes_to or os.environ.get(SAVE_CHANGES_ENV, "").strip() or None


DEFAULTS = Options()
"""The default of every option (the server's traits take theirs from here)."""


def option_names() -> list[str]:
    """The names of the options, in order."""
    return [f.name for f in fields(Options)]


def options_from(**options: Any) -> Options:
    """Options from keyword arguments, with a clear error for an unknown name."""
    unknown = sorted(set(options) - set(option_names()))
    if unknown:
        raise TypeError(
            f"unknown option(s) {', '.join(unknown)} for @interactive; "
            f"the options are {', '.join(option_names())}"
        )
    return Options(**options)
