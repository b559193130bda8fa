"""Figure 7: peak RSS of the waiting wrapper beyond the task's own data.

The same script (benchmarks/tasks.py) builds an MB-sized NumPy array and calls a task on it:
plainly (reference), or through @interactive, which writes the inputs, starts the server and
waits until a resume. In both the task records the process's peak RSS (VmHWM) when it runs,
so the interactive figure covers the whole wait. Extra = interactive - plain.
"""

from __future__ import annotations

from typing import Any

from harness import free_port

from . import common
from .common import Settings
from .probes import resume_and_wait
from .table import dist, med, row

TITLE = "7. Memory"
"""The section of docs/benchmarks.md."""


def _once(s: Settings, mode: str) -> float:
    """Peak RSS (MiB) of one run of the script."""
    work = common.tmpdir(s.work, f"memory-{mode}-")
    out = work / "peak.txt"
    port = free_port()
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


# -- the report -----------------------------------------------------------------------


def rows(d: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Figure 7 rows and notes."""
    extra = [a - b for a, b in zip(d["interactive"], d["plain"], strict=False)]
    mb = d["mb"]
    middle = med(extra)
    rows = [
        row(
            f"7 peak RSS of the waiting wrapper beyond the task's own data ({mb} MB array)",
            dist(d["interactive"], "MiB", 1, 1),
            "same task run plainly: " + dist(d["plain"], "MiB", 1, 1),
            f"+{middle:.1f} MiB" if middle is not None else "-",
            "(informative: report)",
            "n/a",
        )
    ]
    notes = [
        f"Extra peak RSS per run (interactive - plain): {dist(extra, 'MiB', 1, 1)}; the data "
        f"itself is {mb} MiB. A full in-memory pickle of the inputs (pickle.dumps before the "
        "atomic write) costs about the size of the data at the peak.",
    ]
    return rows, notes
