"""The option table: every option of the plugin, in `pytest --help` order, each row with its
flags, help, parser, Settings field and default (option.py). The ini key and environment
variable follow from the row's dest; the tolerance options come from the metric registry.
"""

from __future__ import annotations

from ..backends import BACKENDS
from ..matrix import CPU_SAMPLES, DATASETS, parse_shard
from ..metrics import METRICS
from ..settings import (
    DEFAULT_FALSE_ALARM_RATE,
    DEFAULT_REPEATS,
    DEFAULT_THREAD_POOLS,
    DEFAULT_TIMEOUT_S,
    STORED_WORKERS,
)
from . import defaults
from .option import Option
from .parsers import (
    choices,
    devices_to_simulate,
    false_alarm_rate,
    flag,
    matrix,
    output_file,
    parse_fraction,
    parse_gpus,
    parse_size,
    path,
    plots_dir,
    positive_float,
    positive_int,
    positive_ints,
    pythons,
    samples_cap,
    slowdown,
    thread_pools,
    unroll,
)
from .table_live import LIVE_OPTIONS

__all__ = ["BY_DEST", "OPTIONS"]


def _tolerance_options() -> tuple[Option, ...]:
    """One option per metric, setting its default tolerance (Settings.tolerances[metric])."""
    return tuple(
        Option(
            metric.tolerance_ini,
            (metric.tolerance_flag,),
            metric.tolerance_option_help,
            metavar="FRACTION",
            parse=parse_fraction,
            field="tolerances",
            key=metric.name,
        )
        for metric in METRICS.values()
    )


OPTIONS: tuple[Option, ...] = (
    Option(
        "rnnbench",
        ("--rnnbench",),
        "run the LSTM benchmark cases (skipped otherwise). Any other rnnbench option given on "
        "the command line implies it.",
        action="store_true",
        parse=flag,
        field="enabled",
        default=False,
    ),
    Option(
        "rnnbench_gpus",
        ("--rnnbench-gpus",),
        "GPU counts to benchmark: 0, 4, 0,1,4 or all. Default: 0 without a GPU, 1 with one.",
        metavar="COUNTS",
        parse=parse_gpus,
        field="gpu_counts",
        default_from=defaults.gpu_counts,
        takes="available_gpus",
    ),
    Option(
        "rnnbench_backends",
        ("--rnnbench-backends",),
        f"backends to benchmark, comma-separated: {', '.join(BACKENDS)}. Default: all.",
        metavar="NAMES",
        parse=choices(BACKENDS),
        field="backends",
        default=BACKENDS,
    ),
    Option(
        "rnnbench_batch_sizes",
        ("--rnnbench-batch-sizes",),
        "global batch sizes, comma-separated. Default: 128 (seed matrix: 32,128).",
        metavar="SIZES",
        parse=positive_ints,
        field="batch_sizes",
        default_from=defaults.from_preset("batch_sizes"),
    ),
    Option(
        "rnnbench_unroll",
        ("--rnnbench-unroll",),
        "LSTM unroll: true, false or both. Default: true (seed matrix: both).",
        metavar="true|false|both",
        parse=unroll,
        field="unrolls",
        default_from=defaults.from_preset("unrolls"),
    ),
    Option(
        "rnnbench_datasets",
        ("--rnnbench-datasets",),
        f"datasets, comma-separated: {', '.join(DATASETS)}. Default: synthetic,nietzsche "
        "(seed matrix: all three).",
        metavar="NAMES",
        parse=choices(DATASETS),
        field="datasets",
        default_from=defaults.from_preset("datasets"),
    ),
    Option(
        "rnnbench_matrix",
        ("--rnnbench-matrix",),
        "matrix preset: default; seed (the published Keras-MXNet RNN benchmark); or pr (a "
        "pull request on a small CPU runner: batch 128, unroll true and false, synthetic and "
        "Nietzsche capped at 4096 samples per epoch).",
        metavar="NAME",
        parse=matrix,
        field="matrix",
        default="default",
    ),
    Option(
        "rnnbench_samples",
        ("--rnnbench-samples",),
        "cap the samples per epoch for quick runs (recorded with the result), or full for "
        "the seed's full epochs. Default: full epochs on a machine with a GPU; "
        f"{CPU_SAMPLES:,} without one (default matrix).",
        metavar="N",
        parse=samples_cap,
        field=("samples", "samples_from"),
        default_from=defaults.samples,
    ),
    Option(
        "rnnbench_repeats",
        ("--rnnbench-repeats",),
        f"timed epochs per case after the warm-up. Default: {DEFAULT_REPEATS}.",
        metavar="N",
        parse=positive_int,
        field="repeats",
        default=DEFAULT_REPEATS,
    ),
    Option(
        "rnnbench_data_dir",
        ("--rnnbench-data-dir",),
        "directory holding dataset files (nietzsche.txt, wikitext-2-raw-v1.zip) for offline use.",
        metavar="DIR",
        parse=path,
        field="data_dir",
        takes="base",
    ),
    Option(
        "rnnbench_cache_dir",
        ("--rnnbench-cache-dir",),
        "where downloads and prepared arrays are cached. Default: ~/.cache/pytest-rnnbench.",
        metavar="DIR",
        parse=path,
        field="cache_dir",
        default_from=defaults.cache_dir,
        takes="base",
    ),
    Option(
        "rnnbench_python",
        ("--rnnbench-python",),
        "BACKEND=PATH: the interpreter that runs that backend's workers (repeatable). "
        "Default: the interpreter running pytest.",
        metavar="BACKEND=PATH",
        action="append",
        parse=pythons,
        field="pythons",
        default={},
        takes="base",
        in_env=False,
    ),
    Option(
        "rnnbench_json",
        ("--rnnbench-json",),
        "write every result to this JSON file.",
        metavar="PATH",
        parse=output_file,
        field="json_path",
        takes="base",
    ),
    Option(
        "rnnbench_report",
        ("--rnnbench-report",),
        "write a markdown report (the seed's RNN_result.md layout) to this file.",
        metavar="PATH.md",
        parse=output_file,
        field="report_path",
        takes="base",
    ),
    Option(
        "rnnbench_plots",
        ("--rnnbench-plots",),
        "write PNG charts (seconds/epoch, GPU memory) to this directory; needs matplotlib "
        "(pip install 'pytest-rnnbench[plots]').",
        metavar="DIR",
        parse=plots_dir,
        field="plots_dir",
        takes="base",
    ),
    Option(
        "rnnbench_benchmark_json",
        ("--rnnbench-benchmark-json",),
        "write the results in pytest-benchmark's JSON format (for `pytest-benchmark compare` "
        "and its dashboards).",
        metavar="PATH",
        parse=output_file,
        field="benchmark_json_path",
        takes="base",
    ),
    Option(
        "rnnbench_baseline_dir",
        ("--rnnbench-baseline-dir",),
        "where baseline files live, one per machine profile. Default: baselines/ in the rootdir.",
        metavar="DIR",
        parse=path,
        field="baseline_dir",
        takes="base",
    ),
    Option(
        "rnnbench_save_baseline",
        ("--rnnbench-save-baseline",),
        "record (or refresh) the baselines of the cases that run, instead of checking them.",
        action="store_true",
        parse=flag,
        field="save_baseline",
        default=False,
    ),
    Option(
        "rnnbench_require_baseline",
        ("--rnnbench-require-baseline",),
        "fail a measured case that has no baseline for its workload (for CI); without it such "
        "a case passes, unjudged.",
        action="store_true",
        parse=flag,
        field="require_baseline",
        default=False,
    ),
    Option(
        "rnnbench_reset_baseline",
        ("--rnnbench-reset-baseline",),
        "with --rnnbench-save-baseline: start the saved cases' stored sessions afresh (after "
        "an accepted change) instead of adding this session to them.",
        action="store_true",
        parse=flag,
        field="reset_baseline",
        default=False,
    ),
    Option(
        "rnnbench_inject_slowdown",
        ("--rnnbench-inject-slowdown",),
        "stretch every training step by FACTOR (e.g. 1.10) to show that the gate catches a "
        "known slowdown. Default: 1 (none).",
        metavar="FACTOR",
        parse=slowdown,
        field="inject_slowdown",
        default=1.0,
    ),
    *_tolerance_options(),
    Option(
        "rnnbench_shard",
        ("--rnnbench-shard",),
        "run only the K-th of N parts of the matrix (e.g. 2/4), the same split on every "
        "machine, so a CI job matrix covers it all; merge the results files with "
        "`python -m pytest_rnnbench report`.",
        metavar="K/N",
        parse=parse_shard,
        field="shard",
    ),
    Option(
        "rnnbench_simulate_devices",
        ("--rnnbench-simulate-devices",),
        "test multi-device paths without GPUs: split the CPU into N devices (JAX host "
        "platform devices, TensorFlow logical CPUs, MXNet cpu contexts) and run GPU-count "
        "cases up to N on them. Timings are not GPU timings.",
        metavar="N",
        parse=devices_to_simulate,
        field="simulate_devices",
        default=0,
    ),
    Option(
        "rnnbench_preallocate",
        ("--rnnbench-preallocate",),
        "keep the frameworks' default GPU memory preallocation (JAX grabs most of the GPU, "
        "TensorFlow all of it) instead of turning it off; recorded with each result.",
        action="store_true",
        parse=flag,
        field="preallocate",
        default=False,
    ),
    Option(
        "rnnbench_workers",
        ("--rnnbench-workers",),
        "fresh worker processes per case, one after another, when saving or judging against "
        "stored baselines (each process settles at its own speed; a session averages them). "
        f"Default: {STORED_WORKERS}; 1 for a case with no baseline to judge it.",
        metavar="N",
        parse=positive_int,
        field="workers",
    ),
    Option(
        "rnnbench_thread_pools",
        ("--rnnbench-thread-pools",),
        "a CPU case's framework thread pools: steady (TensorFlow's inter-op pool gets one "
        "thread, torch's glibc malloc fixed thresholds, so processes agree in speed) or "
        "default (the frameworks' own). "
        f"Default: {DEFAULT_THREAD_POOLS}.",
        metavar="steady|default",
        parse=thread_pools,
        field="thread_pools",
        default=DEFAULT_THREAD_POOLS,
    ),
    Option(
        "rnnbench_max_rss",
        ("--rnnbench-max-rss",),
        "kill a worker whose resident memory passes SIZE (e.g. 4G, 512M; a bare number is "
        "MiB) and fail its case: protects shared machines. Default: no cap.",
        metavar="SIZE",
        parse=parse_size,
        field="max_rss_bytes",
    ),
    Option(
        "rnnbench_busy_limit",
        ("--rnnbench-busy-limit",),
        "against a stored baseline, a time verdict is inconclusive, not a regression, when "
        "other processes took more than this share of the machine's CPU time during the "
        "baseline's or this run's timed epochs (0.10 or 10%; 100% turns the check off). Live "
        "A/B leaves out turns loaded beyond it and distrusts load that fell unevenly on the "
        "sides' turns. Default: 10%.",
        metavar="FRACTION",
        parse=parse_fraction,
        field="busy_limit",
    ),
    Option(
        "rnnbench_false_alarm_rate",
        ("--rnnbench-false-alarm-rate",),
        "the chance that a run of unchanged code calls any regression, for the whole run "
        "(and, separately, any improvement): each of its N judged cases is tested at this "
        "level / N in each direction. Default: 1%.",
        metavar="FRACTION",
        parse=false_alarm_rate,
        field="false_alarm_rate",
        default=DEFAULT_FALSE_ALARM_RATE,
    ),
    *LIVE_OPTIONS,
    Option(
        "rnnbench_timeout",
        ("--rnnbench-timeout",),
        "wall-clock limit in seconds for each worker process (a case's workers train one "
        f"after another, each within it). Default: {DEFAULT_TIMEOUT_S:.0f}.",
        metavar="SECONDS",
        parse=positive_float,
        field="timeout_s",
        default=DEFAULT_TIMEOUT_S,
    ),
)


BY_DEST = {option.dest: option for option in OPTIONS}
