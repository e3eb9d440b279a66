"""The step time judged with the session as the unit (stored baselines, and `compare` of two
files): a run against the spread of the stored sessions. No pytest."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple, Optional

from . import baseline
from .distrust import busy_limit_of
from .records import INCONCLUSIVE, MetricVerdict
from .session_level import (
    FLOOR_SPREAD,
    MIN_SESSIONS,
    WINDOW,
    SessionComparison,
    after_level_shift,
    compare_sessions,
)
from .time_verdict import time_verdict

SAVE_FLAG = "--rnnbench-save-baseline"
RESET_FLAG = "--rnnbench-reset-baseline"

# A stored session: its step time (ms) and how many worker processes it averaged.
Session = tuple[float, int]


def stored_sessions(entry: Mapping[str, Any], busy_limit: Optional[float] = None) -> list[Session]:
    """A baseline entry's stored sessions, oldest first: (step time in ms, worker processes).

    A session saved while other processes took more than `busy_limit` of the CPU (default
    BUSY_MACHINE_SHARE) is left out: its time was the load's as much as the code's, and kept it
    would widen the spread (or shift the mean) of every judgement for the next 20 saves."""
    limit = busy_limit_of(busy_limit)
    return [
        (float(s["step_ms"]), int(s.get("workers") or 1))
        for s in baseline.entry_sessions(entry)
        if s.get("step_ms") and not float(s.get("busy_share") or 0.0) > limit
    ]


def workers_per_session(stored: Sequence[Session]) -> float:
    """The mean number of worker processes behind the stored sessions that a run is judged
    against: the latest WINDOW, after any level shift among them. Not the whole window: sessions
    of 1 process (v1/v2 baselines) before a shift would lower the mean of the 3-process sessions
    after it, and with it the widening for a run of fewer processes (compare_sessions)."""
    window = stored[-WINDOW:]
    used = window[after_level_shift([math.log(ms) for ms, _ in window]) :]
    return sum(workers for _, workers in used) / len(used)


def session_comparison(stored: Sequence[Session], worker_ms: Sequence[float]) -> SessionComparison:
    """This run (its worker processes' step times, ms) against the `stored` sessions (the latest
    WINDOW of them), allowing for fewer workers in this run than in the stored sessions."""
    now = math.log(baseline.session_step_ms(worker_ms))
    return compare_sessions(
        [math.log(ms) for ms, _ in stored], now, workers_per_session(stored) / len(worker_ms)
    )


def session_time_judge(
    stored: Sequence[Session],
    worker_ms: Sequence[float],
    alpha: float,
    results_file: bool = False,
) -> Optional[Callable[[float], MetricVerdict]]:
    """The step time's verdict for a tolerance, with the session as the unit: this run's worker
    processes' step times (`worker_ms`, ms) against the spread of the `stored` sessions
    (session_level.py). None when either side has no step time (the judge then says what is
    missing). `results_file`: the one session is an old results file's run (`compare`), not a
    saved baseline, and the verdict names it so."""
    if not stored or not worker_ms:
        return None
    now_ms = baseline.session_step_ms(worker_ms)
    comparison = session_comparison(stored, worker_ms)
    test, sessions, workers_note, cure = _described(
        comparison, workers_per_session(stored), len(worker_ms), results_file
    )
    # A verdict line without a reason shows the test, not the unit: the workers go in the test's
    # name there, and only there.
    test_with_workers = f"{test}; {workers_note}" if workers_note else test
    used = [ms for ms, _ in stored[-comparison.used :]]  # the window's latest, after any shift

    def judged(tolerance: float) -> MetricVerdict:
        return time_verdict(
            comparison,
            tolerance,
            alpha,
            baseline_ms=math.exp(sum(math.log(v) for v in used) / len(used)),
            now_ms=now_ms,
            counts=(comparison.used, 1),
            test=test_with_workers,
            unit=sessions,
            test_beside_unit=test,
            cure=f"{cure} would decide",
        )

    return judged


class _Described(NamedTuple):
    test: str  # the test's name
    unit: str  # what the verdict rests on: the sessions, with what is assumed of them
    workers_note: str  # "" when every session is one process
    cure: str  # what would decide an inconclusive verdict


def _described(
    comparison: SessionComparison, stored_workers: float, workers: int, results_file: bool
) -> _Described:
    """How a session verdict names its test, its unit and its cure. `results_file`: the one
    stored session is an old results file's run (`compare`)."""
    notes = []  # said in brackets after the number of sessions
    workers_note = ""
    if workers > 1 or stored_workers > 1:
        workers_note = (
            f"{stored_workers:.3g} worker process(es) per stored session, {workers} in this one"
        )
        notes.append(workers_note)
    if comparison.floor_used and comparison.spread > FLOOR_SPREAD:  # 2 that disagree by more
        test = (
            f"prediction from stored sessions, spread {comparison.spread:.0%}: the two sessions' "
            f"own, above the assumed {FLOOR_SPREAD:.0%}"
        )
        notes.append(
            f"fewer than {MIN_SESSIONS}: their own spread, {comparison.spread:.0%}, is above the "
            f"assumed {FLOOR_SPREAD:.0%}"
        )
    elif comparison.floor_used:
        test = f"prediction from stored sessions, assumed spread {FLOOR_SPREAD:.0%}"
        notes.append(f"fewer than {MIN_SESSIONS}: their spread is assumed, not measured")
    else:
        test = "prediction interval over stored sessions"
    sessions = f"{comparison.used} stored session(s)"
    cure = f"more sessions (record the baseline's code again with {SAVE_FLAG} on other runs)"
    if results_file:  # one run, one session: how much runs differ is always assumed
        test = test.replace("stored sessions", "the old file's run")
        sessions = "the old file's run, one session"
        notes = [n for n in notes if n == workers_note] + ["runs' spread assumed, not measured"]
        cure = f"a baseline file of several sessions as OLD (saved with {SAVE_FLAG})"
    if notes:
        sessions += f" ({'; '.join(notes)})"
    if comparison.dropped:
        sessions += f", after a level shift that left out {comparison.dropped} older"
    return _Described(test, sessions, workers_note, cure)


def all_sessions_busy(
    entry: Mapping[str, Any], busy_limit: Optional[float] = None, results_file: bool = False
) -> Optional[Callable[[float], MetricVerdict]]:
    """The step time's verdict for an entry whose every stored session was left out as busy
    (stored_sessions): inconclusive, saying so; None when a session stands (or none is stored).
    Never the steps inside the stored processes. `results_file`: the entry is an old results
    file's case (`compare`), one run rather than saved sessions."""
    recorded = baseline.entry_sessions(entry)
    if not recorded or stored_sessions(entry, busy_limit):
        return None
    limit = busy_limit_of(busy_limit)
    busiest = max(float(s.get("busy_share") or 0.0) for s in recorded)
    saved, cure = f"every stored session ({len(recorded)}) was saved", "record this case again"
    if results_file:
        saved, cure = "the old file's run was measured", "measure the old side again"
    why = (
        f"{saved} while other processes took more than {limit:.0%} of the CPU (up to "
        f"{busiest:.0%}), so none is fit to judge against; {cure} on a quiet machine"
        + ("" if results_file else f" ({SAVE_FLAG})")
    )

    def judged(tolerance: float) -> MetricVerdict:
        return MetricVerdict("step_time", INCONCLUSIVE, tolerance=tolerance, why=why, n_now=1)

    return judged
