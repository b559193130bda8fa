"""What a session accepts as input overrides: resume and save-report bodies, names, JSON checks.

The server checks every override before it changes anything (a 400 otherwise), without importing
the task's code: the names against the task's parameters, the values against the JSON schemas the
task process wrote into context.json, and the changed sources for syntax errors.
"""

from __future__ import annotations

import json
import reprlib
from typing import Any

from ..errors import InputsError, ReloadError
from ..records import TaskContext
from .sources import check_sources

short = reprlib.Repr()
short.maxstring = 60
short.maxother = 60


def mismatch(name: str, annotation: Any, value: Any, why: str) -> str:
    """The message of one override that does not fit its parameter's type."""
    shown = short.repr(value)
    return f"input {name} must be {annotation or 'of its type'}, got {shown}: {why}"


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


def parse_saved_body(body: bytes) -> dict[str, Any]:
    """Parse a frontend's save report {"client", "saved", "failed"}; InputsError if malformed."""
    data = _decode_body(body) if body and body.strip() else {}
    if not isinstance(data, dict):
        raise InputsError('the body must be {"client": ID, "saved": [...], "failed": [...]}')
    if not isinstance(data.get("client", ""), str):
        raise InputsError('"client" must be a string (the id the tab sends with its status GET)')
    saved = data.get("saved", [])
    failed = data.get("failed", [])
    if not isinstance(saved, list) or not all(isinstance(p, str) for p in saved):
        raise InputsError('"saved" must be a list of paths (strings)')
    if not isinstance(failed, list) or not all(isinstance(f, dict) for f in failed):
        raise InputsError('"failed" must be a list of objects {"path": ..., "error": ...}')
    return {"client": data.get("client", ""), "saved": saved, "failed": failed}
