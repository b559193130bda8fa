"""A task run by several processes with torchrun-style variables (tests/engines/test_ranks.py)."""

from __future__ import annotations

import json
import os
import sys

from interactive_ext import IdleTimeout, interactive


@interactive(
    port=0,
    max_idle_seconds=float(os.environ.get("RANK_TEST_IDLE", "120")),
    notebook_dir=os.environ.get("ENGINE_TEST_NOTEBOOKS") or None,
)
def step(x: int, factor: int = 2) -> dict:
    """Every rank returns the same value for the same effective inputs."""
    return {"value": x * factor}


if __name__ == "__main__":
    try:
        result = step(int(sys.argv[1]))
    except IdleTimeout as e:
        print(json.dumps({"idle": str(e)}), flush=True)
        raise SystemExit(3) from None
    print(json.dumps({"result": result, "rank": os.environ.get("RANK")}), flush=True)
