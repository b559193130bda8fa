"""Reading a session that may be damaged: the outcome, save_inputs()'s overrides, file checks.

A broken `saved_inputs.pkl` never blocks a resume; the server's exit code says why it stopped
when the outcome file could not be written; the server names broken pickle files in its status.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from ..errors import SessionError
from ..protocol import ERROR, INPUTS, RESULT, SAVED_INPUTS, SERVER_EXIT_CODES
from ..records import Outcome, Reason
from . import pickles
from .directory import Session

log = logging.getLogger("interactive_ext")

BROKEN = ".broken"


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


def why_waiting(session: Session) -> str:
    """Why the task waits: failed (its error's first line), paused after success, or paused."""
    try:
        error = session.read_json(ERROR)
    except SessionError:
        error = None
    if isinstance(error, dict):
        first = (str(error.get("message", "")).strip().splitlines() or [""])[0][:300]
        return f"failed: {error.get('type')}: {first}"
    if (session.path / RESULT).exists():
        return "paused after it succeeded (load_result() has its result)"
    return "paused before it runs"
