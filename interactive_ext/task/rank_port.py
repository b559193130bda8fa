"""Rank 0's port: the framed, HMAC-authenticated exchange between rank 0 and the other ranks.

A rank speaks first: its hello (the magic, a fresh nonce, an HMAC of them with the job's secret)
within HELLO_TIMEOUT of connecting, so rank 0 tells it apart from a stranger at once, and a
stranger holds a slot for a second at most; a new connection beyond MAX_PENDING closes the
oldest one still silent, so a flood cannot keep a real rank out (it retries, and gets in).
Rank 0 then proves the secret over both nonces before the rank waits for anything, so a process
squatting the port is refused within HANDSHAKE_TIMEOUT and never sends more than MAX_HELLO
bytes; the rank proves it over both nonces too (no replayed hello gets an outcome), and the
outcome is HMAC-signed over both nonces.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import pickle
import secrets
import selectors
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("interactive_ext")

SEND_GRACE = 30.0
"""How long rank 0 waits, at its end, for the outcome to reach every other rank (s)."""

MAGIC = b"interactive-ext-rank/2"
NONCE = 16
MAX_FRAME = 1 << 30
"""The largest outcome rank 0 sends (after both sides proved the secret)."""
MAX_HELLO = 128
"""The largest frame before a side proved the secret (magic, a nonce and an HMAC: 70 bytes)."""
HELLO_TIMEOUT = 1.0
"""Seconds a connection has to send its hello (a real rank sends it at once): strangers go."""
HANDSHAKE_TIMEOUT = 5.0
"""Seconds the rest of the handshake may take, for either side."""
MAX_PENDING = 64
"""Connections that have not sent their hello yet; a new one closes the oldest of them."""
REFUSED = MAGIC + b" refused"
"""Rank 0's answer to a hello without the job's secret."""


class RankError(RuntimeError):
    """Rank 0 could not be reached, did not prove the secret, or ended without an outcome."""


class FrameError(ConnectionError):
    """A frame larger than the protocol allows at that step."""


@dataclass
class RankOutcome:
    """What rank 0 tells the other ranks: resumed or not, its overrides, the idle message."""

    resumed: bool
    overrides: dict[str, Any] = field(default_factory=dict)
    message: str = ""


def _mac(secret: bytes, *parts: bytes) -> bytes:
    return hmac.new(secret, b"|".join(parts), hashlib.sha256).digest()


def hello(secret: bytes, nonce: bytes) -> bytes:
    """A rank's first frame: the magic, its nonce, their HMAC."""
    return MAGIC + nonce + _mac(secret, b"hello", MAGIC, nonce)


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
            raise ConnectionError("the other side closed the connection")
        chunks += chunk
    return bytes(chunks)


def _recv(sock: socket.socket, limit: int = MAX_FRAME, deadline: float | None = None) -> bytes:
    (size,) = struct.unpack("!I", _recv_exact(sock, 4, deadline))
    if size > limit:
        raise FrameError(f"a message of {size} bytes is not one of ours (at most {limit})")
    return _recv_exact(sock, size, deadline)


class Leader:
    """Rank 0's side: accepts the other ranks and sends each of them the outcome once known."""

    def __init__(
        self, secret: bytes, address: tuple[str, int], expected: int = 0, bind: str | None = None
    ) -> None:
        """Listen on address (or on bind's address and address's port; "" or 0.0.0.0: every
        interface); expected: how many other ranks must get the outcome (0: not checked)."""
        self.secret = secret
        self.expected = expected
        self.payload: bytes | None = None
        self.decided = threading.Event()
        self.senders: list[threading.Thread] = []
        """The connections that proved the secret: the end waits for these only."""
        self.delivered = 0
        self.strangers = 0
        self.lock = threading.Lock()
        host = address[0] if bind is None else bind
        self.listener = socket.create_server(("" if host == "0.0.0.0" else host, address[1]))
        self.listener.setblocking(False)
        self.closed = False
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.listener, selectors.EVENT_READ)
        threading.Thread(target=self._accept, name="interactive-ranks", daemon=True).start()
        log.info("rank 0: the other ranks learn the outcome at %s:%s", host or "*", address[1])

    def _accept(self) -> None:
        """Accept connections and read their hellos (one thread, no thread per stranger)."""
        sel = self.selector
        pending: dict[socket.socket, tuple[float, bytearray, Any]] = {}
        while not self.closed:
            now = time.monotonic()
            for conn in [c for c, (end, _, _) in pending.items() if end <= now]:
                self._drop(sel, pending, conn)
            ends = [end for end, _, _ in pending.values()]
            try:
                events = sel.select(min([0.5, *(end - now for end in ends)]))
            except (OSError, ValueError):
                break
            for key, _ in events:
                if key.fileobj is self.listener:
                    self._take(sel, pending)
                elif key.fileobj in pending:
                    self._read_hello(sel, pending, key.fileobj)  # type: ignore[arg-type]
        for conn in list(pending):
            self._drop(sel, pending, conn)
        sel.close()

    def _take(self, sel: selectors.BaseSelector, pending: dict[Any, Any]) -> None:
        """A new connection: pending until its hello; the oldest silent one goes if full."""
        try:
            conn, peer = self.listener.accept()
        except OSError:
            return
        if len(pending) >= MAX_PENDING:
            self._drop(sel, pending, next(iter(pending)))
        conn.setblocking(False)
        pending[conn] = (time.monotonic() + HELLO_TIMEOUT, bytearray(), peer)
        sel.register(conn, selectors.EVENT_READ)

    def _drop(self, sel: selectors.BaseSelector, pending: dict[Any, Any], conn: Any) -> None:
        """Close a connection that did not (yet) send a hello with the secret."""
        pending.pop(conn, None)
        with contextlib.suppress(KeyError, ValueError):
            sel.unregister(conn)
        conn.close()
        self.strangers += 1

    def _read_hello(self, sel: selectors.BaseSelector, pending: dict[Any, Any], conn: Any) -> None:
        """Read what came; a complete hello with the secret goes on in a thread of its own."""
        _end, buf, peer = pending[conn]
        try:
            data = conn.recv(4 + MAX_HELLO - len(buf))
        except OSError:
            data = b""
        buf += data
        size = struct.unpack("!I", buf[:4])[0] if len(buf) >= 4 else 0
        if not data or size > MAX_HELLO:
            self._drop(sel, pending, conn)
            return
        if len(buf) < 4 + size:
            return
        frame = bytes(buf[4 : 4 + size])
        theirs = frame[len(MAGIC) : len(MAGIC) + NONCE]
        if len(theirs) != NONCE or not hmac.compare_digest(frame, hello(self.secret, theirs)):
            with contextlib.suppress(OSError):
                _send(conn, REFUSED)
            self._drop(sel, pending, conn)
            log.debug("a connection from %s did not prove the job's secret", peer)
            return
        pending.pop(conn)
        sel.unregister(conn)
        conn.setblocking(True)
        threading.Thread(target=self._serve, args=(conn, peer, theirs), daemon=True).start()

    def _serve(self, conn: socket.socket, peer: Any, theirs: bytes) -> None:
        """One rank after its hello: both proofs, then the outcome (or a close without one)."""
        with conn:
            mine = secrets.token_bytes(NONCE)
            try:
                conn.settimeout(HANDSHAKE_TIMEOUT)
                _send(conn, MAGIC + mine + _mac(self.secret, b"leader", theirs, mine))
                answer = _recv(conn, MAX_HELLO, time.monotonic() + HANDSHAKE_TIMEOUT)
            except (OSError, ConnectionError, struct.error) as e:
                log.warning("a connection from %s did not finish the handshake: %s", peer, e)
                return
            if not hmac.compare_digest(answer, _mac(self.secret, b"rank", mine, theirs)):
                log.warning("a connection from %s replayed a hello: closed", peer)
                return
            self.senders.append(threading.current_thread())
            try:
                conn.settimeout(None)
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
                self.decided.wait()
                if self.payload is not None:
                    tag = _mac(self.secret, b"outcome", theirs, mine, self.payload)
                    _send(conn, tag + self.payload)
                    with self.lock:
                        self.delivered += 1
            except (OSError, ConnectionError, struct.error) as e:
                log.warning("a rank at %s left before the outcome: %s", peer, e)

    def publish(self, outcome: RankOutcome) -> None:
        """Send the outcome to every rank connected now or later (the first outcome only)."""
        if not self.decided.is_set():
            self.payload = pickle.dumps(outcome, protocol=5)
            self.decided.set()

    def close(self, grace: float = SEND_GRACE) -> str:
        """Let the outcome reach the expected ranks (up to grace seconds, still listening for
        late ones), then stop listening; why the job did not run as a whole, or "".

        A rank still waiting when there is no outcome sees its connection close.
        """
        published = self.payload is not None
        self.decided.set()
        deadline = time.monotonic() + grace
        while published and self.delivered < self.expected and time.monotonic() < deadline:
            time.sleep(0.05)
        self.closed = True
        with contextlib.suppress(OSError):
            self.listener.close()
        for sender in list(self.senders):
            sender.join(max(0.0, deadline - time.monotonic()))
        if self.strangers:
            log.info("rank 0 closed %d connections that sent no hello", self.strangers)
        missing = self.expected - self.delivered if published else 0
        if missing <= 0:
            return ""
        why = (
            f"{missing} of the {self.expected} other ranks never got rank 0's outcome within "
            f"{grace:g} s of its end (see their logs): the job did not run as a whole"
        )
        log.error("%s", why)
        return why


def join(address: tuple[str, int], secret: bytes, left: float) -> tuple[socket.socket, bytes]:
    """A connection to rank 0 that proved the secret, and the tag key (both nonces).

    ConnectionError: nobody listens or rank 0 closed us (try again); RankError: the peer is
    not rank 0 of this job (a squatter, another secret), or it did not answer in time.
    """
    sock = socket.create_connection(address, timeout=max(0.1, min(HANDSHAKE_TIMEOUT, left)))
    where = f"{address[0]}:{address[1]}"
    try:
        mine = secrets.token_bytes(NONCE)
        _send(sock, hello(secret, mine))
        proof = _recv(sock, MAX_HELLO, time.monotonic() + HANDSHAKE_TIMEOUT)
        if proof == REFUSED:
            raise RankError(f"rank 0 at {where} refused this rank: its secret differs")
        theirs = proof[len(MAGIC) : len(MAGIC) + NONCE]
        if not hmac.compare_digest(proof, MAGIC + theirs + _mac(secret, b"leader", mine, theirs)):
            raise RankError(f"{where} does not carry the job's secret: not rank 0 of this job")
        _send(sock, _mac(secret, b"rank", theirs, mine))
        sock.settimeout(None)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        return sock, mine + theirs
    except (FrameError, TimeoutError) as e:
        sock.close()
        raise RankError(f"{where} does not carry the job's secret ({e}): not rank 0") from None
    except BaseException:
        sock.close()
        raise


def receive(sock: socket.socket, secret: bytes, nonces: bytes) -> RankOutcome:
    """Rank 0's verified outcome on a joined connection (RankError if there is none)."""
    with sock:
        try:
            message = _recv(sock)
        except (ConnectionError, OSError, struct.error) as e:
            raise RankError(f"rank 0 ended without an outcome ({e}): see rank 0's log") from None
    tag, payload = message[:32], message[32:]
    if not hmac.compare_digest(
        tag, _mac(secret, b"outcome", nonces[:NONCE], nonces[NONCE:], payload)
    ):
        raise RankError("rank 0's outcome does not carry the job's secret: ignored")
    outcome = pickle.loads(payload)
    if not isinstance(outcome, RankOutcome):
        raise RankError(f"rank 0 sent {type(outcome).__name__}, not an outcome")
    return outcome
