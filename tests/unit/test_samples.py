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
