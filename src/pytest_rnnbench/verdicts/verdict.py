"""Verdicts: compare two sets of samples (a baseline and now) for each metric of a case.

Plain numbers in, plain objects out; no pytest import. scipy is imported inside the functions
that test significance, so a plugin load (or `pytest --co`) never pays for it.

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
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional

from ..metrics import METRICS as METRICS  # re-exported: the registry's rows
from ..metrics import TOLERANCE_KEYS as TOLERANCE_KEYS
from ..metrics import parse_fraction
from ..quantiles import median

PASS = "pass"
REGRESSION = "regression"
IMPROVEMENT = "improvement"
INCONCLUSIVE = "inconclusive"
NO_BASELINE = "no-baseline"

# Worst first: a case's verdict is the worst of its metrics' verdicts.
SEVERITY = (REGRESSION, INCONCLUSIVE, NO_BASELINE, IMPROVEMENT, PASS)

DEFAULT_ALPHA = 0.01
MIN_SAMPLES_FOR_TEST = 3  # below this a rank test cannot reach p < 0.05, let alone alpha


parse_tolerance = parse_fraction  # the old name, until verdicts/protocol.py reads the new one


@dataclass(frozen=True)
class MetricVerdict:
    metric: str
    outcome: str
    baseline: Optional[float] = None  # the baseline's median
    now: Optional[float] = None  # this run's median
    change: Optional[float] = None  # now / baseline - 1
    tolerance: Optional[float] = None
    confidence: Optional[float] = None  # 1 - p of the one-sided test in the direction observed
    n_baseline: int = 0
    n_now: int = 0
    why: str = ""
    test: str = "Mann-Whitney"  # the significance test behind `confidence`

    def line(self) -> str:
        """One line: metric, baseline, now, change, tolerance, confidence, and why."""
        metric = METRICS.get(self.metric)
        label = metric.label if metric else self.metric
        unit = f" {metric.unit}" if metric and metric.unit else ""
        parts = [f"{label} {self.outcome}"]
        if self.baseline is not None and self.now is not None:
            parts.append(f"baseline {_fmt(self.baseline)}{unit} -> now {_fmt(self.now)}{unit}")
        if self.change is not None:
            parts.append(f"change {self.change * 100:+.1f}%")
        if self.tolerance is not None:
            parts.append(f"tolerance {self.tolerance * 100:.1f}%")
        if self.confidence is not None:
            shown = ">99.99" if self.confidence > 0.9999 else f"{self.confidence * 100:.2f}"
            parts.append(f"confidence {shown}% ({self.test}, n={self.n_baseline}/{self.n_now})")
        elif self.outcome != PASS or self.why:
            parts.append(f"n={self.n_baseline}/{self.n_now}")
        text = ", ".join(parts)
        return f"{text}: {self.why}" if self.why else text


def _fmt(value: float) -> str:
    if not math.isfinite(value):
        return str(value)
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


@dataclass(frozen=True)
class CaseVerdict:
    case_id: str
    outcome: str
    metrics: tuple[MetricVerdict, ...] = ()
    notes: tuple[str, ...] = ()  # e.g. versions that differ from the baseline's

    @property
    def deciding(self) -> Optional[MetricVerdict]:
        """The metric verdict that decided the case's outcome (the worst one)."""
        for metric in self.metrics:
            if metric.outcome == self.outcome:
                return metric
        return None

    def line(self) -> str:
        deciding = self.deciding
        text = f"{self.case_id}: {self.outcome}"
        if deciding is not None:
            text += f": {deciding.line()}"
        if self.notes:
            text += " [" + "; ".join(self.notes) + "]"
        return text

    def to_dict(self) -> dict[str, Any]:
        """The verdict as stored in results files (see results.parse_verdict)."""
        time = next((m for m in self.metrics if m.metric == "epoch_time"), None)
        return {
            "verdict": self.outcome,
            "reason": self.line(),
            "change": time.change if time else None,
            "metrics": {
                m.metric: {
                    "outcome": m.outcome,
                    "baseline": m.baseline,
                    "now": m.now,
                    "change": m.change,
                    "tolerance": m.tolerance,
                    "confidence": m.confidence,
                    "n_baseline": m.n_baseline,
                    "n_now": m.n_now,
                    "why": m.why,
                    "test": m.test,
                }
                for m in self.metrics
            },
            "notes": list(self.notes),
        }


def _median(values: Sequence[float]) -> float:
    return float(median(values))


def one_sided_p(now: Sequence[float], baseline: Sequence[float], greater: bool) -> float:
    """p-value that `now` tends to be larger (greater=True) or smaller than `baseline`."""
    from scipy.stats import mannwhitneyu

    result = mannwhitneyu(list(now), list(baseline), alternative="greater" if greater else "less")
    p = float(result.pvalue)
    return 1.0 if math.isnan(p) else p  # all values tied: no evidence either way


def paired_log_ratios(now: Sequence[float], baseline: Sequence[float]) -> list[float]:
    return [math.log(c / b) for c, b in zip(now, baseline)]


def hodges_lehmann(values: Sequence[float]) -> float:
    """The median of all pairwise averages (Walsh averages): the Wilcoxon test's own estimate."""
    walsh = [(values[i] + values[j]) / 2 for i in range(len(values)) for j in range(i, len(values))]
    return _median(walsh)


def paired_one_sided_p(now: Sequence[float], baseline: Sequence[float], greater: bool) -> float:
    """p-value that `now` is larger (greater=True) or smaller than its paired `baseline`."""
    from scipy.stats import wilcoxon

    ratios = paired_log_ratios(now, baseline)
    if all(r == 0 for r in ratios):
        return 1.0  # identical pairs: no evidence either way
    result = wilcoxon(ratios, alternative="greater" if greater else "less")
    p = float(result.pvalue)
    return 1.0 if math.isnan(p) else p


PAIRED_TEST = "Wilcoxon signed-rank, paired"


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
    b, c = _median(base), _median(cur)
    if b <= 0 or (paired and min(base + cur) <= 0):
        return MetricVerdict(
            outcome=INCONCLUSIVE,
            baseline=b,
            now=c,
            why="the baseline is not positive; no relative change",
            **common,
        )
    if paired and len(base) != len(cur):
        raise ValueError(f"paired samples need equal counts, got {len(base)} and {len(cur)}")
    if paired:
        change = math.exp(hodges_lehmann(paired_log_ratios(cur, base))) - 1.0
        common["test"] = PAIRED_TEST
    else:
        change = c / b - 1.0
    common.update(baseline=b, now=c, change=change)
    testable = len(base) >= MIN_SAMPLES_FOR_TEST and len(cur) >= MIN_SAMPLES_FOR_TEST

    def p_value(greater: bool) -> float:
        if paired:
            return paired_one_sided_p(cur, base, greater)
        return one_sided_p(cur, base, greater)

    if change > tolerance:
        if not testable:
            return MetricVerdict(
                outcome=REGRESSION,
                why="measured once per run: tolerance only, no significance test",
                **common,
            )
        p = p_value(greater=True)
        if p < alpha:
            return MetricVerdict(outcome=REGRESSION, confidence=1 - p, **common)
        if paired:
            ratios = [c / b for c, b in zip(cur, base)]
            spread = f"per-turn ratios now/reference spread (p10-p90) {_spread(ratios)}"
            cure = "more --rnnbench-repeats or --rnnbench-against-workers would decide"
        else:
            spread = f"spread (p10-p90) baseline {_spread(base)}, now {_spread(cur)}"
            cure = "more --rnnbench-repeats or a quieter machine would decide"
        return MetricVerdict(
            outcome=INCONCLUSIVE,
            confidence=1 - p,
            why=(
                f"beyond the tolerance but not significant (p={p:.3g} >= {alpha:g}): "
                f"too noisy to tell; {spread}; {cure}"
            ),
            **common,
        )
    if change < -tolerance:
        if not testable:
            return MetricVerdict(
                outcome=IMPROVEMENT, why="measured once per run: tolerance only", **common
            )
        p = p_value(greater=False)
        if p < alpha:
            return MetricVerdict(outcome=IMPROVEMENT, confidence=1 - p, **common)
        return MetricVerdict(
            outcome=PASS,
            confidence=1 - p,
            why="better than the tolerance but not significant",
            **common,
        )
    return MetricVerdict(outcome=PASS, **common)


def _spread(values: Sequence[float]) -> str:
    if len(values) < 2:
        return "n/a"
    ordered = sorted(values)
    lo = ordered[int(0.1 * (len(ordered) - 1))]
    hi = ordered[int(math.ceil(0.9 * (len(ordered) - 1)))]
    mid = _median(values)
    return f"{(lo / mid - 1) * 100:+.0f}%..{(hi / mid - 1) * 100:+.0f}%" if mid > 0 else "n/a"


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
    outcomes = [v.outcome for v in verdicts]
    if not verdicts:
        outcome = NO_BASELINE
    elif all(o == NO_BASELINE for o in outcomes):
        outcome = NO_BASELINE
    else:
        considered = [o for o in outcomes if o != NO_BASELINE]
        outcome = min(considered, key=SEVERITY.index)
    return CaseVerdict(
        case_id=case_id, outcome=outcome, metrics=tuple(verdicts), notes=tuple(notes)
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


def untrusted_timing(found: CaseVerdict, why: str) -> CaseVerdict:
    """The same verdict, with a decided time metric made inconclusive because of `why`.

    Used when the measurement itself is known to be unfair, e.g. another process used the case's
    GPU while it ran: its timings say nothing about the code. Memory and loss verdicts stand.
    """
    metrics = []
    for metric in found.metrics:
        if metric.metric == "epoch_time" and metric.outcome in (REGRESSION, IMPROVEMENT):
            metric = MetricVerdict(**{**metric.__dict__, "outcome": INCONCLUSIVE, "why": why})
        metrics.append(metric)
    considered = [m.outcome for m in metrics if m.outcome != NO_BASELINE]
    outcome = min(considered, key=SEVERITY.index) if considered else NO_BASELINE
    return CaseVerdict(
        case_id=found.case_id, outcome=outcome, metrics=tuple(metrics), notes=found.notes
    )


# Timings taken while other processes (or a VM's hypervisor) took more than this share of the
# machine's CPU time say more about the neighbours than about the code: the calibration saw
# identical epochs vary by -22%..+38% on a loaded 2-core machine.
BUSY_MACHINE_SHARE = 0.10


def busy_machine_reason(
    baseline_shares: Sequence[float], now_shares: Sequence[float], limit: float = BUSY_MACHINE_SHARE
) -> str:
    """Why the CPU was too busy with other work to trust a time comparison, or ""."""
    for side, shares in (("the baseline's", baseline_shares), ("this run's", now_shares)):
        if shares and max(shares) > limit:
            return (
                f"other processes took {max(shares):.0%} of the machine's CPU time during "
                f"{side} timed epochs (more than {limit:.0%}); rerun on a quiet machine"
            )
    return ""


def timing_distrust(
    baseline_workload: Mapping[str, object],
    now_workload: Mapping[str, object],
    busy_limit: Optional[float] = None,
) -> str:
    """Why the time comparison of these two measurements cannot be trusted, or ""."""
    from .samples import busy_shares

    limit = BUSY_MACHINE_SHARE if busy_limit is None else busy_limit
    return shared_gpu_reason(now_workload) or busy_machine_reason(
        busy_shares(baseline_workload), busy_shares(now_workload), limit
    )


def shared_gpu_reason(result: Mapping[str, object]) -> str:
    """Why this worker result's timings cannot be trusted, or "" (from the NVML monitor)."""
    memory = result.get("gpu_memory")
    others = memory.get("nvml_other_processes") if isinstance(memory, Mapping) else None
    if others:
        pids = ", ".join(str(pid) for pid in list(others)[:5])
        return f"the GPU was shared with other processes (pids {pids}) while the case ran"
    return ""
