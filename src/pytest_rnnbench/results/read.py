"""Reading results files back as flat rows for reports.

Several documents (several machines, or the shards of one fleet) merge into one list of rows; the
markdown report, the charts, the terminal tables and the pytest-benchmark export all render rows,
so a live session and `python -m pytest_rnnbench report run1.json run2.json` produce the same
output from the same numbers.

No pytest import, no framework import: plain JSON in, plain objects out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Optional, cast

from ..machine import instance_name
from ..matrix import Case, is_plain_name
from .rows import Report, Row, Verdict, sort_key
from .schema import ResultsError, check


def load(path: Path) -> dict[str, Any]:
    """Read and check one results file; ResultsError names the file and the problem."""
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except OSError as exc:
        raise ResultsError(f"{path}: cannot read results file: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise ResultsError(f"{path}: not a JSON file: {exc}") from None
    check(document, str(path))
    return cast(dict[str, Any], document)


def load_report(paths: Sequence[Path]) -> Report:
    """One report from results files, a later file's case replacing an earlier one's."""
    return build_report([(str(path), load(path)) for path in paths])


# ------------------------------------------------------------------------------------------------
# Verdicts: written into the results by the baseline comparison (verdicts/).


def _first(mapping: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        if mapping.get(key) is not None:
            return mapping[key]
    return None


def parse_verdict(raw: Any) -> Optional[Verdict]:
    """Accept a verdict entry as a word or as a mapping; None when there is none."""
    if raw is None:
        return None
    if isinstance(raw, str):
        return Verdict(verdict=raw)
    if not isinstance(raw, Mapping):
        return None
    word = _first(raw, "verdict", "outcome", "status", "kind")
    if word is None:
        return None
    # verdict.CaseVerdict.to_dict(): "change" is the time metric's; its medians sit under
    # metrics.step_time (milliseconds per step; "epoch_time" in files of 0.1).
    time = time_metric(raw)
    change = _first(raw, "change", "relative_change")
    if change is None:
        change = time.get("change")
    baseline, now = time.get("baseline"), time.get("now")
    reason = _first(raw, "reason", "why", "detail", "message") or ""
    outcome = time.get("outcome")
    return Verdict(
        verdict=str(word),
        change=None if change is None else float(change),
        baseline_step_ms=None if baseline is None else float(baseline),
        now_step_ms=None if now is None else float(now),
        reason=str(reason),
        time_outcome=None if outcome is None else str(outcome),
    )


# ------------------------------------------------------------------------------------------------
# Documents -> rows


def case_of(case_id: str, worker_case: Optional[Mapping[str, Any]], source: str = "") -> Case:
    """The case of a results entry: what its worker reported running, else its id parsed.

    ResultsError (naming the file and the case) for a malformed worker case or case id.
    """
    where = f"{source}: " if source else ""
    if not worker_case:
        try:
            return Case.from_id(case_id)
        except ValueError as exc:
            raise ResultsError(f"{where}{exc}") from None
    try:
        case = Case(
            backend=worker_case["backend"],
            gpus=int(worker_case["gpus"]),
            batch_size=int(worker_case["batch_size"]),
            unroll=bool(worker_case["unroll"]),
            dataset=worker_case["dataset"],
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ResultsError(
            f'{where}case {case_id!r}: malformed worker "case" ({type(exc).__name__}: {exc})'
        ) from None
    # Names become parts of file names (charts): plain names only, never a path.
    for key, value in (("backend", case.backend), ("dataset", case.dataset)):
        if not is_plain_name(value):
            raise ResultsError(
                f"{where}case {case_id!r}: {key} {value!r} is not a "
                "plain name (lowercase letters, digits, _)"
            )
    return case


def _case_fields(case: Case) -> dict[str, Any]:
    return {
        "backend": case.backend,
        "gpus": case.gpus,
        "batch_size": case.batch_size,
        "unroll": case.unroll,
        "dataset": case.dataset,
    }


def _gpu_memory(entry: Mapping[str, Any]) -> Optional[int]:
    """What the seed measured (nvidia-smi's per-process use) when NVML saw it, else the framework's
    own peak; None on CPU cases."""
    value = _first(entry, "gpu_nvml_process_peak_bytes", "gpu_framework_peak_bytes")
    return None if value is None else int(value)


def _capped(samples: Any, cap: Any) -> bool:
    """Whether --rnnbench-samples cut the epoch short: the worker reports the cap it was given
    even when the dataset has fewer samples (then the cap changed nothing)."""
    return cap is not None and samples is not None and samples >= cap


def _measured_row(
    instance: str, case_id: str, entry: Mapping[str, Any], source: str, verdict: Any
) -> Row:
    worker = entry.get("worker") or {}
    return Row(
        instance=instance,
        case_id=case_id,
        source=source,
        **_case_fields(case_of(case_id, worker.get("case"), source)),
        epoch_seconds=entry.get("epoch_seconds"),
        epoch_seconds_all=tuple(entry.get("epoch_seconds_all") or ()),
        step_ms_median=entry.get("step_ms_median"),
        steps_per_epoch=worker.get("steps_per_epoch"),
        samples=entry.get("samples"),
        samples_capped=_capped(entry.get("samples"), worker.get("samples_cap")),
        samples_per_second=entry.get("samples_per_second"),
        warmup_seconds=entry.get("warmup_seconds"),
        final_loss=entry.get("final_loss"),
        gpu_memory_bytes=_gpu_memory(entry),
        versions=dict(entry.get("versions") or {}),
        verdict=parse_verdict(verdict),
    )


def rows_of(document: Mapping[str, Any], source: str = "") -> list[Row]:
    """Every case of a checked results document: measured ones, then failed ones."""
    instance = instance_name(document["machine"])
    verdicts = document.get("verdicts") or {}
    rows = []
    for case_id, entry in sorted(document["results"].items()):
        verdict = entry.get("verdict", verdicts.get(case_id))
        rows.append(_measured_row(instance, case_id, entry, source, verdict))
    for case_id, cause in sorted((document.get("failures") or {}).items()):
        if case_id in document["results"]:
            continue
        rows.append(
            Row(
                instance=instance,
                case_id=case_id,
                source=source,
                **_case_fields(case_of(case_id, None, source)),
                status="failed",
                failure=str(cause),
                verdict=parse_verdict(verdicts.get(case_id)),
            )
        )
    return rows


def build_report(documents: Sequence[tuple[str, Mapping[str, Any]]]) -> Report:
    """Merge (source name, document) pairs into one report.

    The same case measured twice on the same machine keeps the later document's row (documents
    are taken in the order given, as a later run supersedes an earlier one) and adds a note.
    """
    report = Report()
    by_key: dict[tuple[str, str], Row] = {}
    for source, document in documents:
        instance = instance_name(document["machine"])
        report.machines.setdefault(instance, dict(document["machine"]))
        for row in rows_of(document, source):
            key = (row.instance, row.case_id)
            if key in by_key:
                report.notes.append(
                    f"{row.case_id} on {row.instance}: {source} replaces {by_key[key].source}"
                )
            by_key[key] = row
    report.rows = sorted(by_key.values(), key=sort_key)
    return report


def time_metric(verdict: Mapping[str, Any]) -> Mapping[str, Any]:
    """A stored case verdict's time metric: "step_time", or "epoch_time" as 0.1 named it."""
    metrics = verdict.get("metrics") or {}
    found = metrics.get("step_time") or metrics.get("epoch_time") or {}
    return found if isinstance(found, Mapping) else {}
