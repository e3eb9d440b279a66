"""argparse types that the commands share."""

from __future__ import annotations

import argparse

from ..atomic import cannot_write
from ..metrics import parse_fraction
from ..options.parsers import false_alarm_rate

__all__ = ["cannot_write", "false_alarm_rate_argument", "fraction_argument"]


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
