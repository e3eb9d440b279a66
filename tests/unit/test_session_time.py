"""A run's step time judged against stored sessions (verdicts/session_time.py): what its verdict
line says about the units behind it, once."""

from __future__ import annotations

from pytest_rnnbench.verdicts import records
from pytest_rnnbench.verdicts.session_time import session_time_judge

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
