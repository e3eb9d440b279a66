"""The history page (markdown): per machine profile, the latest value of every case against the
previous run and against its level before the last change point, the change points with their
suspects, the failed runs, and the charts. Pure text from analyses; the same page, without the
charts, goes to a GitHub job summary.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Optional

from ..history.changes import Analysis, Change, Detection
from ..history.runs import Metric, Point
from ..history.series import History, SeriesKey
from ..history.suspects import short, suspects
from ..machine import HardwareProfile
from ..matrix import PRESETS
from .bisect_page import bisect_command
from .formatting import format_change, format_seconds
from .markdown import table

TITLE = "Benchmark history"
CONFIRMING_RUNS = 4  # runs at a new level before a change point is no longer called new
METHOD = (
    "Change points: [Apache Otava](https://otava.apache.org) (e-divisive means on windows of "
    "{window} runs, then a t-test of the levels on either side), kept when p < {pvalue:g}, "
    "Welch's t-test of the final levels gives p < {welch:g} (the p shown) and the level moved by "
    "at least {change:.0%}. That p is of a split found in these very runs, not a confidence: of "
    "pages of 32 unchanged series (30-60 quiet runs), 4-7 in 100 showed a change point "
    "(pytest-rnnbench's docs/tracking.md). A change point is a lead; `rnnbench bisect` tests it."
)


def format_value(metric: Metric, value: Optional[float]) -> str:
    if value is None:
        return "n/a"
    if metric.unit == "s":
        return f"{format_seconds(value)} s"
    if metric.unit == "MiB":
        return f"{value:,.0f} MiB"
    return f"{value:.4g}"


def plain(text: str) -> str:
    """Recorded text (a commit subject, a file name) shown as text, never as markdown or HTML."""
    return re.sub(r"([\\`*_\[\]<|#])", r"\\\1", text)


def _case(analysis: Analysis) -> str:
    return f"`{analysis.series.key.case_id}`"


def _against(metric: Metric, latest: Optional[float], other: Optional[float]) -> str:
    if latest is None or other is None or other == 0:
        return "-"
    return f"{format_change(latest / other - 1)} (from {format_value(metric, other)})"


def latest_table(history: History, analyses: Sequence[Analysis]) -> list[str]:
    header = [
        "Case",
        "Workload",
        "Runs",
        "Latest",
        "Against the previous run",
        "Against the level before the last change",
        "Last change point",
    ]
    body = []
    for analysis in analyses:
        metric = analysis.metric
        latest_point = analysis.latest
        latest = analysis.latest_value()
        last = analysis.changes[-1] if analysis.changes else None
        if latest_point is None:
            shown = "failed in every run"
        else:
            shown = f"{format_value(metric, latest)} (run {history.position(latest_point.run)})"
            shown += _newest_unmeasured(history, analysis, latest_point)
        body.append(
            [
                _case(analysis),
                analysis.series.key.workload,
                str(len(analysis.series.points)),
                shown,
                _against(metric, latest, analysis.previous_value()),
                _against(metric, latest, last.before) if last else "no change point",
                _change_cell(history, analysis, last) if last else "-",
            ]
        )
    return table(header, body)


def _change_cell(history: History, analysis: Analysis, change: Change) -> str:
    run = analysis.series.points[change.position].run
    return f"{format_change(change.change)} at run {history.position(run)}"


def change_lines(history: History, analysis: Analysis) -> list[str]:
    """One list item per change point of the series, with its suspects below it."""
    metric = analysis.metric
    points = analysis.series.points
    out = []
    for change in analysis.changes:
        after = points[change.position]
        before_positions = [i for i in analysis.measured if i < change.position]
        before = points[before_positions[-1]]
        out.append(
            f"- {_case(analysis)} ({analysis.series.key.workload}): "
            f"**{format_change(change.change)}** at run {history.position(after.run)} "
            f"({after.run.when} UTC{_commit_note(after.run.commit)}), "
            f"{format_value(metric, change.before)} -> {format_value(metric, change.after)}, "
            f"p = {change.pvalue:.2g}" + _unconfirmed(analysis, change)
        )
        out.append(
            f"  - between run {history.position(before.run)} ({plain(before.run.source)}) "
            f"and run {history.position(after.run)} ({plain(after.run.source)}):"
        )
        out += [f"    - {plain(line)}" for line in suspects(before, after)]
        out += _bisect_hint(analysis, change, before, after)
    return out


def _bisect_hint(analysis: Analysis, change: Change, before: Point, after: Point) -> list[str]:
    """The ready `rnnbench bisect` command for a slowdown whose two runs are clean commits (the
    gate's Keras tree commits when both recorded one, else the checkouts' commits). Not for an
    improvement, nor another metric's change: a bisect looks for a step-time regression only."""
    if analysis.metric.name != "time" or change.change <= 0:
        return []
    old, new = before.run.tree_commit, after.run.tree_commit
    if not (old and new):
        if before.run.dirty or after.run.dirty:
            return []  # uncommitted changes are in no commit that a bisect could build
        old, new = before.run.commit, after.run.commit
    if not (old and new) or old == new:
        return []
    case = analysis.series.key
    # The bisect measures the gate's pr preset unless told otherwise: name a matrix that has
    # the case.
    pr = PRESETS["pr"]
    in_pr = case.batch_size in pr["batch_sizes"] and case.dataset in pr["datasets"]
    command = bisect_command(old, new, [case.case_id]) + ("" if in_pr else " --matrix seed")
    return [f"  - find the commit: `{command}{_series_workload(case)}`"]


def _series_workload(case: SeriesKey) -> str:
    """The series' GPU count and epoch size as bisect options: its default GPU count (0 or 1 by
    the machine) would leave a case of another count unselected, and its preset's epochs are
    another workload than the one that slowed."""
    samples = "full" if case.samples_cap < 0 else str(case.samples_cap)
    return f" --rnnbench-gpus={case.gpus} --rnnbench-samples={samples}"


def _unconfirmed(analysis: Analysis, change: Change) -> str:
    """A change seen in the last run or two may be one slow night: say so until more runs agree."""
    after = sum(1 for i in analysis.measured if i >= change.position)
    if after >= CONFIRMING_RUNS:
        return ""
    runs = f"{after} run{'s' if after != 1 else ''}"
    return f"; only {runs} at the new level so far: the next runs tell"


def _commit_note(commit: Optional[str]) -> str:
    return f", commit `{short(commit)}`" if commit else ""


def _newest_unmeasured(history: History, analysis: Analysis, latest: Point) -> str:
    """What the series' newest run says when it is not the latest value shown: it failed, or its
    value is no number (a diverged loss): never hidden behind an older value."""
    newest = analysis.series.points[-1]
    if newest is latest:
        return ""
    raw = analysis.metric.read(newest) if newest.row.status == "passed" else None
    if newest.row.status != "passed":
        what = "failed"
    else:
        what = "not measured" if raw is None else f"not a finite number ({raw})"
    return f"; run {history.position(newest.run)}: {what}"


def _runs_line(history: History, profile: HardwareProfile) -> str:
    runs = history.runs[profile]
    # Runs are in commit order, which a re-measured old commit or a skewed clock takes out of
    # time order: the span is the earliest and latest written.
    first, last = min(runs, key=lambda r: r.written), max(runs, key=lambda r: r.written)
    line = f"{len(runs)} run{'s' if len(runs) != 1 else ''}, {first.when} to {last.when} UTC"
    commits = [run.commit for run in runs if run.commit]
    if commits:
        line += f"; commits `{short(commits[0])}` to `{short(commits[-1])}`"
    ordered = "the time of their commit" if all(run.committed for run in runs) else "time"
    return line + f", in the order of {ordered}."


def _failures(history: History, analyses: Sequence[Analysis]) -> list[str]:
    out = []
    for analysis in analyses:
        for point in analysis.series.failures:
            cause = (point.row.failure.splitlines() or [""])[0]
            out.append(
                f"- {_case(analysis)}, run {history.position(point.run)} "
                f"({plain(point.run.source)}): {plain(cause)}"
            )
    return out


def chart_grid(images: Sequence[tuple[str, str]]) -> list[str]:
    """(alt text, path) pairs as the seed's two-column table of images."""
    cells = [f"![{alt}]({path})" for alt, path in images]
    if not cells:
        return []
    rows = [cells[i : i + 2] + [""] * (2 - len(cells[i : i + 2])) for i in range(0, len(cells), 2)]
    return [*table(["", ""], rows), ""]


def render(
    history: History,
    analyses: Sequence[Analysis],
    metric: Metric,
    detection: Detection,
    charts: Optional[dict[HardwareProfile, list[tuple[str, str]]]] = None,
    title: str = TITLE,
) -> str:
    """The page. `charts`: per profile, (alt text, path relative to the page) of its charts."""
    runs = sum(len(listed) for listed in history.runs.values())
    profiles = history.profiles
    out = [
        f"# {title}",
        "",
        f"{runs} run{'s' if runs != 1 else ''} on {len(profiles)} machine "
        f"profile{'s' if len(profiles) != 1 else ''}; {len(analyses)} series. "
        f"Metric: {metric.label} (lower is better). A series is one case on one machine "
        "profile with one workload; profiles are never compared with each other.",
        "",
        METHOD.format(
            window=detection.window,
            pvalue=detection.max_pvalue,
            change=detection.min_change,
            welch=detection.welch_pvalue,
        ),
        "",
    ]
    for profile in profiles:
        mine = [a for a in analyses if a.series.key.profile == profile]
        out += [f"## {plain(profile.label)}", "", _runs_line(history, profile), ""]
        if not mine:
            out += [f"No case of this machine measured {metric.label}.", ""]
            continue
        out += ["### Latest", "", *latest_table(history, mine), ""]
        changed = [a for a in mine if a.changes]
        out += ["### Change points", ""]
        if changed:
            for analysis in changed:
                out += change_lines(history, analysis)
        else:
            out += ["None: every series stayed within its noise."]
        out += [""]
        failures = _failures(history, mine)
        if failures:
            out += ["### Failed runs", "", *failures, ""]
        if charts is not None and charts.get(profile):
            out += ["### Charts", "", *chart_grid(charts[profile])]
    if history.notes:
        out += ["## Notes", "", *(f"- {plain(note)}" for note in history.notes), ""]
    return "\n".join(out).rstrip("\n") + "\n"
