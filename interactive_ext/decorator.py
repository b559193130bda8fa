"""The @interactive decorator."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from .options import options_from
from .runner import run_interactive


def interactive(fn: Callable[..., Any] | None = None, /, **options: Any) -> Any:
    """Make a task interactive: `@interactive` or `@interactive(max_idle_seconds=600, ...)`."""
    opts = options_from(**options)

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        if not callable(func):
            raise TypeError(f"@interactive decorates a function, not {func!r}")

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return run_interactive(func, args, kwargs, opts)

        wrapper.__interactive__ = opts  # type: ignore[attr-defined]
        return wrapper

    if fn is None:
        return decorate
    return decorate(fn)
