"""The one registry of figures, in the order a run measures them. Each figure module has its
TITLE (the section of docs/benchmarks.md, numbered), measure(settings) and rows(data)."""

from __future__ import annotations

from types import ModuleType

from . import (
    capture,
    changes,
    containment,
    idle,
    idle_cost,
    inputs,
    lab_idle,
    lab_load,
    memory,
    overhead,
    park,
    resume,
    startup,
    zero_copy,
)

FIGURES: dict[str, ModuleType] = {
    module.__name__.rsplit(".", 1)[-1]: module
    for module in (
        overhead,
        startup,
        resume,
        idle,
        idle_cost,
        inputs,
        memory,
        lab_idle,
        lab_load,
        zero_copy,
        containment,
        capture,
        changes,
        park,
    )
}


def number(name: str) -> int:
    """The figure's number in docs/benchmarks.md (its TITLE starts with it)."""
    return int(FIGURES[name].TITLE.split(".", 1)[0])
