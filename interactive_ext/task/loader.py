"""Finding, loading and re-loading task functions; running them directly."""

from __future__ import annotations

import importlib
import importlib.util
import linecache
import logging
import os
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..records import Redefine, TaskContext
from .direct import direct, unwrap
from .scripts import plain, redefine

log = logging.getLogger("interactive_ext")

MAIN_ALIAS = "__interactive_main__"
"""The module name a script's code (`__main__`) is re-loaded under."""


def _resolve(module: types.ModuleType, qualname: str, where: str) -> Callable[..., Any]:
    """The attribute qualname of module; ValueError listing what it has."""
    obj: Any = module
    for part in qualname.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            public = sorted(
                n for n, v in vars(module).items() if callable(v) and not n.startswith("_")
            )
            raise ValueError(
                f"{where} has no function {qualname!r}; it has: {', '.join(public) or 'none'}"
            ) from None
    if not callable(obj):
        raise ValueError(f"{where}:{qualname} is not a function (it is {type(obj).__name__})")
    return obj  # type: ignore[no-any-return]


def _exec_source(module: types.ModuleType, source_file: str) -> None:
    """Run a module's source file in its namespace, read afresh (no stale bytecode)."""
    code = compile(Path(source_file).read_bytes(), source_file, "exec")
    linecache.checkcache(source_file)
    with direct():
        exec(code, module.__dict__)


def _load_file(path: Path) -> types.ModuleType:
    """Import a .py file as a module named after it, its folder first on sys.path."""
    folder = str(path.parent.resolve())
    if folder not in sys.path:
        sys.path.insert(0, folder)
    name = path.stem
    existing = sys.modules.get(name)
    if existing is not None and os.path.realpath(getattr(existing, "__file__", "") or "") == str(
        path.resolve()
    ):
        return existing
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ValueError(f"cannot import {path}: not a Python source file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def _import(module_part: str, ref: str) -> types.ModuleType:
    """Import a module by name; ValueError when it does not exist."""
    try:
        return importlib.import_module(module_part)
    except ModuleNotFoundError as e:
        if e.name and module_part.startswith(e.name):
            raise ValueError(
                f"no module named {module_part!r} (from {ref!r}); is it installed, "
                "or is its folder on PYTHONPATH?"
            ) from None
        raise


def load_function(ref: str) -> Callable[..., Any]:
    """The function named by "pkg.module:func" or "path/to/file.py:func"; ValueError if unknown."""
    module_part, sep, qualname = ref.rpartition(":")
    if not sep or not module_part or not qualname:
        raise ValueError(
            f"{ref!r} does not name a function: use MODULE:FUNCTION (pkg.module:train) "
            "or path/to/file.py:FUNCTION"
        )
    if module_part.endswith(".py") or os.sep in module_part or "/" in module_part:
        path = Path(module_part)
        if not path.is_file():
            raise ValueError(f"no such file {module_part!r} (from {ref!r})")
        return _resolve(_load_file(path), qualname, str(path))
    return _resolve(_import(module_part, ref), qualname, module_part)


def _reexec(name: str, source: str | None) -> types.ModuleType:
    """A module not imported here (or a script): executed afresh from its source file."""
    if not source or not os.path.isfile(source):
        if name == "__main__":
            raise ValueError(f"cannot re-load the script's code: its source file {source} is gone")
        return importlib.import_module(name)
    alias = MAIN_ALIAS if name == "__main__" else name
    module = sys.modules.get(alias) or types.ModuleType(alias)
    module.__file__ = source
    sys.modules[alias] = module
    _exec_source(module, source)
    return module


def reload_function(
    context: TaskContext,
    modules: dict[str, list[int]] | None = None,
    func: Callable[..., Any] | None = None,
) -> Callable[..., Any]:
    """The task's function after re-loading every changed module of modules (a snapshot).

    A script's task, or one shipped by value (context.redefine FILE or NOTEBOOK), is re-defined
    by its definitions alone into func's globals; a module's is re-loaded in place (without a
    snapshot, its module is executed again from its source file). Returned without @interactive.
    """
    name = context.module
    if modules is not None:
        from .reloader import reload_changed

        reloaded = reload_changed(modules)
        if reloaded:
            log.info("re-loaded changed modules: %s", ", ".join(reloaded))
    if context.redefine is Redefine.AS_IS:
        log.info("%s has no source to re-load: running it as it was", context.qualname)
        return unwrap(func)  # type: ignore[no-any-return]
    if context.redefine is not Redefine.MODULE:
        module = sys.modules.get(name)
        in_place = context.redefine is Redefine.FILE and modules is not None
        if in_place and module is not None and _same_file(module, context):
            return plain(_resolve(module, context.qualname, name))  # re-defined in place above
        return redefine(context, func)
    if modules is not None:
        module = sys.modules.get(name)
        if module is None or (name == "__main__" and not _same_file(module, context)):
            module = _reexec(name, context.source_file)
    elif name == "__main__" or name not in sys.modules:
        module = _reexec(name, context.source_file)
    else:
        module = sys.modules[name]
        file = getattr(module, "__file__", None) or context.source_file
        if file and os.path.isfile(file) and file.endswith(".py"):
            importlib.invalidate_caches()
            _exec_source(module, file)
        else:
            module = importlib.reload(module)
    return unwrap(_resolve(module, context.qualname, name))  # type: ignore[no-any-return]


def _same_file(module: types.ModuleType, context: TaskContext) -> bool:
    """Whether module was loaded from the task's source file."""
    file = getattr(module, "__file__", None)
    if not isinstance(file, str) or not context.source_file:
        return False
    return os.path.realpath(file) == os.path.realpath(context.source_file)


def source_root(module_name: str, source_file: str | None) -> str | None:
    """The folder to put on sys.path so that module_name imports from source_file."""
    if not source_file:
        return None
    path = Path(source_file).resolve()
    folder = path.parent
    if module_name not in ("__main__", MAIN_ALIAS):
        depth = module_name.count(".") + (1 if path.stem == "__init__" else 0)
        for _ in range(depth):
            folder = folder.parent
    return str(folder)
