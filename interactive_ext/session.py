"""The session directory: private files for the context, inputs, failure, outcome, ready info."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from . import pickles
from .errors import SessionError
from .names import CONTEXT, ERROR, OUTCOME, READY, SESSION_ENV
from .records import ErrorRecord, Outcome, R, ReadyInfo, Reason, TaskContext

__all__ = ["Session", "SessionError", "atomic_write"]


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

    def remove(self, *names: str) -> None:
        """Delete files of the session; absent ones are fine."""
        for name in names:
            with contextlib.suppress(FileNotFoundError):
                (self.path / name).unlink()

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
        except (OSError, ValueError) as e:
            raise SessionError(f"cannot read {self.path / name}: {e}") from None

    def read_record(self, name: str, kind: type[R]) -> R | None:
        """Read one JSON file as a typed record, or None when it is absent."""
        data = self.read_json(name)
        return None if data is None else kind.from_json(data, str(self.path / name))

    # -- pickles (written and read on this machine only, never from the network) --

    def write_pickle(self, name: str, obj: Any) -> None:
        """Pickle obj into one file of the session atomically."""
        pickles.dump(obj, self.path / name)

    def read_pickle(self, name: str) -> Any | None:
        """Unpickle one file of the session, or None when it is absent."""
        try:
            return pickles.load(self.path / name)
        except FileNotFoundError:
            return None

    # -- the records -----------------------------------------------------------------

    def context(self) -> TaskContext | None:
        """The task context (function, source file, parameters, notebook), if any."""
        return self.read_record(CONTEXT, TaskContext)

    def outcome(self) -> Outcome | None:
        """The recorded outcome (reason, inputs, time), if the server recorded one."""
        return self.read_record(OUTCOME, Outcome)

    def record_outcome(self, reason: Reason, inputs: dict[str, Any] | None = None) -> Outcome:
        """Record why the server stopped (resumed, idle, lifetime), atomically."""
        outcome = Outcome(reason, inputs or {})
        self.write_json(OUTCOME, outcome.to_json())
        return outcome

    def ready(self) -> ReadyInfo | None:
        """The running server's ready info, if it is up."""
        return self.read_record(READY, ReadyInfo)

    def error(self) -> ErrorRecord | None:
        """The task's last failure, if it failed."""
        return self.read_record(ERROR, ErrorRecord)
