"""session/overrides.py: the resume body refused clearly, or accepted."""

from __future__ import annotations

import pytest

from interactive_ext.errors import InputsError
from interactive_ext.records import TaskContext
from interactive_ext.session.overrides import parse_resume_body

CONTEXT = TaskContext(module="m", qualname="train", parameters=["epochs", "lr"])


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"{", "not valid JSON"),
        (b"[1]", "must be a JSON object"),
        (b'{"x": 1}', 'the only key is "inputs"'),
        (b'{"inputs": null}', "must be an object"),
        (b'{"inputs": [1]}', "must be an object"),
        (b'{"inputs": {"nope": 1}}', "unknown input(s) nope"),
        (b'{"inputs": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "more than 64 deep"),
    ],
)
def test_parse_resume_body_refuses_clearly(body: bytes, words: str) -> None:
    with pytest.raises(InputsError) as e:
        parse_resume_body(body, CONTEXT)
    assert words in str(e.value)


def test_parse_resume_body_accepts() -> None:
    assert parse_resume_body(b"", CONTEXT) == {}
    assert parse_resume_body(b'{"inputs": {"epochs": 2}}', CONTEXT) == {"epochs": 2}
    assert parse_resume_body(b'{"inputs": {"any": 1}}', None) == {"any": 1}
