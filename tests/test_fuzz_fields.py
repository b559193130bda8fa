"""One bad field at a time, for every field docs/openapi.yaml documents, on a real server.

Generated cases rarely build an object that is right but for one field; these do, so that a
handler's answer to each bad field is seen: a 400 naming the field (never a 5xx), matching the
schema, and nothing changed (the server keeps running, no outcome recorded).
"""

from __future__ import annotations

from typing import Any

from fuzzing import AUTH, RESUME, operation, schema, with_context

SAVED = "/interactive/saved"
GOOD_SAVED = {"client": "tab-1", "saved": ["a.ipynb"], "failed": [{"path": "b.py", "error": "e"}]}
SAVED_CASES = [
    ("client", 5, '"client" must be a string'),
    ("client", ["tab"], '"client" must be a string'),
    ("saved", "a.ipynb", '"saved" must be a list of paths'),
    ("saved", [1], '"saved" must be a list of paths'),
    ("saved", ["a.ipynb", None], '"saved" must be a list of paths'),
    ("failed", {"path": "b.py"}, '"failed" must be a list of objects'),
    ("failed", ["b.py"], '"failed" must be a list of objects'),
]
# fuzzing.train(epochs: int, lr: float = 0.1, tags: list[str] | None = None)
RESUME_CASES = [
    ({"inputs": []}, '"inputs" must be an object'),
    ({"inputs": "epochs=5"}, '"inputs" must be an object'),
    ({"inputs": {"epochs": "five"}}, "input epochs must be int"),
    ({"inputs": {"epochs": 1.5}}, "input epochs must be int"),
    ({"inputs": {"lr": "fast"}}, "input lr must be float"),
    ({"inputs": {"tags": [1]}}, "input tags must be list[str] | None"),
    ({"inputs": {"tags": "a"}}, "input tags must be list[str] | None"),
    ({"inputs": {"steps": 1}}, "unknown input(s) steps"),
    ({"inputs": {}, "epochs": 5}, "unknown key(s) epochs"),
]

__all__ = ["schema"]  # the schemathesis fixture, shared with test_fuzz (fuzzing.py)


def refused(server: Any, schema: Any, path: str, body: Any) -> str:
    """POST body with the token: a 400 that matches the schema (no 5xx); its message."""
    case = operation(schema, "POST", path).Case(body=body, media_type="application/json")
    r = case.call_and_validate(base_url=server.url, headers=AUTH, allow_redirects=False)
    assert r.status_code == 400, (body, r.status_code, r.text)
    return str(r.json()["message"])


def test_every_saved_field_alone_is_a_400_naming_it(start_server, schema):
    server = start_server()
    documented = operation(schema, "POST", SAVED).body[0].definition["schema"]["properties"]
    assert {field for field, _, _ in SAVED_CASES} == set(documented)
    for field, bad, words in SAVED_CASES:
        message = refused(server, schema, SAVED, {**GOOD_SAVED, field: bad})
        assert words in message, (field, bad, message)
    # the good body passes every check of its fields; a waiting server then refuses it (409)
    r = operation(schema, "POST", SAVED).Case(body=GOOD_SAVED, media_type="application/json")
    answer = r.call_and_validate(base_url=server.url, headers=AUTH)
    assert answer.status_code == 409, answer.text
    assert "the server is not stopping" in answer.json()["message"]
    assert server.proc.poll() is None, server.log()


def test_a_body_that_is_not_an_object_is_a_400(start_server, schema):
    server = with_context(start_server())
    for bad in ([1, 2], "inputs", 5, False):
        for path in (RESUME, SAVED):
            message = refused(server, schema, path, bad)
            assert message.startswith("the body must be"), (path, bad, message)
    assert not (server.session_dir / "outcome.json").exists()


def test_every_input_field_alone_is_a_400_naming_it(start_server, schema):
    server = with_context(start_server())
    for body, words in RESUME_CASES:
        message = refused(server, schema, RESUME, body)
        assert words in message, (body, message)
        assert server.proc.poll() is None, server.log()
    assert not (server.session_dir / "outcome.json").exists()
    assert server.request("GET", "/interactive/status").body["state"] == "waiting"
