"""Verdict records: the outcomes, the metrics a verdict speaks of, and what one verdict holds.

A MetricVerdict is one metric's comparison (baseline, now, change, tolerance, confidence, why); a
CaseVerdict is a case's metrics and its outcome, the worst of theirs. Both say themselves in one
line and serialise into results files. Plain data; the rule that makes them is in verdict.py.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any, Optional

from .. import metrics

PASS = "pass"
REGRESSION = "regression"
IMPROVEMENT = "improvement"
INCONCLUSIVE = "inconclusive"
NO_BASELINE = "no-baseline"

# Worst first: a case's verdict is the worst of its metrics' verdicts.
SEVERITY = (REGRESSION, INCONCLUSIVE, NO_BASELINE, IMPROVEMENT, PASS)


# The metric vocabulary is the registry's (metrics.py: names, units, tolerance keys, defaults).
Metric = metrics.Metric
METRICS: Mapping[str, Metric] = metrics.METRICS
TOLERANCE_KEYS: Mapping[str, str] = metrics.TOLERANCE_KEYS


def worst(outcomes: Iterable[str]) -> str:
    """The worst of `outcomes`, leaving out no-baseline; no-baseline when nothing else is left."""
    considered = [outcome for outcome in outcomes if outcome != NO_BASELINE]
    return min(considered, key=SEVERITY.index) if considered else NO_BASELINE


@dataclass(frozen=True)
class MetricVerdict:
    """One metric's comparison of a baseline with now."""

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
    # The smallest change these data could tell from noise at the level they were judged at
    # (None where no such bound was computed).
    resolution: Optional[float] = None

    def line(self) -> str:
        """One line: metric, baseline, now, change, tolerance, confidence, and why."""
        metric = METRICS.get(self.metric)
        label = metric.label if metric else self.metric
        unit = f" {metric.unit}" if metric and metric.unit else ""
        parts = [f"{label} {self.outcome}"]
        if self.baseline is not None and self.now is not None:
            parts.append(f"baseline {_fmt(self.baseline)}{unit} -> now {_fmt(self.now)}{unit}")
        if self.change is not None:
            parts.append(f"change {percent_beside(self.change, self.tolerance, sign=True)}")
        if self.tolerance is not None:
            parts.append(f"tolerance {self.tolerance * 100:.1f}%")
        if self.resolution is not None:
            parts.append(f"resolves {format_resolution(self.resolution, self.tolerance)}")
        # A confidence belongs to what its test decided: a pass, an inconclusive verdict (made
        # so by its test, the load or the resolution) shows none; its reason says why.
        if self.confidence is not None and self.outcome in (REGRESSION, IMPROVEMENT):
            shown = format_confidence(self.confidence)
            parts.append(f"confidence {shown} ({self.test}, n={self.n_baseline}/{self.n_now})")
        elif self.outcome != PASS or self.why:
            parts.append(f"n={self.n_baseline}/{self.n_now}")
        text = ", ".join(parts)
        return f"{text}: {self.why}" if self.why else text


def format_confidence(value: float) -> str:
    """ "98.76%", "99.917%": never rounded up to a certainty it did not reach (0.99916 is 99.916%,
    short of a 12-case level of 99.9167%), and from 99.9% on with a third decimal, so that one
    that reached that level does not read as short of it (0.99917 as 99.91%); round() first,
    as 0.57 * 10000 is 5699.999..., which floor alone makes 56.99%."""
    if value > 0.9999:
        return ">99.99%"
    digits = 3 if value >= 0.999 else 2
    scale = 10 ** (digits + 2)
    return f"{math.floor(round(value * scale, 6)) / 10**digits:.{digits}f}%"


def format_resolution(value: float, tolerance: Optional[float] = None) -> str:
    """ "4.2%"; ">1000%" where too few units leave the bound meaningless; beside a `tolerance`
    it would print as, with a second decimal (percent_beside)."""
    return percent_beside(value, tolerance) if value < 10 else ">1000%"


def percent_beside(value: float, tolerance: Optional[float], sign: bool = False) -> str:
    """`value` as a percentage to one decimal, or two where one would print it as its
    `tolerance` ("change +5.0%, tolerance 5.0%" for a change of 5.017%, called beyond it)."""
    plus = "+" if sign else ""
    shown = f"{value * 100:{plus}.1f}%"
    if tolerance is not None and value != tolerance:
        if f"{abs(value) * 100:.1f}" == f"{tolerance * 100:.1f}":
            shown = f"{value * 100:{plus}.2f}%"
    return shown


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
    """A case's metric verdicts and its outcome (the worst of theirs)."""

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
        """ "<case>: <outcome>: <the deciding metric's line> [notes]"."""
        deciding = self.deciding
        text = f"{self.case_id}: {self.outcome}"
        if deciding is not None:
            text += f": {deciding.line()}"
        if self.notes:
            text += " [" + "; ".join(self.notes) + "]"
        return text

    @classmethod
    def from_dict(cls, case_id: str, stored: Mapping[str, Any]) -> CaseVerdict:
        """The verdict that `to_dict` wrote (keys it does not know are left out)."""
        metrics = tuple(
            MetricVerdict(metric=name, **{k: v for k, v in kept.items() if k in _METRIC_FIELDS})
            for name, kept in (stored.get("metrics") or {}).items()
        )
        notes = tuple(str(note) for note in stored.get("notes") or ())
        return cls(case_id, str(stored["verdict"]), metrics, notes)

    def to_dict(self) -> dict[str, Any]:
        """The verdict as stored in results files (see results.parse_verdict)."""
        time = next((m for m in self.metrics if m.metric == "step_time"), None)
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
                    **({"resolution": m.resolution} if m.resolution is not None else {}),
                }
                for m in self.metrics
            },
            "notes": list(self.notes),
        }


# What CaseVerdict.from_dict reads back into a MetricVerdict: its fields but the metric's name.
_METRIC_FIELDS = frozenset(f.name for f in fields(MetricVerdict)) - {"metric"}
