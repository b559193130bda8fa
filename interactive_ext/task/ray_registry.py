"""A session in a Ray task or actor, found from anywhere in its cluster: one named actor each.

When the task runs in a Ray worker, each waiting round creates a small actor (0 CPUs) on the
same node, named after the session in the Ray namespace `interactive_ext`. It holds what the
session is and its token, and answers `describe` and `resume` by calling the server on its node
(which may listen on 127.0.0.1 only). Its owner is the worker: when the worker dies, Ray kills
it and its name is gone with it; the round's end kills it at once. Only processes of the
cluster can call it. Ray is imported only when a task already runs in Ray, or by the CLI.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import socket
import sys
import time
from typing import Any

from ..client import Client, Unreachable
from ..protocol import RAY_ACTOR_PREFIX, RAY_NAMESPACE
from ..records import ReadyInfo
from ..session.directory import Session
from ..session.reading import why_waiting

log = logging.getLogger("interactive_ext")

ROUNDS = itertools.count(1)


def in_ray() -> bool:
    """Whether this process is a connected Ray worker or driver (Ray already imported)."""
    ray = sys.modules.get("ray")
    return ray is not None and bool(getattr(ray, "is_initialized", lambda: False)())


class SessionEntry:
    """The actor of one waiting session: what it is, its status and resume via its server."""

    def __init__(self, entry: dict[str, Any], token: str) -> None:
        """Keep the description and the token (never shown by describe)."""
        self.entry = entry
        self.client = Client(entry["server_url"], token, "the Ray registry")

    def describe(self) -> dict[str, Any]:
        """The description with the server's live state and idle clock."""
        row = dict(self.entry)
        try:
            reply = self.client.status(timeout=5)
        except Unreachable:
            return {**row, "state": "unreachable", "seconds_remaining": None}
        body = reply.body if reply.status == 200 and isinstance(reply.body, dict) else {}
        idle = body.get("idle") or {}
        row.update(
            state=body.get("state", f"HTTP {reply.status}"),
            seconds_remaining=idle.get("seconds_remaining"),
            holds=idle.get("holds", []),
        )
        return row

    def token(self) -> str:
        """The server's token, for a client of the cluster that reaches the node."""
        return self.client.token

    def resume(self, inputs: dict[str, Any]) -> tuple[int, Any]:
        """POST /interactive/resume on the node: (HTTP status, body); (0, why) unreachable."""
        try:
            reply = self.client.resume(inputs)
        except Unreachable as e:
            return 0, str(e)
        return reply.status, reply.body


class Registration:
    """A session's actor while the round waits; close() removes it."""

    def __init__(self, handle: Any, name: str) -> None:
        """Hold the actor's handle (its owner is this worker)."""
        self.handle = handle
        self.name = name

    def close(self) -> None:
        """Kill the actor: the session is no longer listed."""
        import ray

        with contextlib.suppress(Exception):
            ray.kill(self.handle)


def node_ip(node_id: str) -> str:
    """The address the cluster knows this node by (what `ray start --node-ip-address` set)."""
    import ray

    for node in ray.nodes():
        if node.get("NodeID") == node_id and node.get("NodeManagerAddress"):
            return str(node["NodeManagerAddress"])
    return str(ray.util.get_node_ip_address())


def register(info: ReadyInfo, task: str, session: Session, max_idle: float) -> Registration | None:
    """In a Ray worker: create the session's actor; elsewhere (or if Ray refuses): None."""
    if not in_ray():
        return None
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    ctx = ray.get_runtime_context()
    # each round its own name: the last round's actor may still be going away
    ident = f"{session.path.name.removeprefix('interactive-')}-{next(ROUNDS)}"
    name = RAY_ACTOR_PREFIX + ident
    entry = {
        "id": ident,
        "task": task,
        "node": socket.gethostname(),
        "node_ip": node_ip(ctx.get_node_id()),
        "url": info.url.split("?token=")[0],
        "server_url": info.server_url,
        "port": info.port,
        "why": why_waiting(session),
        "started": time.time(),
        "max_idle_seconds": max_idle,
        "ray_task_id": ctx.get_task_id(),
    }
    try:
        handle = (
            ray.remote(SessionEntry)
            .options(
                name=name,
                namespace=RAY_NAMESPACE,
                num_cpus=0,
                max_restarts=0,
                scheduling_strategy=NodeAffinitySchedulingStrategy(ctx.get_node_id(), soft=False),
            )
            .remote(entry, info.token)
        )
    except Exception as e:  # Ray refused (an old cluster, a name taken): the session goes on
        log.warning("cannot register the session in the Ray cluster (%s); list --ray misses it", e)
        return None
    log.info("registered in the Ray cluster as %s (jupyter interactive-task list --ray)", name)
    return Registration(handle, name)
