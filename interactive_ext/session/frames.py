"""The failure's frames in frames.pkl, and a real traceback rebuilt from them in a kernel.

The task process (task/capture.py) writes a FramesRecord: each frame of the failure, innermost
last, with its location and its locals, pickled with the record in one pass, or frame by frame
and local by local when that pass fails (protocol 5, big buffers out of band, so the session
file maps them copy-on-write in every kernel). A kernel
rebuilds a traceback whose frames are real frame objects: one small code object per frame,
compiled with the task's file name, function name, first line and failing line, executed with
the frame's locals as its namespace, and the traceback entries linked with `tb_next`. pdb, IPython's
debugger and `traceback` read them as they read any traceback: `list` shows the task's source.
"""

from __future__ import annotations

import importlib
import itertools
import logging
import pickle
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("interactive_ext")

COMPREHENSIONS = ("<listcomp>", "<dictcomp>", "<setcomp>", "<genexpr>")
"""Frames that are not a function of the person's code (their own frames before Python 3.12):
the innermost frame offered to a person is the function's around them."""


@dataclass
class Placeholder:
    """A local that is not here: its type, a short repr, and why (does not pickle, budget...)."""

    type: str
    repr: str
    why: str

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as a call with its three fields."""
        return (Placeholder, (self.type, self.repr, self.why))

    def __repr__(self) -> str:
        """Say what the local was and why it is missing."""
        return f"<{self.type} not captured ({self.why}): {self.repr}>"


@dataclass
class InputRef:
    """A local that is one of the task's inputs (the very object): read from inputs.pkl."""

    name: str

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as a call with its name."""
        return (InputRef, (self.name,))


Inputs = Callable[[], dict[str, Any]]
"""Gives the task's inputs as inputs.pkl holds them, for the InputRef locals."""


@dataclass
class Pickled:
    """One local pickled on its own: the in-band stream and its big buffers (out of band)."""

    data: bytes
    buffers: list[Any] = field(default_factory=list)
    """PickleBuffers when written; memoryviews of the session file's mapping when read."""
    type: str = ""
    """The local's type, named by the placeholder when it does not unpickle."""

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as a call with its fields (faster than a dataclass's state)."""
        return (Pickled, (self.data, self.buffers, self.type))

    @property
    def size(self) -> int:
        """The bytes this local takes in the file."""
        return len(self.data) + sum(memoryview(b).nbytes for b in self.buffers)

    def value(self) -> Any:
        """The local's value (its big buffers stay in the mapping, not copied)."""
        return pickle.loads(self.data, buffers=self.buffers)


@dataclass
class Member:
    """A local pickled with the other locals of its frame, in one pass: that pickle, its name."""

    group: Pickled
    """Locals pickled together: a dict of name to value (the frames' pickle: of frame to its
    locals)."""
    name: str

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as a call with its fields."""
        return (Member, (self.group, self.name))


@dataclass
class FrameRecord:
    """One frame of the failure: where it was, and its locals (None: not captured)."""

    filename: str
    name: str
    firstlineno: int
    lineno: int
    line: str
    module: str | None
    locals: dict[str, Any] | Member | None
    """The frame's locals as they are, pickled with the record in one pass; when that pass
    failed, a dict of each local: a Member of the frame's own pickle, pickled on its own when
    that failed too, a Placeholder, or a small scalar as it is (a Member of every frame's
    pickle in files written before the one pass)."""
    modules: dict[str, str] = field(default_factory=dict)
    """Globals of the frame bound to library modules: name -> module (re-imported here)."""

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as a call with its fields (faster than a dataclass's state)."""
        return (
            FrameRecord,
            (
                self.filename,
                self.name,
                self.firstlineno,
                self.lineno,
                self.line,
                self.module,
                self.locals,
                self.modules,
            ),
        )


@dataclass
class FramesRecord:
    """The frames of one failure (frames.pkl), innermost last, and what the budget left out."""

    error: str
    """`Type: message` of the failure these frames belong to (checked against error.json)."""
    frames: list[FrameRecord]
    budget: int
    written: int
    """Bytes of locals written (the file's size, when they were pickled with the record)."""
    left_out: list[str] = field(default_factory=list)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as a call with its fields."""
        return (FramesRecord, (self.error, self.frames, self.budget, self.written, self.left_out))


@dataclass
class TaskFrame:
    """A frame of the task's failure as a kernel sees it: where, and its locals."""

    name: str
    filename: str
    lineno: int
    line: str
    locals: dict[str, Any] | None
    """The frame's locals (a Placeholder for each one not captured); None: a library frame."""

    def __repr__(self) -> str:
        """File, line, function and the names of its locals."""
        names = "not captured" if self.locals is None else ", ".join(self.locals) or "none"
        return f"<frame {self.name} at {self.filename}:{self.lineno}; locals: {names}>"


def local_values(
    frame: FrameRecord, memo: dict[int, Any], inputs: Inputs | None = None
) -> dict[str, Any] | None:
    """The frame's locals; one that does not unpickle here is a Placeholder saying why.

    memo maps each kept value already loaded (by id) to its object, so that an object the
    task passed down several frames is one object here too; an input is the object
    inputs() gives (the mapping load_inputs() shares).
    """
    if frame.locals is None:
        return None
    kept_locals = frame.locals
    if isinstance(kept_locals, Member):  # the frame's locals, pickled with every frame's
        kept_locals = _load(kept_locals, memo, inputs)
        if not isinstance(kept_locals, dict):  # the one pass does not unpickle here
            return {"<locals>": kept_locals}
    out: dict[str, Any] = {}
    for name, kept in kept_locals.items():
        if id(kept) not in memo:
            memo[id(kept)] = _load(kept, memo, inputs)
        out[name] = memo[id(kept)]
    return out


def _load(kept: Any, memo: dict[int, Any], inputs: Inputs | None = None) -> Any:
    """A kept local's value, or a Placeholder (memo: the frames' pickles already loaded)."""
    if isinstance(kept, InputRef):
        try:
            return (inputs() if inputs else {})[kept.name]
        except Exception as e:  # inputs.pkl missing, damaged, or without it
            return Placeholder("?", "", f"the input {kept.name} does not load here: {e!r}")
    if isinstance(kept, Member):
        if id(kept.group) not in memo:
            memo[id(kept.group)] = _load(kept.group, memo)
        values = memo[id(kept.group)]
        return values[kept.name] if isinstance(values, dict) else values
    if not isinstance(kept, Pickled):
        return kept
    try:
        return kept.value()
    except Exception as e:  # a class of the task's __main__, a package not installed here
        return Placeholder(kept.type, "", f"does not unpickle here: {type(e).__name__}: {e}")


def task_frames(record: FramesRecord, inputs: Inputs | None = None) -> list[TaskFrame]:
    """The record's frames with their locals, innermost last."""
    memo: dict[int, Any] = {}
    return [
        TaskFrame(f.name, f.filename, f.lineno, f.line, local_values(f, memo, inputs))
        for f in record.frames
    ]


def _namespace(frame: FrameRecord, values: dict[str, Any] | None) -> dict[str, Any]:
    """What pdb's `p name` sees in a frame: its module (when this kernel imported it), the
    library modules its globals bound (np, torch), then its locals."""
    ns: dict[str, Any] = {}
    module = sys.modules.get(frame.module or "")
    if module is not None and frame.module != "__main__":
        ns.update(vars(module))
    for name, module_name in frame.modules.items():
        try:
            ns[name] = importlib.import_module(module_name)
        except Exception as e:
            log.debug("cannot import %s for frame %s: %s", module_name, frame.name, e)
    ns.update(values or {})
    ns.setdefault("__name__", frame.module or "__main__")
    return ns


class _Raised(Exception):
    """Raised by a rebuilt frame's code, caught at once: it leaves a real frame behind."""


def _svarint(value: int) -> bytes:
    """A signed varint of CPython's location table (6-bit chunks, 0x40 continues)."""
    v = (-value << 1) | 1 if value < 0 else value << 1
    out = bytearray()
    while v >= 0x40:
        out.append(0x40 | (v & 0x3F))
        v >>= 6
    out.append(v)
    return bytes(out)


def _line_only(units: int, delta: int) -> bytes:
    """A location table putting every instruction on first line + delta, with no columns
    (so tracebacks underline nothing instead of the wrong part of the task's line)."""
    out = bytearray()
    while units > 0:
        n = min(units, 8)
        out.append(0x80 | (13 << 3) | (n - 1))  # code 13: a line delta, no column
        out += _svarint(delta)
        delta, units = 0, units - n
    return bytes(out)


def _code(frame: FrameRecord) -> types.CodeType:
    """A code object raising at the frame's line, named and placed as the task's function."""
    lineno = max(frame.lineno, 1)
    first = frame.firstlineno if 0 < frame.firstlineno <= lineno else lineno
    code = compile("\n" * (lineno - first) + "raise __raised__", frame.filename, "exec")
    if sys.version_info < (3, 11):
        return code.replace(co_name=frame.name, co_firstlineno=first)
    units = len(code.co_code) // 2
    return code.replace(
        co_name=frame.name,
        co_qualname=frame.name,
        co_firstlineno=first,
        co_linetable=_line_only(units, lineno - first),
    )


def _traceback(frame: FrameRecord, ns: dict[str, Any]) -> types.TracebackType:
    """One traceback entry: a real frame at the task's line with ns as its locals."""
    ns["__raised__"] = _Raised()
    try:
        exec(_code(frame), ns)
    except _Raised:
        tb = sys.exc_info()[2]
        assert tb is not None and tb.tb_next is not None
        return tb.tb_next
    finally:
        ns.pop("__raised__", None)
    raise RuntimeError(f"the rebuilt frame {frame.name} did not raise")


def rebuild(
    exc: BaseException, record: FramesRecord, inputs: Inputs | None = None
) -> BaseException:
    """exc with a traceback of the record's frames (each with its locals), outermost first."""
    memo: dict[int, Any] = {}
    values = [local_values(f, memo, inputs) for f in record.frames]
    entries = [_traceback(f, _namespace(f, v)) for f, v in zip(record.frames, values, strict=True)]
    for outer, inner in itertools.pairwise(entries):
        outer.tb_next = inner
    return exc.with_traceback(entries[0] if entries else None)
