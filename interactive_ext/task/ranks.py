"""Multi-process jobs: which rank this process is, and how the other ranks learn rank 0's outcome.

In a job of several processes (torchrun, Ray Train, srun, mpirun) only global rank 0 serves
Jupyter. Every other rank connects to rank 0 over TCP (INTERACTIVE_EXT_RANK_ADDR, or torchrun's
MASTER_ADDR and MASTER_PORT + 1) and waits. Once rank 0 knows its outcome (resumed, with the
input overrides; or stopped idle) it sends it down each connection. Both sides prove they hold
the job's secret (INTERACTIVE_EXT_RANK_SECRET) with an HMAC over fresh nonces of the connection,
and the outcome itself is HMAC-signed over both nonces, so nobody without the secret can read
the overrides, forge an outcome or replay an old one. Only a verified outcome is unpickled.
The exchange itself, and how it holds against a flood of strangers, is rank_port.py.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import IdleTimeout
from ..protocol import RANK_ADDR_ENV, RANK_BIND_ENV, RANK_SECRET_ENV
from .rank_port import (
    HANDSHAKE_TIMEOUT,
    HELLO_TIMEOUT,
    MAGIC,
    MAX_HELLO,
    MAX_PENDING,
    NONCE,
    SEND_GRACE,
    Leader,
    RankError,
    RankOutcome,
    join,
    receive,
)

__all__ = [
    "HANDSHAKE_TIMEOUT",
    "HELLO_TIMEOUT",
    "MAGIC",
    "MAX_HELLO",
    "MAX_PENDING",
    "NONCE",
    "RANK_ADDR_ENV",
    "RANK_SECRET_ENV",
    "SEND_GRACE",
    "Leader",
    "RankError",
    "RankOutcome",
    "World",
]

log = logging.getLogger("interactive_ext")

WORLD_VARIABLES = (
    ("WORLD_SIZE", "RANK"),  # torchrun, Ray Train, torch.distributed launchers
    ("OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK"),  # Open MPI's mpirun
    ("PMI_SIZE", "PMI_RANK"),  # MPICH / Intel MPI
    ("SLURM_NTASKS", "SLURM_PROCID"),  # srun
)
"""(size, rank) variables, the most specific launcher first: torchrun under srun sets both."""

CONNECT_TIMEOUT = 600.0
"""How long a rank other than 0 tries to reach rank 0 before it gives up, in seconds."""


@dataclass(frozen=True)
class World:
    """The size of the job and this process's global rank (source: the variables read)."""

    size: int = 1
    rank: int = 0
    source: str = ""

    @property
    def follows(self) -> bool:
        """True for a rank that waits for rank 0 instead of serving."""
        return self.size > 1 and self.rank != 0


def detect_world(env: Mapping[str, str] | None = None) -> World:
    """The job's world size and this rank, from the first launcher's variables that are set."""
    env = os.environ if env is None else env
    for size_var, rank_var in WORLD_VARIABLES:
        if not env.get(size_var):
            continue
        size_text, rank_text = env[size_var], env.get(rank_var, "")
        try:
            size, rank = int(size_text), int(rank_text)
        except ValueError:
            raise ValueError(
                f"{size_var}={size_text!r} and {rank_var}={rank_text!r} must both be integers "
                "(the job's size and this process's global rank)"
            ) from None
        if size < 1 or not 0 <= rank < size:
            raise ValueError(f"{rank_var}={rank} is not a rank of {size_var}={size}")
        return World(size, rank, f"{size_var}/{rank_var}")
    return World()


def rank0_address(env: Mapping[str, str] | None = None) -> tuple[str, int]:
    """Where rank 0 listens: INTERACTIVE_EXT_RANK_ADDR, else MASTER_ADDR:MASTER_PORT+1."""
    env = os.environ if env is None else env
    text = env.get(RANK_ADDR_ENV, "")
    if text:
        host, _, port = text.rpartition(":")
        if host and port.isdigit() and 0 < int(port) < 65536:
            return host.strip("[]"), int(port)
        raise ValueError(f"{RANK_ADDR_ENV}={text!r} is not HOST:PORT (rank 0's host, a free port)")
    master, master_port = env.get("MASTER_ADDR", ""), env.get("MASTER_PORT", "")
    if master and master_port.isdigit():
        return master, int(master_port) + 1
    raise ValueError(
        f"a multi-process job needs to know where rank 0 is: set {RANK_ADDR_ENV}=HOST:PORT "
        "(rank 0's host and a free port) in every rank, or MASTER_ADDR and MASTER_PORT as "
        "torchrun does (rank 0 then listens on MASTER_PORT + 1)"
    )


def job_secret(env: Mapping[str, str] | None = None) -> bytes:
    """The job's shared secret; ValueError saying how to set it when it is missing or short."""
    env = os.environ if env is None else env
    secret = env.get(RANK_SECRET_ENV, "")
    if len(secret) < 16:
        raise ValueError(
            f"a multi-process job needs {RANK_SECRET_ENV}: the same random value (16 characters "
            "or more) in every rank, so that rank 0's outcome cannot be forged; e.g. "
            f'export {RANK_SECRET_ENV}=$(python -c "import secrets; print(secrets.token_hex(32))")'
            " before torchrun/srun/mpirun"
        )
    return secret.encode()


def start_leader(world: World) -> Leader | None:
    """Rank 0 of a multi-process job: the Leader; None for a single process."""
    if world.size <= 1 or world.rank != 0:
        return None
    try:
        secret = job_secret()
    except ValueError as e:
        log.warning("rank 0 of %s processes cannot tell the others its outcome: %s", world.size, e)
        return None
    address = rank0_address()
    bind = os.environ.get(RANK_BIND_ENV) or None
    try:
        return Leader(secret, address, expected=world.size - 1, bind=bind)
    except OSError as e:
        raise RankError(
            f"rank 0 cannot listen on {bind or address[0]}:{address[1]} for the other ranks "
            f"({e}); set {RANK_ADDR_ENV}=HOST:PORT to this host and a free port in every rank "
            f"(or {RANK_BIND_ENV}=0.0.0.0 to listen on every interface)"
        ) from None


def wait_for_rank0(world: World, timeout: float = CONNECT_TIMEOUT) -> RankOutcome:
    """A rank other than 0: wait for rank 0's verified outcome (RankError if there is none).

    Rank 0 not listening yet, or closing this connection in a flood of strangers: tried again
    until timeout. A peer that is not rank 0 of this job: RankError at once.
    """
    secret, address = job_secret(), rank0_address()
    log.info("rank %s of %s: waiting for rank 0's Jupyter session to end", world.rank, world.size)
    deadline = time.monotonic() + timeout
    delay = 0.05
    while True:
        try:
            sock, nonces = join(address, secret, deadline - time.monotonic())
            break
        except OSError as e:
            if time.monotonic() + delay > deadline:
                raise RankError(
                    f"rank 0 did not answer at {address[0]}:{address[1]} within {timeout:.0f} s "
                    f"({e}); is {RANK_ADDR_ENV} (or MASTER_ADDR/MASTER_PORT) the same in "
                    "every rank?"
                ) from None
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
    return receive(sock, secret, nonces)


def follow(world: World, on_idle: str) -> dict[str, Any]:
    """Rank 0's input overrides to run with; IdleTimeout when it stopped idle (on_idle=fail)."""
    outcome = wait_for_rank0(world)
    if not outcome.resumed and on_idle == "fail":
        raise IdleTimeout(outcome.message)
    log.info("rank %s: rank 0's session ended; running the task", world.rank)
    return outcome.overrides
