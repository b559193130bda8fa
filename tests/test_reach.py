"""On a cluster's node the URL line says how to reach it: kubectl port-forward, ssh -L."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness import wait_for, write
from interactive_ext.session.reaching import first_node

TASK = """
import json, os
from interactive_ext import interactive

@interactive(port=0, ready_file=os.environ["READY_FILE"], max_idle_seconds=120)
def train(epochs: int = 2):
    return {"epochs": epochs}

print(json.dumps(train()))
"""


@pytest.mark.parametrize(
    ("nodelist", "first"),
    [("gpu[03-05,7],cpu1", "gpu03"), ("node7", "node7"), ("a1,b2", "a1"), ("n[9]", "n9")],
)
def test_first_node_of_a_slurm_nodelist(nodelist: str, first: str) -> None:
    assert first_node(nodelist) == first


def test_the_url_line_in_a_pod_of_a_slurm_job_carries_both_commands(
    tmp_path: Any, script: Any
) -> None:
    sa = tmp_path / "serviceaccount"
    sa.mkdir()
    (sa / "namespace").write_text("team-ml\n")
    (sa / "token").write_text("not-a-real-token")
    env = {
        "INTERACTIVE_EXT_K8S_SA_DIR": str(sa),
        "HOSTNAME": "train-job-x7k2p",
        "SLURM_JOB_NODELIST": "gpu[03-05]",
    }
    write(tmp_path, "task.py", TASK)
    s = script("task.py", env=env)
    info = s.ready()
    server_log = Path(info["session_dir"]) / "server.log"
    # no kubernetes client here: one line says the pod is not annotated, the session goes on
    line = "pod team-ml/train-job-x7k2p is not annotated: the kubernetes client is missing"
    wait_for(lambda: line in server_log.read_text(errors="replace"), 30, "the pod's line")
    assert s.resume(info).status == 202
    code, out, err = s.finish()
    assert (code, out) == (0, {"epochs": 2}), err
    port = info["port"]
    assert f"kubectl port-forward -n team-ml pod/train-job-x7k2p {port}:{port}" in err
    assert f"ssh -N -L {port}:127.0.0.1:{port} gpu03" in err


def test_no_cluster_no_command(tmp_path: Any, script: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("INTERACTIVE_EXT_K8S_SA_DIR", str(tmp_path / "none"))
    for name in ("SLURMD_NODENAME", "SLURM_JOB_NODELIST", "SLURM_NODELIST"):
        monkeypatch.delenv(name, raising=False)
    from interactive_ext.session.reaching import reach_commands

    assert reach_commands(8888) == []


def test_a_pod_that_cannot_be_annotated_says_so_once(
    tmp_path: Any, monkeypatch: Any, caplog: Any
) -> None:
    import logging

    from interactive_ext.records import Reason
    from interactive_ext.server import pod
    from interactive_ext.server.lifecycle import Transition
    from interactive_ext.server.states import State

    sa = tmp_path / "serviceaccount"
    sa.mkdir()
    (sa / "namespace").write_text("team-ml\n")
    monkeypatch.setenv("INTERACTIVE_EXT_K8S_SA_DIR", str(sa))
    monkeypatch.setenv("HOSTNAME", "train-job-x7k2p")
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setattr(pod, "_told", [])
    logger = logging.getLogger("interactive_ext.test_pod")
    with caplog.at_level(logging.INFO, logger.name):
        waiting = Transition(State.WAITING, State.WAITING, port=8888)
        resumed = Transition(State.WAITING, State.STOPPING, Reason.RESUMED, port=8888)
        for change in (waiting, resumed):  # the start and the stop of one session
            thread = pod.annotate(change, logger)
            assert thread is not None
            thread.join(10)
    said = [r for r in caplog.records if "is not annotated" in r.getMessage()]
    assert [r.levelno for r in said].count(logging.INFO) == 1, caplog.text
