"""Stored verdicts at the run's own machine speed: a rule tried and not adopted, replayed on saved
stored_calibration.py series that probed the machine (`machine_probe`: a fixed pure-Python loop in
one child per CPU, before the warm-up and after the last timed epoch).

A stored baseline compares a run with sessions recorded earlier; on a shared host the machine's
speed wanders between them, unseen by the busy check (the unchanged runs that failed, 2 of 134, did
so that way: docs/calibration.md). The rule replayed here: once MIN_SPEED_SESSIONS stored sessions
have a probe, regress their log step times on their log probes and judge the run against the
prediction at its own probe, by the regression's prediction interval

    t = (new - a - b x0) / (s * sqrt(w + 1/k + (x0 - mean x)^2 / Sxx)),  k - 2 degrees of freedom

(w: the worker-count widening of the plugin's rule); with fewer, the plugin's rule. The slope is
learned per case, not assumed. Printed: the probe's relation to the sessions' step times, then
the same runs' verdicts under the plugin's rule and under this one, side by side.

    .venv/bin/python benchmarks/stored_at_speed.py stored-tf.json --last 13  # cycles 0-12
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))
import stored_calibration as calibration  # noqa: E402  (beside this script)
from pytest_rnnbench.settings import DEFAULT_FALSE_ALARM_RATE  # noqa: E402
from pytest_rnnbench.verdicts import baseline  # noqa: E402
from pytest_rnnbench.verdicts.distributions import one_sided  # noqa: E402
from pytest_rnnbench.verdicts.records import MetricVerdict  # noqa: E402
from pytest_rnnbench.verdicts.session_level import (  # noqa: E402
    WINDOW,
    SessionComparison,
    after_level_shift,
)
from pytest_rnnbench.verdicts.session_time import workers_per_session  # noqa: E402
from pytest_rnnbench.verdicts.time_verdict import time_verdict  # noqa: E402

# Probed sessions needed before a run is judged at its own speed: a slope and a spread from
# fewer leave 3 degrees of freedom or less.
MIN_SPEED_SESSIONS = 6

ROUNDING = 1e-9  # log step times closer than this to the fit: floating-point error


def compare_at_speed(
    stored: Sequence[float],
    new: float,
    stored_speed: Sequence[Optional[float]],
    new_speed: float,
    workers_ratio: float = 1.0,
) -> Optional[tuple[SessionComparison, float]]:
    """The run's log step time `new` against the prediction at its log probe `new_speed` from
    the `stored` sessions' log step times and log probes (aligned; None: not probed), after any
    level shift, and that prediction; None with too few probed sessions, probes that agree, or
    sessions that the probes predict exactly (no spread left to judge by: the plugin's rule
    then judges, with its floor)."""
    values, speeds = list(stored)[-WINDOW:], list(stored_speed)[-WINDOW:]
    dropped = after_level_shift(values)
    pairs = [(x, y) for x, y in zip(speeds[dropped:], values[dropped:]) if x is not None]
    k = len(pairs)
    if k < MIN_SPEED_SESSIONS:
        return None
    x_mean = sum(x for x, _ in pairs) / k
    y_mean = sum(y for _, y in pairs) / k
    sxx = sum((x - x_mean) ** 2 for x, _ in pairs)
    if sxx <= 0:
        return None
    slope = sum((x - x_mean) * (y - y_mean) for x, y in pairs) / sxx
    predicted = y_mean + slope * (new_speed - x_mean)
    residual = sum((y - y_mean - slope * (x - x_mean)) ** 2 for x, y in pairs)
    if residual / (k - 2) < ROUNDING**2:  # a spread of rounding error, not of measurements
        return None
    leverage = 1 / k + (new_speed - x_mean) ** 2 / sxx
    scale = math.sqrt(residual / (k - 2)) * math.sqrt(max(1.0, workers_ratio) + leverage)
    p_greater, p_less = one_sided(new - predicted, scale, k - 2)
    comparison = SessionComparison(
        change=math.exp(new - predicted) - 1,
        p_greater=p_greater,
        p_less=p_less,
        scale=scale,
        degrees_of_freedom=k - 2,
        used=k,
        dropped=dropped,
        floor_used=False,
    )
    return comparison, predicted


def at_speed_judge(
    sessions: list,
    worker_ms: list[float],
    alpha: float,
    stored_probes: list[Optional[float]],
    probes: list[float],
) -> Callable[[float], MetricVerdict]:
    """The replayed rule (a calibration.TimeJudge): at the run's speed where the probes allow,
    else the plugin's."""
    found = None
    if probes and len(stored_probes) == len(sessions):
        found = compare_at_speed(
            [math.log(ms) for ms, _ in sessions],
            math.log(baseline.session_step_ms(worker_ms)),
            [math.log(ms) if ms else None for ms in stored_probes],
            math.log(statistics.median(probes)),
            workers_per_session(sessions) / len(worker_ms),
        )
    if found is None:
        return calibration.plugin_time_judge(sessions, worker_ms, alpha)
    comparison, predicted = found

    def judged(tolerance: float) -> MetricVerdict:
        return time_verdict(
            comparison,
            tolerance,
            alpha,
            baseline_ms=math.exp(predicted),
            now_ms=baseline.session_step_ms(worker_ms),
            counts=(comparison.used, 1),
            test="prediction interval over stored sessions at this machine speed",
            unit=f"{comparison.used} probed stored session(s)",
        )

    return judged


def probe_relation(cycles: list[dict]) -> None:
    """How the sessions' step times moved with their probes (log-log correlation and slope)."""
    pairs = [
        (math.log(probe), math.log(baseline.session_step_ms(c["session_worker_ms"])))
        for c in cycles
        if (probe := calibration.session_probe_ms(c["session"]))
    ]
    if len(pairs) < 3:
        print("fewer than 3 probed sessions: no relation to show")
        return
    xs, ys = [x for x, _ in pairs], [y for _, y in pairs]
    fit = statistics.linear_regression(xs, ys)
    print(
        f"{len(pairs)} probed sessions: log step time against log probe, correlation "
        f"{statistics.correlation(xs, ys):.2f}, slope {fit.slope:.2f}"
    )


def side_by_side(data: dict, alpha: float) -> None:
    rules = {
        "plugin": calibration.judge_all(data, alpha),
        "at speed": calibration.judge_all(data, alpha, time_judge=at_speed_judge),
    }
    for arm in calibration.ARMS:
        for name, found in rules.items():
            verdicts = [j.verdict for j in found if j.arm == arm]
            outcomes = Counter(v.outcome for v in verdicts)
            resolutions = [v.resolution for v in verdicts if v.resolution is not None]
            print(
                f"  {arm:>4} {name:>8}: {dict(sorted(outcomes.items()))} of {len(verdicts)}; "
                f"resolution median {statistics.median(resolutions):.1%}"
            )
    plugin, at_speed = rules["plugin"], rules["at speed"]
    differ = [(p, s) for p, s in zip(plugin, at_speed) if p.verdict.outcome != s.verdict.outcome]
    print(f"verdicts that differ: {len(differ)}")
    for p, s in differ:
        print(
            f"  {p.arm}: plugin {p.verdict.outcome} {p.verdict.change:+.1%}, at speed "
            f"{s.verdict.outcome} {s.verdict.change:+.1%}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("saved", type=Path, help="a stored_calibration.py --save file")
    parser.add_argument("--cases", type=int, default=12, help="the run's cases (its family)")
    parser.add_argument("--first", type=int, default=0, help="replay cycles from this index")
    parser.add_argument("--last", type=int, default=None, help="... up to this one (excluded)")
    args = parser.parse_args()
    data = json.loads(args.saved.read_text())
    data["cycles"] = data["cycles"][args.first : args.last]
    print(f"{args.saved.name}: cycles {args.first}..{args.first + len(data['cycles']) - 1}")
    calibration.probe_changes(data["cycles"])
    probe_relation(data["cycles"])
    side_by_side(data, DEFAULT_FALSE_ALARM_RATE / args.cases)
    return 0


if __name__ == "__main__":
    sys.exit(main())
