"""Multi-process jobs: 4 local ranks with torchrun's variables, one server, one resume."""

from __future__ import annotations

import contextlib
import json
import secrets
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import HERE, cli, engine_env, server_children, task_sessions, tree

from harness import free_port, kill_tree, wait_for
from interactive_ext.protocol import RANK_ADDR_ENV, RANK_SECRET_ENV
from interactive_ext.task import ranks
from interactive_ext.task.rank_port import _recv, _send

WORLD = 4


@pytest.fixture
def job(tmp_path: Path) -> Iterator[Any]:
    """Factory: start WORLD ranks of rank_task.py as torchrun would; all killed at the end."""
    procs: list[subprocess.Popen[str]] = []

    def start(idle: float = 120, secret: str | None = None) -> tuple[dict, list]:
        channel = free_port()
        common = engine_env(
            tmp_path,
            WORLD_SIZE=str(WORLD),
            MASTER_ADDR="127.0.0.1",
            MASTER_PORT=str(channel - 1),  # rank 0 listens on MASTER_PORT + 1
            RANK_TEST_IDLE=str(idle),
        )
        common[RANK_SECRET_ENV] = secret or secrets.token_hex(32)
        for rank in range(WORLD):
            env = {**common, "RANK": str(rank), "LOCAL_RANK": str(rank)}
            procs.append(
                subprocess.Popen(
                    [sys.executable, str(HERE / "rank_task.py"), "3"],
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
        return common, procs

    yield start
    for p in procs:
        kill_tree(p)


def finish(procs: list[subprocess.Popen[str]]) -> list[tuple[int, dict, str]]:
    """Each rank's exit code, last JSON line and stderr."""
    results = []
    for p in procs:
        out, err = p.communicate(timeout=90)
        lines = [line for line in out.splitlines() if line.startswith("{")]
        results.append((p.returncode, json.loads(lines[-1]) if lines else {}, err))
    return results


def servers_of(procs: list[subprocess.Popen[str]]) -> set[int]:
    """The server children started by the ranks."""
    pids: set[int] = set()
    for p in procs:
        pids |= tree(p.pid)
    return pids & server_children()


def test_four_ranks_one_server_one_resume(job: Any) -> None:
    env, procs = job()
    sessions = wait_for(lambda: task_sessions(env), 90, "rank 0's server")
    assert len(sessions) == 1
    assert len(servers_of(procs)) == 1  # ranks 1..3 started no server
    out = cli(env, "resume", "--inputs", '{"factor": 5}')
    assert out.returncode == 0, out.stderr
    results = finish(procs)
    for code, body, err in results:
        assert code == 0, err
        assert body["result"] == {"value": 15}, (body, err)
    assert sorted(body["rank"] for _, body, _ in results) == ["0", "1", "2", "3"]
    assert "waiting for rank 0" in results[1][2]


def test_four_ranks_idle_all_raise_the_same_idle_timeout(job: Any) -> None:
    _, procs = job(idle=2)
    results = finish(procs)
    messages = {body.get("idle") for _, body, _ in results}
    assert [code for code, _, _ in results] == [3] * WORLD, results
    assert len(messages) == 1 and "max_idle_seconds=2" in next(iter(messages))


def _leader(monkeypatch: pytest.MonkeyPatch, secret: str) -> ranks.Leader:
    port = free_port()
    monkeypatch.setenv(RANK_ADDR_ENV, f"127.0.0.1:{port}")
    monkeypatch.setenv(RANK_SECRET_ENV, secret)
    leader = ranks.start_leader(ranks.World(2, 0, "test"))
    assert leader is not None
    return leader


def test_outcome_over_the_channel_and_a_wrong_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    leader = _leader(monkeypatch, "a" * 32)
    try:
        leader.publish(ranks.RankOutcome(True, {"factor": 7}))
        got = ranks.wait_for_rank0(ranks.World(2, 1, "test"), timeout=10)
        assert got.overrides == {"factor": 7} and got.resumed
        monkeypatch.setenv(RANK_SECRET_ENV, "b" * 32)  # someone without the job's secret
        with pytest.raises(ranks.RankError, match="secret"):
            ranks.wait_for_rank0(ranks.World(2, 1, "test"), timeout=10)
    finally:
        leader.close()


def test_a_forged_rank0_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """A listener that does not know the secret cannot make a rank run anything."""
    server = socket.create_server(("127.0.0.1", 0))
    monkeypatch.setenv(RANK_ADDR_ENV, f"127.0.0.1:{server.getsockname()[1]}")
    monkeypatch.setenv(RANK_SECRET_ENV, "s" * 32)

    def forge() -> None:
        conn, _ = server.accept()
        with conn:
            _recv(conn)  # the rank's hello
            payload = b"\x80\x05N."  # a pickle; it must never be loaded
            with contextlib.suppress(OSError):  # the rank may have hung up already
                _send(conn, ranks.MAGIC + b"n" * ranks.NONCE + b"t" * 32)
                _send(conn, b"t" * 32 + payload)

    thread = threading.Thread(target=forge, daemon=True)
    thread.start()
    try:
        with pytest.raises(ranks.RankError, match="not rank 0"):
            ranks.wait_for_rank0(ranks.World(2, 1, "test"), timeout=10)
    finally:
        thread.join(10)
        server.close()


@pytest.mark.parametrize(
    ("env", "world"),
    [
        ({}, ranks.World()),
        ({"WORLD_SIZE": "4", "RANK": "2", "SLURM_NTASKS": "2", "SLURM_PROCID": "1"}, (4, 2)),
        ({"SLURM_NTASKS": "8", "SLURM_PROCID": "7"}, (8, 7)),
        ({"OMPI_COMM_WORLD_SIZE": "2", "OMPI_COMM_WORLD_RANK": "0"}, (2, 0)),
        ({"PMI_SIZE": "3", "PMI_RANK": "1"}, (3, 1)),
    ],
)
def test_detect_world(env: dict[str, str], world: Any) -> None:
    got = ranks.detect_world(env)
    assert (got.size, got.rank) == (
        (world.size, world.rank) if isinstance(world, ranks.World) else world
    )


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"WORLD_SIZE": "4", "RANK": "x"}, "must both be integers"),
        ({"WORLD_SIZE": "4", "RANK": "4"}, "is not a rank of"),
    ],
)
def test_bad_world_variables_are_clear(env: dict[str, str], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        ranks.detect_world(env)


def test_missing_secret_and_address_are_clear() -> None:
    with pytest.raises(ValueError, match=RANK_SECRET_ENV):
        ranks.job_secret({})
    with pytest.raises(ValueError, match="MASTER_ADDR"):
        ranks.rank0_address({})
    assert ranks.rank0_address({"MASTER_ADDR": "n1", "MASTER_PORT": "29500"}) == ("n1", 29501)
    with pytest.raises(ValueError, match="HOST:PORT"):
        ranks.rank0_address({RANK_ADDR_ENV: "nohost"})
