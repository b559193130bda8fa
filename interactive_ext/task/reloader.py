"""Re-loading the person's changed modules in place on resume, as IPython's autoreload does.

The task process notes at start the files of the person's modules (those outside the standard
library, site-packages and this package) with their mtime and size. On resume, every module
whose file changed is re-loaded, imported modules before their importers, and its old functions
and classes are updated in place by IPython's `superreload` (so a `from helpers import prep`
done elsewhere runs the new `prep`). A script (`__main__`, or `__mp_main__` in a spawn child) is
not re-executed: only its definitions run again (session/definitions.py), so its other
module-level code runs once.
"""

from __future__ import annotations

import ast
import graphlib
import os
import sys
import traceback
import types
from pathlib import Path

from ..errors import ReloadError
from ..session.definitions import definitions_only
from ..session.sources import Snapshot, _stat, _user_file, changed
from .direct import direct
from .scripts import SCRIPTS


def _imports(module: types.ModuleType, tree: ast.Module) -> set[str]:
    """The module names a source imports (relative ones resolved), with their parents."""
    package = getattr(module, "__package__", None) or ""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            names.add(base)
            names.update(f"{base}.{a.name}" for a in node.names)
    return names


def _order(modules: dict[str, types.ModuleType], trees: dict[str, ast.Module]) -> list[str]:
    """Module names with the imported before their importers (given order on a cycle)."""
    graph = {name: _imports(modules[name], trees[name]) & set(modules) for name in modules}
    try:
        return list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError:
        return list(modules)


def _where(error: BaseException, path: str) -> str:
    """ "file, line N" of the error in path (the deepest frame there)."""
    if isinstance(error, SyntaxError) and error.lineno:
        return f"{error.filename or path}, line {error.lineno}"
    line = None
    for frame in traceback.extract_tb(error.__traceback__):
        if os.path.realpath(frame.filename) == path:
            line = frame.lineno
    return f"{path}, line {line}" if line else path


def _reload_script(module: types.ModuleType, tree: ast.Module, path: str) -> None:
    """Run a script's definitions again in its namespace; update the old objects in place."""
    from IPython.extensions.autoreload import update_generic

    before = dict(module.__dict__)
    with direct():
        exec(compile(definitions_only(tree), path, "exec"), module.__dict__)
    for name, old in before.items():
        new = module.__dict__.get(name)
        if new is not old and getattr(old, "__module__", None) == module.__name__:
            update_generic(old, new)


def _reload_module(module: types.ModuleType, path: str) -> None:
    """superreload with the source read afresh (no stale bytecode) and run as the task."""
    from IPython.extensions.autoreload import superreload

    keep = {
        k: v
        for k, v in module.__dict__.items()
        if k in ("__file__", "__spec__", "__package__", "__path__", "__cached__", "__loader__")
    }

    def fresh(mod: types.ModuleType) -> types.ModuleType:
        mod.__dict__.update(keep)
        code = compile(Path(path).read_bytes(), path, "exec")
        with direct():
            exec(code, mod.__dict__)
        return mod

    superreload(module, reload=fresh)


def _modules_of(paths: list[str]) -> dict[str, types.ModuleType]:
    """The loaded modules whose file is one of paths, by name (sys.modules order)."""
    wanted = set(paths)
    return {
        name: m
        for name, m in list(sys.modules.items())
        if isinstance(m, types.ModuleType) and _user_file(m) in wanted
    }


def reload_changed(snap: Snapshot) -> list[str]:
    """Re-load every changed module in place (snap is updated); their names, in order."""
    paths = changed(snap)
    if not paths:
        return []
    modules = _modules_of(paths)
    trees: dict[str, ast.Module] = {}
    for name, module in modules.items():
        path = _user_file(module) or ""
        try:
            trees[name] = ast.parse(Path(path).read_bytes(), path)
        except SyntaxError as e:
            raise ReloadError(f"cannot re-load {name}: {_where(e, path)}: {e.msg}") from None
    order = _order(modules, trees)
    for name in order:
        module, path = modules[name], _user_file(modules[name]) or ""
        try:
            if name in SCRIPTS:
                _reload_script(module, trees[name], path)
            else:
                _reload_module(module, path)
        except Exception as e:
            raise ReloadError(
                f"cannot re-load {name}: {_where(e, path)}: {type(e).__name__}: {e}"
            ) from e
    for path in paths:
        snap[path] = _stat(path) or snap[path]
    return order
