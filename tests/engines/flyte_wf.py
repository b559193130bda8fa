"""A Flyte workflow with an interactive task, run locally by `pyflyte run` (test_flyte.py)."""

from __future__ import annotations

import os

from flytekit import task, workflow

from interactive_ext import interactive

NOTEBOOKS = os.environ.get("ENGINE_TEST_NOTEBOOKS") or None
IDLE = float(os.environ.get("FLYTE_TEST_IDLE", "120"))


@task
@interactive(port=0, max_idle_seconds=IDLE, notebook_dir=NOTEBOOKS)
def scale(x: int, factor: int = 2) -> int:
    """The interactive task: @task over @interactive, as flytekit's own @jupyter."""
    return x * factor


@task
def plus_one(y: int) -> int:
    """The next task of the workflow: it runs with the resumed task's result."""
    return y + 1


@workflow
def wf(x: int = 1) -> int:
    """scale, then plus_one."""
    return plus_one(y=scale(x=x))
