"""Options (the options package): the parsers, the table's rows against Settings, the conflict
rows, usage errors from the environment and the ini file, and CLI > env > ini precedence (issue
2), all in this process.

The command-line usage errors, which need a pytest process of their own, and the help text run in
tests/acceptance/test_options_e2e.py.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest

from helpers import BAD_VALUES
from pytest_rnnbench import options
from pytest_rnnbench.matrix import CPU_SAMPLES, PRESETS
from pytest_rnnbench.metrics import METRICS
from pytest_rnnbench.options import conflicts, parse_gpus, parsers
from pytest_rnnbench.options.option import Context
from pytest_rnnbench.run.devices import GpuInventory
from pytest_rnnbench.settings import STORED_WORKERS

# -- parsers ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, available, expected",
    [
        ("0", 0, (0,)),
        ("4", 0, (4,)),
        ("0,1,4", 8, (0, 1, 4)),
        (" 0, 4 ,4", 8, (0, 4)),
        ("all", 0, (0,)),
        ("ALL", 4, (0, 1, 2, 4)),
        ("all", 3, (0, 1, 2, 3)),
        ("all", 16, (0, 1, 2, 4, 8, 16)),
    ],
)
def test_parse_gpus(text: str, available: int, expected: tuple) -> None:
    assert parse_gpus(text, available) == expected


@pytest.mark.parametrize("text", ["-1", "two", "", ",", "1.5", "0,-2"])
def test_parse_gpus_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="0, 4, 0,1,4|list"):
        parse_gpus(text, 0)


def test_choices_parse_lists_case_insensitively_and_dedupe() -> None:
    parse = parsers.choices(("tensorflow", "jax", "torch", "mxnet"))
    assert parse("JAX, torch,jax") == ("jax", "torch")
    with pytest.raises(ValueError, match="unknown theano; accepted: tensorflow, jax, torch, mxnet"):
        parse("jax,theano")


@pytest.mark.parametrize(
    "text, expected", [("128", (128,)), ("32,128", (32, 128)), ("32 128 32", (32, 128))]
)
def test_positive_ints(text: str, expected: tuple) -> None:
    assert parsers.positive_ints(text) == expected


@pytest.mark.parametrize("text", ["0", "-3", "x", "1.5", ""])
def test_positive_ints_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parsers.positive_ints(text)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("5", {"*": 5}),
        ("torch=6", {"torch": 6}),
        ("2, TORCH=6,jax=4", {"*": 2, "torch": 6, "jax": 4}),
    ],
)
def test_workers_per_side_for_every_backend_or_some(text: str, expected: dict) -> None:
    per_side = parsers.workers_per_side(text)
    assert per_side == expected
    full = parsers.over_workers(per_side, {"*": 3})
    assert parsers.workers_per_side(parsers.format_workers(full)) == full


@pytest.mark.parametrize(
    "text, message",
    [
        ("0", "'0': expected N or BACKEND=N"),
        ("torch=", "'torch=': expected N or BACKEND=N"),
        ("theano=3", "unknown backend 'theano'; accepted: tensorflow, jax, torch, mxnet"),
        ("", "expected a comma-separated list"),
    ],
)
def test_workers_per_side_rejects(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parsers.workers_per_side(text)


def test_thread_pools_parser_takes_steady_or_default() -> None:
    assert parsers.thread_pools("Steady") == "steady"
    assert parsers.thread_pools("default") == "default"
    for bad in ("", "1", "all"):
        with pytest.raises(ValueError, match="steady, default"):
            parsers.thread_pools(bad)


def test_saved_and_judged_runs_default_to_several_workers() -> None:
    # A judged run is a session like the stored ones: one process alone can run far slower.
    assert options.Settings(save_baseline=True).stored_workers == STORED_WORKERS > 1
    assert options.Settings().stored_workers == STORED_WORKERS
    assert options.Settings(save_baseline=True, workers=1).stored_workers == 1
    assert options.Settings(workers=2).stored_workers == 2


@pytest.mark.parametrize("text, expected", [("10", 10.0), ("0.5", 0.5), ("1e3", 1000.0)])
def test_timeout_parser(text: str, expected: float) -> None:
    assert parsers.positive_float(text) == expected


@pytest.mark.parametrize("text", ["0", "-1", "nan", "inf", "soon", ""])
def test_timeout_parser_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="positive number of seconds"):
        parsers.positive_float(text)


@pytest.mark.parametrize(
    "text, expected", [("true", (True,)), ("False", (False,)), (" both ", (True, False))]
)
def test_unroll_parser(text: str, expected: tuple) -> None:
    assert parsers.unroll(text) == expected


def test_unroll_and_matrix_parsers_reject_with_what_is_accepted() -> None:
    with pytest.raises(ValueError, match="accepted: true, false, both"):
        parsers.unroll("yes")
    with pytest.raises(ValueError, match="accepted: default, seed"):
        parsers.matrix("huge")
    assert parsers.matrix(" Seed ") == "seed"


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("1", True),
        ("yes", True),
        ("ON", True),
        (True, True),
        ("0", False),
        ("off", False),
        ("", False),
        (False, False),
    ],
)
def test_flag_parser(raw, expected: bool) -> None:
    assert parsers.flag(raw) is expected


def test_pythons_parser(tmp_path: Path) -> None:
    parsed = parsers.pythons(["mxnet=.venv-mxnet/bin/python", "JAX = python3.11 "], tmp_path)
    # A path with a slash is relative to where the value came from (not resolved: venv symlinks).
    assert parsed == {
        "mxnet": str(tmp_path / ".venv-mxnet" / "bin" / "python"),
        "jax": "python3.11",
    }
    # Ini values given on one line, separated by ";" (or newlines).
    assert parsers.pythons("torch=/opt/a/python; jax=/opt/b/python", tmp_path) == {
        "torch": "/opt/a/python",
        "jax": "/opt/b/python",
    }


@pytest.mark.parametrize(
    "entry, message",
    [
        ("jax", "expected BACKEND=PATH"),
        ("jax=", "expected BACKEND=PATH"),
        ("theano=/usr/bin/python3", "unknown backend 'theano'"),
        ("*=/usr/bin/python3", "unknown backend '\\*'"),  # kept, and never used
    ],
)
def test_pythons_parser_rejects(entry: str, message: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=message):
        parsers.pythons([entry], tmp_path)


def test_path_parser_is_relative_to_the_source(tmp_path: Path) -> None:
    assert parsers.path("data", tmp_path) == tmp_path / "data"
    assert parsers.path("/abs/data", tmp_path) == Path("/abs/data")
    with pytest.raises(ValueError):
        parsers.path("  ", tmp_path)


def test_every_option_is_an_ini_key_and_all_but_python_have_an_env_variable() -> None:
    for option in options.OPTIONS:
        assert option.ini == option.dest
        assert any(flag.startswith("--rnnbench") for flag in option.flag.split("/"))
        if option.dest != "rnnbench_python":
            assert option.env == option.dest.upper()


# -- the table's rows against Settings ---------------------------------------------------------

# Settings fields that no row fills: resolve works them out from the run itself.
_FROM_THE_RUN = {"implied_by", "available_gpus", "rerun_args", "keyword", "program"}


def test_every_row_fills_settings_fields_and_every_field_has_a_row() -> None:
    fields = {field.name for field in dataclasses.fields(options.Settings)}
    assert all(option.fields for option in options.OPTIONS)
    filled = {name for option in options.OPTIONS for name in option.fields}
    assert filled <= fields
    assert fields - filled == _FROM_THE_RUN


def test_every_rows_default_is_the_settings_default() -> None:
    """Without any option, a machine without a GPU and the default matrix give Settings' own
    defaults, except the one Settings cannot know: the cap on epochs without a GPU."""
    settings = options.Settings()
    no_gpu, one_gpu = Context(0, PRESETS["default"]), Context(1, PRESETS["default"])
    for option in options.OPTIONS:
        expected = tuple(getattr(settings, name) for name in option.fields)
        if option.key is not None:  # unset: left out, the metric's own default applies
            assert option.key not in expected[0], option.dest
            continue
        found = option.default_for(no_gpu)
        if option.dest == "rnnbench_samples":
            assert found == (CPU_SAMPLES, "no-gpu")
            found = option.default_for(one_gpu)
        assert (found if len(option.fields) > 1 else (found,)) == expected, option.dest


def test_the_tolerance_options_are_the_metric_registrys(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [option for option in options.OPTIONS if option.key is not None]
    assert [(row.dest, row.key) for row in rows] == [
        (metric.tolerance_ini, name) for name, metric in METRICS.items()
    ]
    monkeypatch.setenv("RNNBENCH_TOLERANCE_LOSS", "0.3")
    settings = resolved(pytester, "--rnnbench-tolerance-gpu-memory=15%")
    assert settings.tolerances == {"gpu_peak_memory": 0.15, "final_loss": 0.3}
    assert resolved(pytester, "--rnnbench-tolerance-time=0").tolerances["step_time"] == 0.0


# -- conflicts -----------------------------------------------------------------------------------

# A value that sets each field a conflict row names (differs from the Settings default).
_SET = {
    "save_baseline": True,
    "reset_baseline": True,
    "require_baseline": True,
    "inject_slowdown": 1.1,
    "against": {"*": "python3"},
    "preallocate": True,
    "base": "main",
    "head": "../keras",
    "base_dir": "../base-keras",
    "workers": 3,
}


@pytest.mark.parametrize(
    "conflict", conflicts.CONFLICTS, ids=lambda c: "+".join(c.together + c.without)
)
def test_each_conflict_row_fires_with_its_message(conflict: conflicts.Conflict) -> None:
    with pytest.raises(pytest.UsageError) as raised:
        conflicts.check(options.Settings(**{name: _SET[name] for name in conflict.together}))
    assert str(raised.value) == conflict.message
    assert "drop one of them" in conflict.message or "needs" in conflict.message
    for lacking in conflict.without:  # what it lacked, given, settles it
        both = {name: _SET[name] for name in (*conflict.together, lacking)}
        conflicts.check(options.Settings(**both))
    if len(conflict.together) > 1:  # each of them alone is fine
        for name in conflict.together:
            conflicts.check(options.Settings(**{name: _SET[name]}))


def test_two_outputs_of_one_path_stop_the_run(tmp_path: Path) -> None:
    """The results file ended up holding the pytest-benchmark export, found after the run."""
    same = tmp_path / "same.json"
    with pytest.raises(pytest.UsageError) as raised:
        conflicts.check(options.Settings(json_path=same, benchmark_json_path=same))
    assert str(raised.value) == (
        f"--rnnbench-json and --rnnbench-benchmark-json are both {same}: one would replace the "
        "other; give each its own path"
    )
    with pytest.raises(pytest.UsageError, match="--rnnbench-report and --rnnbench-comment"):
        conflicts.check(
            options.Settings(report_path=tmp_path / "r.md", comment_path=tmp_path / "." / "r.md")
        )
    conflicts.check(options.Settings(json_path=same, benchmark_json_path=tmp_path / "b.json"))


def test_a_conflict_from_the_ini_file_and_the_command_line_stops_the_run(
    pytester: pytest.Pytester,
) -> None:
    ini = pytester.makeini("[pytest]\nrnnbench_inject_slowdown = 1.2\n")
    with pytest.raises(pytest.UsageError) as raised:
        resolved(pytester, "--rnnbench-save-baseline")
    assert str(raised.value) == (
        "--rnnbench-save-baseline with --rnnbench-inject-slowdown would record an injected "
        "slowdown as the baseline; drop one of them (set by: command-line option "
        f"--rnnbench-save-baseline; ini option rnnbench_inject_slowdown in {ini})"
    )
    # An injected factor of 1 is no slowdown: nothing to refuse.
    assert resolved(pytester, "--rnnbench-save-baseline", "--rnnbench-inject-slowdown=1").enabled


# -- usage errors from the environment and the ini file --------------------------------------------


@pytest.mark.parametrize(
    "args, env, ini, value, message", [b for b in BAD_VALUES if b[1]], ids=lambda v: None
)
def test_bad_value_in_the_environment_is_a_usage_error(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, args, env, ini, value, message
) -> None:
    monkeypatch.setenv(env, value)
    result = pytester.runpytest_inprocess("--co")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [f"ERROR: environment variable {env}: invalid value {value!r}: *{message}*"]
    )


@pytest.mark.parametrize("args, env, ini, value, message", BAD_VALUES, ids=lambda v: None)
def test_bad_value_in_the_ini_file_is_a_usage_error(
    pytester: pytest.Pytester, args, env, ini, value, message
) -> None:
    path = pytester.makeini(f"[pytest]\n{ini} = {value}\n")
    result = pytester.runpytest_inprocess("--co")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: ini option {ini} in {path}: invalid value *{message}*"])


def test_simulated_devices_may_be_written_out_as_0_the_default() -> None:
    assert parsers.devices_to_simulate("0") == 0 and parsers.devices_to_simulate(" 4 ") == 4
    with pytest.raises(ValueError, match="expected a whole number"):
        parsers.devices_to_simulate("-1")


def test_a_toml_list_for_a_text_key_is_a_usage_error_even_in_a_plain_run(
    pytester: pytest.Pytester,
) -> None:
    """pytest passes [tool.pytest.ini_options] lists through for text keys: an INTERNALERROR in
    every run (a list for a path made a folder named "['bl']")."""
    pytester.makepyprojecttoml(
        '[tool.pytest.ini_options]\nrnnbench_backends = ["tensorflow", "jax"]\n'
        # pytest's own deprecation of the very list refused here (a TypeError in pytest 10)
        'filterwarnings = ["ignore:Passing a value that is not a string"]\n'
    )
    pytester.makepyfile("def test_ok():\n    pass\n")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: ini option rnnbench_backends in *pyproject.toml: a list where text is "
            "expected: write 'tensorflow,jax'"
        ]
    )


@pytest.mark.skipif(pytest.version_tuple < (9, 2), reason="typed ini keys came in pytest 9.2")
def test_native_toml_values_are_read_as_the_text_an_ini_file_gives(
    pytester: pytest.Pytester,
) -> None:
    """pytest 9's [tool.pytest] keeps TOML's types: `rnnbench = true` was pytest's usage error
    ("expects a string, got bool") in every run of the project."""
    pytester.makepyprojecttoml(
        "[tool.pytest]\nrnnbench = true\nrnnbench_repeats = 2\nrnnbench_tolerance_time = 0.1\n"
    )
    pytester.makepyfile("def test_ok():\n    pass\n")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--co")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED, result.stderr.str()
    result.stdout.fnmatch_lines(["rnnbench: no benchmark case was selected*"])  # true: on
    pytester.makepyprojecttoml("[tool.pytest]\nrnnbench_repeats = true\n")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--co")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(  # pytest's own words: a switch's true/false is no number
        ["ERROR: *pyproject.toml: config option 'rnnbench_repeats' expects one of *, got bool*"]
    )
    pytester.makepyprojecttoml("[tool.pytest]\nrnnbench_repeats = 0\n")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--co")
    assert result.ret == pytest.ExitCode.USAGE_ERROR  # a number, but a bad one: ours
    result.stderr.fnmatch_lines(
        ["ERROR: ini option rnnbench_repeats in *pyproject.toml: invalid value '0': *"]
    )


# -- bad input: the options the tests above and test_gate_e2e.py do not try ------------------------


BAD_OPTIONS = [
    ("--rnnbench-max-rss", "lots", "expected a size such as 4G, 512M or 800 (MiB)"),
    ("--rnnbench-max-rss", "0", "expected a size of at least 1M"),
    ("--rnnbench-max-rss", "-2G", "expected a size of at least 1M"),
    ("--rnnbench-max-rss", "512K", "expected a size of at least 1M"),
    ("--rnnbench-max-rss", "nan", "expected a size of at least 1M"),
    ("--rnnbench-shard", "3/2", "expected K/N with 1 <= K <= N"),
    ("--rnnbench-shard", "0/4", "expected K/N with 1 <= K <= N"),
    ("--rnnbench-shard", "half", "expected K/N, for example 2/4"),
    ("--rnnbench-simulate-devices", "-1", "expected a whole number (0: off)"),
    ("--rnnbench-simulate-devices", "two", "expected a whole number (0: off)"),
    ("--rnnbench-inject-slowdown", "nan", "expected a factor between 1 and 10"),
    ("--rnnbench-inject-slowdown", "fast", "expected a factor >= 1 such as 1.10"),
    ("--rnnbench-tolerance-time", "inf", "expected a fraction >= 0"),
    ("--rnnbench-tolerance-rss", "-5%", "expected a fraction >= 0"),
    ("--rnnbench-tolerance-gpu-memory", "lots", "expected a fraction such as 0.05"),
    ("--rnnbench-tolerance-loss", "nan", "expected a fraction >= 0"),
    ("--rnnbench-busy-limit", "-1", "expected a fraction >= 0"),
    # A bare 5 meant 5%: read as 500% it would judge nothing (or turn the busy check off).
    ("--rnnbench-tolerance-time", "5", "5 would be 500%; did you mean 5%?"),
    ("--rnnbench-busy-limit", "5", "5 would be 500%; did you mean 5%?"),
    ("--rnnbench-timeout", "nan", "expected a positive number of seconds"),
    ("--rnnbench-timeout", "inf", "expected a positive number of seconds"),
    ("--rnnbench-json", "", "expected a path"),
    # Output files that could not be written are refused before any case trains.
    ("--rnnbench-json", ".", "is a directory"),
    ("--rnnbench-report", "/proc/version/r.md", "/proc/version is not a directory"),
    ("--rnnbench-comment", "/proc/version/c.md", "/proc/version is not a directory"),
    ("--rnnbench-benchmark-json", "/", "/ is a directory"),
    ("--rnnbench-plots", "/proc/version", "/proc/version is not a directory"),
    ("--rnnbench-plots", "/proc/version/charts", "/proc/version is not a directory"),
    ("--rnnbench-baseline-dir", "", "expected a path"),
]


@pytest.mark.parametrize(
    "option, value, accepted", BAD_OPTIONS, ids=[f"{o}={v}" for o, v, _ in BAD_OPTIONS]
)
def test_malformed_option_values_are_usage_errors_before_collection(
    plain: pytest.Pytester, option: str, value: str, accepted: str
) -> None:
    result = plain.runpytest_inprocess("--co", "--rnnbench", f"{option}={value}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [f"ERROR: command-line option {option}: invalid value {value!r}: *{accepted}*"]
    )
    assert "collected" not in result.stdout.str()


def test_a_plain_run_is_not_stopped_by_benchmark_outputs_it_will_not_write(
    plain: pytest.Pytester,
) -> None:
    """A project's unit tests read the same ini file: an output folder that is not there, or a
    conflict of benchmark settings, concerns a benchmark run only. The form of each value is
    still checked (a typo is said at once)."""
    plain.makeini(
        "[pytest]\nrnnbench_json = /proc/version/results.json\n"
        "rnnbench_save_baseline = true\nrnnbench_inject_slowdown = 1.2\n"
    )
    assert plain.runpytest_inprocess("--co").ret == pytest.ExitCode.OK
    benchmarking = plain.runpytest_inprocess("--co", "--rnnbench")
    assert benchmarking.ret == pytest.ExitCode.USAGE_ERROR
    benchmarking.stderr.fnmatch_lines(["*/proc/version is not a directory*"])


def test_a_project_that_has_its_own_gpus_option_still_runs(plain: pytest.Pytester) -> None:
    """Many ML projects define --gpus in their conftest.py: the plugin adds only --rnnbench-*
    options, so theirs and every run of their tests keep working."""
    plain.makeconftest("def pytest_addoption(parser):\n    parser.addoption('--gpus')\n")
    assert plain.runpytest_inprocess("--co", "--gpus=2").ret == pytest.ExitCode.OK


def test_malformed_memory_cap_in_the_ini_and_environment(
    plain: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    ini = plain.makeini("[pytest]\nrnnbench_max_rss = 4 gigs\n")
    result = plain.runpytest_inprocess("--co")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            f"ERROR: ini option rnnbench_max_rss in {ini}: invalid value "
            "'4 gigs': expected a size such as 4G, 512M or 800 (MiB)"
        ]
    )
    monkeypatch.setenv("RNNBENCH_MAX_RSS", "-1")
    result = plain.runpytest_inprocess("--co")
    result.stderr.fnmatch_lines(
        [
            "ERROR: environment variable RNNBENCH_MAX_RSS: invalid value "
            "'-1': expected a size of at least 1M*"
        ]
    )


# -- precedence: command line > environment > ini > preset -----------------------------------------


def settings_for(pytester: pytest.Pytester, *args: str):
    from pytest_rnnbench.plugin import SETTINGS_KEY

    config = pytester.parseconfigure(*args)
    return config.stash[SETTINGS_KEY]


def resolved(pytester: pytest.Pytester, *args: str, gpus: int = 0):
    """Settings straight from the options, without starting a benchmark session (which would
    look for the gate's trees, baselines...)."""
    return options.resolve(pytester.parseconfig(*args), gpus)


def test_live_workers_per_side_may_differ_by_backend(pytester: pytest.Pytester) -> None:
    def per_side(*args: str) -> list[int]:
        settings = resolved(pytester, "--rnnbench-against=/ref/python", *args)
        return [settings.workers_per_side(b) for b in ("torch", "jax", "mxnet")]

    assert per_side() == [3, 3, 3]
    assert per_side("--rnnbench-against-workers=torch=6") == [6, 3, 3]
    # The pr matrix (the gate's) gives torch 6; entries for other backends keep that, an N
    # for every backend replaces it.
    assert per_side("--rnnbench-matrix=pr") == [6, 3, 3]
    assert per_side("--rnnbench-matrix=pr", "--rnnbench-against-workers=jax=4") == [6, 4, 3]
    assert per_side("--rnnbench-matrix=pr", "--rnnbench-against-workers=5") == [5, 5, 5]


def test_entries_for_every_backend_win_over_lower_sources_per_backend_ones(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reference for every backend typed on the command line is every backend's, the ini
    file's `jax=` entry included; a BACKEND=N typed there keeps the ini file's N for the rest."""
    pytester.makeini("[pytest]\nrnnbench_against = jax=/old/python\nrnnbench_against_workers = 5\n")
    settings = resolved(pytester, "--rnnbench-against", "/new/python")
    assert settings.reference_python("jax") == settings.reference_python("torch") == "/new/python"
    settings = resolved(pytester, "--rnnbench-against", "torch=/new/python")
    assert settings.reference_python("jax") == "/old/python"  # per backend: merged
    assert settings.reference_python("torch") == "/new/python"
    settings = resolved(pytester, "--rnnbench-against-workers=torch=6")
    assert [settings.workers_per_side(b) for b in ("torch", "jax")] == [6, 5]
    monkeypatch.setenv("RNNBENCH_AGAINST_WORKERS", "4")
    settings = resolved(pytester, "--rnnbench-against-workers=torch=6")
    assert [settings.workers_per_side(b) for b in ("torch", "jax")] == [6, 4]
    assert resolved(pytester).workers_per_side("jax") == 4


def test_precedence_cli_env_ini(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makeini(
        "[pytest]\nrnnbench_batch_sizes = 64\nrnnbench_timeout = 30\n"
        "rnnbench_backends = torch\nrnnbench_samples = 100\n"
    )
    assert settings_for(pytester).batch_sizes == (64,)
    monkeypatch.setenv("RNNBENCH_BATCH_SIZES", "32")
    monkeypatch.setenv("RNNBENCH_TIMEOUT", "20")
    settings = settings_for(pytester)
    assert (settings.batch_sizes, settings.timeout_s, settings.backends, settings.samples) == (
        (32,),
        20.0,
        ("torch",),
        100,
    )
    settings = settings_for(pytester, "--rnnbench-batch-sizes=16", "--rnnbench-timeout=10")
    assert (settings.batch_sizes, settings.timeout_s) == ((16,), 10.0)
    # -o KEY=VALUE is typed: it wins over the environment, as the command line does.
    assert settings_for(pytester, "-o", "rnnbench_batch_sizes=8").batch_sizes == (8,)


def test_values_from_o_and_addopts_are_named_as_where_they_were_given(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """They were named as the ini file's (which did not hold them) or as typed options."""
    path = pytester.makeini("[pytest]\n")
    result = pytester.runpytest_inprocess("--co", "-o", "rnnbench_gpus=lots")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: -o rnnbench_gpus: invalid value 'lots'*"])
    assert str(path) not in result.stderr.str()
    monkeypatch.setenv("PYTEST_ADDOPTS", "--rnnbench-gpus=lots")
    result = pytester.runpytest_inprocess("--co")
    result.stderr.fnmatch_lines(
        ["ERROR: command-line option --rnnbench-gpus (from addopts or PYTEST_ADDOPTS): *"]
    )


def test_finer_options_override_the_matrix_preset(pytester: pytest.Pytester) -> None:
    settings = settings_for(pytester, "--rnnbench-matrix=seed", "--rnnbench-batch-sizes=64")
    assert settings.matrix == "seed"
    assert settings.batch_sizes == (64,)
    assert settings.unrolls == (True, False)
    assert settings.datasets == ("synthetic", "nietzsche", "wikitext2")


def test_options_in_an_arguments_file_count_as_typed(pytester: pytest.Pytester) -> None:
    """`pytest @ci.args`: what the file holds was typed, so it turns benchmarking on and a typed
    option's precedence holds, as on the command line."""
    pytester.path.joinpath("ci.args").write_text("--rnnbench-save-baseline\n-k\njax\n")
    settings = resolved(pytester, "@ci.args")
    assert settings.enabled and settings.implied_by == "--rnnbench-save-baseline"
    assert settings.keyword == "jax"
    assert "--rnnbench-save-baseline" not in settings.rerun_args


def test_all_gpu_counts_include_simulated_devices(pytester: pytest.Pytester) -> None:
    def counts(*args: str, gpus: int = 0) -> tuple[int, ...]:
        return resolved(pytester, "--rnnbench", *args, gpus=gpus).gpu_counts

    assert counts("--rnnbench-gpus=all", "--rnnbench-simulate-devices=4") == (0, 1, 2, 4)
    assert counts("--rnnbench-gpus=all", "--rnnbench-simulate-devices=3") == (0, 1, 2, 3)
    assert counts("--rnnbench-gpus=all", "--rnnbench-simulate-devices=2", gpus=4) == (0, 1, 2, 4)
    assert counts("--rnnbench-gpus=all") == (0,)
    assert counts("--rnnbench-simulate-devices=4") == (0,)  # the default stays the machine's


def test_defaults(pytester: pytest.Pytester) -> None:
    settings = settings_for(pytester)
    assert not settings.enabled
    assert settings.gpu_counts == (0,)
    assert settings.backends == ("tensorflow", "jax", "torch", "mxnet")
    assert settings.batch_sizes == (128,)
    assert settings.unrolls == (True,)
    assert settings.datasets == ("synthetic", "nietzsche")
    # Without a GPU the default matrix caps epochs, so a first run takes minutes; with one, full.
    assert (settings.samples, settings.samples_from) == (CPU_SAMPLES, "no-gpu")
    assert resolved(pytester, gpus=1).samples is None
    assert settings.timeout_s == options.DEFAULT_TIMEOUT_S
    assert not settings.require_baseline and settings.implied_by is None


def test_paths_are_relative_to_where_they_were_given(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeini(
        "[pytest]\nrnnbench_data_dir = data\nrnnbench_python = mxnet=.venv-mxnet/bin/python\n"
    )
    sub = pytester.mkdir("sub")
    monkeypatch.chdir(sub)
    settings = settings_for(pytester, "--rnnbench-json=out.json")
    assert settings.data_dir == pytester.path / "data"
    assert settings.pythons == {"mxnet": str(pytester.path / ".venv-mxnet" / "bin" / "python")}
    assert settings.json_path == sub / "out.json"


def test_rnnbench_from_the_environment_enables_and_discovers_gpus(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
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


# -- the pull-request gate's options -----------------------------------------------------------


def test_the_pr_preset_caps_samples_and_an_explicit_cap_wins(pytester: pytest.Pytester) -> None:
    settings = settings_for(pytester, "--rnnbench-matrix=pr")
    assert (settings.batch_sizes, settings.unrolls, settings.datasets, settings.samples) == (
        (128,),
        (True, False),
        ("synthetic", "nietzsche"),
        4096,
    )
    assert settings_for(pytester, "--rnnbench-matrix=pr", "--rnnbench-samples=512").samples == 512
    assert settings_for(pytester, "--rnnbench-matrix=seed").samples is None
    full = resolved(pytester, "--rnnbench-samples=full")
    assert (full.samples, full.samples_from) == (None, None)
    with pytest.raises(pytest.UsageError, match="positive whole number, or full"):
        resolved(pytester, "--rnnbench-samples=lots")


def test_gate_options_are_read_and_make_the_run_live(pytester: pytest.Pytester) -> None:
    settings = resolved(
        pytester,
        "--rnnbench-base=origin/master",
        "--rnnbench-head=../keras",
        "--rnnbench-comment=c.md",
    )
    assert (settings.base, settings.head) == ("origin/master", "../keras")
    assert settings.comment_path == pytester.path / "c.md"
    assert settings.live and not settings_for(pytester).live


@pytest.mark.parametrize(
    "args, flag",
    [
        (["--rnnbench-save-baseline"], "--rnnbench-save-baseline"),
        (["--rnnbench-against", "python3"], "--rnnbench-against"),
        (["--rnnbench-gpus=0"], "--rnnbench-gpus"),
        (["--rnnbench-samples=64", "--rnnbench-require-baseline"], "--rnnbench-samples"),
    ],
)
def test_an_option_of_ours_on_the_command_line_implies_rnnbench(
    pytester: pytest.Pytester, args: list[str], flag: str
) -> None:
    settings = resolved(pytester, *args)
    assert settings.enabled and settings.implied_by == flag
    assert resolved(pytester, "--rnnbench", *args).implied_by is None


def test_ini_keys_and_environment_variables_never_turn_benchmarking_on(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeini("[pytest]\nrnnbench_samples = 64\nrnnbench_save_baseline = true\n")
    monkeypatch.setenv("RNNBENCH_REPEATS", "1")
    settings = resolved(pytester)
    assert not settings.enabled and settings.samples == 64 and settings.save_baseline


def test_options_from_addopts_or_pytest_addopts_never_turn_benchmarking_on(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeini("[pytest]\naddopts = --rnnbench-baseline-dir=bl\n")
    monkeypatch.setenv("PYTEST_ADDOPTS", "--rnnbench-samples=64")
    settings = resolved(pytester)
    assert not settings.enabled and settings.samples == 64
    assert settings.baseline_dir == pytester.path / "bl"


def test_a_typed_save_baseline_overrides_require_baseline_from_the_ini_or_environment(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CI setting asks for baselines; the hint's command records them."""
    pytester.makeini("[pytest]\nrnnbench_require_baseline = true\n")
    saving = resolved(pytester, "--rnnbench-save-baseline")
    assert saving.save_baseline and not saving.require_baseline
    assert resolved(pytester).require_baseline
    monkeypatch.setenv("RNNBENCH_REQUIRE_BASELINE", "1")
    assert not resolved(pytester, "--rnnbench-save-baseline").require_baseline


def test_require_baseline_conflicts_with_recording_and_with_live_runs(
    pytester: pytest.Pytester,
) -> None:
    with pytest.raises(pytest.UsageError, match="judges nothing; drop one of them"):
        resolved(pytester, "--rnnbench-require-baseline", "--rnnbench-save-baseline")
    with pytest.raises(pytest.UsageError, match="not baselines; drop one of them"):
        resolved(pytester, "--rnnbench-require-baseline", "--rnnbench-against=python3")


@pytest.mark.parametrize(
    "live", [["--rnnbench-against", "python3"], ["--rnnbench-base=main"], ["--rnnbench-base-dir=b"]]
)
def test_a_typed_live_comparison_overrides_require_baseline_and_workers_from_the_ini_or_environment(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, live: list[str]
) -> None:
    """docs/gating.md tells CI to set RNNBENCH_REQUIRE_BASELINE=1: a live A/B run or the gate
    (which types --rnnbench-base) in that CI judges against its reference, not baselines."""
    pytester.makeini("[pytest]\nrnnbench_require_baseline = true\nrnnbench_workers = 3\n")
    settings = resolved(pytester, *live)
    assert settings.live and not settings.require_baseline
    assert settings.workers == options.Settings().workers
    monkeypatch.setenv("RNNBENCH_REQUIRE_BASELINE", "1")
    monkeypatch.setenv("RNNBENCH_WORKERS", "4")
    settings = resolved(pytester, *live)
    assert not settings.require_baseline and settings.workers == options.Settings().workers
    stored = resolved(pytester, "--rnnbench")  # a run against stored baselines still obeys them
    assert stored.require_baseline and stored.workers == 4


def test_a_conflict_names_where_each_of_its_values_was_set(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Typed together, a live comparison and --rnnbench-require-baseline still conflict; set in
    the ini file and the environment, neither wins, and the message says where each came from."""
    with pytest.raises(pytest.UsageError) as raised:
        resolved(pytester, "--rnnbench-require-baseline", "--rnnbench-against=python3")
    assert str(raised.value).endswith(
        "drop one of them (set by: command-line option --rnnbench-require-baseline; "
        "command-line option --rnnbench-against)"
    )
    ini = pytester.makeini("[pytest]\nrnnbench_against = python3\n")
    monkeypatch.setenv("RNNBENCH_WORKERS", "2")
    with pytest.raises(pytest.UsageError) as raised:
        resolved(pytester, "--rnnbench")
    assert str(raised.value).startswith("--rnnbench-workers with a live comparison")
    assert str(raised.value).endswith(
        f"(set by: environment variable RNNBENCH_WORKERS; ini option rnnbench_against in {ini})"
    )


def test_suggested_commands_keep_the_selection_and_drop_outputs_and_judging() -> None:
    args = [
        "--rnnbench",
        "-k",
        "jax and nietzsche",
        "--rnnbench-samples=2048",
        "--rnnbench-json",
        "out.json",
        "--rnnbench-report=r.md",
        "--rnnbench-require-baseline",
        "-m",
        "not slow",
        "tests/bench",
    ]
    kept, keyword = options.rerun_selection(args)
    assert kept == ("--rnnbench", "--rnnbench-samples=2048", "-m", "not slow", "tests/bench")
    assert keyword == "jax and nietzsche"
    settings = options.Settings(rerun_args=kept, keyword=keyword)
    assert settings.command("--rnnbench-save-baseline") == (
        "pytest --rnnbench --rnnbench-samples=2048 -m 'not slow' tests/bench "
        "--rnnbench-save-baseline -k 'jax and nietzsche'"
    )
    # A hint about some cases selects those cases instead of the user's -k.
    assert settings.command("--rnnbench-save-baseline", case_ids=["a", "b"]).endswith(
        "--rnnbench-save-baseline -k 'a or b'"
    )
    assert options.rerun_selection(["-k=jax"])[1] == "jax"  # as pytest reads it
    assert options.rerun_selection(["-kjax", "--rnnbench-against", "x", "-x", "--co"]) == (
        ("-x",),
        "jax",
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rnnbench-against-workers=5"], "--rnnbench-against-workers concerns a live *"),
        (["--rnnbench", "--rnnbench-turn-steps", "4"], "--rnnbench-turn-steps concerns a live *"),
    ],
)
def test_a_live_option_typed_without_a_live_comparison_is_refused(
    pytester: pytest.Pytester, args: list[str], message: str
) -> None:
    """It changed nothing, silently: more workers for a stored-baseline run are
    --rnnbench-workers."""
    result = pytester.runpytest_inprocess(*args, "--co", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {message}"])
    # from the ini file (or addopts) it configures live runs, and a stored run goes on
    pytester.makeini("[pytest]\nrnnbench_turn_steps = 4\naddopts = --rnnbench-against-workers=5\n")
    assert (
        pytester.runpytest_inprocess("--rnnbench", "--co").ret == pytest.ExitCode.NO_TESTS_COLLECTED
    )
    with_live = settings_for(
        pytester, "--rnnbench-turn-steps=4", f"--rnnbench-against={sys.executable}"
    )
    assert with_live.turn_steps == 4


@pytest.mark.parametrize(
    "args, message",
    [
        (["--rnnbench-head=x"], "--rnnbench-head needs --rnnbench-base"),
        (["--rnnbench-base=m", "--rnnbench-against=python3"], "drop one of them"),
        (["--rnnbench-base=m", "--rnnbench-save-baseline"], "records nothing"),
        (["--rnnbench-base=m", "--rnnbench-preallocate"], "grab most of their memory"),
        (["--rnnbench-base= "], "expected a value"),
    ],
)
def test_gate_option_conflicts_stop_before_collection(
    pytester: pytest.Pytester, args: list[str], message: str
) -> None:
    with pytest.raises(pytest.UsageError, match=message):
        settings_for(pytester, *args)
