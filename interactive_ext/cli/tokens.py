"""`--token-file`: the token from a file only its owner can read, never on a command line."""

from __future__ import annotations

import argparse
import os
import stat
from typing import Any

from .exits import UsageError

MAX_BYTES = 4096

TOKEN_FILE_FLAG: tuple[str, dict[str, Any]] = (
    "--token-file",
    {
        "metavar": "FILE",
        "help": "read the token from FILE (its first line), which only you may read (chmod "
        "600): unlike --token, it never shows in other users' `ps`",
    },
)
"""The flag, for `run`, `resume` and `status`."""


def read_token_file(path: str) -> str:
    """The token in path; UsageError (never quoting the file) unless it is a regular file of
    ours that no other user can read or write, with a token on its first line."""
    what = f"--token-file {path}"
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        raise UsageError(f"cannot read {what}: {e.strerror}") from None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        mode = stat.S_IMODE(st.st_mode)
        if not stat.S_ISREG(st.st_mode):
            raise UsageError(f"{what} is not a regular file")
        if st.st_uid != os.geteuid():
            raise UsageError(f"{what} belongs to uid {st.st_uid}, not to you: write your own")
        if mode & 0o077:
            raise UsageError(
                f"{what} can be read or written by other users (mode {mode:o}), who would "
                f"learn the token: chmod 600 {path}"
            )
        data = f.read(MAX_BYTES + 1)
    lines = data.decode(errors="replace").splitlines()
    token = lines[0].strip() if lines else ""
    if len(data) > MAX_BYTES or not token:
        raise UsageError(
            f"{what} must hold the token on its first line (at most {MAX_BYTES} bytes)"
        )
    return token


def token_from(args: argparse.Namespace) -> str | None:
    """--token or --token-file (not both); None when neither is given."""
    path = getattr(args, "token_file", None)
    if path is None:
        return args.token  # type: ignore[no-any-return]
    if args.token is not None:
        raise UsageError("give the token with --token or --token-file, not both")
    return read_token_file(path)
