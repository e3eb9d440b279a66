"""The time metric's verdict when its unit is the worker process (live A/B) or the session
(stored baselines): a change must exceed the tolerance AND be significant at the run's level
(verdicts/family.py); when the data cannot resolve a change of the tolerance's size, the verdict
is inconclusive and says how much it can resolve, never a pass and never a failure.
No pytest.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Optional, Protocol

from .records import (
    IMPROVEMENT,
    INCONCLUSIVE,
    PASS,
    REGRESSION,
    CaseVerdict,
    MetricVerdict,
    format_resolution,
)

CURE = "more workers per side (--rnnbench-against-workers) would decide"


class Comparison(Protocol):
    """What worker_level.WorkerComparison and session_level.SessionComparison both give."""

    @property
    def change(self) -> float: ...
    @property
    def p_greater(self) -> float: ...
    @property
    def p_less(self) -> float: ...

    def resolution(self, alpha: float) -> float: ...


def time_verdict(
    comparison: Comparison,
    tolerance: float,
    alpha: float,
    *,
    baseline_ms: float,
    now_ms: float,
    counts: tuple[int, int],
    test: str,
    unit: str,
    cure: str = CURE,
    test_beside_unit: Optional[str] = None,
) -> MetricVerdict:
    """The step time's verdict from `comparison` (see the module). `counts`: the units on each
    side (worker processes, or stored sessions and this one); `unit` names them in the reason.
    `test_beside_unit`: the test's name in a verdict whose reason names the unit, where `test`
    would say again what `unit` says (default `test`)."""
    resolution = comparison.resolution(alpha)
    change = comparison.change
    shown = format_resolution(resolution, tolerance)

    def made(outcome: str, confidence: Optional[float] = None, why: str = "") -> MetricVerdict:
        return MetricVerdict(
            metric="step_time",
            outcome=outcome,
            baseline=baseline_ms,
            now=now_ms,
            change=change,
            tolerance=tolerance,
            confidence=confidence,
            n_baseline=counts[0],
            n_now=counts[1],
            why=why,
            test=test_beside_unit if why and test_beside_unit else test,
            resolution=resolution,
        )

    if change > tolerance:
        p = comparison.p_greater
        if p < alpha:
            return made(REGRESSION, 1 - p)
        return made(
            INCONCLUSIVE,
            1 - p,
            f"beyond the tolerance but not significant at the run's level (p={p:.3g} >= "
            f"{alpha:.2g}): {unit} resolve changes of {shown} and more; "
            f"{cure}",
        )
    if change < -tolerance and comparison.p_less < alpha:
        return made(IMPROVEMENT, 1 - comparison.p_less)
    if resolution > tolerance:
        return made(
            INCONCLUSIVE,
            why=(
                f"{unit} resolve only changes of {shown}, more than the tolerance: a change of "
                f"the tolerance's size could hide in their spread; {cure}"
            ),
        )
    return made(PASS)


def unresolved_lines(verdicts: Iterable[CaseVerdict]) -> list[str]:
    """Said once for the run: how many cases could not resolve their time tolerance."""
    found = [
        metric
        for case in verdicts
        for metric in case.metrics
        if metric.metric == "step_time"
        and metric.outcome == INCONCLUSIVE
        and metric.resolution is not None
        and metric.tolerance is not None
        and metric.resolution > metric.tolerance
    ]
    if not found:
        return []
    finest = min(m.resolution for m in found if m.resolution is not None)
    coarsest = max(m.resolution for m in found if m.resolution is not None)
    shown = format_resolution(finest)
    if coarsest != finest:
        shown += f" to {format_resolution(coarsest)}"
    return [
        f"{len(found)} case(s) cannot resolve their time tolerance (they resolve {shown}): "
        "inconclusive, neither passed nor failed"
    ]
