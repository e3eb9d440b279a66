"""The results file: the document a run writes (`--rnnbench-json`), and reading documents back
as flat rows for reports.

One `Row` is one case measured on one machine. Several documents (several machines, or the shards
of one fleet) merge into one list of rows; the markdown report, the charts, the terminal tables
and the pytest-benchmark export all render rows, so a live session and `python -m pytest_rnnbench
report run1.json run2.json` produce the same output from the same numbers.

No pytest import, no framework import: plain JSON in, plain objects out (and, when a run writes its
document, `git` once for the commit the run was started in). The format is documented in
docs/formats.md.
"""

from __future__ import annotations

import datetime
import functools
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, cast

from ..backends import BACKENDS, LABELS, rank
from ..matrix import DATASETS
from ..run.devices import GpuInventory, cpu_count, cpu_model, cpu_name
from ..run.summary import Summary
from ..run.trees import git_or_none
from ..settings import Settings

RESULTS_SCHEMA = "pytest-rnnbench/results"
RESULTS_VERSION = 1

_CASE_ID = re.compile(
    r"^(?P<backend>[a-z0-9_]+)-gpu(?P<gpus>\d+)-b(?P<batch>\d+)-(?P<unroll>unroll|nounroll)"
    r"-(?P<dataset>[a-z0-9_]+)$"
)

DATASET_NAMES = {"synthetic": "Synthetic", "nietzsche": "Nietzsche", "wikitext2": "WikiText2"}


class ResultsError(ValueError):
    """A results file that cannot be read; the message names the file and what is wrong."""


@dataclass(frozen=True)
class Verdict:
    """A case's comparison with its baseline, as far as the results file says."""

    verdict: str  # pass / regression / improvement / inconclusive / no-baseline
    change: Optional[float] = None  # relative change of the time metric: +0.05 is 5 % slower
    baseline_step_ms: Optional[float] = None  # the time metric's baseline median, ms per step
    now_step_ms: Optional[float] = None
    reason: str = ""


@dataclass(frozen=True)
class Row:
    """One case on one machine: measured (status "passed") or failed (status "failed")."""

    instance: str
    case_id: str
    backend: str
    gpus: int
    batch_size: int
    unroll: bool
    dataset: str
    status: str = "passed"
    failure: str = ""
    epoch_seconds: Optional[float] = None
    epoch_seconds_all: tuple[float, ...] = ()
    step_ms_median: Optional[float] = None
    steps_per_epoch: Optional[int] = None
    samples: Optional[int] = None
    samples_capped: bool = False
    samples_per_second: Optional[float] = None
    warmup_seconds: Optional[float] = None
    final_loss: Optional[float] = None
    gpu_memory_bytes: Optional[int] = None
    versions: Mapping[str, Any] = field(default_factory=dict)
    verdict: Optional[Verdict] = None
    source: str = ""  # the file the row came from

    @property
    def gpu_memory_mib(self) -> Optional[float]:
        return None if self.gpu_memory_bytes is None else self.gpu_memory_bytes / 2**20


@dataclass
class Report:
    """Everything a report shows: rows plus each machine's description, keyed by instance name."""

    rows: list[Row] = field(default_factory=list)
    machines: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # e.g. duplicate cases dropped while merging

    @property
    def datasets(self) -> list[str]:
        return _ordered({row.dataset for row in self.rows}, DATASETS)

    @property
    def backends(self) -> list[str]:
        return _ordered({row.backend for row in self.rows}, BACKENDS)

    @property
    def has_verdicts(self) -> bool:
        return any(row.verdict is not None for row in self.rows)

    def for_dataset(self, dataset: str) -> list[Row]:
        return [row for row in self.rows if row.dataset == dataset]


def _ordered(values: Iterable[str], known: Sequence[str]) -> list[str]:
    """Known names in their canonical order, then any others alphabetically."""
    values = set(values)
    return [name for name in known if name in values] + sorted(values - set(known))


def backend_name(backend: str) -> str:
    return LABELS.get(backend, backend)


def dataset_name(dataset: str) -> str:
    return DATASET_NAMES.get(dataset, dataset)


# ------------------------------------------------------------------------------------------------
# Machines get a readable name: the report's "Instance" column.


def short_cpu(model: str) -> str:
    """ "AMD EPYC 7R13 48-Core Processor" -> "AMD EPYC 7R13" (devices.cpu_name without cores)."""
    return cpu_name(model or "", core_count=False) or "unknown CPU"


def instance_name(machine: Mapping[str, Any]) -> str:
    """A readable name for a machine: its given name, else "4x NVIDIA A10G", else the CPU."""
    for key in ("name", "instance"):
        if machine.get(key):
            return str(machine[key])
    gpus = [str(name) for name in machine.get("gpus") or []]
    if gpus:
        kinds = sorted(set(gpus))
        return " + ".join(f"{gpus.count(kind)}x {kind}" for kind in kinds)
    cpus = machine.get("cpus")
    return short_cpu(str(machine.get("cpu", ""))) + (f", {cpus} CPUs" if cpus else "")


# ------------------------------------------------------------------------------------------------
# Verdicts: written into the results by the baseline comparison (baseline.py / verdict.py).


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
    # metrics.epoch_time (milliseconds per step).
    time = (raw.get("metrics") or {}).get("epoch_time") or {}
    change = _first(raw, "change", "relative_change")
    if change is None:
        change = time.get("change")
    baseline, now = time.get("baseline"), time.get("now")
    reason = _first(raw, "reason", "why", "detail", "message") or ""
    return Verdict(
        verdict=str(word),
        change=None if change is None else float(change),
        baseline_step_ms=None if baseline is None else float(baseline),
        now_step_ms=None if now is None else float(now),
        reason=str(reason),
    )


# ------------------------------------------------------------------------------------------------
# Documents -> rows


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


def check(document: Any, where: str) -> None:
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


_NAME = re.compile(r"^[a-z0-9_]+$")


def _case_fields(
    case_id: str, worker_case: Optional[Mapping[str, Any]], source: str = ""
) -> dict[str, Any]:
    where = f"{source}: " if source else ""
    if worker_case:
        try:
            fields = {
                "backend": worker_case["backend"],
                "gpus": int(worker_case["gpus"]),
                "batch_size": int(worker_case["batch_size"]),
                "unroll": bool(worker_case["unroll"]),
                "dataset": worker_case["dataset"],
            }
        except (KeyError, TypeError, ValueError) as exc:
            raise ResultsError(
                f'{where}case {case_id!r}: malformed worker "case" ({type(exc).__name__}: {exc})'
            ) from None
        # Names become parts of file names (charts): plain names only, never a path.
        for key in ("backend", "dataset"):
            if not isinstance(fields[key], str) or not _NAME.match(fields[key]):
                raise ResultsError(
                    f"{where}case {case_id!r}: {key} {fields[key]!r} is not a "
                    "plain name (lowercase letters, digits, _)"
                )
        return fields
    match = _CASE_ID.match(case_id)
    if not match:
        raise ResultsError(
            f"{where}case id {case_id!r} is not of the form "
            "BACKEND-gpuN-bSIZE-unroll|nounroll-DATASET"
        )
    return {
        "backend": match["backend"],
        "gpus": int(match["gpus"]),
        "batch_size": int(match["batch"]),
        "unroll": match["unroll"] == "unroll",
        "dataset": match["dataset"],
    }


def _gpu_memory(entry: Mapping[str, Any]) -> Optional[int]:
    """What the seed measured (nvidia-smi's per-process use) when NVML saw it, else the framework's
    own peak; None on CPU cases."""
    value = _first(entry, "gpu_nvml_process_peak_bytes", "gpu_framework_peak_bytes")
    return None if value is None else int(value)


def rows_of(document: Mapping[str, Any], source: str = "") -> list[Row]:
    instance = instance_name(document["machine"])
    verdicts = document.get("verdicts") or {}
    rows = []
    for case_id, entry in sorted(document["results"].items()):
        worker = entry.get("worker") or {}
        raw_verdict = entry.get("verdict", verdicts.get(case_id))
        rows.append(
            Row(
                instance=instance,
                case_id=case_id,
                source=source,
                **_case_fields(case_id, worker.get("case"), source),
                epoch_seconds=entry.get("epoch_seconds"),
                epoch_seconds_all=tuple(entry.get("epoch_seconds_all") or ()),
                step_ms_median=entry.get("step_ms_median"),
                steps_per_epoch=worker.get("steps_per_epoch"),
                samples=entry.get("samples"),
                samples_capped=worker.get("samples_cap") is not None,
                samples_per_second=entry.get("samples_per_second"),
                warmup_seconds=entry.get("warmup_seconds"),
                final_loss=entry.get("final_loss"),
                gpu_memory_bytes=_gpu_memory(entry),
                versions=dict(entry.get("versions") or {}),
                verdict=parse_verdict(raw_verdict),
            )
        )
    for case_id, cause in sorted((document.get("failures") or {}).items()):
        if case_id in document["results"]:
            continue
        rows.append(
            Row(
                instance=instance,
                case_id=case_id,
                source=source,
                **_case_fields(case_id, None, source),
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


def load_report(paths: Sequence[Path]) -> Report:
    return build_report([(str(path), load(path)) for path in paths])


def sort_key(row: Row) -> tuple[Any, ...]:
    """Dataset, batch, unroll (on first, as the seed), GPUs, machine, backend."""
    dataset = DATASETS.index(row.dataset) if row.dataset in DATASETS else len(DATASETS)
    backend = rank(row.backend)
    return (
        dataset,
        row.dataset,
        row.batch_size,
        not row.unroll,
        row.gpus,
        row.instance,
        backend,
        row.backend,
    )


# ------------------------------------------------------------------------------------------------
# Writing: the results document of a run (the session writes it after every case).


def machine_section(inventory: GpuInventory) -> dict[str, Any]:
    return {
        "cpu": cpu_model(),
        "cpus": cpu_count(),
        "gpus": list(inventory.names),
        "driver": inventory.driver,
        "cuda": inventory.cuda,
    }


@functools.lru_cache(maxsize=8)
def source_section(directory: Path) -> dict[str, Any]:
    """What the run was started in: the git commit of the repository around `directory` (for a
    nightly run in a Keras checkout, the Keras commit), so that a history of runs can name the
    commits between two runs. All fields are None (dirty False) outside a git repository.

    Asked once per directory and process: the session rewrites the results file after every case,
    and a run measures the checkout as it was when it started.
    """
    section: dict[str, Any] = {
        "commit": None,
        "committed": None,
        "subject": None,
        "branch": None,
        "dirty": False,
    }
    # One call for the commit, its date and subject; "%x00" separates fields that may hold spaces.
    log = git_or_none(directory, "log", "-1", "--format=%H%x00%cI%x00%s")
    if not log:
        return section
    commit, committed, subject = (log.split("\0") + ["", ""])[:3]
    branch = git_or_none(directory, "rev-parse", "--abbrev-ref", "HEAD") or ""
    status = git_or_none(directory, "status", "--porcelain", "--untracked-files=no")
    section.update(
        commit=commit or None,
        committed=_utc_iso(committed),
        subject=subject or None,
        branch=branch if branch and branch != "HEAD" else None,  # "HEAD": a detached checkout
        dirty=bool(status and status.strip()),
    )
    return section


def _utc_iso(text: str) -> Optional[str]:
    """git's ISO 8601 date with its author's offset -> UTC, as "written" is."""
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return moment.astimezone(datetime.timezone.utc).isoformat(timespec="seconds")


def results_document(
    summaries: Mapping[str, Summary],
    failures: Mapping[str, str],
    settings: Settings,
    inventory: GpuInventory,
    verdicts: Optional[Mapping[str, Mapping[str, Any]]] = None,
    gate: Optional[Mapping[str, Any]] = None,
    started_in: Optional[Path] = None,
) -> dict[str, Any]:
    """The results document of a run (schema pytest-rnnbench/results, version 1).

    `gate`: the pull-request gate's two sides (base and head trees, with their commits), when the
    run compared two Keras trees. `started_in`: the directory the run was started in (default:
    the current directory), whose git commit the "source" section records.
    """
    where = Path(started_in) if started_in is not None else Path(os.getcwd())
    document: dict[str, Any] = {
        "schema": RESULTS_SCHEMA,
        "version": RESULTS_VERSION,
        "written": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_section(inventory),
        "source": dict(source_section(where.resolve())),
        "settings": {
            "matrix": settings.matrix,
            "samples_cap": settings.samples,
            "repeats": settings.repeats,
            # [K, N]: this run measured the K-th of N parts of the matrix (--rnnbench-shard); the
            # history joins the shards of one run.
            "shard": list(settings.shard) if settings.shard is not None else None,
            # --rnnbench-simulate-devices: gpuN cases ran on CPU slices (no GPU in "machine").
            "simulate_devices": settings.simulate_devices,
        },
        "results": {
            case_id: dict(summary.to_dict(), worker=summary.raw)
            for case_id, summary in sorted(summaries.items())
        },
        "failures": dict(sorted(failures.items())),
    }
    if verdicts:
        document["verdicts"] = {case_id: dict(v) for case_id, v in sorted(verdicts.items())}
    if gate:
        document["gate"] = dict(gate)
    return document
