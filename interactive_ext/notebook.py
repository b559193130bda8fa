"""The starter notebook: what the task is, why the server is up, its inputs, how to resume."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any

from .records import ErrorRecord, TaskContext

log = logging.getLogger("interactive_ext")


def notebook_name(qualname: str) -> str:
    """The starter notebook's file name for a task."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", qualname) or "task"
    return f"{safe}-interactive.ipynb"


def import_code(context: TaskContext) -> str:
    """Code that imports the task in a kernel (by module, or from its file for scripts)."""
    module, qualname = context.module, context.qualname
    top = qualname.split(".")[0]
    if module and module != "__main__" and "<" not in qualname:
        if top == qualname:
            return f"from {module} import {qualname} as task"
        return f"from {module} import {top}\ntask = {qualname}"
    return (
        "from interactive_ext.loader import load_function\n"
        f"task = load_function({(context.source_file or '') + ':' + qualname!r})"
    )


def _intro(context: TaskContext, error: ErrorRecord | None, result: bool) -> str:
    """The first cell: what the task is and why the server is up."""
    qualname = context.qualname
    params = ", ".join(context.names) or "no parameters"
    intro = (
        f"# Interactive task `{qualname}`\n\n"
        f"Task `{context.ref}` ({params}), source file `{context.source_file}`.\n\n"
    )
    if error:
        intro += (
            "**The server is up because the task failed** with "
            f"`{error.type}: {error.message}`. Fix the source file, try it here, "
            "then resume: the task runs again with your edited code.\n\n"
            "```\n" + error.traceback.rstrip() + "\n```\n"
        )
    elif result:
        intro += (
            "**The task succeeded; the server is up because it pauses after success** "
            '(`pause="after"`). `load_result()` gives its result. Resume runs the task again '
            "with your edited code (its new result is the one returned); if nobody resumes, "
            "the server stops on idle and the result already computed is returned.\n"
        )
    else:
        intro += (
            "**The server is up because the task is interactive.** Look at its inputs, try the "
            "code, edit the source file, then resume: the task runs with the edited code and "
            "the inputs (with any overrides) and its process ends with the task's result.\n"
        )
    return intro


def build(context: TaskContext, error: ErrorRecord | None, result: bool = False) -> Any:
    """The starter notebook (an nbformat NotebookNode) for a task context and failure."""
    import nbformat.v4 as nbf

    intro = _intro(context, error, result)
    resume_md = (
        "## Resume the task\n\n"
        "Resuming stops this server (and every kernel) and runs the task in its own process. "
        "Any one of:\n\n"
        "- in a cell: `resume()` or `resume(lr=0.5)` (overrides are used for this run);\n"
        "- `save_inputs(lr=0.5)` first stores overrides that the next resume uses;\n"
        "- the command line: `jupyter interactive-task resume`;\n"
        '- REST: `curl -X POST -H "Authorization: token $TOKEN" '
        "-d '{\"inputs\": {}}' http://HOST:PORT/interactive/resume`.\n\n"
        'The next cell does nothing unless you set `RESUME = True` in it, so "Run All" never '
        "resumes by accident."
    )
    result_cells = (
        [nbf.new_code_cell("from interactive_ext import load_result\n\nload_result()")]
        if result
        else []
    )
    cells = [
        nbf.new_markdown_cell(intro),
        nbf.new_code_cell("%load_ext autoreload\n%autoreload 2"),
        nbf.new_code_cell(
            "from interactive_ext import load_error, load_inputs, resume, save_inputs\n\n"
            + import_code(context)
        ),
        nbf.new_code_cell("inputs = load_inputs()\ninputs"),
        nbf.new_code_cell("error = load_error()  # the failure (an exception), or None\nerror"),
        *result_cells,
        nbf.new_code_cell("result = task(**inputs)\nresult"),
        nbf.new_markdown_cell(resume_md),
        nbf.new_code_cell(
            "RESUME = False  # set to True and run this cell to resume the task\n"
            "if RESUME:\n"
            "    resume()"
        ),
    ]
    nb = nbf.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["interactive_ext"] = {"task": context.ref}
    return nb


def write_notebook(
    notebook_dir: str | os.PathLike[str],
    context: TaskContext,
    error: ErrorRecord | None,
    result: bool = False,
) -> Path:
    """Write the starter notebook into notebook_dir unless a file of that name exists; its path."""
    import nbformat

    path = Path(notebook_dir) / notebook_name(context.qualname)
    if path.exists():
        log.info("keeping the existing notebook %s (never overwritten)", path)
        return path
    nb = build(context, error, result)
    data = nbformat.writes(nb)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        log.info("keeping the existing notebook %s (never overwritten)", path)
        return path
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(data)
    log.info("wrote the starter notebook %s", path)
    return path
