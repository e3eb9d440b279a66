"""What the user typed: the flags of their own command line (not `addopts` or PYTEST_ADDOPTS),
and the part of it that a suggested command repeats."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Optional

import pytest

from .table import BY_DEST, OPTIONS

__all__ = ["first_on_command_line", "rerun_selection", "typed", "typed_args", "typed_flags"]


def first_on_command_line(config: pytest.Config) -> Optional[str]:
    """The first option of ours that the user typed, as they spelled its flag. Only the typed
    arguments count: `addopts` and PYTEST_ADDOPTS configure a project's every run (its unit tests
    too) and must not turn them into benchmark runs."""
    ours = {flag for option in OPTIONS if option.dest != "rnnbench" for flag in option.flags}
    return next((flag for flag in typed_flags(config) if flag in ours), None)


def typed(config: pytest.Config, dest: str) -> bool:
    """Whether the user typed option `dest` on the command line."""
    return any(flag in BY_DEST[dest].flags for flag in typed_flags(config))


def typed_flags(config: pytest.Config) -> list[str]:
    """The flags of the arguments the user typed, in order, without their values."""
    return [arg.split("=", 1)[0] for arg in typed_args(config)]


def typed_args(config: pytest.Config) -> list[str]:
    """The arguments the user typed, with each `@FILE` replaced by the arguments it holds (one a
    line, as pytest reads it): `pytest @ci.args` typed whatever ci.args holds."""
    return _expanded(config.invocation_params.args, config.invocation_params.dir, depth=0)


def _expanded(args: Sequence[str], where: Path, depth: int) -> list[str]:
    out: list[str] = []
    for arg in args:
        path = where / arg[1:] if arg.startswith("@") else None
        if path is None or depth > 8 or not path.is_file():
            out.append(arg)  # not a file of arguments (pytest then says what is wrong)
            continue
        try:
            lines = path.read_text().splitlines()
        except (OSError, UnicodeDecodeError):
            out.append(arg)
            continue
        out.extend(_expanded(lines, where, depth + 1))
    return out


# What a suggested command (e.g. the one that records a missing baseline) leaves out of the
# user's own command line: where this run wrote its outputs, and how it was judged. Everything
# else, the selection above all (-m, paths, backends, samples...), is kept; -k is kept apart
# because a hint about some cases replaces it with theirs.
_NOT_REPEATED = frozenset(
    {
        "rnnbench_json",
        "rnnbench_report",
        "rnnbench_plots",
        "rnnbench_benchmark_json",
        "rnnbench_comment",
        "rnnbench_against",
        "rnnbench_against_workers",
        "rnnbench_turn_steps",
        "rnnbench_base",
        "rnnbench_head",
        "rnnbench_inject_slowdown",
        "rnnbench_save_baseline",
        "rnnbench_require_baseline",
        "rnnbench_workers",  # a save takes its own default (several workers), a check its own
    }
)


# pytest's own flags that a suggested command must not repeat: it is meant to run the cases.
_PYTEST_NOT_REPEATED = frozenset({"--co", "--collect-only"})


def rerun_selection(args: Sequence[str]) -> tuple[tuple[str, ...], Optional[str]]:
    """The user's arguments minus _NOT_REPEATED options and -k, and the -k expression (or None)."""
    takes_value = {
        flag: option.action != "store_true" for option in OPTIONS for flag in option.flags
    }
    dropped = {flag for option in OPTIONS if option.dest in _NOT_REPEATED for flag in option.flags}
    kept: list[str] = []
    keyword = None
    items = iter(args)
    for arg in items:
        flag, has_value, _ = arg.partition("=")
        if arg == "-k":
            keyword = next(items, None)
        elif arg.startswith("-k") and not arg.startswith("--"):
            keyword = arg[2:].removeprefix("=")  # pytest reads -k=expr as expr
        elif arg in _PYTEST_NOT_REPEATED:
            continue
        elif flag in dropped:
            if not has_value and takes_value[flag]:
                next(items, None)
        else:
            kept.append(arg)
    return tuple(kept), keyword
