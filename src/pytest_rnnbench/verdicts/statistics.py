"""The significance tests and estimates behind a verdict. Plain numbers in and out; no pytest.

scipy is imported inside the functions that test significance, so a plugin load (or
`pytest --co`) never pays for it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..quantiles import median

UNPAIRED_TEST = "Mann-Whitney"
PAIRED_TEST = "Wilcoxon signed-rank, paired"


def one_sided_p(now: Sequence[float], baseline: Sequence[float], greater: bool) -> float:
    """p-value that `now` tends to be larger (greater=True) or smaller than `baseline`."""
    from scipy.stats import mannwhitneyu

    result = mannwhitneyu(list(now), list(baseline), alternative="greater" if greater else "less")
    p = float(result.pvalue)
    return 1.0 if math.isnan(p) else p  # all values tied: no evidence either way


def paired_log_ratios(now: Sequence[float], baseline: Sequence[float]) -> list[float]:
    """log(now_i / baseline_i) for each pair."""
    return [math.log(c / b) for c, b in zip(now, baseline)]


def hodges_lehmann(values: Sequence[float]) -> float:
    """The median of all pairwise averages (Walsh averages): the Wilcoxon test's own estimate."""
    walsh = [(values[i] + values[j]) / 2 for i in range(len(values)) for j in range(i, len(values))]
    return float(median(walsh))


def paired_one_sided_p(now: Sequence[float], baseline: Sequence[float], greater: bool) -> float:
    """p-value that `now` is larger (greater=True) or smaller than its paired `baseline`."""
    from scipy.stats import wilcoxon

    ratios = paired_log_ratios(now, baseline)
    if all(r == 0 for r in ratios):
        return 1.0  # identical pairs: no evidence either way
    result = wilcoxon(ratios, alternative="greater" if greater else "less")
    p = float(result.pvalue)
    return 1.0 if math.isnan(p) else p


def spread(values: Sequence[float]) -> str:
    """ "-3%..+8%": the p10 and p90 of `values` relative to their median, or "n/a"."""
    if len(values) < 2:
        return "n/a"
    ordered = sorted(values)
    lo = ordered[int(0.1 * (len(ordered) - 1))]
    hi = ordered[int(math.ceil(0.9 * (len(ordered) - 1)))]
    mid = float(median(values))
    return f"{(lo / mid - 1) * 100:+.0f}%..{(hi / mid - 1) * 100:+.0f}%" if mid > 0 else "n/a"
