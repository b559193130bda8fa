"""Who could change a folder: the ownership checks of every folder the package writes into
(the session's parents, the starter notebook's and the kernels' folders, destinations)."""

from __future__ import annotations

import os
import stat


def _unsafe_dir(folder: str) -> str | None:
    """Why others could swap entries of this one directory, or None."""
    try:
        st = os.stat(folder)
    except OSError as e:
        return f"cannot be used ({e.strerror})"
    if not stat.S_ISDIR(st.st_mode):
        return "is not a directory"
    if st.st_uid not in (0, os.geteuid()):
        return f"belongs to uid {st.st_uid}"
    if st.st_mode & 0o022 and not st.st_mode & stat.S_ISVTX:
        return f"is writable by others (mode {stat.S_IMODE(st.st_mode):o}) without the sticky bit"
    return None


def _ancestors(path: str) -> list[str]:
    """The root, then each directory down to path (an absolute path)."""
    parts = [p for p in path.split(os.sep) if p]
    return [os.sep + os.sep.join(parts[:i]) for i in range(len(parts) + 1)]


def unsafe(folder: str | os.PathLike[str]) -> str | None:
    """Why others could swap files in folder or in a folder above it, or None.

    Every directory from `/` down to folder, as written and as its links resolve, must belong to
    us or root and be unwritable by others, or sticky (as OpenSSH checks the folders above
    `authorized_keys`): else another user could rename a folder on the way and rebuild the path.
    """
    given = os.path.abspath(folder)
    for path in dict.fromkeys([given, os.path.realpath(given)]):
        for above in _ancestors(path):
            why = _unsafe_dir(above)
            if why is not None:
                return why if above == path else f"is inside {above}, which {why}"
    return None


def shared(folder: str | os.PathLike[str]) -> str | None:
    """Why another user could add a file to folder (a module a kernel would import), or None.

    Stricter than unsafe() for the folder itself: a sticky folder such as /tmp still lets
    anyone create new files in it.
    """
    try:
        st = os.stat(folder)
    except OSError as e:
        return f"cannot be used ({e.strerror})"
    if st.st_uid not in (0, os.geteuid()):
        return f"belongs to uid {st.st_uid}"
    if st.st_mode & 0o022:
        return f"is writable by others (mode {stat.S_IMODE(st.st_mode):o})"
    return unsafe(folder)
