"""The plugin's former way into the outputs, kept until session/lifecycle.py publishes through
report/outputs.py (the integrator's switch; then this module goes): `Outputs` names three of
the registry's outputs, `publish` writes them and returns (what, path) pairs, one per file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..results.rows import Report
from . import markdown
from .outputs import STEP_SUMMARY_ENV, from_environment, plots_available, publish_outputs

__all__ = ["STEP_SUMMARY_ENV", "Outputs", "plots_available", "publish"]


@dataclass(frozen=True)
class Outputs:
    report_path: Optional[Path] = None
    plots_dir: Optional[Path] = None
    benchmark_json_path: Optional[Path] = None
    title: str = markdown.TITLE


def publish(
    report: Report, outputs: Outputs, written: str = "", environ: Mapping[str, str] = os.environ
) -> list[tuple[str, Path]]:
    """Write every output asked for; returns (what, path) pairs in the order written."""
    asked = {
        "markdown": outputs.report_path,
        "charts": outputs.plots_dir,
        "pytest-benchmark": outputs.benchmark_json_path,
    }
    paths = {name: path for name, path in asked.items() if path is not None}
    paths.update(from_environment(environ))
    done = publish_outputs(report, paths, title=outputs.title, written=written)
    return [(w.output.what, path) for w in done for path in w.files]
