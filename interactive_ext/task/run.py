"""One interactive run of a task: the first run, the server rounds, the resume, the debug loop.

A plain task and an `async def` task are the same `TaskRun`: its rounds are one coroutine that
awaits four waiting steps (calling the task, the server's readiness and exit, rank 0's outcome).
`TaskRun` does them synchronously without an event loop; `AsyncTaskRun` (run_async.py) awaits
them on the running loop, so serving never blocks it. What the task starts ends with the run.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Coroutine
from functools import partial
from pathlib import Path
from typing import Any

from ..child.containment import own_tree
from ..child.launcher import ServerProcess
from ..errors import IdleTimeout, task_failure
from ..options import Options
from ..protocol import CONTEXT, ERROR, OUTCOME, RESULT, SAVED_INPUTS, SESSION_ENV
from ..records import Outcome, Reason, Redefine
from ..session import kept
from ..session.changes import common_root, keep_originals
from ..session.definitions import SOURCE_ELSEWHERE
from ..session.directory import Session
from ..session.reaching import TaskNotices, idle_message
from ..session.reading import saved_inputs
from ..session.sources import snapshot
from .context import describe_task, make_context, note_task_file, record_error
from .direct import direct, running_directly, unwrap
from .environment import exit_ok
from .inputs import bind_inputs, call_with_inputs, declared_inputs, write_inputs
from .loader import reload_function, source_root
from .log import ensure_logging
from .parameters import convert
from .park import park_at_end, park_now
from .patches import record_changes
from .ranks import RankError, RankOutcome, World, detect_world, follow, start_leader
from .serving import ServerRounds
from .signals import own_interrupts, term_unwinds

log = logging.getLogger("interactive_ext")


def runs_first(options: Options) -> bool:
    """Whether the task runs before any server starts (and a failed resumed run serves again)."""
    return options.run_task_first or options.pause == "after" or options.on_failure == "park"


def run_interactive(
    func: Callable[..., Any], args: tuple, kwargs: dict[str, Any], options: Options
) -> Any:
    """Run a task interactively: serve Jupyter, wait for resume, run the re-loaded function."""
    __tracebackhide__ = True  # IPython: a traceback shows the task, not the wrapper
    if running_directly() or os.environ.get(SESSION_ENV) or not options.enabled:
        return func(*args, **kwargs)
    with own_tree(), term_unwinds():
        return run_to_end(TaskRun(func, options).main(args, kwargs))


def run_to_end(coro: Coroutine[Any, Any, Any]) -> Any:
    """The result of a coroutine that never suspends (each step it awaits is synchronous)."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    coro.close()
    raise RuntimeError("a synchronous task run suspended")


class TaskRun(ServerRounds):
    """One interactive run: the first run, the session, the server rounds and the resume."""

    def __init__(self, func: Callable[..., Any], options: Options) -> None:
        """Check where the notebook goes; nothing starts yet."""
        self.func = func
        self.options = options
        self.inputs: dict[str, Any] = {}
        self.error: BaseException | None = None
        self.result: tuple[Any] | None = None  # the first run's, with pause="after"
        self.overrides: dict[str, Any] = {}
        self.outcome: Outcome | None = None
        self.qualname: str = unwrap(func).__qualname__
        self.notices = TaskNotices(options)
        self.last: ServerProcess | None = None  # the last round's: its token and port again

    # -- the waiting steps: done synchronously here, awaited by AsyncTaskRun ----------------

    async def call(self, invoke: Callable[[], Any]) -> Any:
        """Run the task itself: invoke() calls it."""
        with direct(), own_interrupts():
            return invoke()

    async def follow(self, world: World) -> dict[str, Any]:
        """A rank other than 0: rank 0's overrides once its session ends."""
        return follow(world, self.options.on_idle)

    # -- the rounds -------------------------------------------------------------------------

    async def main(self, args: tuple, kwargs: dict[str, Any]) -> Any:
        """The first run if asked, then rank 0 serves and the other ranks follow it."""
        self.inputs = declared_inputs(self.func, bind_inputs(self.func, args, kwargs))
        ensure_logging()
        if self.options.pre_execute is not None:
            self.options.pre_execute()
        if runs_first(self.options):
            try:
                self.result = (await self.call(partial(self.func, *args, **kwargs)),)
            except BaseException as e:
                if not task_failure(e):
                    raise
                self.error = e
                if self.options.on_failure == "park":
                    park_now(self)
                log.warning(
                    "task %s failed (%s: %s); starting Jupyter", self.qualname, type(e).__name__, e
                )
            else:
                if self.options.pause != "after":
                    return self.result[0]
                log.info("task %s succeeded; pause='after': starting Jupyter", self.qualname)
        world = detect_world()
        if world.follows:  # only rank 0 of a multi-process job serves Jupyter
            overrides = await self.follow(world)
            context = make_context(self.func, Path(os.devnull))
            task = (
                unwrap(self.func)
                if "<locals>" in context.qualname
                else reload_function(context, func=self.func)
            )
            inputs = {**self.inputs, **overrides}
            return await self.call(partial(call_with_inputs, task, inputs))
        return await self.rounds(start_leader(world))

    async def rounds(self, ranks: Any) -> Any:
        """Serve until an outcome, run the task; again after a failure if asked."""
        self.ranks = ranks
        if ranks is not None and runs_first(self.options):
            ranks.expected = 0  # a rank whose first run succeeded never joins: not counted
        self.open_session()
        ok = served = False
        first: Callable[[], None] | None = self.prepare
        try:
            while True:
                served = True
                outcome = await self.serve(first)
                first = None
                self.tell_ranks(outcome)
                if self.kept_result(outcome):
                    ok = True
                    return self.result[0]  # type: ignore[index]
                inputs = self.inputs_after(outcome)
                try:
                    func, args = self.resumed_call(inputs)
                    result = await self.call(partial(call_with_inputs, func, args))
                except BaseException as e:
                    if not task_failure(e):
                        raise
                    self.record_failure(e)
                    if not runs_first(self.options):
                        raise
                    self.retry_after(e, inputs)
                    continue
                ok = True
                return result
        except SystemExit as e:  # the task's sys.exit(0) is a success; its result is None
            ok = exit_ok(e)
            raise
        finally:
            self.finish(served, ok)

    def open_session(self) -> None:
        """The notebook folder checked, the sources noted, the session directory made."""
        from .starter import notebook_name

        self.notebook_dir = Path(self.options.notebook_dir or os.getcwd()).resolve()
        if not self.notebook_dir.is_dir():
            raise ValueError(
                f"notebook_dir {self.notebook_dir} is not a directory; create it or pass another"
            )
        self.modules = snapshot()
        self.session = Session.create()
        self.session.digests = self.options.park_destination is not None  # hashed as written
        log.info("interactive session directory %s", self.session.path)
        self.context = make_context(self.func, self.notebook_dir / notebook_name(self.qualname))
        note_task_file(self.context, self.modules)  # a driver script shipped by value: noted too
        if self.context.redefine is Redefine.NOTEBOOK:
            log.warning("%s (%s)", SOURCE_ELSEWHERE, self.context.source_file)

    def record_start(self, describe: bool = True) -> None:
        """The inputs, the context (unless describe is False) and the sources' originals."""
        self.context.unpicklable = write_inputs(self.session, self.inputs)
        if describe:
            self.describe()
        self.keep_originals()

    def prepare(self) -> None:
        """The session's files and the notebook, written while the server starts."""
        from .starter import write_notebook

        self.record_start(describe=False)
        error = frames = None
        if self.error is not None:
            from .capture import capture_frames  # imported at a failure only

            error = record_error(self.session, self.error)
            frames = capture_frames(self.session, self.error, self.options, self.inputs)
        notebook = write_notebook(
            self.notebook_dir, self.context, error, result=self.result is not None, frames=frames
        )
        if self.last is not None:  # its URL names the notebook written (maybe a new name)
            self.last.spec.notebook = notebook.name
        self.describe()  # after the notebook: its name may have moved off a foreign file

    def keep_originals(self) -> None:
        """Copy the noted sources' bytes into the session, for the diffs of every resume."""
        root = source_root(self.context.module, self.context.source_file)
        try:
            keep_originals(self.session, self.modules, common_root(root, self.modules))
        except OSError as e:
            log.warning("cannot keep the sources' originals (%s): resumes will not show diffs", e)

    def describe(self) -> None:
        """Write context.json: the parameters, the module files, the first run's result."""
        describe_task(self.context, self.session, self.func, self.inputs, self.modules, self.result)
        self.session.write_json(CONTEXT, self.context.to_json())

    def kept_result(self, outcome: Outcome) -> bool:
        """pause="after" and the server stopped by itself: the first run's result stands."""
        if self.result is None or outcome.reason is Reason.RESUMED:
            return False
        why, name = outcome.reason.value, self.qualname
        log.info("server stopped (%s); returning the result task %s already computed", why, name)
        return True

    def inputs_after(self, outcome: Outcome) -> dict[str, Any]:
        """The inputs of the resumed run (IdleTimeout when the server idled out, on_idle=fail)."""
        if outcome.reason is not Reason.RESUMED:
            if self.options.on_idle == "fail":
                raise IdleTimeout(self.idle_message(outcome.reason))
            log.info(
                "server stopped (%s); on_idle='resume': running the task", outcome.reason.value
            )
        self.outcome = outcome
        self.overrides = {**saved_inputs(self.session), **outcome.inputs}
        return {**self.inputs, **self.overrides}

    def tell_ranks(self, outcome: Outcome) -> None:
        """Rank 0 of a multi-process job: send the outcome to the other ranks."""
        if self.ranks is not None:
            saved = saved_inputs(self.session)
            resumed = outcome.reason is Reason.RESUMED
            message = "" if resumed else self.idle_message(outcome.reason)
            self.ranks.publish(RankOutcome(resumed, {**saved, **outcome.inputs}, message))

    def resumed_call(self, inputs: dict[str, Any]) -> tuple[Callable[..., Any], dict[str, Any]]:
        """The re-loaded function and its inputs, the overrides converted to its annotations."""
        overrides = {k: inputs[k] for k in self.overrides if k in inputs}
        log.info("resuming task %s", self.qualname)
        sent = self.outcome.inputs if self.outcome is not None else {}  # the resume request's
        saved = {k: v for k, v in self.overrides.items() if k not in sent}
        to = self.options.changes_destination  # kept before the re-load, which a typo fails
        record_changes(self.session, self.qualname, self.outcome, saved, to)
        if "<locals>" in self.qualname:
            log.info("%s is a nested function: running it as it was", self.qualname)
            func = unwrap(self.func)
        else:
            func = reload_function(self.context, self.modules, self.func)
        return func, {**inputs, **convert(func, overrides)}

    def record_failure(self, error: BaseException) -> None:
        """A resumed run failed: error.json, exception.pkl, its frames, a line in the log."""
        from .capture import capture_frames

        record_error(self.session, error)
        capture_frames(self.session, error, self.options)
        self.notices.resumed_failed(self.qualname, error)
        self.result = None
        self.session.remove(RESULT)
        log.error(
            "resumed task %s failed (%s: %s); its traceback is in %s",
            self.qualname,
            type(error).__name__,
            error,
            self.session.path / ERROR,
        )

    def retry_after(self, error: BaseException, inputs: dict[str, Any]) -> None:
        """A resumed run failed (run_task_first): keep its failure and serve again."""
        name = type(error).__name__
        log.warning(
            "resumed task %s failed (%s: %s); starting Jupyter again", self.qualname, name, error
        )
        self.inputs = inputs
        self.context.unpicklable = write_inputs(self.session, inputs)
        self.session.remove(SAVED_INPUTS, OUTCOME)
        self.describe()

    def finish(self, served: bool, ok: bool) -> None:
        """post_execute, then remove the session after a success or keep it after a failure."""
        missing = self.ranks.close() if self.ranks is not None else ""
        if served and self.options.post_execute is not None:
            self.options.post_execute()
        park_at_end(self, ok)
        self.notices.close()
        kept.settle(self.session, ok and not missing, self.qualname)
        if ok and missing:  # rank 0's success is not the job's: a rank never got the outcome
            raise RankError(missing)

    def idle_message(self, reason: Reason) -> str:
        """The IdleTimeout message."""
        return idle_message(self.options, self.qualname, reason, kept.where(self.session))
