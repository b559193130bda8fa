"""The benchmark harness runs end to end in quick mode (so it cannot rot)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
TIMED = {"idle", "lab_idle", "containment"}
"""Figures whose quick run asserts an absolute timing (idle precision, containment within 2 s):
they run alone (`serial`); the others run beside the rest of the suite."""
FIGURES = {
    "overhead",
    "startup",
    "resume",
    "idle",
    "idle_cost",
    "inputs",
    "memory",
    "zero_copy",
    "lab_idle",
    "lab_load",
    "containment",
    "capture",
    "changes",
    "park",
}


# Runs the harness as a child subreaper (prctl PR_SET_CHILD_SUBREAPER): whatever the harness
# or its processes leave, even detached (setsid, a double fork, env={}), is re-parented here
# instead of to init; once the harness exits, every process still under this one is a leak.
REAPER = """
import ctypes, json, os, subprocess, sys, time
import psutil
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)
code = subprocess.call(sys.argv[1:])
me, end, left = psutil.Process(), time.monotonic() + 10, []
while True:  # reap the orphans that exit; a process still running after 10 s has leaked
    try:
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass
    left = [p for p in me.children(recursive=True) if p.status() != psutil.STATUS_ZOMBIE]
    if not left or time.monotonic() > end:
        break
    time.sleep(0.1)
names = []
for p in left:
    try:
        names.append(f"{p.pid} {' '.join(p.cmdline())[:200]}")
        p.kill()
    except psutil.Error:
        pass
print(json.dumps({"code": code, "left": names}))
"""
DETERMINISTIC = ("| 2 ", "| 9 ", "| 11a ", "| 11b ")
"""Rows whose target is absolute (idle precision, containment), not a ratio to noisy runs."""


def quick_run(out: Path, figures: set[str]) -> tuple[dict[str, Any], str]:
    """`benchmarks/run.py --quick --only FIGURES` under the reaper: its results and table,
    after checking that it exited 0, left no process and measured every figure."""
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            REAPER,
            sys.executable,
            str(ROOT / "benchmarks" / "run.py"),
            "--quick",
            "--only",
            ",".join(sorted(figures)),
            "--out-dir",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=220,
    )
    reaped = json.loads(done.stdout.strip().splitlines()[-1])
    assert reaped["code"] == 0, done.stderr[-3000:]
    assert not reaped["left"], f"the harness left processes running: {reaped['left']}"
    results = json.loads((out / "results.json").read_text())
    assert set(results["figures"]) == figures
    failed = {k: v["error"] for k, v in results["figures"].items() if "error" in v}
    assert not failed, failed
    table = (out / "benchmarks.md").read_text()
    assert "| figure | ours | reference | ratio | target | verdict |" in table
    assert "benchmarks/run.py --quick" in table
    return results, table


@pytest.mark.timeout(240)
@pytest.mark.serial  # idle precision and containment within 2 s, measured
def test_quick_run_of_the_timed_figures(tmp_path: Path) -> None:
    """The idle and containment figures in quick mode, alone: their absolute targets hold."""
    results, table = quick_run(tmp_path, TIMED)
    idle = results["figures"]["idle"]
    for case in ("no_kernel", "idle_kernel", "busy_kernel"):
        (run,) = idle[f"ours/{case}"]
        assert run["outcome"] == "idle", run
        # against the deadline the harness computes from its own last act (the promise: 1 s)
        assert run["overshoot"] is not None and 0 < run["overshoot"] <= 1.0, run
        assert run["decision_overshoot"] is not None and run["decision_overshoot"] <= 0.1, run
        assert not run["stopped_during_cell"], run
    contained = results["figures"]["containment"]
    for run in contained["kill"] + contained["resume"]:  # nothing outlived the session
        assert run["left"] == 0 and not run["ready_file_left"], run
    rows = [line for line in table.splitlines() if line.startswith(DETERMINISTIC)]
    assert len(rows) >= 6, rows  # figure 2's three cases, 9, 11a, 11b
    missed = [row for row in rows if "MISS" in row or "not measured" in row]
    assert not missed, missed


@pytest.mark.timeout(240)
def test_quick_run_of_the_other_figures_writes_table_and_raw_runs(tmp_path: Path) -> None:
    """Every other figure in quick mode, beside the rest of the suite: each measured, its rows
    in the table (ratios to noisy runs: no verdict is asserted)."""
    results, table = quick_run(tmp_path, FIGURES - TIMED)
    resume = results["figures"]["resume"]
    assert [r["exit_code"] for r in resume["0_kernels"] + resume["2_kernels"]] == [0, 0]
    for prefix in ("| 1a ", "| 1b ", "| 3 ", "| 4a ", "| 4c ", "| 5 ", "| 6a ", "| 7 ", "| 8"):
        assert prefix in table, prefix
    for prefix in ("| 1d ", "| 10a ", "| 12 ", "| 13", "| 14a "):
        assert prefix in table, prefix
