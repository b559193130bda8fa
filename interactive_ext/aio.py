"""Async tasks: @interactive on an `async def`, awaited without blocking the event loop.

The server child is waited for on the loop itself (a pidfd the loop watches; a thread where
there is none), its readiness in a thread. No signal handler is installed: a cancelled await
(asyncio.run's SIGINT) stops the server and its kernels; on SIGTERM the server child's parent
watch stops them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
from collections.abc import Callable
from typing import Any

from .inputs import bind_inputs, call_with_inputs
from .launcher import ServerProcess
from .loader import direct, running_directly
from .names import OUTCOME, READY, SESSION_ENV
from .options import Options
from .records import Outcome
from .resumed import (
    first_failed,
    first_succeeded,
    resumed_call,
    runs_first,
)
from .runner import TaskRun, announce, ensure_logging

log = logging.getLogger("interactive_ext")


async def run_interactive_async(
    func: Callable[..., Any], args: tuple, kwargs: dict[str, Any], options: Options
) -> Any:
    """Run an async task interactively; the awaited result of the (resumed) task."""
    if running_directly() or os.environ.get(SESSION_ENV) or not options.enabled:
        return await func(*args, **kwargs)
    inputs = bind_inputs(func, args, kwargs)
    ensure_logging()
    if options.pre_execute is not None:
        options.pre_execute()
    error: BaseException | None = None
    result: tuple[Any] | None = None
    if runs_first(options):
        try:
            with direct():
                result = (await func(*args, **kwargs),)
        except Exception as e:
            first_failed(func, e)
            error = e
        else:
            if not first_succeeded(func, options):
                return result[0]
    return await AsyncTaskRun(func, inputs, options, error, result).run_async()


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


class AsyncTaskRun(TaskRun):
    """TaskRun for an async task: the same rounds, awaited."""

    async def run_async(self) -> Any:
        """The whole loop; returns the awaited result or raises."""
        # multi-process jobs: an async task serves from every rank's loop (no rank channel)
        return await self.drive(self.perform_async, None)

    async def perform_async(self, step: str, arg: Any) -> Any:
        """One waiting step, awaited: serve (arg: while_starting) or call (inputs)."""
        if step == "serve":
            return await self.serve_async(arg)
        func, inputs = resumed_call(self, arg)
        with direct():
            return await call_with_inputs(func, inputs)

    async def serve_async(self, while_starting: Callable[[], None] | None) -> Outcome:
        """Start the server, await its exit, stop what is left; the recorded outcome."""
        self.session.remove(OUTCOME, READY)
        server = ServerProcess(self.spec())
        code: int | None = None
        try:
            server.spawn()
            if while_starting is not None:
                while_starting()
            info = await asyncio.to_thread(server.wait_ready)
            if info is not None:  # None: stopped with an outcome before it was seen answering
                announce(
                    "Jupyter for task %s: %s (notebook %s)",
                    self.qualname,
                    info.url,
                    self.context.notebook,
                )
            assert server.proc is not None
            code = await wait_exit(server.proc)
        finally:
            self.stop(server)
        outcome = self.session.outcome()
        if outcome is None:
            raise server.error(f"the Jupyter server exited (code {code}) without a resume")
        return outcome
