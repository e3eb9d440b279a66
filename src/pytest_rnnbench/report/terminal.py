"""The terminal summary tables of a run: one per dataset; rows GPUs x batch x unroll, a column
group per backend (pytest's terminal reporter prints them). No pytest import here."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any, Optional

from ..results.rows import Report, Row
from .formatting import format_change, format_mib, format_seconds

TERMINAL_WIDTH = 120


def _cells(row: Optional[Row], with_verdicts: bool) -> list[str]:
    if row is None:
        cells = ["-", "-"]
    elif row.status != "passed":
        cells = ["FAILED", ""]
    else:
        cells = [format_seconds(row.epoch_seconds), format_mib(row.gpu_memory_mib)]
    if with_verdicts:
        verdict = row.verdict if row is not None else None
        cells += [
            format_change(verdict.change) if verdict else "",
            verdict.verdict if verdict else "",
        ]
    return cells


def _render_chunk(
    key_header: list[str],
    key_rows: list[list[str]],
    groups: list[tuple[str, list[str], list[list[str]]]],
) -> list[str]:
    """Lay out key columns then column groups, each group with its label above its columns."""
    gap = "  "
    key_widths = [max(len(h), *(len(r[i]) for r in key_rows)) for i, h in enumerate(key_header)]
    group_widths = []
    for label, headers, rows in groups:
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
        short = len(label) - (sum(widths) + len(gap) * (len(widths) - 1))
        if short > 0:
            widths[-1] += short
        group_widths.append(widths)

    def line(key: list[str], parts: list[list[str]]) -> str:
        # A machine name reads left-aligned; numbers and yes/no right-aligned.
        out = [
            cell.ljust(w) if key_header[i] == "machine" else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(key, key_widths))
        ]
        for cells, widths in zip(parts, group_widths):
            out.append(gap.join(cell.rjust(w) for cell, w in zip(cells, widths)))
        return (gap * 2).join([gap.join(out[: len(key)])] + out[len(key) :]).rstrip()

    key_span = sum(key_widths) + len(gap) * (len(key_widths) - 1)
    labels = [" " * key_span]
    for (label, _, _), widths in zip(groups, group_widths):
        span = sum(widths) + len(gap) * (len(widths) - 1)
        labels.append(label.center(span))
    lines = [(gap * 2).join(labels).rstrip()]
    lines.append(line(key_header, [headers for _, headers, _ in groups]))
    lines.append(
        line(["-" * w for w in key_widths], [["-" * w for w in widths] for widths in group_widths])
    )
    for index, key in enumerate(key_rows):
        lines.append(line(key, [rows[index] for _, _, rows in groups]))
    return lines


def _dataset_caption(rows: list[Row], dataset: str) -> str:
    samples = sorted({row.samples for row in rows if row.samples is not None})
    capped = any(row.samples_capped for row in rows)
    about = (
        (f"{'/'.join(f'{n:,}' for n in samples)} samples/epoch" + (" (capped)" if capped else ""))
        if samples
        else "no case finished"
    )
    return f"{dataset}, {about}; s/epoch: lower is better; GPU MiB: peak GPU memory"


def terminal_tables(report: Report, width: int = TERMINAL_WIDTH) -> list[str]:
    """Compact tables for the end of a run, each line at most `width` columns.

    Backends that do not fit beside each other continue in a second table below, so a wide
    matrix (or verdict columns) never wraps a table apart.
    """
    many_machines = len({row.instance for row in report.rows}) > 1
    lines: list[str] = []
    for dataset in report.datasets:
        rows = report.for_dataset(dataset)
        with_verdicts = any(row.verdict is not None for row in rows)
        keys = sorted(
            {(row.instance, row.gpus, row.batch_size, row.unroll) for row in rows},
            key=lambda k: (k[1], k[0], k[2], not k[3]),
        )
        key_header = (["machine"] if many_machines else []) + ["GPUs", "batch", "unroll"]
        key_rows = [
            ([_clip(k[0], 28)] if many_machines else [])
            + [str(k[1]), str(k[2]), "yes" if k[3] else "no"]
            for k in keys
        ]
        found = {
            (row.instance, row.gpus, row.batch_size, row.unroll, row.backend): row for row in rows
        }
        sub = ["s/epoch", "GPU MiB"] + (["change", "verdict"] if with_verdicts else [])
        groups = [
            (backend, sub, [_cells(found.get((*k, backend)), with_verdicts) for k in keys])
            for backend in report.backends
            if any(r.backend == backend for r in rows)
        ]
        if lines:
            lines.append("")
        lines.append(_clip(_dataset_caption(rows, dataset), width))
        chunk: list[tuple[str, list[str], list[list[str]]]] = []
        for group in groups:
            candidate = _render_chunk(key_header, key_rows, chunk + [group])
            if chunk and max(map(len, candidate)) > width:
                lines.extend(_render_chunk(key_header, key_rows, chunk))
                lines.append("")
                chunk = [group]
            else:
                chunk.append(group)
        if chunk:
            lines.extend(_render_chunk(key_header, key_rows, chunk))
    failed = [row for row in report.rows if row.status != "passed"]
    for row in failed:
        lines.append(
            _clip(
                f"FAILED {row.case_id}"
                + (f" on {row.instance}" if many_machines else "")
                + f": {row.failure.splitlines()[0] if row.failure else ''}",
                width,
            )
        )
    return lines


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def counts_line(
    document: Mapping[str, Any], saving: bool = False, failed: Iterable[str] = ()
) -> str:
    """What the run did, in one line: "8 measured, 6 judged (1 regression, 5 pass), 2 not
    judged, 0 failed". A measured case without a verdict was not judged (no baseline for it, or
    baselines were being recorded): the line keeps that apart from a pass. "failed" counts the
    cases whose worker failed and, from `failed` (the cases whose test failed), those that failed
    for another reason than their regression verdict (e.g. --rnnbench-require-baseline)."""
    measured = len(document.get("results") or {})
    judged = document.get("verdicts") or {}
    verdicts = [v.get("verdict") for v in judged.values()]
    regressed = {case for case, v in judged.items() if v.get("verdict") == "regression"}
    failures = len(set(document.get("failures") or {}) | (set(failed) - regressed))
    if saving:
        return f"{measured} measured (baselines recorded, nothing judged), {failures} failed"
    outcomes = Counter(str(v) for v in verdicts)
    order = ["regression", "inconclusive", "improvement", "pass"]
    shown = sorted(outcomes, key=lambda o: (order.index(o) if o in order else len(order), o))
    judged = f"{len(verdicts)} judged"
    if outcomes:
        judged += " (" + ", ".join(f"{outcomes[o]} {o}" for o in shown) + ")"
    not_judged = max(0, measured - len(verdicts))
    return f"{measured} measured, {judged}, {not_judged} not judged, {failures} failed"
