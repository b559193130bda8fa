"""jupyter interactive-task: run a task interactively, resume it, show its status, list sessions."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import fields
from typing import TYPE_CHECKING, Any

from ..options import DEFAULTS, Options
from ..protocol import RESUME, STATUS, route
from . import exits
from .exits import PROG, ServerRefused, UsageError
from .parked_flags import OPEN_COMMAND, SERVER_FLAGS
from .tokens import TOKEN_FILE_FLAG

if TYPE_CHECKING:  # urllib.request is imported by the commands that talk HTTP, not by `run`
    from ..client import Client, Reply

log = logging.getLogger("interactive_ext.cli")

CLIENT_EPILOG = """\
finding the server: --url (the token from --token or --token-file, from the
url's ?token=, from JUPYTER_TOKEN, or from the runtime file of this user's server at
that URL on this machine), else --session-dir, else the session of the kernel this
runs in ($INTERACTIVE_EXT_SESSION), else the one running interactive task
session among the Jupyter servers of this user (their runtime files in
`jupyter --runtime-dir`); none or several found is exit 2.

"""

RESUME_EXITS = """\
exit codes: 0 ok; 1 the server refused (409: it is already resuming or
stopping) or failed; 2 no server found, connection refused, bad token
(403), bad --inputs (400: the task cannot take them; it keeps waiting).
"""

STATUS_EXITS = """\
exit codes: 0 ok; 1 the server failed; 2 no server found, connection
refused, bad token (403).
"""


# -- client subcommands -------------------------------------------------------------


def find_client(args: argparse.Namespace) -> Client:
    """The server the client subcommands talk to (see CLIENT_EPILOG)."""
    from .discovery import NotFound, find
    from .tokens import token_from

    try:
        client = find(args.url, token_from(args), args.session_dir)
    except (NotFound, ValueError) as e:
        raise UsageError(str(e)) from None
    return client


def call(ask: Callable[[], Reply]) -> Reply:
    """One REST call of the client (ask); nothing answering is a usage error (exit 2)."""
    from ..client import Unreachable

    try:
        return ask()
    except Unreachable as e:
        raise UsageError(f"{e}; is the task still waiting? `{PROG} list` shows them") from None


def http_failure(client: Client, what: str, reply: Reply) -> Exception:
    """The error to raise for an unexpected answer: bad token or no extension is exit 2."""
    if reply.status in (401, 403):
        return UsageError(
            f"the server at {client.server_url} refused the token (HTTP {reply.status}); "
            "check --token"
        )
    if reply.status == 404:
        return UsageError(
            f"{client.server_url} is a Jupyter server without the interactive extension (HTTP 404)"
        )
    return ServerRefused(
        f"{what} failed at {client.server_url}: HTTP {reply.status}: {reply.message}"
    )


def cmd_resume(args: argparse.Namespace) -> int:
    """POST /interactive/resume, with input overrides."""
    inputs = exits.json_object(args.inputs, "--inputs", '{"epochs": 3}') if args.inputs else {}
    if args.ray is not None:
        from .ray_sessions import cmd_resume_ray

        return cmd_resume_ray(args, inputs)
    client = find_client(args)
    reply = call(lambda: client.resume(inputs, via="cli"))
    if reply.status == 202:
        body = reply.body if isinstance(reply.body, dict) else {}
        files = body.get("changes", [])
        print(
            f"resuming the task at {client.server_url} (input overrides: "
            f"{overrides_text(body.get('overrides'), inputs)}; "
            f"changed files: {', '.join(f['path'] for f in files) or 'none'})"
        )
        return exits.OK
    if reply.status == 409:
        raise ServerRefused(f"the server at {client.server_url} refused to resume: {reply.message}")
    if reply.status == 400:
        raise UsageError(f"the server rejected the inputs: {reply.message}")
    raise http_failure(client, "resume", reply)


def overrides_text(used: Any, sent: dict[str, Any]) -> str:
    """`lr=0.5 (from --inputs), epochs=3 (from save_inputs()); the others original`."""
    if not isinstance(used, dict):  # an older server: the names sent only
        used = {n: {"from": "cli", "value": v, "json": True} for n, v in sent.items()}
    parts = []
    for name, o in sorted(used.items()):
        value = json.dumps(o.get("value")) if o.get("json") else str(o.get("value"))
        origin = "--inputs" if o.get("from") == "cli" else o.get("from")
        parts.append(f"{name}={value} (from {origin})")
    return ", ".join(parts) + "; the others original" if parts else "none, all original"


def cmd_status(args: argparse.Namespace) -> int:
    """Print GET /interactive/status as JSON."""
    client = find_client(args)
    reply = call(client.status)
    if reply.status == 200:
        print(json.dumps(reply.body, indent=1))
        return exits.OK
    raise http_failure(client, "status", reply)


def summary(status: dict[str, Any]) -> str:
    """The server's words for its state, with its countdown (`stops in 12:34`, `kernel busy`)."""
    text = str(status.get("summary") or status.get("state") or "?")
    countdown = (status.get("idle") or {}).get("countdown")
    return f"{text} {countdown}" if countdown else text


def cmd_list(args: argparse.Namespace) -> int:
    """One line per running server with the extension: url, kind, state, task, idle."""
    from .discovery import running
    from .kept import cmd_list_kept

    if args.kept:
        return cmd_list_kept(args)
    if args.parked is not None:
        from .parked import cmd_list_parked

        return cmd_list_parked(args)
    if args.ray is not None:
        from .ray_sessions import cmd_list_ray

        return cmd_list_ray(args)
    if args.hub is not None:
        from .hub_sessions import cmd_list_hub

        return cmd_list_hub(args)
    found = running()
    if args.json:
        rows = [
            {
                "url": f.client.link,
                "info_file": f.client.source,
                "task": f.is_task,
                "status": f.status,
            }
            for f in found
        ]
        print(json.dumps(rows, indent=1))
        return exits.OK
    if not any(f.is_task for f in found):
        print("no running interactive task session", file=sys.stderr)
    for f in sorted(found, key=lambda f: not f.is_task):
        kind = "task" if f.is_task else "plain server (no task)"
        state = f.status.get("state", "?")
        print(f"{f.client.link}  {kind}  {state}  {f.task_name}  {summary(f.status)}")
    return exits.OK


def cmd_open(args: argparse.Namespace) -> int:
    """`open`: serve a parked session on this machine (cli/parked.py)."""
    from .parked import cmd_open as open_parked

    return open_parked(args)


# -- the parser ---------------------------------------------------------------------


class RawEpilogFormatter(argparse.HelpFormatter):
    """Wraps the description, keeps the epilog's own line breaks (its tables)."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text:
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


def add_option_flags(p: argparse.ArgumentParser, only: Sequence[str] = ()) -> None:
    """One flag per decorator parameter (or those in only), from the options' definitions."""
    group = p.add_argument_group(
        "the server's options, as `run` takes them"
        if only
        else "interactive options (the decorator's parameters; a flag given overrides the "
        "@interactive(...) of the function, if it has one)"
    )
    for f in fields(Options):
        if only and f.name not in only:
            continue
        cli = dict(f.metadata["cli"])
        default = getattr(DEFAULTS, f.name)
        if isinstance(default, bool):
            cli["action"] = argparse.BooleanOptionalAction
        shown = "none" if default in (None, ()) else default
        said = "default" in f.metadata["help"]  # a help that says its default says it once
        cli["help"] = f.metadata["help"] + ("" if said else f" (default: {shown})")
        group.add_argument("--" + f.name.replace("_", "-"), **cli)


def add_client_flags(p: argparse.ArgumentParser) -> None:
    """--url/--token/--token-file/--session-dir: which server to talk to."""
    from .tokens import TOKEN_FILE_FLAG

    p.add_argument("--url", help="the server's URL, e.g. http://127.0.0.1:8888/?token=...")
    p.add_argument(
        "--token",
        help="the server's token (default: from --url's ?token=, or $JUPYTER_TOKEN); it shows "
        "in other users' `ps`: --token-file or $JUPYTER_TOKEN do not",
    )
    p.add_argument(TOKEN_FILE_FLAG[0], **TOKEN_FILE_FLAG[1])
    p.add_argument(
        "--session-dir", metavar="DIR", help="the session directory (its server.json is read)"
    )


def add_command(sub: Any, common: argparse.ArgumentParser, spec: dict[str, Any]) -> Any:
    """One subcommand from its spec: name, help, description, func, args, client."""
    kw: dict[str, Any] = {"help": spec["help"], "description": spec["description"]}
    if spec.get("client"):
        kw.update(epilog=CLIENT_EPILOG + spec.get("exits", ""), formatter_class=RawEpilogFormatter)
    p = sub.add_parser(spec["name"], parents=[common], **kw)
    if spec.get("client"):
        add_client_flags(p)
    for flag, options in spec.get("args", []):
        p.add_argument(flag, **options)
    p.set_defaults(func=spec["func"])
    return p


def command_specs() -> list[dict[str, Any]]:
    """The subcommands other than `run`."""
    from .hub_sessions import HUB_LIST_FLAG
    from .kept import CLEAN_COMMAND, KEPT_FLAG
    from .parked_flags import PARKED_FLAG
    from .ray_sessions import RAY_LIST_FLAG, RAY_RESUME_FLAGS

    inputs_help = "input overrides as a JSON object of parameter names to values (default: none)"
    return [
        {
            "name": "resume",
            "client": True,
            "help": f"resume a waiting task (POST /{route(RESUME)})",
            "description": "Resume the task of a running interactive session: the server stops "
            "and the task runs with its inputs and the overrides given.",
            "func": cmd_resume,
            "exits": RESUME_EXITS,
            "args": [
                ("--inputs", {"metavar": "JSON", "help": inputs_help}),
                *RAY_RESUME_FLAGS,
            ],
        },
        {
            "name": "status",
            "client": True,
            "help": f"print a session's status as JSON (GET /{route(STATUS)})",
            "description": "Print the status of a running interactive session as JSON: state, "
            "task, idle clock.",
            "func": cmd_status,
            "exits": STATUS_EXITS,
        },
        {
            "name": "list",
            "help": "list the running interactive sessions",
            "description": "One line per running Jupyter server of this user with the "
            "extension: the URL to open (with its token), task session or plain server, the "
            "state, the task and the idle clock. Task sessions come first.",
            "func": cmd_list,
            "args": [
                ("--json", {"action": "store_true", "help": "print a JSON list instead"}),
                KEPT_FLAG,
                PARKED_FLAG,
                RAY_LIST_FLAG,
                HUB_LIST_FLAG,
            ],
        },
        CLEAN_COMMAND,
        {**OPEN_COMMAND, "func": cmd_open},
    ]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    from .run import add_run_command, cmd_run

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
    run = add_run_command(sub, common, RawEpilogFormatter)
    add_option_flags(run)
    run.set_defaults(func=cmd_run)
    for spec in command_specs():
        p = add_command(sub, common, spec)
        if spec["name"] == OPEN_COMMAND["name"]:
            add_option_flags(p, SERVER_FLAGS)
            p.add_argument(TOKEN_FILE_FLAG[0], **TOKEN_FILE_FLAG[1])
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The entry point of `jupyter interactive-task`; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse: --help (0) or a usage error (2)
        return e.code if isinstance(e.code, int) else exits.USAGE
    logging.basicConfig(
        level=args.log_level,
        stream=sys.stderr,
        format="[%(levelname).1s %(asctime)s %(name)s] %(message)s",
    )
    try:
        code = int(args.func(args))
        sys.stdout.flush()  # a closed pipe (`status | head`) shows here, not at the exit
        return code
    except BrokenPipeError:
        quiet_stdout()
        return exits.OK
    except UsageError as e:
        return exits.fail(exits.USAGE, f"error: {e}", args.command)
    except ServerRefused as e:
        return exits.fail(exits.TASK_FAILED, str(e), args.command)


def quiet_stdout() -> None:
    """The reader of stdout went away (`| head`): the rest goes nowhere, with no traceback."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


if __name__ == "__main__":
    sys.exit(main())
