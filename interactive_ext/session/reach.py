"""How a person reaches a server that listens on a cluster's node: the command to run.

Inside a Kubernetes pod (its service-account folder is there): the `kubectl port-forward`
command for this pod, namespace and port. In a Slurm job: the `ssh -L` command for the node.
The task's log line and the notifications carry them.
"""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path

from ..protocol import K8S_SA_DIR_ENV

SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


def pod() -> tuple[str, str] | None:
    """(namespace, pod name) when this runs in a Kubernetes pod, else None."""
    folder = Path(os.environ.get(K8S_SA_DIR_ENV) or SA_DIR)
    try:
        namespace = (folder / "namespace").read_text().strip()
    except OSError:
        return None
    name = os.environ.get("HOSTNAME") or socket.gethostname()  # a pod's hostname is its name
    return (namespace or "default"), name


def first_node(nodelist: str) -> str:
    """The first host of a Slurm node list: 'gpu[03-05,7],cpu1' -> 'gpu03'."""
    head = re.match(r"([^,\[]+)(?:\[([^\]]+)\])?", nodelist.strip())
    if head is None:
        return nodelist.strip()
    prefix, ranges = head.group(1), head.group(2)
    if not ranges:
        return prefix
    return prefix + re.split(r"[-,]", ranges)[0]


def slurm_node() -> str | None:
    """The node of this Slurm job step (SLURMD_NODENAME, else SLURM_JOB_NODELIST's first)."""
    node = os.environ.get("SLURMD_NODENAME")
    if node:
        return node
    nodelist = os.environ.get("SLURM_JOB_NODELIST") or os.environ.get("SLURM_NODELIST")
    return first_node(nodelist) if nodelist else None


def reach_commands(port: int, ip: str = "127.0.0.1") -> list[str]:
    """The commands (zero, one or two) that forward port to a person's machine."""
    commands = []
    here = pod()
    if here is not None:
        namespace, name = here
        commands.append(f"kubectl port-forward -n {namespace} pod/{name} {port}:{port}")
    node = slurm_node()
    if node is not None:
        target = "127.0.0.1" if ip in ("127.0.0.1", "localhost", "0.0.0.0", "") else ip
        commands.append(f"ssh -N -L {port}:{target}:{port} {node}")
    return commands
