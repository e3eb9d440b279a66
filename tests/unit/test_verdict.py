"""The verdict rule (gate/verdict.py) on plain numbers: every outcome, tolerances, significance,
non-finite loss, a busy machine, and the paired (live A/B) test."""

import math
import random

import pytest

from pytest_rnnbench.verdicts import verdict
from pytest_rnnbench.verdicts.records import CaseVerdict, MetricVerdict


def noisy(center, n=24, spread=0.02, seed=0):
    rng = random.Random(seed)
    return [center * (1 + rng.uniform(-spread, spread)) for _ in range(n)]


def test_same_distribution_passes():
    found = verdict.compare_samples("step_time", noisy(10.0), noisy(10.0, seed=1), 0.05)
    assert found.outcome == verdict.PASS
    assert abs(found.change) < 0.05


def test_clear_slowdown_beyond_tolerance_is_a_regression_with_a_full_reason():
    found = verdict.compare_samples("step_time", noisy(10.0), noisy(12.0, seed=1), 0.05)
    assert found.outcome == verdict.REGRESSION
    assert found.change == pytest.approx(0.2, abs=0.02)
    assert found.confidence > 0.99
    line = found.line()
    for part in (
        "time per step regression",
        "baseline 10",
        "now 12",
        "change +19",
        "tolerance 5.0%",
        "confidence",
        "Mann-Whitney, n=24/24",
    ):
        assert part in line, line


def test_significant_but_within_tolerance_passes():
    # 3% slower, very consistent: significant, but inside a 5% tolerance.
    found = verdict.compare_samples(
        "step_time", noisy(10.0, spread=0.001), noisy(10.3, spread=0.001, seed=1), 0.05
    )
    assert found.outcome == verdict.PASS
    tighter = verdict.compare_samples(
        "step_time", noisy(10.0, spread=0.001), noisy(10.3, spread=0.001, seed=1), 0.02
    )
    assert tighter.outcome == verdict.REGRESSION


def test_beyond_tolerance_but_too_noisy_is_inconclusive_and_says_why():
    base = [10.0, 30.0, 11.0, 25.0]
    now = [12.0, 33.0, 13.0, 27.0]
    found = verdict.compare_samples("step_time", base, now, 0.05)
    assert found.change > 0.05
    assert found.outcome == verdict.INCONCLUSIVE
    assert "not significant" in found.why and "too noisy" in found.why
    assert "confidence" not in found.line()  # what its test did not decide


def test_a_printed_confidence_is_never_rounded_up_to_a_level_it_missed():
    found = MetricVerdict("step_time", verdict.REGRESSION, change=0.2, confidence=0.99916)
    assert "confidence 99.916% " in found.line()  # short of a 12-case level's 99.9167%
    assert (
        "confidence 57.00% "
        in MetricVerdict("step_time", verdict.REGRESSION, change=0.2, confidence=0.57).line()
    )


def test_clear_speedup_is_an_improvement():
    found = verdict.compare_samples("step_time", noisy(10.0), noisy(8.0, seed=1), 0.05)
    assert found.outcome == verdict.IMPROVEMENT
    assert found.change == pytest.approx(-0.2, abs=0.02)


def test_single_measurements_use_the_tolerance_alone():
    assert (
        verdict.compare_samples("host_peak_rss", [1000.0], [1300.0], 0.2).outcome
        == verdict.REGRESSION
    )
    assert verdict.compare_samples("host_peak_rss", [1000.0], [1100.0], 0.2).outcome == verdict.PASS
    found = verdict.compare_samples("host_peak_rss", [1000.0], [1300.0], 0.2)
    assert "tolerance only" in found.why and found.confidence is None


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_loss_is_always_a_regression(bad):
    found = verdict.compare_samples("final_loss", [2.0], [bad], 10.0)
    assert found.outcome == verdict.REGRESSION
    assert "not finite" in found.why


def test_missing_baseline_samples_mean_no_baseline():
    assert verdict.compare_samples("step_time", [], noisy(1.0), 0.05).outcome == verdict.NO_BASELINE


def test_case_outcome_is_the_worst_metric_and_tolerances_are_per_metric():
    base = {"step_time": noisy(10.0), "host_peak_rss": [1000.0], "final_loss": [2.0]}
    now = {"step_time": noisy(10.0, seed=3), "host_peak_rss": [1150.0], "final_loss": [2.0]}
    assert verdict.compare_case("c", base, now, {}).outcome == verdict.PASS
    strict = verdict.compare_case("c", base, now, {"host_peak_rss": 0.1})
    assert strict.outcome == verdict.REGRESSION
    assert strict.deciding.metric == "host_peak_rss"
    assert strict.line().startswith("c: regression: host peak RSS regression")
    slow = dict(now, step_time=noisy(13.0, seed=3))
    assert verdict.compare_case("c", base, slow, {}).outcome == verdict.REGRESSION
    assert verdict.compare_case("c", base, slow, {"step_time": 0.5}).outcome == verdict.PASS


def test_a_metric_new_in_this_run_does_not_hide_the_others():
    base = {"step_time": noisy(10.0)}
    now = {"step_time": noisy(10.0, seed=1), "gpu_peak_memory": [100.0]}
    found = verdict.compare_case("c", base, now, {})
    assert found.outcome == verdict.PASS
    assert [m.outcome for m in found.metrics] == [verdict.PASS, verdict.NO_BASELINE]


def test_version_notes():
    assert verdict.version_notes({"keras": "3.15.1"}, {"keras": "3.15.1"}) == []
    (note,) = verdict.version_notes(
        {"keras": "3.15.1", "jax": "0.4"}, {"keras": "3.16.0", "jax": "0.4"}
    )
    assert "keras 3.15.1 -> 3.16.0" in note and "jax" not in note


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError):
        verdict.compare_samples("step_time", [1.0], [1.0], -0.1)
    with pytest.raises(ValueError):
        verdict.compare_samples("step_time", [1.0], [1.0], 0.1, alpha=1.5)


def test_a_shared_gpu_makes_a_time_verdict_inconclusive_but_memory_verdicts_stand():
    base = {"step_time": noisy(10.0), "gpu_peak_memory": [100.0]}
    now = {"step_time": noisy(13.0, seed=1), "gpu_peak_memory": [100.0]}
    found = verdict.compare_case("c", base, now, {})
    assert found.outcome == verdict.REGRESSION
    why = verdict.shared_gpu_reason({"gpu_memory": {"nvml_other_processes": [4242]}})
    assert "shared with other processes (pids 4242)" in why
    softened = verdict.untrusted_timing(found, why)
    assert softened.outcome == verdict.INCONCLUSIVE and why in softened.line()
    # Its test's confidence is kept for re-judging, but not printed beside a verdict the test
    # did not decide.
    assert softened.metrics[0].confidence is not None
    assert "confidence" not in softened.line()
    assert verdict.shared_gpu_reason({"gpu_memory": {"nvml_other_processes": []}}) == ""
    bigger = dict(now, gpu_peak_memory=[150.0])
    still = verdict.untrusted_timing(verdict.compare_case("c", base, bigger, {}), why)
    assert still.outcome == verdict.REGRESSION and still.deciding.metric == "gpu_peak_memory"


# -- a busy machine makes time verdicts inconclusive -----------------------------------------------


def test_busy_machine_reason_names_the_side_and_share():
    assert verdict.busy_machine_reason([0.01, 0.02], [0.03], 0.10) == ""
    why = verdict.busy_machine_reason([0.01], [0.05, 0.42], 0.10)
    assert "42%" in why and "this run's" in why
    assert "the baseline's" in verdict.busy_machine_reason([0.3], [0.0], 0.10)
    assert verdict.busy_machine_reason([], [], 0.10) == ""  # not measured (not Linux): no opinion


def test_a_regression_measured_on_a_busy_machine_is_inconclusive():
    base = {"step_time": [10.0] * 12}
    now = {"step_time": [13.0] * 12}
    found = verdict.compare_case("case", base, now, {})
    assert found.outcome == verdict.REGRESSION
    quiet = {"epochs": [{"cpu": {"others_share": 0.02}}]}
    busy = {"epochs": [{"cpu": {"others_share": 0.35}}]}
    assert verdict.timing_distrust(quiet, quiet) == ""
    why = verdict.timing_distrust({"cpu_busy_shares": [0.01]}, busy)
    judged = verdict.untrusted_timing(found, why)
    assert judged.outcome == verdict.INCONCLUSIVE and "35%" in judged.line()
    # The limit is the user's: 100% turns the check off.
    assert verdict.timing_distrust(quiet, busy, busy_limit=1.0) == ""


# -- paired samples (live A/B) ---------------------------------------------------------------------


def test_paired_verdict_sees_through_drift_that_hides_a_regression_from_unpaired_ranks() -> None:
    # The machine's speed swings by +-30% from turn to turn; the candidate is 10% slower in every
    # pair. Unpaired ranks drown in the swing; pairs cancel it.
    swing = [1.0, 1.3, 0.7, 1.2, 0.8, 1.25, 0.75, 1.1, 0.9, 1.3, 0.7, 1.15, 0.85, 1.2, 0.8, 1.0]
    reference = [10.0 * s for s in swing]
    candidate = [11.0 * s * (1 + 0.01 * ((i % 3) - 1)) for i, s in enumerate(swing)]
    paired = verdict.compare_samples("step_time", reference, candidate, 0.05, paired=True)
    assert paired.outcome == verdict.REGRESSION
    assert paired.change == pytest.approx(0.10, abs=0.01)
    assert paired.test == verdict.PAIRED_TEST
    unpaired = verdict.compare_samples("step_time", reference, candidate, 0.05)
    assert unpaired.outcome == verdict.INCONCLUSIVE
    jittered = [r * (1 + 0.01 * ((i % 3) - 1)) for i, r in enumerate(reference)]
    same = verdict.compare_samples("step_time", reference, jittered, 0.05, paired=True)
    assert same.outcome == verdict.PASS
    faster = verdict.compare_samples(
        "step_time", reference, [0.8 * j for j in jittered], 0.05, paired=True
    )
    assert faster.outcome == verdict.IMPROVEMENT and faster.change == pytest.approx(-0.2, abs=0.01)
    with pytest.raises(ValueError, match="equal counts"):
        verdict.compare_samples("step_time", reference, candidate[:-1], 0.05, paired=True)


def test_hodges_lehmann_is_the_median_of_pairwise_averages() -> None:
    assert verdict.hodges_lehmann([1.0, 2.0, 9.0]) == pytest.approx(3.5)  # 1,1.5,2,5,5.5,9
    assert verdict.hodges_lehmann([0.1] * 5) == pytest.approx(0.1)


def test_paired_verdict_with_too_few_pairs_is_inconclusive_and_says_what_would_help() -> None:
    found = verdict.compare_samples(
        "step_time", [10.0, 10.0, 10.0, 10.0], [13.0, 12.0, 14.0, 13.0], 0.05, paired=True
    )
    assert found.outcome == verdict.INCONCLUSIVE
    assert "per-turn ratios" in found.why and "--rnnbench-against-workers" in found.why


def test_a_case_verdict_reads_back_from_what_it_wrote() -> None:
    """A pytest-xdist worker sends its verdicts as dicts; the controller's summary rebuilds them."""
    time = MetricVerdict("step_time", "improvement", 10.0, 7.0, -0.3, 0.05, 0.999, 3, 3, "",
                         "prediction from stored sessions", 0.04)  # fmt: skip
    rss = MetricVerdict("host_peak_rss", "pass", 100.0, 101.0, 0.01, 0.2, n_baseline=1, n_now=1)
    found = CaseVerdict("c", "improvement", (time, rss), ("keras 3.15 -> 3.16",))
    stored = {**found.to_dict(), "baseline_seconds": 1.0}  # a results file adds context keys
    again = CaseVerdict.from_dict("c", stored)
    assert again == found and again.line() == found.line()


def test_a_change_or_resolution_that_would_print_as_its_tolerance_gets_a_second_decimal():
    """ "change +5.0%, tolerance 5.0%" beside a regression, "resolves 5.0%, more than the
    tolerance": each read as a contradiction."""
    found = MetricVerdict(
        "step_time", verdict.REGRESSION, change=0.05017, tolerance=0.05, resolution=0.0502
    )
    assert "change +5.02%, tolerance 5.0%, resolves 5.02%" in found.line()
    plain = MetricVerdict("step_time", verdict.REGRESSION, change=0.12, tolerance=0.05)
    assert "change +12.0%, tolerance 5.0%" in plain.line()
