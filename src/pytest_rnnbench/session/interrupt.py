"""SIGTERM ends a benchmarking session as Ctrl-C does.

A cancelled CI job's runner sends SIGTERM. Python's default for it ends the process at once, with
no `finally` run: the case's workers (each in a session of its own, so that Ctrl-C at a terminal
reaches pytest only) would train on with nobody to hear them, and the session's temporary
directories (worker logs, a shared compilation cache) would stay behind. Turned into
KeyboardInterrupt, it stops pytest as Ctrl-C does: the running case's workers are killed, what was
measured so far is written, temporary directories are removed, and pytest exits 2 (interrupted).

A handler that someone else installed (a CI wrapper, pytest-xdist, the gate's extracted base tree
in run/trees.py, which does the same) is theirs to keep, and outside the main thread nothing is
installed (signals.py).
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from types import FrameType
from typing import Optional

from ..signals import sigterm_is_ours_to_take


def _interrupt(signum: int, frame: Optional[FrameType]) -> None:
    raise KeyboardInterrupt(f"signal {signum} (SIGTERM)")


def interrupt_on_sigterm() -> Callable[[], None]:
    """From now on SIGTERM raises KeyboardInterrupt; returns what puts the default back."""
    if not sigterm_is_ours_to_take():
        return lambda: None

    def restore() -> None:
        if signal.getsignal(signal.SIGTERM) is _interrupt:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)

    signal.signal(signal.SIGTERM, _interrupt)
    return restore
