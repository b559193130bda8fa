"""A task's parameters by type: their description, JSON schemas, checks and conversion.

The task process describes each parameter once (annotation text, default, current value and the
JSON schema pydantic's `TypeAdapter` makes of its annotation) into context.json. The server
checks REST overrides against those schemas (jsonschema, which jupyter_server already loads),
then asks the waiting task process to run `convert` on them (session/conversion.py), so what the
task would refuse is a 400 before anything changes. The task process converts every override
with the same `TypeAdapter` before the resumed run (a JSON list becomes a
tuple, a dict a dataclass, a string an Enum member). Without pydantic nothing is checked.
"""

from __future__ import annotations

import inspect
import json
import logging
import typing
from collections.abc import Callable
from typing import Any

from ..errors import InputsError
from ..session.overrides import mismatch, short

log = logging.getLogger("interactive_ext")


def _pydantic() -> Any:
    """The pydantic module, or None (with one warning) when it is not installed."""
    try:
        import pydantic
    except ImportError:
        if not getattr(_pydantic, "warned", False):
            _pydantic.warned = True  # type: ignore[attr-defined]
            log.warning("pydantic is not installed: input overrides are not type-checked")
        return None
    return pydantic


def type_hints(func: Callable[..., Any]) -> dict[str, Any]:
    """The parameters' annotations, resolved where they can be (string ones kept otherwise)."""
    try:
        return typing.get_type_hints(func, include_extras=True)
    except Exception:
        raw = getattr(func, "__annotations__", {}) or {}
        return {k: v for k, v in raw.items() if not isinstance(v, str)}


def adapter(hint: Any) -> Any | None:
    """A pydantic TypeAdapter for hint (arbitrary classes checked by isinstance), or None."""
    pydantic = _pydantic()
    if pydantic is None:
        return None
    try:
        return pydantic.TypeAdapter(hint)
    except pydantic.PydanticSchemaGenerationError:
        config = pydantic.ConfigDict(arbitrary_types_allowed=True)
        try:
            return pydantic.TypeAdapter(hint, config=config)
        except Exception:
            return None
    except Exception:
        return None


def schema(hint: Any) -> dict[str, Any] | None:
    """The JSON schema of what a JSON override of this type may be; None: anything."""
    ta = adapter(hint)
    if ta is None:
        return None
    try:
        return ta.json_schema()  # type: ignore[no-any-return]
    except Exception:  # a type JSON cannot give (a class checked by isinstance)
        return None


def jsonable(value: Any) -> tuple[Any, bool]:
    """(value as JSON, True), or (a short repr, False) when it has no JSON form."""
    pydantic = _pydantic()
    try:
        if pydantic is not None:
            from pydantic_core import to_jsonable_python

            value = to_jsonable_python(value)
        json.dumps(value, allow_nan=False)
        return value, True
    except Exception:
        return short.repr(value), False


def annotation_text(annotation: Any, module: str | None) -> str | None:
    """The annotation as the source writes it: "int", "list[float]", "Color"."""
    if annotation is inspect.Parameter.empty:
        return None
    if isinstance(annotation, str):
        return annotation
    text = inspect.formatannotation(annotation, base_module=module)
    for prefix in ("typing.", f"{module}." if module else None):
        text = text.replace(prefix, "") if prefix else text
    return text


def describe(func: Callable[..., Any], inputs: dict[str, Any]) -> list[dict[str, Any]]:
    """One entry per parameter: name, annotation, default, value, json, schema."""
    hints = type_hints(func)
    out = []
    for name, p in inspect.signature(func).parameters.items():
        if p.kind is p.VAR_KEYWORD:
            continue
        default = None if p.default is p.empty else jsonable(p.default)[0]
        value, is_json = jsonable(inputs[name]) if name in inputs else (default, True)
        hint = hints.get(name)
        out.append(
            {
                "name": name,
                "annotation": annotation_text(p.annotation, getattr(func, "__module__", None)),
                "default": default,
                "value": value,
                "json": is_json,
                "schema": schema(hint) if hint is not None else None,
            }
        )
    return out


def convert(func: Callable[..., Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """The overrides converted to their parameters' types; InputsError naming any misfit."""
    if not overrides or _pydantic() is None:
        return dict(overrides)
    hints = type_hints(func)
    sig = inspect.signature(func)
    out: dict[str, Any] = {}
    problems = []
    for name, value in overrides.items():
        hint = hints.get(name)
        ta = adapter(hint) if hint is not None else None
        if ta is None:
            out[name] = value
            continue
        try:
            out[name] = ta.validate_python(value)
        except Exception as e:
            errors = getattr(e, "errors", None)
            why = errors()[0]["msg"] if callable(errors) and errors() else str(e)
            p = sig.parameters.get(name)
            text = annotation_text(p.annotation, func.__module__) if p is not None else None
            problems.append(mismatch(name, text, value, why))
    if problems:
        raise InputsError("; ".join(problems))
    return out
