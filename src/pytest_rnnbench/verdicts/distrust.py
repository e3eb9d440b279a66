"""When a time comparison cannot be trusted, and what that does to a verdict. No pytest.

A timing says something about the code only when the code had the machine to itself: another
process on the case's GPU, or other processes taking much of the CPU, make its times say more about
the neighbours. Such a time verdict becomes inconclusive, with the reason; memory and loss
verdicts stand.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Optional

from .records import (
    IMPROVEMENT,
    INCONCLUSIVE,
    PASS,
    REGRESSION,
    CaseVerdict,
    MetricVerdict,
    worst,
)
from .samples import busy_shares

# Timings taken while other processes (or a VM's hypervisor) took more than this share of the
# machine's CPU time say more about the neighbours than about the code (docs/calibration.md).
BUSY_MACHINE_SHARE = 0.10


def busy_limit_of(setting: Optional[float]) -> float:
    """The busy limit a setting (`--rnnbench-busy-limit`) means: BUSY_MACHINE_SHARE where unset."""
    return BUSY_MACHINE_SHARE if setting is None else setting


def busy_machine_reason(
    baseline_shares: Sequence[float], now_shares: Sequence[float], limit: float = BUSY_MACHINE_SHARE
) -> str:
    """Why the CPU was too busy with other work to trust a time comparison, or ""."""
    for side, shares in (("the baseline's", baseline_shares), ("this run's", now_shares)):
        if shares and max(shares) > limit:
            return (
                f"other processes took {max(shares):.0%} of the machine's CPU time during "
                f"{side} timed epochs (more than {limit:.0%}); rerun on a quiet machine"
            )
    return ""


def uneven_load_reason(
    outcome: str,
    reference: Sequence[Sequence[float]],
    candidate: Sequence[Sequence[float]],
    limit: float,
    sides: tuple[str, str] = ("the reference", "this run"),
    change: Optional[float] = None,
) -> str:
    """Why a live A/B time verdict with `outcome` (and the time `change` it measured) cannot be
    trusted because other processes loaded one side's turns more than the other's, or "".

    `reference`, `candidate`: per worker, the share of the machine's CPU that other processes
    took during each of its turns (run/turn_load.py). Load that both sides' turns share cancels
    in the drift removal; a difference does not, and on a machine the case keeps busy, other
    processes taking a share d more of it during one side's turns slow that side by up to about
    d. A difference larger than `limit` (the case's time tolerance) is distrusted where it could
    have made the outcome: more load on the candidate's turns, a regression; more on the
    reference's, an improvement, or a pass hiding a regression. The other outcomes stand (the
    load worked against them), so a short turn's noise on one side cannot undo a real finding;
    so do those that the load cannot have made: a change that, with the load's share taken out
    in the outcome's favour, is still beyond the tolerance (or, for a pass, still within it).
    Sides without measured turns are not distrusted.
    """
    means = side_loads(reference, candidate)
    if means is None:
        return ""
    heavier = means[1] - means[0]  # > 0: the candidate's turns were the more loaded
    made_by_load = (REGRESSION,) if heavier > 0 else (IMPROVEMENT, PASS)
    if abs(heavier) <= limit or outcome not in made_by_load:
        return ""
    if change is not None and _outcome_beyond_load(outcome, change, heavier, limit):
        return ""
    return (
        f"other processes took {means[1]:.0%} of the machine's CPU during {sides[1]}'s turns "
        f"and {means[0]:.0%} during {sides[0]}'s (a difference over {limit:.0%}, which the "
        "turns do not cancel); rerun on a quieter machine"
    )


def side_loads(
    reference: Sequence[Sequence[float]], candidate: Sequence[Sequence[float]]
) -> Optional[tuple[float, float]]:
    """Each side's mean share of the CPU other processes took during its turns; None where a
    side has no measured turn."""
    means = []
    for workers in (reference, candidate):
        shares = [share for worker in workers for share in worker]
        if not shares:
            return None
        means.append(sum(shares) / len(shares))
    return means[0], means[1]


def _outcome_beyond_load(outcome: str, change: float, heavier: float, limit: float) -> bool:
    """Whether `outcome` stands with the load difference `heavier` (> 0: the candidate's turns
    the more loaded) taken out of `change` as far as it can go in the outcome's favour."""
    if heavier > 0:  # the candidate was slowed by up to `heavier`: a regression may be smaller
        return (1 + change) / (1 + heavier) - 1 > limit
    at_most = (1 + change) * (1 - heavier) - 1  # the reference was slowed: the change may be more
    return at_most < -limit if outcome == IMPROVEMENT else at_most <= limit


# How shared_gpu_reason begins: a saved verdict judged again offline keeps this distrust, which
# only the worker's NVML monitor could see (benchmarks/pr_calibration.py).
SHARED_GPU = "the GPU was shared with other processes"


def shared_gpu_reason(result: Mapping[str, object]) -> str:
    """Why this worker result's timings cannot be trusted, or "" (from the NVML monitor)."""
    memory = result.get("gpu_memory")
    others = memory.get("nvml_other_processes") if isinstance(memory, Mapping) else None
    if others:
        pids = ", ".join(str(pid) for pid in list(others)[:5])
        return f"{SHARED_GPU} (pids {pids}) while the case ran"
    return ""


def timing_distrust(
    baseline_workload: Mapping[str, object],
    now_workload: Mapping[str, object],
    busy_limit: Optional[float] = None,
) -> str:
    """Why the time comparison of these two measurements cannot be trusted, or ""."""
    limit = busy_limit_of(busy_limit)
    return shared_gpu_reason(now_workload) or busy_machine_reason(
        busy_shares(baseline_workload), busy_shares(now_workload), limit
    )


def untrusted_time(metric: MetricVerdict, why: str, also_pass: bool = False) -> MetricVerdict:
    """A step-time verdict made inconclusive because of `why` when it decided something (a
    regression or an improvement; with `also_pass`, a pass too)."""
    distrusted = (REGRESSION, IMPROVEMENT, PASS) if also_pass else (REGRESSION, IMPROVEMENT)
    if metric.outcome not in distrusted:
        return metric
    return MetricVerdict(**{**metric.__dict__, "outcome": INCONCLUSIVE, "why": why})


def untrusted_timing(found: CaseVerdict, why: str, also_pass: bool = False) -> CaseVerdict:
    """The same verdict, with a decided time metric made inconclusive because of `why`.

    Used when the measurement itself is known to be unfair, e.g. another process used the case's
    GPU while it ran: its timings say nothing about the code. Memory and loss verdicts stand.
    `also_pass`: a pass is no more trusted (a load that slowed the reference can hide a
    regression).
    """
    metrics = [
        untrusted_time(metric, why, also_pass) if metric.metric == "step_time" else metric
        for metric in found.metrics
    ]
    return CaseVerdict(
        case_id=found.case_id,
        outcome=worst(m.outcome for m in metrics),
        metrics=tuple(metrics),
        notes=found.notes,
    )
