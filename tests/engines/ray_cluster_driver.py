"""A driver of an existing Ray cluster (RAY_ADDRESS): one interactive task, ray.get its result."""

from __future__ import annotations

import json
import os
import sys

import engine_tasks
import ray


def main() -> int:
    """Submit scale(3) and print RESULT with what ray.get returns."""
    ray.init(address=os.environ["RAY_ADDRESS"], log_to_driver=True)
    try:
        ref = ray.remote(engine_tasks.scale).remote(3)
        print("RESULT " + json.dumps(ray.get(ref)), flush=True)
        return 0
    finally:
        ray.shutdown()


if __name__ == "__main__":
    sys.exit(main())
