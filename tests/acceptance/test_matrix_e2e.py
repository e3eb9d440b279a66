"""The matrix end to end (issue 2): what a pytest process collects and skips, and how fast.

Every test runs pytest in a subprocess (pytester) on a small benchmark module.
"""

from __future__ import annotations

import json

import pytest

from helpers import SEED_IDS
from pytest_rnnbench.backends import BACKENDS
from pytest_rnnbench.run.devices import discover_gpus

pytestmark = pytest.mark.slow


def collected_ids(result: pytest.RunResult) -> list[str]:
    return [
        line.split("[", 1)[1].rstrip("]")
        for line in result.outlines
        if line.startswith("test_bench.py::test_lstm[")
    ]


def test_collect_seed_matrix_lists_48_cases_fast_without_frameworks(
    bench: pytest.Pytester, heavy_modules
) -> None:
    result = bench.runpytest_subprocess(
        "--co", "-q", "--rnnbench", "--rnnbench-matrix=seed", "--rnnbench-gpus=0"
    )
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    ids = collected_ids(result)
    assert len(ids) == 48
    assert set(ids) == SEED_IDS
    result.stdout.fnmatch_lines(["48 tests collected*"])
    assert heavy_modules() == []
    assert result.duration < 5.0, f"collection took {result.duration:.1f} s"


def test_default_matrix_on_a_machine_without_gpus(bench: pytest.Pytester, heavy_modules) -> None:
    if discover_gpus().count:
        pytest.fail("this test describes a machine without GPUs; adapt it for GPU machines")
    result = bench.runpytest_subprocess("--co", "-q", "--rnnbench")
    assert set(collected_ids(result)) == {
        f"{b}-gpu0-b128-unroll-{d}" for b in BACKENDS for d in ("synthetic", "nietzsche")
    }
    assert heavy_modules() == []


def test_plain_run_skips_benchmarks_with_the_reason(bench: pytest.Pytester, heavy_modules) -> None:
    bench.makepyfile(test_other="def test_ordinary():\n    pass\n")
    result = bench.runpytest_subprocess("-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["SKIPPED*benchmark cases run only with --rnnbench*"])
    assert heavy_modules() == []


def test_rnnbench_runs_only_the_benchmark_cases(bench: pytest.Pytester) -> None:
    bench.makepyfile(test_other="def test_ordinary():\n    pass\n")
    result = bench.runpytest_subprocess(
        "--co", "-q", "--rnnbench", "--rnnbench-backends=jax", "--rnnbench-datasets=synthetic"
    )
    assert collected_ids(result) == ["jax-gpu0-b128-unroll-synthetic"]
    assert "test_ordinary" not in result.stdout.str()
    result.stdout.fnmatch_lines(["*1 deselected*"])


@pytest.mark.parametrize(
    "expression, expected",
    [
        (
            "jax and nietzsche",
            {f"jax-gpu0-b{b}-{u}-nietzsche" for b in (32, 128) for u in ("unroll", "nounroll")},
        ),
        ("b32 and nounroll and wikitext2", {f"{b}-gpu0-b32-nounroll-wikitext2" for b in BACKENDS}),
        ("mxnet-gpu0-b128-unroll-synthetic", {"mxnet-gpu0-b128-unroll-synthetic"}),
    ],
)
def test_k_selects_on_case_ids(bench: pytest.Pytester, expression: str, expected: set) -> None:
    result = bench.runpytest_subprocess(
        "--co", "-q", "--rnnbench", "--rnnbench-matrix=seed", "-k", expression
    )
    assert set(collected_ids(result)) == expected


def test_gpu_cases_beyond_this_machine_are_skipped_with_the_reason(
    bench: pytest.Pytester, fake_python
) -> None:
    have = discover_gpus().count
    result = bench.runpytest_subprocess(
        "-v",
        "-rs",
        "--rnnbench",
        "--rnnbench-gpus=0,1,16",
        "--rnnbench-backends=tensorflow",
        "--rnnbench-datasets=synthetic",
        "--rnnbench-batch-sizes=1",
        "--rnnbench-json=out.json",
        f"--rnnbench-python=tensorflow={fake_python}",
    )
    lines = ["*[[]tensorflow-gpu16-b1-unroll-synthetic[]] SKIPPED*"]
    if have == 0:
        lines.append("SKIPPED*needs 1 GPU(s), this machine has 0: *")
    lines.append(f"SKIPPED*needs 16 GPU(s), this machine has {have}*")
    result.stdout.fnmatch_lines(lines)
    # Only the cases that fit this machine reached a worker.
    ran = json.loads((bench.path / "out.json").read_text())["results"]
    expected = {"tensorflow-gpu0-b1-unroll-synthetic"}
    if have:
        expected.add("tensorflow-gpu1-b1-unroll-synthetic")
    assert set(ran) == expected


def test_gpus_all_without_gpus_is_just_cpu(bench: pytest.Pytester) -> None:
    if discover_gpus().count:
        pytest.fail("this test describes a machine without GPUs; adapt it for GPU machines")
    result = bench.runpytest_subprocess(
        "--co",
        "-q",
        "--rnnbench",
        "--rnnbench-gpus=all",
        "--rnnbench-backends=torch",
        "--rnnbench-datasets=synthetic",
    )
    assert collected_ids(result) == ["torch-gpu0-b128-unroll-synthetic"]


@pytest.mark.parametrize("ini", ["", "empty_parameter_set_mark = fail_at_collect\n"])
def test_a_shard_that_holds_no_case_says_so_and_records_none(
    bench: pytest.Pytester, ini: str
) -> None:
    """A CI matrix of more shards than cases: shard 9/10 of the 8 default cases is given no
    fake case (pytest's `NOTSET` item for an empty parameter set, or a collection error under
    fail_at_collect); it says why nothing ran and passes, as the other shards do."""
    bench.makeini(f"[pytest]\n{ini}")
    result = bench.runpytest_subprocess(
        "--rnnbench", "--rnnbench-shard=9/10", "--rnnbench-json=out.json", "-rA"
    )
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    result.stdout.fnmatch_lines(["rnnbench: shard 9/10 holds none of the 8 cases; nothing to run*"])
    assert "NOTSET" not in result.stdout.str() and "no test here uses" not in result.stdout.str()
    written = json.loads((bench.path / "out.json").read_text())
    assert (written["results"], written["cases_selected"]) == ({}, 0)
    assert "not_judged" not in written and not written["failures"]
