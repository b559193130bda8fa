"""`jupyter interactive-task list --kept` and `clean`: session directories kept after failures."""

from __future__ import annotations

import argparse
import json
from typing import Any

from . import exits
from .exits import UsageError
from .parked_flags import PARKED_DEST, age_text, size_text


def cmd_list_kept(args: argparse.Namespace) -> int:
    """One line per kept session directory: path, size, age, why it was kept."""
    from ..session.kept import kept_sessions

    found = kept_sessions()
    if args.json:
        rows = [
            {
                "path": str(k.path),
                "size": k.size,
                "age_seconds": round(k.age, 1),
                "why": k.why,
                "running": k.running,
            }
            for k in found
        ]
        print(json.dumps(rows, indent=1))
        return exits.OK
    if not found:
        print("no kept session directory")
    for k in found:
        print(f"{k.path}  {size_text(k.size)}  {age_text(k.age)}  {k.why}")
    return exits.OK


def cmd_clean(args: argparse.Namespace) -> int:
    """Remove kept session directories (older than --older-than), never a running one."""
    from ..session.kept import clean, parse_age

    try:
        older = parse_age(args.older_than) if args.older_than else 0.0
    except ValueError as e:
        raise UsageError(str(e)) from None
    if args.parked is not None:
        from .parked import cmd_clean_parked

        return cmd_clean_parked(args, older)
    removed = clean(older)
    for k in removed:
        print(f"removed {k.path} ({size_text(k.size)}, {age_text(k.age)} old: {k.why})")
    if not removed:
        print("nothing to remove")
    return exits.OK


CLEAN_COMMAND: dict[str, Any] = {
    "name": "clean",
    "help": "remove kept session directories",
    "description": "Remove the session directories kept after tasks that did not succeed "
    "(`list --kept` shows them); a running session is never removed.",
    "func": cmd_clean,
    "args": [
        (
            "--older-than",
            {
                "metavar": "AGE",
                "help": "only those kept longer than AGE: 7d, 12h, 30m, 45s (default: all)",
            },
        ),
        (
            "--parked",
            {
                **PARKED_DEST,
                "help": "remove parked sessions instead (only folders with a parked manifest), "
                "at PATH|URL (default: $INTERACTIVE_EXT_PARK_TO)",
            },
        ),
    ],
}
"""The `clean` subcommand, built by cli.build_parser."""

KEPT_FLAG: tuple[str, dict[str, Any]] = (
    "--kept",
    {
        "action": "store_true",
        "help": "list the session directories kept after failures instead: size, age, why",
    },
)
"""`list --kept`."""
