"""A live A/B comparison whose unit is the worker process.

Each side of a live comparison runs several worker processes, and each worker times many turns.
Turns of one process are not independent samples: a process keeps its own speed for its whole
life (TensorFlow and torch processes doing identical work on the project's 2-core machines settle
up to 15-18% apart; docs/calibration.md), so a test that counts turns as samples sees one
process's offset as signal, and prints a confidence that is not true.

The model, on log step times (a slowdown multiplies step times, so effects add on the log scale):

    log y[side, worker, turn] = level[side] + offset[side, worker] + drift[turn] + noise

`drift[turn]` is the machine's speed at that moment, shared by every worker's i-th turn (they run
moments apart, see run/turns.py); it is removed by subtracting each turn's mean over all workers
of both sides. What is left, averaged over a worker's turns, is one number per worker process:
its summary. The two sides' summaries are compared with Student's t-test on their pooled
variance, whose error term is the spread between processes (offset) plus what the turns left
(noise), both estimated from the data. With equal turns per worker this is the exact test of the
random-offset model above, which is why it was chosen over a cluster bootstrap (unreliable with a
handful of clusters) or a mixed model fitted by iteration (the same answer here, with more
machinery). The variance is pooled over both sides because under the null hypothesis (the same
code on both sides, in the same kind of process) both sides' summaries come from one
distribution, so the test's false-alarm rate is exact; Welch's t, which drops that assumption,
loses degrees of freedom when one side's three processes happen to agree (down to 2, where the
t quantile at 0.083% is 24 instead of 7.5), which made a third of the measured verdicts resolve
nothing (docs/calibration.md).

Plain numbers in, plain numbers out; scipy only inside the functions that need it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from .distributions import one_sided, quantile

# Fewest workers per side whose own spread is estimated: one process cannot show how much
# processes differ, so with fewer the test assumes PROCESS_SPREAD_FLOOR instead.
MIN_WORKERS = 2
# The spread between worker processes (standard deviation of log speed) assumed where it cannot be
# estimated: about the largest measured for identical code on the project's 2-core machines
# (TensorFlow and torch processes up to 15-18% apart; docs/calibration.md). Conservative for JAX
# and MXNet, whose processes agree within 3%.
PROCESS_SPREAD_FLOOR = 0.10


@dataclass(frozen=True)
class WorkerComparison:
    """The candidate against the reference, with worker processes as the unit."""

    change: float  # exp(mean candidate summary - mean reference summary) - 1
    p_greater: float  # one-sided p that the candidate is slower
    p_less: float  # one-sided p that the candidate is faster
    standard_error: float  # of the log ratio
    degrees_of_freedom: float  # workers of both sides - 2
    reference_summaries: tuple[float, ...]  # per worker, log step time after drift removal
    candidate_summaries: tuple[float, ...]
    floor_used: bool = False  # too few workers: PROCESS_SPREAD_FLOOR stood in for their spread

    def resolution(self, alpha: float) -> float:
        """The smallest relative change these data would call significant at `alpha` (one-sided).

        A change of exactly this size sits on the edge of significance; smaller real changes are
        indistinguishable from the spread between processes.
        """
        if self.standard_error == 0:
            return 0.0
        bound = quantile(1 - alpha, self.degrees_of_freedom)
        return math.exp(bound * self.standard_error) - 1

    @property
    def worker_spread(self) -> float:
        """Largest minus smallest worker summary of either side, as a relative difference."""
        spreads = [
            max(side) - min(side)
            for side in (self.reference_summaries, self.candidate_summaries)
            if side
        ]
        return math.exp(max(spreads)) - 1 if spreads else 0.0


def drift_removed(
    reference: Sequence[Sequence[float]], candidate: Sequence[Sequence[float]]
) -> tuple[list[list[float]], list[list[float]]]:
    """Per worker, its log turn times minus that turn's mean over every worker of both sides."""
    everyone = [*reference, *candidate]
    if not everyone or any(not turns for turns in everyone):
        raise ValueError("every worker needs at least one turn")
    turns = {len(worker) for worker in everyone}
    if len(turns) != 1:
        raise ValueError(f"the workers took different numbers of turns: {sorted(turns)}")
    if any(value <= 0 or not math.isfinite(value) for worker in everyone for value in worker):
        raise ValueError("turn times must be positive and finite")
    logs = [[math.log(value) for value in worker] for worker in everyone]
    drift = [sum(column) / len(column) for column in zip(*logs)]
    residuals = [[value - d for value, d in zip(worker, drift)] for worker in logs]
    return residuals[: len(reference)], residuals[len(reference) :]


def compare_workers(
    reference: Sequence[Sequence[float]], candidate: Sequence[Sequence[float]]
) -> WorkerComparison:
    """Compare two sides of per-worker turn times (each worker: its turns' mean step times).

    With fewer than MIN_WORKERS workers on a side, the spread between processes is taken to be
    PROCESS_SPREAD_FLOOR (a normal test), never the turns' spread inside one process.
    """
    if not reference or not candidate:
        raise ValueError("each side needs at least one worker process")
    ref_res, cand_res = drift_removed(reference, candidate)
    ref = tuple(sum(worker) / len(worker) for worker in ref_res)
    cand = tuple(sum(worker) / len(worker) for worker in cand_res)
    floor_used = len(ref) < MIN_WORKERS or len(cand) < MIN_WORKERS
    if floor_used:
        difference = sum(cand) / len(cand) - sum(ref) / len(ref)
        se = PROCESS_SPREAD_FLOOR * math.sqrt(1 / len(ref) + 1 / len(cand))
        df = math.inf
    else:
        difference, se, df = pooled(cand, ref)
    p_greater, p_less = one_sided(difference, se, df)
    return WorkerComparison(
        change=math.exp(difference) - 1,
        p_greater=p_greater,
        p_less=p_less,
        standard_error=se,
        degrees_of_freedom=df,
        reference_summaries=ref,
        candidate_summaries=cand,
        floor_used=floor_used,
    )


def side_level_ms(workers: Sequence[Sequence[float]]) -> float:
    """A side's step time (ms): the geometric mean over its workers of each worker's geometric
    mean over its turns. Drift removal subtracts the same amount from both sides' logs, so the
    candidate's level over the reference's is exactly 1 + WorkerComparison.change."""
    logs = [sum(math.log(value) for value in worker) / len(worker) for worker in workers]
    return math.exp(sum(logs) / len(logs))


def pooled(a: Sequence[float], b: Sequence[float]) -> tuple[float, float, float]:
    """mean(a) - mean(b), its standard error from the pooled variance, and len(a) + len(b) - 2
    degrees of freedom (Student's two-sample t)."""
    mean_a, mean_b = sum(a) / len(a), sum(b) / len(b)
    squares = sum((x - mean_a) ** 2 for x in a) + sum((x - mean_b) ** 2 for x in b)
    df = len(a) + len(b) - 2
    se = math.sqrt(squares / df * (1 / len(a) + 1 / len(b)))
    return mean_a - mean_b, se, float(df)


def welch(a: Sequence[float], b: Sequence[float]) -> tuple[float, float, float]:
    """mean(a) - mean(b), its standard error and Welch-Satterthwaite degrees of freedom."""
    mean_a, mean_b = sum(a) / len(a), sum(b) / len(b)
    var_a = sum((x - mean_a) ** 2 for x in a) / (len(a) - 1)
    var_b = sum((x - mean_b) ** 2 for x in b) / (len(b) - 1)
    share_a, share_b = var_a / len(a), var_b / len(b)
    se = math.sqrt(share_a + share_b)
    if se == 0:
        return mean_a - mean_b, 0.0, float(len(a) + len(b) - 2)
    df = (share_a + share_b) ** 2 / (share_a**2 / (len(a) - 1) + share_b**2 / (len(b) - 1))
    return mean_a - mean_b, se, df
