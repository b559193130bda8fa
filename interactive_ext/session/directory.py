"""The session directory: private files for the context, inputs, failure, outcome, ready info."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import pickle
import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import SessionError
from ..protocol import CONTEXT, ERROR, MARK, OUTCOME, READY, SESSION_ENV
from ..records import ErrorRecord, Outcome, R, ReadyInfo, Reason, TaskContext
from . import pickles
from .atomic import atomic_write
from .ownership import shared, unsafe

__all__ = ["Session", "SessionError", "atomic_write", "safe_parent", "shared", "unsafe"]

log = logging.getLogger("interactive_ext")
PREFIX = "interactive-"


def runtime_dir() -> Path:
    """Jupyter's runtime directory (jpserver-*.json, kernel-*.json), created private if missing."""
    from jupyter_core.paths import jupyter_runtime_dir

    folder = jupyter_runtime_dir()
    os.makedirs(folder, mode=0o700, exist_ok=True)
    return Path(folder)


def candidate_parents() -> list[tuple[str, Callable[[], str]]]:
    """Where session directories may go, in order: the temp dir, then the private fallbacks."""
    return [
        ("the temp dir", tempfile.gettempdir),
        ("XDG_RUNTIME_DIR", lambda: os.environ.get("XDG_RUNTIME_DIR", "")),
        ("Jupyter's runtime directory", lambda: str(runtime_dir())),
    ]


def safe_parent() -> str:
    """Where session directories go: the temp dir, unless others can swap files in it.

    A TMPDIR that does not exist is refused, not silently replaced by /tmp. A TMPDIR that others
    can change (it, or a folder above it: unsafe()) would let them rename a session directory
    and plant pickles in its place; then $XDG_RUNTIME_DIR or Jupyter's runtime directory is used
    instead, and with neither safe the session is refused.
    """
    tmp = tempfile.gettempdir()
    asked = os.environ.get("TMPDIR")
    if asked and os.path.abspath(asked) != os.path.abspath(tmp):
        problem = unsafe(asked) or "is not writable"
        raise SessionError(
            f"TMPDIR={asked} {problem}, and Python would fall back to {tmp}: create it (mode 700), "
            "or set TMPDIR to a directory only you can write"
        )
    why = unsafe(tmp)
    if why is None:
        return tmp
    for name, get in candidate_parents()[1:]:
        try:
            folder = get()
        except OSError:
            continue
        if folder and unsafe(folder) is None:
            log.warning("the temp dir %s %s: the session goes to %s (%s)", tmp, why, folder, name)
            return folder
    raise SessionError(
        f"the temp dir {tmp} {why}: another user could plant files in the session; set TMPDIR "
        "to a directory only you can write (e.g. TMPDIR=$HOME/tmp) or give it the sticky bit"
    )


@dataclass
class Session:
    """One interactive session: a private directory of small files."""

    path: Path
    ident: tuple[int, int] | None = field(default=None, compare=False)
    """(device, inode) of the directory when this process created it: checked before reads."""
    digests: bool = field(default=False, compare=False)
    """Hash each pickle while writing it, its digest kept for parking (session/digest.py)."""

    @classmethod
    def create(cls, parent: str | os.PathLike[str] | None = None) -> Session:
        """Make a new private session directory (0700) under parent (default: a safe temp dir)."""
        try:
            path = Path(tempfile.mkdtemp(prefix=PREFIX, dir=parent or safe_parent()))
            os.chmod(path, 0o700)
            st = os.lstat(path)
            session = cls(path, (st.st_dev, st.st_ino))
            session.write_json(MARK, {"uid": os.geteuid(), "pid": os.getpid()})
        except OSError as e:
            where = parent or tempfile.gettempdir()
            raise SessionError(
                f"cannot create a session directory in {where}: {e.strerror}; "
                "set TMPDIR to a writable directory with free space"
            ) from None
        return session

    def is_marked(self) -> bool:
        """True if the directory carries the mark Session.create writes (checked, ours)."""
        try:
            mark = self.read_json(MARK)
        except SessionError:
            return False
        return isinstance(mark, dict) and mark.get("uid") == os.geteuid()

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> Session:
        """Open an existing session directory, with a clear error when it is not one of ours."""
        session = cls(Path(path))
        session.check()
        return session

    def check(self) -> None:
        """Raise SessionError unless the directory is ours: no link, our uid, not writable by
        others, and the very directory this process created (when it did)."""
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            raise SessionError(f"session directory {self.path} does not exist") from None
        except OSError as e:
            raise SessionError(f"session directory {self.path}: {e.strerror}") from None
        problem = None
        if stat.S_ISLNK(st.st_mode):
            problem = "is a symbolic link"
        elif not stat.S_ISDIR(st.st_mode):
            problem = "is not a directory"
        elif st.st_uid != os.geteuid():
            problem = f"belongs to uid {st.st_uid}, not to us (uid {os.geteuid()})"
        elif st.st_mode & 0o022:
            problem = f"is writable by others (mode {stat.S_IMODE(st.st_mode):o})"
        elif self.ident is not None and (st.st_dev, st.st_ino) != self.ident:
            problem = "was replaced by another directory since the task created it"
        if problem:
            raise SessionError(f"session directory {self.path} {problem}; refusing to read it")

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
        self.check()
        try:
            fd = os.open(self.path / name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            with os.fdopen(fd, "rb") as f:
                return json.loads(f.read())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as e:
            raise SessionError(f"cannot read {self.path / name}: {e}") from None

    def read_record(self, name: str, kind: type[R]) -> R | None:
        """Read one JSON file as a typed record, or None when it is absent."""
        data = self.read_json(name)
        return None if data is None else kind.from_json(data, str(self.path / name))

    # -- pickles (written and read on this machine only, never from the network) --

    def write_pickle(
        self, name: str, obj: Any, cap: int | None = None, pickler: type | None = None
    ) -> None:
        """Pickle obj into one file of the session atomically (cap, pickler: pickles.dump's);
        with digests, hashed as it is written."""
        if not self.digests:
            pickles.dump(obj, self.path / name, cap, pickler or pickle.Pickler)
            return
        from . import digest

        feeder = digest.Feeder(digest.hasher(threads=False))  # one core writes, one hashes
        pickles.dump(obj, self.path / name, cap, pickler or pickle.Pickler, feeder)
        if feeder.written is not None:
            digest.remember(feeder.written, feeder.h.hexdigest())

    def read_pickle(self, name: str, lenient: bool = False) -> Any | None:
        """Unpickle one file of the session, or None when it is absent (lenient: a class that
        does not import here is a named placeholder, pickles.Missing)."""
        self.check()
        from .parked import wait_fetched  # an opened parked session fetches big files later

        wait_fetched(self.path / name)
        try:
            return pickles.load(self.path / name, lenient)
        except FileNotFoundError:
            return None

    # -- the records -----------------------------------------------------------------

    def context(self) -> TaskContext | None:
        """The task context (function, source file, parameters, notebook), if any."""
        return self.read_record(CONTEXT, TaskContext)

    def outcome(self) -> Outcome | None:
        """The recorded outcome (reason, inputs, time), if the server recorded one."""
        return self.read_record(OUTCOME, Outcome)

    def record_outcome(
        self, reason: Reason, inputs: dict[str, Any] | None = None, via: str = "rest"
    ) -> Outcome:
        """Record why the server stopped (resumed, idle, lifetime), atomically."""
        outcome = Outcome(reason, inputs or {}, via=via)
        self.write_json(OUTCOME, outcome.to_json())
        return outcome

    def ready(self) -> ReadyInfo | None:
        """The running server's ready info, if it is up."""
        return self.read_record(READY, ReadyInfo)

    def error(self) -> ErrorRecord | None:
        """The task's last failure, if it failed."""
        return self.read_record(ERROR, ErrorRecord)
