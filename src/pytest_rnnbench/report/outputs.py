"""The one registry of output formats: each format a report can be written as is one row here
(its name, the pytest option and ini key that ask for it, the Settings field that holds its path,
the `report` command's flag, its writer, what it writes, whether it needs matplotlib).

Both the plugin (at the end of a --rnnbench run) and `python -m pytest_rnnbench report` publish
through `publish_outputs`, so both write the same files from the same rows and announce them with
the same "written to" lines (`written_lines`). A new format is one writer in its own module and one
row in OUTPUTS.

The plugin's options themselves are declared in options/table.py and options/table_live.py (with
their help and environment variable); each row names its option, ini key and Settings field, and
tests/unit/test_outputs.py checks that they exist.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, Optional

from ..atomic import cannot_append, cannot_write, cannot_write_in, write_text
from ..results.rows import Report
from ..settings import Settings
from . import charts, comment, markdown, pytest_benchmark
from .rendering import Rendering

STEP_SUMMARY_ENV = "GITHUB_STEP_SUMMARY"
PLOTS_INSTALL = "pip install 'pytest-rnnbench[plots]'"


def plots_available() -> bool:
    """Whether matplotlib is installed, asked without importing it."""
    return importlib.util.find_spec("matplotlib") is not None


@dataclass(frozen=True)
class Output:
    """One output format (see the module)."""

    name: str  # the registry key, and the key of Rendering.paths
    what: str  # how a "written to" line names one file: "markdown report", "chart"
    write: Callable[[Rendering, Path], list[Path]]  # writes it; returns the files written
    kind: str = "file"  # "file" (replaced atomically), "directory" (of files), "appended file"
    option: Optional[str] = None  # the pytest option that asks for it
    ini: Optional[str] = None  # its ini key
    settings_field: Optional[str] = None  # the Settings field holding its path
    cli: tuple[str, ...] = ()  # the `report` command's flags
    cli_help: str = ""
    metavar: str = "PATH"
    env: Optional[str] = None  # an environment variable whose value is its path (CI job summary)
    needs_matplotlib: bool = False
    # Written even when the report holds no case (the pull request then reads that nothing was
    # judged); every other output is left out of a run without cases.
    without_cases: bool = False
    # Renders one run's results document, not the merged rows (so never a merge of files).
    needs_document: bool = False

    @property
    def dest(self) -> str:
        """Where argparse puts the `report` command's flag: "--benchmark-json" -> benchmark_json."""
        return self.cli[-1].lstrip("-").replace("-", "_")


def _write_comment(rendering: Rendering, path: Path) -> list[Path]:
    if rendering.document is None:
        raise ValueError("the pull-request comment renders one run's results document")
    write_text(path, comment.render(rendering.document))
    return [path]


# In the order written; "written to" lines name files in this order, then directories.
OUTPUTS: tuple[Output, ...] = (
    Output(
        "markdown",
        "markdown report",
        markdown.write_report,
        option="--rnnbench-report",
        ini="rnnbench_report",
        settings_field="report_path",
        cli=("-o", "--output"),
        cli_help="write the markdown report here (default: standard output)",
        metavar="RESULTS.md",
    ),
    Output(
        "charts",
        "chart",
        charts.write_charts,
        kind="directory",
        option="--rnnbench-plots",
        ini="rnnbench_plots",
        settings_field="plots_dir",
        cli=("--plots",),
        cli_help="write PNG charts to this directory (needs matplotlib)",
        metavar="DIR",
        needs_matplotlib=True,
    ),
    Output(
        "pytest-benchmark",
        "pytest-benchmark JSON",
        pytest_benchmark.write_export,
        option="--rnnbench-benchmark-json",
        ini="rnnbench_benchmark_json",
        settings_field="benchmark_json_path",
        cli=("--benchmark-json",),
        cli_help="also write the results in pytest-benchmark's JSON format",
    ),
    Output(
        "job-summary",
        "job summary",
        markdown.append_step_summary,
        kind="appended file",
        env=STEP_SUMMARY_ENV,
    ),
    Output(
        "comment",
        "pull-request comment",
        _write_comment,
        option="--rnnbench-comment",
        ini="rnnbench_comment",
        settings_field="comment_path",
        cli=("--comment",),
        cli_help="also write the verdicts as a pull-request comment (one results file only)",
        metavar="PATH.md",
        without_cases=True,
        needs_document=True,
    ),
)
BY_NAME: Mapping[str, Output] = {output.name: output for output in OUTPUTS}


def from_environment(environ: Mapping[str, str] = os.environ) -> dict[str, Path]:
    """The outputs the environment asks for: the CI job summary on GitHub Actions."""
    paths = {}
    for output in OUTPUTS:
        value = environ.get(output.env, "").strip() if output.env else ""
        if value:
            paths[output.name] = Path(value)
    return paths


def from_settings(settings: Settings, environ: Mapping[str, str] = os.environ) -> dict[str, Path]:
    """The outputs a session's settings (and its environment) ask for: name -> path."""
    paths = from_environment(environ)
    for output in OUTPUTS:
        value = getattr(settings, output.settings_field) if output.settings_field else None
        if value is not None:
            paths[output.name] = Path(value)
    return paths


def from_arguments(args: Any, environ: Mapping[str, str] = os.environ) -> dict[str, Path]:
    """The outputs the `report` command's arguments (and its environment) ask for."""
    paths = from_environment(environ)
    for output in OUTPUTS:
        value = getattr(args, output.dest, None) if output.cli else None
        if value is not None:
            paths[output.name] = Path(value)
    return paths


@dataclass(frozen=True)
class Written:
    """What one output wrote."""

    output: Output
    files: tuple[Path, ...]

    @property
    def line(self) -> str:
        """ "markdown report written to RESULTS.md"; "4 charts written to plots"."""
        if self.output.kind == "directory":
            return f"{len(self.files)} {self.output.what}s written to {self.files[0].parent}"
        return f"{self.output.what} written to {self.files[0]}"


class Published(NamedTuple):
    """What publish_outputs wrote, and a line for each output it could not write."""

    written: list[Written]
    failed: list[str]


def publish_outputs(
    report: Report,
    paths: Mapping[str, Path],
    *,
    document: Optional[Mapping[str, Any]] = None,
    title: Optional[str] = None,
    written: str = "",
) -> Published:
    """Write every output in `paths` (name -> path, see from_settings / from_arguments), in
    registry order. One that cannot be written (a full disk, a job summary path that is a
    folder) is said and the rest are still written: the pull-request comment, last, must not be
    lost to an earlier file. `document`: the one run's results document, which the pull-request
    comment renders."""
    unknown = sorted(set(paths) - set(BY_NAME))
    if unknown:
        raise ValueError(f"no output format named {', '.join(unknown)}")
    rendering = Rendering(report, document, dict(paths), title, written)
    done, failed = [], []
    for output in OUTPUTS:
        path = paths.get(output.name)
        if path is None or not (report.rows or output.without_cases):
            continue
        try:
            files = output.write(rendering, path)
        except OSError as exc:
            named = f" (${output.env})" if output.env else ""
            failed.append(f"{output.what} not written to {path}{named}: {exc.strerror or exc}")
            continue
        if files:
            done.append(Written(output, tuple(files)))
    return Published(done, failed)


def cannot_publish(output: Output, path: Path) -> Optional[str]:
    """Why `output` could not be written to `path` (checked before any work), or None."""
    if output.kind == "directory":
        return cannot_write_in(path)
    if output.kind == "appended file":
        return cannot_append(path)
    return cannot_write(path)


def written_lines(done: Sequence[Written]) -> list[str]:
    """One line per output written: files in the order written, then each directory's count (a
    run draws dozens of charts; one line names their folder)."""
    files = [w.line for w in done if w.output.kind != "directory"]
    return files + [w.line for w in done if w.output.kind == "directory"]
