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

from . import common
from .common import Settings
from .startup import OFF, resume_and_wait, wrapper_cmd


def _tree_cpu(pid: int) -> float:
    """CPU seconds of pid and its live descendants."""
    return sum(common.cpu_seconds(p) or 0.0 for p in [pid, *common.descendants(pid)])


def measure(s: Settings) -> dict[str, Any]:
    """CPU seconds per slice of the window for each tree."""
    env = common.bench_env(s.work)
    with contextlib.ExitStack() as stack:
        procs: dict[str, tuple[common.Proc, int]] = {}
        for name in ("wrapper", "server_ext", "bare"):
            work = common.tmpdir(s.work, f"idlecost-{name}-")
            port = common.free_port()
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
