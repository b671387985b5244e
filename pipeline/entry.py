"""The `rmslog` console script: catch a Ctrl-C that lands while the command line loads.

Python turns SIGINT into KeyboardInterrupt from its first instructions on. Importing the
command line (Typer, rich, our modules) takes a few hundred milliseconds, longer on a busy
machine; a Ctrl-C in that window would otherwise escape as an uncaught KeyboardInterrupt
(a traceback and a death by signal). Here it is the same stop as later: one line, exit 130.
"""

from __future__ import annotations

import sys

#: Exit code and line of a stop, as `pipeline.shell` says them (checked by tests/test_shell.py).
INTERRUPTED = 130
STOPPED = "interrupted by Ctrl-C (SIGINT): stopped; the warehouse keeps what was committed"


def main() -> None:
    try:
        from pipeline.cli import main as run
        from pipeline.interrupts import process
    except KeyboardInterrupt:
        sys.stderr.write(STOPPED + "\n")
        raise SystemExit(INTERRUPTED) from None
    process["ends_with_command"] = True
    run()
