"""PNG charts in the seed's style: per dataset, batch size and unroll setting, seconds per epoch as
grouped bars (a group per GPU count and machine, a bar per backend), and peak GPU memory alike.

matplotlib is an optional extra (`pip install 'pytest-rnnbench[plots]'`) and is imported only
when a chart is drawn; planning which charts exist (for the markdown report's image links) needs
no matplotlib.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from ..atomic import write_with
from ..backends import COLOURS as BACKEND_COLOURS
from ..results.rows import Report, Row, backend_name, dataset_name
from .formatting import format_seconds
from .rendering import Rendering

DPI = 100
HEIGHT_IN = 6.0
MIN_WIDTH_IN = 10.0
OTHER_COLOURS = ("#9467BD", "#8C564B", "#7F7F7F")


class PlotsUnavailable(RuntimeError):
    """matplotlib is not installed; the message says how to install it."""


@dataclass(frozen=True)
class ChartSpec:
    dataset: str
    batch_size: int
    unroll: bool

    def filename(self, kind: str) -> str:
        """lstm_Synthetic_128.png (the seed's names), memory_Synthetic_128.png; "_nounroll"
        marks charts of the unroll=False cases."""
        stem = "lstm" if kind == "speed" else kind
        suffix = "" if self.unroll else "_nounroll"
        return f"{stem}_{dataset_name(self.dataset)}_{self.batch_size}{suffix}.png"

    def rows(self, report: Report) -> list[Row]:
        return [
            row
            for row in report.rows
            if row.dataset == self.dataset
            and row.batch_size == self.batch_size
            and row.unroll == self.unroll
        ]


def plan(report: Report) -> list[ChartSpec]:
    """The charts a report has, in report order."""
    seen: dict[ChartSpec, None] = {}
    for row in report.rows:
        seen.setdefault(ChartSpec(row.dataset, row.batch_size, row.unroll), None)
    return list(seen)


def figure_size_px(report: Report, spec: ChartSpec) -> tuple[int, int]:
    """Width grows with the number of bar groups so bars and labels keep their room."""
    groups = len(_groups(spec.rows(report)))
    width_in = max(MIN_WIDTH_IN, 3.0 + 1.8 * groups)
    return int(round(width_in * DPI)), int(round(HEIGHT_IN * DPI))


def _groups(rows: list[Row]) -> list[tuple[int, str]]:
    return sorted({(row.gpus, row.instance) for row in rows})


def import_pyplot() -> Any:
    """pyplot on the file-only Agg backend; PlotsUnavailable says how to install matplotlib."""
    try:
        import matplotlib
    except ImportError:
        raise PlotsUnavailable(
            "charts need matplotlib: pip install 'pytest-rnnbench[plots]'"
        ) from None
    matplotlib.use("Agg", force=True)  # files only: never open a window, work without a display
    import matplotlib.pyplot as plt

    return plt


def render_all(report: Report, directory: Path) -> list[Path]:
    """Draw every chart of `report` into `directory`; return the files written."""
    plt = import_pyplot()
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for spec in plan(report):
        for kind in ("speed", "memory"):
            path = directory / spec.filename(kind)
            _draw(plt, report, spec, kind, path)
            written.append(path)
    return written


def write_charts(rendering: Rendering, directory: Path) -> list[Path]:
    """Every chart of the rendering's report into `directory` (the registry's writer)."""
    return render_all(rendering.report, directory)


def _value(row: Row, kind: str) -> Optional[float]:
    if row.status != "passed":
        return None
    return row.epoch_seconds if kind == "speed" else row.gpu_memory_mib


def _missing_label(row: Optional[Row], kind: str) -> str:
    if row is None:
        return "not run"
    if row.status != "passed":
        return "failed"
    return "N/A" if kind == "memory" else "n/a"


def _draw(plt: Any, report: Report, spec: ChartSpec, kind: str, path: Path) -> None:
    rows = spec.rows(report)
    groups = _groups(rows)
    width_px, height_px = figure_size_px(report, spec)
    fig = plt.figure(figsize=(width_px / DPI, height_px / DPI), dpi=DPI, layout="constrained")
    try:
        ax = fig.add_subplot()
        backends = [b for b in report.backends if any(r.backend == b for r in rows)]
        narrow = len(groups) * len(backends) > 12
        top = _bars(ax, rows, groups, backends, kind, narrow)
        _label_axes(fig, ax, spec, rows, groups, kind)
        if top <= 0:
            empty_plot(
                ax,
                "no GPU memory measured: these cases ran on CPU only"
                if kind == "memory"
                else "no case finished",
            )
        else:
            # headroom for the value labels above the tallest bar
            ax.set_ylim(0, top * (1.35 if narrow else 1.15))
        save_figure(fig, ax, path, legend=True)
    finally:
        plt.close(fig)


def _bars(
    ax: Any,
    rows: list[Row],
    groups: list[tuple[int, str]],
    backends: list[str],
    kind: str,
    narrow: bool,
) -> float:
    """A bar per backend in each group, labelled with its value (or why it has none); returns
    the tallest bar's height."""
    found = {(r.gpus, r.instance, r.backend): r for r in rows}
    bar_width = 0.8 / max(1, len(backends))
    top = 0.0
    for index, backend in enumerate(backends):
        colour = BACKEND_COLOURS.get(backend, OTHER_COLOURS[index % len(OTHER_COLOURS)])
        xs = [g + (index - (len(backends) - 1) / 2) * bar_width for g in range(len(groups))]
        cells = [found.get((gpus, instance, backend)) for gpus, instance in groups]
        values = [_value(row, kind) if row else None for row in cells]
        heights = [v if v is not None else 0.0 for v in values]
        top = max([top, *heights])
        bars = ax.bar(
            xs, heights, bar_width * 0.92, label=backend_name(backend), color=colour, zorder=3
        )
        labels = [
            (format_seconds(v) if kind == "speed" else f"{v:,.0f}")
            if v is not None
            else _missing_label(row, kind)
            for v, row in zip(values, cells)
        ]
        ax.bar_label(
            bars, labels=labels, padding=3, fontsize=8, rotation=90 if narrow else 0, zorder=4
        )
    return top


def _label_axes(
    fig: Any, ax: Any, spec: ChartSpec, rows: list[Row], groups: list[tuple[int, str]], kind: str
) -> None:
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels(
        [
            f"{gpus} GPU{'s' if gpus != 1 else ''}\n" + "\n".join(textwrap.wrap(instance, 22))
            for gpus, instance in groups
        ],
        fontsize=9,
    )
    ax.set_xlabel("GPUs, machine", fontsize=10, fontweight="bold")
    if kind == "speed":
        ax.set_ylabel("Time per epoch (seconds)", fontsize=10, fontweight="bold")
        title = "Speed: seconds per epoch (lower is better)"
    else:
        ax.set_ylabel("Peak GPU memory (MiB)", fontsize=10, fontweight="bold")
        title = "GPU memory usage (lower is better)"
    samples = sorted({r.samples for r in rows if r.samples is not None})
    subtitle = (
        f"LSTM on {dataset_name(spec.dataset)}   batch size {spec.batch_size}   "
        f"unroll={spec.unroll}"
        + (f"   {', '.join(f'{n:,}' for n in samples)} samples/epoch" if samples else "")
    )
    fig.suptitle(title, fontsize=14, fontweight="bold", color="#444444")
    ax.set_title(subtitle, fontsize=9, color="#666666")


def empty_plot(ax: Any, text: str) -> None:
    """A plot with nothing to draw says so in its middle, on an axis without ticks."""
    ax.set_ylim(0, 1)
    ax.set_yticks([])
    ax.text(
        0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", fontsize=11,
        color="#666666",
    )  # fmt: skip


def save_figure(fig: Any, ax: Any, path: Path, legend: bool) -> None:
    """The house style's grid, spines and legend, then the PNG, written atomically."""
    ax.grid(axis="y", color="#DDDDDD", zorder=0)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if legend:
        ax.legend(title="Backend", loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    # Atomically, as every other output: a report page or a dashboard reading the directory
    # while a run rewrites it sees the old chart or the new one, never half a PNG.
    write_with(
        path,
        lambda handle: fig.savefig(
            handle, dpi=DPI, format="png", metadata={"Software": "pytest-rnnbench"}
        ),
    )
