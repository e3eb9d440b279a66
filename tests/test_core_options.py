"""Options: the parsers, usage errors from every source, and CLI > env > ini precedence (issue 2)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pytest_rnnbench import options
from pytest_rnnbench.run.devices import GpuInventory
from pytest_rnnbench.options import parse_gpus

# -- parsers ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("text, available, expected", [
    ("0", 0, (0,)),
    ("4", 0, (4,)),
    ("0,1,4", 8, (0, 1, 4)),
    (" 0, 4 ,4", 8, (0, 4)),
    ("all", 0, (0,)),
    ("ALL", 4, (0, 1, 2, 4)),
    ("all", 3, (0, 1, 2, 3)),
    ("all", 16, (0, 1, 2, 4, 8, 16)),
])
def test_parse_gpus(text: str, available: int, expected: tuple) -> None:
    assert parse_gpus(text, available) == expected


@pytest.mark.parametrize("text", ["-1", "two", "", ",", "1.5", "0,-2"])
def test_parse_gpus_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="0, 4, 0,1,4|list"):
        parse_gpus(text, 0)


def test_choices_parse_lists_case_insensitively_and_dedupe() -> None:
    parse = options._choices(("tensorflow", "jax", "torch", "mxnet"))
    assert parse("JAX, torch,jax") == ("jax", "torch")
    with pytest.raises(ValueError, match="unknown theano; accepted: tensorflow, jax, torch, mxnet"):
        parse("jax,theano")


@pytest.mark.parametrize("text, expected", [("128", (128,)), ("32,128", (32, 128)),
                                            ("32 128 32", (32, 128))])
def test_positive_ints(text: str, expected: tuple) -> None:
    assert options._positive_ints(text) == expected


@pytest.mark.parametrize("text", ["0", "-3", "x", "1.5", ""])
def test_positive_ints_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        options._positive_ints(text)


@pytest.mark.parametrize("text, expected", [("10", 10.0), ("0.5", 0.5), ("1e3", 1000.0)])
def test_timeout_parser(text: str, expected: float) -> None:
    assert options._positive_float(text) == expected


@pytest.mark.parametrize("text", ["0", "-1", "nan", "inf", "soon", ""])
def test_timeout_parser_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="positive number of seconds"):
        options._positive_float(text)


@pytest.mark.parametrize("text, expected", [("true", (True,)), ("False", (False,)),
                                            (" both ", (True, False))])
def test_unroll_parser(text: str, expected: tuple) -> None:
    assert options._unroll(text) == expected


def test_unroll_and_matrix_parsers_reject_with_what_is_accepted() -> None:
    with pytest.raises(ValueError, match="accepted: true, false, both"):
        options._unroll("yes")
    with pytest.raises(ValueError, match="accepted: default, seed"):
        options._matrix("huge")
    assert options._matrix(" Seed ") == "seed"


@pytest.mark.parametrize("raw, expected", [
    ("1", True), ("yes", True), ("ON", True), (True, True), ("0", False), ("off", False),
    ("", False), (False, False)])
def test_flag_parser(raw, expected: bool) -> None:
    assert options._flag(raw) is expected


def test_pythons_parser(tmp_path: Path) -> None:
    parsed = options._pythons(["mxnet=.venv-mxnet/bin/python", "JAX = python3.11 "], tmp_path)
    # A path with a slash is relative to where the value came from (not resolved: venv symlinks).
    assert parsed == {"mxnet": str(tmp_path / ".venv-mxnet" / "bin" / "python"),
                      "jax": "python3.11"}
    # Ini values given on one line, separated by ";" (or newlines).
    assert options._pythons("torch=/opt/a/python; jax=/opt/b/python", tmp_path) == {
        "torch": "/opt/a/python", "jax": "/opt/b/python"}


@pytest.mark.parametrize("entry, message", [
    ("jax", "expected BACKEND=PATH"),
    ("jax=", "expected BACKEND=PATH"),
    ("theano=/usr/bin/python3", "unknown backend 'theano'"),
])
def test_pythons_parser_rejects(entry: str, message: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=message):
        options._pythons([entry], tmp_path)


def test_path_parser_is_relative_to_the_source(tmp_path: Path) -> None:
    assert options._path("data", tmp_path) == tmp_path / "data"
    assert options._path("/abs/data", tmp_path) == Path("/abs/data")
    with pytest.raises(ValueError):
        options._path("  ", tmp_path)


def test_every_option_is_an_ini_key_and_all_but_python_have_an_env_variable() -> None:
    for option in options.OPTIONS:
        assert option.ini == option.dest
        assert any(flag.startswith("--rnnbench") for flag in option.flag.split("/"))
        if option.dest != "rnnbench_python":
            assert option.env == option.dest.upper()


# -- usage errors, end to end ----------------------------------------------------------------------

# (command-line arguments, environment variable, ini key, bad value, what the message must say)
BAD_VALUES = [
    (["--gpus=-1"], "RNNBENCH_GPUS", "rnnbench_gpus", "-1", "cannot be negative"),
    (["--gpus=two"], "RNNBENCH_GPUS", "rnnbench_gpus", "two", "expected GPU counts"),
    (["--rnnbench-backends=jax,theano"], "RNNBENCH_BACKENDS", "rnnbench_backends", "jax,theano",
     "unknown theano; accepted: tensorflow, jax, torch, mxnet"),
    (["--rnnbench-batch-sizes=0"], "RNNBENCH_BATCH_SIZES", "rnnbench_batch_sizes", "0",
     "positive whole number"),
    (["--rnnbench-unroll=maybe"], "RNNBENCH_UNROLL", "rnnbench_unroll", "maybe",
     "accepted: true, false, both"),
    (["--rnnbench-datasets=imdb"], "RNNBENCH_DATASETS", "rnnbench_datasets", "imdb",
     "unknown imdb; accepted: synthetic, nietzsche, wikitext2"),
    (["--rnnbench-samples=-5"], "RNNBENCH_SAMPLES", "rnnbench_samples", "-5",
     "positive whole number"),
    (["--rnnbench-repeats=0"], "RNNBENCH_REPEATS", "rnnbench_repeats", "0", "positive whole number"),
    (["--rnnbench-matrix=huge"], "RNNBENCH_MATRIX", "rnnbench_matrix", "huge",
     "accepted: default, seed"),
    (["--rnnbench-timeout=soon"], "RNNBENCH_TIMEOUT", "rnnbench_timeout", "soon",
     "positive number of seconds"),
    (["--rnnbench-timeout=-3"], "RNNBENCH_TIMEOUT", "rnnbench_timeout", "-3",
     "positive number of seconds"),
    (["--rnnbench-python", "jax"], None, "rnnbench_python", "jax", "expected BACKEND=PATH"),
    (["--rnnbench-python", "theano=/usr/bin/python3"], None, "rnnbench_python",
     "theano=/usr/bin/python3", "unknown backend 'theano'"),
    (None, "RNNBENCH", "rnnbench", "maybe", "accepted: 1, true, yes, on, 0, false, no, off"),
]


def _flag_of(ini: str) -> str:
    return {"rnnbench_gpus": "--gpus/--rnnbench-gpus"}.get(ini, "--" + ini.replace("_", "-"))


@pytest.mark.parametrize("args, env, ini, value, message",
                         [b for b in BAD_VALUES if b[0]], ids=lambda v: None)
def test_bad_value_on_the_command_line_is_a_usage_error(pytester: pytest.Pytester, args, env, ini,
                                                        value, message) -> None:
    result = pytester.runpytest_subprocess("--co", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([
        f"ERROR: command-line option {_flag_of(ini)}: invalid value {value!r}: *{message}*"])


@pytest.mark.parametrize("args, env, ini, value, message",
                         [b for b in BAD_VALUES if b[1]], ids=lambda v: None)
def test_bad_value_in_the_environment_is_a_usage_error(pytester: pytest.Pytester,
                                                       monkeypatch: pytest.MonkeyPatch, args, env,
                                                       ini, value, message) -> None:
    monkeypatch.setenv(env, value)
    result = pytester.runpytest_inprocess("--co")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: environment variable {env}: invalid value {value!r}: *{message}*"])


@pytest.mark.parametrize("args, env, ini, value, message", BAD_VALUES, ids=lambda v: None)
def test_bad_value_in_the_ini_file_is_a_usage_error(pytester: pytest.Pytester, args, env, ini,
                                                    value, message) -> None:
    path = pytester.makeini(f"[pytest]\n{ini} = {value}\n")
    result = pytester.runpytest_inprocess("--co")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: ini option {ini} in {path}: invalid value *{message}*"])


def test_the_error_names_where_the_value_came_from_and_the_cli_wins(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """A good command-line value hides a bad environment value, which hides the ini file."""
    pytester.makeini("[pytest]\nrnnbench_batch_sizes = 0\n")
    monkeypatch.setenv("RNNBENCH_BATCH_SIZES", "-1")
    result = pytester.runpytest_subprocess("--co", "--rnnbench", "--rnnbench-batch-sizes=16",
                                           "--rnnbench-backends=jax", "--rnnbench-datasets=synthetic")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    result.stdout.fnmatch_lines(["rnnbench: matrix=default backends=jax gpus=0 batch=16 *"])


# -- precedence: command line > environment > ini > preset ----------------------------------------


def settings_for(pytester: pytest.Pytester, *args: str):
    from pytest_rnnbench.plugin import SETTINGS_KEY

    config = pytester.parseconfigure(*args)
    return config.stash[SETTINGS_KEY]


def test_precedence_cli_env_ini(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makeini("[pytest]\nrnnbench_batch_sizes = 64\nrnnbench_timeout = 30\n"
                     "rnnbench_backends = torch\nrnnbench_samples = 100\n")
    assert settings_for(pytester).batch_sizes == (64,)
    monkeypatch.setenv("RNNBENCH_BATCH_SIZES", "32")
    monkeypatch.setenv("RNNBENCH_TIMEOUT", "20")
    settings = settings_for(pytester)
    assert (settings.batch_sizes, settings.timeout_s, settings.backends, settings.samples) == (
        (32,), 20.0, ("torch",), 100)
    settings = settings_for(pytester, "--rnnbench-batch-sizes=16", "--rnnbench-timeout=10")
    assert (settings.batch_sizes, settings.timeout_s) == ((16,), 10.0)


def test_finer_options_override_the_matrix_preset(pytester: pytest.Pytester) -> None:
    settings = settings_for(pytester, "--rnnbench-matrix=seed", "--rnnbench-batch-sizes=64")
    assert settings.matrix == "seed"
    assert settings.batch_sizes == (64,)
    assert settings.unrolls == (True, False)
    assert settings.datasets == ("synthetic", "nietzsche", "wikitext2")


def test_defaults(pytester: pytest.Pytester) -> None:
    settings = settings_for(pytester)
    assert not settings.enabled
    assert settings.gpu_counts == (0,)
    assert settings.backends == ("tensorflow", "jax", "torch", "mxnet")
    assert settings.batch_sizes == (128,)
    assert settings.unrolls == (True,)
    assert settings.datasets == ("synthetic", "nietzsche")
    assert settings.samples is None
    assert settings.timeout_s == options.DEFAULT_TIMEOUT_S


def test_paths_are_relative_to_where_they_were_given(pytester: pytest.Pytester,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makeini("[pytest]\nrnnbench_data_dir = data\n"
                     "rnnbench_python = mxnet=.venv-mxnet/bin/python\n")
    sub = pytester.mkdir("sub")
    monkeypatch.chdir(sub)
    settings = settings_for(pytester, "--rnnbench-json=out.json")
    assert settings.data_dir == pytester.path / "data"
    assert settings.pythons == {"mxnet": str(pytester.path / ".venv-mxnet" / "bin" / "python")}
    assert settings.json_path == sub / "out.json"


def test_rnnbench_from_the_environment_enables_and_discovers_gpus(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """RNNBENCH=1 must behave as --rnnbench, GPU default included (1 GPU on a GPU machine)."""
    from pytest_rnnbench.run import devices

    two = GpuInventory(count=2, names=("Fake GPU", "Fake GPU"))
    monkeypatch.setattr(devices, "discover_gpus", lambda: two)
    monkeypatch.setenv("RNNBENCH", "1")
    settings = settings_for(pytester)
    assert settings.enabled
    assert settings.available_gpus == 2
    assert settings.gpu_counts == (1,)
    monkeypatch.delenv("RNNBENCH")
    pytester.makeini("[pytest]\nrnnbench = true\n")
    assert settings_for(pytester).gpu_counts == (1,)
    pytester.makeini("[pytest]\nrnnbench = false\n")
    assert not settings_for(pytester).enabled
    assert settings_for(pytester, "--rnnbench").gpu_counts == (1,)


def test_env_flag_can_turn_benchmarking_on(bench: pytest.Pytester,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RNNBENCH", "1")
    monkeypatch.setenv("RNNBENCH_BACKENDS", "mxnet")
    monkeypatch.setenv("RNNBENCH_DATASETS", "wikitext2")
    result = bench.runpytest_subprocess("--co", "-q")
    result.stdout.fnmatch_lines(["test_bench.py::test_lstm[[]mxnet-gpu0-b128-unroll-wikitext2[]]"])
    assert os.environ["RNNBENCH"] == "1"
