"""A parked session's sources laid out in a working folder, its edits applied (open, run --from).

The originals kept at the task's start (changes.py's originals.bin and its index) are written
under the folder at their paths relative to the source root, then the unified diff of the
session's edits (changes.py's format, `patch -p1`) is applied to them. The opened session's
context and originals index are rewritten to point at the folder, so `changes()` and resume
diff the person's new edits against the task's start.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from ..protocol import CONTEXT, ORIGINALS_INDEX
from .atomic import atomic_write
from .changes import Originals
from .directory import Session

_HUNK = re.compile(r"@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
NO_NEWLINE = "\\ No newline at end of file"


def _files(patch: str) -> list[tuple[str | None, str | None, list[str]]]:
    """Each file's (old path, new path, hunk lines) in a unified diff (a/ and b/ stripped)."""
    out: list[tuple[str | None, str | None, list[str]]] = []
    lines = patch.splitlines(keepends=True)
    i = 0
    while i < len(lines):
        if lines[i].startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ "):
            old, new = (lines[j][4:].rstrip("\n").split("\t")[0] for j in (i, i + 1))
            out.append((_strip(old), _strip(new), []))
            i += 2
            continue
        if out:
            out[-1][2].append(lines[i])
        i += 1
    return out


def _strip(path: str) -> str | None:
    """A diff's path without its a/ or b/ (None: /dev/null)."""
    return None if path == "/dev/null" else path.split("/", 1)[1] if "/" in path else path


def apply(old: list[str], hunks: list[str], name: str) -> list[str]:
    """old's lines with a file's hunks applied; ValueError naming name when they do not fit."""
    out: list[str] = []
    pos, last_kind = 0, ""
    for line in hunks:
        match = _HUNK.match(line)
        if match:
            start = int(match[1]) - (0 if match[2] == "0" else 1)
            if start < pos:
                raise ValueError(f"{name}: overlapping hunks")
            out += old[pos:start]
            pos = start
        elif line.startswith(NO_NEWLINE):
            if out and out[-1].endswith("\n") and last_kind == "+":
                out[-1] = out[-1][:-1]
        elif line[:1] in (" ", "-"):
            if pos >= len(old) or old[pos].rstrip("\n") != line[1:].rstrip("\n"):
                raise ValueError(f"{name}: the patch does not fit line {pos + 1}")
            if line[0] == " ":
                out.append(old[pos])
            pos += 1
        elif line[:1] == "+":
            out.append(line[1:])
        last_kind = line[:1]
    return out + old[pos:]


def apply_patch(texts: dict[str, list[str]], patch: str) -> dict[str, list[str]]:
    """The files' lines (by path under the root) with a unified diff applied: modified,
    added and deleted files; ValueError naming a file whose hunks do not fit."""
    out = dict(texts)
    for old, new, hunks in _files(patch):
        result = apply(out.get(old, []) if old else [], hunks, new or old or "?")
        if new is None:
            out.pop(old or "", None)
        else:
            out[new] = result
    return out


def lay_out(session: Session, folder: Path, patch: str) -> dict[str, Path]:
    """Write the session's originals under folder, patch applied; original path -> new path."""
    originals = Originals.open(session)
    if originals is None:
        return {}
    moved: dict[str, Path] = {}
    texts: dict[str, list[str]] = {}
    for path in originals.files:
        rel = originals.rel(path)
        moved[path] = folder / rel
        texts[rel] = originals.read(path).decode("utf-8", "surrogateescape").splitlines(True)
    for rel, lines in apply_patch(texts, patch).items():
        target = folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes("".join(lines).encode("utf-8", "surrogateescape"))
    return moved


def rebase(session: Session, folder: Path, moved: dict[str, Path], notebook: Path) -> None:
    """Point the fetched session's context and originals at the laid-out folder."""
    context = json.loads((session.path / CONTEXT).read_bytes())
    source = context.get("source_file")
    if source in moved:
        context["source_file"] = str(moved[source])
    context.update(notebook=str(notebook), modules={}, pid=os.getpid())
    atomic_write(session.path / CONTEXT, json.dumps(context, indent=1).encode())
    index_path = session.path / ORIGINALS_INDEX
    if index_path.exists():
        index = json.loads(index_path.read_bytes())
        files = {str(moved[p]): [0, 0, *v[2:4]] for p, v in index["files"].items() if p in moved}
        index.update(root=str(folder), files=files)
        atomic_write(index_path, json.dumps(index).encode())
