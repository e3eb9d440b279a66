"""The frozen Settings of a run and every default, in one place.

A leaf of the package: it imports only the pure facts of the matrix (backends and presets), never
pytest or anything that runs workers, so every layer may read Settings. The options package fills
it from the command line, the environment and the ini file; nothing else builds one in a real run.

The measured figures behind the defaults are in docs/calibration.md, section "Figures behind the
defaults"; the comments here keep the reasons.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Optional

from .backends import BACKENDS
from .matrix import PRESETS

# Per-worker wall-clock limit (a case's workers train one after another): long enough for a
# full WikiText-2 epoch on a small CPU (figures: docs/calibration.md).
DEFAULT_TIMEOUT_S = 4 * 3600.0
# Timed epochs per case. Several epochs give the verdict samples from more than one stretch of
# the machine's load; see docs/calibration.md for why 3.
DEFAULT_REPEATS = 3
# A run's chance of calling any change in unchanged code (all its cases together): what a user
# meets is the run (a pull request's gate, a whole `pytest --rnnbench`), not a single case.
DEFAULT_FALSE_ALARM_RATE = 0.01
# The GPU counts `--rnnbench-gpus=all` may pick: the seed's rows (plus the machine's own count).
GPU_COUNTS_FOR_ALL = (1, 2, 4, 8)

# Live A/B workers per side: identical worker processes differ in speed for as long as they live
# (memory layout, thread placement), and the mean of several per side evens that out
# (figures: docs/calibration.md).
LIVE_PER_SIDE = 3

# Live A/B training steps per turn: short enough that neighbouring turns see the same machine,
# long enough that switching (a device sync and two pipe round trips) is a small part of a turn
# (figures: docs/calibration.md).
LIVE_TURN_STEPS = 8

# How a CPU case's framework thread pools are set up: "steady" or "default" (the frameworks' own).
# "steady" gives TensorFlow's inter-op pool one thread: with its default pool, TensorFlow
# processes of identical code settle at speeds several percent apart for their whole life (its
# executor schedules small ops differently from process to process), which a verdict whose unit
# is the process cannot see past; with one inter-op thread they agree within about 0.5%. Torch's
# processes differed by glibc malloc's moving thresholds (12.1% apart), not their threads: "steady"
# fixes those (3.4%; run/protocol.py's STEADY_MALLOC). GPU cases keep the defaults.
# Figures: docs/calibration.md.
THREAD_POOLS = ("steady", "default")
DEFAULT_THREAD_POOLS = "steady"

# Worker processes per case of a run that is not live (and no --rnnbench-workers), saving or
# judged: one process cannot show how fast another would be (processes of identical code settle
# at their own speed, and now and then one runs far slower than the rest), so a stored session
# averages several, and a judged run is a session like them. One judged process was called a
# regression at +17% on unchanged code (docs/calibration.md); fewer workers are judged with a
# wider prediction (verdicts/session_level.py). A case with nothing to judge runs one
# (session/runner.py).
STORED_WORKERS = 3

_DEFAULT_PRESET = PRESETS["default"]


def default_cache_dir() -> Path:
    """Where downloads and prepared arrays are cached: $XDG_CACHE_HOME/pytest-rnnbench."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "pytest-rnnbench"


@dataclass(frozen=True)
class Settings:
    """Everything the plugin needs to know about this run, resolved once in pytest_configure."""

    enabled: bool = False
    implied_by: Optional[str] = None  # the command-line flag that turned benchmarking on
    gpu_counts: tuple[int, ...] = (0,)
    backends: tuple[str, ...] = BACKENDS
    batch_sizes: tuple[int, ...] = _DEFAULT_PRESET["batch_sizes"]
    unrolls: tuple[bool, ...] = _DEFAULT_PRESET["unrolls"]
    datasets: tuple[str, ...] = _DEFAULT_PRESET["datasets"]
    matrix: str = "default"
    samples: Optional[int] = None
    # Why epochs are capped: "option" (--rnnbench-samples), "preset" (e.g. pr), "no-gpu" (the
    # default matrix on a machine without a GPU); None: full epochs.
    samples_from: Optional[str] = None
    repeats: int = DEFAULT_REPEATS
    data_dir: Optional[Path] = None
    cache_dir: Path = field(default_factory=default_cache_dir)
    pythons: Mapping[str, str] = field(default_factory=dict)
    json_path: Optional[Path] = None
    report_path: Optional[Path] = None
    plots_dir: Optional[Path] = None
    benchmark_json_path: Optional[Path] = None
    timeout_s: float = DEFAULT_TIMEOUT_S
    baseline_dir: Optional[Path] = None  # None: baselines/ under the rootdir
    save_baseline: bool = False
    require_baseline: bool = False  # a measured case without a baseline fails (CI)
    reset_baseline: bool = False  # saving starts the cases' stored sessions afresh
    workers: Optional[int] = None  # fresh worker processes per case (None: see stored_workers)
    thread_pools: str = DEFAULT_THREAD_POOLS  # a CPU case's framework thread pools (THREAD_POOLS)
    inject_slowdown: float = 1.0
    tolerances: Mapping[str, float] = field(default_factory=dict)  # metric name -> fraction
    shard: Optional[tuple[int, int]] = None  # (K, N): run the K-th of N parts of the matrix
    simulate_devices: int = 0  # > 1: CPU split into that many devices stands in for GPUs
    preallocate: bool = False
    max_rss_bytes: Optional[int] = None
    busy_limit: Optional[float] = None  # None: verdict.BUSY_MACHINE_SHARE
    # The run is the family: its chance of any false regression (and, separately, of any false
    # improvement) (verdicts/family.py).
    false_alarm_rate: float = DEFAULT_FALSE_ALARM_RATE
    # Live A/B: backend (or "*" for every backend) -> the reference interpreter; empty: off.
    against: Mapping[str, str] = field(default_factory=dict)
    # Live A/B workers per side: backend (or "*" for every other backend) -> count.
    against_workers: Mapping[str, int] = field(default_factory=lambda: {"*": LIVE_PER_SIDE})
    turn_steps: int = LIVE_TURN_STEPS
    # Pull-request gate: the base tree (a git ref or a directory; None: off) and the head tree
    # (a directory; None: the git working tree around the invocation directory).
    base: Optional[str] = None
    base_dir: Optional[str] = None  # the base as a directory (--rnnbench-base-dir), not a ref
    head: Optional[str] = None
    comment_path: Optional[Path] = None  # the pull-request comment (markdown)
    available_gpus: int = 0
    # The user's command line minus outputs and judging options, and its -k expression: what a
    # suggested command (e.g. recording a missing baseline) repeats so it keeps their selection.
    rerun_args: tuple[str, ...] = ()
    keyword: Optional[str] = None
    # The words a hint's command starts with: `pytest` where that runs this interpreter's pytest,
    # else e.g. `.venv/bin/python -m pytest` (invocation.pytest_program), so it runs as printed.
    program: tuple[str, ...] = ("pytest",)

    def workers_per_side(self, backend: str) -> int:
        """Live A/B workers per side for `backend`'s cases."""
        return self.against_workers.get(backend, self.against_workers.get("*", LIVE_PER_SIDE))

    @property
    def live(self) -> bool:
        """Whether cases are judged live, against reference workers measured in this session."""
        return bool(self.against) or self.gate_base is not None

    @property
    def verdicts_required(self) -> bool:
        """Whether a run that judged no case must not pass: a live comparison (the gate's among
        them) or --rnnbench-require-baseline asked for verdicts, and skips alone (an interpreter
        path mistyped, a GPU job without NVML) would otherwise exit 0 having judged nothing."""
        return self.live or self.require_baseline

    @property
    def stored_workers(self) -> int:
        """Fresh worker processes, one after another, per case of a run that is not live."""
        return STORED_WORKERS if self.workers is None else self.workers

    @property
    def gate_base(self) -> Optional[tuple[str, Literal["ref", "dir"]]]:
        """The pull-request gate's base and what it is (None: no gate): a git ref
        (--rnnbench-base, never a directory of that name) or a directory (--rnnbench-base-dir)."""
        if self.base is not None:
            return self.base, "ref"
        if self.base_dir is not None:
            return self.base_dir, "dir"
        return None

    def command(self, *extra: str, case_ids: Sequence[str] = ()) -> str:
        """A pytest command line for a hint: this run's selection plus `extra`; with `case_ids`,
        -k selects those cases instead of the user's own -k."""
        args = [*self.rerun_args, *extra]
        keyword = " or ".join(case_ids) if case_ids else self.keyword
        if keyword:
            args += ["-k", keyword]
        return shlex.join([*self.program, *args])

    def reference_python(self, backend: str) -> Optional[str]:
        """The live A/B reference interpreter for `backend`, or None (no live comparison)."""
        return self.against.get(backend, self.against.get("*"))
