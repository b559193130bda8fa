"""The CLI's exit codes and the errors that map to them."""

from __future__ import annotations

import sys
from typing import Any

PROG = "jupyter interactive-task"

OK = 0
TASK_FAILED = 1
USAGE = 2
IDLE = 3
SERVER = 4
ENVIRONMENT = 5

SIGINT = 130
SIGTERM = 143


class UsageError(Exception):
    """Bad input from the person at the keyboard: one clear line on stderr, exit 2."""


class ServerRefused(Exception):
    """The server answered, but not with success: exit 1."""


def json_object(text: str, what: str, example: str) -> dict[str, Any]:
    """Parse a JSON object given on the command line; UsageError with an example if it is not."""
    from ..errors import InputsError
    from ..session.overrides import strict_json

    try:
        value = strict_json(text)  # what the REST API refuses (NaN, Infinity...) is refused
    except InputsError as e:
        raise UsageError(f"{what}: {e}") from None
    except (ValueError, RecursionError) as e:
        raise UsageError(
            f"{what} is not valid JSON ({e}); give an object like '{example}'"
        ) from None
    if not isinstance(value, dict):
        raise UsageError(
            f"{what} must be a JSON object of parameter names to values like '{example}', "
            f"not {type(value).__name__}"
        )
    return value


def fail(code: int, message: str, command: str = "run") -> int:
    """Say on stderr why the command ends, in one line; the exit code."""
    print(f"{PROG} {command}: {message}", file=sys.stderr)
    return code
