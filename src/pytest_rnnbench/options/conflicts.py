"""Options that cannot go together, as data: each row names Settings fields and the message, with
its fix, that stops the run before collection. A field counts as set when it differs from its
Settings default (a flag on, a path given, an interpreter named, a slowdown injected)."""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import pytest

from ..settings import Settings
from .command_line import typed
from .table import BY_DEST

__all__ = [
    "CONFLICTS",
    "YIELDS",
    "Conflict",
    "check",
    "is_set",
    "refuse_typed_live_only",
    "yield_to_typed",
]


@dataclass(frozen=True)
class Conflict:
    """Fires when every field of `together` is set and none of `without`."""

    together: tuple[str, ...]
    message: str
    without: tuple[str, ...] = ()


_LIVE_NOT_BASELINES = (
    "--rnnbench-require-baseline with a live comparison (--rnnbench-against or "
    "--rnnbench-base): live cases are judged against their reference, not baselines; "
    "drop one of them"
)


_LIVE_WORKERS = (
    "--rnnbench-workers with a live comparison (--rnnbench-against or --rnnbench-base): its "
    "workers per side are --rnnbench-against-workers; drop one of them"
)


def _gate_conflicts(field: str, flag: str) -> tuple[Conflict, ...]:
    """The pull-request gate's base (a ref or a directory, `flag`) against the other modes."""
    return (
        Conflict(
            (field, "against"),
            f"{flag} with --rnnbench-against: the gate compares two Keras trees in one "
            "interpreter, --rnnbench-against two interpreters; drop one of them",
        ),
        Conflict(
            (field, "save_baseline"),
            f"--rnnbench-save-baseline with {flag}: the pull-request gate compares two "
            "trees and records nothing; drop one of them",
        ),
        Conflict(
            (field, "preallocate"),
            f"--rnnbench-preallocate with {flag}: every worker of a gated case shares "
            "the case's GPUs, and each would grab most of their memory; drop one of them",
        ),
        Conflict(("require_baseline", field), _LIVE_NOT_BASELINES),
        Conflict(("workers", field), _LIVE_WORKERS),
    )


# In the order they are checked: the first that fires is the one reported.
CONFLICTS = (
    Conflict(
        ("save_baseline", "require_baseline"),
        "--rnnbench-save-baseline with --rnnbench-require-baseline: a run that records "
        "baselines judges nothing; drop one of them",
    ),
    Conflict(
        ("reset_baseline",),
        "--rnnbench-reset-baseline starts the stored sessions of the cases it saves afresh: "
        "it needs --rnnbench-save-baseline",
        ("save_baseline",),
    ),
    Conflict(
        ("save_baseline", "inject_slowdown"),
        "--rnnbench-save-baseline with --rnnbench-inject-slowdown would record an injected "
        "slowdown as the baseline; drop one of them",
    ),
    Conflict(
        ("against", "save_baseline"),
        "--rnnbench-save-baseline with --rnnbench-against: a live A/B run compares two "
        "interpreters and records nothing; drop one of them",
    ),
    Conflict(
        ("against", "preallocate"),
        "--rnnbench-preallocate with --rnnbench-against: every worker of a live A/B case "
        "shares the case's GPUs, and each would grab most of their memory; drop one of them",
    ),
    # The pull-request gate's options against the others.
    Conflict(
        ("head",),
        "--rnnbench-head needs --rnnbench-base (the tree to compare with)",
        ("base", "base_dir"),
    ),
    Conflict(
        ("base", "base_dir"),
        "--rnnbench-base (a git ref) with --rnnbench-base-dir (a directory): drop one of them",
    ),
    *_gate_conflicts("base", "--rnnbench-base"),
    *_gate_conflicts("base_dir", "--rnnbench-base-dir"),
    Conflict(("require_baseline", "against"), _LIVE_NOT_BASELINES),
    Conflict(("workers", "against"), _LIVE_WORKERS),
)

# (typed option, option it overrides): when the user types the first, the second, set in the ini
# file or the environment but not typed, is off. A CI setting (ini or environment) asks for
# baselines; typing --rnnbench-save-baseline is how one records them (the hint says so), not a
# contradiction to refuse. Likewise a typed live comparison (the gate's --rnnbench-base among
# them): it judges against its reference, so a configured demand for baselines or a configured
# number of fresh workers does not concern it.
_LIVE = ("rnnbench_against", "rnnbench_base", "rnnbench_base_dir")
YIELDS = (
    ("rnnbench_save_baseline", "rnnbench_require_baseline"),
    *(
        (live, loser)
        for live in _LIVE
        for loser in ("rnnbench_require_baseline", "rnnbench_workers")
    ),
)

_DEFAULTS = Settings()


def is_set(settings: Settings, field: str) -> bool:
    """Whether `field` differs from its Settings default."""
    value: Any = getattr(settings, field)
    return bool(value != getattr(_DEFAULTS, field))


def check(settings: Settings, origins: Optional[Mapping[str, str]] = None) -> None:
    """Raise pytest.UsageError with the message of the first conflict that fires, and where each
    of its values was set (`origins`: Settings field -> its source, where known): a flag the
    user never typed, from the environment or the ini file, must be findable."""
    origins = origins or {}
    for conflict in CONFLICTS:
        if all(is_set(settings, field) for field in conflict.together) and not any(
            is_set(settings, field) for field in conflict.without
        ):
            named = [origins[field] for field in conflict.together if field in origins]
            where = f" (set by: {'; '.join(named)})" if named else ""
            raise pytest.UsageError(conflict.message + where)
    shared = shared_output(settings)
    if shared:
        raise pytest.UsageError(shared)


def shared_output(settings: Settings) -> Optional[str]:
    """Two outputs given one path: the later written replaces the earlier, found only when the
    results file turns out to hold a pytest-benchmark export after an hour's run."""
    from ..report.outputs import OUTPUTS  # a benchmarking run's: a plain run loads no reports

    outputs = [("json_path", "--rnnbench-json")]
    outputs += [(o.settings_field, o.option) for o in OUTPUTS if o.settings_field and o.option]
    seen: dict[Path, str] = {}
    for field, flag in outputs:
        value = getattr(settings, field)
        if value is None:
            continue
        where = Path(value).resolve()
        if where in seen:
            return (
                f"{seen[where]} and {flag} are both {value}: one would replace the other; give "
                "each its own path"
            )
        seen[where] = flag
    return None


def yield_to_typed(values: MutableMapping[str, Any], config: pytest.Config) -> None:
    """Turn off (back to its default) every option that a typed option overrides (YIELDS)."""
    for winner, loser in YIELDS:
        if typed(config, winner) and not typed(config, loser):
            for field in BY_DEST[loser].fields:
                values[field] = getattr(_DEFAULTS, field)


# A live comparison's own options: typed in a run without one, they would change nothing (a
# user asking a stored-baseline run for more workers means --rnnbench-workers). Set in the ini
# file or the environment, they configure live runs and wait for one.
LIVE_ONLY = ("rnnbench_against_workers", "rnnbench_turn_steps")
LIVE_FIELDS = ("against", "base", "base_dir")


def refuse_typed_live_only(settings: Settings, config: pytest.Config) -> None:
    """pytest.UsageError for a live comparison's option typed in a run that has none."""
    if any(is_set(settings, field) for field in LIVE_FIELDS):
        return
    for dest in LIVE_ONLY:
        if typed(config, dest):
            raise pytest.UsageError(
                f"{BY_DEST[dest].flag} concerns a live comparison (--rnnbench-against or "
                "--rnnbench-base), which this run has not: it would change nothing; drop it"
                + (" (fresh workers per case: --rnnbench-workers)" if "workers" in dest else "")
            )
