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
FLAG = (bool,)

# The document's own fields, and its sections' (results/write.py; the gate's trees: run/trees.py).
DOCUMENT_FIELDS = {
    **dict.fromkeys(("failures", "verdicts", "not_judged", "settings", "source", "gate"), TABLE),
    **dict.fromkeys(("written", "run_id"), TEXT),
    "finished": FLAG,
    "cases_selected": NUMBER,
}
MACHINE_FIELDS = {
    **dict.fromkeys(("cpu", "driver", "cuda", "name", "instance"), TEXT),
    "cpus": NUMBER,
    "gpus": LIST,  # one model name per GPU
}
SOURCE_FIELDS = {**dict.fromkeys(("commit", "committed", "subject", "branch"), TEXT), "dirty": FLAG}
GATE_FIELDS = {"base": TABLE, "head": TABLE}
GATE_SIDE_FIELDS = {**dict.fromkeys(("side", "spec", "path", "commit"), TEXT), "dirty": FLAG}

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
            "inject_slowdown",
        ),
        NUMBER,
    ),
    **dict.fromkeys(
        ("case", "versions", "gpu_memory", "run", "python", "machine_probe", "keras_origin"), TABLE
    ),
    **dict.fromkeys(("epochs", "turn_loads", "worker_probe_ms"), LIST),
    "gpu_framework_peak_source": TEXT,
}
# The objects inside a worker's message (run/worker/rnnbench_worker_train.py, run/devices.py).
WORKER_TABLES: dict[str, dict[str, tuple[type, ...]]] = {
    "case": {
        **dict.fromkeys(("id", "backend", "dataset"), TEXT),
        **dict.fromkeys(("gpus", "batch_size"), NUMBER),
        "unroll": FLAG,
    },
    "gpu_memory": {
        **dict.fromkeys(
            (
                "nvml_process_peak_bytes",
                "nvml_device_used_peak_bytes",
                "nvml_device_used_at_start_bytes",
            ),
            NUMBER,
        ),
        "nvml_other_processes": LIST,
        "nvml_reason": TEXT,
    },
    "run": {"thread_pools": TEXT, "preallocate": FLAG},
    "python": {"version": TEXT, "executable": TEXT},
    "keras_origin": dict.fromkeys(("file", "tree", "commit", "version"), TEXT),
    "machine_probe": {"ms": NUMBER},
}
# A worker's epoch: which worker timed it (several in one result), and the CPU others took.
EPOCH_FIELDS = {"seconds": NUMBER, "step_seconds": LIST, "worker": NUMBER, "cpu": TABLE}
EPOCH_CPU_FIELDS = dict.fromkeys(
    ("own_seconds", "others_seconds", "steal_seconds", "cpus", "others_share"), NUMBER
)
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
FAMILY_FIELDS = {"cases": NUMBER, "false_alarm_rate": NUMBER}
METRIC_FIELDS = {
    **dict.fromkeys(("baseline", "now", "change", "tolerance", "confidence", "resolution"), NUMBER),
    **dict.fromkeys(("n_baseline", "n_now"), NUMBER),
    **dict.fromkeys(("outcome", "why", "test"), TEXT),
}

# Numbers a reader turns into whole numbers (int(): a MiB figure, a count, a worker's index) or
# compares as levels: finite when given. Others (a loss, a rate) may be NaN, as a diverged run
# writes them.
FINITE = {
    "machine": ("cpus",),
    "result": ("gpu_framework_peak_bytes", "gpu_nvml_process_peak_bytes", "host_peak_rss_bytes"),
    "worker": (
        "gpu_framework_peak_bytes",
        "host_peak_rss_bytes",
        "steps_per_epoch",
        "samples_cap",
        "samples",
        "repeats",
        "turn_steps",
    ),
    "case": ("gpus", "batch_size"),
    "gpu_memory": (
        "nvml_process_peak_bytes",
        "nvml_device_used_peak_bytes",
        "nvml_device_used_at_start_bytes",
    ),
    "machine_probe": ("ms",),
    "epoch": ("worker",),
    "epoch_cpu": tuple(EPOCH_CPU_FIELDS),
    "family": tuple(FAMILY_FIELDS),
}


class _Malformed(Exception):
    """A field of the wrong kind; the message says which, as a path into the document."""


_NAMES: dict[tuple[type, ...], str] = {
    NUMBER: "a number",
    TEXT: "text",
    TABLE: "an object",
    LIST: "a list",
    FLAG: "true or false",
}


def _expect(value: Any, kinds: tuple[type, ...], path: str) -> None:
    if value is None or isinstance(value, kinds):
        return
    raise _Malformed(f"{path}: {type(value).__name__}, expected {_NAMES.get(kinds, kinds)}")


def _present(value: Any, kinds: tuple[type, ...], path: str) -> None:
    """An entry of a section (a case's result, verdict, failure; a metric; an epoch): never null."""
    if value is None:
        raise _Malformed(f"{path}: null, expected an entry")
    _expect(value, kinds, path)


def _fields(
    table: Mapping[str, Any],
    spec: Mapping[str, tuple[type, ...]],
    path: str,
    finite: tuple[str, ...] = (),
) -> None:
    """The fields of `table` that `spec` names, each of its kind; those in `finite` finite."""
    for key, kinds in spec.items():
        _expect(table.get(key), kinds, f"{path}.{key}" if path else key)
    for key in finite:
        value = table.get(key)
        if isinstance(value, float) and not math.isfinite(value):
            raise _Malformed(f"{path}.{key}: {value}, expected a finite number")


def _table(
    table: Any, spec: Mapping[str, tuple[type, ...]], path: str, finite: tuple[str, ...] = ()
) -> None:
    """A nested object's fields (its own kind is its parent's to check: null, absent or of the
    wrong kind, it has none)."""
    if isinstance(table, dict):
        _fields(table, spec, path, finite)


def _items(values: Any, kinds: tuple[type, ...], path: str, finite: bool = False) -> None:
    """Each item of a list (its kind is its parent's to check): never null, of `kinds`, and with
    `finite` a finite number."""
    for index, value in enumerate(values if isinstance(values, list) else ()):
        if value is None:
            raise _Malformed(f"{path}[{index}]: null, expected {_NAMES.get(kinds, kinds)}")
        _expect(value, kinds, f"{path}[{index}]")
        if finite and isinstance(value, float) and not math.isfinite(value):
            raise _Malformed(f"{path}[{index}]: {value}, expected a finite number")


def _check_epochs(epochs: Any, path: str) -> None:
    """Each epoch an object whose step times (what every verdict is judged on) are positive,
    finite seconds."""
    for index, epoch in enumerate(epochs or ()):
        where = f"{path}[{index}]"
        _present(epoch, TABLE, where)
        _fields(epoch, EPOCH_FIELDS, where, FINITE["epoch"])
        _table(epoch.get("cpu"), EPOCH_CPU_FIELDS, f"{where}.cpu", FINITE["epoch_cpu"])
        for step, seconds in enumerate(epoch.get("step_seconds") or ()):
            if not isinstance(seconds, NUMBER) or not 0 < seconds < math.inf:
                raise _Malformed(
                    f"{where}.step_seconds[{step}]: {seconds!r}, expected a positive number"
                )


def _check_worker(worker: Any, path: str) -> None:
    """A results entry's worker message: what compare, the verdicts and the reports read."""
    if not isinstance(worker, dict):
        return
    _fields(worker, WORKER_FIELDS, path, FINITE["worker"])
    for key, spec in WORKER_TABLES.items():
        _table(worker.get(key), spec, f"{path}.{key}", FINITE.get(key, ()))
    for index, value in enumerate(worker.get("turn_loads") or ()):
        _expect(value, NUMBER, f"{path}.turn_loads[{index}]")
    _items(worker.get("worker_probe_ms"), NUMBER, f"{path}.worker_probe_ms")
    _check_epochs(worker.get("epochs"), f"{path}.epochs")


def _check_result(entry: Any, path: str) -> None:
    _present(entry, TABLE, path)
    _fields(entry, RESULT_FIELDS, path, FINITE["result"])
    _items(entry.get("epoch_seconds_all"), NUMBER, f"{path}.epoch_seconds_all", finite=True)
    _check_worker(entry.get("worker"), f"{path}.worker")
    if entry.get("verdict") is not None:
        _check_verdict(entry["verdict"], f"{path}.verdict")


def _check_verdict(found: Any, path: str) -> None:
    if isinstance(found, str):  # a bare outcome word, as hand-made files write it
        return
    _present(found, TABLE, path)
    _fields(found, VERDICT_FIELDS, path)
    _table(found.get("family"), FAMILY_FIELDS, f"{path}.family", FINITE["family"])
    for name, metric in (found.get("metrics") or {}).items():
        _present(metric, TABLE, f"{path}.metrics[{name!r}]")
        _fields(metric, METRIC_FIELDS, f"{path}.metrics[{name!r}]")


def _check_run(document: Mapping[str, Any]) -> None:
    """What the run was: its machine, the commit it started in, the gate's two trees."""
    machine = document["machine"]
    _fields(machine, MACHINE_FIELDS, "machine", FINITE["machine"])
    _items(machine.get("gpus"), TEXT, "machine.gpus")
    _table(document.get("source"), SOURCE_FIELDS, "source")
    gate = document.get("gate")
    _table(gate, GATE_FIELDS, "gate")
    for side in GATE_FIELDS:
        _table((gate or {}).get(side), GATE_SIDE_FIELDS, f"gate.{side}")


def _check_sections(document: Mapping[str, Any]) -> None:
    _fields(document, DOCUMENT_FIELDS, "")
    _check_run(document)
    for case_id, entry in document["results"].items():
        _check_result(entry, f"results[{case_id!r}]")
    for key in ("failures", "not_judged"):  # case id -> why
        for case_id, text in (document.get(key) or {}).items():
            _present(text, TEXT, f"{key}[{case_id!r}]")
    for case_id, found in (document.get("verdicts") or {}).items():
        _check_verdict(found, f"verdicts[{case_id!r}]")
