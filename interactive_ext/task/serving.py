"""The server rounds of a task run: the server's spec, its start while the session's files are
written, the URL line, the wait for its exit, and its stop (run.py's TaskRun takes them)."""

from __future__ import annotations

import contextlib
import logging
import signal
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from ..child.launcher import ServerProcess, ServerSpec
from ..options import Options
from ..protocol import OUTCOME, READY
from ..records import Outcome, TaskContext
from ..session.directory import Session
from ..session.reaching import reach_suffix
from ..session.reading import outcome_of
from .direct import unwrap
from .environment import environment_failure
from .loader import source_root
from .log import announce
from .parameters import convert
from .ray_registry import register
from .signals import Interrupted, SignalState, catch_signals

log = logging.getLogger("interactive_ext")


class ServerRounds:
    """Serving one round: what TaskRun does between the session's start and its outcome."""

    func: Callable[..., Any]
    options: Options
    session: Session
    context: TaskContext
    notebook_dir: Path
    qualname: str
    last: ServerProcess | None

    async def wait_ready(self, server: ServerProcess) -> Any:
        """The server's ready info once it answers (None: it stopped first)."""
        return server.wait_ready()

    async def wait_exit(self, server: ServerProcess) -> int:
        """The server child's exit code once it exits by itself."""
        return server.wait()

    def signals(self) -> contextlib.AbstractContextManager[SignalState]:
        """SIGTERM/SIGINT while the server runs: stop it first, then behave as the signal."""
        return catch_signals()

    def spec(self) -> ServerSpec:
        """What the server of this task is started with."""
        root = source_root(self.context.module, self.context.source_file)
        return ServerSpec(
            session=self.session,
            root_dir=str(self.notebook_dir),
            options=self.options,
            source_dirs=[root] if root else [],
            notebook=Path(self.context.notebook or "").name or None,
            token=self.last.token if self.last else None,
            last_port=self.last.port if self.last else None,
            convert=self.converter(),
        )

    def converter(self) -> Callable[[dict[str, Any]], Any] | None:
        """What converts a resume's overrides for the server: the task's own conversion."""
        return partial(convert, unwrap(self.func))

    async def serve(self, while_starting: Callable[[], None] | None = None) -> Outcome:
        """Start the server, wait for it to stop by itself, stop it; the recorded outcome."""
        self.session.remove(OUTCOME, READY)
        self.last = server = ServerProcess(self.spec())
        code: int | None = None
        with self.signals() as signals:
            try:
                code = await self.serve_until_exit(server, while_starting)
            except Interrupted:
                pass
            finally:
                signals.armed = False  # a signal now is noted; the stop is not cut short
                self.stop(server)
        if signals.received is not None:
            name = signal.Signals(signals.received).name
            log.warning("got %s: stopped the Jupyter server and its kernels", name)
            signals.reraise()
        outcome = outcome_of(self.session, code)
        if outcome is None:
            raise server.error(f"the Jupyter server exited (code {code}) without a resume")
        for doc in outcome.unsaved:
            log.warning(
                "a tab could not save %s before the stop: %s", doc.get("path"), doc.get("error")
            )
        return outcome

    async def serve_until_exit(
        self, server: ServerProcess, while_starting: Callable[[], None] | None
    ) -> int:
        """Spawn the server, do while_starting meanwhile, announce the URL, wait for the exit."""
        try:
            server.spawn()
            if while_starting is not None:
                while_starting()
        except OSError as e:  # a read-only notebook_dir, a full disk: not the task's failure
            raise environment_failure(e, self.session, self.notebook_dir) from None
        info = await self.wait_ready(server)
        registration = None
        if info is not None:  # None: stopped (with an outcome) before it was seen answering
            registration = register(
                info, self.context.ref, self.session, self.options.max_idle_seconds
            )
            announce(
                "Jupyter for task %s: %s (notebook %s)%s%s",
                self.qualname,
                server.hub_link + info.url,
                self.context.notebook,
                server.port_note,
                reach_suffix(info.port, self.options.ip),
            )
        try:
            return await self.wait_exit(server)
        finally:
            if registration is not None:
                registration.close()

    def stop(self, server: ServerProcess) -> None:
        """Stop the server and its kernels; remove the ready file."""
        try:
            server.stop()
        finally:
            if self.options.ready_file:
                Path(self.options.ready_file).unlink(missing_ok=True)
