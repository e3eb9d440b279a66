"""The live A/B judge (verdicts/live.py): merging the workers of one side, and what its `check`
returns for a case that is judged, or skips for one that cannot be."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_rnnbench.matrix import Case
from pytest_rnnbench.run.summary import summarize
from pytest_rnnbench.settings import Settings
from pytest_rnnbench.verdicts import verdict
from pytest_rnnbench.verdicts.live import LiveJudge, merge_side
from pytest_rnnbench.verdicts.protocol import CaseRun, Judge

CASE = Case("tensorflow", 0, 32, True, "synthetic")


def test_merging_a_side_keeps_every_epoch_and_never_hides_a_broken_loss() -> None:
    good = {
        "epochs": [{"seconds": 1.0}],
        "final_loss": 1.0,
        "host_peak_rss_bytes": 10,
        "gpu_framework_peak_bytes": None,
    }
    broken = dict(good, final_loss=float("nan"), host_peak_rss_bytes=30)
    merged = merge_side([good, broken])
    assert [e["worker"] for e in merged["epochs"]] == [0, 1]
    assert merged["host_peak_rss_bytes"] == 30
    assert merged["final_loss"] != merged["final_loss"]
    assert merge_side([good, good])["final_loss"] == 1.0


class Item:
    """What the judge reads of a pytest item: its markers (none here)."""

    def iter_markers(self, name: str) -> list[Any]:
        return []


def worker(step_ms: float, turns: int = 12, samples: int = 256, **extra: Any) -> dict[str, Any]:
    """A live worker's result: `turns` turns of 2 steps, each step taking about `step_ms`."""
    steps = [step_ms / 1000 * (1 + 0.01 * (i % 3)) for i in range(turns * 2)]
    return {
        "epochs": [{"seconds": sum(steps), "step_seconds": steps}],
        "turn_steps": 2,
        "samples": samples,
        "final_loss": 1.0,
        "warmup_seconds": 1.0,
        "host_peak_rss_bytes": 2**30,
        "versions": {"keras": "3.1"},
        "python": {"executable": "/ref/python"},
        **extra,
    }


def case_run(reference: dict[str, Any], candidate: dict[str, Any]) -> CaseRun:
    merged = merge_side([candidate])
    return CaseRun(CASE, Item(), summarize(CASE.id, merged), [reference], [candidate])  # type: ignore[arg-type]


def three_a_side(reference_ms: float, candidate_ms: float, loads: tuple[float, float]) -> CaseRun:
    """Three workers a side, 1% apart (enough to resolve a few percent), each side's turns
    loaded by other processes as `loads` says."""
    sides = [
        [worker(ms * spread, turn_loads=[load] * 12) for spread in (0.99, 1.0, 1.01)]
        for ms, load in ((reference_ms, loads[0]), (candidate_ms, loads[1]))
    ]
    merged = merge_side(sides[1])
    return CaseRun(CASE, Item(), summarize(CASE.id, merged), *sides)  # type: ignore[arg-type]


def test_a_judged_case_returns_its_verdict_with_what_the_results_file_records() -> None:
    judge: Judge = LiveJudge(Settings(against={"*": "/ref/python"}))
    found = judge.check(case_run(worker(10.0), worker(20.0)))
    assert found is not None
    assert found.verdict.outcome == verdict.REGRESSION
    stored = found.to_dict()
    assert stored["verdict"] == "regression" and stored["against"] == "/ref/python"
    assert stored["baseline_seconds"] == pytest.approx(found.context["baseline_seconds"])
    assert judge.unjudged == {}
    assert judge.summary_lines()[0].startswith(f"{CASE.id}: regression: time per step")


def test_a_case_measured_but_not_judged_is_skipped_saying_why_never_passed() -> None:
    judge = LiveJudge(Settings(against={"*": "/ref/python"}))
    with pytest.raises(pytest.skip.Exception, match="measured, not judged: the baseline was"):
        judge.check(case_run(worker(10.0, samples=512), worker(10.0)))
    why = "the baseline was recorded with 512 samples per epoch, this run has 256"
    assert judge.unjudged == {CASE.id: why}
    assert judge.outcomes == {}
    assert judge.summary_lines() == [
        "not judged (1): measured, but not comparable",
        f"  {CASE.id}: {why}",
    ]


@pytest.mark.parametrize(
    "broken, why",
    [
        (worker(10.0, turns=0), "every worker needs at least one turn"),
        (worker(10.0, epochs=[{"seconds": 0.0, "step_seconds": [0.0] * 24}]),
         "turn times must be positive and finite"),
        (worker(10.0, epochs=[{"seconds": 1.0, "step_seconds": [float("nan")] * 24}]),
         "turn times must be positive and finite"),
    ],
)  # fmt: skip
def test_turns_that_cannot_be_compared_fail_the_case_saying_why(
    broken: dict[str, Any], why: str
) -> None:
    judge = LiveJudge(Settings(against={"*": "/ref/python"}))
    with pytest.raises(pytest.fail.Exception, match=f"cannot be paired: {why}"):
        judge.check(case_run(broken, broken))


def test_load_that_fell_on_one_sides_turns_makes_the_time_verdict_inconclusive() -> None:
    judge = LiveJudge(Settings(against={"*": "/ref/python"}))
    quiet, busy = [0.02] * 12, [0.30] * 12
    # +15%, which the 28% more load on the candidate's turns could have made.
    found = judge.check(three_a_side(10.0, 11.5, (0.02, 0.30)))
    assert found is not None
    assert found.verdict.outcome == verdict.INCONCLUSIVE
    time = found.verdict.metrics[0]
    assert time.metric == "step_time"
    assert "other processes took 30% of the machine's CPU during this run's turns and 2%" in (
        time.why
    )
    # Every worker's turn loads are kept for offline re-judging.
    assert found.context["turn_loads"] == {"reference": [quiet] * 3, "candidate": [busy] * 3}


@pytest.mark.parametrize(
    ("reference_ms", "reference_load", "candidate_ms", "candidate_load", "outcome"),
    [
        # +100%: 28% more load on the candidate's turns leaves at least +56%.
        (10.0, 0.02, 20.0, 0.30, verdict.REGRESSION),
        # -50%: 28% more load on the reference's turns leaves at most -36%.
        (20.0, 0.30, 10.0, 0.02, verdict.IMPROVEMENT),
        # -20%, 6% more load on the reference's turns: at most -15%, still an improvement.
        (12.5, 0.06, 10.0, 0.0, verdict.IMPROVEMENT),
        # +2%, 8% more load on the reference's turns: at most +10%, beyond the tolerance.
        (10.0, 0.08, 10.2, 0.0, verdict.INCONCLUSIVE),
        # -4%, 8% more load on the reference's turns: at most +3.7%, still within it.
        (10.0, 0.08, 9.6, 0.0, verdict.PASS),
        # The load slowed the reference: a regression is only larger than measured (seen in CI:
        # 1-step turns, 7% on the base's short turns against 0% on the head's).
        (10.0, 0.07, 20.0, 0.0, verdict.REGRESSION),
        # The load slowed the candidate: an improvement is only larger than measured.
        (20.0, 0.0, 10.0, 0.3, verdict.IMPROVEMENT),
    ],
    ids=[
        "regression",
        "improvement",
        "small load",
        "pass hiding one",
        "pass",
        "regression, reference loaded",
        "improvement, candidate loaded",
    ],
)
def test_a_change_larger_than_the_load_could_make_stands(
    reference_ms: float,
    reference_load: float,
    candidate_ms: float,
    candidate_load: float,
    outcome: str,
) -> None:
    judge = LiveJudge(Settings(against={"*": "/ref/python"}))
    found = judge.check(three_a_side(reference_ms, candidate_ms, (reference_load, candidate_load)))
    assert found is not None and found.verdict.outcome == outcome


def loaded_worker(ms: float, loaded: set[int], slower: float) -> dict[str, Any]:
    """worker(ms) whose `loaded` turns (of 12) ran `slower` times as long while other processes
    took half the CPU."""
    result = worker(ms, turn_loads=[0.5 if i in loaded else 0.0 for i in range(12)])
    steps = result["epochs"][0]["step_seconds"]
    for i in loaded:
        steps[2 * i] *= slower
        steps[2 * i + 1] *= slower
    return result


def test_turns_other_processes_loaded_are_left_out_and_the_verdict_says_how_many() -> None:
    """Each worker lost 4 of its 12 turns to another process (10x slower, half the CPU taken), a
    different 4 in each: judged on the 8 quiet ones, +20% is a regression."""

    def spiky(ms: float, index: int) -> dict[str, Any]:
        return loaded_worker(ms, {(index + 3 * k) % 12 for k in range(4)}, 10.0)

    sides = [[spiky(ms * (1 + 0.01 * i), i + shift) for i in range(3)] for ms, shift in
             ((10.0, 0), (12.0, 1))]  # fmt: skip
    run = CaseRun(CASE, Item(), summarize(CASE.id, merge_side(sides[1])), *sides)  # type: ignore[arg-type]
    found = LiveJudge(Settings(against={"*": "/ref/python"})).check(run)
    assert found is not None and found.verdict.outcome == verdict.REGRESSION
    assert "24 of their 72 turns left out: other processes took more than 10% of the CPU" in (
        found.verdict.line()
    )
    limited = LiveJudge(Settings(against={"*": "/ref/python"}, busy_limit=0.6)).check(run)
    assert limited is not None and "left out" not in limited.verdict.line()


def test_load_a_side_made_itself_is_not_left_out_but_distrusted() -> None:
    """The head's training started helper processes (their CPU time is not its worker's, so it
    reads as other processes' load) that slowed 8 of its 12 turns by 30%. Judged on its 4 quiet
    turns it would pass; the sides' loads differ by more than the tolerance, so every turn is
    judged and the uneven-load rule distrusts the slowdown the load could have made."""

    reference = [loaded_worker(10.0 * (1 + 0.01 * i), set(), 1.3) for i in range(3)]
    candidate = [
        loaded_worker(10.0 * (1 + 0.01 * i), {(i + k) % 12 for k in range(8)}, 1.3)
        for i in range(3)
    ]
    run = CaseRun(CASE, Item(), summarize(CASE.id, merge_side(candidate)), reference, candidate)  # type: ignore[arg-type]
    found = LiveJudge(Settings(against={"*": "/ref/python"})).check(run)
    assert found is not None and found.verdict.outcome == verdict.INCONCLUSIVE
    assert "left out" not in found.verdict.line()
    assert "other processes took 33% of the machine's CPU during this run's turns" in (
        found.verdict.line()
    )


def test_a_pass_is_not_trusted_either_when_the_reference_was_the_loaded_side() -> None:
    judge = LiveJudge(Settings(against={"*": "/ref/python"}))
    assert judge.check(three_a_side(10.0, 10.0, (0.0, 0.0))).verdict.outcome == verdict.PASS
    found = judge.check(three_a_side(10.0, 10.0, (0.4, 0.0)))
    assert found is not None and found.verdict.outcome == verdict.INCONCLUSIVE


@pytest.mark.parametrize(
    ("reference", "candidate"),
    [([0.45] * 12, [0.43] * 12), ([], []), ([0.0] * 12, [])],
    ids=["heavy but even", "not measured", "one side not measured"],
)
def test_even_or_unmeasured_load_leaves_the_verdict_alone(
    reference: list[float], candidate: list[float]
) -> None:
    judge = LiveJudge(Settings(against={"*": "/ref/python"}))
    found = judge.check(
        case_run(worker(10.0, turn_loads=reference), worker(20.0, turn_loads=candidate))
    )
    assert found is not None and found.verdict.outcome == verdict.REGRESSION


def test_gpu_memory_from_nvml_alone_is_compared_on_both_sides() -> None:
    """MXNet keeps no framework peak: each side's GPU memory is the NVML monitor's figure."""

    def nvml(peak: int) -> dict[str, Any]:
        return {"gpu_framework_peak_bytes": None, "gpu_memory": {"nvml_process_peak_bytes": peak}}

    judge = LiveJudge(Settings(against={"*": "/ref/python"}))
    found = judge.check(case_run(worker(10.0, **nvml(2**30)), worker(10.0, **nvml(2**31))))
    assert found is not None
    memory = next(m for m in found.verdict.metrics if m.metric == "gpu_peak_memory")
    assert memory.outcome == verdict.REGRESSION and memory.change == pytest.approx(1.0)


def test_a_merged_side_keeps_no_single_workers_turn_loads() -> None:
    assert "turn_loads" not in merge_side([worker(10.0, turn_loads=[0.1] * 12)])


def test_the_header_names_the_backends_with_their_own_number_of_workers() -> None:
    per_side = {"*": 3, "torch": 6, "mxnet": 5}
    settings = Settings(against={"*": "/py"}, against_workers=per_side, backends=("jax", "torch"))
    (line,) = LiveJudge(settings).header_lines()
    assert "3 worker(s) per side (torch: 6) taking turns of up to 8 steps" in line  # no mxnet case
    (plain,) = LiveJudge(Settings(against={"*": "/py"})).header_lines()
    assert "3 worker(s) per side taking turns" in plain
