"""At every resume: the changes made in the session, to the log, a destination and changes().

The diff of each changed source file against the task's start (session/changes.py) and the
input overrides with their origins are logged after the "resuming" line, saved as one patch
file per resume under `save_changes_to` (a folder, or any fsspec URL) and kept for
`interactive_ext.changes()`. A destination that fails is a warning, never a failed task.
"""

from __future__ import annotations

import logging
import os
import re
import time
from pathlib import Path
from typing import Any

from ..records import Outcome
from ..session.changes import Changes, Current, Originals, describe_overrides
from ..session.directory import Session, unsafe
from ..session.sources import snapshot

log = logging.getLogger("interactive_ext")


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
    name = file_name(changes)
    data = changes.text().encode()
    try:
        if "://" in to and not to.startswith("file://"):
            where = _save_fsspec(to, name, data)
        else:
            where = _save_local(to.removeprefix("file://"), name, data)
    except Exception as e:  # any destination's failure: the task goes on
        log.warning(
            "cannot save this resume's changes to %s (%s: %s); the log above has them",
            to,
            type(e).__name__,
            e,
        )
        return None
    log.info("changes saved to %s", where)
    return where


def _save_local(folder: str, name: str, data: bytes) -> str:
    """A private file (0600) in folder (made 0700 when missing), a folder that only we (or
    root) can change all the way from `/`, as the session's own parents (no other user's
    folder or link is followed)."""
    path = Path(folder).expanduser().absolute()
    existing = next(p for p in (path, *path.parents) if p.exists() or p.is_symlink())
    for check in (existing, path):
        if check == path and not path.exists():
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
        why = unsafe(check)
        if why is not None:
            raise PermissionError(f"{check} {why}: another user could redirect the patch")
    target = path / name
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return str(target)


def _save_fsspec(url: str, name: str, data: bytes) -> str:
    """The file through fsspec (credentials from its usual configuration)."""
    try:
        import fsspec
    except ImportError:
        raise RuntimeError(
            "fsspec is not installed: pip install 'interactive_ext[changes]' and the "
            "filesystem's package (s3fs, gcsfs, ...)"
        ) from None
    fs, root = fsspec.core.url_to_fs(url)
    path = f"{root.rstrip('/')}/{name}"
    fs.pipe_file(path, data)
    return str(fs.unstrip_protocol(path))
