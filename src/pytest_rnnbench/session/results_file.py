"""Who writes the results file. One run at a time (claim_results_file): each rewrites the whole
file after every case. Under pytest-xdist each worker keeps its share beside it, rewritten after
every case, so that the controller can write the one file from shares it was never handed: a
worker that died (killed, out of memory), or every worker when Ctrl-C stopped the controller's
loop before it heard them end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Optional

import pytest

from ..atomic import claim, write_json
from ..results.read import load as load_results
from ..results.schema import ResultsError
from ..settings import default_cache_dir


def claim_results_file(path: Path) -> Optional[IO[str]]:
    """This run's hold on its results file (a usage error when another run holds it), kept for
    as long as the handle is open; None where no lock can be made (a read-only home)."""
    try:
        # The user's cache, not the run's --rnnbench-cache-dir: two runs with different caches
        # writing one file must still see each other.
        held = claim(path, default_cache_dir())
    except OSError:
        return None
    if held is None:
        raise pytest.UsageError(
            f"--rnnbench-json={path}: another pytest run is writing it now (each rewrites the "
            "whole file after every case); give this run a file of its own"
        )
    return held


def write_results_file(path: Path, document: dict[str, Any]) -> Optional[str]:
    """Write the results file (or a share of it); what went wrong, or None. A folder that passed
    the check up front can still refuse the file (a full disk, a quota, a special file
    system): the run says so instead of a traceback, and goes on to its other outputs."""
    try:
        write_json(path, document)
    except OSError as exc:
        return f"the results file {path} could not be written: {exc.strerror or exc}"
    return None


def xdist_share(json_path: Path, workerinput: dict[str, Any]) -> Path:
    """Where a pytest-xdist worker keeps its share of the results file while it runs: beside
    that file, hidden, named by the run (every worker of one session shares its testrunuid) and
    the worker, so that a killed earlier session's shares are never taken for this one's."""
    name = f".{json_path.name}.{workerinput['testrunuid']}-{workerinput['workerid']}"
    return json_path.with_name(name)


def read_share(path: Optional[Path]) -> Optional[dict[str, Any]]:
    """A worker's share of the results (None: it wrote none, or none that reads)."""
    if path is None or not path.exists():
        return None
    try:
        return load_results(path)  # the reader of every results file, with its checks
    except ResultsError:
        return None


def take_left_shares(json_path: Path, testrunuid: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(worker id, share) of every share of this run still beside the results file, each
    removed once read (an unreadable one too: nothing stays behind)."""
    for share in sorted(json_path.parent.glob(f".{json_path.name}.{testrunuid}-*")):
        sent = read_share(share)
        share.unlink(missing_ok=True)
        if sent:
            yield share.name.rsplit("-", 1)[-1], sent
