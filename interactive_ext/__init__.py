"""Make any batch task interactive: Jupyter with the task's inputs, resume, idle shutdown."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .protocol import __version__

# Public names, imported on first use so that `import interactive_ext` stays light.
_LAZY = {
    "interactive": "task.decorator",
    "IdleTimeout": "errors",
    "ServerError": "errors",
    "EnvironmentFailure": "errors",
    "SessionError": "errors",
    "load_inputs": "kernel",
    "load_error": "kernel",
    "load_frames": "kernel",
    "load_result": "kernel",
    "save_inputs": "kernel",
    "resume": "kernel",
    "changes": "kernel",
}

__all__ = ["__version__", *_LAZY]

if TYPE_CHECKING:
    from .errors import EnvironmentFailure as EnvironmentFailure
    from .errors import IdleTimeout as IdleTimeout
    from .errors import ServerError as ServerError
    from .errors import SessionError as SessionError
    from .kernel import changes as changes
    from .kernel import load_error as load_error
    from .kernel import load_frames as load_frames
    from .kernel import load_inputs as load_inputs
    from .kernel import load_result as load_result
    from .kernel import resume as resume
    from .kernel import save_inputs as save_inputs
    from .task.decorator import interactive as interactive


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first use."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'interactive_ext' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The public names (for completion)."""
    return sorted(set(globals()) | set(_LAZY))


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    """The server extension: InteractiveApp (imported only when the server loads it)."""
    from .server.app import InteractiveApp

    return [{"module": "interactive_ext.server.app", "app": InteractiveApp}]
