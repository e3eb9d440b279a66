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
    # Beyond the tolerance, not significant at a strict level: the record keeps its test's
    # confidence, the line a reason (with the unit); the workers are said in the reason only.
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


def test_a_session_saved_on_a_busy_machine_is_left_out_of_judgements() -> None:
    """Saved while others took 40% of the CPU (65 ms among sessions of 50): kept, it would widen
    every judgement's spread for the next 20 saves, and a run 12% slower read as inconclusive."""
    from pytest_rnnbench.verdicts import baseline
    from pytest_rnnbench.verdicts.session_time import stored_sessions

    def session(ms: float, busy: float) -> dict:
        return {"step_ms": ms, "workers": 3, "worker_step_ms": [ms] * 3, "busy_share": busy}

    entry = {
        "sessions": [
            session(50.0, 0.01),
            session(65.0, 0.4),
            session(50.2, 0.02),
            session(49.8, 0.0),
            session(50.1, 0.03),
        ],  # fmt: skip
    }
    assert [ms for ms, _ in stored_sessions(entry)] == [50.0, 50.2, 49.8, 50.1]
    assert len(stored_sessions(entry, busy_limit=1.0)) == 5  # the limit turned off
    slower = session_time_judge(stored_sessions(entry), [56.0, 56.2, 55.9], 0.01)
    assert slower is not None and slower(0.05).outcome == records.REGRESSION
    # Saved with its busy share, from the worker's epochs.
    result = {"epochs": [{"cpu": {"others_share": 0.02}}, {"cpu": {"others_share": 0.31}}]}
    record = baseline._session_record("2026-12-07", None, result, [50.0])
    assert record["busy_share"] == 0.31


def test_two_sessions_that_disagree_by_more_than_the_floor_say_the_spread_used() -> None:
    """30 and 40 ms: their own spread (20%) is used, not the assumed 10%; the line says so."""
    judge = session_time_judge([(30.0, 3), (40.0, 3)], [36.0, 36.1, 35.9], 0.01)
    assert judge is not None
    found = judge(0.05)
    assert found.outcome == records.INCONCLUSIVE  # the line shows its reason, with the unit
    assert "fewer than 3: their own spread, 20%, is above the assumed 10%" in found.line()
    assert found.test == (
        "prediction from stored sessions, spread 20%: the two sessions' own, above the assumed 10%"
    )
    assert "assumed, not measured" not in found.line()
    close = session_time_judge([(30.0, 3), (30.3, 3)], [36.0, 36.1, 35.9], 0.01)
    assert close is not None and "their spread is assumed, not measured" in close(0.05).line()
