"""The task process's log: the URL line a person must see, even when nothing set up logging."""

from __future__ import annotations

import logging
import sys
from typing import Any

log = logging.getLogger("interactive_ext")


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
