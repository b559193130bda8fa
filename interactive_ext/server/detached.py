"""What the kernels and terminals detached: frozen and killed while the kernels shut down.

A task's server is a subreaper, so what its kernels and terminals detach (setsid, double fork)
is re-parented to it; at the stop those processes are frozen and killed, not left to the exit.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from ..procs import freeze_kill, tree
from .activity import served_pids


def stop_detached(server: Any, log: logging.Logger | Any, ours: bool = True) -> None:
    """Freeze and kill the server's children that are not its kernels or terminals (ours:
    a task's server; a plain server's children are left alone)."""
    if not ours:
        return
    me = os.getpid()
    keep = served_pids(server)

    def detached(children: dict[int, list[int]]) -> set[int]:
        return tree({p for p in children.get(me, []) if p not in keep}, children)

    try:
        killed = freeze_kill(detached)
    except Exception:
        log.exception("stopping the detached processes failed; the exit retries")
        return
    if killed:
        log.info("stopped %d processes detached from the kernels", len(killed))
