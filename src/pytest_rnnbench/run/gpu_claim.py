"""Which block of GPUs a pytest-xdist worker takes, held by a lock on a file while it lives.

Worker gwI of N owns block I. pytest-xdist replaces a worker that crashed with one of a new id
(gw4 beside gw0...gw3) and does not tell it whom it replaces: its own block would lie past the
GPUs, and block I % N may belong to a worker still running (gw4 after gw2 crashed). So every
worker locks its block, and a replacement takes the block whose lock is free: the crashed
worker's, which the kernel released when that process died. Two workers never share a GPU.

A worker that exits normally removes its lock file while it still holds the lock, so a run leaves
none behind (a crashed worker's stays until its replacement exits). A worker that opened the file
just before it was removed would lock a file no longer there: it checks, after locking, that the
path still names what it locked, and tries again if not.
"""

from __future__ import annotations

import atexit
import os
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import BinaryIO, Optional

if sys.platform != "win32":
    import fcntl

# The locks this process holds, kept open for its whole life (closing a file releases its lock).
# A second claim by the same process (a second session in it) finds its own block here.
_HELD: dict[Path, BinaryIO] = {}


def claim_block(env: Mapping[str, str], index: int, count: int) -> Optional[int]:
    """The block of GPUs worker `index` of `count` takes: the first whose lock is free, starting
    at its own (index % count); None when a living worker holds each one.

    Without locks (no pytest-xdist run id to name them, no flock, a temporary folder that cannot
    hold them) a first worker takes its own block and a replacement none: sharing a GPU would
    spoil two cases' measurements unseen, where a skip says what happened.
    """
    run = env.get("PYTEST_XDIST_TESTRUNUID")
    fallback = index if index < count else None
    if sys.platform == "win32" or not run:
        return fallback
    folder = Path(tempfile.gettempdir())  # TMPDIR, which every worker of a run inherits
    first = index % count
    for block in [first, *(other for other in range(count) if other != first)]:
        path = folder / f"pytest-rnnbench-{run}-gpus{block}.lock"
        if path in _HELD:
            return block
        try:
            found = _lock(path)
        except OSError:  # no lock file or no flock here
            return fallback
        if found is None:  # a living worker owns this block
            continue
        if not _HELD:
            atexit.register(_release_all)
        _HELD[path] = found
        return block
    return None


def _lock(path: Path) -> Optional[BinaryIO]:
    """`path` opened and locked, or None when another process holds its lock."""
    while True:
        handle = open(path, "ab")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return None
        except OSError:
            handle.close()
            raise
        if _same_file(handle, path):
            return handle
        handle.close()  # its owner removed it as we opened it: lock the file there now


def _same_file(handle: BinaryIO, path: Path) -> bool:
    try:
        named = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(handle.fileno())
    return (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino)


def _release_all() -> None:
    """At a normal exit: remove each lock file while still holding its lock, then let go."""
    for path, handle in _HELD.items():
        try:
            path.unlink()
        except OSError:
            pass  # gone already, or not ours to remove: the lock goes with the process anyway
        handle.close()
    _HELD.clear()
