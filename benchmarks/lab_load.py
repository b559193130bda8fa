"""Figure 10: JupyterLab's load time with and without the extension, runs alternated.

Two servers, each with its own private config and runtime dirs and a root holding the same
notebook. "With" is a real task session, as a person meets the extension:
`jupyter interactive-task run tasks.py:train` (the server child with the server extension, its
kernel provisioner, the task and its countdown in the status bar, the Resume button in the
notebook's toolbar). "Without" is a `jupyter lab` with
`--ServerApp.jpserver_extensions=interactive_ext=False` and a `--LabApp.labextensions_path` that
links every other installed labextension, as if the package shipped no frontend. The task
session gets such a linked path too (with `interactive-ext` in it), so the mechanism is the same
on both.

A third side, "disabled", isolates the frontend: the task session, its page config disabling
`interactive-ext` (JupyterLab then activates none of its plugins) for that load only.

Each run opens the notebook in a fresh chromium context (no cache), then times, from the
navigation start (the page's `performance.now()`): `restored`, the splash screen gone and the
notebook's first cell rendered; `ready`, also its kernel connected and idle (the notebook's
execution indicator idle, the status bar reading `Python 3 (ipykernel) | Idle`). Between runs
the notebook's session is deleted, so every run starts its kernel.

The kernel connection is a lottery on both sides: once a kernel's websocket opens, jupyter_server
sends kernel_info requests every 0.5 s until an answer reaches it on IOPub, and when the first
answer is published before the server's fresh IOPub subscription has joined (zeromq drops it),
the page waits 0.5 s more. An init script times, in the page, each kernel websocket's open and
first message; that wait, in whole retries of 0.5 s, is counted per run (`nudge_retries`, an
informative note). The bar compares the raw load times, run i of one side paired with run i of
the other (docs/benchmarks.md, Rules).
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

from harness import free_port, kill_tree, wait_for

from . import common
from .common import Settings
from .probes import wrapper_cmd
from .table import not_slower_row, ratio_row

TITLE = "10. JupyterLab load time with the extension"
"""The section of docs/benchmarks.md."""

NOTEBOOK = "lab-load.ipynb"
OURS = "interactive-ext"
FULL_RUNS = 30
"""Loads per side in full mode, in rotated order: with 15, 10a's interval (0.977-1.082) was
wider than its margin on a machine whose loads vary by a second."""
SIDES = ["with", "without", "disabled"]

READY_JS = """
() => {
  const cell = document.querySelector('.jp-NotebookPanel .jp-Notebook .jp-Cell');
  if (!cell || document.getElementById('jupyterlab-splash')) return 0;
  window.__restored = window.__restored || performance.now();
  const status = document.querySelector(
    '.jp-NotebookPanel-toolbar .jp-Notebook-ExecutionIndicator[data-status]');
  if (!status || status.getAttribute('data-status') !== 'idle') return 0;
  // The indicator reads idle before any kernel too: the status bar names the kernel once known.
  const items = Array.from(document.querySelectorAll('.jp-StatusBar-TextItem'));
  if (!items.some(e => / \\| Idle$/.test(e.textContent) && !/^No Kernel/.test(e.textContent)))
    return 0;
  return {restored: window.__restored, ready: performance.now()};
}
"""


WS_INIT_JS = """
(() => {
  const Native = window.WebSocket;
  const seen = (window.__kernelSockets = []);
  window.WebSocket = class extends Native {
    constructor(url, protocols) {
      super(url, protocols);
      if (!/\\/api\\/kernels\\/[^/]+\\/channels/.test(String(url))) return;
      const times = {open: null, first: null};
      seen.push(times);
      this.addEventListener('open', () => { times.open = performance.now(); });
      this.addEventListener('message', () => { times.first ??= performance.now(); });
    }
  };
})();
"""
SHOWN_JS = """
() => {
  const e = document.querySelector('.jp-InteractiveTask-indicator');
  return e && !e.classList.contains('lm-mod-hidden') ? e.textContent : null;
}
"""
NUDGE_SECONDS = 0.5
"""jupyter_server's interval between two kernel_info nudges of a newly connected kernel."""


def _linked_labextensions(work: Path, with_ours: bool) -> Path:
    """A folder linking each installed labextension (ours only if with_ours)."""
    from jupyter_core.paths import jupyter_path

    folder = work / "labextensions"
    folder.mkdir(parents=True, exist_ok=True)
    for root in jupyter_path("labextensions"):
        if not os.path.isdir(root):
            continue
        for entry in sorted(os.listdir(root)):
            link = folder / entry
            if (entry == OURS and not with_ours) or link.exists():
                continue
            link.symlink_to(Path(root, entry).resolve())
    return folder


def _start(s: Settings, side: str) -> tuple[common.Proc, int, Path]:
    """Start one side's server on a fresh root holding the notebook; (proc, port, root).

    "with" is a real task session (`jupyter interactive-task run`: the server child, its kernel
    provisioner, a task in the status); "without" a `jupyter lab` without the extension.
    """
    import nbformat.v4 as nbf
    from nbformat import write

    work = common.tmpdir(s.work, f"lab-load-{side}-")
    nb = nbf.new_notebook(cells=[nbf.new_code_cell("x = 1\nx")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    write(nb, str(work / NOTEBOOK))
    labext = _linked_labextensions(work, with_ours=side == "with")
    env = common.bench_env(work)
    port = free_port()
    if side == "with":
        config = {"LabApp": {"labextensions_path": [str(labext)]}}
        (work / "jupyter-config" / "jupyter_server_config.json").write_text(json.dumps(config))
        cmd = wrapper_cmd(work, port, "train", "--max-idle-seconds", "3600")
    else:
        flags = [
            f"--LabApp.labextensions_path={labext}",
            "--ServerApp.jpserver_extensions=interactive_ext=False",
        ]
        cmd = common.jupyter("lab", *common.server_flags(port, work), *flags)
    proc = common.start(cmd, env, work, work / "server.log")
    common.wait_answer(proc, port, path="/lab", timeout=90)
    return proc, port, work


def _close_sessions(port: int) -> None:
    """Delete every session (and its kernel): the next run starts its own."""
    _, sessions = common.request(port, "GET", "/api/sessions")
    for session in sessions or []:
        common.request(port, "DELETE", f"/api/sessions/{session['id']}", timeout=30)
    wait_for(
        lambda: not common.request(port, "GET", "/api/kernels")[1], 30, "no kernel", interval=0.1
    )


def load_once(browser: Any, port: int) -> dict[str, Any]:
    """Open the notebook in a fresh context; the times from the navigation start, in s."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.add_init_script(WS_INIT_JS)
    try:
        page = context.new_page()
        loaded: list[str] = []
        page.on("request", lambda r: loaded.append(r.url) if f"/{OURS}/" in r.url else None)
        page.goto(f"http://{common.HOST}:{port}/lab/tree/{NOTEBOOK}?token={common.TOKEN}")
        times = page.wait_for_function(READY_JS, polling=20, timeout=120_000).json_value()
        sockets = page.evaluate("window.__kernelSockets")
        shown = page.evaluate(SHOWN_JS)
        waits = [(x["first"] - x["open"]) / 1000 for x in sockets if x["open"] and x["first"]]
        _, sessions = common.request(port, "GET", "/api/sessions")
        kernels = [x.get("kernel") or {} for x in sessions or []]
        return {
            "restored": times["restored"] / 1000,
            "ready": times["ready"] / 1000,
            "extension_requests": len(loaded),
            "kernel_wait": waits[0] if waits else None,
            "nudge_retries": int(waits[0] // NUDGE_SECONDS) if waits else 0,
            "indicator": shown,
            "kernel_connected": any(k.get("connections", 0) >= 1 for k in kernels),
        }
    finally:
        context.close()
        with contextlib.suppress(OSError, TimeoutError):
            _close_sessions(port)


def _page_config(work: Path, disabled: list[str]) -> None:
    """Write the server's page_config (read on every page load): the labextensions disabled."""
    folder = work / "jupyter-config" / "labconfig"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {name: True for name in disabled}})
    )


def measure(s: Settings) -> dict[str, Any]:
    """Rotated loads of each side (1 each in quick mode), after one warm-up per server."""
    from playwright.sync_api import sync_playwright

    n = 1 if s.quick else FULL_RUNS
    runs: dict[str, list[dict[str, Any]]] = {side: [] for side in SIDES}
    procs = []
    pw = sync_playwright().start()
    try:
        browser = common.launch_chromium(pw)
        servers = {}
        for side in ("with", "without"):
            proc, port, work = _start(s, side)
            procs.append(proc)
            servers[side] = (port, work)
            load_once(browser, port)  # warm-up: the server's first page and kernel
        for i in range(n):
            for side in SIDES[i % 3 :] + SIDES[: i % 3]:
                port, work = servers["without" if side == "without" else "with"]
                if side != "without":
                    _page_config(work, [OURS] if side == "disabled" else [])
                run = load_once(browser, port)
                s.say("lab load %s #%d: ready %.2f s", side, i + 1, run["ready"])
                runs[side].append(run)
        browser.close()
    finally:
        pw.stop()
        for proc in procs:
            kill_tree(proc.popen, common.GRACE)
    return {"runs": n, **runs}


# -- the report -----------------------------------------------------------------------


def rows(d: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Figure 10 rows and notes: judged on the raw times, run i paired with run i."""
    w, wo, off = d["with"], d["without"], d.get("disabled") or []
    rows = [
        not_slower_row(
            f"10a JupyterLab load: notebook rendered, kernel idle; with / without the extension "
            f"(runs rotated and paired, n={d['runs']} each)",
            [r["ready"] for r in w],
            [r["ready"] for r in wo],
        ),
        ratio_row(
            "10b JupyterLab load: splash gone, notebook rendered (kernel not waited for)",
            [r["restored"] for r in w],
            [r["restored"] for r in wo],
            limit=None,
        ),
    ]
    if off:
        rows.append(
            not_slower_row(
                "10c the frontend alone: same server, `interactive-ext` on / disabled in "
                "page_config (as 10a: kernel idle, runs paired)",
                [r["ready"] for r in w],
                [r["ready"] for r in off],
            )
        )

    def retried(runs: list[dict[str, Any]]) -> str:
        known = [r for r in runs if r.get("kernel_wait") is not None]
        return f"{sum(r['nudge_retries'] > 0 for r in known)} of {len(known)}"

    notes = [
        "Kernel nudge retries: once a kernel's websocket opens, jupyter_server sends it "
        "kernel_info requests every 0.5 s until an answer reaches it on IOPub; when the first "
        "answer is published before the server's new IOPub subscription has joined, zeromq "
        "drops it and the page waits 0.5 s more. The page times each kernel websocket from its "
        "open to its first message; loads that waited for at least one retry: with "
        f"{retried(w)}, without {retried(wo)}, frontend disabled {retried(off)}. Informative "
        "only: such a wait also holds whatever delays the kernel leaving 'starting' (its "
        "provisioner, a stalled loop), so nothing is subtracted; 10a and 10c pair the raw "
        "times run by run, so the lottery adds noise to the interval, not a bias.",
        "Times from the navigation start, in a fresh chromium context each (no cache). With: "
        "a task session (`jupyter interactive-task run tasks.py:train`, its kernels started "
        "by the session's provisioner); without: `jupyter lab` with "
        "`--ServerApp.jpserver_extensions=interactive_ext=False` and a labextensions path "
        "without `interactive-ext`; each with its own private config. Requests for the "
        "extension's files: with "
        f"{sorted({r['extension_requests'] for r in w})}, without "
        f"{sorted({r['extension_requests'] for r in wo})}. The task's status item showed "
        f"in {sum(bool(r.get('indicator')) for r in w)} of {len(w)} loads with the extension "
        f"(for example {next((r['indicator'] for r in w if r.get('indicator')), None)!r}), "
        f"in {sum(bool(r.get('indicator')) for r in off)} of {len(off)} with it disabled.",
    ]
    return rows, notes
