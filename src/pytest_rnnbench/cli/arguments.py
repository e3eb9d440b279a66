"""argparse types that the commands share."""

from __future__ import annotations

import argparse

from ..verdicts.verdict import parse_tolerance


def fraction_argument(text: str) -> float:
    """argparse type of a fraction given as 0.05 or 5% (tolerances, minimum changes): the text
    that options, markers and every command read alike (verdict.parse_tolerance)."""
    try:
        return parse_tolerance(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
