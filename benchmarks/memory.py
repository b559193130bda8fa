"""Figure 7: peak RSS of the waiting wrapper beyond the task's own data.

The same script (benchmarks/tasks.py) builds an MB-sized NumPy array and calls a task on it:
plainly (reference), or through @interactive, which writes the inputs, starts the server and
waits until a resume. In both the task records the process's peak RSS (VmHWM) when it runs,
so the interactive figure covers the whole wait. Extra = interactive - plain.
"""

from __future__ import annotations

from typing import Any

from . import common
from .common import Settings
from .startup import resume_and_wait


def _once(s: Settings, mode: str) -> float:
    """Peak RSS (MiB) of one run of the script."""
    work = common.tmpdir(s.work, f"memory-{mode}-")
    out = work / "peak.txt"
    port = common.free_port()
    cmd = [
        common.PYTHON,
        str(common.BENCH / "tasks.py"),
        str(s.inputs_mb),
        str(out),
        str(port),
        common.TOKEN,
        mode,
    ]
    with common.running(cmd, common.bench_env(s.work), work, work / "out.log") as proc:
        if mode == "interactive":
            common.wait_answer(proc, port)
            code = resume_and_wait(proc, port)
        else:
            code = proc.popen.wait(120)
        if code != 0:
            raise RuntimeError(f"the {mode} run exited {code}: {proc.tail()}")
    return int(out.read_text()) / 1024


def measure(s: Settings) -> dict[str, Any]:
    """Plain vs interactive peak RSS, alternated."""
    out: dict[str, Any] = {"mb": s.inputs_mb, "interactive": [], "plain": []}
    for i in range(s.runs):
        out["interactive"].append(_once(s, "interactive"))
        out["plain"].append(_once(s, "plain"))
        s.say(
            "memory #%d: interactive %.1f MiB, plain %.1f MiB",
            i + 1,
            out["interactive"][-1],
            out["plain"][-1],
        )
    return out
