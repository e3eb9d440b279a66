"""Devices (run/devices.py) without a GPU: pytest-xdist placement, GPU discovery, the memory
monitor.

Simulated multi-device training and the device skips run end to end in
tests/acceptance/test_devices_e2e.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pytest_rnnbench.run.devices import (
    GpuMemoryMonitor,
    discover_gpus,
    slot_for,
    visible_gpus,
    xdist_worker,
)
from pytest_rnnbench.run.protocol import worker_env

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


# An xdist worker process: takes its slot of 8 GPUs, prints it, lives on until its stdin closes.
WORKER = """
import json, os, sys
from pytest_rnnbench.run.devices import slot_for
print(json.dumps(slot_for(os.environ, 8).gpu_indices), flush=True)
sys.stdin.read()
"""


def test_a_replacement_worker_takes_the_block_of_the_one_that_crashed(tmp_path: Path) -> None:
    """pytest-xdist replaces a crashed worker by one of a new id (gw4 beside gw0...gw3) and does
    not say whom it replaces: gw4 takes the block whose owner died, not gw0's (4 % 4); while
    every block has a living owner, another replacement takes none."""
    run = {
        "PYTEST_XDIST_WORKER_COUNT": "4",
        "PYTEST_XDIST_TESTRUNUID": "0123abcd",
        "TMPDIR": str(tmp_path),  # where the workers' locks lie
    }
    started: list[subprocess.Popen[str]] = []

    def worker(name: str) -> tuple[int, ...]:
        started.append(
            subprocess.Popen(
                [sys.executable, "-c", WORKER],
                env=dict(os.environ, **run, PYTEST_XDIST_WORKER=name),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
        )
        assert started[-1].stdout is not None
        return tuple(json.loads(started[-1].stdout.readline()))

    try:
        assert [worker(f"gw{i}") for i in range(4)] == [(0, 1), (2, 3), (4, 5), (6, 7)]
        started[2].kill()  # gw2 crashes
        started[2].wait()
        assert worker("gw4") == (4, 5)
        assert worker("gw5") == ()
    finally:
        for proc in started:
            proc.kill()
            proc.wait()
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.close()
            proc.stdout.close()


def test_workers_that_exit_normally_leave_no_lock_files(tmp_path: Path) -> None:
    run = {
        "PYTEST_XDIST_WORKER_COUNT": "2",
        "PYTEST_XDIST_TESTRUNUID": "0123abcd",
        "TMPDIR": str(tmp_path),
    }
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER],
            env=dict(os.environ, **run, PYTEST_XDIST_WORKER=f"gw{i}"),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    for proc in workers:
        assert proc.stdout is not None and json.loads(proc.stdout.readline())
    assert len(list(tmp_path.glob("pytest-rnnbench-0123abcd-gpus*.lock"))) == 2
    for proc in workers:
        proc.communicate("")  # end of input: the worker exits normally
        assert proc.returncode == 0
    assert list(tmp_path.iterdir()) == []


def test_a_lock_file_removed_as_it_was_opened_is_locked_again_where_it_now_lies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its owner exited (removing it) between our open and our lock: the lock we got is on a
    file no longer at the path, which a third worker could create and lock too."""
    from pytest_rnnbench.run import gpu_claim

    real_flock = gpu_claim.fcntl.flock
    removed: list[str] = []

    def owner_exits_first(handle, operation):  # type: ignore[no-untyped-def]
        if not removed:
            removed.append(handle.name)
            os.unlink(handle.name)
        return real_flock(handle, operation)

    monkeypatch.setattr(gpu_claim.fcntl, "flock", owner_exits_first)
    monkeypatch.setattr(gpu_claim, "_HELD", {})
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(gpu_claim.tempfile, "tempdir", None)
    env = {"PYTEST_XDIST_TESTRUNUID": "feed"}
    assert gpu_claim.claim_block(env, 1, 2) == 1
    path = tmp_path / "pytest-rnnbench-feed-gpus1.lock"
    assert removed == [str(path)]
    held = gpu_claim._HELD[path]
    assert os.fstat(held.fileno()).st_ino == os.stat(path).st_ino
    held.close()


def test_without_a_run_id_a_replacement_takes_no_gpus() -> None:
    """No locks to tell which block is free: sharing one would spoil two cases unseen."""
    env = {"PYTEST_XDIST_WORKER": "gw4", "PYTEST_XDIST_WORKER_COUNT": "4"}
    assert slot_for(env, 8).gpu_indices == ()
    assert slot_for(dict(env, PYTEST_XDIST_WORKER="gw1"), 8).gpu_indices == (2, 3)


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


def test_memory_monitor_without_gpus_records_nothing_with_a_reason() -> None:
    with GpuMemoryMonitor([]) as monitor:
        monitor.watch(12345)
    assert monitor.to_dict()["nvml_reason"] == "no GPU in this case"
    assert monitor.to_dict()["nvml_process_peak_bytes"] is None


def _nvml_starts() -> bool:
    """Whether NVML initializes in this process (a machine with an NVIDIA driver)."""
    try:
        import pynvml

        pynvml.nvmlInit()
    except Exception:  # ImportError or NVMLError, as the monitor takes them
        return False
    pynvml.nvmlShutdown()
    return True


@pytest.mark.skipif(
    _nvml_starts(), reason="NVML starts on this machine (a GPU machine): it is not unavailable"
)
def test_memory_monitor_without_nvml_records_nothing_with_a_reason() -> None:
    with GpuMemoryMonitor([0]) as monitor:
        monitor.watch(12345)
    assert monitor.to_dict()["nvml_process_peak_bytes"] is None
    assert monitor.reason.startswith("NVML unavailable (")
    assert monitor.to_dict()["nvml_reason"] == monitor.reason


# -- CUDA_VISIBLE_DEVICES: the GPUs this process may use -----------------------------------------

UUIDS = [f"GPU-{i}aaa-0000" for i in range(4)]


@pytest.mark.parametrize(
    "visible, indices, entries, stopped",
    [
        (None, [0, 1, 2, 3], ["0", "1", "2", "3"], ""),
        ("3,1", [3, 1], ["3", "1"], ""),
        ("GPU-2aaa", [2], ["GPU-2aaa"], ""),  # a unique prefix of a UUID
        ("2, 7, 0", [2], ["2"], "'7' names no GPU"),  # CUDA ignores what follows
        ("1,1", [1], ["1"], "'1' names a GPU already named"),  # never one GPU twice
        ("GPU-", [], [], "'GPU-' names no GPU"),  # a prefix of every UUID
        ("", [], [], "'' names no GPU"),
        ("-1", [], [], "'-1' names no GPU"),
        ("MIG-5f3c", [], [], "'MIG-5f3c' names a MIG device, which is not supported"),
    ],
)
def test_visible_gpus_read_cuda_visible_devices_as_cuda_does(visible, indices, entries, stopped):
    found = visible_gpus(visible, UUIDS)
    assert found[:2] == (indices, entries)
    assert stopped in found[2] and bool(found[2]) == bool(stopped)


class FakeNvml:
    """pynvml's calls that discover_gpus makes, for 4 GPUs of one model."""

    class NVMLError(Exception):
        pass

    def nvmlInit(self):
        pass

    def nvmlShutdown(self):
        pass

    def nvmlDeviceGetCount(self):
        return 4

    def nvmlDeviceGetHandleByIndex(self, index):
        return index

    def nvmlDeviceGetUUID(self, handle):
        return UUIDS[handle]

    def nvmlDeviceGetName(self, handle):
        return f"NVIDIA H100 #{handle}"

    def nvmlDeviceGetMemoryInfo(self, handle):
        return type("Memory", (), {"total": 80 * 2**30 + handle})()

    def nvmlSystemGetDriverVersion(self):
        return "550.54"

    def nvmlSystemGetCudaDriverVersion(self):
        return 12040


class FakeNvmlProcesses(FakeNvml):
    """NVML listing the given pids on every GPU, each using 1 GiB."""

    def __init__(self, pids: list[int]) -> None:
        self.listed = pids

    def nvmlDeviceGetMemoryInfo(self, handle):
        return type("Memory", (), {"total": 80 * 2**30, "used": 2**30 * len(self.listed)})()

    def nvmlDeviceGetComputeRunningProcesses(self, handle):
        return [type("Process", (), {"pid": pid, "usedGpuMemory": 2**30})() for pid in self.listed]


def monitored(monkeypatch, listed: list[int], worker: int, reference: int) -> GpuMemoryMonitor:
    """What a live case's monitor (a candidate `worker`, a `reference` one) found with NVML
    listing `listed` on its GPU until it had sampled a few times."""
    nvml = FakeNvmlProcesses([])
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    monkeypatch.setattr(GpuMemoryMonitor, "INTERVAL_S", 0.01)
    with GpuMemoryMonitor([0]) as monitor:
        monitor.watch(worker)
        monitor.watch(reference, measured=False)
        nvml.listed = listed  # the workers' CUDA contexts come after they said their pids
        time.sleep(0.1)
    return monitor


def test_a_process_beside_the_cases_workers_is_a_neighbour(monkeypatch) -> None:
    monitor = monitored(monkeypatch, [101, 102, 999], worker=101, reference=102)
    found = monitor.to_dict()
    assert found["nvml_other_processes"] == [999]
    assert found["nvml_process_peak_bytes"] == 2**30
    # The reference's own peak too (MXNet keeps no framework figure: its GPU memory is NVML's).
    assert monitor.reference_dict()["nvml_process_peak_bytes"] == 2**30


def test_pids_of_another_namespace_are_not_taken_for_neighbours(monkeypatch) -> None:
    """In a container with its own PID namespace NVML lists host pids: the workers' own (70001,
    70002) are not theirs (101, 102), so none can be told for a neighbour; every time verdict
    would otherwise be inconclusive for a shared GPU."""
    found = monitored(monkeypatch, [70001, 70002], worker=101, reference=102).to_dict()
    assert found["nvml_other_processes"] == []
    assert "PID namespace" in found["nvml_reason"]


def test_discovery_lists_only_the_gpus_cuda_visible_devices_lets_this_process_use(monkeypatch):
    """On a shared machine a user gives the run GPUs 3 and 1: the inventory is those two, in
    that order, and a worker on the first of them gets CUDA_VISIBLE_DEVICES=3 (it got 0)."""
    monkeypatch.setitem(sys.modules, "pynvml", FakeNvml())
    inventory = discover_gpus({"CUDA_VISIBLE_DEVICES": "3,1"})
    assert inventory.count == 2 and inventory.nvml_indices == (3, 1)
    assert inventory.names == ("NVIDIA H100 #3", "NVIDIA H100 #1")
    assert inventory.memory_bytes == (80 * 2**30 + 3, 80 * 2**30 + 1)
    slot = slot_for({}, inventory)
    assert slot.gpu_indices == (3, 1) and slot.cuda_ids == ("3", "1")  # monitor; workers
    assert worker_env("torch", slot.cuda_ids[:1], base={})["CUDA_VISIBLE_DEVICES"] == "3"
    assert "GPUs ['3', '1']" in slot.describe()
    halves = [
        slot_for({"PYTEST_XDIST_WORKER": f"gw{i}", "PYTEST_XDIST_WORKER_COUNT": "2"}, inventory)
        for i in range(2)
    ]
    assert [(s.gpu_indices, s.cuda_ids) for s in halves] == [((3,), ("3",)), ((1,), ("1",))]
    hidden = discover_gpus({"CUDA_VISIBLE_DEVICES": ""})
    assert hidden.count == 0
    assert (
        hidden.reason == "CUDA_VISIBLE_DEVICES: its entry '' names no GPU: no GPU is left visible"
    )
    every = discover_gpus({})
    assert every.count == 4 and every.cuda_ids == ("0", "1", "2", "3")
