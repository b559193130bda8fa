"""The one atomic writer: a new private file beside the target, written, then renamed over it.

Every file the package writes whole goes through `atomic_write`: the session's JSON and pickle
files, the server's config and ready files, the CLI's --output. A reader sees the old file or
the new one, never a part. No fsync: readers are processes of this machine, and a session does
not outlive a crash of the machine anyway.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable

PRIVATE = 0o600
"""Readable and writable by the owner only: the default of every file written here."""

_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def atomic_write(
    path: str | os.PathLike[str], data: bytes | Callable[[int], None], mode: int = PRIVATE
) -> None:
    """Write path atomically (a rename), with mode (0600 unless given; the umask applies).

    data is the bytes, or a function that writes them into the new file's descriptor (so a
    large pickle streams to disk, at the offsets it chooses, instead of being built in memory).
    """
    target = os.fspath(path)
    fd, tmp = _create_beside(target, mode)
    try:
        try:
            if callable(data):
                data(fd)
            else:
                pwrite_all(fd, data, 0)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _create_beside(target: str, mode: int) -> tuple[int, str]:
    """Create a new file next to target (never an existing one, never through a link).

    tempfile.mkstemp does the same, at a cost that shows in the time of writing 10 MiB.
    """
    folder, name = os.path.split(target)
    for _ in range(100):
        tmp = os.path.join(folder, f".{name}.{os.urandom(6).hex()}.tmp")
        try:
            return os.open(tmp, _FLAGS, mode), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name next to {target}")


def pwrite_all(fd: int, data: bytes | bytearray | memoryview, offset: int) -> None:
    """Write all of data at offset (a single write may be short, e.g. past 2 GiB on Linux)."""
    view = memoryview(data).cast("B")
    while view.nbytes:
        n = os.pwrite(fd, view, offset)
        view, offset = view[n:], offset + n
