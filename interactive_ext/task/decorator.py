"""The @interactive decorator."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from ..options import options_from
from .run import run_interactive
from .scripts import carry


def interactive(fn: Callable[..., Any] | None = None, /, **options: Any) -> Any:
    """Make a task interactive: `@interactive` or `@interactive(max_idle_seconds=600, ...)`.

    On an `async def`, the result is a coroutine function: awaiting it serves Jupyter without
    blocking the event loop.
    """
    opts = options_from(**options)

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        if not callable(func):
            raise TypeError(f"@interactive decorates a function, not {func!r}")
        carry(func)  # a script's task carries its definitions, for a worker without its file

        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def awaited(*args: Any, **kwargs: Any) -> Any:
                __tracebackhide__ = True  # IPython: a traceback shows the task, not this
                from .run_async import run_interactive_async

                return await run_interactive_async(func, args, kwargs, opts)

            awaited.__interactive__ = opts  # type: ignore[attr-defined]
            return awaited

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            __tracebackhide__ = True  # IPython: a traceback shows the task, not this
            return run_interactive(func, args, kwargs, opts)

        wrapper.__interactive__ = opts  # type: ignore[attr-defined]
        return wrapper

    if fn is None:
        return decorate
    return decorate(fn)
