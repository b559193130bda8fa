"""The REST API fuzzed against docs/openapi.yaml (schemathesis) on a real running server."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import requests
from fuzzing import (
    AUTH,
    EXAMPLES,
    PAGE,
    RESUME,
    negatable,
    operation,
    operations,
    run_cases,
    schema,
    with_context,
)
from schemathesis import GenerationMode

from harness import ServerProcess

__all__ = ["schema"]  # the schemathesis fixture (fuzzing.py), shared with test_fuzz_fields


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_input_gives_a_5xx_and_every_answer_matches_the_schema(start_server, schema, mode):
    server = with_context(start_server())
    seen: dict[str, set[int]] = {}

    def check(case: Any) -> None:
        r = case.call_and_validate(base_url=server.url, allow_redirects=False)
        seen.setdefault(f"{case.method} {case.path}", set()).add(r.status_code)

    for op in operations(schema, mode) if mode.is_positive else negatable(schema):
        run_cases(op.as_strategy(generation_mode=mode), EXAMPLES, check)
    assert server.proc.poll() is None, server.log()
    # the cases reached the handlers with the token: accepted, or refused by the body checks
    if mode.is_positive:
        # a save report is taken only while stopping: 409 while the server waits (issue 22)
        ok = {k: {409} if k == "POST /interactive/saved" else {200} for k in seen}
        assert all(codes & ok[k] for k, codes in seen.items()), seen
    else:
        assert 400 in seen["POST /interactive/saved"], seen
        assert 403 not in set().union(*seen.values()), seen


def test_every_operation_without_the_token_is_a_403(start_server, schema):
    server = start_server()
    for op in operations(schema, GenerationMode.NEGATIVE):
        r = op.Case().call(base_url=server.url, allow_redirects=False)
        assert r.status_code == 403, (op.method, op.path, r.text)
        assert "missing or wrong token" in r.json()["message"], (op.method, op.path, r.text)
        op.Case().validate_response(r)


def test_the_page_without_a_token_redirects_to_login(start_server, schema):
    server = start_server()
    case = operation(schema, "GET", PAGE).Case()
    r = requests.get(server.url + PAGE, allow_redirects=False, timeout=10)
    assert r.status_code == 302, r.text
    assert "/login" in r.headers["Location"]
    case.validate_response(r)


class Servers:
    """A fresh server for the next resume case once the last one was accepted (it stops)."""

    def __init__(self, start: Callable[..., ServerProcess]) -> None:
        self.start = start
        self.server: ServerProcess | None = None
        self.resumed = 0

    def current(self) -> ServerProcess:
        """The running server, started if the last one stopped."""
        if self.server is None:
            self.server = with_context(self.start())
        return self.server

    def answered(self, status: int) -> None:
        """A 202 stops the server: check it recorded the outcome and left with 0."""
        server = self.current()
        if status == 202:
            assert server.wait_exit(30) == 0, server.log()
            outcome = json.loads((server.session_dir / "outcome.json").read_text())
            assert outcome["reason"] == "resumed", outcome
            self.server = None
            self.resumed += 1
        else:
            assert server.proc.poll() is None, server.log()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_resume_fuzzed_on_a_fresh_server_after_each_accepted_case(start_server, schema, mode):
    servers = Servers(start_server)
    seen: set[int] = set()

    def check(case: Any) -> None:
        r = case.call_and_validate(base_url=servers.current().url, allow_redirects=False)
        seen.add(r.status_code)
        servers.answered(r.status_code)

    examples = 6 if mode.is_positive else 40  # most positive cases resume: a server each
    run_cases(operation(schema, "POST", RESUME).as_strategy(generation_mode=mode), examples, check)
    # positive: at least one accepted (and a fresh server after it); negative: refused by the
    # body checks (400), the token being sent (its absence is a 403, tested above)
    assert 202 in seen if mode.is_positive else 400 in seen and 403 not in seen, seen


TYPED_CASES = [
    ({"inputs": {"epochs": "five"}}, 400),
    ({"inputs": {"steps": 1}}, 400),
    ({"inputs": None}, 400),
    ({"inputs": {}, "extra": 1}, 400),
    ([1, 2], 400),
    ({"inputs": {"epochs": 5, "tags": ["a"]}}, 202),
]


def test_resume_typed_cases_match_the_schema(start_server, schema):
    servers = Servers(start_server)
    for body, status in TYPED_CASES:
        case = operation(schema, "POST", RESUME).Case(body=body, media_type="application/json")
        r = case.call_and_validate(
            base_url=servers.current().url, headers=AUTH, allow_redirects=False
        )
        assert r.status_code == status, (body, r.text)
        servers.answered(r.status_code)
    assert servers.resumed == 1


def test_resume_of_deeply_nested_json_is_a_400(start_server, schema):
    server = with_context(start_server())
    deep = b'{"inputs": {"epochs": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}"
    r = requests.post(
        server.url + RESUME,
        data=deep,
        headers={**AUTH, "Content-Type": "application/json"},
        timeout=30,
    )
    assert r.status_code == 400, r.text
    assert "more than 64 deep" in r.json()["message"]
    operation(schema, "POST", RESUME).Case().validate_response(r)
    assert server.proc.poll() is None
