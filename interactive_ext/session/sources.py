"""The person's source files: noted at the task's start, compared and checked before a resume.

The task process notes the files of the person's modules (outside the standard library,
site-packages and this package) with their mtime and size; the server checks that the changed
ones compile before it accepts a resume; the task process re-loads them (task/reloader.py).
"""

from __future__ import annotations

import os
import site
import sys
import sysconfig
from functools import cache
from pathlib import Path
from typing import Any

from ..errors import ReloadError

Snapshot = dict[str, list[int]]
"""A module file's path -> [mtime_ns, size]."""


@cache
def _system_dirs() -> tuple[str, ...]:
    """Folders whose modules are not the person's: stdlib, site-packages, this package."""
    dirs = {sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    dirs.update(site.getsitepackages())
    dirs.add(site.getusersitepackages())
    dirs.add(str(Path(__file__).parent.parent))
    return tuple(os.path.realpath(d) + os.sep for d in dirs if d)


@cache
def library_file(filename: str) -> bool:
    """Whether a code file is not the person's: stdlib, site-packages, this package, frozen."""
    if filename.startswith("<frozen "):
        return True
    if filename.startswith("<"):  # exec'd code, a notebook cell: the person's
        return False
    return os.path.realpath(filename).startswith(_system_dirs())


@cache
def _real_dir(folder: str) -> str:
    """A folder's real path (asked once per folder: a 2,000-module tree has few folders)."""
    return os.path.realpath(folder)


def _user_file(module: Any) -> str | None:
    """The module's source file (in its folder's real path) if it is the person's code."""
    file = getattr(module, "__file__", None)
    if not isinstance(file, str) or not file.endswith(".py"):
        return None
    folder, name = os.path.split(file)
    path = os.path.join(_real_dir(folder or os.curdir), name)  # a linked file: stat follows it
    return None if path.startswith(_system_dirs()) else path


def _stat(path: str) -> list[int] | None:
    """[mtime_ns, size] of a file, or None when it is gone."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_mtime_ns, st.st_size]


def snapshot() -> Snapshot:
    """The person's module files now, with their mtime and size."""
    out: Snapshot = {}
    for module in list(sys.modules.values()):
        path = _user_file(module)
        if path is not None and path not in out:
            stat = _stat(path)
            if stat is not None:
                out[path] = stat
    return out


def changed(snap: Snapshot) -> list[str]:
    """The files of snap that changed since (gone files are not re-loaded)."""
    return [p for p, stat in snap.items() if (now := _stat(p)) is not None and now != stat]


def check_sources(snap: Snapshot) -> None:
    """ReloadError when a changed file does not compile (run by the server before a resume)."""
    for path in changed(snap):
        try:
            compile(Path(path).read_bytes(), path, "exec")
        except SyntaxError as e:
            raise ReloadError(
                f"cannot resume: {path}, line {e.lineno}: {e.msg}; fix it, then resume again"
            ) from None
        except (OSError, ValueError) as e:
            raise ReloadError(f"cannot resume: cannot read {path}: {e}") from None
