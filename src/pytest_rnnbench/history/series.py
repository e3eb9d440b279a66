"""Results files of many runs read as series: one series per machine profile, case and workload,
its points in run order. What `python -m pytest_rnnbench history` analyses and draws.

A run is one results file (`--rnnbench-json`): one machine, one time ("written"), the git commit
it was started in ("source", when the file records one) and, under the pull-request gate, the
Keras tree's commit. A profile is the machine's hardware (its given name, CPU model and count,
GPU models): the numbers of two profiles are never compared, so each profile has its own series.
Driver, CUDA, Python and package versions are not part of the profile: a driver update is a
suspect for a change, not a new machine. A workload is the samples per epoch
(`--rnnbench-samples`): epochs of other sizes take other times, so they are other series.

Runs of a profile are ordered by the time of their commit when every run of it records one (so a
commit measured again later falls into its place), else by the time each file was written.

The shards of one run (`--rnnbench-shard=K/N`: parts 1..N of the matrix, often on N machines of
one profile at once, each writing its own file) are joined into one run: files of one profile,
commit, workload and N, written within SHARD_WINDOW of the first, each K at most once. A K seen
again starts the next run. Files without a recorded shard (older files, or a split made by hand)
stay runs of their own; a case's series continues through them all the same.

Bad input is refused with a message that names the file (HistoryError or results.ResultsError);
failed cases are kept as points without a value, so every page and chart shows them.

No pytest import, no framework import, no statistics library: plain JSON in, plain objects out.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from ..backends import rank
from ..matrix import DATASETS
from ..metrics import HISTORY_VIEWS
from ..results.document import Row, instance_name, load, rows_of, short_cpu
from ..run.devices import cpu_name

# How far apart the shards of one run may have been written: the parts of a nightly run start
# together and each takes at most hours; the next night's parts come a day later.
SHARD_WINDOW = datetime.timedelta(hours=12)


class HistoryError(ValueError):
    """A results file that cannot join a history; the message names the file and the problem."""


# ------------------------------------------------------------------------------------------------
# What a series can follow.


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


# ------------------------------------------------------------------------------------------------
# Machines, runs and points.


@dataclass(frozen=True, order=True)
class Profile:
    """The hardware a run measured on; only runs of one profile are compared."""

    name: str  # the machine's given name ("name" or "instance" in its section), or ""
    cpu: str  # the CPU model without trademarks and clock (devices.cpu_name)
    cpus: int
    gpus: tuple[str, ...]  # one model name per GPU, sorted

    @property
    def label(self) -> str:
        """ "Intel Xeon, 2 CPUs"; "4x NVIDIA A10G (AMD EPYC 7R13, 48 CPUs)"; a given name."""
        machine = {"name": self.name, "cpu": self.cpu, "cpus": self.cpus, "gpus": self.gpus}
        label = instance_name(machine)
        if self.gpus and not self.name:
            label += f" ({short_cpu(self.cpu)}, {self.cpus} CPUs)"
        return label

    @property
    def slug(self) -> str:
        """A directory name for the profile's charts: lowercase letters, digits and dashes."""
        return re.sub(r"[^a-z0-9]+", "-", self.label.lower()).strip("-") or "machine"


@dataclass(frozen=True)
class Run:
    """One results file."""

    source: str  # the file, as given
    written: datetime.datetime  # UTC
    profile: Profile
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

    def value(self, metric: Metric) -> Optional[float]:
        """The metric's value; None when the case failed or did not measure it (GPU memory on a
        CPU) or the value is not a finite number (a diverged loss)."""
        if self.row.status != "passed":
            return None
        value = metric.read(self)
        if value is None or not math.isfinite(value):
            return None
        return float(value)


@dataclass(frozen=True, order=True)
class SeriesKey:
    """What makes a series, in page order: machine, dataset, batch size, unroll, GPUs, backend
    and workload."""

    profile: Profile
    dataset_rank: int
    dataset: str
    batch_size: int
    nounroll: bool  # sorts the unrolled cases first, as the seed's tables
    gpus: int
    backend_rank: int
    backend: str
    samples_cap: int  # -1: full epochs (sorts first)

    @property
    def unroll(self) -> bool:
        return not self.nounroll

    @property
    def case_id(self) -> str:
        unroll = "nounroll" if self.nounroll else "unroll"
        return f"{self.backend}-gpu{self.gpus}-b{self.batch_size}-{unroll}-{self.dataset}"

    @property
    def workload(self) -> str:
        """ "2,048 samples/epoch" or "full epochs"."""
        return "full epochs" if self.samples_cap < 0 else f"{self.samples_cap:,} samples/epoch"


@dataclass
class Series:
    """One case on one profile with one workload, its points in run order."""

    key: SeriesKey
    points: list[Point] = field(default_factory=list)

    def values(self, metric: Metric) -> list[Optional[float]]:
        return [point.value(metric) for point in self.points]

    @property
    def failures(self) -> list[Point]:
        return [point for point in self.points if point.row.status != "passed"]


@dataclass
class History:
    """Every run by profile (in run order), every series, and what was noticed while reading."""

    runs: dict[Profile, list[Run]] = field(default_factory=dict)
    series: list[Series] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def profiles(self) -> list[Profile]:
        return sorted(self.runs)

    @functools.cached_property
    def _numbers(self) -> dict[int, int]:
        """Each run's number within its profile, by identity (asked once the runs are final)."""
        return {
            id(run): number for listed in self.runs.values() for number, run in enumerate(listed, 1)
        }

    def position(self, run: Run) -> int:
        """The run's number within its profile, from 1."""
        return self._numbers[id(run)]


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


def profile_of(machine: Mapping[str, Any], where: str) -> Profile:
    cpu, cpus, gpus = machine.get("cpu"), machine.get("cpus"), machine.get("gpus")
    if not isinstance(cpu, str) or not isinstance(cpus, int) or not isinstance(gpus, list):
        raise HistoryError(
            f"{where}: the machine section needs cpu (text), cpus (a number) and gpus (a list) "
            "to tell which machine profile the run belongs to"
        )
    name = str(machine.get("name") or machine.get("instance") or "")
    return Profile(name, cpu_name(cpu), cpus, tuple(sorted(str(gpu) for gpu in gpus)))


def _optional_int(value: Any) -> Optional[int]:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def run_of(document: Mapping[str, Any], where: str) -> Run:
    """The run a checked results document describes; "source" and "gate" are optional (older
    files have neither)."""
    if "written" not in document:
        raise HistoryError(f"{where}: no 'written' time, so the run cannot be placed in a series")
    machine = document["machine"]
    source = document.get("source") or {}
    head = (document.get("gate") or {}).get("head") or {}
    settings = document.get("settings") or {}
    if not isinstance(source, Mapping) or not isinstance(settings, Mapping):
        raise HistoryError(f"{where}: malformed 'source' or 'settings' section")
    committed = source.get("committed")
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


def points_of(document: Mapping[str, Any], run: Run) -> list[Point]:
    """Every case of the document, measured or failed, checked against the run's machine."""
    for case_id, entry in document["results"].items():
        if not isinstance(entry, Mapping):
            raise HistoryError(f"{run.source}: case {case_id!r} is not an object")
    points = []
    for row in rows_of(document, run.source):
        entry = document["results"].get(row.case_id) or {}
        worker = entry.get("worker") or {}
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
        python = (worker.get("python") or {}).get("version")
        origin = worker.get("keras_origin") or {}
        points.append(
            Point(
                run=run,
                row=row,
                rss_bytes=_optional_int(entry.get("host_peak_rss_bytes")),
                python=str(python) if python else None,
                keras_file=origin.get("file") if isinstance(origin, Mapping) else None,
            )
        )
    return points


# ------------------------------------------------------------------------------------------------
# Many documents -> a history.


def key_of(point: Point) -> SeriesKey:
    row = point.row
    dataset = DATASETS.index(row.dataset) if row.dataset in DATASETS else len(DATASETS)
    cap = point.run.samples_cap
    return SeriesKey(
        profile=point.run.profile,
        dataset_rank=dataset,
        dataset=row.dataset,
        batch_size=row.batch_size,
        nounroll=not row.unroll,
        gpus=row.gpus,
        backend_rank=rank(row.backend),
        backend=row.backend,
        samples_cap=-1 if cap is None else cap,
    )


def join_shards(runs: Sequence[Run]) -> dict[int, Run]:
    """id(run) -> the run it belongs to: the shards of one run joined (see the module's
    docstring), every other run itself."""
    joined = {id(run): run for run in runs}
    groups: dict[tuple[Any, ...], list[list[Run]]] = {}
    for run in sorted(runs, key=lambda r: (r.written, r.source)):
        if run.shard is None:
            continue
        key = (run.profile, run.commit, run.samples_cap, run.repeats, run.shard[1])
        parts = groups.setdefault(key, [])
        # The earliest open run that lacks this part: two runs of one commit whose parts end
        # interleaved (A1, B1, A2, B2) still join as A1+A2 and B1+B2.
        home = next(
            (
                group
                for group in parts
                if run.written - group[0].written <= SHARD_WINDOW
                and run.shard[0] not in {r.shard[0] for r in group if r.shard}
            ),
            None,
        )
        if home is None:
            parts.append([run])
        else:
            home.append(run)
    for parts in groups.values():
        for group in parts:
            if len(group) == 1:
                continue
            first = group[0]
            whole = dataclasses.replace(
                first,
                source=" + ".join(r.source for r in group),
                dirty=any(r.dirty for r in group),
                shard=None,
            )
            for run in group:
                joined[id(run)] = whole
    return joined


def _run_order(runs: Sequence[Run]) -> list[Run]:
    if runs and all(run.committed is not None for run in runs):
        return sorted(runs, key=lambda r: (r.committed, r.written, r.source))
    return sorted(runs, key=lambda r: (r.written, r.source))


def build_history(documents: Iterable[tuple[str, Mapping[str, Any]]]) -> History:
    """Runs and series from (source name, checked results document) pairs."""
    history = History()
    points: list[Point] = []
    seen: dict[tuple[Profile, datetime.datetime, Optional[str], str], str] = {}
    runs: dict[Profile, list[Run]] = {}
    for source, document in documents:
        run = run_of(document, source)
        read = points_of(document, run)
        if not read:
            history.notes.append(f"{source}: holds no case")
        kept = []
        for point in read:
            # The same file twice (an artifact downloaded twice, overlapping globs) must not count
            # as two runs of each case.
            same = (run.profile, run.written, run.commit, point.row.case_id)
            if same in seen:
                history.notes.append(
                    f"{source}: {point.row.case_id} is the same run as in {seen[same]} "
                    "(same machine, time and commit); counted once"
                )
                continue
            seen[same] = source
            kept.append(point)
        if kept:
            runs.setdefault(run.profile, []).append(run)
            points.extend(kept)
    for profile, listed in runs.items():
        joined = join_shards(listed)
        points = [
            dataclasses.replace(p, run=joined[id(p.run)]) if id(p.run) in joined else p
            for p in points
        ]
        runs[profile] = list({id(run): run for run in joined.values()}.values())
    history.runs = {profile: _run_order(runs[profile]) for profile in sorted(runs)}
    order = {id(run): index for listed in history.runs.values() for index, run in enumerate(listed)}
    by_key: dict[SeriesKey, Series] = {}
    for point in points:
        key = key_of(point)
        by_key.setdefault(key, Series(key)).points.append(point)
    for series in by_key.values():
        series.points.sort(key=lambda p: order[id(p.run)])
    history.series = [by_key[key] for key in sorted(by_key)]
    return history


def load_history(paths: Sequence[Path]) -> History:
    """Read every file (refusing the first bad one, by name) and build the history."""
    unique: dict[str, Path] = {}
    notes = []
    for path in paths:
        real = os.path.realpath(path)
        if real in unique:
            notes.append(f"{path}: given more than once; read once")
            continue
        unique[real] = path
    history = build_history((str(path), load(path)) for path in unique.values())
    history.notes[:0] = notes
    return history
