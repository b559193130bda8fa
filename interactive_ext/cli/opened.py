"""The server of an opened parked session: the task run's server rounds, without a task."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..child.launcher import ServerProcess
from ..options import Options
from ..protocol import FRAMES
from ..session.directory import Session
from ..session.pickles import load as load_pickle
from ..session.reaching import TaskNotices
from ..task.run import TaskRun
from .exits import UsageError
from .parked_flags import SERVER_FLAGS


def server_options(args: argparse.Namespace) -> Options:
    """The opened session's server options from the flags given."""
    from .tokens import token_from

    args.token = token_from(args)
    given = {n: getattr(args, n) for n in SERVER_FLAGS if getattr(args, n, None) is not None}
    try:
        return Options(**given)
    except (TypeError, ValueError) as e:
        raise UsageError(str(e)) from None


class OpenedRun(TaskRun):
    """A parked session served here: the task run's serve(), with the parked context."""

    def __init__(
        self, session: Session, folder: Path, options: Options, manifest: dict[str, Any]
    ) -> None:
        """The session fetched and rebased, served from folder; nothing starts yet."""
        context = session.context()
        if context is None:
            raise UsageError(f"the parked session {manifest.get('task')} has no context.json")
        self.options = options
        self.session = session
        self.context = context
        self.notebook_dir = folder
        self.qualname = context.qualname
        self.notices = TaskNotices(options)
        self.last = None
        self.ranks = None
        self.refused: Callable[[], bool] = lambda: False

    def converter(self) -> None:
        """None: the task's code is not loaded here, so the server checks a resume's overrides
        by their JSON schema, and the run that takes them (run --from) converts them."""
        return None

    async def wait_ready(self, server: ServerProcess) -> Any:
        """The server's ready info; the server is stopped if a fetched file did not check."""
        info = server.wait_ready()
        if self.refused() and server.proc is not None:
            server.proc.terminate()
        return info

    def prepare(self) -> None:
        """The starter notebook, with the post-mortem cells of the parked failure."""
        from ..task.starter import write_notebook

        frames = None  # still being fetched: the notebook goes without its post-mortem cells
        if (self.session.path / FRAMES).is_file():
            try:
                frames = load_pickle(self.session.path / FRAMES)
            except Exception:  # the notebook goes without its post-mortem cells
                frames = None
        write_notebook(self.notebook_dir, self.context, self.session.error(), frames=frames)
