"""Make any batch task interactive: Jupyter with the task's inputs, resume, idle shutdown."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    """The server extension: InteractiveApp (imported only when the server loads it)."""
    from .app import InteractiveApp

    return [{"module": "interactive_ext.app", "app": InteractiveApp}]
