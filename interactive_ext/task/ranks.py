"""Multi-process jobs: which rank this process is, and how the other ranks learn rank 0's outcome.

In a job of several processes (torchrun, Ray Train, srun, mpirun) only global rank 0 serves
Jupyter. Every other rank connects to rank 0 over TCP (INTERACTIVE_EXT_RANK_ADDR, or torchrun's
MASTER_ADDR and MASTER_PORT + 1) and waits. Once rank 0 knows its outcome (resumed, with the
input overrides; or stopped idle) it sends it down each connection. Both sides prove they hold
the job's secret (INTERACTIVE_EXT_RANK_SECRET) with an HMAC over fresh nonces of the connection,
and the outcome itself is HMAC-signed over both nonces, so nobody without the secret can read
the overrides, forge an outcome or replay an old one. Only a verified outcome is unpickled.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import os
import pickle
import secrets
import socket
import struct
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import IdleTimeout
from ..protocol import RANK_ADDR_ENV, RANK_SECRET_ENV

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

SEND_GRACE = 30.0
"""How long rank 0 waits, at its end, for the outcome to reach the connected ranks (s)."""

MAGIC = b"interactive-ext-rank/1"
NONCE = 16
MAX_FRAME = 1 << 30
"""The largest outcome rank 0 sends (after both sides proved the secret)."""
MAX_HELLO = 64
"""The largest frame before authentication (a nonce and an HMAC are 48 bytes)."""
HANDSHAKE_TIMEOUT = 5.0
"""Seconds a connection has to prove the secret, in all."""
MAX_PENDING = 64
"""Connections that have not proved the secret yet; more are closed at once."""


class RankError(RuntimeError):
    """Rank 0 could not be reached, did not prove the secret, or ended without an outcome."""


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


def _mac(secret: bytes, *parts: bytes) -> bytes:
    return hmac.new(secret, b"|".join(parts), hashlib.sha256).digest()


def _send(sock: socket.socket, data: bytes) -> None:
    sock.sendall(struct.pack("!I", len(data)) + data)


def _recv_exact(sock: socket.socket, n: int, deadline: float | None = None) -> bytes:
    chunks = bytearray()
    while len(chunks) < n:
        if deadline is not None:  # the whole frame in time, not each byte
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("the handshake took too long")
            sock.settimeout(left)
        chunk = sock.recv(n - len(chunks))
        if not chunk:
            raise ConnectionError("rank 0 closed the connection")
        chunks += chunk
    return bytes(chunks)


def _recv(sock: socket.socket, limit: int = MAX_FRAME, deadline: float | None = None) -> bytes:
    (size,) = struct.unpack("!I", _recv_exact(sock, 4, deadline))
    if size > limit:
        raise ConnectionError(f"a message of {size} bytes is not one of ours")
    return _recv_exact(sock, size, deadline)


@dataclass
class RankOutcome:
    """What rank 0 tells the other ranks: resumed or not, its overrides, the idle message."""

    resumed: bool
    overrides: dict[str, Any] = field(default_factory=dict)
    message: str = ""


class Leader:
    """Rank 0's side: accepts the other ranks and sends each of them the outcome once known."""

    def __init__(self, secret: bytes, address: tuple[str, int]) -> None:
        """Listen on address's port (every interface: the ranks may be on other nodes)."""
        self.secret = secret
        self.payload: bytes | None = None
        self.decided = threading.Event()
        self.senders: list[threading.Thread] = []
        """The connections that proved the secret: the end waits for these only."""
        self.pending = threading.BoundedSemaphore(MAX_PENDING)
        self.listener = socket.create_server(("", address[1]), reuse_port=False)
        self.listener.settimeout(None)
        threading.Thread(target=self._accept, name="interactive-ranks", daemon=True).start()
        log.info("rank 0: the other ranks learn the outcome on port %s", address[1])

    def _accept(self) -> None:
        while True:
            try:
                conn, peer = self.listener.accept()
            except OSError:
                return  # closed
            if not self.pending.acquire(blocking=False):
                log.warning(
                    "closing a connection from %s: %d others are proving", peer, MAX_PENDING
                )
                conn.close()
                continue
            threading.Thread(target=self._serve, args=(conn, peer), daemon=True).start()

    def _handshake(self, conn: socket.socket, peer: Any) -> tuple[bytes, bytes] | None:
        """Both nonces once the peer proved the secret (tiny frames, HANDSHAKE_TIMEOUT); None."""
        try:
            conn.settimeout(HANDSHAKE_TIMEOUT)
            deadline = time.monotonic() + HANDSHAKE_TIMEOUT
            mine = secrets.token_bytes(NONCE)
            _send(conn, MAGIC + mine)
            answer = _recv(conn, MAX_HELLO, deadline)
        except (OSError, ConnectionError, struct.error) as e:
            log.warning("a connection from %s did not finish the handshake: %s", peer, e)
            return None
        finally:
            self.pending.release()
        theirs, proof = answer[:NONCE], answer[NONCE:]
        if not hmac.compare_digest(proof, _mac(self.secret, b"rank", mine, theirs)):
            log.warning("a connection from %s did not prove the job's secret", peer)
            return None
        self.senders.append(threading.current_thread())
        return mine, theirs

    def _serve(self, conn: socket.socket, peer: Any) -> None:
        """One rank: the handshake, then the outcome (or a close when there is none)."""
        with conn:
            nonces = self._handshake(conn, peer)
            if nonces is None:
                return
            mine, theirs = nonces
            try:
                conn.settimeout(None)
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
                self.decided.wait()
                if self.payload is not None:
                    tag = _mac(self.secret, b"outcome", theirs, mine, self.payload)
                    _send(conn, tag + self.payload)
            except (OSError, ConnectionError, struct.error) as e:
                log.warning("a rank at %s left before the outcome: %s", peer, e)

    def publish(self, outcome: RankOutcome) -> None:
        """Send the outcome to every rank connected now or later (the first outcome only)."""
        if not self.decided.is_set():
            self.payload = pickle.dumps(outcome, protocol=5)
            self.decided.set()

    def close(self, grace: float = SEND_GRACE) -> None:
        """Stop listening, let the outcome reach the ranks that proved the secret (up to grace
        seconds); connections still in their handshake are not waited for.

        A rank still waiting when there is no outcome sees its connection close.
        """
        self.decided.set()
        with contextlib.suppress(OSError):
            self.listener.close()
        deadline = time.monotonic() + grace
        for sender in list(self.senders):
            sender.join(max(0.0, deadline - time.monotonic()))


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
    try:
        return Leader(secret, address)
    except OSError as e:
        raise RankError(
            f"rank 0 cannot listen on port {address[1]} for the other ranks ({e}); "
            f"set {RANK_ADDR_ENV}=HOST:PORT to a free port in every rank"
        ) from None


def _connect(address: tuple[str, int], timeout: float) -> socket.socket:
    """A connection to rank 0, retried until timeout (rank 0 may start later)."""
    deadline = time.monotonic() + timeout
    delay = 0.05
    while True:
        try:
            return socket.create_connection(address, timeout=30)
        except OSError as e:
            if time.monotonic() > deadline:
                raise RankError(
                    f"rank 0 did not answer at {address[0]}:{address[1]} within {timeout:.0f} s "
                    f"({e}); is {RANK_ADDR_ENV} (or MASTER_ADDR/MASTER_PORT) the same in "
                    "every rank?"
                ) from None
            time.sleep(delay)
            delay = min(delay * 2, 1.0)


def wait_for_rank0(world: World, timeout: float = CONNECT_TIMEOUT) -> RankOutcome:
    """A rank other than 0: wait for rank 0's verified outcome (RankError if there is none)."""
    secret, address = job_secret(), rank0_address()
    log.info("rank %s of %s: waiting for rank 0's Jupyter session to end", world.rank, world.size)
    with _connect(address, timeout) as sock:
        try:
            hello = _recv(sock, MAX_HELLO)
            if not hello.startswith(MAGIC) or len(hello) != len(MAGIC) + NONCE:
                raise RankError(f"{address[0]}:{address[1]} is not rank 0 of an interactive task")
            theirs, mine = hello[len(MAGIC) :], secrets.token_bytes(NONCE)
            _send(sock, mine + _mac(secret, b"rank", theirs, mine))
            sock.settimeout(None)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            message = _recv(sock)
        except (ConnectionError, OSError, struct.error) as e:
            raise RankError(
                f"rank 0 ended without an outcome ({e}): see rank 0's log; "
                "or its secret differs from this rank's"
            ) from None
    tag, payload = message[:32], message[32:]
    if not hmac.compare_digest(tag, _mac(secret, b"outcome", mine, theirs, payload)):
        raise RankError("rank 0's outcome does not carry the job's secret: ignored")
    outcome = pickle.loads(payload)
    if not isinstance(outcome, RankOutcome):
        raise RankError(f"rank 0 sent {type(outcome).__name__}, not an outcome")
    return outcome


def follow(world: World, on_idle: str) -> dict[str, Any]:
    """Rank 0's input overrides to run with; IdleTimeout when it stopped idle (on_idle=fail)."""
    outcome = wait_for_rank0(world)
    if not outcome.resumed and on_idle == "fail":
        raise IdleTimeout(outcome.message)
    log.info("rank %s: rank 0's session ended; running the task", world.rank)
    return outcome.overrides
