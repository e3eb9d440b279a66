"""The verdict rule: compare two sets of samples (a baseline and now) for each metric of a case.

Plain numbers in, plain objects out (records.py); no pytest import. The significance tests are in
statistics.py, which imports scipy only when one runs, so a plugin load (or `pytest --co`) never
pays for it. judge.py chains this rule with the checks around it for every caller.

The step time is not judged by this rule in the plugin: judge.py takes it from a rule whose unit
is the worker process (time_verdict.py, live A/B) or the session (session_time.py, stored), as the
steps of one process are not independent samples. The rule on step samples stays for the other
metrics and for the calibration scripts (benchmarks/) that measure how it failed on step times.

The rule, per metric (every metric here is "higher is worse"):

    change = median(now) / median(baseline) - 1

    * change beyond +tolerance and the one-sided Mann-Whitney U test says "now is larger"
      with p < alpha                                   -> regression
    * change beyond +tolerance but not significant     -> inconclusive (too noisy to tell)
    * change beyond -tolerance and significant the other way -> improvement
    * otherwise                                        -> pass

A regression needs both: a change larger than the tolerance (so a real but tiny, or a run-to-run
drift smaller than the tolerance, never fails a build) and significance (so a few noisy samples
never fail one either). Metrics measured once per run (peak memory, final loss) cannot be tested
for significance: they are compared against the tolerance alone and the line says so. A final
loss that is not finite is always a regression: fast because broken must fail.

Mann-Whitney U is rank-based, so the long right tail that a shared machine adds to step times
(another process steals the core for a while) moves it far less than it moves a t-test.

Paired samples (a live A/B comparison, where sample i of both sides was measured in neighbouring
turns on the same machine) use the per-pair ratios instead: change = the Hodges-Lehmann estimate
of the log ratios (the median of their pairwise averages), significance = the one-sided Wilcoxon
signed-rank test on them. Pairing cancels what both sides of a pair shared (the machine's speed
at that moment), which is most of a shared machine's noise.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, Optional

from ..metrics import parse_fraction
from ..quantiles import median
from .distrust import (
    BUSY_MACHINE_SHARE,
    busy_machine_reason,
    shared_gpu_reason,
    timing_distrust,
    untrusted_timing,
)
from .records import (
    IMPROVEMENT,
    INCONCLUSIVE,
    METRICS,
    NO_BASELINE,
    PASS,
    REGRESSION,
    SEVERITY,
    TOLERANCE_KEYS,
    CaseVerdict,
    Metric,
    MetricVerdict,
    worst,
)
from .statistics import (
    PAIRED_TEST,
    hodges_lehmann,
    one_sided_p,
    paired_log_ratios,
    paired_one_sided_p,
    spread,
)

# The rule's vocabulary lives beside it (records, statistics, distrust); this module is where
# callers find all of it, as before the split.
__all__ = [
    "BUSY_MACHINE_SHARE",
    "DEFAULT_ALPHA",
    "IMPROVEMENT",
    "INCONCLUSIVE",
    "METRICS",
    "MIN_SAMPLES_FOR_TEST",
    "NO_BASELINE",
    "PAIRED_TEST",
    "PASS",
    "REGRESSION",
    "SEVERITY",
    "TOLERANCE_KEYS",
    "CaseVerdict",
    "Metric",
    "MetricVerdict",
    "busy_machine_reason",
    "compare_case",
    "compare_samples",
    "hodges_lehmann",
    "one_sided_p",
    "paired_log_ratios",
    "paired_one_sided_p",
    "parse_tolerance",
    "shared_gpu_reason",
    "timing_distrust",
    "untrusted_timing",
    "version_notes",
]

DEFAULT_ALPHA = 0.01
MIN_SAMPLES_FOR_TEST = 3  # below this a rank test cannot reach p < 0.05, let alone alpha


def compare_samples(
    metric: str,
    baseline: Sequence[float],
    now: Sequence[float],
    tolerance: float,
    alpha: float = DEFAULT_ALPHA,
    paired: bool = False,
) -> MetricVerdict:
    """The verdict for one metric from its baseline samples and this run's samples.

    `paired`: sample i of both sides belongs together (live A/B turns); both need as many.
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha!r}")
    if tolerance < 0 or not math.isfinite(tolerance):
        raise ValueError(f"tolerance must be a finite fraction >= 0, got {tolerance!r}")
    base = [float(v) for v in baseline]
    cur = [float(v) for v in now]
    common: dict[str, Any] = dict(
        metric=metric, tolerance=tolerance, n_baseline=len(base), n_now=len(cur)
    )
    undecidable = _undecidable(metric, base, cur, paired, common)
    if undecidable is not None:
        return undecidable
    if paired and len(base) != len(cur):
        raise ValueError(f"paired samples need equal counts, got {len(base)} and {len(cur)}")
    if paired:
        change = math.exp(hodges_lehmann(paired_log_ratios(cur, base))) - 1.0
        common["test"] = PAIRED_TEST
    else:
        change = _median(cur) / _median(base) - 1.0
    common.update(baseline=_median(base), now=_median(cur), change=change)
    testable = len(base) >= MIN_SAMPLES_FOR_TEST and len(cur) >= MIN_SAMPLES_FOR_TEST

    def p_value(greater: bool) -> float:
        test = paired_one_sided_p if paired else one_sided_p
        return test(cur, base, greater)

    if change > tolerance:
        return _worse(base, cur, paired, alpha, testable, p_value, common)
    if change < -tolerance:
        return _better(alpha, testable, p_value, common)
    return MetricVerdict(outcome=PASS, **common)


def _median(values: Sequence[float]) -> float:
    return float(median(values))


def _undecidable(
    metric: str, base: list[float], cur: list[float], paired: bool, common: dict[str, Any]
) -> Optional[MetricVerdict]:
    """The verdict when the samples themselves decide it (a broken loss) or allow none."""
    if metric == "final_loss" and any(not math.isfinite(v) for v in cur):
        bad = next(v for v in cur if not math.isfinite(v))
        return MetricVerdict(
            outcome=REGRESSION,
            baseline=_median(base) if base else None,
            now=bad,
            why="the loss is not finite (training diverged)",
            **common,
        )
    if not base:
        return MetricVerdict(outcome=NO_BASELINE, why="no baseline samples", **common)
    if not cur:
        return MetricVerdict(
            outcome=INCONCLUSIVE,
            baseline=_median(base),
            why="this run measured no samples",
            **common,
        )
    if any(not math.isfinite(v) for v in base + cur):
        return MetricVerdict(
            outcome=INCONCLUSIVE,
            baseline=_median(base),
            now=_median(cur),
            why="non-finite samples",
            **common,
        )
    if _median(base) <= 0 or (paired and min(base + cur) <= 0):
        return MetricVerdict(
            outcome=INCONCLUSIVE,
            baseline=_median(base),
            now=_median(cur),
            why="the baseline is not positive; no relative change",
            **common,
        )
    return None


def _worse(
    base: list[float],
    cur: list[float],
    paired: bool,
    alpha: float,
    testable: bool,
    p_value: Callable[[bool], float],
    common: dict[str, Any],
) -> MetricVerdict:
    """Beyond the tolerance the bad way: a regression if significant, else inconclusive."""
    if not testable:
        return MetricVerdict(
            outcome=REGRESSION,
            why="measured once per run: tolerance only, no significance test",
            **common,
        )
    p = p_value(True)
    if p < alpha:
        return MetricVerdict(outcome=REGRESSION, confidence=1 - p, **common)
    if paired:
        ratios = [c / b for c, b in zip(cur, base)]
        shown = f"per-turn ratios now/reference spread (p10-p90) {spread(ratios)}"
        cure = "more --rnnbench-repeats or --rnnbench-against-workers would decide"
    else:
        shown = f"spread (p10-p90) baseline {spread(base)}, now {spread(cur)}"
        cure = "more --rnnbench-repeats or a quieter machine would decide"
    return MetricVerdict(
        outcome=INCONCLUSIVE,
        confidence=1 - p,
        why=(
            f"beyond the tolerance but not significant (p={p:.3g} >= {alpha:g}): "
            f"too noisy to tell; {shown}; {cure}"
        ),
        **common,
    )


def _better(
    alpha: float, testable: bool, p_value: Callable[[bool], float], common: dict[str, Any]
) -> MetricVerdict:
    """Beyond the tolerance the good way: an improvement if significant, else a pass."""
    if not testable:
        return MetricVerdict(
            outcome=IMPROVEMENT, why="measured once per run: tolerance only", **common
        )
    p = p_value(False)
    if p < alpha:
        return MetricVerdict(outcome=IMPROVEMENT, confidence=1 - p, **common)
    return MetricVerdict(
        outcome=PASS,
        confidence=1 - p,
        why="better than the tolerance but not significant",
        **common,
    )


def compare_case(
    case_id: str,
    baseline: Mapping[str, Sequence[float]],
    now: Mapping[str, Sequence[float]],
    tolerances: Mapping[str, float],
    alpha: float = DEFAULT_ALPHA,
    notes: Sequence[str] = (),
    paired: Collection[str] = (),
) -> CaseVerdict:
    """Every metric present in either side; the case's outcome is its worst metric's.

    `tolerances` maps metric names to fractions; missing ones take the metric's default. A metric
    measured now but absent from the baseline (a GPU metric on a baseline recorded before) is
    reported as no-baseline for that metric, and does not make the whole case no-baseline.
    `paired` names the metrics whose samples are paired (see compare_samples).
    """
    verdicts = []
    for name in METRICS:
        if name not in baseline and name not in now:
            continue
        tolerance = tolerances.get(name, METRICS[name].default_tolerance)
        verdicts.append(
            compare_samples(
                name,
                baseline.get(name, ()),
                now.get(name, ()),
                tolerance,
                alpha,
                paired=name in paired,
            )
        )
    return CaseVerdict(
        case_id=case_id,
        outcome=worst(v.outcome for v in verdicts),
        metrics=tuple(verdicts),
        notes=tuple(notes),
    )


def version_notes(
    baseline_versions: Mapping[str, object], now_versions: Mapping[str, object]
) -> list[str]:
    """'keras 3.15.1 -> 3.16.0' for every package whose version differs."""
    notes = []
    for name in sorted(set(baseline_versions) | set(now_versions)):
        old, new = baseline_versions.get(name), now_versions.get(name)
        if old != new:
            notes.append(f"{name} {old} -> {new}")
    return ["versions differ from the baseline's: " + ", ".join(notes)] if notes else []


# The old name of the registry's fraction parser, kept for callers outside the package.
parse_tolerance = parse_fraction
