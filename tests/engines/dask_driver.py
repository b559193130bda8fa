"""A Dask driver as a user writes it: LocalCluster, client.submit, future.result."""

from __future__ import annotations

import json
import sys

import engine_tasks
from distributed import Client, LocalCluster

from interactive_ext import IdleTimeout


def main(mode: str) -> int:
    """Run one scenario; print RESULT/IDLE lines for the test."""
    with (
        LocalCluster(n_workers=1, threads_per_worker=2, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        task = engine_tasks.idles if mode == "idle" else engine_tasks.scale
        future = client.submit(task, 3, pure=False)
        try:
            print("RESULT " + json.dumps(future.result()), flush=True)
        except IdleTimeout as e:  # Dask re-raises the task's own exception
            print("IDLE " + json.dumps({"message": str(e), "type": type(e).__name__}), flush=True)
            return 3
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
