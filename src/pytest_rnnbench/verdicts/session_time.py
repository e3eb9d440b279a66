"""The step time judged with the session as the unit (stored baselines, and `compare` of two
files): a run against the spread of the stored sessions. No pytest."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Optional

from . import baseline
from .records import MetricVerdict
from .session_level import FLOOR_SPREAD, MIN_SESSIONS, compare_sessions
from .time_verdict import time_verdict

SAVE_FLAG = "--rnnbench-save-baseline"


def entry_session_times(entry: Mapping[str, Any]) -> list[float]:
    """A baseline entry's stored sessions' step times (ms), oldest first."""
    return [float(s["step_ms"]) for s in baseline.entry_sessions(entry) if s.get("step_ms")]


def session_time_judge(
    stored: Sequence[float], steps: Sequence[float], alpha: float
) -> Optional[Callable[[float], MetricVerdict]]:
    """The step time's verdict for a tolerance, with the session as the unit: this run's block
    samples (`steps`, ms) against the spread of the `stored` sessions' step times (ms;
    session_level.py). None when either side has no step time (the judge then says what is
    missing)."""
    if not stored or not steps:
        return None
    now_ms = baseline.session_step_ms(steps)
    comparison = compare_sessions([math.log(v) for v in stored], math.log(now_ms))
    sessions = f"{comparison.used} stored session(s)"
    if comparison.floor_used:
        test = f"prediction from stored sessions, assumed spread {FLOOR_SPREAD:.0%}"
        sessions += f" (fewer than {MIN_SESSIONS}: their spread is assumed, not measured)"
    else:
        test = "prediction interval over stored sessions"
    if comparison.dropped:
        sessions += f", after a level shift that left out {comparison.dropped} older"
    used = stored[-(comparison.used) :]

    def judged(tolerance: float) -> MetricVerdict:
        return time_verdict(
            comparison,
            tolerance,
            alpha,
            baseline_ms=math.exp(sum(math.log(v) for v in used) / len(used)),
            now_ms=now_ms,
            counts=(comparison.used, 1),
            test=test,
            unit=sessions,
            cure=f"more sessions (record this case again with {SAVE_FLAG} on other runs) "
            "would decide",
        )

    return judged
