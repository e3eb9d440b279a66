"""Live A/B comparison (--rnnbench-against): turn-taking workers, paired samples, the verdict.

The turn-taking tests run real worker processes through the product's runner with the fake
worker of conftest (its `turns` mode sleeps a few ms per step and logs who ran when); the
end-to-end tests run real TensorFlow workers in both interpreters.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pytest_rnnbench.gate import samples, verdict
from pytest_rnnbench.gate.live import merge_side
from pytest_rnnbench.run.turns import MIN_TURNS, turn_steps_for
from pytest_rnnbench.run.protocol import PROTOCOL_VERSION
from pytest_rnnbench.run.turns import LiveFailed, WorkerSpec, run_live, turn_order

from conftest import PYTHON, alive


def request(repeats: int = 2, **extra) -> dict:
    case = {"id": "fake-case", "backend": "tensorflow", "gpus": 0, "batch_size": 1,
            "unroll": True, "dataset": "synthetic"}
    return {"protocol": PROTOCOL_VERSION, "case": case, "data": {"samples": 8},
            "repeats": repeats, "seed": 1, **extra}


def specs(tmp_path: Path, python: Path, side: str, count: int, sent: dict,
          env: dict) -> list[WorkerSpec]:
    return [WorkerSpec(str(python), sent, env, tmp_path / f"{side}{i}.log") for i in range(count)]


def read_turnlog(path: Path) -> list[tuple[int, float, float]]:
    rows = [line.split() for line in path.read_text().splitlines()]
    return sorted((int(pid), float(start), float(end)) for pid, start, end in rows)


def test_turn_order_alternates_sides_and_mirrors_each_round() -> None:
    assert turn_order(1) == [0, 1, 1, 0]
    assert turn_order(2) == [0, 2, 1, 3, 3, 1, 2, 0]


@pytest.mark.parametrize("per_side", [1, 2])
def test_workers_take_turns_one_at_a_time_in_order(tmp_path: Path, fake_python: Path,
                                                   per_side: int) -> None:
    log = tmp_path / "turns.log"
    env = dict(os.environ, FAKE_MODE="turns", FAKE_TURNLOG=str(log))
    started: dict[int, tuple[str, int]] = {}

    def heard(side: str, index: int, message: dict) -> None:
        if message["type"] == "started":
            started[message["pid"]] = (side, index)

    reference, candidate = run_live(
        specs(tmp_path, fake_python, "reference", per_side, request(), env),
        specs(tmp_path, fake_python, "candidate", per_side, request(inject_slowdown=2.0), env),
        timeout_s=60, turn_steps=2, on_message=heard)

    assert len(reference) == len(candidate) == per_side
    # 2 epochs x 8 steps in turns of 2: 8 turns each, all but the last granted by the runner.
    assert [run.result["turns_taken"] for run in reference + candidate] == [8] * (2 * per_side)
    steps = read_turnlog(log)
    ordered = sorted(steps, key=lambda row: row[1])
    for (pid_a, _, end_a), (pid_b, start_b, _) in zip(ordered, ordered[1:]):
        assert end_a <= start_b, "two workers trained at the same time"
    # Consecutive steps of one worker form a turn; the turns follow turn_order, cycle after cycle.
    turns = [ordered[0][0]]
    for pid, _, _ in ordered[1:]:
        if pid != turns[-1]:
            turns.append(pid)
    worker_of = {pid: (0 if side == "reference" else per_side) + index
                 for pid, (side, index) in started.items()}
    cycle = turn_order(per_side)
    expected = [cycle[i % len(cycle)] for i in range(16 * per_side)]
    # A worker granted two turns in a row (A B B A) shows as one run of steps: merge those too.
    merged_expected = [w for i, w in enumerate(expected) if i == 0 or w != expected[i - 1]]
    assert [worker_of[pid] for pid in turns] == merged_expected[:len(turns)]
    # The paired samples line up turn by turn, and the injected 2x shows in every pair.
    ref = samples.live_time_samples([run.result for run in reference])
    cand = samples.live_time_samples([run.result for run in candidate])
    assert len(ref) == len(cand) == 8
    assert sum(cand) > 1.3 * sum(ref)


@pytest.mark.parametrize("side", ["reference", "candidate"])
def test_a_failing_worker_stops_the_others_and_names_its_side(tmp_path: Path, fake_python: Path,
                                                              side: str) -> None:
    log = tmp_path / "turns.log"
    good = dict(os.environ, FAKE_MODE="turns", FAKE_TURNLOG=str(log))
    bad = dict(good, FAKE_MODE="raise")
    pids: list[int] = []

    def heard(_side: str, _index: int, message: dict) -> None:
        if message["type"] == "started":
            pids.append(message["pid"])

    with pytest.raises(LiveFailed) as failed:
        run_live(specs(tmp_path, fake_python, "reference", 2, request(),
                       bad if side == "reference" else good),
                 specs(tmp_path, fake_python, "candidate", 2, request(),
                       bad if side == "candidate" else good),
                 timeout_s=60, turn_steps=2, on_message=heard)
    assert failed.value.side == side
    assert str(failed.value).startswith(f"{side} worker: worker failed: RuntimeError: fake failure")
    assert [pid for pid in pids if alive(pid)] == []  # the healthy ones are gone too


@pytest.mark.parametrize("side", ["reference", "candidate"])
def test_a_worker_killed_in_the_middle_of_its_turn_fails_the_case_naming_its_side(
        tmp_path: Path, fake_python: Path, side: str) -> None:
    good = dict(os.environ, FAKE_MODE="turns", FAKE_TURNLOG=str(tmp_path / "turns.log"))
    dying = dict(good, FAKE_DIE_AT_TURN="3")
    with pytest.raises(LiveFailed) as failed:
        run_live(specs(tmp_path, fake_python, "reference", 2, request(),
                       dying if side == "reference" else good),
                 specs(tmp_path, fake_python, "candidate", 2, request(),
                       dying if side == "candidate" else good),
                 timeout_s=60, turn_steps=2)
    assert failed.value.side == side
    assert "worker was killed by SIGKILL" in str(failed.value)


def test_a_hung_worker_times_out_is_blamed_and_leaves_nothing_behind(tmp_path: Path,
                                                                     fake_python: Path) -> None:
    fine = dict(os.environ, FAKE_MODE="turns", FAKE_TURNLOG=str(tmp_path / "turns.log"))
    pidfile = tmp_path / "hung.json"
    hang = dict(os.environ, FAKE_MODE="hang", FAKE_PIDFILE=str(pidfile))
    pids: list[int] = []

    def heard(_side: str, _index: int, message: dict) -> None:
        if message["type"] == "started":
            pids.append(message["pid"])

    with pytest.raises(LiveFailed, match="timed out after 3 s") as failed:
        run_live(specs(tmp_path, fake_python, "reference", 1, request(), fine),
                 specs(tmp_path, fake_python, "candidate", 1, request(), hang),
                 timeout_s=3, turn_steps=2, on_message=heard)
    assert failed.value.side == "candidate"  # the one that never finished its turn
    hung, child = json.loads(pidfile.read_text())
    # The workers and what the hung one started are all gone.
    assert [pid for pid in pids + [hung, child] if alive(pid)] == []


def test_turn_means_are_exact_turn_sums_per_step_and_sides_must_match() -> None:
    result = {"turn_steps": 3, "epochs": [{"step_seconds": [0.001, 0.002, 0.003, 0.010]},
                                          {"step_seconds": [0.004, 0.004]}]}
    assert samples.turn_means(result) == pytest.approx([2.0, 10.0, 4.0])
    other = {"turn_steps": 3, "epochs": [{"step_seconds": [0.003] * 4}, {"step_seconds": [0.002]}]}
    assert samples.live_time_samples([result, other]) == pytest.approx([2.5, 6.5, 3.0])
    with pytest.raises(ValueError, match="different numbers of turns"):
        samples.live_time_samples([result, {"turn_steps": 3, "epochs": [
            {"step_seconds": [0.001]}]}])
    with pytest.raises(ValueError, match="not a live A/B worker result"):
        samples.turn_means({"epochs": []})


def test_turn_steps_shrink_so_the_paired_test_gets_enough_pairs() -> None:
    assert turn_steps_for(steps_per_epoch=391, repeats=3, wanted=8) == 8
    assert turn_steps_for(steps_per_epoch=16, repeats=2, wanted=8) == 2
    assert turn_steps_for(steps_per_epoch=4, repeats=1, wanted=8) == 1
    assert (16 * 2) // turn_steps_for(16, 2, 8) >= MIN_TURNS


def test_merging_a_side_keeps_every_epoch_and_never_hides_a_broken_loss() -> None:
    good = {"epochs": [{"seconds": 1.0}], "final_loss": 1.0, "host_peak_rss_bytes": 10,
            "gpu_framework_peak_bytes": None}
    broken = dict(good, final_loss=float("nan"), host_peak_rss_bytes=30)
    merged = merge_side([good, broken])
    assert [e["worker"] for e in merged["epochs"]] == [0, 1]
    assert merged["host_peak_rss_bytes"] == 30
    assert merged["final_loss"] != merged["final_loss"]
    assert merge_side([good, good])["final_loss"] == 1.0


# ------------------------------------------------------------------------------------------------
# End to end: real TensorFlow workers in both interpreters, through pytest.

LIVE_ARGS = ("--rnnbench", "--rnnbench-backends=tensorflow", "--rnnbench-datasets=synthetic",
             "--rnnbench-samples=256", "--rnnbench-batch-sizes=32", "--rnnbench-repeats=2",
             "--rnnbench-against-workers=1", "-p", "no:cacheprovider")


def test_live_run_against_itself_passes_and_an_injected_slowdown_fails(
        bench: pytest.Pytester, heavy_modules) -> None:
    # A wide time tolerance keeps this test about the mechanism, not about this machine's noise
    # (the gate calibration in benchmarks/ measures that); a 3x slowdown is far beyond it.
    same = bench.runpytest_subprocess(*LIVE_ARGS, f"--rnnbench-against={PYTHON}",
                                      "--rnnbench-tolerance-time=50%", "-rA")
    same.stdout.fnmatch_lines([f"rnnbench: live A/B against {PYTHON}: 1 worker(s) per side*",
                               "*synthetic: pass: time per step pass, baseline * ms -> now * ms*"])
    assert same.ret == 0, same.stdout.str()
    same.assert_outcomes(passed=1)
    assert heavy_modules() == []

    slow = bench.runpytest_subprocess(*LIVE_ARGS, f"--rnnbench-against={PYTHON}",
                                      "--rnnbench-tolerance-time=50%",
                                      "--rnnbench-inject-slowdown=3")
    slow.assert_outcomes(failed=1)
    slow.stdout.fnmatch_lines(["*regression: time per step regression*Wilcoxon signed-rank, "
                               "paired*"])


def test_live_options_are_checked_and_a_missing_reference_skips_clearly(
        bench: pytest.Pytester) -> None:
    both = bench.runpytest_subprocess(*LIVE_ARGS, f"--rnnbench-against={PYTHON}",
                                      "--rnnbench-save-baseline")
    assert both.ret == pytest.ExitCode.USAGE_ERROR
    both.stderr.fnmatch_lines(["*--rnnbench-save-baseline with --rnnbench-against*"])

    grab = bench.runpytest_subprocess(*LIVE_ARGS, f"--rnnbench-against={PYTHON}",
                                      "--rnnbench-preallocate")
    assert grab.ret == pytest.ExitCode.USAGE_ERROR
    grab.stderr.fnmatch_lines(["*--rnnbench-preallocate with --rnnbench-against*"])

    bad = bench.runpytest_subprocess(*LIVE_ARGS, "--rnnbench-against=cobol=/bin/true")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stderr.fnmatch_lines(["*--rnnbench-against*unknown backend 'cobol'*"])

    other = bench.runpytest_subprocess(*LIVE_ARGS, f"--rnnbench-against=jax={PYTHON}", "-rs")
    other.assert_outcomes(skipped=1)
    other.stdout.fnmatch_lines(["*--rnnbench-against names no reference interpreter for the "
                                "tensorflow backend*"])

    missing = bench.runpytest_subprocess(*LIVE_ARGS, "--rnnbench-against=/no/such/python", "-rs")
    missing.assert_outcomes(skipped=1)
    missing.stdout.fnmatch_lines(["*reference interpreter: interpreter '/no/such/python' for "
                                  "the tensorflow backend does not exist*"])


def test_paired_verdict_sees_through_drift_that_hides_a_regression_from_unpaired_ranks() -> None:
    # The machine's speed swings by +-30% from turn to turn; the candidate is 10% slower in every
    # pair. Unpaired ranks drown in the swing; pairs cancel it.
    swing = [1.0, 1.3, 0.7, 1.2, 0.8, 1.25, 0.75, 1.1, 0.9, 1.3, 0.7, 1.15, 0.85, 1.2, 0.8, 1.0]
    reference = [10.0 * s for s in swing]
    candidate = [11.0 * s * (1 + 0.01 * ((i % 3) - 1)) for i, s in enumerate(swing)]
    paired = verdict.compare_samples("epoch_time", reference, candidate, 0.05, paired=True)
    assert paired.outcome == verdict.REGRESSION
    assert paired.change == pytest.approx(0.10, abs=0.01)
    assert paired.test == verdict.PAIRED_TEST
    unpaired = verdict.compare_samples("epoch_time", reference, candidate, 0.05)
    assert unpaired.outcome == verdict.INCONCLUSIVE
    jittered = [r * (1 + 0.01 * ((i % 3) - 1)) for i, r in enumerate(reference)]
    same = verdict.compare_samples("epoch_time", reference, jittered, 0.05, paired=True)
    assert same.outcome == verdict.PASS
    faster = verdict.compare_samples("epoch_time", reference, [0.8 * j for j in jittered], 0.05,
                                     paired=True)
    assert faster.outcome == verdict.IMPROVEMENT and faster.change == pytest.approx(-0.2, abs=0.01)
    with pytest.raises(ValueError, match="equal counts"):
        verdict.compare_samples("epoch_time", reference, candidate[:-1], 0.05, paired=True)


def test_hodges_lehmann_is_the_median_of_pairwise_averages() -> None:
    assert verdict.hodges_lehmann([1.0, 2.0, 9.0]) == pytest.approx(3.5)  # 1,1.5,2,5,5.5,9
    assert verdict.hodges_lehmann([0.1] * 5) == pytest.approx(0.1)


def test_paired_verdict_with_too_few_pairs_is_inconclusive_and_says_what_would_help() -> None:
    found = verdict.compare_samples("epoch_time", [10.0, 10.0, 10.0, 10.0],
                                    [13.0, 12.0, 14.0, 13.0], 0.05, paired=True)
    assert found.outcome == verdict.INCONCLUSIVE
    assert "per-turn ratios" in found.why and "--rnnbench-against-workers" in found.why

