"""The benchmark harness runs end to end in quick mode (so it cannot rot)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
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
}


def _jupyter_processes() -> set[str]:
    """Command lines of live jupyter/ipykernel processes (to check that none is left)."""
    found = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "interactive-bench-" in cmd:
            found.add(f"{proc.name} {cmd}")
    return found


@pytest.mark.timeout(240)
def test_quick_run_writes_table_and_raw_runs(tmp_path: Path) -> None:
    """`benchmarks/run.py --quick` measures every figure and writes both files."""
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "run.py"),
            "--quick",
            "--out-dir",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=220,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert set(results["figures"]) == FIGURES
    failed = {k: v["error"] for k, v in results["figures"].items() if "error" in v}
    assert not failed, failed
    idle = results["figures"]["idle"]
    for case in ("no_kernel", "idle_kernel", "busy_kernel"):
        (run,) = idle[f"ours/{case}"]
        assert run["outcome"] == "idle", run
        assert run["overshoot"] is not None and run["overshoot"] > 0, run
        assert not run["stopped_during_cell"], run
    resume = results["figures"]["resume"]
    assert [r["exit_code"] for r in resume["0_kernels"] + resume["2_kernels"]] == [0, 0]
    contained = results["figures"]["containment"]
    for run in contained["kill"] + contained["resume"]:  # nothing outlived the session
        assert run["left"] == 0 and not run["ready_file_left"], run
    table = (tmp_path / "benchmarks.md").read_text()
    assert "| figure | ours | reference | ratio | target | verdict |" in table
    assert "benchmarks/run.py --quick" in table
    for prefix in (
        "| 1a ",
        "| 1b ",
        "| 2 ",
        "| 3 ",
        "| 4a ",
        "| 4c ",
        "| 5 ",
        "| 6a ",
        "| 7 ",
        "| 8",
        "| 9 ",
        "| 10a ",
        "| 11a ",
        "| 11b ",
        "| 12 ",
    ):
        assert prefix in table, prefix
    assert not _jupyter_processes(), "the harness left processes running"
