"""Medians and quantiles, computed one way everywhere (reports, baselines, verdicts).

Quantiles interpolate linearly between the closest ranks (numpy's default method); the median of
an even count is the mean of the middle two (statistics.median), never one of them. Plain floats
in, no numpy: the controller must stay light.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def quantile(values: Sequence[float], q: float) -> float:
    """The q-quantile (0 <= q <= 1) of a non-empty sequence, linearly interpolated."""
    if not values:
        raise ValueError("quantile of no values")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def median(values: Sequence[float]) -> float:
    """The median of a non-empty sequence (the mean of the middle two for an even count)."""
    if not values:
        raise ValueError("median of no values")
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2
