"""Figure 4: what a task that is not interactive pays.

- `python -c "import interactive_ext"` vs `python -c pass`, alternated, wall time of the
  whole process (median of many runs); also `from interactive_ext import interactive`, and
  whether jupyter_server got imported (it must not);
- a call of a disabled @interactive function vs the plain function (timeit, in one process,
  alternated), both with enable=False and with INTERACTIVE_EXT_ENABLE=0.
"""

from __future__ import annotations

import json
import subprocess
import time
from typing import Any

from . import common
from .common import Settings
from .table import dist, med, num, row, verdict

TITLE = "4. Overhead when not interactive"
"""The section of docs/benchmarks.md."""

VARIANTS = {
    "pass": "pass",
    "import": "import interactive_ext",
    "decorator": "from interactive_ext import interactive",
}

PROBE = """
import json, sys
from interactive_ext import interactive
heavy = ("jupyter", "tornado", "zmq", "traitlets", "nbformat")
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0].startswith(heavy))))
"""

CALLS = r"""
import json, os, sys, timeit
os.environ["INTERACTIVE_EXT_ENABLE"] = "0"
from interactive_ext import interactive
def plain(x):
    return x
off = interactive(enable=False)(plain)
env_off = interactive(plain)
number, repeat = int(sys.argv[1]), int(sys.argv[2])
res = {"plain": [], "enable_false": [], "env_off": []}
for _ in range(repeat):
    for name, f in (("plain", plain), ("enable_false", off), ("env_off", env_off)):
        t = timeit.timeit(lambda: f(1), number=number)
        res[name].append(t / number * 1e6)
res["jupyter_server_imported"] = "jupyter_server" in sys.modules
res["same_object"] = off is plain
print(json.dumps(res))
"""


def _time(code: str, env: dict[str, str]) -> float:
    """Wall seconds of one `python -c code`."""
    t0 = time.perf_counter()
    subprocess.run([common.PYTHON, "-c", code], env=env, check=True, cwd=common.ROOT)
    return time.perf_counter() - t0


def _run_json(env: dict[str, str], code: str, *args: str) -> Any:
    """Run code in a fresh interpreter; the JSON it prints."""
    done = subprocess.run(
        [common.PYTHON, "-c", code, *args],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        cwd=common.ROOT,
    )
    return json.loads(done.stdout)


def measure(s: Settings) -> dict[str, Any]:
    """Import overhead and disabled-call overhead."""
    env = common.bench_env(s.work)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    for code in VARIANTS.values():  # warm the page cache and the bytecode
        _time(code, env)
    out: dict[str, Any] = {name: [] for name in VARIANTS}
    for _ in range(s.overhead_runs):
        for name, code in VARIANTS.items():
            out[name].append(_time(code, env))
    out["heavy_modules_after_decorator_import"] = _run_json(env, PROBE)
    number, repeat = (20_000, 3) if s.quick else (200_000, 7)
    out["calls"] = _run_json(env, CALLS, str(number), str(repeat))
    s.say("overhead: import runs %d, calls %s", s.overhead_runs, out["calls"])
    return out


# -- the report -----------------------------------------------------------------------


def _import_row(
    label: str, ours: list[float | None], plain: list[float | None], limit: float | None
) -> str:
    """A process start with an import vs `python -c pass`: the milliseconds it adds."""
    extra = num(med(ours)) - num(med(plain))
    target, judged = (
        ("(informative)", "n/a")
        if limit is None
        else (f"< {limit * 1000:.0f} ms more", verdict(extra < limit))
    )
    cells = dist(ours, "ms", 1000, 1), dist(plain, "ms", 1000, 1), f"+{extra * 1000:.1f} ms"
    return row(label, *cells, target, judged)


def rows(d: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Figure 4 rows and notes."""
    calls = d["calls"]
    plain = num(med(calls["plain"]))
    rows = [
        _import_row(
            "4a `python -c 'import interactive_ext'` vs `python -c pass`",
            d["import"],
            d["pass"],
            0.030,
        ),
        _import_row(
            "4b `python -c 'from interactive_ext import interactive'` vs `python -c pass`",
            d["decorator"],
            d["pass"],
            None,
        ),
    ]
    for key, label in (("enable_false", "enable=False"), ("env_off", "INTERACTIVE_EXT_ENABLE=0")):
        middle = num(med(calls[key]))
        rows.append(
            row(
                f"4c call of a disabled @interactive function ({label}) vs the plain function",
                dist(calls[key], "µs", 1, 3),
                dist(calls["plain"], "µs", 1, 3),
                f"+{middle - plain:.3f} µs",
                "< 5 µs more per call",
                verdict(middle - plain < 5.0),
            )
        )
    heavy = d.get("heavy_modules_after_decorator_import", [])
    notes = [
        f"Process wall times, median of {len(d['pass'])} alternated runs each. Per-call times "
        f"from timeit (median of {len(calls['plain'])} alternated repeats).",
        "Heavy modules loaded by `from interactive_ext import interactive`: "
        + (", ".join(f"`{m}`" for m in heavy) if heavy else "none")
        + " (jupyter_server must not be among them).",
        f"`interactive(enable=False)(f) is f`: {calls.get('same_object')}.",
    ]
    return rows, notes
