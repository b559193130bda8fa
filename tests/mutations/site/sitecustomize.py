"""Product-level faults for tests/mutations/run.py, injected at import time: no code is edited.

Python imports `sitecustomize` at every start, from PYTHONPATH too: run.py puts this folder
there for pytest and every process it spawns (servers, task wrappers, kernels), and names the
fault in INTERACTIVE_EXT_MUTATION. Without that variable this file does nothing.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

MUTATION = os.environ.get("INTERACTIVE_EXT_MUTATION", "")
LATE = 2.5  # s: how late a delayed step comes
EARLY = 0.3  # s: how early the early decision comes


def late_stop(module: ModuleType) -> None:
    """Every jupyter_server stop comes 2.5 s late (the stop itself is not changed)."""
    stop = module.ServerApp.stop

    def late(self: Any, from_signal: bool = False) -> None:
        self.io_loop.call_later(LATE, stop, self, from_signal)

    module.ServerApp.stop = late


def late_decision(module: ModuleType) -> None:
    """The idle watcher acts 2.5 s after it decided (a sleep before the idle stop)."""
    init = module.IdleWatcher.__init__

    def patched(self: Any, *args: Any, **kw: Any) -> None:
        init(self, *args, **kw)
        on_idle = self.on_idle

        def later() -> None:
            import asyncio

            asyncio.get_running_loop().call_later(LATE, on_idle)

        self.on_idle = later

    module.IdleWatcher.__init__ = patched


def early_decision(module: ModuleType) -> None:
    """The deadline is 0.3 s earlier than the rule says (a stop before the deadline)."""
    deadline = module.IdleWatcher.deadline

    def early(self: Any) -> float | None:
        due = deadline.fget(self)
        return None if due is None else due - EARLY

    module.IdleWatcher.deadline = property(early)


def heartbeat_ignored(module: ModuleType) -> None:
    """A heartbeat POST does not count as activity (neither the handler's nor the request's)."""
    touch = module.IdleWatcher.touch

    def patched(self: Any, source: str) -> None:
        if "heartbeat" not in source:
            touch(self, source)

    module.IdleWatcher.touch = patched


def _field_500(module: ModuleType, name: str, fields: tuple[str, ...]) -> None:
    """module.name answers 500 (an unexpected exception) where it names one of fields."""
    parse = getattr(module, name)
    inputs_error = module.InputsError

    def patched(*args: Any) -> Any:
        try:
            return parse(*args)
        except inputs_error as e:
            if str(e).startswith(fields):
                raise RuntimeError(f"mutation: {e}") from e
            raise

    setattr(module, name, patched)


def saved_field_500(module: ModuleType) -> None:
    """POST /interactive/saved answers 500 on a bad "saved" or "failed" field."""
    _field_500(module, "parse_saved_body", ('"saved"', '"failed"'))


def resume_field_500(module: ModuleType) -> None:
    """POST /interactive/resume answers 500 on a bad input value or name."""
    _field_500(module, "parse_resume_body", ("input ", "unknown input", '"inputs"'))


SERVER = "jupyter_server.serverapp"
IDLE = "interactive_ext.server.idle"
HANDLERS = "interactive_ext.server.handlers"
MUTATIONS: dict[str, tuple[str, Callable[[ModuleType], None]]] = {
    "late_stop": (SERVER, late_stop),
    "late_decision": (IDLE, late_decision),
    "early_decision": (IDLE, early_decision),
    "heartbeat_ignored": (IDLE, heartbeat_ignored),
    "saved_field_500": (HANDLERS, saved_field_500),
    "resume_field_500": (HANDLERS, resume_field_500),
}


class _PatchOnImport(importlib.abc.MetaPathFinder):
    """Runs patch on module name right after the module is executed, wherever it is imported."""

    def __init__(self, name: str, patch: Callable[[ModuleType], None]) -> None:
        self.name, self.patch = name, patch

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != self.name:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return None
        loader: Any = spec.loader
        exec_module = loader.exec_module

        def exec_and_patch(module: ModuleType) -> None:
            exec_module(module)
            self.patch(module)
            print(f"mutation {MUTATION} in {fullname} (pid {os.getpid()})", file=sys.stderr)

        loader.exec_module = exec_and_patch
        return spec


if MUTATION:
    if MUTATION not in MUTATIONS:
        raise SystemExit(f"unknown INTERACTIVE_EXT_MUTATION {MUTATION!r}: one of {list(MUTATIONS)}")
    sys.meta_path.insert(0, _PatchOnImport(*MUTATIONS[MUTATION]))
