"""Figure 3: resume latency, from the resume POST to the first line of the task running.

`jupyter interactive-task run tasks.py:first_line` waits; with 0 or 2 kernels open (started
over REST and answering), the clock starts just before POST /interactive/resume and stops at
the time.time() the task's first line writes to a file. Runs alternate 0 and 2 kernels.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from harness import Address, execute, free_port, start_kernel, wait_for

from . import common
from .common import Settings
from .probes import wrapper_cmd
from .table import dist, med, row, verdict

TITLE = "3. Resume latency"
"""The section of docs/benchmarks.md."""

CHANGED = 20
"""Modules the task imports and that are edited before the resume (the reload case)."""


def _task_with_modules(work: Path) -> str:
    """A task file importing CHANGED modules of its folder; its MODULE:FUNCTION reference."""
    for i in range(CHANGED):
        (work / f"mod{i}.py").write_text(f"def value():\n    return {i}\n")
    imports = "".join(f"import mod{i}\n" for i in range(CHANGED))
    (work / "task_mods.py").write_text(
        f"import time\n{imports}\n\ndef first_line(path):\n"
        "    open(path, 'w').write(repr(time.time()))\n    return mod0.value()\n"
    )
    return f"{work / 'task_mods.py'}:first_line"


def _once(s: Settings, kernels: int, changed: bool = False) -> dict[str, Any]:
    """One resume with the given number of open kernels (and CHANGED edited modules)."""
    work = common.tmpdir(s.work, f"resume-{kernels}k-")
    port = free_port()
    stamp = work / "first_line.txt"
    cmd = wrapper_cmd(work, port, "first_line", "--kwargs", f'{{"path": "{stamp}"}}')
    if changed:
        ref = _task_with_modules(work)
        cmd = [ref if c.endswith("tasks.py:first_line") else c for c in cmd]
    with common.running(cmd, common.bench_env(s.work), work, work / "wrapper.log") as proc:
        common.wait_answer(proc, port)
        for _ in range(kernels):
            kernel_id = start_kernel(Address(port, common.TOKEN))
            execute(Address(port, common.TOKEN), kernel_id)
        for i in range(CHANGED if changed else 0):  # edited while the server waits
            (work / f"mod{i}.py").write_text(f"def value():\n    return {i + 100}\n")
        t0 = time.time()
        status, body = common.request(port, "POST", "/interactive/resume", body={})
        if status != 202:
            raise RuntimeError(f"resume answered {status}: {body}")
        text = wait_for(
            lambda: stamp.exists() and stamp.read_text(),
            60,
            "the task's first line",
            interval=0.002,
        )
        latency = float(text) - t0
        try:
            code = proc.popen.wait(60)
        except Exception:
            code = None
    return {
        "kernels": kernels,
        "changed": CHANGED if changed else 0,
        "seconds": latency,
        "exit_code": code,
    }


def measure(s: Settings) -> dict[str, Any]:
    """Resume latency with 0 and 2 kernels, alternated."""
    out: dict[str, Any] = {"0_kernels": [], "2_kernels": [], "2_kernels_changed": []}
    for i in range(s.runs):
        for k in (0, 2):
            run = _once(s, k)
            out[f"{k}_kernels"].append(run)
            s.say(
                "resume #%d with %d kernels: %.3f s (exit %s)",
                i + 1,
                k,
                run["seconds"],
                run["exit_code"],
            )
        run = _once(s, 2, changed=True)
        out["2_kernels_changed"].append(run)
        s.say(
            "resume #%d with 2 kernels, %d changed modules: %.3f s (exit %s)",
            i + 1,
            CHANGED,
            run["seconds"],
            run["exit_code"],
        )
    return out


# -- the report -----------------------------------------------------------------------


def rows(d: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Figure 3 rows and notes."""
    rows = []
    for k in (0, 2):
        runs = d[f"{k}_kernels"]
        vals = [r["seconds"] for r in runs]
        middle = med(vals)
        rows.append(
            row(
                f"3 resume: POST /interactive/resume -> task's first line, {k} kernels open",
                dist(vals),
                "- (flytekit: no resume)",
                "-",
                "median < 1 s" if k == 2 else "(informative)",
                verdict(middle < 1.0 if middle is not None else None) if k == 2 else "n/a",
            )
        )
    changed = d.get("2_kernels_changed") or []
    if changed:
        vals = [r["seconds"] for r in changed]
        rows.append(
            row(
                f"3 resume, 2 kernels, {changed[0].get('changed')} changed modules re-loaded",
                dist(vals),
                "- (flytekit: no resume)",
                "-",
                "(informative)",
                "n/a",
            )
        )
    codes = sorted({r.get("exit_code") for k in (0, 2) for r in d[f"{k}_kernels"]}, key=str)
    return rows, [f"Exit codes of the resumed runs: {codes} (0 = the task returned)."]
