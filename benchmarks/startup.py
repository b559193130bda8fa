"""Figure 1: startup to the first answered HTTP request, and where the time goes.

Two comparisons, each alternating ours and the reference (A B A B ...):
- `jupyter interactive-task run tasks.py:trivial` vs a bare `jupyter server` with the same
  flags (address, port, token, root dir; the extension off);
- `jupyter server` with the extension on vs the same with
  `--ServerApp.jpserver_extensions=interactive_ext=False` (issue 2's bar).
The clock runs from just before the process is spawned to the first HTTP answer of GET /api
(polled every 5 ms). The wrapper runs are ended by a resume, so they also check that the
trivial task completes (exit 0).
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from . import common
from .common import Settings

OFF = "--ServerApp.jpserver_extensions=interactive_ext=False"
WRAPPER_PAIRS = 15
"""Wrapper runs per side in full mode: 1c is a paired row, and 5 pairs give an interval wider
than its 5 % margin on a machine whose server starts vary by a second (as figure 8's 15)."""


def _server_once(s: Settings, extension: bool) -> dict[str, Any]:
    """One `jupyter server` run, with or without the extension: seconds to first answer."""
    work = common.tmpdir(s.work, "startup-server-")
    port = common.free_port()
    cmd = common.jupyter("server", *common.server_flags(port, work), *([] if extension else [OFF]))
    with common.running(cmd, common.bench_env(s.work), work, work / "server.log") as proc:
        t = common.wait_answer(proc, port) - proc.t0
        loaded = "interactive_ext | extension was successfully loaded" in proc.log_text()
    if loaded != extension:
        raise RuntimeError(f"extension loaded={loaded}, expected {extension}: {proc.tail()}")
    return {"seconds": t}


def wrapper_cmd(work: Path, port: int, task: str, *extra: str) -> list[str]:
    """`jupyter interactive-task run` of a task in benchmarks/tasks.py."""
    return common.jupyter(
        "interactive-task",
        "run",
        f"{common.BENCH / 'tasks.py'}:{task}",
        "--port",
        str(port),
        "--token",
        common.TOKEN,
        "--max-idle-seconds",
        "600",
        "--notebook-dir",
        str(work),
        *extra,
    )


def server_child(wrapper_pid: int) -> int | None:
    """The wrapper's server child (python -m interactive_ext.child.main)."""
    for pid in common.descendants(wrapper_pid):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"interactive_ext.child.main" in cmdline:
            return pid
    return None


def resume_and_wait(proc: common.Proc, port: int, timeout: float = 60.0) -> int | None:
    """POST /interactive/resume and wait for the wrapper to exit; its exit code."""
    status, body = common.request(port, "POST", "/interactive/resume", body={})
    if status != 202:
        raise RuntimeError(f"resume answered {status}: {body}")
    try:
        return proc.popen.wait(timeout)
    except Exception:
        return None


class _Handler(BaseHTTPRequestHandler):
    """Counts the JSON notifications posted to it."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.received += 1  # type: ignore[attr-defined]
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@contextlib.contextmanager
def notification_target() -> Iterator[ThreadingHTTPServer]:
    """A local HTTP receiver of Apprise's json:// notifications (its `received` counts them)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.received = 0  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _wrapper_once(
    s: Settings, env_extra: dict[str, str] | None = None, notify: str | None = None
) -> dict[str, Any]:
    """One wrapper run on the trivial task: seconds to first answer, and the phases."""
    work = common.tmpdir(s.work, "startup-wrapper-")
    port = common.free_port()
    env = common.bench_env(s.work)
    env.update(env_extra or {})
    cmd = wrapper_cmd(work, port, "trivial", *(["--notify", notify] if notify else []))
    with common.running(cmd, env, work, work / "wrapper.log") as proc:
        t = common.wait_answer(proc, port) - proc.t0
        child = server_child(proc.pid)
        wrapper_start = common.start_ticks(proc.pid)
        child_start = common.start_ticks(child) if child else None
        spawn = (
            None if wrapper_start is None or child_start is None else child_start - wrapper_start
        )
        child_log = ""
        if child is not None and env_extra:
            # the child's stdout is its log once it has its config (child/handover.py)
            log_path = Path(os.readlink(f"/proc/{child}/fd/1"))
            child_log = log_path.read_text(errors="replace")
        code = resume_and_wait(proc, port)
        wrapper_log = proc.log_text()
    return {
        "seconds": t,
        "wrapper_before_spawn": spawn,
        "exit_code": code,
        "child_log": child_log,
        "wrapper_log": wrapper_log,
    }


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


def measure(s: Settings) -> dict[str, Any]:
    """Both startup comparisons and the import-time profile."""
    out: dict[str, Any] = {
        "wrapper": [],
        "bare_for_wrapper": [],
        "wrapper_notify": [],
        "ext": [],
        "bare": [],
    }
    with notification_target() as target:
        url = f"json://127.0.0.1:{target.server_address[1]}/"
        for i in range(s.runs if s.quick else WRAPPER_PAIRS):
            # each pair's order turns every run: the run after a stop pays for its leftovers
            plain_first = i % 2 == 0
            if not plain_first:
                notified = _wrapper_once(s, notify=url)  # 1c: the same run, notifying a target
            run = _wrapper_once(s)
            out["bare_for_wrapper"].append(_server_once(s, extension=False))
            if plain_first:
                notified = _wrapper_once(s, notify=url)
            for one in (run, notified):
                del one["child_log"], one["wrapper_log"]
            out["wrapper"].append(run)
            out["wrapper_notify"].append(notified)
            s.say(
                "startup #%d: wrapper %.3f s (exit %s), bare %.3f s, with notify %.3f s",
                i + 1,
                run["seconds"],
                run["exit_code"],
                out["bare_for_wrapper"][-1]["seconds"],
                notified["seconds"],
            )
        out["notifications_received"] = target.received  # type: ignore[attr-defined]
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
    prof = _wrapper_once(s, {"PYTHONPROFILEIMPORTTIME": "1"})
    out["importtime"] = {
        "wrapper": importtime_top(prof["wrapper_log"]),
        "server_child": importtime_top(prof["child_log"]),
        "wrapper_before_spawn": prof["wrapper_before_spawn"],
    }
    return out
