"""The flags and texts of the parked-session commands, light enough for the parser."""

from __future__ import annotations

from typing import Any

TRUST_HELP = (
    "load a parked session that no park key signs (it was written by someone you trust; "
    "its pickles run code); digests are checked anyway"
)


def size_text(n: float) -> str:
    """Bytes for a person."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def age_text(seconds: float) -> str:
    """An age for a person: 3d, 5h, 12m, 40s."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{max(seconds, 0):.0f}s"


PARKED_DEST: dict[str, Any] = {"nargs": "?", "const": "", "metavar": "PATH|URL"}
"""`--parked [PATH|URL]`: given alone, the configured destination."""

PARKED_FLAG: tuple[str, dict[str, Any]] = (
    "--parked",
    {
        **PARKED_DEST,
        "help": "list the parked sessions at PATH|URL instead (default: "
        "$INTERACTIVE_EXT_PARK_TO): task, when, why, host, size",
    },
)
"""`list --parked`."""

SERVER_FLAGS = ("port", "ip", "ready_file", "notebook_dir", "max_idle_seconds", "token")
"""The options `open` takes, spelled as `run` spells them (and --token-file)."""


OPEN_COMMAND: dict[str, Any] = {
    "name": "open",
    "help": "open a parked session here: its frames, inputs and sources in JupyterLab",
    "description": "Fetch a parked session (its digests checked; its signature when a park key "
    "is set, else only with --trust), lay its sources out with the session's edits in a new "
    "folder, and serve it: load_inputs(), load_error(), load_frames() and pdb work as in the "
    "live session. A resume saves the edits and overrides back and prints the `run --from` "
    "command. Exit codes: 0 resumed, 2 refused or bad arguments, 3 idle stop.",
    "args": [
        (
            "source",
            {
                "nargs": "?",
                "metavar": "PATH|URL",
                "help": "the parked folder (default: the newest at $INTERACTIVE_EXT_PARK_TO)",
            },
        ),
        ("--trust", {"action": "store_true", "help": TRUST_HELP}),
        (
            "--resume-here",
            {
                "action": "store_true",
                "help": "on a resume, run the task on this machine (run --from) instead of "
                "printing the command",
            },
        ),
    ],
}
"""The `open` subcommand, built by cli.build_parser (with SERVER_FLAGS and --token-file)."""
