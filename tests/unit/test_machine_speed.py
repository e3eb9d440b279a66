"""The machine-speed probe (run/worker/rnnbench_worker_probe.py) and a stored time verdict at the
run's own machine speed (session_level.compare_at_speed): a machine that slowed makes no
regression, a real regression is resolved better than against the machine's whole spread, and
sessions recorded before the probe are judged as before."""

from __future__ import annotations

import json
import math

import pytest
from test_backends import load_worker_module

from pytest_rnnbench.verdicts import baseline, records
from pytest_rnnbench.verdicts.live import merge_side
from pytest_rnnbench.verdicts.session_time import session_time_judge, stored_probes

ALPHA = 0.01 / 12  # one of a run's 12 cases


def machine_paced_sessions() -> tuple[list[tuple[float, int]], list[float]]:
    """Twelve sessions on a machine whose speed wandered 0-15% (its probe 100-115 ms), their step
    times following it (and 0.3% of their own): the machine's speed is most of their spread."""
    probes = [100.0 + (i * 7) % 16 for i in range(12)]
    noise = [0.003 * ((i % 3) - 1) for i in range(12)]
    return [(20.0 * p / 100 * (1 + e), 3) for p, e in zip(probes, noise)], probes


def at_speed(worker_ms: list[float], probe_ms: float, stored_probes=None):
    stored, probes = machine_paced_sessions()
    judge = session_time_judge(
        stored, worker_ms, ALPHA, probes=(stored_probes or probes, [probe_ms])
    )
    assert judge is not None
    return judge(0.05)


def test_with_enough_probed_sessions_a_run_is_judged_at_its_machine_speed() -> None:
    # Unchanged code on the machine at 112 ms: 22.4 ms is what the sessions predict there.
    found = at_speed([22.4, 22.4, 22.4], 112.0)
    assert found.outcome == records.PASS and abs(found.change) < 0.01
    assert found.test is not None and "at this machine speed" in found.test
    assert found.baseline == pytest.approx(22.4, rel=0.01)  # the prediction, not their mean
    # Judged without the probes, their 5% spread resolves only large changes.
    assert at_speed([22.4, 22.4, 22.4], 112.0, stored_probes=[None] * 12).resolution > 0.1


def test_at_its_machine_speed_a_real_regression_is_resolved() -> None:
    # +10% on the machine at 103 ms: caught, where the machine's spread alone would hide it.
    found = at_speed([20.6 * 1.1] * 3, 103.0)
    assert found.outcome == records.REGRESSION and found.change == pytest.approx(0.10, abs=0.01)
    plain = at_speed([20.6 * 1.1] * 3, 103.0, stored_probes=[None] * 12)
    assert plain.outcome == records.INCONCLUSIVE


def test_a_machine_that_slowed_within_the_stored_range_makes_no_regression() -> None:
    # Unchanged code on the machine at its slowest stored speed (115 ms): beyond the tolerance
    # against the sessions' plain mean (never a pass there); a pass at this machine speed.
    plain = at_speed([23.0] * 3, 115.0, stored_probes=[None] * 12)
    assert plain.change > 0.05 and plain.outcome != records.PASS
    assert at_speed([23.0] * 3, 115.0).outcome == records.PASS


def test_a_probe_far_outside_the_stored_range_weighs_less() -> None:
    # The slope is uncertain far from where it was measured: the interval widens there.
    near, far = at_speed([21.0] * 3, 107.0), at_speed([30.0] * 3, 150.0)
    assert far.resolution is not None and near.resolution is not None
    assert far.resolution > near.resolution


def test_sessions_recorded_before_the_probe_are_judged_as_before() -> None:
    # Five probed sessions of twelve: too few for a slope and a spread; the plain rule judges.
    stored, probes = machine_paced_sessions()
    few: list = [None] * 7 + probes[7:]
    plain = at_speed([23.0] * 3, 115.0, stored_probes=[None] * 12)
    found = at_speed([23.0] * 3, 115.0, stored_probes=few)
    assert found.change == plain.change and found.outcome == plain.outcome
    assert found.test is not None and "at this machine speed" not in found.test


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
