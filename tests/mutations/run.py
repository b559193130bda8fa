"""Break the product on purpose and show which tests catch it (not part of the normal suite).

Each mutation is a product-level fault injected at import time by site/sitecustomize.py (no
code is edited): pytest and every process it spawns start with that folder on PYTHONPATH and
the fault named in INTERACTIVE_EXT_MUTATION. For each mutation the relevant tests run once;
the mutation is caught when at least one of them fails. A baseline run without any mutation
comes first: a test failing there says nothing about a mutation (on a loaded machine, re-run).

    .venv/bin/python tests/mutations/run.py                     # every mutation
    .venv/bin/python tests/mutations/run.py --only late_stop,saved_field_500
    .venv/bin/python tests/mutations/run.py --suite idle        # the mutations of one suite
    .venv/bin/python tests/mutations/run.py --only late_stop --select 'tests/test_server.py -k idle'

Run it before resolving an issue that touches the idle rule or the REST API; say the result.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SITE = HERE / "site"

SUITES = {
    # the idle rule and its precision: the watcher alone, then real servers
    "idle": [
        "tests/unit/server/test_idle.py",
        "tests/test_server.py",
        "-k",
        "idle or heartbeat or polling or busy",
    ],
    # the REST API: fuzzed on a real server, then the handlers in process
    "fuzz": ["tests/test_fuzz.py", "tests/test_fuzz_fields.py", "tests/test_handlers.py"],
}
MUTATIONS = {
    "late_stop": ("idle", "every jupyter_server stop comes 2.5 s late"),
    "late_decision": ("idle", "the idle stop is requested 2.5 s after the deadline"),
    "early_decision": ("idle", "the idle deadline is 0.3 s early"),
    "heartbeat_ignored": ("idle", "a heartbeat POST does not count as activity"),
    "saved_field_500": ("fuzz", 'POST /interactive/saved answers 500 on a bad "saved"/"failed"'),
    "resume_field_500": ("fuzz", "POST /interactive/resume answers 500 on a bad input"),
}


def run_suite(suite: str, mutation: str | None, work: Path) -> tuple[dict[str, str], float]:
    """Run one suite under mutation (None: none); each test's outcome, and the seconds taken."""
    xml = work / f"{suite}-{mutation or 'baseline'}.xml"
    env = dict(os.environ)
    env.pop("INTERACTIVE_EXT_MUTATION", None)
    if mutation:
        env["INTERACTIVE_EXT_MUTATION"] = mutation
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SITE), env.get("PYTHONPATH")]))
    # one process (-n 0): a mutation's catches do not depend on what runs beside it
    cmd = [sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider"]
    cmd.append(f"--junitxml={xml}")
    started = time.monotonic()
    subprocess.run(
        [*cmd, *SUITES[suite]],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    return outcomes(xml), time.monotonic() - started


def outcomes(xml: Path) -> dict[str, str]:
    """test id -> passed / failed / error / skipped, from a junit XML report."""
    if not xml.exists():
        return {"(pytest did not run)": "error"}
    results = {}
    for case in ET.parse(xml).getroot().iter("testcase"):
        name = f"{case.get('classname', '')}::{case.get('name', '')}".replace("tests.", "", 1)
        kinds = [child.tag for child in case]
        kind = next((k for k in ("failure", "error", "skipped") if k in kinds), "passed")
        results[name] = {"failure": "failed"}.get(kind, kind)
    return results


def main(argv: list[str] | None = None) -> int:
    """Run the baseline and the mutations; print which tests catch each; 1 if one is missed."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--only", help=f"comma-separated mutations (of {', '.join(MUTATIONS)})")
    p.add_argument("--suite", choices=sorted(SUITES), help="only the mutations of this suite")
    p.add_argument(
        "--select",
        help="pytest arguments instead of the suites' "
        "(e.g. 'tests/unit/server/test_idle.py -k precise'), for a quick check of a few tests; "
        "one baseline, then each chosen mutation",
    )
    args = p.parse_args(argv)
    if args.select:
        import shlex

        for suite in SUITES:
            SUITES[suite] = shlex.split(args.select)
    chosen = args.only.split(",") if args.only else list(MUTATIONS)
    unknown = sorted(set(chosen) - set(MUTATIONS))
    if unknown:
        p.error(f"unknown mutation(s) {', '.join(unknown)}; choose from {', '.join(MUTATIONS)}")
    if args.suite:
        chosen = [m for m in chosen if MUTATIONS[m][0] == args.suite]
    missed = 0
    with tempfile.TemporaryDirectory(prefix="mutations-") as tmp:
        work = Path(tmp)
        for suite in sorted({MUTATIONS[m][0] for m in chosen}):
            print(f"## suite {suite}: pytest {' '.join(SUITES[suite])}", flush=True)
            base, seconds = run_suite(suite, None, work)
            broken = sorted(t for t, o in base.items() if o in ("failed", "error"))
            print(f"baseline: {len(base) - len(broken)}/{len(base)} pass ({seconds:.0f} s)")
            for test in broken:
                print(f"  baseline FAILS (a catch below says nothing there): {test}")
            for mutation in (m for m in chosen if MUTATIONS[m][0] == suite):
                got, seconds = run_suite(suite, mutation, work)
                caught = sorted(
                    t for t, o in got.items() if o in ("failed", "error") and t not in broken
                )
                verdict = "caught" if caught else "MISSED"
                missed += not caught
                print(
                    f"{mutation} ({MUTATIONS[mutation][1]}): {verdict} by {len(caught)} of "
                    f"{len(got)} tests ({seconds:.0f} s)",
                    flush=True,
                )
                for test in caught:
                    print(f"  {test}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
