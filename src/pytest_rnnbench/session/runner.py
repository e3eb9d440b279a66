"""Running one benchmark case: the worker (or, live, the reference and candidate workers taking
turns), with its interpreter, data, GPUs and progress display.

The runner measures; it does not judge. A case that cannot run here is skipped with the reason
(backend, reference interpreter, dataset, devices); a worker that fails raises WorkerError for the
session to record.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Protocol, Union

import pytest

from ..matrix import Case
from ..run import datasets
from ..run.devices import GpuMemoryMonitor, Slot
from ..run.git import toplevel
from ..run.probe import probe_backend
from ..run.process import WorkerRun, WorkerUnsupported, run_worker
from ..run.protocol import (
    build_request,
    shared_compilations,
    with_keras_tree,
    worker_env,
)
from ..run.summary import Summary, summarize
from ..run.trees import SourceTree, TreeError, base_tree, head_tree
from ..run.trees import remove as remove_tree
from ..run.turns import SIDES, WorkerSpec, run_live, turn_steps_for
from ..settings import Settings
from ..verdicts.live import merge_side
from .display import CaseShown, ProgressDisplay


class SessionMaker(Protocol):
    """A stored baseline's judge (verdicts/stored.BaselineJudge), as the runner asks it."""

    def makes_session(self, case_id: str, samples: Any, repeats: Any) -> bool: ...


@dataclass(frozen=True)
class Measured:
    """What one case measured: its summary (of the merged candidate workers, when live) and,
    live, every worker's own result per side."""

    summary: Summary
    reference: Sequence[Mapping[str, Any]] = ()
    candidate: Sequence[Mapping[str, Any]] = ()


def source_trees(settings: Settings, start: Path) -> dict[str, SourceTree]:
    """The pull-request gate's two Keras trees (the base extracted from git); a bad ref or
    directory is a usage error before any test."""
    assert settings.gate_base is not None
    spec, kind = settings.gate_base
    try:
        head = head_tree(settings.head, start)
        repo = toplevel(head.path) or head.path
        # A head that is a folder of its repository (a monorepo's python/) has its base taken
        # from the same folder at the base's commit, not from the repository's top.
        within = head.path.resolve().relative_to(repo.resolve()).as_posix()
        base = base_tree(
            spec, repo, Path(tempfile.gettempdir()), start, kind=kind, within=within.strip(".")
        )
    except TreeError as exc:
        raise pytest.UsageError(str(exc)) from None
    same = base.path == head.path or (
        base.commit is not None and base.commit == head.commit and not (base.dirty or head.dirty)
    )
    if same:  # an A/A run would pass every case and say nothing of the change
        remove_tree(base)
        raise pytest.UsageError(
            f"the base and the head are the same tree ({base.label}; {head.label}): "
            "nothing to compare; name the branch the change is for (--base origin/master)"
        )
    return {"base": base, "head": head}


class CaseRunner:
    """Runs cases in worker processes; remembers per session what it found out (backends that
    cannot run, datasets prepared or unavailable)."""

    def __init__(
        self,
        settings: Settings,
        slot: Slot,
        trees: Mapping[str, SourceTree],
        progress: ProgressDisplay,
        log_dir: Path,
        stored: Optional[SessionMaker] = None,
    ) -> None:
        self.settings = settings
        self.stored = stored  # says which fresh cases are saved or judged as sessions
        self.slot = slot
        self.trees = trees
        self.progress = progress
        self.log_dir = log_dir
        self._backend_problems: dict[tuple[str, str], Optional[str]] = {}
        self._data: dict[str, Union[dict[str, Any], Exception]] = {}

    def python_for(self, backend: str) -> str:
        return self.settings.pythons.get(backend, sys.executable)

    def backend_problem(self, backend: str, python: Optional[str] = None) -> Optional[str]:
        """Why `backend` cannot run in `python` (asked once per pair), or None."""
        python = python or self.python_for(backend)
        key = (backend, python)
        if key not in self._backend_problems:
            # The gate's workers import keras from its trees, never from the environment: the
            # head's (lifecycle.py skips the backends it does not serve).
            tree = self.trees["head"].path if self.trees else None
            self._backend_problems[key] = probe_backend(backend, python, tree=tree)
        return self._backend_problems[key]

    def data_spec(self, dataset: str) -> dict[str, Any]:
        """Prepared once per session; an unavailable or corrupt dataset is remembered too."""
        if dataset not in self._data:
            try:
                self._data[dataset] = datasets.worker_spec(
                    dataset, self.settings.data_dir, self.settings.cache_dir, self.settings.samples
                )
            except (datasets.DataUnavailable, datasets.DataCorrupt) as exc:
                self._data[dataset] = exc
            except OSError as exc:  # e.g. a cache dir that cannot be created: one clear message
                self._data[dataset] = datasets.DataCorrupt(
                    f"cannot prepare the data in {self.settings.cache_dir}: {exc}"
                )
        found = self._data[dataset]
        if isinstance(found, datasets.DataUnavailable):
            pytest.skip(f"{dataset}: {found}")
        if isinstance(found, Exception):
            pytest.fail(f"{dataset}: {found}", pytrace=False)
        return found

    def gpu_indices(self, case: Case) -> list[int]:
        """The GPUs this case runs on (NVML's indices): the first of this process's own block."""
        if self.settings.simulate_devices:
            return []
        return list(self.slot.gpu_indices[: case.gpus])

    def worker_env(self, case: Case) -> dict[str, str]:
        # The same GPUs as the workers' CUDA_VISIBLE_DEVICES entries (the user's own spelling).
        cuda_ids = [] if self.settings.simulate_devices else self.slot.cuda_ids[: case.gpus]
        return worker_env(
            case.backend,
            cuda_ids,
            self.settings.preallocate,
            self.settings.simulate_devices,
            thread_pools=self.settings.thread_pools,
        )

    def reference_python(self, case: Case) -> Optional[str]:
        """The live reference interpreter for this case (None when judged against baselines)."""
        if self.trees:
            return self.python_for(case.backend)  # the gate's sides differ by Keras tree only
        if not self.settings.against:
            return None
        python = self.settings.reference_python(case.backend)
        if python is None:
            pytest.skip(
                f"--rnnbench-against names no reference interpreter for the {case.backend} backend"
            )
        problem = self.backend_problem(case.backend, python)
        if problem:
            pytest.skip(f"reference interpreter: {problem}")
        return python

    def measure(self, case: Case, nodeid: str) -> Measured:
        """Run `case` (skipping it when it cannot run here); raises WorkerError on a failure."""
        problem = self.backend_problem(case.backend)
        if problem:
            pytest.skip(problem)
        reference = self.reference_python(case)
        spec = self.data_spec(case.dataset)
        last_batch = spec["samples"] % case.batch_size
        if case.gpus > 1 and last_batch % case.gpus:
            pytest.skip(
                f"the last batch of {spec['samples']} samples ({last_batch}) does not "
                f"divide across {case.gpus} devices; choose --rnnbench-samples so it does"
            )
        request = build_request(case.to_dict(), spec, self.settings.repeats)
        candidate = build_request(
            case.to_dict(), spec, self.settings.repeats, self.settings.inject_slowdown
        )
        monitor = GpuMemoryMonitor(self.gpu_indices(case))
        shown = self.progress.case(case.id, nodeid)
        env = self.worker_env(case)
        sides: tuple[list[dict[str, Any]], list[dict[str, Any]]] = ([], [])
        try:
            with monitor, shown:
                if reference is None:
                    result = self._run_fresh(case, candidate, env, monitor, shown)
                else:
                    sides = self._run_live(
                        case, reference, (request, candidate), env, monitor, shown
                    )
                    result = _late_exits(
                        merge_side(sides[1]),
                        [(f"{name} worker", side) for name, side in zip(self._side_names(), sides)],
                    )
        except WorkerUnsupported as exc:
            pytest.skip(f"{case.id}: {exc}")
        assert result is not None
        result["gpu_memory"] = monitor.to_dict()
        for reference_worker in sides[0]:  # the side's peak: merge_side keeps the first's
            reference_worker["gpu_memory"] = monitor.reference_dict()
        return Measured(summarize(case.id, result), sides[0], sides[1])

    def _run_fresh(
        self,
        case: Case,
        request: dict[str, Any],
        env: dict[str, str],
        monitor: GpuMemoryMonitor,
        shown: CaseShown,
    ) -> Optional[dict[str, Any]]:
        """The case in `stored_workers` fresh workers, one after another: one result, whose
        epochs say which worker timed them (live.merge_side) when there are several. A case that
        is neither saved nor judged needs only one, unless --rnnbench-workers says otherwise."""
        count = self.settings.stored_workers
        if self.settings.workers is None and self.stored is not None:
            workload = (case.id, request["data"]["samples"], request["repeats"])
            count = count if self.stored.makes_session(*workload) else 1
        shown.fresh_workers(count)
        if count == 1:
            return self._run_one(case, request, env, monitor, shown, f"{case.id}.log")
        results = []
        for index in range(count):
            result = self._run_one(case, request, env, monitor, shown, f"{case.id}.{index}.log")
            if result is None:
                return None
            results.append(result)
        return _late_exits(merge_side(results), [("worker", results)])

    def _run_one(
        self,
        case: Case,
        request: dict[str, Any],
        env: dict[str, str],
        monitor: GpuMemoryMonitor,
        shown: CaseShown,
        log_name: str,
    ) -> Optional[dict[str, Any]]:
        """One worker in this run's interpreter: the usual measurement."""

        def on_message(message: dict[str, Any]) -> None:
            if message["type"] == "started":
                monitor.watch(message["pid"])
            shown.on_message(message)

        run = run_worker(
            self.python_for(case.backend),
            request,
            env,
            self.settings.timeout_s,
            self.log_dir / log_name,
            on_message=on_message,
            max_rss_bytes=self.settings.max_rss_bytes,
        )
        return None if run.result is None else _entry(run)

    def _run_live(
        self,
        case: Case,
        reference: str,
        requests: tuple[dict[str, Any], dict[str, Any]],
        env: dict[str, str],
        monitor: GpuMemoryMonitor,
        shown: CaseShown,
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Reference and candidate workers taking turns (run/turns.py): each side's results."""
        workers = self.settings.workers_per_side(case.backend)

        def on_message(side: str, index: int, message: dict[str, Any]) -> None:
            if message["type"] == "started":
                # Ours, not "another process on the GPU"; the peak reported is the candidate's.
                monitor.watch(message["pid"], measured=side == "candidate")
            if side == "candidate" and index == 0:  # one worker's progress stands for all
                shown.on_message(message)

        def specs(
            side: str, python: str, sent: dict[str, Any], env: dict[str, str]
        ) -> list[WorkerSpec]:
            side_env, side_request = env, sent
            tree = self.trees.get("base" if side == "reference" else "head")
            if tree is not None:  # the pull-request gate: this side imports Keras from its tree
                side_env = with_keras_tree(env, tree.path)
                side_request = dict(sent, keras_tree=str(tree.path), keras_commit=tree.commit)
            return [
                WorkerSpec(
                    python, side_request, side_env, self.log_dir / f"{case.id}.{side}{i}.log"
                )
                for i in range(workers)
            ]

        request, candidate = requests
        steps_per_epoch = -(-request["data"]["samples"] // case.batch_size)
        turn_steps = turn_steps_for(
            steps_per_epoch, self.settings.repeats, self.settings.turn_steps
        )
        # Every worker of the case compiles the same programs: where the backend can share them,
        # one worker per side compiles first and the others load.
        with shared_compilations(case.backend) as shared:
            runs = run_live(
                specs("reference", reference, request, dict(env, **shared.get("reference", {}))),
                specs(
                    "candidate",
                    self.python_for(case.backend),
                    candidate,
                    dict(env, **shared.get("candidate", {})),
                ),
                self.settings.timeout_s,  # each worker's own (its warm-up and turns)
                turn_steps,
                on_message=on_message,
                max_rss_bytes=self.settings.max_rss_bytes,
                first_alone=bool(shared),
                side_names=self._side_names(),
            )
        return _with_turn_loads(runs[0]), _with_turn_loads(runs[1])

    def _side_names(self) -> tuple[str, str]:
        """How failures name the two sides: the gate's trees, or the interpreters'."""
        return ("base", "head") if self.trees else SIDES


def _with_turn_loads(runs: list[WorkerRun]) -> list[dict[str, Any]]:
    """A live side's worker results, each with what the controller observed of its turns."""
    return [_entry(run, turn_loads=run.turn_loads) for run in runs if run.result is not None]


def _entry(run: WorkerRun, **observed: Any) -> dict[str, Any]:
    """A worker's result with what the controller observed of it, and `late_exit` when it was
    killed after sending that result (run/process.py), so the results file's entry says so."""
    assert run.result is not None
    entry = dict(run.result, **observed)
    if run.late_exit:
        entry["late_exit"] = run.late_exit
    return entry


def _late_exits(
    merged: dict[str, Any], sides: Sequence[tuple[str, Sequence[Mapping[str, Any]]]]
) -> dict[str, Any]:
    """`merged` with every one of its workers' late exits, naming each worker: merge_side keeps
    the first worker's keys only."""
    said = [
        f"{label} {index} {str(result['late_exit']).removeprefix('worker ')}"
        for label, results in sides
        for index, result in enumerate(results)
        if result.get("late_exit")
    ]
    merged.pop("late_exit", None)
    if said:
        merged["late_exit"] = "; ".join(said)
    return merged
