"""Exact (Clopper-Pearson) bounds of a rate seen `hits` times in `trials`, for the calibration
scripts: a count of false alarms is reported with its 95% upper bound, a count of detections with
its 95% lower bound, so a small number of trials cannot pass for a strong claim."""

from __future__ import annotations


def upper_bound(hits: int, trials: int, level: float = 0.95) -> float:
    """The one-sided upper bound: the true rate is below it with probability `level`."""
    from scipy.stats import beta

    return 1.0 if hits >= trials else float(beta.ppf(level, hits + 1, trials - hits))


def lower_bound(hits: int, trials: int, level: float = 0.95) -> float:
    """The one-sided lower bound: the true rate is above it with probability `level`."""
    from scipy.stats import beta

    return 0.0 if hits <= 0 else float(beta.ppf(1 - level, hits, trials - hits + 1))


def bound_text(hits: int, trials: int, detection: bool) -> str:
    """ "95% upper bound 9.5%" for a count of false alarms, "95% lower bound 85.1%" for one of
    detections (`detection`: the arm's change is real)."""
    if detection:
        return f"95% lower bound {lower_bound(hits, trials):.1%}"
    return f"95% upper bound {upper_bound(hits, trials):.1%}"
