"""Figure 6: putting a NumPy array into the session, and getting it back in a kernel.

Write: in a fresh process per run, the wrapper's own session write
(`interactive_ext.inputs.write_inputs` into a new session directory) vs a raw
`pickle.dump` of the same dict to a file in the same folder; alternated, files removed after
each run and `os.sync()` before each (so neither side pays for the other's writeback); twice
the usual number of runs, since a write of this size sometimes stalls for the disk.
Read: in one ipykernel kernel whose environment names the session (as the provisioner gives
it), `load_inputs()` vs a raw `pickle.load` of the same file, alternated.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from typing import Any

from . import common
from .common import Settings

WRITE = r"""
import json, pickle, sys, time
import numpy as np
from pathlib import Path
mode, folder, mb = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
inputs = {"data": np.ones(mb * 2**20 // 8, dtype=np.float64)}
if mode == "session":
    from interactive_ext.session.directory import Session
    from interactive_ext.task.inputs import write_inputs
    t0 = time.perf_counter()
    session = Session.create(folder)
    write_inputs(session, inputs)
    dt = time.perf_counter() - t0
    where = str(session.path)
else:
    t0 = time.perf_counter()
    with open(folder / "raw.pkl", "wb") as f:
        pickle.dump(inputs, f, protocol=pickle.HIGHEST_PROTOCOL)
    dt = time.perf_counter() - t0
    where = str(folder / "raw.pkl")
print(json.dumps({"seconds": dt, "path": where}))
"""

LOAD = """
import pickle, time
_t0 = time.perf_counter()
if {mode!r} == "load_inputs":
    from interactive_ext import load_inputs
    _x = load_inputs()
else:
    with open({path!r}, "rb") as _f:
        _x = pickle.load(_f)
_dt = time.perf_counter() - _t0
_ok = _x["data"].nbytes
del _x
"""


def _write(s: Settings, mode: str, folder: Any) -> dict[str, Any]:
    """One write run in a fresh process."""
    done = subprocess.run(
        [common.PYTHON, "-c", WRITE, mode, str(folder), str(s.inputs_mb)],
        env=common.bench_env(s.work),
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _load_in_kernel(s: Settings, session_dir: str, plain: str, runs: int) -> dict[str, Any]:
    """load_inputs() vs pickle.load of the plain pickle file in one kernel, alternated."""
    from jupyter_client.manager import KernelManager

    env = common.bench_env(s.work)
    env["INTERACTIVE_EXT_SESSION"] = session_dir
    km = KernelManager(kernel_name="python3")
    km.start_kernel(env=env, cwd=str(s.work))
    out: dict[str, Any] = {"load_inputs": [], "pickle_load": []}
    try:
        kc = km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=60)
        path = plain  # inputs.pkl is in the session's own format, which pickle.load cannot read
        # the first call's import of interactive_ext.helpers is timed apart, not in the runs
        warm = kc.execute_interactive(
            "import time as _t; _t0 = _t.perf_counter(); from interactive_ext import load_inputs;"
            " _dt = _t.perf_counter() - _t0",
            user_expressions={"dt": "_dt"},
            timeout=60,
            output_hook=lambda msg: None,
        )
        out["import_seconds"] = float(
            warm["content"]["user_expressions"]["dt"]["data"]["text/plain"]
        )
        for _ in range(runs):
            for mode in ("load_inputs", "pickle_load"):
                reply = kc.execute_interactive(
                    LOAD.format(mode=mode, path=path),
                    user_expressions={"dt": "_dt", "nbytes": "_ok"},
                    timeout=120,
                    output_hook=lambda msg: None,
                )
                content = reply["content"]
                if content["status"] != "ok":
                    raise RuntimeError(f"{mode} failed in the kernel: {content}")
                expr = content["user_expressions"]
                out[mode].append(float(expr["dt"]["data"]["text/plain"]))
        kc.stop_channels()
    finally:
        km.shutdown_kernel(now=True)
    return out


def measure(s: Settings) -> dict[str, Any]:
    """Session write vs raw pickle.dump, then load_inputs() vs pickle.load in a kernel."""
    out: dict[str, Any] = {"mb": s.inputs_mb, "session_write": [], "pickle_dump": []}
    folder = common.tmpdir(s.work, "inputs-")
    keep: dict[str, str] = {}
    for i in range(2 * s.runs):
        for mode in ("session", "raw"):
            # Each run starts with no dirty pages left by the one before: a 256 MB write that
            # lands while the kernel flushes the previous one is throttled, whichever side it is.
            os.sync()
            run = _write(s, mode, folder)
            out["session_write" if mode == "session" else "pickle_dump"].append(run["seconds"])
            if i == 2 * s.runs - 1:
                keep[mode] = run["path"]
            elif mode == "session":
                shutil.rmtree(run["path"], ignore_errors=True)
            else:
                common.Path(run["path"]).unlink(missing_ok=True)
        s.say(
            "inputs #%d: session write %.3f s, pickle.dump %.3f s",
            i + 1,
            out["session_write"][-1],
            out["pickle_dump"][-1],
        )
    out.update(_load_in_kernel(s, keep["session"], keep["raw"], s.runs))
    s.say("inputs: load_inputs %s, pickle.load %s", out["load_inputs"], out["pickle_load"])
    shutil.rmtree(folder, ignore_errors=True)
    return out
