"""Post-mortem: the failing frames with their locals in a kernel, pdb and %debug on them."""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from pathlib import Path
from typing import Any

import pytest

from harness import run_cell, server_of, start_kernel, write
from interactive_ext.options import Options
from interactive_ext.protocol import FRAMES
from interactive_ext.session.directory import Session
from interactive_ext.session.frames import (
    FramesRecord,
    Member,
    Pickled,
    Placeholder,
    rebuild,
    task_frames,
)
from interactive_ext.task.capture import capture_frames, collect

TASK = """
import json, os, threading
from interactive_ext import interactive


def helper(values, scale):
    name = "inner text"
    table = {"scale": scale, "n": len(values)}
    lock = threading.Lock()
    config = Config()
    return values[scale]


@interactive(port=0, ready_file=os.environ["READY_FILE"], run_task_first=True)
def train(epochs: int = 2):
    items = [1, 2, 3]
    label = "outer"
    if os.path.exists("fixed"):
        return {"epochs": epochs}
    return helper(items, epochs + 10)


class Config:  # pickled by reference to __main__: a kernel's __main__ has no Config
    pass


if __name__ == "__main__":
    print(json.dumps(train()))
"""

SECOND = TASK.replace(
    "    return helper(items, epochs + 10)",
    "    return second_helper(label)",
).replace(
    "@interactive(",
    'def second_helper(word):\n    marker = "round two"\n    raise KeyError(word)\n\n\n'
    "@interactive(",
)

INSPECT = """
import io, json, pdb, sys, traceback
from interactive_ext import load_error, load_frames
exc = load_error()
frames = load_frames()
inner = frames[-1].locals
print(json.dumps({
    "names": [f.name for f in frames],
    "name": inner["name"], "values": inner["values"], "table": inner["table"],
    "lock": repr(inner["lock"]), "config": repr(inner["config"]),
    "outer": frames[-2].locals["label"],
}))
debugger = pdb.Pdb(stdin=io.StringIO("p name\\np table\\nup\\np items, label\\nlist\\nq\\n"),
                   stdout=sys.stdout)
debugger.use_rawinput = False
debugger.reset()
debugger.interaction(None, exc.__traceback__)
print("=== print_exception")
traceback.print_exception(exc, file=sys.stdout)
"""

SCRIPTED = """
import builtins
commands = iter(["p name", "up", "p label", "q"])
def scripted(prompt=""):
    line = next(commands)
    print(prompt + line)
    return line
builtins.input = scripted
"""
IPYTHON_DEBUG = SCRIPTED + 'get_ipython().run_line_magic("debug", "")\n'


def test_a_failed_task_opens_with_its_frames_and_a_resumed_failure_with_its_own(
    tmp_path: Path, script: Any
) -> None:
    write(tmp_path, "task.py", TASK)
    s = script("task.py")
    info = s.ready()
    server = server_of(info, s.proc)
    kernel = start_kernel(server)
    out, errors = run_cell(server, kernel, INSPECT)
    assert not errors, errors
    head = json.loads(out.splitlines()[0])
    assert head["names"] == ["train", "helper"]
    assert head["name"] == "inner text" and head["values"] == [1, 2, 3]
    assert head["table"] == {"scale": 12, "n": 3} and head["outer"] == "outer"
    assert "_thread.lock not captured (does not pickle" in head["lock"]
    assert "__main__.Config not captured (does not unpickle here" in head["config"]
    debug, printed = re.sub(r"\x1b\[[0-9;]*m", "", out).split("=== print_exception")
    assert f"{tmp_path / 'task.py'}(11)helper()" in debug
    assert "'inner text'" in debug and "{'scale': 12, 'n': 3}" in debug
    assert "(20)train()" in debug and "([1, 2, 3], 'outer')" in debug
    assert "def train(epochs: int = 2):" in debug  # `list` shows the task's source
    assert "line 20, in train\n    return helper(items, epochs + 10)" in printed
    assert "line 11, in helper\n    return values[scale]\nIndexError" in printed

    # `raise load_error()` in a cell, then %debug: IPython's debugger on the task's frames
    raising = "from interactive_ext import load_error\nraise load_error()"
    _, errors = run_cell(server, kernel, raising)
    assert errors and errors[0]["ename"] == "IndexError"
    assert "helper" in "".join(errors[0]["traceback"])
    out, errors = run_cell(server, kernel, IPYTHON_DEBUG)
    assert not errors, errors
    assert "'inner text'" in out and "'outer'" in out

    notebook = json.loads((tmp_path / "train-interactive.ipynb").read_text())
    sources = ["".join(c["source"]) for c in notebook["cells"]]
    (debug_cell,) = [c for c in sources if "pdb.post_mortem(load_error().__traceback__)" in c]
    (bind_cell,) = [c for c in sources if "globals().update(here.locals" in c]
    assert any("# values[scale]" in c for c in sources)
    # the starter's cells in the kernel: pdb (DEBUG set), then helper's locals as variables
    out, errors = run_cell(
        server, kernel, SCRIPTED + debug_cell.replace("DEBUG = False", "DEBUG = True")
    )
    assert not errors, errors
    assert "'inner text'" in out and "'outer'" in out
    out, errors = run_cell(server, kernel, bind_cell + "\nprint(repr(name), table, values[1])")
    assert not errors, errors
    assert "'inner text' {'scale': 12, 'n': 3} 2" in out

    # the resumed run fails elsewhere: the next round shows its frames, not the first ones
    write(tmp_path, "task.py", SECOND)
    assert s.resume(info).status == 202
    info = s.next_round(info)
    server = server_of(info, s.proc)
    out, errors = run_cell(
        server,
        start_kernel(server),
        "from interactive_ext import load_error, load_frames\n"
        "f = load_frames()\nprint([x.name for x in f], f[-1].locals)\n"
        "print(type(load_error().__traceback__.tb_next.tb_frame.f_locals['marker']))",
    )
    assert not errors, errors
    assert "['train', 'second_helper'] {'word': 'outer', 'marker': 'round two'}" in out
    assert "<class 'str'>" in out
    session = Path(info["session_dir"])
    (tmp_path / "fixed").write_text("")
    assert s.resume(info).status == 202
    code, result, err = s.finish()
    assert code == 0, err
    assert result == {"epochs": 2}
    assert not session.exists()  # a success removes the session, its frames with it


def test_the_kept_session_of_a_final_failure_holds_its_frames(tmp_path: Path, script: Any) -> None:
    write(tmp_path, "task.py", TASK.replace("run_task_first=True", "max_idle_seconds=120"))
    s = script("task.py")
    info = s.ready()
    assert s.resume(info).status == 202  # no run_task_first: the resumed run's failure is final
    code, _, err = s.finish()
    assert code == 1, err
    session = Session.open(info["session_dir"])
    record = session.read_pickle(FRAMES)
    assert (
        isinstance(record, FramesRecord) and record.error == "IndexError: list index out of range"
    )
    inner = task_frames(record)[-1].locals
    assert inner is not None and inner["table"] == {"scale": 12, "n": 3}
    assert "kept 2 frame(s) of the failure" in err


# -- the capture on its own -------------------------------------------------------------


def _fail(func: Any, *args: Any) -> BaseException:
    """The exception func raises."""
    try:
        func(*args)
    except Exception as e:
        return e
    raise AssertionError("did not raise")


def _big_then_fail(n: int) -> None:
    big = bytearray(n)
    small = "kept"
    raise RuntimeError(f"{len(big)} {small}")


def test_the_budget_keeps_the_innermost_small_locals_and_names_what_it_left_out() -> None:
    exc = _fail(_big_then_fail, 4 * 1024 * 1024)
    record = collect(exc, budget=1024 * 1024, library=False)
    inner = record.frames[-1].locals
    assert inner is not None
    big = inner["big"]
    assert isinstance(big, Placeholder) and big.type == "bytearray"
    assert "over the capture budget" in big.why
    assert record.left_out == [f"_big_then_fail (test_postmortem.py:{_LINE}): big (bytearray)"]
    assert task_frames(record)[-1].locals == {"n": 4 * 1024 * 1024, "big": big, "small": "kept"}
    assert record.written < 1024 * 1024


_LINE = _big_then_fail.__code__.co_firstlineno + 3


def _in_library() -> None:
    secret = "x"
    json.loads("{not json" + secret)


def test_library_frames_keep_their_place_and_their_locals_only_when_asked() -> None:
    exc = _fail(_in_library)
    default = collect(exc, budget=1 << 20, library=False)
    names = [f.name for f in default.frames]
    assert names[:2] == ["_fail", "_in_library"] and "decode" in names
    assert default.frames[1].locals is not None and default.frames[-1].locals is None
    rebuilt = rebuild(ValueError("x"), default)
    tb, seen = rebuilt.__traceback__, []
    while tb is not None:
        seen.append((tb.tb_frame.f_code.co_name, tb.tb_lineno))
        tb = tb.tb_next
    assert seen == [(f.name, f.lineno) for f in default.frames]
    every = collect(exc, budget=1 << 20, library=True)
    assert all(f.locals is not None for f in every.frames)
    assert collect(exc, budget=0, library=True).frames[1].locals is None  # 0: places only


def test_a_capture_that_fails_is_logged_and_leaves_no_frames(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    session = Session.create(tmp_path)
    exc = _fail(_big_then_fail, 10)
    assert capture_frames(session, exc, Options()) is not None
    assert isinstance(session.read_pickle(FRAMES), FramesRecord)
    os.chmod(session.path, 0o500)  # the write fails (root ignores modes: then a missing dir)
    if os.geteuid() == 0:
        session = Session(tmp_path / "gone")
    with caplog.at_level(logging.WARNING, "interactive_ext"):
        assert capture_frames(session, exc, Options()) is None
    assert "could not keep the failure's frames" in caplog.text


def test_a_local_that_does_not_unpickle_in_the_kernel_is_a_placeholder() -> None:
    class Local:  # a class pickle cannot find by name
        pass

    def fail(value: Any, lock: Any) -> None:
        raise ValueError("x")

    exc = _fail(fail, Local(), threading.Lock())
    inner = collect(exc, 1 << 20, False).frames[-1].locals
    assert inner is not None
    assert isinstance(inner["value"], Placeholder) and "Local" in inner["value"].type
    assert inner["lock"].type == "_thread.lock"  # type: ignore[union-attr]


def _many_locals(depth: int) -> None:
    table = {"depth": depth, "values": list(range(10))}
    pair = (depth, [depth])
    shared = pair[1]  # the same list twice: one object in the kernel too
    raise ValueError(f"{table} {pair} {shared}")


def test_the_record_is_pickled_with_every_frames_locals_in_one_pass(tmp_path: Path) -> None:
    session = Session.create(tmp_path)
    exc = _fail(_many_locals, 3)
    written = capture_frames(session, exc, Options())
    assert written is not None and written.written == (session.path / FRAMES).stat().st_size
    record = session.read_pickle(FRAMES)
    assert isinstance(record, FramesRecord)
    kept = [f.locals for f in record.frames]
    assert all(type(k) is dict for k in kept), kept  # the values themselves: no pickle inside
    inner = kept[-1]
    assert inner is not None and not any(isinstance(v, Member | Pickled) for v in inner.values())
    locals_ = task_frames(record)[-1].locals
    assert locals_ is not None
    assert locals_["table"] == {"depth": 3, "values": list(range(10))} and locals_["depth"] == 3
    assert locals_["shared"] is locals_["pair"][1]  # one object in the kernel too


def test_a_pass_that_fails_keeps_the_frames_one_by_one(tmp_path: Path) -> None:
    session = Session.create(tmp_path)
    exc = _fail(_many_locals_and_a_lock, 3)
    written = capture_frames(session, exc, Options())
    assert written is not None
    record = session.read_pickle(FRAMES)
    inner = task_frames(record)[-1].locals
    assert inner is not None and inner["table"] == {"depth": 3, "values": list(range(10))}
    assert isinstance(inner["lock"], Placeholder) and inner["lock"].type == "_thread.lock"


def _many_locals_and_a_lock(depth: int) -> None:
    lock = threading.Lock()
    table = {"depth": depth, "values": list(range(10))}
    raise ValueError(f"{table} {lock}")
