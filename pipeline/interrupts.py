"""Ctrl-C and SIGTERM: the one place that turns them into a clean stop.

A signal can land anywhere: in Python code, or while DuckDB runs a statement in C++,
where a Python exception only surfaces once the statement ends (minutes later for a big
scan). So the handler does two things: it interrupts every open warehouse connection
(DuckDB stops the statement at once and rolls back what was not committed), and it
raises `KeyboardInterrupt` in the main thread. `interrupted()` then tells the CLI that
whatever exception follows is the stop, not a failure: exit 130 and one line.

Only the standard library here: `pipeline.warehouse` registers its connections.
"""

from __future__ import annotations

import os
import signal
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from types import FrameType
from typing import Protocol

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interruptible(Protocol):
    def interrupt(self) -> None: ...


_live: weakref.WeakSet[Interruptible] = weakref.WeakSet()
_received: list[int] = []
_settled: list[bool] = []  # non-empty once the CLI is reporting the stop: no more raising
#: Seconds after which a signal is delivered again if the process has not settled: an
#: exception raised in a finaliser or an import-lock callback is swallowed by Python.
#: Long enough that a loaded machine finishes rolling back and reporting the first one.
REDELIVER_SECONDS = 3.0


def track(con: Interruptible) -> None:
    """Interrupt `con` when a signal arrives (it is forgotten when garbage collected)."""
    _live.add(con)


def interrupt_all() -> None:
    """Stop what every tracked connection is running; closed ones are skipped."""
    for con in list(_live):
        with suppress(Exception):  # closed already
            con.interrupt()


def interrupted() -> int | None:
    """The signal that stopped this process, if one did."""
    return _received[0] if _received else None


def signal_name(signum: int) -> str:
    return "Ctrl-C (SIGINT)" if signum == signal.SIGINT else signal.Signals(signum).name


def settle() -> None:
    """The stop is being reported: later signals only interrupt DuckDB again."""
    _settled.append(True)


def _redeliver(signum: int, delay: float) -> None:
    def again() -> None:
        if not _settled:
            os.kill(os.getpid(), signum)

    timer = threading.Timer(delay, again)
    timer.daemon = True
    timer.start()


def _handle(signum: int, frame: FrameType | None) -> None:
    if not _received:
        _received.append(signum)
    interrupt_all()
    if _settled:
        return
    if frame is not None and frame.f_code.co_filename.startswith("<frozen importlib"):
        # Raising inside the import machinery can leave a module lock held (and a
        # thread importing behind it waiting forever): try again a moment later.
        _redeliver(signum, 0.05)
        return
    _redeliver(signum, REDELIVER_SECONDS)
    raise KeyboardInterrupt


#: `ends_with_command`: set by the console script (`pipeline.entry`), where the process
#: exits when the command returns; not in-process callers (tests, notebooks).
process = {"ends_with_command": False}


@contextmanager
def stop_cleanly() -> Iterator[None]:
    """SIGINT and SIGTERM stop the process as above while the block runs (main thread
    only; elsewhere signals cannot be caught and this does nothing)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _received.clear()
    _settled.clear()
    previous = {s: signal.signal(s, _handle) for s in SIGNALS}
    try:
        yield
    finally:
        settle()  # no re-delivery once the block is over
        # After a stop, a re-delivery already on its way (its timer checked before the
        # stop settled) must not reach Python's default handler on the way out; nor, in
        # the console script, a signal that lands once the command is over: its outcome
        # is decided (committed and said), only the process's exit is left.
        ignore = bool(_received) or process["ends_with_command"]
        for sig, handler in previous.items():
            signal.signal(sig, signal.SIG_IGN if ignore else handler)


@contextmanager
def stop_on_signals(stop: threading.Event | None = None) -> Iterator[threading.Event]:
    """For a loop that ends itself (`watch`, `generate --follow`): an event that SIGINT or
    SIGTERM sets instead of raising mid-write, while the block runs (main thread only;
    elsewhere the event is never set by a signal). With `stop`, that event is used and no
    handler is installed (tests and callers that stop the loop themselves)."""
    if stop is not None:
        yield stop
        return
    event = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield event
        return
    previous = {s: signal.signal(s, lambda *_: event.set()) for s in SIGNALS}
    try:
        yield event
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
