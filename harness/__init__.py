"""The test harness: helpers the tests and the benchmarks share (processes, ports, HTTP,
kernels, servers, the CLI and task scripts run as a user runs them) and the suite's pytest
plugin (`harness.plugin`, loaded by the root conftest.py). It imports neither tests/ nor
benchmarks/."""

from .kernels import Address, Endpoint, execute, open_terminal, start_kernel, type_in_terminal
from .notifications import Receiver
from .procs import HOST, free_port, hammer, kill_tree, wait_for
from .scripts import Script, run_cell, server_of, start_task, write
from .servers import BIN, OPTS, TOKEN, ServerProcess, finish, read_ready, run_cli
from .storage import s3_fs
from .web import Response, http

__all__ = [
    "BIN",
    "HOST",
    "OPTS",
    "TOKEN",
    "Address",
    "Endpoint",
    "Receiver",
    "Response",
    "Script",
    "ServerProcess",
    "execute",
    "finish",
    "free_port",
    "hammer",
    "http",
    "kill_tree",
    "open_terminal",
    "read_ready",
    "run_cell",
    "run_cli",
    "s3_fs",
    "server_of",
    "start_kernel",
    "start_task",
    "type_in_terminal",
    "wait_for",
    "write",
]
