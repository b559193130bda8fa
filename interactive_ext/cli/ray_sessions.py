"""`list --ray` and `resume --ray`: the waiting sessions of a Ray cluster, from any client of it.

Each waiting session in a Ray task or actor has a named actor in the namespace
`interactive_ext` (task/ray_registry.py); these commands connect to the cluster as a driver,
read those actors, and resume through the one of the chosen session (it calls the server on
its node with the token: no runtime or temp file of the node is needed here).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from typing import Any

from ..protocol import RAY_ACTOR_PREFIX, RAY_NAMESPACE
from . import exits
from .exits import PROG, ServerRefused, UsageError

log = logging.getLogger("interactive_ext.cli")

CALL_TIMEOUT = 30.0

RAY_LIST_FLAG = (
    "--ray",
    {
        "nargs": "?",
        "const": "",
        "metavar": "ADDRESS",
        "help": "list every session waiting in a Ray task or actor of the cluster at ADDRESS "
        "(HOST:6379 or ray://HOST:10001; default: $RAY_ADDRESS, else the cluster of this "
        "machine), from any machine that reaches it",
    },
)
RAY_RESUME_FLAGS = [
    (
        "--ray",
        {
            "nargs": "?",
            "const": "",
            "metavar": "ID",
            "help": "resume a session waiting in a Ray task or actor of the cluster, from any "
            "machine that reaches it (`list --ray` shows the IDs; without ID: the only one)",
        },
    ),
    (
        "--ray-address",
        {
            "metavar": "ADDRESS",
            "help": "the Ray cluster for --ray: HOST:6379 or ray://HOST:10001 (default: "
            "$RAY_ADDRESS, else the cluster of this machine)",
        },
    ),
]


def connect(address: str | None) -> None:
    """Join the cluster at address (else $RAY_ADDRESS, else the local one) as a driver."""
    try:
        import ray
    except ImportError:
        raise UsageError("--ray needs Ray in this environment: pip install ray") from None
    address = address or os.environ.get("RAY_ADDRESS") or "auto"
    try:
        ray.init(
            address=address,
            namespace=RAY_NAMESPACE,
            logging_level=logging.ERROR,
            log_to_driver=False,
        )
    except Exception as e:  # ConnectionError, RuntimeError, ValueError, gRPC errors...
        raise UsageError(
            f"cannot connect to the Ray cluster at {address} ({type(e).__name__}: {e}); "
            "give its address: --ray HOST:6379 (or ray://HOST:10001), or set RAY_ADDRESS; a "
            "cluster with token authentication also needs RAY_AUTH_TOKEN (`ray get-auth-token` "
            "on one of its nodes)"
        ) from None


def sessions() -> list[tuple[Any, dict[str, Any]]]:
    """(actor, description) of every live session actor; dead ones are dropped."""
    import ray

    asked: list[tuple[Any, Any]] = []
    for name in ray.util.list_named_actors():
        if not str(name).startswith(RAY_ACTOR_PREFIX):
            continue
        try:
            actor = ray.get_actor(name, namespace=RAY_NAMESPACE)
            asked.append((actor, actor.describe.remote()))
        except Exception as e:  # gone between the listing and the lookup
            log.debug("session actor %s is gone: %s", name, e)
    found = []
    for actor, ref in asked:
        try:
            found.append((actor, ray.get(ref, timeout=CALL_TIMEOUT)))
        except Exception as e:  # its worker died: Ray killed the actor with it
            log.debug("a session actor did not answer: %s", e)
    return sorted(found, key=lambda f: f[1].get("started", 0))


def time_left(row: dict[str, Any]) -> str:
    """The idle clock, for a person."""
    if row.get("holds"):
        return "busy (idle clock held)"
    seconds = row.get("seconds_remaining")
    return "no idle shutdown" if seconds is None else f"idle shutdown in {seconds:.0f} s"


def cmd_list_ray(args: argparse.Namespace) -> int:
    """One line per waiting session of the cluster: id, task, node, URL, state, time left, why."""
    connect(args.ray)
    rows = [row for _, row in sessions()]
    if args.json:
        print(json.dumps(rows, indent=1))
        return exits.OK
    if not rows:
        print("no interactive task session is waiting in this Ray cluster", file=sys.stderr)
    for r in rows:
        age = time.time() - float(r.get("started", time.time()))
        print(
            f"{r['id']}  {r['task']}  node {r['node']} ({r['node_ip']})  {r['url']}  "
            f"{r['state']}  {time_left(r)}  waiting {age:.0f} s: {r['why']}"
        )
    return exits.OK


def pick(found: list[tuple[Any, dict[str, Any]]], wanted: str) -> tuple[Any, dict[str, Any]]:
    """The session whose id is (or starts with) wanted; the only one if wanted is empty."""
    matches = [f for f in found if not wanted or f[1]["id"].startswith(wanted)]
    exact = [f for f in matches if f[1]["id"] == wanted]
    if len(exact) == 1 or len(matches) == 1:
        return (exact or matches)[0]
    ids = ", ".join(f"{r['id']} ({r['task']} on {r['node']})" for _, r in found) or "none"
    if not matches:
        raise UsageError(f"no waiting session {wanted!r} in the Ray cluster; the sessions: {ids}")
    raise UsageError(f"{len(matches)} sessions wait in the Ray cluster, pick one: --ray ID ({ids})")


def cmd_resume_ray(args: argparse.Namespace, inputs: dict[str, Any]) -> int:
    """Resume one session of the cluster through its actor (the REST call on its node)."""
    import ray

    connect(args.ray_address)
    actor, row = pick(sessions(), args.ray)
    status, body = ray.get(actor.resume.remote(inputs), timeout=CALL_TIMEOUT)
    where = f"{row['task']} on {row['node']} ({row['id']})"
    if status == 202:
        names = ", ".join(sorted(inputs)) or "none"
        print(f"resuming {where} (input overrides: {names})")
        return exits.OK
    message = body.get("message", body) if isinstance(body, dict) else body
    if status == 409:
        raise ServerRefused(f"{where} refused to resume: {message}")
    if status == 400:
        raise UsageError(f"the server rejected the inputs: {message}")
    if status == 0:
        raise UsageError(f"{where} does not answer on its node: {message}; `{PROG} list --ray`")
    raise ServerRefused(f"resume failed for {where}: HTTP {status}: {message}")
