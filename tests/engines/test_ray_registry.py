"""Every session waiting in a Ray cluster, listed and resumed from a client of the cluster.

A head node started with `ray start --head` (its own ports and temp dir, stopped at the end
without touching any other Ray on the machine); the task runs in a Ray worker; the CLI runs
with another HOME and TMPDIR and its own empty Jupyter runtime dir, so it has none of the
node's files: it finds the session through the cluster only.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from engine_helpers import BIN, Driver, cli, engine_env, script

from harness import free_port, kill_tree, wait_for

pytest.importorskip("ray")  # the test extra installs it

TIMEOUT = 180
pytestmark = pytest.mark.timeout(600)  # a head node, a worker, four CLI drivers on 2 shared cores


class Head:
    """A Ray head node of this test only."""

    def __init__(self, tmp_path: Path) -> None:
        """Nothing runs yet: up() starts it."""
        self.tmp_path = tmp_path
        self.home = tmp_path / "head-home"  # its auth token (~/.ray/auth_token) is private
        self.home.mkdir()
        self.log = tmp_path / "ray-head.log"
        self.temp = ""
        self.proc: subprocess.Popen[bytes] | None = None

    def spawn(self) -> None:
        """`ray start --head --block` (one process group holds the node) on free ports."""
        self.temp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # short socket paths
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        ports = {
            "--ray-client-server-port": free_port(),
            "--dashboard-agent-listen-port": free_port(),
            "--dashboard-agent-grpc-port": free_port(),
            "--runtime-env-agent-port": free_port(),
            "--metrics-export-port": free_port(),
        }
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [
                    str(BIN / "ray"),
                    "start",
                    "--head",
                    "--block",
                    f"--port={self.port}",
                    "--node-ip-address=127.0.0.1",
                    "--num-cpus=2",
                    "--include-dashboard=false",
                    "--disable-usage-stats",
                    f"--temp-dir={self.temp}",
                    *(f"{k}={v}" for k, v in ports.items()),
                ],
                # on 2 shared cores the node's agent may take a minute to import: let it
                env=engine_env(
                    self.tmp_path, HOME=str(self.home), RAY_agent_register_timeout_ms="300000"
                ),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def up(self, tries: int = 3) -> None:
        """Start the node; again (up to tries) if `ray start` gives up under the machine's load
        (it waits 30 s at most for its raylet, a constant of Ray's)."""
        logs = []
        for _ in range(tries):
            self.spawn()
            assert self.proc is not None
            wait_for(lambda: self.proc.poll() is not None or self.started(), TIMEOUT, "ray start")
            if self.proc.poll() is None:
                return
            logs.append(self.log.read_text(errors="replace")[-1500:])
            self.stop()
        raise AssertionError(f"ray start failed {tries} times; the last log:\n{logs[-1]}")

    def started(self) -> bool:
        """Whether `ray start` says the node runs and its port answers."""
        text = self.log.read_text(errors="replace")
        return "Ray runtime started" in text and port_open(self.port)

    def auth(self) -> dict[str, str]:
        """RAY_AUTH_TOKEN for a client of the cluster (a person: `ray get-auth-token`)."""
        token = self.home / ".ray" / "auth_token"
        return {"RAY_AUTH_TOKEN": token.read_text().strip()} if token.exists() else {}

    def processes(self) -> list[psutil.Process]:
        """Every process of this node: its group, and whatever names its temp dir."""
        found = []
        for p in psutil.process_iter(["cmdline"]):
            with contextlib.suppress(psutil.Error):
                assert self.proc is not None
                if os.getpgid(p.pid) == self.proc.pid or self.temp in " ".join(
                    p.info.get("cmdline") or []
                ):
                    found.append(p)
        return found

    def stop(self) -> None:
        """Stop this node only (never `ray stop`: other Rays may run on the machine)."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(15)
        for p in self.processes():
            with contextlib.suppress(psutil.Error):
                p.kill()
        kill_tree(self.proc)
        shutil.rmtree(self.temp, ignore_errors=True)


def port_open(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:port."""
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def head(tmp_path: Path) -> Iterator[Head]:
    """A running head node, stopped at the end."""
    h = Head(tmp_path)
    try:
        h.up()
        yield h
    finally:
        h.stop()


def elsewhere(tmp_path: Path, head: Head) -> dict[str, str]:
    """A client's environment that has none of the node's files (HOME, TMPDIR, runtime dir)."""
    home = tmp_path / "elsewhere"
    (home / "tmp").mkdir(parents=True)
    env = engine_env(home, HOME=str(home), TMPDIR=str(home / "tmp"), RAY_ADDRESS=head.address)
    env.update(head.auth())
    env.pop("INTERACTIVE_EXT_SESSION", None)
    return env


def this_machine() -> set[str]:
    """This machine's addresses as Ray may name its node: loopback and the routed interface."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.254", 9))  # no packet is sent: the kernel only picks a route
        return {"127.0.0.1", probe.getsockname()[0]}


def listed(env: dict[str, str], address: str) -> list[dict[str, Any]]:
    """`list --ray ADDRESS --json`."""
    out = cli(env, "list", "--ray", address, "--json", timeout=TIMEOUT)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def test_a_session_in_a_ray_task_is_listed_and_resumed_from_elsewhere(
    tmp_path: Path, head: Head
) -> None:
    env = elsewhere(tmp_path, head)
    driver = Driver(
        tmp_path, script("ray_cluster_driver.py"), RAY_ADDRESS=head.address, **head.auth()
    )
    try:
        rows = wait_for(lambda: listed(env, head.address), TIMEOUT, "the session", interval=1)
        (row,) = rows
        assert row["task"] == "engine_tasks:scale" and row["state"] == "waiting"
        assert row["why"] == "paused before it runs" and row["port"] > 0
        assert row["node_ip"] in this_machine() and "token" not in json.dumps(row)
        assert 0 < row["seconds_remaining"] <= 120
        human = cli(env, "list", "--ray", head.address, timeout=TIMEOUT)
        assert row["id"] in human.stdout and "idle shutdown in" in human.stdout
        out = cli(
            env, "resume", "--ray", row["id"][:6], "--inputs", '{"factor": 10}', timeout=TIMEOUT
        )
        assert out.returncode == 0, out.stderr
        assert "resuming engine_tasks:scale" in out.stdout
        code, output = driver.finish()
        assert code == 0, output
        line = next(x for x in output.splitlines() if x.startswith("RESULT "))
        assert json.loads(line[len("RESULT ") :])["value"] == 30  # ray.get: the resumed result
        assert listed(env, head.address) == []  # its actor went with the session
        again = cli(env, "resume", "--ray", timeout=TIMEOUT)
        assert again.returncode == 2 and "no waiting session" in again.stderr, again.stderr
    finally:
        kill_tree(driver.proc)
