"""An `async def` task: the same TaskRun, each waiting step awaited on the running loop."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
from collections.abc import Callable, Iterator
from typing import Any

from ..child.containment import own_tree
from ..child.launcher import ServerProcess
from ..options import Options
from ..protocol import SESSION_ENV
from .direct import direct, running_directly
from .ranks import World, follow
from .run import TaskRun
from .signals import SignalState, own_interrupts


async def run_interactive_async(
    func: Callable[..., Any], args: tuple, kwargs: dict[str, Any], options: Options
) -> Any:
    """Run an async task interactively; the awaited result of the (resumed) task."""
    __tracebackhide__ = True  # IPython: a traceback shows the task, not the wrapper
    if running_directly() or os.environ.get(SESSION_ENV) or not options.enabled:
        return await func(*args, **kwargs)
    with own_tree():
        return await AsyncTaskRun(func, options).main(args, kwargs)


class AsyncTaskRun(TaskRun):
    """TaskRun for an `async def` task: the same rounds, each waiting step awaited on the loop.

    No signal handler is installed: a cancelled await (asyncio.run's SIGINT) stops the server
    and its kernels; on SIGTERM the server child's parent watch stops them.
    """

    async def call(self, invoke: Callable[[], Any]) -> Any:
        """Await the task itself: invoke() makes its coroutine."""
        with direct(), own_interrupts():
            return await invoke()

    async def wait_ready(self, server: ServerProcess) -> Any:
        """The server's ready info, polled in a thread."""
        return await asyncio.to_thread(server.wait_ready)

    async def wait_exit(self, server: ServerProcess) -> int:
        """The server child's exit, watched by the loop (a pidfd; a thread where there is none)."""
        assert server.proc is not None
        return await wait_exit(server.proc)

    async def follow(self, world: World) -> dict[str, Any]:
        """Rank 0's overrides, waited for in a thread."""
        return await asyncio.to_thread(follow, world, self.options.on_idle)

    def signals(self) -> contextlib.AbstractContextManager[SignalState]:
        """No handler: the loop's own cancellation stops the server."""
        return _unarmed()


@contextlib.contextmanager
def _unarmed() -> Iterator[SignalState]:
    """A signal state that never fires."""
    state = SignalState()
    state.armed = False
    yield state


def _done(future: asyncio.Future[None]) -> None:
    """Mark future done (once)."""
    if not future.done():
        future.set_result(None)


async def wait_exit(proc: subprocess.Popen[bytes]) -> int:
    """Wait for a child process to exit without blocking the loop; its exit code."""
    loop = asyncio.get_running_loop()
    try:
        fd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):
        return await asyncio.to_thread(proc.wait)
    exited = loop.create_future()
    try:
        loop.add_reader(fd, _done, exited)
    except NotImplementedError:  # a loop without readers
        os.close(fd)
        return await asyncio.to_thread(proc.wait)
    try:
        if proc.poll() is None:
            await exited
    finally:
        loop.remove_reader(fd)
        os.close(fd)
    return proc.wait()
