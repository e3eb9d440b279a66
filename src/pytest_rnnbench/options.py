"""Command-line options, ini keys and environment variables, resolved once into `Settings`.

Precedence: command line > environment > ini > matrix preset > built-in default. Every value goes
through the same parser whatever its source, and a bad one raises `pytest.UsageError` naming the
option, where the value came from, the value, and what is accepted, before any test is collected.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Literal, Optional

import pytest

from .backends import BACKENDS
from .matrix import CPU_SAMPLES, DATASETS, PRESETS, parse_shard
from .settings import (
    DEFAULT_REPEATS,
    DEFAULT_TIMEOUT_S,
    GPU_COUNTS_FOR_ALL,
    LIVE_PER_SIDE,
    LIVE_TURN_STEPS,
    Settings,
    default_cache_dir,
)
from .verdicts.verdict import parse_tolerance

__all__ = [
    "OPTIONS",
    "Settings",
    "add_options",
    "default_cache_dir",
    "parse_gpus",
    "parse_size",
    "parse_tolerance",
    "resolve",
]

# ---------------------------------------------------------------------------------------------
# Parsers: text -> value, or ValueError whose message says what is accepted.


def _split(text: str) -> list[str]:
    items = [item.strip() for item in text.replace(" ", ",").split(",")]
    items = [item for item in items if item]
    if not items:
        raise ValueError("expected a comma-separated list, got nothing")
    return items


def _choices(allowed: tuple[str, ...]) -> Callable[[str], tuple[str, ...]]:
    def parse(text: str) -> tuple[str, ...]:
        items = [item.lower() for item in _split(text)]
        unknown = [item for item in items if item not in allowed]
        if unknown:
            raise ValueError(f"unknown {', '.join(unknown)}; accepted: {', '.join(allowed)}")
        return tuple(dict.fromkeys(items))

    return parse


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError("expected a positive whole number") from None
    if value <= 0:
        raise ValueError("expected a positive whole number")
    return value


def _positive_ints(text: str) -> tuple[int, ...]:
    return tuple(dict.fromkeys(_positive_int(item) for item in _split(text)))


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError("expected a positive number of seconds") from None
    if not value > 0 or value == float("inf"):
        raise ValueError("expected a positive number of seconds")
    return value


FULL_EPOCHS = 0  # what `--rnnbench-samples=full` parses to: no cap


def _samples(text: str) -> int:
    if str(text).strip().lower() in ("full", "all"):
        return FULL_EPOCHS
    try:
        return _positive_int(text)
    except ValueError:
        raise ValueError("expected a positive whole number, or full") from None


def _unroll(text: str) -> tuple[bool, ...]:
    value = text.strip().lower()
    table = {"true": (True,), "false": (False,), "both": (True, False)}
    if value not in table:
        raise ValueError("accepted: true, false, both")
    return table[value]


def _matrix(text: str) -> str:
    value = text.strip().lower()
    if value not in PRESETS:
        raise ValueError(f"accepted: {', '.join(PRESETS)}")
    return value


def parse_gpus(text: str, available: int) -> tuple[int, ...]:
    """`0`, `4`, `0,1,4` or `all`.

    `all` is 0 plus the seed's 1/2/4/8 rows that fit, and the machine's own count.
    """
    if text.strip().lower() == "all":
        counts = [0] + [n for n in GPU_COUNTS_FOR_ALL if n <= available]
        if available:
            counts.append(available)
        return tuple(sorted(set(counts)))
    counts = []
    for item in _split(text):
        try:
            count = int(item)
        except ValueError:
            raise ValueError("expected GPU counts such as 0, 4, 0,1,4, or all") from None
        if count < 0:
            raise ValueError("GPU counts cannot be negative; expected 0, 4, 0,1,4, or all")
        counts.append(count)
    return tuple(dict.fromkeys(counts))


def _pythons(raw: Any, base: Path, bare: bool = False) -> dict[str, str]:
    """BACKEND=PATH entries; a PATH with a slash is taken relative to `base`, a bare name from PATH.

    With `bare`, a PATH alone stands for every backend (key "*").
    """
    pythons: dict[str, str] = {}
    for entry in _as_list(raw):
        backend, sep, path = entry.partition("=")
        if bare and not sep:
            backend, path = "*", entry
        backend = backend.strip().lower()
        if not path.strip() or (not sep and not bare):
            example = "PATH or BACKEND=PATH" if bare else "BACKEND=PATH"
            raise ValueError(
                f"{entry!r}: expected {example}, for example mxnet=.venv-mxnet/bin/python"
            )
        if backend not in BACKENDS and backend != "*":
            raise ValueError(
                f"{entry!r}: unknown backend {backend!r}; accepted: {', '.join(BACKENDS)}"
            )
        path = os.path.expanduser(path.strip())
        # abspath, not resolve(): a venv interpreter is a symlink, and resolving it leaves the venv.
        pythons[backend] = os.path.abspath(os.path.join(base, path)) if os.sep in path else path
    return pythons


# ---------------------------------------------------------------------------------------------
# The option table: one place defines each option's flags, ini key, environment variable and help.


@dataclass(frozen=True)
class _Option:
    dest: str
    flags: tuple[str, ...]
    help: str
    env: Optional[str] = None
    metavar: Optional[str] = None
    action: str = "store"

    @property
    def ini(self) -> str:
        return self.dest

    @property
    def flag(self) -> str:
        """How messages name the option: every spelling, e.g. --gpus/--rnnbench-gpus."""
        return "/".join(self.flags)


OPTIONS = (
    _Option(
        "rnnbench",
        ("--rnnbench",),
        "run the LSTM benchmark cases (skipped otherwise). Any other rnnbench option given on "
        "the command line implies it.",
        env="RNNBENCH",
        action="store_true",
    ),
    _Option(
        "rnnbench_gpus",
        ("--gpus", "--rnnbench-gpus"),
        "GPU counts to benchmark: 0, 4, 0,1,4 or all. Default: 0 without a GPU, 1 with one.",
        env="RNNBENCH_GPUS",
        metavar="COUNTS",
    ),
    _Option(
        "rnnbench_backends",
        ("--rnnbench-backends",),
        f"backends to benchmark, comma-separated: {', '.join(BACKENDS)}. Default: all.",
        env="RNNBENCH_BACKENDS",
        metavar="NAMES",
    ),
    _Option(
        "rnnbench_batch_sizes",
        ("--rnnbench-batch-sizes",),
        "global batch sizes, comma-separated. Default: 128 (seed matrix: 32,128).",
        env="RNNBENCH_BATCH_SIZES",
        metavar="SIZES",
    ),
    _Option(
        "rnnbench_unroll",
        ("--rnnbench-unroll",),
        "LSTM unroll: true, false or both. Default: true (seed matrix: both).",
        env="RNNBENCH_UNROLL",
        metavar="true|false|both",
    ),
    _Option(
        "rnnbench_datasets",
        ("--rnnbench-datasets",),
        f"datasets, comma-separated: {', '.join(DATASETS)}. Default: synthetic,nietzsche "
        "(seed matrix: all three).",
        env="RNNBENCH_DATASETS",
        metavar="NAMES",
    ),
    _Option(
        "rnnbench_matrix",
        ("--rnnbench-matrix",),
        "matrix preset: default; seed (the published Keras-MXNet RNN benchmark); or pr (a "
        "pull request on a small CPU runner: batch 128, unroll true and false, synthetic and "
        "Nietzsche capped at 4096 samples per epoch).",
        env="RNNBENCH_MATRIX",
        metavar="NAME",
    ),
    _Option(
        "rnnbench_samples",
        ("--rnnbench-samples",),
        "cap the samples per epoch for quick runs (recorded with the result), or full for "
        "the seed's full epochs. Default: full epochs on a machine with a GPU; "
        f"{CPU_SAMPLES:,} without one (default matrix).",
        env="RNNBENCH_SAMPLES",
        metavar="N",
    ),
    _Option(
        "rnnbench_repeats",
        ("--rnnbench-repeats",),
        f"timed epochs per case after the warm-up. Default: {DEFAULT_REPEATS}.",
        env="RNNBENCH_REPEATS",
        metavar="N",
    ),
    _Option(
        "rnnbench_data_dir",
        ("--rnnbench-data-dir",),
        "directory holding dataset files (nietzsche.txt, wikitext-2-raw-v1.zip) for offline use.",
        env="RNNBENCH_DATA_DIR",
        metavar="DIR",
    ),
    _Option(
        "rnnbench_cache_dir",
        ("--rnnbench-cache-dir",),
        "where downloads and prepared arrays are cached. Default: ~/.cache/pytest-rnnbench.",
        env="RNNBENCH_CACHE_DIR",
        metavar="DIR",
    ),
    _Option(
        "rnnbench_python",
        ("--rnnbench-python",),
        "BACKEND=PATH: the interpreter that runs that backend's workers (repeatable). "
        "Default: the interpreter running pytest.",
        metavar="BACKEND=PATH",
        action="append",
    ),
    _Option(
        "rnnbench_json",
        ("--rnnbench-json",),
        "write every result to this JSON file.",
        env="RNNBENCH_JSON",
        metavar="PATH",
    ),
    _Option(
        "rnnbench_report",
        ("--rnnbench-report",),
        "write a markdown report (the seed's RNN_result.md layout) to this file.",
        env="RNNBENCH_REPORT",
        metavar="PATH.md",
    ),
    _Option(
        "rnnbench_plots",
        ("--rnnbench-plots",),
        "write PNG charts (seconds/epoch, GPU memory) to this directory; needs matplotlib "
        "(pip install 'pytest-rnnbench[plots]').",
        env="RNNBENCH_PLOTS",
        metavar="DIR",
    ),
    _Option(
        "rnnbench_benchmark_json",
        ("--rnnbench-benchmark-json",),
        "write the results in pytest-benchmark's JSON format (for `pytest-benchmark compare` "
        "and its dashboards).",
        env="RNNBENCH_BENCHMARK_JSON",
        metavar="PATH",
    ),
    _Option(
        "rnnbench_baseline_dir",
        ("--rnnbench-baseline-dir",),
        "where baseline files live, one per machine profile. Default: baselines/ in the rootdir.",
        env="RNNBENCH_BASELINE_DIR",
        metavar="DIR",
    ),
    _Option(
        "rnnbench_save_baseline",
        ("--rnnbench-save-baseline",),
        "record (or refresh) the baselines of the cases that run, instead of checking them.",
        env="RNNBENCH_SAVE_BASELINE",
        action="store_true",
    ),
    _Option(
        "rnnbench_require_baseline",
        ("--rnnbench-require-baseline",),
        "fail a measured case that has no baseline for its workload (for CI); without it such "
        "a case passes, unjudged.",
        env="RNNBENCH_REQUIRE_BASELINE",
        action="store_true",
    ),
    _Option(
        "rnnbench_inject_slowdown",
        ("--rnnbench-inject-slowdown",),
        "stretch every training step by FACTOR (e.g. 1.10) to show that the gate catches a "
        "known slowdown. Default: 1 (none).",
        env="RNNBENCH_INJECT_SLOWDOWN",
        metavar="FACTOR",
    ),
    _Option(
        "rnnbench_tolerance_time",
        ("--rnnbench-tolerance-time",),
        "allowed slowdown of the time per step before a regression, as 0.05 or 5%. Default: 5%.",
        env="RNNBENCH_TOLERANCE_TIME",
        metavar="FRACTION",
    ),
    _Option(
        "rnnbench_tolerance_rss",
        ("--rnnbench-tolerance-rss",),
        "allowed growth of the worker's host peak RSS. Default: 20%.",
        env="RNNBENCH_TOLERANCE_RSS",
        metavar="FRACTION",
    ),
    _Option(
        "rnnbench_tolerance_gpu_memory",
        ("--rnnbench-tolerance-gpu-memory",),
        "allowed growth of the peak GPU memory. Default: 10%.",
        env="RNNBENCH_TOLERANCE_GPU_MEMORY",
        metavar="FRACTION",
    ),
    _Option(
        "rnnbench_tolerance_loss",
        ("--rnnbench-tolerance-loss",),
        "allowed growth of the final training loss. Default: 10%.",
        env="RNNBENCH_TOLERANCE_LOSS",
        metavar="FRACTION",
    ),
    _Option(
        "rnnbench_shard",
        ("--rnnbench-shard",),
        "run only the K-th of N parts of the matrix (e.g. 2/4), the same split on every "
        "machine, so a CI job matrix covers it all; merge the results files with "
        "`python -m pytest_rnnbench report`.",
        env="RNNBENCH_SHARD",
        metavar="K/N",
    ),
    _Option(
        "rnnbench_simulate_devices",
        ("--rnnbench-simulate-devices",),
        "test multi-device paths without GPUs: split the CPU into N devices (JAX host "
        "platform devices, TensorFlow logical CPUs, MXNet cpu contexts) and run GPU-count "
        "cases up to N on them. Timings are not GPU timings.",
        env="RNNBENCH_SIMULATE_DEVICES",
        metavar="N",
    ),
    _Option(
        "rnnbench_preallocate",
        ("--rnnbench-preallocate",),
        "keep the frameworks' default GPU memory preallocation (JAX grabs most of the GPU, "
        "TensorFlow all of it) instead of turning it off; recorded with each result.",
        env="RNNBENCH_PREALLOCATE",
        action="store_true",
    ),
    _Option(
        "rnnbench_max_rss",
        ("--rnnbench-max-rss",),
        "kill a worker whose resident memory passes SIZE (e.g. 4G, 512M; a bare number is "
        "MiB) and fail its case: protects shared machines. Default: no cap.",
        env="RNNBENCH_MAX_RSS",
        metavar="SIZE",
    ),
    _Option(
        "rnnbench_busy_limit",
        ("--rnnbench-busy-limit",),
        "a time verdict is inconclusive, not a regression, when other processes took more "
        "than this share of the machine's CPU time during either side's timed epochs "
        "(0.10 or 10%; 100% turns the check off). Default: 10%.",
        env="RNNBENCH_BUSY_LIMIT",
        metavar="FRACTION",
    ),
    _Option(
        "rnnbench_against",
        ("--rnnbench-against",),
        "live A/B: also run every case in this reference interpreter (PATH, or BACKEND=PATH "
        "per backend; repeatable), e.g. the main branch's environment, taking turns with "
        "this one a few steps at a time, and judge this run against it instead of a stored "
        "baseline. Default: off.",
        env="RNNBENCH_AGAINST",
        metavar="[BACKEND=]PATH",
        action="append",
    ),
    _Option(
        "rnnbench_against_workers",
        ("--rnnbench-against-workers",),
        f"live A/B: workers per side (identical processes differ a little in speed; several "
        f"average that out). Default: {LIVE_PER_SIDE}.",
        env="RNNBENCH_AGAINST_WORKERS",
        metavar="N",
    ),
    _Option(
        "rnnbench_turn_steps",
        ("--rnnbench-turn-steps",),
        f"live A/B: the most training steps per turn (fewer when the epochs are too short "
        f"for 16 turns). Default: {LIVE_TURN_STEPS}.",
        env="RNNBENCH_TURN_STEPS",
        metavar="N",
    ),
    _Option(
        "rnnbench_base",
        ("--rnnbench-base",),
        "pull-request gate: judge the Keras source tree of this checkout (the head) against "
        "REF, a branch (its merge-base with HEAD), commit or tag of this repository, or a "
        "directory holding a keras package. Both sides run the same interpreter (this one, or "
        "the backend's --rnnbench-python) and frameworks, taking turns as with "
        "--rnnbench-against; only `keras` differs. "
        "Default: off.",
        env="RNNBENCH_BASE",
        metavar="REF|DIR",
    ),
    _Option(
        "rnnbench_head",
        ("--rnnbench-head",),
        "pull-request gate: the head tree, a directory whose top holds the keras package. "
        "Default: the git working tree of the current directory.",
        env="RNNBENCH_HEAD",
        metavar="DIR",
    ),
    _Option(
        "rnnbench_comment",
        ("--rnnbench-comment",),
        "write the verdicts as a pull-request comment (markdown, with a hidden marker that "
        "lets a workflow update one comment instead of adding one per push) to this file.",
        env="RNNBENCH_COMMENT",
        metavar="PATH.md",
    ),
    _Option(
        "rnnbench_timeout",
        ("--rnnbench-timeout",),
        f"per-case wall-clock limit in seconds. Default: {DEFAULT_TIMEOUT_S:.0f}.",
        env="RNNBENCH_TIMEOUT",
        metavar="SECONDS",
    ),
)


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("rnnbench", "LSTM training benchmarks (pytest-rnnbench)")
    for option in OPTIONS:
        # argparse %-formats help strings; ours are plain text ("5%"), also shown for ini keys.
        kwargs: dict[str, Any] = {
            "dest": option.dest,
            "help": option.help.replace("%", "%%"),
            "action": option.action,
        }
        if option.metavar:
            kwargs["metavar"] = option.metavar
        if option.action == "store_true":
            kwargs["default"] = None
        group.addoption(*option.flags, **kwargs)
        # The flag's ini key is a string parsed by _flag, so a bad value names the key and file
        # (pytest's own "bool" type says only "invalid truth value").
        ini_type: Literal["linelist", "string"] = (
            "linelist" if option.action == "append" else "string"
        )
        parser.addini(
            option.ini, option.help, type=ini_type, default=[] if ini_type == "linelist" else None
        )


class _Sources:
    """Looks an option up on the command line, then the environment, then the ini file."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.ini_file = str(config.inipath) if config.inipath else "the ini file"

    def every(self, option: _Option) -> list[tuple[Any, str, Path]]:
        """Each source that sets `option`, lowest precedence first, as (value, where it came
        from, the directory relative paths start from)."""
        found = []
        ini_value = self.config.getini(option.ini)
        if ini_value not in (None, [], ""):
            found.append(
                (ini_value, f"ini option {option.ini} in {self.ini_file}", self.config.rootpath)
            )
        if option.env and os.environ.get(option.env, "").strip():
            found.append((os.environ[option.env], f"environment variable {option.env}", Path.cwd()))
        value = self.config.getoption(option.dest)
        if value not in (None, []):
            found.append(
                (value, f"command-line option {option.flag}", self.config.invocation_params.dir)
            )
        return found

    def raw(self, option: _Option) -> Optional[tuple[Any, str, Path]]:
        """The value that wins (command line > environment > ini file), or None."""
        found = self.every(option)
        return found[-1] if found else None


_BY_DEST = {option.dest: option for option in OPTIONS}


def resolve(config: pytest.Config, available_gpus: int) -> Settings:
    """Build the frozen Settings for this run or raise pytest.UsageError naming the bad value."""
    sources = _Sources(config)
    values: dict[str, Any] = {}

    def get(dest: str, parse: Callable[..., Any], relative: bool = False) -> Any:
        """Parse the option's value; `relative` parsers also get the directory paths start from."""
        found = sources.raw(_BY_DEST[dest])
        if found is None:
            return None
        raw, where, base = found
        try:
            return parse(raw, base) if relative else parse(raw)
        except ValueError as exc:
            raise _usage_error(where, raw, exc) from None

    enabled = bool(get("rnnbench", _flag))
    # `pytest --rnnbench-save-baseline` alone must not quietly run the unit tests and record
    # nothing: an option of ours typed on the command line means "benchmark". (Ini keys and
    # environment variables configure runs; they never turn benchmarking on by themselves.)
    implied_by = None if enabled else _first_on_command_line(config)
    values["enabled"] = enabled or implied_by is not None
    values["implied_by"] = implied_by
    matrix = get("rnnbench_matrix", _matrix) or "default"
    preset = PRESETS[matrix]
    values["matrix"] = matrix
    gpus = get("rnnbench_gpus", lambda text: parse_gpus(text, available_gpus))
    values["gpu_counts"] = gpus if gpus is not None else ((1,) if available_gpus else (0,))
    values["backends"] = get("rnnbench_backends", _choices(BACKENDS)) or BACKENDS
    values["batch_sizes"] = get("rnnbench_batch_sizes", _positive_ints) or preset["batch_sizes"]
    values["unrolls"] = get("rnnbench_unroll", _unroll) or preset["unrolls"]
    values["datasets"] = get("rnnbench_datasets", _choices(DATASETS)) or preset["datasets"]
    # A preset may cap the samples too (the "pr" preset; the default one without a GPU, so that a
    # first run on a laptop takes minutes, not hours); --rnnbench-samples wins.
    samples = get("rnnbench_samples", _samples)
    if samples is not None:
        values["samples"] = samples or None
        values["samples_from"] = "option" if samples else None
    elif "samples" in preset:
        values["samples"], values["samples_from"] = preset["samples"][0], "preset"
    elif "samples_without_gpu" in preset and not available_gpus:
        values["samples"], values["samples_from"] = preset["samples_without_gpu"][0], "no-gpu"
    values["repeats"] = get("rnnbench_repeats", _positive_int) or DEFAULT_REPEATS
    values["baseline_dir"] = get("rnnbench_baseline_dir", _path, relative=True)
    values["save_baseline"] = bool(get("rnnbench_save_baseline", _flag))
    values["require_baseline"] = bool(get("rnnbench_require_baseline", _flag))
    if (
        values["require_baseline"]
        and _typed(config, "rnnbench_save_baseline")
        and not _typed(config, "rnnbench_require_baseline")
    ):
        # A CI setting (ini or environment) asks for baselines; typing --rnnbench-save-baseline
        # is how one records them (the hint says so), not a contradiction to refuse.
        values["require_baseline"] = False
    if values["save_baseline"] and values["require_baseline"]:
        raise pytest.UsageError(
            "--rnnbench-save-baseline with --rnnbench-require-baseline: a run that records "
            "baselines judges nothing; drop one of them"
        )
    values["inject_slowdown"] = get("rnnbench_inject_slowdown", _slowdown) or 1.0
    values["tolerances"] = {
        metric: value
        for metric, dest in TOLERANCE_OPTIONS.items()
        if (value := get(dest, _tolerance)) is not None
    }
    if values["save_baseline"] and values["inject_slowdown"] != 1.0:
        raise pytest.UsageError(
            "--rnnbench-save-baseline with --rnnbench-inject-slowdown would record an injected "
            "slowdown as the baseline; drop one of them"
        )
    values["data_dir"] = get("rnnbench_data_dir", _path, relative=True)
    cache_dir = get("rnnbench_cache_dir", _path, relative=True)
    if cache_dir is not None:
        values["cache_dir"] = cache_dir
    values["json_path"] = get("rnnbench_json", _path, relative=True)
    values["report_path"] = get("rnnbench_report", _path, relative=True)
    values["plots_dir"] = get("rnnbench_plots", _plots_dir, relative=True)
    values["benchmark_json_path"] = get("rnnbench_benchmark_json", _path, relative=True)
    # Interpreters merge per backend: `--rnnbench-python jax=...` on the command line must not
    # drop the ini file's `mxnet=...`.
    values["pythons"] = {}
    for raw, where, base in sources.every(_BY_DEST["rnnbench_python"]):
        try:
            values["pythons"].update(_pythons(raw, base))
        except ValueError as exc:
            raise _usage_error(where, raw, exc) from None
    values["against"] = {}
    for raw, where, base in sources.every(_BY_DEST["rnnbench_against"]):
        try:
            values["against"].update(_pythons(raw, base, bare=True))
        except ValueError as exc:
            raise _usage_error(where, raw, exc) from None
    values["against_workers"] = get("rnnbench_against_workers", _positive_int) or LIVE_PER_SIDE
    values["turn_steps"] = get("rnnbench_turn_steps", _positive_int) or LIVE_TURN_STEPS
    if values["against"] and values["save_baseline"]:
        raise pytest.UsageError(
            "--rnnbench-save-baseline with --rnnbench-against: a live A/B run compares two "
            "interpreters and records nothing; drop one of them"
        )
    values["shard"] = get("rnnbench_shard", parse_shard)
    values["simulate_devices"] = get("rnnbench_simulate_devices", _positive_int) or 0
    values["preallocate"] = bool(get("rnnbench_preallocate", _flag))
    if values["against"] and values["preallocate"]:
        raise pytest.UsageError(
            "--rnnbench-preallocate with --rnnbench-against: every worker of a live A/B case "
            "shares the case's GPUs, and each would grab most of their memory; drop one of them"
        )
    values["max_rss_bytes"] = get("rnnbench_max_rss", parse_size)
    values["busy_limit"] = get("rnnbench_busy_limit", _tolerance)
    values["base"] = get("rnnbench_base", _text)
    values["head"] = get("rnnbench_head", _text)
    values["comment_path"] = get("rnnbench_comment", _path, relative=True)
    _check_gate_options(values)
    timeout = get("rnnbench_timeout", _positive_float)
    if timeout is not None:
        values["timeout_s"] = timeout
    if values["require_baseline"] and (values["against"] or values["base"]):
        raise pytest.UsageError(
            "--rnnbench-require-baseline with a live comparison (--rnnbench-against or "
            "--rnnbench-base): live cases are judged against their reference, not baselines; "
            "drop one of them"
        )
    values["available_gpus"] = available_gpus
    values["rerun_args"], values["keyword"] = rerun_selection(config.invocation_params.args)
    return Settings(**values)


def _first_on_command_line(config: pytest.Config) -> Optional[str]:
    """The first option of ours that the user typed, as they spelled its flag. Only the typed
    arguments count: `addopts` and PYTEST_ADDOPTS configure a project's every run (its unit tests
    too) and must not turn them into benchmark runs."""
    ours = {flag for option in OPTIONS if option.dest != "rnnbench" for flag in option.flags}
    return next((flag for flag in _typed_flags(config) if flag in ours), None)


def _typed(config: pytest.Config, dest: str) -> bool:
    """Whether the user typed option `dest` on the command line."""
    return any(flag in _BY_DEST[dest].flags for flag in _typed_flags(config))


def _typed_flags(config: pytest.Config) -> list[str]:
    """The flags of the arguments the user typed, in order, without their values."""
    return [arg.split("=", 1)[0] for arg in config.invocation_params.args]


# What a suggested command (e.g. the one that records a missing baseline) leaves out of the
# user's own command line: where this run wrote its outputs, and how it was judged. Everything
# else, the selection above all (-m, paths, backends, samples...), is kept; -k is kept apart
# because a hint about some cases replaces it with theirs.
_NOT_REPEATED = frozenset(
    {
        "rnnbench_json",
        "rnnbench_report",
        "rnnbench_plots",
        "rnnbench_benchmark_json",
        "rnnbench_comment",
        "rnnbench_against",
        "rnnbench_against_workers",
        "rnnbench_turn_steps",
        "rnnbench_base",
        "rnnbench_head",
        "rnnbench_inject_slowdown",
        "rnnbench_save_baseline",
        "rnnbench_require_baseline",
    }
)


# pytest's own flags that a suggested command must not repeat: it is meant to run the cases.
_PYTEST_NOT_REPEATED = frozenset({"--co", "--collect-only"})


def rerun_selection(args: Sequence[str]) -> tuple[tuple[str, ...], Optional[str]]:
    """The user's arguments minus _NOT_REPEATED options and -k, and the -k expression (or None)."""
    takes_value = {
        flag: option.action != "store_true" for option in OPTIONS for flag in option.flags
    }
    dropped = {flag for option in OPTIONS if option.dest in _NOT_REPEATED for flag in option.flags}
    kept: list[str] = []
    keyword = None
    items = iter(args)
    for arg in items:
        flag, has_value, _ = arg.partition("=")
        if arg == "-k":
            keyword = next(items, None)
        elif arg.startswith("-k") and not arg.startswith("--"):
            keyword = arg[2:].removeprefix("=")  # pytest reads -k=expr as expr
        elif arg in _PYTEST_NOT_REPEATED:
            continue
        elif flag in dropped:
            if not has_value and takes_value[flag]:
                next(items, None)
        else:
            kept.append(arg)
    return tuple(kept), keyword


_SIZE_UNITS = {"": 2**20, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}


def parse_size(text: str) -> int:
    """4G, 512M, 1.5g, 800 (MiB) -> bytes."""
    value = str(text).strip().lower().removesuffix("ib").removesuffix("b")
    unit = value[-1:] if value[-1:] in _SIZE_UNITS and value[-1:] else ""
    number = value[: len(value) - len(unit)].strip()
    try:
        size = float(number) * _SIZE_UNITS[unit]
    except ValueError:
        raise ValueError("expected a size such as 4G, 512M or 800 (MiB)") from None
    if not size >= 2**20 or size == float("inf"):
        raise ValueError("expected a size of at least 1M, such as 4G, 512M or 800 (MiB)")
    return int(size)


def _usage_error(where: str, raw: Any, exc: ValueError) -> pytest.UsageError:
    shown = ",".join(raw) if isinstance(raw, list) else raw
    return pytest.UsageError(f"{where}: invalid value {shown!r}: {exc}")


def _as_list(raw: Any) -> list[str]:
    if isinstance(raw, str):
        return [item for item in raw.replace(";", "\n").splitlines() if item.strip()]
    return list(raw)


def _flag(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    value = str(raw).strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("accepted: 1, true, yes, on, 0, false, no, off")


def _plots_dir(raw: str, base: Path) -> Path:
    # Checked before any test runs: finding out after an hour of benchmarks helps nobody.
    from .report.publish import plots_available  # imported late: reports are not needed to parse

    if not plots_available():
        raise ValueError("charts need matplotlib: pip install 'pytest-rnnbench[plots]'")
    return _path(raw, base)


# metric name (verdict.METRICS) -> the option that sets its default tolerance
TOLERANCE_OPTIONS = {
    "epoch_time": "rnnbench_tolerance_time",
    "host_peak_rss": "rnnbench_tolerance_rss",
    "gpu_peak_memory": "rnnbench_tolerance_gpu_memory",
    "final_loss": "rnnbench_tolerance_loss",
}


_tolerance = parse_tolerance  # the same text for options, markers and the compare CLI


def _slowdown(text: Any) -> float:
    try:
        value = float(str(text).strip())
    except ValueError:
        raise ValueError("expected a factor >= 1 such as 1.10") from None
    if not 1.0 <= value <= 10.0:
        raise ValueError("expected a factor between 1 and 10 such as 1.10")
    return value


def _text(raw: Any) -> str:
    value = str(raw).strip()
    if not value:
        raise ValueError("expected a value")
    return value


def _check_gate_options(values: dict[str, Any]) -> None:
    """The pull-request gate's options against the others: conflicts stop before collection."""
    if values["head"] and not values["base"]:
        raise pytest.UsageError("--rnnbench-head needs --rnnbench-base (the tree to compare with)")
    if not values["base"]:
        return
    if values["against"]:
        raise pytest.UsageError(
            "--rnnbench-base with --rnnbench-against: the gate compares two Keras trees in one "
            "interpreter, --rnnbench-against two interpreters; drop one of them"
        )
    if values["save_baseline"]:
        raise pytest.UsageError(
            "--rnnbench-save-baseline with --rnnbench-base: the pull-request gate compares two "
            "trees and records nothing; drop one of them"
        )
    if values["preallocate"]:
        raise pytest.UsageError(
            "--rnnbench-preallocate with --rnnbench-base: every worker of a gated case shares "
            "the case's GPUs, and each would grab most of their memory; drop one of them"
        )


def _path(raw: str, base: Path) -> Path:
    if not str(raw).strip():
        raise ValueError("expected a path")
    return Path(os.path.abspath(os.path.join(base, os.path.expanduser(str(raw).strip()))))
