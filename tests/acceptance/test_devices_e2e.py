"""GPU-aware measurement paths end to end without a GPU: simulated multi-device training,
pytest-xdist merging and placement, device synchronization, memory fields, and the cases that
cannot be placed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import MXNET_PYTHON

pytestmark = pytest.mark.slow


def test_simulated_devices_train_data_parallel_under_xdist(
    bench: pytest.Pytester, tmp_path: Path, heavy_modules
) -> None:
    """One session covers: 2 CPU devices standing in for 2 GPUs (JAX DataParallel, TensorFlow
    MirroredStrategy, MXNet contexts; torch skipped with the reason), two pytest-xdist workers
    whose results reach one file, the synchronization and memory fields, and preallocation."""
    result = bench.runpytest_subprocess(
        "-rs",
        "-n",
        "2",
        "--rnnbench",
        "--rnnbench-simulate-devices=2",
        "--rnnbench-gpus=2",
        "--rnnbench-samples=256",
        "--rnnbench-unroll=false",
        "--rnnbench-repeats=1",
        "--rnnbench-datasets=synthetic",
        "--rnnbench-preallocate",
        f"--rnnbench-cache-dir={tmp_path / 'cache'}",
        f"--rnnbench-python=mxnet={MXNET_PYTHON}",
        "--rnnbench-baseline-dir=baselines",
        "--rnnbench-save-baseline",
        "--rnnbench-json=results.json",
        timeout=900,
    )
    text = result.stdout.str()
    assert result.ret == 0, text
    assert heavy_modules() == []
    result.stdout.fnmatch_lines(
        [
            "*2 simulated devices*",
            "*pytest-xdist on a machine without GPUs: parallel cases share the CPU cores*",
            "*torch-gpu2*no data-parallel fit for the torch backend*",
        ]
    )
    results = json.loads((bench.path / "results.json").read_text())["results"]
    assert set(results) == {
        f"{b}-gpu2-b128-nounroll-synthetic" for b in ("tensorflow", "jax", "mxnet")
    }
    expected_parallel = {
        "tensorflow": "MirroredStrategy over /cpu:0, /cpu:1",
        "jax": "DataParallel over",
        "mxnet": "context cpu(0), cpu(1)",
    }
    for case_id, entry in results.items():
        backend = case_id.split("-")[0]
        run = entry["worker"]["run"]
        assert run["parallel"].startswith(expected_parallel[backend]), run
        if backend == "jax":
            assert run["parallel"].count("cpu") == 2, run
        assert run["simulated_devices"] == 2
        assert run["cuda_visible_devices"] == ""
        assert run["preallocate"] is True
        # Synchronized before and after the warm-up and the timed epoch.
        assert run["sync"]["calls"] >= 4 and run["sync"]["method"], run
        # No GPU: the memory figures are absent with a reason, not zero.
        assert entry["gpu_framework_peak_bytes"] is None
        assert entry["worker"]["gpu_framework_peak_source"] == "no GPU in this case"
        assert entry["worker"]["gpu_memory"]["nvml_process_peak_bytes"] is None
        assert entry["worker"]["gpu_memory"]["nvml_reason"] == "no GPU in this case"
        assert entry["host_peak_rss_bytes"] > 0
        # What else used the CPU while each epoch ran (the verdict distrusts busy machines).
        for epoch in entry["worker"]["epochs"]:
            assert 0 <= epoch["cpu"]["others_share"] <= 1 and epoch["cpu"]["own_seconds"] > 0
    # Both xdist workers saved into the same baseline file; nothing was lost.
    (saved,) = list((bench.path / "baselines").glob("*.json"))
    entries = json.loads(saved.read_text())["entries"].values()
    assert {entry["case"]["id"] for entry in entries} == set(results)


def test_a_batch_that_does_not_divide_across_devices_is_skipped(bench: pytest.Pytester) -> None:
    case = [
        "-rs",
        "--rnnbench",
        "--rnnbench-simulate-devices=4",
        "--rnnbench-gpus=4",
        "--rnnbench-batch-sizes=6",
        "--rnnbench-backends=jax",
        "--rnnbench-datasets=synthetic",
    ]
    result = bench.runpytest_subprocess("--co", "-q", *case)
    assert result.ret == 0
    result = bench.runpytest_subprocess(*case)
    result.stdout.fnmatch_lines(["*batch size 6 does not divide across 4 GPUs*"])
    assert result.parseoutcomes() == {"skipped": 1}


def test_last_partial_batch_must_divide_too(bench: pytest.Pytester, tmp_path: Path) -> None:
    # 300 samples at batch 128: the last batch of 44 divides across 2 devices, 300 at batch 96
    # leaves 12, also fine; 301 leaves 45, which does not.
    result = bench.runpytest_subprocess(
        "-rs",
        "--rnnbench",
        "--rnnbench-simulate-devices=2",
        "--rnnbench-gpus=2",
        "--rnnbench-samples=301",
        "--rnnbench-backends=jax",
        "--rnnbench-datasets=synthetic",
        f"--rnnbench-cache-dir={tmp_path / 'cache'}",
    )
    result.stdout.fnmatch_lines(["*last batch of 301 samples (45) does not divide across 2*"])
    assert result.parseoutcomes() == {"skipped": 1}


def test_more_simulated_gpus_than_devices_is_skipped_before_running(bench: pytest.Pytester) -> None:
    result = bench.runpytest_subprocess(
        "-rs",
        "--rnnbench",
        "--rnnbench-simulate-devices=2",
        "--rnnbench-gpus=4",
        "--rnnbench-backends=jax",
        "--rnnbench-datasets=synthetic",
    )
    result.stdout.fnmatch_lines(
        ["*needs 4 device(s); --rnnbench-simulate-devices=2 provides fewer*"]
    )
