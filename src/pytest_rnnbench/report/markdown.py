"""The markdown report, in the layout of the seed's published RNN_result.md.

A summary table per dataset (Instance Type | GPUs | Batch Size | Keras-<backend> (Time/Epoch),
(GPU Mem) ...), a configuration table, a comparison table when the results carry verdicts, then
per dataset a configuration table, the charts and the detailed table. Pure text from rows.

Every string read from a results file (machine names, case ids, versions, reasons, failures) goes
through markdown_escape: a results file is anyone's to write, and the CI recipes append this
report's short form to the job summary of a workflow that can write to the pull request.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Optional

from ..atomic import write_text
from ..backends import VERSION_KEYS, rank
from ..results.rows import Report, Row, backend_name, dataset_name
from . import charts
from .formatting import format_change, format_seconds
from .markdown_escape import code, inline
from .rendering import Rendering

DATASET_SOURCES = {
    "synthetic": "Synthetic (randomly generated)",
    "nietzsche": "[Nietzsche](https://s3.amazonaws.com/text-datasets/nietzsche.txt)",
    "wikitext2": "[WikiText-2](https://s3.amazonaws.com/research.metamind.io/wikitext/"
    "wikitext-2-raw-v1.zip)",
}
TITLE = "RNN Benchmark Results"
# The longest verdict reason or failure line shown, in characters (markdown_escape.CAP is for
# names).
REASON_CAP = 2000
TRAINING_METHOD = "[`fit`](https://keras.io/api/models/model_training_apis/#fit-method)"
TRAINING_SCRIPT = (
    "`pytest_rnnbench/run/worker/` "
    "(the seed's `lstm_synthetic.py` / `lstm_text_generation.py` model)"
)


def table(
    header: Sequence[str], rows: Iterable[Sequence[str]], align: Optional[Sequence[str]] = None
) -> list[str]:
    """A markdown table with padded columns, so the raw text reads as well as the rendering."""
    rows = [list(row) for row in rows]
    widths = [max(3, len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    align = align or ["l"] * len(header)

    def fmt(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"

    rule = ["-" * w if a != "r" else "-" * (w - 1) + ":" for w, a in zip(widths, align)]
    rule = [(":" + r[1:]) if a == "c" else r for r, a in zip(rule, align)]
    return [fmt(header), "| " + " | ".join(rule) + " |", *(fmt(row) for row in rows)]


def _mem(row: Row) -> str:
    return "N/A" if row.gpu_memory_mib is None else f"{row.gpu_memory_mib:.0f} MiB"


def _summary_cell(row: Optional[Row]) -> str:
    if row is None:
        return "-"
    if row.status != "passed":
        return "failed"
    return f"{format_seconds(row.epoch_seconds)} sec, {_mem(row)}"


def _speed(row: Row) -> str:
    """The seed's "46s 919us/step", here seconds per epoch and the median time per step."""
    if row.status != "passed":
        return "failed"
    step = row.step_ms_median
    if step is None:
        return f"{format_seconds(row.epoch_seconds)}s"
    if step >= 1000:
        per_step = f"{step / 1000:.2f}s/step"
    elif step >= 1:
        per_step = f"{step:.0f}ms/step" if step >= 10 else f"{step:.1f}ms/step"
    else:
        per_step = f"{step * 1000:.0f}us/step"
    return f"{format_seconds(row.epoch_seconds)}s {per_step}"


def _distinct(values: Iterable[Optional[str]], prefix: str = "v") -> Optional[str]:
    found = sorted({str(v) for v in values if v})
    return inline(", ".join(prefix + v for v in found), table=True) if found else None


def _cell(text: str) -> str:
    """Outside text (a machine's name) as literal text in a table cell."""
    return inline(text, table=True)


def _case(case_id: str) -> str:
    return code(case_id, table=True)


def configuration(report: Report, rows: Sequence[Row]) -> list[tuple[str, str]]:
    """(name, value) pairs: Keras and framework versions, CUDA and cuDNN, as the seed listed."""
    backends = {row.backend for row in rows}
    pairs: list[tuple[str, Optional[str]]] = [
        ("Keras", _distinct(r.versions.get("keras") for r in rows if r.backend != "mxnet")),
        ("Keras-MXNet", _distinct(r.versions.get("keras") for r in rows if r.backend == "mxnet")),
    ]
    for backend, key in VERSION_KEYS.items():
        if backend in backends:
            pairs.append(
                (
                    backend_name(backend),
                    _distinct(r.versions.get(key) for r in rows if r.backend == backend)
                    or "unknown",
                )
            )
    instances = {row.instance for row in rows}
    cuda = _distinct(
        [report.machines.get(i, {}).get("cuda") for i in instances]
        + [r.versions.get("cuda") for r in rows]
    )
    pairs.append(("CUDA", cuda or "N/A (no GPU)"))
    pairs.append(("cuDNN", _distinct(r.versions.get("cudnn") for r in rows) or "N/A"))
    return [(name, value) for name, value in pairs if value]


def _config_table(pairs: Sequence[tuple[str, str]]) -> list[str]:
    return table(["", ""], pairs, align=["l", "l"])


def _samples_note(rows: Sequence[Row]) -> str:
    samples = sorted({row.samples for row in rows if row.samples is not None})
    text = ", ".join(f"{n:,}" for n in samples) or "n/a"
    if any(row.samples_capped for row in rows):
        text += " (capped with `--rnnbench-samples`)"
    return text


def summary_table(report: Report, dataset: str) -> list[str]:
    rows = report.for_dataset(dataset)
    backends = [b for b in report.backends if any(r.backend == b for r in rows)]
    keys = sorted(
        {(row.instance, row.gpus, row.batch_size, row.unroll) for row in rows},
        key=lambda k: (k[1], k[0], k[2], not k[3]),
    )
    found = {(r.instance, r.gpus, r.batch_size, r.unroll, r.backend): r for r in rows}
    header = ["Instance Type", "GPUs", "Batch Size", "Unroll"] + [
        f"Keras-{backend_name(b)} (Time/Epoch), (GPU Mem)" for b in backends
    ]
    body = [
        [_cell(k[0]), str(k[1]), str(k[2]), "True" if k[3] else "False"]
        + [_summary_cell(found.get((*k, b))) for b in backends]
        for k in keys
    ]
    return table(header, body)


def detailed_table(rows: Sequence[Row]) -> list[str]:
    """One row per case, grouped like the seed: backend, batch size, unroll; blank rows between."""
    header = [
        "Instance",
        "GPUs",
        "Backend",
        "Batch size",
        "Data Set",
        "Training Method",
        "Speed/Epoch (Lower is better)",
        "Unroll Type",
        "No. of samples",
        "Memory(MiB)",
    ]
    ordered = sorted(
        rows,
        key=lambda r: (rank(r.backend), r.backend, not r.unroll, r.batch_size, r.gpus, r.instance),
    )
    body: list[list[str]] = []
    previous = None
    groups = [(row.backend, row.unroll, row.batch_size) for row in ordered]
    # Blank rows separate groups, as in the seed, only where groups hold several rows.
    separate = len(set(groups)) < len(groups)
    for row, group in zip(ordered, groups):
        if separate and previous is not None and group != previous:
            body.append([""] * len(header))
        previous = group
        body.append(
            [
                _cell(row.instance),
                str(row.gpus),
                backend_name(row.backend),
                str(row.batch_size),
                dataset_name(row.dataset),
                "fit()",
                _speed(row),
                "TRUE" if row.unroll else "FALSE",
                "" if row.samples is None else str(row.samples),
                "N/A" if row.gpu_memory_mib is None else f"{row.gpu_memory_mib:.0f}",
            ]
        )
    return table(header, body)


def comparison_table(report: Report) -> list[str]:
    """Cases with a verdict: the time metric's medians (ms per step), change, verdict, and why."""
    many = len({row.instance for row in report.rows}) > 1
    header = (["Instance"] if many else []) + [
        "Case",
        "Baseline (ms/step)",
        "Now (ms/step)",
        "Change",
        "Verdict",
        "Why",
    ]
    body = []
    for row in report.rows:
        if row.verdict is None:
            continue
        v = row.verdict
        body.append(
            ([_cell(row.instance)] if many else [])
            + [
                _case(row.case_id),
                _number(v.baseline_step_ms),
                _number(v.now_step_ms) if row.status == "passed" else "failed",
                format_change(v.change),
                f"**{v.verdict}**" if v.verdict == "regression" else v.verdict,
                _why(v.reason, row.case_id),
            ]
        )
    return table(header, body)


def _number(value: Optional[float]) -> str:
    return "" if value is None else f"{value:.1f}" if value < 100 else f"{value:,.0f}"


def _why(reason: str, case_id: str) -> str:
    """The verdict's one-line reason, without the case id it starts with, safe in a table cell."""
    text = reason.split("\n")[0]
    for prefix in (f"{case_id}: ", case_id):
        if text.startswith(prefix):
            text = text[len(prefix) :]
            break
    return inline(text, REASON_CAP, table=True)


def render(report: Report, plots_dir: Optional[str] = None, title: str = TITLE) -> str:
    """The whole report. `plots_dir`: where the charts are, relative to the report's folder."""
    out: list[str] = [f"# {title}", "", "## Summary", ""]
    instances = sorted({row.instance for row in report.rows})
    out += [
        "Produced by pytest-rnnbench from "
        + (f"{len(instances)} machines" if len(instances) > 1 else "one machine")
        + ": "
        + "; ".join(inline(i) for i in instances)
        + ".",
        "",
    ]
    out += ["### Configuration", "", *_config_table(configuration(report, report.rows)), ""]
    for dataset in report.datasets:
        out += [f"### LSTM-{dataset_name(dataset)}", "", *summary_table(report, dataset), ""]
    if report.has_verdicts:
        out += [
            "## Comparison with baseline",
            "",
            "Change: of the time per step against the baseline (stored sessions, or a reference "
            "measured beside this run), from each worker process's summary (positive: slower). "
            "The verdict weighs it against the tolerance and the spread between worker "
            "processes or stored sessions.",
            "",
            *comparison_table(report),
            "",
        ]
    out += ["# Detailed RNN Benchmark Results", ""]
    for dataset in report.datasets:
        rows = report.for_dataset(dataset)
        out += [f"## {dataset_name(dataset)} Dataset", "", "### Configuration", ""]
        pairs = [
            ("Dataset", DATASET_SOURCES.get(dataset, dataset)),
            ("Samples per epoch", _samples_note(rows)),
            *configuration(report, rows),
            ("Training Method", TRAINING_METHOD),
            ("Training Script", TRAINING_SCRIPT),
        ]
        out += [*_config_table(pairs), "", "### Results", ""]
        if plots_dir is not None:
            out += _chart_grid(report, dataset, plots_dir)
        out += [*detailed_table(rows), ""]
    failed = [row for row in report.rows if row.status != "passed"]
    if failed:
        out += ["## Failed cases", ""]
        out += [
            f"- {_case(row.case_id)} on {inline(row.instance)}: "
            + inline((row.failure.splitlines() or [""])[0], REASON_CAP)
            for row in failed
        ]
        out += [""]
    if report.notes:
        out += ["## Notes", "", *(f"- {inline(note, REASON_CAP)}" for note in report.notes), ""]
    return "\n".join(out)


def _link_target(path: str) -> str:
    """A relative path as a markdown link's destination: in angle brackets where it holds a
    space or a parenthesis (CommonMark ends a bare destination there); a table cell's `|` and
    the brackets themselves escaped."""
    escaped = path.replace("|", "\\|")
    if not any(c in path for c in " ()<>"):
        return escaped
    return "<" + escaped.replace("<", "\\<").replace(">", "\\>") + ">"


def _chart_grid(report: Report, dataset: str, plots_dir: str) -> list[str]:
    """The seed's two-column image table: speed charts, then memory charts."""
    prefix = plots_dir.rstrip("/") + "/" if plots_dir not in ("", ".") else ""
    images = [
        f"![{name}]({_link_target(prefix + name)})"
        for spec in charts.plan(report)
        if spec.dataset == dataset
        for name in (spec.filename("speed"), spec.filename("memory"))
    ]
    if not images:
        return []
    pairs = [
        images[i : i + 2] + [""] * (2 - len(images[i : i + 2])) for i in range(0, len(images), 2)
    ]
    return [*table(["", ""], pairs), ""]


def step_summary(report: Report) -> str:
    """The short form for a CI job summary (GITHUB_STEP_SUMMARY): summary tables and verdicts."""
    out = ["## pytest-rnnbench results", ""]
    for dataset in report.datasets:
        out += [f"### LSTM-{dataset_name(dataset)}", "", *summary_table(report, dataset), ""]
    if report.has_verdicts:
        out += ["### Comparison with baseline", "", *comparison_table(report), ""]
    failed = [row for row in report.rows if row.status != "passed"]
    if failed:
        out += ["### Failed cases", "", *(f"- {_case(row.case_id)}" for row in failed), ""]
    return "\n".join(out)


# ------------------------------------------------------------------------------------------------
# The registry's writers (report/outputs.py).


def write_report(rendering: Rendering, path: Path) -> list[Path]:
    """The markdown report to `path`, linking to the charts when they are written too."""
    plots = rendering.relative("charts", path.parent)
    text = render(rendering.report, plots, rendering.title or TITLE)
    write_text(path, text + "\n")
    return [path]


def append_step_summary(rendering: Rendering, path: Path) -> list[Path]:
    """The short form appended to a CI job summary file (GitHub Actions collects what each step
    appends into the job's summary, so this one file is appended to, not replaced)."""
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(step_summary(rendering.report) + "\n")
    return [path]
