"""History charts (PNG) in the style of the seed's charts: per machine profile, dataset, batch size
and unroll setting, a line per backend and GPU count over the runs, its levels between change
points as thin steps, and each change point marked by a dashed line with its change. One chart
for seconds per epoch (`lstm_<Dataset>_<batch>[_nounroll].png`, the seed's names) and one for
memory (`memory_...`: peak GPU memory, or the host's peak RSS where no GPU memory was measured),
in a folder per profile.

matplotlib is imported only when a chart is drawn (charts.import_pyplot); planning the charts,
for the page's image links, needs no matplotlib.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..backends import COLOURS as BACKEND_COLOURS
from ..history.changes import Analysis
from ..history.runs import METRICS, Metric, Run
from ..history.series import History, SeriesKey
from ..machine import HardwareProfile
from ..results.rows import backend_name, dataset_name
from .charts import (
    DPI,
    HEIGHT_IN,
    MIN_WIDTH_IN,
    OTHER_COLOURS,
    ChartSpec,
    empty_plot,
    import_pyplot,
    save_figure,
)
from .formatting import format_change

CHANGE_COLOUR = "#E6007E"  # change points: a colour no backend line uses
LINE_STYLES = ("-", "--", ":", "-.")  # one per GPU count within a backend
MAX_WIDTH_IN = 24.0
IN_PER_RUN = 0.5  # room for a run's point and its label; beyond MAX_WIDTH_IN labels are thinned
IN_PER_LABEL = 0.8  # a tick label ("11-29 07:46") at font size 8


@dataclass(frozen=True)
class HistoryChart:
    """The charts of one profile, dataset, batch size and unroll setting."""

    profile: HardwareProfile
    folder: str  # the profile's folder (its slug, made unique)
    spec: ChartSpec

    def path(self, kind: str) -> str:
        """Relative to the charts' directory: "intel-xeon-2-cpus/lstm_Synthetic_128.png"."""
        return f"{self.folder}/{self.spec.filename(kind)}"

    def holds(self, key: SeriesKey) -> bool:
        return (
            key.profile == self.profile
            and key.dataset == self.spec.dataset
            and key.batch_size == self.spec.batch_size
            and key.unroll == self.spec.unroll
        )


def plan(history: History) -> list[HistoryChart]:
    """Every chart of the history, in page order."""
    folders: dict[HardwareProfile, str] = {}
    for profile in history.profiles:
        folder, n = profile.slug, 2
        while folder in folders.values():  # two profiles with one readable name
            folder, n = f"{profile.slug}-{n}", n + 1
        folders[profile] = folder
    seen: dict[HistoryChart, None] = {}
    for series in history.series:
        key = series.key
        spec = ChartSpec(key.dataset, key.batch_size, key.unroll)
        seen.setdefault(HistoryChart(key.profile, folders[key.profile], spec), None)
    return list(seen)


def images(history: History) -> dict[HardwareProfile, list[tuple[str, str]]]:
    """Per profile, (alt text, path relative to the charts' directory) of its charts."""
    out: dict[HardwareProfile, list[tuple[str, str]]] = {}
    for chart in plan(history):
        name = f"{dataset_name(chart.spec.dataset)}, batch {chart.spec.batch_size}"
        name += "" if chart.spec.unroll else ", no unroll"
        out.setdefault(chart.profile, []).extend(
            [
                (f"Seconds per epoch over runs: {name}", chart.path("speed")),
                (f"Memory over runs: {name}", chart.path("memory")),
            ]
        )
    return out


def runs_of(history: History, chart: HistoryChart) -> list[Run]:
    """The runs that hold a case of this chart, in run order: the chart's x axis."""
    holding = {
        id(point.run)
        for series in history.series
        if chart.holds(series.key)
        for point in series.points
    }
    return [run for run in history.runs[chart.profile] if id(run) in holding]


def figure_size_px(runs: int) -> tuple[int, int]:
    """Width grows with the runs so that points and labels keep their room, up to a limit."""
    width_in = min(MAX_WIDTH_IN, max(MIN_WIDTH_IN, 4.0 + IN_PER_RUN * runs))
    return int(round(width_in * DPI)), int(round(HEIGHT_IN * DPI))


def memory_metric(analyses: Mapping[str, Sequence[Analysis]], chart: HistoryChart) -> Metric:
    """GPU memory where some case of the chart measured it, else the host's RSS."""
    for analysis in analyses.get("gpu-memory", ()):
        if chart.holds(analysis.series.key) and analysis.measured:
            return METRICS["gpu-memory"]
    return METRICS["rss"]


def render_all(
    history: History, analyses: Mapping[str, Sequence[Analysis]], directory: Path
) -> list[Path]:
    """Draw every chart into `directory`; `analyses` by metric name ("time", "gpu-memory", "rss").
    Returns the files written."""
    plt = import_pyplot()
    written = []
    for chart in plan(history):
        for kind in ("speed", "memory"):
            metric = METRICS["time"] if kind == "speed" else memory_metric(analyses, chart)
            mine = [a for a in analyses.get(metric.name, ()) if chart.holds(a.series.key)]
            path = directory / chart.path(kind)
            path.parent.mkdir(parents=True, exist_ok=True)
            _draw(plt, history, chart, metric, mine, path)
            written.append(path)
    return written


def _colour(backend: str, index: int) -> str:
    return BACKEND_COLOURS.get(backend, OTHER_COLOURS[index % len(OTHER_COLOURS)])


def _tick_label(history: History, run: Run) -> str:
    label = f"run {history.position(run)}\n{run.written.strftime('%m-%d %H:%M')}"
    return label + (f"\n{run.short_commit}" if run.commit else "")


def _draw(
    plt: Any,
    history: History,
    chart: HistoryChart,
    metric: Metric,
    analyses: Sequence[Analysis],
    path: Path,
) -> None:
    runs = runs_of(history, chart)
    x_of = {id(run): x for x, run in enumerate(runs)}
    width_px, height_px = figure_size_px(len(runs))
    fig = plt.figure(figsize=(width_px / DPI, height_px / DPI), dpi=DPI, layout="constrained")
    try:
        ax = fig.add_subplot()
        workloads = {a.series.key.workload for a in analyses}
        gpu_counts: dict[str, list[int]] = {}
        top = 0.0
        for index, analysis in enumerate(analyses):
            key = analysis.series.key
            counts = gpu_counts.setdefault(key.backend, [])
            if key.gpus not in counts:
                counts.append(key.gpus)
            style = LINE_STYLES[counts.index(key.gpus) % len(LINE_STYLES)]
            label = f"{backend_name(key.backend)}, {key.gpus} GPU{'s' if key.gpus != 1 else ''}"
            label += f", {key.workload}" if len(workloads) > 1 else ""
            ys = _line(ax, analysis, x_of, _colour(key.backend, index), style, label)
            top = max([top, *ys])
        _label_axes(fig, ax, history, chart, metric, runs, width_px, workloads)
        if top <= 0:
            empty_plot(ax, f"no {metric.label} measured")
        else:
            ax.set_ylim(0, top * 1.15)  # from zero, as the seed's bars: changes keep their size
        save_figure(fig, ax, path, legend=bool(analyses))
    finally:
        plt.close(fig)


def _line(
    ax: Any, analysis: Analysis, x_of: Mapping[int, int], colour: str, style: str, label: str
) -> list[float]:
    """One series: its measured points, its levels, its change points and its failures;
    returns the values drawn."""
    points = analysis.series.points
    xs = [x_of[id(points[i].run)] for i in analysis.measured]
    ys = [float(analysis.values[i] or 0.0) for i in analysis.measured]
    ax.plot(
        xs, ys, style, color=colour, marker="o", markersize=4, linewidth=1.8,
        label=label, zorder=3,
    )  # fmt: skip
    for level in analysis.levels:
        inside = [x_of[id(points[i].run)] for i in range(level.start, level.stop)]
        ax.hlines(
            level.mean, min(inside) - 0.4, max(inside) + 0.4, colors=colour,
            linewidth=1.0, alpha=0.55, zorder=2,
        )  # fmt: skip
    for change in analysis.changes:
        x = x_of[id(points[change.position].run)] - 0.5
        ax.axvline(x, color=CHANGE_COLOUR, linestyle="--", linewidth=1.6, zorder=4)
        ax.annotate(
            format_change(change.change), (x, 1.0), xycoords=("data", "axes fraction"),
            xytext=(3, -12), textcoords="offset points", color=CHANGE_COLOUR,
            fontsize=9, fontweight="bold",
        )  # fmt: skip
    failed = [x_of[id(p.run)] for p in analysis.series.failures]
    if failed:
        ax.plot(
            failed, [0.0] * len(failed), "x", color=colour, markersize=8,
            markeredgewidth=2, clip_on=False, zorder=5,
            label=f"{label}: failed",
        )  # fmt: skip
    return ys


def _label_axes(
    fig: Any,
    ax: Any,
    history: History,
    chart: HistoryChart,
    metric: Metric,
    runs: Sequence[Run],
    width_px: int,
    workloads: set[str],
) -> None:
    # The plot area is the figure less the y axis and the legend (about 4 inches).
    labels = max(2, int((width_px / DPI - 4.0) / IN_PER_LABEL))
    step = max(1, -(-len(runs) // labels))
    ticks = list(range(0, len(runs), step))
    ax.set_xticks(ticks)
    ax.set_xticklabels([_tick_label(history, runs[x]) for x in ticks], fontsize=8)
    ax.set_xlim(-0.6, max(0.6, len(runs) - 0.4))
    ax.set_xlabel("Run (UTC date, commit)", fontsize=10, fontweight="bold")
    ax.set_ylabel(metric.axis, fontsize=10, fontweight="bold")
    what = "Speed: seconds per epoch" if metric.name == "time" else f"Memory: {metric.label}"
    fig.suptitle(
        f"{what} over runs (lower is better)", fontsize=14, fontweight="bold", color="#444444"
    )
    subtitle = (
        f"LSTM on {dataset_name(chart.spec.dataset)}   batch size {chart.spec.batch_size}   "
        f"unroll={chart.spec.unroll}   {', '.join(sorted(workloads))}\n"
        + "\n".join(textwrap.wrap(chart.profile.label, 100))
    )
    ax.set_title(subtitle, fontsize=9, color="#666666")
