"""A task's inputs: binding arguments to names, calling with them, checking overrides."""

from __future__ import annotations

import inspect
import json
import logging
import pickle
from collections.abc import Callable
from typing import Any

from .errors import InputsError
from .names import INPUTS
from .records import TaskContext
from .reloader import ReloadError, check_sources
from .session import Session
from .typecheck import check_json

log = logging.getLogger("interactive_ext")

__all__ = [
    "InputsError",
    "bind_inputs",
    "call_with_inputs",
    "check_input_names",
    "parse_resume_body",
    "write_inputs",
]


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


def check_input_names(names: list[str], context: TaskContext | None) -> None:
    """Raise InputsError when a name is not a parameter of the task (if one is known)."""
    if context is None or context.var_keyword:
        return
    unknown = sorted(set(names) - set(context.names))
    if unknown:
        raise InputsError(
            f"unknown input(s) {', '.join(unknown)}: the task {context.qualname} takes "
            f"{', '.join(context.names) or 'no parameters'}"
        )


def _decode_body(body: bytes) -> Any:
    """The JSON of a request body; InputsError when it is not JSON."""
    try:
        return json.loads(body)
    except RecursionError:
        raise InputsError('the body is nested too deeply; send {"inputs": {...}}') from None
    except (ValueError, UnicodeDecodeError) as e:
        raise InputsError(f'the body is not valid JSON ({e}); send {{"inputs": {{...}}}}') from None


def parse_resume_body(body: bytes, context: TaskContext | None) -> dict[str, Any]:
    """Parse a resume request body {"inputs": {...}} into the input overrides (JSON only)."""
    if not body or not body.strip():
        return {}
    data = _decode_body(body)
    if not isinstance(data, dict):
        raise InputsError(
            f'the body must be a JSON object like {{"inputs": {{...}}}}, not {type(data).__name__}'
        )
    unknown = sorted(set(data) - {"inputs"})
    if unknown:
        raise InputsError(f'unknown key(s) {", ".join(unknown)}: the only key is "inputs"')
    inputs = data.get("inputs", {})
    if not isinstance(inputs, dict):
        raise InputsError(
            f'"inputs" must be an object of parameter names to JSON values, '
            f"not {type(inputs).__name__}"
        )
    check_input_names(list(inputs), context)
    if context is not None:
        check_json(context.parameters, inputs)
        try:
            check_sources(context.modules)
        except ReloadError as e:
            raise InputsError(str(e)) from None
    return inputs


def write_inputs(session: Session, inputs: dict[str, Any]) -> list[str]:
    """Pickle the inputs for the kernels; the names of those that do not pickle (left out)."""
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


def parse_saved_body(body: bytes) -> dict[str, Any]:
    """Parse a frontend's save report {"client", "saved", "failed"}; InputsError if malformed."""
    data = _decode_body(body) if body and body.strip() else {}
    if not isinstance(data, dict) or not isinstance(data.get("client", ""), str):
        raise InputsError('the body must be {"client": ID, "saved": [...], "failed": [...]}')
    saved = data.get("saved", [])
    failed = data.get("failed", [])
    if not isinstance(saved, list) or not all(isinstance(p, str) for p in saved):
        raise InputsError('"saved" must be a list of paths (strings)')
    if not isinstance(failed, list) or not all(isinstance(f, dict) for f in failed):
        raise InputsError('"failed" must be a list of objects {"path": ..., "error": ...}')
    return {"client": data.get("client", ""), "saved": saved, "failed": failed}
