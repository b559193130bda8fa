"""The session's pickle files: protocol 5, big buffers page-aligned, mapped copy-on-write.

Layout of a file (all integers little-endian)::

    header   HEADER bytes: magic, version, buffer count, in-band length, table offset,
             file length, CRC-32 of the table, CRC-32 of the header before this field
    in-band  the pickle stream (protocol 5), right after the header
    buffers  each out-of-band buffer, starting at a multiple of mmap.ALLOCATIONGRANULARITY
    table    (offset, length) of each buffer, in the pickle's order, at the end

The writer streams: the in-band pickle is kept in memory up to 1 MiB (written in pieces
beyond), then the header, each buffer and the table are written at their offsets (the gaps are
holes, never written). A small pickle is one `pwrite` with its header; a 1 GiB array is one
`pwrite` of 1 GiB, as a raw `pickle.dump` makes one `write` of it; the other calls (strace:
`getrandom` for the temporary name, the header with the stream, the 16-byte table, the
`rename`) take well under a millisecond together.
The reader unpickles the in-band stream from the file, as `pickle.load` does, and gives the
unpickler slices of a copy-on-write mapping (MAP_PRIVATE) of the file for the buffers, so a
NumPy array or a pandas frame comes back backed by the page cache, shared by every process
that loads the file, and a write into it stays private to the process that makes it. A file
without out-of-band buffers is not mapped at all.

Checks on load cost a few hundred bytes of reading, never a pass over the data: the magic,
both CRCs, the version, the length of the file (a truncated file is caught here) and the
bounds and alignment of every buffer. A plain pickle (a file written before this format,
which starts with the PROTO opcode) still loads.
"""

from __future__ import annotations

import mmap
import os
import pickle
import stat
import struct
import zlib
from typing import IO, Any

from .atomic import atomic_write, pwrite_all
from .digest import OFF, Feeder

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
_PROTO = b"\x80"  # a plain pickle of protocol 2 or later starts with this opcode


class PickleFileError(ValueError):
    """A session pickle file that is truncated, corrupt, not of this format, or unsafe."""

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        """Name the file and say what is wrong with it."""
        super().__init__(f"{os.fspath(path)}: {problem}")
        self.path = os.fspath(path)
        self.problem = problem


# -- writing ------------------------------------------------------------------------


class TooBig(ValueError):
    """An object whose pickle passed the cap given to dump (nothing is left on disk)."""


def dump(
    obj: Any,
    path: str | os.PathLike[str],
    cap: int | None = None,
    pickler: type[pickle.Pickler] = pickle.Pickler,
    digest: Feeder = OFF,
) -> None:
    """Pickle obj into path atomically (0600, a rename), big buffers out of band and aligned.

    cap: TooBig once the pickle passes this many bytes (None: no cap); pickler: the class
    that pickles (a subclass may refuse some objects: what it raises leaves no file); digest:
    fed the file's bytes from memory by a thread while they are written (session/digest.py).
    """
    atomic_write(path, lambda fd: _write(fd, obj, cap, pickler, digest))


FLUSH = 1 << 20
"""The in-band stream is kept in memory up to this many bytes before it is written."""


class _Sink:
    """The in-band stream: after room for the header, kept in memory up to FLUSH bytes, then
    written to fd; a chunk of FLUSH bytes or more is written as it is, never copied."""

    def __init__(self, fd: int, cap: int | None) -> None:
        """Nothing written yet; room for the header first."""
        self.fd, self.cap = fd, cap
        self.data = bytearray(HEADER)
        self.at = 0  # bytes of the file written so far
        self.big = 0  # bytes of the out-of-band buffers so far

    def write(self, chunk: Any) -> int:
        """Take a chunk of the pickle stream (bytes, or another buffer for big data)."""
        n = len(chunk) if type(chunk) is bytes else memoryview(chunk).nbytes
        if self.cap is not None and self.inband + n + self.big > self.cap:
            raise TooBig(f"the pickle passes {self.cap} bytes")
        if n >= FLUSH:
            self.flush()
            pwrite_all(self.fd, chunk, self.at)
            self.at += n
        else:
            self.data += chunk
            if len(self.data) >= FLUSH:
                self.flush()
        return n

    def flush(self) -> None:
        """Write what is kept in memory (at first, the header's room with it)."""
        if self.data:
            pwrite_all(self.fd, self.data, self.at)
            self.at += len(self.data)
            self.data = bytearray()

    @property
    def inband(self) -> int:
        """Bytes of the pickle stream so far."""
        return self.at + len(self.data) - HEADER


def _write(
    fd: int, obj: Any, cap: int | None, pickler: type[pickle.Pickler], digest: Feeder
) -> None:
    """Write the whole file to fd (a new, empty file open for writing).

    The in-band pickle goes through a buffer in memory (written once it is big), starting at
    offset HEADER; then the header (with what is still in memory), the big buffers and the
    table are written at their offsets, with no copy. The gaps before the buffers are holes.
    A small pickle without buffers is one write.
    """
    buffers: list[memoryview] = []
    sink = _Sink(fd, cap)

    def out_of_band(buf: pickle.PickleBuffer) -> bool:
        """Keep a big contiguous buffer for later (False); let the pickle hold the rest."""
        try:
            raw = buf.raw()
        except BufferError:  # not contiguous: pickled in band
            return True
        if raw.nbytes < INBAND_MAX:
            return True
        sink.big += raw.nbytes
        if cap is not None and sink.inband + sink.big > cap:
            raise TooBig(f"the pickle passes {cap} bytes")
        buffers.append(raw)
        return False

    pickler(digest.tee(sink), protocol=5, buffer_callback=out_of_band).dump(obj)
    end = HEADER + sink.inband
    inband = sink.inband
    table = bytearray()
    offsets = []
    for raw in buffers:
        offsets.append(end + -end % ALIGN)
        table += _ENTRY.pack(offsets[-1], raw.nbytes)
        end = offsets[-1] + raw.nbytes
    length = end + len(table)
    head = _HEAD.pack(MAGIC, VERSION, len(buffers), inband, end, length, zlib.crc32(table))
    head += _CRC.pack(zlib.crc32(head))
    with digest.feeding(fd, head, offsets, buffers, end, table):
        if sink.at:  # the stream's start is on disk: the rest, then the header at 0
            sink.flush()
            pwrite_all(fd, head, 0)
        else:  # the header and the whole stream, in one write
            sink.data[:HEADER] = head
            pwrite_all(fd, sink.data, 0)
        for raw, offset in zip(buffers, offsets, strict=True):
            pwrite_all(fd, raw, offset)
        if table:
            pwrite_all(fd, table, end)


# -- reading ------------------------------------------------------------------------


def load(path: str | os.PathLike[str], lenient: bool = False) -> Any:
    """Unpickle path; its big buffers come from a copy-on-write mapping, never copied.

    lenient: an object whose class cannot be imported here becomes a Missing placeholder
    naming it and why, instead of failing the whole load.
    """
    with _open(path) as f:
        head = f.read(HEADER)
        if head[:1] == _PROTO:
            f.seek(0)
            return _unpickle(path, f, [], lenient)
        table = _layout(path, head, f)
        if not table:
            return _unpickle(path, f, [], lenient)
        mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)
        view = memoryview(mapped)
        return _unpickle(path, f, [view[offset : offset + n] for offset, n in table], lenient)


def modules_needed(path: str | os.PathLike[str]) -> set[str]:
    """The top-level modules whose classes path's pickle streams name (nested pickles too)."""
    with _open(path) as f:
        head = f.read(HEADER)
        if head[:1] == _PROTO:
            f.seek(0)
            stream = f.read()
        else:
            _layout(path, head, f)
            stream = f.read(_HEAD.unpack(head[: _HEAD.size])[3])
    found: set[str] = set()
    _scan(stream, found)
    return found


def _scan(stream: bytes, found: set[str]) -> None:
    """Add the modules one pickle stream names (GLOBAL, STACK_GLOBAL) to found."""
    import pickletools

    strings: list[str] = []
    try:
        for op, arg, _ in pickletools.genops(stream):
            if op.name == "GLOBAL":
                found.add(str(arg).split(" ", 1)[0].split(".", 1)[0])
            elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
                found.add(strings[-2].split(".", 1)[0])
            elif isinstance(arg, str):
                strings.append(arg)
            elif isinstance(arg, bytes) and arg[:1] == _PROTO:
                _scan(arg, found)
    except (ValueError, EOFError):  # not a pickle after all: what was read counts
        return


class Missing:
    """An object whose class does not import here: its name and why (the load goes on)."""

    name = ""
    why = ""

    def __new__(cls, *args: Any, **kwargs: Any) -> Missing:
        """Built from any arguments the pickle gives."""
        return object.__new__(cls)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Keep the arguments."""
        self.__dict__["args"] = args

    def __setstate__(self, state: Any) -> None:
        """Keep the state."""
        self.__dict__["state"] = state

    def __repr__(self) -> str:
        """Say what it is and why it is not here."""
        return f"<{self.name} not loaded here: {self.why}>"


def missing(module: str, name: str, why: str) -> type[Missing]:
    """A Missing class standing for module.name."""
    return type(name, (Missing,), {"name": f"{module}.{name}", "why": why})


class _Lenient(pickle.Unpickler):
    """An unpickler that gives a Missing class for a class that does not import."""

    def find_class(self, module: str, name: str) -> Any:
        """The class, or a Missing class saying why not."""
        return _found(super().find_class, module, name)


def _found(find: Any, module: str, name: str) -> Any:
    """find(module, name), or a Missing class saying why it is not here."""
    try:
        return find(module, name)
    except (ImportError, AttributeError) as e:
        return missing(module, name, f"{type(e).__name__}: {e}")


def check(path: str | os.PathLike[str]) -> None:
    """Raise PickleFileError unless path's header and table are sound (nothing unpickled)."""
    with _open(path) as f:
        head = f.read(HEADER)
        if head[:1] != _PROTO:
            _layout(path, head, f)


def _open(path: str | os.PathLike[str]) -> IO[bytes]:
    """Open the regular file at path (no symlink followed) for reading."""
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
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _layout(path: str | os.PathLike[str], head: bytes, f: IO[bytes]) -> list[tuple[int, int]]:
    """Check the header and the table; each buffer's (offset, length).

    f is left at the start of the in-band pickle.
    """
    size = os.fstat(f.fileno()).st_size
    start = head[: len(MAGIC)]
    if not MAGIC.startswith(start):
        raise PickleFileError(
            path, f"not a session pickle (starts with {start!r}, not {MAGIC!r} or a plain pickle)"
        )
    if size < HEADER:
        raise PickleFileError(
            path, f"truncated: {size} bytes, shorter than its {HEADER}-byte header"
        )
    (crc,) = _CRC.unpack(head[_HEAD.size : HEADER])
    if zlib.crc32(head[: _HEAD.size]) != crc:
        raise PickleFileError(path, "corrupt header (its checksum does not match)")
    _, version, count, inband, table_offset, length, table_crc = _HEAD.unpack(head[: _HEAD.size])
    if version != VERSION:
        raise PickleFileError(path, f"format version {version}; this reader knows {VERSION}")
    if size != length:
        problem = "truncated" if size < length else "longer than written"
        raise PickleFileError(path, f"{problem}: {size} bytes, the header says {length}")
    if table_offset + count * _ENTRY.size != length or HEADER + inband > table_offset:
        raise PickleFileError(path, "corrupt header (inconsistent offsets)")
    table = os.pread(f.fileno(), length - table_offset, table_offset)
    if zlib.crc32(table) != table_crc:
        raise PickleFileError(path, "corrupt buffer table (its checksum does not match)")
    entries = [_ENTRY.unpack_from(table, i * _ENTRY.size) for i in range(count)]
    end = HEADER + inband
    for offset, n in entries:
        if offset % ALIGN or offset < end or offset + n > table_offset:
            raise PickleFileError(path, f"corrupt buffer table (buffer at {offset}, {n} bytes)")
        end = offset + n
    return entries


class _LenientRebuild(pickle._Unpickler):
    """The pure-Python unpickler, lenient also when an object's rebuild raises (a CUDA tensor
    on a machine without a GPU): that object becomes a Missing placeholder saying why."""

    dispatch = dict(pickle._Unpickler.dispatch)

    def find_class(self, module: str, name: str) -> Any:
        """The class, or a Missing class saying why not."""
        return _found(super().find_class, module, name)

    def load_reduce(self) -> None:
        """REDUCE: call the rebuild; a failure leaves a Missing object in its place."""
        stack: list[Any] = self.stack  # type: ignore[attr-defined]
        args = stack.pop()
        func = stack[-1]
        try:
            stack[-1] = func(*args)
        except Exception as e:
            name = getattr(func, "__qualname__", type(func).__name__)
            why = f"{type(e).__name__}: {e}"
            stack[-1] = missing(getattr(func, "__module__", "?"), name, why)()

    dispatch[pickle.REDUCE[0]] = load_reduce  # type: ignore[assignment]


def _unpickle(
    path: str | os.PathLike[str], f: IO[bytes], buffers: list[memoryview], lenient: bool = False
) -> Any:
    """Unpickle from f (at the stream's start) with the buffers; a damaged stream is a
    PickleFileError naming path. lenient: an object that does not load here is a Missing."""
    kind = _Lenient if lenient else pickle.Unpickler
    start = f.tell()
    try:
        try:
            return kind(f, buffers=buffers).load()
        except (pickle.UnpicklingError, EOFError):
            raise
        except Exception:
            if not lenient:
                raise
        f.seek(start)  # again, slower, with each rebuild that fails here replaced
        return _LenientRebuild(f, buffers=buffers).load()
    except (pickle.UnpicklingError, EOFError) as e:
        raise PickleFileError(path, f"corrupt pickle data ({e})") from None
