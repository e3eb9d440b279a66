"""Which live A/B turns a time verdict is made of: those that other processes left alone.

On a shared 2-core machine another job now and then takes a core for a while. A turn it lands on
runs far off (torch's two-thread steps ran 10-30 times their quiet time beside a fresh-clone CI),
and it lands on some workers' turns and not others', so the drift removal, which takes out only
what every worker's i-th turn shared, cannot cancel it: it becomes the worker's own speed, and
the spread between processes grows until a real +10% goes unseen (docs/calibration.md: torch's
+10% caught in 24 of 28 no-op gates judged on every turn, 28 of 28 on the quiet ones).

The controller measures, for every turn it grants, the share of the machine's CPU that other
processes took (run/turn_load.py). A turn where they took more than the busy limit is left out
of its worker's summary. The choice depends on the other processes only, not on the turn's own
time, so under no change both sides lose turns alike and the test keeps its level (the 28 gates'
no-op p-values stayed alike: 9 and 11 of 336 below 0.05).

A machine that stays busy for a whole case leaves few quiet turns; then every turn is judged, as
before, and the uneven-load rule (distrust.py) watches them: a case is judged on the quiet turns
only when every worker keeps at least a third of its turns.

Nor when the load fell on one side more than the other: load a side makes itself counts as other
processes' (a head whose training starts helper processes, whose CPU time is not its worker's),
and leaving its busy turns out would hide what they cost. Turns of both sides run moments apart,
so another job's load leaves out about as many of each side's turns; where the sides' mean loads
differ by more than the time tolerance, or the numbers left out differ beyond chance (Fisher's
exact test, p < LEFT_OUT_ALIKE_P), every turn is judged, and the uneven-load rule distrusts what
the load could have made.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Optional

from .distrust import side_loads
from .worker_level import WorkerComparison, compare_workers, hodges_lehmann

Loads = Sequence[Sequence[float]]  # per worker, per turn: other processes' share of the CPU

# Fewest quiet turns a worker keeps for the case to be judged on its quiet turns alone: a third of
# its turns and at least 3, enough for its Hodges-Lehmann summary to resist one far turn (6 of the
# default 18).
QUIET_PART = 3
MIN_QUIET_TURNS = 3
# Below this p the sides lost different shares of their turns to load: not another job's alone.
# Load bursts span neighbouring turns, so the test calls imbalance more often than this under an
# even load; that costs only the quiet turns' gain, never the level.
LEFT_OUT_ALIKE_P = 0.05


def quiet_turns(
    loads: Sequence[Sequence[float]], turns: int, limit: float
) -> Optional[list[list[bool]]]:
    """Per worker, per turn: whether the turn is judged. `loads`: per worker, the other
    processes' share of the CPU during each of its `turns` turns, in order; a turn the
    controller could not measure (it measures none past a worker's last message, run/turns.py)
    is kept. None when every turn is kept, or when a worker would keep too few (then all are)."""
    if not loads:
        return None
    fewest = max(MIN_QUIET_TURNS, -(-turns // QUIET_PART))
    kept = [[i >= len(shares) or shares[i] <= limit for i in range(turns)] for shares in loads]
    if all(all(worker) for worker in kept) or any(sum(worker) < fewest for worker in kept):
        return None
    return kept


def kept_loads(
    loads: Sequence[Sequence[float]], kept: Optional[Sequence[Sequence[bool]]]
) -> list[list[float]]:
    """The loads of the turns that are judged (all of them where `kept` is None)."""
    if kept is None:
        return [list(shares) for shares in loads]
    return [
        [share for i, share in enumerate(shares) if i >= len(mask) or mask[i]]
        for shares, mask in zip(loads, kept)
    ]


def compare_quiet_turns(
    reference: Sequence[Sequence[float]],
    candidate: Sequence[Sequence[float]],
    loads: tuple[Loads, Loads],
    limit: float,
    even_within: float,
    summary: Callable[[Sequence[float]], float] = hodges_lehmann,
) -> tuple[WorkerComparison, tuple[list[list[float]], list[list[float]]]]:
    """compare_workers on the turns other processes left alone, and each side's loads of the
    turns judged (for the uneven-load rule). `loads`: the reference's workers', the candidate's;
    loads that do not match the workers (one per worker) are not used, nor loads whose sides'
    means differ by more than `even_within` (the time tolerance)."""
    kept = None
    matching = len(loads[0]) == len(reference) and len(loads[1]) == len(candidate)
    means = side_loads(*loads)
    even = means is not None and abs(means[1] - means[0]) <= even_within
    if matching and even and reference:
        kept = quiet_turns([*loads[0], *loads[1]], len(reference[0]), limit)
    split = len(loads[0])
    if kept is not None and not _left_out_alike(kept[:split], kept[split:]):
        kept = None
    comparison = compare_workers(reference, candidate, summary, kept)
    judged = (
        kept_loads(loads[0], None if kept is None else kept[:split]),
        kept_loads(loads[1], None if kept is None else kept[split:]),
    )
    return comparison, judged


def _left_out_alike(
    reference: Sequence[Sequence[bool]], candidate: Sequence[Sequence[bool]]
) -> bool:
    """Whether the two sides lost shares of their turns that chance explains (Fisher's exact
    test on turns left out and kept, per side)."""
    from scipy.stats import fisher_exact

    table = [
        [sum(not turn for worker in side for turn in worker), sum(map(sum, side))]
        for side in (reference, candidate)
    ]
    return float(fisher_exact(table)[1]) >= LEFT_OUT_ALIKE_P  # [1]: scipy < 1.10 gives a tuple
