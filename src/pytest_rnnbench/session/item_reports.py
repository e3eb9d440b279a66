"""What a benchmark item's test report says of its case: the case id, what failed it, why it
was skipped (the session's record of the run, and its results file, keep these)."""

from __future__ import annotations

from typing import Optional

import pytest

__all__ = ["case_id_of", "failure_cause", "skip_reason"]


def case_id_of(nodeid: str) -> Optional[str]:
    """The case id of a benchmark item's node id (its parameter id is the case id), else None."""
    if not nodeid.endswith("]") or "[" not in nodeid:
        return None
    return nodeid[nodeid.rindex("[") + 1 : -1]


def failure_cause(report: pytest.TestReport) -> str:
    """The first line of what failed a test: its exception's message (a pytest.fail's text)."""
    crash = getattr(report.longrepr, "reprcrash", None)
    text = getattr(crash, "message", None) or report.longreprtext or "the test failed"
    lines = text.strip().splitlines()
    if report.when not in ("setup", "call", "teardown"):
        # pytest-xdist's report of a worker that died ("???"): its text opens with the worker's
        # platform line, and says "worker 'gw1' crashed while running '...'" after it.
        said = [line.strip() for line in lines if "crashed" in line]
        return said[0] if said else "its pytest-xdist worker crashed"
    first = (lines[0] if lines else "the test failed").removeprefix("Failed: ")  # pytest.fail's
    return first if report.when == "call" else f"in its {report.when}: {first}"


def skip_reason(report: pytest.TestReport) -> str:
    """The reason a skipped test's report gives ("Skipped: " left out)."""
    longrepr = report.longrepr
    text = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    return text[len("Skipped: ") :] if text.startswith("Skipped: ") else text
