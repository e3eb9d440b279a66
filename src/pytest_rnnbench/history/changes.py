"""Change points in a series, found by Apache Otava, and the levels between them.

Otava (https://otava.apache.org, formerly DataStax's Hunter) is the change-point detector made for
noisy performance series: e-divisive means on sliding windows proposes candidate points, and a
two-sample t-test on the means of the segments on either side keeps only those with a p-value
below `max_pvalue` and a relative change of at least `min_change` (Fleming et al., "Hunter: Using
Change Point Detection to Hunt for Performance Regressions", ICPE 2023). The test is on means, so a
run-to-run spread that grows or shrinks without the level moving is not a change point.

Otava is imported only when a series is analysed (`python -m pytest_rnnbench history`): neither
the plugin nor the other commands need it. Only its analysis module is used, which needs numpy and
scipy; the rest of the package (its database, Slack and Grafana integrations) is not, which is why
it is installed without its dependencies.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional

from .runs import Metric, Point
from .series import History, Series

OTAVA_REQUIREMENT = "apache-otava==0.8.0"
OTAVA_INSTALL = f"pip install --no-deps '{OTAVA_REQUIREMENT}'"


class HistoryUnavailable(RuntimeError):
    """Apache Otava is not installed; the message says how to install it."""


@dataclass(frozen=True)
class Detection:
    """How sure and how large a change must be to be reported."""

    # Otava's own default is 0.001. Each series is tested at many candidate runs, so that called a
    # change in 4% of 30-run series of this project's measured noise; 0.0001 in 0.8%, and finds
    # changes of 20% about as often (benchmarks/history_detection.py, docs/tracking.md).
    max_pvalue: float = 0.0001
    min_change: float = 0.05  # the gate's time tolerance: smaller moves are not worth a look
    window: int = 50  # Otava's default window (runs) for proposing candidates


@dataclass(frozen=True)
class Change:
    """A change point: the level moves from `before` to `after` at the point `position` (an index
    into the series' points; the first point of the new level)."""

    position: int
    before: float  # mean of the segment that ends here
    after: float  # mean of the segment that starts here
    pvalue: float
    spread_before: float  # standard deviations of the two segments
    spread_after: float

    @property
    def change(self) -> float:
        """Relative change of the level: +0.27 is 27% higher."""
        return self.after / self.before - 1.0 if self.before else 0.0

    @property
    def confidence(self) -> float:
        return 1.0 - self.pvalue


@dataclass(frozen=True)
class Level:
    """A stretch of points with one level: points[start:stop] (failed points included)."""

    start: int
    stop: int
    mean: float


@dataclass(frozen=True)
class Analysis:
    """One series under one metric: its values, change points and levels."""

    series: Series
    metric: Metric
    values: tuple[Optional[float], ...]  # per point; None where nothing was measured
    changes: tuple[Change, ...]
    levels: tuple[Level, ...]

    @property
    def measured(self) -> list[int]:
        """Positions of the points with a value."""
        return [i for i, value in enumerate(self.values) if value is not None]

    @property
    def latest(self) -> Optional[Point]:
        measured = self.measured
        return self.series.points[measured[-1]] if measured else None

    def latest_value(self) -> Optional[float]:
        measured = self.measured
        return self.values[measured[-1]] if measured else None

    def previous_value(self) -> Optional[float]:
        measured = self.measured
        return self.values[measured[-2]] if len(measured) > 1 else None


def _otava() -> Any:
    """otava.analysis, imported on first use."""
    try:
        import otava.analysis as analysis
    except ImportError:
        raise HistoryUnavailable(
            "change points need Apache Otava's analysis: "
            f"{OTAVA_INSTALL} (without its dependencies: the analysis needs only numpy and scipy)"
        ) from None
    return analysis


def otava_available() -> bool:
    try:
        _otava()
    except HistoryUnavailable:
        return False
    return True


def find_changes(values: Sequence[float], detection: Detection) -> list[Change]:
    """Change points of a series of finite numbers, in order; indices are into `values`."""
    if len(values) < 2:
        return []
    otava = _otava()
    # A plain list: Otava's window detector slices lists but takes a numpy array whole.
    series = [float(v) for v in values]
    points, _weak = otava.compute_change_points(
        series,
        window_len=detection.window,
        max_pvalue=detection.max_pvalue,
        min_magnitude=detection.min_change,
    )
    # Otava 0.8.0's merge step, after dropping a weak change point, recomputes the statistics of
    # the points after it but not of the one before it, whose right-hand segment grew: that point
    # can keep the statistics (and the verdict) of a segment that no longer exists. So test every
    # point again on the final segments, with Otava's own test and merge, until nothing changes.
    tester = otava.TTestSignificanceTester(detection.max_pvalue)
    while True:
        intervals = tester.get_intervals(points)
        fresh = [tester.change_point(p.to_candidate(), series, intervals) for p in points]
        kept = otava.merge(list(fresh), series, detection.max_pvalue, detection.min_change)
        if [p.index for p in kept] == [p.index for p in fresh]:
            points = fresh
            break
        points = kept
    changes = [
        Change(
            position=int(point.index),
            before=float(point.stats.mean_1),
            after=float(point.stats.mean_2),
            pvalue=float(point.stats.pvalue),
            spread_before=float(point.stats.std_1),
            spread_after=float(point.stats.std_2),
        )
        for point in points
    ]
    # Otava's magnitude is the larger of the forward and backward relative change, so a drop of
    # 4.8% passed a 5% minimum: the page states the minimum as after / before - 1.
    return [change for change in changes if abs(change.change) >= detection.min_change]


def _levels(values: Sequence[Optional[float]], changes: Sequence[Change]) -> list[Level]:
    bounds = [0, *(change.position for change in changes), len(values)]
    levels = []
    for start, stop in zip(bounds, bounds[1:]):
        stretch = [v for v in values[start:stop] if v is not None]
        if stretch:
            levels.append(Level(start, stop, sum(stretch) / len(stretch)))
    return levels


def analyse(series: Series, metric: Metric, detection: Detection) -> Analysis:
    """Change points of one series. Points without a value (failed cases) are left out of the
    test and keep their place: a change point's position is that of a measured point."""
    values = series.values(metric)
    measured = [(i, value) for i, value in enumerate(values) if value is not None]
    found = find_changes([value for _, value in measured], detection)
    changes = tuple(
        dataclasses.replace(change, position=measured[change.position][0]) for change in found
    )
    return Analysis(series, metric, tuple(values), changes, tuple(_levels(values, changes)))


def analyse_all(history: History, metric: Metric, detection: Detection) -> list[Analysis]:
    """Every series that has a value of `metric` in some run, or that never ran without failing;
    not those that ran and never measured it (GPU memory on a CPU)."""
    analyses = [analyse(series, metric, detection) for series in history.series]
    return [a for a in analyses if a.measured or len(a.series.failures) == len(a.series.points)]
