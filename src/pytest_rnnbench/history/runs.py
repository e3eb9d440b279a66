"""What one results file adds to a history: a `Run` (one machine, one time, the commit it was
started in) and its `Point`s (one per case, measured or failed), and the figures a point holds
(`METRICS`: what a series can follow).

A run is one results file (`--rnnbench-json`): one machine, one time ("written"), the git commit
it was started in ("source", when the file records one) and, under the pull-request gate, the
Keras tree's commit. Its machine is a hardware profile (machine.hardware_profile): driver, CUDA,
Python and package versions are not part of it, as a driver update is a suspect for a change, not
a new machine. Files written since runs carried an id ("run_id") name their run by it.

Bad input is refused with a message that names the file (HistoryError); failed cases are kept as
points without a value, so every page and chart shows them.

No pytest import, no framework import, no statistics library: plain JSON in, plain objects out.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

from ..machine import HardwareProfile, hardware_profile
from ..metrics import HISTORY_VIEWS
from ..results.read import rows_of
from ..results.rows import Row


class HistoryError(ValueError):
    """A results file that cannot join a history; the message names the file and the problem."""


@dataclass(frozen=True)
class Metric:
    """One figure of a case that a series follows, with how reports name it."""

    name: str  # the --metric value
    label: str  # "seconds per epoch"
    axis: str  # the chart's y-axis label
    unit: str  # appended to values in the page: "s", "MiB", ""
    read: Callable[[Point], Optional[float]]


# The metric registry's history views (metrics.py), as the series read them.
METRICS: Mapping[str, Metric] = {
    view.name: Metric(view.name, view.label, view.axis, view.unit, view.read)
    for view in HISTORY_VIEWS
}


@dataclass(frozen=True)
class Run:
    """One results file."""

    source: str  # the file, as given
    written: datetime.datetime  # UTC
    profile: HardwareProfile
    commit: Optional[str] = None  # the git HEAD of the directory the run started in
    committed: Optional[datetime.datetime] = None  # that commit's date, UTC
    subject: Optional[str] = None
    dirty: bool = False  # the checkout had uncommitted changes to tracked files
    tree_commit: Optional[str] = None  # pull-request gate: the head Keras tree's commit
    driver: Optional[str] = None
    cuda: Optional[str] = None
    repeats: Optional[int] = None
    samples_cap: Optional[int] = None
    shard: Optional[tuple[int, int]] = None  # (K, N): this file holds the K-th of N parts
    simulated: int = 0  # --rnnbench-simulate-devices: CPU slices stood in for that many GPUs
    run_id: Optional[str] = None  # the file's "run_id"; files written before it have none

    @property
    def when(self) -> str:
        """ "2026-11-29 07:46" (UTC), for tables and chart labels."""
        return self.written.strftime("%Y-%m-%d %H:%M")

    @property
    def short_commit(self) -> str:
        return (self.commit or "")[:7]


@dataclass(frozen=True)
class Point:
    """One case in one run: measured, or failed (then `row.status` is "failed")."""

    run: Run
    row: Row
    rss_bytes: Optional[int] = None
    python: Optional[str] = None  # the worker interpreter's version
    keras_file: Optional[str] = None  # where the worker imported keras from
    # How the case was measured, where the file says (thread pools, GPU memory's source, an
    # injected slowdown): a change of these moves the figures as a code change would.
    setup: Mapping[str, Any] = field(default_factory=dict)

    def value(self, metric: Metric) -> Optional[float]:
        """The metric's value; None when the case failed or did not measure it (GPU memory on a
        CPU) or the value is not a finite number (a diverged loss)."""
        if self.row.status != "passed":
            return None
        value = metric.read(self)
        if value is None or not math.isfinite(value):
            return None
        return float(value)


# ------------------------------------------------------------------------------------------------
# Reading one document.


def _utc(text: Any, where: str, what: str) -> datetime.datetime:
    try:
        moment = datetime.datetime.fromisoformat(str(text))
    except ValueError:
        raise HistoryError(f"{where}: {what} {text!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:  # the format's times are UTC; a hand-made file may omit the zone
        return moment.replace(tzinfo=datetime.timezone.utc)
    return moment.astimezone(datetime.timezone.utc)


def profile_of(machine: Mapping[str, Any], where: str) -> HardwareProfile:
    """The hardware profile of a file's machine section; HistoryError names the file."""
    try:
        return hardware_profile(machine)
    except ValueError as exc:
        raise HistoryError(f"{where}: {exc}") from None


def _optional_int(value: Any) -> Optional[int]:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def run_of(document: Mapping[str, Any], where: str) -> Run:
    """The run a checked results document describes; "source", "gate" and "run_id" are optional
    (older files have none of them)."""
    if "written" not in document:
        raise HistoryError(f"{where}: no 'written' time, so the run cannot be placed in a series")
    machine = document["machine"]
    source = document.get("source") or {}
    head = (document.get("gate") or {}).get("head") or {}
    settings = document.get("settings") or {}
    committed = source.get("committed")
    run_id = document.get("run_id")
    return Run(
        source=where,
        written=_utc(document["written"], where, "'written'"),
        profile=profile_of(machine, where),
        commit=source.get("commit") or None,
        committed=_utc(committed, where, "'source.committed'") if committed else None,
        subject=source.get("subject") or None,
        dirty=bool(source.get("dirty")),
        tree_commit=head.get("commit") if isinstance(head, Mapping) else None,
        driver=machine.get("driver"),
        cuda=machine.get("cuda"),
        repeats=_optional_int(settings.get("repeats")),
        samples_cap=_optional_int(settings.get("samples_cap")),
        shard=_shard(settings.get("shard"), where),
        simulated=_optional_int(settings.get("simulate_devices")) or 0,
        run_id=run_id if isinstance(run_id, str) and run_id else None,
    )


def _shard(value: Any, where: str) -> Optional[tuple[int, int]]:
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(_optional_int(v) is not None for v in value)
        or not 1 <= value[0] <= value[1]
    ):
        raise HistoryError(f"{where}: 'settings.shard' {value!r} is not [K, N] with 1 <= K <= N")
    return (value[0], value[1])


def _point(run: Run, row: Row, entry: Mapping[str, Any]) -> Point:
    worker = entry.get("worker") or {}
    python = (worker.get("python") or {}).get("version")
    origin = worker.get("keras_origin") or {}
    return Point(
        run=run,
        row=row,
        rss_bytes=_optional_int(entry.get("host_peak_rss_bytes")),
        python=str(python) if python else None,
        keras_file=origin.get("file") if isinstance(origin, Mapping) else None,
        setup=_setup(entry, worker),
    )


def _setup(entry: Mapping[str, Any], worker: Mapping[str, Any]) -> dict[str, Any]:
    """What the results entry says of how its figures were taken (history/suspects.py)."""
    found = worker.get("run")
    facts: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    nvml = entry.get("gpu_nvml_process_peak_bytes") is not None
    return {
        "thread pools": facts.get("thread_pools"),
        "GPU memory preallocated": facts.get("preallocate"),
        "injected slowdown": worker.get("inject_slowdown"),
        "GPU memory read from": "NVML" if nvml else worker.get("gpu_framework_peak_source"),
    }


def points_of(document: Mapping[str, Any], run: Run) -> list[Point]:
    """Every case of the document, measured or failed, checked against the run's machine (the
    shape of its entries was checked when it was read: results/schema.py)."""
    points = []
    for row in rows_of(document, run.source):
        if row.gpus > len(run.profile.gpus) and row.gpus > run.simulated:
            # A case cannot use more GPUs than its machine has: this case was measured on another
            # machine, and its numbers would join the wrong series.
            raise HistoryError(
                f"{run.source}: case {row.case_id} used {row.gpus} GPU(s) but the file's machine "
                f"({run.profile.label}) has {len(run.profile.gpus)}: the file mixes results of "
                "several machines; keep one results file per machine"
            )
        if row.status == "passed" and row.epoch_seconds is None:
            raise HistoryError(f"{run.source}: case {row.case_id} has no epoch_seconds")
        points.append(_point(run, row, document["results"].get(row.case_id) or {}))
    return points
