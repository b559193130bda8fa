"""The digests of parked files: BLAKE3 of a file's bytes, some computed while writing it.

A session pickle written while parking is configured is hashed as it is written (a thread
hashes its bytes from memory while they go to disk, session/pickles.py); its digest is kept
here, in this process, with the file's identity (device, inode, size, mtime), so parking a file
that has not changed since then uses it instead of reading the file back. Any other file is
hashed when it is parked, on every core. The manifest names the algorithm of each file's
digest; a session parked before BLAKE3 names SHA-256, which is still checked.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

ALGORITHM = "blake3"
"""The algorithm of the digests written (a manifest entry's key)."""
CHECKED = (ALGORITHM, "sha256")
"""The algorithms a manifest entry may name, the first found checked."""
KEPT_MAX = 64
"""Digests kept at most (the oldest forgotten first): a session writes a few pickles."""
KEEP_MAX = 64 << 20
"""A pickle's in-band bytes kept in memory for its digest up to this size (beyond: none)."""

Identity = tuple[int, int, int, int]
_known: dict[Identity, str] = {}
_lock = threading.Lock()


def hasher(algorithm: str = ALGORITHM, threads: bool = True) -> Any:
    """A new hash object of algorithm; threads: BLAKE3 on every core (not while writing)."""
    if algorithm == "sha256":
        return hashlib.sha256()
    from blake3 import blake3  # imported by the processes that hash only

    return blake3(max_threads=blake3.AUTO if threads else 1)


def identity(st: os.stat_result) -> Identity:
    """What tells a file from its later versions: device, inode, size, modification time."""
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def remember(st: os.stat_result, hexdigest: str) -> None:
    """Keep the digest of the file whose status is st (as it was written)."""
    with _lock:
        _known[identity(st)] = hexdigest
        while len(_known) > KEPT_MAX:
            del _known[next(iter(_known))]


def known(st: os.stat_result) -> str | None:
    """The digest kept for the file whose status is st, when it is that very version."""
    with _lock:
        return _known.get(identity(st))


def of_file(path: Path) -> str:
    """The digest of the file at path: the one kept when it has not changed, else read (mapped,
    hashed on every core)."""
    st = os.stat(path, follow_symlinks=False)
    found = known(st)
    if found is not None:
        return found
    h = hasher()
    if st.st_size:
        h.update_mmap(path)
    return str(h.hexdigest())


def expected(entry: dict[str, Any]) -> tuple[str, str] | None:
    """The (algorithm, digest) a manifest entry names; None when it names none checked here."""
    for algorithm in CHECKED:
        value = entry.get(algorithm)
        if isinstance(value, str):
            return algorithm, value
    return None


class Hasher(Protocol):
    """A hash object (hashlib's, blake3's) whose update releases the GIL for big buffers."""

    def update(self, data: Any, /) -> Any:
        """Feed it bytes."""

    def hexdigest(self) -> str:
        """The digest so far, in hex."""


Pieces = list[tuple[int, Any]]
"""A file's pieces: (offset, bytes) in order; the gaps between them are holes (zeros)."""


class Feeder:
    """Hashes a pickle file from memory while it is written (session/pickles.py): the in-band
    stream is kept as it goes by (up to KEEP_MAX), then a thread feeds the hash the file's
    pieces in order while they are written; written: the file's status once all were fed."""

    def __init__(self, h: Hasher) -> None:
        """Feed h."""
        self.h = h
        self.out: Any = None
        self.parts: list[bytes] | None = []
        self.left = KEEP_MAX
        self.written: os.stat_result | None = None

    def tee(self, out: Any) -> Any:
        """The writer the pickle goes to: out's, keeping a copy."""
        self.out = out
        return self

    def write(self, data: Any) -> int:
        """Write data on to out, and keep a copy of it while there is room."""
        n = int(self.out.write(data))
        if self.parts is not None:
            self.left -= memoryview(data).nbytes
            if self.left < 0:
                self.parts = None
            else:
                self.parts.append(bytes(data))
        return n

    @contextlib.contextmanager
    def feeding(
        self, fd: int, head: bytes, offsets: list[int], buffers: list[Any], end: int, table: Any
    ) -> Iterator[None]:
        """While the block writes the pickle file fd, a thread feeds the hash its bytes: the
        header, the stream kept (right after it), each buffer at its offset, the table at end."""
        if self.parts is None:  # too big to have kept: no digest
            yield
            return
        pieces: Pieces = [(0, head)]
        for part in self.parts:
            pieces.append((pieces[-1][0] + len(pieces[-1][1]), part))
        pieces += [*zip(offsets, buffers, strict=True), (end, table)]
        fed = list[bool]()
        thread = threading.Thread(target=feed, args=(self.h, pieces, fed), name="digest")
        thread.start()
        try:
            yield
        finally:
            thread.join()
        if fed:
            self.written = os.fstat(fd)


class _Off(Feeder):
    """No digest: the pickle goes straight to its writer, nothing is kept or fed."""

    def tee(self, out: Any) -> Any:
        """out itself."""
        return out

    def feeding(self, *args: Any) -> Any:
        """Nothing done."""
        return _NOTHING


_NOTHING = contextlib.nullcontext()


OFF = _Off(hashlib.sha256())
"""pickles.dump's default: no digest."""


def feed(h: Hasher, pieces: Pieces, fed: list[bool]) -> None:
    """Feed h a file's bytes from its pieces, in order, the gaps as zeros; then note in fed
    that it was fed them all."""
    at = 0
    for offset, data in pieces:
        if offset > at:
            h.update(bytes(offset - at))
        h.update(data)
        at = offset + memoryview(data).nbytes
    fed.append(True)
