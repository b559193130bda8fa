"""A parked session: one folder (local or fsspec URL) with a manifest, digests and a signature.

The folder holds the session's files in their own formats (context.json, inputs.pkl,
frames.pkl, error.json, originals.bin...), `edits.patch` (the person's edits in the session),
`notebooks/` (the notebooks changed in the session) and `parked.json`, written last: what the
task was, where and why it stopped, the packages its pickles need, and the digest of every
file (BLAKE3, session/digest.py). With a key (INTERACTIVE_EXT_PARK_KEY, or the private file
`park_key` in Jupyter's data directory, as Jupyter keeps its notebook secret), the manifest
carries an HMAC-SHA256 of itself; a reader with a key refuses a manifest that is unsigned or
signed with another key.
"""

from __future__ import annotations

import getpass
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import socket
import stat
import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import SessionError
from ..protocol import PARK_TO_ENV, PARKED
from . import digest
from .destination import Location

log = logging.getLogger("interactive_ext")

MANIFEST = PARKED
"""The parked folder's manifest; only a folder with it is a parked session (list, clean)."""
FORMAT = "interactive_ext.parked/1"
EDITS = "edits.patch"
"""The person's edits made in the session, against the sources at the task's start."""
RESUME_EDITS = "resume/edits.patch"
"""The edits saved by a resume in an opened session (they replace edits.patch for run --from)."""
RESUME_INPUTS = "resume/overrides.json"
"""The JSON input overrides saved by a resume in an opened session."""
NOTEBOOKS = "notebooks/"
KEY_ENV = "INTERACTIVE_EXT_PARK_KEY"
KEY_FILE = "park_key"
"""The key's file in Jupyter's data directory (like its notebook_secret): 0600, ours."""
CHUNK = 8 << 20


class Refused(SessionError):
    """A parked session that must not be loaded: the one line says why."""


def key() -> bytes | None:
    """The user's signing key: $INTERACTIVE_EXT_PARK_KEY, else the private key file, else None."""
    value = os.environ.get(KEY_ENV, "")
    if value:
        return value.encode()
    from jupyter_core.paths import jupyter_data_dir

    path = Path(jupyter_data_dir()) / KEY_FILE
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as e:
        raise Refused(f"the park key file {path} cannot be read ({e.strerror})") from None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if st.st_uid != os.geteuid() or stat.S_IMODE(st.st_mode) & 0o077:
            raise Refused(f"the park key file {path} must be ours and 0600 (chmod 600 it)")
        return f.read().strip() or None


def signature(manifest: dict[str, Any], secret: bytes) -> str:
    """HMAC-SHA256 of the manifest without its signature (canonical JSON)."""
    body = {k: v for k, v in manifest.items() if k != "signature"}
    data = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hmac.new(secret, data, hashlib.sha256).hexdigest()


def folder_name(task: str, when: float) -> str:
    """<task>-<UTC time>-<short id>: one folder per task run, safe in any store."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(when))
    return f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', task)}-{stamp}-{secrets.token_hex(3)}"


@dataclass
class Part:
    """One file to park: its name in the folder and where its bytes are (a path or bytes)."""

    name: str
    source: Path | bytes

    @property
    def size(self) -> int:
        """Its size in bytes."""
        return len(self.source) if isinstance(self.source, bytes) else self.source.stat().st_size


@dataclass
class Parked:
    """What park() did: where the folder is, what the budget left out (None: it failed)."""

    where: str | None
    left_out: list[str] = field(default_factory=list)
    error: str | None = None


def _copy(part: Part, dest: Location) -> str:
    """Write part under dest; its digest (BLAKE3). A local file on the same filesystem is
    linked (no copy: the session's file stays as it was written), its digest the one kept when
    it was written, else read back; any other file is hashed as it is copied."""
    if isinstance(part.source, Path) and dest.fs is None:
        target = dest.path(part.name)
        os.makedirs(os.path.dirname(target), mode=0o700, exist_ok=True)
        try:
            os.link(part.source, target, follow_symlinks=False)
        except OSError:  # another filesystem, or links not allowed: copied below
            pass
        else:
            return digest.of_file(Path(target))
    with dest.open_write(part.name) as out:
        if isinstance(part.source, bytes):
            out.write(part.source)
            h = digest.hasher()
            h.update(part.source)
            return str(h.hexdigest())
        with open(part.source, "rb") as f:
            kept = digest.known(os.fstat(f.fileno()))
            h = digest.hasher() if kept is None else None
            while chunk := f.read(CHUNK):
                if h is not None:
                    h.update(chunk)
                out.write(chunk)
            if kept is None or digest.known(os.fstat(f.fileno())) != kept:
                return str(h.hexdigest()) if h else digest.of_file(part.source)  # it changed
            return kept


def write(
    to: str, name: str, parts: Iterable[Part], manifest: dict[str, Any], budget: int
) -> Parked:
    """Park parts under to/name within budget bytes (smallest first), the manifest last.

    Never raises for the destination: a failure is logged as one warning and returned.
    """
    chosen, left_out, total = [], [], 0
    for part in sorted(parts, key=lambda p: p.size):
        if total + part.size > budget:
            left_out.append(f"{part.name} ({part.size} bytes)")
            continue
        chosen.append(part)
        total += part.size
    try:
        dest = Location(to).child(name)
        with ThreadPoolExecutor(2) as pool:  # hashing and writing release the GIL
            digests = list(pool.map(lambda p: _copy(p, dest), chosen))
        files = {
            p.name: {digest.ALGORITHM: d, "size": p.size}
            for p, d in zip(chosen, digests, strict=True)
        }
        body = {**manifest, "format": FORMAT, "files": files, "left_out": left_out}
        secret = key()
        if secret:
            body["signature"] = signature(body, secret)
        dest.write_bytes(MANIFEST, json.dumps(body, indent=1, default=str).encode())
    except Exception as e:  # any destination's failure: the task's outcome stays its own
        log.warning("cannot park the session to %s (%s: %s)", to, type(e).__name__, e)
        return Parked(None, left_out, f"{type(e).__name__}: {e}")
    if left_out:
        log.warning("the park budget (%d MiB) left out %s", budget >> 20, ", ".join(left_out))
    return Parked(dest.path(), left_out)


def base_manifest(task: str, why: str) -> dict[str, Any]:
    """The manifest's who, where, when and why (the caller adds the task's details)."""
    return {
        "task": task,
        "why": why,
        "host": socket.gethostname(),
        "user": getpass.getuser(),
        "uid": os.geteuid(),
        "parked_at": time.time(),
        "python": sys.version.split()[0],
    }


def read_manifest(where: Location) -> dict[str, Any]:
    """The folder's manifest (Refused when it is missing or not one)."""
    try:
        data = json.loads(where.read_bytes(MANIFEST))
    except FileNotFoundError:
        raise Refused(f"{where.path()} is not a parked session (no {MANIFEST})") from None
    except (OSError, ValueError) as e:
        raise Refused(f"{where.path(MANIFEST)} cannot be read: {e}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise Refused(f"{where.path(MANIFEST)} is not a parked session's manifest ({FORMAT})")
    return data


def who(manifest: dict[str, Any]) -> str:
    """Who parked it, where and when, for a person deciding to trust it."""
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(float(manifest["parked_at"])))
    return (
        f"task {manifest.get('task')} parked by {manifest.get('user')} on host "
        f"{manifest.get('host')} at {when} ({manifest.get('why')})"
    )


def check_trust(manifest: dict[str, Any], trust: bool) -> None:
    """Refused unless the manifest is signed with the user's key, or trust is given."""
    secret = key()
    given = manifest.get("signature")
    if secret:
        if not given:
            raise Refused(f"refused: the session is not signed, and {KEY_ENV} is set")
        if not hmac.compare_digest(str(given), signature(manifest, secret)):
            raise Refused(
                "refused: the session's signature does not match your key (foreign or modified)"
            )
        return
    if not trust:
        raise Refused(
            f"not loaded: no park key is set, so nothing proves who wrote it; {who(manifest)}; "
            "pass --trust to load it (its pickles run code)"
        )


FETCHING = ".fetching"
"""Beside a file still being fetched by `open`: empty, or why the fetch failed."""
LAZY_BYTES = 1 << 20
"""Files bigger than this are fetched after the server starts (the URL before the data)."""


def fetch(where: Location, manifest: dict[str, Any], into: Path, names: Iterable[str]) -> None:
    """Copy names from the parked folder into a private local folder, checking each digest;
    a file appears under its name only once its digest checked."""
    files = manifest.get("files") or {}
    for name in names:
        entry = files.get(name)
        if not isinstance(entry, dict):
            raise Refused(f"refused: {name} is not in the manifest")
        target = into / name
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        part = target.with_name(f".{target.name}.part")
        named = digest.expected(entry)
        if named is None:
            raise Refused(f"refused: {name} has no digest in the manifest that is checked here")
        h = digest.hasher(named[0])
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC
        with where.open_read(name) as f, os.fdopen(os.open(part, flags, 0o600), "wb") as out:
            while chunk := f.read(CHUNK):
                h.update(chunk)
                out.write(chunk)
        if not hmac.compare_digest(str(h.hexdigest()), named[1]):
            part.unlink()
            raise Refused(f"refused: {name} was modified after it was parked (its digest differs)")
        os.replace(part, target)


def fetch_later(
    where: Location,
    manifest: dict[str, Any],
    into: Path,
    names: list[str],
    refused: Callable[[str], None],
) -> None:
    """Fetch names in a background thread; until each is there, a marker beside it makes
    wait_fetched() wait (and say why, if its fetch failed); refused(why) on a failure."""
    import threading

    for name in names:
        (into / (name + FETCHING)).touch(mode=0o600)

    def run() -> None:
        for name in names:
            marker = into / (name + FETCHING)
            try:
                fetch(where, manifest, into, [name])
            except Exception as e:  # told to the kernel that waits for it, and to `open`
                why = str(e) if isinstance(e, Refused) else f"cannot fetch {name}: {e}"
                marker.write_text(why)
                refused(why)
                continue
            marker.unlink()

    threading.Thread(target=run, name="parked-fetch", daemon=True).start()


def wait_fetched(path: Path, timeout: float = 3600.0) -> None:
    """Wait while `open` still fetches path (SessionError if that fetch failed)."""
    marker = path.with_name(path.name + FETCHING)
    deadline = time.monotonic() + timeout
    while True:
        try:
            why = marker.read_text()
        except FileNotFoundError:
            return
        if why:
            raise SessionError(why)
        if time.monotonic() > deadline:
            raise SessionError(f"{path.name} is still being fetched after {timeout:.0f} s")
        time.sleep(0.05)


def update(where: Location, manifest: dict[str, Any], parts: Iterable[Part]) -> dict[str, Any]:
    """Write parts into a parked folder (replacing), then its manifest with their digests."""
    files = dict(manifest.get("files") or {})
    for part in parts:
        data = part.source if isinstance(part.source, bytes) else part.source.read_bytes()
        where.write_bytes(part.name, data, replace=True)
        h = digest.hasher()
        h.update(data)
        files[part.name] = {digest.ALGORITHM: str(h.hexdigest()), "size": len(data)}
    body = {k: v for k, v in manifest.items() if k != "signature"}
    body["files"] = files
    secret = key()
    if secret:
        body["signature"] = signature(body, secret)
    where.write_bytes(MANIFEST, json.dumps(body, indent=1, default=str).encode(), replace=True)
    return body


@dataclass
class Entry:
    """One parked session found at a destination."""

    where: Location
    manifest: dict[str, Any]
    size: int = field(init=False)

    def __post_init__(self) -> None:
        """The parked files' bytes (size), from the manifest."""
        files = (self.manifest.get("files") or {}).values()
        self.size = sum(int(f.get("size", 0)) for f in files)

    @property
    def age(self) -> float:
        """Seconds since it was parked."""
        return time.time() - float(self.manifest.get("parked_at") or 0)


def parked_sessions(at: str) -> list[Entry]:
    """The parked sessions directly under at, oldest first (only folders with a manifest)."""
    root = Location(at)
    found = []
    for name in root.folders():
        child = root.child(name)
        try:
            found.append(Entry(child, read_manifest(child)))
        except Refused:
            continue
    return sorted(found, key=lambda e: -e.age)


def destination(given: str | None = None) -> str:
    """The destination named by given, else $INTERACTIVE_EXT_PARK_TO; ValueError when none."""
    to = given or os.environ.get(PARK_TO_ENV, "").strip()
    if not to:
        raise ValueError(f"no destination: give PATH or URL, or set {PARK_TO_ENV} (or --park-to)")
    return to
