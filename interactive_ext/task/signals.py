"""SIGTERM and SIGINT: stop the server first, then behave as the signal would have."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any, NoReturn

from ..errors import SIGINT_SEEN, Terminated

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Interrupted(BaseException):
    """SIGTERM or SIGINT arrived while the server ran."""

    def __init__(self, signum: int) -> None:
        """Keep the signal's number."""
        super().__init__(signum)
        self.signum = signum


class SignalState:
    """While armed, the first SIGTERM/SIGINT raises Interrupted; later ones are only noted."""

    def __init__(self) -> None:
        """No signal yet, armed."""
        self.previous: dict[int, Any] = {}
        self.received: int | None = None
        self.armed = True

    def handler(self, signum: int, frame: Any) -> None:
        """The signal handler installed while the server runs."""
        if self.received is not None:
            return
        self.received = signum
        if self.armed:
            raise Interrupted(signum)

    def reraise(self) -> None:
        """After the server is stopped: behave as the received signal would have without us."""
        if self.received is None:
            return
        signum = self.received
        prev = self.previous.get(signum, signal.SIG_DFL)
        if callable(prev) and prev is not signal.default_int_handler:
            prev(signum, None)
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise Terminated()


@contextlib.contextmanager
def catch_signals() -> Iterator[SignalState]:
    """While the server runs, turn SIGTERM/SIGINT into Interrupted so that it is stopped.

    Outside the main thread (a Dask worker, say) no handler can be installed: the state is
    returned unarmed and the server is stopped by the other paths (its parent watch).
    """
    state = SignalState()
    if threading.current_thread() is not threading.main_thread():
        yield state
        return
    for sig in STOP_SIGNALS:
        prev = signal.getsignal(sig)
        if prev is signal.SIG_IGN:
            continue
        state.previous[sig] = prev
        signal.signal(sig, state.handler)
    try:
        yield state
    finally:
        for signum, before in state.previous.items():
            signal.signal(signum, before if before is not None else signal.SIG_DFL)


@contextlib.contextmanager
def own_interrupts() -> Iterator[None]:
    """While the task runs: a KeyboardInterrupt or cancellation leaving it is marked with whether
    a SIGINT arrived meanwhile; without one, a KeyboardInterrupt is the task's own
    (errors.own_interrupt), a failure to record, not an interruption.

    SIGINT's handler, when Python's own or another callable, is wrapped to note the signal (and
    then called); `_thread.interrupt_main()` (Ray's cancel) goes through it too. Outside the main
    thread, or with SIGINT ignored or left to the system, no KeyboardInterrupt can come from a
    signal here.
    """
    noted: list[int] = []
    previous: Any = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.getsignal(signal.SIGINT)

    def noting(signum: int, frame: Any) -> Any:
        noted.append(signum)
        return previous(signum, frame)

    if callable(previous):
        signal.signal(signal.SIGINT, noting)
    try:
        yield
    except BaseException as e:
        if not isinstance(e, (Exception, SystemExit)) and not hasattr(e, SIGINT_SEEN):
            setattr(e, SIGINT_SEEN, bool(noted))  # the innermost call knows best
        raise
    finally:
        if callable(previous) and signal.getsignal(signal.SIGINT) is noting:
            signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def signals_as_exceptions() -> Iterator[None]:
    """For the CLI: SIGTERM raises Terminated (exit 143) and SIGINT KeyboardInterrupt, so
    cleanup runs."""

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


@contextlib.contextmanager
def term_unwinds() -> Iterator[None]:
    """SIGTERM raises Terminated (exit 143) where it would kill the process at once (its
    default, in the main thread), so the task's processes are stopped on the way out."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return

    def on_term(signum: int, frame: Any) -> NoReturn:
        raise Terminated()

    signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
