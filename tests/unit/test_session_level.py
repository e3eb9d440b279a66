"""Stored baselines judged by sessions (verdicts/session_level.py), on scripted session means."""

from __future__ import annotations

import math
import random

import pytest

from pytest_rnnbench.verdicts.session_level import (
    FLOOR_SPREAD,
    WINDOW,
    after_level_shift,
    compare_sessions,
    session_summary,
)


def log_sessions(times: list[float]) -> list[float]:
    return [math.log(t) for t in times]


def test_a_new_session_within_the_stored_sessions_spread_is_not_significant() -> None:
    stored = log_sessions([66.5, 71.9, 68.0, 64.9, 70.2])
    found = compare_sessions(stored, math.log(71.9))
    assert not found.floor_used and found.used == 5
    assert found.p_greater > 0.05
    assert found.resolution(0.01) > 0.08  # sessions here differ by several percent


def test_a_doubling_is_caught_and_a_quarter_is_caught_with_a_quiet_history() -> None:
    stored = log_sessions([66.5, 67.1, 66.0, 66.9, 66.4, 67.3])
    assert compare_sessions(stored, math.log(66.7 * 2)).p_greater < 1e-4
    assert compare_sessions(stored, math.log(66.7 * 1.25)).p_greater < 1e-3


def test_too_few_sessions_use_the_conservative_spread_and_say_so() -> None:
    found = compare_sessions(log_sessions([66.5, 66.6]), math.log(71.9))
    assert found.floor_used and math.isinf(found.degrees_of_freedom)
    assert found.scale == pytest.approx(FLOOR_SPREAD * math.sqrt(1 + 1 / 2))
    assert found.p_greater > 0.2  # +8% is well inside a 10% spread
    assert compare_sessions(log_sessions([66.5]), math.log(66.5 * 2)).p_greater < 0.01
    # Two sessions that disagree by more than the floor's spread are not overruled by it: the
    # latest one's own speed again is no regression.
    apart = compare_sessions(log_sessions([50.0, 100.0]), math.log(100.0))
    assert apart.scale == pytest.approx(math.log(2) / math.sqrt(2) * math.sqrt(1.5))
    assert apart.p_greater > 0.05


def test_a_level_shift_keeps_only_the_sessions_after_it() -> None:
    rng = random.Random(5)
    before = [math.log(60 * rng.lognormvariate(0, 0.01)) for _ in range(6)]
    after = [math.log(75 * rng.lognormvariate(0, 0.01)) for _ in range(5)]
    assert after_level_shift(before + after) == 6
    found = compare_sessions(before + after, math.log(75))
    assert found.dropped == 6 and found.used == 5
    assert abs(found.change) < 0.03


def test_no_level_shift_in_noise_alone() -> None:
    rng = random.Random(9)
    stored = [math.log(60 * rng.lognormvariate(0, 0.05)) for _ in range(12)]
    assert after_level_shift(stored) == 0


def test_two_latest_sessions_that_agree_by_chance_are_no_level_shift() -> None:
    """Inside the spread of identical code: Welch's t took the two sessions' tiny variance at
    face value and dropped the 18 before them."""
    stored = [0.03 * (-1) ** i for i in range(18)] + [0.040, 0.043]
    assert after_level_shift(stored) == 0


def test_identical_code_shows_a_level_shift_about_as_often_as_the_level_allows() -> None:
    rng = random.Random(1)
    histories = [[rng.gauss(0, 0.03) for _ in range(WINDOW)] for _ in range(400)]
    found = sum(after_level_shift(history) > 0 for history in histories)
    assert found <= 8  # 1% nominal (Bonferroni over the splits: at most); Welch's rule found 28


def test_only_the_window_of_latest_sessions_is_used() -> None:
    stored = log_sessions([100.0] * 5 + [60.0 + i * 0.1 for i in range(WINDOW)])
    found = compare_sessions(stored, math.log(61))
    assert found.used + found.dropped == WINDOW


def test_a_session_summary_is_the_mean_log_over_its_workers() -> None:
    assert session_summary([10.0, 40.0]) == pytest.approx(math.log(20.0))
    for bad in ([], [float("nan"), 10.0], [float("inf")], [0.0]):
        with pytest.raises(ValueError):  # a NaN would pass every comparison silently
            session_summary(bad)


def test_a_one_worker_run_against_three_worker_sessions_keeps_its_false_alarm_rate() -> None:
    # Scripted machine: each process settles at its own speed (sd 8% of log time, as TensorFlow
    # processes here) and sessions add nothing. Stored sessions average three processes each; the
    # new run has one. Judged as if it averaged three, it cries wolf several times too often.
    rng = random.Random(7)
    alpha, trials = 0.01, 3000
    alarms = {"allowed for": 0, "ignored": 0}
    for _ in range(trials):
        stored = [sum(rng.gauss(0, 0.08) for _ in range(3)) / 3 for _ in range(10)]
        new = rng.gauss(0, 0.08)
        alarms["allowed for"] += compare_sessions(stored, new, workers_ratio=3).p_greater < alpha
        alarms["ignored"] += compare_sessions(stored, new).p_greater < alpha
    assert alarms["allowed for"] / trials < 0.02
    assert alarms["ignored"] / trials > 0.04


def test_the_workers_ratio_widens_only_when_the_new_session_has_fewer_workers() -> None:
    stored = log_sessions([66.5, 67.1, 66.0, 66.9, 66.4])
    same = compare_sessions(stored, math.log(67.0))
    assert compare_sessions(stored, math.log(67.0), workers_ratio=0.5).scale == same.scale
    wider = compare_sessions(stored, math.log(67.0), workers_ratio=3)
    assert wider.scale == pytest.approx(same.scale * math.sqrt((3 + 1 / 5) / (1 + 1 / 5)))
    # The assumed floor is already one process's spread: fewer workers do not widen it.
    few = log_sessions([66.5, 67.1])
    assert compare_sessions(few, math.log(67.0), workers_ratio=3).scale == pytest.approx(
        FLOOR_SPREAD * math.sqrt(1 + 1 / 2)
    )
    # Two sessions further apart than the floor: their spread is of sessions, widened as any.
    apart = log_sessions([50.0, 100.0])
    assert compare_sessions(apart, math.log(100.0), workers_ratio=3).scale == pytest.approx(
        math.log(2) / math.sqrt(2) * math.sqrt(3 + 1 / 2)
    )
