"""The session's pickle files: protocol 5, big buffers page-aligned, mapped copy-on-write.

Layout of a file (all integers little-endian)::

    header   HEADER bytes: magic, version, buffer count, in-band length, table offset,
             file length, CRC-32 of the table, CRC-32 of the header before this field
    in-band  the pickle stream (protocol 5), right after the header
    buffers  each out-of-band buffer, starting at a multiple of mmap.ALLOCATIONGRANULARITY
    table    (offset, length) of each buffer, in the pickle's order, at the end

The writer streams: the in-band pickle goes straight to the file, then each buffer, then the
table, and the header is written last (over the zeros left for it). The reader maps the whole
file copy-on-write (MAP_PRIVATE) and gives the unpickler slices of the mapping, so a NumPy
array or a pandas frame comes back backed by the page cache, shared by every process that
loads the file, and a write into it stays private to the process that makes it.

Checks on load cost a few hundred bytes of reading, never a pass over the data: the magic,
both CRCs, the version, the length of the file (a truncated file is caught here) and the
bounds and alignment of every buffer. A plain pickle (a file written before this format,
which starts with the PROTO opcode) still loads, unpickled from the mapping.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import pickle
import stat
import struct
import tempfile
import zlib
from pathlib import Path
from typing import IO, Any

MAGIC = b"\x89IXPKL\r\n"
"""First bytes of a file: not a pickle opcode, and mangled by any text-mode copy."""
VERSION = 1
ALIGN = mmap.ALLOCATIONGRANULARITY
INBAND_MAX = 64 * 1024
"""Buffers smaller than this stay in the pickle stream: padding them to a page would waste
more than it saves (at most ALIGN / INBAND_MAX, about 6 %, is lost to padding)."""

_HEAD = struct.Struct("<8sIIQQQI")  # magic, version, count, inband, table, length, table crc
_CRC = struct.Struct("<I")
HEADER = _HEAD.size + _CRC.size
_ENTRY = struct.Struct("<QQ")  # offset, length of one buffer
_PROTO = 0x80  # a plain pickle of protocol 2 or later starts with this opcode


class PickleFileError(ValueError):
    """A session pickle file that is truncated, corrupt, not of this format, or unsafe."""

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        """Name the file and say what is wrong with it."""
        super().__init__(f"{os.fspath(path)}: {problem}")
        self.path = os.fspath(path)
        self.problem = problem


# -- writing ------------------------------------------------------------------------


def dump(obj: Any, path: str | os.PathLike[str]) -> None:
    """Pickle obj into path atomically (0600, a rename), big buffers out of band and aligned."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            _write(f, obj)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _write(f: IO[bytes], obj: Any) -> None:
    """Stream the whole file into f (open for writing at offset 0, seekable)."""
    f.write(bytes(HEADER))
    buffers: list[memoryview] = []

    def out_of_band(buf: pickle.PickleBuffer) -> bool:
        """Keep a big contiguous buffer for later (False); let the pickle hold the rest."""
        try:
            raw = buf.raw()
        except BufferError:  # not contiguous: pickled in band
            return True
        if raw.nbytes < INBAND_MAX:
            return True
        buffers.append(raw)
        return False

    pickle.Pickler(f, protocol=5, buffer_callback=out_of_band).dump(obj)
    inband = f.tell() - HEADER
    table = bytearray()
    for raw in buffers:
        offset = _pad(f)
        f.write(raw)
        table += _ENTRY.pack(offset, raw.nbytes)
    table_offset = f.tell()
    f.write(table)
    length = f.tell()
    head = _HEAD.pack(MAGIC, VERSION, len(buffers), inband, table_offset, length, zlib.crc32(table))
    f.seek(0)
    f.write(head + _CRC.pack(zlib.crc32(head)))


def _pad(f: IO[bytes]) -> int:
    """Write zeros up to the next multiple of ALIGN; the offset reached."""
    pos = f.tell()
    gap = -pos % ALIGN
    if gap:
        f.write(bytes(gap))
    return pos + gap


# -- reading ------------------------------------------------------------------------


def load(path: str | os.PathLike[str]) -> Any:
    """Unpickle path from a copy-on-write mapping: big buffers are shared, never copied."""
    view = memoryview(_map(path))
    if view.nbytes >= 1 and view[0] == _PROTO:
        return _unpickle(path, view, [])
    inband, table = _layout(path, view)
    buffers = [view[offset : offset + n] for offset, n in table]
    return _unpickle(path, view[HEADER : HEADER + inband], buffers)


def check(path: str | os.PathLike[str]) -> None:
    """Raise PickleFileError unless path's header and table are sound (nothing unpickled)."""
    mapped = _map(path)
    view = memoryview(mapped)
    try:
        if not (view.nbytes >= 1 and view[0] == _PROTO):
            _layout(path, view)
    finally:
        view.release()
        mapped.close()


def _map(path: str | os.PathLike[str]) -> mmap.mmap:
    """Map the regular file at path (no symlink followed) privately, copy-on-write."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(path, flags)
    except OSError as e:
        if os.path.islink(path):
            raise PickleFileError(path, "is a symbolic link; refused") from None
        if isinstance(e, FileNotFoundError):
            raise
        raise PickleFileError(path, f"cannot be opened ({e.strerror})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise PickleFileError(path, "is not a regular file")
        if st.st_size == 0:
            raise PickleFileError(path, "is empty (truncated before anything was written)")
        return mmap.mmap(fd, 0, access=mmap.ACCESS_COPY)
    finally:
        os.close(fd)


def _layout(path: str | os.PathLike[str], view: memoryview) -> tuple[int, list[tuple[int, int]]]:
    """Check the header and the table; the in-band length and each buffer's (offset, length)."""
    size = view.nbytes
    start = bytes(view[: len(MAGIC)])
    if not MAGIC.startswith(start):
        raise PickleFileError(
            path, f"not a session pickle (starts with {start!r}, not {MAGIC!r} or a plain pickle)"
        )
    if size < HEADER:
        raise PickleFileError(
            path, f"truncated: {size} bytes, shorter than its {HEADER}-byte header"
        )
    head = view[: _HEAD.size]
    (crc,) = _CRC.unpack(view[_HEAD.size : HEADER])
    if zlib.crc32(head) != crc:
        raise PickleFileError(path, "corrupt header (its checksum does not match)")
    _, version, count, inband, table_offset, length, table_crc = _HEAD.unpack(head)
    if version != VERSION:
        raise PickleFileError(path, f"format version {version}; this reader knows {VERSION}")
    if size != length:
        problem = "truncated" if size < length else "longer than written"
        raise PickleFileError(path, f"{problem}: {size} bytes, the header says {length}")
    if table_offset + count * _ENTRY.size != length or HEADER + inband > table_offset:
        raise PickleFileError(path, "corrupt header (inconsistent offsets)")
    table = view[table_offset:length]
    if zlib.crc32(table) != table_crc:
        raise PickleFileError(path, "corrupt buffer table (its checksum does not match)")
    entries = [_ENTRY.unpack_from(table, i * _ENTRY.size) for i in range(count)]
    end = HEADER + inband
    for offset, n in entries:
        if offset % ALIGN or offset < end or offset + n > table_offset:
            raise PickleFileError(path, f"corrupt buffer table (buffer at {offset}, {n} bytes)")
        end = offset + n
    return inband, entries


def _unpickle(path: str | os.PathLike[str], data: memoryview, buffers: list[memoryview]) -> Any:
    """pickle.loads with the buffers; a damaged stream is a PickleFileError naming path."""
    try:
        return pickle.loads(data, buffers=buffers)
    except (pickle.UnpicklingError, EOFError) as e:
        raise PickleFileError(path, f"corrupt pickle data ({e})") from None
