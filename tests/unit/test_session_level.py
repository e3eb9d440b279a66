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


def test_only_the_window_of_latest_sessions_is_used() -> None:
    stored = log_sessions([100.0] * 5 + [60.0 + i * 0.1 for i in range(WINDOW)])
    found = compare_sessions(stored, math.log(61))
    assert found.used + found.dropped == WINDOW


def test_a_session_summary_is_the_mean_log_over_its_workers() -> None:
    assert session_summary([10.0, 40.0]) == pytest.approx(math.log(20.0))
    with pytest.raises(ValueError):
        session_summary([])
