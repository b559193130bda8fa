"""Figure 3: resume latency, from the resume POST to the first line of the task running.

`jupyter interactive-task run tasks.py:first_line` waits; with 0 or 2 kernels open (started
over REST and answering), the clock starts just before POST /interactive/resume and stops at
the time.time() the task's first line writes to a file. Runs alternate 0 and 2 kernels.
"""

from __future__ import annotations

import time
from typing import Any

from . import common
from .common import Settings
from .startup import wrapper_cmd


def _once(s: Settings, kernels: int) -> dict[str, Any]:
    """One resume with the given number of open kernels."""
    work = common.tmpdir(s.work, f"resume-{kernels}k-")
    port = common.free_port()
    stamp = work / "first_line.txt"
    cmd = wrapper_cmd(work, port, "first_line", "--kwargs", f'{{"path": "{stamp}"}}')
    with common.running(cmd, common.bench_env(s.work), work, work / "wrapper.log") as proc:
        common.wait_answer(proc, port)
        for _ in range(kernels):
            kernel_id = common.start_kernel(port)
            common.kernel_session(port, kernel_id)
        t0 = time.time()
        status, body = common.request(port, "POST", "/interactive/resume", body={})
        if status != 202:
            raise RuntimeError(f"resume answered {status}: {body}")
        text = common.wait_for(
            lambda: stamp.exists() and stamp.read_text(), 60, 0.002, "the task's first line"
        )
        latency = float(text) - t0
        try:
            code = proc.popen.wait(60)
        except Exception:
            code = None
    return {"kernels": kernels, "seconds": latency, "exit_code": code}


def measure(s: Settings) -> dict[str, Any]:
    """Resume latency with 0 and 2 kernels, alternated."""
    out: dict[str, Any] = {"0_kernels": [], "2_kernels": []}
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
    return out
