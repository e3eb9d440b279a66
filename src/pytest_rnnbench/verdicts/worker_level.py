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
of both sides. What is left of a worker's turns becomes one number per worker process, its
summary: their Hodges-Lehmann estimate (see `hodges_lehmann` for why not their mean). The two
sides' summaries are compared with Student's t-test on their pooled variance, whose error term is
the spread between processes (offset) plus what the turns left (noise), both estimated from the
data. This is the test of the random-offset model above, chosen over a cluster bootstrap
(unreliable with a handful of clusters) or a mixed model fitted by iteration (the same answer
here, with more machinery). The variance is pooled over both sides because under the null
hypothesis (the same code on both sides, in the same kind of process) both sides' summaries come
from one distribution, so the test keeps its false-alarm rate; Welch's t, which drops that
assumption, loses degrees of freedom when one side's three processes happen to agree (down to 2,
where the t quantile at 0.083% is 24 instead of 7.5), which made a third of the measured verdicts
resolve nothing (docs/calibration.md).

Plain numbers in, plain numbers out; scipy only inside the functions that need it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Optional

from ..quantiles import median
from .distributions import one_sided, quantile

# Fewest workers per side whose own spread is estimated: one process cannot show how much
# processes differ, so with fewer the test assumes PROCESS_SPREAD_FLOOR instead.
MIN_WORKERS = 2
# The spread between worker processes (standard deviation of log speed) assumed where it cannot be
# estimated: above the largest measured for identical code on the project's 2-core machines
# (torch with its default thread pools, 12.1%: docs/calibration.md#why-processes-differ; 3.6% or
# less with the default steady pools). Conservative for JAX and MXNet, which agree within 3%.
PROCESS_SPREAD_FLOOR = 0.13
# Rounds of the fit over kept turns (_kept_fit): it settles within 12-19 on scripted gates.
_FIT_ROUNDS = 200


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
    drift_level: float = 0.0  # mean over the turns of the log drift that was removed
    floor_used: bool = False  # too few workers: PROCESS_SPREAD_FLOOR stood in for their spread
    turns_left_out: int = 0  # turns of all workers left out as busy (quiet_turns.py)

    @property
    def reference_ms(self) -> float:
        """The reference side's step time (ms), made of the same summaries as `change`."""
        return self._level_ms(self.reference_summaries)

    @property
    def candidate_ms(self) -> float:
        """The candidate side's step time (ms): exactly reference_ms * (1 + change)."""
        return self._level_ms(self.candidate_summaries)

    def _level_ms(self, summaries: tuple[float, ...]) -> float:
        # The drift taken out of every worker, put back: with mean summaries this is the
        # geometric mean of the side's turn times.
        return math.exp(self.drift_level + sum(summaries) / len(summaries))

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
    reference_residuals, candidate_residuals, _ = _drift_split(reference, candidate)
    return reference_residuals, candidate_residuals


def _drift_split(
    reference: Sequence[Sequence[float]], candidate: Sequence[Sequence[float]]
) -> tuple[list[list[float]], list[list[float]], list[float]]:
    """drift_removed's residuals of both sides, and the log drift of each turn."""
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
    return residuals[: len(reference)], residuals[len(reference) :], drift


def hodges_lehmann(values: Sequence[float]) -> float:
    """The median of the means of every pair of values (each value paired with itself too).

    A worker's summary of its turns. In the no-op gates of the pull-request calibration
    (benchmarks/worker_summary.py re-judges them; docs/calibration.md), turn residuals are
    heavy-tailed for TensorFlow, JAX and MXNet (excess kurtosis 4-5: now and then a turn runs far
    off), and the mean passes each such turn on to its process's summary. The median ignores them
    but wastes well-behaved turns (torch's are about normal: its resolution went from 71% to
    87%). This estimate keeps about 95% of the mean's efficiency on normal turns and resists the
    far ones: the default gate's median resolution went from 7.6% to 6.1% (TensorFlow), 9.3% to
    7.0% (JAX) and 2.8% to 2.0% (MXNet), torch 71% to 74%. Under no change both sides' summaries
    still come from one distribution, so the test keeps its level.
    """
    if not values:
        raise ValueError("a summary needs at least one turn")
    return median(
        [(values[i] + values[j]) / 2 for i in range(len(values)) for j in range(i, len(values))]
    )


def compare_workers(
    reference: Sequence[Sequence[float]],
    candidate: Sequence[Sequence[float]],
    summary: Callable[[Sequence[float]], float] = hodges_lehmann,
    kept: Optional[Sequence[Sequence[bool]]] = None,
) -> WorkerComparison:
    """Compare two sides of per-worker turn times (each worker: its turns' mean step times).

    With fewer than MIN_WORKERS workers on a side, the spread between processes is taken to be
    PROCESS_SPREAD_FLOOR (a normal test), never the turns' spread inside one process.
    `summary` turns a worker's residual log turn times into its one number (the calibration
    scripts re-judge saved runs under others). `kept`: per worker (reference first), per turn,
    whether the turn is judged (quiet_turns.py); None judges every turn.
    """
    if not reference or not candidate:
        raise ValueError("each side needs at least one worker process")
    ref_res, cand_res, drift = _drift_split(reference, candidate)  # checks the turns too
    ref = tuple(summary(worker) for worker in ref_res)
    cand = tuple(summary(worker) for worker in cand_res)
    fitted = None if kept is None else _kept_fit([*reference, *candidate], kept, summary)
    if fitted is None:
        kept = None  # every turn judged, also where the fit on the kept ones did not settle
    else:
        summaries, drift = fitted
        ref, cand = tuple(summaries[: len(reference)]), tuple(summaries[len(reference) :])
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
        drift_level=sum(drift) / len(drift),
        floor_used=floor_used,
        turns_left_out=sum(not turn for worker in kept or () for turn in worker),
    )


def _kept_fit(
    workers: Sequence[Sequence[float]],
    kept: Sequence[Sequence[bool]],
    summary: Callable[[Sequence[float]], float],
) -> Optional[tuple[list[float], list[float]]]:
    """Each worker's summary and each turn's log drift from the kept turns only.

    With every turn kept, a turn's drift is its mean over all workers; with some left out, the
    mean over the kept ones would carry those workers' own speeds, so the two are fitted in turn
    (log y = summary[worker] + drift[turn]): the drift from the kept turns less their workers'
    summaries, the summaries from the kept turns less their drift, until they settle. The
    summaries are centred on zero each round (only their differences matter), which makes the
    first round's answer the fixed point where nothing is left out. None where they have not
    settled within _FIT_ROUNDS (seen only on random stress data, 2 workers a side).
    """
    if len(kept) != len(workers) or any(len(k) != len(w) for k, w in zip(kept, workers)):
        raise ValueError("the kept turns do not match the workers' turns")
    if any(not any(mask) for mask in kept):
        raise ValueError("every worker needs at least one kept turn")
    logs = [[math.log(value) for value in worker] for worker in workers]
    turns = range(len(logs[0]))
    summaries = [0.0] * len(logs)
    drift: list[Optional[float]] = []
    for _ in range(_FIT_ROUNDS):
        drift = []
        for i in turns:
            column = [log[i] - s for log, s, mask in zip(logs, summaries, kept) if mask[i]]
            drift.append(sum(column) / len(column) if column else None)
        fitted = [
            summary([log[i] - d for i, d in enumerate(drift) if mask[i] and d is not None])
            for log, mask in zip(logs, kept)
        ]
        centre = sum(fitted) / len(fitted)
        fitted = [value - centre for value in fitted]
        settled = max(abs(a - b) for a, b in zip(fitted, summaries)) < 1e-12
        summaries = fitted
        if settled:
            return summaries, [d for d in drift if d is not None]
    return None


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
