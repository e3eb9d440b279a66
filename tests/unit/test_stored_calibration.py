"""benchmarks/stored_calibration.py: cycles resumed on another day are counted apart."""

from __future__ import annotations

import argparse
import json
import math

import pytest

from helpers import REPO, benchmark_script_importing_neighbours

SAVED = REPO / "benchmarks" / "results" / "stored-calibration-tensorflow-2026-12-05.json"


@pytest.fixture(scope="module")
def calibration():
    with benchmark_script_importing_neighbours("stored_calibration") as script:
        yield script


def run_arguments(**given: object) -> argparse.Namespace:
    """The script's command-line arguments that a saved run keeps, with its defaults."""
    defaults = dict(batch=128, samples=4096, repeats=3, save_workers=3, thread_pools="steady")
    return argparse.Namespace(**{**defaults, **given})


def resumed(data: dict, first_run: int) -> dict:
    """`data` as if its cycles from index `first_run` on were added by --resume the next day."""
    for index, cycle in enumerate(data["cycles"]):
        later = index >= first_run
        cycle["invocation"] = "2026-12-06T08:00:00Z" if later else "2026-12-05T20:00:00Z"
        cycle["day"] = "2026-12-06" if later else "2026-12-05"
    return data


def test_runs_judged_against_an_earlier_runs_sessions_are_marked(calibration) -> None:
    data = resumed(json.loads(SAVED.read_text()), first_run=5)
    found = calibration.judge_all(data, 0.01)
    arms = len(calibration.ARMS)
    judged_cycles = [c for c in data["cycles"] if c["judged"]]
    assert len(found) == arms * len(judged_cycles)
    # Cycles 4 and 5 (indexes 3, 4) were judged in the first run; 6 to 10 against its sessions.
    assert [j.across_runs for j in found[::arms]] == [False, False, True, True, True, True, True]


def test_after_a_level_shift_the_earlier_runs_sessions_no_longer_count(calibration) -> None:
    data = resumed(json.loads(SAVED.read_text()), first_run=5)
    for cycle in data["cycles"][5:]:  # the second day's machine is 30% slower
        for epoch in cycle["session"]["epochs"]:
            epoch["step_seconds"] = [t * 1.3 for t in epoch["step_seconds"]]
            epoch["seconds"] *= 1.3
        cycle["session_worker_ms"] = [ms * 1.3 for ms in cycle["session_worker_ms"]]
        cycle["judged"] = {a: [ms * 1.3 for ms in v] for a, v in cycle["judged"].items()}
    found = calibration.judge_all(data, 0.01)
    arms = len(calibration.ARMS)
    # Once the shift is seen, only the second day's sessions are used: not across runs.
    assert found[::arms][-1].across_runs is False


def test_a_run_without_invocations_is_never_across_runs(calibration) -> None:
    found = calibration.judge_all(json.loads(SAVED.read_text()), 0.01)
    assert found and not any(j.across_runs for j in found)


def test_a_resumed_run_may_judge_with_another_worker_count(calibration, tmp_path) -> None:
    data = json.loads(SAVED.read_text())  # saved with one judged worker per run, kept per run
    assert {j.workers for j in calibration.judge_all(data, 0.01)} == {1}
    for cycle in data["cycles"][6:]:  # resumed with three: each arm's mean of three processes
        cycle["judge_workers"] = 3
        cycle["judged"] = {a: v * 3 for a, v in cycle["judged"].items()}
    found = calibration.judge_all(data, 0.01)
    assert [j.workers for j in found[:: len(calibration.ARMS)]] == [1, 1, 1, 3, 3, 3, 3]
    args = run_arguments(backend="tensorflow", judge_workers=3)
    saved = tmp_path / "run.json"
    saved.write_text(json.dumps(dict(calibration.new_run(args), judge_workers=1)))
    assert calibration.resumed_run(saved, args)  # not refused for the judged count


def test_each_recorded_session_can_be_judged_as_one_more_a_a_run(calibration) -> None:
    data = json.loads(SAVED.read_text())
    plain = calibration.judge_all(data, 0.01)
    found = calibration.judge_all(data, 0.01, sessions_judged=True)
    sessions = [j for j in found if j.arm == calibration.SESSION_ARM]
    judged_cycles = [c for c in data["cycles"] if c["judged"]]
    assert len(sessions) == len(judged_cycles) and len(found) == len(plain) + len(sessions)
    assert {j.workers for j in sessions} == {data["save_workers"]}
    # Judged before it is stored: against the sessions before it, never itself.
    for judged, cycle in zip(sessions, judged_cycles):
        ms = cycle["session_worker_ms"]
        geometric = math.exp(sum(math.log(v) for v in ms) / len(ms))
        assert judged.verdict.now == pytest.approx(geometric, rel=0.05)
        assert judged.verdict.baseline != pytest.approx(geometric, rel=1e-9)


def test_resuming_with_another_framework_version_is_refused(calibration) -> None:
    saved = json.loads(SAVED.read_text())["cycles"][-1]["session"]
    assert calibration.refuse_to_continue(saved, saved) is None
    newer = dict(saved, versions=dict(saved["versions"], keras="9.9.9"))
    with pytest.raises(SystemExit, match="cannot resume: versions"):
        calibration.refuse_to_continue(saved, newer)


def test_resuming_needs_the_same_case_settings_and_machine(calibration, tmp_path) -> None:
    args = run_arguments(backend="torch", judge_workers=1)
    saved = tmp_path / "run.json"
    saved.write_text(json.dumps(calibration.new_run(args)))
    assert calibration.resumed_run(saved, args)["case"]["backend"] == "torch"
    args.samples = 8192
    with pytest.raises(SystemExit, match="cannot resume: samples differ"):
        calibration.resumed_run(saved, args)
    args.samples, args.backend = 4096, "tensorflow"
    with pytest.raises(SystemExit, match="cannot resume: case differ"):
        calibration.resumed_run(saved, args)


def test_a_judged_run_on_a_busy_machine_is_inconclusive_as_the_plugin_leaves_it(
    calibration,
) -> None:
    data = json.loads(SAVED.read_text())
    found = calibration.judge_all(data, 0.01)
    caught = [i for i, j in enumerate(found) if j.verdict.outcome == "regression"]
    assert caught  # +100% runs, at least
    judged_cycles = [c for c in data["cycles"] if c["judged"]]
    for cycle in judged_cycles:  # other processes took 30% of the CPU in one timed epoch
        cycle["judged_busy"] = {arm: [0.02, 0.30, 0.01] for arm in cycle["judged"]}
    again = calibration.judge_all(data, 0.01)
    assert all(again[i].verdict.outcome == "inconclusive" for i in caught)
    assert "other processes took 30%" in again[caught[0]].verdict.why


def busy_sessions(data: dict, indexes: tuple[int, ...]) -> dict:
    """`data` with the sessions of these cycles saved while other processes took 30% of the CPU
    in each timed epoch, every other session on a quiet machine."""
    for index, cycle in enumerate(data["cycles"]):
        for epoch in cycle["session"]["epochs"]:
            epoch.setdefault("cpu", {})["others_share"] = 0.3 if index in indexes else 0.0
    return data


def test_a_run_judged_right_after_a_busy_save_is_inconclusive_as_the_plugin_leaves_it(
    calibration,
) -> None:
    # The plugin's busy check reads the stored entry's busy shares too: its latest session's.
    arms = len(calibration.ARMS)
    quiet = calibration.judge_all(busy_sessions(json.loads(SAVED.read_text()), ()), 0.01)
    found = calibration.judge_all(busy_sessions(json.loads(SAVED.read_text()), (5,)), 0.01)
    # Cycles 4 to 10 (indexes 3-9) are judged; index 6's entry holds index 5's session last.
    sixth = slice(3 * arms, 4 * arms)
    decided = [j for j in quiet[sixth] if j.verdict.outcome == "regression"]
    assert decided  # its +100% run, at least
    assert all(j.verdict.outcome == "inconclusive" for j in found[sixth])
    assert "during the baseline's timed epochs" in found[sixth][-1].verdict.why
    # The next cycle's entry ends with a quiet session again: judged as when all were quiet.
    after = slice(4 * arms, None)
    assert [j.verdict.outcome for j in found[after]] == [j.verdict.outcome for j in quiet[after]]


def test_probes_stay_with_their_sessions_when_busy_ones_are_left_out(calibration) -> None:
    data = busy_sessions(json.loads(SAVED.read_text()), (2, 6))
    for index, cycle in enumerate(data["cycles"]):
        cycle["session"]["worker_probe_ms"] = [100.0 + index] * 3
    seen = []

    def recording(sessions, worker_ms, alpha, stored_probe, probe):
        seen.append((len(sessions), stored_probe))
        return calibration.plugin_time_judge(sessions, worker_ms, alpha)

    calibration.judge_all(data, 0.01, time_judge=recording)
    # The last cycle (index 9) is judged against sessions 0-8 less the busy 2 and 6.
    assert seen[-1] == (7, [100.0 + index for index in (0, 1, 3, 4, 5, 7, 8)])


def test_what_was_kept_beside_each_session_follows_the_sessions_the_plugin_uses(
    calibration,
) -> None:
    # Invocations (for across-run counts) and probes are kept per saved session; once a busy
    # session is among the latest, the plugin judges with the others: so must they.
    saved = [(100.0 + index, f"run {index // 3}") for index in range(6)]
    entry = {
        "sessions": [{"step_ms": 20.0, "busy_share": 0.3 if i == 4 else 0.0} for i in range(6)]
    }
    assert calibration.of_stored_sessions(entry, saved) == [saved[i] for i in (0, 1, 2, 3, 5)]
    window = {"sessions": entry["sessions"][2:]}  # older sessions left the window
    assert calibration.of_stored_sessions(window, saved) == [saved[i] for i in (2, 3, 5)]
