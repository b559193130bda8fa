"""Small tasks the benchmarks run through `jupyter interactive-task run` and @interactive."""

from __future__ import annotations

import sys
import time
from pathlib import Path


def trivial() -> int:
    """Do nothing (the startup benchmark)."""
    return 0


def train(epochs: int = 3, lr: float = 0.1) -> dict[str, float]:
    """A task with inputs, as a person sees one in JupyterLab (the load benchmark)."""
    return {"epochs": epochs, "lr": lr, "loss": 1.0 / (1 + epochs * lr)}


def first_line(path: str) -> int:
    """Write the time the task's first line runs (the resume benchmark)."""
    Path(path).write_text(repr(time.time()))
    return 0


def peak_rss_kib() -> int:
    """This process's peak resident set (VmHWM), in KiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def holds_data(data: object, out: str) -> int:
    """Record the process's peak RSS once the task runs with its data (the memory benchmark)."""
    Path(out).write_text(str(peak_rss_kib()))
    return 0


def main() -> None:
    """python tasks.py MB OUT PORT TOKEN interactive|plain: call holds_data on an MB array."""
    import numpy as np

    mb, out, port, token, mode = sys.argv[1:6]
    data = np.ones(int(mb) * 2**20 // 8, dtype=np.float64)
    if mode == "plain":
        holds_data(data, out)
        return
    from interactive_ext import interactive

    task = interactive(
        port=int(port), token=token, max_idle_seconds=600, notebook_dir=str(Path(out).parent)
    )(holds_data)
    task(data, out)


if __name__ == "__main__":
    main()
