"""The run loop of an interactive task: session, server rounds, resume, the task's result."""

from __future__ import annotations

import inspect
import logging
import os
import signal
import sys
import time
import traceback
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

from . import failures, kept
from .engines import declared_inputs
from .errors import IdleTimeout
from .inputs import bind_inputs, call_with_inputs, write_inputs
from .launcher import ServerProcess, ServerSpec
from .loader import direct, reload_function, running_directly, source_root, unwrap
from .names import CONTEXT, ERROR, EXCEPTION, OUTCOME, READY, SAVED_INPUTS, SESSION_ENV
from .options import Options
from .ranks import RankOutcome, World, detect_world, follow, start_leader
from .records import ErrorRecord, Outcome, Reason, TaskContext
from .reloader import snapshot
from .resumed import (
    describe_task,
    first_succeeded,
    kept_result,
    record_failure,
    resumed_call,
    run_first,
    runs_first,
)
from .session import Session
from .signals import Interrupted, catch_signals

log = logging.getLogger("interactive_ext")


def make_context(func: Callable[..., Any], notebook: Path) -> TaskContext:
    """The session's context record for func."""
    target = unwrap(func)
    try:
        source = inspect.getsourcefile(target)
    except TypeError:
        source = None
    params = inspect.signature(target).parameters
    return TaskContext(
        module=target.__module__,
        qualname=target.__qualname__,
        source_file=os.path.abspath(source) if source else None,
        parameters=[{"name": n} for n, p in params.items() if p.kind is not p.VAR_KEYWORD],
        var_keyword=any(p.kind is p.VAR_KEYWORD for p in params.values()),
        notebook=str(notebook),
        started=time.time(),
        pid=os.getpid(),
    )


def record_error(session: Session, exc: BaseException) -> ErrorRecord:
    """Write error.json (type, message, traceback) and exception.pkl when it pickles."""
    kind = type(exc)
    name = (
        kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
    )
    error = ErrorRecord(
        type=name,
        message=str(exc),
        traceback="".join(traceback.format_exception(kind, exc, exc.__traceback__)),
    )
    session.write_json(ERROR, error.to_json())
    try:
        session.write_pickle(EXCEPTION, exc)
    except Exception:
        session.remove(EXCEPTION)
    return error


def ensure_logging() -> None:
    """Make the URL line visible when the program configured no logging at all."""
    if not logging.getLogger().handlers and not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("[interactive_ext] %(message)s"))
        log.addHandler(handler)
        if log.level == logging.NOTSET:
            log.setLevel(logging.INFO)


def info_shown() -> bool:
    """Whether an INFO record of our logger reaches a handler that shows it."""
    if not log.isEnabledFor(logging.INFO):
        return False
    logger: logging.Logger | None = log
    while logger is not None:
        if any(h.level <= logging.INFO for h in logger.handlers):
            return True
        logger = logger.parent if logger.propagate else None
    return False


def announce(message: str, *args: Any) -> None:
    """A line a person must see (the URL): logged, or printed to stderr if logging drops it."""
    if info_shown():
        log.info(message, *args)
    else:
        print(f"[interactive_ext] {message % args}", file=sys.stderr, flush=True)


def run_interactive(
    func: Callable[..., Any], args: tuple, kwargs: dict[str, Any], options: Options
) -> Any:
    """Run a task interactively: serve Jupyter, wait for resume, run the re-loaded function."""
    if running_directly() or os.environ.get(SESSION_ENV) or not options.enabled:
        return func(*args, **kwargs)
    inputs = declared_inputs(func, bind_inputs(func, args, kwargs))
    ensure_logging()
    if options.pre_execute is not None:
        options.pre_execute()
    error, result = run_first(func, args, kwargs, options)
    if result is not None and not first_succeeded(func, options):
        return result[0]
    world = detect_world()
    if world.follows:  # only rank 0 of a multi-process job serves Jupyter
        return follow_rank0(func, inputs, options, world)
    return TaskRun(func, inputs, options, error, result).run()


def follow_rank0(
    func: Callable[..., Any], inputs: dict[str, Any], options: Options, world: World
) -> Any:
    """A rank other than 0: no server; run the re-loaded task with rank 0's overrides."""
    overrides = follow(world, options.on_idle)
    context = make_context(func, Path(os.devnull))
    task = unwrap(func) if "<locals>" in context.qualname else reload_function(context)
    with direct():
        return call_with_inputs(task, {**inputs, **overrides})


Perform = Callable[[str, Any], Awaitable[Any]]
"""A run's waiting steps: ("serve", while_starting) -> Outcome, ("call", inputs) -> result."""


def run_to_end(coro: Coroutine[Any, Any, Any]) -> Any:
    """The result of a coroutine that never suspends (each step it awaits is synchronous)."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    coro.close()
    raise RuntimeError("a synchronous task run suspended")


class TaskRun:
    """One interactive run: the session, the server rounds and the resume."""

    def __init__(
        self,
        func: Callable[..., Any],
        inputs: dict[str, Any],
        options: Options,
        error: BaseException | None,
        result: tuple[Any] | None = None,
    ) -> None:
        """Check where the notebook goes; nothing starts yet."""
        self.func = func
        self.inputs = inputs
        self.options = options
        self.error = error
        self.result = result  # the first run's, with pause="after"
        self.modules = snapshot()
        self.overrides: dict[str, Any] = {}
        self.qualname: str = unwrap(func).__qualname__
        self.notebook_dir = Path(options.notebook_dir or os.getcwd()).resolve()
        if not self.notebook_dir.is_dir():
            raise ValueError(
                f"notebook_dir {self.notebook_dir} is not a directory; create it or pass another"
            )

    def run(self) -> Any:
        """The whole loop; returns the task's result or raises."""
        return run_to_end(self.drive(self.perform, start_leader(detect_world())))

    async def drive(self, perform: Perform, ranks: Any) -> Any:
        """The rounds: serve until an outcome, run the task; again after a failure if asked.

        perform does the two steps that wait ("serve", "call"): synchronously for a plain task
        (run() drives this coroutine without an event loop), awaited for an async one (aio.py).
        """
        from .notebook import notebook_name

        self.session = Session.create()
        log.info("interactive session directory %s", self.session.path)
        self.ranks = ranks
        self.context = make_context(self.func, self.notebook_dir / notebook_name(self.qualname))
        ok = served = False
        first: Callable[[], None] | None = self.prepare
        try:
            while True:
                served = True
                outcome = await perform("serve", first)
                first = None
                self.tell_ranks(outcome)
                if kept_result(self, outcome):
                    ok = True
                    return self.result[0]  # type: ignore[index]
                inputs = self.inputs_after(outcome)
                try:
                    result = await perform("call", inputs)
                except Exception as e:
                    record_failure(self, e)
                    if not runs_first(self.options):
                        raise
                    self.retry_after(e, inputs)
                    continue
                ok = True
                return result
        except SystemExit as e:  # the task's sys.exit(0) is a success; its result is None
            ok = failures.exit_ok(e)
            raise
        finally:
            self.finish(served, ok)

    async def perform(self, step: str, arg: Any) -> Any:
        """One waiting step, done synchronously: serve (arg: while_starting) or call (inputs)."""
        if step == "serve":
            return self.serve(while_starting=arg)
        return self.resume_task(arg)

    def prepare(self) -> None:
        """The session's files and the notebook, written while the server starts."""
        from .notebook import write_notebook

        self.context.unpicklable = write_inputs(self.session, self.inputs)
        describe_task(self)
        self.session.write_json(CONTEXT, self.context.to_json())
        error = record_error(self.session, self.error) if self.error is not None else None
        write_notebook(self.notebook_dir, self.context, error, result=self.result is not None)

    def inputs_after(self, outcome: Outcome) -> dict[str, Any]:
        """The inputs of the resumed run (IdleTimeout when the server idled out, on_idle=fail)."""
        if outcome.reason is not Reason.RESUMED:
            if self.options.on_idle == "fail":
                raise IdleTimeout(self.idle_message(outcome.reason))
            log.info(
                "server stopped (%s); on_idle='resume': running the task", outcome.reason.value
            )
        saved = failures.saved_inputs(self.session)
        self.overrides = {**saved, **outcome.inputs}
        return {**self.inputs, **self.overrides}

    def tell_ranks(self, outcome: Outcome) -> None:
        """Rank 0 of a multi-process job: send the outcome to the other ranks."""
        if self.ranks is not None:
            saved = failures.saved_inputs(self.session)
            resumed = outcome.reason is Reason.RESUMED
            message = "" if resumed else self.idle_message(outcome.reason)
            self.ranks.publish(RankOutcome(resumed, {**saved, **outcome.inputs}, message))

    def resume_task(self, inputs: dict[str, Any]) -> Any:
        """Re-load the changed modules and run the task with inputs (overrides converted)."""
        func, inputs = resumed_call(self, inputs)
        with direct():
            return call_with_inputs(func, inputs)

    def retry_after(self, error: Exception, inputs: dict[str, Any]) -> None:
        """A resumed run failed (run_task_first): keep its failure and serve again."""
        log.warning(
            "resumed task %s failed (%s: %s); starting Jupyter again",
            self.qualname,
            type(error).__name__,
            error,
        )
        self.inputs = inputs
        self.context.unpicklable = write_inputs(self.session, inputs)
        self.session.remove(SAVED_INPUTS, OUTCOME)
        describe_task(self)
        self.session.write_json(CONTEXT, self.context.to_json())

    def finish(self, served: bool, ok: bool) -> None:
        """post_execute, then remove the session after a success or keep it after a failure."""
        if self.ranks is not None:
            self.ranks.close()
        if served and self.options.post_execute is not None:
            self.options.post_execute()
        kept.settle(self.session, ok, self.qualname)

    def idle_message(self, reason: Reason) -> str:
        """The IdleTimeout message."""
        opts = self.options
        if reason is Reason.LIFETIME:
            why = f"its lifetime cap (max_lifetime_seconds={opts.max_lifetime_seconds:g})"
        else:
            why = f"nobody resumed it within max_idle_seconds={opts.max_idle_seconds:g}"
        return (
            f"the Jupyter server for task {self.qualname} stopped: {why} "
            f"(on_idle='fail'; pass on_idle='resume' to run the task anyway); "
            f"{kept.where(self.session)}"
        )

    def spec(self) -> ServerSpec:
        """What the server of this task is started with."""
        opts = self.options
        root = source_root(self.context.module, self.context.source_file)
        return ServerSpec(
            session=self.session,
            root_dir=str(self.notebook_dir),
            ip=opts.ip,
            port=opts.port,
            base_url=opts.base_url,
            token=opts.token,
            max_idle_seconds=opts.max_idle_seconds,
            max_lifetime_seconds=opts.max_lifetime_seconds,
            source_dirs=[root] if root else [],
            ready_file=opts.ready_file,
            notebook=Path(self.context.notebook or "").name or None,
        )

    def serve(self, while_starting: Callable[[], None] | None = None) -> Outcome:
        """Start the server, wait for it to stop by itself, stop it; the recorded outcome."""
        self.session.remove(OUTCOME, READY)
        server = ServerProcess(self.spec())
        code: int | None = None
        with catch_signals() as signals:
            try:
                code = self.serve_until_exit(server, while_starting)
            except Interrupted:
                pass
            finally:
                signals.armed = False  # a signal now is noted; the stop is not cut short
                self.stop(server)
        if signals.received is not None:
            name = signal.Signals(signals.received).name
            log.warning("got %s: stopped the Jupyter server and its kernels", name)
            signals.reraise()
        outcome = failures.outcome_of(self.session, code)
        if outcome is None:
            raise server.error(f"the Jupyter server exited (code {code}) without a resume")
        for doc in outcome.unsaved:
            log.warning(
                "a tab could not save %s before the stop: %s", doc.get("path"), doc.get("error")
            )
        return outcome

    def serve_until_exit(
        self, server: ServerProcess, while_starting: Callable[[], None] | None
    ) -> int:
        """Spawn the server, do while_starting meanwhile, announce the URL, wait for the exit."""
        try:
            server.spawn()
            if while_starting is not None:
                while_starting()
        except OSError as e:  # a read-only notebook_dir, a full disk: not the task's failure
            raise failures.environment_failure(e, self.session, self.notebook_dir) from None
        info = server.wait_ready()
        if info is None:  # stopped (with an outcome) before it was seen answering
            return server.wait()
        announce(
            "Jupyter for task %s: %s (notebook %s)", self.qualname, info.url, self.context.notebook
        )
        return server.wait()

    def stop(self, server: ServerProcess) -> None:
        """Stop the server and its kernels; remove the ready file."""
        try:
            server.stop()
        finally:
            if self.options.ready_file:
                Path(self.options.ready_file).unlink(missing_ok=True)
