"""The pull-request comment: the verdicts of a run as one markdown comment.

Rendered from a results document (what `--rnnbench-json` writes), so a workflow can also render it
offline with `python -m pytest_rnnbench report RESULTS.json --comment PATH`. The first line is a
hidden marker: a workflow that finds a comment starting with it updates that one comment instead of
adding one per push.

Every string in it that the gate's own code did not write (case ids, versions, verdict and failure
reasons, the machine's name, the base's spec: text the measured tree, its workers or the results
file control) goes through markdown_escape, so none can leave its cell or line, add a heading,
HTML or a mention, or run longer than its cap. The workflow that posts it still treats the file
as untrusted text: rnnbench-comment.yml renders it again from the results with a pinned release.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any, Optional

from ..machine import instance_name
from ..results.read import time_metric
from ..verdicts.records import format_confidence, percent_beside
from ..verdicts.verdict import METRICS
from .formatting import format_change, format_ms
from .markdown import table
from .markdown_escape import code, inline

MARKER = "<!-- pytest-rnnbench:pr-comment -->"

_SHOWN = {
    "regression": ":x: regression",
    "improvement": ":rocket: improvement",
    "inconclusive": ":warning: inconclusive",
    "pass": ":white_check_mark: pass",
    "failed": ":boom: failed",
}
# The longest verdict reason, failure line and version shown, in characters (more ends in "…").
REASON_CAP = 300
# A verdict's reason in the collapsed Details: whole, for it ends with what would decide it.
DETAIL_CAP = 1000
VERSION_CAP = 64
# A memory or loss figure is worth a line when it moved at least this much (or was judged).
_MOVED = 0.02
# What decides an inconclusive verdict: more worker processes (the unit), or a quieter machine.
_DECIDE = (
    "more worker processes per side decide it (`--rnnbench-against-workers`: the process, not "
    "the step, is the unit), or a runner with no other load; each case's reason under Details "
    "says which"
)


def _confidence(metric: Optional[Mapping[str, Any]]) -> str:
    value = (metric or {}).get("confidence")
    return "" if value is None else format_confidence(value)


def _time_decided(found: Mapping[str, Any]) -> bool:
    """Whether the step time's own test decided the case (a regression or an improvement it
    called): the one verdict a confidence belongs to. Not a case decided by memory or loss (by
    tolerance, no test), nor a time verdict made inconclusive (a load, a shared GPU)."""
    outcome = time_metric(found).get("outcome")
    return outcome in ("regression", "improvement") and outcome == found.get("verdict")


def _decided_by(found: Mapping[str, Any]) -> str:
    """ " (host peak RSS)" when other metrics than the step time decided the case's verdict."""
    outcome = found.get("verdict")
    if outcome in (None, "pass") or time_metric(found).get("outcome") == outcome:
        return ""
    names = [
        METRICS[name].label if name in METRICS else str(name)
        for name, metric in (found.get("metrics") or {}).items()
        if isinstance(metric, Mapping) and metric.get("outcome") == outcome
    ]
    return f" ({inline(', '.join(names), 80, table=True)})" if names else ""


def _commit(side: Optional[Mapping[str, Any]]) -> str:
    if not side:
        return "?"
    commit = side.get("commit")
    text = code(str(commit)[:12]) if commit else "(no commit)"
    if side.get("dirty"):
        text += " + uncommitted changes"
    spec = side.get("spec")
    if spec and spec != side.get("path"):
        text += f" ({inline(spec)})"
    return text


def _moved_lines(case_id: str, verdict: Mapping[str, Any]) -> list[str]:
    lines = []
    for name, metric in (verdict.get("metrics") or {}).items():
        if name in ("step_time", "epoch_time"):
            continue
        if metric.get("change") is None:  # a diverged loss, a memory figure one side lacked
            if metric.get("outcome") not in (None, "pass"):
                label = METRICS[name].label if name in METRICS else inline(name)
                why = inline(metric.get("why") or metric.get("outcome"), REASON_CAP)
                lines.append(f"- {code(case_id)}: {label} {inline(metric.get('outcome'))}: {why}")
            continue
        if metric.get("outcome") == "pass" and abs(metric["change"]) < _MOVED:
            continue
        label = METRICS[name].label if name in METRICS else inline(name)
        tolerance = metric.get("tolerance")
        allowed = f", tolerance {tolerance * 100:g}%" if tolerance is not None else ""
        lines.append(
            f"- {code(case_id)}: {label} {_change(metric['change'], tolerance)} "
            f"({inline(metric.get('outcome'))}{allowed})"
        )
    return lines


def headline(counts: Mapping[str, int]) -> str:
    """ "2 regressions, 1 inconclusive, 3 pass" in order of severity, or "no case was judged"."""
    order = (
        "failed",
        "regression",
        "inconclusive",
        "no-baseline",
        "improvement",
        "pass",
        "not judged",
    )
    plural = {"regression": "regressions", "improvement": "improvements"}
    parts = []
    for outcome in order:
        n = counts.get(outcome, 0)
        if n:
            parts.append(f"{n} {plural.get(outcome, outcome) if n > 1 else outcome}")
    # An outcome this version does not know (a results file from elsewhere) is counted, but its
    # text stays out of the headline: it is shown, escaped, in its table cell.
    unknown = sum(n for outcome, n in counts.items() if outcome not in order)
    if unknown:
        parts.append(f"{unknown} with an unknown verdict")
    return ", ".join(parts) if parts else "no case was judged"


def _verdicts_of(document: Mapping[str, Any]) -> Mapping[str, Mapping[str, Any]]:
    """The document's verdicts, each as a mapping: one written as its bare word (results/read.py's
    parse_verdict reads those too) becomes {"verdict": word}."""
    return {
        case_id: found if isinstance(found, Mapping) else {"verdict": str(found)}
        for case_id, found in (document.get("verdicts") or {}).items()
    }


def render(document: Mapping[str, Any], title: str = "pytest-rnnbench") -> str:
    """The comment for one results document (a gate run, or any live or baseline run)."""
    verdicts = _verdicts_of(document)
    results: Mapping[str, Mapping[str, Any]] = document.get("results") or {}
    failures: Mapping[str, str] = document.get("failures") or {}
    gate: Mapping[str, Any] = document.get("gate") or {}
    counts: dict[str, int] = {}
    rows: list[list[str]] = []
    for case_id in sorted(set(verdicts) | set(failures)):
        outcome, row = _row(case_id, verdicts.get(case_id) if case_id not in failures else None)
        rows.append(row)
        counts[outcome] = counts.get(outcome, 0) + 1
    unjudged = set(document.get("not_judged") or {}) - set(verdicts) - set(failures)
    if counts and unjudged:  # else the headline's reason says what became of them
        counts["not judged"] = len(unjudged)
    reason = nothing_judged(document)
    out = [MARKER, f"### {inline(title)}: {headline(counts)}{': ' + reason if reason else ''}", ""]
    out += _stopped_lines(document) or _exit_lines(counts, document)
    machine = inline(instance_name(document.get("machine") or {}))
    if gate:
        out.append(
            f"Head {_commit(gate.get('head'))} against base {_commit(gate.get('base'))}, "
            f"measured turn by turn on one machine: {machine}."
        )
    else:
        out.append(f"Machine: {machine}.")
    out += _family_lines(verdicts)
    out.append("")
    if rows:
        header = ["case", "base ms/step", "head ms/step", "change", "verdict", "confidence"]
        out += table(header, rows, align=["l", "r", "r", "r", "l", "r"])
        out.append("")
    else:
        out += [f"{len(results)} case(s) measured, none judged.", ""]
    moved = [
        line for case_id in sorted(verdicts) for line in _moved_lines(case_id, verdicts[case_id])
    ]
    if moved:
        out += ["Memory and loss that moved:", "", *moved, ""]
    out += _path_lines(verdicts)
    out += _bisect_lines(verdicts, gate)
    out += _not_judged_lines(document)
    if counts.get("inconclusive"):
        out += [f"**Inconclusive** means the data could not decide: {_DECIDE}.", ""]
    out += _details(verdicts, failures, results, document)
    return "\n".join(out).rstrip("\n") + "\n"


def _row(case_id: str, found: Optional[Mapping[str, Any]]) -> tuple[str, list[str]]:
    """A case's outcome and table row; `found`: its verdict, None for a failed case."""
    if found is None:
        return "failed", [code(case_id, table=True), "", "", "", _SHOWN["failed"], ""]
    outcome = str(found.get("verdict"))
    time = time_metric(found) or None
    base_ms, head_ms = _step_ms(found)
    return outcome, [
        code(case_id, table=True),
        base_ms,
        head_ms,
        _change(found.get("change"), (time or {}).get("tolerance")),
        (_SHOWN.get(outcome) or inline(outcome, 40, table=True)) + _decided_by(found),
        _confidence(time) if _time_decided(found) else "",
    ]


def _exit_lines(counts: Mapping[str, int], document: Mapping[str, Any]) -> list[str]:
    """Whether the run passed, as its exit status says (pull-requests.md): an inconclusive case
    passes, undecided; a gate, or a run that asked for verdicts, that judged nothing fails."""
    noun = "gate" if document.get("gate") else "run"
    required = noun == "gate" or (document.get("settings") or {}).get("verdicts_required")
    if counts.get("failed") or counts.get("regression"):
        said = "**The run fails** (exit status 1)."
    elif not any(counts.get(o) for o in ("inconclusive", "improvement", "pass")):
        said = f"**The {noun} fails**: it judged no case (exit status 10)." if required else ""
    elif counts.get("inconclusive"):
        said = "**The run passes** (exit status 0); its inconclusive cases pass undecided."
    else:
        said = "**The run passes** (exit status 0)."
    return [said, ""] if said else []


def _step_ms(found: Mapping[str, Any]) -> tuple[str, str]:
    """The two sides' step times (ms) that the verdict compared, so that the table's change is
    head / base - 1 of its own columns (a side's epoch seconds are another average, and would
    not agree). A 0.1 results file named the same metric (ms per step) "epoch_time"."""
    step = time_metric(found)
    return _ms(step.get("baseline")), _ms(step.get("now"))


def _change(change: Any, tolerance: Any) -> str:
    """The change, with a second decimal where one would print it as its tolerance."""
    if not isinstance(change, (int, float)) or not isinstance(tolerance, (int, float)):
        return format_change(change)
    return percent_beside(change, tolerance, sign=True)


def _ms(value: Any) -> str:
    """A step time to four significant figures: with three, the change column (to 0.1%) was
    not head / base - 1 of the two columns (48.9 and 51.4 ms beside +5.0%)."""
    if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        return format_ms(value)
    return f"{value:.{max(0, 3 - math.floor(math.log10(value)))}f}"


_COMMIT = re.compile(r"[0-9a-f]{7,64}")
_CASE_ID = re.compile(r"[A-Za-z0-9_.-]+")


def _bisect_lines(verdicts: Mapping[str, Mapping[str, Any]], gate: Mapping[str, Any]) -> list[str]:
    """For a gate that called a regression between two commits: the command that names the
    commit behind it, ready to paste (for the largest regression; any case id fits `-k`).
    Nothing when the head had uncommitted changes (no commit holds them) or when a commit or
    case id is not plain text that can stand in a shell command."""
    base, head = gate.get("base") or {}, gate.get("head") or {}
    good, bad = str(base.get("commit") or ""), str(head.get("commit") or "")
    regressions = [  # the step time's: a bisect looks for a slowdown
        (change, case_id)
        for case_id, found in verdicts.items()
        if time_metric(found).get("outcome") == "regression"
        and _CASE_ID.fullmatch(case_id)
        and isinstance(change := found.get("change"), (int, float))
        and math.isfinite(change)
    ]
    if (
        not regressions
        or head.get("dirty")
        or not (_COMMIT.fullmatch(good) and _COMMIT.fullmatch(bad))
    ):
        return []
    _, case_id = max(regressions)
    return [
        f"To name the commit behind {code(case_id)} (the largest regression), bisect the "
        "first-parent commits between the two ends, with any options you gave `gate`:",
        "",
        "```console",
        f"rnnbench bisect --good {good} --bad {bad} -k {case_id}",
        "```",
        "",
    ]


def _path_lines(verdicts: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Cases whose backend took another LSTM path than the base's: a finding of its own."""
    lines = [
        f"- {code(case_id)}: {inline(note, REASON_CAP)}"
        for case_id, found in sorted(verdicts.items())
        for note in found.get("notes") or []
        if str(note).startswith("LSTM path changed")
    ]
    if not lines:
        return []
    return ["**The LSTM path changed**, whatever the timing says:", "", *lines, ""]


def _family_lines(verdicts: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """What a verdict's confidence means here: the level the whole run holds, and its unit."""
    family = next(
        (v["family"] for v in verdicts.values() if isinstance(v.get("family"), Mapping)), None
    )
    if family is None:
        return []
    try:
        rate, cases = float(family["false_alarm_rate"]), int(family["cases"])
    except (KeyError, TypeError, ValueError):
        return []
    return [
        "",
        f"False-alarm level {rate * 100:g}% for the whole run: each of its {cases} case(s) is "
        f"judged at {rate / max(cases, 1):.2g}; the unit of each test is the worker process "
        "(live) or the session (stored baselines), never the steps inside one.",
    ]


def _stopped_lines(document: Mapping[str, Any]) -> list[str]:
    """For a run that stopped before its end (interrupted, killed, a job's time limit): how far
    it got, first, so that its verdicts never read as the whole pull request's."""
    if document.get("finished") is not False:  # finished, or a file that does not say
        return []
    reported = set(document.get("results") or {}) | set(document.get("failures") or {})
    reported |= set(document.get("not_judged") or {})
    selected = document.get("cases_selected")
    of = f" of {selected}" if isinstance(selected, int) and selected >= len(reported) else ""
    return [
        f"**The run stopped before its end**: {len(reported)}{of} case(s) reported; any other "
        "was never measured, and the verdicts below are not the whole change's.",
        "",
    ]


def nothing_judged(document: Mapping[str, Any]) -> str:
    """Why a run judged no case: what happened to its cases ("nothing was measured (2 skipped)",
    "3 measured but not judged, 1 skipped"), or "" when it judged or failed one. A case measured
    and then skipped (live, not comparable) counts as measured, once."""
    if document.get("verdicts") or document.get("failures"):
        return ""
    results = document.get("results") or {}
    not_judged: Mapping[str, str] = document.get("not_judged") or {}
    measured, skipped = len(results), len(set(not_judged) - set(results))
    if not measured:
        return f"nothing was measured ({skipped} skipped)" if skipped else "nothing was measured"
    return f"{measured} measured but not judged" + (f", {skipped} skipped" if skipped else "")


def _not_judged_lines(document: Mapping[str, Any]) -> list[str]:
    """Each case the run did not judge, with why (skipped, or measured and not judged): never
    shown as a pass."""
    not_judged: Mapping[str, str] = document.get("not_judged") or {}
    if not not_judged:
        return []
    judged_any = bool(document.get("verdicts") or document.get("failures"))
    lines = ["Not judged:" if judged_any else "Why no case was judged:", ""]
    for case_id, why in sorted(not_judged.items()):
        lines.append(f"- {code(case_id)}: {inline(why, REASON_CAP)}")
    return [*lines, ""]


def _details(
    verdicts: Mapping[str, Mapping[str, Any]],
    failures: Mapping[str, str],
    results: Mapping[str, Mapping[str, Any]],
    document: Mapping[str, Any],
) -> list[str]:
    lines = ["<details><summary>Details</summary>", ""]
    for case_id in sorted(verdicts):
        lines.append(f"- {inline(verdicts[case_id].get('reason', case_id), DETAIL_CAP)}")
    for case_id, why in sorted(failures.items()):
        # The first line says what happened (a signal, a timeout, the exception's type).
        lines_of_why = str(why).strip().splitlines()
        first = inline(lines_of_why[0], REASON_CAP) if lines_of_why else "failed"
        lines.append(f"- {code(case_id)}: failed: {first}")
    settings = document.get("settings") or {}
    workload = [f"repeats {inline(settings.get('repeats'), 20)}"]
    cap = settings.get("samples_cap")
    if cap:
        shown = f"{cap:,}" if isinstance(cap, int) else inline(cap, 20)
        workload.insert(0, f"samples per epoch capped at {shown}")
    lines += ["", f"Workload: {', '.join(workload)}."]
    versions = _versions(results.values())
    if versions:
        lines.append(f"Versions: {versions}.")
    lines += ["", "</details>"]
    return lines


def _versions(results: Iterable[Mapping[str, Any]]) -> str:
    found: dict[str, set[str]] = {}
    for result in results:
        for name, version in ((result.get("worker") or {}).get("versions") or {}).items():
            if version is not None:
                found.setdefault(inline(name, 40), set()).add(inline(version, VERSION_CAP))
    return ", ".join(f"{name} {'/'.join(sorted(v))}" for name, v in sorted(found.items()))
