"""Scripts are first-class: a task defined in a script is loaded and re-loaded by its definitions.

One piece of code serves the worker's resume and the kernel's view of the task: the source's
definitions (session/definitions.py) are executed into a namespace (the function's own globals
in the worker, a fresh module in a kernel) and the task is found there by its qualname, seen
through `@interactive` and Ray's `@ray.remote` wrappers.
"""

from __future__ import annotations

import ast
import copy
import linecache
import logging
import os
import sys
import traceback
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import ReloadError
from ..records import Redefine, TaskContext
from ..session.definitions import is_definition, parse, source_of
from .direct import direct, unwrap

log = logging.getLogger("interactive_ext")

SCRIPTS = ("__main__", "__mp_main__")
"""Module names of a script (run as a program, or re-imported by a spawn child)."""

CARRIED = "__interactive_source__"
"""The attribute of a script's task that carries its script's definitions (shipped with it)."""

KERNEL_MODULE = "__interactive_main__"
"""The module a kernel loads a script's definitions into (the script's statements never run)."""

_carried: dict[tuple[str, int], str] = {}


def source_file(func: Any) -> str | None:
    """The file func was defined in, even when shipped by value.

    Its code object names it (cloudpickle 3.1 and later replace that name by
    "<dynamic-code>"); the `__file__` of its globals, which cloudpickle ships, names it too.
    """
    target = unwrap(func)
    name = getattr(getattr(target, "__code__", None), "co_filename", None)
    if not isinstance(name, str) or not name or name.startswith("<"):
        name = (getattr(target, "__globals__", None) or {}).get("__file__")
    if not isinstance(name, str) or not name or name.startswith("<"):
        return None
    return os.path.abspath(name)


def _definitions_text(path: str) -> str | None:
    """The text of a script's definitions, each statement with its decorators (None: unreadable)."""
    lines = linecache.getlines(path)
    if not lines:
        return None
    try:
        tree = ast.parse("".join(lines), path)
    except (SyntaxError, ValueError):
        return None
    parts = []
    for node in tree.body:
        if is_definition(node):
            decorators = getattr(node, "decorator_list", [])
            start = min([node.lineno, *(d.lineno for d in decorators)])
            parts.append("".join(lines[start - 1 : node.end_lineno]).rstrip())
    return "\n\n\n".join(parts) + "\n"


def carry(func: Callable[..., Any]) -> None:
    """At decoration in a script: keep its definitions on func, shipped by value along with it."""
    if getattr(func, "__module__", None) not in SCRIPTS:
        return
    path = source_file(func)
    if path is None:
        return
    key = (path, len(linecache.getlines(path)))
    if key not in _carried:
        _carried[key] = _definitions_text(path) or ""
    if _carried[key]:
        setattr(func, CARRIED, _carried[key])


def redefine_mode(func: Callable[..., Any]) -> Redefine:
    """How a resume re-defines func: its module, its file's definitions, the notebook's cell."""
    target = unwrap(func)
    if "<locals>" in getattr(target, "__qualname__", ""):
        return Redefine.AS_IS
    name = getattr(target, "__module__", None) or "__main__"
    module = sys.modules.get(name)
    path = source_file(target)
    loaded = getattr(module, "__file__", None)
    importable = name not in SCRIPTS and module is not None
    if importable and (path is None or not isinstance(loaded, str) or _same(loaded, path)):
        return Redefine.MODULE
    if path is not None and os.path.isfile(path):
        return Redefine.FILE
    if getattr(target, CARRIED, None):
        return Redefine.NOTEBOOK
    return Redefine.MODULE if importable else Redefine.AS_IS


def _same(a: str, b: str) -> bool:
    """Whether two paths name the same file."""
    return os.path.realpath(a) == os.path.realpath(b)


def plain(obj: Any) -> Any:
    """The person's function or class under @interactive and Ray's remote wrappers."""
    for _ in range(16):
        inner = unwrap(obj)
        meta = getattr(inner, "__ray_metadata__", None)  # @ray.remote on a class: ActorClass
        if meta is not None and hasattr(meta, "modified_class"):
            inner = getattr(meta.modified_class, "__ray_actor_class__", meta.modified_class)
        elif type(inner).__module__.startswith("ray.") and callable(
            getattr(inner, "_function", None)
        ):
            inner = inner._function  # @ray.remote on a function: RemoteFunction
        if inner is obj:
            return obj
        obj = inner
    return obj


def resolve(namespace: dict[str, Any], qualname: str, where: str) -> Callable[..., Any]:
    """The function qualname of namespace (seen through wrappers); ReloadError if missing."""
    obj: Any = namespace
    for i, part in enumerate(qualname.split(".")):
        obj = namespace.get(part) if i == 0 else getattr(plain(obj), part, None)
        if obj is None:
            raise ReloadError(f"{where} does not define {qualname!r}")
    obj = plain(obj)
    if not callable(obj):
        raise ReloadError(f"{where}: {qualname} is not a function (it is {type(obj).__name__})")
    return obj  # type: ignore[no-any-return]


def _register(context: TaskContext, source: str | bytes, where: str) -> str:
    """The file name the definitions are compiled under (a notebook cell goes into linecache)."""
    if context.redefine is not Redefine.NOTEBOOK:
        linecache.checkcache(where)
        return where
    filename = f"<interactive definitions cell of {context.notebook}>"
    text = source if isinstance(source, str) else source.decode()
    linecache.cache[filename] = (len(text), None, text.splitlines(keepends=True), filename)
    return filename


def _exec(node: ast.stmt, filename: str, namespace: dict[str, Any]) -> None:
    """Execute one module-level statement into namespace, as the task itself."""
    code = compile(ast.Module(body=[node], type_ignores=[]), filename, "exec")
    with direct():
        exec(code, namespace)


def _undecorated(node: ast.stmt, qualname: str) -> ast.stmt:
    """node with the decorators on qualname's path removed (staticmethod, classmethod kept)."""
    node = copy.deepcopy(node)
    level: list[ast.stmt] = [node]
    for part in qualname.split("."):
        found = [n for n in level if getattr(n, "name", None) == part]
        for n in found:
            n.decorator_list = [  # type: ignore[attr-defined]
                d
                for d in n.decorator_list  # type: ignore[attr-defined]
                if isinstance(d, ast.Name) and d.id in ("staticmethod", "classmethod")
            ]
        level = [c for n in found if isinstance(n, ast.ClassDef) for c in n.body]
    return node


def _failed(e: BaseException, filename: str) -> str:
    """ "line N: Type: message" of an exception raised by code of filename."""
    numbers = [f.lineno for f in traceback.extract_tb(e.__traceback__) if f.filename == filename]
    at = f"line {numbers[-1]}: " if numbers else ""
    return f"{at}{type(e).__name__}: {e}"


def run_definitions(context: TaskContext, namespace: dict[str, Any]) -> Callable[..., Any]:
    """Execute the task's current definitions into namespace; the task, without @interactive.

    Each statement runs on its own: one that raises (an import missing here, a decorator whose
    argument was computed by the script's other code) is skipped with a warning, so the value
    shipped with the task stays; the task's own statement is then run without its decorators.
    """
    source, where = source_of(context)
    tree = parse(source, where, context.qualname)
    filename = _register(context, source, where)
    top = context.qualname.split(".")[0]
    for node in tree.body:
        try:
            _exec(node, filename, namespace)
            continue
        except Exception as e:
            if getattr(node, "name", None) != top:
                log.warning("re-loading %s: skipped a definition (%s)", where, _failed(e, filename))
                continue
            why = _failed(e, filename)
        try:
            _exec(_undecorated(node, context.qualname), filename, namespace)
        except Exception as e:
            raise ReloadError(f"cannot re-load {where}: {_failed(e, filename)}") from e
        log.warning("re-defined %s without its decorators: they raised (%s)", top, why)
    return resolve(namespace, context.qualname, where)


def redefine(context: TaskContext, func: Callable[..., Any] | None) -> Callable[..., Any]:
    """The task re-defined from its definitions, in the function's own globals (the worker)."""
    namespace = getattr(unwrap(func), "__globals__", None) if func is not None else None
    if namespace is None:
        namespace = _fresh_module().__dict__
    task = run_definitions(context, namespace)
    log.info(
        "re-defined %s from %s (definitions only: the script's other statements do not run)",
        context.qualname,
        context.source_file if context.redefine is Redefine.FILE else "the notebook's cell",
    )
    return task


def _fresh_module() -> types.ModuleType:
    """The module a script's definitions go into outside the script (registered, so it pickles).

    It has no `__file__`, so `%autoreload` never re-imports it (that would run the whole script).
    """
    module = types.ModuleType(KERNEL_MODULE)
    sys.modules[KERNEL_MODULE] = module
    return module


def load_definitions(path: str, qualname: str) -> Callable[..., Any]:
    """A script's task by its definitions alone (a kernel's view): nothing else in it runs."""
    file = Path(path)
    if not file.is_file():
        raise ValueError(f"no such file {path!r}: the task's script is not on this machine")
    folder = str(file.resolve().parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    context = TaskContext(
        module="__main__", qualname=qualname, source_file=str(file), redefine=Redefine.FILE
    )
    return run_definitions(context, _fresh_module().__dict__)


def load_carried(namespace: dict[str, Any], qualname: str) -> Callable[..., Any]:
    """The task after the notebook's definitions cell ran in namespace (a kernel's view)."""
    return resolve(namespace, qualname, "the notebook's definitions cell")
