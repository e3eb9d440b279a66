"""benchmarks/bounds.py: the exact bounds the calibration figures are printed with, and which kind
each count gets (false alarms an upper bound, detections a lower one)."""

from __future__ import annotations

from helpers import benchmark_script

bounds = benchmark_script("bounds")


def test_bounds_are_clopper_pearsons_one_sided_95_percent() -> None:
    # Figures docs/calibration.md prints, as scipy's exact binomial test gives them.
    assert round(bounds.upper_bound(0, 30), 3) == 0.095
    assert round(bounds.upper_bound(2, 134), 4) == 0.0462
    assert round(bounds.lower_bound(29, 30), 3) == 0.851
    assert bounds.upper_bound(5, 5) == 1.0 and bounds.lower_bound(0, 5) == 0.0


def test_false_alarms_get_an_upper_bound_and_detections_a_lower_one() -> None:
    assert bounds.bound_text(0, 30, detection=False) == "95% upper bound 9.5%"
    # 44 of 47 slowed runs caught: the claim is that the rate is at least 84.3%, not at most 98%.
    assert bounds.bound_text(44, 47, detection=True) == "95% lower bound 84.3%"
