"""Samples (gate/samples.py): what the verdict compares, taken from worker results."""

from __future__ import annotations

import pytest

from pytest_rnnbench.verdicts import samples
from pytest_rnnbench.verdicts.samples import block_medians, comparable, metric_samples


def test_block_medians_cover_every_step_once():
    steps = [0.001 * i for i in range(1, 18)]  # 17 steps, in seconds
    blocks = block_medians(steps, 8)
    assert len(blocks) == 8
    assert blocks == sorted(blocks)  # consecutive blocks of increasing steps
    assert blocks[0] == pytest.approx(2.0) and blocks[-1] == pytest.approx(16.5)
    assert block_medians([0.002, 0.004], 8) == [2.0, 4.0]
    assert block_medians([], 8) == []


def test_metric_samples_from_a_worker_result():
    result = {
        "epochs": [{"step_seconds": [0.01] * 16}, {"step_seconds": [0.02] * 16}],
        "host_peak_rss_bytes": 2**30,
        "final_loss": 1.5,
        "gpu_framework_peak_bytes": None,
        "gpu_memory": {"nvml_process_peak_bytes": 2**20},
    }
    found = metric_samples(result)
    assert found["step_time"] == [10.0] * 8 + [20.0] * 8
    assert found["host_peak_rss"] == [1024.0]
    assert found["gpu_peak_memory"] == [1.0]
    assert found["final_loss"] == [1.5]
    assert "gpu_peak_memory" not in metric_samples({"epochs": [], "final_loss": 1.0})


def test_comparable_workloads():
    assert (
        comparable({"samples": 256, "steps_per_epoch": 8}, {"samples": 256, "steps_per_epoch": 8})
        is None
    )
    assert "256 samples per epoch" in comparable({"samples": 256}, {"samples": 512})


def test_a_baseline_is_not_compared_with_a_run_whose_thread_pools_differ() -> None:
    old_entry = {"samples": 256}  # saved before --rnnbench-thread-pools: the defaults
    steady = {"samples": 256, "run": {"thread_pools": "steady"}}  # a worker result
    why = comparable(old_entry, steady)
    assert why is not None and "default thread pools" in why and "steady" in why
    assert comparable({"samples": 256, "thread_pools": "steady"}, steady) is None
    assert comparable(old_entry, {"samples": 256, "run": {"thread_pools": "default"}}) is None


def test_turn_means_are_exact_turn_sums_per_step_and_sides_must_match() -> None:
    result = {
        "turn_steps": 3,
        "epochs": [
            {"step_seconds": [0.001, 0.002, 0.003, 0.010]},
            {"step_seconds": [0.004, 0.004]},
        ],
    }
    assert samples.turn_means(result) == pytest.approx([2.0, 10.0, 4.0])
    other = {"turn_steps": 3, "epochs": [{"step_seconds": [0.003] * 4}, {"step_seconds": [0.002]}]}
    assert samples.live_time_samples([result, other]) == pytest.approx([2.5, 6.5, 3.0])
    with pytest.raises(ValueError, match="different numbers of turns"):
        samples.live_time_samples(
            [result, {"turn_steps": 3, "epochs": [{"step_seconds": [0.001]}]}]
        )
    with pytest.raises(ValueError, match="not a live A/B worker result"):
        samples.turn_means({"epochs": []})


def test_worker_step_ms_keeps_each_worker_process_apart() -> None:
    from pytest_rnnbench.verdicts.samples import worker_step_ms

    merged = {
        "epochs": [
            {"worker": 0, "step_seconds": [0.010] * 8},
            {"worker": 1, "step_seconds": [0.012] * 8},
            {"worker": 0, "step_seconds": [0.010] * 8},
            {"worker": 2, "step_seconds": [0.011] * 8},
        ]
    }
    assert worker_step_ms(merged) == pytest.approx([10.0, 12.0, 11.0])
    # One worker's result (no "worker" key): one value, the median of its block samples.
    assert worker_step_ms({"epochs": [{"step_seconds": [0.010] * 4 + [0.030] * 4}]}) == [20.0]
    assert worker_step_ms({"epochs": []}) == []
