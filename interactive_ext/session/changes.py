"""What the person changed: the sources' originals kept at the task's start, diffs at resume.

At the start the task process notes the person's module files by mtime and size
(sources.snapshot(), on the critical path: one stat per file); while the server starts, it
copies their bytes into the session (`originals.bin`, indexed by `originals.json`, 0600).
A file whose stat later differs is compared with its original; a real difference becomes a
unified diff with paths relative to the source root (`a/pkg/x.py`, `b/pkg/x.py`), so
`patch -p1` or `git apply` in the original tree reproduces the edited files.
"""

from __future__ import annotations

import difflib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..protocol import ORIGINALS, ORIGINALS_INDEX
from .directory import Session, atomic_write
from .sources import Snapshot, _stat


@dataclass
class FileChange:
    """One changed file: its path under the root, its +/- line counts and its unified diff."""

    path: str
    added: int
    removed: int
    diff: str
    kind: str = "modified"
    """modified, added (a new module the resumed code imports) or deleted."""

    def brief(self) -> dict[str, Any]:
        """The file without its diff, as the status lists it."""
        return {"path": self.path, "added": self.added, "removed": self.removed, "kind": self.kind}


@dataclass
class Changes:
    """What a resume ran with: the patch of the person's sources and the input overrides."""

    task: str
    root: str
    files: list[FileChange] = field(default_factory=list)
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    """name -> {"from": rest|cli|dialog|resume()|save_inputs(), "value": JSON (json=True only),
    "json": bool, "type": the value's type}; a value with no JSON form is never written."""
    time: float = field(default_factory=time.time)
    saved_to: str | None = None
    """Where the patch file was saved (None: no destination, nothing changed, or it failed)."""

    @property
    def patch(self) -> str:
        """The unified diff of every changed file ("" when none changed), for `patch -p1`."""
        return "".join(f.diff for f in self.files)

    def summary(self) -> str:
        """ "2 changed files (+3 -1)", or "no changed file"."""
        if not self.files:
            return "no changed file"
        plus = sum(f.added for f in self.files)
        minus = sum(f.removed for f in self.files)
        return f"{len(self.files)} changed file{'s' * (len(self.files) != 1)} (+{plus} -{minus})"

    def header(self) -> str:
        """The patch file's comment lines (patch and git apply skip text before the diffs)."""
        lines = [
            f"# interactive_ext: changes of task {self.task} at its resume, "
            f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(self.time))}",
            f"# source root: {self.root} (apply with: cd ROOT && patch -p1 < THIS_FILE)",
            f"# {self.summary()}",
        ]
        for name, o in sorted(self.overrides.items()):
            shown = json.dumps(o["value"]) if o.get("json") else f"<{o.get('type')}, not JSON>"
            lines.append(f"# input override {name} = {shown[:200]} (from {o['from']})")
        return "\n".join(lines) + "\n"

    def text(self) -> str:
        """The whole patch file: header, then the diffs."""
        return self.header() + self.patch

    def to_json(self) -> dict[str, Any]:
        """JSON-able: every field, the patch included."""
        return {**asdict(self), "patch": self.patch, "summary": self.summary()}


def common_root(task_root: str | None, snap: Snapshot) -> str:
    """The folder every noted file is under: the task's root when it holds them all."""
    paths = [os.path.dirname(p) for p in snap]
    if task_root:
        paths.append(task_root)
    return os.path.commonpath(paths) if paths else os.getcwd()


def keep_originals(session: Session, snap: Snapshot, root: str) -> None:
    """Copy the noted files' bytes into the session (while the server starts), privately.

    One data file (the bytes back to back) and its index, written after it: a file whose
    stat moved since the snapshot is kept as it is now, with its new stat.
    """
    files: dict[str, list[int]] = {}
    chunks: list[bytes] = []
    offset = 0
    for path in snap:
        try:
            stat, data = _stat_and_read(path)
        except OSError:
            continue
        files[path] = [*stat, offset, len(data)]
        chunks.append(data)
        offset += len(data)
    atomic_write(session.path / ORIGINALS, b"".join(chunks))
    index = {"root": root, "started": time.time(), "files": files}
    atomic_write(session.path / ORIGINALS_INDEX, json.dumps(index).encode())


@dataclass
class Originals:
    """A session's originals: the index; bytes read from the data file by offset."""

    root: str
    started: float
    files: dict[str, list[int]]
    """path -> [mtime_ns, size, offset, length]."""
    data: Path

    @classmethod
    def open(cls, session: Session) -> Originals | None:
        """The session's originals, or None when none were kept (or their index is damaged)."""
        try:
            index = json.loads((session.path / ORIGINALS_INDEX).read_bytes())
            return cls(index["root"], index["started"], index["files"], session.path / ORIGINALS)
        except (OSError, KeyError, ValueError, TypeError):
            return None

    def read(self, path: str) -> bytes:
        """The original bytes of a noted file."""
        with open(self.data, "rb") as f:
            return self._read(f, path)

    def _read(self, f: Any, path: str) -> bytes:
        """The original bytes of path from the open data file."""
        offset, length = self.files[path][2:4]
        f.seek(offset)
        data: bytes = f.read(length)
        if len(data) != length:
            raise ValueError(f"{self.data} is shorter than its index says")
        return data

    def changed(self, also: list[str] | None = None) -> list[FileChange]:
        """Each file that differs from its original; also: files outside the originals."""
        out = []
        moved = [(p, now) for p, kept in self.files.items() if (now := _stat(p)) != kept[:2]]
        if moved:
            with open(self.data, "rb") as f:
                for path, now in moved:
                    old = self._read(f, path)
                    new = None if now is None else _read(path)
                    if new != old:
                        out.append(file_change(self.rel(path), old, new))
        for path in also or []:
            if path not in self.files and (_stat(path) or [0])[0] >= self.started * 1e9 - 5e9:
                new = _read(path)
                if new is not None:
                    out.append(file_change(self.rel(path), None, new))
        return sorted(out, key=lambda f: f.path)

    def rel(self, path: str) -> str:
        """path relative to the root, with / separators."""
        return Path(os.path.relpath(path, self.root)).as_posix()


def _stat_and_read(path: str) -> tuple[list[int], bytes]:
    """A file's [mtime_ns, size] and bytes, with the fewest system calls (no buffering)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        st = os.fstat(fd)
        chunks = [os.read(fd, st.st_size + 1)]
        while chunks[-1]:  # it grew since the fstat
            chunks.append(os.read(fd, 1 << 20))
        return [st.st_mtime_ns, st.st_size], b"".join(chunks)
    finally:
        os.close(fd)


def _read(path: str) -> bytes | None:
    """A file's bytes, or None when it is gone."""
    try:
        return Path(path).read_bytes()
    except OSError:
        return None


def _lines(data: bytes | None) -> list[str]:
    """Text lines with their ends (undecodable bytes replaced)."""
    return [] if data is None else data.decode("utf-8", "replace").splitlines(keepends=True)


def file_change(rel: str, old: bytes | None, new: bytes | None) -> FileChange:
    """The unified diff of one file (None: it does not exist on that side)."""
    a, b = _lines(old), _lines(new)
    diff = difflib.unified_diff(
        a,
        b,
        "/dev/null" if old is None else f"a/{rel}",
        "/dev/null" if new is None else f"b/{rel}",
    )
    text, added, removed = [], 0, 0
    for line in diff:
        if line.startswith("+") and not line.startswith("+++"):
            added += 1
        elif line.startswith("-") and not line.startswith("---"):
            removed += 1
        text.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    kind = "added" if old is None else "deleted" if new is None else "modified"
    return FileChange(rel, added, removed, "".join(text), kind)


def pending(session: Session) -> list[FileChange]:
    """The files changed since the start, as a resume now would record them ([] if unknown)."""
    originals = Originals.open(session)
    return [] if originals is None else originals.changed()


def describe_overrides(sent: dict[str, Any], via: str, saved: dict[str, Any]) -> dict[str, Any]:
    """Each override's origin and, when it has a JSON form, its value (sent ones win)."""
    out: dict[str, dict[str, Any]] = {}
    for name, value in saved.items():
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            out[name] = {"from": "save_inputs()", "json": False, "type": type(value).__name__}
            continue
        out[name] = {"from": "save_inputs()", "json": True, "value": value}
    for name, value in sent.items():
        out[name] = {"from": via, "json": True, "value": value}
    return out


class Current:
    """The changes of this process's last resume (set by the task process, read by changes())."""

    changes: Changes | None = None
