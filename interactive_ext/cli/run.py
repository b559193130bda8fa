"""`jupyter interactive-task run`: load the task, build its options, run it, write its result."""

from __future__ import annotations

import argparse
import contextlib
import inspect
import logging
import os
import pickle
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..child import handover
from ..errors import Terminated, own_interrupt
from ..options import Options, option_names
from ..protocol import SESSION_ENV
from ..task.signals import own_interrupts, signals_as_exceptions
from . import exits
from .exits import UsageError
from .parked_flags import TRUST_HELP
from .tokens import TOKEN_FILE_FLAG, token_from

log = logging.getLogger("interactive_ext.cli")

RUN_EPILOG = """\
exit codes:
  0    the task returned (its result is on stdout, or in --output)
  0    also when the task calls sys.exit(0) or sys.exit() (its result is null)
  1    the task raised (its traceback is on stderr; a KeyboardInterrupt it
       raises itself too) or called sys.exit(N) with
       N not 0 (N is named on stderr), its module raised while being imported,
       or its result could not be written: a result that is not
       JSON-serializable needs --output FILE.pkl
  2    bad arguments: bad --kwargs JSON, unknown module, file or function,
       kwargs that do not fit the function's signature, a bad option value
  3    the server stopped on the idle timeout or the lifetime cap (--on-idle fail)
  4    the server died or never came up: the port is taken, or --ip does not
       resolve or is not an address of this machine (one line on stderr)
  5    the machine failed, not the task: a read-only --notebook-dir, a full
       disk, an unusable session directory, a TMPDIR that does not exist (it is
       refused, not replaced by /tmp) (one line on stderr; nothing kept)
  130  interrupted (SIGINT); 143 terminated (SIGTERM): the server and its
       kernels are stopped first

stdout carries only the result: what the task prints goes to stderr.
Environment: INTERACTIVE_EXT_ENABLE=0|1 overrides --enable; JUPYTER_TOKEN is the
default token. The token: --token shows in every user's `ps`; --token-file FILE
(chmod 600) or JUPYTER_TOKEN do not.
"""


OWN_INTERRUPT_TEXT = (
    "the task raised KeyboardInterrupt itself (no SIGINT arrived): a failure of the task, its "
    "traceback above"
)


class ResultError(Exception):
    """The task returned, but its result cannot be written as asked: exit 1."""


def add_run_command(sub: Any, common: argparse.ArgumentParser, fmt: Any) -> Any:
    """The `run` subcommand's parser, without the option flags."""
    run = sub.add_parser(
        "run",
        parents=[common],
        help="run MODULE:FUNCTION interactively and print its result",
        description="Run a function as an interactive task: start Jupyter with its inputs, "
        "wait for a resume (REST, `resume`, or resume() in a notebook), run it and write "
        "its result.",
        epilog=RUN_EPILOG,
        formatter_class=fmt,
    )
    run.add_argument(
        "function",
        nargs="?",
        metavar="MODULE:FUNCTION",
        help="the task: pkg.module:func, or path/to/file.py:func (not with --from)",
    )
    run.add_argument(
        "--from",
        dest="source",
        metavar="PATH|URL",
        help="run the task of a parked session again: its sources with the saved edits, its "
        "inputs with the saved overrides and --kwargs",
    )
    run.add_argument("--trust", action="store_true", help=TRUST_HELP)
    run.add_argument(
        "--kwargs", metavar="JSON", help="keyword arguments as a JSON object (default: {})"
    )
    run.add_argument(
        "--kwargs-file",
        metavar="FILE",
        help="keyword arguments from a JSON file (a pickle if FILE ends in .pkl); "
        "--kwargs override its keys",
    )
    run.add_argument(TOKEN_FILE_FLAG[0], **TOKEN_FILE_FLAG[1])
    run.add_argument(
        "--output",
        metavar="FILE",
        help="write the result to FILE: a pickle if it ends in .pkl, else JSON "
        "(default: JSON on stdout)",
    )
    return run


def _kwargs_file(path: Path) -> dict[str, Any]:
    """The keyword arguments of --kwargs-file: JSON, or a pickle the user names (.pkl)."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise UsageError(f"cannot read --kwargs-file {path}: {e.strerror}") from None
    if path.suffix != ".pkl":
        return exits.json_object(raw.decode(errors="replace"), f"--kwargs-file {path}", '{"a": 1}')
    try:
        value = pickle.loads(raw)  # a file the user names, on this machine
    except Exception as e:
        raise UsageError(f"--kwargs-file {path} is not a readable pickle: {e}") from None
    if not isinstance(value, dict):
        raise UsageError(f"--kwargs-file {path} must hold a dict, not {type(value).__name__}")
    return value


def load_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The task's keyword arguments: --kwargs-file (JSON, or pickle if .pkl), then --kwargs."""
    kwargs: dict[str, Any] = {}
    if args.kwargs_file:
        kwargs.update(_kwargs_file(Path(args.kwargs_file)))
    if args.kwargs is not None:
        kwargs.update(exits.json_object(args.kwargs, "--kwargs", '{"epochs": 3}'))
    return kwargs


def check_signature(func: Callable[..., Any], kwargs: dict[str, Any]) -> None:
    """Raise UsageError when kwargs do not fit func's signature (before anything starts)."""
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):
        return
    try:
        sig.bind(**kwargs)
    except TypeError as e:
        name = getattr(func, "__qualname__", repr(func))
        raise UsageError(
            f"the arguments do not fit {name}{sig}: {e}; give them with --kwargs "
            "'{\"name\": value}' or --kwargs-file FILE"
        ) from None


def typed_kwargs(func: Callable[..., Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    """kwargs converted to func's annotations; UsageError naming a value that does not fit."""
    from ..errors import InputsError
    from ..task.parameters import convert

    try:
        return convert(func, kwargs)
    except InputsError as e:
        raise UsageError(f"--kwargs: {e}") from None


def load(ref: str, what: str) -> Callable[..., Any]:
    """Load MODULE:FUNCTION or FILE.py:FUNCTION, with exit 2 on failure."""
    from ..task.loader import load_function

    if ":" not in ref:
        raise UsageError(
            f"{what or 'the task'} {ref!r} is not MODULE:FUNCTION or path/to/file.py:FUNCTION "
            "(e.g. examples/train.py:train)"
        )
    try:
        return load_function(ref)
    except ValueError as e:
        raise UsageError(f"{what}: {e}" if what else str(e)) from None


def check_flags(args: argparse.Namespace) -> None:
    """A bad option flag (a negative time, say) is exit 2 before anything starts: a flag wins
    over the decorator's options, so it is wrong whatever the task declares."""
    hooks = ("pre_execute", "post_execute")  # MODULE:FUNCTION, loaded with the task
    given = {n: getattr(args, n, None) for n in option_names() if n not in hooks}
    try:
        Options(**{n: v for n, v in given.items() if v is not None})
    except (TypeError, ValueError) as e:
        raise UsageError(str(e)) from None


def build_options(args: argparse.Namespace, func: Any) -> Options:
    """The Options: the decorator's own (if func is decorated), then the flags given."""
    args.token = token_from(args)  # --token-file's, read once the task is known to load
    given = {
        name: getattr(args, name)
        for name in option_names()
        if getattr(args, name, None) is not None
    }
    for hook in ("pre_execute", "post_execute"):
        if hook in given:
            given[hook] = load(given[hook], f"--{hook.replace('_', '-')}")
    base = getattr(func, "__interactive__", None)
    if isinstance(base, Options):
        given = {name: getattr(base, name) for name in option_names()} | given
    try:
        options = Options(**given)
        options.enabled  # noqa: B018 (a bad INTERACTIVE_EXT_ENABLE is a usage error too)
    except (TypeError, ValueError) as e:
        raise UsageError(str(e)) from None
    if options.notebook_dir and not Path(options.notebook_dir).is_dir():
        raise UsageError(f"--notebook-dir {options.notebook_dir} is not a directory; create it")
    return options


def write_result(result: Any, output: str | None) -> None:
    """Write the result: pickle to .pkl, else JSON to the file or to stdout."""
    import json

    from ..session.atomic import atomic_write

    if output and output.endswith(".pkl"):
        try:
            data = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as e:
            kind = type(result).__name__
            raise ResultError(f"the task returned a {kind}, which does not pickle ({e})") from None
        atomic_write(output, data, mode=0o666)  # the umask decides, as for open()
        return
    try:
        text = json.dumps(result, indent=None if output is None else 1)
    except (TypeError, ValueError) as e:
        raise ResultError(
            f"the task returned a {type(result).__name__}, which is not JSON-serializable "
            f"({e}); run again with --output FILE.pkl to get it pickled"
        ) from None
    if output is None:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    else:
        atomic_write(output, (text + "\n").encode(), mode=0o666)


def cmd_run(args: argparse.Namespace) -> int:
    """Run a task with the interactive wrapper and write its result."""
    with signals_as_exceptions():
        try:
            return _run(args)
        except KeyboardInterrupt as e:
            if own_interrupt(e):  # raised by the task itself: its failure
                traceback.print_exc()
                return exits.fail(exits.TASK_FAILED, OWN_INTERRUPT_TEXT)
            return exits.fail(exits.SIGINT, "interrupted (SIGINT)")
        except Terminated:
            return exits.fail(exits.SIGTERM, "terminated (SIGTERM)")
        finally:
            handover.discard()  # a server child spawned ahead that nobody took


def serves_at_once(given: Any) -> bool:
    """Whether the server starts before the task runs: enabled, no first run, rank 0, not in a
    kernel. given: the Options, or the parsed flags (the decorator's own are not known yet)."""
    from ..task.ranks import detect_world
    from ..task.run import runs_first

    if os.environ.get(SESSION_ENV):
        return False
    if not isinstance(given, Options):
        names = ("enable", "run_task_first", "pause", "on_failure", "park_to")
        flags = {n: getattr(given, n) for n in names if getattr(given, n, None) is not None}
        try:
            given = Options(**flags)
        except (TypeError, ValueError):
            return False
    try:
        return given.enabled and not runs_first(given) and not detect_world().follows
    except ValueError:  # bad INTERACTIVE_EXT_ENABLE or rank variables: the run names them
        return False


def prepare(args: argparse.Namespace) -> tuple[Callable[..., Any], dict[str, Any], Options]:
    """The task's plain function, its keyword arguments and its options."""
    from ..task.direct import unwrap

    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())  # MODULE:FUNCTION from here, as `python -m` does
    if bool(args.function) == bool(args.source):
        raise UsageError("give the task as MODULE:FUNCTION, or --from PATH|URL (one of them)")
    if args.source:
        from .parked import from_parked

        ref, kwargs, overrides = from_parked(args)
        func = load(ref, "--from")
        plain = unwrap(func)
        kwargs.update(typed_kwargs(plain, {**overrides, **load_kwargs(args)}))
        check_signature(plain, kwargs)
    else:
        kwargs = load_kwargs(args)
        func = load(args.function, "")
        plain = unwrap(func)
        check_signature(plain, kwargs)
        kwargs = typed_kwargs(plain, kwargs)
    options = build_options(args, func)
    if args.output and not Path(args.output).resolve().parent.is_dir():
        raise UsageError(f"--output {args.output}: its directory does not exist")
    return plain, kwargs, options


def run_task(func: Callable[..., Any], kwargs: dict[str, Any], options: Options) -> Any:
    """The task's result, run by the wrapper; a KeyboardInterrupt that the task raises with no
    SIGINT meanwhile is marked as its own (also with --no-enable), for exit 1."""
    from ..task.run import run_interactive

    if not inspect.iscoroutinefunction(func):
        with own_interrupts():
            return run_interactive(func, (), kwargs, options)
    import asyncio

    from ..task.run_async import run_interactive_async

    async def marked() -> Any:  # in the loop: asyncio.run's own SIGINT handler is the one noted
        with own_interrupts():
            return await run_interactive_async(func, (), kwargs, options)

    return asyncio.run(marked())


def _run(args: argparse.Namespace) -> int:
    """cmd_run without the signal handling."""
    check_flags(args)
    if serves_at_once(args):  # its imports overlap ours and loading the task (handover.py)
        handover.start_early()
    from ..errors import EnvironmentFailure, IdleTimeout, ServerError
    from ..task.environment import exit_ok
    from ..task.rank_port import RankError

    try:
        func, kwargs, options = prepare(args)
    except UsageError:
        raise
    except Exception:  # a module that exists raised while being imported
        traceback.print_exc()
        return exits.fail(exits.TASK_FAILED, "importing the task or a hook failed (above)")
    if not serves_at_once(options):
        handover.discard()
    try:
        with contextlib.redirect_stdout(sys.stderr):
            result = run_task(func, kwargs, options)
    except Terminated:
        raise
    except SystemExit as e:  # the task's own: 0 is a success, anything else a failure
        if not exit_ok(e):
            return exits.fail(exits.TASK_FAILED, f"the task called sys.exit({e.code!r})")
        result = None
    except IdleTimeout as e:
        return exits.fail(exits.IDLE, str(e))
    except EnvironmentFailure as e:
        return exits.fail(exits.ENVIRONMENT, str(e))
    except ServerError as e:
        return exits.fail(exits.SERVER, f"the Jupyter server failed: {e}")
    except RankError as e:  # the job's ranks did not all get rank 0's outcome
        return exits.fail(exits.TASK_FAILED, str(e))
    except Exception:
        traceback.print_exc()
        return exits.TASK_FAILED
    try:
        write_result(result, args.output)
    except ResultError as e:
        return exits.fail(exits.TASK_FAILED, str(e))
    except OSError as e:
        return exits.fail(exits.TASK_FAILED, f"cannot write --output {args.output}: {e}")
    return exits.OK
