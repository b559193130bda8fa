"""Kept session directories: kept only when there is something to look at, listed, cleaned."""

from __future__ import annotations

import logging
import os
import shutil
import stat
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import (
    EnvironmentFailure,
    IdleTimeout,
    ServerError,
    SessionError,
    Terminated,
    by_sigint,
)
from ..procs import alive
from ..protocol import CONTEXT, KEPT, MARK
from .directory import PREFIX, Session, candidate_parents, unsafe

log = logging.getLogger("interactive_ext")


def why_failed(exc: BaseException | None) -> str:
    """Why the run ended without success, for kept.json and `list --kept`."""
    if exc is None:
        return "the task did not succeed"
    if isinstance(exc, Terminated):
        return "stopped by SIGTERM"
    if isinstance(exc, SystemExit):
        return f"the task called sys.exit({exc.code!r})"
    if isinstance(exc, IdleTimeout):
        return "idle timeout or lifetime cap (on_idle='fail')"
    if isinstance(exc, ServerError):
        return "the Jupyter server failed (its log is server.log)"
    if by_sigint(exc):
        return "interrupted by SIGINT"
    return f"the task raised {type(exc).__name__}: {str(exc)[:200]}"


def settle(session: Session, ok: bool, qualname: str) -> None:
    """At the end of a run: remove the session, or keep it (with kept.json) after a failure.

    Removed: after a success, after an environment failure (nothing of it is useful), and when
    it is empty. Called while the failure, if any, is being raised (sys.exc_info names it).
    """
    exc = sys.exc_info()[1]
    path = session.path
    if not path.is_dir():
        log.warning("the session directory %s was removed while the task ran", path)
        return
    empty = all(p.name == MARK for p in path.iterdir())
    if ok or isinstance(exc, EnvironmentFailure) or empty:
        shutil.rmtree(path, ignore_errors=True)
        log.info("removed the session directory %s", path)
        return
    why = why_failed(exc)
    record = {"why": why, "kept_at": time.time(), "task": qualname, "pid": os.getpid()}
    try:
        session.write_json(KEPT, record)
    except OSError as e:
        log.debug("cannot write %s: %s", path / KEPT, e)
    log.warning(
        "kept the session directory %s (%s); `jupyter interactive-task list --kept` lists kept "
        "sessions and `clean` removes them",
        path,
        why,
    )


def where(session: Session) -> str:
    """Where the session is, for a message: kept in it, or it was removed."""
    if session.path.is_dir():
        return f"session kept in {session.path}"
    return f"its session directory {session.path} was removed while it ran"


@dataclass
class Kept:
    """One kept (or still running) session directory."""

    path: Path
    size: int
    age: float
    why: str
    running: bool


def parents() -> list[Path]:
    """Where session directories can be (candidate_parents that exist and that a session would
    use: in a folder others can write, a victim's directory could be renamed into our names)."""
    found = []
    for name, get in candidate_parents():
        try:
            folder = get()
        except OSError:
            continue
        if not folder or not Path(folder).is_dir():
            continue
        why = unsafe(folder)
        if why is not None:
            log.warning("not looking into %s (%s): it %s", folder, name, why)
            continue
        found.append(Path(folder).resolve())
    return list(dict.fromkeys(found))


def _size(path: Path) -> int:
    """Bytes of the regular files under path (no link followed)."""
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                st = os.lstat(os.path.join(root, name))
            except OSError:
                continue
            total += st.st_size if stat.S_ISREG(st.st_mode) else 0
    return total


def _describe(path: Path) -> Kept | None:
    """The Kept entry of one of our session directories, or None if it is not one."""
    session = Session(path)
    if not session.is_marked():  # a directory named like ours is not one of ours
        return None
    try:
        session.check()
        kept = session.read_json(KEPT) or {}
        context = session.read_json(CONTEXT) or {}
    except SessionError:
        return None
    pid = context.get("pid")
    age = time.time() - float(kept.get("kept_at") or os.lstat(path).st_mtime)
    starting = not context and age < 60  # its task process is still writing it
    live = isinstance(pid, int) and pid != os.getpid() and alive(pid)
    running = not kept and (live or starting)
    why = kept.get("why") or ("running" if running else "unknown: its task process was killed")
    return Kept(path, _size(path), age, why, running)


def kept_sessions() -> list[Kept]:
    """This user's session directories, oldest first (running ones flagged)."""
    found = []
    for parent in parents():
        for path in parent.glob(f"{PREFIX}*"):
            entry = _describe(path)
            if entry is not None:
                found.append(entry)
    return sorted(found, key=lambda k: -k.age)


def clean(older_than: float = 0.0) -> list[Kept]:
    """Remove kept sessions older than older_than seconds (never a running one); those removed."""
    removed = []
    for entry in kept_sessions():
        if entry.running or entry.age < older_than:
            continue
        shutil.rmtree(entry.path, ignore_errors=True)
        removed.append(entry)
    return removed


def parse_age(text: str) -> float:
    """'7d', '12h', '30m', '45s' or plain seconds as seconds; ValueError with an example."""
    units = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}
    number, unit = (text[:-1], text[-1]) if text and text[-1] in units else (text, "s")
    try:
        value = float(number) * units[unit]
    except ValueError:
        raise ValueError(f"--older-than {text!r} is not an age like 7d, 12h, 30m or 45s") from None
    if value < 0:
        raise ValueError(f"--older-than {text!r} must not be negative")
    return value
