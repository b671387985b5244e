"""The `rmslog` console script: a stop ends the process with exit 130, whenever it lands.

Python turns SIGINT into KeyboardInterrupt from its first instructions on. Importing the
command line (Typer, rich, our modules) takes a few hundred milliseconds, longer on a busy
machine; a Ctrl-C in that window would otherwise escape as an uncaught KeyboardInterrupt
(a traceback and a death by signal). Here it is the same stop as later: one line, exit 130.

A stop is also ended with `os._exit`, after flushing: CPython remembers a KeyboardInterrupt
that crossed certain C entry points (code an extension runs while it loads, for one) even
when it was caught, and then kills itself with SIGINT on the way out (exit -2), after our
line was printed. Every connection is closed by then; what was not committed is rolled
back, as after any stop.
"""

from __future__ import annotations

import os
import sys
from contextlib import suppress

#: Exit code and line of a stop, as `pipeline.shell` says them (checked by tests/test_shell.py).
INTERRUPTED = 130
STOPPED = "interrupted by Ctrl-C (SIGINT): stopped; the warehouse keeps what was committed"


def _end(code: int) -> None:
    for stream in (sys.stdout, sys.stderr):
        with suppress(OSError, ValueError):  # a closed pipe or stream: nothing more to say
            stream.flush()
    os._exit(code)


def main() -> None:
    try:
        from pipeline.cli import main as run
        from pipeline.interrupts import process
    except KeyboardInterrupt:
        sys.stderr.write(STOPPED + "\n")
        _end(INTERRUPTED)
    process["ends_with_command"] = True
    try:
        run()
    except SystemExit as done:
        if done.code == INTERRUPTED:
            _end(INTERRUPTED)
        raise
