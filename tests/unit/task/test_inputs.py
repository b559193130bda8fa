"""task/inputs.py: arguments bound to names and called with them again."""

from __future__ import annotations

import pytest

from interactive_ext.task.inputs import bind_inputs, call_with_inputs


def test_bind_and_call_round_trip() -> None:
    def f(a, /, b, *args, c=3, **kw):  # type: ignore[no-untyped-def]
        return a, b, args, c, kw

    inputs = bind_inputs(f, (1, 2, 9), {"c": 4, "z": 5})
    assert inputs == {"a": 1, "b": 2, "args": (9,), "c": 4, "z": 5}
    assert call_with_inputs(f, inputs) == (1, 2, (9,), 4, {"z": 5})
    with pytest.raises(TypeError, match="bad arguments for task"):
        bind_inputs(f, (), {})
    with pytest.raises(TypeError, match="not parameters of"):
        call_with_inputs(lambda a: a, {"a": 1, "b": 2})
