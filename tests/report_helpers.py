"""Fixed inputs for the report tests: two real results files and golden-file comparison.

tests/data/results-synthetic.json and results-nietzsche.json were written by real runs on the
project's 2-CPU development machine (see tests/data/README.md for the commands), so the reports
are tested on what the plugin actually writes. Golden files live in tests/golden/; after an
intended change, regenerate them with `UPDATE_GOLDEN=1 pytest tests/test_report_*.py` and review
the diff.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

from pytest_rnnbench.report.results import Report, build_report

TESTS = Path(__file__).resolve().parent
DATA = TESTS / "data"
GOLDEN = TESTS / "golden"
RESULT_FILES = (DATA / "results-synthetic.json", DATA / "results-nietzsche.json")

# Shaped as verdict.CaseVerdict.to_dict() writes them into results files.
VERDICTS = {
    "tensorflow-gpu0-b32-unroll-synthetic": {
        "verdict": "regression", "change": 0.124,
        "reason": "tensorflow-gpu0-b32-unroll-synthetic: regression: time per step regression, "
                  "baseline 20.1 ms -> now 22.6 ms, change +12.4%, tolerance 5.0%",
        "metrics": {"epoch_time": {"outcome": "regression", "baseline": 20.1, "now": 22.6,
                                   "change": 0.124}}},
    "jax-gpu0-b32-unroll-synthetic": {
        "verdict": "pass", "change": -0.01,
        "reason": "jax-gpu0-b32-unroll-synthetic: pass",
        "metrics": {"epoch_time": {"outcome": "pass", "baseline": 60.0, "now": 59.4,
                                   "change": -0.01}}},
    "torch-gpu0-b32-unroll-synthetic": {
        "verdict": "inconclusive", "change": 0.081,
        "reason": "torch-gpu0-b32-unroll-synthetic: inconclusive: time per step inconclusive | "
                  "too noisy to tell",
        "metrics": {"epoch_time": {"outcome": "inconclusive", "baseline": 1225.0, "now": 1325.0,
                                   "change": 0.081}}},
}


def documents() -> list[tuple[str, dict]]:
    return [(path.name, json.loads(path.read_text())) for path in RESULT_FILES]


def fixed_report() -> Report:
    return build_report(documents())


def report_with_verdicts() -> Report:
    docs = copy.deepcopy(documents())
    docs[0][1]["verdicts"] = copy.deepcopy(VERDICTS)
    return build_report(docs)


def check_golden(name: str, text: str) -> None:
    """Compare with tests/golden/NAME; UPDATE_GOLDEN=1 rewrites it instead."""
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    expected = path.read_text(encoding="utf-8")
    assert text == expected, f"{name} differs from its golden file (UPDATE_GOLDEN=1 to accept)"
