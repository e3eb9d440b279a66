"""Options end to end (issue 2): usage errors on the command line, which source wins, the
environment turning benchmarking on, and the pinned `pytest --help` text, in pytest processes of
their own (pytester)."""

from __future__ import annotations

import textwrap

import pytest

from helpers import BAD_VALUES

pytestmark = pytest.mark.slow


def _flag_of(ini: str) -> str:
    return "--" + ini.replace("_", "-")


@pytest.mark.parametrize(
    "args, env, ini, value, message", [b for b in BAD_VALUES if b[0]], ids=lambda v: None
)
def test_bad_value_on_the_command_line_is_a_usage_error(
    pytester: pytest.Pytester, args, env, ini, value, message
) -> None:
    result = pytester.runpytest_subprocess("--co", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [f"ERROR: command-line option {_flag_of(ini)}: invalid value {value!r}: *{message}*"]
    )


def test_the_error_names_where_the_value_came_from_and_the_cli_wins(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A good command-line value hides a bad environment value, which hides the ini file: the
    error names the source whose value was used, the environment variable over the ini file."""
    ini = pytester.makeini("[pytest]\nrnnbench_batch_sizes = 0\n")
    monkeypatch.setenv("RNNBENCH_BATCH_SIZES", "-1")
    others = ("--co", "--rnnbench", "--rnnbench-backends=jax", "--rnnbench-datasets=synthetic")
    result = pytester.runpytest_subprocess(*others, "--rnnbench-batch-sizes=16")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    result.stdout.fnmatch_lines(["rnnbench: matrix=default backends=jax gpus=0 batch=16 *"])

    from_env = pytester.runpytest_subprocess(*others)
    assert from_env.ret == pytest.ExitCode.USAGE_ERROR
    from_env.stderr.fnmatch_lines(
        ["ERROR: environment variable RNNBENCH_BATCH_SIZES: invalid value '-1': *positive*"]
    )
    assert "ini option" not in from_env.stderr.str() and str(ini) not in from_env.stderr.str()

    monkeypatch.delenv("RNNBENCH_BATCH_SIZES")
    from_ini = pytester.runpytest_subprocess(*others)
    assert from_ini.ret == pytest.ExitCode.USAGE_ERROR
    from_ini.stderr.fnmatch_lines(
        [f"ERROR: ini option rnnbench_batch_sizes in {ini}: invalid value '0': *positive*"]
    )


def test_env_flag_can_turn_benchmarking_on(
    bench: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RNNBENCH=1 turns benchmarking on as --rnnbench does; without it the other RNNBENCH_*
    variables alone do not, and the benchmark is collected without its cases."""
    monkeypatch.setenv("RNNBENCH_BACKENDS", "mxnet")
    monkeypatch.setenv("RNNBENCH_DATASETS", "wikitext2")
    off = bench.runpytest_subprocess("--co", "-q")
    assert off.ret == pytest.ExitCode.OK
    off.stdout.fnmatch_lines(["test_bench.py::test_lstm", "1 test collected*"])
    assert "mxnet-gpu0" not in off.stdout.str()
    monkeypatch.setenv("RNNBENCH", "1")
    result = bench.runpytest_subprocess("--co", "-q")
    result.stdout.fnmatch_lines(["test_bench.py::test_lstm[[]mxnet-gpu0-b128-unroll-wikitext2[]]"])


# -- the help text ---------------------------------------------------------------------------------


# The core options' entries in `pytest --help` (COLUMNS=100), in their order. Other options of
# the group (reports, baselines) may sit between them; each has its own pinned text elsewhere.
CORE_HELP = textwrap.dedent("""\
    LSTM training benchmarks (pytest-rnnbench):
      --rnnbench            run the LSTM benchmark cases (skipped otherwise). Any other rnnbench option
                            given on the command line implies it.
      --rnnbench-gpus=COUNTS
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
                            matrix preset: default; seed (the published Keras-MXNet RNN benchmark); or
                            pr (a pull request on a small CPU runner: batch 128, unroll true and false,
                            synthetic and Nietzsche capped at 4096 samples per epoch).
      --rnnbench-samples=N  cap the samples per epoch for quick runs (recorded with the result), or full
                            for the seed's full epochs. Default: full epochs on a machine with a GPU;
                            16,384 without one (default matrix).
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
                            wall-clock limit in seconds for each worker process (a case's workers train
                            one after another, each within it). Default: 14400.
    """)  # noqa: E501 (pinned help text)


CORE_FLAGS = (
    "--rnnbench ",
    "--rnnbench-gpus=",
    "--rnnbench-backends=",
    "--rnnbench-batch-sizes=",
    "--rnnbench-unroll=",
    "--rnnbench-datasets=",
    "--rnnbench-matrix=",
    "--rnnbench-samples=",
    "--rnnbench-repeats=",
    "--rnnbench-data-dir=",
    "--rnnbench-cache-dir=",
    "--rnnbench-python=",
    "--rnnbench-json=",
    "--rnnbench-timeout=",
)


def _entries(group: str) -> list[str]:
    """The group's heading, then one text block per option (its flag line and help lines)."""
    entries: list[str] = []
    for line in group.splitlines(keepends=True):
        if not line.startswith("   "):  # a heading or an option's first line
            entries.append(line)
        else:
            entries[-1] += line
    return entries


def test_help_text_of_the_rnnbench_group(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pinned on purpose: a change to the options must be a visible change to this text."""
    monkeypatch.setenv("COLUMNS", "100")
    result = pytester.runpytest_subprocess("--help")
    assert result.ret == 0, result.stderr.str()
    text = result.stdout.str()
    start = text.index("LSTM training benchmarks (pytest-rnnbench):")
    end = text.index("\n\n", start)
    entries = _entries(text[start : end + 1])
    core = [entries[0]] + [e for e in entries[1:] if e.strip().startswith(CORE_FLAGS)]
    assert "".join(core) == CORE_HELP
    for key in ("rnnbench_gpus", "rnnbench_backends", "rnnbench_python", "rnnbench_timeout"):
        assert f"  {key} " in text, f"ini key {key} missing from --help"


@pytest.mark.parametrize(
    "env, args",
    [
        ({"RNNBENCH_MAX_RSS": "lots"}, ["--help"]),  # a bad value: a usage error in a test run
        # Under --help pytest leaves typed values unparsed; the environment's still count.
        ({"RNNBENCH": "1", "RNNBENCH_BASE": "no-such-ref"}, ["--help"]),  # would look for it
        ({}, ["--markers", "--rnnbench-base=no-such-ref"]),
    ],
    ids=["bad-environment-value", "benchmarking-on", "markers"],
)
def test_help_and_markers_show_what_they_show_and_start_no_session(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, env: dict, args: list[str]
) -> None:
    """An informational run resolves no rnnbench option: a bad value or a benchmark session
    (GPUs probed, the gate's base looked up) must not stand between the user and the help."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = pytester.runpytest_subprocess(*args)
    assert result.ret == 0, result.stderr.str()
    shown = "--rnnbench-max-rss=SIZE" if "--help" in args else "@pytest.mark.rnnbench:"
    assert shown in result.stdout.str()
    assert "ERROR" not in result.stderr.str()
