"""One way to write a file that readers see whole or not at all.

Used by everything that writes a file another process may read at the same time: the baseline
store, the results file, the reports and exports, and the prepared-data cache. The guarantees:
the data goes to a temporary file with a unique name in the same directory (so two writers never
share one, and the rename cannot cross file systems), it is flushed to disk, renamed over the
target, and the directory entry is flushed too, so that after a crash the target is the old file
or the new one. A failure removes the temporary file and leaves the target untouched. The file
gets the mode a plain `open` would give it (the umask's; an existing target's own), not the
temporary file's 0600, which other users, and a CI step under another account, could not read.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, Optional, Union

PathLike = Union[str, "os.PathLike[str]"]


def write_with(path: PathLike, write: Callable[[IO[bytes]], Any]) -> None:
    """Atomically replace `path` with what `write(handle)` writes to a binary file handle."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, _mode_for(path))
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_directory(path.parent)


def _mode_for(path: Path) -> int:
    """The permission bits `path` keeps when replaced: its own when it exists, else a new file's
    under this process's umask."""
    with contextlib.suppress(OSError):
        return stat.S_IMODE(path.stat().st_mode)
    return 0o666 & ~_umask()


def _umask() -> int:
    """This process's umask, read without changing it where Linux tells it (setting and
    restoring it would briefly give other threads' new files the wrong mode)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_text(path: PathLike, text: str) -> None:
    """Atomically replace `path` with `text` (UTF-8)."""
    data = text.encode("utf-8")
    write_with(path, lambda handle: handle.write(data))


def write_json(path: PathLike, document: object, indent: int = 2, allow_nan: bool = True) -> None:
    """Atomically replace `path` with `document` as sorted, indented JSON and a final newline.

    The text is made before the file is touched, so a document that cannot be serialised leaves
    no trace.
    """
    text = json.dumps(document, indent=indent, sort_keys=True, allow_nan=allow_nan) + "\n"
    write_text(path, text)


def cannot_write(path: Path) -> Optional[str]:
    """Why an output file `path` could not be written (checked before long work), or None. Its
    missing directories are made when it is written, so the nearest one that exists must be a
    directory this user may write in."""
    if path.is_dir():
        return f"{path} is a directory"
    return _cannot_make(path, path.parent)


def cannot_write_in(directory: Path) -> Optional[str]:
    """Why files could not be written in `directory` (an output folder, made when missing;
    checked before long work), or None."""
    if directory.exists() and not directory.is_dir():
        return f"{directory} is not a directory"
    return _cannot_make(directory, directory)


def _cannot_make(target: Path, folder: Path) -> Optional[str]:
    """Why `target` could not be made in `folder`: the nearest of `folder` and its parents that
    exists (the missing ones are made) must be a directory this user may write in."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"cannot write {target}: {existing} is not a directory"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"cannot write {target}: {existing} is not writable"
    return None


def cannot_append(path: Path) -> Optional[str]:
    """Why text could not be appended to `path` (its folder is not made), or None."""
    if path.is_dir():
        return f"{path} is a directory"
    if not path.parent.is_dir():
        return f"{path.parent} is not a directory"
    if not os.access(path if path.exists() else path.parent, os.W_OK):
        return f"{path} is not writable"
    return None


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (not every file system supports this: then skip it)."""
    with contextlib.suppress(OSError):
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def claim(path: Path, locks: Path) -> Optional[IO[str]]:
    """An exclusive, non-blocking claim on writing `path` for as long as the returned handle is
    open; None when another process of this machine holds it. Two runs rewriting one results
    file after every case would each replace the other's cases. The lock is a file under
    `locks` (the plugin's cache) named by the path's hash, left there (removing it would race),
    not beside the file among the user's own."""
    import fcntl
    import hashlib

    where = locks / "writers"
    where.mkdir(parents=True, exist_ok=True)
    name = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:32]
    handle = open(where / f"{name}.lock", "a+")  # noqa: SIM115 (held open: the claim)
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle
