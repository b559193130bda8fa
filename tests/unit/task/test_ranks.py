"""The rank port before authentication (issue 22, finding 3): tiny frames, few, not waited for.

Rank 0 listens on a real TCP port on 127.0.0.1; strangers and real ranks connect to it.
"""

from __future__ import annotations

import socket
import struct
import threading
import time

import pytest

from harness import free_port, wait_for
from interactive_ext.task import ranks

SECRET = b"s" * 32


@pytest.fixture
def leader():
    """Rank 0's listener on a free port of 127.0.0.1 (closed at the end)."""
    port = free_port()
    lead = ranks.Leader(SECRET, ("127.0.0.1", port))
    yield lead, port
    lead.close(grace=0)


def follow(port: int, got: list) -> threading.Thread:
    """A real rank waiting for the outcome in a thread; its outcome goes into got."""
    env = {ranks.RANK_SECRET_ENV: SECRET.decode(), ranks.RANK_ADDR_ENV: f"127.0.0.1:{port}"}

    def run() -> None:
        import os

        old = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            got.append(ranks.wait_for_rank0(ranks.World(2, 1), timeout=30))
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_ten_idle_connections_do_not_delay_the_end(leader):
    """Ten connections that never answer the handshake: the end does not wait for them; a real
    rank still gets the outcome."""
    lead, port = leader
    idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(10)]
    got: list = []
    rank = follow(port, got)
    wait_for(lambda: lead.senders, 20, "the real rank to prove the secret")
    lead.publish(ranks.RankOutcome(True, {"x": 1}))
    t0 = time.monotonic()
    lead.close()
    took = time.monotonic() - t0
    rank.join(10)
    for s in idle:
        s.close()
    assert took < 5.0, took
    assert got and got[0].overrides == {"x": 1}


def test_a_huge_frame_before_authentication_is_refused_at_once(leader):
    """A stranger announcing a 1 GiB frame is cut off without rank 0 reading any of it."""
    _lead, port = leader
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        hello = s.recv(4 + 64)
        assert ranks.MAGIC in hello
        s.sendall(struct.pack("!I", 1 << 30) + b"x" * 65536)
        s.settimeout(10)
        assert wait_for(lambda: _closed(s), 10, "rank 0 to close the connection")


def _closed(s: socket.socket) -> bool:
    """True once the peer closed (or reset) the connection."""
    try:
        return s.recv(1024) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_pending_handshakes_are_bounded(leader):
    """Beyond MAX_PENDING connections in their handshake, new ones are closed at once."""
    _lead, port = leader
    held = [socket.create_connection(("127.0.0.1", port)) for _ in range(ranks.MAX_PENDING)]
    try:
        for s in held:
            s.settimeout(10)
            assert s.recv(4 + 64)  # each got its hello: all are pending now
        with socket.create_connection(("127.0.0.1", port), timeout=10) as extra:
            assert wait_for(lambda: _closed(extra), 10, "the extra connection to be closed")
    finally:
        for s in held:
            s.close()


def test_a_slow_handshake_is_cut_after_the_handshake_timeout(leader, monkeypatch):
    """A stranger that trickles bytes is cut off after HANDSHAKE_TIMEOUT in all."""
    _lead, port = leader
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.recv(4 + 64)
        t0 = time.monotonic()
        s.sendall(struct.pack("!I", 48))
        while not _closed_soon(s):
            s.sendall(b"x")
        assert time.monotonic() - t0 < ranks.HANDSHAKE_TIMEOUT + 3


def _closed_soon(s: socket.socket) -> bool:
    """Wait up to 1 s for a close; True if it came."""
    s.settimeout(1)
    try:
        return s.recv(1) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False
