"""A run's step time judged against stored sessions (verdicts/session_time.py): what its verdict
line says about the units behind it, once."""

from __future__ import annotations

import math

from pytest_rnnbench.verdicts import records
from pytest_rnnbench.verdicts.session_level import compare_sessions
from pytest_rnnbench.verdicts.session_time import session_comparison, session_time_judge

WORKERS = "3 worker process(es) per stored session, 3 in this one"
# Four stored sessions of 3 workers each, within 1% of 10 ms.
STORED = [(10.0, 3), (10.1, 3), (9.9, 3), (10.05, 3)]


def line_of(worker_ms: list[float], alpha: float = 0.01) -> records.MetricVerdict:
    judge = session_time_judge(STORED, worker_ms, alpha)
    assert judge is not None
    return judge(0.05)


def test_a_decided_verdict_names_the_workers_in_its_test() -> None:
    found = line_of([13.0, 13.1, 12.9])
    assert found.outcome == records.REGRESSION
    assert found.line().count(WORKERS) == 1
    assert f"(prediction interval over stored sessions; {WORKERS}, n=4/1)" in found.line()


def test_a_verdict_with_a_reason_names_the_workers_once_there() -> None:
    # Beyond the tolerance, not significant at a strict level: the line shows both a confidence
    # (with its test) and a reason (with the unit); the workers are said in the reason only.
    found = line_of([10.6, 10.7, 10.5], alpha=1e-9)
    assert found.outcome == records.INCONCLUSIVE and found.confidence is not None
    assert found.line().count(WORKERS) == 1
    assert f"4 stored session(s) ({WORKERS}) resolve changes of" in found.why


def test_fewer_workers_are_widened_by_the_sessions_after_a_level_shift_only() -> None:
    # Ten 1-process sessions (a v2 baseline) at 10 ms, then a shift: four 3-process sessions at
    # 12 ms. Only the four are used, so a 1-process run's variance is widened 3 times, not by the
    # whole window's mean of 22/14 processes.
    legacy = [(10.0 * (1 + 0.01 * (i % 3 - 1)), 1) for i in range(10)]
    stored = legacy + [(12.0, 3), (12.1, 3), (11.9, 3), (12.05, 3)]
    found = session_comparison(stored, [12.2])
    after_shift = compare_sessions([math.log(ms) for ms, _ in stored], math.log(12.2), 3.0)
    assert found.dropped == 10 and found.used == 4
    assert math.isclose(found.scale, after_shift.scale)
    judge = session_time_judge(stored, [12.2], 0.01)
    assert judge is not None
    assert "3 worker process(es) per stored session, 1 in this one" in judge(0.05).line()
