"""Running the task itself: a decorated function called inside it just runs."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from typing import Any

# Set while the task function itself runs (resumed, or run first): a decorated function called
# from inside it, or from a module re-executed on reload, just runs.
_DIRECT: contextvars.ContextVar[bool] = contextvars.ContextVar("interactive_direct", default=False)


def running_directly() -> bool:
    """True inside the task itself (a decorated function called there just runs)."""
    return _DIRECT.get()


@contextlib.contextmanager
def direct() -> Iterator[None]:
    """Run the body as the task itself: decorated functions called in it just run."""
    token = _DIRECT.set(True)
    try:
        yield
    finally:
        _DIRECT.reset(token)


def unwrap(obj: Any) -> Any:
    """The function under @interactive layers (other decorators are kept)."""
    while getattr(obj, "__interactive__", None) is not None and hasattr(obj, "__wrapped__"):
        obj = obj.__wrapped__
    return obj
