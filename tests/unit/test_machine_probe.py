"""The machine-speed probe (run/worker/rnnbench_worker_probe.py), which calibration scripts ask
for: real child processes, a real worker's record, and a merged run's per-worker probes."""

from __future__ import annotations

import os
import statistics
from pathlib import Path

import pytest

from helpers import PYTHON, load_worker_module, tiny_tensorflow_request
from pytest_rnnbench.run.process import run_worker
from pytest_rnnbench.run.protocol import build_request, worker_env
from pytest_rnnbench.verdicts.live import merge_side
from pytest_rnnbench.verdicts.samples import worker_probe_ms


def test_the_probe_times_one_loop_per_cpu_in_real_processes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """By default one child per CPU this process may use: each round starts that many (counted
    as probe_once is called) and the record says how many."""
    probe = load_worker_module("rnnbench_worker_probe")
    started: list[int] = []
    real_probe_once = probe.probe_once

    def counted(processes: int) -> list[float]:
        times = real_probe_once(processes)
        started.append(len(times))
        return times

    monkeypatch.setattr(probe, "probe_once", counted)
    found = probe.probe(rounds=3)
    cpus = len(os.sched_getaffinity(0))
    assert found["processes"] == cpus and started == [cpus] * 3
    assert len(found["rounds_ms"]) == 3
    assert found["ms"] == statistics.median(found["rounds_ms"]) and found["ms"] > 0
    monkeypatch.undo()
    times = probe.probe_once(2, iterations=1000)
    assert len(times) == 2 and all(0 < t < 1 for t in times)


def test_the_result_keeps_the_median_of_both_probes_rounds() -> None:
    train = load_worker_module("rnnbench_worker_train")
    before = {"ms": 10.0, "rounds_ms": [9.0, 10.0, 30.0], "processes": 2}
    after = {"ms": 12.0, "rounds_ms": [11.0, 12.0, 13.0], "processes": 2}
    record = train.machine_probe_record([before, after])["machine_probe"]
    assert record == {"ms": 11.5, "probes_ms": [10.0, 12.0], "processes": 2}
    assert train.machine_probe_record([]) == {}


def test_only_a_request_that_asks_probes() -> None:
    case = {"id": "tensorflow-gpu0-b128-unroll-synthetic"}
    assert "machine_probe" not in build_request(case, {}, 1)
    assert build_request(case, {}, 1, machine_probe=True)["machine_probe"] is True


def worker(probe_ms: float | None) -> dict:
    result: dict = {"epochs": [{"seconds": 0.1, "step_seconds": [0.02] * 4, "loss": 1.0}]}
    if probe_ms is not None:
        result["machine_probe"] = {"ms": probe_ms, "probes_ms": [probe_ms], "processes": 2}
    return result


def test_a_merged_run_keeps_each_workers_probe_only_when_all_have_one() -> None:
    merged = merge_side([worker(100.0), worker(177.0), worker(98.0)])
    assert worker_probe_ms(merged) == [100.0, 177.0, 98.0]
    unprobed = merge_side([worker(100.0), worker(None)])
    assert worker_probe_ms(unprobed) == []  # not the first worker's alone
    assert worker_probe_ms(worker(None)) == []


@pytest.mark.slow
def test_a_real_worker_probes_before_and_after_its_epochs_only_when_asked(tmp_path: Path) -> None:
    env = worker_env("tensorflow", [])
    asked = dict(tiny_tensorflow_request(True), machine_probe=True)
    probed = run_worker(str(PYTHON), asked, env, 300, tmp_path / "a.log").result
    record = probed["machine_probe"]
    assert len(record["probes_ms"]) == 2 and record["ms"] > 0
    assert record["processes"] >= 1
    plain = run_worker(str(PYTHON), tiny_tensorflow_request(True), env, 300, tmp_path / "b.log")
    assert "machine_probe" not in plain.result
