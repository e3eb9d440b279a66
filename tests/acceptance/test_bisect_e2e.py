"""`rnnbench bisect` on real Keras code: real git, real workers, a real slowdown among harmless
commits.

The history is the Keras-MXNet package of .venv-mxnet committed as the base, then commits that
change documentation, add code that does nothing, or make the RNN loop of the MXNet backend run
its cell twice on some time steps (benchmarks/bisect_repeat.py builds it with the edits of
benchmarks/keras_trees.py). Every step is a live A/B of two extracted trees, as small as the
gate's own tests (one case, mxnet only, 2 epochs of 8 steps, one worker per side).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from helpers import MXNET_PYTHON, PYTHON, benchmark_script, start_as_a_foreground_job

pytestmark = pytest.mark.slow


bisect_repeat = benchmark_script("bisect_repeat")


def run_bisect(
    repo: Path, tmp_path: Path, good: str, bad: str, *more: str
) -> tuple[int, str, dict, str]:
    """The command in `repo`: its exit status, output, JSON record and markdown report."""
    temp = tmp_path / "tmp"  # where the trees are extracted: it must be empty afterwards
    temp.mkdir()
    command = [
        PYTHON, "-m", "pytest_rnnbench", "bisect", "--good", good, "--bad", bad,
        "--json", str(tmp_path / "bisect.json"), "--report", str(tmp_path / "bisect.md"),
        f"--rnnbench-python=mxnet={MXNET_PYTHON}", *bisect_repeat.QUICK, *more,
    ]  # fmt: skip
    began = time.monotonic()
    done = subprocess.run(
        command,
        cwd=repo,
        env=dict(os.environ, TMPDIR=str(temp)),
        capture_output=True,
        text=True,
        timeout=1200,
    )
    output = done.stdout + done.stderr
    print(f"bisect took {time.monotonic() - began:.0f} s:\n{output}")  # shown with -s or on failure
    assert list(temp.iterdir()) == [], f"extracted trees were left behind\n{output}"
    record = json.loads((tmp_path / "bisect.json").read_text())
    return done.returncode, output, record, (tmp_path / "bisect.md").read_text()


def test_bisect_names_the_one_commit_that_slowed_the_rnn_loop(tmp_path: Path) -> None:
    repo = tmp_path / "keras-apache-mxnet"
    commits = bisect_repeat.build_history(repo, bisect_repeat.DEFAULT_HISTORY)
    assert len(commits) == 9  # the base and eight commits
    (slow,) = [commit for commit, edit in commits if edit.startswith("rnn-work")]
    status, output, record, report = run_bisect(repo, tmp_path, "master~8", "master")
    assert status == 0, output
    assert f"first bad commit: {slow}\n  rnn-work 40\n  author date " in output
    assert "step 1 of about 5" in output and "ETA" in output
    case = "mxnet-gpu0-b128-unroll-synthetic"
    assert record["cases"] == [case] and record["result"]["first_bad"] == slow
    # The bad end was measured against the good end first, and was a real slowdown.
    assert record["ends"][-1]["verdict"] == "regression" and record["ends"][-1]["change"] > 0.2
    steps = record["result"]["steps"]
    assert 2 <= len(steps) <= 7  # 3 halvings, 2 second looks, a re-measure or two
    # The slow commit (not the bad end) was named on two regressions, the second with more workers.
    looks = [(s["commit"], s["attempt"], s["verdict"]) for s in steps if s["role"] == "confirm"]
    assert (slow, 1, "regression") in looks or slow == commits[-1][0], output
    # Every step is a verdict against the good end: slow from the slow commit on, fast before it.
    order = [commit for commit, _ in commits]
    for step in steps:
        if step["verdict"] in ("regression", "pass"):
            after = order.index(step["commit"]) >= order.index(slow)
            assert (step["verdict"] == "regression") == after, (step, output)
    assert f"**First bad commit**: `{slow}`" in report and "| step |" in report


def test_with_two_slow_commits_bisect_names_the_first(tmp_path: Path) -> None:
    repo = tmp_path / "keras-apache-mxnet"
    history = "notes,noop,rnn-work=20,notes,noop,rnn-more=40,notes,noop"
    commits = bisect_repeat.build_history(repo, history)
    first = commits[3][0]
    assert commits[3][1] == "rnn-work=20" and commits[6][1] == "rnn-more=40"
    status, output, record, _ = run_bisect(repo, tmp_path, commits[0][0], commits[-1][0])
    assert status == 0, output
    assert f"first bad commit: {first}\n" in output
    assert record["result"]["first_bad"] == first and record["exit_status"] == 0


def test_commits_that_do_not_import_are_skipped_and_the_answer_is_a_range(tmp_path: Path) -> None:
    """The slow commit lies among commits whose tree does not import: no single commit can be
    named, and the bisect says which ones the first bad commit is among (exit status 1)."""
    repo = tmp_path / "keras-apache-mxnet"
    commits = bisect_repeat.build_history(repo, "notes,break,rnn-work=40,unbreak,notes")
    status, output, record, report = run_bisect(repo, tmp_path, commits[0][0], commits[-1][0])
    assert status == 1, output
    broken, slow, fixed = (commit for commit, _ in commits[2:5])
    result = record["result"]
    assert result["first_bad"] is None and result["candidates"] == [broken, slow, fixed]
    assert result["skipped"] == [broken, slow] and result["last_good"] == commits[1][0]
    assert "keras_module_that_does_not_exist" in output
    assert "the first bad commit is one of these 3 (2 skipped (could not be measured))" in output
    assert "**Narrowed to 3 commits**" in report


def test_no_regression_between_the_ends_stops_before_any_search(tmp_path: Path) -> None:
    repo = tmp_path / "keras-apache-mxnet"
    commits = bisect_repeat.build_history(repo, "notes,noop,notes")
    status, output, record, _ = run_bisect(repo, tmp_path, commits[0][0], commits[-1][0])
    assert record["result"] is None and len(record["ends"]) >= 1
    # A pass is "no regression" (6); ends that stay undecided are said as such (7), never as 6.
    if record["ends"][-1]["verdict"] == "pass":
        assert status == 6 and "no regression between the ends" in output, output
    else:
        assert record["ends"][-1]["verdict"] == "inconclusive"
        assert status == 7 and "the ends stayed inconclusive" in output, output


def test_ctrl_c_during_a_step_stops_the_bisect_and_removes_its_trees(tmp_path: Path) -> None:
    """SIGINT to the whole foreground group, as a terminal sends it, while a midpoint runs."""
    repo = tmp_path / "keras-apache-mxnet"
    commits = bisect_repeat.build_history(repo, "notes,rnn-work=40,notes,noop")
    temp = tmp_path / "tmp"
    temp.mkdir()
    log_path = tmp_path / "bisect.log"
    command = [
        PYTHON, "-m", "pytest_rnnbench", "bisect", "--good", commits[0][0], "--bad", "master",
        "--json", str(tmp_path / "bisect.json"), f"--rnnbench-python=mxnet={MXNET_PYTHON}",
        *bisect_repeat.QUICK,
    ]  # fmt: skip
    with log_path.open("w") as log:
        child = start_as_a_foreground_job(
            command,
            cwd=repo,
            env=dict(os.environ, TMPDIR=str(temp)),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and "step 2 of about" not in log_path.read_text():
            time.sleep(0.2)
        time.sleep(3)  # the midpoint's workers are starting
        os.killpg(child.pid, signal.SIGINT)
        child.wait(timeout=120)
    output = log_path.read_text()
    assert child.returncode == 130 and "bisect: interrupted" in output, output
    assert list(temp.iterdir()) == [], output
    record = json.loads((tmp_path / "bisect.json").read_text())
    assert record["exit_status"] == 130 and record["ends"][-1]["verdict"] == "regression"


def test_a_budget_spent_on_the_ends_stops_with_the_whole_range(tmp_path: Path) -> None:
    repo = tmp_path / "keras-apache-mxnet"
    commits = bisect_repeat.build_history(repo, "notes,rnn-work=40,noop")
    # 3 seconds: the ends take longer, so no midpoint starts.
    status, output, record, report = run_bisect(
        repo, tmp_path, commits[0][0], commits[-1][0], "--budget=0.05"
    )
    assert status == 1, output
    result = record["result"]
    assert result["budget_hit"] and result["steps"] == []
    assert result["candidates"] == [commit for commit, _ in commits[1:]]
    assert "the --budget was reached" in output and "The --budget was reached" in report
