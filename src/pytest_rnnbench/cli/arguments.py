"""argparse types that the commands share."""

from __future__ import annotations

import argparse

from ..metrics import parse_fraction


def fraction_argument(text: str) -> float:
    """argparse type of a fraction given as 0.05 or 5% (tolerances, minimum changes): the text
    that options, markers and every command read alike (metrics.parse_fraction)."""
    try:
        return parse_fraction(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
