"""The baseline file's format: its schema and versions, reading old versions, validation.
No pytest.

File format (schema "pytest-rnnbench/baseline"), sorted keys, indented, one entry per case and
workload:

    {"schema": ..., "version": 3, "profile": {...},
     "entries": {"<case id>|samples=<N>|repeats=<R>":
                              {"case": {...}, "recorded": ISO time, "commit": git HEAD or null,
                               "versions": {...}, "python": "3.11.9", "samples": N,
                               "steps_per_epoch": N, "repeats": N,
                               "metrics": {"<metric>": {"samples": [...], "median": x,
                                                        "p10": x, "p90": x, "n": N, "unit": u}},
                               "tolerances": {"tolerance_time": 0.1, ...}   (optional),
                               "thread_pools": "steady" or "default" (optional: default),
                               "sessions": [{"recorded": ISO time, "commit": ..., "versions":
                                             {...}, "step_ms": x, "workers": N,
                                             "worker_step_ms": [x, ...]}, ...]}}}

"sessions" are the entry's history on this machine, oldest first, at most WINDOW of them: each
save of the case adds one (the geometric mean of its worker processes' step times, each the
median of that worker's block samples; "worker_step_ms" is optional) instead of
replacing the entry's history, and the time verdict judges a new run against their spread
(session_level.py). The other fields describe the latest session.

Format history: version 1 keyed entries by case id alone; version 2 keys them by case and
workload; version 3 adds "sessions". Older files are still read (version 1 entries re-keyed from
their own "samples" and "repeats"; an entry without sessions counts as one session, its own) and
are rewritten as version 3 at the next save, losing nothing.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Any, Optional

from ..metrics import parse_fraction
from .profile import Profile
from .records import METRICS, TOLERANCE_KEYS

SCHEMA = "pytest-rnnbench/baseline"
VERSION = 3
READABLE_VERSIONS = (1, 2, 3)
ENTRY_FIELDS = ("case", "recorded", "metrics", "versions")


class BaselineError(ValueError):
    """A baseline file that cannot be used; the message names the file and the problem."""


class BaselineNotOurs(BaselineError):
    """A baseline file that is not broken but not this run's to replace: written by a newer
    pytest-rnnbench, recorded for another machine profile, or unreadable to this user (a
    directory, no permission). Saving refuses it rather than set its sessions aside."""


def entry_key(case_id: str, samples: Any, repeats: Any) -> str:
    """Where a case's baseline for one workload is stored: "<case id>|samples=N|repeats=R"."""
    return f"{case_id}|samples={samples}|repeats={repeats}"


def key_of(entry: Mapping[str, Any]) -> str:
    """The key an entry belongs under, from its own case id and workload."""
    return entry_key(entry["case"]["id"], entry.get("samples"), entry.get("repeats"))


def parse(text: str, where: str, profile: Optional[Profile] = None) -> dict[str, dict[str, Any]]:
    """The entries of a baseline file's text (`where` names the file in errors); see validate."""
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
    """The entries of a parsed baseline document, keyed by case and workload (version 1 files
    re-keyed). Raises BaselineError for another schema or version, missing or malformed fields,
    a sample that is not a finite number, or (with `profile`) a file of another profile."""

    def fail(problem: str) -> BaselineError:
        return BaselineError(f"baseline file {where}: {problem}")

    if not isinstance(document, dict) or document.get("schema") != SCHEMA:
        raise fail(f'not a pytest-rnnbench baseline (expected "schema": "{SCHEMA}")')
    version = document.get("version")
    if isinstance(version, int) and version > max(READABLE_VERSIONS):
        raise BaselineNotOurs(
            f"baseline file {where}: format version {version} was written by a newer "
            f"pytest-rnnbench (this one reads versions {', '.join(map(str, READABLE_VERSIONS))})"
            "; upgrade pytest-rnnbench to use it"
        )
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
        raise BaselineNotOurs(
            f"baseline file {where}: {_other_profile(stored_profile, profile.to_dict())}"
        )
    entries = document.get("entries")
    if not isinstance(entries, dict):
        raise fail('missing or malformed "entries"')
    for key, entry in entries.items():
        _rename_old_metrics(entry)
        _validate_entry(key, entry, fail, keyed_by_workload=version != 1)
    if version == 1:
        # Version 1 keyed entries by case id alone: each is re-keyed by its own workload.
        return {key_of(entry): entry for entry in entries.values()}
    return entries


# Metric keys of files written before the metric registry named them for what they are.
OLD_METRIC_NAMES = {"epoch_time": "step_time"}


def _rename_old_metrics(entry: Any) -> None:
    """An entry's metrics under their current names (0.1 wrote the per-step time as
    "epoch_time"); rewritten under the new name at the next save."""
    metrics = entry.get("metrics") if isinstance(entry, dict) else None
    if isinstance(metrics, dict):
        for old, new in OLD_METRIC_NAMES.items():
            if old in metrics and new not in metrics:
                metrics[new] = metrics.pop(old)


def _other_profile(stored: Mapping[str, Any], here: Mapping[str, Any]) -> str:
    differ = sorted(k for k in set(stored) | set(here) if stored.get(k) != here.get(k))
    return (
        "recorded for another machine profile ("
        + ", ".join(f"{k}: {stored.get(k)!r} there, {here.get(k)!r} here" for k in differ)
        + ")"
    )


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
        if name not in METRICS:  # a later plugin's, within this version: ignored (formats.md)
            continue
        samples = metric.get("samples") if isinstance(metric, dict) else None
        if not isinstance(samples, list) or not samples:
            raise fail(f'entry {case_id!r}: metric {name!r} needs a non-empty "samples" list')
        for value in samples:
            if not _is_number(value):
                raise fail(
                    f"entry {case_id!r}: metric {name!r} has a sample {value!r} that is "
                    "not a finite number"
                )
            if name == "step_time" and not value > 0:  # an entry of format 1 or 2: its session
                raise fail(f"entry {case_id!r}: a step time of {value!r} ms is not positive")
    _validate_sessions(case_id, entry.get("sessions", []), fail)
    _validate_context(case_id, entry, fail)
    tolerances = entry.get("tolerances", {})
    if not isinstance(tolerances, dict):
        raise fail(f'entry {case_id!r}: "tolerances" must be an object')
    for key, value in tolerances.items():
        if key not in TOLERANCE_KEYS:
            raise fail(
                f"entry {case_id!r}: unknown tolerance {key!r}; known: {', '.join(TOLERANCE_KEYS)}"
            )
        try:
            tolerance_value(value)
        except ValueError as exc:
            raise fail(f"entry {case_id!r}: tolerance {key}={value!r}: {exc}") from None


def tolerance_value(value: Any) -> float:
    """An entry's tolerance, read as the options read theirs: 0.05 or "5%"; a bare 5 (500%?) is
    refused, as a number too."""
    if not isinstance(value, str) and not _is_number(value):
        raise ValueError("expected a fraction >= 0 such as 0.05, or a percentage such as 5%")
    return parse_fraction(value)


def _validate_sessions(case_id: str, sessions: Any, fail: Callable[[str], BaselineError]) -> None:
    if not isinstance(sessions, list):
        raise fail(f'entry {case_id!r}: "sessions" must be a list')
    for session in sessions:
        step_ms = session.get("step_ms") if isinstance(session, dict) else None
        if not (isinstance(step_ms, (int, float)) and _is_number(step_ms) and step_ms > 0):
            raise fail(f'entry {case_id!r}: a session needs a positive "step_ms"')
        workers = session.get("workers", 1)
        if not (isinstance(workers, int) and not isinstance(workers, bool) and workers > 0):
            raise fail(f'entry {case_id!r}: a session\'s "workers" must be a positive whole number')
        _validate_numbers(case_id, session, ("worker_step_ms",), fail)
        busy = session.get("busy_share")
        if busy is not None and not _is_number(busy):
            raise fail(f'entry {case_id!r}: a session\'s "busy_share" must be a finite number')
        if not isinstance(session.get("versions", {}), dict):
            raise fail(f'entry {case_id!r}: a session\'s "versions" must be an object')


def _validate_context(
    case_id: str, entry: dict[str, Any], fail: Callable[[str], BaselineError]
) -> None:
    """What the judge reads besides the samples: versions, and the figures it weighs them by."""
    if not isinstance(entry["versions"], dict):
        raise fail(f'entry {case_id!r}: "versions" must be an object')
    for key in ("samples", "repeats"):  # the workload: said back to the user, matched exactly
        value = entry.get(key)
        if value is not None and not (_is_number(value) and value > 0):
            raise fail(f'entry {case_id!r}: "{key}" must be a positive number, not {value!r}')
    _validate_numbers(case_id, entry, ("epoch_seconds", "cpu_busy_shares"), fail)


def _validate_numbers(
    case_id: str, table: dict[str, Any], keys: tuple[str, ...], fail: Callable[[str], BaselineError]
) -> None:
    for key in keys:
        values = table.get(key, [])
        if not isinstance(values, list) or not all(_is_number(v) for v in values):
            raise fail(f'entry {case_id!r}: "{key}" must be a list of finite numbers')


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
