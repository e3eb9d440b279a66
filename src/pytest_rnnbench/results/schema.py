"""The results file's name and version (documented in docs/formats.md), shared by its writer and
its reader, the one error a reader raises, and the shape a reader may rely on.

A results file is anyone's to write (a pull request's CI uploads it; `report`, `compare` and
`history` read it back), so check() looks at every field a reader takes a number, text or table
from: a file of the wrong shape is one ResultsError naming the field, never a traceback."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

RESULTS_SCHEMA = "pytest-rnnbench/results"
RESULTS_VERSION = 1


class ResultsError(ValueError):
    """A results file that cannot be read; the message names the file and what is wrong."""


def check(document: Any, where: str) -> None:
    """ResultsError unless `document` is a results document this version reads."""
    if not isinstance(document, dict) or document.get("schema") != RESULTS_SCHEMA:
        raise ResultsError(
            f'{where}: not a pytest-rnnbench results file (expected "schema": "{RESULTS_SCHEMA}")'
        )
    version = document.get("version")
    if version != RESULTS_VERSION:
        raise ResultsError(
            f"{where}: results format version {version!r} is not supported "
            f"(this pytest-rnnbench reads version {RESULTS_VERSION})"
        )
    for key in ("machine", "results"):
        if not isinstance(document.get(key), dict):
            raise ResultsError(f"{where}: missing or malformed {key!r} section")
    try:
        _check_sections(document)
    except _Malformed as exc:
        raise ResultsError(f"{where}: malformed {exc}") from None


# What each kind of field must be (None, JSON's null, is always allowed).
NUMBER = (int, float)
TEXT = (str,)
TABLE = (dict,)
LIST = (list,)

# A results entry (run/summary.py) and its worker's message: the fields readers use.
RESULT_FIELDS = {
    **dict.fromkeys(
        (
            "epoch_seconds",
            "step_ms_median",
            "step_ms_p10",
            "step_ms_p90",
            "samples",
            "samples_per_second",
            "warmup_seconds",
            "final_loss",
            "host_peak_rss_bytes",
            "gpu_framework_peak_bytes",
            "gpu_nvml_process_peak_bytes",
        ),
        NUMBER,
    ),
    "epoch_seconds_all": LIST,
    "versions": TABLE,
    "worker": TABLE,
}
WORKER_FIELDS = {
    **dict.fromkeys(
        (
            "steps_per_epoch",
            "samples_cap",
            "samples",
            "repeats",
            "turn_steps",
            "final_loss",
            "host_peak_rss_bytes",
            "gpu_framework_peak_bytes",
        ),
        NUMBER,
    ),
    **dict.fromkeys(("case", "versions", "gpu_memory", "run", "python", "machine_probe"), TABLE),
    **dict.fromkeys(("epochs", "turn_loads", "worker_probe_ms"), LIST),
}
# A worker's epoch: which worker timed it (several in one result), and the CPU others took.
EPOCH_FIELDS = {"seconds": NUMBER, "step_seconds": LIST, "worker": NUMBER, "cpu": TABLE}
# A case's verdict (verdicts/verdict.py's CaseVerdict.to_dict) and each of its metrics.
VERDICT_FIELDS = {
    "verdict": TEXT,
    "change": NUMBER,
    "relative_change": NUMBER,  # hand-made files' name for the change (results/read.py)
    "reason": TEXT,
    "metrics": TABLE,
    "notes": LIST,
    "baseline_seconds": NUMBER,
    "workers": TABLE,
    "turn_loads": TABLE,
    "family": TABLE,
}
METRIC_FIELDS = {
    **dict.fromkeys(("baseline", "now", "change", "tolerance", "confidence", "resolution"), NUMBER),
    **dict.fromkeys(("n_baseline", "n_now"), NUMBER),
    **dict.fromkeys(("outcome", "why", "test"), TEXT),
}


class _Malformed(Exception):
    """A field of the wrong kind; the message says which, as a path into the document."""


def _expect(value: Any, kinds: tuple[type, ...], path: str) -> None:
    if value is None or isinstance(value, kinds):
        return
    names: dict[tuple[type, ...], str] = {
        NUMBER: "a number",
        TEXT: "text",
        TABLE: "an object",
        LIST: "a list",
    }
    raise _Malformed(f"{path}: {type(value).__name__}, expected {names.get(kinds, kinds)}")


def _present(value: Any, kinds: tuple[type, ...], path: str) -> None:
    """An entry of a section (a case's result, verdict, failure; a metric; an epoch): never null."""
    if value is None:
        raise _Malformed(f"{path}: null, expected an entry")
    _expect(value, kinds, path)


def _fields(table: Mapping[str, Any], spec: Mapping[str, tuple[type, ...]], path: str) -> None:
    for key, kinds in spec.items():
        _expect(table.get(key), kinds, f"{path}.{key}")


# Counts a reader turns into whole numbers (a MiB figure, a table cell): finite when given.
FINITE_FIELDS = ("gpu_framework_peak_bytes", "gpu_nvml_process_peak_bytes", "host_peak_rss_bytes")


def _finite(table: Mapping[str, Any], keys: tuple[str, ...], path: str) -> None:
    for key in keys:
        value = table.get(key)
        if isinstance(value, float) and not math.isfinite(value):
            raise _Malformed(f"{path}.{key}: {value}, expected a finite number")


def _check_epochs(epochs: Any, path: str) -> None:
    """Each epoch an object whose step times (what every verdict is judged on) are positive,
    finite seconds."""
    for index, epoch in enumerate(epochs or ()):
        where = f"{path}[{index}]"
        _present(epoch, TABLE, where)
        _fields(epoch, EPOCH_FIELDS, where)
        _expect((epoch.get("cpu") or {}).get("others_share"), NUMBER, f"{where}.cpu.others_share")
        for step, seconds in enumerate(epoch.get("step_seconds") or ()):
            if not isinstance(seconds, NUMBER) or not 0 < seconds < math.inf:
                raise _Malformed(
                    f"{where}.step_seconds[{step}]: {seconds!r}, expected a positive number"
                )


def _check_verdict(found: Any, path: str) -> None:
    if isinstance(found, str):  # a bare outcome word, as hand-made files write it
        return
    _present(found, TABLE, path)
    _fields(found, VERDICT_FIELDS, path)
    for name, metric in (found.get("metrics") or {}).items():
        _present(metric, TABLE, f"{path}.metrics[{name!r}]")
        _fields(metric, METRIC_FIELDS, f"{path}.metrics[{name!r}]")


def _check_sections(document: Mapping[str, Any]) -> None:
    for key in ("failures", "verdicts", "not_judged", "settings", "source", "gate"):
        _expect(document.get(key), TABLE, key)
    _expect(document.get("finished"), (bool,), "finished")
    _expect(document.get("cases_selected"), NUMBER, "cases_selected")
    for case_id, entry in document["results"].items():
        path = f"results[{case_id!r}]"
        _present(entry, TABLE, path)
        _fields(entry, RESULT_FIELDS, path)
        _finite(entry, FINITE_FIELDS, path)
        for index, seconds in enumerate(entry.get("epoch_seconds_all") or ()):
            _expect(seconds, NUMBER, f"{path}.epoch_seconds_all[{index}]")
        worker = entry.get("worker") or {}
        _fields(worker, WORKER_FIELDS, f"{path}.worker")
        _finite(worker, FINITE_FIELDS, f"{path}.worker")
        for index, value in enumerate(worker.get("turn_loads") or ()):
            _expect(value, NUMBER, f"{path}.worker.turn_loads[{index}]")
        _check_epochs((entry.get("worker") or {}).get("epochs"), f"{path}.worker.epochs")
        if entry.get("verdict") is not None:
            _check_verdict(entry["verdict"], f"{path}.verdict")
    for case_id, text in (document.get("failures") or {}).items():
        _present(text, TEXT, f"failures[{case_id!r}]")
    for case_id, found in (document.get("verdicts") or {}).items():
        _check_verdict(found, f"verdicts[{case_id!r}]")
