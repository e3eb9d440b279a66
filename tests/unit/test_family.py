"""The run is the family (verdicts/family.py): per-case levels and Holm's decisions."""

from __future__ import annotations

import pytest

from pytest_rnnbench.verdicts.family import family_line, holm_rejections, per_case_alpha


def test_each_case_of_a_run_is_judged_at_the_family_level_divided_by_the_cases() -> None:
    assert per_case_alpha(0.01, 12) == pytest.approx(0.01 / 12)
    assert per_case_alpha(0.05, 1) == 0.05


def test_holm_steps_down_and_stops_at_the_first_p_value_that_fails() -> None:
    # m = 4: thresholds 0.0025, 0.00333, 0.005, 0.01 for the sorted p-values.
    assert holm_rejections([0.004, 0.001, 0.02, 0.003], 0.01) == [True, True, False, True]
    assert holm_rejections([0.003, 0.001], 0.01) == [True, True]
    assert holm_rejections([0.006, 0.006], 0.01) == [False, False]


def test_the_line_says_the_level_and_the_rule() -> None:
    assert family_line(0.01, 12) == (
        "false-alarm level 1% for the whole run: each of its 12 cases is judged at 0.00083 "
        "(Bonferroni)"
    )


@pytest.mark.parametrize(("alpha", "cases"), [(0.0, 3), (1.0, 3), (0.01, 0)])
def test_impossible_levels_are_errors(alpha: float, cases: int) -> None:
    with pytest.raises(ValueError):
        per_case_alpha(alpha, cases)
