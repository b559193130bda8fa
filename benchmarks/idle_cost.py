"""Figure 5: CPU used while nobody is attached, vs a bare jupyter server.

Three process trees start together and wait, side by side in the same window: the wrapper
(`jupyter interactive-task run tasks.py:trivial`, its server child included), `jupyter
server` with the extension, and a bare `jupyter server` (extension off). After they all
answer and settle, CPU seconds (utime+stime from /proc/<pid>/stat of each process of the
tree) are read over the window, cut into slices (one "run" per slice).
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from harness import free_port
from interactive_ext.procs import descendants

from . import common
from .common import Settings
from .probes import OFF, resume_and_wait, wrapper_cmd
from .table import dist, ratio, row, verdict

TITLE = "5. Idle cost"
"""The section of docs/benchmarks.md."""


def _tree_cpu(pid: int) -> float:
    """CPU seconds of pid and its live descendants."""
    return sum(common.cpu_seconds(p) or 0.0 for p in [pid, *descendants(pid)])


def measure(s: Settings) -> dict[str, Any]:
    """CPU seconds per slice of the window for each tree."""
    env = common.bench_env(s.work)
    with contextlib.ExitStack() as stack:
        procs: dict[str, tuple[common.Proc, int]] = {}
        for name in ("wrapper", "server_ext", "bare"):
            work = common.tmpdir(s.work, f"idlecost-{name}-")
            port = free_port()
            if name == "wrapper":
                cmd = wrapper_cmd(work, port, "trivial")
            else:
                extra = [] if name == "server_ext" else [OFF]
                cmd = common.jupyter("server", *common.server_flags(port, work), *extra)
            proc = stack.enter_context(common.running(cmd, env, work, work / "out.log"))
            procs[name] = (proc, port)
        for proc, port in procs.values():
            common.wait_answer(proc, port)
        time.sleep(1.0 if s.quick else 3.0)  # let start-up work (imports, first GCs) finish
        slices = 1 if s.quick else s.runs
        length = s.idle_cost_window / slices
        out: dict[str, Any] = {name: [] for name in procs}
        out["window_seconds"] = s.idle_cost_window
        out["slice_seconds"] = length
        for _ in range(slices):
            before = {name: _tree_cpu(p.pid) for name, (p, _) in procs.items()}
            time.sleep(length)
            for name, (p, _) in procs.items():
                out[name].append(_tree_cpu(p.pid) - before[name])
        wrapper, port = procs["wrapper"]
        out["wrapper_exit_code"] = resume_and_wait(wrapper, port)
    s.say("idle cost: %s", {k: v for k, v in out.items() if isinstance(v, list)})
    return out


# -- the report -----------------------------------------------------------------------


def rows(d: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Figure 5 rows and notes."""
    window = d["window_seconds"]
    bare = sum(d["bare"])
    rows = []
    for key, label in (
        ("wrapper", "the waiting wrapper + its server"),
        ("server_ext", "`jupyter server` with the extension"),
    ):
        ours = sum(d[key])
        rows.append(
            row(
                f"5 idle cost: CPU seconds over {window:.0f} s, nobody attached: {label}",
                f"{ours:.2f} s (slices {dist(d[key], 's', 1, 2)})",
                f"bare `jupyter server`: {bare:.2f} s (slices {dist(d['bare'], 's', 1, 2)})",
                ratio(ours, bare),
                "no more than bare (+1 clock tick, 0.01 s)",
                # in clock ticks (0.01 s), so that a float sum's rounding is no tick
                verdict(round(ours * 100) <= round(bare * 100) + 1),
            )
        )
    notes = [
        "The three trees ran side by side in the same window (so they share the noise); CPU "
        "is utime+stime from /proc, in 10 ms ticks.",
        f"Wrapper exit code after the closing resume: {d.get('wrapper_exit_code')}.",
    ]
    return rows, notes
