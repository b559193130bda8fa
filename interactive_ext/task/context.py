"""What the task process writes about its task: the context record and the failure."""

from __future__ import annotations

import inspect
import logging
import os
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..protocol import ERROR, EXCEPTION, RESULT, SAVED_VALUES
from ..records import ErrorRecord, Redefine, TaskContext
from ..session.directory import Session
from ..session.sources import Snapshot, _stat
from .direct import unwrap
from .parameters import describe
from .scripts import CARRIED, redefine_mode, source_file

log = logging.getLogger("interactive_ext")


def make_context(func: Callable[..., Any], notebook: Path) -> TaskContext:
    """The session's context record for func."""
    target = unwrap(func)
    try:
        source = inspect.getsourcefile(target) or source_file(target)
    except TypeError:
        source = None
    redefine = redefine_mode(target)
    params = inspect.signature(target).parameters
    return TaskContext(
        module=target.__module__,
        qualname=target.__qualname__,
        source_file=os.path.abspath(source) if source else None,
        parameters=[{"name": n} for n, p in params.items() if p.kind is not p.VAR_KEYWORD],
        var_keyword=any(p.kind is p.VAR_KEYWORD for p in params.values()),
        notebook=str(notebook),
        started=time.time(),
        pid=os.getpid(),
        redefine=redefine,
        source=getattr(target, CARRIED, None) if redefine is Redefine.NOTEBOOK else None,
    )


def describe_task(
    context: TaskContext,
    session: Session,
    func: Callable[..., Any],
    inputs: dict[str, Any],
    modules: Snapshot,
    result: tuple[Any] | None,
) -> None:
    """The context's parameters and module files; result.pkl when the first run succeeded."""
    context.parameters = describe(unwrap(func), inputs)
    context.modules = dict(modules)
    session.remove(SAVED_VALUES)
    if result is None:
        session.remove(RESULT)
        return
    try:
        session.write_pickle(RESULT, result[0])
    except Exception as e:
        log.warning("the task's result does not pickle (%s): load_result() cannot give it", e)
        session.remove(RESULT)


def person_traceback(exc: BaseException) -> traceback.TracebackException:
    """exc's traceback without the wrapper's own frames (this package's), causes included."""
    from .capture import PACKAGE

    shown = traceback.TracebackException.from_exception(exc)
    seen: set[int] = set()
    todo = [shown]
    while todo:
        te = todo.pop()
        if id(te) in seen:
            continue
        seen.add(id(te))
        frames = [f for f in te.stack if not f.filename.startswith(PACKAGE)]
        te.stack = traceback.StackSummary.from_list(frames or list(te.stack))
        todo += [t for t in (te.__cause__, te.__context__) if t is not None]
    return shown


def note_task_file(context: TaskContext, modules: Snapshot) -> None:
    """Add the task's own file to the noted sources when no module has it (a function shipped
    by value: its driver script), so its edits are diffed, saved and shown like a module's."""
    path = context.source_file
    if context.redefine is Redefine.FILE and path and path not in modules:
        stat = _stat(path)
        if stat is not None:
            modules[path] = stat


def record_error(session: Session, exc: BaseException) -> ErrorRecord:
    """Write error.json (type, message, traceback) and exception.pkl when it pickles."""
    kind = type(exc)
    name = (
        kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
    )
    error = ErrorRecord(
        type=name,
        message=str(exc),
        traceback="".join(person_traceback(exc).format()),
    )
    session.write_json(ERROR, error.to_json())
    try:
        session.write_pickle(EXCEPTION, exc)
    except Exception:
        session.remove(EXCEPTION)
    return error
