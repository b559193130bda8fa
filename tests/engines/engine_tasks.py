"""Tasks the engine tests run on Ray, Dask and Flyte workers (imported there by name)."""

from __future__ import annotations

import os

from interactive_ext import interactive

NOTEBOOKS = os.environ.get("ENGINE_TEST_NOTEBOOKS") or None


@interactive(port=0, max_idle_seconds=120, notebook_dir=NOTEBOOKS)
def scale(x: int, factor: int = 2) -> dict:
    """The task a person resumes: x times factor."""
    return {"value": x * factor, "pid": os.getpid()}


@interactive(port=0, max_idle_seconds=2, notebook_dir=NOTEBOOKS)
def idles(x: int) -> int:
    """A task nobody resumes: it stops on the idle timeout."""
    return x


class Trainer:
    """An actor's class (the driver wraps it with ray.remote)."""

    def __init__(self, base: int) -> None:
        """Keep base."""
        self.base = base

    @interactive(port=0, max_idle_seconds=120, notebook_dir=NOTEBOOKS)
    def fit(self, x: int, factor: int = 2) -> dict:
        """An interactive actor method."""
        return {"value": self.base + x * factor, "pid": os.getpid()}
