"""benchmarks/stored_at_speed.py: the at-speed rule it replays (not adopted), on scripted
sessions and on a saved series with probes written in."""

from __future__ import annotations

import json
import math

import pytest

from helpers import REPO, benchmark_script_importing_neighbours
from pytest_rnnbench.verdicts import records

SAVED = REPO / "benchmarks" / "results" / "stored-calibration-tensorflow-2026-12-05.json"
ALPHA = 0.01 / 12


@pytest.fixture(scope="module")
def at_speed():
    with benchmark_script_importing_neighbours("stored_at_speed") as script:
        yield script


def machine_paced() -> tuple[list[tuple[float, int]], list[float]]:
    """Twelve 3-worker sessions on a machine whose speed wandered 0-15% (its probe 100-115 ms),
    their step times following it, with 0.3% of their own."""
    probes = [100.0 + (i * 7) % 16 for i in range(12)]
    noise = [0.003 * ((i % 3) - 1) for i in range(12)]
    return [(20.0 * p / 100 * (1 + e), 3) for p, e in zip(probes, noise)], probes


def verdict(at_speed, worker_ms: list[float], probe_ms: float, stored_probes=None):
    sessions, probes = machine_paced()
    if stored_probes is None:
        stored_probes = probes
    return at_speed.at_speed_judge(sessions, worker_ms, ALPHA, stored_probes, [probe_ms])(0.05)


def test_the_machines_speed_no_longer_counts_as_the_sessions_spread(at_speed) -> None:
    plain = verdict(at_speed, [22.4] * 3, 112.0, stored_probes=[None] * 12)
    found = verdict(at_speed, [22.4] * 3, 112.0)
    assert found.outcome == records.PASS and abs(found.change) < 0.01
    assert found.baseline == pytest.approx(22.4, rel=0.01)  # the prediction at 112 ms
    assert found.resolution < 0.02 < 0.1 < plain.resolution
    caught = verdict(at_speed, [20.6 * 1.1] * 3, 103.0)  # +10% on the machine at 103 ms
    assert caught.outcome == records.REGRESSION
    assert caught.change == pytest.approx(0.10, abs=0.01)


def test_a_probe_far_outside_the_stored_range_widens_the_interval(at_speed) -> None:
    near, far = verdict(at_speed, [21.0] * 3, 107.0), verdict(at_speed, [30.0] * 3, 150.0)
    assert far.resolution > near.resolution


def test_too_few_probed_sessions_leave_the_plugins_rule(at_speed) -> None:
    _, probes = machine_paced()
    few: list = [None] * 7 + probes[7:]  # 5 probed: fewer than MIN_SPEED_SESSIONS
    found = verdict(at_speed, [23.0] * 3, 115.0, stored_probes=few)
    plain = verdict(at_speed, [23.0] * 3, 115.0, stored_probes=[None] * 12)
    assert (found.outcome, found.change, found.test) == (plain.outcome, plain.change, plain.test)


def test_sessions_the_probes_predict_exactly_leave_the_plugins_rule(at_speed) -> None:
    """No spread left around the fit: a zero scale would decide by the change's sign alone."""
    sessions = [(0.2 * probe, 3) for probe in range(100, 112)]
    stored_probes = [float(probe) for probe in range(100, 112)]
    judge = at_speed.at_speed_judge(sessions, [21.5] * 3, ALPHA, stored_probes, [105.0])
    plain = at_speed.calibration.plugin_time_judge(sessions, [21.5] * 3, ALPHA)
    found, expected = judge(0.05), plain(0.05)
    assert (found.outcome, found.change, found.test) == (
        expected.outcome,
        expected.change,
        expected.test,
    )


def test_a_saved_series_replays_under_both_rules(at_speed, capsys) -> None:
    # The saved series with probes written in: the machine's speed wanders 0-20% from cycle to
    # cycle, every session's and run's time following it (the +100% arm's probe does not see
    # its injected work).
    data = json.loads(SAVED.read_text())
    for index, cycle in enumerate(data["cycles"]):
        speed = 1 + 0.02 * ((index * 7) % 11)
        cycle["session"]["epochs"] = [
            dict(epoch, step_seconds=[t * speed for t in epoch["step_seconds"]])
            for epoch in cycle["session"]["epochs"]
        ]
        cycle["session"]["machine_probe"] = {"ms": 130.0 * speed}
        cycle["session_worker_ms"] = [ms * speed for ms in cycle["session_worker_ms"]]
        cycle["judged"] = {a: [ms * speed for ms in v] for a, v in cycle["judged"].items()}
        cycle["judged_probe"] = {a: [130.0 * speed] * len(v) for a, v in cycle["judged"].items()}
    calibration = at_speed.calibration
    plain = calibration.judge_all(data, ALPHA)
    found = calibration.judge_all(data, ALPHA, time_judge=at_speed.at_speed_judge)
    judged_at_speed = [j for j in found if "at this machine speed" in (j.verdict.test or "")]
    assert len(judged_at_speed) >= 3  # once 6 sessions are stored
    a_a = {j.verdict.outcome for j in found if j.arm == "A"}
    assert a_a <= {records.PASS, records.INCONCLUSIVE}  # never a regression nor an improvement
    last = {j.arm: j.verdict.resolution for j in plain}
    assert all(j.verdict.resolution < last[j.arm] for j in judged_at_speed[-3:])
    at_speed.probe_relation(data["cycles"])
    shown = capsys.readouterr().out
    correlation = float(shown.split("correlation ")[1].split(",")[0])
    assert correlation > 0.9 and math.isfinite(found[-1].verdict.change)
