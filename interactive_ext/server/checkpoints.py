"""A task server's checkpoints: in the session directory, never in the person's folders.

JupyterLab checkpoints a notebook when it opens it and after every save; jupyter_server's
`FileCheckpoints` writes them to `.ipynb_checkpoints/` beside the file, so a session left one in
the folder a person ran the task from. These keep the same tree under the session's
`checkpoints/` folder instead: restorable while the session lives, gone with it.
"""

from __future__ import annotations

import os

from jupyter_core.utils import ensure_dir_exists
from jupyter_server.services.contents.filecheckpoints import (
    AsyncFileCheckpoints,
    FileCheckpoints,
)
from traitlets import Unicode

from ..protocol import CHECKPOINTS


class SessionCheckpoints(FileCheckpoints):
    """File checkpoints kept under the session directory, in the served tree's shape."""

    session_dir = Unicode(
        "",
        config=True,
        help="""Session directory whose checkpoints/ folder holds the checkpoints, in the
        shape of the served tree. Empty (the default): beside each file, as FileCheckpoints.""",
    )

    def checkpoint_path(self, checkpoint_id: str, path: str) -> str:
        """The file of path's checkpoint: its folder's place under the session's checkpoints."""
        if not self.session_dir:
            return str(super().checkpoint_path(checkpoint_id, path))
        parent, name = ("/" + path.strip("/")).rsplit("/", 1)
        folder = self._get_os_path(path=parent.strip("/"))  # 404 outside the served root
        where = os.path.relpath(folder, self.root_dir)
        cp_dir = os.path.normpath(os.path.join(self.session_dir, CHECKPOINTS, where))
        with self.perm_to_403():
            ensure_dir_exists(cp_dir, mode=0o700)
        base, ext = os.path.splitext(name)
        return os.path.join(cp_dir, f"{base}-{checkpoint_id}{ext}")


class AsyncSessionCheckpoints(SessionCheckpoints, AsyncFileCheckpoints):
    """SessionCheckpoints for the async contents managers (jupyter_server's default)."""
