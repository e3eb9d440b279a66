"""Live A/B comparison (--rnnbench-against): judge this run against a reference interpreter
measured in the same session, instead of against a stored baseline.

Each case runs in `--rnnbench-against-workers` reference workers (e.g. the main branch's
environment) and as many candidate workers (this run's interpreter), all alive at once and taking
turns of a few training steps (run/turns.py). The i-th turns of every worker ran moments apart
on the same machine, so the machine's drift at each turn is removed first, and turns that other
processes loaded are left out (quiet_turns.py); then the worker process
is the unit of the time verdict (worker_level.py: each process keeps its own speed for its whole
life, so its turns are not independent samples), judged at the run's false-alarm level divided
among its cases (family.py). Memory and loss are compared as with a stored baseline.

A case that was measured but cannot be judged is skipped, saying so: it is no pass.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Optional

import pytest

from ..quantiles import median
from ..run.trees import SourceTree
from ..settings import LIVE_PER_SIDE, Settings
from . import samples, verdict
from .distrust import busy_limit_of, uneven_load_reason, untrusted_timing
from .family import RunFamily
from .judge import TIME, NotJudged, Side, judge
from .protocol import CaseRun, Judgement, tolerances
from .quiet_turns import compare_quiet_turns
from .time_verdict import time_verdict, unresolved_lines
from .worker_level import PROCESS_SPREAD_FLOOR, WorkerComparison


def merge_side(results: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One result for a side's workers, for the tables: every worker's epochs, the worst peaks.

    The first worker's result gives the rest (versions, run facts); its final loss stands for
    all (same seed, same data) unless another worker's is not finite, which must not be hidden.
    """
    merged = dict(results[0])
    merged.pop("turn_loads", None)  # one worker's own: the verdict keeps every worker's
    merged["epochs"] = [
        dict(epoch, worker=index)
        for index, result in enumerate(results)
        for epoch in result.get("epochs") or []
    ]
    for key in ("host_peak_rss_bytes", "gpu_framework_peak_bytes"):
        values = [r[key] for r in results if r.get(key) is not None]
        merged[key] = max(values) if values else None
    losses = [float(r["final_loss"]) for r in results if r.get("final_loss") is not None]
    broken = [loss for loss in losses if not math.isfinite(loss)]
    if broken:
        merged["final_loss"] = broken[0]
    probes = [samples.worker_probe_ms(r) for r in results]
    merged.pop("machine_probe", None)  # one worker's own, like turn_loads
    if all(probes):  # workers asked to probe the machine's speed (calibration scripts)
        merged["worker_probe_ms"] = [ms[0] for ms in probes]
    merged["live_workers"] = len(results)
    return merged


def median_epoch_seconds(result: Mapping[str, Any]) -> Optional[float]:
    seconds = [epoch["seconds"] for epoch in result.get("epochs") or []]
    return median(seconds) if seconds else None


def keras_origin_problem(
    side: str, results: Sequence[Mapping[str, Any]], tree: Optional[SourceTree]
) -> str:
    """Why a side's workers did not measure its own Keras tree, or "" when every one did.

    The worker checks this itself before training; checking its report again here means that a
    worker that says nothing about its Keras (an old or foreign worker) cannot pass for a side.
    """
    if tree is None:
        return ""
    root = os.path.realpath(tree.path)
    for result in results:
        origin = (result.get("keras_origin") or {}).get("file")
        if not origin:
            return f"the {side} worker did not report where it imported keras from"
        if not os.path.realpath(origin).startswith(root + os.sep):
            return (
                f"the {side} worker imported keras from {origin}, not from the {side} tree "
                f"{tree.path}: this would compare the wrong code"
            )
    return ""


class LiveJudge:
    """The live judge of a pytest run: reference workers measured in the same session, turn by
    turn with the candidate's (another interpreter with --rnnbench-against; another Keras tree
    with --rnnbench-base, the pull-request gate). The session calls `check` after every case."""

    def __init__(
        self, settings: Settings, trees: Optional[Mapping[str, SourceTree]] = None
    ) -> None:
        self.settings = settings
        self.trees = dict(trees or {})
        self.outcomes: dict[str, verdict.CaseVerdict] = {}
        self.saved: list[str] = []  # a live run records no baseline (a usage error)
        self.unjudged: dict[str, str] = {}  # case id -> why it was measured but not judged
        self.run_family = RunFamily(settings.false_alarm_rate)  # cases known after collection

    def family(self, cases: int) -> None:
        self.run_family.collected(cases)

    def header_lines(self) -> list[str]:
        per_side = self.settings.against_workers
        other = [
            f"{backend}: {n}"
            for backend, n in per_side.items()
            if backend != "*" and backend in self.settings.backends
        ]
        turns = (
            f"{per_side.get('*', LIVE_PER_SIDE)} worker(s) per side"
            + (f" ({', '.join(other)})" if other else "")
            + f" taking turns of up to {self.settings.turn_steps} steps; stored baselines are "
            "not used"
        )
        if self.trees:
            base, head = self.trees["base"], self.trees["head"]
            return [
                f"rnnbench: pull-request gate: {head.label} against {base.label}: {turns}",
                f"rnnbench: base tree {base.path}; head tree {head.path}",
            ]
        against = ", ".join(
            f"{backend}={python}" if backend != "*" else python
            for backend, python in sorted(self.settings.against.items())
        )
        return [f"rnnbench: live A/B against {against}: {turns}"]

    def _busy_limit(self) -> float:
        """Other processes' share of the CPU above which a turn is left out (quiet_turns.py)."""
        return busy_limit_of(self.settings.busy_limit)

    def _side_names(self) -> tuple[str, str]:
        return ("the base", "the head") if self.trees else ("the reference", "this run")

    def summary_lines(self) -> list[str]:
        lines = unresolved_lines(self.outcomes.values())
        for _case_id, found in sorted(self.outcomes.items()):
            lines.append(found.line())
            if found.outcome == verdict.IMPROVEMENT:
                lines.append("  this run is faster or leaner than the reference")
        if self.unjudged:
            lines.append(f"not judged ({len(self.unjudged)}): measured, but not comparable")
            lines.extend(f"  {case_id}: {why}" for case_id, why in sorted(self.unjudged.items()))
        return lines

    def check(self, run: CaseRun) -> Optional[Judgement]:
        """Judge the candidate workers against the reference workers; fail the item when the
        sides measured the wrong code or cannot be paired, skip it when it cannot be judged."""
        case_id, item = run.case.id, run.item
        for side, results in (("base", run.reference), ("head", run.candidate)):
            problem = keras_origin_problem(side, results, self.trees.get(side))
            if problem:
                pytest.fail(f"{case_id}: {problem}", pytrace=False)
        reference_merged = merge_side(run.reference)
        old, new = _sides(run, reference_merged)
        loads = (
            [samples.turn_loads(result) for result in run.reference],
            [samples.turn_loads(result) for result in run.candidate],
        )
        limits = tolerances(self.settings, item)
        turns, comparison, judged_loads = _worker_turns(
            case_id, run, loads, self._busy_limit(), limits[TIME]
        )
        time = _time_judge(turns, comparison, self.run_family.alpha, self._busy_limit())
        found = judge(
            case_id, old, new, limits, alpha=self.run_family.alpha, paired=True, time=time
        )
        if isinstance(found, NotJudged):
            self.unjudged[case_id] = found.why
            pytest.skip(f"{case_id}: measured, not judged: {found.why}")
        time_metric = next((m for m in found.metrics if m.metric == TIME), None)
        uneven = time_metric is not None and uneven_load_reason(
            time_metric.outcome, *judged_loads, limits[TIME], self._side_names(), time_metric.change
        )
        if uneven:
            found = untrusted_timing(found, uneven, also_pass=True)
        self.outcomes[case_id] = found
        context: dict[str, Any] = {
            "baseline_seconds": median_epoch_seconds(reference_merged),
            "against": reference_merged.get("python", {}).get("executable"),
            # Each worker's mean step time (ms) per turn, both sides: any run can be re-judged
            # offline under another rule, and a reader sees the worker spread behind a verdict.
            "workers": {"reference": turns[0], "candidate": turns[1]},
            # Per worker and turn, the share of the machine's CPU other processes took.
            "turn_loads": {"reference": loads[0], "candidate": loads[1]},
            "family": self.run_family.to_dict(),
        }
        if self.trees:
            context["base_commit"] = self.trees["base"].commit
            context["head_commit"] = self.trees["head"].commit
        return Judgement(found, context)


def _sides(run: CaseRun, reference_merged: Mapping[str, Any]) -> tuple[Side, Side]:
    """The reference and the candidate as sides (their time is judged per worker, _time_judge)."""
    candidate_merged = run.summary.raw
    return (
        Side(
            samples.metric_samples(reference_merged),
            reference_merged,
            reference_merged.get("versions") or {},
        ),
        Side(
            samples.metric_samples(candidate_merged),
            candidate_merged,
            candidate_merged.get("versions") or {},
        ),
    )


def _worker_turns(
    case_id: str,
    run: CaseRun,
    loads: tuple[list[list[float]], list[list[float]]],
    busy_limit: float,
    tolerance: float,
) -> tuple[
    tuple[list[list[float]], list[list[float]]],
    WorkerComparison,
    tuple[list[list[float]], list[list[float]]],
]:
    """Per side, each worker's mean step time (ms) in each of its turns, their comparison on the
    turns other processes left alone (quiet_turns.py), and each side's loads of the turns judged;
    the test fails, saying why, when they cannot be compared (the sides took different numbers
    of turns, none, or a turn time is not positive and finite)."""
    try:
        reference = [samples.turn_means(result) for result in run.reference]
        candidate = [samples.turn_means(result) for result in run.candidate]
        # compare_workers checks the turns (ValueError)
        comparison, judged_loads = compare_quiet_turns(
            reference, candidate, loads, busy_limit, even_within=tolerance
        )
    except ValueError as exc:
        pytest.fail(f"{case_id}: the two sides cannot be paired: {exc}", pytrace=False)
    return (reference, candidate), comparison, judged_loads


def _time_judge(
    turns: tuple[list[list[float]], list[list[float]]],
    comparison: WorkerComparison,
    alpha: float,
    busy_limit: float,
) -> Callable[[float], verdict.MetricVerdict]:
    """The step time's verdict for a tolerance, with worker processes as the unit."""
    reference, candidate = turns
    workers = f"{len(reference)}+{len(candidate)} worker processes"
    if comparison.floor_used:
        test = f"per-worker summaries, assumed process spread {PROCESS_SPREAD_FLOOR:.0%}"
        workers += " (too few to measure their own spread)"
    else:
        test = "Student's t on per-worker summaries"
    if comparison.turns_left_out:
        every = sum(len(worker) for worker in (*reference, *candidate))
        left_out = (
            f"{comparison.turns_left_out} of their {every} turns left out: other processes "
            f"took more than {busy_limit:.0%} of the CPU"
        )
        test += f"; {left_out}"
        workers += f" ({left_out})"

    def judged(tolerance: float) -> verdict.MetricVerdict:
        return time_verdict(
            comparison,
            tolerance,
            alpha,
            baseline_ms=comparison.reference_ms,
            now_ms=comparison.candidate_ms,
            counts=(len(reference), len(candidate)),
            test=test,
            unit=workers,
        )

    return judged
