"""The benchmarking session's own messages, end to end (pytest in a subprocess)."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.slow

HINT = (
    "rnnbench: no benchmark case was selected (no test here uses the rnnbench fixture); "
    # The program is this interpreter's pytest as the shell would reach it (`pytest`, or
    # `PYTHON -m pytest` when the `pytest` on PATH is another one's): see invocation.py.
    "to run the seed's benchmark suite: *pytest --rnnbench --pyargs pytest_rnnbench.suite"
)


def test_rnnbench_without_a_benchmark_case_says_how_to_run_the_seed_suite(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_plain="def test_ok():\n    assert True\n")
    pytester.makeini("[pytest]\n")
    result = pytester.runpytest_subprocess("--rnnbench", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED  # the plain test is deselected
    result.stdout.fnmatch_lines([HINT])  # through the terminal reporter, not a bare print
    assert "no benchmark case was selected" not in result.stderr.str()


# TensorFlow's synthetic cases, skipped: no worker runs.
SKIPPED = [
    "--rnnbench",
    "--rnnbench-backends=tensorflow",
    "--rnnbench-datasets=synthetic",
    "--rnnbench-python=tensorflow=/no/such/python",
    "-p",
    "no:cacheprovider",
]


def test_a_run_with_benchmark_cases_gives_no_such_hint(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_bench="def test_lstm(rnnbench):\n    rnnbench()\n")
    pytester.makeini("[pytest]\n")
    result = pytester.runpytest_subprocess(*SKIPPED, "--rnnbench-batch-sizes=32")
    result.assert_outcomes(skipped=1)
    assert "no benchmark case was selected" not in result.stdout.str()


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["alone", "xdist"])
def test_cases_all_deselected_by_k_are_said_to_be_so_not_to_be_missing(
    pytester: pytest.Pytester, xdist: list[str]
) -> None:
    """The 8 default cases collected and -k leaving none: the run says so, not that no test
    uses the fixture (under pytest-xdist the controller hears it from its workers)."""
    pytester.makepyfile(test_bench="def test_lstm(rnnbench):\n    rnnbench()\n")
    pytester.makeini("[pytest]\n")
    result = pytester.runpytest_subprocess(
        "--rnnbench", "-k", "nomatch", "-p", "no:cacheprovider", *xdist
    )
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    result.stdout.fnmatch_lines(
        ["rnnbench: -k/-m deselected all 8 benchmark cases collected; none ran"]
    )
    assert "no benchmark case was selected" not in result.stdout.str()


ONE_CASE = [
    "--rnnbench",
    "--rnnbench-backends=tensorflow",
    "--rnnbench-datasets=synthetic",
    "--rnnbench-batch-sizes=1",
    "--rnnbench-unroll=true",
    "-p",
    "no:cacheprovider",
]


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["alone", "xdist"])
def test_a_second_benchmark_test_of_a_case_fails_and_the_first_alone_is_measured(
    pytester: pytest.Pytester, fake_python, xdist: list[str]
) -> None:
    """Both are given every case: the second's results replaced the first's, and a save
    stored two sessions of one run (a spread that understates the machine's)."""
    pytester.makepyfile(
        test_a="def test_lstm(rnnbench):\n    rnnbench()\n",
        test_b="def test_other(rnnbench):\n    rnnbench()\n",
    )
    pytester.makeini("[pytest]\n")
    worker = f"--rnnbench-python=tensorflow={fake_python}"
    both = pytester.runpytest_subprocess(*ONE_CASE, worker, "--rnnbench-save-baseline", *xdist)
    both.assert_outcomes(passed=1, failed=1)
    both.stdout.fnmatch_lines(
        [
            "*tensorflow-gpu0-b1-unroll-synthetic: not measured: "
            "test_a.py::test_lstm[[]*[]] measures it in this run*select one*"
        ]
    )
    (saved,) = (pytester.path / "baselines").glob("*.json")
    (entry,) = json.loads(saved.read_text())["entries"].values()
    assert len(entry["sessions"]) == 1  # one run, one session
    judged = pytester.runpytest_subprocess(*ONE_CASE, worker, *xdist, "--rnnbench-json=r.json")
    judged.assert_outcomes(passed=1, failed=1)
    # The family is the cases judged: the second test's fail unmeasured, at no share of it.
    document = json.loads((pytester.path / "r.json").read_text())
    (verdict,) = document["verdicts"].values()
    assert verdict["family"]["cases"] == 1
    # Two tests selected; under pytest-xdist the controller, which collects nothing, hears it.
    assert document["cases_selected"] == 2
    one = pytester.runpytest_subprocess(*ONE_CASE, worker, "test_b.py")
    one.assert_outcomes(passed=1)


def test_a_second_call_in_one_test_fails_it_and_keeps_the_first_measurement(
    pytester: pytest.Pytester, fake_python
) -> None:
    pytester.makepyfile(test_bench="def test_lstm(rnnbench):\n    rnnbench()\n    rnnbench()\n")
    pytester.makeini("[pytest]\n")
    twice = pytester.runpytest_subprocess(
        *ONE_CASE, f"--rnnbench-python=tensorflow={fake_python}", "--rnnbench-json=r.json"
    )
    twice.assert_outcomes(failed=1)
    twice.stdout.fnmatch_lines(
        [
            "*tensorflow-gpu0-b1-unroll-synthetic: measured already in this run (rnnbench() called"
            " twice?)*"
        ]
    )
    assert "tensorflow-gpu0-b1-unroll-synthetic" in (pytester.path / "r.json").read_text()


def test_a_shard_s_family_is_the_whole_matrix(
    pytester: pytest.Pytester, fake_python, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Shards merged by `report` are one run: each judged at 1%/its own cases, N shards held
    about N%."""
    pytester.makepyfile(test_bench="def test_lstm(rnnbench):\n    rnnbench()\n")
    pytester.makeini("[pytest]\n")
    monkeypatch.setenv("FAKE_MODE", "ok")
    shard = pytester.runpytest_subprocess(
        *ONE_CASE,
        f"--rnnbench-python=tensorflow={fake_python}",
        "--rnnbench-batch-sizes=4,2,1",
        "--rnnbench-shard=1/3",
    )
    shard.assert_outcomes(passed=1)
    shard.stdout.fnmatch_lines(["rnnbench: *each of its 3 cases is judged at 0.0033 (Bonferroni)"])


def test_a_case_that_cannot_run_here_takes_no_share_of_the_family(
    pytester: pytest.Pytester, fake_python, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A backend that its interpreter lacks (a project that installed one backend, the default
    matrix's four) is never judged: the cases that can run share the whole 1%."""
    pytester.makepyfile(test_bench="def test_lstm(rnnbench):\n    rnnbench()\n")
    pytester.makeini("[pytest]\n")
    monkeypatch.setenv("FAKE_MODE", "ok")
    run = pytester.runpytest_subprocess(
        *ONE_CASE,
        "--rnnbench-backends=tensorflow,jax",
        f"--rnnbench-python=tensorflow={fake_python}",
        "--rnnbench-python=jax=/no/such/python",
    )
    run.assert_outcomes(passed=1, skipped=1)
    run.stdout.fnmatch_lines(["rnnbench: *each of its 1 case is judged at 0.01 (Bonferroni)"])
