"""The results file's name and version (documented in docs/formats.md), shared by its writer and
its reader, the one error a reader raises, and the shape a reader may rely on.

A results file is anyone's to write (a pull request's CI uploads it; `report`, `compare` and
`history` read it back), so check() looks at every field a reader takes a number, text or table
from: a file of the wrong shape is one ResultsError naming the field, never a traceback."""

from __future__ import annotations

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
WORKER_FIELDS = {"case": TABLE, "steps_per_epoch": NUMBER, "samples_cap": NUMBER, "epochs": LIST}
# A case's verdict (verdicts/verdict.py's CaseVerdict.to_dict) and each of its metrics.
VERDICT_FIELDS = {
    "verdict": TEXT,
    "change": NUMBER,
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


def _fields(table: Mapping[str, Any], spec: Mapping[str, tuple[type, ...]], path: str) -> None:
    for key, kinds in spec.items():
        _expect(table.get(key), kinds, f"{path}.{key}")


def _check_sections(document: Mapping[str, Any]) -> None:
    for key in ("failures", "verdicts", "not_judged", "settings", "source", "gate"):
        _expect(document.get(key), TABLE, key)
    for case_id, entry in document["results"].items():
        path = f"results[{case_id!r}]"
        _expect(entry, TABLE, path)
        _fields(entry, RESULT_FIELDS, path)
        for index, seconds in enumerate(entry.get("epoch_seconds_all") or ()):
            _expect(seconds, NUMBER, f"{path}.epoch_seconds_all[{index}]")
        _fields(entry.get("worker") or {}, WORKER_FIELDS, f"{path}.worker")
    for case_id, text in (document.get("failures") or {}).items():
        _expect(text, TEXT, f"failures[{case_id!r}]")
    for case_id, found in (document.get("verdicts") or {}).items():
        path = f"verdicts[{case_id!r}]"
        if isinstance(found, str):  # a bare outcome word, as hand-made files write it
            continue
        _expect(found, TABLE, path)
        _fields(found, VERDICT_FIELDS, path)
        for name, metric in (found.get("metrics") or {}).items():
            _expect(metric, TABLE, f"{path}.metrics[{name!r}]")
            _fields(metric, METRIC_FIELDS, f"{path}.metrics[{name!r}]")
