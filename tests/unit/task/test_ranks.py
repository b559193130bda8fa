"""The rank port before authentication (issue 22, finding 3; issue 27, finding 3): tiny
frames, silent strangers cut after a second, a flood that never keeps a real rank out.

Rank 0 listens on a real TCP port on 127.0.0.1; strangers and real ranks connect to it.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time

import pytest

from harness import free_port, hammer, wait_for
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


def test_silent_connections_beyond_max_pending_close_the_oldest(leader):
    """Beyond MAX_PENDING silent connections, a new one closes the oldest (not itself)."""
    _lead, port = leader
    held = [socket.create_connection(("127.0.0.1", port)) for _ in range(ranks.MAX_PENDING)]
    try:
        time.sleep(0.2)  # all accepted (the listener reads them in order)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as extra:
            held[0].settimeout(ranks.HELLO_TIMEOUT / 2)
            assert _closed(held[0])  # the oldest went at once, well before its hello deadline
            extra.settimeout(0.1)
            assert not _closed(extra)
    finally:
        for s in held:
            s.close()


def test_a_slow_hello_is_cut_after_the_hello_timeout(leader):
    """A stranger that trickles bytes is cut off after HELLO_TIMEOUT in all."""
    _lead, port = leader
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        t0 = time.monotonic()
        s.sendall(struct.pack("!I", 70))
        while not _closed_soon(s):
            s.sendall(b"x")
        assert time.monotonic() - t0 < ranks.HELLO_TIMEOUT + 2


def _closed_soon(s: socket.socket) -> bool:
    """Wait up to 0.2 s for a close; True if it came."""
    s.settimeout(0.2)
    try:
        return s.recv(1) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False


# -- issue 27: a flood of strangers, a squatter, the address, a rank that never came ----------


def test_a_real_rank_gets_the_outcome_while_64_strangers_hammer_the_port(leader):
    """Finding 3: 64 connections held open and reopened as they are cut; a real rank started
    meanwhile proves the secret and gets the outcome; rank 0 counts it as delivered."""
    lead, port = leader
    lead.expected = 1
    stop, count = threading.Event(), [0]
    flood = threading.Thread(target=hammer, args=(port, stop, count), daemon=True)
    flood.start()
    try:
        wait_for(lambda: count[0] >= 64, 20, "the flood to hold 64 connections")
        got: list = []
        rank = follow(port, got)
        lead.publish(ranks.RankOutcome(True, {"x": 2}))
        rank.join(30)
        assert got and got[0].overrides == {"x": 2}, got
        wait_for(lambda: count[0] > 64, 10, "a stranger cut and back")  # cut, came back
    finally:
        stop.set()
        flood.join(10)
    assert lead.close(grace=5) == ""


def test_rank_0_says_when_a_rank_never_got_the_outcome(leader):
    """Finding 3: rank 0 of 2 whose rank 1 never joined ends with why, not a silent success."""
    lead, _port = leader
    lead.expected = 1
    lead.publish(ranks.RankOutcome(True, {}))
    t0 = time.monotonic()
    why = lead.close(grace=1)
    assert "1 of the 1 other ranks never got" in why
    assert time.monotonic() - t0 < 5


@pytest.mark.parametrize("first", [b"hello", b"huge"])
def test_a_rank_refuses_a_squatter_and_its_huge_frame_at_once(monkeypatch, first):
    """Finding 3: a process on rank 0's port greets the rank as rank 0 once did, then sends a
    1 GiB frame header (or sends that at once): the rank refuses it and gives up within the
    handshake deadline (it waited 40 s with no deadline before)."""
    squatter = socket.create_server(("127.0.0.1", 0))
    port = squatter.getsockname()[1]
    huge = struct.pack("!I", 1 << 30) + b"x" * 1024

    def squat() -> None:
        conn, _ = squatter.accept()
        with conn, contextlib.suppress(OSError):
            if first == b"hello":
                greeting = b"interactive-ext-rank/1" + b"n" * 16
                conn.sendall(struct.pack("!I", len(greeting)) + greeting)
                conn.settimeout(10)
                conn.recv(1024)
            conn.sendall(huge)
            time.sleep(40)

    threading.Thread(target=squat, daemon=True).start()
    monkeypatch.setenv(ranks.RANK_SECRET_ENV, SECRET.decode())
    monkeypatch.setenv(ranks.RANK_ADDR_ENV, f"127.0.0.1:{port}")
    t0 = time.monotonic()
    try:
        with pytest.raises(ranks.RankError, match="not rank 0"):
            ranks.wait_for_rank0(ranks.World(2, 1), timeout=60)
    finally:
        squatter.close()
    assert time.monotonic() - t0 < ranks.HANDSHAKE_TIMEOUT + 1


def test_the_port_binds_to_the_ranks_address_only(monkeypatch):
    """Finding 3: rank 0 listens on the host of INTERACTIVE_EXT_RANK_ADDR, not every interface,
    unless INTERACTIVE_EXT_RANK_BIND asks for it."""
    from interactive_ext.protocol import RANK_BIND_ENV

    monkeypatch.setenv(ranks.RANK_SECRET_ENV, SECRET.decode())
    monkeypatch.setenv(ranks.RANK_ADDR_ENV, f"127.0.0.1:{free_port()}")
    for bind, address in ((None, "127.0.0.1"), ("0.0.0.0", "0.0.0.0")):
        if bind is None:
            monkeypatch.delenv(RANK_BIND_ENV, raising=False)
        else:
            monkeypatch.setenv(RANK_BIND_ENV, bind)
        lead = ranks.start_leader(ranks.World(2, 0))
        assert lead is not None
        try:
            assert lead.listener.getsockname()[0] == address
        finally:
            lead.close(grace=0)
