"""The error rate of a whole run: the cases judged together are one family.

A run that judges m cases at a per-case level alpha calls at least one false regression on a
no-op change with probability up to m * alpha. Users meet the run (a pull request's gate, a whole
`pytest --rnnbench`), not the case, so the level a run promises is per run: each case is judged at
`family_alpha / m` (Bonferroni). Holm's step-down procedure holds the same family-wise level with a
little more power, but it needs every p-value before it can decide any case; a case's test item
here fails when that case is measured (and under pytest-xdist on another process), so the
single-step rule, which decides each case on its own, is the one that fits. With one truly
changed case among m, Holm and Bonferroni decide that case identically.

Plain numbers, no pytest, no scipy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

DEFAULT_FAMILY_ALPHA = 0.01


def per_case_alpha(family_alpha: float, cases: int) -> float:
    """The level each of `cases` cases is judged at so that the run holds `family_alpha`."""
    if not 0 < family_alpha < 1:
        raise ValueError(f"the family's alpha must be between 0 and 1, got {family_alpha!r}")
    if cases < 1:
        raise ValueError(f"a family has at least one case, got {cases!r}")
    return family_alpha / cases


@dataclass
class RunFamily:
    """A judge's family: the run's false-alarm rate and, once collected, its number of cases."""

    false_alarm_rate: float
    cases: int = 1

    def collected(self, cases: int) -> None:
        self.cases = max(1, cases)

    @property
    def alpha(self) -> float:
        """The level each case is judged at."""
        return per_case_alpha(self.false_alarm_rate, self.cases)

    def to_dict(self) -> dict[str, Any]:
        """What a results file records beside each verdict."""
        return {"false_alarm_rate": self.false_alarm_rate, "cases": self.cases}


def holm_rejections(p_values: Sequence[float], family_alpha: float) -> list[bool]:
    """Holm's step-down decisions for p-values known together (offline re-judging, calibration).

    The i-th smallest p-value is compared with alpha / (m - i); the first that fails stops the
    procedure. Returns one decision per p-value, in the input order.
    """
    if not 0 < family_alpha < 1:
        raise ValueError(f"the family's alpha must be between 0 and 1, got {family_alpha!r}")
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    decisions = [False] * len(p_values)
    m = len(p_values)
    for rank, index in enumerate(order):
        if p_values[index] >= family_alpha / (m - rank):
            break
        decisions[index] = True
    return decisions


def family_line(family_alpha: float, cases: int) -> str:
    """What a run's header or comment says about the level it holds."""
    case_word = "case" if cases == 1 else "cases"
    return (
        f"false-alarm level {family_alpha * 100:g}% for the whole run: each of its {cases} "
        f"{case_word} is judged at {per_case_alpha(family_alpha, cases):.2g} (Bonferroni)"
    )
