"""What a session accepts as input overrides: resume and save-report bodies, names, JSON checks.

The server checks every override before it changes anything (a 400 otherwise), without importing
the task's code: the names against the task's parameters, the values against the JSON schemas the
task process wrote into context.json, and the changed sources for syntax errors.
"""

from __future__ import annotations

import json
import math
import reprlib
from typing import Any

from ..errors import InputsError, ReloadError
from ..protocol import RESUME_VIA
from ..records import TaskContext
from .definitions import check_definitions
from .sources import check_sources

short = reprlib.Repr()
short.maxstring = 60
short.maxother = 60

QUOTE = 60
"""Characters of a client's value or name quoted in a message (and so in the log): no more."""
MAX_MESSAGE = 2000
"""The longest 400 message: a 10 MB body never gets a 10 MB answer or log line."""
MAX_NUMBER = 100
"""The longest number literal taken as a float (a float has 17 significant digits)."""
MAX_DIGITS = 1000
"""The most digits of an integer literal."""
MAX_CLIENT = 100
"""The longest client id (a frontend sends a short random one)."""
MAX_PATHS = 10_000
"""The most paths in one save report."""
MAX_DEPTH = 64
"""The deepest nesting of arrays and objects in a body: far below where any later step (the
outcome record, pickle, a schema check) would recurse past Python's limit of 1000 frames."""


def clip(text: str, limit: int = QUOTE) -> str:
    """text, or its first limit characters and how long it was."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text)} characters in all)"


def mismatch(name: str, annotation: Any, value: Any, why: str) -> str:
    """The message of one override that does not fit its parameter's type."""
    shown = short.repr(value)
    return f"input {clip(name)} must be {annotation or 'of its type'}, got {shown}: {clip(why)}"


def _no_constant(name: str) -> Any:
    """json.loads' hook for NaN, Infinity and -Infinity: not JSON, refused."""
    raise InputsError(
        f"{name} is not a JSON value (JSON has no NaN or infinity; the task would get a float "
        "it may not handle): send a finite number"
    )


def _float(text: str) -> float:
    """json.loads' hook for a float literal: finite and of a sane length, else InputsError."""
    if len(text) > MAX_NUMBER:
        raise InputsError(
            f"a number of {len(text)} characters ({clip(text, 20)}): a float keeps 17 significant "
            f"digits; send at most {MAX_NUMBER} characters"
        )
    value = float(text)
    if not math.isfinite(value):
        raise InputsError(f"{clip(text, 20)} is too large for a float (it would be infinity)")
    return value


def _int(text: str) -> int:
    """json.loads' hook for an integer literal: at most MAX_DIGITS digits."""
    if len(text) > MAX_DIGITS:
        raise InputsError(f"an integer of {len(text)} digits: send at most {MAX_DIGITS}")
    return int(text)


def check_json(parameters: list[dict[str, Any]], overrides: dict[str, Any]) -> None:
    """InputsError naming every JSON override that its parameter's schema rejects."""
    by_name = {p.get("name"): p for p in parameters}
    problems = []
    for name, value in overrides.items():
        param = by_name.get(name) or {}
        if not param.get("schema"):
            continue
        from jsonschema import Draft202012Validator
        from jsonschema.exceptions import best_match

        error = best_match(Draft202012Validator(param["schema"]).iter_errors(value))
        if error is not None:
            problems.append(mismatch(name, param.get("annotation"), value, error.message))
    if problems:
        raise InputsError("; ".join(problems) + " (nothing was changed)")


def check_input_names(names: list[str], context: TaskContext | None) -> None:
    """Raise InputsError when a name is not a parameter of the task (if one is known)."""
    if context is None or context.var_keyword:
        return
    unknown = sorted(set(names) - set(context.names))
    if unknown:
        shown = ", ".join(clip(n) for n in unknown[:10]) + (", ..." if len(unknown) > 10 else "")
        raise InputsError(
            f"unknown input(s) {shown}: the task {context.qualname} takes "
            f"{', '.join(context.names) or 'no parameters'}"
        )


def strict_json(text: str | bytes) -> Any:
    """JSON as the REST API takes it: no NaN or infinity, sane numbers; else InputsError (or
    ValueError when it is not JSON at all)."""
    return json.loads(text, parse_constant=_no_constant, parse_float=_float, parse_int=_int)


def _depth(data: Any) -> int:
    """How deeply arrays and objects nest in data (0 for a scalar), without recursing."""
    deepest, todo = 0, [(data, 1)]
    while todo:
        value, level = todo.pop()
        if isinstance(value, dict):
            value = list(value.values())
        if isinstance(value, list):
            deepest = max(deepest, level)
            if level > MAX_DEPTH:
                break
            todo.extend((v, level + 1) for v in value)
    return deepest


def _decode_body(body: bytes) -> Any:
    """The JSON of a request body (nested at most MAX_DEPTH deep); InputsError otherwise."""
    too_deep = InputsError(
        f"the body nests arrays or objects more than {MAX_DEPTH} deep: send "
        f'{{"inputs": {{...}}}} with values nested at most {MAX_DEPTH - 2} deep'
    )
    try:
        data = strict_json(body)
    except InputsError:
        raise
    except RecursionError:
        raise too_deep from None
    except (ValueError, UnicodeDecodeError) as e:
        why = clip(str(e), 200)
        raise InputsError(f'the body is not valid JSON ({why}); send {{"inputs": ...}}') from None
    if _depth(data) > MAX_DEPTH:
        raise too_deep
    return data


def parse_resume_body(body: bytes, context: TaskContext | None) -> dict[str, Any]:
    """Parse a resume request body {"inputs": {...}} into the input overrides (JSON only)."""
    return parse_resume(body, context)[0]


def parse_resume(body: bytes, context: TaskContext | None) -> tuple[dict[str, Any], str]:
    """A resume body {"inputs": {...}, "via": "cli"}: the overrides and where they came from."""
    data = _decode_body(body) if body and body.strip() else {}
    if not isinstance(data, dict):
        raise InputsError(
            f'the body must be a JSON object like {{"inputs": {{...}}}}, not {type(data).__name__}'
        )
    unknown = sorted(set(data) - {"inputs", "via"})
    if unknown:
        shown = ", ".join(clip(k) for k in unknown[:10]) + (", ..." if len(unknown) > 10 else "")
        raise InputsError(
            f'unknown key(s) {shown}: the only key is "inputs" '
            '(and "via": rest, cli, dialog or resume())'
        )
    via = data.get("via", "rest")
    if via not in RESUME_VIA:
        raise InputsError(f'"via" must be one of {", ".join(RESUME_VIA)}, not {short.repr(via)}')
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
            check_definitions(context)
        except ReloadError as e:
            raise InputsError(str(e)) from None
    return inputs, via


def _report_path(path: Any) -> str:
    """A path of a save report: relative to the server's root, inside it; else InputsError."""
    if not isinstance(path, str) or not path or len(path) > 4096:
        raise InputsError("a saved path must be a non-empty string of at most 4096 characters")
    if path.startswith("/") or "\\" in path or ".." in path.split("/") or "\0" in path:
        raise InputsError(
            f"{clip(path)} is not a path under the server's root: save reports name documents "
            "as the contents API does (relative, no '..')"
        )
    return path


def _failed_item(item: Any) -> dict[str, str]:
    """One failed save {"path", "error"}: the path checked, the error clipped."""
    if not isinstance(item, dict) or not isinstance(item.get("error", ""), str):
        raise InputsError('"failed" must be a list of objects {"path": ..., "error": "..."}')
    return {"path": _report_path(item.get("path")), "error": clip(item.get("error", ""), 500)}


def parse_saved_body(body: bytes) -> dict[str, Any]:
    """Parse a frontend's save report {"client", "saved", "failed"}; InputsError if malformed.

    The client id is short, the paths are under the server's root, the errors are clipped.
    """
    data = _decode_body(body) if body and body.strip() else {}
    if not isinstance(data, dict):
        raise InputsError('the body must be {"client": ID, "saved": [...], "failed": [...]}')
    if not isinstance(data.get("client", ""), str):
        raise InputsError('"client" must be a string (the id the tab sends with its status GET)')
    client = data.get("client", "")
    if not client or len(client) > MAX_CLIENT:
        raise InputsError(
            f'"client" must be the id the frontend polls the status with (1 to {MAX_CLIENT} '
            f"characters), not {len(client)} characters"
        )
    saved = data.get("saved", [])
    failed = data.get("failed", [])
    if not isinstance(saved, list) or not all(isinstance(p, str) for p in saved):
        raise InputsError('"saved" must be a list of paths (strings)')
    if not isinstance(failed, list):
        raise InputsError('"failed" must be a list of objects {"path": ..., "error": ...}')
    if len(saved) + len(failed) > MAX_PATHS:
        raise InputsError(f"a save report names at most {MAX_PATHS} documents")
    return {
        "client": client,
        "saved": [_report_path(p) for p in saved],
        "failed": [_failed_item(f) for f in failed],
    }
