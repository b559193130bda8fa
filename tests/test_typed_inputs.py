"""Overrides are checked against the task's annotations (400 before anything changes), converted."""

from __future__ import annotations

import dataclasses
import enum
import json
from typing import Literal, Optional

import pytest

from harness import OPTS, run_cell, run_cli, server_of, start_kernel, write
from interactive_ext.errors import InputsError
from interactive_ext.session.overrides import check_json
from interactive_ext.task.parameters import convert, describe

TASK = f"""
import dataclasses, enum, json, os
from interactive_ext import interactive

class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"

@dataclasses.dataclass
class Opt:
    lr: float
    steps: int = 1

@interactive({OPTS})
def train(epochs: int, lr: float = 0.1, pair: tuple[int, int] = (1, 2),
          color: Color = Color.RED, opt: Opt | None = None, note=None):
    return {{"epochs": epochs, "lr": lr, "lr_type": type(lr).__name__,
            "pair_type": type(pair).__name__, "color": color.name,
            "opt": dataclasses.asdict(opt) if opt else None, "note": note}}

if __name__ == "__main__":
    print(json.dumps(train(3)))
"""


def test_status_lists_typed_parameters_and_a_mismatch_is_a_400(tmp_path, script):
    write(tmp_path, "task.py", TASK)
    s = script("task.py")
    info = s.ready()
    params = {p["name"]: p for p in s.status(info)["task"]["parameters"]}
    assert params["epochs"] == {
        "name": "epochs",
        "annotation": "int",
        "default": None,
        "value": 3,
        "json": True,
    }
    assert params["pair"]["value"] == [1, 2] and params["color"]["value"] == "red"
    assert params["opt"]["annotation"] == "Opt | None"
    r = s.resume(info, {"epochs": "ten"})
    assert r.status == 400, r
    assert "input epochs must be int, got 'ten'" in r.body["message"]
    r = s.resume(info, {"opt": {"lr": "fast"}})
    assert r.status == 400 and "input opt must be Opt | None" in r.body["message"]
    assert s.status(info)["state"] == "waiting"  # nothing changed
    # save_inputs() in a real kernel: checked too, and the status shows the saved value
    kernel = start_kernel(server_of(info, s.proc))
    out, errors = run_cell(
        server_of(info, s.proc),
        kernel,
        "from interactive_ext import save_inputs\n"
        "try:\n    save_inputs(lr='x')\nexcept TypeError as e:\n    print('refused:', e)\n"
        "save_inputs(lr=2)",
    )
    assert not errors, errors
    assert "refused: input lr must be float, got 'x'" in out
    assert {p["name"]: p for p in s.status(info)["task"]["parameters"]}["lr"]["value"] == 2
    inputs = {"pair": [5, 6], "color": "blue", "opt": {"lr": 1}, "note": {"any": [1]}}
    assert s.resume(info, inputs).status == 202
    code, out, err = s.finish()
    assert code == 0, err
    assert out == {
        "epochs": 3,
        "lr": 2.0,
        "lr_type": "float",  # a JSON 2 for a float is converted
        "pair_type": "tuple",
        "color": "BLUE",
        "opt": {"lr": 1.0, "steps": 1},
        "note": {"any": [1]},  # unannotated: any JSON value
    }


def test_the_cli_checks_kwargs_against_the_annotations(tmp_path, cli_env):
    write(tmp_path, "task.py", TASK)
    env = {**cli_env, "READY_FILE": str(tmp_path / "r.json")}
    args = ("--kwargs", '{"epochs": "ten"}', "--port", "0")
    proc = run_cli(env, "run", "task.py:train", *args, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "input epochs must be int, got 'ten'" in proc.stderr
    assert "Traceback" not in proc.stderr


# -- the checks themselves ---------------------------------------------------------


class Mode(enum.Enum):
    FAST = "fast"


@dataclasses.dataclass
class Conf:
    depth: int


def task(
    n: int,
    x: float = 1.0,
    flag: bool = False,
    tags: list[str] | None = None,
    kind: Literal["a", "b"] = "a",
    mode: Mode = Mode.FAST,
    conf: Optional[Conf] = None,  # noqa: UP045 - the typing spelling is checked too
    table: dict[str, int] | None = None,
    free=None,
):
    return n


PARAMS = describe(task, {"n": 1})


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"n": "1"}, "input n must be int, got '1'"),
        ({"x": "1.0"}, "input x must be float"),
        ({"flag": 1}, "input flag must be bool, got 1"),
        ({"tags": [1]}, "input tags must be list[str] | None"),
        ({"kind": "c"}, "input kind must be Literal['a', 'b']"),
        ({"mode": "slow"}, "input mode must be Mode"),
        ({"conf": {"depth": "deep"}}, "input conf must be Optional[Conf]"),
        ({"table": {"a": "b"}}, "input table must be dict[str, int] | None"),
    ],
)
def test_json_checks_name_the_parameter_type_and_value(overrides, words):
    with pytest.raises(InputsError) as e:
        check_json(PARAMS, overrides)
    assert words in str(e.value)


def test_conversion_gives_the_annotated_types():
    check_json(PARAMS, {"x": 2, "mode": "fast", "conf": {"depth": 3}, "free": [1]})
    out = convert(task, {"x": 2, "mode": "fast", "conf": {"depth": 3}, "free": [1]})
    assert out == {"x": 2.0, "mode": Mode.FAST, "conf": Conf(3), "free": [1]}
    assert isinstance(out["x"], float)
    with pytest.raises(InputsError, match="input n must be int"):
        convert(task, {"n": "many"})
    shown = [{k: p[k] for k in ("name", "value")} for p in PARAMS]
    assert json.loads(json.dumps(shown)) == shown  # the values the status shows are plain JSON
