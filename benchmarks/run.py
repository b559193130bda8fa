"""Run the benchmarks and write docs/benchmarks.md and benchmarks/results.json.

Full run (the documented one, several minutes on 2 cores):
    .venv/bin/python benchmarks/run.py
Quick mode (one run of each, short timeouts; what the test suite runs):
    .venv/bin/python benchmarks/run.py --quick --out-dir /tmp/bench
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import platform
import shutil
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import common, report  # noqa: E402
from benchmarks.figures import FIGURES  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="one run of each, short timeouts")
    p.add_argument(
        "--out-dir",
        help="write benchmarks.md and results.json here "
        "(default: docs/benchmarks.md and benchmarks/results.json)",
    )
    p.add_argument(
        "--only", help=f"comma-separated figures to run (default: all of {', '.join(FIGURES)})"
    )
    p.add_argument(
        "--merge",
        action="store_true",
        help="keep the figures of the existing results.json that this run does not measure "
        "(each figure of this run names its command and date)",
    )
    p.add_argument(
        "--notebook-bin",
        help="the `jupyter-notebook` to run as flytekit's reference "
        "(default: the one in this environment, from the bench extra)",
    )
    return p.parse_args(argv)


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import jupyter_server

    try:
        load = os.getloadavg()
    except OSError:
        load = (0.0, 0.0, 0.0)
    return {
        "platform": platform.platform(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "jupyter_server": jupyter_server.__version__,
        "loadavg_at_start": [round(x, 2) for x in load],
    }


def merged(results: dict[str, Any], json_path: Path) -> dict[str, Any]:
    """The previous results with this run's figures in place of theirs, each naming its run."""
    try:
        previous = json.loads(json_path.read_text())
    except (OSError, ValueError):
        return results
    run = {k: results[k] for k in ("command", "date", "mode")}
    run["loadavg_at_start"] = results["machine"]["loadavg_at_start"]
    for data in results["figures"].values():
        data["measured_by"] = run
    previous["figures"].update(results["figures"])
    return dict(previous)


def main(argv: list[str] | None = None) -> int:
    """Run the figures, write the raw runs and the table."""
    args = parse_args(argv)
    notebook_bin = args.notebook_bin or str(common.BIN / "jupyter-notebook")
    if not Path(notebook_bin).exists():
        notebook_bin = None
    work = Path(tempfile.mkdtemp(prefix="interactive-bench-"))
    quick = args.quick
    s = common.Settings(
        quick=quick,
        runs=1 if quick else 5,
        idle_runs_ours=1 if quick else 10,
        reference_cap=3.0 if quick else 90.0,
        idle_cost_window=1.0 if quick else 30.0,
        overhead_runs=3 if quick else 30,
        inputs_mb=16 if quick else 256,
        notebook_bin=notebook_bin,
        work=work,
    )
    only = [f.strip() for f in args.only.split(",")] if args.only else list(FIGURES)
    unknown = sorted(set(only) - set(FIGURES))
    if unknown:
        print(f"unknown figure(s) {', '.join(unknown)}; choose from {', '.join(FIGURES)}")
        return 2
    command = "benchmarks/run.py" + (" --quick" if quick else "")
    if args.only:
        command += f" --only {args.only}"
    if args.merge:
        command += " --merge"
    results: dict[str, Any] = {
        "command": f".venv/bin/python {command}",
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "machine": machine(),
        "mode": "quick" if quick else "full",
        "notebook_bin": notebook_bin,
        "figures": {},
    }
    t_start = time.monotonic()
    # As pip does on install: an installed package starts from its byte code (see the report).
    compileall.compile_dir(str(ROOT / "interactive_ext"), quiet=1)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))
    try:
        for name in only:
            s.say("figure %s ...", name)
            t0 = time.monotonic()
            try:
                data = FIGURES[name].measure(s)
            except Exception as e:
                s.say("figure %s failed: %r", name, e)
                data = {"error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()}
            data["elapsed_seconds"] = round(time.monotonic() - t0, 1)
            results["figures"][name] = data
    finally:
        common.kill_all()
        shutil.rmtree(work, ignore_errors=True)
    results["elapsed_seconds"] = round(time.monotonic() - t_start, 1)
    if args.out_dir:
        out = Path(args.out_dir)
        out.mkdir(parents=True, exist_ok=True)
        md_path, json_path = out / "benchmarks.md", out / "results.json"
    else:
        md_path, json_path = ROOT / "docs" / "benchmarks.md", ROOT / "benchmarks" / "results.json"
    if args.merge:
        results = merged(results, json_path)
    json_path.write_text(json.dumps(results, indent=1, default=str) + "\n")
    md_path.write_text(report.render(results))
    s.say("wrote %s and %s in %.0f s", md_path, json_path, results["elapsed_seconds"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
