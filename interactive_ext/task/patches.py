"""At every resume: the changes made in the session, to the log, a destination and changes().

The diff of each changed source file against the task's start (session/changes.py) and the
input overrides with their origins are logged after the "resuming" line, saved as one patch
file per resume under `save_changes_to` (a folder, or any fsspec URL) and kept for
`interactive_ext.changes()`. A destination that fails is a warning, never a failed task.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

from ..records import Outcome
from ..session.changes import Changes, Current, Originals, describe_overrides
from ..session.destination import Location
from ..session.directory import Session
from ..session.sources import snapshot

log = logging.getLogger("interactive_ext")

FAILED: dict[str, int] = {}
"""The failed saves of this process by destination (each failure's warning counts them)."""


def record_changes(
    session: Session, task: str, outcome: Outcome | None, saved: dict[str, Any], to: str | None
) -> Changes:
    """The changes of this resume: logged, saved under `to` when files changed, kept."""
    originals = Originals.open(session)
    sent = outcome.inputs if outcome is not None else {}
    via = outcome.via if outcome is not None else "rest"
    changes = Changes(
        task=task,
        root=originals.root if originals else "",
        overrides=describe_overrides(sent, via, saved),
    )
    if originals is None:
        log.warning("no originals of the sources were kept: this resume's changes are unknown")
    else:
        try:
            changes.files = originals.changed(also=list(snapshot()))
        except (OSError, ValueError, KeyError) as e:
            log.warning("cannot compare the sources with their originals: %s", e)
    Current.changes = changes
    if not changes.files:
        log.info("no source file changed since the task started%s", _overrides_line(changes))
        return changes
    log.info(
        "changes at this resume: %s (root %s)%s\n%s",
        changes.summary(),
        changes.root,
        _overrides_line(changes),
        changes.text().rstrip("\n"),
    )
    if to:
        changes.saved_to = save(changes, to)
    return changes


def _overrides_line(changes: Changes) -> str:
    """ "; input overrides: a (from rest), b (from save_inputs())", or ""."""
    if not changes.overrides:
        return ""
    parts = [f"{n} (from {o['from']})" for n, o in sorted(changes.overrides.items())]
    return "; input overrides: " + ", ".join(parts)


def file_name(changes: Changes) -> str:
    """<task>-<UTC time>.patch, safe in any file system or bucket."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(changes.time))
    micro = f"{changes.time % 1:.6f}"[2:]
    return f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', changes.task)}-{stamp}.{micro}Z.patch"


def save(changes: Changes, to: str) -> str | None:
    """Write the patch file under `to` (a folder or an fsspec URL); where, or None (warned)."""
    try:
        where = Location(to).write_bytes(file_name(changes), changes.text().encode())
    except Exception as e:  # any destination's failure: the task goes on
        FAILED[to] = FAILED.get(to, 0) + 1
        log.warning(
            "cannot save this resume's changes to %s (%s: %s; failure %d of this destination); "
            "the log above has them",
            to,
            type(e).__name__,
            e,
            FAILED[to],
        )
        return None
    log.info("changes saved to %s", where)
    return where
