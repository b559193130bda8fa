"""Kernel provisioner that gives every kernel the interactive session's context."""

from __future__ import annotations

import logging
import os
from typing import Any

from jupyter_client.provisioning import LocalProvisioner
from traitlets import List, Unicode

from ..protocol import SESSION_ENV
from ..session.directory import shared

log = logging.getLogger("interactive_ext")

LAUNCHER = ["-m", "ipykernel_launcher"]

GUARDED_START = (
    "import sys; "
    "sys.path[:] = [p for p in sys.path if p not in ('', {hide!r})] + {last!r} + ['']; "
    "import runpy; "
    "runpy.run_module('ipykernel_launcher', run_name='__main__', alter_sys=True)"
)
"""A kernel started from a folder others can write: its sys.path has neither the folder nor
'' before the installed packages (they come last, where nothing installed can be shadowed;
'' present also keeps IPython from inserting it before site-packages). Only `sys`, a built-in
module, is imported before the path is set: a planted runpy.py never runs either."""


def guarded_cmd(cmd: list[str], cwd: str, last: list[str]) -> list[str] | None:
    """The kernel command that runs ipykernel with the folders last on sys.path; None for a
    kernel that is not `python -m ipykernel_launcher ...`."""
    if len(cmd) < 3 or cmd[1:3] != LAUNCHER:
        return None
    code = GUARDED_START.format(hide=os.path.abspath(cwd), last=last)
    return [cmd[0], "-c", code, *cmd[3:]]


class InteractiveProvisioner(LocalProvisioner):  # type: ignore[misc]
    """A local kernel with the session in its environment and the task's folder on sys.path."""

    session_dir = Unicode(
        "",
        config=True,
        help="""Session directory given to every kernel in the INTERACTIVE_EXT_SESSION
        environment variable, so load_inputs() and friends find it. Empty (the default):
        the kernel gets what the server's own environment has, if anything.""",
    )
    source_dirs = List(
        Unicode(),
        default_value=[],
        config=True,
        help="""Folders put first on the kernel's sys.path (through PYTHONPATH), so the
        task's module imports in a notebook; a folder another user can write goes last
        instead. Empty (the default) adds nothing.""",
    )

    async def pre_launch(self, **kwargs: Any) -> dict[str, Any]:
        """Add the session and the task's source folders to the kernel's environment; from a
        folder another user can write, nothing is imported before the installed packages."""
        kwargs = await super().pre_launch(**kwargs)
        env = dict(kwargs.get("env") or os.environ)
        if self.session_dir:
            env[SESSION_ENV] = self.session_dir
        cwd = str(kwargs.get("cwd") or os.getcwd())
        open_dirs = [d for d in self.source_dirs if shared(d) is not None]
        why = shared(cwd)
        if why is not None or open_dirs:
            cmd = guarded_cmd(list(kwargs.get("cmd") or []), cwd, open_dirs)
            if cmd is None:
                log.warning(
                    "kernel %s may import modules planted in %s: that folder %s",
                    kwargs.get("cmd"),
                    cwd,
                    why or "or a source folder is writable by others",
                )
            else:
                kwargs["cmd"] = cmd
                why = why or f"a source folder of {open_dirs} is writable by others"
                log.info("kernel in %s: its folders go last on sys.path (it %s)", cwd, why)
        first = [d for d in self.source_dirs if d not in open_dirs]
        if first:
            old = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
            new = [d for d in first if d not in old]
            env["PYTHONPATH"] = os.pathsep.join(new + old)
        kwargs["env"] = env
        return kwargs
