"""Stored baselines: one JSON file per machine profile (profile.py), one entry per case and
workload, in the format of baseline_schema.py. No pytest import.

An entry is keyed by its case *and its workload* (samples per epoch, timed epochs): a quick run
with `--rnnbench-samples=4096` and a full-epoch run of the same case are different measurements,
and recording one must not overwrite the other.

Saving merges under an exclusive lock (fcntl.flock on a lock file beside the baseline) and
replaces the file atomically (write a temporary file, fsync, os.replace), so concurrent writers
(pytest-xdist workers, two runs) lose nothing and readers never see half a file.
"""

from __future__ import annotations

import contextlib
import datetime
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from ..atomic import write_json
from ..quantiles import median, quantile
from ..run.trees import git_or_none
from .baseline_schema import (
    ENTRY_FIELDS,
    READABLE_VERSIONS,
    SCHEMA,
    VERSION,
    BaselineError,
    BaselineNotOurs,
    entry_key,
    key_of,
    parse,
    tolerance_value,
    validate,
)
from .profile import Profile, baseline_path, machine_profile, other_profiles
from .records import METRICS, TOLERANCE_KEYS
from .samples import busy_shares, comparable, thread_pools_of, worker_step_ms
from .session_level import WINDOW, session_summary

# The store's callers find the format's and the profile's names here too, as before the split.
__all__ = [
    "ENTRY_FIELDS",
    "READABLE_VERSIONS",
    "SCHEMA",
    "VERSION",
    "BaselineError",
    "BaselineNotOurs",
    "Profile",
    "SaveReport",
    "baseline_path",
    "describe_workload",
    "entries_of_case",
    "entry_key",
    "entry_samples",
    "entry_sessions",
    "entry_tolerances",
    "find",
    "git_commit",
    "key_of",
    "load",
    "locked",
    "machine_profile",
    "make_entry",
    "other_profiles",
    "parse",
    "save",
    "session_step_ms",
    "validate",
]


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
    except OSError as exc:  # a directory, no permission: not broken, not ours to replace
        raise BaselineNotOurs(f"baseline file {path}: cannot read it: {exc}") from None
    except UnicodeDecodeError as exc:
        raise BaselineError(f"baseline file {path}: cannot read it: {exc}") from None
    return parse(text, str(path), profile)


def entry_samples(entry: Mapping[str, Any]) -> dict[str, list[float]]:
    """{metric name: samples} of a baseline entry."""
    return {
        name: list(metric["samples"])
        for name, metric in entry["metrics"].items()
        if name in METRICS  # not a later plugin's metric, which this one cannot judge
    }


def entry_tolerances(entry: Mapping[str, Any]) -> dict[str, float]:
    """{metric name: fraction} from the entry's optional "tolerances"."""
    return {
        TOLERANCE_KEYS[key]: tolerance_value(value)
        for key, value in (entry.get("tolerances") or {}).items()
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
    recorded_at = recorded or datetime.datetime.now(datetime.timezone.utc).isoformat(
        timespec="seconds"
    )
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
        "recorded": recorded_at,
        "commit": commit,
        "versions": dict(result.get("versions") or {}),
        "python": (result.get("python") or {}).get("version"),
        "samples": result.get("samples"),
        "steps_per_epoch": result.get("steps_per_epoch"),
        "repeats": result.get("repeats"),
        "epoch_seconds": [_round(e["seconds"]) for e in result.get("epochs") or []],
        "cpu_busy_shares": [_round(v) for v in busy_shares(result)],
        # The LSTM path the worker observed (None where it could not): a later run that takes
        # another path is a finding whatever its timing says.
        "lstm_kernel": (result.get("run") or {}).get("lstm_kernel"),
        "thread_pools": thread_pools_of(result),
        "metrics": metrics,
        "sessions": result_sessions(result, recorded_at, commit),
    }


def result_sessions(
    result: Mapping[str, Any], recorded: str = "", commit: Optional[str] = None
) -> list[dict[str, Any]]:
    """A worker result as the one session it is (its worker processes' step times, its busy
    share), as a baseline entry records it; none without step times."""
    workers = worker_step_ms(result)
    return [_session_record(recorded, commit, result, workers)] if workers else []


def session_step_ms(worker_ms: Sequence[float]) -> float:
    """A session's one step time (ms): the geometric mean of its worker processes' step times
    (session_level.session_summary; with one worker, that worker's)."""
    return _round(math.exp(session_summary(worker_ms)))


def _session_record(
    recorded: str, commit: Optional[str], result: Mapping[str, Any], worker_ms: Sequence[float]
) -> dict[str, Any]:
    record = {
        "recorded": recorded,
        "commit": commit,
        "versions": dict(result.get("versions") or {}),
        "step_ms": session_step_ms(worker_ms),
        "workers": len(worker_ms),
        "worker_step_ms": [_round(v) for v in worker_ms],
    }
    shares = busy_shares(result)
    if shares:  # the most of the CPU other processes took in one of its epochs
        record["busy_share"] = _round(max(shares))
    return record


def entry_sessions(entry: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The entry's sessions, oldest first; an entry of format 1 or 2 is one session, its own."""
    if "sessions" in entry:
        return [dict(session) for session in entry["sessions"]]
    steps = ((entry.get("metrics") or {}).get("step_time") or {}).get("samples") or []
    if not steps:
        return []
    return [_session_record(entry.get("recorded", ""), entry.get("commit"), entry, [median(steps)])]


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
        before = old["metrics"]["step_time"]["median"]
        after = new["metrics"]["step_time"]["median"]
        change = (after / before - 1) * 100
        return f"{case_id}: median step {before:.4g} -> {after:.4g} ms ({change:+.1f}%)"
    except (KeyError, TypeError, ZeroDivisionError):
        return case_id


def _merged_entry(
    old: Optional[Mapping[str, Any]], new: Mapping[str, Any], reset: bool, report: SaveReport
) -> dict[str, Any]:
    """`new` as saved over `old` (None: no entry yet), said in `report` (see `save`)."""
    entry = dict(new)
    if old is not None and "tolerances" in old and "tolerances" not in entry:
        entry["tolerances"] = old["tolerances"]
    # Sessions of another setup (thread pools, steps per epoch) are not this one's history:
    # kept, they would pass the workload check and mix two machines' speeds.
    other_setup = comparable(old, entry) if old is not None else None
    if old is not None and not reset and other_setup is None:
        sessions = entry_sessions(old) + list(entry.get("sessions") or [])
        entry["sessions"] = sessions[-WINDOW:]
    shown = f"{entry['case']['id']} ({describe_workload(entry)})"
    if old is None:
        report.added.append(shown)
        return entry
    update = _describe_update(shown, old, entry)
    if other_setup:
        update += f"; sessions started afresh: {other_setup.split(' (')[0]}"
    elif reset:
        update += f"; sessions started afresh (reset): {len(entry_sessions(old))} stored dropped"
    report.updated.append(update)
    return entry


def save(
    path: Path,
    profile: Profile,
    new_entries: Mapping[str, Mapping[str, Any]],
    reset: bool = False,
) -> SaveReport:
    """Merge `new_entries` (keyed by `key_of`) into the baseline file at `path`; say what changed.

    Entries of cases not in `new_entries` are kept. An updated entry keeps the old entry's
    "tolerances" (reviewed settings, not measurements) unless the new one brings its own, and its
    sessions, to which the new one's is added (the latest WINDOW kept); `reset` starts them
    afresh with the new session. A broken file (not JSON, malformed) is never overwritten: it is
    renamed aside (FILE.broken-TIMESTAMP-PID) and the report says so. One that is not broken but
    not ours (BaselineNotOurs: a newer format, another profile, unreadable) raises, untouched.
    """
    path = Path(path)
    report = SaveReport(path=path)
    with locked(path):
        try:
            entries = load(path, profile) or {}
        except BaselineNotOurs:
            raise
        except BaselineError as exc:
            stamp = datetime.datetime.now().strftime("%Y%m%dT%H%M%S")
            aside = path.with_name(f"{path.name}.broken-{stamp}-{os.getpid()}")
            os.replace(path, aside)
            report.moved_aside, report.problem = aside, str(exc)
            entries = {}
        merged = dict(entries)
        for key, entry in new_entries.items():
            merged[key] = _merged_entry(entries.get(key), entry, reset, report)
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
