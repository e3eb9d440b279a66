"""Results files of many runs read as series: one series per machine profile, case and workload,
its points in run order. What `python -m pytest_rnnbench history` analyses and draws.

A profile is the machine's hardware (machine.hardware_profile): the numbers of two profiles are
never compared, so each profile has its own series. A workload is the samples per epoch
(`--rnnbench-samples`): epochs of other sizes take other times, so they are other series. What one
file adds (its run and points) is read in runs.py.

Runs of a profile are ordered by the time of their commit when every run of it records one (so a
commit measured again later falls into its place), else by the time each file was written.

The shards of one run (`--rnnbench-shard=K/N`: parts 1..N of the matrix, often on N machines of
one profile at once, each writing its own file) are joined into one run: files of one profile,
commit, workload and N, written within SHARD_WINDOW of the first, each K at most once. A K seen
again starts the next run. Files without a recorded shard (older files, or a split made by hand)
stay runs of their own; a case's series continues through them all the same.

The same run read twice (an artifact downloaded twice, overlapping globs) counts once: files
with a "run_id" are the same run when their ids are; older files when their machine, time and
commit are.

No pytest import, no framework import, no statistics library: plain JSON in, plain objects out.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import os
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from ..backends import rank
from ..machine import HardwareProfile
from ..matrix import DATASETS, Case
from ..results.read import load
from .runs import Metric, Point, Run, points_of, run_of

# How far apart the shards of one run may have been written: the parts of a nightly run start
# together and each takes at most hours; the next night's parts come a day later.
SHARD_WINDOW = datetime.timedelta(hours=12)


@dataclass(frozen=True, order=True)
class SeriesKey:
    """What makes a series, in page order: machine, dataset, batch size, unroll, GPUs, backend
    and workload."""

    profile: HardwareProfile
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
        return Case(self.backend, self.gpus, self.batch_size, self.unroll, self.dataset).id

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

    runs: dict[HardwareProfile, list[Run]] = field(default_factory=dict)
    series: list[Series] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def profiles(self) -> list[HardwareProfile]:
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


def key_of(point: Point) -> SeriesKey:
    """The series a point belongs to."""
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


def _shard_groups(runs: Sequence[Run]) -> list[list[Run]]:
    """The runs with a recorded shard, grouped into the runs they are parts of."""
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
    return [group for parts in groups.values() for group in parts]


def join_shards(runs: Sequence[Run]) -> dict[int, Run]:
    """id(run) -> the run it belongs to: the shards of one run joined (see the module's
    docstring), every other run itself."""
    joined = {id(run): run for run in runs}
    for group in _shard_groups(runs):
        if len(group) == 1:
            continue
        whole = dataclasses.replace(
            group[0],
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


def _same_run(run: Run) -> tuple[Hashable, str]:
    """What makes two files one run, and how a note says so: the run id when the file has one
    (the writer's random id: unique however close two runs start); older files by machine, time
    and commit, which two runs of one commit written within one second share."""
    if run.run_id is not None:
        return ("id", run.run_id), "same run id"
    return ("time", run.profile, run.written, run.commit), "same machine, time and commit"


def _read_runs(
    documents: Iterable[tuple[str, Mapping[str, Any]]], notes: list[str]
) -> tuple[dict[HardwareProfile, list[Run]], list[Point]]:
    """Every run and point of the documents, each case of a run counted once."""
    seen: dict[tuple[Hashable, str], str] = {}
    runs: dict[HardwareProfile, list[Run]] = {}
    first_of: dict[Hashable, Run] = {}  # a run read from several files (its results file
    # rewritten after each case, copied along the way) is one run: its first file's
    points: list[Point] = []
    for source, document in documents:
        run = run_of(document, source)
        identity, why = _same_run(run)
        known = first_of.get(identity)
        read = (
            [dataclasses.replace(p, run=known) for p in points_of(document, run)]
            if known
            else (points_of(document, run))
        )
        if not read:
            notes.append(f"{source}: holds no case")
        if document.get("finished") is False:  # killed or interrupted: a case that hung is absent
            selected = document.get("cases_selected")
            of = f" of the {selected} selected" if isinstance(selected, int) else ""
            notes.append(
                f"{source}: the run stopped before its end ({len(read)} case(s){of} in it): a "
                "case it never finished is missing from its series, not shown as failed"
            )
        kept = []
        for point in read:
            same = (identity, point.row.case_id)
            if same in seen:
                notes.append(
                    f"{source}: {point.row.case_id} is the same run as in {seen[same]} "
                    f"({why}); counted once"
                )
                continue
            seen[same] = source
            kept.append(point)
        if kept and known is None:
            first_of[identity] = run
            runs.setdefault(run.profile, []).append(run)
        points.extend(kept)
    return runs, points


def build_history(documents: Iterable[tuple[str, Mapping[str, Any]]]) -> History:
    """Runs and series from (source name, checked results document) pairs."""
    history = History()
    runs, points = _read_runs(documents, history.notes)
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
