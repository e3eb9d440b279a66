"""Student's t (the normal distribution where the spread was assumed, not estimated: infinite
degrees of freedom) for the process- and session-level tests. scipy is imported on use only."""

from __future__ import annotations

import math


def cdf(value: float, df: float) -> float:
    """P(T <= value) for Student's t with `df` degrees of freedom (normal when df is infinite)."""
    from scipy.stats import norm, t

    return float(norm.cdf(value) if math.isinf(df) else t.cdf(value, df))


def quantile(probability: float, df: float) -> float:
    """The inverse of cdf."""
    from scipy.stats import norm, t

    return float(norm.ppf(probability) if math.isinf(df) else t.ppf(probability, df))


def one_sided(difference: float, scale: float, df: float) -> tuple[float, float]:
    """(p that the truth is above zero, p that it is below) for `difference` with standard error
    `scale`; a zero scale (identical units) decides by the sign alone."""
    if scale == 0:
        return (0.0 if difference > 0 else 1.0), (0.0 if difference < 0 else 1.0)
    below = cdf(difference / scale, df)
    return 1 - below, below
