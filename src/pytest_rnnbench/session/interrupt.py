"""SIGTERM ends a benchmarking session as Ctrl-C does.

A cancelled CI job's runner sends SIGTERM. Python's default for it ends the process at once, with
no `finally` run: the case's workers (each in a session of its own, so that Ctrl-C at a terminal
reaches pytest only) would train on with nobody to hear them, and the session's temporary
directories (worker logs, a shared compilation cache) would stay behind. Turned into
KeyboardInterrupt, it stops pytest as Ctrl-C does: the running case's workers are killed, what was
measured so far is written, temporary directories are removed, and pytest exits 2 (interrupted).

A handler that someone else installed (a CI wrapper, pytest-xdist, the gate's extracted base tree
in run/trees.py, which does the same) is theirs to keep, and Python runs signal handlers in the
main thread only, so elsewhere nothing is installed.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Optional


def _interrupt(signum: int, frame: Optional[FrameType]) -> None:
    raise KeyboardInterrupt(f"signal {signum} (SIGTERM)")


def interrupt_on_sigterm() -> Callable[[], None]:
    """From now on SIGTERM raises KeyboardInterrupt; returns what puts the default back."""
    main = threading.current_thread() is threading.main_thread()
    if not main or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return lambda: None

    def restore() -> None:
        if signal.getsignal(signal.SIGTERM) is _interrupt:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)

    signal.signal(signal.SIGTERM, _interrupt)
    return restore
