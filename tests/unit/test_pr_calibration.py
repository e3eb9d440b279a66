"""benchmarks/pr_calibration.py: a saved gate's cases judged again with today's rule."""

from __future__ import annotations

import random

import pytest

from helpers import benchmark_script_importing_neighbours


@pytest.fixture(scope="module")
def calibration():
    with benchmark_script_importing_neighbours("pr_calibration") as script:
        yield script


def saved_case(slowdown: float, seed: int, memory: str = "pass") -> dict:
    """A case as a results file keeps it: 3 workers per side, 16 turns each, judged 'pass' by
    whatever rule its gate ran (the saved outcome is deliberately stale)."""
    rng = random.Random(seed)

    def side(factor: float) -> list[list[float]]:
        return [[30 * factor * rng.lognormvariate(0, 0.01) for _ in range(16)] for _ in range(3)]

    return {
        "verdict": "pass",
        "family": {"cases": 12, "false_alarm_rate": 0.01},
        "metrics": {
            "step_time": {"outcome": "pass", "tolerance": 0.05, "change": 0.0},
            "host_peak_rss": {"outcome": memory},
        },
        "workers": {"reference": side(1.0), "candidate": side(slowdown)},
    }


def test_a_real_slowdown_is_judged_again_from_the_workers(calibration) -> None:
    found = calibration.rejudged(saved_case(1.3, seed=1))
    assert found["verdict"] == "regression"
    assert found["metrics"]["step_time"]["change"] == pytest.approx(0.3, abs=0.02)
    assert found["metrics"]["step_time"]["resolution"] < 0.05


def test_no_change_passes_and_other_metrics_keep_their_saved_outcome(calibration) -> None:
    assert calibration.rejudged(saved_case(1.0, seed=2))["verdict"] == "pass"
    assert calibration.rejudged(saved_case(1.0, seed=2, memory="regression"))["verdict"] == (
        "regression"
    )


def test_a_case_without_worker_turns_stays_as_saved(calibration) -> None:
    found = {"verdict": "inconclusive", "metrics": {}}
    assert calibration.rejudged(found) is found


def test_a_slowdown_laid_over_a_no_op_case_is_caught(calibration) -> None:
    no_op = saved_case(1.0, seed=3)
    assert calibration.judge_time(no_op)[0] == "pass"
    outcome, comparison, _, _ = calibration.judge_time(calibration.injected(no_op, 1.25))
    assert outcome == "regression"
    assert comparison.change == pytest.approx(0.25, abs=0.02)
    assert no_op["workers"]["candidate"] == saved_case(1.0, seed=3)["workers"]["candidate"]


def test_injected_line_counts_gates_and_cases_of_one_backend(calibration) -> None:
    gates = [
        {"cases": {"tensorflow-gpu0-b128-unroll-synthetic": saved_case(1.0, seed=s)}}
        for s in range(3)
    ]
    gates.append({"cases": {}})  # a gate that judged no TensorFlow case says nothing
    line = calibration.injected_line(gates, "tensorflow", 1.25)
    assert line.startswith("  +25% injected in tensorflow's cases: gates where they called a")
    assert "regression 3/3" in line
    assert "cases 0/3" in calibration.injected_line(gates, "tensorflow", 1.0)
    assert calibration.injected_line(gates, "mxnet", 1.25) == ""


@pytest.mark.parametrize("spec", ["tensorflow", "=10", "jax=ten", "jax=-100"])
def test_a_malformed_injection_is_refused(calibration, spec) -> None:
    with pytest.raises(Exception, match="BACKEND=PERCENT"):
        calibration.parse_injection(spec)


def test_a_case_whose_load_fell_on_one_side_is_inconclusive_when_judged_again(calibration) -> None:
    found = dict(
        saved_case(1.3, seed=4),
        turn_loads={"reference": [[0.0] * 16] * 3, "candidate": [[0.4] * 16] * 3},
    )
    assert calibration.rejudged(found)["verdict"] == "inconclusive"


def test_turns_other_processes_loaded_are_left_out_when_judged_again(calibration) -> None:
    """As the plugin does (verdicts/quiet_turns.py): +30% cases whose workers lost about 30% of
    their turns to another process (3-20x slower there, at random turns, the sides alike) are
    regressions on the quiet turns; judged on every turn, none is."""
    caught = {"quiet turns": 0, "every turn": 0}
    for seed in range(10):
        found, rng = saved_case(1.3, seed=seed), random.Random(seed)
        loads: dict[str, list[list[float]]] = {}
        # Another process's load falls on the i-th worker of both sides alike (they take turns
        # moments apart), and on different turns of different workers.
        pattern = [[rng.random() < 0.3 for _ in range(16)] for _ in range(3)]
        for side in ("reference", "candidate"):
            loads[side] = []
            for turns, busy in zip(found["workers"][side], pattern):
                for i in range(len(turns)):
                    turns[i] *= rng.uniform(3, 20) if busy[i] else 1.0
                loads[side].append([0.5 if b else 0.0 for b in busy])
        caught["every turn"] += calibration.rejudged(found)["verdict"] == "regression"
        again = calibration.rejudged(dict(found, turn_loads=loads))
        caught["quiet turns"] += again["verdict"] == "regression"
    assert caught == {"quiet turns": 10, "every turn": 0}
    line = calibration.quiet_turns_line([found, dict(found, turn_loads=loads), saved_case(1, 3)])
    left_out = calibration.judge_time(dict(found, turn_loads=loads))[1].turns_left_out
    assert left_out > 0
    assert (
        line == f"  quiet turns: 1 of 3 cases left turns out ({left_out} of their 288 turns in all)"
    )


def test_a_case_distrusted_for_a_shared_gpu_stays_inconclusive_when_judged_again(
    calibration,
) -> None:
    found = saved_case(1.3, seed=7)
    assert calibration.rejudged(found)["verdict"] == "regression"
    why = "the GPU was shared with other processes (pids 4242) while the case ran"
    found["metrics"]["step_time"].update(outcome="inconclusive", why=why)
    again = calibration.rejudged(found)
    assert again["verdict"] == "inconclusive"
    assert again["metrics"]["step_time"]["why"] == why


def test_a_shared_gpu_leaves_a_pass_judged_again_a_pass_as_the_plugin_does(calibration) -> None:
    # The plugin distrusts a regression or an improvement on a shared GPU, not a pass: a case
    # saved as distrusted that today's rule judges a pass is a pass.
    found = saved_case(1.0, seed=8)
    why = "the GPU was shared with other processes (pids 4242) while the case ran"
    found["metrics"]["step_time"].update(outcome="inconclusive", why=why)
    assert calibration.rejudged(found)["verdict"] == "pass"
    faster = saved_case(1 / 1.3, seed=8)  # an improvement stays distrusted
    faster["metrics"]["step_time"].update(outcome="inconclusive", why=why)
    assert calibration.judge_time(faster)[0] == "improvement"
    assert calibration.rejudged(faster)["verdict"] == "inconclusive"


def test_the_load_line_says_how_unevenly_the_sides_were_loaded(calibration) -> None:
    even = dict(
        saved_case(1.0, seed=5),
        turn_loads={"reference": [[0.2] * 16] * 3, "candidate": [[0.21] * 16] * 3},
    )
    uneven = dict(  # the reference's turns loaded: a pass could hide a regression
        saved_case(1.0, seed=6),
        turn_loads={"reference": [[0.3] * 16] * 3, "candidate": [[0.0] * 16] * 3},
    )
    line = calibration.load_line([even, uneven, saved_case(1.0, seed=7)])
    assert "2 cases: sides differ by median 15.5% (max 30.0%)" in line
    assert line.endswith("inconclusive for it: 1")
    assert calibration.load_line([saved_case(1.0, seed=7)]) == ""
