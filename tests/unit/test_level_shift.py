"""benchmarks/level_shift.py: the level-shift search under both split tests, on seeded histories."""

from __future__ import annotations

import random

import pytest

from helpers import benchmark_script


@pytest.fixture(scope="module")
def script():
    return benchmark_script("level_shift")


def test_the_plugins_search_runs_with_either_test_and_pooled_finds_more_real_shifts(script) -> None:
    real = script.real_shifts(random.Random(3), 60, shifted=3)
    assert real["pooled"][0] > real["welch"][0]  # 80% against 39% at 1,000 histories
    false = script.false_shifts(random.Random(3), 60, sessions=20)
    assert false["pooled"] <= 3  # at most a few of 60 at a 1% level


def test_it_prints_every_rule_for_every_row(script, capsys) -> None:
    assert script.main(["--histories", "5", "--seed", "2"]) == 0
    out = capsys.readouterr().out
    assert out.count("pooled, 3 after") == out.count("welch") == 9
    assert "20 sessions: pooled" in out and "last 5: pooled" in out
    assert "2 from the end: pooled" in out


def test_three_sessions_after_a_shift_spare_a_lone_outlier_and_miss_a_young_shift(script) -> None:
    """Why the plugin keeps two (session_level.after_level_shift): 8.9% against 1.3%, and 59%
    against 16%, at 1,000 histories."""
    outlier = script.outlier_shifts(random.Random(4), 80, back=2)
    assert outlier["pooled"] > outlier["pooled, 3 after"]
    young = script.real_shifts(random.Random(4), 80, shifted=2)
    assert young["pooled"][0] > young["pooled, 3 after"][0]
