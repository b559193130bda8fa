"""What the fuzzing tests share: docs/openapi.yaml loaded by schemathesis, a typed task's
context for the server, bounded derandomized cases, the document's operations."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode

from harness import TOKEN, ServerProcess
from interactive_ext.task.parameters import describe

OPENAPI = Path(__file__).resolve().parent.parent / "docs" / "openapi.yaml"
RESUME = "/interactive/resume"
PAGE = "/interactive"
RESUME_OK = ["202", "400", "409"]
AUTH = {"Authorization": f"token {TOKEN}"}
EXAMPLES = 100  # per operation: enough for the negative bodies to reach every field


def train(epochs: int, lr: float = 0.1, tags: list[str] | None = None) -> None:
    """The task whose context the fuzzed server serves (typed, so overrides are checked)."""


def with_context(server: ServerProcess) -> ServerProcess:
    """Give the server a task context, as the task process writes it."""
    context = {
        "module": __name__,
        "qualname": "train",
        "parameters": describe(train, {"epochs": 3}),
        "var_keyword": False,
    }
    (server.session_dir / "context.json").write_text(json.dumps(context))
    return server


def fuzz_settings(examples: int) -> settings:
    """Bounded, derandomized examples: the same cases on every run, no flaky seeds."""
    return settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
    )


def run_cases(strategy: Any, examples: int, check: Callable[[Any], None]) -> None:
    """Run check on each generated case."""

    @fuzz_settings(examples)
    @given(case=strategy)
    def one(case: Any) -> None:
        check(case)

    one()


@pytest.fixture(scope="module")
def schema() -> Any:
    """docs/openapi.yaml, loaded by schemathesis."""
    config = schemathesis.Config.from_dict(
        {
            # a query parameter nobody reads is ignored, as by every jupyter_server handler;
            # the token is never negated with the rest: a token-less case stops at the 403
            # (checked on its own below) and never reaches the body checks
            "generation": {"allow-extra-parameters": False, "with-security-parameters": False},
            "auth": {"openapi": {"token": {"api_key": f"token {TOKEN}"}}},
            # the document cannot name a task's parameters: a schema-valid body whose input
            # names or types do not fit the task is a (documented) 400
            "operations": [
                {
                    "include-path": RESUME,
                    "checks": {"positive_data_acceptance": {"expected-statuses": RESUME_OK}},
                }
            ],
        }
    )
    return schemathesis.openapi.from_path(OPENAPI, config=config)


def operations(schema: Any, mode: GenerationMode) -> list[Any]:
    """Every operation of the document but resume (it stops the server), with mode's cases.

    The page has nothing to negate (no parameter, no body, no auth: it redirects to login).
    """
    skip = {RESUME, PAGE} if mode.is_negative else {RESUME}
    return [op for op in (r.ok() for r in schema.get_all_operations()) if op.path not in skip]


def negatable(schema: Any) -> list[Any]:
    """The operations whose inputs a negative case can break (the token apart): a body."""
    return [op for op in operations(schema, GenerationMode.NEGATIVE) if op.body]


def operation(schema: Any, method: str, path: str) -> Any:
    """One operation of the document."""
    return schema[path][method]
