"""Figure 1: startup to the first answered HTTP request, and where the time goes.

Two comparisons, each alternating ours and the reference (A B A B ...):
- `jupyter interactive-task run tasks.py:trivial` vs a bare `jupyter server` with the same
  flags (address, port, token, root dir; the extension off);
- `jupyter server` with the extension on vs the same with
  `--ServerApp.jpserver_extensions=interactive_ext=False` (issue 2's bar).
The wrapper's run is also paired with the same run notifying a local target (1c) and with the
same run joining a real JupyterHub on 127.0.0.1 (1d, harness/hub.py; started once for the figure).
The clock runs from just before the process is spawned to the first HTTP answer of GET /api
(polled every 5 ms). The wrapper runs are ended by a resume, so they also check that the
trivial task completes (exit 0).
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import re
import subprocess
from collections.abc import Iterator
from typing import Any

from harness import Receiver, free_port
from harness.hub import Hub, running_hub

from . import common
from .common import Settings
from .probes import OFF, wrapper_once
from .table import dist, med, not_measured, not_slower_row, ratio_row

TITLE = "1. Startup"
"""The section of docs/benchmarks.md."""

WRAPPER_PAIRS = 25
"""Wrapper runs per side in full mode: 1c and 1d are paired rows, and 5 pairs give an interval
wider than their 5 % margin on a machine whose server starts vary by a second; 15 still gave
0.947-1.124 for a 1d whose CPU time equals the plain run's, on a loaded machine."""
SITE_INTERVAL = 300
"""1d's Hub checks its routes and services as a site's does (JupyterHub's default
last_activity_interval): it runs through the whole figure, and a check every second would load
the other rows' runs too."""


def _server_once(s: Settings, extension: bool) -> dict[str, Any]:
    """One `jupyter server` run, with or without the extension: seconds to first answer."""
    work = common.tmpdir(s.work, "startup-server-")
    port = free_port()
    cmd = common.jupyter("server", *common.server_flags(port, work), *([] if extension else [OFF]))
    with common.running(cmd, common.bench_env(s.work), work, work / "server.log") as proc:
        t = common.wait_answer(proc, port) - proc.t0
        loaded = "interactive_ext | extension was successfully loaded" in proc.log_text()
    if loaded != extension:
        raise RuntimeError(f"extension loaded={loaded}, expected {extension}: {proc.tail()}")
    return {"seconds": t}


def importtime_top(text: str, top: int = 12) -> dict[str, Any]:
    """Summarise `python -X importtime` output: total and the slowest top-level imports."""
    rows = []
    for line in text.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)", line)
        if m:
            rows.append((int(m.group(2)), len(m.group(3)), m.group(4)))
    tops = [(cum, name) for cum, depth, name in rows if depth == 0]
    tops.sort(reverse=True)
    return {
        "total_ms": round(sum(c for c, _ in tops) / 1000, 1),
        "top": [{"module": n, "cumulative_ms": round(c / 1000, 1)} for c, n in tops[:top]],
    }


SERVER_IMPORT = (
    "import time\nt = time.perf_counter()\n{skip}"
    "from jupyter_server.serverapp import ServerApp\nprint(time.perf_counter() - t)\n"
)
SKIP = "from interactive_ext.child import skipped_imports as lean\nlean.skip_imports()\n"


def server_import(s: Settings, lean: bool) -> float:
    """Seconds of `import jupyter_server.serverapp` in a fresh interpreter, with the server
    child's skipped imports (child/skipped_imports.py) or as a bare server imports it."""
    code = SERVER_IMPORT.format(skip=SKIP if lean else "")
    out = subprocess.run(
        [common.PYTHON, "-c", code],
        env=common.bench_env(s.work),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return float(out.stdout.split()[-1])


@contextlib.contextmanager
def hub_for_figure(s: Settings, out: dict[str, Any]) -> Iterator[Hub | None]:
    """A real JupyterHub on 127.0.0.1 for 1d, stopped at the end; None (its error in out) when
    it does not start. Quick mode never runs npm: it uses the proxy the Hub tests installed."""
    with contextlib.ExitStack() as stack:
        try:
            folder = common.tmpdir(s.work, "hub-")
            started = running_hub(folder, interval=SITE_INTERVAL, install=not s.quick)
            hub: Hub | None = stack.enter_context(started)
        except Exception as e:  # 1d is not measured; the other rows are
            out["hub_error"] = f"{type(e).__name__}: {e}".splitlines()[0]
            s.say("startup: no JupyterHub for 1d: %s", out["hub_error"])
            hub = None
        else:
            out["hub_version"] = importlib.metadata.version("jupyterhub")
        yield hub


def _wrapper_pair(s: Settings, i: int, out: dict[str, Any], url: str, hub: Hub | None) -> None:
    """One pair of each wrapper comparison: the plain run (1a's), with a notification target
    (1c), with a Hub (1d); the bare server for 1a."""
    variants = {  # 1c and 1d: the same run, notifying a target, or with a Hub
        "notify": lambda: wrapper_once(s, notify=url),
        "hub": lambda: wrapper_once(s, hub=hub) if hub else None,
    }
    # each variant runs next to its plain run (the load of the moment is shared), before it in
    # one pair and after it in the next: the run after a stop pays for its leftovers
    before, after = ("notify", "hub") if i % 2 == 0 else ("hub", "notify")
    done = {before: variants[before]()}
    run = wrapper_once(s)
    done[after] = variants[after]()
    out["bare_for_wrapper"].append(_server_once(s, extension=False))
    notified, hubbed = done["notify"], done["hub"]
    assert notified is not None
    for one in (run, notified, hubbed):
        if one is not None:
            del one["child_log"], one["wrapper_log"]
    out["wrapper"].append(run)
    out["wrapper_notify"].append(notified)
    if hubbed is not None:
        out["wrapper_hub"].append(hubbed)
    s.say(
        "startup #%d: wrapper %.3f s (exit %s), bare %.3f s, with notify %.3f s, with a Hub %s",
        i + 1,
        run["seconds"],
        run["exit_code"],
        out["bare_for_wrapper"][-1]["seconds"],
        notified["seconds"],
        "-" if hubbed is None else f"{hubbed['seconds']:.3f} s",
    )


def measure(s: Settings) -> dict[str, Any]:
    """Both startup comparisons and the import-time profile."""
    out: dict[str, Any] = {
        "wrapper": [],
        "bare_for_wrapper": [],
        "wrapper_notify": [],
        "wrapper_hub": [],
        "ext": [],
        "bare": [],
    }
    target = Receiver()
    try:
        with hub_for_figure(s, out) as hub:
            for i in range(s.runs if s.quick else WRAPPER_PAIRS):
                _wrapper_pair(s, i, out, target.url, hub)
        out["notifications_received"] = len(target.messages)
    finally:
        target.close()
    for i in range(s.runs):
        # quick mode (the suite's check of the harness): one bare run serves both rows
        if s.quick:
            out["ext"].append(_server_once(s, extension=True))
            out["bare"].append(out["bare_for_wrapper"][i])
        else:  # the order turns every run, as above
            first = i % 2 == 0
            pair = {
                e: _server_once(s, extension=e) for e in ((True, False) if first else (False, True))
            }
            out["ext"].append(pair[True])
            out["bare"].append(pair[False])
        s.say(
            "startup #%d: server+ext %.3f s, bare %.3f s",
            i + 1,
            out["ext"][-1]["seconds"],
            out["bare"][-1]["seconds"],
        )
    if s.quick:  # the import profile is a note of the full run
        return out
    out["lean"] = {"bare": [], "lean": []}
    for _ in range(s.runs):
        out["lean"]["bare"].append(server_import(s, lean=False))
        out["lean"]["lean"].append(server_import(s, lean=True))
    prof = wrapper_once(s, {"PYTHONPROFILEIMPORTTIME": "1"})
    out["importtime"] = {
        "wrapper": importtime_top(prof["wrapper_log"]),
        "server_child": importtime_top(prof["child_log"]),
        "wrapper_before_spawn": prof["wrapper_before_spawn"],
    }
    return out


# -- the report -----------------------------------------------------------------------


def rows(d: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Figure 1 rows and notes."""
    w = [r["seconds"] for r in d["wrapper"]]
    b = [r["seconds"] for r in d["bare_for_wrapper"]]
    e = [r["seconds"] for r in d["ext"]]
    bb = [r["seconds"] for r in d["bare"]]
    rows = [
        ratio_row(
            "1a startup: `jupyter interactive-task run` (trivial task) vs bare `jupyter server`",
            w,
            b,
            limit=1.00,  # issue 13: at or below a bare server
        ),
        ratio_row("1b startup: `jupyter server` with the extension vs extension off", e, bb),
    ]
    n = [r["seconds"] for r in d.get("wrapper_notify", [])]
    if n:
        label = "1c startup: 1a's run with `--notify json://...` vs without"
        rows.append(not_slower_row(label, n, w))
    rows += _hub_rows(d, w)
    codes = sorted({r.get("exit_code") for r in d["wrapper"]}, key=str)
    notes = [f"Wrapper runs ended by a resume; exit codes: {codes} (0 = the task ran)."]
    if n:
        notes.append(
            f"1c: each run notified a local JSON receiver (Apprise); it received "
            f"{d.get('notifications_received')} notifications from {len(n)} runs "
            "(waiting and stop: 2 a run)."
        )
    notes += _hub_notes(d)
    notes += _cpu_notes(d)
    notes += _startup_spawn_notes(d, med(w), med(b))
    notes += _startup_import_notes(d)
    return rows, notes


HUB_ROW = (
    "1d startup: 1a's run with a Hub configured (`--hub URL`, a real JupyterHub on 127.0.0.1) "
    "vs without"
)


def _hub_rows(d: dict[str, Any], plain: list[float]) -> list[str]:
    """Figure 1d: measured only when every run registered with the Hub and left it."""
    runs = d.get("wrapper_hub") or []
    if "hub_error" in d:
        return [not_measured(HUB_ROW, {"error": f"no JupyterHub: {d['hub_error']}"})]
    if not runs:
        return []
    joined = sum(r["hub_registered_after"] is not None and r["hub_removed"] for r in runs)
    if joined < len(runs):
        why = f"only {joined} of {len(runs)} runs registered with the Hub and left it"
        return [not_measured(HUB_ROW, {"error": why})]
    return [not_slower_row(HUB_ROW, [r["seconds"] for r in runs], plain)]


def _hub_notes(d: dict[str, Any]) -> list[str]:
    """Figure 1d's note: what the Hub was, how many runs joined it and left it."""
    runs = d.get("wrapper_hub") or []
    if not runs:
        return []
    after = [r["hub_registered_after"] for r in runs]
    registered = sum(v is not None for v in after)
    removed = sum(bool(r["hub_removed"]) for r in runs)
    return [
        f"1d: JupyterHub {d.get('hub_version')} with configurable-http-proxy (harness/hub.py), "
        f"its token in the run's environment ($INTERACTIVE_EXT_HUB_TOKEN); {registered} of "
        f"{len(runs)} runs registered (the Hub's API listed the service, {dist(after)} after the "
        f"first answer: the registration starts 1 s after the server is up, server/hub.py) and "
        f"{removed} of {len(runs)} were gone from the Hub after the resume. Their first answer "
        "is polled at the service's base_url (/services/NAME/api) with the session's token: "
        "without it, a request goes to the Hub's login."
    ]


def _cpu_notes(d: dict[str, Any]) -> list[str]:
    """Figure 1's note on the CPU time of the wrapper runs at their first answer."""
    cpu = {
        key: [r.get("cpu_at_answer") for r in d.get(key) or []]
        for key in ("wrapper", "wrapper_notify", "wrapper_hub")
    }
    if not any(v is not None for v in cpu["wrapper"]):
        return []
    sides = [("1a's run", "wrapper"), ("with `--notify` (1c)", "wrapper_notify")]
    sides.append(("with a Hub (1d)", "wrapper_hub"))
    said = "; ".join(f"{label} {dist(cpu[key])}" for label, key in sides if cpu[key])
    return [
        "CPU seconds of the wrapper and its server child when the first answer came (/proc, "
        f"10 ms ticks; other processes' load changes the wall time, not this): {said}."
    ]


def _startup_spawn_notes(d: dict[str, Any], ours: float | None, bare: float | None) -> list[str]:
    """Figure 1 notes: the wrapper's time before the spawn, the child's after it."""
    notes = []
    before = [r.get("wrapper_before_spawn") for r in d["wrapper"]]
    if any(v is not None for v in before):
        notes.append(
            "Time the wrapper spends before it spawns the server child (the `jupyter` "
            "dispatcher, its own Python start and the CLI's imports; the task is loaded after "
            f"the spawn; /proc start times, 10 ms ticks): {dist(before)}."
        )
    after = [
        r["seconds"] - r["wrapper_before_spawn"]
        for r in d["wrapper"]
        if r.get("wrapper_before_spawn") is not None
    ]
    if ours is not None and bare is not None and after:
        pre = med([v for v in before if v is not None])
        notes.append(
            f"Where the time goes: ours - bare = {ours - bare:+.3f} s. The wrapper spends "
            f"{pre:.3f} s before the spawn; from its spawn, the server child answers in "
            f"{dist(after)}, against {bare:.3f} s for the whole bare server, its own "
            "dispatcher included. The child imports jupyter_server while the wrapper loads the "
            "task, writes the session and the notebook, then takes its config over a pipe "
            "(interactive_ext/child/handover.py); it skips what a task session never needs and a "
            "bare server imports (child/skipped_imports.py, measured in the next note)."
        )
    return notes


def _startup_import_notes(d: dict[str, Any]) -> list[str]:
    """Figure 1 notes: the imports the child skips, and the import profiles."""
    notes = []
    lean = d.get("lean") or {}
    if lean.get("bare"):
        notes.append(
            "`import jupyter_server.serverapp` in a fresh interpreter, alternated: as a bare "
            f"server imports it {dist(lean['bare'])}; without the imports the server child "
            "skips (rfc3987_syntax, which jsonschema uses for the `iri` formats only) "
            f"{dist(lean['lean'])}."
        )
    prof = d.get("importtime") or {}
    for key, label in (("wrapper", "wrapper process"), ("server_child", "server child")):
        p = prof.get(key) or {}
        if p.get("top"):
            top = ", ".join(f"`{t['module']}` {t['cumulative_ms']:.0f} ms" for t in p["top"][:8])
            notes.append(
                f"Import profile (`-X importtime`, one run) of the {label}: "
                f"{p['total_ms']:.0f} ms of imports in all; slowest top-level: {top}."
            )
    return notes
