"""A run judged against stored baselines whose unit is the session.

A stored baseline is not one measurement but a short history of sessions on this machine profile,
each summarised by one number: the mean over its worker processes of their log step time. Two
sessions of identical code differ by more than the steps inside either (the machine's load that
hour, each process's own speed), so a new session is judged against the spread of the stored
sessions, by a prediction interval for one more session:

    t = (new - mean(stored)) / (sd(stored) * sqrt(1 + 1/k)),   k - 1 degrees of freedom

(the 1 grows to k/m when the stored sessions averaged k worker processes and the new one m < k).

With fewer than MIN_SESSIONS stored sessions the spread cannot be estimated (or is estimated from
two numbers, which is worse than not at all), so the bound uses FLOOR_SPREAD instead, a
conservative between-session spread, and the verdict says that it did. A level shift inside the
stored sessions (an accepted change landed between them) is found first, and only the sessions
after it are used.

Plain numbers in, plain numbers out; scipy only inside the functions that need it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Optional

from .distributions import cdf, one_sided, quantile

# A two-sample test: (mean(a) - mean(b), its standard error, degrees of freedom).
TwoSample = Callable[[Sequence[float], Sequence[float]], tuple[float, float, float]]

# Sessions needed before their own spread is trusted.
MIN_SESSIONS = 3
# The spread (standard deviation of log session means) assumed while fewer sessions are stored:
# 0.10 is about the largest standard deviation of per-process speed measured on the project's
# 2-core machines for identical code (processes up to ~18% apart; docs/calibration.md).
FLOOR_SPREAD = 0.10
# Stored sessions kept per case and workload; older ones fall out of the window.
WINDOW = 20


@dataclass(frozen=True)
class SessionComparison:
    """A new session against the stored ones."""

    change: float  # exp(new - mean of the used sessions) - 1
    p_greater: float  # one-sided p that the new session is slower than one more stored one
    p_less: float
    scale: float  # the prediction's standard error, on the log scale
    degrees_of_freedom: float  # math.inf when the floor spread was used
    used: int  # stored sessions the prediction rests on
    dropped: int  # sessions before a level shift, left out
    floor_used: bool  # too few sessions: the conservative spread stood in
    spread: float = 0.0  # the sessions' spread used (log scale): measured, or the floor or more

    def resolution(self, alpha: float) -> float:
        """The smallest relative change that this comparison would call significant at `alpha`."""
        return math.exp(quantile(1 - alpha, self.degrees_of_freedom) * self.scale) - 1


def after_level_shift(
    sessions: Sequence[float],
    alpha: float = 0.01,
    two_sample: Optional[TwoSample] = None,
    min_after: int = 2,
) -> int:
    """How many leading sessions precede the latest significant level shift (0: none found).

    Each split with at least two sessions on either side is tested with Student's t, variance
    pooled; the most extreme split counts when it passes alpha divided by the number of splits
    tried. Pooled, not Welch's: under the null (one level, one machine) both sides share one
    spread, and Welch's t, given two sessions that agree by chance, takes their near-zero
    variance at face value and found a shift in 6.4% of 20-session histories of identical code
    (pooled: 0.6%; at alpha 1%), while catching a real +10% shift of the last 3 sessions less
    often (39% against 80%; `benchmarks/level_shift.py --histories 1000 --seed 1`, 3% session
    spread). `two_sample`: the test at each split, for that comparison (default: pooled).
    `min_after`: the fewest sessions after a shift. Two, not three: with three, one outlier two
    saves back dropped the history less often (1.3% of histories against 8.9%; that only makes
    verdicts inconclusive, on the floor's spread), but a real +10% shift of the last two went
    unfound in 84% against 41%, and a run at the new level was then judged against the old one's
    (`benchmarks/level_shift.py`, results/level-shift-2026-12-07.txt).
    """
    from .worker_level import pooled

    test = two_sample or pooled
    values = list(sessions)
    start = 0
    while len(values) - start >= 2 + min_after:
        splits = range(start + 2, len(values) - min_after + 1)
        best, best_p = 0, 1.0
        for split in splits:
            difference, se, df = test(values[split:], values[start:split])
            p = 1.0 if se == 0 else 2 * (1 - cdf(abs(difference) / se, df))
            if se == 0 and difference != 0:
                p = 0.0
            if p < best_p:
                best, best_p = split, p
        if best_p >= alpha / len(splits):
            break
        start = best
    return start


def compare_sessions(
    stored: Sequence[float], new: float, workers_ratio: float = 1.0
) -> SessionComparison:
    """Judge `new` (a session's log step time) against `stored` ones, oldest first.

    `workers_ratio` is the stored sessions' mean number of worker processes over the new
    session's. A session averaged over k processes varies less than one of m < k (each process's
    own speed averages out), so the stored sessions' spread understates the new one's by up to
    k/m: the new session's variance is taken as that spread squared times max(1, k/m), which is
    exact when the whole spread is the processes' and conservative otherwise.
    """
    if not stored:
        raise ValueError("no stored sessions to compare with")
    values = list(stored)[-WINDOW:]
    dropped = after_level_shift(values)
    used = values[dropped:]
    k = len(used)
    mean = sum(used) / k
    if k >= MIN_SESSIONS:
        spread = math.sqrt(sum((v - mean) ** 2 for v in used) / (k - 1))
        df: float = k - 1
        floor_used = False
        widen = max(1.0, workers_ratio)
    else:
        # The floor is one process's spread already (with steady thread pools): it needs no
        # widening for fewer workers. Two sessions that disagree by more than it are not
        # overruled by it, and their spread, of sessions, is widened as any other.
        observed = abs(used[0] - used[1]) / math.sqrt(2) if k == 2 else 0.0
        spread, df, floor_used = max(FLOOR_SPREAD, observed), math.inf, True
        widen = max(1.0, workers_ratio) if observed > FLOOR_SPREAD else 1.0
    scale = spread * math.sqrt(widen + 1 / k)
    difference = new - mean
    p_greater, p_less = one_sided(difference, scale, df)
    return SessionComparison(
        change=math.exp(difference) - 1,
        p_greater=p_greater,
        p_less=p_less,
        scale=scale,
        degrees_of_freedom=df,
        used=k,
        dropped=dropped,
        floor_used=floor_used,
        spread=spread,
    )


def session_summary(worker_step_times: Sequence[float]) -> float:
    """A session's one number: the mean over its worker processes of their log step time."""
    if not worker_step_times or not all(0 < v < math.inf for v in worker_step_times):
        raise ValueError("a session needs positive, finite step times from at least one worker")
    return sum(math.log(v) for v in worker_step_times) / len(worker_step_times)
