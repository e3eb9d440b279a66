"""The machine-speed probe and what it does to a stored time verdict (verdicts/machine_speed.py,
run/worker/rnnbench_worker_probe.py): a run on a machine that slowed since the stored sessions is
not called a regression for it, a real regression still is, and sessions recorded before the
probe change nothing."""

from __future__ import annotations

import json
import math

import pytest
from test_backends import load_worker_module

from pytest_rnnbench.verdicts import baseline, records
from pytest_rnnbench.verdicts.live import merge_side
from pytest_rnnbench.verdicts.machine_speed import machine_speed_change
from pytest_rnnbench.verdicts.session_time import session_time_judge, stored_probes

# Twelve stored sessions of 3 workers, 0.5% apart around 20 ms, on a machine whose probe read
# about 130 ms.
STORED = [(20.0 * (1 + 0.005 * ((i % 5) - 2)), 3) for i in range(12)]
STORED_PROBES = [130.0 * (1 + 0.01 * ((i % 3) - 1)) for i in range(12)]
ALPHA = 0.01 / 12  # one of a run's 12 cases


def verdict(worker_ms: list[float], probe_ms: list[float], stored_probe=STORED_PROBES):
    judge = session_time_judge(STORED, worker_ms, ALPHA, probes=(stored_probe, probe_ms))
    assert judge is not None
    return judge(0.05)


def test_the_change_is_the_ratio_of_medians_and_none_without_probes() -> None:
    assert machine_speed_change([100.0, 90.0, 110.0], [120.0, 300.0, 119.0]) == pytest.approx(0.2)
    assert machine_speed_change([None, 100.0], [110.0]) == pytest.approx(0.1)
    assert machine_speed_change([None, None], [110.0]) is None
    assert machine_speed_change([100.0], []) is None


def test_a_machine_that_slowed_does_not_make_a_regression() -> None:
    # Unchanged code, every worker 15% slower because the machine is (its probe too): the rule
    # before the probe called it a regression; now it is inconclusive and says why.
    slow = [23.0, 23.1, 22.9]
    assert verdict(slow, []).outcome == records.REGRESSION
    found = verdict(slow, [150.0, 149.0, 151.0])
    assert found.outcome == records.INCONCLUSIVE
    assert "the machine ran 15% slower than when the stored sessions were recorded" in found.why
    assert "allowing for that the time is pass" in found.why


def test_a_regression_the_machine_cannot_explain_stays_one() -> None:
    # +100% on a machine 15% slower: allowing for the machine it is still +74%, a regression.
    found = verdict([40.0, 40.2, 39.8], [150.0, 149.0, 151.0])
    assert found.outcome == records.REGRESSION and not found.why


def test_a_faster_machine_cannot_hide_a_regression() -> None:
    # Measured unchanged, but on a machine 20% faster than the stored sessions': the code got
    # slower by about as much, so the pass is not trusted.
    even = [20.0, 20.1, 19.9]
    assert verdict(even, []).outcome == records.PASS
    found = verdict(even, [104.0, 104.0, 104.0])
    assert found.outcome == records.INCONCLUSIVE
    assert "ran 20% faster" in found.why and "the time is regression" in found.why


def test_probe_noise_that_moves_no_verdict_changes_nothing() -> None:
    assert verdict([20.1, 20.0, 20.2], [132.0, 133.0, 131.0]).outcome == records.PASS
    assert verdict([40.0, 40.2, 39.8], [128.0, 127.0, 129.0]).outcome == records.REGRESSION


def test_sessions_recorded_before_the_probe_are_judged_as_before() -> None:
    slow = [23.0, 23.1, 22.9]
    found = verdict(slow, [150.0, 149.0, 151.0], stored_probe=[None] * len(STORED))
    assert found.outcome == records.REGRESSION


def worker_result(step_ms: float, probe_ms: float | None) -> dict:
    result: dict = {
        "case": {"id": "tensorflow-gpu0-b128-unroll-synthetic"},
        "samples": 512,
        "repeats": 1,
        "steps_per_epoch": 4,
        "epochs": [{"seconds": 0.1, "step_seconds": [step_ms / 1000] * 4, "loss": 1.0}],
        "final_loss": 1.0,
        "versions": {"keras": "3"},
    }
    if probe_ms is not None:
        result["machine_probe"] = {"ms": probe_ms, "probes_ms": [probe_ms], "processes": 2}
    return result


def test_a_saved_session_keeps_its_workers_probe_and_reads_back(tmp_path) -> None:
    workers = [worker_result(20.0, 100.0), worker_result(21.0, 177.0), worker_result(20.5, 98.0)]
    merged = merge_side(workers)
    assert merged["worker_probe_ms"] == [100.0, 177.0, 98.0]
    entry = baseline.make_entry(merged["case"], merged, {"step_time": [0.02, 0.021, 0.0205]})
    (session,) = entry["sessions"]
    assert session["probe_ms"] == 100.0  # their median: one worker's odd probe does not move it
    profile = baseline.machine_profile("cpu", 2, [], None, None, "3.11")
    path = tmp_path / "b.json"
    baseline.save(path, profile, {baseline.key_of(entry): entry})
    loaded = baseline.load(path, profile)
    assert loaded is not None
    assert stored_probes(next(iter(loaded.values()))) == [100.0]


def test_a_session_with_a_worker_unprobed_keeps_no_probe() -> None:
    merged = merge_side([worker_result(20.0, 100.0), worker_result(21.0, None)])
    assert merged["worker_probe_ms"] == []
    entry = baseline.make_entry(merged["case"], merged, {"step_time": [0.02, 0.021]})
    assert "probe_ms" not in entry["sessions"][0]


def test_a_baseline_file_with_a_broken_probe_is_refused(tmp_path) -> None:
    entry = baseline.make_entry(
        {"id": "tensorflow-gpu0-b128-unroll-synthetic"},
        worker_result(20.0, 100.0),
        {"step_time": [0.02]},
    )
    profile = baseline.machine_profile("cpu", 2, [], None, None, "3.11")
    path = tmp_path / "b.json"
    baseline.save(path, profile, {baseline.key_of(entry): entry})
    document = json.loads(path.read_text())
    next(iter(document["entries"].values()))["sessions"][0]["probe_ms"] = -1
    path.write_text(json.dumps(document))
    with pytest.raises(baseline.BaselineError, match='"probe_ms" must be a positive number'):
        baseline.load(path, profile)


def test_the_probe_times_one_loop_per_cpu_in_real_processes() -> None:
    probe = load_worker_module("rnnbench_worker_probe")
    found = probe.probe(processes=2, rounds=3)
    assert found["processes"] == 2 and len(found["rounds_ms"]) == 3
    assert found["ms"] == sorted(found["rounds_ms"])[1] and found["ms"] > 0
    times = probe.probe_once(2, iterations=1000)
    assert len(times) == 2 and all(0 < t < 1 for t in times)


def test_the_result_keeps_the_median_of_both_probes_rounds() -> None:
    train = load_worker_module("rnnbench_worker_train")
    before = {"ms": 10.0, "rounds_ms": [9.0, 10.0, 30.0], "processes": 2}
    after = {"ms": 12.0, "rounds_ms": [11.0, 12.0, 13.0], "processes": 2}
    record = train.machine_probe_record([before, after])["machine_probe"]
    assert record == {"ms": 11.5, "probes_ms": [10.0, 12.0], "processes": 2}
    assert train.machine_probe_record([]) == {}
    assert not math.isnan(record["ms"])
