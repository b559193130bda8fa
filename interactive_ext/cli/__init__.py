"""`jupyter interactive-task`: the command line (main.py)."""

from __future__ import annotations

from typing import Any


def main(argv: Any = None) -> int:
    """The console script: `jupyter interactive-task ...`."""
    from .main import main as run

    return run(argv)
