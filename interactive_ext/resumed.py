"""The runs around the server: the first run (run_task_first, pause="after"), the resumed run's
code and inputs (changed modules re-loaded, overrides converted), a failure recorded."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .loader import direct, reload_function, unwrap
from .names import ERROR, RESULT, SAVED_VALUES
from .options import Options
from .records import Outcome, Reason
from .typecheck import convert, describe

if TYPE_CHECKING:
    from .runner import TaskRun

log = logging.getLogger("interactive_ext")


def runs_first(options: Options) -> bool:
    """Whether the task runs before any server starts (and a failed resumed run serves again)."""
    return options.run_task_first or options.pause == "after"


def first_failed(func: Callable[..., Any], error: Exception) -> None:
    """Log the first run's failure."""
    log.warning(
        "task %s failed (%s: %s); starting Jupyter",
        getattr(func, "__qualname__", func),
        type(error).__name__,
        error,
    )


def first_succeeded(func: Callable[..., Any], options: Options) -> bool:
    """After the first run succeeded: whether to pause (serve Jupyter) before returning."""
    if options.pause != "after":
        return False
    log.info(
        "task %s succeeded; pause='after': starting Jupyter (load_result() has its result)",
        getattr(func, "__qualname__", func),
    )
    return True


def run_first(
    func: Callable[..., Any], args: tuple, kwargs: dict[str, Any], options: Options
) -> tuple[BaseException | None, tuple[Any] | None]:
    """Run the task first if asked: (its failure, None) or (None, (its result,))."""
    if not runs_first(options):
        return None, None
    try:
        with direct():
            return None, (func(*args, **kwargs),)
    except Exception as e:
        first_failed(func, e)
        return e, None


def describe_task(run: TaskRun) -> None:
    """The context's parameters and module files; result.pkl when the first run succeeded."""
    run.context.parameters = describe(unwrap(run.func), run.inputs)
    run.context.modules = dict(run.modules)
    run.session.remove(SAVED_VALUES)
    if run.result is None:
        run.session.remove(RESULT)
        return
    try:
        run.session.write_pickle(RESULT, run.result[0])
    except Exception as e:
        log.warning("the task's result does not pickle (%s): load_result() cannot give it", e)
        run.session.remove(RESULT)


def kept_result(run: TaskRun, outcome: Outcome) -> bool:
    """pause="after" and the server stopped by itself: the first run's result stands."""
    if run.result is None or outcome.reason is Reason.RESUMED:
        return False
    log.info(
        "server stopped (%s); returning the result task %s already computed",
        outcome.reason.value,
        run.qualname,
    )
    return True


def resumed_call(run: TaskRun, inputs: dict[str, Any]) -> tuple[Callable[..., Any], dict]:
    """The re-loaded function and its inputs, the overrides converted to its annotations."""
    if "<locals>" in run.qualname:
        log.info("%s is a nested function: running it as it was", run.qualname)
        func = unwrap(run.func)
    else:
        func = reload_function(run.context, run.modules)
    overrides = {k: inputs[k] for k in getattr(run, "overrides", {}) if k in inputs}
    log.info("resuming task %s", run.qualname)
    return func, {**inputs, **convert(func, overrides)}


def record_failure(run: TaskRun, error: Exception) -> None:
    """A resumed run failed: error.json and exception.pkl in the session, a line in the log."""
    from .runner import record_error

    record_error(run.session, error)
    run.result = None
    run.session.remove(RESULT)
    log.error(
        "resumed task %s failed (%s: %s); its traceback is in %s",
        run.qualname,
        type(error).__name__,
        error,
        run.session.path / ERROR,
    )
