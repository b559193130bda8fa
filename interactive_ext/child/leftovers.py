"""Files a server leaves when it is killed: its runtime files, its kernels' connection files."""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Iterable
from pathlib import Path

from ..procs import alive, all_pids
from ..session.directory import runtime_dir

log = logging.getLogger("interactive_ext")


def connection_file(pid: int) -> Path | None:
    """The kernel connection file named on pid's command line (`-f FILE`), if any."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            args = f.read().decode(errors="replace").split("\0")
    except OSError:
        return None
    for i, arg in enumerate(args):
        value = args[i + 1] if arg == "-f" and i + 1 < len(args) else ""
        if arg.startswith("--f="):
            value = arg[len("--f=") :]
        if value.endswith(".json") and Path(value).name.startswith("kernel-"):
            return Path(value)
    return None


def connection_files(pids: Iterable[int]) -> list[Path]:
    """The connection files of those of pids that are kernels (read before they are stopped)."""
    return [p for p in (connection_file(pid) for pid in pids) if p is not None]


def remove_server_files(server_pid: int, kernel_files: Iterable[Path] = ()) -> list[Path]:
    """Remove a dead server's jpserver-PID.json and -open.html and its kernels' files."""
    folder = runtime_dir()
    paths = [folder / f"jpserver-{server_pid}.json", folder / f"jpserver-{server_pid}-open.html"]
    removed = []
    for path in [*paths, *kernel_files]:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(path)
    if removed:
        log.info("removed files left by the Jupyter server %s: %s", server_pid, removed)
    return removed


STALE_AFTER = 60.0
"""Seconds a kernel connection file no process names must be old before it counts as stale (a
server writes it before the kernel starts)."""


def remove_stale_servers() -> list[Path]:
    """Remove the runtime files of this user's Jupyter servers whose process is gone, and the
    kernel connection files that no live process names (their kernel is gone)."""
    removed: list[Path] = []
    for path in sorted(runtime_dir().glob("jpserver-*.json")):
        try:
            pid = json.loads(path.read_text()).get("pid")
        except (OSError, ValueError, AttributeError):
            continue  # being written, or not ours to read
        if isinstance(pid, int) and pid > 0 and not alive(pid):
            removed += remove_server_files(pid)
    kernels = sorted(runtime_dir().glob("kernel-*.json"))
    if kernels:
        live = {str(f) for f in connection_files(all_pids())}
        stale = [k for k in kernels if str(k) not in live and _age(k) > STALE_AFTER]
        removed += remove_server_files(0, stale) if stale else []
    return removed


def _age(path: Path) -> float:
    """Seconds since path was last changed (0 when it is gone)."""
    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return 0.0
