"""A task's inputs: binding arguments to names, calling with them, writing them for kernels."""

from __future__ import annotations

import inspect
import logging
import pickle
import sys
import types
from collections.abc import Callable
from typing import Any

from ..protocol import INPUTS
from ..session.directory import Session
from ..session.frames import Placeholder
from ..session.overrides import short
from .direct import unwrap

log = logging.getLogger("interactive_ext")


def bind_inputs(func: Callable[..., Any], args: tuple, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The inputs by parameter name (defaults applied; **kwargs flattened); TypeError if bad."""
    sig = inspect.signature(func)
    try:
        bound = sig.bind(*args, **kwargs)
    except TypeError as e:
        name = getattr(func, "__qualname__", repr(func))
        raise TypeError(f"bad arguments for task {name}{sig}: {e}") from None
    bound.apply_defaults()
    inputs: dict[str, Any] = {}
    for name, value in bound.arguments.items():
        if sig.parameters[name].kind is inspect.Parameter.VAR_KEYWORD:
            inputs.update(value)
        else:
            inputs[name] = value
    return inputs


def _split_call(sig: inspect.Signature, inputs: dict[str, Any]) -> tuple[list, dict[str, Any]]:
    """Positional and keyword arguments for inputs by name, following sig."""
    params = sig.parameters
    has_varargs = any(p.kind is p.VAR_POSITIONAL for p in params.values())
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    positional = True
    for name, p in params.items():
        if p.kind is p.VAR_KEYWORD:
            continue
        if p.kind is p.VAR_POSITIONAL:
            args.extend(inputs.get(name, ()))
            positional = False
            continue
        if name not in inputs:
            positional = positional and p.kind is not p.POSITIONAL_ONLY
            continue
        if p.kind is p.POSITIONAL_ONLY or (
            has_varargs and positional and p.kind is p.POSITIONAL_OR_KEYWORD
        ):
            args.append(inputs[name])
        else:
            kwargs[name] = inputs[name]
    return args, kwargs


def call_with_inputs(func: Callable[..., Any], inputs: dict[str, Any]) -> Any:
    """Call func with inputs by name (as bind_inputs made them), following its signature."""
    sig = inspect.signature(func)
    args, kwargs = _split_call(sig, inputs)
    extra = {k: v for k, v in inputs.items() if k not in sig.parameters}
    has_varkw = any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
    if extra and not has_varkw:
        name = getattr(func, "__qualname__", repr(func))
        raise TypeError(
            f"input(s) {', '.join(sorted(extra))} are not parameters of {name}{sig} "
            "(was a parameter removed from the source?)"
        )
    kwargs.update(extra)
    return func(*args, **kwargs)


def loaded_here(cls: Any) -> bool:
    """Whether pickle finds cls by its name without importing anything (its module is loaded
    and has it): a class of a driver script shipped by value (a Ray actor's) is not."""
    obj = sys.modules.get(getattr(cls, "__module__", None) or "")
    for part in str(getattr(cls, "__qualname__", "<?>")).split("."):
        obj = getattr(obj, part, None)
    return obj is cls


def notebook_value(value: Any) -> Any:
    """value, or when its class is not loaded here (pickling it would import its module, such
    as the driver script of a Ray actor's self, whose module-level code would run again) its
    attributes as a SimpleNamespace, each one whose class is not loaded a Placeholder."""
    if loaded_here(type(value)):
        return value
    kind = f"{type(value).__module__}.{type(value).__qualname__}"
    attrs = getattr(value, "__dict__", None)
    if not isinstance(attrs, dict):
        return Placeholder(kind, short.repr(value), NOT_LOADED)
    return types.SimpleNamespace(
        **{
            str(k): a if loaded_here(type(a)) else Placeholder(type(a).__qualname__, "", NOT_LOADED)
            for k, a in attrs.items()
        }
    )


NOT_LOADED = "its class is not loaded here: pickling it would run its module (a driver script)"


def write_inputs(session: Session, inputs: dict[str, Any]) -> list[str]:
    """Pickle the inputs for the kernels; the names of those that do not pickle (left out)."""
    inputs = {name: notebook_value(value) for name, value in inputs.items()}
    try:
        session.write_pickle(INPUTS, inputs)
        return []
    except OSError:  # a full disk is not an input that does not pickle
        raise
    except Exception:
        pass

    good: dict[str, Any] = {}
    skipped: list[str] = []
    for name, value in inputs.items():
        try:
            pickle.dumps(value)
        except Exception:
            skipped.append(name)
        else:
            good[name] = value
    log.warning("inputs that do not pickle are not available in notebooks: %s", ", ".join(skipped))
    session.write_pickle(INPUTS, good)
    return skipped


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
