"""Stored baselines: one JSON file per machine profile, one entry per case and workload. No
pytest import.

A profile names what makes timings comparable: CPU model and core count, GPU model and count,
NVIDIA driver and CUDA version, and the Python (major.minor) running the benchmark. It leaves out
what drifts (clocks, hostname, load). The Keras and framework versions are *not* part of it:
comparing a new Keras (or Keras-MXNet) against the numbers of the old one is what this gate is for,
and each backend's versions are only known once its worker ran. Each entry records the versions
it was measured with instead, and a verdict says when they differ.

An entry is keyed by its case *and its workload* (samples per epoch, timed epochs): a quick run
with `--rnnbench-samples=4096` and a full-epoch run of the same case are different measurements,
and recording one must not overwrite the other.

File format (schema "pytest-rnnbench/baseline"), sorted keys, indented, one entry per case and
workload:

    {"schema": ..., "version": 2, "profile": {...},
     "entries": {"<case id>|samples=<N>|repeats=<R>":
                              {"case": {...}, "recorded": ISO time, "commit": git HEAD or null,
                               "versions": {...}, "python": "3.11.9", "samples": N,
                               "steps_per_epoch": N, "repeats": N,
                               "metrics": {"<metric>": {"samples": [...], "median": x,
                                                        "p10": x, "p90": x, "n": N, "unit": u}},
                               "tolerances": {"tolerance_time": 0.1, ...}   (optional)}}}

Format history: version 1 keyed entries by case id alone; version 2 keys them by case and
workload. Version 1 files are still read (their entries re-keyed from their own "samples" and
"repeats") and are rewritten as version 2 at the next save, losing nothing.

Saving merges under an exclusive lock (fcntl.flock on a lock file beside the baseline) and
replaces the file atomically (write a temporary file, fsync, os.replace), so concurrent writers
(pytest-xdist workers, two runs) lose nothing and readers never see half a file.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import math
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from ..atomic import write_json
from ..quantiles import median, quantile
from ..run.devices import cpu_name
from ..run.trees import git_or_none
from .samples import busy_shares
from .verdict import METRICS, TOLERANCE_KEYS

SCHEMA = "pytest-rnnbench/baseline"
VERSION = 2
READABLE_VERSIONS = (1, 2)
ENTRY_FIELDS = ("case", "recorded", "metrics", "versions")


class BaselineError(ValueError):
    """A baseline file that cannot be used; the message names the file and the problem."""


@dataclass(frozen=True)
class Profile:
    cpu: str
    cpus: int
    gpu: Optional[str]
    gpus: int
    driver: Optional[str]
    cuda: Optional[str]
    python: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "cpu": self.cpu,
            "cpus": self.cpus,
            "gpu": self.gpu,
            "gpus": self.gpus,
            "driver": self.driver,
            "cuda": self.cuda,
            "python": self.python,
        }

    @property
    def name(self) -> str:
        """A readable, stable file stem: intel-xeon-platinum-8375c-2cpu_nogpu_py3.11."""
        cpu = _slug(cpu_name(self.cpu)) or "cpu"
        parts = [f"{cpu}-{self.cpus}cpu"]
        if self.gpus:
            parts.append(f"{self.gpus}x-{_slug(self.gpu or 'gpu')}")
            parts.append(f"driver{self.driver or 'unknown'}-cuda{self.cuda or 'unknown'}")
        else:
            parts.append("nogpu")
        parts.append(f"py{self.python}")
        return "_".join(parts)

    def describe(self) -> str:
        gpu = (
            f"{self.gpus} x {self.gpu} (driver {self.driver}, CUDA {self.cuda})"
            if self.gpus
            else "no GPU"
        )
        return f"{self.cpu} ({self.cpus} CPUs), {gpu}, Python {self.python}"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9.]+", "-", text.lower()).strip("-.")[:60]


def machine_profile(
    cpu: str,
    cpus: int,
    gpu_names: Sequence[str],
    driver: Optional[str],
    cuda: Optional[str],
    python_version: str,
) -> Profile:
    kinds = sorted(set(gpu_names))
    # The model identifies the hardware; the clock in its name is sometimes the current one.
    cpu = cpu_name(cpu)
    return Profile(
        cpu=cpu,
        cpus=int(cpus),
        gpu=" + ".join(kinds) if kinds else None,
        gpus=len(gpu_names),
        driver=driver if gpu_names else None,
        cuda=cuda if gpu_names else None,
        python=".".join(python_version.split(".")[:2]),
    )


def entry_key(case_id: str, samples: Any, repeats: Any) -> str:
    """Where a case's baseline for one workload is stored: "<case id>|samples=N|repeats=R"."""
    return f"{case_id}|samples={samples}|repeats={repeats}"


def key_of(entry: Mapping[str, Any]) -> str:
    """The key an entry belongs under, from its own case id and workload."""
    return entry_key(entry["case"]["id"], entry.get("samples"), entry.get("repeats"))


def describe_workload(entry: Mapping[str, Any]) -> str:
    """ "4,096 samples x 3 epochs", for messages."""
    samples, repeats = entry.get("samples"), entry.get("repeats")
    shown = f"{samples:,}" if isinstance(samples, int) else str(samples)
    return f"{shown} samples x {repeats} epochs"


def find(
    entries: Mapping[str, Mapping[str, Any]], case_id: str, samples: Any, repeats: Any
) -> Optional[Mapping[str, Any]]:
    """The entry of `case_id` recorded with this workload, or None."""
    return entries.get(entry_key(case_id, samples, repeats))


def entries_of_case(
    entries: Mapping[str, Mapping[str, Any]], case_id: str
) -> list[Mapping[str, Any]]:
    """Every workload recorded for `case_id`, in key order."""
    return [entries[key] for key in sorted(entries) if entries[key]["case"]["id"] == case_id]


def baseline_path(directory: Path, profile: Profile) -> Path:
    return Path(directory) / f"{profile.name}.json"


def other_profiles(directory: Path, profile: Profile) -> list[str]:
    """Names of the baseline files in `directory` that belong to other profiles."""
    try:
        names = sorted(p.name for p in Path(directory).glob("*.json"))
    except OSError:
        return []
    return [name for name in names if name != baseline_path(directory, profile).name]


# ------------------------------------------------------------------------------------------------
# Reading and validating


def load(path: Path, profile: Optional[Profile] = None) -> Optional[dict[str, dict[str, Any]]]:
    """The entries of the baseline file at `path`, None when there is no such file.

    Raises BaselineError (naming the file and the problem) for anything unusable: unreadable,
    not JSON, truncated, another schema or version, missing or malformed fields, a sample that is
    not a finite number, or (when `profile` is given) a file recorded for another profile.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise BaselineError(f"baseline file {path}: cannot read it: {exc}") from None
    return parse(text, str(path), profile)


def parse(text: str, where: str, profile: Optional[Profile] = None) -> dict[str, dict[str, Any]]:
    try:
        document = json.loads(text, parse_constant=_reject_constant)
    except ValueError as exc:
        what = "empty" if not text.strip() else "truncated or not JSON"
        raise BaselineError(f"baseline file {where}: {what} ({exc})") from None
    return validate(document, where, profile)


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number a baseline may hold")


def validate(
    document: Any, where: str, profile: Optional[Profile] = None
) -> dict[str, dict[str, Any]]:
    def fail(problem: str) -> BaselineError:
        return BaselineError(f"baseline file {where}: {problem}")

    if not isinstance(document, dict) or document.get("schema") != SCHEMA:
        raise fail(f'not a pytest-rnnbench baseline (expected "schema": "{SCHEMA}")')
    version = document.get("version")
    if version not in READABLE_VERSIONS:
        raise fail(
            f"format version {version!r} is not supported (this pytest-rnnbench reads "
            f"versions {', '.join(map(str, READABLE_VERSIONS))}); record a new baseline with "
            "--rnnbench-save-baseline"
        )
    stored_profile = document.get("profile")
    if not isinstance(stored_profile, dict):
        raise fail('missing or malformed "profile"')
    if profile is not None and stored_profile != profile.to_dict():
        differ = sorted(
            k
            for k in set(stored_profile) | set(profile.to_dict())
            if stored_profile.get(k) != profile.to_dict().get(k)
        )
        raise fail(
            "recorded for another machine profile ("
            + ", ".join(
                f"{k}: {stored_profile.get(k)!r} there, {profile.to_dict().get(k)!r} here"
                for k in differ
            )
            + ")"
        )
    entries = document.get("entries")
    if not isinstance(entries, dict):
        raise fail('missing or malformed "entries"')
    for key, entry in entries.items():
        _validate_entry(key, entry, fail, keyed_by_workload=version != 1)
    if version == 1:
        # Version 1 keyed entries by case id alone: each is re-keyed by its own workload.
        return {key_of(entry): entry for entry in entries.values()}
    return entries


def _validate_entry(
    key: str, entry: Any, fail: Callable[[str], BaselineError], keyed_by_workload: bool = True
) -> None:
    case_id = key
    if not isinstance(entry, dict):
        raise fail(f"entry {case_id!r} is not an object")
    missing = [name for name in ENTRY_FIELDS if name not in entry]
    if missing:
        raise fail(f"entry {case_id!r} lacks {', '.join(missing)}")
    case = entry["case"]
    described = case.get("id") if isinstance(case, dict) else None
    if keyed_by_workload:
        if not isinstance(described, str) or key_of(entry) != key:
            raise fail(
                f'entry {key!r}: its "case" id and workload ("samples", "repeats") belong '
                f"under {key_of(entry) if isinstance(described, str) else 'another key'!r}"
            )
    elif described != case_id:
        raise fail(f'entry {case_id!r}: its "case" does not describe case {case_id!r}')
    metrics = entry["metrics"]
    if not isinstance(metrics, dict) or not metrics:
        raise fail(f'entry {case_id!r}: "metrics" must be a non-empty object')
    for name, metric in metrics.items():
        if name not in METRICS:
            raise fail(f"entry {case_id!r}: unknown metric {name!r}; known: {', '.join(METRICS)}")
        samples = metric.get("samples") if isinstance(metric, dict) else None
        if not isinstance(samples, list) or not samples:
            raise fail(f'entry {case_id!r}: metric {name!r} needs a non-empty "samples" list')
        for value in samples:
            if not _is_number(value):
                raise fail(
                    f"entry {case_id!r}: metric {name!r} has a sample {value!r} that is "
                    "not a finite number"
                )
    tolerances = entry.get("tolerances", {})
    if not isinstance(tolerances, dict):
        raise fail(f'entry {case_id!r}: "tolerances" must be an object')
    for key, value in tolerances.items():
        if key not in TOLERANCE_KEYS:
            raise fail(
                f"entry {case_id!r}: unknown tolerance {key!r}; known: {', '.join(TOLERANCE_KEYS)}"
            )
        if not _is_number(value) or value < 0:
            raise fail(f"entry {case_id!r}: tolerance {key}={value!r} is not a fraction >= 0")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def entry_samples(entry: Mapping[str, Any]) -> dict[str, list[float]]:
    return {name: list(metric["samples"]) for name, metric in entry["metrics"].items()}


def entry_tolerances(entry: Mapping[str, Any]) -> dict[str, float]:
    """{metric name: fraction} from the entry's optional "tolerances"."""
    return {
        TOLERANCE_KEYS[key]: float(value) for key, value in (entry.get("tolerances") or {}).items()
    }


# ------------------------------------------------------------------------------------------------
# Making entries


def _round(value: float) -> float:
    return float(f"{value:.6g}")


def make_entry(
    case: Mapping[str, Any],
    result: Mapping[str, Any],
    samples: Mapping[str, Sequence[float]],
    commit: Optional[str] = None,
    recorded: Optional[str] = None,
) -> dict[str, Any]:
    """A baseline entry from one worker result and its metric samples."""
    units = {name: metric.unit for name, metric in METRICS.items()}
    metrics = {}
    for name, values in samples.items():
        if not values:
            continue
        values = [_round(v) for v in values]
        metrics[name] = {
            "samples": values,
            "n": len(values),
            "unit": units.get(name, ""),
            "median": _round(median(values)),
            "p10": _round(quantile(values, 0.1)),
            "p90": _round(quantile(values, 0.9)),
        }
    return {
        "case": dict(case),
        "recorded": recorded
        or datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "commit": commit,
        "versions": dict(result.get("versions") or {}),
        "python": (result.get("python") or {}).get("version"),
        "samples": result.get("samples"),
        "steps_per_epoch": result.get("steps_per_epoch"),
        "repeats": result.get("repeats"),
        "epoch_seconds": [_round(e["seconds"]) for e in result.get("epochs") or []],
        "cpu_busy_shares": [_round(v) for v in busy_shares(result)],
        "metrics": metrics,
    }


def git_commit(directory: Path) -> Optional[str]:
    """The git HEAD of `directory`, or None outside a git checkout."""
    return git_or_none(directory, "rev-parse", "HEAD") or None


# ------------------------------------------------------------------------------------------------
# Saving


@dataclass
class SaveReport:
    path: Path
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)  # "case: time 4.1 -> 4.3 ms (+4.9%)"
    kept: int = 0  # entries of cases not saved this time
    moved_aside: Optional[Path] = None  # a broken file renamed before saving
    problem: str = ""  # what was wrong with it

    def lines(self) -> list[str]:
        out = []
        if self.moved_aside is not None:
            out.append(
                f"the old baseline file was unusable ({self.problem}); "
                f"it was renamed to {self.moved_aside} and a new file started"
            )
        for case_id in self.added:
            out.append(f"added {case_id}")
        out.extend(f"updated {line}" for line in self.updated)
        return out


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive lock on `path`'s lock file (kept on disk: removing it would race)."""
    import fcntl

    lock_path = path.with_name(f".{path.name}.lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _describe_update(case_id: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    try:
        before = old["metrics"]["epoch_time"]["median"]
        after = new["metrics"]["epoch_time"]["median"]
        change = (after / before - 1) * 100
        return f"{case_id}: median step {before:.4g} -> {after:.4g} ms ({change:+.1f}%)"
    except (KeyError, TypeError, ZeroDivisionError):
        return case_id


def save(path: Path, profile: Profile, new_entries: Mapping[str, Mapping[str, Any]]) -> SaveReport:
    """Merge `new_entries` (keyed by `key_of`) into the baseline file at `path`; say what changed.

    Entries of cases not in `new_entries` are kept. An updated entry keeps the old entry's
    "tolerances" (reviewed settings, not measurements) unless the new one brings its own. A file
    that cannot be read is never overwritten: it is renamed aside (FILE.broken-TIMESTAMP-PID) and
    the report says so.
    """
    path = Path(path)
    report = SaveReport(path=path)
    with locked(path):
        try:
            entries = load(path, profile) or {}
        except BaselineError as exc:
            stamp = datetime.datetime.now().strftime("%Y%m%dT%H%M%S")
            aside = path.with_name(f"{path.name}.broken-{stamp}-{os.getpid()}")
            os.replace(path, aside)
            report.moved_aside, report.problem = aside, str(exc)
            entries = {}
        merged = dict(entries)
        for key, entry in new_entries.items():
            entry = dict(entry)
            old = entries.get(key)
            if old is not None and "tolerances" in old and "tolerances" not in entry:
                entry["tolerances"] = old["tolerances"]
            shown = f"{entry['case']['id']} ({describe_workload(entry)})"
            if old is None:
                report.added.append(shown)
            else:
                report.updated.append(_describe_update(shown, old, entry))
            merged[key] = entry
        report.kept = len(set(entries) - set(new_entries))
        document = {
            "schema": SCHEMA,
            "version": VERSION,
            "profile": profile.to_dict(),
            "entries": merged,
        }
        validate(document, str(path))  # never write what we could not read back
        write_json(path, document, indent=1, allow_nan=False)
    return report
