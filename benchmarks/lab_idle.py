"""Figure 9: idle shutdown overshoot with a real JupyterLab tab open on a notebook.

Each run starts `jupyter lab`, opens the notebook in Debian's chromium (playwright), runs one
cell, and leaves the tab open: JupyterLab polls, saves its workspace every 10 s and keeps its
kernel websocket. Ours: `--InteractiveApp.max_idle_seconds`; the deadline is the harness's own,
the moment its cell ran + the timeout (the server's reported one, GET /interactive/status, not
activity, is kept beside it), overshoot = process exit - deadline. The
reference: jupyter_server's own `--ServerApp.shutdown_no_activity_timeout` with the same tab,
deadline = `last_activity` of GET /api/status + timeout, capped. Reference runs are opened
first and watched in a thread while ours run one after the other (their tabs stay open).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from datetime import datetime
from http.client import HTTPException
from pathlib import Path
from typing import Any

from harness import free_port, kill_tree, wait_for

from . import common
from .common import Settings
from .table import dist, row, verdict

TITLE = "9. Idle shutdown with a JupyterLab tab open"
"""The section of docs/benchmarks.md."""

NOTEBOOK = "lab-idle.ipynb"
REFERENCE_RUNS = 2


def timeout_of(s: Settings) -> float:
    """The idle timeout: longer than JupyterLab's 10 s workspace writes (shorter in quick)."""
    return 6.0 if s.quick else 12.0


def _epoch(iso: str | None) -> float | None:
    """An ISO 8601 time as an epoch float."""
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() if iso else None


def _start_lab(s: Settings, name: str, flags: list[str]) -> tuple[common.Proc, int, Path]:
    """Start `jupyter lab` on a fresh root holding the notebook; (proc, port, root)."""
    import nbformat.v4 as nbf
    from nbformat import write

    work = common.tmpdir(s.work, f"lab-idle-{name}-")
    nb = nbf.new_notebook(cells=[nbf.new_code_cell("x = 1\nx")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    write(nb, str(work / NOTEBOOK))
    port = free_port()
    cmd = common.jupyter("lab", *common.server_flags(port, work), *flags)
    proc = common.start(cmd, common.bench_env(s.work), work, work / "server.log")
    common.wait_answer(proc, port, timeout=90)
    return proc, port, work


def _open_and_run(page: Any, port: int) -> None:
    """Open the notebook in JupyterLab, wait for its kernel, run the first cell."""
    page.goto(f"http://{common.HOST}:{port}/lab/tree/{NOTEBOOK}?token={common.TOKEN}")
    cell = page.locator(".jp-NotebookPanel .jp-Cell").first
    cell.wait_for(state="visible", timeout=90_000)

    def kernel_ready() -> bool:
        _, sessions = common.request(port, "GET", "/api/sessions")
        return any(
            (x.get("kernel") or {}).get("execution_state") == "idle"
            and (x.get("kernel") or {}).get("connections", 0) >= 1
            for x in sessions or []
        )

    wait_for(kernel_ready, 90, "the notebook's kernel", interval=0.1)
    cell.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")
    prompt = cell.locator(".jp-InputArea-prompt")
    page.wait_for_function(
        "el => /^\\[\\d+\\]:$/.test(el.textContent.trim())", arg=prompt.element_handle()
    )


def _watch(proc: common.Proc, deadline_of: Any, cap_wall: float) -> dict[str, Any]:
    """Poll the server's deadline until proc exits or cap_wall; exit time and last deadline."""
    deadline, sources = None, set()
    while proc.alive() and time.time() < cap_wall:
        with contextlib.suppress(OSError, ValueError, HTTPException):
            d, source = deadline_of()
            deadline = d if d is not None else deadline
            if source:
                sources.add(source)
        time.sleep(0.05)
    exit_wall = None if proc.alive() else time.time()
    over = None if exit_wall is None or deadline is None else exit_wall - deadline
    return {"deadline": deadline, "exit": exit_wall, "overshoot": over, "sources": sorted(sources)}


def run_ours(s: Settings, browser: Any, i: int) -> dict[str, Any]:
    """One run of ours: the tab open after one cell, until the server stops by itself."""
    timeout = timeout_of(s)
    session = common.tmpdir(s.work, f"lab-idle-session{i}-")
    flags = [
        f"--InteractiveApp.max_idle_seconds={timeout}",
        f"--InteractiveApp.session_dir={session}",
    ]
    proc, port, _ = _start_lab(s, f"ours{i}", flags)
    context = browser.new_context()
    try:
        _open_and_run(context.new_page(), port)
        own_deadline = time.time() + timeout  # the harness's last act: its cell ran

        def deadline_of() -> tuple[float | None, str | None]:
            status, st = common.request(port, "GET", "/interactive/status", timeout=1.0)
            if status != 200 or st.get("state") != "waiting":  # decided: keep the last deadline
                return None, None
            hb = st["idle"]
            return _epoch(hb.get("shutdown_deadline")), hb.get("last_activity_source")

        run = _watch(proc, deadline_of, time.time() + timeout + 60)
    finally:
        context.close()
        kill_tree(proc.popen, common.GRACE)
    # judged against the deadline the harness computes, not the one the server reports
    run["server_deadline_overshoot"] = run["overshoot"]
    run["own_deadline"] = own_deadline
    run["overshoot"] = None if run["exit"] is None else run["exit"] - own_deadline
    with contextlib.suppress(OSError, ValueError):
        outcome = json.loads((session / "outcome.json").read_text())
        run["outcome"] = outcome.get("reason")
        if outcome.get("time") is not None:
            run["decision_overshoot"] = outcome["time"] - own_deadline
    return run


def start_reference(s: Settings, browser: Any, i: int, runs: list[dict[str, Any]]) -> Any:
    """Open a reference run's tab; a thread watches it until it stops or the cap passes."""
    timeout = int(timeout_of(s))
    flags = [
        f"--ServerApp.shutdown_no_activity_timeout={timeout}",
        "--ServerApp.jpserver_extensions=interactive_ext=False",
    ]
    proc, port, _ = _start_lab(s, f"ref{i}", flags)
    context = browser.new_context()
    try:
        _open_and_run(context.new_page(), port)
    except Exception:
        context.close()
        kill_tree(proc.popen, common.GRACE)
        raise

    def deadline_of() -> tuple[float | None, str | None]:
        status, st = common.request(port, "GET", "/api/status", timeout=1.0)
        last = _epoch(st.get("last_activity")) if status == 200 else None
        return (None if last is None else last + timeout), None

    def watch() -> None:
        try:
            runs.append(
                {**_watch(proc, deadline_of, proc.wall0 + s.reference_cap), "cap": s.reference_cap}
            )
        finally:
            kill_tree(proc.popen, common.GRACE)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread, context


def measure(s: Settings) -> dict[str, Any]:
    """Ours (idle_runs_ours runs) beside the reference (2 runs, none in quick mode)."""
    from playwright.sync_api import sync_playwright

    ours: list[dict[str, Any]] = []
    refs: list[dict[str, Any]] = []
    n_refs = 0 if s.quick else REFERENCE_RUNS
    pw = sync_playwright().start()
    try:
        browser = common.launch_chromium(pw)
        pending: list[Any] = []
        for i in range(s.idle_runs_ours):
            if i % max(s.idle_runs_ours // max(n_refs, 1), 1) == 0 and len(pending) < n_refs:
                pending.append(start_reference(s, browser, len(pending), refs))
            try:
                run = run_ours(s, browser, i)
            except Exception as e:  # a failed run is a miss in the table, not a gap
                run = {"error": repr(e), "overshoot": None, "outcome": None}
            s.say(
                "lab idle ours #%d: overshoot %s s, outcome %s",
                i + 1,
                run["overshoot"],
                run.get("outcome"),
            )
            ours.append(run)
        for thread, context in pending:
            thread.join(s.reference_cap + 60)
            context.close()
        browser.close()
    finally:
        pw.stop()
    s.say("lab idle reference: overshoots %s", [r["overshoot"] for r in refs])
    return {"timeout": timeout_of(s), "ours": ours, "jupyter_server": refs, "cap": s.reference_cap}


# -- the report -----------------------------------------------------------------------


def rows(d: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Figure 9 rows and notes."""
    ours, refs, cap = d["ours"], d["jupyter_server"], d["cap"]
    over = [r.get("overshoot") for r in ours]
    ok = [r for r in ours if r.get("outcome") == "idle" and 0 < (r.get("overshoot") or 0) <= 1.0]
    never = sum(r.get("exit") is None for r in refs)
    if not refs:
        ref = "not run (quick mode)"
    elif never == len(refs):
        ref = f"did not stop within {cap:.0f} s ({never}/{len(refs)})"
    else:
        ref = (
            dist([r.get("overshoot") for r in refs])
            + f"; did not stop within {cap:.0f} s in {never}"
        )
    line = row(
        f"9 idle shutdown overshoot, a JupyterLab tab open on the notebook after one cell "
        f"(timeout {d['timeout']:.0f} s)",
        f"process exit: {dist(over)}; {len(ok)}/{len(ours)} in (0, 1 s]<br>decision "
        f"(outcome.json): {dist([r.get('decision_overshoot') for r in ours])}",
        f"`--ServerApp.shutdown_no_activity_timeout`: {ref}",
        "-",
        "every run in (0, 1 s], outcome idle",
        verdict(len(ok) == len(ours) if ours else None),
    )
    sources = sorted({x for r in ours for x in r.get("sources", [])})
    notes = [
        "The tab stays open the whole time: JupyterLab polls, keeps its kernel websocket and "
        "saves its workspace every 10 s (`PUT /lab/api/workspaces/default`), which the idle rule "
        "does not count (docs/idle.md). Last activity sources the server reported: "
        + (", ".join(f"`{x}`" for x in sources) or "none")
        + ".",
        "The reference never stops while a kernel exists (jupyter_server checks once a minute "
        "and only when no kernel is left), so its runs are capped.",
    ]
    return [line], notes
