"""The step time's verdict from a process- or session-level comparison (verdicts/time_verdict.py):
beyond the tolerance and significant at the run's level, or inconclusive saying what it resolves."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from pytest_rnnbench.verdicts import records
from pytest_rnnbench.verdicts.time_verdict import time_verdict


@dataclass(frozen=True)
class Scripted:
    change: float
    p_greater: float
    p_less: float
    resolves: float

    def resolution(self, alpha: float) -> float:
        return self.resolves


def judged(comparison: Scripted, tolerance: float = 0.05) -> records.MetricVerdict:
    return time_verdict(
        comparison,
        tolerance,
        0.001,
        baseline_ms=10.0,
        now_ms=10.0 * (1 + comparison.change),
        counts=(3, 3),
        test="Student's t on per-worker summaries",
        unit="3+3 worker processes",
    )


@pytest.mark.parametrize(
    ("comparison", "outcome"),
    [
        (Scripted(0.30, 0.0001, 0.9999, 0.12), records.REGRESSION),
        (Scripted(0.30, 0.02, 0.98, 0.40), records.INCONCLUSIVE),  # real or not: cannot tell
        (Scripted(-0.30, 0.9999, 0.0001, 0.12), records.IMPROVEMENT),
        (Scripted(0.02, 0.3, 0.7, 0.03), records.PASS),  # within, and resolved finely enough
        (Scripted(0.02, 0.3, 0.7, 0.40), records.INCONCLUSIVE),  # within, but a 5% could hide
        (Scripted(-0.30, 0.98, 0.02, 0.40), records.INCONCLUSIVE),  # faster, not resolved
    ],
)
def test_the_outcome_needs_the_tolerance_and_the_run_level_and_a_fine_enough_resolution(
    comparison: Scripted, outcome: str
) -> None:
    found = judged(comparison)
    assert found.outcome == outcome
    assert found.resolution == comparison.resolves
    assert f"resolves {comparison.resolves * 100:.1f}%" in found.line()


def test_an_inconclusive_verdict_says_what_it_resolves_and_what_would_decide() -> None:
    found = judged(Scripted(0.02, 0.3, 0.7, 0.40))
    assert "3+3 worker processes resolve only changes of 40.0%" in found.why
    assert "--rnnbench-against-workers" in found.why
    assert records.CaseVerdict("c", found.outcome, (found,)).to_dict()["metrics"]["step_time"][
        "resolution"
    ] == pytest.approx(0.40)
