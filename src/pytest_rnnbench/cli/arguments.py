"""argparse types that the commands share."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Optional

from ..metrics import parse_fraction
from ..options.parsers import false_alarm_rate


def fraction_argument(text: str) -> float:
    """argparse type of a fraction given as 0.05 or 5% (tolerances, minimum changes): the text
    that options, markers and every command read alike (metrics.parse_fraction)."""
    try:
        return parse_fraction(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def false_alarm_rate_argument(text: str) -> float:
    """argparse type of a false-alarm level, 0.01 or 1%, as --rnnbench-false-alarm-rate reads it."""
    try:
        return false_alarm_rate(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def cannot_write(path: Path) -> Optional[str]:
    """Why a command could not write its output file `path` (checked before long work), or None.
    Its missing directories are made when it is written, so the nearest one that exists must be
    a directory this user may write in."""
    if path.is_dir():
        return f"{path} is a directory"
    existing = path.parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"cannot write {path}: {existing} is not a directory"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"cannot write {path}: {existing} is not writable"
    return None
