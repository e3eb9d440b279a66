"""Writing: the results document of a run (`--rnnbench-json`; the session rewrites it after every
case, so an interrupted run loses nothing). The format is documented in docs/formats.md.

No pytest import, no framework import; `git` once per directory, for the commit the run was
started in.
"""

from __future__ import annotations

import datetime
import functools
import os
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Optional

from ..machine import cpu_count, cpu_model
from ..run.devices import GpuInventory
from ..run.git import git_or_none
from ..run.summary import Summary
from ..settings import Settings
from .schema import RESULTS_SCHEMA, RESULTS_VERSION


def new_run_id() -> str:
    """A run's identity: random, so two runs never share one, however close in time they start.

    A history counts a file read twice (an artifact downloaded twice) once by this id; times and
    commits cannot tell two runs of one commit written within the same second apart.
    """
    return uuid.uuid4().hex


def machine_section(inventory: GpuInventory) -> dict[str, Any]:
    """The "machine" section: this host's CPU and the GPUs NVML found."""
    return {
        "cpu": cpu_model(),
        "cpus": cpu_count(),
        "gpus": list(inventory.names),
        "driver": inventory.driver,
        "cuda": inventory.cuda,
    }


@functools.lru_cache(maxsize=8)
def source_section(directory: Path) -> dict[str, Any]:
    """What the run was started in: the git commit of the repository around `directory` (for a
    nightly run in a Keras checkout, the Keras commit), so that a history of runs can name the
    commits between two runs. All fields are None (dirty False) outside a git repository.

    Asked once per directory and process: the session rewrites the results file after every case,
    and a run measures the checkout as it was when it started.
    """
    section: dict[str, Any] = {
        "commit": None,
        "committed": None,
        "subject": None,
        "branch": None,
        "dirty": False,
    }
    # One call for the commit, its date and subject; "%x00" separates fields that may hold spaces.
    log = git_or_none(directory, "log", "-1", "--format=%H%x00%cI%x00%s")
    if not log:
        return section
    commit, committed, subject = (log.split("\0") + ["", ""])[:3]
    branch = git_or_none(directory, "rev-parse", "--abbrev-ref", "HEAD") or ""
    status = git_or_none(directory, "status", "--porcelain", "--untracked-files=no")
    section.update(
        commit=commit or None,
        committed=_utc_iso(committed),
        subject=subject or None,
        branch=branch if branch and branch != "HEAD" else None,  # "HEAD": a detached checkout
        dirty=bool(status and status.strip()),
    )
    return section


def _utc_iso(text: str) -> Optional[str]:
    """git's ISO 8601 date with its author's offset -> UTC, as "written" is."""
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return moment.astimezone(datetime.timezone.utc).isoformat(timespec="seconds")


def _settings_section(settings: Settings) -> dict[str, Any]:
    return {
        "matrix": settings.matrix,
        "samples_cap": settings.samples,
        "repeats": settings.repeats,
        # [K, N]: this run measured the K-th of N parts of the matrix (--rnnbench-shard); the
        # history joins the shards of one run.
        "shard": list(settings.shard) if settings.shard is not None else None,
        # --rnnbench-simulate-devices: gpuN cases ran on CPU slices (no GPU in "machine").
        "simulate_devices": settings.simulate_devices,
        # A run that judges nothing fails (exit status 10): the comment says so from the file.
        "verdicts_required": settings.verdicts_required,
    }


def results_document(
    summaries: Mapping[str, Summary],
    failures: Mapping[str, str],
    settings: Settings,
    inventory: GpuInventory,
    verdicts: Optional[Mapping[str, Mapping[str, Any]]] = None,
    gate: Optional[Mapping[str, Any]] = None,
    started_in: Optional[Path] = None,
    run_id: Optional[str] = None,
    not_judged: Optional[Mapping[str, str]] = None,
    progress: Optional[Mapping[str, Any]] = None,
) -> dict[str, Any]:
    """The results document of a run (schema pytest-rnnbench/results, version 1).

    `gate`: the pull-request gate's two sides (base and head trees, with their commits), when the
    run compared two Keras trees. `started_in`: the directory the run was started in (default:
    the current directory), whose git commit the "source" section records. `run_id`: the run's
    identity (new_run_id(), made once per run so every rewrite of its file keeps it); without
    one, each document gets an id of its own. `not_judged`: case id -> why it was not judged
    ("skipped: ...", "measured, not judged: ..."), so a comment rendered from the file alone can
    say why a run judged nothing. `progress`: {"finished": whether the run reached its end,
    "cases_selected": the benchmark cases it was to run (None where not known)}, so that a file
    of a run stopped early never reads as a complete one.
    """
    where = Path(started_in) if started_in is not None else Path(os.getcwd())
    document: dict[str, Any] = {
        "schema": RESULTS_SCHEMA,
        "version": RESULTS_VERSION,
        "run_id": run_id or new_run_id(),
        "written": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_section(inventory),
        "source": dict(source_section(where.resolve())),
        "settings": _settings_section(settings),
        "results": {
            case_id: dict(summary.to_dict(), worker=summary.raw)
            for case_id, summary in sorted(summaries.items())
        },
        "failures": dict(sorted(failures.items())),
    }
    if verdicts:
        document["verdicts"] = {case_id: dict(v) for case_id, v in sorted(verdicts.items())}
    if gate:
        document["gate"] = dict(gate)
    if not_judged:
        document["not_judged"] = dict(sorted(not_judged.items()))
    if progress is not None:
        document.update(progress)
    return document
