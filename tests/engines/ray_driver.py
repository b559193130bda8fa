"""A Ray driver as a user writes it: a local cluster, an interactive task, ray.get (test_ray.py)."""

from __future__ import annotations

import json
import sys

import engine_tasks
import ray

from interactive_ext import IdleTimeout


def main(mode: str) -> int:
    """Run one scenario; print RESULT/IDLE/CANCELLED lines for the test."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=True)
    try:
        if mode == "actor":
            trainer = ray.remote(engine_tasks.Trainer).remote(100)
            ref = trainer.fit.remote(3)
        elif mode == "idle":
            ref = ray.remote(engine_tasks.idles).remote(3)
        else:
            ref = ray.remote(engine_tasks.scale).remote(3)
        if mode.startswith("cancel"):
            sys.stdin.readline()  # the test says when the server is up
            ray.cancel(ref, force=mode == "cancel-force")
        try:
            print("RESULT " + json.dumps(ray.get(ref)), flush=True)
        except IdleTimeout as e:  # RayTaskError subclasses the task's exception type
            print("IDLE " + json.dumps({"message": str(e), "type": type(e).__name__}), flush=True)
            return 3
        except (ray.exceptions.TaskCancelledError, ray.exceptions.WorkerCrashedError) as e:
            print("CANCELLED " + type(e).__name__, flush=True)
            return 4
        return 0
    finally:
        ray.shutdown()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
