"""The starter notebook: what the task is, why the server is up, its inputs, how to resume."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import stat
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..protocol import RESUME, route
from ..records import ErrorRecord, Redefine, TaskContext
from ..session.definitions import CELL_TAG, SOURCE_ELSEWHERE
from ..session.frames import COMPREHENSIONS
from .scripts import SCRIPTS

if TYPE_CHECKING:
    from ..session.frames import FramesRecord

log = logging.getLogger("interactive_ext")


def notebook_name(qualname: str) -> str:
    """The starter notebook's file name for a task."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", qualname) or "task"
    return f"{safe}-interactive.ipynb"


def import_code(context: TaskContext) -> str:
    """Code that imports the task in a kernel: by module, or a script's definitions only."""
    module, qualname = context.module, context.qualname
    top = qualname.split(".")[0]
    if context.redefine is Redefine.NOTEBOOK:
        return (
            "from interactive_ext.task.scripts import load_carried\n\n"
            f"task = load_carried(globals(), {qualname!r})  # defined by the definitions cell"
        )
    script = context.redefine is Redefine.FILE or module in SCRIPTS
    if module and not script and "<" not in qualname:
        if top == qualname:
            return f"from {module} import {qualname} as task"
        return f"from {module} import {top}\ntask = {qualname}"
    return (
        "from interactive_ext.task.scripts import load_definitions\n\n"
        "# the script's definitions only (def, class, imports, constants): its other statements\n"
        "# (ray.init(), a Client, the main block) never run here; run this cell after an edit\n"
        f"task = load_definitions({context.source_file or ''!r}, {qualname!r})"
    )


def _carried_cells(context: TaskContext) -> list[dict[str, Any]]:
    """The cells that carry a script's definitions when its file is not on this machine."""
    if context.redefine is not Redefine.NOTEBOOK:
        return []
    note = (
        f"## The task's definitions\n\n**Note: {SOURCE_ELSEWHERE}.** The next cell holds the "
        f"definitions of `{context.source_file}` (def, class, imports, constants). Edit them "
        "here and save the notebook: resume re-defines the task from this cell (tagged "
        f"`{CELL_TAG}`), never runs its other statements."
    )
    cell = _cell("code", context.source or "")
    cell["metadata"]["tags"] = [CELL_TAG]
    return [_cell("markdown", note), cell]


def _intro(context: TaskContext, error: ErrorRecord | None, result: bool) -> str:
    """The first cell: what the task is and why the server is up."""
    qualname = context.qualname
    params = ", ".join(context.names) or "no parameters"
    intro = (
        f"# Interactive task `{qualname}`\n\n"
        f"Task `{context.ref}` ({params}), source file `{context.source_file}`.\n\n"
    )
    if context.redefine is Redefine.NOTEBOOK:
        intro += f"**Note: {SOURCE_ELSEWHERE}** (see the definitions cell below).\n\n"
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


def _cell(kind: str, source: str) -> dict[str, Any]:
    """A notebook cell in the nbformat 4.5 format, with its id."""
    cell: dict[str, Any] = {
        "cell_type": kind,
        "id": uuid.uuid4().hex[:8],
        "metadata": {},
        "source": source,
    }
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


def postmortem_cells(frames: FramesRecord | None) -> list[dict[str, Any]]:
    """After a failure with its frames kept: pdb on them, their locals bound, the failing line."""
    if frames is None or not frames.frames:
        return []
    kept = [f for f in frames.frames if f.locals is not None and f.name not in COMPREHENSIONS]
    here = kept[-1] if kept else frames.frames[-1]
    line = here.line.removeprefix("return ").strip() if here.line else ""
    return [
        _cell(
            "markdown",
            "## Post-mortem\n\n"
            f"The task failed in `{here.name}` at `{os.path.basename(here.filename)}:"
            f"{here.lineno}`: `{here.line}`. `load_error()` has the task's traceback with each "
            "frame's locals (`load_frames()` lists them). The next cell opens pdb on the "
            "innermost frame (`up`, `down`, `p NAME`, `list`, `where`; `q` quits): it waits for "
            'your commands, so it runs only with `DEBUG = True` ("Run All" never stops there).',
        ),
        _cell(
            "code",
            "DEBUG = False  # set to True and run this cell for pdb on the task's frames\n"
            "if DEBUG:\n"
            "    import pdb\n\n"
            "    pdb.post_mortem(load_error().__traceback__)",
        ),
        _cell(
            "code",
            "# the locals of the innermost frame of your code, as variables of this notebook\n"
            "frames = load_frames()\n"
            f"COMPREHENSIONS = {COMPREHENSIONS!r}  # frames of their own before Python 3.12\n"
            "here = next((f for f in reversed(frames) if f.locals is not None\n"
            "             and f.name not in COMPREHENSIONS), frames[-1])\n"
            "globals().update(here.locals or {})\n"
            "here",
        ),
        _cell("code", f"# the failing line: uncomment it to run it with those values\n# {line}"),
    ]


def _resume_text(context: TaskContext) -> str:
    """The markdown of the resume section, its examples with the task's first parameter."""
    example = override_example(context)
    overrides = (
        f"- in a cell: `resume()` or `resume({example})` (overrides are used for this run);\n"
        f"- `save_inputs({example})` first stores overrides that the next resume uses;\n"
        if example
        else "- in a cell: `resume()` (the task takes no parameters);\n"
    )
    return (
        "## Resume the task\n\n"
        "Resuming stops this server (and every kernel) and runs the task in its own process. "
        "Any one of:\n\n" + overrides + "- the command line: `jupyter interactive-task resume`;\n"
        '- REST: `curl -X POST -H "Authorization: token $TOKEN" '
        f"-d '{{\"inputs\": {{}}}}' http://HOST:PORT/{route(RESUME)}`.\n\n"
        'The next cell does nothing unless you set `RESUME = True` in it, so "Run All" never '
        "resumes by accident."
    )


def override_example(context: TaskContext) -> str | None:
    """`NAME=VALUE` for the task's first parameter (its current value, when short), or None."""
    for p in context.parameters:
        value = p.get("value", p.get("default"))
        text = repr(value) if p.get("json", True) else ""
        if not text or len(text) > 30:
            text = {"int": "1", "float": "0.5", "str": "'text'", "bool": "True"}.get(
                str(p.get("annotation")), "..."
            )
        return f"{p.get('name')}={text}"
    return None


def build(
    context: TaskContext,
    error: ErrorRecord | None,
    result: bool = False,
    frames: FramesRecord | None = None,
) -> dict[str, Any]:
    """The starter notebook (nbformat 4.5 JSON) for a task context and failure.

    Built as plain JSON: importing nbformat (jsonschema and its format checkers) takes the task
    process a second or more while the server child starts.
    """
    intro = _intro(context, error, result)
    helpers = "load_error, load_inputs, resume, save_inputs"
    if frames is not None:
        helpers = "load_error, load_frames, load_inputs, resume, save_inputs"
    resume_md = _resume_text(context)
    result_cells = (
        [_cell("code", "from interactive_ext import load_result\n\nload_result()")]
        if result
        else []
    )
    cells = [
        _cell("markdown", intro),
        _cell("code", "%load_ext autoreload\n%autoreload 2"),
        *_carried_cells(context),
        _cell(
            "code",
            f"from interactive_ext import {helpers}\n\n" + import_code(context),
        ),
        _cell("code", "inputs = load_inputs()\ninputs"),
        _cell("code", "error = load_error()  # the failure (an exception), or None\nerror"),
        *postmortem_cells(frames),
        *result_cells,
        _cell("code", "result = task(**inputs)\nresult"),
        _cell("markdown", resume_md),
        _cell(
            "code",
            "RESUME = False  # set to True and run this cell to resume the task\n"
            "if RESUME:\n"
            "    resume()",
        ),
    ]
    kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return {
        "cells": cells,
        "metadata": {"kernelspec": kernelspec, "interactive_ext": {"task": context.ref}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def write_notebook(
    notebook_dir: str | os.PathLike[str],
    context: TaskContext,
    error: ErrorRecord | None,
    result: bool = False,
    frames: FramesRecord | None = None,
) -> Path:
    """Write the starter notebook into notebook_dir unless a usable file of that name exists
    (a person's notebook is never overwritten); its path."""
    path = Path(notebook_dir) / notebook_name(context.qualname)
    nb = build(context, error, result, frames)
    data = json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False)
    for _attempt in range(3):
        why = _unusable(path)
        if why is None:
            log.info("keeping the existing notebook %s (never overwritten)", path)
            return path
        if why:
            path = _set_aside(path, why)
        if _link_new(path, data + "\n"):
            log.info("wrote the starter notebook %s", path)
            context.notebook = str(path)
            return path
    raise FileExistsError(f"{path} keeps appearing: another process writes it")


def _unusable(path: Path) -> str | None:
    """Why the notebook at path is not one to open ('' when there is none), or None if it is.

    A link, a file of another user or one others can write may hold any code; an empty or
    unreadable file (a full disk) is no notebook.
    """
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return ""
    if not stat.S_ISREG(st.st_mode):
        return "is not a regular file"
    if st.st_uid != os.geteuid():
        return f"belongs to uid {st.st_uid}"
    if st.st_mode & 0o002:
        return f"is writable by everyone (mode {stat.S_IMODE(st.st_mode):o})"
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as f:
            cells = json.loads(f.read()).get("cells")
    except (OSError, ValueError, AttributeError) as e:
        return f"is no readable notebook ({type(e).__name__})"
    return None if isinstance(cells, list) else "is no notebook (no cells)"


def _set_aside(path: Path, why: str) -> Path:
    """Move the file at path aside (path.refused-N); where that is not allowed, the path of
    ours is a new name next to it. The path to write the starter notebook to."""
    aside = path.with_name(f"{path.name}.refused-{uuid.uuid4().hex[:6]}")
    try:
        os.rename(path, aside)
    except OSError:
        fresh = path.with_name(f"{path.stem}-{uuid.uuid4().hex[:6]}{path.suffix}")
        log.warning("not opening %s: it %s; the starter notebook is %s", path, why, fresh)
        return fresh
    log.warning("not opening %s: it %s; moved it to %s", path, why, aside.name)
    return path


def _link_new(path: Path, data: str) -> bool:
    """Write data to path atomically (a private file linked into place, never half written,
    never over an existing file); False when a file of that name appeared meanwhile."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        except OSError:  # a file system without hard links: the same, with a short race
            if os.path.lexists(path):
                return False
            os.replace(tmp, path)
        return True
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
