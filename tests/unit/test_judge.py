"""The one judge (verdicts/judge.py) on plain numbers: the chain every caller shares (stored
baselines, live A/B, `compare`): comparable workloads, the rule, the distrust of timings."""

from __future__ import annotations

import random
from collections.abc import Callable

from pytest_rnnbench.verdicts import verdict
from pytest_rnnbench.verdicts.judge import NotJudged, Side, judge
from pytest_rnnbench.verdicts.records import CaseVerdict, MetricVerdict

CASE = "tensorflow-gpu0-b32-unroll-synthetic"


def noisy(center: float, n: int = 24, spread: float = 0.02, seed: int = 0) -> list[float]:
    rng = random.Random(seed)
    return [center * (1 + rng.uniform(-spread, spread)) for _ in range(n)]


def side(step_ms: float, seed: int = 0, **workload: object) -> Side:
    samples = {"step_time": noisy(step_ms, seed=seed), "final_loss": [1.0]}
    return Side(samples, {"samples": 256, "steps_per_epoch": 8, **workload}, {"keras": "3.1"})


def per_process(change: float) -> Callable[[float], MetricVerdict]:
    """A scripted time judge (the per-worker or per-session rule's place): `change` beyond the
    tolerance is a regression."""

    def judged(tolerance: float) -> MetricVerdict:
        outcome = verdict.REGRESSION if change > tolerance else verdict.PASS
        return MetricVerdict("step_time", outcome, change=change, tolerance=tolerance)

    return judged


def test_the_judge_takes_the_time_from_the_time_judge_and_the_rest_from_the_rule() -> None:
    old, new = side(10.0), side(12.0, seed=1)
    new = Side({**new.samples, "final_loss": [1.5]}, new.workload, new.versions)
    found = judge(CASE, old, new, {"step_time": 0.05}, time=per_process(0.2))
    assert not isinstance(found, NotJudged)
    direct = verdict.compare_case(CASE, {"final_loss": [1.0]}, {"final_loss": [1.5]}, {})
    assert found.metrics[0] == per_process(0.2)(0.05)
    assert found.metrics[1:] == direct.metrics and found.outcome == verdict.REGRESSION


def test_without_a_time_judge_the_steps_are_never_tested_against_each_other() -> None:
    """24 steps of one process a side, 20% apart: a Mann-Whitney test on them called this a
    regression at >99.99%, but they are one process each; the time is inconclusive, saying why."""
    found = judge(CASE, side(10.0), side(12.0, seed=1), {"step_time": 0.05})
    assert not isinstance(found, NotJudged) and found.outcome == verdict.INCONCLUSIVE
    time = found.metrics[0]
    assert time.metric == "step_time" and time.confidence is None
    assert "the steps inside one process are not independent samples" in found.line()
    # A side without steps says which: the rule's own words, no test run.
    empty = Side({"final_loss": [1.0]}, side(10.0).workload, {"keras": "3.1"})
    missing = judge(CASE, empty, side(12.0), {})
    assert not isinstance(missing, NotJudged)
    assert missing.metrics[0].outcome == verdict.NO_BASELINE
    assert missing.metrics[0].why == "no baseline samples"


def test_sides_of_different_workloads_are_not_judged_and_say_why() -> None:
    found = judge(CASE, side(10.0), side(10.0, samples=512), {})
    assert isinstance(found, NotJudged)
    assert found.why == "the baseline was recorded with 256 samples per epoch, this run has 512"
    assert found.line() == f"{CASE}: no-baseline: {found.why}"


def test_versions_that_differ_become_notes() -> None:
    newer = Side(side(10.0).samples, side(10.0).workload, {"keras": "3.2"})
    found = judge(CASE, side(10.0), newer, {})
    assert not isinstance(found, NotJudged)
    assert found.notes == ("versions differ from the baseline's: keras 3.1 -> 3.2",)


def test_a_busy_machine_makes_an_unpaired_time_verdict_inconclusive_unless_allowed() -> None:
    busy = {"cpu_busy_shares": [0.3, 0.05]}
    slower = per_process(0.2)
    found = judge(CASE, side(10.0), side(12.0, seed=1, **busy), {}, time=slower)
    assert not isinstance(found, NotJudged)
    assert found.outcome == verdict.INCONCLUSIVE
    assert "other processes took 30% of the machine's CPU time" in found.line()
    allowed = judge(CASE, side(10.0), side(12.0, **busy), {}, busy_limit=1.0, time=slower)
    assert not isinstance(allowed, NotJudged) and allowed.outcome == verdict.REGRESSION


def test_paired_sides_ignore_a_busy_cpu_but_not_a_shared_gpu() -> None:
    busy = {"cpu_busy_shares": [0.5]}
    base = side(10.0)
    slower = per_process(0.2)
    paired = judge(CASE, base, side(12.0, seed=1, **busy), {}, paired=True, time=slower)
    assert not isinstance(paired, NotJudged)
    assert paired.outcome == verdict.REGRESSION
    shared = {"gpu_memory": {"nvml_other_processes": [4242]}}
    found = judge(CASE, base, side(12.0, seed=1, **shared), {}, paired=True, time=slower)
    assert not isinstance(found, NotJudged) and found.outcome == verdict.INCONCLUSIVE
    assert "the GPU was shared with other processes (pids 4242)" in found.line()


def test_sides_from_a_worker_result_and_from_a_baseline_entry() -> None:
    result = {
        "epochs": [{"seconds": 1.0, "step_seconds": [0.01] * 16}],
        "final_loss": 2.0,
        "versions": {"keras": "3.1"},
    }
    of_result = Side.of_result(result)
    assert of_result.samples["step_time"] == [10.0] * 8  # 8 blocks of step medians, in ms
    assert of_result.samples["final_loss"] == [2.0] and of_result.versions == {"keras": "3.1"}
    entry = {"metrics": {"step_time": {"samples": [9.0, 11.0]}}, "versions": {"keras": "3.0"}}
    of_entry = Side.of_entry(entry)
    assert of_entry.samples == {"step_time": [9.0, 11.0]} and of_entry.workload is entry


def _side_with_kernel(kernel: str, why: str) -> Side:
    workload = {"run": {"lstm_kernel": {"kernel": kernel, "why": why, "observed": True}}}
    return Side({"step_time": [10.0] * 8}, workload, {})


def test_a_changed_lstm_path_is_a_finding_even_when_the_timing_passes() -> None:
    """A scripted stand-in for the GPU case: the base's fused kernel ran, the head's declined."""
    base = _side_with_kernel("fused", "keras.src.backend.torch.rnn.lstm ran cuDNN")
    head = _side_with_kernel("generic", "cudnn_ok returned False (recurrent_dropout)")
    found = judge("torch-gpu1-b128-nounroll-synthetic", base, head, {}, time=per_process(0.0))
    assert isinstance(found, CaseVerdict) and found.outcome == "pass"
    assert found.notes == (
        "LSTM path changed: fused -> generic (cudnn_ok returned False (recurrent_dropout))",
    )
    same = judge("c", base, _side_with_kernel("fused", "ran"), {})
    assert isinstance(same, CaseVerdict) and same.notes == ()
    unobserved = Side({"step_time": [10.0] * 8}, {"run": {"lstm_kernel": None}}, {})
    assert judge("c", base, unobserved, {}).notes == ()  # type: ignore[union-attr]


def test_an_entry_whose_every_session_was_busy_judges_no_steps_instead() -> None:
    """Every stored session was saved on a busy machine (left out): the time is inconclusive,
    saying so, not judged from the steps inside the stored processes."""
    from pytest_rnnbench.verdicts.session_time import (
        all_sessions_busy,
        session_time_judge,
        stored_sessions,
    )

    entry = {"sessions": [{"step_ms": 10.0, "workers": 3, "busy_share": 0.4}] * 2}
    assert session_time_judge(stored_sessions(entry), [10.1, 10.0, 9.9], 0.01) is None
    found = judge(CASE, side(10.0), side(10.1, seed=1), {}, time=all_sessions_busy(entry))
    assert not isinstance(found, NotJudged) and found.outcome == verdict.INCONCLUSIVE
    assert "every stored session (2) was saved while other processes took more than 10%" in (
        found.line()
    )
    # One session that stands, or none stored at all: the sessions' own rule, or what is missing.
    quiet = {"sessions": [*entry["sessions"], {"step_ms": 10.0, "workers": 3}]}
    assert all_sessions_busy(quiet) is None and all_sessions_busy({"sessions": []}) is None


def test_a_busy_latest_save_does_not_distrust_runs_judged_against_the_quiet_sessions() -> None:
    """Six sessions saved on a quiet machine, the latest at 30% load (left out of the spread):
    the entry's own busy shares are that latest save's, and a quiet run 30% slower is still a
    regression, not "inconclusive: rerun on a quiet machine" until someone saves again."""
    from pytest_rnnbench.verdicts.session_time import session_time_judge, stored_sessions

    quiet = [{"step_ms": 10.0 + 0.05 * i, "workers": 3, "busy_share": 0.01} for i in range(6)]
    entry = {
        "sessions": [*quiet, {"step_ms": 12.0, "workers": 3, "busy_share": 0.3}],
        "cpu_busy_shares": [0.3, 0.3],  # the latest save's
        "metrics": {"step_time": {"samples": [12.0] * 8}, "final_loss": {"samples": [1.0]}},
        "samples": 256,
        "steps_per_epoch": 8,
    }
    run = side(13.1, cpu_busy_shares=[0.01, 0.02])
    time = session_time_judge(stored_sessions(entry), [13.0, 13.1, 13.2], 0.01)
    found = judge(CASE, Side.of_entry(entry), run, {}, time=time)
    assert not isinstance(found, NotJudged) and found.outcome == verdict.REGRESSION
    # This run's own load is still checked.
    busy_run = side(13.1, cpu_busy_shares=[0.3])
    distrusted = judge(CASE, Side.of_entry(entry), busy_run, {}, time=time)
    assert not isinstance(distrusted, NotJudged)
    assert distrusted.outcome == verdict.INCONCLUSIVE
    assert "during this run's timed epochs" in distrusted.line()
