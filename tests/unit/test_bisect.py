"""The bisect's search on a scripted judge (noise, skips, the ends, a budget), the helpers of its
steps, and the command's checks of its refs on a real git repository (no workers)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import shlex
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Optional

import pytest

from pytest_rnnbench.cli import main
from pytest_rnnbench.cli.bisect_steps import (
    StepRunner,
    judgement_of,
    regressed_cases,
    selection,
    without_k,
    workers_for,
)
from pytest_rnnbench.history.bisect import (
    EMPTY,
    FOUND,
    INCONCLUSIVE,
    PASS,
    RANGE,
    REGRESSION,
    SKIP,
    Judgement,
    Policy,
    Progress,
    measure_end,
    search,
)
from pytest_rnnbench.report.bisect_page import Commit, Record, bisect_command, markdown
from pytest_rnnbench.results.rows import Row, Verdict

COMMITS = [f"c{i}" for i in range(8)]


class Scripted:
    """A judge that answers from a script: commit -> verdicts per attempt (the last repeats);
    a commit not in the script is bad from `first_bad` on, good before it."""

    def __init__(self, first_bad: int, script: Optional[dict[str, list[str]]] = None) -> None:
        self.first_bad, self.script = first_bad, script or {}
        self.calls: list[tuple[str, int]] = []

    def __call__(self, commit: str, attempt: int) -> Judgement:
        self.calls.append((commit, attempt))
        if commit in self.script:
            answers = self.script[commit]
            return Judgement(answers[min(attempt, len(answers) - 1)])
        bad = COMMITS.index(commit) >= self.first_bad
        return Judgement(REGRESSION if bad else PASS, 0.4 if bad else 0.01)


@pytest.mark.parametrize("first_bad", range(8))
def test_clean_verdicts_name_the_first_bad_commit_in_log2_steps(first_bad: int) -> None:
    judge = Scripted(first_bad)
    result = search(COMMITS, judge)
    assert result.outcome == FOUND and result.first_bad == f"c{first_bad}"
    assert result.candidates == [f"c{first_bad}"]
    # 7 commits between the ends: 3 halvings, then the pass below the answer and the answer's
    # own regression (the bad end's was the ends') measured again with more workers.
    assert len(result.steps) <= 5
    looks = [(s.commit, s.attempt, s.verdict) for s in result.steps if s.role == "confirm"]
    below = [(f"c{first_bad - 1}", 1, PASS)] if first_bad > 0 else []
    named = [(f"c{first_bad}", 1, REGRESSION)] if first_bad < 7 else []
    assert looks == below + named and result.confirmed and result.regression_confirmed
    assert result.last_good == (f"c{first_bad - 1}" if first_bad else None)
    assert "c7" not in [commit for commit, _ in judge.calls]  # the bad end is not measured again


def test_a_regression_already_at_the_first_commit_after_good() -> None:
    result = search(COMMITS, Scripted(0))
    assert result.first_bad == "c0" and result.last_good is None
    single = search(["only"], lambda commit, attempt: Judgement(PASS))
    assert single.outcome == FOUND and single.first_bad == "only" and single.steps == []


def test_good_equal_to_bad_leaves_nothing_to_search() -> None:
    judge = Scripted(0)
    result = search([], judge)
    assert result.outcome == EMPTY and result.first_bad is None and judge.calls == []


def test_an_inconclusive_midpoint_is_measured_again_with_more_turns() -> None:
    judge = Scripted(5, {"c3": [INCONCLUSIVE, INCONCLUSIVE, PASS]})
    result = search(COMMITS, judge, Policy(attempts=3))
    assert result.first_bad == "c5"
    assert [(s.commit, s.attempt, s.verdict) for s in result.steps if s.commit == "c3"] == [
        ("c3", 0, INCONCLUSIVE),
        ("c3", 1, INCONCLUSIVE),
        ("c3", 2, PASS),
    ]
    assert result.inconclusive == []


def test_a_noisy_pass_past_the_slow_commit_is_caught_before_a_commit_is_named() -> None:
    # c4 made it slower; c5 (slow too) first measures as a pass, as one noisy step can. The pass
    # below the answer is measured again with more turns, fails, and the search goes back.
    judge = Scripted(4, {"c5": [PASS, REGRESSION]})
    result = search(COMMITS, judge)
    assert result.outcome == FOUND and result.first_bad == "c4" and result.last_good == "c3"
    assert [(s.commit, s.attempt, s.verdict, s.role) for s in result.steps] == [
        ("c3", 0, PASS, "midpoint"),
        ("c5", 0, PASS, "midpoint"),
        ("c6", 0, REGRESSION, "midpoint"),
        ("c5", 1, REGRESSION, "confirm"),
        ("c4", 0, REGRESSION, "midpoint"),
        ("c3", 1, PASS, "confirm"),
        ("c4", 1, REGRESSION, "confirm"),
    ]


def test_a_false_regression_below_the_slow_commit_is_caught_before_it_is_named() -> None:
    """c3 is unchanged but its first look is a false alarm (each step may give one): named on
    that one verdict, the wrong commit came out with exit 0. Its second look passes, and the
    search goes on to the commit that made it slower."""
    judge = Scripted(6, {"c3": [REGRESSION, PASS]})
    result = search(COMMITS, judge)
    assert result.outcome == FOUND and result.first_bad == "c6" and result.last_good == "c5"
    assert result.confirmed and result.regression_confirmed
    assert ("c3", 1, PASS, "confirm") in [
        (s.commit, s.attempt, s.verdict, s.role) for s in result.steps
    ]
    # A second look that cannot decide leaves the range, never the name.
    undecided = search(COMMITS, Scripted(3, {"c3": [REGRESSION, INCONCLUSIVE]}), Policy(attempts=2))
    assert undecided.outcome == RANGE and undecided.candidates[0] == "c3"
    assert "c3" in undecided.inconclusive


def test_a_second_look_has_more_workers_even_with_one_attempt() -> None:
    judge = Scripted(4)
    result = search(COMMITS, judge, Policy(attempts=1))
    assert result.first_bad == "c4"
    assert [(s.commit, s.attempt) for s in result.steps if s.role == "confirm"] == [
        ("c3", 1),
        ("c4", 1),
    ]


def test_a_pass_that_is_inconclusive_when_measured_again_is_set_aside() -> None:
    judge = Scripted(4, {"c5": [PASS, INCONCLUSIVE]})
    result = search(COMMITS, judge, Policy(attempts=3))
    assert result.first_bad == "c4"
    assert [(s.commit, s.attempt) for s in result.steps if s.commit == "c5"] == [
        ("c5", 0),
        ("c5", 1),
        ("c5", 2),
    ]


def test_a_commit_that_stays_inconclusive_gives_a_range_never_a_guess() -> None:
    # c4 is the first bad one but never measures as such: the answer is c4 or c5.
    judge = Scripted(4, {"c4": [INCONCLUSIVE]})
    result = search(COMMITS, judge, Policy(attempts=2))
    assert result.outcome == RANGE and result.first_bad is None
    assert result.candidates == ["c4", "c5"] and result.last_good == "c3"
    assert result.inconclusive == ["c4"]
    assert judge.calls.count(("c4", 1)) == 1 and ("c4", 2) not in judge.calls


def test_an_unmeasurable_commit_is_skipped_like_git_bisect_skip() -> None:
    # c3 does not import; the search goes around it and still finds c5.
    judge = Scripted(5, {"c3": [SKIP]})
    result = search(COMMITS, judge)
    assert result.first_bad == "c5" and result.skipped == []
    assert [s.attempt for s in result.steps if s.commit == "c3"] == [0]  # a skip is not retried
    # When the skipped commit may be the first bad one, the answer is the range around it.
    around = search(COMMITS, Scripted(4, {"c3": [SKIP]}))
    assert around.outcome == RANGE and around.candidates == ["c3", "c4"]
    assert around.skipped == ["c3"] and around.last_good == "c2"


def test_every_commit_between_skipped_gives_the_whole_range() -> None:
    script = {commit: [SKIP] for commit in COMMITS[:-1]}
    result = search(COMMITS, Scripted(7, script))
    assert result.outcome == RANGE and result.candidates == COMMITS
    assert sorted(result.skipped) == COMMITS[:-1]


def test_a_budget_stops_with_the_range_reached() -> None:
    now = [0.0]

    def judge(commit: str, attempt: int) -> Judgement:
        now[0] += 60.0  # each step takes a minute
        return Scripted(6)(commit, attempt)

    result = search(COMMITS, judge, Policy(budget_seconds=90.0, clock=lambda: now[0]))
    # Two steps start within the budget (at 0 s and 60 s); the third would start at 120 s.
    assert len(result.steps) == 2 and result.budget_hit
    # c3 and c5 passed; c6 (the first bad one) was never measured: the range says c6 or c7.
    assert result.outcome == RANGE and result.candidates == ["c6", "c7"]
    assert result.last_good == "c5" and result.first_bad is None
    # Found before the budget ran out, but the pass below it could not be measured again.
    now[0] = 0.0
    found = search(COMMITS, judge, Policy(budget_seconds=150.0, clock=lambda: now[0]))
    assert found.first_bad == "c6" and not found.confirmed and found.budget_hit
    assert not found.regression_confirmed  # nor c6's own regression
    assert search(COMMITS, Scripted(6)).confirmed


def test_a_pass_left_inconclusive_when_measured_again_widens_the_range_even_at_the_budget() -> None:
    """c3 passed, then measured again with more workers was inconclusive when the budget ran
    out: no longer a known good commit, so c4 is not named; the range says why."""
    now = [0.0]
    script = Scripted(4, {"c3": [PASS, INCONCLUSIVE]})

    def judge(commit: str, attempt: int) -> Judgement:
        now[0] += 10.0
        return script(commit, attempt)

    result = search(COMMITS, judge, Policy(budget_seconds=35.0, clock=lambda: now[0]))
    assert [(s.commit, s.attempt, s.verdict) for s in result.steps][-1] == ("c3", 1, INCONCLUSIVE)
    assert result.budget_hit and result.outcome == RANGE and result.first_bad is None
    assert "c3" in result.inconclusive and result.candidates[-2:] == ["c3", "c4"]


def test_progress_counts_steps_after_the_ends_with_an_eta() -> None:
    seen: list[Progress] = []
    now = [0.0]

    def judge(commit: str, attempt: int) -> Judgement:
        now[0] += 30.0
        return Scripted(2)(commit, attempt)

    policy = Policy(clock=lambda: now[0], progress=seen.append)
    search(COMMITS, judge, policy, steps_before=1)
    assert [p.step for p in seen] == [2, 3, 4, 5, 6]  # 3 halvings and the two second looks
    assert seen[0].about == 6 and seen[0].eta_seconds is None
    assert seen[1].eta_seconds == pytest.approx(120.0)  # 30 s a step, four steps left


def test_the_ends_are_measured_again_while_inconclusive() -> None:
    steps = measure_end(COMMITS, Scripted(0, {"c7": [INCONCLUSIVE, REGRESSION]}))
    assert [(s.commit, s.attempt, s.verdict) for s in steps] == [
        ("c7", 0, INCONCLUSIVE),
        ("c7", 1, REGRESSION),
    ]
    assert measure_end([], Scripted(0)) == []


def test_an_interrupted_search_leaves_its_steps_with_the_caller() -> None:
    """Ctrl-C in the third step: the two steps measured are in the caller's list, and the
    report says interrupted, never "no regression between the ends"."""
    steps: list = []
    scripted = Scripted(6)

    def judge(commit: str, attempt: int) -> Judgement:
        if len(scripted.calls) == 2:
            raise KeyboardInterrupt
        return scripted(commit, attempt)

    with pytest.raises(KeyboardInterrupt):
        search(COMMITS, judge, steps_before=1, steps=steps)
    assert [(s.commit, s.verdict) for s in steps] == [("c3", PASS), ("c5", PASS)]
    ends = measure_end(COMMITS, Scripted(0))
    record = Record(good=Commit("g", "", "good"), commits=[Commit(c, "", c) for c in COMMITS],
                    ends=ends, searched=steps, interrupted=True)  # fmt: skip
    page = markdown(record)
    assert "**Interrupted** after 3 steps: no commit is named." in page
    assert "No regression" not in page and "`c3`" in page and "`c5`" in page  # its steps table
    assert [s["commit"] for s in record.to_dict()["steps"]] == ["c7", "c3", "c5"]
    assert record.to_dict()["interrupted"] is True


def test_an_interrupted_bisect_says_how_to_go_on_from_the_range_reached() -> None:
    """Hours of steps are not lost with the run: the newest pass below the first regression
    that held when measured again, and that regression, are the ends of the command it prints
    (the -k of the ends replaced by the regressed cases). A pass seen once is no good end: the
    resumed bisect would never measure it again, and one noisy pass would hide the regression."""
    steps = search(COMMITS, Scripted(6, {"c5": [INCONCLUSIVE, PASS]})).steps[:3]
    assert [(s.commit, s.verdict) for s in steps] == [
        ("c3", PASS), ("c5", INCONCLUSIVE), ("c5", PASS)
    ]  # fmt: skip
    record = Record(good=Commit("g", "", "good"), commits=[Commit(c, "", c) for c in COMMITS],
                    ends=measure_end(COMMITS, Scripted(0)), searched=steps, interrupted=True,
                    cases=["x-y"], passed=["--rnnbench-python=/p y", "-k", "mxnet"])  # fmt: skip
    assert record.so_far() == ("g", "c7")  # c3 and c5 passed once each
    record.searched.append(dataclasses.replace(steps[2], attempt=1, role="confirm"))
    assert record.so_far() == ("c5", "c7")
    # Two looks that disagree (a regression, then a pass with more workers) make no good end.
    disagree = [dataclasses.replace(steps[0], verdict=v) for v in (REGRESSION, PASS)]
    assert dataclasses.replace(record, searched=disagree).so_far() == ("g", "c7")
    resume = "rnnbench bisect --good c5 --bad c7 -k x-y '--rnnbench-python=/p y'"
    assert record.resume_command() == resume
    page = markdown(record)
    assert "To go on from the range reached: " in page and "--good c5 --bad c7 -k x-y" in page
    record.searched.append(
        dataclasses.replace(steps[0], commit="c6", position=6, verdict=REGRESSION)
    )
    assert record.so_far() == ("c5", "c6")
    # Before the ends regressed there is no range to go on from.
    assert dataclasses.replace(record, cases=[]).resume_command() is None


def test_ends_that_could_not_be_measured_are_said_so() -> None:
    ends = measure_end(COMMITS, lambda commit, attempt: Judgement(SKIP, None, "no results\nmore"))
    record = Record(good=Commit("g", "", "good"), commits=[Commit(c, "", c) for c in COMMITS],
                    ends=ends)  # fmt: skip
    page = markdown(record)
    assert "**The ends could not be measured**: no results." in page
    assert "No regression" not in page


def test_ends_that_stay_inconclusive_are_not_called_no_regression(capsys) -> None:
    """Not knowing is not "not slower": its own words and exit status (7, not 6)."""
    from pytest_rnnbench.cli.bisect import ENDS_INCONCLUSIVE, _ends_not_regressed

    ends = measure_end(COMMITS, lambda commit, attempt: Judgement(INCONCLUSIVE, 0.04, "x"))
    assert len(ends) == 3  # every attempt, with more workers each time
    record = Record(good=Commit("g", "", "good"), commits=[Commit(c, "", c) for c in COMMITS],
                    ends=ends)  # fmt: skip
    page = markdown(record)
    assert "**The ends stayed inconclusive**" in page and "No regression" not in page
    assert _ends_not_regressed(record, ends[-1], attempts=3) == ENDS_INCONCLUSIVE == 7
    out = capsys.readouterr().out
    assert out.startswith("the ends stayed inconclusive: whether c7 against g is slower")
    assert "more workers (--attempts" in out and "--budget" not in out
    # The budget cut the attempts short: more attempts would not have helped, more time would.
    short = dataclasses.replace(record, ends=ends[:2])
    assert _ends_not_regressed(short, ends[1], attempts=3) == ENDS_INCONCLUSIVE
    out = capsys.readouterr().out
    assert "the --budget ran out before its last attempt: a larger --budget would tell" in out


def test_a_judge_answer_outside_the_four_verdicts_is_an_error() -> None:
    with pytest.raises(ValueError, match="improvement"):
        search(COMMITS, lambda commit, attempt: Judgement("improvement"))


# -- one step's helpers ----------------------------------------------------------------------------


def _row(
    case: str, verdict: Optional[str], change: Optional[float] = None, failed: str = ""
) -> Row:
    return Row(
        instance="here", case_id=case, backend="mxnet", gpus=0, batch_size=128, unroll=True,
        dataset="synthetic", status="failed" if failed else "passed", failure=failed,
        verdict=Verdict(verdict, change) if verdict else None,
    )  # fmt: skip


def test_a_step_verdict_from_its_cases(tmp_path: Path) -> None:
    log = tmp_path / "step.log"
    log.write_text("pytest said this\n")
    a, b = "mxnet-gpu0-b128-unroll-synthetic", "mxnet-gpu0-b128-unroll-nietzsche"
    regression = judgement_of([_row(a, "regression", 0.5), _row(b, "inconclusive", 0.02)], 1, log)
    assert regression.verdict == REGRESSION and regression.change == 0.5
    assert f"{a}: regression +50.0%" in regression.detail
    failed = judgement_of([_row(a, "pass", 0.0), _row(b, None, failed="ImportError")], 1, log)
    assert failed.verdict == SKIP and "ImportError" in failed.detail
    assert judgement_of([_row(a, "pass"), _row(b, "improvement")], 0, log).verdict == PASS
    assert judgement_of([_row(a, "pass"), _row(b, "inconclusive")], 0, log).verdict == INCONCLUSIVE
    nothing = judgement_of([], 5, log)
    assert nothing.verdict == SKIP and "pytest said this" in nothing.detail


def test_a_step_is_judged_on_the_step_time_not_on_memory_or_loss(tmp_path: Path) -> None:
    """A case's verdict is the worst of its metrics: a commit that only grew the host memory
    past its tolerance must not be named as the slowdown's."""
    a = "mxnet-gpu0-b128-unroll-synthetic"
    memory_only = Verdict("regression", 0.003, time_outcome="pass")
    row = dataclasses.replace(_row(a, "pass"), verdict=memory_only)
    judged = judgement_of([row], 1, tmp_path / "step.log")
    assert judged.verdict == PASS and f"{a}: pass +0.3%" in judged.detail
    assert regressed_cases([row]) == []
    slower = dataclasses.replace(row, verdict=Verdict("regression", 0.2, time_outcome="regression"))
    assert judgement_of([slower], 1, tmp_path / "step.log").verdict == REGRESSION
    assert regressed_cases([slower]) == [a]


def test_the_midpoints_select_exactly_the_cases_that_regressed_at_the_ends() -> None:
    assert without_k(["-k", "synthetic", "-x", "-knot", "--rnnbench-samples=1"]) == [
        "-x",
        "--rnnbench-samples=1",
    ]
    # `[CASE]` is a whole test id: mxnet-...-synthetic does not also pick a longer id.
    assert selection(["a-b", "c-d"]) == "a-b] or c-d]"
    assert workers_for(["--rnnbench-against-workers", "2"], 0) == {"*": 2}
    assert workers_for(["--rnnbench-against-workers=2"], 2) == {"*": 8}
    assert workers_for([], 1) == {"*": 6, "torch": 12}  # the pr preset's 3 and torch 6, doubled
    assert workers_for([], 5) == {"*": 12, "torch": 12}  # at most MAX_WORKERS
    assert workers_for([], 1, "seed") == {"*": 6}
    # Per backend, over the preset's, each doubled.
    given = ["--rnnbench-against-workers=jax=5"]
    assert workers_for(given, 1) == {"*": 6, "torch": 12, "jax": 10}
    bad = ["--rnnbench-against-workers=jax=x"]
    assert workers_for(bad, 1) == {"*": 6, "torch": 12}  # the step's pytest says why


def test_a_re_measure_starts_from_the_workers_the_steps_pytest_is_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The environment sets them as the command line does; a re-measure never has fewer."""
    monkeypatch.setenv("RNNBENCH_AGAINST_WORKERS", "8")
    assert workers_for([], 0) == {"*": 8} and workers_for([], 1) == {"*": 12}
    assert workers_for(["--rnnbench-against-workers=2"], 1) == {"*": 4}  # the command line wins
    monkeypatch.setenv("RNNBENCH_AGAINST_WORKERS", "16")
    assert workers_for([], 1) == {"*": 16}  # over the cap already: kept, not lowered
    assert bisect_command("a" * 40, "b" * 40, ["x-y"]) == (
        f"rnnbench bisect --good {'a' * 40} --bad {'b' * 40} -k x-y"
    )


# -- the command's refs, on a real repository ------------------------------------------------------


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def _commit_files(repo: Path, *names: str) -> None:
    """One commit per name, each adding an empty keras/NAME.py, with the name as its subject."""
    for name in names:
        (repo / "keras" / f"{name}.py").write_text("")
        _git(repo, "add", "-A")
        _git(repo, "commit", "-q", "-m", name)


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    repo = tmp_path / "keras"
    (repo / "keras").mkdir(parents=True)
    _git(repo, "init", "-q", "-b", "master")
    _git(repo, "config", "user.email", "t@example.invalid")
    _git(repo, "config", "user.name", "t")
    for i in range(3):
        (repo / "keras" / "__init__.py").write_text(f"# {i}\n")
        _git(repo, "add", "-A")
        _git(repo, "commit", "-q", "-m", f"commit {i}")
    _git(repo, "checkout", "-q", "-b", "side", "HEAD~1")
    (repo / "keras" / "side.py").write_text("")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "side")
    _git(repo, "checkout", "-q", "master")
    monkeypatch.chdir(repo)
    return repo


@pytest.mark.parametrize(
    "good, bad, message",
    [
        ("no-such-ref", "master", "--good no-such-ref: no such commit, branch or tag in"),
        ("master~2", "v9.9", "--bad v9.9: no such commit, branch or tag in"),
        ("--all", "master", "--good --all: a ref does not start with '-'"),
        ("master", "master", "are the same commit"),
        ("master", "master~1", "is not an ancestor of --bad"),
        ("side", "master", "is not an ancestor of --bad"),
    ],
)
def test_refs_that_do_not_make_a_range_are_usage_errors(
    repo: Path, capsys: pytest.CaptureFixture[str], good: str, bad: str, message: str
) -> None:
    assert main(["bisect", f"--good={good}", "--bad", bad]) == 2
    err = capsys.readouterr().err
    assert err.startswith("bisect: error: ") and message in err, err


@pytest.mark.parametrize(
    "option, message",
    [
        ("--matrix=bogus", "--matrix bogus: no such matrix preset (accepted: default, seed, pr)"),
        ("--budget=nan", "--budget must be a positive number of minutes"),
        ("--budget=inf", "--budget must be a positive number of minutes"),
        ("--report={blocker}/r.md", "is not a directory"),
        ("--json={blocker}", "is a directory"),
    ],
)
def test_options_that_would_fail_after_the_measuring_are_refused_before_it(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str, message: str
) -> None:
    blocker = tmp_path / ("a-file" if "report" in option else "a-directory")
    if "report" in option:
        blocker.write_text("")
    else:
        blocker.mkdir()
    status = main(
        ["bisect", "--good", "master~2", "--bad", "master", option.format(blocker=blocker)]
    )
    err = capsys.readouterr().err
    assert status == 2 and err.startswith("bisect: error: ") and message in err, err
    assert "first the ends" not in err  # nothing was measured


@pytest.mark.parametrize(
    "passed", ["--rnnbench-json=r.json", "--rnnbench-head", "--rnnbench-matrix=default"]
)
def test_options_the_bisect_sets_for_each_step_are_refused_among_the_passed_ones(
    repo: Path, capsys: pytest.CaptureFixture[str], passed: str
) -> None:
    """Passed last, they would win: every step's results elsewhere (all skips), or one tree
    measured at every step (the first commit named)."""
    status = main(["bisect", "--good", "master~2", "--bad", "master", "--", passed, "x"])
    err = capsys.readouterr().err
    assert status == 2 and f"bisect: error: {passed}: the bisect sets this" in err, err


# -- what resumes an interrupted bisect, and what a step's pytest refused -------------------------


def test_the_resume_command_measures_what_the_interrupted_bisect_measured(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ctrl-C after the ends: the command printed to go on, and the command recorded, read back
    by the bisect's own parser, give the same workload (--matrix), attempts, budget and pytest
    arguments; only the ends' -k becomes the cases that regressed there."""
    from pytest_rnnbench.cli import bisect as bisect_cli

    case = "mxnet-gpu0-b128-unroll-synthetic"

    def interrupted_after_the_ends(*args: object) -> int:  # (args, extra, repo, workdir, record)
        record = args[-1]
        assert isinstance(record, Record)
        record.cases = [case]
        raise KeyboardInterrupt

    monkeypatch.setattr(bisect_cli, "_bisect", interrupted_after_the_ends)
    passed = ["-k", "synthetic", "--rnnbench-python=mxnet=/p y", "--rnnbench-samples", "256"]
    own = ["--matrix=default", "--budget=30", "--attempts=5"]
    record_path = tmp_path / "bisect.json"
    argv = ["bisect", "--good", "master~2", "--bad", "master", *own, "--json", str(record_path)]
    assert main([*argv, *passed]) == 130
    err = capsys.readouterr().err
    resume = err.split("to go on from the range reached: ", 1)[1].strip()
    good, bad = _git(repo, "rev-parse", "master~2"), _git(repo, "rev-parse", "master")
    assert resume == (
        f"rnnbench bisect --good {good} --bad {bad} --matrix=default --attempts=5 --budget=30 "
        f"-k {case} '--rnnbench-python=mxnet=/p y' --rnnbench-samples 256"
    )
    recorded = json.loads(record_path.read_text())["command"]

    seen: list[tuple[argparse.Namespace, list[str]]] = []
    monkeypatch.setattr(bisect_cli, "run", lambda args, extra=None: seen.append((args, extra)) or 0)
    assert main(shlex.split(resume)[1:]) == 0 and main(recorded[1:]) == 0
    (resumed, resumed_extra), (again, again_extra) = seen
    for args in (resumed, again):
        assert (args.matrix, args.attempts, args.budget) == ("default", 5, 30.0)
    assert (resumed.good, resumed.bad, again.good, again.bad) == (good, bad, "master~2", "master")
    assert without_k(resumed_extra) == without_k(passed) and "-k" in resumed_extra
    assert resumed_extra[resumed_extra.index("-k") + 1] == case
    assert again_extra == passed
    # The defaults are left out; a budget is written as given, never rounded.
    args = argparse.Namespace(matrix="pr", attempts=3, budget=None)
    assert bisect_cli.measuring_options(args) == []
    args.budget = 1234567.5
    assert bisect_cli.measuring_options(args) == ["--budget=1234567.5"]


def test_a_bisect_keeps_its_record_as_it_goes_and_says_why_a_commit_was_skipped(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The --json record was written only when the bisect ended: a SIGKILL or a lost machine
    lost hours of steps. It is rewritten before each step, with the command that goes on. A
    skipped commit's reason (its pytest's last lines: the log is removed with the bisect's
    folder) is printed and in the report, not only "could not be measured"."""
    from pytest_rnnbench.cli import bisect as bisect_cli

    record_path, report_path = tmp_path / "bisect.json", tmp_path / "bisect.md"
    good, bad = _git(repo, "rev-parse", "master~2"), _git(repo, "rev-parse", "master")
    seen: dict[str, object] = {}

    def judge(runner: StepRunner, good_end: str, commit: str, attempt: int) -> Judgement:
        seen["extra"] = runner.extra
        if commit == bad:
            return Judgement(REGRESSION, 0.3, "case-a: regression +30.0%")
        seen["record"] = json.loads(record_path.read_text())  # as a kill would leave it
        why = (
            "pytest wrote no results (exit status 137)\nlast lines of pytest's output:\nMemoryError"
        )
        return Judgement(SKIP, None, why)

    monkeypatch.setattr(bisect_cli.StepRunner, "judge", judge)
    monkeypatch.setattr(bisect_cli, "regressed_cases", lambda rows: ["case-a"])
    argv = ["bisect", "--good", good, "--bad", bad, "--json", str(record_path)]
    assert main([*argv, "--report", str(report_path), "--", "-k", "x"]) == 1  # a range
    assert seen["extra"] == ["-k", "x"]  # the separator is no pytest argument
    interim = seen["record"]
    assert isinstance(interim, dict) and interim["running"] is True
    assert interim["exit_status"] is None and [s["commit"] for s in interim["steps"]] == [bad]
    assert interim["resume"] == f"rnnbench bisect --good {good} --bad {bad} -k case-a"
    final = json.loads(record_path.read_text())
    assert final["running"] is False and final["exit_status"] == 1 and final["resume"] is None
    out = capsys.readouterr().out
    assert "skip, no change measured [pytest wrote no results (exit status 137)]" in out
    assert "\n    MemoryError\n" in out
    assert "(skipped: pytest wrote no results (exit status 137))" in report_path.read_text()


def test_a_bisect_that_dies_of_another_exception_still_leaves_its_record(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its stdout gone (the pipe to a killed parent: BrokenPipeError at the next print), the
    bisect ended with its --json still saying "running" and no final record."""
    from pytest_rnnbench.cli import bisect as bisect_cli

    def stdout_gone(*args: object) -> int:  # (args, extra, repo, workdir, record)
        record = args[-1]
        assert isinstance(record, Record)
        record.cases = ["case-a"]
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(bisect_cli, "_bisect", stdout_gone)
    record_path = tmp_path / "bisect.json"
    with pytest.raises(BrokenPipeError):
        main(["bisect", "--good", "master~2", "--bad", "master", "--json", str(record_path)])
    written = json.loads(record_path.read_text())
    assert written["running"] is False and written["interrupted"] is True
    assert written["resume"].startswith("rnnbench bisect --good ")


REFUSED_OPTION = "ERROR: command-line option --rnnbench-against-workers: invalid value 'x': no"
UNKNOWN_OPTION = """\
ERROR: usage: python -m pytest [options] [file_or_dir] [file_or_dir] [...]
python -m pytest: error: unrecognized arguments: --rnnbench-bogus
  inifile: /somewhere/gate.ini
  rootdir: /somewhere

"""


def test_pytest_refusing_its_command_line_is_said_in_its_own_words(tmp_path: Path) -> None:
    """Exit status 4 leaves no results file: the step says pytest's error line, first, rather
    than a results file in a directory that is gone by the time anyone reads it."""
    from pytest_rnnbench.cli.bisect_steps import StepRunner, usage_error

    log = tmp_path / "step.log"
    log.write_text(UNKNOWN_OPTION)
    assert usage_error(log) == "python -m pytest: error: unrecognized arguments: --rnnbench-bogus"
    log.write_text(f"some warning\n{REFUSED_OPTION}\n\n")
    assert usage_error(log) == REFUSED_OPTION
    log.write_text("only this\n")
    assert usage_error(log) == "only this"

    runner = StepRunner(argparse.Namespace(matrix="pr"), [], tmp_path, tmp_path)
    missing = tmp_path / "step-1.json"
    runner.run = lambda good, commit, attempt: (4, missing, log)  # type: ignore
    log.write_text(f"{REFUSED_OPTION}\n")
    judged = runner.judge("g", "c7", 0)
    first, *rest = judged.detail.splitlines()
    assert judged.verdict == SKIP
    assert first == f"pytest refused its command line (exit status 4): {REFUSED_OPTION}"
    assert rest == ["last lines of pytest's output:", REFUSED_OPTION]
    assert str(missing) not in judged.detail and "cannot read" not in judged.detail
    # Another status without a results file: said so, without the temporary path.
    runner.run = lambda good, commit, attempt: (1, missing, log)  # type: ignore
    judged = runner.judge("g", "c7", 0)
    assert judged.detail.splitlines()[0] == "pytest wrote no results (exit status 1)"


def test_ends_pytest_refused_are_said_with_its_error_on_stderr_and_in_the_report(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from pytest_rnnbench.cli.bisect_steps import StepRunner

    def refused(self: StepRunner, good: str, commit: str, attempt: int) -> tuple[int, Path, Path]:
        self.count += 1
        log = self.workdir / f"step-{self.count}.log"
        log.write_text(UNKNOWN_OPTION)
        return 4, self.workdir / f"step-{self.count}.json", log

    monkeypatch.setattr(StepRunner, "run", refused)
    report = tmp_path / "bisect.md"
    argv = ["bisect", "--good", "master~2", "--bad", "master", "--report", str(report)]
    assert main([*argv, "--rnnbench-bogus"]) == 2
    err = capsys.readouterr().err
    said = "pytest refused its command line (exit status 4): python -m pytest: error: " + (
        "unrecognized arguments: --rnnbench-bogus"
    )
    assert f"bisect: error: the ends could not be measured: {said}\n" in err, err
    assert "rnnbench-bisect-" not in err and "results file" not in err
    page = report.read_text()
    assert f"**The ends could not be measured**: {said}." in page, page
    assert "\n    python -m pytest: error: unrecognized arguments: --rnnbench-bogus\n" in page


def test_the_help_lists_every_exit_status_the_docstring_documents(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from pytest_rnnbench.cli import bisect as bisect_cli

    documented = re.findall(r"^ {2}(\d+) ", str(bisect_cli.__doc__), re.MULTILINE)
    assert documented == ["0", "1", "2", "6", "7", "130"]
    with pytest.raises(SystemExit) as exited:
        main(["bisect", "--help"])
    assert exited.value.code == 0
    listed = " ".join(capsys.readouterr().out.split()).split("Exit status:", 1)[1]
    for status in documented:
        assert re.search(rf"(?<![\d.]){status} [a-z]", listed), (status, listed)
    assert "130 interrupted" in listed


def test_outside_a_git_repository_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["bisect", "--good", "a", "--bad", "b"]) == 2
    assert "is not inside a git repository" in capsys.readouterr().err


def test_without_git_on_path_is_a_usage_error_naming_it(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "no-git").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "no-git"))
    assert main(["bisect", "--good", "master~2", "--bad", "master"]) == 2
    err = capsys.readouterr().err
    assert "bisect: error: git was not found on PATH" in err, err


def test_a_missing_git_is_no_unknown_ref(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """resolve() is asked after toplevel(): git gone by then is said in git's words too."""
    from pytest_rnnbench.cli.bisect import UsageError, resolve
    from pytest_rnnbench.run.trees import TreeError

    assert resolve(repo, "--good", "master") == _git(repo, "rev-parse", "master")
    with pytest.raises(UsageError, match="--good no-such-ref: no such commit, branch or tag"):
        resolve(repo, "--good", "no-such-ref")
    (tmp_path / "no-git").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "no-git"))
    with pytest.raises(TreeError, match="git was not found on PATH"):
        resolve(repo, "--good", "master")


def _object(repo: Path, ref: str) -> Path:
    """Where the loose object of the commit `ref` names lies (a fresh repository packs none)."""
    commit = _git(repo, "rev-parse", ref)
    return repo / ".git" / "objects" / commit[:2] / commit[2:]


@pytest.mark.parametrize(
    "damage, gits_words",
    [
        ("corrupt", "is corrupt"),  # --good's commit: rev-parse fails (128), no unknown ref
        ("missing", "error: Could not read"),  # one below it: describing --good fails
    ],
)
def test_a_damaged_repository_is_a_usage_error_in_gits_words(
    repo: Path, capsys: pytest.CaptureFixture[str], damage: str, gits_words: str
) -> None:
    if damage == "corrupt":
        broken = _object(repo, "master~1")
        broken.chmod(0o644)
        broken.write_bytes(broken.read_bytes()[:10])
    else:
        _object(repo, "master~2").unlink()
    assert main(["bisect", "--good", "master~1", "--bad", "master"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("bisect: error: git ") and gits_words in err, err
    assert "no such commit" not in err, err


def test_history_git_cannot_read_is_no_answer_to_whether_good_is_an_ancestor(repo: Path) -> None:
    """git exits 1 for "no", and 128 for an object it lacks. (The good end's own object: whether
    git reads the one below it depended on whether their commit times fell in one second, which
    made this test fail now and then.)"""
    from pytest_rnnbench.cli.bisect import commits_between
    from pytest_rnnbench.run.trees import TreeError

    good, bad = _git(repo, "rev-parse", "master~1"), _git(repo, "rev-parse", "master")
    _object(repo, "master~1").unlink()
    with pytest.raises(TreeError, match="merge-base --is-ancestor .* Not a valid commit") as raised:
        commits_between(repo, good, bad)
    assert "not an ancestor" not in str(raised.value)


def test_the_first_parent_commits_between_the_ends_oldest_first(repo: Path) -> None:
    from pytest_rnnbench.cli.bisect import commits_between

    good, bad = _git(repo, "rev-parse", "master~2"), _git(repo, "rev-parse", "master")
    listed = commits_between(repo, good, bad)
    assert [c.subject for c in listed] == ["commit 1", "commit 2"]
    assert listed[-1].commit == bad and len(listed[0].commit) == 40


def test_commits_before_a_merge_that_brought_good_in_are_not_candidates(repo: Path) -> None:
    """A feature branch that merged master in: `--good` is master (the gate's base), and the
    branch's commits before the merge lack master's changes, so they are not measured against it;
    the merge stands for them."""
    from pytest_rnnbench.cli.bisect import commits_between

    _git(repo, "checkout", "-q", "-b", "feature", "master~2")
    _commit_files(repo, "f1", "f2")
    _git(repo, "merge", "-q", "--no-ff", "-m", "merge master", "master")
    _commit_files(repo, "f3")
    good, bad = _git(repo, "rev-parse", "master"), _git(repo, "rev-parse", "feature")
    assert [c.subject for c in commits_between(repo, good, bad)] == ["merge master", "f3"]
    # Without a merge of good, the branch's own commits are all candidates.
    base = _git(repo, "rev-parse", "master~2")
    listed = commits_between(repo, base, _git(repo, "rev-parse", "feature~2"))
    assert [c.subject for c in listed] == ["f1", "f2"]


def test_a_good_end_inside_a_merged_branch_below_its_tip(repo: Path) -> None:
    """--good on a merged branch's commit below its tip (a release tag with later commits on
    its branch): git's --first-parent --ancestry-path found no commit, and the bisect crashed
    (IndexError, exit 1, nothing written). The merge stands for the branch's later commits and
    the first-parent commits before it, which lack good's changes."""
    from pytest_rnnbench.cli.bisect import commits_between

    _git(repo, "checkout", "-q", "-b", "feat", "master~2")
    _commit_files(repo, "f1", "f2")
    _git(repo, "checkout", "-q", "master")
    _git(repo, "merge", "-q", "--no-ff", "-m", "merge feat", "feat")
    _commit_files(repo, "after")
    good, bad = _git(repo, "rev-parse", "feat~1"), _git(repo, "rev-parse", "master")
    assert [c.subject for c in commits_between(repo, good, bad)] == ["merge feat", "after"]


# -- the history page's ready command ----------------------------------------------------------


def _point(commit: Optional[str], dirty: bool = False, tree: Optional[str] = None):
    from types import SimpleNamespace

    return SimpleNamespace(run=SimpleNamespace(commit=commit, dirty=dirty, tree_commit=tree))


def _analysis(
    batch_size: int = 128,
    dataset: str = "synthetic",
    metric: str = "time",
    gpus: int = 0,
    samples_cap: int = 4096,
):
    from types import SimpleNamespace

    case_id = f"mxnet-gpu{gpus}-b{batch_size}-unroll-{dataset}"
    key = SimpleNamespace(
        case_id=case_id,
        batch_size=batch_size,
        dataset=dataset,
        gpus=gpus,
        samples_cap=samples_cap,
    )
    return SimpleNamespace(series=SimpleNamespace(key=key), metric=SimpleNamespace(name=metric))


SLOWER = SimpleNamespace(change=0.2)


def test_the_history_page_offers_a_bisect_only_between_two_clean_commits() -> None:
    from pytest_rnnbench.report.history_page import _bisect_hint

    good, bad = "1" * 40, "2" * 40
    (line,) = _bisect_hint(_analysis(), SLOWER, _point(good), _point(bad))
    assert line == (
        f"  - find the commit: `rnnbench bisect --good {good} --bad {bad} "
        "-k mxnet-gpu0-b128-unroll-synthetic --rnnbench-gpus=0 --rnnbench-samples=4096`"
    )
    # The series' own GPU count and epochs: the bisect's defaults (0 or 1 GPU by the machine,
    # the preset's epochs) would select no case or measure another workload.
    (line,) = _bisect_hint(_analysis(gpus=4, samples_cap=-1), SLOWER, _point(good), _point(bad))
    assert line.endswith(
        "-k mxnet-gpu4-b128-unroll-synthetic --rnnbench-gpus=4 --rnnbench-samples=full`"
    )
    # A gate run's Keras tree commits are what it measured, ahead of the checkout's.
    (line,) = _bisect_hint(_analysis(), SLOWER, _point("x", tree=good), _point("y", tree=bad))
    assert f"--good {good} --bad {bad}" in line
    # Batch 32 is not in the bisect's default (pr) workload: the command names the seed matrix.
    (line,) = _bisect_hint(_analysis(batch_size=32), SLOWER, _point(good), _point(bad))
    assert " --matrix seed --rnnbench-gpus=0 " in line
    assert _bisect_hint(_analysis(), SLOWER, _point(good, dirty=True), _point(bad)) == []
    assert _bisect_hint(_analysis(), SLOWER, _point(None), _point(bad)) == []
    assert _bisect_hint(_analysis(), SLOWER, _point(good), _point(good)) == []
    # A bisect looks for a step-time slowdown: not for an improvement nor another metric's change.
    assert _bisect_hint(_analysis(), SimpleNamespace(change=-0.2), _point(good), _point(bad)) == []
    assert _bisect_hint(_analysis(metric="rss"), SLOWER, _point(good), _point(bad)) == []
