"""Park a session that ends without the task's result, so that `open` can debug it elsewhere.

Parked: a failure with on_failure="park" (at once, no server), and, with park_to set, every
served session that ends without the result (run_task_first's failure left waiting, the idle
stop, the lifetime cap, SIGTERM, the debug loop's last failure). The parked folder's format is
session/parked.py's; a destination that fails is one warning, never a changed outcome.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
import threading
import time
from dataclasses import fields
from pathlib import Path
from typing import Any, Protocol

from ..errors import EnvironmentFailure, ServerError
from ..options import Options
from ..protocol import CHECKPOINTS, KEPT, MARK, OUTCOME, READY
from ..records import TaskContext
from ..session import kept, parked
from ..session.changes import Originals, pending
from ..session.directory import Session
from ..session.pickles import modules_needed
from ..session.reaching import TaskNotices
from ..session.sources import library_file
from .loader import source_root

log = logging.getLogger("interactive_ext")

SKIPPED = {MARK, READY, OUTCOME, KEPT, CHECKPOINTS}
"""Files of the session directory that say nothing about the task's state."""
OPEN_COMMAND = "jupyter interactive-task open"
AHEAD = ("pydantic", "importlib.metadata", "jupyter_core.paths", ".capture")
"""What parking at a failure imports after writing the inputs: imported while they are written
(their write and digest leave the interpreter to this thread)."""


class TaskRun(Protocol):
    """What parking reads of a task run (task/run.py's TaskRun)."""

    options: Options
    session: Session
    context: TaskContext
    qualname: str
    notebook_dir: Path
    notices: TaskNotices
    error: BaseException | None
    inputs: dict[str, Any]

    def open_session(self) -> None:
        """Make the session directory and the context."""

    def record_start(self) -> None:
        """Write the inputs, the context and the originals."""


def options_json(options: Options) -> dict[str, Any]:
    """The options with a JSON form (hooks named, the token never written)."""
    out: dict[str, Any] = {}
    for f in fields(options):
        value = getattr(options, f.name)
        if f.name == "token":
            continue
        out[f.name] = (
            list(value)
            if isinstance(value, tuple)
            else (getattr(value, "__qualname__", repr(value)) if callable(value) else value)
        )
    return out


def pickled_modules(session_dir: Path) -> list[str]:
    """The top-level modules the session's pickles name (they must import where they load)."""
    mods: set[str] = set()
    for path in session_dir.glob("*.pkl"):
        try:
            mods |= modules_needed(path)
        except (OSError, ValueError) as e:
            log.debug("cannot read the modules of %s: %s", path, e)
    return sorted(mods)


def packages(mods: list[str]) -> dict[str, str]:
    """The installed distributions (name -> version) of those modules: a module named as its
    distribution is looked up alone; the full map (slow: every distribution's files) is read
    only for an installed module that is not."""
    from importlib.metadata import PackageNotFoundError, packages_distributions, version

    out, others = {}, []
    for mod in mods:
        if mod in sys.stdlib_module_names or mod == "__main__":
            continue
        try:
            out[mod] = version(mod)
        except PackageNotFoundError:
            file = getattr(sys.modules.get(mod), "__file__", None) or ""
            if library_file(file) if file else False:
                others.append(mod)
    dists = packages_distributions() if others else {}
    for mod in others:
        for dist in dists.get(mod, []):
            try:
                out[dist] = version(dist)
            except Exception:  # a broken distribution's metadata
                continue
    return out


def changed_notebooks(folder: Path, since: float) -> list[parked.Part]:
    """The notebooks in folder (and one level down) saved after since."""
    found = []
    for path in [*folder.glob("*.ipynb"), *folder.glob("*/*.ipynb")]:
        try:
            if path.is_file() and path.stat().st_mtime > since:
                rel = path.relative_to(folder).as_posix()
                found.append(parked.Part(parked.NOTEBOOKS + rel, path))
        except OSError:
            continue
    return found


def session_parts(run: TaskRun) -> list[parked.Part]:
    """What is parked: the session's files, the edits' patch, the changed notebooks."""
    path = run.session.path
    parts = [
        parked.Part(p.name, p)
        for p in path.iterdir()
        if p.name not in SKIPPED and p.is_file() and not p.is_symlink()
    ]
    try:
        edits = "".join(f.diff for f in pending(run.session))
    except (OSError, ValueError, KeyError) as e:
        log.warning("cannot compare the sources with their originals: %s", e)
        edits = ""
    if edits:
        parts.append(parked.Part(parked.EDITS, edits.encode()))
    originals = Originals.open(run.session)
    since = originals.started + 1.0 if originals else run.context.started
    return parts + changed_notebooks(run.notebook_dir, since)


def manifest(run: TaskRun, why: str) -> dict[str, Any]:
    """The task's part of the manifest: what it is, where it came from, what it needs."""
    context = run.context
    originals = Originals.open(run.session)
    root = source_root(context.module, context.source_file)
    base = originals.root if originals else root
    error = run.session.error()
    mods = pickled_modules(run.session.path)
    return {
        **parked.base_manifest(run.qualname, why),
        "function": context.ref,
        "module": context.module,
        "qualname": context.qualname,
        "source_file": context.source_file,
        "source_root": base,
        "import_root": os.path.relpath(root, base) if root and base else ".",
        "notebook_dir": str(run.notebook_dir),
        "error": f"{error.type}: {error.message}" if error else None,
        "options": options_json(run.options),
        "modules": mods,
        "packages": packages(mods),
        "executable": sys.executable,
    }


def park(run: TaskRun, why: str) -> parked.Parked | None:
    """Park the run's session at its destination; None when none is set."""
    to = run.options.park_destination
    if not to:
        return None
    started = time.monotonic()
    result = parked.write(
        to,
        parked.folder_name(run.qualname, time.time()),
        session_parts(run),
        manifest(run, why),
        int(run.options.park_budget_mb * 1024 * 1024),
    )
    if result.where is not None:
        command = f"{OPEN_COMMAND} {result.where}"
        log.warning(
            "parked the session of task %s in %s (%.1f s); debug it anywhere with: %s",
            run.qualname,
            result.where,
            time.monotonic() - started,
            command,
        )
        run.notices.parked(run.qualname, why, command)
    return result


def park_at_end(run: TaskRun, ok: bool) -> None:
    """A served session ends without the task's result: park it (when park_to is set)."""
    exc = sys.exc_info()[1]
    if ok or isinstance(exc, (EnvironmentFailure, ServerError)) or not run.session.path.is_dir():
        return
    park(run, kept.why_failed(exc))


def park_now(run: TaskRun) -> None:
    """on_failure="park": record the failure, park it, end (the failure is raised again)."""
    from .capture import capture_frames
    from .context import record_error

    assert run.error is not None
    run.open_session()
    ahead = threading.Thread(target=_import_ahead, name="park-imports", daemon=True)
    ahead.start()
    try:
        run.record_start()
    finally:
        ahead.join()
    record_error(run.session, run.error)
    capture_frames(run.session, run.error, run.options, run.inputs)
    result = park(run, kept.why_failed(run.error))
    run.notices.close()
    kept.settle(run.session, result is not None and result.where is not None, run.qualname)
    raise run.error


def _import_ahead() -> None:
    """Import AHEAD (one that fails is left to fail where it is needed)."""
    for name in AHEAD:
        try:
            importlib.import_module(name, __package__)
        except Exception as e:
            log.debug("cannot import %s ahead: %s", name, e)
