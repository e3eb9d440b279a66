"""Parsers of option values: text (or a list, or a bool from the command line) -> value, or a
ValueError whose message says what is accepted. resolve.py adds the option and where the value
came from; the same parser reads a value whatever its source.
"""

from __future__ import annotations

import contextvars
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Optional

from ..atomic import cannot_write, cannot_write_in
from ..backends import BACKENDS
from ..matrix import PRESETS
from ..metrics import parse_fraction
from ..settings import GPU_COUNTS_FOR_ALL, LIVE_PER_SIDE, THREAD_POOLS

__all__ = [
    "FULL_EPOCHS",
    "against",
    "as_list",
    "choices",
    "flag",
    "matrix",
    "output_file",
    "parse_fraction",
    "parse_gpus",
    "parse_size",
    "path",
    "plots_dir",
    "positive_float",
    "positive_int",
    "positive_ints",
    "pythons",
    "samples",
    "samples_cap",
    "slowdown",
    "text",
    "thread_pools",
    "unroll",
]


def _split(raw: str) -> list[str]:
    items = [item.strip() for item in raw.replace(" ", ",").split(",")]
    items = [item for item in items if item]
    if not items:
        raise ValueError("expected a comma-separated list, got nothing")
    return items


def choices(allowed: tuple[str, ...]) -> Callable[[str], tuple[str, ...]]:
    """A parser of comma-separated names out of `allowed`, case-insensitive, without repeats."""

    def parse(raw: str) -> tuple[str, ...]:
        items = [item.lower() for item in _split(raw)]
        unknown = [item for item in items if item not in allowed]
        if unknown:
            raise ValueError(f"unknown {', '.join(unknown)}; accepted: {', '.join(allowed)}")
        return tuple(dict.fromkeys(items))

    return parse


def _whole_number(raw: str, least: int, expected: str) -> int:
    """A whole number of at least `least`, else ValueError(`expected`)."""
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(expected) from None
    if value < least:
        raise ValueError(expected)
    return value


def positive_int(raw: str) -> int:
    """A whole number > 0."""
    return _whole_number(raw, 1, "expected a positive whole number")


def devices_to_simulate(raw: str) -> int:
    """A whole number >= 0: 0, the default, is off (and may be written out)."""
    return _whole_number(raw, 0, "expected a whole number (0: off)")


def thread_pools(raw: str) -> str:
    """One of THREAD_POOLS, case-insensitive."""
    value = str(raw).strip().lower()
    if value not in THREAD_POOLS:
        raise ValueError(f"expected one of {', '.join(THREAD_POOLS)}")
    return value


def workers_per_side(raw: str) -> dict[str, int]:
    """Live A/B workers per side: N for every backend ("*") and/or BACKEND=N, comma-separated
    ("3,torch=6"); see over_workers for the backends it does not name."""
    found: dict[str, int] = {}
    for item in _split(raw):
        backend, sep, count = item.rpartition("=")
        backend = backend.strip().lower() if sep else "*"
        if sep and backend not in BACKENDS:
            raise ValueError(
                f"{item!r}: unknown backend {backend!r}; accepted: {', '.join(BACKENDS)}"
            )
        try:
            found[backend] = positive_int(count)
        except ValueError:
            raise ValueError(
                f"{item!r}: expected N or BACKEND=N with N a positive whole number, "
                "for example 3 or 3,torch=6"
            ) from None
    return found


def over_workers(given: Mapping[str, int], default: Mapping[str, int]) -> dict[str, int]:
    """Workers per side as set over the default: an N for every backend replaces the default
    whole; BACKEND=N entries alone change only the backends they name."""
    return dict(given) if "*" in given else {**default, **given}


def format_workers(per_side: Mapping[str, int]) -> str:
    """The option's text for a workers_per_side mapping: "3,torch=6"."""
    named = [f"{backend}={count}" for backend, count in per_side.items() if backend != "*"]
    return ",".join([str(per_side.get("*", LIVE_PER_SIDE)), *named])


def positive_ints(raw: str) -> tuple[int, ...]:
    """Comma-separated whole numbers > 0, without repeats."""
    return tuple(dict.fromkeys(positive_int(item) for item in _split(raw)))


def positive_float(raw: str) -> float:
    """A finite number of seconds > 0."""
    try:
        value = float(raw)
    except ValueError:
        raise ValueError("expected a positive number of seconds") from None
    if not value > 0 or value == float("inf"):
        raise ValueError("expected a positive number of seconds")
    return value


def false_alarm_rate(raw: str) -> float:
    """A run's false-alarm level: a fraction (or percentage) above 0 and at most 50%."""
    value = parse_fraction(raw)
    if not 0 < value <= 0.5:
        raise ValueError("expected a level above 0 and at most 0.5, such as 0.01 or 1%")
    return value


FULL_EPOCHS = 0  # what `--rnnbench-samples=full` parses to: no cap


def samples(raw: str) -> int:
    """A cap of samples per epoch, or `full` (FULL_EPOCHS)."""
    if str(raw).strip().lower() in ("full", "all"):
        return FULL_EPOCHS
    try:
        return positive_int(raw)
    except ValueError:
        raise ValueError("expected a positive whole number, or full") from None


def samples_cap(raw: str) -> tuple[Optional[int], Optional[str]]:
    """The cap of samples per epoch and why epochs are capped (Settings.samples, samples_from):
    `full` lifts every cap, a preset's included."""
    cap = samples(raw)
    return (cap, "option") if cap else (None, None)


def unroll(raw: str) -> tuple[bool, ...]:
    """true, false or both."""
    value = raw.strip().lower()
    table = {"true": (True,), "false": (False,), "both": (True, False)}
    if value not in table:
        raise ValueError("accepted: true, false, both")
    return table[value]


def matrix(raw: str) -> str:
    """The name of a matrix preset."""
    value = raw.strip().lower()
    if value not in PRESETS:
        raise ValueError(f"accepted: {', '.join(PRESETS)}")
    return value


def parse_gpus(raw: str, available: int) -> tuple[int, ...]:
    """`0`, `4`, `0,1,4` or `all`.

    `all` is 0 plus the seed's 1/2/4/8 rows that fit, and the machine's own count.
    """
    if raw.strip().lower() == "all":
        counts = [0] + [n for n in GPU_COUNTS_FOR_ALL if n <= available]
        if available:
            counts.append(available)
        return tuple(sorted(set(counts)))
    counts = []
    for item in _split(raw):
        try:
            count = int(item)
        except ValueError:
            raise ValueError("expected GPU counts such as 0, 4, 0,1,4, or all") from None
        if count < 0:
            raise ValueError("GPU counts cannot be negative; expected 0, 4, 0,1,4, or all")
        counts.append(count)
    return tuple(dict.fromkeys(counts))


def pythons(raw: Any, base: Path, bare: bool = False) -> dict[str, str]:
    """BACKEND=PATH entries; a PATH with a slash is taken relative to `base`, a bare name from PATH.

    With `bare`, a PATH alone stands for every backend (key "*").
    """
    found: dict[str, str] = {}
    for entry in as_list(raw):
        backend, sep, where = entry.partition("=")
        if bare and not sep:
            backend, where = "*", entry
        backend = backend.strip().lower()
        if not where.strip() or (not sep and not bare):
            example = "PATH or BACKEND=PATH" if bare else "BACKEND=PATH"
            raise ValueError(
                f"{entry!r}: expected {example}, for example mxnet=.venv-mxnet/bin/python"
            )
        if backend not in BACKENDS and not (bare and backend == "*"):  # "*=": only where a PATH
            # alone is taken; elsewhere the entry was kept and never used
            raise ValueError(
                f"{entry!r}: unknown backend {backend!r}; accepted: {', '.join(BACKENDS)}"
            )
        where = os.path.expanduser(where.strip())
        # abspath, not resolve(): a venv interpreter is a symlink, and resolving it leaves the venv.
        found[backend] = os.path.abspath(os.path.join(base, where)) if os.sep in where else where
    return found


def against(raw: Any, base: Path) -> dict[str, str]:
    """The live A/B reference: PATH (every backend) or BACKEND=PATH entries."""
    return pythons(raw, base, bare=True)


_SIZE_UNITS = {"": 2**20, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}


def parse_size(raw: str) -> int:
    """4G, 512M, 1.5g, 800 (MiB) -> bytes."""
    value = str(raw).strip().lower().removesuffix("ib").removesuffix("b")
    unit = value[-1:] if value[-1:] in _SIZE_UNITS and value[-1:] else ""
    number = value[: len(value) - len(unit)].strip()
    try:
        size = float(number) * _SIZE_UNITS[unit]
    except ValueError:
        raise ValueError("expected a size such as 4G, 512M or 800 (MiB)") from None
    if not size >= 2**20 or size == float("inf"):
        raise ValueError("expected a size of at least 1M, such as 4G, 512M or 800 (MiB)")
    return int(size)


def as_list(raw: Any) -> list[str]:
    """An appended option's entries: a list from the command line, or ini/env text with the
    entries on lines of their own or separated by ";"."""
    if isinstance(raw, str):
        return [item for item in raw.replace(";", "\n").splitlines() if item.strip()]
    return list(raw)


def flag(raw: Any) -> bool:
    """A switch: True from the command line, or 1/true/yes/on, 0/false/no/off as text."""
    if isinstance(raw, bool):
        return raw
    value = str(raw).strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("accepted: 1, true, yes, on, 0, false, no, off")


def path(raw: str, base: Path) -> Path:
    """An absolute path; a relative one is taken from `base` (where the value was given)."""
    if not str(raw).strip():
        raise ValueError("expected a path")
    return Path(os.path.abspath(os.path.join(base, os.path.expanduser(str(raw).strip()))))


# Whether parsers check this machine (a writable output, matplotlib present): only for a run
# that benchmarks. A project's plain test runs read the same ini file and environment, and must
# not fail for an output they will never write (resolve.py sets it).
CHECK_MACHINE: contextvars.ContextVar[bool] = contextvars.ContextVar("check_machine", default=True)


def output_file(raw: str, base: Path) -> Path:
    """A file the run writes (results, report, comment): refused before any test when it could
    not be written, rather than after an hour of benchmarks."""
    found = path(raw, base)
    problem = cannot_write(found) if CHECK_MACHINE.get() else None
    if problem:
        raise ValueError(problem)
    return found


def plots_dir(raw: str, base: Path) -> Path:
    """The charts' directory; refused when matplotlib is missing or it could not be written."""
    # Checked before any test runs: finding out after an hour of benchmarks helps nobody.
    from ..report.outputs import plots_available  # imported late: reports are not needed to parse

    found = path(raw, base)
    if not CHECK_MACHINE.get():
        return found
    if not plots_available():
        raise ValueError("charts need matplotlib: pip install 'pytest-rnnbench[plots]'")
    problem = cannot_write_in(found)
    if problem:
        raise ValueError(problem)
    return found


def slowdown(raw: Any) -> float:
    """The factor that --rnnbench-inject-slowdown stretches steps by: 1 to 10."""
    try:
        value = float(str(raw).strip())
    except ValueError:
        raise ValueError("expected a factor >= 1 such as 1.10") from None
    if not 1.0 <= value <= 10.0:
        raise ValueError("expected a factor between 1 and 10 such as 1.10")
    return value


def text(raw: Any) -> str:
    """Any non-empty text, stripped."""
    value = str(raw).strip()
    if not value:
        raise ValueError("expected a value")
    return value
