"""Figure 6: putting a NumPy array into the session, and getting it back in a kernel.

Write: paired as figure 8's writes are. One process makes the array once, then writes it
INPUT_PAIRS times each way, alternating which side goes first: the wrapper's own session write
(a new session directory and `interactive_ext.task.inputs.write_inputs`) vs a raw
`pickle.dump` of the same dict to a file in the same folder. Before each write, every file
written before is removed, `os.sync()` runs, and memory larger than the file is touched and
freed (so neither side pays for the other's writeback, and both get pages the VM has backed).
Read: in one ipykernel kernel whose environment names the session (as the provisioner gives
it), `load_inputs()` vs a raw `pickle.load` of the same file, alternated.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from . import common
from .common import Settings
from .table import not_slower_row, ratio_row

TITLE = "6. Inputs"
"""The section of docs/benchmarks.md."""

WRITE = r"""
import json, os, pickle, shutil, sys, time
import numpy as np
from pathlib import Path
from interactive_ext.session.directory import Session
from interactive_ext.task.inputs import write_inputs
folder, mb, pairs = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
inputs = {"data": np.ones(mb * 2**20 // 8, dtype=np.float64)}

def write(side):
    if side == "session":
        session = Session.create(folder)
        write_inputs(session, inputs)
        return str(session.path)
    with open(folder / "raw.pkl", "wb") as f:
        pickle.dump(inputs, f, protocol=pickle.HIGHEST_PROTOCOL)
    return str(folder / "raw.pkl")

out, written = {"session": [], "raw": []}, []
for i in range(pairs):
    for side in ("session", "raw") if i % 2 == 0 else ("raw", "session"):
        for path in written:  # no dirty page of another write is in flight
            shutil.rmtree(path) if os.path.isdir(path) else os.unlink(path)
        written.clear()
        os.sync()
        np.ones((mb + 256) * 2**20, dtype=np.uint8)  # touched, then freed
        t0 = time.perf_counter()
        written.append(write(side))
        out[side].append(time.perf_counter() - t0)
for path in written:
    shutil.rmtree(path) if os.path.isdir(path) else os.unlink(path)
out["paths"] = {side: write(side) for side in ("session", "raw")}  # for the loads
print(json.dumps(out))
"""

INPUT_PAIRS = 30
"""Paired writes per side in full mode: a 256 MB write stalls now and then for the disk, on
either side, so it takes this many for the interval of the paired median to decide."""

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


def _writes(s: Settings, folder: Path) -> dict[str, Any]:
    """The paired writes, in one fresh process."""
    pairs = 2 if s.quick else INPUT_PAIRS
    args = ["-c", WRITE, str(folder), str(s.inputs_mb), str(pairs)]
    return dict(common.run_json(s.work, args, 1800, "the inputs writes"))


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
    folder = common.tmpdir(s.work, "inputs-")
    try:
        runs = _writes(s, folder)
        out: dict[str, Any] = {
            "mb": s.inputs_mb,
            "paired": True,
            "session_write": runs["session"],
            "pickle_dump": runs["raw"],
        }
        s.say("inputs: session write %s, pickle.dump %s", runs["session"], runs["raw"])
        paths = runs["paths"]
        out.update(_load_in_kernel(s, paths["session"], paths["raw"], s.runs))
        s.say("inputs: load_inputs %s, pickle.load %s", out["load_inputs"], out["pickle_load"])
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return out


# -- the report -----------------------------------------------------------------------


def rows(d: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Figure 6 rows and notes."""
    mb = d["mb"]
    label = f"6a put a {mb} MB NumPy array into the session (`write_inputs`) vs raw `pickle.dump`"
    write = (
        not_slower_row(f"{label} (one process, paired runs)", d["session_write"], d["pickle_dump"])
        if d.get("paired")  # an older results.json: runs in a process each, not paired
        else ratio_row(label, d["session_write"], d["pickle_dump"], limit=1.1)
    )
    rows = [
        write,
        ratio_row(
            "6b `load_inputs()` of it in a kernel vs raw `pickle.load`",
            d["load_inputs"],
            d["pickle_load"],
            limit=None,
        ),
    ]
    notes = [
        f"`from interactive_ext import load_inputs` in the kernel, timed once before the runs: "
        f"{d.get('import_seconds', 0):.3f} s.",
        "The session write is atomic: pickle.dump streams into a private (0600) temp file "
        "in the session directory, which is then renamed into place; no fsync, as for the "
        "plain pickle.dump.",
    ]
    return rows, notes
