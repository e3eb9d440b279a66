"""The matrix: case ids, build_matrix, and what pytest collects and skips (issue 2)."""

from __future__ import annotations

import itertools
import json
import textwrap

import pytest

from pytest_rnnbench.run.devices import discover_gpus
from pytest_rnnbench.matrix import BACKENDS, DATASETS, PRESETS, Case, build_matrix

SEED_IDS = {
    f"{backend}-gpu0-b{batch}-{unroll}-{dataset}"
    for backend, batch, unroll, dataset in itertools.product(
        ("tensorflow", "jax", "torch", "mxnet"), (32, 128), ("unroll", "nounroll"),
        ("synthetic", "nietzsche", "wikitext2"))
}


# -- unit ----------------------------------------------------------------------------------------


def test_case_id_is_the_documented_spelling() -> None:
    assert Case("tensorflow", 0, 128, True, "synthetic").id == "tensorflow-gpu0-b128-unroll-synthetic"
    assert Case("mxnet", 4, 32, False, "wikitext2").id == "mxnet-gpu4-b32-nounroll-wikitext2"


def test_case_to_dict_round_trips() -> None:
    case = Case("jax", 2, 64, False, "nietzsche")
    data = case.to_dict()
    assert data == {"id": "jax-gpu2-b64-nounroll-nietzsche", "backend": "jax", "gpus": 2,
                    "batch_size": 64, "unroll": False, "dataset": "nietzsche"}
    assert Case(**{k: v for k, v in data.items() if k != "id"}) == case


def test_cases_are_frozen_and_hashable() -> None:
    case = Case("torch", 0, 128, True, "synthetic")
    with pytest.raises(AttributeError):
        case.batch_size = 32  # type: ignore[misc]
    assert {case, Case("torch", 0, 128, True, "synthetic")} == {case}


def test_seed_matrix_is_the_published_benchmark() -> None:
    seed = PRESETS["seed"]
    cases = build_matrix(BACKENDS, (0,), seed["batch_sizes"], seed["unrolls"], seed["datasets"])
    assert len(cases) == 48
    assert {case.id for case in cases} == SEED_IDS
    assert len({case.id for case in cases}) == 48


def test_build_matrix_order_is_dataset_batch_unroll_gpus_backend() -> None:
    cases = build_matrix(("jax", "torch"), (0, 4), (32, 128), (True, False), DATASETS[:2])
    assert len(cases) == 2 * 2 * 2 * 2 * 2
    assert [c.id for c in cases[:5]] == [
        "jax-gpu0-b32-unroll-synthetic", "torch-gpu0-b32-unroll-synthetic",
        "jax-gpu4-b32-unroll-synthetic", "torch-gpu4-b32-unroll-synthetic",
        "jax-gpu0-b32-nounroll-synthetic",
    ]
    assert cases[-1].id == "torch-gpu4-b128-nounroll-nietzsche"
    # The same inputs give the same list: ids key baselines.
    assert cases == build_matrix(("jax", "torch"), (0, 4), (32, 128), (True, False), DATASETS[:2])


def test_build_matrix_with_an_empty_axis_is_empty() -> None:
    assert build_matrix(BACKENDS, (), (128,), (True,), DATASETS) == []


def test_matrix_module_does_not_import_pytest() -> None:
    import pytest_rnnbench.matrix as matrix

    assert "pytest" not in matrix.__dict__


# -- end to end ----------------------------------------------------------------------------------


def collected_ids(result: pytest.RunResult) -> list[str]:
    return [line.split("[", 1)[1].rstrip("]") for line in result.outlines
            if line.startswith("test_bench.py::test_lstm[")]


def test_collect_seed_matrix_lists_48_cases_fast_without_frameworks(bench: pytest.Pytester, heavy_modules) -> None:
    result = bench.runpytest_subprocess("--co", "-q", "--rnnbench", "--rnnbench-matrix=seed",
                                        "--gpus=0")
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
        f"{b}-gpu0-b128-unroll-{d}" for b in BACKENDS for d in ("synthetic", "nietzsche")}
    assert heavy_modules() == []


def test_plain_run_skips_benchmarks_with_the_reason(bench: pytest.Pytester, heavy_modules) -> None:
    bench.makepyfile(test_other="def test_ordinary():\n    pass\n")
    result = bench.runpytest_subprocess("-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["SKIPPED*benchmark cases run only with --rnnbench*"])
    assert heavy_modules() == []


def test_rnnbench_runs_only_the_benchmark_cases(bench: pytest.Pytester) -> None:
    bench.makepyfile(test_other="def test_ordinary():\n    pass\n")
    result = bench.runpytest_subprocess("--co", "-q", "--rnnbench", "--rnnbench-backends=jax",
                                        "--rnnbench-datasets=synthetic")
    assert collected_ids(result) == ["jax-gpu0-b128-unroll-synthetic"]
    assert "test_ordinary" not in result.stdout.str()
    result.stdout.fnmatch_lines(["*1 deselected*"])


@pytest.mark.parametrize("expression, expected", [
    ("jax and nietzsche", {f"jax-gpu0-b{b}-{u}-nietzsche" for b in (32, 128)
                           for u in ("unroll", "nounroll")}),
    ("b32 and nounroll and wikitext2", {f"{b}-gpu0-b32-nounroll-wikitext2" for b in BACKENDS}),
    ("mxnet-gpu0-b128-unroll-synthetic", {"mxnet-gpu0-b128-unroll-synthetic"}),
])
def test_k_selects_on_case_ids(bench: pytest.Pytester, expression: str, expected: set) -> None:
    result = bench.runpytest_subprocess("--co", "-q", "--rnnbench", "--rnnbench-matrix=seed",
                                        "-k", expression)
    assert set(collected_ids(result)) == expected


def test_gpu_cases_beyond_this_machine_are_skipped_with_the_reason(bench: pytest.Pytester,
                                                                   fake_python) -> None:
    have = discover_gpus().count
    result = bench.runpytest_subprocess(
        "-v", "-rs", "--rnnbench", "--gpus=0,1,16", "--rnnbench-backends=tensorflow",
        "--rnnbench-datasets=synthetic", "--rnnbench-batch-sizes=1", "--rnnbench-json=out.json",
        f"--rnnbench-python=tensorflow={fake_python}")
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
    result = bench.runpytest_subprocess("--co", "-q", "--rnnbench", "--gpus=all",
                                        "--rnnbench-backends=torch", "--rnnbench-datasets=synthetic")
    assert collected_ids(result) == ["torch-gpu0-b128-unroll-synthetic"]


# The core options' entries in `pytest --help` (COLUMNS=100), in their order. Other options of
# the group (reports, baselines) may sit between them; each has its own pinned text elsewhere.
CORE_HELP = textwrap.dedent("""\
    LSTM training benchmarks (pytest-rnnbench):
      --rnnbench            run the LSTM benchmark cases (skipped otherwise).
      --gpus=COUNTS, --rnnbench-gpus=COUNTS
                            GPU counts to benchmark: 0, 4, 0,1,4 or all. Default: 0 without a GPU, 1
                            with one.
      --rnnbench-backends=NAMES
                            backends to benchmark, comma-separated: tensorflow, jax, torch, mxnet.
                            Default: all.
      --rnnbench-batch-sizes=SIZES
                            global batch sizes, comma-separated. Default: 128 (seed matrix: 32,128).
      --rnnbench-unroll=true|false|both
                            LSTM unroll: true, false or both. Default: true (seed matrix: both).
      --rnnbench-datasets=NAMES
                            datasets, comma-separated: synthetic, nietzsche, wikitext2. Default:
                            synthetic,nietzsche (seed matrix: all three).
      --rnnbench-matrix=NAME
                            matrix preset: default, or seed (the published Keras-MXNet RNN benchmark).
      --rnnbench-samples=N  cap the samples per epoch for quick runs (recorded with the result).
      --rnnbench-repeats=N  timed epochs per case after the warm-up. Default: 3.
      --rnnbench-data-dir=DIR
                            directory holding dataset files (nietzsche.txt, wikitext-2-raw-v1.zip) for
                            offline use.
      --rnnbench-cache-dir=DIR
                            where downloads and prepared arrays are cached. Default:
                            ~/.cache/pytest-rnnbench.
      --rnnbench-python=BACKEND=PATH
                            BACKEND=PATH: the interpreter that runs that backend's workers (repeatable).
                            Default: the interpreter running pytest.
      --rnnbench-json=PATH  write every result to this JSON file.
      --rnnbench-timeout=SECONDS
                            per-case wall-clock limit in seconds. Default: 14400.
    """)
CORE_FLAGS = ("--rnnbench ", "--gpus=", "--rnnbench-backends=", "--rnnbench-batch-sizes=",
              "--rnnbench-unroll=", "--rnnbench-datasets=", "--rnnbench-matrix=",
              "--rnnbench-samples=", "--rnnbench-repeats=", "--rnnbench-data-dir=",
              "--rnnbench-cache-dir=", "--rnnbench-python=", "--rnnbench-json=",
              "--rnnbench-timeout=")


def _entries(group: str) -> list[str]:
    """The group's heading, then one text block per option (its flag line and help lines)."""
    entries: list[str] = []
    for line in group.splitlines(keepends=True):
        if not line.startswith("   "):  # a heading or an option's first line
            entries.append(line)
        else:
            entries[-1] += line
    return entries


def test_help_text_of_the_rnnbench_group(pytester: pytest.Pytester,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Pinned on purpose: a change to the options must be a visible change to this text."""
    monkeypatch.setenv("COLUMNS", "100")
    result = pytester.runpytest_subprocess("--help")
    assert result.ret == 0, result.stderr.str()
    text = result.stdout.str()
    start = text.index("LSTM training benchmarks (pytest-rnnbench):")
    end = text.index("\n\n", start)
    entries = _entries(text[start:end + 1])
    core = [entries[0]] + [e for e in entries[1:] if e.strip().startswith(CORE_FLAGS)]
    assert "".join(core) == CORE_HELP
    for key in ("rnnbench_gpus", "rnnbench_backends", "rnnbench_python", "rnnbench_timeout"):
        assert f"  {key} " in text, f"ini key {key} missing from --help"
