"""Kernel provisioner that gives every kernel the interactive session's context."""

from __future__ import annotations

import os
from typing import Any

from jupyter_client.provisioning import LocalProvisioner
from traitlets import List, Unicode

from ..protocol import SESSION_ENV


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
        task's module imports in a notebook. Empty (the default) adds nothing.""",
    )

    async def pre_launch(self, **kwargs: Any) -> dict[str, Any]:
        """Add the session and the task's source folders to the kernel's environment."""
        kwargs = await super().pre_launch(**kwargs)
        env = dict(kwargs.get("env") or os.environ)
        if self.session_dir:
            env[SESSION_ENV] = self.session_dir
        if self.source_dirs:
            old = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
            new = [d for d in self.source_dirs if d not in old]
            env["PYTHONPATH"] = os.pathsep.join(new + old)
        kwargs["env"] = env
        return kwargs
