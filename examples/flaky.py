"""An example task that fails on bad input: run it with run_task_first to debug the failure."""

from __future__ import annotations

from interactive_ext import interactive


@interactive(run_task_first=True, max_idle_seconds=600)
def normalize(values: list[float]) -> list[float]:
    """Scale values so they sum to 1 (fails with ZeroDivisionError when they sum to 0)."""
    total = sum(values)
    return [v / total for v in values]
