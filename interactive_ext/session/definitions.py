"""Definitions only: a script's `def`/`class` statements, imports and simple constants.

A task that cannot be re-imported safely (a script, `__main__`, a function shipped by value by
Ray, Dask or a spawn pool) is re-defined from its edited source by these statements alone; the
script's other statements (`ray.init()`, `Client(...)`, `print`, a training loop, the
`if __name__ == "__main__":` block) never run again, in the worker or in a kernel. Read by the
server (the check before a resume), the task process (resume) and kernels (the task's view).
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

from ..errors import ReloadError
from ..records import Redefine, TaskContext

SOURCE_ELSEWHERE = (
    "the task's source file is not on this machine; edits in the notebook's cell definitions "
    "are what resume runs"
)
"""What the session says at start (log, status page, notebook) when it carries the source."""

CELL_TAG = "interactive-definitions"
"""The tag of the starter notebook's cell that carries the task's definitions."""


def _constant(node: ast.expr) -> bool:
    """Whether an expression is a literal (`0.1`, `"a"`, `(1, 2)`, `{"k": [1]}`, `-1`)."""
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def is_definition(node: ast.stmt) -> bool:
    """Whether a module-level statement is kept: def, class, import, NAME = literal."""
    if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef)):
        return True
    if isinstance(node, ast.ClassDef):
        return True
    if isinstance(node, ast.Assign):
        return _constant(node.value)
    if isinstance(node, ast.AnnAssign):
        return node.value is not None and _constant(node.value)
    return False


def definitions_only(tree: ast.Module) -> ast.Module:
    """The module with only its definitions (line numbers kept, so tracebacks point right)."""
    return ast.Module(body=[n for n in tree.body if is_definition(n)], type_ignores=[])


def defines(tree: ast.Module, qualname: str) -> bool:
    """Whether the definitions of tree define qualname (`f`, `Trainer.fit`)."""
    body: list[ast.stmt] = tree.body
    parts = qualname.split(".")
    for i, part in enumerate(parts):
        found = [
            n
            for n in body
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            and n.name == part
        ]
        if not found:
            return False
        if i < len(parts) - 1:
            node = found[-1]
            if not isinstance(node, ast.ClassDef):
                return False
            body = node.body
    return True


def parse(source: str | bytes, where: str, qualname: str) -> ast.Module:
    """The definitions of source; ReloadError when it does not compile or lacks qualname."""
    try:
        tree = ast.parse(source, where)
        compile(tree, where, "exec")
    except SyntaxError as e:
        raise ReloadError(
            f"cannot resume: {where}, line {e.lineno}: {e.msg}; fix it, then resume again"
        ) from None
    if not defines(tree, qualname):
        raise ReloadError(
            f"cannot resume: {where} no longer defines {qualname!r} (a top-level def or class "
            "is needed: definitions only are re-loaded); define it again, then resume"
        )
    return definitions_only(tree)


def carried_cell(notebook: str | None) -> str | None:
    """The source of the notebook's cell tagged CELL_TAG, or None (no notebook, no cell)."""
    if not notebook:
        return None
    try:
        nb = json.loads(Path(notebook).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    for cell in nb.get("cells", []) if isinstance(nb, dict) else []:
        tags = cell.get("metadata", {}).get("tags", []) if isinstance(cell, dict) else []
        if cell.get("cell_type") == "code" and CELL_TAG in tags:
            source = cell.get("source", "")
            return "".join(source) if isinstance(source, list) else str(source)
    return None


def source_of(context: TaskContext) -> tuple[str | bytes, str]:
    """The task's current definitions' source and where it is; ReloadError when it is gone."""
    if context.redefine is Redefine.NOTEBOOK:
        cell = carried_cell(context.notebook)
        if cell is None:
            raise ReloadError(
                f"cannot resume: the notebook {context.notebook} has no cell tagged "
                f"{CELL_TAG!r} with the task's definitions (its source file is not on this "
                "machine); restore the cell, save the notebook, then resume"
            )
        return cell, f"the notebook's definitions cell ({context.notebook})"
    where = context.source_file or "?"
    try:
        return Path(where).read_bytes(), where
    except OSError as e:
        raise ReloadError(f"cannot resume: cannot read {where}: {e.strerror or e}") from None


def check_definitions(context: TaskContext) -> None:
    """ReloadError when a task re-defined by its definitions cannot be (run before a resume),
    or when its module's file no longer binds the task's name (renamed or removed)."""
    if context.redefine in (Redefine.FILE, Redefine.NOTEBOOK):
        source, where = source_of(context)
        parse(source, where, context.qualname)
    elif context.redefine is Redefine.MODULE and context.source_file:
        where = context.source_file
        try:
            tree = ast.parse(Path(where).read_bytes(), where)
        except (OSError, SyntaxError, ValueError):
            return  # the sources' own check names a syntax error
        if "<" not in context.qualname and not _binds(tree.body, context.qualname.split(".")):
            raise ReloadError(
                f"cannot resume: {where} no longer defines {context.qualname!r} (renamed or "
                "removed?); define it again, then resume"
            )


def _names(node: ast.stmt) -> list[str] | None:
    """The names a statement binds at its level (None: any, as `from x import *` may)."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        if any(a.name == "*" for a in node.names):
            return None
        return [(a.asname or a.name).split(".")[0] for a in node.names]
    targets = node.targets if isinstance(node, ast.Assign) else []
    if isinstance(node, (ast.AnnAssign, ast.AugAssign)):
        targets = [node.target]
    return [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]


def _binds(body: list[ast.stmt], parts: list[str]) -> bool:
    """Whether statements bind parts[0] (and its class, parts[1:]), conditional ones too."""
    for node in body:
        if isinstance(node, (ast.If, ast.Try, ast.With)) or type(node).__name__ == "TryStar":
            inner = [*getattr(node, "body", []), *getattr(node, "orelse", [])]
            inner += getattr(node, "finalbody", [])
            inner += [s for h in getattr(node, "handlers", []) for s in h.body]
            if _binds(inner, parts):
                return True
            continue
        names = _names(node)
        if names is None:
            return True
        if parts[0] in names:
            if len(parts) == 1 or not isinstance(node, ast.ClassDef):
                return True  # a class made otherwise: its methods are not checked here
            if _binds(node.body, parts[1:]):
                return True
    return False
