"""Failures of the machine, not the task: a full disk or a read-only folder (exit 5), sys.exit."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import EnvironmentFailure
from ..session.directory import Session


def environment_failure(e: OSError, session: Session, notebook_dir: Path) -> EnvironmentFailure:
    """The one-line EnvironmentFailure for an OSError met while writing the session or notebook."""
    where = Path(e.filename) if e.filename else None
    what = e.strerror or str(e)
    if where is None and _full(session.path):  # a write that failed names no file
        where = session.path
    if where is not None and session.path in (where, *where.parents):
        return EnvironmentFailure(
            f"cannot write the session directory {session.path}: {what}; free some space or "
            "set TMPDIR to a writable directory with room for the task's inputs"
        )
    if where is None or notebook_dir in (where, *where.parents):
        return EnvironmentFailure(
            f"cannot write the starter notebook in {notebook_dir}: {what}; pass a writable "
            "notebook_dir (--notebook-dir)"
        )
    return EnvironmentFailure(f"cannot start the Jupyter server: {where}: {what}")


def _full(path: Path) -> bool:
    """True if the file system of path has no free block left (for a write that failed)."""
    try:
        st = os.statvfs(path)
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < 64 * 1024


def exit_ok(e: SystemExit) -> bool:
    """True for the task's sys.exit(0) or sys.exit(): a success, with result None."""
    return e.code in (0, None)
