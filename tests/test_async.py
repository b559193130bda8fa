"""@interactive on an `async def`: awaited without blocking the loop, resumed, run by the CLI."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

from harness import OPTS, finish, http, read_ready, wait_for, write
from interactive_ext import interactive
from interactive_ext.session.directory import Session

TASK = f"""
import asyncio, json, os, sys
from interactive_ext import interactive

@interactive({OPTS}, run_task_first=os.environ.get("FIRST") == "1")
async def fetch(n: int = 1):
    await asyncio.sleep(0)
    if os.path.exists("fail"):
        raise RuntimeError("failed as asked")
    return {{"n": n, "version": 1}}

async def main():
    ticks = 0
    async def ticker():
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1
            if ticks == 20:
                open("ticked", "w").close()
    tick = asyncio.ensure_future(ticker())
    result = await fetch(2)
    tick.cancel()
    return {{"result": result, "ticks": ticks}}

if sys.argv[1:] == ["loop"]:  # a loop the program runs itself
    loop = asyncio.new_event_loop()
    print(json.dumps(loop.run_until_complete(main())))
    loop.close()
else:
    print(json.dumps(asyncio.run(main())))
"""


def test_an_async_task_is_a_coroutine_function():
    @interactive(enable=False)
    async def task(x: int) -> int:
        return x + 1

    assert inspect.iscoroutinefunction(task)
    import asyncio

    assert asyncio.run(task(1)) == 2


def test_awaiting_serves_without_blocking_the_loop_under_asyncio_run(tmp_path, script):
    write(tmp_path, "atask.py", TASK)
    s = script("atask.py")
    info = s.ready()
    # the loop keeps running while the server waits: the ticker gets to 20
    wait_for((tmp_path / "ticked").exists, 30, "the ticker to run during the wait")
    write(tmp_path, "atask.py", TASK.replace('"version": 1', '"version": 2'))
    assert s.resume(info, {"n": 7}).status == 202
    code, out, err = s.finish()
    assert code == 0, err
    assert out["result"] == {"n": 7, "version": 2}
    assert out["ticks"] >= 20


def test_run_task_first_catches_the_awaited_failure_in_a_running_loop(tmp_path, script):
    write(tmp_path, "atask.py", TASK)
    (tmp_path / "fail").touch()
    s = script("atask.py", "loop", env={"FIRST": "1"})
    info = s.ready()
    error = json.loads((Path(info["session_dir"]) / "error.json").read_text())
    assert error["message"] == "failed as asked"
    frames = Session.open(info["session_dir"]).read_pickle("frames.pkl")  # the post-mortem's
    assert [f.name for f in frames.frames] == ["fetch"] and frames.frames[0].locals == {"n": 2}
    (tmp_path / "fail").unlink()
    assert s.resume(info).status == 202
    code, out, err = s.finish()
    assert code == 0, err
    assert out["result"] == {"n": 2, "version": 1}


def test_the_cli_runs_an_async_task(tmp_path, cli_env, cli_run):
    write(tmp_path, "atask.py", TASK.split("async def main")[0])
    ready = tmp_path / "ready.json"
    env = {**cli_env, "READY_FILE": str(ready)}
    args = ("--kwargs", '{"n": 3}', "--port", "0", "--ready-file", str(ready))
    proc = cli_run("run", "atask.py:fetch", *args, env=env)
    info = read_ready(ready, proc)
    r = http("POST", info["server_url"] + "interactive/resume", info["token"], body={})
    assert r.status == 202, r
    code, out, err = finish(proc, timeout=60)
    assert code == 0, err
    assert json.loads(out) == {"n": 3, "version": 1}
