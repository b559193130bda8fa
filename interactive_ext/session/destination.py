"""A folder or an fsspec URL that files are written to and read from (saved patches, parks).

A local folder (or `file://`) needs nothing: its folders are made 0700 and its files 0600.
Any other URL (`s3://`, `gs://`, `memory://`) goes through fsspec, with credentials from
fsspec's own configuration (environment, config files, instance roles).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import IO, Any

from .atomic import atomic_write
from .ownership import unsafe

FSSPEC_MISSING = (
    "fsspec is not installed: pip install 'interactive_ext[changes]' and the "
    "filesystem's package (s3fs, gcsfs, ...)"
)


def is_remote(url: str) -> bool:
    """Whether url needs fsspec (anything with a scheme but file://)."""
    return "://" in url and not url.startswith("file://")


class Location:
    """One folder, local or remote: its files by name (names may hold `/`)."""

    def __init__(self, url: str) -> None:
        """Resolve url (nothing is created yet); RuntimeError when fsspec is missing."""
        self.fs: Any = None
        if is_remote(url):
            try:
                import fsspec
            except ImportError:
                raise RuntimeError(FSSPEC_MISSING) from None
            self.fs, root = fsspec.core.url_to_fs(url)
            self.root = root.rstrip("/")
        else:
            self.root = str(Path(url.removeprefix("file://")).expanduser().absolute())
        self.url = url

    def path(self, name: str = "") -> str:
        """The full path (local) or URL (remote) of name under this folder."""
        if self.fs is None:
            return os.path.join(self.root, name) if name else self.root
        inner = f"{self.root}/{name}" if name else self.root
        return str(self.fs.unstrip_protocol(inner))

    def child(self, name: str) -> Location:
        """The folder name under this one."""
        return Location(self.path(name) if self.fs is not None else os.path.join(self.root, name))

    def _inner(self, name: str) -> str:
        """name's path inside the file system (local: absolute)."""
        return os.path.join(self.root, name) if self.fs is None else f"{self.root}/{name}"

    def _local_dirs(self, name: str) -> None:
        """Make the local folders down to name's folder, private (0700), in folders that only
        we (or root) can change all the way from `/`, as the session's own parents: no other
        user's folder or link is followed (PermissionError)."""
        folder = Path(os.path.dirname(self._inner(name)))
        existing = next(p for p in (folder, *folder.parents) if p.exists() or p.is_symlink())
        for check in (existing, folder):
            if check == folder and not folder.exists():
                os.makedirs(folder, mode=0o700, exist_ok=True)
            why = unsafe(check)
            if why is not None:
                raise PermissionError(f"{check} {why}: another user could redirect what is written")

    def write_bytes(self, name: str, data: bytes, replace: bool = False) -> str:
        """Write a whole file (a new one unless replace); its path or URL."""
        if self.fs is not None:
            self.fs.pipe_file(self._inner(name), data)
            return self.path(name)
        self._local_dirs(name)
        if replace:
            atomic_write(self._inner(name), data)
        else:
            with self.open_write(name) as f:
                f.write(data)
        return self.path(name)

    def open_write(self, name: str) -> IO[bytes]:
        """A new file open for writing (local: 0600, never through a link or over a file)."""
        if self.fs is not None:
            return self.fs.open(self._inner(name), "wb")  # type: ignore[no-any-return]
        self._local_dirs(name)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        return os.fdopen(os.open(self._inner(name), flags, 0o600), "wb")

    def open_read(self, name: str) -> IO[bytes]:
        """A file open for reading (local: never through a link)."""
        if self.fs is not None:
            return self.fs.open(self._inner(name), "rb")  # type: ignore[no-any-return]
        fd = os.open(self._inner(name), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        return os.fdopen(fd, "rb")

    def read_bytes(self, name: str) -> bytes:
        """A whole file's bytes."""
        with self.open_read(name) as f:
            return f.read()

    def exists(self, name: str = "") -> bool:
        """Whether name (or this folder) exists."""
        if self.fs is None:
            return os.path.lexists(self._inner(name) if name else self.root)
        return bool(self.fs.exists(self._inner(name) if name else self.root))

    def folders(self) -> list[str]:
        """The names of the folders directly under this one ([] when it does not exist)."""
        if self.fs is None:
            try:
                return sorted(e.name for e in os.scandir(self.root) if e.is_dir())
            except (FileNotFoundError, NotADirectoryError):
                return []
        try:
            entries = self.fs.ls(self.root, detail=True, refresh=True)
        except FileNotFoundError:
            return []
        return sorted(
            e["name"].rstrip("/").rsplit("/", 1)[-1] for e in entries if e["type"] == "directory"
        )

    def remove(self) -> None:
        """Delete this folder and everything in it."""
        if self.fs is None:
            shutil.rmtree(self.root)
        else:
            self.fs.rm(self.root, recursive=True)
