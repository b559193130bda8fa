"""Failures that are not the task's: the machine's (exit 5), broken session files, the exit.

The run loop asks this module what a failure means, so that each outcome has one exit code:
an OSError while the session or the notebook is written is an EnvironmentFailure; a broken
`saved_inputs.pkl` never blocks a resume; the server's exit code says why it stopped when the
outcome file could not be written.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from . import pickles
from .errors import EnvironmentFailure, SessionError
from .names import INPUTS, SAVED_INPUTS, SERVER_EXIT_CODES
from .records import Outcome, Reason
from .session import Session

log = logging.getLogger("interactive_ext")

BROKEN = ".broken"


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


def outcome_of(session: Session, code: int | None) -> Outcome | None:
    """The recorded outcome; without one (its file could not be written), the server's code."""
    try:
        outcome = session.outcome()
    except SessionError as e:
        log.warning("%s", e)
        outcome = None
    if outcome is None and code:
        reason = {c: r for r, c in SERVER_EXIT_CODES.items() if c}.get(code)
        if reason is not None:
            log.warning(
                "the server stopped (%s) but could not record it in %s", reason, session.path
            )
            return Outcome(Reason(reason), {})
    return outcome


def saved_inputs(session: Session) -> dict[str, Any]:
    """save_inputs()'s overrides; a damaged file is moved aside, named in a warning, and skipped."""
    path = session.path / SAVED_INPUTS
    try:
        saved = session.read_pickle(SAVED_INPUTS)
    except SessionError:
        raise
    except Exception as e:  # damaged, or it names a class that no longer imports
        aside = path.with_name(path.name + BROKEN)
        os.replace(path, aside)
        log.error(
            "cannot read %s (%s: %s): resuming without the inputs saved by save_inputs(); "
            "the file is kept as %s",
            path,
            type(e).__name__,
            e,
            aside,
        )
        return {}
    if saved is not None and not isinstance(saved, dict):
        log.error("%s holds a %s, not a dict: ignored", path, type(saved).__name__)
        return {}
    return saved or {}


def file_problems(session: Session) -> list[str]:
    """What is wrong with the session's pickle files (their header only: no unpickling)."""
    problems = []
    for name, fix in (
        (INPUTS, "load_inputs() cannot work; resume still runs the task with its inputs"),
        (SAVED_INPUTS, "call save_inputs() again, or delete it to resume with the original inputs"),
    ):
        try:
            pickles.check(session.path / name)
        except FileNotFoundError:
            continue
        except (pickles.PickleFileError, OSError) as e:
            problems.append(f"{e}: {fix}")
    return problems


def exit_ok(e: SystemExit) -> bool:
    """True for the task's sys.exit(0) or sys.exit(): a success, with result None."""
    return e.code in (0, None)
