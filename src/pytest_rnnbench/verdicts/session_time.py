"""The step time judged with the session as the unit (stored baselines, and `compare` of two
files): a run against the spread of the stored sessions. No pytest."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Optional

from ..quantiles import median
from . import baseline
from .records import MetricVerdict
from .session_level import (
    FLOOR_SPREAD,
    MIN_SESSIONS,
    WINDOW,
    SessionComparison,
    compare_at_speed,
    compare_sessions,
)
from .time_verdict import time_verdict

SAVE_FLAG = "--rnnbench-save-baseline"

# A stored session: its step time (ms) and how many worker processes it averaged.
Session = tuple[float, int]


def stored_sessions(entry: Mapping[str, Any]) -> list[Session]:
    """A baseline entry's stored sessions, oldest first: (step time in ms, worker processes)."""
    return [
        (float(s["step_ms"]), int(s.get("workers") or 1))
        for s in baseline.entry_sessions(entry)
        if s.get("step_ms")
    ]


def stored_probes(entry: Mapping[str, Any]) -> list[Optional[float]]:
    """Each stored session's machine-speed probe (ms), aligned with stored_sessions(entry); None
    for a session recorded before the probe existed."""
    return [
        float(s["probe_ms"]) if s.get("probe_ms") else None
        for s in baseline.entry_sessions(entry)
        if s.get("step_ms")
    ]


def workers_per_session(stored: Sequence[Session]) -> float:
    """The mean number of worker processes behind the latest WINDOW stored sessions."""
    window = stored[-WINDOW:]
    return sum(workers for _, workers in window) / len(window)


def session_comparison(stored: Sequence[Session], worker_ms: Sequence[float]) -> SessionComparison:
    """This run (its worker processes' step times, ms) against the `stored` sessions (the latest
    WINDOW of them), allowing for fewer workers in this run than in the stored sessions."""
    now = math.log(baseline.session_step_ms(worker_ms))
    return compare_sessions(
        [math.log(ms) for ms, _ in stored], now, workers_per_session(stored) / len(worker_ms)
    )


def speed_comparison(
    stored: Sequence[Session],
    worker_ms: Sequence[float],
    probes: tuple[Sequence[Optional[float]], Sequence[float]],
) -> Optional[SessionComparison]:
    """This run against the `stored` sessions at its own machine speed (compare_at_speed), or
    None where the probes do not allow it (then session_comparison judges it)."""
    stored_probe_ms, now_probe_ms = probes
    if not now_probe_ms or len(stored_probe_ms) != len(stored):
        return None
    return compare_at_speed(
        [math.log(ms) for ms, _ in stored],
        math.log(baseline.session_step_ms(worker_ms)),
        [math.log(ms) if ms else None for ms in stored_probe_ms],
        math.log(median(now_probe_ms)),
        workers_per_session(stored) / len(worker_ms),
    )


def session_time_judge(
    stored: Sequence[Session],
    worker_ms: Sequence[float],
    alpha: float,
    probes: tuple[Sequence[Optional[float]], Sequence[float]] = ((), ()),
) -> Optional[Callable[[float], MetricVerdict]]:
    """The step time's verdict for a tolerance, with the session as the unit: this run's worker
    processes' step times (`worker_ms`, ms) against the spread of the `stored` sessions
    (session_level.py). None when either side has no step time (the judge then says what is
    missing). `probes`: the stored sessions' machine-speed probes (stored_probes, aligned with
    `stored`) and this run's workers' (samples.worker_probe_ms): with enough probed sessions the
    run is judged at its own machine speed (session_level.compare_at_speed)."""
    if not stored or not worker_ms:
        return None
    now_ms = baseline.session_step_ms(worker_ms)
    at_speed = speed_comparison(stored, worker_ms, probes)
    comparison = at_speed or session_comparison(stored, worker_ms)
    test, test_with_workers, sessions = _described(stored, len(worker_ms), comparison)
    used = [ms for ms, _ in stored[-comparison.used :]]  # the window's latest, after any shift
    if comparison.predicted is not None:  # what the sessions predict at this machine speed
        baseline_ms = math.exp(comparison.predicted)
    else:
        baseline_ms = math.exp(sum(math.log(v) for v in used) / len(used))

    def judged(tolerance: float) -> MetricVerdict:
        return time_verdict(
            comparison,
            tolerance,
            alpha,
            baseline_ms=baseline_ms,
            now_ms=now_ms,
            counts=(comparison.used, 1),
            test=test_with_workers,
            unit=sessions,
            test_beside_unit=test,
            cure=f"more sessions (record this case again with {SAVE_FLAG} on other runs) "
            "would decide",
        )

    return judged


def _described(
    stored: Sequence[Session], workers: int, comparison: SessionComparison
) -> tuple[str, str, str]:
    """The verdict's test (alone, and with the worker counts) and its unit: the stored sessions
    it rests on, with the counts and any floor or level shift in brackets."""
    stored_workers = workers_per_session(stored)
    notes = []  # said in brackets after the number of sessions
    workers_note = ""
    if workers > 1 or stored_workers > 1:
        workers_note = (
            f"{stored_workers:.3g} worker process(es) per stored session, {workers} in this one"
        )
        notes.append(workers_note)
    if comparison.floor_used:
        test = f"prediction from stored sessions, assumed spread {FLOOR_SPREAD:.0%}"
        notes.append(f"fewer than {MIN_SESSIONS}: their spread is assumed, not measured")
    elif comparison.predicted is not None:
        test = "prediction interval over stored sessions at this machine speed"
    else:
        test = "prediction interval over stored sessions"
    sessions = f"{comparison.used} stored session(s)"
    if notes:
        sessions += f" ({'; '.join(notes)})"
    if comparison.dropped:
        sessions += f", after a level shift that left out {comparison.dropped} older"
    # A verdict line without a reason shows the test, not the unit: the workers go in the test's
    # name there, and only there.
    return test, f"{test}; {workers_note}" if workers_note else test, sessions
