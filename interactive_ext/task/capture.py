"""Capture at the failure: the task's frames with their locals, written for the kernels.

Each frame of the person's code keeps its function, file, lines and locals; the record is
pickled with every frame's locals in one pass, straight into frames.pkl (protocol 5, big
buffers out of band, an object in several frames written once). When that pass fails, each
frame's locals get one pass of their own, and when that fails too, each local is pickled on its
own, so one that does not pickle (a lock, a socket, a generator) becomes a Placeholder with its
type and a short repr, and the others are kept; an object of the task's `__main__`, which a
kernel may fail to load, also stops a pass. Frames of the standard library and site-packages
keep their location only (unless capture_library_frames), the wrapper's own frames are left
out. The budget bounds the bytes written: the innermost frames are served first, a local that
would pass the budget is a Placeholder and is named in the record. Nothing here ever raises
into the task's run.
"""

from __future__ import annotations

import contextlib
import io
import linecache
import logging
import os
import pickle
import reprlib
import types
from pathlib import Path
from typing import Any

from ..options import Options
from ..protocol import FRAMES
from ..session.directory import Session
from ..session.frames import FrameRecord, FramesRecord, InputRef, Member, Pickled, Placeholder
from ..session.pickles import INBAND_MAX
from ..session.sources import library_file

log = logging.getLogger("interactive_ext")

PACKAGE = str(Path(__file__).resolve().parent.parent) + os.sep
"""This package's folder: its frames (the wrapper calling the task) are not the task's."""
MIB = 1024 * 1024
_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 120


SCALARS = (int, float, bool, complex, type(None))
TEXT = (str, bytes)
SMALL_TEXT = 4096
"""Locals of these exact types (text up to this length) go into the record as they are."""
_NOT_SMALL = object()


class _OverBudget(Exception):
    """A local's pickle passed what is left of the budget."""


class _Separate(Exception):
    """A frame's locals are pickled each on its own (one of them is of the task's __main__)."""


class _Capped(io.BytesIO):
    """An in-memory pickle stream that stops once it passes cap bytes."""

    def __init__(self, cap: int) -> None:
        """An empty stream allowed cap bytes."""
        super().__init__()
        self.cap = cap

    def write(self, data: Any) -> int:
        """Write, then stop the pickling if the stream passed its cap."""
        n = super().write(data)
        if self.tell() > self.cap:
            raise _OverBudget
        return n


def type_name(value: Any) -> str:
    """The value's type as a person writes it."""
    kind = type(value)
    if kind.__module__ == "builtins":
        return kind.__qualname__
    return f"{kind.__module__}.{kind.__qualname__}"


def short_repr(value: Any) -> str:
    """A repr of at most ~120 characters that never raises."""
    try:
        return _REPR.repr(value)
    except Exception as e:
        return f"<repr failed: {type(e).__name__}>"


class _OnePass(pickle.Pickler):
    """Pickles the record with every frame's locals in one pass; stops at an object of the
    task's `__main__` (a kernel may not load it; pickled on its own, it fails alone)."""

    def reducer_override(self, obj: Any) -> Any:
        """Stop at a `__main__` object; otherwise pickle as usual (not called for builtin
        containers)."""
        if getattr(type(obj), "__module__", None) == "__main__":
            raise _Separate
        return NotImplemented


class _Pickler(_OnePass):
    """A Pickler that stops at an object of the task's `__main__` only in a frame's pass."""

    def __init__(self, owner: LocalPickler, *args: Any, **kwargs: Any) -> None:
        """A Pickler for owner (which says whether it pickles a frame's locals together)."""
        super().__init__(*args, **kwargs)
        self.owner = owner

    def reducer_override(self, obj: Any) -> Any:
        """As the one pass's, in a frame's pass only."""
        return super().reducer_override(obj) if self.owner.together else NotImplemented


class LocalPickler:
    """Pickles one local at a time (protocol 5, big buffers out of band), within a cap.

    One Pickler serves every local of a capture, its memo cleared between them, so that a
    local's pickle stands on its own; after a failure a new one is made.
    """

    def __init__(self) -> None:
        """Ready for the first local."""
        self.stream = _Capped(0)
        self.buffers: list[pickle.PickleBuffer] = []
        self.big = 0
        self.left = 0
        self.together = False  # pickling a frame's locals in one pass
        self.pickler = self._new()

    def _new(self) -> pickle.Pickler:
        """A Pickler writing into the stream."""
        return _Pickler(self, self.stream, protocol=5, buffer_callback=self._out_of_band)

    def _out_of_band(self, buf: pickle.PickleBuffer) -> bool:
        """Keep a big contiguous buffer apart (False); let the stream hold the others."""
        try:
            raw = buf.raw()
        except BufferError:
            return True
        if raw.nbytes < INBAND_MAX:
            return True
        self.big += raw.nbytes
        if self.big > self.left:
            raise _OverBudget
        self.buffers.append(buf)
        return False

    def dump(self, value: Any, left: int, together: bool = False) -> Pickled:
        """value pickled on its own; _OverBudget when it takes more than left bytes."""
        self.together = together
        self.stream.seek(0)
        self.stream.truncate()
        self.stream.cap = self.left = left
        self.buffers, self.big = [], 0
        self.pickler.clear_memo()
        try:
            self.pickler.dump(value)
        except BaseException:
            self.pickler = self._new()
            raise
        if self.stream.tell() + self.big > left:
            raise _OverBudget
        return Pickled(self.stream.getvalue(), self.buffers, type_name(value))


def _is_small(value: Any) -> bool:
    """A scalar or a short text: kept as it is, never pickled on its own."""
    kind = type(value)
    return kind in SCALARS or (kind in TEXT and len(value) <= SMALL_TEXT)


class Capture:
    """The locals of the failure's frames within a budget of bytes."""

    def __init__(self, budget: int, inputs: dict[str, Any] | None = None) -> None:
        """Nothing kept yet; budget bytes left; a local that is one of inputs (the very
        object, as inputs.pkl holds it) is kept as a reference to it."""
        self.inputs = {id(v): n for n, v in (inputs or {}).items()}
        self.budget = budget
        self.written = 0
        self.left_out: list[str] = []
        self.seen: dict[int, Pickled | Placeholder | Member] = {}
        self.pickling = LocalPickler()
        self.modules: dict[int, dict[str, str]] = {}

    def keep_all(self, where: str, values: dict[str, Any]) -> dict[str, Any]:
        """A frame's locals: the small ones as they are, the others pickled in one pass, or
        each on its own (keep) when that pass fails."""
        kept: dict[str, Any] = {}
        rest: dict[str, Any] = {}
        for name, value in values.items():
            if name == "__builtins__":  # a module frame's: the kernel has its own
                continue
            kept[name] = self.ref(value)
            if kept[name] is value:
                kept[name] = self.small(value)
            if kept[name] is _NOT_SMALL:
                rest[name] = value
        if len(rest) > 1:
            try:
                group = self.pickling.dump(rest, self.budget - self.written, together=True)
            except Exception:  # over the budget, a local that does not pickle: one by one
                pass
            else:
                group.type = "the frame's locals"
                self.written += group.size
                for name, value in rest.items():
                    kept[name] = self.seen[id(value)] = Member(group, name)
                return kept
        kept.update({name: self.keep(where, name, value) for name, value in rest.items()})
        return kept

    def ref(self, value: Any) -> Any:
        """An InputRef for a local that is one of the inputs (inputs.pkl holds it), else value
        (a small scalar or text too: interned, it is no evidence of being the input)."""
        name = self.inputs.get(id(value))
        return value if name is None or _is_small(value) else InputRef(name)

    def small(self, value: Any) -> Any:
        """value itself (a small scalar or text, always pickles), the kept value of an object
        seen in another frame, else _NOT_SMALL."""
        kind = type(value)
        if (
            _is_small(value) and self.written + SMALL_TEXT <= self.budget
        ):  # always pickles: kept as is
            self.written += len(value) if kind in TEXT else 8
            return value
        return self.seen.get(id(value), _NOT_SMALL)  # an object in several frames: written once

    def keep(self, where: str, name: str, value: Any) -> Any:
        """One local pickled on its own, or a Placeholder (does not pickle, over the budget)."""
        done = self.seen.get(id(value))  # twice in one frame: written once
        if done is not None:
            return done
        if id(value) in self.inputs:  # already in inputs.pkl: not written twice
            return InputRef(self.inputs[id(value)])
        kept: Pickled | Placeholder | Member
        try:
            kept = self.pickling.dump(value, self.budget - self.written)
            self.written += kept.size
        except _OverBudget:
            left = self.budget - self.written
            kept = Placeholder(
                type_name(value), short_repr(value), f"over the capture budget ({left} bytes left)"
            )
            self.left_out.append(f"{where}: {name} ({type_name(value)})")
        except Exception as e:  # RecursionError, PicklingError, TypeError...: a named gap
            kept = Placeholder(type_name(value), short_repr(value), f"does not pickle: {e}")
        self.seen[id(value)] = kept
        return kept

    def live(self, values: dict[str, Any]) -> dict[str, Any]:
        """A frame's locals as they are, for the record's one pass (a module frame's
        __builtins__ left out: the kernel has its own; an input: a reference to inputs.pkl)."""
        if self.inputs:
            return {n: self.ref(v) for n, v in values.items() if n != "__builtins__"}
        if "__builtins__" in values:
            return {n: v for n, v in values.items() if n != "__builtins__"}
        return values

    def frame(
        self, frame: types.FrameType, lineno: int, with_locals: bool, kept: Any = None
    ) -> FrameRecord:
        """One frame's record; its locals only if with_locals (kept: already pickled)."""
        code = frame.f_code
        if with_locals and kept is None:
            where = f"{code.co_name} ({os.path.basename(code.co_filename)}:{lineno})"
            kept = self.keep_all(where, frame.f_locals)
        modules = self.library_modules(frame.f_globals) if with_locals else {}
        return FrameRecord(
            filename=code.co_filename,
            name=code.co_name,
            firstlineno=code.co_firstlineno,
            lineno=lineno,
            line=linecache.getline(code.co_filename, lineno, frame.f_globals).strip(),
            module=frame.f_globals.get("__name__"),
            locals=kept,
            modules=modules,
        )

    def library_modules(self, namespace: dict[str, Any]) -> dict[str, str]:
        """The names of namespace bound to library modules (once per module's globals)."""
        found = self.modules.get(id(namespace))
        if found is None:
            found = {
                n: v.__name__
                for n, v in namespace.items()
                if isinstance(v, types.ModuleType) and library_module(v)
            }
            self.modules[id(namespace)] = found
        return found


def library_module(module: types.ModuleType) -> bool:
    """Whether a module is the standard library's or an installed package's (re-importable)."""
    file = getattr(module, "__file__", None)
    return not isinstance(file, str) or library_file(file)


def task_frames(exc: BaseException) -> list[tuple[types.FrameType, int]]:
    """The traceback's frames after the wrapper's own (the task's call and what it called)."""
    frames: list[tuple[types.FrameType, int]] = []
    tb = exc.__traceback__
    while tb is not None:
        if frames or not tb.tb_frame.f_code.co_filename.startswith(PACKAGE):
            frames.append((tb.tb_frame, tb.tb_lineno))
        tb = tb.tb_next
    return frames


def collect(
    exc: BaseException,
    budget: int,
    library: bool,
    inputs: dict[str, Any] | None = None,
    live: bool = False,
) -> FramesRecord:
    """The record of exc's frames: the innermost are served first by the budget.

    live: each frame's locals as they are, to be pickled with the record in one pass (then
    written is 0: the locals' bytes are the file's); else each frame's locals pickled here.
    """
    capture = Capture(budget, inputs)
    records = []
    for frame, lineno in reversed(task_frames(exc)):
        filename = frame.f_code.co_filename
        person = not (filename.startswith(PACKAGE) or library_file(filename))
        with_locals = budget > 0 and (person or library)
        kept = capture.live(frame.f_locals) if live and with_locals else None
        records.append(capture.frame(frame, lineno, with_locals, kept))
    records.reverse()
    error = f"{type(exc).__name__}: {exc}"
    return FramesRecord(error, records, budget, capture.written, capture.left_out)


ROOM = 64 * 1024
"""Bytes beyond the budget that the one pass may take for the frames' places (not locals)."""


def capture_frames(
    session: Session,
    exc: BaseException,
    options: Options,
    inputs: dict[str, Any] | None = None,
) -> FramesRecord | None:
    """Write frames.pkl for exc; None (logged, nothing raised) when the capture fails.

    inputs: those inputs.pkl holds as they are now (written after the failure), which a
    local that is one of them refers to instead of being written again.
    """
    budget = int(options.capture_budget_mb * MIB)
    try:
        if inputs:  # those left out of inputs.pkl (they do not pickle) are not there to refer to
            context = session.context()
            skipped = set(context.unpicklable) if context else set()
            inputs = {k: v for k, v in inputs.items() if k not in skipped}
        library = options.capture_library_frames
        record = collect(exc, budget, library, inputs, live=True)
        try:  # every frame's locals with the record, in one pass
            session.write_pickle(FRAMES, record, budget + ROOM, _OnePass)
            record.written = (session.path / FRAMES).stat().st_size
        except Exception:  # over the budget, a local that does not pickle: frame by frame
            record = collect(exc, budget, library, inputs)
            session.write_pickle(FRAMES, record)
    except Exception as e:
        log.warning(
            "could not keep the failure's frames (%s: %s); load_error() has no traceback",
            type(e).__name__,
            e,
        )
        with contextlib.suppress(OSError):
            session.remove(FRAMES)
        return None
    if record.left_out:
        log.warning(
            "the capture budget (capture_budget_mb=%g) left out %d local(s): %s",
            options.capture_budget_mb,
            len(record.left_out),
            ", ".join(record.left_out),
        )
    log.info(
        "kept %d frame(s) of the failure, %.1f MiB of locals, in %s",
        len(record.frames),
        record.written / MIB,
        session.path / FRAMES,
    )
    return record
