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
import math
import warnings
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
    # Candidates are also proposed at this looser level, then tested at `max_pvalue`: Otava's
    # split stops at its first split over its level, and the best single split of a regression
    # fixed ten runs later (two edges) is weak: both edges of a +50% one were found in 2 of 100
    # series, now 100 (benchmarks/history_detection.py).
    candidate_pvalue: float = 0.1
    # Welch's t-test on the final segments, which counts a segment's degrees of freedom (Otava's
    # does not: one slow night was a change "at p = 1e-7"), must pass too (_fails_a_look). At
    # 0.001, pages of 32 unchanged series showed a change point 4 and 7 times in 100 (30 and 60
    # runs; without it 12 and 15), and +20% was found in 85% of series, not 92%.
    welch_pvalue: float = 0.001


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
    # Otava's split step proposes candidates (e-divisive means on sliding windows) at its own
    # first-pass level (10 x max_pvalue) and at the looser `candidate_pvalue`; each set is tested,
    # and so is their union: many loose candidates can crowd out a real change point in the
    # greedy merge, few strict ones miss the edges of a change that was undone.
    tested = [
        _tested(otava, otava.split(series, detection.window, level), series, detection)
        for level in (10 * detection.max_pvalue, detection.candidate_pvalue)
    ]
    union = {int(point.index): point for points in tested for point in points}
    points = _tested(otava, [union[index] for index in sorted(union)], series, detection)
    bounds = [0, *(int(point.index) for point in points), len(series)]
    return [
        Change(
            position=int(point.index),
            before=float(point.stats.mean_1),
            after=float(point.stats.mean_2),
            # Welch's, as the last look tested it (_fails_a_look), not Otava's
            pvalue=welch_p(*_segments(series, bounds, k)),
            spread_before=float(point.stats.std_1),
            spread_after=float(point.stats.std_2),
        )
        for k, point in enumerate(points)
    ]


def _tested(otava: Any, points: list[Any], series: list[float], detection: Detection) -> list[Any]:
    """The candidates that hold on the final segments. Otava 0.8.0's merge step, after dropping
    a weak change point, recomputes the statistics of the points after it but not of the one
    before it, whose right-hand segment grew: that point can keep the statistics (and the
    verdict) of a segment that no longer exists. So every point is tested again on the final
    segments, with Otava's own test and merge at `max_pvalue`, and those too short or too small
    dropped, until nothing changes: every figure is of the final segments."""
    tester = otava.TTestSignificanceTester(detection.max_pvalue)
    while True:
        intervals = tester.get_intervals(points)
        fresh = [tester.change_point(p.to_candidate(), series, intervals) for p in points]
        # Short segments and small moves first: a candidate beside a real change point cuts
        # the real one's segment short (a larger p-value), and significance alone would drop the
        # real one and keep the candidate (a one-run segment's p-value is tiny).
        kept = _worth_a_look(fresh, series, detection)
        if len(kept) == len(fresh):
            kept = otava.merge(list(fresh), series, detection.max_pvalue, detection.min_change)
        if [p.index for p in kept] == [p.index for p in fresh]:
            return fresh
        points = kept


def _worth_a_look(points: list[Any], series: list[float], detection: Detection) -> list[Any]:
    """The change points less the weakest of those that fail a look (_fails_a_look): one at a
    time, as a spurious point beside a real one makes both bound a short segment and only the
    spurious one should go; the caller tests again."""
    bounds = [0, *(int(point.index) for point in points), len(series)]
    failing = [
        (welch_p(*_segments(series, bounds, k)), k)
        for k in range(len(points))
        if _fails_a_look(series, bounds[k], bounds[k + 1], bounds[k + 2], detection)
    ]
    if not failing:
        return points
    weakest = max(failing)[1]
    return points[:weakest] + points[weakest + 1 :]


def _segments(series: list[float], bounds: list[int], k: int) -> tuple[list[float], list[float]]:
    """The two segments either side of the k-th change point (`bounds`: 0, the points, the end)."""
    return series[bounds[k] : bounds[k + 1]], series[bounds[k + 1] : bounds[k + 2]]


def _fails_a_look(
    series: list[float], start: int, index: int, stop: int, detection: Detection
) -> bool:
    """Whether the change point at `index`, between segments [start, index) and [index, stop),
    is no change worth a look: a level that moved by less than `min_change` as after / before - 1
    (Otava's magnitude is the larger of the forward and backward change, so a drop of 4.8%
    passed a 5% minimum), or Welch's t-test on the two segments not below `welch_pvalue` (a
    one-run segment never passes). (Otava's own t-test takes a segment's spread without its
    degree of freedom: one slow night and the next, a "level" of two runs 8 s and 4 s, had
    p = 1e-7 against runs of 4 s; Welch's gives 0.5.)"""
    before, after = series[start:index], series[index:stop]
    mean_before, mean_after = sum(before) / len(before), sum(after) / len(after)
    moved = abs(mean_after / mean_before - 1.0) if mean_before else 0.0
    return moved < detection.min_change or welch_p(before, after) >= detection.welch_pvalue


def welch_p(before: Sequence[float], after: Sequence[float]) -> float:
    """Welch's two-sided t-test of two segments' means (1.0 where it cannot be computed)."""
    from scipy.stats import ttest_ind

    if min(len(before), len(after)) < 2:
        return 1.0
    with warnings.catch_warnings():  # nearly equal values: scipy warns, and its p stands
        warnings.simplefilter("ignore", RuntimeWarning)
        p = float(ttest_ind(after, before, equal_var=False)[1])
    if math.isnan(p):  # both segments without spread: a change when their levels differ
        return 0.0 if sum(after) / len(after) != sum(before) / len(before) else 1.0
    return p


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
