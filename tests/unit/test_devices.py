"""Devices (run/devices.py) without a GPU: pytest-xdist placement, GPU discovery, the memory
monitor.

Simulated multi-device training and the device skips run end to end in
tests/acceptance/test_devices_e2e.py.
"""

from __future__ import annotations

import pytest

from pytest_rnnbench.run.devices import GpuMemoryMonitor, discover_gpus, slot_for, xdist_worker

# -- GPU sets under pytest-xdist -------------------------------------------------------------------


def test_without_xdist_the_process_owns_every_gpu():
    slot = slot_for({}, 8)
    assert slot.gpu_indices == tuple(range(8)) and slot.worker is None


@pytest.mark.parametrize("workers", [1, 2, 3, 4, 8])
def test_xdist_workers_get_disjoint_gpu_blocks(workers):
    blocks = [
        slot_for(
            {"PYTEST_XDIST_WORKER": f"gw{i}", "PYTEST_XDIST_WORKER_COUNT": str(workers)}, 8
        ).gpu_indices
        for i in range(workers)
    ]
    owned = [gpu for block in blocks for gpu in block]
    assert len(owned) == len(set(owned)), "two workers share a GPU"
    assert all(len(block) == 8 // workers for block in blocks)
    assert all(
        list(block) == list(range(block[0], block[0] + len(block))) for block in blocks if block
    )


def test_more_workers_than_gpus_leaves_some_without():
    env = {"PYTEST_XDIST_WORKER": "gw3", "PYTEST_XDIST_WORKER_COUNT": "4"}
    assert slot_for(env, 2).gpu_indices == ()
    assert "gw3 of 4" in slot_for(env, 2).describe()


def test_xdist_worker_parsing():
    assert xdist_worker({"PYTEST_XDIST_WORKER": "gw12", "PYTEST_XDIST_WORKER_COUNT": "16"}) == (
        "gw12",
        12,
        16,
    )
    assert xdist_worker({}) == (None, 0, 1)


# -- discovery and memory --------------------------------------------------------------------------


def test_no_gpu_discovery_says_why() -> None:
    inventory = discover_gpus()
    if inventory.count:  # a GPU machine: the real path
        assert inventory.names and inventory.driver
    else:
        assert inventory.reason  # never a silent zero


def test_memory_monitor_without_gpus_or_nvml_records_nothing_with_a_reason() -> None:
    with GpuMemoryMonitor([]) as monitor:
        monitor.watch(12345)
    assert monitor.to_dict()["nvml_reason"] == "no GPU in this case"
    assert monitor.to_dict()["nvml_process_peak_bytes"] is None
    if discover_gpus().count == 0:
        with GpuMemoryMonitor([0]) as monitor:
            pass
        assert monitor.to_dict()["nvml_process_peak_bytes"] is None
        assert monitor.reason.startswith("NVML unavailable")
