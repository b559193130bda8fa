"""What engines do to a task's function that the inputs must not keep."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from .loader import unwrap


def declared_inputs(func: Callable[..., Any], inputs: dict[str, Any]) -> dict[str, Any]:
    """inputs without the names the function's own code does not declare.

    Ray gives every actor method a `__signature__` with an extra `_ray_trace_ctx=None`
    parameter (its tracing wrapper takes it out before the call): bound against that signature,
    the inputs would hold a name the re-loaded function, which has no such signature, rejects.
    A function with **kwargs takes any name: its inputs are kept as they are.
    """
    code = getattr(unwrap(func), "__code__", None)
    if code is None or code.co_flags & inspect.CO_VARKEYWORDS:
        return inputs
    count = code.co_argcount + code.co_kwonlyargcount
    count += 1 if code.co_flags & inspect.CO_VARARGS else 0
    names = set(code.co_varnames[:count])
    return {k: v for k, v in inputs.items() if k in names}
