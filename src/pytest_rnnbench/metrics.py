"""The metrics of a case, in one registry: what each is called, its unit, how it is sampled, its
tolerance (key, default and option) and how the history reads it from a results row.

A leaf: it imports nothing from the package, so the verdicts, the history, the options and the
reports all read the same rows. Keys are the JSON keys of baselines and results files.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Optional

__all__ = [
    "HISTORY_VIEWS",
    "METRICS",
    "TOLERANCE_KEYS",
    "HistoryView",
    "Metric",
    "parse_fraction",
]


@dataclass(frozen=True)
class HistoryView:
    """How `python -m pytest_rnnbench history` follows a metric across runs."""

    name: str  # the --metric value: "time", "gpu-memory", "rss", "loss"
    label: str  # "seconds per epoch"
    axis: str  # the chart's y-axis label
    unit: str  # appended to values in the page: "s", "MiB", ""
    source: str  # the attribute path on a history point, e.g. "row.epoch_seconds"
    scale: int = 1  # the stored value is divided by this (2**20: bytes -> MiB)

    def read(self, point: object) -> Optional[float]:
        """The value of `point` (a history.series.Point), or None when it was not measured."""
        value: Any = operator.attrgetter(self.source)(point)
        return None if value is None else value / self.scale


@dataclass(frozen=True)
class Metric:
    """One measured figure of a case; every metric is "higher is worse"."""

    name: str  # key in baselines and results
    label: str  # what the verdict's one-line reason calls it
    unit: str
    # "step": many samples per epoch (blocks of step times), so significance can be tested;
    # "run": one value per run (a peak, the final loss), judged against the tolerance alone.
    sampled: Literal["step", "run"]
    tolerance_key: str  # ini rnnbench_<key>, marker <key>, baseline entry "tolerances" key
    default_tolerance: float
    tolerance_help: str  # the help of its tolerance option, without the default
    history: HistoryView

    @property
    def tolerance_ini(self) -> str:
        """The option's ini key and argparse dest: rnnbench_tolerance_time."""
        return f"rnnbench_{self.tolerance_key}"

    @property
    def tolerance_flag(self) -> str:
        """The command-line option: --rnnbench-tolerance-time."""
        return "--" + self.tolerance_ini.replace("_", "-")

    @property
    def tolerance_env(self) -> str:
        """The environment variable: RNNBENCH_TOLERANCE_TIME."""
        return self.tolerance_ini.upper()

    @property
    def tolerance_option_help(self) -> str:
        """The option's whole help text, its default included."""
        return f"{self.tolerance_help} Default: {self.default_tolerance:.0%}."


_MIB = 2**20

# Default tolerances: the decision is here, the figures behind it in docs/calibration.md ("Figures
# behind the defaults"): time 5% lets +10% be caught with few false alarms; memory peaks and a
# seeded loss barely move between runs of the same code, but not exactly.
_REGISTRY = (
    Metric(
        "step_time",
        "time per step",
        "ms",
        "step",
        "tolerance_time",
        0.05,
        "allowed slowdown of the time per step before a regression, as 0.05 or 5%.",
        # Results files of every version record seconds per epoch; the history follows those.
        HistoryView(
            "time", "seconds per epoch", "Time per epoch (seconds)", "s", "row.epoch_seconds"
        ),
    ),
    Metric(
        "host_peak_rss",
        "host peak RSS",
        "MiB",
        "run",
        "tolerance_rss",
        0.20,
        "allowed growth of the worker's host peak RSS.",
        HistoryView(
            "rss",
            "peak host memory (RSS)",
            "Peak host memory, RSS (MiB)",
            "MiB",
            "rss_bytes",
            _MIB,
        ),
    ),
    Metric(
        "gpu_peak_memory",
        "GPU peak memory",
        "MiB",
        "run",
        "tolerance_gpu_memory",
        0.10,
        "allowed growth of the peak GPU memory.",
        HistoryView(
            "gpu-memory",
            "peak GPU memory",
            "Peak GPU memory (MiB)",
            "MiB",
            "row.gpu_memory_bytes",
            _MIB,
        ),
    ),
    Metric(
        "final_loss",
        "final loss",
        "",
        "run",
        "tolerance_loss",
        0.10,
        "allowed growth of the final training loss.",
        HistoryView("loss", "final training loss", "Final training loss", "", "row.final_loss"),
    ),
)

# In verdict order: a case's verdict lists its metrics, and the options their tolerances, so.
METRICS: Mapping[str, Metric] = {metric.name: metric for metric in _REGISTRY}

# tolerance key (ini, marker, baseline entry) -> metric name
TOLERANCE_KEYS: Mapping[str, str] = {metric.tolerance_key: metric.name for metric in _REGISTRY}

# In the history's order (its --metric choices and pages): time, then the memories, then loss.
HISTORY_VIEWS: tuple[HistoryView, ...] = tuple(
    METRICS[name].history
    for name in ("step_time", "gpu_peak_memory", "host_peak_rss", "final_loss")
)


def parse_fraction(text: Any) -> float:
    """0.05, 5% -> 0.05: tolerances, the busy-machine limit and the commands' minimum changes;
    one text for options, markers and the commands alike."""
    raw = str(text).strip()
    percent = raw.endswith("%")
    try:
        value = float(raw[:-1]) / 100.0 if percent else float(raw)
    except ValueError:
        raise ValueError("expected a fraction such as 0.05 or a percentage such as 5%") from None
    if 1 <= value < float("inf") and not percent:
        # A bare 5 is almost always 5% without its sign: read as a fraction it is 500%, a
        # tolerance nothing exceeds or a busy limit that turns the check off, without a word.
        raise ValueError(
            f"{raw} would be {value * 100:g}%; did you mean {raw}%? (a bare number is a "
            "fraction: 0.05 is 5%" + ("; for 100%, write 100%)" if value == 1 else ")")
        )
    if not 0 <= value < 10 or value != value:
        raise ValueError("expected a fraction >= 0 such as 0.05, or a percentage such as 5%")
    return value
