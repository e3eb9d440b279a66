"""Whether the machine itself ran at another speed than when the stored sessions were recorded,
and what that does to a stored time verdict. No pytest.

A stored baseline compares a run with sessions recorded earlier, so a host that slowed in between
(a VM's neighbours, invisible to the guest: no other process, no steal time) looks like a
regression: 3 of 96 unchanged runs failed that way here (docs/calibration.md, stored baselines).
Every stored session and judged run keeps its workers' machine-speed probe (the same fixed loop on
every CPU: run/worker/rnnbench_worker_probe.py). The time is then judged twice: as measured, and
with this run's step times divided by the machine's change of speed since the stored sessions.
When the two verdicts differ, the machine decided it, not the code: the verdict is inconclusive,
with both. The probe is used only to distrust, never to make a verdict, so a probe that tracks
the training loop's speed imperfectly can cost a verdict, not make a false one; a change of speed
too small to move the verdict changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

from ..quantiles import median
from .records import MetricVerdict


def machine_speed_change(
    stored_probe_ms: Sequence[Optional[float]], now_probe_ms: Sequence[float]
) -> Optional[float]:
    """How much slower (> 0) or faster (< 0) this run's machine was than the stored sessions':
    the median of this run's worker probes over the median of the sessions' probes, less 1; or
    None when this run or none of the stored sessions has a probe (recorded before it existed).
    Medians: one worker's probe can meet a framework thread still spinning (session_probe_ms)."""
    stored = [ms for ms in stored_probe_ms if ms]
    if not stored or not now_probe_ms:
        return None
    return median(now_probe_ms) / median(stored) - 1.0


def machine_speed_reason(measured: MetricVerdict, allowing: MetricVerdict, change: float) -> str:
    """Why the `measured` stored time verdict cannot be trusted because the machine ran `change`
    slower (> 0) or faster than when the stored sessions were recorded, and `allowing` for that
    the verdict differs; or "" when both verdicts are the same."""
    if measured.outcome == allowing.outcome:
        return ""
    return (
        f"the machine ran {abs(change):.0%} {'slower' if change > 0 else 'faster'} than when "
        f"the stored sessions were recorded (its speed probe), and allowing for that the time is "
        f"{allowing.outcome} ({allowing.change:+.1%}): rerun when its speed is back, or judge "
        "against a live reference"
    )
