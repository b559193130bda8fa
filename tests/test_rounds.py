"""The debug loop's rounds: one URL for a person behind a port-forward, whatever the rounds."""

from __future__ import annotations

import json
import re
from typing import Any

from harness import Script, wait_for, write

TASK = """
import json, os, socket
from interactive_ext import interactive


@interactive(port=0, ready_file=os.environ["READY_FILE"], run_task_first=True,
             max_idle_seconds=120)
def train(hold: int = 0):
    if hold:  # take the port the last round served on: the next round cannot have it
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", hold))
        s.listen()
        s.detach()  # the port stays taken until the process ends
    if os.path.exists("fixed"):
        return {"done": True}
    raise ZeroDivisionError("not fixed yet")


if __name__ == "__main__":
    print(json.dumps(train()))
"""


def next_round(s: Script, last: dict[str, Any]) -> dict[str, Any]:
    """The ready info of the round after last (a new server)."""

    def ready() -> dict[str, Any] | None:
        if s.proc.poll() is not None:
            raise AssertionError(f"task exited with {s.proc.returncode}: {s.proc.stderr.read()}")  # type: ignore[union-attr]
        try:
            info: dict[str, Any] = json.loads(s.ready_file.read_text())
        except (OSError, ValueError):
            return None
        return info if info["pid"] != last["pid"] else None

    return wait_for(ready, 60, "the next round's server")  # type: ignore[no-any-return]


def test_the_debug_loop_keeps_one_token_and_one_port(tmp_path, script):
    """Round 2 serves at round 1's URL; a taken port moves round 3, with the same token, and its
    URL line says why the port changed."""
    write(tmp_path, "task.py", TASK)
    s = script("task.py")
    first = s.ready()
    assert s.resume(first).status == 202  # not fixed: it fails again, a new round
    second = next_round(s, first)
    assert (second["token"], second["port"], second["url"]) == (
        first["token"],
        first["port"],
        first["url"],
    )

    assert s.resume(second, {"hold": second["port"]}).status == 202  # the task takes the port
    third = next_round(s, second)
    assert third["token"] == first["token"]
    assert third["port"] != first["port"]

    (tmp_path / "fixed").touch()
    assert s.resume(third, {"hold": 0}).status == 202  # the inputs stay: hold was kept
    code, out, err = s.finish()
    assert code == 0, err
    assert out == {"done": True}
    lines = re.findall(r"Jupyter for task train: (\S+)(.*)", err)
    assert [url for url, _ in lines] == [first["url"], first["url"], third["url"]], err
    assert "port" not in lines[1][1]
    assert f"port {first['port']} of the last round is taken" in lines[2][1], lines[2]


def test_a_port_taken_between_its_pick_and_the_bind_gets_another(tmp_path) -> None:
    """port=0: another process takes the picked port before the child binds it; the child
    that failed is replaced once, on a new free port, and the session answers there."""
    import socket

    from harness import http
    from interactive_ext.child.launcher import ServerProcess, ServerSpec
    from interactive_ext.options import Options
    from interactive_ext.session.directory import Session

    session = Session.create(tmp_path)
    (session.path / "context.json").write_text(json.dumps({"module": "m", "qualname": "t"}))
    server = ServerProcess(ServerSpec(session, str(tmp_path), Options(port=0)))
    squatter = socket.socket()
    try:
        server.spawn()
        picked = server.port
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", picked))  # before the child, which imports for a second
        squatter.listen()
        info = server.wait_ready(60)
        assert info is not None and info.port != picked and server.raced
        assert http("GET", info.server_url + "interactive/status", info.token).status == 200
    finally:
        server.stop()
        squatter.close()
