"""jupyter interactive-task: run a task interactively, resume it, show its status, list sessions."""

from __future__ import annotations

import argparse
import contextlib
import inspect
import json
import logging
import os
import pickle
import re
import signal
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from .session import READY, SESSION_ENV

log = logging.getLogger("interactive_ext.cli")

PROG = "jupyter interactive-task"

EXIT_OK = 0
EXIT_TASK_FAILED = 1
EXIT_USAGE = 2
EXIT_IDLE = 3
EXIT_SERVER = 4
EXIT_SIGINT = 130
EXIT_SIGTERM = 143


def option_defaults() -> dict[str, Any]:
    """The decorator's parameters and their defaults (task.Options), for the flags."""
    from dataclasses import fields

    from .task import Options

    return {f.name: f.default for f in fields(Options)}


RUN_EPILOG = """\
exit codes:
  0    the task returned (its result is on stdout, or in --output)
  1    the task raised (its traceback is on stderr), its module raised while
       being imported, or its result could not be written: a result that is
       not JSON-serializable needs --output FILE.pkl
  2    bad arguments: bad --kwargs JSON, unknown module, file or function,
       kwargs that do not fit the function's signature, a bad option value
  3    the server stopped on the idle timeout or the lifetime cap (--on-idle fail)
  4    the server died or never came up (e.g. the port is taken)
  130  interrupted (SIGINT); 143 terminated (SIGTERM): the server and its
       kernels are stopped first

stdout carries only the result: what the task prints goes to stderr.
Environment: INTERACTIVE_EXT_ENABLE=0|1 overrides --enable; JUPYTER_TOKEN is the
default token.
"""

CLIENT_EPILOG = """\
finding the server: --url (the token from --token, from the url's ?token=, or
from JUPYTER_TOKEN), else --session-dir, else the session of the kernel this
runs in ($INTERACTIVE_EXT_SESSION), else the one running interactive session
among the Jupyter servers of this user (their runtime files in
`jupyter --runtime-dir`); none or several found is exit 2.

exit codes: 0 ok; 1 the server refused (409: it is already resuming or
stopping) or failed; 2 no server found, connection refused, bad token
(403), bad --inputs (400).
"""


class UsageError(Exception):
    """Bad input from the person at the keyboard: one clear line on stderr, exit 2."""


class ServerRefused(Exception):
    """The server answered, but not with success: exit 1."""


class Terminated(BaseException):
    """SIGTERM arrived: unwind (stopping the server) and exit 143."""


# -- talking to a server ----------------------------------------------------------

FRONTEND_SUFFIX = re.compile(r"(lab|tree|notebooks|doc|interactive)(/.*)?$")


@dataclass
class Server:
    """A running Jupyter server: where it is and how to authenticate."""

    url: str
    token: str
    source: str = "--url"

    @classmethod
    def from_url(cls, url: str, token: str | None = None, source: str = "--url") -> Server:
        """Parse a URL as printed by Jupyter (a ?token= in it is used if token is None)."""
        from urllib.parse import parse_qs, urlsplit, urlunsplit

        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise UsageError(
                f"--url {url!r} is not an http(s) URL; give it like http://127.0.0.1:8888/"
            )
        if token is None:
            token = parse_qs(parts.query).get("token", [os.environ.get("JUPYTER_TOKEN", "")])[0]
        path = FRONTEND_SUFFIX.sub("", parts.path or "/")
        if not path.endswith("/"):
            path += "/"
        return cls(urlunsplit((parts.scheme, parts.netloc, path, "", "")), token, source)

    @property
    def link(self) -> str:
        """The URL a person opens (with the token)."""
        return f"{self.url}?token={self.token}" if self.token else self.url

    def request(
        self, method: str, path: str, body: dict[str, Any] | None = None, timeout: float = 10
    ) -> tuple[int, Any]:
        """One REST call: (status, JSON body); raises UsageError when nothing answers."""
        import urllib.error
        import urllib.request

        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if self.token:
            req.add_header("Authorization", f"token {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return resp.status, _json_or_text(resp.read())
        except urllib.error.HTTPError as e:
            return e.code, _json_or_text(e.read())
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise UsageError(
                f"no server answers at {self.url} ({reason}); is the task still waiting? "
                f"`{PROG} list` shows the running sessions"
            ) from None


def _json_or_text(raw: bytes) -> Any:
    """Decode a response body: JSON if it is, else its text."""
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")


def _message(body: Any) -> str:
    """The message of a Jupyter error body."""
    if isinstance(body, dict):
        return str(body.get("message") or body.get("reason") or body)
    return str(body).strip()[:200]


def runtime_servers() -> list[dict[str, Any]]:
    """Info of the Jupyter servers of this user that are running (jpserver-*.json files)."""
    from jupyter_core.paths import jupyter_runtime_dir

    runtime = Path(jupyter_runtime_dir())
    servers = []
    for path in sorted(runtime.glob("jpserver-*.json")):
        try:
            info = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # being written, or not ours to read
        if _alive(info.get("pid")) and info.get("url"):
            info["info_file"] = str(path)
            servers.append(info)
    return servers


def _alive(pid: Any) -> bool:
    """True if pid (read from a runtime file: any JSON value) is a live process."""
    from .launcher import alive

    return isinstance(pid, int) and pid > 0 and alive(pid)


def interactive_sessions() -> list[tuple[Server, dict[str, Any]]]:
    """The running servers that serve /interactive/status, with their status."""
    found = []
    for info in runtime_servers():
        server = Server.from_url(info["url"], info.get("token") or "", info["info_file"])
        try:
            code, status = server.request("GET", "interactive/status", timeout=3)
        except UsageError:
            log.debug("no answer from %s", server.url)
            continue
        if code == 200 and isinstance(status, dict):
            found.append((server, status))
        else:
            log.debug("%s is not an interactive session (HTTP %s)", server.url, code)
    return found


def server_from_session_dir(path: str, source: str) -> Server:
    """The server of a session directory, from its server.json."""
    ready = Path(path) / READY
    try:
        info = json.loads(ready.read_text())
    except FileNotFoundError:
        raise UsageError(
            f"{ready} does not exist: the server of session {path} is not up "
            "(not ready yet, or already stopped)"
        ) from None
    except (OSError, ValueError) as e:
        raise UsageError(f"cannot read {ready}: {e}") from None
    return Server.from_url(info["url"], info.get("token") or "", source)


def find_server(args: argparse.Namespace) -> Server:
    """The server the client subcommands talk to (see CLIENT_EPILOG)."""
    if args.url:
        return Server.from_url(args.url, args.token)
    if args.token:
        raise UsageError("--token needs --url (a found server's token is known already)")
    if args.session_dir:
        return server_from_session_dir(args.session_dir, f"--session-dir {args.session_dir}")
    env_session = os.environ.get(SESSION_ENV)
    if env_session and (Path(env_session) / READY).exists():
        return server_from_session_dir(env_session, f"${SESSION_ENV}")
    sessions = interactive_sessions()
    if len(sessions) == 1:
        server = sessions[0][0]
        log.info("using the interactive session at %s (%s)", server.url, server.source)
        return server
    if not sessions:
        raise UsageError(
            "no running interactive session found among the Jupyter servers of this user; "
            "give --url URL --token TOKEN (or --session-dir DIR)"
        )
    names = "; ".join(f"{s.url} ({_task_name(st)})" for s, st in sessions)
    raise UsageError(
        f"{len(sessions)} interactive sessions are running, pick one with --url: {names}"
    )


def _task_name(status: dict[str, Any]) -> str:
    """module:qualname of the task of a status, or '-'."""
    task = status.get("task") or {}
    if not task.get("qualname"):
        return "-"
    return f"{task.get('module', '?')}:{task['qualname']}"


def _remaining(status: dict[str, Any]) -> str:
    """What the idle clock says, for a person."""
    idle = status.get("idle") or {}
    if idle.get("holds"):
        return "busy (idle clock held)"
    seconds = idle.get("seconds_remaining")
    if seconds is None:
        return "no idle shutdown"
    return f"idle shutdown in {seconds:.0f} s"


# -- client subcommands -------------------------------------------------------------


def http_failure(server: Server, what: str, code: int, body: Any) -> Exception:
    """The error to raise for an unexpected answer: bad token or no extension is exit 2."""
    if code in (401, 403):
        return UsageError(
            f"the server at {server.url} refused the token (HTTP {code}); check --token"
        )
    if code == 404:
        return UsageError(
            f"{server.url} is a Jupyter server without the interactive extension (HTTP 404)"
        )
    return ServerRefused(f"{what} failed at {server.url}: HTTP {code}: {_message(body)}")


def cmd_resume(args: argparse.Namespace) -> int:
    """POST /interactive/resume, with input overrides."""
    inputs = _parse_json_object(args.inputs, "--inputs", '{"epochs": 3}') if args.inputs else {}
    server = find_server(args)
    code, body = server.request("POST", "interactive/resume", {"inputs": inputs})
    if code == 202:
        names = ", ".join(sorted(inputs)) or "none"
        print(f"resuming the task at {server.url} (input overrides: {names})")
        return EXIT_OK
    msg = _message(body)
    if code == 409:
        raise ServerRefused(f"the server at {server.url} refused to resume: {msg}")
    if code == 400:
        raise UsageError(f"the server rejected the inputs: {msg}")
    raise http_failure(server, "resume", code, body)


def cmd_status(args: argparse.Namespace) -> int:
    """Print GET /interactive/status as JSON."""
    server = find_server(args)
    code, body = server.request("GET", "interactive/status")
    if code == 200:
        print(json.dumps(body, indent=1))
        return EXIT_OK
    raise http_failure(server, "status", code, body)


def cmd_list(args: argparse.Namespace) -> int:
    """One line per running interactive session: url (with token), state, task, idle."""
    sessions = interactive_sessions()
    if args.json:
        rows = [{"url": s.link, "info_file": s.source, "status": st} for s, st in sessions]
        print(json.dumps(rows, indent=1))
        return EXIT_OK
    if not sessions:
        print("no running interactive session", file=sys.stderr)
    for server, status in sessions:
        print(
            f"{server.link}  {status.get('state', '?')}  {_task_name(status)}  {_remaining(status)}"
        )
    return EXIT_OK


# -- run ----------------------------------------------------------------------------


def _parse_json_object(text: str, what: str, example: str) -> dict[str, Any]:
    """Parse a JSON object given on the command line, with a clear error."""
    try:
        value = json.loads(text)
    except ValueError as e:
        raise UsageError(
            f"{what} is not valid JSON ({e}); give an object like '{example}'"
        ) from None
    if not isinstance(value, dict):
        raise UsageError(
            f"{what} must be a JSON object of parameter names to values like '{example}', "
            f"not {type(value).__name__}"
        )
    return value


def load_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The task's keyword arguments: --kwargs-file (JSON, or pickle if .pkl), then --kwargs."""
    kwargs: dict[str, Any] = {}
    if args.kwargs_file:
        path = Path(args.kwargs_file)
        try:
            raw = path.read_bytes()
        except OSError as e:
            raise UsageError(f"cannot read --kwargs-file {path}: {e.strerror}") from None
        if path.suffix == ".pkl":
            try:
                value = pickle.loads(raw)  # a file the user names
            except Exception as e:
                raise UsageError(f"--kwargs-file {path} is not a readable pickle: {e}") from None
            if not isinstance(value, dict):
                raise UsageError(
                    f"--kwargs-file {path} must hold a dict, not {type(value).__name__}"
                )
            kwargs.update(value)
        else:
            kwargs.update(
                _parse_json_object(
                    raw.decode(errors="replace"), f"--kwargs-file {path}", '{"a": 1}'
                )
            )
    if args.kwargs is not None:
        kwargs.update(_parse_json_object(args.kwargs, "--kwargs", '{"epochs": 3}'))
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


def build_options(args: argparse.Namespace, task: Any, func: Any) -> Any:
    """The task.Options: the decorator's own (if func is decorated), then the flags given."""
    base = _decorator_options(task, func)
    given = {
        name: getattr(args, name)
        for name in option_defaults()
        if getattr(args, name, None) is not None
    }
    for hook in ("pre_execute", "post_execute"):
        if hook in given:
            given[hook] = _load(task, given[hook], f"--{hook.replace('_', '-')}")
    if base is not None:
        given = {name: getattr(base, name) for name in option_defaults()} | given
    try:
        options = task.Options(**given)
        task.enabled(options)  # a bad INTERACTIVE_EXT_ENABLE is a usage error too
    except (TypeError, ValueError) as e:
        raise UsageError(str(e)) from None
    if options.notebook_dir and not Path(options.notebook_dir).is_dir():
        raise UsageError(f"--notebook-dir {options.notebook_dir} is not a directory; create it")
    return options


def _decorator_options(task: Any, func: Any) -> Any:
    """The Options an @interactive(...) decorator attached to func, if any."""
    options = getattr(func, "__interactive__", None)
    return options if isinstance(options, task.Options) else None


def _load(task: Any, ref: str, what: str) -> Callable[..., Any]:
    """Load MODULE:FUNCTION or FILE.py:FUNCTION, with exit 2 on failure."""
    if ":" not in ref:
        raise UsageError(
            f"{what or 'the task'} {ref!r} is not MODULE:FUNCTION or path/to/file.py:FUNCTION "
            "(e.g. examples/train.py:train)"
        )
    try:
        return task.load_function(ref)  # type: ignore[no-any-return]
    except ValueError as e:
        raise UsageError(f"{what}: {e}" if what else str(e)) from None


def write_result(result: Any, output: str | None) -> None:
    """Write the result: pickle to .pkl, else JSON to the file or to stdout."""
    if output and output.endswith(".pkl"):
        try:
            data = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as e:
            raise ResultError(
                f"the task returned a {type(result).__name__}, which does not pickle ({e})"
            ) from None
        _write(Path(output), data)
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
        _write(Path(output), (text + "\n").encode())


def _write(path: Path, data: bytes) -> None:
    """Write a file whole (a partial result file never appears)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


class ResultError(Exception):
    """The task returned, but its result cannot be written as asked: exit 1."""


@contextlib.contextmanager
def signals_as_exceptions() -> Iterator[None]:
    """SIGTERM raises Terminated and SIGINT KeyboardInterrupt, so cleanup code runs."""

    def on_term(signum: int, frame: Any) -> NoReturn:
        raise Terminated()

    previous = {
        signal.SIGTERM: signal.signal(signal.SIGTERM, on_term),
        signal.SIGINT: signal.signal(signal.SIGINT, signal.default_int_handler),
    }
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def cmd_run(args: argparse.Namespace) -> int:
    """Run a task with the interactive wrapper and write its result."""
    with signals_as_exceptions():
        try:
            return _run(args)
        except KeyboardInterrupt:
            print(f"{PROG} run: interrupted (SIGINT)", file=sys.stderr)
            return EXIT_SIGINT
        except Terminated:
            print(f"{PROG} run: terminated (SIGTERM)", file=sys.stderr)
            return EXIT_SIGTERM


def _run(args: argparse.Namespace) -> int:
    """cmd_run without the signal handling."""
    from . import task

    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())  # MODULE:FUNCTION from here, as `python -m` does
    kwargs = load_kwargs(args)
    try:
        func = _load(task, args.function, "")
        plain = task.unwrap(func)
        check_signature(plain, kwargs)
        options = build_options(args, task, func)
    except UsageError:
        raise
    except Exception:  # a module that exists raised while being imported
        traceback.print_exc()
        print(f"{PROG} run: importing the task or a hook failed (above)", file=sys.stderr)
        return EXIT_TASK_FAILED
    if args.output and not Path(args.output).resolve().parent.is_dir():
        raise UsageError(f"--output {args.output}: its directory does not exist")
    log.debug("running %s with %s and %s", args.function, sorted(kwargs), options)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            result = task.run_interactive(plain, (), kwargs, options)
    except task.IdleTimeout as e:
        print(f"{PROG} run: {e}", file=sys.stderr)
        return EXIT_IDLE
    except task.ServerError as e:
        print(f"{PROG} run: the Jupyter server failed: {e}", file=sys.stderr)
        return EXIT_SERVER
    except Exception:
        traceback.print_exc()
        return EXIT_TASK_FAILED
    try:
        write_result(result, args.output)
    except ResultError as e:
        print(f"{PROG} run: {e}", file=sys.stderr)
        return EXIT_TASK_FAILED
    except OSError as e:
        print(f"{PROG} run: cannot write --output {args.output}: {e}", file=sys.stderr)
        return EXIT_TASK_FAILED
    return EXIT_OK


# -- the parser ---------------------------------------------------------------------


def _default(name: str) -> str:
    """The decorator's default for a flag's help text."""
    value = option_defaults()[name]
    return "none" if value is None else str(value)


def _add_run_options(p: argparse.ArgumentParser) -> None:
    """One flag per decorator parameter, named after it; unset flags keep the default."""
    opts = p.add_argument_group(
        "interactive options (the decorator's parameters; a flag given overrides the "
        "@interactive(...) of the function, if it has one)"
    )
    opts.add_argument(
        "--max-idle-seconds",
        type=float,
        metavar="S",
        help="stop the server after S seconds without activity; 0 disables it "
        f"(default: {_default('max_idle_seconds')})",
    )
    opts.add_argument(
        "--port",
        type=int,
        help="the server's port; 0 = any free port; a taken port is exit 4 "
        f"(default: {_default('port')})",
    )
    opts.add_argument("--ip", help=f"the address the server binds (default: {_default('ip')})")
    opts.add_argument(
        "--enable",
        action=argparse.BooleanOptionalAction,
        help="start Jupyter; --no-enable just runs the task "
        "(default: enabled; INTERACTIVE_EXT_ENABLE=0|1 overrides)",
    )
    opts.add_argument(
        "--run-task-first",
        action=argparse.BooleanOptionalAction,
        help="run the task first and start Jupyter only if it raises (default: off)",
    )
    opts.add_argument(
        "--notebook-dir",
        metavar="DIR",
        help="where the starter notebook is written (default: the current directory)",
    )
    opts.add_argument(
        "--pre-execute",
        metavar="MODULE:FUNCTION",
        help="a function called before the server starts (default: none)",
    )
    opts.add_argument(
        "--post-execute",
        metavar="MODULE:FUNCTION",
        help="a function called before the server stops for good (default: none)",
    )
    opts.add_argument(
        "--on-idle",
        choices=["fail", "resume"],
        help="on the idle timeout or lifetime cap: fail (exit 3) or resume the task "
        f"(default: {_default('on_idle')})",
    )
    opts.add_argument(
        "--max-lifetime-seconds",
        type=float,
        metavar="S",
        help="stop the server S seconds after it started, active or not; 0 = no cap "
        f"(default: {_default('max_lifetime_seconds')})",
    )
    opts.add_argument(
        "--token",
        help="the server's token (default: $JUPYTER_TOKEN, or a random one)",
    )
    opts.add_argument(
        "--ready-file",
        metavar="FILE",
        help="write the server's url, token, port and pid as JSON to FILE once it answers "
        "(default: none)",
    )


def _add_client_options(p: argparse.ArgumentParser) -> None:
    """--url/--token/--session-dir: which server to talk to."""
    p.add_argument("--url", help="the server's URL, e.g. http://127.0.0.1:8888/?token=...")
    p.add_argument(
        "--token", help="the server's token (default: from --url's ?token=, or $JUPYTER_TOKEN)"
    )
    p.add_argument(
        "--session-dir", metavar="DIR", help="the session directory (its server.json is read)"
    )


class RawEpilogFormatter(argparse.HelpFormatter):
    """Wraps the description, keeps the epilog's own line breaks (its tables)."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text:
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="log level on stderr (default: INFO)",
    )
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Run a Python function as an interactive task: a Jupyter server with its "
        "inputs, then resume it; or resume, inspect and list running sessions.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    fmt = RawEpilogFormatter

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
        metavar="MODULE:FUNCTION",
        help="the task: pkg.module:func, or path/to/file.py:func",
    )
    run.add_argument(
        "--kwargs", metavar="JSON", help="keyword arguments as a JSON object (default: {})"
    )
    run.add_argument(
        "--kwargs-file",
        metavar="FILE",
        help="keyword arguments from a JSON file (a pickle if FILE ends in .pkl); "
        "--kwargs override its keys",
    )
    run.add_argument(
        "--output",
        metavar="FILE",
        help="write the result to FILE: a pickle if it ends in .pkl, else JSON "
        "(default: JSON on stdout)",
    )
    _add_run_options(run)
    run.set_defaults(func=cmd_run)

    resume = sub.add_parser(
        "resume",
        parents=[common],
        help="resume a waiting task (POST /interactive/resume)",
        description="Resume the task of a running interactive session: the server stops and "
        "the task runs with its inputs and the overrides given.",
        epilog=CLIENT_EPILOG,
        formatter_class=fmt,
    )
    _add_client_options(resume)
    resume.add_argument(
        "--inputs",
        metavar="JSON",
        help="input overrides as a JSON object of parameter names to values (default: none)",
    )
    resume.set_defaults(func=cmd_resume)

    status = sub.add_parser(
        "status",
        parents=[common],
        help="print a session's status as JSON (GET /interactive/status)",
        description="Print the status of a running interactive session as JSON: state, task, "
        "idle clock.",
        epilog=CLIENT_EPILOG,
        formatter_class=fmt,
    )
    _add_client_options(status)
    status.set_defaults(func=cmd_status)

    lst = sub.add_parser(
        "list",
        parents=[common],
        help="list the running interactive sessions",
        description="One line per running interactive session of this user: the URL to open "
        "(with its token), the state, the task and the idle clock.",
    )
    lst.add_argument("--json", action="store_true", help="print a JSON list instead")
    lst.set_defaults(func=cmd_list)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The entry point of `jupyter interactive-task`; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse: --help (0) or a usage error (2)
        return e.code if isinstance(e.code, int) else EXIT_USAGE
    logging.basicConfig(
        level=args.log_level,
        stream=sys.stderr,
        format="[%(levelname).1s %(asctime)s %(name)s] %(message)s",
    )
    try:
        return int(args.func(args))
    except UsageError as e:
        print(f"{PROG} {args.command}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except ServerRefused as e:
        print(f"{PROG} {args.command}: {e}", file=sys.stderr)
        return EXIT_TASK_FAILED


if __name__ == "__main__":
    sys.exit(main())
