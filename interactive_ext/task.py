"""The @interactive decorator and the run/launch/wait/resume loop."""

from __future__ import annotations

import contextlib
import contextvars
import functools
import importlib
import importlib.util
import inspect
import linecache
import logging
import os
import pickle
import shutil
import signal
import sys
import threading
import time
import traceback
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from .launcher import Server, ServerError, ServerSpec
from .session import (
    CONTEXT,
    ERROR,
    EXCEPTION,
    INPUTS,
    OUTCOME,
    READY,
    SAVED_INPUTS,
    SESSION_ENV,
    Session,
)

__all__ = [
    "IdleTimeout",
    "Options",
    "ServerError",
    "interactive",
    "load_function",
    "run_interactive",
]

log = logging.getLogger("interactive_ext")

ENABLE_ENV = "INTERACTIVE_EXT_ENABLE"
"""Environment variable that overrides the decorator's `enable` (0 or 1)."""

ON_IDLE = ("fail", "resume")

# Set while the task function itself runs (resumed, or run first): a decorated function called
# from inside it, or from a module re-executed on reload, just runs.
_DIRECT: contextvars.ContextVar[bool] = contextvars.ContextVar("interactive_direct", default=False)


class IdleTimeout(RuntimeError):
    """Nobody resumed the task before the idle timeout (or the lifetime cap) stopped the server."""


# -- options ------------------------------------------------------------------------


@dataclass
class Options:
    """The parameters of @interactive (see the README for each one)."""

    max_idle_seconds: float = 3600
    port: int = 8888
    ip: str = "127.0.0.1"
    enable: bool = True
    run_task_first: bool = False
    notebook_dir: str | None = None
    pre_execute: Callable[[], Any] | None = None
    post_execute: Callable[[], Any] | None = None
    on_idle: str = "fail"
    max_lifetime_seconds: float = 0
    token: str | None = None
    ready_file: str | None = None

    def __post_init__(self) -> None:
        """Check every value; TypeError/ValueError say what is wrong and what is allowed."""
        for name in ("max_idle_seconds", "max_lifetime_seconds"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"{name} must be a number of seconds, not {value!r}")
            if value < 0:
                raise ValueError(f"{name} must be >= 0 (0 disables it), got {value}")
        if isinstance(self.port, bool) or not isinstance(self.port, int):
            raise TypeError(f"port must be an int (0 picks a free port), not {self.port!r}")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be in 0..65535 (0 picks a free port), got {self.port}")
        if not isinstance(self.ip, str) or not self.ip:
            raise TypeError(f"ip must be a non-empty string like '127.0.0.1', not {self.ip!r}")
        for name in ("enable", "run_task_first"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be True or False, not {getattr(self, name)!r}")
        for name in ("pre_execute", "post_execute"):
            value = getattr(self, name)
            if value is not None and not callable(value):
                raise TypeError(f"{name} must be a callable taking no arguments, not {value!r}")
        if self.on_idle not in ON_IDLE:
            raise ValueError(
                f"on_idle must be 'fail' (raise IdleTimeout) or 'resume' (run the task anyway), "
                f"not {self.on_idle!r}"
            )
        if self.token is not None and (not isinstance(self.token, str) or not self.token):
            raise TypeError(
                f"token must be a non-empty string (None: JUPYTER_TOKEN or random), "
                f"not {self.token!r}"
            )
        for name in ("notebook_dir", "ready_file"):
            value = getattr(self, name)
            if value is None:
                continue
            if not isinstance(value, (str, os.PathLike)):
                raise TypeError(f"{name} must be a path, not {value!r}")
            setattr(self, name, os.fspath(value))


def options_from(**options: Any) -> Options:
    """Options from keyword arguments, with a clear error for an unknown name."""
    known = [f.name for f in fields(Options)]
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise TypeError(
            f"unknown option(s) {', '.join(unknown)} for @interactive; "
            f"the options are {', '.join(known)}"
        )
    return Options(**options)


def enabled(options: Options) -> bool:
    """Whether the task is interactive: INTERACTIVE_EXT_ENABLE=0|1 overrides `enable`."""
    value = os.environ.get(ENABLE_ENV, "").strip().lower()
    if not value:
        return options.enable
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{ENABLE_ENV}={value!r} is not valid: use 1 (interactive) or 0 (disabled)")


# -- the decorator --------------------------------------------------------------------


def interactive(fn: Callable[..., Any] | None = None, /, **options: Any) -> Any:
    """Make a task interactive: `@interactive` or `@interactive(max_idle_seconds=600, ...)`."""
    opts = options_from(**options)

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        if not callable(func):
            raise TypeError(f"@interactive decorates a function, not {func!r}")

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return run_interactive(func, args, kwargs, opts)

        wrapper.__interactive__ = opts  # type: ignore[attr-defined]
        return wrapper

    if fn is None:
        return decorate
    return decorate(fn)


def unwrap(obj: Any) -> Any:
    """The function under @interactive layers (other decorators are kept)."""
    while getattr(obj, "__interactive__", None) is not None and hasattr(obj, "__wrapped__"):
        obj = obj.__wrapped__
    return obj


# -- inputs ------------------------------------------------------------------------------


def bind_inputs(func: Callable[..., Any], args: tuple, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The inputs by parameter name (defaults applied; **kwargs flattened); TypeError if bad."""
    sig = inspect.signature(func)
    try:
        bound = sig.bind(*args, **kwargs)
    except TypeError as e:
        name = getattr(func, "__qualname__", repr(func))
        raise TypeError(f"bad arguments for task {name}{sig}: {e}") from None
    bound.apply_defaults()
    inputs: dict[str, Any] = {}
    for name, value in bound.arguments.items():
        if sig.parameters[name].kind is inspect.Parameter.VAR_KEYWORD:
            inputs.update(value)
        else:
            inputs[name] = value
    return inputs


def call_with_inputs(func: Callable[..., Any], inputs: dict[str, Any]) -> Any:
    """Call func with inputs by name (as bind_inputs made them), following its signature."""
    sig = inspect.signature(func)
    params = sig.parameters
    has_varargs = any(p.kind is p.VAR_POSITIONAL for p in params.values())
    has_varkw = any(p.kind is p.VAR_KEYWORD for p in params.values())
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    positional = True
    for name, p in params.items():
        if p.kind is p.VAR_KEYWORD:
            continue
        if p.kind is p.VAR_POSITIONAL:
            args.extend(inputs.get(name, ()))
            positional = False
            continue
        if name not in inputs:
            positional = positional and p.kind is not p.POSITIONAL_ONLY
            continue
        if p.kind is p.POSITIONAL_ONLY or (
            has_varargs and positional and p.kind is p.POSITIONAL_OR_KEYWORD
        ):
            args.append(inputs[name])
        else:
            kwargs[name] = inputs[name]
    extra = {k: v for k, v in inputs.items() if k not in params}
    if extra and not has_varkw:
        name = getattr(func, "__qualname__", repr(func))
        raise TypeError(
            f"input(s) {', '.join(sorted(extra))} are not parameters of {name}{sig} "
            "(was a parameter removed from the source?)"
        )
    kwargs.update(extra)
    return func(*args, **kwargs)


def _direct_call(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    token = _DIRECT.set(True)
    try:
        return func(*args, **kwargs)
    finally:
        _DIRECT.reset(token)


# -- loading functions ------------------------------------------------------------------


def _resolve(module: types.ModuleType, qualname: str, where: str) -> Callable[..., Any]:
    obj: Any = module
    for part in qualname.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            public = sorted(
                n for n, v in vars(module).items() if callable(v) and not n.startswith("_")
            )
            raise ValueError(
                f"{where} has no function {qualname!r}; it has: {', '.join(public) or 'none'}"
            ) from None
    if not callable(obj):
        raise ValueError(f"{where}:{qualname} is not a function (it is {type(obj).__name__})")
    return obj  # type: ignore[no-any-return]


def _exec_source(module: types.ModuleType, source_file: str) -> None:
    """Run a module's source file in its namespace, read afresh (no stale bytecode)."""
    code = compile(Path(source_file).read_bytes(), source_file, "exec")
    linecache.checkcache(source_file)
    token = _DIRECT.set(True)
    try:
        exec(code, module.__dict__)
    finally:
        _DIRECT.reset(token)


def _load_file(path: Path) -> types.ModuleType:
    """Import a .py file as a module named after it, its folder first on sys.path."""
    folder = str(path.parent.resolve())
    if folder not in sys.path:
        sys.path.insert(0, folder)
    name = path.stem
    existing = sys.modules.get(name)
    if existing is not None and os.path.realpath(getattr(existing, "__file__", "") or "") == str(
        path.resolve()
    ):
        return existing
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ValueError(f"cannot import {path}: not a Python source file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def load_function(ref: str) -> Callable[..., Any]:
    """The function named by "pkg.module:func" or "path/to/file.py:func"; ValueError if unknown."""
    module_part, sep, qualname = ref.rpartition(":")
    if not sep or not module_part or not qualname:
        raise ValueError(
            f"{ref!r} does not name a function: use MODULE:FUNCTION (pkg.module:train) "
            "or path/to/file.py:FUNCTION"
        )
    if module_part.endswith(".py") or os.sep in module_part or "/" in module_part:
        path = Path(module_part)
        if not path.is_file():
            raise ValueError(f"no such file {module_part!r} (from {ref!r})")
        module = _load_file(path)
        return _resolve(module, qualname, str(path))
    try:
        module = importlib.import_module(module_part)
    except ModuleNotFoundError as e:
        if e.name and module_part.startswith(e.name):
            raise ValueError(
                f"no module named {module_part!r} (from {ref!r}); is it installed, "
                "or is its folder on PYTHONPATH?"
            ) from None
        raise
    return _resolve(module, qualname, module_part)


def reload_function(context: dict[str, Any]) -> Callable[..., Any]:
    """The task's function re-loaded from its (possibly edited) source, without @interactive."""
    module_name, qualname = context["module"], context["qualname"]
    source = context.get("source_file")
    if module_name == "__main__" or module_name not in sys.modules:
        if not source or not os.path.isfile(source):
            if module_name == "__main__":
                raise ValueError(f"cannot re-load {qualname}: its source file {source} is gone")
            module = importlib.import_module(module_name)
        else:
            name = "__interactive_main__" if module_name == "__main__" else module_name
            module = sys.modules.get(name) or types.ModuleType(name)
            module.__file__ = source
            sys.modules[name] = module
            _exec_source(module, source)
    else:
        module = sys.modules[module_name]
        file = getattr(module, "__file__", None) or source
        if file and os.path.isfile(file) and file.endswith(".py"):
            importlib.invalidate_caches()
            _exec_source(module, file)
        else:
            module = importlib.reload(module)
    return unwrap(_resolve(module, qualname, module_name))  # type: ignore[no-any-return]


def source_root(module_name: str, source_file: str | None) -> str | None:
    """The folder to put on sys.path so that module_name imports from source_file."""
    if not source_file:
        return None
    path = Path(source_file).resolve()
    folder = path.parent
    if module_name not in ("__main__", "__interactive_main__"):
        depth = module_name.count(".") + (1 if path.stem == "__init__" else 0)
        for _ in range(depth):
            folder = folder.parent
    return str(folder)


# -- the session -------------------------------------------------------------------------


def make_context(func: Callable[..., Any], notebook: Path) -> dict[str, Any]:
    """The session's context.json for func."""
    target = unwrap(func)
    try:
        source = inspect.getsourcefile(target)
    except TypeError:
        source = None
    params = inspect.signature(target).parameters
    return {
        "module": target.__module__,
        "qualname": target.__qualname__,
        "source_file": os.path.abspath(source) if source else None,
        "parameters": [n for n, p in params.items() if p.kind is not p.VAR_KEYWORD],
        "var_keyword": any(p.kind is p.VAR_KEYWORD for p in params.values()),
        "notebook": str(notebook),
        "started": time.time(),
        "pid": os.getpid(),
    }


def write_inputs(session: Session, inputs: dict[str, Any]) -> list[str]:
    """Pickle the inputs for the kernels; the names of those that do not pickle (left out)."""
    try:
        session.write_pickle(INPUTS, inputs)
        return []
    except Exception:
        pass
    good: dict[str, Any] = {}
    skipped: list[str] = []
    for name, value in inputs.items():
        try:
            pickle.dumps(value)
        except Exception:
            skipped.append(name)
        else:
            good[name] = value
    log.warning("inputs that do not pickle are not available in notebooks: %s", ", ".join(skipped))
    session.write_pickle(INPUTS, good)
    return skipped


def record_error(session: Session, exc: BaseException) -> dict[str, Any]:
    """Write error.json (type, message, traceback) and exception.pkl when it pickles."""
    kind = type(exc)
    error = {
        "type": kind.__name__
        if kind.__module__ == "builtins"
        else f"{kind.__module__}.{kind.__qualname__}",
        "message": str(exc),
        "traceback": "".join(traceback.format_exception(kind, exc, exc.__traceback__)),
    }
    session.write_json(ERROR, error)
    try:
        session.write_pickle(EXCEPTION, exc)
    except Exception:
        with contextlib.suppress(FileNotFoundError):
            (session.path / EXCEPTION).unlink()
    return error


def _ensure_logging() -> None:
    """Make the URL line visible when the program configured no logging at all."""
    if not logging.getLogger().handlers and not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("[interactive_ext] %(message)s"))
        log.addHandler(handler)
        if log.level == logging.NOTSET:
            log.setLevel(logging.INFO)


# -- signals --------------------------------------------------------------------------


class _Interrupted(BaseException):
    """SIGTERM or SIGINT arrived while the server ran."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class _Signals:
    """SIGTERM/SIGINT while the server runs: raise _Interrupted once while armed, else note it."""

    def __init__(self) -> None:
        self.previous: dict[int, Any] = {}
        self.received: int | None = None
        self.armed = True

    def handler(self, signum: int, frame: Any) -> None:
        if self.received is not None:
            return
        self.received = signum
        if self.armed:
            raise _Interrupted(signum)


@contextlib.contextmanager
def _catch_signals() -> Iterator[_Signals]:
    """While the server runs, turn SIGTERM/SIGINT into _Interrupted so that it is stopped."""
    state = _Signals()
    if threading.current_thread() is not threading.main_thread():
        yield state
        return
    for sig in (signal.SIGTERM, signal.SIGINT):
        prev = signal.getsignal(sig)
        if prev is signal.SIG_IGN:
            continue
        state.previous[sig] = prev
        signal.signal(sig, state.handler)
    try:
        yield state
    finally:
        for signum, handler_before in state.previous.items():
            signal.signal(signum, handler_before if handler_before is not None else signal.SIG_DFL)


def _reraise_signal(signum: int, previous: dict[int, Any]) -> None:
    """After the server is stopped: behave as the signal would have without us."""
    prev = previous.get(signum, signal.SIG_DFL)
    if callable(prev) and prev not in (signal.default_int_handler,):
        prev(signum, None)
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise SystemExit(128 + signum)


# -- the loop ---------------------------------------------------------------------------


def run_interactive(
    func: Callable[..., Any], args: tuple, kwargs: dict[str, Any], options: Options
) -> Any:
    """Run a task interactively: serve Jupyter, wait for resume, run the re-loaded function."""
    if _DIRECT.get() or os.environ.get(SESSION_ENV) or not enabled(options):
        return func(*args, **kwargs)
    inputs = bind_inputs(func, args, kwargs)
    _ensure_logging()
    if options.pre_execute is not None:
        options.pre_execute()
    error: BaseException | None = None
    if options.run_task_first:
        try:
            return _direct_call(func, *args, **kwargs)
        except Exception as e:
            log.warning(
                "task %s failed (%s: %s); starting Jupyter", func.__qualname__, type(e).__name__, e
            )
            error = e
    return _Run(func, inputs, options, error).run()


class _Run:
    """One interactive run: the session, the server rounds and the resume."""

    def __init__(
        self,
        func: Callable[..., Any],
        inputs: dict[str, Any],
        options: Options,
        error: BaseException | None,
    ) -> None:
        self.func = func
        self.inputs = inputs
        self.options = options
        self.error = error
        self.notebook_dir = Path(options.notebook_dir or os.getcwd()).resolve()
        if not self.notebook_dir.is_dir():
            raise ValueError(
                f"notebook_dir {self.notebook_dir} is not a directory; create it or pass another"
            )

    def run(self) -> Any:
        """The whole loop; returns the task's result or raises."""
        from .notebook import notebook_name, write_notebook

        session = Session.create()
        log.info("interactive session directory %s", session.path)
        ok = False
        served = False
        try:
            qualname = unwrap(self.func).__qualname__
            context = make_context(self.func, self.notebook_dir / notebook_name(qualname))
            self.context = context

            def prepare() -> None:
                """The session's files and the notebook, written while the server starts."""
                skipped = write_inputs(session, self.inputs)
                if skipped:
                    context["unpicklable"] = skipped
                session.write_json(CONTEXT, context)
                error = record_error(session, self.error) if self.error is not None else None
                write_notebook(self.notebook_dir, context, error)

            first: Callable[[], None] | None = prepare
            while True:
                served = True
                # The files are written while the server child starts (nbformat alone takes
                # a second to import, a large input as long to pickle): they overlap.
                outcome = self.serve(session, while_starting=first)
                first = None
                reason = outcome.get("reason")
                if reason != "resumed" and self.options.on_idle == "fail":
                    raise IdleTimeout(self.idle_message(reason, session))
                if reason != "resumed":
                    log.info("server stopped (%s); on_idle='resume': running the task", reason)
                saved = session.read_pickle(SAVED_INPUTS) or {}
                inputs = {**self.inputs, **saved, **(outcome.get("inputs") or {})}
                try:
                    if "<locals>" in qualname:
                        log.info("%s is a nested function: running it as it was", qualname)
                        func = unwrap(self.func)
                    else:
                        func = reload_function(context)
                    log.info("resuming task %s", qualname)
                    result = _direct_call(call_with_inputs, func, inputs)
                except Exception as e:
                    if not self.options.run_task_first:
                        raise
                    log.warning(
                        "resumed task %s failed (%s: %s); starting Jupyter again",
                        qualname,
                        type(e).__name__,
                        e,
                    )
                    self.inputs = inputs
                    write_inputs(session, inputs)
                    for name in (SAVED_INPUTS, OUTCOME):
                        with contextlib.suppress(FileNotFoundError):
                            (session.path / name).unlink()
                    record_error(session, e)
                    continue
                ok = True
                return result
        finally:
            if served and self.options.post_execute is not None:
                self.options.post_execute()
            if ok:
                shutil.rmtree(session.path, ignore_errors=True)
                log.info("task done; removed the session directory %s", session.path)
            else:
                log.warning(
                    "kept the session directory %s (the task did not succeed)", session.path
                )

    def idle_message(self, reason: str | None, session: Session) -> str:
        """The IdleTimeout message."""
        opts = self.options
        if reason == "lifetime":
            why = f"its lifetime cap (max_lifetime_seconds={opts.max_lifetime_seconds:g})"
        else:
            why = f"nobody resumed it within max_idle_seconds={opts.max_idle_seconds:g}"
        return (
            f"the Jupyter server for task {self.context['qualname']} stopped: {why} "
            f"(on_idle='fail'; pass on_idle='resume' to run the task anyway); "
            f"session kept in {session.path}"
        )

    def serve(
        self, session: Session, while_starting: Callable[[], None] | None = None
    ) -> dict[str, Any]:
        """Start the server, wait for it to stop by itself, stop it; the recorded outcome."""
        for name in (OUTCOME, READY):
            with contextlib.suppress(FileNotFoundError):
                (session.path / name).unlink()
        opts = self.options
        root = source_root(self.context["module"], self.context.get("source_file"))
        server = Server(
            ServerSpec(
                session=session,
                root_dir=str(self.notebook_dir),
                ip=opts.ip,
                port=opts.port,
                token=opts.token,
                max_idle_seconds=opts.max_idle_seconds,
                max_lifetime_seconds=opts.max_lifetime_seconds,
                source_dirs=[root] if root else [],
                ready_file=opts.ready_file,
            )
        )
        code: int | None = None
        with _catch_signals() as signals:
            try:
                server.spawn()
                if while_starting is not None:
                    while_starting()
                info = server.wait_ready()
                log.info(
                    "Jupyter for task %s: %s (notebook %s)",
                    self.context["qualname"],
                    info["url"],
                    self.context["notebook"],
                )
                code = server.wait()
            except _Interrupted:
                pass
            finally:
                signals.armed = False  # a signal now is noted; the stop is not cut short
                try:
                    server.stop()
                finally:
                    if opts.ready_file:
                        with contextlib.suppress(OSError):
                            os.unlink(opts.ready_file)
        if signals.received is not None:
            name = signal.Signals(signals.received).name
            log.warning("got %s: stopped the Jupyter server and its kernels", name)
            _reraise_signal(signals.received, signals.previous)
        outcome = session.outcome()
        if outcome is None:
            raise server.error(f"the Jupyter server exited (code {code}) without a resume")
        return outcome
