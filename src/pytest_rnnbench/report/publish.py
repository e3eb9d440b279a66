"""Writing a report's requested outputs: markdown, charts, pytest-benchmark JSON, CI job summary.

Shared by the plugin (end of a --rnnbench run) and `python -m pytest_rnnbench report`, so both
produce the same files from the same rows. Returns what it wrote, for the caller to announce.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..atomic import write_json, write_text
from ..results.rows import Report
from . import markdown

STEP_SUMMARY_ENV = "GITHUB_STEP_SUMMARY"


def plots_available() -> bool:
    """Whether matplotlib is installed, asked without importing it."""
    return importlib.util.find_spec("matplotlib") is not None


@dataclass(frozen=True)
class Outputs:
    report_path: Optional[Path] = None
    plots_dir: Optional[Path] = None
    benchmark_json_path: Optional[Path] = None
    title: str = markdown.TITLE


def _relative(target: Path, start: Path) -> str:
    return Path(os.path.relpath(target, start)).as_posix()


def publish(
    report: Report, outputs: Outputs, written: str = "", environ: Mapping[str, str] = os.environ
) -> list[tuple[str, Path]]:
    """Write every output asked for; returns (what, path) pairs in the order written."""
    done: list[tuple[str, Path]] = []
    if outputs.plots_dir is not None:
        from . import charts  # matplotlib is imported only here, when charts are asked for

        for path in charts.render_all(report, outputs.plots_dir):
            done.append(("chart", path))
    if outputs.report_path is not None:
        plots = None
        if outputs.plots_dir is not None:
            plots = _relative(outputs.plots_dir, outputs.report_path.parent)
        write_text(outputs.report_path, markdown.render(report, plots, outputs.title) + "\n")
        done.append(("markdown report", outputs.report_path))
    if outputs.benchmark_json_path is not None:
        from .pytest_benchmark import to_pytest_benchmark

        write_json(outputs.benchmark_json_path, to_pytest_benchmark(report, written))
        done.append(("pytest-benchmark JSON", outputs.benchmark_json_path))
    summary_file = environ.get(STEP_SUMMARY_ENV, "").strip()
    if summary_file and report.rows:
        # GitHub Actions collects what each step appends to this file into the job's summary.
        with open(summary_file, "a", encoding="utf-8") as handle:
            handle.write(markdown.step_summary(report) + "\n")
        done.append(("job summary", Path(summary_file)))
    return done
