"""The session directory: the task's context, inputs, overrides, failure and outcome."""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

SESSION_ENV = "INTERACTIVE_EXT_SESSION"
"""Environment variable that points kernels (and helpers) to the session directory."""

CONTEXT = "context.json"
INPUTS = "inputs.pkl"
SAVED_INPUTS = "saved_inputs.pkl"
ERROR = "error.json"
EXCEPTION = "exception.pkl"
OUTCOME = "outcome.json"
READY = "server.json"


class SessionError(RuntimeError):
    """A session directory is missing, unreadable or not ours."""


def atomic_write(path: Path, data: bytes | Callable[[IO[bytes]], None]) -> None:
    """Write path atomically (a rename), readable by the owner only (0600).

    data is the bytes, or a function that writes them into the open file (so a large pickle
    streams to disk instead of being built in memory first). No fsync: readers are processes
    of this machine, and a session does not outlive a crash of the machine anyway.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            if callable(data):
                data(f)
            else:
                f.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@dataclass
class Session:
    """One interactive session: a private directory of small files."""

    path: Path

    @classmethod
    def create(cls, parent: str | os.PathLike[str] | None = None) -> Session:
        """Make a new private session directory (0700) under parent (default: temp dir)."""
        path = Path(tempfile.mkdtemp(prefix="interactive-", dir=parent))
        os.chmod(path, 0o700)
        return cls(path)

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> Session:
        """Open an existing session directory, with a clear error when it is not one."""
        p = Path(path)
        if not p.is_dir():
            raise SessionError(f"session directory {p} does not exist")
        return cls(p)

    @classmethod
    def from_env(cls) -> Session:
        """Open the session named by the environment of a session's kernel."""
        path = os.environ.get(SESSION_ENV)
        if not path:
            raise SessionError(
                "not inside an interactive session: "
                f"{SESSION_ENV} is not set (run this in a notebook of an interactive task)"
            )
        return cls.open(path)

    # -- JSON files -------------------------------------------------------------

    def write_json(self, name: str, obj: Any) -> None:
        """Write one JSON file of the session atomically."""
        atomic_write(self.path / name, json.dumps(obj, indent=1, default=str).encode())

    def read_json(self, name: str) -> Any | None:
        """Read one JSON file of the session, or None when it is absent."""
        try:
            return json.loads((self.path / name).read_text())
        except FileNotFoundError:
            return None

    # -- pickles (written and read on this machine only, never from the network) --

    def write_pickle(self, name: str, obj: Any) -> None:
        """Pickle obj into one file of the session atomically."""
        atomic_write(self.path / name, lambda f: pickle.dump(obj, f, pickle.HIGHEST_PROTOCOL))

    def read_pickle(self, name: str) -> Any | None:
        """Unpickle one file of the session, or None when it is absent."""
        try:
            with open(self.path / name, "rb") as f:
                return pickle.load(f)
        except FileNotFoundError:
            return None

    # -- the parts -------------------------------------------------------------

    def context(self) -> dict[str, Any] | None:
        """The task context (function, source file, parameters, notebook), if any."""
        return self.read_json(CONTEXT)

    def outcome(self) -> dict[str, Any] | None:
        """The recorded outcome (reason, inputs, time), if the server recorded one."""
        return self.read_json(OUTCOME)

    def record_outcome(self, reason: str, inputs: dict[str, Any] | None = None) -> dict[str, Any]:
        """Record why the server stopped (resumed, idle, lifetime), atomically."""
        outcome = {"reason": reason, "inputs": inputs or {}, "time": time.time()}
        self.write_json(OUTCOME, outcome)
        return outcome


class InputsError(ValueError):
    """Input overrides that do not fit the request format or the task's signature."""


def check_input_names(names: list[str], context: dict[str, Any] | None) -> None:
    """Raise InputsError when a name is not a parameter of the task (if one is known)."""
    if not context or context.get("var_keyword"):
        return
    params = context.get("parameters") or []
    unknown = sorted(set(names) - set(params))
    if unknown:
        raise InputsError(
            f"unknown input(s) {', '.join(unknown)}: the task "
            f"{context.get('qualname', '?')} takes {', '.join(params) or 'no parameters'}"
        )


def parse_resume_body(body: bytes, context: dict[str, Any] | None) -> dict[str, Any]:
    """Parse a resume request body {"inputs": {...}} into the input overrides (JSON only)."""
    if not body or not body.strip():
        return {}
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise InputsError(f'the body is not valid JSON ({e}); send {{"inputs": {{...}}}}') from None
    if not isinstance(data, dict):
        raise InputsError(
            f'the body must be a JSON object like {{"inputs": {{...}}}}, not {type(data).__name__}'
        )
    unknown = sorted(set(data) - {"inputs"})
    if unknown:
        raise InputsError(f'unknown key(s) {", ".join(unknown)}: the only key is "inputs"')
    inputs = data.get("inputs", {})
    if inputs is None:
        inputs = {}
    if not isinstance(inputs, dict):
        raise InputsError(
            f'"inputs" must be an object of parameter names to JSON values, '
            f"not {type(inputs).__name__}"
        )
    check_input_names(list(inputs), context)
    return inputs
