"""The one judge: two sets of samples in, a case's verdict out (or why there is none). No pytest.

Every way of judging a case goes through `judge`: a stored baseline (stored.py), a live reference
measured in the same session (live.py) and the offline `compare` command (cli/compare.py). They
differ only in where the two sides come from and which tolerances apply; the chain is the same:

    workloads comparable? -> compare_case (verdict.py) -> timings trustworthy? -> the verdict
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional, Union

from .baseline import entry_samples
from .distrust import shared_gpu_reason, timing_distrust, untrusted_timing
from .records import INCONCLUSIVE, METRICS, NO_BASELINE, CaseVerdict, MetricVerdict, worst
from .samples import comparable, metric_samples
from .verdict import DEFAULT_ALPHA, compare_case, compare_samples, version_notes

TIME = "step_time"


@dataclass(frozen=True)
class Side:
    """One side of a comparison: per-metric samples, the measurement they came from (a worker
    result or a baseline entry: samples per epoch, steps, busy shares, GPU monitor) and the
    versions it ran with."""

    samples: Mapping[str, Sequence[float]]
    workload: Mapping[str, Any] = field(default_factory=dict)
    versions: Mapping[str, object] = field(default_factory=dict)

    @classmethod
    def of_result(cls, result: Mapping[str, Any]) -> Side:
        """A worker result (or a results file's worker section) as a side."""
        return cls(metric_samples(result), result, result.get("versions") or {})

    @classmethod
    def of_entry(cls, entry: Mapping[str, Any]) -> Side:
        """A baseline entry as a side."""
        return cls(entry_samples(entry), entry, entry.get("versions") or {})


@dataclass(frozen=True)
class NotJudged:
    """A case that was measured but cannot be judged against this baseline, and why."""

    case_id: str
    why: str

    def line(self) -> str:
        """ "<case>: no-baseline: <why>", as the offline compare prints it."""
        return f"{self.case_id}: {NO_BASELINE}: {self.why}"


def judge(
    case_id: str,
    old: Side,
    new: Side,
    tolerances: Mapping[str, float],
    *,
    alpha: float = DEFAULT_ALPHA,
    paired: bool = False,
    busy_limit: Optional[float] = None,
    time: Optional[Callable[[float], MetricVerdict]] = None,
) -> Union[CaseVerdict, NotJudged]:
    """The verdict on `new` against `old` (the baseline or reference), or why there is none.

    `tolerances`: {metric name: fraction}, already resolved by the caller (missing metrics take
    their defaults). `paired`: both sides were measured turn by turn (live A/B), so a busy CPU
    touched both alike and only a shared GPU makes the timing untrustworthy.
    `busy_limit`: the share of the CPU that other processes may take before timings are not
    trusted (default distrust.BUSY_MACHINE_SHARE). `time`: judges the step time from its
    tolerance with worker processes or sessions as the unit (time_verdict.py). The step samples
    themselves are never tested against each other: the steps of one process share its speed and
    its minute's load, so a test on them prints a confidence the data does not hold. Without
    `time` the step time is inconclusive (or says which side has none).
    """
    different = comparable(old.workload, new.workload)
    if different:
        return NotJudged(case_id, different)
    found = compare_case(
        case_id,
        _without_time(old.samples),
        _without_time(new.samples),
        tolerances,
        alpha,
        notes=[*version_notes(old.versions, new.versions), *lstm_path_notes(old, new)],
    )
    tolerance = tolerances.get(TIME, METRICS[TIME].default_tolerance)
    if time is not None:
        found = _with_metric(found, time(tolerance))
    elif TIME in old.samples or TIME in new.samples:
        found = _with_metric(found, _time_without_unit(old, new, tolerance))
    # Pairing cancels a busy CPU (both turns of a pair shared it), but not a GPU that a foreign
    # process used in some turns. A time judge of stored sessions has left out those saved on a
    # busy machine (session_time.stored_sessions): the baseline's latest save, busy or not, says
    # nothing about the sessions it judged against, so only this run's load is checked.
    if paired:
        distrust = shared_gpu_reason(new.workload)
    else:
        distrust = timing_distrust({} if time else old.workload, new.workload, busy_limit)
    return untrusted_timing(found, distrust) if distrust else found


def _without_time(samples: Mapping[str, Sequence[float]]) -> dict[str, Sequence[float]]:
    return {name: values for name, values in samples.items() if name != TIME}


def _time_without_unit(old: Side, new: Side, tolerance: float) -> MetricVerdict:
    """The step time when no caller judged it per process or session: what is missing where a
    side has no steps, else inconclusive, saying why the steps alone are not tested."""
    base, now = old.samples.get(TIME, ()), new.samples.get(TIME, ())
    if not base or not now:  # the rule's own words for a missing side; no test runs
        return compare_samples(TIME, base, now, tolerance)
    return MetricVerdict(
        TIME,
        INCONCLUSIVE,
        tolerance=tolerance,
        n_baseline=len(base),
        n_now=len(now),
        test="none",
        why="no per-process or per-session step times to judge against; the steps inside one "
        "process are not independent samples",
    )


def _with_metric(found: CaseVerdict, metric: MetricVerdict) -> CaseVerdict:
    """`found` with `metric` first among its metrics, and the case's outcome made again."""
    metrics = (metric, *found.metrics)
    return CaseVerdict(found.case_id, worst(m.outcome for m in metrics), metrics, found.notes)


def lstm_kernel(workload: Mapping[str, Any]) -> Optional[Mapping[str, Any]]:
    """The LSTM path a side's worker observed (a worker result's run.lstm_kernel, or a baseline
    entry's lstm_kernel), or None where it was not observed (Keras-MXNet, older files)."""
    found = (workload.get("run") or {}).get("lstm_kernel") or workload.get("lstm_kernel")
    if not isinstance(found, Mapping) or not found.get("observed"):
        return None
    return found


def lstm_path_notes(old: Side, new: Side) -> list[str]:
    """A finding whatever the timing says: the backend took another LSTM path than the baseline
    or reference did (a fused kernel that now declines is how keras-team/keras#22874 slowed every
    torch GPU run unnoticed)."""
    before, after = lstm_kernel(old.workload), lstm_kernel(new.workload)
    if before is None or after is None or before.get("kernel") == after.get("kernel"):
        return []
    return [
        f"LSTM path changed: {before.get('kernel')} -> {after.get('kernel')} "
        f"({after.get('why') or 'no reason given'})"
    ]
